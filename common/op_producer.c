/*
 * op_producer: the ops producer and its done list (a mutex-protected FIFO
 * filled by delivery reports, drained by the WebSocket thread). See
 * op_producer.h.
 */
#include "common/op_producer.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/kafka_producer.h"
#include "common/util.h"

#define WARM_TIMEOUT_MS 5000

struct op_producer {
    ckafka_producer *producer;
    const char *topic;
    op_producer_notify_fn notify;
    void *notify_userdata;
    pthread_mutex_t lock; /* guards the done list */
    op_producer_op *done_head;
    op_producer_op *done_tail;
};

static void on_delivery(void *userdata, void *msg_opaque, rd_kafka_resp_err_t err,
                        int32_t partition, int64_t offset)
{
    op_producer *p = userdata;
    op_producer_op *op = msg_opaque;
    op->delivered_ns = util_now_ns();
    op->err = err;
    op->partition = partition;
    op->offset = offset;
    op->next = NULL;
    pthread_mutex_lock(&p->lock);
    int was_empty = p->done_head == NULL;
    if (p->done_tail)
        p->done_tail->next = op;
    else
        p->done_head = op;
    p->done_tail = op;
    /* One wake per batch: the WebSocket thread takes the whole list. Called
     * under the lock so that set_notify(NULL) really ends the calls. */
    if (was_empty && p->notify)
        p->notify(p->notify_userdata);
    pthread_mutex_unlock(&p->lock);
}

op_producer *op_producer_new(const op_producer_opts *opts, char *err, size_t err_size)
{
    op_producer *p = calloc(1, sizeof *p);
    if (!p) {
        snprintf(err, err_size, "out of memory");
        return NULL;
    }
    if (pthread_mutex_init(&p->lock, NULL) != 0) {
        free(p);
        snprintf(err, err_size, "cannot create a mutex");
        return NULL;
    }
    p->topic = opts->topic;
    p->notify = opts->notify;
    p->notify_userdata = opts->notify_userdata;

    char timeout[32], linger[32];
    snprintf(timeout, sizeof timeout, "%lld", (long long)opts->ack_timeout_ms);
    snprintf(linger, sizeof linger, "%lld", (long long)opts->linger_ms);
    /* Every op waits for its own request round trip, so nothing may hold a
     * request back: linger is ingest's --linger (batches still form while
     * requests are in flight); Nagle's algorithm is off for every client
     * (common/kafka_config.c). */
    /* clang-format off */
    const char *extra[] = {
        "message.timeout.ms", timeout,
        "linger.ms", linger,
        "queue.buffering.max.messages", "200000",
        NULL,
    };
    /* clang-format on */
    ckafka_producer_opts po = {
        .brokers = opts->brokers,
        .client_id = opts->client_id,
        .log = opts->log,
        .on_delivery = on_delivery,
        .delivery_userdata = p,
        .poll_thread = true,
        .extra_config = extra,
    };
    p->producer = ckafka_producer_new(&po, err, err_size);
    if (!p->producer) {
        pthread_mutex_destroy(&p->lock);
        free(p);
        return NULL;
    }
    /* Without the topic's metadata the first ops after a start wait about a
     * second for librdkafka's refresh. Not fatal: they would only be slow. */
    char why[256];
    if (ckafka_producer_warm(p->producer, p->topic, WARM_TIMEOUT_MS, why, sizeof why) != 0) {
        clog_field f[] = {clog_str("topic", p->topic), clog_str("error", why)};
        clog_emit(opts->log, CLOG_WARN, "ops topic metadata not fetched; first ops will wait", f,
                  2);
    }
    return p;
}

rd_kafka_resp_err_t op_producer_send(op_producer *p, const char *key, size_t key_len,
                                     const uint8_t *value, size_t value_len, op_producer_op *op)
{
    return ckafka_producer_send(p->producer, p->topic, RD_KAFKA_PARTITION_UA, key, key_len, value,
                                value_len, op, 0);
}

void op_producer_set_notify(op_producer *p, op_producer_notify_fn notify, void *userdata)
{
    pthread_mutex_lock(&p->lock);
    p->notify = notify;
    p->notify_userdata = userdata;
    pthread_mutex_unlock(&p->lock);
}

op_producer_op *op_producer_take_done(op_producer *p)
{
    pthread_mutex_lock(&p->lock);
    op_producer_op *list = p->done_head;
    p->done_head = p->done_tail = NULL;
    pthread_mutex_unlock(&p->lock);
    return list;
}

bool op_producer_fatal(op_producer *p)
{
    char why[256];
    return ckafka_producer_fatal(p->producer, why, sizeof why);
}

int op_producer_outstanding(op_producer *p)
{
    return ckafka_producer_outstanding(p->producer);
}

int op_producer_flush(op_producer *p, int timeout_ms)
{
    return ckafka_producer_flush(p->producer, timeout_ms) == RD_KAFKA_RESP_ERR_NO_ERROR ? 0 : -1;
}

void op_producer_free(op_producer *p)
{
    if (!p)
        return;
    /* Purged messages report through on_delivery into the done list. */
    ckafka_producer_free(p->producer);
    op_producer_op *op = op_producer_take_done(p);
    while (op) {
        op_producer_op *next = op->next;
        free(op);
        op = next;
    }
    pthread_mutex_destroy(&p->lock);
    free(p);
}
