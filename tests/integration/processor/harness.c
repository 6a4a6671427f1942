/*
 * harness: run-scoped topics, databases and service processes for the
 * processor integration tests. See harness.h.
 */
#include "tests/integration/processor/harness.h"

#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/avro_registry.h"
#include "common/kafka_admin.h"
#include "common/kafka_consumer.h"
#include "common/util.h"
#include "crdt/crdt.h"
#include "tests/integration/support/itest_support.h"

int ph_env_init(ph_env *env, const char *name, int partitions)
{
    memset(env, 0, sizeof *env);
    snprintf(env->run_id, sizeof env->run_id, "%s-%ld-%lld", name, (long)getpid(),
             (long long)(util_wall_ns() / 1000000 % 100000000));
    env->brokers = itest_env_or("COLLAB_KAFKA_BROKERS", "127.0.0.1:9092");
    env->mongo_uri = itest_env_or("COLLAB_MONGO_URI", "mongodb://127.0.0.1:27017");
    env->redis_url = itest_env_or("COLLAB_REDIS_URL", "redis://127.0.0.1:6379");
    env->bin_dir = itest_env_or("COLLAB_BIN_DIR", "build/bin");
    env->partitions = partitions;
    snprintf(env->mongo_db, sizeof env->mongo_db, "itest_%s", env->run_id);
    for (char *p = env->mongo_db; *p; p++) {
        if (*p == '-')
            *p = '_';
    }
    snprintf(env->ops_topic, sizeof env->ops_topic, "itest.ops.%s", env->run_id);
    snprintf(env->merged_topic, sizeof env->merged_topic, "itest.merged.%s", env->run_id);
    snprintf(env->dlq_topic, sizeof env->dlq_topic, "itest.dlq.%s", env->run_id);
    snprintf(env->processor_group, sizeof env->processor_group, "itest-processor-%s", env->run_id);
    snprintf(env->snapshotter_group, sizeof env->snapshotter_group, "itest-snapshotter-%s",
             env->run_id);
    env->log = clog_new("itest-processor", CLOG_WARN, 2);
    char err[512];
    if (cavro_registry_new_builtin(&env->avro, err, sizeof err) != CAVRO_OK) {
        fprintf(stderr, "avro: %s\n", err);
        return -1;
    }
    ckafka_admin *admin = ckafka_admin_new(env->brokers, env->log, err, sizeof err);
    if (!admin) {
        fprintf(stderr, "kafka admin: %s\n", err);
        return -1;
    }
    int rc = 0;
    if (ckafka_topic_create(admin, env->ops_topic, partitions, 1, NULL, 30000, err, sizeof err) ||
        ckafka_topic_create(admin, env->merged_topic, partitions, 1, NULL, 30000, err,
                            sizeof err) ||
        ckafka_topic_create(admin, env->dlq_topic, 1, 1, NULL, 30000, err, sizeof err)) {
        fprintf(stderr, "topics: %s\n", err);
        rc = -1;
    }
    ckafka_admin_free(admin);
    if (rc)
        return -1;
    cmongo_opts mo = {.uri = env->mongo_uri, .db = env->mongo_db, .log = env->log};
    env->mongo = cmongo_new(&mo, err, sizeof err);
    credis_opts ro = {.url = env->redis_url, .log = env->log};
    env->redis = env->mongo ? credis_new(&ro, err, sizeof err) : NULL;
    if (!env->redis) {
        fprintf(stderr, "stores: %s\n", err);
        return -1;
    }
    env->ds = docstore_new(env->mongo, env->redis, env->avro, env->log);
    ckafka_producer_opts po = {.brokers = env->brokers,
                               .client_id = "itest-ingest",
                               .log = env->log,
                               .on_delivery = itest_on_delivery};
    env->producer = ckafka_producer_new(&po, err, sizeof err);
    if (!env->ds || !env->producer) {
        fprintf(stderr, "producer: %s\n", err);
        return -1;
    }
    return 0;
}

