// Reads the views the processor and snapshotter keep (docs/storage.md) and
// checks them against a document's reference Y.Doc: MongoDB crdt_operations
// (versions 1..N, each op id once, replaying them rebuilds the reference),
// documents, document_versions and last_processed_version (every snapshot
// equals the replay up to its version), items, and the Redis cache (doc:{id},
// item:{id}:{item}). Each check returns a list of problems, empty when
// consistent, so a caller can wait until the batched views have caught up.

import { MongoClient } from 'mongodb';
import { commandOptions, createClient } from 'redis';

import { Y } from './collab.mjs';
import { contentOf } from './participants.mjs';
import { servers } from './stack.mjs';

/** [1,2,3,7] -> "1-3, 7" */
function ranges(numbers) {
  const out = [];
  for (let i = 0; i < numbers.length; i++) {
    let j = i;
    while (j + 1 < numbers.length && numbers[j + 1] === numbers[j] + 1) j++;
    out.push(i === j ? `${numbers[i]}` : `${numbers[i]}-${numbers[j]}`);
    i = j;
  }
  return out.join(', ');
}

/** Whether applying `update` to `doc` would change nothing (undefined: unknown, so no). */
function redundant(doc, update) {
  if (update === undefined) return false;
  const copy = new Y.Doc();
  Y.applyUpdate(copy, Y.encodeStateAsUpdate(doc));
  const before = Y.snapshot(copy);
  Y.applyUpdate(copy, update);
  const same = Y.equalSnapshots(before, Y.snapshot(copy));
  copy.destroy();
  return same;
}

export class Views {
  static async open(mongoDb) {
    const views = new Views();
    views.mongo = new MongoClient(servers.mongoUri, {
      serverSelectionTimeoutMS: 10_000,
    });
    await views.mongo.connect();
    views.db = views.mongo.db(mongoDb);
    views.redis = createClient({ url: servers.redisUrl });
    views.redis.on('error', () => {}); // reported by the command that fails
    await views.redis.connect();
    return views;
  }

  async close() {
    await this.redis?.quit().catch(() => {});
    await this.mongo?.close();
  }

  async operations(docId) {
    return this.db
      .collection('crdt_operations')
      .find({ doc_id: docId })
      .sort({ version: 1 })
      .toArray();
  }

  /**
   * Problems with the operation log of `docId`: a gap or repeat in versions,
   * an op id twice, an acked op missing or an op nobody acked, and a replay
   * that differs from the reference. Returns {problems, version}.
   */
  async checkOperations(docId, reference, ackedOpIds, sent) {
    const problems = [];
    const ops = await this.operations(docId);
    const seen = new Set();
    const replay = new Y.Doc();
    const versions = new Set(ops.map((op) => op.version));
    const newest = ops.at(-1)?.version ?? 0;
    const missing = [];
    for (let v = 1; v <= newest; v++) if (!versions.has(v)) missing.push(v);
    if (missing.length > 0) {
      problems.push(`crdt_operations lacks versions ${ranges(missing)} of 1-${newest}`);
    }
    if (versions.size !== ops.length) {
      problems.push(`crdt_operations holds a version twice`);
    }
    ops.forEach((op) => {
      if (seen.has(op.op_id)) {
        problems.push(`crdt_operations: op id ${op.op_id} twice`);
      }
      seen.add(op.op_id);
      if (op.kind === 'YJS_UPDATE') {
        Y.applyUpdate(replay, op.bytes.buffer);
      }
    });
    // An acked op without a version is fine only if it changed nothing (docs/protocol.md:
    // "every op that changed the document has one"), e.g. a resend of content already merged.
    const lost = [...ackedOpIds].filter((id) => !seen.has(id) && !redundant(replay, sent.get(id)));
    if (lost.length > 0) {
      problems.push(
        `${lost.length} acked ops that change the document are not in crdt_operations ` +
          `(${lost[0]}: ${sent.has(lost[0]) ? 'an update' : 'not an update'}, ...)`,
      );
    }
    const notAcked = [...seen].filter((id) => !ackedOpIds.has(id));
    if (notAcked.length > 0) {
      problems.push(`${notAcked.length} ops in crdt_operations nobody acked (${notAcked[0]}, ...)`);
    }
    const want = JSON.stringify(contentOf(reference));
    if (JSON.stringify(contentOf(replay)) !== want) {
      problems.push('replaying crdt_operations does not give the reference content');
    }
    replay.destroy();
    return { problems, version: ops.length, ops };
  }

  /**
   * documents.version, the snapshots (each equal to the op replay up to its
   * version; the newest at `version`), last_processed_version and the Redis
   * cache of `docId` at `version` with the reference content.
   */
  async checkViews(docId, reference, version, ops) {
    const problems = [];
    const want = JSON.stringify(contentOf(reference));

    const document = await this.db.collection('documents').findOne({ _id: docId });
    if (document?.version !== version) {
      problems.push(`documents.version is ${document?.version}, want ${version}`);
    }

    const snapshots = await this.db
      .collection('document_versions')
      .find({ doc_id: docId })
      .sort({ version: 1 })
      .toArray();
    const newest = snapshots.at(-1);
    if (newest?.version !== version) {
      problems.push(`newest document_versions is ${newest?.version}, want ${version}`);
    }
    for (const snap of snapshots) {
      if (ops.length < snap.version || ops[snap.version - 1]?.version !== snap.version) {
        continue; // the op log has a hole below this snapshot: reported by checkOperations
      }
      const replay = new Y.Doc();
      for (const op of ops) {
        if (op.version > snap.version) break;
        if (op.kind === 'YJS_UPDATE') Y.applyUpdate(replay, op.bytes.buffer);
      }
      const fromSnapshot = new Y.Doc();
      Y.applyUpdate(fromSnapshot, snap.state.buffer);
      if (JSON.stringify(contentOf(fromSnapshot)) !== JSON.stringify(contentOf(replay))) {
        problems.push(`document_versions ${snap._id} differs from the op replay to its version`);
      }
      replay.destroy();
      fromSnapshot.destroy();
    }
    const lpv = await this.db.collection('last_processed_version').findOne({ _id: docId });
    if (lpv?.version !== newest?.version) {
      problems.push(
        `last_processed_version is ${lpv?.version}, newest snapshot ${newest?.version}`,
      );
    }

    const cached = await this.redis.hGetAll(
      commandOptions({ returnBuffers: true }),
      `doc:${docId}`,
    );
    const cachedVersion = Number(cached.version?.toString());
    if (cachedVersion !== version) {
      problems.push(`redis doc:${docId} version is ${cachedVersion}, want ${version}`);
    } else {
      const fromCache = new Y.Doc();
      Y.applyUpdate(fromCache, new Uint8Array(cached.state));
      if (JSON.stringify(contentOf(fromCache)) !== want) {
        problems.push(`redis doc:${docId} state is not the reference content`);
      }
      fromCache.destroy();
    }
    return problems;
  }

  /** The item's state JSON in MongoDB `items` and in Redis, parsed (undefined if absent). */
  async itemStates(docId, itemId) {
    const stored = await this.db.collection('items').findOne({ _id: `${docId}/${itemId}` });
    const cached = await this.redis.hGet(`item:${docId}:${itemId}`, 'state');
    return {
      mongo: stored?.state === undefined ? undefined : JSON.parse(stored.state),
      redis: cached === null || cached === undefined ? undefined : JSON.parse(cached),
    };
  }
}
