/*
 * metrics: registration of the broadcaster's metrics. See metrics.h.
 */
#include "broadcaster/metrics.h"

#include <stdio.h>

/* Per-subscriber queue depth in messages, sampled every second. */
static const double depth_buckets[] = {0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096};

static const char *const record_names[BCREC_COUNT] = {"delivered", "ignored", "duplicate", "gap",
                                                      "invalid"};

static const char *const live_record_names[BCLIVE_REC_COUNT] = {"applied", "duplicate", "waited",
                                                                "ignored", "refused"};

const char *bcmetrics_yclose_name(bcmetrics_yclose c)
{
    static const char *const names[BCYCLOSE_COUNT] = {"unauthorized", "forbidden", "not_found",
                                                      "bad_message",  "too_big",   "slow_consumer",
                                                      "unavailable",  "unsaved",   "shutting_down"};
    return c < BCYCLOSE_COUNT ? names[c] : "unknown";
}

const char *bcmetrics_resync_name(bcmetrics_resync r)
{
    return r == BCRESYNC_SLOW_CONSUMER ? "slow_consumer" : "gap";
}

const char *bcmetrics_disconnect_name(bcmetrics_disconnect d)
{
    static const char *const names[BCDISC_COUNT] = {"client", "slow_consumer", "shutting_down",
                                                    "internal", "bad_frame"};
    return d < BCDISC_COUNT ? names[d] : "unknown";
}

static int family(metrics_registry *reg, metrics_type type, const char *name, const char *help,
                  const char *label, metrics_family **out)
{
    const char *labels[] = {label};
    return metrics_family_new(reg, type, name, help, labels, 1, NULL, 0, out) == METRICS_OK ? 0
                                                                                            : -1;
}

/* The y-protocols and live-document metrics. */
static int register_live(metrics_registry *reg, bcmetrics *m)
{
    metrics_family *live, *closed, *ops;
    if (family(reg, METRICS_COUNTER, "broadcaster_ops_records_total",
               "collab.ops records read for live documents, by what became of them", "result",
               &ops) != 0 ||
        metrics_gauge_new(reg, "broadcaster_ysockets",
                          "Open y-protocols connections (y-websocket, Hocuspocus)",
                          &m->ysockets) != METRICS_OK ||
        metrics_gauge_new(reg, "broadcaster_ysessions", "Documents open on y-protocols connections",
                          &m->ysessions) != METRICS_OK ||
        metrics_gauge_new(reg, "broadcaster_live_documents",
                          "Live documents held in memory for y-protocols connections",
                          &m->live_documents) != METRICS_OK ||
        family(reg, METRICS_COUNTER, "broadcaster_live_updates_total",
               "Durable Yjs updates for live documents, by what became of them", "result",
               &live) != 0 ||
        metrics_histogram_new(reg, "broadcaster_live_latency_seconds",
                              "From an edge receiving an update to its queueing for this "
                              "node's y-protocols sessions (the fast path)",
                              metrics_latency_buckets, METRICS_LATENCY_BUCKET_COUNT,
                              &m->live_latency) != METRICS_OK ||
        metrics_counter_new(reg, "broadcaster_live_loads_total", "Live documents loaded",
                            &m->live_loads_ok) != METRICS_OK ||
        metrics_counter_new(reg, "broadcaster_live_load_failures_total",
                            "Live document loads that failed (retried)",
                            &m->live_loads_failed) != METRICS_OK ||
        metrics_counter_new(reg, "broadcaster_live_log_updates_total",
                            "Updates read from collab.ops while loading live documents",
                            &m->live_log_records) != METRICS_OK ||
        metrics_histogram_new(reg, "broadcaster_live_load_seconds",
                              "Time to load a live document (state and log)",
                              metrics_latency_buckets, METRICS_LATENCY_BUCKET_COUNT,
                              &m->live_load_seconds) != METRICS_OK ||
        family(reg, METRICS_COUNTER, "broadcaster_yclosed_total",
               "y-protocols connections closed by the server, by reason", "reason", &closed) != 0 ||
        metrics_counter_new(reg, "broadcaster_yauth_failures_total",
                            "y-protocols documents refused: bad token or no right",
                            &m->yauth_failures) != METRICS_OK ||
        metrics_counter_new(reg, "broadcaster_ywrites_total",
                            "Updates and item ops from y-protocols sessions produced to Kafka",
                            &m->ywrites) != METRICS_OK ||
        metrics_counter_new(reg, "broadcaster_ywrite_acks_total",
                            "Of those, acknowledged after Kafka's delivery report",
                            &m->ywrite_acks) != METRICS_OK ||
        metrics_counter_new(reg, "broadcaster_ywrite_failures_total",
                            "Of those, not confirmed by Kafka (the connection is closed so "
                            "the client resends)",
                            &m->ywrite_failures) != METRICS_OK ||
        metrics_counter_new(reg, "broadcaster_ywrites_known_total",
                            "Updates from y-protocols sessions the live document already held "
                            "(acknowledged without a write)",
                            &m->ywrites_known) != METRICS_OK ||
        metrics_histogram_new(reg, "broadcaster_ywrite_latency_seconds",
                              "From receiving an update to Kafka's delivery report",
                              metrics_latency_buckets, METRICS_LATENCY_BUCKET_COUNT,
                              &m->ywrite_latency) != METRICS_OK)
        return -1;
    for (int r = 0; r < BCLIVE_REC_COUNT; r++) {
        const char *v[] = {live_record_names[r]};
        if (!(m->live_records[r] = metrics_family_counter(live, v)))
            return -1;
    }
    for (int c = 0; c < BCYCLOSE_COUNT; c++) {
        const char *v[] = {bcmetrics_yclose_name((bcmetrics_yclose)c)};
        if (!(m->yclosed[c] = metrics_family_counter(closed, v)))
            return -1;
    }
    for (int r = 0; r < BCREC_COUNT; r++) {
        const char *v[] = {record_names[r]};
        if (!(m->ops_records[r] = metrics_family_counter(ops, v)))
            return -1;
    }
    return 0;
}

