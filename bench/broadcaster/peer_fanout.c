/*
 * peer-fanout: bc-fanout's load against the peers we compare with
 * (bench/e2e/run.sh runs it beside bc-fanout): SUBSCRIBERS WebSocket clients
 * of one document on one @y/websocket-server or @hocuspocus/server, each
 * speaking that server's protocol (y-protocols sync; Hocuspocus' document-name
 * prefix + auth + sync), and one writer client that sends OPS real Yjs updates
 * (made by our crdt engine, each inserting "~<seq>~" and filler: about the
 * size of bc-fanout's 64-byte ops) as fast as it can with at most WINDOW
 * updates not yet received by every subscriber (0: no limit; without one a
 * peer queues the whole burst in memory: y-websocket ran out of node's heap
 * with 10,000 x 1,000). One epoll loop reads
 * every subscriber, checks each receives every update in order, and measures
 * the messages delivered per second (first receipt to last) and each
 * delivery's latency (writer's send -> subscriber's read, one clock).
 * Prints one JSON object on stdout, progress on stderr.
 *
 *   peer-fanout [--path=PREFIX] [--token=JWT] [--idle]
 *               y-websocket|hocuspocus PORT SUBSCRIBERS OPS WINDOW DOC [SERVER_PID]
 *
 * The same clients speak to our broadcaster's edge (its stock-provider
 * endpoints): --path is the URL prefix (y-websocket: PREFIX/DOC, default
 * none; Hocuspocus: the path itself, default "/") and --token the JWT
 * (y-websocket: ?token=JWT on the URL; Hocuspocus: the auth message's token,
 * default "bench", which the peers do not check). The writer then writes
 * through the edge too, so every update goes through Kafka before anyone
 * sees it.
 *
 * --idle: no writer; once every subscriber is joined (its sync step 2 came)
 * prints {"joined": N, ...} on stdout and keeps the connections open
 * (answering pings) until stdin ends, then closes them and exits (the
 * memory benchmark reads the server's RSS meanwhile). OPS and WINDOW are
 * still read but unused.
 *
 * SERVER_PID: the peer's process, whose CPU time over the run is reported.
 * Exit 0 when every subscriber got every update in order (--idle: stayed
 * joined), 1 otherwise.
 * Prefix: pf_.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench/broadcaster/fanout_args.h"
#include "bench/broadcaster/fanout_stats.h"
#include "bench/broadcaster/fanout_wire.h"
#include "common/util.h"
#include "crdt/crdt.h"
#include "crdt/lib0.h"
#include "tests/integration/broadcaster/wsc.h"

enum { PF_TEXT_LEN = 48, PF_BATCH = 128, PF_TOKEN_MAX = 2048, PF_TARGET_MAX = 4096 };

typedef enum pf_protocol { PF_YWEBSOCKET, PF_HOCUSPOCUS } pf_protocol;

typedef struct pf_reader {
    wsc *c;
    uint64_t next; /* sequence number expected next, from 1 */
    fanout_partial partial;
    bool synced; /* the server's answer to our sync step 1 arrived */
    bool done;
    bool closed;
} pf_reader;

typedef struct pf_bench {
    pf_protocol protocol;
    int port;
    const char *path;  /* NULL: the peer's own (y-websocket "", Hocuspocus "/") */
    const char *token; /* NULL: none (y-websocket), "bench" (Hocuspocus) */
    bool idle;
    int subscribers, ops, window;
    const char *doc;
    pf_reader *readers;
    _Atomic int64_t *sent_ns; /* [ops + 1]: when the writer sent update seq */
    fanout_latency latency;
    uint64_t delivered, bad;
    atomic_uint_fast64_t delivered_shared; /* delivered, for the writer's window */
    int synced, finished;
    int64_t first_ns, last_ns;
    atomic_int go;           /* main -> writer: everyone is subscribed, send */
    atomic_int stop;         /* main -> writer: the run is over */
    atomic_int writer_state; /* 0 connecting, 1 ready, 2 sent all, -1 failed */
} pf_bench;

