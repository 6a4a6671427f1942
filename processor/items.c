/*
 * items: applying writes, resolves and policy changes to an item state. See
 * items.h for the model and processor/README-items.md for the rules.
 *
 * Every operation first decides on borrowed views (arrays of pointers to the
 * kept versions plus a view of the incoming write), checks the limits, and only
 * then commits, after every allocation it needs has succeeded: a rejected or
 * failed operation leaves the state exactly as it was.
 */
#include "processor/items.h"

#include <stdlib.h>
#include <string.h>

/* Room for the kept versions plus the incoming one. */
#define VIEW_CAPACITY (ITEMS_MAX_SIBLINGS + 1u)

static bool same_value(const items_sibling *a, const items_sibling *b)
{
    return a->value_len == b->value_len &&
           (a->value_len == 0 || memcmp(a->value, b->value, a->value_len) == 0);
}

/*
 * The lww order: >0 when a ranks above b. Later timestamp first, then the
 * larger client id, then the larger value bytes; two distinct versions equal on
 * all three can only come from a forged clock, and the canonical clock order
 * makes even that deterministic.
 */
static int rank_cmp(const items_sibling *a, const items_sibling *b, items_decided_by *by)
{
    if (a->timestamp_ms != b->timestamp_ms) {
        *by = ITEMS_BY_TIMESTAMP;
        return a->timestamp_ms > b->timestamp_ms ? 1 : -1;
    }
    if (a->client_id != b->client_id) {
        *by = ITEMS_BY_CLIENT_ID;
        return a->client_id > b->client_id ? 1 : -1;
    }
    *by = ITEMS_BY_VALUE;
    size_t shorter = a->value_len < b->value_len ? a->value_len : b->value_len;
    int order = shorter > 0 ? memcmp(a->value, b->value, shorter) : 0;
    if (order != 0) {
        return order > 0 ? 1 : -1;
    }
    if (a->value_len != b->value_len) {
        return a->value_len > b->value_len ? 1 : -1;
    }
    *by = ITEMS_BY_CLOCK;
    return vclock_canonical_cmp(&a->clock, &b->clock);
}

/* Which field ranks a against b (see rank_cmp). */
static items_decided_by decided_between(const items_sibling *a, const items_sibling *b)
{
    items_decided_by by;
    (void)rank_cmp(a, b, &by);
    return by;
}

static bool view_in_conflict(items_policy policy, const items_sibling *const *view, size_t count)
{
    if (policy != ITEMS_POLICY_MANUAL) {
        return false;
    }
    for (size_t i = 1; i < count; i++) {
        if (!same_value(view[0], view[i])) {
            return true;
        }
    }
    return false;
}

/* The version shown as the value: the top-ranked one, unless in conflict. In a
 * settled manual item all versions hold the same value, so ranking them only
 * picks whose timestamp and client id to show. */
static const items_sibling *view_current(items_policy policy, const items_sibling *const *view,
                                         size_t count)
{
    if (count == 0 || view_in_conflict(policy, view, count)) {
        return NULL;
    }
    const items_sibling *best = view[0];
    for (size_t i = 1; i < count; i++) {
        items_decided_by unused;
        if (rank_cmp(view[i], best, &unused) > 0) {
            best = view[i];
        }
    }
    return best;
}

static size_t state_view(const items_state *s, const items_sibling **view)
{
    for (size_t i = 0; i < s->sibling_count; i++) {
        view[i] = &s->siblings[i];
    }
    return s->sibling_count;
}

static void sibling_free(items_sibling *sibling)
{
    free(sibling->value);
    sibling->value = NULL;
    sibling->value_len = 0;
    vclock_free(&sibling->clock);
}

/* An owned copy of w; on failure nothing is left to free. */
static items_error sibling_from_write(items_sibling *out, const items_write *w)
{
    out->value = NULL;
    out->value_len = w->value_len;
    out->timestamp_ms = w->timestamp_ms;
    out->client_id = w->client_id;
    vclock_init(&out->clock);
    if (w->value_len > 0) {
        out->value = malloc(w->value_len);
        if (!out->value) {
            return ITEMS_ERR_NOMEM;
        }
        memcpy(out->value, w->value, w->value_len);
    }
    if (vclock_copy(&out->clock, w->clock) != VCLOCK_OK) {
        free(out->value);
        out->value = NULL;
        return ITEMS_ERR_NOMEM;
    }
    return ITEMS_OK;
}

