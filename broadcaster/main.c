/*
 * broadcaster: the read path of docs/protocol.md. Reads collab.merged (every
 * partition, read_committed), keeps per document the recent merged ops and
 * the newest loaded state, and pushes to every WebSocket reader of a
 * document its STATE and then each MERGED/ITEM in version order; relays
 * presence from Redis pub/sub. main wires the parts (see server.h for the
 * order) and runs the lifecycle; docs/broadcaster.md has the design.
 */
#include <mongoc/mongoc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "broadcaster/access.h"
#include "broadcaster/feed.h"
#include "broadcaster/loader.h"
#include "broadcaster/metrics.h"
#include "broadcaster/presence.h"
#include "broadcaster/server.h"
#include "broadcaster/settings.h"
#include "common/avro_registry.h"
#include "common/config.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/metrics_http.h"
#include "common/metrics_process.h"
#include "common/mongo.h"
#include "common/service.h"
#include "common/userstore.h"
#include "common/util.h"
#include "common/ws_auth.h"

#define PRESENCE_QUEUE_LIMIT 65536
#define FEED_QUEUE_LIMIT     65536

typedef struct bcapp {
    cfg *config;
    bcsettings settings;
    clog *log;
    struct authtoken_keys *keys;
    struct cavro_registry *avro;
    metrics_registry *registry;
    bcmetrics metrics;
    metrics_http *http;
    cmongo *mongo;
    ustore *store;
    bcaccess *access;
    bcserver *server;
    bcfeed *feed;
    bcpresence *presence;
    bcload *loader;
    svc *service;
    char node[128];
} bcapp;

/* The processor creates collab.merged; a broadcaster started first waits
 * for it (and for Kafka) until the startup timeout. */
static bcfeed *open_feed(bcapp *app, char *err, size_t err_size)
{
    bcfeed_opts fo = {
        .brokers = cfg_string(app->config, CFG_KAFKA_BROKERS),
        .topic = app->settings.merged_topic,
        .client_id = app->node,
        .max_pending = FEED_QUEUE_LIMIT,
        .startup_timeout_ms = 10000,
        .avro = app->avro,
        .metrics = &app->metrics,
        .log = app->log,
        .notify = bcserver_wake,
        .notify_userdata = app->server,
    };
    int64_t deadline = util_now_ms() + app->settings.startup_timeout_ms;
    util_backoff backoff;
    util_backoff_init(&backoff, 250, 2000);
    for (;;) {
        bcfeed *f = bcfeed_new(&fo, err, err_size);
        if (f || util_now_ms() >= deadline)
            return f;
        clog_field fl[] = {clog_str("error", err)};
        clog_emit(app->log, CLOG_WARN, "collab.merged not readable yet; retrying", fl, 1);
        util_sleep_ms(util_backoff_next(&backoff));
    }
}

static bool ready(void *userdata)
{
    bcapp *app = userdata;
    return bcfeed_healthy(app->feed);
}

