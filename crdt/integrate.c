/*
 * integrate.c - applying updates: Yjs's integrateStructs (a stack that follows cross-client
 * dependencies inside one update), Item.integrate (the YATA conflict loop), deletions,
 * pending structs and delete sets for out-of-order delivery, and the transaction cleanup
 * (garbage collection, merging of adjacent structs) that Yjs runs after every update.
 */
#include "crdt/internal.h"

#include <stdlib.h>
#include <string.h>

static const char fffd[3] = {(char)0xef, (char)0xbf, (char)0xbd};

crdt_status crdt_type_new(uint8_t type_ref, crdt_type **out)
{
    crdt_type *t = calloc(1, sizeof(*t));
    if (!t)
        return CRDT_ERR_NOMEM;
    t->type_ref = type_ref;
    crdt_pmap_init(&t->map);
    *out = t;
    return CRDT_OK;
}

crdt_type *crdt_doc_root(crdt_doc *doc, const char *name, size_t n)
{
    const char *key = crdt_intern_get(&doc->keys, name, n);
    if (!key)
        return NULL;
    crdt_type *t = crdt_pmap_get(&doc->roots, key);
    if (t)
        return t;
    if (crdt_type_new(CRDT_TYPE_UNKNOWN, &t) != CRDT_OK)
        return NULL;
    t->name = (char *)key;
    t->name_len = n;
    if (crdt_pmap_set(&doc->roots, key, t) != CRDT_OK) {
        crdt_type_free(t);
        return NULL;
    }
    return t;
}

crdt_type *crdt_doc_find_root(const crdt_doc *doc, const char *name)
{
    /* Interned keys are unique per document, so look the name up by content. */
    for (size_t i = 0; i < doc->roots.n; i++)
        if (strcmp(doc->roots.entries[i].key, name) == 0)
            return doc->roots.entries[i].val;
    return NULL;
}

/* ---------------------------------------------------------------- transaction ---- */

void crdt_txn_begin(crdt_doc *doc)
{
    crdt_txn *txn = &doc->txn;
    txn->stamp++;
    if (txn->stamp == 0) { /* wrapped: stale stamps in clients could match again */
        for (size_t i = 0; i < doc->clients_cap; i++)
            if (doc->clients[i])
                doc->clients[i]->txn_stamp = 0;
        txn->stamp = 1;
    }
    txn->ds.n = 0;
    txn->nmerge = 0;
    txn->nchanged = 0;
    txn->touched = 0;
    txn->err = CRDT_OK;
}

void crdt_txn_add_delete(crdt_doc *doc, uint64_t client, uint64_t clock, uint64_t len)
{
    if (crdt_ranges_add(&doc->txn.ds, client, clock, len) != CRDT_OK)
        doc->txn.err = CRDT_ERR_NOMEM;
    doc->txn.touched = 1;
}

void crdt_txn_add_merge(crdt_doc *doc, crdt_id id)
{
    crdt_txn *txn = &doc->txn;
    if (txn->nmerge == txn->merge_cap) {
        size_t cap = txn->merge_cap ? txn->merge_cap * 2 : 16;
        crdt_id *v = realloc(txn->merge, cap * sizeof(*v));
        if (!v) {
            txn->err = CRDT_ERR_NOMEM;
            return;
        }
        txn->merge = v;
        txn->merge_cap = cap;
    }
    txn->merge[txn->nmerge++] = id;
}

static crdt_item **work_push(crdt_item **work, size_t *n, size_t *cap, crdt_item *it)
{
    if (*n == *cap) {
        size_t ncap = *cap ? *cap * 2 : 32;
        crdt_item **w = realloc(work, ncap * sizeof(*w));
        if (!w) {
            free(work);
            return NULL;
        }
        work = w;
        *cap = ncap;
    }
    work[(*n)++] = it;
    return work;
}

static crdt_type *parent_of(const crdt_item *it)
{
    return it->parent_kind == CRDT_PARENT_TYPE ? it->parent.type : NULL;
}

static void delete_one(crdt_doc *doc, crdt_item *it)
{
    crdt_type *parent = parent_of(it);
    if (parent) {
        if ((it->flags & CRDT_F_COUNTABLE) && !it->sub)
            parent->length -= it->len;
        parent->cache_item = NULL;
    }
    it->flags |= CRDT_F_DELETED;
    crdt_txn_add_delete(doc, it->id.client, it->id.clock, it->len);
}