static int sibling_canonical_cmp(const void *a, const void *b)
{
    const items_sibling *x = a;
    const items_sibling *y = b;
    return vclock_canonical_cmp(&x->clock, &y->clock);
}

static items_error merge_clocks(vclock *merged, const items_sibling *const *view, size_t count)
{
    vclock_init(merged);
    for (size_t i = 0; i < count; i++) {
        vclock_status status = vclock_merge(merged, &view[i]->clock);
        if (status != VCLOCK_OK) {
            vclock_free(merged);
            return status == VCLOCK_ERR_TOO_MANY ? ITEMS_ERR_CLOCK_TOO_LARGE : ITEMS_ERR_NOMEM;
        }
    }
    return ITEMS_OK;
}

static bool clock_is_canonical(const vclock *c)
{
    for (size_t i = 0; i < c->count; i++) {
        const vclock_entry *e = &c->entries[i];
        if (e->counter == 0 || e->counter > VCLOCK_INT_MAX || e->client_id > VCLOCK_INT_MAX) {
            return false;
        }
        if (i > 0 && c->entries[i - 1].client_id >= e->client_id) {
            return false;
        }
    }
    return true;
}

static items_error check_write(const items_write *w)
{
    if (!w || (!w->value && w->value_len > 0)) {
        return ITEMS_ERR_ARGUMENT;
    }
    if (w->value_len > ITEMS_MAX_VALUE_BYTES) {
        return ITEMS_ERR_VALUE_TOO_LARGE;
    }
    if (!w->clock || w->clock->count == 0) {
        return ITEMS_ERR_CLOCK_EMPTY;
    }
    if (w->clock->count > VCLOCK_MAX_ENTRIES) {
        return ITEMS_ERR_CLOCK_TOO_LARGE;
    }
    if (!clock_is_canonical(w->clock)) {
        return ITEMS_ERR_CLOCK_INVALID;
    }
    if (w->timestamp_ms > VCLOCK_INT_MAX || w->client_id > VCLOCK_INT_MAX) {
        return ITEMS_ERR_RANGE;
    }
    return ITEMS_OK;
}

static items_error finish(items_result *r, items_outcome outcome, items_decided_by by,
                          items_error error)
{
    r->outcome = outcome;
    r->decided_by = by;
    r->error = error;
    r->changed = false;
    r->version_changed = false;
    return error;
}

static items_error reject(items_result *r, items_error error)
{
    return finish(r, ITEMS_REJECTED, ITEMS_BY_NONE, error);
}

items_error items_state_init(items_state *s, const char *item_id, items_policy policy)
{
    items_error error = items_check_item_id(item_id);
    if (error != ITEMS_OK) {
        return error;
    }
    if (policy != ITEMS_POLICY_MANUAL && policy != ITEMS_POLICY_LWW) {
        return ITEMS_ERR_ARGUMENT;
    }
    size_t len = strlen(item_id);
    char *copy = malloc(len + 1);
    if (!copy) {
        return ITEMS_ERR_NOMEM;
    }
    memcpy(copy, item_id, len + 1);
    s->item_id = copy;
    s->policy = policy;
    s->version = 0;
    s->revision = 0;
    s->siblings = NULL;
    s->sibling_count = 0;
    vclock_init(&s->clock);
    return ITEMS_OK;
}

void items_state_free(items_state *s)
{
    for (size_t i = 0; i < s->sibling_count; i++) {
        sibling_free(&s->siblings[i]);
    }
    free(s->siblings);
    free(s->item_id);
    vclock_free(&s->clock);
    s->siblings = NULL;
    s->sibling_count = 0;
    s->item_id = NULL;
}

/*
 * Replaces s's versions by view[0..count) (pointers to kept versions of s, or to
 * `incoming`, a borrowed view of w) and s's clock by merged (taken over). Kept
 * versions move into the new array; the others are freed.
 */
