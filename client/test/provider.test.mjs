// The provider against the in-process fake ingest and broadcaster
// (./fakes.mjs): login, convergence, acks and resends, NACKs, resume, gaps,
// resync, awareness, items, splitting, bad frames and the offline queue.

import assert from 'node:assert/strict';
import { afterEach, beforeEach, test } from 'node:test';

import WebSocket from 'ws';
import * as Y from 'yjs';

import { CollabProvider, MemoryOpStore } from '../dist/index.js';
import { ManualTimers, startFakes, waitFor, wire } from './fakes.mjs';

let fakes;
let providers;
let docCounter = 0;

beforeEach(async () => {
  fakes = await startFakes();
  providers = [];
});

afterEach(async () => {
  for (const p of providers) await p.destroy();
  await fakes.close();
});

function newDocId() {
  return `doc-${process.pid}-${++docCounter}`;
}

/** A provider on the fakes with fast batching and backoff; errors are collected. */
function connect(docId, options = {}) {
  const doc = options.doc ?? new Y.Doc();
  const provider = new CollabProvider(doc, docId, {
    writeUrl: fakes.writeUrl,
    readUrl: fakes.readUrl,
    token: 'token-alice',
    WebSocket,
    batch: { pauseMs: 5, maxDelayMs: 50, maxChars: 1000 },
    reconnect: { initialDelayMs: 10, maxDelayMs: 100 },
    ...options,
  });
  const errors = [];
  provider.on('error', (e) => errors.push(e));
  providers.push(provider);
  return { doc, provider, errors, text: doc.getText('t') };
}

const updatesReceived = () => fakes.received.filter((m) => m.type === 'update');

async function connected(provider) {
  await waitFor(() => provider.synced && provider.status === 'connected', 'provider connected');
}

test('logs in, connects with either token transport, and two providers converge', async () => {
  const docId = newDocId();
  const a = connect(docId, {
    token: undefined,
    login: { url: fakes.httpUrl, username: 'alice', password: 'secret-a' },
    tokenTransport: 'protocol',
  });
  const b = connect(docId, { token: 'token-bob' }); // default: the query parameter
  const statuses = [];
  a.provider.on('status', (s) => statuses.push(s.status));
  await a.provider.whenSynced();
  await connected(a.provider);
  await connected(b.provider);
  await b.provider.whenSynced(); // already synced: resolves at once
  assert.equal(fakes.logins, 1);
  assert.deepEqual([...new Set(fakes.tokenTransports)].sort(), ['protocol', 'query']);
  assert.equal(statuses.at(-1), 'connected');

  a.text.insert(0, 'Hello from A. ');
  b.text.insert(0, 'Hello from B. ');
  a.doc.getMap('m').set('k', 'va');
  await Promise.all([a.provider.flush(), b.provider.flush()]);
  const server = fakes.backend.doc(docId).ydoc;
  await waitFor(
    () => a.text.toString() === b.text.toString() && a.text.length === 28,
    'texts converge',
  );
  assert.equal(server.getText('t').toString(), a.text.toString());
  assert.equal(b.doc.getMap('m').get('k'), 'va');
  assert.deepEqual(a.errors, []);
  assert.deepEqual(b.errors, []);
});

test('flush resolves only when every op is acked; acked events carry the op ids', async () => {
  const docId = newDocId();
  const a = connect(docId);
  await connected(a.provider);
  fakes.decide = () => 'hold';
  const acked = [];
  a.provider.on('acked', (e) => acked.push(e.opId));
  a.text.insert(0, 'one');
  let flushed = false;
  const flushing = a.provider.flush().then(() => (flushed = true));
  await waitFor(() => fakes.held.length === 1, 'op reached ingest');
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(flushed, false, 'not acked yet');
  assert.equal(a.provider.pendingCount, 1);
  fakes.releaseHeld();
  await flushing;
  assert.deepEqual(
    acked,
    updatesReceived().map((m) => m.opId),
  );
  assert.equal(a.provider.pendingCount, 0);
});

