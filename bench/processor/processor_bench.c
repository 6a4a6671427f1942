/*
 * processor_bench: measures the processor service (the real binary, run as a
 * child process against the real Kafka, MongoDB and Redis, views on) in three
 * modes, each on its own fresh topics and database:
 *
 *   throughput  N ops over D documents are put into collab.ops first; then
 *               the processor starts and drains the backlog. ops/s = N / time
 *               from its first merged record to its last one (read_committed),
 *               plus the time until crdt_operations holds all N (views).
 *   latency     ops produced at a fixed rate (BENCH_RATE, default 5000/s) for
 *               BENCH_SECONDS; latency of an op = when a read_committed
 *               consumer of collab.merged receives its merged record minus
 *               its ingest_time_us (so it includes the consumer's fetch, an
 *               upper bound of "until committed"); p50/p99/p99.9/max.
 *   recovery    D documents with a snapshot each, and R merged records after
 *               the snapshots in collab.merged; the processor starts, gets
 *               every partition and recovers them (snapshot + log replay) before
 *               merging. Reported: the sum of its per-partition recovery times
 *               and the wall time from assignment to the last partition
 *               recovered (its own log lines), records replayed and gaps; then
 *               a sample of documents is checked in Redis (version D's last).
 *   views       the view writer's two MongoDB writes alone, through docstore
 *               exactly as processor/views.c makes them, on FerretDB: rows/s of
 *               crdt_operations inserts (unordered insert_many) at several
 *               batch sizes, and documents/s of the conditional upserts
 *               (creating, then advancing BENCH_DOCS documents), no processor.
 *
 * Prints one JSON object per mode on stdout. bench/processor/run.sh runs all
 * three and writes docs/benchmarks.md.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/avro_registry.h"
#include "common/docstore.h"
#include "common/kafka_admin.h"
#include "common/kafka_consumer.h"
#include "common/kafka_producer.h"
#include "common/util.h"
#include "crdt/crdt.h"

typedef struct bench {
    const char *mode;
    const char *brokers, *mongo_uri, *redis_url, *bin_dir;
    char run[64], ops_topic[128], merged_topic[128], dlq_topic[128], group[128], snap_group[128];
    char db[128], log_path[512];
    int partitions;
    clog *log;
    struct cavro_registry *avro;
    ckafka_producer *producer;
    cmongo *mongo;
    credis *redis;
    docstore *ds;
    pid_t processor;
    bool keep_run; /* BENCH_KEEP: leave topics and database */
} bench;

static const char *env_or(const char *name, const char *fallback)
{
    const char *v = getenv(name);
    return v && *v ? v : fallback;
}

static void die(const char *what, const char *why)
{
    fprintf(stderr, "processor_bench: %s: %s\n", what, why);
    exit(1);
}

/* A setting that is not a whole number stops the run rather than being read as 0. */
static long env_long(const char *name, long fallback)
{
    const char *v = getenv(name);
    if (!v || !*v)
        return fallback;
    char *end = NULL;
    errno = 0;
    long value = strtol(v, &end, 10);
    if (errno != 0 || end == v || *end != '\0')
        die(name, "not an integer");
    return value;
}

/* The numeric settings are read where they are used; checking them all first stops a
 * run with a typo before it creates topics and a database it would then leave behind. */
