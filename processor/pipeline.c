/*
 * pipeline: consume -> merge -> produce + commit offsets in one transaction
 * per batch; partition ownership, recovery and eviction. See pipeline.h.
 */
#include "processor/pipeline.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/kafka_consumer.h"
#include "common/kafka_producer.h"
#include "common/util.h"
#include "processor/doctable.h"
#include "processor/merge.h"
#include "processor/recovery.h"
#include "processor/txnring.h"

/* What the batch owes the views once its transaction commits. */
typedef struct pending_op {
    pdoc *doc;
    int64_t version;
    enum cavro_merged_kind kind;
    char *op_id, *user_id, *item_id;
    int64_t client_id, ingest_time_us, processed_time_us, offset;
    int32_t partition;
    uint8_t *payload;
    size_t payload_len;
} pending_op;

typedef struct part_state {
    int32_t partition;
    bool assigned;
    bool need_recovery;
    int64_t batch_next_offset; /* input offset to commit with the batch; -1: none */
    metrics_gauge *lag;
} part_state;

typedef struct pipe_metrics {
    metrics_family *ops, *dlq, *lag;
    metrics_counter *merged, *duplicates, *noops, *poison;
    metrics_counter *conflicts_detected, *conflicts_resolved, *aborts, *evictions;
    metrics_counter *recovery_records, *recovery_gaps;
    metrics_histogram *merge_seconds, *batch_ops, *commit_seconds, *latency_seconds;
    metrics_histogram *recovery_seconds, *load_seconds;
    metrics_gauge *documents;
} pipe_metrics;

struct ppipe {
    ppipe_config cfg;
    docstore *ds;
    pviews *views;
    const struct cavro_registry *avro;
    clog *log;
    svc *svc;
    ckafka_consumer *consumer;
    ptxn_ring *txns;
    pdoc_table *docs;
    precover_ctx recover;
    part_state *parts;
    size_t part_count, part_cap;
    /* the open batch */
    bool txn_open;
    int batch_ops;
    int64_t batch_start_ms;
    pending_op *pending;
    size_t pending_count, pending_cap;
    pdoc **touched;
    size_t touched_count, touched_cap;
    /* Hashes of the ids of documents evicted since start: those reload from
     * the views (slow path); any other document not in memory is exactly its
     * latest snapshot and loads in a batch (fast path). A hash collision only
     * sends a document down the slow path, which is correct for every one. */
    uint64_t *evicted;
    size_t evicted_count, evicted_cap; /* open addressing; cap a power of two */
    rd_kafka_message_t **gathered;
    uint64_t dropped_ops; /* crdt_operations jobs the full view queue refused */
    bool fatal;
    atomic_bool ready;
    int64_t last_maintenance_ms;
    pipe_metrics m;
};

static const double batch_buckets[] = {1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000};
static const double latency_buckets[] = {0.001, 0.002, 0.005, 0.01, 0.015, 0.02, 0.03,
                                         0.05,  0.1,   0.2,   0.5,  1,     2,    5};

static int register_metrics(ppipe *p, metrics_registry *reg)
{
    pipe_metrics *m = &p->m;
    const char *result_label[] = {"result"};
    const char *reason_label[] = {"reason"};
    const char *partition_label[] = {"partition"};
    if (metrics_family_new(reg, METRICS_COUNTER, "processor_ops_total",
                           "Ops read from collab.ops by outcome", result_label, 1, NULL, 0,
                           &m->ops) != METRICS_OK ||
        !(m->merged = metrics_family_counter(m->ops, (const char *[]){"merged"})) ||
        !(m->duplicates = metrics_family_counter(m->ops, (const char *[]){"duplicate"})) ||
        !(m->noops = metrics_family_counter(m->ops, (const char *[]){"noop"})) ||
        !(m->poison = metrics_family_counter(m->ops, (const char *[]){"poison"})) ||
        metrics_family_new(reg, METRICS_COUNTER, "processor_dlq_records_total",
                           "Records sent to collab.dlq by reason code", reason_label, 1, NULL, 0,
                           &m->dlq) != METRICS_OK ||
        metrics_family_new(reg, METRICS_GAUGE, "processor_consumer_lag_records",
                           "Records of collab.ops not yet merged, per partition", partition_label,
                           1, NULL, 0, &m->lag) != METRICS_OK ||
        metrics_counter_new(reg, "processor_conflicts_detected_total",
                            "Item writes that put an item into conflict",
                            &m->conflicts_detected) != METRICS_OK ||
        metrics_counter_new(reg, "processor_conflicts_resolved_total",
                            "Item ops that settled a conflict",
                            &m->conflicts_resolved) != METRICS_OK ||
        metrics_counter_new(reg, "processor_txn_aborts_total",
                            "Kafka transactions aborted (the batch is redone)",
                            &m->aborts) != METRICS_OK ||
        metrics_counter_new(reg, "processor_evictions_total", "Documents evicted from memory",
                            &m->evictions) != METRICS_OK ||
        metrics_counter_new(reg, "processor_recovery_records_total",
                            "Merged records replayed by partition recoveries",
                            &m->recovery_records) != METRICS_OK ||
        metrics_counter_new(reg, "processor_recovery_gaps_total",
                            "Records whose version did not follow their document's in recovery",
                            &m->recovery_gaps) != METRICS_OK ||
        metrics_histogram_new(reg, "processor_merge_seconds", "Time to merge one op",
                              metrics_latency_buckets, METRICS_LATENCY_BUCKET_COUNT,
                              &m->merge_seconds) != METRICS_OK ||
        metrics_histogram_new(reg, "processor_batch_ops", "Ops per Kafka transaction",
                              batch_buckets, sizeof batch_buckets / sizeof batch_buckets[0],
                              &m->batch_ops) != METRICS_OK ||
        metrics_histogram_new(reg, "processor_txn_commit_seconds",
                              "Time to send offsets and commit one transaction",
                              metrics_latency_buckets, METRICS_LATENCY_BUCKET_COUNT,
                              &m->commit_seconds) != METRICS_OK ||
        metrics_histogram_new(reg, "processor_commit_latency_seconds",
                              "From ingest_time of an op to the commit of its merged record",
                              latency_buckets, sizeof latency_buckets / sizeof latency_buckets[0],
                              &m->latency_seconds) != METRICS_OK ||
        metrics_histogram_new(reg, "processor_recovery_seconds",
                              "Time to recover the partitions of one assignment",
                              metrics_latency_buckets, METRICS_LATENCY_BUCKET_COUNT,
                              &m->recovery_seconds) != METRICS_OK ||
        metrics_histogram_new(reg, "processor_document_load_seconds",
                              "Time to load one document from the views", metrics_latency_buckets,
                              METRICS_LATENCY_BUCKET_COUNT, &m->load_seconds) != METRICS_OK ||
        metrics_gauge_new(reg, "processor_documents", "Documents held in memory", &m->documents) !=
            METRICS_OK)
        return -1;
    return 0;
}

