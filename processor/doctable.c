/*
 * doctable: a chained hash table of pdoc by id plus an intrusive LRU list.
 * See doctable.h.
 */
#include "processor/doctable.h"

#include <stdlib.h>
#include <string.h>

struct pdoc_table {
    pdoc **buckets;
    size_t bucket_count; /* a power of two */
    size_t count;
    size_t max_docs;
    pdoc *lru_head; /* most recently used */
    pdoc *lru_tail; /* least recently used */
    void (*free_user)(void *user);
};

static uint64_t hash_id(const char *id)
{
    uint64_t h = 1469598103934665603u; /* FNV-1a */
    for (const unsigned char *p = (const unsigned char *)id; *p; p++) {
        h ^= *p;
        h *= 1099511628211u;
    }
    return h;
}

pdoc_table *pdoc_table_new(size_t max_docs, void (*free_user)(void *user))
{
    pdoc_table *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->bucket_count = 1024;
    t->buckets = calloc(t->bucket_count, sizeof *t->buckets);
    if (!t->buckets) {
        free(t);
        return NULL;
    }
    t->max_docs = max_docs ? max_docs : 1;
    t->free_user = free_user;
    return t;
}

static void doc_free(pdoc_table *t, pdoc *d)
{
    if (d->user && t->free_user)
        t->free_user(d->user);
    crdt_doc_free(d->crdt);
    for (size_t i = 0; i < d->item_count; i++) {
        items_state_free(d->items[i]);
        free(d->items[i]);
    }
    free(d->items);
    for (size_t i = 0; i < PDOC_RECENT_OPS; i++)
        free(d->recent[i]);
    free(d->id);
    free(d);
}

void pdoc_table_free(pdoc_table *t)
{
    if (!t)
        return;
    pdoc *d = t->lru_head;
    while (d) {
        pdoc *next = d->lru_next;
        doc_free(t, d);
        d = next;
    }
    free(t->buckets);
    free(t);
}

size_t pdoc_table_count(const pdoc_table *t)
{
    return t->count;
}

bool pdoc_table_full(const pdoc_table *t)
{
    return t->count >= t->max_docs;
}

static void lru_unlink(pdoc_table *t, pdoc *d)
{
    if (d->lru_prev)
        d->lru_prev->lru_next = d->lru_next;
    else
        t->lru_head = d->lru_next;
    if (d->lru_next)
        d->lru_next->lru_prev = d->lru_prev;
    else
        t->lru_tail = d->lru_prev;
    d->lru_prev = d->lru_next = NULL;
}

static void lru_push_front(pdoc_table *t, pdoc *d)
{
    d->lru_prev = NULL;
    d->lru_next = t->lru_head;
    if (t->lru_head)
        t->lru_head->lru_prev = d;
    t->lru_head = d;
    if (!t->lru_tail)
        t->lru_tail = d;
}

pdoc *pdoc_find(pdoc_table *t, const char *id)
{
    pdoc *d = t->buckets[hash_id(id) & (t->bucket_count - 1)];
    while (d && strcmp(d->id, id) != 0)
        d = d->hash_next;
    if (d && t->lru_head != d) {
        lru_unlink(t, d);
        lru_push_front(t, d);
    }
    return d;
}

static void grow(pdoc_table *t)
{
    size_t count = t->bucket_count * 2;
    pdoc **buckets = calloc(count, sizeof *buckets);
    if (!buckets)
        return; /* keep the longer chains: slower, still correct */
    for (size_t i = 0; i < t->bucket_count; i++) {
        pdoc *d = t->buckets[i];
        while (d) {
            pdoc *next = d->hash_next;
            size_t b = hash_id(d->id) & (count - 1);
            d->hash_next = buckets[b];
            buckets[b] = d;
            d = next;
        }
    }
    free(t->buckets);
    t->buckets = buckets;
    t->bucket_count = count;
}

