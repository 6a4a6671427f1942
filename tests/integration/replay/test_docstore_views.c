/*
 * The view writes replay shares with the processor (common/docstore.h)
 * against the real FerretDB: the bulk document upsert that once never
 * answered (an update command modifying 100 or more existing documents hangs
 * FerretDB v1.24, so the processor's view writer retried one round forever and
 * wrote no crdt_operations row at all under load), and the outcome counters
 * replay reports.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tests/integration/processor/harness.h"

#define DOCS 240

static docstore_doc_version *versions_at(char (*ids)[64], int64_t version, const uint8_t *sv)
{
    docstore_doc_version *v = calloc(DOCS, sizeof *v);
    for (size_t i = 0; i < DOCS; i++)
        v[i] = (docstore_doc_version){.doc_id = ids[i], .version = version, .sv = sv, .sv_len = 4};
    return v;
}

static void test_bulk_update_of_many_existing_documents(void **state)
{
    (void)state;
    ph_env env;
    assert_int_equal(ph_env_init(&env, "dsbulk", 1), 0);
    char err[512];
    assert_int_equal(docstore_ensure_indexes(env.ds, err, sizeof err), DOCSTORE_OK);
    char(*ids)[64] = calloc(DOCS, sizeof *ids);
    for (size_t i = 0; i < DOCS; i++) {
        char name[32];
        snprintf(name, sizeof name, "d%zu", i);
        ph_doc_id(&env, name, ids[i], sizeof ids[i]);
    }
    uint8_t sv[4] = {1, 2, 3, 4};
    /* Created at version 1, then every one of them updated at once: the
     * second call modifies DOCS existing documents. */
    for (int64_t version = 1; version <= 2; version++) {
        docstore_doc_version *v = versions_at(ids, version, sv);
        docstore_status st = docstore_put_documents(env.ds, v, DOCS, err, sizeof err);
        if (st != DOCSTORE_OK)
            fail_msg("put_documents v%lld: %s", (long long)version, err);
        free(v);
    }
    for (size_t i = 0; i < DOCS; i += 37)
        assert_int_equal(ph_document_version(&env, ids[i]), 2);
    /* An older version changes nothing and counts as already newer. */
    docstore_doc_version *old = versions_at(ids, 1, sv);
    assert_int_equal(docstore_put_documents(env.ds, old, DOCS, err, sizeof err), DOCSTORE_OK);
    free(old);
    assert_int_equal(ph_document_version(&env, ids[5]), 2);
    docstore_counts counts;
    docstore_get_counts(env.ds, &counts);
    assert_int_equal(counts.documents_written, 2 * DOCS);
    assert_int_equal(counts.documents_newer, DOCS);
    free(ids);
    ph_env_free(&env);
}

/* A stale upsert (duplicate key: a newer version is stored) in the same bulk
 * as real updates must not stop them. */
static void test_stale_upsert_does_not_stop_the_bulk(void **state)
{
    (void)state;
    ph_env env;
    assert_int_equal(ph_env_init(&env, "dsstale", 1), 0);
    char err[512], ids[4][64];
    uint8_t sv[4] = {1, 2, 3, 4};
    docstore_doc_version v[4];
    for (int i = 0; i < 4; i++) {
        char name[16];
        snprintf(name, sizeof name, "s%d", i);
        ph_doc_id(&env, name, ids[i], sizeof ids[i]);
        v[i] = (docstore_doc_version){.doc_id = ids[i], .version = 5, .sv = sv, .sv_len = 4};
    }
    assert_int_equal(docstore_put_documents(env.ds, v, 4, err, sizeof err), DOCSTORE_OK);
    /* 0 and 2 are stale (older than stored), 1 and 3 advance. */
    v[0].version = 3;
    v[1].version = 6;
    v[2].version = 5;
    v[3].version = 7;
    assert_int_equal(docstore_put_documents(env.ds, v, 4, err, sizeof err), DOCSTORE_OK);
    assert_int_equal(ph_document_version(&env, ids[0]), 5);
    assert_int_equal(ph_document_version(&env, ids[1]), 6);
    assert_int_equal(ph_document_version(&env, ids[2]), 5);
    assert_int_equal(ph_document_version(&env, ids[3]), 7);
    docstore_counts counts;
    docstore_get_counts(env.ds, &counts);
    assert_int_equal(counts.documents_written, 4 + 2);
    assert_int_equal(counts.documents_newer, 2);
    ph_env_free(&env);
}

static void test_row_counters(void **state)
{
    (void)state;
    ph_env env;
    assert_int_equal(ph_env_init(&env, "dsrows", 1), 0);
    char err[512], doc[128];
    assert_int_equal(docstore_ensure_indexes(env.ds, err, sizeof err), DOCSTORE_OK);
    ph_doc_id(&env, "rows", doc, sizeof doc);
    docstore_op ops[3];
    char op_ids[3][16];
    for (int i = 0; i < 3; i++) {
        snprintf(op_ids[i], sizeof op_ids[i], "op%d", i);
        ops[i] = (docstore_op){.doc_id = doc,
                               .op_id = op_ids[i],
                               .version = i + 1,
                               .kind = "YJS_UPDATE",
                               .user_id = "u",
                               .bytes = (const uint8_t *)"x",
                               .len = 1};
    }
    assert_int_equal(docstore_insert_ops(env.ds, ops, 2, err, sizeof err), DOCSTORE_OK);
    /* Again with one more: two duplicates (success) and one new row. */
    assert_int_equal(docstore_insert_ops(env.ds, ops, 3, err, sizeof err), DOCSTORE_OK);
    docstore_counts counts;
    docstore_get_counts(env.ds, &counts);
    assert_int_equal(counts.rows_inserted, 3);
    assert_int_equal(counts.rows_present, 2);
    int64_t total, distinct;
    bool contiguous;
    assert_int_equal(ph_count_ops(&env, doc, &total, &distinct, &contiguous), 0);
    assert_int_equal(total, 3);
    assert_true(contiguous);
    ph_env_free(&env);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bulk_update_of_many_existing_documents),
        cmocka_unit_test(test_stale_upsert_does_not_stop_the_bulk),
        cmocka_unit_test(test_row_counters),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
