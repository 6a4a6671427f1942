/*
 * Property test: random histories of writes from several clients, applied in
 * random orders (with resends) by several replicas, end in the same state, and
 * that state is the one the specification gives directly:
 *
 *   kept versions = the writes no other write's clock dominates, writes with
 *                   equal clocks reduced to the highest-ranked one;
 *   lww value     = the highest-ranked kept version (timestamp, client id, value);
 *   manual        = in conflict when the kept versions hold distinct values.
 *
 * Histories are causal: a client increments its own entry before each write
 * and sometimes first learns another write's clock. Some histories add forged
 * writes that reuse an existing clock with another value, the seeds'
 * "identical clocks" case. Resolves are left out on purpose: whether a resolve
 * dominates depends on what has arrived before it, so it is order-dependent by
 * design. The seed is printed; set ITEMS_PROPERTY_SEED to replay one.
 */
#include "processor/items.h"
#include "processor/items_json.h"
#include "tests/unit/items/items_test_util.h"

#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define CLIENTS    4
#define MAX_WRITES 40
#define REPLICAS   5
#define HISTORIES  400

/* Client ids spread over the uint32 range, so id order is not position order. */
static const uint64_t client_ids[CLIENTS] = {4294967295u, 7, 65536, 1000};

typedef struct history_write {
    char value[32];
    vclock clock;
    uint64_t timestamp_ms;
    uint64_t client_id;
} history_write;

typedef struct history {
    history_write writes[MAX_WRITES];
    size_t count;
} history;

