/*
 * presence: relays awareness (docs/protocol.md, "Presence") from Redis
 * pub/sub to the service thread. One Redis connection per process, in
 * subscriber mode, on its own thread: SUBSCRIBE awareness:{doc} for every
 * document with readers here (bcpresence_watch) and UNSUBSCRIBE when the
 * last one leaves, so a broadcaster only receives the presence of its own
 * documents. After a broken connection it reconnects with backoff and
 * subscribes again to everything watched (awareness lost meanwhile is
 * refreshed by the clients within 15 s).
 * Received updates are handed over like the feed's records: notify on the
 * first of an empty list, bcpresence_take takes the list.
 * Prefix: bcpresence_.
 */
#ifndef BROADCASTER_PRESENCE_H
#define BROADCASTER_PRESENCE_H

#include <stddef.h>
#include <stdint.h>

#include "broadcaster/msg.h"
#include "common/log.h"
#include "common/ws_frame.h"

typedef struct bcpresence_update {
    struct bcpresence_update *next;
    char doc_id[WSFRAME_DOC_ID_MAX + 1];
    bcmsg *msg; /* AWARENESS, one reference owned by the update */
} bcpresence_update;

typedef void (*bcpresence_notify_fn)(void *userdata);

typedef struct bcpresence bcpresence;

/* Starts the thread for redis_url (it connects in the background). NULL
 * with the reason in err (bad URL, no memory). */
bcpresence *bcpresence_new(const char *redis_url, size_t max_pending, clog *log,
                           bcpresence_notify_fn notify, void *userdata, char *err, size_t err_size);
void bcpresence_free(bcpresence *p);

/* Subscribes to / unsubscribes from awareness:{doc_id}. Any thread. */
int bcpresence_watch(bcpresence *p, const char *doc_id);
void bcpresence_unwatch(bcpresence *p, const char *doc_id);

/* Every update received so far, oldest first; free each with
 * bcpresence_update_free. */
bcpresence_update *bcpresence_take(bcpresence *p);
void bcpresence_update_free(bcpresence_update *u);

/* How many SUBSCRIBE confirmations the current connection has had: lets
 * tests wait until a subscription is live. */
uint64_t bcpresence_confirmed(bcpresence *p);

#endif
