// Turns the editing traces in data/editing-traces/ (format: FORMAT-NOTES.md
// there) into the Yjs v1 updates a server would receive: one update per transaction,
// made by real Yjs. Used by the trace tests here and by bench/crdt, which passes its
// own copy of the yjs module (`Y`) so that both packages pin their own version.

import fs from 'node:fs'
import zlib from 'node:zlib'

export function readTrace (file) {
  return JSON.parse(zlib.gunzipSync(fs.readFileSync(file)).toString('utf8'))
}

/** Applies [pos, delCount, insText] patches to a Y.Text in one transaction. */
function applyPatches (doc, text, patches) {
  doc.transact(() => {
    for (const [pos, del, ins] of patches) {
      if (del > 0) text.delete(pos, del)
      if (ins.length > 0) text.insert(pos, ins)
    }
  })
}

/**
 * A sequential trace as one client's updates, in order. Positions in these traces
 * count code points; every character in them is in the BMP (FORMAT-NOTES.md), so
 * code points and UTF-16 units coincide.
 * Returns {updates: Uint8Array[], endContent, doc}.
 */
export function sequentialUpdates (Y, trace, { clientID = 1, root = 'text' } = {}) {
  const doc = new Y.Doc()
  doc.clientID = clientID
  const text = doc.getText(root)
  const updates = []
  doc.on('update', u => updates.push(u))
  for (const txn of trace.txns) applyPatches(doc, text, txn.patches)
  return { updates, endContent: trace.endContent, doc }
}

/**
 * A concurrent trace as multi-client updates, one per transaction, in the trace's
 * order (parents before children). Each agent edits its own Y.Doc; before a
 * transaction the agent's doc receives exactly the missing ancestors of that
 * transaction, so it edits the version the trace says it saw.
 * Returns {updates: Uint8Array[], endContent, agents}.
 */
export function concurrentUpdates (Y, trace, { root = 'text', clientBase = 1 } = {}) {
  const REMOTE = Symbol('remote')
  const txns = trace.txns
  const updates = new Array(txns.length)
  const agents = []
  for (let a = 0; a < trace.numAgents; a++) {
    const doc = new Y.Doc()
    doc.clientID = clientBase + a
    agents.push({ doc, text: doc.getText(root), has: new Uint8Array(txns.length), last: null })
    doc.on('update', (u, origin) => { if (origin !== REMOTE) agents[a].last = u })
  }
  for (let i = 0; i < txns.length; i++) {
    const txn = txns[i]
    const agent = agents[txn.agent]
    const missing = []
    const stack = [...txn.parents]
    while (stack.length > 0) {
      const p = stack.pop()
      if (agent.has[p]) continue
      agent.has[p] = 1
      missing.push(p)
      for (const q of txns[p].parents) stack.push(q)
    }
    missing.sort((x, y) => x - y)
    agent.doc.transact(() => {
      for (const p of missing) Y.applyUpdate(agent.doc, updates[p], REMOTE)
    }, REMOTE)
    agent.last = null
    applyPatches(agent.doc, agent.text, txn.patches)
    if (agent.last === null) throw new Error(`trace txn ${i} produced no update`)
    updates[i] = agent.last
    agent.has[i] = 1
  }
  return { updates, endContent: trace.endContent, agents }
}