/* The path a client upgrades on: y-websocket takes the document (and the
 * token) from it; Hocuspocus names the document in every message instead. */
static void pf_target(const pf_bench *b, char *out, size_t size)
{
    if (b->protocol == PF_YWEBSOCKET)
        snprintf(out, size, "%s/%s%s%s", b->path ? b->path : "", b->doc, b->token ? "?token=" : "",
                 b->token ? b->token : "");
    else
        snprintf(out, size, "%s", b->path ? b->path : "/");
}

/* What a provider sends first: (Hocuspocus) its token, then sync step 1 with
 * an empty state vector. The server answers the latter with sync step 2;
 * Hocuspocus holds messages until the auth is through, so both go at once. */
static int pf_send_hello(const pf_bench *b, wsc *c)
{
    crdt_buf m;
    int rc = 0;
    if (b->protocol == PF_HOCUSPOCUS) {
        crdt_buf_init(&m);
        crdt_buf_varbytes(&m, b->doc, strlen(b->doc)); /* varString = varUint8Array of UTF-8 */
        crdt_buf_varuint(&m, 2);                       /* Auth */
        crdt_buf_varuint(&m, 0);                       /* Token */
        const char *token = b->token ? b->token : "bench";
        crdt_buf_varbytes(&m, token, strlen(token));
        rc = m.oom ? -1 : wsc_send(c, m.data, m.len);
        crdt_buf_free(&m);
        if (rc != 0)
            return -1;
    }
    crdt_buf_init(&m);
    if (b->protocol == PF_HOCUSPOCUS)
        crdt_buf_varbytes(&m, b->doc, strlen(b->doc));
    crdt_buf_varuint(&m, 0); /* Sync */
    crdt_buf_varuint(&m, 0); /* step 1 */
    static const uint8_t empty_state_vector[1] = {0};
    crdt_buf_varbytes(&m, empty_state_vector, sizeof empty_state_vector);
    rc = m.oom ? -1 : wsc_send(c, m.data, m.len);
    crdt_buf_free(&m);
    return rc;
}

/* The sync message inside a server message: 1 with *step set (1 step 2, 2
 * update) and the update bytes, 0 for messages of no interest (awareness,
 * auth, the server's own step 1), -1 when malformed. */
static int pf_sync_message(const pf_bench *b, const uint8_t *p, size_t n, uint64_t *step,
                           const uint8_t **update, size_t *update_len)
{
    crdt_rd rd;
    crdt_rd_init(&rd, p, n);
    if (b->protocol == PF_HOCUSPOCUS) {
        size_t name_len;
        (void)crdt_rd_varstring(&rd, &name_len);
    }
    uint64_t type = crdt_rd_varuint(&rd);
    /* Hocuspocus answers a client's step 1 as SyncReply (4), pushes as Sync (0). */
    if (!crdt_rd_ok(&rd))
        return -1;
    if (type != 0 && !(b->protocol == PF_HOCUSPOCUS && type == 4))
        return 0;
    uint64_t kind = crdt_rd_varuint(&rd);
    if (kind != 1 && kind != 2)
        return 0;
    *update = crdt_rd_varbytes(&rd, update_len);
    if (!crdt_rd_ok(&rd))
        return -1;
    *step = kind;
    return 1;
}

/* The writer's sequence number inside an update ("~00000042~"), or 0. The
 * marker is searched for, not found at the first '~': the update's varints
 * (client id, clock) may contain that byte too. */
static uint64_t pf_update_seq(const uint8_t *u, size_t n)
{
    for (const uint8_t *p = memchr(u, '~', n); p; p = memchr(p + 1, '~', (size_t)(u + n - p - 1))) {
        if ((size_t)(u + n - p) < 10)
            return 0;
        if (p[9] != '~')
            continue;
        uint64_t seq = 0;
        int i = 1;
        for (; i <= 8 && p[i] >= '0' && p[i] <= '9'; i++)
            seq = seq * 10 + (uint64_t)(p[i] - '0');
        if (i == 9)
            return seq;
    }
    return 0;
}