pdoc *pdoc_insert(pdoc_table *t, const char *id, int32_t partition)
{
    pdoc *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    d->id = strdup(id);
    crdt_options opts;
    crdt_options_init(&opts);
    if (!d->id || crdt_doc_new(&opts, &d->crdt) != CRDT_OK) {
        free(d->id);
        free(d);
        return NULL;
    }
    d->partition = partition;
    d->source_offset = -1;
    d->policy = ITEMS_POLICY_MANUAL;
    if (t->count >= t->bucket_count)
        grow(t);
    size_t b = hash_id(id) & (t->bucket_count - 1);
    d->hash_next = t->buckets[b];
    t->buckets[b] = d;
    lru_push_front(t, d);
    t->count++;
    return d;
}

void pdoc_remove(pdoc_table *t, pdoc *d)
{
    pdoc **link = &t->buckets[hash_id(d->id) & (t->bucket_count - 1)];
    while (*link && *link != d)
        link = &(*link)->hash_next;
    if (*link)
        *link = d->hash_next;
    lru_unlink(t, d);
    t->count--;
    doc_free(t, d);
}

pdoc *pdoc_lru_victim(pdoc_table *t, bool (*keep)(const pdoc *d, void *ud), void *ud)
{
    for (pdoc *d = t->lru_tail; d; d = d->lru_prev) {
        if (!keep || !keep(d, ud))
            return d;
    }
    return NULL;
}

void pdoc_drop_partition(pdoc_table *t, int32_t partition)
{
    pdoc *d = t->lru_head;
    while (d) {
        pdoc *next = d->lru_next;
        if (d->partition == partition)
            pdoc_remove(t, d);
        d = next;
    }
}

void pdoc_each(pdoc_table *t, void (*fn)(pdoc *d, void *ud), void *ud)
{
    for (pdoc *d = t->lru_head; d; d = d->lru_next)
        fn(d, ud);
}

bool pdoc_seen_op(const pdoc *d, const char *op_id)
{
    for (size_t i = 0; i < PDOC_RECENT_OPS; i++) {
        if (d->recent[i] && strcmp(d->recent[i], op_id) == 0)
            return true;
    }
    return false;
}

bool pdoc_remember_op(pdoc *d, const char *op_id)
{
    char *copy = strdup(op_id);
    if (!copy)
        return false;
    free(d->recent[d->recent_next]);
    d->recent[d->recent_next] = copy;
    d->recent_next = (d->recent_next + 1) % PDOC_RECENT_OPS;
    return true;
}

items_state *pdoc_item(pdoc *d, const char *item_id)
{
    for (size_t i = 0; i < d->item_count; i++) {
        if (strcmp(d->items[i]->item_id, item_id) == 0)
            return d->items[i];
    }
    return NULL;
}

static bool append_item(pdoc *d, items_state *s)
{
    if (d->item_count == d->item_cap) {
        size_t cap = d->item_cap ? d->item_cap * 2 : 4;
        items_state **grown = realloc(d->items, cap * sizeof *grown);
        if (!grown)
            return false;
        d->items = grown;
        d->item_cap = cap;
    }
    d->items[d->item_count++] = s;
    return true;
}

items_state *pdoc_add_item(pdoc *d, const char *item_id)
{
    items_state *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    if (items_state_init(s, item_id, d->policy) != ITEMS_OK) {
        free(s);
        return NULL;
    }
    if (!append_item(d, s)) {
        items_state_free(s);
        free(s);
        return NULL;
    }
    return s;
}

bool pdoc_put_item(pdoc *d, items_state *s)
{
    items_state *existing = pdoc_item(d, s->item_id);
    if (existing) {
        items_state_free(existing);
        *existing = *s;
        memset(s, 0, sizeof *s);
        return true;
    }
    items_state *copy = malloc(sizeof *copy);
    if (!copy)
        return false;
    *copy = *s;
    if (!append_item(d, copy)) {
        free(copy);
        return false;
    }
    memset(s, 0, sizeof *s);
    return true;
}

void pdoc_remove_item(pdoc *d, items_state *s)
{
    for (size_t i = 0; i < d->item_count; i++) {
        if (d->items[i] == s) {
            items_state_free(s);
            free(s);
            d->items[i] = d->items[--d->item_count];
            return;
        }
    }
}
