/*
 * ysock: the y-protocols connections - stock y-websocket (WebsocketProvider,
 * one document per socket, token in the URL) and Hocuspocus
 * (HocuspocusProvider, documents multiplexed by name, a token per
 * document) - served as their own servers serve them (docs/protocol.md,
 * "Stock Yjs providers"):
 *   - sync step 1 / step 2 against the channel's live document (live.c),
 *     which holds only what Kafka acknowledged;
 *   - a client's update (or step 2) is validated and produced to collab.ops
 *     like any edge's write (common/client_op, common/op_producer); only
 *     Kafka's delivery report acknowledges it: Hocuspocus gets its sync
 *     status, y-websocket the echo of its update, and the other sessions the
 *     update itself, straight from this edge;
 *   - awareness to Redis (common/awareness) and back from it (presence.c)
 *     to every session of the document, the sender included (clients
 *     count their own echo as a sign of life);
 *   - items and their conflicts as Hocuspocus stateless messages;
 *   - viewers are read-only (Hocuspocus "readonly" scope and sync status
 *     false; y-websocket a permission-denied notice), refusals close with
 *     the providers' close codes (4401, 4403, 4404, 4400: do not reconnect;
 *     1011, 1012, 1013: reconnect, resync by state vector, resend).
 * Service thread only; see server_internal.h.
 */
#include <jansson.h>
#include <sodium.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broadcaster/server_internal.h"
#include "common/client_op.h"
#include "common/util.h"
#include "common/ws_auth.h"
#include "common/ws_http.h"

/* Close codes (RFC 6455 private range as y-websocket and Hocuspocus use it). */
enum {
    CLOSE_TOO_BIG = 1009,
    CLOSE_UNSAVED = 1011,
    CLOSE_RESTART = 1012,
    CLOSE_TRY_LATER = 1013,
    CLOSE_BAD_MESSAGE = 4400,
    CLOSE_UNAUTHORIZED = 4401,
    CLOSE_FORBIDDEN = 4403,
    CLOSE_NOT_FOUND = 4404,
};

/* A client that stops reading is cut off when its queue is this much over
 * the read connections' limits: a y-protocols client resyncs by state
 * vector when it reconnects, so closing loses nothing. */
#define CLOSE_TIMEOUT_S 5

/* One write in flight. op first: the producer hands back &op. */
typedef struct bcyop {
    op_producer_op op; /* owner: the session */
    char doc_id[WSFRAME_DOC_ID_MAX + 1];
    bool is_item;    /* a Hocuspocus item write/resolve: answered by a stateless ack */
    bool from_step2; /* counts for the Hocuspocus sync status like an update */
    size_t update_len;
    uint8_t update[]; /* the Yjs update (is_item: nothing) */
} bcyop;

static void session_close(bcserver *srv, bcysess *sess);

/* ---- messages ---- */

static bcmsg *take_msg(crdt_buf *b, bcmsg_kind kind)
{
    uint8_t *bytes = NULL;
    size_t n = 0;
    if (crdt_buf_take(b, &bytes, &n) != CRDT_OK)
        return NULL;
    return bcmsg_from_buf(kind, 0, 0, bytes, n);
}

/* The Hocuspocus document name of sess, or NULL for y-websocket. */
static const char *name_of(const bcysess *sess)
{
    return sess->sock->dialect == YPROTO_HOCUSPOCUS ? sess->doc_id : NULL;
}

static void send_buf(bcserver *srv, bcysock *s, crdt_buf *b, bcmsg_kind kind)
{
    bcmsg *m = take_msg(b, kind);
    if (m)
        bcy_send(srv, s, m);
    bcmsg_unref(m);
}

static void send_stateless_json(bcserver *srv, bcysess *sess, json_t *j)
{
    char *text = json_dumps(j, JSON_COMPACT);
    if (!text)
        return;
    crdt_buf b;
    crdt_buf_init(&b);
    yproto_put_stateless(&b, name_of(sess), text, strlen(text));
    free(text);
    send_buf(srv, sess->sock, &b, BCMSG_YPROTO);
}

/* ---- closing ---- */

static bcmetrics_yclose close_reason_of(uint16_t code)
{
    switch (code) {
    case CLOSE_UNAUTHORIZED:
        return BCYCLOSE_UNAUTHORIZED;
    case CLOSE_FORBIDDEN:
        return BCYCLOSE_FORBIDDEN;
    case CLOSE_NOT_FOUND:
        return BCYCLOSE_NOT_FOUND;
    case CLOSE_TOO_BIG:
        return BCYCLOSE_TOO_BIG;
    case CLOSE_UNSAVED:
        return BCYCLOSE_UNSAVED;
    case CLOSE_RESTART:
        return BCYCLOSE_SHUTDOWN;
    case CLOSE_TRY_LATER:
        return BCYCLOSE_UNAVAILABLE;
    default:
        return BCYCLOSE_BAD_MESSAGE;
    }
}

/* Closes s with code once what is queued is written (drop_queue: at once). */
static void close_socket(bcserver *srv, bcysock *s, uint16_t code, const char *reason,
                         bool drop_queue, bcmetrics_yclose why)
{
    if (!s->wsi || s->closing)
        return;
    metrics_counter_inc(srv->deps.metrics->yclosed[why]);
    s->closing = true;
    s->close_code = code;
    snprintf(s->close_reason, sizeof s->close_reason, "%s", reason);
    if (drop_queue)
        bcqueue_clear(&s->q);
    lws_set_timeout(s->wsi, PENDING_TIMEOUT_CLOSE_SEND, CLOSE_TIMEOUT_S);
    lws_callback_on_writable(s->wsi);
}