test('unacked ops are resent after a reconnect with the same op ids, in order', async () => {
  const docId = newDocId();
  const a = connect(docId);
  await connected(a.provider);
  fakes.decide = () => 'hold';
  for (const word of ['alpha ', 'beta ', 'gamma ']) {
    a.text.insert(a.text.length, word);
    void a.provider.flush().catch(() => {});
  }
  await waitFor(() => updatesReceived().length === 3, 'three ops sent');
  const first = updatesReceived().map((m) => m.opId);
  assert.equal(new Set(first).size, 3);
  fakes.held = []; // lost with the connection: never acked
  fakes.decide = () => 'ack';
  fakes.dropWriters();
  await a.provider.flush();
  const resent = updatesReceived()
    .filter((m) => m.conn > 0)
    .map((m) => m.opId);
  assert.deepEqual(resent, first);
  const server = fakes.backend.doc(docId);
  assert.equal(server.ydoc.getText('t').toString(), 'alpha beta gamma ');
  assert.equal(server.opIds.size, 3);
});

test('NACK with retry_after_ms is retried with the same op id; a final NACK drops with an error', async () => {
  const docId = newDocId();
  const a = connect(docId);
  await connected(a.provider);
  const nacked = new Set();
  fakes.decide = (m) => {
    if (!nacked.has(m.opId)) {
      nacked.add(m.opId);
      return { code: 'rate_limited', message: 'slow down', retryAfterMs: 30 };
    }
    return 'ack';
  };
  a.text.insert(0, 'retry me');
  await a.provider.flush();
  const ids = updatesReceived().map((m) => m.opId);
  assert.equal(ids.length, 2);
  assert.equal(ids[0], ids[1]);
  assert.deepEqual(a.errors, []);

  fakes.decide = () => ({ code: 'forbidden', message: 'viewer', retryAfterMs: 0 });
  a.text.insert(0, 'nope ');
  await a.provider.flush();
  assert.equal(a.errors.length, 1);
  assert.equal(a.errors[0].code, 'forbidden');
  assert.equal(a.errors[0].opId, updatesReceived().at(-1).opId);
  assert.equal(a.errors[0].op.kind, 'update');
  assert.equal(a.provider.pendingCount, 0);
});

test('a dropped read connection resumes with since = the last version', async () => {
  const docId = newDocId();
  const a = connect(docId);
  const b = connect(docId);
  await connected(a.provider);
  await connected(b.provider);
  b.text.insert(0, 'v1');
  await b.provider.flush();
  await waitFor(() => a.provider.version === 1, 'a at version 1');
  a.provider.disconnect();
  b.text.insert(2, ' v2');
  await b.provider.flush();
  b.text.insert(5, ' v3');
  await b.provider.flush();
  const readsBefore = fakes.readUrls.length;
  const synced = [];
  a.provider.on('synced', (e) => synced.push(e.version));
  a.provider.connect();
  await waitFor(() => a.text.toString() === 'v1 v2 v3', 'a caught up');
  assert.equal(new URL(fakes.readUrls[readsBefore]).searchParams.get('since'), '1');
  assert.equal(a.provider.version, 3);
  assert.deepEqual(synced, [3], 'resumed: no STATE, the replay, then SYNCED at the newest version');

  fakes.dropReaders();
  await waitFor(() => fakes.readUrls.length > readsBefore + 1, 'read reconnect');
  assert.equal(new URL(fakes.readUrls.at(-1)).searchParams.get('since'), '3');
});

test('a gap in versions reconnects with since and fills it', async () => {
  const docId = newDocId();
  const a = connect(docId);
  const b = connect(docId);
  await connected(a.provider);
  await connected(b.provider);
  fakes.skipVersions.add(1);
  b.text.insert(0, 'first ');
  await b.provider.flush();
  b.text.insert(6, 'second');
  await b.provider.flush();
  await waitFor(() => a.text.toString() === 'first second', 'a filled the gap');
  assert.ok(a.errors.some((e) => e.code === 'gap'));
  assert.ok(fakes.readUrls.some((u) => new URL(u).searchParams.get('since') === '0'));
  assert.equal(a.provider.version, 2);
});

test('RESYNC then STATE replaces what was missed; Yjs merges local edits', async () => {
  const docId = newDocId();
  const a = connect(docId);
  await connected(a.provider);
  const other = new Y.Doc();
  other.getText('t').insert(0, 'server side ');
  const server = fakes.backend.doc(docId);
  Y.applyUpdate(server.ydoc, Y.encodeStateAsUpdate(other));
  server.version += 5; // ops the client never saw
  const resyncs = [];
  a.provider.on('resync', (e) => resyncs.push(e.reason));
  fakes.resync(docId, 'slow_consumer');
  await waitFor(() => a.provider.version === server.version, 'state applied');
  assert.deepEqual(resyncs, ['slow_consumer']);
  assert.equal(a.text.toString(), 'server side ');
});

