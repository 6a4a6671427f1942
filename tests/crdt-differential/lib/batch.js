// One differential batch: many random sessions merged into ONE document, so that a
// handful of crdt-cli calls check hundreds of sessions at once. Sessions never share
// a root name or a client id, and Yjs root types are independent of each other, so
// the combined document is exactly the union of the sessions' documents and every
// mismatch in a root is attributed to the session that owns it.
//
// Every update of every session is delivered to the engine shuffled (or, in some
// batches, interleaved in causal order) with duplicates, in one `merge --stream`
// call; a Yjs reference doc receives the same sequence. Then the engine's content,
// state vector, text deltas, whole-state encodings (v1 and v2), diffs and
// `contains` answers are compared with what Yjs gives.

import assert from 'node:assert/strict'
import * as Y from 'yjs'
import { Prng } from './prng.js'
import { generateSession, getRoot, ROOT_KINDS } from './session.js'
import {
  rootContent, textDelta, stateVectorObject, svWithoutZeros, deleteSetOf, structRanges, hasPending
} from './reference.js'

/** How a batch seed decides the batch: its modes and the seeds of its sessions. */
export function planBatch (batchSeed, sessionCount, { maxSteps = 40 } = {}) {
  const rng = new Prng(batchSeed)
  const plan = {
    batchSeed,
    maxSteps,
    gc: !rng.chance(0.25),
    v2: rng.chance(0.3),
    order: rng.chance(0.75) ? 'shuffled' : 'causal',
    duplicateRate: rng.pick([0, 0.1, 0.3]),
    sessionSeeds: [],
    rng
  }
  for (let i = 0; i < sessionCount; i++) plan.sessionSeeds.push(rng.uint32())
  return plan
}

function describePlan (plan) {
  return `batch seed ${plan.batchSeed} (gc=${plan.gc} v2=${plan.v2} order=${plan.order} dup=${plan.duplicateRate})`
}

function hasReplacementChar (value) {
  return JSON.stringify(value).includes('\uFFFD')
}

/** Every surrogate code unit and U+FFFD in the strings of `value` turned into U+FFFD. */
function maskSurrogates (value) {
  if (typeof value === 'string') return value.replace(/[\uD800-\uDFFF\uFFFD]/g, '\uFFFD')
  if (Array.isArray(value)) return value.map(maskSurrogates)
  if (value !== null && typeof value === 'object') {
    const out = {}
    for (const [k, v] of Object.entries(value)) out[k] = maskSurrogates(v)
    return out
  }
  return value
}

/**
 * Equality up to where U+FFFD replaced halves of split surrogate pairs. Yjs itself
 * places those differently depending on how its items happened to be split, so
 * peers (and a doc rebuilt from a diff) may differ there and nowhere else.
 */
function equalUpToSplitSurrogates (a, b) {
  return equal(a, b) || ((hasReplacementChar(a) || hasReplacementChar(b)) && equal(maskSurrogates(a), maskSurrogates(b)))
}

/** Deep equality as node's assert sees it, returning a boolean instead of throwing. */
function equal (a, b) {
  try {
    assert.deepStrictEqual(a, b)
    return true
  } catch {
    return false
  }
}

/**
 * For two plain objects that differ in a few keys, only those keys: a delete set or
 * state vector of a whole batch is too long to show, the difference is not.
 */
function differingKeys (want, actual) {
  const isObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v)
  if (!isObject(want) || !isObject(actual)) return null
  const keys = [...new Set([...Object.keys(want), ...Object.keys(actual)])].filter(k => !equal(want[k], actual[k]))
  if (keys.length === 0 || keys.length === Object.keys(want).length) return null
  const pick = (o) => Object.fromEntries(keys.map(k => [k, o[k] === undefined ? '(absent)' : o[k]]))
  return { want: pick(want), actual: pick(actual) }
}

function preview (value) {
  const s = JSON.stringify(value)
  return s.length > 400 ? s.slice(0, 400) + '…' : s
}

/**
 * The views of a root that count as right, the reference's first. Yjs is not
 * order-independent in two corners: where concurrent edits split a surrogate pair
 * (each peer puts U+FFFD where its own items were split), and formatting marks,
 * which a Yjs doc "cleans up" (deletes) when it receives updates, deciding from
 * what it has seen so far. So a doc that received the updates shuffled may differ
 * from the clients that made them. The engine may match the reference or a client.
 */
function acceptedViews (ref, clientDocs, root, view) {
  const out = [view(ref, root)]
  for (const doc of clientDocs) {
    const v = view(doc, root)
    if (!out.some(o => equal(o, v))) out.push(v)
  }
  return out
}

