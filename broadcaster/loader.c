/*
 * loader: a fixed pool of workers with a to-do and a done FIFO under one
 * mutex; each worker owns a credis handle and a docstore. See loader.h.
 */
#include "broadcaster/loader.h"

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broadcaster/wire.h"
#include "common/avro_records.h"
#include "common/docstore.h"
#include "common/kafka_config.h"
#include "common/kafka_consumer.h"
#include "common/redis.h"
#include "common/util.h"
#include "crdt/crdt.h"

/* An awareness update holds at most this many presence entries. */
#define PRESENCE_MAX 1024
/* A document with no stored state is read from collab.ops from this long
 * before its creation (the creating node's clock and the producers' may
 * differ by that much). */
#define CREATION_MARGIN_MS ((int64_t)10 * 60 * 1000)
/* How long one read of collab.ops may take before the job fails (retried). */
#define LOG_READ_TIMEOUT_MS ((int64_t)120 * 1000)
#define KAFKA_TIMEOUT_MS    10000

typedef struct bcload_worker {
    bcload *pool;
    pthread_t thread;
    credis *redis;
    docstore *ds;
    ckafka_base kafka_base;
    rd_kafka_t *reader; /* LIVE jobs' reader of collab.ops, made on first use */
} bcload_worker;

struct bcload {
    bcload_opts opts;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bcload_job *todo_head, *todo_tail;
    bcload_job *done_head, *done_tail;
    bool stopping;
    int started;
    bcload_worker *workers;
};

static void push(bcload_job **head, bcload_job **tail, bcload_job *job)
{
    job->next = NULL;
    if (*tail)
        (*tail)->next = job;
    else
        *head = job;
    *tail = job;
}

/* Builds the awareness update of the fresh entries of presence:{doc} (as
 * ingest writes them: client id -> {"clock", "updated_at_ms", "state"}).
 * NULL when there are none or Redis cannot answer: presence is best effort. */
