/*
 * store.c - the struct store: per client, every struct (Item or GC) sorted by clock with no
 * gaps, found by binary search; splitting an item where an ID must start or end, and merging
 * neighbours back the way Yjs's tryToMergeWithLefts does (that merging is what keeps a typed
 * document at a few thousand items instead of one per character).
 */
#include "crdt/internal.h"

#include <stdlib.h>
#include <string.h>

static uint64_t hash_client(uint64_t x)
{
    x ^= x >> 31;
    x *= 0x7fb5d329728ea185ULL;
    x ^= x >> 27;
    return x;
}

crdt_client *crdt_store_client(const crdt_doc *doc, uint64_t client)
{
    if (doc->last_client && doc->last_client->id == client)
        return doc->last_client;
    if (doc->clients_cap == 0)
        return NULL;
    size_t mask = doc->clients_cap - 1;
    for (size_t i = (size_t)hash_client(client) & mask; doc->clients[i]; i = (i + 1) & mask)
        if (doc->clients[i]->id == client)
            return doc->clients[i];
    return NULL;
}

crdt_client *crdt_store_client_add(crdt_doc *doc, uint64_t client)
{
    crdt_client *c = crdt_store_client(doc, client);
    if (c) {
        doc->last_client = c;
        return c;
    }
    if ((doc->nclients + 1) * 2 > doc->clients_cap) {
        size_t cap = doc->clients_cap ? doc->clients_cap * 2 : 8;
        crdt_client **slots = calloc(cap, sizeof(*slots));
        if (!slots)
            return NULL;
        for (size_t i = 0; i < doc->clients_cap; i++) {
            crdt_client *old = doc->clients[i];
            if (!old)
                continue;
            size_t j = (size_t)hash_client(old->id) & (cap - 1);
            while (slots[j])
                j = (j + 1) & (cap - 1);
            slots[j] = old;
        }
        free(doc->clients);
        doc->clients = slots;
        doc->clients_cap = cap;
    }
    c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->id = client;
    size_t mask = doc->clients_cap - 1;
    size_t i = (size_t)hash_client(client) & mask;
    while (doc->clients[i])
        i = (i + 1) & mask;
    doc->clients[i] = c;
    doc->nclients++;
    doc->last_client = c;
    return c;
}

uint64_t crdt_store_state(const crdt_doc *doc, uint64_t client)
{
    const crdt_client *c = crdt_store_client(doc, client);
    return c ? crdt_client_state(c) : 0;
}

size_t crdt_client_find(crdt_client *c, uint64_t clock)
{
    size_t hi = c->n - 1;
    if (crdt_client_clock(c, hi) <= clock)
        return hi;
    /* Edits cluster: the last struct found, or its neighbour, is usually the one. Clocks
     * have no gaps, so struct i holds `clock` when clocks[i] <= clock < clocks[i + 1]. */
    size_t h = c->hint < hi ? c->hint : hi - 1;
    if (crdt_client_clock(c, h) <= clock) {
        if (clock < crdt_client_clock(c, h + 1))
            return h;
        if (h + 2 <= hi && clock < crdt_client_clock(c, h + 2))
            return c->hint = h + 1;
    }
    /* The last index whose first clock is <= clock. */
    size_t lo = 0;
    while (lo < hi) {
        size_t mid = lo + (hi - lo + 1) / 2;
        if (crdt_client_clock(c, mid) <= clock)
            lo = mid;
        else
            hi = mid - 1;
    }
    return c->hint = lo;
}

crdt_item *crdt_store_get(const crdt_doc *doc, crdt_id id)
{
    crdt_client *c = crdt_store_client(doc, id.client);
    if (!c || id.clock >= crdt_client_state(c))
        return NULL;
    return crdt_client_at(c, crdt_client_find(c, id.clock));
}

/* Moves the gap of the gap buffer so that it starts at logical index `to`. */
static void move_gap(crdt_client *c, size_t to)
{
    crdt_item **p = c->structs;
    uint64_t *k = c->clocks;
    if (c->gap_len > 0) {
        if (to < c->gap) {
            memmove(p + to + c->gap_len, p + to, (c->gap - to) * sizeof(*p));
            memmove(k + to + c->gap_len, k + to, (c->gap - to) * sizeof(*k));
        } else if (to > c->gap) {
            memmove(p + c->gap, p + c->gap + c->gap_len, (to - c->gap) * sizeof(*p));
            memmove(k + c->gap, k + c->gap + c->gap_len, (to - c->gap) * sizeof(*k));
        }
    }
    c->gap = to;
}