static void pf_message(pf_bench *b, pf_reader *r, const uint8_t *p, size_t n)
{
    uint64_t step = 0;
    const uint8_t *update = NULL;
    size_t update_len = 0;
    int got = pf_sync_message(b, p, n, &step, &update, &update_len);
    if (got < 0) {
        b->bad++;
        return;
    }
    if (got == 0)
        return;
    if (step == 1) {
        if (!r->synced) {
            r->synced = true;
            b->synced++;
        }
        return;
    }
    uint64_t seq = pf_update_seq(update, update_len);
    if (seq == 0 || seq != r->next) {
        b->bad++; /* lost, duplicated or out of order */
        return;
    }
    r->next++;
    int64_t now = util_now_ns();
    b->delivered++;
    atomic_store_explicit(&b->delivered_shared, b->delivered, memory_order_relaxed);
    if (!b->first_ns)
        b->first_ns = now;
    b->last_ns = now;
    fanout_latency_add(&b->latency,
                       now - atomic_load_explicit(&b->sent_ns[seq], memory_order_relaxed));
    if (!r->done && r->next == (uint64_t)b->ops + 1) {
        r->done = true;
        b->finished++;
    }
}

/* Which subscriber a frame came to, for pf_frame. */
typedef struct pf_frame_ctx {
    pf_bench *b;
    pf_reader *r;
} pf_frame_ctx;

static void pf_frame(void *ctx, uint8_t opcode, bool fin, const uint8_t *payload, size_t len)
{
    pf_bench *b = ((pf_frame_ctx *)ctx)->b;
    pf_reader *r = ((pf_frame_ctx *)ctx)->r;
    if (!fin || opcode == 0x0) {
        b->bad++; /* neither peer fragments; counting a fragment would be wrong */
    } else if (opcode == 0x9) {
        /* Both peers ping every 30 s and hang up on clients that did not answer. */
        if (fanout_pong(r->c->fd, payload, len) != 0)
            b->bad++;
    } else if (opcode == 0x8) {
        r->closed = true;
    } else if (opcode == 0x2) {
        pf_message(b, r, payload, len);
    }
}

/* 0, or -1 when out of memory. */
static int pf_feed(pf_bench *b, pf_reader *r, const uint8_t *p, size_t n)
{
    pf_frame_ctx ctx = {b, r};
    return fanout_feed(&r->partial, p, n, pf_frame, &ctx);
}

/* Reads what the ready subscribers have, waiting up to timeout_ms; returns
 * how many were ready (at most 256), or -1 when out of memory. */
static int pf_drain(pf_bench *b, int ep, uint8_t *buf, size_t buf_size, int timeout_ms)
{
    struct epoll_event evs[256];
    int n = epoll_wait(ep, evs, 256, timeout_ms);
    for (int i = 0; i < n; i++) {
        pf_reader *r = evs[i].data.ptr;
        for (;;) {
            ssize_t got = read(r->c->fd, buf, buf_size);
            if (got == 0 || (got < 0 && errno != EAGAIN && errno != EINTR)) {
                r->closed = true;
                break;
            }
            if (got < 0)
                break;
            if (pf_feed(b, r, buf, (size_t)got) != 0)
                return -1;
            if ((size_t)got < buf_size)
                break;
        }
        if (r->closed) {
            /* The server hung up: this subscriber cannot finish. */
            epoll_ctl(ep, EPOLL_CTL_DEL, r->c->fd, NULL);
            b->bad++;
        }
    }
    return n < 0 && errno == EINTR ? 0 : n;
}

/* One update of the writer: inserts "~<seq>~" plus filler at the start of
 * the text, as a Yjs client typing would. The message is framed for the
 * peer's protocol into *out, which the caller frees with crdt_buf_free
 * whatever this returns (0, or -1 on failure). */
