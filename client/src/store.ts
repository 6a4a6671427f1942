// Where unacknowledged operations wait: the provider writes every operation
// here before sending it and deletes it on its ACK (or a final NACK), so edits
// made offline or lost with a connection are sent again, with the same op ids,
// after a reconnect or a reload. MemoryOpStore is for node and tests;
// IndexedDbOpStore (./indexeddb.ts) keeps them across browser reloads.

import { type VectorClock } from './vclock.js';

export type OpKind = 'update' | 'item_write' | 'item_resolve';

/** One operation as it is sent (docs/protocol.md, UPDATE / ITEM_WRITE / ITEM_RESOLVE). */
export interface StoredOp {
  /** Order of creation within the document; the queue is sent in this order. */
  seq: number;
  opId: string;
  kind: OpKind;
  clientId: number;
  clientTimeMs: number;
  /** Yjs update (kind 'update'). */
  update?: Uint8Array;
  /** Item operation fields (kinds 'item_write', 'item_resolve'). */
  itemId?: string;
  value?: Uint8Array;
  clock?: VectorClock;
}

/**
 * Storage of the op queue and of a few small values (the device id, its item
 * counter). Implementations must keep ops of different documents apart and
 * return them ordered by `seq`. Every method may reject; the provider reports
 * that as an `error` event (code `storage`) and keeps working from memory.
 */
export interface OpStore {
  loadOps(docId: string): Promise<StoredOp[]>;
  putOp(docId: string, op: StoredOp): Promise<void>;
  deleteOp(docId: string, seq: number): Promise<void>;
  getMeta(key: string): Promise<string | undefined>;
  setMeta(key: string, value: string): Promise<void>;
}

/** An OpStore in memory: survives reconnects, not a restart of the process. */
export class MemoryOpStore implements OpStore {
  private readonly ops = new Map<string, Map<number, StoredOp>>();
  private readonly meta = new Map<string, string>();

  async loadOps(docId: string): Promise<StoredOp[]> {
    const ops = [...(this.ops.get(docId)?.values() ?? [])];
    return ops.sort((a, b) => a.seq - b.seq).map((op) => ({ ...op }));
  }

  async putOp(docId: string, op: StoredOp): Promise<void> {
    let ops = this.ops.get(docId);
    if (ops === undefined) {
      ops = new Map();
      this.ops.set(docId, ops);
    }
    ops.set(op.seq, { ...op });
  }

  async deleteOp(docId: string, seq: number): Promise<void> {
    this.ops.get(docId)?.delete(seq);
  }

  async getMeta(key: string): Promise<string | undefined> {
    return this.meta.get(key);
  }

  async setMeta(key: string, value: string): Promise<void> {
    this.meta.set(key, value);
  }
}
