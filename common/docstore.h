/*
 * docstore: the document views in MongoDB and Redis (docs/storage.md), shared by
 * the processor and the snapshotter (write side) and by the broadcaster, the
 * processor's recovery and replay (read side). Kafka is the source of truth;
 * everything here is a view that a replay can rebuild, so every write is
 * idempotent and conditioned on a version (or an item revision): a retried, a
 * replayed or a zombie's write is a no-op and never rolls a view back.
 *
 * The views (docs/storage.md has every field):
 *  - MongoDB documents: version, state_vector, updated_at ($lt: v upsert);
 *  - MongoDB crdt_operations: one per merged op, _id "<doc>/<op_id>", unique
 *    (doc_id, version);
 *  - MongoDB document_versions: one per snapshot, _id "<doc>/<version>";
 *  - MongoDB last_processed_version: per doc, version, partition, offset
 *    ($lt: v upsert);
 *  - MongoDB items: per item, its JSON state and revision ($lt: revision upsert);
 *  - Redis doc:{doc}: version, state, sv (Lua: only a newer version);
 *  - Redis snapshot:{doc}: version, partition, offset, record (Avro Snapshot);
 *  - Redis item:{doc}:{item}: revision, version, state (JSON), value, conflict.
 *
 * Reads: docstore_load_state gives the newest state a reader can get: Redis
 * doc:{doc} when present, else the newest snapshot plus the newer
 * crdt_operations, merged into one Yjs update.
 *
 * Threading: a docstore is thread-safe as far as its cmongo pool and credis
 * handle are (both are); a thread that writes a lot should have its own
 * credis handle and its own docstore. Prefix: docstore_.
 */
#ifndef COMMON_DOCSTORE_H
#define COMMON_DOCSTORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/avro_records.h"
#include "common/log.h"
#include "common/mongo.h"
#include "common/redis.h"

typedef struct docstore docstore;

typedef enum docstore_status {
    DOCSTORE_OK = 0,
    DOCSTORE_NOT_FOUND,   /* nothing stored for that document (a read) */
    DOCSTORE_UNAVAILABLE, /* MongoDB or Redis cannot be reached: retry later */
    DOCSTORE_FAILED,      /* anything else (bad stored data, a server error): see err */
} docstore_status;

const char *docstore_status_name(docstore_status st);

/*
 * A docstore over mongo and redis (both borrowed, must outlive it; redis may
 * be NULL: the Redis views are then neither written nor read) and the Avro
 * registry (borrowed) used for the Snapshot records. NULL when out of memory.
 * Free with docstore_free.
 */
docstore *docstore_new(cmongo *mongo, credis *redis, const struct cavro_registry *avro, clog *log);
void docstore_free(docstore *ds);

/* The MongoDB handle the docstore was made with (borrowed): for callers that
 * batch their own queries over these collections. */
cmongo *docstore_mongo(docstore *ds);

/* How the conditional writes of this docstore turned out since it was made:
 * "written" changed the view, "present"/"newer" found the same or a newer
 * version there already (the idempotent no-op of a replay). Snapshot writes
 * are not counted. A replay reports these; a processor could export them. */
typedef struct docstore_counts {
    uint64_t rows_inserted, rows_present;            /* crdt_operations */
    uint64_t documents_written, documents_newer;     /* MongoDB documents */
    uint64_t states_written, states_newer;           /* Redis doc:{doc} */
    uint64_t items_written, items_newer;             /* MongoDB items */
    uint64_t item_caches_written, item_caches_newer; /* Redis item:{doc}:{item} */
} docstore_counts;

void docstore_get_counts(docstore *ds, docstore_counts *out);

/* Creates the unique indexes the idempotent writes rely on (crdt_operations
 * and document_versions on (doc_id, version); items on doc_id). Idempotent. */
docstore_status docstore_ensure_indexes(docstore *ds, char *err, size_t err_size);

/* ---- write side ---- */

/* One merged operation, as stored in crdt_operations. Every pointer is
 * borrowed for the call. */
typedef struct docstore_op {
    const char *doc_id;
    const char *op_id;
    int64_t version;
    const char *kind; /* "YJS_UPDATE", "ITEM_STATE", "ITEM_CONFLICT" */
    const char *user_id;
    int64_t client_id;
    int64_t ingest_time_us;
    int64_t processed_time_us;
    int32_t partition; /* collab.ops partition and offset of the source op */
    int64_t offset;
    const uint8_t *bytes; /* the MergedOp payload */
    size_t len;
} docstore_op;

/* The crdt_operations row of a merged record: every pointer of *out borrows
 * from m, so m must outlive the use of *out. */
void docstore_op_from_merged(const struct cavro_merged_op *m, docstore_op *out);

/* Inserts ops into crdt_operations in one unordered batch; ops already stored
 * (duplicate key) count as success, so a retried or replayed batch is harmless. */
docstore_status docstore_insert_ops(docstore *ds, const docstore_op *ops, size_t count, char *err,
                                    size_t err_size);

/* MongoDB documents: version, state_vector and updated_at, replaced only
 * when version is newer than the stored one (upserted when absent). */
docstore_status docstore_put_document(docstore *ds, const char *doc_id, int64_t version,
                                      const uint8_t *sv, size_t sv_len, char *err, size_t err_size);

/* The same for many documents in unordered bulk writes of at most 50 updates
 * each (FerretDB hangs on update commands that modify 100 or more documents). */
typedef struct docstore_doc_version {
    const char *doc_id;
    int64_t version;
    const uint8_t *sv;
    size_t sv_len;
} docstore_doc_version;

docstore_status docstore_put_documents(docstore *ds, const docstore_doc_version *docs, size_t count,
                                       char *err, size_t err_size);

