// The IndexedDB op store and the y-indexeddb document helper, on
// fake-indexeddb (an in-memory IndexedDB for node), and a provider whose
// queue survives a "reload" through IndexedDB.

import 'fake-indexeddb/auto';

import assert from 'node:assert/strict';
import { test } from 'node:test';

import WebSocket from 'ws';
import * as Y from 'yjs';

import { CollabProvider } from '../dist/index.js';
import { IndexedDbOpStore, openOfflineDocument } from '../dist/indexeddb.js';
import { startFakes, waitFor } from './fakes.mjs';

let dbCounter = 0;
const dbName = () => `collab-test-${process.pid}-${++dbCounter}`;

test('ops round-trip per document in seq order; meta values persist', async () => {
  const name = dbName();
  const store = new IndexedDbOpStore(name);
  const op = (seq, docTag) => ({
    seq,
    opId: `${docTag}-${seq}`,
    kind: seq % 2 ? 'item_write' : 'update',
    clientId: 7,
    clientTimeMs: 1000 + seq,
    ...(seq % 2
      ? { itemId: 'i', value: new Uint8Array([seq]), clock: [[7, seq]] }
      : { update: new Uint8Array([0, 0, seq]) }),
  });
  for (const seq of [3, 1, 2, 10]) await store.putOp('doc-a', op(seq, 'a'));
  await store.putOp('doc-b', op(1, 'b'));
  await store.deleteOp('doc-a', 2);
  await store.setMeta('device-id', '42');
  await store.close();

  const reopened = new IndexedDbOpStore(name);
  const ops = await reopened.loadOps('doc-a');
  assert.deepEqual(
    ops.map((o) => o.seq),
    [1, 3, 10],
  );
  assert.deepEqual(ops[0], op(1, 'a'));
  assert.ok(ops[2].update instanceof Uint8Array);
  assert.deepEqual(
    (await reopened.loadOps('doc-b')).map((o) => o.opId),
    ['b-1'],
  );
  assert.deepEqual(await reopened.loadOps('doc-none'), []);
  assert.equal(await reopened.getMeta('device-id'), '42');
  assert.equal(await reopened.getMeta('absent'), undefined);
  await reopened.close();
});

test('offline edits survive a reload through IndexedDB and reach the server once', async () => {
  const fakes = await startFakes();
  const docId = `idb-${process.pid}`;
  const storeName = dbName();
  const options = {
    writeUrl: fakes.writeUrl,
    readUrl: fakes.readUrl,
    token: 'token-alice',
    WebSocket,
    batch: { pauseMs: 5, maxDelayMs: 50, maxChars: 1000 },
    reconnect: { initialDelayMs: 10, maxDelayMs: 100 },
  };
  try {
    // First session: offline from the start, edits, closes the page.
    const doc1 = new Y.Doc();
    const first = await openOfflineDocument(docId, doc1, storeName);
    const p1 = new CollabProvider(doc1, docId, {
      ...options,
      connect: false,
      store: first.store,
      ignoreOrigins: [first.persistence],
    });
    doc1.getText('t').insert(0, 'written on a plane');
    p1.flush().catch(() => {});
    await p1.destroy();
    await first.persistence.destroy();
    await first.store.close();
    assert.equal(fakes.received.length, 0);

    // Second session: the doc comes back from y-indexeddb, the ops from the store.
    const doc2 = new Y.Doc();
    const second = await openOfflineDocument(docId, doc2, storeName);
    assert.equal(doc2.getText('t').toString(), 'written on a plane');
    const queued = await second.store.loadOps(docId);
    assert.equal(queued.length, 1);
    const p2 = new CollabProvider(doc2, docId, {
      ...options,
      store: second.store,
      ignoreOrigins: [second.persistence],
    });
    await p2.ready;
    await waitFor(() => p2.synced, 'synced');
    await p2.flush();
    const updates = fakes.received.filter((m) => m.type === 'update');
    assert.deepEqual(
      updates.map((m) => m.opId),
      [queued[0].opId],
      'loading the doc was not sent as a new edit',
    );
    assert.equal(fakes.backend.doc(docId).ydoc.getText('t').toString(), 'written on a plane');
    assert.deepEqual(await second.store.loadOps(docId), []);
    await p2.destroy();
    await second.persistence.destroy();
    await second.store.close();
  } finally {
    await fakes.close();
  }
});
