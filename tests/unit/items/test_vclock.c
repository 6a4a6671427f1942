/*
 * Unit tests of processor/vclock: comparison, merge, increment, limits, and
 * both serialised forms, including every way hostile input is refused (with
 * the target clock left untouched).
 */
#include "processor/vclock.h"
#include "tests/unit/items/items_test_util.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static void test_compare_four_relations(void **unused)
{
    (void)unused;
    vclock a, b;
    vclock_init(&a);
    vclock_init(&b);
    assert_int_equal(vclock_compare(&a, &b), VCLOCK_EQUAL);

    test_clock(&a, (uint64_t[]){2, 0, 0}, 3);
    test_clock(&b, (uint64_t[]){2, 0, 0}, 3);
    assert_int_equal(vclock_compare(&a, &b), VCLOCK_EQUAL);

    test_clock(&b, (uint64_t[]){2, 1, 0}, 3);
    assert_int_equal(vclock_compare(&a, &b), VCLOCK_BEFORE);
    assert_int_equal(vclock_compare(&b, &a), VCLOCK_AFTER);
    assert_true(vclock_dominates(&b, &a));
    assert_false(vclock_dominates(&a, &b));

    /* The seeds: A [2,0,0] and B [1,2,0] are concurrent. */
    test_clock(&b, (uint64_t[]){1, 2, 0}, 3);
    assert_int_equal(vclock_compare(&a, &b), VCLOCK_CONCURRENT);
    assert_int_equal(vclock_compare(&b, &a), VCLOCK_CONCURRENT);

    /* A client only one side knows counts as ahead on that side. */
    test_clock(&a, (uint64_t[]){1}, 1);
    test_clock(&b, (uint64_t[]){0, 0, 0, 5}, 4);
    assert_int_equal(vclock_compare(&a, &b), VCLOCK_CONCURRENT);
    vclock empty;
    vclock_init(&empty);
    assert_int_equal(vclock_compare(&empty, &b), VCLOCK_BEFORE);
    assert_int_equal(vclock_compare(&b, &empty), VCLOCK_AFTER);
    vclock_free(&a);
    vclock_free(&b);
}

static void test_set_get_increment(void **unused)
{
    (void)unused;
    vclock c;
    vclock_init(&c);
    uint64_t clients[] = {900, 3, 4294967295u, 17, 0, 64};
    for (size_t i = 0; i < 6; i++) {
        assert_int_equal(vclock_set(&c, clients[i], i + 1), VCLOCK_OK);
    }
    assert_int_equal(c.count, 6);
    for (size_t i = 1; i < c.count; i++) {
        assert_true(c.entries[i - 1].client_id < c.entries[i].client_id);
    }
    assert_int_equal(vclock_get(&c, 4294967295u), 3);
    assert_int_equal(vclock_get(&c, 0), 5);
    assert_int_equal(vclock_get(&c, 5), 0);

    assert_int_equal(vclock_increment(&c, 5), VCLOCK_OK);
    assert_int_equal(vclock_increment(&c, 5), VCLOCK_OK);
    assert_int_equal(vclock_get(&c, 5), 2);

    /* Setting 0 removes the entry: a missing entry means 0. */
    assert_int_equal(vclock_set(&c, 17, 0), VCLOCK_OK);
    assert_int_equal(vclock_get(&c, 17), 0);
    assert_int_equal(c.count, 6);

    assert_int_equal(vclock_set(&c, 8, VCLOCK_INT_MAX), VCLOCK_OK);
    assert_int_equal(vclock_increment(&c, 8), VCLOCK_ERR_RANGE);
    assert_int_equal(vclock_get(&c, 8), VCLOCK_INT_MAX);
    assert_int_equal(vclock_set(&c, 8, VCLOCK_INT_MAX + 1), VCLOCK_ERR_RANGE);
    assert_int_equal(vclock_set(&c, VCLOCK_INT_MAX + 1, 1), VCLOCK_ERR_RANGE);
    vclock_free(&c);
}

