/*
 * views: a mutex-protected FIFO of jobs and one writer thread that writes
 * them in rounds: the newest state of each document to Redis, the round's
 * crdt_operations rows in unordered batches, the items, and at most
 * DOCUMENTS_PER_ROUND MongoDB documents rows (the rest are owed, coalesced,
 * and written in later rounds, also rounds without jobs). A failed round is
 * kept whole and retried after a backoff. See views.h.
 */
#include "processor/views.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/util.h"
#include "processor/items_json.h"

typedef enum job_kind { JOB_OP, JOB_STATE, JOB_ITEM } job_kind;

typedef struct job {
    job_kind kind;
    uint64_t seq;
    struct job *next;
    size_t bytes;
    char *doc_id;
    int64_t version;
    /* JOB_OP */
    char *op_id, *op_kind, *user_id;
    int64_t client_id, ingest_time_us, processed_time_us, offset;
    int32_t partition;
    /* JOB_OP payload, JOB_STATE state, JOB_ITEM value */
    uint8_t *data;
    size_t len;
    /* JOB_STATE */
    uint8_t *sv;
    size_t sv_len;
    /* JOB_ITEM */
    char *item_id, *json;
    int64_t revision;
    bool conflict;
    bool has_value;
} job;

/* A document whose MongoDB documents row is behind its newest state. */
typedef struct pending_doc {
    char *doc_id;
    int64_t version;
    uint8_t *sv;
    size_t sv_len;
    int64_t due_ms; /* when it fell behind plus the documents interval: oldest first */
} pending_doc;

struct pviews {
    docstore *ds;
    clog *log;
    size_t max_bytes;
    int64_t drain_ms;
    int64_t documents_interval_ms;
    pthread_mutex_t lock;
    pthread_cond_t cond;      /* signalled on push and wake */
    pthread_cond_t idle_cond; /* signalled when a round finished */
    /* Two FIFOs: lane 0 the newest states and items (few, coalesced, what
     * readers load), lane 1 the crdt_operations audit trail (one per op). A
     * round takes all of lane 0 and a bounded slice of lane 1, so the states
     * stay fresh even while the audit trail is far behind. */
    job *head[2], *tail[2];
    size_t queued_bytes, queued_jobs, in_flight_jobs;
    size_t queued_op_bytes; /* lane 1's share of queued_bytes */
    /* MongoDB documents rows not written yet: the newest state of each
     * document (writer thread only), sorted by doc id; their count is
     * mirrored under the lock for pviews_pending. */
    pending_doc *docs;
    size_t doc_count, doc_cap;
    size_t docs_waiting;
    bool woken;
    bool input_closed; /* pviews_finish: nothing more will be pushed */
    uint64_t next_seq;
    _Atomic uint64_t written_seq;
    metrics_histogram *mongo_seconds, *redis_seconds, *round_seconds;
    metrics_counter *written_ops, *dropped, *failures;
    metrics_gauge *queue_bytes, *queue_jobs, *documents_pending;
};

static void job_free(job *j)
{
    free(j->doc_id);
    free(j->op_id);
    free(j->op_kind);
    free(j->user_id);
    free(j->data);
    free(j->sv);
    free(j->item_id);
    free(j->json);
    free(j);
}

