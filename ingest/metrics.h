/*
 * metrics: every metric ingest exports (docs/operations.md lists them),
 * registered once in main and updated lock-free from the WebSocket thread,
 * the producer's delivery thread and the HTTP API workers. Labelled children
 * are looked up here once, so the hot path only does atomic adds.
 * Prefix: ingest_metrics_.
 */
#ifndef INGEST_METRICS_H
#define INGEST_METRICS_H

#include "common/metrics.h"

/* NACK codes of docs/protocol.md, in this order. */
typedef enum ingest_nack {
    INGEST_NACK_FORBIDDEN,
    INGEST_NACK_INVALID_UPDATE,
    INGEST_NACK_INVALID_ITEM,
    INGEST_NACK_TOO_LARGE,
    INGEST_NACK_RATE_LIMITED,
    INGEST_NACK_UNAVAILABLE,
    INGEST_NACK_COUNT,
} ingest_nack;

const char *ingest_nack_code(ingest_nack nack);

/* The stages of one operation's ACK latency, each a child of
 * ingest_op_stage_seconds: where a slow ACK spent its time. */
typedef enum ingest_stage {
    INGEST_STAGE_VALIDATE, /* message read -> handed to the producer (check, Avro) */
    INGEST_STAGE_KAFKA,    /* handed to the producer -> delivery report (librdkafka, broker) */
    INGEST_STAGE_HANDOFF,  /* delivery report -> answer queued on the WebSocket thread */
    INGEST_STAGE_WRITE,    /* answer queued -> written to the socket (oldest of a batch) */
    INGEST_STAGE_COUNT,
} ingest_stage;

/* Message kinds counted on the way in. */
typedef enum ingest_msg_kind {
    INGEST_MSG_UPDATE,
    INGEST_MSG_ITEM_WRITE,
    INGEST_MSG_ITEM_RESOLVE,
    INGEST_MSG_AWARENESS,
    INGEST_MSG_MALFORMED,
    INGEST_MSG_KIND_COUNT,
} ingest_msg_kind;

typedef struct ingest_metrics {
    metrics_gauge *connections;          /* open WebSocket connections */
    metrics_counter *connections_opened; /* upgrades accepted */
    metrics_counter *messages[INGEST_MSG_KIND_COUNT];
    metrics_counter *bytes_in; /* WebSocket payload bytes received */
    metrics_counter *acks;
    metrics_counter *nacks[INGEST_NACK_COUNT];
    metrics_family *errors;             /* ERROR frames by code */
    metrics_histogram *produce_latency; /* receive -> delivery report, seconds */
    metrics_histogram *stages[INGEST_STAGE_COUNT];
    metrics_gauge *producer_queue; /* messages waiting for a delivery report */
    metrics_family *auth_failures; /* by reason */
    metrics_family *http_requests; /* by route and status */
    metrics_counter *awareness_published;
    metrics_counter *awareness_dropped; /* rate limit, full queue or Redis down */
} ingest_metrics;

/* Registers everything in reg (which owns the children). 0, or -1. */
int ingest_metrics_register(metrics_registry *reg, ingest_metrics *m);

/* Counters of labelled families: looked up (and created) on each call; fine
 * for the rare events they count. */
void ingest_metrics_error(ingest_metrics *m, const char *code);
void ingest_metrics_auth_failure(ingest_metrics *m, const char *reason);
void ingest_metrics_http(ingest_metrics *m, const char *route, unsigned int status);

#endif
