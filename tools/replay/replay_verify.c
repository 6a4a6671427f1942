/*
 * replay_verify: --verify. Compares the views with the documents rebuilt
 * from the log and reports each difference on one line; writes nothing.
 * A view older than the log, missing, or different at the same version is a
 * difference; a view newer than the log read is not (a running processor
 * writes on while the replay reads), it is only counted. See replay.h.
 */
#include <inttypes.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "crdt/crdt.h"
#include "processor/views.h"
#include "tools/replay/replay_internal.h"

/* ---- crdt_operations ---- */

int replay_verify_rows(replay_ctx *c, const docstore_op *ops, size_t count)
{
    char(*ids)[600] = calloc(count, sizeof *ids);
    bool *found = calloc(count, sizeof *found);
    if (!ids || !found) {
        free(ids);
        free(found);
        snprintf(c->err, c->err_size, "out of memory");
        return -1;
    }
    bson_t filter = BSON_INITIALIZER, id, in;
    BSON_APPEND_DOCUMENT_BEGIN(&filter, "_id", &id);
    BSON_APPEND_ARRAY_BEGIN(&id, "$in", &in);
    for (size_t i = 0; i < count; i++) {
        snprintf(ids[i], sizeof ids[i], "%s/%s", ops[i].doc_id, ops[i].op_id);
        char key[24];
        snprintf(key, sizeof key, "%zu", i);
        BSON_APPEND_UTF8(&in, key, ids[i]);
    }
    bson_append_array_end(&id, &in);
    bson_append_document_end(&filter, &id);
    cmongo *m = docstore_mongo(c->ds);
    mongoc_client_t *client = cmongo_acquire(m);
    mongoc_collection_t *coll = cmongo_collection(m, client, "crdt_operations");
    mongoc_cursor_t *cursor = mongoc_collection_find_with_opts(coll, &filter, NULL, NULL);
    const bson_t *row;
    while (mongoc_cursor_next(cursor, &row)) {
        bson_iter_t it;
        if (!bson_iter_init_find(&it, row, "_id") || !BSON_ITER_HOLDS_UTF8(&it))
            continue;
        const char *row_id = bson_iter_utf8(&it, NULL);
        size_t i = 0;
        while (i < count && strcmp(ids[i], row_id) != 0)
            i++;
        if (i == count)
            continue;
        found[i] = true;
        int64_t version = -1;
        const char *kind = "";
        const uint8_t *bytes = NULL;
        uint32_t len = 0;
        if (bson_iter_init_find(&it, row, "version") && BSON_ITER_HOLDS_NUMBER(&it))
            version = bson_iter_as_int64(&it);
        if (bson_iter_init_find(&it, row, "kind") && BSON_ITER_HOLDS_UTF8(&it))
            kind = bson_iter_utf8(&it, NULL);
        if (bson_iter_init_find(&it, row, "bytes") && BSON_ITER_HOLDS_BINARY(&it)) {
            bson_subtype_t sub;
            bson_iter_binary(&it, &sub, &len, &bytes);
        }
        if (version != ops[i].version)
            replay_difference(c, "crdt_operations %s: version %" PRId64 ", the log says %" PRId64,
                              ids[i], version, ops[i].version);
        else if (strcmp(kind, ops[i].kind) != 0 || len != ops[i].len ||
                 (len && memcmp(bytes, ops[i].bytes, len) != 0))
            replay_difference(c, "crdt_operations %s: kind or bytes differ from the log", ids[i]);
    }
    bson_error_t error;
    int rc = 0;
    if (mongoc_cursor_error(cursor, &error)) {
        snprintf(c->err, c->err_size, "find crdt_operations: %s", error.message);
        rc = -1;
    }
    for (size_t i = 0; rc == 0 && i < count; i++) {
        if (!found[i])
            replay_difference(c, "crdt_operations %s: missing (version %" PRId64 ")", ids[i],
                              ops[i].version);
    }
    mongoc_cursor_destroy(cursor);
    mongoc_collection_destroy(coll);
    cmongo_release(m, client);
    bson_destroy(&filter);
    free(ids);
    free(found);
    return rc;
}

/* ---- documents ---- */

/* Compares a stored version with the log's. true when they are equal (the
 * caller then compares the content); reports or counts otherwise. */
static bool same_version(replay_ctx *c, const char *what, int64_t stored, int64_t log_version)
{
    if (stored == log_version)
        return true;
    if (stored > log_version)
        c->stats->views_ahead++;
    else
        replay_difference(c, "%s: version %" PRId64 ", the log says %" PRId64 " (behind)", what,
                          stored, log_version);
    return false;
}

