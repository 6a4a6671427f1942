// The client library as the e2e tests use it: client/dist (built by
// `npm run build` in client/) and the very yjs module instance it imports, so
// that the tests' Y.Docs and the provider share one Yjs (two copies of yjs
// break its constructor checks).

import fs from 'node:fs';

const dist = new URL('../../../client/dist/index.js', import.meta.url);
if (!fs.existsSync(dist)) {
  throw new Error('client/dist is missing: run `npm ci && npm run build` in client/');
}

export * as Y from '../../../client/node_modules/yjs/dist/yjs.mjs';
export * as decoding from '../../../client/node_modules/lib0/decoding.js';
export { CollabProvider } from '../../../client/dist/index.js';
