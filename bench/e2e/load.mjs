// One load run against one system, in its own process (each system's client
// library brings its own copy of yjs): CLIENTS clients on DOCS documents
// (CLIENTS / DOCS each) send RATE ops/s in total for SECONDS after WARMUP
// seconds. An op is one Yjs transaction: a character typed into the text and
// the send time stored under the sender's key of a map. Every other client of
// the document records, when the op's update is applied to its Y.Doc, the
// time since it was sent (one process, one monotonic clock). Prints one JSON
// object with the latency percentiles, receipts and the load generator's own
// event-loop delay (so a saturated generator shows).
//
//   node load.mjs collab|y-websocket|hocuspocus SETUP_JSON
//
// SETUP_JSON: {url | writeUrl+readUrl+token, docs: [ids], clients, rate,
// seconds, warmup}.

import fs from 'node:fs';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';

import WebSocket from 'ws';

const [system, setupFile] = process.argv.slice(2);
const setup = JSON.parse(fs.readFileSync(setupFile, 'utf8'));
const { docs, clients: clientCount, rate, seconds, warmup } = setup;

/** Opens one client of `docId`; resolves {doc, close} once it holds the server's state. */
async function connector() {
  if (system === 'collab') {
    const { CollabProvider } = await import('../../client/dist/index.js');
    const Y = await import('../../client/node_modules/yjs/dist/yjs.mjs');
    return {
      Y,
      open: async (docId) => {
        const doc = new Y.Doc();
        const provider = new CollabProvider(doc, docId, {
          writeUrl: setup.writeUrl,
          readUrl: setup.readUrl,
          token: setup.token,
          WebSocket,
          // Latency, not batching, is measured: every change is sent at once.
          batch: { pauseMs: 1, maxDelayMs: 1, maxChars: 1 },
        });
        await provider.whenSynced();
        return { doc, close: () => provider.destroy() };
      },
    };
  }
  const Y = await import('yjs');
  if (system === 'y-websocket') {
    const { WebsocketProvider } = await import('y-websocket');
    return {
      Y,
      open: async (docId) => {
        const doc = new Y.Doc();
        const provider = new WebsocketProvider(setup.url, docId, doc, {
          WebSocketPolyfill: WebSocket,
          disableBc: true,
        });
        await new Promise((resolve) => provider.once('sync', resolve));
        return { doc, close: () => provider.destroy() };
      },
    };
  }
  if (system === 'hocuspocus') {
    const { HocuspocusProvider, HocuspocusProviderWebsocket } =
      await import('@hocuspocus/provider');
    return {
      Y,
      open: async (docId) => {
        const doc = new Y.Doc();
        const socket = new HocuspocusProviderWebsocket({
          url: setup.url,
          WebSocketPolyfill: WebSocket,
        });
        const provider = new HocuspocusProvider({
          websocketProvider: socket,
          name: docId,
          document: doc,
        });
        provider.attach();
        await new Promise((resolve) => provider.on('synced', resolve));
        return {
          doc,
          close: () => {
            provider.destroy();
            socket.destroy();
          },
        };
      },
    };
  }
  throw new Error(`unknown system ${system}`);
}

function percentile(sorted, p) {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

const { open } = await connector();
const perDoc = Math.floor(clientCount / docs.length);
const clients = [];
for (let c = 0; c < perDoc * docs.length; c++) {
  const docId = docs[c % docs.length];
  clients.push({ id: c, docId, ...(await open(docId)) });
}

const latencies = [];
let receipts = 0;
let measuredOps = 0;
let measuring = false;
for (const client of clients) {
  const lat = client.doc.getMap('lat');
  lat.observe((event) => {
    if (event.transaction.local) return;
    const now = performance.now();
    for (const key of event.keysChanged) {
      const value = lat.get(key);
      if (value === undefined) continue;
      const [measured, sentAt] = value;
      if (measured) {
        receipts++;
        latencies.push(now - sentAt);
      }
    }
  });
}

const loopDelay = monitorEventLoopDelay({ resolution: 10 });
const start = performance.now();
const sendEnd = start + (warmup + seconds) * 1000;
let sent = 0;
await new Promise((resolve) => {
  const tick = () => {
    const now = performance.now();
    if (!measuring && now >= start + warmup * 1000) {
      measuring = true;
      loopDelay.enable();
    }
    const due = Math.min(
      Math.floor(((now - start) / 1000) * rate),
      Math.floor(((sendEnd - start) / 1000) * rate),
    );
    for (; sent < due; sent++) {
      const client = clients[sent % clients.length];
      client.doc.transact(() => {
        const text = client.doc.getText('t');
        text.insert(text.length === 0 ? 0 : sent % text.length, 'x');
        client.doc.getMap('lat').set(String(client.id), [measuring, performance.now()]);
      });
      if (measuring) measuredOps++;
    }
    if (now >= sendEnd) {
      resolve();
    } else {
      setTimeout(tick, 2);
    }
  };
  tick();
});
loopDelay.disable();
const expected = measuredOps * (perDoc - 1);
// Let the last ops arrive: wait until every receipt is in, at most 10 s.
const drainDeadline = performance.now() + 10_000;
while (receipts < expected && performance.now() < drainDeadline) {
  await new Promise((resolve) => setTimeout(resolve, 20));
}
const sorted = latencies.sort((a, b) => a - b);
const result = {
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
  generatorLoopDelayP99Ms: loopDelay.percentile(99) / 1e6,
};
console.log(JSON.stringify(result));
for (const client of clients) await client.close();
process.exit(0);
