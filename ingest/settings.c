/*
 * settings: the table of ingest's settings and their reading into
 * ingest_settings. See settings.h.
 */
#include "ingest/settings.h"

#include <stdio.h>
#include <string.h>

#include "common/auth_password.h"
#include "common/metrics_http.h"

#define NS_PER_MS 1000000LL

static const cfg_setting ingest_table[] = {
    {.name = "listen",
     .flag = "--listen",
     .env = "COLLAB_INGEST_LISTEN",
     .type = CFG_STRING,
     .default_value = "127.0.0.1:8080",
     .help = "WebSocket and HTTP API address host:port"},
    {.name = "max_message_bytes",
     .flag = "--max-message-bytes",
     .env = "COLLAB_INGEST_MAX_MESSAGE_BYTES",
     .type = CFG_SIZE,
     .default_value = "1MiB",
     .help = "largest client message; larger ones get NACK too_large",
     .min = 1024,
     .max = 64LL * 1024 * 1024},
    {.name = "max_ops_per_second",
     .flag = "--max-ops-per-second",
     .env = "COLLAB_INGEST_MAX_OPS_PER_SECOND",
     .type = CFG_INT,
     .default_value = "1000",
     .help = "operations per second per connection (burst: one second's worth)",
     .min = 1,
     .max = 1000000},
    {.name = "max_connections",
     .flag = "--max-connections",
     .env = "COLLAB_INGEST_MAX_CONNECTIONS",
     .type = CFG_INT,
     .default_value = "10000",
     .help = "open WebSocket connections per process",
     .min = 1,
     .max = 1000000},
    {.name = "max_awareness_per_second",
     .flag = "--max-awareness-per-second",
     .env = "COLLAB_INGEST_MAX_AWARENESS_PER_SECOND",
     .type = CFG_INT,
     .default_value = "30",
     .help = "awareness messages per second per connection; more are dropped",
     .min = 1,
     .max = 100000},
    {.name = "ack_timeout",
     .flag = "--ack-timeout",
     .env = "COLLAB_INGEST_ACK_TIMEOUT",
     .type = CFG_DURATION,
     .default_value = "5s",
     .help = "Kafka must confirm an op within this, else NACK unavailable",
     .min = 100 * NS_PER_MS,
     .max = 300000 * NS_PER_MS},
    {.name = "retry_after",
     .flag = "--retry-after",
     .env = "COLLAB_INGEST_RETRY_AFTER",
     .type = CFG_DURATION,
     .default_value = "1s",
     .help = "retry_after_ms sent with NACK unavailable and rate_limited",
     .min = NS_PER_MS,
     .max = 600000 * NS_PER_MS},
    {.name = "linger",
     .flag = "--linger",
     .env = "COLLAB_INGEST_LINGER",
     .type = CFG_DURATION,
     .default_value = "0ms",
     .help = "librdkafka linger.ms: how long the producer waits to fill a batch",
     .min = 0,
     .max = 1000 * NS_PER_MS},
    {.name = "permission_ttl",
     .flag = "--permission-ttl",
     .env = "COLLAB_INGEST_PERMISSION_TTL",
     .type = CFG_DURATION,
     .default_value = "5s",
     .help = "how long a document permission check of the write endpoint is cached (0: not "
             "cached); a right granted or revoked applies to new connections within it",
     .min = 0,
     .max = 3600000 * NS_PER_MS},
    {.name = "drain_timeout",
     .flag = "--drain-timeout",
     .env = "COLLAB_INGEST_DRAIN_TIMEOUT",
     .type = CFG_DURATION,
     .default_value = "10s",
     .help = "shutdown: longest wait for the answers of pending ops",
     .min = 0,
     .max = 600000 * NS_PER_MS},
    {.name = "ops_topic",
     .flag = "--ops-topic",
     .env = "COLLAB_OPS_TOPIC",
     .type = CFG_STRING,
     .default_value = "collab.ops",
     .help = "Kafka topic of client operations"},
    {.name = "partitions",
     .flag = "--partitions",
     .env = "COLLAB_KAFKA_PARTITIONS",
     .type = CFG_INT,
     .default_value = "6",
     .help = "partitions of the ops topic when created",
     .min = 1,
     .max = 10000},
    {.name = "replication",
     .flag = "--replication",
     .env = "COLLAB_KAFKA_REPLICATION",
     .type = CFG_INT,
     .default_value = "-1",
     .help = "replication factor of the ops topic when created (-1: broker default)",
     .min = -1,
     .max = 16},
    {.name = "http_workers",
     .flag = "--http-workers",
     .env = "COLLAB_INGEST_HTTP_WORKERS",
     .type = CFG_INT,
     .default_value = "2",
     .help = "threads serving the HTTP API (password hashing, MongoDB)",
     .min = 1,
     .max = 64},
    {.name = "argon2_opslimit",
     .flag = "--argon2-opslimit",
     .env = "COLLAB_ARGON2_OPSLIMIT",
     .type = CFG_INT,
     .default_value = "2",
     .help = "argon2id passes for password hashes",
     .min = 1,
     .max = 100},
    {.name = "argon2_memlimit",
     .flag = "--argon2-memlimit",
     .env = "COLLAB_ARGON2_MEMLIMIT",
     .type = CFG_SIZE,
     .default_value = "64MiB",
     .help = "argon2id memory per password hash",
     .min = 8192,
     .max = 4LL * 1024 * 1024 * 1024},
};

int ingest_settings_add(cfg *c)
{
    return cfg_add(c, ingest_table, sizeof ingest_table / sizeof ingest_table[0]);
}

int ingest_settings_read(const cfg *c, ingest_settings *out, char *err, size_t err_size)
{
    memset(out, 0, sizeof *out);
    const char *listen = cfg_string(c, "listen");
    if (metrics_http_parse_listen(listen, out->listen_host, sizeof out->listen_host,
                                  &out->listen_port) != 0) {
        snprintf(err, err_size, "listen: \"%s\" is not host:port", listen);
        return -1;
    }
    out->max_message_bytes = (size_t)cfg_size(c, "max_message_bytes");
    out->max_ops_per_second = (uint32_t)cfg_int(c, "max_ops_per_second");
    out->max_connections = (uint32_t)cfg_int(c, "max_connections");
    out->max_awareness_per_second = (uint32_t)cfg_int(c, "max_awareness_per_second");
    out->ack_timeout_ms = cfg_duration_ms(c, "ack_timeout");
    out->retry_after_ms = cfg_duration_ms(c, "retry_after");
    out->drain_timeout_ms = cfg_duration_ms(c, "drain_timeout");
    out->permission_ttl_ms = cfg_duration_ms(c, "permission_ttl");
    out->linger_ms = cfg_duration_ms(c, "linger");
    out->ops_topic = cfg_string(c, "ops_topic");
    if (!out->ops_topic[0]) {
        snprintf(err, err_size, "ops_topic: must not be empty");
        return -1;
    }
    out->partitions = (int)cfg_int(c, "partitions");
    out->replication = (int)cfg_int(c, "replication");
    out->http_workers = (int)cfg_int(c, "http_workers");
    out->argon2_opslimit = cfg_int(c, "argon2_opslimit");
    out->argon2_memlimit = cfg_size(c, "argon2_memlimit");
    struct authpw_params params = {(unsigned long long)out->argon2_opslimit,
                                   (size_t)out->argon2_memlimit};
    if (authpw_params_check(&params) != AUTHPW_OK) {
        snprintf(err, err_size, "argon2_opslimit/argon2_memlimit: outside libsodium's limits");
        return -1;
    }
    return 0;
}
