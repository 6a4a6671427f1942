// One generator process of the provider benchmarks (providers.mjs forks
// several, each with its own share of the documents, so that 200 full
// providers do not share one event loop). Every client is a STOCK provider
// from npm on its own Y.Doc and its own socket: y-websocket's
// WebsocketProvider or @hocuspocus/provider's HocuspocusProvider (with its
// own HocuspocusProviderWebsocket), against whichever server the URL names
// (our broadcaster's edge or a peer). All times are wall-clock milliseconds
// (performance.timeOrigin + performance.now(): one clock for every process
// of the machine, microsecond resolution).
//
// Driven over IPC by the parent, one mode per process:
//   load:  {mode, kind, url, token, docs, perDoc, idBase} -> connects
//          perDoc clients to each document and waits for every sync ->
//          'ready'; {type: 'start', startAt, warmup, seconds, rate} -> from
//          startAt sends `rate` ops/s in total, round-robin over its clients:
//          an op is a real Y.Text insert of "@<sender>:<send time>;" at the
//          start of the sender's text, which its provider sends. A receiver
//          takes the update its provider applied (ydoc 'update' with the
//          provider as origin) and finds the markers in the update's bytes
//          (the text is there as UTF-8): latency = arrival - send time, for
//          ops sent after the warm-up. -> 'result'.
//   build: {mode, kind, url, token, doc, bytes, chunk, hold} -> one provider
//          fills the document's text with `bytes` of text in inserts of
//          `chunk`, then fresh providers sync until one sees the whole length
//          (for our edge: Kafka has all of it) -> 'ready'; the builder stays
//          connected (hold: the peers keep a document only while someone is
//          connected) until 'stop'.
//   join:  {mode, kind, url, token, doc, count, length} -> 'ready';
//          {type: 'start', startAt} -> at startAt opens `count` providers at
//          once and times each from `new Provider(...)` to its 'synced' (and
//          checks its text length) -> 'result'.
// 'stop' destroys the providers and exits.

import { monitorEventLoopDelay, performance } from 'node:perf_hooks';

import { HocuspocusProvider, HocuspocusProviderWebsocket } from '@hocuspocus/provider';
import WebSocket from 'ws';
import { WebsocketProvider } from 'y-websocket';
import * as Y from 'yjs';

const now = () => performance.timeOrigin + performance.now();
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const MARKER = /@(\d+):(\d+\.\d+);/g;
process.setMaxListeners(0); // every WebsocketProvider adds an 'exit' listener

/** The providers' WebSocket, without offering permessage-deflate (no server here takes it). */
class BenchSocket extends WebSocket {
  constructor(url, protocols) {
    super(url, protocols, { perMessageDeflate: false, maxPayload: 256 * 1024 * 1024 });
  }
}

/** Close codes the server sent, counted (a reconnect follows most of them). */
const closes = {};
const noteClose = (code) => (closes[code ?? 'none'] = (closes[code ?? 'none'] ?? 0) + 1);
let authFailures = 0;

/**
 * One client: a stock provider of `kind` on `ydoc`. Resolves nothing; the
 * returned object has `synced` (a promise), `provider` (the origin of its
 * remote updates), `unsynced()` and `destroy()`.
 */
function openProvider(kind, url, token, docId, ydoc) {
  let resolveSynced;
  const synced = new Promise((resolve) => (resolveSynced = resolve));
  if (kind === 'y-websocket') {
    const provider = new WebsocketProvider(url, docId, ydoc, {
      WebSocketPolyfill: BenchSocket,
      params: token ? { token } : {},
      disableBc: true,
    });
    provider.on('sync', (state) => state && resolveSynced());
    provider.on('connection-close', (event) => noteClose(event?.code));
    return { provider, synced, unsynced: () => 0, destroy: () => provider.destroy() };
  }
  const socket = new HocuspocusProviderWebsocket({ url, WebSocketPolyfill: BenchSocket });
  const provider = new HocuspocusProvider({
    websocketProvider: socket,
    name: docId,
    document: ydoc,
    token: token ?? 'bench',
  });
  provider.on('synced', () => resolveSynced());
  provider.on('authenticationFailed', () => authFailures++);
  socket.on('close', ({ event }) => noteClose(event?.code));
  provider.attach();
  return {
    provider,
    synced,
    unsynced: () => provider.unsyncedChanges,
    destroy: () => {
      provider.destroy();
      socket.destroy();
    },
  };
}

