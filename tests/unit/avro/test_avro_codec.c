/*
 * Single-object encoding and decoding of generic values (common/avro_codec.c):
 * the header, schema evolution in both directions with every kind of default,
 * and every malformed input, each with its own error code and nothing leaked.
 */
#include <assert.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/avro_codec.h"
#include "common/avro_records.h"
#include "common/avro_registry.h"

/* Revision 1 and 2 of a test record: v2 promotes a to long, adds a field to a
 * nested record, drops `gone` and adds one field of every kind with a default. */
static const char evolve_v1[] =
    "{\"type\":\"record\",\"name\":\"Ev\",\"namespace\":\"t\",\"fields\":["
    "{\"name\":\"a\",\"type\":\"int\"},"
    "{\"name\":\"inner\",\"type\":{\"type\":\"record\",\"name\":\"In\",\"fields\":["
    "{\"name\":\"x\",\"type\":\"long\"}]}},"
    "{\"name\":\"gone\",\"type\":\"string\"}]}";
static const char evolve_v2[] =
    "{\"type\":\"record\",\"name\":\"Ev\",\"namespace\":\"t\",\"fields\":["
    "{\"name\":\"a\",\"type\":\"long\"},"
    "{\"name\":\"inner\",\"type\":{\"type\":\"record\",\"name\":\"In\",\"fields\":["
    "{\"name\":\"x\",\"type\":\"long\"},{\"name\":\"y\",\"type\":\"string\",\"default\":\"dflt\"}]}"
    "},"
    "{\"name\":\"n\",\"type\":[\"null\",\"string\"],\"default\":null},"
    "{\"name\":\"bs\",\"type\":\"bytes\",\"default\":\"\\u00ff\\u0001\"},"
    "{\"name\":\"en\",\"type\":{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"A\",\"B\"]},"
    "\"default\":\"B\"},"
    "{\"name\":\"arr\",\"type\":{\"type\":\"array\",\"items\":\"int\"},\"default\":[1,2]},"
    "{\"name\":\"m\",\"type\":{\"type\":\"map\",\"values\":\"string\"},\"default\":{\"k\":\"v\"}},"
    "{\"name\":\"rec\",\"type\":{\"type\":\"record\",\"name\":\"Sub\",\"fields\":["
    "{\"name\":\"p\",\"type\":\"int\",\"default\":7},{\"name\":\"q\",\"type\":\"string\"}]},"
    "\"default\":{\"q\":\"qq\"}},"
    "{\"name\":\"fx\",\"type\":{\"type\":\"fixed\",\"name\":\"F2\",\"size\":2},\"default\":\"ab\"},"
    "{\"name\":\"d\",\"type\":\"double\",\"default\":1.5},"
    "{\"name\":\"bo\",\"type\":\"boolean\",\"default\":true}]}";

/* One field of every shape the validator checks. */
static const char shapes[] =
    "{\"type\":\"record\",\"name\":\"M\",\"fields\":["
    "{\"name\":\"s\",\"type\":\"string\"},"
    "{\"name\":\"e\",\"type\":{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"A\",\"B\"]}},"
    "{\"name\":\"u\",\"type\":[\"null\",\"long\"]},"
    "{\"name\":\"b\",\"type\":\"boolean\"},"
    "{\"name\":\"arr\",\"type\":{\"type\":\"array\",\"items\":\"long\"}}]}";

struct fixture {
    struct cavro_registry *reg;
};

