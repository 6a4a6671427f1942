/*
 * harness: what the processor/snapshotter integration tests share. Each test
 * run gets its own topics, consumer groups, MongoDB database and document ids
 * (all named after a run id), so runs can overlap and be repeated. The
 * services run as separate processes from $COLLAB_BIN_DIR (their stderr goes
 * to a log file next to the test binary); ops are produced to Kafka directly
 * (ClientOp records, as ingest would), merged records are read back with a
 * read_committed consumer, and the views are inspected in MongoDB and Redis.
 * Waiting is always for a condition with a deadline. Prefix: ph_.
 */
#ifndef TESTS_PROCESSOR_HARNESS_H
#define TESTS_PROCESSOR_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/avro_records.h"
#include "common/docstore.h"
#include "common/kafka_producer.h"
#include "common/log.h"
#include "common/mongo.h"
#include "common/redis.h"

#define PH_TIMEOUT_MS 90000

typedef struct ph_env {
    char run_id[64];
    const char *brokers;
    const char *mongo_uri;
    char mongo_db[128];
    const char *redis_url;
    const char *bin_dir;
    char ops_topic[160], merged_topic[160], dlq_topic[160];
    char processor_group[160], snapshotter_group[160];
    int partitions;
    clog *log;
    struct cavro_registry *avro;
    cmongo *mongo;
    credis *redis;
    docstore *ds;
    ckafka_producer *producer;
} ph_env;

/* Sets up a run named `name` with `partitions` partitions: creates the
 * topics, connects to MongoDB (database collab_itest_<run>) and Redis.
 * Returns 0, or -1 with a message on stderr. */
int ph_env_init(ph_env *env, const char *name, int partitions);
/* Deletes the topics and the database, frees everything. */
void ph_env_free(ph_env *env);

/* A document id unique to the run: "<run>-<name>". */
void ph_doc_id(const ph_env *env, const char *name, char *out, size_t size);

/* ---- services ---- */

typedef struct ph_proc {
    pid_t pid;
    char name[64];
} ph_proc;

/* Starts build/bin/processor as instance `instance` with the run's topics,
 * groups and database, metrics on an ephemeral port, plus extra flags
 * (NULL-terminated, may be NULL). 0 or -1. */
int ph_start_processor(const ph_env *env, const char *instance, const char *const *extra,
                       ph_proc *out);
/* Starts build/bin/snapshotter likewise. */
int ph_start_snapshotter(const ph_env *env, const char *instance, const char *const *extra,
                         ph_proc *out);
/* SIGTERM and wait (deadline); returns the exit status, or -1 if it had to
 * be killed. */
int ph_stop(ph_proc *p, int timeout_ms);

/* The version of the newest snapshot of doc in document_versions; 0 when there
 * is none (or MongoDB cannot answer). */
int64_t ph_snapshot_version(ph_env *env, const char *doc);
/* SIGKILL and reap. */
void ph_kill(ph_proc *p);
/* True while the process runs. */
bool ph_running(ph_proc *p);

/* ---- ops ---- */

/* Produces a ClientOp (kind, payload) for doc_id with op_id; waits for the
 * delivery report. 0 or -1. */
int ph_send_op(ph_env *env, const char *doc_id, const char *op_id, int64_t client_id,
               enum cavro_op_kind kind, const uint8_t *payload, size_t len);
/* The same without waiting for the delivery report (ph_flush waits for all). */
int ph_send_op_nowait(ph_env *env, const char *doc_id, const char *op_id, int64_t client_id,
                      enum cavro_op_kind kind, const uint8_t *payload, size_t len);
int ph_flush(ph_env *env);
/* Produces raw bytes with key (no encoding): poison records. 0 or -1. */
int ph_send_raw(ph_env *env, const char *key, const void *value, size_t len);
/* Encodes an item write/resolve payload: clock as client ids 1..n with the
 * given counters (0 = absent). Caller frees *out. 0 or -1. */
int ph_item_payload(ph_env *env, bool resolve, const char *item_id, const char *value,
                    const int64_t *clock, size_t clock_len, int64_t time_ms, int64_t client_id,
                    uint8_t **out, size_t *out_len);

/* ---- reading back ---- */

/* The merged records of a topic as read_committed sees them. */
typedef struct ph_merged {
    struct cavro_merged_op *records; /* owned */
    size_t count, cap;
} ph_merged;

/*
 * Reads the whole merged topic (every partition, from the beginning) until
 * `want` records of doc_id are there (doc_id NULL: of any document) or the
 * deadline passes. Returns the records of that document (all when NULL), in
 * log order. Free with ph_merged_free, also after a failure. 0, or -1 when no
 * reader could be made or memory ran out (what was read so far stays in *out).
 */
int ph_read_merged(ph_env *env, const char *doc_id, size_t want, int timeout_ms, ph_merged *out);
void ph_merged_free(ph_merged *m);

/* Reads the DLQ topic until `want` records are there or the deadline passes.
 * Caller frees each with cavro_dlq_record_clear and the array with free, also
 * after a failure. 0, or -1 when no reader could be made or memory ran out. */
int ph_read_dlq(ph_env *env, size_t want, int timeout_ms, struct cavro_dlq_record **out,
                size_t *count);

/* crdt_operations of doc_id: total entries and distinct versions, and
 * whether the versions are exactly 1..total. */
int ph_count_ops(ph_env *env, const char *doc_id, int64_t *total, int64_t *distinct,
                 bool *contiguous);

/* Waits until crdt_operations of doc_id holds `want` entries (deadline). */
bool ph_wait_ops(ph_env *env, const char *doc_id, int64_t want, int timeout_ms);

/* MongoDB documents.version of doc_id (0 when absent). */
int64_t ph_document_version(ph_env *env, const char *doc_id);

/* Text of root "text" of a doc rebuilt from updates. Caller frees. */
char *ph_text_of_updates(const uint8_t *const *updates, const size_t *lens, size_t n);

/* Text of root "text" of the newest state docstore can load (views). Caller
 * frees; NULL when not found. *version gets its version. */
char *ph_view_text(ph_env *env, const char *doc_id, int64_t *version);

/* A text-editing workload: `docs` documents, two clients each that edit
 * concurrently and sync now and then, every edit produced as a Yjs op. The
 * reference is every update applied to a fresh document (the crdt engine,
 * which the differential tests check against Yjs). NULL when out of memory;
 * the caller frees it with ph_workload_free. */
typedef struct ph_workload ph_workload;
ph_workload *ph_workload_new(ph_env *env, const char *name, size_t docs, uint64_t seed);
void ph_workload_free(ph_workload *w);
/* Produces n more ops spread over the documents (no wait). 0 or -1. */
int ph_workload_send(ph_workload *w, size_t n);
size_t ph_workload_docs(const ph_workload *w);
const char *ph_workload_doc(const ph_workload *w, size_t i);
/* Ops sent so far to document i. */
size_t ph_workload_ops(const ph_workload *w, size_t i);
/* Reference text of document i (caller frees). */
char *ph_workload_text(const ph_workload *w, size_t i);
/* Waits until the merged topic holds every op sent for every document, then
 * checks each document: versions 1..n in order, no op twice, the merged
 * updates give the reference text; then that the views catch up: n
 * crdt_operations with distinct contiguous versions, documents.version n,
 * the Redis/snapshot state gives the reference text. Fails the test (cmocka)
 * on the first difference. */
void ph_workload_verify(ph_workload *w, int timeout_ms);

/* Checks that the merged records of one document have versions 1..n in log
 * order with no gap or repeat and distinct op ids. */
bool ph_versions_ok(const ph_merged *m, char *why, size_t why_size);

#endif