static void check_settings(void)
{
    static const char *const names[] = {
        "BENCH_DOCS",    "BENCH_KEEP",       "BENCH_OPS",      "BENCH_PARTITIONS",
        "BENCH_RATE",    "BENCH_RECORDS",    "BENCH_REPLAY",   "BENCH_REPLAY_REDIS_DB",
        "BENCH_SECONDS", "BENCH_VIEWS_WAIT", "BENCH_VIEW_ROWS"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        (void)env_long(names[i], 0);
}

static void setup(bench *b, const char *mode)
{
    memset(b, 0, sizeof *b);
    b->mode = mode;
    b->brokers = env_or("COLLAB_KAFKA_BROKERS", "127.0.0.1:9092");
    b->mongo_uri = env_or("COLLAB_MONGO_URI", "mongodb://127.0.0.1:27017");
    b->redis_url = env_or("COLLAB_REDIS_URL", "redis://127.0.0.1:6379");
    b->bin_dir = env_or("BENCH_BIN_DIR", "build-bench-processor/bin");
    b->partitions = (int)env_long("BENCH_PARTITIONS", 6);
    snprintf(b->run, sizeof b->run, "%s-%ld-%lld", mode, (long)getpid(),
             (long long)(util_wall_ns() / 1000000 % 100000000));
    snprintf(b->ops_topic, sizeof b->ops_topic, "bench.ops.%s", b->run);
    snprintf(b->merged_topic, sizeof b->merged_topic, "bench.merged.%s", b->run);
    snprintf(b->dlq_topic, sizeof b->dlq_topic, "bench.dlq.%s", b->run);
    snprintf(b->group, sizeof b->group, "bench-processor-%s", b->run);
    snprintf(b->snap_group, sizeof b->snap_group, "bench-snapshotter-%s", b->run);
    snprintf(b->db, sizeof b->db, "bench_%s", b->run);
    for (char *p = b->db; *p; p++)
        if (*p == '-')
            *p = '_';
    snprintf(b->log_path, sizeof b->log_path, "%s/../bench-processor-%s.log", b->bin_dir, b->run);
    b->log = clog_new("processor-bench", CLOG_WARN, 2);
    char err[512];
    if (cavro_registry_new_builtin(&b->avro, err, sizeof err) != CAVRO_OK)
        die("avro", err);
    ckafka_admin *admin = ckafka_admin_new(b->brokers, b->log, err, sizeof err);
    if (!admin ||
        ckafka_topic_create(admin, b->ops_topic, b->partitions, 1, NULL, 30000, err, sizeof err) ||
        ckafka_topic_create(admin, b->merged_topic, b->partitions, 1, NULL, 30000, err,
                            sizeof err) ||
        ckafka_topic_create(admin, b->dlq_topic, 1, 1, NULL, 30000, err, sizeof err))
        die("topics", err);
    ckafka_admin_free(admin);
    const char *pconf[] = {"linger.ms", mode[0] == 'l' ? "0" : "20",    "batch.num.messages",
                           "10000",     "queue.buffering.max.messages", "1000000",
                           NULL};
    ckafka_producer_opts po = {
        .brokers = b->brokers, .client_id = "bench", .log = b->log, .extra_config = pconf};
    b->producer = ckafka_producer_new(&po, err, sizeof err);
    if (!b->producer)
        die("producer", err);
    /* A long socket timeout: counting 200,000 rows on a loaded FerretDB can
     * take longer than the services' 10 s, and a timed-out count reads as 0. */
    cmongo_opts mo = {.uri = b->mongo_uri, .db = b->db, .log = b->log, .socket_timeout_ms = 120000};
    b->mongo = cmongo_new(&mo, err, sizeof err);
    credis_opts ro = {.url = b->redis_url, .log = b->log};
    b->redis = b->mongo ? credis_new(&ro, err, sizeof err) : NULL;
    if (!b->redis)
        die("stores", err);
    b->ds = docstore_new(b->mongo, b->redis, b->avro, b->log);
    if (docstore_ensure_indexes(b->ds, err, sizeof err) != DOCSTORE_OK)
        die("indexes", err);
}

static void teardown(bench *b)
{
    char err[512];
    /* BENCH_KEEP=1 keeps the run's topics and database (e.g. to time a
     * replay of its collab.merged); their names go to stderr. */
    if (env_long("BENCH_KEEP", 0)) {
        fprintf(stderr, "processor_bench: kept topic %s and database %s\n", b->merged_topic, b->db);
        b->keep_run = true;
    }
    ckafka_admin *admin =
        b->keep_run ? NULL : ckafka_admin_new(b->brokers, b->log, err, sizeof err);
    if (admin) {
        ckafka_topic_delete(admin, b->ops_topic, 30000, err, sizeof err);
        ckafka_topic_delete(admin, b->merged_topic, 30000, err, sizeof err);
        ckafka_topic_delete(admin, b->dlq_topic, 30000, err, sizeof err);
        ckafka_admin_free(admin);
    }
    if (!b->keep_run) {
        mongoc_client_t *client = cmongo_acquire(b->mongo);
        mongoc_database_t *db = mongoc_client_get_database(client, b->db);
        bson_error_t error;
        mongoc_database_drop(db, &error);
        mongoc_database_destroy(db);
        cmongo_release(b->mongo, client);
    }
    ckafka_producer_free(b->producer);
    docstore_free(b->ds);
    credis_free(b->redis);
    cmongo_free(b->mongo);
    cavro_registry_free(b->avro);
    clog_free(b->log);
}

static void start_processor(bench *b)
{
    char path[512], partitions[16];
    snprintf(path, sizeof path, "%s/processor", b->bin_dir);
    snprintf(partitions, sizeof partitions, "%d", b->partitions);
    const char *argv[] = {path,
                          "--kafka-brokers",
                          b->brokers,
                          "--mongo-uri",
                          b->mongo_uri,
                          "--mongo-db",
                          b->db,
                          "--redis-url",
                          b->redis_url,
                          "--metrics-listen",
                          "127.0.0.1:0",
                          "--instance-id",
                          "bench",
                          "--ops-topic",
                          b->ops_topic,
                          "--merged-topic",
                          b->merged_topic,
                          "--dlq-topic",
                          b->dlq_topic,
                          "--group-id",
                          b->group,
                          "--snapshotter-group",
                          b->snap_group,
                          "--transactional-id",
                          b->run,
                          "--partitions",
                          partitions,
                          NULL};
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive the benchmark */
        int fd = open(b->log_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) {
            dup2(fd, 2);
            dup2(fd, 1);
            close(fd);
        }
        execv(path, (char *const *)argv);
        _exit(127);
    }
    b->processor = pid;
}

static void stop_processor(bench *b)
{
    if (b->processor <= 0)
        return;
    kill(b->processor, SIGTERM);
    waitpid(b->processor, NULL, 0);
    b->processor = 0;
}

/* ingest_time_us: when the op is due (open loop: the intended send time, so a
 * producer that falls behind shows in the latency), 0 for now. */
