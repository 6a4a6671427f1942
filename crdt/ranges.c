/*
 * ranges.c - sets of (client, clock, len) ranges: Yjs delete sets, the deletions of a
 * transaction and deletions waiting for their structs.
 */
#include "crdt/internal.h"

#include <stdlib.h>

crdt_status crdt_ranges_add(crdt_ranges *r, uint64_t client, uint64_t clock, uint64_t len)
{
    if (len == 0)
        return CRDT_OK;
    /* Extending the previous range keeps sequential deletions cheap. */
    if (r->n > 0) {
        crdt_range *last = &r->v[r->n - 1];
        if (last->client == client && last->clock + last->len == clock) {
            last->len += len;
            return CRDT_OK;
        }
    }
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 8;
        crdt_range *v = realloc(r->v, cap * sizeof(*v));
        if (!v)
            return CRDT_ERR_NOMEM;
        r->v = v;
        r->cap = cap;
    }
    r->v[r->n].client = client;
    r->v[r->n].clock = clock;
    r->v[r->n].len = len;
    r->n++;
    return CRDT_OK;
}

void crdt_ranges_free(crdt_ranges *r)
{
    free(r->v);
    r->v = NULL;
    r->n = r->cap = 0;
}

static int cmp_range(const void *a, const void *b)
{
    const crdt_range *x = a, *y = b;
    if (x->client != y->client)
        return x->client < y->client ? -1 : 1;
    if (x->clock != y->clock)
        return x->clock < y->clock ? -1 : 1;
    return 0;
}

void crdt_ranges_normalize(crdt_ranges *r)
{
    if (r->n < 2)
        return;
    int sorted = 1;
    for (size_t i = 1; i < r->n && sorted; i++)
        sorted = cmp_range(&r->v[i - 1], &r->v[i]) <= 0;
    if (!sorted)
        qsort(r->v, r->n, sizeof(crdt_range), cmp_range);
    size_t w = 0;
    for (size_t i = 1; i < r->n; i++) {
        crdt_range *cur = &r->v[w];
        const crdt_range *next = &r->v[i];
        if (next->client == cur->client && next->clock <= cur->clock + cur->len) {
            uint64_t end = next->clock + next->len;
            if (end > cur->clock + cur->len)
                cur->len = end - cur->clock;
        } else {
            r->v[++w] = *next;
        }
    }
    r->n = w + 1;
}

size_t crdt_ranges_lower(const crdt_ranges *r, uint64_t client, uint64_t clock)
{
    size_t lo = 0, hi = r->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const crdt_range *m = &r->v[mid];
        if (m->client < client || (m->client == client && m->clock + m->len <= clock))
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

int crdt_ranges_contains(const crdt_ranges *r, uint64_t client, uint64_t clock)
{
    size_t i = crdt_ranges_lower(r, client, clock);
    return i < r->n && r->v[i].client == client && r->v[i].clock <= clock;
}
