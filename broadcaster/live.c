/*
 * live: the live document of a channel, what the y-protocols connections
 * (ysock.c) are synced against. It is built once by a loader job (the
 * newest stored state plus the document's updates in collab.ops after that
 * state's position), then fed with every Yjs update of the document that is
 * durable: the records of collab.ops (the ops feed: any edge's acked
 * writes) and this edge's own writes as their delivery reports come in.
 * Yjs updates commute and are idempotent, so the order between the two
 * sources does not matter and an update seen twice changes nothing: the
 * engine tells new from known, and only new updates go to the sessions.
 * The document never holds anything Kafka has not acknowledged, so what a
 * client is sent (sync step 2, updates) is durable.
 * It also keeps the document's items (newest revision of each) for the
 * Hocuspocus sessions, from the load and from the merged stream.
 * Service thread only; see server_internal.h.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broadcaster/server_internal.h"
#include "common/util.h"
#include "crdt/lib0.h"

/* Updates kept while a document loads; beyond this the load is redone. */
#define WAIT_MAX_BYTES     ((size_t)64 * 1024 * 1024)
#define LOAD_RETRY_BASE_US (200 * LWS_US_PER_MS)
#define LOAD_MAX_FAILURES  5

static void start_load(bcserver *srv, bcchan *ch);

/* ---- the waiting list ---- */

static void wait_clear(bcchan *ch)
{
    bcfeed_record *r = ch->live_wait_head;
    while (r) {
        bcfeed_record *next = r->next;
        bcfeed_record_free(r);
        r = next;
    }
    ch->live_wait_head = ch->live_wait_tail = NULL;
    ch->live_wait_bytes = 0;
    ch->live_wait_overflow = false;
}

/* Takes r (the caller's no more). */
static void wait_push(bcchan *ch, bcfeed_record *r)
{
    if (ch->live_wait_bytes + r->update_len > WAIT_MAX_BYTES) {
        ch->live_wait_overflow = true;
        bcfeed_record_free(r);
        return;
    }
    r->next = NULL;
    if (ch->live_wait_tail)
        ch->live_wait_tail->next = r;
    else
        ch->live_wait_head = r;
    ch->live_wait_tail = r;
    ch->live_wait_bytes += r->update_len;
}

/* ---- cached whole-document answers ---- */

static void drop_full(bcchan *ch)
{
    for (int d = 0; d < 2; d++) {
        bcmsg_unref(ch->live_full[d]);
        ch->live_full[d] = NULL;
    }
}

static bcmsg *sync_message(yproto_dialect dialect, const char *name, bool step2,
                           const uint8_t *update, size_t len)
{
    crdt_buf b;
    crdt_buf_init(&b);
    if (step2)
        yproto_put_sync_step2(&b, dialect == YPROTO_HOCUSPOCUS ? name : NULL, update, len);
    else
        yproto_put_sync_update(&b, dialect == YPROTO_HOCUSPOCUS ? name : NULL, update, len);
    uint8_t *bytes = NULL;
    size_t n = 0;
    if (crdt_buf_take(&b, &bytes, &n) != CRDT_OK)
        return NULL;
    return bcmsg_from_buf(BCMSG_LIVE, 0, 0, bytes, n);
}

/* An encoded state vector with no entry: a new, empty client. */
static bool empty_sv(const uint8_t *sv, size_t len)
{
    return len == 1 && sv[0] == 0;
}

bcmsg *bclive_step2(bcserver *srv, bcchan *ch, yproto_dialect dialect, const uint8_t *sv,
                    size_t sv_len)
{
    (void)srv;
    if (ch->live_state != BCLIVE_READY)
        return NULL;
    /* Newcomers of a busy or large document all ask for the whole of it:
     * encode it once per change, not once per newcomer (a join storm). */
    bool whole = empty_sv(sv, sv_len);
    if (whole && ch->live_full[dialect]) {
        bcmsg_ref(ch->live_full[dialect]);
        return ch->live_full[dialect];
    }
    uint8_t *update = NULL;
    size_t len = 0;
    if (crdt_encode_state(ch->live, whole ? NULL : sv, whole ? 0 : sv_len, &update, &len) !=
        CRDT_OK)
        return NULL;
    bcmsg *m = sync_message(dialect, ch->doc_id, true, update, len);
    free(update);
    if (m && whole) {
        bcmsg_ref(m);
        ch->live_full[dialect] = m;
    }
    return m;
}

