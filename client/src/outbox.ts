// The outgoing half of the write connection: the queue of operations not yet
// acknowledged. Every op is stored (OpStore) before it is sent and deleted on
// its ACK or final NACK; on every (re)connect the unacked ops go out again,
// in order, with their op ids, within the rate and size limits of ingest's
// HELLO. NACKs with retry_after_ms pause the queue; too_large splits updates.

import { uuidv4 } from 'lib0/random';

import { type ClientMessage, UPDATE_ENVELOPE_MAX_BYTES, encodeClientMessage } from './protocol.js';
import { UpdateTooLargeError, splitUpdate } from './split.js';
import { type OpStore, type StoredOp } from './store.js';
import { type TimerHandle, type Timers } from './timers.js';
import { type VectorClock } from './vclock.js';

export interface OutboxEvents {
  acked(op: StoredOp, partition: number, offset: number): void;
  /** The op will never be sent again (final NACK, or it cannot be sent at all). */
  dropped(op: StoredOp, code: string, message: string): void;
  storageError(error: Error): void;
}

interface QueuedOp extends StoredOp {
  sent: boolean;
}

const DEFAULT_MAX_MESSAGE_BYTES = 1024 * 1024;

function messageOf(op: StoredOp): ClientMessage {
  const header = { opId: op.opId, clientId: op.clientId, clientTimeMs: op.clientTimeMs };
  if (op.kind === 'update') {
    return { type: 'update', ...header, update: op.update ?? new Uint8Array() };
  }
  return {
    type: op.kind,
    ...header,
    itemId: op.itemId ?? '',
    value: op.value ?? new Uint8Array(),
    clock: op.clock ?? [],
  };
}

/** crypto.randomUUID where the platform has it (node, secure contexts); lib0 draws per digit. */
function newOpId(): string {
  const webCrypto = (globalThis as { crypto?: { randomUUID?: () => string } }).crypto;
  return typeof webCrypto?.randomUUID === 'function' ? webCrypto.randomUUID() : uuidv4();
}

function stored(op: QueuedOp): StoredOp {
  const { sent: _sent, ...rest } = op;
  return rest;
}

export class Outbox {
  private queue: QueuedOp[] = [];
  /** Every op before this index is sent: pump() starts here, not at 0. */
  private unsentFrom = 0;
  private nextSeq = 0;
  private online = false;
  private maxBytes = DEFAULT_MAX_MESSAGE_BYTES;
  private maxOpsPerSecond = 0;
  private sendTimes: number[] = [];
  private pausedUntil = 0;
  private pumpTimer: TimerHandle | null = null;
  private waiters: { resolve: () => void; reject: (err: Error) => void }[] = [];
  private storeChain: Promise<void> = Promise.resolve();
  private closed = false;

  /** `send` writes one frame to the write connection; false when it is not open. */
  constructor(
    private readonly store: OpStore,
    private readonly docId: string,
    private readonly timers: Timers,
    private readonly send: (frame: Uint8Array) => boolean,
    private readonly events: OutboxEvents,
  ) {}

  /** Ops waiting for their ACK (sent or not). */
  get size(): number {
    return this.queue.length;
  }

  /** Largest message ingest accepts (from HELLO). */
  get maxMessageBytes(): number {
    return this.maxBytes;
  }

  get rateLimit(): number {
    return this.maxOpsPerSecond;
  }

  /** Yjs updates still waiting for their ACK, in order (new views, not copies). */
  pendingUpdates(): Uint8Array[] {
    return this.queue.flatMap((op) => (op.update !== undefined ? [op.update] : []));
  }

  /**
   * Loads the ops a previous session left in the store; call it once, before
   * adding anything. Returns them (the caller rebuilds item clocks from them).
   * Rejects when the store cannot be read; the outbox then starts empty.
   */
  async load(): Promise<StoredOp[]> {
    const ops = await this.store.loadOps(this.docId);
    this.queue = ops.map((op) => ({ ...op, sent: false }));
    this.nextSeq = ops.reduce((max, op) => Math.max(max, op.seq + 1), 0);
    this.pump();
    return ops;
  }

