/*
 * encode.c - everything that writes updates: the document's state (whole or diffed against
 * a state vector, pending structs included as Yjs does), state vectors, snapshots, merging
 * updates without a document (Y.mergeUpdates / Y.diffUpdate), format conversion, and the
 * "does the document already contain this update" check.
 */
#include "crdt/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void crdt_limits_resolve(const crdt_limits *in, crdt_limits *out)
{
    crdt_limits def = {
        .max_update_bytes = (size_t)256 << 20,
        .max_structs = 2000000,
        .max_clock = CRDT_MAX_SAFE_INT,
        .max_client_id = CRDT_MAX_SAFE_INT,
        .max_depth = 128,
        .max_pending_structs = 1000000,
    };
    if (in) {
        if (in->max_update_bytes)
            def.max_update_bytes = in->max_update_bytes;
        if (in->max_structs)
            def.max_structs = in->max_structs;
        if (in->max_clock && in->max_clock < def.max_clock)
            def.max_clock = in->max_clock;
        if (in->max_client_id && in->max_client_id < def.max_client_id)
            def.max_client_id = in->max_client_id;
        if (in->max_depth)
            def.max_depth = in->max_depth;
        if (in->max_pending_structs)
            def.max_pending_structs = in->max_pending_structs;
    }
    if (def.max_structs > UINT32_MAX - 1) /* slot indexes are 32-bit (codec.c) */
        def.max_structs = UINT32_MAX - 1;
    *out = def;
}

static int cmp_sv(const void *a, const void *b)
{
    const crdt_sv_entry *x = a, *y = b;
    return x->client < y->client ? -1 : x->client > y->client;
}

crdt_status crdt_sv_decode(const uint8_t *sv, size_t len, crdt_sv_entry **out, size_t *n)
{
    crdt_rd r;
    crdt_rd_init(&r, sv, len);
    uint64_t count = crdt_rd_varuint(&r);
    *out = NULL;
    *n = 0;
    if (!crdt_rd_ok(&r))
        return r.err;
    if (count > crdt_rd_left(&r) / 2)
        return CRDT_ERR_TRUNCATED;
    crdt_sv_entry *v = malloc((count ? (size_t)count : 1) * sizeof(*v));
    if (!v)
        return CRDT_ERR_NOMEM;
    for (uint64_t i = 0; i < count; i++) {
        v[i].client = crdt_rd_varuint(&r);
        v[i].clock = crdt_rd_varuint(&r);
    }
    if (!crdt_rd_ok(&r)) {
        free(v);
        return r.err;
    }
    /* Sort (stable by insertion for equal clients is not needed: keep the largest). */
    qsort(v, (size_t)count, sizeof(*v), cmp_sv);
    size_t w = 0;
    for (size_t i = 0; i < count; i++) {
        if (w > 0 && v[w - 1].client == v[i].client) {
            if (v[i].clock > v[w - 1].clock)
                v[w - 1].clock = v[i].clock;
        } else {
            v[w++] = v[i];
        }
    }
    *out = v;
    *n = w;
    return CRDT_OK;
}

uint64_t crdt_sv_get(const crdt_sv_entry *sv, size_t n, uint64_t client)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (sv[mid].client == client)
            return sv[mid].clock;
        if (sv[mid].client < client)
            lo = mid + 1;
        else
            hi = mid;
    }
    return 0;
}

static int cmp_items(const void *a, const void *b)
{
    const crdt_item *x = *(const crdt_item *const *)a, *y = *(const crdt_item *const *)b;
    if (x->id.client != y->id.client)
        return x->id.client > y->id.client ? -1 : 1; /* descending clients */
    if (x->id.clock != y->id.clock)
        return x->id.clock < y->id.clock ? -1 : 1;
    if (x->len != y->len)
        return x->len > y->len ? -1 : 1; /* the longest first: it covers the others */
    int rx = x->kind == CRDT_REF_SKIP ? 2 : x->kind == CRDT_REF_GC ? 1 : 0;
    int ry = y->kind == CRDT_REF_SKIP ? 2 : y->kind == CRDT_REF_GC ? 1 : 0;
    return rx - ry;
}

