/*
 * ws_server: the libwebsockets server setup ingest and the broadcaster share:
 * one context, one vhost listening on host:port serving plain HTTP and
 * WebSocket upgrades with a single protocol callback, the service-loop
 * helpers a svc_spawn thread needs (serve until the service stops, serve a
 * shutdown phase while work is left, wake from another thread), and the
 * first checks of an upgrade to /v1/documents/{doc_id}/<endpoint>. The
 * protocol is named WSAUTH_SUBPROTOCOL ("collab.v1") and is also the
 * default, so a client without Sec-WebSocket-Protocol gets it too.
 *
 * The callback sees both HTTP callbacks (LWS_CALLBACK_HTTP, _BODY,
 * _CONFIRM_UPGRADE, ...) and WebSocket ones on the same per-session struct.
 * lws_get_vhost_user() / wsserver_user() give back opts.user.
 *
 * The event loop is libev on epoll, owned here and lent to lws as a foreign
 * loop (lws loads its libev glue, the Debian package libwebsockets-evlib-ev,
 * at run time): a round costs in proportion to the sockets that are ready,
 * not to all of them as lws' default poll() loop did (docs/decisions.md).
 * LWS_CALLBACK_EVENT_WAIT_CANCELLED is raised by wsserver_wake and also by
 * the loop's own housekeeping a few times a second, so handlers of it must
 * treat it as "look at your queues", not as "there is work".
 * Threading: the server may be created on one thread and served on another;
 * everything but wsserver_wake runs on the serving thread.
 * Prefix: wsserver_.
 */
#ifndef COMMON_WS_SERVER_H
#define COMMON_WS_SERVER_H

#include <libwebsockets.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/log.h"
#include "common/service.h"

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

/* Creates the event loop and the context and starts listening. NULL with
 * the reason in err (the libev plugin missing, no epoll, the port taken).
 * The caller frees the result with wsserver_free (after the service thread
 * stopped). */
wsserver *wsserver_new(const wsserver_opts *opts, char *err, size_t err_size);
void wsserver_free(wsserver *srv);

/* The port actually listened on. */
int wsserver_port(const wsserver *srv);

/* The kernel interface the loop waits with: "epoll" (anything else means
 * libev could not use epoll, which wsserver_new refuses). Static string. */
const char *wsserver_backend(const wsserver *srv);

/* One round of the event loop: waits for events (at most a housekeeping
 * period, tens of milliseconds, when nothing happens) and handles them.
 * 0, or < 0 when the loop has nothing left to wait for (the server is
 * unusable). */
int wsserver_service(wsserver *srv);

/* The svc loop's serving phase: services rounds until svc_stopping(s).
 * 0, or -1 when the event loop failed (logged). */
int wsserver_serve_until_stopping(wsserver *srv, svc *s);

/* A shutdown phase: services rounds while busy(arg) says there is work
 * left (answers to send, sockets to close) and util_now_ms() is before
 * deadline_ms; stops early when the event loop fails. A quiet loop still
 * comes back to check within a housekeeping period. */
void wsserver_serve_while(wsserver *srv, bool (*busy)(void *arg), void *arg, int64_t deadline_ms);

/* Why an upgrade is refused: the HTTP status, the error code and message
 * of the JSON body (wshttp_send_error). */
typedef struct wsserver_refusal {
    unsigned int status;
    const char *code;
    char message[96];
} wsserver_refusal;

/*
 * The first checks of every upgrade (LWS_CALLBACK_HTTP_CONFIRM_UPGRADE): the
 * path is /v1/documents/{doc_id}<suffix> ("/write", "/read") and the server
 * is not draining. true with the document id in doc_id (doc_id_size bytes:
 * WSFRAME_DOC_ID_MAX + 1); false with what to answer in why.
 */
bool wsserver_upgrade_doc(struct lws *wsi, const char *suffix, bool draining, char *doc_id,
                          size_t doc_id_size, wsserver_refusal *why);

/* Makes a waiting wsserver_service return and raises
 * LWS_CALLBACK_EVENT_WAIT_CANCELLED on the service thread. Any thread. */
void wsserver_wake(wsserver *srv);

/* The opts.user of the server that wsi belongs to, or NULL for lws'
 * housekeeping callbacks before the vhost exists. */
void *wsserver_user(struct lws *wsi);

struct lws_context *wsserver_context(wsserver *srv);

#endif