pviews *pviews_new(docstore *ds, size_t max_bytes, metrics_registry *reg, clog *log)
{
    pviews *v = calloc(1, sizeof *v);
    if (!v)
        return NULL;
    v->ds = ds;
    v->log = log;
    v->max_bytes = max_bytes;
    v->drain_ms = 10000;
    v->documents_interval_ms = 1000;
    pthread_mutex_init(&v->lock, NULL);
    pthread_cond_init(&v->cond, NULL);
    pthread_cond_init(&v->idle_cond, NULL);
    metrics_family *fam = NULL;
    const char *labels[] = {"store"};
    if (metrics_family_new(reg, METRICS_HISTOGRAM, "processor_view_write_seconds",
                           "Time of one view write to MongoDB or Redis (a batch or one document)",
                           labels, 1, metrics_latency_buckets, METRICS_LATENCY_BUCKET_COUNT,
                           &fam) != METRICS_OK ||
        !(v->mongo_seconds = metrics_family_histogram(fam, (const char *[]){"mongodb"})) ||
        !(v->redis_seconds = metrics_family_histogram(fam, (const char *[]){"redis"})) ||
        metrics_histogram_new(reg, "processor_view_round_seconds",
                              "Time of one writer round (every queued job)",
                              metrics_latency_buckets, METRICS_LATENCY_BUCKET_COUNT,
                              &v->round_seconds) != METRICS_OK ||
        metrics_counter_new(reg, "processor_view_ops_written_total",
                            "Merged ops written to crdt_operations",
                            &v->written_ops) != METRICS_OK ||
        metrics_counter_new(reg, "processor_view_jobs_dropped_total",
                            "View jobs refused because the queue was full",
                            &v->dropped) != METRICS_OK ||
        metrics_counter_new(reg, "processor_view_write_failures_total",
                            "Writer rounds that failed and will be retried",
                            &v->failures) != METRICS_OK ||
        metrics_gauge_new(reg, "processor_view_queue_bytes", "Bytes waiting for the view writer",
                          &v->queue_bytes) != METRICS_OK ||
        metrics_gauge_new(reg, "processor_view_queue_jobs", "Jobs waiting for the view writer",
                          &v->queue_jobs) != METRICS_OK ||
        metrics_gauge_new(reg, "processor_view_documents_pending",
                          "Documents whose MongoDB documents row is behind their newest state",
                          &v->documents_pending) != METRICS_OK) {
        pviews_free(v);
        return NULL;
    }
    return v;
}

void pviews_free(pviews *v)
{
    if (!v)
        return;
    for (int lane = 0; lane < 2; lane++) {
        job *j = v->head[lane];
        while (j) {
            job *next = j->next;
            job_free(j);
            j = next;
        }
    }
    for (size_t i = 0; i < v->doc_count; i++) {
        free(v->docs[i].doc_id);
        free(v->docs[i].sv);
    }
    free(v->docs);
    pthread_mutex_destroy(&v->lock);
    pthread_cond_destroy(&v->cond);
    pthread_cond_destroy(&v->idle_cond);
    free(v);
}

void pviews_set_drain_ms(pviews *v, int64_t drain_ms)
{
    v->drain_ms = drain_ms;
}

void pviews_set_documents_interval_ms(pviews *v, int64_t interval_ms)
{
    v->documents_interval_ms = interval_ms;
}

static uint64_t push(pviews *v, job *j)
{
    pthread_mutex_lock(&v->lock);
    /* The audit trail may fill three quarters of the queue: the rest stays
     * for the states, which readers need first and which coalesce. */
    bool is_op = j->kind == JOB_OP;
    if (v->queued_bytes + j->bytes > v->max_bytes ||
        (is_op && v->queued_op_bytes + j->bytes > v->max_bytes / 4 * 3)) {
        pthread_mutex_unlock(&v->lock);
        metrics_counter_inc(v->dropped);
        job_free(j);
        return 0;
    }
    j->seq = ++v->next_seq;
    uint64_t seq = j->seq;
    int lane = j->kind == JOB_OP ? 1 : 0;
    if (v->tail[lane])
        v->tail[lane]->next = j;
    else
        v->head[lane] = j;
    v->tail[lane] = j;
    v->queued_bytes += j->bytes;
    if (is_op)
        v->queued_op_bytes += j->bytes;
    v->queued_jobs++;
    metrics_gauge_set(v->queue_bytes, (double)v->queued_bytes);
    metrics_gauge_set(v->queue_jobs, (double)v->queued_jobs);
    pthread_cond_signal(&v->cond);
    pthread_mutex_unlock(&v->lock);
    return seq;
}

uint64_t pviews_written_seq(pviews *v)
{
    return atomic_load(&v->written_seq);
}

static char *dup_str(const char *s, bool *ok)
{
    char *copy = strdup(s ? s : "");
    if (!copy)
        *ok = false;
    return copy;
}

static uint8_t *dup_mem(const void *data, size_t len, bool *ok)
{
    uint8_t *copy = malloc(len ? len : 1);
    if (!copy)
        *ok = false;
    else if (len)
        memcpy(copy, data, len);
    return copy;
}

