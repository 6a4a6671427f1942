/*
 * Integration: resuming with ?since= (from MongoDB crdt_operations, from the
 * in-memory history, a STATE when too far behind or when MongoDB has a
 * hole), and gaps in the live stream (filled from MongoDB, else RESYNC +
 * STATE after --gap-wait).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bt.h"
#include "crdt/crdt.h"

static bt_env env;
static ustore_user owner;
static char *token;

static int setup(void **state)
{
    (void)state;
    if (bt_env_init(&env, "resume", 2) != 0 || bt_user(&env, "owner", &owner, &token) != 0)
        return -1;
    const char *extra[] = {"--gap-wait", "500ms", "--resume-max-ops", "5", NULL};
    return bt_start(&env, extra);
}

static int teardown(void **state)
{
    (void)state;
    int code = bt_stop(&env, 15000);
    free(token);
    bt_env_free(&env);
    return code == 0 ? 0 : -1;
}

static void new_doc(const char *name, char *doc_id, size_t size)
{
    bt_doc_id(&env, name, doc_id, size);
    assert_int_equal(bt_doc(&env, doc_id, owner.id), 0);
}

/* Real Yjs updates 1..n stored as crdt_operations; returns the text. */
static void store_text_ops(const char *doc, int from, int to, int skip)
{
    crdt_doc *d = NULL;
    assert_int_equal(crdt_doc_new(NULL, &d), CRDT_OK);
    for (int v = 1; v <= to; v++) {
        char piece[16], op[32];
        snprintf(piece, sizeof piece, "[%d]", v);
        snprintf(op, sizeof op, "op-%d", v);
        size_t len;
        uint8_t *u = bt_yjs_insert(d, piece, &len);
        assert_non_null(u);
        if (v >= from && v != skip)
            assert_int_equal(bt_store_op(&env, doc, v, op, u, len), 0);
        free(u);
    }
    crdt_doc_free(d);
}

static void test_resume_from_mongodb(void **state)
{
    (void)state;
    char doc[160];
    new_doc("mongo", doc, sizeof doc);
    store_text_ops(doc, 1, 6, 0);
    int status;
    wsc *c = bt_connect(&env, doc, token, 3, 0, &status);
    assert_non_null(c);
    for (int v = 4; v <= 6; v++)
        bt_expect_version(c, v);
    bt_expect_synced(c, 6); /* the replay asked for is complete */
    bt_send_version(&env, doc, 7);
    bt_expect_version(c, 7);
    wsc_close(c);
}

static void test_resume_from_history(void **state)
{
    (void)state;
    char doc[160];
    new_doc("hist", doc, sizeof doc);
    int status;
    wsc *a = bt_connect(&env, doc, token, -1, 0, &status);
    assert_non_null(a);
    wsc_msg m;
    bt_next(a, &m);
    assert_int_equal(m.type, 48);
    bt_expect_synced(a, 0);
    for (int v = 1; v <= 5; v++)
        bt_send_version(&env, doc, v);
    for (int v = 1; v <= 5; v++)
        bt_expect_version(a, v);
    /* MongoDB has none of these ops: only the history can serve them. */
    wsc *b = bt_connect(&env, doc, token, 2, 0, &status);
    assert_non_null(b);
    for (int v = 3; v <= 5; v++)
        bt_expect_version(b, v);
    bt_expect_synced(b, 5);
    bt_send_version(&env, doc, 6);
    bt_expect_version(b, 6);
    bt_expect_version(a, 6);
    wsc_close(a);
    wsc_close(b);
}

static void expect_state_text(wsc *c, uint64_t version, const char *text)
{
    wsc_msg m;
    bt_next(c, &m);
    assert_int_equal(m.type, 48);
    assert_int_equal(m.version, version);
    char *t = bt_text_of(m.payload, m.payload_len);
    assert_non_null(t);
    assert_string_equal(t, text);
    free(t);
}

static void test_resume_too_far_behind_gets_state(void **state)
{
    (void)state;
    char doc[160];
    new_doc("far", doc, sizeof doc);
    store_text_ops(doc, 1, 10, 0);
    int status;
    wsc *c = bt_connect(&env, doc, token, 1, 0, &status); /* 9 behind, --resume-max-ops 5 */
    assert_non_null(c);
    expect_state_text(c, 10, "[1][2][3][4][5][6][7][8][9][10]");
    bt_expect_synced(c, 10); /* SYNCED follows the STATE that replaced the replay */
    bt_send_version(&env, doc, 11);
    bt_expect_version(c, 11);
    wsc_close(c);
}

static void test_resume_over_a_hole_gets_state(void **state)
{
    (void)state;
    char doc[160];
    new_doc("hole", doc, sizeof doc);
    store_text_ops(doc, 1, 4, 2); /* version 2 is missing */
    int status;
    wsc *c = bt_connect(&env, doc, token, 1, 0, &status);
    assert_non_null(c);
    wsc_msg m;
    bt_next(c, &m);
    assert_int_equal(m.type, 48); /* not MERGED 3 */
    bt_expect_synced(c, m.version);
    wsc_close(c);
}

static void test_live_gap_filled_from_mongodb_else_resync(void **state)
{
    (void)state;
    char doc[160];
    new_doc("gap", doc, sizeof doc);
    int status;
    wsc *c = bt_connect(&env, doc, token, -1, 0, &status);
    assert_non_null(c);
    wsc_msg m;
    bt_next(c, &m);
    assert_int_equal(m.type, 48);
    assert_int_equal(m.version, 0);
    bt_expect_synced(c, 0);
    bt_send_version(&env, doc, 1);
    bt_send_version(&env, doc, 2);
    bt_expect_version(c, 1);
    bt_expect_version(c, 2);

    /* Version 3 never reaches the stream but MongoDB has it: no resync. */
    assert_int_equal(bt_store_op(&env, doc, 3, "op-3", (const uint8_t *)"op-3", 4), 0);
    bt_send_version(&env, doc, 4);
    bt_expect_version(c, 3);
    bt_expect_version(c, 4);

    /* Versions 5 and 6 are nowhere: RESYNC gap, then the state of the views. */
    char err[256];
    static const uint8_t empty[] = {0, 0};
    assert_int_equal(docstore_cache_state(env.ds, doc, 7, empty, 2, NULL, 0,
                                          DOCSTORE_POSITION_UNKNOWN, err, sizeof err),
                     DOCSTORE_OK);
    bt_send_version(&env, doc, 7);
    bt_next(c, &m);
    assert_int_equal(m.type, 51);
    assert_true(wsc_eq(m.code, m.code_len, "gap"));
    bt_next(c, &m);
    assert_int_equal(m.type, 48);
    assert_int_equal(m.version, 7);
    bt_expect_synced(c, 7); /* SYNCED after every RESYNC */
    bt_send_version(&env, doc, 8);
    bt_expect_version(c, 8);
    wsc_close(c);
    assert_true(bt_metric(&env, "broadcaster_resyncs_total{reason=\"gap\"}") >= 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_resume_from_mongodb),
        cmocka_unit_test(test_resume_from_history),
        cmocka_unit_test(test_resume_too_far_behind_gets_state),
        cmocka_unit_test(test_resume_over_a_hole_gets_state),
        cmocka_unit_test(test_live_gap_filled_from_mongodb_else_resync),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
