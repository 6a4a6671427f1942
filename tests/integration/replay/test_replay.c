/*
 * tools/replay against the real servers. A real processor merges a text
 * workload and item writes (one item goes into conflict) into the views;
 * the test records every view (documents, crdt_operations rows, items, Redis
 * doc and item hashes), wipes them and runs build/bin/replay next to the
 * still running processor: every view must come back exactly (states
 * compared as text through the crdt engine), a second run must only find its
 * rows present, --verify must see no difference, then a deleted row and a
 * rolled-back version, and --until must cut each document at the right
 * record (into another database and Redis db) and, into the live views,
 * change nothing. Bad options, a bad --until, an unreachable broker and an
 * undecodable record give their exit codes and messages.
 */
#include <fcntl.h>
#include <inttypes.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <librdkafka/rdkafka.h>

#include "common/util.h"
#include "crdt/crdt.h"
#include "tests/integration/processor/harness.h"
#include "tests/integration/support/itest_support.h"

#define DOCS       3 /* text documents of the workload */
#define ALL_DOCS   4 /* and one of items */
#define ITEM_DOC   3
#define ITEM_OPS   4
#define TEXT_OPS   120
#define MAX_ITEMS  4
#define REPLAY_MAX 600000 /* ms a replay run may take before the test gives up */

/* ---- running build/bin/replay ---- */

typedef struct run_result {
    int code;     /* exit status; -1 when killed at the deadline */
    char *output; /* stdout and stderr (owned) */
} run_result;

static void run_result_free(run_result *r)
{
    free(r->output);
    memset(r, 0, sizeof *r);
}

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return strdup("");
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = calloc(1, (size_t)(n > 0 ? n : 0) + 1);
    if (buf && n > 0 && fread(buf, 1, (size_t)n, f) != (size_t)n)
        buf[0] = '\0';
    fclose(f);
    return buf;
}

/* Runs replay with the run's topic and stores plus args (NULL-terminated);
 * mongo_db/redis_url NULL: the run's. */
static run_result run_replay(ph_env *env, const char *mongo_db, const char *redis_url,
                             const char *const *args, int timeout_ms)
{
    char path[512], out_path[700];
    snprintf(path, sizeof path, "%s/replay", env->bin_dir);
    snprintf(out_path, sizeof out_path, "%s/../Testing/replay-%s-%lld.out", env->bin_dir,
             env->run_id, (long long)util_now_ns());
    const char *argv[48];
    size_t n = 0;
    argv[n++] = path;
    const char *fixed[] = {"--kafka-brokers", env->brokers,
                           "--mongo-uri",     env->mongo_uri,
                           "--mongo-db",      mongo_db ? mongo_db : env->mongo_db,
                           "--redis-url",     redis_url ? redis_url : env->redis_url,
                           "--merged-topic",  env->merged_topic,
                           "--progress",      "1s"};
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
        argv[n++] = fixed[i];
    for (size_t i = 0; args && args[i] && n < 46; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        int fd = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) {
            dup2(fd, STDOUT_FILENO);
            dup2(fd, STDERR_FILENO);
            close(fd);
        }
        execv(path, (char *const *)argv);
        _exit(127);
    }
    run_result r = {.code = -1};
    int64_t deadline = util_now_ms() + timeout_ms;
    int status = 0;
    while (pid > 0) {
        pid_t got = waitpid(pid, &status, WNOHANG);
        if (got == pid) {
            r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
            break;
        }
        if (util_now_ms() > deadline) {
            kill(pid, SIGKILL);
            waitpid(pid, NULL, 0);
            break;
        }
        util_sleep_ms(20);
    }
    r.output = read_file(out_path);
    return r;
}

static void expect_code(const run_result *r, int code)
{
    if (r->code != code)
        fail_msg("replay exited %d, expected %d; its output:\n%s", r->code, code, r->output);
}

static void expect_output(const run_result *r, const char *text)
{
    if (!strstr(r->output, text))
        fail_msg("replay output lacks \"%s\":\n%s", text, r->output);
}

/* The number after "label: " in the summary. */
static int64_t summary_value(const run_result *r, const char *label)
{
    const char *p = strstr(r->output, label);
    if (!p) {
        fail_msg("summary lacks \"%s\":\n%s", label, r->output);
        return -1; /* not reached: fail_msg leaves the test */
    }
    return strtoll(p + strlen(label), NULL, 10);
}