static void test_merge_is_pointwise_max(void **unused)
{
    (void)unused;
    vclock a, b, expected;
    vclock_init(&a);
    vclock_init(&b);
    vclock_init(&expected);
    test_clock(&a, (uint64_t[]){2, 0, 0, 7}, 4);
    test_clock(&b, (uint64_t[]){1, 2, 0, 3, 1}, 5);
    test_clock(&expected, (uint64_t[]){2, 2, 0, 7, 1}, 5);
    assert_int_equal(vclock_merge(&a, &b), VCLOCK_OK);
    assert_true(vclock_equal(&a, &expected));
    /* Idempotent and absorbing. */
    assert_int_equal(vclock_merge(&a, &b), VCLOCK_OK);
    assert_int_equal(vclock_merge(&a, &a), VCLOCK_OK);
    assert_true(vclock_equal(&a, &expected));
    /* Commutative. */
    assert_int_equal(vclock_merge(&b, &a), VCLOCK_OK);
    assert_true(vclock_equal(&b, &expected));
    vclock_free(&a);
    vclock_free(&b);
    vclock_free(&expected);
}

static void test_dominates_all(void **unused)
{
    (void)unused;
    vclock a, b, r;
    vclock_init(&a);
    vclock_init(&b);
    vclock_init(&r);
    test_clock(&a, (uint64_t[]){2, 0, 0}, 3);
    test_clock(&b, (uint64_t[]){1, 2, 0}, 3);
    test_clock(&r, (uint64_t[]){2, 2, 0}, 3);
    const vclock *both[] = {&a, &b};
    assert_true(vclock_dominates_all(&r, both, 2));
    assert_true(vclock_dominates_all(&r, both, 0));
    test_clock(&r, (uint64_t[]){2, 1, 5}, 3);
    assert_false(vclock_dominates_all(&r, both, 2));
    /* Equal is not dominating. */
    test_clock(&r, (uint64_t[]){2, 0, 0}, 3);
    assert_false(vclock_dominates_all(&r, both, 1));
    vclock_free(&a);
    vclock_free(&b);
    vclock_free(&r);
}

static void fill_clock(vclock *c, uint64_t first_client, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        assert_int_equal(vclock_set(c, first_client + i, 1), VCLOCK_OK);
    }
}

static void test_entry_limit(void **unused)
{
    (void)unused;
    vclock a, b;
    vclock_init(&a);
    vclock_init(&b);
    fill_clock(&a, 1, VCLOCK_MAX_ENTRIES);
    assert_int_equal(vclock_set(&a, 5000, 1), VCLOCK_ERR_TOO_MANY);
    assert_int_equal(vclock_increment(&a, 5000), VCLOCK_ERR_TOO_MANY);
    assert_int_equal(a.count, VCLOCK_MAX_ENTRIES);
    /* Existing entries still change. */
    assert_int_equal(vclock_increment(&a, 1), VCLOCK_OK);

    fill_clock(&b, VCLOCK_MAX_ENTRIES, 2); /* one shared client, one new */
    assert_int_equal(vclock_merge(&a, &b), VCLOCK_ERR_TOO_MANY);
    assert_int_equal(a.count, VCLOCK_MAX_ENTRIES);
    assert_int_equal(vclock_get(&a, VCLOCK_MAX_ENTRIES + 1), 0);
    vclock_free(&a);
    vclock_free(&b);
}

static void test_from_entries(void **unused)
{
    (void)unused;
    vclock c, expected;
    vclock_init(&c);
    vclock_init(&expected);
    const vclock_entry shuffled[] = {{3, 1}, {1, 2}, {9, 0}, {2, 2}};
    assert_int_equal(vclock_from_entries(&c, shuffled, 4), VCLOCK_OK);
    test_clock(&expected, (uint64_t[]){2, 2, 1}, 3);
    assert_true(vclock_equal(&c, &expected));

    const vclock_entry repeated[] = {{1, 1}, {4, 1}, {1, 5}};
    assert_int_equal(vclock_from_entries(&c, repeated, 3), VCLOCK_ERR_DUPLICATE);
    assert_true(vclock_equal(&c, &expected)); /* unchanged */
    const vclock_entry too_big[] = {{1, VCLOCK_INT_MAX + 1}};
    assert_int_equal(vclock_from_entries(&c, too_big, 1), VCLOCK_ERR_RANGE);
    assert_true(vclock_equal(&c, &expected));

    vclock_entry *many = calloc(VCLOCK_MAX_ENTRIES + 1, sizeof(*many));
    assert_non_null(many);
    for (size_t i = 0; i <= VCLOCK_MAX_ENTRIES; i++) {
        many[i].client_id = VCLOCK_MAX_ENTRIES + 1 - i; /* descending */
        many[i].counter = 1;
    }
    assert_int_equal(vclock_from_entries(&c, many, VCLOCK_MAX_ENTRIES + 1), VCLOCK_ERR_TOO_MANY);
    assert_int_equal(vclock_from_entries(&c, many, VCLOCK_MAX_ENTRIES), VCLOCK_OK);
    assert_int_equal(c.count, VCLOCK_MAX_ENTRIES);
    assert_int_equal(c.entries[0].client_id, 2);
    free(many);

    assert_int_equal(vclock_from_entries(&c, NULL, 0), VCLOCK_OK);
    assert_int_equal(c.count, 0);
    vclock_free(&c);
    vclock_free(&expected);
}

