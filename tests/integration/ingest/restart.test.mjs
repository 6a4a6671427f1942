// A Kafka broker restart in the middle of a stream of operations: while the
// broker is down ingest answers NACK unavailable (after its ack timeout) and
// stays up; the client resends those ops with the same op id, as a real
// client does; once the broker is back every op ends up acknowledged, and
// every acknowledged op is in Kafka where its ACK said. This is the only
// test that restarts the shared broker (ctest runs it RUN_SERIAL); the
// broker is restarted in a finally block whatever happens.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as Y from 'yjs';
import {
  admin, connect, createUser, login, metricsText, readTopic, sample, sleep, SOURCE, startIngest,
  uniqueName, updateFrame, waitFor,
} from './lib.mjs';

const KAFKA_SH = join(SOURCE, 'deploy/local/kafka.sh');

function kafka(action) {
  const r = spawnSync(KAFKA_SH, [action], { encoding: 'utf8', timeout: 180000 });
  if (r.status !== 0) throw new Error(`kafka.sh ${action} failed (${r.status}): ${r.stderr}${r.stdout}`);
}

describe('ingest across a Kafka broker restart', () => {
  const db = uniqueName('itest_ingest_restart').replace(/-/g, '_');
  const topic = uniqueName('itest.ingest.restart');
  const doc = uniqueName('rdoc');
  let svc;
  let token;

  before(async () => {
    svc = await startIngest({ db, topic, extraArgs: ['--ack-timeout', '3s', '--retry-after', '300ms'] });
    createUser(db, 'writer', 'writer-password');
    admin(db, ['doc-create', '--doc', doc, '--owner', 'writer']);
    token = await login(svc, 'writer', 'writer-password');
  });

  after(async () => {
    if (svc) {
      const r = await svc.stop();
      assert.equal(r.code, 0, `ingest exit: ${JSON.stringify(r)}\n${svc.log()}`);
    }
  });

  it('loses no acknowledged op and recovers by itself', { timeout: 420000 }, async () => {
    const total = 300;
    const ydoc = new Y.Doc();
    ydoc.clientID = 31337;
    const updates = [];
    ydoc.on('update', (u) => updates.push(Buffer.from(u)));
    for (let i = 0; i < total; i++) ydoc.getText('t').insert(i, 'x');

    let conn = await connect(svc, doc, token);
    await conn.waitMessage((m) => m.type === 'HELLO');
    const acks = new Map();
    let unavailable = 0;
    let next = 0;
    const inflight = new Set();
    const retryAt = new Map(); // op index -> time to resend
    let stopped = false;
    let restarted = false;
    let stoppedAt = 0;
    let seen = 0;

    const send = (i) => {
      conn.send(updateFrame(`op-${i}`, 31337, updates[i]));
      inflight.add(i);
    };
    const deadline = Date.now() + 360000;
    try {
      while (acks.size < total) {
        assert.ok(Date.now() < deadline, `only ${acks.size}/${total} acked before the deadline`);
        assert.equal(svc.exited(), null, 'ingest died');
        // Answers since the last round.
        for (; seen < conn.messages.length; seen++) {
          const m = conn.messages[seen];
          if (m.type !== 'ACK' && m.type !== 'NACK') continue;
          const i = Number(m.opId.slice(3));
          inflight.delete(i);
          if (m.type === 'ACK') {
            acks.set(m.opId, m);
          } else {
            assert.equal(m.code, 'unavailable', JSON.stringify(m));
            assert.ok(m.retryAfterMs > 0);
            unavailable++;
            retryAt.set(i, Date.now() + m.retryAfterMs);
          }
        }
        // Keep up to 20 ops in flight; resends first.
        for (const [i, t] of retryAt) {
          if (inflight.size >= 20 || t > Date.now()) continue;
          retryAt.delete(i);
          send(i);
        }
        while (inflight.size < 20 && next < total) send(next++);

        if (!stopped && acks.size >= 100) {
          kafka('stop');
          stopped = true;
          stoppedAt = Date.now();
        }
        if (stopped && !restarted && Date.now() - stoppedAt > 8000) {
          kafka('start');
          restarted = true;
        }
        await sleep(20);
      }
    } finally {
      if (stopped && !restarted) kafka('start');
      conn.close();
    }
    assert.ok(unavailable > 0, 'the outage produced no NACK unavailable');

    const text = await metricsText(svc);
    assert.ok(sample(text, 'ingest_nacks_total', 'reason="unavailable"') >= unavailable);

    // Every acknowledged op is in Kafka where its ACK said (resends may add
    // duplicates of unacknowledged attempts; the processor drops those by op id).
    const records = await readTopic(topic, (r) => {
      const have = new Set(r.map((x) => `${x.partition}/${x.offset}`));
      return [...acks.values()].every((a) => have.has(`${a.partition}/${a.offset}`));
    }, 60000);
    const at = new Map(records.map((r) => [`${r.partition}/${r.offset}`, r]));
    for (const [opId, a] of acks) {
      const r = at.get(`${a.partition}/${a.offset}`);
      assert.ok(r, `acked ${opId} missing at ${a.partition}/${a.offset}`);
      assert.equal(r.opId, opId);
    }
    assert.equal(new Set(records.map((r) => r.opId)).size, total);
  });
});
