/*
 * internal.h - the engine's data structures, shared by the crdt/ sources (not installed).
 *
 * A document is Yjs's model: a struct store (per client, the structs sorted by clock, so an
 * ID is found by binary search) and, per type, a doubly linked list of items in document
 * order. Items live in a pool (no malloc per item), strings in an append-only arena that lets
 * consecutive typing grow one string in place. Adjacent items are merged after every
 * transaction exactly where Yjs merges them, so the struct count and the encoded size match
 * Yjs.
 */
#ifndef CRDT_INTERNAL_H
#define CRDT_INTERNAL_H

#include "crdt/crdt.h"
#include "crdt/lib0.h"
#include "crdt/value.h"

#include <stddef.h>
#include <stdint.h>

/* Struct and content ref numbers of the wire format (info & 0x1f). */
enum {
    CRDT_REF_GC = 0,
    CRDT_REF_DELETED = 1,
    CRDT_REF_JSON = 2,
    CRDT_REF_BINARY = 3,
    CRDT_REF_STRING = 4,
    CRDT_REF_EMBED = 5,
    CRDT_REF_FORMAT = 6,
    CRDT_REF_TYPE = 7,
    CRDT_REF_ANY = 8,
    CRDT_REF_DOC = 9,
    CRDT_REF_SKIP = 10,
};

/* Type refs of ContentType; CRDT_TYPE_UNKNOWN is a root whose kind only the reader knows. */
enum {
    CRDT_TYPE_ARRAY = 0,
    CRDT_TYPE_MAP = 1,
    CRDT_TYPE_TEXT = 2,
    CRDT_TYPE_XML_ELEMENT = 3,
    CRDT_TYPE_XML_FRAGMENT = 4,
    CRDT_TYPE_XML_HOOK = 5,
    CRDT_TYPE_XML_TEXT = 6,
    CRDT_TYPE_UNKNOWN = 255,
};

/* Item flags. */
enum {
    CRDT_F_ORIGIN = 1,       /* origin is set */
    CRDT_F_RIGHT_ORIGIN = 2, /* right_origin is set */
    CRDT_F_DELETED = 4,
    CRDT_F_COUNTABLE = 8,
    CRDT_F_STR_BORROWED = 16, /* string points into an input buffer, not the arena */
    CRDT_F_INTEGRATED = 32,   /* lives in the store (else: decoded, not integrated) */
};

/* How an item names its parent. */
enum {
    CRDT_PARENT_NONE = 0, /* inherited from origin/right origin at integration */
    CRDT_PARENT_ROOT = 1, /* decoded: root name */
    CRDT_PARENT_ID = 2,   /* decoded: the item holding the parent type */
    CRDT_PARENT_TYPE = 3, /* integrated: pointer to the type */
};

typedef struct crdt_id {
    uint64_t client;
    uint64_t clock;
} crdt_id;

typedef struct crdt_item crdt_item;
typedef struct crdt_type crdt_type;

/* A map from interned-key pointer to a pointer, remembering insertion order (Yjs map
 * toJSON lists keys in the order they were first set). */
typedef struct crdt_pmap_entry {
    const char *key; /* interned: compared by pointer */
    void *val;
} crdt_pmap_entry;

typedef struct crdt_pmap {
    crdt_pmap_entry *entries; /* insertion order */
    size_t n;
    size_t cap;
    uint32_t *index; /* open addressing over entries (1-based), NULL while small */
    size_t index_cap;
} crdt_pmap;

/* A Yjs shared type: Y.Array, Y.Map, Y.Text, XML types, or a root of unknown kind. */
struct crdt_type {
    crdt_item *item;  /* the item whose content this type is; NULL for roots */
    crdt_item *start; /* first item of the sequence part */
    crdt_pmap map;    /* key -> newest item of that key */
    uint64_t length;  /* visible countable length of the sequence */
    uint8_t type_ref; /* CRDT_TYPE_* */
    uint8_t has_formatting;
    char *name; /* XmlElement nodeName / XmlHook hookName (malloc'd) or root name
                   (interned, not owned) */
    size_t name_len;
    /* Position cache for local edits: cache_item starts at visible index cache_index. */
    crdt_item *cache_item;
    uint64_t cache_index;
};