static void test_copy(void **unused)
{
    (void)unused;
    vclock a, b;
    vclock_init(&a);
    vclock_init(&b);
    test_clock(&a, (uint64_t[]){4, 0, 9}, 3);
    test_clock(&b, (uint64_t[]){1, 1, 1, 1}, 4);
    assert_int_equal(vclock_copy(&b, &a), VCLOCK_OK);
    assert_true(vclock_equal(&a, &b));
    assert_int_equal(vclock_increment(&b, 1), VCLOCK_OK);
    assert_int_equal(vclock_get(&a, 1), 4); /* deep copy */
    vclock_free(&a);
    vclock_free(&b);
}

static void test_binary_known_bytes(void **unused)
{
    (void)unused;
    vclock c;
    vclock_init(&c);
    assert_int_equal(vclock_set(&c, 300, 1), VCLOCK_OK);
    assert_int_equal(vclock_set(&c, 1, 2), VCLOCK_OK);
    /* count 2; client 1, counter 2; client 300 = 0xac 0x02, counter 1 */
    const uint8_t expected[] = {0x02, 0x01, 0x02, 0xac, 0x02, 0x01};
    uint8_t out[16];
    size_t written = 0;
    assert_int_equal(vclock_encoded_size(&c), sizeof(expected));
    assert_int_equal(vclock_encode(&c, out, sizeof(out), &written), VCLOCK_OK);
    assert_int_equal(written, sizeof(expected));
    assert_memory_equal(out, expected, sizeof(expected));
    assert_int_equal(vclock_encode(&c, out, sizeof(expected) - 1, &written), VCLOCK_ERR_BUFFER);

    vclock empty;
    vclock_init(&empty);
    assert_int_equal(vclock_encode(&empty, out, sizeof(out), &written), VCLOCK_OK);
    assert_int_equal(written, 1);
    assert_int_equal(out[0], 0);
    vclock_free(&c);
}

