/*
 * roster: a map client id -> {clock, JSON state, last seen}. See roster.h.
 */
#include "broadcaster/roster.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broadcaster/wire.h"
#include "common/strmap.h"
#include "crdt/lib0.h"

/* A roster holds at most this many clients; more are not recorded. */
#define ROSTER_MAX 4096

typedef struct entry {
    uint64_t client_id;
    uint64_t clock;
    int64_t seen_ms;
    size_t state_len;
    char state[]; /* JSON, not NUL-terminated */
} entry;

struct bcroster {
    cmap *entries; /* decimal client id -> entry */
};

bcroster *bcroster_new(void)
{
    bcroster *r = calloc(1, sizeof *r);
    if (!r || !(r->entries = cmap_new())) {
        free(r);
        return NULL;
    }
    return r;
}

static int drop(void *userdata, const char *key, void *value)
{
    (void)key;
    const int64_t *cutoff = userdata;
    entry *e = value;
    if (cutoff && e->seen_ms >= *cutoff)
        return 1;
    free(e);
    return 0;
}

void bcroster_free(bcroster *r)
{
    if (!r)
        return;
    cmap_filter(r->entries, drop, NULL);
    cmap_free(r->entries);
    free(r);
}

void bcroster_apply(bcroster *r, const uint8_t *update, size_t len, int64_t now_ms)
{
    crdt_rd rd;
    crdt_rd_init(&rd, update, len);
    uint64_t n = crdt_rd_varuint(&rd);
    for (uint64_t i = 0; i < n && crdt_rd_ok(&rd); i++) {
        uint64_t id = crdt_rd_varuint(&rd);
        uint64_t clock = crdt_rd_varuint(&rd);
        size_t slen = 0;
        const char *state = crdt_rd_varstring(&rd, &slen);
        if (!crdt_rd_ok(&rd))
            return;
        char key[24];
        snprintf(key, sizeof key, "%llu", (unsigned long long)id);
        entry *old = cmap_get(r->entries, key);
        if (old && old->clock > clock)
            continue;
        if (slen == 4 && memcmp(state, "null", 4) == 0) {
            free(cmap_remove(r->entries, key));
            continue;
        }
        if (!old && cmap_count(r->entries) >= ROSTER_MAX)
            continue;
        entry *e = malloc(sizeof *e + slen);
        if (!e)
            continue;
        e->client_id = id;
        e->clock = clock;
        e->seen_ms = now_ms;
        e->state_len = slen;
        memcpy(e->state, state, slen);
        if (cmap_put(r->entries, key, e) != 0) {
            free(e);
            continue;
        }
        free(old);
    }
}

typedef struct collect {
    crdt_buf body;
    uint64_t count;
} collect;

static void add_entry(void *userdata, const char *key, void *value)
{
    (void)key;
    collect *c = userdata;
    entry *e = value;
    crdt_buf_varuint(&c->body, e->client_id);
    crdt_buf_varuint(&c->body, e->clock);
    crdt_buf_varbytes(&c->body, e->state, e->state_len);
    c->count++;
}

bcmsg *bcroster_message(bcroster *r, int64_t now_ms, int64_t timeout_ms)
{
    int64_t cutoff = now_ms - timeout_ms;
    cmap_filter(r->entries, drop, &cutoff);
    if (cmap_count(r->entries) == 0)
        return NULL;
    collect c = {.count = 0};
    crdt_buf_init(&c.body);
    cmap_each(r->entries, add_entry, &c);
    crdt_buf update;
    crdt_buf_init(&update);
    crdt_buf_varuint(&update, c.count);
    crdt_buf_put(&update, c.body.data, c.body.len);
    crdt_buf_free(&c.body);
    uint8_t *bytes = NULL;
    size_t len = 0;
    if (crdt_buf_take(&update, &bytes, &len) != CRDT_OK)
        return NULL;
    bcmsg *m = bcwire_awareness(bytes, len);
    free(bytes);
    return m;
}
