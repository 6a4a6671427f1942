/*
 * ws_frame: the binary messages of the client protocol (docs/protocol.md),
 * shared by ingest (write connections) and the broadcaster (read
 * connections). Parsing of what clients send (AWARENESS, UPDATE, ITEM_WRITE,
 * ITEM_RESOLVE) and encoding of what servers send (HELLO, ACK, NACK, ERROR,
 * STATE, MERGED, ITEM, RESYNC, AWARENESS). The lib0 primitives (varUint,
 * varString, varBytes) are crdt/lib0.h's, so client frames and Yjs updates
 * are read by one implementation.
 *
 * Parsing borrows: every pointer in a parsed wsframe_msg points into the
 * caller's input, which must outlive the message; nothing is allocated.
 * Encoding appends to a crdt_buf (crdt/lib0.h) that the caller owns and
 * frees (crdt_buf_free, or crdt_buf_take to keep the bytes).
 * No state: any thread. Prefix: wsframe_.
 */
#ifndef COMMON_WS_FRAME_H
#define COMMON_WS_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "crdt/lib0.h"

/* Message types (the first varUint of every message). */
typedef enum wsframe_type {
    WSFRAME_AWARENESS = 1,
    WSFRAME_UPDATE = 16,
    WSFRAME_ITEM_WRITE = 17,
    WSFRAME_ITEM_RESOLVE = 18,
    WSFRAME_HELLO = 32,
    WSFRAME_ACK = 33,
    WSFRAME_NACK = 34,
    WSFRAME_ERROR = 35,
    WSFRAME_STATE = 48,
    WSFRAME_MERGED = 49,
    WSFRAME_ITEM = 50,
    WSFRAME_RESYNC = 51,
    WSFRAME_SYNCED = 52,
} wsframe_type;

/* Limits of docs/protocol.md. */
#define WSFRAME_OP_ID_MAX  64
#define WSFRAME_CLOCK_MAX  1024
#define WSFRAME_DOC_ID_MAX 128

typedef struct wsframe_clock_entry {
    uint64_t client_id;
    uint64_t counter;
} wsframe_clock_entry;

/* A parsed client message. Which fields are set depends on type:
 *   AWARENESS:    payload (the y-protocols awareness update)
 *   UPDATE:       op_id, client_id, client_time_ms, payload (Yjs update v1)
 *   ITEM_WRITE / ITEM_RESOLVE: op_id, client_id, client_time_ms, item_id,
 *                 payload (the value), clock */
typedef struct wsframe_msg {
    wsframe_type type;
    const char *op_id; /* not NUL-terminated: op_id_len bytes */
    size_t op_id_len;
    uint64_t client_id;
    uint64_t client_time_ms;
    const uint8_t *payload;
    size_t payload_len;
    const char *item_id; /* not NUL-terminated */
    size_t item_id_len;
    size_t clock_count;
    wsframe_clock_entry clock[WSFRAME_CLOCK_MAX];
} wsframe_msg;

typedef enum wsframe_status {
    WSFRAME_OK = 0,
    /* Malformed: answered with ERROR bad_frame and a close. */
    WSFRAME_ERR_TRUNCATED,    /* ended in the middle of a field */
    WSFRAME_ERR_UNKNOWN_TYPE, /* a type clients may not send */
    WSFRAME_ERR_TRAILING,     /* bytes left after the last field */
    WSFRAME_ERR_BAD_STRING,   /* a varString that is not UTF-8 */
    WSFRAME_ERR_BAD_OP_ID,    /* op id empty, longer than 64 bytes or not printable ASCII */
    /* Well-framed but invalid item content: NACK invalid_item (the op id is known). */
    WSFRAME_ERR_BAD_CLOCK, /* more than 1024 entries, unsorted/repeated ids, zero counter */
} wsframe_status;

/*
 * Parses one client message of len bytes. WSFRAME_OK fills *out. For
 * WSFRAME_ERR_BAD_CLOCK the message is otherwise complete and out->op_id is
 * set, so the caller can NACK it; for other errors nothing in *out is
 * meaningful except out->type (0 when even the type was unreadable) and,
 * when it was read before the failure, out->op_id (op_id_len > 0).
 */
wsframe_status wsframe_parse(const uint8_t *data, size_t len, wsframe_msg *out);

/* Reads only the type and, for operations, the op id of a message that may be
 * cut short (the head of an oversized message). Returns 0 and sets *type
 * (and *op_id / *op_id_len, 0 length when the type has none), or -1. */
int wsframe_peek_op(const uint8_t *data, size_t len, wsframe_type *type, const char **op_id,
                    size_t *op_id_len);

/* A stable name of a parse status, for logs and ERROR messages. */
const char *wsframe_status_text(wsframe_status st);

/* True when s[0..len) is a valid op id (1..64 bytes of printable ASCII). */
int wsframe_op_id_valid(const char *s, size_t len);

/* True when s[0..len) is a valid document id (1..128 of [A-Za-z0-9._~-]). */
int wsframe_doc_id_valid(const char *s, size_t len);

/*
 * Encoders: append one whole message to out. Strings are NUL-terminated
 * UTF-8, except where a length is given. Errors (out of memory) are sticky in
 * out (crdt_buf.oom) and reported by crdt_buf_take.
 */
void wsframe_put_hello(crdt_buf *out, const char *connection_id, uint64_t max_message_bytes,
                       uint64_t max_ops_per_second);
void wsframe_put_ack(crdt_buf *out, const char *op_id, size_t op_id_len, uint64_t partition,
                     uint64_t offset);
void wsframe_put_nack(crdt_buf *out, const char *op_id, size_t op_id_len, const char *code,
                      const char *message, uint64_t retry_after_ms);
void wsframe_put_error(crdt_buf *out, const char *code, const char *message);
void wsframe_put_awareness(crdt_buf *out, const uint8_t *update, size_t len);
void wsframe_put_state(crdt_buf *out, uint64_t version, const uint8_t *update, size_t len);
void wsframe_put_merged(crdt_buf *out, uint64_t version, const char *op_id, uint64_t ingest_time_ms,
                        const uint8_t *update, size_t len);
void wsframe_put_item(crdt_buf *out, uint64_t version, const char *op_id, uint64_t ingest_time_ms,
                      const char *item_json);
void wsframe_put_resync(crdt_buf *out, const char *reason);
/* SYNCED: the reader has everything up to version (after its STATE and
 * items, a ?since= replay, or a RESYNC). */
void wsframe_put_synced(crdt_buf *out, uint64_t version);

/* Client-side encoders (tests, load generator, tools). */
void wsframe_put_update(crdt_buf *out, const char *op_id, uint64_t client_id,
                        uint64_t client_time_ms, const uint8_t *update, size_t len);
void wsframe_put_item_op(crdt_buf *out, wsframe_type type, const char *op_id, uint64_t client_id,
                         uint64_t client_time_ms, const char *item_id, const uint8_t *value,
                         size_t value_len, const wsframe_clock_entry *clock, size_t clock_count);

#endif
