// One simulated user: a real Y.Doc bound to one document through the client
// library's provider (ws as WebSocket), with a random editor that types into
// the text and sets keys of the map. Every local update is also applied to
// the document's reference Y.Doc, the content every replica must converge to.

import WebSocket from 'ws';

import { CollabProvider, Y, decoding } from './collab.mjs';

const UPDATE_MESSAGE = 16;

/** A small seeded PRNG (mulberry32) so that a failing run can be replayed. */
export function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** JSON with object keys sorted: a Y.Map's key order depends on arrival order. */
function canonical(value) {
  if (Array.isArray(value)) return value.map(canonical);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((k) => [k, canonical(value[k])]),
    );
  }
  return value;
}

/** What the tests compare: text, map (keys sorted) and the state vector (every struct seen). */
export function contentOf(doc) {
  return {
    text: doc.getText('t').toString(),
    map: canonical(doc.getMap('m').toJSON()),
    sv: Buffer.from(Y.encodeStateVector(doc)).toString('base64'),
  };
}

export function sameContent(a, b) {
  return JSON.stringify(contentOf(a)) === JSON.stringify(contentOf(b));
}

/**
 * A `ws` WebSocket that also records every UPDATE it sends (docs/protocol.md,
 * type 16) into `sent`: op id -> Yjs update, so that a check can tell an op
 * the server rightly ignored (it changed nothing) from a lost one.
 */
export function recordingWebSocket(sent) {
  return class RecordingWebSocket extends WebSocket {
    send(data, ...rest) {
      const bytes = new Uint8Array(data.buffer ?? data, data.byteOffset ?? 0, data.byteLength);
      const d = decoding.createDecoder(bytes);
      if (decoding.readVarUint(d) === UPDATE_MESSAGE) {
        const opId = decoding.readVarString(d);
        decoding.readVarUint(d); // client id
        decoding.readVarUint(d); // client time
        sent.set(opId, decoding.readVarUint8Array(d).slice());
      }
      return super.send(data, ...rest);
    }
  };
}

export class Participant {
  /**
   * @param ctx {{ingestUrl, broadcasterUrl, reference: Y.Doc}}
   * @param user {{username, password, name}}
   */
  constructor(ctx, docId, user, random) {
    this.docId = docId;
    this.user = user;
    this.random = random;
    this.doc = new Y.Doc();
    this.errors = [];
    this.acked = new Set();
    this.conflicts = [];
    this.edits = 0;
    this.provider = new CollabProvider(this.doc, docId, {
      writeUrl: ctx.ingestUrl,
      readUrl: ctx.broadcasterUrl,
      login: {
        url: ctx.httpUrl,
        username: user.username,
        password: user.password,
      },
      // libwebsockets 4.1 drops a Sec-WebSocket-Protocol header this long (docs/api.md).
      tokenTransport: 'query',
      WebSocket: ctx.sentUpdates ? recordingWebSocket(ctx.sentUpdates) : WebSocket,
      batch: { pauseMs: 20, maxDelayMs: 200, maxChars: 20 },
      reconnect: { initialDelayMs: 100, maxDelayMs: 1000 },
    });
    this.provider.setUser({
      id: user.username,
      name: user.name,
      color: '#3366cc',
    });
    this.provider.on('error', (e) => this.errors.push(e));
    this.provider.on('acked', (e) => this.acked.add(e.opId));
    this.provider.on('conflict', (e) => this.conflicts.push(e));
    this.doc.on('update', (update, origin) => {
      if (origin !== this.provider) {
        Y.applyUpdate(ctx.reference, update);
      }
    });
  }

  /** One random edit: insert or delete text, or set a map key. */
  edit() {
    const text = this.doc.getText('t');
    const r = this.random();
    this.edits++;
    if (r < 0.55 || text.length < 10) {
      const pos = Math.floor(this.random() * (text.length + 1));
      text.insert(pos, `${this.user.username[0]}${this.edits} `);
    } else if (r < 0.8) {
      const pos = Math.floor(this.random() * text.length);
      const len = Math.min(1 + Math.floor(this.random() * 4), text.length - pos);
      text.delete(pos, len);
    } else {
      const key = `k${Math.floor(this.random() * 8)}`;
      this.doc.getMap('m').set(key, { by: this.user.username, n: this.edits });
    }
  }

  /** Errors other than the expected ones (e.g. a viewer's `forbidden`). */
  unexpectedErrors(allowed = []) {
    return this.errors.filter((e) => !allowed.includes(e.code));
  }

  async destroy() {
    await this.provider.destroy();
    this.doc.destroy();
  }
}
