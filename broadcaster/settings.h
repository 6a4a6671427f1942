/*
 * settings: the broadcaster's own settings (on top of cfg_add_common and the
 * JWT settings of ws_auth), declared for cfg and read into a plain struct
 * once after parsing. `broadcaster --help` lists them all. Prefix:
 * bcsettings_.
 */
#ifndef BROADCASTER_SETTINGS_H
#define BROADCASTER_SETTINGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/config.h"

typedef struct bcsettings {
    char listen_host[256];
    int listen_port;
    const char *merged_topic; /* borrowed from the cfg */
    const char *ops_topic;    /* borrowed */
    bool writes;              /* y-protocols writes produced to ops_topic */
    const char *yjs_path;     /* y-websocket: <yjs_path>/<doc> */
    const char *hocuspocus_path;
    size_t max_message_bytes; /* from a y-protocols client */
    size_t max_documents_per_socket;
    int64_t ack_timeout_ms;
    int64_t linger_ms;
    size_t queue_max_messages; /* per subscriber: more is slow (RESYNC + STATE) */
    size_t queue_max_bytes;    /* per subscriber, likewise */
    int slow_resyncs;          /* slow-consumer resyncs allowed per slow_window... */
    int64_t slow_window_ms;    /* ...before ERROR slow_consumer and a close */
    size_t history_max_ops;    /* recent ops kept per document for resume and catch-up */
    size_t history_max_bytes;
    size_t resume_max_ops;       /* ?since= further behind than this gets a STATE */
    int64_t gap_wait_ms;         /* wait for MongoDB to have missing ops before RESYNC */
    int64_t permission_ttl_ms;   /* how long a permission check is cached */
    int64_t presence_timeout_ms; /* presence entries older than this are not sent */
    int loader_threads;
    uint32_t max_connections;
    int64_t close_grace_ms;     /* shutdown: time for ERROR shutting_down to go out */
    int64_t startup_timeout_ms; /* waiting for Kafka, MongoDB and the topic */
} bcsettings;

/* Declares the settings. 0 or -1 (cfg_error says why). */
int bcsettings_add(cfg *c);

/* Reads them after cfg_parse. 0, or -1 with the reason in err. */
int bcsettings_read(const cfg *c, bcsettings *out, char *err, size_t err_size);

#endif
