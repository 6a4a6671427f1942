// The edge's path with nothing else running: one y-websocket provider
// writes, another on the same document reads, EDITS edits (default 300) one
// at a time with 10 ms between them; each is timed from the writer's
// insert to the reader's observer. Prints p50/p90/p99/max and the edge's own
// receipt -> Kafka delivery report mean (broadcaster_ywrite_latency_seconds).
// The floor under bench.mjs' loaded figures (docs/benchmarks.md).
//
//   COLLAB_BIN_DIR=build-bench-e2e/bin node bench/e2e/pair.mjs   (needs the local stack)

import WebSocket from 'ws';
import { WebsocketProvider } from 'y-websocket';
import * as Y from 'yjs';

import { Services, admin, newRun } from '../../tests/e2e/lib/stack.mjs';
import { waitUntil } from '../../tests/e2e/lib/wait.mjs';

const edits = Number(process.env.EDITS ?? 300);
const run = await newRun('pair');
const services = new Services(run, { partitions: 3 });
const pct = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))];
let code = 0;
try {
  await services.startAll();
  await admin(run, ['user-create', '--username=alice', '--name=Alice', '--password=alice-pass-1']);
  const docId = `pair-${run.id}`;
  await admin(run, ['doc-create', `--doc=${docId}`, '--owner=alice']);
  const res = await fetch(`http://127.0.0.1:${run.ports.ingest}/v1/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'alice', password: 'alice-pass-1' }),
  });
  const { access_token: token } = await res.json();
  const url = `ws://127.0.0.1:${run.ports.broadcaster}/yjs`;
  const open = () => {
    const doc = new Y.Doc();
    const provider = new WebsocketProvider(url, docId, doc, {
      WebSocketPolyfill: WebSocket,
      params: { token },
      disableBc: true,
    });
    return { doc, provider, text: doc.getText('t') };
  };
  const writer = open();
  const reader = open();
  await waitUntil(() => writer.provider.synced && reader.provider.synced, 'both synced', 30_000);
  const latencies = [];
  let sentAt = 0;
  let want = 0;
  reader.text.observe(() => {
    if (reader.text.length === want) latencies.push(performance.now() - sentAt);
  });
  for (let i = 0; i < edits; i++) {
    want = writer.text.length + 1;
    sentAt = performance.now();
    writer.text.insert(0, 'x');
    await waitUntil(() => latencies.length === i + 1, `edit ${i} reaches the reader`, 10_000);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  const sorted = latencies.sort((a, b) => a - b);
  const metrics = await (await fetch(`http://127.0.0.1:${run.ports.broadcasterMetrics}/metrics`)).text();
  const sample = (name) => Number(metrics.match(new RegExp(`^${name} (\\S+)$`, 'm'))?.[1]);
  const ackMs =
    (1000 * sample('broadcaster_ywrite_latency_seconds_sum')) /
    sample('broadcaster_ywrite_latency_seconds_count');
  console.log(
    JSON.stringify({
      edits,
      p50: pct(sorted, 50),
      p90: pct(sorted, 90),
      p99: pct(sorted, 99),
      max: sorted.at(-1),
      kafkaAckMeanMs: ackMs,
    }),
  );
  writer.provider.destroy();
  reader.provider.destroy();
} catch (err) {
  console.error(err);
  services.dumpLogs(30);
  code = 1;
} finally {
  await services.stopAll();
}
process.exit(code);
