/*
 * Unit tests of common/service: SIGTERM sent to the process (and to a child
 * process) starts the shutdown; wake functions run first, then hooks and
 * thread joins in registration order; exit codes: 0 for a clean stop, 1 when
 * a hook fails or a loop dies; a stop requested from a thread works without
 * a signal.
 */
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/service.h"
#include "common/util.h"

/* An append-only record of what happened, in order. */
typedef struct journal {
    pthread_mutex_t lock;
    char events[16][32];
    int count;
} journal;

static void journal_add(journal *j, const char *event)
{
    pthread_mutex_lock(&j->lock);
    if (j->count < 16)
        snprintf(j->events[j->count++], sizeof j->events[0], "%s", event);
    pthread_mutex_unlock(&j->lock);
}

static int journal_index(journal *j, const char *event)
{
    for (int i = 0; i < j->count; i++) {
        if (strcmp(j->events[i], event) == 0)
            return i;
    }
    fail_msg("event %s missing", event);
    return -1;
}

typedef struct step_ctx {
    journal *j;
    const char *name;
    int rc;
} step_ctx;

static int record_hook(void *userdata)
{
    step_ctx *c = userdata;
    journal_add(c->j, c->name);
    return c->rc;
}

typedef struct loop_ctx {
    journal *j;
    atomic_bool running;
    atomic_bool woken;
    bool send_sigterm; /* the loop signals its own process once running */
    int fail_after_ms; /* > 0: return an error on its own after that long */
} loop_ctx;

static int worker_loop(svc *s, void *userdata)
{
    loop_ctx *c = userdata;
    atomic_store(&c->running, true);
    if (c->send_sigterm)
        kill(getpid(), SIGTERM);
    int64_t started = util_now_ms();
    while (!svc_stopping(s)) {
        if (c->fail_after_ms > 0 && util_now_ms() - started >= c->fail_after_ms)
            return 7;
        util_sleep_ms(1);
    }
    /* stopping is set before wake runs, and wake before any join */
    journal_add(c->j, "loop-exit");
    return 0;
}

static void worker_wake(void *userdata)
{
    loop_ctx *c = userdata;
    atomic_store(&c->woken, true);
    journal_add(c->j, "wake");
}

static void test_sigterm_runs_hooks_in_order(void **state)
{
    (void)state;
    journal j = {.count = 0};
    pthread_mutex_init(&j.lock, NULL);
    clog *log = clog_new("test", CLOG_WARN, 2);
    svc *s = svc_new("test", log);
    assert_non_null(s);
    step_ctx stop_accepting = {&j, "stop-accepting", 0};
    step_ctx flush = {&j, "flush", 0};
    step_ctx commit = {&j, "commit", 0};
    loop_ctx loop = {.j = &j, .send_sigterm = true};
    atomic_init(&loop.running, false);
    atomic_init(&loop.woken, false);
    assert_int_equal(svc_add_hook(s, "stop-accepting", record_hook, &stop_accepting), 0);
    assert_int_equal(svc_spawn(s, "worker", worker_loop, worker_wake, &loop), 0);
    assert_int_equal(svc_add_hook(s, "flush", record_hook, &flush), 0);
    assert_int_equal(svc_add_hook(s, "commit", record_hook, &commit), 0);
    assert_int_equal(svc_run(s), 0);
    assert_int_equal(svc_stop_signal(s), SIGTERM);
    assert_true(atomic_load(&loop.woken));
    assert_int_equal(j.count, 5);
    assert_int_equal(journal_index(&j, "wake"), 0);
    assert_true(journal_index(&j, "stop-accepting") < journal_index(&j, "flush"));
    assert_true(journal_index(&j, "loop-exit") < journal_index(&j, "flush"));
    assert_true(journal_index(&j, "flush") < journal_index(&j, "commit"));
    assert_true(svc_stopping(s));
    svc_free(s);
    clog_free(log);
    pthread_mutex_destroy(&j.lock);
}

static void test_failing_hook_gives_exit_1(void **state)
{
    (void)state;
    journal j = {.count = 0};
    pthread_mutex_init(&j.lock, NULL);
    svc *s = svc_new("test", NULL);
    step_ctx bad = {&j, "bad", -1};
    step_ctx after = {&j, "after", 0};
    assert_int_equal(svc_add_hook(s, "bad", record_hook, &bad), 0);
    assert_int_equal(svc_add_hook(s, "after", record_hook, &after), 0);
    svc_request_stop(s, false, "test asks");
    assert_int_equal(svc_run(s), 1);
    assert_int_equal(svc_stop_signal(s), 0);
    /* a failing step does not skip the later ones */
    assert_int_equal(j.count, 2);
    assert_int_equal(journal_index(&j, "after"), 1);
    svc_free(s);
    pthread_mutex_destroy(&j.lock);
}

static void test_dying_loop_stops_service(void **state)
{
    (void)state;
    journal j = {.count = 0};
    pthread_mutex_init(&j.lock, NULL);
    svc *s = svc_new("test", NULL);
    loop_ctx loop = {.j = &j, .fail_after_ms = 20};
    atomic_init(&loop.running, false);
    atomic_init(&loop.woken, false);
    step_ctx cleanup = {&j, "cleanup", 0};
    assert_int_equal(svc_spawn(s, "worker", worker_loop, NULL, &loop), 0);
    assert_int_equal(svc_add_hook(s, "cleanup", record_hook, &cleanup), 0);
    assert_int_equal(svc_run(s), 1); /* the loop returned 7 on its own */
    assert_int_equal(journal_index(&j, "cleanup"), 0);
    svc_free(s);
    pthread_mutex_destroy(&j.lock);
}

