// One load run against one system, in its own process: CLIENTS clients on
// DOCS documents (CLIENTS / DOCS each) send RATE ops/s in total for SECONDS
// after WARMUP seconds. bench.mjs uses it for the v1 row (collab: our own
// two-socket protocol, which no stock provider speaks); the stock providers'
// rows are providers.mjs'. Every system gets the same lean clients speaking its
// own wire protocol with `ws` (collab: docs/protocol.md, UPDATE to ingest and
// MERGED from the broadcaster; y-websocket: y-protocols sync messages;
// Hocuspocus: its provider protocol, document name + auth + sync), so the
// generator's cost is equal across systems and small: an op is one real Yjs
// update (made by the sender's own Y.Doc) that inserts the marker
// "@<sender>:<send time>;" into the text; a receiver finds the markers in the
// raw frame instead of applying it to a Y.Doc. Latency = send time to
// receipt, one process and one clock. Prints one JSON object, including the
// generator's own event-loop delay (a saturated generator shows there).
//
//   node load.mjs collab|y-websocket|hocuspocus SETUP_JSON
//
// SETUP_JSON: {url | writeUrl+readUrl+token, docs: [ids], clients, rate,
// seconds, warmup}.

import fs from 'node:fs';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';

import * as decoding from 'lib0/decoding';
import * as encoding from 'lib0/encoding';
import WebSocket from 'ws';
import * as Y from 'yjs';

const [system, setupFile] = process.argv.slice(2);
const setup = JSON.parse(fs.readFileSync(setupFile, 'utf8'));
const { docs, clients: clientCount, rate, seconds, warmup } = setup;
const MARKER = /@(\d+):(\d+\.\d+);/g;

function frame(write) {
  const e = encoding.createEncoder();
  write(e);
  return encoding.toUint8Array(e);
}

/**
 * Opens a socket whose messages go to `onMessage` from the very first one
 * (a server may send right after the upgrade, in the same read). Resolves
 * with {ws, first}: `first(accept)` resolves at the first message, past or
 * future, that `accept` takes.
 */
function openSocket(client, url, onMessage = () => {}) {
  const early = [];
  const waiters = [];
  const ws = new WebSocket(url, { perMessageDeflate: false });
  ws.binaryType = 'nodebuffer';
  client.sockets.push(ws);
  ws.on('message', (data) => {
    const bytes = new Uint8Array(data);
    if (early.length < 16) early.push(bytes);
    for (const w of [...waiters]) {
      if (w.accept(bytes)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
    }
    onMessage(bytes);
  });
  let closed = false;
  ws.on('close', () => {
    closed = true;
    for (const w of waiters.splice(0))
      w.reject(new Error(`${url.split('?')[0]}: closed while connecting`));
  });
  const first = (accept) =>
    early.some(accept)
      ? Promise.resolve()
      : closed
        ? Promise.reject(new Error(`${url.split('?')[0]}: closed`))
        : new Promise((resolve, reject) => waiters.push({ accept, resolve, reject }));
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve({ ws, first }));
    ws.once('error', reject);
    ws.on('error', () => {}); // later errors end in 'close', handled above
  });
}

/**
 * Per system: connect(client) opens its sockets, hands every frame that may
 * carry others' updates to client.receive(bytes), and resolves with
 * send(update) once the client holds the server's state.
 */
const systems = {
  async collab(client) {
    const q = `access_token=${encodeURIComponent(setup.token)}`;
    const path = `/v1/documents/${client.docId}`;
    const writer = await openSocket(client, `${setup.writeUrl}${path}/write?${q}`);
    const reader = await openSocket(client, `${setup.readUrl}${path}/read?${q}`, (m) => {
      if (m[0] === 49) client.receive(m); // MERGED
    });
    await Promise.all([
      writer.first((m) => m[0] === 32),
      reader.first((m) => m[0] === 52 || m[0] === 48),
    ]); // HELLO; SYNCED, or the STATE from a broadcaster that does not send SYNCED
    let seq = 0;
    return (update) =>
      writer.ws.send(
        frame((e) => {
          encoding.writeVarUint(e, 16); // UPDATE
          encoding.writeVarString(e, `${client.id}-${++seq}`);
          encoding.writeVarUint(e, client.ydoc.clientID);
          encoding.writeVarUint(e, Date.now());
          encoding.writeVarUint8Array(e, update);
        }),
      );
  },

  async 'y-websocket'(client) {
    const { ws, first } = await openSocket(client, `${setup.url}/${client.docId}`, (m) => {
      if (m[0] === 0 && m[1] === 2) client.receive(m); // sync update
    });
    await first((m) => m[0] === 0 && m[1] === 0); // the server's sync step 1
    return (update) =>
      ws.send(
        frame((e) => {
          encoding.writeVarUint(e, 0); // messageSync
          encoding.writeVarUint(e, 2); // update
          encoding.writeVarUint8Array(e, update);
        }),
      );
  },

  async hocuspocus(client) {
    const name = client.docId;
    const at = frame((e) => encoding.writeVarString(e, name)).length; // after the name
    const isSync = (m, kind) => (m[at] === 0 || m[at] === 4) && m[at + 1] === kind; // Sync, SyncReply
    const { ws, first } = await openSocket(client, setup.url, (m) => {
      if (isSync(m, 2)) client.receive(m); // update
    });
    const authenticated = first((m) => m[at] === 2 && m[at + 1] === 2);
    ws.send(
      frame((e) => {
        encoding.writeVarString(e, name);
        encoding.writeVarUint(e, 2); // Auth
        encoding.writeVarUint(e, 0); // Token
        encoding.writeVarString(e, 'bench');
      }),
    );
    await authenticated;
    const synced = first((m) => isSync(m, 1)); // the server's sync step 2
    ws.send(
      frame((e) => {
        encoding.writeVarString(e, name);
        encoding.writeVarUint(e, 0); // Sync
        encoding.writeVarUint(e, 0); // step 1
        encoding.writeVarUint8Array(e, Y.encodeStateVector(client.ydoc));
      }),
    );
    await synced;
    return (update) =>
      ws.send(
        frame((e) => {
          encoding.writeVarString(e, name);
          encoding.writeVarUint(e, 0); // Sync
          encoding.writeVarUint(e, 2); // update
          encoding.writeVarUint8Array(e, update);
        }),
      );
  },
};

