/*
 * metrics: every metric the broadcaster exports on /metrics, registered once
 * in main and updated lock-free from the threads that own the events
 * (common/metrics.h). Labelled children with a fixed set of values are
 * looked up at registration, so the hot path never takes a lock.
 * Prefix: bcmetrics_.
 */
#ifndef BROADCASTER_METRICS_H
#define BROADCASTER_METRICS_H

#include "broadcaster/msg.h"
#include "common/metrics.h"

/* Why a subscriber was resynced (RESYNC reason). */
typedef enum bcmetrics_resync {
    BCRESYNC_SLOW_CONSUMER,
    BCRESYNC_GAP,
    BCRESYNC_COUNT,
} bcmetrics_resync;

/* Why a read connection ended. */
typedef enum bcmetrics_disconnect {
    BCDISC_CLIENT,        /* the client closed or the socket broke */
    BCDISC_SLOW_CONSUMER, /* ERROR slow_consumer */
    BCDISC_SHUTTING_DOWN, /* ERROR shutting_down */
    BCDISC_INTERNAL,      /* ERROR internal: the state could not be loaded, no memory */
    BCDISC_BAD_FRAME,     /* the client sent a message (reads take none) */
    BCDISC_COUNT,
} bcmetrics_disconnect;

/* What became of a collab.merged record. */
typedef enum bcmetrics_record {
    BCREC_DELIVERED, /* to a document with subscribers */
    BCREC_IGNORED,   /* no subscriber here: filtered by key, not decoded */
    BCREC_DUPLICATE, /* version already seen */
    BCREC_GAP,       /* version jumped: history restarted there */
    BCREC_INVALID,   /* undecodable: logged and skipped */
    BCREC_COUNT,
} bcmetrics_record;

/* What became of a Yjs update for a live document (collab.ops records and
 * this edge's acked writes). */
typedef enum bcmetrics_live_record {
    BCLIVE_REC_APPLIED,   /* new: applied and sent to the sessions */
    BCLIVE_REC_DUPLICATE, /* the document had it already (the other source first) */
    BCLIVE_REC_WAITED,    /* came while the document loaded: applied after the load */
    BCLIVE_REC_IGNORED,   /* no live document here */
    BCLIVE_REC_REFUSED,   /* the engine refused it: the document is reloaded */
    BCLIVE_REC_COUNT,
} bcmetrics_live_record;

/* Why a y-protocols connection was closed by the server. */
typedef enum bcmetrics_yclose {
    BCYCLOSE_UNAUTHORIZED, /* 4401 */
    BCYCLOSE_FORBIDDEN,    /* 4403 */
    BCYCLOSE_NOT_FOUND,    /* 4404 */
    BCYCLOSE_BAD_MESSAGE,  /* 4400 */
    BCYCLOSE_TOO_BIG,      /* 1009 */
    BCYCLOSE_SLOW,         /* 1013 slow consumer */
    BCYCLOSE_UNAVAILABLE,  /* 1013 MongoDB, Kafka or the live document unavailable */
    BCYCLOSE_UNSAVED,      /* 1011 Kafka did not take an update: reconnect and resend */
    BCYCLOSE_SHUTDOWN,     /* 1012 */
    BCYCLOSE_COUNT,
} bcmetrics_yclose;

typedef struct bcmetrics {
    metrics_gauge *subscribers;
    metrics_gauge *documents;
    metrics_counter *messages_sent[BCMSG_KIND_COUNT];
    metrics_counter *bytes_sent;
    metrics_histogram *queue_depth;
    metrics_counter *resyncs[BCRESYNC_COUNT];
    metrics_counter *disconnects[BCDISC_COUNT];
    metrics_histogram *e2e_latency;
    metrics_counter *records[BCREC_COUNT];
    metrics_counter *state_loads_ok, *state_loads_failed;
    metrics_counter *op_fetches_ok, *op_fetches_failed;
    metrics_counter *awareness_relayed, *awareness_dropped;
    metrics_family *upgrades; /* by HTTP status: lookups only at connect time */
    metrics_histogram *state_load_seconds;
    /* y-protocols connections and their live documents */
    metrics_counter *ops_records[BCREC_COUNT]; /* the collab.ops feed */
    metrics_gauge *ysockets, *ysessions, *live_documents;
    metrics_counter *live_records[BCLIVE_REC_COUNT];
    metrics_histogram *live_latency; /* edge receipt -> update queued to the sessions */
    metrics_counter *live_loads_ok, *live_loads_failed, *live_log_records;
    metrics_histogram *live_load_seconds;
    metrics_counter *yclosed[BCYCLOSE_COUNT];
    metrics_counter *yauth_failures;
    metrics_counter *ywrites, *ywrite_acks, *ywrite_failures, *ywrites_known;
    metrics_histogram *ywrite_latency; /* message received -> Kafka's delivery report */
} bcmetrics;

/* Registers everything in reg (borrowed). 0, or -1 (a naming error or no
 * memory). The pointers in m belong to reg. */
int bcmetrics_register(metrics_registry *reg, bcmetrics *m);

const char *bcmetrics_resync_name(bcmetrics_resync r);
const char *bcmetrics_disconnect_name(bcmetrics_disconnect d);
const char *bcmetrics_yclose_name(bcmetrics_yclose c);

/* Counts an upgrade answered with status (101 accepted, 401, 403, ...). */
void bcmetrics_upgrade(bcmetrics *m, unsigned int status);

#endif