static bcmsg *load_presence(bcload_worker *w, const char *doc_id)
{
    redisReply *reply = credis_command(w->redis, "HGETALL presence:%s", doc_id);
    if (!reply)
        return NULL;
    bcmsg *out = NULL;
    if (reply->type == REDIS_REPLY_ARRAY && reply->elements >= 2) {
        int64_t now_ms = util_wall_ns() / 1000000;
        crdt_buf body;
        crdt_buf_init(&body);
        uint64_t count = 0;
        for (size_t i = 0; i + 1 < reply->elements && count < PRESENCE_MAX; i += 2) {
            redisReply *k = reply->element[i], *v = reply->element[i + 1];
            if (k->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING)
                continue;
            char *end = NULL;
            unsigned long long client = strtoull(k->str, &end, 10);
            json_t *j = json_loadb(v->str, v->len, 0, NULL);
            json_t *clock = json_object_get(j, "clock");
            json_t *at = json_object_get(j, "updated_at_ms");
            json_t *state = json_object_get(j, "state");
            char *text = state ? json_dumps(state, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
            if (end && *end == '\0' && json_is_integer(clock) && json_is_integer(at) && text &&
                json_integer_value(clock) >= 0 &&
                now_ms - json_integer_value(at) <= w->pool->opts.presence_timeout_ms) {
                crdt_buf_varuint(&body, (uint64_t)client);
                crdt_buf_varuint(&body, (uint64_t)json_integer_value(clock));
                crdt_buf_varbytes(&body, text, strlen(text));
                count++;
            }
            free(text);
            json_decref(j);
        }
        if (count > 0) {
            crdt_buf update;
            crdt_buf_init(&update);
            crdt_buf_varuint(&update, count);
            crdt_buf_put(&update, body.data, body.len);
            uint8_t *bytes = NULL;
            size_t len = 0;
            if (crdt_buf_take(&update, &bytes, &len) == CRDT_OK) {
                out = bcwire_awareness(bytes, len);
                free(bytes);
            }
        }
        crdt_buf_free(&body);
    }
    freeReplyObject(reply);
    return out;
}

typedef struct items_walk {
    bcload_job *job;
    size_t cap;
    bool failed;
} items_walk;

static int collect_item(void *userdata, const char *item_id, int64_t revision,
                        const char *state_json)
{
    (void)item_id;
    (void)revision;
    items_walk *walk = userdata;
    bcload_job *job = walk->job;
    if (job->item_count == walk->cap) {
        size_t cap = walk->cap ? walk->cap * 2 : 16;
        bcmsg **items = realloc(job->items, cap * sizeof *items);
        if (!items) {
            snprintf(job->err, sizeof job->err, "out of memory");
            walk->failed = true;
            return 1;
        }
        job->items = items;
        walk->cap = cap;
    }
    bcmsg *m = bcwire_state_item(job->state->version, state_json, job->err, sizeof job->err);
    if (!m) {
        walk->failed = true;
        return 1;
    }
    job->items[job->item_count++] = m;
    return 0;
}

/* Every item of the document as an ITEM message at the loaded state's
 * version, so a reader learns the items that exist before it joined. 0, or
 * -1 with the reason in job->err (the state job then fails and is retried:
 * a reader must not believe a document has no items when they could not be
 * read). */
static int load_items(bcload_worker *w, bcload_job *job)
{
    items_walk walk = {.job = job};
    docstore_status s =
        docstore_items(w->ds, job->doc_id, collect_item, &walk, job->err, sizeof job->err);
    if (walk.failed)
        return -1;
    if (s != DOCSTORE_OK && s != DOCSTORE_NOT_FOUND) {
        if (!job->err[0])
            snprintf(job->err, sizeof job->err, "items: %s", docstore_status_name(s));
        return -1;
    }
    return 0;
}

static void run_state(bcload_worker *w, bcload_job *job)
{
    docstore_state st = {0};
    docstore_status s = docstore_load_state(w->ds, job->doc_id, &st, job->err, sizeof job->err);
    if (s == DOCSTORE_NOT_FOUND) {
        /* Nothing merged or snapshotted yet: the empty document (a Yjs v1
         * update with no structs and an empty delete set). */
        static const uint8_t empty[] = {0, 0};
        job->state = bcwire_state(0, empty, sizeof empty);
    } else if (s == DOCSTORE_OK && st.version >= 0) {
        job->state = bcwire_state((uint64_t)st.version, st.state, st.state_len);
    } else {
        if (!job->err[0])
            snprintf(job->err, sizeof job->err, "%s", docstore_status_name(s));
        job->status = BCLOAD_FAILED;
        docstore_state_clear(&st);
        return;
    }
    docstore_state_clear(&st);
    if (!job->state) {
        snprintf(job->err, sizeof job->err, "out of memory");
        job->status = BCLOAD_FAILED;
        return;
    }
    if (load_items(w, job) != 0) {
        job->status = BCLOAD_FAILED;
        return;
    }
    job->presence = load_presence(w, job->doc_id);
}

typedef struct ops_walk {
    bcload_worker *w;
    bcload_job *job;
    size_t cap;
    bool failed;
} ops_walk;

static int collect_op(void *userdata, const docstore_op *op)
{
    ops_walk *walk = userdata;
    bcload_job *job = walk->job;
    uint64_t expect = job->after + 1 + job->op_count;
    /* Only a contiguous run is useful: the caller asks again for the rest. */
    if (op->version < 1 || (uint64_t)op->version != expect) {
        job->hole = true;
        return 1;
    }
    if (job->op_count == walk->cap) {
        size_t cap = walk->cap ? walk->cap * 2 : 64;
        bcmsg **ops = realloc(job->ops, cap * sizeof *ops);
        if (!ops) {
            walk->failed = true;
            snprintf(job->err, sizeof job->err, "out of memory");
            return 1;
        }
        job->ops = ops;
        walk->cap = cap;
    }
    bcmsg *m = bcwire_merged(walk->w->pool->opts.avro, op->kind, (uint64_t)op->version, op->op_id,
                             op->ingest_time_us, op->bytes, op->len, job->err, sizeof job->err);
    if (!m) {
        walk->failed = true;
        return 1;
    }
    job->ops[job->op_count++] = m;
    return 0;
}

static void run_ops(bcload_worker *w, bcload_job *job)
{
    ops_walk walk = {.w = w, .job = job};
    docstore_status s =
        docstore_ops_after(w->ds, job->doc_id, (int64_t)job->after, (int64_t)job->limit, collect_op,
                           &walk, job->err, sizeof job->err);
    if ((s != DOCSTORE_OK && s != DOCSTORE_NOT_FOUND) || (walk.failed && job->op_count == 0)) {
        if (!job->err[0])
            snprintf(job->err, sizeof job->err, "%s", docstore_status_name(s));
        job->status = BCLOAD_FAILED;
    }
}

typedef struct live_items_walk {
    bcload_job *job;
    size_t cap;
    bool failed;
} live_items_walk;

static int collect_live_item(void *userdata, const char *item_id, int64_t revision,
                             const char *state_json)
{
    live_items_walk *walk = userdata;
    bcload_job *job = walk->job;
    if (job->live_item_count == walk->cap) {
        size_t cap = walk->cap ? walk->cap * 2 : 16;
        bcload_item *items = realloc(job->live_items, cap * sizeof *items);
        if (!items) {
            walk->failed = true;
            return 1;
        }
        job->live_items = items;
        walk->cap = cap;
    }
    bcload_item *it = &job->live_items[job->live_item_count];
    it->item_id = strdup(item_id);
    it->json = strdup(state_json);
    it->revision = revision;
    if (!it->item_id || !it->json) {
        free(it->item_id);
        free(it->json);
        walk->failed = true;
        return 1;
    }
    job->live_item_count++;
    return 0;
}

static rd_kafka_t *reader_of(bcload_worker *w, char *err, size_t err_size)
{
    if (w->reader)
        return w->reader;
    ckafka_base_init(&w->kafka_base, w->pool->opts.log, "consumer");
    char group[300];
    snprintf(group, sizeof group, "collab-broadcaster-live-%s",
             w->pool->opts.client_id ? w->pool->opts.client_id : "");
    const char *extra[] = {"fetch.wait.max.ms", "10", NULL};
    w->reader = ckafka_reader_new(&w->kafka_base, w->pool->opts.brokers, w->pool->opts.client_id,
                                  group, extra, err, err_size);
    if (w->reader)
        rd_kafka_poll_set_consumer(w->reader);
    return w->reader;
}

/* Where the read of collab.ops starts for a document whose state stands at
 * pos (offset -1: nothing stored knows its position): right after it, or
 * from shortly before the document was created. 0 with *from set (an
 * offset, or RD_KAFKA_OFFSET_END: nothing to read), or -1 with the reason
 * in job->err. */
static int log_start(bcload_worker *w, rd_kafka_t *rk, bcload_job *job, docstore_position pos,
                     int64_t *from)
{
    if (pos.offset >= 0 && pos.partition == job->partition) {
        *from = pos.offset + 1;
        return 0;
    }
    docstore_doc_meta meta;
    docstore_status s =
        docstore_document_meta(w->ds, job->doc_id, &meta, job->err, sizeof job->err);
    if (s != DOCSTORE_OK && s != DOCSTORE_NOT_FOUND)
        return -1;
    rd_kafka_topic_partition_list_t *at = rd_kafka_topic_partition_list_new(1);
    /* No creation time known: the whole partition (the log is kept forever). */
    int64_t since = meta.created_ms > CREATION_MARGIN_MS ? meta.created_ms - CREATION_MARGIN_MS : 0;
    rd_kafka_topic_partition_list_add(at, w->pool->opts.ops_topic, job->partition)->offset = since;
    rd_kafka_resp_err_t e = rd_kafka_offsets_for_times(rk, at, KAFKA_TIMEOUT_MS);
    int64_t offset = at->elems[0].offset;
    if (e == RD_KAFKA_RESP_ERR_NO_ERROR)
        e = at->elems[0].err;
    rd_kafka_topic_partition_list_destroy(at);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
        snprintf(job->err, sizeof job->err, "offsets for time in %s [%d]: %s",
                 w->pool->opts.ops_topic, (int)job->partition, rd_kafka_err2str(e));
        return -1;
    }
    /* -1: no record that recent, i.e. nothing to read. */
    *from = offset < 0 ? RD_KAFKA_OFFSET_END : offset;
    return 0;
}

