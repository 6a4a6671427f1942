// The write path: ACK only after Kafka has the record (read back with a
// read_committed consumer), per-document order on one partition, NACKs and
// ERRORs for every bad input with nothing of it in Kafka, awareness through
// Redis, connection limits, and a clean drain on SIGTERM.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createClient } from 'redis';
import * as Y from 'yjs';
import {
  admin, awarenessFrame, connect, createUser, itemFrame, login, metricsText, readTopic,
  REDIS_URL, sample, startIngest, T, uniqueName, updateFrame, waitFor, Writer,
} from './lib.mjs';

function yjsUpdates(count, clientID) {
  const doc = new Y.Doc();
  doc.clientID = clientID;
  const updates = [];
  doc.on('update', (u) => updates.push(Buffer.from(u)));
  for (let i = 0; i < count; i++) doc.getText('t').insert(i, String.fromCharCode(97 + (i % 26)));
  return updates;
}

describe('ingest write path', () => {
  const db = uniqueName('itest_ingest_write').replace(/-/g, '_');
  const topic = uniqueName('itest.ingest.write');
  let svc;
  let editorToken, viewerToken;
  const docs = [uniqueName('wdoc'), uniqueName('wdoc'), uniqueName('wdoc')];
  const acked = new Map(); // op id -> ACK
  const refusedOpIds = new Set();

  before(async () => {
    svc = await startIngest({ db, topic, extraArgs: ['--max-connections', '40', '--max-ops-per-second', '200'] });
    createUser(db, 'ed', 'ed-password');
    createUser(db, 'vi', 'vi-password');
    for (const d of docs) {
      admin(db, ['doc-create', '--doc', d, '--owner', 'ed']);
      admin(db, ['grant', '--doc', d, '--username', 'vi', '--role', 'viewer']);
    }
    editorToken = await login(svc, 'ed', 'ed-password');
    viewerToken = await login(svc, 'vi', 'vi-password');
  });

  after(async () => {
    if (svc) {
      const r = await svc.stop();
      assert.equal(r.code, 0, `ingest exit: ${JSON.stringify(r)}\n${svc.log()}`);
    }
  });

  it('acks each op only once Kafka holds it, in order per document on one partition', async () => {
    const conns = await Promise.all(docs.map((d) => connect(svc, d, editorToken)));
    const sent = new Map(); // doc -> op ids in send order
    for (const [i, c] of conns.entries()) {
      await c.waitMessage((m) => m.type === 'HELLO');
      const updates = yjsUpdates(30, 1000 + i);
      sent.set(docs[i], []);
      for (const [k, u] of updates.entries()) {
        const opId = `${docs[i]}-op-${k}`;
        sent.get(docs[i]).push(opId);
        c.send(updateFrame(opId, 1000 + i, u));
      }
    }
    for (const [i, c] of conns.entries()) {
      for (const opId of sent.get(docs[i])) {
        const a = await c.answerFor(opId);
        assert.equal(a.type, 'ACK', `${opId}: ${JSON.stringify(a)}`);
        acked.set(opId, a);
      }
      // ACKs of one document arrive in send order.
      const order = c.messages.filter((m) => m.type === 'ACK').map((m) => m.opId);
      assert.deepEqual(order, sent.get(docs[i]));
      c.close();
    }

    const total = [...sent.values()].reduce((n, l) => n + l.length, 0);
    const records = await readTopic(topic, (r) => r.length >= total);
    const byOp = new Map(records.map((r) => [r.opId, r]));
    for (const [opId, ack] of acked) {
      const rec = byOp.get(opId);
      assert.ok(rec, `acked op ${opId} is not in Kafka`);
      assert.equal(rec.partition, ack.partition, opId);
      assert.equal(rec.offset, ack.offset, opId);
    }
    for (const d of docs) {
      const mine = records.filter((r) => r.docId === d);
      assert.equal(new Set(mine.map((r) => r.partition)).size, 1, `${d} spans partitions`);
      assert.ok(mine.every((r) => r.key === d));
      const inOffsetOrder = [...mine].sort((a, b) => a.offset - b.offset).map((r) => r.opId);
      assert.deepEqual(inOffsetOrder, sent.get(d));
    }
  });

  it('answers bad input with NACK or ERROR and lets none of it reach Kafka', async () => {
    const doc = docs[0];
    // A viewer's write.
    const viewer = await connect(svc, doc, viewerToken);
    viewer.send(updateFrame('viewer-op', 7, yjsUpdates(1, 7)[0]));
    const f = await viewer.answerFor('viewer-op');
    assert.equal(f.type, 'NACK');
    assert.equal(f.code, 'forbidden');
    assert.equal(f.retryAfterMs, 0);
    refusedOpIds.add('viewer-op');
    viewer.close();

    const c = await connect(svc, doc, editorToken);
    await c.waitMessage((m) => m.type === 'HELLO');
    // A Yjs update the engine rejects (a struct with an unknown content ref).
    c.send(updateFrame('bad-update', 8, Buffer.from([1, 1, 8, 0, 31, 0])));
    const u = await c.answerFor('bad-update');
    assert.equal(u.code, 'invalid_update');
    refusedOpIds.add('bad-update');
    // Oversized (1 MiB + 1).
    c.send(updateFrame('too-big', 8, Buffer.alloc(1024 * 1024 + 1, 1)));
    const big = await c.answerFor('too-big');
    assert.equal(big.code, 'too_large');
    refusedOpIds.add('too-big');
    // Item clocks: unsorted, zero counter, empty; bad item id.
    const items = [
      ['item-unsorted', 'k', [[5, 1], [3, 1]]],
      ['item-zero', 'k', [[3, 0]]],
      ['item-empty', 'k', []],
      ['item-ctl', 'bad\u0001id', [[3, 1]]],
    ];
    for (const [opId, itemId, clock] of items) {
      c.send(itemFrame(T.ITEM_WRITE, opId, 3, itemId, 'v', clock));
      const a = await c.answerFor(opId);
      assert.equal(a.code, 'invalid_item', opId);
      refusedOpIds.add(opId);
    }
    // A valid item write is acked.
    c.send(itemFrame(T.ITEM_WRITE, 'item-ok', 3, 'title', '"hello"', [[3, 1]]));
    assert.equal((await c.answerFor('item-ok')).type, 'ACK');
    c.close();

    // Malformed frames: each closes its connection with ERROR bad_frame.
    const malformed = [
      Buffer.from([99]), // unknown type
      new Writer().uint(T.UPDATE).str('trunc').uint(1).done(), // truncated
      Buffer.concat([updateFrame('trailing', 1, yjsUpdates(1, 9)[0]), Buffer.from([0])]),
      new Writer().uint(T.UPDATE).str('').uint(1).uint(1).buf(Buffer.from([0, 0])).done(), // empty op id
    ];
    refusedOpIds.add('trailing');
    for (const frame of malformed) {
      const m = await connect(svc, doc, editorToken);
      m.send(frame);
      const e = await m.waitMessage((x) => x.type === 'ERROR', 15000, 'ERROR');
      assert.equal(e.code, 'bad_frame');
      await m.waitClosed();
    }
    const textConn = await connect(svc, doc, editorToken);
    textConn.ws.send('hello');
    assert.equal((await textConn.waitMessage((x) => x.type === 'ERROR')).code, 'bad_frame');
    await textConn.waitClosed();

    const records = await readTopic(topic, (r) => r.some((x) => x.opId === 'item-ok'));
    assert.ok(records.some((r) => r.opId === 'item-ok'));
    for (const r of records) assert.ok(!refusedOpIds.has(r.opId), `${r.opId} reached Kafka`);

    const text = await metricsText(svc);
    assert.ok(sample(text, 'ingest_nacks_total', 'reason="invalid_item"') >= 4);
    assert.ok(sample(text, 'ingest_errors_total', 'code="bad_frame"') >= 5);
  });

  it('tells where each acknowledged op spent its time (ingest_op_stage_seconds)', async () => {
    const stages = ['validate', 'kafka', 'handoff', 'write'];
    const count = (text, stage) => sample(text, 'ingest_op_stage_seconds_count', `stage="${stage}"`);
    const before = await metricsText(svc);
    const acksBefore = sample(before, 'ingest_acks_total');
    const c = await connect(svc, docs[2], editorToken);
    await c.waitMessage((m) => m.type === 'HELLO');
    const updates = yjsUpdates(12, 5150);
    for (const [k, u] of updates.entries()) c.send(updateFrame(`stage-${k}`, 5150, u));
    for (let k = 0; k < updates.length; k++) {
      assert.equal((await c.answerFor(`stage-${k}`)).type, 'ACK');
    }
    c.close();
    // Written ACKs are counted when the write returns, before the client reads them.
    const text = await metricsText(svc);
    const acks = sample(text, 'ingest_acks_total') - acksBefore;
    assert.equal(acks, updates.length);
    // Each answered op passes validate, kafka and handoff once; the write stage
    // is counted per emptied send queue, so at most once per answer.
    for (const stage of ['validate', 'kafka', 'handoff']) {
      assert.equal(count(text, stage) - count(before, stage), acks, stage);
    }
    const writes = count(text, 'write') - count(before, 'write');
    assert.ok(writes >= 1 && writes <= acks + 1, `write stage counted ${writes} times`);
    for (const stage of stages) {
      const sum = sample(text, 'ingest_op_stage_seconds_sum', `stage="${stage}"`);
      assert.ok(sum >= 0 && sum < 60, `${stage} sum ${sum}`);
    }
  });

  it('rate-limits ops per connection and asks to retry', async () => {
    const c = await connect(svc, docs[1], editorToken);
    const hello = await c.waitMessage((m) => m.type === 'HELLO');
    assert.equal(hello.maxOpsPerSecond, 200);
    // Far more than the bucket holds plus what it refills while they arrive.
    const burst = hello.maxOpsPerSecond * 3;
    const updates = yjsUpdates(1, 4242);
    for (let i = 0; i < burst; i++) c.send(updateFrame(`rl-${i}`, 4242, updates[0]));
    for (let i = 0; i < burst; i++) await c.answerFor(`rl-${i}`, 30000);
    c.close();
    const limited = c.messages.filter((m) => m.type === 'NACK' && m.code === 'rate_limited');
    const acks = c.messages.filter((m) => m.type === 'ACK');
    assert.ok(limited.length >= hello.maxOpsPerSecond / 2, `only ${limited.length} rate_limited`);
    assert.ok(acks.length >= hello.maxOpsPerSecond, `only ${acks.length} acked`);
    assert.equal(limited.length + acks.length, burst);
    assert.ok(limited.every((m) => m.retryAfterMs > 0));
  });

  it('publishes awareness to Redis and its removal when the connection closes', async () => {
    const doc = docs[2];
    const sub = createClient({ url: REDIS_URL });
    await sub.connect();
    const received = [];
    await sub.subscribe(`awareness:${doc}`, (msg) => received.push(msg), true);
    const reader = createClient({ url: REDIS_URL });
    await reader.connect();
    try {
      const c = await connect(svc, doc, editorToken);
      await c.waitMessage((m) => m.type === 'HELLO');
      c.send(awarenessFrame([{ id: 777, clock: 3, state: { user: { name: 'Ed' } } }]));
      await waitFor(() => received.length >= 1, 10000, 'awareness on Redis');
      const presence = await waitFor(async () => (await reader.hGet(`presence:${doc}`, '777')), 10000, 'presence');
      assert.deepEqual(JSON.parse(presence).state, { user: { name: 'Ed' } });
      // Closing publishes the removal (clock + 1, state null).
      c.close();
      await waitFor(() => received.length >= 2, 10000, 'removal on Redis');
      const removal = received[1];
      assert.equal(removal[0], 1);     // one client
      assert.equal(removal[1], 0x89);  // 777 = 0x309: varUint 0x89 0x06
      assert.equal(removal[2], 0x06);
      assert.equal(removal[3], 4);     // clock 3 + 1
      assert.equal(removal.subarray(5).toString(), 'null');
      await waitFor(async () => (await reader.hGet(`presence:${doc}`, '777')) === null, 10000, 'presence removal');
    } finally {
      await sub.quit();
      await reader.quit();
    }
  });

  it('refuses connections over max_connections with ERROR too_many_connections', async () => {
    await waitFor(async () => sample(await metricsText(svc), 'ingest_connections') === 0, 15000,
      'earlier connections to close');
    const conns = [];
    for (let i = 0; i < 40; i++) conns.push(await connect(svc, docs[0], editorToken));
    for (const c of conns) await c.waitMessage((m) => m.type === 'HELLO');
    const extra = await connect(svc, docs[0], editorToken);
    const e = await extra.waitMessage((m) => m.type === 'ERROR');
    assert.equal(e.code, 'too_many_connections');
    await extra.waitClosed();
    for (const c of conns) c.close();
    await Promise.all(conns.map((c) => c.waitClosed()));
  });

  it('drains on SIGTERM: every pending op answered, then ERROR shutting_down, exit 0', async () => {
    const c = await connect(svc, docs[1], editorToken);
    await c.waitMessage((m) => m.type === 'HELLO');
    const updates = yjsUpdates(1, 5151);
    const n = 100;
    for (let i = 0; i < n; i++) c.send(updateFrame(`drain-${i}`, 5151, updates[0]));
    await c.waitMessage((m) => m.type === 'ACK', 15000, 'a first ACK');
    const exit = svc.stop('SIGTERM');
    for (let i = 0; i < n; i++) {
      const a = await c.answerFor(`drain-${i}`, 20000);
      assert.ok(a.type === 'ACK' || (a.type === 'NACK' && a.code === 'unavailable'), JSON.stringify(a));
    }
    const e = await c.waitMessage((m) => m.type === 'ERROR', 20000, 'ERROR shutting_down');
    assert.equal(e.code, 'shutting_down');
    await c.waitClosed(20000);
    assert.equal((await exit).code, 0, svc.log());
  });
});
