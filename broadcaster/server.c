/*
 * server: the lws callback of the broadcaster's endpoint - upgrades routed
 * by path (read connections here, y-websocket and Hocuspocus connections
 * to ysock.c), the read connections' records, writes (many queued messages
 * framed into one write), the wake-up through which the feeds, presence,
 * loader and producer threads hand results over, a one-second tick for
 * sampled metrics, and the goodbye at shutdown. Ordering of the read
 * connections lives in channel.c, live documents in live.c. See server.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broadcaster/server_internal.h"
#include "common/util.h"
#include "common/ws_auth.h"
#include "common/ws_http.h"

/* One write carries at most this many framed bytes, and this many
 * messages; a bigger message is written alone. */
#define SCRATCH_BYTES ((size_t)256 * 1024)
#define MAX_BATCH     1024
#define TICK_US       (1000 * LWS_US_PER_MS)

static void refuse(bcserver *srv, struct lws *wsi, unsigned int status, const char *code,
                   const char *message)
{
    bcmetrics_upgrade(srv->deps.metrics, status);
    (void)wshttp_send_error(wsi, status, code, message); /* best effort: refused either way */
}

/* "since=V" of the query: 0 and *has = false when absent, -1 when malformed. */
static int parse_since(struct lws *wsi, uint64_t *since, bool *has)
{
    /* Big enough for any argument: lws stops at the first one that does not
     * fit, and the access token may come first. */
    char buf[AUTHTOKEN_MAX_LEN + 64];
    *has = false;
    *since = 0;
    const char *v = lws_get_urlarg_by_name(wsi, "since=", buf, sizeof buf);
    if (!v)
        return 0;
    if (!*v || strlen(v) > 16)
        return -1;
    uint64_t x = 0;
    for (const char *p = v; *p; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        x = x * 10 + (uint64_t)(*p - '0');
    }
    if (x > (1ULL << 53) - 1)
        return -1;
    *since = x;
    *has = true;
    return 0;
}

static int confirm_upgrade(bcserver *srv, struct lws *wsi)
{
    char doc_id[WSFRAME_DOC_ID_MAX + 1];
    wsserver_refusal why;
    if (!wsserver_upgrade_doc(wsi, "/read", srv->draining, doc_id, sizeof doc_id, &why)) {
        refuse(srv, wsi, why.status, why.code, why.message);
        return 1;
    }
    uint64_t since;
    bool has_since;
    if (parse_since(wsi, &since, &has_since) != 0) {
        refuse(srv, wsi, 400, "bad_request", "since must be a version number");
        return 1;
    }
    wsauth_result auth;
    if (wsauth_authenticate(wsi, srv->deps.keys, util_wall_ns() / 1000000000LL, &auth) !=
        WSAUTH_OK) {
        refuse(srv, wsi, 401, wsauth_reason(&auth), "a valid access token is required");
        wsauth_result_clear(&auth);
        return 1;
    }
    ustore_role role = USTORE_ROLE_NONE;
    docaccess_status access =
        docaccess_role(srv->deps.access, doc_id, auth.claims.sub, util_now_ms(), &role);
    /* Every role may read. */
    if (access != DOCACCESS_OK || role < USTORE_ROLE_VIEWER) {
        if (access == DOCACCESS_NOT_FOUND)
            refuse(srv, wsi, 404, "not_found", "no such document");
        else if (access == DOCACCESS_OK)
            refuse(srv, wsi, 403, "forbidden", "you have no right on this document");
        else
            refuse(srv, wsi, 503, "unavailable", "the database is unavailable, retry later");
        wsauth_result_clear(&auth);
        return 1;
    }
    if (srv->open_subs >= srv->deps.settings->max_connections) {
        refuse(srv, wsi, 503, "too_many_connections", "this node is full; retry later");
        wsauth_result_clear(&auth);
        return 1;
    }
    bcsub *sub = calloc(1, sizeof *sub);
    if (!sub) {
        wsauth_result_clear(&auth);
        refuse(srv, wsi, 500, "internal", "out of memory");
        return 1;
    }
    sub->kind = BCCONN_READ;
    snprintf(sub->doc_id, sizeof sub->doc_id, "%s", doc_id);
    snprintf(sub->user_id, sizeof sub->user_id, "%s", auth.claims.sub);
    wsauth_result_clear(&auth);
    sub->since = since;
    sub->has_since = has_since;
    sub->srv = srv;
    /* Linked now, so a record whose upgrade never completes is still freed
     * with the server. */
    sub->all_next = srv->all;
    if (srv->all)
        srv->all->all_prev = sub;
    srv->all = sub;
    /* The opaque pointer survives lws re-binding the wsi from HTTP to
     * WebSocket, the per-session memory may not. */
    lws_set_opaque_user_data(wsi, sub);
    bcmetrics_upgrade(srv->deps.metrics, 101);
    return 0;
}

