// The end-to-end benchmark (bench/e2e/run.sh runs it; issue 11): the collab
// services (Release binaries, the local stack) beside @y/websocket-server
// and @hocuspocus/server, each part one after the other, each server in its
// own process. Parts (BENCH_PARTS, default all):
//   latency   200 STOCK providers (y-websocket's WebsocketProvider,
//             @hocuspocus/provider's HocuspocusProvider) on 50 documents at
//             2,000 ops/s against our broadcaster's edge (both providers) and
//             the two peers (their own provider each), spread over several
//             generator processes (providers.mjs, provider-worker.mjs); plus
//             the lean two-socket client of our v1 protocol (load.mjs:
//             ingest write + broadcaster merged stream);
//   sweep     the same at 2k..10k ops/s: p99 per rate, the first rate past 50 ms;
//   fanout    10,000 subscribers of one document: bc-fanout (v1 read
//             protocol), peer-fanout against both peers and against our edge;
//   memory    RSS per idle joined connection, 10,000 of them, on one edge
//             process (both dialects) and on each peer (peer-fanout --idle);
//   joinstorm 200 providers join one 5 MB document at once.
// Writes one section of docs/benchmarks.md per part (between its markers
// only; BENCH_DOC names another file) and prints it.
//
//   COLLAB_BIN_DIR=<build>/bin node bench.mjs   (environment: see run.sh)

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { Services, admin, binDir, freePort, newRun } from '../../tests/e2e/lib/stack.mjs';
import { joinStorm, providerLoad } from './providers.mjs';

const here = import.meta.dirname;
const root = path.resolve(here, '../..');
const env = process.env;
const num = (name, value) => Number(env[name] ?? value);
const list = (name, value) => (env[name] ?? value).split(',').filter((s) => s !== '');
const load = {
  clients: num('BENCH_CLIENTS', 200),
  docs: num('BENCH_DOCS', 50),
  rate: num('BENCH_RATE', 2000),
  seconds: num('BENCH_SECONDS', 20),
  warmup: num('BENCH_WARMUP', 3),
};
// Generator processes of the provider loads: the clients of a document all
// in one. More than the cores only takes CPU from the server measured.
const generators = num('BENCH_GENERATORS', Math.max(2, Math.min(4, os.cpus().length)));
const sweep = {
  rates: list('BENCH_SWEEP_RATES', '2000,4000,6000,8000,10000').map(Number),
  seconds: num('BENCH_SWEEP_SECONDS', 10),
  warmup: num('BENCH_SWEEP_WARMUP', 2),
  limitMs: 50,
};
const fanout = {
  subscribers: num('BENCH_FANOUT_SUBSCRIBERS', 10000),
  ops: num('BENCH_FANOUT_OPS', 1000),
  window: num('BENCH_FANOUT_WINDOW', 50),
  payload: 64,
};
const memory = {
  connections: num('BENCH_MEMORY_CONNECTIONS', 10000),
  settleMs: num('BENCH_MEMORY_SETTLE_MS', 3000),
  yhubKb: 2.4, // y/hub's published figure per idle connection
};
const join = {
  joiners: num('BENCH_JOIN_CLIENTS', 200),
  bytes: num('BENCH_JOIN_BYTES', 5 * 1024 * 1024),
  chunk: num('BENCH_JOIN_CHUNK', 100 * 1024),
};
// The rows of the latency and sweep parts.
const latencySystems = list('BENCH_LATENCY_SYSTEMS', 'edge-yws,edge-hp,v1,yws,hp');
const ALL_PARTS = ['latency', 'sweep', 'fanout', 'memory', 'joinstorm'];
const parts = new Set(list('BENCH_PARTS', ALL_PARTS.join(',')));
for (const p of parts) if (!ALL_PARTS.includes(p)) throw new Error(`unknown part ${p}`);
const docFile = env.BENCH_DOC ?? path.join(root, 'docs/benchmarks.md');
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'collab-bench-e2e-'));
const say = (m) => console.error(`== ${m}`);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** The systems of the provider parts: server, client and how to reach it. */
const SYSTEMS = {
  'edge-yws': {
    label: 'collab edge + WebsocketProvider',
    server: 'collab broadcaster edge `/yjs`',
    kind: 'y-websocket',
    peer: 'yws',
  },
  'edge-hp': {
    label: 'collab edge + HocuspocusProvider',
    server: 'collab broadcaster edge `/hocuspocus`',
    kind: 'hocuspocus',
    peer: 'hp',
  },
  yws: {
    label: 'y-websocket server + WebsocketProvider',
    server: '@y/websocket-server',
    kind: 'y-websocket',
    script: 'yws-server.mjs',
  },
  hp: {
    label: 'Hocuspocus server + HocuspocusProvider',
    server: '@hocuspocus/server',
    kind: 'hocuspocus',
    script: 'hocuspocus-server.mjs',
  },
  v1: {
    label: 'collab v1 merged stream (lean client)',
    server: 'collab ingest + broadcaster `/v1/.../read`',
    kind: 'collab',
  },
};

// ---- processes ----

/** Runs a command; resolves with its stdout; rejects on a non-zero exit. */
function run(cmd, args, options = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'], ...options });
    let out = '';
    child.stdout.on('data', (c) => (out += c));
    child.on('error', reject);
    child.on('exit', (code) =>
      code === 0 ? resolve(out) : reject(new Error(`${cmd} ${args.join(' ')}: exit ${code}`)),
    );
  });
}

