/*
 * The processor's view writer (processor/views.h) on its own against the
 * real MongoDB-protocol server and Redis: a document's newest state reaches
 * Redis at once, its MongoDB documents row only after the documents interval
 * (or at once with an interval of 0), and the drain at shutdown writes every
 * row still owed, with the newest version, without waiting out the interval.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/util.h"
#include "processor/views.h"
#include "tests/integration/processor/harness.h"

/* A documents interval no test outlasts. */
static const int64_t HOUR_MS = (int64_t)3600 * 1000;

typedef struct fixture {
    ph_env env;
    metrics_registry *reg;
} fixture;

typedef struct writer {
    pviews *views;
    pthread_t thread;
    int rc;
} writer;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    if (!f || ph_env_init(&f->env, "views", 1) != 0) {
        free(f);
        return -1;
    }
    f->reg = metrics_registry_new();
    *state = f;
    return f->reg ? 0 : -1;
}

static int teardown(void **state)
{
    fixture *f = *state;
    metrics_registry_free(f->reg);
    ph_env_free(&f->env);
    free(f);
    return 0;
}

static void *writer_main(void *arg)
{
    writer *w = arg;
    w->rc = pviews_loop(NULL, w->views);
    return NULL;
}

/* A writer with its own registry entries; the thread runs until
 * writer_stop. */
static void writer_start(fixture *f, writer *w, int64_t documents_interval_ms)
{
    metrics_registry_free(f->reg);
    f->reg = metrics_registry_new();
    assert_non_null(f->reg);
    w->views = pviews_new(f->env.ds, (size_t)1 << 20, f->reg, f->env.log);
    assert_non_null(w->views);
    pviews_set_documents_interval_ms(w->views, documents_interval_ms);
    assert_int_equal(pthread_create(&w->thread, NULL, writer_main, w), 0);
}

static int writer_stop(writer *w)
{
    pviews_finish(w->views);
    pthread_join(w->thread, NULL);
    pviews_free(w->views);
    return w->rc;
}

/* Queues state `version` of doc (an empty Yjs update: the writer stores the
 * bytes as they are). Returns its sequence number. */
static uint64_t push_state(writer *w, const char *doc, int64_t version)
{
    static const uint8_t empty_update[] = {0, 0};
    static const uint8_t empty_sv[] = {0};
    docstore_position pos = {.partition = 0, .offset = version};
    uint64_t seq = pviews_push_state(w->views, doc, version, pos, empty_update, sizeof empty_update,
                                     empty_sv, sizeof empty_sv);
    assert_true(seq > 0);
    return seq;
}

static bool wait_written(writer *w, uint64_t seq)
{
    int64_t deadline = util_now_ms() + PH_TIMEOUT_MS;
    while (pviews_written_seq(w->views) < seq && util_now_ms() < deadline)
        util_sleep_ms(20);
    return pviews_written_seq(w->views) >= seq;
}

/* Waits (deadline) until doc's MongoDB documents row reaches want; returns
 * the version it holds then. */
static int64_t wait_document_version(fixture *f, const char *doc, int64_t want)
{
    int64_t deadline = util_now_ms() + PH_TIMEOUT_MS;
    while (ph_document_version(&f->env, doc) < want && util_now_ms() < deadline)
        util_sleep_ms(20);
    return ph_document_version(&f->env, doc);
}

static int64_t redis_version(fixture *f, const char *doc)
{
    docstore_state st;
    char err[256];
    if (docstore_get_cached_state(f->env.ds, doc, &st, err, sizeof err) != DOCSTORE_OK)
        return -1;
    int64_t version = st.version;
    docstore_state_clear(&st);
    return version;
}

static void test_documents_row_waits_for_the_interval_and_the_drain_writes_it(void **state)
{
    fixture *f = *state;
    char doc[200];
    ph_doc_id(&f->env, "paced", doc, sizeof doc);
    writer w;
    /* An hour: the row cannot fall due while the test runs. */
    writer_start(f, &w, HOUR_MS);
    push_state(&w, doc, 1);
    push_state(&w, doc, 2);
    uint64_t last = push_state(&w, doc, 3);
    assert_true(wait_written(&w, last));
    /* Redis has the newest state at once... */
    assert_int_equal(redis_version(f, doc), 3);
    /* ...MongoDB documents is still owed, and counted as pending. */
    assert_int_equal(ph_document_version(&f->env, doc), 0);
    assert_int_equal(pviews_pending(w.views), 1);
    /* Shutdown writes it, newest version, without waiting the hour. */
    int64_t t0 = util_now_ms();
    assert_int_equal(writer_stop(&w), 0);
    assert_true(util_now_ms() - t0 < HOUR_MS);
    assert_int_equal(ph_document_version(&f->env, doc), 3);
}

static void test_interval_zero_writes_the_row_while_running(void **state)
{
    fixture *f = *state;
    char doc[200];
    ph_doc_id(&f->env, "eager", doc, sizeof doc);
    writer w;
    writer_start(f, &w, 0);
    uint64_t seq = push_state(&w, doc, 7);
    assert_true(wait_written(&w, seq));
    assert_int_equal(wait_document_version(f, doc, 7), 7);
    assert_int_equal(writer_stop(&w), 0);
}

static void test_a_due_row_is_written_without_new_jobs(void **state)
{
    fixture *f = *state;
    char doc[200];
    ph_doc_id(&f->env, "due", doc, sizeof doc);
    writer w;
    /* Short enough to fall due during the test; the writer must wake for it
     * with nothing else queued. */
    writer_start(f, &w, 200);
    uint64_t seq = push_state(&w, doc, 4);
    assert_true(wait_written(&w, seq));
    assert_int_equal(wait_document_version(f, doc, 4), 4);
    /* Nothing owed any more. */
    int64_t deadline = util_now_ms() + PH_TIMEOUT_MS;
    while (pviews_pending(w.views) > 0 && util_now_ms() < deadline)
        util_sleep_ms(20);
    assert_int_equal(pviews_pending(w.views), 0);
    assert_int_equal(writer_stop(&w), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_documents_row_waits_for_the_interval_and_the_drain_writes_it),
        cmocka_unit_test(test_interval_zero_writes_the_row_while_running),
        cmocka_unit_test(test_a_due_row_is_written_without_new_jobs),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
