/*
 * A MongoDB outage of 10 s under a running processor (deploy/local/ferretdb.sh
 * stop/start; run serially, and FerretDB is started again whatever happens):
 * merged records keep coming (the hot path never waits for MongoDB), the view
 * writer holds and retries its jobs, and once MongoDB is back every view
 * catches up: nothing lost, versions contiguous, text equal to the reference.
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

static int ferretdb(const char *action)
{
    const char *src = getenv("COLLAB_SOURCE_DIR");
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "'%s/deploy/local/ferretdb.sh' %s >&2", src ? src : ".", action);
    return system(cmd);
}

static int restore_ferretdb(void **state)
{
    (void)state;
    /* Whatever the test did: the database is running afterwards. */
    return ferretdb("start") == 0 ? 0 : -1;
}

static void test_mongo_outage(void **state)
{
    (void)state;
    ph_env env;
    assert_int_equal(ph_env_init(&env, "outage", 2), 0);
    ph_workload *w = ph_workload_new(&env, "doc", 4, 5);
    ph_proc p;
    assert_int_equal(ph_start_processor(&env, "p1", NULL, &p), 0);
    assert_int_equal(ph_workload_send(w, 100), 0);
    for (size_t i = 0; i < ph_workload_docs(w); i++)
        assert_true(ph_wait_ops(&env, ph_workload_doc(w, i), (int64_t)ph_workload_ops(w, i),
                                PH_TIMEOUT_MS));

    assert_int_equal(ferretdb("stop"), 0);
    int64_t stopped_at = util_now_ms();
    /* ops keep being merged and committed while MongoDB is away */
    while (util_now_ms() - stopped_at < 10000) {
        assert_int_equal(ph_workload_send(w, 20), 0);
        util_sleep_ms(100); /* pacing of the load, not a wait for a result */
    }
    size_t total = 0;
    for (size_t i = 0; i < ph_workload_docs(w); i++)
        total += ph_workload_ops(w, i);
    ph_merged m;
    assert_int_equal(ph_read_merged(&env, NULL, total, 30000, &m), 0);
    size_t merged = m.count;
    ph_merged_free(&m);
    assert_int_equal(merged, total);
    assert_true(ph_running(&p));
    assert_int_equal(ferretdb("start"), 0);

    ph_workload_verify(w, 180000);
    assert_int_equal(ph_stop(&p, 30000), 0);
    ph_workload_free(w);
    ph_env_free(&env);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_mongo_outage, restore_ferretdb),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