/** A peer server in its own process, until `body` is done: body(url, port, pid). */
async function withPeer(script, body, nodeArgs = []) {
  const port = await freePort();
  const child = spawn(
    process.execPath,
    [...nodeArgs, path.join(here, 'peers', script), String(port)],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const exited = new Promise((resolve) => child.on('exit', resolve));
  try {
    await new Promise((resolve, reject) => {
      child.stdout.on('data', (c) => String(c).includes('ready') && resolve());
      child.on('exit', (code) => reject(new Error(`${script} exited with ${code}`)));
    });
    return await body(`ws://127.0.0.1:${port}`, port, child.pid);
  } finally {
    child.kill('SIGTERM');
    await exited;
  }
}

/** VmRSS / VmHWM of a process, in KB. */
function procMemory(pid) {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key) => Number(status.match(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm'))?.[1]);
  return { rssKb: kb('VmRSS'), hwmKb: kb('VmHWM') };
}

/** write(2)-family calls and bytes of a process so far (/proc/PID/io), or null. */
function procWrites(pid) {
  try {
    const io = fs.readFileSync(`/proc/${pid}/io`, 'utf8');
    const v = (k) => Number(io.match(new RegExp(`^${k}: (\\d+)$`, 'm'))?.[1]);
    return { calls: v('syscw'), bytes: v('wchar') };
  } catch {
    return null;
  }
}

/** The local stack's processes (Kafka, FerretDB, Redis), found by their command lines. */
function stackPids() {
  const want = { Kafka: /kafka\.Kafka\s/, FerretDB: /\/ferretdb\s/, Redis: /^redis-server\s/ };
  const out = {};
  for (const d of fs.readdirSync('/proc').filter((e) => /^\d+$/.test(e))) {
    let cmd = '';
    try {
      cmd = fs.readFileSync(`/proc/${d}/cmdline`, 'utf8').replace(/\0/g, ' ');
    } catch {
      continue; // gone meanwhile
    }
    for (const [name, re] of Object.entries(want)) if (!out[name] && re.test(cmd)) out[name] = +d;
  }
  return out;
}

/** User + system CPU seconds of a process so far (null when it is gone). */
function cpuSeconds(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / 100; // USER_HZ
  } catch {
    return null;
  }
}

/** Starts counting the CPU time of `pids` (name -> pid); calling the result gives name -> s. */
function cpuMeter(pids) {
  const start = Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, cpuSeconds(pid)]));
  return () =>
    Object.fromEntries(
      Object.entries(pids).map(([k, pid]) => {
        const now = cpuSeconds(pid);
        return [k, now === null || start[k] === null ? null : now - start[k]];
      }),
    );
}

/**
 * Waits (at most maxMs) until `pids` together use less than `cores` of CPU
 * over a second: the work a run left behind (the processor's MongoDB and
 * Redis writes, FerretDB behind them) must not be measured as the next
 * run's. Resolves with the seconds waited.
 */
async function quiesce(pids, cores = 0.15, maxMs = 180_000) {
  const t0 = Date.now();
  for (;;) {
    const meter = cpuMeter(pids);
    await sleep(1000);
    const used = Object.values(meter()).reduce((a, v) => a + (v ?? 0), 0);
    if (used < cores || Date.now() - t0 > maxMs) return (Date.now() - t0) / 1000;
  }
}

/** What the broadcaster's metrics say, as name{labels} -> value. */
async function scrape(port) {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const out = {};
  for (const line of text.split('\n')) {
    const m = line.match(/^([a-z_]+(?:\{[^}]*\})?) (\S+)$/);
    if (m) out[m[1]] = Number(m[2]);
  }
  return out;
}

/**
 * The collab services of one part, started once: body(ctx) with the bench
 * user's token, createDocs, the edge's URLs and the broadcaster's pid.
 * Afterwards, the broadcaster's warnings are printed (what looked wrong).
 */
async function withCollab(body) {
  const r = await newRun('bench');
  const services = new Services(r, {
    partitions: 6,
    ingest: ['--log-level=warn', '--max-ops-per-second=1000'],
    broadcaster: ['--log-level=warn'],
    processor: ['--log-level=warn'],
    snapshotter: ['--log-level=warn'],
  });
  try {
    await services.startAll();
    await admin(r, ['user-create', '--username=bench', '--name=Bench', '--password=bench-pass']);
    const res = await fetch(`http://127.0.0.1:${r.ports.ingest}/v1/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'bench', password: 'bench-pass' }),
    });
    const { access_token: token } = await res.json();
    const createDoc = async (id) => {
      const created = await fetch(`http://127.0.0.1:${r.ports.ingest}/v1/documents`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({ id }),
      });
      if (created.status !== 201) {
        throw new Error(`POST /v1/documents ${id}: ${created.status} ${await created.text()}`);
      }
      return id;
    };
    let made = 0;
    const ctx = {
      run: r,
      services,
      token,
      createDoc: (prefix) => createDoc(`${prefix}-${r.id}-${made++}`),
      createDocs: async (prefix, n) => {
        const ids = Array.from({ length: n }, () => `${prefix}-${r.id}-${made++}`);
        for (let i = 0; i < ids.length; i += 8)
          await Promise.all(ids.slice(i, i + 8).map(createDoc));
        return ids;
      },
      edgeUrl: (kind) =>
        `ws://127.0.0.1:${r.ports.broadcaster}${kind === 'y-websocket' ? '/yjs' : '/hocuspocus'}`,
      pid: () => services.procs.get('broadcaster').child.pid,
      pids: () => ({
        ...Object.fromEntries([...services.procs].map(([name, e]) => [name, e.child.pid])),
        ...stackPids(),
      }),
      metrics: () => scrape(r.ports.broadcasterMetrics),
    };
    return await body(ctx);
  } catch (err) {
    services.dumpLogs(30);
    throw err;
  } finally {
    await services.stopAll();
    reportLogs(services);
  }
}

/** The services' warnings and errors of a run, on stderr (at most 20 lines each). */
function reportLogs(services) {
  for (const [name, entry] of services.procs) {
    const lines = fs
      .readFileSync(entry.log, 'utf8')
      .split('\n')
      .filter((l) => /warn|error|fatal/i.test(l) && !/endSessions/.test(l));
    if (lines.length) {
      say(`${name}: ${lines.length} warning/error lines in ${entry.log}; the first:`);
      console.error(lines.slice(0, 20).join('\n'));
    }
  }
}

// ---- latency and sweep ----

/** Our v1 lean client (load.mjs, one process): ingest write + merged read. */
async function runLean(ctx, docs, { rate, seconds, warmup }) {
  const file = path.join(work, `v1-${rate}-${Date.now()}.json`);
  fs.writeFileSync(
    file,
    JSON.stringify({
      clients: load.clients,
      rate,
      seconds,
      warmup,
      writeUrl: `ws://127.0.0.1:${ctx.run.ports.ingest}`,
      readUrl: `ws://127.0.0.1:${ctx.run.ports.broadcaster}`,
      token: ctx.token,
      docs,
    }),
  );
  const out = await run(process.execPath, [path.join(here, 'load.mjs'), 'collab', file]);
  const result = JSON.parse(out.trim().split('\n').at(-1));
  result.generators = 1;
  result.generatorLoopDelaysP99Ms = [result.generatorLoopDelayP99Ms];
  return result;
}

