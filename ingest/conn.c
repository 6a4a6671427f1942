/*
 * conn: ingest's write connections (docs/protocol.md, "Write connection"):
 * the checks before the upgrade (token, document, right), HELLO, reading
 * messages (fragments, size limit), answering each operation with exactly
 * one ACK or NACK, awareness to Redis, ERROR and close for what cannot be
 * answered. Runs on the lws service thread; see server_internal.h.
 */
#include <assert.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/client_op.h"
#include "common/util.h"
#include "common/ws_auth.h"
#include "common/ws_http.h"
#include "ingest/server_internal.h"

/* Head of an oversized message kept to read its type and op id. */
#define OVERSIZED_HEAD 256
/* A client that stops reading its answers is cut off at this backlog. */
#define MAX_QUEUED_BYTES ((size_t)16 * 1024 * 1024)

static void refuse(ingest_server *srv, struct lws *wsi, unsigned int status, const char *code,
                   const char *message)
{
    ingest_metrics_http(srv->deps.metrics, "write", status);
    /* The answer is best effort: the upgrade is refused either way. */
    (void)wshttp_send_error(wsi, status, code, message);
}

int ingest_conn_confirm_upgrade(ingest_server *srv, struct lws *wsi)
{
    char doc_id[WSFRAME_DOC_ID_MAX + 1];
    wsserver_refusal why;
    if (!wsserver_upgrade_doc(wsi, "/write", srv->draining, doc_id, sizeof doc_id, &why)) {
        refuse(srv, wsi, why.status, why.code, why.message);
        return 1;
    }
    wsauth_result auth;
    int64_t now = util_wall_ns() / 1000000000LL;
    if (wsauth_authenticate(wsi, srv->deps.keys, now, &auth) != WSAUTH_OK) {
        ingest_metrics_auth_failure(srv->deps.metrics, wsauth_reason(&auth));
        refuse(srv, wsi, 401, wsauth_reason(&auth), "a valid access token is required");
        wsauth_result_clear(&auth);
        return 1;
    }
    /* A blocking lookup on the event loop on a cache miss: one or two
     * indexed reads by _id (doc_access.h). A viewer may connect (for
     * awareness); its writes get an error frame. */
    ustore_role role = USTORE_ROLE_NONE;
    docaccess_status st =
        docaccess_role(srv->access, doc_id, auth.claims.sub, util_now_ms(), &role);
    if (st == DOCACCESS_NOT_FOUND) {
        refuse(srv, wsi, 404, "not_found", "no such document");
    } else if (st != DOCACCESS_OK) {
        refuse(srv, wsi, 503, "unavailable", "the database is unavailable, retry later");
    } else if (role == USTORE_ROLE_NONE) {
        ingest_metrics_auth_failure(srv->deps.metrics, "no_permission");
        refuse(srv, wsi, 403, "forbidden", "you have no right on this document");
    }
    if (st != DOCACCESS_OK || role == USTORE_ROLE_NONE) {
        wsauth_result_clear(&auth);
        return 1;
    }

    ingest_conn *c = calloc(1, sizeof *c);
    if (!c) {
        wsauth_result_clear(&auth);
        refuse(srv, wsi, 500, "internal", "out of memory");
        return 1;
    }
    snprintf(c->doc_id, sizeof c->doc_id, "%s", doc_id);
    snprintf(c->user_id, sizeof c->user_id, "%s", auth.claims.sub);
    wsauth_result_clear(&auth);
    c->role = role;
    unsigned char raw[16];
    randombytes_buf(raw, sizeof raw);
    sodium_bin2hex(c->conn_id, sizeof c->conn_id, raw, sizeof raw);
    int64_t t = util_now_ns();
    const ingest_settings *set = srv->deps.settings;
    ingest_bucket_init(&c->ops_bucket, set->max_ops_per_second, set->max_ops_per_second, t);
    ingest_bucket_init(&c->awareness_bucket, set->max_awareness_per_second,
                       set->max_awareness_per_second, t);
    /* Linked now, so a connection that never completes the upgrade is still
     * freed with the server. */
    c->next = srv->conns;
    if (srv->conns)
        srv->conns->prev = c;
    srv->conns = c;
    /* The opaque pointer survives lws re-binding the wsi from HTTP to
     * WebSocket, the per-session memory may not. */
    lws_set_opaque_user_data(wsi, c);
    return 0;
}

