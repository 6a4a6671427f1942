// The provider benchmarks' coordinator (bench.mjs uses it): forks
// provider-worker.mjs generator processes, gives each a share of the
// documents (all clients of a document in one process), starts them on one
// wall-clock instant and merges what they measured.
//
//   providerLoad({kind, url, token, docs, clients, rate, seconds, warmup, generators})
//     -> {p50, p90, p99, max, receipts, expectedReceipts, loop delay per process, ...}
//   joinStorm({kind, url, token, doc, joiners, bytes, chunk, generators})
//     -> {p50, p99, max, synced, wrongLength, ...}

import { fork } from 'node:child_process';
import path from 'node:path';
import { performance } from 'node:perf_hooks';

const worker = path.join(import.meta.dirname, 'provider-worker.mjs');
const now = () => performance.timeOrigin + performance.now();

/** A generator process: send(msg) and next(type) (the next message of that type). */
function spawnWorker(name) {
  const child = fork(worker, [name], { serialization: 'advanced', stdio: 'inherit' });
  const queue = [];
  const waiters = [];
  let exited = null;
  const deliver = () => {
    while (waiters.length) {
      const w = waiters[0];
      const at = queue.findIndex((m) => m.type === w.type || m.type === 'error');
      if (at >= 0) {
        waiters.shift();
        const [m] = queue.splice(at, 1);
        if (m.type === 'error') w.reject(new Error(`generator ${name}: ${m.message}`));
        else w.resolve(m);
      } else if (exited) {
        waiters.shift().reject(new Error(`generator ${name} exited (${exited})`));
      } else {
        break;
      }
    }
  };
  child.on('message', (m) => {
    queue.push(m);
    deliver();
  });
  child.on('exit', (code, signal) => {
    exited = `code ${code}, signal ${signal}`;
    deliver();
  });
  return {
    child,
    send: (m) => child.send(m),
    next: (type) =>
      new Promise((resolve, reject) => {
        waiters.push({ type, resolve, reject });
        deliver();
      }),
    async stop() {
      if (exited) return;
      const gone = new Promise((resolve) => child.once('exit', resolve));
      child.send({ type: 'stop' });
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await gone;
      clearTimeout(timer);
    },
  };
}

