// The Yjs provider: binds one Y.Doc to one document of the backend. Local
// changes are batched (./batcher.ts) and handed to the outbox (./outbox.ts),
// which stores and sends them until ingest acknowledges each; the
// broadcaster's state and merged operations are applied in version order,
// resuming where the client left off. Also carries awareness (presence) and
// the document's items. The wire format is docs/protocol.md (./protocol.ts).

import { ObservableV2 } from 'lib0/observable';
import { uint32 } from 'lib0/random';
import * as awarenessProtocol from 'y-protocols/awareness';
import * as Y from 'yjs';

import { LoginError, type LoginOptions, TokenSource } from './auth.js';
import { type BatchOptions, UpdateBatcher } from './batcher.js';
import { Outbox } from './outbox.js';
import {
  type BroadcasterMessage,
  type IngestMessage,
  ProtocolError,
  decodeBroadcasterMessage,
  decodeIngestMessage,
  encodeClientMessage,
} from './protocol.js';
import {
  type ItemState,
  type ItemVersion,
  checkItemInput,
  clockForResolve,
  clockForWrite,
  parseItemState,
} from './items.js';
import {
  type BackoffOptions,
  type LinkTarget,
  ReconnectingSocket,
  type WebSocketConstructor,
} from './socket.js';
import { UpdateTooLargeError } from './split.js';
import { MemoryOpStore, type OpStore, type StoredOp } from './store.js';
import { type TimerHandle, type Timers, systemTimers } from './timers.js';
import { type VectorClock, clockGet, clockMerge } from './vclock.js';

export interface CollabProviderOptions {
  /** Base URL of ingest's WebSocket endpoint, e.g. ws://127.0.0.1:8080 */
  writeUrl: string;
  /** Base URL of a broadcaster, e.g. ws://127.0.0.1:8081 */
  readUrl: string;
  /** A JWT from POST /v1/login ... */
  token?: string;
  /** ... or a function asked for one before every connection attempt ... */
  getToken?: () => Promise<string>;
  /** ... or credentials: the provider logs in and renews the token itself. */
  login?: LoginOptions;
  /**
   * How the token travels: the access_token query parameter (default), or
   * Sec-WebSocket-Protocol `collab.v1, bearer.<jwt>`, which the servers'
   * libwebsockets 4.1 drops for headers of 128 bytes or more (docs/api.md).
   */
  tokenTransport?: 'protocol' | 'query';
  /** WebSocket constructor; default globalThis.WebSocket (in node pass the `ws` package's). */
  WebSocket?: WebSocketConstructor;
  /** fetch for the login; default globalThis.fetch. */
  fetch?: typeof fetch;
  /** Where unacknowledged ops wait; default in memory. */
  store?: OpStore;
  /** An Awareness to use; default a new one on the doc, destroyed with the provider. */
  awareness?: awarenessProtocol.Awareness;
  batch?: BatchOptions;
  reconnect?: BackoffOptions;
  /** Clock and timers; default the system's (tests pass controllable ones). */
  timers?: Timers;
  /** Random numbers in [0, 1) for the backoff jitter; default Math.random. */
  random?: () => number;
  /** Connect at once (default true); else call connect(). */
  connect?: boolean;
  /** Transaction origins whose updates are not sent (e.g. a y-indexeddb persistence loading the doc). */
  ignoreOrigins?: Iterable<unknown>;
  /** Client id of this device for item clocks; default one kept in the store ('device-id'). */
  deviceId?: number;
  /**
   * For a broadcaster that never sends SYNCED (older servers): how long after
   * a STATE, or after a resumed read connection opened, the provider declares
   * itself synced anyway (default 1000 ms). Once the server has sent one
   * SYNCED the provider waits for SYNCED only.
   */
  syncedFallbackMs?: number;
}

export type ProviderStatus = 'connecting' | 'connected' | 'disconnected';
export type ConnectionState = 'connecting' | 'connected' | 'disconnected';

