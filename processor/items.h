/*
 * items: key/value registers inside a document, ordered by vector clocks, with a
 * conflict policy per document or item (`manual` or `lww`). This is the pure
 * logic the processor runs for item operations: it works on C structs, does no
 * I/O, and says in an items_result what happened, so that the processor can
 * persist the state (MongoDB `items`, Redis `item:{doc}:{item}`, see
 * items_json.h), publish the merged record or conflict notice, and count it.
 *
 * The state keeps every version no other version has seen (the maximal writes
 * under the clock order): one while the item is settled, several after
 * concurrent writes. `manual` reports several distinct values as a conflict
 * until a resolve whose clock dominates them all; `lww` shows the highest-ranked
 * one (later timestamp, then larger client id, then larger value bytes) and
 * keeps the others only so that every delivery order converges to the same
 * state. processor/README-items.md has the rules with the seeds' examples.
 */
#ifndef PROCESSOR_ITEMS_H
#define PROCESSOR_ITEMS_H

#include "processor/vclock.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ITEMS_MAX_ID_BYTES    256u
#define ITEMS_MAX_VALUE_BYTES ((size_t)64 * 1024)
/* Unresolved concurrent versions per item; writes beyond are rejected, so one
 * item stays well under MongoDB's 16 MiB document limit. */
#define ITEMS_MAX_SIBLINGS 32u

typedef enum items_policy {
    ITEMS_POLICY_MANUAL, /* keep concurrent values until a user resolves them */
    ITEMS_POLICY_LWW     /* last writer wins: timestamp, then client id */
} items_policy;

typedef enum items_outcome {
    ITEMS_APPLIED,   /* the write is now the item's value */
    ITEMS_DUPLICATE, /* the same clock with the same value is already kept */
    ITEMS_STALE,     /* a kept version has seen this write, or it lost an equal-clock tie */
    ITEMS_CONFLICT,  /* manual: concurrent and kept; the item holds several values */
    ITEMS_LOST,      /* lww: concurrent and kept, but a concurrent version ranks higher */
    ITEMS_RESOLVED,  /* a resolve replaced every sibling */
    ITEMS_REJECTED   /* bad input or not allowed; see items_result.error */
} items_outcome;

/* What decided between two versions. */
typedef enum items_decided_by {
    ITEMS_BY_NONE,      /* nothing to decide (first write, conflict, rejection) */
    ITEMS_BY_CLOCK,     /* causality: one clock dominates the other */
    ITEMS_BY_TIMESTAMP, /* concurrent or equal clocks: the later timestamp */
    ITEMS_BY_CLIENT_ID, /* same timestamp: the larger client id */
    ITEMS_BY_VALUE      /* same timestamp and client: the larger value bytes */
} items_decided_by;

typedef enum items_error {
    ITEMS_OK = 0,
    ITEMS_ERR_NOMEM,
    ITEMS_ERR_ARGUMENT, /* NULL where data was required */
    ITEMS_ERR_ITEM_ID_EMPTY,
    ITEMS_ERR_ITEM_ID_TOO_LONG,  /* more than ITEMS_MAX_ID_BYTES */
    ITEMS_ERR_ITEM_ID_INVALID,   /* not UTF-8, or holds a control character */
    ITEMS_ERR_VALUE_TOO_LARGE,   /* more than ITEMS_MAX_VALUE_BYTES */
    ITEMS_ERR_CLOCK_EMPTY,       /* a write must carry at least one clock entry */
    ITEMS_ERR_CLOCK_TOO_LARGE,   /* the clock, or the item's merged clock, over the limit */
    ITEMS_ERR_CLOCK_INVALID,     /* entries unsorted, zero or out of range */
    ITEMS_ERR_RANGE,             /* timestamp or client id above 2^53-1 */
    ITEMS_ERR_TOO_MANY_SIBLINGS, /* more than ITEMS_MAX_SIBLINGS unresolved versions */
    ITEMS_ERR_NOTHING_TO_RESOLVE,
    ITEMS_ERR_RESOLVE_NOT_DOMINATING, /* a resolve must have seen every sibling */
    ITEMS_ERR_BAD_JSON                /* stored state does not parse; see the message */
} items_error;

typedef struct items_sibling {
    uint8_t *value; /* owned; NULL when value_len is 0 */
    size_t value_len;
    vclock clock;
    uint64_t timestamp_ms; /* the writer's wall clock, ms since the Unix epoch */
    uint64_t client_id;    /* the writer (Yjs client id) */
} items_sibling;

typedef struct items_state {
    char *item_id; /* owned */
    items_policy policy;
    /* Times the item settled on a new value (applied, resolved, lww winner
     * changed). A conflict does not count: the seeds' resolution of a conflict
     * over version 2 is version 3. */
    uint64_t version;
    /* Times the state changed at all: strictly increasing, so storage writes can
     * be conditioned on it and a replay never rolls a view back. */
    uint64_t revision;
    items_sibling *siblings; /* owned, in vclock_canonical_cmp order; none = unset */
    size_t sibling_count;
    vclock clock; /* merge of the sibling clocks: what a resolve must dominate */
} items_state;

/* A write or a resolve as the processor received it. Nothing is taken over:
 * the state copies what it keeps. */
typedef struct items_write {
    const uint8_t *value;
    size_t value_len;
    const vclock *clock;
    uint64_t timestamp_ms;
    uint64_t client_id;
} items_write;

typedef struct items_result {
    items_outcome outcome;
    items_decided_by decided_by;
    items_error error;    /* ITEMS_OK unless outcome is ITEMS_REJECTED */
    bool changed;         /* the state changed (revision + 1): persist and publish */
    bool version_changed; /* version + 1 */
} items_result;

/* A never-written item. Copies item_id; release with items_state_free. On
 * error s holds nothing to free. */
items_error items_state_init(items_state *s, const char *item_id, items_policy policy);

/* Frees everything s owns (s itself is the caller's). */
void items_state_free(items_state *s);

/* Checks an item id: 1..ITEMS_MAX_ID_BYTES bytes of UTF-8, no control chars. */
items_error items_check_item_id(const char *item_id);

/*
 * Applies a write. Returns ITEMS_OK or the error also put in result->error.
 * On any error, and for DUPLICATE and STALE, s is unchanged.
 */
items_error items_apply_write(items_state *s, const items_write *w, items_result *result);

/*
 * Applies a user's resolution of a conflict: accepted only when w->clock
 * dominates every sibling; then w becomes the only version, clock = merge of
 * all, version + 1. A resolve identical to a kept version is a DUPLICATE.
 */
items_error items_apply_resolve(items_state *s, const items_write *w, items_result *result);

/* Changes the item's policy (revision + 1 when it differs; version + 1 when that
 * settles a conflict). Returns true when the state changed. */
bool items_set_policy(items_state *s, items_policy policy);

/* True for `manual` items whose siblings hold more than one distinct value. */
bool items_in_conflict(const items_state *s);

/* The version shown as the item's value: NULL when never written or in
 * conflict. Points into s; valid until s next changes. */
const items_sibling *items_current(const items_state *s);

const char *items_outcome_name(items_outcome outcome);
const char *items_decided_by_name(items_decided_by decided_by);
const char *items_policy_name(items_policy policy);
/* Parses "manual" or "lww"; false for anything else. */
bool items_policy_from_name(const char *name, items_policy *policy);
const char *items_strerror(items_error error);

#endif