static part_state *part_get(ppipe *p, int32_t partition)
{
    for (size_t i = 0; i < p->part_count; i++) {
        if (p->parts[i].partition == partition)
            return &p->parts[i];
    }
    if (p->part_count == p->part_cap) {
        size_t cap = p->part_cap ? p->part_cap * 2 : 16;
        part_state *grown = realloc(p->parts, cap * sizeof *grown);
        if (!grown)
            return NULL;
        p->parts = grown;
        p->part_cap = cap;
    }
    part_state *ps = &p->parts[p->part_count++];
    memset(ps, 0, sizeof *ps);
    ps->partition = partition;
    ps->batch_next_offset = -1;
    char label[16];
    snprintf(label, sizeof label, "%d", (int)partition);
    ps->lag = metrics_family_gauge(p->m.lag, (const char *[]){label});
    return ps;
}

static void log_kv(ppipe *p, clog_level level, const char *msg, const char *key, const char *value)
{
    clog_field f[] = {clog_str(key, value)};
    clog_emit(p->log, level, msg, f, 1);
}

static void fail_fatal(ppipe *p, const char *why)
{
    log_kv(p, CLOG_ERROR, "processor stops", "reason", why);
    p->fatal = true;
    svc_request_stop(p->svc, true, why);
}

/* ---- the batch ---- */

static void pending_free(pending_op *op)
{
    free(op->op_id);
    free(op->user_id);
    free(op->item_id);
    free(op->payload);
}

static void batch_reset(ppipe *p)
{
    for (size_t i = 0; i < p->pending_count; i++)
        pending_free(&p->pending[i]);
    p->pending_count = 0;
    for (size_t i = 0; i < p->touched_count; i++)
        p->touched[i]->in_batch = false;
    p->touched_count = 0;
    for (size_t i = 0; i < p->part_count; i++)
        p->parts[i].batch_next_offset = -1;
    p->batch_ops = 0;
    p->txn_open = false;
}

static bool touch(ppipe *p, pdoc *d)
{
    if (d->in_batch)
        return true;
    if (p->touched_count == p->touched_cap) {
        size_t cap = p->touched_cap ? p->touched_cap * 2 : 64;
        pdoc **grown = realloc(p->touched, cap * sizeof *grown);
        if (!grown) {
            fail_fatal(p, "out of memory");
            return false;
        }
        p->touched = grown;
        p->touched_cap = cap;
    }
    p->touched[p->touched_count++] = d;
    d->in_batch = true;
    return true;
}

static void push_item_view(ppipe *p, pdoc *d, const char *item_id)
{
    items_state *s = pdoc_item(d, item_id);
    if (!s)
        return;
    docstore_item item;
    char *text = NULL;
    uint64_t seq = 0;
    if (pviews_item_view(d->id, s, &item, &text) == 0)
        seq = pviews_push_item(p->views, &item);
    free(text);
    if (seq)
        d->views_seq = seq;
    else
        d->views_lost = true;
}