static int verify_document(replay_ctx *c, pdoc *d, const uint8_t *sv, size_t sv_len)
{
    cmongo *m = docstore_mongo(c->ds);
    mongoc_client_t *client = cmongo_acquire(m);
    mongoc_collection_t *coll = cmongo_collection(m, client, "documents");
    bson_t *filter = BCON_NEW("_id", BCON_UTF8(d->id));
    mongoc_cursor_t *cursor = mongoc_collection_find_with_opts(coll, filter, NULL, NULL);
    const bson_t *doc;
    char what[400];
    snprintf(what, sizeof what, "documents %s", d->id);
    bool found = mongoc_cursor_next(cursor, &doc);
    if (found) {
        bson_iter_t it;
        int64_t version = 0;
        if (bson_iter_init_find(&it, doc, "version") && BSON_ITER_HOLDS_NUMBER(&it))
            version = bson_iter_as_int64(&it);
        if (same_version(c, what, version, d->version)) {
            const uint8_t *stored = NULL;
            uint32_t len = 0;
            if (bson_iter_init_find(&it, doc, "state_vector") && BSON_ITER_HOLDS_BINARY(&it)) {
                bson_subtype_t sub;
                bson_iter_binary(&it, &sub, &len, &stored);
            }
            if (len != sv_len || (len && memcmp(stored, sv, len) != 0))
                replay_difference(c, "%s: state_vector differs at version %" PRId64, what,
                                  d->version);
        }
    }
    bson_error_t error;
    int rc = 0;
    if (mongoc_cursor_error(cursor, &error)) {
        snprintf(c->err, c->err_size, "find documents: %s", error.message);
        rc = -1;
    } else if (!found) {
        replay_difference(c, "%s: missing (the log says version %" PRId64 ")", what, d->version);
    }
    mongoc_cursor_destroy(cursor);
    bson_destroy(filter);
    mongoc_collection_destroy(coll);
    cmongo_release(m, client);
    return rc;
}

/* A state as the engine encodes it after loading it into a fresh document:
 * two states with the same content compare equal whatever path built them.
 * NULL when the engine refuses it. Caller frees. */
static uint8_t *normalised(const uint8_t *state, size_t len, size_t *out_len)
{
    crdt_doc *doc = NULL;
    uint8_t *out = NULL;
    if (crdt_doc_new(NULL, &doc) == CRDT_OK &&
        crdt_apply_update(doc, state, len, NULL) == CRDT_OK &&
        crdt_encode_state(doc, NULL, 0, &out, out_len) != CRDT_OK)
        out = NULL;
    crdt_doc_free(doc);
    return out;
}

static int verify_cached_state(replay_ctx *c, pdoc *d, const uint8_t *state, size_t state_len)
{
    docstore_state cached;
    docstore_status st = docstore_get_cached_state(c->ds, d->id, &cached, c->err, c->err_size);
    char what[400];
    snprintf(what, sizeof what, "redis doc:%s", d->id);
    if (st == DOCSTORE_NOT_FOUND) {
        replay_difference(c, "%s: missing (the log says version %" PRId64 ")", what, d->version);
        return 0;
    }
    if (st != DOCSTORE_OK)
        return -1;
    if (same_version(c, what, cached.version, d->version)) {
        size_t a_len = 0, b_len = 0;
        uint8_t *a = normalised(cached.state, cached.state_len, &a_len);
        uint8_t *b = normalised(state, state_len, &b_len);
        if (!a || !b || a_len != b_len || memcmp(a, b, a_len) != 0)
            replay_difference(c, "%s: state differs at version %" PRId64, what, d->version);
        free(a);
        free(b);
    }
    docstore_state_clear(&cached);
    return 0;
}

/* ---- items ---- */

typedef struct stored_item {
    char *item_id;
    int64_t revision;
    char *state_json;
} stored_item;

typedef struct stored_items {
    stored_item *items;
    size_t count, cap;
    bool nomem;
} stored_items;