  /**
   * Queues a Yjs update, split into pieces that fit the message limit.
   * Throws UpdateTooLargeError when it holds one element larger than that.
   */
  addUpdate(update: Uint8Array, clientId: number): void {
    const pieces = splitUpdate(update, this.maxBytes - UPDATE_ENVELOPE_MAX_BYTES);
    for (const piece of pieces) {
      this.add({ kind: 'update', clientId, update: piece });
    }
  }

  /** Queues an item write or resolve; returns its op id. */
  addItem(
    kind: 'item_write' | 'item_resolve',
    clientId: number,
    itemId: string,
    value: Uint8Array,
    clock: VectorClock,
  ): string {
    return this.add({ kind, clientId, itemId, value, clock });
  }

  private add(fields: Omit<StoredOp, 'seq' | 'opId' | 'clientTimeMs'>): string {
    if (this.closed) {
      throw new Error('outbox closed');
    }
    const op: QueuedOp = {
      ...fields,
      seq: this.nextSeq++,
      opId: newOpId(),
      clientTimeMs: this.timers.now(),
      sent: false,
    };
    this.queue.push(op);
    this.persist(() => this.store.putOp(this.docId, stored(op)));
    this.pump();
    return op.opId;
  }

  /** Ingest said HELLO: send everything unacked, in order. */
  connected(maxMessageBytes: number, maxOpsPerSecond: number): void {
    this.online = true;
    this.maxBytes = maxMessageBytes > 0 ? maxMessageBytes : DEFAULT_MAX_MESSAGE_BYTES;
    this.maxOpsPerSecond = maxOpsPerSecond;
    this.pump();
  }

  /** The write connection closed: what was sent without an ACK is sent again later. */
  disconnected(): void {
    this.online = false;
    for (const op of this.queue) {
      op.sent = false;
    }
    this.unsentFrom = 0;
    this.cancelPump();
  }

  ack(opId: string, partition: number, offset: number): void {
    const index = this.indexOfSent(opId);
    if (index >= 0) {
      this.events.acked(this.remove(index), partition, offset);
    }
  }

  nack(opId: string, code: string, message: string, retryAfterMs: number): void {
    const index = this.indexOfSent(opId);
    if (index < 0) {
      return;
    }
    const op = this.queue[index]!;
    if (retryAfterMs > 0) {
      op.sent = false;
      this.unsentFrom = Math.min(this.unsentFrom, index);
      this.pausedUntil = Math.max(this.pausedUntil, this.timers.now() + retryAfterMs);
      this.schedulePump(retryAfterMs);
      return;
    }
    if (code === 'too_large' && op.kind === 'update') {
      const frameBytes = encodeClientMessage(messageOf(op)).length;
      if (this.resplit(index, Math.min(this.maxBytes, Math.floor(frameBytes / 2)))) {
        this.pump();
      }
      return;
    }
    this.events.dropped(this.remove(index), code, message);
  }

