/*
 * docstore: version-conditioned writes and reads of the document views in
 * MongoDB and Redis. See docstore.h and docs/storage.md.
 */
#include "common/docstore.h"

#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "crdt/crdt.h"

/* Outcome counters of the conditional writes (docstore_get_counts). Atomic:
 * a docstore may be shared by threads. */
typedef struct write_counts {
    _Atomic uint64_t rows_inserted, rows_present;
    _Atomic uint64_t documents_written, documents_newer;
    _Atomic uint64_t states_written, states_newer;
    _Atomic uint64_t items_written, items_newer;
    _Atomic uint64_t item_caches_written, item_caches_newer;
} write_counts;

struct docstore {
    cmongo *mongo;
    credis *redis;
    const struct cavro_registry *avro;
    clog *log;
    write_counts counts;
};

/* Updates per MongoDB update command. FerretDB v1.24 (SQLite) never answers
 * an update command that modifies 100 or more existing documents (measured:
 * 99 answer in about a second, 100 hang until the socket timeout), so bulk
 * updates are sent in commands well below that. It also stops an unordered
 * update bulk at its first duplicate key (MongoDB goes on): see
 * docstore_put_documents. */
#define UPDATES_PER_COMMAND 50

/* Sets the hash only when the version-like field (ARGV[1]) is absent or lower
 * than ARGV[2]; the other fields are ARGV[3..] as name/value pairs. A replay
 * or a zombie writing an older version changes nothing. */
static const char conditional_hset_lua[] =
    "local cur = tonumber(redis.call('HGET', KEYS[1], ARGV[1]))\n"
    "if cur and cur >= tonumber(ARGV[2]) then return 0 end\n"
    "redis.call('HSET', KEYS[1], ARGV[1], ARGV[2], unpack(ARGV, 3))\n"
    "return 1\n";

const char *docstore_status_name(docstore_status st)
{
    switch (st) {
    case DOCSTORE_OK:
        return "ok";
    case DOCSTORE_NOT_FOUND:
        return "not_found";
    case DOCSTORE_UNAVAILABLE:
        return "unavailable";
    case DOCSTORE_FAILED:
        return "failed";
    }
    return "unknown";
}

docstore *docstore_new(cmongo *mongo, credis *redis, const struct cavro_registry *avro, clog *log)
{
    docstore *ds = calloc(1, sizeof *ds);
    if (!ds)
        return NULL;
    ds->mongo = mongo;
    ds->redis = redis;
    ds->avro = avro;
    ds->log = log;
    return ds;
}

void docstore_free(docstore *ds)
{
    free(ds);
}

cmongo *docstore_mongo(docstore *ds)
{
    return ds->mongo;
}

void docstore_get_counts(docstore *ds, docstore_counts *out)
{
    write_counts *c = &ds->counts;
    out->rows_inserted = atomic_load(&c->rows_inserted);
    out->rows_present = atomic_load(&c->rows_present);
    out->documents_written = atomic_load(&c->documents_written);
    out->documents_newer = atomic_load(&c->documents_newer);
    out->states_written = atomic_load(&c->states_written);
    out->states_newer = atomic_load(&c->states_newer);
    out->items_written = atomic_load(&c->items_written);
    out->items_newer = atomic_load(&c->items_newer);
    out->item_caches_written = atomic_load(&c->item_caches_written);
    out->item_caches_newer = atomic_load(&c->item_caches_newer);
}

void docstore_op_from_merged(const struct cavro_merged_op *m, docstore_op *out)
{
    *out = (docstore_op){.doc_id = m->doc_id,
                         .op_id = m->op_id,
                         .version = m->doc_version,
                         .kind = cavro_merged_kind_name(m->kind),
                         .user_id = m->user_id,
                         .client_id = m->client_id,
                         .ingest_time_us = m->ingest_time_us,
                         .processed_time_us = m->processed_time_us,
                         .partition = m->source_partition,
                         .offset = m->source_offset,
                         .bytes = m->payload.data,
                         .len = m->payload.len};
}

/* A count field of a write reply ("insertedCount", "nUpserted", ...); 0 when absent. */
static uint64_t reply_count(const bson_t *reply, const char *field)
{
    bson_iter_t it;
    if (!bson_iter_init_find(&it, reply, field) || !BSON_ITER_HOLDS_NUMBER(&it))
        return 0;
    int64_t n = bson_iter_as_int64(&it);
    return n > 0 ? (uint64_t)n : 0;
}

/* Counts one batch of conditional writes: `written` of `count` changed
 * something, the rest found a newer (or the same) version stored. */
static void count_outcome(_Atomic uint64_t *written_counter, _Atomic uint64_t *newer_counter,
                          uint64_t written, uint64_t count)
{
    if (written > count)
        written = count;
    atomic_fetch_add(written_counter, written);
    atomic_fetch_add(newer_counter, count - written);
}

static docstore_status from_bson_error(const bson_error_t *error, const char *what, char *err,
                                       size_t err_size)
{
    snprintf(err, err_size, "%s: %s", what, error->message);
    return cmongo_classify(error) == CMONGO_UNAVAILABLE ? DOCSTORE_UNAVAILABLE : DOCSTORE_FAILED;
}

docstore_status docstore_ensure_indexes(docstore *ds, char *err, size_t err_size)
{
    bson_error_t error;
    bson_t *keys = BCON_NEW("doc_id", BCON_INT32(1), "version", BCON_INT32(1));
    docstore_status st = DOCSTORE_OK;
    if (cmongo_ensure_index(ds->mongo, "crdt_operations", keys, "doc_id_version", true, &error) !=
        0)
        st = from_bson_error(&error, "crdt_operations index", err, err_size);
    if (st == DOCSTORE_OK && cmongo_ensure_index(ds->mongo, "document_versions", keys,
                                                 "doc_id_version", true, &error) != 0)
        st = from_bson_error(&error, "document_versions index", err, err_size);
    bson_destroy(keys);
    if (st != DOCSTORE_OK)
        return st;
    keys = BCON_NEW("doc_id", BCON_INT32(1));
    if (cmongo_ensure_index(ds->mongo, "items", keys, "doc_id", false, &error) != 0)
        st = from_bson_error(&error, "items index", err, err_size);
    bson_destroy(keys);
    return st;
}

/* ---- MongoDB helpers ---- */

static void append_bytes(bson_t *doc, const char *key, const uint8_t *data, size_t len)
{
    static const uint8_t empty[1] = {0};
    bson_append_binary(doc, key, -1, BSON_SUBTYPE_BINARY, data ? data : empty, (uint32_t)len);
}

