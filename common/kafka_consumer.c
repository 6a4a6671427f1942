/*
 * kafka_consumer: consumer group with rebalance callbacks for both the
 * cooperative and the eager protocol, read_committed, manual offsets.
 * See kafka_consumer.h.
 */
#include "common/kafka_consumer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ckafka_consumer {
    ckafka_base base; /* first: the handle's opaque */
    rd_kafka_t *rk;
    ckafka_assigned_fn on_assigned;
    ckafka_revoked_fn on_revoked;
    void *userdata;
    bool reset_to_end; /* auto.offset.reset=latest */
    bool closed;
};

static void log_partitions(ckafka_consumer *c, const char *what,
                           const rd_kafka_topic_partition_list_t *parts)
{
    if (!clog_enabled(c->base.log, CLOG_INFO))
        return;
    char list[512];
    size_t used = 0;
    list[0] = '\0';
    for (int i = 0; i < parts->cnt && used < sizeof list; i++) {
        int n = snprintf(list + used, sizeof list - used, "%s%s[%d]", i ? "," : "",
                         parts->elems[i].topic, (int)parts->elems[i].partition);
        if (n < 0)
            break;
        used += (size_t)n;
    }
    clog_field f[] = {clog_str("partitions", list), clog_int("count", parts->cnt),
                      clog_str("protocol", rd_kafka_rebalance_protocol(c->rk))};
    clog_emit(c->base.log, CLOG_INFO, what, f, 3);
}

static void rebalance_callback(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                               rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    ckafka_consumer *c = opaque;
    bool cooperative = strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
    rd_kafka_error_t *error = NULL;
    rd_kafka_resp_err_t assign_err = RD_KAFKA_RESP_ERR_NO_ERROR;
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        if (cooperative)
            error = rd_kafka_incremental_assign(rk, parts);
        else
            assign_err = rd_kafka_assign(rk, parts);
        log_partitions(c, "kafka partitions assigned", parts);
        if (c->on_assigned)
            c->on_assigned(c->userdata, parts);
    } else if (err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS) {
        bool lost = rd_kafka_assignment_lost(rk) != 0;
        log_partitions(c, lost ? "kafka partitions lost" : "kafka partitions revoked", parts);
        /* Before giving them up, so the service can commit their work. */
        if (c->on_revoked)
            c->on_revoked(c->userdata, parts, lost);
        if (cooperative)
            error = rd_kafka_incremental_unassign(rk, parts);
        else
            assign_err = rd_kafka_assign(rk, NULL);
    } else {
        clog_field f[] = {clog_str("error", rd_kafka_err2str(err))};
        clog_emit(c->base.log, CLOG_ERROR, "kafka rebalance failed", f, 1);
        assign_err = rd_kafka_assign(rk, NULL);
    }
    if (error) {
        clog_field f[] = {clog_str("error", rd_kafka_error_string(error))};
        clog_emit(c->base.log, CLOG_ERROR, "kafka incremental (un)assign failed", f, 1);
        rd_kafka_error_destroy(error);
    } else if (assign_err) {
        clog_field f[] = {clog_str("error", rd_kafka_err2str(assign_err))};
        clog_emit(c->base.log, CLOG_ERROR, "kafka assign failed", f, 1);
    }
}

rd_kafka_t *ckafka_reader_new(ckafka_base *base, const char *brokers, const char *client_id,
                              const char *group_id, const char *const *extra, char *err,
                              size_t err_size)
{
    rd_kafka_conf_t *conf = ckafka_conf_new(base, brokers, client_id, err, err_size);
    if (!conf)
        return NULL;
    /* One "key", "value" pair per line. */
    /* clang-format off */
    const char *settings[] = {
        "group.id", group_id,
        "enable.auto.commit", "false",
        "enable.auto.offset.store", "false",
        "isolation.level", "read_committed",
        "enable.partition.eof", "true",
        "auto.offset.reset", "earliest",
        NULL,
    };
    /* clang-format on */
    if (ckafka_conf_apply(conf, settings, err, err_size) != 0 ||
        ckafka_conf_apply(conf, extra, err, err_size) != 0) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    char why[512];
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, why, sizeof why);
    if (!rk) {
        snprintf(err, err_size, "kafka reader: %s", why);
        rd_kafka_conf_destroy(conf);
    }
    return rk;
}