  /**
   * Resolves when the queue is empty (every op acked or dropped) and the
   * store has caught up; rejects on close().
   */
  whenEmpty(): Promise<void> {
    if (this.closed) {
      return Promise.reject(new Error('outbox closed'));
    }
    if (this.queue.length === 0) {
      return this.storeChain;
    }
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  /** Runs a store write after every earlier one (a delete never overtakes its put). */
  persist(task: () => Promise<void>): void {
    this.storeChain = this.storeChain.then(task).catch((err: unknown) => {
      this.events.storageError(err as Error);
    });
  }

  /** Stops sending; resolves once the store has seen every write. */
  async close(): Promise<void> {
    this.closed = true;
    this.online = false;
    this.cancelPump();
    const waiters = this.waiters;
    this.waiters = [];
    for (const waiter of waiters) {
      waiter.reject(new Error('provider destroyed'));
    }
    await this.storeChain;
  }

  private indexOfSent(opId: string): number {
    return this.queue.findIndex((op) => op.opId === opId && op.sent);
  }

  private remove(index: number): StoredOp {
    const [op] = this.queue.splice(index, 1);
    if (index < this.unsentFrom) {
      this.unsentFrom--;
    }
    const seq = op!.seq;
    this.persist(() => this.store.deleteOp(this.docId, seq));
    if (this.queue.length === 0) {
      const waiters = this.waiters;
      this.waiters = [];
      // After the store has the deletes too, so a reload right after sees no ghost ops.
      void this.storeChain.then(() => {
        for (const waiter of waiters) {
          waiter.resolve();
        }
      });
    }
    return stored(op!);
  }

  /** Sends every unsent op in queue order, within the rate limit and pauses. */
  private pump(): void {
    if (!this.online || this.closed) {
      return;
    }
    const now = this.timers.now();
    if (now < this.pausedUntil) {
      this.schedulePump(this.pausedUntil - now);
      return;
    }
    while (this.unsentFrom < this.queue.length && this.queue[this.unsentFrom]!.sent) {
      this.unsentFrom++;
    }
    for (let i = this.unsentFrom; i < this.queue.length; i++) {
      const op = this.queue[i]!;
      if (op.sent) {
        continue;
      }
      if (this.maxOpsPerSecond > 0) {
        this.sendTimes = this.sendTimes.filter((t) => t > now - 1000);
        if (this.sendTimes.length >= this.maxOpsPerSecond) {
          this.schedulePump(this.sendTimes[0]! + 1000 - now);
          return;
        }
      }
      let frame: Uint8Array;
      try {
        frame = encodeClientMessage(messageOf(op));
      } catch (err) {
        // Only an op from a damaged store gets here: drop it, keep the rest moving.
        this.events.dropped(
          this.remove(i--),
          'local',
          `cannot encode op: ${(err as Error).message}`,
        );
        continue;
      }
      if (frame.length > this.maxBytes) {
        if (this.resplit(i, this.maxBytes)) {
          i--; // the pieces now stand at i
        }
        continue;
      }
      if (!this.send(frame)) {
        return;
      }
      op.sent = true;
      if (i === this.unsentFrom) {
        this.unsentFrom = i + 1;
      }
      this.sendTimes.push(now);
    }
  }

  /**
   * Replaces the update op at `index` by pieces that fit `maxFrameBytes`
   * (the limit shrank, or ingest said too_large). Item ops cannot be split:
   * they are dropped. True when pieces replaced the op.
   */
  private resplit(index: number, maxFrameBytes: number): boolean {
    const op = this.queue[index]!;
    if (op.kind === 'update' && op.update !== undefined) {
      try {
        const pieces = splitUpdate(op.update, maxFrameBytes - UPDATE_ENVELOPE_MAX_BYTES);
        if (pieces.length > 1) {
          const replacements: QueuedOp[] = pieces.map((piece) => ({
            ...op,
            seq: this.nextSeq++,
            opId: newOpId(),
            update: piece,
            sent: false,
          }));
          // Replaced in place (not remove()): the queue never looks empty to whenEmpty().
          this.queue.splice(index, 1, ...replacements);
          this.unsentFrom = Math.min(this.unsentFrom, index);
          for (const replacement of replacements) {
            this.persist(() => this.store.putOp(this.docId, stored(replacement)));
          }
          this.persist(() => this.store.deleteOp(this.docId, op.seq));
          return true;
        }
      } catch (err) {
        if (!(err instanceof UpdateTooLargeError) && !(err instanceof RangeError)) {
          throw err;
        }
      }
    }
    this.events.dropped(
      this.remove(index),
      'too_large',
      `operation of kind ${op.kind} exceeds ${maxFrameBytes} bytes and cannot be split`,
    );
    return false;
  }

  private schedulePump(delayMs: number): void {
    if (this.pumpTimer !== null) {
      return;
    }
    this.pumpTimer = this.timers.setTimeout(
      () => {
        this.pumpTimer = null;
        this.pump();
      },
      Math.max(0, delayMs),
    );
  }

  private cancelPump(): void {
    if (this.pumpTimer !== null) {
      this.timers.clearTimeout(this.pumpTimer);
      this.pumpTimer = null;
    }
  }
}
