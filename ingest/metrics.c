/*
 * metrics: registration of ingest's metrics and the few labelled lookups.
 * See metrics.h.
 */
#include "ingest/metrics.h"

#include <stdio.h>

const char *ingest_nack_code(ingest_nack nack)
{
    static const char *const codes[INGEST_NACK_COUNT] = {
        "forbidden", "invalid_update", "invalid_item", "too_large", "rate_limited", "unavailable",
    };
    return (unsigned)nack < INGEST_NACK_COUNT ? codes[nack] : "unknown";
}

static const char *const stage_names[INGEST_STAGE_COUNT] = {
    "validate",
    "kafka",
    "handoff",
    "write",
};

/* Finer than metrics_latency_buckets below 25 ms: the ACK target is 10 ms
 * at p99, so a stage's share of it has to be readable. */
static const double stage_buckets[] = {0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.003, 0.005,
                                       0.0075, 0.01,    0.015,  0.025, 0.05,  0.1,   0.25};

static const char *const msg_kind_names[INGEST_MSG_KIND_COUNT] = {
    "update", "item_write", "item_resolve", "awareness", "malformed",
};

int ingest_metrics_register(metrics_registry *reg, ingest_metrics *m)
{
    metrics_family *fam = NULL;
    if (metrics_gauge_new(reg, "ingest_connections", "Open WebSocket write connections",
                          &m->connections) ||
        metrics_counter_new(reg, "ingest_connections_opened_total",
                            "WebSocket write connections accepted", &m->connections_opened) ||
        metrics_counter_new(reg, "ingest_received_bytes_total",
                            "Bytes of WebSocket messages received", &m->bytes_in) ||
        metrics_counter_new(reg, "ingest_acks_total",
                            "Operations acknowledged after Kafka's delivery report", &m->acks) ||
        metrics_histogram_new(reg, "ingest_produce_latency_seconds",
                              "Time from receiving an operation to its Kafka delivery report",
                              metrics_latency_buckets, METRICS_LATENCY_BUCKET_COUNT,
                              &m->produce_latency) ||
        metrics_gauge_new(reg, "ingest_producer_queue_messages",
                          "Messages in the producer waiting for a delivery report",
                          &m->producer_queue) ||
        metrics_counter_new(reg, "ingest_awareness_published_total",
                            "Awareness updates published to Redis", &m->awareness_published) ||
        metrics_counter_new(reg, "ingest_awareness_dropped_total",
                            "Awareness updates dropped (rate limit, full queue, Redis down)",
                            &m->awareness_dropped))
        return -1;

    static const char *const type_label[] = {"type"};
    if (metrics_family_new(reg, METRICS_COUNTER, "ingest_messages_received_total",
                           "WebSocket messages received, by type", type_label, 1, NULL, 0, &fam))
        return -1;
    for (int i = 0; i < INGEST_MSG_KIND_COUNT; i++) {
        const char *v[] = {msg_kind_names[i]};
        if (!(m->messages[i] = metrics_family_counter(fam, v)))
            return -1;
    }
    static const char *const stage_label[] = {"stage"};
    if (metrics_family_new(reg, METRICS_HISTOGRAM, "ingest_op_stage_seconds",
                           "Time an operation spends in each stage between its arrival and its "
                           "answer being written (validate, kafka, handoff, write)",
                           stage_label, 1, stage_buckets, sizeof stage_buckets / sizeof(double),
                           &fam))
        return -1;
    for (int i = 0; i < INGEST_STAGE_COUNT; i++) {
        const char *v[] = {stage_names[i]};
        if (!(m->stages[i] = metrics_family_histogram(fam, v)))
            return -1;
    }
    static const char *const reason_label[] = {"reason"};
    if (metrics_family_new(reg, METRICS_COUNTER, "ingest_nacks_total",
                           "Operations answered with NACK, by reason", reason_label, 1, NULL, 0,
                           &fam))
        return -1;
    for (int i = 0; i < INGEST_NACK_COUNT; i++) {
        const char *v[] = {ingest_nack_code((ingest_nack)i)};
        if (!(m->nacks[i] = metrics_family_counter(fam, v)))
            return -1;
    }
    static const char *const code_label[] = {"code"};
    if (metrics_family_new(reg, METRICS_COUNTER, "ingest_errors_total",
                           "ERROR messages sent (the connection closes), by code", code_label, 1,
                           NULL, 0, &m->errors))
        return -1;
    if (metrics_family_new(reg, METRICS_COUNTER, "ingest_auth_failures_total",
                           "Refused tokens and logins, by reason", reason_label, 1, NULL, 0,
                           &m->auth_failures))
        return -1;
    static const char *const http_labels[] = {"route", "status"};
    if (metrics_family_new(reg, METRICS_COUNTER, "ingest_http_requests_total",
                           "HTTP API requests and refused upgrades, by route and status",
                           http_labels, 2, NULL, 0, &m->http_requests))
        return -1;
    return 0;
}

void ingest_metrics_error(ingest_metrics *m, const char *code)
{
    const char *v[] = {code};
    metrics_counter *c = metrics_family_counter(m->errors, v);
    if (c)
        metrics_counter_inc(c);
}

void ingest_metrics_auth_failure(ingest_metrics *m, const char *reason)
{
    const char *v[] = {reason};
    metrics_counter *c = metrics_family_counter(m->auth_failures, v);
    if (c)
        metrics_counter_inc(c);
}

void ingest_metrics_http(ingest_metrics *m, const char *route, unsigned int status)
{
    char s[16];
    snprintf(s, sizeof s, "%u", status);
    const char *v[] = {route, s};
    metrics_counter *c = metrics_family_counter(m->http_requests, v);
    if (c)
        metrics_counter_inc(c);
}
