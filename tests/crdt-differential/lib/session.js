// Random multi-client editing sessions made with the real yjs package. A session is
// a few Y.Docs ("clients") that edit shared root types (text with formatting and
// embeds, maps, arrays, XML fragments, and types nested in each other), exchange
// some of their updates while they edit (so edits are concurrent and build on
// partial knowledge), and finally all sync. What the session yields is what a
// server would receive: every update a client emitted for its own edits. It also
// keeps some intermediate client states (for diff tests) and a few "withheld"
// updates that were never delivered (for contains tests).
//
// Everything is decided by the Prng passed in, so a session is reproduced from its
// seed alone: its client ids and root names derive from that seed too.

import * as Y from 'yjs'

const REMOTE = Symbol('remote')

// Pieces that random strings are made of: ASCII, 2/3/4-byte UTF-8, surrogate pairs
// (emoji, music symbol), combining marks, ZWJ sequences, characters JSON and XML
// must escape, control characters and line separators.
const STRING_PIECES = [
  'a', 'b', 'c', 'hello', ' ', 'world', 'x', 'y', 'z', '0', '42',
  'é', 'ß', 'ñ', 'ü', 'Ω', 'ж', 'ي',
  '中', '文', '€', '→', '\u00a0', '\u2028',
  '😀', '👍🏽', '👨‍👩‍👧', '𝄞', '🇫🇷', '🙂',
  'e\u0301', '\n', '\t', '"', '\\', '<', '>', '&', "'", '/', '\u0001', '\u001f', '\u007f'
]
// U+0000 is left to test/edges.test.js, which checks it everywhere it can appear.
const KEYS = ['a', 'b', 'c', 'd', 'e', 'title', 'ключ', '😀', 'long key with spaces', '']
const ATTR_KEYS = ['bold', 'italic', 'color', 'link', 'size']
const NODE_NAMES = ['p', 'h1', 'div', 'span', 'ul', 'li', 'blockquote']
const XML_ATTR_KEYS = ['class', 'id', 'data-x', 'style', 'href']

export const ROOT_KINDS = ['text', 'map', 'array', 'xml']

export function randomString (rng, maxPieces = 4) {
  const n = rng.int(1, maxPieces)
  let s = ''
  for (let i = 0; i < n; i++) s += rng.pick(STRING_PIECES)
  return s
}

/** A random value of Yjs's "any" kind, as JSON would carry it (no undefined, NaN, BigInt). */
export function randomAny (rng, depth = 0) {
  const kind = rng.weighted({
    int: 4, bigInt: 1, negInt: 1, float: 2, special: 1, bool: 2, null: 1, string: 4,
    object: depth < 2 ? 2 : 0, array: depth < 2 ? 2 : 0, bytes: depth < 2 ? 1 : 0
  })
  switch (kind) {
    case 'int': return rng.int(0, 1000)
    case 'bigInt': return rng.pick([2 ** 31 - 1, 2 ** 31, 2 ** 32 + 5, 2 ** 53 - 1, -(2 ** 53 - 1), 4294967295])
    case 'negInt': return -rng.int(1, 100000)
    case 'float': return rng.pick([0.5, -1.25, 3.141592653589793, 0.1, 1e-7, 123456.789, 1e21, 2.5e-300, 1 / 3])
    case 'special': return rng.pick([0, -1, 1e300, 5e-324, 100])
    case 'bool': return rng.chance(0.5)
    case 'null': return null
    case 'string': return rng.chance(0.1) ? '' : randomString(rng)
    case 'object': {
      const o = {}
      const n = rng.int(0, 3)
      for (let i = 0; i < n; i++) o[rng.pick(KEYS)] = randomAny(rng, depth + 1)
      return o
    }
    case 'array': {
      const a = []
      const n = rng.int(0, 3)
      for (let i = 0; i < n; i++) a.push(randomAny(rng, depth + 1))
      return a
    }
    case 'bytes': {
      const b = new Uint8Array(rng.int(0, 6))
      for (let i = 0; i < b.length; i++) b[i] = rng.int(0, 255)
      return b
    }
  }
  throw new Error(`unreachable: ${kind}`)
}

