/*
 * presence: a hiredis context in subscriber mode driven by poll() on its
 * socket and an eventfd. Commands (SUBSCRIBE/UNSUBSCRIBE) are queued by any
 * thread and written by this thread only, because a hiredis context is not
 * thread-safe and a subscriber connection cannot be shared with the
 * command-style credis handles. See presence.h.
 */
#include "broadcaster/presence.h"

#include <errno.h>
#include <hiredis/hiredis.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "broadcaster/wire.h"
#include "common/redis.h"
#include "common/strmap.h"
#include "common/util.h"

#define CHANNEL_PREFIX "awareness:"

typedef struct pending_cmd {
    struct pending_cmd *next;
    bool subscribe;
    char doc_id[WSFRAME_DOC_ID_MAX + 1];
} pending_cmd;

struct bcpresence {
    credis_url url;
    clog *log;
    size_t max_pending;
    bcpresence_notify_fn notify;
    void *userdata;
    int wake_fd;
    pthread_t thread;
    bool thread_started;
    atomic_bool stop;
    atomic_uint_fast64_t confirmed;
    pthread_mutex_t lock;
    cmap *watched; /* doc ids wanted, under lock */
    pending_cmd *cmds_head, *cmds_tail;
    bcpresence_update *head, *tail;
    size_t pending;
};

static void wake(bcpresence *p)
{
    uint64_t one = 1;
    ssize_t n = write(p->wake_fd, &one, sizeof one);
    (void)n; /* a full counter already means "wake up" */
}

static void queue_cmd(bcpresence *p, bool subscribe, const char *doc_id)
{
    pending_cmd *c = calloc(1, sizeof *c);
    if (!c)
        return;
    c->subscribe = subscribe;
    snprintf(c->doc_id, sizeof c->doc_id, "%s", doc_id);
    if (p->cmds_tail)
        p->cmds_tail->next = c;
    else
        p->cmds_head = c;
    p->cmds_tail = c;
}

static redisContext *connect_redis(bcpresence *p)
{
    struct timeval tv = {.tv_sec = 2};
    redisContext *c = redisConnectWithTimeout(p->url.host, p->url.port, tv);
    if (!c || c->err) {
        if (c)
            redisFree(c);
        return NULL;
    }
    if (p->url.password[0]) {
        redisReply *r = p->url.user[0] ? redisCommand(c, "AUTH %s %s", p->url.user, p->url.password)
                                       : redisCommand(c, "AUTH %s", p->url.password);
        bool ok = r && r->type != REDIS_REPLY_ERROR;
        if (r)
            freeReplyObject(r);
        if (!ok) {
            redisFree(c);
            return NULL;
        }
    }
    return c;
}

static void add_to_subscribe(void *userdata, const char *key, void *value)
{
    (void)value;
    redisContext *c = userdata;
    redisAppendCommand(c, "SUBSCRIBE " CHANNEL_PREFIX "%s", key);
}

/* Appends the queued commands (after a reconnect: a SUBSCRIBE for every
 * watched document instead). */
static void append_commands(bcpresence *p, redisContext *c, bool resubscribe_all)
{
    pthread_mutex_lock(&p->lock);
    pending_cmd *list = p->cmds_head;
    p->cmds_head = p->cmds_tail = NULL;
    if (resubscribe_all)
        cmap_each(p->watched, add_to_subscribe, c);
    pthread_mutex_unlock(&p->lock);
    while (list) {
        pending_cmd *next = list->next;
        if (!resubscribe_all)
            redisAppendCommand(c, "%s " CHANNEL_PREFIX "%s",
                               list->subscribe ? "SUBSCRIBE" : "UNSUBSCRIBE", list->doc_id);
        free(list);
        list = next;
    }
}

static void deliver(bcpresence *p, redisReply *reply)
{
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements < 3 ||
        reply->element[0]->type != REDIS_REPLY_STRING)
        return;
    const char *kind = reply->element[0]->str;
    if (strcmp(kind, "subscribe") == 0) {
        atomic_fetch_add(&p->confirmed, 1);
        return;
    }
    redisReply *channel = reply->element[1], *payload = reply->element[2];
    size_t plen = strlen(CHANNEL_PREFIX);
    if (strcmp(kind, "message") != 0 || channel->type != REDIS_REPLY_STRING ||
        payload->type != REDIS_REPLY_STRING || channel->len <= plen ||
        channel->len - plen > WSFRAME_DOC_ID_MAX || memcmp(channel->str, CHANNEL_PREFIX, plen) != 0)
        return;
    bcpresence_update *u = calloc(1, sizeof *u);
    if (!u)
        return;
    memcpy(u->doc_id, channel->str + plen, channel->len - plen);
    u->msg = bcwire_awareness((const uint8_t *)payload->str, payload->len);
    if (!u->msg) {
        free(u);
        return;
    }
    pthread_mutex_lock(&p->lock);
    if (p->pending >= p->max_pending) {
        /* The service thread is behind: presence is ephemeral, drop it. */
        pthread_mutex_unlock(&p->lock);
        bcpresence_update_free(u);
        return;
    }
    bool was_empty = p->head == NULL;
    if (p->tail)
        p->tail->next = u;
    else
        p->head = u;
    p->tail = u;
    p->pending++;
    pthread_mutex_unlock(&p->lock);
    if (was_empty && p->notify)
        p->notify(p->userdata);
}