static void queue(ingest_server *srv, ingest_conn *c, crdt_buf *b)
{
    uint8_t *bytes = NULL;
    size_t len = 0;
    if (c->out.count == 0)
        c->out_since_ns = util_now_ns();
    if (crdt_buf_take(b, &bytes, &len) != CRDT_OK || wsoutq_push(&c->out, bytes, len) != 0) {
        clog_errorf(srv->deps.log, "out of memory queueing a reply; closing the connection");
        c->closing = true;
    }
    free(bytes);
    if (!c->wsi)
        return;
    if (c->out.bytes > MAX_QUEUED_BYTES) {
        clog_field f[] = {clog_str("doc_id", c->doc_id), clog_str("connection", c->conn_id)};
        clog_emit(srv->deps.log, CLOG_WARN, "client does not read its answers; closing", f, 2);
        c->closing = true;
        lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
        return;
    }
    lws_callback_on_writable(c->wsi);
}

void ingest_conn_send_error(ingest_server *srv, ingest_conn *c, const char *code,
                            const char *message)
{
    if (c->closing)
        return;
    crdt_buf b;
    crdt_buf_init(&b);
    wsframe_put_error(&b, code, message);
    queue(srv, c, &b);
    c->closing = true;
    ingest_metrics_error(srv->deps.metrics, code);
}

static void send_nack(ingest_server *srv, ingest_conn *c, const char *op_id, size_t op_id_len,
                      ingest_nack nack, const char *message, uint64_t retry_after_ms)
{
    crdt_buf b;
    crdt_buf_init(&b);
    wsframe_put_nack(&b, op_id, op_id_len, ingest_nack_code(nack), message, retry_after_ms);
    queue(srv, c, &b);
    metrics_counter_inc(srv->deps.metrics->nacks[nack]);
}

int ingest_conn_established(ingest_server *srv, ingest_session *ss, struct lws *wsi)
{
    ingest_conn *c = lws_get_opaque_user_data(wsi);
    if (!c)
        return -1;
    ss->conn = c;
    c->wsi = wsi;
    c->established = true;
    srv->open_conns++;
    metrics_gauge_inc(srv->deps.metrics->connections);
    if (srv->open_conns > srv->deps.settings->max_connections) {
        ingest_conn_send_error(srv, c, "too_many_connections",
                               "this node has its maximum of connections; retry later");
        return 0;
    }
    metrics_counter_inc(srv->deps.metrics->connections_opened);
    crdt_buf b;
    crdt_buf_init(&b);
    wsframe_put_hello(&b, c->conn_id, srv->deps.settings->max_message_bytes,
                      srv->deps.settings->max_ops_per_second);
    queue(srv, c, &b);
    return 0;
}

static void handle_awareness(ingest_server *srv, ingest_conn *c, const wsframe_msg *msg)
{
    if (awareness_valid(msg->payload, msg->payload_len) != 0) {
        ingest_conn_send_error(srv, c, "bad_frame", "malformed awareness update");
        return;
    }
    if (!ingest_bucket_take(&c->awareness_bucket, util_now_ns())) {
        metrics_counter_inc(srv->deps.metrics->awareness_dropped);
        return;
    }
    awareness_track(&c->presence, msg->payload, msg->payload_len);
    (void)awareness_publish(srv->deps.awareness, c->doc_id, msg->payload, msg->payload_len);
}

static void handle_op(ingest_server *srv, ingest_conn *c, const wsframe_msg *msg,
                      wsframe_status parsed, int64_t received_ns)
{
    const ingest_settings *set = srv->deps.settings;
    uint64_t retry = (uint64_t)set->retry_after_ms;
    if (c->role < USTORE_ROLE_EDITOR) {
        send_nack(srv, c, msg->op_id, msg->op_id_len, INGEST_NACK_FORBIDDEN,
                  "viewers may not write this document", 0);
        return;
    }
    if (parsed == WSFRAME_ERR_BAD_CLOCK) {
        send_nack(srv, c, msg->op_id, msg->op_id_len, INGEST_NACK_INVALID_ITEM,
                  wsframe_status_text(parsed), 0);
        return;
    }
    if (!ingest_bucket_take(&c->ops_bucket, received_ns)) {
        send_nack(srv, c, msg->op_id, msg->op_id_len, INGEST_NACK_RATE_LIMITED,
                  "too many operations per second on this connection", retry);
        return;
    }
    if (srv->draining) {
        send_nack(srv, c, msg->op_id, msg->op_id_len, INGEST_NACK_UNAVAILABLE,
                  "this node is shutting down", retry);
        return;
    }
    client_op_context ctx = {srv->deps.registry, c->doc_id, c->user_id, srv->deps.node};
    uint8_t *value = NULL;
    size_t value_len = 0;
    char why[256];
    client_op_result r =
        client_op_encode(&ctx, msg, util_wall_ns() / 1000, &value, &value_len, why, sizeof why);
    if (r == CLIENT_OP_INVALID_UPDATE || r == CLIENT_OP_INVALID_ITEM) {
        send_nack(srv, c, msg->op_id, msg->op_id_len,
                  r == CLIENT_OP_INVALID_UPDATE ? INGEST_NACK_INVALID_UPDATE
                                                : INGEST_NACK_INVALID_ITEM,
                  why, 0);
        return;
    }
    if (r != CLIENT_OP_OK) {
        clog_field f[] = {clog_str("doc_id", c->doc_id), clog_str("error", why)};
        clog_emit(srv->deps.log, CLOG_ERROR, "cannot encode an operation", f, 2);
        ingest_conn_send_error(srv, c, "internal", "the server could not encode the operation");
        return;
    }
    op_producer_op *op = calloc(1, sizeof *op);
    rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR__FAIL;
    if (op) {
        op->owner = c;
        op->received_ns = received_ns;
        op->op_id_len = msg->op_id_len;
        memcpy(op->op_id, msg->op_id, msg->op_id_len);
        op->produced_ns = util_now_ns();
        err = op_producer_send(srv->producer, c->doc_id, strlen(c->doc_id), value, value_len, op);
    }
    free(value);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        free(op);
        char m[160];
        snprintf(m, sizeof m, "Kafka producer cannot take the operation: %s",
                 rd_kafka_err2str(err));
        send_nack(srv, c, msg->op_id, msg->op_id_len, INGEST_NACK_UNAVAILABLE, m, retry);
        return;
    }
    c->inflight++;
    srv->inflight++;
}