function randomAttributes (rng) {
  const attrs = {}
  const n = rng.int(1, 2)
  for (let i = 0; i < n; i++) {
    const key = rng.pick(ATTR_KEYS)
    attrs[key] = rng.pick([true, null, null, 'red', '#00ff00', 12, { href: 'https://example.org/é' }])
  }
  return attrs
}

function insertAttributes (rng) {
  if (!rng.chance(0.4)) return undefined
  const attrs = randomAttributes(rng)
  // On insert a null attribute means "not formatted", which Yjs also accepts.
  return attrs
}

/** A value for a map entry or array element: any, binary, a subdocument or a new nested type. */
function randomElement (rng, depth) {
  if (depth < 3 && rng.chance(0.25)) {
    const kind = rng.weighted({ text: 3, map: 3, array: 3, xmlText: 1, xmlElement: 1, xmlFragment: 1, xmlHook: 0.5 })
    switch (kind) {
      case 'text': {
        const t = new Y.Text()
        if (rng.chance(0.7)) t.insert(0, randomString(rng), insertAttributes(rng))
        return t
      }
      case 'map': {
        const m = new Y.Map()
        if (rng.chance(0.7)) m.set(rng.pick(KEYS), randomAny(rng, 1))
        return m
      }
      case 'array': {
        const a = new Y.Array()
        if (rng.chance(0.7)) a.insert(0, [randomAny(rng, 1), randomAny(rng, 1)])
        return a
      }
      case 'xmlText': {
        const t = new Y.XmlText()
        if (rng.chance(0.7)) t.insert(0, randomString(rng), insertAttributes(rng))
        return t
      }
      case 'xmlElement': {
        const e = new Y.XmlElement(rng.pick(NODE_NAMES))
        if (rng.chance(0.5)) e.setAttribute(rng.pick(XML_ATTR_KEYS), randomString(rng, 2))
        return e
      }
      case 'xmlFragment': return new Y.XmlFragment()
      case 'xmlHook': return new Y.XmlHook(rng.pick(['embed', 'widget']))
    }
  }
  if (rng.chance(0.02)) {
    // A subdocument (ContentDoc): its guid and options travel, its content does not.
    return new Y.Doc({ guid: `sub-${rng.uint32().toString(36)}`, meta: rng.chance(0.5) ? { kind: 'page' } : undefined })
  }
  if (rng.chance(0.08)) {
    const b = new Uint8Array(rng.int(0, 8))
    for (let i = 0; i < b.length; i++) b[i] = rng.int(0, 255)
    return b
  }
  return randomAny(rng)
}

/** Every type reachable from the roots of `doc`, with its nesting depth. */
function reachableTypes (roots) {
  const out = []
  const visit = (type, depth) => {
    out.push({ type, depth })
    if (depth >= 4) return
    if (type instanceof Y.Map) {
      for (const v of type.values()) if (v instanceof Y.AbstractType) visit(v, depth + 1)
    } else if (type instanceof Y.Array || type instanceof Y.XmlFragment) {
      for (const v of type.toArray()) if (v instanceof Y.AbstractType) visit(v, depth + 1)
    }
  }
  for (const r of roots) visit(r, 0)
  return out
}

function editText (rng, text) {
  const len = text.length
  const op = rng.weighted({ insert: 6, delete: len > 0 ? 3 : 0, format: len > 0 ? 2 : 0, embed: 0.5, insertAtEnd: 1 })
  switch (op) {
    case 'insert': text.insert(rng.int(0, len), randomString(rng), insertAttributes(rng)); break
    case 'insertAtEnd': text.insert(len, randomString(rng, 6)); break
    case 'delete': {
      const index = rng.int(0, len - 1)
      text.delete(index, rng.int(1, Math.min(len - index, 5)))
      break
    }
    case 'format': {
      const index = rng.int(0, len - 1)
      text.format(index, rng.int(1, len - index), randomAttributes(rng))
      break
    }
    case 'embed':
      text.insertEmbed(rng.int(0, len), rng.pick([{ image: 'a.png' }, { formula: 'e=mc²' }, { n: 1 }]), insertAttributes(rng))
      break
  }
}