void ph_env_free(ph_env *env)
{
    const char *topics[] = {env->ops_topic, env->merged_topic, env->dlq_topic, NULL};
    itest_drop_run(env->brokers, env->log, topics, env->mongo, env->mongo_db);
    if (env->producer)
        ckafka_producer_free(env->producer);
    docstore_free(env->ds);
    credis_free(env->redis);
    cmongo_free(env->mongo);
    cavro_registry_free(env->avro);
    clog_free(env->log);
}

void ph_doc_id(const ph_env *env, const char *name, char *out, size_t size)
{
    snprintf(out, size, "%s-%s", env->run_id, name);
}

/* ---- services ---- */

static int spawn(const ph_env *env, const char *program, const char *instance,
                 const char *const *args, const char *const *extra, ph_proc *out)
{
    char path[512], log_path[700];
    snprintf(path, sizeof path, "%s/%s", env->bin_dir, program);
    snprintf(log_path, sizeof log_path, "%s/../Testing/%s-%s-%s.log", env->bin_dir, program,
             env->run_id, instance);
    const char *argv[64];
    size_t n = 0;
    argv[n++] = path;
    for (size_t i = 0; args[i] && n < 40; i++)
        argv[n++] = args[i];
    for (size_t i = 0; extra && extra[i] && n < 62; i++)
        argv[n++] = extra[i];
    argv[n] = NULL;
    pid_t pid = itest_spawn(path, argv, log_path);
    if (pid < 0)
        return -1;
    out->pid = pid;
    snprintf(out->name, sizeof out->name, "%s/%s", program, instance);
    return 0;
}

int ph_start_processor(const ph_env *env, const char *instance, const char *const *extra,
                       ph_proc *out)
{
    char txn[200];
    snprintf(txn, sizeof txn, "itest-%s-%s", env->run_id, instance);
    char partitions[16];
    snprintf(partitions, sizeof partitions, "%d", env->partitions);
    const char *args[] = {"--kafka-brokers",
                          env->brokers,
                          "--mongo-uri",
                          env->mongo_uri,
                          "--mongo-db",
                          env->mongo_db,
                          "--redis-url",
                          env->redis_url,
                          "--metrics-listen",
                          "127.0.0.1:0",
                          "--instance-id",
                          instance,
                          "--ops-topic",
                          env->ops_topic,
                          "--merged-topic",
                          env->merged_topic,
                          "--dlq-topic",
                          env->dlq_topic,
                          "--group-id",
                          env->processor_group,
                          "--snapshotter-group",
                          env->snapshotter_group,
                          "--transactional-id",
                          txn,
                          "--partitions",
                          partitions,
                          "--log-level",
                          "info",
                          NULL};
    return spawn(env, "processor", instance, args, extra, out);
}

int ph_start_snapshotter(const ph_env *env, const char *instance, const char *const *extra,
                         ph_proc *out)
{
    const char *args[] = {"--kafka-brokers",
                          env->brokers,
                          "--mongo-uri",
                          env->mongo_uri,
                          "--mongo-db",
                          env->mongo_db,
                          "--redis-url",
                          env->redis_url,
                          "--metrics-listen",
                          "127.0.0.1:0",
                          "--instance-id",
                          instance,
                          "--merged-topic",
                          env->merged_topic,
                          "--dlq-topic",
                          env->dlq_topic,
                          "--group-id",
                          env->snapshotter_group,
                          NULL};
    return spawn(env, "snapshotter", instance, args, extra, out);
}

int ph_stop(ph_proc *p, int timeout_ms)
{
    if (p->pid <= 0)
        return -1;
    kill(p->pid, SIGTERM);
    int64_t deadline = util_now_ms() + timeout_ms;
    int status = 0;
    while (util_now_ms() < deadline) {
        pid_t r = waitpid(p->pid, &status, WNOHANG);
        if (r == p->pid) {
            p->pid = 0;
            return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        }
        util_sleep_ms(20);
    }
    ph_kill(p);
    return -1;
}

void ph_kill(ph_proc *p)
{
    if (p->pid <= 0)
        return;
    kill(p->pid, SIGKILL);
    waitpid(p->pid, NULL, 0);
    p->pid = 0;
}

