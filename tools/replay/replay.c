/*
 * replay: the rebuild. Each record of the log is decoded, checked against
 * its document's version and applied with pmerge_replay; its row is queued
 * and inserted (or verified) in batches; at the end of each partition its
 * documents' states and items are written (or verified) and dropped. See
 * replay.h.
 */
#include "tools/replay/replay.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "processor/merge.h"
#include "processor/views.h"
#include "tools/replay/replay_internal.h"
#include "tools/replay/replay_log.h"

/* Documents in memory at most: a replay never evicts (it needs a document
 * until the end of its partition), so this only sizes the table. */
#define REPLAY_MAX_DOCS ((size_t)1 << 40)

/* Documents per documents bulk write. */
#define DOCUMENTS_PER_WRITE 500

void replay_difference(replay_ctx *c, const char *fmt, ...)
{
    c->stats->differences++;
    if (c->reported >= c->o->max_reported)
        return;
    c->reported++;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(c->out, fmt, ap);
    va_end(ap);
    fputc('\n', c->out);
}

/* After a store write returned st: true when it should be tried again (the
 * store is unreachable and the deadline has not passed; waits the backoff). */
static bool retry(replay_ctx *c, docstore_status st, util_backoff *b, int64_t deadline)
{
    if (st != DOCSTORE_UNAVAILABLE || util_now_ms() >= deadline)
        return false;
    clog_emit(c->log, CLOG_WARN, "store unavailable; retrying",
              (clog_field[]){clog_str("error", c->err)}, 1);
    util_sleep_ms(util_backoff_next(b));
    return true;
}

static void clear_batch(replay_ctx *c)
{
    for (size_t i = 0; i < c->batch_count; i++)
        cavro_merged_op_clear(&c->batch[i]);
    c->batch_count = 0;
}