export interface ProviderError {
  /** A NACK or ERROR code from the server, or: bad_frame, gap, too_large, storage, auth, connect, bad_item. */
  code: string;
  message: string;
  /** Which part failed. */
  source: 'write' | 'read' | 'storage' | 'local';
  /** For a dropped operation: its id and the operation itself. */
  opId?: string;
  op?: StoredOp;
  /** The HTTP status of a refused connection, when known. */
  status?: number;
}

export interface ProviderEvents {
  status: (event: {
    status: ProviderStatus;
    write: ConnectionState;
    read: ConnectionState;
  }) => void;
  /** The doc holds the server's state as of `version` (the broadcaster's SYNCED: after the STATE, its items and presence, or after a resume's replay). */
  synced: (event: { version: number }) => void;
  /** Ingest acknowledged an op: Kafka holds it. */
  acked: (event: { opId: string; partition: number; offset: number }) => void;
  /** A merged op was applied (`ingestTimeMs` from the server, for latency measurements). */
  merged: (event: { version: number; opId: string; ingestTimeMs: number }) => void;
  /** The broadcaster sent RESYNC: a STATE follows. */
  resync: (event: { reason: string }) => void;
  /** An item's state changed. */
  item: (event: { itemId: string; state: ItemState }) => void;
  /** An item is in conflict: every sibling, to be settled with resolveItem(). */
  conflict: (event: { itemId: string; siblings: ItemVersion[]; state: ItemState }) => void;
  error: (event: ProviderError) => void;
}

const DOC_ID = /^[A-Za-z0-9._~-]{1,128}$/;
const DEVICE_ID_KEY = 'device-id';
const DEFAULT_SYNCED_FALLBACK_MS = 1000;

export class CollabProvider extends ObservableV2<ProviderEvents> {
  readonly doc: Y.Doc;
  readonly docId: string;
  readonly awareness: awarenessProtocol.Awareness;
  /** Resolves once the op queue and device id are loaded from the store. */
  readonly ready: Promise<void>;

  private readonly options: CollabProviderOptions;
  private readonly timers: Timers;
  private readonly store: OpStore;
  private readonly tokens: TokenSource;
  private readonly batcher: UpdateBatcher;
  private readonly ownsAwareness: boolean;
  private readonly ignoreOrigins: Set<unknown>;
  private readonly writeLink: ReconnectingSocket;
  private readonly readLink: ReconnectingSocket;

  private readonly outbox: Outbox;
  private loaded = false;
  private preload: Uint8Array[] = [];
  private deviceId = 0;
  private itemCounter = 0;
  private readonly items = new Map<string, ItemState>();
  private readonly localItemClocks = new Map<string, VectorClock>();
  private lastVersion: number | undefined = undefined;
  private expectingState = false;
  private writeReady = false;
  private lastStatus: ProviderStatus | null = null;
  private destroyed = false;
  private isSynced = false;
  /** The broadcaster has sent SYNCED at least once: no fallback needed any more. */
  private serverSendsSynced = false;
  private syncedFallback: TimerHandle | undefined = undefined;
  /** Version of the last STATE: ITEMs with it and an empty op id are that state's items. */
  private stateItemsVersion: number | undefined = undefined;
  private wantConnected = false;
  private savedLocalState: Record<string, unknown> | null = null;

