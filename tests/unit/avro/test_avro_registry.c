/*
 * The schema registry (common/avro_registry.c): the schemas compiled into the
 * binary, their fingerprints, the resolutions between revisions, and every
 * way a schema set can be refused.
 *
 * The expected fingerprints were computed with the fastavro package from the
 * .avsc files. They also guard the evolution rules: a registered schema must
 * never change its canonical form (docs/schemas.md); changing one breaks this
 * test on purpose - add a new revision instead.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/avro_pcf.h"
#include "common/avro_registry.h"

static const struct {
    const char *file;
    uint64_t fingerprint;
} known_fingerprints[] = {
    {"client_op.v1.avsc", 0x97ce350bb30f4920ULL},  {"client_op.v2.avsc", 0x890da22209a0faa5ULL},
    {"dlq_record.v1.avsc", 0x14055fe37947e10bULL}, {"item_resolve.v1.avsc", 0x4a97bac3bb22e166ULL},
    {"item_state.v1.avsc", 0x2c8b1e67e7a84e99ULL}, {"item_write.v1.avsc", 0x171c1ae364f5b423ULL},
    {"merged_op.v1.avsc", 0x37a1ce62597f7e83ULL},  {"snapshot.v1.avsc", 0x9e5548c2ee5a893fULL},
};

static void test_builtin_schemas_load_with_known_fingerprints(void **state)
{
    (void)state;
    struct cavro_registry *reg = NULL;
    char err[256];
    assert_int_equal(cavro_registry_new_builtin(&reg, err, sizeof(err)), CAVRO_OK);
    size_t count = sizeof(known_fingerprints) / sizeof(known_fingerprints[0]);
    assert_int_equal(cavro_registry_size(reg), count);
    for (size_t i = 0; i < count; i++) {
        const struct cavro_schema *s = cavro_registry_by_file(reg, known_fingerprints[i].file);
        assert_non_null(s);
        assert_true(s->fingerprint == known_fingerprints[i].fingerprint);
        assert_ptr_equal(cavro_registry_by_fingerprint(reg, s->fingerprint), s);
    }
    const struct cavro_schema *v2 = cavro_registry_by_file(reg, "client_op.v2.avsc");
    assert_string_equal(v2->fullname, "collab.ClientOp");
    assert_int_equal(v2->revision, 2);
    assert_string_equal(
        v2->canonical,
        "{\"name\":\"collab.ClientOp\",\"type\":\"record\",\"fields\":[{\"name\":\"doc_id\",\"typ"
        "e\":\"string\"},{\"name\":\"op_id\",\"type\":\"string\"},{\"name\":\"client_id\",\"type"
        "\":\"long\"},{\"name\":\"user_id\",\"type\":\"string\"},{\"name\":\"kind\",\"type\":{\"n"
        "ame\":\"collab.OpKind\",\"type\":\"enum\",\"symbols\":[\"YJS_UPDATE\",\"ITEM_WRITE\",\"I"
        "TEM_RESOLVE\"]}},{\"name\":\"payload\",\"type\":\"bytes\"},{\"name\":\"client_time_us\","
        "\"type\":\"long\"},{\"name\":\"ingest_time_us\",\"type\":\"long\"},{\"name\":\"version_v"
        "ector\",\"type\":{\"type\":\"array\",\"items\":{\"name\":\"collab.ClockEntry\",\"type\":"
        "\"record\",\"fields\":[{\"name\":\"client_id\",\"type\":\"long\"},{\"name\":\"counter\","
        "\"type\":\"long\"}]}}},{\"name\":\"ingest_node\",\"type\":\"string\"}]}");
    assert_null(cavro_registry_by_fingerprint(reg, 0x1234));
    assert_null(cavro_registry_by_file(reg, "nope.v1.avsc"));
    cavro_registry_free(reg);
}

static void test_latest_revision_and_resolutions(void **state)
{
    (void)state;
    struct cavro_registry *reg = NULL;
    char err[256];
    assert_int_equal(cavro_registry_new_builtin(&reg, err, sizeof(err)), CAVRO_OK);
    const struct cavro_schema *v1 = cavro_registry_by_file(reg, "client_op.v1.avsc");
    const struct cavro_schema *v2 = cavro_registry_by_file(reg, "client_op.v2.avsc");
    assert_ptr_equal(cavro_registry_latest(reg, "collab.ClientOp"), v2);
    assert_null(cavro_registry_latest(reg, "collab.Nothing"));

    const struct cavro_resolution *up = cavro_registry_resolution(reg, v1, v2);
    assert_non_null(up);
    assert_true(up->compatible);
    assert_true(up->fills_defaults); /* v2 added two fields with defaults */
    const struct cavro_resolution *down = cavro_registry_resolution(reg, v2, v1);
    assert_non_null(down);
    assert_true(down->compatible);
    assert_false(down->fills_defaults); /* v1 only drops what v2 added */
    const struct cavro_schema *merged = cavro_registry_latest(reg, "collab.MergedOp");
    assert_null(cavro_registry_resolution(reg, v1, merged)); /* other record type */
    cavro_registry_free(reg);
}