/* True when every write error in an insert_many reply is a duplicate key. */
static bool only_duplicates(const bson_t *reply)
{
    bson_iter_t it, child;
    if (!bson_iter_init_find(&it, reply, "writeErrors") || !BSON_ITER_HOLDS_ARRAY(&it) ||
        !bson_iter_recurse(&it, &child))
        return false;
    bool any = false;
    while (bson_iter_next(&child)) {
        bson_iter_t entry;
        if (!BSON_ITER_HOLDS_DOCUMENT(&child) || !bson_iter_recurse(&child, &entry) ||
            !bson_iter_find(&entry, "code"))
            return false;
        if (bson_iter_as_int64(&entry) != 11000)
            return false;
        any = true;
    }
    bson_iter_t wc;
    if (bson_iter_init_find(&wc, reply, "writeConcernErrors") && BSON_ITER_HOLDS_ARRAY(&wc)) {
        bson_iter_t c2;
        if (bson_iter_recurse(&wc, &c2) && bson_iter_next(&c2))
            return false;
    }
    return any;
}

docstore_status docstore_insert_ops(docstore *ds, const docstore_op *ops, size_t count, char *err,
                                    size_t err_size)
{
    if (count == 0)
        return DOCSTORE_OK;
    bson_t **docs = calloc(count, sizeof *docs);
    if (!docs) {
        snprintf(err, err_size, "out of memory");
        return DOCSTORE_FAILED;
    }
    int64_t now_ms = util_wall_ns() / 1000000;
    for (size_t i = 0; i < count; i++) {
        const docstore_op *op = &ops[i];
        char id[512];
        snprintf(id, sizeof id, "%s/%s", op->doc_id, op->op_id);
        bson_t *d = bson_new();
        BSON_APPEND_UTF8(d, "_id", id);
        BSON_APPEND_UTF8(d, "doc_id", op->doc_id);
        BSON_APPEND_UTF8(d, "op_id", op->op_id);
        BSON_APPEND_INT64(d, "version", op->version);
        BSON_APPEND_UTF8(d, "kind", op->kind);
        BSON_APPEND_UTF8(d, "user_id", op->user_id ? op->user_id : "");
        BSON_APPEND_INT64(d, "client_id", op->client_id);
        BSON_APPEND_DATE_TIME(d, "ingest_time", op->ingest_time_us / 1000);
        BSON_APPEND_DATE_TIME(d, "processed_time", op->processed_time_us / 1000);
        BSON_APPEND_INT32(d, "partition", op->partition);
        BSON_APPEND_INT64(d, "offset", op->offset);
        BSON_APPEND_DATE_TIME(d, "stored_at", now_ms);
        append_bytes(d, "bytes", op->bytes, op->len);
        docs[i] = d;
    }
    mongoc_client_t *client = cmongo_acquire(ds->mongo);
    mongoc_collection_t *coll = cmongo_collection(ds->mongo, client, "crdt_operations");
    bson_t *opts = BCON_NEW("ordered", BCON_BOOL(false));
    bson_t reply;
    bson_error_t error;
    docstore_status st = DOCSTORE_OK;
    if (!mongoc_collection_insert_many(coll, (const bson_t **)docs, count, opts, &reply, &error)) {
        if (!cmongo_is_duplicate_key(&error) || !only_duplicates(&reply))
            st = from_bson_error(&error, "insert crdt_operations", err, err_size);
    }
    if (st == DOCSTORE_OK)
        count_outcome(&ds->counts.rows_inserted, &ds->counts.rows_present,
                      reply_count(&reply, "insertedCount"), count);
    bson_destroy(&reply);
    bson_destroy(opts);
    mongoc_collection_destroy(coll);
    cmongo_release(ds->mongo, client);
    for (size_t i = 0; i < count; i++)
        bson_destroy(docs[i]);
    free(docs);
    return st;
}

/* update({_id, field: {$lt: value}}, update, upsert): a duplicate key means a
 * newer document is already stored, which is success. The outcome goes to
 * the two counters (both NULL: not counted). */
static docstore_status conditional_upsert(docstore *ds, const char *collection, const char *id,
                                          const char *field, int64_t value, const bson_t *update,
                                          _Atomic uint64_t *written, _Atomic uint64_t *newer,
                                          char *err, size_t err_size)
{
    bson_t *selector = BCON_NEW("_id", BCON_UTF8(id), field, "{", "$lt", BCON_INT64(value), "}");
    bson_t *opts = BCON_NEW("upsert", BCON_BOOL(true));
    mongoc_client_t *client = cmongo_acquire(ds->mongo);
    mongoc_collection_t *coll = cmongo_collection(ds->mongo, client, collection);
    bson_error_t error;
    bson_t reply;
    docstore_status st = DOCSTORE_OK;
    uint64_t changed = 0;
    if (mongoc_collection_update_one(coll, selector, update, opts, &reply, &error)) {
        changed = reply_count(&reply, "modifiedCount") + reply_count(&reply, "upsertedCount");
    } else if (!cmongo_is_duplicate_key(&error)) {
        char what[128];
        snprintf(what, sizeof what, "update %s", collection);
        st = from_bson_error(&error, what, err, err_size);
    }
    bson_destroy(&reply);
    if (st == DOCSTORE_OK && written)
        count_outcome(written, newer, changed, 1);
    mongoc_collection_destroy(coll);
    cmongo_release(ds->mongo, client);
    bson_destroy(opts);
    bson_destroy(selector);
    return st;
}

/* ---- Redis helpers ---- */

/* Runs conditional_hset_lua; the outcome goes to the two counters (both
 * NULL: not counted). */
static docstore_status redis_conditional_hset(docstore *ds, const char *key, const char *field,
                                              int64_t value, const char *const *pairs,
                                              const size_t *pair_lens, size_t pair_count,
                                              _Atomic uint64_t *written, _Atomic uint64_t *newer,
                                              char *err, size_t err_size)
{
    if (!ds->redis)
        return DOCSTORE_OK;
    enum { FIXED = 6, MAX_PAIRS = 12 };
    if (pair_count > MAX_PAIRS) {
        snprintf(err, err_size, "too many Redis fields");
        return DOCSTORE_FAILED;
    }
    char num[32];
    snprintf(num, sizeof num, "%" PRId64, value);
    const char *argv[FIXED + MAX_PAIRS];
    size_t lens[FIXED + MAX_PAIRS];
    argv[0] = "EVAL";
    argv[1] = conditional_hset_lua;
    argv[2] = "1";
    argv[3] = key;
    argv[4] = field;
    argv[5] = num;
    for (int i = 0; i < FIXED; i++)
        lens[i] = strlen(argv[i]);
    for (size_t i = 0; i < pair_count; i++) {
        argv[FIXED + i] = pairs[i];
        lens[FIXED + i] = pair_lens[i];
    }
    redisReply *reply = credis_command_argv(ds->redis, (int)(FIXED + pair_count), argv, lens);
    if (!reply) {
        char why[256];
        credis_last_error(ds->redis, why, sizeof why);
        snprintf(err, err_size, "redis %s: %s", key, why);
        return DOCSTORE_UNAVAILABLE;
    }
    docstore_status st = DOCSTORE_OK;
    if (reply->type == REDIS_REPLY_ERROR) {
        snprintf(err, err_size, "redis %s: %s", key, reply->str);
        st = DOCSTORE_FAILED;
    } else if (written) {
        count_outcome(written, newer,
                      reply->type == REDIS_REPLY_INTEGER && reply->integer == 1 ? 1 : 0, 1);
    }
    freeReplyObject(reply);
    return st;
}

