/*
 * vclock: the clock itself (lookup, update, comparison, merge). The binary and
 * JSON forms live in vclock_codec.c. See vclock.h.
 */
#include "processor/vclock.h"

#include <stdlib.h>
#include <string.h>

void vclock_init(vclock *c)
{
    c->entries = NULL;
    c->count = 0;
    c->capacity = 0;
}

void vclock_free(vclock *c)
{
    free(c->entries);
    vclock_init(c);
}

/* Index of client_id in c, or of the place it would be inserted. */
static size_t find_slot(const vclock *c, uint64_t client_id, bool *found)
{
    size_t low = 0;
    size_t high = c->count;
    while (low < high) {
        size_t mid = low + (high - low) / 2;
        if (c->entries[mid].client_id < client_id) {
            low = mid + 1;
        } else {
            high = mid;
        }
    }
    *found = low < c->count && c->entries[low].client_id == client_id;
    return low;
}

static vclock_status reserve(vclock *c, size_t wanted)
{
    if (wanted <= c->capacity) {
        return VCLOCK_OK;
    }
    if (wanted > VCLOCK_MAX_ENTRIES) {
        return VCLOCK_ERR_TOO_MANY;
    }
    size_t capacity = c->capacity ? c->capacity * 2 : 4;
    if (capacity < wanted) {
        capacity = wanted;
    }
    if (capacity > VCLOCK_MAX_ENTRIES) {
        capacity = VCLOCK_MAX_ENTRIES;
    }
    vclock_entry *grown = realloc(c->entries, capacity * sizeof(*grown));
    if (!grown) {
        return VCLOCK_ERR_NOMEM;
    }
    c->entries = grown;
    c->capacity = capacity;
    return VCLOCK_OK;
}

vclock_status vclock_copy(vclock *dst, const vclock *src)
{
    if (dst == src) {
        return VCLOCK_OK;
    }
    if (src->count > VCLOCK_MAX_ENTRIES) {
        return VCLOCK_ERR_TOO_MANY;
    }
    vclock_entry *entries = NULL;
    if (src->count > 0) {
        entries = malloc(src->count * sizeof(*entries));
        if (!entries) {
            return VCLOCK_ERR_NOMEM;
        }
        memcpy(entries, src->entries, src->count * sizeof(*entries));
    }
    free(dst->entries);
    dst->entries = entries;
    dst->count = src->count;
    dst->capacity = src->count;
    return VCLOCK_OK;
}

static int entry_cmp(const void *a, const void *b)
{
    const vclock_entry *x = a;
    const vclock_entry *y = b;
    if (x->client_id != y->client_id) {
        return x->client_id < y->client_id ? -1 : 1;
    }
    return 0;
}

vclock_status vclock_from_entries(vclock *out, const vclock_entry *entries, size_t count)
{
    if (count > VCLOCK_MAX_ENTRIES) {
        return VCLOCK_ERR_TOO_MANY;
    }
    for (size_t i = 0; i < count; i++) {
        if (entries[i].client_id > VCLOCK_INT_MAX || entries[i].counter > VCLOCK_INT_MAX) {
            return VCLOCK_ERR_RANGE;
        }
    }
    vclock_entry *sorted = NULL;
    if (count > 0) {
        sorted = malloc(count * sizeof(*sorted));
        if (!sorted) {
            return VCLOCK_ERR_NOMEM;
        }
        memcpy(sorted, entries, count * sizeof(*sorted));
        qsort(sorted, count, sizeof(*sorted), entry_cmp);
    }
    size_t kept = 0;
    for (size_t i = 0; i < count; i++) {
        if (i > 0 && sorted[i].client_id == sorted[i - 1].client_id) {
            free(sorted);
            return VCLOCK_ERR_DUPLICATE;
        }
        if (sorted[i].counter > 0) {
            sorted[kept++] = sorted[i];
        }
    }
    if (kept == 0) {
        free(sorted); /* an empty clock holds no allocation */
        sorted = NULL;
        count = 0;
    }
    free(out->entries);
    out->entries = sorted;
    out->count = kept;
    out->capacity = count;
    return VCLOCK_OK;
}

uint64_t vclock_get(const vclock *c, uint64_t client_id)
{
    bool found;
    size_t i = find_slot(c, client_id, &found);
    return found ? c->entries[i].counter : 0;
}

vclock_status vclock_set(vclock *c, uint64_t client_id, uint64_t counter)
{
    if (client_id > VCLOCK_INT_MAX || counter > VCLOCK_INT_MAX) {
        return VCLOCK_ERR_RANGE;
    }
    bool found;
    size_t i = find_slot(c, client_id, &found);
    if (found) {
        if (counter > 0) {
            c->entries[i].counter = counter;
        } else {
            memmove(&c->entries[i], &c->entries[i + 1], (c->count - i - 1) * sizeof(c->entries[0]));
            c->count--;
        }
        return VCLOCK_OK;
    }
    if (counter == 0) {
        return VCLOCK_OK;
    }
    vclock_status status = reserve(c, c->count + 1);
    if (status != VCLOCK_OK) {
        return status;
    }
    memmove(&c->entries[i + 1], &c->entries[i], (c->count - i) * sizeof(c->entries[0]));
    c->entries[i].client_id = client_id;
    c->entries[i].counter = counter;
    c->count++;
    return VCLOCK_OK;
}

vclock_status vclock_increment(vclock *c, uint64_t client_id)
{
    uint64_t counter = vclock_get(c, client_id);
    if (counter >= VCLOCK_INT_MAX) {
        return VCLOCK_ERR_RANGE;
    }
    return vclock_set(c, client_id, counter + 1);
}

