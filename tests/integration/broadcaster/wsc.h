/*
 * wsc: a small blocking WebSocket client for the broadcaster's tests and
 * benchmark. It speaks just enough RFC 6455 to be a reader: the upgrade
 * (with a path, query and optional extra header), server frames of any
 * size, masked client frames, close. Hand-written rather than lws' client
 * because the tests need control lws does not give: a reader that stops
 * reading at the socket level with a tiny receive buffer (the slow
 * consumer), the raw HTTP status of a refused upgrade, and a benchmark
 * reader cheap enough to run 10,000 of on one core.
 * Parsing of the protocol's reader messages (docs/protocol.md) is here too.
 * Prefix: wsc_.
 */
#ifndef TESTS_BROADCASTER_WSC_H
#define TESTS_BROADCASTER_WSC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct wsc {
    int fd;
    uint8_t *buf; /* received bytes not yet consumed */
    size_t len, cap;
    uint8_t *msg; /* the last message returned by wsc_read (owned) */
    size_t msg_len;
    bool closed;
} wsc;

/*
 * Connects to 127.0.0.1:port and upgrades on `target` (for example "/v1/documents/d/read?since=3").
 * extra_headers: NULL or "Name: value\r\n..." lines. rcvbuf > 0 shrinks the
 * socket's receive buffer first. Returns the client, or NULL with *status set
 * to the HTTP status of a refusal (0 when the connection failed) and the
 * response body copied into body (may be NULL).
 */
wsc *wsc_connect(int port, const char *target, const char *extra_headers, int rcvbuf, int *status,
                 char *body, size_t body_size);
void wsc_close(wsc *c);

/* wsc_connect in two halves, so that many upgrades can be in flight at once
 * (the benchmark): _begin connects and sends the request (NULL on failure);
 * _end reads the answer: 0 on 101, else -1 with *status and body set as
 * wsc_connect does, and c freed. */
wsc *wsc_connect_begin(int port, const char *target, const char *extra_headers, int rcvbuf);
int wsc_connect_end(wsc *c, int *status, char *body, size_t body_size);

/* Reads the next data message within timeout_ms: 1 with data and len set (valid
 * until the next call), 0 on timeout, -1 when the server closed or the
 * connection failed. Pings are answered, text messages returned like binary. */
int wsc_read(wsc *c, int timeout_ms, const uint8_t **data, size_t *len);

/* Sends one masked binary message. 0 or -1. */
int wsc_send(wsc *c, const uint8_t *data, size_t len);

/* A reader message, parsed (pointers into the message). */
typedef struct wsc_msg {
    uint64_t type;
    uint64_t version;  /* STATE, MERGED, ITEM, SYNCED */
    const char *op_id; /* MERGED/ITEM; not NUL-terminated */
    size_t op_id_len;
    uint64_t ingest_ms;
    const uint8_t *payload; /* STATE/MERGED: update; ITEM: JSON; AWARENESS: update */
    size_t payload_len;
    const char *code; /* ERROR: code; RESYNC: reason */
    size_t code_len;
} wsc_msg;

/* 0, or -1 when the message is malformed. */
int wsc_parse(const uint8_t *data, size_t len, wsc_msg *out);

/* True when the (not NUL-terminated) s of len bytes equals z. */
bool wsc_eq(const char *s, size_t len, const char *z);

#endif
