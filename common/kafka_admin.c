/*
 * kafka_admin: CreateTopics / DeleteTopics / metadata over a producer-type
 * handle (the Admin API needs a handle but no messages). See kafka_admin.h.
 */
#include "common/kafka_admin.h"

#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/kafka_config.h"

struct ckafka_admin {
    ckafka_base base; /* first: the handle's opaque */
    rd_kafka_t *rk;
};

ckafka_admin *ckafka_admin_new(const char *brokers, clog *log, char *err, size_t err_size)
{
    ckafka_admin *a = calloc(1, sizeof *a);
    if (!a) {
        snprintf(err, err_size, "out of memory");
        return NULL;
    }
    ckafka_base_init(&a->base, log, "admin");
    rd_kafka_conf_t *conf = ckafka_conf_new(&a->base, brokers, NULL, err, err_size);
    if (!conf) {
        free(a);
        return NULL;
    }
    char reason[512];
    a->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, reason, sizeof reason);
    if (!a->rk) {
        snprintf(err, err_size, "kafka admin client: %s", reason);
        rd_kafka_conf_destroy(conf);
        free(a);
        return NULL;
    }
    return a;
}

void ckafka_admin_free(ckafka_admin *a)
{
    if (!a)
        return;
    rd_kafka_destroy(a->rk);
    free(a);
}

/* Admin options with both timeouts; NULL (reason in err) for a timeout
 * librdkafka refuses. The caller destroys the result. */
static rd_kafka_AdminOptions_t *admin_options(ckafka_admin *a, rd_kafka_admin_op_t op,
                                              int timeout_ms, char *err, size_t err_size)
{
    rd_kafka_AdminOptions_t *options = rd_kafka_AdminOptions_new(a->rk, op);
    char reason[256];
    if (!options) {
        snprintf(err, err_size, "kafka admin options: out of memory");
        return NULL;
    }
    if (rd_kafka_AdminOptions_set_operation_timeout(options, timeout_ms, reason, sizeof reason) ||
        rd_kafka_AdminOptions_set_request_timeout(options, timeout_ms, reason, sizeof reason)) {
        snprintf(err, err_size, "kafka admin timeout %d ms: %s", timeout_ms, reason);
        rd_kafka_AdminOptions_destroy(options);
        return NULL;
    }
    return options;
}

/* Waits for the admin result event of the request sent on queue q. */
static rd_kafka_event_t *wait_result(rd_kafka_queue_t *q, int timeout_ms)
{
    /* The request carries its own timeout; allow a little more here so the
     * broker's answer (or librdkafka's timeout event) always arrives. */
    return rd_kafka_queue_poll(q, timeout_ms + 2000);
}

int ckafka_topic_partition_count(ckafka_admin *a, const char *topic, int timeout_ms, char *err,
                                 size_t err_size)
{
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(a->rk, topic, NULL);
    if (!rkt) {
        snprintf(err, err_size, "topic %s: %s", topic, rd_kafka_err2str(rd_kafka_last_error()));
        return -1;
    }
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t code = rd_kafka_metadata(a->rk, 0, rkt, &md, timeout_ms);
    rd_kafka_topic_destroy(rkt);
    if (code) {
        snprintf(err, err_size, "metadata for %s: %s", topic, rd_kafka_err2str(code));
        return -1;
    }
    int count = 0;
    for (int i = 0; i < md->topic_cnt; i++) {
        if (strcmp(md->topics[i].topic, topic) != 0)
            continue;
        if (md->topics[i].err == RD_KAFKA_RESP_ERR_NO_ERROR)
            count = md->topics[i].partition_cnt;
        else if (md->topics[i].err != RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) {
            snprintf(err, err_size, "metadata for %s: %s", topic,
                     rd_kafka_err2str(md->topics[i].err));
            count = -1;
        }
    }
    rd_kafka_metadata_destroy(md);
    return count;
}

