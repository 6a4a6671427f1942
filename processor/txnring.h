/*
 * txnring: the processor's transactional producers, used in turn.
 *
 * When a Kafka transaction commits, the coordinator answers EndTxn first and
 * writes the commit markers afterwards; until they are written, the same
 * producer's next transaction is refused with CONCURRENT_TRANSACTIONS and
 * librdkafka retries it about 20 ms later (measured: a commit cycle of ~3 ms
 * becomes ~25 ms, and every op waits for one or two cycles). A ring of
 * producers, each with its own transactional id, lets transaction N+1 start
 * on the next producer while N's markers are still being written: only one
 * transaction is ever open, so batches stay ordered exactly as before (N's
 * records are all acknowledged before N+1 produces anything), and the group
 * coordinator keeps the newest of the transactional offset commits however
 * their markers interleave.
 *
 * What a ring changes: a transaction that ended may not be visible yet to
 * read_committed readers. Before the processor reads its own output back
 * (recovery), ptxn_settle waits until every transaction the ring ended is
 * complete at the coordinator.
 *
 * Transactional ids: producer 0 uses the configured id, producer i > 0 the id
 * with ".i" appended. A restart with the same ids fences every producer of
 * the previous incarnation (init_transactions aborts whatever it left open).
 * Prefix: ptxn_.
 */
#ifndef PROCESSOR_TXNRING_H
#define PROCESSOR_TXNRING_H

#include <librdkafka/rdkafka.h>
#include <stddef.h>
#include <stdint.h>

#include "common/kafka_consumer.h"
#include "common/kafka_producer.h"
#include "common/log.h"

#define PTXN_MAX_PRODUCERS 8

typedef struct ptxn_config {
    const char *brokers;
    const char *client_id;
    const char *transactional_id; /* the first producer's; see above */
    int producers;                /* 1..PTXN_MAX_PRODUCERS */
    int txn_timeout_ms;           /* transaction.timeout.ms */
    int kafka_timeout_ms;         /* bound of each blocking call */
    const char *const *topics;    /* the topics it produces to (NULL-terminated) */
    clog *log;                    /* borrowed */
} ptxn_config;

typedef struct ptxn_ring ptxn_ring;

/* Creates the producers, fetches the topics' metadata for each and
 * initialises their transactions (fencing older instances). NULL with the reason in err. Free with
 * ptxn_ring_free. */
ptxn_ring *ptxn_ring_new(const ptxn_config *cfg, char *err, size_t err_size);
void ptxn_ring_free(ptxn_ring *r);

/* Opens a transaction on the current producer. */
ckafka_txn_status ptxn_begin(ptxn_ring *r, char *err, size_t err_size);

/* Queues one record in the open transaction (see ckafka_producer_send). */
rd_kafka_resp_err_t ptxn_send(ptxn_ring *r, const char *topic, int32_t partition, const void *key,
                              size_t key_len, const void *value, size_t value_len);

/*
 * Adds the consumer's input offsets (may be empty) and commits. The next
 * transaction goes to the next producer once this one ended: OK, or ABORTED
 * (the library aborted it). RETRY/ERROR: the transaction is still open and
 * the caller aborts it; FATAL: the ring is unusable.
 */
ckafka_txn_status ptxn_commit(ptxn_ring *r, ckafka_consumer *consumer,
                              const rd_kafka_topic_partition_list_t *offsets, char *err,
                              size_t err_size);

/* Aborts the open transaction; the next one goes to the next producer. */
ckafka_txn_status ptxn_abort(ptxn_ring *r, char *err, size_t err_size);

/*
 * Waits until every transaction the ring ended is complete at the
 * coordinator (its markers written), so a read_committed reader sees all of
 * it. No transaction may be open. Costs one short aborted transaction per
 * producer that ended one since the last settle (it adds offsets of
 * offsets_topic for a group of its own, which the coordinator only accepts
 * once the producer's previous transaction is complete); nothing otherwise.
 */
ckafka_txn_status ptxn_settle(ptxn_ring *r, const char *offsets_topic, char *err, size_t err_size);

/* Waits for every queued record of every producer (shutdown). */
rd_kafka_resp_err_t ptxn_flush(ptxn_ring *r, int timeout_ms);

#endif