/* Walks one client's sorted structs [a, b) and either counts (e == NULL) or writes what
 * lies at or after `start`. Returns the number of structs (Skips included). */
static uint64_t write_client(crdt_enc *e, crdt_item **items, size_t a, size_t b, uint64_t start,
                             uint64_t *first_clock)
{
    uint64_t cur = start, count = 0;
    int first = 1;
    for (size_t k = a; k < b; k++) {
        const crdt_item *s = items[k];
        if (s->kind == CRDT_REF_SKIP)
            continue;
        uint64_t end = s->id.clock + s->len;
        if (end <= cur)
            continue;
        uint64_t offset = 0;
        if (first) {
            uint64_t clock = s->id.clock > cur ? s->id.clock : cur;
            offset = clock - s->id.clock;
            *first_clock = clock;
            first = 0;
        } else if (s->id.clock > cur) {
            if (e) {
                crdt_item skip;
                memset(&skip, 0, sizeof(skip));
                skip.kind = CRDT_REF_SKIP;
                skip.len = s->id.clock - cur;
                crdt_enc_struct(e, &skip, 0);
            }
            count++;
        } else {
            offset = cur - s->id.clock;
        }
        if (e)
            crdt_enc_struct(e, s, offset);
        count++;
        cur = end;
    }
    return count;
}

void crdt_write_structs(crdt_enc *e, crdt_item **items, size_t n, const crdt_sv_entry *sv,
                        size_t nsv)
{
    qsort(items, n, sizeof(crdt_item *), cmp_items);
    uint64_t nclients = 0;
    for (size_t a = 0; a < n;) {
        size_t b = a;
        while (b < n && items[b]->id.client == items[a]->id.client)
            b++;
        uint64_t first;
        if (write_client(NULL, items, a, b, crdt_sv_get(sv, nsv, items[a]->id.client), &first))
            nclients++;
        a = b;
    }
    crdt_buf_varuint(&e->rest, nclients);
    for (size_t a = 0; a < n;) {
        size_t b = a;
        uint64_t client = items[a]->id.client;
        while (b < n && items[b]->id.client == client)
            b++;
        uint64_t start = crdt_sv_get(sv, nsv, client), first = 0;
        uint64_t count = write_client(NULL, items, a, b, start, &first);
        if (count) {
            crdt_buf_varuint(&e->rest, count);
            crdt_enc_client(e, client);
            crdt_buf_varuint(&e->rest, first);
            write_client(e, items, a, b, start, &first);
        }
        a = b;
    }
}

crdt_status crdt_merge_impl(const uint8_t *const *updates, const size_t *lens, size_t n, int v2_in,
                            int v2_out, const crdt_sv_entry *sv, size_t nsv, const crdt_limits *lim,
                            uint8_t **out, size_t *out_len)
{
    crdt_limits l;
    crdt_limits_resolve(lim, &l);
    crdt_pool pool;
    crdt_pool_init(&pool);
    crdt_update *u = calloc(n ? n : 1, sizeof(*u));
    crdt_item **items = NULL;
    crdt_ranges ds = {0};
    crdt_status st = u ? CRDT_OK : CRDT_ERR_NOMEM;
    size_t decoded = 0, total = 0;
    for (size_t i = 0; i < n && st == CRDT_OK; i++) {
        st = crdt_update_decode(&u[i], updates[i], lens[i], v2_in, &l, &pool);
        if (st == CRDT_OK) {
            decoded++;
            total += (size_t)u[i].nstructs;
        }
    }
    if (st == CRDT_OK) {
        items = malloc((total ? total : 1) * sizeof(*items));
        if (!items)
            st = CRDT_ERR_NOMEM;
    }
    size_t m = 0;
    for (size_t i = 0; i < decoded && st == CRDT_OK; i++) {
        for (size_t b = 0; b < u[i].nblocks; b++)
            for (size_t k = 0; k < u[i].blocks[b].n; k++)
                if (u[i].blocks[b].structs[k] && m < total)
                    items[m++] = u[i].blocks[b].structs[k];
        for (size_t r = 0; r < u[i].ds.n && st == CRDT_OK; r++)
            st = crdt_ranges_add(&ds, u[i].ds.v[r].client, u[i].ds.v[r].clock, u[i].ds.v[r].len);
    }
    if (st == CRDT_OK) {
        crdt_ranges_normalize(&ds);
        crdt_enc e;
        crdt_enc_init(&e, v2_out);
        crdt_write_structs(&e, items, m, sv, nsv);
        crdt_enc_delete_set(&e, &ds);
        st = crdt_enc_finish(&e, out, out_len);
    }
    for (size_t i = 0; i < decoded; i++)
        crdt_update_free(&u[i]);
    free(u);
    free(items);
    crdt_ranges_free(&ds);
    crdt_pool_destroy(&pool);
    return st;
}