bool ph_running(ph_proc *p)
{
    if (p->pid <= 0)
        return false;
    int status;
    if (waitpid(p->pid, &status, WNOHANG) == p->pid) {
        p->pid = 0;
        return false;
    }
    return true;
}

/* ---- ops ---- */

static int send_and_wait(ph_env *env, const char *key, const void *value, size_t len)
{
    return itest_produce_and_wait(env->producer, env->ops_topic, key, value, len);
}

int ph_send_op(ph_env *env, const char *doc_id, const char *op_id, int64_t client_id,
               enum cavro_op_kind kind, const uint8_t *payload, size_t len)
{
    struct cavro_client_op op = {0};
    op.doc_id = (char *)doc_id;
    op.op_id = (char *)op_id;
    op.client_id = client_id;
    op.user_id = "itest-user";
    op.kind = kind;
    op.payload.data = (uint8_t *)payload;
    op.payload.len = len;
    op.client_time_us = util_wall_ns() / 1000;
    op.ingest_time_us = op.client_time_us;
    op.ingest_node = "itest";
    uint8_t *value = NULL;
    size_t value_len = 0;
    char err[256];
    if (cavro_client_op_encode(env->avro, &op, &value, &value_len, err, sizeof err) != CAVRO_OK) {
        fprintf(stderr, "encode: %s\n", err);
        return -1;
    }
    int rc = send_and_wait(env, doc_id, value, value_len);
    free(value);
    return rc;
}

int ph_send_raw(ph_env *env, const char *key, const void *value, size_t len)
{
    return send_and_wait(env, key, value, len);
}

int ph_item_payload(ph_env *env, bool resolve, const char *item_id, const char *value,
                    const int64_t *clock, size_t clock_len, int64_t time_ms, int64_t client_id,
                    uint8_t **out, size_t *out_len)
{
    struct cavro_clock_entry entries[16];
    struct cavro_item_op op = {0};
    op.item_id = (char *)item_id;
    op.value.data = (uint8_t *)value;
    op.value.len = strlen(value);
    for (size_t i = 0; i < clock_len && i < 16; i++) {
        if (clock[i] == 0)
            continue;
        entries[op.clock.count].client_id = (int64_t)i + 1;
        entries[op.clock.count].counter = clock[i];
        op.clock.count++;
    }
    op.clock.entries = entries;
    op.time_ms = time_ms;
    op.client_id = client_id;
    char err[256];
    enum cavro_status st =
        resolve ? cavro_item_resolve_encode(env->avro, &op, out, out_len, err, sizeof err)
                : cavro_item_write_encode(env->avro, &op, out, out_len, err, sizeof err);
    if (st != CAVRO_OK) {
        fprintf(stderr, "item encode: %s\n", err);
        return -1;
    }
    return 0;
}

/* ---- reading back ---- */

static ckafka_consumer *reader(ph_env *env, const char *topic)
{
    char group[200], err[512];
    snprintf(group, sizeof group, "itest-reader-%s-%lld", env->run_id,
             (long long)(util_wall_ns() % 1000000000));
    const char *topics[] = {topic, NULL};
    ckafka_consumer_opts co = {.brokers = env->brokers,
                               .group_id = group,
                               .log = env->log,
                               .topics = topics,
                               .eager = true};
    ckafka_consumer *c = ckafka_consumer_new(&co, err, sizeof err);
    if (!c)
        fprintf(stderr, "reader: %s\n", err);
    return c;
}