int bcmetrics_register(metrics_registry *reg, bcmetrics *m)
{
    metrics_family *sent, *resyncs, *disc, *records;
    if (metrics_gauge_new(reg, "broadcaster_subscribers", "Open read connections",
                          &m->subscribers) != METRICS_OK ||
        metrics_gauge_new(reg, "broadcaster_documents",
                          "Documents with at least one subscriber on this instance",
                          &m->documents) != METRICS_OK ||
        family(reg, METRICS_COUNTER, "broadcaster_messages_sent_total",
               "Messages written to read connections, by type", "type", &sent) != 0 ||
        metrics_counter_new(reg, "broadcaster_sent_bytes_total",
                            "Payload bytes of the messages written to read connections",
                            &m->bytes_sent) != METRICS_OK ||
        metrics_histogram_new(reg, "broadcaster_queue_depth_messages",
                              "Queued messages per subscriber, sampled every second", depth_buckets,
                              sizeof depth_buckets / sizeof depth_buckets[0],
                              &m->queue_depth) != METRICS_OK ||
        family(reg, METRICS_COUNTER, "broadcaster_resyncs_total",
               "RESYNC + STATE sent instead of the missing operations, by reason", "reason",
               &resyncs) != 0 ||
        family(reg, METRICS_COUNTER, "broadcaster_disconnects_total",
               "Read connections ended, by reason", "reason", &disc) != 0 ||
        metrics_histogram_new(reg, "broadcaster_e2e_latency_seconds",
                              "From ingest receiving an operation to its merged form being "
                              "written to a reader",
                              metrics_latency_buckets, METRICS_LATENCY_BUCKET_COUNT,
                              &m->e2e_latency) != METRICS_OK ||
        family(reg, METRICS_COUNTER, "broadcaster_records_total",
               "collab.merged records read, by what became of them", "result", &records) != 0 ||
        metrics_counter_new(reg, "broadcaster_state_loads_total",
                            "Document states loaded from Redis or MongoDB",
                            &m->state_loads_ok) != METRICS_OK ||
        metrics_counter_new(reg, "broadcaster_state_load_failures_total",
                            "Document state loads that failed (retried)",
                            &m->state_loads_failed) != METRICS_OK ||
        metrics_histogram_new(reg, "broadcaster_state_load_seconds",
                              "Time to load a document state from the views",
                              metrics_latency_buckets, METRICS_LATENCY_BUCKET_COUNT,
                              &m->state_load_seconds) != METRICS_OK ||
        metrics_counter_new(reg, "broadcaster_op_fetches_total",
                            "Reads of missing operations from MongoDB crdt_operations",
                            &m->op_fetches_ok) != METRICS_OK ||
        metrics_counter_new(reg, "broadcaster_op_fetch_failures_total",
                            "Reads of missing operations that failed (retried)",
                            &m->op_fetches_failed) != METRICS_OK ||
        metrics_counter_new(reg, "broadcaster_awareness_relayed_total",
                            "Awareness updates received from Redis pub/sub for local readers",
                            &m->awareness_relayed) != METRICS_OK ||
        metrics_counter_new(reg, "broadcaster_awareness_dropped_total",
                            "Awareness messages not queued for a reader whose queue was full",
                            &m->awareness_dropped) != METRICS_OK ||
        family(reg, METRICS_COUNTER, "broadcaster_upgrades_total",
               "WebSocket upgrade requests on the read endpoint, by HTTP status", "status",
               &m->upgrades) != 0)
        return -1;
    for (int k = 0; k < BCMSG_KIND_COUNT; k++) {
        const char *v[] = {bcmsg_kind_name((bcmsg_kind)k)};
        if (!(m->messages_sent[k] = metrics_family_counter(sent, v)))
            return -1;
    }
    for (int r = 0; r < BCRESYNC_COUNT; r++) {
        const char *v[] = {bcmetrics_resync_name((bcmetrics_resync)r)};
        if (!(m->resyncs[r] = metrics_family_counter(resyncs, v)))
            return -1;
    }
    for (int d = 0; d < BCDISC_COUNT; d++) {
        const char *v[] = {bcmetrics_disconnect_name((bcmetrics_disconnect)d)};
        if (!(m->disconnects[d] = metrics_family_counter(disc, v)))
            return -1;
    }
    for (int r = 0; r < BCREC_COUNT; r++) {
        const char *v[] = {record_names[r]};
        if (!(m->records[r] = metrics_family_counter(records, v)))
            return -1;
    }
    return register_live(reg, m);
}

void bcmetrics_upgrade(bcmetrics *m, unsigned int status)
{
    char s[16];
    snprintf(s, sizeof s, "%u", status);
    const char *v[] = {s};
    metrics_counter *c = metrics_family_counter(m->upgrades, v);
    if (c)
        metrics_counter_inc(c);
}
