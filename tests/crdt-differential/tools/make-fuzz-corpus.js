// Writes the seed corpus of the crdt fuzz targets (tests/fuzz/corpus/) from real
// Yjs: small multi-client sessions (lib/session.js) with plain root names t, m, a, x
// that the targets read back, a prefix of the automerge-paper trace, Skip structs
// from merged updates, and state vectors and snapshots. Each file is a few KB at
// most. Deterministic: rerunning it rewrites the same files.
//
//   node tools/make-fuzz-corpus.js [../fuzz/corpus]

import fs from 'node:fs'
import path from 'node:path'
import * as Y from 'yjs'
import { Prng } from '../lib/prng.js'
import { generateSession } from '../lib/session.js'
import { encodeStream } from '../lib/cli.js'
import { readTrace, sequentialUpdates } from '../lib/traces.js'

const outDir = path.resolve(process.argv[2] ?? path.join(import.meta.dirname, '../../fuzz/corpus'))
const MAX_BYTES = 4096
const written = {}

function put (target, name, bytes) {
  if (bytes.length > MAX_BYTES) return
  const dir = path.join(outDir, target)
  fs.mkdirSync(dir, { recursive: true })
  fs.writeFileSync(path.join(dir, `${name}.bin`), bytes)
  written[target] = (written[target] ?? 0) + 1
}

const rng = new Prng(20261122)
for (let i = 0; i < 40; i++) {
  const gc = i % 4 !== 3
  const s = generateSession(rng.fork(), { gc, maxSteps: 10 + (i % 3) * 12, plainRootNames: true })
  const doc = new Y.Doc({ gc })
  for (const u of s.updates) Y.applyUpdate(doc, u)
  const state = Y.encodeStateAsUpdate(doc)
  put('update_v1', `session-${i}-state`, state)
  put('update_v1', `session-${i}-first`, s.updates[0] ?? Uint8Array.of(0, 0))
  put('update_v2', `session-${i}-state`, Y.encodeStateAsUpdateV2(doc))
  if (s.updates.length > 2) {
    // Merging non-adjacent updates of one client leaves a hole: a Skip struct.
    const merged = Y.mergeUpdates([s.updates[0], s.updates[s.updates.length - 1]])
    put('update_v1', `session-${i}-skip`, merged)
    put('update_v2', `session-${i}-skip`, Y.convertUpdateFormatV1ToV2(merged))
  }
  const order = rng.shuffle(s.updates.concat(s.updates.filter(() => rng.chance(0.2))))
  put('multi_update', `session-${i}-shuffled`, encodeStream(order.slice(0, 256)))
  const past = s.intermediates.length > 0 ? rng.pick(s.intermediates) : Uint8Array.of(0, 0)
  const pastDoc = new Y.Doc({ gc: false })
  Y.applyUpdate(pastDoc, past)
  put('diff', `session-${i}`, encodeStream([state, Y.encodeStateVector(pastDoc)]))
  put('state_vector', `session-${i}-sv`, Y.encodeStateVector(pastDoc))
  put('state_vector', `session-${i}-snapshot`, Y.encodeSnapshot(Y.snapshot(pastDoc)))
}

// State vectors and snapshots of fuzz_state_vector's sample document: the same
// edits by clients 1..3, made with Yjs, captured after every step.
{
  const doc = new Y.Doc({ gc: false })
  const steps = []
  for (let client = 1; client <= 3; client++) {
    doc.clientID = client
    const text = doc.getText('text')
    text.insert(0, 'héllo 😀')
    steps.push(Y.snapshot(doc))
    text.delete(client, 1)
    text.format(0, 2, { bold: true })
    steps.push(Y.snapshot(doc))
    doc.getMap('m').set('k', [1, 'two', { three: 3 }])
    doc.getArray('a').insert(0, [1, 2, 3])
    doc.getArray('a').delete(1, 1)
    steps.push(Y.snapshot(doc))
  }
  steps.forEach((snap, i) => {
    put('state_vector', `sample-${i}-sv`, Y.encodeStateVector(snap.sv))
    put('state_vector', `sample-${i}-snapshot`, Y.encodeSnapshot(snap))
  })
  const sv = new Map([[1, 3], [2, 100], [rng.uint32(), 1]])
  put('state_vector', 'sample-beyond-sv', Y.encodeStateVector(sv))
}

// The first 300 updates of a real trace, one by one (a typing burst).
const trace = readTrace(path.join(import.meta.dirname, '../../../data/editing-traces/automerge-paper.json.gz'))
trace.txns = trace.txns.slice(0, 300)
const { updates } = sequentialUpdates(Y, trace, { root: 't' })
put('multi_update', 'automerge-paper-first-256', encodeStream(updates.slice(0, 256)))
put('update_v1', 'automerge-paper-first-300-merged', Y.mergeUpdates(updates))
put('update_v2', 'automerge-paper-first-300-merged', Y.mergeUpdatesV2(updates.map(u => Y.convertUpdateFormatV1ToV2(u))))

// A subdocument and the empty update.
{
  const doc = new Y.Doc()
  doc.clientID = 7
  doc.getMap('m').set('sub', new Y.Doc({ guid: 'sub-guid' }))
  put('update_v1', 'subdoc', Y.encodeStateAsUpdate(doc))
  put('update_v2', 'subdoc', Y.encodeStateAsUpdateV2(doc))
  put('update_v1', 'empty', Uint8Array.of(0, 0))
  put('update_v2', 'empty', Y.encodeStateAsUpdateV2(new Y.Doc()))
}
console.log(JSON.stringify(written))