/* ---- write side ---- */

docstore_status docstore_put_document(docstore *ds, const char *doc_id, int64_t version,
                                      const uint8_t *sv, size_t sv_len, char *err, size_t err_size)
{
    docstore_doc_version doc = {.doc_id = doc_id, .version = version, .sv = sv, .sv_len = sv_len};
    return docstore_put_documents(ds, &doc, 1, err, err_size);
}

/* The $set of a documents upsert. */
static void document_update(bson_t *update, const docstore_doc_version *doc, int64_t now_ms)
{
    bson_t set;
    BSON_APPEND_DOCUMENT_BEGIN(update, "$set", &set);
    BSON_APPEND_INT64(&set, "version", doc->version);
    append_bytes(&set, "state_vector", doc->sv, doc->sv_len);
    BSON_APPEND_DATE_TIME(&set, "updated_at", now_ms);
    bson_append_document_end(update, &set);
}

/* One update command of at most UPDATES_PER_COMMAND conditional upserts.
 * *stale is set when some document had a newer version already (a duplicate
 * key): FerretDB then stops the unordered bulk at that update and reports
 * neither the right index nor the counts (measured on v1.24), so the caller
 * sends the chunk's updates again one by one. */
static docstore_status put_documents_command(docstore *ds, mongoc_collection_t *coll,
                                             const docstore_doc_version *docs, size_t count,
                                             bool *stale, char *err, size_t err_size)
{
    bson_t *bulk_opts = BCON_NEW("ordered", BCON_BOOL(false));
    mongoc_bulk_operation_t *bulk =
        mongoc_collection_create_bulk_operation_with_opts(coll, bulk_opts);
    bson_t *upsert = BCON_NEW("upsert", BCON_BOOL(true));
    bson_error_t error;
    docstore_status st = DOCSTORE_OK;
    int64_t now_ms = util_wall_ns() / 1000000;
    *stale = false;
    for (size_t i = 0; st == DOCSTORE_OK && i < count; i++) {
        bson_t *selector = BCON_NEW("_id", BCON_UTF8(docs[i].doc_id), "version", "{", "$lt",
                                    BCON_INT64(docs[i].version), "}");
        bson_t update = BSON_INITIALIZER;
        document_update(&update, &docs[i], now_ms);
        if (!mongoc_bulk_operation_update_one_with_opts(bulk, selector, &update, upsert, &error))
            st = from_bson_error(&error, "bulk documents", err, err_size);
        bson_destroy(&update);
        bson_destroy(selector);
    }
    if (st == DOCSTORE_OK) {
        bson_t reply; /* always initialised by execute */
        if (mongoc_bulk_operation_execute(bulk, &reply, &error))
            /* With the $lt filter every match is a change. */
            count_outcome(&ds->counts.documents_written, &ds->counts.documents_newer,
                          reply_count(&reply, "nUpserted") + reply_count(&reply, "nMatched"),
                          count);
        else if (cmongo_is_duplicate_key(&error) && only_duplicates(&reply))
            *stale = true;
        else
            st = from_bson_error(&error, "update documents", err, err_size);
        bson_destroy(&reply);
    }
    mongoc_bulk_operation_destroy(bulk);
    bson_destroy(upsert);
    bson_destroy(bulk_opts);
    return st;
}

static int64_t get_int64(const bson_t *doc, const char *key, int64_t fallback);

/* The stored versions of docs (-1: no such document), one query. */
static docstore_status stored_versions(mongoc_collection_t *coll, const docstore_doc_version *docs,
                                       size_t count, int64_t *stored, char *err, size_t err_size)
{
    bson_t filter = BSON_INITIALIZER, id, in;
    BSON_APPEND_DOCUMENT_BEGIN(&filter, "_id", &id);
    BSON_APPEND_ARRAY_BEGIN(&id, "$in", &in);
    for (size_t i = 0; i < count; i++) {
        char key[24];
        snprintf(key, sizeof key, "%zu", i);
        BSON_APPEND_UTF8(&in, key, docs[i].doc_id);
        stored[i] = -1;
    }
    bson_append_array_end(&id, &in);
    bson_append_document_end(&filter, &id);
    bson_t *opts = BCON_NEW("projection", "{", "version", BCON_INT32(1), "}");
    mongoc_cursor_t *cursor = mongoc_collection_find_with_opts(coll, &filter, opts, NULL);
    const bson_t *doc;
    while (mongoc_cursor_next(cursor, &doc)) {
        bson_iter_t it;
        if (!bson_iter_init_find(&it, doc, "_id") || !BSON_ITER_HOLDS_UTF8(&it))
            continue;
        const char *doc_id = bson_iter_utf8(&it, NULL);
        for (size_t i = 0; i < count; i++) {
            if (strcmp(docs[i].doc_id, doc_id) == 0)
                stored[i] = get_int64(doc, "version", 0);
        }
    }
    bson_error_t error;
    docstore_status st = DOCSTORE_OK;
    if (mongoc_cursor_error(cursor, &error))
        st = from_bson_error(&error, "find documents", err, err_size);
    mongoc_cursor_destroy(cursor);
    bson_destroy(opts);
    bson_destroy(&filter);
    return st;
}

/* Inserts documents rows that do not exist. *raced is set when one exists
 * after all (another writer created it meanwhile): nothing is counted then
 * and the caller upserts them all conditionally. */
