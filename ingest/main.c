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
#include <stdio.h>
#include <string.h>

#include "common/awareness.h"
#include "common/kafka_admin.h"
#include "common/op_producer.h"
#include "common/service_app.h"
#include "ingest/api.h"
#include "ingest/jobs.h"
#include "ingest/metrics.h"
#include "ingest/server.h"
#include "ingest/settings.h"

#define STARTUP_TIMEOUT_MS    30000
#define AWARENESS_QUEUE_LIMIT 10000

/* Everything main creates, so one function can free it in reverse order;
 * base holds what every service has (common/service_app.h). */
typedef struct ingest_app {
    svcapp base;
    ingest_settings settings;
    ingest_metrics metrics;
    awareness_pub *awareness;
    ingest_api *api;
    ingest_server *server;
    op_producer *producer;
    ingest_jobs *jobs;
} ingest_app;

static int flush_producer(void *arg)
{
    ingest_app *app = arg;
    return op_producer_flush(app->producer, 10000);
}

static int create_topic(ingest_app *app, char *err, size_t err_size)
{
    ckafka_admin *admin = ckafka_admin_new(cfg_string(app->base.config, CFG_KAFKA_BROKERS),
                                           app->base.log, err, err_size);
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

static int start(void *arg)
{
    ingest_app *app = arg;
    char err[1024] = "";
    svcapp *base = &app->base;
    if (svcapp_start(base, err, sizeof err) != 0 ||
        ingest_settings_read(base->config, &app->settings, err, sizeof err) != 0)
        goto fail;
    if (ingest_metrics_register(base->registry, &app->metrics) != 0) {
        snprintf(err, sizeof err, "cannot register the metrics");
        goto fail;
    }
    svcapp_store_opts so = {.wait_ready_ms = STARTUP_TIMEOUT_MS, .ensure_indexes = true};
    if (svcapp_serve_metrics(base, err, sizeof err) != 0 ||
        svcapp_open_store(base, &so, err, sizeof err) != 0 ||
        create_topic(app, err, sizeof err) != 0)
        goto fail;

    awareness_counters counted = {.published = app->metrics.awareness_published,
                                  .dropped = app->metrics.awareness_dropped};
    app->awareness = awareness_new(cfg_string(base->config, CFG_REDIS_URL), AWARENESS_QUEUE_LIMIT,
                                   base->log, &counted, err, sizeof err);
    if (!app->awareness)
        goto fail;
    struct authpw_params params = {(unsigned long long)app->settings.argon2_opslimit,
                                   (size_t)app->settings.argon2_memlimit};
    app->api =
        ingest_api_new(base->store, base->keys, params, base->log, &app->metrics, err, sizeof err);
    if (!app->api)
        goto fail;

    ingest_server_deps deps = {
        .settings = &app->settings,
        .log = base->log,
        .metrics = &app->metrics,
        .keys = base->keys,
        .store = base->store,
        .awareness = app->awareness,
        .registry = base->avro,
        .node = base->node,
    };
    app->server = ingest_server_new(&deps, err, sizeof err);
    if (!app->server)
        goto fail;
    op_producer_opts po = {
        .brokers = cfg_string(base->config, CFG_KAFKA_BROKERS),
        .client_id = base->node,
        .topic = app->settings.ops_topic,
        .ack_timeout_ms = app->settings.ack_timeout_ms,
        .linger_ms = app->settings.linger_ms,
        .log = base->log,
        .notify = ingest_server_wake,
        .notify_userdata = app->server,
    };
    app->producer = op_producer_new(&po, err, sizeof err);
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

fail:
    svcapp_log_start_failure(base, err);
    return -1;
}

static int run(void *arg)
{
    ingest_app *app = arg;
    /* Shutdown: load balancers stop sending new clients here first; the
     * WebSocket thread drains (every pending op answered); then the
     * producer flushes what is left. */
    svcapp_hook not_ready = {"not ready", svcapp_mark_not_ready, &app->base};
    svcapp_hook flush = {"flush producer", flush_producer, app};
    clog_field ready[] = {clog_int("port", ingest_server_port(app->server)),
                          clog_str("topic", app->settings.ops_topic),
                          clog_str("node", app->base.node)};
    svcapp_run_opts ro = {
        .shutdown_timeout_ms = app->settings.drain_timeout_ms + 15000,
        .before_loop = &not_ready,
        .before_loop_count = 1,
        .loop = ingest_server_loop,
        .wake = ingest_server_wake,
        .loop_arg = app->server,
        .after_loop = &flush,
        .after_loop_count = 1,
        .ready_fields = ready,
        .ready_field_count = sizeof ready / sizeof ready[0],
    };
    return svcapp_run(&app->base, &ro);
}

static void stop(void *arg)
{
    ingest_app *app = arg;
    /* Nothing may wake the server once its sockets are gone; the sockets go
     * before the jobs pool (HTTP sessions hand their jobs back), and the
     * connection records after the producer (its ops point at them). */
    if (app->producer)
        op_producer_set_notify(app->producer, NULL, NULL);
    if (app->jobs)
        ingest_jobs_set_notify(app->jobs, NULL, NULL);
    ingest_server_close(app->server);
    ingest_jobs_free(app->jobs);
    op_producer_free(app->producer);
    ingest_server_free(app->server);
    ingest_api_free(app->api);
    awareness_free(app->awareness, 2000);
}

int main(int argc, char **argv)
{
    ingest_app app;
    memset(&app, 0, sizeof app);
    svcapp_opts opts = {
        .name = "ingest",
        .description = "ingest: authenticated WebSocket write path into Kafka, and the HTTP API "
                       "(login, documents, permissions)",
        .metrics_listen_default = "127.0.0.1:9101",
        .add_settings = ingest_settings_add,
        .issues_tokens = true,
        .start = start,
        .run = run,
        .stop = stop,
    };
    return svcapp_main(&app.base, &opts, argc, argv, &app);
}