int ph_read_merged(ph_env *env, const char *doc_id, size_t want, int timeout_ms, ph_merged *out)
{
    memset(out, 0, sizeof *out);
    ckafka_consumer *c = reader(env, env->merged_topic);
    if (!c)
        return -1;
    int64_t deadline = util_now_ms() + timeout_ms;
    while (out->count < want && util_now_ms() < deadline) {
        rd_kafka_resp_err_t err;
        rd_kafka_message_t *msg = ckafka_consumer_poll(c, 200, &err);
        if (!msg)
            continue;
        struct cavro_merged_op m;
        char why[256];
        if (cavro_merged_op_decode(env->avro, msg->payload, msg->len, &m, why, sizeof why) ==
            CAVRO_OK) {
            if (!doc_id || strcmp(m.doc_id, doc_id) == 0) {
                if (out->count == out->cap) {
                    size_t cap = out->cap ? out->cap * 2 : 64;
                    struct cavro_merged_op *grown = realloc(out->records, cap * sizeof *grown);
                    if (!grown) {
                        cavro_merged_op_clear(&m);
                        rd_kafka_message_destroy(msg);
                        ckafka_consumer_free(c);
                        return -1;
                    }
                    out->records = grown;
                    out->cap = cap;
                }
                out->records[out->count++] = m;
            } else {
                cavro_merged_op_clear(&m);
            }
        }
        rd_kafka_message_destroy(msg);
    }
    ckafka_consumer_free(c);
    return 0;
}

void ph_merged_free(ph_merged *m)
{
    for (size_t i = 0; i < m->count; i++)
        cavro_merged_op_clear(&m->records[i]);
    free(m->records);
    memset(m, 0, sizeof *m);
}

int ph_read_dlq(ph_env *env, size_t want, int timeout_ms, struct cavro_dlq_record **out,
                size_t *count)
{
    *out = NULL;
    *count = 0;
    ckafka_consumer *c = reader(env, env->dlq_topic);
    if (!c)
        return -1;
    size_t cap = 0;
    int64_t deadline = util_now_ms() + timeout_ms;
    while (*count < want && util_now_ms() < deadline) {
        rd_kafka_resp_err_t err;
        rd_kafka_message_t *msg = ckafka_consumer_poll(c, 200, &err);
        if (!msg)
            continue;
        struct cavro_dlq_record r;
        char why[256];
        if (cavro_dlq_record_decode(env->avro, msg->payload, msg->len, &r, why, sizeof why) ==
            CAVRO_OK) {
            if (*count == cap) {
                size_t bigger = cap ? cap * 2 : 16;
                struct cavro_dlq_record *grown = realloc(*out, bigger * sizeof *grown);
                if (!grown) {
                    cavro_dlq_record_clear(&r);
                    rd_kafka_message_destroy(msg);
                    ckafka_consumer_free(c);
                    return -1;
                }
                *out = grown;
                cap = bigger;
            }
            (*out)[(*count)++] = r;
        }
        rd_kafka_message_destroy(msg);
    }
    ckafka_consumer_free(c);
    return 0;
}

int ph_count_ops(ph_env *env, const char *doc_id, int64_t *total, int64_t *distinct,
                 bool *contiguous)
{
    *total = 0;
    *distinct = 0;
    *contiguous = true;
    mongoc_client_t *client = cmongo_acquire(env->mongo);
    mongoc_collection_t *coll = cmongo_collection(env->mongo, client, "crdt_operations");
    bson_t *filter = BCON_NEW("doc_id", BCON_UTF8(doc_id));
    bson_t *opts = BCON_NEW("sort", "{", "version", BCON_INT32(1), "}");
    mongoc_cursor_t *cursor = mongoc_collection_find_with_opts(coll, filter, opts, NULL);
    const bson_t *doc;
    int64_t last = 0;
    while (mongoc_cursor_next(cursor, &doc)) {
        bson_iter_t it;
        int64_t v = bson_iter_init_find(&it, doc, "version") ? bson_iter_as_int64(&it) : -1;
        (*total)++;
        if (v != last)
            (*distinct)++;
        if (v != last + 1)
            *contiguous = false;
        last = v;
    }
    bson_error_t error;
    int rc = mongoc_cursor_error(cursor, &error) ? -1 : 0;
    mongoc_cursor_destroy(cursor);
    bson_destroy(opts);
    bson_destroy(filter);
    mongoc_collection_destroy(coll);
    cmongo_release(env->mongo, client);
    return rc;
}

