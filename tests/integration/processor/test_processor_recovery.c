/*
 * Recovery from a snapshot plus the log. A processor and the snapshotter run
 * until every document has a snapshot; the snapshotter stops, more ops are
 * merged (now only in collab.merged and the views), and the processor is
 * killed. The views of those newer ops are then deleted (Redis doc:{doc},
 * crdt_operations after the snapshot), so the only place they still exist is
 * the log: a new processor must rebuild each document from its snapshot plus
 * collab.merged from the snapshotter's committed offset, before it merges new
 * ops. Versions must continue without gap or repeat, the text must equal the
 * reference, and the deleted views must be written again.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/util.h"
#include "tests/integration/processor/harness.h"

#define DOCS 3

static void delete_views_after(ph_env *env, const char *doc, int64_t version)
{
    redisReply *r = credis_command(env->redis, "DEL doc:%s", doc);
    assert_non_null(r);
    freeReplyObject(r);
    mongoc_client_t *client = cmongo_acquire(env->mongo);
    mongoc_collection_t *coll = cmongo_collection(env->mongo, client, "crdt_operations");
    bson_t *filter =
        BCON_NEW("doc_id", BCON_UTF8(doc), "version", "{", "$gt", BCON_INT64(version), "}");
    bson_error_t error;
    assert_true(mongoc_collection_delete_many(coll, filter, NULL, NULL, &error));
    bson_destroy(filter);
    mongoc_collection_destroy(coll);
    cmongo_release(env->mongo, client);
}

static void test_recovery_from_snapshot_and_log(void **state)
{
    (void)state;
    ph_env env;
    assert_int_equal(ph_env_init(&env, "recovery", 2), 0);
    ph_workload *w = ph_workload_new(&env, "doc", DOCS, 99);
    assert_non_null(w);
    ph_proc p1, p2, snap;
    const char *snap_flags[] = {"--every-ops", "10", "--every-time", "500ms", NULL};
    assert_int_equal(ph_start_processor(&env, "p1", NULL, &p1), 0);
    assert_int_equal(ph_start_snapshotter(&env, "s1", snap_flags, &snap), 0);
    assert_int_equal(ph_workload_send(w, 150), 0);

    /* every document gets a snapshot of its current version */
    int64_t snapshot_at[DOCS];
    int64_t deadline = util_now_ms() + PH_TIMEOUT_MS;
    for (size_t i = 0; i < DOCS; i++) {
        const char *doc = ph_workload_doc(w, i);
        while ((snapshot_at[i] = ph_snapshot_version(&env, doc)) < (int64_t)ph_workload_ops(w, i) &&
               util_now_ms() < deadline)
            util_sleep_ms(100);
        assert_int_equal(snapshot_at[i], (int64_t)ph_workload_ops(w, i));
    }
    /* the snapshotter commits its offsets and leaves */
    assert_int_equal(ph_stop(&snap, 30000), 0);

    /* newer ops exist only in the log and the views */
    assert_int_equal(ph_workload_send(w, 90), 0);
    for (size_t i = 0; i < DOCS; i++) {
        ph_merged m;
        assert_int_equal(
            ph_read_merged(&env, ph_workload_doc(w, i), ph_workload_ops(w, i), PH_TIMEOUT_MS, &m),
            0);
        assert_int_equal(m.count, ph_workload_ops(w, i));
        ph_merged_free(&m);
        assert_true(ph_wait_ops(&env, ph_workload_doc(w, i), (int64_t)ph_workload_ops(w, i),
                                PH_TIMEOUT_MS));
    }
    ph_kill(&p1);
    for (size_t i = 0; i < DOCS; i++) {
        delete_views_after(&env, ph_workload_doc(w, i), snapshot_at[i]);
        int64_t total, distinct;
        bool contiguous;
        assert_int_equal(ph_count_ops(&env, ph_workload_doc(w, i), &total, &distinct, &contiguous),
                         0);
        assert_int_equal(total, snapshot_at[i]);
    }

    assert_int_equal(ph_start_processor(&env, "p2", NULL, &p2), 0);
    assert_int_equal(ph_workload_send(w, 60), 0);
    ph_workload_verify(w, 180000);
    assert_int_equal(ph_stop(&p2, 30000), 0);
    ph_workload_free(w);
    ph_env_free(&env);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_recovery_from_snapshot_and_log),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
