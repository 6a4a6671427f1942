/*
 * ws_server: one lws context and vhost for a service's HTTP + WebSocket
 * endpoint, and the calls its service thread makes. See ws_server.h.
 */
#include "common/ws_server.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/util.h"
#include "common/ws_auth.h"
#include "common/ws_http.h"

struct wsserver {
    struct lws_context *context;
    struct lws_vhost *vhost;
    struct lws_protocols protocols[2];
    lws_retry_bo_t retry; /* holds the WebSocket ping / idle timeout policy */
    int port;
    int64_t min_round_ns;
    clog *log;
};

wsserver *wsserver_new(const wsserver_opts *opts, char *err, size_t err_size)
{
    wsserver *srv = calloc(1, sizeof *srv);
    if (!srv) {
        snprintf(err, err_size, "out of memory");
        return NULL;
    }
    srv->log = opts->log;
    srv->min_round_ns = opts->min_round_us > 0 ? opts->min_round_us * 1000 : 0;
    srv->protocols[0].name = WSAUTH_SUBPROTOCOL;
    srv->protocols[0].callback = opts->callback;
    srv->protocols[0].per_session_data_size = opts->per_session_size;
    srv->protocols[0].rx_buffer_size = opts->rx_buffer_size ? opts->rx_buffer_size : 65536;
    unsigned int keepalive = opts->keepalive_secs ? opts->keepalive_secs : 30;
    srv->retry.secs_since_valid_ping = (uint16_t)keepalive;
    srv->retry.secs_since_valid_hangup = (uint16_t)(keepalive * 2 + 10);

    lws_set_log_level(LLL_ERR | LLL_WARN, NULL);
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.options = LWS_SERVER_OPTION_EXPLICIT_VHOSTS;
    info.port = CONTEXT_PORT_NO_LISTEN;
    size_t hdr = opts->max_http_header_bytes ? opts->max_http_header_bytes : 16384;
    info.max_http_header_data = (unsigned short)(hdr > 65535 ? 65535 : hdr);
    info.max_http_header_pool = 256;
    info.fd_limit_per_thread = 0; /* lws' default: the process's fd limit */
    srv->context = lws_create_context(&info);
    if (!srv->context) {
        snprintf(err, err_size, "libwebsockets: cannot create a context");
        free(srv);
        return NULL;
    }
    memset(&info, 0, sizeof info);
    info.vhost_name = "collab";
    info.port = opts->port;
    info.iface = opts->host;
    info.protocols = srv->protocols;
    info.user = opts->user;
    info.retry_and_idle_policy = &srv->retry;
    info.options = LWS_SERVER_OPTION_DISABLE_IPV6 | LWS_SERVER_OPTION_VALIDATE_UTF8;
    srv->vhost = lws_create_vhost(srv->context, &info);
    if (!srv->vhost) {
        snprintf(err, err_size, "cannot listen on %s:%d (address in use?)", opts->host, opts->port);
        lws_context_destroy(srv->context);
        free(srv);
        return NULL;
    }
    srv->port = lws_get_vhost_listen_port(srv->vhost);
    clog_field f[] = {clog_str("host", opts->host), clog_int("port", srv->port)};
    clog_emit(srv->log, CLOG_INFO, "websocket/http endpoint listening", f, 2);
    return srv;
}

void wsserver_free(wsserver *srv)
{
    if (!srv)
        return;
    lws_context_destroy(srv->context);
    free(srv);
}

int wsserver_port(const wsserver *srv)
{
    return srv->port;
}

/* Sleeps until util_now_ns() reaches until_ns. */
static void sleep_until(int64_t until_ns)
{
    for (;;) {
        int64_t left = until_ns - util_now_ns();
        if (left <= 0)
            return;
        struct timespec ts = {.tv_sec = (time_t)(left / 1000000000),
                              .tv_nsec = (long)(left % 1000000000)};
        (void)nanosleep(&ts, NULL); /* EINTR: the loop computes what is left */
    }
}

int wsserver_service(wsserver *srv)
{
    int64_t start = srv->min_round_ns ? util_now_ns() : 0;
    int n = lws_service(srv->context, 0);
    if (n >= 0 && srv->min_round_ns)
        sleep_until(start + srv->min_round_ns);
    return n;
}

int wsserver_serve_until_stopping(wsserver *srv, svc *s)
{
    while (!svc_stopping(s)) {
        if (wsserver_service(srv) < 0) {
            clog_errorf(srv->log, "the websocket event loop failed");
            return -1;
        }
    }
    return 0;
}

void wsserver_serve_while(wsserver *srv, bool (*busy)(void *arg), void *arg, int64_t deadline_ms)
{
    while (busy(arg) && util_now_ms() < deadline_ms) {
        if (wsserver_service(srv) < 0)
            return;
    }
}

static void refusal(wsserver_refusal *why, unsigned int status, const char *code,
                    const char *message)
{
    why->status = status;
    why->code = code;
    snprintf(why->message, sizeof why->message, "%s", message);
}

bool wsserver_upgrade_doc(struct lws *wsi, const char *suffix, bool draining, char *doc_id,
                          size_t doc_id_size, wsserver_refusal *why)
{
    char path[512];
    if (lws_hdr_copy(wsi, path, sizeof path, WSI_TOKEN_GET_URI) <= 0) {
        refusal(why, 404, "not_found", "no such endpoint");
        return false;
    }
    if (!wshttp_match_doc_path(path, suffix, doc_id, doc_id_size)) {
        refusal(why, 404, "not_found", "");
        snprintf(why->message, sizeof why->message, "connect to /v1/documents/{doc_id}%s", suffix);
        return false;
    }
    /* After the path: a wrong URL is a 404 even while draining. */
    if (draining) {
        refusal(why, 503, "shutting_down", "this node is draining; reconnect elsewhere");
        return false;
    }
    return true;
}

void wsserver_wake(wsserver *srv)
{
    lws_cancel_service(srv->context);
}

void *wsserver_user(struct lws *wsi)
{
    struct lws_vhost *vh = lws_get_vhost(wsi);
    return vh ? lws_get_vhost_user(vh) : NULL;
}

struct lws_context *wsserver_context(wsserver *srv)
{
    return srv->context;
}