crdt_status crdt_merge_updates(const uint8_t *const *updates, const size_t *lens, size_t n,
                               const crdt_limits *limits, uint8_t **out, size_t *out_len)
{
    if ((!updates && n) || !out || !out_len)
        return CRDT_ERR_ARG;
    return crdt_merge_impl(updates, lens, n, 0, 0, NULL, 0, limits, out, out_len);
}

crdt_status crdt_merge_updates_v2(const uint8_t *const *updates, const size_t *lens, size_t n,
                                  const crdt_limits *limits, uint8_t **out, size_t *out_len)
{
    if ((!updates && n) || !out || !out_len)
        return CRDT_ERR_ARG;
    return crdt_merge_impl(updates, lens, n, 1, 1, NULL, 0, limits, out, out_len);
}

crdt_status crdt_convert_v1_to_v2(const uint8_t *update, size_t len, const crdt_limits *limits,
                                  uint8_t **out, size_t *out_len)
{
    if (!update || !out || !out_len)
        return CRDT_ERR_ARG;
    return crdt_merge_impl(&update, &len, 1, 0, 1, NULL, 0, limits, out, out_len);
}

crdt_status crdt_convert_v2_to_v1(const uint8_t *update, size_t len, const crdt_limits *limits,
                                  uint8_t **out, size_t *out_len)
{
    if (!update || !out || !out_len)
        return CRDT_ERR_ARG;
    return crdt_merge_impl(&update, &len, 1, 1, 0, NULL, 0, limits, out, out_len);
}

crdt_status crdt_store_delete_set(const crdt_doc *doc, crdt_ranges *out)
{
    memset(out, 0, sizeof(*out));
    for (size_t i = 0; i < doc->clients_cap; i++) {
        const crdt_client *c = doc->clients[i];
        for (size_t k = 0; c && k < c->n; k++) {
            const crdt_item *s = crdt_client_at(c, k);
            if (crdt_item_deleted(s) &&
                crdt_ranges_add(out, s->id.client, s->id.clock, s->len) != CRDT_OK) {
                crdt_ranges_free(out);
                return CRDT_ERR_NOMEM;
            }
        }
    }
    crdt_ranges_normalize(out);
    return CRDT_OK;
}

static int cmp_client_desc(const void *a, const void *b)
{
    const crdt_client *x = *(const crdt_client *const *)a, *y = *(const crdt_client *const *)b;
    return x->id > y->id ? -1 : x->id < y->id;
}

/* The clients sorted by descending id (caller frees). */
static crdt_client **sorted_clients(const crdt_doc *doc)
{
    crdt_client **v = malloc((doc->nclients ? doc->nclients : 1) * sizeof(*v));
    if (!v)
        return NULL;
    size_t n = 0;
    for (size_t i = 0; i < doc->clients_cap; i++)
        if (doc->clients[i] && doc->clients[i]->n > 0)
            v[n++] = doc->clients[i];
    qsort(v, n, sizeof(*v), cmp_client_desc);
    return v;
}

static size_t nonempty_clients(const crdt_doc *doc)
{
    size_t n = 0;
    for (size_t i = 0; i < doc->clients_cap; i++)
        if (doc->clients[i] && doc->clients[i]->n > 0)
            n++;
    return n;
}

