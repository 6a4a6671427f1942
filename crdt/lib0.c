/*
 * lib0.c - lib0 varints, strings, floats and the growable output buffer (see lib0.h).
 * The formats follow dmonad/lib0 encoding.js / decoding.js, which Yjs uses for every
 * binary structure.
 */
#include "crdt/lib0.h"

#include <stdlib.h>
#include <string.h>

void crdt_buf_init(crdt_buf *b)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->oom = 0;
}

void crdt_buf_free(crdt_buf *b)
{
    free(b->data);
    crdt_buf_init(b);
}

int crdt_buf_reserve(crdt_buf *b, size_t extra)
{
    if (b->oom)
        return -1;
    if (b->cap - b->len >= extra)
        return 0;
    size_t need = b->len + extra;
    if (need < b->len) {
        b->oom = 1;
        return -1;
    }
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap = cap * 2 > cap ? cap * 2 : need;
    uint8_t *p = realloc(b->data, cap);
    if (!p) {
        b->oom = 1;
        return -1;
    }
    b->data = p;
    b->cap = cap;
    return 0;
}

void crdt_buf_put(crdt_buf *b, const void *p, size_t n)
{
    if (n == 0 || crdt_buf_reserve(b, n) != 0)
        return;
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

void crdt_buf_u8(crdt_buf *b, uint8_t v)
{
    if (crdt_buf_reserve(b, 1) != 0)
        return;
    b->data[b->len++] = v;
}

void crdt_buf_varuint(crdt_buf *b, uint64_t v)
{
    if (crdt_buf_reserve(b, 10) != 0)
        return;
    uint8_t *p = b->data + b->len;
    while (v > 0x7f) {
        *p++ = (uint8_t)(0x80 | (v & 0x7f));
        v >>= 7;
    }
    *p++ = (uint8_t)v;
    b->len = (size_t)(p - b->data);
}

void crdt_buf_varint(crdt_buf *b, uint64_t magnitude, int negative)
{
    if (crdt_buf_reserve(b, 11) != 0)
        return;
    uint8_t *p = b->data + b->len;
    uint8_t first = (uint8_t)((magnitude & 0x3f) | (negative ? 0x40 : 0));
    magnitude >>= 6;
    if (magnitude > 0)
        first |= 0x80;
    *p++ = first;
    while (magnitude > 0) {
        uint8_t byte = (uint8_t)(magnitude & 0x7f);
        magnitude >>= 7;
        if (magnitude > 0)
            byte |= 0x80;
        *p++ = byte;
    }
    b->len = (size_t)(p - b->data);
}

void crdt_buf_varbytes(crdt_buf *b, const void *p, size_t n)
{
    crdt_buf_varuint(b, n);
    crdt_buf_put(b, p, n);
}

static void put_be(crdt_buf *b, uint64_t bits, int nbytes)
{
    uint8_t tmp[8];
    for (int i = 0; i < nbytes; i++)
        tmp[i] = (uint8_t)(bits >> (8 * (nbytes - 1 - i)));
    crdt_buf_put(b, tmp, (size_t)nbytes);
}

void crdt_buf_f32(crdt_buf *b, float v)
{
    uint32_t bits;
    memcpy(&bits, &v, 4);
    put_be(b, bits, 4);
}

void crdt_buf_f64(crdt_buf *b, double v)
{
    uint64_t bits;
    memcpy(&bits, &v, 8);
    put_be(b, bits, 8);
}

void crdt_buf_i64(crdt_buf *b, int64_t v)
{
    put_be(b, (uint64_t)v, 8);
}

void crdt_buf_str(crdt_buf *b, const char *s)
{
    crdt_buf_put(b, s, strlen(s));
}

crdt_status crdt_buf_take(crdt_buf *b, uint8_t **out, size_t *out_len)
{
    if (b->oom || crdt_buf_reserve(b, 1) != 0) {
        crdt_buf_free(b);
        return CRDT_ERR_NOMEM;
    }
    *out = b->data;
    *out_len = b->len;
    crdt_buf_init(b);
    return CRDT_OK;
}

crdt_status crdt_buf_take_str(crdt_buf *b, char **out)
{
    crdt_buf_u8(b, 0);
    uint8_t *data;
    size_t len;
    crdt_status st = crdt_buf_take(b, &data, &len);
    if (st != CRDT_OK)
        return st;
    *out = (char *)data;
    return CRDT_OK;
}

void crdt_rd_init(crdt_rd *r, const uint8_t *p, size_t n)
{
    r->p = p;
    r->end = p ? p + n : p; /* NULL + 0 is undefined in C */
    r->err = CRDT_OK;
}

void crdt_rd_fail(crdt_rd *r, crdt_status err)
{
    if (r->err == CRDT_OK)
        r->err = err;
    r->p = r->end;
}

uint8_t crdt_rd_u8(crdt_rd *r)
{
    if (r->p >= r->end) {
        crdt_rd_fail(r, CRDT_ERR_TRUNCATED);
        return 0;
    }
    return *r->p++;
}

uint64_t crdt_rd_varuint_slow(crdt_rd *r)
{
    uint64_t num = 0;
    unsigned shift = 0;
    for (;;) {
        if (r->p >= r->end) {
            crdt_rd_fail(r, CRDT_ERR_TRUNCATED);
            return 0;
        }
        uint8_t byte = *r->p++;
        if (shift > 49) { /* an eighth 7-bit group would pass 2^56 */
            crdt_rd_fail(r, CRDT_ERR_MALFORMED);
            return 0;
        }
        num |= (uint64_t)(byte & 0x7f) << shift;
        shift += 7;
        if (byte < 0x80)
            break;
    }
    if (num > CRDT_MAX_SAFE_INT) {
        crdt_rd_fail(r, CRDT_ERR_MALFORMED);
        return 0;
    }
    return num;
}

uint64_t crdt_rd_varint(crdt_rd *r, int *negative)
{
    *negative = 0;
    if (r->p >= r->end) {
        crdt_rd_fail(r, CRDT_ERR_TRUNCATED);
        return 0;
    }
    uint8_t byte = *r->p++;
    uint64_t num = byte & 0x3f;
    *negative = (byte & 0x40) != 0;
    unsigned shift = 6;
    while (byte & 0x80) {
        if (r->p >= r->end) {
            crdt_rd_fail(r, CRDT_ERR_TRUNCATED);
            return 0;
        }
        byte = *r->p++;
        if (shift > 55) {
            crdt_rd_fail(r, CRDT_ERR_MALFORMED);
            return 0;
        }
        num |= (uint64_t)(byte & 0x7f) << shift;
        shift += 7;
    }
    /* Not limited to 2^53: the v2 clock columns store 2 * diff + 1, which exceeds it for
     * clocks near 2^53 (lib0 only checks the range while more bytes follow). Callers check
     * the values they decode. */
    if (num > ((uint64_t)1 << 60)) {
        crdt_rd_fail(r, CRDT_ERR_MALFORMED);
        return 0;
    }
    return num;
}

const uint8_t *crdt_rd_bytes(crdt_rd *r, size_t n)
{
    if (crdt_rd_left(r) < n) {
        crdt_rd_fail(r, CRDT_ERR_TRUNCATED);
        return NULL;
    }
    const uint8_t *p = r->p;
    r->p += n;
    return p;
}

const uint8_t *crdt_rd_varbytes(crdt_rd *r, size_t *n)
{
    uint64_t len = crdt_rd_varuint(r);
    *n = 0;
    if (!crdt_rd_ok(r))
        return NULL;
    if (len > crdt_rd_left(r)) {
        crdt_rd_fail(r, CRDT_ERR_TRUNCATED);
        return NULL;
    }
    *n = (size_t)len;
    return crdt_rd_bytes(r, (size_t)len);
}

const char *crdt_rd_varstring(crdt_rd *r, size_t *n)
{
    const uint8_t *p = crdt_rd_varbytes(r, n);
    if (p && !crdt_utf8_valid(p, *n)) {
        crdt_rd_fail(r, CRDT_ERR_MALFORMED);
        *n = 0;
        return NULL;
    }
    return (const char *)p;
}

static uint64_t get_be(crdt_rd *r, size_t n)
{
    const uint8_t *p = crdt_rd_bytes(r, n);
    uint64_t v = 0;
    if (!p)
        return 0;
    for (size_t i = 0; i < n; i++)
        v = (v << 8) | p[i];
    return v;
}

float crdt_rd_f32(crdt_rd *r)
{
    uint32_t bits = (uint32_t)get_be(r, 4);
    float v;
    memcpy(&v, &bits, 4);
    return v;
}

double crdt_rd_f64(crdt_rd *r)
{
    uint64_t bits = get_be(r, 8);
    double v;
    memcpy(&v, &bits, 8);
    return v;
}

int64_t crdt_rd_i64(crdt_rd *r)
{
    return (int64_t)get_be(r, 8);
}

int crdt_utf8_valid(const uint8_t *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        /* ASCII runs dominate real documents: skip them eight bytes at a time. */
        while (i + 8 <= n) {
            uint64_t w;
            memcpy(&w, s + i, 8);
            if (w & 0x8080808080808080ULL)
                break;
            i += 8;
        }
        if (i >= n)
            break;
        uint8_t c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t len;
        uint32_t cp;
        if (c >= 0xc2 && c <= 0xdf) {
            len = 2;
            cp = c & 0x1fu;
        } else if (c >= 0xe0 && c <= 0xef) {
            len = 3;
            cp = c & 0x0fu;
        } else if (c >= 0xf0 && c <= 0xf4) {
            len = 4;
            cp = c & 0x07u;
        } else {
            return 0;
        }
        if (n - i < len)
            return 0;
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return 0;
            cp = (cp << 6) | (s[i + k] & 0x3fu);
        }
        if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
            (cp >= 0xd800 && cp <= 0xdfff))
            return 0;
        i += len;
    }
    return 1;
}

uint64_t crdt_utf16_len(const uint8_t *s, size_t n)
{
    uint64_t units = 0;
    for (size_t i = 0; i < n; i++) {
        uint8_t c = s[i];
        if ((c & 0xc0) != 0x80) /* a lead byte or ASCII starts a code point */
            units += c >= 0xf0 ? 2 : 1;
    }
    return units;
}

size_t crdt_utf16_to_byte(const uint8_t *s, size_t n, uint64_t units, int *split)
{
    size_t i = 0;
    *split = 0;
    while (units > 0 && i < n) {
        uint8_t c = s[i];
        if (c < 0x80) {
            i++;
            units--;
        } else if (c < 0xe0) {
            i += 2;
            units--;
        } else if (c < 0xf0) {
            i += 3;
            units--;
        } else {
            if (units == 1) {
                *split = 1;
                return i;
            }
            i += 4;
            units -= 2;
        }
    }
    return i < n ? i : n;
}
