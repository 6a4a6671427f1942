/*
 * test_crdt_lib0.c - unit tests of the lib0 primitives and JS value codecs under the crdt
 * engine: varuint/varint (including -0), strings and UTF-8 checks, UTF-16 offsets, lib0
 * "any", JSON parsing and JSON.stringify-compatible output.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "crdt/lib0.h"
#include "crdt/value.h"

static void test_varuint_round_trip(void **state)
{
    (void)state;
    const uint64_t values[] = {
        0, 1, 127, 128, 300, 16383, 16384, 2097151, 2097152, 4294967295ULL, CRDT_MAX_SAFE_INT};
    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
        crdt_buf b;
        crdt_buf_init(&b);
        crdt_buf_varuint(&b, values[i]);
        crdt_rd r;
        crdt_rd_init(&r, b.data, b.len);
        assert_int_equal(crdt_rd_varuint(&r), values[i]);
        assert_true(crdt_rd_ok(&r));
        assert_int_equal(crdt_rd_left(&r), 0);
        crdt_buf_free(&b);
    }
}

static void test_varuint_known_bytes(void **state)
{
    (void)state;
    crdt_buf b;
    crdt_buf_init(&b);
    crdt_buf_varuint(&b, 300); /* 300 = 0b10_0101100 -> ac 02 */
    assert_int_equal(b.len, 2);
    assert_int_equal(b.data[0], 0xac);
    assert_int_equal(b.data[1], 0x02);
    crdt_buf_free(&b);
}

