/*
 * ws_server: one lws context and vhost for a service's HTTP + WebSocket
 * endpoint on a libev (epoll) loop this file owns, and the calls its
 * service thread makes. See ws_server.h.
 */
#include "common/ws_server.h"

#include <dlfcn.h>
#include <errno.h>
#include <ev.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "common/ws_auth.h"
#include "common/ws_http.h"

/* Where lws 4.1 looks for its libev glue (it scans this directory for
 * libwebsockets-evlib_ev.so, exporting evlib_ev, when
 * LWS_SERVER_OPTION_LIBEV is set). */
#define EVLIB_PLUGIN LWS_INSTALL_LIBDIR "/libwebsockets-evlib_ev.so"

/*
 * lws 4.1's libev glue re-arms its timer only when that timer is not
 * running, and looks at its timer list only in an idle watcher it starts
 * after socket events: a timer
 * lws (or we) schedule for earlier than the one already armed - a handshake
 * or close timeout, the broadcaster's gap retry - would wait in a quiet
 * loop for the armed one or the next socket event, possibly tens of
 * seconds. Every period this timer of ours has lws wake itself
 * (lws_cancel_service), after which lws runs whatever timer is due: no lws
 * timer is late by more than this, and a quiet loop's round never lasts
 * longer.
 */
#define HOUSEKEEPING_S 0.05

struct wsserver {
    struct ev_loop *loop; /* ours; lws only borrows it */
    ev_timer housekeeping;
    struct lws_context *context;
    struct lws_vhost *vhost;
    struct lws_protocols protocols[2];
    lws_retry_bo_t retry; /* holds the WebSocket ping / idle timeout policy */
    int port;
    clog *log;
};

static void housekeeping(struct ev_loop *loop, ev_timer *timer, int revents)
{
    (void)loop;
    (void)revents;
    wsserver *srv = timer->data;
    lws_cancel_service(srv->context);
}

static const char *backend_name(unsigned int backend)
{
    switch (backend) {
    case EVBACKEND_EPOLL:
        return "epoll";
    case EVBACKEND_POLL:
        return "poll";
    case EVBACKEND_SELECT:
        return "select";
    default:
        return "other";
    }
}

/* 0 when lws will be able to load its libev glue, else -1 with the reason
 * in err. Checked by loading it once here: lws_create_context would only
 * log that it found no plugin (and leaks on that path). */
static int check_plugin(char *err, size_t err_size)
{
    void *plugin = dlopen(EVLIB_PLUGIN, RTLD_NOW | RTLD_LOCAL);
    if (!plugin) {
        const char *why = dlerror();
        snprintf(err, err_size,
                 "cannot load libwebsockets' libev event-loop plugin (%s): "
                 "apt-get install libwebsockets-evlib-ev",
                 why ? why : EVLIB_PLUGIN);
        return -1;
    }
    bool has_ops = dlsym(plugin, "evlib_ev") != NULL;
    dlclose(plugin);
    if (!has_ops) {
        snprintf(err, err_size, "%s is not libwebsockets' libev plugin (no evlib_ev)",
                 EVLIB_PLUGIN);
        return -1;
    }
    return 0;
}

/* Our loop on epoll, or NULL with the reason in err. The caller destroys it
 * with ev_loop_destroy. */
static struct ev_loop *new_loop(char *err, size_t err_size)
{
    /* NOENV: LIBEV_FLAGS in the environment must not pick another backend.
     * NOSIGMASK: the services handle signals on a thread of their own with
     * the signals blocked everywhere else; libev must not unblock any. */
    errno = 0; /* libev sets it only when a system call failed */
    struct ev_loop *loop = ev_loop_new(EVBACKEND_EPOLL | EVFLAG_NOENV | EVFLAG_NOSIGMASK);
    if (!loop) {
        snprintf(err, err_size, "libev: cannot create an epoll event loop (%s)",
                 errno ? strerror(errno) : "epoll not supported here");
        return NULL;
    }
    if (ev_backend(loop) != EVBACKEND_EPOLL) {
        snprintf(err, err_size, "libev: asked for epoll, got %s", backend_name(ev_backend(loop)));
        ev_loop_destroy(loop);
        return NULL;
    }
    return loop;
}

wsserver *wsserver_new(const wsserver_opts *opts, char *err, size_t err_size)
{
    if (check_plugin(err, err_size) != 0)
        return NULL;
    wsserver *srv = calloc(1, sizeof *srv);
    if (!srv) {
        snprintf(err, err_size, "out of memory");
        return NULL;
    }
    srv->loop = new_loop(err, err_size);
    if (!srv->loop) {
        free(srv);
        return NULL;
    }
    srv->log = opts->log;
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
    info.options = LWS_SERVER_OPTION_EXPLICIT_VHOSTS | LWS_SERVER_OPTION_LIBEV;
    void *foreign_loops[1] = {srv->loop}; /* read by lws_create_context only */
    info.foreign_loops = foreign_loops;
    info.port = CONTEXT_PORT_NO_LISTEN;
    size_t hdr = opts->max_http_header_bytes ? opts->max_http_header_bytes : 16384;
    info.max_http_header_data = (unsigned short)(hdr > 65535 ? 65535 : hdr);
    info.max_http_header_pool = 256;
    info.fd_limit_per_thread = 0; /* lws' default: the process's fd limit */
    srv->context = lws_create_context(&info);
    if (!srv->context) {
        snprintf(err, err_size,
                 "libwebsockets: cannot create a context on the libev loop (plugin %s; "
                 "lws logged why above)",
                 EVLIB_PLUGIN);
        ev_loop_destroy(srv->loop);
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
        ev_loop_destroy(srv->loop);
        free(srv);
        return NULL;
    }
    srv->port = lws_get_vhost_listen_port(srv->vhost);
    ev_timer_init(&srv->housekeeping, housekeeping, HOUSEKEEPING_S, HOUSEKEEPING_S);
    srv->housekeeping.data = srv;
    ev_timer_start(srv->loop, &srv->housekeeping);
    clog_field f[] = {clog_str("host", opts->host), clog_int("port", srv->port),
                      clog_str("event_loop", wsserver_backend(srv))};
    clog_emit(srv->log, CLOG_INFO, "websocket/http endpoint listening", f, 3);
    return srv;
}

void wsserver_free(wsserver *srv)
{
    if (!srv)
        return;
    /* lws with a foreign loop: the context goes first (with libev it closes
     * every connection and stops its watchers synchronously, nothing is
     * left for the loop to finish), then our timer, then the loop. */
    lws_context_destroy(srv->context);
    ev_timer_stop(srv->loop, &srv->housekeeping);
    ev_loop_destroy(srv->loop);
    free(srv);
}

int wsserver_port(const wsserver *srv)
{
    return srv->port;
}

const char *wsserver_backend(const wsserver *srv)
{
    return backend_name(ev_backend(srv->loop));
}

int wsserver_service(wsserver *srv)
{
    /* Never 0 while the housekeeping timer runs: 0 means nothing is left
     * that could ever end a wait. No minimum round length: lws 4.1's libev
     * glue does its deferred work (timers, buffered input) in an idle
     * watcher, which libev runs only in a round where no socket is ready,
     * so batching rounds would starve it (docs/decisions.md). */
    if (!ev_run(srv->loop, EVRUN_ONCE))
        return -1;
    return 0;
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