static void send_op(bench *b, const char *doc, const char *op_id, int64_t client,
                    const uint8_t *update, size_t len, int64_t ingest_time_us)
{
    struct cavro_client_op op = {.doc_id = (char *)doc,
                                 .op_id = (char *)op_id,
                                 .client_id = client,
                                 .user_id = "bench",
                                 .kind = CAVRO_OP_YJS_UPDATE,
                                 .payload = {(uint8_t *)update, len},
                                 .client_time_us = util_wall_ns() / 1000,
                                 .ingest_node = "bench"};
    op.ingest_time_us = ingest_time_us ? ingest_time_us : util_wall_ns() / 1000;
    uint8_t *value;
    size_t value_len;
    char err[256];
    if (cavro_client_op_encode(b->avro, &op, &value, &value_len, err, sizeof err) != CAVRO_OK)
        die("encode", err);
    if (ckafka_producer_send(b->producer, b->ops_topic, RD_KAFKA_PARTITION_UA, doc, strlen(doc),
                             value, value_len, NULL, 60000))
        die("produce", "queue full");
    free(value);
}

/* Documents typed into by one client each: an op appends one character. */
typedef struct typist {
    char doc[160];
    crdt_doc *crdt;
    uint64_t len;
    uint64_t ops;
} typist;

static typist *typists_new(bench *b, size_t n, const char *prefix)
{
    typist *t = calloc(n, sizeof *t);
    for (size_t i = 0; i < n; i++) {
        snprintf(t[i].doc, sizeof t[i].doc, "%s-%s-%zu", b->run, prefix, i);
        crdt_options o;
        crdt_options_init(&o);
        o.client_id = 10000 + i;
        if (crdt_doc_new(&o, &t[i].crdt) != CRDT_OK)
            die("crdt", "new");
    }
    return t;
}

static void typists_free(typist *t, size_t n)
{
    for (size_t i = 0; i < n; i++)
        crdt_doc_free(t[i].crdt);
    free(t);
}

static void type_one_at(bench *b, typist *t, int64_t ingest_time_us)
{
    uint8_t *u;
    size_t len;
    char c = (char)('a' + t->ops % 26);
    if (crdt_text_insert(t->crdt, "text", t->len, &c, 1, NULL, &u, &len) != CRDT_OK)
        die("crdt", "insert");
    t->len++;
    char op_id[64];
    snprintf(op_id, sizeof op_id, "%" PRIu64 "-%" PRIu64, crdt_doc_client_id(t->crdt), t->ops++);
    send_op(b, t->doc, op_id, (int64_t)crdt_doc_client_id(t->crdt), u, len, ingest_time_us);
    free(u);
}

static void type_one(bench *b, typist *t)
{
    type_one_at(b, t, 0);
}

static ckafka_consumer *merged_reader(bench *b)
{
    char group[200], err[512];
    snprintf(group, sizeof group, "bench-reader-%s", b->run);
    const char *topics[] = {b->merged_topic, NULL};
    /* As the broadcaster reads: a fetch waits at most 10 ms when there is
     * nothing new, and returns at once when there is. */
    const char *conf[] = {"fetch.wait.max.ms", "10", NULL};
    ckafka_consumer_opts co = {.brokers = b->brokers,
                               .group_id = group,
                               .log = b->log,
                               .topics = topics,
                               .extra_config = conf};
    ckafka_consumer *c = ckafka_consumer_new(&co, err, sizeof err);
    if (!c)
        die("consumer", err);
    return c;
}

static int64_t count_ops(bench *b)
{
    mongoc_client_t *client = cmongo_acquire(b->mongo);
    mongoc_collection_t *coll = cmongo_collection(b->mongo, client, "crdt_operations");
    bson_t filter = BSON_INITIALIZER;
    bson_error_t error;
    int64_t n = mongoc_collection_count_documents(coll, &filter, NULL, NULL, NULL, &error);
    mongoc_collection_destroy(coll);
    cmongo_release(b->mongo, client);
    return n;
}

/* The processor's metrics port, from its "metrics endpoint listening" log
 * line (it listens on an ephemeral port); 0 while not known yet. */
static int metrics_port(bench *b)
{
    FILE *f = fopen(b->log_path, "r");
    if (!f)
        return 0;
    char line[4096];
    int port = 0;
    while (!port && fgets(line, sizeof line, f)) {
        json_t *j = json_loads(line, 0, NULL);
        const char *msg = j ? json_string_value(json_object_get(j, "msg")) : NULL;
        if (msg && strcmp(msg, "metrics endpoint listening") == 0)
            port = (int)json_integer_value(json_object_get(j, "port"));
        json_decref(j);
    }
    fclose(f);
    return port;
}

/* The processor's /metrics page; NULL when unreadable. The caller frees it. */
static char *processor_metrics(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return NULL;
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    const char req[] = "GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
    size_t cap = 1 << 20, len = 0;
    char *buf = malloc(cap);
    if (!buf || connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0 ||
        write(fd, req, sizeof req - 1) != (ssize_t)(sizeof req - 1)) {
        close(fd);
        free(buf);
        return NULL;
    }
    ssize_t n;
    while (len < cap - 1 && (n = read(fd, buf + len, cap - 1 - len)) > 0)
        len += (size_t)n;
    close(fd);
    buf[len] = '\0';
    return buf;
}

/* The sample named `series` (with its labels, if any) in a /metrics page;
 * -1 when absent. */
