/*
 * msg: the broadcaster's outgoing messages and per-subscriber queues.
 *
 * A record of collab.merged goes to every subscriber of its document, so a
 * message is built once (bcmsg: one allocation, LWS_PRE headroom in front so
 * lws_write can frame it in place) and shared by reference: a queue holds
 * pointers, and the message is freed when its last reference is dropped.
 * Reference counts are plain integers: after a message reaches the service
 * thread, only that thread touches it (messages are built on the feed and
 * loader threads, then handed over whole).
 *
 * bcqueue is a subscriber's bounded FIFO of message references (a ring that
 * grows by doubling up to its cap), with a byte count so the slow-consumer
 * rule can bound both. bcqueue_frame copies queued messages, each with its
 * WebSocket frame header, into one buffer so that a writeable callback sends
 * many messages with one write (see docs/decisions.md, "broadcaster").
 * Prefixes: bcmsg_, bcqueue_.
 */
#ifndef BROADCASTER_MSG_H
#define BROADCASTER_MSG_H

#include <libwebsockets.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What a message is, for metrics and for the drop rules (awareness may be
 * dropped for a full queue, ordered messages may not). */
typedef enum bcmsg_kind {
    BCMSG_STATE,
    BCMSG_MERGED,
    BCMSG_ITEM,
    BCMSG_AWARENESS,
    BCMSG_RESYNC,
    BCMSG_ERROR,
    BCMSG_SYNCED,
    BCMSG_LIVE,   /* y-protocols: a sync update or step 2 of the live document */
    BCMSG_YPROTO, /* y-protocols: step 1, auth, sync status, stateless, close */
    BCMSG_KIND_COUNT,
} bcmsg_kind;

const char *bcmsg_kind_name(bcmsg_kind kind);

typedef struct bcmsg {
    uint32_t refs;
    bcmsg_kind kind;
    uint64_t version;  /* STATE, MERGED, ITEM, SYNCED: the document version; else 0 */
    int64_t ingest_us; /* MERGED, ITEM: when ingest received the op; else 0 */
    size_t len;        /* payload bytes after the headroom */
    uint8_t data[];    /* LWS_PRE bytes of headroom, then the payload */
} bcmsg;

/* The payload bytes of m. */
static inline uint8_t *bcmsg_payload(bcmsg *m)
{
    return m->data + LWS_PRE;
}

/* A message holding a copy of payload[0..len) with one reference (the
 * caller's: drop it with bcmsg_unref). NULL when out of memory. */
bcmsg *bcmsg_new(bcmsg_kind kind, uint64_t version, int64_t ingest_us, const uint8_t *payload,
                 size_t len);

/* The same, taking over a malloc'd payload buffer (freed here either way). */
bcmsg *bcmsg_from_buf(bcmsg_kind kind, uint64_t version, int64_t ingest_us, uint8_t *payload,
                      size_t len);

void bcmsg_ref(bcmsg *m);
/* Drops one reference; frees at zero. NULL is a no-op. */
void bcmsg_unref(bcmsg *m);

/* The size of the WebSocket header of a server frame (binary, FIN, not
 * masked) carrying len payload bytes: 2, 4 or 10. */
size_t bcmsg_frame_header_size(size_t len);
/* Writes that header into out (room for 10 bytes); returns its size. */
size_t bcmsg_frame_header(uint8_t *out, size_t len);

typedef struct bcqueue {
    bcmsg **ring;
    size_t cap;   /* allocated slots (a power of two) */
    size_t head;  /* index of the oldest message */
    size_t count; /* messages queued */
    size_t bytes; /* payload bytes queued */
} bcqueue;

/* A zeroed bcqueue is an empty one. Frees the ring and drops every
 * reference; the queue is empty and reusable afterwards. */
void bcqueue_clear(bcqueue *q);

/* Appends a reference to m (taking a new one). 0, or -1 when out of memory
 * (the queue is unchanged). Limits are the caller's business. */
int bcqueue_push(bcqueue *q, bcmsg *m);

/* The oldest message (borrowed), or NULL. */
bcmsg *bcqueue_peek(const bcqueue *q);

/* Removes the oldest message and drops its reference. */
void bcqueue_pop(bcqueue *q);

/*
 * Copies whole queued messages, oldest first, each preceded by its frame
 * header, into out (room for out_size bytes) while they fit, and removes
 * them from the queue. *sent_msgs, if not NULL, receives the removed messages'
 * borrowed pointers (up to max_sent, which bounds how many are taken) which
 * the caller must bcmsg_unref after using them. Returns the number of bytes
 * written, 0 when the first message does not fit (the caller writes that one
 * alone).
 */
size_t bcqueue_frame(bcqueue *q, uint8_t *out, size_t out_size, bcmsg **sent_msgs, size_t max_sent,
                     size_t *sent_count);

#endif