static int collect_item(void *userdata, const char *item_id, int64_t revision,
                        const char *state_json)
{
    stored_items *l = userdata;
    if (l->count == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        stored_item *grown = realloc(l->items, cap * sizeof *grown);
        if (!grown) {
            l->nomem = true;
            return 1;
        }
        l->items = grown;
        l->cap = cap;
    }
    stored_item *it = &l->items[l->count];
    it->item_id = strdup(item_id);
    it->state_json = strdup(state_json);
    it->revision = revision;
    if (!it->item_id || !it->state_json) {
        free(it->item_id);
        free(it->state_json);
        l->nomem = true;
        return 1;
    }
    l->count++;
    return 0;
}

static void stored_items_free(stored_items *l)
{
    for (size_t i = 0; i < l->count; i++) {
        free(l->items[i].item_id);
        free(l->items[i].state_json);
    }
    free(l->items);
}

/* Same JSON value (key order and spacing aside). */
static bool same_json(const char *a, const char *b)
{
    json_t *x = json_loads(a, 0, NULL), *y = json_loads(b, 0, NULL);
    bool same = x && y && json_equal(x, y);
    json_decref(x);
    json_decref(y);
    return same;
}

static void verify_item(replay_ctx *c, pdoc *d, const docstore_item *want,
                        const stored_items *stored)
{
    char what[700];
    snprintf(what, sizeof what, "items %s/%s", d->id, want->item_id);
    const stored_item *have = NULL;
    for (size_t i = 0; !have && i < stored->count; i++) {
        if (strcmp(stored->items[i].item_id, want->item_id) == 0)
            have = &stored->items[i];
    }
    if (!have)
        replay_difference(c, "%s: missing (the log says revision %" PRId64 ")", what,
                          want->revision);
    else if (same_version(c, what, have->revision, want->revision) &&
             !same_json(have->state_json, want->state_json))
        replay_difference(c, "%s: state differs at revision %" PRId64, what, want->revision);
}

static int verify_cached_item(replay_ctx *c, pdoc *d, const docstore_item *want)
{
    docstore_cached_item have;
    docstore_status st =
        docstore_get_cached_item(c->ds, d->id, want->item_id, &have, c->err, c->err_size);
    char what[700];
    snprintf(what, sizeof what, "redis item:%s:%s", d->id, want->item_id);
    if (st == DOCSTORE_NOT_FOUND) {
        replay_difference(c, "%s: missing (the log says revision %" PRId64 ")", what,
                          want->revision);
        return 0;
    }
    if (st != DOCSTORE_OK)
        return -1;
    if (same_version(c, what, have.revision, want->revision)) {
        size_t want_len = want->value ? want->value_len : 0;
        if (!same_json(have.state_json, want->state_json) || have.conflict != want->conflict ||
            have.value_len != want_len ||
            (want_len && memcmp(have.value, want->value, want_len) != 0))
            replay_difference(c, "%s: state, value or conflict differ at revision %" PRId64, what,
                              want->revision);
    }
    docstore_cached_item_clear(&have);
    return 0;
}

static int verify_items(replay_ctx *c, pdoc *d)
{
    stored_items stored = {0};
    docstore_status st = docstore_items(c->ds, d->id, collect_item, &stored, c->err, c->err_size);
    int rc = st == DOCSTORE_OK && !stored.nomem ? 0 : -1;
    if (stored.nomem)
        snprintf(c->err, c->err_size, "out of memory");
    for (size_t i = 0; rc == 0 && i < d->item_count; i++) {
        docstore_item want;
        char *json = NULL;
        if (pviews_item_view(d->id, d->items[i], &want, &json) != 0) {
            snprintf(c->err, c->err_size, "out of memory");
            rc = -1;
            break;
        }
        verify_item(c, d, &want, &stored);
        rc = verify_cached_item(c, d, &want);
        free(json);
    }
    stored_items_free(&stored);
    return rc;
}

int replay_verify_doc(replay_ctx *c, pdoc *d)
{
    replay_doc_track *t = d->user;
    int rc = 0;
    if (!t->incomplete) {
        uint8_t *state = NULL, *sv = NULL;
        size_t state_len = 0, sv_len = 0;
        if (crdt_encode_state(d->crdt, NULL, 0, &state, &state_len) != CRDT_OK ||
            crdt_encode_state_vector(d->crdt, &sv, &sv_len) != CRDT_OK) {
            snprintf(c->err, c->err_size, "%s: cannot encode its state", d->id);
            rc = -1;
        }
        if (rc == 0)
            rc = verify_document(c, d, sv, sv_len);
        if (rc == 0)
            rc = verify_cached_state(c, d, state, state_len);
        free(state);
        free(sv);
    }
    if (rc == 0)
        rc = verify_items(c, d);
    return rc;
}
