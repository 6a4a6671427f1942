/*
 * snapper: merged records -> per-document state -> periodic snapshots, with
 * offsets committed only behind what is snapshotted and whose
 * crdt_operations rows are stored. See snapper.h.
 */
#include "snapshotter/snapper.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/kafka_consumer.h"
#include "common/kafka_producer.h"
#include "common/util.h"
#include "processor/doctable.h"
#include "processor/item_codec.h"
#include "processor/merge.h"
#include "processor/recovery.h"

/* What a document owes the next snapshot (pdoc.user). */
typedef struct pending {
    int64_t snapshot_version; /* version of the newest snapshot written */
    int64_t ops;              /* versions since the last snapshot */
    int64_t first_offset;     /* collab.merged offset of the first of them; -1: none */
    int64_t first_ms;         /* when it arrived (monotonic) */
    int64_t retry_ms;         /* after a failed snapshot: not before */
    int32_t source_partition;
    int64_t source_offset;
    bool broken; /* a version gap nothing could fill: not snapshotted */
} pending;

/* A record read since the last commit: its crdt_operations row is written
 * (idempotently) before the committed offset may pass it. */
typedef struct unstored_row {
    int32_t partition; /* collab.merged partition it was read from */
    struct cavro_merged_op op;
} unstored_row;

/* Rows per insert_many: bounds the BSON built at once. */
enum { SSNAP_ROWS_PER_INSERT = 500 };

struct ssnap {
    ssnap_config cfg;
    unstored_row *rows; /* owned, with every op in them */
    size_t row_count, row_cap;
    docstore *ds;
    const struct cavro_registry *avro;
    clog *log;
    ckafka_consumer *consumer;
    ckafka_producer *dlq;
    pdoc_table *docs;
    precover_ctx load;
    int64_t last_tick_ms, last_commit_ms;
    metrics_counter *snapshots, *failures, *records, *gaps, *dlq_records, *row_failures;
    metrics_histogram *snapshot_bytes, *snapshot_seconds;
    metrics_gauge *documents;
    metrics_family *lag;
};

static const double size_buckets[] = {256,    1024,    4096,    16384,   65536,
                                      262144, 1048576, 4194304, 16777216};

static void on_revoked(void *userdata, const rd_kafka_topic_partition_list_t *parts, bool lost);

static pending *pending_of(pdoc *d)
{
    if (!d->user) {
        pending *p = calloc(1, sizeof *p);
        if (!p)
            return NULL;
        p->first_offset = -1;
        d->user = p;
    }
    return d->user;
}

