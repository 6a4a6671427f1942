// In-process fake ingest, broadcaster and login endpoint for the client's
// unit tests, speaking docs/protocol.md with the `ws` package. The wire codec
// here is written from the protocol page with lib0 directly (not imported from
// the client) so that a mistake in the client's codec cannot hide itself.
// A shared FakeBackend stands in for Kafka + processor: it orders ops per
// document into versions, applies each op id once and fans merged ops out.

import http from 'node:http';

import * as decoding from 'lib0/decoding';
import * as encoding from 'lib0/encoding';
import { WebSocketServer } from 'ws';
import * as awarenessProtocol from 'y-protocols/awareness';
import * as Y from 'yjs';

export const T = {
  AWARENESS: 1,
  UPDATE: 16,
  ITEM_WRITE: 17,
  ITEM_RESOLVE: 18,
  HELLO: 32,
  ACK: 33,
  NACK: 34,
  ERROR: 35,
  STATE: 48,
  MERGED: 49,
  ITEM: 50,
  RESYNC: 51,
  SYNCED: 52,
};

function frame(type, write) {
  const e = encoding.createEncoder();
  encoding.writeVarUint(e, type);
  write(e);
  return encoding.toUint8Array(e);
}

export const wire = {
  hello: (id, maxBytes, maxOps) =>
    frame(T.HELLO, (e) => {
      encoding.writeVarString(e, id);
      encoding.writeVarUint(e, maxBytes);
      encoding.writeVarUint(e, maxOps);
    }),
  ack: (opId, partition, offset) =>
    frame(T.ACK, (e) => {
      encoding.writeVarString(e, opId);
      encoding.writeVarUint(e, partition);
      encoding.writeVarUint(e, offset);
    }),
  nack: (opId, code, message, retryAfterMs) =>
    frame(T.NACK, (e) => {
      encoding.writeVarString(e, opId);
      encoding.writeVarString(e, code);
      encoding.writeVarString(e, message);
      encoding.writeVarUint(e, retryAfterMs);
    }),
  error: (code, message) =>
    frame(T.ERROR, (e) => {
      encoding.writeVarString(e, code);
      encoding.writeVarString(e, message);
    }),
  state: (version, update) =>
    frame(T.STATE, (e) => {
      encoding.writeVarUint(e, version);
      encoding.writeVarUint8Array(e, update);
    }),
  merged: (version, opId, ingestTimeMs, update) =>
    frame(T.MERGED, (e) => {
      encoding.writeVarUint(e, version);
      encoding.writeVarString(e, opId);
      encoding.writeVarUint(e, ingestTimeMs);
      encoding.writeVarUint8Array(e, update);
    }),
  item: (version, opId, ingestTimeMs, json) =>
    frame(T.ITEM, (e) => {
      encoding.writeVarUint(e, version);
      encoding.writeVarString(e, opId);
      encoding.writeVarUint(e, ingestTimeMs);
      encoding.writeVarString(e, json);
    }),
  resync: (reason) => frame(T.RESYNC, (e) => encoding.writeVarString(e, reason)),
  synced: (version) => frame(T.SYNCED, (e) => encoding.writeVarUint(e, version)),
  awareness: (update) => frame(T.AWARENESS, (e) => encoding.writeVarUint8Array(e, update)),
};

/** Decodes a client -> ingest frame; throws on anything docs/protocol.md does not allow. */
export function decodeClientFrame(bytes) {
  const d = decoding.createDecoder(bytes);
  const type = decoding.readVarUint(d);
  let msg;
  if (type === T.AWARENESS) {
    msg = { type: 'awareness', update: decoding.readVarUint8Array(d) };
  } else if (type === T.UPDATE || type === T.ITEM_WRITE || type === T.ITEM_RESOLVE) {
    msg = {
      type: type === T.UPDATE ? 'update' : type === T.ITEM_WRITE ? 'item_write' : 'item_resolve',
      opId: decoding.readVarString(d),
      clientId: decoding.readVarUint(d),
      clientTimeMs: decoding.readVarUint(d),
    };
    if (!/^[\x21-\x7e]{1,64}$/.test(msg.opId)) {
      throw new Error(`bad op id ${msg.opId}`);
    }
    if (type === T.UPDATE) {
      msg.update = decoding.readVarUint8Array(d);
    } else {
      msg.itemId = decoding.readVarString(d);
      msg.value = decoding.readVarUint8Array(d);
      const n = decoding.readVarUint(d);
      if (n > 1024) throw new Error('clock too long');
      msg.clock = [];
      for (let i = 0; i < n; i++) {
        const client = decoding.readVarUint(d);
        const counter = decoding.readVarUint(d);
        if (counter === 0 || (i > 0 && client <= msg.clock[i - 1][0])) {
          throw new Error('clock not canonical');
        }
        msg.clock.push([client, counter]);
      }
    }
  } else {
    throw new Error(`unknown type ${type}`);
  }
  if (decoding.hasContent(d)) {
    throw new Error('trailing bytes');
  }
  return msg;
}

