/*
 * Integration test of common/mongo against the MongoDB-protocol server at
 * $COLLAB_MONGO_URI (FerretDB locally): ping, a unique index made twice
 * (idempotent), an insert that succeeds and its duplicate that fails with
 * 11000 and is classified as CMONGO_DUPLICATE_KEY, without corrupting what
 * was stored; a conflicting index definition is an error.
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

#include "common/mongo.h"
#include "common/util.h"

typedef struct fixture {
    cmongo *m;
    clog *log;
    char collection[128];
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    const char *uri = getenv("COLLAB_MONGO_URI");
    const char *db = getenv("COLLAB_MONGO_DB");
    f->log = clog_new("itest-mongo", CLOG_WARN, 2);
    cmongo_route_driver_log(f->log);
    cmongo_opts o = {.uri = uri && *uri ? uri : "mongodb://127.0.0.1:27017",
                     .db = db && *db ? db : "collab",
                     .app_name = "itest-common",
                     .log = f->log};
    char err[512];
    f->m = cmongo_new(&o, err, sizeof err);
    if (!f->m) {
        fprintf(stderr, "mongo: %s\n", err);
        clog_free(f->log);
        free(f);
        return -1;
    }
    snprintf(f->collection, sizeof f->collection, "itest_common_%ld_%lld", (long)getpid(),
             (long long)(util_wall_ns() % 1000000000000LL));
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    mongoc_client_t *client = cmongo_acquire(f->m);
    mongoc_collection_t *coll = cmongo_collection(f->m, client, f->collection);
    bson_error_t e;
    mongoc_collection_drop(coll, &e); /* best effort: it may not exist */
    mongoc_collection_destroy(coll);
    cmongo_release(f->m, client);
    cmongo_free(f->m);
    clog_free(f->log);
    free(f);
    return 0;
}

static bool insert_op(fixture *f, const char *doc_id, int op, const char *payload,
                      bson_error_t *error)
{
    mongoc_client_t *client = cmongo_acquire(f->m);
    mongoc_collection_t *coll = cmongo_collection(f->m, client, f->collection);
    bson_t *d =
        BCON_NEW("doc_id", BCON_UTF8(doc_id), "op", BCON_INT32(op), "payload", BCON_UTF8(payload));
    bool ok = mongoc_collection_insert_one(coll, d, NULL, NULL, error);
    bson_destroy(d);
    mongoc_collection_destroy(coll);
    cmongo_release(f->m, client);
    return ok;
}

static int64_t count_ops(fixture *f, const char *doc_id, const char *payload)
{
    mongoc_client_t *client = cmongo_acquire(f->m);
    mongoc_collection_t *coll = cmongo_collection(f->m, client, f->collection);
    bson_t *filter = BCON_NEW("doc_id", BCON_UTF8(doc_id), "payload", BCON_UTF8(payload));
    bson_error_t e;
    int64_t n = mongoc_collection_count_documents(coll, filter, NULL, NULL, NULL, &e);
    bson_destroy(filter);
    mongoc_collection_destroy(coll);
    cmongo_release(f->m, client);
    if (n < 0)
        fail_msg("count: %s", e.message);
    return n;
}

static void test_unique_index_and_duplicate_key(void **state)
{
    fixture *f = *state;
    bson_error_t e;
    if (cmongo_wait_ready(f->m, 30000, &e) != 0)
        fail_msg("MongoDB at $COLLAB_MONGO_URI not reachable: %s", e.message);
    assert_int_equal(cmongo_ping(f->m, &e), 0);

    bson_t *keys = BCON_NEW("doc_id", BCON_INT32(1), "op", BCON_INT32(1));
    if (cmongo_ensure_index(f->m, f->collection, keys, "doc_op_unique", true, &e) != 0)
        fail_msg("ensure index: %s", e.message);
    /* idempotent */
    if (cmongo_ensure_index(f->m, f->collection, keys, "doc_op_unique", true, &e) != 0)
        fail_msg("ensure index again: %s", e.message);

    assert_true(insert_op(f, "doc-1", 1, "first", &e));
    assert_true(insert_op(f, "doc-1", 2, "second", &e));
    assert_true(insert_op(f, "doc-2", 1, "other doc", &e));

    memset(&e, 0, sizeof e);
    assert_false(insert_op(f, "doc-1", 1, "replayed", &e));
    if (e.code != 11000)
        fail_msg("duplicate insert: domain %u code %u: %s", e.domain, e.code, e.message);
    assert_true(cmongo_is_duplicate_key(&e));
    assert_int_equal(cmongo_classify(&e), CMONGO_DUPLICATE_KEY);
    /* the stored document is untouched and the replay left nothing */
    assert_int_equal(count_ops(f, "doc-1", "first"), 1);
    assert_int_equal(count_ops(f, "doc-1", "replayed"), 0);

    /* the same name with other keys is an error, not silently accepted */
    bson_t *other = BCON_NEW("payload", BCON_INT32(1));
    assert_int_equal(cmongo_ensure_index(f->m, f->collection, other, "doc_op_unique", true, &e),
                     -1);
    assert_int_equal(cmongo_classify(&e), CMONGO_FAILED);
    bson_destroy(other);
    bson_destroy(keys);
}

int main(void)
{
    mongoc_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unique_index_and_duplicate_key),
    };
    int rc = cmocka_run_group_tests(tests, setup, teardown);
    mongoc_cleanup();
    return rc;
}