ckafka_consumer *ckafka_consumer_new(const ckafka_consumer_opts *opts, char *err, size_t err_size)
{
    if (!opts->group_id || !opts->topics || !opts->topics[0]) {
        snprintf(err, err_size, "kafka consumer needs a group id and at least one topic");
        return NULL;
    }
    ckafka_consumer *c = calloc(1, sizeof *c);
    if (!c) {
        snprintf(err, err_size, "out of memory");
        return NULL;
    }
    ckafka_base_init(&c->base, opts->log, "consumer");
    c->on_assigned = opts->on_assigned;
    c->on_revoked = opts->on_revoked;
    c->userdata = opts->rebalance_userdata;
    c->reset_to_end = opts->auto_offset_reset && strcmp(opts->auto_offset_reset, "earliest") != 0;
    rd_kafka_conf_t *conf =
        ckafka_conf_new(&c->base, opts->brokers, opts->client_id, err, err_size);
    if (!conf) {
        free(c);
        return NULL;
    }
    rd_kafka_conf_set_rebalance_cb(conf, rebalance_callback);
    /* One "key", "value" pair per line. */
    /* clang-format off */
    const char *settings[] = {
        "group.id", opts->group_id,
        "enable.auto.commit", "false",
        "enable.auto.offset.store", "false",
        "enable.partition.eof", "false",
        "isolation.level", opts->read_uncommitted ? "read_uncommitted" : "read_committed",
        "auto.offset.reset", opts->auto_offset_reset ? opts->auto_offset_reset : "earliest",
        "partition.assignment.strategy", opts->eager ? "range,roundrobin" : "cooperative-sticky",
        NULL,
    };
    /* clang-format on */
    if (ckafka_conf_apply(conf, settings, err, err_size) != 0 ||
        ckafka_conf_apply(conf, opts->extra_config, err, err_size) != 0) {
        rd_kafka_conf_destroy(conf);
        free(c);
        return NULL;
    }
    char reason[512];
    c->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, reason, sizeof reason);
    if (!c->rk) {
        snprintf(err, err_size, "kafka consumer: %s", reason);
        rd_kafka_conf_destroy(conf);
        free(c);
        return NULL;
    }
    /* Serve log, error and rebalance events from ckafka_consumer_poll. */
    rd_kafka_poll_set_consumer(c->rk);
    int topic_count = 0;
    while (opts->topics[topic_count])
        topic_count++;
    rd_kafka_topic_partition_list_t *subscription = rd_kafka_topic_partition_list_new(topic_count);
    for (int i = 0; i < topic_count; i++)
        rd_kafka_topic_partition_list_add(subscription, opts->topics[i], RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t sub_err = rd_kafka_subscribe(c->rk, subscription);
    rd_kafka_topic_partition_list_destroy(subscription);
    if (sub_err) {
        snprintf(err, err_size, "kafka subscribe: %s", rd_kafka_err2str(sub_err));
        rd_kafka_destroy(c->rk);
        free(c);
        return NULL;
    }
    return c;
}