/* Item.delete, with ContentType.delete's recursion into children done by a work list so
 * that deep nesting cannot exhaust the stack. */
void crdt_item_delete(crdt_doc *doc, crdt_item *it)
{
    if (crdt_item_deleted(it))
        return;
    delete_one(doc, it);
    if (it->kind != CRDT_REF_TYPE)
        return;
    crdt_item **work = NULL;
    size_t n = 0, cap = 0;
    work = work_push(work, &n, &cap, it);
    while (work && n > 0) {
        crdt_item *x = work[--n];
        crdt_type *t = x->c.type;
        for (crdt_item *c = t->start; c && work; c = c->right) {
            if (crdt_item_deleted(c)) {
                crdt_txn_add_merge(doc, c->id);
                continue;
            }
            delete_one(doc, c);
            if (c->kind == CRDT_REF_TYPE)
                work = work_push(work, &n, &cap, c);
        }
        for (size_t i = 0; i < t->map.n && work; i++) {
            crdt_item *c = t->map.entries[i].val;
            if (crdt_item_deleted(c)) {
                crdt_txn_add_merge(doc, c->id);
                continue;
            }
            delete_one(doc, c);
            if (c->kind == CRDT_REF_TYPE)
                work = work_push(work, &n, &cap, c);
        }
    }
    if (!work)
        doc->txn.err = CRDT_ERR_NOMEM;
    free(work);
}

/* Item.gc: a deleted item's content becomes ContentDeleted; the children of a deleted type
 * become GC structs (parent_gcd). */
static void gc_convert(crdt_item *it, int parent_gcd)
{
    crdt_content_free(it);
    if (parent_gcd) {
        it->kind = CRDT_REF_GC;
        it->parent_kind = CRDT_PARENT_NONE;
        it->parent.type = NULL;
        it->sub = NULL;
        it->flags &= (uint16_t) ~(CRDT_F_COUNTABLE | CRDT_F_ORIGIN | CRDT_F_RIGHT_ORIGIN);
        it->flags |= CRDT_F_DELETED;
    } else {
        it->kind = CRDT_REF_DELETED;
        it->flags &= (uint16_t)~CRDT_F_COUNTABLE;
    }
}

static void item_gc(crdt_doc *doc, crdt_item *it)
{
    if (it->kind != CRDT_REF_TYPE) {
        gc_convert(it, 0);
        return;
    }
    crdt_item **work = NULL;
    size_t n = 0, cap = 0;
    /* Collect the whole subtree first; converting frees each type after its children are
     * queued. */
    work = work_push(work, &n, &cap, it);
    size_t done = 0;
    while (work && done < n) {
        crdt_item *x = work[done++];
        if (x->kind != CRDT_REF_TYPE)
            continue;
        crdt_type *t = x->c.type;
        for (crdt_item *c = t->start; c && work; c = c->right)
            work = work_push(work, &n, &cap, c);
        for (size_t i = 0; i < t->map.n && work; i++)
            for (crdt_item *c = t->map.entries[i].val; c && work; c = c->left)
                work = work_push(work, &n, &cap, c);
    }
    if (!work) {
        doc->txn.err = CRDT_ERR_NOMEM;
        return;
    }
    for (size_t i = 0; i < n; i++)
        gc_convert(work[i], i > 0);
    free(work);
}

