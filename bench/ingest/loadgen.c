/*
 * ingest-loadgen: the load generator of the ingest benchmark (bench/ingest/
 * run.sh). Opens N WebSocket write connections (docs/protocol.md) over a
 * set of documents on one libwebsockets client thread and sends UPDATE
 * messages carrying a real Yjs update made by the crdt engine, either at a
 * fixed total rate (open loop: --rate) or as fast as ACKs come back with a
 * window of ops in flight per connection (closed loop: --rate 0). The ACK
 * latency of each op (send -> ACK) is recorded after a warm-up; the result
 * is one JSON line: ops/s acknowledged, p50/p99/max latency, NACKs, errors.
 *
 *   ingest-loadgen --url ws://127.0.0.1:8080 --token JWT --docs d1,d2,...
 *                  [--connections 1000] [--rate 10000] [--seconds 30]
 *                  [--warmup 3] [--window 64]
 */
#include <libwebsockets.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/ws_frame.h"
#include "crdt/crdt.h"

/* Ops in flight per connection are tracked in a ring of send times. */
#define RING 1024

typedef struct lg_conn {
    struct lws *wsi;
    int index;
    const char *doc;
    int ready; /* HELLO received */
    int closed;
    uint64_t next_seq;  /* next op to send */
    uint64_t acked_seq; /* answers received (ACKs come in send order) */
    uint64_t owed;      /* open loop: ops due but not yet written */
    int64_t sent_ns[RING];
} lg_conn;

typedef struct lg {
    struct lws_context *ctx;
    char host[256];
    int port;
    const char *token;
    char **docs;
    int doc_count;
    int conn_count;
    double rate;
    double seconds, warmup;
    int window;
    lg_conn *conns;
    uint8_t *update;
    size_t update_len;
    int64_t start_ns, measure_from_ns, end_ns;
    int64_t connect_deadline_ns; /* stop waiting for slow connects */
    int connected, failed;
    double due;        /* open loop: ops that should have been sent so far */
    int rr;            /* round-robin cursor */
    uint64_t assigned; /* open loop: ops handed to connections so far */
    uint64_t sent, acked, nacked, errors;
    char *doc_list;
    uint32_t *lat_us; /* latencies measured */
    size_t lat_count, lat_cap;
    lws_sorted_usec_list_t tick;
    int done;
} lg;

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void record_latency(lg *g, int64_t sent_ns, int64_t t)
{
    if (sent_ns < g->measure_from_ns || t > g->end_ns)
        return;
    if (g->lat_count == g->lat_cap) {
        size_t cap = g->lat_cap ? g->lat_cap * 2 : 1 << 20;
        uint32_t *p = realloc(g->lat_us, cap * sizeof *p);
        if (!p)
            return;
        g->lat_us = p;
        g->lat_cap = cap;
    }
    g->lat_us[g->lat_count++] = (uint32_t)((t - sent_ns) / 1000);
}

static int write_ops(lg *g, lg_conn *c)
{
    while (c->owed > 0 && c->next_seq - c->acked_seq < (uint64_t)g->window &&
           !lws_send_pipe_choked(c->wsi)) {
        char op_id[48];
        snprintf(op_id, sizeof op_id, "c%d-%llu", c->index, (unsigned long long)c->next_seq);
        crdt_buf b;
        crdt_buf_init(&b);
        crdt_buf_reserve(&b, LWS_PRE + g->update_len + 64);
        b.len = LWS_PRE;
        wsframe_put_update(&b, op_id, (uint64_t)(c->index + 1), 0, g->update, g->update_len);
        if (b.oom) {
            crdt_buf_free(&b);
            return -1;
        }
        c->sent_ns[c->next_seq % RING] = now_ns();
        int n = lws_write(c->wsi, b.data + LWS_PRE, b.len - LWS_PRE, LWS_WRITE_BINARY);
        crdt_buf_free(&b);
        if (n < 0)
            return -1;
        c->next_seq++;
        c->owed--;
        g->sent++;
    }
    if (c->owed > 0 && c->next_seq - c->acked_seq < (uint64_t)g->window)
        lws_callback_on_writable(c->wsi);
    return 0;
}