static int setup(void **state)
{
    static const struct cavro_schema_source sources[] = {
        {"evolve.v1.avsc", evolve_v1, sizeof(evolve_v1) - 1},
        {"evolve.v2.avsc", evolve_v2, sizeof(evolve_v2) - 1},
        {"shapes.v1.avsc", shapes, sizeof(shapes) - 1},
    };
    struct fixture *f = calloc(1, sizeof(*f));
    char err[256];
    if (f == NULL || cavro_registry_new(sources, 3, &f->reg, err, sizeof(err)) != CAVRO_OK) {
        print_error("registry: %s\n", err);
        free(f);
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    cavro_registry_free(f->reg);
    free(f);
    return 0;
}

/* The child `name` of `record`. A failed cmocka assertion longjmps out of the test, but
 * cmocka does not declare it noreturn, so clang's analyzer follows the failed path on to
 * the NULL interface avro-c left behind; the assert() states the invariant for it. */
static avro_value_t field(avro_value_t *record, const char *name)
{
    avro_value_t v = {NULL, NULL};
    assert_int_equal(avro_value_get_by_name(record, name, &v, NULL), 0);
    assert(v.iface != NULL);
    return v;
}

static void encode_evolve_v1(const struct cavro_registry *reg, uint8_t **buf, size_t *len)
{
    const struct cavro_schema *v1 = cavro_registry_by_file(reg, "evolve.v1.avsc");
    avro_value_t rec;
    assert_int_equal(avro_generic_value_new(v1->iface, &rec), 0);
    avro_value_t v = field(&rec, "a");
    assert_int_equal(avro_value_set_int(&v, -42), 0);
    avro_value_t inner = field(&rec, "inner");
    v = field(&inner, "x");
    assert_int_equal(avro_value_set_long(&v, 1LL << 40), 0);
    v = field(&rec, "gone");
    assert_int_equal(avro_value_set_string(&v, "bye"), 0);
    char err[256];
    assert_int_equal(cavro_encode(v1, &rec, buf, len, err, sizeof(err)), CAVRO_OK);
    avro_value_decref(&rec);
}

static void test_header_layout(void **state)
{
    struct fixture *f = *state;
    uint8_t *buf = NULL;
    size_t len = 0;
    encode_evolve_v1(f->reg, &buf, &len);
    const struct cavro_schema *v1 = cavro_registry_by_file(f->reg, "evolve.v1.avsc");
    assert_true(len > CAVRO_HEADER_SIZE);
    assert_int_equal(buf[0], 0xc3);
    assert_int_equal(buf[1], 0x01);
    uint64_t fp = 0;
    assert_int_equal(cavro_peek_fingerprint(buf, len, &fp), CAVRO_OK);
    assert_true(fp == v1->fingerprint);
    assert_int_equal(buf[2], (uint8_t)(v1->fingerprint & 0xff)); /* little-endian */
    assert_int_equal(buf[9], (uint8_t)(v1->fingerprint >> 56));
    free(buf);
}

/* An old writer read by a new reader: promotion, skipped field, every default. */
static void test_old_writer_new_reader(void **state)
{
    struct fixture *f = *state;
    uint8_t *buf = NULL;
    size_t len = 0;
    encode_evolve_v1(f->reg, &buf, &len);
    const struct cavro_schema *v2 = cavro_registry_by_file(f->reg, "evolve.v2.avsc");
    avro_value_t rec;
    char err[256];
    assert_int_equal(cavro_decode(f->reg, v2, buf, len, &rec, err, sizeof(err)), CAVRO_OK);
    free(buf);

    int64_t l = 0;
    int32_t i = 0;
    avro_value_t v = field(&rec, "a");
    assert_int_equal(avro_value_get_long(&v, &l), 0);
    assert_int_equal(l, -42);
    avro_value_t inner = field(&rec, "inner");
    v = field(&inner, "x");
    assert_int_equal(avro_value_get_long(&v, &l), 0);
    assert_int_equal(l, 1LL << 40);
    const char *s = NULL;
    size_t size = 0;
    v = field(&inner, "y");
    assert_int_equal(avro_value_get_string(&v, &s, &size), 0);
    assert_string_equal(s, "dflt");

    avro_value_t branch = {NULL, NULL};
    v = field(&rec, "n");
    assert_int_equal(avro_value_get_current_branch(&v, &branch), 0);
    assert(branch.iface != NULL); /* see field() */
    assert_int_equal(avro_value_get_type(&branch), AVRO_NULL);

    const void *bytes = NULL;
    v = field(&rec, "bs");
    assert_int_equal(avro_value_get_bytes(&v, &bytes, &size), 0);
    assert_int_equal(size, 2);
    assert_memory_equal(bytes, "\xff\x01", 2);

    int symbol = -1;
    v = field(&rec, "en");
    assert_int_equal(avro_value_get_enum(&v, &symbol), 0);
    assert_int_equal(symbol, 1);

    avro_value_t item = {NULL, NULL};
    v = field(&rec, "arr");
    assert_int_equal(avro_value_get_size(&v, &size), 0);
    assert_int_equal(size, 2);
    assert_int_equal(avro_value_get_by_index(&v, 1, &item, NULL), 0);
    assert(item.iface != NULL); /* see field() */
    assert_int_equal(avro_value_get_int(&item, &i), 0);
    assert_int_equal(i, 2);

    v = field(&rec, "m");
    assert_int_equal(avro_value_get_size(&v, &size), 0);
    assert_int_equal(size, 1);
    item = (avro_value_t){NULL, NULL};
    assert_int_equal(avro_value_get_by_name(&v, "k", &item, NULL), 0);
    assert(item.iface != NULL); /* see field() */
    assert_int_equal(avro_value_get_string(&item, &s, &size), 0);
    assert_string_equal(s, "v");

    avro_value_t sub = field(&rec, "rec");
    v = field(&sub, "p");
    assert_int_equal(avro_value_get_int(&v, &i), 0);
    assert_int_equal(i, 7); /* from the field's own default */
    v = field(&sub, "q");
    assert_int_equal(avro_value_get_string(&v, &s, &size), 0);
    assert_string_equal(s, "qq");

    v = field(&rec, "fx");
    assert_int_equal(avro_value_get_fixed(&v, &bytes, &size), 0);
    assert_int_equal(size, 2);
    assert_memory_equal(bytes, "ab", 2);

    double d = 0;
    v = field(&rec, "d");
    assert_int_equal(avro_value_get_double(&v, &d), 0);
    assert_true(d == 1.5);
    int bo = 0;
    v = field(&rec, "bo");
    assert_int_equal(avro_value_get_boolean(&v, &bo), 0);
    assert_true(bo);
    avro_value_decref(&rec);
}

/* A new writer and an old reader: v1 needs `gone`, which v2 no longer writes
 * and which has no default in v1, so this direction is refused cleanly. */
static void test_new_writer_old_reader_without_default_is_refused(void **state)
{
    struct fixture *f = *state;
    const struct cavro_schema *v1 = cavro_registry_by_file(f->reg, "evolve.v1.avsc");
    const struct cavro_schema *v2 = cavro_registry_by_file(f->reg, "evolve.v2.avsc");
    avro_value_t rec;
    assert_int_equal(avro_generic_value_new(v2->iface, &rec), 0);
    avro_value_t v = field(&rec, "inner");
    avro_value_t y = field(&v, "y");
    assert_int_equal(avro_value_set_string(&y, "x"), 0);
    v = field(&rec, "n");
    assert_int_equal(avro_value_set_branch(&v, 0, &y), 0);
    v = field(&rec, "rec");
    y = field(&v, "q");
    assert_int_equal(avro_value_set_string(&y, "q"), 0);
    v = field(&rec, "fx");
    assert_int_equal(avro_value_set_fixed(&v, (void *)"zz", 2), 0);
    /* avro-c cannot write a bytes value that was never set. */
    v = field(&rec, "bs");
    assert_int_equal(avro_value_set_bytes(&v, (void *)"b", 1), 0);
    uint8_t *buf = NULL;
    size_t len = 0;
    char err[256];
    enum cavro_status rc = cavro_encode(v2, &rec, &buf, &len, err, sizeof(err));
    if (rc != CAVRO_OK) {
        fail_msg("encode: %s", err);
    }
    avro_value_decref(&rec);
    avro_value_t out;
    assert_int_equal(cavro_decode(f->reg, v1, buf, len, &out, err, sizeof(err)),
                     CAVRO_ERR_INCOMPATIBLE);
    assert_non_null(strstr(err, "gone"));
    /* The same bytes are fine for their own revision. */
    assert_int_equal(cavro_decode(f->reg, v2, buf, len, &out, err, sizeof(err)), CAVRO_OK);
    avro_value_decref(&out);
    free(buf);
}

/* The builtin ClientOp: revision 2 records read by a revision 1 reader. */
static void test_builtin_forward_compatibility(void **state)
{
    (void)state;
    struct cavro_registry *reg = NULL;
    char err[256];
    assert_int_equal(cavro_registry_new_builtin(&reg, err, sizeof(err)), CAVRO_OK);
    struct cavro_clock_entry vv[] = {{11, 3}};
    struct cavro_client_op op = {.doc_id = (char *)"doc",
                                 .op_id = (char *)"op-1",
                                 .client_id = 11,
                                 .user_id = (char *)"u1",
                                 .kind = CAVRO_OP_YJS_UPDATE,
                                 .payload = {(uint8_t *)"\x01\x02", 2},
                                 .client_time_us = 1,
                                 .ingest_time_us = 2,
                                 .version_vector = {vv, 1},
                                 .ingest_node = (char *)"ingest-a"};
    uint8_t *buf = NULL;
    size_t len = 0;
    assert_int_equal(cavro_client_op_encode(reg, &op, &buf, &len, err, sizeof(err)), CAVRO_OK);
    const struct cavro_schema *v1 = cavro_registry_by_file(reg, "client_op.v1.avsc");
    avro_value_t rec;
    assert_int_equal(cavro_decode(reg, v1, buf, len, &rec, err, sizeof(err)), CAVRO_OK);
    avro_value_t v;
    assert_int_equal(avro_value_get_by_name(&rec, "ingest_node", &v, NULL), EINVAL);
    v = field(&rec, "op_id");
    const char *s = NULL;
    size_t size = 0;
    assert_int_equal(avro_value_get_string(&v, &s, &size), 0);
    assert_string_equal(s, "op-1");
    v = field(&rec, "ingest_time_us");
    int64_t t = 0;
    assert_int_equal(avro_value_get_long(&v, &t), 0);
    assert_int_equal(t, 2);
    avro_value_decref(&rec);
    free(buf);
    cavro_registry_free(reg);
}

static enum cavro_status decode_shapes(const struct fixture *f, const uint8_t *body, size_t n,
                                       avro_value_t *out)
{
    const struct cavro_schema *s = cavro_registry_by_file(f->reg, "shapes.v1.avsc");
    uint8_t buf[64];
    assert_true(n + CAVRO_HEADER_SIZE <= sizeof(buf));
    buf[0] = 0xc3;
    buf[1] = 0x01;
    for (int i = 0; i < 8; i++) {
        buf[2 + i] = (uint8_t)(s->fingerprint >> (8 * i));
    }
    memcpy(buf + CAVRO_HEADER_SIZE, body, n);
    char err[256];
    return cavro_decode(f->reg, s, buf, CAVRO_HEADER_SIZE + n, out, err, sizeof(err));
}

static void test_hand_made_bodies(void **state)
{
    struct fixture *f = *state;
    static const struct {
        const char *body;
        size_t len;
        enum cavro_status expect;
    } cases[] = {
        /* s="x", e=B, u=1L, b=true, arr=[2,3] */
        {"\x02x\x02\x02\x02\x01\x04\x04\x06\x00", 10, CAVRO_OK},
        /* the same array as one block with a byte size (negative count) */
        {"\x02x\x02\x02\x02\x01\x03\x04\x04\x06\x00", 11, CAVRO_OK},
        {"\x02x\x02\x02\x02\x01\x03\x02\x04\x06\x00", 11, CAVRO_ERR_MALFORMED}, /* bad size */
        {"\x01x\x02\x02\x02\x01\x00", 7, CAVRO_ERR_MALFORMED},    /* negative length */
        {"\x7ex\x02\x02\x02\x01\x00", 7, CAVRO_ERR_TRUNCATED},    /* length beyond end */
        {"\x02\xff\x02\x02\x02\x01\x00", 7, CAVRO_ERR_MALFORMED}, /* not UTF-8 */
        {"\x02\x00\x02\x02\x02\x01\x00", 7, CAVRO_ERR_MALFORMED}, /* NUL in a string */
        {"\x02x\x04\x02\x02\x01\x00", 7, CAVRO_ERR_MALFORMED},    /* enum index 2 */
        {"\x02x\x01\x02\x02\x01\x00", 7, CAVRO_ERR_MALFORMED},    /* enum index -1 */
        {"\x02x\x02\x04\x02\x01\x00", 7, CAVRO_ERR_MALFORMED},    /* union index 2 */
        {"\x02x\x02\x02\x02\x02\x00", 7, CAVRO_ERR_MALFORMED},    /* boolean 2 */
        {"\x02x\x02\x02\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01\x01\x00", 17,
         CAVRO_ERR_MALFORMED}, /* varint longer than 10 bytes */
        {"\x02x\x02\x02\xff\xff\xff\xff\xff\xff\xff\xff\xff\x02\x01\x00", 16,
         CAVRO_ERR_MALFORMED}, /* varint overflowing 64 bits */
        {"\x02x\x02\x02\x02\x01\xfe\xff\xff\xff\xff\xff\xff\xff\x7f", 15,
         CAVRO_ERR_MALFORMED},                                     /* 2^62 array items */
        {"\x02x\x02\x02\x02\x01\x04\x04", 8, CAVRO_ERR_TRUNCATED}, /* array cut short */
        {"\x02x\x02\x02\x02\x01\x00\x00", 8, CAVRO_ERR_TRAILING_BYTES},
        {"", 0, CAVRO_ERR_TRUNCATED},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        avro_value_t out;
        enum cavro_status rc = decode_shapes(f, (const uint8_t *)cases[i].body, cases[i].len, &out);
        if (rc != cases[i].expect) {
            fail_msg("case %zu: got %s, expected %s", i, cavro_status_name(rc),
                     cavro_status_name(cases[i].expect));
        }
        if (rc == CAVRO_OK) {
            avro_value_t arr = field(&out, "arr");
            size_t n = 0;
            assert_int_equal(avro_value_get_size(&arr, &n), 0);
            assert_int_equal(n, 2);
            avro_value_decref(&out);
        }
    }
}

static void test_header_errors(void **state)
{
    struct fixture *f = *state;
    uint8_t *buf = NULL;
    size_t len = 0;
    encode_evolve_v1(f->reg, &buf, &len);
    const struct cavro_schema *v1 = cavro_registry_by_file(f->reg, "evolve.v1.avsc");
    const struct cavro_schema *shapes_schema = cavro_registry_by_file(f->reg, "shapes.v1.avsc");
    avro_value_t out;
    char err[256];

    /* Every proper prefix is truncated, whatever byte it stops at. */
    for (size_t n = 0; n < len; n++) {
        assert_int_equal(cavro_decode(f->reg, v1, buf, n, &out, err, sizeof(err)),
                         CAVRO_ERR_TRUNCATED);
        assert_true(err[0] != '\0');
    }
    buf[0] ^= 0x01;
    assert_int_equal(cavro_decode(f->reg, v1, buf, len, &out, err, sizeof(err)),
                     CAVRO_ERR_BAD_MARKER);
    buf[0] ^= 0x01;
    buf[1] = 0x02;
    assert_int_equal(cavro_decode(f->reg, v1, buf, len, &out, err, sizeof(err)),
                     CAVRO_ERR_BAD_MARKER);
    buf[1] = 0x01;
    buf[5] ^= 0x40;
    assert_int_equal(cavro_decode(f->reg, v1, buf, len, &out, err, sizeof(err)),
                     CAVRO_ERR_UNKNOWN_SCHEMA);
    buf[5] ^= 0x40;
    assert_int_equal(cavro_decode(f->reg, shapes_schema, buf, len, &out, err, sizeof(err)),
                     CAVRO_ERR_WRONG_TYPE);
    assert_non_null(strstr(err, "t.Ev"));
    uint8_t *longer = malloc(len + 1);
    assert_non_null(longer);
    memcpy(longer, buf, len);
    longer[len] = 0;
    assert_int_equal(cavro_decode(f->reg, v1, longer, len + 1, &out, err, sizeof(err)),
                     CAVRO_ERR_TRAILING_BYTES);
    free(longer);
    /* and the intact bytes still decode */
    assert_int_equal(cavro_decode(f->reg, v1, buf, len, &out, err, sizeof(err)), CAVRO_OK);
    avro_value_decref(&out);
    free(buf);
}

static void test_encode_refuses_invalid_utf8(void **state)
{
    struct fixture *f = *state;
    const struct cavro_schema *s = cavro_registry_by_file(f->reg, "shapes.v1.avsc");
    avro_value_t rec;
    assert_int_equal(avro_generic_value_new(s->iface, &rec), 0);
    avro_value_t v = field(&rec, "s");
    assert_int_equal(avro_value_set_string(&v, "\xc3\x28"), 0);
    avro_value_t branch;
    v = field(&rec, "u");
    assert_int_equal(avro_value_set_branch(&v, 0, &branch), 0);
    uint8_t *buf = (uint8_t *)"untouched";
    size_t len = 0;
    char err[256];
    assert_int_equal(cavro_encode(s, &rec, &buf, &len, err, sizeof(err)), CAVRO_ERR_INVALID_VALUE);
    assert_string_equal((const char *)buf, "untouched");
    if (strstr(err, "UTF-8") == NULL) {
        fail_msg("unexpected reason: %s", err);
    }
    avro_value_decref(&rec);
}

static void test_status_names_are_distinct(void **state)
{
    (void)state;
    for (int a = CAVRO_OK; a <= CAVRO_ERR_BAD_SCHEMA; a++) {
        for (int b = a + 1; b <= CAVRO_ERR_BAD_SCHEMA; b++) {
            assert_string_not_equal(cavro_status_name((enum cavro_status)a),
                                    cavro_status_name((enum cavro_status)b));
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_header_layout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_old_writer_new_reader, setup, teardown),
        cmocka_unit_test_setup_teardown(test_new_writer_old_reader_without_default_is_refused,
                                        setup, teardown),
        cmocka_unit_test(test_builtin_forward_compatibility),
        cmocka_unit_test_setup_teardown(test_hand_made_bodies, setup, teardown),
        cmocka_unit_test_setup_teardown(test_header_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_encode_refuses_invalid_utf8, setup, teardown),
        cmocka_unit_test(test_status_names_are_distinct),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
