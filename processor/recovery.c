/*
 * recovery: loading documents from the views and replaying the uncommitted
 * tail of collab.merged. See recovery.h.
 */
#include "processor/recovery.h"

#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/kafka_config.h"
#include "common/kafka_consumer.h"
#include "common/util.h"
#include "processor/items_json.h"
#include "processor/merge.h"

typedef struct load_state {
    const precover_ctx *ctx;
    pdoc *d;
    char *err;
    size_t err_size;
    int failed;
} load_state;

static int replay_stored_op(void *userdata, const docstore_op *op)
{
    load_state *ls = userdata;
    if (op->version != ls->d->version + 1)
        return 1; /* the views are behind here; the log replay fills the rest */
    if (strcmp(op->kind, "YJS_UPDATE") == 0) {
        crdt_status cs = crdt_apply_update(ls->d->crdt, op->bytes, op->len, NULL);
        if (cs != CRDT_OK) {
            snprintf(ls->err, ls->err_size, "crdt_operations %s v%lld: %s", op->doc_id,
                     (long long)op->version, crdt_strerror(cs));
            ls->failed = 1;
            return 1;
        }
    } else if (pmerge_load_item(ls->ctx->avro, ls->d, op->bytes, op->len, ls->err, ls->err_size) !=
               0) {
        ls->failed = 1;
        return 1;
    }
    ls->d->version = op->version;
    ls->d->source_offset = op->offset;
    if (!pdoc_remember_op(ls->d, op->op_id)) {
        snprintf(ls->err, ls->err_size, "out of memory");
        ls->failed = 1;
        return 1;
    }
    return 0;
}

static int load_stored_item(void *userdata, const char *item_id, int64_t revision,
                            const char *state_json)
{
    load_state *ls = userdata;
    const items_state *have = pdoc_item(ls->d, item_id);
    if (have && (int64_t)have->revision >= revision)
        return 0;
    json_error_t jerr;
    json_t *json = json_loads(state_json, 0, &jerr);
    if (!json) {
        snprintf(ls->err, ls->err_size, "items %s: %s", item_id, jerr.text);
        ls->failed = 1;
        return 1;
    }
    items_state s;
    char why[256];
    items_error ie = items_state_from_json(&s, json, why, sizeof why);
    json_decref(json);
    if (ie != ITEMS_OK) {
        snprintf(ls->err, ls->err_size, "items %s: %s", item_id, why);
        ls->failed = 1;
        return 1;
    }
    if (!pdoc_put_item(ls->d, &s)) {
        items_state_free(&s);
        snprintf(ls->err, ls->err_size, "out of memory");
        ls->failed = 1;
        return 1;
    }
    return 0;
}

int precover_load_policy(const precover_ctx *ctx, pdoc *d, char *err, size_t err_size)
{
    if (d->policy_known)
        return 0;
    docstore_doc_meta meta;
    docstore_status st = docstore_document_meta(ctx->ds, d->id, &meta, err, err_size);
    if (st != DOCSTORE_OK && st != DOCSTORE_NOT_FOUND)
        return -1;
    if (!items_policy_from_name(meta.policy, &d->policy))
        d->policy = ITEMS_POLICY_MANUAL;
    d->policy_known = true;
    return 0;
}