void bcy_send(bcserver *srv, bcysock *s, bcmsg *m)
{
    if (!s->wsi || s->closing)
        return;
    const bcsettings *set = srv->deps.settings;
    bcqueue *q = &s->q;
    if (m->kind == BCMSG_AWARENESS &&
        (q->count >= set->queue_max_messages / 2 || q->bytes >= set->queue_max_bytes / 2)) {
        metrics_counter_inc(srv->deps.metrics->awareness_dropped);
        return;
    }
    /* A whole-document step 2 may exceed the byte limit on its own. */
    if (q->count >= set->queue_max_messages ||
        (q->count > 0 && q->bytes + m->len > set->queue_max_bytes)) {
        close_socket(srv, s, CLOSE_TRY_LATER, "slow consumer: reconnect", true, BCYCLOSE_SLOW);
        return;
    }
    bool was_empty = q->count == 0;
    if (bcqueue_push(q, m) != 0) {
        close_socket(srv, s, CLOSE_TRY_LATER, "out of memory", true, BCYCLOSE_UNAVAILABLE);
        return;
    }
    /* A queue with messages always has a writable callback coming (bcy_writeable
     * asks again while any remain), and asking lws again per message of a
     * fan-out costs a poll change each time. */
    if (was_empty)
        lws_callback_on_writable(s->wsi);
}

/* ---- sessions ---- */

static void greet(bcserver *srv, bcysess *sess);

static bcysess *session_find(bcysock *s, const char *name, size_t name_len)
{
    for (bcysess *sess = s->sessions; sess; sess = sess->sock_next)
        if (sess->state == BCYSESS_OPEN && strlen(sess->doc_id) == name_len &&
            memcmp(sess->doc_id, name, name_len) == 0)
            return sess;
    return NULL;
}

static size_t open_sessions(const bcysock *s)
{
    size_t n = 0;
    for (const bcysess *sess = s->sessions; sess; sess = sess->sock_next)
        n += sess->state == BCYSESS_OPEN;
    return n;
}

static bcysess *session_open(bcserver *srv, bcysock *s, const char *doc_id, const char *user_id,
                             ustore_role role)
{
    bcysess *sess = calloc(1, sizeof *sess);
    bcchan *ch = sess ? bcchan_open(srv, doc_id) : NULL;
    if (!ch) {
        free(sess);
        return NULL;
    }
    sess->sock = s;
    sess->state = BCYSESS_OPEN;
    snprintf(sess->doc_id, sizeof sess->doc_id, "%s", doc_id);
    snprintf(sess->user_id, sizeof sess->user_id, "%s", user_id);
    sess->role = role;
    sess->sock_next = s->sessions;
    s->sessions = sess;
    s->nsessions++;
    sess->ch = ch;
    sess->ch_next = ch->ysess;
    if (ch->ysess)
        ch->ysess->ch_prev = sess;
    ch->ysess = sess;
    ch->nysess++;
    metrics_gauge_inc(srv->deps.metrics->ysessions);
    if (ch->live_state == BCLIVE_READY)
        greet(srv, sess);
    else
        bclive_want(srv, ch);
    return sess;
}

/* Frees a socket record already unlinked from the server's list. */
static void socket_destroy(bcysock *s)
{
    bcqueue_clear(&s->q);
    free(s->rx);
    free(s);
}

static void socket_free(bcserver *srv, bcysock *s)
{
    if (s->all_prev)
        s->all_prev->all_next = s->all_next;
    else
        srv->ysocks = s->all_next;
    if (s->all_next)
        s->all_next->all_prev = s->all_prev;
    socket_destroy(s);
}

/* Frees a socket record whose socket is gone, after its last session. */
static void socket_maybe_free(bcserver *srv, bcysock *s)
{
    if (!s->wsi && s->nsessions == 0)
        socket_free(srv, s);
}

/* Frees sess when nothing refers to it any more (its socket stays: the
 * caller then calls socket_maybe_free). */
static void session_release(bcserver *srv, bcysess *sess)
{
    (void)srv;
    if (sess->state != BCYSESS_CLOSED || sess->inflight > 0)
        return;
    bcysock *s = sess->sock;
    bcysess **link = &s->sessions;
    while (*link && *link != sess)
        link = &(*link)->sock_next;
    if (*link)
        *link = sess->sock_next;
    s->nsessions--;
    free(sess->pending_sv);
    free(sess);
}

/* The session leaves its document: presence removed, channel detached.
 * The record stays while its ops wait for their reports. */
static void session_close(bcserver *srv, bcysess *sess)
{
    if (sess->state == BCYSESS_CLOSED)
        return;
    sess->state = BCYSESS_CLOSED;
    crdt_buf b;
    crdt_buf_init(&b);
    if (awareness_removal(&sess->presence, &b) > 0 && !b.oom && srv->awareness)
        (void)awareness_publish(srv->awareness, sess->doc_id, b.data, b.len);
    crdt_buf_free(&b);
    bcchan *ch = sess->ch;
    if (ch) {
        if (sess->ch_prev)
            sess->ch_prev->ch_next = sess->ch_next;
        else
            ch->ysess = sess->ch_next;
        if (sess->ch_next)
            sess->ch_next->ch_prev = sess->ch_prev;
        sess->ch_prev = sess->ch_next = NULL;
        sess->ch = NULL;
        ch->nysess--;
        bcchan_maybe_free(srv, ch);
    }
    metrics_gauge_dec(srv->deps.metrics->ysessions);
    session_release(srv, sess);
}

/* ---- sync ---- */

static void send_step1(bcserver *srv, bcysess *sess)
{
    uint8_t *sv = NULL;
    size_t len = 0;
    if (crdt_encode_state_vector(sess->ch->live, &sv, &len) != CRDT_OK)
        return;
    crdt_buf b;
    crdt_buf_init(&b);
    yproto_put_sync_step1(&b, name_of(sess), sv, len);
    free(sv);
    send_buf(srv, sess->sock, &b, BCMSG_YPROTO);
}

/* Answers a client's step 1: our step 2 (what it lacks), and for Hocuspocus
 * our own step 1 after it (unless it was a sync reply), as its server does. */
static void answer_step1(bcserver *srv, bcysess *sess, const uint8_t *sv, size_t len, bool reply)
{
    bcmsg *m = bclive_step2(srv, sess->ch, sess->sock->dialect, sv, len);
    if (!m) {
        close_socket(srv, sess->sock, CLOSE_BAD_MESSAGE, "bad state vector", false,
                     BCYCLOSE_BAD_MESSAGE);
        return;
    }
    bcy_send(srv, sess->sock, m);
    bcmsg_unref(m);
    if (sess->sock->dialect == YPROTO_HOCUSPOCUS && !reply)
        send_step1(srv, sess);
}

