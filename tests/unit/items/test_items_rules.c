/*
 * Unit tests of the item rules beyond the seeds: idempotence, stale writes,
 * dominance, sibling bookkeeping, lww ranking with kept concurrent versions,
 * resolves, policy changes, and bad input, which must be refused with the
 * right error and leave the state byte-for-byte as it was.
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

/* Fresh clocks for a test, released together. */
typedef struct clocks {
    vclock c[6];
} clocks;

static void clocks_init(clocks *k)
{
    for (size_t i = 0; i < 6; i++) {
        vclock_init(&k->c[i]);
    }
}

static void clocks_free(clocks *k)
{
    for (size_t i = 0; i < 6; i++) {
        vclock_free(&k->c[i]);
    }
}

static items_result apply(items_state *s, const items_write *w)
{
    items_result r;
    assert_int_equal(items_apply_write(s, w, &r), ITEMS_OK);
    return r;
}

static void test_first_write_and_duplicate(void **unused)
{
    (void)unused;
    for (int p = 0; p < 2; p++) {
        items_state s;
        clocks k;
        clocks_init(&k);
        assert_int_equal(items_state_init(&s, "title", p ? ITEMS_POLICY_LWW : ITEMS_POLICY_MANUAL),
                         ITEMS_OK);
        assert_null(items_current(&s));
        test_clock(&k.c[0], (uint64_t[]){1}, 1);
        items_write w = test_write("hello", &k.c[0], 100, 1);
        items_result r = apply(&s, &w);
        assert_int_equal(r.outcome, ITEMS_APPLIED);
        assert_int_equal(r.decided_by, ITEMS_BY_NONE);
        assert_true(r.changed && r.version_changed);
        assert_int_equal(s.version, 1);
        assert_int_equal(s.revision, 1);
        assert_true(test_sibling_is(items_current(&s), "hello"));

        /* The same write again (a client resend, a Kafka replay) changes nothing. */
        char *before = test_state_text(&s);
        r = apply(&s, &w);
        assert_int_equal(r.outcome, ITEMS_DUPLICATE);
        assert_false(r.changed);
        /* Also when the resend was stamped again: the clock names the write. */
        items_write restamped = test_write("hello", &k.c[0], 999, 1);
        r = apply(&s, &restamped);
        assert_int_equal(r.outcome, ITEMS_DUPLICATE);
        char *after = test_state_text(&s);
        assert_string_equal(before, after);
        free(before);
        free(after);
        items_state_free(&s);
        clocks_free(&k);
    }
}

static void test_dominating_and_stale(void **unused)
{
    (void)unused;
    items_state s;
    clocks k;
    clocks_init(&k);
    assert_int_equal(items_state_init(&s, "status", ITEMS_POLICY_MANUAL), ITEMS_OK);
    test_clock(&k.c[0], (uint64_t[]){1, 0}, 2);
    test_clock(&k.c[1], (uint64_t[]){1, 1}, 2);
    test_clock(&k.c[2], (uint64_t[]){3, 1}, 2);
    items_write w1 = test_write("draft", &k.c[0], 500, 1);
    items_write w2 = test_write("review", &k.c[1], 100, 2); /* older wall clock, newer causally */
    items_write w3 = test_write("done", &k.c[2], 50, 1);
    apply(&s, &w1);
    items_result r = apply(&s, &w2);
    assert_int_equal(r.outcome, ITEMS_APPLIED);
    assert_int_equal(r.decided_by, ITEMS_BY_CLOCK);
    r = apply(&s, &w3);
    assert_int_equal(r.outcome, ITEMS_APPLIED);
    assert_int_equal(s.version, 3);
    assert_true(vclock_equal(&s.clock, &k.c[2]));
    assert_true(vclock_equal(&items_current(&s)->clock, &k.c[2]));

    /* Causality beats timestamps: the late w1 and w2 are stale, whatever their time. */
    char *before = test_state_text(&s);
    items_write late = test_write("draft", &k.c[0], 999999, 1);
    r = apply(&s, &late);
    assert_int_equal(r.outcome, ITEMS_STALE);
    assert_int_equal(r.decided_by, ITEMS_BY_CLOCK);
    assert_false(r.changed);
    r = apply(&s, &w2);
    assert_int_equal(r.outcome, ITEMS_STALE);
    char *after = test_state_text(&s);
    assert_string_equal(before, after);
    free(before);
    free(after);
    items_state_free(&s);
    clocks_free(&k);
}

