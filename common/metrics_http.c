/*
 * metrics_http: /metrics, /healthz and /readyz on a libwebsockets HTTP vhost
 * serviced by one dedicated thread. The body of each response is built in
 * full when the request arrives and written in chunks as the socket becomes
 * writeable, so a slow scraper never blocks the rendering. See
 * metrics_http.h.
 */
#include "common/metrics_http.h"

#include <libwebsockets.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/sbuf.h"

#define CHUNK_SIZE 4096

struct metrics_http {
    metrics_registry *reg;
    clog *log;
    struct lws_context *context;
    struct lws_vhost *vhost;
    pthread_t thread;
    atomic_bool stopping;
    atomic_bool ready;
    pthread_mutex_t ready_lock; /* guards ready_fn and ready_userdata */
    metrics_ready_fn ready_fn;
    void *ready_userdata;
    int port;
};

/* Per-connection state, zeroed by lws. */
typedef struct http_session {
    char *body; /* owned: freed when sent or when the connection closes */
    size_t len;
    size_t sent;
} http_session;

static bool is_ready(metrics_http *srv)
{
    if (!atomic_load(&srv->ready))
        return false;
    pthread_mutex_lock(&srv->ready_lock);
    metrics_ready_fn fn = srv->ready_fn;
    void *ud = srv->ready_userdata;
    pthread_mutex_unlock(&srv->ready_lock);
    return fn ? fn(ud) : true;
}

static void session_reset(http_session *s)
{
    free(s->body);
    s->body = NULL;
    s->len = 0;
    s->sent = 0;
}

/* Builds the response for path; returns the HTTP status. */
static int build_response(metrics_http *srv, const char *path, sbuf *body,
                          const char **content_type)
{
    *content_type = "text/plain; charset=utf-8";
    if (strcmp(path, "/metrics") == 0) {
        *content_type = "text/plain; version=0.0.4; charset=utf-8";
        if (metrics_registry_render(srv->reg, body) != 0) {
            sbuf_free(body);
            sbuf_puts(body, "metrics rendering failed\n");
            clog_errorf(srv->log, "metrics: rendering /metrics failed");
            return HTTP_STATUS_INTERNAL_SERVER_ERROR;
        }
        return HTTP_STATUS_OK;
    }
    if (strcmp(path, "/healthz") == 0) {
        sbuf_puts(body, "ok\n");
        return HTTP_STATUS_OK;
    }
    if (strcmp(path, "/readyz") == 0) {
        if (is_ready(srv)) {
            sbuf_puts(body, "ready\n");
            return HTTP_STATUS_OK;
        }
        sbuf_puts(body, "not ready\n");
        return HTTP_STATUS_SERVICE_UNAVAILABLE;
    }
    sbuf_puts(body, "not found: try /metrics, /healthz or /readyz\n");
    return HTTP_STATUS_NOT_FOUND;
}

static int on_request(struct lws *wsi, metrics_http *srv, http_session *s, const char *path)
{
    session_reset(s);
    sbuf body;
    sbuf_init(&body);
    const char *content_type;
    int status = build_response(srv, path, &body, &content_type);
    if (sbuf_failed(&body)) {
        sbuf_free(&body);
        return -1;
    }
    s->body = sbuf_take(&body, &s->len);

    unsigned char headers[LWS_PRE + 512];
    unsigned char *start = headers + LWS_PRE, *p = start, *end = headers + sizeof headers - 1;
    if (lws_add_http_common_headers(wsi, (unsigned int)status, content_type, s->len, &p, end) ||
        lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CACHE_CONTROL,
                                     (const unsigned char *)"no-store", 8, &p, end) ||
        lws_finalize_write_http_header(wsi, start, &p, end))
        return -1;
    lws_callback_on_writable(wsi);
    return 0;
}

static int on_writeable(struct lws *wsi, http_session *s)
{
    if (!s->body)
        return 0;
    /* lws may use the LWS_PRE bytes in front of what it writes. */
    unsigned char chunk[LWS_PRE + CHUNK_SIZE];
    size_t n = s->len - s->sent;
    if (n > CHUNK_SIZE)
        n = CHUNK_SIZE;
    memcpy(chunk + LWS_PRE, s->body + s->sent, n);
    bool last = s->sent + n == s->len;
    if (lws_write(wsi, chunk + LWS_PRE, n, last ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP) != (int)n)
        return -1;
    s->sent += n;
    if (!last) {
        lws_callback_on_writable(wsi);
        return 0;
    }
    session_reset(s);
    /* Keep-alive: ready for the next request, or close if the peer asked. */
    return lws_http_transaction_completed(wsi) ? -1 : 0;
}