bool ph_wait_ops(ph_env *env, const char *doc_id, int64_t want, int timeout_ms)
{
    int64_t deadline = util_now_ms() + timeout_ms;
    for (;;) {
        int64_t total, distinct;
        bool contiguous;
        if (ph_count_ops(env, doc_id, &total, &distinct, &contiguous) == 0 && total >= want)
            return true;
        if (util_now_ms() >= deadline)
            return false;
        util_sleep_ms(200);
    }
}

int64_t ph_document_version(ph_env *env, const char *doc_id)
{
    docstore_doc_meta meta;
    char err[256];
    docstore_document_meta(env->ds, doc_id, &meta, err, sizeof err);
    return meta.version;
}

char *ph_text_of_updates(const uint8_t *const *updates, const size_t *lens, size_t n)
{
    crdt_doc *doc = NULL;
    if (crdt_doc_new(NULL, &doc) != CRDT_OK)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        if (crdt_apply_update(doc, updates[i], lens[i], NULL) != CRDT_OK) {
            crdt_doc_free(doc);
            return NULL;
        }
    }
    char *text = NULL;
    if (crdt_read_text(doc, "text", NULL, 0, &text) != CRDT_OK)
        text = NULL;
    crdt_doc_free(doc);
    return text;
}

char *ph_view_text(ph_env *env, const char *doc_id, int64_t *version)
{
    docstore_state st;
    char err[256];
    *version = -1;
    if (docstore_load_state(env->ds, doc_id, &st, err, sizeof err) != DOCSTORE_OK)
        return NULL;
    const uint8_t *u = st.state;
    size_t len = st.state_len;
    char *text = ph_text_of_updates(&u, &len, 1);
    *version = st.version;
    docstore_state_clear(&st);
    return text;
}

bool ph_versions_ok(const ph_merged *m, char *why, size_t why_size)
{
    for (size_t i = 0; i < m->count; i++) {
        if (m->records[i].doc_version != (int64_t)i + 1) {
            snprintf(why, why_size, "record %zu has version %lld", i,
                     (long long)m->records[i].doc_version);
            return false;
        }
        for (size_t j = 0; j < i; j++) {
            if (strcmp(m->records[i].op_id, m->records[j].op_id) == 0) {
                snprintf(why, why_size, "op %s merged twice (versions %lld and %lld)",
                         m->records[i].op_id, (long long)m->records[j].doc_version,
                         (long long)m->records[i].doc_version);
                return false;
            }
        }
    }
    return true;
}

int ph_send_op_nowait(ph_env *env, const char *doc_id, const char *op_id, int64_t client_id,
                      enum cavro_op_kind kind, const uint8_t *payload, size_t len)
{
    struct cavro_client_op op = {0};
    op.doc_id = (char *)doc_id;
    op.op_id = (char *)op_id;
    op.client_id = client_id;
    op.user_id = "itest-user";
    op.kind = kind;
    op.payload.data = (uint8_t *)payload;
    op.payload.len = len;
    op.client_time_us = util_wall_ns() / 1000;
    op.ingest_time_us = op.client_time_us;
    op.ingest_node = "itest";
    uint8_t *value = NULL;
    size_t value_len = 0;
    char err[256];
    if (cavro_client_op_encode(env->avro, &op, &value, &value_len, err, sizeof err) != CAVRO_OK)
        return -1;
    rd_kafka_resp_err_t kerr =
        ckafka_producer_send(env->producer, env->ops_topic, RD_KAFKA_PARTITION_UA, doc_id,
                             strlen(doc_id), value, value_len, NULL, 10000);
    free(value);
    return kerr == RD_KAFKA_RESP_ERR_NO_ERROR ? 0 : -1;
}

int ph_flush(ph_env *env)
{
    return ckafka_producer_flush(env->producer, 30000) == RD_KAFKA_RESP_ERR_NO_ERROR ? 0 : -1;
}

/* ---- workload ---- */

typedef struct wl_doc {
    char id[200];
    crdt_doc *clients[2];
    uint8_t **updates;
    size_t *lens;
    size_t count, cap;
} wl_doc;

