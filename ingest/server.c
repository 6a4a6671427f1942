/*
 * server: the lws callback that routes HTTP and WebSocket events to http.c
 * and conn.c, the service loop with its drain at shutdown, and the wake-up
 * through which delivery reports and finished API jobs reach this thread.
 * See server.h.
 */
#include "ingest/server.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "ingest/server_internal.h"

/* After the pending ops are answered: time for ERROR shutting_down to reach
 * the clients and the sockets to close. */
#define CLOSE_GRACE_MS 2000

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len)
{
    ingest_server *srv = wsserver_user(wsi);
    ingest_session *ss = user;
    if (!srv)
        return lws_callback_http_dummy(wsi, reason, user, in, len);
    switch (reason) {
    case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
        /* Woken by a delivery report or a finished API job. */
        if (srv->producer) {
            ingest_conn_answer_done(srv);
            metrics_gauge_set(srv->deps.metrics->producer_queue,
                              (double)op_producer_outstanding(srv->producer));
        }
        if (srv->jobs)
            ingest_http_answer_done(srv);
        /* Woken at least every 50 ms (ws_server's housekeeping). */
        if (util_now_ms() - srv->access_expired_ms >= 1000) {
            srv->access_expired_ms = util_now_ms();
            docaccess_expire(srv->access, srv->access_expired_ms);
        }
        return 0;
    case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
        return ingest_conn_confirm_upgrade(srv, wsi);
    case LWS_CALLBACK_HTTP:
        return ingest_http_request(srv, ss, wsi, in ? (const char *)in : "/");
    case LWS_CALLBACK_HTTP_BODY:
        return ingest_http_body(srv, ss, in, len);
    case LWS_CALLBACK_HTTP_BODY_COMPLETION:
        return ingest_http_body_done(srv, ss);
    case LWS_CALLBACK_HTTP_WRITEABLE:
        return ingest_http_writeable(srv, ss);
    case LWS_CALLBACK_CLOSED_HTTP:
        if (ss)
            ingest_http_closed(srv, ss);
        return 0;
    case LWS_CALLBACK_ESTABLISHED:
        return ingest_conn_established(srv, ss, wsi);
    case LWS_CALLBACK_RECEIVE:
        return ss->conn ? ingest_conn_receive(srv, ss->conn, in, len) : -1;
    case LWS_CALLBACK_SERVER_WRITEABLE:
        return ss->conn ? ingest_conn_writeable(srv, ss->conn) : 0;
    case LWS_CALLBACK_CLOSED:
        if (ss && ss->conn) {
            lws_set_opaque_user_data(wsi, NULL);
            ingest_conn_closed(srv, ss->conn);
            ss->conn = NULL;
        }
        return 0;
    case LWS_CALLBACK_WSI_DESTROY:
        /* An upgrade we allowed that lws then failed (a bad handshake): the
         * record never became a connection. */
        ingest_conn_abandoned(srv, lws_get_opaque_user_data(wsi));
        lws_set_opaque_user_data(wsi, NULL);
        return 0;
    default:
        break;
    }
    return lws_callback_http_dummy(wsi, reason, user, in, len);
}

ingest_server *ingest_server_new(const ingest_server_deps *deps, char *err, size_t err_size)
{
    ingest_server *srv = calloc(1, sizeof *srv);
    if (!srv || !(srv->scratch_msg = malloc(sizeof *srv->scratch_msg))) {
        free(srv);
        snprintf(err, err_size, "out of memory");
        return NULL;
    }
    srv->deps = *deps;
    srv->access = docaccess_new(deps->store, deps->settings->permission_ttl_ms);
    if (!srv->access) {
        free(srv->scratch_msg);
        free(srv);
        snprintf(err, err_size, "out of memory");
        return NULL;
    }
    wsserver_opts opts = {
        .host = deps->settings->listen_host,
        .port = deps->settings->listen_port,
        .callback = callback,
        .per_session_size = sizeof(ingest_session),
        .user = srv,
        .log = deps->log,
    };
    srv->ws = wsserver_new(&opts, err, err_size);
    if (!srv->ws) {
        docaccess_free(srv->access);
        free(srv->scratch_msg);
        free(srv);
        return NULL;
    }
    return srv;
}

void ingest_server_attach(ingest_server *srv, op_producer *producer, ingest_jobs *jobs)
{
    srv->producer = producer;
    srv->jobs = jobs;
}

int ingest_server_port(const ingest_server *srv)
{
    return wsserver_port(srv->ws);
}

void ingest_server_wake(void *arg)
{
    ingest_server *srv = arg;
    wsserver_wake(srv->ws);
}

static bool has_pending_work(void *arg)
{
    ingest_server *srv = arg;
    return srv->inflight > 0 || ingest_jobs_pending(srv->jobs) > 0;
}

static bool has_open_connections(void *arg)
{
    const ingest_server *srv = arg;
    return srv->open_conns > 0;
}

int ingest_server_loop(svc *s, void *arg)
{
    ingest_server *srv = arg;
    if (wsserver_serve_until_stopping(srv->ws, s) != 0)
        return 1;

    /* Drain: refuse new work, answer what is pending, then say goodbye. */
    srv->draining = true;
    wsserver_serve_while(srv->ws, has_pending_work, srv,
                         util_now_ms() + srv->deps.settings->drain_timeout_ms);
    clog_field f[] = {clog_int("unanswered_ops", (int64_t)srv->inflight),
                      clog_int("connections", srv->open_conns)};
    clog_emit(srv->deps.log, srv->inflight ? CLOG_WARN : CLOG_INFO, "drained pending operations", f,
              2);
    ingest_conn_shutdown_all(srv);
    wsserver_serve_while(srv->ws, has_open_connections, srv, util_now_ms() + CLOSE_GRACE_MS);
    return 0;
}

void ingest_server_close(ingest_server *srv)
{
    if (!srv || !srv->ws)
        return;
    wsserver_free(srv->ws);
    srv->ws = NULL;
}

void ingest_server_free(ingest_server *srv)
{
    if (!srv)
        return;
    ingest_server_close(srv);
    ingest_conn_free_all(srv);
    docaccess_free(srv->access);
    free(srv->scratch_msg);
    free(srv);
}