test('awareness: user and cursor reach the others; leaving removes the state', async () => {
  const docId = newDocId();
  const a = connect(docId);
  const b = connect(docId);
  await connected(a.provider);
  await connected(b.provider);
  a.text.insert(0, 'abc');
  a.provider.setUser({ id: 'u-alice', name: 'Alice', color: '#f00' });
  a.provider.setCursor(Y.createRelativePositionFromTypeIndex(a.text, 1));
  const aId = a.doc.clientID;
  await waitFor(() => b.provider.awareness.getStates().get(aId)?.cursor, 'b sees a with a cursor');
  const seen = b.provider.awareness.getStates().get(aId);
  assert.deepEqual(seen.user, { id: 'u-alice', name: 'Alice', color: '#f00' });
  const pos = Y.createAbsolutePositionFromRelativePosition(
    Y.createRelativePositionFromJSON(seen.cursor.anchor),
    a.doc,
  );
  assert.equal(pos.index, 1);
  // A late joiner sees a without waiting for a's 15 s renewal.
  const c = connect(docId);
  c.provider.setUser({ id: 'u-carol', name: 'Carol', color: '#0f0' });
  await waitFor(
    () => c.provider.awareness.getStates().get(aId)?.user?.name === 'Alice',
    'late joiner sees a',
  );
  await a.provider.destroy();
  await waitFor(() => !b.provider.awareness.getStates().has(aId), 'a left');
});

test('items: conflict events carry every sibling; resolve and write send dominating clocks', async () => {
  const docId = newDocId();
  const a = connect(docId, { deviceId: 1 });
  await connected(a.provider);
  const conflicts = [];
  a.provider.on('conflict', (e) => conflicts.push(e));
  const b64 = (s) => Buffer.from(s).toString('base64');
  fakes.backend.publishItem(docId, {
    item_id: 'item16',
    policy: 'manual',
    version: 2,
    revision: 3,
    vector_clock: { 1: 2, 2: 2 },
    conflict: true,
    value_base64: null,
    timestamp_ms: null,
    client_id: null,
    siblings: [
      {
        value_base64: b64('val16_A'),
        vector_clock: { 1: 2 },
        timestamp_ms: 1716035760000,
        client_id: 1,
      },
      {
        value_base64: b64('val16_B'),
        vector_clock: { 1: 1, 2: 2 },
        timestamp_ms: 1716035761000,
        client_id: 2,
      },
    ],
  });
  await waitFor(() => conflicts.length === 1, 'conflict event');
  assert.deepEqual(
    conflicts[0].siblings.map((s) => new TextDecoder().decode(s.value)),
    ['val16_A', 'val16_B'],
  );
  const resolveId = await a.provider.resolveItem(
    'item16',
    new TextEncoder().encode('val16_Aval16_B'),
  );
  await a.provider.flush();
  const resolve = fakes.received.find((m) => m.opId === resolveId);
  assert.equal(resolve.type, 'item_resolve');
  assert.deepEqual(resolve.clock, [
    [1, 2],
    [2, 2],
  ]);
  assert.equal(resolve.clientId, 1);

  await a.provider.writeItem('item16', new TextEncoder().encode('next'));
  await a.provider.writeItem('item16', new TextEncoder().encode('after'));
  await a.provider.flush();
  const writes = fakes.received.filter((m) => m.type === 'item_write');
  assert.deepEqual(
    writes.map((w) => w.clock),
    [
      [
        [1, 3],
        [2, 2],
      ],
      [
        [1, 4],
        [2, 2],
      ],
    ],
  );
  await assert.rejects(a.provider.resolveItem('unknown', new Uint8Array()), /unknown/);
  await assert.rejects(a.provider.writeItem('', new Uint8Array()), /item id/);
  await assert.rejects(a.provider.writeItem('big', new Uint8Array(64 * 1024 + 1)), /at most/);

  const items = [];
  a.provider.on('item', (e) => items.push(e));
  fakes.sendToReaders(docId, wire.item(a.provider.version + 1, 'op-x', 1, '{"broken":'));
  await waitFor(() => a.errors.some((e) => e.code === 'bad_item'), 'bad item reported');
  assert.equal(items.length, 0);
});