/* One whole message has arrived in c->rx. */
static void handle_message(ingest_server *srv, ingest_conn *c, int64_t received_ns)
{
    ingest_metrics *m = srv->deps.metrics;
    if (!c->rx_binary) {
        metrics_counter_inc(m->messages[INGEST_MSG_MALFORMED]);
        ingest_conn_send_error(srv, c, "bad_frame", "text messages are not accepted");
        return;
    }
    if (c->rx_oversized) {
        wsframe_type type;
        const char *op_id;
        size_t op_id_len;
        if (wsframe_peek_op(c->rx, c->rx_len, &type, &op_id, &op_id_len) == 0 && op_id_len > 0) {
            char message[96];
            snprintf(message, sizeof message, "the message exceeds max_message_bytes (%zu)",
                     srv->deps.settings->max_message_bytes);
            send_nack(srv, c, op_id, op_id_len, INGEST_NACK_TOO_LARGE, message, 0);
            return;
        }
        metrics_counter_inc(m->messages[INGEST_MSG_MALFORMED]);
        ingest_conn_send_error(srv, c, "bad_frame", "oversized message without an op id");
        return;
    }
    wsframe_msg *parsed = srv->scratch_msg;
    wsframe_status st = wsframe_parse(c->rx, c->rx_len, parsed);
    if (st != WSFRAME_OK && st != WSFRAME_ERR_BAD_CLOCK) {
        metrics_counter_inc(m->messages[INGEST_MSG_MALFORMED]);
        ingest_conn_send_error(srv, c, "bad_frame", wsframe_status_text(st));
        return;
    }
    switch (parsed->type) {
    case WSFRAME_AWARENESS:
        metrics_counter_inc(m->messages[INGEST_MSG_AWARENESS]);
        handle_awareness(srv, c, parsed);
        break;
    case WSFRAME_UPDATE:
        metrics_counter_inc(m->messages[INGEST_MSG_UPDATE]);
        handle_op(srv, c, parsed, st, received_ns);
        break;
    case WSFRAME_ITEM_WRITE:
        metrics_counter_inc(m->messages[INGEST_MSG_ITEM_WRITE]);
        handle_op(srv, c, parsed, st, received_ns);
        break;
    case WSFRAME_ITEM_RESOLVE:
        metrics_counter_inc(m->messages[INGEST_MSG_ITEM_RESOLVE]);
        handle_op(srv, c, parsed, st, received_ns);
        break;
    default:
        ingest_conn_send_error(srv, c, "bad_frame", "unknown message type");
        break;
    }
}

static int rx_append(ingest_conn *c, const uint8_t *data, size_t len)
{
    if (c->rx_len + len > c->rx_cap) {
        size_t cap = c->rx_cap ? c->rx_cap : 4096;
        while (cap < c->rx_len + len)
            cap *= 2;
        uint8_t *p = realloc(c->rx, cap);
        if (!p)
            return -1;
        c->rx = p;
        c->rx_cap = cap;
    }
    memcpy(c->rx + c->rx_len, data, len);
    c->rx_len += len;
    return 0;
}

