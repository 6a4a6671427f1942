/*
 * broadcaster: the read path of docs/protocol.md. Reads collab.merged (every
 * partition, read_committed), keeps per document the recent merged ops and
 * the newest loaded state, and pushes to every WebSocket reader of a
 * document its STATE and then each MERGED/ITEM in version order; relays
 * presence from Redis pub/sub. main wires the parts (see server.h for the
 * order) and runs the lifecycle; docs/broadcaster.md has the design.
 */
#include <stdio.h>
#include <string.h>

#include "broadcaster/feed.h"
#include "broadcaster/loader.h"
#include "broadcaster/metrics.h"
#include "broadcaster/presence.h"
#include "broadcaster/server.h"
#include "broadcaster/settings.h"
#include "common/doc_access.h"
#include "common/service_app.h"
#include "common/util.h"

#define PRESENCE_QUEUE_LIMIT 65536
#define FEED_QUEUE_LIMIT     65536

/* base holds what every service has (common/service_app.h). */
typedef struct bcapp {
    svcapp base;
    bcsettings settings;
    bcmetrics metrics;
    docaccess *access;
    bcserver *server;
    bcfeed *feed;
    bcpresence *presence;
    bcload *loader;
} bcapp;

/* The processor creates collab.merged; a broadcaster started first waits
 * for it (and for Kafka) until the startup timeout. */
static bcfeed *open_feed(bcapp *app, char *err, size_t err_size)
{
    bcfeed_opts fo = {
        .brokers = cfg_string(app->base.config, CFG_KAFKA_BROKERS),
        .topic = app->settings.merged_topic,
        .client_id = app->base.node,
        .max_pending = FEED_QUEUE_LIMIT,
        .startup_timeout_ms = 10000,
        .avro = app->base.avro,
        .metrics = &app->metrics,
        .log = app->base.log,
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
        clog_emit(app->base.log, CLOG_WARN, "collab.merged not readable yet; retrying", fl, 1);
        util_sleep_ms(util_backoff_next(&backoff));
    }
}

static bool ready(void *userdata)
{
    bcapp *app = userdata;
    return bcfeed_healthy(app->feed);
}

static int start(void *arg)
{
    bcapp *app = arg;
    char err[1024] = "";
    svcapp *base = &app->base;
    if (svcapp_start(base, err, sizeof err) != 0 ||
        bcsettings_read(base->config, &app->settings, err, sizeof err) != 0)
        goto fail;
    if (bcmetrics_register(base->registry, &app->metrics) != 0) {
        snprintf(err, sizeof err, "cannot register the metrics");
        goto fail;
    }
    svcapp_store_opts so = {.wait_ready_ms = (int)app->settings.startup_timeout_ms,
                            .socket_timeout_ms = 5000};
    if (svcapp_serve_metrics(base, err, sizeof err) != 0 ||
        svcapp_open_store(base, &so, err, sizeof err) != 0)
        goto fail;
    app->access = docaccess_new(base->store, app->settings.permission_ttl_ms);
    if (!app->access) {
        snprintf(err, sizeof err, "out of memory");
        goto fail;
    }
    bcserver_deps deps = {.settings = &app->settings,
                          .log = base->log,
                          .metrics = &app->metrics,
                          .keys = base->keys,
                          .access = app->access};
    app->server = bcserver_new(&deps, err, sizeof err);
    if (!app->server)
        goto fail;
    app->feed = open_feed(app, err, sizeof err);
    if (!app->feed)
        goto fail;
    app->presence = bcpresence_new(cfg_string(base->config, CFG_REDIS_URL), PRESENCE_QUEUE_LIMIT,
                                   base->log, bcserver_wake, app->server, err, sizeof err);
    if (!app->presence)
        goto fail;
    bcload_opts lo = {.threads = app->settings.loader_threads,
                      .mongo = base->mongo,
                      .redis_url = cfg_string(base->config, CFG_REDIS_URL),
                      .avro = base->avro,
                      .presence_timeout_ms = app->settings.presence_timeout_ms,
                      .log = base->log,
                      .notify = bcserver_wake,
                      .notify_userdata = app->server};
    app->loader = bcload_new(&lo, err, sizeof err);
    if (!app->loader)
        goto fail;
    bcserver_attach(app->server, app->feed, app->presence, app->loader);
    return 0;

fail:
    svcapp_log_start_failure(base, err);
    return -1;
}

static int run(void *arg)
{
    bcapp *app = arg;
    clog_field fields[] = {
        clog_int("port", bcserver_port(app->server)), clog_str("topic", app->settings.merged_topic),
        clog_int("partitions", bcfeed_partitions(app->feed)), clog_str("node", app->base.node)};
    svcapp_run_opts ro = {
        .shutdown_timeout_ms = app->settings.close_grace_ms + 15000,
        .loop = bcserver_loop,
        .wake = bcserver_wake,
        .loop_arg = app->server,
        .ready = ready,
        .ready_arg = app,
        .ready_fields = fields,
        .ready_field_count = sizeof fields / sizeof fields[0],
    };
    return svcapp_run(&app->base, &ro);
}

static void stop(void *arg)
{
    bcapp *app = arg;
    /* The loop has ended (svc_run joined it): the threads that hand work to
     * the server go first, then the server. */
    bcfeed_free(app->feed);
    bcpresence_free(app->presence);
    bcload_free(app->loader);
    bcserver_free(app->server);
    docaccess_free(app->access);
}

int main(int argc, char **argv)
{
    bcapp app;
    memset(&app, 0, sizeof app);
    svcapp_opts opts = {
        .name = "broadcaster",
        .description = "broadcaster: merged operations from Kafka to WebSocket readers, in "
                       "version order, with presence",
        .metrics_listen_default = "127.0.0.1:9103",
        .add_settings = bcsettings_add,
        .issues_tokens = false,
        .start = start,
        .run = run,
        .stop = stop,
    };
    return svcapp_main(&app.base, &opts, argc, argv, &app);
}