/** The edge's own view of a run: receipt -> Kafka delivery report (mean), closes by reason. */
function edgeDelta(before, after) {
  const d = (k) => (after[k] ?? 0) - (before[k] ?? 0);
  const count = d('broadcaster_ywrite_latency_seconds_count');
  const closes = {};
  for (const k of Object.keys(after)) {
    const m = k.match(/^broadcaster_yclosed_total\{reason="([^"]+)"\}$/);
    if (m && d(k) > 0) closes[m[1]] = d(k);
  }
  return {
    edgeAckMeanMs: count > 0 ? (1000 * d('broadcaster_ywrite_latency_seconds_sum')) / count : null,
    edgeWrites: d('broadcaster_ywrites_total'),
    edgeWriteFailures: d('broadcaster_ywrite_failures_total'),
    edgeClosed: closes,
  };
}

/** One provider load on the edge (docs: fresh ones). */
async function runEdge(ctx, id, docs, shape) {
  const before = await ctx.metrics();
  const result = await providerLoad({
    kind: SYSTEMS[id].kind,
    url: ctx.edgeUrl(SYSTEMS[id].kind),
    token: ctx.token,
    docs,
    clients: load.clients,
    generators,
    ...shape,
  });
  return { ...result, ...edgeDelta(before, await ctx.metrics()) };
}

function runPeerLoad(id, url, tag, shape) {
  const docs = Array.from({ length: load.docs }, (_, d) => `${id}-${tag}-${d}`);
  return providerLoad({
    kind: SYSTEMS[id].kind,
    url,
    docs,
    clients: load.clients,
    generators,
    ...shape,
  });
}

const describeRun = (id, r) =>
  `${id}: ${r.wallSeconds?.toFixed(1)} s (after ${r.quietSeconds?.toFixed(0)} s waiting for quiet), p50 ${ms(r.p50)} p99 ${ms(r.p99)} max ${ms(r.max)} ms, ${r.receipts}/${r.expectedReceipts}, loop p99 ${(r.generatorLoopDelaysP99Ms ?? []).map(ms).join('/')} ms${r.closes && Object.keys(r.closes).length ? `, closes ${JSON.stringify(r.closes)}` : ''}${r.edgeClosed && Object.keys(r.edgeClosed).length ? `, edge closed ${JSON.stringify(r.edgeClosed)}` : ''}`;

/**
 * Every system at each of `shapes` ({rate, seconds, warmup}): results[id][i].
 * A fresh collab for each collab row and rate, one peer process per peer.
 */
async function measureAll(shapes) {
  const results = { 'edge-yws': [], 'edge-hp': [], v1: [], yws: [], hp: [] };
  const measured = (id) => latencySystems.includes(id);
  const note = (id, i, r, cpu, wallSeconds, quietSeconds) => {
    results[id][i] = { ...r, cpu, wallSeconds, quietSeconds };
    say(describeRun(`${id} @ ${shapes[i].rate} ops/s`, results[id][i]));
  };
  // Each collab row gets a fresh collab (topics, database), as each peer
  // row gets a fresh server: FerretDB's SQLite backend scans a collection
  // for every query on doc_id, so one row's operations would slow the
  // next row's document loads (docs/benchmarks.md says more).
  for (const id of ['edge-yws', 'edge-hp', 'v1'].filter(measured)) {
    for (const [i, shape] of shapes.entries()) {
      await withCollab(async (ctx) => {
        say(
          id === 'v1'
            ? `${SYSTEMS.v1.label}: ${shape.rate} ops/s, ${shape.seconds} s`
            : `${SYSTEMS[id].label}: ${load.clients} clients, ${load.docs} docs, ${shape.rate} ops/s, ${shape.seconds} s, ${generators} generators`,
        );
        const docs = await ctx.createDocs(id, load.docs);
        const quiet = await quiesce(ctx.pids());
        const [cpu, t0] = [cpuMeter(ctx.pids()), Date.now()];
        const r = id === 'v1' ? await runLean(ctx, docs, shape) : await runEdge(ctx, id, docs, shape);
        note(id, i, r, cpu(), (Date.now() - t0) / 1000, quiet);
      });
    }
  }
  for (const id of ['yws', 'hp'].filter(measured)) {
    await withPeer(SYSTEMS[id].script, async (url, _port, pid) => {
      for (const [i, shape] of shapes.entries()) {
        say(
          `${SYSTEMS[id].label}: ${shape.rate} ops/s, ${shape.seconds} s, ${generators} generators`,
        );
        const pids = { server: pid, ...stackPids() };
        const quiet = await quiesce(pids);
        const [cpu, t0] = [cpuMeter(pids), Date.now()];
        const r = await runPeerLoad(id, url, `${shape.rate}-${Date.now()}`, shape);
        note(id, i, r, cpu(), (Date.now() - t0) / 1000, quiet);
      }
    });
  }
  return results;
}

// ---- fan-out ----

/** Our broadcaster's fan-out on the v1 read protocol (bc-fanout starts its own broadcaster). */
async function fanoutCollab() {
  const bin = path.join(binDir, 'bc-fanout');
  say(
    `fan-out, collab v1: bc-fanout ${fanout.subscribers} subscribers, 1 document, ${fanout.ops} ops`,
  );
  const args = [fanout.subscribers, 1, fanout.ops, fanout.payload, fanout.window];
  const out = await run(bin, args.map(String));
  const row = out.trim().split('\n').at(-1);
  // | date | subscribers | docs | ops | payload | delivered / expected | s | msg/s | MB/s |
  //   out of order | resyncs | CPU s | e2e ms | p50 ms | p99 ms |
  const cells = row.split('|').map((c) => c.trim());
  const [delivered, expected] = cells[6].split('/').map((c) => Number(c.trim()));
  return {
    id: 'v1',
    system: 'collab broadcaster, v1 read protocol (bc-fanout)',
    row,
    delivered,
    expected,
    seconds: Number(cells[7]),
    perSecond: Number(cells[8].replace(/\*/g, '')),
    bad: Number(cells[10]),
    serverCpuSeconds: Number(cells[12]),
    p50Ms: Number(cells[14]),
    p99Ms: Number(cells[15]),
  };
}

