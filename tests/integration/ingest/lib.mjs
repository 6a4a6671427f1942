// Helpers of the ingest integration tests: start build/bin/ingest as its own
// process on free ports with a unique topic and database, create users with
// build/bin/collab-admin, speak the client protocol of docs/protocol.md over
// a real WebSocket, forge JWTs for the refusal cases, and read collab.ops
// back with a read_committed Kafka consumer. Every wait has a deadline.
import { spawn, spawnSync } from 'node:child_process';
import { createHmac, randomBytes } from 'node:crypto';
import { openSync, closeSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import WebSocket from 'ws';

export const BIN = process.env.COLLAB_BIN_DIR ?? join(process.cwd(), '../../../build/bin');
export const SOURCE = process.env.COLLAB_SOURCE_DIR ?? join(process.cwd(), '../../..');
export const BROKERS = process.env.COLLAB_KAFKA_BROKERS ?? '127.0.0.1:9092';
export const MONGO_URI = process.env.COLLAB_MONGO_URI ?? 'mongodb://127.0.0.1:27017';
export const REDIS_URL = process.env.COLLAB_REDIS_URL ?? 'redis://127.0.0.1:6379';

export const SECRET = 'integration-test-secret-0123456789abcdef';
export const ISSUER = 'collab-itest';
export const AUDIENCE = 'collab-itest-aud';

export function uniqueName(prefix) {
  return `${prefix}-${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;
}

export async function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Polls fn until it returns a truthy value or the deadline passes.
export async function waitFor(fn, timeoutMs, what) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    await sleep(50);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${last})`);
}

// The environment shared by ingest and collab-admin of one test file.
export function serviceEnv(db) {
  return {
    ...process.env,
    COLLAB_KAFKA_BROKERS: BROKERS,
    COLLAB_MONGO_URI: MONGO_URI,
    COLLAB_MONGO_DB: db,
    COLLAB_REDIS_URL: REDIS_URL,
    COLLAB_JWT_ALG: 'HS256',
    COLLAB_JWT_SECRET: SECRET,
    COLLAB_JWT_ISSUER: ISSUER,
    COLLAB_JWT_AUDIENCE: AUDIENCE,
    // Cheap hashes: the tests log in often; the cost is not what they test.
    COLLAB_ARGON2_OPSLIMIT: '1',
    COLLAB_ARGON2_MEMLIMIT: '8MiB',
    ASAN_OPTIONS: process.env.ASAN_OPTIONS ?? 'detect_leaks=1',
  };
}

// Starts ingest; resolves once /readyz answers 200. extraArgs: more flags.
export async function startIngest({ db, topic, extraArgs = [] }) {
  const port = await freePort();
  const metricsPort = await freePort();
  const logPath = join(tmpdir(), `${uniqueName('ingest')}.log`);
  const fd = openSync(logPath, 'w');
  const args = [
    '--listen', `127.0.0.1:${port}`,
    '--metrics-listen', `127.0.0.1:${metricsPort}`,
    '--ops-topic', topic,
    '--partitions', '3',
    ...extraArgs,
  ];
  const child = spawn(join(BIN, 'ingest'), args, {
    env: serviceEnv(db),
    stdio: ['ignore', fd, fd],
  });
  closeSync(fd);
  let exited = null;
  child.on('exit', (code, signal) => {
    exited = { code, signal };
  });
  const svc = {
    child, port, metricsPort, logPath, db, topic,
    url: `http://127.0.0.1:${port}`,
    wsUrl: `ws://127.0.0.1:${port}`,
    exited: () => exited,
    log: () => readFileSync(logPath, 'utf8'),
    async stop(signal = 'SIGTERM') {
      if (exited) return exited;
      const done = new Promise((r) => child.once('exit', (code, sig) => r({ code, signal: sig })));
      child.kill(signal);
      let timer;
      const timeout = new Promise((r) => { timer = setTimeout(() => r({ code: 'timeout' }), 30000); });
      const result = await Promise.race([done, timeout]);
      clearTimeout(timer);
      return result;
    },
  };
  await waitFor(async () => {
    if (exited) throw new Error(`ingest exited early (${JSON.stringify(exited)}): ${svc.log()}`);
    const r = await fetch(`http://127.0.0.1:${metricsPort}/readyz`);
    return r.status === 200;
  }, 60000, 'ingest readiness').catch((e) => {
    child.kill('SIGKILL');
    throw e;
  });
  return svc;
}