struct ph_workload {
    ph_env *env;
    wl_doc *docs;
    size_t doc_count;
    uint64_t rng;
    size_t sent;
};

static uint64_t next_rand(ph_workload *w)
{
    w->rng ^= w->rng << 13;
    w->rng ^= w->rng >> 7;
    w->rng ^= w->rng << 17;
    return w->rng;
}

ph_workload *ph_workload_new(ph_env *env, const char *name, size_t docs, uint64_t seed)
{
    ph_workload *w = calloc(1, sizeof *w);
    if (!w)
        return NULL;
    w->env = env;
    w->rng = seed ? seed : 88172645463325252u;
    w->docs = calloc(docs, sizeof *w->docs);
    if (!w->docs) {
        free(w);
        return NULL;
    }
    w->doc_count = docs;
    for (size_t i = 0; i < docs; i++) {
        char n[64];
        snprintf(n, sizeof n, "%s-%zu", name, i);
        ph_doc_id(env, n, w->docs[i].id, sizeof w->docs[i].id);
        for (int c = 0; c < 2; c++) {
            crdt_options o;
            crdt_options_init(&o);
            o.client_id = 1000 + i * 2 + (size_t)c;
            if (crdt_doc_new(&o, &w->docs[i].clients[c]) != CRDT_OK) {
                ph_workload_free(w); /* the docs not made yet are NULL */
                return NULL;
            }
        }
    }
    return w;
}

void ph_workload_free(ph_workload *w)
{
    if (!w)
        return;
    for (size_t i = 0; i < w->doc_count; i++) {
        for (int c = 0; c < 2; c++)
            crdt_doc_free(w->docs[i].clients[c]);
        for (size_t u = 0; u < w->docs[i].count; u++)
            free(w->docs[i].updates[u]);
        free(w->docs[i].updates);
        free(w->docs[i].lens);
    }
    free(w->docs);
    free(w);
}

/* Takes u (freed with the workload); -1 when out of memory, u then still the caller's. */
static int keep_update(wl_doc *d, uint8_t *u, size_t len)
{
    if (d->count == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 64;
        uint8_t **updates = realloc(d->updates, cap * sizeof *updates);
        if (!updates)
            return -1;
        d->updates = updates;
        size_t *lens = realloc(d->lens, cap * sizeof *lens);
        if (!lens)
            return -1;
        d->lens = lens;
        d->cap = cap;
    }
    d->updates[d->count] = u;
    d->lens[d->count++] = len;
    return 0;
}

int ph_workload_send(ph_workload *w, size_t n)
{
    for (size_t k = 0; k < n; k++) {
        wl_doc *d = &w->docs[next_rand(w) % w->doc_count];
        int c = (int)(next_rand(w) % 2);
        crdt_doc *client = d->clients[c];
        /* Now and then the two clients sync (each gets the other's state). */
        if (next_rand(w) % 8 == 0) {
            uint8_t *s0, *s1;
            size_t l0, l1;
            crdt_encode_state(d->clients[0], NULL, 0, &s0, &l0);
            crdt_encode_state(d->clients[1], NULL, 0, &s1, &l1);
            crdt_apply_update(d->clients[1], s0, l0, NULL);
            crdt_apply_update(d->clients[0], s1, l1, NULL);
            free(s0);
            free(s1);
        }
        char *text = NULL;
        crdt_read_text(client, "text", NULL, 0, &text);
        size_t len = text ? strlen(text) : 0; /* ASCII only: bytes = UTF-16 units */
        free(text);
        char piece[8];
        snprintf(piece, sizeof piece, "%c", (char)('a' + next_rand(w) % 26));
        uint8_t *u = NULL;
        size_t ulen = 0;
        if (crdt_text_insert(client, "text", len ? next_rand(w) % (len + 1) : 0, piece,
                             strlen(piece), NULL, &u, &ulen) != CRDT_OK)
            return -1;
        char op_id[64];
        snprintf(op_id, sizeof op_id, "c%llu-%zu", (unsigned long long)crdt_doc_client_id(client),
                 d->count);
        if (ph_send_op_nowait(w->env, d->id, op_id, (int64_t)crdt_doc_client_id(client),
                              CAVRO_OP_YJS_UPDATE, u, ulen) != 0) {
            free(u);
            return -1;
        }
        if (keep_update(d, u, ulen) != 0) {
            free(u);
            return -1;
        }
        w->sent++;
    }
    return ph_flush(w->env);
}