static crdt_status grow(crdt_client *c, size_t need)
{
    if (c->cap >= need)
        return CRDT_OK;
    size_t cap = c->cap ? c->cap * 2 : 4;
    while (cap < need)
        cap *= 2;
    crdt_item **s = realloc(c->structs, cap * sizeof(*s));
    if (!s)
        return CRDT_ERR_NOMEM;
    c->structs = s;
    uint64_t *k = realloc(c->clocks, cap * sizeof(*k));
    if (!k)
        return CRDT_ERR_NOMEM; /* structs grew already; cap stays, so the next call retries */
    c->clocks = k;
    c->cap = cap;
    return CRDT_OK;
}

static crdt_status client_insert(crdt_client *c, size_t index, crdt_item *it)
{
    if (index == c->n && (c->gap_len == 0 || c->gap < c->n)) {
        /* Append at the tail, past the gap. */
        if (grow(c, c->n + c->gap_len + 1) != CRDT_OK)
            return CRDT_ERR_NOMEM;
        c->structs[c->n + c->gap_len] = it;
        c->clocks[c->n + c->gap_len] = it->id.clock;
        if (c->gap_len == 0)
            c->gap = c->n + 1;
        c->n++;
        return CRDT_OK;
    }
    if (c->gap_len == 0) {
        /* Open a gap here, sized so that a burst of edits nearby fits. */
        size_t g = c->n / 32 < 16 ? 16 : c->n / 32;
        if (grow(c, c->n + g) != CRDT_OK)
            return CRDT_ERR_NOMEM;
        memmove(c->structs + index + g, c->structs + index, (c->n - index) * sizeof(crdt_item *));
        memmove(c->clocks + index + g, c->clocks + index, (c->n - index) * sizeof(uint64_t));
        c->gap = index;
        c->gap_len = g;
    } else {
        move_gap(c, index);
    }
    c->clocks[c->gap] = it->id.clock;
    c->structs[c->gap++] = it;
    c->gap_len--;
    c->n++;
    return CRDT_OK;
}

/* Removes `count` structs starting at logical index start. */
static void client_remove(crdt_client *c, size_t start, size_t count)
{
    move_gap(c, start + count);
    c->gap = start;
    c->gap_len += count;
    c->n -= count;
}

crdt_status crdt_store_add(crdt_doc *doc, crdt_item *it)
{
    crdt_client *c = crdt_store_client_add(doc, it->id.client);
    if (!c)
        return CRDT_ERR_NOMEM;
    uint64_t state = crdt_client_state(c);
    if (state != it->id.clock)
        return CRDT_ERR_MALFORMED; /* callers integrate only at the state */
    crdt_txn *txn = &doc->txn;
    if (c->txn_stamp != txn->stamp) {
        if (txn->nchanged == txn->changed_cap) {
            size_t cap = txn->changed_cap ? txn->changed_cap * 2 : 8;
            crdt_client **v = realloc(txn->changed, cap * sizeof(*v));
            if (!v)
                return CRDT_ERR_NOMEM;
            txn->changed = v;
            txn->changed_cap = cap;
        }
        txn->changed[txn->nchanged++] = c;
        c->txn_stamp = txn->stamp;
        c->txn_before = state;
    }
    crdt_status st = client_insert(c, c->n, it);
    if (st == CRDT_OK) {
        it->flags |= CRDT_F_INTEGRATED;
        c->state = it->id.clock + it->len;
    }
    return st;
}

static const char fffd[3] = {(char)0xef, (char)0xbf, (char)0xbd};