static crdt_status cleanup(crdt_doc *doc)
{
    crdt_txn *txn = &doc->txn;
    crdt_ranges *ds = &txn->ds;
    crdt_ranges_normalize(ds);
    if (doc->gc) {
        for (size_t r = 0; r < ds->n; r++) {
            crdt_client *c = crdt_store_client(doc, ds->v[r].client);
            if (!c)
                continue;
            uint64_t end = ds->v[r].clock + ds->v[r].len;
            for (size_t i = crdt_client_find(c, ds->v[r].clock);
                 i < c->n && crdt_client_at(c, i)->id.clock < end; i++) {
                crdt_item *s = crdt_client_at(c, i);
                if (s->kind != CRDT_REF_GC && (s->flags & CRDT_F_DELETED))
                    item_gc(doc, s);
            }
        }
    }
    for (size_t r = ds->n; r-- > 0;) {
        crdt_client *c = crdt_store_client(doc, ds->v[r].client);
        if (!c || c->n == 0)
            continue;
        size_t last = crdt_client_find(c, ds->v[r].clock + ds->v[r].len - 1) + 1;
        int64_t si = (int64_t)(last < c->n - 1 ? last : c->n - 1);
        while (si > 0 && crdt_client_at(c, (size_t)si)->id.clock >= ds->v[r].clock)
            si -= 1 + (int64_t)crdt_store_merge_lefts(doc, c, (size_t)si);
    }
    for (size_t k = 0; k < txn->nchanged; k++) {
        crdt_client *c = txn->changed[k];
        if (crdt_client_state(c) == c->txn_before || c->n == 0)
            continue;
        size_t first = crdt_client_find(c, c->txn_before);
        if (c->txn_before >= crdt_client_state(c))
            first = c->n - 1;
        if (first < 1)
            first = 1;
        for (int64_t i = (int64_t)c->n - 1; i >= (int64_t)first;)
            i -= 1 + (int64_t)crdt_store_merge_lefts(doc, c, (size_t)i);
    }
    for (size_t k = txn->nmerge; k-- > 0;) {
        crdt_client *c = crdt_store_client(doc, txn->merge[k].client);
        if (!c || txn->merge[k].clock >= crdt_client_state(c))
            continue;
        size_t pos = crdt_client_find(c, txn->merge[k].clock);
        if (pos + 1 < c->n && crdt_store_merge_lefts(doc, c, pos + 1) > 1)
            continue;
        if (pos > 0)
            crdt_store_merge_lefts(doc, c, pos);
    }
    return txn->err;
}

/* Deleted and merged-away text stays in the arena as garbage. When the arena has doubled
 * since the last check and more than half of it is garbage, copy the live strings into a
 * fresh arena, so a long-lived document's memory follows its content. */
static void compact_text(crdt_doc *doc)
{
    size_t live = 0;
    for (size_t i = 0; i < doc->clients_cap; i++) {
        const crdt_client *c = doc->clients[i];
        for (size_t k = 0; c && k < c->n; k++) {
            const crdt_item *it = crdt_client_at(c, k);
            if (it->kind == CRDT_REF_STRING)
                live += it->c.str.n;
        }
    }
    size_t next = 2 * doc->text.allocated;
    if (live * 2 < doc->text.allocated) {
        crdt_arena fresh;
        crdt_arena_init(&fresh);
        for (size_t i = 0; i < doc->clients_cap; i++) {
            crdt_client *c = doc->clients[i];
            for (size_t k = 0; c && k < c->n; k++) {
                crdt_item *it = crdt_client_at(c, k);
                if (it->kind != CRDT_REF_STRING || it->c.str.n == 0)
                    continue;
                char *p = crdt_arena_alloc(&fresh, it->c.str.n);
                if (!p) { /* keep the old arena; try again later */
                    crdt_arena_destroy(&fresh);
                    return;
                }
                memcpy(p, it->c.str.p, it->c.str.n);
                it->c.str.p = p;
                it->c.str.cap = it->c.str.n;
            }
        }
        crdt_arena_destroy(&doc->text);
        doc->text = fresh;
        next = 2 * live;
    }
    doc->text_compact_at = next < ((size_t)1 << 16) ? (size_t)1 << 16 : next;
}

crdt_status crdt_txn_end(crdt_doc *doc)
{
    crdt_status st = doc->txn.err;
    if (st == CRDT_OK)
        st = cleanup(doc);
    if (st == CRDT_OK && doc->text.allocated > doc->text_compact_at)
        compact_text(doc);
    return st;
}

/* ------------------------------------------------------------------ integrate ---- */

static int same_origin(const crdt_item *a, const crdt_item *b)
{
    int fa = (a->flags & CRDT_F_ORIGIN) != 0, fb = (b->flags & CRDT_F_ORIGIN) != 0;
    return fa == fb && (!fa || crdt_id_eq(a->origin, b->origin));
}

static int same_right_origin(const crdt_item *a, const crdt_item *b)
{
    int fa = (a->flags & CRDT_F_RIGHT_ORIGIN) != 0, fb = (b->flags & CRDT_F_RIGHT_ORIGIN) != 0;
    return fa == fb && (!fa || crdt_id_eq(a->right_origin, b->right_origin));
}