/** peer-fanout against a server; a failed load is reported as failed, with its partial figures. */
async function peerFanout(protocol, port, doc, pid, options = []) {
  const args = [
    ...options,
    protocol,
    port,
    fanout.subscribers,
    fanout.ops,
    fanout.window,
    doc,
    pid,
  ];
  const writes0 = procWrites(pid);
  const child = spawn(path.join(binDir, 'peer-fanout'), args.map(String), {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.on('data', (c) => (out += c));
  const code = await new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', resolve);
  });
  const writes1 = procWrites(pid);
  const last = out.trim().split('\n').at(-1);
  if (!last) throw new Error(`peer-fanout ${protocol}: exit ${code} before any figure`);
  const writeCalls = writes0 && writes1 ? writes1.calls - writes0.calls : null;
  return { ...JSON.parse(last), failed: code !== 0, writeCalls };
}

function fanoutPeer(id) {
  const protocol = SYSTEMS[id].kind;
  return withPeer(SYSTEMS[id].script, async (_url, port, pid) => {
    say(`fan-out, ${protocol}: peer-fanout ${fanout.subscribers} subscribers, ${fanout.ops} ops`);
    const r = await peerFanout(protocol, port, `fanout-${Date.now()}`, pid);
    return { ...r, id, system: SYSTEMS[id].server };
  });
}

/** Our edge with peer-fanout's clients (its writer writes through the edge: Kafka first). */
function fanoutEdge(protocols) {
  return withCollab(async (ctx) => {
    const rows = [];
    for (const protocol of protocols) {
      const doc = await ctx.createDoc(`fanout-${protocol}`);
      const prefix = protocol === 'y-websocket' ? '/yjs' : '/hocuspocus';
      say(
        `fan-out, collab edge ${protocol}: peer-fanout ${fanout.subscribers} subscribers, ${fanout.ops} ops`,
      );
      const before = await ctx.metrics();
      const r = await peerFanout(protocol, ctx.run.ports.broadcaster, doc, ctx.pid(), [
        `--path=${prefix}`,
        `--token=${ctx.token}`,
      ]);
      rows.push({
        ...r,
        ...edgeDelta(before, await ctx.metrics()),
        id: protocol === 'y-websocket' ? 'edge-yws' : 'edge-hp',
        system: `collab edge \`${prefix}\`, ${protocol} protocol (peer-fanout)`,
      });
    }
    return rows;
  });
}

async function benchFanout() {
  for (const prog of ['bc-fanout', 'peer-fanout']) {
    if (!fs.existsSync(path.join(binDir, prog))) throw new Error(`${binDir}/${prog} is not built`);
  }
  // One at a time: each needs the two cores to itself.
  const systems = list('BENCH_FANOUT_SYSTEMS', 'v1,edge-yws,edge-hp,yws,hp');
  const rows = [];
  if (systems.includes('v1')) rows.push(await fanoutCollab());
  const edge = systems.filter((id) => id.startsWith('edge-')).map((id) => SYSTEMS[id].kind);
  if (edge.length) rows.push(...(await fanoutEdge(edge)));
  for (const id of systems.filter((s) => SYSTEMS[s].script)) rows.push(await fanoutPeer(id));
  return rows;
}

// ---- memory ----

/**
 * RSS of `pid` before and after `n` idle joined connections of peer-fanout
 * --idle. gc(): forces a collection in the server (node peers) before each
 * reading.
 */
async function idleMemory(protocol, port, pid, doc, options, gc = null) {
  const settle = async () => {
    if (gc) {
      gc();
      await sleep(1000);
    }
  };
  await settle();
  const before = procMemory(pid);
  const args = [...options, '--idle', protocol, port, memory.connections, 1, 0, doc];
  const child = spawn(path.join(binDir, 'peer-fanout'), args.map(String), {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const exited = new Promise((resolve) => child.on('exit', (code) => resolve(code)));
  const joined = await new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (c) => {
      out += c;
      if (out.includes('\n')) resolve(JSON.parse(out.split('\n')[0]));
    });
    exited.then((code) => reject(new Error(`peer-fanout --idle exited ${code} before joining`)));
  });
  await sleep(memory.settleMs);
  const noGc = procMemory(pid);
  await settle();
  const after = procMemory(pid);
  child.stdin.end(); // peer-fanout closes its connections and exits
  const code = await exited;
  const perKb = (a) => (a.rssKb - before.rssKb) / memory.connections;
  return {
    connections: memory.connections,
    joined: joined.joined,
    joinSeconds: joined.seconds,
    beforeKb: before.rssKb,
    afterKb: after.rssKb,
    hwmKb: after.hwmKb,
    perConnectionKb: perKb(after),
    perConnectionNoGcKb: gc ? perKb(noGc) : null,
    stayedJoined: code === 0,
  };
}

async function benchMemory() {
  const rows = [];
  await withCollab(async (ctx) => {
    for (const [i, protocol] of ['y-websocket', 'hocuspocus'].entries()) {
      if (i > 0) {
        // A fresh process each: freed memory of the last run is not handed back.
        await ctx.services.stop('broadcaster');
        await ctx.services.start('broadcaster');
      }
      const doc = await ctx.createDoc(`mem-${protocol}`);
      const prefix = protocol === 'y-websocket' ? '/yjs' : '/hocuspocus';
      say(`memory, collab edge ${protocol}: ${memory.connections} idle connections`);
      const r = await idleMemory(protocol, ctx.run.ports.broadcaster, ctx.pid(), doc, [
        `--path=${prefix}`,
        `--token=${ctx.token}`,
      ]);
      rows.push({ system: `collab edge \`${prefix}\` (one broadcaster process)`, protocol, ...r });
      say(JSON.stringify(rows.at(-1)));
    }
  });
  for (const id of ['yws', 'hp']) {
    const protocol = SYSTEMS[id].kind;
    await withPeer(
      SYSTEMS[id].script,
      async (_url, port, pid) => {
        say(`memory, ${SYSTEMS[id].server}: ${memory.connections} idle connections`);
        const r = await idleMemory(protocol, port, pid, `mem-${Date.now()}`, [], () =>
          process.kill(pid, 'SIGUSR2'),
        );
        rows.push({ system: SYSTEMS[id].server, protocol, ...r });
        say(JSON.stringify(rows.at(-1)));
      },
      ['--expose-gc'],
    );
  }
  return rows;
}

// ---- join storm ----

