/*
 * Integration: who may read (docs/protocol.md, "Authentication and
 * connecting") - 401 for missing, malformed, wrongly signed or expired
 * tokens, 404 for an unknown document or path, 403 without a right, 400 for
 * a bad since; viewer, editor and owner get in (token in the query) -
 * bad input (a message from a reader, an undecodable Kafka record), and the
 * clean shutdown with ERROR shutting_down.
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

static bt_env env;
static ustore_user owner, viewer, editor, stranger;
static char *owner_token, *viewer_token, *editor_token, *stranger_token;
static char doc[160];

static int setup(void **state)
{
    (void)state;
    if (bt_env_init(&env, "access", 1) != 0 || bt_user(&env, "owner", &owner, &owner_token) ||
        bt_user(&env, "viewer", &viewer, &viewer_token) ||
        bt_user(&env, "editor", &editor, &editor_token) ||
        bt_user(&env, "stranger", &stranger, &stranger_token))
        return -1;
    bt_doc_id(&env, "doc", doc, sizeof doc);
    if (bt_doc(&env, doc, owner.id) || bt_grant(&env, doc, viewer.id, USTORE_ROLE_VIEWER) ||
        bt_grant(&env, doc, editor.id, USTORE_ROLE_EDITOR))
        return -1;
    return bt_start(&env, NULL);
}

static int teardown(void **state)
{
    (void)state;
    free(owner_token);
    free(viewer_token);
    free(editor_token);
    free(stranger_token);
    bt_env_free(&env);
    return 0;
}

static void expect_refusal(const char *target, const char *headers, int want, const char *want_code)
{
    int status = 0;
    char body[1024];
    wsc *c = wsc_connect(env.port, target, headers, 0, &status, body, sizeof body);
    assert_null(c);
    assert_int_equal(status, want);
    char code[128];
    snprintf(code, sizeof code, "\"code\":\"%s\"", want_code);
    if (!strstr(body, code))
        fail_msg("body %s lacks %s", body, code);
}

static void test_tokens(void **state)
{
    (void)state;
    char target[9000];
    snprintf(target, sizeof target, "/v1/documents/%s/read", doc);
    expect_refusal(target, NULL, 401, "token_missing");
    snprintf(target, sizeof target, "/v1/documents/%s/read?access_token=not-a-jwt", doc);
    expect_refusal(target, NULL, 401, "token_malformed");

    /* Signed with another secret. */
    struct authtoken_config tc = {.alg = AUTHTOKEN_HS256,
                                  .secret = (const uint8_t *)"another-secret-of-at-least-32-bytes!",
                                  .secret_len = 36,
                                  .issuer = "collab",
                                  .audience = "collab",
                                  .leeway_seconds = -1};
    struct authtoken_keys *other = NULL;
    char err[256];
    assert_int_equal(authtoken_keys_new(&tc, &other, err, sizeof err), AUTHTOKEN_OK);
    char *forged = NULL;
    assert_int_equal(
        authtoken_issue(other, owner.id, "x", util_wall_ns() / 1000000000LL, &forged, NULL),
        AUTHTOKEN_OK);
    snprintf(target, sizeof target, "/v1/documents/%s/read?access_token=%s", doc, forged);
    expect_refusal(target, NULL, 401, "token_bad_signature");
    free(forged);
    authtoken_keys_free(other);

    /* Expired: issued two hours ago with a one-hour lifetime. */
    char *old = NULL;
    assert_int_equal(
        authtoken_issue(env.keys, owner.id, "x", util_wall_ns() / 1000000000LL - 7200, &old, NULL),
        AUTHTOKEN_OK);
    snprintf(target, sizeof target, "/v1/documents/%s/read?access_token=%s", doc, old);
    expect_refusal(target, NULL, 401, "token_expired");
    free(old);
}

static void test_documents_and_rights(void **state)
{
    (void)state;
    char target[9000];
    snprintf(target, sizeof target, "/v1/documents/%s/read?access_token=%s", doc, stranger_token);
    expect_refusal(target, NULL, 403, "forbidden");
    snprintf(target, sizeof target, "/v1/documents/%s-nope/read?access_token=%s", doc, owner_token);
    expect_refusal(target, NULL, 404, "not_found");
    snprintf(target, sizeof target, "/v1/documents/%s/write?access_token=%s", doc, owner_token);
    expect_refusal(target, NULL, 404, "not_found");
    snprintf(target, sizeof target, "/v1/documents/%s/read?access_token=%s&since=x1", doc,
             owner_token);
    expect_refusal(target, NULL, 400, "bad_request");

    const char *tokens[] = {viewer_token, editor_token, owner_token};
    for (int i = 0; i < 3; i++) {
        int status;
        wsc *c = bt_connect(&env, doc, tokens[i], -1, 0, &status);
        assert_non_null(c);
        wsc_msg m;
        bt_next(c, &m);
        assert_int_equal(m.type, 48);
        bt_expect_synced(c, m.version);
        wsc_close(c);
    }
    /* Not tested: the token as a subprotocol ("collab.v1, bearer.<jwt>").
     * libwebsockets 4.1 refuses a Sec-WebSocket-Protocol header longer than
     * 127 bytes before any callback runs, so a real JWT cannot ride there
     * (reported; see docs/broadcaster.md). */
    assert_true(bt_metric(&env, "broadcaster_upgrades_total{status=\"403\"}") >= 1);
}

static void test_bad_input(void **state)
{
    (void)state;
    int status;
    wsc *c = bt_connect(&env, doc, owner_token, -1, 0, &status);
    assert_non_null(c);
    wsc_msg m;
    bt_next(c, &m);
    assert_int_equal(m.type, 48);
    bt_expect_synced(c, m.version);
    /* An undecodable record under the document's key is skipped... */
    assert_int_equal(bt_send_raw(&env, doc, "garbage", 7), 0);
    /* ...and the next good one still arrives. */
    assert_int_equal(
        bt_send_merged(&env, doc, 1, "op-1", CAVRO_MERGED_YJS_UPDATE, (const uint8_t *)"u1", 2), 0);
    bt_next(c, &m);
    assert_int_equal(m.type, 49);
    assert_int_equal(m.version, 1);
    assert_true(bt_metric(&env, "broadcaster_records_total{result=\"invalid\"}") >= 1);

    /* Readers send nothing: a message gets ERROR bad_frame and a close. */
    assert_int_equal(wsc_send(c, (const uint8_t *)"\x10", 1), 0);
    bt_next(c, &m);
    assert_int_equal(m.type, 35);
    assert_true(wsc_eq(m.code, m.code_len, "bad_frame"));
    const uint8_t *data;
    size_t len;
    assert_int_equal(wsc_read(c, BT_TIMEOUT_MS, &data, &len), -1);
    wsc_close(c);
}

static void test_shutdown_says_goodbye(void **state)
{
    (void)state;
    int status;
    wsc *c = bt_connect(&env, doc, owner_token, -1, 0, &status);
    assert_non_null(c);
    wsc_msg m;
    bt_next(c, &m);
    assert_int_equal(m.type, 48);
    bt_expect_synced(c, m.version);
    assert_int_equal(bt_stop(&env, 15000), 0); /* exit code 0, no leak */
    bt_next(c, &m);
    assert_int_equal(m.type, 35);
    assert_true(wsc_eq(m.code, m.code_len, "shutting_down"));
    wsc_close(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tokens),
        cmocka_unit_test(test_documents_and_rights),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_shutdown_says_goodbye),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