/* The whole state of d to the views (Redis doc:{doc}, MongoDB documents). */
static void push_state_view(ppipe *p, pdoc *d)
{
    uint8_t *state = NULL, *sv = NULL;
    size_t state_len = 0, sv_len = 0;
    uint64_t seq = 0;
    if (crdt_encode_state(d->crdt, NULL, 0, &state, &state_len) == CRDT_OK &&
        crdt_encode_state_vector(d->crdt, &sv, &sv_len) == CRDT_OK)
        seq = pviews_push_state(
            p->views, d->id, d->version,
            (docstore_position){.partition = d->partition, .offset = d->source_offset}, state,
            state_len, sv, sv_len);
    free(state);
    free(sv);
    if (seq) {
        d->views_seq = seq;
        d->views_lost = false;
    } else {
        d->views_lost = true;
    }
}

static void push_op_view(ppipe *p, pdoc *d, const pending_op *op)
{
    docstore_op sop = {.doc_id = d->id,
                       .op_id = op->op_id,
                       .version = op->version,
                       .kind = cavro_merged_kind_name(op->kind),
                       .user_id = op->user_id,
                       .client_id = op->client_id,
                       .ingest_time_us = op->ingest_time_us,
                       .processed_time_us = op->processed_time_us,
                       .partition = op->partition,
                       .offset = op->offset,
                       .bytes = op->payload,
                       .len = op->payload_len};
    uint64_t seq = pviews_push_op(p->views, &sop);
    if (seq) {
        d->views_seq = seq;
    } else {
        d->views_lost = true;
        /* One line per 10,000 drops: a full queue must not become a log flood
         * (processor_view_jobs_dropped_total counts every one). */
        if (p->dropped_ops++ % 10000 == 0) {
            clog_field f[] = {clog_str("doc_id", d->id), clog_int("version", op->version),
                              clog_int("dropped_so_far", (int64_t)p->dropped_ops)};
            clog_emit(
                p->log, CLOG_WARN,
                "view queue full: crdt_operations entries dropped (the snapshotter stores them)", f,
                3);
        }
    }
}

static void recover_partitions(ppipe *p);

/* Aborts the open transaction: nothing of the batch is visible. The documents
 * it changed are dropped (their memory is ahead of the committed log), the
 * input is rewound to the committed offsets, and the partitions involved are
 * recovered again before their next op. */
static void abort_batch(ppipe *p, const char *why)
{
    metrics_counter_inc(p->m.aborts);
    log_kv(p, CLOG_WARN, "aborting the batch", "reason", why);
    if (p->txn_open) {
        char err[512];
        ckafka_txn_status st = ptxn_abort(p->txns, err, sizeof err);
        if (st == CKAFKA_TXN_FATAL) {
            fail_fatal(p, err);
            return;
        }
    }
    for (size_t i = 0; i < p->part_count; i++) {
        part_state *ps = &p->parts[i];
        if (ps->batch_next_offset >= 0 && ps->assigned)
            ps->need_recovery = true;
    }
    for (size_t i = 0; i < p->touched_count; i++) {
        part_state *ps = part_get(p, p->touched[i]->partition);
        if (ps && ps->assigned)
            ps->need_recovery = true;
    }
    for (size_t i = 0; i < p->part_count; i++) {
        if (p->parts[i].need_recovery)
            pdoc_drop_partition(p->docs, p->parts[i].partition);
    }
    p->touched_count = 0; /* the documents are gone */
    batch_reset(p);
    rd_kafka_resp_err_t kerr = ckafka_consumer_rewind(p->consumer, p->cfg.kafka_timeout_ms);
    if (kerr)
        log_kv(p, CLOG_ERROR, "rewind failed", "error", rd_kafka_err2str(kerr));
}

/* Commits the open transaction with the batch's input offsets, then hands
 * the batch's view jobs to the writer. */
static void commit_batch(ppipe *p)
{
    if (!p->txn_open)
        return;
    int64_t t0 = util_now_ns();
    rd_kafka_topic_partition_list_t *offsets = rd_kafka_topic_partition_list_new(4);
    for (size_t i = 0; i < p->part_count; i++) {
        if (p->parts[i].batch_next_offset >= 0)
            rd_kafka_topic_partition_list_add(offsets, p->cfg.ops_topic, p->parts[i].partition)
                ->offset = p->parts[i].batch_next_offset;
    }
    char err[512] = "";
    ckafka_txn_status st = ptxn_commit(p->txns, p->consumer, offsets, err, sizeof err);
    rd_kafka_topic_partition_list_destroy(offsets);
    if (st == CKAFKA_TXN_FATAL) {
        fail_fatal(p, err);
        batch_reset(p);
        return;
    }
    if (st != CKAFKA_TXN_OK) {
        /* ABORTED: the library aborted it already (and the ring moved on);
         * RETRY/ERROR: abort it here. */
        if (st == CKAFKA_TXN_ABORTED)
            p->txn_open = false;
        abort_batch(p, err[0] ? err : ckafka_txn_status_name(st));
        return;
    }
    metrics_histogram_observe_since_ns(p->m.commit_seconds, t0);
    metrics_histogram_observe(p->m.batch_ops, (double)p->batch_ops);
    int64_t now_us = util_wall_ns() / 1000;
    for (size_t i = 0; i < p->pending_count; i++) {
        pending_op *op = &p->pending[i];
        metrics_histogram_observe(p->m.latency_seconds,
                                  (double)(now_us - op->ingest_time_us) / 1e6);
        push_op_view(p, op->doc, op);
        if (op->item_id)
            push_item_view(p, op->doc, op->item_id);
    }
    for (size_t i = 0; i < p->touched_count; i++)
        push_state_view(p, p->touched[i]);
    batch_reset(p);
}

