/*
 * service: the life of a service process. main blocks SIGTERM and SIGINT
 * before it starts any thread (svc_block_signals), so every thread inherits
 * the mask and only svc_run receives them, through a signalfd: no signal
 * handler and no global flag. The service registers, in order, what shutdown
 * must do: loop threads to stop (svc_spawn: their wake function is called
 * when shutdown starts, and the thread is joined at its place in the order)
 * and hooks (svc_add_hook: stop accepting, drain, flush producers, commit,
 * close). svc_run waits for a signal or svc_request_stop(), then sets the
 * stopping flag loops poll (svc_stopping), calls every wake function, and
 * walks the list in order. It returns 0 when every step succeeded and nothing
 * requested a failing stop, else 1: main returns that as its exit code.
 * While the steps run, a second SIGTERM/SIGINT, or the shutdown timeout
 * (svc_set_shutdown_timeout) running out, exits the process at once with 1.
 * Prefix: svc_.
 */
#ifndef COMMON_SERVICE_H
#define COMMON_SERVICE_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/log.h"

typedef struct svc svc;

/* A shutdown step: 0 on success, anything else is logged as a failure. */
typedef int (*svc_hook_fn)(void *userdata);
/* A loop thread's body; returns 0 when it stopped cleanly. */
typedef int (*svc_loop_fn)(svc *s, void *userdata);
/* Interrupts a loop blocked in a wait (poll timeout, lws_cancel_service...). */
typedef void (*svc_wake_fn)(void *userdata);

/*
 * Blocks SIGTERM, SIGINT and SIGHUP in the calling thread (call it first in
 * main, before any thread exists) and ignores SIGPIPE so that a closed peer
 * is an EPIPE error, not a death. Returns 0 or -1 (errno set).
 */
int svc_block_signals(void);

/* A lifecycle for `name`, logging to log (borrowed). Opens its signalfd, so
 * the signals must be blocked already. NULL on failure. Free with svc_free
 * after svc_run returned (or without running it). */
svc *svc_new(const char *name, clog *log);
void svc_free(svc *s);

/* Appends a shutdown hook. Returns 0 or -1 (out of memory). */
int svc_add_hook(svc *s, const char *name, svc_hook_fn fn, void *userdata);

/*
 * Starts fn(s, userdata) on a new thread now; at shutdown, wake(userdata) is
 * called (wake may be NULL if the loop polls svc_stopping often) and the
 * thread is joined at this position among the hooks. If the loop returns
 * before shutdown, the whole service stops (a loop that ends is a failure
 * unless stopping was already requested and it returned 0).
 * Returns 0 or -1.
 */
int svc_spawn(svc *s, const char *name, svc_loop_fn fn, svc_wake_fn wake, void *userdata);

/* Bounds the shutdown steps (0, the default: no bound). Set it below the
 * orchestrator's grace period (Kubernetes: 30 s) so a hung step ends with
 * our log line rather than a SIGKILL. */
void svc_set_shutdown_timeout(svc *s, int64_t timeout_ms);

/* True once shutdown started. Cheap (atomic load): poll it in loops. */
bool svc_stopping(const svc *s);

/* Starts the shutdown from any thread, as a signal would. `failed` makes
 * svc_run return 1 (a fatal error rather than an operator's stop). */
void svc_request_stop(svc *s, bool failed, const char *reason);

/* Waits for SIGTERM/SIGINT/SIGHUP or a stop request, then shuts down as
 * described above. Call once, from main. Returns the exit code (0 or 1). */
int svc_run(svc *s);

/* The signal that started the shutdown (0 if it was a stop request). */
int svc_stop_signal(const svc *s);

#endif
