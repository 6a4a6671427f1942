/*
 * op_producer: an edge's path into Kafka (ingest's write connections, the
 * broadcaster's y-protocols connections). Wraps the idempotent producer
 * (common/kafka_producer.h, acks=all) for the ops topic: each queued message
 * carries an op_producer_op, the record of one client operation waiting for its
 * answer. librdkafka's delivery report (on the producer's poll thread) fills
 * in the outcome and appends the op to a done list; the first op on an empty
 * list calls the notify function, which wakes the WebSocket thread, and that
 * thread takes the list and answers ACK or NACK there. So ACK comes only from
 * a delivery report, and all socket work stays on one thread.
 *
 * The ack timeout is librdkafka's message.timeout.ms: a message Kafka did
 * not confirm in time is reported as failed (NACK unavailable) and never
 * delivered later. Prefix: op_producer_.
 */
#ifndef COMMON_OP_PRODUCER_H
#define COMMON_OP_PRODUCER_H

#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/log.h"
#include "common/ws_frame.h"

/* One operation in flight. Allocated by the caller (the connection), owned
 * by the producer from a successful op_producer_send until it comes back
 * from op_producer_take_done; then the caller frees it. A caller that needs
 * more per op embeds this struct as the first member of one malloc'd block
 * (op_producer_free releases leftover ops with a plain free()). */
typedef struct op_producer_op {
    struct op_producer_op *next; /* done list link */
    void *owner;                 /* the connection that sent it (the caller's) */
    int64_t received_ns;         /* util_now_ns() when the message arrived */
    int64_t produced_ns;         /* util_now_ns() when handed to the producer */
    int64_t delivered_ns;        /* util_now_ns() in the delivery report */
    rd_kafka_resp_err_t err;     /* outcome, set by the delivery report */
    int32_t partition;
    int64_t offset;
    size_t op_id_len;
    char op_id[WSFRAME_OP_ID_MAX + 1];
} op_producer_op;

typedef struct op_producer op_producer;

/* Called on the delivery thread when the done list turns non-empty. */
typedef void (*op_producer_notify_fn)(void *userdata);

typedef struct op_producer_opts {
    const char *brokers;
    const char *client_id;
    const char *topic;
    int64_t ack_timeout_ms;
    int64_t linger_ms;
    clog *log; /* borrowed */
    op_producer_notify_fn notify;
    void *notify_userdata;
} op_producer_opts;

/* NULL with the reason in err. Free with op_producer_free. */
op_producer *op_producer_new(const op_producer_opts *opts, char *err, size_t err_size);

/*
 * Queues value under key (the document id). RD_KAFKA_RESP_ERR_NO_ERROR: op
 * now belongs to the producer and returns through take_done exactly once.
 * Any other code: nothing was queued and op stays the caller's (queue full:
 * RD_KAFKA_RESP_ERR__QUEUE_FULL). Never blocks.
 */
rd_kafka_resp_err_t op_producer_send(op_producer *p, const char *key, size_t key_len,
                                     const uint8_t *value, size_t value_len, op_producer_op *op);

/* Replaces the notify function (NULL: none). After it returns, the old one
 * is not called any more: main clears it before closing the server. */
void op_producer_set_notify(op_producer *p, op_producer_notify_fn notify, void *userdata);

/* Takes every completed op, oldest first (NULL when none). The caller owns
 * them: answer, then free(). Any thread; the WebSocket thread in ingest. */
op_producer_op *op_producer_take_done(op_producer *p);

/* True after a fatal producer error (nothing will be delivered any more). */
bool op_producer_fatal(op_producer *p);

/* Messages not yet reported. */
int op_producer_outstanding(op_producer *p);

/* Waits until every message has its report (or the timeout). 0 or -1. */
int op_producer_flush(op_producer *p, int timeout_ms);

/* Destroys the producer; ops still on the done list are freed without an
 * answer (call it after the WebSocket thread is gone). */
void op_producer_free(op_producer *p);

#endif