static uint32_t next_epoch(crdt_doc *doc)
{
    if (++doc->scan_epoch == 0) { /* wrapped: clear stale marks */
        for (size_t i = 0; i < doc->clients_cap; i++) {
            crdt_client *c = doc->clients[i];
            for (size_t k = 0; c && k < c->n; k++)
                crdt_client_at(c, k)->scan_epoch = 0;
        }
        doc->scan_epoch = 1;
    }
    return doc->scan_epoch;
}

/* Removes the first `offset` units of a decoded item's content (integration of a struct that
 * partly overlaps what the document has). */
static crdt_status drop_front(crdt_doc *doc, crdt_item *it, uint64_t offset)
{
    switch (it->kind) {
    case CRDT_REF_STRING: {
        int split;
        size_t b = crdt_str_offset(it, offset, &split);
        if (!split) {
            it->c.str.p += b;
            it->c.str.n -= (uint32_t)b;
            it->c.str.cap = it->c.str.n;
            break;
        }
        size_t rn = it->c.str.n - b - 4;
        char *p = crdt_arena_alloc(&doc->text, rn + 3);
        if (!p)
            return CRDT_ERR_NOMEM;
        memcpy(p, fffd, 3);
        memcpy(p + 3, it->c.str.p + b + 4, rn);
        it->c.str.p = p;
        it->c.str.n = it->c.str.cap = (uint32_t)(rn + 3);
        it->flags &= (uint16_t)~CRDT_F_STR_BORROWED;
        break;
    }
    case CRDT_REF_JSON:
    case CRDT_REF_ANY:
        for (uint64_t i = 0; i < offset; i++)
            crdt_value_clear(&it->c.vals[i]);
        memmove(it->c.vals, it->c.vals + offset, (size_t)(it->len - offset) * sizeof(crdt_value));
        break;
    default:
        break;
    }
    return CRDT_OK;
}

crdt_status crdt_item_integrate(crdt_doc *doc, crdt_item *it, uint64_t offset)
{
    if (offset > 0 && it->kind == CRDT_REF_GC) {
        it->id.clock += offset;
        it->len -= offset;
    } else if (offset > 0) {
        crdt_id prev = {it->id.client, it->id.clock + offset - 1};
        it->left = crdt_store_clean_end(doc, prev);
        if (!it->left)
            return doc->txn.err ? doc->txn.err : CRDT_ERR_MALFORMED;
        it->origin.client = it->left->id.client;
        it->origin.clock = it->left->id.clock + it->left->len - 1;
        it->flags |= CRDT_F_ORIGIN;
        crdt_status st = drop_front(doc, it, offset);
        if (st != CRDT_OK)
            return st;
        it->id.clock += offset;
        it->len -= offset;
    }
    crdt_type *parent = parent_of(it);
    if (it->kind == CRDT_REF_GC || !parent) {
        /* No parent (it was garbage-collected): keep only the clock range, as a GC struct. */
        if (it->kind != CRDT_REF_GC) {
            if (it->kind == CRDT_REF_STRING)
                memset(&it->c, 0, sizeof(it->c));
            gc_convert(it, 1);
        }
        it->left = it->right = NULL;
        doc->txn.touched = 1;
        return crdt_store_add(doc, it);
    }
    crdt_item *left = it->left;
    crdt_item *right = it->right;
    if ((!left && (!right || right->left != NULL)) || (left && left->right != right)) {
        crdt_item *o;
        if (left) {
            o = left->right;
        } else if (it->sub) {
            o = crdt_pmap_get(&parent->map, it->sub);
            while (o && o->left)
                o = o->left;
        } else {
            o = parent->start;
        }
        /* itemsBeforeOrigin = items stamped with this epoch; conflictingItems = those with
         * a sequence number >= conflict_start. */
        uint32_t epoch = next_epoch(doc);
        uint32_t seq = 0, conflict_start = 1;
        while (o && o != right) {
            o->scan_epoch = epoch;
            o->scan_seq = ++seq;
            if (same_origin(it, o)) {
                if (o->id.client < it->id.client) {
                    left = o;
                    conflict_start = seq + 1;
                } else if (same_right_origin(it, o)) {
                    break;
                }
            } else if (o->flags & CRDT_F_ORIGIN) {
                crdt_item *oi = crdt_store_get(doc, o->origin);
                if (!oi || oi->scan_epoch != epoch)
                    break;
                if (oi->scan_seq < conflict_start) {
                    left = o;
                    conflict_start = seq + 1;
                }
            } else {
                break;
            }
            o = o->right;
        }
        it->left = left;
    }
    if (left) {
        it->right = left->right;
        left->right = it;
    } else {
        crdt_item *r;
        if (it->sub) {
            r = crdt_pmap_get(&parent->map, it->sub);
            while (r && r->left)
                r = r->left;
        } else {
            r = parent->start;
            parent->start = it;
        }
        it->right = r;
    }
    if (it->right) {
        it->right->left = it;
    } else if (it->sub) {
        if (crdt_pmap_set(&parent->map, it->sub, it) != CRDT_OK)
            return CRDT_ERR_NOMEM;
        if (left)
            crdt_item_delete(doc, left);
    }
    if (!it->sub && (it->flags & CRDT_F_COUNTABLE) && !(it->flags & CRDT_F_DELETED))
        parent->length += it->len;
    crdt_status st = crdt_store_add(doc, it);
    if (st != CRDT_OK)
        return st;
    parent->cache_item = NULL;
    doc->txn.touched = 1;
    switch (it->kind) {
    case CRDT_REF_STRING:
        if (it->flags & CRDT_F_STR_BORROWED) {
            char *p = crdt_arena_alloc(&doc->text, it->c.str.n ? it->c.str.n : 1);
            if (!p)
                return CRDT_ERR_NOMEM;
            memcpy(p, it->c.str.p, it->c.str.n);
            it->c.str.p = p;
            it->c.str.cap = it->c.str.n;
            it->flags &= (uint16_t)~CRDT_F_STR_BORROWED;
        }
        break;
    case CRDT_REF_TYPE:
        it->c.type->item = it;
        break;
    case CRDT_REF_DELETED:
        crdt_txn_add_delete(doc, it->id.client, it->id.clock, it->len);
        it->flags |= CRDT_F_DELETED;
        break;
    case CRDT_REF_FORMAT:
        parent->has_formatting = 1;
        break;
    default:
        break;
    }
    if ((parent->item && crdt_item_deleted(parent->item)) || (it->sub && it->right))
        crdt_item_delete(doc, it);
    return doc->txn.err;
}

