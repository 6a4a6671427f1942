/*
 * processor: the stateful service that merges operations (issue 5). It reads
 * collab.ops in the consumer group collab-processor, merges each op into its
 * document (Yjs updates with the crdt engine, items with the items rules),
 * numbers the document's versions and produces collab.merged, exactly once
 * per op (pipeline.h); a writer thread keeps the MongoDB and Redis views
 * (views.h). This file wires settings, connections, metrics and shutdown.
 */
#include <mongoc/mongoc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/avro_registry.h"
#include "common/config.h"
#include "common/docstore.h"
#include "common/kafka_admin.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/metrics_http.h"
#include "common/metrics_process.h"
#include "common/mongo.h"
#include "common/redis.h"
#include "common/service.h"
#include "processor/pipeline.h"
#include "processor/views.h"

static const cfg_setting processor_settings[] = {
    {.name = "ops_topic",
     .flag = "--ops-topic",
     .env = "COLLAB_OPS_TOPIC",
     .type = CFG_STRING,
     .default_value = "collab.ops",
     .help = "topic of client operations (input)"},
    {.name = "merged_topic",
     .flag = "--merged-topic",
     .env = "COLLAB_MERGED_TOPIC",
     .type = CFG_STRING,
     .default_value = "collab.merged",
     .help = "topic of merged operations (output, same partition count as the input)"},
    {.name = "dlq_topic",
     .flag = "--dlq-topic",
     .env = "COLLAB_DLQ_TOPIC",
     .type = CFG_STRING,
     .default_value = "collab.dlq",
     .help = "topic of records that cannot be processed"},
    {.name = "group_id",
     .flag = "--group-id",
     .env = "COLLAB_PROCESSOR_GROUP",
     .type = CFG_STRING,
     .default_value = "collab-processor",
     .help = "consumer group of the processors"},
    {.name = "snapshotter_group",
     .flag = "--snapshotter-group",
     .env = "COLLAB_SNAPSHOTTER_GROUP",
     .type = CFG_STRING,
     .default_value = "collab-snapshotter",
     .help = "consumer group of the snapshotter: recovery replays collab.merged from its "
             "committed offsets"},
    {.name = "transactional_id",
     .flag = "--transactional-id",
     .env = "COLLAB_PROCESSOR_TRANSACTIONAL_ID",
     .type = CFG_STRING,
     .default_value = "",
     .help = "Kafka transactional id (default collab-processor-<instance id>); a restarted "
             "instance with the same id fences its zombie"},
    {.name = "partitions",
     .flag = "--partitions",
     .env = "COLLAB_KAFKA_PARTITIONS",
     .type = CFG_INT,
     .default_value = "6",
     .help = "partitions of the topics when this service creates them",
     .min = 1,
     .max = 10000},
    {.name = "txn_producers",
     .flag = "--txn-producers",
     .env = "COLLAB_PROCESSOR_TXN_PRODUCERS",
     .type = CFG_INT,
     .default_value = "3",
     .help = "transactional producers used in turn, so a transaction never waits for the "
             "previous one's commit markers (ids: the transactional id, then id.1, id.2, ...)",
     .min = 1,
     .max = 8},
    {.name = "batch_max_ops",
     .flag = "--batch-max-ops",
     .env = "COLLAB_PROCESSOR_BATCH_MAX_OPS",
     .type = CFG_INT,
     .default_value = "1000",
     .help = "most ops per Kafka transaction",
     .min = 1,
     .max = 100000},
    {.name = "batch_max_time",
     .flag = "--batch-max-time",
     .env = "COLLAB_PROCESSOR_BATCH_MAX_TIME",
     .type = CFG_DURATION,
     .default_value = "10ms",
     .help = "longest a transaction stays open while ops keep arriving",
     .min = 0,
     .max = 10000000000},
    {.name = "max_documents",
     .flag = "--max-documents",
     .env = "COLLAB_PROCESSOR_MAX_DOCUMENTS",
     .type = CFG_INT,
     .default_value = "100000",
     .help = "documents kept in memory; the least recently used are evicted beyond",
     .min = 1,
     .max = 100000000},
    {.name = "view_queue",
     .flag = "--view-queue",
     .env = "COLLAB_PROCESSOR_VIEW_QUEUE",
     .type = CFG_SIZE,
     .default_value = "256MiB",
     .help = "bytes of MongoDB/Redis writes queued at most; beyond, the views fall behind"},
    {.name = "documents_interval",
     .flag = "--documents-interval",
     .env = "COLLAB_PROCESSOR_DOCUMENTS_INTERVAL",
     .type = CFG_DURATION,
     .default_value = "1s",
     .help = "least time between a document's edits and its MongoDB documents row (version, "
             "state vector) being rewritten; Redis is written at once",
     .min = 0,
     .max = 3600000000000},
    {.name = "txn_timeout",
     .flag = "--txn-timeout",
     .env = "COLLAB_PROCESSOR_TXN_TIMEOUT",
     .type = CFG_DURATION,
     .default_value = "10s",
     .help = "transaction.timeout.ms: how soon the broker aborts a dead instance's transaction",
     .min = 1000000000,
     .max = 900000000000},
    {.name = "kafka_timeout",
     .flag = "--kafka-timeout",
     .env = "COLLAB_PROCESSOR_KAFKA_TIMEOUT",
     .type = CFG_DURATION,
     .default_value = "30s",
     .help = "bound of one blocking Kafka call (commit, recovery read)",
     .min = 1000000000,
     .max = 600000000000},
    {.name = "shutdown_timeout",
     .flag = "--shutdown-timeout",
     .env = "COLLAB_SHUTDOWN_TIMEOUT",
     .type = CFG_DURATION,
     .default_value = "25s",
     .help = "bound of the clean shutdown (commit, drain the view writer)"},
};