static void test_manual_siblings(void **unused)
{
    (void)unused;
    items_state s;
    clocks k;
    clocks_init(&k);
    assert_int_equal(items_state_init(&s, "owner", ITEMS_POLICY_MANUAL), ITEMS_OK);
    test_clock(&k.c[0], (uint64_t[]){1, 0, 0}, 3);
    test_clock(&k.c[1], (uint64_t[]){0, 1, 0}, 3);
    test_clock(&k.c[2], (uint64_t[]){0, 0, 1}, 3);
    test_clock(&k.c[3], (uint64_t[]){2, 1, 0}, 3); /* has seen the first two only */
    test_clock(&k.c[4], (uint64_t[]){2, 1, 2}, 3); /* has seen all */
    items_write a = test_write("ann", &k.c[0], 10, 1);
    items_write b = test_write("bob", &k.c[1], 10, 2);
    items_write c = test_write("cid", &k.c[2], 10, 3);
    items_write ab = test_write("ann+bob", &k.c[3], 5, 1);
    items_write all = test_write("everyone", &k.c[4], 1, 3);

    assert_int_equal(apply(&s, &a).outcome, ITEMS_APPLIED);
    assert_int_equal(apply(&s, &b).outcome, ITEMS_CONFLICT);
    items_result r = apply(&s, &c);
    assert_int_equal(r.outcome, ITEMS_CONFLICT);
    assert_int_equal(s.sibling_count, 3);
    assert_int_equal(s.version, 1);
    /* A duplicate of a sibling changes nothing. */
    assert_int_equal(apply(&s, &b).outcome, ITEMS_DUPLICATE);
    assert_int_equal(s.sibling_count, 3);

    /* ab dominates a and b, not c: those two go, c stays beside ab. */
    r = apply(&s, &ab);
    assert_int_equal(r.outcome, ITEMS_CONFLICT);
    assert_int_equal(s.sibling_count, 2);
    assert_true(test_sibling_is(&s.siblings[0], "ann+bob") ||
                test_sibling_is(&s.siblings[1], "ann+bob"));
    assert_true(test_sibling_is(&s.siblings[0], "cid") || test_sibling_is(&s.siblings[1], "cid"));
    /* Siblings are kept in canonical clock order. */
    assert_true(vclock_canonical_cmp(&s.siblings[0].clock, &s.siblings[1].clock) < 0);
    vclock expected;
    vclock_init(&expected);
    test_clock(&expected, (uint64_t[]){2, 1, 1}, 3);
    assert_true(vclock_equal(&s.clock, &expected));
    vclock_free(&expected);

    /* A write that has seen everything settles it, like a resolve. */
    r = apply(&s, &all);
    assert_int_equal(r.outcome, ITEMS_APPLIED);
    assert_true(r.version_changed);
    assert_int_equal(s.version, 2);
    assert_int_equal(s.sibling_count, 1);
    assert_false(items_in_conflict(&s));
    items_state_free(&s);
    clocks_free(&k);
}

/* Two users setting the same value concurrently do not disagree. */
static void test_manual_same_value_is_no_conflict(void **unused)
{
    (void)unused;
    items_state s;
    clocks k;
    clocks_init(&k);
    assert_int_equal(items_state_init(&s, "status", ITEMS_POLICY_MANUAL), ITEMS_OK);
    test_clock(&k.c[0], (uint64_t[]){1, 0}, 2);
    test_clock(&k.c[1], (uint64_t[]){0, 1}, 2);
    items_write a = test_write("done", &k.c[0], 10, 1);
    items_write b = test_write("done", &k.c[1], 20, 2);
    apply(&s, &a);
    items_result r = apply(&s, &b);
    assert_int_equal(r.outcome, ITEMS_APPLIED);
    assert_false(items_in_conflict(&s));
    assert_int_equal(s.sibling_count, 2);
    assert_true(test_sibling_is(items_current(&s), "done"));
    assert_int_equal(items_current(&s)->timestamp_ms, 20);
    items_state_free(&s);
    clocks_free(&k);
}

