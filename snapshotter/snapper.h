/*
 * snapper: the snapshotter's loop. It consumes collab.merged in its own
 * consumer group (read_committed), keeps each document of its partitions in
 * memory (loaded like the processor loads them, recovery.h, then advanced by
 * the merged records), and every N ops or T seconds per document writes a
 * snapshot through docstore: document_versions, last_processed_version and
 * Redis snapshot:{doc}.
 *
 * Its committed offset on a partition never passes a record whose document is
 * not snapshotted yet (it commits the smallest offset still pending), and
 * before each commit it writes the crdt_operations rows of the records read
 * since the last one (idempotent insert; the processor's view queue may have
 * lost them in a crash). So "every record before the committed offset is in
 * some snapshot and has its crdt_operations row" holds; the processor's
 * recovery reads collab.merged from exactly there and rewrites the rows of
 * what it reads. A crash only re-reads records, and re-applying a record is
 * a no-op. Prefix: ssnap_.
 */
#ifndef SNAPSHOTTER_SNAPPER_H
#define SNAPSHOTTER_SNAPPER_H

#include <stddef.h>
#include <stdint.h>

#include "common/avro_records.h"
#include "common/docstore.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/service.h"

typedef struct ssnap_config {
    const char *brokers;
    const char *merged_topic;
    const char *dlq_topic;
    const char *group_id;
    const char *instance_id;
    int64_t every_ops; /* snapshot after this many new versions of a document */
    int64_t every_ms;  /* ... or this long after its first unsnapshotted version */
    size_t max_docs;   /* documents in memory; idle, snapshotted ones are evicted */
    int kafka_timeout_ms;
} ssnap_config;

typedef struct ssnap ssnap;

/* ds, avro, reg, log borrowed. NULL with the reason in err. */
ssnap *ssnap_new(const ssnap_config *cfg, docstore *ds, const struct cavro_registry *avro,
                 metrics_registry *reg, clog *log, char *err, size_t err_size);
void ssnap_free(ssnap *s);

/* The loop thread's body (svc_spawn). */
int ssnap_loop(svc *s, void *userdata);

#endif
