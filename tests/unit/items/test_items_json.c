/*
 * Unit tests of processor/items_json: the MongoDB/Redis view of an item state
 * round-trips exactly, shows the seeds' fields, and loading refuses every
 * corrupted or hostile document with a reason naming the field.
 */
#include "processor/items.h"
#include "processor/items_json.h"
#include "tests/unit/items/items_test_util.h"

#include <setjmp.h>
#include <sodium.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/* The seeds' item16 (val16 at [1,0,0]) in conflict: A [2,0,0] and B [1,2,0]. */
static void build_conflict(items_state *s, items_policy policy)
{
    vclock a, b;
    vclock_init(&a);
    vclock_init(&b);
    assert_int_equal(items_state_init(s, "item16", policy), ITEMS_OK);
    test_clock(&a, (uint64_t[]){2, 0, 0}, 3);
    test_clock(&b, (uint64_t[]){1, 2, 0}, 3);
    items_write wa = test_write("val16_A", &a, 1716035696000u, 1);
    items_write wb = test_write("val16_B", &b, 1716035697000u, 2);
    items_result r;
    vclock initial;
    vclock_init(&initial);
    test_clock(&initial, (uint64_t[]){1, 0, 0}, 3);
    items_write w0 = test_write("val16", &initial, 1716033600000u, 1);
    assert_int_equal(items_apply_write(s, &w0, &r), ITEMS_OK);
    vclock_free(&initial);
    assert_int_equal(items_apply_write(s, &wa, &r), ITEMS_OK);
    assert_int_equal(items_apply_write(s, &wb, &r), ITEMS_OK);
    vclock_free(&a);
    vclock_free(&b);
}

static void assert_round_trip(const items_state *s)
{
    char *text = test_state_text(s);
    json_error_t error;
    json_t *json = json_loads(text, 0, &error);
    assert_non_null(json);
    items_state back;
    char why[200] = "";
    assert_int_equal(items_state_from_json(&back, json, why, sizeof(why)), ITEMS_OK);
    char *again = test_state_text(&back);
    assert_string_equal(text, again);
    assert_int_equal(back.version, s->version);
    assert_int_equal(back.revision, s->revision);
    assert_int_equal(back.policy, s->policy);
    assert_true(vclock_equal(&back.clock, &s->clock));
    free(again);
    items_state_free(&back);
    json_decref(json);
    free(text);
}

static void test_round_trips(void **unused)
{
    (void)unused;
    items_state s;
    assert_int_equal(items_state_init(&s, "never-written", ITEMS_POLICY_LWW), ITEMS_OK);
    assert_round_trip(&s);
    items_state_free(&s);

    build_conflict(&s, ITEMS_POLICY_MANUAL);
    assert_round_trip(&s);
    items_state_free(&s);

    build_conflict(&s, ITEMS_POLICY_LWW); /* one shown, one kept */
    assert_round_trip(&s);
    items_state_free(&s);

    /* Binary and empty values survive. */
    assert_int_equal(items_state_init(&s, "bytes", ITEMS_POLICY_MANUAL), ITEMS_OK);
    vclock a, b;
    vclock_init(&a);
    vclock_init(&b);
    test_clock(&a, (uint64_t[]){1, 0}, 2);
    test_clock(&b, (uint64_t[]){0, 1}, 2);
    const uint8_t binary[] = {0, 255, 10, 0, 128};
    items_write wa = {binary, sizeof(binary), &a, 5, 1};
    items_write wb = {NULL, 0, &b, 6, 2};
    items_result r;
    assert_int_equal(items_apply_write(&s, &wa, &r), ITEMS_OK);
    assert_int_equal(items_apply_write(&s, &wb, &r), ITEMS_OK);
    assert_round_trip(&s);
    vclock_free(&a);
    vclock_free(&b);
    items_state_free(&s);
}