static docstore_status create_documents(docstore *ds, mongoc_collection_t *coll,
                                        const docstore_doc_version *const *docs, size_t count,
                                        bool *raced, char *err, size_t err_size)
{
    *raced = false;
    if (count == 0)
        return DOCSTORE_OK;
    bson_t **rows = calloc(count, sizeof *rows);
    if (!rows) {
        snprintf(err, err_size, "out of memory");
        return DOCSTORE_FAILED;
    }
    int64_t now_ms = util_wall_ns() / 1000000;
    for (size_t i = 0; i < count; i++) {
        rows[i] = bson_new();
        BSON_APPEND_UTF8(rows[i], "_id", docs[i]->doc_id);
        BSON_APPEND_INT64(rows[i], "version", docs[i]->version);
        append_bytes(rows[i], "state_vector", docs[i]->sv, docs[i]->sv_len);
        BSON_APPEND_DATE_TIME(rows[i], "updated_at", now_ms);
    }
    bson_t *opts = BCON_NEW("ordered", BCON_BOOL(false));
    bson_t reply;
    bson_error_t error;
    docstore_status st = DOCSTORE_OK;
    if (mongoc_collection_insert_many(coll, (const bson_t **)rows, count, opts, &reply, &error))
        count_outcome(&ds->counts.documents_written, &ds->counts.documents_newer, count, count);
    else if (cmongo_is_duplicate_key(&error) && only_duplicates(&reply))
        *raced = true;
    else
        st = from_bson_error(&error, "insert documents", err, err_size);
    bson_destroy(&reply);
    bson_destroy(opts);
    for (size_t i = 0; i < count; i++)
        bson_destroy(rows[i]);
    free(rows);
    return st;
}

/* Conditional upserts of docs, one bulk, then one by one when FerretDB
 * stopped the bulk at a stale one. */
static docstore_status advance_documents(docstore *ds, mongoc_collection_t *coll,
                                         const docstore_doc_version *docs, size_t count, char *err,
                                         size_t err_size)
{
    if (count == 0)
        return DOCSTORE_OK;
    bool stale = false;
    docstore_status st = put_documents_command(ds, coll, docs, count, &stale, err, err_size);
    /* One by one: each conditional upsert stands alone (a document the
     * interrupted bulk did advance now counts as already newer). */
    int64_t now_ms = util_wall_ns() / 1000000;
    for (size_t k = 0; st == DOCSTORE_OK && stale && k < count; k++) {
        bson_t update = BSON_INITIALIZER;
        document_update(&update, &docs[k], now_ms);
        st = conditional_upsert(ds, "documents", docs[k].doc_id, "version", docs[k].version,
                                &update, &ds->counts.documents_written, &ds->counts.documents_newer,
                                err, err_size);
        bson_destroy(&update);
    }
    return st;
}

/* One chunk of at most UPDATES_PER_COMMAND documents. The stored versions are
 * read first (one query): a conditional upsert costs FerretDB a scan of the
 * collection, so only documents that really advance get one; absent ones are
 * inserted (an insert of an existing _id fails, so that too never goes back)
 * and those already as new are left alone. A replay into empty views, or over
 * views already up to date, then costs a query and an insert per chunk. */
static docstore_status put_documents_chunk(docstore *ds, mongoc_collection_t *coll,
                                           const docstore_doc_version *docs, size_t count,
                                           char *err, size_t err_size)
{
    int64_t stored[UPDATES_PER_COMMAND];
    const docstore_doc_version *absent[UPDATES_PER_COMMAND];
    docstore_doc_version behind[UPDATES_PER_COMMAND];
    size_t absent_count = 0, behind_count = 0;
    docstore_status st = stored_versions(coll, docs, count, stored, err, err_size);
    if (st != DOCSTORE_OK)
        return st;
    for (size_t i = 0; i < count; i++) {
        if (stored[i] < 0)
            absent[absent_count++] = &docs[i];
        else if (stored[i] < docs[i].version)
            behind[behind_count++] = docs[i];
        else
            count_outcome(&ds->counts.documents_written, &ds->counts.documents_newer, 0, 1);
    }
    bool raced = false;
    st = create_documents(ds, coll, absent, absent_count, &raced, err, err_size);
    for (size_t i = 0; st == DOCSTORE_OK && raced && i < absent_count; i++)
        behind[behind_count++] = *absent[i];
    if (st == DOCSTORE_OK)
        st = advance_documents(ds, coll, behind, behind_count, err, err_size);
    return st;
}

docstore_status docstore_put_documents(docstore *ds, const docstore_doc_version *docs, size_t count,
                                       char *err, size_t err_size)
{
    if (count == 0)
        return DOCSTORE_OK;
    mongoc_client_t *client = cmongo_acquire(ds->mongo);
    mongoc_collection_t *coll = cmongo_collection(ds->mongo, client, "documents");
    docstore_status st = DOCSTORE_OK;
    for (size_t i = 0; st == DOCSTORE_OK && i < count; i += UPDATES_PER_COMMAND) {
        size_t n = count - i < UPDATES_PER_COMMAND ? count - i : UPDATES_PER_COMMAND;
        st = put_documents_chunk(ds, coll, docs + i, n, err, err_size);
    }
    mongoc_collection_destroy(coll);
    cmongo_release(ds->mongo, client);
    return st;
}

docstore_status docstore_cache_state(docstore *ds, const char *doc_id, int64_t version,
                                     const uint8_t *state, size_t state_len, const uint8_t *sv,
                                     size_t sv_len, docstore_position pos, char *err,
                                     size_t err_size)
{
    char key[300];
    snprintf(key, sizeof key, "doc:%s", doc_id);
    /* An unknown position is written as -1 too: a field left from an older
     * version would claim less than the state holds (harmless, readers then
     * re-read more of the log, but misleading). */
    char partition[16], offset[32];
    snprintf(partition, sizeof partition, "%" PRId32, pos.offset < 0 ? -1 : pos.partition);
    snprintf(offset, sizeof offset, "%" PRId64, pos.offset < 0 ? (int64_t)-1 : pos.offset);
    const char *pairs[] = {"state",     state ? (const char *)state : "",
                           "sv",        sv ? (const char *)sv : "",
                           "partition", partition,
                           "offset",    offset};
    size_t lens[] = {5, state ? state_len : 0, 2, sv ? sv_len : 0,
                     9, strlen(partition),     6, strlen(offset)};
    return redis_conditional_hset(ds, key, "version", version, pairs, lens, 8,
                                  &ds->counts.states_written, &ds->counts.states_newer, err,
                                  err_size);
}