vclock_order vclock_compare(const vclock *a, const vclock *b)
{
    bool a_ahead = false; /* some entry of a is larger than b's */
    bool b_ahead = false;
    size_t i = 0;
    size_t j = 0;
    while ((i < a->count || j < b->count) && !(a_ahead && b_ahead)) {
        if (j == b->count || (i < a->count && a->entries[i].client_id < b->entries[j].client_id)) {
            a_ahead = true; /* a knows a client b has never seen */
            i++;
        } else if (i == a->count || b->entries[j].client_id < a->entries[i].client_id) {
            b_ahead = true;
            j++;
        } else {
            if (a->entries[i].counter > b->entries[j].counter) {
                a_ahead = true;
            } else if (a->entries[i].counter < b->entries[j].counter) {
                b_ahead = true;
            }
            i++;
            j++;
        }
    }
    if (a_ahead && b_ahead) {
        return VCLOCK_CONCURRENT;
    }
    if (a_ahead) {
        return VCLOCK_AFTER;
    }
    return b_ahead ? VCLOCK_BEFORE : VCLOCK_EQUAL;
}

bool vclock_dominates(const vclock *a, const vclock *b)
{
    return vclock_compare(a, b) == VCLOCK_AFTER;
}

bool vclock_dominates_all(const vclock *c, const vclock *const *others, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        if (!vclock_dominates(c, others[i])) {
            return false;
        }
    }
    return true;
}

static size_t union_size(const vclock *a, const vclock *b)
{
    size_t size = 0;
    size_t i = 0;
    size_t j = 0;
    while (i < a->count || j < b->count) {
        if (j == b->count || (i < a->count && a->entries[i].client_id < b->entries[j].client_id)) {
            i++;
        } else if (i == a->count || b->entries[j].client_id < a->entries[i].client_id) {
            j++;
        } else {
            i++;
            j++;
        }
        size++;
    }
    return size;
}

vclock_status vclock_merge(vclock *into, const vclock *other)
{
    vclock_order order = vclock_compare(into, other);
    if (order == VCLOCK_EQUAL || order == VCLOCK_AFTER) {
        return VCLOCK_OK; /* into already covers other: no allocation */
    }
    size_t size = union_size(into, other);
    if (size > VCLOCK_MAX_ENTRIES) {
        return VCLOCK_ERR_TOO_MANY;
    }
    vclock_entry *merged = malloc(size * sizeof(*merged));
    if (!merged) {
        return VCLOCK_ERR_NOMEM;
    }
    size_t i = 0;
    size_t j = 0;
    size_t k = 0;
    while (i < into->count || j < other->count) {
        if (j == other->count ||
            (i < into->count && into->entries[i].client_id < other->entries[j].client_id)) {
            merged[k++] = into->entries[i++];
        } else if (i == into->count || other->entries[j].client_id < into->entries[i].client_id) {
            merged[k++] = other->entries[j++];
        } else {
            merged[k] = into->entries[i];
            if (other->entries[j].counter > merged[k].counter) {
                merged[k].counter = other->entries[j].counter;
            }
            i++;
            j++;
            k++;
        }
    }
    free(into->entries);
    into->entries = merged;
    into->count = size;
    into->capacity = size;
    return VCLOCK_OK;
}

int vclock_canonical_cmp(const vclock *a, const vclock *b)
{
    size_t shorter = a->count < b->count ? a->count : b->count;
    for (size_t i = 0; i < shorter; i++) {
        const vclock_entry *x = &a->entries[i];
        const vclock_entry *y = &b->entries[i];
        if (x->client_id != y->client_id) {
            return x->client_id < y->client_id ? -1 : 1;
        }
        if (x->counter != y->counter) {
            return x->counter < y->counter ? -1 : 1;
        }
    }
    if (a->count != b->count) {
        return a->count < b->count ? -1 : 1;
    }
    return 0;
}

bool vclock_equal(const vclock *a, const vclock *b)
{
    return vclock_canonical_cmp(a, b) == 0;
}

const char *vclock_strerror(vclock_status status)
{
    switch (status) {
    case VCLOCK_OK:
        return "ok";
    case VCLOCK_ERR_NOMEM:
        return "out of memory";
    case VCLOCK_ERR_TOO_MANY:
        return "vector clock has more than 1024 entries";
    case VCLOCK_ERR_RANGE:
        return "client id or counter above 2^53-1";
    case VCLOCK_ERR_TRUNCATED:
        return "binary vector clock is truncated";
    case VCLOCK_ERR_NOT_CANONICAL:
        return "binary vector clock is not canonical (unsorted, duplicate, zero counter or "
               "overlong varint)";
    case VCLOCK_ERR_TRAILING:
        return "unexpected bytes after the vector clock";
    case VCLOCK_ERR_BUFFER:
        return "output buffer too small for the vector clock";
    case VCLOCK_ERR_NOT_OBJECT:
        return "vector clock JSON is not an object";
    case VCLOCK_ERR_BAD_KEY:
        return "vector clock JSON key is not a decimal client id";
    case VCLOCK_ERR_BAD_COUNTER:
        return "vector clock JSON counter is not an integer between 0 and 2^53-1";
    case VCLOCK_ERR_DUPLICATE:
        return "vector clock names the same client id twice";
    }
    return "unknown vector clock error";
}

const char *vclock_order_name(vclock_order order)
{
    switch (order) {
    case VCLOCK_EQUAL:
        return "equal";
    case VCLOCK_BEFORE:
        return "before";
    case VCLOCK_AFTER:
        return "after";
    case VCLOCK_CONCURRENT:
        return "concurrent";
    }
    return "unknown";
}