static void test_view_fields(void **unused)
{
    (void)unused;
    items_state s;
    build_conflict(&s, ITEMS_POLICY_MANUAL);
    json_t *json = items_state_to_json(&s);
    assert_non_null(json);
    assert_string_equal(json_string_value(json_object_get(json, "item_id")), "item16");
    assert_string_equal(json_string_value(json_object_get(json, "policy")), "manual");
    assert_int_equal(json_integer_value(json_object_get(json, "version")), 2);
    assert_true(json_is_true(json_object_get(json, "conflict")));
    assert_true(json_is_null(json_object_get(json, "value_base64")));
    char *clock = json_dumps(json_object_get(json, "vector_clock"), JSON_COMPACT);
    assert_string_equal(clock, "{\"1\":2,\"2\":2}");
    free(clock);
    json_decref(json);

    /* After the users' merge: the value, readable back from base64. */
    vclock merge;
    vclock_init(&merge);
    test_clock(&merge, (uint64_t[]){2, 2, 0}, 3);
    items_write w = test_write("val16_Aval16_B", &merge, 1716035760000u, 1);
    items_result r;
    assert_int_equal(items_apply_resolve(&s, &w, &r), ITEMS_OK);
    json = items_state_to_json(&s);
    assert_int_equal(json_integer_value(json_object_get(json, "version")), 3);
    assert_true(json_is_false(json_object_get(json, "conflict")));
    assert_int_equal(json_integer_value(json_object_get(json, "timestamp_ms")), 1716035760000);
    assert_int_equal(json_integer_value(json_object_get(json, "client_id")), 1);
    const char *b64 = json_string_value(json_object_get(json, "value_base64"));
    assert_non_null(b64);
    uint8_t decoded[64];
    size_t decoded_len = 0;
    assert_int_equal(sodium_base642bin(decoded, sizeof(decoded), b64, strlen(b64), NULL,
                                       &decoded_len, NULL, sodium_base64_VARIANT_ORIGINAL),
                     0);
    assert_int_equal(decoded_len, strlen("val16_Aval16_B"));
    assert_memory_equal(decoded, "val16_Aval16_B", decoded_len);
    assert_int_equal(json_array_size(json_object_get(json, "siblings")), 1);
    json_decref(json);
    vclock_free(&merge);
    items_state_free(&s);
}

/* Loads text (after replacing one field of a valid state via edit) and expects
 * a refusal whose reason starts with field. */
static void expect_refused(const char *text, const char *field)
{
    json_error_t error;
    json_t *json = json_loads(text, 0, &error);
    assert_non_null(json);
    items_state s;
    char why[256] = "";
    assert_int_equal(items_state_from_json(&s, json, why, sizeof(why)), ITEMS_ERR_BAD_JSON);
    if (strncmp(why, field, strlen(field)) != 0) {
        fail_msg("reason \"%s\" does not name \"%s\"", why, field);
    }
    json_decref(json);
}

static json_t *conflict_json(void)
{
    items_state s;
    build_conflict(&s, ITEMS_POLICY_MANUAL);
    json_t *json = items_state_to_json(&s);
    items_state_free(&s);
    assert_non_null(json);
    return json;
}

/* A valid conflict state with key set to value (taken over), as text. */
static char *edited(const char *key, json_t *value)
{
    json_t *json = conflict_json();
    assert_int_equal(json_object_set_new(json, key, value), 0);
    char *text = json_dumps(json, JSON_COMPACT);
    json_decref(json);
    return text;
}

/* Same, with siblings[0].key set to value. */
static char *edited_sibling(const char *key, json_t *value)
{
    json_t *json = conflict_json();
    json_t *sibling = json_array_get(json_object_get(json, "siblings"), 0);
    assert_int_equal(json_object_set_new(sibling, key, value), 0);
    char *text = json_dumps(json, JSON_COMPACT);
    json_decref(json);
    return text;
}

static void refuse_edit(const char *key, json_t *value, const char *field)
{
    char *text = edited(key, value);
    expect_refused(text, field);
    free(text);
}

static void refuse_sibling_edit(const char *key, json_t *value, const char *field)
{
    char *text = edited_sibling(key, value);
    expect_refused(text, field);
    free(text);
}

