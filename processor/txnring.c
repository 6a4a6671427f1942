/*
 * txnring: the processor's transactional producers, used in turn (why: see
 * txnring.h). One transaction is open at a time, on the current producer;
 * when it ends the ring moves on, and remembers that the producer it left
 * may still have commit markers in flight until ptxn_settle.
 */
#include "processor/txnring.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

struct ptxn_ring {
    ptxn_config cfg;
    ckafka_producer *producers[PTXN_MAX_PRODUCERS];
    bool ended[PTXN_MAX_PRODUCERS]; /* ended a transaction since the last settle */
    int count;
    int current;
    bool open;
    char settle_group[300];
};

ptxn_ring *ptxn_ring_new(const ptxn_config *cfg, char *err, size_t err_size)
{
    if (cfg->producers < 1 || cfg->producers > PTXN_MAX_PRODUCERS) {
        snprintf(err, err_size, "transaction producers must be 1..%d, not %d", PTXN_MAX_PRODUCERS,
                 cfg->producers);
        return NULL;
    }
    ptxn_ring *r = calloc(1, sizeof *r);
    if (!r) {
        snprintf(err, err_size, "out of memory");
        return NULL;
    }
    r->cfg = *cfg;
    snprintf(r->settle_group, sizeof r->settle_group, "%s.settle", cfg->transactional_id);
    char txn_timeout[32];
    snprintf(txn_timeout, sizeof txn_timeout, "%d", cfg->txn_timeout_ms);
    /* linger 1 ms: the commit flushes anyway. retry.backoff.ms 2: the
     * retriable transactional answers (coordinator loading, offsets not yet
     * stable) clear within milliseconds on a healthy broker. */
    const char *config[] = {"transaction.timeout.ms", txn_timeout, "linger.ms", "1",
                            "retry.backoff.ms",       "2",         NULL};
    for (int i = 0; i < cfg->producers; i++) {
        char id[300];
        if (i == 0)
            snprintf(id, sizeof id, "%s", cfg->transactional_id);
        else
            snprintf(id, sizeof id, "%s.%d", cfg->transactional_id, i);
        ckafka_producer_opts po = {.brokers = cfg->brokers,
                                   .client_id = cfg->client_id,
                                   .transactional_id = id,
                                   .log = cfg->log,
                                   .poll_thread = true,
                                   .extra_config = config};
        r->producers[i] = ckafka_producer_new(&po, err, err_size);
        r->count = i + 1;
        bool ok = r->producers[i] != NULL;
        for (size_t t = 0; ok && cfg->topics && cfg->topics[t]; t++)
            ok = ckafka_producer_warm(r->producers[i], cfg->topics[t], cfg->kafka_timeout_ms, err,
                                      err_size) == 0;
        if (!ok || ckafka_txn_init(r->producers[i], cfg->kafka_timeout_ms, err, err_size) !=
                       CKAFKA_TXN_OK) {
            ptxn_ring_free(r);
            return NULL;
        }
    }
    return r;
}

void ptxn_ring_free(ptxn_ring *r)
{
    if (!r)
        return;
    for (int i = 0; i < r->count; i++)
        ckafka_producer_free(r->producers[i]);
    free(r);
}

/* The transaction on the current producer ended (committed or aborted). */
static void ended(ptxn_ring *r)
{
    r->open = false;
    r->ended[r->current] = true;
    r->current = (r->current + 1) % r->count;
}

ckafka_txn_status ptxn_begin(ptxn_ring *r, char *err, size_t err_size)
{
    ckafka_txn_status st = ckafka_txn_begin(r->producers[r->current], err, err_size);
    if (st == CKAFKA_TXN_OK)
        r->open = true;
    return st;
}

rd_kafka_resp_err_t ptxn_send(ptxn_ring *r, const char *topic, int32_t partition, const void *key,
                              size_t key_len, const void *value, size_t value_len)
{
    return ckafka_producer_send(r->producers[r->current], topic, partition, key, key_len, value,
                                value_len, NULL, r->cfg.kafka_timeout_ms);
}

