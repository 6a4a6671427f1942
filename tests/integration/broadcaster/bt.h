/*
 * bt: what the broadcaster integration tests share. Each run gets its own
 * merged topic, MongoDB database, Redis keys (document ids carry the run id)
 * and users; the broadcaster runs as a separate process from
 * $COLLAB_BIN_DIR on free ports (stderr to a log in build/Testing/). The
 * tests play the processor: they produce MergedOp records with ckafka_ +
 * cavro_ and seed the views with docstore, then read what WebSocket readers
 * (wsc.h) get. Every wait is for a condition with a deadline. Prefix: bt_.
 */
#ifndef TESTS_BROADCASTER_BT_H
#define TESTS_BROADCASTER_BT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/auth_token.h"
#include "common/avro_records.h"
#include "common/docstore.h"
#include "common/kafka_producer.h"
#include "common/log.h"
#include "common/mongo.h"
#include "common/redis.h"
#include "common/userstore.h"
#include "wsc.h"

#define BT_TIMEOUT_MS 20000

typedef struct bt_env {
    char run_id[64];
    const char *brokers, *mongo_uri, *redis_url, *bin_dir;
    char mongo_db[128];
    char topic[160];     /* collab.merged of the run */
    char ops_topic[160]; /* collab.ops of the run */
    int partitions;
    clog *log;
    struct cavro_registry *avro;
    cmongo *mongo;
    credis *redis;
    docstore *ds;
    ustore *us;
    ckafka_producer *producer;
    struct authtoken_keys *keys;
    /* the broadcaster process */
    pid_t pid;
    int port, metrics_port;
    char log_path[512];
} bt_env;

/* Sets up a run named `name`: topic with `partitions` partitions, MongoDB
 * database, Redis, producer, token keys. 0 or -1 (message on stderr). */
int bt_env_init(bt_env *env, const char *name, int partitions);
/* Stops the broadcaster if running, deletes the topic and database. */
void bt_env_free(bt_env *env);

/* Starts build/bin/broadcaster with the run's settings plus extra flags
 * (NULL-terminated, may be NULL) and waits until /readyz answers 200. */
int bt_start(bt_env *env, const char *const *extra);
/* SIGTERM and wait: the exit status, or -1 (killed after the deadline). */
int bt_stop(bt_env *env, int timeout_ms);

/* "<run>-<name>" */
void bt_doc_id(const bt_env *env, const char *name, char *out, size_t size);
/* A user (random name) and a token for it (caller frees the token). */
int bt_user(bt_env *env, const char *name, ustore_user *out, char **token);
/* Creates doc_id owned by owner (a version-0 snapshot in document_versions). */
int bt_doc(bt_env *env, const char *doc_id, const char *owner);
int bt_grant(bt_env *env, const char *doc_id, const char *user_id, ustore_role role);

/* Produces a MergedOp and waits for its delivery report. 0 or -1. */
int bt_send_merged(bt_env *env, const char *doc_id, int64_t version, const char *op_id,
                   enum cavro_merged_kind kind, const uint8_t *payload, size_t len);
/* The same without waiting; bt_flush waits for every report. 0 or -1. */
int bt_send_merged_nowait(bt_env *env, const char *doc_id, int64_t version, const char *op_id,
                          const uint8_t *payload, size_t len);
int bt_flush(bt_env *env);
/* Produces raw bytes under key. 0 or -1. */
int bt_send_raw(bt_env *env, const char *key, const void *value, size_t len);
/* Stores an op in crdt_operations as the processor would. 0 or -1. */
int bt_store_op(bt_env *env, const char *doc_id, int64_t version, const char *op_id,
                const uint8_t *payload, size_t len);

/* Opens a read connection (since < 0: none). NULL with *status (HTTP) on a
 * refusal. */
wsc *bt_connect(bt_env *env, const char *doc_id, const char *token, int64_t since, int rcvbuf,
                int *status);
/* The request target of a read connection (since < 0: none). */
void bt_target(const bt_env *env, const char *doc_id, const char *token, int64_t since, char *out,
               size_t size);
/* Reads the next message within BT_TIMEOUT_MS and parses it; fails the test
 * on timeout, close or a malformed message. */
void bt_next(wsc *c, wsc_msg *m);

/* Reads the next message and fails the test unless it is SYNCED at
 * version. */
void bt_expect_synced(wsc *c, uint64_t version);

/* Sends version v of doc to collab.merged as a YJS_UPDATE whose op id and
 * payload are "op-<v>" (and waits for it: bt_send_merged). */
void bt_send_version(bt_env *env, const char *doc, int v);

/* The next message of c is MERGED version v with op id "op-<v>". */
void bt_expect_version(wsc *c, int v);

/* Value of a sample of the broadcaster's /metrics ("name{label=\"v\"}"),
 * or -1 when absent. */
double bt_metric(bt_env *env, const char *sample);

/* A Yjs update inserting text at the end of root "text" of doc (crdt
 * engine); caller frees. */
uint8_t *bt_yjs_insert(void *crdt_doc, const char *text, size_t *len);
/* Root "text" of a doc rebuilt from one update; caller frees. */
char *bt_text_of(const uint8_t *update, size_t len);

#endif