/* Item.getMissing: the client whose struct this item still needs (returns 1 and sets
 * *missing), or resolves origin/right origin/parent and returns 0. */
static int get_missing(crdt_doc *doc, crdt_item *it, uint64_t *missing, crdt_status *err)
{
    uint64_t self = it->id.client;
    if ((it->flags & CRDT_F_ORIGIN) && it->origin.client != self &&
        it->origin.clock >= crdt_store_state(doc, it->origin.client)) {
        *missing = it->origin.client;
        return 1;
    }
    if ((it->flags & CRDT_F_RIGHT_ORIGIN) && it->right_origin.client != self &&
        it->right_origin.clock >= crdt_store_state(doc, it->right_origin.client)) {
        *missing = it->right_origin.client;
        return 1;
    }
    if (it->parent_kind == CRDT_PARENT_ID && it->parent.id.client != self &&
        it->parent.id.clock >= crdt_store_state(doc, it->parent.id.client)) {
        *missing = it->parent.id.client;
        return 1;
    }
    if (it->kind == CRDT_REF_GC)
        return 0;
    crdt_item *left = NULL, *right = NULL;
    if (it->flags & CRDT_F_ORIGIN) {
        left = crdt_store_clean_end(doc, it->origin);
        if (!left) {
            *err = doc->txn.err ? doc->txn.err : CRDT_ERR_MALFORMED;
            return 0;
        }
        it->origin.client = left->id.client;
        it->origin.clock = left->id.clock + left->len - 1;
    }
    if (it->flags & CRDT_F_RIGHT_ORIGIN) {
        right = crdt_store_clean_start(doc, it->right_origin);
        if (!right) {
            *err = doc->txn.err ? doc->txn.err : CRDT_ERR_MALFORMED;
            return 0;
        }
        it->right_origin = right->id;
    }
    it->left = left;
    it->right = right;
    crdt_type *parent = NULL;
    if ((left && left->kind == CRDT_REF_GC) || (right && right->kind == CRDT_REF_GC)) {
        parent = NULL;
    } else if (it->parent_kind == CRDT_PARENT_NONE) {
        const crdt_item *from = left ? left : right;
        if (from) {
            parent = parent_of(from);
            it->sub = from->sub;
            it->sub_len = from->sub_len;
        }
    } else if (it->parent_kind == CRDT_PARENT_ID) {
        crdt_item *p = crdt_store_get(doc, it->parent.id);
        /* A parent that was garbage-collected (or is not a type at all) makes this a GC. */
        parent = p && p->kind == CRDT_REF_TYPE ? p->c.type : NULL;
    } else if (it->parent_kind == CRDT_PARENT_ROOT) {
        parent = crdt_doc_root(doc, it->parent.name.p, it->parent.name.n);
        if (!parent) {
            *err = CRDT_ERR_NOMEM;
            return 0;
        }
    }
    if (parent && it->sub && it->parent_kind != CRDT_PARENT_NONE) {
        const char *key = crdt_intern_get(&doc->keys, it->sub, it->sub_len);
        if (!key) {
            *err = CRDT_ERR_NOMEM;
            return 0;
        }
        it->sub = key;
    }
    it->parent_kind = CRDT_PARENT_TYPE;
    it->parent.type = parent;
    return 0;
}

