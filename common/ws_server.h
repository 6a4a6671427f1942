/*
 * ws_server: the libwebsockets server setup ingest and the broadcaster share:
 * one context, one vhost listening on host:port serving plain HTTP and
 * WebSocket upgrades with a single protocol callback, and the service-loop
 * helpers a svc_spawn thread needs (service one round, wake from another
 * thread). The protocol is named WSAUTH_SUBPROTOCOL ("collab.v1") and is
 * also the default, so a client without Sec-WebSocket-Protocol gets it too.
 *
 * The callback sees both HTTP callbacks (LWS_CALLBACK_HTTP, _BODY,
 * _CONFIRM_UPGRADE, ...) and WebSocket ones on the same per-session struct.
 * lws_get_vhost_user() / wsserver_user() give back opts.user.
 * Threading: everything but wsserver_wake runs on the service thread.
 * Prefix: wsserver_.
 */
#ifndef COMMON_WS_SERVER_H
#define COMMON_WS_SERVER_H

#include <libwebsockets.h>
#include <stddef.h>

#include "common/log.h"

typedef struct wsserver wsserver;

typedef struct wsserver_opts {
    const char *host; /* "127.0.0.1" */
    int port;         /* 0: ephemeral (wsserver_port tells) */
    lws_callback_function *callback;
    size_t per_session_size;      /* zeroed by lws for each connection */
    size_t rx_buffer_size;        /* 0: 64 KiB; bigger messages arrive in fragments */
    size_t max_http_header_bytes; /* 0: 16 KiB (a JWT in the query or a header) */
    unsigned int keepalive_secs;  /* WebSocket ping interval, 0: 30 s (idle peers time out) */
    void *user;                   /* handed back by wsserver_user */
    clog *log;                    /* borrowed */
} wsserver_opts;

/* Creates the context and starts listening. NULL with the reason in err.
 * Free with wsserver_free (after the service thread stopped). */
wsserver *wsserver_new(const wsserver_opts *opts, char *err, size_t err_size);
void wsserver_free(wsserver *srv);

/* The port actually listened on. */
int wsserver_port(const wsserver *srv);

/* One round of the event loop (waits for events); returns lws_service's
 * result: < 0 means the context is unusable. */
int wsserver_service(wsserver *srv);

/* Makes a waiting wsserver_service return and raises
 * LWS_CALLBACK_EVENT_WAIT_CANCELLED on the service thread. Any thread. */
void wsserver_wake(wsserver *srv);

/* The opts.user of the server that wsi belongs to, or NULL for lws'
 * housekeeping callbacks before the vhost exists. */
void *wsserver_user(struct lws *wsi);

struct lws_context *wsserver_context(wsserver *srv);

#endif