test('an update larger than max_message_bytes is split and still converges', async () => {
  const docId = newDocId();
  fakes.maxMessageBytes = 4096;
  const a = connect(docId);
  const b = connect(docId);
  await connected(a.provider);
  await connected(b.provider);
  const big = Array.from({ length: 5000 }, (_, i) => `line ${i} 😀\n`).join('');
  a.text.insert(0, big);
  await a.provider.flush();
  const sent = updatesReceived();
  assert.ok(sent.length > 10, `expected many pieces, got ${sent.length}`);
  for (const m of sent) assert.ok(m.size <= 4096, `frame of ${m.size} bytes`);
  await waitFor(() => b.text.toString() === big, 'b has the paste');
  assert.deepEqual(a.errors, []);
});

test('bad frames from the servers are error events, then the client reconnects and carries on', async () => {
  const docId = newDocId();
  const a = connect(docId);
  const b = connect(docId);
  await connected(a.provider);
  await connected(b.provider);
  fakes.sendToReaders(docId, new Uint8Array([49, 5])); // truncated MERGED
  fakes.sendToReaders(docId, 'text frame');
  fakes.sendToReaders(docId, new Uint8Array([77]));
  for (const c of fakes.writeConnections) c.ws.send(new Uint8Array([33, 1, 65, 0, 0, 9])); // ACK + trailing byte
  await waitFor(
    () => a.errors.filter((e) => e.code === 'bad_frame').length >= 2,
    'bad frames reported',
  );
  assert.ok(a.errors.some((e) => e.source === 'read'));
  assert.ok(a.errors.some((e) => e.source === 'write'));
  await connected(a.provider);
  await connected(b.provider);
  a.text.insert(0, 'still ');
  b.text.insert(0, 'working');
  await Promise.all([a.provider.flush(), b.provider.flush()]);
  await waitFor(
    () => a.text.toString() === b.text.toString() && a.text.length === 13,
    'converged after bad frames',
  );
});

test('offline: ops wait in the store across a restart and are sent with their op ids', async () => {
  const docId = newDocId();
  const store = new MemoryOpStore();
  const a = connect(docId, { store });
  await connected(a.provider);
  a.provider.disconnect();
  a.text.insert(0, 'typed offline');
  a.doc.getMap('m').set('x', 1);
  a.provider.flush().catch(() => {});
  await a.provider.destroy();
  const stored = await store.loadOps(docId);
  assert.ok(stored.length >= 1);
  assert.equal(updatesReceived().length, 0, 'nothing reached ingest while offline');

  // The "reloaded page": a new doc with the persisted content and the same store.
  const doc2 = new Y.Doc();
  Y.applyUpdate(doc2, Y.encodeStateAsUpdate(a.doc));
  const c = connect(docId, { store, doc: doc2 });
  await c.provider.flush();
  assert.deepEqual(
    updatesReceived()
      .map((m) => m.opId)
      .slice(0, stored.length),
    stored.map((o) => o.opId),
  );
  assert.equal(fakes.backend.doc(docId).ydoc.getText('t').toString(), 'typed offline');
  assert.equal((await store.loadOps(docId)).length, 0);
});

test('local content the server lacks (made before connecting) is sent after the STATE', async () => {
  const docId = newDocId();
  const doc = new Y.Doc();
  doc.getText('t').insert(0, 'written before the provider');
  const a = connect(docId, { doc });
  await connected(a.provider);
  await a.provider.flush();
  await waitFor(
    () => fakes.backend.doc(docId).ydoc.getText('t').toString() === 'written before the provider',
    'server has it',
  );
  // A second STATE with everything known sends nothing more.
  const before = updatesReceived().length;
  fakes.resync(docId, 'test');
  await waitFor(() => a.provider.synced, 'resynced');
  await a.provider.flush();
  assert.equal(updatesReceived().length, before);
});

test('refused connections and failed logins are reported, not thrown', async () => {
  const docId = newDocId();
  const a = connect(docId, { token: 'expired-or-forged' });
  await waitFor(
    () => a.errors.some((e) => e.code === 'unauthorized' && e.status === 401),
    '401 reported',
  );
  const b = connect(docId, {
    token: undefined,
    login: { url: fakes.httpUrl, username: 'alice', password: 'wrong' },
  });
  await waitFor(
    () => b.errors.some((e) => e.code === 'auth' && /bad_credentials/.test(e.message)),
    'login failure reported',
  );
  assert.throws(() => connect('bad/id'), /document id/);
});

