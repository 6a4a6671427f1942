/*
 * Integration: common/doc_access against the real MongoDB-protocol server.
 * The role comes from the permissions; a user without one on an existing
 * document is told apart from a missing document; answers are cached per
 * (document, user) for the TTL (a change applies after it, or at once with
 * TTL 0), missing documents included; expiring drops only stale answers.
 * Runs in a database of its own, dropped at the end.
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
#include <mongoc/mongoc.h>

#include "common/doc_access.h"
#include "common/mongo.h"
#include "common/userstore.h"
#include "common/util.h"

#define TTL_MS 60000

typedef struct fixture {
    clog *log;
    cmongo *m;
    ustore *store;
    char db[96];
    char doc_id[64], other_doc_id[64];
    ustore_user owner, reader;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    const char *uri = getenv("COLLAB_MONGO_URI");
    f->log = clog_new("itest-doc-access", CLOG_WARN, 2);
    cmongo_route_driver_log(f->log);
    unsigned run = (unsigned)getpid() ^ (unsigned)(util_wall_ns() / 1000);
    snprintf(f->db, sizeof f->db, "collab_itest_access_%u", run);
    snprintf(f->doc_id, sizeof f->doc_id, "access-%u", run);
    snprintf(f->other_doc_id, sizeof f->other_doc_id, "access-later-%u", run);
    cmongo_opts o = {.uri = uri && *uri ? uri : "mongodb://127.0.0.1:27017",
                     .db = f->db,
                     .app_name = "itest-doc-access",
                     .log = f->log};
    char err[512];
    f->m = cmongo_new(&o, err, sizeof err);
    f->store = f->m ? ustore_new(f->m, f->log) : NULL;
    if (!f->store) {
        fprintf(stderr, "mongo: %s\n", f->m ? "out of memory" : err);
        cmongo_free(f->m);
        clog_free(f->log);
        free(f);
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    mongoc_client_t *client = cmongo_acquire(f->m);
    mongoc_database_t *db = mongoc_client_get_database(client, f->db);
    bson_error_t e;
    mongoc_database_drop(db, &e); /* best effort */
    mongoc_database_destroy(db);
    cmongo_release(f->m, client);
    ustore_free(f->store);
    cmongo_free(f->m);
    clog_free(f->log);
    free(f);
    return 0;
}

static void create_user(fixture *f, const char *username, ustore_user *out)
{
    assert_int_equal(ustore_user_create(f->store, username, "not-a-real-hash", username, out),
                     USTORE_OK);
}

static void create_doc(fixture *f, const char *id)
{
    ustore_doc doc;
    memset(&doc, 0, sizeof doc);
    snprintf(doc.id, sizeof doc.id, "%s", id);
    snprintf(doc.owner, sizeof doc.owner, "%s", f->owner.id);
    snprintf(doc.item_policy, sizeof doc.item_policy, "manual");
    assert_int_equal(ustore_doc_create(f->store, &doc), USTORE_OK);
}

static void expect_role(docaccess *a, const char *doc_id, const char *user_id, int64_t now,
                        docaccess_status want_status, ustore_role want_role)
{
    ustore_role role = USTORE_ROLE_OWNER; /* overwritten on OK */
    assert_int_equal(docaccess_role(a, doc_id, user_id, now, &role), want_status);
    if (want_status == DOCACCESS_OK)
        assert_int_equal(role, want_role);
}

static void test_roles_and_refusals(void **state)
{
    fixture *f = *state;
    create_user(f, "access-owner", &f->owner);
    create_user(f, "access-reader", &f->reader);
    create_doc(f, f->doc_id);
    docaccess *a = docaccess_new(f->store, 0);
    assert_non_null(a);
    int64_t now = util_now_ms();
    expect_role(a, f->doc_id, f->owner.id, now, DOCACCESS_OK, USTORE_ROLE_OWNER);
    /* No right on an existing document: OK with no role (a 403), not a 404. */
    expect_role(a, f->doc_id, f->reader.id, now, DOCACCESS_OK, USTORE_ROLE_NONE);
    expect_role(a, "no-such-document", f->reader.id, now, DOCACCESS_NOT_FOUND, USTORE_ROLE_NONE);
    assert_int_equal(
        ustore_permission_set(f->store, f->doc_id, f->reader.id, USTORE_ROLE_VIEWER, f->owner.id),
        USTORE_OK);
    /* TTL 0: every check reads, so the grant shows at once. */
    expect_role(a, f->doc_id, f->reader.id, now, DOCACCESS_OK, USTORE_ROLE_VIEWER);
    docaccess_free(a);
}

static void test_answers_cached_for_the_ttl(void **state)
{
    fixture *f = *state;
    create_user(f, "access-owner", &f->owner);
    create_user(f, "access-reader", &f->reader);
    create_doc(f, f->doc_id);
    assert_int_equal(
        ustore_permission_set(f->store, f->doc_id, f->reader.id, USTORE_ROLE_EDITOR, f->owner.id),
        USTORE_OK);
    docaccess *a = docaccess_new(f->store, TTL_MS);
    assert_non_null(a);
    int64_t t0 = util_now_ms();
    expect_role(a, f->doc_id, f->reader.id, t0, DOCACCESS_OK, USTORE_ROLE_EDITOR);
    expect_role(a, f->other_doc_id, f->reader.id, t0, DOCACCESS_NOT_FOUND, USTORE_ROLE_NONE);

    /* The right is lowered and the other document created: within the TTL
     * the cached answers stand (the point of the cache: no read). */
    assert_int_equal(
        ustore_permission_set(f->store, f->doc_id, f->reader.id, USTORE_ROLE_VIEWER, f->owner.id),
        USTORE_OK);
    create_doc(f, f->other_doc_id);
    expect_role(a, f->doc_id, f->reader.id, t0 + TTL_MS - 1, DOCACCESS_OK, USTORE_ROLE_EDITOR);
    expect_role(a, f->other_doc_id, f->reader.id, t0 + TTL_MS - 1, DOCACCESS_NOT_FOUND,
                USTORE_ROLE_NONE);
    /* Another user is another entry. */
    expect_role(a, f->doc_id, f->owner.id, t0, DOCACCESS_OK, USTORE_ROLE_OWNER);

    /* Expiring before the TTL keeps them; after it, the next check reads. */
    docaccess_expire(a, t0 + TTL_MS - 1);
    expect_role(a, f->doc_id, f->reader.id, t0 + TTL_MS - 1, DOCACCESS_OK, USTORE_ROLE_EDITOR);
    docaccess_expire(a, t0 + TTL_MS);
    expect_role(a, f->doc_id, f->reader.id, t0 + TTL_MS, DOCACCESS_OK, USTORE_ROLE_VIEWER);
    expect_role(a, f->other_doc_id, f->reader.id, t0 + TTL_MS, DOCACCESS_OK, USTORE_ROLE_NONE);
    /* A stale entry not yet expired is read again too. */
    expect_role(a, f->doc_id, f->owner.id, t0 + TTL_MS, DOCACCESS_OK, USTORE_ROLE_OWNER);
    docaccess_free(a);
}

int main(void)
{
    mongoc_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_roles_and_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_answers_cached_for_the_ttl, setup, teardown),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    mongoc_cleanup();
    return rc;
}