function percentile(sorted, p) {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

function mergeCounts(list) {
  const out = {};
  for (const counts of list)
    for (const [k, v] of Object.entries(counts)) out[k] = (out[k] ?? 0) + v;
  return out;
}

/**
 * clients providers of `kind` on `docs` (clients / docs each, all of a
 * document in one of `generators` processes) send `rate` ops/s in total for
 * `seconds` after `warmup`; every other client of the document times each op.
 */
export async function providerLoad({
  kind,
  url,
  token,
  docs,
  clients,
  rate,
  seconds,
  warmup,
  generators,
}) {
  const perDoc = Math.floor(clients / docs.length);
  const g = Math.min(generators, docs.length);
  const shares = Array.from({ length: g }, (_, w) => docs.filter((_, d) => d % g === w));
  const workers = shares.map((_, w) => spawnWorker(`load-${w}`));
  try {
    shares.forEach((share, w) =>
      workers[w].send({
        type: 'setup',
        mode: 'load',
        kind,
        url,
        token,
        docs: share,
        perDoc,
        idBase: w * 100_000,
      }),
    );
    await Promise.all(workers.map((w) => w.next('ready')));
    const startAt = now() + 1000;
    const total = perDoc * docs.length;
    shares.forEach((share, w) =>
      workers[w].send({
        type: 'start',
        startAt,
        warmup,
        seconds,
        rate: (rate * share.length * perDoc) / total,
      }),
    );
    const results = await Promise.all(workers.map((w) => w.next('result')));
    const all = new Float64Array(results.reduce((n, r) => n + r.latencies.length, 0));
    let at = 0;
    for (const r of results) {
      all.set(r.latencies, at);
      at += r.latencies.length;
    }
    all.sort();
    const receipts = results.reduce((n, r) => n + r.receipts, 0);
    return {
      clients: total,
      docs: docs.length,
      generators: g,
      targetRate: rate,
      seconds,
      measuredOps: results.reduce((n, r) => n + r.measuredOps, 0),
      expectedReceipts: results.reduce((n, r) => n + r.expected, 0),
      receipts,
      deliveredPerSecond: receipts / seconds,
      p50: percentile(all, 50),
      p90: percentile(all, 90),
      p99: percentile(all, 99),
      max: all.length ? all[all.length - 1] : null,
      generatorLoopDelayP99Ms: Math.max(...results.map((r) => r.loopDelayP99Ms ?? 0)),
      generatorLoopDelaysP99Ms: results.map((r) => r.loopDelayP99Ms),
      generatorLoopDelaysMaxMs: results.map((r) => r.loopDelayMaxMs),
      generatorCpuSeconds: results.reduce((n, r) => n + r.cpuSeconds, 0),
      unsynced: results.reduce((n, r) => n + r.unsynced, 0),
      closes: mergeCounts(results.map((r) => r.closes)),
      authFailures: results.reduce((n, r) => n + r.authFailures, 0),
    };
  } finally {
    await Promise.all(workers.map((w) => w.stop()));
  }
}

/**
 * The join storm: a builder process fills `doc` with `bytes` of text (in
 * `chunk`-byte updates) and waits until a fresh provider syncs all of it;
 * then `joiners` providers (spread over `generators` processes) open at one
 * instant and each is timed from `new Provider(...)` to its 'synced'. The
 * builder stays connected throughout unless `hold` is false. afterBuild()
 * runs between the build and the storm; measure() right before the storm
 * returns a function called right after it, whose result is the row's `cpu`.
 */
export async function joinStorm({
  kind,
  url,
  token,
  doc,
  joiners,
  bytes,
  chunk,
  generators,
  hold = true,
  afterBuild = async () => {},
  measure = () => () => ({}),
}) {
  const builder = spawnWorker('build');
  const g = Math.max(1, Math.min(generators, joiners));
  const counts = Array.from(
    { length: g },
    (_, w) => Math.floor(joiners / g) + (w < joiners % g ? 1 : 0),
  );
  const workers = [];
  try {
    builder.send({ type: 'setup', mode: 'build', kind, url, token, doc, bytes, chunk, hold });
    const built = await builder.next('ready');
    await afterBuild();
    for (let w = 0; w < g; w++) {
      workers.push(spawnWorker(`join-${w}`));
      workers[w].send({
        type: 'setup',
        mode: 'join',
        kind,
        url,
        token,
        doc,
        count: counts[w],
        length: bytes,
      });
    }
    await Promise.all(workers.map((w) => w.next('ready')));
    const startAt = now() + 1000;
    const measured = measure();
    for (const w of workers) w.send({ type: 'start', startAt });
    const results = await Promise.all(workers.map((w) => w.next('result')));
    const cpu = measured();
    const times = results.flatMap((r) => r.times).sort((a, b) => a - b);
    return {
      joiners,
      bytes,
      chunk,
      generators: g,
      updates: built.updates,
      buildMs: built.buildMs,
      checkMs: built.checkMs,
      synced: times.length,
      failed: results.reduce((n, r) => n + r.failed, 0),
      wrongLength: results.reduce((n, r) => n + r.wrongLength, 0),
      p50: percentile(times, 50),
      p99: percentile(times, 99),
      max: times.at(-1) ?? null,
      generatorLoopDelaysP99Ms: results.map((r) => r.loopDelayP99Ms),
      generatorCpuSeconds: results.reduce((n, r) => n + r.cpuSeconds, 0),
      cpu,
      closes: mergeCounts(results.map((r) => r.closes)),
      authFailures: results.reduce((n, r) => n + r.authFailures, 0),
    };
  } finally {
    await Promise.all([...workers, builder].map((w) => w.stop()));
  }
}