static void on_message(lg *g, lg_conn *c, const uint8_t *data, size_t len)
{
    crdt_rd r;
    crdt_rd_init(&r, data, len);
    uint64_t type = crdt_rd_varuint(&r);
    int64_t t = now_ns();
    if (type == WSFRAME_HELLO) {
        c->ready = 1;
        g->connected++;
        return;
    }
    if (type == WSFRAME_ERROR) {
        g->errors++;
        return;
    }
    if (type != WSFRAME_ACK && type != WSFRAME_NACK)
        return;
    if (type == WSFRAME_ACK) {
        g->acked++;
        record_latency(g, c->sent_ns[c->acked_seq % RING], t);
    } else {
        g->nacked++;
    }
    c->acked_seq++;
    if (g->rate <= 0 && t < g->end_ns)
        c->owed++; /* closed loop: every answer releases the next op */
    if (c->owed > 0)
        lws_callback_on_writable(c->wsi);
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len)
{
    (void)user;
    lg_conn *c = lws_get_opaque_user_data(wsi);
    lg *g = lws_context_user(lws_get_context(wsi));
    switch (reason) {
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
        if (c) {
            g->failed++;
            c->closed = 1;
            c->wsi = NULL;
            fprintf(stderr, "connection %d failed: %s\n", c->index, in ? (const char *)in : "?");
        }
        break;
    case LWS_CALLBACK_CLIENT_RECEIVE:
        if (c)
            on_message(g, c, in, len);
        break;
    case LWS_CALLBACK_CLIENT_WRITEABLE:
        if (c && write_ops(g, c) != 0)
            return -1;
        break;
    case LWS_CALLBACK_CLIENT_CLOSED:
        if (c) {
            if (!c->ready)
                g->failed++; /* closed before HELLO: refused or dropped */
            c->closed = 1;
            c->wsi = NULL;
        }
        break;
    default:
        break;
    }
    return 0;
}

