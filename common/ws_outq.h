/*
 * ws_outq: a connection's queue of outgoing WebSocket messages. libwebsockets
 * may only write when a connection is writeable, so a server queues each
 * message (copied, with the LWS_PRE headroom lws_write needs in front) and
 * writes from the LWS_CALLBACK_SERVER_WRITEABLE callback. The byte count lets
 * a server bound what a slow client may hold (the broadcaster's slow-consumer
 * rule). Owned by one connection, used on the lws service thread only.
 * Prefix: wsoutq_.
 */
#ifndef COMMON_WS_OUTQ_H
#define COMMON_WS_OUTQ_H

#include <libwebsockets.h>
#include <stddef.h>
#include <stdint.h>

typedef struct wsoutq_msg wsoutq_msg;

typedef struct wsoutq {
    wsoutq_msg *head;
    wsoutq_msg *tail;
    size_t count; /* messages queued */
    size_t bytes; /* payload bytes queued */
} wsoutq;

/* An empty queue (a zeroed wsoutq is one too). */
void wsoutq_init(wsoutq *q);

/* Frees every queued message; the queue is empty and reusable afterwards. */
void wsoutq_clear(wsoutq *q);

/* Appends a copy of data[0..len) as one binary message. 0, or -1 when out
 * of memory (the queue is unchanged). */
int wsoutq_push(wsoutq *q, const uint8_t *data, size_t len);

/*
 * Writes queued messages to wsi until the queue is empty or the socket would
 * block; call it from LWS_CALLBACK_SERVER_WRITEABLE (or the client's). Asks
 * for another writeable callback when messages remain. Returns 0, or -1 when
 * a write failed (the caller returns -1 to close the connection).
 */
int wsoutq_write(wsoutq *q, struct lws *wsi);

#endif
