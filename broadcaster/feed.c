/*
 * feed: collab.merged -> per-document messages for the service thread. One
 * librdkafka consumer without a group (rd_kafka_assign of every partition at
 * the offsets the read_committed ListOffsets gives), one polling thread, an
 * interest set and a hand-over list under one mutex. See feed.h.
 */
#include "broadcaster/feed.h"

#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broadcaster/wire.h"
#include "common/avro_records.h"
#include "common/kafka_config.h"
#include "common/strmap.h"

#define POLL_MS 100

struct bcfeed {
    ckafka_base base; /* first: the rd_kafka_t opaque points here */
    bcfeed_opts opts;
    rd_kafka_t *rk;
    int partitions;
    pthread_t thread;
    bool thread_started;
    atomic_bool stop;
    atomic_bool healthy;
    pthread_mutex_t lock;
    pthread_cond_t taken; /* signalled when the service thread took records */
    cmap *watched;        /* doc id -> non-NULL, under lock */
    bcfeed_record *head, *tail;
    size_t pending;
};

static void hand_over(bcfeed *f, bcfeed_record *r)
{
    pthread_mutex_lock(&f->lock);
    while (f->pending >= f->opts.max_pending && !atomic_load(&f->stop))
        pthread_cond_wait(&f->taken, &f->lock);
    bool was_empty = f->head == NULL;
    if (f->tail)
        f->tail->next = r;
    else
        f->head = r;
    f->tail = r;
    f->pending++;
    pthread_mutex_unlock(&f->lock);
    if (was_empty && f->opts.notify)
        f->opts.notify(f->opts.notify_userdata);
}

static bool watched(bcfeed *f, const char *doc_id)
{
    pthread_mutex_lock(&f->lock);
    bool yes = cmap_get(f->watched, doc_id) != NULL;
    pthread_mutex_unlock(&f->lock);
    return yes;
}

static void count(bcfeed *f, bcmetrics_record what)
{
    metrics_counter_inc(f->opts.records[what]);
}

static void skip(bcfeed *f, const rd_kafka_message_t *msg, const char *doc_id, const char *err)
{
    count(f, BCREC_INVALID);
    clog_field fl[] = {clog_str("topic", f->opts.topic), clog_str("doc_id", doc_id),
                       clog_int("partition", msg->partition), clog_int("offset", msg->offset),
                       clog_str("error", err[0] ? err : "out of memory")};
    clog_emit(f->opts.log, CLOG_WARN, "skipping a record", fl, 5);
}

/* A collab.ops record: its Yjs update, if it is one. */
static bcfeed_record *client_op_record(bcfeed *f, const rd_kafka_message_t *msg, const char *doc_id)
{
    char err[256] = "";
    struct cavro_client_op op = {0};
    bcfeed_record *r = NULL;
    if (cavro_client_op_decode(f->opts.avro, msg->payload, msg->len, &op, err, sizeof err) !=
        CAVRO_OK) {
        skip(f, msg, doc_id, err);
    } else if (strcmp(op.doc_id, doc_id) != 0) {
        skip(f, msg, doc_id, "record key and doc_id differ");
    } else if (op.kind != CAVRO_OP_YJS_UPDATE) {
        count(f, BCREC_IGNORED); /* items are the processor's to decide */
    } else if ((r = calloc(1, sizeof *r)) &&
               (r->update = malloc(op.payload.len ? op.payload.len : 1))) {
        memcpy(r->update, op.payload.data, op.payload.len);
        r->update_len = op.payload.len;
        r->ingest_us = op.ingest_time_us;
    } else {
        free(r);
        r = NULL;
        skip(f, msg, doc_id, "");
    }
    cavro_client_op_clear(&op);
    return r;
}

/* A collab.merged record as the message readers get. */
static bcfeed_record *merged_record(bcfeed *f, const rd_kafka_message_t *msg, const char *doc_id)
{
    char err[256] = "";
    struct cavro_merged_op rec = {0};
    bcmsg *out = NULL;
    if (cavro_merged_op_decode(f->opts.avro, msg->payload, msg->len, &rec, err, sizeof err) ==
            CAVRO_OK &&
        strcmp(rec.doc_id, doc_id) == 0 && rec.doc_version > 0) {
        out = bcwire_merged(f->opts.avro, cavro_merged_kind_name(rec.kind),
                            (uint64_t)rec.doc_version, rec.op_id, rec.ingest_time_us,
                            rec.payload.data, rec.payload.len, err, sizeof err);
    } else if (!err[0]) {
        snprintf(err, sizeof err, "record key and doc_id differ, or version < 1");
    }
    cavro_merged_op_clear(&rec);
    bcfeed_record *r = out ? calloc(1, sizeof *r) : NULL;
    if (!r) {
        bcmsg_unref(out);
        skip(f, msg, doc_id, err);
        return NULL;
    }
    r->msg = out;
    return r;
}

