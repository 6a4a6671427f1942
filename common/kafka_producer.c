/*
 * kafka_producer: idempotent and transactional producers over librdkafka,
 * with librdkafka's transactional error classes mapped to ckafka_txn_status.
 * See kafka_producer.h.
 */
#include "common/kafka_producer.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/util.h"

struct ckafka_producer {
    ckafka_base base; /* first: the handle's opaque */
    rd_kafka_t *rk;
    ckafka_delivery_fn on_delivery;
    void *delivery_userdata;
    bool transactional;
    bool has_poll_thread;
    pthread_t poll_thread;
    atomic_bool stop_polling;
    /* Messages queued and reported, counted so that a flush can wait for the
     * poll thread's reports instead of polling beside it. */
    pthread_mutex_t report_lock;
    pthread_cond_t reported;
    uint64_t queued_count, reported_count;
    rd_kafka_topic_t *warm[CKAFKA_PRODUCER_MAX_WARM]; /* handles kept by ckafka_producer_warm */
    int warm_count;
};

static void delivery_callback(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque)
{
    (void)rk;
    ckafka_producer *p = opaque;
    if (msg->err) {
        clog_field f[] = {clog_str("error", rd_kafka_err2str(msg->err)),
                          clog_str("topic", rd_kafka_topic_name(msg->rkt))};
        clog_emit(p->base.log, CLOG_WARN, "kafka delivery failed", f, 2);
    }
    if (p->on_delivery)
        p->on_delivery(p->delivery_userdata, msg->_private, msg->err, msg->partition, msg->offset);
    pthread_mutex_lock(&p->report_lock);
    p->reported_count++;
    pthread_cond_broadcast(&p->reported);
    pthread_mutex_unlock(&p->report_lock);
}

static void *poll_loop(void *arg)
{
    ckafka_producer *p = arg;
    while (!atomic_load(&p->stop_polling))
        rd_kafka_poll(p->rk, 100);
    return NULL;
}

ckafka_producer *ckafka_producer_new(const ckafka_producer_opts *opts, char *err, size_t err_size)
{
    ckafka_producer *p = calloc(1, sizeof *p);
    if (!p) {
        snprintf(err, err_size, "out of memory");
        return NULL;
    }
    ckafka_base_init(&p->base, opts->log, "producer");
    p->on_delivery = opts->on_delivery;
    p->delivery_userdata = opts->delivery_userdata;
    p->transactional = opts->transactional_id != NULL;
    atomic_init(&p->stop_polling, false);
    pthread_mutex_init(&p->report_lock, NULL);
    pthread_cond_init(&p->reported, NULL);
    rd_kafka_conf_t *conf =
        ckafka_conf_new(&p->base, opts->brokers, opts->client_id, err, err_size);
    if (!conf) {
        free(p);
        return NULL;
    }
    rd_kafka_conf_set_dr_msg_cb(conf, delivery_callback);
    /* One "key", "value" pair per line. */
    /* clang-format off */
    const char *settings[] = {
        "enable.idempotence", "true",
        "acks", "all",
        /* Batching a little costs < 5 ms and saves most request overhead. */
        "linger.ms", "5",
        NULL,
    };
    /* clang-format on */
    if (ckafka_conf_apply(conf, settings, err, err_size) != 0 ||
        (p->transactional &&
         ckafka_conf_set(conf, "transactional.id", opts->transactional_id, err, err_size) != 0) ||
        ckafka_conf_apply(conf, opts->extra_config, err, err_size) != 0) {
        rd_kafka_conf_destroy(conf);
        free(p);
        return NULL;
    }
    char reason[512];
    p->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, reason, sizeof reason);
    if (!p->rk) {
        snprintf(err, err_size, "kafka producer: %s", reason);
        rd_kafka_conf_destroy(conf);
        free(p);
        return NULL;
    }
    if (opts->poll_thread) {
        if (pthread_create(&p->poll_thread, NULL, poll_loop, p) != 0) {
            snprintf(err, err_size, "cannot start the kafka producer poll thread");
            rd_kafka_destroy(p->rk);
            free(p);
            return NULL;
        }
        p->has_poll_thread = true;
    }
    return p;
}

/* librdkafka's vector API takes non-const pointers, but with
 * RD_KAFKA_MSG_F_COPY it only reads them. */
static void *unconst(const void *p)
{
    union {
        const void *in;
        void *out;
    } u = {.in = p};
    return u.out;
}

