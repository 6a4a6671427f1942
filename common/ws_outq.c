/*
 * ws_outq: the per-connection queue of outgoing WebSocket messages, a singly
 * linked list of messages allocated with LWS_PRE bytes of headroom so that
 * lws_write can be called on them without another copy. See ws_outq.h.
 */
#include "common/ws_outq.h"

#include <stdlib.h>
#include <string.h>

struct wsoutq_msg {
    wsoutq_msg *next;
    size_t len;
    unsigned char buf[]; /* LWS_PRE headroom, then len bytes */
};

void wsoutq_init(wsoutq *q)
{
    memset(q, 0, sizeof *q);
}

void wsoutq_clear(wsoutq *q)
{
    wsoutq_msg *m = q->head;
    while (m) {
        wsoutq_msg *next = m->next;
        free(m);
        m = next;
    }
    wsoutq_init(q);
}

int wsoutq_push(wsoutq *q, const uint8_t *data, size_t len)
{
    wsoutq_msg *m = malloc(sizeof *m + LWS_PRE + len);
    if (!m)
        return -1;
    m->next = NULL;
    m->len = len;
    if (len > 0)
        memcpy(m->buf + LWS_PRE, data, len);
    if (q->tail)
        q->tail->next = m;
    else
        q->head = m;
    q->tail = m;
    q->count++;
    q->bytes += len;
    return 0;
}

int wsoutq_write(wsoutq *q, struct lws *wsi)
{
    /* Several messages per callback while the kernel takes them: one write per
     * callback would cost a poll round trip per ACK under load. */
    while (q->head && !lws_send_pipe_choked(wsi)) {
        wsoutq_msg *m = q->head;
        int n = lws_write(wsi, m->buf + LWS_PRE, m->len, LWS_WRITE_BINARY);
        if (n < 0 || (size_t)n < m->len)
            return -1;
        q->head = m->next;
        if (!q->head)
            q->tail = NULL;
        q->count--;
        q->bytes -= m->len;
        free(m);
    }
    if (q->head)
        lws_callback_on_writable(wsi);
    return 0;
}