static int pf_update_message(const pf_bench *b, crdt_doc *doc, int seq, crdt_buf *out)
{
    crdt_buf_init(out); /* first, so the caller may free it on any failure */
    char text[PF_TEXT_LEN + 1];
    int head = snprintf(text, sizeof text, "~%08d~", seq);
    memset(text + head, 'u', (size_t)(PF_TEXT_LEN - head));
    text[PF_TEXT_LEN] = '\0';
    uint8_t *update = NULL;
    size_t update_len = 0;
    crdt_status st = crdt_text_insert(doc, "t", 0, text, PF_TEXT_LEN, NULL, &update, &update_len);
    if (st != CRDT_OK) {
        fprintf(stderr, "peer-fanout: crdt_text_insert: %s\n", crdt_strerror(st));
        return -1;
    }
    if (b->protocol == PF_HOCUSPOCUS)
        crdt_buf_varbytes(out, b->doc, strlen(b->doc));
    crdt_buf_varuint(out, 0); /* Sync */
    crdt_buf_varuint(out, 2); /* update */
    crdt_buf_varbytes(out, update, update_len);
    free(update);
    return out->oom ? -1 : 0;
}

/* Reads one message of the writer's socket (its own echoes; pings are
 * answered) within timeout_ms, setting *synced at the server's sync step 2.
 * 0, or -1 when the connection closed. */
static int pf_writer_read(pf_bench *b, wsc *c, int timeout_ms, bool *synced)
{
    const uint8_t *m;
    size_t len;
    int got = wsc_read(c, timeout_ms, &m, &len);
    if (got < 0)
        return -1;
    uint64_t step;
    const uint8_t *update;
    size_t update_len;
    if (got == 1 && pf_sync_message(b, m, len, &step, &update, &update_len) == 1 && step == 1)
        *synced = true;
    return 0;
}

static void *pf_writer(void *arg)
{
    pf_bench *b = arg;
    char target[PF_TARGET_MAX];
    pf_target(b, target, sizeof target);
    int status = 0;
    crdt_doc *doc = NULL;
    wsc *c = wsc_connect(b->port, target, NULL, 0, &status, NULL, 0);
    if (!c || pf_send_hello(b, c) != 0 || crdt_doc_new(NULL, &doc) != CRDT_OK) {
        fprintf(stderr, "peer-fanout: writer could not connect (HTTP %d)\n", status);
        goto failed;
    }
    bool synced = false;
    int64_t deadline = util_now_ms() + 30000;
    while (!synced && util_now_ms() < deadline)
        if (pf_writer_read(b, c, 100, &synced) != 0)
            break;
    if (!synced) {
        fprintf(stderr, "peer-fanout: the writer got no sync step 2\n");
        goto failed;
    }
    atomic_store(&b->writer_state, 1);
    while (!atomic_load(&b->go) && !atomic_load(&b->stop))
        if (pf_writer_read(b, c, 20, &synced) != 0)
            goto failed;
    for (int seq = 1; seq <= b->ops && !atomic_load(&b->stop); seq++) {
        /* The window: wait (reading our echoes) until the subscribers as a
         * whole hold update seq - 1 - window. */
        uint64_t needed = b->window > 0 && seq - 1 > b->window
                              ? (uint64_t)(seq - 1 - b->window) * (uint64_t)b->subscribers
                              : 0;
        while (atomic_load_explicit(&b->delivered_shared, memory_order_relaxed) < needed &&
               !atomic_load(&b->stop))
            if (pf_writer_read(b, c, 1, &synced) != 0)
                goto failed;
        crdt_buf m;
        if (pf_update_message(b, doc, seq, &m) != 0) {
            crdt_buf_free(&m);
            goto failed;
        }
        atomic_store_explicit(&b->sent_ns[seq], util_now_ns(), memory_order_relaxed);
        int rc = wsc_send(c, m.data, m.len);
        crdt_buf_free(&m);
        if (rc != 0) {
            fprintf(stderr, "peer-fanout: the writer's connection failed at update %d\n", seq);
            goto failed;
        }
    }
    atomic_store(&b->writer_state, 2);
    /* Keep answering pings (and reading our own echoes) until the end. */
    while (!atomic_load(&b->stop))
        if (pf_writer_read(b, c, 50, &synced) != 0)
            break;
    crdt_doc_free(doc);
    wsc_close(c);
    return NULL;
failed:
    atomic_store(&b->writer_state, -1);
    if (doc)
        crdt_doc_free(doc);
    wsc_close(c);
    return NULL;
}

