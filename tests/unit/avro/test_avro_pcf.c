/*
 * Parsing Canonical Form and CRC-64-AVRO fingerprints (common/avro_pcf.c).
 * Expected values are known answers from independent implementations: the
 * Avro specification's test vectors (share/test/data/schema-tests.txt of
 * apache/avro, cross-checked there against Java) and the fastavro package
 * (to_parsing_canonical_form / fingerprint), computed once by hand.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/avro_pcf.h"

struct pcf_case {
    const char *input;
    const char *canonical;
    uint64_t fingerprint; /* Java's signed long, as unsigned */
};

static void check_case(const struct pcf_case *c)
{
    char *pcf = NULL;
    char err[200];
    assert_int_equal(cavro_pcf_from_json(c->input, strlen(c->input), &pcf, err, sizeof(err)), 0);
    assert_string_equal(pcf, c->canonical);
    assert_true(cavro_fingerprint64(pcf, strlen(pcf)) == c->fingerprint);
    free(pcf);
}

static void test_primitives(void **state)
{
    (void)state;
    static const struct pcf_case cases[] = {
        {"\"null\"", "\"null\"", 7195948357588979594ULL},
        {"{\"type\":\"null\"}", "\"null\"", 7195948357588979594ULL},
        {"\"boolean\"", "\"boolean\"", (uint64_t)-6970731678124411036LL},
        {"\"int\"", "\"int\"", 8247732601305521295ULL},
        {"{\"type\":\"long\"}", "\"long\"", (uint64_t)-3434872931120570953LL},
        {"\"float\"", "\"float\"", 5583340709985441680ULL},
        {"\"double\"", "\"double\"", (uint64_t)-8181574048448539266LL},
        {"\"bytes\"", "\"bytes\"", 5746618253357095269ULL},
        {"{\"type\":\"string\"}", "\"string\"", (uint64_t)-8142146995180207161LL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        check_case(&cases[i]);
    }
}

static void test_complex_types(void **state)
{
    (void)state;
    static const struct pcf_case cases[] = {
        {"[  ]", "[]", (uint64_t)-1241056759729112623LL},
        {"[ \"int\" , {\"type\":\"boolean\"} ]", "[\"int\",\"boolean\"]", 5392556393470105090ULL},
        {"{\"fields\":[], \"type\":\"record\", \"name\":\"foo\"}",
         "{\"name\":\"foo\",\"type\":\"record\",\"fields\":[]}", (uint64_t)-4824392279771201922LL},
        {"{\"fields\":[], \"type\":\"record\", \"name\":\"foo\", \"namespace\":\"x.y\"}",
         "{\"name\":\"x.y.foo\",\"type\":\"record\",\"fields\":[]}", 5916914534497305771ULL},
        {"{\"fields\":[], \"type\":\"record\", \"name\":\"a.b.foo\", \"namespace\":\"x.y\"}",
         "{\"name\":\"a.b.foo\",\"type\":\"record\",\"fields\":[]}",
         (uint64_t)-4616218487480524110LL},
        {"{\"fields\":[], \"type\":\"record\", \"name\":\"foo\", \"doc\":\"Useful info\", "
         "\"aliases\":[\"foo\",\"bar\"]}",
         "{\"name\":\"foo\",\"type\":\"record\",\"fields\":[]}", (uint64_t)-4824392279771201922LL},
        {"{ \"fields\":[{\"type\":\"boolean\", \"aliases\":[], \"name\":\"f1\", "
         "\"default\":true},\n"
         " {\"order\":\"descending\",\"name\":\"f2\",\"doc\":\"Hello\",\"type\":\"int\"}],\n"
         " \"type\":\"record\", \"name\":\"foo\"\n}",
         "{\"name\":\"foo\",\"type\":\"record\",\"fields\":[{\"name\":\"f1\",\"type\":\"boolean\"},"
         "{\"name\":\"f2\",\"type\":\"int\"}]}",
         (uint64_t)-4860222112080293046LL},
        {"{\"namespace\":\"x.y.z\", \"type\":\"enum\", \"name\":\"foo\", \"doc\":\"foo bar\", "
         "\"symbols\":[\"A1\", \"A2\"]}",
         "{\"name\":\"x.y.z.foo\",\"type\":\"enum\",\"symbols\":[\"A1\",\"A2\"]}",
         (uint64_t)-4448647247586288245LL},
        {"{\"namespace\":\"x.y.z\", \"type\":\"fixed\", \"name\":\"foo\", \"doc\":\"foo bar\", "
         "\"size\":32}",
         "{\"name\":\"x.y.z.foo\",\"type\":\"fixed\",\"size\":32}",
         (uint64_t)-3064184465700546786LL},
        {"{ \"items\":{\"type\":\"null\"}, \"type\":\"array\"}",
         "{\"type\":\"array\",\"items\":\"null\"}", (uint64_t)-589620603366471059LL},
        {"{ \"values\":\"string\", \"type\":\"map\"}", "{\"type\":\"map\",\"values\":\"string\"}",
         (uint64_t)-8732877298790414990LL},
        /* A recursive record refers to itself by name. */
        {"{\"name\":\"PigValue\",\"type\":\"record\",\n \"fields\":[{\"name\":\"value\", "
         "\"type\":[\"null\", \"int\", \"long\", \"PigValue\"]}]}",
         "{\"name\":\"PigValue\",\"type\":\"record\",\"fields\":[{\"name\":\"value\",\"type\":["
         "\"null\",\"int\",\"long\",\"PigValue\"]}]}",
         (uint64_t)-1759257747318642341LL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        check_case(&cases[i]);
    }
}

/* Namespaces inherited and overridden, logical types dropped, a named type
 * reused by name (fastavro's answer). */
static void test_namespaces_and_logical_types(void **state)
{
    (void)state;
    static const struct pcf_case c = {
        "{\"type\":\"record\",\"name\":\"R\",\"namespace\":\"a.b\",\"doc\":\"d\",\"fields\":["
        "{\"name\":\"x\",\"type\":{\"type\":\"long\",\"logicalType\":\"timestamp-micros\"},"
        "\"default\":0,\"doc\":\"y\"},"
        "{\"name\":\"e\",\"type\":{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"A\",\"B\"]}},"
        "{\"name\":\"e2\",\"type\":\"E\"},"
        "{\"name\":\"f\",\"type\":{\"type\":\"fixed\",\"name\":\"F\",\"namespace\":\"c\","
        "\"size\":16}},"
        "{\"name\":\"u\",\"type\":[\"null\",{\"type\":\"map\",\"values\":{\"type\":\"array\","
        "\"items\":\"c.F\"}}]}]}",
        "{\"name\":\"a.b.R\",\"type\":\"record\",\"fields\":[{\"name\":\"x\",\"type\":\"long\"},"
        "{\"name\":\"e\",\"type\":{\"name\":\"a.b.E\",\"type\":\"enum\",\"symbols\":[\"A\","
        "\"B\"]}},{\"name\":\"e2\",\"type\":\"a.b.E\"},{\"name\":\"f\",\"type\":{\"name\":\"c.F\","
        "\"type\":\"fixed\",\"size\":16}},{\"name\":\"u\",\"type\":[\"null\",{\"type\":\"map\","
        "\"values\":{\"type\":\"array\",\"items\":\"c.F\"}}]}]}",
        7245112491061397408ULL};
    check_case(&c);
}

/* Escaped characters in strings become UTF-8 (rule STRINGS). */
static void test_string_escapes(void **state)
{
    (void)state;
    const char *in = "{\"type\":\"enum\",\"name\":\"\\u0045n\",\"symbols\":[\"\\u00e9t\\u00e9\"]}";
    char *pcf = NULL;
    char err[100];
    assert_int_equal(cavro_pcf_from_json(in, strlen(in), &pcf, err, sizeof(err)), 0);
    assert_string_equal(pcf,
                        "{\"name\":\"En\",\"type\":\"enum\",\"symbols\":[\"\xc3\xa9t\xc3\xa9\"]}");
    free(pcf);
}

static void test_invalid_schemas(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",
        "{not json",
        "42",
        "{\"type\":\"record\",\"fields\":[]}",                /* no name */
        "{\"type\":\"record\",\"name\":\"R\",\"fields\":{}}", /* fields not an array */
        "{\"type\":\"record\",\"name\":\"R\",\"fields\":[{\"name\":\"a\"}]}", /* no type */
        "\"Unknown\"",                                                        /* undefined name */
        ("[{\"type\":\"fixed\",\"name\":\"F\",\"size\":1},{\"type\":\"fixed\",\"name\":\"F\","
         "\"size\":2}]"), /* defined twice */
        "{\"type\":\"fixed\",\"name\":\"F\",\"size\":\"4\"}",
        "{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[1]}",
        "{\"type\":\"array\"}",
        "{\"type\":\"record\",\"name\":\"R\",\"namespace\":7,\"fields\":[]}",
        "{\"type\":\"record\",\"name\":\"R\",\"fields\":[],\"name\":\"S\"}", /* duplicate key */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char *pcf = (char *)"untouched";
        char err[200] = "";
        assert_int_equal(cavro_pcf_from_json(bad[i], strlen(bad[i]), &pcf, err, sizeof(err)), -1);
        assert_string_equal(pcf, "untouched");
        assert_true(err[0] != '\0');
    }
}

static void test_deep_nesting_is_refused(void **state)
{
    (void)state;
    size_t depth = 200;
    char *json = malloc(depth * 2 + 16);
    assert_non_null(json);
    size_t n = 0;
    for (size_t i = 0; i < depth; i++) {
        json[n++] = '[';
    }
    /* Never NUL-terminated, on purpose: cavro_pcf_from_json is bounded by its length. */
    static const char leaf[] = "\"int\"";
    memcpy(json + n, leaf, sizeof(leaf) - 1);
    n += sizeof(leaf) - 1;
    for (size_t i = 0; i < depth; i++) {
        json[n++] = ']';
    }
    char *pcf = NULL;
    char err[200];
    assert_int_equal(cavro_pcf_from_json(json, n, &pcf, err, sizeof(err)), -1);
    free(json);
}

static void test_fingerprint_of_nothing_is_the_seed(void **state)
{
    (void)state;
    assert_true(cavro_fingerprint64("", 0) == 0xc15d213aa4d7a795ULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_primitives),
        cmocka_unit_test(test_complex_types),
        cmocka_unit_test(test_namespaces_and_logical_types),
        cmocka_unit_test(test_string_escapes),
        cmocka_unit_test(test_invalid_schemas),
        cmocka_unit_test(test_deep_nesting_is_refused),
        cmocka_unit_test(test_fingerprint_of_nothing_is_the_seed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