static void send_presence(bcserver *srv, bcysess *sess)
{
    bcmsg *present =
        bcroster_message(sess->ch->roster, util_now_ms(), srv->deps.settings->presence_timeout_ms);
    if (!present)
        return;
    if (sess->sock->dialect == YPROTO_YWEBSOCKET) {
        /* The read connections' AWARENESS is y-websocket's message. */
        bcy_send(srv, sess->sock, present);
    } else {
        crdt_rd rd;
        crdt_rd_init(&rd, bcmsg_payload(present), present->len);
        (void)crdt_rd_varuint(&rd);
        size_t ulen = 0;
        const uint8_t *update = crdt_rd_varbytes(&rd, &ulen);
        if (crdt_rd_ok(&rd)) {
            crdt_buf b;
            crdt_buf_init(&b);
            yproto_put_awareness(&b, sess->doc_id, update, ulen);
            send_buf(srv, sess->sock, &b, BCMSG_AWARENESS);
        }
    }
    bcmsg_unref(present);
}

/* The stateless envelope of an item (docs/protocol.md, "Items over
 * Hocuspocus"): version is the merged record's (0 for the items a
 * session finds when it joins). Borrows item. */
static json_t *item_envelope(json_t *item, uint64_t version, const char *op_id, size_t op_len)
{
    return json_pack("{s:s, s:I, s:s%, s:O}", "type", "collab.item", "doc_version",
                     (json_int_t)version, "op_id", op_id ? op_id : "", op_id ? op_len : 0, "item",
                     item);
}

static void send_items(bcserver *srv, bcysess *sess)
{
    bcchan *ch = sess->ch;
    for (size_t i = 0; i < ch->item_count; i++) {
        json_t *item = json_loads(ch->items[i].json, 0, NULL);
        json_t *env = item ? item_envelope(item, 0, NULL, 0) : NULL;
        if (env)
            send_stateless_json(srv, sess, env);
        json_decref(env);
        json_decref(item);
    }
}

void bcy_send_item(bcserver *srv, bcchan *ch, json_t *item, uint64_t version, const char *op_id,
                   size_t op_len)
{
    bcmsg *m = NULL;
    for (bcysess *sess = ch->ysess; sess; sess = sess->ch_next) {
        if (sess->sock->dialect != YPROTO_HOCUSPOCUS || !sess->greeted)
            continue;
        if (!m) {
            json_t *env = item_envelope(item, version, op_id, op_len);
            char *text = env ? json_dumps(env, JSON_COMPACT) : NULL;
            json_decref(env);
            if (!text)
                return;
            crdt_buf b;
            crdt_buf_init(&b);
            yproto_put_stateless(&b, ch->doc_id, text, strlen(text));
            free(text);
            if (!(m = take_msg(&b, BCMSG_ITEM)))
                return;
        }
        bcy_send(srv, sess->sock, m);
    }
    bcmsg_unref(m);
}

/* The live document is ready for sess: what its server sends a newcomer. */
static void greet(bcserver *srv, bcysess *sess)
{
    sess->greeted = true;
    if (sess->sock->dialect == YPROTO_YWEBSOCKET)
        send_step1(srv, sess);
    if (sess->pending_step1) {
        answer_step1(srv, sess, sess->pending_sv, sess->pending_sv_len, sess->pending_step1_reply);
        free(sess->pending_sv);
        sess->pending_sv = NULL;
        sess->pending_step1 = false;
    }
    send_presence(srv, sess);
    if (sess->sock->dialect == YPROTO_HOCUSPOCUS)
        send_items(srv, sess);
}

void bcy_live_ready(bcserver *srv, bcchan *ch)
{
    bcysess *sess = ch->ysess;
    while (sess) {
        bcysess *next = sess->ch_next;
        if (!sess->greeted)
            greet(srv, sess);
        sess = next;
    }
}

void bcy_live_failed(bcserver *srv, bcchan *ch)
{
    bcysess *sess = ch->ysess;
    while (sess) {
        bcysess *next = sess->ch_next;
        close_socket(srv, sess->sock, CLOSE_TRY_LATER, "the document cannot be loaded; retry",
                     false, BCYCLOSE_UNAVAILABLE);
        sess = next;
    }
}

static void on_step1(bcserver *srv, bcysess *sess, const yproto_msg *msg)
{
    if (sess->ch->live_state == BCLIVE_READY && sess->greeted) {
        answer_step1(srv, sess, msg->payload, msg->payload_len, msg->reply);
        return;
    }
    /* Answered once the document is loaded; a newer step 1 replaces it. */
    uint8_t *copy = malloc(msg->payload_len ? msg->payload_len : 1);
    if (!copy) {
        close_socket(srv, sess->sock, CLOSE_TRY_LATER, "out of memory", true, BCYCLOSE_UNAVAILABLE);
        return;
    }
    memcpy(copy, msg->payload, msg->payload_len);
    free(sess->pending_sv);
    sess->pending_sv = copy;
    sess->pending_sv_len = msg->payload_len;
    sess->pending_step1 = true;
    sess->pending_step1_reply = msg->reply;
}

static void send_sync_status(bcserver *srv, bcysess *sess, bool saved)
{
    crdt_buf b;
    crdt_buf_init(&b);
    yproto_put_sync_status(&b, sess->doc_id, saved);
    send_buf(srv, sess->sock, &b, BCMSG_YPROTO);
}

/* An update this session may not write: told in the dialect's words. */
static void refuse_write(bcserver *srv, bcysess *sess, const char *why)
{
    if (sess->sock->dialect == YPROTO_HOCUSPOCUS) {
        send_sync_status(srv, sess, false);
        return;
    }
    if (sess->told_read_only)
        return;
    sess->told_read_only = true;
    crdt_buf b;
    crdt_buf_init(&b);
    yproto_put_auth_denied(&b, NULL, why);
    send_buf(srv, sess->sock, &b, BCMSG_YPROTO);
}

static void next_op_id(bcysess *sess, char *out, size_t size)
{
    snprintf(out, size, "y%s-%llu", sess->sock->id, (unsigned long long)++sess->op_seq);
}