uint64_t pviews_push_op(pviews *v, const docstore_op *op)
{
    job *j = calloc(1, sizeof *j);
    if (!j)
        return 0;
    bool ok = true;
    j->kind = JOB_OP;
    j->doc_id = dup_str(op->doc_id, &ok);
    j->op_id = dup_str(op->op_id, &ok);
    j->op_kind = dup_str(op->kind, &ok);
    j->user_id = dup_str(op->user_id, &ok);
    j->version = op->version;
    j->client_id = op->client_id;
    j->ingest_time_us = op->ingest_time_us;
    j->processed_time_us = op->processed_time_us;
    j->partition = op->partition;
    j->offset = op->offset;
    j->data = dup_mem(op->bytes, op->len, &ok);
    j->len = op->len;
    j->bytes = sizeof *j + op->len + 128;
    if (!ok) {
        job_free(j);
        return 0;
    }
    return push(v, j);
}

uint64_t pviews_push_state(pviews *v, const char *doc_id, int64_t version, docstore_position pos,
                           const uint8_t *state, size_t state_len, const uint8_t *sv, size_t sv_len)
{
    job *j = calloc(1, sizeof *j);
    if (!j)
        return 0;
    bool ok = true;
    j->kind = JOB_STATE;
    j->doc_id = dup_str(doc_id, &ok);
    j->version = version;
    j->partition = pos.partition;
    j->offset = pos.offset;
    j->data = dup_mem(state, state_len, &ok);
    j->len = state_len;
    j->sv = dup_mem(sv, sv_len, &ok);
    j->sv_len = sv_len;
    j->bytes = sizeof *j + state_len + sv_len;
    if (!ok) {
        job_free(j);
        return 0;
    }
    return push(v, j);
}

uint64_t pviews_push_item(pviews *v, const docstore_item *item)
{
    job *j = calloc(1, sizeof *j);
    if (!j)
        return 0;
    bool ok = true;
    j->kind = JOB_ITEM;
    j->doc_id = dup_str(item->doc_id, &ok);
    j->item_id = dup_str(item->item_id, &ok);
    j->json = dup_str(item->state_json, &ok);
    j->revision = item->revision;
    j->version = item->version;
    j->conflict = item->conflict;
    j->has_value = item->value != NULL;
    if (item->value)
        j->data = dup_mem(item->value, item->value_len, &ok);
    j->len = item->value_len;
    j->bytes = sizeof *j + item->value_len + strlen(item->state_json);
    if (!ok) {
        job_free(j);
        return 0;
    }
    return push(v, j);
}

bool pviews_has_room(pviews *v)
{
    pthread_mutex_lock(&v->lock);
    bool room = v->queued_bytes - v->queued_op_bytes < v->max_bytes / 8;
    pthread_mutex_unlock(&v->lock);
    return room;
}

size_t pviews_pending(pviews *v)
{
    pthread_mutex_lock(&v->lock);
    size_t n = v->queued_jobs + v->in_flight_jobs + v->docs_waiting;
    pthread_mutex_unlock(&v->lock);
    return n;
}

