// Generates the benchmark inputs once (run.sh caches them in the build dir): the
// editing traces as the Yjs v1 updates a server receives, in the crdt-cli --stream
// format ([u32 LE length][update]), each with its expected final text; and one small
// document's state for the many-documents memory test. Made with this package's
// pinned yjs; the trace replay itself is tests/crdt-differential/lib/traces.js.
//
//   node gen-workloads.js OUT_DIR

import fs from 'node:fs'
import path from 'node:path'
import * as Y from 'yjs'
import { readTrace, sequentialUpdates, concurrentUpdates } from '../../tests/crdt-differential/lib/traces.js'

const outDir = process.argv[2]
if (!outDir) {
  console.error('usage: node gen-workloads.js OUT_DIR')
  process.exit(2)
}
const dataDir = process.env.COLLAB_DATA_DIR ?? path.resolve(import.meta.dirname, '../../data')
const traceDir = path.join(dataDir, 'editing-traces')
fs.mkdirSync(outDir, { recursive: true })

function writeStream (file, updates) {
  let total = 0
  for (const u of updates) total += 4 + u.length
  const out = Buffer.allocUnsafe(total)
  let at = 0
  for (const u of updates) {
    out.writeUInt32LE(u.length, at)
    out.set(u, at + 4)
    at += 4 + u.length
  }
  fs.writeFileSync(file, out)
  return total
}

const manifest = { yjs: '13.6.33', workloads: {} }
const traces = [
  { name: 'automerge-paper', kind: 'sequential' },
  { name: 'friendsforever', kind: 'concurrent' },
  { name: 'clownschool', kind: 'concurrent' }
]
for (const t of traces) {
  const trace = readTrace(path.join(traceDir, `${t.name}.json.gz`))
  const { updates, endContent } = t.kind === 'sequential' ? sequentialUpdates(Y, trace) : concurrentUpdates(Y, trace)
  // The updates must replay to the trace's text in Yjs before anybody is timed on them.
  const check = new Y.Doc()
  for (const u of updates) Y.applyUpdate(check, u)
  if (check.getText('text').toString() !== endContent) throw new Error(`${t.name}: Yjs does not reach endContent`)
  const bytes = writeStream(path.join(outDir, `${t.name}.stream`), updates)
  fs.writeFileSync(path.join(outDir, `${t.name}.txt`), endContent)
  manifest.workloads[t.name] = { kind: t.kind, updates: updates.length, streamBytes: bytes, textLength: endContent.length }
}

// A small document: a paragraph typed in short bursts, a title in a map, a few
// comments in an array; about what a fresh note or ticket holds.
{
  const doc = new Y.Doc()
  doc.clientID = 4242
  const text = doc.getText('text')
  const words = 'The quick brown fox jumps over the lazy dog while the team edits this note together'.split(' ')
  for (const w of words) text.insert(text.length, w + ' ')
  text.delete(4, 6)
  doc.getMap('meta').set('title', 'Weekly notes')
  doc.getMap('meta').set('owner', 'alice')
  doc.getArray('comments').push(['looks good', 'ship it'])
  const state = Y.encodeStateAsUpdate(doc)
  fs.writeFileSync(path.join(outDir, 'small-doc.bin'), state)
  fs.writeFileSync(path.join(outDir, 'small-doc.txt'), text.toString())
  manifest.workloads['small-doc'] = { kind: 'state', stateBytes: state.length, textLength: text.length }
}
fs.writeFileSync(path.join(outDir, 'manifest.json'), JSON.stringify(manifest, null, 2))
console.log(JSON.stringify(manifest.workloads))