/* Inserts (or verifies) the rows of the batched records. 0 or -1. */
static int flush_rows(replay_ctx *c)
{
    if (c->batch_count == 0)
        return 0;
    docstore_op *ops = calloc(c->batch_count, sizeof *ops);
    if (!ops) {
        snprintf(c->err, c->err_size, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < c->batch_count; i++)
        docstore_op_from_merged(&c->batch[i], &ops[i]);
    int rc = 0;
    if (c->o->verify) {
        rc = replay_verify_rows(c, ops, c->batch_count);
    } else {
        util_backoff b;
        util_backoff_init(&b, 100, 5000);
        int64_t deadline = util_now_ms() + c->o->timeout_ms;
        docstore_status st;
        do {
            st = docstore_insert_ops(c->ds, ops, c->batch_count, c->err, c->err_size);
        } while (st != DOCSTORE_OK && retry(c, st, &b, deadline));
        rc = st == DOCSTORE_OK ? 0 : -1;
    }
    free(ops);
    clear_batch(c);
    return rc;
}

static replay_doc_track *track_of(pdoc *d)
{
    return d->user;
}

/* The document of a record, created empty when it is new. NULL: no memory. */
static pdoc *doc_for(replay_ctx *c, const char *doc_id, int32_t partition)
{
    pdoc *d = pdoc_find(c->docs, doc_id);
    if (d)
        return d;
    replay_doc_track *t = calloc(1, sizeof *t);
    d = t ? pdoc_insert(c->docs, doc_id, partition) : NULL;
    if (!d) {
        free(t);
        return NULL;
    }
    d->user = t;
    c->stats->documents++;
    int64_t held = (int64_t)pdoc_table_count(c->docs);
    if (held > c->stats->peak_documents)
        c->stats->peak_documents = held;
    return d;
}

/* A record that cannot be used. 0 to go on, -1 to stop (--strict). */
static int undecodable(replay_ctx *c, const rd_kafka_message_t *msg, const char *why)
{
    c->stats->undecodable++;
    clog_emit(c->log, CLOG_ERROR, "undecodable record skipped",
              (clog_field[]){clog_int("partition", msg->partition), clog_int("offset", msg->offset),
                             clog_str("error", why)},
              3);
    if (!c->o->strict)
        return 0;
    snprintf(c->err, c->err_size, "undecodable record at partition %d offset %" PRId64 ": %s",
             (int)msg->partition, (int64_t)msg->offset, why);
    c->status = REPLAY_UNDECODABLE;
    return -1;
}

static bool key_is(const rd_kafka_message_t *msg, const char *id)
{
    size_t len = strlen(id);
    return msg->key && msg->key_len == len && memcmp(msg->key, id, len) == 0;
}

/* replay_log_fn: one record of collab.merged. */
static int on_record(void *userdata, const rd_kafka_message_t *msg)
{
    replay_ctx *c = userdata;
    c->stats->records++;
    if (c->o->doc_id && !key_is(msg, c->o->doc_id)) {
        c->stats->other_documents++;
        return 0;
    }
    struct cavro_merged_op *m = &c->batch[c->batch_count];
    char why[256];
    if (cavro_merged_op_decode(c->avro, msg->payload, msg->len, m, why, sizeof why) != CAVRO_OK)
        return undecodable(c, msg, why);
    if (!key_is(msg, m->doc_id)) {
        cavro_merged_op_clear(m);
        return undecodable(c, msg, "the record's key is not its doc_id");
    }
    pdoc *d = doc_for(c, m->doc_id, msg->partition);
    if (!d) {
        cavro_merged_op_clear(m);
        snprintf(c->err, c->err_size, "out of memory");
        c->status = REPLAY_FAILED;
        return -1;
    }
    replay_doc_track *t = track_of(d);
    /* Versions of a document are contiguous: once one record is past the
     * cut, every later one is left out too (clocks of two instances may
     * disagree slightly around a fail-over). */
    if (t->cut || m->processed_time_us > c->o->until_us) {
        t->cut = true;
        c->stats->after_until++;
        cavro_merged_op_clear(m);
        return 0;
    }
    if (m->doc_version <= d->version) {
        c->stats->repeated++;
        clog_emit(c->log, CLOG_WARN, "record at or below its document's version skipped",
                  (clog_field[]){clog_str("doc_id", m->doc_id), clog_int("have", d->version),
                                 clog_int("record", m->doc_version),
                                 clog_int("partition", msg->partition),
                                 clog_int("offset", msg->offset)},
                  5);
        cavro_merged_op_clear(m);
        return 0;
    }
    if (m->doc_version != d->version + 1) {
        c->stats->gaps++;
        t->incomplete = true;
        clog_emit(c->log, CLOG_ERROR, "version gap: the document's state will not be written",
                  (clog_field[]){clog_str("doc_id", m->doc_id), clog_int("have", d->version),
                                 clog_int("record", m->doc_version),
                                 clog_int("partition", msg->partition),
                                 clog_int("offset", msg->offset)},
                  5);
    }
    if (pmerge_replay(c->avro, d, m, why, sizeof why) != 0) {
        t->incomplete = true;
        int rc = undecodable(c, msg, why);
        cavro_merged_op_clear(m);
        return rc;
    }
    c->stats->replayed++;
    c->batch_count++;
    if (c->batch_count == c->o->rows_per_batch && flush_rows(c) != 0) {
        c->status = REPLAY_FAILED;
        return -1;
    }
    return 0;
}

static void on_progress(void *userdata, int64_t read, int64_t total)
{
    replay_ctx *c = userdata;
    clog_emit(c->log, CLOG_INFO, "replay progress",
              (clog_field[]){clog_int("records_read", read), clog_int("records_in_log", total),
                             clog_int("documents", c->stats->documents),
                             clog_int("undecodable", c->stats->undecodable),
                             clog_int("gaps", c->stats->gaps)},
              5);
}

/* Writes d's state to Redis and its items to MongoDB and Redis; adds its
 * version to versions for the documents bulk write. 0 or -1. */
static int write_doc(replay_ctx *c, pdoc *d, docstore_doc_version *version, uint8_t **sv_out)
{
    util_backoff b;
    util_backoff_init(&b, 100, 5000);
    int64_t deadline = util_now_ms() + c->o->timeout_ms;
    docstore_status st = DOCSTORE_OK;
    if (!track_of(d)->incomplete) {
        uint8_t *state = NULL, *sv = NULL;
        size_t state_len = 0, sv_len = 0;
        if (crdt_encode_state(d->crdt, NULL, 0, &state, &state_len) != CRDT_OK ||
            crdt_encode_state_vector(d->crdt, &sv, &sv_len) != CRDT_OK) {
            free(state);
            free(sv);
            snprintf(c->err, c->err_size, "%s: cannot encode its state", d->id);
            return -1;
        }
        do {
            docstore_position pos = {.partition = d->partition, .offset = d->source_offset};
            st = docstore_cache_state(c->ds, d->id, d->version, state, state_len, sv, sv_len, pos,
                                      c->err, c->err_size);
        } while (st != DOCSTORE_OK && retry(c, st, &b, deadline));
        free(state);
        *version = (docstore_doc_version){
            .doc_id = d->id, .version = d->version, .sv = sv, .sv_len = sv_len};
        *sv_out = sv;
    }
    for (size_t i = 0; st == DOCSTORE_OK && i < d->item_count; i++) {
        docstore_item item;
        char *json = NULL;
        if (pviews_item_view(d->id, d->items[i], &item, &json) != 0) {
            snprintf(c->err, c->err_size, "out of memory");
            return -1;
        }
        do {
            st = docstore_put_item(c->ds, &item, c->err, c->err_size);
        } while (st != DOCSTORE_OK && retry(c, st, &b, deadline));
        free(json);
    }
    return st == DOCSTORE_OK ? 0 : -1;
}

static int write_documents(replay_ctx *c, const docstore_doc_version *versions, size_t count)
{
    util_backoff b;
    util_backoff_init(&b, 100, 5000);
    int64_t deadline = util_now_ms() + c->o->timeout_ms;
    docstore_status st = DOCSTORE_OK;
    for (size_t i = 0; st == DOCSTORE_OK && i < count; i += DOCUMENTS_PER_WRITE) {
        size_t n = count - i < DOCUMENTS_PER_WRITE ? count - i : DOCUMENTS_PER_WRITE;
        do {
            st = docstore_put_documents(c->ds, versions + i, n, c->err, c->err_size);
        } while (st != DOCSTORE_OK && retry(c, st, &b, deadline));
    }
    return st == DOCSTORE_OK ? 0 : -1;
}

typedef struct doc_list {
    pdoc **docs;
    size_t count;
} doc_list;

static void collect_doc(pdoc *d, void *userdata)
{
    doc_list *l = userdata;
    l->docs[l->count++] = d;
}

static int by_id(const void *a, const void *b)
{
    return strcmp((*(pdoc *const *)a)->id, (*(pdoc *const *)b)->id);
}

/* The end of a partition: the state and items of every document held (all
 * of that partition). 0 or -1. */
static int finish_docs(replay_ctx *c)
{
    size_t n = pdoc_table_count(c->docs);
    doc_list l = {.docs = calloc(n ? n : 1, sizeof *l.docs)};
    docstore_doc_version *versions = calloc(n ? n : 1, sizeof *versions);
    uint8_t **svs = calloc(n ? n : 1, sizeof *svs);
    if (!l.docs || !versions || !svs) {
        free(l.docs);
        free(versions);
        free(svs);
        snprintf(c->err, c->err_size, "out of memory");
        return -1;
    }
    pdoc_each(c->docs, collect_doc, &l);
    /* In id order (within the partition): verify output and progress are the
     * same on every run. */
    qsort(l.docs, l.count, sizeof *l.docs, by_id);
    size_t with_state = 0;
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < l.count; i++) {
        pdoc *d = l.docs[i];
        c->stats->items += (int64_t)d->item_count;
        if (track_of(d)->incomplete)
            c->stats->incomplete++;
        if (c->o->verify)
            rc = replay_verify_doc(c, d);
        else if ((rc = write_doc(c, d, &versions[with_state], &svs[with_state])) == 0 &&
                 !track_of(d)->incomplete)
            with_state++;
    }
    if (rc == 0 && !c->o->verify)
        rc = write_documents(c, versions, with_state);
    for (size_t i = 0; i < n; i++)
        free(svs[i]);
    free(svs);
    free(versions);
    free(l.docs);
    return rc;
}