rd_kafka_resp_err_t ckafka_producer_send(ckafka_producer *p, const char *topic, int32_t partition,
                                         const void *key, size_t key_len, const void *value,
                                         size_t value_len, void *msg_opaque, int block_ms)
{
    rd_kafka_vu_t vus[6];
    memset(vus, 0, sizeof vus);
    vus[0].vtype = RD_KAFKA_VTYPE_TOPIC;
    vus[0].u.cstr = topic;
    vus[1].vtype = RD_KAFKA_VTYPE_PARTITION;
    vus[1].u.i32 = partition;
    vus[2].vtype = RD_KAFKA_VTYPE_KEY;
    vus[2].u.mem.ptr = unconst(key);
    vus[2].u.mem.size = key ? key_len : 0;
    vus[3].vtype = RD_KAFKA_VTYPE_VALUE;
    vus[3].u.mem.ptr = unconst(value);
    vus[3].u.mem.size = value ? value_len : 0;
    vus[4].vtype = RD_KAFKA_VTYPE_MSGFLAGS;
    vus[4].u.i = RD_KAFKA_MSG_F_COPY;
    vus[5].vtype = RD_KAFKA_VTYPE_OPAQUE;
    vus[5].u.ptr = msg_opaque;
    int64_t deadline = util_now_ms() + (block_ms > 0 ? block_ms : 0);
    for (;;) {
        rd_kafka_error_t *error = rd_kafka_produceva(p->rk, vus, 6);
        if (!error) {
            pthread_mutex_lock(&p->report_lock);
            p->queued_count++;
            pthread_mutex_unlock(&p->report_lock);
            return RD_KAFKA_RESP_ERR_NO_ERROR;
        }
        rd_kafka_resp_err_t code = rd_kafka_error_code(error);
        rd_kafka_error_destroy(error);
        if (code != RD_KAFKA_RESP_ERR__QUEUE_FULL || util_now_ms() >= deadline)
            return code;
        /* Room appears as delivery reports are served. */
        if (p->has_poll_thread)
            util_sleep_ms(5);
        else
            rd_kafka_poll(p->rk, 5);
    }
}

int ckafka_producer_poll(ckafka_producer *p, int timeout_ms)
{
    return rd_kafka_poll(p->rk, timeout_ms);
}

/* With a poll thread serving the reports, rd_kafka_flush would poll beside
 * it in 10 ms steps, and usually find nothing (the thread took the report)
 * until the step ran out: a flush of one fast produce took ~7 ms. */
static rd_kafka_resp_err_t wait_reported(ckafka_producer *p, int timeout_ms)
{
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    int64_t ns = deadline.tv_nsec + (int64_t)(timeout_ms % 1000) * 1000000;
    deadline.tv_sec += timeout_ms / 1000 + (time_t)(ns / 1000000000);
    deadline.tv_nsec = (long)(ns % 1000000000);
    rd_kafka_resp_err_t result = RD_KAFKA_RESP_ERR_NO_ERROR;
    pthread_mutex_lock(&p->report_lock);
    while (p->reported_count < p->queued_count) {
        if (pthread_cond_timedwait(&p->reported, &p->report_lock, &deadline) != 0 &&
            p->reported_count < p->queued_count) {
            result = RD_KAFKA_RESP_ERR__TIMED_OUT;
            break;
        }
    }
    pthread_mutex_unlock(&p->report_lock);
    return result;
}

rd_kafka_resp_err_t ckafka_producer_flush(ckafka_producer *p, int timeout_ms)
{
    if (p->has_poll_thread)
        return wait_reported(p, timeout_ms);
    return rd_kafka_flush(p->rk, timeout_ms);
}

int ckafka_producer_outstanding(ckafka_producer *p)
{
    return rd_kafka_outq_len(p->rk);
}

bool ckafka_producer_fatal(ckafka_producer *p, char *err, size_t err_size)
{
    char reason[512];
    rd_kafka_resp_err_t code = rd_kafka_fatal_error(p->rk, reason, sizeof reason);
    if (code == RD_KAFKA_RESP_ERR_NO_ERROR)
        return false;
    snprintf(err, err_size, "%s: %s", rd_kafka_err2name(code), reason);
    return true;
}

