/*
 * doctable: the documents a processor instance holds in memory, by document
 * id: the crdt document, its version (count of merged ops), its items, the op
 * ids it merged recently (the fast idempotency check) and its view state. The
 * table is bounded: the least recently used document is evicted when the
 * table is full (the pipeline only evicts documents whose views are written,
 * so they can be reloaded from MongoDB/Redis on demand). Used by the merge
 * thread only; no locking. Prefix: pdoc_.
 */
#ifndef PROCESSOR_DOCTABLE_H
#define PROCESSOR_DOCTABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crdt/crdt.h"
#include "processor/items.h"

/* Op ids remembered per document. Older resends are still caught: a Yjs
 * update already contained changes nothing, an item write already applied is
 * a duplicate for the items rules. */
#define PDOC_RECENT_OPS 128

typedef struct pdoc {
    char *id;
    int32_t partition;
    crdt_doc *crdt;
    int64_t version;       /* merged ops so far; the next one gets version + 1 */
    int64_t source_offset; /* collab.ops offset (in partition) of the op of that version;
                              -1 unknown. Cached states carry it (docstore_position). */
    items_policy policy;   /* default policy of new items */
    bool policy_known;     /* read from MongoDB documents (else still to read) */
    items_state **items;   /* owned */
    size_t item_count, item_cap;
    char *recent[PDOC_RECENT_OPS]; /* owned op ids, a ring */
    size_t recent_next;
    uint64_t views_seq; /* view-writer sequence of its last job (pviews_push_*) */
    bool views_lost;    /* a view job was dropped (queue full): rewrite the state */
    bool in_batch;      /* changed in the open transaction: not evictable */
    void *user;         /* the table user's own bookkeeping, freed by the table's free_user */
    struct pdoc *hash_next;
    struct pdoc *lru_prev, *lru_next; /* lru_prev: more recently used */
} pdoc;

typedef struct pdoc_table pdoc_table;

/* A table holding at most max_docs documents (the caller evicts). free_user
 * (may be NULL) frees a document's `user` pointer when the document goes.
 * NULL when out of memory. Free with pdoc_table_free, which frees every
 * document. */
pdoc_table *pdoc_table_new(size_t max_docs, void (*free_user)(void *user));
void pdoc_table_free(pdoc_table *t);

size_t pdoc_table_count(const pdoc_table *t);
bool pdoc_table_full(const pdoc_table *t);

/* The document, or NULL; marks it most recently used. */
pdoc *pdoc_find(pdoc_table *t, const char *id);

/* A new empty document (version 0, empty crdt doc, gc on) in the table.
 * NULL when out of memory. The id must not be in the table yet. */
pdoc *pdoc_insert(pdoc_table *t, const char *id, int32_t partition);

/* Removes and frees one document. */
void pdoc_remove(pdoc_table *t, pdoc *d);

/* The least recently used document for which keep(d) is false, or NULL. */
pdoc *pdoc_lru_victim(pdoc_table *t, bool (*keep)(const pdoc *d, void *ud), void *ud);

/* Removes and frees every document of a partition. */
void pdoc_drop_partition(pdoc_table *t, int32_t partition);

/* Calls fn for every document (in no particular order); fn must not remove. */
void pdoc_each(pdoc_table *t, void (*fn)(pdoc *d, void *ud), void *ud);

/* True when op_id is among the recently merged op ids of d. */
bool pdoc_seen_op(const pdoc *d, const char *op_id);
/* Remembers op_id (copied); false when out of memory. */
bool pdoc_remember_op(pdoc *d, const char *op_id);

/* The item, or NULL. */
items_state *pdoc_item(pdoc *d, const char *item_id);
/* A new never-written item with the document's policy; NULL when out of
 * memory or the id is invalid (items_check_item_id). */
items_state *pdoc_add_item(pdoc *d, const char *item_id);
/* Removes and frees an item (a new item whose first write was refused). */
void pdoc_remove_item(pdoc *d, items_state *s);
/* Replaces (or adds) an item with *s, taking over what s owns (s is zeroed). */
bool pdoc_put_item(pdoc *d, items_state *s);

#endif