typedef struct processor {
    cfg *cfg;
    clog *log;
    metrics_registry *reg;
    metrics_http *http;
    struct cavro_registry *avro;
    cmongo *mongo;
    credis *redis_reader, *redis_writer;
    docstore *reader, *writer;
    pviews *views;
    ppipe *pipe;
    char instance[128];
    char txn_id[256];
} processor;

static int create_topics(processor *pr)
{
    char err[512];
    ckafka_admin *admin =
        ckafka_admin_new(cfg_string(pr->cfg, CFG_KAFKA_BROKERS), pr->log, err, sizeof err);
    if (!admin) {
        clog_errorf(pr->log, "kafka admin: %s", err);
        return -1;
    }
    int partitions = (int)cfg_int(pr->cfg, "partitions");
    const char *merged_configs[] = {"retention.ms", "604800000", NULL};
    const char *dlq_configs[] = {"retention.ms", "2592000000", NULL};
    const char *ops_configs[] = {"retention.ms", "-1", NULL};
    int rc = 0;
    if (ckafka_topic_create(admin, cfg_string(pr->cfg, "ops_topic"), partitions, -1, ops_configs,
                            30000, err, sizeof err) != 0 ||
        ckafka_topic_create(admin, cfg_string(pr->cfg, "merged_topic"), partitions, -1,
                            merged_configs, 30000, err, sizeof err) != 0 ||
        ckafka_topic_create(admin, cfg_string(pr->cfg, "dlq_topic"), 1, -1, dlq_configs, 30000, err,
                            sizeof err) != 0) {
        clog_errorf(pr->log, "topic creation: %s", err);
        rc = -1;
    }
    ckafka_admin_free(admin);
    return rc;
}

static int connect_stores(processor *pr)
{
    char err[512];
    cmongo_opts mo = {.uri = cfg_string(pr->cfg, CFG_MONGO_URI),
                      .db = cfg_string(pr->cfg, CFG_MONGO_DB),
                      .app_name = "processor",
                      .log = pr->log};
    pr->mongo = cmongo_new(&mo, err, sizeof err);
    if (!pr->mongo) {
        clog_errorf(pr->log, "mongo: %s", err);
        return -1;
    }
    /* One Redis connection per thread: the merge thread reads, the writer writes. */
    credis_opts ro = {.url = cfg_string(pr->cfg, CFG_REDIS_URL), .log = pr->log};
    pr->redis_reader = credis_new(&ro, err, sizeof err);
    pr->redis_writer = pr->redis_reader ? credis_new(&ro, err, sizeof err) : NULL;
    if (!pr->redis_writer) {
        clog_errorf(pr->log, "redis: %s", err);
        return -1;
    }
    pr->reader = docstore_new(pr->mongo, pr->redis_reader, pr->avro, pr->log);
    pr->writer = docstore_new(pr->mongo, pr->redis_writer, pr->avro, pr->log);
    if (!pr->reader || !pr->writer)
        return -1;
    bson_error_t error;
    if (cmongo_wait_ready(pr->mongo, 5000, &error) != 0) {
        /* Not fatal: the views catch up when MongoDB is back. */
        clog_warnf(pr->log, "mongo not reachable yet: %s", error.message);
    } else if (docstore_ensure_indexes(pr->writer, err, sizeof err) != DOCSTORE_OK) {
        clog_warnf(pr->log, "mongo indexes: %s", err);
    }
    return 0;
}

static void processor_free(processor *pr)
{
    ppipe_free(pr->pipe);
    pviews_free(pr->views);
    docstore_free(pr->reader);
    docstore_free(pr->writer);
    credis_free(pr->redis_reader);
    credis_free(pr->redis_writer);
    cmongo_free(pr->mongo);
    metrics_http_stop(pr->http);
    cavro_registry_free(pr->avro);
    metrics_registry_free(pr->reg);
    clog_free(pr->log);
    cfg_free(pr->cfg);
}

