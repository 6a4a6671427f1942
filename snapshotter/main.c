/*
 * snapshotter: periodic snapshots of every document (issue 5). It follows
 * collab.merged in its own consumer group and, every N ops or T seconds per
 * document, writes the state to document_versions, last_processed_version
 * and Redis snapshot:{doc} (snapper.h). This file wires settings,
 * connections, metrics and shutdown.
 */
#include <mongoc/mongoc.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "common/avro_registry.h"
#include "common/config.h"
#include "common/docstore.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/metrics_http.h"
#include "common/metrics_process.h"
#include "common/mongo.h"
#include "common/redis.h"
#include "common/service.h"
#include "snapshotter/snapper.h"

static const cfg_setting snapshotter_settings[] = {
    {.name = "merged_topic",
     .flag = "--merged-topic",
     .env = "COLLAB_MERGED_TOPIC",
     .type = CFG_STRING,
     .default_value = "collab.merged",
     .help = "topic of merged operations (input)"},
    {.name = "dlq_topic",
     .flag = "--dlq-topic",
     .env = "COLLAB_DLQ_TOPIC",
     .type = CFG_STRING,
     .default_value = "collab.dlq",
     .help = "topic of records that cannot be processed"},
    {.name = "group_id",
     .flag = "--group-id",
     .env = "COLLAB_SNAPSHOTTER_GROUP",
     .type = CFG_STRING,
     .default_value = "collab-snapshotter",
     .help = "consumer group of the snapshotters (the processors' recovery reads its offsets)"},
    {.name = "every_ops",
     .flag = "--every-ops",
     .env = "COLLAB_SNAPSHOT_EVERY_OPS",
     .type = CFG_INT,
     .default_value = "100",
     .help = "snapshot a document after this many new versions",
     .min = 1,
     .max = 100000000},
    {.name = "every_time",
     .flag = "--every-time",
     .env = "COLLAB_SNAPSHOT_EVERY_TIME",
     .type = CFG_DURATION,
     .default_value = "30s",
     .help = "... or this long after its first version not in a snapshot",
     .min = 1000000,
     .max = 86400000000000},
    {.name = "max_documents",
     .flag = "--max-documents",
     .env = "COLLAB_SNAPSHOTTER_MAX_DOCUMENTS",
     .type = CFG_INT,
     .default_value = "100000",
     .help = "documents kept in memory; snapshotted ones are evicted beyond",
     .min = 1,
     .max = 100000000},
    {.name = "kafka_timeout",
     .flag = "--kafka-timeout",
     .env = "COLLAB_SNAPSHOTTER_KAFKA_TIMEOUT",
     .type = CFG_DURATION,
     .default_value = "30s",
     .help = "bound of one blocking Kafka call",
     .min = 1000000000,
     .max = 600000000000},
    {.name = "shutdown_timeout",
     .flag = "--shutdown-timeout",
     .env = "COLLAB_SHUTDOWN_TIMEOUT",
     .type = CFG_DURATION,
     .default_value = "25s",
     .help = "bound of the clean shutdown (last snapshots, commit)"},
};