/* ---- the views, recorded ---- */

typedef struct row {
    char *id;
    int64_t version;
    char *kind;
    uint8_t *bytes;
    size_t len;
} row;

typedef struct item_view {
    char *item_id;
    int64_t revision;
    char *state_json;            /* MongoDB items */
    docstore_cached_item cached; /* Redis item:{doc}:{item} */
} item_view;

typedef struct doc_view {
    int64_t version; /* MongoDB documents */
    uint8_t *sv;
    size_t sv_len;
    int64_t redis_version; /* Redis doc:{doc} */
    char *text;            /* its state, read with the crdt engine */
    row *rows;
    size_t row_count;
    item_view items[MAX_ITEMS];
    size_t item_count;
} doc_view;

static void doc_view_free(doc_view *v)
{
    free(v->sv);
    free(v->text);
    for (size_t i = 0; i < v->row_count; i++) {
        free(v->rows[i].id);
        free(v->rows[i].kind);
        free(v->rows[i].bytes);
    }
    free(v->rows);
    for (size_t i = 0; i < v->item_count; i++) {
        free(v->items[i].item_id);
        free(v->items[i].state_json);
        docstore_cached_item_clear(&v->items[i].cached);
    }
    memset(v, 0, sizeof *v);
}

static const char *bson_str(const bson_t *b, const char *key)
{
    bson_iter_t it;
    return bson_iter_init_find(&it, b, key) && BSON_ITER_HOLDS_UTF8(&it) ? bson_iter_utf8(&it, NULL)
                                                                         : "";
}

static int64_t bson_num(const bson_t *b, const char *key)
{
    bson_iter_t it;
    return bson_iter_init_find(&it, b, key) && BSON_ITER_HOLDS_NUMBER(&it) ? bson_iter_as_int64(&it)
                                                                           : -1;
}

static uint8_t *bson_bin(const bson_t *b, const char *key, size_t *len)
{
    bson_iter_t it;
    *len = 0;
    if (!bson_iter_init_find(&it, b, key) || !BSON_ITER_HOLDS_BINARY(&it))
        return NULL;
    const uint8_t *data;
    uint32_t n;
    bson_subtype_t sub;
    bson_iter_binary(&it, &sub, &n, &data);
    uint8_t *copy = malloc(n ? n : 1);
    memcpy(copy, data, n);
    *len = n;
    return copy;
}

static int item_fn(void *userdata, const char *item_id, int64_t revision, const char *state_json)
{
    doc_view *v = userdata;
    assert_true(v->item_count < MAX_ITEMS);
    item_view *it = &v->items[v->item_count++];
    it->item_id = strdup(item_id);
    it->revision = revision;
    it->state_json = strdup(state_json);
    return 0;
}

static int by_item_id(const void *a, const void *b)
{
    return strcmp(((const item_view *)a)->item_id, ((const item_view *)b)->item_id);
}

/* Records every view of doc in env's database and Redis (redis may be
 * another handle than env's, for another Redis db). */
static void record_views(ph_env *env, docstore *ds, cmongo *mongo, const char *doc, doc_view *v)
{
    memset(v, 0, sizeof *v);
    char err[512];
    mongoc_client_t *client = cmongo_acquire(mongo);
    mongoc_collection_t *coll = cmongo_collection(mongo, client, "documents");
    bson_t *filter = BCON_NEW("_id", BCON_UTF8(doc));
    mongoc_cursor_t *cursor = mongoc_collection_find_with_opts(coll, filter, NULL, NULL);
    const bson_t *b;
    v->version = -1;
    if (mongoc_cursor_next(cursor, &b)) {
        v->version = bson_num(b, "version");
        v->sv = bson_bin(b, "state_vector", &v->sv_len);
    }
    mongoc_cursor_destroy(cursor);
    bson_destroy(filter);
    mongoc_collection_destroy(coll);
    coll = cmongo_collection(mongo, client, "crdt_operations");
    filter = BCON_NEW("doc_id", BCON_UTF8(doc));
    bson_t *opts = BCON_NEW("sort", "{", "version", BCON_INT32(1), "}");
    cursor = mongoc_collection_find_with_opts(coll, filter, opts, NULL);
    size_t cap = 0;
    while (mongoc_cursor_next(cursor, &b)) {
        if (v->row_count == cap) {
            cap = cap ? cap * 2 : 64;
            v->rows = realloc(v->rows, cap * sizeof *v->rows);
        }
        row *r = &v->rows[v->row_count++];
        r->id = strdup(bson_str(b, "_id"));
        r->kind = strdup(bson_str(b, "kind"));
        r->version = bson_num(b, "version");
        r->bytes = bson_bin(b, "bytes", &r->len);
    }
    bson_error_t error;
    assert_false(mongoc_cursor_error(cursor, &error));
    mongoc_cursor_destroy(cursor);
    bson_destroy(opts);
    bson_destroy(filter);
    mongoc_collection_destroy(coll);
    cmongo_release(mongo, client);

    docstore_state st;
    v->redis_version = -1;
    if (docstore_get_cached_state(ds, doc, &st, err, sizeof err) == DOCSTORE_OK) {
        v->redis_version = st.version;
        const uint8_t *u = st.state;
        size_t len = st.state_len;
        v->text = ph_text_of_updates(&u, &len, 1);
        docstore_state_clear(&st);
    }
    assert_int_equal(docstore_items(ds, doc, item_fn, v, err, sizeof err), DOCSTORE_OK);
    qsort(v->items, v->item_count, sizeof v->items[0], by_item_id);
    for (size_t i = 0; i < v->item_count; i++) {
        docstore_status s = docstore_get_cached_item(ds, doc, v->items[i].item_id,
                                                     &v->items[i].cached, err, sizeof err);
        assert_int_equal(s, DOCSTORE_OK);
    }
    (void)env;
}