static int established(bcserver *srv, bcsession *ss, struct lws *wsi)
{
    bcsub *sub = lws_get_opaque_user_data(wsi);
    if (!sub)
        return -1;
    ss->sub = sub;
    sub->wsi = wsi;
    srv->open_subs++;
    metrics_gauge_inc(srv->deps.metrics->subscribers);
    if (srv->draining) {
        bcchan_fail(srv, sub, "shutting_down", "this node is draining; reconnect elsewhere",
                    BCDISC_SHUTTING_DOWN);
        return 0;
    }
    bcchan_attach(srv, sub);
    return 0;
}

void bcserver_sub_release(bcserver *srv, bcsub *sub)
{
    if (sub->wsi || sub->jobs > 0)
        return;
    if (sub->all_prev)
        sub->all_prev->all_next = sub->all_next;
    else
        srv->all = sub->all_next;
    if (sub->all_next)
        sub->all_next->all_prev = sub->all_prev;
    bcqueue_clear(&sub->q);
    free(sub);
}

static void closed(bcserver *srv, bcsub *sub)
{
    bcmetrics *m = srv->deps.metrics;
    metrics_counter_inc(m->disconnects[sub->closing ? sub->close_reason : BCDISC_CLIENT]);
    metrics_gauge_dec(m->subscribers);
    srv->open_subs--;
    bcchan_detach(srv, sub);
    sub->wsi = NULL;
    bcqueue_clear(&sub->q);
    bcserver_sub_release(srv, sub);
}

static void account(bcserver *srv, bcmsg *const *sent, size_t count, int64_t now_us)
{
    bcmetrics *m = srv->deps.metrics;
    uint64_t bytes = 0;
    for (size_t i = 0; i < count; i++) {
        bcmsg *msg = sent[i];
        metrics_counter_inc(m->messages_sent[msg->kind]);
        bytes += msg->len;
        if (msg->ingest_us > 0 && now_us >= msg->ingest_us)
            metrics_histogram_observe(m->e2e_latency, (double)(now_us - msg->ingest_us) / 1e6);
    }
    metrics_counter_add(m->bytes_sent, bytes);
}

int bcserver_write_queue(bcserver *srv, struct lws *wsi, bcqueue *q)
{
    bcmsg *sent[MAX_BATCH];
    size_t count = 0;
    uint8_t *out = srv->scratch + LWS_PRE;
    size_t n = bcqueue_frame(q, out, SCRATCH_BYTES, sent, MAX_BATCH, &count);
    int64_t now_us = util_wall_ns() / 1000;
    if (n > 0) {
        /* Already framed: lws 4.1 writes LWS_WRITE_HTTP bytes as they are
         * on a WebSocket connection (and buffers what the socket refuses). */
        int w = lws_write(wsi, out, n, LWS_WRITE_HTTP);
        account(srv, sent, count, now_us);
        for (size_t i = 0; i < count; i++)
            bcmsg_unref(sent[i]);
        return w < 0 ? -1 : 0;
    }
    bcmsg *big = bcqueue_peek(q);
    int w = lws_write(wsi, bcmsg_payload(big), big->len, LWS_WRITE_BINARY);
    account(srv, &big, 1, now_us);
    bcqueue_pop(q);
    return w < 0 ? -1 : 0;
}

static int writeable(bcserver *srv, bcsub *sub)
{
    struct lws *wsi = sub->wsi;
    if (!sub->q.count) {
        if (sub->closing) {
            lws_close_reason(wsi, LWS_CLOSE_STATUS_NORMAL, NULL, 0);
            return -1;
        }
        return 0;
    }
    if (bcserver_write_queue(srv, wsi, &sub->q) != 0)
        return -1;
    if (sub->q.count || sub->closing)
        lws_callback_on_writable(wsi);
    return 0;
}

