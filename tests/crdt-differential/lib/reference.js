// What real Yjs says a document contains, in the shape crdt-cli prints it, plus
// small helpers over Yjs's own decoders. This is the "expected" side of every
// comparison: content of a root by kind, text deltas, state vectors as
// {"client": clock}, and normalised delete sets of an update.

import * as Y from 'yjs'
import { getRoot } from './session.js'

/** JSON-shaped copy: binary as arrays of byte values (the CLI contract), the rest as JSON does. */
export function normalize (value) {
  if (value instanceof Uint8Array) return Array.from(value)
  // As JSON.stringify does: a subdocument (Y.Doc) shows as its toJSON().
  if (value !== null && typeof value === 'object' && typeof value.toJSON === 'function') return normalize(value.toJSON())
  if (Array.isArray(value)) return value.map(normalize)
  if (value !== null && typeof value === 'object') {
    const out = {}
    for (const [k, v] of Object.entries(value)) out[k] = normalize(v)
    return out
  }
  return value
}

/** The JSON value a root holds, as `crdt-cli json STATE root:kind` must print it. */
export function rootContent (doc, root) {
  const type = getRoot(doc, root)
  switch (root.kind) {
    case 'text': return type.toString()
    case 'xml': return type.toString()
    default:
      // Through JSON text, exactly as JSON.stringify would show the value.
      return JSON.parse(JSON.stringify(normalize(type.toJSON())))
  }
}

export function textDelta (doc, rootName) {
  return JSON.parse(JSON.stringify(normalize(doc.getText(rootName).toDelta())))
}

/** The state vector of a doc or update as {"client": clock}. */
export function stateVectorObject (docOrEncodedSv) {
  const sv = docOrEncodedSv instanceof Y.Doc
    ? Y.decodeStateVector(Y.encodeStateVector(docOrEncodedSv))
    : Y.decodeStateVector(docOrEncodedSv)
  const out = {}
  for (const [client, clock] of [...sv.entries()].sort((a, b) => a[0] - b[0])) {
    if (clock > 0) out[String(client)] = clock
  }
  return out
}

/** Drops clients with clock 0 so that "absent" and "0" compare equal. */
export function svWithoutZeros (sv) {
  const out = {}
  for (const [k, v] of Object.entries(sv)) if (v !== 0) out[k] = v
  return out
}

/** The delete set of a v1 update as {client: [[clock, len], ...]} sorted and merged. */
export function deleteSetOf (update) {
  const { ds } = Y.decodeUpdate(update)
  const out = {}
  for (const [client, items] of ds.clients) {
    const ranges = items.map(d => [d.clock, d.len]).sort((a, b) => a[0] - b[0])
    const merged = []
    for (const [clock, len] of ranges) {
      const last = merged[merged.length - 1]
      if (last && clock <= last[0] + last[1]) last[1] = Math.max(last[1], clock + len - last[0])
      else merged.push([clock, len])
    }
    if (merged.length > 0) out[String(client)] = merged
  }
  return out
}

/** The struct ranges of a v1 update, {from, to} per client, as Yjs parses them. */
export function structRanges (update) {
  const meta = Y.parseUpdateMeta(update)
  const from = {}
  const to = {}
  for (const [c, v] of meta.from) from[String(c)] = v
  for (const [c, v] of meta.to) to[String(c)] = v
  return { from, to }
}

/** True when a doc has structs or deletes it could not integrate yet. */
export function hasPending (doc) {
  return doc.store.pendingStructs !== null || doc.store.pendingDs !== null
}
