/*
 * replay_log: reads a topic of the Kafka log the way replay needs it: every
 * partition from its first record, read_committed (records of aborted or
 * open transactions are never seen), up to the end each partition had when
 * the read began, so a run next to a running processor still finishes. The
 * partitions are read one after the other, and the caller hears when one is
 * done (it then writes and forgets that partition's documents). No consumer
 * group is joined and nothing is committed. Prefix: replay_log_.
 */
#ifndef TOOLS_REPLAY_REPLAY_LOG_H
#define TOOLS_REPLAY_REPLAY_LOG_H

#include <librdkafka/rdkafka.h>
#include <stddef.h>
#include <stdint.h>

#include "common/log.h"

/* Called for each record, in offset order within a partition. Return 0 to
 * go on, anything else stops the read (replay_log_read returns that value). */
typedef int (*replay_log_fn)(void *userdata, const rd_kafka_message_t *msg);

/* Called now and then while reading (progress lines): records read so far
 * and the total the partitions held when the read began. */
typedef void (*replay_log_progress_fn)(void *userdata, int64_t read, int64_t total);

/* Called when a partition was read to its end (also an empty one), before
 * the next one starts. Return 0 to go on; anything else stops the read. */
typedef int (*replay_log_partition_fn)(void *userdata, int32_t partition);

typedef struct replay_log_opts {
    const char *brokers;
    const char *topic;
    int timeout_ms; /* metadata and offsets calls; longest wait for the next record */
    int64_t progress_ms;
    replay_log_progress_fn progress;        /* may be NULL */
    replay_log_partition_fn partition_done; /* may be NULL */
    clog *log;
} replay_log_opts;

/*
 * Reads the topic, calling fn for every record (in offset order, one
 * partition after the other) and partition_done after each partition. Returns 0 when every
 * partition was read to its end, fn's non-zero value when it stopped the
 * read, or -1 with the reason in err (Kafka unreachable within timeout_ms,
 * no such topic, a read error).
 */
int replay_log_read(const replay_log_opts *o, replay_log_fn fn, void *userdata, char *err,
                    size_t err_size);

#endif