static int http_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                         size_t len)
{
    http_session *s = user;
    struct lws_vhost *vh = lws_get_vhost(wsi);
    metrics_http *srv = vh ? lws_get_vhost_user(vh) : NULL;
    if (!srv) /* lws' own housekeeping, before our vhost exists */
        return lws_callback_http_dummy(wsi, reason, user, in, len);
    switch (reason) {
    case LWS_CALLBACK_HTTP:
        return on_request(wsi, srv, s, in ? (const char *)in : "/");
    case LWS_CALLBACK_HTTP_WRITEABLE:
        return on_writeable(wsi, s);
    case LWS_CALLBACK_CLOSED_HTTP:
    case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
        if (s)
            session_reset(s);
        break;
    default:
        break;
    }
    return lws_callback_http_dummy(wsi, reason, user, in, len);
}

static const struct lws_protocols protocols[] = {
    {"http", http_callback, sizeof(http_session), 0, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

static void *service_thread(void *arg)
{
    metrics_http *srv = arg;
    while (!atomic_load(&srv->stopping)) {
        if (lws_service(srv->context, 0) < 0)
            break;
    }
    return NULL;
}

int metrics_http_parse_listen(const char *listen, char *host, size_t host_size, int *port)
{
    const char *colon = listen ? strrchr(listen, ':') : NULL;
    if (!colon || colon == listen || (size_t)(colon - listen) >= host_size)
        return -1;
    char *end = NULL;
    long p = strtol(colon + 1, &end, 10);
    if (end == colon + 1 || *end != '\0' || p < 0 || p > 65535)
        return -1;
    memcpy(host, listen, (size_t)(colon - listen));
    host[colon - listen] = '\0';
    *port = (int)p;
    return 0;
}

metrics_http *metrics_http_start(metrics_registry *reg, const char *host, int port, clog *log,
                                 char *err, size_t err_size)
{
    metrics_http *srv = calloc(1, sizeof *srv);
    if (!srv) {
        snprintf(err, err_size, "out of memory");
        return NULL;
    }
    srv->reg = reg;
    srv->log = log;
    atomic_init(&srv->stopping, false);
    atomic_init(&srv->ready, false);
    if (pthread_mutex_init(&srv->ready_lock, NULL) != 0) {
        free(srv);
        snprintf(err, err_size, "cannot create a mutex");
        return NULL;
    }
    lws_set_log_level(LLL_ERR | LLL_WARN, NULL);

    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.options = LWS_SERVER_OPTION_EXPLICIT_VHOSTS;
    info.port = CONTEXT_PORT_NO_LISTEN;
    srv->context = lws_create_context(&info);
    if (!srv->context) {
        snprintf(err, err_size, "libwebsockets: cannot create a context");
        goto fail;
    }
    memset(&info, 0, sizeof info);
    info.vhost_name = "metrics";
    info.port = port;
    info.iface = host;
    info.protocols = protocols;
    info.user = srv;
    info.options = LWS_SERVER_OPTION_DISABLE_IPV6;
    srv->vhost = lws_create_vhost(srv->context, &info);
    if (!srv->vhost) {
        snprintf(err, err_size, "cannot listen on %s:%d (address in use or not local?)", host,
                 port);
        goto fail;
    }
    srv->port = lws_get_vhost_listen_port(srv->vhost);
    if (pthread_create(&srv->thread, NULL, service_thread, srv) != 0) {
        snprintf(err, err_size, "cannot start the metrics HTTP thread");
        goto fail;
    }
    clog_field f[] = {clog_str("host", host), clog_int("port", srv->port)};
    clog_emit(log, CLOG_INFO, "metrics endpoint listening", f, 2);
    return srv;

fail:
    if (srv->context)
        lws_context_destroy(srv->context);
    pthread_mutex_destroy(&srv->ready_lock);
    free(srv);
    return NULL;
}

metrics_http *metrics_http_start_at(metrics_registry *reg, const char *listen, clog *log, char *err,
                                    size_t err_size)
{
    char host[256];
    int port;
    if (metrics_http_parse_listen(listen, host, sizeof host, &port) != 0) {
        snprintf(err, err_size, "invalid metrics address \"%s\": expected host:port",
                 listen ? listen : "");
        return NULL;
    }
    return metrics_http_start(reg, host, port, log, err, err_size);
}

int metrics_http_port(const metrics_http *srv)
{
    return srv->port;
}

void metrics_http_set_ready(metrics_http *srv, bool ready)
{
    atomic_store(&srv->ready, ready);
}

void metrics_http_set_ready_fn(metrics_http *srv, metrics_ready_fn fn, void *userdata)
{
    pthread_mutex_lock(&srv->ready_lock);
    srv->ready_fn = fn;
    srv->ready_userdata = userdata;
    pthread_mutex_unlock(&srv->ready_lock);
}

void metrics_http_stop(metrics_http *srv)
{
    if (!srv)
        return;
    atomic_store(&srv->stopping, true);
    lws_cancel_service(srv->context);
    pthread_join(srv->thread, NULL);
    lws_context_destroy(srv->context);
    pthread_mutex_destroy(&srv->ready_lock);
    free(srv);
}
