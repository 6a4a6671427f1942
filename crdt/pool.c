/*
 * pool.c - memory for items and strings, so that applying an update does not call malloc
 * per struct: items come from a free list refilled in growing chunks, strings from an
 * append-only arena where a string at the tail can grow in place (consecutive typing by one
 * client merges into one item whose text is one contiguous run).
 *
 * Chunks start small and double, so an empty document costs a few hundred bytes.
 */
#include "crdt/internal.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

struct crdt_pool_chunk {
    crdt_pool_chunk *next;
    size_t n;
    crdt_item items[];
};

void crdt_pool_init(crdt_pool *pool)
{
    pool->free_list = NULL;
    pool->chunks = NULL;
    pool->next_chunk = 8;
}

void crdt_pool_destroy(crdt_pool *pool)
{
    crdt_pool_chunk *c = pool->chunks;
    while (c) {
        crdt_pool_chunk *next = c->next;
        free(c);
        c = next;
    }
    crdt_pool_init(pool);
}

crdt_item *crdt_pool_get(crdt_pool *pool)
{
    if (!pool->free_list) {
        size_t n = pool->next_chunk;
        assert(n > 0); /* set by crdt_pool_init, only ever doubled: the refill is never empty */
        crdt_pool_chunk *c = malloc(sizeof(*c) + n * sizeof(crdt_item));
        if (!c)
            return NULL;
        c->n = n;
        c->next = pool->chunks;
        pool->chunks = c;
        for (size_t i = 0; i < n; i++) {
            c->items[i].right = pool->free_list;
            pool->free_list = &c->items[i];
        }
        if (pool->next_chunk < 4096)
            pool->next_chunk *= 2;
    }
    crdt_item *it = pool->free_list;
    pool->free_list = it->right;
    memset(it, 0, sizeof(*it));
    return it;
}

void crdt_type_free(crdt_type *t)
{
    if (!t)
        return;
    crdt_pmap_free(&t->map);
    if (t->item)
        free(t->name); /* root names are interned, not owned */
    free(t);
}

static void free_values(crdt_value *vals, uint64_t n)
{
    if (!vals)
        return;
    for (uint64_t i = 0; i < n; i++)
        crdt_value_clear(&vals[i]);
    free(vals);
}

void crdt_content_free(crdt_item *it)
{
    switch (it->kind) {
    case CRDT_REF_JSON:
    case CRDT_REF_ANY:
        free_values(it->c.vals, it->len);
        break;
    case CRDT_REF_BINARY:
        free(it->c.bin.p);
        break;
    case CRDT_REF_EMBED:
        free_values(it->c.embed, 1);
        break;
    case CRDT_REF_FORMAT:
        free(it->c.fmt.key);
        free_values(it->c.fmt.val, 1);
        break;
    case CRDT_REF_TYPE:
        crdt_type_free(it->c.type);
        break;
    case CRDT_REF_DOC:
        free(it->c.doc.guid);
        free_values(it->c.doc.opts, 1);
        break;
    default: /* strings live in the arena or the input; GC/Skip/Deleted own nothing */
        break;
    }
    memset(&it->c, 0, sizeof(it->c));
}

void crdt_item_release(crdt_pool *pool, crdt_item *it)
{
    crdt_content_free(it);
    it->right = pool->free_list;
    pool->free_list = it;
}

struct crdt_arena_chunk {
    crdt_arena_chunk *next;
    size_t cap;
    size_t used;
    char data[];
};

void crdt_arena_init(crdt_arena *a)
{
    a->head = NULL;
    a->next_size = 256;
    a->allocated = 0;
}

void crdt_arena_destroy(crdt_arena *a)
{
    crdt_arena_chunk *c = a->head;
    while (c) {
        crdt_arena_chunk *next = c->next;
        free(c);
        c = next;
    }
    crdt_arena_init(a);
}

char *crdt_arena_alloc(crdt_arena *a, size_t n)
{
    crdt_arena_chunk *c = a->head;
    if (!c || c->cap - c->used < n) {
        size_t size = a->next_size;
        while (size < n)
            size *= 2;
        c = malloc(sizeof(*c) + size);
        if (!c)
            return NULL;
        c->cap = size;
        c->used = 0;
        c->next = a->head;
        a->head = c;
        if (a->next_size < (1u << 20))
            a->next_size *= 2;
    }
    char *p = c->data + c->used;
    c->used += n;
    a->allocated += n;
    return p;
}

int crdt_arena_extend(crdt_arena *a, const char *p, size_t n, size_t extra)
{
    crdt_arena_chunk *c = a->head;
    if (!c || p + n != c->data + c->used || c->cap - c->used < extra)
        return 0;
    c->used += extra;
    a->allocated += extra;
    return 1;
}