/* Produces op (value: its Avro ClientOp) for sess. 0, or -1 (op freed). */
static int produce(bcserver *srv, bcysess *sess, bcyop *op, const uint8_t *value, size_t len)
{
    op->op.owner = sess;
    op->op.produced_ns = util_now_ns();
    rd_kafka_resp_err_t err =
        op_producer_send(srv->producer, sess->doc_id, strlen(sess->doc_id), value, len, &op->op);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        free(op);
        return -1;
    }
    sess->inflight++;
    metrics_counter_inc(srv->deps.metrics->ywrites);
    return 0;
}

static void on_update(bcserver *srv, bcysess *sess, const yproto_msg *msg, int64_t received_ns)
{
    bcchan *ch = sess->ch;
    bool hocuspocus = sess->sock->dialect == YPROTO_HOCUSPOCUS;
    if (ch->live_state == BCLIVE_READY) {
        int contained = 0;
        if (crdt_contains_update(ch->live, msg->payload, msg->payload_len, &contained) == CRDT_OK &&
            contained) {
            /* Durable already (a step 2 after a reconnect, a resend). */
            metrics_counter_inc(srv->deps.metrics->ywrites_known);
            if (hocuspocus)
                send_sync_status(srv, sess, true);
            return;
        }
    }
    if (sess->role < USTORE_ROLE_EDITOR) {
        refuse_write(srv, sess, "read-only: viewers may not change this document");
        return;
    }
    if (!srv->producer) {
        refuse_write(srv, sess, "read-only: this node takes no writes");
        return;
    }
    if (srv->draining) {
        close_socket(srv, sess->sock, CLOSE_RESTART, "this node is shutting down", false,
                     BCYCLOSE_SHUTDOWN);
        return;
    }
    wsframe_msg *m = srv->scratch_op;
    memset(m, 0, offsetof(wsframe_msg, clock));
    char op_id[WSFRAME_OP_ID_MAX + 1];
    next_op_id(sess, op_id, sizeof op_id);
    m->type = WSFRAME_UPDATE;
    m->op_id = op_id;
    m->op_id_len = strlen(op_id);
    m->client_id = yproto_update_client(msg->payload, msg->payload_len);
    m->client_time_ms = (uint64_t)(util_wall_ns() / 1000000);
    m->payload = msg->payload;
    m->payload_len = msg->payload_len;
    client_op_context ctx = {srv->avro, sess->doc_id, sess->user_id, srv->deps.node};
    uint8_t *value = NULL;
    size_t value_len = 0;
    char why[256];
    client_op_result r =
        client_op_encode(&ctx, m, util_wall_ns() / 1000, &value, &value_len, why, sizeof why);
    if (r != CLIENT_OP_OK) {
        close_socket(srv, sess->sock, r == CLIENT_OP_INTERNAL ? CLOSE_TRY_LATER : CLOSE_BAD_MESSAGE,
                     r == CLIENT_OP_INTERNAL ? "the update could not be encoded" : why, false,
                     r == CLIENT_OP_INTERNAL ? BCYCLOSE_UNAVAILABLE : BCYCLOSE_BAD_MESSAGE);
        return;
    }
    bcyop *op = calloc(1, sizeof *op + msg->payload_len);
    if (op) {
        op->op.received_ns = received_ns;
        op->op.op_id_len = m->op_id_len;
        memcpy(op->op.op_id, op_id, m->op_id_len + 1);
        snprintf(op->doc_id, sizeof op->doc_id, "%s", sess->doc_id);
        op->from_step2 = msg->kind == YPROTO_SYNC_STEP2;
        op->update_len = msg->payload_len;
        memcpy(op->update, msg->payload, msg->payload_len);
    }
    int rc = op ? produce(srv, sess, op, value, value_len) : -1;
    free(value);
    if (rc != 0) {
        metrics_counter_inc(srv->deps.metrics->ywrite_failures);
        close_socket(srv, sess->sock, CLOSE_UNSAVED,
                     "Kafka cannot take the update now; reconnect to resend it", false,
                     BCYCLOSE_UNSAVED);
    }
}

/* ---- items over Hocuspocus stateless messages ---- */

static void stateless_reply(bcserver *srv, bcysess *sess, const char *type, const char *op_id,
                            const char *code, const char *message)
{
    json_t *j = json_pack("{s:s, s:s?, s:s?, s:s?}", "type", type, "op_id", op_id, "code", code,
                          "message", message);
    if (j)
        send_stateless_json(srv, sess, j);
    json_decref(j);
}

/* Reads a clock {"client id": counter, ...} into m->clock, sorted by id. */
static int read_clock(json_t *clock, wsframe_msg *m)
{
    if (!json_is_object(clock) || json_object_size(clock) == 0 ||
        json_object_size(clock) > WSFRAME_CLOCK_MAX)
        return -1;
    const char *key;
    json_t *v;
    size_t n = 0;
    json_object_foreach(clock, key, v)
    {
        char *end = NULL;
        unsigned long long id = strtoull(key, &end, 10);
        if (!*key || *end || !json_is_integer(v) || json_integer_value(v) <= 0 ||
            id > CRDT_MAX_SAFE_INT || (uint64_t)json_integer_value(v) > CRDT_MAX_SAFE_INT)
            return -1;
        size_t at = n;
        while (at > 0 && m->clock[at - 1].client_id > id) {
            m->clock[at] = m->clock[at - 1];
            at--;
        }
        if (at > 0 && m->clock[at - 1].client_id == id)
            return -1;
        m->clock[at] = (wsframe_clock_entry){id, (uint64_t)json_integer_value(v)};
        n++;
    }
    m->clock_count = n;
    return 0;
}

/* {"type": "collab.item.write" | "collab.item.resolve", "op_id", "item_id",
 * "value" (a string) or "value_base64", "clock", "client_id", "time_ms"?}. */
