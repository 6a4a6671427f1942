/*
 * wsc: blocking RFC 6455 client over a plain socket; see wsc.h.
 */
#define _GNU_SOURCE /* memmem */
#include "wsc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/util.h"
#include "crdt/lib0.h"

static int write_all(int fd, const void *p, size_t n)
{
    const uint8_t *b = p;
    while (n) {
        ssize_t w = send(fd, b, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        b += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Reads more bytes into the buffer, waiting up to timeout_ms. 1, 0 timeout, -1 closed. */
static int fill(wsc *c, int timeout_ms)
{
    struct pollfd p = {.fd = c->fd, .events = POLLIN};
    int n = poll(&p, 1, timeout_ms);
    if (n == 0)
        return 0;
    if (n < 0)
        return errno == EINTR ? 0 : -1;
    if (c->cap - c->len < 65536) {
        size_t cap = c->cap ? c->cap * 2 : 131072;
        while (cap - c->len < 65536)
            cap *= 2;
        uint8_t *b = realloc(c->buf, cap);
        if (!b)
            return -1;
        c->buf = b;
        c->cap = cap;
    }
    ssize_t r = recv(c->fd, c->buf + c->len, c->cap - c->len, 0);
    if (r < 0 && (errno == EINTR || errno == EAGAIN))
        return 0;
    if (r <= 0)
        return -1;
    c->len += (size_t)r;
    return 1;
}

static void consume(wsc *c, size_t n)
{
    memmove(c->buf, c->buf + n, c->len - n);
    c->len -= n;
}

wsc *wsc_connect(int port, const char *target, const char *extra_headers, int rcvbuf, int *status,
                 char *body, size_t body_size)
{
    *status = 0;
    if (body && body_size)
        body[0] = '\0';
    wsc *c = wsc_connect_begin(port, target, extra_headers, rcvbuf);
    return c && wsc_connect_end(c, status, body, body_size) == 0 ? c : NULL;
}

wsc *wsc_connect_begin(int port, const char *target, const char *extra_headers, int rcvbuf)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return NULL;
    if (rcvbuf > 0)
        (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    int one = 1;
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return NULL;
    }
    char req[16384];
    int n = snprintf(req, sizeof req,
                     "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                     "Sec-WebSocket-Version: 13\r\n%s\r\n",
                     target, port, extra_headers ? extra_headers : "");
    wsc *c = calloc(1, sizeof *c);
    if (!c || n <= 0 || (size_t)n >= sizeof req || write_all(fd, req, (size_t)n) != 0) {
        free(c);
        close(fd);
        return NULL;
    }
    c->fd = fd;
    return c;
}

/* The code of an HTTP/1.x status line ("HTTP/1.1 101 Switching Protocols"), 0 when `head`
 * does not start with one. `head` holds at least a whole response head, so every scan stops
 * at its CRLF. strtol rather than sscanf, which cannot report a number out of range. */
static int status_code(const char *head)
{
    static const char version[] = "HTTP/1.";
    if (strncmp(head, version, sizeof version - 1) != 0)
        return 0;
    const char *p = head + sizeof version - 1;
    if (*p < '0' || *p > '9')
        return 0;
    while (*p >= '0' && *p <= '9')
        p++;
    if (*p != ' ')
        return 0;
    char *end = NULL;
    long code = strtol(p + 1, &end, 10);
    if (end == p + 1 || code < 100 || code > 999)
        return 0;
    return (int)code;
}

int wsc_connect_end(wsc *c, int *status, char *body, size_t body_size)
{
    *status = 0;
    if (body && body_size)
        body[0] = '\0';
    /* Read the response head (and, for a refusal, its body). */
    int64_t deadline = util_now_ms() + 10000;
    char *end = NULL;
    while (!end) {
        int r = fill(c, 200);
        if (c->len)
            end = memmem(c->buf, c->len, "\r\n\r\n", 4);
        if (r < 0 || util_now_ms() > deadline)
            break;
    }
    if (!end) {
        wsc_close(c);
        return -1;
    }
    int code = status_code((const char *)c->buf);
    *status = code;
    size_t head = (size_t)(end - (char *)c->buf) + 4;
    if (code != 101) {
        /* Content-Length bodies are small: read until closed or timeout. */
        while (util_now_ms() < deadline && fill(c, 200) >= 0)
            if (c->len > head && memchr(c->buf + head, '}', c->len - head) &&
                ((char *)c->buf)[c->len - 1] == '}')
                break;
        if (body && body_size) {
            size_t bl = c->len - head < body_size - 1 ? c->len - head : body_size - 1;
            memcpy(body, c->buf + head, bl);
            body[bl] = '\0';
        }
        wsc_close(c);
        return -1;
    }
    consume(c, head);
    return 0;
}

void wsc_close(wsc *c)
{
    if (!c)
        return;
    if (c->fd >= 0)
        close(c->fd);
    free(c->buf);
    free(c->msg);
    free(c);
}

static int send_frame(wsc *c, uint8_t opcode, const uint8_t *data, size_t len)
{
    uint8_t head[14];
    size_t h = 0;
    head[h++] = (uint8_t)(0x80 | opcode);
    if (len < 126) {
        head[h++] = (uint8_t)(0x80 | len);
    } else if (len <= 0xffff) {
        head[h++] = 0x80 | 126;
        head[h++] = (uint8_t)(len >> 8);
        head[h++] = (uint8_t)len;
    } else {
        head[h++] = 0x80 | 127;
        for (int i = 7; i >= 0; i--)
            head[h++] = (uint8_t)((uint64_t)len >> (8 * i));
    }
    static const uint8_t mask[4] = {0x12, 0x34, 0x56, 0x78};
    memcpy(head + h, mask, 4);
    h += 4;
    uint8_t *masked = malloc(len + 1);
    if (!masked)
        return -1;
    for (size_t i = 0; i < len; i++)
        masked[i] = data[i] ^ mask[i & 3];
    int rc = write_all(c->fd, head, h) == 0 && write_all(c->fd, masked, len) == 0 ? 0 : -1;
    free(masked);
    return rc;
}

int wsc_send(wsc *c, const uint8_t *data, size_t len)
{
    return send_frame(c, 0x2, data, len);
}

/* A whole frame at the start of the buffer: its parts, or 0 when incomplete. */
static int frame_at(const wsc *c, uint8_t *opcode, bool *fin, size_t *head, uint64_t *plen)
{
    if (c->len < 2)
        return 0;
    *fin = (c->buf[0] & 0x80) != 0;
    *opcode = c->buf[0] & 0x0f;
    uint64_t l = c->buf[1] & 0x7f;
    size_t h = 2;
    if (l == 126) {
        if (c->len < 4)
            return 0;
        l = ((uint64_t)c->buf[2] << 8) | c->buf[3];
        h = 4;
    } else if (l == 127) {
        if (c->len < 10)
            return 0;
        l = 0;
        for (int i = 0; i < 8; i++)
            l = (l << 8) | c->buf[2 + i];
        h = 10;
    }
    if (c->len - h < l)
        return 0;
    *head = h;
    *plen = l;
    return 1;
}

int wsc_read(wsc *c, int timeout_ms, const uint8_t **data, size_t *len)
{
    int64_t deadline = util_now_ms() + timeout_ms;
    free(c->msg);
    c->msg = NULL;
    c->msg_len = 0;
    for (;;) {
        uint8_t op;
        bool fin;
        size_t head;
        uint64_t plen;
        while (frame_at(c, &op, &fin, &head, &plen)) {
            const uint8_t *p = c->buf + head;
            if (op == 0x8) { /* close */
                c->closed = true;
                consume(c, head + (size_t)plen);
                return -1;
            }
            if (op == 0x9) { /* ping */
                (void)send_frame(c, 0xA, p, (size_t)plen);
                consume(c, head + (size_t)plen);
                continue;
            }
            if (op == 0xA) {
                consume(c, head + (size_t)plen);
                continue;
            }
            uint8_t *m = realloc(c->msg, c->msg_len + (size_t)plen + 1);
            if (!m)
                return -1;
            c->msg = m;
            memcpy(c->msg + c->msg_len, p, (size_t)plen);
            c->msg_len += (size_t)plen;
            consume(c, head + (size_t)plen);
            if (fin) {
                *data = c->msg;
                *len = c->msg_len;
                return 1;
            }
        }
        int64_t left = deadline - util_now_ms();
        if (left <= 0)
            return 0;
        int r = fill(c, (int)left);
        if (r < 0) {
            c->closed = true;
            return -1;
        }
    }
}

bool wsc_eq(const char *s, size_t len, const char *z)
{
    return strlen(z) == len && memcmp(s, z, len) == 0;
}

int wsc_parse(const uint8_t *data, size_t len, wsc_msg *out)
{
    memset(out, 0, sizeof *out);
    crdt_rd r;
    crdt_rd_init(&r, data, len);
    out->type = crdt_rd_varuint(&r);
    switch (out->type) {
    case 1: /* AWARENESS */
        out->payload = crdt_rd_varbytes(&r, &out->payload_len);
        break;
    case 48: /* STATE */
        out->version = crdt_rd_varuint(&r);
        out->payload = crdt_rd_varbytes(&r, &out->payload_len);
        break;
    case 49: /* MERGED */
    case 50: /* ITEM */
        out->version = crdt_rd_varuint(&r);
        out->op_id = crdt_rd_varstring(&r, &out->op_id_len);
        out->ingest_ms = crdt_rd_varuint(&r);
        if (out->type == 49)
            out->payload = crdt_rd_varbytes(&r, &out->payload_len);
        else
            out->payload = (const uint8_t *)crdt_rd_varstring(&r, &out->payload_len);
        break;
    case 52: /* SYNCED */
        out->version = crdt_rd_varuint(&r);
        break;
    case 51: /* RESYNC */
        out->code = crdt_rd_varstring(&r, &out->code_len);
        break;
    case 35: /* ERROR */
        out->code = crdt_rd_varstring(&r, &out->code_len);
        (void)crdt_rd_varstring(&r, &out->payload_len);
        out->payload_len = 0;
        break;
    default:
        return -1;
    }
    return crdt_rd_ok(&r) && crdt_rd_left(&r) == 0 ? 0 : -1;
}