async function benchJoinStorm() {
  const rows = [];
  const systems = list('BENCH_JOIN_SYSTEMS', 'edge-yws,edge-hp,yws,hp');
  // After the build, until the machine is quiet (the processor's and
  // snapshotter's writes of the new 5 MiB behind it): the storm alone is measured.
  const storm = (id, url, doc, token, pids) => {
    say(
      `join storm, ${SYSTEMS[id].label}: ${join.joiners} joiners, ${(join.bytes / 1048576).toFixed(1)} MiB`,
    );
    let quietSeconds = 0;
    const afterBuild = async () => (quietSeconds = await quiesce(pids()));
    const measure = () => cpuMeter(pids());
    return joinStorm({
      kind: SYSTEMS[id].kind,
      url,
      token,
      doc,
      generators,
      afterBuild,
      measure,
      ...join,
    }).then((r) => ({ ...r, quietSeconds }));
  };
  const note = (id, r) => {
    rows.push({ id, ...r });
    say(`${id}: ${JSON.stringify(r)}`);
  };
  const edge = systems.filter((id) => id.startsWith('edge-'));
  if (edge.length) {
    await withCollab(async (ctx) => {
      for (const id of edge) {
        const doc = await ctx.createDoc(`join-${SYSTEMS[id].kind}`);
        const before = await ctx.metrics();
        const r = await storm(id, ctx.edgeUrl(SYSTEMS[id].kind), doc, ctx.token, ctx.pids);
        note(id, { ...r, ...edgeDelta(before, await ctx.metrics()) });
      }
    });
  }
  for (const id of systems.filter((s) => SYSTEMS[s].script)) {
    await withPeer(SYSTEMS[id].script, async (url, _port, pid) =>
      note(id, await storm(id, url, `join-${Date.now()}`, undefined, () => ({ server: pid }))),
    );
  }
  return rows;
}

// ---- reports ----

const ms = (v) =>
  v === null || v === undefined || Number.isNaN(v) ? 'n/a' : v < 10 ? v.toFixed(2) : v.toFixed(1);
const n0 = (v) => Math.round(v).toLocaleString('en');
const when = () => new Date().toISOString().slice(0, 16).replace('T', ' ');
const loadavg = () =>
  `load average ${os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(', ')}`;
const versions = (() => {
  const v = (p) =>
    JSON.parse(fs.readFileSync(path.join(here, 'node_modules', p, 'package.json'), 'utf8')).version;
  return `node ${process.version}, yjs ${v('yjs')}, y-websocket ${v('y-websocket')}, @hocuspocus/provider ${v('@hocuspocus/provider')}, @y/websocket-server ${v('@y/websocket-server')}, @hocuspocus/server ${v('@hocuspocus/server')}, ws ${v('ws')}`;
})();
const machine = () =>
  `${os.cpus().length} cores (${os.cpus()[0]?.model.trim() ?? 'unknown'}), ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, shared by Kafka, FerretDB, Redis, the servers and the load generators`;
const counts = (o) =>
  o && Object.keys(o).length
    ? Object.entries(o)
        .map(([k, v]) => `${k}: ${v}`)
        .join(', ')
    : 'none';

function latencyReport(results, shape, started) {
  const r = (id) => results[id][0];
  const ratio = (id, k) => {
    const peer = SYSTEMS[id].peer;
    return peer && r(id)?.[k] && r(peer)?.[k] ? `${(r(id)[k] / r(peer)[k]).toFixed(1)}x` : '';
  };
  const ids = ['edge-yws', 'edge-hp', 'yws', 'hp', 'v1'].filter((id) => r(id));
  const rows = ids.map((id) => {
    const x = r(id);
    const vs = SYSTEMS[id].peer ? `${ratio(id, 'p50')} / ${ratio(id, 'p99')}` : '-';
    return `| ${SYSTEMS[id].label} | ${ms(x.p50)} | ${ms(x.p90)} | ${ms(x.p99)} | ${ms(x.max)} | ${x.receipts} / ${x.expectedReceipts} | ${n0(x.deliveredPerSecond)} | ${vs} | ${x.generatorLoopDelaysP99Ms.map(ms).join(', ')} |`;
  });
  const edgeNotes = ['edge-yws', 'edge-hp']
    .filter((id) => r(id))
    .map(
      (id) =>
        `- ${SYSTEMS[id].label}: receipt -> Kafka delivery report (the edge's \`broadcaster_ywrite_latency_seconds\`) ${ms(r(id).edgeAckMeanMs)} ms on average over ${r(id).edgeWrites} writes; write failures ${r(id).edgeWriteFailures}; connections the edge closed: ${counts(r(id).edgeClosed)}; close codes the providers saw: ${counts(r(id).closes)}${r(id).unsynced ? `; Hocuspocus changes never confirmed: ${r(id).unsynced}` : ''}.`,
    )
    .join('\n');
  const s2 = (v) => (v === null || v === undefined ? '-' : v.toFixed(1));
  const cpuRows = ids.map((id) => {
    const c = r(id).cpu ?? {};
    const server = c.broadcaster ?? c.server;
    const cells = [server, c.ingest, c.processor, c.snapshotter, c.Kafka, c.FerretDB, c.Redis];
    const gen = r(id).generatorCpuSeconds;
    const total = [...cells, gen].reduce((a, v) => a + (v ?? 0), 0);
    return `| ${SYSTEMS[id].label} | ${[...cells, gen].map(s2).join(' | ')} | ${s2(total)} |`;
  });
  const p99 = Math.max(r('edge-yws')?.p99 ?? Infinity, r('edge-hp')?.p99 ?? Infinity);
  return `## e2e: client edit -> other clients, stock Yjs providers, beside y-websocket and Hocuspocus

Command: \`bench/e2e/run.sh\` (\`BENCH_PARTS=latency bench/e2e/run.sh\` for this part
alone; builds the services in Release in \`build-bench-e2e/\`, needs the local stack:
\`deploy/local/stack.sh up\`). Measured ${started} UTC on this machine (${machine()});
before the part: ${results.loadBefore}. Versions: ${versions}.

Load: ${load.clients} clients on ${load.docs} documents (${load.clients / load.docs} each), ${shape.rate} ops/s in
total for ${shape.seconds} s after a ${shape.warmup} s warm-up. Every client is the STOCK provider from
npm on its own \`Y.Doc\` and its own WebSocket: \`WebsocketProvider\` (y-websocket) or
\`HocuspocusProvider\` with its own \`HocuspocusProviderWebsocket\`; our edge is the
broadcaster's \`/yjs\` and \`/hocuspocus\` endpoints (token in the URL / in the auth
message). The clients run in ${generators} generator processes (\`bench/e2e/providers.mjs\`,
\`provider-worker.mjs\`; all clients of a document in one, each process sending its
share of the rate round-robin over its clients). An op is a real \`Y.Text\` insert of
\`@<sender>:<send time>;\` at the start of the sender's text; its provider sends it. A
receiver takes each update its provider applied (\`ydoc.on('update')\` with the provider
as origin) and finds the markers in the update's bytes; latency = that moment - send
time, on one wall clock (\`performance.timeOrigin + performance.now()\`), for ops sent
after the warm-up. "received / expected" counts (op, other client of its document)
pairs. "loop delay" is how late each generator process' event loop ran a 1 ms timer,
p99 over the measured seconds, per process (a saturated generator shows there).
Peers: in memory, each in its own node process (\`bench/e2e/peers/\`). collab edge:
Release build, services at their defaults: a client's update is validated and
produced to Kafka (\`collab.ops\`, acks=all) and only on Kafka's delivery report sent
to the document's other clients (and the Hocuspocus sync status / y-websocket echo
to the sender). The last row is our v1 protocol with its lean \`ws\` client
(\`bench/e2e/load.mjs\`, one process): UPDATE to ingest -> Kafka -> processor
(transaction) -> \`collab.merged\` -> broadcaster MERGED stream.

| system | p50 ms | p90 ms | p99 ms | max ms | received / expected | delivered msg/s | ours / peer (p50 / p99) | loop delay p99 ms per generator |
|---|---:|---:|---:|---:|---:|---:|---:|---:|
${rows.join('\n')}

"ours / peer" compares our edge with the peer of the same provider (y-websocket with
y-websocket, Hocuspocus with Hocuspocus).

${edgeNotes}

Where the ${os.cpus().length} cores went: CPU seconds of each process over the run (connecting,
warm-up, the measured seconds and the drain; \`/proc/PID/stat\`, the generators' own
\`process.cpuUsage()\`). For the peers, ingest, processor and snapshotter are not
running; Kafka, FerretDB and Redis idle.

| system | server (broadcaster or peer) | ingest | processor | snapshotter | Kafka | FerretDB | Redis | generators | total |
|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|
${cpuRows.join('\n')}

Target p99 <= 50 ms end to end through the edge: ${Number.isFinite(p99) ? (p99 <= 50 ? `met (worst of the two: ${ms(p99)} ms)` : `**not met** (worst of the two: ${ms(p99)} ms)`) : 'not measured'}.
The peers forward an update the moment it arrives, in memory, with no durability;
the edge waits for Kafka's acks=all delivery report first (one produce round trip
to the broker, no transaction in this path). Everything shares the ${os.cpus().length} cores, so
the tails are noisy; re-run on a quiet machine before drawing fine conclusions.

`;
}