static void expect_same_views(const char *doc, const doc_view *want, const doc_view *got)
{
    if (got->version != want->version)
        fail_msg("%s: documents.version %lld, was %lld", doc, (long long)got->version,
                 (long long)want->version);
    assert_int_equal(got->sv_len, want->sv_len);
    assert_memory_equal(got->sv, want->sv, want->sv_len);
    assert_int_equal(got->redis_version, want->redis_version);
    assert_non_null(got->text);
    assert_string_equal(got->text, want->text);
    if (got->row_count != want->row_count)
        fail_msg("%s: %zu crdt_operations rows, were %zu", doc, got->row_count, want->row_count);
    for (size_t i = 0; i < want->row_count; i++) {
        assert_string_equal(got->rows[i].id, want->rows[i].id);
        assert_int_equal(got->rows[i].version, want->rows[i].version);
        assert_string_equal(got->rows[i].kind, want->rows[i].kind);
        assert_int_equal(got->rows[i].len, want->rows[i].len);
        assert_memory_equal(got->rows[i].bytes, want->rows[i].bytes, want->rows[i].len);
    }
    assert_int_equal(got->item_count, want->item_count);
    for (size_t i = 0; i < want->item_count; i++) {
        const item_view *a = &want->items[i], *b = &got->items[i];
        assert_string_equal(b->item_id, a->item_id);
        assert_int_equal(b->revision, a->revision);
        assert_string_equal(b->state_json, a->state_json);
        assert_int_equal(b->cached.revision, a->cached.revision);
        assert_int_equal(b->cached.version, a->cached.version);
        assert_string_equal(b->cached.state_json, a->cached.state_json);
        assert_int_equal(b->cached.conflict, a->cached.conflict);
        assert_int_equal(b->cached.value_len, a->cached.value_len);
        assert_memory_equal(b->cached.value, a->cached.value, a->cached.value_len);
    }
}

/* The most documents one partition of the run's collab.merged holds: what a
 * replay, which reads the partitions one after the other, holds at once. */