static void on_item_op(bcserver *srv, bcysess *sess, json_t *j, bool resolve, int64_t received_ns)
{
    const char *op_id = json_string_value(json_object_get(j, "op_id"));
    if (!op_id || !wsframe_op_id_valid(op_id, strlen(op_id))) {
        stateless_reply(srv, sess, "collab.nack", op_id, "invalid_item",
                        "op_id must be 1-64 printable ASCII characters");
        return;
    }
    if (sess->role < USTORE_ROLE_EDITOR || !srv->producer) {
        stateless_reply(srv, sess, "collab.nack", op_id, "forbidden",
                        sess->role < USTORE_ROLE_EDITOR ? "viewers may not write this document"
                                                        : "this node takes no writes");
        return;
    }
    const char *item_id = json_string_value(json_object_get(j, "item_id"));
    json_t *text = json_object_get(j, "value");
    json_t *b64 = json_object_get(j, "value_base64");
    json_t *client = json_object_get(j, "client_id");
    json_t *time = json_object_get(j, "time_ms");
    uint8_t *value = NULL;
    size_t value_len = 0;
    bool ok = item_id && json_is_integer(client) && json_integer_value(client) >= 0 &&
              (!time || (json_is_integer(time) && json_integer_value(time) >= 0)) &&
              (json_is_string(text) != json_is_string(b64));
    if (ok && json_is_string(text)) {
        value_len = json_string_length(text);
        value = malloc(value_len ? value_len : 1);
        ok = value != NULL;
        if (ok)
            memcpy(value, json_string_value(text), value_len);
    } else if (ok) {
        size_t in = json_string_length(b64);
        value = malloc(in / 4 * 3 + 3);
        ok = value && sodium_base642bin(value, in / 4 * 3 + 3, json_string_value(b64), in, NULL,
                                        &value_len, NULL, sodium_base64_VARIANT_ORIGINAL) == 0;
    }
    wsframe_msg *m = srv->scratch_op;
    memset(m, 0, offsetof(wsframe_msg, clock));
    if (!ok || read_clock(json_object_get(j, "clock"), m) != 0) {
        free(value);
        stateless_reply(srv, sess, "collab.nack", op_id, "invalid_item",
                        "an item op needs item_id, value or value_base64, a clock of positive "
                        "counters by client id, and client_id");
        return;
    }
    m->type = resolve ? WSFRAME_ITEM_RESOLVE : WSFRAME_ITEM_WRITE;
    m->op_id = op_id;
    m->op_id_len = strlen(op_id);
    m->client_id = (uint64_t)json_integer_value(client);
    m->client_time_ms =
        time ? (uint64_t)json_integer_value(time) : (uint64_t)(util_wall_ns() / 1000000);
    m->item_id = item_id;
    m->item_id_len = strlen(item_id);
    m->payload = value;
    m->payload_len = value_len;
    client_op_context ctx = {srv->avro, sess->doc_id, sess->user_id, srv->deps.node};
    uint8_t *record = NULL;
    size_t record_len = 0;
    char why[256];
    client_op_result r =
        client_op_encode(&ctx, m, util_wall_ns() / 1000, &record, &record_len, why, sizeof why);
    free(value);
    if (r != CLIENT_OP_OK) {
        stateless_reply(srv, sess, "collab.nack", op_id,
                        r == CLIENT_OP_INTERNAL ? "unavailable" : "invalid_item", why);
        return;
    }
    bcyop *op = calloc(1, sizeof *op);
    if (op) {
        op->op.received_ns = received_ns;
        op->op.op_id_len = strlen(op_id);
        memcpy(op->op.op_id, op_id, op->op.op_id_len + 1);
        snprintf(op->doc_id, sizeof op->doc_id, "%s", sess->doc_id);
        op->is_item = true;
    }
    int rc = op ? produce(srv, sess, op, record, record_len) : -1;
    free(record);
    if (rc != 0)
        stateless_reply(srv, sess, "collab.nack", op_id, "unavailable",
                        "Kafka cannot take the op now; resend it later");
}

static void on_stateless(bcserver *srv, bcysess *sess, const yproto_msg *msg, int64_t received_ns)
{
    json_t *j = json_loadb((const char *)msg->payload, msg->payload_len, 0, NULL);
    const char *type = json_string_value(json_object_get(j, "type"));
    if (!type) {
        stateless_reply(srv, sess, "collab.error", NULL, "bad_stateless",
                        "this server reads stateless messages as JSON objects with a type");
    } else if (strcmp(type, "collab.item.write") == 0) {
        on_item_op(srv, sess, j, false, received_ns);
    } else if (strcmp(type, "collab.item.resolve") == 0) {
        on_item_op(srv, sess, j, true, received_ns);
    } else {
        stateless_reply(srv, sess, "collab.error", NULL, "unknown_type",
                        "known types: collab.item.write, collab.item.resolve");
    }
    json_decref(j);
}

/* Hocuspocus' broadcast stateless: to every session of the document here. */
static void on_broadcast_stateless(bcserver *srv, bcysess *sess, const yproto_msg *msg)
{
    bcmsg *m = NULL;
    for (bcysess *other = sess->ch->ysess; other; other = other->ch_next) {
        if (other->sock->dialect != YPROTO_HOCUSPOCUS)
            continue;
        if (!m) {
            crdt_buf b;
            crdt_buf_init(&b);
            yproto_put_stateless(&b, sess->doc_id, (const char *)msg->payload, msg->payload_len);
            if (!(m = take_msg(&b, BCMSG_YPROTO)))
                return;
        }
        bcy_send(srv, other->sock, m);
    }
    bcmsg_unref(m);
}

/* ---- awareness ---- */

static void on_awareness(bcserver *srv, bcysess *sess, const yproto_msg *msg)
{
    if (awareness_valid(msg->payload, msg->payload_len) != 0) {
        close_socket(srv, sess->sock, CLOSE_BAD_MESSAGE, "malformed awareness update", false,
                     BCYCLOSE_BAD_MESSAGE);
        return;
    }
    awareness_track(&sess->presence, msg->payload, msg->payload_len);
    /* Back through Redis to every edge of the document, this one included:
     * the sender gets its own state back, as from y-websocket's server. */
    if (srv->awareness)
        (void)awareness_publish(srv->awareness, sess->doc_id, msg->payload, msg->payload_len);
}