ssnap *ssnap_new(const ssnap_config *cfg, docstore *ds, const struct cavro_registry *avro,
                 metrics_registry *reg, clog *log, char *err, size_t err_size)
{
    ssnap *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, err_size, "out of memory");
        return NULL;
    }
    s->cfg = *cfg;
    s->ds = ds;
    s->avro = avro;
    s->log = log;
    s->load =
        (precover_ctx){.ds = ds, .avro = avro, .log = log, .timeout_ms = cfg->kafka_timeout_ms};
    s->docs = pdoc_table_new(cfg->max_docs, free);
    const char *partition_label[] = {"partition"};
    if (!s->docs ||
        metrics_counter_new(reg, "snapshotter_snapshots_total", "Snapshots written",
                            &s->snapshots) != METRICS_OK ||
        metrics_counter_new(reg, "snapshotter_snapshot_failures_total",
                            "Snapshots that failed to be written (retried)",
                            &s->failures) != METRICS_OK ||
        metrics_counter_new(reg, "snapshotter_records_total", "Merged records applied",
                            &s->records) != METRICS_OK ||
        metrics_counter_new(reg, "snapshotter_gaps_total",
                            "Documents with a version gap that could not be filled",
                            &s->gaps) != METRICS_OK ||
        metrics_counter_new(reg, "snapshotter_row_store_failures_total",
                            "Failed writes of crdt_operations rows before a commit (retried)",
                            &s->row_failures) != METRICS_OK ||
        metrics_counter_new(reg, "snapshotter_dlq_records_total",
                            "Undecodable merged records sent to the DLQ",
                            &s->dlq_records) != METRICS_OK ||
        metrics_histogram_new(
            reg, "snapshotter_snapshot_bytes", "Size of a snapshot's encoded state", size_buckets,
            sizeof size_buckets / sizeof size_buckets[0], &s->snapshot_bytes) != METRICS_OK ||
        metrics_histogram_new(reg, "snapshotter_snapshot_seconds",
                              "Time to encode and write one snapshot", metrics_latency_buckets,
                              METRICS_LATENCY_BUCKET_COUNT, &s->snapshot_seconds) != METRICS_OK ||
        metrics_gauge_new(reg, "snapshotter_documents", "Documents held in memory",
                          &s->documents) != METRICS_OK ||
        metrics_family_new(reg, METRICS_GAUGE, "snapshotter_consumer_lag_records",
                           "Records of collab.merged not yet read, per partition", partition_label,
                           1, NULL, 0, &s->lag) != METRICS_OK) {
        snprintf(err, err_size, "out of memory or metrics registration failed");
        ssnap_free(s);
        return NULL;
    }
    ckafka_producer_opts po = {
        .brokers = cfg->brokers, .client_id = cfg->instance_id, .log = log, .poll_thread = true};
    s->dlq = ckafka_producer_new(&po, err, err_size);
    if (!s->dlq) {
        ssnap_free(s);
        return NULL;
    }
    const char *topics[] = {cfg->merged_topic, NULL};
    ckafka_consumer_opts co = {.brokers = cfg->brokers,
                               .group_id = cfg->group_id,
                               .client_id = cfg->instance_id,
                               .log = log,
                               .topics = topics,
                               .on_revoked = on_revoked,
                               .rebalance_userdata = s};
    s->consumer = ckafka_consumer_new(&co, err, err_size);
    if (!s->consumer) {
        ssnap_free(s);
        return NULL;
    }
    return s;
}

static void drop_rows(ssnap *s, int32_t partition);

void ssnap_free(ssnap *s)
{
    if (!s)
        return;
    drop_rows(s, -1);
    free(s->rows);
    ckafka_consumer_free(s->consumer);
    if (s->dlq)
        ckafka_producer_flush(s->dlq, 5000);
    ckafka_producer_free(s->dlq);
    pdoc_table_free(s->docs);
    free(s);
}

/* Writes d's snapshot. 0 or -1 (the pending state is kept for a retry). */
static int take_snapshot(ssnap *s, pdoc *d, pending *p)
{
    int64_t t0 = util_now_ns();
    struct cavro_snapshot snap = {0};
    snap.doc_id = d->id;
    snap.doc_version = d->version;
    snap.source_partition = p->source_partition;
    snap.source_offset = p->source_offset;
    snap.created_time_us = util_wall_ns() / 1000;
    char err[512] = "";
    int rc = 0;
    if (crdt_encode_state(d->crdt, NULL, 0, &snap.state.data, &snap.state.len) != CRDT_OK ||
        crdt_encode_state_vector(d->crdt, &snap.state_vector.data, &snap.state_vector.len) !=
            CRDT_OK) {
        snprintf(err, sizeof err, "encode state: out of memory");
        rc = -1;
    }
    if (rc == 0 && d->item_count > 0) {
        snap.items.items = calloc(d->item_count, sizeof *snap.items.items);
        snap.items.count = 0; /* counts the entries filled below, which the cleanup frees */
        rc = snap.items.items ? 0 : -1;
        for (size_t i = 0; rc == 0 && i < d->item_count; i++) {
            if (d->items[i]->sibling_count == 0)
                continue;
            struct cavro_bytes *b = &snap.items.items[snap.items.count];
            rc = pitem_state_encode(s->avro, d->items[i], &b->data, &b->len, err, sizeof err);
            if (rc == 0)
                snap.items.count++;
        }
    }
    if (rc == 0 && docstore_put_snapshot(s->ds, &snap, err, sizeof err) != DOCSTORE_OK)
        rc = -1;
    if (rc == 0) {
        metrics_counter_inc(s->snapshots);
        metrics_histogram_observe(s->snapshot_bytes, (double)snap.state.len);
        metrics_histogram_observe_since_ns(s->snapshot_seconds, t0);
        p->ops = 0;
        p->first_offset = -1;
        p->retry_ms = 0;
        p->snapshot_version = d->version;
    } else {
        metrics_counter_inc(s->failures);
        p->retry_ms = util_now_ms() + 1000;
        clog_field f[] = {clog_str("doc_id", d->id), clog_int("version", d->version),
                          clog_str("error", err)};
        clog_emit(s->log, CLOG_WARN, "snapshot failed; retrying", f, 3);
    }
    snap.doc_id = NULL; /* borrowed */
    free(snap.state.data);
    free(snap.state_vector.data);
    for (size_t i = 0; i < snap.items.count; i++)
        free(snap.items.items[i].data);
    free(snap.items.items);
    return rc;
}