/* Applies every Yjs update of the document in collab.ops from `from` to the
 * partition's end (its high watermark when the read began). 0, or -1 with
 * the reason in job->err. */
static int read_log(bcload_worker *w, rd_kafka_t *rk, bcload_job *job, crdt_doc *doc, int64_t from)
{
    const char *topic = w->pool->opts.ops_topic;
    int64_t low = 0, high = 0;
    rd_kafka_resp_err_t e =
        rd_kafka_query_watermark_offsets(rk, topic, job->partition, &low, &high, KAFKA_TIMEOUT_MS);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
        snprintf(job->err, sizeof job->err, "offsets of %s [%d]: %s", topic, (int)job->partition,
                 rd_kafka_err2str(e));
        return -1;
    }
    if (from < 0) /* RD_KAFKA_OFFSET_END */
        from = high;
    if (from < low)
        from = low; /* retention took the older records (the log is kept forever by default) */
    job->live_from_offset = from;
    if (from >= high)
        return 0;
    rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(parts, topic, job->partition)->offset = from;
    e = rd_kafka_assign(rk, parts);
    rd_kafka_topic_partition_list_destroy(parts);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
        snprintf(job->err, sizeof job->err, "assign %s [%d]: %s", topic, (int)job->partition,
                 rd_kafka_err2str(e));
        return -1;
    }
    size_t key_len = strlen(job->doc_id);
    int64_t deadline = util_now_ms() + LOG_READ_TIMEOUT_MS;
    int rc = 0;
    int64_t next = from;
    while (rc == 0 && next < high) {
        if (util_now_ms() > deadline) {
            snprintf(job->err, sizeof job->err, "reading %s [%d] took over %lld s at offset %lld",
                     topic, (int)job->partition, (long long)(LOG_READ_TIMEOUT_MS / 1000),
                     (long long)next);
            rc = -1;
            break;
        }
        rd_kafka_message_t *msg = rd_kafka_consumer_poll(rk, 200);
        if (!msg)
            continue;
        if (msg->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            next = high; /* the end: the watermark moved back only if records were deleted */
        } else if (msg->err) {
            snprintf(job->err, sizeof job->err, "reading %s [%d]: %s", topic, (int)job->partition,
                     rd_kafka_message_errstr(msg));
            rc = -1;
        } else {
            next = msg->offset + 1;
            if (msg->key_len == key_len && memcmp(msg->key, job->doc_id, key_len) == 0) {
                char why[256];
                struct cavro_client_op op = {0};
                if (cavro_client_op_decode(w->pool->opts.avro, msg->payload, msg->len, &op, why,
                                           sizeof why) == CAVRO_OK &&
                    op.kind == CAVRO_OP_YJS_UPDATE) {
                    crdt_status cs = crdt_apply_update(doc, op.payload.data, op.payload.len, NULL);
                    if (cs == CRDT_ERR_NOMEM) {
                        snprintf(job->err, sizeof job->err, "out of memory");
                        rc = -1;
                    } else if (cs == CRDT_OK) {
                        job->live_log_records++;
                    }
                    /* A record the engine refuses was refused by the edge
                     * that took it too, and by the processor: skip it. */
                }
                cavro_client_op_clear(&op);
            }
        }
        rd_kafka_message_destroy(msg);
    }
    (void)rd_kafka_assign(rk, NULL);
    return rc;
}