static void take_everything(bcserver *srv)
{
    bcchan_take_loads(srv);
    bcy_take_done(srv);
    bclive_take_records(srv);
    bcchan_take_records(srv);
    bcchan_take_presence(srv);
}

/* The record an upgrade left as the socket's opaque user data. */
static bcconn_kind conn_kind(struct lws *wsi)
{
    const bcconn_kind *kind = lws_get_opaque_user_data(wsi);
    return kind ? *kind : 0;
}

static int route_upgrade(bcserver *srv, struct lws *wsi)
{
    yproto_dialect dialect;
    char doc_id[WSFRAME_DOC_ID_MAX + 1];
    if (bcy_route(srv, wsi, &dialect, doc_id, sizeof doc_id))
        return bcy_confirm_upgrade(srv, wsi, dialect, doc_id);
    return confirm_upgrade(srv, wsi);
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len)
{
    bcserver *srv = wsserver_user(wsi);
    bcsession *ss = user;
    if (!srv)
        return lws_callback_http_dummy(wsi, reason, user, in, len);
    switch (reason) {
    case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
        take_everything(srv);
        return 0;
    case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
        return route_upgrade(srv, wsi);
    case LWS_CALLBACK_HTTP:
        refuse(srv, wsi, 404, "not_found",
               "the broadcaster serves WebSocket upgrades on /v1/documents/{doc_id}/read, "
               "y-websocket and Hocuspocus (docs/protocol.md)");
        return lws_http_transaction_completed(wsi) ? -1 : 0;
    case LWS_CALLBACK_ESTABLISHED:
        if (conn_kind(wsi) == BCCONN_YSOCK)
            return bcy_established(srv, ss, wsi);
        return established(srv, ss, wsi);
    case LWS_CALLBACK_RECEIVE:
        if (ss && ss->ysock)
            return bcy_receive(srv, ss->ysock, in, len);
        /* Readers send nothing but pings and pongs, which lws answers. */
        if (ss && ss->sub)
            bcchan_fail(srv, ss->sub, "bad_frame", "the read connection takes no messages",
                        BCDISC_BAD_FRAME);
        return 0;
    case LWS_CALLBACK_SERVER_WRITEABLE:
        if (ss && ss->ysock)
            return bcy_writeable(srv, ss->ysock);
        return ss && ss->sub ? writeable(srv, ss->sub) : 0;
    case LWS_CALLBACK_CLOSED:
        if (ss && ss->sub) {
            lws_set_opaque_user_data(wsi, NULL); /* closed() may free the record */
            closed(srv, ss->sub);
            ss->sub = NULL;
        }
        if (ss && ss->ysock) {
            lws_set_opaque_user_data(wsi, NULL);
            bcy_closed(srv, ss->ysock);
            ss->ysock = NULL;
        }
        return 0;
    case LWS_CALLBACK_WSI_DESTROY:
        /* A y-protocols upgrade we allowed that lws then failed: the record
         * never became a connection. (Read records wait for bcserver_free.) */
        if (conn_kind(wsi) == BCCONN_YSOCK) {
            bcy_abandoned(srv, lws_get_opaque_user_data(wsi));
            lws_set_opaque_user_data(wsi, NULL);
        }
        return 0;
    default:
        break;
    }
    return lws_callback_http_dummy(wsi, reason, user, in, len);
}

static void sample(void *userdata, const char *key, void *value)
{
    (void)key;
    bcserver *srv = userdata;
    bcchan *ch = value;
    for (bcsub *s = ch->subs; s; s = s->ch_next)
        metrics_histogram_observe(srv->deps.metrics->queue_depth, (double)s->q.count);
}

static void tick(lws_sorted_usec_list_t *sul)
{
    bcserver *srv = lws_container_of(sul, bcserver, tick);
    cmap_each(srv->chans, sample, srv);
    docaccess_expire(srv->deps.access, util_now_ms());
    lws_sul_schedule(wsserver_context(srv->ws), 0, &srv->tick, tick, TICK_US);
}