export async function metricsText(svc) {
  const r = await fetch(`http://127.0.0.1:${svc.metricsPort}/metrics`);
  return r.text();
}

// The value of one sample of the exposition text, 0 when absent.
export function sample(text, name, labels = '') {
  const key = labels ? `${name}{${labels}}` : name;
  for (const line of text.split('\n')) {
    if (line.startsWith(key + ' ')) return Number(line.slice(key.length + 1));
  }
  return 0;
}

export function admin(db, args, input) {
  const r = spawnSync(join(BIN, 'collab-admin'), args, {
    env: serviceEnv(db),
    input: input ?? '',
    encoding: 'utf8',
    timeout: 60000,
  });
  if (r.status !== 0) {
    throw new Error(`collab-admin ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
  }
  return r.stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));
}

export function createUser(db, username, password) {
  return admin(db, ['user-create', '--username', username, '--name', username.toUpperCase(),
    '--password', password])[0];
}

export async function api(svc, method, path, { token, body, rawBody } = {}) {
  const headers = {};
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined || rawBody !== undefined) headers['content-type'] = 'application/json';
  const r = await fetch(svc.url + path, {
    method,
    headers,
    body: rawBody ?? (body !== undefined ? JSON.stringify(body) : undefined),
  });
  const text = await r.text();
  let json = null;
  try {
    json = JSON.parse(text);
  } catch {
    json = null;
  }
  return { status: r.status, json, text };
}

export async function login(svc, username, password) {
  const r = await api(svc, 'POST', '/v1/login', { body: { username, password } });
  if (r.status !== 200) throw new Error(`login ${username}: ${r.status} ${r.text}`);
  return r.json.access_token;
}

// ---- JWTs for the refusal cases (HS256 by hand, as any attacker could) ----

const b64url = (buf) => Buffer.from(buf).toString('base64url');

export function forgeToken({ alg = 'HS256', secret = SECRET, claims = {}, header = {} } = {}) {
  const now = Math.floor(Date.now() / 1000);
  const payload = {
    sub: '0'.repeat(32), iss: ISSUER, aud: AUDIENCE, iat: now, nbf: now, exp: now + 600,
    jti: randomBytes(16).toString('hex'), ...claims,
  };
  const h = b64url(JSON.stringify({ alg, typ: 'JWT', ...header }));
  const p = b64url(JSON.stringify(payload));
  if (alg === 'none') return `${h}.${p}.`;
  const sig = createHmac('sha256', secret).update(`${h}.${p}`).digest();
  return `${h}.${p}.${b64url(sig)}`;
}

// ---- lib0 encoding of the client protocol ----

export class Writer {
  constructor() { this.bytes = []; }
  uint(n) {
    let v = BigInt(n);
    while (v >= 0x80n) { this.bytes.push(Number((v & 0x7fn) | 0x80n)); v >>= 7n; }
    this.bytes.push(Number(v));
    return this;
  }
  buf(b) { this.uint(b.length); for (const x of b) this.bytes.push(x); return this; }
  str(s) { return this.buf(Buffer.from(s, 'utf8')); }
  raw(b) { for (const x of b) this.bytes.push(x); return this; }
  done() { return Buffer.from(this.bytes); }
}

export class Reader {
  constructor(buf) { this.b = buf; this.i = 0; }
  uint() {
    let v = 0n, shift = 0n;
    for (;;) {
      if (this.i >= this.b.length) throw new Error('truncated');
      const x = this.b[this.i++];
      v |= BigInt(x & 0x7f) << shift;
      if (x < 0x80) return Number(v);
      shift += 7n;
    }
  }
  buf() { const n = this.uint(); const out = this.b.subarray(this.i, this.i + n); this.i += n; return out; }
  str() { return this.buf().toString('utf8'); }
  left() { return this.b.length - this.i; }
}

export const T = {
  AWARENESS: 1, UPDATE: 16, ITEM_WRITE: 17, ITEM_RESOLVE: 18,
  HELLO: 32, ACK: 33, NACK: 34, ERROR: 35,
};

export function updateFrame(opId, clientId, update) {
  return new Writer().uint(T.UPDATE).str(opId).uint(clientId).uint(Date.now()).buf(update).done();
}

export function itemFrame(type, opId, clientId, itemId, value, clock) {
  const w = new Writer().uint(type).str(opId).uint(clientId).uint(Date.now()).str(itemId)
    .buf(Buffer.from(value)).uint(clock.length);
  for (const [id, counter] of clock) w.uint(id).uint(counter);
  return w.done();
}

export function awarenessFrame(entries) {
  const inner = new Writer().uint(entries.length);
  for (const { id, clock, state } of entries) inner.uint(id).uint(clock).str(JSON.stringify(state));
  return new Writer().uint(T.AWARENESS).buf(inner.done()).done();
}

export function decodeServer(buf) {
  const r = new Reader(buf);
  const type = r.uint();
  switch (type) {
    case T.HELLO: return { type: 'HELLO', connectionId: r.str(), maxMessageBytes: r.uint(), maxOpsPerSecond: r.uint() };
    case T.ACK: return { type: 'ACK', opId: r.str(), partition: r.uint(), offset: r.uint() };
    case T.NACK: return { type: 'NACK', opId: r.str(), code: r.str(), message: r.str(), retryAfterMs: r.uint() };
    case T.ERROR: return { type: 'ERROR', code: r.str(), message: r.str() };
    default: return { type: `UNKNOWN(${type})` };
  }
}

// A write connection; collects every server message. token via query
// (default) or the Sec-WebSocket-Protocol header.
export async function connect(svc, docId, token, { via = 'query' } = {}) {
  let url = `${svc.wsUrl}/v1/documents/${docId}/write`;
  let protocols;
  if (via === 'query' && token) url += `?access_token=${token}`;
  if (via === 'protocol' && token) protocols = ['collab.v1', `bearer.${token}`];
  const ws = new WebSocket(url, protocols);
  const conn = { ws, messages: [], closed: null, status: null, body: null };
  ws.on('message', (data, isBinary) => {
    conn.messages.push(isBinary ? decodeServer(data) : { type: 'TEXT' });
  });
  ws.on('close', (code) => { conn.closed = { code }; });
  ws.on('error', () => {});
  await new Promise((resolve) => {
    ws.once('open', resolve);
    ws.once('unexpected-response', (req, res) => {
      conn.status = res.statusCode;
      let body = '';
      res.on('data', (d) => { body += d; });
      res.on('end', () => {
        try { conn.body = JSON.parse(body); } catch { conn.body = body; }
        resolve();
      });
    });
    ws.once('error', resolve);
  });
  if (conn.status === null && ws.readyState === WebSocket.OPEN) conn.status = 101;
  conn.send = (buf) => ws.send(buf, { binary: true });
  conn.answerFor = (opId, timeoutMs = 15000) => waitFor(
    () => conn.messages.find((m) => (m.type === 'ACK' || m.type === 'NACK') && m.opId === opId),
    timeoutMs, `answer to ${opId}`);
  conn.waitMessage = (pred, timeoutMs = 15000, what = 'a message') =>
    waitFor(() => conn.messages.find(pred), timeoutMs, what);
  conn.waitClosed = (timeoutMs = 15000) => waitFor(() => conn.closed, timeoutMs, 'close');
  conn.close = () => { try { ws.close(); } catch { /* already closed */ } };
  return conn;
}

// ---- reading collab.ops back ----

// Decodes the head of a ClientOp in single-object encoding: marker,
// fingerprint, then doc_id and op_id (Avro strings: zigzag length + bytes).
export function decodeClientOpHead(value) {
  if (value[0] !== 0xc3 || value[1] !== 0x01) throw new Error('not Avro single-object encoding');
  let i = 10;
  const long = () => {
    let v = 0n, shift = 0n;
    for (;;) {
      const b = value[i++];
      v |= BigInt(b & 0x7f) << shift;
      if (b < 0x80) break;
      shift += 7n;
    }
    return Number((v >> 1n) ^ -(v & 1n));
  };
  const str = () => { const n = long(); const s = value.subarray(i, i + n).toString('utf8'); i += n; return s; };
  const docId = str();
  const opId = str();
  return { docId, opId };
}

// Consumes the whole topic with a read_committed consumer until until(records)
// is true or the deadline passes; returns every record seen.
export async function readTopic(topic, until, timeoutMs = 30000) {
  const kafka = new Kafka({ clientId: uniqueName('itest-reader'), brokers: BROKERS.split(','), logLevel: logLevel.NOTHING });
  const consumer = kafka.consumer({ groupId: uniqueName('itest-group'), readUncommitted: false });
  const records = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ partition, message }) => {
        const head = decodeClientOpHead(message.value);
        records.push({ partition, offset: Number(message.offset), key: message.key.toString(), ...head });
      },
    });
    await waitFor(() => until(records), timeoutMs, `records of ${topic}`).catch(() => {});
  } finally {
    await consumer.disconnect();
  }
  return records;
}