static void handle(bcfeed *f, const rd_kafka_message_t *msg)
{
    char doc_id[WSFRAME_DOC_ID_MAX + 1];
    if (!msg->key || msg->key_len == 0 || msg->key_len > WSFRAME_DOC_ID_MAX) {
        count(f, BCREC_INVALID);
        return;
    }
    memcpy(doc_id, msg->key, msg->key_len);
    doc_id[msg->key_len] = '\0';
    if (!watched(f, doc_id)) {
        count(f, BCREC_IGNORED);
        return;
    }
    bcfeed_record *r = f->opts.kind == BCFEED_OPS ? client_op_record(f, msg, doc_id)
                                                  : merged_record(f, msg, doc_id);
    if (!r)
        return;
    memcpy(r->doc_id, doc_id, msg->key_len + 1);
    r->partition = msg->partition;
    r->offset = msg->offset;
    hand_over(f, r);
}

static void *feed_thread(void *arg)
{
    bcfeed *f = arg;
    while (!atomic_load(&f->stop)) {
        rd_kafka_message_t *msg = rd_kafka_consumer_poll(f->rk, POLL_MS);
        if (!msg)
            continue;
        if (msg->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
            handle(f, msg);
        } else if (msg->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            clog_field fl[] = {clog_str("error", rd_kafka_message_errstr(msg))};
            clog_emit(f->opts.log, CLOG_WARN, "collab.merged consumer error", fl, 1);
            if (ckafka_base_fatal(&f->base))
                atomic_store(&f->healthy, false);
        }
        rd_kafka_message_destroy(msg);
    }
    return NULL;
}

/* Assigns every partition of the topic at its last stable offset. */
static int assign_all(bcfeed *f, char *err, size_t err_size)
{
    rd_kafka_topic_t *t = rd_kafka_topic_new(f->rk, f->opts.topic, NULL);
    if (!t) {
        snprintf(err, err_size, "cannot create a topic handle for %s", f->opts.topic);
        return -1;
    }
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t e = rd_kafka_metadata(f->rk, 0, t, &md, f->opts.startup_timeout_ms);
    rd_kafka_topic_destroy(t);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR || md->topic_cnt != 1 || md->topics[0].err ||
        md->topics[0].partition_cnt < 1) {
        snprintf(err, err_size, "no metadata for topic %s: %s", f->opts.topic,
                 e ? rd_kafka_err2str(e)
                   : (md && md->topic_cnt == 1 ? rd_kafka_err2str(md->topics[0].err) : "none"));
        if (md)
            rd_kafka_metadata_destroy(md);
        return -1;
    }
    f->partitions = md->topics[0].partition_cnt;
    rd_kafka_metadata_destroy(md);

    rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(f->partitions);
    int rc = 0;
    for (int p = 0; p < f->partitions && rc == 0; p++) {
        int64_t low = 0, high = 0;
        /* With isolation.level=read_committed the "high" answer is the last
         * stable offset: a transaction still open is read once it commits. */
        e = rd_kafka_query_watermark_offsets(f->rk, f->opts.topic, p, &low, &high,
                                             f->opts.startup_timeout_ms);
        if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
            snprintf(err, err_size, "offsets of %s [%d]: %s", f->opts.topic, p,
                     rd_kafka_err2str(e));
            rc = -1;
            break;
        }
        rd_kafka_topic_partition_list_add(parts, f->opts.topic, p)->offset = high;
    }
    if (rc == 0 && (e = rd_kafka_assign(f->rk, parts)) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        snprintf(err, err_size, "assign: %s", rd_kafka_err2str(e));
        rc = -1;
    }
    rd_kafka_topic_partition_list_destroy(parts);
    return rc;
}

