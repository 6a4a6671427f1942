/*
 * loader: the worker threads that read MongoDB and Redis for the service
 * thread, whose event loop must never wait for them. Two jobs:
 *   BCLOAD_STATE  a document's newest state (common/docstore: Redis
 *                 doc:{doc}, else the newest snapshot plus the newer ops),
 *                 as a ready STATE message, one ITEM message per item
 *                 of MongoDB items (at the state's version, empty op id),
 *                 plus the presence hash
 *                 presence:{doc} as one AWARENESS message so a newcomer sees
 *                 who is there;
 *   BCLOAD_OPS    the merged operations after a version, from MongoDB
 *                 crdt_operations, as ready MERGED/ITEM messages (resume
 *                 with ?since=, gaps the live stream cannot fill);
 *   BCLOAD_LIVE   a live document for the y-protocols connections: the
 *                 newest state with its collab.ops position
 *                 (docstore_load_positioned_state), plus every Yjs update
 *                 of the document in collab.ops after that position (read
 *                 from Kafka up to the partition's end: the ops the
 *                 processor has not merged yet, or whose views are not
 *                 written yet), built into one crdt_doc; its items (JSON)
 *                 and the presence hash. A document with no state at all
 *                 is read from shortly before its creation time.
 * The service thread submits a job; a worker fills in the result and puts
 * it on the done list; the first job on an empty list calls notify; the
 * service thread takes the list (bcload_take) and frees each job.
 * Each worker has its own Redis connection and docstore over the shared
 * MongoDB pool. Prefix: bcload_.
 */
#ifndef BROADCASTER_LOADER_H
#define BROADCASTER_LOADER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "broadcaster/msg.h"
#include "common/log.h"
#include "common/mongo.h"
#include "common/ws_frame.h"

typedef enum bcload_kind { BCLOAD_STATE, BCLOAD_OPS, BCLOAD_LIVE } bcload_kind;

/* An item of a LIVE job: its id, revision and state JSON (malloc'd). */
typedef struct bcload_item {
    char *item_id;
    int64_t revision;
    char *json;
} bcload_item;

typedef enum bcload_status {
    BCLOAD_OK,
    BCLOAD_FAILED, /* the views could not be read: err says why */
} bcload_status;

typedef struct bcload_job {
    struct bcload_job *next;
    bcload_kind kind;
    char doc_id[WSFRAME_DOC_ID_MAX + 1];
    void *owner;    /* the submitter's: handed back untouched */
    uint64_t after; /* OPS: versions greater than this */
    size_t limit;   /* OPS: at most this many */
    /* results */
    bcload_status status;
    char err[256];
    int64_t elapsed_ns;
    bcmsg *state;  /* STATE: one reference, owned by the job until taken */
    bcmsg **items; /* STATE: the document's items as ITEM messages at the state's version */
    size_t item_count;
    bcmsg *presence; /* STATE: AWARENESS of the fresh presence entries, or NULL */
    bcmsg **ops;     /* OPS: versions after + 1, after + 2, ... without a hole */
    size_t op_count;
    bool hole;               /* OPS: MongoDB has a later version but not the next one */
    int32_t partition;       /* LIVE: the document's collab.ops partition (input) */
    struct crdt_doc *live;   /* LIVE: the document, owned by the job until taken */
    bcload_item *live_items; /* LIVE: its items */
    size_t live_item_count;
    int64_t live_from_offset;  /* LIVE: where the read of collab.ops began (-1: no read) */
    uint64_t live_log_records; /* LIVE: Yjs updates of the document read from collab.ops */
} bcload_job;

typedef void (*bcload_notify_fn)(void *userdata);

typedef struct bcload_opts {
    int threads;
    cmongo *mongo; /* borrowed, shared pool */
    const char *redis_url;
    const struct cavro_registry *avro; /* borrowed */
    int64_t presence_timeout_ms;       /* presence entries older than this are left out */
    const char *brokers;               /* LIVE: the Kafka cluster */
    const char *ops_topic;             /* LIVE: collab.ops */
    const char *client_id;             /* LIVE: client.id of the readers */
    clog *log;                         /* borrowed */
    bcload_notify_fn notify;
    void *notify_userdata;
} bcload_opts;

typedef struct bcload bcload;

/* Starts the workers. NULL with the reason in err. */
bcload *bcload_new(const bcload_opts *opts, char *err, size_t err_size);

/* Stops the workers after their current job; queued and finished jobs are
 * freed (their owners are not told). */
void bcload_free(bcload *l);

/* A new job (zeroed, kind and doc id set), or NULL when out of memory. */
bcload_job *bcload_job_new(bcload_kind kind, const char *doc_id, void *owner);

/* Queues job (owned by the pool until it comes back from bcload_take). */
void bcload_submit(bcload *l, bcload_job *job);

/* Every finished job, oldest first; free each with bcload_job_free. */
bcload_job *bcload_take(bcload *l);

/* Drops the job's message references (items not taken are dropped too),
 * frees a live document not taken, and frees the job. */
void bcload_job_free(bcload_job *job);

#endif