test('the rate announced in HELLO is respected', async () => {
  const docId = newDocId();
  fakes.maxOpsPerSecond = 4;
  const timers = new ManualTimers(Date.now());
  const a = connect(docId, { deviceId: 9, timers });
  await connected(a.provider);
  for (let i = 0; i < 9; i++) await a.provider.writeItem(`k${i}`, new Uint8Array([i]));
  const writes = () => fakes.received.filter((m) => m.type === 'item_write').length;
  await waitFor(() => writes() === 4, 'first four sent');
  await waitFor(() => fakes.backend.doc(docId).offset === 4, 'first four acked');
  assert.equal(writes(), 4, 'no fifth op within the same second');
  timers.advance(1000);
  await waitFor(() => writes() === 8, 'four more one second later');
  timers.advance(1000);
  await waitFor(() => writes() === 9, 'the last one');
  await a.provider.flush();
  assert.equal(a.provider.pendingCount, 0);
});

test('edits made while disconnected are sent on connect(); the others leave our awareness on close', async () => {
  const docId = newDocId();
  const a = connect(docId);
  const b = connect(docId);
  await connected(a.provider);
  await connected(b.provider);
  b.provider.setUser({ id: 'u-bob', name: 'Bob', color: '#00f' });
  await waitFor(() => a.provider.awareness.getStates().has(b.doc.clientID), 'a sees b');
  a.provider.setUser({ id: 'u-alice', name: 'Alice', color: '#f00' });
  await waitFor(() => b.provider.awareness.getStates().has(a.doc.clientID), 'b sees a');
  const statuses = [];
  a.provider.on('status', (s) => statuses.push(s.status));
  a.provider.disconnect();
  await waitFor(() => !b.provider.awareness.getStates().has(a.doc.clientID), 'b saw a leave');
  assert.equal(a.provider.status, 'disconnected');
  assert.ok(
    !a.provider.awareness.getStates().has(b.doc.clientID),
    'others dropped when the read link closed',
  );
  a.text.insert(0, 'offline words');
  let flushed = false;
  const flushing = a.provider.flush().then(() => (flushed = true));
  await new Promise((r) => setTimeout(r, 30));
  assert.equal(flushed, false);
  a.provider.connect();
  await flushing;
  await waitFor(() => b.text.toString() === 'offline words', 'b got the offline edit');
  await waitFor(
    () => b.provider.awareness.getStates().get(a.doc.clientID)?.user?.name === 'Alice',
    'a is back',
  );
  assert.deepEqual(statuses.slice(0, 1), ['disconnected']);
  assert.equal(statuses.at(-1), 'connected');
});

test('NACK too_large makes the client split the op further', async () => {
  const docId = newDocId();
  const a = connect(docId);
  await connected(a.provider);
  fakes.maxMessageBytes = 3000; // ingest now refuses what HELLO still allowed
  const big = 'x'.repeat(20000);
  a.text.insert(0, big);
  await a.provider.flush();
  assert.ok(
    fakes.received.some((m) => m.size > 3000),
    'a large op was tried first',
  );
  assert.ok(
    fakes.backend.doc(docId).ydoc.getText('t').toString() === big,
    'server has the whole paste',
  );
  assert.ok(fakes.received.filter((m) => m.type === 'update').at(-1).size <= 3000);
  assert.deepEqual(a.errors, []);
});

test('backoff grows exponentially with jitter and is capped', async () => {
  const { backoffDelay } = await import('../dist/index.js');
  const opts = { initialDelayMs: 100, maxDelayMs: 1000, factor: 2 };
  assert.equal(
    backoffDelay(0, opts, () => 0),
    50,
  );
  assert.equal(
    backoffDelay(0, opts, () => 0.999999),
    100,
  );
  assert.equal(
    backoffDelay(3, opts, () => 0.999999),
    800,
  );
  assert.equal(
    backoffDelay(10, opts, () => 0.999999),
    1000,
  );
  assert.equal(
    backoffDelay(10, opts, () => 0),
    500,
  );
});