/* Opens every subscriber (upgrades in batches so the handshakes overlap) and
 * registers it with the epoll set. 0, or -1 with the reason on stderr. */
static int pf_subscribe_all(pf_bench *b, int ep, uint8_t *buf, size_t buf_size)
{
    char target[PF_TARGET_MAX];
    pf_target(b, target, sizeof target);
    for (int first = 0; first < b->subscribers; first += PF_BATCH) {
        int last = first + PF_BATCH < b->subscribers ? first + PF_BATCH : b->subscribers;
        for (int i = first; i < last; i++) {
            b->readers[i].c = wsc_connect_begin(b->port, target, NULL, 0);
            if (!b->readers[i].c) {
                fprintf(stderr, "peer-fanout: connection %d failed: %s\n", i, strerror(errno));
                return -1;
            }
        }
        for (int i = first; i < last; i++) {
            pf_reader *r = &b->readers[i];
            int status = 0;
            if (wsc_connect_end(r->c, &status, NULL, 0) != 0) {
                r->c = NULL;
                fprintf(stderr, "peer-fanout: connection %d refused: HTTP %d\n", i, status);
                return -1;
            }
            if (pf_send_hello(b, r->c) != 0) {
                fprintf(stderr, "peer-fanout: connection %d: hello not sent\n", i);
                return -1;
            }
            int flags = fcntl(r->c->fd, F_GETFL);
            struct epoll_event ev = {.events = EPOLLIN, .data.ptr = r};
            if (flags < 0 || fcntl(r->c->fd, F_SETFL, flags | O_NONBLOCK) != 0 ||
                epoll_ctl(ep, EPOLL_CTL_ADD, r->c->fd, &ev) != 0) {
                fprintf(stderr, "peer-fanout: connection %d: %s\n", i, strerror(errno));
                return -1;
            }
            if (r->c->len) { /* bytes wsc read past the handshake */
                if (pf_feed(b, r, r->c->buf, r->c->len) != 0)
                    return -1;
                r->c->len = 0;
            }
        }
        while (pf_drain(b, ep, buf, buf_size, 0) == 256)
            ;
    }
    return 0;
}

static void pf_free(pf_bench *b)
{
    if (b->readers)
        for (int i = 0; i < b->subscribers; i++) {
            wsc_close(b->readers[i].c);
            fanout_partial_free(&b->readers[i].partial);
        }
    free(b->readers);
    free((void *)b->sent_ns);
    fanout_latency_free(&b->latency);
}

/* --idle, once every subscriber is joined: says so on stdout, then keeps
 * the connections (reading them, answering pings) until stdin ends. 0 when
 * none was closed meanwhile, else -1. */
static int pf_hold(pf_bench *b, int ep, uint8_t *buf, size_t buf_size, double join_s)
{
    printf("{\"system\":\"%s\",\"subscribers\":%d,\"joined\":%d,\"seconds\":%.3f}\n",
           b->protocol == PF_YWEBSOCKET ? "y-websocket" : "hocuspocus", b->subscribers, b->synced,
           join_s);
    fflush(stdout);
    struct pollfd in = {.fd = STDIN_FILENO, .events = POLLIN};
    for (;;) {
        if (pf_drain(b, ep, buf, buf_size, 100) < 0)
            return -1;
        int ready = poll(&in, 1, 0);
        if (ready < 0 && errno != EINTR)
            break;
        if (ready > 0) {
            char line[256];
            if (read(STDIN_FILENO, line, sizeof line) <= 0)
                break; /* the end of stdin: done */
        }
    }
    if (b->bad)
        fprintf(stderr, "peer-fanout: %llu connections closed or bad messages while idle\n",
                (unsigned long long)b->bad);
    return b->bad == 0 ? 0 : -1;
}

