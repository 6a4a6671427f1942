// The four services as separate processes for one end-to-end run: free ports,
// unique Kafka topics / consumer groups / transactional id and a MongoDB
// database of the run's own, so runs can overlap and be repeated. Each process
// logs to a file in the run directory; `dumpLogs` prints them when a test
// failed. The Kafka, MongoDB-protocol and Redis servers are the local stack's
// (COLLAB_* variables, deploy/local/env.sh).

import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

import { waitUntil } from './wait.mjs';

const env = process.env;
export const binDir = env.COLLAB_BIN_DIR ?? path.resolve(import.meta.dirname, '../../../build/bin');
export const servers = {
  kafka: env.COLLAB_KAFKA_BROKERS ?? '127.0.0.1:9092',
  mongoUri: env.COLLAB_MONGO_URI ?? 'mongodb://127.0.0.1:27017',
  redisUrl: env.COLLAB_REDIS_URL ?? 'redis://127.0.0.1:6379',
};

/** A TCP port nobody listens on right now, on 127.0.0.1. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** Names and settings unique to this run. */
export async function newRun(name) {
  const id = `${name}${Date.now().toString(36)}${process.pid.toString(36)}`;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `collab-${name}-`));
  return {
    id,
    dir,
    mongoDb: `e2e_${id}`.replace(/[^A-Za-z0-9_]/g, '_'),
    opsTopic: `e2e.${id}.ops`,
    mergedTopic: `e2e.${id}.merged`,
    dlqTopic: `e2e.${id}.dlq`,
    processorGroup: `e2e-${id}-processor`,
    snapshotterGroup: `e2e-${id}-snapshotter`,
    transactionalId: `e2e-${id}-processor`,
    jwtSecret: randomBytes(32).toString('hex'),
    ports: {
      ingest: await freePort(),
      broadcaster: await freePort(),
      ingestMetrics: await freePort(),
      broadcasterMetrics: await freePort(),
      processorMetrics: await freePort(),
      snapshotterMetrics: await freePort(),
    },
  };
}

/** Settings every service of the run shares (flags win over the environment). */
function commonFlags(run, instance) {
  return [
    `--kafka-brokers=${servers.kafka}`,
    `--mongo-uri=${servers.mongoUri}`,
    `--mongo-db=${run.mongoDb}`,
    `--redis-url=${servers.redisUrl}`,
    `--instance-id=${run.id}-${instance}`,
  ];
}

/** Cheap argon2 so that logins do not dominate the run (a test setting only). */
const ARGON2_FLAGS = ['--argon2-opslimit=1', '--argon2-memlimit=8MiB'];

/** Flags of each service: name -> [binary, args, metrics port]. */
export function serviceSpecs(run, options = {}) {
  const p = run.ports;
  const jwt = [`--jwt-secret=${run.jwtSecret}`];
  return {
    processor: [
      'processor',
      [
        ...commonFlags(run, 'processor'),
        `--metrics-listen=127.0.0.1:${p.processorMetrics}`,
        `--ops-topic=${run.opsTopic}`,
        `--merged-topic=${run.mergedTopic}`,
        `--dlq-topic=${run.dlqTopic}`,
        `--group-id=${run.processorGroup}`,
        `--snapshotter-group=${run.snapshotterGroup}`,
        `--transactional-id=${run.transactionalId}`,
        `--partitions=${options.partitions ?? 3}`,
        ...(options.processor ?? []),
      ],
      p.processorMetrics,
    ],
    snapshotter: [
      'snapshotter',
      [
        ...commonFlags(run, 'snapshotter'),
        `--metrics-listen=127.0.0.1:${p.snapshotterMetrics}`,
        `--merged-topic=${run.mergedTopic}`,
        `--dlq-topic=${run.dlqTopic}`,
        `--group-id=${run.snapshotterGroup}`,
        ...(options.snapshotter ?? []),
      ],
      p.snapshotterMetrics,
    ],
    broadcaster: [
      'broadcaster',
      [
        ...commonFlags(run, 'broadcaster'),
        ...jwt,
        `--metrics-listen=127.0.0.1:${p.broadcasterMetrics}`,
        `--listen=127.0.0.1:${p.broadcaster}`,
        `--merged-topic=${run.mergedTopic}`,
        `--ops-topic=${run.opsTopic}`,
        ...(options.broadcaster ?? []),
      ],
      p.broadcasterMetrics,
    ],
    ingest: [
      'ingest',
      [
        ...commonFlags(run, 'ingest'),
        ...jwt,
        ...ARGON2_FLAGS,
        `--metrics-listen=127.0.0.1:${p.ingestMetrics}`,
        `--listen=127.0.0.1:${p.ingest}`,
        `--ops-topic=${run.opsTopic}`,
        `--partitions=${options.partitions ?? 3}`,
        ...(options.ingest ?? []),
      ],
      p.ingestMetrics,
    ],
  };
}

