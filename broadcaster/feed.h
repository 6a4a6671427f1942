/*
 * feed: the broadcaster's readers of Kafka, one per topic:
 *   - collab.merged (BCFEED_MERGED): the processor's versioned records, as
 *     ready MERGED/ITEM messages for the read connections and the items of
 *     the y-protocols connections;
 *   - collab.ops (BCFEED_OPS): the client ops themselves, durable once
 *     Kafka acked them, whose Yjs updates feed the live documents of the
 *     y-protocols connections (the fast path, docs/decisions.md); other op
 *     kinds are left to the processor.
 * Every instance reads every partition (docs/broadcaster.md explains why)
 * with its own consumer that belongs to no group: at start it asks each
 * partition for its last stable offset (read_committed) and reads from
 * there, so it sees every committed record produced after bcfeed_new
 * returned, and nothing older (older operations come from the views, and
 * for live documents from a read of collab.ops, when needed).
 *
 * A thread polls Kafka and keeps only the records of documents someone
 * watches (bcfeed_watch; the record key is the document id, so others are
 * skipped without decoding). Kept records become ready-to-send messages
 * (wire.h) and are handed to the service thread in batches: the first
 * record of an empty batch calls notify, and bcfeed_take takes the batch.
 * When max_pending records wait, the thread stops polling until they are
 * taken: a slow service thread slows the feed, never memory.
 * Prefix: bcfeed_.
 */
#ifndef BROADCASTER_FEED_H
#define BROADCASTER_FEED_H

#include <stdbool.h>
#include <stddef.h>

#include "broadcaster/metrics.h"
#include "broadcaster/msg.h"
#include "common/log.h"
#include "common/ws_frame.h"

typedef enum bcfeed_kind { BCFEED_MERGED, BCFEED_OPS } bcfeed_kind;

typedef struct bcfeed_record {
    struct bcfeed_record *next;
    char doc_id[WSFRAME_DOC_ID_MAX + 1];
    bcmsg *msg;        /* MERGED: one reference, owned by the record */
    uint8_t *update;   /* OPS: the Yjs v1 update (malloc'd, owned by the record) */
    size_t update_len; /* OPS */
    int32_t partition; /* where the record was read */
    int64_t offset;
    int64_t ingest_us; /* OPS: when an edge received the op */
} bcfeed_record;

typedef void (*bcfeed_notify_fn)(void *userdata);

typedef struct bcfeed_opts {
    bcfeed_kind kind;
    const char *brokers;
    const char *topic;
    const char *client_id;
    size_t max_pending; /* records handed over and not yet taken */
    int startup_timeout_ms;
    const struct cavro_registry *avro; /* borrowed */
    metrics_counter *const *records;   /* borrowed, indexed by bcmetrics_record */
    clog *log;                         /* borrowed */
    bcfeed_notify_fn notify;           /* called from the feed thread */
    void *notify_userdata;
} bcfeed_opts;

typedef struct bcfeed bcfeed;

/* Connects, assigns every partition at its last stable offset and starts
 * the thread. NULL with the reason in err. Free with bcfeed_free. */
bcfeed *bcfeed_new(const bcfeed_opts *opts, char *err, size_t err_size);

/* Stops the thread, closes the consumer, frees undelivered records. */
void bcfeed_free(bcfeed *f);

/* Starts / stops keeping the records of doc_id. Any thread. 0 or -1 (no
 * memory). */
int bcfeed_watch(bcfeed *f, const char *doc_id);
void bcfeed_unwatch(bcfeed *f, const char *doc_id);

/* Every record handed over so far, oldest first (NULL when none); the
 * caller frees each with bcfeed_record_free. */
bcfeed_record *bcfeed_take(bcfeed *f);
void bcfeed_record_free(bcfeed_record *r);

/* Partitions read (fixed at start). */
int bcfeed_partitions(const bcfeed *f);

/* True while the consumer works (false after a fatal Kafka error). */
bool bcfeed_healthy(const bcfeed *f);

#endif
