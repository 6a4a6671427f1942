/*
 * service: signal-driven lifecycle with ordered shutdown steps. Signals
 * arrive through a signalfd, stop requests from other threads through an
 * eventfd; svc_run polls both. See service.h.
 */
#include "common/service.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "common/util.h"

typedef enum step_kind { STEP_HOOK, STEP_THREAD } step_kind;

typedef struct svc_step {
    step_kind kind;
    char *name;
    svc_hook_fn hook;
    svc_loop_fn loop;
    svc_wake_fn wake;
    void *userdata;
    svc *owner;
    pthread_t thread;
    bool started;
    int loop_rc; /* written by the loop thread before it ends; read after join */
    struct svc_step *next;
} svc_step;

struct svc {
    char *name;
    clog *log;
    int signal_fd;
    int wake_fd;
    atomic_bool stopping;
    atomic_bool failed;
    atomic_int stop_signal;
    pthread_mutex_t reason_lock; /* guards reason */
    char reason[256];
    svc_step *first;
    svc_step *last;
    int64_t shutdown_timeout_ms; /* 0: none */
    int done_fd;                 /* eventfd: shutdown finished, stop the watchdog */
};

static void shutdown_signals(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGHUP);
}

int svc_block_signals(void)
{
    sigset_t set;
    shutdown_signals(&set);
    int rc = pthread_sigmask(SIG_BLOCK, &set, NULL);
    if (rc != 0) {
        errno = rc;
        return -1;
    }
    struct sigaction ignore;
    memset(&ignore, 0, sizeof ignore);
    ignore.sa_handler = SIG_IGN;
    sigemptyset(&ignore.sa_mask);
    return sigaction(SIGPIPE, &ignore, NULL);
}

svc *svc_new(const char *name, clog *log)
{
    svc *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->signal_fd = -1;
    s->wake_fd = -1;
    s->done_fd = -1;
    s->log = log;
    s->name = strdup(name ? name : "service");
    sigset_t set;
    shutdown_signals(&set);
    if (s->name)
        s->signal_fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
    if (s->signal_fd >= 0)
        s->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (s->wake_fd >= 0)
        s->done_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (!s->name || s->signal_fd < 0 || s->wake_fd < 0 || s->done_fd < 0 ||
        pthread_mutex_init(&s->reason_lock, NULL) != 0) {
        if (s->signal_fd >= 0)
            close(s->signal_fd);
        if (s->wake_fd >= 0)
            close(s->wake_fd);
        if (s->done_fd >= 0)
            close(s->done_fd);
        free(s->name);
        free(s);
        return NULL;
    }
    atomic_init(&s->stopping, false);
    atomic_init(&s->failed, false);
    atomic_init(&s->stop_signal, 0);
    return s;
}

void svc_free(svc *s)
{
    if (!s)
        return;
    for (svc_step *st = s->first; st;) {
        svc_step *next = st->next;
        /* A thread svc_run never joined (run not called): stop and join it
         * so that it does not outlive the memory it uses. */
        if (st->kind == STEP_THREAD && st->started) {
            atomic_store(&s->stopping, true);
            if (st->wake)
                st->wake(st->userdata);
            pthread_join(st->thread, NULL);
        }
        free(st->name);
        free(st);
        st = next;
    }
    close(s->signal_fd);
    close(s->wake_fd);
    close(s->done_fd);
    pthread_mutex_destroy(&s->reason_lock);
    free(s->name);
    free(s);
}

static svc_step *append_step(svc *s, step_kind kind, const char *name, void *userdata)
{
    svc_step *st = calloc(1, sizeof *st);
    if (!st)
        return NULL;
    st->name = strdup(name ? name : "step");
    if (!st->name) {
        free(st);
        return NULL;
    }
    st->kind = kind;
    st->userdata = userdata;
    st->owner = s;
    if (s->last)
        s->last->next = st;
    else
        s->first = st;
    s->last = st;
    return st;
}

int svc_add_hook(svc *s, const char *name, svc_hook_fn fn, void *userdata)
{
    svc_step *st = append_step(s, STEP_HOOK, name, userdata);
    if (!st)
        return -1;
    st->hook = fn;
    return 0;
}

static void *loop_thread(void *arg)
{
    svc_step *st = arg;
    svc *s = st->owner;
    int rc = st->loop(s, st->userdata);
    st->loop_rc = rc;
    if (!svc_stopping(s)) {
        char reason[200];
        snprintf(reason, sizeof reason, "loop %s ended (rc %d)", st->name, rc);
        svc_request_stop(s, rc != 0, reason);
    }
    return NULL;
}

int svc_spawn(svc *s, const char *name, svc_loop_fn fn, svc_wake_fn wake, void *userdata)
{
    svc_step *st = append_step(s, STEP_THREAD, name, userdata);
    if (!st)
        return -1;
    st->loop = fn;
    st->wake = wake;
    if (pthread_create(&st->thread, NULL, loop_thread, st) != 0) {
        clog_field f[] = {clog_str("loop", st->name)};
        clog_emit(s->log, CLOG_ERROR, "cannot start loop thread", f, 1);
        return -1; /* the step stays, not started: shutdown skips it */
    }
    st->started = true;
    return 0;
}

bool svc_stopping(const svc *s)
{
    return atomic_load(&((svc *)s)->stopping);
}

int svc_stop_signal(const svc *s)
{
    return atomic_load(&((svc *)s)->stop_signal);
}

