/*
 * The typed records services use (common/avro_records.c): every record type
 * survives a round trip field by field, a record written with the older
 * ClientOp revision decodes with the new fields' defaults, bad values are
 * refused on encode, and a failed decode leaves a zeroed record.
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

static int setup(void **state)
{
    char err[256];
    struct cavro_registry *reg = NULL;
    if (cavro_registry_new_builtin(&reg, err, sizeof(err)) != CAVRO_OK) {
        print_error("registry: %s\n", err);
        return -1;
    }
    *state = reg;
    return 0;
}

static int teardown(void **state)
{
    cavro_registry_free(*state);
    return 0;
}

static void assert_bytes(const struct cavro_bytes *got, const void *data, size_t len)
{
    assert_int_equal(got->len, len);
    if (len > 0) {
        assert_memory_equal(got->data, data, len);
    }
}

static void assert_clock(const struct cavro_clock *got, const struct cavro_clock *want)
{
    assert_int_equal(got->count, want->count);
    for (size_t i = 0; i < want->count; i++) {
        assert_int_equal(got->entries[i].client_id, want->entries[i].client_id);
        assert_int_equal(got->entries[i].counter, want->entries[i].counter);
    }
}

/* The child `name` of `record`. A failed cmocka assertion longjmps out of the test, but
 * cmocka does not declare it noreturn, so clang's analyzer follows the failed path on to
 * the interface avro-c never set; the assert() states the invariant for it. */
static avro_value_t field(avro_value_t *record, const char *name)
{
    avro_value_t v = {NULL, NULL};
    assert_int_equal(avro_value_get_by_name(record, name, &v, NULL), 0);
    assert(v.iface != NULL);
    return v;
}

static void test_client_op_round_trip(void **state)
{
    const struct cavro_registry *reg = *state;
    struct cavro_clock_entry vv[] = {{7, 4}, {9, INT64_MAX}};
    struct cavro_client_op in = {.doc_id = (char *)"doc-\xc3\xa9",
                                 .op_id = (char *)"alice:17",
                                 .client_id = 7,
                                 .user_id = (char *)"user-1",
                                 .kind = CAVRO_OP_ITEM_RESOLVE,
                                 .payload = {(uint8_t *)"\x00\x01\xff", 3},
                                 .client_time_us = -5,
                                 .ingest_time_us = 1732233600000000LL,
                                 .version_vector = {vv, 2},
                                 .ingest_node = (char *)"ingest-1"};
    uint8_t *buf = NULL;
    size_t len = 0;
    char err[256];
    assert_int_equal(cavro_client_op_encode(reg, &in, &buf, &len, err, sizeof(err)), CAVRO_OK);
    assert_string_equal(cavro_record_type(reg, buf, len), "collab.ClientOp");
    struct cavro_client_op out;
    assert_int_equal(cavro_client_op_decode(reg, buf, len, &out, err, sizeof(err)), CAVRO_OK);
    assert_string_equal(out.doc_id, in.doc_id);
    assert_string_equal(out.op_id, in.op_id);
    assert_int_equal(out.client_id, 7);
    assert_string_equal(out.user_id, in.user_id);
    assert_int_equal(out.kind, CAVRO_OP_ITEM_RESOLVE);
    assert_bytes(&out.payload, "\x00\x01\xff", 3);
    assert_int_equal(out.client_time_us, -5);
    assert_int_equal(out.ingest_time_us, 1732233600000000LL);
    assert_clock(&out.version_vector, &in.version_vector);
    assert_string_equal(out.ingest_node, "ingest-1");
    cavro_client_op_clear(&out);
    assert_null(out.doc_id);
    cavro_client_op_clear(&out); /* twice is harmless */
    free(buf);
}

/* The brief's evolution case: a ClientOp written by an ingest node that still
 * used revision 1 (no version_vector, no ingest_node) decodes with defaults. */
