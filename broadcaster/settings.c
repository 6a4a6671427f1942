/*
 * settings: the table of the broadcaster's settings and their reading into
 * bcsettings. See settings.h.
 */
#include "broadcaster/settings.h"

#include <stdio.h>
#include <string.h>

#include "common/metrics_http.h"

#define NS_PER_MS 1000000LL

static const cfg_setting table[] = {
    {.name = "listen",
     .flag = "--listen",
     .env = "COLLAB_BROADCASTER_LISTEN",
     .type = CFG_STRING,
     .default_value = "127.0.0.1:8081",
     .help = "WebSocket read endpoint address host:port"},
    {.name = "merged_topic",
     .flag = "--merged-topic",
     .env = "COLLAB_MERGED_TOPIC",
     .type = CFG_STRING,
     .default_value = "collab.merged",
     .help = "topic of merged operations (read, every partition)"},
    {.name = "ops_topic",
     .flag = "--ops-topic",
     .env = "COLLAB_OPS_TOPIC",
     .type = CFG_STRING,
     .default_value = "collab.ops",
     .help = "topic of client ops: read for the live documents, written by y-protocols writes"},
    {.name = "writes",
     .flag = "--writes",
     .env = "COLLAB_BROADCASTER_WRITES",
     .type = CFG_BOOL,
     .default_value = "true",
     .help = "take writes from y-protocols connections (produce them to the ops topic); false: "
             "a read-only fan-out node, whose y-protocols clients are told so"},
    {.name = "yjs_path",
     .flag = "--yjs-path",
     .env = "COLLAB_BROADCASTER_YJS_PATH",
     .type = CFG_STRING,
     .default_value = "/yjs",
     .help = "URL prefix of y-websocket connections: ws://host:port<prefix>/<doc>?token=JWT"},
    {.name = "hocuspocus_path",
     .flag = "--hocuspocus-path",
     .env = "COLLAB_BROADCASTER_HOCUSPOCUS_PATH",
     .type = CFG_STRING,
     .default_value = "/hocuspocus",
     .help = "URL path of Hocuspocus connections (documents multiplexed, token per document)"},
    {.name = "max_message_bytes",
     .flag = "--max-message-bytes",
     .env = "COLLAB_BROADCASTER_MAX_MESSAGE_BYTES",
     .type = CFG_SIZE,
     .default_value = "1MiB",
     .help = "largest message a y-protocols client may send (more: closed with 1009)",
     .min = 1024,
     .max = 64LL * 1024 * 1024},
    {.name = "max_documents_per_socket",
     .flag = "--max-documents-per-socket",
     .env = "COLLAB_BROADCASTER_MAX_DOCUMENTS_PER_SOCKET",
     .type = CFG_INT,
     .default_value = "256",
     .help = "documents one Hocuspocus connection may open",
     .min = 1,
     .max = 100000},
    {.name = "ack_timeout",
     .flag = "--ack-timeout",
     .env = "COLLAB_BROADCASTER_ACK_TIMEOUT",
     .type = CFG_DURATION,
     .default_value = "5s",
     .help = "how long Kafka may take to confirm a y-protocols write (then the client reconnects "
             "and resends)",
     .min = 100 * NS_PER_MS,
     .max = 300000 * NS_PER_MS},
    {.name = "linger",
     .flag = "--linger",
     .env = "COLLAB_BROADCASTER_LINGER",
     .type = CFG_DURATION,
     .default_value = "0ms",
     .help = "producer linger.ms for y-protocols writes",
     .min = 0,
     .max = 1000 * NS_PER_MS},
    {.name = "queue_max_messages",
     .flag = "--queue-max-messages",
     .env = "COLLAB_BROADCASTER_QUEUE_MAX_MESSAGES",
     .type = CFG_INT,
     .default_value = "4096",
     .help = "messages queued per subscriber before it counts as slow (RESYNC + STATE)",
     .min = 16,
     .max = 1000000},
    {.name = "queue_max_bytes",
     .flag = "--queue-max-bytes",
     .env = "COLLAB_BROADCASTER_QUEUE_MAX_BYTES",
     .type = CFG_SIZE,
     .default_value = "16MiB",
     .help = "bytes queued per subscriber before it counts as slow",
     .min = 4096,
     .max = 1024LL * 1024 * 1024},
    {.name = "slow_resyncs",
     .flag = "--slow-resyncs",
     .env = "COLLAB_BROADCASTER_SLOW_RESYNCS",
     .type = CFG_INT,
     .default_value = "3",
     .help = "slow-consumer resyncs allowed per slow window; one more closes with ERROR "
             "slow_consumer",
     .min = 0,
     .max = 1000},
    {.name = "slow_window",
     .flag = "--slow-window",
     .env = "COLLAB_BROADCASTER_SLOW_WINDOW",
     .type = CFG_DURATION,
     .default_value = "60s",
     .help = "the window of --slow-resyncs",
     .min = 1000 * NS_PER_MS,
     .max = 3600000 * NS_PER_MS},
    {.name = "history_max_ops",
     .flag = "--history-max-ops",
     .env = "COLLAB_BROADCASTER_HISTORY_MAX_OPS",
     .type = CFG_INT,
     .default_value = "1024",
     .help = "recent merged ops kept in memory per document (catch-up, resume)",
     .min = 1,
     .max = 1000000},
    {.name = "history_max_bytes",
     .flag = "--history-max-bytes",
     .env = "COLLAB_BROADCASTER_HISTORY_MAX_BYTES",
     .type = CFG_SIZE,
     .default_value = "4MiB",
     .help = "bytes of recent merged ops kept per document",
     .min = 4096,
     .max = 1024LL * 1024 * 1024},
    {.name = "resume_max_ops",
     .flag = "--resume-max-ops",
     .env = "COLLAB_BROADCASTER_RESUME_MAX_OPS",
     .type = CFG_INT,
     .default_value = "1000",
     .help = "a ?since= further behind than this many ops gets a STATE instead",
     .min = 1,
     .max = 1000000},
    {.name = "gap_wait",
     .flag = "--gap-wait",
     .env = "COLLAB_BROADCASTER_GAP_WAIT",
     .type = CFG_DURATION,
     .default_value = "5s",
     .help = "how long missing ops may take to reach MongoDB before RESYNC + STATE",
     .min = 0,
     .max = 600000 * NS_PER_MS},
    {.name = "permission_ttl",
     .flag = "--permission-ttl",
     .env = "COLLAB_BROADCASTER_PERMISSION_TTL",
     .type = CFG_DURATION,
     .default_value = "10s",
     .help = "how long a document permission check is cached (0: not cached)",
     .min = 0,
     .max = 3600000 * NS_PER_MS},
    {.name = "presence_timeout",
     .flag = "--presence-timeout",
     .env = "COLLAB_BROADCASTER_PRESENCE_TIMEOUT",
     .type = CFG_DURATION,
     .default_value = "30s",
     .help = "presence entries older than this are not sent to newcomers",
     .min = 1000 * NS_PER_MS,
     .max = 3600000 * NS_PER_MS},
    {.name = "loader_threads",
     .flag = "--loader-threads",
     .env = "COLLAB_BROADCASTER_LOADER_THREADS",
     .type = CFG_INT,
     .default_value = "2",
     .help = "threads loading states and ops from Redis and MongoDB",
     .min = 1,
     .max = 64},
    {.name = "max_connections",
     .flag = "--max-connections",
     .env = "COLLAB_BROADCASTER_MAX_CONNECTIONS",
     .type = CFG_INT,
     .default_value = "16000",
     .help = "open read connections per process (more: HTTP 503)",
     .min = 1,
     .max = 1000000},
    {.name = "close_grace",
     .flag = "--close-grace",
     .env = "COLLAB_BROADCASTER_CLOSE_GRACE",
     .type = CFG_DURATION,
     .default_value = "2s",
     .help = "at shutdown, time for ERROR shutting_down to reach the clients",
     .min = 0,
     .max = 60000 * NS_PER_MS},
    {.name = "startup_timeout",
     .flag = "--startup-timeout",
     .env = "COLLAB_BROADCASTER_STARTUP_TIMEOUT",
     .type = CFG_DURATION,
     .default_value = "60s",
     .help = "how long to wait for Kafka, MongoDB and the merged topic at start",
     .min = 1000 * NS_PER_MS,
     .max = 3600000 * NS_PER_MS},
};

