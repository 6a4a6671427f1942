/*
 * The scenarios of the design seeds (/work/shared/seeds 000 and 004) as tests.
 * Positional clocks [a, b, c] are clients 1, 2 and 3. Each scenario runs in
 * every arrival order the processor could see, since Kafka orders the
 * operations of one document but not who sent first.
 */
#include "processor/items.h"
#include "processor/items_json.h"
#include "tests/unit/items/items_test_util.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/* item16 before the sync: "val16", version 1, clock [1,0,0]. */
static void seed_item16(items_state *s, items_policy policy, vclock *scratch)
{
    assert_int_equal(items_state_init(s, "item16", policy), ITEMS_OK);
    test_clock(scratch, (uint64_t[]){1, 0, 0}, 3);
    items_write w = test_write("val16", scratch, test_utc_ms(2024, 5, 18, 12, 0, 0), 1);
    items_result r;
    assert_int_equal(items_apply_write(s, &w, &r), ITEMS_OK);
    assert_int_equal(r.outcome, ITEMS_APPLIED);
    assert_int_equal(s->version, 1);
}

/*
 * Seed 004, user-driven resolution: A writes [2,0,0] while B writes [1,2,0];
 * the conflict is detected and notified with both values; the users merge to
 * "val16_Aval16_B", stored at version 3 with clock [2,2,0].
 */
static void run_user_resolution(int a_first)
{
    items_state s;
    vclock clock_a, clock_b, clock_merge;
    vclock_init(&clock_a);
    vclock_init(&clock_b);
    vclock_init(&clock_merge);
    seed_item16(&s, ITEMS_POLICY_MANUAL, &clock_a);
    test_clock(&clock_a, (uint64_t[]){2, 0, 0}, 3);
    test_clock(&clock_b, (uint64_t[]){1, 2, 0}, 3);
    items_write a = test_write("val16_A", &clock_a, test_utc_ms(2024, 5, 18, 12, 34, 56), 1);
    items_write b = test_write("val16_B", &clock_b, test_utc_ms(2024, 5, 18, 12, 34, 57), 2);

    items_result r;
    assert_int_equal(items_apply_write(&s, a_first ? &a : &b, &r), ITEMS_OK);
    assert_int_equal(r.outcome, ITEMS_APPLIED);
    assert_int_equal(r.decided_by, ITEMS_BY_CLOCK);
    assert_int_equal(items_apply_write(&s, a_first ? &b : &a, &r), ITEMS_OK);
    assert_int_equal(r.outcome, ITEMS_CONFLICT);
    assert_true(r.changed);
    assert_false(r.version_changed);

    /* The notice carries both versions. */
    assert_true(items_in_conflict(&s));
    assert_null(items_current(&s));
    assert_int_equal(s.sibling_count, 2);
    int seen_a = 0, seen_b = 0;
    for (size_t i = 0; i < s.sibling_count; i++) {
        if (test_sibling_is(&s.siblings[i], "val16_A")) {
            seen_a++;
            assert_true(vclock_equal(&s.siblings[i].clock, &clock_a));
        } else if (test_sibling_is(&s.siblings[i], "val16_B")) {
            seen_b++;
            assert_true(vclock_equal(&s.siblings[i].clock, &clock_b));
        }
    }
    assert_int_equal(seen_a, 1);
    assert_int_equal(seen_b, 1);
    json_t *notice = items_state_to_json(&s);
    assert_non_null(notice);
    assert_true(json_is_true(json_object_get(notice, "conflict")));
    assert_int_equal(json_array_size(json_object_get(notice, "siblings")), 2);
    json_decref(notice);

    /* A resolve that has not seen all of B ([2,1,0] vs B's [1,2,0]) is refused. */
    test_clock(&clock_merge, (uint64_t[]){2, 1, 0}, 3);
    items_write partial =
        test_write("val16_A", &clock_merge, test_utc_ms(2024, 5, 18, 12, 40, 0), 1);
    assert_int_equal(items_apply_resolve(&s, &partial, &r), ITEMS_ERR_RESOLVE_NOT_DOMINATING);
    assert_int_equal(r.outcome, ITEMS_REJECTED);
    assert_false(r.changed);
    assert_int_equal(s.sibling_count, 2);
    assert_int_equal(s.version, 2);

    test_clock(&clock_merge, (uint64_t[]){2, 2, 0}, 3);
    items_write merge =
        test_write("val16_Aval16_B", &clock_merge, test_utc_ms(2024, 5, 18, 12, 40, 0), 1);
    assert_int_equal(items_apply_resolve(&s, &merge, &r), ITEMS_OK);
    assert_int_equal(r.outcome, ITEMS_RESOLVED);
    assert_true(r.version_changed);
    assert_false(items_in_conflict(&s));
    assert_int_equal(s.version, 3);
    assert_true(vclock_equal(&s.clock, &clock_merge));
    assert_int_equal(s.sibling_count, 1);
    assert_true(test_sibling_is(items_current(&s), "val16_Aval16_B"));
    assert_true(vclock_equal(&items_current(&s)->clock, &clock_merge));

    /* The late arrivals of A and B are now stale. */
    assert_int_equal(items_apply_write(&s, &a, &r), ITEMS_OK);
    assert_int_equal(r.outcome, ITEMS_STALE);
    assert_int_equal(items_apply_write(&s, &b, &r), ITEMS_OK);
    assert_int_equal(r.outcome, ITEMS_STALE);
    assert_int_equal(s.version, 3);

    items_state_free(&s);
    vclock_free(&clock_a);
    vclock_free(&clock_b);
    vclock_free(&clock_merge);
}