docstore_status docstore_put_item(docstore *ds, const docstore_item *item, char *err,
                                  size_t err_size)
{
    char id[600];
    snprintf(id, sizeof id, "%s/%s", item->doc_id, item->item_id);
    bson_t update = BSON_INITIALIZER, set;
    BSON_APPEND_DOCUMENT_BEGIN(&update, "$set", &set);
    BSON_APPEND_UTF8(&set, "doc_id", item->doc_id);
    BSON_APPEND_UTF8(&set, "item_id", item->item_id);
    BSON_APPEND_INT64(&set, "revision", item->revision);
    BSON_APPEND_INT64(&set, "version", item->version);
    BSON_APPEND_BOOL(&set, "conflict", item->conflict);
    BSON_APPEND_UTF8(&set, "state", item->state_json);
    BSON_APPEND_DATE_TIME(&set, "updated_at", util_wall_ns() / 1000000);
    bson_append_document_end(&update, &set);
    docstore_status st =
        conditional_upsert(ds, "items", id, "revision", item->revision, &update,
                           &ds->counts.items_written, &ds->counts.items_newer, err, err_size);
    bson_destroy(&update);
    if (st != DOCSTORE_OK)
        return st;
    char key[600];
    snprintf(key, sizeof key, "item:%s:%s", item->doc_id, item->item_id);
    char version[32];
    snprintf(version, sizeof version, "%" PRId64, item->version);
    const char *pairs[] = {"version",  version,
                           "state",    item->state_json,
                           "value",    item->value ? (const char *)item->value : "",
                           "conflict", item->conflict ? "1" : "0"};
    size_t lens[] = {
        7, strlen(version), 5, strlen(item->state_json), 5, item->value ? item->value_len : 0, 8,
        1};
    return redis_conditional_hset(ds, key, "revision", item->revision, pairs, lens, 8,
                                  &ds->counts.item_caches_written, &ds->counts.item_caches_newer,
                                  err, err_size);
}

docstore_status docstore_put_snapshot(docstore *ds, const struct cavro_snapshot *snap, char *err,
                                      size_t err_size)
{
    char id[300];
    snprintf(id, sizeof id, "%s/%" PRId64, snap->doc_id, snap->doc_version);
    bson_t doc = BSON_INITIALIZER, items;
    BSON_APPEND_UTF8(&doc, "_id", id);
    BSON_APPEND_UTF8(&doc, "doc_id", snap->doc_id);
    BSON_APPEND_INT64(&doc, "version", snap->doc_version);
    append_bytes(&doc, "state", snap->state.data, snap->state.len);
    append_bytes(&doc, "state_vector", snap->state_vector.data, snap->state_vector.len);
    BSON_APPEND_ARRAY_BEGIN(&doc, "items", &items);
    for (size_t i = 0; i < snap->items.count; i++) {
        char index[24];
        snprintf(index, sizeof index, "%zu", i);
        append_bytes(&items, index, snap->items.items[i].data, snap->items.items[i].len);
    }
    bson_append_array_end(&doc, &items);
    BSON_APPEND_INT32(&doc, "partition", snap->source_partition);
    BSON_APPEND_INT64(&doc, "offset", snap->source_offset);
    BSON_APPEND_DATE_TIME(&doc, "created_at", snap->created_time_us / 1000);

    mongoc_client_t *client = cmongo_acquire(ds->mongo);
    mongoc_collection_t *coll = cmongo_collection(ds->mongo, client, "document_versions");
    bson_error_t error;
    docstore_status st = DOCSTORE_OK;
    if (!mongoc_collection_insert_one(coll, &doc, NULL, NULL, &error) &&
        !cmongo_is_duplicate_key(&error))
        st = from_bson_error(&error, "insert document_versions", err, err_size);
    mongoc_collection_destroy(coll);
    cmongo_release(ds->mongo, client);
    bson_destroy(&doc);
    if (st != DOCSTORE_OK)
        return st;

    bson_t update = BSON_INITIALIZER, set;
    BSON_APPEND_DOCUMENT_BEGIN(&update, "$set", &set);
    BSON_APPEND_INT64(&set, "version", snap->doc_version);
    BSON_APPEND_INT32(&set, "partition", snap->source_partition);
    BSON_APPEND_INT64(&set, "offset", snap->source_offset);
    BSON_APPEND_DATE_TIME(&set, "updated_at", util_wall_ns() / 1000000);
    bson_append_document_end(&update, &set);
    st = conditional_upsert(ds, "last_processed_version", snap->doc_id, "version",
                            snap->doc_version, &update, NULL, NULL, err, err_size);
    bson_destroy(&update);
    if (st != DOCSTORE_OK || !ds->redis)
        return st;

    uint8_t *record = NULL;
    size_t record_len = 0;
    char why[256];
    if (cavro_snapshot_encode(ds->avro, snap, &record, &record_len, why, sizeof why) != CAVRO_OK) {
        snprintf(err, err_size, "encode snapshot: %s", why);
        return DOCSTORE_FAILED;
    }
    char key[300], partition[16], offset[32];
    snprintf(key, sizeof key, "snapshot:%s", snap->doc_id);
    snprintf(partition, sizeof partition, "%d", (int)snap->source_partition);
    snprintf(offset, sizeof offset, "%" PRId64, snap->source_offset);
    const char *pairs[] = {"partition", partition, "offset",
                           offset,      "record",  (const char *)record};
    size_t lens[] = {9, strlen(partition), 6, strlen(offset), 6, record_len};
    st = redis_conditional_hset(ds, key, "version", snap->doc_version, pairs, lens, 6, NULL, NULL,
                                err, err_size);
    free(record);
    return st;
}

/* ---- read side ---- */

void docstore_state_clear(docstore_state *st)
{
    free(st->state);
    free(st->sv);
    memset(st, 0, sizeof *st);
}

static uint8_t *dup_bytes(const void *data, size_t len)
{
    uint8_t *out = malloc(len ? len : 1);
    if (out && len)
        memcpy(out, data, len);
    return out;
}

/* HMGET key f1 f2 ...: NULL (with err) when Redis failed; a reply otherwise. */
static redisReply *redis_hmget(docstore *ds, const char *key, const char *const *fields,
                               size_t count, docstore_status *st, char *err, size_t err_size)
{
    const char *argv[8];
    size_t lens[8];
    argv[0] = "HMGET";
    argv[1] = key;
    for (size_t i = 0; i < count; i++)
        argv[2 + i] = fields[i];
    for (size_t i = 0; i < count + 2; i++)
        lens[i] = strlen(argv[i]);
    redisReply *reply = credis_command_argv(ds->redis, (int)(count + 2), argv, lens);
    if (!reply) {
        char why[256];
        credis_last_error(ds->redis, why, sizeof why);
        snprintf(err, err_size, "redis %s: %s", key, why);
        *st = DOCSTORE_UNAVAILABLE;
        return NULL;
    }
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != count) {
        snprintf(err, err_size, "redis %s: unexpected reply", key);
        freeReplyObject(reply);
        *st = DOCSTORE_FAILED;
        return NULL;
    }
    *st = DOCSTORE_OK;
    return reply;
}