static crdt_status encode_doc(const crdt_doc *doc, const crdt_sv_entry *sv, size_t nsv, int v2,
                              uint8_t **out, size_t *out_len)
{
    crdt_client **clients = sorted_clients(doc);
    if (!clients)
        return CRDT_ERR_NOMEM;
    size_t nc = nonempty_clients(doc);
    crdt_enc e;
    crdt_enc_init(&e, v2);
    uint64_t count = 0;
    for (size_t i = 0; i < nc; i++)
        if (crdt_client_state(clients[i]) > crdt_sv_get(sv, nsv, clients[i]->id))
            count++;
    crdt_buf_varuint(&e.rest, count);
    for (size_t i = 0; i < nc; i++) {
        crdt_client *c = clients[i];
        uint64_t clock = crdt_sv_get(sv, nsv, c->id);
        if (crdt_client_state(c) <= clock)
            continue;
        size_t start = crdt_client_find(c, clock);
        crdt_buf_varuint(&e.rest, c->n - start);
        crdt_enc_client(&e, c->id);
        crdt_buf_varuint(&e.rest, clock);
        crdt_enc_struct(&e, crdt_client_at(c, start), clock - crdt_client_at(c, start)->id.clock);
        for (size_t k = start + 1; k < c->n; k++)
            crdt_enc_struct(&e, crdt_client_at(c, k), 0);
    }
    free(clients);
    crdt_ranges ds;
    crdt_status st = crdt_store_delete_set(doc, &ds);
    if (st != CRDT_OK) {
        crdt_enc_free(&e);
        return st;
    }
    crdt_enc_delete_set(&e, &ds);
    crdt_ranges_free(&ds);
    return crdt_enc_finish(&e, out, out_len);
}

static crdt_status encode_state(const crdt_doc *doc, const uint8_t *sv, size_t sv_len, int v2,
                                uint8_t **out, size_t *out_len)
{
    if (!doc || !out || !out_len || (!sv && sv_len))
        return CRDT_ERR_ARG;
    crdt_sv_entry *entries = NULL;
    size_t nsv = 0;
    if (sv) {
        crdt_status st = crdt_sv_decode(sv, sv_len, &entries, &nsv);
        if (st != CRDT_OK)
            return st;
    }
    crdt_status st;
    if (!doc->npending && doc->pending_ds.n == 0) {
        st = encode_doc(doc, entries, nsv, v2, out, out_len);
        free(entries);
        return st;
    }
    /* Pending structs and deletions are part of the state (Yjs merges them in). */
    size_t n = 0, cap = doc->npending + 2;
    uint8_t **parts = calloc(cap, sizeof(*parts));
    size_t *lens = calloc(cap, sizeof(*lens));
    uint8_t *own = NULL, *ds_update = NULL;
    st = parts && lens ? encode_doc(doc, entries, nsv, 0, &own, &lens[n]) : CRDT_ERR_NOMEM;
    if (st == CRDT_OK)
        parts[n++] = own;
    for (size_t i = 0; st == CRDT_OK && i < doc->npending; i++) {
        parts[n] = doc->pending[i];
        lens[n++] = doc->pending_lens[i];
    }
    if (st == CRDT_OK && doc->pending_ds.n) {
        crdt_enc e;
        crdt_enc_init(&e, 0);
        crdt_buf_varuint(&e.rest, 0);
        crdt_enc_delete_set(&e, &doc->pending_ds);
        st = crdt_enc_finish(&e, &ds_update, &lens[n]);
        if (st == CRDT_OK)
            parts[n++] = ds_update;
    }
    if (st == CRDT_OK)
        st = crdt_merge_impl((const uint8_t *const *)parts, lens, n, 0, v2, entries, nsv, &doc->lim,
                             out, out_len);
    free(own);
    free(ds_update);
    free(parts);
    free(lens);
    free(entries);
    return st;
}

crdt_status crdt_encode_state(const crdt_doc *doc, const uint8_t *sv, size_t sv_len, uint8_t **out,
                              size_t *out_len)
{
    return encode_state(doc, sv, sv_len, 0, out, out_len);
}

crdt_status crdt_encode_state_v2(const crdt_doc *doc, const uint8_t *sv, size_t sv_len,
                                 uint8_t **out, size_t *out_len)
{
    return encode_state(doc, sv, sv_len, 1, out, out_len);
}

static void write_state_vector(const crdt_doc *doc, crdt_client **clients, size_t nc, crdt_buf *b)
{
    (void)doc;
    crdt_buf_varuint(b, nc);
    for (size_t i = 0; i < nc; i++) {
        crdt_buf_varuint(b, clients[i]->id);
        crdt_buf_varuint(b, crdt_client_state(clients[i]));
    }
}