/* Takes over *op (its fields now belong to the buffer; *op is zeroed).
 * false when out of memory (*op left to the caller). */
static bool keep_row(ssnap *s, int32_t partition, struct cavro_merged_op *op)
{
    if (s->row_count == s->row_cap) {
        size_t cap = s->row_cap ? s->row_cap * 2 : 256;
        unstored_row *rows = realloc(s->rows, cap * sizeof *rows);
        if (!rows)
            return false;
        s->rows = rows;
        s->row_cap = cap;
    }
    s->rows[s->row_count].partition = partition;
    s->rows[s->row_count].op = *op;
    s->row_count++;
    memset(op, 0, sizeof *op);
    return true;
}

/* Forgets the buffered rows of one partition (-1: all): they will be read
 * again from the committed offset, by us or by the partition's next owner. */
static void drop_rows(ssnap *s, int32_t partition)
{
    size_t kept = 0;
    for (size_t i = 0; i < s->row_count; i++) {
        if (partition < 0 || s->rows[i].partition == partition)
            cavro_merged_op_clear(&s->rows[i].op);
        else
            s->rows[kept++] = s->rows[i];
    }
    s->row_count = kept;
}

/* Writes every buffered row to crdt_operations (duplicates are success: the
 * processor normally wrote them first) and forgets them. 0, or -1 with the
 * rows kept when MongoDB failed. */
static int store_rows(ssnap *s)
{
    docstore_op batch[SSNAP_ROWS_PER_INSERT];
    size_t done = 0;
    while (done < s->row_count) {
        size_t n = s->row_count - done;
        if (n > SSNAP_ROWS_PER_INSERT)
            n = SSNAP_ROWS_PER_INSERT;
        for (size_t i = 0; i < n; i++)
            docstore_op_from_merged(&s->rows[done + i].op, &batch[i]);
        char err[512];
        if (docstore_insert_ops(s->ds, batch, n, err, sizeof err) != DOCSTORE_OK) {
            metrics_counter_inc(s->row_failures);
            clog_field f[] = {clog_int("rows", (int64_t)(s->row_count - done)),
                              clog_str("error", err)};
            clog_emit(s->log, CLOG_WARN, "cannot store crdt_operations rows; offsets not committed",
                      f, 2);
            return -1;
        }
        done += n;
    }
    drop_rows(s, -1);
    return 0;
}