struct crdt_item {
    crdt_id id;
    uint64_t len; /* in clock units (UTF-16 units for strings) */
    crdt_id origin;
    crdt_id right_origin;
    crdt_item *left;
    crdt_item *right;
    union {
        crdt_type *type;
        crdt_id id;
        struct {
            const char *p;
            size_t n;
        } name;
    } parent;
    const char *sub; /* map key: borrowed while decoded, interned once integrated */
    size_t sub_len;
    uint8_t kind; /* CRDT_REF_*: GC, SKIP or the item's content */
    uint8_t parent_kind;
    uint16_t flags;
    uint32_t scan_epoch; /* conflict-resolution bookkeeping (see integrate.c) */
    uint32_t scan_seq;
    union {
        struct {
            char *p; /* UTF-8 */
            uint32_t n;
            uint32_t cap; /* arena room reserved after p (>= n) */
        } str;
        crdt_value *vals; /* JSON / ANY: len values, malloc'd array */
        struct {
            uint8_t *p; /* malloc'd */
            size_t n;
        } bin;
        crdt_value *embed; /* malloc'd */
        struct {
            char *key; /* malloc'd */
            size_t key_len;
            crdt_value *val; /* malloc'd */
        } fmt;
        crdt_type *type; /* malloc'd, owned */
        struct {
            char *guid; /* malloc'd */
            size_t guid_len;
            crdt_value *opts; /* malloc'd */
        } doc;
    } c;
};

static inline int crdt_item_deleted(const crdt_item *it)
{
    return it->kind == CRDT_REF_GC || (it->flags & CRDT_F_DELETED) != 0;
}
static inline int crdt_id_eq(crdt_id a, crdt_id b)
{
    return a.client == b.client && a.clock == b.clock;
}

/* ---- pool.c: item pool and string arena ---- */
typedef struct crdt_pool_chunk crdt_pool_chunk;
typedef struct crdt_pool {
    crdt_item *free_list; /* linked through ->right */
    crdt_pool_chunk *chunks;
    size_t next_chunk;
} crdt_pool;

void crdt_pool_init(crdt_pool *pool);
void crdt_pool_destroy(crdt_pool *pool);
/* A zeroed item, or NULL. Return it with crdt_item_release. */
crdt_item *crdt_pool_get(crdt_pool *pool);
/* Frees the content an item owns and returns it to the pool. */
void crdt_item_release(crdt_pool *pool, crdt_item *it);
/* Frees the content an item owns (not the item). */
void crdt_content_free(crdt_item *it);
void crdt_type_free(crdt_type *t);

typedef struct crdt_arena_chunk crdt_arena_chunk;
typedef struct crdt_arena {
    crdt_arena_chunk *head;
    size_t next_size;
    size_t allocated; /* bytes handed out */
} crdt_arena;

void crdt_arena_init(crdt_arena *a);
void crdt_arena_destroy(crdt_arena *a);
/* n bytes owned by the arena (freed with it), or NULL. */
char *crdt_arena_alloc(crdt_arena *a, size_t n);
/* If p[0..n) ends at the arena's tail and the chunk has room, extends it by extra bytes in
 * place and returns 1; else 0. */
int crdt_arena_extend(crdt_arena *a, const char *p, size_t n, size_t extra);

/* ---- pmap.c ---- */
void crdt_pmap_init(crdt_pmap *m);
void crdt_pmap_free(crdt_pmap *m);
void *crdt_pmap_get(const crdt_pmap *m, const char *key);
/* Sets key (memory of the map is released by crdt_pmap_free; values are not owned). */
crdt_status crdt_pmap_set(crdt_pmap *m, const char *key, void *val);

/* Interned strings: one copy per distinct key per document. */
typedef struct crdt_intern {
    char **slots; /* open addressing; each string is malloc'd with its length in front */
    size_t cap;
    size_t n;
} crdt_intern;
void crdt_intern_init(crdt_intern *in);
void crdt_intern_free(crdt_intern *in);
/* The interned copy of s[0..n) (NUL-terminated), or NULL when out of memory. */
const char *crdt_intern_get(crdt_intern *in, const char *s, size_t n);
size_t crdt_intern_len(const char *interned);

