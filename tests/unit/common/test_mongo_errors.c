/*
 * Unit tests of common/mongo without a server: error classification
 * (duplicate key in its spellings, network and server-selection failures,
 * "not primary" codes, other errors), URI validation, and that an
 * unreachable server makes ping fail within the configured timeouts.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/mongo.h"
#include "common/util.h"

static bson_error_t make_error(uint32_t domain, uint32_t code)
{
    bson_error_t e;
    memset(&e, 0, sizeof e);
    e.domain = domain;
    e.code = code;
    return e;
}

static void test_classify(void **state)
{
    (void)state;
    bson_error_t none = make_error(0, 0);
    assert_int_equal(cmongo_classify(&none), CMONGO_OK);
    bson_error_t dup = make_error(MONGOC_ERROR_SERVER, 11000);
    assert_int_equal(cmongo_classify(&dup), CMONGO_DUPLICATE_KEY);
    assert_true(cmongo_is_duplicate_key(&dup));
    bson_error_t old_dup = make_error(MONGOC_ERROR_COLLECTION, 11001);
    assert_int_equal(cmongo_classify(&old_dup), CMONGO_DUPLICATE_KEY);
    bson_error_t stream = make_error(MONGOC_ERROR_STREAM, MONGOC_ERROR_STREAM_SOCKET);
    assert_int_equal(cmongo_classify(&stream), CMONGO_UNAVAILABLE);
    bson_error_t selection =
        make_error(MONGOC_ERROR_SERVER_SELECTION, MONGOC_ERROR_SERVER_SELECTION_FAILURE);
    assert_int_equal(cmongo_classify(&selection), CMONGO_UNAVAILABLE);
    bson_error_t not_primary = make_error(MONGOC_ERROR_SERVER, 10107);
    assert_int_equal(cmongo_classify(&not_primary), CMONGO_UNAVAILABLE);
    bson_error_t bad_query = make_error(MONGOC_ERROR_SERVER, 2); /* BadValue */
    assert_int_equal(cmongo_classify(&bad_query), CMONGO_FAILED);
    assert_false(cmongo_is_duplicate_key(&bad_query));
    /* 11000 in a client-side domain is not a server's duplicate key */
    bson_error_t odd = make_error(MONGOC_ERROR_CLIENT, 11000);
    assert_false(cmongo_is_duplicate_key(&odd));
    assert_string_equal(cmongo_error_kind_name(CMONGO_DUPLICATE_KEY), "duplicate_key");
}

static void test_invalid_uri(void **state)
{
    (void)state;
    char err[256];
    cmongo_opts o = {.uri = "mongo://nope", .db = "x"};
    assert_null(cmongo_new(&o, err, sizeof err));
    assert_non_null(strstr(err, "invalid MongoDB URI"));
}

static void test_unreachable_server_times_out(void **state)
{
    (void)state;
    char err[256];
    cmongo_opts o = {.uri = "mongodb://127.0.0.1:1",
                     .db = "x",
                     .connect_timeout_ms = 200,
                     .server_selection_timeout_ms = 300};
    cmongo *m = cmongo_new(&o, err, sizeof err);
    assert_non_null(m);
    bson_error_t e;
    int64_t start = util_now_ms();
    assert_int_equal(cmongo_ping(m, &e), -1);
    assert_int_equal(cmongo_classify(&e), CMONGO_UNAVAILABLE);
    assert_int_equal(cmongo_wait_ready(m, 500, &e), -1);
    /* bounded by the timeouts, not the driver's 30 s default: a generous
     * limit, this only guards against the defaults being used */
    assert_true(util_now_ms() - start < 20000);
    cmongo_free(m);
}

int main(void)
{
    mongoc_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_classify),
        cmocka_unit_test(test_invalid_uri),
        cmocka_unit_test(test_unreachable_server_times_out),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    mongoc_cleanup();
    return rc;
}
