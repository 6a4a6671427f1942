/*
 * yproto: the messages stock Yjs providers speak, so that an edge can serve
 * them unchanged (docs/protocol.md, "Stock Yjs providers"):
 *   - y-websocket (WebsocketProvider): one document per socket; a message is
 *     varUint type (0 sync, 1 awareness, 2 auth, 3 query awareness) and its
 *     body; a sync body is varUint step (0 step 1, 1 step 2, 2 update) and
 *     varBytes (a state vector, or a Yjs v1 update).
 *   - Hocuspocus (HocuspocusProvider): many documents on one socket; every
 *     message starts with varString document name, then the same types
 *     plus 4 sync reply, 5 stateless, 6 broadcast stateless, 7 close and
 *     8 sync status; auth bodies are varUint 0 token + varString, 1
 *     permission denied + reason, 2 authenticated + scope.
 * Parsing borrows (every pointer in a yproto_msg points into the input,
 * which must outlive it) and is strict: a message with bytes after its last
 * field, an unknown type or sub-type, or a string that is not UTF-8 is
 * malformed. Encoders append one whole message to a crdt_buf the caller owns
 * (errors are sticky in it, as crdt/lib0.h says); `name` is the Hocuspocus
 * document name, NULL for y-websocket. No state: any thread.
 * Prefix: yproto_.
 */
#ifndef COMMON_YPROTO_H
#define COMMON_YPROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crdt/lib0.h"

typedef enum yproto_dialect {
    YPROTO_YWEBSOCKET, /* no document name in messages */
    YPROTO_HOCUSPOCUS, /* varString document name first */
} yproto_dialect;

/* What a client message asks for. */
typedef enum yproto_kind {
    YPROTO_SYNC_STEP1,          /* payload: the client's encoded state vector */
    YPROTO_SYNC_STEP2,          /* payload: a Yjs v1 update (what the server lacks) */
    YPROTO_SYNC_UPDATE,         /* payload: a Yjs v1 update */
    YPROTO_AWARENESS,           /* payload: a y-protocols awareness update */
    YPROTO_QUERY_AWARENESS,     /* no payload */
    YPROTO_AUTH_TOKEN,          /* Hocuspocus: payload is the token (a string) */
    YPROTO_AUTH_OTHER,          /* an auth message clients do not send (ignored) */
    YPROTO_STATELESS,           /* Hocuspocus: payload is the string */
    YPROTO_BROADCAST_STATELESS, /* Hocuspocus: payload is the string */
    YPROTO_CLOSE,               /* Hocuspocus: the provider leaves the document */
} yproto_kind;

typedef struct yproto_msg {
    yproto_kind kind;
    const char *name; /* Hocuspocus document name (not NUL-terminated), else NULL */
    size_t name_len;
    const uint8_t *payload;
    size_t payload_len;
    bool reply; /* a Hocuspocus sync reply (type 4): answer a step 1 without our own step 1 */
} yproto_msg;

typedef enum yproto_status {
    YPROTO_OK = 0,
    YPROTO_ERR_TRUNCATED,    /* ended in the middle of a field */
    YPROTO_ERR_UNKNOWN_TYPE, /* a message or sync type this protocol does not have */
    YPROTO_ERR_TRAILING,     /* bytes after the last field */
    YPROTO_ERR_BAD_STRING,   /* a name or string that is not UTF-8 */
} yproto_status;

/* Parses one client message of len bytes into *out. On an error, out->name
 * is still set when the Hocuspocus document name could be read (so the
 * answer can name the document); everything else in *out is meaningless. */
yproto_status yproto_parse(yproto_dialect dialect, const uint8_t *data, size_t len,
                           yproto_msg *out);

/* A stable name of a parse status, for logs and close reasons. Static. */
const char *yproto_status_text(yproto_status st);

/* The first client id of a Yjs v1 update (the writer of its first struct
 * group), or 0 when it has none or is malformed. Cheap: reads two varUints. */
uint64_t yproto_update_client(const uint8_t *update, size_t len);

/* ---- encoders: what a server sends ---- */

void yproto_put_sync_step1(crdt_buf *out, const char *name, const uint8_t *sv, size_t len);
void yproto_put_sync_step2(crdt_buf *out, const char *name, const uint8_t *update, size_t len);
void yproto_put_sync_update(crdt_buf *out, const char *name, const uint8_t *update, size_t len);
void yproto_put_awareness(crdt_buf *out, const char *name, const uint8_t *update, size_t len);
/* Auth permission denied: y-websocket's y-protocols auth message (type 2,
 * 0, reason), or Hocuspocus' (name, 2, 1, reason). */
void yproto_put_auth_denied(crdt_buf *out, const char *name, const char *reason);
/* Hocuspocus only: authenticated, scope "read-write" or "readonly". */
void yproto_put_authenticated(crdt_buf *out, const char *name, bool read_only);
/* Hocuspocus only: sync status (the provider's unsynced-changes count goes
 * down by one for each saved = true). */
void yproto_put_sync_status(crdt_buf *out, const char *name, bool saved);
void yproto_put_stateless(crdt_buf *out, const char *name, const char *payload, size_t len);
/* Hocuspocus only: the server closes one document of the socket. */
void yproto_put_close(crdt_buf *out, const char *name, const char *reason);

/* ---- encoders: what a client sends (tests, load generators) ---- */

void yproto_put_auth_token(crdt_buf *out, const char *name, const char *token);

#endif