static bool begin_batch(ppipe *p)
{
    if (p->txn_open)
        return true;
    char err[512];
    ckafka_txn_status st = ptxn_begin(p->txns, err, sizeof err);
    if (st != CKAFKA_TXN_OK) {
        fail_fatal(p, err);
        return false;
    }
    p->txn_open = true;
    p->batch_start_ms = util_now_ms();
    return true;
}

/* ---- one record ---- */

static bool produce(ppipe *p, const char *topic, int32_t partition, const void *key, size_t key_len,
                    const void *value, size_t value_len)
{
    rd_kafka_resp_err_t kerr = ptxn_send(p->txns, topic, partition, key, key_len, value, value_len);
    if (kerr) {
        abort_batch(p, rd_kafka_err2str(kerr));
        return false;
    }
    return true;
}

static bool send_to_dlq(ppipe *p, const rd_kafka_message_t *msg, const char *code,
                        const char *reason)
{
    struct cavro_dlq_record rec = {0};
    rec.original_key.present = msg->key != NULL;
    rec.original_key.bytes.data = msg->key;
    rec.original_key.bytes.len = msg->key_len;
    rec.original_value.data = msg->payload;
    rec.original_value.len = msg->len;
    rec.topic = (char *)p->cfg.ops_topic;
    rec.partition = msg->partition;
    rec.offset = msg->offset;
    rec.reason_code = (char *)code;
    rec.reason = (char *)reason;
    rec.service = (char *)p->cfg.instance_id;
    rec.failed_time_us = util_wall_ns() / 1000;
    uint8_t *value = NULL;
    size_t value_len = 0;
    char why[256];
    if (cavro_dlq_record_encode(p->avro, &rec, &value, &value_len, why, sizeof why) != CAVRO_OK) {
        /* A reason that is not UTF-8 (from a hostile op id, say): say less. */
        rec.reason = "reason not representable";
        if (cavro_dlq_record_encode(p->avro, &rec, &value, &value_len, why, sizeof why) !=
            CAVRO_OK) {
            fail_fatal(p, why);
            return false;
        }
    }
    bool ok = produce(p, p->cfg.dlq_topic, RD_KAFKA_PARTITION_UA, msg->key, msg->key_len, value,
                      value_len);
    free(value);
    if (ok) {
        metrics_counter_inc(p->m.poison);
        metrics_counter *c = metrics_family_counter(p->m.dlq, (const char *[]){code});
        if (c)
            metrics_counter_inc(c);
        clog_field f[] = {clog_str("reason_code", code), clog_str("reason", reason),
                          clog_int("partition", msg->partition), clog_int("offset", msg->offset)};
        clog_emit(p->log, CLOG_WARN, "op sent to the DLQ", f, 4);
    }
    return ok;
}

static uint64_t id_hash(const char *id)
{
    uint64_t h = 1469598103934665603u; /* FNV-1a; 0 marks a free slot */
    for (const unsigned char *c = (const unsigned char *)id; *c; c++) {
        h ^= *c;
        h *= 1099511628211u;
    }
    return h ? h : 1;
}

static bool evicted_has(const ppipe *p, const char *id)
{
    if (!p->evicted_cap)
        return false;
    uint64_t h = id_hash(id);
    for (size_t i = h & (p->evicted_cap - 1);; i = (i + 1) & (p->evicted_cap - 1)) {
        if (p->evicted[i] == 0)
            return false;
        if (p->evicted[i] == h)
            return true;
    }
}

static void evicted_add(ppipe *p, const char *id)
{
    if ((p->evicted_count + 1) * 2 > p->evicted_cap) {
        size_t cap = p->evicted_cap ? p->evicted_cap * 2 : 1024;
        uint64_t *grown = calloc(cap, sizeof *grown);
        if (!grown)
            return; /* then it reloads through the fast path: see evicted_has callers */
        for (size_t i = 0; i < p->evicted_cap; i++) {
            if (!p->evicted[i])
                continue;
            size_t j = p->evicted[i] & (cap - 1);
            while (grown[j])
                j = (j + 1) & (cap - 1);
            grown[j] = p->evicted[i];
        }
        free(p->evicted);
        p->evicted = grown;
        p->evicted_cap = cap;
    }
    uint64_t h = id_hash(id);
    size_t i = h & (p->evicted_cap - 1);
    while (p->evicted[i] && p->evicted[i] != h)
        i = (i + 1) & (p->evicted_cap - 1);
    if (!p->evicted[i]) {
        p->evicted[i] = h;
        p->evicted_count++;
    }
}

static bool keep_in_memory(const pdoc *d, void *userdata)
{
    ppipe *p = userdata;
    return d->in_batch || d->views_lost || d->views_seq > pviews_written_seq(p->views);
}

/* Makes room for one more document when the table is full: evicts the least
 * recently used documents whose views are written (so they reload exactly). */