static void deadline_after(struct timespec *ts, int64_t ms)
{
    clock_gettime(CLOCK_REALTIME, ts);
    ts->tv_sec += (time_t)(ms / 1000);
    ts->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

bool pviews_wait_idle(pviews *v, int64_t timeout_ms)
{
    int64_t deadline = util_now_ms() + timeout_ms;
    pthread_mutex_lock(&v->lock);
    while (v->queued_jobs + v->in_flight_jobs + v->docs_waiting > 0 && util_now_ms() < deadline) {
        struct timespec ts;
        deadline_after(&ts, 100);
        pthread_cond_timedwait(&v->idle_cond, &v->lock, &ts);
    }
    bool idle = v->queued_jobs + v->in_flight_jobs + v->docs_waiting == 0;
    pthread_mutex_unlock(&v->lock);
    return idle;
}

void pviews_wake(void *userdata)
{
    pviews *v = userdata;
    pthread_mutex_lock(&v->lock);
    pthread_cond_broadcast(&v->cond);
    pthread_mutex_unlock(&v->lock);
}

void pviews_finish(pviews *v)
{
    pthread_mutex_lock(&v->lock);
    v->input_closed = true;
    v->woken = true;
    pthread_cond_broadcast(&v->cond);
    pthread_mutex_unlock(&v->lock);
}

/* Newest state job per document first: qsort order (doc id, version desc). */
static int state_cmp(const void *a, const void *b)
{
    const job *x = *(const job *const *)a, *y = *(const job *const *)b;
    int c = strcmp(x->doc_id, y->doc_id);
    if (c)
        return c;
    return x->version < y->version ? 1 : x->version > y->version ? -1 : 0;
}

/* MongoDB documents rows per round at most. A conditional upsert costs FerretDB
 * (v1.24, SQLite) a scan of the collection, about 25 ms with 1,000 documents
 * (bench/processor: processor_bench views), where inserting a row costs about
 * 0.15 ms: writing every touched document each round held the audit trail
 * and the items behind seconds of upserts. The rest wait for later rounds,
 * oldest first, coalesced to their newest state meanwhile; Redis doc:{doc},
 * which readers load, is still written every round.
 *
 * A row is also written no sooner than the documents interval after its
 * document fell behind: a document edited without pause would otherwise be
 * upserted every round, back to back, and the writer kept the database busy
 * (about half a core of FerretDB at 2,000 ops/s on 50 documents, taken from
 * the live path on a shared machine) for a row that only carries the
 * version and state vector. */
#define DOCUMENTS_PER_ROUND 100

static int pending_cmp(const void *a, const void *b)
{
    return strcmp(((const pending_doc *)a)->doc_id, ((const pending_doc *)b)->doc_id);
}

/* Records the newest state of each document of a round (versions: sorted by
 * doc id, one per document) as owed to MongoDB documents. false when out of
 * memory (nothing half-recorded matters: the round is retried). */
static bool note_pending_docs(pviews *v, const docstore_doc_version *versions, size_t count)
{
    size_t old_count = v->doc_count;
    int64_t now_ms = util_now_ms();
    for (size_t i = 0; i < count; i++) {
        pending_doc key = {.doc_id = (char *)versions[i].doc_id};
        pending_doc *have =
            old_count ? bsearch(&key, v->docs, old_count, sizeof *v->docs, pending_cmp) : NULL;
        if (have && have->version >= versions[i].version)
            continue;
        uint8_t *sv = malloc(versions[i].sv_len ? versions[i].sv_len : 1);
        if (!sv)
            return false;
        if (versions[i].sv_len)
            memcpy(sv, versions[i].sv, versions[i].sv_len);
        if (have) {
            free(have->sv);
            have->sv = sv;
            have->sv_len = versions[i].sv_len;
            have->version = versions[i].version;
            continue;
        }
        if (v->doc_count == v->doc_cap) {
            size_t cap = v->doc_cap ? v->doc_cap * 2 : 64;
            pending_doc *grown = realloc(v->docs, cap * sizeof *grown);
            if (!grown) {
                free(sv);
                return false;
            }
            v->docs = grown;
            v->doc_cap = cap;
        }
        char *id = strdup(versions[i].doc_id);
        if (!id) {
            free(sv);
            return false;
        }
        v->docs[v->doc_count++] = (pending_doc){.doc_id = id,
                                                .version = versions[i].version,
                                                .sv = sv,
                                                .sv_len = versions[i].sv_len,
                                                .due_ms = now_ms + v->documents_interval_ms};
    }
    if (v->doc_count != old_count)
        qsort(v->docs, v->doc_count, sizeof *v->docs, pending_cmp);
    return true;
}

static int due_cmp(const void *a, const void *b)
{
    const pending_doc *x = *(const pending_doc *const *)a, *y = *(const pending_doc *const *)b;
    if (x->due_ms != y->due_ms)
        return x->due_ms < y->due_ms ? -1 : 1;
    return strcmp(x->doc_id, y->doc_id);
}

/* The earliest due time of the documents rows owed (INT64_MAX: none owed).
 * Writer thread only. */
static int64_t next_document_due(const pviews *v)
{
    int64_t due = INT64_MAX;
    for (size_t i = 0; i < v->doc_count; i++) {
        if (v->docs[i].due_ms < due)
            due = v->docs[i].due_ms;
    }
    return due;
}

/* Writes up to DOCUMENTS_PER_ROUND of the documents rows owed and due (all
 * owed once the input is closed: the drain does not wait out the interval),
 * oldest first, and forgets those written. */
static docstore_status write_pending_docs(pviews *v, bool draining, char *err, size_t n)
{
    if (v->doc_count == 0)
        return DOCSTORE_OK;
    int64_t now_ms = util_now_ms();
    pending_doc **order = calloc(v->doc_count, sizeof *order);
    if (!order) {
        snprintf(err, n, "out of memory");
        return DOCSTORE_FAILED;
    }
    size_t due = 0;
    for (size_t i = 0; i < v->doc_count; i++) {
        if (draining || v->docs[i].due_ms <= now_ms)
            order[due++] = &v->docs[i];
    }
    if (due == 0) {
        free(order);
        return DOCSTORE_OK;
    }
    size_t take = due < DOCUMENTS_PER_ROUND ? due : DOCUMENTS_PER_ROUND;
    docstore_doc_version *batch = calloc(take, sizeof *batch);
    if (!batch) {
        free(order);
        snprintf(err, n, "out of memory");
        return DOCSTORE_FAILED;
    }
    if (take < due)
        qsort(order, due, sizeof *order, due_cmp);
    for (size_t i = 0; i < take; i++)
        batch[i] = (docstore_doc_version){.doc_id = order[i]->doc_id,
                                          .version = order[i]->version,
                                          .sv = order[i]->sv,
                                          .sv_len = order[i]->sv_len};
    int64_t t0 = util_now_ns();
    docstore_status st = docstore_put_documents(v->ds, batch, take, err, n);
    metrics_histogram_observe_since_ns(v->mongo_seconds, t0);
    if (st == DOCSTORE_OK) {
        for (size_t i = 0; i < take; i++) {
            free(order[i]->doc_id);
            free(order[i]->sv);
            order[i]->doc_id = NULL;
        }
        size_t kept = 0;
        for (size_t i = 0; i < v->doc_count; i++) {
            if (v->docs[i].doc_id)
                v->docs[kept++] = v->docs[i];
        }
        v->doc_count = kept;
    }
    free(order);
    free(batch);
    return st;
}

/* Writes one round. Returns DOCSTORE_OK, or the first failure (the caller
 * keeps the whole round and retries it: every write is idempotent). */
static docstore_status write_round(pviews *v, job *round, size_t count, bool draining, char *err,
                                   size_t n)
{
    docstore_op *ops = calloc(count, sizeof *ops);
    job **states = calloc(count, sizeof *states);
    if (!ops || !states) {
        free(ops);
        free(states);
        snprintf(err, n, "out of memory");
        return DOCSTORE_FAILED;
    }
    size_t op_count = 0, state_count = 0;
    docstore_status st = DOCSTORE_OK;
    for (job *j = round; j; j = j->next) {
        if (j->kind == JOB_OP) {
            ops[op_count++] = (docstore_op){.doc_id = j->doc_id,
                                            .op_id = j->op_id,
                                            .version = j->version,
                                            .kind = j->op_kind,
                                            .user_id = j->user_id,
                                            .client_id = j->client_id,
                                            .ingest_time_us = j->ingest_time_us,
                                            .processed_time_us = j->processed_time_us,
                                            .partition = j->partition,
                                            .offset = j->offset,
                                            .bytes = j->data,
                                            .len = j->len};
        } else if (j->kind == JOB_STATE) {
            states[state_count++] = j;
        }
    }
    qsort(states, state_count, sizeof *states, state_cmp);
    /* The newest state of each document: Redis first (what readers load
     * first, and fast), then the audit trail, then MongoDB documents in bulk. */
    docstore_doc_version *versions = calloc(state_count ? state_count : 1, sizeof *versions);
    size_t newest = 0;
    for (size_t i = 0; versions && i < state_count; i++) {
        if (i > 0 && strcmp(states[i - 1]->doc_id, states[i]->doc_id) == 0)
            continue; /* an older state of the same document */
        states[newest] = states[i];
        versions[newest++] = (docstore_doc_version){.doc_id = states[i]->doc_id,
                                                    .version = states[i]->version,
                                                    .sv = states[i]->sv,
                                                    .sv_len = states[i]->sv_len};
    }
    if (!versions && state_count > 0) {
        snprintf(err, n, "out of memory");
        st = DOCSTORE_FAILED;
    }
    for (size_t i = 0; st == DOCSTORE_OK && i < newest; i++) {
        job *j = states[i];
        int64_t t0 = util_now_ns();
        docstore_position pos = {.partition = j->partition, .offset = j->offset};
        st = docstore_cache_state(v->ds, j->doc_id, j->version, j->data, j->len, j->sv, j->sv_len,
                                  pos, err, n);
        metrics_histogram_observe_since_ns(v->redis_seconds, t0);
    }
    /* The audit trail before the documents: one insert of 500 rows costs
     * about as much as a few conditional upserts on FerretDB, so the rows
     * are not held behind a thousand upserts. Bounded batches keep each
     * insert under MongoDB's message size. */
    for (size_t i = 0; st == DOCSTORE_OK && i < op_count; i += 500) {
        size_t chunk = op_count - i < 500 ? op_count - i : 500;
        int64_t t0 = util_now_ns();
        st = docstore_insert_ops(v->ds, ops + i, chunk, err, n);
        metrics_histogram_observe_since_ns(v->mongo_seconds, t0);
        if (st == DOCSTORE_OK)
            metrics_counter_add(v->written_ops, chunk);
    }
    if (st == DOCSTORE_OK && !note_pending_docs(v, versions, newest)) {
        snprintf(err, n, "out of memory");
        st = DOCSTORE_FAILED;
    }
    free(versions);
    for (job *j = round; st == DOCSTORE_OK && j; j = j->next) {
        if (j->kind != JOB_ITEM)
            continue;
        docstore_item item = {.doc_id = j->doc_id,
                              .item_id = j->item_id,
                              .revision = j->revision,
                              .version = j->version,
                              .conflict = j->conflict,
                              .state_json = j->json,
                              .value = j->has_value ? j->data : NULL,
                              .value_len = j->len};
        int64_t t0 = util_now_ns();
        st = docstore_put_item(v->ds, &item, err, n);
        metrics_histogram_observe_since_ns(v->mongo_seconds, t0);
    }
    if (st == DOCSTORE_OK)
        st = write_pending_docs(v, draining, err, n);
    free(ops);
    free(states);
    return st;
}

/* Jobs of the audit-trail lane per round: bounds how long the states that
 * queue behind them wait (25,000 rows are 3 to 5 s of inserts on FerretDB,
 * 5,000 to 10,000 rows/s in processor_bench views). It was 5,000, when every
 * round also upserted each touched document: see DOCUMENTS_PER_ROUND. */
#define OPS_PER_ROUND 25000

/* Takes a round under the lock: every state/item job, then up to
 * OPS_PER_ROUND op jobs, as one list. NULL when nothing is queued. */
static job *take_round(pviews *v, size_t *jobs, size_t *bytes)
{
    job *round = v->head[0], *last = v->tail[0];
    size_t n = 0, b = 0;
    for (job *j = v->head[0]; j; j = j->next) {
        n++;
        b += j->bytes;
    }
    v->head[0] = v->tail[0] = NULL;
    job *ops = v->head[1], *ops_last = NULL;
    size_t taken = 0;
    size_t op_bytes = 0;
    for (job *j = ops; j && taken < OPS_PER_ROUND; j = j->next) {
        ops_last = j;
        taken++;
        n++;
        b += j->bytes;
        op_bytes += j->bytes;
    }
    v->queued_op_bytes -= op_bytes;
    if (ops_last) {
        v->head[1] = ops_last->next;
        if (!v->head[1])
            v->tail[1] = NULL;
        ops_last->next = NULL;
        if (last)
            last->next = ops;
        else
            round = ops;
    }
    v->queued_jobs -= n;
    v->queued_bytes -= b;
    v->in_flight_jobs = n;
    metrics_gauge_set(v->queue_bytes, (double)v->queued_bytes);
    metrics_gauge_set(v->queue_jobs, (double)v->queued_jobs);
    *jobs = n;
    *bytes = b;
    return round;
}

/* Frees a round's jobs. */
static void free_round(job *round)
{
    while (round) {
        job *next = round->next;
        job_free(round);
        round = next;
    }
}

int pviews_loop(svc *s, void *userdata)
{
    (void)s;
    pviews *v = userdata;
    util_backoff backoff;
    util_backoff_init(&backoff, 100, 5000);
    job *round = NULL;
    size_t round_jobs = 0, round_bytes = 0;
    int64_t drain_deadline = 0;
    for (;;) {
        pthread_mutex_lock(&v->lock);
        /* Sleeps until there are jobs, a documents row falls due or the
         * input closes (a push signals; the timeout bounds a missed one). */
        for (;;) {
            int64_t wait_ms = next_document_due(v) - util_now_ms();
            if (round || v->head[0] || v->head[1] || v->input_closed || wait_ms <= 0)
                break;
            struct timespec ts;
            deadline_after(&ts, wait_ms < 200 ? wait_ms : 200);
            pthread_cond_timedwait(&v->cond, &v->lock, &ts);
        }
        bool stopping = v->input_closed;
        if (stopping && drain_deadline == 0)
            drain_deadline = util_now_ms() + v->drain_ms;
        if (!round)
            round = take_round(v, &round_jobs, &round_bytes);
        pthread_mutex_unlock(&v->lock);
        if (!round && v->doc_count == 0) {
            if (stopping)
                return 0;
            continue;
        }
        char err[512] = "";
        int64_t t0 = util_now_ns();
        /* Without jobs, a round writes documents rows owed and due. */
        docstore_status st = round ? write_round(v, round, round_jobs, stopping, err, sizeof err)
                                   : write_pending_docs(v, stopping, err, sizeof err);
        metrics_histogram_observe_since_ns(v->round_seconds, t0);
        if (st == DOCSTORE_OK) {
            free_round(round);
            round = NULL;
            util_backoff_reset(&backoff);
            pthread_mutex_lock(&v->lock);
            /* Everything before the oldest job still queued is written
             * (documents rows still owed do not count: readers load the
             * Redis state, and recovery the snapshots and rows). */
            uint64_t oldest = UINT64_MAX;
            for (int lane = 0; lane < 2; lane++) {
                if (v->head[lane] && v->head[lane]->seq < oldest)
                    oldest = v->head[lane]->seq;
            }
            atomic_store(&v->written_seq, oldest == UINT64_MAX ? v->next_seq : oldest - 1);
            v->in_flight_jobs = 0;
            v->docs_waiting = v->doc_count;
            metrics_gauge_set(v->documents_pending, (double)v->doc_count);
            pthread_cond_broadcast(&v->idle_cond);
            pthread_mutex_unlock(&v->lock);
            continue;
        }
        metrics_counter_inc(v->failures);
        clog_field f[] = {clog_str("error", err), clog_str("status", docstore_status_name(st)),
                          clog_int("jobs", (int64_t)round_jobs),
                          clog_int("bytes", (int64_t)round_bytes),
                          clog_int("documents_owed", (int64_t)v->doc_count)};
        clog_emit(v->log, CLOG_WARN, "view write failed; retrying", f, 5);
        if (stopping && util_now_ms() >= drain_deadline) {
            clog_emit(v->log, CLOG_ERROR, "view writer stopped with unwritten jobs", f, 5);
            free_round(round);
            return 1;
        }
        /* Sleep the backoff, but wake for shutdown. */
        int64_t delay = util_backoff_next(&backoff);
        pthread_mutex_lock(&v->lock);
        if (!v->woken) {
            struct timespec ts;
            deadline_after(&ts, delay);
            int rc = 0;
            while (!v->woken && rc != ETIMEDOUT)
                rc = pthread_cond_timedwait(&v->cond, &v->lock, &ts);
        }
        pthread_mutex_unlock(&v->lock);
    }
}

int pviews_item_view(const char *doc_id, const items_state *s, docstore_item *out, char **json_text)
{
    *json_text = NULL;
    json_t *json = items_state_to_json(s);
    char *text = json ? json_dumps(json, JSON_COMPACT) : NULL;
    json_decref(json);
    if (!text)
        return -1;
    const items_sibling *cur = items_current(s);
    *out = (docstore_item){.doc_id = doc_id,
                           .item_id = s->item_id,
                           .revision = (int64_t)s->revision,
                           .version = (int64_t)s->version,
                           .conflict = items_in_conflict(s),
                           .state_json = text,
                           /* An empty current value is still a value (not NULL). */
                           .value = cur ? (cur->value ? cur->value : (const uint8_t *)"") : NULL,
                           .value_len = cur ? cur->value_len : 0};
    *json_text = text;
    return 0;
}
