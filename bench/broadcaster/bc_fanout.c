/*
 * bc-fanout: the broadcaster's fan-out benchmark (bench/broadcaster/run.sh).
 * Starts build/bin/broadcaster on its own topic and database (the
 * integration tests' harness, tests/integration/broadcaster/bt.h), opens
 * SUBSCRIBERS read connections spread over DOCS documents, then produces
 * OPS merged operations per document to Kafka as fast as it can, and reads
 * every connection with one epoll loop that checks each message is the next
 * version. It measures messages delivered per second from the first
 * MERGED received to the last, and each delivery's latency (the producer's
 * hand-over to Kafka -> read by the subscriber, one clock: the same measure
 * peer-fanout takes of the peers), and prints a markdown row for
 * docs/benchmarks.md on stdout (details on stderr).
 *
 *   bc-fanout SUBSCRIBERS DOCS OPS PAYLOAD_BYTES [WINDOW]
 *
 * WINDOW > 0 holds the producer back until the subscribers as a whole hold
 * version v - 1 - WINDOW of every document before it produces version v (the
 * flow control peer-fanout needs for the peers, applied alike to ours in
 * bench/e2e); 0 or absent: one burst, as fast as Kafka takes it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "bench/broadcaster/fanout_args.h"
#include "bench/broadcaster/fanout_stats.h"
#include "bench/broadcaster/fanout_wire.h"
#include "common/util.h"
#include "crdt/lib0.h"
#include "tests/integration/broadcaster/bt.h"

typedef struct reader {
    wsc *c;
    int doc;
    uint64_t next; /* the version expected next; 0 until the STATE */
    fanout_partial partial;
    bool done;
    bool closed;
} reader;

typedef struct bench {
    bt_env env;
    int subscribers, docs, ops, window;
    size_t payload;
    char (*doc_ids)[160];
    reader *readers;
    _Atomic int64_t *sent_ns; /* [docs * (ops + 1)]: when doc d's version v was produced */
    fanout_latency latency;
    uint64_t delivered, bad, resyncs;
    atomic_uint_fast64_t delivered_shared; /* delivered, for the producer's window */
    atomic_int stop;                       /* main -> producer: the run is over */
    int64_t first_ns, last_ns;
    int finished;
} bench;

/* Which reader a frame came to, for on_frame. */
typedef struct frame_ctx {
    bench *b;
    reader *r;
} frame_ctx;

static void on_frame(void *ctx, uint8_t opcode, bool fin, const uint8_t *payload, size_t len)
{
    bench *b = ((frame_ctx *)ctx)->b;
    reader *r = ((frame_ctx *)ctx)->r;
    if (opcode == 0x9) {
        /* lws pings idle readers and hangs up on those that stay silent. */
        if (fanout_pong(r->c->fd, payload, len) != 0)
            b->bad++;
        return;
    }
    if (opcode != 0x2 || !fin)
        return; /* the broadcaster sends every message in one binary frame */
    crdt_rd rd;
    crdt_rd_init(&rd, payload, len);
    uint64_t type = crdt_rd_varuint(&rd);
    if (type == 48 || type == 49) {
        uint64_t version = crdt_rd_varuint(&rd);
        if (type == 48) {
            r->next = version + 1;
        } else if (version == r->next && version <= (uint64_t)b->ops) {
            r->next++;
            b->delivered++;
            atomic_store_explicit(&b->delivered_shared, b->delivered, memory_order_relaxed);
            int64_t now = util_now_ns();
            size_t at = (size_t)r->doc * ((size_t)b->ops + 1) + (size_t)version;
            fanout_latency_add(&b->latency,
                               now - atomic_load_explicit(&b->sent_ns[at], memory_order_relaxed));
            if (!b->first_ns)
                b->first_ns = now;
            b->last_ns = now;
        } else {
            b->bad++;
        }
        if (!r->done && r->next == (uint64_t)b->ops + 1) {
            r->done = true;
            b->finished++;
        }
    } else if (type == 51) {
        b->resyncs++;
    }
}

