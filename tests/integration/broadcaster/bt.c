/*
 * bt: run-scoped resources and the broadcaster process for the
 * integration tests. See bt.h.
 */
#include "bt.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/avro_registry.h"
#include "common/kafka_admin.h"
#include "common/util.h"
#include "crdt/crdt.h"
#include "tests/integration/support/itest_support.h"

#define SECRET "broadcaster-itest-secret-0123456789abcdef"

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) != 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    close(fd);
    return ntohs(a.sin_port);
}

int bt_env_init(bt_env *env, const char *name, int partitions)
{
    memset(env, 0, sizeof *env);
    env->pid = -1;
    snprintf(env->run_id, sizeof env->run_id, "bc-%s-%ld-%lld", name, (long)getpid(),
             (long long)(util_wall_ns() / 1000000 % 100000000));
    env->brokers = itest_env_or("COLLAB_KAFKA_BROKERS", "127.0.0.1:9092");
    env->mongo_uri = itest_env_or("COLLAB_MONGO_URI", "mongodb://127.0.0.1:27017");
    env->redis_url = itest_env_or("COLLAB_REDIS_URL", "redis://127.0.0.1:6379");
    env->bin_dir = itest_env_or("COLLAB_BIN_DIR", "build/bin");
    env->partitions = partitions;
    snprintf(env->mongo_db, sizeof env->mongo_db, "itest_%s", env->run_id);
    for (char *p = env->mongo_db; *p; p++)
        if (*p == '-')
            *p = '_';
    snprintf(env->topic, sizeof env->topic, "itest.merged.%s", env->run_id);
    snprintf(env->ops_topic, sizeof env->ops_topic, "itest.ops.%s", env->run_id);
    env->log = clog_new("itest-broadcaster", CLOG_WARN, 2);
    char err[512];
    if (cavro_registry_new_builtin(&env->avro, err, sizeof err) != CAVRO_OK) {
        fprintf(stderr, "avro: %s\n", err);
        return -1;
    }
    ckafka_admin *admin = ckafka_admin_new(env->brokers, env->log, err, sizeof err);
    if (!admin ||
        ckafka_topic_create(admin, env->topic, partitions, 1, NULL, 30000, err, sizeof err) != 0 ||
        ckafka_topic_create(admin, env->ops_topic, partitions, 1, NULL, 30000, err, sizeof err) !=
            0) {
        fprintf(stderr, "topic: %s\n", err);
        ckafka_admin_free(admin);
        return -1;
    }
    ckafka_admin_free(admin);
    cmongo_opts mo = {.uri = env->mongo_uri, .db = env->mongo_db, .log = env->log};
    env->mongo = cmongo_new(&mo, err, sizeof err);
    credis_opts ro = {.url = env->redis_url, .log = env->log};
    env->redis = env->mongo ? credis_new(&ro, err, sizeof err) : NULL;
    if (!env->redis) {
        fprintf(stderr, "stores: %s\n", err);
        return -1;
    }
    env->ds = docstore_new(env->mongo, env->redis, env->avro, env->log);
    env->us = ustore_new(env->mongo, env->log);
    ckafka_producer_opts po = {.brokers = env->brokers,
                               .client_id = "itest-broadcaster",
                               .log = env->log,
                               .on_delivery = itest_on_delivery};
    env->producer = ckafka_producer_new(&po, err, sizeof err);
    struct authtoken_config tc = {.alg = AUTHTOKEN_HS256,
                                  .secret = (const uint8_t *)SECRET,
                                  .secret_len = strlen(SECRET),
                                  .issuer = "collab",
                                  .audience = "collab",
                                  .leeway_seconds = -1};
    if (!env->ds || !env->us || !env->producer ||
        authtoken_keys_new(&tc, &env->keys, err, sizeof err) != AUTHTOKEN_OK ||
        docstore_ensure_indexes(env->ds, err, sizeof err) != DOCSTORE_OK ||
        ustore_ensure_indexes(env->us, err, sizeof err) != 0) {
        fprintf(stderr, "setup: %s\n", err);
        return -1;
    }
    return 0;
}

