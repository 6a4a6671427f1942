/*
 * codec.c - update format v1 and v2: decoding an update into structs (crdt_update) and the
 * encoder every writer uses (crdt_enc). The v2 column codecs (Rle, UintOptRle,
 * IntDiffOptRle, StringEncoder) follow lib0's; see shared/docs/yjs-format.md sections 3-5.
 *
 * Decoding validates everything before anything is integrated: counts never drive an
 * allocation larger than the input can justify, clocks and client ids are checked against
 * the limits, strings must be valid UTF-8, and zero-length structs are rejected.
 */
#include "crdt/internal.h"

#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ decoding ---- */

typedef struct rle_u8 {
    crdt_rd rd;
    uint8_t s;
    uint64_t count;
    int forever;
} rle_u8;

typedef struct uint_rle {
    crdt_rd rd;
    uint64_t s;
    uint64_t count;
} uint_rle;

typedef struct diff_rle {
    crdt_rd rd;
    int64_t s;
    int64_t diff;
    uint64_t count;
} diff_rle;

typedef struct key_ref {
    const char *p;
    size_t n;
} key_ref;

typedef struct dec {
    int v2;
    crdt_status err;
    crdt_rd rest;
    rle_u8 info, parent;
    uint_rle client, type_ref, len, str_lens;
    diff_rle key_clock, left_clock, right_clock;
    const char *str;
    size_t str_n, str_pos;
    int str_half; /* the next string starts at the low half of a surrogate pair */
    key_ref *keys;
    size_t nkeys, keys_cap;
    uint64_t ds_cur;
    crdt_update *u;
    const crdt_limits *lim;
} dec;

static void dec_fail(dec *d, crdt_status st)
{
    if (d->err == CRDT_OK)
        d->err = st;
}

static void check_rd(dec *d, crdt_rd *r)
{
    if (r->err != CRDT_OK)
        dec_fail(d, r->err);
}

static uint8_t rle_u8_read(dec *d, rle_u8 *r)
{
    if (r->count == 0 && !r->forever) {
        r->s = crdt_rd_u8(&r->rd);
        if (crdt_rd_left(&r->rd) > 0) {
            uint64_t c = crdt_rd_varuint(&r->rd);
            r->count = c + 1;
        } else {
            r->forever = 1;
        }
        check_rd(d, &r->rd);
    }
    if (!r->forever)
        r->count--;
    return r->s;
}

static uint64_t uint_rle_read(dec *d, uint_rle *r)
{
    if (r->count == 0) {
        int neg;
        r->s = crdt_rd_varint(&r->rd, &neg);
        r->count = 1;
        if (neg)
            r->count = crdt_rd_varuint(&r->rd) + 2;
        check_rd(d, &r->rd);
    }
    r->count--;
    return r->s;
}

static int64_t diff_rle_read(dec *d, diff_rle *r)
{
    if (r->count == 0) {
        int neg;
        uint64_t mag = crdt_rd_varint(&r->rd, &neg);
        int64_t v = neg ? -(int64_t)mag : (int64_t)mag;
        int has_count = (int)(v & 1);
        r->diff = (v - (v & 1)) / 2;
        r->count = 1;
        if (has_count)
            r->count = crdt_rd_varuint(&r->rd) + 2;
        check_rd(d, &r->rd);
    }
    r->s += r->diff;
    r->count--;
    if (r->s < 0 || (uint64_t)r->s > CRDT_MAX_SAFE_INT) {
        dec_fail(d, CRDT_ERR_MALFORMED);
        r->s = 0;
    }
    return r->s;
}

static void rd_sub(dec *d, crdt_rd *col)
{
    size_t n;
    const uint8_t *p = crdt_rd_varbytes(&d->rest, &n);
    check_rd(d, &d->rest);
    crdt_rd_init(col, p ? p : (const uint8_t *)"", p ? n : 0);
}

static crdt_status scratch_add(crdt_update *u, char *s)
{
    char **v = realloc(u->scratch, (u->nscratch + 1) * sizeof(char *));
    if (!v) {
        free(s);
        return CRDT_ERR_NOMEM;
    }
    u->scratch = v;
    u->scratch[u->nscratch++] = s;
    return CRDT_OK;
}

static const char fffd[3] = {(char)0xef, (char)0xbf, (char)0xbd};

/* Next string of the v2 string column: `units` UTF-16 code units of the concatenation.
 * A cut between the halves of a surrogate pair leaves a lone surrogate on each side,
 * which JavaScript turns into U+FFFD when the string is encoded again; do the same. */
