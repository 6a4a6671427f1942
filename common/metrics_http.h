/*
 * metrics_http: the HTTP endpoint every service runs on its own thread, on
 * libwebsockets (the services use lws for WebSocket anyway):
 *   GET /metrics  the registry in Prometheus text format 0.0.4
 *   GET /healthz  200 "ok" while the process runs
 *   GET /readyz   200 "ready" when the service says so, else 503 "not ready"
 * Readiness is a flag (metrics_http_set_ready) and, optionally, a callback
 * asked on every /readyz; both must say ready. The callback runs on the HTTP
 * thread, so it must be thread-safe and quick.
 *
 * libwebsockets' own log level is process-wide; starting the endpoint sets it
 * to errors and warnings (lws has no per-context logger to route to clog).
 * Prefix: metrics_http_.
 */
#ifndef COMMON_METRICS_HTTP_H
#define COMMON_METRICS_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include "common/log.h"
#include "common/metrics.h"

typedef struct metrics_http metrics_http;

typedef bool (*metrics_ready_fn)(void *userdata);

/*
 * Starts serving reg on host:port (port 0: an ephemeral port, see
 * metrics_http_port). reg and log are borrowed and must outlive the server.
 * Returns NULL with a reason in err when the address cannot be bound.
 * Stop and free with metrics_http_stop.
 */
metrics_http *metrics_http_start(metrics_registry *reg, const char *host, int port, clog *log,
                                 char *err, size_t err_size);

/* The same with the address as the metrics_listen setting spells it,
 * "127.0.0.1:9101". An address that does not parse is an error in err. */
metrics_http *metrics_http_start_at(metrics_registry *reg, const char *listen, clog *log, char *err,
                                    size_t err_size);

/* "127.0.0.1:9100" -> host, port. Returns 0, or -1 if malformed. */
int metrics_http_parse_listen(const char *listen, char *host, size_t host_size, int *port);

/* The port actually listened on. */
int metrics_http_port(const metrics_http *srv);

void metrics_http_set_ready(metrics_http *srv, bool ready);
/* Installs the readiness callback (NULL removes it); may be called at any
 * time from any thread. */
void metrics_http_set_ready_fn(metrics_http *srv, metrics_ready_fn fn, void *userdata);

/* Stops the thread, closes the socket and frees srv. NULL is a no-op. */
void metrics_http_stop(metrics_http *srv);

#endif