static double metrics_sample(const char *page, const char *series)
{
    char key[256];
    snprintf(key, sizeof key, "\n%s ", series);
    const char *at = page ? strstr(page, key) : NULL;
    if (!at)
        return -1;
    /* Prometheus text format writes every sample as a float ("1.5e+06" too). */
    const char *start = at + strlen(key);
    char *end = NULL;
    double sample = strtod(start, &end);
    return end != start && sample >= 0 ? sample : -1;
}

/* A counter of the processor's /metrics (no labels); -1 when unreadable.
 * Reading the writer's own count costs FerretDB nothing, unlike counting
 * 200,000 rows every half second, which slowed the writer it measured. */
static int64_t processor_counter(int port, const char *name)
{
    char *page = processor_metrics(port);
    double sample = metrics_sample(page, name);
    free(page);
    return sample >= 0 && sample < 9e18 ? (int64_t)sample : -1;
}

/* Quantile q, in ms, of the observations a histogram of seconds gained
 * between two /metrics pages, interpolated inside its bucket as Prometheus'
 * histogram_quantile does; -1 when there were none. Buckets are read from
 * the page (ascending, as exporters write them). */
static double histogram_delta_quantile_ms(const char *before, const char *after, const char *name,
                                          double q)
{
    char series[256], prefix[256];
    snprintf(series, sizeof series, "%s_count", name);
    double total = metrics_sample(after, series) - fmax(metrics_sample(before, series), 0);
    if (total <= 0)
        return -1;
    snprintf(prefix, sizeof prefix, "\n%s_bucket{le=\"", name);
    double rank = q * total, prev_count = 0, prev_bound = 0;
    for (const char *at = strstr(after, prefix); at; at = strstr(at + 1, prefix)) {
        const char *le = at + strlen(prefix);
        const char *quote = strchr(le, '"');
        if (!quote || strncmp(le, "+Inf", 4) == 0)
            break;
        double bound = strtod(le, NULL);
        snprintf(series, sizeof series, "%s_bucket{le=\"%.*s\"}", name, (int)(quote - le), le);
        double count = metrics_sample(after, series) - fmax(metrics_sample(before, series), 0);
        if (count >= rank) {
            double in_bucket = count - prev_count;
            double frac = in_bucket > 0 ? (rank - prev_count) / in_bucket : 1;
            return (prev_bound + (bound - prev_bound) * frac) * 1000;
        }
        prev_count = count;
        prev_bound = bound;
    }
    return prev_bound * 1000; /* beyond the last finite bucket */
}

/* Seconds build/bin/replay (next to the processor binary) takes to rebuild
 * every view of the run's collab.merged into a database and Redis db of its
 * own, both removed afterwards; -1 when it failed. */
static double time_replay(bench *b, typist *t, size_t docs)
{
    char path[512], db[160], redis_url[512], log_path[600];
    snprintf(path, sizeof path, "%s/replay", b->bin_dir);
    snprintf(db, sizeof db, "%s_replay", b->db);
    snprintf(redis_url, sizeof redis_url, "%s/%ld", b->redis_url,
             env_long("BENCH_REPLAY_REDIS_DB", 7));
    snprintf(log_path, sizeof log_path, "%s/../bench-replay-%s.log", b->bin_dir, b->run);
    const char *argv[] = {
        path, "--kafka-brokers", b->brokers, "--mongo-uri",    b->mongo_uri,    "--mongo-db",
        db,   "--redis-url",     redis_url,  "--merged-topic", b->merged_topic, NULL};
    int64_t t0 = util_now_ns();
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        int fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) {
            dup2(fd, 2);
            dup2(fd, 1);
            close(fd);
        }
        execv(path, (char *const *)argv);
        _exit(127);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    double secs = (double)(util_now_ns() - t0) / 1e9;
    bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    /* The copy goes away: its database and its Redis keys. */
    mongoc_client_t *client = cmongo_acquire(b->mongo);
    mongoc_database_t *handle = mongoc_client_get_database(client, db);
    bson_error_t error;
    mongoc_database_drop(handle, &error);
    mongoc_database_destroy(handle);
    cmongo_release(b->mongo, client);
    char err[256];
    credis_opts ro = {.url = redis_url, .log = b->log};
    credis *r = credis_new(&ro, err, sizeof err);
    for (size_t i = 0; r && i < docs; i++) {
        redisReply *reply = credis_command(r, "DEL doc:%s", t[i].doc);
        if (reply)
            freeReplyObject(reply);
    }
    credis_free(r);
    return ok ? secs : -1;
}