pdoc *precover_load_doc(const precover_ctx *ctx, pdoc_table *t, const char *doc_id,
                        int32_t partition, precover_mode mode, int64_t record_version,
                        int64_t *snapshot_version, char *err, size_t err_size)
{
    docstore_state cached;
    docstore_status st = mode == PRECOVER_VIEWS
                             ? docstore_get_cached_state(ctx->ds, doc_id, &cached, err, err_size)
                             : DOCSTORE_NOT_FOUND;
    bool have_cached = st == DOCSTORE_OK;
    struct cavro_snapshot snap;
    st = docstore_latest_snapshot(ctx->ds, doc_id, &snap, err, err_size);
    if (st != DOCSTORE_OK && st != DOCSTORE_NOT_FOUND) {
        if (have_cached)
            docstore_state_clear(&cached);
        return NULL;
    }
    bool have_snapshot = st == DOCSTORE_OK;
    if (snapshot_version)
        *snapshot_version = have_snapshot ? snap.doc_version : 0;
    pdoc *d = pdoc_insert(t, doc_id, partition);
    load_state ls = {.ctx = ctx, .d = d, .err = err, .err_size = err_size};
    if (!d) {
        snprintf(err, err_size, "out of memory");
        ls.failed = 1;
    }
    /* The snapshot brings the items; the newer Redis state (if any) the text. */
    if (!ls.failed && have_snapshot) {
        crdt_status cs = crdt_apply_update(d->crdt, snap.state.data, snap.state.len, NULL);
        if (cs != CRDT_OK) {
            snprintf(err, err_size, "snapshot of %s v%lld: %s", doc_id, (long long)snap.doc_version,
                     crdt_strerror(cs));
            ls.failed = 1;
        }
        d->version = snap.doc_version;
        d->source_offset = snap.source_offset;
        for (size_t i = 0; !ls.failed && i < snap.items.count; i++) {
            if (pmerge_load_item(ctx->avro, d, snap.items.items[i].data, snap.items.items[i].len,
                                 err, err_size) != 0)
                ls.failed = 1;
        }
    }
    if (!ls.failed && have_cached && cached.version > d->version) {
        crdt_status cs = crdt_apply_update(d->crdt, cached.state, cached.state_len, NULL);
        if (cs != CRDT_OK) {
            snprintf(err, err_size, "cached state of %s v%lld: %s", doc_id,
                     (long long)cached.version, crdt_strerror(cs));
            ls.failed = 1;
        }
        d->version = cached.version;
        d->source_offset = cached.pos.offset;
    }
    if (!ls.failed && mode == PRECOVER_VIEWS) {
        st = docstore_items(ctx->ds, doc_id, load_stored_item, &ls, err, err_size);
        if (st != DOCSTORE_OK)
            ls.failed = 1;
    }
    bool reaches_record = record_version > 0 && d && d->version + 1 >= record_version;
    if (!ls.failed && mode == PRECOVER_VIEWS && !reaches_record) {
        st = docstore_ops_after(ctx->ds, doc_id, d->version, 0, replay_stored_op, &ls, err,
                                err_size);
        if (st != DOCSTORE_OK)
            ls.failed = 1;
    }
    if (!ls.failed && mode == PRECOVER_VIEWS && precover_load_policy(ctx, d, err, err_size) != 0)
        ls.failed = 1;
    if (have_cached)
        docstore_state_clear(&cached);
    if (have_snapshot)
        cavro_snapshot_clear(&snap);
    if (ls.failed) {
        if (d)
            pdoc_remove(t, d);
        return NULL;
    }
    return d;
}

/* A consumer handle in the snapshotter's group that never joins it: it only
 * reads the group's committed offset and then reads the partition by
 * assignment, committing nothing. */
static rd_kafka_t *tail_consumer(const precover_ctx *ctx, ckafka_base *base, char *err,
                                 size_t err_size)
{
    return ckafka_reader_new(base, ctx->brokers, "processor-recovery", ctx->snapshotter_group, NULL,
                             err, err_size);
}

/* Replays one record of the tail into its document (loaded first if
 * needed). -1 when the document cannot be loaded (err set). */
static int replay_tail_record(const precover_ctx *ctx, pdoc_table *t, const rd_kafka_message_t *msg,
                              bool log_complete, precover_record_fn fn, void *userdata,
                              int64_t *records, int64_t *gaps, char *err, size_t err_size)
{
    struct cavro_merged_op m;
    char why[256];
    if (cavro_merged_op_decode(ctx->avro, msg->payload, msg->len, &m, why, sizeof why) !=
        CAVRO_OK) {
        /* Only the processor writes this topic; skip what cannot be read. */
        clog_emit(ctx->log, CLOG_ERROR, "recovery: undecodable merged record",
                  (clog_field[]){clog_str("error", why), clog_int("offset", msg->offset)}, 2);
        return 0;
    }
    int rc = 0;
    pdoc *d = pdoc_find(t, m.doc_id);
    if (!d)
        d = precover_load_doc(ctx, t, m.doc_id, msg->partition,
                              log_complete ? PRECOVER_SNAPSHOT : PRECOVER_VIEWS, 0, NULL, err,
                              err_size);
    if (!d) {
        rc = -1;
    } else if (m.doc_version > d->version) {
        if (m.doc_version != d->version + 1) {
            (*gaps)++;
            clog_emit(ctx->log, CLOG_ERROR, "recovery: version gap",
                      (clog_field[]){clog_str("doc_id", m.doc_id), clog_int("have", d->version),
                                     clog_int("record", m.doc_version)},
                      3);
        }
        if (pmerge_replay(ctx->avro, d, &m, why, sizeof why) != 0)
            clog_emit(ctx->log, CLOG_ERROR, "recovery: replay failed",
                      (clog_field[]){clog_str("doc_id", m.doc_id), clog_str("error", why)}, 2);
        (*records)++;
    }
    /* Also for a record the loaded state already holds: its crdt_operations
     * row may be among the view writes a crash lost (the Redis state is
     * written by another job), and writing it again is harmless. */
    if (d && fn)
        fn(userdata, d, &m);
    cavro_merged_op_clear(&m);
    return rc;
}