static void run_live(bcload_worker *w, bcload_job *job)
{
    job->status = BCLOAD_FAILED;
    job->live_from_offset = -1;
    docstore_state st = {0};
    docstore_status s =
        docstore_load_positioned_state(w->ds, job->doc_id, &st, job->err, sizeof job->err);
    if (s == DOCSTORE_NOT_FOUND) {
        st.pos = DOCSTORE_POSITION_UNKNOWN;
    } else if (s != DOCSTORE_OK) {
        if (!job->err[0])
            snprintf(job->err, sizeof job->err, "%s", docstore_status_name(s));
        docstore_state_clear(&st);
        return;
    }
    crdt_doc *doc = NULL;
    crdt_status cs = crdt_doc_new(NULL, &doc);
    if (cs == CRDT_OK && st.state)
        cs = crdt_apply_update(doc, st.state, st.state_len, NULL);
    docstore_position pos = st.pos;
    docstore_state_clear(&st);
    if (cs != CRDT_OK) {
        snprintf(job->err, sizeof job->err, "the stored state: %s", crdt_strerror(cs));
        crdt_doc_free(doc);
        return;
    }
    rd_kafka_t *rk = reader_of(w, job->err, sizeof job->err);
    int64_t from = RD_KAFKA_OFFSET_END;
    if (!rk || log_start(w, rk, job, pos, &from) != 0 || read_log(w, rk, job, doc, from) != 0) {
        crdt_doc_free(doc);
        return;
    }
    live_items_walk walk = {.job = job};
    s = docstore_items(w->ds, job->doc_id, collect_live_item, &walk, job->err, sizeof job->err);
    if (walk.failed || (s != DOCSTORE_OK && s != DOCSTORE_NOT_FOUND)) {
        if (!job->err[0])
            snprintf(job->err, sizeof job->err, "items: %s",
                     walk.failed ? "out of memory" : docstore_status_name(s));
        crdt_doc_free(doc);
        return;
    }
    job->live = doc;
    job->presence = load_presence(w, job->doc_id);
    job->status = BCLOAD_OK;
}