/* ------------------------------------------------------------------ apply ---- */

typedef struct item_list {
    crdt_item **v;
    size_t n, cap;
} item_list;

static crdt_status list_push(item_list *l, crdt_item *it)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        crdt_item **v = realloc(l->v, cap * sizeof(*v));
        if (!v)
            return CRDT_ERR_NOMEM;
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = it;
    return CRDT_OK;
}

typedef struct missing_set {
    crdt_sv_entry *v;
    size_t n, cap;
} missing_set;

static crdt_status missing_add(missing_set *m, uint64_t client, uint64_t clock)
{
    for (size_t i = 0; i < m->n; i++) {
        if (m->v[i].client == client) {
            if (clock < m->v[i].clock)
                m->v[i].clock = clock;
            return CRDT_OK;
        }
    }
    if (m->n == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 4;
        crdt_sv_entry *v = realloc(m->v, cap * sizeof(*v));
        if (!v)
            return CRDT_ERR_NOMEM;
        m->v = v;
        m->cap = cap;
    }
    m->v[m->n].client = client;
    m->v[m->n].clock = clock;
    m->n++;
    return CRDT_OK;
}

static void take_slot(crdt_update *u, crdt_item *it)
{
    crdt_block *b = crdt_update_block(u, it->id.client);
    if (b && it->scan_seq < b->n && b->structs[it->scan_seq] == it)
        b->structs[it->scan_seq] = NULL;
    it->scan_seq = 0;
}

typedef struct integrate_state {
    crdt_doc *doc;
    crdt_update *u;
    item_list stack;
    item_list rest;
    missing_set missing;
} integrate_state;

/* addStackToRestSS: everything on the stack, and the rest of each of their clients'
 * structs, waits for a missing dependency. */
static crdt_status stack_to_rest(integrate_state *s)
{
    for (size_t k = 0; k < s->stack.n; k++) {
        crdt_item *it = s->stack.v[k];
        crdt_block *b = crdt_update_block(s->u, it->id.client);
        if (b && !b->removed) {
            if (b->next > 0)
                b->next--;
            for (size_t i = b->next; i < b->n; i++) {
                if (!b->structs[i])
                    continue;
                if (list_push(&s->rest, b->structs[i]) != CRDT_OK)
                    return CRDT_ERR_NOMEM;
                b->structs[i] = NULL;
            }
            b->next = b->n;
            b->removed = 1;
        } else {
            take_slot(s->u, it);
            if (list_push(&s->rest, it) != CRDT_OK)
                return CRDT_ERR_NOMEM;
        }
    }
    s->stack.n = 0;
    return CRDT_OK;
}

static crdt_block *next_target(crdt_update *u, size_t *top)
{
    while (*top > 0) {
        crdt_block *b = &u->blocks[*top - 1];
        if (b->next < b->n && !b->removed)
            return b;
        (*top)--;
    }
    return NULL;
}