static void test_refuses_bad_documents(void **unused)
{
    (void)unused;
    expect_refused("[]", "item state");
    refuse_edit("item_id", json_string(""), "item_id");
    refuse_edit("item_id", json_integer(5), "item_id");
    refuse_edit("item_id", json_string("a\tb"), "item_id");
    refuse_edit("policy", json_string("first-wins"), "policy");
    refuse_edit("version", json_integer(-1), "version");
    refuse_edit("revision", json_integer(0), "version"); /* revision < version */
    refuse_edit("revision", json_real(3.5), "version");
    refuse_edit("siblings", json_object(), "siblings");
    refuse_edit("vector_clock", json_pack("{s:i}", "1", 2), "vector_clock");
    refuse_edit("vector_clock", json_string("[2,2,0]"), "vector_clock");

    refuse_sibling_edit("value_base64", json_string("not base64!"), "siblings[0].value_base64");
    refuse_sibling_edit("value_base64", json_null(), "siblings[0].value_base64");
    refuse_sibling_edit("vector_clock", json_object(), "siblings[0].vector_clock");
    /* Only zero counters: empty too (and nothing leaks on the way out). */
    refuse_sibling_edit("vector_clock", json_pack("{s:i}", "1", 0), "siblings[0].vector_clock");
    refuse_sibling_edit("vector_clock", json_pack("{s:i}", "01", 2), "siblings[0].vector_clock");
    refuse_sibling_edit("timestamp_ms", json_integer(-5), "siblings[0].timestamp_ms");
    refuse_sibling_edit("client_id", json_string("1"), "siblings[0].client_id");
    /* Sibling 0 dominating sibling 1 is not a state the rules can produce. */
    refuse_sibling_edit("vector_clock", json_pack("{s:i,s:i}", "1", 2, "2", 3), "siblings[0]");

    /* A value over the limit. */
    size_t big_len = ITEMS_MAX_VALUE_BYTES + 1;
    uint8_t *big = calloc(1, big_len);
    size_t b64_size = sodium_base64_ENCODED_LEN(big_len, sodium_base64_VARIANT_ORIGINAL);
    char *b64 = malloc(b64_size);
    assert_non_null(big);
    assert_non_null(b64);
    sodium_bin2base64(b64, b64_size, big, big_len, sodium_base64_VARIANT_ORIGINAL);
    refuse_sibling_edit("value_base64", json_string(b64), "siblings[0]");
    free(big);
    free(b64);

    /* Too many siblings. */
    json_t *json = conflict_json();
    json_t *siblings = json_object_get(json, "siblings");
    for (unsigned i = 0; i < ITEMS_MAX_SIBLINGS; i++) {
        assert_int_equal(json_array_append(siblings, json_array_get(siblings, 0)), 0);
    }
    char *text = json_dumps(json, JSON_COMPACT);
    expect_refused(text, "siblings");
    free(text);
    json_decref(json);

    /* A duplicated sibling: equal clocks. */
    json = conflict_json();
    siblings = json_object_get(json, "siblings");
    assert_int_equal(json_array_append(siblings, json_array_get(siblings, 0)), 0);
    text = json_dumps(json, JSON_COMPACT);
    expect_refused(text, "siblings[0] and siblings[2] are equal");
    free(text);
    json_decref(json);
}

/* A loaded state goes on working: resolve it and compare with the original. */
static void test_loaded_state_continues(void **unused)
{
    (void)unused;
    items_state original, loaded;
    build_conflict(&original, ITEMS_POLICY_MANUAL);
    json_t *json = items_state_to_json(&original);
    assert_int_equal(items_state_from_json(&loaded, json, NULL, 0), ITEMS_OK);
    json_decref(json);
    vclock merge;
    vclock_init(&merge);
    test_clock(&merge, (uint64_t[]){2, 2, 0}, 3);
    items_write w = test_write("val16_Aval16_B", &merge, 1716035760000u, 1);
    items_result r1, r2;
    assert_int_equal(items_apply_resolve(&original, &w, &r1), ITEMS_OK);
    assert_int_equal(items_apply_resolve(&loaded, &w, &r2), ITEMS_OK);
    assert_int_equal(r1.outcome, r2.outcome);
    char *a = test_state_text(&original);
    char *b = test_state_text(&loaded);
    assert_string_equal(a, b);
    free(a);
    free(b);
    vclock_free(&merge);
    items_state_free(&original);
    items_state_free(&loaded);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trips),
        cmocka_unit_test(test_view_fields),
        cmocka_unit_test(test_refuses_bad_documents),
        cmocka_unit_test(test_loaded_state_continues),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