bcserver *bcserver_new(const bcserver_deps *deps, char *err, size_t err_size)
{
    bcserver *srv = calloc(1, sizeof *srv);
    if (!srv || !(srv->chans = cmap_new()) || !(srv->scratch = malloc(LWS_PRE + SCRATCH_BYTES)) ||
        !(srv->scratch_op = malloc(sizeof *srv->scratch_op))) {
        if (srv) {
            cmap_free(srv->chans);
            free(srv->scratch);
        }
        free(srv);
        snprintf(err, err_size, "out of memory");
        return NULL;
    }
    srv->deps = *deps;
    wsserver_opts opts = {
        .host = deps->settings->listen_host,
        .port = deps->settings->listen_port,
        .callback = callback,
        .per_session_size = sizeof(bcsession),
        .user = srv,
        .log = deps->log,
    };
    srv->ws = wsserver_new(&opts, err, err_size);
    if (!srv->ws) {
        cmap_free(srv->chans);
        free(srv->scratch);
        free(srv->scratch_op);
        free(srv);
        return NULL;
    }
    return srv;
}

void bcserver_attach(bcserver *srv, const bcserver_parts *parts)
{
    srv->feed = parts->feed;
    srv->opsfeed = parts->opsfeed;
    srv->presence = parts->presence;
    srv->loader = parts->loader;
    srv->producer = parts->producer;
    srv->awareness = parts->awareness;
    srv->avro = parts->avro;
}

int bcserver_port(const bcserver *srv)
{
    return wsserver_port(srv->ws);
}

void bcserver_wake(void *arg)
{
    bcserver *srv = arg;
    wsserver_wake(srv->ws);
}

static bool has_subscribers(void *arg)
{
    const bcserver *srv = arg;
    return srv->open_subs > 0 || srv->open_ysocks > 0;
}

/* Writes still waiting for Kafka: their clients get their acks first. */
static bool has_unanswered_writes(void *arg)
{
    const bcserver *srv = arg;
    return srv->producer && op_producer_outstanding(srv->producer) > 0;
}

int bcserver_loop(svc *s, void *arg)
{
    bcserver *srv = arg;
    tick(&srv->tick);
    if (wsserver_serve_until_stopping(srv->ws, s) != 0) {
        lws_sul_cancel(&srv->tick);
        return 1;
    }
    /* Goodbye: new upgrades get 503, writes still out get their answers,
     * then every subscriber ERROR shutting_down and every y-protocols
     * client a 1012 close (it reconnects elsewhere and resyncs). */
    srv->draining = true;
    wsserver_serve_while(srv->ws, has_unanswered_writes, srv,
                         util_now_ms() + srv->deps.settings->ack_timeout_ms);
    take_everything(srv);
    for (bcsub *sub = srv->all; sub; sub = sub->all_next)
        bcchan_fail(srv, sub, "shutting_down", "this node is shutting down; reconnect elsewhere",
                    BCDISC_SHUTTING_DOWN);
    bcy_shutdown_all(srv);
    clog_field f[] = {clog_int("subscribers", srv->open_subs),
                      clog_int("y_connections", srv->open_ysocks)};
    clog_emit(srv->deps.log, CLOG_INFO, "closing the connections", f, 2);
    wsserver_serve_while(srv->ws, has_subscribers, srv,
                         util_now_ms() + srv->deps.settings->close_grace_ms);
    lws_sul_cancel(&srv->tick);
    return 0;
}

void bcserver_free(bcserver *srv)
{
    if (!srv)
        return;
    /* The feeds, presence, loader and producer are gone by now (server.h). */
    srv->feed = NULL;
    srv->opsfeed = NULL;
    srv->presence = NULL;
    srv->loader = NULL;
    srv->producer = NULL;
    srv->awareness = NULL;
    wsserver_free(srv->ws);
    /* lws closed what was still open (CLOSED callbacks ran); what is left
     * are records that never completed an upgrade or wait for jobs that
     * will never come back (the loader is gone). */
    bcsub *sub = srv->all;
    while (sub) {
        bcsub *next = sub->all_next;
        bcqueue_clear(&sub->q);
        free(sub);
        sub = next;
    }
    bcy_free_all(srv);
    bcchan_free_all(srv);
    cmap_free(srv->chans);
    free(srv->scratch);
    free(srv->scratch_op);
    free(srv);
}