static int64_t most_documents_in_a_partition(const ph_env *env)
{
    char err[256], group[200];
    snprintf(group, sizeof group, "%s-partition-census", env->run_id);
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (rd_kafka_conf_set(conf, "bootstrap.servers", env->brokers, err, sizeof err) ||
        rd_kafka_conf_set(conf, "group.id", group, err, sizeof err) ||
        rd_kafka_conf_set(conf, "isolation.level", "read_committed", err, sizeof err) ||
        rd_kafka_conf_set(conf, "enable.partition.eof", "true", err, sizeof err))
        fail_msg("census config: %s", err);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
    assert_non_null(rk);
    rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(env->partitions);
    for (int p = 0; p < env->partitions; p++)
        rd_kafka_topic_partition_list_add(parts, env->merged_topic, p)->offset =
            RD_KAFKA_OFFSET_BEGINNING;
    assert_int_equal(rd_kafka_assign(rk, parts), 0);
    rd_kafka_topic_partition_list_destroy(parts);
    /* Distinct keys per partition (the run has ALL_DOCS documents). */
    char keys[64][ALL_DOCS][200];
    int key_count[64] = {0};
    assert_true(env->partitions <= 64);
    int open = env->partitions;
    int64_t deadline = util_now_ms() + 60000;
    while (open > 0) {
        assert_true(util_now_ms() < deadline);
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 200);
        if (!m)
            continue;
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            open--;
        } else if (m->err) {
            fail_msg("census: %s", rd_kafka_message_errstr(m));
        } else if (m->key && m->key_len < 200) {
            int p = m->partition;
            bool known = false;
            for (int k = 0; k < key_count[p] && !known; k++)
                known =
                    strlen(keys[p][k]) == m->key_len && memcmp(keys[p][k], m->key, m->key_len) == 0;
            if (!known) {
                assert_true(key_count[p] < ALL_DOCS);
                memcpy(keys[p][key_count[p]], m->key, m->key_len);
                keys[p][key_count[p]++][m->key_len] = '\0';
            }
        }
        rd_kafka_message_destroy(m);
    }
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    int most = 0;
    for (int p = 0; p < env->partitions; p++)
        most = key_count[p] > most ? key_count[p] : most;
    return most;
}

/* ---- fixture: one processor run shared by the tests ---- */

typedef struct fixture {
    ph_env env;
    ph_proc processor;
    ph_workload *work;
    char item_doc[200];
    const char *ids[ALL_DOCS];
    doc_view before[ALL_DOCS];
} fixture;

static void send_item(fixture *f, const char *op_id, const char *item, const char *value,
                      const int64_t clock[2], int64_t client_id)
{
    uint8_t *payload = NULL;
    size_t len = 0;
    assert_int_equal(ph_item_payload(&f->env, false, item, value, clock, 2,
                                     util_wall_ns() / 1000000, client_id, &payload, &len),
                     0);
    assert_int_equal(
        ph_send_op(&f->env, f->item_doc, op_id, client_id, CAVRO_OP_ITEM_WRITE, payload, len), 0);
    free(payload);
}

static void wipe_views(fixture *f)
{
    mongoc_client_t *client = cmongo_acquire(f->env.mongo);
    const char *collections[] = {"documents", "crdt_operations", "items"};
    for (size_t i = 0; i < 3; i++) {
        mongoc_collection_t *coll = cmongo_collection(f->env.mongo, client, collections[i]);
        bson_error_t error;
        assert_true(mongoc_collection_drop(coll, &error));
        mongoc_collection_destroy(coll);
    }
    cmongo_release(f->env.mongo, client);
    for (size_t d = 0; d < ALL_DOCS; d++) {
        const char *doc = f->ids[d];
        redisReply *r = credis_command(f->env.redis, "DEL doc:%s", doc);
        assert_non_null(r);
        freeReplyObject(r);
        for (size_t i = 0; i < f->before[d].item_count; i++) {
            r = credis_command(f->env.redis, "DEL item:%s:%s", doc, f->before[d].items[i].item_id);
            assert_non_null(r);
            freeReplyObject(r);
        }
    }
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    if (ph_env_init(&f->env, "replay", 2) != 0)
        return -1;
    f->work = ph_workload_new(&f->env, "doc", DOCS, 4242);
    ph_doc_id(&f->env, "items", f->item_doc, sizeof f->item_doc);
    for (size_t d = 0; d < DOCS; d++)
        f->ids[d] = ph_workload_doc(f->work, d);
    f->ids[ITEM_DOC] = f->item_doc;
    if (ph_start_processor(&f->env, "p1", NULL, &f->processor) != 0)
        return -1;
    if (ph_workload_send(f->work, TEXT_OPS) != 0)
        return -1;
    /* Items on one document: a settled item and two concurrent writes of
     * another (manual policy: a conflict with two siblings). */
    send_item(f, "item-a1", "title", "first", (int64_t[]){1, 0}, 1);
    send_item(f, "item-a2", "title", "second", (int64_t[]){2, 0}, 1);
    send_item(f, "item-b1", "colour", "red", (int64_t[]){1, 0}, 1);
    send_item(f, "item-b2", "colour", "blue", (int64_t[]){0, 1}, 2);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    ph_stop(&f->processor, 30000);
    for (size_t d = 0; d < ALL_DOCS; d++)
        doc_view_free(&f->before[d]);
    ph_workload_free(f->work);
    ph_env_free(&f->env);
    free(f);
    return 0;
}