void bt_env_free(bt_env *env)
{
    if (env->pid > 0)
        bt_stop(env, 10000);
    const char *topics[] = {env->topic, env->ops_topic, NULL};
    itest_drop_run(env->brokers, env->log, topics, env->mongo, env->mongo_db);
    if (env->producer)
        ckafka_producer_free(env->producer);
    authtoken_keys_free(env->keys);
    ustore_free(env->us);
    docstore_free(env->ds);
    credis_free(env->redis);
    cmongo_free(env->mongo);
    cavro_registry_free(env->avro);
    clog_free(env->log);
}

/* One HTTP GET on the metrics port; the malloc'd response, or NULL. */
static char *http_get(int port, const char *path)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    char req[256];
    int n = snprintf(req, sizeof req,
                     "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", path);
    if (write(fd, req, (size_t)n) != n) {
        close(fd);
        return NULL;
    }
    size_t cap = 65536, len = 0;
    char *buf = malloc(cap);
    int64_t deadline = util_now_ms() + 5000;
    while (buf && util_now_ms() < deadline) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 500) <= 0)
            continue;
        if (cap - len < 4096) {
            char *b = realloc(buf, cap * 2);
            if (!b)
                break;
            buf = b;
            cap *= 2;
        }
        ssize_t r = read(fd, buf + len, cap - len - 1);
        if (r <= 0)
            break;
        len += (size_t)r;
    }
    close(fd);
    if (buf)
        buf[len] = '\0';
    return buf;
}

int bt_start(bt_env *env, const char *const *extra)
{
    env->port = free_port();
    env->metrics_port = free_port();
    char listen[64], metrics[64], path[512];
    snprintf(listen, sizeof listen, "127.0.0.1:%d", env->port);
    snprintf(metrics, sizeof metrics, "127.0.0.1:%d", env->metrics_port);
    snprintf(path, sizeof path, "%s/broadcaster", env->bin_dir);
    snprintf(env->log_path, sizeof env->log_path, "%s/../Testing/broadcaster-%s.log", env->bin_dir,
             env->run_id);
    const char *argv[64] = {path,           "--kafka-brokers", env->brokers,  "--mongo-uri",
                            env->mongo_uri, "--mongo-db",      env->mongo_db, "--redis-url",
                            env->redis_url, "--listen",        listen,        "--metrics-listen",
                            metrics,        "--merged-topic",  env->topic,    "--ops-topic",
                            env->ops_topic, "--jwt-secret",    SECRET,        "--log-level",
                            "info"};
    size_t n = 21;
    for (size_t i = 0; extra && extra[i] && n < 62; i++)
        argv[n++] = extra[i];
    argv[n] = NULL;
    pid_t pid = itest_spawn(path, argv, env->log_path);
    if (pid < 0)
        return -1;
    env->pid = pid;
    int64_t deadline = util_now_ms() + 60000;
    while (util_now_ms() < deadline) {
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid) {
            env->pid = -1;
            fprintf(stderr, "broadcaster exited at start; see %s\n", env->log_path);
            return -1;
        }
        char *r = http_get(env->metrics_port, "/readyz");
        bool ok = r && strncmp(r, "HTTP/1.1 200", 12) == 0;
        free(r);
        if (ok)
            return 0;
        util_sleep_ms(100);
    }
    fprintf(stderr, "broadcaster not ready in time; see %s\n", env->log_path);
    return -1;
}

int bt_stop(bt_env *env, int timeout_ms)
{
    if (env->pid <= 0)
        return -1;
    kill(env->pid, SIGTERM);
    int64_t deadline = util_now_ms() + timeout_ms;
    int status = 0;
    while (util_now_ms() < deadline) {
        if (waitpid(env->pid, &status, WNOHANG) == env->pid) {
            env->pid = -1;
            return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        }
        util_sleep_ms(20);
    }
    kill(env->pid, SIGKILL);
    waitpid(env->pid, &status, 0);
    env->pid = -1;
    return -1;
}

void bt_doc_id(const bt_env *env, const char *name, char *out, size_t size)
{
    snprintf(out, size, "%s-%s", env->run_id, name);
}

