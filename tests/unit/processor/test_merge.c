/*
 * processor/merge: one op into one document, with the real Avro registry and
 * crdt engine (both in-process): version numbering, the idempotency checks
 * (op id seen, update already contained, stale or repeated item write), the
 * merged record itself, poison ops that leave the document as it was, item
 * conflicts, and replaying the merged records into a fresh document.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/avro_registry.h"
#include "processor/merge.h"

typedef struct fixture {
    struct cavro_registry *avro;
    pdoc_table *docs;
    pdoc *doc;
    crdt_doc *client; /* makes the Yjs updates */
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    char err[256];
    if (!f || cavro_registry_new_builtin(&f->avro, err, sizeof err) != CAVRO_OK)
        return -1;
    f->docs = pdoc_table_new(4, NULL);
    f->doc = f->docs ? pdoc_insert(f->docs, "doc-1", 0) : NULL;
    crdt_options o;
    crdt_options_init(&o);
    o.client_id = 77;
    if (!f->doc || crdt_doc_new(&o, &f->client) != CRDT_OK)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    crdt_doc_free(f->client);
    pdoc_table_free(f->docs);
    cavro_registry_free(f->avro);
    free(f);
    return 0;
}

/* A Yjs update typing text at the end of the client's document. Caller frees. */
static uint8_t *type_text(fixture *f, const char *text, size_t *len)
{
    char *cur = NULL;
    assert_int_equal(crdt_read_text(f->client, "text", NULL, 0, &cur), CRDT_OK);
    size_t at = cur ? strlen(cur) : 0;
    free(cur);
    uint8_t *u = NULL;
    assert_int_equal(crdt_text_insert(f->client, "text", at, text, strlen(text), NULL, &u, len),
                     CRDT_OK);
    return u;
}

static struct cavro_client_op op_of(const char *op_id, enum cavro_op_kind kind,
                                    const uint8_t *payload, size_t len)
{
    struct cavro_client_op op = {0};
    op.doc_id = "doc-1";
    op.op_id = (char *)op_id;
    op.client_id = 77;
    op.user_id = "alice";
    op.kind = kind;
    op.payload.data = (uint8_t *)payload;
    op.payload.len = len;
    op.ingest_time_us = 1000;
    op.ingest_node = "test";
    return op;
}

static char *doc_text(pdoc *d)
{
    char *text = NULL;
    assert_int_equal(crdt_read_text(d->crdt, "text", NULL, 0, &text), CRDT_OK);
    return text;
}

static void test_versions_and_record(void **state)
{
    fixture *f = *state;
    const char *words[] = {"hello", " big", " world"};
    for (int i = 0; i < 3; i++) {
        size_t len;
        uint8_t *u = type_text(f, words[i], &len);
        char op_id[16];
        snprintf(op_id, sizeof op_id, "op-%d", i);
        struct cavro_client_op op = op_of(op_id, CAVRO_OP_YJS_UPDATE, u, len);
        pmerge_out out;
        assert_int_equal(pmerge_apply(f->avro, f->doc, &op, 3, 40 + i, 5000 + i, &out),
                         PMERGE_MERGED);
        assert_int_equal(out.version, i + 1);
        assert_int_equal(f->doc->version, i + 1);
        assert_int_equal(out.kind, CAVRO_MERGED_YJS_UPDATE);
        assert_int_equal(out.payload_len, len);
        assert_memory_equal(out.payload, u, len);
        /* The record is a MergedOp of this version with the op's fields. */
        struct cavro_merged_op m;
        char why[256];
        assert_int_equal(
            cavro_merged_op_decode(f->avro, out.record, out.record_len, &m, why, sizeof why),
            CAVRO_OK);
        assert_string_equal(m.doc_id, "doc-1");
        assert_string_equal(m.op_id, op_id);
        assert_int_equal(m.doc_version, i + 1);
        assert_string_equal(m.user_id, "alice");
        assert_int_equal(m.source_partition, 3);
        assert_int_equal(m.source_offset, 40 + i);
        assert_int_equal(m.processed_time_us, 5000 + i);
        assert_int_equal(m.ingest_time_us, 1000);
        assert_true(m.state_vector.present);
        cavro_merged_op_clear(&m);
        pmerge_out_clear(&out);
        free(u);
    }
    char *text = doc_text(f->doc);
    assert_string_equal(text, "hello big world");
    free(text);
}