static crdt_status integrate_structs(integrate_state *s)
{
    crdt_doc *doc = s->doc;
    crdt_update *u = s->u;
    size_t top = u->nblocks;
    crdt_block *cur = next_target(u, &top);
    if (!cur)
        return CRDT_OK;
    crdt_item *head = cur->structs[cur->next++];
    crdt_status st = CRDT_OK;
    for (;;) {
        if (head->kind != CRDT_REF_SKIP) {
            uint64_t local = crdt_store_state(doc, head->id.client);
            if (local < head->id.clock) {
                if ((st = list_push(&s->stack, head)) != CRDT_OK)
                    return st;
                if ((st = missing_add(&s->missing, head->id.client, head->id.clock - 1)) != CRDT_OK)
                    return st;
                if ((st = stack_to_rest(s)) != CRDT_OK)
                    return st;
            } else if (head->id.clock + head->len > local) {
                uint64_t missing = 0;
                crdt_status err = CRDT_OK;
                int has_missing = get_missing(doc, head, &missing, &err);
                if (err != CRDT_OK)
                    return err;
                if (has_missing) {
                    if ((st = list_push(&s->stack, head)) != CRDT_OK)
                        return st;
                    crdt_block *b = crdt_update_block(u, missing);
                    if (!b || b->removed || b->next == b->n) {
                        st = missing_add(&s->missing, missing, crdt_store_state(doc, missing));
                        if (st == CRDT_OK)
                            st = stack_to_rest(s);
                        if (st != CRDT_OK)
                            return st;
                    } else {
                        head = b->structs[b->next++];
                        continue;
                    }
                } else {
                    take_slot(u, head);
                    st = crdt_item_integrate(doc, head, local - head->id.clock);
                    if (st != CRDT_OK)
                        return st;
                }
            }
        }
        if (s->stack.n > 0) {
            head = s->stack.v[--s->stack.n];
        } else if (cur && cur->next < cur->n && !cur->removed) {
            head = cur->structs[cur->next++];
        } else {
            cur = next_target(u, &top);
            if (!cur)
                break;
            head = cur->structs[cur->next++];
        }
    }
    return CRDT_OK;
}

/* readAndApplyDeleteSet: deletes what the document has, collects the rest in unapplied. */
static crdt_status apply_delete_set(crdt_doc *doc, const crdt_ranges *ds, crdt_ranges *unapplied)
{
    for (size_t r = 0; r < ds->n; r++) {
        uint64_t client = ds->v[r].client, clock = ds->v[r].clock;
        uint64_t end = clock + ds->v[r].len;
        crdt_client *c = crdt_store_client(doc, client);
        uint64_t state = c ? crdt_client_state(c) : 0;
        if (clock >= state) {
            if (crdt_ranges_add(unapplied, client, clock, end - clock) != CRDT_OK)
                return CRDT_ERR_NOMEM;
            continue;
        }
        if (state < end && crdt_ranges_add(unapplied, client, state, end - state) != CRDT_OK)
            return CRDT_ERR_NOMEM;
        size_t i = crdt_client_find(c, clock);
        crdt_item *s = crdt_client_at(c, i);
        if (!crdt_item_deleted(s) && s->id.clock < clock) {
            if (!crdt_store_split(doc, c, i, clock - s->id.clock))
                return doc->txn.err;
            i++;
        }
        while (i < c->n) {
            s = crdt_client_at(c, i++);
            if (s->id.clock >= end)
                break;
            if (!crdt_item_deleted(s)) {
                if (end < s->id.clock + s->len &&
                    !crdt_store_split(doc, c, i - 1, end - s->id.clock))
                    return doc->txn.err;
                crdt_item_delete(doc, s);
            }
        }
    }
    return doc->txn.err;
}

static crdt_status encode_rest(item_list *rest, uint8_t **out, size_t *out_len)
{
    crdt_enc e;
    crdt_enc_init(&e, 0);
    crdt_write_structs(&e, rest->v, rest->n, NULL, 0);
    crdt_buf_varuint(&e.rest, 0); /* no delete set */
    return crdt_enc_finish(&e, out, out_len);
}

static crdt_status add_pending(crdt_doc *doc, integrate_state *s)
{
    uint8_t **parts = realloc(doc->pending, (doc->npending + 1) * sizeof(*parts));
    if (!parts)
        return CRDT_ERR_NOMEM;
    doc->pending = parts;
    size_t *lens = realloc(doc->pending_lens, (doc->npending + 1) * sizeof(*lens));
    if (!lens)
        return CRDT_ERR_NOMEM;
    doc->pending_lens = lens;
    crdt_status st = encode_rest(&s->rest, &parts[doc->npending], &lens[doc->npending]);
    if (st != CRDT_OK)
        return st;
    doc->npending++;
    doc->pending_structs += s->rest.n;
    for (size_t i = 0; i < s->missing.n; i++) {
        size_t k;
        for (k = 0; k < doc->nmissing; k++)
            if (doc->missing[k].client == s->missing.v[i].client)
                break;
        if (k < doc->nmissing) {
            if (s->missing.v[i].clock < doc->missing[k].clock)
                doc->missing[k].clock = s->missing.v[i].clock;
            continue;
        }
        crdt_sv_entry *v = realloc(doc->missing, (doc->nmissing + 1) * sizeof(*v));
        if (!v)
            return CRDT_ERR_NOMEM;
        doc->missing = v;
        doc->missing[doc->nmissing++] = s->missing.v[i];
    }
    return CRDT_OK;
}