static void make_room(ppipe *p)
{
    while (pdoc_table_full(p->docs)) {
        pdoc *victim = pdoc_lru_victim(p->docs, keep_in_memory, p);
        if (!victim)
            return; /* everything is still being written: run over the bound a little */
        evicted_add(p, victim->id);
        /* Without room in the set, keep the document: a reload through the
         * fast path would miss what the views have after its snapshot. */
        if (!evicted_has(p, victim->id))
            return;
        pdoc_remove(p->docs, victim);
        metrics_counter_inc(p->m.evictions);
    }
}

static pdoc *get_doc(ppipe *p, const char *doc_id, int32_t partition)
{
    pdoc *d = pdoc_find(p->docs, doc_id);
    if (d)
        return d;
    make_room(p);
    char err[512];
    int64_t t0 = util_now_ns();
    /* 0: the processor assigns versions, so it needs every stored one. */
    d = precover_load_doc(&p->recover, p->docs, doc_id, partition, PRECOVER_VIEWS, 0, NULL, err,
                          sizeof err);
    metrics_histogram_observe_since_ns(p->m.load_seconds, t0);
    if (!d) {
        clog_field f[] = {clog_str("doc_id", doc_id), clog_str("error", err)};
        clog_emit(p->log, CLOG_WARN, "cannot load document; retrying", f, 2);
    }
    return d;
}

static bool key_matches(const rd_kafka_message_t *msg, const char *doc_id)
{
    size_t len = strlen(doc_id);
    return msg->key && msg->key_len == len && memcmp(msg->key, doc_id, len) == 0;
}

/* Handles one record inside the open transaction. false when the batch was
 * aborted (the record will be read again). */
static bool handle(ppipe *p, const rd_kafka_message_t *msg)
{
    part_state *ps = part_get(p, msg->partition);
    if (!ps) {
        fail_fatal(p, "out of memory");
        return false;
    }
    struct cavro_client_op op;
    char why[256];
    bool ok = true;
    if (cavro_client_op_decode(p->avro, msg->payload, msg->len, &op, why, sizeof why) != CAVRO_OK) {
        ok = send_to_dlq(p, msg, "avro_undecodable", why);
    } else if (!key_matches(msg, op.doc_id)) {
        ok = send_to_dlq(p, msg, "key_mismatch", "the record key is not the op's doc_id");
        cavro_client_op_clear(&op);
    } else {
        pdoc *d = get_doc(p, op.doc_id, msg->partition);
        if (!d) {
            cavro_client_op_clear(&op);
            abort_batch(p, "document load failed");
            return false;
        }
        char perr[512];
        if (op.kind != CAVRO_OP_YJS_UPDATE &&
            precover_load_policy(&p->recover, d, perr, sizeof perr) != 0) {
            log_kv(p, CLOG_WARN, "cannot read the item policy; retrying", "error", perr);
            cavro_client_op_clear(&op);
            abort_batch(p, "item policy unavailable");
            return false;
        }
        pmerge_out out;
        int64_t t0 = util_now_ns();
        pmerge_result r =
            pmerge_apply(p->avro, d, &op, msg->partition, msg->offset, util_wall_ns() / 1000, &out);
        metrics_histogram_observe_since_ns(p->m.merge_seconds, t0);
        switch (r) {
        case PMERGE_MERGED:
            ok = touch(p, d) && produce(p, p->cfg.merged_topic, msg->partition, d->id,
                                        strlen(d->id), out.record, out.record_len);
            if (ok) {
                if (p->pending_count == p->pending_cap) {
                    size_t cap = p->pending_cap ? p->pending_cap * 2 : 256;
                    pending_op *grown = realloc(p->pending, cap * sizeof *grown);
                    if (!grown) {
                        fail_fatal(p, "out of memory");
                        ok = false;
                        break;
                    }
                    p->pending = grown;
                    p->pending_cap = cap;
                }
                pending_op *po = &p->pending[p->pending_count++];
                memset(po, 0, sizeof *po);
                po->doc = d;
                po->version = out.version;
                po->kind = out.kind;
                po->op_id = strdup(op.op_id);
                po->user_id = strdup(op.user_id);
                po->item_id = out.item ? strdup(out.item->item_id) : NULL;
                po->client_id = op.client_id;
                po->ingest_time_us = op.ingest_time_us;
                po->processed_time_us = util_wall_ns() / 1000;
                po->partition = msg->partition;
                po->offset = msg->offset;
                po->payload = out.payload;
                po->payload_len = out.payload_len;
                out.payload = NULL;
                metrics_counter_inc(p->m.merged);
                if (out.conflict_detected)
                    metrics_counter_inc(p->m.conflicts_detected);
                if (out.conflict_resolved)
                    metrics_counter_inc(p->m.conflicts_resolved);
            }
            break;
        case PMERGE_DUPLICATE:
            metrics_counter_inc(p->m.duplicates);
            break;
        case PMERGE_NOOP:
            metrics_counter_inc(p->m.noops);
            break;
        case PMERGE_POISON:
            ok = send_to_dlq(p, msg, out.reason_code, out.reason);
            break;
        case PMERGE_FATAL:
            log_kv(p, CLOG_ERROR, "document unusable after an engine failure; reloading", "doc_id",
                   d->id);
            touch(p, d);
            pmerge_out_clear(&out);
            cavro_client_op_clear(&op);
            abort_batch(p, "engine failure");
            return false;
        }
        pmerge_out_clear(&out);
        cavro_client_op_clear(&op);
    }
    if (!ok)
        return false;
    ps->batch_next_offset = msg->offset + 1;
    p->batch_ops++;
    return true;
}