static void run_throughput(bench *b)
{
    long n = env_long("BENCH_OPS", 200000);
    size_t docs = (size_t)env_long("BENCH_DOCS", 1000);
    typist *t = typists_new(b, docs, "tp");
    int64_t g0 = util_now_ms();
    for (long i = 0; i < n; i++)
        type_one(b, &t[(size_t)i % docs]);
    if (ckafka_producer_flush(b->producer, 120000))
        die("flush", "timeout");
    int64_t produce_ms = util_now_ms() - g0;
    ckafka_consumer *c = merged_reader(b);
    start_processor(b);
    long got = 0;
    int64_t first = 0, last = 0, deadline = util_now_ms() + 600000;
    while (got < n && util_now_ms() < deadline) {
        rd_kafka_resp_err_t err;
        rd_kafka_message_t *m = ckafka_consumer_poll(c, 500, &err);
        if (!m)
            continue;
        if (!first)
            first = util_now_ns();
        got++;
        last = util_now_ns();
        rd_kafka_message_destroy(m);
    }
    /* The views are given BENCH_VIEWS_WAIT seconds (120) after the last
     * merge, watched through the writer's own counter of rows written. */
    int64_t views_deadline = util_now_ms() + env_long("BENCH_VIEWS_WAIT", 120) * 1000;
    int64_t written = 0;
    int port = 0;
    while (written < n && util_now_ms() < views_deadline) {
        if (!port)
            port = metrics_port(b);
        int64_t counted = port ? processor_counter(port, "processor_view_ops_written_total") : -1;
        if (counted > written)
            written = counted;
        if (written < n)
            util_sleep_ms(200);
    }
    int64_t views_done = util_now_ns();
    stop_processor(b);
    /* What FerretDB holds in the end (duplicates of a retried round are
     * counted by the writer once more, never stored twice). */
    int64_t stored = count_ops(b);
    double replay_s = env_long("BENCH_REPLAY", 1) ? time_replay(b, t, docs) : -1;
    double secs = (double)(last - first) / 1e9;
    double views_secs = (double)(views_done - first) / 1e9;
    printf("{\"mode\":\"throughput\",\"ops\":%ld,\"documents\":%zu,\"partitions\":%d,"
           "\"merged\":%ld,\"seconds\":%.3f,\"ops_per_second\":%.0f,"
           "\"views_written\":%lld,\"views_seconds\":%.3f,\"views_ops_per_second\":%.0f,"
           "\"views_stored\":%lld,\"replay_seconds\":%.3f,\"produce_ms\":%lld}\n",
           n, docs, b->partitions, got, secs, secs > 0 ? (double)got / secs : 0, (long long)written,
           views_secs, views_secs > 0 ? (double)written / views_secs : 0, (long long)stored,
           replay_s, (long long)produce_ms);
    ckafka_consumer_free(c);
    typists_free(t, docs);
}

typedef struct pacer {
    bench *b;
    typist *t;
    size_t docs;
    long rate, total;
} pacer;

/* Sleeps until monotonic time due_ns (util_now_ns's clock). */
static void sleep_until_ns(int64_t due_ns)
{
    struct timespec due = {.tv_sec = (time_t)(due_ns / 1000000000),
                           .tv_nsec = (long)(due_ns % 1000000000)};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &due, NULL) == EINTR)
        ;
}

/* Open loop: op i is due at start + i / rate and carries that time as its
 * ingest time. Sleeping (not spinning) between ops: a spinning generator
 * takes a whole core from the broker and the processor it measures. */
