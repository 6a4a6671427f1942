/*
 * doc.c - document lifecycle (create with options, free), the public apply entry points and
 * crdt_strerror.
 */
#define _DEFAULT_SOURCE /* getentropy */
#include "crdt/internal.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Like Yjs: a random, non-zero 32-bit client id. */
static int random_client_id(uint64_t *out)
{
    uint32_t r = 0;
    while (r == 0)
        if (getentropy(&r, sizeof(r)) != 0)
            return -1;
    *out = r;
    return 0;
}

void crdt_options_init(crdt_options *opts)
{
    memset(opts, 0, sizeof(*opts));
    opts->gc = 1;
}

crdt_status crdt_doc_new(const crdt_options *opts, crdt_doc **out)
{
    if (!out)
        return CRDT_ERR_ARG;
    crdt_options defaults;
    if (!opts) {
        crdt_options_init(&defaults);
        opts = &defaults;
    }
    crdt_doc *doc = calloc(1, sizeof(*doc));
    if (!doc)
        return CRDT_ERR_NOMEM;
    doc->gc = opts->gc != 0;
    crdt_limits_resolve(&opts->limits, &doc->lim);
    doc->client_id = opts->client_id;
    if (doc->client_id == 0 && random_client_id(&doc->client_id) != 0) {
        free(doc);
        return CRDT_ERR_NOMEM;
    }
    if (doc->client_id > doc->lim.max_client_id) {
        free(doc);
        return CRDT_ERR_ARG;
    }
    crdt_pool_init(&doc->pool);
    crdt_arena_init(&doc->text);
    doc->text_compact_at = (size_t)1 << 16;
    crdt_intern_init(&doc->keys);
    crdt_pmap_init(&doc->roots);
    *out = doc;
    return CRDT_OK;
}

void crdt_doc_free(crdt_doc *doc)
{
    if (!doc)
        return;
    for (size_t i = 0; i < doc->clients_cap; i++) {
        crdt_client *c = doc->clients[i];
        if (!c)
            continue;
        for (size_t k = 0; k < c->n; k++)
            crdt_content_free(crdt_client_at(c, k));
        free(c->structs);
        free(c->clocks);
        free(c);
    }
    free(doc->clients);
    for (size_t i = 0; i < doc->roots.n; i++)
        crdt_type_free(doc->roots.entries[i].val);
    crdt_pmap_free(&doc->roots);
    crdt_intern_free(&doc->keys);
    crdt_pool_destroy(&doc->pool);
    crdt_arena_destroy(&doc->text);
    for (size_t i = 0; i < doc->npending; i++)
        free(doc->pending[i]);
    free(doc->pending);
    free(doc->pending_lens);
    free(doc->missing);
    crdt_ranges_free(&doc->pending_ds);
    crdt_ranges_free(&doc->ds_buffer);
    crdt_ranges_free(&doc->txn.ds);
    free(doc->txn.merge);
    free(doc->txn.changed);
    free(doc->stack);
    free(doc);
}

uint64_t crdt_doc_client_id(const crdt_doc *doc)
{
    return doc->client_id;
}

int crdt_doc_has_pending(const crdt_doc *doc)
{
    return doc->npending > 0 || doc->pending_ds.n > 0;
}

/* Applies an update; if it carried structs of our own client id (another replica uses it),
 * switch to a new id for local edits, as Yjs does, so that our next edits cannot collide. */
static crdt_status apply(crdt_doc *doc, const uint8_t *update, size_t len, int v2,
                         crdt_apply_result *result)
{
    if (!doc || (!update && len))
        return CRDT_ERR_ARG;
    uint64_t before = crdt_store_state(doc, doc->client_id);
    crdt_status st = crdt_apply(doc, update, len, v2, result);
    if (st == CRDT_OK && crdt_store_state(doc, doc->client_id) != before) {
        uint64_t id = doc->client_id;
        while (id == doc->client_id || crdt_store_state(doc, id) != 0)
            if (random_client_id(&id) != 0)
                return CRDT_ERR_NOMEM;
        doc->client_id = id;
    }
    return st;
}

crdt_status crdt_apply_update(crdt_doc *doc, const uint8_t *update, size_t len,
                              crdt_apply_result *result)
{
    return apply(doc, update, len, 0, result);
}

crdt_status crdt_apply_update_v2(crdt_doc *doc, const uint8_t *update, size_t len,
                                 crdt_apply_result *result)
{
    return apply(doc, update, len, 1, result);
}

const char *crdt_strerror(crdt_status status)
{
    switch (status) {
    case CRDT_OK:
        return "ok";
    case CRDT_ERR_NOMEM:
        return "out of memory";
    case CRDT_ERR_TRUNCATED:
        return "truncated input";
    case CRDT_ERR_MALFORMED:
        return "malformed input";
    case CRDT_ERR_LIMIT:
        return "input exceeds a configured limit";
    case CRDT_ERR_ARG:
        return "invalid argument";
    case CRDT_ERR_TYPE:
        return "wrong type";
    }
    return "unknown error";
}
