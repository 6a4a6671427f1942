// The benchmark driver shared by the JavaScript peers (yjs.js, ywasm.js): the same
// three modes and the same JSON line as the engine's crdt-bench (see crdt_bench.c),
// over an adapter {name, newDoc, apply, encode, text, free}.
//
//   node PEER.js apply STREAM EXPECTED_TEXT REPEATS
//   node PEER.js memory STREAM EXPECTED_TEXT
//   node --expose-gc PEER.js docs STATE EXPECTED_TEXT COUNT

import fs from 'node:fs'
import { performance } from 'node:perf_hooks'

/** Splits a stream file ([u32 LE length][update] records) into views of one buffer. */
function readStream (file) {
  const buf = fs.readFileSync(file)
  const updates = []
  for (let at = 0; at < buf.length;) {
    const len = buf.readUInt32LE(at)
    updates.push(new Uint8Array(buf.buffer, buf.byteOffset + at + 4, len))
    at += 4 + len
  }
  return updates
}

function check (peer, doc, expected) {
  if (peer.text(doc) !== expected) throw new Error(`${peer.name}: the final text differs from the expected text`)
}

function apply (peer, streamFile, expected, repeats) {
  const updates = readStream(streamFile)
  const out = { peer: peer.name, apply_ms: [], encode_ms: [], load_ms: [], state_bytes: 0 }
  for (let r = 0; r < repeats; r++) {
    const doc = peer.newDoc()
    const t0 = performance.now()
    for (const u of updates) peer.apply(doc, u)
    const t1 = performance.now()
    const state = peer.encode(doc)
    const t2 = performance.now()
    check(peer, doc, expected)
    peer.free(doc)
    const loaded = peer.newDoc()
    const t3 = performance.now()
    peer.apply(loaded, state)
    const t4 = performance.now()
    check(peer, loaded, expected)
    peer.free(loaded)
    out.apply_ms.push(t1 - t0)
    out.encode_ms.push(t2 - t1)
    out.load_ms.push(t4 - t3)
    out.state_bytes = state.length
  }
  return out
}

/** One pass reading the stream in chunks, as a server receives updates. */
function memory (peer, streamFile, expected) {
  const fd = fs.openSync(streamFile, 'r')
  const baseline = process.resourceUsage().maxRSS
  const doc = peer.newDoc()
  const header = Buffer.alloc(4)
  let position = 0
  for (;;) {
    if (fs.readSync(fd, header, 0, 4, position) < 4) break
    const len = header.readUInt32LE(0)
    const update = Buffer.alloc(len)
    if (fs.readSync(fd, update, 0, len, position + 4) !== len) throw new Error('truncated record')
    peer.apply(doc, new Uint8Array(update.buffer, update.byteOffset, len))
    position += 4 + len
  }
  fs.closeSync(fd)
  check(peer, doc, expected)
  return { peer: peer.name, baseline_rss_kb: baseline, peak_rss_kb: process.resourceUsage().maxRSS }
}

function settledRssKb () {
  if (globalThis.gc) { globalThis.gc(); globalThis.gc() }
  return Math.round(process.memoryUsage().rss / 1024)
}

function docs (peer, stateFile, expected, count) {
  const state = new Uint8Array(fs.readFileSync(stateFile))
  const held = []
  const before = settledRssKb()
  const t0 = performance.now()
  for (let i = 0; i < count; i++) {
    const doc = peer.newDoc()
    peer.apply(doc, state)
    held.push(doc)
  }
  const t1 = performance.now()
  const after = settledRssKb()
  check(peer, held[0], expected)
  check(peer, held[count - 1], expected)
  return { peer: peer.name, docs: count, rss_before_kb: before, rss_after_kb: after, load_all_ms: t1 - t0, gc_exposed: Boolean(globalThis.gc) }
}

export function main (peer, argv = process.argv.slice(2)) {
  const [mode, input, expectedFile, n] = argv
  const expected = expectedFile ? fs.readFileSync(expectedFile, 'utf8') : null
  let out
  if (mode === 'apply' && n) out = apply(peer, input, expected, Number(n))
  else if (mode === 'memory' && expected !== null) out = memory(peer, input, expected)
  else if (mode === 'docs' && n) out = docs(peer, input, expected, Number(n))
  else {
    console.error(`usage: node ${peer.name}.js apply STREAM EXPECTED_TEXT REPEATS | memory STREAM EXPECTED_TEXT | docs STATE EXPECTED_TEXT COUNT`)
    process.exit(2)
  }
  console.log(JSON.stringify(out))
}