int ingest_conn_receive(ingest_server *srv, ingest_conn *c, const void *in, size_t len)
{
    struct lws *wsi = c->wsi;
    metrics_counter_add(srv->deps.metrics->bytes_in, len);
    if (c->closing)
        return 0;
    if (lws_is_first_fragment(wsi)) {
        c->rx_len = 0;
        c->rx_oversized = false;
        c->rx_binary = lws_frame_is_binary(wsi) != 0;
    }
    size_t max = srv->deps.settings->max_message_bytes;
    if (!c->rx_oversized && c->rx_len + len > max) {
        c->rx_oversized = true;
        size_t keep = c->rx_len < OVERSIZED_HEAD ? OVERSIZED_HEAD - c->rx_len : 0;
        if (keep > len)
            keep = len;
        if (rx_append(c, in, keep) != 0)
            return -1;
    } else if (!c->rx_oversized && rx_append(c, in, len) != 0) {
        return -1;
    }
    if (!lws_is_final_fragment(wsi))
        return 0;
    handle_message(srv, c, util_now_ns());
    c->rx_len = 0;
    /* Do not keep a megabyte per idle connection after one big message. */
    if (c->rx_cap > 65536) {
        free(c->rx);
        c->rx = NULL;
        c->rx_cap = 0;
    }
    return 0;
}

int ingest_conn_writeable(ingest_server *srv, ingest_conn *c)
{
    if (wsoutq_write(&c->out, c->wsi) != 0)
        return -1;
    if (c->out.count == 0 && c->out_since_ns != 0) {
        metrics_histogram_observe_since_ns(srv->deps.metrics->stages[INGEST_STAGE_WRITE],
                                           c->out_since_ns);
        c->out_since_ns = 0;
    }
    if (c->closing && c->out.count == 0) {
        lws_close_reason(c->wsi, LWS_CLOSE_STATUS_POLICY_VIOLATION, NULL, 0);
        return -1;
    }
    return 0;
}

static void conn_free(ingest_server *srv, ingest_conn *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        srv->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    wsoutq_clear(&c->out);
    free(c->rx);
    free(c);
}

void ingest_conn_closed(ingest_server *srv, ingest_conn *c)
{
    if (c->established) {
        srv->open_conns--;
        metrics_gauge_dec(srv->deps.metrics->connections);
    }
    /* The others should see this user leave now, not after a 30 s timeout. */
    crdt_buf b;
    crdt_buf_init(&b);
    if (awareness_removal(&c->presence, &b) > 0 && !b.oom)
        (void)awareness_publish(srv->deps.awareness, c->doc_id, b.data, b.len);
    crdt_buf_free(&b);
    c->wsi = NULL;
    wsoutq_clear(&c->out);
    if (c->inflight == 0)
        conn_free(srv, c);
}

void ingest_conn_abandoned(ingest_server *srv, ingest_conn *c)
{
    if (c && !c->established)
        conn_free(srv, c);
}

void ingest_conn_answer_done(ingest_server *srv)
{
    op_producer_op *op = op_producer_take_done(srv->producer);
    uint64_t retry = (uint64_t)srv->deps.settings->retry_after_ms;
    while (op) {
        op_producer_op *next = op->next;
        ingest_conn *c = op->owner;
        ingest_metrics *metrics = srv->deps.metrics;
        metrics_histogram_observe_since_ns(metrics->produce_latency, op->received_ns);
        metrics_histogram_observe(metrics->stages[INGEST_STAGE_VALIDATE],
                                  (double)(op->produced_ns - op->received_ns) / 1e9);
        metrics_histogram_observe(metrics->stages[INGEST_STAGE_KAFKA],
                                  (double)(op->delivered_ns - op->produced_ns) / 1e9);
        metrics_histogram_observe_since_ns(metrics->stages[INGEST_STAGE_HANDOFF], op->delivered_ns);
        c->inflight--;
        srv->inflight--;
        if (c->wsi) {
            if (op->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
                crdt_buf b;
                crdt_buf_init(&b);
                wsframe_put_ack(&b, op->op_id, op->op_id_len, (uint64_t)op->partition,
                                (uint64_t)op->offset);
                queue(srv, c, &b);
                metrics_counter_inc(srv->deps.metrics->acks);
            } else {
                char m[160];
                snprintf(m, sizeof m, "Kafka did not confirm the operation: %s",
                         rd_kafka_err2str(op->err));
                send_nack(srv, c, op->op_id, op->op_id_len, INGEST_NACK_UNAVAILABLE, m, retry);
            }
        } else if (c->inflight == 0) {
            conn_free(srv, c);
        }
        free(op);
        op = next;
    }
}

void ingest_conn_shutdown_all(ingest_server *srv)
{
    for (ingest_conn *c = srv->conns; c; c = c->next) {
        if (c->wsi && c->established)
            ingest_conn_send_error(srv, c, "shutting_down",
                                   "this node is draining; reconnect elsewhere");
    }
}

void ingest_conn_free_all(ingest_server *srv)
{
    while (srv->conns) {
        ingest_conn *head = srv->conns;
        /* The head has no predecessor: conn_free moves srv->conns on. */
        assert(head->prev == NULL);
        conn_free(srv, head);
    }
}