static void test_op_id_seen_is_duplicate(void **state)
{
    fixture *f = *state;
    size_t len;
    uint8_t *u = type_text(f, "abc", &len);
    struct cavro_client_op op = op_of("op-x", CAVRO_OP_YJS_UPDATE, u, len);
    pmerge_out out;
    assert_int_equal(pmerge_apply(f->avro, f->doc, &op, 0, 1, 1, &out), PMERGE_MERGED);
    pmerge_out_clear(&out);
    /* A resend with the same op id, even with other content, is the same op. */
    size_t len2;
    uint8_t *u2 = type_text(f, "def", &len2);
    struct cavro_client_op resend = op_of("op-x", CAVRO_OP_YJS_UPDATE, u2, len2);
    assert_int_equal(pmerge_apply(f->avro, f->doc, &resend, 0, 2, 2, &out), PMERGE_DUPLICATE);
    assert_null(out.record);
    assert_int_equal(f->doc->version, 1);
    char *text = doc_text(f->doc);
    assert_string_equal(text, "abc");
    free(text);
    free(u);
    free(u2);
}

static void test_contained_update_is_duplicate(void **state)
{
    fixture *f = *state;
    size_t len;
    uint8_t *u = type_text(f, "abc", &len);
    struct cavro_client_op op = op_of("op-1", CAVRO_OP_YJS_UPDATE, u, len);
    pmerge_out out;
    assert_int_equal(pmerge_apply(f->avro, f->doc, &op, 0, 1, 1, &out), PMERGE_MERGED);
    pmerge_out_clear(&out);
    /* The same update under a new op id (the op id ring forgot it, or the
     * client lost its id): the document already contains it. */
    struct cavro_client_op again = op_of("op-2", CAVRO_OP_YJS_UPDATE, u, len);
    assert_int_equal(pmerge_apply(f->avro, f->doc, &again, 0, 2, 2, &out), PMERGE_DUPLICATE);
    assert_int_equal(f->doc->version, 1);
    /* ...and op-2 is now remembered as seen. */
    assert_true(pdoc_seen_op(f->doc, "op-2"));
    free(u);
}

static void test_poison_leaves_document_alone(void **state)
{
    fixture *f = *state;
    pmerge_out out;
    const uint8_t garbage[] = {0xff, 0xff, 0xff, 0x07, 0x01};
    struct cavro_client_op bad = op_of("op-bad", CAVRO_OP_YJS_UPDATE, garbage, sizeof garbage);
    assert_int_equal(pmerge_apply(f->avro, f->doc, &bad, 0, 1, 1, &out), PMERGE_POISON);
    assert_string_equal(out.reason_code, "yjs_rejected");
    assert_true(strlen(out.reason) > 0);
    assert_int_equal(f->doc->version, 0);
    assert_false(pdoc_seen_op(f->doc, "op-bad"));
    pmerge_out_clear(&out);
    size_t len;
    uint8_t *u = type_text(f, "ok", &len);
    struct cavro_client_op no_id = op_of("", CAVRO_OP_YJS_UPDATE, u, len);
    assert_int_equal(pmerge_apply(f->avro, f->doc, &no_id, 0, 2, 2, &out), PMERGE_POISON);
    assert_string_equal(out.reason_code, "invalid_op");
    pmerge_out_clear(&out);
    struct cavro_client_op bad_item = op_of("op-i", CAVRO_OP_ITEM_WRITE, garbage, sizeof garbage);
    assert_int_equal(pmerge_apply(f->avro, f->doc, &bad_item, 0, 3, 3, &out), PMERGE_POISON);
    assert_string_equal(out.reason_code, "item_undecodable");
    pmerge_out_clear(&out);
    /* After all that, a good op gets version 1. */
    struct cavro_client_op good = op_of("op-good", CAVRO_OP_YJS_UPDATE, u, len);
    assert_int_equal(pmerge_apply(f->avro, f->doc, &good, 0, 4, 4, &out), PMERGE_MERGED);
    assert_int_equal(out.version, 1);
    pmerge_out_clear(&out);
    free(u);
}