int bt_user(bt_env *env, const char *name, ustore_user *out, char **token)
{
    char username[USTORE_USERNAME_MAX + 1];
    snprintf(username, sizeof username, "%s-%s", name, env->run_id);
    if (ustore_user_create(env->us, username, "$argon2id$unused", name, out) != USTORE_OK)
        return -1;
    return authtoken_issue(env->keys, out->id, name, util_wall_ns() / 1000000000LL, token, NULL) ==
                   AUTHTOKEN_OK
               ? 0
               : -1;
}

int bt_doc(bt_env *env, const char *doc_id, const char *owner)
{
    ustore_doc d;
    memset(&d, 0, sizeof d);
    snprintf(d.id, sizeof d.id, "%s", doc_id);
    snprintf(d.title, sizeof d.title, "test");
    snprintf(d.owner, sizeof d.owner, "%s", owner);
    snprintf(d.item_policy, sizeof d.item_policy, "manual");
    return ustore_doc_create(env->us, &d) == USTORE_OK ? 0 : -1;
}

int bt_grant(bt_env *env, const char *doc_id, const char *user_id, ustore_role role)
{
    return ustore_permission_set(env->us, doc_id, user_id, role, user_id) == USTORE_OK ? 0 : -1;
}

static int produce(bt_env *env, const char *key, const void *value, size_t len)
{
    return itest_produce_and_wait(env->producer, env->topic, key, value, len);
}

static uint8_t *encode_merged(bt_env *env, const char *doc_id, int64_t version, const char *op_id,
                              enum cavro_merged_kind kind, const uint8_t *payload, size_t len,
                              size_t *out_len)
{
    int64_t now_us = util_wall_ns() / 1000;
    struct cavro_merged_op m = {.doc_id = (char *)doc_id,
                                .doc_version = version,
                                .op_id = (char *)op_id,
                                .kind = kind,
                                .payload = {(uint8_t *)payload, len},
                                .user_id = "itest",
                                .client_id = 7,
                                .ingest_time_us = now_us,
                                .processed_time_us = now_us};
    uint8_t *bytes = NULL;
    size_t blen = 0;
    char err[256];
    if (cavro_merged_op_encode(env->avro, &m, &bytes, &blen, err, sizeof err) != CAVRO_OK) {
        fprintf(stderr, "encode: %s\n", err);
        return NULL;
    }
    *out_len = blen;
    return bytes;
}

int bt_send_merged(bt_env *env, const char *doc_id, int64_t version, const char *op_id,
                   enum cavro_merged_kind kind, const uint8_t *payload, size_t len)
{
    size_t blen;
    uint8_t *bytes = encode_merged(env, doc_id, version, op_id, kind, payload, len, &blen);
    int rc = bytes ? produce(env, doc_id, bytes, blen) : -1;
    free(bytes);
    return rc;
}

int bt_send_merged_nowait(bt_env *env, const char *doc_id, int64_t version, const char *op_id,
                          const uint8_t *payload, size_t len)
{
    size_t blen;
    uint8_t *bytes =
        encode_merged(env, doc_id, version, op_id, CAVRO_MERGED_YJS_UPDATE, payload, len, &blen);
    int rc = bytes && ckafka_producer_send(env->producer, env->topic, RD_KAFKA_PARTITION_UA, doc_id,
                                           strlen(doc_id), bytes, blen, NULL,
                                           5000) == RD_KAFKA_RESP_ERR_NO_ERROR
                 ? 0
                 : -1;
    free(bytes);
    return rc;
}

int bt_flush(bt_env *env)
{
    return ckafka_producer_flush(env->producer, 30000) == RD_KAFKA_RESP_ERR_NO_ERROR ? 0 : -1;
}

int bt_send_raw(bt_env *env, const char *key, const void *value, size_t len)
{
    return produce(env, key, value, len);
}

int bt_store_op(bt_env *env, const char *doc_id, int64_t version, const char *op_id,
                const uint8_t *payload, size_t len)
{
    docstore_op op = {.doc_id = doc_id,
                      .op_id = op_id,
                      .version = version,
                      .kind = "YJS_UPDATE",
                      .user_id = "itest",
                      .client_id = 7,
                      .ingest_time_us = util_wall_ns() / 1000,
                      .processed_time_us = util_wall_ns() / 1000,
                      .bytes = payload,
                      .len = len};
    char err[256];
    return docstore_insert_ops(env->ds, &op, 1, err, sizeof err) == DOCSTORE_OK ? 0 : -1;
}

