// Randomised fault injection (seeded, bounded): three providers edit one
// document while connections drop, acks are held or lost, versions go
// missing and clients go offline. At the end every op is acked, the server
// applied each op id once, and every replica equals the server's document.
// Replay a failure with CLIENT_CHAOS_SEED=<seed>.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import * as prng from 'lib0/prng';
import WebSocket from 'ws';
import * as Y from 'yjs';

import { CollabProvider } from '../dist/index.js';
import { startFakes, waitFor } from './fakes.mjs';

const seed = Number(process.env.CLIENT_CHAOS_SEED ?? Date.now() % 1_000_000);

test(`three providers converge through faults (seed ${seed})`, async () => {
  const gen = prng.create(seed);
  const fakes = await startFakes();
  const docId = `chaos-${seed}`;
  const clients = [];
  const acked = new Set();
  try {
    for (let i = 0; i < 3; i++) {
      const doc = new Y.Doc();
      const provider = new CollabProvider(doc, docId, {
        writeUrl: fakes.writeUrl,
        readUrl: fakes.readUrl,
        token: 'token-alice',
        WebSocket,
        batch: { pauseMs: 3, maxDelayMs: 20, maxChars: 8 },
        reconnect: { initialDelayMs: 5, maxDelayMs: 40 },
      });
      provider.on('acked', (e) => acked.add(e.opId));
      clients.push({ doc, provider, online: true });
    }
    for (let step = 0; step < 150; step++) {
      const c = prng.oneOf(gen, clients);
      const text = c.doc.getText('t');
      const roll = prng.int32(gen, 0, 99);
      if (roll < 45) {
        text.insert(prng.int32(gen, 0, text.length), prng.word(gen, 1, 6));
      } else if (roll < 60 && text.length > 0) {
        const at = prng.int32(gen, 0, text.length - 1);
        text.delete(at, Math.min(text.length - at, prng.int32(gen, 1, 4)));
      } else if (roll < 68) {
        c.doc.getMap('m').set(prng.word(gen, 1, 2), prng.int32(gen, 0, 100));
      } else if (roll < 73) {
        if (c.online) c.provider.disconnect();
        else c.provider.connect();
        c.online = !c.online;
      } else if (roll < 77) {
        fakes.dropWriters();
      } else if (roll < 80) {
        fakes.dropReaders();
      } else if (roll < 84) {
        fakes.skipVersions.add(fakes.backend.doc(docId).version + prng.int32(gen, 1, 3));
      } else if (roll < 90) {
        fakes.decide = prng.bool(gen) ? () => 'hold' : () => 'ack';
      } else if (roll < 94) {
        fakes.releaseHeld();
      } else {
        const nacked = new Set();
        fakes.decide = (m) => {
          if (nacked.has(m.opId)) return 'ack';
          nacked.add(m.opId);
          return { code: 'unavailable', message: 'kafka slow', retryAfterMs: 10 };
        };
      }
      await new Promise((resolve) => setTimeout(resolve, prng.int32(gen, 0, 8)));
    }
    fakes.decide = () => 'ack';
    fakes.releaseHeld();
    fakes.skipVersions.clear();
    for (const c of clients) if (!c.online) c.provider.connect();
    await Promise.all(clients.map((c) => c.provider.flush()));
    const server = fakes.backend.doc(docId).ydoc;
    const expected = server.getText('t').toString();
    await waitFor(
      () => clients.every((c) => c.doc.getText('t').toString() === expected),
      `replicas converge on ${JSON.stringify(expected)}: ${clients.map((c) => JSON.stringify(c.doc.getText('t').toString())).join(' ')}`,
      10000,
    );
    for (const c of clients) {
      assert.deepEqual(c.doc.getMap('m').toJSON(), server.getMap('m').toJSON());
      assert.equal(c.provider.pendingCount, 0);
      // Every local change reached the server: its state has all of ours.
      const local = Y.decodeStateVector(Y.encodeStateVector(c.doc));
      const remote = Y.decodeStateVector(Y.encodeStateVector(server));
      for (const [client, clock] of local) assert.ok((remote.get(client) ?? 0) >= clock);
    }
    const opIds = fakes.received.filter((m) => m.type === 'update').map((m) => m.opId);
    for (const id of new Set(opIds)) assert.ok(acked.has(id), `op ${id} acked`);
    assert.equal(fakes.backend.doc(docId).opIds.size, new Set(opIds).size);
  } finally {
    for (const c of clients) await c.provider.destroy();
    await fakes.close();
  }
});