static void test_client_op_from_revision_1(void **state)
{
    const struct cavro_registry *reg = *state;
    const struct cavro_schema *v1 = cavro_registry_by_file(reg, "client_op.v1.avsc");
    assert_int_equal(v1->revision, 1);
    avro_value_t rec;
    assert_int_equal(avro_generic_value_new(v1->iface, &rec), 0);
    static const char *const strings[][2] = {{"doc_id", "d1"}, {"op_id", "o1"}, {"user_id", "u1"}};
    avro_value_t v;
    for (size_t i = 0; i < 3; i++) {
        v = field(&rec, strings[i][0]);
        assert_int_equal(avro_value_set_string(&v, strings[i][1]), 0);
    }
    v = field(&rec, "client_id");
    assert_int_equal(avro_value_set_long(&v, 31), 0);
    v = field(&rec, "kind");
    assert_int_equal(avro_value_set_enum(&v, 1), 0);
    v = field(&rec, "payload");
    assert_int_equal(avro_value_set_bytes(&v, (void *)"pl", 2), 0);
    v = field(&rec, "client_time_us");
    assert_int_equal(avro_value_set_long(&v, 11), 0);
    v = field(&rec, "ingest_time_us");
    assert_int_equal(avro_value_set_long(&v, 22), 0);
    uint8_t *buf = NULL;
    size_t len = 0;
    char err[256];
    assert_int_equal(cavro_encode(v1, &rec, &buf, &len, err, sizeof(err)), CAVRO_OK);
    avro_value_decref(&rec);

    uint64_t fp = 0;
    assert_int_equal(cavro_peek_fingerprint(buf, len, &fp), CAVRO_OK);
    assert_true(fp == v1->fingerprint); /* really written with revision 1 */
    struct cavro_client_op out;
    assert_int_equal(cavro_client_op_decode(reg, buf, len, &out, err, sizeof(err)), CAVRO_OK);
    assert_string_equal(out.doc_id, "d1");
    assert_string_equal(out.user_id, "u1");
    assert_int_equal(out.client_id, 31);
    assert_int_equal(out.kind, CAVRO_OP_ITEM_WRITE);
    assert_bytes(&out.payload, "pl", 2);
    assert_int_equal(out.client_time_us, 11);
    assert_int_equal(out.ingest_time_us, 22);
    assert_int_equal(out.version_vector.count, 0); /* default {} */
    assert_non_null(out.ingest_node);
    assert_string_equal(out.ingest_node, ""); /* default "" */
    cavro_client_op_clear(&out);
    free(buf);
}

static void test_merged_op_round_trip(void **state)
{
    const struct cavro_registry *reg = *state;
    for (int present = 0; present <= 1; present++) {
        struct cavro_merged_op in = {.doc_id = (char *)"d",
                                     .doc_version = 7,
                                     .op_id = (char *)"o",
                                     .kind = CAVRO_MERGED_ITEM_CONFLICT,
                                     .payload = {NULL, 0},
                                     .state_vector = {present, {(uint8_t *)"sv", 2}},
                                     .user_id = (char *)"u",
                                     .client_id = 5,
                                     .ingest_time_us = 100,
                                     .processed_time_us = 200,
                                     .source_partition = 3,
                                     .source_offset = 1LL << 50};
        uint8_t *buf = NULL;
        size_t len = 0;
        char err[256];
        assert_int_equal(cavro_merged_op_encode(reg, &in, &buf, &len, err, sizeof(err)), CAVRO_OK);
        struct cavro_merged_op out;
        assert_int_equal(cavro_merged_op_decode(reg, buf, len, &out, err, sizeof(err)), CAVRO_OK);
        assert_string_equal(out.doc_id, "d");
        assert_int_equal(out.doc_version, 7);
        assert_int_equal(out.kind, CAVRO_MERGED_ITEM_CONFLICT);
        assert_int_equal(out.payload.len, 0);
        assert_int_equal(out.state_vector.present, present);
        if (present) {
            assert_bytes(&out.state_vector.bytes, "sv", 2);
        }
        assert_int_equal(out.processed_time_us, 200);
        assert_int_equal(out.client_id, 5);
        assert_int_equal(out.source_partition, 3);
        assert_int_equal(out.source_offset, 1LL << 50);
        cavro_merged_op_clear(&out);
        free(buf);
    }
}