static const char *v2_string(dec *d, size_t *n)
{
    uint64_t units = uint_rle_read(d, &d->str_lens);
    *n = 0;
    if (d->err)
        return NULL;
    int prefix = 0;
    if (d->str_half && units > 0) {
        prefix = 1;
        d->str_pos += 4;
        d->str_half = 0;
        units--;
    }
    size_t pos = d->str_pos, i = pos;
    int suffix = 0;
    while (units > 0) {
        if (i >= d->str_n) {
            dec_fail(d, CRDT_ERR_TRUNCATED);
            return NULL;
        }
        uint8_t c = (uint8_t)d->str[i];
        if (c < 0x80) {
            i++;
            units--;
        } else if (c < 0xe0) {
            i += 2;
            units--;
        } else if (c < 0xf0) {
            i += 3;
            units--;
        } else if (units == 1) {
            suffix = 1;
            units = 0;
        } else {
            i += 4;
            units -= 2;
        }
    }
    d->str_pos = i;
    if (suffix)
        d->str_half = 1;
    if (!prefix && !suffix) {
        *n = i - pos;
        return d->str + pos;
    }
    size_t len = (i - pos) + (prefix ? 3 : 0) + (suffix ? 3 : 0);
    char *s = malloc(len + 1);
    if (!s) {
        dec_fail(d, CRDT_ERR_NOMEM);
        return NULL;
    }
    char *w = s;
    if (prefix) {
        memcpy(w, fffd, 3);
        w += 3;
    }
    memcpy(w, d->str + pos, i - pos);
    w += i - pos;
    if (suffix)
        memcpy(w, fffd, 3);
    s[len] = 0;
    if (scratch_add(d->u, s) != CRDT_OK) {
        dec_fail(d, CRDT_ERR_NOMEM);
        return NULL;
    }
    *n = len;
    return s;
}

static const char *dec_string(dec *d, size_t *n)
{
    if (d->v2)
        return v2_string(d, n);
    const char *s = crdt_rd_varstring(&d->rest, n);
    check_rd(d, &d->rest);
    return s;
}

static uint64_t dec_client(dec *d)
{
    uint64_t c;
    if (d->v2) {
        c = uint_rle_read(d, &d->client);
    } else {
        c = crdt_rd_varuint(&d->rest);
        check_rd(d, &d->rest);
    }
    if (c > d->lim->max_client_id)
        dec_fail(d, CRDT_ERR_LIMIT);
    return c;
}

static uint64_t check_clock(dec *d, uint64_t clock)
{
    if (clock > d->lim->max_clock)
        dec_fail(d, CRDT_ERR_LIMIT);
    return clock;
}

static crdt_id dec_left_id(dec *d)
{
    crdt_id id;
    id.client = dec_client(d);
    if (d->v2) {
        id.clock = (uint64_t)diff_rle_read(d, &d->left_clock);
    } else {
        id.clock = crdt_rd_varuint(&d->rest);
        check_rd(d, &d->rest);
    }
    check_clock(d, id.clock);
    return id;
}

static crdt_id dec_right_id(dec *d)
{
    crdt_id id;
    id.client = dec_client(d);
    if (d->v2) {
        id.clock = (uint64_t)diff_rle_read(d, &d->right_clock);
    } else {
        id.clock = crdt_rd_varuint(&d->rest);
        check_rd(d, &d->rest);
    }
    check_clock(d, id.clock);
    return id;
}

static uint8_t dec_info(dec *d)
{
    if (d->v2)
        return rle_u8_read(d, &d->info);
    uint8_t v = crdt_rd_u8(&d->rest);
    check_rd(d, &d->rest);
    return v;
}

static int dec_parent_info(dec *d)
{
    if (d->v2)
        return rle_u8_read(d, &d->parent) == 1;
    uint64_t v = crdt_rd_varuint(&d->rest);
    check_rd(d, &d->rest);
    return v == 1;
}

static uint64_t dec_uint(dec *d, uint_rle *col)
{
    if (d->v2)
        return uint_rle_read(d, col);
    uint64_t v = crdt_rd_varuint(&d->rest);
    check_rd(d, &d->rest);
    return v;
}

static const char *dec_key(dec *d, size_t *n)
{
    if (!d->v2)
        return dec_string(d, n);
    int64_t kc = diff_rle_read(d, &d->key_clock);
    *n = 0;
    if (d->err)
        return NULL;
    if ((uint64_t)kc < d->nkeys) {
        *n = d->keys[kc].n;
        return d->keys[kc].p;
    }
    const char *s = v2_string(d, n);
    if (!s)
        return NULL;
    if (d->nkeys == d->keys_cap) {
        size_t cap = d->keys_cap ? d->keys_cap * 2 : 8;
        key_ref *k = realloc(d->keys, cap * sizeof(*k));
        if (!k) {
            dec_fail(d, CRDT_ERR_NOMEM);
            return NULL;
        }
        d->keys = k;
        d->keys_cap = cap;
    }
    d->keys[d->nkeys].p = s;
    d->keys[d->nkeys].n = *n;
    d->nkeys++;
    return s;
}

static crdt_value *new_value(dec *d)
{
    crdt_value *v = calloc(1, sizeof(*v));
    if (!v)
        dec_fail(d, CRDT_ERR_NOMEM);
    return v;
}

/* JSON-ish values: JSON text in v1, lib0 any in v2 (Embed and Format values). */
static crdt_value *dec_json(dec *d)
{
    crdt_value *v = new_value(d);
    if (!v)
        return NULL;
    crdt_status st;
    if (d->v2) {
        st = crdt_value_read_any(&d->rest, v, d->lim->max_depth);
    } else {
        size_t n;
        const char *s = dec_string(d, &n);
        st = s ? crdt_value_from_json(s, n, v, d->lim->max_depth) : d->err;
    }
    if (st != CRDT_OK) {
        dec_fail(d, st);
        crdt_value_clear(v);
        free(v);
        return NULL;
    }
    return v;
}

