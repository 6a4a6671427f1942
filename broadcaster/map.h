/*
 * map: a small string-keyed hash table (chained, FNV-1a, doubling), used for
 * the broadcaster's document channels, the feed's interest set and the
 * permission cache. Keys are copied; values are the caller's pointers (the
 * map never frees them). Not thread-safe: each map has one owner thread or
 * a lock around it. Hand-written because none of our libraries exports a
 * hash table (see docs/decisions.md, "broadcaster"). Prefix: bcmap_.
 */
#ifndef BROADCASTER_MAP_H
#define BROADCASTER_MAP_H

#include <stddef.h>

typedef struct bcmap bcmap;

/* An empty map, or NULL when out of memory. Free with bcmap_free (values
 * are not touched). */
bcmap *bcmap_new(void);
void bcmap_free(bcmap *m);

/* The value of key, or NULL. */
void *bcmap_get(const bcmap *m, const char *key);

/* Inserts or replaces key -> value. 0, or -1 when out of memory (the map is
 * unchanged). */
int bcmap_put(bcmap *m, const char *key, void *value);

/* Removes key; returns its value (NULL when absent). */
void *bcmap_remove(bcmap *m, const char *key);

size_t bcmap_count(const bcmap *m);

/* Calls fn for every entry (any order). fn must not change the map. */
typedef void (*bcmap_fn)(void *userdata, const char *key, void *value);
void bcmap_each(const bcmap *m, bcmap_fn fn, void *userdata);

/* Removes every entry for which keep returns 0 (values not freed). */
typedef int (*bcmap_keep_fn)(void *userdata, const char *key, void *value);
void bcmap_filter(bcmap *m, bcmap_keep_fn keep, void *userdata);

#endif