int main(int argc, char **argv)
{
    if (svc_block_signals() != 0)
        return 1;
    processor pr = {0};
    pr.cfg = cfg_new(argv[0], "processor: collab.ops -> CRDT merge -> collab.merged, "
                              "MongoDB and Redis views");
    if (!pr.cfg || cfg_add_common(pr.cfg) != 0 ||
        cfg_set_default(pr.cfg, CFG_METRICS_LISTEN, "127.0.0.1:9102") != 0 ||
        cfg_add(pr.cfg, processor_settings,
                sizeof processor_settings / sizeof processor_settings[0]) != 0) {
        fprintf(stderr, "processor: %s\n", pr.cfg ? cfg_error(pr.cfg) : "out of memory");
        cfg_free(pr.cfg);
        return 1;
    }
    int code = cfg_parse_cli(pr.cfg, argc, argv, NULL, stdout, stderr);
    if (code != CFG_RUN) {
        cfg_free(pr.cfg);
        return code;
    }
    clog_level level = CLOG_INFO;
    clog_level_parse(cfg_enum(pr.cfg, CFG_LOG_LEVEL), &level);
    pr.log = clog_new("processor", level, STDERR_FILENO);
    pr.reg = metrics_registry_new();
    if (!pr.log || !pr.reg || metrics_process_register(pr.reg) != METRICS_OK) {
        processor_free(&pr);
        return 1;
    }
    cfg_instance_id(pr.cfg, pr.instance, sizeof pr.instance);
    const char *txn = cfg_string(pr.cfg, "transactional_id");
    if (*txn)
        snprintf(pr.txn_id, sizeof pr.txn_id, "%s", txn);
    else
        snprintf(pr.txn_id, sizeof pr.txn_id, "collab-processor-%s", pr.instance);

    mongoc_init();
    cmongo_route_driver_log(pr.log);
    char err[512];
    code = 1;
    if (cavro_registry_new_builtin(&pr.avro, err, sizeof err) != CAVRO_OK) {
        clog_errorf(pr.log, "avro schemas: %s", err);
        goto out;
    }
    pr.http = metrics_http_start_at(pr.reg, cfg_string(pr.cfg, CFG_METRICS_LISTEN), pr.log, err,
                                    sizeof err);
    if (!pr.http) {
        clog_errorf(pr.log, "metrics endpoint: %s", err);
        goto out;
    }
    if (create_topics(&pr) != 0 || connect_stores(&pr) != 0)
        goto out;
    pr.views = pviews_new(pr.writer, (size_t)cfg_size(pr.cfg, "view_queue"), pr.reg, pr.log);
    if (!pr.views)
        goto out;
    pviews_set_drain_ms(pr.views, cfg_duration_ms(pr.cfg, "shutdown_timeout") / 2);
    pviews_set_documents_interval_ms(pr.views, cfg_duration_ms(pr.cfg, "documents_interval"));
    ppipe_config pc = {
        .brokers = cfg_string(pr.cfg, CFG_KAFKA_BROKERS),
        .ops_topic = cfg_string(pr.cfg, "ops_topic"),
        .merged_topic = cfg_string(pr.cfg, "merged_topic"),
        .dlq_topic = cfg_string(pr.cfg, "dlq_topic"),
        .group_id = cfg_string(pr.cfg, "group_id"),
        .snapshotter_group = cfg_string(pr.cfg, "snapshotter_group"),
        .transactional_id = pr.txn_id,
        .instance_id = pr.instance,
        .txn_producers = (int)cfg_int(pr.cfg, "txn_producers"),
        .batch_max_ops = (int)cfg_int(pr.cfg, "batch_max_ops"),
        .batch_max_ms = cfg_duration_ms(pr.cfg, "batch_max_time"),
        .max_docs = (size_t)cfg_int(pr.cfg, "max_documents"),
        .txn_timeout_ms = (int)cfg_duration_ms(pr.cfg, "txn_timeout"),
        .kafka_timeout_ms = (int)cfg_duration_ms(pr.cfg, "kafka_timeout"),
    };
    pr.pipe = ppipe_new(&pc, pr.reader, pr.views, pr.avro, pr.reg, pr.log, err, sizeof err);
    if (!pr.pipe) {
        clog_errorf(pr.log, "kafka: %s", err);
        goto out;
    }
    svc *s = svc_new("processor", pr.log);
    if (!s)
        goto out;
    svc_set_shutdown_timeout(s, cfg_duration_ms(pr.cfg, "shutdown_timeout"));
    /* Shutdown order: the merge loop commits its batch and leaves the group,
     * then the writer drains what the batch queued. */
    if (svc_spawn(s, "merge", ppipe_loop, NULL, pr.pipe) != 0 ||
        svc_spawn(s, "views", pviews_loop, pviews_wake, pr.views) != 0) {
        svc_free(s);
        goto out;
    }
    metrics_http_set_ready_fn(pr.http, ppipe_ready, pr.pipe);
    metrics_http_set_ready(pr.http, true);
    clog_field f[] = {clog_str("instance", pr.instance), clog_str("transactional_id", pr.txn_id),
                      clog_str("ops_topic", pc.ops_topic),
                      clog_str("merged_topic", pc.merged_topic)};
    clog_emit(pr.log, CLOG_INFO, "processor started", f, 4);
    code = svc_run(s);
    svc_free(s);
out:
    processor_free(&pr);
    mongoc_cleanup();
    return code;
}
