// Yrs (the Rust port of Yjs) through its WebAssembly build ywasm (pinned in
// ../package.json) as a benchmark peer; the modes and output are driver.js's.
import ywasm from 'ywasm'
import { main } from './driver.js'

main({
  name: 'ywasm',
  newDoc: () => new ywasm.YDoc({}),
  apply: (doc, update) => ywasm.applyUpdate(doc, update, undefined),
  encode: (doc) => ywasm.encodeStateAsUpdate(doc, undefined),
  text: (doc) => doc.getText('text').toString(undefined),
  free: (doc) => doc.free()
})
