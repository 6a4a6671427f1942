/*
 * awareness: the Redis publishing thread with its bounded queue, and the
 * y-protocols awareness update reading that presence and removal need.
 * See awareness.h.
 */
#include "common/awareness.h"

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/redis.h"
#include "common/sbuf.h"
#include "common/util.h"
#include "common/ws_frame.h"

/* Seconds a presence hash outlives its last update: readers drop entries
 * older than 30 s anyway; the expiry only reclaims abandoned documents. */
#define PRESENCE_TTL_SECONDS 120

typedef struct awareness_item {
    struct awareness_item *next;
    size_t len;
    char doc_id[WSFRAME_DOC_ID_MAX + 1];
    uint8_t data[];
} awareness_item;

struct awareness_pub {
    credis *redis;
    clog *log;
    awareness_counters counters;
    size_t max_queue;
    pthread_t thread;
    pthread_mutex_t lock; /* guards the queue and stopping */
    pthread_cond_t cond;
    awareness_item *head, *tail;
    size_t queued;
    bool stopping;
    int64_t stop_deadline_ms;
};

static void count(metrics_counter *c)
{
    if (c)
        metrics_counter_inc(c);
}

/* One entry of a y-protocols awareness update: client id, clock and the
 * state's JSON text (borrowed from the update; "null" removes the client). */
typedef struct awareness_entry {
    uint64_t client_id;
    uint64_t clock;
    const char *state;
    size_t state_len;
} awareness_entry;

/* Reads the next entry; false when the update ends early or is malformed. */
static bool read_entry(crdt_rd *r, awareness_entry *e)
{
    e->client_id = crdt_rd_varuint(r);
    e->clock = crdt_rd_varuint(r);
    e->state_len = 0;
    e->state = crdt_rd_varstring(r, &e->state_len);
    return crdt_rd_ok(r);
}

static bool entry_removes(const awareness_entry *e)
{
    return e->state_len == 4 && memcmp(e->state, "null", 4) == 0;
}

int awareness_valid(const uint8_t *update, size_t len)
{
    crdt_rd r;
    crdt_rd_init(&r, update, len);
    uint64_t n = crdt_rd_varuint(&r);
    for (uint64_t i = 0; crdt_rd_ok(&r) && i < n; i++) {
        awareness_entry e;
        if (!read_entry(&r, &e))
            return -1;
        /* Readers JSON.parse the state (y-protocols does, and presence:{doc}
         * embeds it): refuse what would break them. */
        json_error_t jerr;
        json_t *j = json_loadb(e.state, e.state_len, JSON_DECODE_ANY, &jerr);
        if (!j)
            return -1;
        json_decref(j);
    }
    return crdt_rd_ok(&r) && crdt_rd_left(&r) == 0 ? 0 : -1;
}

void awareness_track(awareness_tracker *t, const uint8_t *update, size_t len)
{
    crdt_rd r;
    crdt_rd_init(&r, update, len);
    uint64_t n = crdt_rd_varuint(&r);
    for (uint64_t i = 0; crdt_rd_ok(&r) && i < n; i++) {
        awareness_entry e;
        if (!read_entry(&r, &e))
            return;
        size_t k = 0;
        while (k < t->count && t->client_id[k] != e.client_id)
            k++;
        if (entry_removes(&e)) {
            if (k < t->count) {
                t->count--;
                t->client_id[k] = t->client_id[t->count];
                t->clock[k] = t->clock[t->count];
            }
            continue;
        }
        if (k == t->count) {
            if (t->count == AWARENESS_TRACKED)
                continue;
            t->count++;
        }
        t->client_id[k] = e.client_id;
        t->clock[k] = e.clock;
    }
}

size_t awareness_removal(const awareness_tracker *t, crdt_buf *out)
{
    if (t->count == 0)
        return 0;
    crdt_buf_varuint(out, t->count);
    for (size_t i = 0; i < t->count; i++) {
        crdt_buf_varuint(out, t->client_id[i]);
        crdt_buf_varuint(out, t->clock[i] + 1);
        crdt_buf_varbytes(out, "null", 4);
    }
    return t->count;
}