static void feed(bench *b, reader *r, const uint8_t *p, size_t n)
{
    frame_ctx ctx = {b, r};
    if (fanout_feed(&r->partial, p, n, on_frame, &ctx) != 0)
        abort(); /* out of memory: no figure to report */
}

/* Reads whatever the ready connections have (waiting up to timeout_ms);
 * returns how many were ready (at most 256). */
static int drain(bench *b, int ep, int timeout_ms)
{
    static uint8_t buf[1 << 16];
    struct epoll_event evs[256];
    int n = epoll_wait(ep, evs, 256, timeout_ms);
    for (int i = 0; i < n; i++) {
        reader *r = evs[i].data.ptr;
        for (;;) {
            ssize_t got = read(r->c->fd, buf, sizeof buf);
            if (got == 0 || (got < 0 && errno != EAGAIN && errno != EINTR)) {
                /* The broadcaster closed it: that reader will not finish. */
                epoll_ctl(ep, EPOLL_CTL_DEL, r->c->fd, NULL);
                r->closed = true;
                b->bad++;
                break;
            }
            if (got < 0)
                break;
            feed(b, r, buf, (size_t)got);
            if ((size_t)got < sizeof buf)
                break;
        }
    }
    return n;
}

/* Reads until no connection has anything (all events, not just one batch). */
static void drain_all(bench *b, int ep)
{
    while (drain(b, ep, 0) == 256)
        ;
}

