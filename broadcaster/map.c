/*
 * map: chained hash table with FNV-1a hashing; the bucket array doubles when
 * the load passes 1. See map.h.
 */
#include "broadcaster/map.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct bcmap_entry {
    struct bcmap_entry *next;
    uint64_t hash;
    void *value;
    char key[]; /* NUL-terminated copy */
} bcmap_entry;

struct bcmap {
    bcmap_entry **buckets;
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

bcmap *bcmap_new(void)
{
    bcmap *m = calloc(1, sizeof *m);
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

void bcmap_free(bcmap *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->bucket_count; i++) {
        bcmap_entry *e = m->buckets[i];
        while (e) {
            bcmap_entry *next = e->next;
            free(e);
            e = next;
        }
    }
    free(m->buckets);
    free(m);
}

static bcmap_entry **find_slot(const bcmap *m, const char *key, uint64_t h)
{
    bcmap_entry **slot = &m->buckets[h & (m->bucket_count - 1)];
    while (*slot && ((*slot)->hash != h || strcmp((*slot)->key, key) != 0))
        slot = &(*slot)->next;
    return slot;
}

void *bcmap_get(const bcmap *m, const char *key)
{
    bcmap_entry **slot = find_slot(m, key, hash_key(key));
    return *slot ? (*slot)->value : NULL;
}

static void grow(bcmap *m)
{
    size_t n = m->bucket_count * 2;
    bcmap_entry **b = calloc(n, sizeof *b);
    if (!b)
        return; /* a fuller table still works */
    for (size_t i = 0; i < m->bucket_count; i++) {
        bcmap_entry *e = m->buckets[i];
        while (e) {
            bcmap_entry *next = e->next;
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

int bcmap_put(bcmap *m, const char *key, void *value)
{
    uint64_t h = hash_key(key);
    bcmap_entry **slot = find_slot(m, key, h);
    if (*slot) {
        (*slot)->value = value;
        return 0;
    }
    size_t len = strlen(key);
    bcmap_entry *e = malloc(sizeof *e + len + 1);
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

void *bcmap_remove(bcmap *m, const char *key)
{
    bcmap_entry **slot = find_slot(m, key, hash_key(key));
    bcmap_entry *e = *slot;
    if (!e)
        return NULL;
    *slot = e->next;
    void *value = e->value;
    free(e);
    m->count--;
    return value;
}

size_t bcmap_count(const bcmap *m)
{
    return m->count;
}

void bcmap_each(const bcmap *m, bcmap_fn fn, void *userdata)
{
    for (size_t i = 0; i < m->bucket_count; i++)
        for (bcmap_entry *e = m->buckets[i]; e; e = e->next)
            fn(userdata, e->key, e->value);
}

void bcmap_filter(bcmap *m, bcmap_keep_fn keep, void *userdata)
{
    for (size_t i = 0; i < m->bucket_count; i++) {
        bcmap_entry **slot = &m->buckets[i];
        while (*slot) {
            bcmap_entry *e = *slot;
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
