/*
 * kafka_consumer: a consumer-group member over librdkafka with
 *   - isolation.level=read_committed (only committed transactions are seen),
 *   - manual offsets (enable.auto.commit=false): the processor commits its
 *     input offsets inside its Kafka transaction, others with
 *     ckafka_consumer_commit after their effects are durable,
 *   - the cooperative-sticky assignor by default: a rebalance only moves the
 *     partitions that change owner, so a processor keeps serving (and keeps
 *     the in-memory documents of) every partition it retains, instead of the
 *     eager protocol's stop-the-world revoke of everything. opts.eager
 *     selects range/roundrobin-style eager rebalancing when wanted.
 * on_assigned/on_revoked run inside ckafka_consumer_poll (the polling
 * thread). on_revoked runs before the partitions are given up, so the
 * service can finish and commit their work there; `lost` says the
 * partitions were already taken (session timeout): do not commit for them.
 * A consumer is used from one thread. Prefix: ckafka_consumer_.
 */
#ifndef COMMON_KAFKA_CONSUMER_H
#define COMMON_KAFKA_CONSUMER_H

#include <librdkafka/rdkafka.h>
#include <stdbool.h>

#include "common/kafka_config.h"
#include "common/log.h"

typedef struct ckafka_consumer ckafka_consumer;

typedef void (*ckafka_assigned_fn)(void *userdata, const rd_kafka_topic_partition_list_t *parts);
typedef void (*ckafka_revoked_fn)(void *userdata, const rd_kafka_topic_partition_list_t *parts,
                                  bool lost);

typedef struct ckafka_consumer_opts {
    const char *brokers;
    const char *group_id;
    const char *client_id;          /* may be NULL */
    clog *log;                      /* borrowed */
    const char *const *topics;      /* NULL-terminated */
    ckafka_assigned_fn on_assigned; /* may be NULL */
    ckafka_revoked_fn on_revoked;   /* may be NULL */
    void *rebalance_userdata;
    bool eager;                      /* default: cooperative-sticky */
    bool read_uncommitted;           /* default: read_committed */
    const char *auto_offset_reset;   /* default "earliest" */
    const char *const *extra_config; /* "key", "value", ..., NULL */
} ckafka_consumer_opts;

/*
 * A read_committed consumer handle for reading partitions to their end by
 * assignment (rd_kafka_assign): it never joins group_id nor commits to it
 * (group_id only names the group whose committed offsets rd_kafka_committed
 * may read), and each partition's end comes as RD_KAFKA_RESP_ERR__PARTITION_EOF.
 * extra: more "key", "value" pairs (NULL-terminated, may be NULL). base must
 * outlive the handle. NULL with the reason in err; the caller destroys it with
 * rd_kafka_destroy.
 */
rd_kafka_t *ckafka_reader_new(ckafka_base *base, const char *brokers, const char *client_id,
                              const char *group_id, const char *const *extra, char *err,
                              size_t err_size);

/* Creates the consumer and subscribes. NULL with the reason in err. Free
 * with ckafka_consumer_free. */
ckafka_consumer *ckafka_consumer_new(const ckafka_consumer_opts *opts, char *err, size_t err_size);

/*
 * The next message within timeout_ms, or NULL (timeout, or an error, then
 * *err is set; end-of-partition events are skipped). The caller frees the
 * message with rd_kafka_message_destroy.
 */
rd_kafka_message_t *ckafka_consumer_poll(ckafka_consumer *c, int timeout_ms,
                                         rd_kafka_resp_err_t *err);

/* The current positions (next offset to read) of the assigned partitions,
 * i.e. what to commit after processing everything polled so far. Caller
 * frees with rd_kafka_topic_partition_list_destroy. NULL on error. */
rd_kafka_topic_partition_list_t *ckafka_consumer_positions(ckafka_consumer *c);

/* Commits offsets (NULL: the current positions), synchronously unless
 * async. Nothing to commit is success. */
rd_kafka_resp_err_t ckafka_consumer_commit(ckafka_consumer *c,
                                           const rd_kafka_topic_partition_list_t *offsets,
                                           bool async);

/* Seeks every assigned partition back to its committed offset (or the
 * auto.offset.reset position): after an aborted transaction, the input it
 * covered is read again. Returns RD_KAFKA_RESP_ERR_NO_ERROR or an error. */
rd_kafka_resp_err_t ckafka_consumer_rewind(ckafka_consumer *c, int timeout_ms);

/* Leaves the group (on_revoked runs for the remaining partitions). Further
 * polls return nothing. Idempotent. */
rd_kafka_resp_err_t ckafka_consumer_close(ckafka_consumer *c);

/* Closes if needed and frees. NULL is a no-op. */
void ckafka_consumer_free(ckafka_consumer *c);

/* The librdkafka handle (owned by c), e.g. for group metadata. */
rd_kafka_t *ckafka_consumer_handle(ckafka_consumer *c);

/* True after a fatal consumer error: recreate the consumer. */
bool ckafka_consumer_fatal(const ckafka_consumer *c);

#endif