int precover_partitions(const precover_ctx *ctx, pdoc_table *t, const int32_t *partitions,
                        size_t count, precover_record_fn fn, void *userdata, int64_t *records,
                        int64_t *gaps, char *err, size_t err_size)
{
    *records = 0;
    *gaps = 0;
    if (count == 0)
        return 0;
    ckafka_base base;
    ckafka_base_init(&base, ctx->log, "consumer");
    rd_kafka_t *rk = tail_consumer(ctx, &base, err, err_size);
    if (!rk)
        return -1;
    int rc = 0;
    rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new((int)count);
    for (size_t i = 0; i < count; i++)
        rd_kafka_topic_partition_list_add(parts, ctx->merged_topic, partitions[i]);
    rd_kafka_resp_err_t kerr = rd_kafka_committed(rk, parts, ctx->timeout_ms);
    if (kerr) {
        snprintf(err, err_size, "committed offsets of %s in %s: %s", ctx->merged_topic,
                 ctx->snapshotter_group, rd_kafka_err2str(kerr));
        rc = -1;
    }
    /* Per partition: where to start, whether the log still holds everything
     * after the snapshots, and whether there is anything to read at all. */
    bool *complete = calloc(count, sizeof *complete);
    bool *pending = calloc(count, sizeof *pending);
    if (!complete || !pending) {
        snprintf(err, err_size, "out of memory");
        rc = -1;
    }
    rd_kafka_topic_partition_list_t *reading = rd_kafka_topic_partition_list_new((int)count);
    size_t open = 0;
    for (size_t i = 0; rc == 0 && i < count; i++) {
        int64_t low = 0, high = 0;
        kerr = rd_kafka_query_watermark_offsets(rk, ctx->merged_topic, partitions[i], &low, &high,
                                                ctx->timeout_ms);
        if (kerr) {
            snprintf(err, err_size, "watermarks of %s[%d]: %s", ctx->merged_topic,
                     (int)partitions[i], rd_kafka_err2str(kerr));
            rc = -1;
            break;
        }
        int64_t start = parts->elems[i].offset;
        if (start < 0)
            start = RD_KAFKA_OFFSET_BEGINNING;
        /* Every record after the snapshots is in the log, unless retention
         * deleted some: then the views (crdt_operations) fill in. */
        complete[i] = start >= low || (start == RD_KAFKA_OFFSET_BEGINNING && low == 0);
        if (!complete[i])
            clog_emit(ctx->log, CLOG_WARN,
                      "recovery: the log no longer holds every record after the snapshots; "
                      "crdt_operations fill the gap",
                      (clog_field[]){clog_int("partition", partitions[i]), clog_int("from", start),
                                     clog_int("log_start", low)},
                      3);
        if (high > low && (start == RD_KAFKA_OFFSET_BEGINNING || start < high)) {
            rd_kafka_topic_partition_list_add(reading, ctx->merged_topic, partitions[i])->offset =
                start;
            pending[i] = true;
            open++;
        }
    }
    if (rc == 0 && open > 0) {
        kerr = rd_kafka_assign(rk, reading);
        if (kerr) {
            snprintf(err, err_size, "assign: %s", rd_kafka_err2str(kerr));
            rc = -1;
        }
    }
    int64_t deadline = util_now_ms() + (int64_t)ctx->timeout_ms;
    while (rc == 0 && open > 0) {
        rd_kafka_message_t *msg = rd_kafka_consumer_poll(rk, 200);
        if (!msg) {
            if (util_now_ms() > deadline) {
                snprintf(err, err_size, "recovery of %s timed out", ctx->merged_topic);
                rc = -1;
            }
            continue;
        }
        deadline = util_now_ms() + (int64_t)ctx->timeout_ms;
        size_t i = 0;
        while (i < count && partitions[i] != msg->partition)
            i++;
        if (msg->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            /* End of the committed log (read_committed: the last stable offset). */
            if (i < count && pending[i]) {
                pending[i] = false;
                open--;
            }
        } else if (msg->err) {
            snprintf(err, err_size, "recovery read: %s", rd_kafka_message_errstr(msg));
            rc = -1;
        } else if (i < count) {
            rc = replay_tail_record(ctx, t, msg, complete[i], fn, userdata, records, gaps, err,
                                    err_size);
        }
        rd_kafka_message_destroy(msg);
    }
    free(complete);
    free(pending);
    rd_kafka_topic_partition_list_destroy(reading);
    rd_kafka_topic_partition_list_destroy(parts);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return rc;
}

