// Random multi-client sessions made with real Yjs, merged by the engine (crdt-cli)
// and compared with Yjs: content of every root, text deltas, state vectors, the
// engine's encoded state read back by Yjs, diffs and contains (see lib/batch.js).
//
// Environment (all optional):
//   CRDT_DIFF_SESSIONS   sessions in the normal run (default 2000)
//   CRDT_DIFF_BATCH      sessions per batch, i.e. per engine document (default 60)
//   CRDT_DIFF_SEED       base seed (default 1; "random" picks one and prints it)
//   CRDT_DIFF_BATCH_SEED run only the batch with this seed (printed with a failure)
//   CRDT_DIFF_SESSION    run only the session with this seed, alone in its batch,
//                        with CRDT_DIFF_GC=0|1, CRDT_DIFF_V2=0|1, CRDT_DIFF_ORDER=shuffled|causal
//   CRDT_DIFF_MAX_STEPS  most edit/sync steps of a session (default 40); larger
//                        values make larger documents
//   CRDT_SOAK_SECONDS    soak mode: run batches from a random base seed until this
//                        many seconds have passed
//   COLLAB_BIN_DIR       where crdt-cli is (set by ctest)

import { test } from 'node:test'
import assert from 'node:assert/strict'
import crypto from 'node:crypto'
import { Cli } from '../lib/cli.js'
import { Prng } from '../lib/prng.js'
import { planBatch, runBatch } from '../lib/batch.js'

const env = process.env
const batchSize = Number(env.CRDT_DIFF_BATCH ?? 60)
const soakSeconds = Number(env.CRDT_SOAK_SECONDS ?? 0)
const maxSteps = Number(env.CRDT_DIFF_MAX_STEPS ?? 40)

function baseSeed () {
  if (soakSeconds > 0 || env.CRDT_DIFF_SEED === 'random') return crypto.randomBytes(4).readUInt32LE(0)
  return Number(env.CRDT_DIFF_SEED ?? 1) >>> 0
}

function reproduceHint (plan) {
  return `reproduce with: CRDT_DIFF_BATCH_SEED=${plan.batchSeed} CRDT_DIFF_BATCH=${plan.sessionSeeds.length} ` +
    `CRDT_DIFF_MAX_STEPS=${plan.maxSteps} node --test test/differential.test.js ` +
    '(in tests/crdt-differential, with COLLAB_BIN_DIR=<build>/bin)'
}

async function checkBatch (cli, plan, totals) {
  const { failures, stats } = await runBatch(cli, plan)
  totals.sessions += stats.sessions
  totals.updates += stats.updates
  totals.engineBytes += stats.engineStateBytes
  totals.yjsBytes += stats.yjsStateBytes
  totals.batches++
  if (stats.byteIdentical) totals.byteIdentical++
  if (failures.length > 0) {
    const shown = failures.slice(0, 8).join('\n  ')
    assert.fail(`${failures.length} mismatch(es) between the engine and Yjs:\n  ${shown}\n${reproduceHint(plan)}`)
  }
}

const cli = new Cli()
const totals = { sessions: 0, updates: 0, engineBytes: 0, yjsBytes: 0, batches: 0, byteIdentical: 0 }

test('differential: engine vs Yjs on random sessions', async (t) => {
  t.after(() => {
    cli.close()
    t.diagnostic(`${totals.sessions} sessions, ${totals.updates} updates delivered, ${cli.calls} crdt-cli calls; ` +
      `engine state ${totals.engineBytes} B vs Yjs ${totals.yjsBytes} B, ` +
      `byte-identical to Yjs's encoding in ${totals.byteIdentical} of ${totals.batches} batches`)
  })

  if (env.CRDT_DIFF_SESSION) {
    const seed = Number(env.CRDT_DIFF_SESSION) >>> 0
    const plan = planBatch(seed, 0, { maxSteps })
    plan.sessionSeeds = [seed]
    if (env.CRDT_DIFF_GC !== undefined) plan.gc = env.CRDT_DIFF_GC !== '0'
    if (env.CRDT_DIFF_V2 !== undefined) plan.v2 = env.CRDT_DIFF_V2 === '1'
    if (env.CRDT_DIFF_ORDER !== undefined) plan.order = env.CRDT_DIFF_ORDER
    await t.test(`session ${seed}`, () => checkBatch(cli, plan, totals))
    return
  }
  if (env.CRDT_DIFF_BATCH_SEED) {
    const plan = planBatch(Number(env.CRDT_DIFF_BATCH_SEED) >>> 0, batchSize, { maxSteps })
    await t.test(`batch ${plan.batchSeed}`, () => checkBatch(cli, plan, totals))
    return
  }

  const base = baseSeed()
  t.diagnostic(`base seed ${base} (CRDT_DIFF_SEED=${base} repeats this run)`)
  const seeds = new Prng(base)
  if (soakSeconds > 0) {
    const deadline = Date.now() + soakSeconds * 1000
    while (Date.now() < deadline) {
      const plan = planBatch(seeds.uint32(), batchSize, { maxSteps })
      await t.test(`batch ${plan.batchSeed}`, () => checkBatch(cli, plan, totals))
    }
    return
  }
  const sessions = Number(env.CRDT_DIFF_SESSIONS ?? 2000)
  for (let done = 0; done < sessions; done += batchSize) {
    const plan = planBatch(seeds.uint32(), Math.min(batchSize, sessions - done), { maxSteps })
    await t.test(`batch ${plan.batchSeed}`, () => checkBatch(cli, plan, totals))
  }
})