static int pf_run(pf_bench *b, pid_t server)
{
    size_t buf_size = 1 << 16;
    uint8_t *buf = malloc(buf_size);
    int ep = epoll_create1(0);
    if (!buf || ep < 0) {
        free(buf);
        return -1;
    }
    pthread_t writer;
    bool writer_started = false;
    if (b->idle) {
        atomic_store(&b->writer_state, 1); /* no writer to wait for */
    } else if (pthread_create(&writer, NULL, pf_writer, b) != 0) {
        free(buf);
        close(ep);
        return -1;
    } else {
        writer_started = true;
    }
    int rc = -1;
    int64_t t0 = util_now_ns();
    if (pf_subscribe_all(b, ep, buf, buf_size) != 0)
        goto out;
    fprintf(stderr, "peer-fanout: %d connections open in %.1f s; waiting for every sync\n",
            b->subscribers, (double)(util_now_ns() - t0) / 1e9);
    int64_t deadline = util_now_ms() + 120000;
    while ((b->synced < b->subscribers || atomic_load(&b->writer_state) == 0) &&
           util_now_ms() < deadline && atomic_load(&b->writer_state) >= 0 && b->bad == 0)
        if (pf_drain(b, ep, buf, buf_size, 100) < 0)
            goto out;
    if (b->synced < b->subscribers || atomic_load(&b->writer_state) != 1 || b->bad) {
        fprintf(stderr, "peer-fanout: %d of %d subscribers synced, writer state %d, %llu bad\n",
                b->synced, b->subscribers, atomic_load(&b->writer_state),
                (unsigned long long)b->bad);
        goto out;
    }
    if (b->idle) {
        rc = pf_hold(b, ep, buf, buf_size, (double)(util_now_ns() - t0) / 1e9);
        goto out;
    }
    double cpu0 = server > 0 ? fanout_cpu_seconds(server) : -1;
    double own0 = fanout_cpu_seconds(getpid()); /* the reading side's cost, beside the server's */
    atomic_store(&b->go, 1);
    /* Stop at the end, at the first fault, or when nothing arrived for 60 s. */
    int64_t quiet_until = util_now_ms() + 60000, report = util_now_ms() + 5000;
    uint64_t seen = 0;
    while (b->finished < b->subscribers && b->bad == 0 && util_now_ms() < quiet_until &&
           atomic_load(&b->writer_state) >= 0) {
        if (pf_drain(b, ep, buf, buf_size, 100) < 0)
            goto out;
        if (b->delivered != seen) {
            seen = b->delivered;
            quiet_until = util_now_ms() + 60000;
        }
        if (util_now_ms() > report) {
            fprintf(stderr, "  ... %llu delivered, %d subscribers complete\n",
                    (unsigned long long)b->delivered, b->finished);
            report += 5000;
        }
    }
    double cpu1 = server > 0 ? fanout_cpu_seconds(server) : -1;
    double own1 = fanout_cpu_seconds(getpid());
    uint64_t expected = (uint64_t)b->subscribers * (uint64_t)b->ops;
    double secs = (double)(b->last_ns - b->first_ns) / 1e9;
    double rate = secs > 0 ? (double)b->delivered / secs : 0;
    fprintf(stderr,
            "peer-fanout: delivered %llu of %llu in %.2f s: %.0f msg/s; lost, out of order or "
            "closed %llu\n",
            (unsigned long long)b->delivered, (unsigned long long)expected, secs, rate,
            (unsigned long long)b->bad);
    printf("{\"system\":\"%s\",\"subscribers\":%d,\"ops\":%d,\"delivered\":%llu,"
           "\"expected\":%llu,\"seconds\":%.3f,\"perSecond\":%.0f,\"bad\":%llu,"
           "\"p50Ms\":%.2f,\"p90Ms\":%.2f,\"p99Ms\":%.2f,\"maxMs\":%.2f,\"serverCpuSeconds\":%.2f,"
           "\"clientCpuSeconds\":%.2f}\n",
           b->protocol == PF_YWEBSOCKET ? "y-websocket" : "hocuspocus", b->subscribers, b->ops,
           (unsigned long long)b->delivered, (unsigned long long)expected, secs, rate,
           (unsigned long long)b->bad, fanout_latency_ms(&b->latency, 50),
           fanout_latency_ms(&b->latency, 90), fanout_latency_ms(&b->latency, 99),
           fanout_latency_ms(&b->latency, 100), cpu0 >= 0 && cpu1 >= 0 ? cpu1 - cpu0 : -1.0,
           own0 >= 0 && own1 >= 0 ? own1 - own0 : -1.0);
    rc = b->delivered == expected && b->bad == 0 ? 0 : -1;
out:
    atomic_store(&b->stop, 1);
    if (writer_started)
        pthread_join(writer, NULL);
    close(ep);
    free(buf);
    return rc;
}