/** The clock ranges of formatting marks (ContentFormat items) in a v1 update, per client. */
function formatMarks (update) {
  const out = {}
  for (const struct of Y.decodeUpdate(update).structs) {
    if (struct instanceof Y.Item && struct.content instanceof Y.ContentFormat) {
      const client = String(struct.id.client)
      ;(out[client] ??= []).push([struct.id.clock, struct.length])
    }
  }
  return out
}

function inRanges (ranges, clock) {
  return (ranges ?? []).some(([start, len]) => clock >= start && clock < start + len)
}

/**
 * null when the engine's delete set equals the reference's, or differs only in
 * clocks the reference deleted that are formatting marks in the engine's state;
 * otherwise {what, want, actual} for the first client that differs otherwise.
 */
function compareDeleteSets (engineDs, refDs, marks) {
  for (const client of new Set([...Object.keys(engineDs), ...Object.keys(refDs)])) {
    const mine = engineDs[client] ?? []
    const theirs = refDs[client] ?? []
    if (equal(mine, theirs)) continue
    const report = (what) => ({ what: `${what} (client ${client})`, want: theirs, actual: mine })
    for (const [start, len] of mine) {
      for (let c = start; c < start + len; c++) if (!inRanges(theirs, c)) return report(`clock ${c} deleted only by the engine`)
    }
    for (const [start, len] of theirs) {
      for (let c = start; c < start + len; c++) {
        if (!inRanges(mine, c) && !inRanges(marks[client], c)) return report(`clock ${c} deleted only by Yjs, and not a formatting mark`)
      }
    }
  }
  return null
}

/** Delivery order: every update once or more, shuffled or in causal order per client. */
function deliveryOrder (plan, sessions) {
  const rng = plan.rng
  if (plan.order === 'shuffled') {
    const all = []
    for (const s of sessions) {
      for (const u of s.updates) {
        all.push(u)
        if (rng.chance(plan.duplicateRate)) all.push(u)
      }
    }
    return rng.shuffle(all)
  }
  // Causal: each session's updates keep their order; sessions are interleaved.
  const queues = sessions.map(s => s.updates.slice()).filter(q => q.length > 0)
  const out = []
  while (queues.length > 0) {
    const i = rng.int(0, queues.length - 1)
    const u = queues[i].shift()
    out.push(u)
    if (rng.chance(plan.duplicateRate)) out.push(u)
    if (queues[i].length === 0) queues.splice(i, 1)
  }
  return out
}

/**
 * Runs one batch against the engine through `cli`. Returns {failures: string[],
 * stats}; a failure names the session seed (or the batch seed for document-wide
 * checks) and shows expected and actual values.
 */
