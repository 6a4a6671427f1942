/*
 * ingest-loadgen: the load generator of the ingest benchmark (bench/ingest/
 * run.sh). Opens N WebSocket write connections (docs/protocol.md) over a
 * set of documents on one libwebsockets client thread and sends UPDATE
 * messages carrying a real Yjs update made by the crdt engine, either at a
 * fixed total rate (open loop: --rate) or as fast as ACKs come back with a
 * window of ops in flight per connection (closed loop: --rate 0). The ACK
 * latency of each op is recorded after a warm-up, from the moment the op was
 * due - in the open loop its place in the schedule (start + n / rate), not
 * the moment this thread got round to writing it - so a late load generator
 * or a slow server cannot hide the wait of the ops queued behind (no
 * coordinated omission). The result is one JSON line: ops/s acknowledged,
 * p50/p99/max ACK latency, p50/p99 of the generator's own lag (due ->
 * written), NACKs, errors.
 *
 *   ingest-loadgen --url ws://127.0.0.1:8080 --token JWT --docs d1,d2,...
 *                  [--connections 1000] [--rate 10000] [--seconds 30]
 *                  [--warmup 3] [--window 64] [--event-batch-us 500]
 *
 * --event-batch-us: the shortest round of the event loop. lws 4.1 waits
 * with poll() over every socket, so a round per event would spend half a
 * core scanning 1,000 idle connections - CPU the broker and ingest need on
 * a small machine. ACKs are read up to this much later, which the latency
 * figures include (they only err on the slow side).
 */
#include <libwebsockets.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
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
    uint64_t next_seq;    /* next op to send */
    uint64_t acked_seq;   /* answers received (ACKs come in send order) */
    uint64_t owed;        /* ops due but not yet written */
    int64_t due_ns[RING]; /* when op seq (slot seq % RING) was due */
} lg_conn;

/* Measured durations in microseconds. */
typedef struct lg_samples {
    uint32_t *us;
    size_t count, cap;
} lg_samples;

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
    int64_t event_batch_ns;
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
    lg_samples lat; /* due -> ACK received */
    lg_samples lag; /* due -> written: the generator's own delay */
    lws_sorted_usec_list_t tick;
    int done;
} lg;

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Records t - due_ns when the op was due inside the measured window. A
 * sample lost to a failed allocation is counted as an error. */
static void record(lg *g, lg_samples *s, int64_t due_ns, int64_t t)
{
    if (due_ns < g->measure_from_ns || t > g->end_ns)
        return;
    if (s->count == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 1 << 20;
        uint32_t *p = realloc(s->us, cap * sizeof *p);
        if (!p) {
            g->errors++;
            return;
        }
        s->us = p;
        s->cap = cap;
    }
    s->us[s->count++] = (uint32_t)((t - due_ns) / 1000);
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
        wsframe_put_update(&b, op_id, (uint64_t)c->index + 1, 0, g->update, g->update_len);
        if (b.oom) {
            crdt_buf_free(&b);
            return -1;
        }
        int64_t t = now_ns();
        int n = lws_write(c->wsi, b.data + LWS_PRE, b.len - LWS_PRE, LWS_WRITE_BINARY);
        crdt_buf_free(&b);
        if (n < 0)
            return -1;
        record(g, &g->lag, c->due_ns[c->next_seq % RING], t);
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
        record(g, &g->lat, c->due_ns[c->acked_seq % RING], t);
    } else {
        g->nacked++;
    }
    c->acked_seq++;
    if (g->rate <= 0 && t < g->end_ns) {
        /* Closed loop: every answer releases the next op, due now. */
        c->due_ns[(c->next_seq + c->owed) % RING] = t;
        c->owed++;
    }
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
                    for (int k = 0; k < g->window; k++)
                        c->due_ns[k % RING] = t;
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
        /* Spread what is due over the connections round-robin; op n of the
         * schedule is due at start + n / rate, however late this tick runs. */
        g->due = g->rate * (double)(t - g->start_ns) / 1e9;
        int skipped = 0;
        while ((double)g->assigned + 0.5 < g->due && skipped < g->conn_count) {
            lg_conn *c = &g->conns[g->rr];
            g->rr = (g->rr + 1) % g->conn_count;
            /* A connection with RING ops unanswered has no slot left. */
            if (!c->wsi || !c->ready || c->next_seq + c->owed - c->acked_seq >= RING) {
                skipped++;
                continue;
            }
            c->due_ns[(c->next_seq + c->owed) % RING] =
                g->start_ns + (int64_t)((double)g->assigned * 1e9 / g->rate);
            c->owed++;
            g->assigned++;
            lws_callback_on_writable(c->wsi);
        }
    }
    lws_sul_schedule(g->ctx, 0, &g->tick, tick, LWS_US_PER_MS);
}