static char *dup_str(dec *d, const char *s, size_t n)
{
    char *p = malloc(n + 1);
    if (!p) {
        dec_fail(d, CRDT_ERR_NOMEM);
        return NULL;
    }
    if (n)
        memcpy(p, s, n);
    p[n] = 0;
    return p;
}

/* Reads the content of an item with ref `ref` into it. */
static void dec_content(dec *d, crdt_item *it, uint8_t ref)
{
    size_t n;
    const char *s;
    it->kind = ref;
    switch (ref) {
    case CRDT_REF_DELETED:
        it->len = dec_uint(d, &d->len);
        break;
    case CRDT_REF_JSON:
    case CRDT_REF_ANY: {
        uint64_t count = dec_uint(d, &d->len);
        if (d->err)
            return;
        /* Each element takes at least one byte of input, wherever it comes from. */
        uint64_t room =
            (ref == CRDT_REF_JSON && d->v2) ? d->str_n - d->str_pos + 1 : crdt_rd_left(&d->rest);
        if (count > room) {
            dec_fail(d, CRDT_ERR_TRUNCATED);
            return;
        }
        it->c.vals = calloc(count ? (size_t)count : 1, sizeof(crdt_value));
        if (!it->c.vals) {
            dec_fail(d, CRDT_ERR_NOMEM);
            return;
        }
        it->len = count; /* crdt_content_free clears exactly len values */
        for (uint64_t i = 0; i < count && !d->err; i++) {
            crdt_status st;
            if (ref == CRDT_REF_ANY) {
                st = crdt_value_read_any(&d->rest, &it->c.vals[i], d->lim->max_depth);
            } else {
                s = dec_string(d, &n);
                st = s ? crdt_value_from_json(s, n, &it->c.vals[i], d->lim->max_depth) : d->err;
            }
            if (st != CRDT_OK)
                dec_fail(d, st);
        }
        break;
    }
    case CRDT_REF_BINARY: {
        const uint8_t *p = crdt_rd_varbytes(&d->rest, &n);
        check_rd(d, &d->rest);
        it->len = 1;
        if (p) {
            it->c.bin.p = (uint8_t *)dup_str(d, (const char *)p, n);
            it->c.bin.n = n;
        }
        break;
    }
    case CRDT_REF_STRING:
        s = dec_string(d, &n);
        if (!s)
            return;
        if (n > UINT32_MAX) {
            dec_fail(d, CRDT_ERR_LIMIT);
            return;
        }
        it->c.str.p = (char *)s;
        it->c.str.n = (uint32_t)n;
        it->c.str.cap = (uint32_t)n;
        it->flags |= CRDT_F_STR_BORROWED;
        it->len = crdt_utf16_len((const uint8_t *)s, n);
        break;
    case CRDT_REF_EMBED:
        it->len = 1;
        it->c.embed = dec_json(d);
        break;
    case CRDT_REF_FORMAT:
        it->len = 1;
        s = dec_key(d, &n);
        if (!s)
            return;
        it->c.fmt.key = dup_str(d, s, n);
        it->c.fmt.key_len = n;
        if (it->c.fmt.key)
            it->c.fmt.val = dec_json(d);
        break;
    case CRDT_REF_TYPE: {
        it->len = 1;
        uint64_t tref = dec_uint(d, &d->type_ref);
        if (d->err)
            return;
        if (tref > CRDT_TYPE_XML_TEXT) {
            dec_fail(d, CRDT_ERR_MALFORMED);
            return;
        }
        crdt_type *t;
        if (crdt_type_new((uint8_t)tref, &t) != CRDT_OK) {
            dec_fail(d, CRDT_ERR_NOMEM);
            return;
        }
        it->c.type = t;
        t->item = it; /* marks the name as owned; re-pointed at integration */
        if (tref == CRDT_TYPE_XML_ELEMENT || tref == CRDT_TYPE_XML_HOOK) {
            s = dec_key(d, &n);
            if (s) {
                t->name = dup_str(d, s, n);
                t->name_len = n;
            }
        }
        break;
    }
    case CRDT_REF_DOC: {
        it->len = 1;
        s = dec_string(d, &n);
        if (!s)
            return;
        it->c.doc.guid = dup_str(d, s, n);
        it->c.doc.guid_len = n;
        crdt_value *v = new_value(d);
        it->c.doc.opts = v;
        if (v) {
            crdt_status st = crdt_value_read_any(&d->rest, v, d->lim->max_depth);
            if (st != CRDT_OK)
                dec_fail(d, st);
        }
        break;
    }
    default:
        dec_fail(d, CRDT_ERR_MALFORMED);
        return;
    }
    if (crdt_ref_countable(ref))
        it->flags |= CRDT_F_COUNTABLE;
}