static enum cavro_status load_one(const char *file, const char *json, char *err, size_t errlen)
{
    struct cavro_schema_source src = {file, json, strlen(json)};
    struct cavro_registry *reg = NULL;
    enum cavro_status rc = cavro_registry_new(&src, 1, &reg, err, errlen);
    assert_true((rc == CAVRO_OK) == (reg != NULL));
    cavro_registry_free(reg);
    return rc;
}

static void test_refused_schemas(void **state)
{
    (void)state;
    char err[256];
    const char *rec = "{\"type\":\"record\",\"name\":\"R\",\"fields\":[{\"name\":\"a\",\"type\":"
                      "\"int\"}]}";
    assert_int_equal(load_one("r.v1.avsc", rec, err, sizeof(err)), CAVRO_OK);
    struct cavro_registry *none = NULL;
    assert_int_equal(cavro_registry_new(NULL, 0, &none, err, sizeof(err)), CAVRO_ERR_BAD_SCHEMA);
    assert_null(none);
    /* File names must carry a revision. */
    assert_int_equal(load_one("r.avsc", rec, err, sizeof(err)), CAVRO_ERR_BAD_SCHEMA);
    assert_int_equal(load_one("r.v0.avsc", rec, err, sizeof(err)), CAVRO_ERR_BAD_SCHEMA);
    assert_int_equal(load_one("r.vx.avsc", rec, err, sizeof(err)), CAVRO_ERR_BAD_SCHEMA);
    assert_int_equal(load_one("r.v1.json", rec, err, sizeof(err)), CAVRO_ERR_BAD_SCHEMA);
    /* Not JSON, not a schema, not a record. */
    assert_int_equal(load_one("r.v1.avsc", "{", err, sizeof(err)), CAVRO_ERR_BAD_SCHEMA);
    assert_int_equal(load_one("r.v1.avsc", "{\"type\":\"nonsense\"}", err, sizeof(err)),
                     CAVRO_ERR_BAD_SCHEMA);
    assert_int_equal(load_one("r.v1.avsc", "\"string\"", err, sizeof(err)), CAVRO_ERR_BAD_SCHEMA);
    assert_non_null(strstr(err, "must be a record"));
    /* Defaults that do not fit their field's type. */
    static const char *const bad_defaults[] = {
        "{\"type\":\"record\",\"name\":\"R\",\"fields\":[{\"name\":\"a\",\"type\":\"int\","
        "\"default\":\"x\"}]}",
        "{\"type\":\"record\",\"name\":\"R\",\"fields\":[{\"name\":\"a\",\"type\":\"int\","
        "\"default\":4294967296}]}",
        "{\"type\":\"record\",\"name\":\"R\",\"fields\":[{\"name\":\"a\",\"type\":[\"null\","
        "\"string\"],\"default\":\"x\"}]}",
        "{\"type\":\"record\",\"name\":\"R\",\"fields\":[{\"name\":\"a\",\"type\":{\"type\":"
        "\"enum\",\"name\":\"E\",\"symbols\":[\"A\"]},\"default\":\"B\"}]}",
        "{\"type\":\"record\",\"name\":\"R\",\"fields\":[{\"name\":\"a\",\"type\":{\"type\":"
        "\"map\",\"values\":\"long\"},\"default\":{\"k\":true}}]}",
        "{\"type\":\"record\",\"name\":\"R\",\"fields\":[{\"name\":\"a\",\"type\":{\"type\":"
        "\"array\",\"items\":{\"type\":\"record\",\"name\":\"S\",\"fields\":[{\"name\":\"b\","
        "\"type\":\"long\",\"default\":\"no\"}]}}}]}",
    };
    for (size_t i = 0; i < sizeof(bad_defaults) / sizeof(bad_defaults[0]); i++) {
        err[0] = '\0';
        assert_int_equal(load_one("r.v1.avsc", bad_defaults[i], err, sizeof(err)),
                         CAVRO_ERR_BAD_SCHEMA);
        assert_non_null(strstr(err, "default"));
    }
}