/** Makes a token that looks like a JWT (header.payload.signature) with the given exp. */
export function fakeJwt(sub, expSeconds) {
  const b64 = (obj) => Buffer.from(JSON.stringify(obj)).toString('base64url');
  return `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64({ sub, exp: expSeconds })}.c2ln`;
}

/** Kafka + processor stand-in: versions per document, each op id applied once. */
export class FakeBackend {
  constructor() {
    this.docs = new Map();
  }

  doc(docId) {
    let d = this.docs.get(docId);
    if (!d) {
      d = {
        ydoc: new Y.Doc(),
        version: 0,
        log: [],
        /** item id -> the newest item state JSON (sent after a STATE). */
        items: new Map(),
        opIds: new Set(),
        readers: new Set(),
        offset: 0,
      };
      this.docs.set(docId, d);
    }
    return d;
  }

  /** Stores an op like Kafka (returns its offset); merges it once per op id. */
  commit(docId, msg) {
    const d = this.doc(docId);
    const offset = d.offset++;
    if (d.opIds.has(msg.opId)) {
      return offset; // a resend: stored again, applied once
    }
    d.opIds.add(msg.opId);
    if (msg.type === 'update') {
      Y.applyUpdate(d.ydoc, msg.update);
      this.publish(docId, { kind: 'merged', opId: msg.opId, update: msg.update });
    }
    return offset;
  }

  /** Appends a versioned entry and sends it to every reader (unless `skipVersion` says so). */
  publish(docId, entry) {
    const d = this.doc(docId);
    d.version++;
    const full = { ...entry, version: d.version, ingestTimeMs: Date.now() };
    d.log.push(full);
    if (entry.kind === 'item') {
      d.items.set(JSON.parse(entry.json).item_id, entry.json);
    }
    for (const reader of d.readers) {
      reader.deliver(full);
    }
    return d.version;
  }

  publishItem(docId, state) {
    return this.publish(docId, {
      kind: 'item',
      opId: `item-${Math.random()}`,
      json: JSON.stringify(state),
    });
  }
}

export function encodeEntry(entry) {
  return entry.kind === 'merged'
    ? wire.merged(entry.version, entry.opId, entry.ingestTimeMs, entry.update)
    : wire.item(entry.version, entry.opId, entry.ingestTimeMs, entry.json);
}

function tokenOf(request, url) {
  const query = url.searchParams.get('access_token');
  if (query) return query;
  const protocols = (request.headers['sec-websocket-protocol'] ?? '')
    .split(',')
    .map((s) => s.trim());
  if (!protocols.includes('collab.v1')) return undefined;
  const bearer = protocols.find((p) => p.startsWith('bearer.'));
  return bearer ? bearer.slice('bearer.'.length) : undefined;
}

/**
 * Starts an HTTP server with the login endpoint, the ingest write endpoint
 * and the broadcaster read endpoint on 127.0.0.1 (random port). Every
 * behaviour a test changes is a plain field of the returned object.
 */
