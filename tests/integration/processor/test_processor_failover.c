/*
 * Ownership tests with two processor processes in one consumer group:
 *  - failover: while ops flow, one instance is killed with SIGKILL (in the
 *    middle of a batch: under this load a transaction is nearly always open);
 *    the other takes its partitions over after the session timeout. Every
 *    document ends with versions 1..n (no gap, no op twice) in collab.merged,
 *    the text equals the reference (the engine fed the same updates), and
 *    crdt_operations holds each version once.
 *  - rebalance: a second instance joins (partitions move while ops flow),
 *    then the first leaves cleanly; same checks.
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

#define DOCS 8

/* Waits until `want` merged records of any document are committed. */
static void wait_merged(ph_env *env, size_t want)
{
    ph_merged m;
    assert_int_equal(ph_read_merged(env, NULL, want, PH_TIMEOUT_MS, &m), 0);
    size_t got = m.count;
    ph_merged_free(&m);
    if (got < want)
        fail_msg("only %zu of %zu merged records arrived", got, want);
}

static void test_sigkill_failover(void **state)
{
    (void)state;
    ph_env env;
    assert_int_equal(ph_env_init(&env, "failover", 4), 0);
    ph_workload *w = ph_workload_new(&env, "doc", DOCS, 42);
    assert_non_null(w);
    ph_proc a, b;
    assert_int_equal(ph_start_processor(&env, "a", NULL, &a), 0);
    assert_int_equal(ph_start_processor(&env, "b", NULL, &b), 0);
    assert_int_equal(ph_workload_send(w, 200), 0);
    wait_merged(&env, 200); /* both run and own partitions */

    assert_int_equal(ph_workload_send(w, 600), 0);
    /* Kill while the 600 are being merged. */
    ph_merged m;
    assert_int_equal(ph_read_merged(&env, NULL, 260, PH_TIMEOUT_MS, &m), 0);
    ph_merged_free(&m);
    ph_kill(&a);
    assert_int_equal(ph_workload_send(w, 400), 0);

    ph_workload_verify(w, 180000);
    assert_true(ph_running(&b));
    assert_int_equal(ph_stop(&b, 30000), 0);
    ph_workload_free(w);
    ph_env_free(&env);
}

static void test_rebalance(void **state)
{
    (void)state;
    ph_env env;
    assert_int_equal(ph_env_init(&env, "rebalance", 4), 0);
    ph_workload *w = ph_workload_new(&env, "doc", DOCS, 7);
    assert_non_null(w);
    ph_proc a, b;
    assert_int_equal(ph_start_processor(&env, "a", NULL, &a), 0);
    assert_int_equal(ph_workload_send(w, 200), 0);
    wait_merged(&env, 200);
    /* b joins: some partitions move from a to b while ops flow */
    assert_int_equal(ph_start_processor(&env, "b", NULL, &b), 0);
    assert_int_equal(ph_workload_send(w, 300), 0);
    wait_merged(&env, 500);
    assert_int_equal(ph_workload_send(w, 100), 0);
    /* a leaves cleanly: b takes everything */
    assert_int_equal(ph_stop(&a, 30000), 0);
    assert_int_equal(ph_workload_send(w, 200), 0);
    ph_workload_verify(w, 180000);
    assert_int_equal(ph_stop(&b, 30000), 0);
    ph_workload_free(w);
    ph_env_free(&env);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sigkill_failover),
        cmocka_unit_test(test_rebalance),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
