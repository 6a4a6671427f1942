/*
 * Integration test of common/redis against the server at $COLLAB_REDIS_URL:
 * a SET/GET round trip with binary data, an error reply that is a reply and
 * not a broken connection, the database chosen by the URL, and a reconnect
 * after the server kills our connection (CLIENT KILL).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/redis.h"
#include "common/util.h"

typedef struct fixture {
    char url[512];
    char key[128];
    clog *log;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    const char *url = getenv("COLLAB_REDIS_URL");
    snprintf(f->url, sizeof f->url, "%s", url && *url ? url : "redis://127.0.0.1:6379");
    snprintf(f->key, sizeof f->key, "itest:common:%ld:%lld", (long)getpid(),
             (long long)(util_wall_ns() % 1000000000000LL));
    f->log = clog_new("itest-redis", CLOG_WARN, 2);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    clog_free(f->log);
    free(f);
    return 0;
}

static credis *connect_to(fixture *f, const char *url)
{
    credis_opts o = {.url = url, .log = f->log, .backoff_base_ms = 10, .backoff_max_ms = 100};
    char err[256];
    credis *r = credis_new(&o, err, sizeof err);
    if (!r)
        fail_msg("redis: %s", err);
    if (!credis_connected(r)) {
        credis_last_error(r, err, sizeof err);
        fail_msg("redis at %s not reachable: %s", url, err);
    }
    return r;
}

static void test_round_trip(void **state)
{
    fixture *f = *state;
    credis *r = connect_to(f, f->url);
    const char value[] = "bin\0ary\xff";
    redisReply *reply = credis_command(r, "SET %s %b EX 60", f->key, value, sizeof value);
    assert_non_null(reply);
    assert_int_equal(reply->type, REDIS_REPLY_STATUS);
    assert_string_equal(reply->str, "OK");
    freeReplyObject(reply);
    reply = credis_command(r, "GET %s", f->key);
    assert_non_null(reply);
    assert_int_equal(reply->type, REDIS_REPLY_STRING);
    assert_int_equal(reply->len, sizeof value);
    assert_memory_equal(reply->str, value, sizeof value);
    freeReplyObject(reply);

    /* an error reply is a reply; the connection stays */
    reply = credis_command(r, "INCR %s", f->key);
    assert_non_null(reply);
    assert_int_equal(reply->type, REDIS_REPLY_ERROR);
    freeReplyObject(reply);
    assert_true(credis_connected(r));
    assert_int_equal(credis_connect_count(r), 1);

    const char *argv[] = {"DEL", f->key};
    reply = credis_command_argv(r, 2, argv, NULL);
    assert_non_null(reply);
    assert_int_equal(reply->integer, 1);
    freeReplyObject(reply);
    credis_free(r);
}

static void test_database_from_url(void **state)
{
    fixture *f = *state;
    /* the same server, database 5 (strip any /db of the base URL) */
    char base[600], url[620];
    snprintf(base, sizeof base, "%s", f->url);
    char *slash = strchr(base + strlen("redis://"), '/');
    if (slash)
        *slash = '\0';
    snprintf(url, sizeof url, "%s/5", base);
    credis *in5 = connect_to(f, url);
    redisReply *reply = credis_command(in5, "SET %s in-db-5 EX 60", f->key);
    assert_non_null(reply);
    freeReplyObject(reply);
    credis *in0 = connect_to(f, f->url);
    reply = credis_command(in0, "SELECT 5");
    freeReplyObject(reply);
    reply = credis_command(in0, "GET %s", f->key);
    assert_non_null(reply);
    assert_int_equal(reply->type, REDIS_REPLY_STRING);
    assert_string_equal(reply->str, "in-db-5");
    freeReplyObject(reply);
    reply = credis_command(in5, "DEL %s", f->key);
    freeReplyObject(reply);
    credis_free(in0);
    credis_free(in5);
}

static void test_reconnect_after_client_kill(void **state)
{
    fixture *f = *state;
    credis *victim = connect_to(f, f->url);
    credis *killer = connect_to(f, f->url);
    redisReply *reply = credis_command(victim, "CLIENT ID");
    assert_non_null(reply);
    assert_int_equal(reply->type, REDIS_REPLY_INTEGER);
    long long id = reply->integer;
    freeReplyObject(reply);
    reply = credis_command(killer, "CLIENT KILL ID %lld", id);
    assert_non_null(reply);
    assert_int_equal(reply->type, REDIS_REPLY_INTEGER);
    assert_int_equal(reply->integer, 1);
    freeReplyObject(reply);

    /* the next command finds the connection dead, reconnects once, retries */
    reply = credis_command(victim, "SET %s after-kill EX 60", f->key);
    assert_non_null(reply);
    assert_int_equal(reply->type, REDIS_REPLY_STATUS);
    freeReplyObject(reply);
    assert_int_equal(credis_connect_count(victim), 2);
    reply = credis_command(victim, "CLIENT ID");
    assert_true(reply->integer != id);
    freeReplyObject(reply);
    reply = credis_command(killer, "GET %s", f->key);
    assert_string_equal(reply->str, "after-kill");
    freeReplyObject(reply);
    reply = credis_command(killer, "DEL %s", f->key);
    freeReplyObject(reply);
    credis_free(killer);
    credis_free(victim);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_database_from_url),
        cmocka_unit_test(test_reconnect_after_client_kill),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