static void test_varuint_rejects_truncated_and_huge(void **state)
{
    (void)state;
    const uint8_t truncated[] = {0x80, 0x80};
    crdt_rd r;
    crdt_rd_init(&r, truncated, sizeof(truncated));
    crdt_rd_varuint(&r);
    assert_int_equal(r.err, CRDT_ERR_TRUNCATED);

    /* 2^53 does not fit a JS safe integer: lib0 throws, we report malformed. */
    crdt_buf b;
    crdt_buf_init(&b);
    crdt_buf_varuint(&b, CRDT_MAX_SAFE_INT + 1);
    crdt_rd_init(&r, b.data, b.len);
    crdt_rd_varuint(&r);
    assert_int_equal(r.err, CRDT_ERR_MALFORMED);
    crdt_buf_free(&b);

    const uint8_t endless[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
    crdt_rd_init(&r, endless, sizeof(endless));
    crdt_rd_varuint(&r);
    assert_int_equal(r.err, CRDT_ERR_MALFORMED);
}

static void test_varint_sign_and_negative_zero(void **state)
{
    (void)state;
    crdt_buf b;
    crdt_buf_init(&b);
    crdt_buf_varint(&b, 0, 1); /* -0 is the single byte 0x40 */
    assert_int_equal(b.len, 1);
    assert_int_equal(b.data[0], 0x40);
    crdt_buf_varint(&b, 63, 0); /* fits the 6 bits of the first byte */
    crdt_buf_varint(&b, 64, 1); /* needs a second byte */
    crdt_buf_varint(&b, 1000, 0);
    crdt_rd r;
    crdt_rd_init(&r, b.data, b.len);
    int neg;
    assert_int_equal(crdt_rd_varint(&r, &neg), 0);
    assert_true(neg);
    assert_int_equal(crdt_rd_varint(&r, &neg), 63);
    assert_false(neg);
    assert_int_equal(crdt_rd_varint(&r, &neg), 64);
    assert_true(neg);
    assert_int_equal(crdt_rd_varint(&r, &neg), 1000);
    assert_false(neg);
    assert_true(crdt_rd_ok(&r));
    assert_int_equal(crdt_rd_left(&r), 0);
    crdt_buf_free(&b);
}

static void test_utf8_validation(void **state)
{
    (void)state;
    assert_true(crdt_utf8_valid((const uint8_t *)"plain ascii", 11));
    assert_true(crdt_utf8_valid((const uint8_t *)"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 9));
    assert_false(crdt_utf8_valid((const uint8_t *)"\xc0\xaf", 2));         /* overlong */
    assert_false(crdt_utf8_valid((const uint8_t *)"\xed\xa0\x80", 3));     /* surrogate */
    assert_false(crdt_utf8_valid((const uint8_t *)"\xf4\x90\x80\x80", 4)); /* > U+10FFFF */
    assert_false(crdt_utf8_valid((const uint8_t *)"\xe2\x82", 2));         /* cut */
    assert_false(crdt_utf8_valid((const uint8_t *)"abc\x80", 4));          /* stray */
}

static void test_utf16_offsets(void **state)
{
    (void)state;
    /* "a" (1 unit), "é" (1 unit, 2 bytes), "😀" (2 units, 4 bytes), "b" */
    const uint8_t *s = (const uint8_t *)"a\xc3\xa9\xf0\x9f\x98\x80"
                                        "b";
    size_t n = 8;
    assert_int_equal(crdt_utf16_len(s, n), 5);
    int split;
    assert_int_equal(crdt_utf16_to_byte(s, n, 2, &split), 3);
    assert_false(split);
    assert_int_equal(crdt_utf16_to_byte(s, n, 3, &split), 3); /* between the halves */
    assert_true(split);
    assert_int_equal(crdt_utf16_to_byte(s, n, 4, &split), 7);
    assert_false(split);
}

static void write_any_read_back(const crdt_value *v, crdt_value *out)
{
    crdt_buf b;
    crdt_buf_init(&b);
    crdt_value_write_any(&b, v);
    crdt_rd r;
    crdt_rd_init(&r, b.data, b.len);
    assert_int_equal(crdt_value_read_any(&r, out, 16), CRDT_OK);
    assert_int_equal(crdt_rd_left(&r), 0);
    crdt_buf_free(&b);
}

static char *to_json(const crdt_value *v)
{
    crdt_buf b;
    crdt_buf_init(&b);
    crdt_value_write_json(&b, v, 0);
    char *s;
    assert_int_equal(crdt_buf_take_str(&b, &s), CRDT_OK);
    return s;
}

static void test_any_round_trip(void **state)
{
    (void)state;
    const char *json = "{\"b\":[1,-2.5,true,null,\"x\\u00e9\"],\"2\":1e+21,\"a\":{\"n\":-0.1},"
                       "\"1\":4294967296}";
    crdt_value v, back;
    assert_int_equal(crdt_value_from_json(json, strlen(json), &v, 16), CRDT_OK);
    write_any_read_back(&v, &back);
    assert_true(crdt_value_equal(&v, &back));
    char *s = to_json(&back);
    /* JSON.stringify order: integer-like keys ascending first, then insertion order. */
    assert_string_equal(s, "{\"1\":4294967296,\"2\":1e+21,\"b\":[1,-2.5,true,null,\"x\xc3\xa9\"],"
                           "\"a\":{\"n\":-0.1}}");
    free(s);
    crdt_value_clear(&v);
    crdt_value_clear(&back);
}

static void test_any_integer_encoding(void **state)
{
    (void)state;
    /* Integers up to 2^31-1 use tag 125 (varint); 0.5 fits float32 (124); 0.1 needs 123. */
    crdt_value v = {.kind = CRDT_V_NUMBER};
    crdt_buf b;
    crdt_buf_init(&b);
    v.u.number = 42;
    crdt_value_write_any(&b, &v);
    v.u.number = 0.5;
    crdt_value_write_any(&b, &v);
    v.u.number = 0.1;
    crdt_value_write_any(&b, &v);
    v.u.number = 4294967296.0;
    crdt_value_write_any(&b, &v);
    assert_int_equal(b.data[0], 125);
    assert_int_equal(b.data[1], 42);
    assert_int_equal(b.data[2], 124);
    assert_int_equal(b.data[7], 123);
    assert_int_equal(b.data[16], 124); /* 2^32 is exact in float32 */
    crdt_buf_free(&b);
}

static void test_any_rejects_bad_input(void **state)
{
    (void)state;
    crdt_value v;
    crdt_rd r;
    const uint8_t bad_tag[] = {99};
    crdt_rd_init(&r, bad_tag, 1);
    assert_int_equal(crdt_value_read_any(&r, &v, 16), CRDT_ERR_MALFORMED);
    /* An array claiming a billion elements in 3 bytes. */
    const uint8_t huge[] = {117, 0x80, 0x94, 0xeb, 0xdc, 0x03};
    crdt_rd_init(&r, huge, sizeof(huge));
    assert_int_equal(crdt_value_read_any(&r, &v, 16), CRDT_ERR_TRUNCATED);
    /* Nesting deeper than allowed. */
    uint8_t deep[41];
    for (size_t level = 0; level < 20; level++) {
        deep[2 * level] = 117;   /* array */
        deep[2 * level + 1] = 1; /* of one element */
    }
    deep[40] = 126; /* null */
    crdt_rd_init(&r, deep, sizeof(deep));
    assert_int_equal(crdt_value_read_any(&r, &v, 5), CRDT_ERR_LIMIT);
    /* Invalid UTF-8 in a string. */
    const uint8_t bad_utf8[] = {119, 2, 0xc3, 0x28};
    crdt_rd_init(&r, bad_utf8, sizeof(bad_utf8));
    assert_int_equal(crdt_value_read_any(&r, &v, 16), CRDT_ERR_MALFORMED);
}

/* A binary object with a repeated key keeps the key's first position and the last value,
 * like JS assignment; one that stops half-way is rejected without leaking its members. */
static void test_any_object_duplicates_and_truncation(void **state)
{
    (void)state;
    const uint8_t dup[] = {118, 3, 1, 'a', 125, 1, 1, 'b', 125, 2, 1, 'a', 125, 3};
    crdt_value v;
    crdt_rd r;
    crdt_rd_init(&r, dup, sizeof(dup));
    assert_int_equal(crdt_value_read_any(&r, &v, 16), CRDT_OK);
    char *s = to_json(&v);
    assert_string_equal(s, "{\"a\":3,\"b\":2}");
    free(s);
    crdt_value_clear(&v);
    const uint8_t cut[] = {118, 2, 1, 'a', 119, 1, 'x', 1, 'b'};
    crdt_rd_init(&r, cut, sizeof(cut));
    assert_int_not_equal(crdt_value_read_any(&r, &v, 16), CRDT_OK);
}

/* Object.keys order: integer-like keys (0 .. 2^32-2, no leading zero) ascending, then the
 * rest in insertion order. Expected order checked against node. */
static void test_js_key_order(void **state)
{
    (void)state;
    const char *keys[] = {"b", "10", "a", "2", "01", "4294967295", "3", "4294967294", "-1"};
    enum { n = sizeof(keys) / sizeof(keys[0]) };
    size_t lens[n], order[n];
    for (size_t i = 0; i < n; i++)
        lens[i] = strlen(keys[i]);
    crdt_js_key_order(keys, lens, n, order);
    const size_t expected[n] = {3, 6, 1, 7, 0, 2, 4, 5, 8};
    for (size_t i = 0; i < n; i++)
        assert_int_equal(order[i], expected[i]);
    /* Only one kind of key, and none at all. */
    const char *ints[] = {"7", "0", "5"};
    const size_t int_lens[] = {1, 1, 1};
    size_t int_order[3];
    crdt_js_key_order(ints, int_lens, 3, int_order);
    assert_int_equal(int_order[0], 1);
    assert_int_equal(int_order[1], 2);
    assert_int_equal(int_order[2], 0);
    const char *words[] = {"z", "y", "x"};
    size_t word_order[3];
    crdt_js_key_order(words, int_lens, 3, word_order);
    for (size_t i = 0; i < 3; i++)
        assert_int_equal(word_order[i], i);
    crdt_js_key_order(words, int_lens, 0, word_order);
}

static void check_number(double d, const char *expected)
{
    crdt_buf b;
    crdt_buf_init(&b);
    crdt_js_number(&b, d);
    char *s;
    assert_int_equal(crdt_buf_take_str(&b, &s), CRDT_OK);
    assert_string_equal(s, expected);
    free(s);
}

static void test_js_number_format(void **state)
{
    (void)state;
    check_number(0, "0");
    check_number(-0.0, "0");
    check_number(1, "1");
    check_number(-42, "-42");
    check_number(0.1, "0.1");
    check_number(1.0 / 3.0, "0.3333333333333333");
    check_number(1e21, "1e+21");
    check_number(123456789012345680000.0, "123456789012345680000");
    check_number(1e-7, "1e-7");
    check_number(0.000001, "0.000001");
    check_number(1.5e300, "1.5e+300");
    check_number(9007199254740993.0, "9007199254740992");
}

static void test_json_string_escapes(void **state)
{
    (void)state;
    crdt_buf b;
    crdt_buf_init(&b);
    crdt_json_write_string(&b, "a\"b\\c\n\t\x01\xe2\x80\xa8", 11);
    char *s;
    assert_int_equal(crdt_buf_take_str(&b, &s), CRDT_OK);
    /* JSON.stringify escapes control characters but leaves U+2028 as is. */
    assert_string_equal(s, "\"a\\\"b\\\\c\\n\\t\\u0001\xe2\x80\xa8\"");
    free(s);
}

static void test_json_undefined_handling(void **state)
{
    (void)state;
    crdt_value v;
    assert_int_equal(crdt_value_from_json("undefined", 9, &v, 4), CRDT_OK);
    assert_int_equal(v.kind, CRDT_V_UNDEFINED);
    crdt_buf b;
    crdt_buf_init(&b);
    crdt_value_write_json(&b, &v, 1);
    assert_int_equal(b.len, 9);
    assert_memory_equal(b.data, "undefined", 9);
    crdt_buf_free(&b);
    assert_int_equal(crdt_value_from_json("{\"a\":", 5, &v, 4), CRDT_ERR_MALFORMED);
    /* Fails after members were stored: they are freed (ASan checks), nothing is returned. */
    const char *half = "{\"a\":[1,2],\"b\":{\"c\":\"d\"},\"e\":";
    assert_int_equal(crdt_value_from_json(half, strlen(half), &v, 4), CRDT_ERR_MALFORMED);
    assert_int_equal(v.kind, CRDT_V_UNDEFINED);
    assert_int_equal(crdt_value_from_json("[[[[1]]]]", 9, &v, 3), CRDT_ERR_LIMIT);
}

static void test_json_parse_js_rules(void **state)
{
    (void)state;
    crdt_value v;
    /* JSON.parse accepts NUL in keys and lone surrogates; the latter become U+FFFD. */
    const char *text = " { \"\\u0000k\" : [ \"\\ud83d\\ude00\\ud800x\" , -0 , 1.5e2 ] } ";
    assert_int_equal(crdt_value_from_json(text, strlen(text), &v, 8), CRDT_OK);
    assert_int_equal(v.kind, CRDT_V_OBJECT);
    assert_int_equal(v.u.obj.n, 1);
    assert_int_equal(v.u.obj.kv[0].key_len, 2);
    assert_memory_equal(v.u.obj.kv[0].key, "\0k", 2);
    const crdt_value *arr = &v.u.obj.kv[0].val;
    assert_int_equal(arr->u.arr.n, 3);
    assert_string_equal(arr->u.arr.items[0].u.str.p, "\xf0\x9f\x98\x80\xef\xbf\xbdx");
    assert_true(arr->u.arr.items[1].u.number == 0);
    assert_true(arr->u.arr.items[2].u.number == 150);
    char *s = to_json(&v);
    assert_string_equal(s, "{\"\\u0000k\":[\"\xf0\x9f\x98\x80\xef\xbf\xbdx\",0,150]}");
    free(s);
    crdt_value_clear(&v);
    /* Later duplicates win but keep the first position, as in JavaScript. */
    const char *dup = "{\"a\":1,\"b\":2,\"a\":3}";
    assert_int_equal(crdt_value_from_json(dup, strlen(dup), &v, 8), CRDT_OK);
    s = to_json(&v);
    assert_string_equal(s, "{\"a\":3,\"b\":2}");
    free(s);
    crdt_value_clear(&v);
    const char *bad[] = {"",    "01",    "1.",      "[1,]",  "{\"a\" 1}", "\"\x01\"",
                         "nul", "[1] 2", "\"\\x\"", "{1:2}", "\"\xff\""};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(crdt_value_from_json(bad[i], strlen(bad[i]), &v, 8), CRDT_ERR_MALFORMED);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_varuint_round_trip),
        cmocka_unit_test(test_varuint_known_bytes),
        cmocka_unit_test(test_varuint_rejects_truncated_and_huge),
        cmocka_unit_test(test_varint_sign_and_negative_zero),
        cmocka_unit_test(test_utf8_validation),
        cmocka_unit_test(test_utf16_offsets),
        cmocka_unit_test(test_any_round_trip),
        cmocka_unit_test(test_any_integer_encoding),
        cmocka_unit_test(test_any_rejects_bad_input),
        cmocka_unit_test(test_any_object_duplicates_and_truncation),
        cmocka_unit_test(test_js_key_order),
        cmocka_unit_test(test_js_number_format),
        cmocka_unit_test(test_json_string_escapes),
        cmocka_unit_test(test_json_undefined_handling),
        cmocka_unit_test(test_json_parse_js_rules),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