export async function runBatch (cli, plan, { deltaSamples = 12 } = {}) {
  const rng = plan.rng
  const failures = []
  const fail = (what, seed, want, actual) => {
    const who = seed === undefined ? describePlan(plan) : `session seed ${seed} in ${describePlan(plan)}`
    const narrowed = differingKeys(want, actual)
    if (narrowed) {
      what = `${what} (only the differing keys)`
      want = narrowed.want
      actual = narrowed.actual
    }
    failures.push(`${what} [${who}]\n    expected: ${preview(want)}\n    actual:   ${preview(actual)}`)
  }

  // Sessions; one whose client id collides with an earlier one is left out.
  const sessions = []
  const usedClients = new Set()
  for (const seed of plan.sessionSeeds) {
    const s = generateSession(new Prng(seed), { gc: plan.gc, maxSteps: plan.maxSteps })
    if (s.clientIds.some(c => usedClients.has(c))) continue
    for (const c of s.clientIds) usedClients.add(c)
    sessions.push(s)
  }
  const roots = sessions.flatMap(s => s.roots.map(r => ({ ...r, seed: s.seed })))
  const updates = deliveryOrder(plan, sessions)

  // Reference: Yjs applies the same sequence. What the engine may show for a root
  // is that reference's view or, where Yjs itself depends on delivery order, the
  // view of one of the session's synced clients (see acceptedViews).
  const ref = new Y.Doc({ gc: plan.gc })
  for (const u of updates) Y.applyUpdate(ref, u)
  if (hasPending(ref)) throw new Error(`harness: Yjs reference has pending structs after all updates, ${describePlan(plan)}`)
  const views = new Map()
  for (const s of sessions) {
    for (const r of s.roots) {
      views.set(r.name, acceptedViews(ref, s.clientDocs, r, rootContent))
      if (r.kind === 'text') views.set(`delta:${r.name}`, acceptedViews(ref, s.clientDocs, r, (d, x) => textDelta(d, x.name)))
    }
  }
  const matches = (key, actual, same = equal) => views.get(key).some(v => same(actual, v))
  const expected = (key) => views.get(key)[0]

  // The engine merges the same sequence.
  const engineInput = plan.v2 ? updates.map(u => Y.convertUpdateFormatV1ToV2(u)) : updates
  const state = await cli.merge(engineInput, { v2: plan.v2, gc: plan.gc })
  const statePath = cli.put('state.bin', state)

  const checks = []
  // Content of every root, in one call; if that call fails, once per kind, so that a
  // failure in reading one kind does not hide the results of the others.
  const compareJson = (actual, list) => {
    for (const r of list) {
      if (!matches(r.name, actual[r.name])) fail(`json ${r.name}:${r.kind}`, r.seed, expected(r.name), actual[r.name])
    }
  }
  checks.push(cli.json(statePath, roots).then(actual => compareJson(actual, roots), async (error) => {
    failures.push(`${error.message} [${describePlan(plan)}]`)
    for (const kind of ROOT_KINDS) {
      const list = roots.filter(r => r.kind === kind)
      if (list.length === 0) continue
      try {
        compareJson(await cli.json(statePath, list), list)
      } catch (e) {
        failures.push(`json of the ${kind} roots alone: ${e.message.split('\n')[0]}`)
      }
    }
  }))
  // State vector.
  const expectedSv = stateVectorObject(ref)
  checks.push(cli.sv(statePath).then(actual => {
    if (!equal(svWithoutZeros(actual), expectedSv)) fail('sv', undefined, expectedSv, actual)
  }))
  // Delete set: the engine's must be Yjs's, except for formatting marks that only the
  // reference deleted (Yjs's clean-up on receiving updates, see acceptedViews).
  const engineDs = deleteSetOf(state)
  const refDs = deleteSetOf(Y.encodeStateAsUpdate(ref))
  {
    const problem = compareDeleteSets(engineDs, refDs, formatMarks(state))
    if (problem) fail(`delete set of the engine state: ${problem.what}`, undefined, problem.want, problem.actual)
  }
  // Deltas of (a sample of) the root texts.
  const texts = rng.shuffle(roots.filter(r => r.kind === 'text')).slice(0, deltaSamples)
  for (const r of texts) {
    checks.push(cli.delta(statePath, r.name).then(actual => {
      if (!matches(`delta:${r.name}`, actual)) fail(`delta ${r.name}`, r.seed, expected(`delta:${r.name}`), actual)
    }))
  }
  // The engine's state and its v2 re-encoding, decoded by Yjs, give the same document.
  const compareDoc = (what, doc, { splitSurrogatesMayDiffer = false } = {}) => {
    if (hasPending(doc)) fail(`${what}: Yjs has pending structs after applying it`, undefined, 'none', 'pending')
    const same = splitSurrogatesMayDiffer ? equalUpToSplitSurrogates : equal
    for (const r of roots) {
      const got = rootContent(doc, r)
      if (!matches(r.name, got, same)) fail(`${what}: ${r.name}:${r.kind}`, r.seed, expected(r.name), got)
    }
    const sv = stateVectorObject(doc)
    if (!equal(sv, expectedSv)) fail(`${what}: state vector`, undefined, expectedSv, sv)
  }
  {
    const doc = new Y.Doc({ gc: plan.gc })
    Y.applyUpdate(doc, state)
    compareDoc('engine state (v1) decoded by Yjs', doc)
    if (!plan.gc) checkSnapshots(sessions, doc, fail)
  }
  checks.push(cli.encode(statePath, { v2: true }).then(v2 => {
    const doc = new Y.Doc({ gc: plan.gc })
    Y.applyUpdateV2(doc, v2)
    compareDoc('engine state (v2) decoded by Yjs', doc)
  }))

  // Diff against the state vector of an intermediate state (the union of one
  // intermediate client state per session): applied on top of that state, it must
  // give the full document.
  {
    const base = new Y.Doc({ gc: plan.gc })
    for (const s of sessions) {
      if (s.intermediates.length > 0) Y.applyUpdate(base, rng.pick(s.intermediates))
    }
    const baseState = Y.encodeStateAsUpdate(base)
    checks.push(cli.diff(statePath, Y.encodeStateVector(base)).then(diff => {
      const doc = new Y.Doc({ gc: plan.gc })
      Y.applyUpdate(doc, baseState)
      Y.applyUpdate(doc, diff)
      compareDoc('diff against an intermediate state vector, applied on that state', doc, { splitSurrogatesMayDiffer: true })
    }))
  }
  // Diff against the empty state vector is the whole document.
  checks.push(cli.diff(statePath, Uint8Array.of(0)).then(diff => {
    const doc = new Y.Doc({ gc: plan.gc })
    Y.applyUpdate(doc, diff)
    compareDoc('diff against the empty state vector', doc)
  }))
  // Diff against the full state vector holds no structs.
  checks.push(cli.diff(statePath, Y.encodeStateVector(ref)).then(diff => {
    const { from } = structRanges(diff)
    if (Object.keys(from).length !== 0) fail('diff against the full state vector has structs', undefined, {}, from)
  }))
  // Diff against random state vectors (clocks anywhere, also past the end, and an
  // unknown client): the same struct ranges and delete set as Yjs's own diff.
  for (let i = 0; i < 2; i++) {
    const sv = new Map()
    for (const [client, clock] of Y.decodeStateVector(Y.encodeStateVector(ref))) {
      if (rng.chance(0.8)) sv.set(client, rng.int(0, clock + 3))
    }
    sv.set(rng.uint32(), rng.int(0, 10))
    const encoded = Y.encodeStateVector(sv)
    const svPath = cli.put('random-sv.bin', encoded)
    const what = `diff of ${statePath} against the random state vector ${svPath}`
    checks.push(cli.diff(statePath, svPath).then(diff => {
      const want = Y.encodeStateAsUpdate(ref, encoded)
      const wantRanges = structRanges(want)
      const gotRanges = structRanges(diff)
      if (!equal(gotRanges, wantRanges)) fail(`${what}: struct ranges`, undefined, wantRanges, gotRanges)
      // A diff carries the whole delete set, the engine's (checked against Yjs above).
      const gotDs = deleteSetOf(diff)
      if (!equal(gotDs, engineDs)) fail(`${what}: delete set`, undefined, engineDs, gotDs)
    }))
  }

  // contains: delivered updates, merges of them, and withheld ones.
  // The reference answer from the engine's version (its state vector and delete set,
  // both checked against Yjs above), so that Yjs's own formatting clean-up in the
  // reference does not count.
  const snapshot = Y.createSnapshot(Y.decodeUpdate(state).ds, Y.decodeStateVector(Y.encodeStateVector(ref)))
  const probes = []
  for (let i = 0; i < 3 && updates.length > 0; i++) probes.push(rng.pick(updates))
  if (updates.length > 1) probes.push(Y.mergeUpdates([rng.pick(updates), rng.pick(updates)]))
  for (const s of rng.shuffle(sessions.filter(x => x.withheld.length > 0)).slice(0, 4)) probes.push(...s.withheld)
  for (const u of probes) {
    checks.push(cli.contains(statePath, u).then(actual => {
      const want = Y.snapshotContainsUpdate(snapshot, u)
      if (actual !== want) fail(`contains of a ${u.length}-byte update`, undefined, want, actual)
    }))
  }

  const yjsState = Y.encodeStateAsUpdate(ref)
  const settled = await Promise.allSettled(checks)
  for (const s of settled) {
    if (s.status === 'rejected') failures.push(`${s.reason.message} [${describePlan(plan)}]`)
  }
  return {
    failures,
    stats: {
      sessions: sessions.length,
      updates: updates.length,
      roots: roots.length,
      engineStateBytes: state.length,
      yjsStateBytes: yjsState.length,
      // Not asserted (Yjs's own formatting clean-up can delete marks in the reference
      // that no client deleted), only counted: how often the bytes are Yjs's exactly.
      byteIdentical: Buffer.compare(Buffer.from(state), Buffer.from(yjsState)) === 0
    }
  }
}

/**
 * Without gc the engine keeps deleted content, so Yjs can read an intermediate
 * version out of the engine's state: each session's intermediate states, read as
 * snapshots of the engine-state document, must give what that state held.
 */
function checkSnapshots (sessions, engineDoc, fail) {
  for (const s of sessions) {
    for (const past of s.intermediates.slice(0, 2)) {
      const pastDoc = new Y.Doc({ gc: false })
      Y.applyUpdate(pastDoc, past)
      const fromSnapshot = Y.createDocFromSnapshot(engineDoc, Y.snapshot(pastDoc))
      for (const r of s.roots) {
        getRoot(pastDoc, r)
        const want = rootContent(pastDoc, r)
        const got = rootContent(fromSnapshot, r)
        // Reading the past through a full history splits items where later edits
        // went in, so Yjs shows U+FFFD there too: compare up to that.
        if (!equalUpToSplitSurrogates(got, want)) fail(`no-gc engine state read at an intermediate snapshot: ${r.name}`, s.seed, want, got)
      }
    }
  }
}