static void dec_struct(dec *d, crdt_item *it, uint64_t client, uint64_t clock)
{
    uint8_t info = dec_info(d);
    uint8_t ref = info & 0x1f;
    it->id.client = client;
    it->id.clock = clock;
    if (d->err)
        return;
    if (ref == CRDT_REF_GC) {
        it->kind = CRDT_REF_GC;
        it->len = dec_uint(d, &d->len);
    } else if (ref == CRDT_REF_SKIP) {
        it->kind = CRDT_REF_SKIP;
        it->len = crdt_rd_varuint(&d->rest);
        check_rd(d, &d->rest);
    } else {
        if (info & 0x80) {
            it->origin = dec_left_id(d);
            it->flags |= CRDT_F_ORIGIN;
        }
        if (info & 0x40) {
            it->right_origin = dec_right_id(d);
            it->flags |= CRDT_F_RIGHT_ORIGIN;
        }
        if ((info & 0xc0) == 0) {
            size_t n;
            if (dec_parent_info(d)) {
                const char *name = dec_string(d, &n);
                it->parent_kind = CRDT_PARENT_ROOT;
                it->parent.name.p = name;
                it->parent.name.n = n;
            } else {
                it->parent_kind = CRDT_PARENT_ID;
                it->parent.id = dec_left_id(d);
            }
            if (info & 0x20) {
                it->sub = dec_string(d, &n);
                it->sub_len = n;
            }
        }
        if (d->err)
            return;
        dec_content(d, it, ref);
    }
    if (!d->err && it->len == 0)
        dec_fail(d, CRDT_ERR_MALFORMED);
}

/* An item may only point at its own client's earlier clocks; anything else could never be
 * satisfied (Yjs would throw half-way through the transaction). */
static void check_self_refs(dec *d, const crdt_item *it)
{
    uint64_t c = it->id.client, k = it->id.clock;
    if (((it->flags & CRDT_F_ORIGIN) && it->origin.client == c && it->origin.clock >= k) ||
        ((it->flags & CRDT_F_RIGHT_ORIGIN) && it->right_origin.client == c &&
         it->right_origin.clock >= k) ||
        (it->parent_kind == CRDT_PARENT_ID && it->parent.id.client == c &&
         it->parent.id.clock >= k))
        dec_fail(d, CRDT_ERR_MALFORMED);
}

static void release_block(crdt_update *u, crdt_block *b)
{
    for (size_t i = 0; i < b->n; i++)
        if (b->structs[i])
            crdt_item_release(u->pool, b->structs[i]);
    if (b->structs != u->inline_slots)
        free(b->structs);
    b->structs = NULL;
    b->n = 0;
}

void crdt_update_free(crdt_update *u)
{
    for (size_t i = 0; i < u->nblocks; i++)
        release_block(u, &u->blocks[i]);
    if (u->blocks != &u->inline_block)
        free(u->blocks);
    crdt_ranges_free(&u->ds);
    for (size_t i = 0; i < u->nscratch; i++)
        free(u->scratch[i]);
    free(u->scratch);
    u->blocks = NULL;
    u->nblocks = 0;
    u->scratch = NULL;
    u->nscratch = 0;
    memset(&u->ds, 0, sizeof(u->ds));
}

