/*
 * settings: ingest's own configuration (flags and COLLAB_INGEST_* variables),
 * declared next to the shared ones (cfg_add_common) and the token settings
 * (wsauth_cfg_add), and read once into a plain struct that the other ingest
 * modules take. See `build/bin/ingest --help` and docs/operations.md.
 * Prefix: ingest_settings_.
 */
#ifndef INGEST_SETTINGS_H
#define INGEST_SETTINGS_H

#include <stddef.h>
#include <stdint.h>

#include "common/config.h"

typedef struct ingest_settings {
    char listen_host[256];
    int listen_port;
    size_t max_message_bytes;          /* larger client messages: NACK too_large */
    uint32_t max_ops_per_second;       /* per connection: NACK rate_limited above it */
    uint32_t max_connections;          /* more: ERROR too_many_connections */
    uint32_t max_awareness_per_second; /* per connection: dropped above it */
    int64_t ack_timeout_ms;            /* Kafka must confirm within this, else NACK unavailable */
    int64_t retry_after_ms;            /* retry_after_ms of NACK unavailable / rate_limited */
    int64_t drain_timeout_ms;          /* shutdown: longest wait for pending answers */
    int64_t permission_ttl_ms;         /* how long a permission check is cached */
    int64_t linger_ms;                 /* producer batching delay */
    const char *ops_topic;             /* collab.ops; borrowed from the cfg */
    int partitions;
    int replication;  /* -1: the broker's default */
    int http_workers; /* threads for the HTTP API (argon2, MongoDB) */
    int64_t argon2_opslimit;
    int64_t argon2_memlimit;
} ingest_settings;

/* Declares the ingest settings. 0 or -1 (cfg_error). */
int ingest_settings_add(cfg *c);

/* Reads them after cfg_parse. 0, or -1 with a one-line reason in err. */
int ingest_settings_read(const cfg *c, ingest_settings *out, char *err, size_t err_size);

#endif
