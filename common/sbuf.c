/*
 * sbuf: growable NUL-terminated buffer with sticky allocation failure.
 * See sbuf.h.
 */
#include "common/sbuf.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void sbuf_init(sbuf *b)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->failed = false;
}

void sbuf_free(sbuf *b)
{
    free(b->data);
    sbuf_init(b);
}

static int sbuf_reserve(sbuf *b, size_t extra)
{
    if (b->failed)
        return -1;
    if (extra > SIZE_MAX - b->len - 1) {
        b->failed = true;
        return -1;
    }
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    char *grown = realloc(b->data, cap);
    if (!grown) {
        b->failed = true;
        return -1;
    }
    b->data = grown;
    b->cap = cap;
    return 0;
}

int sbuf_append(sbuf *b, const void *data, size_t len)
{
    if (sbuf_reserve(b, len) != 0)
        return -1;
    if (len)
        memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
    return 0;
}

int sbuf_puts(sbuf *b, const char *s)
{
    return sbuf_append(b, s, strlen(s));
}

/* clang 14's analyzer takes a va_copy'd or restarted va_list for an
 * uninitialised one; both uses here follow va_start. */
// NOLINTBEGIN(clang-analyzer-valist.Uninitialized)
int sbuf_printf(sbuf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->failed = true;
        return -1;
    }
    if (sbuf_reserve(b, (size_t)n) != 0)
        return -1;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}
// NOLINTEND(clang-analyzer-valist.Uninitialized)

char *sbuf_take(sbuf *b, size_t *len)
{
    if (b->failed || !b->data) {
        sbuf_free(b);
        if (len)
            *len = 0;
        return NULL;
    }
    char *out = b->data;
    if (len)
        *len = b->len;
    sbuf_init(b);
    return out;
}
