/*
 * service_app: the shared start-up, run and tear-down of the WebSocket
 * services. See service_app.h.
 */
#include "common/service_app.h"

#include <mongoc/mongoc.h>
#include <sodium.h>
#include <stdio.h>
#include <unistd.h>

#include "common/auth_token.h"
#include "common/avro_registry.h"
#include "common/metrics_process.h"
#include "common/ws_auth.h"

int svcapp_configure(svcapp *app, const svcapp_opts *opts, int argc, char **argv)
{
    /* Every thread created from here on inherits the blocked mask, so only
     * svc_run's signalfd sees SIGTERM / SIGINT. */
    if (svc_block_signals() != 0) {
        perror("cannot block signals");
        return 1;
    }
    app->name = opts->name;
    app->issues_tokens = opts->issues_tokens;
    app->config = cfg_new(argv[0], opts->description);
    if (!app->config || cfg_add_common(app->config) != 0 ||
        cfg_set_default(app->config, CFG_METRICS_LISTEN, opts->metrics_listen_default) != 0 ||
        wsauth_cfg_add(app->config) != 0 || opts->add_settings(app->config) != 0) {
        fprintf(stderr, "%s: %s\n", opts->name,
                app->config ? cfg_error(app->config) : "out of memory");
        cfg_free(app->config);
        app->config = NULL;
        return 2;
    }
    int code = cfg_parse_cli(app->config, argc, argv, NULL, stdout, stderr);
    if (code != CFG_RUN) {
        cfg_free(app->config);
        app->config = NULL;
    }
    return code;
}

int svcapp_start(svcapp *app, char *err, size_t err_size)
{
    mongoc_init();
    app->mongoc_ready = true;
    clog_level level;
    clog_level_parse(cfg_enum(app->config, CFG_LOG_LEVEL), &level);
    app->log = clog_new(app->name, level, STDERR_FILENO);
    if (!app->log) {
        snprintf(err, err_size, "cannot create the logger");
        return -1;
    }
    if (sodium_init() < 0) {
        snprintf(err, err_size, "libsodium cannot initialise");
        return -1;
    }
    cfg_instance_id(app->config, app->node, sizeof app->node);
    if (wsauth_keys_from_cfg(app->config, app->issues_tokens ? 1 : 0, &app->keys, err, err_size) !=
            AUTHTOKEN_OK ||
        cavro_registry_new_builtin(&app->avro, err, err_size) != CAVRO_OK)
        return -1;
    app->registry = metrics_registry_new();
    if (!app->registry || metrics_process_register(app->registry) != 0) {
        snprintf(err, err_size, "cannot register the metrics");
        return -1;
    }
    return 0;
}

int svcapp_serve_metrics(svcapp *app, char *err, size_t err_size)
{
    app->http = metrics_http_start_at(app->registry, cfg_string(app->config, CFG_METRICS_LISTEN),
                                      app->log, err, err_size);
    return app->http ? 0 : -1;
}

int svcapp_open_store(svcapp *app, const svcapp_store_opts *opts, char *err, size_t err_size)
{
    cmongo_opts mo = {.uri = cfg_string(app->config, CFG_MONGO_URI),
                      .db = cfg_string(app->config, CFG_MONGO_DB),
                      .app_name = app->name,
                      .server_selection_timeout_ms = 2000,
                      .socket_timeout_ms = opts->socket_timeout_ms,
                      .log = app->log};
    app->mongo = cmongo_new(&mo, err, err_size);
    if (!app->mongo)
        return -1;
    bson_error_t berr;
    if (cmongo_wait_ready(app->mongo, opts->wait_ready_ms, &berr) != 0) {
        snprintf(err, err_size, "MongoDB is not reachable: %.400s", berr.message);
        return -1;
    }
    app->store = ustore_new(app->mongo, app->log);
    if (!app->store) {
        snprintf(err, err_size, "out of memory");
        return -1;
    }
    if (opts->ensure_indexes && ustore_ensure_indexes(app->store, err, err_size) != 0)
        return -1;
    return 0;
}

void svcapp_log_start_failure(svcapp *app, const char *err)
{
    char msg[64];
    snprintf(msg, sizeof msg, "%s cannot start", app->name);
    if (!app->log) {
        fprintf(stderr, "%s: %s\n", msg, err);
        return;
    }
    clog_field f[] = {clog_str("error", err)};
    clog_emit(app->log, CLOG_ERROR, msg, f, 1);
}

static int add_hooks(svc *s, const svcapp_hook *hooks, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        if (svc_add_hook(s, hooks[i].name, hooks[i].fn, hooks[i].userdata) != 0)
            return -1;
    }
    return 0;
}

int svcapp_run(svcapp *app, const svcapp_run_opts *opts)
{
    app->service = svc_new(app->name, app->log);
    if (!app->service)
        return 1;
    svc_set_shutdown_timeout(app->service, opts->shutdown_timeout_ms);
    if (add_hooks(app->service, opts->before_loop, opts->before_loop_count) != 0 ||
        svc_spawn(app->service, "websocket", opts->loop, opts->wake, opts->loop_arg) != 0 ||
        add_hooks(app->service, opts->after_loop, opts->after_loop_count) != 0) {
        /* svc_free (in svcapp_free) stops and joins a thread already started. */
        clog_errorf(app->log, "cannot start the service threads");
        return 1;
    }
    if (opts->ready)
        metrics_http_set_ready_fn(app->http, opts->ready, opts->ready_arg);
    metrics_http_set_ready(app->http, true);
    char msg[64];
    snprintf(msg, sizeof msg, "%s ready", app->name);
    clog_emit(app->log, CLOG_INFO, msg, opts->ready_fields, opts->ready_field_count);
    int code = svc_run(app->service);
    /* The callback's userdata is about to be freed. */
    if (opts->ready)
        metrics_http_set_ready_fn(app->http, NULL, NULL);
    return code;
}

int svcapp_main(svcapp *base, const svcapp_opts *opts, int argc, char **argv, void *app)
{
    int code = svcapp_configure(base, opts, argc, argv);
    if (code != CFG_RUN)
        return code;
    code = opts->start(app) == 0 ? opts->run(app) : 1;
    opts->stop(app);
    svcapp_free(base);
    return code;
}

int svcapp_mark_not_ready(void *app)
{
    svcapp *a = app;
    metrics_http_set_ready(a->http, false);
    return 0;
}

void svcapp_free(svcapp *app)
{
    ustore_free(app->store);
    cmongo_free(app->mongo);
    metrics_http_stop(app->http);
    metrics_registry_free(app->registry);
    cavro_registry_free(app->avro);
    authtoken_keys_free(app->keys);
    svc_free(app->service);
    clog_free(app->log);
    cfg_free(app->config);
    if (app->mongoc_ready)
        mongoc_cleanup();
    app->store = NULL;
    app->mongo = NULL;
    app->http = NULL;
    app->registry = NULL;
    app->avro = NULL;
    app->keys = NULL;
    app->service = NULL;
    app->log = NULL;
    app->config = NULL;
    app->mongoc_ready = false;
}