static int start(bcapp *app)
{
    char err[1024] = "";
    clog_level level;
    clog_level_parse(cfg_enum(app->config, CFG_LOG_LEVEL), &level);
    app->log = clog_new("broadcaster", level, STDERR_FILENO);
    if (!app->log)
        return -1;
    cfg_instance_id(app->config, app->node, sizeof app->node);
    if (bcsettings_read(app->config, &app->settings, err, sizeof err) != 0)
        goto fail;
    if (wsauth_keys_from_cfg(app->config, 0, &app->keys, err, sizeof err) != AUTHTOKEN_OK)
        goto fail;
    if (cavro_registry_new_builtin(&app->avro, err, sizeof err) != CAVRO_OK)
        goto fail;
    app->registry = metrics_registry_new();
    if (!app->registry || metrics_process_register(app->registry) != 0 ||
        bcmetrics_register(app->registry, &app->metrics) != 0) {
        snprintf(err, sizeof err, "cannot register the metrics");
        goto fail;
    }
    app->http = metrics_http_start_at(app->registry, cfg_string(app->config, CFG_METRICS_LISTEN),
                                      app->log, err, sizeof err);
    if (!app->http)
        goto fail;

    cmongo_opts mo = {.uri = cfg_string(app->config, CFG_MONGO_URI),
                      .db = cfg_string(app->config, CFG_MONGO_DB),
                      .app_name = "broadcaster",
                      .server_selection_timeout_ms = 2000,
                      .socket_timeout_ms = 5000,
                      .log = app->log};
    app->mongo = cmongo_new(&mo, err, sizeof err);
    if (!app->mongo)
        goto fail;
    bson_error_t berr;
    if (cmongo_wait_ready(app->mongo, (int)app->settings.startup_timeout_ms, &berr) != 0) {
        snprintf(err, sizeof err, "MongoDB is not reachable: %.400s", berr.message);
        goto fail;
    }
    app->store = ustore_new(app->mongo, app->log);
    app->access = app->store ? bcaccess_new(app->store, app->settings.permission_ttl_ms) : NULL;
    if (!app->access) {
        snprintf(err, sizeof err, "out of memory");
        goto fail;
    }
    bcserver_deps deps = {.settings = &app->settings,
                          .log = app->log,
                          .metrics = &app->metrics,
                          .keys = app->keys,
                          .access = app->access};
    app->server = bcserver_new(&deps, err, sizeof err);
    if (!app->server)
        goto fail;
    app->feed = open_feed(app, err, sizeof err);
    if (!app->feed)
        goto fail;
    app->presence = bcpresence_new(cfg_string(app->config, CFG_REDIS_URL), PRESENCE_QUEUE_LIMIT,
                                   app->log, bcserver_wake, app->server, err, sizeof err);
    if (!app->presence)
        goto fail;
    bcload_opts lo = {.threads = app->settings.loader_threads,
                      .mongo = app->mongo,
                      .redis_url = cfg_string(app->config, CFG_REDIS_URL),
                      .avro = app->avro,
                      .presence_timeout_ms = app->settings.presence_timeout_ms,
                      .log = app->log,
                      .notify = bcserver_wake,
                      .notify_userdata = app->server};
    app->loader = bcload_new(&lo, err, sizeof err);
    if (!app->loader)
        goto fail;
    bcserver_attach(app->server, app->feed, app->presence, app->loader);
    return 0;

fail:;
    clog_field f[] = {clog_str("error", err)};
    clog_emit(app->log, CLOG_ERROR, "broadcaster cannot start", f, 1);
    return -1;
}

static void stop(bcapp *app)
{
    /* The loop has ended (svc_run joined it): the threads that hand work to
     * the server go first, then the server. */
    bcfeed_free(app->feed);
    bcpresence_free(app->presence);
    bcload_free(app->loader);
    bcserver_free(app->server);
    bcaccess_free(app->access);
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
    bcapp app;
    memset(&app, 0, sizeof app);
    app.config = cfg_new(argv[0], "broadcaster: merged operations from Kafka to WebSocket "
                                  "readers, in version order, with presence");
    if (!app.config || cfg_add_common(app.config) != 0 ||
        cfg_set_default(app.config, CFG_METRICS_LISTEN, "127.0.0.1:9103") != 0 ||
        wsauth_cfg_add(app.config) != 0 || bcsettings_add(app.config) != 0) {
        fprintf(stderr, "broadcaster: %s\n", app.config ? cfg_error(app.config) : "out of memory");
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
        app.service = svc_new("broadcaster", app.log);
        if (app.service) {
            svc_set_shutdown_timeout(app.service, app.settings.close_grace_ms + 15000);
            if (svc_spawn(app.service, "websocket", bcserver_loop, bcserver_wake, app.server) ==
                0) {
                metrics_http_set_ready_fn(app.http, ready, &app);
                metrics_http_set_ready(app.http, true);
                clog_field f[] = {clog_int("port", bcserver_port(app.server)),
                                  clog_str("topic", app.settings.merged_topic),
                                  clog_int("partitions", bcfeed_partitions(app.feed)),
                                  clog_str("node", app.node)};
                clog_emit(app.log, CLOG_INFO, "broadcaster ready", f, 4);
                code = svc_run(app.service);
            }
        }
    }
    metrics_http_set_ready_fn(app.http, NULL, NULL);
    stop(&app);
    mongoc_cleanup();
    cfg_free(app.config);
    return code;
}