static bool parse_int64(const redisReply *r, int64_t *out)
{
    if (!r || r->type != REDIS_REPLY_STRING)
        return false;
    char buf[32];
    if (r->len == 0 || r->len >= sizeof buf)
        return false;
    memcpy(buf, r->str, r->len);
    buf[r->len] = '\0';
    char *end;
    long long v = strtoll(buf, &end, 10);
    if (*end)
        return false;
    *out = v;
    return true;
}

docstore_status docstore_get_cached_state(docstore *ds, const char *doc_id, docstore_state *out,
                                          char *err, size_t err_size)
{
    memset(out, 0, sizeof *out);
    if (!ds->redis)
        return DOCSTORE_NOT_FOUND;
    char key[300];
    snprintf(key, sizeof key, "doc:%s", doc_id);
    const char *fields[] = {"version", "state", "sv", "partition", "offset"};
    docstore_status st;
    redisReply *r = redis_hmget(ds, key, fields, 5, &st, err, err_size);
    if (!r)
        return st;
    int64_t version;
    if (!parse_int64(r->element[0], &version) || r->element[1]->type != REDIS_REPLY_STRING) {
        freeReplyObject(r);
        return DOCSTORE_NOT_FOUND;
    }
    out->version = version;
    out->state = dup_bytes(r->element[1]->str, r->element[1]->len);
    out->state_len = r->element[1]->len;
    if (r->element[2]->type == REDIS_REPLY_STRING && r->element[2]->len > 0) {
        out->sv = dup_bytes(r->element[2]->str, r->element[2]->len);
        out->sv_len = r->element[2]->len;
    }
    int64_t partition, offset;
    out->pos = DOCSTORE_POSITION_UNKNOWN;
    if (parse_int64(r->element[3], &partition) && parse_int64(r->element[4], &offset) &&
        partition >= 0 && partition <= INT32_MAX && offset >= 0)
        out->pos = (docstore_position){.partition = (int32_t)partition, .offset = offset};
    freeReplyObject(r);
    if (!out->state) {
        docstore_state_clear(out);
        snprintf(err, err_size, "out of memory");
        return DOCSTORE_FAILED;
    }
    return DOCSTORE_OK;
}

void docstore_cached_item_clear(docstore_cached_item *item)
{
    free(item->state_json);
    free(item->value);
    memset(item, 0, sizeof *item);
}

docstore_status docstore_get_cached_item(docstore *ds, const char *doc_id, const char *item_id,
                                         docstore_cached_item *out, char *err, size_t err_size)
{
    memset(out, 0, sizeof *out);
    if (!ds->redis)
        return DOCSTORE_NOT_FOUND;
    char key[600];
    snprintf(key, sizeof key, "item:%s:%s", doc_id, item_id);
    const char *fields[] = {"revision", "version", "state", "value", "conflict"};
    docstore_status st;
    redisReply *r = redis_hmget(ds, key, fields, 5, &st, err, err_size);
    if (!r)
        return st;
    if (!parse_int64(r->element[0], &out->revision) || r->element[2]->type != REDIS_REPLY_STRING) {
        freeReplyObject(r);
        return DOCSTORE_NOT_FOUND;
    }
    if (!parse_int64(r->element[1], &out->version))
        out->version = 0;
    out->state_json = malloc(r->element[2]->len + 1);
    if (out->state_json) {
        memcpy(out->state_json, r->element[2]->str, r->element[2]->len);
        out->state_json[r->element[2]->len] = '\0';
    }
    bool has_value = r->element[3]->type == REDIS_REPLY_STRING;
    out->value = dup_bytes(has_value ? r->element[3]->str : "", has_value ? r->element[3]->len : 0);
    out->value_len = has_value ? r->element[3]->len : 0;
    out->conflict = r->element[4]->type == REDIS_REPLY_STRING && r->element[4]->len == 1 &&
                    r->element[4]->str[0] == '1';
    freeReplyObject(r);
    if (!out->state_json || !out->value) {
        docstore_cached_item_clear(out);
        snprintf(err, err_size, "out of memory");
        return DOCSTORE_FAILED;
    }
    return DOCSTORE_OK;
}

static bool get_binary(const bson_t *doc, const char *key, const uint8_t **data, uint32_t *len)
{
    bson_iter_t it;
    bson_subtype_t sub;
    if (!bson_iter_init_find(&it, doc, key) || !BSON_ITER_HOLDS_BINARY(&it))
        return false;
    bson_iter_binary(&it, &sub, len, data);
    return true;
}

static int64_t get_int64(const bson_t *doc, const char *key, int64_t fallback)
{
    bson_iter_t it;
    if (!bson_iter_init_find(&it, doc, key) || !BSON_ITER_HOLDS_NUMBER(&it))
        return fallback;
    return bson_iter_as_int64(&it);
}

static docstore_status snapshot_from_bson(const bson_t *doc, const char *doc_id,
                                          struct cavro_snapshot *out, char *err, size_t err_size)
{
    memset(out, 0, sizeof *out);
    const uint8_t *state, *sv;
    uint32_t state_len, sv_len;
    if (!get_binary(doc, "state", &state, &state_len) ||
        !get_binary(doc, "state_vector", &sv, &sv_len)) {
        snprintf(err, err_size, "document_versions of %s: state missing", doc_id);
        return DOCSTORE_FAILED;
    }
    out->doc_id = strdup(doc_id);
    out->doc_version = get_int64(doc, "version", 0);
    out->state.data = dup_bytes(state, state_len);
    out->state.len = state_len;
    out->state_vector.data = dup_bytes(sv, sv_len);
    out->state_vector.len = sv_len;
    out->source_partition = (int32_t)get_int64(doc, "partition", 0);
    out->source_offset = get_int64(doc, "offset", -1);
    bson_iter_t it, child;
    bool ok = out->doc_id && out->state.data && out->state_vector.data;
    if (ok && bson_iter_init_find(&it, doc, "items") && BSON_ITER_HOLDS_ARRAY(&it) &&
        bson_iter_recurse(&it, &child)) {
        size_t cap = 0;
        while (ok && bson_iter_next(&child)) {
            if (!BSON_ITER_HOLDS_BINARY(&child))
                continue;
            if (out->items.count == cap) {
                cap = cap ? cap * 2 : 8;
                struct cavro_bytes *grown = realloc(out->items.items, cap * sizeof *grown);
                if (!grown) {
                    ok = false;
                    break;
                }
                out->items.items = grown;
            }
            const uint8_t *data;
            uint32_t len;
            bson_subtype_t sub;
            bson_iter_binary(&child, &sub, &len, &data);
            struct cavro_bytes *b = &out->items.items[out->items.count];
            b->data = dup_bytes(data, len);
            b->len = len;
            if (!b->data)
                ok = false;
            else
                out->items.count++;
        }
    }
    if (!ok) {
        cavro_snapshot_clear(out);
        snprintf(err, err_size, "out of memory");
        return DOCSTORE_FAILED;
    }
    return DOCSTORE_OK;
}