static void *produce(void *arg)
{
    bench *b = arg;
    uint8_t *payload = malloc(b->payload);
    memset(payload, 'u', b->payload);
    for (int v = 1; v <= b->ops && !atomic_load(&b->stop); v++) {
        uint64_t needed = b->window > 0 && v - 1 > b->window
                              ? (uint64_t)(v - 1 - b->window) * (uint64_t)b->subscribers
                              : 0;
        while (atomic_load_explicit(&b->delivered_shared, memory_order_relaxed) < needed &&
               !atomic_load(&b->stop))
            util_sleep_ms(1);
        for (int d = 0; d < b->docs; d++) {
            char op[48];
            snprintf(op, sizeof op, "op-%d-%d", d, v);
            size_t at = (size_t)d * ((size_t)b->ops + 1) + (size_t)v;
            atomic_store_explicit(&b->sent_ns[at], util_now_ns(), memory_order_relaxed);
            while (bt_send_merged_nowait(&b->env, b->doc_ids[d], v, op, payload, b->payload) != 0)
                util_sleep_ms(1);
        }
    }
    bt_flush(&b->env);
    free(payload);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 5 && argc != 6) {
        fprintf(stderr, "usage: bc-fanout SUBSCRIBERS DOCS OPS PAYLOAD_BYTES [WINDOW]\n");
        return 2;
    }
    bench b = {0};
    int payload = 0;
    if (fanout_parse_int(argv[1], 1, 1000000, &b.subscribers) != 0 ||
        fanout_parse_int(argv[2], 1, b.subscribers, &b.docs) != 0 ||
        fanout_parse_int(argv[3], 1, 100000000, &b.ops) != 0 ||
        fanout_parse_int(argv[4], 1, 1 << 20, &payload) != 0 ||
        (argc == 6 && fanout_parse_int(argv[5], 0, b.ops, &b.window) != 0)) {
        fprintf(stderr,
                "bc-fanout: bad arguments (DOCS at most SUBSCRIBERS, WINDOW at most OPS)\n");
        return 2;
    }
    b.payload = (size_t)payload;
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    if (bt_env_init(&b.env, "fanout", 6) != 0)
        return 1;
    ustore_user user;
    char *token = NULL;
    b.doc_ids = calloc((size_t)b.docs, sizeof *b.doc_ids);
    b.readers = calloc((size_t)b.subscribers, sizeof *b.readers);
    b.sent_ns = calloc((size_t)b.docs * ((size_t)b.ops + 1), sizeof *b.sent_ns);
    if (!b.doc_ids || !b.readers || !b.sent_ns ||
        fanout_latency_init(&b.latency, (size_t)b.subscribers * (size_t)b.ops) != 0) {
        fprintf(stderr, "bc-fanout: out of memory\n");
        free(b.doc_ids);
        free(b.readers);
        free((void *)b.sent_ns);
        fanout_latency_free(&b.latency);
        bt_env_free(&b.env);
        return 1;
    }
    if (bt_user(&b.env, "bench", &user, &token) != 0)
        return 1;
    for (int d = 0; d < b.docs; d++) {
        char name[32];
        snprintf(name, sizeof name, "d%d", d);
        bt_doc_id(&b.env, name, b.doc_ids[d], sizeof b.doc_ids[d]);
        if (bt_doc(&b.env, b.doc_ids[d], user.id) != 0)
            return 1;
    }
    const char *extra[] = {"--queue-max-messages",
                           "1000000",
                           "--queue-max-bytes",
                           "256MiB",
                           "--max-connections",
                           "20000",
                           "--log-level",
                           "warn",
                           NULL};
    if (bt_start(&b.env, extra) != 0)
        return 1;
    /* Warm the producer up (topic metadata, idempotence handshake) with a
     * record nobody reads, so the first measured ops do not wait for it. */
    char warm[200];
    bt_doc_id(&b.env, "warm-up", warm, sizeof warm);
    if (bt_send_merged(&b.env, warm, 1, "warm-up", CAVRO_MERGED_YJS_UPDATE, (const uint8_t *)"w",
                       1) != 0)
        return 1;
    fprintf(stderr, "broadcaster up (pid %d); opening %d connections\n", (int)b.env.pid,
            b.subscribers);
    int ep = epoll_create1(0);
    int64_t t0 = util_now_ns();
    /* Upgrades go out in batches (all requests, then all answers), so the
     * handshakes overlap instead of paying one round trip each. */
    const int batch = 128;
    for (int first = 0; first < b.subscribers; first += batch) {
        int last = first + batch < b.subscribers ? first + batch : b.subscribers;
        for (int i = first; i < last; i++) {
            reader *r = &b.readers[i];
            r->doc = i % b.docs;
            char target[AUTHTOKEN_MAX_LEN + 512];
            bt_target(&b.env, b.doc_ids[r->doc], token, -1, target, sizeof target);
            r->c = wsc_connect_begin(b.env.port, target, NULL, 0);
            if (!r->c) {
                fprintf(stderr, "connection %d failed\n", i);
                return 1;
            }
        }
        for (int i = first; i < last; i++) {
            reader *r = &b.readers[i];
            int status = 0;
            if (wsc_connect_end(r->c, &status, NULL, 0) != 0) {
                r->c = NULL;
                fprintf(stderr, "connection %d refused: %d\n", i, status);
                return 1;
            }
            fcntl(r->c->fd, F_SETFL, fcntl(r->c->fd, F_GETFL) | O_NONBLOCK);
            struct epoll_event ev = {.events = EPOLLIN, .data.ptr = r};
            epoll_ctl(ep, EPOLL_CTL_ADD, r->c->fd, &ev);
            if (r->c->len) { /* bytes wsc read past the handshake */
                feed(&b, r, r->c->buf, r->c->len);
                r->c->len = 0;
            }
        }
        drain_all(&b, ep); /* keep the open ones answered (pings) */
    }
    fprintf(stderr, "connected in %.1f s; waiting for every STATE\n",
            (double)(util_now_ns() - t0) / 1e9);
    int64_t deadline = util_now_ms() + 120000;
    while (util_now_ms() < deadline) {
        int with_state = 0;
        for (int i = 0; i < b.subscribers; i++)
            with_state += b.readers[i].next != 0;
        if (with_state == b.subscribers)
            break;
        drain(&b, ep, 100);
    }
    /* BENCH_IDLE_MS: stay idle (answering pings) before producing, to check
     * that idle readers survive the broadcaster's keepalive. */
    const char *idle = getenv("BENCH_IDLE_MS");
    int idle_ms = 0;
    if (idle && fanout_parse_int(idle, 0, 3600000, &idle_ms) != 0)
        fprintf(stderr, "bc-fanout: BENCH_IDLE_MS=%s is not a number of ms: not idling\n", idle);
    int64_t idle_until = util_now_ms() + idle_ms;
    while (util_now_ms() < idle_until)
        drain(&b, ep, 100);
    double cpu0 = fanout_cpu_seconds(b.env.pid);
    pthread_t producer;
    pthread_create(&producer, NULL, produce, &b);
    uint64_t expected = (uint64_t)b.subscribers * (uint64_t)b.ops;
    deadline = util_now_ms() + 600000;
    int64_t report = util_now_ms() + 5000;
    while (b.finished < b.subscribers && util_now_ms() < deadline && b.bad == 0) {
        if (util_now_ms() > report) {
            fprintf(stderr, "  ... %llu delivered, %d readers complete\n",
                    (unsigned long long)b.delivered, b.finished);
            report += 5000;
        }
        drain(&b, ep, 100);
    }
    double cpu1 = fanout_cpu_seconds(b.env.pid);
    atomic_store(&b.stop, 1);
    pthread_join(producer, NULL);
    double secs = (double)(b.last_ns - b.first_ns) / 1e9;
    double rate = secs > 0 ? (double)b.delivered / secs : 0;
    const char *reasons[] = {"client", "slow_consumer", "shutting_down", "internal", "bad_frame"};
    for (size_t i = 0; i < sizeof reasons / sizeof reasons[0]; i++) {
        char sample[128];
        snprintf(sample, sizeof sample, "broadcaster_disconnects_total{reason=\"%s\"}", reasons[i]);
        double v = bt_metric(&b.env, sample);
        if (v > 0)
            fprintf(stderr, "broadcaster closed %.0f connections: %s\n", v, reasons[i]);
    }
    double e2e_count = bt_metric(&b.env, "broadcaster_e2e_latency_seconds_count");
    double e2e_sum = bt_metric(&b.env, "broadcaster_e2e_latency_seconds_sum");
    fprintf(
        stderr,
        "delivered %llu of %llu in %.2f s: %.0f msg/s; out of order or closed %llu, resyncs %llu; "
        "broadcaster CPU %.2f s\n",
        (unsigned long long)b.delivered, (unsigned long long)expected, secs, rate,
        (unsigned long long)b.bad, (unsigned long long)b.resyncs, cpu1 - cpu0);
    char when[32];
    time_t now = time(NULL);
    strftime(when, sizeof when, "%Y-%m-%d", gmtime(&now));
    printf("| %s | %d | %d | %d | %zu | %llu / %llu | %.2f | **%.0f** | %.1f | %llu | %llu | %.2f |"
           " %.1f | %.1f | %.1f |\n",
           when, b.subscribers, b.docs, b.ops, b.payload, (unsigned long long)b.delivered,
           (unsigned long long)expected, secs, rate, rate * (double)(b.payload + 20) / 1e6,
           (unsigned long long)b.bad, (unsigned long long)b.resyncs, cpu1 - cpu0,
           e2e_count > 0 ? 1000.0 * e2e_sum / e2e_count : -1.0, fanout_latency_ms(&b.latency, 50),
           fanout_latency_ms(&b.latency, 99));
    for (int i = 0; i < b.subscribers; i++) {
        wsc_close(b.readers[i].c);
        fanout_partial_free(&b.readers[i].partial);
    }
    close(ep);
    free(b.readers);
    free((void *)b.sent_ns);
    fanout_latency_free(&b.latency);
    free(b.doc_ids);
    free(token);
    int code = bt_stop(&b.env, 30000);
    bt_env_free(&b.env);
    return b.delivered == expected && b.bad == 0 && code == 0 ? 0 : 1;
}