void ckafka_producer_free(ckafka_producer *p)
{
    if (!p)
        return;
    if (p->has_poll_thread) {
        atomic_store(&p->stop_polling, true);
        pthread_join(p->poll_thread, NULL);
    }
    for (int i = 0; i < p->warm_count; i++)
        rd_kafka_topic_destroy(p->warm[i]);
    int left = rd_kafka_outq_len(p->rk);
    if (left > 0) {
        clog_field f[] = {clog_int("messages", left)};
        clog_emit(p->base.log, CLOG_WARN, "kafka producer destroyed with unflushed messages", f, 1);
        rd_kafka_purge(p->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
        rd_kafka_poll(p->rk, 0); /* hands the purged messages to the callback */
    }
    rd_kafka_destroy(p->rk);
    pthread_cond_destroy(&p->reported);
    pthread_mutex_destroy(&p->report_lock);
    free(p);
}

int ckafka_producer_warm(ckafka_producer *p, const char *topic, int timeout_ms, char *err,
                         size_t err_size)
{
    if (p->warm_count == CKAFKA_PRODUCER_MAX_WARM) {
        snprintf(err, err_size, "more than %d warmed topics", CKAFKA_PRODUCER_MAX_WARM);
        return -1;
    }
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(p->rk, topic, NULL);
    if (!rkt) {
        snprintf(err, err_size, "topic handle for %s: %s", topic,
                 rd_kafka_err2str(rd_kafka_last_error()));
        return -1;
    }
    /* A topic created a moment ago may not be in every broker's metadata
     * yet: ask again until the deadline. */
    int64_t deadline = util_now_ms() + timeout_ms;
    util_backoff backoff;
    util_backoff_init(&backoff, 20, 500);
    rd_kafka_resp_err_t kerr;
    for (;;) {
        const struct rd_kafka_metadata *md = NULL;
        int64_t left = deadline - util_now_ms();
        kerr = rd_kafka_metadata(p->rk, 0, rkt, &md, (int)(left > 1 ? left : 1));
        if (!kerr && (md->topic_cnt != 1 || md->topics[0].err))
            kerr = md->topic_cnt == 1 ? md->topics[0].err : RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC;
        if (md)
            rd_kafka_metadata_destroy(md);
        int64_t pause = util_backoff_next(&backoff);
        if (!kerr || util_now_ms() + pause >= deadline)
            break;
        util_sleep_ms(pause);
    }
    if (kerr) {
        snprintf(err, err_size, "metadata of %s: %s", topic, rd_kafka_err2str(kerr));
        rd_kafka_topic_destroy(rkt);
        return -1;
    }
    p->warm[p->warm_count++] = rkt;
    return 0;
}

rd_kafka_t *ckafka_producer_handle(ckafka_producer *p)
{
    return p->rk;
}

/* ---- transactions ---- */

const char *ckafka_txn_status_name(ckafka_txn_status st)
{
    switch (st) {
    case CKAFKA_TXN_OK:
        return "ok";
    case CKAFKA_TXN_ABORTED:
        return "aborted";
    case CKAFKA_TXN_RETRY:
        return "retry";
    case CKAFKA_TXN_FATAL:
        return "fatal";
    case CKAFKA_TXN_ERROR:
        return "error";
    }
    return "unknown";
}

typedef enum txn_op { TXN_INIT, TXN_BEGIN, TXN_SEND_OFFSETS, TXN_COMMIT, TXN_ABORT } txn_op;

static const char *const txn_op_names[] = {"init_transactions", "begin_transaction",
                                           "send_offsets_to_transaction", "commit_transaction",
                                           "abort_transaction"};

typedef struct txn_call {
    txn_op op;
    rd_kafka_t *consumer; /* group metadata from the consumer, or: */
    const char *group_id; /* a group id alone (no generation: never fenced) */
    const rd_kafka_topic_partition_list_t *offsets;
} txn_call;

static rd_kafka_error_t *txn_invoke(ckafka_producer *p, const txn_call *call, int timeout_ms)
{
    switch (call->op) {
    case TXN_INIT:
        return rd_kafka_init_transactions(p->rk, timeout_ms);
    case TXN_BEGIN:
        return rd_kafka_begin_transaction(p->rk);
    case TXN_SEND_OFFSETS: {
        rd_kafka_consumer_group_metadata_t *meta =
            call->consumer ? rd_kafka_consumer_group_metadata(call->consumer)
                           : rd_kafka_consumer_group_metadata_new(call->group_id);
        if (!meta)
            return rd_kafka_error_new(RD_KAFKA_RESP_ERR__INVALID_ARG,
                                      "the consumer has no group metadata");
        rd_kafka_error_t *e =
            rd_kafka_send_offsets_to_transaction(p->rk, call->offsets, meta, timeout_ms);
        rd_kafka_consumer_group_metadata_destroy(meta);
        return e;
    }
    case TXN_COMMIT:
        return rd_kafka_commit_transaction(p->rk, timeout_ms);
    case TXN_ABORT:
        return rd_kafka_abort_transaction(p->rk, timeout_ms);
    }
    return rd_kafka_error_new(RD_KAFKA_RESP_ERR__INVALID_ARG, "unknown transaction operation");
}

static void log_txn_error(ckafka_producer *p, const txn_call *call, const rd_kafka_error_t *e,
                          const char *outcome)
{
    clog_field f[] = {clog_str("operation", txn_op_names[call->op]),
                      clog_str("error", rd_kafka_error_name(e)),
                      clog_str("reason", rd_kafka_error_string(e)), clog_str("outcome", outcome)};
    clog_emit(p->base.log, CLOG_WARN, "kafka transaction error", f, 4);
}

/*
 * Runs one transactional call with librdkafka's error rules: retriable ->
 * again until the deadline; requires abort -> abort (retrying that too) and
 * report ABORTED; fatal -> FATAL. The reason of the last error goes to err.
 */
static ckafka_txn_status txn_run(ckafka_producer *p, const txn_call *call, int timeout_ms,
                                 char *err, size_t err_size)
{
    if (!p->transactional) {
        snprintf(err, err_size, "%s: the producer has no transactional id", txn_op_names[call->op]);
        return CKAFKA_TXN_ERROR;
    }
    int64_t deadline = util_now_ms() + (timeout_ms > 0 ? timeout_ms : 0);
    util_backoff backoff;
    util_backoff_init(&backoff, 50, 1000);
    for (;;) {
        int64_t left = deadline - util_now_ms();
        rd_kafka_error_t *e = txn_invoke(p, call, (int)(left > 0 ? left : 1));
        if (!e)
            return CKAFKA_TXN_OK;
        snprintf(err, err_size, "%s: %s", txn_op_names[call->op], rd_kafka_error_string(e));
        if (rd_kafka_error_is_fatal(e)) {
            log_txn_error(p, call, e, "fatal");
            rd_kafka_error_destroy(e);
            atomic_store(&p->base.fatal, true);
            return CKAFKA_TXN_FATAL;
        }
        if (rd_kafka_error_txn_requires_abort(e) && call->op != TXN_ABORT) {
            log_txn_error(p, call, e, "aborting");
            rd_kafka_error_destroy(e);
            txn_call abort_call = {.op = TXN_ABORT};
            left = deadline - util_now_ms();
            char abort_err[256];
            ckafka_txn_status st = txn_run(p, &abort_call, (int)(left > 1000 ? left : 1000),
                                           abort_err, sizeof abort_err);
            if (st != CKAFKA_TXN_OK) {
                snprintf(err, err_size, "%s", abort_err);
                return st == CKAFKA_TXN_FATAL ? CKAFKA_TXN_FATAL : CKAFKA_TXN_RETRY;
            }
            return CKAFKA_TXN_ABORTED;
        }
        if (rd_kafka_error_is_retriable(e)) {
            rd_kafka_error_destroy(e);
            int64_t pause = util_backoff_next(&backoff);
            if (util_now_ms() + pause >= deadline) {
                return CKAFKA_TXN_RETRY;
            }
            util_sleep_ms(pause);
            continue;
        }
        log_txn_error(p, call, e, "error");
        rd_kafka_error_destroy(e);
        return CKAFKA_TXN_ERROR;
    }
}

ckafka_txn_status ckafka_txn_init(ckafka_producer *p, int timeout_ms, char *err, size_t err_size)
{
    txn_call call = {.op = TXN_INIT};
    return txn_run(p, &call, timeout_ms, err, err_size);
}

ckafka_txn_status ckafka_txn_begin(ckafka_producer *p, char *err, size_t err_size)
{
    txn_call call = {.op = TXN_BEGIN};
    return txn_run(p, &call, 0, err, err_size);
}

ckafka_txn_status ckafka_txn_send_offsets(ckafka_producer *p, ckafka_consumer *consumer,
                                          const rd_kafka_topic_partition_list_t *offsets,
                                          int timeout_ms, char *err, size_t err_size)
{
    txn_call call = {
        .op = TXN_SEND_OFFSETS, .consumer = ckafka_consumer_handle(consumer), .offsets = offsets};
    return txn_run(p, &call, timeout_ms, err, err_size);
}

ckafka_txn_status ckafka_txn_send_group_offsets(ckafka_producer *p, const char *group_id,
                                                const rd_kafka_topic_partition_list_t *offsets,
                                                int timeout_ms, char *err, size_t err_size)
{
    txn_call call = {.op = TXN_SEND_OFFSETS, .group_id = group_id, .offsets = offsets};
    return txn_run(p, &call, timeout_ms, err, err_size);
}

ckafka_txn_status ckafka_txn_commit(ckafka_producer *p, int timeout_ms, char *err, size_t err_size)
{
    txn_call call = {.op = TXN_COMMIT};
    return txn_run(p, &call, timeout_ms, err, err_size);
}

ckafka_txn_status ckafka_txn_abort(ckafka_producer *p, int timeout_ms, char *err, size_t err_size)
{
    txn_call call = {.op = TXN_ABORT};
    return txn_run(p, &call, timeout_ms, err, err_size);
}