/* ---- the document and its store (store.c) ---- */
/* One client's structs, sorted by clock with contiguous clocks from 0, in a gap buffer:
 * splits and merges happen where the document is being edited, so the gap follows them and
 * moves are short, while new structs are appended at the tail without touching the gap.
 * Read entries with crdt_client_at. */
typedef struct crdt_client {
    uint64_t id;
    crdt_item **structs; /* physical array: [0, gap) gap [gap + gap_len, n + gap_len) */
    uint64_t *clocks;    /* each struct's first clock, same layout: binary search reads
                            this compact array instead of chasing item pointers */
    size_t n;            /* number of structs */
    size_t cap;          /* physical capacity */
    size_t gap;
    size_t gap_len;
    size_t hint;         /* index of the last struct found, tried first */
    uint64_t state;      /* next expected clock: end of the last struct (splits and merges keep
                            it; only crdt_store_add moves it) */
    uint64_t txn_before; /* state at transaction start (valid when txn_stamp matches) */
    uint32_t txn_stamp;
} crdt_client;

typedef struct crdt_range {
    uint64_t client;
    uint64_t clock;
    uint64_t len;
} crdt_range;

typedef struct crdt_ranges {
    crdt_range *v;
    size_t n;
    size_t cap;
} crdt_ranges;

typedef struct crdt_txn {
    uint32_t stamp;
    crdt_ranges ds; /* deleted in this transaction */
    crdt_id *merge; /* right halves of splits, to merge back when possible */
    size_t nmerge, merge_cap;
    crdt_client **changed; /* clients that got new structs */
    size_t nchanged, changed_cap;
    int touched;     /* anything integrated or deleted */
    crdt_status err; /* first allocation failure */
} crdt_txn;

typedef struct crdt_sv_entry {
    uint64_t client;
    uint64_t clock;
} crdt_sv_entry;

struct crdt_doc {
    int gc;
    uint64_t client_id;
    crdt_limits lim;
    crdt_pool pool;
    crdt_arena text;
    size_t text_compact_at; /* arena size at which to check for garbage (integrate.c) */
    crdt_client **clients;  /* open addressing by client id */
    size_t clients_cap;
    size_t nclients;
    crdt_client *last_client;
    crdt_intern keys;
    crdt_pmap roots; /* interned name -> crdt_type* */
    /* Structs waiting for dependencies (Yjs's store.pendingStructs): the encoded v1 updates
     * they came in, merged only when retried or encoded (merging on every arrival would be
     * quadratic), and the clocks they wait for. */
    uint8_t **pending;
    size_t *pending_lens;
    size_t npending;
    uint64_t pending_structs;
    crdt_sv_entry *missing;
    size_t nmissing;
    crdt_ranges pending_ds; /* deletions of clocks not yet integrated */
    crdt_ranges ds_buffer;  /* storage lent to the decoder, so deletions need no malloc */
    crdt_txn txn;
    uint32_t scan_epoch;
    /* scratch arrays reused by integration */
    crdt_item **stack;
    size_t stack_cap;
};

static inline crdt_item *crdt_client_at(const crdt_client *c, size_t i)
{
    return c->structs[i < c->gap ? i : i + c->gap_len];
}
static inline uint64_t crdt_client_clock(const crdt_client *c, size_t i)
{
    return c->clocks[i < c->gap ? i : i + c->gap_len];
}
crdt_client *crdt_store_client(const crdt_doc *doc, uint64_t client);
/* The client's entry, created if needed (owned by the document). */
crdt_client *crdt_store_client_add(crdt_doc *doc, uint64_t client);
uint64_t crdt_store_state(const crdt_doc *doc, uint64_t client);
static inline uint64_t crdt_client_state(const crdt_client *c)
{
    return c->state;
}
/* Index of the struct containing clock (which must be below the client's state). */
size_t crdt_client_find(crdt_client *c, uint64_t clock);
/* The struct containing id, or NULL. */
crdt_item *crdt_store_get(const crdt_doc *doc, crdt_id id);
/* Appends a struct at the client's state (recording the transaction's before-state). */
crdt_status crdt_store_add(crdt_doc *doc, crdt_item *it);
/* Splits the struct at index after `diff` units; returns the new right half (owned by the store),
 * or NULL when out of memory (txn.err is set). */