static docstore_status redis_snapshot(docstore *ds, const char *doc_id, struct cavro_snapshot *out,
                                      char *err, size_t err_size)
{
    if (!ds->redis)
        return DOCSTORE_NOT_FOUND;
    char key[300];
    snprintf(key, sizeof key, "snapshot:%s", doc_id);
    const char *fields[] = {"record"};
    docstore_status st;
    redisReply *r = redis_hmget(ds, key, fields, 1, &st, err, err_size);
    if (!r)
        return st;
    if (r->element[0]->type != REDIS_REPLY_STRING) {
        freeReplyObject(r);
        return DOCSTORE_NOT_FOUND;
    }
    char why[256];
    enum cavro_status cs = cavro_snapshot_decode(ds->avro, (const uint8_t *)r->element[0]->str,
                                                 r->element[0]->len, out, why, sizeof why);
    freeReplyObject(r);
    if (cs != CAVRO_OK) {
        snprintf(err, err_size, "redis snapshot:%s: %s", doc_id, why);
        return DOCSTORE_FAILED;
    }
    return DOCSTORE_OK;
}

docstore_status docstore_latest_snapshot(docstore *ds, const char *doc_id,
                                         struct cavro_snapshot *out, char *err, size_t err_size)
{
    memset(out, 0, sizeof *out);
    /* Redis is only a cache: any failure there falls through to MongoDB. */
    if (redis_snapshot(ds, doc_id, out, err, err_size) == DOCSTORE_OK)
        return DOCSTORE_OK;
    bson_t *filter = BCON_NEW("doc_id", BCON_UTF8(doc_id));
    bson_t *opts = BCON_NEW("sort", "{", "version", BCON_INT32(-1), "}", "limit", BCON_INT64(1));
    mongoc_client_t *client = cmongo_acquire(ds->mongo);
    mongoc_collection_t *coll = cmongo_collection(ds->mongo, client, "document_versions");
    mongoc_cursor_t *cursor = mongoc_collection_find_with_opts(coll, filter, opts, NULL);
    const bson_t *doc;
    docstore_status st = DOCSTORE_NOT_FOUND;
    if (mongoc_cursor_next(cursor, &doc))
        st = snapshot_from_bson(doc, doc_id, out, err, err_size);
    bson_error_t error;
    if (st == DOCSTORE_NOT_FOUND && mongoc_cursor_error(cursor, &error))
        st = from_bson_error(&error, "find document_versions", err, err_size);
    mongoc_cursor_destroy(cursor);
    mongoc_collection_destroy(coll);
    cmongo_release(ds->mongo, client);
    bson_destroy(opts);
    bson_destroy(filter);
    return st;
}

static const char *get_utf8(const bson_t *doc, const char *key)
{
    bson_iter_t it;
    if (!bson_iter_init_find(&it, doc, key) || !BSON_ITER_HOLDS_UTF8(&it))
        return "";
    return bson_iter_utf8(&it, NULL);
}

static int64_t get_time_us(const bson_t *doc, const char *key)
{
    bson_iter_t it;
    if (!bson_iter_init_find(&it, doc, key) || !BSON_ITER_HOLDS_DATE_TIME(&it))
        return 0;
    return bson_iter_date_time(&it) * 1000;
}

docstore_status docstore_ops_after(docstore *ds, const char *doc_id, int64_t after, int64_t limit,
                                   docstore_op_fn fn, void *userdata, char *err, size_t err_size)
{
    bson_t *filter =
        BCON_NEW("doc_id", BCON_UTF8(doc_id), "version", "{", "$gt", BCON_INT64(after), "}");
    bson_t *opts = BCON_NEW("sort", "{", "version", BCON_INT32(1), "}");
    if (limit > 0)
        BSON_APPEND_INT64(opts, "limit", limit);
    mongoc_client_t *client = cmongo_acquire(ds->mongo);
    mongoc_collection_t *coll = cmongo_collection(ds->mongo, client, "crdt_operations");
    mongoc_cursor_t *cursor = mongoc_collection_find_with_opts(coll, filter, opts, NULL);
    const bson_t *doc;
    docstore_status st = DOCSTORE_OK;
    while (mongoc_cursor_next(cursor, &doc)) {
        docstore_op op = {0};
        op.doc_id = doc_id;
        op.op_id = get_utf8(doc, "op_id");
        op.version = get_int64(doc, "version", 0);
        op.kind = get_utf8(doc, "kind");
        op.user_id = get_utf8(doc, "user_id");
        op.client_id = get_int64(doc, "client_id", 0);
        op.ingest_time_us = get_time_us(doc, "ingest_time");
        op.processed_time_us = get_time_us(doc, "processed_time");
        op.partition = (int32_t)get_int64(doc, "partition", 0);
        op.offset = get_int64(doc, "offset", -1);
        uint32_t len = 0;
        if (!get_binary(doc, "bytes", &op.bytes, &len)) {
            snprintf(err, err_size, "crdt_operations %s version %" PRId64 ": bytes missing", doc_id,
                     op.version);
            st = DOCSTORE_FAILED;
            break;
        }
        op.len = len;
        if (fn(userdata, &op) != 0)
            break;
    }
    bson_error_t error;
    if (st == DOCSTORE_OK && mongoc_cursor_error(cursor, &error))
        st = from_bson_error(&error, "find crdt_operations", err, err_size);
    mongoc_cursor_destroy(cursor);
    mongoc_collection_destroy(coll);
    cmongo_release(ds->mongo, client);
    bson_destroy(opts);
    bson_destroy(filter);
    return st;
}

/* Collects the contiguous Yjs updates after a snapshot for docstore_load_state. */
typedef struct update_list {
    int64_t version;       /* last version collected */
    docstore_position pos; /* collab.ops position of that version */
    uint8_t **data;
    size_t *lens;
    size_t count, cap;
    bool nomem;
} update_list;

static bool list_push(update_list *l, const uint8_t *bytes, size_t len)
{
    if (l->count == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        uint8_t **data = realloc(l->data, cap * sizeof *data);
        if (!data)
            return false;
        l->data = data;
        size_t *lens = realloc(l->lens, cap * sizeof *lens);
        if (!lens)
            return false;
        l->lens = lens;
        l->cap = cap;
    }
    l->data[l->count] = dup_bytes(bytes, len);
    if (!l->data[l->count])
        return false;
    l->lens[l->count++] = len;
    return true;
}

