/*
 * Integration: presence. Awareness updates published on Redis channel
 * awareness:{doc} (as ingest does) reach the document's readers, a removal
 * (null state) too; a newcomer gets the fresh entries of presence:{doc}
 * and of what was relayed before it joined, and not the stale ones.
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
#include "crdt/lib0.h"

static bt_env env;
static ustore_user owner;
static char *token;

static int setup(void **state)
{
    (void)state;
    if (bt_env_init(&env, "presence", 1) != 0 || bt_user(&env, "owner", &owner, &token) != 0)
        return -1;
    return bt_start(&env, NULL);
}

static int teardown(void **state)
{
    (void)state;
    int code = bt_stop(&env, 15000);
    free(token);
    bt_env_free(&env);
    return code == 0 ? 0 : -1;
}

/* A y-protocols awareness update with one client. Caller frees. */
static uint8_t *awareness(uint64_t client, uint64_t clock, const char *json, size_t *len)
{
    crdt_buf b;
    crdt_buf_init(&b);
    crdt_buf_varuint(&b, 1);
    crdt_buf_varuint(&b, client);
    crdt_buf_varuint(&b, clock);
    crdt_buf_varbytes(&b, json, strlen(json));
    uint8_t *out = NULL;
    assert_int_equal(crdt_buf_take(&b, &out, len), CRDT_OK);
    return out;
}

static void publish(const char *doc, const uint8_t *u, size_t len)
{
    char channel[200];
    snprintf(channel, sizeof channel, "awareness:%s", doc);
    redisReply *r = credis_command(env.redis, "PUBLISH %s %b", channel, u, len);
    assert_non_null(r);
    freeReplyObject(r);
}

/* Reads until an AWARENESS message equal to want arrives (other messages
 * are skipped); publishes `repeat` meanwhile (the subscription is made
 * asynchronously). */
static void await_awareness(wsc *c, const char *doc, const uint8_t *want, size_t want_len,
                            bool repeat)
{
    int64_t deadline = util_now_ms() + BT_TIMEOUT_MS;
    while (util_now_ms() < deadline) {
        if (repeat)
            publish(doc, want, want_len);
        const uint8_t *data;
        size_t len;
        int r = wsc_read(c, 200, &data, &len);
        assert_true(r >= 0);
        if (r == 0)
            continue;
        wsc_msg m;
        assert_int_equal(wsc_parse(data, len, &m), 0);
        if (m.type == 1 && m.payload_len == want_len && memcmp(m.payload, want, want_len) == 0)
            return;
    }
    fail_msg("the awareness update did not arrive");
}

static void test_relay_and_leave(void **state)
{
    (void)state;
    char doc[160];
    bt_doc_id(&env, "relay", doc, sizeof doc);
    assert_int_equal(bt_doc(&env, doc, owner.id), 0);
    int status;
    wsc *c = bt_connect(&env, doc, token, -1, 0, &status);
    assert_non_null(c);
    size_t len;
    uint8_t *hello = awareness(42, 1, "{\"user\":{\"name\":\"ada\",\"color\":\"#f00\"}}", &len);
    await_awareness(c, doc, hello, len, true);
    free(hello);
    uint8_t *bye = awareness(42, 2, "null", &len);
    publish(doc, bye, len);
    await_awareness(c, doc, bye, len, false);
    free(bye);

    /* A newcomer sees who is there: ada left, bob is present. */
    uint8_t *bob = awareness(43, 5, "{\"user\":{\"name\":\"bob\"}}", &len);
    publish(doc, bob, len);
    await_awareness(c, doc, bob, len, false);
    wsc *d = bt_connect(&env, doc, token, -1, 0, &status);
    assert_non_null(d);
    /* STATE, then the presence as one AWARENESS message, then SYNCED. */
    wsc_msg m;
    bt_next(d, &m);
    assert_int_equal(m.type, 48);
    uint64_t version = m.version;
    bt_next(d, &m);
    assert_int_equal(m.type, 1);
    assert_int_equal(m.payload_len, len);
    assert_memory_equal(m.payload, bob, len);
    free(bob);
    bt_expect_synced(d, version);
    wsc_close(c);
    wsc_close(d);
    assert_true(bt_metric(&env, "broadcaster_awareness_relayed_total") >= 3);
}

static void test_newcomer_gets_fresh_presence_hash(void **state)
{
    (void)state;
    char doc[160];
    bt_doc_id(&env, "hash", doc, sizeof doc);
    assert_int_equal(bt_doc(&env, doc, owner.id), 0);
    char key[200], fresh[256], stale[256];
    snprintf(key, sizeof key, "presence:%s", doc);
    long long now = (long long)(util_wall_ns() / 1000000);
    snprintf(fresh, sizeof fresh, "{\"clock\":3,\"updated_at_ms\":%lld,\"state\":{\"n\":\"cy\"}}",
             now);
    snprintf(stale, sizeof stale, "{\"clock\":9,\"updated_at_ms\":%lld,\"state\":{\"n\":\"old\"}}",
             now - 120000);
    redisReply *r = credis_command(env.redis, "HSET %s 7 %s 8 %s", key, fresh, stale);
    assert_non_null(r);
    freeReplyObject(r);
    int status;
    wsc *c = bt_connect(&env, doc, token, -1, 0, &status);
    assert_non_null(c);
    wsc_msg m;
    bt_next(c, &m);
    assert_int_equal(m.type, 48);
    assert_int_equal(m.version, 0);
    bt_next(c, &m);
    assert_int_equal(m.type, 1);
    size_t len;
    uint8_t *want = awareness(7, 3, "{\"n\":\"cy\"}", &len);
    assert_int_equal(m.payload_len, len);
    assert_memory_equal(m.payload, want, len);
    free(want);
    bt_expect_synced(c, 0);
    wsc_close(c);
    r = credis_command(env.redis, "DEL %s", key);
    if (r)
        freeReplyObject(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_relay_and_leave),
        cmocka_unit_test(test_newcomer_gets_fresh_presence_hash),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