export async function startFakes() {
  const backend = new FakeBackend();
  const users = new Map([
    ['alice', 'secret-a'],
    ['bob', 'secret-b'],
  ]);
  const fakes = {
    backend,
    validTokens: new Set(['token-alice', 'token-bob']),
    logins: 0,
    maxMessageBytes: 1024 * 1024,
    maxOpsPerSecond: 0,
    /** (msg) => 'ack' | 'hold' | {code, message, retryAfterMs}; default ack. */
    decide: () => 'ack',
    held: [],
    received: [],
    writeConnections: [],
    readConnections: [],
    readUrls: [],
    /** Versions the broadcaster "loses" once, to make gaps. */
    skipVersions: new Set(),
    /** Oldest version the broadcaster can still replay; older `since` gets a STATE. */
    historyFrom: 1,
    /** Whether the broadcaster sends SYNCED (false: an older server, the client's fallback). */
    sendSynced: true,
    tokenTransports: [],
  };

  const server = http.createServer((req, res) => {
    if (req.method === 'POST' && req.url === '/v1/login') {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        let creds;
        try {
          creds = JSON.parse(body);
        } catch {
          res.writeHead(400, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ error: { code: 'bad_request', message: 'not JSON' } }));
          return;
        }
        if (users.get(creds.username) !== creds.password) {
          res.writeHead(401, { 'content-type': 'application/json' });
          res.end(
            JSON.stringify({
              error: { code: 'bad_credentials', message: 'wrong username or password' },
            }),
          );
          return;
        }
        fakes.logins++;
        const token = fakeJwt(creds.username, Math.floor(Date.now() / 1000) + 3600);
        fakes.validTokens.add(token);
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({
            access_token: token,
            token_type: 'Bearer',
            expires_in: 3600,
            user: { id: creds.username, username: creds.username },
          }),
        );
      });
      return;
    }
    res.writeHead(404).end();
  });

  const wss = new WebSocketServer({
    noServer: true,
    handleProtocols: (protocols) => (protocols.has('collab.v1') ? 'collab.v1' : false),
  });

  server.on('upgrade', (request, socket, head) => {
    socket.on('error', () => {}); // a client resetting the connection is not a test failure
    const url = new URL(request.url, 'http://127.0.0.1');
    const match = /^\/v1\/documents\/([A-Za-z0-9._~-]{1,128})\/(write|read)$/.exec(url.pathname);
    const reject = (status) => {
      socket.end(
        `HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`,
      );
    };
    if (!match) return reject(404);
    const token = tokenOf(request, url);
    if (!token || !fakes.validTokens.has(token)) return reject(401);
    fakes.tokenTransports.push(url.searchParams.has('access_token') ? 'query' : 'protocol');
    wss.handleUpgrade(request, socket, head, (ws) => {
      if (match[2] === 'write') onWrite(ws, match[1]);
      else onRead(ws, match[1], url);
    });
  });

  function onWrite(ws, docId) {
    ws.on('error', () => {});
    const conn = { ws, docId, awarenessClients: new Set(), index: fakes.writeConnections.length };
    fakes.writeConnections.push(conn);
    ws.send(wire.hello(`conn-${conn.index}`, fakes.maxMessageBytes, fakes.maxOpsPerSecond));
    ws.on('message', (data, isBinary) => {
      if (!isBinary) {
        ws.send(wire.error('bad_frame', 'text frame'));
        ws.close();
        return;
      }
      const bytes = new Uint8Array(data);
      let msg;
      try {
        msg = decodeClientFrame(bytes);
      } catch (err) {
        fakes.received.push({ type: 'bad', error: err.message, conn: conn.index });
        ws.send(wire.error('bad_frame', err.message));
        ws.close();
        return;
      }
      msg.conn = conn.index;
      msg.size = bytes.length;
      fakes.received.push(msg);
      if (msg.type === 'awareness') {
        relayAwareness(conn, msg.update);
        return;
      }
      if (bytes.length > fakes.maxMessageBytes) {
        ws.send(wire.nack(msg.opId, 'too_large', 'message too large', 0));
        return;
      }
      const decision = fakes.decide(msg);
      if (decision === 'ack') {
        const offset = backend.commit(docId, msg);
        ws.send(wire.ack(msg.opId, 0, offset));
      } else if (decision === 'hold') {
        fakes.held.push({ conn, msg });
      } else {
        ws.send(
          wire.nack(
            msg.opId,
            decision.code,
            decision.message ?? decision.code,
            decision.retryAfterMs ?? 0,
          ),
        );
      }
    });
    ws.on('close', () => {
      // A closing write connection publishes the removal of its clients' presence.
      if (conn.awareness && conn.awarenessClients.size > 0) {
        const ids = [...conn.awarenessClients].filter((id) => conn.awareness.meta.has(id));
        awarenessProtocol.removeAwarenessStates(conn.awareness, ids, 'close');
        const removal = awarenessProtocol.encodeAwarenessUpdate(conn.awareness, ids);
        for (const reader of backend.doc(docId).readers) reader.send(wire.awareness(removal));
      }
      conn.awareness?.destroy();
    });
  }

  function relayAwareness(conn, update) {
    // Keep the states seen on this connection so its close can announce their removal.
    if (!conn.awareness) {
      conn.awareness = new awarenessProtocol.Awareness(new Y.Doc());
      conn.awareness.setLocalState(null);
    }
    awarenessProtocol.applyAwarenessUpdate(conn.awareness, update, 'client');
    const d = decoding.createDecoder(update);
    const n = decoding.readVarUint(d);
    for (let i = 0; i < n; i++) {
      conn.awarenessClients.add(decoding.readVarUint(d));
      decoding.readVarUint(d);
      decoding.readVarString(d);
    }
    for (const reader of fakes.backend.doc(conn.docId).readers) reader.send(wire.awareness(update));
  }

  /** Acks (committing) every held op, in arrival order, on their connections if still open. */
  fakes.releaseHeld = () => {
    const held = fakes.held;
    fakes.held = [];
    for (const { conn, msg } of held) {
      const offset = backend.commit(conn.docId, msg);
      if (conn.ws.readyState === 1) conn.ws.send(wire.ack(msg.opId, 0, offset));
    }
  };

  function onRead(ws, docId, url) {
    ws.on('error', () => {});
    const d = backend.doc(docId);
    fakes.readUrls.push(url.toString());
    const reader = {
      ws,
      docId,
      send: (bytes) => ws.readyState === 1 && ws.send(bytes),
      deliver: (entry) => {
        if (fakes.skipVersions.delete(entry.version)) return;
        reader.send(encodeEntry(entry));
      },
    };
    fakes.readConnections.push(reader);
    const sinceText = url.searchParams.get('since');
    const since = sinceText === null ? null : Number(sinceText);
    if (since !== null && since >= fakes.historyFrom - 1 && since <= d.version) {
      for (const entry of d.log) if (entry.version > since) reader.deliver(entry);
      if (fakes.sendSynced) reader.send(wire.synced(d.version));
    } else {
      sendState(reader, d);
    }
    d.readers.add(reader);
    ws.on('close', () => d.readers.delete(reader));
  }

  /** STATE, one ITEM per item (the state's version, empty op id), SYNCED. */
  function sendState(reader, d) {
    reader.send(wire.state(d.version, Y.encodeStateAsUpdate(d.ydoc)));
    for (const json of d.items.values()) reader.send(wire.item(d.version, '', 0, json));
    if (fakes.sendSynced) reader.send(wire.synced(d.version));
  }

  /** Sends RESYNC + STATE (+ items, SYNCED) to every reader of a document. */
  fakes.resync = (docId, reason) => {
    const d = backend.doc(docId);
    for (const reader of d.readers) {
      reader.send(wire.resync(reason));
      sendState(reader, d);
    }
  };

  fakes.sendToReaders = (docId, bytes) => {
    for (const reader of backend.doc(docId).readers) reader.send(bytes);
  };

  fakes.dropWriters = () => {
    for (const c of fakes.writeConnections) c.ws.terminate();
  };
  fakes.dropReaders = () => {
    for (const r of fakes.readConnections) r.ws.terminate();
  };

  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  fakes.httpUrl = `http://127.0.0.1:${port}`;
  fakes.writeUrl = `ws://127.0.0.1:${port}`;
  fakes.readUrl = `ws://127.0.0.1:${port}`;
  fakes.close = async () => {
    for (const client of wss.clients) client.terminate();
    for (const d of backend.docs.values()) d.ydoc.destroy();
    await new Promise((resolve) => server.close(resolve));
    server.closeAllConnections?.();
  };
  return fakes;
}

/** Polls `condition` until it is true; fails after `timeoutMs` with `what`. */
export async function waitFor(condition, what, timeoutMs = 5000) {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for: ${what}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** A controllable clock for the batcher and the backoff (nothing runs until advanced). */
export class ManualTimers {
  constructor(start = 1_000_000) {
    this.time = start;
    this.timers = new Map();
    this.nextId = 1;
  }
  now() {
    return this.time;
  }
  setTimeout(callback, ms) {
    const id = this.nextId++;
    this.timers.set(id, { at: this.time + ms, callback });
    return id;
  }
  clearTimeout(id) {
    this.timers.delete(id);
  }
  /** Moves the clock forward, running every timer that falls due, in order. */
  advance(ms) {
    const end = this.time + ms;
    for (;;) {
      let next = null;
      for (const [id, t] of this.timers)
        if (t.at <= end && (next === null || t.at < next[1].at)) next = [id, t];
      if (next === null) break;
      this.timers.delete(next[0]);
      this.time = next[1].at;
      next[1].callback();
    }
    this.time = end;
  }
}