static void drop_pending(crdt_doc *doc)
{
    for (size_t i = 0; i < doc->npending; i++)
        free(doc->pending[i]);
    free(doc->pending);
    free(doc->pending_lens);
    doc->pending = NULL;
    doc->pending_lens = NULL;
    doc->npending = 0;
    doc->pending_structs = 0;
    free(doc->missing);
    doc->missing = NULL;
    doc->nmissing = 0;
}

crdt_status crdt_apply(crdt_doc *doc, const uint8_t *data, size_t len, int v2,
                       crdt_apply_result *result)
{
    crdt_update u;
    crdt_status st =
        crdt_update_decode_reusing(&u, data, len, v2, &doc->lim, &doc->pool, &doc->ds_buffer);
    if (st != CRDT_OK)
        return st;
    integrate_state s;
    memset(&s, 0, sizeof(s));
    s.doc = doc;
    s.u = &u;
    crdt_txn_begin(doc);
    st = integrate_structs(&s);
    int retry = 0;
    if (st == CRDT_OK && doc->npending) {
        for (size_t i = 0; i < doc->nmissing && !retry; i++)
            retry = doc->missing[i].clock < crdt_store_state(doc, doc->missing[i].client);
    }
    int this_pending = s.rest.n > 0;
    if (st == CRDT_OK && s.rest.n > 0)
        st = add_pending(doc, &s);
    for (size_t i = 0; i < s.rest.n; i++)
        crdt_item_release(&doc->pool, s.rest.v[i]);
    crdt_ranges unapplied = {0};
    if (st == CRDT_OK)
        st = apply_delete_set(doc, &u.ds, &unapplied);
    if (unapplied.n > 0)
        this_pending = 1;
    if (st == CRDT_OK && doc->pending_ds.n > 0) {
        crdt_ranges old = doc->pending_ds;
        memset(&doc->pending_ds, 0, sizeof(doc->pending_ds));
        st = apply_delete_set(doc, &old, &unapplied);
        crdt_ranges_free(&old);
    }
    if (st == CRDT_OK) {
        crdt_ranges_normalize(&unapplied);
        crdt_ranges_free(&doc->pending_ds);
        doc->pending_ds = unapplied;
    } else {
        crdt_ranges_free(&unapplied);
    }
    doc->ds_buffer = u.ds; /* keep the storage for the next update */
    memset(&u.ds, 0, sizeof(u.ds));
    crdt_update_free(&u);
    free(s.stack.v);
    free(s.rest.v);
    free(s.missing.v);
    if (st == CRDT_OK)
        st = crdt_txn_end(doc);
    if (st != CRDT_OK)
        return st;
    int touched = doc->txn.touched;
    if (doc->pending_structs > doc->lim.max_pending_structs) {
        drop_pending(doc);
        return CRDT_ERR_LIMIT;
    }
    if (retry) {
        /* Retry everything that waits as one update, so that chains of dependencies
         * resolve in a single pass (Yjs does the same with its merged pending update). */
        uint8_t *pending;
        size_t pending_len;
        st = crdt_merge_impl((const uint8_t *const *)doc->pending, doc->pending_lens, doc->npending,
                             0, 0, NULL, 0, &doc->lim, &pending, &pending_len);
        if (st != CRDT_OK)
            return st;
        drop_pending(doc);
        crdt_apply_result sub;
        st = crdt_apply(doc, pending, pending_len, 0, &sub);
        free(pending);
        if (st != CRDT_OK)
            return st;
        if (sub == CRDT_APPLIED)
            touched = 1;
    }
    if (result)
        *result = this_pending ? CRDT_PENDING : touched ? CRDT_APPLIED : CRDT_DUPLICATE;
    return CRDT_OK;
}