crdt_block *crdt_update_block(crdt_update *u, uint64_t client)
{
    size_t lo = 0, hi = u->nblocks;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (u->blocks[mid].client == client)
            return &u->blocks[mid];
        if (u->blocks[mid].client < client)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

/* By client, then by arrival: qsort is not stable, and which of two blocks for one client
 * survives must not depend on the C library. */
static int cmp_block(const void *a, const void *b)
{
    const crdt_block *x = a, *y = b;
    if (x->client != y->client)
        return x->client < y->client ? -1 : 1;
    return x->arrival < y->arrival ? -1 : x->arrival > y->arrival;
}

static void dec_init(dec *d, int v2, const uint8_t *data, size_t len, crdt_update *u,
                     const crdt_limits *lim)
{
    if (v2) {
        memset(d, 0, sizeof(*d));
    } else {
        /* v1 reads everything from rest; only these fields are used. */
        d->err = CRDT_OK;
        d->keys = NULL;
        d->nkeys = d->keys_cap = 0;
        d->ds_cur = 0;
    }
    d->v2 = v2;
    d->u = u;
    d->lim = lim;
    crdt_rd_init(&d->rest, data, len);
    if (!v2)
        return;
    crdt_rd_varuint(&d->rest); /* feature flag, unused by Yjs */
    rd_sub(d, &d->key_clock.rd);
    rd_sub(d, &d->client.rd);
    rd_sub(d, &d->left_clock.rd);
    rd_sub(d, &d->right_clock.rd);
    rd_sub(d, &d->info.rd);
    crdt_rd strings;
    rd_sub(d, &strings);
    rd_sub(d, &d->parent.rd);
    rd_sub(d, &d->type_ref.rd);
    rd_sub(d, &d->len.rd);
    if (d->err)
        return;
    d->str = crdt_rd_varstring(&strings, &d->str_n);
    check_rd(d, &strings);
    d->str_lens.rd = strings; /* the lengths run to the end of the column */
}

static void dec_delete_set(dec *d, crdt_update *u)
{
    uint64_t nclients = crdt_rd_varuint(&d->rest);
    check_rd(d, &d->rest);
    if (!d->err && nclients > crdt_rd_left(&d->rest) / 2)
        dec_fail(d, CRDT_ERR_TRUNCATED);
    for (uint64_t c = 0; c < nclients && !d->err; c++) {
        d->ds_cur = 0;
        uint64_t client = crdt_rd_varuint(&d->rest);
        uint64_t nranges = crdt_rd_varuint(&d->rest);
        check_rd(d, &d->rest);
        if (d->err)
            break;
        if (client > d->lim->max_client_id)
            dec_fail(d, CRDT_ERR_LIMIT);
        if (nranges > crdt_rd_left(&d->rest) / 2)
            dec_fail(d, CRDT_ERR_TRUNCATED);
        if (u->nstructs + nranges > d->lim->max_structs)
            dec_fail(d, CRDT_ERR_LIMIT);
        u->nstructs += nranges;
        for (uint64_t i = 0; i < nranges && !d->err; i++) {
            uint64_t clock, len;
            if (d->v2) {
                d->ds_cur += crdt_rd_varuint(&d->rest);
                clock = d->ds_cur;
                len = crdt_rd_varuint(&d->rest) + 1;
                d->ds_cur += len;
            } else {
                clock = crdt_rd_varuint(&d->rest);
                len = crdt_rd_varuint(&d->rest);
            }
            check_rd(d, &d->rest);
            if (d->err)
                break;
            if (clock > d->lim->max_clock || len > d->lim->max_clock - clock) {
                dec_fail(d, CRDT_ERR_LIMIT);
                break;
            }
            if (crdt_ranges_add(&u->ds, client, clock, len) != CRDT_OK)
                dec_fail(d, CRDT_ERR_NOMEM);
        }
    }
}

crdt_status crdt_update_decode(crdt_update *u, const uint8_t *data, size_t len, int v2,
                               const crdt_limits *lim, crdt_pool *pool)
{
    return crdt_update_decode_reusing(u, data, len, v2, lim, pool, NULL);
}

crdt_status crdt_update_decode_reusing(crdt_update *u, const uint8_t *data, size_t len, int v2,
                                       const crdt_limits *lim, crdt_pool *pool,
                                       crdt_ranges *ds_buffer)
{
    /* Field by field: the inline slots need no clearing, and this runs for every update. */
    u->blocks = NULL;
    u->nblocks = 0;
    u->nstructs = 0;
    u->scratch = NULL;
    u->nscratch = 0;
    memset(&u->ds, 0, sizeof(u->ds));
    if (ds_buffer) {
        u->ds = *ds_buffer;
        u->ds.n = 0;
        memset(ds_buffer, 0, sizeof(*ds_buffer));
    }
    u->pool = pool;
    if (len > lim->max_update_bytes)
        return CRDT_ERR_LIMIT;
    dec d;
    dec_init(&d, v2, data, len, u, lim);
    uint64_t nclients = crdt_rd_varuint(&d.rest);
    check_rd(&d, &d.rest);
    if (!d.err && nclients > crdt_rd_left(&d.rest) / 2)
        dec_fail(&d, CRDT_ERR_TRUNCATED);
    size_t blocks_cap = 0;
    for (uint64_t c = 0; c < nclients && !d.err; c++) {
        uint64_t nstructs = crdt_rd_varuint(&d.rest);
        check_rd(&d, &d.rest);
        uint64_t client = dec_client(&d);
        uint64_t clock = check_clock(&d, crdt_rd_varuint(&d.rest));
        check_rd(&d, &d.rest);
        if (d.err)
            break;
        if (!v2 && nstructs > crdt_rd_left(&d.rest)) {
            dec_fail(&d, CRDT_ERR_TRUNCATED);
            break;
        }
        if (nstructs > lim->max_structs - u->nstructs) {
            dec_fail(&d, CRDT_ERR_LIMIT);
            break;
        }
        u->nstructs += nstructs;
        if (u->nblocks == 0 && nclients == 1) {
            u->blocks = &u->inline_block;
            blocks_cap = 1;
        } else if (u->nblocks == blocks_cap) {
            size_t cap = blocks_cap ? blocks_cap * 2 : 4;
            crdt_block *b = malloc(cap * sizeof(*b));
            if (!b) {
                dec_fail(&d, CRDT_ERR_NOMEM);
                break;
            }
            if (u->nblocks)
                memcpy(b, u->blocks, u->nblocks * sizeof(*b));
            if (u->blocks != &u->inline_block)
                free(u->blocks);
            u->blocks = b;
            blocks_cap = cap;
        }
        crdt_block *b = &u->blocks[u->nblocks++];
        memset(b, 0, sizeof(*b));
        b->client = client;
        b->arrival = u->nblocks - 1;
        size_t cap;
        if (nstructs <= 8 && u->nblocks == 1) {
            cap = 8;
            b->structs = u->inline_slots;
        } else {
            cap = nstructs < 64 ? (size_t)nstructs : 64;
            b->structs = malloc((cap ? cap : 1) * sizeof(crdt_item *));
        }
        if (!b->structs) {
            dec_fail(&d, CRDT_ERR_NOMEM);
            break;
        }
        for (uint64_t i = 0; i < nstructs && !d.err; i++) {
            if (b->n == cap) {
                cap *= 2;
                crdt_item **s = b->structs == u->inline_slots
                                    ? malloc(cap * sizeof(crdt_item *))
                                    : realloc(b->structs, cap * sizeof(crdt_item *));
                if (!s) {
                    dec_fail(&d, CRDT_ERR_NOMEM);
                    break;
                }
                if (b->structs == u->inline_slots)
                    memcpy(s, u->inline_slots, b->n * sizeof(crdt_item *));
                b->structs = s;
            }
            crdt_item *it = crdt_pool_get(pool);
            if (!it) {
                dec_fail(&d, CRDT_ERR_NOMEM);
                break;
            }
            b->structs[b->n++] = it;
            it->scan_seq = (uint32_t)(b->n - 1); /* its slot, cleared when integrated */
            dec_struct(&d, it, client, clock);
            if (!d.err && it->kind != CRDT_REF_GC && it->kind != CRDT_REF_SKIP)
                check_self_refs(&d, it);
            if (!d.err && it->len > lim->max_clock - clock)
                dec_fail(&d, CRDT_ERR_LIMIT);
            clock += it->len;
        }
    }
    if (!d.err)
        dec_delete_set(&d, u);
    free(d.keys);
    if (d.err) {
        crdt_update_free(u);
        return d.err;
    }
    /* Yjs keeps one block per client: a later block for the same client replaces it. */
    if (u->nblocks <= 1)
        return CRDT_OK;
    qsort(u->blocks, u->nblocks, sizeof(crdt_block), cmp_block);
    /* Each block is either released where it lies or moved down once, so no block is
     * released after being copied over. */
    size_t w = 0;
    for (size_t i = 0; i < u->nblocks; i++) {
        if (i + 1 < u->nblocks && u->blocks[i + 1].client == u->blocks[i].client) {
            release_block(u, &u->blocks[i]);
            continue;
        }
        u->blocks[w++] = u->blocks[i];
    }
    u->nblocks = w;
    return CRDT_OK;
}

/* ------------------------------------------------------------------ encoding ---- */

static void uint_rle_flush(crdt_uint_rle *e)
{
    if (e->count == 0)
        return;
    crdt_buf_varint(&e->out, e->s, e->count > 1);
    if (e->count > 1)
        crdt_buf_varuint(&e->out, e->count - 2);
}

static void uint_rle_write(crdt_uint_rle *e, uint64_t v)
{
    if (e->s == v) {
        e->count++;
    } else {
        uint_rle_flush(e);
        e->count = 1;
        e->s = v;
    }
}

static void diff_rle_flush(crdt_diff_rle *e)
{
    if (e->count == 0)
        return;
    int64_t encoded = e->diff * 2 + (e->count == 1 ? 0 : 1);
    crdt_buf_varint(&e->out, encoded < 0 ? (uint64_t)(-encoded) : (uint64_t)encoded, encoded < 0);
    if (e->count > 1)
        crdt_buf_varuint(&e->out, e->count - 2);
}

static void diff_rle_write(crdt_diff_rle *e, uint64_t v)
{
    int64_t iv = (int64_t)v;
    if (e->diff == iv - e->s) {
        e->s = iv;
        e->count++;
    } else {
        diff_rle_flush(e);
        e->count = 1;
        e->diff = iv - e->s;
        e->s = iv;
    }
}

static void rle_u8_write(crdt_buf *b, int *s, uint64_t *count, uint8_t v)
{
    if (*count > 0 && *s == v) {
        (*count)++;
        return;
    }
    if (*count > 0)
        crdt_buf_varuint(b, *count - 1);
    *count = 1;
    crdt_buf_u8(b, v);
    *s = v;
}

void crdt_enc_init(crdt_enc *e, int v2)
{
    memset(e, 0, sizeof(*e));
    e->v2 = v2;
}

void crdt_enc_free(crdt_enc *e)
{
    crdt_buf_free(&e->rest);
    crdt_buf_free(&e->key_clock.out);
    crdt_buf_free(&e->left_clock.out);
    crdt_buf_free(&e->right_clock.out);
    crdt_buf_free(&e->client.out);
    crdt_buf_free(&e->type_ref.out);
    crdt_buf_free(&e->len.out);
    crdt_buf_free(&e->str_lens.out);
    crdt_buf_free(&e->info);
    crdt_buf_free(&e->parent_info);
    crdt_buf_free(&e->strings);
}

crdt_status crdt_enc_finish(crdt_enc *e, uint8_t **out, size_t *out_len)
{
    if (!e->v2) {
        crdt_status st = crdt_buf_take(&e->rest, out, out_len);
        crdt_enc_free(e);
        return st;
    }
    diff_rle_flush(&e->key_clock);
    uint_rle_flush(&e->client);
    diff_rle_flush(&e->left_clock);
    diff_rle_flush(&e->right_clock);
    uint_rle_flush(&e->str_lens);
    uint_rle_flush(&e->type_ref);
    uint_rle_flush(&e->len);
    crdt_buf b;
    crdt_buf_init(&b);
    crdt_buf_varuint(&b, 0);
    crdt_buf_varbytes(&b, e->key_clock.out.data, e->key_clock.out.len);
    crdt_buf_varbytes(&b, e->client.out.data, e->client.out.len);
    crdt_buf_varbytes(&b, e->left_clock.out.data, e->left_clock.out.len);
    crdt_buf_varbytes(&b, e->right_clock.out.data, e->right_clock.out.len);
    crdt_buf_varbytes(&b, e->info.data, e->info.len);
    crdt_buf strcol;
    crdt_buf_init(&strcol);
    crdt_buf_varbytes(&strcol, e->strings.data, e->strings.len);
    crdt_buf_put(&strcol, e->str_lens.out.data, e->str_lens.out.len);
    crdt_buf_varbytes(&b, strcol.data, strcol.len);
    if (strcol.oom)
        b.oom = 1;
    crdt_buf_free(&strcol);
    crdt_buf_varbytes(&b, e->parent_info.data, e->parent_info.len);
    crdt_buf_varbytes(&b, e->type_ref.out.data, e->type_ref.out.len);
    crdt_buf_varbytes(&b, e->len.out.data, e->len.out.len);
    crdt_buf_put(&b, e->rest.data, e->rest.len);
    int oom = e->rest.oom || e->key_clock.out.oom || e->client.out.oom || e->left_clock.out.oom ||
              e->right_clock.out.oom || e->info.oom || e->strings.oom || e->str_lens.out.oom ||
              e->parent_info.oom || e->type_ref.out.oom || e->len.out.oom;
    if (oom)
        b.oom = 1;
    crdt_enc_free(e);
    return crdt_buf_take(&b, out, out_len);
}

void crdt_enc_client(crdt_enc *e, uint64_t client)
{
    if (e->v2)
        uint_rle_write(&e->client, client);
    else
        crdt_buf_varuint(&e->rest, client);
}

static void enc_info(crdt_enc *e, uint8_t info)
{
    if (e->v2)
        rle_u8_write(&e->info, &e->info_s, &e->info_count, info);
    else
        crdt_buf_u8(&e->rest, info);
}

static void enc_left_id(crdt_enc *e, crdt_id id)
{
    crdt_enc_client(e, id.client);
    if (e->v2)
        diff_rle_write(&e->left_clock, id.clock);
    else
        crdt_buf_varuint(&e->rest, id.clock);
}

static void enc_right_id(crdt_enc *e, crdt_id id)
{
    crdt_enc_client(e, id.client);
    if (e->v2)
        diff_rle_write(&e->right_clock, id.clock);
    else
        crdt_buf_varuint(&e->rest, id.clock);
}

/* A string whose UTF-16 length is known. */
static void enc_string_units(crdt_enc *e, const char *s, size_t n, uint64_t units)
{
    if (e->v2) {
        crdt_buf_put(&e->strings, s, n);
        uint_rle_write(&e->str_lens, units);
    } else {
        crdt_buf_varbytes(&e->rest, s, n);
    }
}

static void enc_string(crdt_enc *e, const char *s, size_t n)
{
    enc_string_units(e, s, n, e->v2 ? crdt_utf16_len((const uint8_t *)s, n) : 0);
}

static void enc_parent_info(crdt_enc *e, int is_root)
{
    if (e->v2)
        rle_u8_write(&e->parent_info, &e->parent_s, &e->parent_count, is_root ? 1 : 0);
    else
        crdt_buf_varuint(&e->rest, is_root ? 1 : 0);
}

static void enc_uint(crdt_enc *e, crdt_uint_rle *col, uint64_t v)
{
    if (e->v2)
        uint_rle_write(col, v);
    else
        crdt_buf_varuint(&e->rest, v);
}

static void enc_key(crdt_enc *e, const char *s, size_t n)
{
    if (e->v2)
        diff_rle_write(&e->key_clock, e->key_counter++);
    enc_string(e, s, n);
}

static void enc_json(crdt_enc *e, const crdt_value *v)
{
    if (e->v2) {
        crdt_value_write_any(&e->rest, v);
        return;
    }
    crdt_buf tmp;
    crdt_buf_init(&tmp);
    crdt_value_write_json(&tmp, v, 1);
    if (tmp.oom)
        e->rest.oom = 1;
    crdt_buf_varbytes(&e->rest, tmp.data, tmp.len);
    crdt_buf_free(&tmp);
}

void crdt_string_slice(const char *p, size_t n, uint64_t offset, crdt_buf *out)
{
    int split;
    size_t at = crdt_utf16_to_byte((const uint8_t *)p, n, offset, &split);
    if (split) {
        crdt_buf_put(out, fffd, 3);
        at += 4;
    }
    crdt_buf_put(out, p + at, n - at);
}

static void enc_content(crdt_enc *e, const crdt_item *it, uint64_t offset)
{
    switch (it->kind) {
    case CRDT_REF_DELETED:
        enc_uint(e, &e->len, it->len - offset);
        break;
    case CRDT_REF_JSON:
        enc_uint(e, &e->len, it->len - offset);
        for (uint64_t i = offset; i < it->len; i++) {
            crdt_buf tmp;
            crdt_buf_init(&tmp);
            crdt_value_write_json(&tmp, &it->c.vals[i], 1);
            if (tmp.oom)
                e->rest.oom = 1;
            enc_string(e, tmp.data ? (const char *)tmp.data : "", tmp.len);
            crdt_buf_free(&tmp);
        }
        break;
    case CRDT_REF_ANY:
        enc_uint(e, &e->len, it->len - offset);
        for (uint64_t i = offset; i < it->len; i++)
            crdt_value_write_any(&e->rest, &it->c.vals[i]);
        break;
    case CRDT_REF_BINARY:
        crdt_buf_varbytes(&e->rest, it->c.bin.p, it->c.bin.n);
        break;
    case CRDT_REF_STRING:
        if (offset == 0) {
            enc_string_units(e, it->c.str.p, it->c.str.n, it->len);
        } else if (it->c.str.n == it->len) { /* ASCII: units are bytes */
            enc_string_units(e, it->c.str.p + offset, it->c.str.n - (size_t)offset,
                             it->len - offset);
        } else {
            crdt_buf tmp;
            crdt_buf_init(&tmp);
            crdt_string_slice(it->c.str.p, it->c.str.n, offset, &tmp);
            if (tmp.oom)
                e->rest.oom = 1;
            enc_string_units(e, tmp.data ? (const char *)tmp.data : "", tmp.len, it->len - offset);
            crdt_buf_free(&tmp);
        }
        break;
    case CRDT_REF_EMBED:
        enc_json(e, it->c.embed);
        break;
    case CRDT_REF_FORMAT:
        enc_key(e, it->c.fmt.key, it->c.fmt.key_len);
        enc_json(e, it->c.fmt.val);
        break;
    case CRDT_REF_TYPE: {
        const crdt_type *t = it->c.type;
        enc_uint(e, &e->type_ref, t->type_ref);
        if (t->type_ref == CRDT_TYPE_XML_ELEMENT || t->type_ref == CRDT_TYPE_XML_HOOK)
            enc_key(e, t->name ? t->name : "", t->name_len);
        break;
    }
    case CRDT_REF_DOC:
        enc_string(e, it->c.doc.guid, it->c.doc.guid_len);
        crdt_value_write_any(&e->rest, it->c.doc.opts);
        break;
    }
}

void crdt_enc_struct(crdt_enc *e, const crdt_item *it, uint64_t offset)
{
    if (it->kind == CRDT_REF_GC) {
        enc_info(e, CRDT_REF_GC);
        enc_uint(e, &e->len, it->len - offset);
        return;
    }
    if (it->kind == CRDT_REF_SKIP) {
        enc_info(e, CRDT_REF_SKIP);
        crdt_buf_varuint(&e->rest, it->len - offset);
        return;
    }
    int has_origin = offset > 0 || (it->flags & CRDT_F_ORIGIN);
    crdt_id origin = it->origin;
    if (offset > 0) {
        origin.client = it->id.client;
        origin.clock = it->id.clock + offset - 1;
    }
    int has_right = (it->flags & CRDT_F_RIGHT_ORIGIN) != 0;
    uint8_t info = (uint8_t)(it->kind | (has_origin ? 0x80 : 0) | (has_right ? 0x40 : 0) |
                             (it->sub ? 0x20 : 0));
    enc_info(e, info);
    if (has_origin)
        enc_left_id(e, origin);
    if (has_right)
        enc_right_id(e, it->right_origin);
    if (!has_origin && !has_right) {
        switch (it->parent_kind) {
        case CRDT_PARENT_TYPE: {
            const crdt_type *t = it->parent.type;
            if (t->item == NULL) {
                enc_parent_info(e, 1);
                enc_string(e, t->name, t->name_len);
            } else {
                enc_parent_info(e, 0);
                enc_left_id(e, t->item->id);
            }
            break;
        }
        case CRDT_PARENT_ID:
            enc_parent_info(e, 0);
            enc_left_id(e, it->parent.id);
            break;
        default:
            enc_parent_info(e, 1);
            enc_string(e, it->parent.name.p ? it->parent.name.p : "", it->parent.name.n);
            break;
        }
        if (it->sub)
            enc_string(e, it->sub, it->sub_len);
    }
    enc_content(e, it, offset);
}

void crdt_enc_delete_set(crdt_enc *e, const crdt_ranges *ds)
{
    size_t nclients = 0;
    for (size_t i = 0; i < ds->n; i++)
        if (i == 0 || ds->v[i].client != ds->v[i - 1].client)
            nclients++;
    crdt_buf_varuint(&e->rest, nclients);
    /* Clients in descending order; each client's ranges ascending. */
    size_t end = ds->n;
    while (end > 0) {
        size_t start = end - 1;
        while (start > 0 && ds->v[start - 1].client == ds->v[end - 1].client)
            start--;
        e->ds_cur = 0;
        crdt_buf_varuint(&e->rest, ds->v[start].client);
        crdt_buf_varuint(&e->rest, end - start);
        for (size_t i = start; i < end; i++) {
            if (e->v2) {
                crdt_buf_varuint(&e->rest, ds->v[i].clock - e->ds_cur);
                crdt_buf_varuint(&e->rest, ds->v[i].len - 1);
                e->ds_cur = ds->v[i].clock + ds->v[i].len;
            } else {
                crdt_buf_varuint(&e->rest, ds->v[i].clock);
                crdt_buf_varuint(&e->rest, ds->v[i].len);
            }
        }
        end = start;
    }
}