/* ---- items ---- */

static bcitem *item_find(bcchan *ch, const char *item_id)
{
    for (size_t i = 0; i < ch->item_count; i++)
        if (strcmp(ch->items[i].item_id, item_id) == 0)
            return &ch->items[i];
    return NULL;
}

/* Keeps json as the state of item_id when revision is newer than what is
 * kept. 0, or -1 when out of memory. */
static int item_put(bcchan *ch, const char *item_id, int64_t revision, const char *json)
{
    bcitem *it = item_find(ch, item_id);
    if (it && it->revision >= revision)
        return 0;
    char *copy = strdup(json);
    if (!copy)
        return -1;
    if (it) {
        free(it->json);
        it->json = copy;
        it->revision = revision;
        return 0;
    }
    if (ch->item_count == ch->item_cap) {
        size_t cap = ch->item_cap ? ch->item_cap * 2 : 8;
        bcitem *items = realloc(ch->items, cap * sizeof *items);
        if (!items) {
            free(copy);
            return -1;
        }
        ch->items = items;
        ch->item_cap = cap;
    }
    it = &ch->items[ch->item_count];
    it->item_id = strdup(item_id);
    if (!it->item_id) {
        free(copy);
        return -1;
    }
    it->json = copy;
    it->revision = revision;
    ch->item_count++;
    return 0;
}

static void items_clear(bcchan *ch)
{
    for (size_t i = 0; i < ch->item_count; i++) {
        free(ch->items[i].item_id);
        free(ch->items[i].json);
    }
    free(ch->items);
    ch->items = NULL;
    ch->item_count = ch->item_cap = 0;
}

void bclive_item_record(bcserver *srv, bcchan *ch, const bcmsg *item)
{
    /* ITEM: varUint type, varUint version, varString op id, varUint ingest
     * time, varString item JSON (common/ws_frame.h). */
    crdt_rd rd;
    crdt_rd_init(&rd, bcmsg_payload((bcmsg *)item), item->len);
    (void)crdt_rd_varuint(&rd);
    uint64_t version = crdt_rd_varuint(&rd);
    size_t op_len = 0, json_len = 0;
    const char *op_id = crdt_rd_varstring(&rd, &op_len);
    (void)crdt_rd_varuint(&rd);
    const char *json = crdt_rd_varstring(&rd, &json_len);
    if (!crdt_rd_ok(&rd))
        return;
    json_t *state = json_loadb(json, json_len, 0, NULL);
    const char *item_id = json_string_value(json_object_get(state, "item_id"));
    json_t *revision = json_object_get(state, "revision");
    if (item_id && json_is_integer(revision)) {
        char *text = json_dumps(state, JSON_COMPACT);
        if (text && item_put(ch, item_id, json_integer_value(revision), text) == 0)
            bcy_send_item(srv, ch, state, version, op_id, op_len);
        free(text);
    }
    json_decref(state);
}

/* ---- applying updates ---- */

static void forget(bcserver *srv, bcchan *ch)
{
    if (ch->live_state == BCLIVE_READY)
        srv->live_documents--;
    crdt_doc_free(ch->live);
    ch->live = NULL;
    drop_full(ch);
    wait_clear(ch);
    ch->live_state = BCLIVE_NONE;
    metrics_gauge_set(srv->deps.metrics->live_documents, (double)srv->live_documents);
}

