/*
 * pipeline: the processor's merge thread. It consumes collab.ops in a
 * consumer group (read_committed), and for each poll batch opens one Kafka
 * transaction in which it produces every merged record to collab.merged
 * (same partition number as the input), every poison record to collab.dlq,
 * and commits the batch's input offsets: all or nothing, so a crash at any
 * point neither loses nor duplicates a version. A batch closes when nothing
 * more is already fetched, or at batch_max_ops, or after batch_max_ms: low
 * load gives one op per transaction (lowest latency), high load large
 * transactions (throughput). After the commit, the view jobs of the batch go
 * to the view writer (views.h); broadcast never waits for MongoDB.
 *
 * Partition ownership: on assignment a partition is recovered (recovery.h)
 * before any of its ops is merged; on revocation the open batch is committed
 * and the partition's documents are dropped; a lost partition's batch is
 * aborted. An aborted transaction drops the documents the batch changed,
 * rewinds the input and recovers those partitions again. The transactional id
 * is per instance; a fenced producer (a newer instance with the same id) stops
 * the service (with txn_producers > 1, one id per producer: txnring.h).
 * Prefix: ppipe_.
 */
#ifndef PROCESSOR_PIPELINE_H
#define PROCESSOR_PIPELINE_H

#include <stddef.h>
#include <stdint.h>

#include "common/avro_records.h"
#include "common/docstore.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/service.h"
#include "processor/views.h"

typedef struct ppipe_config {
    const char *brokers;
    const char *ops_topic;
    const char *merged_topic;
    const char *dlq_topic;
    const char *group_id;
    const char *snapshotter_group;
    const char *transactional_id;
    const char *instance_id; /* "service" of DLQ records */
    int txn_producers;       /* transactional producers used in turn (processor/txnring.h) */
    int batch_max_ops;
    int64_t batch_max_ms;
    size_t max_docs;
    int txn_timeout_ms;   /* transaction.timeout.ms: how soon a dead instance's open
                             transaction is aborted by the broker */
    int kafka_timeout_ms; /* per blocking Kafka call */
} ppipe_config;

typedef struct ppipe ppipe;

/*
 * Creates the transactional producers (and fences older instances with the
 * same transactional ids) and the consumer. ds (read side, used by the merge
 * thread only), views, avro, reg and log are borrowed. NULL with the reason
 * in err.
 */
ppipe *ppipe_new(const ppipe_config *cfg, docstore *ds, pviews *views,
                 const struct cavro_registry *avro, metrics_registry *reg, clog *log, char *err,
                 size_t err_size);
void ppipe_free(ppipe *p);

/* The merge thread's body (svc_spawn); the consumer is left closed. */
int ppipe_loop(svc *s, void *userdata);

/* True once every assigned partition is recovered and the loop runs. */
bool ppipe_ready(void *userdata);

#endif
