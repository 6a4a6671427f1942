// Yjs 13.6 (the reference implementation, pinned in ../package.json) as a benchmark
// peer; the modes and output are driver.js's.
import * as Y from 'yjs'
import { main } from './driver.js'

main({
  name: 'yjs',
  newDoc: () => new Y.Doc(),
  apply: (doc, update) => Y.applyUpdate(doc, update),
  encode: (doc) => Y.encodeStateAsUpdate(doc),
  text: (doc) => doc.getText('text').toString(),
  free: (doc) => doc.destroy()
})