/* Mirrors one update into presence:{doc}; failures only cost freshness. */
static void update_presence(awareness_pub *a, const awareness_item *item)
{
    char key[WSFRAME_DOC_ID_MAX + 16];
    snprintf(key, sizeof key, "presence:%s", item->doc_id);
    crdt_rd r;
    crdt_rd_init(&r, item->data, item->len);
    uint64_t n = crdt_rd_varuint(&r);
    int64_t now_ms = util_wall_ns() / 1000000;
    for (uint64_t i = 0; crdt_rd_ok(&r) && i < n; i++) {
        awareness_entry e;
        if (!read_entry(&r, &e))
            return;
        char field[32];
        snprintf(field, sizeof field, "%llu", (unsigned long long)e.client_id);
        redisReply *reply;
        if (entry_removes(&e)) {
            reply = credis_command(a->redis, "HDEL %s %s", key, field);
        } else {
            /* The state is the client's JSON text, embedded as is: the
             * awareness protocol already requires it to be JSON. */
            sbuf json;
            sbuf_init(&json);
            sbuf_printf(&json, "{\"clock\":%llu,\"updated_at_ms\":%lld,\"state\":",
                        (unsigned long long)e.clock, (long long)now_ms);
            sbuf_append(&json, e.state, e.state_len);
            sbuf_puts(&json, "}");
            if (sbuf_failed(&json)) {
                sbuf_free(&json);
                return;
            }
            reply = credis_command(a->redis, "HSET %s %s %b", key, field, json.data, json.len);
            sbuf_free(&json);
        }
        if (reply)
            freeReplyObject(reply);
    }
    redisReply *reply = credis_command(a->redis, "EXPIRE %s %d", key, PRESENCE_TTL_SECONDS);
    if (reply)
        freeReplyObject(reply);
}

static void publish_one(awareness_pub *a, const awareness_item *item)
{
    char channel[WSFRAME_DOC_ID_MAX + 16];
    snprintf(channel, sizeof channel, "awareness:%s", item->doc_id);
    redisReply *reply = credis_command(a->redis, "PUBLISH %s %b", channel, item->data, item->len);
    if (!reply || reply->type == REDIS_REPLY_ERROR) {
        count(a->counters.dropped);
        if (reply)
            freeReplyObject(reply);
        return;
    }
    freeReplyObject(reply);
    count(a->counters.published);
    update_presence(a, item);
}

static void *publisher(void *arg)
{
    awareness_pub *a = arg;
    pthread_mutex_lock(&a->lock);
    for (;;) {
        while (!a->head && !a->stopping)
            pthread_cond_wait(&a->cond, &a->lock);
        if (!a->head)
            break;
        if (a->stopping && util_now_ms() > a->stop_deadline_ms)
            break;
        awareness_item *item = a->head;
        a->head = item->next;
        if (!a->head)
            a->tail = NULL;
        a->queued--;
        pthread_mutex_unlock(&a->lock);
        publish_one(a, item);
        free(item);
        pthread_mutex_lock(&a->lock);
    }
    pthread_mutex_unlock(&a->lock);
    return NULL;
}

awareness_pub *awareness_new(const char *redis_url, size_t max_queue, clog *log,
                             const awareness_counters *counters, char *err, size_t err_size)
{
    awareness_pub *a = calloc(1, sizeof *a);
    if (!a) {
        snprintf(err, err_size, "out of memory");
        return NULL;
    }
    a->log = log;
    if (counters)
        a->counters = *counters;
    a->max_queue = max_queue;
    credis_opts ro = {
        .url = redis_url, .connect_timeout_ms = 1000, .command_timeout_ms = 1000, .log = log};
    a->redis = credis_new(&ro, err, err_size);
    if (!a->redis) {
        free(a);
        return NULL;
    }
    pthread_mutex_init(&a->lock, NULL);
    pthread_cond_init(&a->cond, NULL);
    if (pthread_create(&a->thread, NULL, publisher, a) != 0) {
        snprintf(err, err_size, "cannot start the awareness thread");
        credis_free(a->redis);
        pthread_cond_destroy(&a->cond);
        pthread_mutex_destroy(&a->lock);
        free(a);
        return NULL;
    }
    return a;
}

void awareness_free(awareness_pub *a, int64_t timeout_ms)
{
    if (!a)
        return;
    pthread_mutex_lock(&a->lock);
    a->stopping = true;
    a->stop_deadline_ms = util_now_ms() + timeout_ms;
    pthread_cond_signal(&a->cond);
    pthread_mutex_unlock(&a->lock);
    pthread_join(a->thread, NULL);
    awareness_item *item = a->head;
    while (item) {
        awareness_item *next = item->next;
        free(item);
        item = next;
    }
    credis_free(a->redis);
    pthread_cond_destroy(&a->cond);
    pthread_mutex_destroy(&a->lock);
    free(a);
}

int awareness_publish(awareness_pub *a, const char *doc_id, const uint8_t *update, size_t len)
{
    awareness_item *item = malloc(sizeof *item + len);
    if (!item) {
        count(a->counters.dropped);
        return -1;
    }
    item->next = NULL;
    item->len = len;
    snprintf(item->doc_id, sizeof item->doc_id, "%s", doc_id);
    memcpy(item->data, update, len);
    pthread_mutex_lock(&a->lock);
    if (a->queued >= a->max_queue || a->stopping) {
        pthread_mutex_unlock(&a->lock);
        free(item);
        count(a->counters.dropped);
        return -1;
    }
    if (a->tail)
        a->tail->next = item;
    else
        a->head = item;
    a->tail = item;
    a->queued++;
    pthread_cond_signal(&a->cond);
    pthread_mutex_unlock(&a->lock);
    return 0;
}