void bt_target(const bt_env *env, const char *doc_id, const char *token, int64_t since, char *out,
               size_t size)
{
    (void)env;
    int n = snprintf(out, size, "/v1/documents/%s/read", doc_id);
    char sep = '?';
    if (token && n > 0 && (size_t)n < size) {
        n += snprintf(out + n, size - (size_t)n, "%caccess_token=%s", sep, token);
        sep = '&';
    }
    if (since >= 0 && n > 0 && (size_t)n < size)
        snprintf(out + n, size - (size_t)n, "%csince=%lld", sep, (long long)since);
}

wsc *bt_connect(bt_env *env, const char *doc_id, const char *token, int64_t since, int rcvbuf,
                int *status)
{
    char target[AUTHTOKEN_MAX_LEN + 512];
    bt_target(env, doc_id, token, since, target, sizeof target);
    return wsc_connect(env->port, target, NULL, rcvbuf, status, NULL, 0);
}

void bt_next(wsc *c, wsc_msg *m)
{
    const uint8_t *data;
    size_t len;
    int r = wsc_read(c, BT_TIMEOUT_MS, &data, &len);
    if (r != 1)
        fail_msg("no message within %d ms (%s)", BT_TIMEOUT_MS, r == 0 ? "timeout" : "closed");
    if (wsc_parse(data, len, m) != 0)
        fail_msg("malformed message of %zu bytes", len);
}

void bt_expect_synced(wsc *c, uint64_t version)
{
    wsc_msg m;
    bt_next(c, &m);
    if (m.type != 52)
        fail_msg("expected SYNCED %llu, got a message of type %llu", (unsigned long long)version,
                 (unsigned long long)m.type);
    if (m.version != version)
        fail_msg("SYNCED at %llu, expected %llu", (unsigned long long)m.version,
                 (unsigned long long)version);
}

double bt_metric(bt_env *env, const char *sample)
{
    char *text = http_get(env->metrics_port, "/metrics");
    if (!text)
        return -1;
    double v = -1;
    size_t sl = strlen(sample);
    for (char *line = text; line && *line;) {
        char *nl = strchr(line, '\n');
        if (strncmp(line, sample, sl) == 0 && line[sl] == ' ') {
            v = strtod(line + sl + 1, NULL);
            break;
        }
        line = nl ? nl + 1 : NULL;
    }
    free(text);
    return v;
}

uint8_t *bt_yjs_insert(void *doc, const char *text, size_t *len)
{
    crdt_doc *d = doc;
    char *cur = NULL;
    if (crdt_read_text(d, "text", NULL, 0, &cur) != CRDT_OK)
        return NULL;
    /* ASCII only in the tests: UTF-16 length = byte length. */
    uint64_t at = strlen(cur);
    free(cur);
    uint8_t *u = NULL;
    if (crdt_text_insert(d, "text", at, text, strlen(text), NULL, &u, len) != CRDT_OK)
        return NULL;
    return u;
}

char *bt_text_of(const uint8_t *update, size_t len)
{
    crdt_doc *doc = NULL;
    if (crdt_doc_new(NULL, &doc) != CRDT_OK)
        return NULL;
    char *text = NULL;
    if (crdt_apply_update(doc, update, len, NULL) != CRDT_OK ||
        crdt_read_text(doc, "text", NULL, 0, &text) != CRDT_OK)
        text = NULL;
    crdt_doc_free(doc);
    return text;
}

void bt_send_version(bt_env *env, const char *doc, int v)
{
    char op[32];
    snprintf(op, sizeof op, "op-%d", v);
    assert_int_equal(
        bt_send_merged(env, doc, v, op, CAVRO_MERGED_YJS_UPDATE, (const uint8_t *)op, strlen(op)),
        0);
}

void bt_expect_version(wsc *c, int v)
{
    wsc_msg m;
    bt_next(c, &m);
    assert_int_equal(m.type, 49);
    assert_int_equal(m.version, v);
    char op[32];
    snprintf(op, sizeof op, "op-%d", v);
    assert_true(wsc_eq(m.op_id, m.op_id_len, op));
}