static void test_user_resolution_a_first(void **unused)
{
    (void)unused;
    run_user_resolution(1);
}

static void test_user_resolution_b_first(void **unused)
{
    (void)unused;
    run_user_resolution(0);
}

/*
 * Seed 000, identical clocks: client 1 writes val_client1 with [2,0,0] at
 * 12:34:55, client 2 writes val_client2 with [2,0,0] at 12:34:56; the newer
 * timestamp wins, under either policy and in either order.
 */
static void run_identical_clocks(items_policy policy, int older_first)
{
    items_state s;
    vclock clock;
    vclock_init(&clock);
    assert_int_equal(items_state_init(&s, "item1", policy), ITEMS_OK);
    test_clock(&clock, (uint64_t[]){1, 0, 0}, 3);
    items_write initial = test_write("val1", &clock, test_utc_ms(2024, 5, 18, 12, 0, 0), 1);
    items_result r;
    assert_int_equal(items_apply_write(&s, &initial, &r), ITEMS_OK);

    vclock same;
    vclock_init(&same);
    test_clock(&same, (uint64_t[]){2, 0, 0}, 3);
    uint64_t t55 = test_utc_ms(2024, 5, 18, 12, 34, 55);
    uint64_t t56 = test_utc_ms(2024, 5, 18, 12, 34, 56);
    items_write client1 = test_write("val_client1", &same, t55, 1);
    items_write client2 = test_write("val_client2", &same, t56, 2);

    assert_int_equal(items_apply_write(&s, older_first ? &client1 : &client2, &r), ITEMS_OK);
    assert_int_equal(r.outcome, ITEMS_APPLIED);
    assert_int_equal(r.decided_by, ITEMS_BY_CLOCK);
    assert_int_equal(items_apply_write(&s, older_first ? &client2 : &client1, &r), ITEMS_OK);
    if (older_first) {
        assert_int_equal(r.outcome, ITEMS_APPLIED);
        assert_true(r.version_changed);
    } else {
        assert_int_equal(r.outcome, ITEMS_STALE);
        assert_false(r.changed);
    }
    assert_int_equal(r.decided_by, ITEMS_BY_TIMESTAMP);

    const items_sibling *current = items_current(&s);
    assert_true(test_sibling_is(current, "val_client2"));
    assert_int_equal(current->timestamp_ms, t56);
    assert_int_equal(current->timestamp_ms, 1716035696000u);
    assert_int_equal(s.sibling_count, 1);
    assert_true(vclock_equal(&s.clock, &same));
    /* Version counts accepted values: 2 as in the seed when the winner came
     * first, 3 when the loser had been accepted before it. */
    assert_int_equal(s.version, older_first ? 3 : 2);
    items_state_free(&s);
    vclock_free(&clock);
    vclock_free(&same);
}

static void test_identical_clocks_timestamp_wins(void **unused)
{
    (void)unused;
    run_identical_clocks(ITEMS_POLICY_LWW, 1);
    run_identical_clocks(ITEMS_POLICY_LWW, 0);
    run_identical_clocks(ITEMS_POLICY_MANUAL, 1);
    run_identical_clocks(ITEMS_POLICY_MANUAL, 0);
}

/* Identical clocks and identical timestamps: the larger client id wins. */
static void run_identical_timestamps(items_policy policy, int small_first)
{
    items_state s;
    vclock same;
    vclock_init(&same);
    assert_int_equal(items_state_init(&s, "item1", policy), ITEMS_OK);
    test_clock(&same, (uint64_t[]){2, 0, 0}, 3);
    uint64_t t = test_utc_ms(2024, 5, 18, 12, 34, 56);
    items_write small = test_write("from_client_7", &same, t, 7);
    items_write large = test_write("from_client_4000000000", &same, t, 4000000000u);
    items_result r;
    assert_int_equal(items_apply_write(&s, small_first ? &small : &large, &r), ITEMS_OK);
    assert_int_equal(items_apply_write(&s, small_first ? &large : &small, &r), ITEMS_OK);
    assert_int_equal(r.outcome, small_first ? ITEMS_APPLIED : ITEMS_STALE);
    assert_int_equal(r.decided_by, ITEMS_BY_CLIENT_ID);
    assert_true(test_sibling_is(items_current(&s), "from_client_4000000000"));
    assert_int_equal(s.sibling_count, 1);
    items_state_free(&s);
    vclock_free(&same);
}

