// Batching of local Yjs updates (seed 001, "hybrid approach"): a batch is
// sent when the user pauses for `pauseMs`, at the latest `maxDelayMs` after
// its first change, or as soon as `maxChars` characters changed; the batch is
// merged into one update (Y.mergeUpdates) so each send is one operation.

import * as Y from 'yjs';

import { type TimerHandle, type Timers } from './timers.js';

export interface BatchOptions {
  /** Send when no change came for this long (ms). Default 200. */
  pauseMs?: number;
  /** Send at the latest this long after the first change of a batch (ms). Default 2000. */
  maxDelayMs?: number;
  /** Send once this many characters (UTF-16 units inserted or deleted) changed. Default 20. */
  maxChars?: number;
}

export type FlushReason = 'pause' | 'max_delay' | 'max_chars' | 'explicit';

/**
 * Characters an update changes: the length of every struct it inserts plus
 * the length of every range it deletes, in Yjs' units (UTF-16 code units for
 * text, one per array element or map entry).
 */
export function changedCharacters(update: Uint8Array): number {
  const { structs, ds } = Y.decodeUpdate(update);
  let total = 0;
  for (const struct of structs) {
    if (struct instanceof Y.Item) {
      total += struct.length;
    }
  }
  for (const ranges of ds.clients.values()) {
    for (const range of ranges) {
      total += range.len;
    }
  }
  return total;
}

export class UpdateBatcher {
  private readonly pauseMs: number;
  private readonly maxDelayMs: number;
  private readonly maxChars: number;
  private updates: Uint8Array[] = [];
  private chars = 0;
  private pauseTimer: TimerHandle | null = null;
  private deadlineTimer: TimerHandle | null = null;

  /**
   * `onFlush` receives the merged update of a batch (a new buffer the
   * receiver owns) and why it was sent.
   */
  constructor(
    private readonly timers: Timers,
    private readonly onFlush: (update: Uint8Array, reason: FlushReason) => void,
    options: BatchOptions = {},
  ) {
    this.pauseMs = options.pauseMs ?? 200;
    this.maxDelayMs = options.maxDelayMs ?? 2000;
    this.maxChars = options.maxChars ?? 20;
    for (const [name, value] of Object.entries({
      pauseMs: this.pauseMs,
      maxDelayMs: this.maxDelayMs,
      maxChars: this.maxChars,
    })) {
      if (!Number.isFinite(value) || value < 0) {
        throw new RangeError(`batch option ${name} must be a non-negative number`);
      }
    }
  }

  /** Number of updates waiting in the current batch. */
  get size(): number {
    return this.updates.length;
  }

  add(update: Uint8Array): void {
    this.updates.push(update);
    this.chars += changedCharacters(update);
    if (this.chars >= this.maxChars) {
      this.flush('max_chars');
      return;
    }
    if (this.deadlineTimer === null) {
      this.deadlineTimer = this.timers.setTimeout(() => this.flush('max_delay'), this.maxDelayMs);
    }
    if (this.pauseTimer !== null) {
      this.timers.clearTimeout(this.pauseTimer);
    }
    this.pauseTimer = this.timers.setTimeout(() => this.flush('pause'), this.pauseMs);
  }

  /** Sends the current batch now, if there is one. */
  flush(reason: FlushReason = 'explicit'): void {
    this.cancelTimers();
    if (this.updates.length === 0) {
      return;
    }
    const merged = this.updates.length === 1 ? this.updates[0]! : Y.mergeUpdates(this.updates);
    this.updates = [];
    this.chars = 0;
    this.onFlush(merged, reason);
  }

  /** Drops the timers; a batch still held is discarded (the caller flushed it first if it mattered). */
  destroy(): void {
    this.cancelTimers();
    this.updates = [];
    this.chars = 0;
  }

  private cancelTimers(): void {
    if (this.pauseTimer !== null) {
      this.timers.clearTimeout(this.pauseTimer);
      this.pauseTimer = null;
    }
    if (this.deadlineTimer !== null) {
      this.timers.clearTimeout(this.deadlineTimer);
      this.deadlineTimer = null;
    }
  }
}
