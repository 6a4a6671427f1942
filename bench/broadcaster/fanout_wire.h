/*
 * fanout_wire: the reading side both fan-out benchmarks share (bc-fanout for
 * our broadcaster, peer-fanout for the peers): splitting the server's
 * WebSocket frames (RFC 6455, unmasked) out of whatever a non-blocking read
 * returned, carrying an incomplete frame over to the next read, and the pong
 * both lws and the node servers expect. What a frame means is the caller's.
 * Prefix: fanout_.
 */
#ifndef BENCH_FANOUT_WIRE_H
#define BENCH_FANOUT_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Called for each whole frame: opcode (0x2 binary, 0x8 close, 0x9 ping, ...),
 * FIN, and the payload (valid during the call only). */
typedef void (*fanout_frame_fn)(void *ctx, uint8_t opcode, bool fin, const uint8_t *payload,
                                size_t len);

/* The bytes of an incomplete frame of one connection; zero-initialised is empty. */
typedef struct fanout_partial {
    uint8_t *bytes; /* owned; freed by fanout_partial_free */
    size_t len;
} fanout_partial;

/* Hands every frame completed by p[0..n) (after what pt held) to fn and keeps
 * the rest in pt. 0, or -1 when out of memory (pt is left as it was). */
int fanout_feed(fanout_partial *pt, const uint8_t *p, size_t n, fanout_frame_fn fn, void *ctx);
void fanout_partial_free(fanout_partial *pt);

/* Writes a pong carrying `data` (a ping's payload, at most 125 bytes), masked
 * as a client must. 0, or -1 when it could not be written whole. */
int fanout_pong(int fd, const uint8_t *data, size_t len);

#endif