function sweepReport(results, started, loadBefore) {
  const ids = ['edge-yws', 'edge-hp', 'yws', 'hp', 'v1'].filter((id) => results[id].length);
  const header = `| system | ${sweep.rates.map((r) => `${n0(r)} ops/s`).join(' | ')} | first rate with p99 > ${sweep.limitMs} ms |`;
  const rule = `|---|${sweep.rates.map(() => '---:').join('|')}|---|`;
  const rows = ids.map((id) => {
    const cells = results[id].map((x) => {
      const lost = x.receipts < x.expectedReceipts ? ` (${x.receipts}/${x.expectedReceipts})` : '';
      return `${ms(x.p99)}${lost}`;
    });
    const first = results[id].findIndex(
      (x) => x.p99 === null || x.p99 > sweep.limitMs || x.receipts < 0.99 * x.expectedReceipts,
    );
    return `| ${SYSTEMS[id].label} | ${cells.join(' | ')} | ${first < 0 ? 'not within the sweep' : `${n0(sweep.rates[first])} ops/s`} |`;
  });
  const loopRows = ids.map(
    (id) =>
      `| ${SYSTEMS[id].label} | ${results[id].map((x) => `${(x.measuredOps / x.seconds).toFixed(0)} / ${x.generatorLoopDelaysP99Ms.map(ms).join(', ')}`).join(' | ')} |`,
  );
  return `### e2e rate sweep: p99 latency from ${n0(sweep.rates[0])} to ${n0(sweep.rates.at(-1))} ops/s

Command: \`BENCH_PARTS=sweep bench/e2e/run.sh\` (rates: \`BENCH_SWEEP_RATES\`, default
2000,4000,6000,8000,10000; \`BENCH_SWEEP_SECONDS\` ${sweep.seconds}, \`BENCH_SWEEP_WARMUP\` ${sweep.warmup}). Measured ${started}
UTC on this machine (${machine()}); before the part: ${loadBefore}. Versions: ${versions}.

The latency part's load and measure (${load.clients} stock providers on ${load.docs} documents in ${generators}
generator processes; the v1 row its lean client in one), at each rate for
${sweep.seconds} s after ${sweep.warmup} s, fresh documents for every run. Cells: p99 ms (with received /
expected when something did not arrive within 10 s of the end; a run that lost more
than 1% counts as past the limit whatever its p99).

${header}
${rule}
${rows.join('\n')}

Ops actually sent per second / generator loop delay p99 ms per process, at each rate
(a generator that cannot keep up sends fewer ops and shows a long loop delay, and then
the row measures the generator, not the server):

| system | ${sweep.rates.map((r) => `${n0(r)} ops/s`).join(' | ')} |
|---|${sweep.rates.map(() => '---:').join('|')}|
${loopRows.join('\n')}

`;
}