int bclive_apply(bcserver *srv, bcchan *ch, const uint8_t *update, size_t len, int64_t ingest_us)
{
    bcmetrics *m = srv->deps.metrics;
    if (ch->live_state != BCLIVE_READY)
        return 0;
    crdt_apply_result res = CRDT_DUPLICATE;
    crdt_status cs = crdt_apply_update(ch->live, update, len, &res);
    if (cs != CRDT_OK) {
        /* The log holds only updates an edge validated, so this is a
         * limit or no memory; after CRDT_ERR_NOMEM the document is lost.
         * Either way: rebuild it from the views and the log. */
        metrics_counter_inc(m->live_records[BCLIVE_REC_REFUSED]);
        clog_field f[] = {clog_str("doc_id", ch->doc_id), clog_str("error", crdt_strerror(cs))};
        clog_emit(srv->deps.log, CLOG_WARN, "live document refused an update; reloading it", f, 2);
        forget(srv, ch);
        bclive_want(srv, ch);
        return -1;
    }
    if (res == CRDT_DUPLICATE) {
        metrics_counter_inc(m->live_records[BCLIVE_REC_DUPLICATE]);
        return (int)res;
    }
    metrics_counter_inc(m->live_records[BCLIVE_REC_APPLIED]);
    drop_full(ch);
    if (ingest_us > 0) {
        int64_t now_us = util_wall_ns() / 1000;
        if (now_us >= ingest_us)
            metrics_histogram_observe(m->live_latency, (double)(now_us - ingest_us) / 1e6);
    }
    bcmsg *msgs[2] = {NULL, NULL};
    for (bcysess *s = ch->ysess; s; s = s->ch_next) {
        yproto_dialect d = s->sock->dialect;
        if (!msgs[d] && !(msgs[d] = sync_message(d, ch->doc_id, false, update, len)))
            continue;
        bcy_send(srv, s->sock, msgs[d]);
    }
    bcmsg_unref(msgs[0]);
    bcmsg_unref(msgs[1]);
    return (int)res;
}

void bclive_take_records(bcserver *srv)
{
    if (!srv->opsfeed)
        return;
    bcmetrics *m = srv->deps.metrics;
    bcfeed_record *r = bcfeed_take(srv->opsfeed);
    while (r) {
        bcfeed_record *next = r->next;
        bcchan *ch = cmap_get(srv->chans, r->doc_id);
        if (!ch || ch->live_state == BCLIVE_NONE) {
            metrics_counter_inc(m->live_records[BCLIVE_REC_IGNORED]);
            bcfeed_record_free(r);
        } else if (ch->live_state == BCLIVE_LOADING) {
            metrics_counter_inc(m->live_records[BCLIVE_REC_WAITED]);
            wait_push(ch, r);
        } else {
            (void)bclive_apply(srv, ch, r->update, r->update_len, r->ingest_us);
            bcfeed_record_free(r);
        }
        r = next;
    }
}

/* Keeps an update of this edge's for a document still loading (the load
 * may have read the log before Kafka had it). */
void bclive_wait(bcserver *srv, bcchan *ch, const uint8_t *update, size_t len)
{
    (void)srv;
    bcfeed_record *r = calloc(1, sizeof *r);
    if (!r || !(r->update = malloc(len ? len : 1))) {
        free(r);
        ch->live_wait_overflow = true; /* reload: the log has it by now */
        return;
    }
    memcpy(r->update, update, len);
    r->update_len = len;
    wait_push(ch, r);
}

/* ---- loading ---- */

static void load_retry(lws_sorted_usec_list_t *sul)
{
    bcchan *ch = lws_container_of(sul, bcchan, live_retry);
    if (ch->live_state == BCLIVE_LOADING)
        start_load(ch->srv, ch);
}