bcfeed *bcfeed_new(const bcfeed_opts *opts, char *err, size_t err_size)
{
    bcfeed *f = calloc(1, sizeof *f);
    if (!f || !(f->watched = cmap_new())) {
        free(f);
        snprintf(err, err_size, "out of memory");
        return NULL;
    }
    f->opts = *opts;
    if (f->opts.max_pending == 0)
        f->opts.max_pending = 65536;
    atomic_init(&f->stop, false);
    atomic_init(&f->healthy, true);
    pthread_mutex_init(&f->lock, NULL);
    pthread_cond_init(&f->taken, NULL);
    ckafka_base_init(&f->base, opts->log, "consumer");
    rd_kafka_conf_t *conf =
        ckafka_conf_new(&f->base, opts->brokers, opts->client_id, err, err_size);
    char errstr[512], group[300];
    /* librdkafka wants a group id for rd_kafka_assign() even though this
     * consumer never joins the group nor commits: a per-instance name. */
    snprintf(group, sizeof group, "collab-broadcaster-%s", opts->client_id ? opts->client_id : "");
    if (!conf || ckafka_conf_set(conf, "group.id", group, err, err_size) != 0 ||
        ckafka_conf_set(conf, "isolation.level", "read_committed", err, err_size) != 0 ||
        ckafka_conf_set(conf, "enable.auto.commit", "false", err, err_size) != 0 ||
        ckafka_conf_set(conf, "enable.auto.offset.store", "false", err, err_size) != 0 ||
        ckafka_conf_set(conf, "fetch.wait.max.ms", "10", err, err_size) != 0 ||
        ckafka_conf_set(conf, "auto.offset.reset", "latest", err, err_size) != 0) {
        if (conf)
            rd_kafka_conf_destroy(conf);
        bcfeed_free(f);
        return NULL;
    }
    f->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
    if (!f->rk) {
        rd_kafka_conf_destroy(conf);
        snprintf(err, err_size, "kafka consumer: %s", errstr);
        bcfeed_free(f);
        return NULL;
    }
    rd_kafka_poll_set_consumer(f->rk);
    if (assign_all(f, err, err_size) != 0) {
        bcfeed_free(f);
        return NULL;
    }
    if (pthread_create(&f->thread, NULL, feed_thread, f) != 0) {
        snprintf(err, err_size, "cannot start the feed thread");
        bcfeed_free(f);
        return NULL;
    }
    f->thread_started = true;
    return f;
}

void bcfeed_free(bcfeed *f)
{
    if (!f)
        return;
    atomic_store(&f->stop, true);
    pthread_mutex_lock(&f->lock);
    pthread_cond_broadcast(&f->taken);
    pthread_mutex_unlock(&f->lock);
    if (f->thread_started)
        pthread_join(f->thread, NULL);
    if (f->rk) {
        rd_kafka_consumer_close(f->rk);
        rd_kafka_destroy(f->rk);
    }
    bcfeed_record *r = f->head;
    while (r) {
        bcfeed_record *next = r->next;
        bcfeed_record_free(r);
        r = next;
    }
    cmap_free(f->watched);
    pthread_cond_destroy(&f->taken);
    pthread_mutex_destroy(&f->lock);
    free(f);
}

int bcfeed_watch(bcfeed *f, const char *doc_id)
{
    pthread_mutex_lock(&f->lock);
    int rc = cmap_put(f->watched, doc_id, f);
    pthread_mutex_unlock(&f->lock);
    return rc;
}

void bcfeed_unwatch(bcfeed *f, const char *doc_id)
{
    pthread_mutex_lock(&f->lock);
    cmap_remove(f->watched, doc_id);
    pthread_mutex_unlock(&f->lock);
}

bcfeed_record *bcfeed_take(bcfeed *f)
{
    pthread_mutex_lock(&f->lock);
    bcfeed_record *list = f->head;
    f->head = f->tail = NULL;
    f->pending = 0;
    pthread_cond_broadcast(&f->taken);
    pthread_mutex_unlock(&f->lock);
    return list;
}

void bcfeed_record_free(bcfeed_record *r)
{
    if (!r)
        return;
    bcmsg_unref(r->msg);
    free(r->update);
    free(r);
}

int bcfeed_partitions(const bcfeed *f)
{
    return f->partitions;
}

bool bcfeed_healthy(const bcfeed *f)
{
    return atomic_load(&f->healthy);
}