/* Splits an integrated string's bytes at UTF-16 offset diff between left and right. */
static crdt_status split_string(crdt_doc *doc, crdt_item *left, crdt_item *right, uint64_t diff)
{
    int split;
    size_t b = crdt_str_offset(left, diff, &split);
    if (!split) {
        right->c.str.p = left->c.str.p + b;
        right->c.str.n = left->c.str.n - (uint32_t)b;
        right->c.str.cap = left->c.str.cap - (uint32_t)b;
        left->c.str.n = (uint32_t)b;
        left->c.str.cap = (uint32_t)b;
        return CRDT_OK;
    }
    /* Yjs replaces both halves of a split surrogate pair with U+FFFD (one UTF-16 unit each,
     * but 3 UTF-8 bytes instead of the pair's 4). */
    size_t rn = left->c.str.n - b - 4;
    char *l = crdt_arena_alloc(&doc->text, b + 3);
    char *r = crdt_arena_alloc(&doc->text, rn + 3);
    if (!l || !r)
        return CRDT_ERR_NOMEM;
    memcpy(l, left->c.str.p, b);
    memcpy(l + b, fffd, 3);
    memcpy(r, fffd, 3);
    memcpy(r + 3, left->c.str.p + b + 4, rn);
    left->c.str.p = l;
    left->c.str.n = left->c.str.cap = (uint32_t)(b + 3);
    right->c.str.p = r;
    right->c.str.n = right->c.str.cap = (uint32_t)(rn + 3);
    return CRDT_OK;
}

crdt_item *crdt_store_split(crdt_doc *doc, crdt_client *c, size_t index, uint64_t diff)
{
    crdt_item *left = crdt_client_at(c, index);
    crdt_item *right = crdt_pool_get(&doc->pool);
    if (!right) {
        doc->txn.err = CRDT_ERR_NOMEM;
        return NULL;
    }
    *right = *left;
    right->id.clock = left->id.clock + diff;
    right->len = left->len - diff;
    right->origin.client = left->id.client;
    right->origin.clock = left->id.clock + diff - 1;
    right->flags |= CRDT_F_ORIGIN;
    right->left = left;
    right->scan_epoch = 0;
    memset(&right->c, 0, sizeof(right->c));
    crdt_status st = CRDT_OK;
    switch (left->kind) {
    case CRDT_REF_STRING:
        st = split_string(doc, left, right, diff);
        break;
    case CRDT_REF_JSON:
    case CRDT_REF_ANY: {
        crdt_value *vals = malloc((size_t)right->len * sizeof(crdt_value));
        if (!vals) {
            st = CRDT_ERR_NOMEM;
            break;
        }
        memcpy(vals, left->c.vals + diff, (size_t)right->len * sizeof(crdt_value));
        right->c.vals = vals;
        break;
    }
    default: /* Deleted: only the length splits; other contents have length 1 */
        break;
    }
    if (st == CRDT_OK)
        st = client_insert(c, index + 1, right);
    if (st != CRDT_OK) {
        if (left->kind == CRDT_REF_JSON || left->kind == CRDT_REF_ANY)
            free(right->c.vals);
        memset(&right->c, 0, sizeof(right->c));
        right->kind = CRDT_REF_DELETED;
        crdt_item_release(&doc->pool, right);
        doc->txn.err = CRDT_ERR_NOMEM;
        return NULL;
    }
    left->len = diff;
    left->right = right;
    if (right->right)
        right->right->left = right;
    crdt_txn_add_merge(doc, right->id);
    if (right->sub && !right->right && right->parent_kind == CRDT_PARENT_TYPE)
        crdt_pmap_set(&right->parent.type->map, right->sub, right);
    return right;
}

crdt_item *crdt_store_clean_end(crdt_doc *doc, crdt_id id)
{
    crdt_client *c = crdt_store_client(doc, id.client);
    if (!c || id.clock >= crdt_client_state(c))
        return NULL;
    size_t i = crdt_client_find(c, id.clock);
    crdt_item *s = crdt_client_at(c, i);
    if (id.clock != s->id.clock + s->len - 1 && s->kind != CRDT_REF_GC) {
        if (!crdt_store_split(doc, c, i, id.clock - s->id.clock + 1))
            return NULL;
    }
    return s;
}

crdt_item *crdt_store_clean_start(crdt_doc *doc, crdt_id id)
{
    crdt_client *c = crdt_store_client(doc, id.client);
    if (!c || id.clock >= crdt_client_state(c))
        return NULL;
    size_t i = crdt_client_find(c, id.clock);
    crdt_item *s = crdt_client_at(c, i);
    if (s->id.clock < id.clock && s->kind != CRDT_REF_GC)
        return crdt_store_split(doc, c, i, id.clock - s->id.clock);
    return s;
}

static uint64_t visible_len(const crdt_item *it)
{
    return (it->flags & CRDT_F_COUNTABLE) && !crdt_item_deleted(it) ? it->len : 0;
}