int main(int argc, char **argv)
{
    if (svc_block_signals() != 0)
        return 1;
    cfg *c = cfg_new(argv[0], "snapshotter: collab.merged -> periodic document snapshots");
    if (!c || cfg_add_common(c) != 0 || cfg_set_default(c, CFG_METRICS_LISTEN, "127.0.0.1:9104") ||
        cfg_add(c, snapshotter_settings,
                sizeof snapshotter_settings / sizeof snapshotter_settings[0]) != 0) {
        fprintf(stderr, "snapshotter: %s\n", c ? cfg_error(c) : "out of memory");
        cfg_free(c);
        return 1;
    }
    int code = cfg_parse_cli(c, argc, argv, NULL, stdout, stderr);
    if (code != CFG_RUN) {
        cfg_free(c);
        return code;
    }
    clog_level level = CLOG_INFO;
    clog_level_parse(cfg_enum(c, CFG_LOG_LEVEL), &level);
    clog *log = clog_new("snapshotter", level, STDERR_FILENO);
    metrics_registry *reg = metrics_registry_new();
    char instance[128];
    cfg_instance_id(c, instance, sizeof instance);
    mongoc_init();
    if (log)
        cmongo_route_driver_log(log);
    struct cavro_registry *avro = NULL;
    metrics_http *http = NULL;
    cmongo *mongo = NULL;
    credis *redis = NULL;
    docstore *ds = NULL;
    ssnap *snap = NULL;
    char err[512];
    code = 1;
    if (!log || !reg || metrics_process_register(reg) != METRICS_OK)
        goto out;
    if (cavro_registry_new_builtin(&avro, err, sizeof err) != CAVRO_OK) {
        clog_errorf(log, "avro schemas: %s", err);
        goto out;
    }
    http = metrics_http_start_at(reg, cfg_string(c, CFG_METRICS_LISTEN), log, err, sizeof err);
    if (!http) {
        clog_errorf(log, "metrics endpoint: %s", err);
        goto out;
    }
    cmongo_opts mo = {.uri = cfg_string(c, CFG_MONGO_URI),
                      .db = cfg_string(c, CFG_MONGO_DB),
                      .app_name = "snapshotter",
                      .log = log};
    mongo = cmongo_new(&mo, err, sizeof err);
    credis_opts ro = {.url = cfg_string(c, CFG_REDIS_URL), .log = log};
    redis = mongo ? credis_new(&ro, err, sizeof err) : NULL;
    if (!redis) {
        clog_errorf(log, "stores: %s", err);
        goto out;
    }
    ds = docstore_new(mongo, redis, avro, log);
    if (!ds)
        goto out;
    bson_error_t error;
    if (cmongo_wait_ready(mongo, 5000, &error) != 0)
        clog_warnf(log, "mongo not reachable yet: %s", error.message);
    else if (docstore_ensure_indexes(ds, err, sizeof err) != DOCSTORE_OK)
        clog_warnf(log, "mongo indexes: %s", err);
    ssnap_config sc = {.brokers = cfg_string(c, CFG_KAFKA_BROKERS),
                       .merged_topic = cfg_string(c, "merged_topic"),
                       .dlq_topic = cfg_string(c, "dlq_topic"),
                       .group_id = cfg_string(c, "group_id"),
                       .instance_id = instance,
                       .every_ops = cfg_int(c, "every_ops"),
                       .every_ms = cfg_duration_ms(c, "every_time"),
                       .max_docs = (size_t)cfg_int(c, "max_documents"),
                       .kafka_timeout_ms = (int)cfg_duration_ms(c, "kafka_timeout")};
    snap = ssnap_new(&sc, ds, avro, reg, log, err, sizeof err);
    if (!snap) {
        clog_errorf(log, "kafka: %s", err);
        goto out;
    }
    svc *s = svc_new("snapshotter", log);
    if (!s)
        goto out;
    svc_set_shutdown_timeout(s, cfg_duration_ms(c, "shutdown_timeout"));
    if (svc_spawn(s, "snapshots", ssnap_loop, NULL, snap) != 0) {
        svc_free(s);
        goto out;
    }
    metrics_http_set_ready(http, true);
    clog_field f[] = {clog_str("instance", instance), clog_str("merged_topic", sc.merged_topic),
                      clog_int("every_ops", sc.every_ops), clog_int("every_ms", sc.every_ms)};
    clog_emit(log, CLOG_INFO, "snapshotter started", f, 4);
    code = svc_run(s);
    svc_free(s);
out:
    ssnap_free(snap);
    docstore_free(ds);
    credis_free(redis);
    cmongo_free(mongo);
    metrics_http_stop(http);
    cavro_registry_free(avro);
    metrics_registry_free(reg);
    clog_free(log);
    cfg_free(c);
    mongoc_cleanup();
    return code;
}
