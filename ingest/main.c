/*
 * ingest: the write path of the collaboration backend. Clients' operations
 * arrive over WebSocket (docs/protocol.md), are checked (token, right,
 * limits, the crdt engine) and produced to Kafka topic collab.ops keyed by
 * document; each is acknowledged only after Kafka's delivery report.
 * Awareness goes to Redis pub/sub. The same port serves the HTTP API
 * (docs/api.md); /metrics, /healthz and /readyz are on the metrics port.
 *
 * This file wires the parts together and owns their lifetimes; the logic
 * lives in server.c/conn.c/http.c (endpoint), produce.c (Kafka), ops.c
 * (validation, Avro), api.c + jobs.c (HTTP API), awareness.c (Redis).
 */
#include <mongoc/mongoc.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/avro_registry.h"
#include "common/config.h"
#include "common/kafka_admin.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/metrics_http.h"
#include "common/metrics_process.h"
#include "common/mongo.h"
#include "common/service.h"
#include "common/userstore.h"
#include "common/ws_auth.h"
#include "ingest/api.h"
#include "ingest/awareness.h"
#include "ingest/jobs.h"
#include "ingest/metrics.h"
#include "ingest/produce.h"
#include "ingest/server.h"
#include "ingest/settings.h"

#define STARTUP_TIMEOUT_MS    30000
#define AWARENESS_QUEUE_LIMIT 10000

/* Everything main creates, so one function can free it in reverse order. */
typedef struct ingest_app {
    cfg *config;
    ingest_settings settings;
    clog *log;
    metrics_registry *registry;
    ingest_metrics metrics;
    metrics_http *http;
    struct authtoken_keys *keys;
    struct cavro_registry *avro;
    cmongo *mongo;
    ustore *store;
    ingest_awareness *awareness;
    ingest_api *api;
    ingest_server *server;
    ingest_produce *producer;
    ingest_jobs *jobs;
    svc *service;
    char node[128];
} ingest_app;

/* First shutdown step: load balancers stop sending new clients here. */
static int mark_not_ready(void *arg)
{
    ingest_app *app = arg;
    metrics_http_set_ready(app->http, false);
    return 0;
}

static int flush_producer(void *arg)
{
    ingest_app *app = arg;
    return ingest_produce_flush(app->producer, 10000);
}

static int create_topic(ingest_app *app, char *err, size_t err_size)
{
    ckafka_admin *admin =
        ckafka_admin_new(cfg_string(app->config, CFG_KAFKA_BROKERS), app->log, err, err_size);
    if (!admin)
        return -1;
    /* The ops topic is the replayable log: kept forever (docs/storage.md). */
    const char *configs[] = {"retention.ms", "-1", NULL};
    int rc =
        ckafka_topic_create(admin, app->settings.ops_topic, app->settings.partitions,
                            app->settings.replication, configs, STARTUP_TIMEOUT_MS, err, err_size);
    ckafka_admin_free(admin);
    return rc;
}