function editMap (rng, map, depth) {
  if (map.size > 0 && rng.chance(0.25)) {
    map.delete(rng.pick([...map.keys()]))
  } else {
    map.set(rng.pick(KEYS), randomElement(rng, depth))
  }
}

function editArray (rng, array, depth) {
  const len = array.length
  if (len > 0 && rng.chance(0.3)) {
    const index = rng.int(0, len - 1)
    array.delete(index, rng.int(1, Math.min(len - index, 3)))
  } else {
    const items = []
    const n = rng.int(1, 3)
    for (let i = 0; i < n; i++) items.push(randomElement(rng, depth))
    // Binary and type elements are single items; Yjs also groups runs of "any" values.
    array.insert(rng.int(0, len), items)
  }
}

function editXml (rng, fragment) {
  const len = fragment.length
  const op = rng.weighted({
    insertElement: 3, insertText: 3, delete: len > 0 ? 2 : 0,
    attribute: fragment instanceof Y.XmlElement ? 2 : 0,
    removeAttribute: fragment instanceof Y.XmlElement ? 1 : 0
  })
  switch (op) {
    case 'insertElement': {
      const e = new Y.XmlElement(rng.pick(NODE_NAMES))
      if (rng.chance(0.5)) e.setAttribute(rng.pick(XML_ATTR_KEYS), randomString(rng, 2))
      if (rng.chance(0.4)) {
        const t = new Y.XmlText()
        t.insert(0, randomString(rng), insertAttributes(rng))
        e.insert(0, [t])
      }
      fragment.insert(rng.int(0, len), [e])
      break
    }
    case 'insertText': {
      const t = new Y.XmlText()
      t.insert(0, randomString(rng), insertAttributes(rng))
      fragment.insert(rng.int(0, len), [t])
      break
    }
    case 'delete': {
      const index = rng.int(0, len - 1)
      fragment.delete(index, rng.int(1, Math.min(len - index, 2)))
      break
    }
    case 'attribute': fragment.setAttribute(rng.pick(XML_ATTR_KEYS), randomString(rng, 2)); break
    case 'removeAttribute': fragment.removeAttribute(rng.pick(XML_ATTR_KEYS)); break
  }
}

/** One random edit on a random type reachable in a client's document. */
function randomEdit (rng, roots) {
  const { type, depth } = rng.pick(reachableTypes(roots))
  if (type instanceof Y.XmlText || type instanceof Y.Text) editText(rng, type)
  else if (type instanceof Y.XmlFragment) editXml(rng, type) // also XmlElement
  else if (type instanceof Y.Map) editMap(rng, type, depth + 1) // also XmlHook
  else if (type instanceof Y.Array) editArray(rng, type, depth + 1)
  else throw new Error(`unexpected type ${type.constructor.name}`)
}

export function getRoot (doc, root) {
  switch (root.kind) {
    case 'text': return doc.getText(root.name)
    case 'map': return doc.getMap(root.name)
    case 'array': return doc.getArray(root.name)
    case 'xml': return doc.getXmlFragment(root.name)
  }
  throw new Error(`unknown root kind ${root.kind}`)
}

/**
 * Builds one session. Returns {seed, clientIds, roots: [{name, kind}], updates:
 * Uint8Array[] (every locally produced v1 update, per client in emission order,
 * concatenated), intermediates: Uint8Array[] (full states of some client at some
 * moment), withheld: Uint8Array[] (updates never delivered), clientDocs: the clients'
 * docs after the full sync (before any withheld edit)}.
 */