int ckafka_topic_create(ckafka_admin *a, const char *topic, int partitions, int replication,
                        const char *const *configs, int timeout_ms, char *err, size_t err_size)
{
    char reason[512];
    rd_kafka_NewTopic_t *nt =
        rd_kafka_NewTopic_new(topic, partitions, replication, reason, sizeof reason);
    if (!nt) {
        snprintf(err, err_size, "topic %s: %s", topic, reason);
        return -1;
    }
    for (size_t i = 0; configs && configs[i]; i += 2) {
        rd_kafka_resp_err_t code =
            configs[i + 1] ? rd_kafka_NewTopic_set_config(nt, configs[i], configs[i + 1])
                           : RD_KAFKA_RESP_ERR__INVALID_ARG;
        if (code) {
            snprintf(err, err_size, "topic %s config %s: %s", topic, configs[i],
                     rd_kafka_err2str(code));
            rd_kafka_NewTopic_destroy(nt);
            return -1;
        }
    }
    rd_kafka_AdminOptions_t *options =
        admin_options(a, RD_KAFKA_ADMIN_OP_CREATETOPICS, timeout_ms, err, err_size);
    if (!options) {
        rd_kafka_NewTopic_destroy(nt);
        return -1;
    }
    rd_kafka_queue_t *q = rd_kafka_queue_new(a->rk);
    rd_kafka_CreateTopics(a->rk, &nt, 1, options, q);
    rd_kafka_event_t *ev = wait_result(q, timeout_ms);
    int rc = -1;
    bool existed = false;
    if (!ev) {
        snprintf(err, err_size, "create topic %s: no answer within %d ms", topic, timeout_ms);
    } else if (rd_kafka_event_error(ev)) {
        snprintf(err, err_size, "create topic %s: %s", topic, rd_kafka_event_error_string(ev));
    } else {
        const rd_kafka_CreateTopics_result_t *res = rd_kafka_event_CreateTopics_result(ev);
        size_t n = 0;
        const rd_kafka_topic_result_t **results =
            res ? rd_kafka_CreateTopics_result_topics(res, &n) : NULL;
        if (n != 1) {
            snprintf(err, err_size, "create topic %s: unexpected answer", topic);
        } else {
            rd_kafka_resp_err_t code = rd_kafka_topic_result_error(results[0]);
            if (code == RD_KAFKA_RESP_ERR_NO_ERROR) {
                rc = 0;
            } else if (code == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
                rc = 0;
                existed = true;
            } else {
                const char *msg = rd_kafka_topic_result_error_string(results[0]);
                snprintf(err, err_size, "create topic %s: %s", topic,
                         msg ? msg : rd_kafka_err2str(code));
            }
        }
    }
    if (ev)
        rd_kafka_event_destroy(ev);
    rd_kafka_queue_destroy(q);
    rd_kafka_AdminOptions_destroy(options);
    rd_kafka_NewTopic_destroy(nt);

    if (rc == 0) {
        clog_field f[] = {clog_str("topic", topic), clog_int("partitions", partitions),
                          clog_bool("existed", existed)};
        clog_emit(a->base.log, CLOG_INFO, "kafka topic ready", f, 3);
    }
    if (existed) {
        char why[256];
        int have = ckafka_topic_partition_count(a, topic, timeout_ms, why, sizeof why);
        if (have > 0 && have != partitions) {
            clog_field f[] = {clog_str("topic", topic), clog_int("wanted", partitions),
                              clog_int("actual", have)};
            clog_emit(a->base.log, CLOG_WARN, "existing kafka topic has another partition count", f,
                      3);
        }
    }
    return rc;
}

int ckafka_topic_delete(ckafka_admin *a, const char *topic, int timeout_ms, char *err,
                        size_t err_size)
{
    rd_kafka_AdminOptions_t *options =
        admin_options(a, RD_KAFKA_ADMIN_OP_DELETETOPICS, timeout_ms, err, err_size);
    if (!options)
        return -1;
    rd_kafka_DeleteTopic_t *dt = rd_kafka_DeleteTopic_new(topic);
    rd_kafka_queue_t *q = rd_kafka_queue_new(a->rk);
    rd_kafka_DeleteTopics(a->rk, &dt, 1, options, q);
    rd_kafka_event_t *ev = wait_result(q, timeout_ms);
    int rc = -1;
    if (!ev) {
        snprintf(err, err_size, "delete topic %s: no answer within %d ms", topic, timeout_ms);
    } else if (rd_kafka_event_error(ev)) {
        snprintf(err, err_size, "delete topic %s: %s", topic, rd_kafka_event_error_string(ev));
    } else {
        const rd_kafka_DeleteTopics_result_t *res = rd_kafka_event_DeleteTopics_result(ev);
        size_t n = 0;
        const rd_kafka_topic_result_t **results =
            res ? rd_kafka_DeleteTopics_result_topics(res, &n) : NULL;
        rd_kafka_resp_err_t code =
            n == 1 ? rd_kafka_topic_result_error(results[0]) : RD_KAFKA_RESP_ERR__BAD_MSG;
        if (code == RD_KAFKA_RESP_ERR_NO_ERROR || code == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART)
            rc = 0;
        else
            snprintf(err, err_size, "delete topic %s: %s", topic, rd_kafka_err2str(code));
    }
    if (ev)
        rd_kafka_event_destroy(ev);
    rd_kafka_queue_destroy(q);
    rd_kafka_AdminOptions_destroy(options);
    rd_kafka_DeleteTopic_destroy(dt);
    return rc;
}