static items_error commit(items_state *s, const items_sibling *const *view, size_t count,
                          const items_sibling *incoming, const items_write *w, vclock *merged)
{
    items_sibling owned;
    items_error error = sibling_from_write(&owned, w);
    if (error != ITEMS_OK) {
        return error;
    }
    items_sibling *array = malloc(count * sizeof(*array));
    if (!array) {
        sibling_free(&owned);
        return ITEMS_ERR_NOMEM;
    }
    bool kept[ITEMS_MAX_SIBLINGS] = {false};
    bool incoming_used = false;
    for (size_t i = 0; i < count; i++) {
        if (view[i] == incoming) {
            array[i] = owned;
            incoming_used = true;
        } else {
            size_t index = (size_t)(view[i] - s->siblings);
            kept[index] = true;
            array[i] = *view[i];
        }
    }
    if (!incoming_used) {
        sibling_free(&owned);
    }
    for (size_t i = 0; i < s->sibling_count; i++) {
        if (!kept[i]) {
            sibling_free(&s->siblings[i]);
        }
    }
    free(s->siblings);
    qsort(array, count, sizeof(*array), sibling_canonical_cmp);
    s->siblings = array;
    s->sibling_count = count;
    vclock_free(&s->clock);
    s->clock = *merged;
    vclock_init(merged);
    return ITEMS_OK;
}

items_error items_apply_write(items_state *s, const items_write *w, items_result *r)
{
    items_error error = check_write(w);
    if (error != ITEMS_OK) {
        return reject(r, error);
    }
    const items_sibling *before[VIEW_CAPACITY] = {NULL};
    size_t before_count = state_view(s, before);
    const items_sibling *current_before = view_current(s->policy, before, before_count);
    bool conflict_before = view_in_conflict(s->policy, before, before_count);

    /* A borrowed view of the write, never written through (hence the cast
     * dropping const); commit() makes the owned copy. */
    items_sibling incoming = {(uint8_t *)w->value, w->value_len, *w->clock, w->timestamp_ms,
                              w->client_id};
    const items_sibling *after[VIEW_CAPACITY] = {NULL};
    size_t after_count = 0;
    bool replaces_equal = false;
    items_decided_by tie_by = ITEMS_BY_NONE;
    for (size_t i = 0; i < s->sibling_count; i++) {
        const items_sibling *kept = &s->siblings[i];
        switch (vclock_compare(w->clock, &kept->clock)) {
        case VCLOCK_BEFORE:
            return finish(r, ITEMS_STALE, ITEMS_BY_CLOCK, ITEMS_OK);
        case VCLOCK_EQUAL:
            /* Kept clocks are pairwise concurrent, so w is concurrent with all
             * the others: only this slot is in question. */
            if (same_value(&incoming, kept)) {
                return finish(r, ITEMS_DUPLICATE, ITEMS_BY_CLOCK, ITEMS_OK);
            }
            if (rank_cmp(&incoming, kept, &tie_by) < 0) {
                return finish(r, ITEMS_STALE, tie_by, ITEMS_OK);
            }
            replaces_equal = true;
            after[after_count++] = &incoming;
            break;
        case VCLOCK_AFTER:
            break; /* w has seen this version: it goes */
        case VCLOCK_CONCURRENT:
            after[after_count++] = kept;
            break;
        }
    }
    if (!replaces_equal) {
        after[after_count++] = &incoming;
    }
    if (after_count > ITEMS_MAX_SIBLINGS) {
        return reject(r, ITEMS_ERR_TOO_MANY_SIBLINGS);
    }
    vclock merged;
    error = merge_clocks(&merged, after, after_count);
    if (error != ITEMS_OK) {
        return reject(r, error);
    }

    bool conflict_after = view_in_conflict(s->policy, after, after_count);
    const items_sibling *current_after = view_current(s->policy, after, after_count);
    items_outcome outcome;
    items_decided_by by = ITEMS_BY_NONE;
    if (conflict_after) {
        outcome = ITEMS_CONFLICT;
    } else if (current_after == &incoming || s->policy == ITEMS_POLICY_MANUAL) {
        outcome = ITEMS_APPLIED;
        if (replaces_equal) {
            by = tie_by;
        } else if (after_count == 1) {
            by = before_count > 0 ? ITEMS_BY_CLOCK : ITEMS_BY_NONE;
        } else if (s->policy == ITEMS_POLICY_LWW) {
            /* after holds another version, so runner_up is set. */
            const items_sibling *runner_up = NULL;
            for (size_t i = 0; i < after_count; i++) {
                items_decided_by unused;
                if (after[i] != &incoming &&
                    (!runner_up || rank_cmp(after[i], runner_up, &unused) > 0)) {
                    runner_up = after[i];
                }
            }
            by = decided_between(&incoming, runner_up);
        }
    } else {
        outcome = ITEMS_LOST;
        by = decided_between(current_after, &incoming);
    }
    bool version_changed = !conflict_after && (conflict_before || current_after != current_before);

    error = commit(s, after, after_count, &incoming, w, &merged);
    if (error != ITEMS_OK) {
        vclock_free(&merged);
        return reject(r, error);
    }
    s->revision++;
    if (version_changed) {
        s->version++;
    }
    finish(r, outcome, by, ITEMS_OK);
    r->changed = true;
    r->version_changed = version_changed;
    return ITEMS_OK;
}