/* replay_log_partition_fn: a partition is read; its documents are written
 * (or verified) and forgotten, so memory holds one partition's documents. */
static int on_partition_done(void *userdata, int32_t partition)
{
    replay_ctx *c = userdata;
    if (c->status != REPLAY_OK)
        return -1;
    if (flush_rows(c) != 0 || finish_docs(c) != 0) {
        c->status = REPLAY_FAILED;
        return -1;
    }
    /* Every document held is this partition's. One whose records span two
     * partitions (the topic's partition count changed after it was written)
     * starts again in the next one, where its versions show as a gap. */
    pdoc_drop_partition(c->docs, partition);
    return 0;
}

replay_status replay_run(const replay_options *o, docstore *ds, const struct cavro_registry *avro,
                         clog *log, FILE *out, replay_stats *stats, char *err, size_t err_size)
{
    memset(stats, 0, sizeof *stats);
    int64_t t0 = util_now_ns();
    replay_ctx c = {.o = o,
                    .ds = ds,
                    .avro = avro,
                    .log = log,
                    .out = out,
                    .stats = stats,
                    .docs = pdoc_table_new(REPLAY_MAX_DOCS, free),
                    .batch = calloc(o->rows_per_batch ? o->rows_per_batch : 1, sizeof *c.batch),
                    .status = REPLAY_OK,
                    .err = err,
                    .err_size = err_size};
    if (!c.docs || !c.batch || o->rows_per_batch == 0) {
        snprintf(err, err_size, "out of memory");
        c.status = REPLAY_FAILED;
    }
    if (c.status == REPLAY_OK) {
        replay_log_opts lo = {.brokers = o->brokers,
                              .topic = o->merged_topic,
                              .timeout_ms = o->timeout_ms,
                              .progress_ms = o->progress_ms,
                              .progress = on_progress,
                              .partition_done = on_partition_done,
                              .log = log};
        int rc = replay_log_read(&lo, on_record, &c, err, err_size);
        if (rc != 0 && c.status == REPLAY_OK)
            c.status = REPLAY_FAILED; /* the log itself failed */
    }
    if (c.status == REPLAY_OK && (flush_rows(&c) != 0 || finish_docs(&c) != 0))
        c.status = REPLAY_FAILED;
    clear_batch(&c);
    free(c.batch);
    pdoc_table_free(c.docs);
    docstore_get_counts(ds, &stats->writes);
    stats->seconds = (double)(util_now_ns() - t0) / 1e9;
    return c.status;
}
