/*
 * sbuf: a growable byte/string buffer, always NUL-terminated, used to build
 * the metrics exposition text and HTTP bodies. Allocation failure is sticky:
 * once an append fails, sbuf_failed() is true and later appends do nothing,
 * so a caller can append many pieces and check once at the end.
 */
#ifndef COMMON_SBUF_H
#define COMMON_SBUF_H

#include <stdbool.h>
#include <stddef.h>

typedef struct sbuf {
    char *data; /* owned; NUL-terminated while len > 0 or after any append */
    size_t len;
    size_t cap;
    bool failed;
} sbuf;

/* An empty buffer; nothing allocated yet. Release with sbuf_free. */
void sbuf_init(sbuf *b);

/* Frees the storage and empties b (b itself is the caller's). */
void sbuf_free(sbuf *b);

/* Appends; return 0, or -1 when memory ran out (and b->failed is set). */
int sbuf_append(sbuf *b, const void *data, size_t len);
int sbuf_puts(sbuf *b, const char *s);
int sbuf_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Hands the storage to the caller (free() it) and empties b. Returns NULL
 * when an append had failed or nothing was appended. */
char *sbuf_take(sbuf *b, size_t *len);

static inline bool sbuf_failed(const sbuf *b)
{
    return b->failed;
}

#endif
