/*
 * service_app: the start-up and tear-down every WebSocket service repeats
 * (ingest, the broadcaster): signals blocked before any thread, the settings
 * (the common ones, the token keys, the metrics address default, the
 * service's own), the logger, the instance id, the token keys, the Avro
 * registry, the metrics registry with process metrics and its HTTP endpoint,
 * MongoDB with the users/documents store, and the svc lifecycle that runs the
 * WebSocket thread and the shutdown steps. A service keeps its own parts
 * (servers, producers, consumers) in its main and builds them between these
 * calls. main is svcapp_main with three steps of the service's own:
 *
 *     start: svcapp_start(base, ...)               log, keys, avro, metrics
 *            ... read settings, register metrics ...
 *            svcapp_serve_metrics(base, ...)       /metrics, /healthz, /readyz
 *            svcapp_open_store(base, ...)          MongoDB + ustore
 *            ... the service's own parts ...
 *     run:   svcapp_run(base, &run_opts)           until SIGTERM / SIGINT
 *     stop:  ... free the service's own parts ...  (svcapp_main frees base)
 *
 * Ownership: everything in svcapp belongs to it and is freed by svcapp_free
 * (NULL members are skipped, so it is safe after any failed step).
 * Everything runs on main's thread. Prefix: svcapp_.
 */
#ifndef COMMON_SERVICE_APP_H
#define COMMON_SERVICE_APP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/config.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/metrics_http.h"
#include "common/mongo.h"
#include "common/service.h"
#include "common/userstore.h"

struct authtoken_keys;
struct cavro_registry;

typedef struct svcapp_opts {
    const char *name; /* "ingest": log service, svc and Mongo app name */
    /* svcapp_main's steps; userdata is its app argument. start: 0 or -1
     * (logged with svcapp_log_start_failure); run: the exit code; stop:
     * frees the service's parts, whatever start reached. */
    int (*start)(void *app);
    int (*run)(void *app);
    void (*stop)(void *app);
    const char *description;            /* first line of --help */
    const char *metrics_listen_default; /* "127.0.0.1:9101" */
    int (*add_settings)(cfg *c);        /* the service's own settings: 0 or -1 */
    bool issues_tokens;                 /* needs the signing key (wsauth_keys_from_cfg) */
} svcapp_opts;

typedef struct svcapp {
    const char *name; /* opts.name, borrowed */
    bool issues_tokens;
    cfg *config;
    clog *log;
    char node[128]; /* the instance id (cfg_instance_id) */
    struct authtoken_keys *keys;
    struct cavro_registry *avro;
    metrics_registry *registry;
    metrics_http *http;
    cmongo *mongo;
    ustore *store;
    svc *service;
    bool mongoc_ready; /* mongoc_init ran: svcapp_free calls mongoc_cleanup */
} svcapp;

/*
 * Blocks the signals (before any thread exists), declares the settings and
 * parses the command line and environment. Returns CFG_RUN when the service
 * should start; otherwise the exit code (0 after --help, 2 for a bad
 * setting, 1 when the signals cannot be blocked), with nothing left to free.
 */
int svcapp_configure(svcapp *app, const svcapp_opts *opts, int argc, char **argv);

/* The logger (level from the settings), libsodium, the instance id, the
 * token keys, the built-in Avro registry and the metrics registry with the
 * process metrics. 0, or -1 with the reason in err (the log may be NULL
 * when it could not be created). */
int svcapp_start(svcapp *app, char *err, size_t err_size);

/* Starts /metrics, /healthz and /readyz on the metrics address (not ready
 * until svcapp_run). Register the service's metrics first. 0 or -1. */
int svcapp_serve_metrics(svcapp *app, char *err, size_t err_size);

typedef struct svcapp_store_opts {
    int wait_ready_ms;     /* how long MongoDB may take to answer a ping */
    int socket_timeout_ms; /* cmongo_opts.socket_timeout_ms (0: its default) */
    bool ensure_indexes;   /* the service that writes users and documents */
} svcapp_store_opts;

/* Connects to MongoDB (2 s server selection: a failed lookup stalls an event
 * loop briefly), waits until it answers, and opens the users/documents store.
 * 0, or -1 with the reason in err. */
int svcapp_open_store(svcapp *app, const svcapp_store_opts *opts, char *err, size_t err_size);

/* Logs "<name> cannot start" with err; the start-up failure path. */
void svcapp_log_start_failure(svcapp *app, const char *err);

/* A shutdown step of svcapp_run_opts. */
typedef struct svcapp_hook {
    const char *name;
    svc_hook_fn fn;
    void *userdata;
} svcapp_hook;

typedef struct svcapp_run_opts {
    int64_t shutdown_timeout_ms;
    /* Shutdown steps before the WebSocket thread is stopped and joined... */
    const svcapp_hook *before_loop;
    size_t before_loop_count;
    /* ...the WebSocket thread (svc_spawn "websocket")... */
    svc_loop_fn loop;
    svc_wake_fn wake;
    void *loop_arg;
    /* ...and after it. */
    const svcapp_hook *after_loop;
    size_t after_loop_count;
    /* /readyz while running: the flag, and this callback when set. */
    metrics_ready_fn ready;
    void *ready_arg;
    /* Fields of the "<name> ready" log line (borrowed). */
    const clog_field *ready_fields;
    size_t ready_field_count;
} svcapp_run_opts;

/*
 * Starts the WebSocket thread, reports ready, and waits for SIGTERM /
 * SIGINT / SIGHUP or a stop request; then runs the shutdown steps in order
 * (svc_run) and withdraws the ready callback. Returns the exit code: 0 after
 * a clean shutdown, 1 otherwise (including a failure to start the thread).
 */
int svcapp_run(svcapp *app, const svcapp_run_opts *opts);

/* Frees what svcapp_configure/start/serve_metrics/open_store/run created,
 * in reverse order. Free the service's own parts first: they borrow these. */
void svcapp_free(svcapp *app);

/*
 * The whole of a service's main: svcapp_configure, then start, run (when
 * start succeeded) and stop, then svcapp_free(base). base is the svcapp
 * inside app (zeroed). Returns main's exit code.
 */
int svcapp_main(svcapp *base, const svcapp_opts *opts, int argc, char **argv, void *app);

/* A shutdown hook that turns /readyz to 503 so load balancers stop sending
 * new clients (userdata: the svcapp). Always 0. */
int svcapp_mark_not_ready(void *app);

#endif