/**
 * Starts every service in pipeline order (the processor creates the merged
 * topic the others read), each once the previous one reports ready.
 */
export class Services {
  constructor(run, options = {}) {
    this.run = run;
    this.specs = serviceSpecs(run, options);
    this.procs = new Map(); // name -> {child, exited: Promise<{code, signal}>, log}
    this.starts = new Map(); // name -> count, for log file names
  }

  async startAll(timeoutMs = 90_000) {
    for (const name of ['processor', 'snapshotter', 'broadcaster', 'ingest']) {
      await this.start(name, timeoutMs);
    }
  }

  /** Spawns one service and waits until its /readyz answers 200. */
  async start(name, timeoutMs = 90_000) {
    const [binary, args, metricsPort] = this.specs[name];
    const file = path.join(binDir, binary);
    if (!fs.existsSync(file)) {
      throw new Error(`${file} is not built`);
    }
    const n = (this.starts.get(name) ?? 0) + 1;
    this.starts.set(name, n);
    const log = path.join(this.run.dir, `${name}.${n}.log`);
    const out = fs.openSync(log, 'a');
    const child = spawn(file, args, { stdio: ['ignore', out, out] });
    fs.closeSync(out);
    const exited = new Promise((resolve) =>
      child.on('exit', (code, signal) => resolve({ code, signal })),
    );
    const entry = { child, exited, log, done: false };
    exited.then(() => (entry.done = true));
    this.procs.set(name, entry);
    await waitUntil(
      async () => {
        if (entry.done) {
          throw new Error(`${name} exited during start-up: ${await this.tail(name)}`);
        }
        return (await httpStatus(`http://127.0.0.1:${metricsPort}/readyz`)) === 200;
      },
      `${name} ready`,
      timeoutMs,
    );
    return entry;
  }

  /** SIGKILL: the process gets no chance to flush or commit anything. */
  async kill(name) {
    const entry = this.procs.get(name);
    entry.child.kill('SIGKILL');
    return entry.exited;
  }

  /** SIGTERM, then SIGKILL after `graceMs`; resolves with how it ended. */
  async stop(name, graceMs = 30_000) {
    const entry = this.procs.get(name);
    if (entry === undefined || entry.done) {
      return entry ? entry.exited : undefined;
    }
    entry.child.kill('SIGTERM');
    const timer = setTimeout(() => entry.child.kill('SIGKILL'), graceMs);
    const result = await entry.exited;
    clearTimeout(timer);
    return result;
  }

  /** Stops every service (readers first), returns name -> {code, signal}. */
  async stopAll() {
    const results = {};
    for (const name of ['ingest', 'broadcaster', 'snapshotter', 'processor']) {
      if (this.procs.has(name)) {
        results[name] = await this.stop(name);
      }
    }
    return results;
  }

  running(name) {
    const entry = this.procs.get(name);
    return entry !== undefined && !entry.done;
  }

  async tail(name, lines = 40) {
    const entry = this.procs.get(name);
    if (!entry) return '';
    const text = fs.readFileSync(entry.log, 'utf8').trimEnd().split('\n');
    return text.slice(-lines).join('\n');
  }

  /** Every log file of the run, for a failed test's output. */
  dumpLogs(lines = 80) {
    for (const file of fs.readdirSync(this.run.dir).sort()) {
      const text = fs.readFileSync(path.join(this.run.dir, file), 'utf8').trimEnd().split('\n');
      console.error(`---- ${file} (last ${lines} lines of ${text.length}) ----`);
      console.error(text.slice(-lines).join('\n'));
    }
  }
}

async function httpStatus(url) {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
    await res.arrayBuffer();
    return res.status;
  } catch {
    return 0;
  }
}

/** Runs build/bin/collab-admin with the run's database; resolves with its JSON lines. */
export function admin(run, args) {
  return new Promise((resolve, reject) => {
    const child = spawn(
      path.join(binDir, 'collab-admin'),
      [`--mongo-uri=${servers.mongoUri}`, `--mongo-db=${run.mongoDb}`, ...ARGON2_FLAGS, ...args],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    let err = '';
    child.stdout.on('data', (c) => (out += c));
    child.stderr.on('data', (c) => (err += c));
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code !== 0) {
        reject(new Error(`collab-admin ${args.join(' ')}: exit ${code}: ${err.trim()}`));
        return;
      }
      resolve(
        out
          .split('\n')
          .filter((l) => l.trim() !== '')
          .map((l) => JSON.parse(l)),
      );
    });
  });
}
