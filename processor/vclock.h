/*
 * vclock: vector clocks for items (key/value registers inside a document).
 *
 * A clock maps a client id to a counter: the number of writes that client made
 * which the writer of this clock had seen. Comparing two clocks tells whether one
 * write happened before the other or whether they are concurrent; items.c builds
 * the conflict rules on top. The processor stores clocks in MongoDB `items` and
 * Redis `item:{doc}:{item}` through the canonical JSON form below, and may use
 * the binary form wherever bytes are cheaper than text.
 *
 * Client ids are the Yjs client ids (uint32) held in a uint64: numeric ids make
 * a comparison a merge of two sorted integer arrays with no allocation, and the
 * actor of a vector clock must be one sequential writer, which a Yjs client is
 * and a user (several tabs, several devices) is not. Client ids, counters and
 * item timestamps are capped at 2^53 - 1 so that every one of them survives a
 * trip through JSON into a JavaScript client exactly.
 *
 * Representation: entries sorted by client id, no entry with counter 0 (a
 * missing entry means 0), at most VCLOCK_MAX_ENTRIES entries, so that equal
 * clocks have equal encodings and hostile input cannot grow a clock without
 * bound. No I/O, no global state.
 */
#ifndef PROCESSOR_VCLOCK_H
#define PROCESSOR_VCLOCK_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Largest integer a JavaScript number holds exactly (Number.MAX_SAFE_INTEGER). */
#define VCLOCK_INT_MAX ((uint64_t)9007199254740991u)

/* Entries a clock may hold: about 16 KiB in memory, at most 10 KiB encoded. */
#define VCLOCK_MAX_ENTRIES 1024u

typedef enum vclock_status {
    VCLOCK_OK = 0,
    VCLOCK_ERR_NOMEM,         /* allocation failed; the clock is unchanged */
    VCLOCK_ERR_TOO_MANY,      /* more than VCLOCK_MAX_ENTRIES entries */
    VCLOCK_ERR_RANGE,         /* client id or counter above VCLOCK_INT_MAX */
    VCLOCK_ERR_TRUNCATED,     /* binary input ends inside a number */
    VCLOCK_ERR_NOT_CANONICAL, /* binary input unsorted, duplicated, zero or overlong */
    VCLOCK_ERR_TRAILING,      /* bytes left after a clock that had to fill the buffer */
    VCLOCK_ERR_BUFFER,        /* output buffer too small */
    VCLOCK_ERR_NOT_OBJECT,    /* JSON is not an object */
    VCLOCK_ERR_BAD_KEY,       /* JSON key is not a canonical decimal client id */
    VCLOCK_ERR_BAD_COUNTER,   /* JSON value is not a non-negative integer */
    VCLOCK_ERR_DUPLICATE,     /* the same client id twice in a list of entries */
} vclock_status;

typedef enum vclock_order {
    VCLOCK_EQUAL,
    VCLOCK_BEFORE,    /* a happened before b: a <= b everywhere, < somewhere */
    VCLOCK_AFTER,     /* a happened after b */
    VCLOCK_CONCURRENT /* neither: each has seen a write the other has not */
} vclock_order;

typedef struct vclock_entry {
    uint64_t client_id;
    uint64_t counter; /* 1 .. VCLOCK_INT_MAX */
} vclock_entry;

typedef struct vclock {
    vclock_entry *entries; /* owned, sorted by client_id; NULL while empty */
    size_t count;
    size_t capacity;
} vclock;

/* An empty clock; nothing allocated yet. Release with vclock_free. */
void vclock_init(vclock *c);

/* Frees the entries and leaves c empty and reusable (c itself is the caller's). */
void vclock_free(vclock *c);

/* Makes dst an exact copy of src (dst must be initialised; its old entries are
 * replaced). On failure dst is unchanged. */
vclock_status vclock_copy(vclock *dst, const vclock *src);

/* Builds out (initialised; replaced on success, unchanged on failure) from
 * entries in any order, e.g. an Avro array: sorted in O(n log n), zero
 * counters dropped, a repeated client id refused. */
vclock_status vclock_from_entries(vclock *out, const vclock_entry *entries, size_t count);

/* Counter of client_id, 0 when absent. */
uint64_t vclock_get(const vclock *c, uint64_t client_id);

/* Sets the counter of client_id; counter 0 removes the entry. */
vclock_status vclock_set(vclock *c, uint64_t client_id, uint64_t counter);

/* Adds one to the counter of client_id: what a client does before each write.
 * VCLOCK_ERR_RANGE when the counter is already VCLOCK_INT_MAX. */
vclock_status vclock_increment(vclock *c, uint64_t client_id);

/* Causal relation of a to b. */
vclock_order vclock_compare(const vclock *a, const vclock *b);

/* True when a happened strictly after b (a >= b everywhere, > somewhere). */
bool vclock_dominates(const vclock *a, const vclock *b);

/* True when c strictly dominates each of others[0..count-1]; true for count 0. */
bool vclock_dominates_all(const vclock *c, const vclock *const *others, size_t count);

/* into = pointwise maximum of into and other. VCLOCK_ERR_TOO_MANY when the union
 * would exceed VCLOCK_MAX_ENTRIES; on any failure into is unchanged. */
vclock_status vclock_merge(vclock *into, const vclock *other);

/* A total order (not the causal one): compares the sorted entry lists
 * lexicographically by (client id, counter). Used to keep sibling lists in one
 * canonical order; returns <0, 0 or >0. */
int vclock_canonical_cmp(const vclock *a, const vclock *b);

bool vclock_equal(const vclock *a, const vclock *b);

/*
 * Binary form: unsigned LEB128 varints (the lib0 varUint of Yjs), the entry
 * count, then for each entry its client id and its counter, in client order.
 * Decoding accepts only that canonical form (sorted, no duplicates, no zero
 * counters, no overlong varints), so one clock has exactly one encoding.
 */

/* Bytes vclock_encode writes for c. */
size_t vclock_encoded_size(const vclock *c);

/* Writes c into out[0..capacity); *written = bytes used. VCLOCK_ERR_BUFFER when
 * capacity < vclock_encoded_size(c). */
vclock_status vclock_encode(const vclock *c, uint8_t *out, size_t capacity, size_t *written);

/* Reads one clock from the start of in[0..len) into out (initialised; replaced
 * on success, unchanged on failure). *consumed = bytes read, so a clock can be
 * embedded in a larger record; pass consumed = NULL to require that the clock
 * fills the whole input (else VCLOCK_ERR_TRAILING). */
vclock_status vclock_decode(vclock *out, const uint8_t *in, size_t len, size_t *consumed);

/*
 * JSON form, for the MongoDB and Redis views: an object from decimal client id
 * to counter, keys in ascending numeric order, e.g. {"1": 2, "2": 2}. On input
 * keys must be canonical decimals (no sign, no leading zero) and values integers
 * 0 .. VCLOCK_INT_MAX; zero counters are accepted and dropped, as a missing
 * entry means the same.
 */

/* A new JSON object (the caller owns one reference: json_decref), or NULL when
 * memory ran out. */
json_t *vclock_to_json(const vclock *c);

/* Parses json into out (initialised; replaced on success, unchanged on failure). */
vclock_status vclock_from_json(vclock *out, const json_t *json);

/* A static English description of status, for logs and client errors. */
const char *vclock_strerror(vclock_status status);

const char *vclock_order_name(vclock_order order);

#endif
