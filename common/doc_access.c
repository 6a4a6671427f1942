/*
 * doc_access: the role lookup of the WebSocket endpoints with a TTL cache
 * keyed "<doc>/<user>". See doc_access.h.
 */
#include "common/doc_access.h"

#include <stdio.h>
#include <stdlib.h>

#include "common/strmap.h"

/* Beyond this many cached answers the cache is emptied: simpler than LRU
 * and only reachable with far more distinct users than a node serves. */
#define CACHE_MAX 100000

typedef struct cached {
    docaccess_status status;
    ustore_role role;
    int64_t expires_ms;
} cached;

struct docaccess {
    ustore *store;
    int64_t ttl_ms;
    cmap *cache;
};

docaccess *docaccess_new(ustore *store, int64_t ttl_ms)
{
    docaccess *a = calloc(1, sizeof *a);
    if (!a || !(a->cache = cmap_new())) {
        free(a);
        return NULL;
    }
    a->store = store;
    a->ttl_ms = ttl_ms;
    return a;
}

static int drop_all(void *userdata, const char *key, void *value)
{
    (void)userdata;
    (void)key;
    free(value);
    return 0;
}

void docaccess_free(docaccess *a)
{
    if (!a)
        return;
    cmap_filter(a->cache, drop_all, NULL);
    cmap_free(a->cache);
    free(a);
}

static docaccess_status lookup(docaccess *a, const char *doc_id, const char *user_id,
                               ustore_role *role)
{
    *role = USTORE_ROLE_NONE;
    ustore_status st = ustore_permission_get(a->store, doc_id, user_id, role);
    if (st == USTORE_OK && *role != USTORE_ROLE_NONE)
        return DOCACCESS_OK;
    if (st != USTORE_OK && st != USTORE_NOT_FOUND)
        return DOCACCESS_UNAVAILABLE;
    /* No role: tell a missing document (404) from a missing right (403). */
    *role = USTORE_ROLE_NONE;
    ustore_doc doc;
    st = ustore_doc_get(a->store, doc_id, &doc);
    if (st == USTORE_NOT_FOUND)
        return DOCACCESS_NOT_FOUND;
    return st == USTORE_OK ? DOCACCESS_OK : DOCACCESS_UNAVAILABLE;
}

docaccess_status docaccess_role(docaccess *a, const char *doc_id, const char *user_id,
                                int64_t now_ms, ustore_role *role)
{
    char key[USTORE_DOC_ID_MAX + USTORE_USER_ID_LEN + 8];
    snprintf(key, sizeof key, "%s/%s", doc_id, user_id);
    cached *c = a->ttl_ms > 0 ? cmap_get(a->cache, key) : NULL;
    if (c && c->expires_ms > now_ms) {
        *role = c->role;
        return c->status;
    }
    docaccess_status st = lookup(a, doc_id, user_id, role);
    if (st == DOCACCESS_UNAVAILABLE || a->ttl_ms <= 0)
        return st;
    if (!c) {
        if (cmap_count(a->cache) >= CACHE_MAX)
            cmap_filter(a->cache, drop_all, NULL);
        c = malloc(sizeof *c);
        if (!c || cmap_put(a->cache, key, c) != 0) {
            free(c);
            return st;
        }
    }
    c->status = st;
    c->role = *role;
    c->expires_ms = now_ms + a->ttl_ms;
    return st;
}

static int keep_fresh(void *userdata, const char *key, void *value)
{
    (void)key;
    const int64_t *now = userdata;
    cached *c = value;
    if (c->expires_ms > *now)
        return 1;
    free(c);
    return 0;
}

void docaccess_expire(docaccess *a, int64_t now_ms)
{
    cmap_filter(a->cache, keep_fresh, &now_ms);
}