/* Every op merged and every view written: what the replay must rebuild. */
static void wait_for_views(fixture *f)
{
    ph_workload_verify(f->work, 180000);
    int64_t deadline = util_now_ms() + 120000;
    for (size_t d = 0; d < ALL_DOCS; d++) {
        size_t want = d == ITEM_DOC ? ITEM_OPS : ph_workload_ops(f->work, d);
        size_t want_items = d == ITEM_DOC ? 2 : 0;
        doc_view *v = &f->before[d];
        for (;;) {
            doc_view_free(v);
            record_views(&f->env, f->env.ds, f->env.mongo, f->ids[d], v);
            bool items_done = v->item_count == want_items;
            for (size_t i = 0; i < v->item_count; i++)
                items_done = items_done && v->items[i].cached.revision == v->items[i].revision;
            if ((v->version == (int64_t)want && v->redis_version == (int64_t)want &&
                 v->row_count == want && items_done) ||
                util_now_ms() > deadline)
                break;
            util_sleep_ms(200);
        }
        assert_int_equal(v->version, (int64_t)want);
        assert_int_equal(v->redis_version, (int64_t)want);
        assert_int_equal(v->row_count, want);
        assert_int_equal(v->item_count, want_items);
    }
    /* "colour" holds two concurrent values. */
    assert_string_equal(f->before[ITEM_DOC].items[0].item_id, "colour");
    assert_true(f->before[ITEM_DOC].items[0].cached.conflict);
    assert_false(f->before[ITEM_DOC].items[1].cached.conflict);
}

static void test_rebuild_after_wipe(void **state)
{
    fixture *f = *state;
    wait_for_views(f);
    wipe_views(f);
    /* The processor keeps running: a replay beside it is safe. */
    run_result r = run_replay(&f->env, NULL, NULL, NULL, REPLAY_MAX);
    expect_code(&r, 0);
    size_t rows = 0;
    for (size_t d = 0; d < ALL_DOCS; d++)
        rows += f->before[d].row_count;
    assert_int_equal(summary_value(&r, "crdt_operations rows written: "), (int64_t)rows);
    assert_int_equal(summary_value(&r, "\ndocuments: "), ALL_DOCS);
    assert_int_equal(summary_value(&r, "version gaps: "), 0);
    /* The partitions are read one after the other, each one's documents
     * written and dropped at its end. */
    assert_int_equal(summary_value(&r, "documents in memory at most: "),
                     most_documents_in_a_partition(&f->env));
    run_result_free(&r);
    for (size_t d = 0; d < ALL_DOCS; d++) {
        doc_view after;
        record_views(&f->env, f->env.ds, f->env.mongo, f->ids[d], &after);
        expect_same_views(f->ids[d], &f->before[d], &after);
        doc_view_free(&after);
    }
    /* Again: every write finds its view already there. */
    r = run_replay(&f->env, NULL, NULL, NULL, REPLAY_MAX);
    expect_code(&r, 0);
    assert_int_equal(summary_value(&r, "crdt_operations rows written: "), 0);
    assert_int_equal(summary_value(&r, "already present: "), (int64_t)rows);
    assert_int_equal(summary_value(&r, "documents written: "), 0);
    run_result_free(&r);
    r = run_replay(&f->env, NULL, NULL, (const char *[]){"--verify", NULL}, REPLAY_MAX);
    expect_code(&r, 0);
    assert_int_equal(summary_value(&r, "differences: "), 0);
    run_result_free(&r);
}