static void sleep_until(int64_t until_ns)
{
    for (;;) {
        int64_t left = until_ns - now_ns();
        if (left <= 0)
            return;
        struct timespec ts = {.tv_sec = (time_t)(left / 1000000000),
                              .tv_nsec = (long)(left % 1000000000)};
        (void)nanosleep(&ts, NULL); /* EINTR: the loop computes what is left */
    }
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* CPU time (user + system) this process used so far. */
static double cpu_seconds(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return -1;
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/* The q-quantile (0..1) in milliseconds after sorting; 0 when empty. */
static double quantile_ms(lg_samples *s, double q)
{
    if (s->count == 0)
        return 0;
    size_t i = (size_t)((double)s->count * q);
    if (i >= s->count)
        i = s->count - 1;
    return s->us[i] / 1000.0;
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

/* A whole number or a decimal in [min, max]; 0, or -1 for anything else. */
static int parse_number(const char *v, double min, double max, double *out)
{
    char *end = NULL;
    double x = strtod(v, &end);
    if (end == v || *end != '\0' || x < min || x > max)
        return -1;
    *out = x;
    return 0;
}

static int parse_args(lg *g, int argc, char **argv)
{
    const char *url = "ws://127.0.0.1:8080", *docs = NULL;
    g->conn_count = 1000;
    g->rate = 10000;
    g->seconds = 30;
    g->warmup = 3;
    g->window = 64;
    g->event_batch_ns = 500 * 1000LL;
    if (argc % 2 != 1)
        return -1; /* every flag takes a value */
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *k = argv[i], *v = argv[i + 1];
        double x = 0;
        int bad = 0;
        if (!strcmp(k, "--url"))
            url = v;
        else if (!strcmp(k, "--token"))
            g->token = v;
        else if (!strcmp(k, "--docs"))
            docs = v;
        else if (!strcmp(k, "--connections") && !(bad = parse_number(v, 1, 1e6, &x)))
            g->conn_count = (int)x;
        else if (!strcmp(k, "--rate") && !(bad = parse_number(v, 0, 1e9, &x)))
            g->rate = x;
        else if (!strcmp(k, "--seconds") && !(bad = parse_number(v, 0.1, 1e6, &x)))
            g->seconds = x;
        else if (!strcmp(k, "--warmup") && !(bad = parse_number(v, 0, 1e6, &x)))
            g->warmup = x;
        else if (!strcmp(k, "--window") && !(bad = parse_number(v, 1, RING, &x)))
            g->window = (int)x;
        else if (!strcmp(k, "--event-batch-us") && !(bad = parse_number(v, 0, 1e6, &x)))
            g->event_batch_ns = (int64_t)(x * 1000);
        else {
            fprintf(stderr, "ingest-loadgen: %s %s: %s\n", k, v,
                    bad ? "value out of range or not a number" : "unknown flag");
            return -1;
        }
    }
    if (!g->token || !docs)
        return -1;
    /* ws://HOST:PORT */
    const char *host = strncmp(url, "ws://", 5) == 0 ? url + 5 : NULL;
    const char *colon = host ? strrchr(host, ':') : NULL;
    double port = 0;
    if (!colon || colon == host || (size_t)(colon - host) >= sizeof g->host ||
        parse_number(colon + 1, 1, 65535, &port) != 0) {
        fprintf(stderr, "ingest-loadgen: --url %s: expected ws://HOST:PORT\n", url);
        return -1;
    }
    memcpy(g->host, host, (size_t)(colon - host));
    g->host[colon - host] = '\0';
    g->port = (int)port;
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

static void lg_free(lg *g)
{
    free(g->lat.us);
    free(g->lag.us);
    free(g->update);
    free(g->conns);
    free(g->doc_list);
    free(g->docs);
}

int main(int argc, char **argv)
{
    lg g;
    memset(&g, 0, sizeof g);
    if (parse_args(&g, argc, argv) != 0) {
        fprintf(stderr, "usage: ingest-loadgen --url ws://HOST:PORT --token JWT --docs d1,d2 "
                        "[--connections N] [--rate OPS_PER_S|0] [--seconds S] [--warmup S] "
                        "[--window N] [--event-batch-us US]\n");
        lg_free(&g);
        return 2;
    }
    if (make_update(&g) != 0) {
        fprintf(stderr, "cannot make a Yjs update\n");
        lg_free(&g);
        return 1;
    }
    g.conns = calloc((size_t)g.conn_count, sizeof *g.conns);
    if (!g.conns) {
        lg_free(&g);
        return 1;
    }
    lws_set_log_level(LLL_ERR, NULL);
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = protocols;
    info.user = &g;
    info.fd_limit_per_thread = (unsigned int)g.conn_count + 64;
    g.ctx = lws_create_context(&info);
    if (!g.ctx) {
        fprintf(stderr, "libwebsockets: cannot create a context\n");
        lg_free(&g);
        return 1;
    }
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
    for (;;) {
        int64_t round_start = now_ns();
        if (g.done || lws_service(g.ctx, 0) < 0)
            break;
        sleep_until(round_start + g.event_batch_ns);
    }
    lws_context_destroy(g.ctx);

    qsort(g.lat.us, g.lat.count, sizeof *g.lat.us, cmp_u32);
    qsort(g.lag.us, g.lag.count, sizeof *g.lag.us, cmp_u32);
    printf("{\"connections\":%d,\"connected\":%d,\"docs\":%d,\"target_rate\":%.0f,"
           "\"seconds\":%.1f,\"acked_in_window\":%zu,\"ops_per_s\":%.0f,\"p50_ms\":%.3f,"
           "\"p99_ms\":%.3f,\"p999_ms\":%.3f,\"max_ms\":%.3f,\"send_lag_p50_ms\":%.3f,"
           "\"send_lag_p99_ms\":%.3f,\"cpu_s\":%.1f,\"sent\":%llu,\"acked\":%llu,\"nacked\":%llu,"
           "\"errors\":%llu}\n",
           g.conn_count, g.connected, g.doc_count, g.rate, g.seconds, g.lat.count,
           (double)g.lat.count / g.seconds, quantile_ms(&g.lat, 0.5), quantile_ms(&g.lat, 0.99),
           quantile_ms(&g.lat, 0.999), quantile_ms(&g.lat, 1.0), quantile_ms(&g.lag, 0.5),
           quantile_ms(&g.lag, 0.99), cpu_seconds(), (unsigned long long)g.sent,
           (unsigned long long)g.acked, (unsigned long long)g.nacked, (unsigned long long)g.errors);
    int ok = g.connected == g.conn_count && g.errors == 0;
    lg_free(&g);
    return ok ? 0 : 1;
}