/* The snapshot fields prefetch needs from a document_versions entry. */
static int apply_snapshot_bson(const precover_ctx *ctx, pdoc *d, const bson_t *doc, char *err,
                               size_t err_size)
{
    bson_iter_t it;
    const uint8_t *data;
    uint32_t len;
    bson_subtype_t sub;
    if (!bson_iter_init_find(&it, doc, "state") || !BSON_ITER_HOLDS_BINARY(&it)) {
        snprintf(err, err_size, "document_versions of %s: no state", d->id);
        return -1;
    }
    bson_iter_binary(&it, &sub, &len, &data);
    crdt_status cs = crdt_apply_update(d->crdt, data, len, NULL);
    if (cs != CRDT_OK) {
        snprintf(err, err_size, "snapshot of %s: %s", d->id, crdt_strerror(cs));
        return -1;
    }
    if (bson_iter_init_find(&it, doc, "version") && BSON_ITER_HOLDS_NUMBER(&it))
        d->version = bson_iter_as_int64(&it);
    d->source_offset = -1;
    if (bson_iter_init_find(&it, doc, "offset") && BSON_ITER_HOLDS_NUMBER(&it))
        d->source_offset = bson_iter_as_int64(&it);
    bson_iter_t items;
    if (bson_iter_init_find(&it, doc, "items") && BSON_ITER_HOLDS_ARRAY(&it) &&
        bson_iter_recurse(&it, &items)) {
        while (bson_iter_next(&items)) {
            if (!BSON_ITER_HOLDS_BINARY(&items))
                continue;
            bson_iter_binary(&items, &sub, &len, &data);
            if (pmerge_load_item(ctx->avro, d, data, len, err, err_size) != 0)
                return -1;
        }
    }
    return 0;
}

static mongoc_cursor_t *find_in(cmongo *m, mongoc_client_t *client, const char *collection,
                                const char *const *ids, size_t count, mongoc_collection_t **coll)
{
    bson_t filter = BSON_INITIALIZER, id, in;
    BSON_APPEND_DOCUMENT_BEGIN(&filter, "_id", &id);
    BSON_APPEND_ARRAY_BEGIN(&id, "$in", &in);
    for (size_t i = 0; i < count; i++) {
        char key[24];
        snprintf(key, sizeof key, "%zu", i);
        BSON_APPEND_UTF8(&in, key, ids[i]);
    }
    bson_append_array_end(&id, &in);
    bson_append_document_end(&filter, &id);
    *coll = cmongo_collection(m, client, collection);
    mongoc_cursor_t *cursor = mongoc_collection_find_with_opts(*coll, &filter, NULL, NULL);
    bson_destroy(&filter);
    return cursor;
}

