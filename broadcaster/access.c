/*
 * access: the permission check of the read endpoint with a TTL cache keyed
 * "<doc>/<user>". Only definite answers are cached, never "unavailable".
 * See access.h.
 */
#include "broadcaster/access.h"

#include <stdio.h>
#include <stdlib.h>

#include "broadcaster/map.h"

/* Beyond this many cached answers the cache is emptied: simpler than LRU
 * and only reachable with far more distinct users than a node serves. */
#define CACHE_MAX 100000

typedef struct cached {
    bcaccess_result result;
    int64_t expires_ms;
} cached;

struct bcaccess {
    ustore *store;
    int64_t ttl_ms;
    bcmap *cache;
};

bcaccess *bcaccess_new(ustore *store, int64_t ttl_ms)
{
    bcaccess *a = calloc(1, sizeof *a);
    if (!a || !(a->cache = bcmap_new())) {
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

void bcaccess_free(bcaccess *a)
{
    if (!a)
        return;
    bcmap_filter(a->cache, drop_all, NULL);
    bcmap_free(a->cache);
    free(a);
}

static bcaccess_result lookup(bcaccess *a, const char *doc_id, const char *user_id)
{
    ustore_role role = USTORE_ROLE_NONE;
    ustore_status st = ustore_permission_get(a->store, doc_id, user_id, &role);
    if (st == USTORE_OK && role >= USTORE_ROLE_VIEWER)
        return BCACCESS_ALLOWED;
    if (st != USTORE_OK && st != USTORE_NOT_FOUND)
        return BCACCESS_UNAVAILABLE;
    /* No role: tell a missing document (404) from a missing right (403). */
    ustore_doc doc;
    st = ustore_doc_get(a->store, doc_id, &doc);
    if (st == USTORE_NOT_FOUND)
        return BCACCESS_NOT_FOUND;
    return st == USTORE_OK ? BCACCESS_FORBIDDEN : BCACCESS_UNAVAILABLE;
}

bcaccess_result bcaccess_check(bcaccess *a, const char *doc_id, const char *user_id, int64_t now_ms)
{
    char key[USTORE_DOC_ID_MAX + USTORE_USER_ID_LEN + 8];
    snprintf(key, sizeof key, "%s/%s", doc_id, user_id);
    cached *c = a->ttl_ms > 0 ? bcmap_get(a->cache, key) : NULL;
    if (c && c->expires_ms > now_ms)
        return c->result;
    bcaccess_result r = lookup(a, doc_id, user_id);
    if (r == BCACCESS_UNAVAILABLE || a->ttl_ms <= 0)
        return r;
    if (!c) {
        if (bcmap_count(a->cache) >= CACHE_MAX)
            bcmap_filter(a->cache, drop_all, NULL);
        c = malloc(sizeof *c);
        if (!c || bcmap_put(a->cache, key, c) != 0) {
            free(c);
            return r;
        }
    }
    c->result = r;
    c->expires_ms = now_ms + a->ttl_ms;
    return r;
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

void bcaccess_expire(bcaccess *a, int64_t now_ms)
{
    bcmap_filter(a->cache, keep_fresh, &now_ms);
}
