/*
 * strmap: a small string-keyed hash table (chained, FNV-1a, doubling), used
 * for the broadcaster's document channels and the feed's interest set, and
 * for the permission cache of the WebSocket endpoints (doc_access.h). Keys
 * are copied; values are the caller's pointers (the map never frees them).
 * Not thread-safe: each map has one owner thread or a lock around it.
 * Hand-written because none of our libraries exports a hash table (see
 * docs/decisions.md, "broadcaster"). Prefix: cmap_.
 */
#ifndef COMMON_STRMAP_H
#define COMMON_STRMAP_H

#include <stddef.h>

typedef struct cmap cmap;

/* An empty map, or NULL when out of memory. Free with cmap_free (values
 * are not touched). */
cmap *cmap_new(void);
void cmap_free(cmap *m);

/* The value of key, or NULL. */
void *cmap_get(const cmap *m, const char *key);

/* Inserts or replaces key -> value. 0, or -1 when out of memory (the map is
 * unchanged). */
int cmap_put(cmap *m, const char *key, void *value);

/* Removes key; returns its value (NULL when absent). */
void *cmap_remove(cmap *m, const char *key);

size_t cmap_count(const cmap *m);

/* Calls fn for every entry (any order). fn must not change the map. */
typedef void (*cmap_fn)(void *userdata, const char *key, void *value);
void cmap_each(const cmap *m, cmap_fn fn, void *userdata);

/* Removes every entry for which keep returns 0 (values not freed). */
typedef int (*cmap_keep_fn)(void *userdata, const char *key, void *value);
void cmap_filter(cmap *m, cmap_keep_fn keep, void *userdata);

#endif