crdt_status crdt_encode_state_vector(const crdt_doc *doc, uint8_t **out, size_t *out_len)
{
    if (!doc || !out || !out_len)
        return CRDT_ERR_ARG;
    crdt_client **clients = sorted_clients(doc);
    if (!clients)
        return CRDT_ERR_NOMEM;
    crdt_buf b;
    crdt_buf_init(&b);
    write_state_vector(doc, clients, nonempty_clients(doc), &b);
    free(clients);
    return crdt_buf_take(&b, out, out_len);
}

crdt_status crdt_state_vector_json(const crdt_doc *doc, char **out)
{
    if (!doc || !out)
        return CRDT_ERR_ARG;
    crdt_client **clients = sorted_clients(doc);
    if (!clients)
        return CRDT_ERR_NOMEM;
    size_t nc = nonempty_clients(doc);
    crdt_buf b;
    crdt_buf_init(&b);
    crdt_buf_u8(&b, '{');
    /* Ascending, the order JavaScript lists integer-like keys in. */
    for (size_t i = nc; i-- > 0;) {
        char tmp[64];
        snprintf(tmp, sizeof(tmp), "%s\"%llu\":%llu", i + 1 == nc ? "" : ",",
                 (unsigned long long)clients[i]->id,
                 (unsigned long long)crdt_client_state(clients[i]));
        crdt_buf_str(&b, tmp);
    }
    crdt_buf_u8(&b, '}');
    free(clients);
    return crdt_buf_take_str(&b, out);
}

crdt_status crdt_snapshot_encode(const crdt_doc *doc, uint8_t **out, size_t *out_len)
{
    if (!doc || !out || !out_len)
        return CRDT_ERR_ARG;
    crdt_ranges ds;
    crdt_status st = crdt_store_delete_set(doc, &ds);
    if (st != CRDT_OK)
        return st;
    crdt_enc e;
    crdt_enc_init(&e, 0);
    crdt_enc_delete_set(&e, &ds);
    crdt_ranges_free(&ds);
    crdt_client **clients = sorted_clients(doc);
    if (!clients) {
        crdt_enc_free(&e);
        return CRDT_ERR_NOMEM;
    }
    write_state_vector(doc, clients, nonempty_clients(doc), &e.rest);
    free(clients);
    return crdt_enc_finish(&e, out, out_len);
}

static int range_deleted(const crdt_doc *doc, uint64_t client, uint64_t clock, uint64_t len)
{
    crdt_client *c = crdt_store_client(doc, client);
    if (!c || clock + len > crdt_client_state(c))
        return 0;
    for (size_t i = crdt_client_find(c, clock);
         i < c->n && crdt_client_at(c, i)->id.clock < clock + len; i++)
        if (!crdt_item_deleted(crdt_client_at(c, i)))
            return 0;
    return 1;
}

crdt_status crdt_contains_update(const crdt_doc *doc, const uint8_t *update, size_t len,
                                 int *contained)
{
    if (!doc || !update || !contained)
        return CRDT_ERR_ARG;
    crdt_pool pool;
    crdt_pool_init(&pool);
    crdt_update u;
    crdt_status st = crdt_update_decode(&u, update, len, 0, &doc->lim, &pool);
    if (st != CRDT_OK) {
        crdt_pool_destroy(&pool);
        return st;
    }
    int yes = 1;
    for (size_t b = 0; b < u.nblocks && yes; b++) {
        uint64_t state = crdt_store_state(doc, u.blocks[b].client);
        for (size_t k = 0; k < u.blocks[b].n && yes; k++) {
            const crdt_item *s = u.blocks[b].structs[k];
            if (s->kind != CRDT_REF_SKIP && s->id.clock + s->len > state)
                yes = 0;
        }
    }
    for (size_t r = 0; r < u.ds.n && yes; r++)
        yes = range_deleted(doc, u.ds.v[r].client, u.ds.v[r].clock, u.ds.v[r].len);
    crdt_update_free(&u);
    crdt_pool_destroy(&pool);
    *contained = yes;
    return CRDT_OK;
}