static void test_item_ops_round_trip(void **state)
{
    const struct cavro_registry *reg = *state;
    struct cavro_clock_entry clock[] = {{1, 2}, {2, 2}, {3, 0}};
    struct cavro_item_op in = {.item_id = (char *)"item-16",
                               .value = {(uint8_t *)"val16_Aval16_B", 14},
                               .clock = {clock, 3},
                               .time_ms = 5,
                               .client_id = 1};
    char err[256];
    uint8_t *w = NULL;
    uint8_t *r = NULL;
    size_t wlen = 0;
    size_t rlen = 0;
    assert_int_equal(cavro_item_write_encode(reg, &in, &w, &wlen, err, sizeof(err)), CAVRO_OK);
    assert_int_equal(cavro_item_resolve_encode(reg, &in, &r, &rlen, err, sizeof(err)), CAVRO_OK);
    /* Same fields, different record types: one cannot be mistaken for the other. */
    struct cavro_item_op out;
    assert_int_equal(cavro_item_write_decode(reg, r, rlen, &out, err, sizeof(err)),
                     CAVRO_ERR_WRONG_TYPE);
    assert_null(out.item_id);
    assert_int_equal(cavro_item_resolve_decode(reg, r, rlen, &out, err, sizeof(err)), CAVRO_OK);
    assert_string_equal(out.item_id, "item-16");
    assert_bytes(&out.value, "val16_Aval16_B", 14);
    assert_clock(&out.clock, &in.clock);
    cavro_item_op_clear(&out);
    assert_int_equal(cavro_item_write_decode(reg, w, wlen, &out, err, sizeof(err)), CAVRO_OK);
    assert_int_equal(out.client_id, 1);
    assert_int_equal(out.time_ms, 5);
    cavro_item_op_clear(&out);
    free(w);
    free(r);
}

static void test_item_state_round_trip(void **state)
{
    const struct cavro_registry *reg = *state;
    /* The seeds: A writes [2,0,0] while B writes [1,2,0]. */
    struct cavro_clock_entry ca[] = {{1, 2}};
    struct cavro_clock_entry cb[] = {{1, 1}, {2, 2}};
    struct cavro_item_sibling siblings[] = {
        {{(uint8_t *)"val16_A", 7}, {ca, 1}, 10, 1},
        {{(uint8_t *)"val16_B", 7}, {cb, 2}, 11, 2},
    };
    struct cavro_item_state in = {.item_id = (char *)"i",
                                  .version = 2,
                                  .revision = 3,
                                  .policy = CAVRO_POLICY_MANUAL,
                                  .siblings = siblings,
                                  .sibling_count = 2,
                                  .conflict = 1};
    uint8_t *buf = NULL;
    size_t len = 0;
    char err[256];
    assert_int_equal(cavro_item_state_encode(reg, &in, &buf, &len, err, sizeof(err)), CAVRO_OK);
    struct cavro_item_state out;
    assert_int_equal(cavro_item_state_decode(reg, buf, len, &out, err, sizeof(err)), CAVRO_OK);
    assert_string_equal(out.item_id, "i");
    assert_int_equal(out.version, 2);
    assert_int_equal(out.revision, 3);
    assert_int_equal(out.conflict, 1);
    assert_int_equal(out.policy, CAVRO_POLICY_MANUAL);
    assert_int_equal(out.sibling_count, 2);
    for (size_t i = 0; i < 2; i++) {
        assert_bytes(&out.siblings[i].value, siblings[i].value.data, 7);
        assert_clock(&out.siblings[i].clock, &siblings[i].clock);
        assert_int_equal(out.siblings[i].time_ms, siblings[i].time_ms);
        assert_int_equal(out.siblings[i].client_id, siblings[i].client_id);
    }
    cavro_item_state_clear(&out);
    free(buf);
}