function fanoutReport(fans, started, loadBefore) {
  const byId = Object.fromEntries(fans.map((f) => [f.id, f]));
  const lat = (v) => (v === undefined || v === null || v < 0 || Number.isNaN(v) ? 'n/a' : ms(v));
  const vsPeers = (f) =>
    ['yws', 'hp']
      .map((p) => (byId[p]?.perSecond ? `${(f.perSecond / byId[p].perSecond).toFixed(1)}x` : 'n/a'))
      .join(' / ');
  const rows = fans.map(
    (f) =>
      `| ${f.system}${f.failed ? ' (**failed**: lost, out of order or closed)' : ''} | ${f.delivered} / ${f.expected} | ${f.seconds.toFixed(2)} | **${n0(f.perSecond)}** | ${vsPeers(f)} | ${lat(f.p50Ms)} | ${lat(f.p99Ms)} | ${f.serverCpuSeconds >= 0 ? f.serverCpuSeconds.toFixed(2) : 'n/a'} | ${f.clientCpuSeconds >= 0 ? f.clientCpuSeconds.toFixed(2) : 'n/a'} | ${f.writeCalls ? (f.writeCalls / f.delivered).toFixed(3) : 'n/a'} | ${f.bad} |`,
  );
  const edge = fans.filter((f) => f.id.startsWith('edge'));
  const worstPeer = Math.max(byId.yws?.perSecond ?? 0, byId.hp?.perSecond ?? 0);
  const target = edge
    .map((f) => {
      const x = worstPeer ? f.perSecond / worstPeer : 0;
      return `${f.system}: ${x >= 20 ? 'met' : '**not met**'} (${x.toFixed(1)}x the faster peer)`;
    })
    .join('; ');
  const v1 = byId.v1;
  return `### Fan-out: ${fanout.subscribers.toLocaleString('en')} subscribers of one document on one server, beside y-websocket and Hocuspocus

Command: \`BENCH_PARTS=fanout bench/e2e/run.sh\` (one after the other). Measured ${started} UTC
on this machine (${machine()}); before the part: ${loadBefore}. Versions: ${versions}.

The same load for every row: ${fanout.subscribers.toLocaleString('en')} WebSocket subscribers of one
document, then one writer sends ${fanout.ops} updates of about ${fanout.payload} bytes as fast as it can
while at most ${fanout.window} updates are not yet received by every subscriber (flow control, the
same for all: without it a peer queues the whole burst in memory; tried
once with y-websocket, \`peer-fanout y-websocket PORT 10000 1000 0 ...\`: node
reached its 4 GB heap limit and died after 170 s with 4.8 of the 10 million
messages delivered, median latency 50 s); every
subscriber must receive every update, in order (checked at the subscriber, by
sequence number). "msg/s" counts updates received by all subscribers, from the
first receipt to the last; latency runs from the writer's send to the subscriber's
read (same process, one clock), so it is mostly the time the update waited
behind the (up to ${fanout.window}) ones before it. "server CPU s" is the server process'
user + system time over the run, "client CPU s" peer-fanout's own (subscribers and writer;
n/a for bc-fanout); "server write calls per message" its write(2)-family
calls (\`/proc/PID/io\` syscw, over the whole peer-fanout run) per delivered message (1: one
system call per message and subscriber; n/a for bc-fanout, whose broadcaster is its own child). The subscribers are one epoll loop in C, the
same for all (\`bench/broadcaster/bc_fanout.c\`, \`peer_fanout.c\`), so the
reading side costs the same.
- collab broadcaster, v1 read protocol: \`bc-fanout ${fanout.subscribers} 1 ${fanout.ops} ${fanout.payload} ${fanout.window}\`: our broadcaster (Release),
  the writer produces MergedOp records to collab.merged (the processor's output);
  subscribers speak docs/protocol.md and count MERGED messages.
- collab edge: \`peer-fanout --path=/yjs|/hocuspocus --token=JWT <protocol> PORT ${fanout.subscribers} ${fanout.ops} ${fanout.window} DOC PID\`
  against the broadcaster of a running collab (all four services): the same clients
  as for the peers, with the token; the writer writes through the edge, so each update
  is produced to Kafka (acks=all) and fanned out only after its delivery report.
- y-websocket, Hocuspocus: \`peer-fanout <peer> PORT ${fanout.subscribers} ${fanout.ops} ${fanout.window} DOC PID\`:
  \`@y/websocket-server\` and \`@hocuspocus/server\` in memory (bench/e2e/peers/),
  each in its own node process; subscribers and writer speak the peer's protocol
  (sync step 1/2 handshake, Hocuspocus' auth), the writer's updates are real Yjs
  updates (our crdt engine inserting "~seq~" + filler into a Y.Text).

| system | received / expected | seconds | msg/s | it / y-websocket, it / Hocuspocus | p50 ms | p99 ms | server CPU s | client CPU s | server write calls per message | lost or out of order |
|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|
${rows.join('\n')}

Target of issue 11, our edge's fan-out at least 20x the peers': ${target || 'not measured'}.
Target of issue 6, at least 500,000 messages/s delivered by one broadcaster with
${fanout.subscribers.toLocaleString('en')} subscribers (v1 read protocol): ${v1 ? (v1.perSecond >= 500000 ? `met (${n0(v1.perSecond)} msg/s)` : `**not met** (${n0(v1.perSecond)} msg/s)`) : 'not measured'}.
Why the gap: both peers are one node thread that, for every update, calls
\`ws.send\` on each of the ${fanout.subscribers.toLocaleString('en')} sockets (a JavaScript call, a frame
and a write each); the broadcaster shares one reference-counted message among
the subscribers and, when a connection has several queued (a burst), frames up
to 1,024 of them into one write (broadcaster/server.c). The two cores
are shared by the server, the subscribers (and, for collab, Kafka), so absolute
figures move between runs; the ratios from one run are the comparable numbers.
${v1 ? `bc-fanout row: \`${v1.row}\`` : ''}
`;
}

function memoryReport(rows, started, loadBefore) {
  const kb = (v) => (v === null || v === undefined ? 'n/a' : v.toFixed(2));
  const mib = (k) => (k / 1024).toFixed(1);
  const lines = rows.map(
    (r) =>
      `| ${r.system} | ${r.protocol} | ${r.joined} / ${r.connections}${r.stayedJoined ? '' : ' (**some closed**)'} | ${r.joinSeconds.toFixed(1)} | ${mib(r.beforeKb)} | ${mib(r.afterKb)} | **${kb(r.perConnectionKb)}** | ${kb(r.perConnectionNoGcKb)} | ${(r.perConnectionKb / memory.yhubKb).toFixed(1)}x |`,
  );
  return `### Memory: RSS per idle connection, ${memory.connections.toLocaleString('en')} joined connections on one server process

