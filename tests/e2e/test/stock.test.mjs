// Stock Yjs providers against the edge: the real npm packages `y-websocket`
// (WebsocketProvider) and `@hocuspocus/provider` (HocuspocusProvider), pinned
// in package.json, connect to the broadcaster's y-websocket and Hocuspocus
// endpoints unchanged, beside the client library's own provider (ingest +
// broadcaster), with every service a real process on the real stack:
//   - two providers of each kind and one client/ provider on one document
//     converge, and the views (Redis, MongoDB) end up with the same content;
//   - awareness crosses between all of them;
//   - an update is acknowledged (Hocuspocus sync status, y-websocket echo)
//     only once Kafka has it: acknowledged text survives a SIGKILL of the
//     edge the moment after;
//   - viewers cannot write, and are told (readonly scope and sync status
//     false; y-websocket's permission-denied message);
//   - bad tokens, missing rights and unknown documents are refused with the
//     providers' own close codes / authenticationFailed, and nothing else of
//     the socket is disturbed;
//   - items and their conflicts reach Hocuspocus clients as stateless messages;
//   - one Hocuspocus socket carries several documents;
//   - the edge SIGKILLed under load and restarted: every provider resumes by
//     state vector, nothing typed is lost or duplicated.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { HocuspocusProvider, HocuspocusProviderWebsocket } from '@hocuspocus/provider';
import * as decoding from 'lib0/decoding';
import { commandOptions } from 'redis';
import WebSocket from 'ws';
import { WebsocketProvider } from 'y-websocket';
import * as Y from 'yjs';

import { CollabProvider, Y as ClientY } from '../lib/collab.mjs';
import { Services, admin, newRun } from '../lib/stack.mjs';
import { Views } from '../lib/storage.mjs';
import { waitUntil } from '../lib/wait.mjs';

const users = {
  alice: { username: 'alice', password: 'alice-pass-1', name: 'Alice' },
  bob: { username: 'bob', password: 'bob-pass-22', name: 'Bob' },
  vera: { username: 'vera', password: 'vera-pass-3', name: 'Vera (viewer)' },
  mallory: { username: 'mallory', password: 'mallory-pass-4', name: 'Mallory (no right)' },
};

let run;
// Document ids are per run: Redis is shared by every run of the local stack.
const docs = {};
let services;
let views;
let failed = false;
const tokens = {};
const open = []; // everything to destroy at the end