static int start(ingest_app *app)
{
    char err[1024] = "";
    clog_level level;
    clog_level_parse(cfg_enum(app->config, CFG_LOG_LEVEL), &level);
    app->log = clog_new("ingest", level, STDERR_FILENO);
    if (!app->log)
        return -1;
    if (sodium_init() < 0) {
        clog_errorf(app->log, "libsodium cannot initialise");
        return -1;
    }
    cfg_instance_id(app->config, app->node, sizeof app->node);
    if (ingest_settings_read(app->config, &app->settings, err, sizeof err) != 0)
        goto fail;
    if (wsauth_keys_from_cfg(app->config, 1, &app->keys, err, sizeof err) != AUTHTOKEN_OK)
        goto fail;
    if (cavro_registry_new_builtin(&app->avro, err, sizeof err) != CAVRO_OK)
        goto fail;

    app->registry = metrics_registry_new();
    if (!app->registry || metrics_process_register(app->registry) != 0 ||
        ingest_metrics_register(app->registry, &app->metrics) != 0) {
        snprintf(err, sizeof err, "cannot register the metrics");
        goto fail;
    }
    app->http = metrics_http_start_at(app->registry, cfg_string(app->config, CFG_METRICS_LISTEN),
                                      app->log, err, sizeof err);
    if (!app->http)
        goto fail;

    cmongo_opts mo = {.uri = cfg_string(app->config, CFG_MONGO_URI),
                      .db = cfg_string(app->config, CFG_MONGO_DB),
                      .app_name = "ingest",
                      .server_selection_timeout_ms = 2000,
                      .log = app->log};
    app->mongo = cmongo_new(&mo, err, sizeof err);
    if (!app->mongo)
        goto fail;
    bson_error_t berr;
    if (cmongo_wait_ready(app->mongo, STARTUP_TIMEOUT_MS, &berr) != 0) {
        snprintf(err, sizeof err, "MongoDB is not reachable: %s", berr.message);
        goto fail;
    }
    app->store = ustore_new(app->mongo, app->log);
    if (!app->store || ustore_ensure_indexes(app->store, err, sizeof err) != 0)
        goto fail;
    if (create_topic(app, err, sizeof err) != 0)
        goto fail;

    app->awareness =
        ingest_awareness_new(cfg_string(app->config, CFG_REDIS_URL), AWARENESS_QUEUE_LIMIT,
                             app->log, &app->metrics, err, sizeof err);
    if (!app->awareness)
        goto fail;
    struct authpw_params params = {(unsigned long long)app->settings.argon2_opslimit,
                                   (size_t)app->settings.argon2_memlimit};
    app->api =
        ingest_api_new(app->store, app->keys, params, app->log, &app->metrics, err, sizeof err);
    if (!app->api)
        goto fail;

    ingest_server_deps deps = {
        .settings = &app->settings,
        .log = app->log,
        .metrics = &app->metrics,
        .keys = app->keys,
        .store = app->store,
        .awareness = app->awareness,
        .registry = app->avro,
        .node = app->node,
    };
    app->server = ingest_server_new(&deps, err, sizeof err);
    if (!app->server)
        goto fail;
    ingest_produce_opts po = {
        .brokers = cfg_string(app->config, CFG_KAFKA_BROKERS),
        .client_id = app->node,
        .topic = app->settings.ops_topic,
        .ack_timeout_ms = app->settings.ack_timeout_ms,
        .linger_ms = app->settings.linger_ms,
        .log = app->log,
        .notify = ingest_server_wake,
        .notify_userdata = app->server,
    };
    app->producer = ingest_produce_new(&po, err, sizeof err);
    if (!app->producer)
        goto fail;
    app->jobs =
        ingest_jobs_new(app->settings.http_workers, app->api, ingest_server_wake, app->server);
    if (!app->jobs) {
        snprintf(err, sizeof err, "cannot start the HTTP API workers");
        goto fail;
    }
    ingest_server_attach(app->server, app->producer, app->jobs);
    return 0;

fail:;
    clog_field f[] = {clog_str("error", err)};
    clog_emit(app->log, CLOG_ERROR, "ingest cannot start", f, 1);
    return -1;
}

static void stop(ingest_app *app)
{
    /* Nothing may wake the server once its sockets are gone; the sockets go
     * before the jobs pool (HTTP sessions hand their jobs back), and the
     * connection records after the producer (its ops point at them). */
    if (app->producer)
        ingest_produce_set_notify(app->producer, NULL, NULL);
    if (app->jobs)
        ingest_jobs_set_notify(app->jobs, NULL, NULL);
    ingest_server_close(app->server);
    ingest_jobs_free(app->jobs);
    ingest_produce_free(app->producer);
    ingest_server_free(app->server);
    ingest_api_free(app->api);
    ingest_awareness_free(app->awareness, 2000);
    ustore_free(app->store);
    cmongo_free(app->mongo);
    metrics_http_stop(app->http);
    metrics_registry_free(app->registry);
    cavro_registry_free(app->avro);
    authtoken_keys_free(app->keys);
    svc_free(app->service);
    clog_free(app->log);
}

int main(int argc, char **argv)
{
    if (svc_block_signals() != 0)
        return 1;
    ingest_app app;
    memset(&app, 0, sizeof app);
    app.config = cfg_new(argv[0], "ingest: authenticated WebSocket write path into Kafka, and the "
                                  "HTTP API (login, documents, permissions)");
    if (!app.config || cfg_add_common(app.config) != 0 ||
        cfg_set_default(app.config, CFG_METRICS_LISTEN, "127.0.0.1:9101") != 0 ||
        wsauth_cfg_add(app.config) != 0 || ingest_settings_add(app.config) != 0) {
        fprintf(stderr, "ingest: %s\n", app.config ? cfg_error(app.config) : "out of memory");
        cfg_free(app.config);
        return 2;
    }
    int code = cfg_parse_cli(app.config, argc, argv, NULL, stdout, stderr);
    if (code != CFG_RUN) {
        cfg_free(app.config);
        return code;
    }

    mongoc_init();
    code = 1;
    if (start(&app) == 0) {
        app.service = svc_new("ingest", app.log);
        if (app.service) {
            svc_set_shutdown_timeout(app.service, app.settings.drain_timeout_ms + 15000);
            if (svc_add_hook(app.service, "not ready", mark_not_ready, &app) == 0 &&
                svc_spawn(app.service, "websocket", ingest_server_loop, ingest_server_wake,
                          app.server) == 0 &&
                svc_add_hook(app.service, "flush producer", flush_producer, &app) == 0) {
                metrics_http_set_ready(app.http, true);
                clog_field f[] = {clog_int("port", ingest_server_port(app.server)),
                                  clog_str("topic", app.settings.ops_topic),
                                  clog_str("node", app.node)};
                clog_emit(app.log, CLOG_INFO, "ingest ready", f, 3);
                code = svc_run(app.service);
            }
        }
    }
    stop(&app);
    mongoc_cleanup();
    cfg_free(app.config);
    return code;
}