/* Appends right's string to left's, in place when the arena allows. */
static int merge_strings(crdt_doc *doc, crdt_item *left, const crdt_item *right)
{
    uint64_t total = (uint64_t)left->c.str.n + right->c.str.n;
    if (total > UINT32_MAX / 2)
        return 0;
    if (left->c.str.p + left->c.str.n == right->c.str.p) {
        left->c.str.cap = left->c.str.n + right->c.str.cap;
        left->c.str.n = (uint32_t)total;
        return 1;
    }
    if (left->c.str.cap - left->c.str.n < right->c.str.n) {
        size_t extra = (size_t)(total - left->c.str.cap);
        if (crdt_arena_extend(&doc->text, left->c.str.p, left->c.str.cap, extra)) {
            left->c.str.cap = (uint32_t)total;
        } else {
            uint64_t cap = total * 2 < 16 ? 16 : total * 2;
            char *p = crdt_arena_alloc(&doc->text, (size_t)cap);
            if (!p)
                return 0;
            memcpy(p, left->c.str.p, left->c.str.n);
            left->c.str.p = p;
            left->c.str.cap = (uint32_t)cap;
        }
    }
    memcpy(left->c.str.p + left->c.str.n, right->c.str.p, right->c.str.n);
    left->c.str.n = (uint32_t)total;
    return 1;
}

/* Item.mergeWith / GC.mergeWith: absorbs right into left when Yjs would. */
static int try_merge(crdt_doc *doc, crdt_item *left, crdt_item *right)
{
    if (left->kind != right->kind)
        return 0;
    if (left->kind == CRDT_REF_GC) {
        left->len += right->len;
        return 1;
    }
    if (!(right->flags & CRDT_F_ORIGIN) || right->origin.client != left->id.client ||
        right->origin.clock != left->id.clock + left->len - 1 || left->right != right ||
        left->id.client != right->id.client || left->id.clock + left->len != right->id.clock ||
        ((left->flags ^ right->flags) & (CRDT_F_RIGHT_ORIGIN | CRDT_F_DELETED)) != 0)
        return 0;
    if ((left->flags & CRDT_F_RIGHT_ORIGIN) && !crdt_id_eq(left->right_origin, right->right_origin))
        return 0;
    crdt_type *parent = left->parent_kind == CRDT_PARENT_TYPE ? left->parent.type : NULL;
    uint64_t left_visible = visible_len(left);
    switch (left->kind) {
    case CRDT_REF_STRING:
        if (!merge_strings(doc, left, right))
            return 0;
        break;
    case CRDT_REF_DELETED:
        break;
    case CRDT_REF_JSON:
    case CRDT_REF_ANY: {
        crdt_value *v = realloc(left->c.vals, (size_t)(left->len + right->len) * sizeof(*v));
        if (!v)
            return 0;
        memcpy(v + left->len, right->c.vals, (size_t)right->len * sizeof(*v));
        free(right->c.vals);
        right->c.vals = NULL;
        left->c.vals = v;
        break;
    }
    default:
        return 0;
    }
    left->right = right->right;
    if (left->right)
        left->right->left = left;
    left->len += right->len;
    if (parent) {
        if (right->sub && crdt_pmap_get(&parent->map, right->sub) == right)
            crdt_pmap_set(&parent->map, right->sub, left);
        if (parent->cache_item == right) {
            parent->cache_item = left;
            parent->cache_index -= left_visible;
        }
    }
    return 1;
}

size_t crdt_store_merge_lefts(crdt_doc *doc, crdt_client *c, size_t pos)
{
    crdt_item *right = crdt_client_at(c, pos);
    size_t i = pos;
    while (i > 0) {
        crdt_item *left = crdt_client_at(c, i - 1);
        if (crdt_item_deleted(left) != crdt_item_deleted(right) ||
            (left->kind == CRDT_REF_GC) != (right->kind == CRDT_REF_GC) ||
            !try_merge(doc, left, right))
            break;
        right = left;
        i--;
    }
    size_t merged = pos - i;
    if (merged) {
        for (size_t k = i + 1; k <= pos; k++) {
            crdt_item *gone = crdt_client_at(c, k);
            if (gone->kind == CRDT_REF_STRING || gone->kind == CRDT_REF_DELETED ||
                gone->kind == CRDT_REF_GC)
                memset(&gone->c, 0, sizeof(gone->c));
            crdt_item_release(&doc->pool, gone);
        }
        client_remove(c, i + 1, merged);
    }
    return merged;
}
