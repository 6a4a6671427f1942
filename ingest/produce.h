/*
 * produce: ingest's path into Kafka. Wraps the idempotent producer
 * (common/kafka_producer.h, acks=all) for the ops topic: each queued message
 * carries an ingest_op, the record of one client operation waiting for its
 * answer. librdkafka's delivery report (on the producer's poll thread) fills
 * in the outcome and appends the op to a done list; the first op on an empty
 * list calls the notify function, which wakes the WebSocket thread, and that
 * thread takes the list and answers ACK or NACK there. So ACK comes only from
 * a delivery report, and all socket work stays on one thread.
 *
 * The ack timeout is librdkafka's message.timeout.ms: a message Kafka did
 * not confirm in time is reported as failed (NACK unavailable) and never
 * delivered later. Prefix: ingest_produce_.
 */
#ifndef INGEST_PRODUCE_H
#define INGEST_PRODUCE_H

#include <librdkafka/rdkafka.h>
#include <stddef.h>
#include <stdint.h>

#include "common/log.h"
#include "common/ws_frame.h"

/* One operation in flight. Allocated by the caller (the connection), owned
 * by the producer from a successful ingest_produce_send until it comes back
 * from ingest_produce_take_done; then the caller frees it. */
typedef struct ingest_op {
    struct ingest_op *next;  /* done list link */
    void *owner;             /* the connection that sent it (the caller's) */
    int64_t received_ns;     /* util_now_ns() when the message arrived */
    int64_t produced_ns;     /* util_now_ns() when handed to the producer */
    int64_t delivered_ns;    /* util_now_ns() in the delivery report */
    rd_kafka_resp_err_t err; /* outcome, set by the delivery report */
    int32_t partition;
    int64_t offset;
    size_t op_id_len;
    char op_id[WSFRAME_OP_ID_MAX + 1];
} ingest_op;

typedef struct ingest_produce ingest_produce;

/* Called on the delivery thread when the done list turns non-empty. */
typedef void (*ingest_produce_notify_fn)(void *userdata);

typedef struct ingest_produce_opts {
    const char *brokers;
    const char *client_id;
    const char *topic;
    int64_t ack_timeout_ms;
    int64_t linger_ms;
    clog *log; /* borrowed */
    ingest_produce_notify_fn notify;
    void *notify_userdata;
} ingest_produce_opts;

/* NULL with the reason in err. Free with ingest_produce_free. */
ingest_produce *ingest_produce_new(const ingest_produce_opts *opts, char *err, size_t err_size);

/*
 * Queues value under key (the document id). RD_KAFKA_RESP_ERR_NO_ERROR: op
 * now belongs to the producer and returns through take_done exactly once.
 * Any other code: nothing was queued and op stays the caller's (queue full:
 * RD_KAFKA_RESP_ERR__QUEUE_FULL). Never blocks.
 */
rd_kafka_resp_err_t ingest_produce_send(ingest_produce *p, const char *key, size_t key_len,
                                        const uint8_t *value, size_t value_len, ingest_op *op);

/* Replaces the notify function (NULL: none). After it returns, the old one
 * is not called any more: main clears it before closing the server. */
void ingest_produce_set_notify(ingest_produce *p, ingest_produce_notify_fn notify, void *userdata);

/* Takes every completed op, oldest first (NULL when none). The caller owns
 * them: answer, then free(). Any thread; the WebSocket thread in ingest. */
ingest_op *ingest_produce_take_done(ingest_produce *p);

/* Messages not yet reported. */
int ingest_produce_outstanding(ingest_produce *p);

/* Waits until every message has its report (or the timeout). 0 or -1. */
int ingest_produce_flush(ingest_produce *p, int timeout_ms);

/* Destroys the producer; ops still on the done list are freed without an
 * answer (call it after the WebSocket thread is gone). */
void ingest_produce_free(ingest_produce *p);

#endif