static void test_duplicates_are_refused(void **state)
{
    (void)state;
    char err[256];
    struct cavro_registry *reg = NULL;
    const char *a = "{\"type\":\"record\",\"name\":\"R\",\"fields\":[]}";
    const char *a_doc = "{\"type\":\"record\",\"name\":\"R\",\"doc\":\"same form\",\"fields\":[]}";
    const char *b = "{\"type\":\"record\",\"name\":\"R\",\"fields\":[{\"name\":\"x\",\"type\":"
                    "\"int\",\"default\":1}]}";
    struct cavro_schema_source same_form[] = {{"r.v1.avsc", a, strlen(a)},
                                              {"r.v2.avsc", a_doc, strlen(a_doc)}};
    assert_int_equal(cavro_registry_new(same_form, 2, &reg, err, sizeof(err)),
                     CAVRO_ERR_BAD_SCHEMA);
    assert_null(reg);
    struct cavro_schema_source same_revision[] = {{"r.v1.avsc", a, strlen(a)},
                                                  {"other.v1.avsc", b, strlen(b)}};
    assert_int_equal(cavro_registry_new(same_revision, 2, &reg, err, sizeof(err)),
                     CAVRO_ERR_BAD_SCHEMA);
    assert_null(reg);
}

static enum cavro_status load_two(const char *v1, const char *v2, char *err, size_t errlen,
                                  struct cavro_registry **out)
{
    struct cavro_schema_source srcs[] = {{"r.v1.avsc", v1, strlen(v1)},
                                         {"r.v2.avsc", v2, strlen(v2)}};
    *out = NULL;
    return cavro_registry_new(srcs, 2, out, err, errlen);
}

/* The newest revision must read every older one; the reverse is only reported. */
static void test_backward_compatibility_is_enforced(void **state)
{
    (void)state;
    char err[256];
    struct cavro_registry *reg = NULL;
    const char *a_int = "{\"type\":\"record\",\"name\":\"R\",\"fields\":[{\"name\":\"a\","
                        "\"type\":\"int\"}]}";
    const char *a_int_b = "{\"type\":\"record\",\"name\":\"R\",\"fields\":[{\"name\":\"a\","
                          "\"type\":\"int\"},{\"name\":\"b\",\"type\":\"string\"}]}";
    const char *a_string = "{\"type\":\"record\",\"name\":\"R\",\"fields\":[{\"name\":\"a\","
                           "\"type\":\"string\"}]}";
    /* v2 adds b without a default: v2 cannot read v1 records. */
    assert_int_equal(load_two(a_int, a_int_b, err, sizeof(err), &reg), CAVRO_ERR_BAD_SCHEMA);
    assert_null(reg);
    assert_non_null(strstr(err, "no default"));
    /* v2 changes a's type beyond Avro's promotions. */
    assert_int_equal(load_two(a_int, a_string, err, sizeof(err), &reg), CAVRO_ERR_BAD_SCHEMA);
    assert_null(reg);
    /* v2 drops b: v2 reads v1 (b skipped); v1 cannot read v2, which is allowed. */
    assert_int_equal(load_two(a_int_b, a_int, err, sizeof(err), &reg), CAVRO_OK);
    const struct cavro_schema *s1 = cavro_registry_by_file(reg, "r.v1.avsc");
    const struct cavro_schema *s2 = cavro_registry_by_file(reg, "r.v2.avsc");
    assert_true(cavro_registry_resolution(reg, s1, s2)->compatible);
    const struct cavro_resolution *r21 = cavro_registry_resolution(reg, s2, s1);
    assert_false(r21->compatible);
    assert_non_null(strstr(r21->reason, "no default"));
    cavro_registry_free(reg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_builtin_schemas_load_with_known_fingerprints),
        cmocka_unit_test(test_latest_revision_and_resolutions),
        cmocka_unit_test(test_refused_schemas),
        cmocka_unit_test(test_duplicates_are_refused),
        cmocka_unit_test(test_backward_compatibility_is_enforced),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