size_t ph_workload_docs(const ph_workload *w)
{
    return w->doc_count;
}

const char *ph_workload_doc(const ph_workload *w, size_t i)
{
    return w->docs[i].id;
}

size_t ph_workload_ops(const ph_workload *w, size_t i)
{
    return w->docs[i].count;
}

char *ph_workload_text(const ph_workload *w, size_t i)
{
    return ph_text_of_updates((const uint8_t *const *)w->docs[i].updates, w->docs[i].lens,
                              w->docs[i].count);
}

void ph_workload_verify(ph_workload *w, int timeout_ms)
{
    int64_t deadline = util_now_ms() + timeout_ms;
    for (size_t i = 0; i < w->doc_count; i++) {
        wl_doc *d = &w->docs[i];
        int64_t left = deadline - util_now_ms();
        ph_merged m;
        assert_int_equal(ph_read_merged(w->env, d->id, d->count, (int)(left > 0 ? left : 1), &m),
                         0);
        if (m.count != d->count)
            fail_msg("%s: %zu merged records, %zu ops sent", d->id, m.count, d->count);
        char why[256];
        if (!ph_versions_ok(&m, why, sizeof why))
            fail_msg("%s: %s", d->id, why);
        /* At least one slot: calloc(0, ...) may return NULL, indistinguishable from no memory. */
        size_t slots = m.count > 0 ? m.count : 1;
        const uint8_t **ups = calloc(slots, sizeof *ups);
        size_t *lens = calloc(slots, sizeof *lens);
        assert_non_null(ups);
        assert_non_null(lens);
        for (size_t k = 0; k < m.count; k++) {
            ups[k] = m.records[k].payload.data;
            lens[k] = m.records[k].payload.len;
        }
        char *merged = ph_text_of_updates(ups, lens, m.count);
        char *reference = ph_workload_text(w, i);
        assert_non_null(merged);
        assert_non_null(reference);
        assert_string_equal(merged, reference);
        free(ups);
        free(lens);
        ph_merged_free(&m);

        left = deadline - util_now_ms();
        if (!ph_wait_ops(w->env, d->id, (int64_t)d->count, (int)(left > 0 ? left : 1)))
            fail_msg("%s: crdt_operations did not catch up", d->id);
        int64_t total, distinct;
        bool contiguous;
        assert_int_equal(ph_count_ops(w->env, d->id, &total, &distinct, &contiguous), 0);
        assert_int_equal(total, (int64_t)d->count);
        assert_int_equal(distinct, (int64_t)d->count);
        assert_true(contiguous);
        while (ph_document_version(w->env, d->id) < (int64_t)d->count && util_now_ms() < deadline)
            util_sleep_ms(100);
        assert_int_equal(ph_document_version(w->env, d->id), (int64_t)d->count);
        int64_t version = -1;
        char *view = NULL;
        for (;;) {
            view = ph_view_text(w->env, d->id, &version);
            if (version >= (int64_t)d->count || util_now_ms() >= deadline)
                break;
            free(view);
            util_sleep_ms(100);
        }
        assert_int_equal(version, (int64_t)d->count);
        assert_non_null(view);
        assert_string_equal(view, reference);
        free(view);
        free(reference);
        free(merged);
    }
}

int64_t ph_snapshot_version(ph_env *env, const char *doc)
{
    struct cavro_snapshot snap;
    char err[256];
    if (docstore_latest_snapshot(env->ds, doc, &snap, err, sizeof err) != DOCSTORE_OK)
        return 0;
    int64_t v = snap.doc_version;
    cavro_snapshot_clear(&snap);
    return v;
}