/* An item write payload: clock entries for client ids 1 and 2. Caller frees. */
static uint8_t *item_payload(fixture *f, bool resolve, const char *item, const char *value,
                             int64_t c1, int64_t c2, int64_t client_id, size_t *len)
{
    struct cavro_clock_entry entries[2];
    struct cavro_item_op op = {0};
    op.item_id = (char *)item;
    op.value.data = (uint8_t *)value;
    op.value.len = strlen(value);
    if (c1)
        entries[op.clock.count++] = (struct cavro_clock_entry){1, c1};
    if (c2)
        entries[op.clock.count++] = (struct cavro_clock_entry){2, c2};
    op.clock.entries = entries;
    op.time_ms = 1700000000000;
    op.client_id = client_id;
    uint8_t *out = NULL;
    char err[256];
    enum cavro_status st = resolve
                               ? cavro_item_resolve_encode(f->avro, &op, &out, len, err, sizeof err)
                               : cavro_item_write_encode(f->avro, &op, &out, len, err, sizeof err);
    assert_int_equal(st, CAVRO_OK);
    return out;
}

static pmerge_result apply_item(fixture *f, const char *op_id, bool resolve, const char *value,
                                int64_t c1, int64_t c2, int64_t client_id, pmerge_out *out)
{
    size_t len;
    uint8_t *p = item_payload(f, resolve, "title", value, c1, c2, client_id, &len);
    struct cavro_client_op op =
        op_of(op_id, resolve ? CAVRO_OP_ITEM_RESOLVE : CAVRO_OP_ITEM_WRITE, p, len);
    pmerge_result r = pmerge_apply(f->avro, f->doc, &op, 0, 1, 1, out);
    free(p);
    return r;
}

static void test_items_conflict_resolve_and_stale(void **state)
{
    fixture *f = *state;
    pmerge_out out;
    assert_int_equal(apply_item(f, "w1", false, "first", 1, 0, 1, &out), PMERGE_MERGED);
    assert_int_equal(out.kind, CAVRO_MERGED_ITEM_STATE);
    assert_int_equal(out.version, 1);
    assert_non_null(out.item);
    assert_int_equal(out.item->revision, 1);
    pmerge_out_clear(&out);
    /* Concurrent with w1 (clock {2:1}): manual policy keeps both. */
    assert_int_equal(apply_item(f, "w2", false, "second", 0, 1, 2, &out), PMERGE_MERGED);
    assert_int_equal(out.kind, CAVRO_MERGED_ITEM_CONFLICT);
    assert_int_equal(out.conflict_detected, 1);
    assert_int_equal(out.version, 2);
    pmerge_out_clear(&out);
    uint64_t revision = pdoc_item(f->doc, "title")->revision;
    /* A resolve that dominates both siblings settles the item. */
    assert_int_equal(apply_item(f, "r1", true, "merged", 1, 1, 1, &out), PMERGE_MERGED);
    assert_int_equal(out.kind, CAVRO_MERGED_ITEM_STATE);
    assert_int_equal(out.conflict_resolved, 1);
    assert_true(out.item->revision > revision);
    assert_int_equal(f->doc->version, 3);
    pmerge_out_clear(&out);
    /* A write older than what is there (dominated by the resolve's clock):
     * nothing changes, no version is used. */
    revision = pdoc_item(f->doc, "title")->revision;
    assert_int_equal(apply_item(f, "w0", false, "older", 1, 0, 1, &out), PMERGE_NOOP);
    assert_int_equal(f->doc->version, 3);
    assert_int_equal(pdoc_item(f->doc, "title")->revision, revision);
    pmerge_out_clear(&out);
    /* A resolve that does not dominate every sibling is poison. */
    assert_int_equal(apply_item(f, "r2", true, "x", 1, 0, 1, &out), PMERGE_POISON);
    assert_string_equal(out.reason_code, "item_resolve_rejected");
    pmerge_out_clear(&out);
}

