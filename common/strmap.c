/*
 * strmap: chained hash table with FNV-1a hashing; the bucket array doubles when
 * the load passes 1. See strmap.h.
 */
#include "common/strmap.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct cmap_entry {
    struct cmap_entry *next;
    uint64_t hash;
    void *value;
    char key[]; /* NUL-terminated copy */
} cmap_entry;

struct cmap {
    cmap_entry **buckets;
    size_t bucket_count; /* a power of two */
    size_t count;
};

static uint64_t hash_key(const char *key)
{
    uint64_t h = 1469598103934665603ULL;
    for (const unsigned char *p = (const unsigned char *)key; *p; p++) {
        h ^= *p;
        h *= 1099511628211ULL;
    }
    return h;
}

cmap *cmap_new(void)
{
    cmap *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->bucket_count = 16;
    m->buckets = calloc(m->bucket_count, sizeof *m->buckets);
    if (!m->buckets) {
        free(m);
        return NULL;
    }
    return m;
}

void cmap_free(cmap *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->bucket_count; i++) {
        cmap_entry *e = m->buckets[i];
        while (e) {
            cmap_entry *next = e->next;
            free(e);
            e = next;
        }
    }
    free(m->buckets);
    free(m);
}

static cmap_entry **find_slot(const cmap *m, const char *key, uint64_t h)
{
    cmap_entry **slot = &m->buckets[h & (m->bucket_count - 1)];
    while (*slot && ((*slot)->hash != h || strcmp((*slot)->key, key) != 0))
        slot = &(*slot)->next;
    return slot;
}

void *cmap_get(const cmap *m, const char *key)
{
    cmap_entry **slot = find_slot(m, key, hash_key(key));
    return *slot ? (*slot)->value : NULL;
}

static void grow(cmap *m)
{
    size_t n = m->bucket_count * 2;
    cmap_entry **b = calloc(n, sizeof *b);
    if (!b)
        return; /* a fuller table still works */
    for (size_t i = 0; i < m->bucket_count; i++) {
        cmap_entry *e = m->buckets[i];
        while (e) {
            cmap_entry *next = e->next;
            size_t j = e->hash & (n - 1);
            e->next = b[j];
            b[j] = e;
            e = next;
        }
    }
    free(m->buckets);
    m->buckets = b;
    m->bucket_count = n;
}

int cmap_put(cmap *m, const char *key, void *value)
{
    uint64_t h = hash_key(key);
    cmap_entry **slot = find_slot(m, key, h);
    if (*slot) {
        (*slot)->value = value;
        return 0;
    }
    size_t len = strlen(key);
    cmap_entry *e = malloc(sizeof *e + len + 1);
    if (!e)
        return -1;
    memcpy(e->key, key, len + 1);
    e->hash = h;
    e->value = value;
    e->next = NULL;
    *slot = e;
    m->count++;
    if (m->count > m->bucket_count)
        grow(m);
    return 0;
}

void *cmap_remove(cmap *m, const char *key)
{
    cmap_entry **slot = find_slot(m, key, hash_key(key));
    cmap_entry *e = *slot;
    if (!e)
        return NULL;
    *slot = e->next;
    void *value = e->value;
    free(e);
    m->count--;
    return value;
}

size_t cmap_count(const cmap *m)
{
    return m->count;
}

void cmap_each(const cmap *m, cmap_fn fn, void *userdata)
{
    for (size_t i = 0; i < m->bucket_count; i++)
        for (cmap_entry *e = m->buckets[i]; e; e = e->next)
            fn(userdata, e->key, e->value);
}

void cmap_filter(cmap *m, cmap_keep_fn keep, void *userdata)
{
    for (size_t i = 0; i < m->bucket_count; i++) {
        cmap_entry **slot = &m->buckets[i];
        while (*slot) {
            cmap_entry *e = *slot;
            if (keep(userdata, e->key, e->value)) {
                slot = &e->next;
                continue;
            }
            *slot = e->next;
            free(e);
            m->count--;
        }
    }
}