static void test_lww_ranking(void **unused)
{
    (void)unused;
    items_state s;
    clocks k;
    clocks_init(&k);
    assert_int_equal(items_state_init(&s, "color", ITEMS_POLICY_LWW), ITEMS_OK);
    test_clock(&k.c[0], (uint64_t[]){1, 0}, 2);
    test_clock(&k.c[1], (uint64_t[]){0, 1}, 2);
    items_write red = test_write("red", &k.c[0], 2000, 1);
    items_write blue = test_write("blue", &k.c[1], 1000, 2);
    apply(&s, &red);
    items_result r = apply(&s, &blue);
    assert_int_equal(r.outcome, ITEMS_LOST);
    assert_int_equal(r.decided_by, ITEMS_BY_TIMESTAMP);
    assert_true(r.changed);
    assert_false(r.version_changed);
    assert_int_equal(s.version, 1);
    assert_int_equal(s.revision, 2);
    assert_true(test_sibling_is(items_current(&s), "red"));
    assert_false(items_in_conflict(&s));
    vclock merged;
    vclock_init(&merged);
    test_clock(&merged, (uint64_t[]){1, 1}, 2);
    assert_true(vclock_equal(&s.clock, &merged));
    vclock_free(&merged);

    /* Equal clocks, different values: the later timestamp replaces in place. */
    items_write green = test_write("green", &k.c[1], 3000, 3);
    r = apply(&s, &green);
    assert_int_equal(r.outcome, ITEMS_APPLIED);
    assert_int_equal(r.decided_by, ITEMS_BY_TIMESTAMP);
    assert_true(test_sibling_is(items_current(&s), "green"));
    assert_int_equal(s.sibling_count, 2);
    items_state_free(&s);
    clocks_free(&k);
}

/*
 * Why lww keeps the losing concurrent version: red (ts 10) beats blue (ts 5);
 * then red's client writes again (ts 1, a slow clock) having seen only red.
 * That write supersedes red but not blue, and blue ranks higher. Collapsing to
 * red at the first step would end on the new write in one order and on blue in
 * another.
 */
static void test_lww_kept_version_decides_later(void **unused)
{
    (void)unused;
    for (int order = 0; order < 2; order++) {
        items_state s;
        clocks k;
        clocks_init(&k);
        assert_int_equal(items_state_init(&s, "color", ITEMS_POLICY_LWW), ITEMS_OK);
        test_clock(&k.c[0], (uint64_t[]){1, 0}, 2);
        test_clock(&k.c[1], (uint64_t[]){0, 1}, 2);
        test_clock(&k.c[2], (uint64_t[]){2, 0}, 2);
        items_write red = test_write("red", &k.c[0], 10, 1);
        items_write blue = test_write("blue", &k.c[1], 5, 2);
        items_write again = test_write("crimson", &k.c[2], 1, 1);
        if (order == 0) {
            apply(&s, &red);
            apply(&s, &blue);
            items_result r = apply(&s, &again);
            assert_int_equal(r.outcome, ITEMS_LOST);
            /* red went; blue is now shown: a new settled value. */
            assert_true(r.version_changed);
        } else {
            apply(&s, &again);
            assert_int_equal(apply(&s, &red).outcome, ITEMS_STALE);
            assert_int_equal(apply(&s, &blue).outcome, ITEMS_APPLIED);
        }
        assert_true(test_sibling_is(items_current(&s), "blue"));
        assert_int_equal(s.sibling_count, 2);
        items_state_free(&s);
        clocks_free(&k);
    }
}