static void test_new_item_refused_is_not_kept(void **state)
{
    fixture *f = *state;
    size_t len;
    uint8_t *p = item_payload(f, false, "", "v", 1, 0, 1, &len);
    struct cavro_client_op op = op_of("bad-id", CAVRO_OP_ITEM_WRITE, p, len);
    pmerge_out out;
    assert_int_equal(pmerge_apply(f->avro, f->doc, &op, 0, 1, 1, &out), PMERGE_POISON);
    assert_string_equal(out.reason_code, "item_invalid");
    assert_int_equal(f->doc->item_count, 0);
    pmerge_out_clear(&out);
    free(p);
}

static void test_replay_rebuilds_the_same_document(void **state)
{
    fixture *f = *state;
    struct cavro_merged_op records[4];
    size_t n = 0;
    const char *words[] = {"one", " two", " three"};
    for (int i = 0; i < 3; i++) {
        size_t len;
        uint8_t *u = type_text(f, words[i], &len);
        char op_id[16];
        snprintf(op_id, sizeof op_id, "t%d", i);
        struct cavro_client_op op = op_of(op_id, CAVRO_OP_YJS_UPDATE, u, len);
        pmerge_out out;
        assert_int_equal(pmerge_apply(f->avro, f->doc, &op, 0, i, i, &out), PMERGE_MERGED);
        char why[256];
        assert_int_equal(cavro_merged_op_decode(f->avro, out.record, out.record_len, &records[n++],
                                                why, sizeof why),
                         CAVRO_OK);
        pmerge_out_clear(&out);
        free(u);
    }
    pmerge_out out;
    assert_int_equal(apply_item(f, "it", false, "v", 1, 0, 1, &out), PMERGE_MERGED);
    char why[256];
    assert_int_equal(
        cavro_merged_op_decode(f->avro, out.record, out.record_len, &records[n++], why, sizeof why),
        CAVRO_OK);
    pmerge_out_clear(&out);

    pdoc *copy = pdoc_insert(f->docs, "doc-1-copy", 0);
    assert_non_null(copy);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(pmerge_replay(f->avro, copy, &records[i], why, sizeof why), 0);
    /* Twice: a replayed record changes nothing. */
    for (size_t i = 0; i < n; i++)
        assert_int_equal(pmerge_replay(f->avro, copy, &records[i], why, sizeof why), 0);
    assert_int_equal(copy->version, 4);
    char *a = doc_text(f->doc), *b = doc_text(copy);
    assert_string_equal(a, b);
    free(a);
    free(b);
    assert_non_null(pdoc_item(copy, "title"));
    assert_int_equal(pdoc_item(copy, "title")->revision, pdoc_item(f->doc, "title")->revision);
    assert_true(pdoc_seen_op(copy, "t1"));
    for (size_t i = 0; i < n; i++)
        cavro_merged_op_clear(&records[i]);
}

static void test_result_names(void **state)
{
    (void)state;
    assert_string_equal(pmerge_result_name(PMERGE_MERGED), "merged");
    assert_string_equal(pmerge_result_name(PMERGE_DUPLICATE), "duplicate");
    assert_string_equal(pmerge_result_name(PMERGE_NOOP), "noop");
    assert_string_equal(pmerge_result_name(PMERGE_POISON), "poison");
    assert_string_equal(pmerge_result_name(PMERGE_FATAL), "fatal");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_versions_and_record, setup, teardown),
        cmocka_unit_test_setup_teardown(test_op_id_seen_is_duplicate, setup, teardown),
        cmocka_unit_test_setup_teardown(test_contained_update_is_duplicate, setup, teardown),
        cmocka_unit_test_setup_teardown(test_poison_leaves_document_alone, setup, teardown),
        cmocka_unit_test_setup_teardown(test_items_conflict_resolve_and_stale, setup, teardown),
        cmocka_unit_test_setup_teardown(test_new_item_refused_is_not_kept, setup, teardown),
        cmocka_unit_test_setup_teardown(test_replay_rebuilds_the_same_document, setup, teardown),
        cmocka_unit_test(test_result_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