/* ---- partitions ---- */

static void replayed_record(void *userdata, pdoc *d, const struct cavro_merged_op *m)
{
    ppipe *p = userdata;
    pending_op op = {.version = m->doc_version,
                     .kind = m->kind,
                     .op_id = m->op_id,
                     .user_id = m->user_id,
                     .client_id = m->client_id,
                     .ingest_time_us = m->ingest_time_us,
                     .processed_time_us = m->processed_time_us,
                     .offset = m->source_offset,
                     .partition = m->source_partition,
                     .payload = m->payload.data,
                     .payload_len = m->payload.len};
    /* A crash may have left these out of the views: write them again
     * (idempotent), so the views catch up. */
    push_op_view(p, d, &op);
    if (m->kind != CAVRO_MERGED_YJS_UPDATE) {
        struct cavro_item_state st;
        char why[256];
        if (cavro_item_state_decode(p->avro, m->payload.data, m->payload.len, &st, why,
                                    sizeof why) == CAVRO_OK) {
            push_item_view(p, d, st.item_id);
            cavro_item_state_clear(&st);
        }
    }
}

typedef struct state_push {
    ppipe *p;
    int32_t partition;
} state_push;

static void push_partition_state(pdoc *d, void *userdata)
{
    state_push *sp = userdata;
    if (d->partition == sp->partition)
        push_state_view(sp->p, d);
}

/* Recovers every partition that needs it, all at once, retrying with
 * backoff (MongoDB or Kafka may be down) until it worked or the service
 * stops. */
static void recover_partitions(ppipe *p)
{
    util_backoff backoff;
    util_backoff_init(&backoff, 200, 5000);
    int32_t *todo = calloc(p->part_count ? p->part_count : 1, sizeof *todo);
    if (!todo) {
        fail_fatal(p, "out of memory");
        return;
    }
    while (!p->fatal && !svc_stopping(p->svc)) {
        size_t n = 0;
        for (size_t i = 0; i < p->part_count; i++) {
            if (p->parts[i].assigned && p->parts[i].need_recovery)
                todo[n++] = p->parts[i].partition;
        }
        if (n == 0)
            break;
        /* Recovery reads collab.merged back up to its last stable offset:
         * every transaction this instance ended must be visible there first,
         * or the documents would miss their newest versions. The open batch
         * (ops of other partitions) commits first; a failed commit aborts
         * and adds its partitions to the list. */
        if (p->txn_open) {
            commit_batch(p);
            continue;
        }
        char err[512];
        ckafka_txn_status settled = ptxn_settle(p->txns, p->cfg.ops_topic, err, sizeof err);
        if (settled == CKAFKA_TXN_FATAL) {
            fail_fatal(p, err);
            break;
        }
        if (settled != CKAFKA_TXN_OK) {
            clog_field f[] = {clog_str("error", err)};
            clog_emit(p->log, CLOG_WARN, "waiting for the last transactions failed; retrying", f,
                      1);
            util_sleep_ms(util_backoff_next(&backoff));
            continue;
        }
        for (size_t i = 0; i < n; i++)
            pdoc_drop_partition(p->docs, todo[i]);
        int64_t t0 = util_now_ns();
        int64_t records = 0, gaps = 0;
        if (precover_partitions(&p->recover, p->docs, todo, n, replayed_record, p, &records, &gaps,
                                err, sizeof err) == 0) {
            for (size_t i = 0; i < n; i++) {
                part_get(p, todo[i])->need_recovery = false;
                state_push sp = {p, todo[i]};
                pdoc_each(p->docs, push_partition_state, &sp);
            }
            metrics_histogram_observe_since_ns(p->m.recovery_seconds, t0);
            metrics_counter_add(p->m.recovery_records, (uint64_t)records);
            metrics_counter_add(p->m.recovery_gaps, (uint64_t)gaps);
            clog_field f[] = {clog_int("partitions", (int64_t)n), clog_int("records", records),
                              clog_int("gaps", gaps),
                              clog_double("seconds", (double)(util_now_ns() - t0) / 1e9)};
            clog_emit(p->log, CLOG_INFO, "partitions recovered", f, 4);
        } else {
            clog_field f[] = {clog_int("partitions", (int64_t)n), clog_str("error", err)};
            clog_emit(p->log, CLOG_WARN, "partition recovery failed; retrying", f, 2);
            util_sleep_ms(util_backoff_next(&backoff));
        }
    }
    free(todo);
}