/* A small deterministic generator, so a failure can be replayed. */
static uint64_t next_random(uint64_t *state)
{
    *state += 0x9e3779b97f4a7c15u;
    uint64_t z = *state;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

static void test_binary_round_trip(void **unused)
{
    (void)unused;
    uint64_t seed = 42;
    for (int round = 0; round < 200; round++) {
        vclock c, back;
        vclock_init(&c);
        vclock_init(&back);
        size_t entries = (size_t)(next_random(&seed) % 40);
        for (size_t i = 0; i < entries; i++) {
            uint64_t client = next_random(&seed) % (round % 2 ? 0xffffffffu : VCLOCK_INT_MAX);
            uint64_t counter = 1 + next_random(&seed) % (round % 3 ? 1000 : VCLOCK_INT_MAX);
            assert_int_equal(vclock_set(&c, client, counter), VCLOCK_OK);
        }
        size_t size = vclock_encoded_size(&c);
        uint8_t *buffer = malloc(size + 3);
        assert_non_null(buffer);
        size_t written;
        assert_int_equal(vclock_encode(&c, buffer, size, &written), VCLOCK_OK);
        assert_int_equal(written, size);
        assert_int_equal(vclock_decode(&back, buffer, size, NULL), VCLOCK_OK);
        assert_true(vclock_equal(&c, &back));

        /* Embedded in a larger record: consumed tells where the clock ends. */
        memset(buffer + size, 0xee, 3);
        size_t consumed = 0;
        assert_int_equal(vclock_decode(&back, buffer, size + 3, &consumed), VCLOCK_OK);
        assert_int_equal(consumed, size);
        assert_true(vclock_equal(&c, &back));
        assert_int_equal(vclock_decode(&back, buffer, size + 3, NULL), VCLOCK_ERR_TRAILING);

        /* Every strict prefix is truncated. */
        for (size_t cut = 0; cut < size; cut++) {
            vclock_status status = vclock_decode(&back, buffer, cut, NULL);
            assert_int_equal(status, VCLOCK_ERR_TRUNCATED);
        }
        free(buffer);
        vclock_free(&c);
        vclock_free(&back);
    }
}

static void expect_decode_error(const uint8_t *bytes, size_t len, vclock_status expected)
{
    vclock c;
    vclock_init(&c);
    assert_int_equal(vclock_set(&c, 77, 7), VCLOCK_OK);
    assert_int_equal(vclock_decode(&c, bytes, len, NULL), expected);
    /* The target is untouched. */
    assert_int_equal(c.count, 1);
    assert_int_equal(vclock_get(&c, 77), 7);
    assert_non_null(vclock_strerror(expected));
    vclock_free(&c);
}

static void test_binary_rejects_non_canonical(void **unused)
{
    (void)unused;
    /* unsorted: client 5 then client 2 */
    expect_decode_error((const uint8_t[]){2, 5, 1, 2, 1}, 5, VCLOCK_ERR_NOT_CANONICAL);
    /* duplicate client */
    expect_decode_error((const uint8_t[]){2, 5, 1, 5, 2}, 5, VCLOCK_ERR_NOT_CANONICAL);
    /* zero counter */
    expect_decode_error((const uint8_t[]){1, 5, 0}, 3, VCLOCK_ERR_NOT_CANONICAL);
    /* overlong varint: 0x81 0x00 is 1 with a padding byte */
    expect_decode_error((const uint8_t[]){1, 0x81, 0x00, 1}, 4, VCLOCK_ERR_NOT_CANONICAL);
    /* counter 2^53: bytes 0x80 x7, 0x10 */
    expect_decode_error((const uint8_t[]){1, 1, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x10}, 10,
                        VCLOCK_ERR_RANGE);
    /* a varint that never ends within 8 bytes */
    expect_decode_error((const uint8_t[]){1, 1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1},
                        11, VCLOCK_ERR_RANGE);
    /* 1025 entries announced: refused before reading or allocating them */
    expect_decode_error((const uint8_t[]){0x81, 0x08}, 2, VCLOCK_ERR_TOO_MANY);
    /* an absurd count */
    expect_decode_error((const uint8_t[]){0xff, 0xff, 0xff, 0xff, 0x0f}, 5, VCLOCK_ERR_TOO_MANY);
    /* count says 3, bytes for one */
    expect_decode_error((const uint8_t[]){3, 1, 1}, 3, VCLOCK_ERR_TRUNCATED);
    expect_decode_error((const uint8_t[]){0}, 0, VCLOCK_ERR_TRUNCATED);
    expect_decode_error((const uint8_t[]){0, 0}, 2, VCLOCK_ERR_TRAILING);
}

static void test_binary_accepts_limit(void **unused)
{
    (void)unused;
    vclock c, back;
    vclock_init(&c);
    vclock_init(&back);
    fill_clock(&c, 1000, VCLOCK_MAX_ENTRIES);
    size_t size = vclock_encoded_size(&c);
    uint8_t *buffer = malloc(size);
    assert_non_null(buffer);
    size_t written;
    assert_int_equal(vclock_encode(&c, buffer, size, &written), VCLOCK_OK);
    assert_int_equal(vclock_decode(&back, buffer, written, NULL), VCLOCK_OK);
    assert_true(vclock_equal(&c, &back));
    free(buffer);
    vclock_free(&c);
    vclock_free(&back);
}

static char *dump(const json_t *json)
{
    char *text = json_dumps(json, JSON_COMPACT);
    assert_non_null(text);
    return text;
}

static void test_json_canonical_form(void **unused)
{
    (void)unused;
    vclock c, back;
    vclock_init(&c);
    vclock_init(&back);
    assert_int_equal(vclock_set(&c, 10, 3), VCLOCK_OK);
    assert_int_equal(vclock_set(&c, 2, 1), VCLOCK_OK);
    assert_int_equal(vclock_set(&c, 4294967295u, 9007199254740991u), VCLOCK_OK);
    json_t *json = vclock_to_json(&c);
    assert_non_null(json);
    char *text = dump(json);
    /* Numeric client order, not text order ("10" < "2"). */
    assert_string_equal(text, "{\"2\":1,\"10\":3,\"4294967295\":9007199254740991}");
    assert_int_equal(vclock_from_json(&back, json), VCLOCK_OK);
    assert_true(vclock_equal(&c, &back));
    free(text);
    json_decref(json);

    /* Keys in any order and zero counters are accepted; output is canonical. */
    json_error_t error;
    json = json_loads("{\"7\":0,\"10\":3,\"2\":1}", 0, &error);
    assert_non_null(json);
    assert_int_equal(vclock_from_json(&back, json), VCLOCK_OK);
    json_decref(json);
    assert_int_equal(back.count, 2);
    json = vclock_to_json(&back);
    text = dump(json);
    assert_string_equal(text, "{\"2\":1,\"10\":3}");
    free(text);
    json_decref(json);
    vclock_free(&c);
    vclock_free(&back);
}

static void expect_json_error(const char *text, vclock_status expected)
{
    json_error_t error;
    json_t *json = json_loads(text, JSON_DECODE_ANY, &error);
    assert_non_null(json);
    vclock c;
    vclock_init(&c);
    assert_int_equal(vclock_set(&c, 77, 7), VCLOCK_OK);
    assert_int_equal(vclock_from_json(&c, json), expected);
    assert_int_equal(c.count, 1);
    assert_int_equal(vclock_get(&c, 77), 7);
    vclock_free(&c);
    json_decref(json);
}

static void test_json_rejects(void **unused)
{
    (void)unused;
    expect_json_error("[2,0,0]", VCLOCK_ERR_NOT_OBJECT);
    expect_json_error("null", VCLOCK_ERR_NOT_OBJECT);
    expect_json_error("{\"01\":1}", VCLOCK_ERR_BAD_KEY);
    expect_json_error("{\"-1\":1}", VCLOCK_ERR_BAD_KEY);
    expect_json_error("{\"+1\":1}", VCLOCK_ERR_BAD_KEY);
    expect_json_error("{\"1.5\":1}", VCLOCK_ERR_BAD_KEY);
    expect_json_error("{\"\":1}", VCLOCK_ERR_BAD_KEY);
    expect_json_error("{\"a\":1}", VCLOCK_ERR_BAD_KEY);
    expect_json_error("{\"9007199254740992\":1}", VCLOCK_ERR_BAD_KEY);
    expect_json_error("{\"99999999999999999999\":1}", VCLOCK_ERR_BAD_KEY);
    expect_json_error("{\"1\":-1}", VCLOCK_ERR_BAD_COUNTER);
    expect_json_error("{\"1\":1.0}", VCLOCK_ERR_BAD_COUNTER);
    expect_json_error("{\"1\":\"3\"}", VCLOCK_ERR_BAD_COUNTER);
    expect_json_error("{\"1\":null}", VCLOCK_ERR_BAD_COUNTER);
    expect_json_error("{\"1\":9007199254740992}", VCLOCK_ERR_BAD_COUNTER);
    expect_json_error("{\"2\":1,\"1\":true}", VCLOCK_ERR_BAD_COUNTER);
}

static void test_json_entry_limit(void **unused)
{
    (void)unused;
    json_t *json = json_object();
    assert_non_null(json);
    for (unsigned i = 1; i <= VCLOCK_MAX_ENTRIES + 1; i++) {
        char key[16];
        snprintf(key, sizeof(key), "%u", i);
        assert_int_equal(json_object_set_new(json, key, json_integer(1)), 0);
    }
    vclock c;
    vclock_init(&c);
    assert_int_equal(vclock_from_json(&c, json), VCLOCK_ERR_TOO_MANY);
    assert_int_equal(c.count, 0);
    assert_int_equal(json_object_del(json, "1"), 0);
    assert_int_equal(vclock_from_json(&c, json), VCLOCK_OK);
    assert_int_equal(c.count, VCLOCK_MAX_ENTRIES);
    vclock_free(&c);
    json_decref(json);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_compare_four_relations),
        cmocka_unit_test(test_set_get_increment),
        cmocka_unit_test(test_merge_is_pointwise_max),
        cmocka_unit_test(test_dominates_all),
        cmocka_unit_test(test_entry_limit),
        cmocka_unit_test(test_from_entries),
        cmocka_unit_test(test_copy),
        cmocka_unit_test(test_binary_known_bytes),
        cmocka_unit_test(test_binary_round_trip),
        cmocka_unit_test(test_binary_rejects_non_canonical),
        cmocka_unit_test(test_binary_accepts_limit),
        cmocka_unit_test(test_json_canonical_form),
        cmocka_unit_test(test_json_rejects),
        cmocka_unit_test(test_json_entry_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