int precover_prefetch(const precover_ctx *ctx, pdoc_table *t, const char *const *ids,
                      const int32_t *partitions, size_t count, char *err, size_t err_size)
{
    cmongo *m = docstore_mongo(ctx->ds);
    const char **wanted = calloc(count ? count : 1, sizeof *wanted);
    char **snapshot_ids = calloc(count ? count : 1, sizeof *snapshot_ids);
    pdoc **docs = calloc(count ? count : 1, sizeof *docs);
    size_t n = 0, snaps = 0;
    int rc = wanted && snapshot_ids && docs ? 0 : -1;
    for (size_t i = 0; rc == 0 && i < count; i++) {
        bool dup = pdoc_find(t, ids[i]) != NULL;
        for (size_t j = 0; !dup && j < n; j++)
            dup = strcmp(wanted[j], ids[i]) == 0;
        if (dup)
            continue;
        docs[n] = pdoc_insert(t, ids[i], partitions[i]);
        if (!docs[n]) {
            rc = -1;
            break;
        }
        wanted[n++] = ids[i];
    }
    if (rc != 0)
        snprintf(err, err_size, "out of memory");
    mongoc_client_t *client = rc == 0 && n > 0 ? cmongo_acquire(m) : NULL;
    if (client) {
        /* 1: the version of each document's latest snapshot */
        mongoc_collection_t *coll;
        mongoc_cursor_t *cursor = find_in(m, client, "last_processed_version", wanted, n, &coll);
        const bson_t *doc;
        while (rc == 0 && mongoc_cursor_next(cursor, &doc)) {
            bson_iter_t it;
            int64_t version = 0;
            const char *id = NULL;
            if (bson_iter_init_find(&it, doc, "_id") && BSON_ITER_HOLDS_UTF8(&it))
                id = bson_iter_utf8(&it, NULL);
            if (bson_iter_init_find(&it, doc, "version") && BSON_ITER_HOLDS_NUMBER(&it))
                version = bson_iter_as_int64(&it);
            if (!id || version <= 0)
                continue;
            size_t need = strlen(id) + 24;
            snapshot_ids[snaps] = malloc(need);
            if (!snapshot_ids[snaps]) {
                rc = -1;
                snprintf(err, err_size, "out of memory");
                break;
            }
            snprintf(snapshot_ids[snaps++], need, "%s/%lld", id, (long long)version);
        }
        bson_error_t error;
        if (rc == 0 && mongoc_cursor_error(cursor, &error)) {
            snprintf(err, err_size, "find last_processed_version: %s", error.message);
            rc = -1;
        }
        mongoc_cursor_destroy(cursor);
        mongoc_collection_destroy(coll);
        /* 2: those snapshots */
        if (rc == 0 && snaps > 0) {
            cursor = find_in(m, client, "document_versions", (const char *const *)snapshot_ids,
                             snaps, &coll);
            while (rc == 0 && mongoc_cursor_next(cursor, &doc)) {
                bson_iter_t it;
                const char *id = NULL;
                if (bson_iter_init_find(&it, doc, "doc_id") && BSON_ITER_HOLDS_UTF8(&it))
                    id = bson_iter_utf8(&it, NULL);
                pdoc *d = id ? pdoc_find(t, id) : NULL;
                if (d && d->version == 0 && apply_snapshot_bson(ctx, d, doc, err, err_size) != 0)
                    rc = -1;
            }
            if (rc == 0 && mongoc_cursor_error(cursor, &error)) {
                snprintf(err, err_size, "find document_versions: %s", error.message);
                rc = -1;
            }
            mongoc_cursor_destroy(cursor);
            mongoc_collection_destroy(coll);
        }
        cmongo_release(m, client);
    }
    /* A snapshot that last_processed_version names but that is not there (it
     * is written first, so only a manual deletion does that) is not silently
     * replaced by an empty document: the slow path loads those. */
    for (size_t i = 0; rc == 0 && i < snaps; i++) {
        char *slash = strrchr(snapshot_ids[i], '/');
        *slash = '\0';
        pdoc *d = pdoc_find(t, snapshot_ids[i]);
        if (d && d->version == 0) {
            int32_t partition = d->partition;
            pdoc_remove(t, d);
            if (!precover_load_doc(ctx, t, snapshot_ids[i], partition, PRECOVER_VIEWS, 0, NULL, err,
                                   err_size))
                rc = -1;
        }
    }
    if (rc != 0) {
        for (size_t i = 0; i < n; i++) {
            pdoc *d = pdoc_find(t, wanted[i]);
            if (d)
                pdoc_remove(t, d);
        }
    }
    for (size_t i = 0; i < snaps; i++)
        free(snapshot_ids[i]);
    free(snapshot_ids);
    free(wanted);
    free(docs);
    return rc;
}
