/*
 * pmap.c - two small hash structures the document needs: a map keyed by interned string
 * pointers that keeps insertion order (a type's map entries, the root types), and the
 * intern table that makes every key a unique pointer so lookups compare pointers.
 */
#include "crdt/internal.h"

#include <stdlib.h>
#include <string.h>

static uint64_t hash_ptr(const void *p)
{
    uint64_t x = (uint64_t)(uintptr_t)p;
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    return x;
}

static uint64_t hash_bytes(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ULL;
    }
    return h;
}

void crdt_pmap_init(crdt_pmap *m)
{
    memset(m, 0, sizeof(*m));
}

void crdt_pmap_free(crdt_pmap *m)
{
    free(m->entries);
    free(m->index);
    crdt_pmap_init(m);
}

enum { PMAP_LINEAR = 8 };

void *crdt_pmap_get(const crdt_pmap *m, const char *key)
{
    if (!m->index) {
        for (size_t i = 0; i < m->n; i++)
            if (m->entries[i].key == key)
                return m->entries[i].val;
        return NULL;
    }
    size_t mask = m->index_cap - 1;
    for (size_t i = (size_t)hash_ptr(key) & mask;; i = (i + 1) & mask) {
        uint32_t e = m->index[i];
        if (e == 0)
            return NULL;
        if (m->entries[e - 1].key == key)
            return m->entries[e - 1].val;
    }
}

static crdt_status pmap_reindex(crdt_pmap *m, size_t cap)
{
    uint32_t *index = calloc(cap, sizeof(uint32_t));
    if (!index)
        return CRDT_ERR_NOMEM;
    free(m->index);
    m->index = index;
    m->index_cap = cap;
    for (size_t e = 0; e < m->n; e++) {
        size_t i = (size_t)hash_ptr(m->entries[e].key) & (cap - 1);
        while (index[i])
            i = (i + 1) & (cap - 1);
        index[i] = (uint32_t)(e + 1);
    }
    return CRDT_OK;
}

crdt_status crdt_pmap_set(crdt_pmap *m, const char *key, void *val)
{
    for (size_t i = 0; !m->index && i < m->n; i++) {
        if (m->entries[i].key == key) {
            m->entries[i].val = val;
            return CRDT_OK;
        }
    }
    if (m->index) {
        size_t mask = m->index_cap - 1;
        for (size_t i = (size_t)hash_ptr(key) & mask; m->index[i]; i = (i + 1) & mask) {
            if (m->entries[m->index[i] - 1].key == key) {
                m->entries[m->index[i] - 1].val = val;
                return CRDT_OK;
            }
        }
    }
    if (m->n >= UINT32_MAX - 1)
        return CRDT_ERR_LIMIT;
    if (m->n == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 2;
        crdt_pmap_entry *e = realloc(m->entries, cap * sizeof(*e));
        if (!e)
            return CRDT_ERR_NOMEM;
        m->entries = e;
        m->cap = cap;
    }
    m->entries[m->n].key = key;
    m->entries[m->n].val = val;
    m->n++;
    if (m->n > PMAP_LINEAR && (m->index == NULL || m->n * 2 > m->index_cap)) {
        size_t cap = 32;
        while (cap < m->n * 4)
            cap *= 2;
        if (pmap_reindex(m, cap) != CRDT_OK) {
            m->n--;
            return CRDT_ERR_NOMEM;
        }
    } else if (m->index) {
        size_t mask = m->index_cap - 1;
        size_t i = (size_t)hash_ptr(key) & mask;
        while (m->index[i])
            i = (i + 1) & mask;
        m->index[i] = (uint32_t)m->n;
    }
    return CRDT_OK;
}

/* Interned strings are stored as [size_t length][bytes][NUL]; the pointer handed out is the
 * bytes. */
void crdt_intern_init(crdt_intern *in)
{
    memset(in, 0, sizeof(*in));
}

void crdt_intern_free(crdt_intern *in)
{
    for (size_t i = 0; i < in->cap; i++)
        free(in->slots[i]);
    free(in->slots);
    crdt_intern_init(in);
}

size_t crdt_intern_len(const char *interned)
{
    size_t n;
    memcpy(&n, interned - sizeof(size_t), sizeof(size_t));
    return n;
}

static int slot_matches(const char *slot, const char *s, size_t n)
{
    size_t len;
    memcpy(&len, slot, sizeof(size_t));
    return len == n && memcmp(slot + sizeof(size_t), s, n) == 0;
}

const char *crdt_intern_get(crdt_intern *in, const char *s, size_t n)
{
    if (in->cap) {
        size_t mask = in->cap - 1;
        for (size_t i = (size_t)hash_bytes(s, n) & mask; in->slots[i]; i = (i + 1) & mask)
            if (slot_matches(in->slots[i], s, n))
                return in->slots[i] + sizeof(size_t);
    }
    if ((in->n + 1) * 2 > in->cap) {
        size_t cap = in->cap ? in->cap * 2 : 16;
        char **slots = calloc(cap, sizeof(char *));
        if (!slots)
            return NULL;
        for (size_t i = 0; i < in->cap; i++) {
            char *slot = in->slots[i];
            if (!slot)
                continue;
            size_t len;
            memcpy(&len, slot, sizeof(size_t));
            size_t j = (size_t)hash_bytes(slot + sizeof(size_t), len) & (cap - 1);
            while (slots[j])
                j = (j + 1) & (cap - 1);
            slots[j] = slot;
        }
        free(in->slots);
        in->slots = slots;
        in->cap = cap;
    }
    char *slot = malloc(sizeof(size_t) + n + 1);
    if (!slot)
        return NULL;
    memcpy(slot, &n, sizeof(size_t));
    if (n)
        memcpy(slot + sizeof(size_t), s, n);
    slot[sizeof(size_t) + n] = 0;
    size_t mask = in->cap - 1;
    size_t i = (size_t)hash_bytes(s, n) & mask;
    while (in->slots[i])
        i = (i + 1) & mask;
    in->slots[i] = slot;
    in->n++;
    return slot + sizeof(size_t);
}