static void test_identical_timestamps_client_id_wins(void **unused)
{
    (void)unused;
    run_identical_timestamps(ITEMS_POLICY_LWW, 1);
    run_identical_timestamps(ITEMS_POLICY_LWW, 0);
    run_identical_timestamps(ITEMS_POLICY_MANUAL, 1);
    run_identical_timestamps(ITEMS_POLICY_MANUAL, 0);
}

/* Concurrent clocks with identical timestamps under lww: client id decides. */
static void test_lww_concurrent_same_timestamp(void **unused)
{
    (void)unused;
    for (int order = 0; order < 2; order++) {
        items_state s;
        vclock ca, cb;
        vclock_init(&ca);
        vclock_init(&cb);
        assert_int_equal(items_state_init(&s, "item1", ITEMS_POLICY_LWW), ITEMS_OK);
        test_clock(&ca, (uint64_t[]){2, 0, 0}, 3);
        test_clock(&cb, (uint64_t[]){1, 2, 0}, 3);
        uint64_t t = test_utc_ms(2024, 5, 18, 12, 34, 56);
        items_write a = test_write("val_A", &ca, t, 1);
        items_write b = test_write("val_B", &cb, t, 2);
        items_result r;
        assert_int_equal(items_apply_write(&s, order ? &a : &b, &r), ITEMS_OK);
        assert_int_equal(items_apply_write(&s, order ? &b : &a, &r), ITEMS_OK);
        assert_int_equal(r.outcome, order ? ITEMS_APPLIED : ITEMS_LOST);
        assert_int_equal(r.decided_by, ITEMS_BY_CLIENT_ID);
        assert_true(test_sibling_is(items_current(&s), "val_B"));
        vclock merged;
        vclock_init(&merged);
        test_clock(&merged, (uint64_t[]){2, 2, 0}, 3);
        assert_true(vclock_equal(&s.clock, &merged));
        assert_false(items_in_conflict(&s));
        assert_int_equal(s.version, order ? 2 : 1);
        vclock_free(&merged);
        vclock_free(&ca);
        vclock_free(&cb);
        items_state_free(&s);
    }
}

/*
 * Seed 000's node walk-through: A [2,0,0], then B [2,1,0] (has seen A), then
 * C [2,0,1] (has seen A, not B): B replaces A; C is concurrent with B.
 */
static void test_node_walkthrough(void **unused)
{
    (void)unused;
    items_state s;
    vclock ca, cb, cc;
    vclock_init(&ca);
    vclock_init(&cb);
    vclock_init(&cc);
    assert_int_equal(items_state_init(&s, "item1", ITEMS_POLICY_MANUAL), ITEMS_OK);
    test_clock(&ca, (uint64_t[]){2, 0, 0}, 3);
    test_clock(&cb, (uint64_t[]){2, 1, 0}, 3);
    test_clock(&cc, (uint64_t[]){2, 0, 1}, 3);
    items_write a = test_write("val1_A", &ca, 1000, 1);
    items_write b = test_write("val1_B", &cb, 2000, 2);
    items_write c = test_write("val1_C", &cc, 3000, 3);
    items_result r;
    assert_int_equal(items_apply_write(&s, &a, &r), ITEMS_OK);
    assert_int_equal(items_apply_write(&s, &b, &r), ITEMS_OK);
    assert_int_equal(r.outcome, ITEMS_APPLIED);
    assert_int_equal(s.version, 2);
    assert_true(test_sibling_is(items_current(&s), "val1_B"));
    assert_int_equal(items_apply_write(&s, &c, &r), ITEMS_OK);
    assert_int_equal(r.outcome, ITEMS_CONFLICT);
    assert_int_equal(s.sibling_count, 2);

    /* Under lww the same history settles on C, the later timestamp. */
    assert_true(items_set_policy(&s, ITEMS_POLICY_LWW));
    assert_true(test_sibling_is(items_current(&s), "val1_C"));
    assert_int_equal(s.version, 3);
    items_state_free(&s);
    vclock_free(&ca);
    vclock_free(&cb);
    vclock_free(&cc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_user_resolution_a_first),
        cmocka_unit_test(test_user_resolution_b_first),
        cmocka_unit_test(test_identical_clocks_timestamp_wins),
        cmocka_unit_test(test_identical_timestamps_client_id_wins),
        cmocka_unit_test(test_lww_concurrent_same_timestamp),
        cmocka_unit_test(test_node_walkthrough),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
