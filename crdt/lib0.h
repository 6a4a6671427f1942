/*
 * lib0.h - the lib0 binary primitives Yjs is built on: variable-length integers, strings,
 * floats, and a growable output buffer. Every codec in crdt/ reads through crdt_rd and
 * writes through crdt_buf.
 *
 * Both carry a sticky error: after the first failure (truncated input, out of memory) every
 * further call is a no-op returning zero, so a decoder can read a whole record and check the
 * error once. Callers must check it before trusting any value read.
 */
#ifndef CRDT_LIB0_H
#define CRDT_LIB0_H

#include "crdt/crdt.h"

#include <stddef.h>
#include <stdint.h>

/* Largest integer JavaScript represents exactly; lib0 rejects larger varints. */
#define CRDT_MAX_SAFE_INT ((uint64_t)9007199254740991ULL)

typedef struct crdt_buf {
    uint8_t *data; /* malloc'd; owned by the buffer until crdt_buf_take */
    size_t len;
    size_t cap;
    int oom; /* set when an allocation failed; all later writes are dropped */
} crdt_buf;

void crdt_buf_init(crdt_buf *b);
void crdt_buf_free(crdt_buf *b);
/* Makes room for extra more bytes; returns 0, or -1 (and sets oom). */
int crdt_buf_reserve(crdt_buf *b, size_t extra);
void crdt_buf_put(crdt_buf *b, const void *p, size_t n);
void crdt_buf_u8(crdt_buf *b, uint8_t v);
void crdt_buf_varuint(crdt_buf *b, uint64_t v);
/* Signed lib0 varint (sign and magnitude, not zigzag); negative with magnitude 0 is -0. */
void crdt_buf_varint(crdt_buf *b, uint64_t magnitude, int negative);
void crdt_buf_varbytes(crdt_buf *b, const void *p, size_t n);
void crdt_buf_f32(crdt_buf *b, float v);
void crdt_buf_f64(crdt_buf *b, double v);
void crdt_buf_i64(crdt_buf *b, int64_t v);
void crdt_buf_str(crdt_buf *b, const char *s); /* raw bytes of a C string, no prefix */
/* Hands the bytes to the caller (who frees them with free()); the buffer becomes empty.
 * Returns CRDT_ERR_NOMEM if any write failed. An empty buffer yields a 1-byte allocation. */
crdt_status crdt_buf_take(crdt_buf *b, uint8_t **out, size_t *out_len);
/* Same, NUL-terminated, for text output. */
crdt_status crdt_buf_take_str(crdt_buf *b, char **out);

typedef struct crdt_rd {
    const uint8_t *p;
    const uint8_t *end;
    crdt_status err; /* CRDT_OK until the first failure */
} crdt_rd;

void crdt_rd_init(crdt_rd *r, const uint8_t *p, size_t n);
static inline int crdt_rd_ok(const crdt_rd *r)
{
    return r->err == CRDT_OK;
}
static inline size_t crdt_rd_left(const crdt_rd *r)
{
    return (size_t)(r->end - r->p);
}
void crdt_rd_fail(crdt_rd *r, crdt_status err);
uint8_t crdt_rd_u8(crdt_rd *r);
uint64_t crdt_rd_varuint_slow(crdt_rd *r);
/* Unsigned varint up to 2^53 - 1, as lib0 accepts. */
static inline uint64_t crdt_rd_varuint(crdt_rd *r)
{
    /* Clocks and client ids are mostly 1-3 bytes: decode those without a loop. */
    const uint8_t *p = r->p;
    if (r->end - p >= 3) {
        if (p[0] < 0x80) {
            r->p = p + 1;
            return p[0];
        }
        if (p[1] < 0x80) {
            r->p = p + 2;
            return (uint64_t)(p[0] & 0x7f) | (uint64_t)p[1] << 7;
        }
        if (p[2] < 0x80) {
            r->p = p + 3;
            return (uint64_t)(p[0] & 0x7f) | (uint64_t)(p[1] & 0x7f) << 7 | (uint64_t)p[2] << 14;
        }
    } else if (p < r->end && *p < 0x80) {
        r->p = p + 1;
        return *p;
    }
    return crdt_rd_varuint_slow(r);
}
/* Signed varint: returns the magnitude (up to 2^60), sets *negative (1 also for -0). */
uint64_t crdt_rd_varint(crdt_rd *r, int *negative);
/* n raw bytes (pointer into the input), or NULL on truncation. */
const uint8_t *crdt_rd_bytes(crdt_rd *r, size_t n);
/* varUint length + bytes. */
const uint8_t *crdt_rd_varbytes(crdt_rd *r, size_t *n);
/* varString: like varbytes, and the bytes must be valid UTF-8 (lib0 decodes fatally). */
const char *crdt_rd_varstring(crdt_rd *r, size_t *n);
float crdt_rd_f32(crdt_rd *r);
double crdt_rd_f64(crdt_rd *r);
int64_t crdt_rd_i64(crdt_rd *r);

/* 1 if s[0..n) is well-formed UTF-8 (no overlongs, no surrogates, <= U+10FFFF). */
int crdt_utf8_valid(const uint8_t *s, size_t n);
/* Number of UTF-16 code units of well-formed UTF-8 text. */
uint64_t crdt_utf16_len(const uint8_t *s, size_t n);
/* Byte offset of UTF-16 unit offset `units` in well-formed UTF-8 text. If the offset falls
 * inside a 4-byte sequence (between the halves of a surrogate pair), returns the offset of
 * that sequence and sets *split = 1. */
size_t crdt_utf16_to_byte(const uint8_t *s, size_t n, uint64_t units, int *split);

#endif /* CRDT_LIB0_H */