void bcy_relay_awareness(bcserver *srv, bcchan *ch, const uint8_t *update, size_t len,
                         bcmsg *as_read_message)
{
    bcmsg *hocus = NULL;
    for (bcysess *sess = ch->ysess; sess; sess = sess->ch_next) {
        if (!sess->greeted)
            continue;
        if (sess->sock->dialect == YPROTO_YWEBSOCKET) {
            bcy_send(srv, sess->sock, as_read_message);
            continue;
        }
        if (!hocus) {
            crdt_buf b;
            crdt_buf_init(&b);
            yproto_put_awareness(&b, ch->doc_id, update, len);
            if (!(hocus = take_msg(&b, BCMSG_AWARENESS)))
                continue;
        }
        bcy_send(srv, sess->sock, hocus);
    }
    bcmsg_unref(hocus);
}

/* ---- authentication ---- */

/* Checks token for doc_id: 0 with the user and role, else the close code
 * (4401, 4403, 4404, 1013) with a reason. */
static uint16_t authorize(bcserver *srv, const char *token, size_t token_len, const char *doc_id,
                          char *user_id, size_t user_size, ustore_role *role, char *reason,
                          size_t reason_size)
{
    struct authtoken_claims claims;
    enum authtoken_status ts = token_len > AUTHTOKEN_MAX_LEN
                                   ? AUTHTOKEN_ERR_MALFORMED
                                   : authtoken_verify(srv->deps.keys, token, token_len,
                                                      util_wall_ns() / 1000000000LL, &claims);
    if (ts != AUTHTOKEN_OK) {
        metrics_counter_inc(srv->deps.metrics->yauth_failures);
        snprintf(reason, reason_size, "unauthorized: %s", authtoken_status_name(ts));
        return CLOSE_UNAUTHORIZED;
    }
    snprintf(user_id, user_size, "%s", claims.sub);
    authtoken_claims_clear(&claims);
    docaccess_status st = docaccess_role(srv->deps.access, doc_id, user_id, util_now_ms(), role);
    if (st == DOCACCESS_NOT_FOUND) {
        metrics_counter_inc(srv->deps.metrics->yauth_failures);
        snprintf(reason, reason_size, "not found: no such document");
        return CLOSE_NOT_FOUND;
    }
    if (st != DOCACCESS_OK) {
        snprintf(reason, reason_size, "the database is unavailable, retry later");
        return CLOSE_TRY_LATER;
    }
    if (*role < USTORE_ROLE_VIEWER) {
        metrics_counter_inc(srv->deps.metrics->yauth_failures);
        snprintf(reason, reason_size, "forbidden: you have no right on this document");
        return CLOSE_FORBIDDEN;
    }
    return 0;
}

/* Hocuspocus: a token for a document (its first message, or a refresh). */
static void on_auth_token(bcserver *srv, bcysock *s, const yproto_msg *msg)
{
    char name[WSFRAME_DOC_ID_MAX + 1];
    char user_id[USTORE_USER_ID_LEN + 1], reason[128];
    ustore_role role = USTORE_ROLE_NONE;
    bcysess *sess = session_find(s, msg->name, msg->name_len);
    uint16_t code;
    if (!wsframe_doc_id_valid(msg->name, msg->name_len)) {
        code = CLOSE_NOT_FOUND;
        snprintf(reason, sizeof reason, "not found: a document name is 1-128 of [A-Za-z0-9._~-]");
    } else if (!sess && open_sessions(s) >= srv->deps.settings->max_documents_per_socket) {
        code = CLOSE_FORBIDDEN;
        snprintf(reason, sizeof reason, "forbidden: too many documents on one connection");
    } else {
        memcpy(name, msg->name, msg->name_len);
        name[msg->name_len] = '\0';
        code = authorize(srv, (const char *)msg->payload, msg->payload_len, name, user_id,
                         sizeof user_id, &role, reason, sizeof reason);
    }
    if (code == CLOSE_TRY_LATER) {
        close_socket(srv, s, CLOSE_TRY_LATER, reason, false, BCYCLOSE_UNAVAILABLE);
        return;
    }
    /* The answer names the document as the client spelt it. */
    char *spelt = strndup(msg->name, msg->name_len);
    if (!spelt)
        return;
    crdt_buf b;
    crdt_buf_init(&b);
    if (code != 0) {
        if (sess)
            session_close(srv, sess);
        yproto_put_auth_denied(&b, spelt, reason);
        send_buf(srv, s, &b, BCMSG_YPROTO);
        free(spelt);
        return;
    }
    bool read_only = role < USTORE_ROLE_EDITOR || !srv->producer;
    if (sess && strcmp(sess->user_id, user_id) != 0) {
        session_close(srv, sess); /* another user on the same socket: start over */
        sess = NULL;
    }
    /* Authenticated goes out before anything of the session (its greeting
     * is queued by session_open when the document is loaded already). */
    yproto_put_authenticated(&b, spelt, read_only);
    free(spelt);
    send_buf(srv, s, &b, BCMSG_YPROTO);
    if (sess)
        sess->role = role; /* a refreshed token: the right as it is now */
    else if (!session_open(srv, s, name, user_id, role))
        close_socket(srv, s, CLOSE_TRY_LATER, "out of memory", true, BCYCLOSE_UNAVAILABLE);
}

/* ---- receiving ---- */

static void dispatch(bcserver *srv, bcysock *s, const yproto_msg *msg, int64_t received_ns)
{
    bcysess *sess;
    if (s->dialect == YPROTO_HOCUSPOCUS) {
        if (msg->kind == YPROTO_AUTH_TOKEN) {
            on_auth_token(srv, s, msg);
            return;
        }
        /* A document never authenticated (or refused): its messages are
         * dropped, as the provider sends sync right after its token. */
        sess = session_find(s, msg->name, msg->name_len);
        if (!sess)
            return;
    } else {
        sess = s->sessions && s->sessions->state == BCYSESS_OPEN ? s->sessions : NULL;
        if (!sess)
            return;
    }
    switch (msg->kind) {
    case YPROTO_SYNC_STEP1:
        on_step1(srv, sess, msg);
        break;
    case YPROTO_SYNC_STEP2:
    case YPROTO_SYNC_UPDATE:
        on_update(srv, sess, msg, received_ns);
        break;
    case YPROTO_AWARENESS:
        on_awareness(srv, sess, msg);
        break;
    case YPROTO_QUERY_AWARENESS:
        if (sess->greeted)
            send_presence(srv, sess);
        break;
    case YPROTO_STATELESS:
        on_stateless(srv, sess, msg, received_ns);
        break;
    case YPROTO_BROADCAST_STATELESS:
        on_broadcast_stateless(srv, sess, msg);
        break;
    case YPROTO_CLOSE:
        session_close(srv, sess);
        break;
    case YPROTO_AUTH_TOKEN:
    case YPROTO_AUTH_OTHER:
        break;
    }
}

