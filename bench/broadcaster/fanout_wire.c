/*
 * fanout_wire: frame splitting and pongs for the fan-out benchmarks; see
 * fanout_wire.h.
 */
#include "fanout_wire.h"

#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>

/* Hands the whole frames at the start of p[0..n) to fn; returns the bytes used. */
static size_t fanout_frames(const uint8_t *p, size_t n, fanout_frame_fn fn, void *ctx)
{
    size_t used = 0;
    while (n - used >= 2) {
        const uint8_t *f = p + used;
        uint64_t len = f[1] & 0x7f;
        size_t head = 2;
        if (len == 126) {
            if (n - used < 4)
                break;
            len = ((uint64_t)f[2] << 8) | f[3];
            head = 4;
        } else if (len == 127) {
            if (n - used < 10)
                break;
            len = 0;
            for (int i = 0; i < 8; i++)
                len = (len << 8) | f[2 + i];
            head = 10;
        }
        if (n - used - head < len)
            break;
        fn(ctx, f[0] & 0x0f, (f[0] & 0x80) != 0, f + head, (size_t)len);
        used += head + (size_t)len;
    }
    return used;
}

int fanout_feed(fanout_partial *pt, const uint8_t *p, size_t n, fanout_frame_fn fn, void *ctx)
{
    if (pt->len) {
        uint8_t *joined = realloc(pt->bytes, pt->len + n);
        if (!joined)
            return -1;
        memcpy(joined + pt->len, p, n);
        pt->bytes = joined;
        size_t total = pt->len + n;
        size_t used = fanout_frames(joined, total, fn, ctx);
        memmove(pt->bytes, pt->bytes + used, total - used);
        pt->len = total - used;
        return 0;
    }
    /* The common case: whole frames straight from the read buffer, no copy. */
    size_t used = fanout_frames(p, n, fn, ctx);
    if (used < n) {
        uint8_t *rest = realloc(pt->bytes, n - used);
        if (!rest)
            return -1;
        pt->bytes = rest;
        memcpy(pt->bytes, p + used, n - used);
        pt->len = n - used;
    }
    return 0;
}

void fanout_partial_free(fanout_partial *pt)
{
    free(pt->bytes);
    pt->bytes = NULL;
    pt->len = 0;
}

int fanout_pong(int fd, const uint8_t *data, size_t len)
{
    uint8_t frame[2 + 4 + 125];
    if (len > 125)
        return -1;
    frame[0] = 0x8a; /* FIN + pong */
    frame[1] = (uint8_t)(0x80 | len);
    memset(frame + 2, 0, 4); /* a zero masking key: the data goes as it is */
    memcpy(frame + 6, data, len);
    return send(fd, frame, 6 + len, MSG_NOSIGNAL) == (ssize_t)(6 + len) ? 0 : -1;
}
