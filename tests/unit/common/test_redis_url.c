/*
 * Unit tests of common/redis URL parsing and of its behaviour when no
 * server listens (a refused connection is a clear error, commands fail fast
 * during the backoff instead of reconnecting on every call).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/redis.h"

static void test_parse_valid(void **state)
{
    (void)state;
    credis_url u;
    char err[256];
    assert_int_equal(credis_url_parse("redis://127.0.0.1", &u, err, sizeof err), 0);
    assert_string_equal(u.host, "127.0.0.1");
    assert_int_equal(u.port, 6379);
    assert_int_equal(u.db, 0);
    assert_string_equal(u.password, "");

    assert_int_equal(credis_url_parse("redis://cache.local:6380/3", &u, err, sizeof err), 0);
    assert_string_equal(u.host, "cache.local");
    assert_int_equal(u.port, 6380);
    assert_int_equal(u.db, 3);

    assert_int_equal(credis_url_parse("redis://:p%40ss@127.0.0.1:7000/", &u, err, sizeof err), 0);
    assert_string_equal(u.password, "p@ss"); /* percent-decoded */
    assert_string_equal(u.user, "");
    assert_int_equal(u.port, 7000);
    assert_int_equal(u.db, 0);

    assert_int_equal(credis_url_parse("redis://app:s3cret@h:1/15", &u, err, sizeof err), 0);
    assert_string_equal(u.user, "app");
    assert_string_equal(u.password, "s3cret");
    assert_string_equal(u.host, "h");
    assert_int_equal(u.port, 1);
    assert_int_equal(u.db, 15);
}

static void test_parse_invalid(void **state)
{
    (void)state;
    const char *bad[] = {"",
                         "http://127.0.0.1:6379",
                         "127.0.0.1:6379",
                         "redis://",
                         "redis://:6379",
                         "redis://host:0",
                         "redis://host:65536",
                         "redis://host:12ab",
                         "redis://host:6379/x",
                         "redis://host:6379/-1",
                         "redis://:bad%4@host",
                         "redis://:bad%zz@host",
                         NULL};
    for (size_t i = 0; bad[i]; i++) {
        credis_url u;
        char err[256] = "";
        if (credis_url_parse(bad[i], &u, err, sizeof err) != -1)
            fail_msg("accepted \"%s\"", bad[i]);
        assert_true(strlen(err) > 0);
    }
    char err[256];
    credis_opts o = {.url = "nope://x"};
    assert_null(credis_new(&o, err, sizeof err));
    assert_non_null(strstr(err, "redis://"));
}

static void test_unreachable_server(void **state)
{
    (void)state;
    /* Port 1 on loopback: nothing listens there, connect is refused. */
    char err[256];
    credis_opts o = {
        .url = "redis://127.0.0.1:1", .backoff_base_ms = 5000, .backoff_max_ms = 10000};
    credis *r = credis_new(&o, err, sizeof err);
    assert_non_null(r); /* a server that is down is not a configuration error */
    assert_false(credis_connected(r));
    assert_int_equal(credis_connect_count(r), 0);
    assert_null(credis_command(r, "PING"));
    char why[256];
    credis_last_error(r, why, sizeof why);
    assert_true(strstr(why, "unreachable") || strstr(why, "refused"));
    credis_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_valid),
        cmocka_unit_test(test_parse_invalid),
        cmocka_unit_test(test_unreachable_server),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