static void on_assigned(void *userdata, const rd_kafka_topic_partition_list_t *parts)
{
    ppipe *p = userdata;
    for (int i = 0; i < parts->cnt; i++) {
        part_state *ps = part_get(p, parts->elems[i].partition);
        if (!ps) {
            fail_fatal(p, "out of memory");
            return;
        }
        ps->assigned = true;
        ps->need_recovery = true;
    }
    /* Before any op of these partitions is merged. */
    recover_partitions(p);
}

static void on_revoked(void *userdata, const rd_kafka_topic_partition_list_t *parts, bool lost)
{
    ppipe *p = userdata;
    if (p->txn_open) {
        if (lost)
            abort_batch(p, "partitions lost");
        else
            commit_batch(p);
    }
    for (int i = 0; i < parts->cnt; i++) {
        part_state *ps = part_get(p, parts->elems[i].partition);
        if (ps) {
            ps->assigned = false;
            ps->need_recovery = false;
            metrics_gauge_set(ps->lag, 0);
        }
        pdoc_drop_partition(p->docs, parts->elems[i].partition);
    }
}

/* ---- life cycle ---- */

ppipe *ppipe_new(const ppipe_config *cfg, docstore *ds, pviews *views,
                 const struct cavro_registry *avro, metrics_registry *reg, clog *log, char *err,
                 size_t err_size)
{
    ppipe *p = calloc(1, sizeof *p);
    if (!p) {
        snprintf(err, err_size, "out of memory");
        return NULL;
    }
    p->cfg = *cfg;
    p->ds = ds;
    p->views = views;
    p->avro = avro;
    p->log = log;
    p->recover = (precover_ctx){.ds = ds,
                                .avro = avro,
                                .log = log,
                                .brokers = cfg->brokers,
                                .merged_topic = cfg->merged_topic,
                                .snapshotter_group = cfg->snapshotter_group,
                                .timeout_ms = cfg->kafka_timeout_ms};
    p->docs = pdoc_table_new(cfg->max_docs, NULL);
    if (!p->docs || register_metrics(p, reg) != 0) {
        snprintf(err, err_size, "out of memory or metrics registration failed");
        ppipe_free(p);
        return NULL;
    }
    const char *out_topics[] = {cfg->merged_topic, cfg->dlq_topic, NULL};
    ptxn_config tc = {.brokers = cfg->brokers,
                      .client_id = cfg->instance_id,
                      .transactional_id = cfg->transactional_id,
                      .producers = cfg->txn_producers,
                      .txn_timeout_ms = cfg->txn_timeout_ms,
                      .kafka_timeout_ms = cfg->kafka_timeout_ms,
                      .topics = out_topics,
                      .log = log};
    p->txns = ptxn_ring_new(&tc, err, err_size);
    if (!p->txns) {
        ppipe_free(p);
        return NULL;
    }
    const char *topics[] = {cfg->ops_topic, NULL};
    /* Small fetch waits: the merge loop closes a batch as soon as nothing more
     * is fetched, so a fetch that waits for data adds to every op's latency. */
    const char *consumer_config[] = {"fetch.wait.max.ms",
                                     "5",
                                     "session.timeout.ms",
                                     "10000",
                                     "heartbeat.interval.ms",
                                     "1000",
                                     NULL};
    ckafka_consumer_opts co = {.brokers = cfg->brokers,
                               .group_id = cfg->group_id,
                               .client_id = cfg->instance_id,
                               .log = log,
                               .topics = topics,
                               .on_assigned = on_assigned,
                               .on_revoked = on_revoked,
                               .rebalance_userdata = p,
                               .extra_config = consumer_config};
    p->consumer = ckafka_consumer_new(&co, err, err_size);
    if (!p->consumer) {
        ppipe_free(p);
        return NULL;
    }
    return p;
}

void ppipe_free(ppipe *p)
{
    if (!p)
        return;
    batch_reset(p);
    ckafka_consumer_free(p->consumer);
    ptxn_ring_free(p->txns);
    pdoc_table_free(p->docs);
    free(p->pending);
    free(p->touched);
    free(p->parts);
    free(p->evicted);
    free(p->gathered);
    free(p);
}

bool ppipe_ready(void *userdata)
{
    ppipe *p = userdata;
    return atomic_load(&p->ready);
}

static void rewrite_lost_views(pdoc *d, void *userdata)
{
    if (d->views_lost)
        push_state_view(userdata, d);
}

static void maintenance(ppipe *p)
{
    int64_t now = util_now_ms();
    if (now - p->last_maintenance_ms < 1000)
        return;
    p->last_maintenance_ms = now;
    rd_kafka_t *rk = ckafka_consumer_handle(p->consumer);
    rd_kafka_topic_partition_list_t *pos = ckafka_consumer_positions(p->consumer);
    for (int i = 0; pos && i < pos->cnt; i++) {
        int64_t low, high;
        if (rd_kafka_get_watermark_offsets(rk, p->cfg.ops_topic, pos->elems[i].partition, &low,
                                           &high) != RD_KAFKA_RESP_ERR_NO_ERROR)
            continue;
        part_state *ps = part_get(p, pos->elems[i].partition);
        int64_t at = pos->elems[i].offset >= 0 ? pos->elems[i].offset : low;
        if (ps)
            metrics_gauge_set(ps->lag, (double)(high > at ? high - at : 0));
    }
    if (pos)
        rd_kafka_topic_partition_list_destroy(pos);
    make_room(p);
    /* Documents whose view jobs were dropped get their whole state queued
     * again once the writer has room. */
    if (pviews_has_room(p->views))
        pdoc_each(p->docs, rewrite_lost_views, p);
    metrics_gauge_set(p->m.documents, (double)pdoc_table_count(p->docs));
}