export function generateSession (rng, { gc = true, maxSteps = 40, plainRootNames = false } = {}) {
  const seed = rng.seed
  const prefix = `s${seed.toString(36)}.`
  const nClients = rng.int(1, 4)
  const clientIds = []
  while (clientIds.length < nClients) {
    // Mostly random uint32 like Yjs; sometimes larger ids (up to 2^53) as yrs allows.
    const id = rng.chance(0.1) ? rng.uint32() * 2 ** 21 + rng.int(0, 2 ** 21 - 1) : rng.uint32()
    if (!clientIds.includes(id)) clientIds.push(id)
  }
  const nRoots = rng.int(1, 3)
  const roots = []
  for (let i = 0; i < nRoots; i++) {
    const kind = rng.weighted({ text: 4, map: 2, array: 2, xml: 2 })
    // Plain names (t, m, a, x: one root per kind) are what the fuzz targets read.
    const name = plainRootNames ? kind[0] : `${prefix}${kind}${i}`
    if (!roots.some(r => r.name === name)) roots.push({ name, kind })
  }

  const clients = clientIds.map((id) => {
    const doc = new Y.Doc({ gc })
    doc.clientID = id
    const own = []
    doc.on('update', (update, origin) => { if (origin !== REMOTE) own.push(update) })
    return { doc, own, seen: new Array(nClients).fill(0), roots: roots.map(r => getRoot(doc, r)) }
  })

  /** Delivers the next `count` not yet seen updates of client `from` to client `to`. */
  const deliver = (to, from, count) => {
    const c = clients[to]
    const source = clients[from].own
    const end = Math.min(source.length, c.seen[from] + count)
    for (let i = c.seen[from]; i < end; i++) Y.applyUpdate(c.doc, source[i], REMOTE)
    c.seen[from] = end
  }

  const intermediates = []
  const steps = rng.int(1, maxSteps)
  for (let step = 0; step < steps; step++) {
    const action = rng.weighted({ edit: 5, sync: nClients > 1 ? 2 : 0, snapshot: 0.5 })
    if (action === 'edit') {
      const c = rng.pick(clients)
      const edits = rng.chance(0.2) ? rng.int(2, 4) : 1
      c.doc.transact(() => {
        for (let i = 0; i < edits; i++) randomEdit(rng, c.roots)
      })
    } else if (action === 'sync') {
      const to = rng.int(0, nClients - 1)
      let from = rng.int(0, nClients - 2)
      if (from >= to) from++
      deliver(to, from, rng.int(1, 5))
    } else {
      intermediates.push(Y.encodeStateAsUpdate(rng.pick(clients).doc))
    }
  }
  // Full sync: everybody gets everything, in order per sender. Receiving can make
  // a client emit updates of its own (Yjs cleans up redundant formatting marks in a
  // local transaction), so repeat until nothing new appears.
  for (let round = 0; ; round++) {
    if (round > 10) throw new Error(`harness: session ${seed} does not reach a synced state`)
    const before = clients.reduce((n, c) => n + c.own.length, 0)
    for (let to = 0; to < nClients; to++) {
      for (let from = 0; from < nClients; from++) if (from !== to) deliver(to, from, Infinity)
    }
    const synced = clients.every(c => c.seen.every((n, from) => from === clients.indexOf(c) || n === clients[from].own.length))
    if (synced && clients.reduce((n, c) => n + c.own.length, 0) === before) break
  }
  const updates = []
  for (const c of clients) updates.push(...c.own)

  // Withheld edits: the next update some client would send, never delivered.
  const finalState = Y.encodeStateAsUpdate(clients[0].doc)
  const withheld = []
  const nWithheld = rng.int(0, 2)
  for (let i = 0; i < nWithheld; i++) {
    const doc = new Y.Doc({ gc })
    Y.applyUpdate(doc, finalState, REMOTE)
    // Set after loading: Yjs picks a new id when a remote update touches its own.
    doc.clientID = rng.pick(clientIds)
    let produced = null
    doc.on('update', (update, origin) => { if (origin !== REMOTE) produced = update })
    randomEdit(rng, roots.map(r => getRoot(doc, r)))
    if (produced) withheld.push(produced)
    doc.destroy()
  }
  return { seed, prefix, clientIds, roots, updates, intermediates, withheld, clientDocs: clients.map(c => c.doc) }
}
