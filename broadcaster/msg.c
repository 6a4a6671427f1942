/*
 * msg: shared reference-counted messages, a growable ring of references per
 * subscriber, and the WebSocket framing of server messages (RFC 6455 5.2:
 * FIN + binary opcode, no mask, 7/16/64-bit length). See msg.h.
 */
#include "broadcaster/msg.h"

#include <stdlib.h>
#include <string.h>

const char *bcmsg_kind_name(bcmsg_kind kind)
{
    switch (kind) {
    case BCMSG_STATE:
        return "state";
    case BCMSG_MERGED:
        return "merged";
    case BCMSG_ITEM:
        return "item";
    case BCMSG_AWARENESS:
        return "awareness";
    case BCMSG_RESYNC:
        return "resync";
    case BCMSG_ERROR:
        return "error";
    case BCMSG_SYNCED:
        return "synced";
    case BCMSG_LIVE:
        return "live";
    case BCMSG_YPROTO:
        return "yprotocol";
    case BCMSG_KIND_COUNT:
        break;
    }
    return "unknown";
}

bcmsg *bcmsg_new(bcmsg_kind kind, uint64_t version, int64_t ingest_us, const uint8_t *payload,
                 size_t len)
{
    bcmsg *m = malloc(sizeof *m + LWS_PRE + len);
    if (!m)
        return NULL;
    m->refs = 1;
    m->kind = kind;
    m->version = version;
    m->ingest_us = ingest_us;
    m->len = len;
    if (len)
        memcpy(m->data + LWS_PRE, payload, len);
    return m;
}

bcmsg *bcmsg_from_buf(bcmsg_kind kind, uint64_t version, int64_t ingest_us, uint8_t *payload,
                      size_t len)
{
    bcmsg *m = bcmsg_new(kind, version, ingest_us, payload, len);
    free(payload);
    return m;
}

void bcmsg_ref(bcmsg *m)
{
    m->refs++;
}

void bcmsg_unref(bcmsg *m)
{
    if (m && --m->refs == 0)
        free(m);
}

size_t bcmsg_frame_header_size(size_t len)
{
    if (len < 126)
        return 2;
    if (len <= 0xffff)
        return 4;
    return 10;
}

size_t bcmsg_frame_header(uint8_t *out, size_t len)
{
    out[0] = 0x82; /* FIN, binary */
    if (len < 126) {
        out[1] = (uint8_t)len;
        return 2;
    }
    if (len <= 0xffff) {
        out[1] = 126;
        out[2] = (uint8_t)(len >> 8);
        out[3] = (uint8_t)len;
        return 4;
    }
    out[1] = 127;
    uint64_t v = len;
    for (int i = 0; i < 8; i++)
        out[2 + i] = (uint8_t)(v >> (56 - 8 * i));
    return 10;
}

void bcqueue_clear(bcqueue *q)
{
    while (q->count)
        bcqueue_pop(q);
    free(q->ring);
    memset(q, 0, sizeof *q);
}

int bcqueue_push(bcqueue *q, bcmsg *m)
{
    if (q->count == q->cap) {
        size_t cap = q->cap ? q->cap * 2 : 16;
        bcmsg **ring = malloc(cap * sizeof *ring);
        if (!ring)
            return -1;
        for (size_t i = 0; i < q->count; i++)
            ring[i] = q->ring[(q->head + i) & (q->cap - 1)];
        free(q->ring);
        q->ring = ring;
        q->cap = cap;
        q->head = 0;
    }
    q->ring[(q->head + q->count) & (q->cap - 1)] = m;
    q->count++;
    q->bytes += m->len;
    bcmsg_ref(m);
    return 0;
}

bcmsg *bcqueue_peek(const bcqueue *q)
{
    return q->count ? q->ring[q->head] : NULL;
}

static bcmsg *take(bcqueue *q)
{
    bcmsg *m = q->ring[q->head];
    q->head = (q->head + 1) & (q->cap - 1);
    q->count--;
    q->bytes -= m->len;
    return m;
}

void bcqueue_pop(bcqueue *q)
{
    if (q->count)
        bcmsg_unref(take(q));
}

size_t bcqueue_frame(bcqueue *q, uint8_t *out, size_t out_size, bcmsg **sent_msgs, size_t max_sent,
                     size_t *sent_count)
{
    size_t used = 0, n = 0;
    while (q->count && n < max_sent) {
        bcmsg *m = q->ring[q->head];
        size_t need = bcmsg_frame_header_size(m->len) + m->len;
        if (need > out_size - used)
            break;
        used += bcmsg_frame_header(out + used, m->len);
        memcpy(out + used, bcmsg_payload(m), m->len);
        used += m->len;
        sent_msgs[n++] = take(q);
    }
    *sent_count = n;
    return used;
}