static void send_to_dlq(ssnap *s, const rd_kafka_message_t *msg, const char *why)
{
    struct cavro_dlq_record rec = {0};
    rec.original_key.present = msg->key != NULL;
    rec.original_key.bytes.data = msg->key;
    rec.original_key.bytes.len = msg->key_len;
    rec.original_value.data = msg->payload;
    rec.original_value.len = msg->len;
    rec.topic = (char *)s->cfg.merged_topic;
    rec.partition = msg->partition;
    rec.offset = msg->offset;
    rec.reason_code = "avro_undecodable";
    rec.reason = (char *)why;
    rec.service = (char *)s->cfg.instance_id;
    rec.failed_time_us = util_wall_ns() / 1000;
    uint8_t *value = NULL;
    size_t len = 0;
    char err[256];
    if (cavro_dlq_record_encode(s->avro, &rec, &value, &len, err, sizeof err) == CAVRO_OK &&
        ckafka_producer_send(s->dlq, s->cfg.dlq_topic, RD_KAFKA_PARTITION_UA, msg->key,
                             msg->key_len, value, len, NULL, 1000) == RD_KAFKA_RESP_ERR_NO_ERROR)
        metrics_counter_inc(s->dlq_records);
    free(value);
}

static bool keep_doc(const pdoc *d, void *userdata)
{
    (void)userdata;
    const pending *p = d->user;
    return p && p->ops > 0 && !p->broken;
}

static pdoc *load_doc(ssnap *s, const char *doc_id, int32_t partition, int64_t record_version)
{
    while (pdoc_table_full(s->docs)) {
        pdoc *victim = pdoc_lru_victim(s->docs, keep_doc, NULL);
        if (!victim)
            break;
        pdoc_remove(s->docs, victim);
    }
    char err[512];
    int64_t snapshot_version = 0;
    pdoc *d = precover_load_doc(&s->load, s->docs, doc_id, partition, PRECOVER_VIEWS,
                                record_version, &snapshot_version, err, sizeof err);
    if (!d) {
        clog_field f[] = {clog_str("doc_id", doc_id), clog_str("error", err)};
        clog_emit(s->log, CLOG_WARN, "cannot load document", f, 2);
        return NULL;
    }
    pending *p = pending_of(d);
    if (!p) {
        pdoc_remove(s->docs, d);
        return NULL;
    }
    /* The loaded state may be ahead of the records read so far (it may come
     * from the processor's Redis view): what counts is what no snapshot has. */
    p->snapshot_version = snapshot_version;
    return d;
}

/* Applies one merged record. false when the document could not be loaded
 * (MongoDB down): the caller rewinds and tries again later. */
static bool apply_record(ssnap *s, const rd_kafka_message_t *msg)
{
    struct cavro_merged_op m;
    char why[256];
    if (cavro_merged_op_decode(s->avro, msg->payload, msg->len, &m, why, sizeof why) != CAVRO_OK) {
        send_to_dlq(s, msg, why);
        return true;
    }
    pdoc *d = pdoc_find(s->docs, m.doc_id);
    if (!d)
        d = load_doc(s, m.doc_id, msg->partition, m.doc_version);
    if (!d) {
        cavro_merged_op_clear(&m);
        return false;
    }
    pending *p = pending_of(d);
    if (!p) {
        cavro_merged_op_clear(&m);
        return false;
    }
    if (m.doc_version > d->version + 1 && !p->broken) {
        /* Records before this one are missing (they were in no snapshot when we
         * loaded): reload, which adds the crdt_operations after the snapshot. */
        pdoc_remove(s->docs, d);
        d = load_doc(s, m.doc_id, msg->partition, m.doc_version);
        p = d ? pending_of(d) : NULL;
        if (!p) {
            cavro_merged_op_clear(&m);
            return false;
        }
        if (m.doc_version > d->version + 1) {
            p->broken = true;
            metrics_counter_inc(s->gaps);
            clog_field f[] = {clog_str("doc_id", m.doc_id), clog_int("have", d->version),
                              clog_int("record", m.doc_version)};
            clog_emit(s->log, CLOG_ERROR, "version gap; document not snapshotted", f, 3);
        }
    }
    if (!p->broken && m.doc_version == d->version + 1) {
        if (pmerge_replay(s->avro, d, &m, why, sizeof why) != 0) {
            clog_field f[] = {clog_str("doc_id", m.doc_id), clog_str("error", why)};
            clog_emit(s->log, CLOG_ERROR, "merged record not applicable", f, 2);
        }
        metrics_counter_inc(s->records);
    }
    /* A version no snapshot holds yet (the state may already hold it). */
    if (!p->broken && m.doc_version <= d->version && m.doc_version > p->snapshot_version) {
        if (p->first_offset < 0) {
            p->first_offset = msg->offset;
            p->first_ms = util_now_ms();
        }
        p->ops++;
        p->source_partition = m.source_partition;
        p->source_offset = m.source_offset;
        if (d->version - p->snapshot_version >= s->cfg.every_ops)
            take_snapshot(s, d, p);
    }
    /* Whatever happened to the state: the row must be stored before the
     * offset passes it (the processor's view queue may have lost it). */
    if (!keep_row(s, msg->partition, &m)) {
        cavro_merged_op_clear(&m);
        return false;
    }
    return true;
}