/** `it`, but once a step failed the later ones are skipped (they build on it). */
function step(name, fn, timeoutMs = 120_000) {
  it(name, async (t) => {
    if (failed) {
      t.skip('an earlier step failed');
      return;
    }
    let timer;
    const deadline = new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`step took over ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      await Promise.race([fn(t), deadline]);
    } catch (err) {
      failed = true;
      throw err;
    } finally {
      clearTimeout(timer);
    }
  });
}

/**
 * The providers' WebSocket. destroy() clears a provider's `onerror` and
 * closes its socket; when that socket was still connecting, `ws` then emits
 * an error nobody listens to, which would surface as an uncaught exception
 * after the test ended. This listener takes it; the providers' own handlers
 * still see every error while they are attached.
 */
class ProviderSocket extends WebSocket {
  constructor(...args) {
    super(...args);
    this.on('error', () => {});
  }
}

const edgeUrl = () => `ws://127.0.0.1:${run.ports.broadcaster}`;

async function login(user) {
  const res = await fetch(`http://127.0.0.1:${run.ports.ingest}/v1/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: user.username, password: user.password }),
  });
  const json = await res.json();
  assert.equal(res.status, 200, JSON.stringify(json));
  return json.access_token;
}

/** A y-websocket client: its doc, provider and the auth messages it was sent. */
function yws(docId, token, options = {}) {
  const doc = new Y.Doc();
  const provider = new WebsocketProvider(`${edgeUrl()}/yjs`, docId, doc, {
    WebSocketPolyfill: ProviderSocket,
    params: { token },
    disableBc: true,
    ...options,
  });
  const denied = [];
  // y-websocket only logs a permission-denied message: record it too.
  const authHandler = provider.messageHandlers[2];
  provider.messageHandlers[2] = (encoder, decoder, p, emitSynced, type) => {
    const copy = decoding.clone(decoder);
    if (decoding.readVarUint(copy) === 0) denied.push(decoding.readVarString(copy));
    authHandler(encoder, decoder, p, emitSynced, type);
  };
  const closes = [];
  provider.on('connection-close', (event) => event && closes.push(event.code));
  const client = { kind: 'y-websocket', doc, provider, denied, closes };
  open.push(() => provider.destroy());
  return client;
}

/** A Hocuspocus socket (several documents may share it). */
function hocusSocket() {
  const socket = new HocuspocusProviderWebsocket({
    url: `${edgeUrl()}/hocuspocus`,
    WebSocketPolyfill: ProviderSocket,
    // Reconnect quickly: the tests restart the edge.
    delay: 100,
    maxDelay: 1000,
    minDelay: 100,
  });
  open.push(() => socket.destroy());
  return socket;
}

/** A Hocuspocus client of docId on socket (a new one when omitted). */
function hocus(docId, token, socket = hocusSocket()) {
  const doc = new Y.Doc();
  const client = { kind: 'hocuspocus', doc, socket, stateless: [], statuses: [], failures: [] };
  client.provider = new HocuspocusProvider({
    websocketProvider: socket,
    name: docId,
    document: doc,
    token,
    onStateless: ({ payload }) => client.stateless.push(JSON.parse(payload)),
    onAuthenticated: ({ scope }) => (client.scope = scope),
    onAuthenticationFailed: ({ reason }) => client.failures.push(reason),
    onMessage: ({ message }) => {
      // Sync status messages: document name, type 8, varUint saved.
      const d = message.decoder;
      decoding.readVarString(d);
      if (decoding.readVarUint(d) === 8) client.statuses.push(decoding.readVarUint(d) === 1);
    },
  });
  client.provider.attach();
  open.push(() => client.provider.destroy());
  return client;
}

/** The client library's provider (ingest writes, broadcaster reads). */
function ours(docId, token) {
  const doc = new ClientY.Doc();
  const provider = new CollabProvider(doc, docId, {
    writeUrl: `ws://127.0.0.1:${run.ports.ingest}`,
    readUrl: edgeUrl(),
    token,
    tokenTransport: 'query',
    WebSocket,
    batch: { pauseMs: 1, maxDelayMs: 10, maxChars: 1 },
  });
  open.push(() => provider.destroy());
  return { kind: 'client', doc, provider };
}

const textOf = (c) => c.doc.getText('t').toString();

async function synced(c, what = c.kind) {
  if (c.kind === 'client') {
    await c.provider.whenSynced();
    return;
  }
  await waitUntil(() => c.provider.synced, `${what} synced`, 30_000);
}

/** The text of Redis doc:{docId} (the processor's view), or undefined. */
async function cachedText(docId) {
  const cached = await views.redis.hGetAll(commandOptions({ returnBuffers: true }), `doc:${docId}`);
  if (!cached.state) return undefined;
  const doc = new ClientY.Doc();
  ClientY.applyUpdate(doc, new Uint8Array(cached.state));
  return doc.getText('t').toString();
}

/** Every marker exactly once in text. */
function countMarkers(text, markers) {
  const missing = [];
  const repeated = [];
  for (const m of markers) {
    const n = text.split(m).length - 1;
    if (n === 0) missing.push(m);
    if (n > 1) repeated.push(m);
  }
  return { missing, repeated };
}

async function converged(clients, markers, what, timeoutMs = 60_000) {
  await waitUntil(
    () => {
      const first = textOf(clients[0]);
      return clients.every((c) => textOf(c) === first) && countMarkers(first, markers).missing.length === 0;
    },
    what,
    timeoutMs,
    () => {
      return clients.map((c) => `${c.kind}: ${JSON.stringify(countMarkers(textOf(c), markers))}`).join('; ');
    },
  );
  const { repeated } = countMarkers(textOf(clients[0]), markers);
  assert.deepEqual(repeated, [], 'no marker may be applied twice');
}

/** Inserts marker at a random place of c's text between two markers. */
function type(c, marker, random = Math.random) {
  const text = c.doc.getText('t');
  const s = text.toString();
  const boundaries = [0];
  for (let i = 0; i < s.length; i++) if (s[i] === '>') boundaries.push(i + 1);
  text.insert(boundaries[Math.floor(random() * boundaries.length)], marker);
}

describe('stock Yjs providers on the edge', () => {
  before(async () => {
    run = await newRun('stock');
    for (const name of ['s1', 's2', 'items1']) docs[name] = `${name}-${run.id}`;
    services = new Services(run, { partitions: 3 });
    await services.startAll();
    for (const u of Object.values(users)) {
      await admin(run, [
        'user-create',
        `--username=${u.username}`,
        `--name=${u.name}`,
        `--password=${u.password}`,
      ]);
    }
    for (const doc of Object.values(docs)) {
      await admin(run, ['doc-create', `--doc=${doc}`, '--owner=alice']);
      await admin(run, ['grant', `--doc=${doc}`, '--username=bob', '--role=editor']);
      await admin(run, ['grant', `--doc=${doc}`, '--username=vera', '--role=viewer']);
    }
    for (const [name, u] of Object.entries(users)) tokens[name] = await login(u);
    views = await Views.open(run.mongoDb);
  });

  after(async () => {
    for (const close of open.reverse()) {
      try {
        close();
      } catch {
        // a provider already destroyed
      }
    }
    await views?.close();
    if (failed) services?.dumpLogs(60);
    await services?.stopAll();
  });

  const main = {}; // the five clients of s1
  const markers = [];

  step('two y-websocket, two Hocuspocus and one client/ provider converge on one document', async () => {
    main.y1 = yws(docs.s1, tokens.alice);
    main.y2 = yws(docs.s1, tokens.bob);
    main.h1 = hocus(docs.s1, tokens.alice);
    main.h2 = hocus(docs.s1, tokens.bob);
    main.c1 = ours(docs.s1, tokens.bob);
    const all = Object.values(main);
    await Promise.all(all.map((c) => synced(c)));
    assert.equal(main.h1.scope, 'read-write');
    // Each types 15 markers at random places, interleaved.
    for (let round = 0; round < 15; round++) {
      for (const [name, c] of Object.entries(main)) {
        const m = `<${name}.${round}>`;
        markers.push(m);
        type(c, m);
      }
      await new Promise((resolve) => setImmediate(resolve));
    }
    await converged(all, markers, 'the five replicas converge');
    // Acknowledged means in Kafka: Hocuspocus counts its unsaved changes down
    // to zero from sync statuses, which the edge sends after the delivery report.
    await waitUntil(
      () => main.h1.provider.unsyncedChanges === 0 && main.h2.provider.unsyncedChanges === 0,
      'Hocuspocus: every change saved',
    );
    assert.ok(main.h1.statuses.length >= 15 && main.h1.statuses.every((s) => s === true));
  });

  step('the processor merged every edit: Redis and MongoDB hold the same text, with its log position', async () => {
    const want = textOf(main.y1);
    await waitUntil(
      async () => (await cachedText(docs.s1)) === want,
      'Redis doc:s1 holds the converged text',
      60_000,
    );
    const cached = await views.redis.hGetAll(`doc:${docs.s1}`);
    assert.ok(Number(cached.offset) >= 0, `doc:s1 has a collab.ops offset (${cached.offset})`);
    assert.ok(Number(cached.partition) >= 0 && Number(cached.partition) < 3);
    // MongoDB: the operation log, versions 1..n without a gap, replays to it.
    let ops = [];
    await waitUntil(
      async () => {
        ops = await views.operations(docs.s1);
        const replay = new ClientY.Doc();
        for (const op of ops) if (op.kind === 'YJS_UPDATE') ClientY.applyUpdate(replay, op.bytes.buffer);
        return replay.getText('t').toString() === want;
      },
      'MongoDB crdt_operations of s1 replay to the converged text',
      60_000,
    );
    assert.deepEqual(
      ops.map((op) => op.version),
      ops.map((_, i) => i + 1),
      'versions 1..n',
    );
  });

  step('awareness crosses between every provider', async () => {
    const all = Object.entries(main);
    for (const [name, c] of all) c.provider.awareness.setLocalStateField('user', { name });
    for (const [name, c] of all) {
      await waitUntil(
        () => {
          const seen = new Set(
            [...c.provider.awareness.getStates().values()].map((s) => s.user?.name),
          );
          return all.every(([other]) => seen.has(other));
        },
        `${name} sees everyone's presence`,
        30_000,
        () => JSON.stringify([...c.provider.awareness.getStates().values()]),
      );
    }
    // A cursor moves: the others see the new state.
    main.y2.provider.awareness.setLocalStateField('cursor', { anchor: 3, head: 5 });
    await waitUntil(
      () =>
        [...main.h1.provider.awareness.getStates().values()].some(
          (s) => s.user?.name === 'y2' && s.cursor?.head === 5,
        ),
      'the cursor reaches a Hocuspocus client',
    );
  });

  step('viewers read but cannot write, and are told', async () => {
    const vy = yws(docs.s1, tokens.vera);
    const vh = hocus(docs.s1, tokens.vera);
    await Promise.all([synced(vy, 'viewer y-websocket'), synced(vh, 'viewer Hocuspocus')]);
    assert.equal(textOf(vy), textOf(main.y1), 'a viewer reads the document');
    assert.equal(vh.scope, 'readonly');
    type(vy, '<vera-y>');
    type(vh, '<vera-h>');
    await waitUntil(() => vy.denied.length > 0, 'y-websocket viewer told it is read-only');
    assert.match(vy.denied[0], /read-only/);
    await waitUntil(() => vh.statuses.includes(false), 'Hocuspocus viewer gets sync status false');
    assert.ok(vh.provider.unsyncedChanges > 0, 'the viewer change stays unsaved');
    // An edit made after the refusals reaches everyone; the viewers' never does.
    const sentinel = '<after-vera>';
    markers.push(sentinel);
    type(main.y1, sentinel);
    await converged(Object.values(main), markers, 'the sentinel reaches everyone');
    for (const c of Object.values(main)) {
      assert.ok(!textOf(c).includes('<vera'), `${c.kind} never sees a viewer's text`);
    }
    vy.provider.destroy();
    vh.provider.destroy();
  });

  step('bad tokens, missing rights and unknown documents get the providers close codes', async () => {
    const cases = [
      [docs.s1, 'not-a-jwt', 4401],
      [docs.s1, tokens.mallory, 4403],
      ['no-such-doc', tokens.alice, 4404],
    ];
    for (const [docId, token, code] of cases) {
      const c = yws(docId, token);
      const closed = new Promise((resolve) => c.provider.once('closed', resolve));
      const event = await closed;
      assert.equal(event.code, code, `${docId}: close code`);
      assert.equal(c.provider.shouldConnect, false, 'y-websocket stops reconnecting');
      assert.ok(c.denied.length === 1, 'told why in a permission-denied message');
      c.provider.destroy();
    }
    // Hocuspocus: authenticationFailed; the socket's other documents go on.
    // (A socket carries one provider per document name, hence three names.)
    const socket = hocusSocket();
    const good = hocus(docs.s2, tokens.alice, socket);
    const bad = hocus(docs.items1, 'not-a-jwt', socket);
    const none = hocus(docs.s1, tokens.mallory, socket);
    await waitUntil(
      () => bad.failures.length > 0 && none.failures.length > 0,
      'authenticationFailed',
      30_000,
      () => JSON.stringify({ bad: bad.failures, none: none.failures }),
    );
    assert.match(bad.failures[0], /unauthorized/);
    assert.match(none.failures[0], /forbidden/);
    await synced(good, 's2 beside the refused documents');
    type(good, '<s2-a>');
    await waitUntil(() => good.provider.unsyncedChanges === 0, 's2 saved');
    assert.equal(textOf(bad), '', 'a refused document receives nothing');
  });

  step('one Hocuspocus socket carries several documents, each kept apart', async () => {
    const socket = hocusSocket();
    const a = hocus(docs.s1, tokens.bob, socket);
    const b = hocus(docs.s2, tokens.bob, socket);
    await Promise.all([synced(a, 's1'), synced(b, 's2')]);
    assert.equal(textOf(a), textOf(main.y1));
    assert.ok(textOf(b).includes('<s2-a>'));
    const onS2 = '<only-s2>';
    type(b, onS2);
    const checker = yws(docs.s2, tokens.alice);
    await waitUntil(() => textOf(checker).includes(onS2), 's2 edit reaches s2');
    assert.ok(!textOf(main.y1).includes(onS2), 'and not s1');
  });

  step('items and conflicts reach Hocuspocus clients as stateless messages', async () => {
    const a = hocus(docs.items1, tokens.alice);
    const b = hocus(docs.items1, tokens.bob);
    await Promise.all([synced(a, 'alice items'), synced(b, 'bob items')]);
    const item = (c, id, pred) =>
      c.stateless.filter((m) => m.type === 'collab.item' && m.item.item_id === id).findLast(pred);
    const write = (c, fields) =>
      c.provider.sendStateless(JSON.stringify({ type: 'collab.item.write', ...fields }));
    // The seeds' item16: val16, then A and B write concurrently, then resolve.
    write(a, { op_id: 'w1', item_id: 'item16', value: 'val16', clock: { 1: 1 }, client_id: 1 });
    await waitUntil(
      () => a.stateless.some((m) => m.type === 'collab.ack' && m.op_id === 'w1'),
      'ack of the first write',
    );
    await waitUntil(() => item(b, 'item16', (m) => m.item.version === 1), 'bob sees item16 v1');
    write(a, { op_id: 'wa', item_id: 'item16', value: 'val16_A', clock: { 1: 2 }, client_id: 1 });
    write(b, { op_id: 'wb', item_id: 'item16', value: 'val16_B', clock: { 1: 1, 2: 2 }, client_id: 2 });
    for (const c of [a, b]) {
      await waitUntil(
        () => item(c, 'item16', (m) => m.item.conflict === true),
        'the conflict notice reaches both',
        30_000,
        () => JSON.stringify(c.stateless.slice(-3)),
      );
      const notice = item(c, 'item16', (m) => m.item.conflict === true);
      const values = notice.item.siblings.map((s) => Buffer.from(s.value_base64, 'base64').toString());
      assert.deepEqual(values.sort(), ['val16_A', 'val16_B']);
    }
    // A resolve that has not seen B is refused by the processor; the merge is accepted.
    b.provider.sendStateless(
      JSON.stringify({
        type: 'collab.item.resolve',
        op_id: 'r1',
        item_id: 'item16',
        value_base64: Buffer.from('val16_Aval16_B').toString('base64'),
        clock: { 1: 2, 2: 2 },
        client_id: 2,
      }),
    );
    for (const c of [a, b]) {
      await waitUntil(
        () => item(c, 'item16', (m) => m.item.conflict === false && m.item.version === 3),
        'the resolution reaches both',
      );
    }
    const resolved = item(a, 'item16', (m) => m.item.version === 3);
    assert.equal(Buffer.from(resolved.item.value_base64, 'base64').toString(), 'val16_Aval16_B');
    // A newcomer finds the item as it is now.
    const late = hocus(docs.items1, tokens.bob);
    await synced(late, 'late items');
    await waitUntil(() => item(late, 'item16', (m) => m.item.version === 3), 'newcomer sees item16');
    // Bad input is refused with a reason; a viewer may not write items.
    write(a, { op_id: 'bad', item_id: '', value: 'x', clock: {}, client_id: 1 });
    await waitUntil(
      () => a.stateless.some((m) => m.type === 'collab.nack' && m.op_id === 'bad' && m.code === 'invalid_item'),
      'invalid item op nacked',
    );
    const viewer = hocus(docs.items1, tokens.vera);
    await synced(viewer, 'viewer items');
    write(viewer, { op_id: 'v1', item_id: 'x', value: 'y', clock: { 9: 1 }, client_id: 9 });
    await waitUntil(
      () => viewer.stateless.some((m) => m.type === 'collab.nack' && m.code === 'forbidden'),
      'viewer item write refused',
    );
    a.provider.sendStateless('not json');
    await waitUntil(
      () => a.stateless.some((m) => m.type === 'collab.error' && m.code === 'bad_stateless'),
      'non-JSON stateless answered',
    );
  });

  step('an acknowledged update survives a SIGKILL of the edge right after the acknowledgement', async () => {
    const h = hocus(docs.s2, tokens.alice);
    await synced(h, 'hocuspocus s2');
    const m = `<durable-${Date.now()}>`;
    type(h, m);
    await waitUntil(() => h.provider.unsyncedChanges === 0, 'saved');
    await services.kill('broadcaster');
    h.provider.destroy();
    await services.start('broadcaster');
    const reader = yws(docs.s2, tokens.bob);
    await synced(reader, 'fresh reader after the restart');
    assert.ok(textOf(reader).includes(m), 'the acknowledged text is there');
  });

  step('the edge SIGKILLed while everyone types: all resume by state vector, nothing lost or doubled', async () => {
    const all = Object.values(main);
    const burst = (tag, n) => {
      for (let i = 0; i < n; i++) {
        for (const [name, c] of Object.entries(main)) {
          const mk = `<${tag}.${name}.${i}>`;
          markers.push(mk);
          type(c, mk);
        }
      }
    };
    burst('before-kill', 5);
    await services.kill('broadcaster');
    // Typed while the edge is down: kept by each provider, sent on reconnect.
    burst('while-down', 5);
    await services.start('broadcaster');
    burst('after-restart', 5);
    await converged(all, markers, 'every replica has every marker once after the restart', 90_000);
    await waitUntil(
      () => main.h1.provider.unsyncedChanges === 0 && main.h2.provider.unsyncedChanges === 0,
      'Hocuspocus: all saved after the restart',
      60_000,
    );
    // The views converge to the same text: nothing exists only at the edge.
    const want = textOf(main.y1);
    await waitUntil(
      async () => (await cachedText(docs.s1)) === want,
      'the processor merged everything the clients have',
      60_000,
    );
  });
});