static void start_load(bcserver *srv, bcchan *ch)
{
    bcload_job *job = bcload_job_new(BCLOAD_LIVE, ch->doc_id, ch);
    if (!job) {
        forget(srv, ch);
        bcy_live_failed(srv, ch);
        return;
    }
    /* The partition the producers' default partitioner (consistent_random:
     * CRC32 of the key) gives the document. */
    size_t key_len = strlen(ch->doc_id);
    job->partition = rd_kafka_msg_partitioner_consistent_random(
        NULL, ch->doc_id, key_len, bcfeed_partitions(srv->opsfeed), NULL, NULL);
    ch->live_loading_job = true;
    bcload_submit(srv->loader, job);
}

void bclive_want(bcserver *srv, bcchan *ch)
{
    if (ch->live_state != BCLIVE_NONE)
        return;
    if (!srv->opsfeed || !srv->loader) {
        bcy_live_failed(srv, ch);
        return;
    }
    ch->live_state = BCLIVE_LOADING;
    start_load(srv, ch);
}

void bclive_loaded(bcserver *srv, bcload_job *job)
{
    bcchan *ch = job->owner;
    bcmetrics *m = srv->deps.metrics;
    ch->live_loading_job = false;
    if (ch->nysess == 0) {
        forget(srv, ch);
        bcchan_maybe_free(srv, ch);
        return;
    }
    if (job->status != BCLOAD_OK || ch->live_wait_overflow) {
        metrics_counter_inc(m->live_loads_failed);
        clog_field f[] = {clog_str("doc_id", ch->doc_id),
                          clog_str("error", job->status != BCLOAD_OK
                                                ? job->err
                                                : "too many updates arrived while loading")};
        clog_emit(srv->deps.log, CLOG_WARN, "cannot load a live document", f, 2);
        wait_clear(ch);
        if (++ch->live_failures >= LOAD_MAX_FAILURES) {
            ch->live_failures = 0;
            forget(srv, ch);
            bcy_live_failed(srv, ch);
            return;
        }
        lws_sul_schedule(wsserver_context(srv->ws), 0, &ch->live_retry, load_retry,
                         LOAD_RETRY_BASE_US * ch->live_failures);
        return;
    }
    metrics_counter_inc(m->live_loads_ok);
    metrics_histogram_observe(m->live_load_seconds, (double)job->elapsed_ns / 1e9);
    metrics_counter_add(m->live_log_records, job->live_log_records);
    ch->live_failures = 0;
    ch->live = job->live;
    job->live = NULL;
    ch->live_state = BCLIVE_READY;
    srv->live_documents++;
    metrics_gauge_set(m->live_documents, (double)srv->live_documents);
    for (size_t i = 0; i < job->live_item_count; i++)
        (void)item_put(ch, job->live_items[i].item_id, job->live_items[i].revision,
                       job->live_items[i].json);
    if (job->presence) {
        crdt_rd rd;
        crdt_rd_init(&rd, bcmsg_payload(job->presence), job->presence->len);
        (void)crdt_rd_varuint(&rd);
        size_t ulen = 0;
        const uint8_t *update = crdt_rd_varbytes(&rd, &ulen);
        if (crdt_rd_ok(&rd))
            bcroster_apply(ch->roster, update, ulen, util_now_ms());
    }
    /* What came while loading: already in the loaded document when the log
     * read saw it, which changes nothing. */
    bcfeed_record *r = ch->live_wait_head;
    ch->live_wait_head = ch->live_wait_tail = NULL;
    ch->live_wait_bytes = 0;
    while (r && ch->live_state == BCLIVE_READY) {
        bcfeed_record *next = r->next;
        crdt_status cs = crdt_apply_update(ch->live, r->update, r->update_len, NULL);
        bcfeed_record_free(r);
        r = next;
        if (cs != CRDT_OK) {
            forget(srv, ch);
            bclive_want(srv, ch);
        }
    }
    while (r) {
        bcfeed_record *next = r->next;
        bcfeed_record_free(r);
        r = next;
    }
    if (ch->live_state == BCLIVE_READY)
        bcy_live_ready(srv, ch);
}

void bclive_clear(bcserver *srv, bcchan *ch)
{
    lws_sul_cancel(&ch->live_retry);
    forget(srv, ch);
    items_clear(ch);
}