crdt_item *crdt_store_split(crdt_doc *doc, crdt_client *c, size_t index, uint64_t diff);
/* The item ending at id (splitting after id when needed). */
crdt_item *crdt_store_clean_end(crdt_doc *doc, crdt_id id);
/* The item starting at id (splitting before id when needed). */
crdt_item *crdt_store_clean_start(crdt_doc *doc, crdt_id id);
/* Merges structs[pos] into its left neighbours while Yjs would; returns how many merged. */
size_t crdt_store_merge_lefts(crdt_doc *doc, crdt_client *c, size_t pos);
/* Number of a content kind's units that count towards a type's length. */
static inline int crdt_ref_countable(uint8_t ref)
{
    return ref != CRDT_REF_DELETED && ref != CRDT_REF_FORMAT && ref != CRDT_REF_GC &&
           ref != CRDT_REF_SKIP;
}

/* Byte offset of UTF-16 offset `units` in a string item (see crdt_utf16_to_byte). A string
 * with as many bytes as UTF-16 units is ASCII, where the two offsets agree. */
static inline size_t crdt_str_offset(const crdt_item *it, uint64_t units, int *split)
{
    if (it->c.str.n == it->len) {
        *split = 0;
        return (size_t)units;
    }
    return crdt_utf16_to_byte((const uint8_t *)it->c.str.p, it->c.str.n, units, split);
}

/* ---- transactions (integrate.c) ---- */
void crdt_txn_begin(crdt_doc *doc);
crdt_status crdt_txn_end(crdt_doc *doc);
void crdt_txn_add_delete(crdt_doc *doc, uint64_t client, uint64_t clock, uint64_t len);
void crdt_txn_add_merge(crdt_doc *doc, crdt_id id);
/* Marks an integrated item deleted (and a type's children), as Item.delete. */
void crdt_item_delete(crdt_doc *doc, crdt_item *it);
/* Integrates a resolved item (Item.integrate); offset as in Yjs. */
crdt_status crdt_item_integrate(crdt_doc *doc, crdt_item *it, uint64_t offset);
/* The root type of that name, created if needed (owned by the document), or NULL. */
crdt_type *crdt_doc_root(crdt_doc *doc, const char *name, size_t n);
crdt_type *crdt_doc_find_root(const crdt_doc *doc, const char *name);
/* A new empty type; the caller frees it with crdt_type_free (or hands it to an item). */
crdt_status crdt_type_new(uint8_t type_ref, crdt_type **out);

/* Range helpers (ranges.c). */
/* Appends a range (the array grows; crdt_ranges_free releases it). */
crdt_status crdt_ranges_add(crdt_ranges *r, uint64_t client, uint64_t clock, uint64_t len);
void crdt_ranges_free(crdt_ranges *r);
/* Sorts by (client, clock) and merges overlapping/adjacent ranges. */
void crdt_ranges_normalize(crdt_ranges *r);
/* Binary search in normalized ranges: is (client, clock) inside one? */
int crdt_ranges_contains(const crdt_ranges *r, uint64_t client, uint64_t clock);
/* Index of the first normalized range of client with clock+len > clock, or r->n. */
size_t crdt_ranges_lower(const crdt_ranges *r, uint64_t client, uint64_t clock);

/* ---- codec.c: update decoding/encoding ---- */
typedef struct crdt_block {
    uint64_t client;
    crdt_item **structs; /* decoded structs in clock order (NULL once taken) */
    size_t n;
    size_t next;    /* integration cursor */
    int removed;    /* its remaining structs went to the pending set */
    size_t arrival; /* its position in the update: for the same client, the later one wins */
} crdt_block;

typedef struct crdt_update {
    crdt_block *blocks; /* ascending by client */
    size_t nblocks;
    crdt_ranges ds;
    crdt_pool *pool;
    uint64_t nstructs;
    char **scratch; /* strings rebuilt while decoding (split surrogate pairs) */
    size_t nscratch;
    /* Most updates are one client with a few structs: keep those without malloc. */
    crdt_block inline_block;
    crdt_item *inline_slots[8];
} crdt_update;