static void test_dlq_and_snapshot_round_trip(void **state)
{
    const struct cavro_registry *reg = *state;
    struct cavro_dlq_record dlq = {.original_key = {1, {(uint8_t *)"doc", 3}},
                                   .original_value = {(uint8_t *)"\xc3\x01garbage", 9},
                                   .topic = (char *)"collab.ops",
                                   .partition = 5,
                                   .offset = 99,
                                   .reason_code = (char *)"avro_unknown_schema",
                                   .reason = (char *)"no schema with fingerprint ...",
                                   .service = (char *)"processor-1",
                                   .failed_time_us = 77};
    uint8_t *buf = NULL;
    size_t len = 0;
    char err[256];
    assert_int_equal(cavro_dlq_record_encode(reg, &dlq, &buf, &len, err, sizeof(err)), CAVRO_OK);
    struct cavro_dlq_record dout;
    assert_int_equal(cavro_dlq_record_decode(reg, buf, len, &dout, err, sizeof(err)), CAVRO_OK);
    assert_int_equal(dout.original_key.present, 1);
    assert_bytes(&dout.original_key.bytes, "doc", 3);
    assert_bytes(&dout.original_value, "\xc3\x01garbage", 9);
    assert_string_equal(dout.topic, "collab.ops");
    assert_int_equal(dout.partition, 5);
    assert_int_equal(dout.offset, 99);
    assert_string_equal(dout.reason_code, "avro_unknown_schema");
    assert_string_equal(dout.service, "processor-1");
    assert_int_equal(dout.failed_time_us, 77);
    cavro_dlq_record_clear(&dout);
    free(buf);

    struct cavro_bytes items[] = {{(uint8_t *)"i1", 2}, {NULL, 0}};
    struct cavro_snapshot snap = {.doc_id = (char *)"d",
                                  .doc_version = 1000,
                                  .state = {(uint8_t *)"\x00\x00", 2},
                                  .state_vector = {(uint8_t *)"\x00", 1},
                                  .items = {items, 2},
                                  .source_partition = 0,
                                  .source_offset = 12345,
                                  .created_time_us = 9};
    assert_int_equal(cavro_snapshot_encode(reg, &snap, &buf, &len, err, sizeof(err)), CAVRO_OK);
    struct cavro_snapshot sout;
    assert_int_equal(cavro_snapshot_decode(reg, buf, len, &sout, err, sizeof(err)), CAVRO_OK);
    assert_int_equal(sout.doc_version, 1000);
    assert_bytes(&sout.state, "\x00\x00", 2);
    assert_int_equal(sout.items.count, 2);
    assert_bytes(&sout.items.items[0], "i1", 2);
    assert_int_equal(sout.items.items[1].len, 0);
    assert_int_equal(sout.source_offset, 12345);
    cavro_snapshot_clear(&sout);
    free(buf);
}

static void test_encode_refuses_bad_values(void **state)
{
    const struct cavro_registry *reg = *state;
    struct cavro_clock_entry dup[] = {{1, 1}, {1, 2}};
    struct cavro_clock_entry unsorted[] = {{2, 1}, {1, 1}};
    struct cavro_clock_entry negative[] = {{-1, 1}};
    struct cavro_clock_entry negative_counter[] = {{1, -1}};
    struct cavro_client_op good = {.doc_id = (char *)"d",
                                   .op_id = (char *)"o",
                                   .client_id = 1,
                                   .user_id = (char *)"u",
                                   .kind = CAVRO_OP_YJS_UPDATE,
                                   .ingest_node = (char *)"n"};
    struct cavro_client_op bad[9];
    for (size_t i = 0; i < 9; i++) {
        bad[i] = good;
    }
    bad[0].doc_id = NULL;
    bad[1].kind = (enum cavro_op_kind)3;
    bad[2].version_vector = (struct cavro_clock){dup, 2};
    bad[3].version_vector = (struct cavro_clock){unsorted, 2};
    bad[4].payload = (struct cavro_bytes){NULL, 4};
    bad[5].user_id = (char *)"\xff\xfe";
    bad[6].version_vector = (struct cavro_clock){negative, 1};
    bad[7].version_vector = (struct cavro_clock){negative_counter, 1};
    bad[8].version_vector = (struct cavro_clock){NULL, 1};
    char err[256];
    for (size_t i = 0; i < 9; i++) {
        uint8_t *buf = NULL;
        size_t len = 0;
        err[0] = '\0';
        assert_int_equal(cavro_client_op_encode(reg, &bad[i], &buf, &len, err, sizeof(err)),
                         CAVRO_ERR_INVALID_VALUE);
        assert_null(buf);
        assert_true(err[0] != '\0');
    }
    uint8_t *buf = NULL;
    size_t len = 0;
    assert_int_equal(cavro_client_op_encode(reg, &good, &buf, &len, err, sizeof(err)), CAVRO_OK);
    free(buf);
}