static void *worker_main(void *arg)
{
    bcload_worker *w = arg;
    bcload *l = w->pool;
    pthread_mutex_lock(&l->lock);
    for (;;) {
        while (!l->todo_head && !l->stopping)
            pthread_cond_wait(&l->cond, &l->lock);
        if (l->stopping)
            break;
        bcload_job *job = l->todo_head;
        l->todo_head = job->next;
        if (!l->todo_head)
            l->todo_tail = NULL;
        pthread_mutex_unlock(&l->lock);

        int64_t start = util_now_ns();
        if (job->kind == BCLOAD_STATE)
            run_state(w, job);
        else if (job->kind == BCLOAD_LIVE)
            run_live(w, job);
        else
            run_ops(w, job);
        job->elapsed_ns = util_now_ns() - start;

        pthread_mutex_lock(&l->lock);
        bool was_empty = l->done_head == NULL;
        push(&l->done_head, &l->done_tail, job);
        if (was_empty && l->opts.notify)
            l->opts.notify(l->opts.notify_userdata);
    }
    pthread_mutex_unlock(&l->lock);
    return NULL;
}

bcload *bcload_new(const bcload_opts *opts, char *err, size_t err_size)
{
    bcload *l = calloc(1, sizeof *l);
    if (!l || !(l->workers = calloc((size_t)opts->threads, sizeof *l->workers))) {
        free(l);
        snprintf(err, err_size, "out of memory");
        return NULL;
    }
    l->opts = *opts;
    pthread_mutex_init(&l->lock, NULL);
    pthread_cond_init(&l->cond, NULL);
    for (int i = 0; i < opts->threads; i++) {
        bcload_worker *w = &l->workers[i];
        w->pool = l;
        credis_opts ro = {.url = opts->redis_url, .log = opts->log};
        w->redis = credis_new(&ro, err, err_size);
        if (!w->redis)
            break;
        w->ds = docstore_new(opts->mongo, w->redis, opts->avro, opts->log);
        if (!w->ds) {
            snprintf(err, err_size, "out of memory");
            break;
        }
        if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
            snprintf(err, err_size, "cannot start a loader thread");
            break;
        }
        l->started++;
    }
    if (l->started < opts->threads) {
        bcload_free(l);
        return NULL;
    }
    return l;
}

static void free_list(bcload_job *job)
{
    while (job) {
        bcload_job *next = job->next;
        bcload_job_free(job);
        job = next;
    }
}

void bcload_free(bcload *l)
{
    if (!l)
        return;
    pthread_mutex_lock(&l->lock);
    l->stopping = true;
    pthread_cond_broadcast(&l->cond);
    pthread_mutex_unlock(&l->lock);
    for (int i = 0; i < l->started; i++)
        pthread_join(l->workers[i].thread, NULL);
    for (int i = 0; i < l->opts.threads; i++) {
        docstore_free(l->workers[i].ds);
        credis_free(l->workers[i].redis);
        if (l->workers[i].reader) {
            rd_kafka_consumer_close(l->workers[i].reader);
            rd_kafka_destroy(l->workers[i].reader);
        }
    }
    free_list(l->todo_head);
    free_list(l->done_head);
    pthread_cond_destroy(&l->cond);
    pthread_mutex_destroy(&l->lock);
    free(l->workers);
    free(l);
}

bcload_job *bcload_job_new(bcload_kind kind, const char *doc_id, void *owner)
{
    bcload_job *job = calloc(1, sizeof *job);
    if (!job)
        return NULL;
    job->kind = kind;
    snprintf(job->doc_id, sizeof job->doc_id, "%s", doc_id);
    job->owner = owner;
    return job;
}

void bcload_submit(bcload *l, bcload_job *job)
{
    pthread_mutex_lock(&l->lock);
    push(&l->todo_head, &l->todo_tail, job);
    pthread_cond_signal(&l->cond);
    pthread_mutex_unlock(&l->lock);
}

bcload_job *bcload_take(bcload *l)
{
    pthread_mutex_lock(&l->lock);
    bcload_job *list = l->done_head;
    l->done_head = l->done_tail = NULL;
    pthread_mutex_unlock(&l->lock);
    return list;
}

void bcload_job_free(bcload_job *job)
{
    if (!job)
        return;
    bcmsg_unref(job->state);
    bcmsg_unref(job->presence);
    for (size_t i = 0; i < job->item_count; i++)
        bcmsg_unref(job->items[i]);
    free(job->items);
    for (size_t i = 0; i < job->op_count; i++)
        bcmsg_unref(job->ops[i]);
    free(job->ops);
    crdt_doc_free(job->live);
    for (size_t i = 0; i < job->live_item_count; i++) {
        free(job->live_items[i].item_id);
        free(job->live_items[i].json);
    }
    free(job->live_items);
    free(job);
}