/* Where in collab.ops a state stands: the partition and offset of the last
 * client op it includes (every op of the document up to that offset is in
 * it). offset < 0: unknown. */
typedef struct docstore_position {
    int32_t partition;
    int64_t offset;
} docstore_position;

#define DOCSTORE_POSITION_UNKNOWN ((docstore_position){.partition = -1, .offset = -1})

/* Redis doc:{doc}: version, state (the whole document as one Yjs v1 update),
 * sv and the state's collab.ops position, replaced only when version is
 * newer. A no-op without Redis. */
docstore_status docstore_cache_state(docstore *ds, const char *doc_id, int64_t version,
                                     const uint8_t *state, size_t state_len, const uint8_t *sv,
                                     size_t sv_len, docstore_position pos, char *err,
                                     size_t err_size);

/* One item: MongoDB items (_id "<doc>/<item>", the JSON state's fields plus
 * doc_id, item_id, revision, state) and Redis item:{doc}:{item}, each only when
 * revision is newer than the stored one. value is the current value (NULL
 * while in conflict). */
typedef struct docstore_item {
    const char *doc_id;
    const char *item_id;
    int64_t revision;
    int64_t version;
    bool conflict;
    const char *state_json; /* items_state_to_json, serialised */
    const uint8_t *value;
    size_t value_len;
} docstore_item;

docstore_status docstore_put_item(docstore *ds, const docstore_item *item, char *err,
                                  size_t err_size);

/* A snapshot: document_versions (insert, duplicate = success),
 * last_processed_version (only when newer) and Redis snapshot:{doc} (only
 * when newer). */
docstore_status docstore_put_snapshot(docstore *ds, const struct cavro_snapshot *snap, char *err,
                                      size_t err_size);

/* ---- read side ---- */

/* A whole document state. Owned buffers; release with docstore_state_clear. */
typedef struct docstore_state {
    int64_t version;
    uint8_t *state; /* Yjs v1 update of the whole document */
    size_t state_len;
    uint8_t *sv; /* encoded state vector; may be NULL when unknown */
    size_t sv_len;
    docstore_position pos; /* offset -1 when unknown (states cached before it was kept) */
} docstore_state;

void docstore_state_clear(docstore_state *st);

/* Redis doc:{doc}. NOT_FOUND when absent (or Redis is not configured). */
docstore_status docstore_get_cached_state(docstore *ds, const char *doc_id, docstore_state *out,
                                          char *err, size_t err_size);

/* Redis item:{doc}:{item} as stored (replay --verify). Owned buffers;
 * release with docstore_cached_item_clear. */
typedef struct docstore_cached_item {
    int64_t revision;
    int64_t version;
    char *state_json;
    uint8_t *value;
    size_t value_len;
    bool conflict;
} docstore_cached_item;

void docstore_cached_item_clear(docstore_cached_item *item);

/* NOT_FOUND when absent (or Redis is not configured). */
docstore_status docstore_get_cached_item(docstore *ds, const char *doc_id, const char *item_id,
                                         docstore_cached_item *out, char *err, size_t err_size);

/* The newest snapshot: Redis snapshot:{doc}, else the highest version in
 * document_versions. *out is filled (release with cavro_snapshot_clear) on
 * DOCSTORE_OK only. */
docstore_status docstore_latest_snapshot(docstore *ds, const char *doc_id,
                                         struct cavro_snapshot *out, char *err, size_t err_size);

/* A stored operation handed to a docstore_op_fn: valid for the call only. */
typedef int (*docstore_op_fn)(void *userdata, const docstore_op *op);

/* Calls fn for each crdt_operations entry of doc_id with version > after, in
 * version order, at most limit of them (0: no limit). fn returns 0 to go on,
 * anything else stops the walk (and is not an error). */
docstore_status docstore_ops_after(docstore *ds, const char *doc_id, int64_t after, int64_t limit,
                                   docstore_op_fn fn, void *userdata, char *err, size_t err_size);

/* The newest state a reader can get: Redis doc:{doc}, else the newest
 * snapshot plus the crdt_operations after it (as far as they are contiguous),
 * merged into one update. A document nothing is known of is NOT_FOUND. */
docstore_status docstore_load_state(docstore *ds, const char *doc_id, docstore_state *out,
                                    char *err, size_t err_size);

/* The same for a reader that continues the state from collab.ops (the
 * broadcaster's live documents): a cached state without a position is
 * passed over for the snapshot plus the newer crdt_operations, whose rows
 * carry theirs. out->pos may still be unknown (nothing stored knows it). */
docstore_status docstore_load_positioned_state(docstore *ds, const char *doc_id,
                                               docstore_state *out, char *err, size_t err_size);

/* An item as stored in MongoDB items: borrowed for the call. */
typedef int (*docstore_item_fn)(void *userdata, const char *item_id, int64_t revision,
                                const char *state_json);

/* Calls fn for every item of doc_id in MongoDB items (no particular order).
 * fn returns 0 to go on. */
docstore_status docstore_items(docstore *ds, const char *doc_id, docstore_item_fn fn,
                               void *userdata, char *err, size_t err_size);

/* What MongoDB documents says of doc_id. */
typedef struct docstore_doc_meta {
    int64_t version;    /* 0 when the document has none */
    char policy[16];    /* item_policy, "manual" when unset */
    int64_t created_ms; /* created_at, ms since the epoch; 0 when unknown */
} docstore_doc_meta;

/* Fills *out; NOT_FOUND when there is no such document. */
docstore_status docstore_document_meta(docstore *ds, const char *doc_id, docstore_doc_meta *out,
                                       char *err, size_t err_size);

#endif