typedef struct tick_state {
    ssnap *s;
    int64_t now;
    bool all;          /* snapshot every pending document now (revocation) */
    int32_t partition; /* with all: only this partition; -1: every */
} tick_state;

static void tick_doc(pdoc *d, void *userdata)
{
    tick_state *ts = userdata;
    pending *p = d->user;
    if (!p || p->ops == 0 || p->broken)
        return;
    if (ts->all) {
        if (ts->partition < 0 || d->partition == ts->partition)
            take_snapshot(ts->s, d, p);
        return;
    }
    if (ts->now - p->first_ms >= ts->s->cfg.every_ms && ts->now >= p->retry_ms)
        take_snapshot(ts->s, d, p);
}

typedef struct min_state {
    rd_kafka_topic_partition_list_t *offsets;
} min_state;

static void min_pending(pdoc *d, void *userdata)
{
    min_state *ms = userdata;
    pending *p = d->user;
    if (!p || p->ops == 0 || p->broken || p->first_offset < 0)
        return;
    for (int i = 0; i < ms->offsets->cnt; i++) {
        rd_kafka_topic_partition_t *e = &ms->offsets->elems[i];
        if (e->partition == d->partition && (e->offset < 0 || p->first_offset < e->offset))
            e->offset = p->first_offset;
    }
}

/* Stores the crdt_operations rows of the records read so far, then commits,
 * per partition, the first offset whose document is not yet snapshotted (or
 * the position when everything is). -1 when the rows could not be stored
 * (nothing committed; the rows are kept). */
static int commit_offsets(ssnap *s)
{
    if (store_rows(s) != 0)
        return -1;
    rd_kafka_topic_partition_list_t *pos = ckafka_consumer_positions(s->consumer);
    if (!pos)
        return 0;
    rd_kafka_t *rk = ckafka_consumer_handle(s->consumer);
    for (int i = 0; i < pos->cnt; i++) {
        int64_t low, high;
        char label[16];
        snprintf(label, sizeof label, "%d", (int)pos->elems[i].partition);
        metrics_gauge *g = metrics_family_gauge(s->lag, (const char *[]){label});
        if (g && pos->elems[i].offset >= 0 &&
            rd_kafka_get_watermark_offsets(rk, s->cfg.merged_topic, pos->elems[i].partition, &low,
                                           &high) == RD_KAFKA_RESP_ERR_NO_ERROR)
            metrics_gauge_set(
                g, (double)(high > pos->elems[i].offset ? high - pos->elems[i].offset : 0));
    }
    min_state ms = {pos};
    pdoc_each(s->docs, min_pending, &ms);
    rd_kafka_topic_partition_list_t *commit = rd_kafka_topic_partition_list_new(pos->cnt);
    for (int i = 0; i < pos->cnt; i++) {
        if (pos->elems[i].offset >= 0)
            rd_kafka_topic_partition_list_add(commit, pos->elems[i].topic, pos->elems[i].partition)
                ->offset = pos->elems[i].offset;
    }
    if (commit->cnt > 0) {
        rd_kafka_resp_err_t err = ckafka_consumer_commit(s->consumer, commit, false);
        if (err) {
            clog_field f[] = {clog_str("error", rd_kafka_err2str(err))};
            clog_emit(s->log, CLOG_WARN, "offset commit failed", f, 1);
        }
    }
    rd_kafka_topic_partition_list_destroy(commit);
    rd_kafka_topic_partition_list_destroy(pos);
    metrics_gauge_set(s->documents, (double)pdoc_table_count(s->docs));
    return 0;
}