static void test_resolve_rules(void **unused)
{
    (void)unused;
    items_state s;
    clocks k;
    clocks_init(&k);
    assert_int_equal(items_state_init(&s, "plan", ITEMS_POLICY_MANUAL), ITEMS_OK);
    test_clock(&k.c[0], (uint64_t[]){1, 0}, 2);
    test_clock(&k.c[1], (uint64_t[]){0, 1}, 2);
    test_clock(&k.c[2], (uint64_t[]){1, 1}, 2);
    items_write a = test_write("a", &k.c[0], 1, 1);
    items_write b = test_write("b", &k.c[1], 1, 2);
    items_write pick_a = test_write("a", &k.c[2], 9, 1); /* option 1 of the seed */

    items_result r;
    assert_int_equal(items_apply_resolve(&s, &pick_a, &r), ITEMS_ERR_NOTHING_TO_RESOLVE);
    assert_int_equal(r.outcome, ITEMS_REJECTED);
    assert_int_equal(r.error, ITEMS_ERR_NOTHING_TO_RESOLVE);
    apply(&s, &a);
    apply(&s, &b);
    assert_true(items_in_conflict(&s));
    assert_int_equal(items_apply_resolve(&s, &pick_a, &r), ITEMS_OK);
    assert_int_equal(r.outcome, ITEMS_RESOLVED);
    assert_int_equal(s.version, 2);
    assert_true(test_sibling_is(items_current(&s), "a"));
    assert_int_equal(items_current(&s)->timestamp_ms, 9);

    /* The same resolve again (resend) is a duplicate; a rival resolve over the
     * same siblings no longer dominates and is refused. */
    assert_int_equal(items_apply_resolve(&s, &pick_a, &r), ITEMS_OK);
    assert_int_equal(r.outcome, ITEMS_DUPLICATE);
    items_write pick_b = test_write("b", &k.c[2], 10, 2);
    char *before = test_state_text(&s);
    assert_int_equal(items_apply_resolve(&s, &pick_b, &r), ITEMS_ERR_RESOLVE_NOT_DOMINATING);
    assert_string_equal(items_strerror(r.error),
                        "resolve clock does not dominate every sibling (it has not seen them all)");
    char *after = test_state_text(&s);
    assert_string_equal(before, after);
    free(before);
    free(after);
    assert_int_equal(s.version, 2);
    items_state_free(&s);
    clocks_free(&k);
}

static void test_policy_change(void **unused)
{
    (void)unused;
    items_state s;
    clocks k;
    clocks_init(&k);
    assert_int_equal(items_state_init(&s, "theme", ITEMS_POLICY_MANUAL), ITEMS_OK);
    test_clock(&k.c[0], (uint64_t[]){1, 0}, 2);
    test_clock(&k.c[1], (uint64_t[]){0, 1}, 2);
    items_write a = test_write("dark", &k.c[0], 7, 1);
    items_write b = test_write("light", &k.c[1], 8, 2);
    apply(&s, &a);
    apply(&s, &b);
    assert_true(items_in_conflict(&s));
    uint64_t revision = s.revision;
    assert_false(items_set_policy(&s, ITEMS_POLICY_MANUAL));
    assert_int_equal(s.revision, revision);
    assert_true(items_set_policy(&s, ITEMS_POLICY_LWW));
    assert_false(items_in_conflict(&s));
    assert_true(test_sibling_is(items_current(&s), "light"));
    assert_int_equal(s.version, 2);
    assert_true(items_set_policy(&s, ITEMS_POLICY_MANUAL));
    assert_true(items_in_conflict(&s));
    assert_int_equal(s.version, 2);
    assert_int_equal(s.revision, revision + 2);

    items_policy policy;
    assert_true(items_policy_from_name("lww", &policy));
    assert_int_equal(policy, ITEMS_POLICY_LWW);
    assert_true(items_policy_from_name("manual", &policy));
    assert_int_equal(policy, ITEMS_POLICY_MANUAL);
    assert_false(items_policy_from_name("LWW", &policy));
    assert_false(items_policy_from_name(NULL, &policy));
    items_state_free(&s);
    clocks_free(&k);
}

static void test_bad_item_ids(void **unused)
{
    (void)unused;
    items_state s;
    assert_int_equal(items_state_init(&s, "", ITEMS_POLICY_MANUAL), ITEMS_ERR_ITEM_ID_EMPTY);
    assert_int_equal(items_state_init(&s, NULL, ITEMS_POLICY_MANUAL), ITEMS_ERR_ARGUMENT);
    char long_id[ITEMS_MAX_ID_BYTES + 2];
    memset(long_id, 'x', sizeof(long_id) - 1);
    long_id[sizeof(long_id) - 1] = '\0';
    assert_int_equal(items_state_init(&s, long_id, ITEMS_POLICY_MANUAL),
                     ITEMS_ERR_ITEM_ID_TOO_LONG);
    long_id[ITEMS_MAX_ID_BYTES] = '\0';
    assert_int_equal(items_state_init(&s, long_id, ITEMS_POLICY_MANUAL), ITEMS_OK);
    items_state_free(&s);

    const char *invalid[] = {
        "tab\there",
        "nl\n",
        "del\x7f",
        "\xc3",
        "\xc0\xaf",         /* overlong '/' */
        "\xed\xa0\x80",     /* surrogate */
        "\xf4\x90\x80\x80", /* above U+10FFFF */
        "\xc2\x85",         /* C1 control NEL */
        "\xff",
    };
    for (size_t i = 0; i < sizeof(invalid) / sizeof(invalid[0]); i++) {
        assert_int_equal(items_check_item_id(invalid[i]), ITEMS_ERR_ITEM_ID_INVALID);
    }
    assert_int_equal(items_check_item_id("température:ü/€/😀"), ITEMS_OK);
}

