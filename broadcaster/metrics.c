/*
 * metrics: registration of the broadcaster's metrics. See metrics.h.
 */
#include "broadcaster/metrics.h"

#include <stdio.h>

/* Per-subscriber queue depth in messages, sampled every second. */
static const double depth_buckets[] = {0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096};

static const char *const record_names[BCREC_COUNT] = {"delivered", "ignored", "duplicate", "gap",
                                                      "invalid"};

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
    return 0;
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