static int collect_update(void *userdata, const docstore_op *op)
{
    update_list *l = userdata;
    if (op->version != l->version + 1)
        return 1; /* a gap: the views are behind; stop at the last contiguous version */
    l->version = op->version;
    l->pos = (docstore_position){.partition = op->partition, .offset = op->offset};
    /* Item records count as versions but carry no Yjs content. */
    if (strcmp(op->kind, "YJS_UPDATE") == 0 && !list_push(l, op->bytes, op->len)) {
        l->nomem = true;
        return 1;
    }
    return 0;
}

/* The newest snapshot plus the contiguous crdt_operations after it, merged. */
static docstore_status load_from_views(docstore *ds, const char *doc_id, docstore_state *out,
                                       char *err, size_t err_size)
{
    memset(out, 0, sizeof *out);
    out->pos = DOCSTORE_POSITION_UNKNOWN;
    docstore_status st;
    struct cavro_snapshot snap;
    st = docstore_latest_snapshot(ds, doc_id, &snap, err, err_size);
    if (st != DOCSTORE_OK && st != DOCSTORE_NOT_FOUND)
        return st;
    bool have_snapshot = st == DOCSTORE_OK;
    update_list l = {.version = have_snapshot ? snap.doc_version : 0,
                     .pos = DOCSTORE_POSITION_UNKNOWN};
    if (have_snapshot && snap.source_offset >= 0)
        l.pos =
            (docstore_position){.partition = snap.source_partition, .offset = snap.source_offset};
    if (have_snapshot && !list_push(&l, snap.state.data, snap.state.len))
        l.nomem = true;
    st = l.nomem ? DOCSTORE_OK
                 : docstore_ops_after(ds, doc_id, l.version, 0, collect_update, &l, err, err_size);
    if (st == DOCSTORE_OK && l.nomem) {
        snprintf(err, err_size, "out of memory");
        st = DOCSTORE_FAILED;
    }
    if (st == DOCSTORE_OK && !have_snapshot && l.version == 0)
        st = DOCSTORE_NOT_FOUND;
    if (st == DOCSTORE_OK) {
        crdt_doc *doc = NULL;
        crdt_status cs = crdt_doc_new(NULL, &doc);
        for (size_t i = 0; cs == CRDT_OK && i < l.count; i++)
            cs = crdt_apply_update(doc, l.data[i], l.lens[i], NULL);
        if (cs == CRDT_OK)
            cs = crdt_encode_state(doc, NULL, 0, &out->state, &out->state_len);
        if (cs == CRDT_OK)
            cs = crdt_encode_state_vector(doc, &out->sv, &out->sv_len);
        crdt_doc_free(doc);
        if (cs != CRDT_OK) {
            docstore_state_clear(out);
            snprintf(err, err_size, "rebuild %s: %s", doc_id, crdt_strerror(cs));
            st = DOCSTORE_FAILED;
        } else {
            out->version = l.version;
            out->pos = l.pos;
        }
    }
    for (size_t i = 0; i < l.count; i++)
        free(l.data[i]);
    free(l.data);
    free(l.lens);
    if (have_snapshot)
        cavro_snapshot_clear(&snap);
    return st;
}

docstore_status docstore_load_state(docstore *ds, const char *doc_id, docstore_state *out,
                                    char *err, size_t err_size)
{
    docstore_status st = docstore_get_cached_state(ds, doc_id, out, err, err_size);
    if (st == DOCSTORE_OK)
        return st;
    return load_from_views(ds, doc_id, out, err, err_size);
}

docstore_status docstore_load_positioned_state(docstore *ds, const char *doc_id,
                                               docstore_state *out, char *err, size_t err_size)
{
    docstore_status st = docstore_get_cached_state(ds, doc_id, out, err, err_size);
    if (st == DOCSTORE_OK && out->pos.offset >= 0)
        return st;
    docstore_state_clear(out);
    return load_from_views(ds, doc_id, out, err, err_size);
}

docstore_status docstore_items(docstore *ds, const char *doc_id, docstore_item_fn fn,
                               void *userdata, char *err, size_t err_size)
{
    bson_t *filter = BCON_NEW("doc_id", BCON_UTF8(doc_id));
    mongoc_client_t *client = cmongo_acquire(ds->mongo);
    mongoc_collection_t *coll = cmongo_collection(ds->mongo, client, "items");
    mongoc_cursor_t *cursor = mongoc_collection_find_with_opts(coll, filter, NULL, NULL);
    const bson_t *doc;
    while (mongoc_cursor_next(cursor, &doc)) {
        if (fn(userdata, get_utf8(doc, "item_id"), get_int64(doc, "revision", 0),
               get_utf8(doc, "state")) != 0)
            break;
    }
    bson_error_t error;
    docstore_status st = DOCSTORE_OK;
    if (mongoc_cursor_error(cursor, &error))
        st = from_bson_error(&error, "find items", err, err_size);
    mongoc_cursor_destroy(cursor);
    mongoc_collection_destroy(coll);
    cmongo_release(ds->mongo, client);
    bson_destroy(filter);
    return st;
}

docstore_status docstore_document_meta(docstore *ds, const char *doc_id, docstore_doc_meta *out,
                                       char *err, size_t err_size)
{
    memset(out, 0, sizeof *out);
    snprintf(out->policy, sizeof out->policy, "manual");
    bson_t *filter = BCON_NEW("_id", BCON_UTF8(doc_id));
    mongoc_client_t *client = cmongo_acquire(ds->mongo);
    mongoc_collection_t *coll = cmongo_collection(ds->mongo, client, "documents");
    mongoc_cursor_t *cursor = mongoc_collection_find_with_opts(coll, filter, NULL, NULL);
    const bson_t *doc;
    docstore_status st = DOCSTORE_NOT_FOUND;
    if (mongoc_cursor_next(cursor, &doc)) {
        st = DOCSTORE_OK;
        out->version = get_int64(doc, "version", 0);
        out->created_ms = get_time_us(doc, "created_at") / 1000;
        const char *p = get_utf8(doc, "item_policy");
        if (*p)
            snprintf(out->policy, sizeof out->policy, "%s", p);
    }
    bson_error_t error;
    if (st == DOCSTORE_NOT_FOUND && mongoc_cursor_error(cursor, &error))
        st = from_bson_error(&error, "find documents", err, err_size);
    mongoc_cursor_destroy(cursor);
    mongoc_collection_destroy(coll);
    cmongo_release(ds->mongo, client);
    bson_destroy(filter);
    return st;
}