test('server ERRORs are reported; the client reconnects (read: resuming with since)', async () => {
  const docId = newDocId();
  const a = connect(docId);
  const b = connect(docId);
  await connected(a.provider);
  await connected(b.provider);
  b.text.insert(0, 'v1');
  await b.provider.flush();
  await waitFor(() => a.provider.version === 1, 'a at version 1');
  const readsBefore = fakes.readUrls.length;
  for (const r of fakes.readConnections) {
    r.send(wire.error('slow_consumer', 'too slow'));
    r.ws.close();
  }
  for (const c of fakes.writeConnections) {
    c.ws.send(wire.error('shutting_down', 'draining'));
    c.ws.close();
  }
  await waitFor(
    () => a.errors.some((e) => e.code === 'slow_consumer' && e.source === 'read'),
    'read error reported',
  );
  await waitFor(
    () => a.errors.some((e) => e.code === 'shutting_down' && e.source === 'write'),
    'write error reported',
  );
  await waitFor(() => fakes.readUrls.length > readsBefore, 'read reconnected');
  assert.equal(new URL(fakes.readUrls[readsBefore]).searchParams.get('since'), '1');
  await connected(a.provider);
  a.text.insert(2, ' v2');
  await a.provider.flush();
  await waitFor(() => b.text.toString() === 'v1 v2', 'working again');
});

test('destroying the Y.Doc destroys its provider; the unsent batch stays in the store', async () => {
  const docId = newDocId();
  const store = new MemoryOpStore();
  const a = connect(docId, {
    store,
    batch: { pauseMs: 10_000, maxDelayMs: 10_000, maxChars: 10_000 },
  });
  await connected(a.provider);
  a.text.insert(0, 'last words');
  a.doc.destroy();
  await waitFor(() => a.provider.status === 'disconnected', 'provider closed');
  await a.provider.destroy(); // idempotent; waits for the store
  const stored = await store.loadOps(docId);
  assert.equal(stored.length, 1);
  await assert.rejects(a.provider.flush(), /destroyed/);
});

test('subscribing: the STATE, its items, then SYNCED fires `synced`', async () => {
  const docId = newDocId();
  const a = connect(docId);
  await connected(a.provider);
  a.text.insert(0, 'hello');
  await a.provider.flush();
  fakes.backend.publishItem(docId, {
    item_id: 'color',
    policy: 'manual',
    version: 2,
    revision: 1,
    vector_clock: { 7: 1 },
    conflict: false,
    value_base64: Buffer.from('red').toString('base64'),
    timestamp_ms: 1716035760000,
    client_id: 7,
    siblings: [],
  });
  await waitFor(() => a.provider.version === 2, 'a at version 2');

  const b = connect(docId, { connect: false });
  const seen = [];
  b.provider.on('item', (e) => seen.push(`item ${e.itemId}`));
  b.provider.on('synced', (e) => {
    seen.push(`synced ${e.version} ${b.text.toString()} ${b.provider.getItem('color')?.itemId}`);
  });
  b.provider.connect();
  await waitFor(() => b.provider.synced, 'b synced');
  assert.deepEqual(seen, ['item color', 'synced 2 hello color']);
  assert.equal(b.provider.version, 2, 'the state items do not advance the version');
  assert.deepEqual(b.errors, []);
});

test('SYNCED ahead of the versions applied is a gap: the reader resumes', async () => {
  const docId = newDocId();
  const a = connect(docId);
  await connected(a.provider);
  a.text.insert(0, 'x');
  await a.provider.flush();
  await waitFor(() => a.provider.version === 1, 'a at version 1');
  const readsBefore = fakes.readUrls.length;
  fakes.sendToReaders(docId, wire.synced(5));
  await waitFor(() => a.errors.some((e) => e.code === 'gap'), 'gap reported');
  await waitFor(() => fakes.readUrls.length > readsBefore, 'read reconnect');
  assert.equal(new URL(fakes.readUrls.at(-1)).searchParams.get('since'), '1');
  await connected(a.provider);
});

test('a broadcaster that never sends SYNCED: synced after the fallback delay', async () => {
  fakes.sendSynced = false;
  const docId = newDocId();
  const a = connect(docId, { syncedFallbackMs: 30 });
  await connected(a.provider); // `synced` came from the fallback timer
  a.text.insert(0, 'still works');
  await a.provider.flush();
  await waitFor(() => a.provider.version === 1, 'merged op applied');
});