ckafka_txn_status ptxn_commit(ptxn_ring *r, ckafka_consumer *consumer,
                              const rd_kafka_topic_partition_list_t *offsets, char *err,
                              size_t err_size)
{
    ckafka_producer *p = r->producers[r->current];
    ckafka_txn_status st = CKAFKA_TXN_OK;
    if (offsets && offsets->cnt > 0)
        st = ckafka_txn_send_offsets(p, consumer, offsets, r->cfg.kafka_timeout_ms, err, err_size);
    /* The commit first flushes with rd_kafka_flush, which polls in 10 ms
     * steps beside the producer's poll thread and so waited ~10 ms whenever a
     * record was still unacknowledged (the commit's p90 was 12 ms, its p50
     * 2.4). Waiting for the reports here (while the offsets went out, most
     * arrived) leaves it nothing to wait for. */
    if (st == CKAFKA_TXN_OK) {
        rd_kafka_resp_err_t kerr = ckafka_producer_flush(p, r->cfg.kafka_timeout_ms);
        if (kerr) {
            snprintf(err, err_size, "waiting for delivery reports: %s", rd_kafka_err2str(kerr));
            return CKAFKA_TXN_RETRY;
        }
    }
    /* Commit only with the offsets in: a transaction committed without them
     * would have its input merged a second time. */
    if (st == CKAFKA_TXN_OK) {
        st = ckafka_txn_commit(p, r->cfg.kafka_timeout_ms, err, err_size);
        for (int attempt = 0; st == CKAFKA_TXN_RETRY && attempt < 5; attempt++)
            st = ckafka_txn_commit(p, r->cfg.kafka_timeout_ms, err, err_size);
    }
    if (st == CKAFKA_TXN_OK || st == CKAFKA_TXN_ABORTED)
        ended(r);
    return st;
}

ckafka_txn_status ptxn_abort(ptxn_ring *r, char *err, size_t err_size)
{
    ckafka_txn_status st =
        ckafka_txn_abort(r->producers[r->current], r->cfg.kafka_timeout_ms, err, err_size);
    if (st == CKAFKA_TXN_OK)
        ended(r);
    return st;
}

ckafka_txn_status ptxn_settle(ptxn_ring *r, const char *offsets_topic, char *err, size_t err_size)
{
    if (r->open) {
        snprintf(err, err_size, "settle with a transaction open");
        return CKAFKA_TXN_ERROR;
    }
    rd_kafka_topic_partition_list_t *offsets = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(offsets, offsets_topic, 0)->offset = 0;
    ckafka_txn_status st = CKAFKA_TXN_OK;
    for (int i = 0; i < r->count && st == CKAFKA_TXN_OK; i++) {
        if (!r->ended[i])
            continue;
        ckafka_producer *p = r->producers[i];
        /* AddOffsetsToTxn is refused (and retried by librdkafka) until the
         * producer's previous transaction is complete: its success is the
         * wait. The transaction is then aborted: nothing is committed. */
        st = ckafka_txn_begin(p, err, err_size);
        if (st == CKAFKA_TXN_OK) {
            st = ckafka_txn_send_group_offsets(p, r->settle_group, offsets, r->cfg.kafka_timeout_ms,
                                               err, err_size);
            /* ABORTED: the library aborted it already; FATAL: nothing to do. */
            if (st != CKAFKA_TXN_ABORTED && st != CKAFKA_TXN_FATAL) {
                char abort_err[256];
                ckafka_txn_status ast =
                    ckafka_txn_abort(p, r->cfg.kafka_timeout_ms, abort_err, sizeof abort_err);
                if (st == CKAFKA_TXN_OK && ast != CKAFKA_TXN_OK) {
                    snprintf(err, err_size, "%s", abort_err);
                    st = ast;
                }
            }
        }
        /* Its abort markers touch only the offsets topic: nothing a reader
         * of the output waits for. */
        if (st == CKAFKA_TXN_OK)
            r->ended[i] = false;
    }
    rd_kafka_topic_partition_list_destroy(offsets);
    return st;
}

rd_kafka_resp_err_t ptxn_flush(ptxn_ring *r, int timeout_ms)
{
    rd_kafka_resp_err_t first = RD_KAFKA_RESP_ERR_NO_ERROR;
    for (int i = 0; i < r->count; i++) {
        rd_kafka_resp_err_t e = ckafka_producer_flush(r->producers[i], timeout_ms);
        if (e && !first)
            first = e;
    }
    return first;
}