static void *pace(void *arg)
{
    pacer *p = arg;
    int64_t start = util_now_ns();
    int64_t wall_start_us = util_wall_ns() / 1000;
    for (long i = 0; i < p->total; i++) {
        int64_t offset_ns = (int64_t)((double)i * 1e9 / (double)p->rate);
        if (util_now_ns() < start + offset_ns)
            sleep_until_ns(start + offset_ns);
        type_one_at(p->b, &p->t[(size_t)i % p->docs], wall_start_us + offset_ns / 1000);
        ckafka_producer_poll(p->b->producer, 0);
    }
    ckafka_producer_flush(p->b->producer, 60000);
    return NULL;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static void run_latency(bench *b)
{
    long rate = env_long("BENCH_RATE", 5000);
    long seconds = env_long("BENCH_SECONDS", 20);
    size_t docs = (size_t)env_long("BENCH_DOCS", 100);
    typist *t = typists_new(b, docs, "lat");
    ckafka_consumer *c = merged_reader(b);
    start_processor(b);
    /* warm up: the processor has joined and merges */
    for (size_t i = 0; i < docs; i++)
        type_one(b, &t[i]);
    ckafka_producer_flush(b->producer, 60000);
    long got = 0;
    int64_t deadline = util_now_ms() + 120000;
    while (got < (long)docs && util_now_ms() < deadline) {
        rd_kafka_resp_err_t err;
        rd_kafka_message_t *m = ckafka_consumer_poll(c, 200, &err);
        if (m) {
            got++;
            rd_kafka_message_destroy(m);
        }
    }
    /* The processor's own view of the same ops (ingest time -> its commit
     * returned, and the commit itself), to tell its share from the readers'. */
    int port = metrics_port(b);
    char *metrics_before = port ? processor_metrics(port) : NULL;
    pacer p = {.b = b, .t = t, .docs = docs, .rate = rate, .total = rate * seconds};
    pthread_t thread;
    pthread_create(&thread, NULL, pace, &p);
    int64_t *lat = calloc((size_t)p.total, sizeof *lat);
    long n = 0;
    deadline = util_now_ms() + (seconds + 60) * 1000;
    while (n < p.total && util_now_ms() < deadline) {
        rd_kafka_resp_err_t err;
        rd_kafka_message_t *m = ckafka_consumer_poll(c, 200, &err);
        if (!m)
            continue;
        int64_t now_us = util_wall_ns() / 1000;
        struct cavro_merged_op rec;
        char why[256];
        if (cavro_merged_op_decode(b->avro, m->payload, m->len, &rec, why, sizeof why) ==
            CAVRO_OK) {
            lat[n++] = now_us - rec.ingest_time_us;
            cavro_merged_op_clear(&rec);
        }
        rd_kafka_message_destroy(m);
    }
    pthread_join(thread, NULL);
    char *metrics_after = port ? processor_metrics(port) : NULL;
    stop_processor(b);
    double commit_p50 = -1, commit_p99 = -1, txn_p50 = -1, txn_p90 = -1, txn_p99 = -1, txns = -1;
    if (metrics_before && metrics_after) {
        txns = metrics_sample(metrics_after, "processor_batch_ops_count") -
               fmax(metrics_sample(metrics_before, "processor_batch_ops_count"), 0);
        const char *lat_name = "processor_commit_latency_seconds";
        const char *txn_name = "processor_txn_commit_seconds";
        commit_p50 = histogram_delta_quantile_ms(metrics_before, metrics_after, lat_name, 0.5);
        commit_p99 = histogram_delta_quantile_ms(metrics_before, metrics_after, lat_name, 0.99);
        txn_p50 = histogram_delta_quantile_ms(metrics_before, metrics_after, txn_name, 0.5);
        txn_p90 = histogram_delta_quantile_ms(metrics_before, metrics_after, txn_name, 0.9);
        txn_p99 = histogram_delta_quantile_ms(metrics_before, metrics_after, txn_name, 0.99);
    }
    free(metrics_before);
    free(metrics_after);
    qsort(lat, (size_t)n, sizeof *lat, cmp_i64);
#define PCT(q) (n ? (double)lat[(size_t)((double)(n - 1) * (q))] / 1000.0 : 0)
    printf("{\"mode\":\"latency\",\"rate\":%ld,\"seconds\":%ld,\"documents\":%zu,"
           "\"received\":%ld,\"p50_ms\":%.2f,\"p90_ms\":%.2f,\"p99_ms\":%.2f,"
           "\"p999_ms\":%.2f,\"max_ms\":%.2f,\"processor_commit_p50_ms\":%.2f,"
           "\"processor_commit_p99_ms\":%.2f,\"txn_commit_p50_ms\":%.2f,\"txn_commit_p90_ms\":%.2f,"
           "\"txn_commit_p99_ms\":%.2f,\"transactions\":%.0f}\n",
           rate, seconds, docs, n, PCT(0.5), PCT(0.9), PCT(0.99), PCT(0.999),
           n ? (double)lat[n - 1] / 1000.0 : 0, commit_p50, commit_p99, txn_p50, txn_p90, txn_p99,
           txns);
#undef PCT
    free(lat);
    ckafka_consumer_free(c);
    typists_free(t, docs);
}

static void put_merged(bench *b, const typist *t, int64_t version, const uint8_t *u, size_t len)
{
    char op_id[64];
    snprintf(op_id, sizeof op_id, "r-%" PRId64, version);
    struct cavro_merged_op m = {.doc_id = (char *)t->doc,
                                .doc_version = version,
                                .op_id = op_id,
                                .kind = CAVRO_MERGED_YJS_UPDATE,
                                .payload = {(uint8_t *)u, len},
                                .user_id = "bench",
                                .client_id = (int64_t)crdt_doc_client_id(t->crdt),
                                .ingest_time_us = util_wall_ns() / 1000,
                                .processed_time_us = util_wall_ns() / 1000,
                                .source_partition = 0,
                                .source_offset = version};
    uint8_t *value;
    size_t value_len;
    char err[256];
    if (cavro_merged_op_encode(b->avro, &m, &value, &value_len, err, sizeof err) != CAVRO_OK)
        die("encode", err);
    if (ckafka_producer_send(b->producer, b->merged_topic, RD_KAFKA_PARTITION_UA, t->doc,
                             strlen(t->doc), value, value_len, NULL, 60000))
        die("produce", "queue full");
    free(value);
}

/* Seconds since midnight of a log line's "ts" (YYYY-MM-DDTHH:MM:SS.mmmZ, UTC), enough to
 * time one run; 0 when it is not in that form. */
static double seconds_of_day(const char *ts)
{
    if (strlen(ts) < 23 || ts[10] != 'T' || ts[13] != ':' || ts[16] != ':')
        return 0;
    char *end = NULL;
    long hours = strtol(ts + 11, &end, 10);
    if (end != ts + 13)
        return 0;
    long minutes = strtol(ts + 14, &end, 10);
    if (end != ts + 16)
        return 0;
    double seconds = strtod(ts + 17, &end);
    if (end == ts + 17)
        return 0;
    return (double)hours * 3600 + (double)minutes * 60 + seconds;
}

/* Sums "partition recovered" lines of the processor's log; true once count
 * partitions are recovered. */
static bool read_recovery_log(bench *b, int count, double *sum_s, int64_t *records, int64_t *gaps,
                              double *first_assigned, double *last_recovered)
{
    FILE *f = fopen(b->log_path, "r");
    if (!f)
        return false;
    char line[4096];
    int recovered = 0;
    *sum_s = 0;
    *records = *gaps = 0;
    *first_assigned = *last_recovered = 0;
    while (fgets(line, sizeof line, f)) {
        json_t *j = json_loads(line, 0, NULL);
        if (!j)
            continue;
        const char *msg = json_string_value(json_object_get(j, "msg"));
        const char *ts = json_string_value(json_object_get(j, "ts"));
        double at = ts ? seconds_of_day(ts) : 0;
        if (msg && strcmp(msg, "kafka partitions assigned") == 0 && *first_assigned == 0)
            *first_assigned = at;
        if (msg && strcmp(msg, "partitions recovered") == 0) {
            recovered += (int)json_integer_value(json_object_get(j, "partitions"));
            *sum_s += json_real_value(json_object_get(j, "seconds"));
            *records += json_integer_value(json_object_get(j, "records"));
            *gaps += json_integer_value(json_object_get(j, "gaps"));
            *last_recovered = at;
        }
        json_decref(j);
    }
    fclose(f);
    return recovered >= count;
}

static void run_recovery(bench *b)
{
    size_t docs = (size_t)env_long("BENCH_DOCS", 10000);
    long records = env_long("BENCH_RECORDS", 1000000);
    long per_doc = records / (long)docs;
    typist *t = typists_new(b, docs, "rec");
    int64_t g0 = util_now_ms();
    /* a snapshot of every document at version 1 */
    for (size_t i = 0; i < docs; i++) {
        uint8_t *u;
        size_t len;
        crdt_text_insert(t[i].crdt, "text", 0, "base:", 5, NULL, &u, &len);
        free(u);
        t[i].len = 5;
        struct cavro_snapshot snap = {.doc_id = t[i].doc, .doc_version = 1};
        crdt_encode_state(t[i].crdt, NULL, 0, &snap.state.data, &snap.state.len);
        crdt_encode_state_vector(t[i].crdt, &snap.state_vector.data, &snap.state_vector.len);
        /* Into the Redis snapshot cache, where recovery looks first, in the
         * format docstore_put_snapshot writes: writing 10,000 snapshots into
         * FerretDB as well would take longer than the whole benchmark. */
        uint8_t *record;
        size_t record_len;
        char err[256];
        if (cavro_snapshot_encode(b->avro, &snap, &record, &record_len, err, sizeof err) !=
            CAVRO_OK)
            die("snapshot", err);
        redisReply *r = credis_command(b->redis,
                                       "HSET snapshot:%s version 1 partition 0 offset "
                                       "-1 record %b",
                                       t[i].doc, record, record_len);
        if (!r || r->type == REDIS_REPLY_ERROR)
            die("snapshot", "redis HSET failed");
        freeReplyObject(r);
        free(record);
        free(snap.state.data);
        free(snap.state_vector.data);
    }
    int64_t snap_ms = util_now_ms() - g0;
    /* the log after the snapshots: versions 2 .. per_doc + 1 */
    g0 = util_now_ms();
    for (long v = 0; v < per_doc; v++) {
        for (size_t i = 0; i < docs; i++) {
            uint8_t *u;
            size_t len;
            char c = (char)('a' + v % 26);
            crdt_text_insert(t[i].crdt, "text", t[i].len++, &c, 1, NULL, &u, &len);
            put_merged(b, &t[i], v + 2, u, len);
            free(u);
        }
    }
    if (ckafka_producer_flush(b->producer, 300000))
        die("flush", "timeout");
    int64_t log_ms = util_now_ms() - g0;

    start_processor(b);
    double sum_s = 0, first = 0, last = 0;
    int64_t replayed = 0, gaps = 0;
    int64_t deadline = util_now_ms() + 600000;
    while (!read_recovery_log(b, b->partitions, &sum_s, &replayed, &gaps, &first, &last) &&
           util_now_ms() < deadline)
        util_sleep_ms(200);
    /* every document is at its last version in the views (sample) */
    int checked = 0, right = 0;
    for (size_t i = 0; i<docs; i += docs / 100> 0 ? docs / 100 : 1) {
        docstore_state st;
        char err[256];
        int64_t until = util_now_ms() + 60000;
        for (;;) {
            if (docstore_get_cached_state(b->ds, t[i].doc, &st, err, sizeof err) == DOCSTORE_OK) {
                bool done = st.version == per_doc + 1;
                docstore_state_clear(&st);
                if (done) {
                    right++;
                    break;
                }
            }
            if (util_now_ms() > until)
                break;
            util_sleep_ms(100);
        }
        checked++;
    }
    stop_processor(b);
    for (size_t i = 0; i < docs; i++) {
        redisReply *r = credis_command(b->redis, "DEL snapshot:%s doc:%s", t[i].doc, t[i].doc);
        if (r)
            freeReplyObject(r);
    }
    printf("{\"mode\":\"recovery\",\"documents\":%zu,\"log_records\":%ld,\"partitions\":%d,"
           "\"replayed\":%lld,\"gaps\":%lld,\"recovery_seconds_sum\":%.3f,"
           "\"assigned_to_recovered_seconds\":%.3f,\"sample_checked\":%d,\"sample_right\":%d,"
           "\"setup_snapshots_ms\":%lld,\"setup_log_ms\":%lld}\n",
           docs, per_doc * (long)docs, b->partitions, (long long)replayed, (long long)gaps, sum_s,
           last - first, checked, right, (long long)snap_ms, (long long)log_ms);
    typists_free(t, docs);
}

/* Seconds to insert n rows of doc_count documents in batches of batch (one
 * insert_many each, like the view writer's rounds). */
static double time_rows(bench *b, long n, size_t batch, size_t doc_count, const char *tag)
{
    docstore_op *ops = calloc(batch, sizeof *ops);
    char(*op_ids)[48] = calloc(batch, sizeof *op_ids);
    char(*doc_ids)[160] = calloc(batch, sizeof *doc_ids);
    uint8_t payload[32]; /* about one typed character's update */
    memset(payload, 1, sizeof payload);
    char err[512];
    int64_t t0 = util_now_ns();
    for (long done = 0; done < n; done += (long)batch) {
        size_t count = n - done < (long)batch ? (size_t)(n - done) : batch;
        for (size_t i = 0; i < count; i++) {
            long k = done + (long)i;
            snprintf(op_ids[i], sizeof op_ids[i], "%s-%ld", tag, k);
            /* Each batch size on its own documents: versions stay unique. */
            snprintf(doc_ids[i], sizeof doc_ids[i], "%s-%s-doc-%zu", b->run, tag,
                     (size_t)k % doc_count);
            ops[i] = (docstore_op){.doc_id = doc_ids[i],
                                   .op_id = op_ids[i],
                                   .version = k / (long)doc_count + 1,
                                   .kind = "YJS_UPDATE",
                                   .user_id = "bench",
                                   .processed_time_us = util_wall_ns() / 1000,
                                   .bytes = payload,
                                   .len = sizeof payload};
        }
        /* Distinct versions per batch for the unique (doc_id, version) index. */
        if (docstore_insert_ops(b->ds, ops, count, err, sizeof err) != DOCSTORE_OK)
            die("insert crdt_operations", err);
    }
    double secs = (double)(util_now_ns() - t0) / 1e9;
    free(ops);
    free(op_ids);
    free(doc_ids);
    return secs;
}

/* Seconds for the conditional upserts of doc_count documents at version. */
static double time_documents(bench *b, size_t doc_count, int64_t version)
{
    docstore_doc_version *docs = calloc(doc_count, sizeof *docs);
    char(*ids)[160] = calloc(doc_count, sizeof *ids);
    uint8_t sv[12];
    memset(sv, 2, sizeof sv);
    for (size_t i = 0; i < doc_count; i++) {
        snprintf(ids[i], sizeof ids[i], "%s-upsert-%zu", b->run, i);
        docs[i] = (docstore_doc_version){
            .doc_id = ids[i], .version = version, .sv = sv, .sv_len = sizeof sv};
    }
    char err[512];
    int64_t t0 = util_now_ns();
    /* Chunks of 500, as the view writer hands them to docstore. */
    for (size_t i = 0; i < doc_count; i += 500) {
        size_t n = doc_count - i < 500 ? doc_count - i : 500;
        if (docstore_put_documents(b->ds, docs + i, n, err, sizeof err) != DOCSTORE_OK)
            die("put documents", err);
    }
    double secs = (double)(util_now_ns() - t0) / 1e9;
    free(docs);
    free(ids);
    return secs;
}

static void run_views(bench *b)
{
    long n = env_long("BENCH_VIEW_ROWS", 50000);
    size_t docs = (size_t)env_long("BENCH_DOCS", 1000);
    const size_t batches[] = {100, 500, 2000};
    double rows_per_second[3];
    for (size_t i = 0; i < 3; i++) {
        char tag[16];
        snprintf(tag, sizeof tag, "b%zu", batches[i]);
        rows_per_second[i] = (double)n / time_rows(b, n, batches[i], docs, tag);
    }
    double create_s = time_documents(b, docs, 1);
    double advance_s = time_documents(b, docs, 2);
    printf("{\"mode\":\"views\",\"rows\":%ld,\"documents\":%zu,"
           "\"rows_per_second_batch_100\":%.0f,\"rows_per_second_batch_500\":%.0f,"
           "\"rows_per_second_batch_2000\":%.0f,\"documents_created_per_second\":%.0f,"
           "\"documents_advanced_per_second\":%.0f}\n",
           n, docs, rows_per_second[0], rows_per_second[1], rows_per_second[2],
           (double)docs / create_s, (double)docs / advance_s);
}

int main(int argc, char **argv)
{
    if (argc != 2 || (strcmp(argv[1], "throughput") != 0 && strcmp(argv[1], "latency") != 0 &&
                      strcmp(argv[1], "recovery") != 0 && strcmp(argv[1], "views") != 0)) {
        fprintf(stderr,
                "usage: processor_bench throughput|latency|recovery|views\n"
                "environment: BENCH_BIN_DIR (processor binary), BENCH_OPS, BENCH_DOCS,\n"
                "BENCH_RATE, BENCH_SECONDS, BENCH_RECORDS, BENCH_PARTITIONS, BENCH_VIEW_ROWS,\n"
                "COLLAB_*\n");
        return 2;
    }
    check_settings();
    signal(SIGPIPE, SIG_IGN);
    mongoc_init();
    bench b;
    setup(&b, argv[1]);
    if (strcmp(argv[1], "throughput") == 0)
        run_throughput(&b);
    else if (strcmp(argv[1], "latency") == 0)
        run_latency(&b);
    else if (strcmp(argv[1], "views") == 0)
        run_views(&b);
    else
        run_recovery(&b);
    teardown(&b);
    mongoc_cleanup();
    return 0;
}