static int rx_append(bcysock *s, const uint8_t *data, size_t len)
{
    if (s->rx_len + len > s->rx_cap) {
        size_t cap = s->rx_cap ? s->rx_cap : 4096;
        while (cap < s->rx_len + len)
            cap *= 2;
        uint8_t *p = realloc(s->rx, cap);
        if (!p)
            return -1;
        s->rx = p;
        s->rx_cap = cap;
    }
    memcpy(s->rx + s->rx_len, data, len);
    s->rx_len += len;
    return 0;
}

int bcy_receive(bcserver *srv, bcysock *s, const void *in, size_t len)
{
    struct lws *wsi = s->wsi;
    if (s->closing)
        return 0;
    if (lws_is_first_fragment(wsi)) {
        s->rx_len = 0;
        s->rx_oversized = false;
        s->rx_binary = lws_frame_is_binary(wsi) != 0;
    }
    if (!s->rx_oversized && s->rx_len + len > srv->deps.settings->max_message_bytes)
        s->rx_oversized = true;
    if (!s->rx_oversized && rx_append(s, in, len) != 0)
        return -1;
    if (!lws_is_final_fragment(wsi))
        return 0;
    int64_t received_ns = util_now_ns();
    if (s->rx_oversized) {
        close_socket(srv, s, CLOSE_TOO_BIG, "message too big", false, BCYCLOSE_TOO_BIG);
    } else if (!s->rx_binary) {
        close_socket(srv, s, CLOSE_BAD_MESSAGE, "text messages are not accepted", false,
                     BCYCLOSE_BAD_MESSAGE);
    } else {
        yproto_msg msg;
        yproto_status st = yproto_parse(s->dialect, s->rx, s->rx_len, &msg);
        if (st != YPROTO_OK)
            close_socket(srv, s, CLOSE_BAD_MESSAGE, yproto_status_text(st), false,
                         BCYCLOSE_BAD_MESSAGE);
        else
            dispatch(srv, s, &msg, received_ns);
    }
    s->rx_len = 0;
    if (s->rx_cap > 65536) { /* not a megabyte per idle socket after one big message */
        free(s->rx);
        s->rx = NULL;
        s->rx_cap = 0;
    }
    return 0;
}

/* ---- the producer's reports ---- */

static void write_done(bcserver *srv, bcyop *op)
{
    bcysess *sess = op->op.owner;
    bcmetrics *m = srv->deps.metrics;
    sess->inflight--;
    bool open = sess->state == BCYSESS_OPEN && sess->sock->wsi;
    if (op->op.err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        metrics_counter_inc(m->ywrite_failures);
        if (op->is_item && open) {
            char why[160];
            snprintf(why, sizeof why, "Kafka did not confirm the op: %s",
                     rd_kafka_err2str(op->op.err));
            stateless_reply(srv, sess, "collab.nack", op->op.op_id, "unavailable", why);
        } else if (open) {
            /* The client still has the update: a reconnect resends it in
             * its step 2. Nothing else tells a stock provider to resend. */
            close_socket(srv, sess->sock, CLOSE_UNSAVED,
                         "Kafka did not confirm an update; reconnect to resend it", false,
                         BCYCLOSE_UNSAVED);
        }
        return;
    }
    metrics_counter_inc(m->ywrite_acks);
    metrics_histogram_observe_since_ns(m->ywrite_latency, op->op.received_ns);
    if (op->is_item) {
        if (open)
            stateless_reply(srv, sess, "collab.ack", op->op.op_id, NULL, NULL);
        return;
    }
    /* Durable now: into the live document, and to its sessions when new
     * (the sender's echo included). */
    bcchan *ch = cmap_get(srv->chans, op->doc_id);
    int res = 0;
    if (ch && ch->live_state == BCLIVE_READY)
        res = bclive_apply(srv, ch, op->update, op->update_len, 0);
    else if (ch && ch->live_state == BCLIVE_LOADING)
        bclive_wait(srv, ch, op->update, op->update_len);
    if (!open)
        return;
    if (sess->sock->dialect == YPROTO_HOCUSPOCUS) {
        send_sync_status(srv, sess, true);
    } else if (res != CRDT_APPLIED && res != CRDT_PENDING) {
        /* The log's copy reached the sessions first (or the document is
         * loading): the sender still gets its echo, the sign it is saved. */
        crdt_buf b;
        crdt_buf_init(&b);
        yproto_put_sync_update(&b, NULL, op->update, op->update_len);
        send_buf(srv, sess->sock, &b, BCMSG_LIVE);
    }
}

void bcy_take_done(bcserver *srv)
{
    if (!srv->producer)
        return;
    op_producer_op *op = op_producer_take_done(srv->producer);
    while (op) {
        op_producer_op *next = op->next;
        bcysess *sess = op->owner;
        bcysock *s = sess->sock;
        write_done(srv, (bcyop *)op);
        free(op);
        session_release(srv, sess);
        socket_maybe_free(srv, s);
        op = next;
    }
}

/* ---- the socket's life ---- */

static const char *y_path_doc(const bcsettings *set, const char *path)
{
    size_t n = strlen(set->yjs_path);
    if (strncmp(path, set->yjs_path, n) != 0 || path[n] != '/')
        return NULL;
    return path + n + 1;
}

