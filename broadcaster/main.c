/*
 * broadcaster: the edge that fans out (docs/protocol.md, docs/broadcaster.md).
 *   - Read connections: reads collab.merged (every partition,
 *     read_committed), keeps per document the recent merged ops and the
 *     newest loaded state, and pushes to every reader of a document its
 *     STATE and then each MERGED/ITEM in version order.
 *   - y-websocket and Hocuspocus connections: syncs stock Yjs providers
 *     against a live document fed from collab.ops (durable once Kafka acked
 *     it) and, with --writes, produces their updates to collab.ops itself,
 *     acknowledging each after Kafka's delivery report.
 * Presence comes from Redis pub/sub. main wires the parts (see server.h for
 * the order) and runs the lifecycle.
 */
#include <stdio.h>
#include <string.h>

#include "broadcaster/feed.h"
#include "broadcaster/loader.h"
#include "broadcaster/metrics.h"
#include "broadcaster/presence.h"
#include "broadcaster/server.h"
#include "broadcaster/settings.h"
#include "common/awareness.h"
#include "common/doc_access.h"
#include "common/op_producer.h"
#include "common/service_app.h"
#include "common/util.h"

#define PRESENCE_QUEUE_LIMIT  65536
#define FEED_QUEUE_LIMIT      65536
#define AWARENESS_QUEUE_LIMIT 65536

/* base holds what every service has (common/service_app.h). */
typedef struct bcapp {
    svcapp base;
    bcsettings settings;
    bcmetrics metrics;
    docaccess *access;
    bcserver *server;
    bcfeed *feed;
    bcfeed *opsfeed;
    bcpresence *presence;
    bcload *loader;
    op_producer *producer;
    awareness_pub *awareness;
} bcapp;

/* The processor creates collab.ops and collab.merged; a broadcaster started
 * first waits for them (and for Kafka) until the startup timeout. */
static bcfeed *open_feed(bcapp *app, bcfeed_kind kind, char *err, size_t err_size)
{
    bcfeed_opts fo = {
        .kind = kind,
        .brokers = cfg_string(app->base.config, CFG_KAFKA_BROKERS),
        .topic = kind == BCFEED_OPS ? app->settings.ops_topic : app->settings.merged_topic,
        .client_id = app->base.node,
        .max_pending = FEED_QUEUE_LIMIT,
        .startup_timeout_ms = 10000,
        .avro = app->base.avro,
        .records = kind == BCFEED_OPS ? app->metrics.ops_records : app->metrics.records,
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
        clog_field fl[] = {clog_str("topic", fo.topic), clog_str("error", err)};
        clog_emit(app->base.log, CLOG_WARN, "topic not readable yet; retrying", fl, 2);
        util_sleep_ms(util_backoff_next(&backoff));
    }
}

static bool ready(void *userdata)
{
    bcapp *app = userdata;
    return bcfeed_healthy(app->feed) && bcfeed_healthy(app->opsfeed) &&
           (!app->producer || !op_producer_fatal(app->producer));
}

/* The write path of the y-protocols connections: the ops producer (as
 * ingest's) and the awareness publisher. */
static int open_write_path(bcapp *app, char *err, size_t err_size)
{
    svcapp *base = &app->base;
    if (app->settings.writes) {
        op_producer_opts po = {
            .brokers = cfg_string(base->config, CFG_KAFKA_BROKERS),
            .client_id = base->node,
            .topic = app->settings.ops_topic,
            .ack_timeout_ms = app->settings.ack_timeout_ms,
            .linger_ms = app->settings.linger_ms,
            .log = base->log,
            .notify = bcserver_wake,
            .notify_userdata = app->server,
        };
        app->producer = op_producer_new(&po, err, err_size);
        if (!app->producer)
            return -1;
    }
    app->awareness = awareness_new(cfg_string(base->config, CFG_REDIS_URL), AWARENESS_QUEUE_LIMIT,
                                   base->log, NULL, err, err_size);
    return app->awareness ? 0 : -1;
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
                          .access = app->access,
                          .node = base->node};
    app->server = bcserver_new(&deps, err, sizeof err);
    if (!app->server)
        goto fail;
    app->feed = open_feed(app, BCFEED_MERGED, err, sizeof err);
    if (!app->feed)
        goto fail;
    app->opsfeed = open_feed(app, BCFEED_OPS, err, sizeof err);
    if (!app->opsfeed || open_write_path(app, err, sizeof err) != 0)
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
                      .brokers = cfg_string(base->config, CFG_KAFKA_BROKERS),
                      .ops_topic = app->settings.ops_topic,
                      .client_id = base->node,
                      .log = base->log,
                      .notify = bcserver_wake,
                      .notify_userdata = app->server};
    app->loader = bcload_new(&lo, err, sizeof err);
    if (!app->loader)
        goto fail;
    bcserver_parts parts = {.feed = app->feed,
                            .opsfeed = app->opsfeed,
                            .presence = app->presence,
                            .loader = app->loader,
                            .producer = app->producer,
                            .awareness = app->awareness,
                            .avro = base->avro};
    bcserver_attach(app->server, &parts);
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
    if (app->producer) {
        op_producer_set_notify(app->producer, NULL, NULL);
        (void)op_producer_flush(app->producer, 2000);
    }
    bcfeed_free(app->feed);
    bcfeed_free(app->opsfeed);
    bcpresence_free(app->presence);
    bcload_free(app->loader);
    op_producer_free(app->producer);
    awareness_free(app->awareness, 2000);
    bcserver_free(app->server);
    docaccess_free(app->access);
}

int main(int argc, char **argv)
{
    bcapp app;
    memset(&app, 0, sizeof app);
    svcapp_opts opts = {
        .name = "broadcaster",
        .description = "broadcaster: the fan-out edge - merged operations to read connections "
                       "in version order, stock y-websocket and Hocuspocus providers synced "
                       "from collab.ops, presence",
        .metrics_listen_default = "127.0.0.1:9103",
        .add_settings = bcsettings_add,
        .issues_tokens = false,
        .start = start,
        .run = run,
        .stop = stop,
    };
    return svcapp_main(&app.base, &opts, argc, argv, &app);
}