static uint64_t next_random(uint64_t *state)
{
    *state += 0x9e3779b97f4a7c15u;
    uint64_t z = *state;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

static size_t below(uint64_t *rng, size_t n)
{
    return (size_t)(next_random(rng) % n);
}

static void history_generate(history *h, uint64_t *rng)
{
    vclock known[CLIENTS];
    for (size_t c = 0; c < CLIENTS; c++) {
        vclock_init(&known[c]);
    }
    size_t legit = 2 + below(rng, 14);
    size_t forged_serial = 0;
    h->count = 0;
    for (size_t i = 0; i < legit; i++) {
        size_t c = below(rng, CLIENTS);
        if (h->count > 0 && below(rng, 2) == 0) {
            /* The client hears of an earlier write (and so of its past). */
            const history_write *heard = &h->writes[below(rng, h->count)];
            assert_int_equal(vclock_merge(&known[c], &heard->clock), VCLOCK_OK);
        }
        assert_int_equal(vclock_increment(&known[c], client_ids[c]), VCLOCK_OK);
        history_write *w = &h->writes[h->count++];
        /* Few distinct values and timestamps, so ties really happen. */
        snprintf(w->value, sizeof(w->value), "v%zu", below(rng, 4));
        vclock_init(&w->clock);
        assert_int_equal(vclock_copy(&w->clock, &known[c]), VCLOCK_OK);
        w->timestamp_ms = 1716035696000u + below(rng, 4);
        w->client_id = client_ids[c];
    }
    size_t forged = below(rng, 3) == 0 ? 1 + below(rng, 3) : 0;
    for (size_t i = 0; i < forged; i++) {
        const history_write *original = &h->writes[below(rng, legit)];
        history_write *w = &h->writes[h->count++];
        /* A value no other write has: equal clock and value would be a resend. */
        snprintf(w->value, sizeof(w->value), "forged%zu", forged_serial++);
        vclock_init(&w->clock);
        assert_int_equal(vclock_copy(&w->clock, &original->clock), VCLOCK_OK);
        w->timestamp_ms = 1716035696000u + below(rng, 4);
        w->client_id = client_ids[below(rng, CLIENTS)];
    }
    for (size_t c = 0; c < CLIENTS; c++) {
        vclock_free(&known[c]);
    }
}

static void history_free(history *h)
{
    for (size_t i = 0; i < h->count; i++) {
        vclock_free(&h->writes[i].clock);
    }
}

static items_sibling as_sibling(const history_write *w)
{
    items_sibling s = {(uint8_t *)w->value, strlen(w->value), w->clock, w->timestamp_ms,
                       w->client_id};
    return s;
}

/* The lww rank, written independently of items.c: >0 when a ranks above b. */
static int spec_rank(const history_write *a, const history_write *b)
{
    if (a->timestamp_ms != b->timestamp_ms) {
        return a->timestamp_ms > b->timestamp_ms ? 1 : -1;
    }
    if (a->client_id != b->client_id) {
        return a->client_id > b->client_id ? 1 : -1;
    }
    return strcmp(a->value, b->value);
}

/* Checks a replica's state against the specification computed from h. */
static void check_against_spec(const items_state *s, const history *h, items_policy policy)
{
    const history_write *kept[MAX_WRITES];
    size_t kept_count = 0;
    for (size_t i = 0; i < h->count; i++) {
        const history_write *w = &h->writes[i];
        bool superseded = false;
        for (size_t j = 0; j < h->count && !superseded; j++) {
            const history_write *other = &h->writes[j];
            vclock_order order = vclock_compare(&w->clock, &other->clock);
            superseded =
                order == VCLOCK_BEFORE || (order == VCLOCK_EQUAL && spec_rank(other, w) > 0);
        }
        if (!superseded) {
            kept[kept_count++] = w;
        }
    }
    /* Exact resends of the same write appear once. */
    size_t unique = 0;
    for (size_t i = 0; i < kept_count; i++) {
        bool repeat = false;
        for (size_t j = 0; j < unique; j++) {
            repeat = repeat || kept[j] == kept[i] ||
                     (vclock_equal(&kept[j]->clock, &kept[i]->clock) &&
                      strcmp(kept[j]->value, kept[i]->value) == 0);
        }
        if (!repeat) {
            kept[unique++] = kept[i];
        }
    }
    kept_count = unique;

    assert_int_equal(s->sibling_count, kept_count);
    for (size_t i = 0; i < kept_count; i++) {
        bool found = false;
        for (size_t j = 0; j < s->sibling_count; j++) {
            const items_sibling *sib = &s->siblings[j];
            if (vclock_equal(&sib->clock, &kept[i]->clock)) {
                assert_true(test_sibling_is(sib, kept[i]->value));
                assert_int_equal(sib->timestamp_ms, kept[i]->timestamp_ms);
                assert_int_equal(sib->client_id, kept[i]->client_id);
                found = true;
            }
        }
        assert_true(found);
    }

    /* Every history has writes, so something is always kept. */
    if (kept_count == 0) {
        fail_msg("no write kept");
        return;
    }
    bool distinct_values = false;
    const history_write *top = kept[0];
    for (size_t i = 1; i < kept_count; i++) {
        distinct_values = distinct_values || strcmp(kept[i]->value, kept[0]->value) != 0;
        if (spec_rank(kept[i], top) > 0) {
            top = kept[i];
        }
    }
    bool conflict = policy == ITEMS_POLICY_MANUAL && distinct_values;
    assert_int_equal(items_in_conflict(s), conflict);
    const items_sibling *current = items_current(s);
    if (conflict) {
        assert_null(current);
    } else {
        assert_non_null(current);
        assert_true(test_sibling_is(current, top->value));
        assert_true(vclock_equal(&current->clock, &top->clock));
    }
    vclock merged;
    vclock_init(&merged);
    for (size_t i = 0; i < h->count; i++) {
        assert_int_equal(vclock_merge(&merged, &h->writes[i].clock), VCLOCK_OK);
    }
    assert_true(vclock_equal(&s->clock, &merged));
    vclock_free(&merged);
}

/* The state's JSON without version and revision, which count arrivals. */
static char *content_text(const items_state *s)
{
    json_t *json = items_state_to_json(s);
    assert_non_null(json);
    json_object_del(json, "version");
    json_object_del(json, "revision");
    char *text = json_dumps(json, JSON_COMPACT);
    json_decref(json);
    assert_non_null(text);
    return text;
}

/*
 * Once everything has arrived, any write again changes nothing; and a resolve
 * that has seen the item's clock is always accepted and leaves one version,
 * after which every write of the history is stale.
 */
static void check_idempotent_and_resolvable(items_state *s, const history *h)
{
    char *before = content_text(s);
    for (size_t i = 0; i < h->count; i++) {
        const history_write *hw = &h->writes[i];
        items_write w = {(const uint8_t *)hw->value, strlen(hw->value), &hw->clock,
                         hw->timestamp_ms, hw->client_id};
        items_result r;
        assert_int_equal(items_apply_write(s, &w, &r), ITEMS_OK);
        assert_false(r.changed);
        assert_true(r.outcome == ITEMS_DUPLICATE || r.outcome == ITEMS_STALE);
    }
    char *after = content_text(s);
    assert_string_equal(before, after);
    free(before);
    free(after);

    vclock seen;
    vclock_init(&seen);
    assert_int_equal(vclock_copy(&seen, &s->clock), VCLOCK_OK);
    assert_int_equal(vclock_increment(&seen, client_ids[0]), VCLOCK_OK);
    items_write resolve = {(const uint8_t *)"agreed", 6, &seen, 1, client_ids[0]};
    uint64_t version = s->version;
    items_result r;
    assert_int_equal(items_apply_resolve(s, &resolve, &r), ITEMS_OK);
    assert_int_equal(r.outcome, ITEMS_RESOLVED);
    assert_int_equal(s->version, version + 1);
    assert_int_equal(s->sibling_count, 1);
    assert_true(vclock_equal(&s->clock, &seen));
    for (size_t i = 0; i < h->count; i++) {
        const history_write *hw = &h->writes[i];
        items_write w = {(const uint8_t *)hw->value, strlen(hw->value), &hw->clock,
                         hw->timestamp_ms, hw->client_id};
        assert_int_equal(items_apply_write(s, &w, &r), ITEMS_OK);
        assert_int_equal(r.outcome, ITEMS_STALE);
    }
    vclock_free(&seen);
}

static void run_history(const history *h, items_policy policy, uint64_t *rng)
{
    /* Every write once, some twice (resends), in a fresh random order per replica. */
    size_t deliveries[2 * MAX_WRITES];
    size_t delivery_count = 0;
    for (size_t i = 0; i < h->count; i++) {
        deliveries[delivery_count++] = i;
        if (below(rng, 4) == 0) {
            deliveries[delivery_count++] = i;
        }
    }
    char *first = NULL;
    for (int replica = 0; replica < REPLICAS; replica++) {
        for (size_t i = delivery_count; i > 1; i--) {
            size_t j = below(rng, i);
            size_t t = deliveries[i - 1];
            deliveries[i - 1] = deliveries[j];
            deliveries[j] = t;
        }
        items_state s;
        assert_int_equal(items_state_init(&s, "prop", policy), ITEMS_OK);
        uint64_t version = 0;
        uint64_t revision = 0;
        for (size_t d = 0; d < delivery_count; d++) {
            const history_write *hw = &h->writes[deliveries[d]];
            items_sibling view = as_sibling(hw);
            items_write w = {view.value, view.value_len, &hw->clock, hw->timestamp_ms,
                             hw->client_id};
            items_result r;
            assert_int_equal(items_apply_write(&s, &w, &r), ITEMS_OK);
            assert_int_not_equal(r.outcome, ITEMS_REJECTED);
            /* The counters move exactly as the result says. */
            assert_int_equal(s.revision, revision + (r.changed ? 1 : 0));
            assert_int_equal(s.version, version + (r.version_changed ? 1 : 0));
            version = s.version;
            revision = s.revision;
        }
        check_against_spec(&s, h, policy);
        char *text = content_text(&s);
        check_idempotent_and_resolvable(&s, h);
        if (!first) {
            first = text;
        } else {
            assert_string_equal(first, text);
            free(text);
        }
        items_state_free(&s);
    }
    free(first);
}

static void test_replicas_converge(void **unused)
{
    (void)unused;
    uint64_t seed = 20240518;
    const char *env = getenv("ITEMS_PROPERTY_SEED");
    if (env && *env) {
        seed = strtoull(env, NULL, 10);
    }
    print_message("items property seed %" PRIu64 " (%d histories)\n", seed, HISTORIES);
    uint64_t rng = seed;
    for (int i = 0; i < HISTORIES; i++) {
        history h;
        history_generate(&h, &rng);
        run_history(&h, ITEMS_POLICY_LWW, &rng);
        run_history(&h, ITEMS_POLICY_MANUAL, &rng);
        history_free(&h);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_replicas_converge),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