int bcy_route(bcserver *srv, struct lws *wsi, yproto_dialect *dialect, char *doc_id,
              size_t doc_id_size)
{
    char path[512];
    if (lws_hdr_copy(wsi, path, sizeof path, WSI_TOKEN_GET_URI) <= 0)
        return 0;
    const bcsettings *set = srv->deps.settings;
    if (strcmp(path, set->hocuspocus_path) == 0) {
        *dialect = YPROTO_HOCUSPOCUS;
        doc_id[0] = '\0';
        return 1;
    }
    const char *doc = y_path_doc(set, path);
    if (!doc)
        return 0;
    *dialect = YPROTO_YWEBSOCKET;
    snprintf(doc_id, doc_id_size, "%.*s", (int)(doc_id_size - 1), doc);
    if (strlen(doc) >= doc_id_size || !wsframe_doc_id_valid(doc, strlen(doc)))
        doc_id[0] = '\0'; /* refused after the upgrade: 4404 */
    return 1;
}

int bcy_confirm_upgrade(bcserver *srv, struct lws *wsi, yproto_dialect dialect, const char *doc_id)
{
    bcmetrics *m = srv->deps.metrics;
    if (srv->draining || srv->open_subs + srv->open_ysocks >= srv->deps.settings->max_connections) {
        bcmetrics_upgrade(m, 503);
        (void)wshttp_send_error(wsi, 503, srv->draining ? "shutting_down" : "too_many_connections",
                                "this node cannot take the connection; retry elsewhere");
        return 1;
    }
    bcysock *s = calloc(1, sizeof *s);
    if (!s) {
        bcmetrics_upgrade(m, 500);
        (void)wshttp_send_error(wsi, 500, "internal", "out of memory");
        return 1;
    }
    s->kind = BCCONN_YSOCK;
    s->srv = srv;
    s->dialect = dialect;
    unsigned char raw[8];
    randombytes_buf(raw, sizeof raw);
    sodium_bin2hex(s->id, sizeof s->id, raw, sizeof raw);
    if (dialect == YPROTO_YWEBSOCKET) {
        /* Decided now, while the request is at hand; told once the socket
         * is open, with the close code the provider understands. */
        if (!doc_id[0]) {
            s->refusal_code = CLOSE_NOT_FOUND;
            snprintf(s->refusal_reason, sizeof s->refusal_reason,
                     "not found: a document name is 1-128 of [A-Za-z0-9._~-]");
        } else {
            snprintf(s->doc_id, sizeof s->doc_id, "%s", doc_id);
            char *token = malloc(AUTHTOKEN_MAX_LEN + 1);
            size_t len = 0;
            wsauth_status ws = token ? wsauth_request_token(wsi, token, AUTHTOKEN_MAX_LEN + 1, &len)
                                     : WSAUTH_INVALID;
            if (ws != WSAUTH_OK) {
                metrics_counter_inc(m->yauth_failures);
                s->refusal_code = CLOSE_UNAUTHORIZED;
                snprintf(s->refusal_reason, sizeof s->refusal_reason, "unauthorized: %s",
                         ws == WSAUTH_NO_TOKEN ? "token_missing" : "token_malformed");
            } else {
                s->refusal_code = authorize(srv, token, len, doc_id, s->user_id, sizeof s->user_id,
                                            &s->role, s->refusal_reason, sizeof s->refusal_reason);
            }
            free(token);
        }
    }
    s->all_next = srv->ysocks;
    if (srv->ysocks)
        srv->ysocks->all_prev = s;
    srv->ysocks = s;
    lws_set_opaque_user_data(wsi, s);
    bcmetrics_upgrade(m, 101);
    return 0;
}

int bcy_established(bcserver *srv, bcsession *ss, struct lws *wsi)
{
    bcysock *s = lws_get_opaque_user_data(wsi);
    ss->ysock = s;
    s->wsi = wsi;
    s->established = true;
    srv->open_ysocks++;
    metrics_gauge_inc(srv->deps.metrics->ysockets);
    if (s->dialect != YPROTO_YWEBSOCKET)
        return 0;
    if (s->refusal_code) {
        crdt_buf b;
        crdt_buf_init(&b);
        yproto_put_auth_denied(&b, NULL, s->refusal_reason);
        send_buf(srv, s, &b, BCMSG_YPROTO);
        close_socket(srv, s, s->refusal_code, s->refusal_reason, false,
                     close_reason_of(s->refusal_code));
        return 0;
    }
    if (!session_open(srv, s, s->doc_id, s->user_id, s->role))
        close_socket(srv, s, CLOSE_TRY_LATER, "out of memory", true, BCYCLOSE_UNAVAILABLE);
    return 0;
}

int bcy_writeable(bcserver *srv, bcysock *s)
{
    if (s->q.count && bcserver_write_queue(srv, s->wsi, &s->q) != 0)
        return -1;
    if (s->q.count) {
        lws_callback_on_writable(s->wsi);
        return 0;
    }
    if (s->closing) {
        lws_close_reason(s->wsi, (enum lws_close_status)s->close_code,
                         (unsigned char *)s->close_reason, strlen(s->close_reason));
        return -1;
    }
    return 0;
}

void bcy_closed(bcserver *srv, bcysock *s)
{
    if (s->established) {
        srv->open_ysocks--;
        metrics_gauge_dec(srv->deps.metrics->ysockets);
    }
    s->wsi = NULL;
    bcqueue_clear(&s->q);
    bcysess *sess = s->sessions;
    while (sess) {
        bcysess *next = sess->sock_next;
        session_close(srv, sess); /* frees sess unless its ops are out */
        sess = next;
    }
    socket_maybe_free(srv, s);
}

void bcy_abandoned(bcserver *srv, bcysock *s)
{
    if (s && !s->established)
        socket_free(srv, s);
}

void bcy_shutdown_all(bcserver *srv)
{
    for (bcysock *s = srv->ysocks; s; s = s->all_next)
        close_socket(srv, s, CLOSE_RESTART, "this node is shutting down; reconnect", false,
                     BCYCLOSE_SHUTDOWN);
}

void bcy_free_all(bcserver *srv)
{
    bcysock *s = srv->ysocks;
    srv->ysocks = NULL;
    while (s) {
        bcysock *next_sock = s->all_next;
        bcysess *sess = s->sessions;
        while (sess) {
            bcysess *next = sess->sock_next;
            free(sess->pending_sv);
            free(sess);
            sess = next;
        }
        socket_destroy(s);
        s = next_sock;
    }
}