int bcsettings_add(cfg *c)
{
    return cfg_add(c, table, sizeof table / sizeof table[0]);
}

int bcsettings_read(const cfg *c, bcsettings *out, char *err, size_t err_size)
{
    if (metrics_http_parse_listen(cfg_string(c, "listen"), out->listen_host,
                                  sizeof out->listen_host, &out->listen_port) != 0) {
        snprintf(err, err_size, "--listen: expected host:port, got \"%s\"",
                 cfg_string(c, "listen"));
        return -1;
    }
    out->merged_topic = cfg_string(c, "merged_topic");
    out->ops_topic = cfg_string(c, "ops_topic");
    out->writes = cfg_bool(c, "writes");
    out->yjs_path = cfg_string(c, "yjs_path");
    out->hocuspocus_path = cfg_string(c, "hocuspocus_path");
    if (out->yjs_path[0] != '/' || strlen(out->yjs_path) < 2 || out->hocuspocus_path[0] != '/' ||
        strncmp(out->hocuspocus_path, out->yjs_path, strlen(out->yjs_path)) == 0 ||
        strncmp(out->yjs_path, "/v1/", 4) == 0 || strncmp(out->hocuspocus_path, "/v1/", 4) == 0) {
        snprintf(err, err_size,
                 "--yjs-path and --hocuspocus-path must start with /, differ from each other and "
                 "from /v1/ (got \"%s\" and \"%s\")",
                 out->yjs_path, out->hocuspocus_path);
        return -1;
    }
    out->max_message_bytes = (size_t)cfg_size(c, "max_message_bytes");
    out->max_documents_per_socket = (size_t)cfg_int(c, "max_documents_per_socket");
    out->ack_timeout_ms = cfg_duration_ms(c, "ack_timeout");
    out->linger_ms = cfg_duration_ms(c, "linger");
    out->queue_max_messages = (size_t)cfg_int(c, "queue_max_messages");
    out->queue_max_bytes = (size_t)cfg_size(c, "queue_max_bytes");
    out->slow_resyncs = (int)cfg_int(c, "slow_resyncs");
    out->slow_window_ms = cfg_duration_ms(c, "slow_window");
    out->history_max_ops = (size_t)cfg_int(c, "history_max_ops");
    out->history_max_bytes = (size_t)cfg_size(c, "history_max_bytes");
    out->resume_max_ops = (size_t)cfg_int(c, "resume_max_ops");
    out->gap_wait_ms = cfg_duration_ms(c, "gap_wait");
    out->permission_ttl_ms = cfg_duration_ms(c, "permission_ttl");
    out->presence_timeout_ms = cfg_duration_ms(c, "presence_timeout");
    out->loader_threads = (int)cfg_int(c, "loader_threads");
    out->max_connections = (uint32_t)cfg_int(c, "max_connections");
    out->close_grace_ms = cfg_duration_ms(c, "close_grace");
    out->startup_timeout_ms = cfg_duration_ms(c, "startup_timeout");
    return 0;
}
