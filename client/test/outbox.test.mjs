// The outbox on its own (no network): order of sends, acks, NACK retry
// pauses, resend after a reconnect with the same op ids, and the store.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import * as Y from 'yjs';

import { MemoryOpStore } from '../dist/index.js';
import { Outbox } from '../dist/outbox.js';
import { ManualTimers, decodeClientFrame } from './fakes.mjs';

function setup() {
  const timers = new ManualTimers();
  const store = new MemoryOpStore();
  const sent = [];
  const events = { acked: [], dropped: [], storage: [] };
  let open = true;
  const outbox = new Outbox(
    store,
    'doc',
    timers,
    (frame) => {
      if (!open) return false;
      sent.push(decodeClientFrame(frame));
      return true;
    },
    {
      acked: (op) => events.acked.push(op.opId),
      dropped: (op, code) => events.dropped.push([op.opId, code]),
      storageError: (err) => events.storage.push(err),
    },
  );
  return { timers, store, sent, events, outbox, setOpen: (v) => (open = v) };
}

function update(text) {
  const doc = new Y.Doc();
  doc.getText('t').insert(0, text);
  return Y.encodeStateAsUpdate(doc);
}

test('ops queue offline, go out in order on connect, and leave on ack', async () => {
  const { outbox, sent, events, store } = setup();
  await outbox.load();
  outbox.addUpdate(update('a'), 1);
  outbox.addUpdate(update('b'), 1);
  outbox.addItem('item_write', 7, 'k', new Uint8Array([1]), [[7, 1]]);
  assert.equal(sent.length, 0);
  outbox.connected(1 << 20, 0);
  assert.deepEqual(
    sent.map((m) => m.type),
    ['update', 'update', 'item_write'],
  );
  const ids = sent.map((m) => m.opId);
  let empty = false;
  const whenEmpty = outbox.whenEmpty().then(() => (empty = true));
  outbox.ack(ids[1], 0, 5);
  outbox.ack('unknown', 0, 6);
  outbox.ack(ids[0], 0, 4);
  await Promise.resolve();
  assert.equal(empty, false);
  outbox.ack(ids[2], 0, 7);
  await whenEmpty;
  assert.deepEqual(events.acked, [ids[1], ids[0], ids[2]]);
  await outbox.close();
  assert.deepEqual(await store.loadOps('doc'), []);
});

test('a NACK with retry pauses the queue and resends the same op id; a reconnect resends the rest in order', async () => {
  const { outbox, sent, events, timers, setOpen, store } = setup();
  await outbox.load();
  outbox.connected(1 << 20, 0);
  for (const t of ['a', 'b', 'c']) outbox.addUpdate(update(t), 1);
  const ids = sent.map((m) => m.opId);
  outbox.nack(ids[1], 'unavailable', 'kafka down', 100);
  outbox.addUpdate(update('d'), 1); // paused: not sent yet
  assert.equal(sent.length, 3);
  timers.advance(99);
  assert.equal(sent.length, 3);
  timers.advance(1);
  assert.equal(sent.length, 5);
  assert.equal(sent[3].opId, ids[1], 'the nacked op again, same id');
  const dId = sent[4].opId;
  assert.ok(!ids.includes(dId));
  outbox.ack(ids[0], 0, 1);
  setOpen(false);
  outbox.disconnected();
  setOpen(true);
  outbox.connected(1 << 20, 0);
  assert.deepEqual(
    sent.slice(5).map((m) => m.opId),
    [ids[1], ids[2], dId],
    'creation order',
  );
  outbox.nack(ids[2], 'invalid_update', 'bad', 0);
  assert.deepEqual(events.dropped, [[ids[2], 'invalid_update']]);
  await outbox.close();
  assert.deepEqual(
    (await store.loadOps('doc')).map((o) => o.opId),
    [ids[1], dId],
  );
});

test('the rate limit spaces sends; too_large splits updates and drops items', async () => {
  const { outbox, sent, events, timers } = setup();
  await outbox.load();
  outbox.connected(1 << 20, 2);
  for (let i = 0; i < 5; i++)
    outbox.addItem('item_write', 7, `k${i}`, new Uint8Array([i]), [[7, i + 1]]);
  assert.equal(sent.length, 2);
  timers.advance(1000);
  assert.equal(sent.length, 4);
  timers.advance(1000);
  assert.equal(sent.length, 5);

  const big = update('y'.repeat(6000));
  outbox.connected(1 << 20, 0);
  outbox.addUpdate(big, 1);
  const bigId = sent.at(-1).opId;
  const before = sent.length;
  outbox.nack(bigId, 'too_large', 'too large', 0);
  const pieces = sent.slice(before);
  assert.ok(pieces.length >= 2);
  const doc = new Y.Doc();
  for (const p of pieces) Y.applyUpdate(doc, p.update);
  assert.equal(doc.getText('t').toString(), 'y'.repeat(6000));
  outbox.nack(sent[0].opId, 'too_large', 'too large', 0);
  assert.deepEqual(events.dropped.at(-1), [sent[0].opId, 'too_large']);
  await outbox.close();
  await assert.rejects(outbox.whenEmpty(), /closed/);
});