static void test_verify_finds_deleted_row_and_rolled_back_version(void **state)
{
    fixture *f = *state;
    const char *doc = ph_workload_doc(f->work, 1);
    const doc_view *v = &f->before[1];
    assert_true(v->row_count > 10);
    const char *row_id = v->rows[7].id;
    mongoc_client_t *client = cmongo_acquire(f->env.mongo);
    mongoc_collection_t *coll = cmongo_collection(f->env.mongo, client, "crdt_operations");
    bson_t *sel = BCON_NEW("_id", BCON_UTF8(row_id));
    bson_error_t error;
    assert_true(mongoc_collection_delete_one(coll, sel, NULL, NULL, &error));
    bson_destroy(sel);
    mongoc_collection_destroy(coll);
    /* Another document rolled back by two versions in MongoDB. */
    const char *doc2 = ph_workload_doc(f->work, 2);
    coll = cmongo_collection(f->env.mongo, client, "documents");
    sel = BCON_NEW("_id", BCON_UTF8(doc2));
    bson_t *upd = BCON_NEW("$set", "{", "version", BCON_INT64(f->before[2].version - 2), "}");
    assert_true(mongoc_collection_update_one(coll, sel, upd, NULL, NULL, &error));
    bson_destroy(upd);
    bson_destroy(sel);
    mongoc_collection_destroy(coll);
    cmongo_release(f->env.mongo, client);

    run_result r = run_replay(&f->env, NULL, NULL, (const char *[]){"--verify", NULL}, REPLAY_MAX);
    expect_code(&r, 1);
    char line[600];
    snprintf(line, sizeof line, "crdt_operations %s: missing", row_id);
    expect_output(&r, line);
    snprintf(line, sizeof line, "documents %s: version %" PRId64 ", the log says %" PRId64, doc2,
             f->before[2].version - 2, f->before[2].version);
    expect_output(&r, line);
    assert_int_equal(summary_value(&r, "differences: "), 2);
    run_result_free(&r);
    /* --verify wrote nothing: the row is still missing. */
    doc_view now;
    record_views(&f->env, f->env.ds, f->env.mongo, doc, &now);
    assert_int_equal(now.row_count, v->row_count - 1);
    doc_view_free(&now);
    /* A rebuild repairs both, then verify is clean again. */
    r = run_replay(&f->env, NULL, NULL, NULL, REPLAY_MAX);
    expect_code(&r, 0);
    assert_int_equal(summary_value(&r, "crdt_operations rows written: "), 1);
    run_result_free(&r);
    for (size_t d = 0; d < ALL_DOCS; d++) {
        record_views(&f->env, f->env.ds, f->env.mongo, f->ids[d], &now);
        expect_same_views(f->ids[d], &f->before[d], &now);
        doc_view_free(&now);
    }
    r = run_replay(&f->env, NULL, NULL, (const char *[]){"--verify", NULL}, REPLAY_MAX);
    expect_code(&r, 0);
    run_result_free(&r);
}