void svc_request_stop(svc *s, bool failed, const char *reason)
{
    if (failed)
        atomic_store(&s->failed, true);
    pthread_mutex_lock(&s->reason_lock);
    if (!s->reason[0])
        snprintf(s->reason, sizeof s->reason, "%s", reason ? reason : "stop requested");
    pthread_mutex_unlock(&s->reason_lock);
    uint64_t one = 1;
    /* Only fails if the counter would overflow: a stop is already pending. */
    ssize_t n = write(s->wake_fd, &one, sizeof one);
    (void)n;
}

/* Blocks until a shutdown signal or a stop request. Returns 0 or -1. */
static int wait_for_stop(svc *s)
{
    struct pollfd fds[2] = {{.fd = s->signal_fd, .events = POLLIN},
                            {.fd = s->wake_fd, .events = POLLIN}};
    for (;;) {
        int n = poll(fds, 2, -1);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        if (fds[0].revents & POLLIN) {
            struct signalfd_siginfo info;
            if (read(s->signal_fd, &info, sizeof info) == (ssize_t)sizeof info) {
                atomic_store(&s->stop_signal, (int)info.ssi_signo);
                return 0;
            }
        }
        if (fds[1].revents & POLLIN)
            return 0;
    }
}

void svc_set_shutdown_timeout(svc *s, int64_t timeout_ms)
{
    s->shutdown_timeout_ms = timeout_ms > 0 ? timeout_ms : 0;
}

/*
 * Runs during the shutdown steps: a second SIGTERM/SIGINT, or the shutdown
 * timeout, ends the process at once with exit code 1 (an operator's "now",
 * or a step that hangs must not keep a stopped service alive forever). The
 * steps finishing in time writes done_fd, which ends the watchdog.
 */
static void *shutdown_watchdog(void *arg)
{
    svc *s = arg;
    int64_t deadline = s->shutdown_timeout_ms ? util_now_ms() + s->shutdown_timeout_ms : 0;
    struct pollfd fds[2] = {{.fd = s->signal_fd, .events = POLLIN},
                            {.fd = s->done_fd, .events = POLLIN}};
    for (;;) {
        int timeout = -1;
        if (deadline) {
            int64_t left = deadline - util_now_ms();
            timeout = left > 0 ? (int)left : 0;
        }
        int n = poll(fds, 2, timeout);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return NULL; /* cannot watch: the shutdown goes on unguarded */
        if (fds[1].revents & POLLIN)
            return NULL;
        const char *why;
        if (n == 0) {
            why = "shutdown took longer than its timeout: exiting now";
        } else if (fds[0].revents & POLLIN) {
            struct signalfd_siginfo info;
            if (read(s->signal_fd, &info, sizeof info) != (ssize_t)sizeof info)
                continue;
            why = "second stop signal during shutdown: exiting now";
        } else {
            continue;
        }
        clog_emit(s->log, CLOG_ERROR, why, NULL, 0);
        _exit(1);
    }
}

int svc_run(svc *s)
{
    clog_emit(s->log, CLOG_INFO, "service running", NULL, 0);
    if (wait_for_stop(s) != 0) {
        clog_errorf(s->log, "waiting for signals failed: %s", strerror(errno));
        atomic_store(&s->failed, true);
    }
    atomic_store(&s->stopping, true);
    int signo = svc_stop_signal(s);
    pthread_mutex_lock(&s->reason_lock);
    char reason[256];
    snprintf(reason, sizeof reason, "%s", signo ? strsignal(signo) : s->reason);
    pthread_mutex_unlock(&s->reason_lock);
    clog_field why[] = {clog_str("reason", reason), clog_int("signal", signo)};
    clog_emit(s->log, CLOG_INFO, "shutting down", why, 2);

    pthread_t watchdog;
    bool watching = pthread_create(&watchdog, NULL, shutdown_watchdog, s) == 0;
    if (!watching)
        clog_emit(s->log, CLOG_WARN, "no shutdown watchdog: a hung step will hang", NULL, 0);

    for (svc_step *st = s->first; st; st = st->next) {
        if (st->kind == STEP_THREAD && st->started && st->wake)
            st->wake(st->userdata);
    }
    for (svc_step *st = s->first; st; st = st->next) {
        int rc;
        if (st->kind == STEP_HOOK) {
            rc = st->hook(st->userdata);
        } else if (st->started) {
            pthread_join(st->thread, NULL);
            st->started = false;
            rc = st->loop_rc;
        } else {
            rc = -1; /* a loop that never started */
        }
        clog_field f[] = {clog_str("step", st->name), clog_int("rc", rc)};
        clog_emit(s->log, rc == 0 ? CLOG_INFO : CLOG_ERROR,
                  rc == 0 ? "shutdown step done" : "shutdown step failed", f, 2);
        if (rc != 0)
            atomic_store(&s->failed, true);
    }
    if (watching) {
        uint64_t one = 1;
        if (write(s->done_fd, &one, sizeof one) == (ssize_t)sizeof one)
            pthread_join(watchdog, NULL);
        else
            pthread_detach(watchdog);
    }
    bool failed = atomic_load(&s->failed);
    clog_emit(s->log, failed ? CLOG_ERROR : CLOG_INFO,
              failed ? "service stopped with errors" : "service stopped", NULL, 0);
    return failed ? 1 : 0;
}