/* Every refusal leaves the state exactly as it was. */
static void expect_rejected(items_state *s, const items_write *w, items_error expected)
{
    char *before = test_state_text(s);
    items_result r;
    assert_int_equal(items_apply_write(s, w, &r), expected);
    assert_int_equal(r.outcome, ITEMS_REJECTED);
    assert_int_equal(r.error, expected);
    assert_false(r.changed);
    char *after = test_state_text(s);
    assert_string_equal(before, after);
    free(before);
    free(after);
}

static void test_bad_writes(void **unused)
{
    (void)unused;
    items_state s;
    clocks k;
    clocks_init(&k);
    assert_int_equal(items_state_init(&s, "blob", ITEMS_POLICY_MANUAL), ITEMS_OK);
    test_clock(&k.c[0], (uint64_t[]){1}, 1);
    items_write ok = test_write("v", &k.c[0], 1, 1);
    apply(&s, &ok);

    test_clock(&k.c[1], (uint64_t[]){2}, 1);
    uint8_t *big = calloc(1, ITEMS_MAX_VALUE_BYTES + 1);
    assert_non_null(big);
    items_write w = {big, ITEMS_MAX_VALUE_BYTES + 1, &k.c[1], 2, 1};
    expect_rejected(&s, &w, ITEMS_ERR_VALUE_TOO_LARGE);
    w.value_len = ITEMS_MAX_VALUE_BYTES;
    assert_int_equal(apply(&s, &w).outcome, ITEMS_APPLIED);
    free(big);

    items_write no_value = {NULL, 3, &k.c[1], 2, 1};
    expect_rejected(&s, &no_value, ITEMS_ERR_ARGUMENT);
    vclock empty;
    vclock_init(&empty);
    items_write no_clock = test_write("v", &empty, 2, 1);
    expect_rejected(&s, &no_clock, ITEMS_ERR_CLOCK_EMPTY);
    no_clock.clock = NULL;
    expect_rejected(&s, &no_clock, ITEMS_ERR_CLOCK_EMPTY);

    /* Hand-built clocks that no decoder would produce. */
    vclock_entry unsorted_entries[] = {{5, 1}, {2, 1}};
    vclock unsorted = {unsorted_entries, 2, 2};
    items_write bad_clock = test_write("v", &unsorted, 2, 1);
    expect_rejected(&s, &bad_clock, ITEMS_ERR_CLOCK_INVALID);
    vclock_entry zero_entries[] = {{5, 0}};
    vclock zero = {zero_entries, 1, 1};
    bad_clock.clock = &zero;
    expect_rejected(&s, &bad_clock, ITEMS_ERR_CLOCK_INVALID);
    vclock_entry *many = calloc(VCLOCK_MAX_ENTRIES + 1, sizeof(*many));
    assert_non_null(many);
    for (size_t i = 0; i <= VCLOCK_MAX_ENTRIES; i++) {
        many[i].client_id = i + 1;
        many[i].counter = 1;
    }
    vclock oversized = {many, VCLOCK_MAX_ENTRIES + 1, VCLOCK_MAX_ENTRIES + 1};
    bad_clock.clock = &oversized;
    expect_rejected(&s, &bad_clock, ITEMS_ERR_CLOCK_TOO_LARGE);
    assert_int_equal(items_apply_resolve(&s, &bad_clock, &(items_result){0}),
                     ITEMS_ERR_CLOCK_TOO_LARGE);
    free(many);

    items_write late = test_write("v", &k.c[1], VCLOCK_INT_MAX + 1, 1);
    expect_rejected(&s, &late, ITEMS_ERR_RANGE);
    late = test_write("v", &k.c[1], 1, VCLOCK_INT_MAX + 1);
    expect_rejected(&s, &late, ITEMS_ERR_RANGE);
    items_state_free(&s);
    clocks_free(&k);
}

