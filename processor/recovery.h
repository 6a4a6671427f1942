/*
 * recovery: how a processor instance gets a document into memory.
 *
 * Loading one document (on demand, or after it was evicted): the newest of
 * Redis doc:{doc} and the latest snapshot, then the crdt_operations after it
 * as far as they are contiguous, the items (snapshot, MongoDB items) and the
 * document's item policy.
 *
 * Recovering a partition (when the consumer group assigns it): every record
 * of collab.merged in that partition that is not yet in a snapshot is read
 * again, from the snapshotter group's committed offset (the snapshotter
 * commits only past records whose documents it has snapshotted) to the end of
 * the committed log, and replayed into its document (loaded as above first),
 * so the documents are exactly at the versions already committed before any
 * new op of the partition is merged. The records replayed are handed back so
 * the caller can rewrite their views (idempotent). Prefix: precover_.
 */
#ifndef PROCESSOR_RECOVERY_H
#define PROCESSOR_RECOVERY_H

#include <stddef.h>
#include <stdint.h>

#include "common/avro_records.h"
#include "common/docstore.h"
#include "common/log.h"
#include "processor/doctable.h"

typedef struct precover_ctx {
    docstore *ds; /* read side, merge thread's own */
    const struct cavro_registry *avro;
    clog *log;
    const char *brokers;
    const char *merged_topic;
    const char *snapshotter_group;
    int timeout_ms; /* per Kafka call */
} precover_ctx;

/* Called for each merged record read during a partition recovery, after it
 * was applied to d, and also when d already held it (so that the caller can
 * write its views again: a crash may have lost them). */
typedef void (*precover_record_fn)(void *userdata, pdoc *d, const struct cavro_merged_op *m);

typedef enum precover_mode {
    /* The newest state the views have: Redis doc:{doc} or the snapshot, the
     * items in MongoDB, the crdt_operations after it, the item policy. */
    PRECOVER_VIEWS,
    /* Only the latest snapshot (text and items): the caller replays every
     * later record from the log itself (partition recovery), so nothing
     * newer may be mixed in; the item policy is read later, when needed. */
    PRECOVER_SNAPSHOT,
} precover_mode;

/*
 * Loads doc_id into a new entry of t (the caller made room). Returns the
 * document, or NULL with the reason in err (MongoDB unreachable, a stored
 * state the engine refuses, no memory): nothing is left in t then.
 * *snapshot_version (may be NULL) gets the version of the latest snapshot
 * (0 when there is none). record_version is the version of the record the
 * caller is about to apply (0: not known): when the snapshot or the Redis
 * state already reaches the version before it, the crdt_operations query is
 * skipped, since the log brings everything after (on FerretDB that query
 * scans the whole collection, so a new document's first record cost a
 * scan of every row stored).
 */
pdoc *precover_load_doc(const precover_ctx *ctx, pdoc_table *t, const char *doc_id,
                        int32_t partition, precover_mode mode, int64_t record_version,
                        int64_t *snapshot_version, char *err, size_t err_size);

/*
 * Loads several documents at once, each from its latest snapshot only, with
 * two MongoDB queries in all (last_processed_version, then document_versions
 * by id); a document without a snapshot starts empty. Only for documents whose
 * state is exactly their latest snapshot: not in memory, not evicted since
 * their partition was recovered, and without records after the snapshotter's
 * offset (those were loaded by the recovery). ids[i] goes to partitions[i];
 * ids already in t are skipped. Returns 0, or -1 with the reason in err
 * (nothing half-loaded stays in t).
 */
int precover_prefetch(const precover_ctx *ctx, pdoc_table *t, const char *const *ids,
                      const int32_t *partitions, size_t count, char *err, size_t err_size);

/* Reads d's item policy from MongoDB documents if not known yet. 0 or -1. */
int precover_load_policy(const precover_ctx *ctx, pdoc *d, char *err, size_t err_size);

/*
 * Recovers partitions as described above, reading them all with one
 * consumer. *records = records replayed, *gaps = records that did not follow
 * their document's version (logged; a missing snapshot or a damaged log).
 * Returns 0, or -1 with the reason in err (the caller drops what was loaded
 * and retries; replaying a record twice is a no-op anyway).
 */
int precover_partitions(const precover_ctx *ctx, pdoc_table *t, const int32_t *partitions,
                        size_t count, precover_record_fn fn, void *userdata, int64_t *records,
                        int64_t *gaps, char *err, size_t err_size);

/*
 * Loads several documents at once, each from its latest snapshot only, with
 * two MongoDB queries in all (last_processed_version, then document_versions
 * by id); a document without a snapshot starts empty. Only for documents whose
 * state is exactly their latest snapshot: not in memory, not evicted since
 * their partition was recovered, and without records after the snapshotter's
 * offset (those were loaded by the recovery). ids[i] goes to partitions[i];
 * ids already in t are skipped. Returns 0, or -1 with the reason in err
 * (nothing half-loaded stays in t).
 */
int precover_prefetch(const precover_ctx *ctx, pdoc_table *t, const char *const *ids,
                      const int32_t *partitions, size_t count, char *err, size_t err_size);

/* Reads d's item policy from MongoDB documents if not known yet. 0 or -1. */
int precover_load_policy(const precover_ctx *ctx, pdoc *d, char *err, size_t err_size);

/*
 * Recovers one partition as described above. *records = records replayed,
 * *gaps = records that did not follow their document's version (logged; a
 * missing snapshot or a damaged log). Returns 0, or -1 with the reason in err
 * (the caller retries: nothing is half-loaded that a retry would get wrong,
 * since replaying a record twice is a no-op).
 */
int precover_partition(const precover_ctx *ctx, pdoc_table *t, int32_t partition,
                       precover_record_fn fn, void *userdata, int64_t *records, int64_t *gaps,
                       char *err, size_t err_size);

#endif