static void on_revoked(void *userdata, const rd_kafka_topic_partition_list_t *parts, bool lost)
{
    ssnap *s = userdata;
    for (int i = 0; i < parts->cnt; i++) {
        if (!lost) {
            tick_state ts = {.s = s, .all = true, .partition = parts->elems[i].partition};
            pdoc_each(s->docs, tick_doc, &ts);
        }
    }
    if (!lost)
        (void)commit_offsets(s); /* on failure the next owner re-reads from the last commit */
    for (int i = 0; i < parts->cnt; i++) {
        pdoc_drop_partition(s->docs, parts->elems[i].partition);
        drop_rows(s, parts->elems[i].partition);
    }
}

/* Reads everything again from the committed offsets, with fresh documents:
 * after MongoDB failed a load or a row write. 0, or -1 when out of memory. */
static int restart_from_committed(ssnap *s, util_backoff *backoff)
{
    ckafka_consumer_rewind(s->consumer, s->cfg.kafka_timeout_ms);
    drop_rows(s, -1);
    pdoc_table_free(s->docs);
    s->docs = pdoc_table_new(s->cfg.max_docs, free);
    if (!s->docs)
        return -1;
    util_sleep_ms(util_backoff_next(backoff));
    return 0;
}

int ssnap_loop(svc *sv, void *userdata)
{
    ssnap *s = userdata;
    util_backoff backoff;
    util_backoff_init(&backoff, 200, 5000);
    while (!svc_stopping(sv)) {
        rd_kafka_resp_err_t kerr = RD_KAFKA_RESP_ERR_NO_ERROR;
        rd_kafka_message_t *msg = ckafka_consumer_poll(s->consumer, 100, &kerr);
        if (msg) {
            bool ok = apply_record(s, msg);
            rd_kafka_message_destroy(msg);
            if (!ok) {
                /* Read the record again once the document can be loaded. */
                if (restart_from_committed(s, &backoff) != 0) {
                    svc_request_stop(sv, true, "out of memory");
                    return 1;
                }
                continue;
            }
            util_backoff_reset(&backoff);
        }
        if (ckafka_consumer_fatal(s->consumer)) {
            svc_request_stop(sv, true, "fatal consumer error");
            return 1;
        }
        int64_t now = util_now_ms();
        if (now - s->last_tick_ms >= 100) {
            s->last_tick_ms = now;
            tick_state ts = {.s = s, .now = now, .partition = -1};
            pdoc_each(s->docs, tick_doc, &ts);
        }
        if (now - s->last_commit_ms >= 1000) {
            s->last_commit_ms = now;
            /* Rows not stored: start over from the last commit rather than
             * buffer without bound while MongoDB is away. */
            if (commit_offsets(s) != 0 && restart_from_committed(s, &backoff) != 0) {
                svc_request_stop(sv, true, "out of memory");
                return 1;
            }
        }
    }
    /* Clean stop: snapshot what is pending, commit, leave the group. */
    tick_state ts = {.s = s, .now = util_now_ms(), .all = true, .partition = -1};
    pdoc_each(s->docs, tick_doc, &ts);
    (void)commit_offsets(s); /* on failure the next owner re-reads from the last commit */
    ckafka_consumer_close(s->consumer);
    return 0;
}