/* Two concurrent versions whose clocks together exceed the entry limit: the
 * second is refused, since no resolve could ever dominate both. */
static void test_merged_clock_limit(void **unused)
{
    (void)unused;
    items_state s;
    clocks k;
    clocks_init(&k);
    assert_int_equal(items_state_init(&s, "wide", ITEMS_POLICY_MANUAL), ITEMS_OK);
    for (uint64_t i = 0; i < 600; i++) {
        assert_int_equal(vclock_set(&k.c[0], 1 + i, 1), VCLOCK_OK);
        assert_int_equal(vclock_set(&k.c[1], 10001 + i, 1), VCLOCK_OK);
    }
    items_write a = test_write("a", &k.c[0], 1, 1);
    items_write b = test_write("b", &k.c[1], 1, 10001);
    apply(&s, &a);
    expect_rejected(&s, &b, ITEMS_ERR_CLOCK_TOO_LARGE);
    items_state_free(&s);
    clocks_free(&k);
}

static void test_sibling_limit(void **unused)
{
    (void)unused;
    items_state s;
    assert_int_equal(items_state_init(&s, "crowded", ITEMS_POLICY_MANUAL), ITEMS_OK);
    vclock c;
    vclock_init(&c);
    for (uint64_t client = 1; client <= ITEMS_MAX_SIBLINGS + 1; client++) {
        assert_int_equal(vclock_set(&c, client - 1, 0), VCLOCK_OK);
        assert_int_equal(vclock_set(&c, client, 1), VCLOCK_OK);
        char value[16];
        snprintf(value, sizeof(value), "v%u", (unsigned)client);
        items_write w = test_write(value, &c, 1, client);
        if (client <= ITEMS_MAX_SIBLINGS) {
            assert_int_equal(apply(&s, &w).outcome, client == 1 ? ITEMS_APPLIED : ITEMS_CONFLICT);
        } else {
            expect_rejected(&s, &w, ITEMS_ERR_TOO_MANY_SIBLINGS);
        }
    }
    assert_int_equal(s.sibling_count, ITEMS_MAX_SIBLINGS);
    /* Resolving still works at the limit. */
    vclock all;
    vclock_init(&all);
    assert_int_equal(vclock_copy(&all, &s.clock), VCLOCK_OK);
    assert_int_equal(vclock_increment(&all, 1), VCLOCK_OK);
    items_write resolve = test_write("agreed", &all, 2, 1);
    items_result r;
    assert_int_equal(items_apply_resolve(&s, &resolve, &r), ITEMS_OK);
    assert_int_equal(s.sibling_count, 1);
    vclock_free(&all);
    vclock_free(&c);
    items_state_free(&s);
}

static void test_names(void **unused)
{
    (void)unused;
    assert_string_equal(items_outcome_name(ITEMS_CONFLICT), "conflict");
    assert_string_equal(items_outcome_name(ITEMS_LOST), "lost");
    assert_string_equal(items_decided_by_name(ITEMS_BY_CLIENT_ID), "client_id");
    assert_string_equal(items_policy_name(ITEMS_POLICY_LWW), "lww");
    for (int e = ITEMS_OK; e <= ITEMS_ERR_BAD_JSON; e++) {
        assert_string_not_equal(items_strerror((items_error)e), "unknown items error");
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_first_write_and_duplicate),
        cmocka_unit_test(test_dominating_and_stale),
        cmocka_unit_test(test_manual_siblings),
        cmocka_unit_test(test_manual_same_value_is_no_conflict),
        cmocka_unit_test(test_lww_ranking),
        cmocka_unit_test(test_lww_kept_version_decides_later),
        cmocka_unit_test(test_resolve_rules),
        cmocka_unit_test(test_policy_change),
        cmocka_unit_test(test_bad_item_ids),
        cmocka_unit_test(test_bad_writes),
        cmocka_unit_test(test_merged_clock_limit),
        cmocka_unit_test(test_sibling_limit),
        cmocka_unit_test(test_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
