/*
 * kafka_producer: librdkafka producers as the architecture needs them.
 *   - Idempotent (enable.idempotence=true, acks=all): no duplicates or
 *     reordering from retries; a message is acknowledged only once every
 *     in-sync replica has it. Each message carries the caller's opaque, handed
 *     back with the outcome in the delivery callback (ingest acks its client
 *     there).
 *   - Transactional (opts.transactional_id): init / begin / send offsets /
 *     commit / abort with librdkafka's error classes turned into one status:
 *     retriable errors are retried within the call's timeout, abortable ones
 *     abort the transaction for the caller (CKAFKA_TXN_ABORTED: rewind the
 *     input and redo the work), fatal ones (fenced by a newer instance with
 *     the same transactional id, ...) return CKAFKA_TXN_FATAL: the process
 *     must stop producing and exit or recreate the producer.
 * Delivery callbacks run in whichever thread serves the producer: the
 * producer's own poll thread when opts.poll_thread is set, otherwise the
 * thread calling ckafka_producer_poll / flush. Produce is thread-safe.
 * Prefix: ckafka_producer_, ckafka_txn_.
 */
#ifndef COMMON_KAFKA_PRODUCER_H
#define COMMON_KAFKA_PRODUCER_H

#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/kafka_config.h"
#include "common/kafka_consumer.h"
#include "common/log.h"

typedef struct ckafka_producer ckafka_producer;

/* Outcome of one message: err is RD_KAFKA_RESP_ERR_NO_ERROR when the
 * message is durable; partition and offset tell where it landed. */
typedef void (*ckafka_delivery_fn)(void *userdata, void *msg_opaque, rd_kafka_resp_err_t err,
                                   int32_t partition, int64_t offset);

typedef struct ckafka_producer_opts {
    const char *brokers;
    const char *client_id;          /* may be NULL */
    const char *transactional_id;   /* NULL: idempotent, not transactional */
    clog *log;                      /* borrowed */
    ckafka_delivery_fn on_delivery; /* may be NULL */
    void *delivery_userdata;
    bool poll_thread;                /* serve delivery reports on an own thread */
    const char *const *extra_config; /* "key", "value", ..., NULL */
} ckafka_producer_opts;

/* NULL with the reason in err. Free with ckafka_producer_free. */
ckafka_producer *ckafka_producer_new(const ckafka_producer_opts *opts, char *err, size_t err_size);

#define CKAFKA_PRODUCER_MAX_WARM 8

/*
 * Fetches the topic's metadata now and keeps its handle for the producer's
 * life. Without it, the first message to a topic waits for librdkafka's
 * periodic refresh of unknown topics (about a second): a latency spike on
 * every start and, for transactional producers, on every producer's first
 * transaction. A topic not (yet) in the metadata is asked for again until
 * timeout_ms. -1 with the reason in err (unknown topic, broker down).
 */
int ckafka_producer_warm(ckafka_producer *p, const char *topic, int timeout_ms, char *err,
                         size_t err_size);

/*
 * Queues one message (copied). partition RD_KAFKA_PARTITION_UA lets the
 * partitioner pick by key (same key, same partition). When the local queue
 * is full, waits up to block_ms for room (serving delivery reports meanwhile
 * if there is no poll thread), then fails with RD_KAFKA_RESP_ERR__QUEUE_FULL.
 * On success the delivery callback will run exactly once for msg_opaque.
 */
rd_kafka_resp_err_t ckafka_producer_send(ckafka_producer *p, const char *topic, int32_t partition,
                                         const void *key, size_t key_len, const void *value,
                                         size_t value_len, void *msg_opaque, int block_ms);

/* Serves delivery reports (unless a poll thread does). Returns how many. */
int ckafka_producer_poll(ckafka_producer *p, int timeout_ms);

/* Waits until every queued message has its delivery report (with a poll
 * thread: until that thread has served them all; the messages then go out
 * when their linger.ms ends, not at once as rd_kafka_flush would make them). */
rd_kafka_resp_err_t ckafka_producer_flush(ckafka_producer *p, int timeout_ms);

/* Messages queued and not yet reported. */
int ckafka_producer_outstanding(ckafka_producer *p);

/* True after a fatal producer error; err gets the reason. */
bool ckafka_producer_fatal(ckafka_producer *p, char *err, size_t err_size);

/* Stops the poll thread and destroys the handle; messages still queued are
 * purged (their delivery callback reports __PURGE_QUEUE): flush first. */
void ckafka_producer_free(ckafka_producer *p);

rd_kafka_t *ckafka_producer_handle(ckafka_producer *p);

typedef enum ckafka_txn_status {
    CKAFKA_TXN_OK = 0,
    CKAFKA_TXN_ABORTED, /* abortable error: the transaction was aborted */
    CKAFKA_TXN_RETRY,   /* still retriable when the timeout ran out: call again */
    CKAFKA_TXN_FATAL,   /* the producer is unusable (fenced, ...) */
    CKAFKA_TXN_ERROR,   /* misuse (no transaction begun, ...): a bug */
} ckafka_txn_status;

const char *ckafka_txn_status_name(ckafka_txn_status st);

/* Registers the transactional id with the coordinator and fences older
 * instances with the same id. Call once, before the first begin. */
ckafka_txn_status ckafka_txn_init(ckafka_producer *p, int timeout_ms, char *err, size_t err_size);
ckafka_txn_status ckafka_txn_begin(ckafka_producer *p, char *err, size_t err_size);

/* Adds the consumer's input offsets (next offset to read, per partition) to
 * the transaction, so they commit or abort with its output. */
ckafka_txn_status ckafka_txn_send_offsets(ckafka_producer *p, ckafka_consumer *consumer,
                                          const rd_kafka_topic_partition_list_t *offsets,
                                          int timeout_ms, char *err, size_t err_size);

/* The same for a group named by its id alone (no member or generation, so
 * the group coordinator does not fence it): offsets of a group nobody
 * consumes in, e.g. to wait for the coordinator (see processor/txnring.h). */
ckafka_txn_status ckafka_txn_send_group_offsets(ckafka_producer *p, const char *group_id,
                                                const rd_kafka_topic_partition_list_t *offsets,
                                                int timeout_ms, char *err, size_t err_size);

/* Flushes and commits. On CKAFKA_TXN_ABORTED nothing of the transaction is
 * visible to read_committed consumers. */
ckafka_txn_status ckafka_txn_commit(ckafka_producer *p, int timeout_ms, char *err, size_t err_size);
ckafka_txn_status ckafka_txn_abort(ckafka_producer *p, int timeout_ms, char *err, size_t err_size);

#endif