rd_kafka_message_t *ckafka_consumer_poll(ckafka_consumer *c, int timeout_ms,
                                         rd_kafka_resp_err_t *err)
{
    *err = RD_KAFKA_RESP_ERR_NO_ERROR;
    if (c->closed)
        return NULL;
    rd_kafka_message_t *msg = rd_kafka_consumer_poll(c->rk, timeout_ms);
    if (!msg)
        return NULL;
    if (msg->err == RD_KAFKA_RESP_ERR_NO_ERROR)
        return msg;
    if (msg->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        *err = msg->err;
        clog_field f[] = {clog_str("error", rd_kafka_message_errstr(msg)),
                          clog_str("topic", msg->rkt ? rd_kafka_topic_name(msg->rkt) : ""),
                          clog_int("partition", msg->partition)};
        clog_emit(c->base.log, CLOG_WARN, "kafka consume error", f, 3);
    }
    rd_kafka_message_destroy(msg);
    return NULL;
}

rd_kafka_topic_partition_list_t *ckafka_consumer_positions(ckafka_consumer *c)
{
    rd_kafka_topic_partition_list_t *parts = NULL;
    if (rd_kafka_assignment(c->rk, &parts) != RD_KAFKA_RESP_ERR_NO_ERROR)
        return NULL;
    if (rd_kafka_position(c->rk, parts) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        rd_kafka_topic_partition_list_destroy(parts);
        return NULL;
    }
    return parts;
}

rd_kafka_resp_err_t ckafka_consumer_commit(ckafka_consumer *c,
                                           const rd_kafka_topic_partition_list_t *offsets,
                                           bool async)
{
    rd_kafka_resp_err_t err = rd_kafka_commit(c->rk, offsets, async ? 1 : 0);
    /* No offset to commit (nothing consumed yet) is not a failure. */
    return err == RD_KAFKA_RESP_ERR__NO_OFFSET ? RD_KAFKA_RESP_ERR_NO_ERROR : err;
}

rd_kafka_resp_err_t ckafka_consumer_rewind(ckafka_consumer *c, int timeout_ms)
{
    rd_kafka_topic_partition_list_t *parts = NULL;
    rd_kafka_resp_err_t err = rd_kafka_assignment(c->rk, &parts);
    if (err)
        return err;
    if (parts->cnt == 0) {
        rd_kafka_topic_partition_list_destroy(parts);
        return RD_KAFKA_RESP_ERR_NO_ERROR;
    }
    err = rd_kafka_committed(c->rk, parts, timeout_ms);
    if (!err) {
        /* No committed offset yet: start where auto.offset.reset says. */
        for (int i = 0; i < parts->cnt; i++) {
            if (parts->elems[i].offset < 0)
                parts->elems[i].offset =
                    c->reset_to_end ? RD_KAFKA_OFFSET_END : RD_KAFKA_OFFSET_BEGINNING;
        }
        rd_kafka_error_t *error = rd_kafka_seek_partitions(c->rk, parts, timeout_ms);
        if (error) {
            err = rd_kafka_error_code(error);
            rd_kafka_error_destroy(error);
        }
        for (int i = 0; !err && i < parts->cnt; i++) {
            if (parts->elems[i].err)
                err = parts->elems[i].err;
        }
    }
    rd_kafka_topic_partition_list_destroy(parts);
    return err;
}

rd_kafka_resp_err_t ckafka_consumer_close(ckafka_consumer *c)
{
    if (c->closed)
        return RD_KAFKA_RESP_ERR_NO_ERROR;
    c->closed = true;
    return rd_kafka_consumer_close(c->rk);
}

void ckafka_consumer_free(ckafka_consumer *c)
{
    if (!c)
        return;
    rd_kafka_resp_err_t err = ckafka_consumer_close(c);
    if (err) {
        clog_field f[] = {clog_str("error", rd_kafka_err2str(err))};
        clog_emit(c->base.log, CLOG_WARN, "kafka consumer close failed", f, 1);
    }
    rd_kafka_destroy(c->rk);
    free(c);
}

rd_kafka_t *ckafka_consumer_handle(ckafka_consumer *c)
{
    return c->rk;
}

bool ckafka_consumer_fatal(const ckafka_consumer *c)
{
    return ckafka_base_fatal(&c->base);
}
