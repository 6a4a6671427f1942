/*
 * Integration: a reader that stops reading (a tiny receive buffer, never
 * drained) while another reads everything. The fast one gets every version
 * in order; the slow one is resynced (RESYNC slow_consumer + STATE, its
 * queue dropped) and then, still not keeping up, closed with ERROR
 * slow_consumer; what it does receive is in order.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bt.h"

#define OPS      1500
#define OP_BYTES 8000

static bt_env env;
static ustore_user owner;
static char *token;

static int setup(void **state)
{
    (void)state;
    if (bt_env_init(&env, "slow", 1) != 0 || bt_user(&env, "owner", &owner, &token) != 0)
        return -1;
    const char *extra[] = {
        "--queue-max-messages", "32", "--queue-max-bytes", "256KiB", "--slow-resyncs", "1", NULL};
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

static void test_slow_reader_does_not_hold_back_the_fast_one(void **state)
{
    (void)state;
    char doc[160];
    bt_doc_id(&env, "doc", doc, sizeof doc);
    assert_int_equal(bt_doc(&env, doc, owner.id), 0);
    int status;
    wsc *fast = bt_connect(&env, doc, token, -1, 0, &status);
    wsc *slow = bt_connect(&env, doc, token, -1, 4096, &status);
    assert_non_null(fast);
    assert_non_null(slow);
    wsc_msg m;
    bt_next(fast, &m);
    assert_int_equal(m.type, 48);
    bt_expect_synced(fast, m.version);

    uint8_t *payload = malloc(OP_BYTES);
    assert_non_null(payload);
    memset(payload, 'x', OP_BYTES);
    /* Sent in bursts the fast reader keeps up with; the slow one reads nothing. */
    int got = 0;
    for (int v = 1; v <= OPS; v++) {
        char op[32];
        snprintf(op, sizeof op, "op-%d", v);
        assert_int_equal(bt_send_merged_nowait(&env, doc, v, op, payload, OP_BYTES), 0);
        if (v % 10 == 0 || v == OPS) {
            assert_int_equal(bt_flush(&env), 0);
            while (got < v) {
                bt_next(fast, &m);
                assert_int_equal(m.type, 49);
                assert_int_equal(m.version, got + 1);
                got++;
            }
        }
    }
    free(payload);

    /* Now the slow reader drains what reached it: some ops in order, a
     * resync with a STATE, and finally ERROR slow_consumer and the close. */
    bool resynced = false, errored = false;
    uint64_t last = 0;
    for (;;) {
        const uint8_t *data;
        size_t len;
        int r = wsc_read(slow, BT_TIMEOUT_MS, &data, &len);
        if (r < 0)
            break;
        assert_int_equal(r, 1);
        assert_int_equal(wsc_parse(data, len, &m), 0);
        assert_false(errored); /* nothing after the ERROR */
        if (m.type == 49) {
            assert_int_equal(m.version, last + 1);
            last = m.version;
        } else if (m.type == 48) {
            last = m.version;
        } else if (m.type == 52) {
            assert_int_equal(m.version, last); /* caught up where it stands */
        } else if (m.type == 51) {
            assert_true(wsc_eq(m.code, m.code_len, "slow_consumer"));
            resynced = true;
            bt_next(slow, &m);
            assert_int_equal(m.type, 48); /* a STATE follows a RESYNC */
            last = m.version;
        } else if (m.type == 35) {
            assert_true(wsc_eq(m.code, m.code_len, "slow_consumer"));
            errored = true;
        }
    }
    /* The RESYNC + STATE may never reach a reader that does not read: the
     * ERROR replaces whatever it had not taken yet. The server did resync. */
    (void)resynced;
    assert_true(errored);
    wsc_close(slow);
    wsc_close(fast);
    assert_true(bt_metric(&env, "broadcaster_resyncs_total{reason=\"slow_consumer\"}") >= 1);
    assert_true(bt_metric(&env, "broadcaster_disconnects_total{reason=\"slow_consumer\"}") == 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_slow_reader_does_not_hold_back_the_fast_one),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
