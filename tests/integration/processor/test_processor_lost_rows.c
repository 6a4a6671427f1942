/*
 * No crdt_operations row is lost for good when the processor's view writes
 * are lost. Processor "a" runs with a one-byte view queue, so every view
 * write it makes is dropped: the state of a crash that loses queued rows of
 * already committed ops, every time. The snapshotter snapshots often and so
 * would commit its collab.merged offset past those records; it must first
 * store their rows itself. Then "a" is SIGKILLed and "b" takes over (its
 * recovery starts at the snapshotter's committed offset): every document must
 * end with crdt_operations holding versions 1..n exactly once, besides the
 * usual checks (merged versions, text, documents.version).
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

#define DOCS 4

static void test_rows_lost_by_processor_are_stored(void **state)
{
    (void)state;
    ph_env env;
    assert_int_equal(ph_env_init(&env, "lostrows", 2), 0);
    ph_workload *w = ph_workload_new(&env, "doc", DOCS, 1234);
    assert_non_null(w);
    ph_proc a, b, snap;
    const char *snap_flags[] = {"--every-ops", "10", "--every-time", "500ms", NULL};
    const char *no_views[] = {"--view-queue", "1", NULL};
    assert_int_equal(ph_start_snapshotter(&env, "s1", snap_flags, &snap), 0);
    assert_int_equal(ph_start_processor(&env, "a", no_views, &a), 0);
    assert_int_equal(ph_workload_send(w, 200), 0);

    /* The snapshotter has read every record: each document is snapshotted at
     * its last version, so nothing holds its offset back but the rows. */
    int64_t deadline = util_now_ms() + PH_TIMEOUT_MS;
    for (size_t i = 0; i < DOCS; i++) {
        const char *doc = ph_workload_doc(w, i);
        int64_t at;
        while ((at = ph_snapshot_version(&env, doc)) < (int64_t)ph_workload_ops(w, i) &&
               util_now_ms() < deadline)
            util_sleep_ms(100);
        assert_int_equal(at, (int64_t)ph_workload_ops(w, i));
    }
    /* "a" wrote no row at all: the snapshotter stores them all. */
    for (size_t i = 0; i < DOCS; i++) {
        const char *doc = ph_workload_doc(w, i);
        if (!ph_wait_ops(&env, doc, (int64_t)ph_workload_ops(w, i), PH_TIMEOUT_MS))
            fail_msg("%s: crdt_operations rows missing while the processor drops them", doc);
        int64_t total, distinct;
        bool contiguous;
        assert_int_equal(ph_count_ops(&env, doc, &total, &distinct, &contiguous), 0);
        assert_int_equal(total, (int64_t)ph_workload_ops(w, i));
        assert_int_equal(distinct, total);
        assert_true(contiguous);
    }

    /* Crash and take-over, with more ops that "a" merges and drops the rows
     * of before it dies. */
    assert_int_equal(ph_workload_send(w, 100), 0);
    ph_merged m;
    assert_int_equal(ph_read_merged(&env, NULL, 260, PH_TIMEOUT_MS, &m), 0);
    ph_merged_free(&m);
    ph_kill(&a);
    assert_int_equal(ph_start_processor(&env, "b", NULL, &b), 0);
    assert_int_equal(ph_workload_send(w, 100), 0);
    ph_workload_verify(w, 180000);
    assert_true(ph_running(&snap));
    assert_int_equal(ph_stop(&b, 30000), 0);
    assert_int_equal(ph_stop(&snap, 30000), 0);
    ph_workload_free(w);
    ph_env_free(&env);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rows_lost_by_processor_are_stored),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