/* Loads, in one batch, the documents of the gathered records that are not in
 * memory and were never evicted: they are exactly their latest snapshot. A
 * failure is not an error here: handle() then loads them one by one. */
static void prefetch(ppipe *p, rd_kafka_message_t **msgs, size_t count)
{
    const char **ids = calloc(count, sizeof *ids);
    char **copies = calloc(count, sizeof *copies);
    int32_t *partitions = calloc(count, sizeof *partitions);
    size_t n = 0;
    for (size_t i = 0; ids && copies && partitions && i < count; i++) {
        const rd_kafka_message_t *m = msgs[i];
        if (!m->key || m->key_len == 0 || m->key_len > 1024)
            continue;
        char *id = strndup(m->key, m->key_len);
        if (!id)
            break;
        if (strlen(id) != m->key_len || pdoc_find(p->docs, id) || evicted_has(p, id)) {
            free(id);
            continue;
        }
        copies[n] = id;
        ids[n] = id;
        partitions[n++] = m->partition;
    }
    if (n > 0) {
        for (size_t i = 0; i < n; i++)
            make_room(p);
        char err[512];
        int64_t t0 = util_now_ns();
        if (precover_prefetch(&p->recover, p->docs, ids, partitions, n, err, sizeof err) != 0)
            log_kv(p, CLOG_WARN, "batch load of documents failed", "error", err);
        else
            metrics_histogram_observe_since_ns(p->m.load_seconds, t0);
    }
    for (size_t i = 0; i < n; i++)
        free(copies[i]);
    free(copies);
    free(ids);
    free(partitions);
}

/* Takes what the consumer has (waiting up to 100 ms for the first record when
 * no batch is open), at most `room` records. */
static size_t gather(ppipe *p, size_t room)
{
    size_t n = 0;
    while (n < room) {
        rd_kafka_resp_err_t kerr = RD_KAFKA_RESP_ERR_NO_ERROR;
        int timeout = n == 0 && !p->txn_open ? 100 : 0;
        rd_kafka_message_t *msg = ckafka_consumer_poll(p->consumer, timeout, &kerr);
        if (!msg)
            break;
        p->gathered[n++] = msg;
        if (p->fatal)
            break;
    }
    return n;
}

int ppipe_loop(svc *s, void *userdata)
{
    ppipe *p = userdata;
    p->svc = s;
    atomic_store(&p->ready, true);
    size_t max_ops = (size_t)p->cfg.batch_max_ops;
    p->gathered = calloc(max_ops, sizeof *p->gathered);
    if (!p->gathered)
        fail_fatal(p, "out of memory");
    while (!svc_stopping(s) && !p->fatal) {
        recover_partitions(p);
        size_t room = max_ops > (size_t)p->batch_ops ? max_ops - (size_t)p->batch_ops : 1;
        size_t n = gather(p, room);
        if (n > 0 && !p->fatal)
            prefetch(p, p->gathered, n);
        bool aborted = false;
        for (size_t i = 0; i < n; i++) {
            rd_kafka_message_t *msg = p->gathered[i];
            part_state *ps = part_get(p, msg->partition);
            /* A record of a partition given up while gathering, or being
             * recovered again after an abort, is read again (by its new owner,
             * or here after the rewind). So is everything after an abort. */
            if (!aborted && !p->fatal && ps && ps->assigned && !ps->need_recovery &&
                begin_batch(p) && !handle(p, msg))
                aborted = true;
            rd_kafka_message_destroy(msg);
        }
        if (p->fatal)
            break;
        if (ckafka_consumer_fatal(p->consumer)) {
            fail_fatal(p, "fatal consumer error");
            break;
        }
        if (p->txn_open && (n < room || p->batch_ops >= p->cfg.batch_max_ops ||
                            util_now_ms() - p->batch_start_ms >= p->cfg.batch_max_ms))
            commit_batch(p);
        if (!p->txn_open)
            maintenance(p);
    }
    atomic_store(&p->ready, false);
    if (p->txn_open && !p->fatal)
        commit_batch(p);
    else if (p->txn_open)
        batch_reset(p);
    rd_kafka_resp_err_t kerr = ckafka_consumer_close(p->consumer);
    if (kerr)
        log_kv(p, CLOG_WARN, "consumer close", "error", rd_kafka_err2str(kerr));
    if (!p->fatal) {
        rd_kafka_resp_err_t ferr = ptxn_flush(p->txns, p->cfg.kafka_timeout_ms);
        if (ferr)
            log_kv(p, CLOG_WARN, "producer flush", "error", rd_kafka_err2str(ferr));
    }
    pviews_finish(p->views);
    return p->fatal ? 1 : 0;
}