static const struct lws_protocols protocols[] = {
    {"loadgen", callback, 0, 1 << 16, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

static void tick(lws_sorted_usec_list_t *sul)
{
    lg *g = lws_container_of(sul, lg, tick);
    int64_t t = now_ns();
    if (g->connect_deadline_ns == 0)
        g->connect_deadline_ns = t + 60 * 1000000000LL;
    if (g->start_ns == 0 && g->connected + g->failed < g->conn_count &&
        t < g->connect_deadline_ns) {
        lws_sul_schedule(g->ctx, 0, &g->tick, tick, 10 * LWS_US_PER_MS);
        return;
    }
    if (g->start_ns == 0)
        fprintf(stderr, "loadgen: %d connected, %d failed of %d\n", g->connected, g->failed,
                g->conn_count);
    if (g->start_ns == 0) {
        g->start_ns = t;
        g->measure_from_ns = t + (int64_t)(g->warmup * 1e9);
        g->end_ns = g->measure_from_ns + (int64_t)(g->seconds * 1e9);
        if (g->rate <= 0) {
            for (int i = 0; i < g->conn_count; i++) {
                lg_conn *c = &g->conns[i];
                if (c->wsi && c->ready) {
                    c->owed = (uint64_t)g->window;
                    lws_callback_on_writable(c->wsi);
                }
            }
        }
    }
    if (t > g->end_ns + 5000000000LL) { /* 5 s for the last answers */
        g->done = 1;
        lws_cancel_service(g->ctx);
        return;
    }
    if (g->rate > 0 && t < g->end_ns) {
        /* Spread what is due over the connections round-robin. */
        g->due = g->rate * (double)(t - g->start_ns) / 1e9;
        int skipped = 0;
        while ((double)g->assigned + 0.5 < g->due && skipped < g->conn_count) {
            lg_conn *c = &g->conns[g->rr];
            g->rr = (g->rr + 1) % g->conn_count;
            if (!c->wsi || !c->ready) {
                skipped++;
                continue;
            }
            c->owed++;
            g->assigned++;
            lws_callback_on_writable(c->wsi);
        }
    }
    lws_sul_schedule(g->ctx, 0, &g->tick, tick, LWS_US_PER_MS);
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static int make_update(lg *g)
{
    crdt_doc *doc = NULL;
    if (crdt_doc_new(NULL, &doc) != CRDT_OK)
        return -1;
    crdt_status st =
        crdt_text_insert(doc, "t", 0, "hello, ingest", 13, NULL, &g->update, &g->update_len);
    crdt_doc_free(doc);
    return st == CRDT_OK ? 0 : -1;
}

static int parse_args(lg *g, int argc, char **argv)
{
    const char *url = "ws://127.0.0.1:8080", *docs = NULL;
    g->conn_count = 1000;
    g->rate = 10000;
    g->seconds = 30;
    g->warmup = 3;
    g->window = 64;
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *k = argv[i], *v = argv[i + 1];
        if (!strcmp(k, "--url"))
            url = v;
        else if (!strcmp(k, "--token"))
            g->token = v;
        else if (!strcmp(k, "--docs"))
            docs = v;
        else if (!strcmp(k, "--connections"))
            g->conn_count = atoi(v);
        else if (!strcmp(k, "--rate"))
            g->rate = atof(v);
        else if (!strcmp(k, "--seconds"))
            g->seconds = atof(v);
        else if (!strcmp(k, "--warmup"))
            g->warmup = atof(v);
        else if (!strcmp(k, "--window"))
            g->window = atoi(v);
        else
            return -1;
    }
    if (!g->token || !docs || g->conn_count < 1 || g->window < 1 || g->window > RING)
        return -1;
    if (sscanf(url, "ws://%255[^:]:%d", g->host, &g->port) != 2)
        return -1;
    char *list = strdup(docs);
    if (!list)
        return -1;
    g->doc_list = list;
    for (char *save = NULL, *d = strtok_r(list, ",", &save); d; d = strtok_r(NULL, ",", &save)) {
        char **p = realloc(g->docs, (size_t)(g->doc_count + 1) * sizeof *p);
        if (!p)
            return -1;
        g->docs = p;
        g->docs[g->doc_count++] = d;
    }
    return g->doc_count > 0 ? 0 : -1;
}

int main(int argc, char **argv)
{
    lg g;
    memset(&g, 0, sizeof g);
    if (parse_args(&g, argc, argv) != 0) {
        fprintf(stderr, "usage: ingest-loadgen --url ws://HOST:PORT --token JWT --docs d1,d2 "
                        "[--connections N] [--rate OPS_PER_S|0] [--seconds S] [--warmup S] "
                        "[--window N]\n");
        return 2;
    }
    if (make_update(&g) != 0) {
        fprintf(stderr, "cannot make a Yjs update\n");
        return 1;
    }
    g.conns = calloc((size_t)g.conn_count, sizeof *g.conns);
    if (!g.conns)
        return 1;
    lws_set_log_level(LLL_ERR, NULL);
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = protocols;
    info.user = &g;
    info.fd_limit_per_thread = (unsigned int)g.conn_count + 64;
    g.ctx = lws_create_context(&info);
    if (!g.ctx)
        return 1;
    for (int i = 0; i < g.conn_count; i++) {
        lg_conn *c = &g.conns[i];
        c->index = i;
        c->doc = g.docs[i % g.doc_count];
        char path[1024];
        snprintf(path, sizeof path, "/v1/documents/%s/write?access_token=%s", c->doc, g.token);
        struct lws_client_connect_info ci;
        memset(&ci, 0, sizeof ci);
        ci.context = g.ctx;
        ci.address = g.host;
        ci.port = g.port;
        ci.path = path;
        ci.host = g.host;
        ci.origin = g.host;
        ci.protocol = NULL;
        ci.local_protocol_name = "loadgen";
        ci.opaque_user_data = c;
        ci.pwsi = &c->wsi;
        if (!lws_client_connect_via_info(&ci)) {
            g.failed++;
            c->closed = 1;
        }
    }
    lws_sul_schedule(g.ctx, 0, &g.tick, tick, 10 * LWS_US_PER_MS);
    while (!g.done && lws_service(g.ctx, 0) >= 0)
        ;
    lws_context_destroy(g.ctx);

    qsort(g.lat_us, g.lat_count, sizeof *g.lat_us, cmp_u32);
    double p50 = 0, p99 = 0, max = 0;
    if (g.lat_count) {
        p50 = g.lat_us[g.lat_count / 2] / 1000.0;
        p99 = g.lat_us[(size_t)((double)g.lat_count * 0.99)] / 1000.0;
        max = g.lat_us[g.lat_count - 1] / 1000.0;
    }
    printf("{\"connections\":%d,\"connected\":%d,\"docs\":%d,\"target_rate\":%.0f,"
           "\"seconds\":%.1f,\"acked_in_window\":%zu,\"ops_per_s\":%.0f,\"p50_ms\":%.3f,"
           "\"p99_ms\":%.3f,\"max_ms\":%.3f,\"sent\":%llu,\"acked\":%llu,\"nacked\":%llu,"
           "\"errors\":%llu}\n",
           g.conn_count, g.connected, g.doc_count, g.rate, g.seconds, g.lat_count,
           (double)g.lat_count / g.seconds, p50, p99, max, (unsigned long long)g.sent,
           (unsigned long long)g.acked, (unsigned long long)g.nacked, (unsigned long long)g.errors);
    free(g.lat_us);
    free(g.update);
    free(g.conns);
    free(g.doc_list);
    free(g.docs);
    return g.connected == g.conn_count && g.errors == 0 ? 0 : 1;
}