function percentile(sorted, p) {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

const connect = systems[system];

/**
 * A refused or dropped connection attempt (a server restarting, MongoDB
 * briefly away on the shared stack) is retried for up to 30 s.
 */
async function connectWithRetry(client) {
  const deadline = performance.now() + 30_000;
  for (;;) {
    client.sockets = [];
    try {
      return await connect(client);
    } catch (err) {
      for (const ws of client.sockets) ws.terminate();
      if (performance.now() > deadline) throw err;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
}
if (!connect) throw new Error(`unknown system ${system}`);
const latencies = [];
let receipts = 0;
let measuring = false;
let measureFrom = Infinity;
const perDoc = Math.floor(clientCount / docs.length);
const clients = [];
for (let c = 0; c < perDoc * docs.length; c++) {
  const client = { id: c, docId: docs[c % docs.length], ydoc: new Y.Doc() };
  client.receive = (bytes) => {
    const now = performance.now();
    for (const [, sender, sentAt] of Buffer.from(bytes).toString('latin1').matchAll(MARKER)) {
      const t = Number(sentAt);
      if (Number(sender) !== client.id && t >= measureFrom) {
        receipts++;
        latencies.push(now - t);
      }
    }
  };
  client.send = await connectWithRetry(client);
  clients.push(client);
}

// How late node's 1 ms loop-delay timer fired (its histogram holds the
// whole interval, so the resolution is taken off), as provider-worker.mjs.
const loopDelay = monitorEventLoopDelay({ resolution: 1 });
const cpu0 = process.cpuUsage();
const start = performance.now();
const sendEnd = start + (warmup + seconds) * 1000;
let sent = 0;
let measuredOps = 0;
await new Promise((resolve) => {
  const tick = () => {
    const now = performance.now();
    if (!measuring && now >= start + warmup * 1000) {
      measuring = true;
      measureFrom = now;
      loopDelay.enable();
    }
    const due = Math.floor((Math.min(now, sendEnd) - start) * (rate / 1000));
    for (; sent < due; sent++) {
      const client = clients[sent % clients.length];
      const text = client.ydoc.getText('t');
      let update;
      const capture = (u) => (update = u);
      client.ydoc.once('update', capture);
      text.insert(0, `@${client.id}:${performance.now().toFixed(3)};`);
      client.send(update);
      if (measuring) measuredOps++;
    }
    if (now >= sendEnd) resolve();
    else setTimeout(tick, 1);
  };
  tick();
});
loopDelay.disable();
const expected = measuredOps * (perDoc - 1);
// Let the last ops arrive: until every receipt is in, at most 10 s.
const drainDeadline = performance.now() + 10_000;
while (receipts < expected && performance.now() < drainDeadline) {
  await new Promise((resolve) => setTimeout(resolve, 20));
}
const cpu = process.cpuUsage(cpu0);
const sorted = latencies.sort((a, b) => a - b);
console.log(
  JSON.stringify({
    system,
    clients: clients.length,
    docs: docs.length,
    targetRate: rate,
    seconds,
    measuredOps,
    expectedReceipts: expected,
    receipts,
    deliveredPerSecond: receipts / seconds,
    p50: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99),
    max: sorted.at(-1) ?? null,
    generatorCpuSeconds: (cpu.user + cpu.system) / 1e6,
    generatorLoopDelayP99Ms: Math.max(0, loopDelay.percentile(99) / 1e6 - 1),
  }),
);
for (const client of clients) for (const ws of client.sockets) ws.terminate();
process.exit(0);