static void test_failed_decode_leaves_zeroed_record(void **state)
{
    const struct cavro_registry *reg = *state;
    struct cavro_merged_op in = {
        .doc_id = (char *)"d", .op_id = (char *)"o", .user_id = (char *)"u", .client_id = 1};
    uint8_t *buf = NULL;
    size_t len = 0;
    char err[256];
    assert_int_equal(cavro_merged_op_encode(reg, &in, &buf, &len, err, sizeof(err)), CAVRO_OK);
    struct cavro_client_op op;
    memset(&op, 0x5a, sizeof(op));
    assert_int_equal(cavro_client_op_decode(reg, buf, len, &op, err, sizeof(err)),
                     CAVRO_ERR_WRONG_TYPE);
    assert_null(op.doc_id);
    assert_int_equal(op.payload.len, 0);
    cavro_client_op_clear(&op);
    struct cavro_merged_op out;
    assert_int_equal(cavro_merged_op_decode(reg, buf, len - 1, &out, err, sizeof(err)),
                     CAVRO_ERR_TRUNCATED);
    assert_null(out.doc_id);
    assert_null(cavro_record_type(reg, buf, 3));
    free(buf);
}

/* A clock written by some other producer out of order is refused on decode,
 * like on encode: consumers only ever see canonical clocks. */
static void test_decode_refuses_unsorted_clock(void **state)
{
    const struct cavro_registry *reg = *state;
    const struct cavro_schema *v2 = cavro_registry_latest(reg, "collab.ClientOp");
    avro_value_t rec;
    assert_int_equal(avro_generic_value_new(v2->iface, &rec), 0);
    avro_value_t v;
    v = field(&rec, "payload");
    assert_int_equal(avro_value_set_bytes(&v, (void *)"p", 1), 0);
    v = field(&rec, "version_vector");
    static const int64_t ids[] = {5, 3};
    for (size_t i = 0; i < 2; i++) {
        avro_value_t entry = {NULL, NULL};
        assert_int_equal(avro_value_append(&v, &entry, NULL), 0);
        assert(entry.iface != NULL); /* see field() */
        avro_value_t client_id = field(&entry, "client_id");
        assert_int_equal(avro_value_set_long(&client_id, ids[i]), 0);
    }
    uint8_t *buf = NULL;
    size_t len = 0;
    char err[256];
    assert_int_equal(cavro_encode(v2, &rec, &buf, &len, err, sizeof(err)), CAVRO_OK);
    avro_value_decref(&rec);
    struct cavro_client_op out;
    assert_int_equal(cavro_client_op_decode(reg, buf, len, &out, err, sizeof(err)),
                     CAVRO_ERR_INVALID_VALUE);
    assert_null(out.doc_id);
    assert_null(out.version_vector.entries);
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_client_op_round_trip),
        cmocka_unit_test(test_client_op_from_revision_1),
        cmocka_unit_test(test_merged_op_round_trip),
        cmocka_unit_test(test_item_ops_round_trip),
        cmocka_unit_test(test_item_state_round_trip),
        cmocka_unit_test(test_dlq_and_snapshot_round_trip),
        cmocka_unit_test(test_encode_refuses_bad_values),
        cmocka_unit_test(test_failed_decode_leaves_zeroed_record),
        cmocka_unit_test(test_decode_refuses_unsorted_clock),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