Command: \`BENCH_PARTS=memory bench/e2e/run.sh\` (\`BENCH_MEMORY_CONNECTIONS\`). Measured ${started} UTC
on this machine (${machine()}); before the part: ${loadBefore}. Versions: ${versions}.

\`peer-fanout --idle\` (bench/broadcaster/peer_fanout.c, one epoll loop in C) opens
${memory.connections.toLocaleString('en')} WebSocket connections to one document and joins each as the stock
provider does: y-websocket sync step 1 -> the server's step 2 (and its step 1);
Hocuspocus auth (token) + sync step 1 -> authenticated + step 2. Once all are
joined it keeps them open, answering pings, sending nothing. The figure is the
server process' VmRSS (\`/proc/PID/status\`) ${memory.settleMs / 1000} s after the last join minus its VmRSS
right before the first connection, divided by ${memory.connections.toLocaleString('en')}. Our edge: one
broadcaster process (Release, a fresh one per dialect, of a running collab), the token
in the URL / auth message. The node peers run with \`--expose-gc\` and a full garbage
collection is forced (SIGUSR2, bench/e2e/peers/) before each reading, so their figure
is live memory, not garbage not yet collected; the column after it is without that
collection. Kernel socket buffers are not in RSS, for any of them. Reference: y/hub
publishes ${memory.yhubKb} KB per idle connection.

| server | protocol | joined | join s | RSS before MiB | RSS after MiB | KB per connection | KB per connection, no forced GC | / y/hub's ${memory.yhubKb} KB |
|---|---|---:|---:|---:|---:|---:|---:|---:|
${lines.join('\n')}

`;
}

function joinReport(rows, started, loadBefore) {
  const s1 = (v) => (v === null || v === undefined ? 'n/a' : v.toFixed(1));
  const lines = rows.map(
    (r) =>
      `| ${SYSTEMS[r.id].label} | ${r.synced} / ${r.joiners}${r.wrongLength ? ` (**${r.wrongLength} short**)` : ''} | ${ms(r.p50)} | ${ms(r.p99)} | ${ms(r.max)} | ${s1(r.cpu?.broadcaster ?? r.cpu?.server)} | ${s1(r.generatorCpuSeconds)} | ${r.generatorLoopDelaysP99Ms.map(ms).join(', ')} | ${counts(r.closes)} |`,
  );
  const mb = (join.bytes / 1048576).toFixed(1);
  return `### Join storm: ${join.joiners} providers join one ${mb} MiB document at once

Command: \`BENCH_PARTS=joinstorm bench/e2e/run.sh\` (\`BENCH_JOIN_CLIENTS\`, \`BENCH_JOIN_BYTES\`,
\`BENCH_JOIN_CHUNK\`). Measured ${started} UTC on this machine (${machine()}); before the part:
${loadBefore}. Versions: ${versions}.

Before the storm, one provider of the system fills a \`Y.Text\` with ${join.bytes.toLocaleString('en')} bytes of
text in ${Math.ceil(join.bytes / join.chunk)} inserts of ${join.chunk.toLocaleString('en')} bytes (each one update, under Kafka's 1 MB message
limit) and stays connected (the peers keep a document only while a client is connected);
then fresh providers sync until one sees the whole length (for our edge that means Kafka
acknowledged all of it: the edge serves only what Kafka acknowledged). Then ${join.joiners} stock
providers (each its own \`Y.Doc\` and socket, in ${generators} generator processes) are created at one
instant, and each is timed from \`new Provider(...)\` to its \`synced\` event; its text length
is checked then. Our edge serves the document from its live copy in memory (the builder's
channel is open), as the peers do. Between the build and the storm the run waits until the
machine is quiet (the collab services, Kafka, FerretDB and Redis together under 0.15 of a
core over a second: the processor's and snapshotter's writes of the new document are behind
it). "server CPU s" (the broadcaster or the peer) and "generators CPU s" are over the storm;
${join.joiners} x ${mb} MiB is ${((join.joiners * join.bytes) / 2 ** 30).toFixed(1)} GiB through loopback and the providers' decoding on the same
cores, which bounds every row alike.

| system | synced / joiners | p50 ms | p99 ms | max ms | server CPU s | generators CPU s | generator loop delay p99 ms | close codes seen |
|---|---:|---:|---:|---:|---:|---:|---:|---|
${lines.join('\n')}

`;
}

/** Replaces the block between `name`'s markers in docFile (or adds it after `after`'s). */
function writeSection(name, section, after) {
  const BEGIN = `<!-- bench:${name}:begin (written by bench/e2e/run.sh; edits here are overwritten) -->`;
  const END = `<!-- bench:${name}:end -->`;
  const block = `${BEGIN}\n${section}${END}`;
  let doc = fs.readFileSync(docFile, 'utf8');
  const b = doc.indexOf(BEGIN);
  const e = doc.indexOf(END);
  const afterEnd = after ? doc.indexOf(`<!-- bench:${after}:end -->`) : -1;
  if (b >= 0 && e > b) {
    doc = doc.slice(0, b) + block + doc.slice(e + END.length);
  } else if (afterEnd >= 0) {
    const at = afterEnd + `<!-- bench:${after}:end -->`.length;
    doc = `${doc.slice(0, at)}\n\n${block}${doc.slice(at)}`;
  } else {
    doc = doc.replace(/\n*$/, '\n\n') + block + '\n';
  }
  fs.writeFileSync(docFile, doc);
}

// ---- main ----

const publish = (name, section, after) => {
  writeSection(name, section, after);
  console.log(section);
};
const startPart = (name) => {
  say(`part ${name} (${loadavg()})`);
  return { started: when(), loadBefore: loadavg() };
};
if (parts.has('latency')) {
  const { started, loadBefore } = startPart('latency');
  const shape = { rate: load.rate, seconds: load.seconds, warmup: load.warmup };
  const results = await measureAll([shape]);
  results.loadBefore = loadBefore;
  publish('e2e', latencyReport(results, shape, started));
  fs.writeFileSync(path.join(work, 'latency.json'), JSON.stringify(results));
}
if (parts.has('sweep')) {
  const { started, loadBefore } = startPart('sweep');
  const shapes = sweep.rates.map((rate) => ({
    rate,
    seconds: sweep.seconds,
    warmup: sweep.warmup,
  }));
  const results = await measureAll(shapes);
  publish('e2e-sweep', sweepReport(results, started, loadBefore), 'e2e');
  fs.writeFileSync(path.join(work, 'sweep.json'), JSON.stringify(results));
}
if (parts.has('fanout')) {
  const { started, loadBefore } = startPart('fanout');
  publish('e2e-fanout', fanoutReport(await benchFanout(), started, loadBefore), 'e2e-sweep');
}
if (parts.has('memory')) {
  const { started, loadBefore } = startPart('memory');
  publish('e2e-memory', memoryReport(await benchMemory(), started, loadBefore), 'e2e-fanout');
}
if (parts.has('joinstorm')) {
  const { started, loadBefore } = startPart('joinstorm');
  publish('e2e-joinstorm', joinReport(await benchJoinStorm(), started, loadBefore), 'e2e-memory');
}
say(`raw results in ${work}`);
