/*
 * server: ingest's HTTP + WebSocket endpoint on one libwebsockets thread.
 * Serves the HTTP API (requests handed to the jobs workers) and the write
 * connections of docs/protocol.md (checks before the upgrade, HELLO, ops
 * validated and produced to Kafka, ACK/NACK from delivery reports,
 * awareness to Redis, limits). At shutdown the loop drains: new requests are
 * refused, every pending op gets its answer (or the drain timeout passes),
 * then each connection gets ERROR shutting_down and is closed.
 *
 * Build order in main: ingest_server_new, then the producer and the jobs
 * pool with ingest_server_wake as their notify function, then
 * ingest_server_attach; svc_spawn(ingest_server_loop, ingest_server_wake).
 * Stop order: after the loop ended, clear the producer's and the pool's
 * notify functions, ingest_server_close (closes every socket, which hands
 * API jobs back), free the jobs pool and the producer, then
 * ingest_server_free. Prefix: ingest_server_.
 */
#ifndef INGEST_SERVER_H
#define INGEST_SERVER_H

#include <stdbool.h>
#include <stddef.h>

#include "common/auth_token.h"
#include "common/avro_registry.h"
#include "common/awareness.h"
#include "common/log.h"
#include "common/op_producer.h"
#include "common/service.h"
#include "common/userstore.h"
#include "ingest/jobs.h"
#include "ingest/metrics.h"
#include "ingest/settings.h"

typedef struct ingest_server_deps {
    const ingest_settings *settings;
    clog *log;
    ingest_metrics *metrics;
    const struct authtoken_keys *keys;
    ustore *store;
    awareness_pub *awareness;
    const struct cavro_registry *registry;
    const char *node; /* instance id, the ingest_node of records */
} ingest_server_deps;

typedef struct ingest_server ingest_server;

/* Listens on settings->listen_host:listen_port. Everything in deps is
 * borrowed and must outlive the server. NULL with the reason in err. */
ingest_server *ingest_server_new(const ingest_server_deps *deps, char *err, size_t err_size);

/* Hands over the producer and the jobs pool (borrowed) before the loop runs. */
void ingest_server_attach(ingest_server *srv, op_producer *producer, ingest_jobs *jobs);

/* The port listened on (settings may ask for 0). */
int ingest_server_port(const ingest_server *srv);

/* svc loop: serves until shutdown starts, then drains (see above). */
int ingest_server_loop(svc *s, void *srv);

/* Wakes the loop: notify function of the producer and the jobs pool, and
 * the svc wake function. Any thread. */
void ingest_server_wake(void *srv);

/* Destroys the lws context: every socket is closed and its session state
 * released. The wake function must not be called any more. */
void ingest_server_close(ingest_server *srv);

/* Frees the server (closing it first if needed) and every connection record still held by
 * unanswered ops (after the producer is freed). */
void ingest_server_free(ingest_server *srv);

#endif