items_error items_apply_resolve(items_state *s, const items_write *w, items_result *r)
{
    items_error error = check_write(w);
    if (error != ITEMS_OK) {
        return reject(r, error);
    }
    if (s->sibling_count == 0) {
        return reject(r, ITEMS_ERR_NOTHING_TO_RESOLVE);
    }
    /* A borrowed, read-only view of the write, as in items_apply_write. */
    items_sibling incoming = {(uint8_t *)w->value, w->value_len, *w->clock, w->timestamp_ms,
                              w->client_id};
    const vclock *clocks[ITEMS_MAX_SIBLINGS] = {NULL};
    for (size_t i = 0; i < s->sibling_count; i++) {
        /* A resend of an accepted resolve finds itself kept. */
        if (vclock_equal(w->clock, &s->siblings[i].clock) &&
            same_value(&incoming, &s->siblings[i])) {
            return finish(r, ITEMS_DUPLICATE, ITEMS_BY_CLOCK, ITEMS_OK);
        }
        clocks[i] = &s->siblings[i].clock;
    }
    if (!vclock_dominates_all(w->clock, clocks, s->sibling_count)) {
        return reject(r, ITEMS_ERR_RESOLVE_NOT_DOMINATING);
    }
    const items_sibling *all[VIEW_CAPACITY] = {NULL};
    size_t count = state_view(s, all);
    all[count++] = &incoming;
    vclock merged;
    error = merge_clocks(&merged, all, count);
    if (error != ITEMS_OK) {
        return reject(r, error);
    }
    const items_sibling *after[1] = {&incoming};
    items_write settled = *w;
    settled.clock = &merged; /* the kept version carries the merge of all */
    vclock item_clock;
    vclock_init(&item_clock);
    if (vclock_copy(&item_clock, &merged) != VCLOCK_OK) {
        vclock_free(&merged);
        return reject(r, ITEMS_ERR_NOMEM);
    }
    error = commit(s, after, 1, &incoming, &settled, &item_clock);
    vclock_free(&merged);
    if (error != ITEMS_OK) {
        vclock_free(&item_clock);
        return reject(r, error);
    }
    s->revision++;
    s->version++;
    finish(r, ITEMS_RESOLVED, ITEMS_BY_CLOCK, ITEMS_OK);
    r->changed = true;
    r->version_changed = true;
    return ITEMS_OK;
}

bool items_set_policy(items_state *s, items_policy policy)
{
    if (s->policy == policy) {
        return false;
    }
    const items_sibling *view[VIEW_CAPACITY] = {NULL};
    size_t count = state_view(s, view);
    const items_sibling *current_before = view_current(s->policy, view, count);
    bool conflict_before = view_in_conflict(s->policy, view, count);
    s->policy = policy;
    const items_sibling *current_after = view_current(s->policy, view, count);
    bool conflict_after = view_in_conflict(s->policy, view, count);
    s->revision++;
    if (count > 0 && !conflict_after && (conflict_before || current_after != current_before)) {
        s->version++;
    }
    return true;
}

bool items_in_conflict(const items_state *s)
{
    const items_sibling *view[VIEW_CAPACITY] = {NULL};
    size_t count = state_view(s, view);
    return view_in_conflict(s->policy, view, count);
}

const items_sibling *items_current(const items_state *s)
{
    const items_sibling *view[VIEW_CAPACITY] = {NULL};
    size_t count = state_view(s, view);
    return view_current(s->policy, view, count);
}