/* Serves one connection until it breaks or stop is set. */
static void serve(bcpresence *p, redisContext *c)
{
    append_commands(p, c, true);
    for (;;) {
        int done = 0;
        while (!done)
            if (redisBufferWrite(c, &done) != REDIS_OK)
                return;
        struct pollfd fds[2] = {{.fd = c->fd, .events = POLLIN},
                                {.fd = p->wake_fd, .events = POLLIN}};
        int n = poll(fds, 2, 1000);
        if (atomic_load(&p->stop))
            return;
        if (n < 0 && errno != EINTR)
            return;
        if (fds[1].revents & POLLIN) {
            uint64_t count;
            ssize_t r = read(p->wake_fd, &count, sizeof count);
            (void)r;
            append_commands(p, c, false);
        }
        if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) {
            if (redisBufferRead(c) != REDIS_OK)
                return;
            void *reply = NULL;
            while (redisGetReplyFromReader(c, &reply) == REDIS_OK && reply) {
                deliver(p, reply);
                freeReplyObject(reply);
                reply = NULL;
            }
            if (c->err)
                return;
        }
    }
}

static void *presence_thread(void *arg)
{
    bcpresence *p = arg;
    util_backoff backoff;
    util_backoff_init(&backoff, 100, 5000);
    while (!atomic_load(&p->stop)) {
        redisContext *c = connect_redis(p);
        if (c) {
            util_backoff_reset(&backoff);
            atomic_store(&p->confirmed, 0);
            serve(p, c);
            redisFree(c);
            if (atomic_load(&p->stop))
                break;
            clog_warnf(p->log, "the Redis awareness subscription broke; reconnecting");
        }
        /* Wait out the backoff, but wake at once for a stop. */
        struct pollfd fd = {.fd = p->wake_fd, .events = POLLIN};
        int64_t delay = util_backoff_next(&backoff);
        (void)poll(&fd, 1, (int)delay);
    }
    return NULL;
}

bcpresence *bcpresence_new(const char *redis_url, size_t max_pending, clog *log,
                           bcpresence_notify_fn notify, void *userdata, char *err, size_t err_size)
{
    bcpresence *p = calloc(1, sizeof *p);
    if (!p) {
        snprintf(err, err_size, "out of memory");
        return NULL;
    }
    if (credis_url_parse(redis_url, &p->url, err, err_size) != 0) {
        free(p);
        return NULL;
    }
    p->log = log;
    p->max_pending = max_pending ? max_pending : 65536;
    p->notify = notify;
    p->userdata = userdata;
    atomic_init(&p->stop, false);
    atomic_init(&p->confirmed, 0);
    pthread_mutex_init(&p->lock, NULL);
    p->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    p->watched = cmap_new();
    if (p->wake_fd < 0 || !p->watched ||
        pthread_create(&p->thread, NULL, presence_thread, p) != 0) {
        snprintf(err, err_size, "cannot start the presence thread");
        bcpresence_free(p);
        return NULL;
    }
    p->thread_started = true;
    return p;
}

void bcpresence_free(bcpresence *p)
{
    if (!p)
        return;
    atomic_store(&p->stop, true);
    if (p->wake_fd >= 0)
        wake(p);
    if (p->thread_started)
        pthread_join(p->thread, NULL);
    if (p->wake_fd >= 0)
        close(p->wake_fd);
    while (p->cmds_head) {
        pending_cmd *next = p->cmds_head->next;
        free(p->cmds_head);
        p->cmds_head = next;
    }
    bcpresence_update *u = p->head;
    while (u) {
        bcpresence_update *next = u->next;
        bcpresence_update_free(u);
        u = next;
    }
    cmap_free(p->watched);
    pthread_mutex_destroy(&p->lock);
    free(p);
}

int bcpresence_watch(bcpresence *p, const char *doc_id)
{
    pthread_mutex_lock(&p->lock);
    int rc = cmap_put(p->watched, doc_id, p);
    if (rc == 0)
        queue_cmd(p, true, doc_id);
    pthread_mutex_unlock(&p->lock);
    wake(p);
    return rc;
}

void bcpresence_unwatch(bcpresence *p, const char *doc_id)
{
    pthread_mutex_lock(&p->lock);
    cmap_remove(p->watched, doc_id);
    queue_cmd(p, false, doc_id);
    pthread_mutex_unlock(&p->lock);
    wake(p);
}

bcpresence_update *bcpresence_take(bcpresence *p)
{
    pthread_mutex_lock(&p->lock);
    bcpresence_update *list = p->head;
    p->head = p->tail = NULL;
    p->pending = 0;
    pthread_mutex_unlock(&p->lock);
    return list;
}

void bcpresence_update_free(bcpresence_update *u)
{
    if (!u)
        return;
    bcmsg_unref(u->msg);
    free(u);
}

uint64_t bcpresence_confirmed(bcpresence *p)
{
    return atomic_load(&p->confirmed);
}