/* The leading options; returns the index of the first positional
 * argument, or -1 on a bad option. */
static int pf_options(int argc, char **argv, pf_bench *b)
{
    int i = 1;
    for (; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
        const char *a = argv[i];
        if (strncmp(a, "--path=", 7) == 0 && a[7] == '/' && strlen(a + 7) < 512) {
            b->path = a + 7;
        } else if (strncmp(a, "--token=", 8) == 0 && a[8] && strlen(a + 8) <= PF_TOKEN_MAX) {
            b->token = a + 8;
        } else if (strcmp(a, "--idle") == 0) {
            b->idle = true;
        } else {
            fprintf(stderr, "peer-fanout: bad option %s\n", a);
            return -1;
        }
    }
    return i;
}

int main(int argc, char **argv)
{
    pf_bench b = {0};
    int at = pf_options(argc, argv, &b);
    int left = at < 0 ? 0 : argc - at;
    if (left != 6 && left != 7) {
        fprintf(stderr, "usage: peer-fanout [--path=PREFIX] [--token=JWT] [--idle] "
                        "y-websocket|hocuspocus PORT SUBSCRIBERS OPS WINDOW DOC [SERVER_PID]\n");
        return 2;
    }
    char **arg = argv + at;
    b.doc = arg[5];
    if (strcmp(arg[0], "y-websocket") == 0) {
        b.protocol = PF_YWEBSOCKET;
    } else if (strcmp(arg[0], "hocuspocus") == 0) {
        b.protocol = PF_HOCUSPOCUS;
    } else {
        fprintf(stderr, "peer-fanout: unknown server kind %s\n", arg[0]);
        return 2;
    }
    int server = 0;
    /* OPS fits the 8 digits of the "~<seq>~" marker. */
    if (fanout_parse_int(arg[1], 1, 65535, &b.port) != 0 ||
        fanout_parse_int(arg[2], 1, 1000000, &b.subscribers) != 0 ||
        fanout_parse_int(arg[3], 1, 99999999, &b.ops) != 0 ||
        fanout_parse_int(arg[4], 0, b.ops, &b.window) != 0 || strlen(b.doc) == 0 ||
        strlen(b.doc) > 200 || (left == 7 && fanout_parse_int(arg[6], 1, INT_MAX, &server) != 0)) {
        fprintf(stderr, "peer-fanout: bad arguments\n");
        return 2;
    }
    /* One descriptor per subscriber, plus the writer and a few of our own. */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        rl.rlim_cur = rl.rlim_max;
        (void)setrlimit(RLIMIT_NOFILE, &rl);
        if (rl.rlim_cur < (rlim_t)b.subscribers + 64) {
            fprintf(stderr, "peer-fanout: %d subscribers need %d open files; the limit is %llu\n",
                    b.subscribers, b.subscribers + 64, (unsigned long long)rl.rlim_cur);
            return 1;
        }
    }
    uint64_t expected = (uint64_t)b.subscribers * (uint64_t)b.ops;
    b.readers = calloc((size_t)b.subscribers, sizeof *b.readers);
    b.sent_ns = calloc((size_t)b.ops + 1, sizeof *b.sent_ns);
    if (!b.readers || !b.sent_ns || fanout_latency_init(&b.latency, (size_t)expected) != 0) {
        fprintf(stderr, "peer-fanout: out of memory\n");
        pf_free(&b);
        return 1;
    }
    for (int i = 0; i < b.subscribers; i++)
        b.readers[i].next = 1;
    int rc = pf_run(&b, (pid_t)server);
    pf_free(&b);
    return rc == 0 ? 0 : 1;
}
