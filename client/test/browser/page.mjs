// Runs in the browser (see page.html): connects with the browser WebSocket and
// the IndexedDB stores, types, waits for a node peer's text and reports back
// to the test with a POST /result.

import * as Y from 'yjs';

import { CollabProvider } from '/dist/index.js';
import { openOfflineDocument } from '/dist/indexeddb.js';

const params = new URLSearchParams(location.search);
const report = (result) => fetch('/result', { method: 'POST', body: JSON.stringify(result) });

async function until(condition, what, ms = 10000) {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

try {
  const docId = params.get('doc');
  const doc = new Y.Doc();
  const { persistence, store } = await openOfflineDocument(docId, doc, `browser-${docId}`);
  const provider = new CollabProvider(doc, docId, {
    writeUrl: params.get('ws'),
    readUrl: params.get('ws'),
    token: params.get('token'),
    tokenTransport: 'protocol',
    store,
    ignoreOrigins: [persistence],
    batch: { pauseMs: 5 },
  });
  const errors = [];
  provider.on('error', (e) => errors.push(`${e.code}: ${e.message}`));
  provider.setUser({ id: 'browser', name: 'Browser', color: '#8e24aa' });
  await until(() => provider.synced, 'synced');
  doc.getText('t').insert(0, 'from the browser ');
  await provider.flush();
  await until(() => doc.getText('t').toString().includes('from node'), 'node text');
  const itemId = await provider.writeItem('color', new TextEncoder().encode('purple'));
  await provider.flush();
  report({
    ok: true,
    text: doc.getText('t').toString(),
    left: (await store.loadOps(docId)).length,
    deviceId: provider.itemClientId,
    itemId,
    peers: [...provider.awareness.getStates().values()].map((s) => s.user?.name ?? null),
    errors,
  });
} catch (err) {
  report({ ok: false, error: String(err && err.stack ? err.stack : err) });
}