/* Decodes a whole update. Items come from pool; strings point into data, which must
 * outlive the update. On error everything is released. */
crdt_status crdt_update_decode(crdt_update *u, const uint8_t *data, size_t len, int v2,
                               const crdt_limits *lim, crdt_pool *pool);
/* Same, reusing the storage of *ds_buffer for the delete set (it moves into u->ds; take it
 * back from there after use). */
crdt_status crdt_update_decode_reusing(crdt_update *u, const uint8_t *data, size_t len, int v2,
                                       const crdt_limits *lim, crdt_pool *pool,
                                       crdt_ranges *ds_buffer);
/* Releases the structs still in the update (not taken by integration). */
void crdt_update_free(crdt_update *u);
crdt_block *crdt_update_block(crdt_update *u, uint64_t client);

typedef struct crdt_uint_rle {
    crdt_buf out;
    uint64_t s;
    uint64_t count;
} crdt_uint_rle;

typedef struct crdt_diff_rle {
    crdt_buf out;
    int64_t s;
    int64_t diff;
    uint64_t count;
} crdt_diff_rle;

typedef struct crdt_enc {
    int v2;
    crdt_buf rest;
    /* v2 columns */
    crdt_diff_rle key_clock, left_clock, right_clock;
    crdt_uint_rle client, type_ref, len, str_lens;
    crdt_buf info, parent_info, strings;
    int info_s, parent_s;
    uint64_t info_count, parent_count;
    uint64_t key_counter;
    uint64_t ds_cur;
} crdt_enc;

void crdt_enc_init(crdt_enc *e, int v2);
void crdt_enc_free(crdt_enc *e);
/* Assembles the update; the encoder is consumed. Caller frees *out. */
crdt_status crdt_enc_finish(crdt_enc *e, uint8_t **out, size_t *out_len);
void crdt_enc_client(crdt_enc *e, uint64_t client);
/* Writes a struct starting `offset` units into it (Item.write / GC.write / Skip.write). */
void crdt_enc_struct(crdt_enc *e, const crdt_item *it, uint64_t offset);
/* Writes a normalized delete set (clients in descending order). */
void crdt_enc_delete_set(crdt_enc *e, const crdt_ranges *ds);
/* Writes the UTF-8 of a string content starting at UTF-16 offset (U+FFFD for a split pair). */
void crdt_string_slice(const char *p, size_t n, uint64_t offset, crdt_buf *out);

/* ---- encode.c ---- */
/* Writes the structs (integrated or decoded, any order) as the struct section of one update:
 * per client in descending order, clock-sorted, overlaps written once, gaps as Skip structs;
 * with sv, only what sv does not cover. Sorts items in place. */
void crdt_write_structs(crdt_enc *e, crdt_item **items, size_t n, const crdt_sv_entry *sv,
                        size_t nsv);
/* Parses an encoded state vector into a sorted array (caller frees *out). */
crdt_status crdt_sv_decode(const uint8_t *sv, size_t len, crdt_sv_entry **out, size_t *n);
uint64_t crdt_sv_get(const crdt_sv_entry *sv, size_t n, uint64_t client);
/* Merges updates like Y.mergeUpdates; with sv, drops what sv covers (Y.diffUpdate).
 * The caller frees *out. */
crdt_status crdt_merge_impl(const uint8_t *const *updates, const size_t *lens, size_t n, int v2_in,
                            int v2_out, const crdt_sv_entry *sv, size_t nsv, const crdt_limits *lim,
                            uint8_t **out, size_t *out_len);
/* The delete set of the store (all deleted structs); the caller frees *out with
 * crdt_ranges_free. */
crdt_status crdt_store_delete_set(const crdt_doc *doc, crdt_ranges *out);
void crdt_limits_resolve(const crdt_limits *in, crdt_limits *out);
crdt_status crdt_apply(crdt_doc *doc, const uint8_t *data, size_t len, int v2,
                       crdt_apply_result *result);

#endif /* CRDT_INTERNAL_H */