function withTimeout(promise, ms, what) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: not within ${ms / 1000} s`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/**
 * The event loop's delay: how late node's 1 ms loop-delay timer fired (its
 * histogram holds the whole interval, so the resolution is taken off).
 */
const LOOP_RESOLUTION_MS = 1;
const loopMonitor = () => monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS });
const late = (ns) => Math.max(0, ns / 1e6 - LOOP_RESOLUTION_MS);
const loopStats = (h) => ({
  loopDelayP99Ms: h.count ? late(h.percentile(99)) : null,
  loopDelayMaxMs: h.count ? late(h.max) : null,
});

// ---- load ----

let clients = [];
let clientsPerDoc = 0;

async function setupLoad({ kind, url, token, docs, perDoc, idBase }) {
  clientsPerDoc = perDoc;
  for (const docId of docs) {
    for (let k = 0; k < perDoc; k++) {
      const ydoc = new Y.Doc();
      const client = { id: idBase + clients.length, docId, ydoc, text: ydoc.getText('t') };
      client.conn = openProvider(kind, url, token, docId, ydoc);
      ydoc.on('update', (update, origin) => {
        if (origin === client.conn.provider) receive(client, update);
      });
      clients.push(client);
    }
  }
  await withTimeout(
    Promise.all(clients.map((c) => c.conn.synced)),
    60_000,
    `${clients.length} ${kind} providers synced`,
  );
  return { clients: clients.length };
}

let measureFrom = Infinity;
let latencies = new Float64Array(1 << 16);
let receipts = 0;

function receive(client, update) {
  const t = now();
  const text = Buffer.from(update.buffer, update.byteOffset, update.byteLength).toString('latin1');
  for (const [, sender, sentAt] of text.matchAll(MARKER)) {
    const at = Number(sentAt);
    if (Number(sender) === client.id || at < measureFrom) continue;
    if (receipts === latencies.length) {
      const grown = new Float64Array(latencies.length * 2);
      grown.set(latencies);
      latencies = grown;
    }
    latencies[receipts++] = t - at;
  }
}

async function runLoad({ startAt, warmup, seconds, rate }) {
  measureFrom = startAt + warmup * 1000;
  const sendEnd = measureFrom + seconds * 1000;
  const loop = loopMonitor();
  await sleep(Math.max(0, startAt - now()));
  const cpu0 = process.cpuUsage();
  let sent = 0;
  let measuredOps = 0;
  let measuring = false;
  await new Promise((resolve) => {
    const tick = () => {
      const t = now();
      if (!measuring && t >= measureFrom) {
        measuring = true;
        loop.enable();
      }
      const due = Math.floor((Math.min(t, sendEnd) - startAt) * (rate / 1000));
      for (; sent < due; sent++) {
        const client = clients[sent % clients.length];
        const at = now();
        client.text.insert(0, `@${client.id}:${at.toFixed(3)};`); // the provider sends it
        if (at >= measureFrom) measuredOps++;
      }
      if (t >= sendEnd) resolve();
      else setTimeout(tick, 1);
    };
    tick();
  });
  loop.disable();
  const expected = measuredOps * (clientsPerDoc - 1);
  const drainEnd = now() + 10_000; // the last ops: until all are in, at most 10 s
  while (receipts < expected && now() < drainEnd) await sleep(20);
  const cpu = process.cpuUsage(cpu0);
  return {
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
    measuredOps,
    expected,
    receipts,
    latencies: latencies.slice(0, receipts),
    ...loopStats(loop),
    unsynced: clients.reduce((n, c) => n + c.conn.unsynced(), 0),
    closes,
    authFailures,
  };
}

// ---- build (the join storm's document) ----

let builder = null;

async function syncedLength(kind, url, token, doc, timeoutMs) {
  const ydoc = new Y.Doc();
  const conn = openProvider(kind, url, token, doc, ydoc);
  try {
    await withTimeout(conn.synced, timeoutMs, `a fresh ${kind} provider synced`);
    return ydoc.getText('t').length;
  } finally {
    conn.destroy();
  }
}

async function build({ kind, url, token, doc, bytes, chunk, hold }) {
  const t0 = now();
  const ydoc = new Y.Doc();
  builder = openProvider(kind, url, token, doc, ydoc);
  await withTimeout(builder.synced, 60_000, 'the builder synced');
  const text = ydoc.getText('t');
  const letters = 'abcdefghijklmnopqrstuvwxyz0123456789 ';
  for (let at = 0; at < bytes; at += chunk) {
    const n = Math.min(chunk, bytes - at);
    let s = '';
    for (let i = 0; i < n; i++) s += letters[(Math.random() * letters.length) | 0];
    text.insert(text.length, s); // one update of n bytes of text
    // Let the socket take it before the next (and Hocuspocus' acks come back).
    while (builder.unsynced() > 4) await sleep(5);
    await sleep(2);
  }
  const built = now();
  // Durable (our edge: in Kafka, only what Kafka acknowledged is served) and
  // whole: a fresh provider's synced text has every byte.
  let length = -1;
  const deadline = now() + 120_000;
  while (now() < deadline) {
    length = await syncedLength(kind, url, token, doc, 60_000).catch(() => -1);
    if (length === bytes) break;
    await sleep(500);
  }
  if (length !== bytes) throw new Error(`${doc}: a fresh provider sees ${length} of ${bytes}`);
  if (!hold) {
    builder.destroy();
    builder = null;
  }
  return { length, buildMs: built - t0, checkMs: now() - built, updates: Math.ceil(bytes / chunk) };
}

// ---- join ----

let joinSetup = null;
let joiners = [];

async function join({ startAt }) {
  const { kind, url, token, doc, count, length } = joinSetup;
  await sleep(Math.max(0, startAt - now()));
  const cpu0 = process.cpuUsage();
  const loop = loopMonitor();
  loop.enable();
  const times = [];
  let wrongLength = 0;
  const pending = [];
  for (let i = 0; i < count; i++) {
    const ydoc = new Y.Doc();
    const t0 = now();
    const conn = openProvider(kind, url, token, doc, ydoc);
    joiners.push(conn);
    pending.push(
      conn.synced.then(() => {
        times.push(now() - t0);
        if (ydoc.getText('t').length !== length) wrongLength++;
      }),
    );
  }
  const opened = now() - startAt;
  await withTimeout(Promise.all(pending), 180_000, `${count} joiners synced`).catch(() => {});
  loop.disable();
  const cpu = process.cpuUsage(cpu0);
  return {
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
    times,
    count,
    failed: count - times.length,
    wrongLength,
    openMs: opened,
    ...loopStats(loop),
    closes,
    authFailures,
  };
}

// ---- IPC ----

let mode = null;
process.on('message', async (msg) => {
  try {
    if (msg.type === 'setup') {
      mode = msg.mode;
      let info = {};
      if (mode === 'load') info = await setupLoad(msg);
      else if (mode === 'build') info = await build(msg);
      else if (mode === 'join') joinSetup = msg;
      process.send({ type: 'ready', ...info });
    } else if (msg.type === 'start') {
      const result = mode === 'load' ? await runLoad(msg) : await join(msg);
      process.send({ type: 'result', ...result });
    } else if (msg.type === 'stop') {
      for (const c of clients) c.conn.destroy();
      for (const c of joiners) c.destroy();
      builder?.destroy();
      await sleep(100); // the closes on their way
      process.exit(0);
    }
  } catch (err) {
    process.send({ type: 'error', message: err.stack ?? String(err) });
  }
});
process.on('disconnect', () => process.exit(0)); // the parent is gone