static void test_clean_stop_request(void **state)
{
    (void)state;
    svc *s = svc_new("test", NULL);
    assert_false(svc_stopping(s));
    svc_request_stop(s, false, "done");
    assert_int_equal(svc_run(s), 0);
    svc_free(s);
}

/* The child: a service whose hooks report through a pipe; exits with
 * svc_run's code, as a real main would. */
static void child_service(int report_fd, int hook_rc)
{
    if (svc_block_signals() != 0)
        _exit(90);
    svc *s = svc_new("child", NULL);
    if (!s)
        _exit(91);
    journal j = {.count = 0};
    pthread_mutex_init(&j.lock, NULL);
    step_ctx first = {&j, "first", 0};
    step_ctx second = {&j, "second", hook_rc};
    svc_add_hook(s, "first", record_hook, &first);
    svc_add_hook(s, "second", record_hook, &second);
    if (write(report_fd, "R", 1) != 1)
        _exit(92);
    int code = svc_run(s);
    for (int i = 0; i < j.count; i++) {
        if (write(report_fd, j.events[i], 1) != 1) /* 'f', 's' */
            _exit(93);
    }
    svc_free(s);
    _exit(code);
}

static void run_child(int sig, int hook_rc, int expected_code)
{
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        child_service(fds[1], hook_rc);
    }
    close(fds[1]);
    char ready;
    assert_int_equal(read(fds[0], &ready, 1), 1);
    assert_int_equal(ready, 'R');
    assert_int_equal(kill(pid, sig), 0);
    char order[8] = {0};
    size_t got = 0;
    ssize_t n;
    while (got < sizeof order - 1 && (n = read(fds[0], order + got, sizeof order - 1 - got)) > 0)
        got += (size_t)n;
    close(fds[0]);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status)); /* not killed by the signal */
    assert_int_equal(WEXITSTATUS(status), expected_code);
    assert_string_equal(order, "fs");
}

static void test_child_process_sigterm(void **state)
{
    (void)state;
    run_child(SIGTERM, 0, 0);
    run_child(SIGINT, 0, 0);
    run_child(SIGTERM, 5, 1);
}

/* A shutdown step that never finishes on its own. */
static int hung_hook(void *userdata)
{
    int report_fd = *(int *)userdata;
    if (write(report_fd, "H", 1) != 1)
        return -1;
    util_sleep_ms(600000);
    return 0;
}

static void child_with_hung_hook(int report_fd, int64_t timeout_ms)
{
    if (svc_block_signals() != 0)
        _exit(90);
    svc *s = svc_new("child", NULL);
    if (!s)
        _exit(91);
    svc_set_shutdown_timeout(s, timeout_ms);
    svc_add_hook(s, "hangs", hung_hook, &report_fd);
    if (write(report_fd, "R", 1) != 1)
        _exit(92);
    _exit(svc_run(s) == 0 ? 93 : 94); /* not reached: the watchdog exits */
}

/* Waits for the child to exit within deadline_ms; kills it if it does not. */
static int wait_exit(pid_t pid, int deadline_ms)
{
    int64_t deadline = util_now_ms() + deadline_ms;
    int status;
    while (util_now_ms() < deadline) {
        pid_t got = waitpid(pid, &status, WNOHANG);
        if (got == pid)
            return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        util_sleep_ms(10);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    return -1;
}

static void test_hung_shutdown_is_bounded(void **state)
{
    (void)state;
    /* a second SIGTERM ends a hung shutdown */
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        child_with_hung_hook(fds[1], 0);
    }
    close(fds[1]);
    char c;
    assert_int_equal(read(fds[0], &c, 1), 1);
    assert_int_equal(c, 'R');
    assert_int_equal(kill(pid, SIGTERM), 0);
    assert_int_equal(read(fds[0], &c, 1), 1);
    assert_int_equal(c, 'H'); /* the shutdown is under way and stuck */
    assert_int_equal(kill(pid, SIGTERM), 0);
    assert_int_equal(wait_exit(pid, 10000), 1);
    close(fds[0]);

    /* the shutdown timeout ends it without a second signal */
    assert_int_equal(pipe(fds), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        child_with_hung_hook(fds[1], 100);
    }
    close(fds[1]);
    assert_int_equal(read(fds[0], &c, 1), 1);
    assert_int_equal(kill(pid, SIGTERM), 0);
    assert_int_equal(read(fds[0], &c, 1), 1);
    assert_int_equal(c, 'H');
    assert_int_equal(wait_exit(pid, 10000), 1);
    close(fds[0]);
}

int main(void)
{
    /* Before any thread exists, as in a service's main. */
    if (svc_block_signals() != 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sigterm_runs_hooks_in_order),
        cmocka_unit_test(test_failing_hook_gives_exit_1),
        cmocka_unit_test(test_dying_loop_stops_service),
        cmocka_unit_test(test_clean_stop_request),
        cmocka_unit_test(test_child_process_sigterm),
        cmocka_unit_test(test_hung_shutdown_is_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
