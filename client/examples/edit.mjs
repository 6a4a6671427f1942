// A tiny collaborator for a terminal: logs in, connects to a document, types
// a line of text character by character (batched like a person typing) and
// prints what the others type and who comes and goes, until Ctrl-C.
//
//   node examples/edit.mjs --user alice --password secret --doc my-doc \
//     [--text "hello"] [--seconds 30] [--http http://127.0.0.1:8080]
//     [--write ws://127.0.0.1:8080] [--read ws://127.0.0.1:8081]
//
// Defaults come from COLLAB_HTTP_URL, COLLAB_WRITE_URL, COLLAB_READ_URL.
// Build the package first (npm run build); node needs the `ws` package.

import { parseArgs } from 'node:util';

import WebSocket from 'ws';
import * as Y from 'yjs';

import { CollabProvider } from '../dist/index.js';

const { values: args } = parseArgs({
  options: {
    user: { type: 'string' },
    password: { type: 'string' },
    doc: { type: 'string' },
    text: { type: 'string', default: `Hello from ${process.pid}. ` },
    seconds: { type: 'string' },
    http: { type: 'string', default: process.env.COLLAB_HTTP_URL ?? 'http://127.0.0.1:8080' },
    write: { type: 'string', default: process.env.COLLAB_WRITE_URL ?? 'ws://127.0.0.1:8080' },
    read: { type: 'string', default: process.env.COLLAB_READ_URL ?? 'ws://127.0.0.1:8081' },
  },
});
if (!args.user || !args.password || !args.doc) {
  console.error(
    'usage: node examples/edit.mjs --user NAME --password PASSWORD --doc DOC_ID [--text T] [--seconds N]',
  );
  process.exit(2);
}

const doc = new Y.Doc();
const text = doc.getText('text');
const provider = new CollabProvider(doc, args.doc, {
  writeUrl: args.write,
  readUrl: args.read,
  login: { url: args.http, username: args.user, password: args.password },
  WebSocket,
});
provider.setUser({ id: args.user, name: args.user, color: '#1e88e5' });

provider.on('status', ({ status }) => console.log(`[status] ${status}`));
provider.on('error', (e) => console.log(`[error] ${e.source} ${e.code}: ${e.message}`));
provider.on('conflict', ({ itemId, siblings }) =>
  console.log(`[conflict] ${itemId}: ${siblings.length} values`),
);

// Others' edits arrive as transactions whose origin is the provider.
text.observe((event, transaction) => {
  if (transaction.origin !== provider) return;
  const inserted = event.delta
    .filter((d) => typeof d.insert === 'string')
    .map((d) => d.insert)
    .join('');
  if (inserted) console.log(`[others typed] ${JSON.stringify(inserted)}`);
});

const present = new Map();
provider.awareness.on('change', ({ added, updated, removed }) => {
  for (const id of [...added, ...updated]) {
    const user = provider.awareness.getStates().get(id)?.user;
    if (id !== doc.clientID && user && !present.has(id)) {
      present.set(id, user.name);
      console.log(`[joined] ${user.name}`);
    }
  }
  for (const id of removed) {
    if (present.has(id)) console.log(`[left] ${present.get(id)}`);
    present.delete(id);
  }
});

await provider.whenSynced();
console.log(`[synced] version ${provider.version}: ${JSON.stringify(text.toString())}`);

for (const ch of args.text) {
  text.insert(text.length, ch);
  provider.setCursor(Y.createRelativePositionFromTypeIndex(text, text.length));
  await new Promise((resolve) => setTimeout(resolve, 40));
}
await provider.flush();
console.log(`[acked] everything typed is stored; document: ${JSON.stringify(text.toString())}`);

let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  await provider.destroy();
  console.log(`[done] ${JSON.stringify(text.toString())}`);
  process.exit(0);
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
if (args.seconds !== undefined) setTimeout(stop, Number(args.seconds) * 1000);