  constructor(doc: Y.Doc, docId: string, options: CollabProviderOptions) {
    super();
    if (!DOC_ID.test(docId)) {
      throw new Error(`document id must be 1-128 characters of [A-Za-z0-9._~-]: ${docId}`);
    }
    const WebSocketImpl =
      options.WebSocket ??
      (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket ??
      undefined;
    if (WebSocketImpl === undefined) {
      throw new Error('no WebSocket implementation: pass one as options.WebSocket');
    }
    this.doc = doc;
    this.docId = docId;
    this.options = options;
    this.timers = options.timers ?? systemTimers;
    this.store = options.store ?? new MemoryOpStore();
    this.tokens = new TokenSource({
      ...(options.token !== undefined && { token: options.token }),
      ...(options.getToken !== undefined && { getToken: options.getToken }),
      ...(options.login !== undefined && { login: options.login }),
      ...(options.fetch !== undefined && { fetch: options.fetch }),
      now: () => this.timers.now(),
    });
    this.ignoreOrigins = new Set(options.ignoreOrigins ?? []);
    this.ownsAwareness = options.awareness === undefined;
    this.awareness = options.awareness ?? new awarenessProtocol.Awareness(doc);
    this.batcher = new UpdateBatcher(this.timers, (u) => this.onBatch(u), options.batch);
    const random = options.random ?? Math.random;
    const backoff = options.reconnect ?? {};
    this.writeLink = new ReconnectingSocket(
      WebSocketImpl,
      () => this.target('write'),
      {
        onOpen: () => this.updateStatus(),
        onMessage: (data) => this.onWriteMessage(data),
        onClose: () => this.onWriteClose(),
        onConnectError: (err, status) => this.onConnectError('write', err, status),
      },
      this.timers,
      random,
      backoff,
    );
    this.readLink = new ReconnectingSocket(
      WebSocketImpl,
      () => this.target('read'),
      {
        onOpen: () => this.onReadOpen(),
        onMessage: (data) => this.onReadMessage(data),
        onClose: () => this.onReadClose(),
        onConnectError: (err, status) => this.onConnectError('read', err, status),
      },
      this.timers,
      random,
      backoff,
    );
    this.outbox = new Outbox(this.store, docId, this.timers, (f) => this.writeLink.send(f), {
      acked: (op, partition, offset) => this.emit('acked', [{ opId: op.opId, partition, offset }]),
      dropped: (op, code, message) => this.emitError(code, message, 'write', op),
      storageError: (err) => this.emitError('storage', `op store: ${err.message}`, 'storage'),
    });
    doc.on('update', this.onDocUpdate);
    doc.on('destroy', this.onDocDestroy);
    this.awareness.on('update', this.onAwarenessUpdate);
    this.ready = this.load();
    if (options.connect !== false) {
      this.connect();
    }
  }

  /** The last status event's status. */
  get status(): ProviderStatus {
    return this.lastStatus ?? 'disconnected';
  }

  /** True once the doc holds the server's state (see the `synced` event). */
  get synced(): boolean {
    return this.isSynced;
  }

  /** Resolves at the next `synced` event, or at once when synced already. */
  whenSynced(): Promise<void> {
    if (this.isSynced) {
      return Promise.resolve();
    }
    return new Promise((resolve) => this.once('synced', () => resolve()));
  }

  /** Version of the last state or merged op applied; undefined before the first STATE. */
  get version(): number | undefined {
    return this.lastVersion;
  }

  /** Operations not yet acknowledged (including those not yet sent). */
  get pendingCount(): number {
    return this.outbox.size + this.preload.length + this.batcher.size;
  }

  /** The limits ingest announced in its last HELLO. */
  get limits(): { maxMessageBytes: number; maxOpsPerSecond: number } {
    return {
      maxMessageBytes: this.outbox.maxMessageBytes,
      maxOpsPerSecond: this.outbox.rateLimit,
    };
  }

  /** The device's client id used in item clocks (valid after `ready`). */
  get itemClientId(): number {
    return this.deviceId;
  }

  /** Opens both connections (after the store is loaded); no-op when already connecting. */
  connect(): void {
    if (this.destroyed) {
      throw new Error('provider destroyed');
    }
    this.wantConnected = true;
    if (this.savedLocalState !== null && this.awareness.getLocalState() === null) {
      this.awareness.setLocalState(this.savedLocalState); // announced once both links are up
    }
    this.savedLocalState = null;
    void this.ready.then(() => {
      if (!this.destroyed && this.wantConnected) {
        this.writeLink.start();
        this.readLink.start();
        this.updateStatus();
      }
    });
    this.updateStatus();
  }

  /** Closes both connections and stays offline: edits keep queueing until connect(). */
  disconnect(): void {
    this.wantConnected = false;
    this.savedLocalState = this.awareness.getLocalState();
    this.sendAwarenessRemoval();
    this.writeLink.stop();
    this.readLink.stop();
    this.onWriteClose();
    this.onReadClose();
    this.removeOthersPresence();
  }

  /**
   * Sends the current batch now and resolves when every operation made so
   * far is acknowledged or dropped (dropped ones were reported as `error`).
   * Rejects if the provider is destroyed first.
   */
  async flush(): Promise<void> {
    if (this.destroyed) {
      throw new Error('provider destroyed');
    }
    this.batcher.flush();
    await this.ready;
    return this.outbox.whenEmpty();
  }

  // ---- awareness -------------------------------------------------------

  /** Sets the local user shown to the others. */
  setUser(user: { id: string; name: string; color: string }): void {
    this.awareness.setLocalStateField('user', user);
  }

  /** Sets (or with null clears) the local cursor, as Yjs relative positions. */
  setCursor(anchor: Y.RelativePosition | null, head: Y.RelativePosition | null = anchor): void {
    this.awareness.setLocalStateField(
      'cursor',
      anchor === null || head === null
        ? null
        : { anchor: Y.relativePositionToJSON(anchor), head: Y.relativePositionToJSON(head) },
    );
  }

  // ---- items -----------------------------------------------------------

  /** The last state the broadcaster sent for an item. */
  getItem(itemId: string): ItemState | undefined {
    return this.items.get(itemId);
  }

  /**
   * Writes an item value with a clock that has seen everything this client
   * knows of the item and counts this write. Resolves with the op id once the
   * op is queued (its ACK arrives as `acked`); rejects on an invalid id or value.
   */
  async writeItem(itemId: string, value: Uint8Array): Promise<string> {
    checkItemInput(itemId, value);
    await this.ready;
    const known = clockMerge(
      this.items.get(itemId)?.clock ?? [],
      this.localItemClocks.get(itemId) ?? [],
    );
    const clock = clockForWrite(known, this.deviceId, this.itemCounter);
    this.itemCounter = clockGet(clock, this.deviceId);
    const counterKey = `item-counter:${this.deviceId}`;
    const counter = String(this.itemCounter);
    this.outbox.persist(() => this.store.setMeta(counterKey, counter));
    return this.enqueueItem('item_write', itemId, value, clock);
  }

  /**
   * Settles a conflict: writes `value` with the merge of every sibling's
   * clock, which the server accepts as dominating them all. Rejects when the
   * item is unknown (no ITEM message seen yet).
   */
  async resolveItem(itemId: string, value: Uint8Array): Promise<string> {
    checkItemInput(itemId, value);
    await this.ready;
    const state = this.items.get(itemId);
    if (state === undefined) {
      throw new Error(`item ${itemId} is unknown: nothing to resolve`);
    }
    const clock = clockMerge(clockForResolve(state), this.localItemClocks.get(itemId) ?? []);
    return this.enqueueItem('item_resolve', itemId, value, clock);
  }

  /**
   * Stops everything: the current batch is queued and stored, the local
   * awareness state is removed, both connections close. Resolves when the
   * store has every queued op (a later provider with the same store sends them).
   */
  override async destroy(): Promise<void> {
    if (this.destroyed) {
      await this.ready;
      return this.outbox.close();
    }
    this.batcher.flush();
    this.disconnect();
    this.destroyed = true;
    this.batcher.destroy();
    this.doc.off('update', this.onDocUpdate);
    this.doc.off('destroy', this.onDocDestroy);
    this.awareness.off('update', this.onAwarenessUpdate);
    if (this.ownsAwareness) {
      this.awareness.destroy();
    }
    this.updateStatus();
    await this.ready;
    await this.outbox.close();
    super.destroy();
  }

  // ---- loading and the op queue -----------------------------------------

  private async load(): Promise<void> {
    try {
      const ops = await this.outbox.load();
      for (const op of ops) {
        if (op.kind !== 'update' && op.itemId !== undefined && op.clock !== undefined) {
          this.localItemClocks.set(
            op.itemId,
            clockMerge(this.localItemClocks.get(op.itemId) ?? [], op.clock),
          );
        }
      }
      this.deviceId = this.options.deviceId ?? (await this.loadDeviceId());
      const counter = Number((await this.store.getMeta(`item-counter:${this.deviceId}`)) ?? 0);
      this.itemCounter = Number.isSafeInteger(counter) && counter >= 0 ? counter : 0;
    } catch (err) {
      this.emitError('storage', `cannot load the op queue: ${(err as Error).message}`, 'storage');
      if (this.deviceId === 0) {
        this.deviceId = this.options.deviceId ?? (uint32() || 1);
      }
    }
    this.loaded = true;
    const early = this.preload;
    this.preload = [];
    for (const update of early) {
      this.enqueueUpdate(update);
    }
  }

  private async loadDeviceId(): Promise<number> {
    const stored = Number(await this.store.getMeta(DEVICE_ID_KEY));
    if (Number.isSafeInteger(stored) && stored > 0 && stored <= 0xffffffff) {
      return stored;
    }
    const fresh = uint32() || 1;
    await this.store.setMeta(DEVICE_ID_KEY, String(fresh));
    return fresh;
  }

  private onDocUpdate = (update: Uint8Array, origin: unknown): void => {
    if (origin === this || this.ignoreOrigins.has(origin) || this.destroyed) {
      return;
    }
    this.batcher.add(update);
  };

  /** A destroyed doc takes its provider along (its queue stays in the store). */
  private onDocDestroy = (): void => {
    this.destroy().catch((err: unknown) => {
      this.emitError('local', `destroy failed: ${(err as Error).message}`, 'local');
    });
  };

  private onBatch(update: Uint8Array): void {
    if (!this.loaded) {
      this.preload.push(update);
      return;
    }
    this.enqueueUpdate(update);
  }

  private enqueueUpdate(update: Uint8Array): void {
    try {
      this.outbox.addUpdate(update, this.doc.clientID);
    } catch (err) {
      const code = err instanceof UpdateTooLargeError ? 'too_large' : 'local';
      this.emitError(code, `a local update cannot be sent: ${(err as Error).message}`, 'local');
    }
  }

  private enqueueItem(
    kind: 'item_write' | 'item_resolve',
    itemId: string,
    value: Uint8Array,
    clock: VectorClock,
  ): string {
    if (this.destroyed) {
      throw new Error('provider destroyed');
    }
    this.localItemClocks.set(itemId, clockMerge(this.localItemClocks.get(itemId) ?? [], clock));
    return this.outbox.addItem(kind, this.deviceId, itemId, value, clock);
  }

  // ---- connections ------------------------------------------------------

  private async target(kind: 'write' | 'read'): Promise<LinkTarget> {
    const token = await this.tokens.get();
    const base = (kind === 'write' ? this.options.writeUrl : this.options.readUrl).replace(
      /\/+$/,
      '',
    );
    const url = new URL(`${base}/v1/documents/${this.docId}/${kind}`);
    if (kind === 'read' && this.lastVersion !== undefined) {
      url.searchParams.set('since', String(this.lastVersion));
    }
    if ((this.options.tokenTransport ?? 'query') === 'query') {
      url.searchParams.set('access_token', token);
      return { url: url.toString() };
    }
    return { url: url.toString(), protocols: ['collab.v1', `bearer.${token}`] };
  }

  private onConnectError(source: 'write' | 'read', err: Error, status: number | undefined): void {
    if (status === 401) {
      this.tokens.invalidate();
    }
    this.emitError(
      err instanceof LoginError ? 'auth' : status === 401 ? 'unauthorized' : 'connect',
      `${source} connection failed: ${err.message}`,
      source,
      undefined,
      status,
    );
    this.updateStatus();
  }

  private onWriteMessage(data: Uint8Array | string): void {
    let message: IngestMessage;
    try {
      if (typeof data === 'string') {
        throw new ProtocolError('text frame on the write connection');
      }
      message = decodeIngestMessage(data);
    } catch (err) {
      this.badFrame('write', err as Error);
      return;
    }
    switch (message.type) {
      case 'hello':
        this.onHello(message.maxMessageBytes, message.maxOpsPerSecond);
        break;
      case 'ack':
        this.outbox.ack(message.opId, message.partition, message.offset);
        break;
      case 'nack':
        this.outbox.nack(message.opId, message.code, message.message, message.retryAfterMs);
        break;
      case 'error':
        this.emitError(message.code, message.message, 'write');
        if (message.code === 'shutting_down') {
          this.writeLink.restart('server shutting down');
        }
        break;
    }
  }

  private onHello(maxMessageBytes: number, maxOpsPerSecond: number): void {
    this.writeReady = true;
    this.writeLink.resetBackoff();
    this.announcePresence();
    this.updateStatus();
    this.outbox.connected(maxMessageBytes, maxOpsPerSecond);
  }

  private onWriteClose(): void {
    this.writeReady = false;
    this.outbox.disconnected();
    this.updateStatus();
  }

  private onReadOpen(): void {
    this.readLink.resetBackoff();
    // A new read connection starts over: a RESYNC of the old one is void.
    this.expectingState = false;
    this.announcePresence();
    if (this.lastVersion !== undefined) {
      this.awaitSynced(); // resumed: the replay of what was missed, then SYNCED
    }
    this.updateStatus();
  }

  private onReadClose(): void {
    // Others' presence is kept over a dropped read link: it is not replayed
    // on reconnect, and y-protocols drops states not renewed within 30 s.
    this.isSynced = false;
    this.stateItemsVersion = undefined;
    this.cancelSyncedFallback();
    this.updateStatus();
  }

  /** Forgets everyone else's presence (this client went offline on purpose). */
  private removeOthersPresence(): void {
    const others = [...this.awareness.getStates().keys()].filter(
      (id) => id !== this.awareness.clientID,
    );
    if (others.length > 0) {
      awarenessProtocol.removeAwarenessStates(this.awareness, others, this);
    }
  }

  private onReadMessage(data: Uint8Array | string): void {
    let message: BroadcasterMessage;
    try {
      if (typeof data === 'string') {
        throw new ProtocolError('text frame on the read connection');
      }
      message = decodeBroadcasterMessage(data);
    } catch (err) {
      this.badFrame('read', err as Error);
      return;
    }
    switch (message.type) {
      case 'state':
        this.onState(message.version, message.update);
        break;
      case 'merged':
        if (this.acceptVersion(message.version)) {
          if (!this.applyRemote(message.update)) {
            return;
          }
          this.lastVersion = message.version;
          this.emit('merged', [
            { version: message.version, opId: message.opId, ingestTimeMs: message.ingestTimeMs },
          ]);
        }
        break;
      case 'item':
        if (message.opId === '' && message.version === this.stateItemsVersion) {
          this.onItem(message.itemJson); // an item of the STATE just applied
        } else if (this.acceptVersion(message.version)) {
          this.lastVersion = message.version;
          this.onItem(message.itemJson);
        }
        break;
      case 'awareness':
        try {
          awarenessProtocol.applyAwarenessUpdate(this.awareness, message.update, this);
        } catch (err) {
          this.badFrame('read', err as Error);
        }
        break;
      case 'resync':
        this.expectingState = true;
        this.isSynced = false;
        this.cancelSyncedFallback();
        this.emit('resync', [{ reason: message.reason }]);
        break;
      case 'synced':
        this.onSynced(message.version);
        break;
      case 'error':
        this.emitError(message.code, message.message, 'read');
        break;
    }
  }

  /** Applies a remote Yjs update; one Yjs cannot read is a bad frame (the link reconnects). */
  private applyRemote(update: Uint8Array): boolean {
    try {
      Y.applyUpdate(this.doc, update, this);
      return true;
    } catch (err) {
      this.badFrame('read', new Error(`Yjs update does not decode: ${(err as Error).message}`));
      return false;
    }
  }

  private onState(version: number, update: Uint8Array): void {
    if (!this.applyRemote(update)) {
      return;
    }
    this.lastVersion = version;
    this.expectingState = false;
    this.stateItemsVersion = version;
    this.sendUnsentLocalChanges(update);
    this.awaitSynced(); // the state's items and the presence come first, then SYNCED
  }

  /** The broadcaster says this reader is caught up as of `version`. */
  private onSynced(version: number): void {
    this.serverSendsSynced = true;
    this.cancelSyncedFallback();
    this.stateItemsVersion = undefined;
    if (this.lastVersion === undefined || this.expectingState) {
      this.emitError('bad_frame', 'SYNCED before a STATE', 'read');
      this.readLink.restart('SYNCED before a STATE');
      return;
    }
    if (version > this.lastVersion) {
      // Caught up to a version whose ops never arrived: resume from ours.
      this.emitError('gap', `SYNCED at ${version}, applied ${this.lastVersion}: resuming`, 'read');
      this.readLink.restart('gap');
      return;
    }
    this.markSynced();
  }

  private markSynced(): void {
    if (this.lastVersion === undefined) {
      return;
    }
    this.isSynced = true;
    this.emit('synced', [{ version: this.lastVersion }]);
  }

  /**
   * Waits for SYNCED; a server that has not sent one yet may be one that
   * never does, so a timer declares the provider synced after
   * `syncedFallbackMs` unless SYNCED came first.
   */
  private awaitSynced(): void {
    this.isSynced = false;
    this.cancelSyncedFallback();
    if (this.serverSendsSynced) {
      return;
    }
    this.syncedFallback = this.timers.setTimeout(() => {
      this.syncedFallback = undefined;
      if (!this.isSynced && !this.expectingState) {
        this.markSynced();
      }
    }, this.options.syncedFallbackMs ?? DEFAULT_SYNCED_FALLBACK_MS);
  }

  private cancelSyncedFallback(): void {
    if (this.syncedFallback !== undefined) {
      this.timers.clearTimeout(this.syncedFallback);
      this.syncedFallback = undefined;
    }
  }

  /**
   * After a STATE: local content that neither the server nor the op queue
   * has (edits made before this provider existed, or lost with a batch when
   * the page closed; y-indexeddb still had them) is sent as one new op.
   */
  private sendUnsentLocalChanges(serverState: Uint8Array): void {
    this.batcher.flush();
    if (!this.loaded) {
      return; // load() enqueues the early batches and a later STATE checks again
    }
    const queued = this.outbox.pendingUpdates();
    const known = queued.length > 0 ? Y.mergeUpdates([serverState, ...queued]) : serverState;
    const diff = Y.encodeStateAsUpdate(this.doc, Y.encodeStateVectorFromUpdate(known));
    const scratch = new Y.Doc();
    try {
      Y.applyUpdate(scratch, known);
      const before = Y.snapshot(scratch);
      Y.applyUpdate(scratch, diff);
      if (!Y.equalSnapshots(before, Y.snapshot(scratch))) {
        this.enqueueUpdate(diff);
      }
    } finally {
      scratch.destroy();
    }
  }

  /**
   * Whether a MERGED/ITEM with `version` is the next one. A repeat is
   * ignored; a gap (or a merged op where a STATE must come first) reconnects
   * the read link, which resumes with since = the last version applied.
   */
  private acceptVersion(version: number): boolean {
    if (this.lastVersion !== undefined && !this.expectingState) {
      if (version <= this.lastVersion) {
        return false;
      }
      if (version === this.lastVersion + 1) {
        return true;
      }
    }
    const expected =
      this.lastVersion === undefined || this.expectingState
        ? 'a STATE'
        : `version ${this.lastVersion + 1}`;
    this.emitError('gap', `got version ${version}, expected ${expected}: resuming`, 'read');
    this.readLink.restart('gap');
    return false;
  }

  private onItem(json: string): void {
    let state: ItemState;
    try {
      state = parseItemState(json);
    } catch (err) {
      this.emitError('bad_item', (err as Error).message, 'read');
      return;
    }
    this.items.set(state.itemId, state);
    this.emit('item', [{ itemId: state.itemId, state }]);
    if (state.conflict) {
      this.emit('conflict', [{ itemId: state.itemId, siblings: state.siblings, state }]);
    }
  }

  private badFrame(source: 'write' | 'read', err: Error): void {
    this.emitError('bad_frame', err.message, source);
    (source === 'write' ? this.writeLink : this.readLink).restart('bad frame');
  }

  // ---- awareness transport ---------------------------------------------

  private onAwarenessUpdate = (
    change: { added: number[]; updated: number[]; removed: number[] },
    origin: unknown,
  ): void => {
    const id = this.awareness.clientID;
    if (origin === this) {
      // The broadcaster relays presence but does not replay it to newcomers
      // (docs/protocol.md): announce ourselves when someone new appears, or
      // they would not see us until our next 15 s renewal.
      if (change.added.some((other) => other !== id) && this.awareness.getLocalState() !== null) {
        this.sendAwareness([id]);
      }
      return;
    }
    if (change.added.includes(id) || change.updated.includes(id) || change.removed.includes(id)) {
      this.sendAwareness([id]);
    }
  };

  /**
   * Sends our presence once both links are up: the others answer a newcomer
   * with their own state, and only a reader that is already subscribed gets
   * those answers (the broadcaster does not replay presence).
   */
  private announcePresence(): void {
    if (
      this.writeReady &&
      this.readLink.state === 'open' &&
      this.awareness.getLocalState() !== null
    ) {
      this.sendAwareness([this.awareness.clientID]);
    }
  }

  private sendAwareness(clients: number[]): void {
    if (!this.writeReady) {
      return;
    }
    const update = awarenessProtocol.encodeAwarenessUpdate(this.awareness, clients);
    this.writeLink.send(encodeClientMessage({ type: 'awareness', update }));
  }

  /** Tells the others this client is gone, before the write link closes. */
  private sendAwarenessRemoval(): void {
    if (this.writeReady && this.awareness.getLocalState() !== null) {
      awarenessProtocol.removeAwarenessStates(this.awareness, [this.awareness.clientID], 'local');
    }
  }

  // ---- events -----------------------------------------------------------

  private updateStatus(): void {
    const write: ConnectionState = this.writeReady
      ? 'connected'
      : this.writeLink.state === 'closed'
        ? 'disconnected'
        : 'connecting';
    const read: ConnectionState =
      this.readLink.state === 'open'
        ? 'connected'
        : this.readLink.state === 'closed'
          ? 'disconnected'
          : 'connecting';
    let status: ProviderStatus;
    if (write === 'connected' && read === 'connected') {
      status = 'connected';
    } else if (this.destroyed || !this.wantConnected) {
      status = 'disconnected';
    } else {
      status = 'connecting';
    }
    if (status !== this.lastStatus) {
      this.lastStatus = status;
      this.emit('status', [{ status, write, read }]);
    }
  }

  private emitError(
    code: string,
    message: string,
    source: ProviderError['source'],
    op?: StoredOp,
    status?: number,
  ): void {
    const event: ProviderError = { code, message, source };
    if (op !== undefined) {
      event.opId = op.opId;
      event.op = op;
    }
    if (status !== undefined) {
      event.status = status;
    }
    this.emit('error', [event]);
  }
}
