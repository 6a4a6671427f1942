// Browser persistence: an OpStore on IndexedDB (database "collab-client",
// stores "ops" and "meta"), so unacknowledged operations survive a reload
// and are resent with their op ids; and a helper that keeps the Y.Doc itself
// in IndexedDB with y-indexeddb. A separate entry point
// (`@collab/client/indexeddb`) so node users never load IndexedDB code.

import * as idb from 'lib0/indexeddb';
import { IndexeddbPersistence } from 'y-indexeddb';
import type * as Y from 'yjs';

import { type OpStore, type StoredOp } from './store.js';

const OPS = 'ops';
const META = 'meta';

/** An OpStore in one IndexedDB database; ops are keyed [docId, seq]. */
export class IndexedDbOpStore implements OpStore {
  private readonly db: Promise<IDBDatabase>;

  /** Opens (creating when needed) the database; `close()` releases it. */
  constructor(readonly name = 'collab-client') {
    this.db = idb.openDB(name, (db) => idb.createStores(db, [[OPS], [META]]));
  }

  async loadOps(docId: string): Promise<StoredOp[]> {
    const [ops] = idb.transact(await this.db, [OPS], 'readonly');
    const range = idb.createIDBKeyRangeBound([docId, 0], [docId, Infinity], false, false);
    const rows = (await idb.getAll(ops!, range)) as StoredOp[];
    return rows.sort((a, b) => a.seq - b.seq);
  }

  async putOp(docId: string, op: StoredOp): Promise<void> {
    const [ops] = idb.transact(await this.db, [OPS]);
    // IndexedDB stores structured clones: Uint8Arrays and nested arrays as they are.
    await idb.put(ops!, op as unknown as string, [docId, op.seq]);
  }

  async deleteOp(docId: string, seq: number): Promise<void> {
    const [ops] = idb.transact(await this.db, [OPS]);
    await idb.del(ops!, [docId, seq]);
  }

  async getMeta(key: string): Promise<string | undefined> {
    const [meta] = idb.transact(await this.db, [META], 'readonly');
    const value = await idb.get(meta!, key);
    return typeof value === 'string' ? value : undefined;
  }

  async setMeta(key: string, value: string): Promise<void> {
    const [meta] = idb.transact(await this.db, [META]);
    await idb.put(meta!, value, key);
  }

  async close(): Promise<void> {
    (await this.db).close();
  }
}

/**
 * Keeps `doc` in IndexedDB (y-indexeddb, database `collab-doc:{docId}`) and
 * returns it with an op store. Pass both to the provider:
 * `{ store, ignoreOrigins: [persistence] }`, so that loading the doc from
 * IndexedDB is not sent again as new edits. Resolves once the stored doc is
 * loaded. The caller destroys `persistence` and closes `store` when done.
 */
export async function openOfflineDocument(
  docId: string,
  doc: Y.Doc,
  storeName = 'collab-client',
): Promise<{ persistence: IndexeddbPersistence; store: IndexedDbOpStore }> {
  const persistence = new IndexeddbPersistence(`collab-doc:${docId}`, doc);
  await persistence.whenSynced;
  return { persistence, store: new IndexedDbOpStore(storeName) };
}
