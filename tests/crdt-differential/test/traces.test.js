// The editing traces replay exactly: every trace in data/editing-traces/ is
// turned into the updates a server receives (made with real Yjs), the engine merges
// them (`merge --stream`), and its text must equal the trace's endContent. Yjs
// doing the same is checked first, so a failure here is the engine's. The
// concurrent traces are also delivered out of order: shuffled within windows of
// CRDT_TRACE_SHUFFLE_WINDOW updates (default 256; 0 shuffles the whole trace, which
// makes most updates wait for their dependencies and takes minutes under ASan).

import { test } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import * as Y from 'yjs'
import { Cli } from '../lib/cli.js'
import { Prng } from '../lib/prng.js'
import { readTrace, sequentialUpdates, concurrentUpdates } from '../lib/traces.js'
import { stateVectorObject, svWithoutZeros } from '../lib/reference.js'

const dataDir = process.env.COLLAB_DATA_DIR ?? path.resolve(import.meta.dirname, '../../../data')
const traceDir = path.join(dataDir, 'editing-traces')

const shuffleWindow = Number(process.env.CRDT_TRACE_SHUFFLE_WINDOW ?? 256)

/** A copy of `updates` shuffled within consecutive windows (all of it when window is 0). */
function shuffleInWindows (rng, updates, window) {
  if (window <= 0) return rng.shuffle(updates.slice())
  const out = []
  for (let i = 0; i < updates.length; i += window) out.push(...rng.shuffle(updates.slice(i, i + window)))
  return out
}

const cli = new Cli()
test.after(() => cli.close())

/** Yjs itself must reach endContent from the updates, or the harness is wrong. */
function yjsText (updates) {
  const doc = new Y.Doc()
  for (const u of updates) Y.applyUpdate(doc, u)
  return { text: doc.getText('text').toString(), sv: stateVectorObject(doc) }
}

async function engineMatches (updates, endContent, want) {
  const state = await cli.merge(updates)
  const statePath = cli.put('trace-state.bin', state)
  const json = await cli.json(statePath, [{ name: 'text', kind: 'text' }])
  assert.equal(json.text.length, endContent.length, 'engine text length')
  assert.ok(json.text === endContent, 'engine text equals endContent')
  assert.deepEqual(svWithoutZeros(await cli.sv(statePath)), want.sv, 'engine state vector')
  // The engine's encoded state, read by Yjs, holds the same text.
  const doc = new Y.Doc()
  Y.applyUpdate(doc, state)
  assert.ok(doc.getText('text').toString() === endContent, 'engine state decoded by Yjs equals endContent')
  return state.length
}

const sequential = ['automerge-paper', 'seph-blog1', 'ascii_only/seph-blog1']
for (const name of sequential) {
  test(`trace ${name} replays exactly`, async (t) => {
    const trace = readTrace(path.join(traceDir, `${name}.json.gz`))
    const { updates, endContent } = sequentialUpdates(Y, trace)
    const want = yjsText(updates)
    assert.ok(want.text === endContent, 'harness: Yjs reaches endContent')
    const bytes = await engineMatches(updates, endContent, want)
    t.diagnostic(`${updates.length} updates, engine state ${bytes} B`)
  })
}

for (const name of ['friendsforever', 'clownschool']) {
  test(`concurrent trace ${name} replays exactly, in order and out of order`, async (t) => {
    const trace = readTrace(path.join(traceDir, `${name}.json.gz`))
    const { updates, endContent } = concurrentUpdates(Y, trace)
    const want = yjsText(updates)
    assert.ok(want.text === endContent, 'harness: Yjs reaches endContent')
    const bytes = await engineMatches(updates, endContent, want)
    const rng = new Prng(0x7ace + updates.length)
    const shuffled = shuffleInWindows(rng, updates, shuffleWindow)
    await engineMatches(shuffled, endContent, want)
    t.diagnostic(`${updates.length} updates from ${trace.numAgents} agents, engine state ${bytes} B`)
  })
}

test('every trace in the data folder is covered', () => {
  const found = []
  const walk = (dir, prefix) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      if (e.isDirectory()) walk(path.join(dir, e.name), `${prefix}${e.name}/`)
      else if (e.name.endsWith('.json.gz')) found.push(prefix + e.name.slice(0, -'.json.gz'.length))
    }
  }
  walk(traceDir, '')
  assert.deepEqual(found.sort(), [...sequential, 'friendsforever', 'clownschool'].sort())
})
