/*
 * Integration (MongoDB and Redis of the local stack, no broadcaster
 * process): the state a live document starts from. The broadcaster's live
 * documents continue a stored state from collab.ops, so the state must say
 * where in the log it stands: docstore_load_positioned_state takes Redis
 * doc:{doc} when it carries a position, and otherwise rebuilds the snapshot
 * plus the crdt_operations after it, whose rows carry theirs (a cached state
 * without one is passed over, while docstore_load_state still serves it).
 * docstore_document_meta gives the creation time the log is searched from
 * when nothing stored knows a position.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bt.h"
#include "common/util.h"
#include "crdt/crdt.h"

static bt_env env;
static ustore_user owner;
static char *token;

static int setup(void **state)
{
    (void)state;
    return bt_env_init(&env, "livestate", 2) == 0 && bt_user(&env, "owner", &owner, &token) == 0
               ? 0
               : -1;
}

static int teardown(void **state)
{
    (void)state;
    free(token);
    bt_env_free(&env);
    return 0;
}

/* Stores versions 1..n of a text "[1][2]..." as crdt_operations rows whose
 * source ops sit at offsets first_offset.. of partition. */
static void store_ops(const char *doc, int n, int32_t partition, int64_t first_offset)
{
    crdt_doc *d = NULL;
    assert_int_equal(crdt_doc_new(NULL, &d), CRDT_OK);
    for (int v = 1; v <= n; v++) {
        char piece[16], op_id[192], err[256];
        snprintf(piece, sizeof piece, "[%d]", v);
        snprintf(op_id, sizeof op_id, "%s-op-%d", doc, v);
        size_t len = 0;
        uint8_t *update = bt_yjs_insert(d, piece, &len);
        assert_non_null(update);
        docstore_op op = {.doc_id = doc,
                          .op_id = op_id,
                          .version = v,
                          .kind = "YJS_UPDATE",
                          .user_id = owner.id,
                          .client_id = 7,
                          .ingest_time_us = util_wall_ns() / 1000,
                          .processed_time_us = util_wall_ns() / 1000,
                          .partition = partition,
                          .offset = first_offset + v - 1,
                          .bytes = update,
                          .len = len};
        assert_int_equal(docstore_insert_ops(env.ds, &op, 1, err, sizeof err), DOCSTORE_OK);
        free(update);
    }
    crdt_doc_free(d);
}

static void assert_text(const docstore_state *st, const char *want)
{
    char *text = bt_text_of(st->state, st->state_len);
    assert_non_null(text);
    assert_string_equal(text, want);
    free(text);
}

static void test_position_from_the_operation_rows(void **state)
{
    (void)state;
    char doc[128], err[256];
    bt_doc_id(&env, "rows", doc, sizeof doc);
    assert_int_equal(bt_doc(&env, doc, owner.id), 0);
    store_ops(doc, 3, 1, 40);

    docstore_state st;
    assert_int_equal(docstore_load_positioned_state(env.ds, doc, &st, err, sizeof err),
                     DOCSTORE_OK);
    assert_int_equal(st.version, 3);
    assert_int_equal(st.pos.partition, 1);
    assert_int_equal(st.pos.offset, 42); /* the last op's */
    assert_text(&st, "[1][2][3]");
    docstore_state_clear(&st);
}

static void test_cached_state_without_position_is_passed_over(void **state)
{
    (void)state;
    char doc[128], err[256];
    bt_doc_id(&env, "unpositioned", doc, sizeof doc);
    assert_int_equal(bt_doc(&env, doc, owner.id), 0);
    store_ops(doc, 2, 0, 7);
    /* A cache entry written before positions were kept: the empty doc. */
    static const uint8_t empty[] = {0, 0};
    assert_int_equal(docstore_cache_state(env.ds, doc, 2, empty, sizeof empty, NULL, 0,
                                          DOCSTORE_POSITION_UNKNOWN, err, sizeof err),
                     DOCSTORE_OK);

    docstore_state st;
    assert_int_equal(docstore_load_state(env.ds, doc, &st, err, sizeof err), DOCSTORE_OK);
    assert_int_equal(st.pos.offset, -1); /* the plain reader takes the cache */
    assert_text(&st, "");
    docstore_state_clear(&st);

    assert_int_equal(docstore_load_positioned_state(env.ds, doc, &st, err, sizeof err),
                     DOCSTORE_OK);
    assert_int_equal(st.version, 2);
    assert_int_equal(st.pos.partition, 0);
    assert_int_equal(st.pos.offset, 8);
    assert_text(&st, "[1][2]");
    docstore_state_clear(&st);
}

static void test_cached_position_round_trips(void **state)
{
    (void)state;
    char doc[128], err[256];
    bt_doc_id(&env, "cached", doc, sizeof doc);
    assert_int_equal(bt_doc(&env, doc, owner.id), 0);
    store_ops(doc, 1, 1, 3);
    crdt_doc *d = NULL;
    assert_int_equal(crdt_doc_new(NULL, &d), CRDT_OK);
    size_t len = 0;
    uint8_t *update = bt_yjs_insert(d, "cached", &len);
    crdt_doc_free(d);
    assert_non_null(update);
    docstore_position pos = {.partition = 1, .offset = 9000000001LL}; /* past 32 bits */
    assert_int_equal(
        docstore_cache_state(env.ds, doc, 5, update, len, NULL, 0, pos, err, sizeof err),
        DOCSTORE_OK);
    /* An older version does not replace it, position included. */
    docstore_position older = {.partition = 1, .offset = 4};
    assert_int_equal(
        docstore_cache_state(env.ds, doc, 4, update, len, NULL, 0, older, err, sizeof err),
        DOCSTORE_OK);
    free(update);

    docstore_state st;
    assert_int_equal(docstore_get_cached_state(env.ds, doc, &st, err, sizeof err), DOCSTORE_OK);
    assert_int_equal(st.version, 5);
    assert_int_equal(st.pos.partition, 1);
    assert_int_equal(st.pos.offset, 9000000001LL);
    docstore_state_clear(&st);

    assert_int_equal(docstore_load_positioned_state(env.ds, doc, &st, err, sizeof err),
                     DOCSTORE_OK);
    assert_int_equal(st.version, 5);
    assert_int_equal(st.pos.offset, 9000000001LL);
    assert_text(&st, "cached");
    docstore_state_clear(&st);
}

static void test_document_meta(void **state)
{
    (void)state;
    char doc[128], err[256];
    bt_doc_id(&env, "meta", doc, sizeof doc);
    int64_t before_ms = util_wall_ns() / 1000000 - 1000;
    assert_int_equal(bt_doc(&env, doc, owner.id), 0);
    int64_t after_ms = util_wall_ns() / 1000000 + 1000;

    docstore_doc_meta meta;
    assert_int_equal(docstore_document_meta(env.ds, doc, &meta, err, sizeof err), DOCSTORE_OK);
    assert_true(meta.created_ms >= before_ms && meta.created_ms <= after_ms);
    assert_string_equal(meta.policy, "manual");

    bt_doc_id(&env, "no-such-document", doc, sizeof doc);
    assert_int_equal(docstore_document_meta(env.ds, doc, &meta, err, sizeof err),
                     DOCSTORE_NOT_FOUND);
    docstore_state st;
    assert_int_equal(docstore_load_positioned_state(env.ds, doc, &st, err, sizeof err),
                     DOCSTORE_NOT_FOUND);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_position_from_the_operation_rows),
        cmocka_unit_test(test_cached_state_without_position_is_passed_over),
        cmocka_unit_test(test_cached_position_round_trips),
        cmocka_unit_test(test_document_meta),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