static void test_until_cuts_at_the_right_record(void **state)
{
    fixture *f = *state;
    const char *doc = ph_workload_doc(f->work, 0);
    ph_merged m;
    size_t total = f->before[0].row_count;
    assert_true(total > 10);
    assert_int_equal(ph_read_merged(&f->env, doc, total, PH_TIMEOUT_MS, &m), 0);
    assert_int_equal(m.count, total);
    /* The cut: the processing time of a record in the middle, to the
     * microsecond. Expected: every record of the document up to the first
     * one merged later. */
    int64_t cut_us = m.records[total / 2].processed_time_us;
    size_t want = 0;
    while (want < m.count && m.records[want].processed_time_us <= cut_us)
        want++;
    assert_true(want >= total / 2 + 1);
    time_t secs = (time_t)(cut_us / 1000000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    char until[64], arg[80];
    snprintf(until, sizeof until, "%04d-%02d-%02dT%02d:%02d:%02d.%06lldZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
             (long long)(cut_us % 1000000));
    snprintf(arg, sizeof arg, "--until=%s", until);

    /* Into another database and Redis db: the state as of the cut. */
    char other_db[160], other_redis[300];
    snprintf(other_db, sizeof other_db, "%s_until", f->env.mongo_db);
    snprintf(other_redis, sizeof other_redis, "%s/5", f->env.redis_url);
    char docarg[240];
    snprintf(docarg, sizeof docarg, "--doc=%s", doc);
    run_result r =
        run_replay(&f->env, other_db, other_redis, (const char *[]){arg, docarg, NULL}, REPLAY_MAX);
    expect_code(&r, 0);
    assert_int_equal(summary_value(&r, "records replayed: "), (int64_t)want);
    run_result_free(&r);
    char err[512];
    cmongo_opts mo = {.uri = f->env.mongo_uri, .db = other_db, .log = f->env.log};
    cmongo *mongo = cmongo_new(&mo, err, sizeof err);
    credis_opts ro = {.url = other_redis, .log = f->env.log};
    credis *redis = credis_new(&ro, err, sizeof err);
    docstore *ds = docstore_new(mongo, redis, f->env.avro, f->env.log);
    doc_view cut;
    record_views(&f->env, ds, mongo, doc, &cut);
    assert_int_equal(cut.version, (int64_t)want);
    assert_int_equal(cut.redis_version, (int64_t)want);
    assert_int_equal(cut.row_count, want);
    for (size_t i = 0; i < want; i++)
        assert_int_equal(cut.rows[i].version, (int64_t)i + 1);
    assert_true(want > 0);
    const uint8_t **ups = calloc(want ? want : 1, sizeof *ups);
    size_t *lens = calloc(want ? want : 1, sizeof *lens);
    for (size_t i = 0; i < want; i++) {
        ups[i] = m.records[i].payload.data;
        lens[i] = m.records[i].payload.len;
    }
    char *expected = ph_text_of_updates(ups, lens, want);
    assert_non_null(cut.text);
    assert_string_equal(cut.text, expected);
    free(expected);
    free(ups);
    free(lens);
    doc_view_free(&cut);
    redisReply *rr = credis_command(redis, "DEL doc:%s", doc);
    if (rr)
        freeReplyObject(rr);
    mongoc_client_t *client = cmongo_acquire(mongo);
    mongoc_database_t *db = mongoc_client_get_database(client, other_db);
    bson_error_t error;
    mongoc_database_drop(db, &error);
    mongoc_database_destroy(db);
    cmongo_release(mongo, client);
    docstore_free(ds);
    credis_free(redis);
    cmongo_free(mongo);

    /* Into the live views: nothing is rolled back. */
    r = run_replay(&f->env, NULL, NULL, (const char *[]){arg, NULL}, REPLAY_MAX);
    expect_code(&r, 0);
    assert_int_equal(summary_value(&r, "documents written: "), 0);
    assert_int_equal(summary_value(&r, "redis doc states written: "), 0);
    run_result_free(&r);
    doc_view now;
    record_views(&f->env, f->env.ds, f->env.mongo, doc, &now);
    expect_same_views(doc, &f->before[0], &now);
    doc_view_free(&now);
    ph_merged_free(&m);
}

static void test_bad_input(void **state)
{
    fixture *f = *state;
    run_result r = run_replay(&f->env, NULL, NULL, (const char *[]){"--no-such-flag", NULL}, 60000);
    expect_code(&r, 2);
    expect_output(&r, "unknown flag --no-such-flag");
    run_result_free(&r);
    r = run_replay(&f->env, NULL, NULL, (const char *[]){"--until=2026-02-30T00:00:00Z", NULL},
                   60000);
    expect_code(&r, 2);
    expect_output(&r, "invalid --until");
    run_result_free(&r);
    r = run_replay(&f->env, NULL, NULL, (const char *[]){"--until=yesterday", NULL}, 60000);
    expect_code(&r, 2);
    run_result_free(&r);
    /* Nothing listens on port 1: a clear error once the timeout passed. */
    r = run_replay(&f->env, NULL, NULL,
                   (const char *[]){"--kafka-brokers=127.0.0.1:1", "--timeout=2s", NULL}, 60000);
    expect_code(&r, 3);
    expect_output(&r, "cannot reach Kafka at 127.0.0.1:1");
    run_result_free(&r);
    r = run_replay(&f->env, NULL, NULL,
                   (const char *[]){"--mongo-uri=mongodb://127.0.0.1:1", "--timeout=1s", NULL},
                   60000);
    expect_code(&r, 3);
    expect_output(&r, "cannot reach MongoDB");
    run_result_free(&r);

    /* An undecodable record in the log: counted and skipped (exit 4), the
     * rest replayed; --strict stops at it. */
    const char *doc = ph_workload_doc(f->work, 1);
    assert_int_equal(
        itest_produce_and_wait(f->env.producer, f->env.merged_topic, doc, "not avro", 8), 0);
    r = run_replay(&f->env, NULL, NULL, NULL, REPLAY_MAX);
    expect_code(&r, 4);
    assert_int_equal(summary_value(&r, "undecodable records: "), 1);
    expect_output(&r, "undecodable records were skipped");
    run_result_free(&r);
    r = run_replay(&f->env, NULL, NULL, (const char *[]){"--strict", NULL}, REPLAY_MAX);
    expect_code(&r, 4);
    expect_output(&r, "stopped (--strict)");
    run_result_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rebuild_after_wipe),
        cmocka_unit_test(test_verify_finds_deleted_row_and_rolled_back_version),
        cmocka_unit_test(test_until_cuts_at_the_right_record),
        cmocka_unit_test(test_bad_input),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
