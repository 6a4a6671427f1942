/*
 * yproto: parsing and encoding of the y-websocket and Hocuspocus messages
 * with crdt/lib0's reader and buffer. See yproto.h.
 */
#include "common/yproto.h"

#include <string.h>

/* Message types; Hocuspocus numbers them the same as y-websocket up to 3. */
enum {
    T_SYNC = 0,
    T_AWARENESS = 1,
    T_AUTH = 2,
    T_QUERY_AWARENESS = 3,
    T_SYNC_REPLY = 4,
    T_STATELESS = 5,
    T_BROADCAST_STATELESS = 6,
    T_CLOSE = 7,
    T_SYNC_STATUS = 8,
};

/* Sync sub-types (y-protocols/sync) and auth sub-types (Hocuspocus). */
enum { SYNC_STEP1 = 0, SYNC_STEP2 = 1, SYNC_UPDATE = 2 };
enum { AUTH_TOKEN = 0, AUTH_DENIED = 1, AUTH_OK = 2 };
/* y-protocols/auth's only message. */
enum { YAUTH_DENIED = 0 };

static yproto_status rd_status(const crdt_rd *r)
{
    if (crdt_rd_ok(r))
        return YPROTO_OK;
    return r->err == CRDT_ERR_MALFORMED ? YPROTO_ERR_BAD_STRING : YPROTO_ERR_TRUNCATED;
}

static yproto_status parse_sync(crdt_rd *r, yproto_msg *out)
{
    uint64_t step = crdt_rd_varuint(r);
    if (!crdt_rd_ok(r))
        return YPROTO_ERR_TRUNCATED;
    switch (step) {
    case SYNC_STEP1:
        out->kind = YPROTO_SYNC_STEP1;
        break;
    case SYNC_STEP2:
        out->kind = YPROTO_SYNC_STEP2;
        break;
    case SYNC_UPDATE:
        out->kind = YPROTO_SYNC_UPDATE;
        break;
    default:
        return YPROTO_ERR_UNKNOWN_TYPE;
    }
    out->payload = crdt_rd_varbytes(r, &out->payload_len);
    return rd_status(r);
}

static yproto_status parse_string_payload(crdt_rd *r, yproto_msg *out)
{
    size_t n = 0;
    const char *s = crdt_rd_varstring(r, &n);
    out->payload = (const uint8_t *)s;
    out->payload_len = n;
    return rd_status(r);
}

static yproto_status parse_auth(crdt_rd *r, yproto_dialect dialect, yproto_msg *out)
{
    uint64_t sub = crdt_rd_varuint(r);
    if (!crdt_rd_ok(r))
        return YPROTO_ERR_TRUNCATED;
    if (dialect == YPROTO_HOCUSPOCUS && sub == AUTH_TOKEN) {
        out->kind = YPROTO_AUTH_TOKEN;
        return parse_string_payload(r, out);
    }
    /* y-websocket's permission denied, Hocuspocus' denied/authenticated:
     * server messages a client has no business sending. Read them whole so
     * trailing bytes are still caught, and let the caller ignore them. */
    bool known =
        dialect == YPROTO_HOCUSPOCUS ? (sub == AUTH_DENIED || sub == AUTH_OK) : sub == YAUTH_DENIED;
    if (!known)
        return YPROTO_ERR_UNKNOWN_TYPE;
    out->kind = YPROTO_AUTH_OTHER;
    return parse_string_payload(r, out);
}

yproto_status yproto_parse(yproto_dialect dialect, const uint8_t *data, size_t len, yproto_msg *out)
{
    memset(out, 0, sizeof *out);
    crdt_rd r;
    crdt_rd_init(&r, data, len);
    if (dialect == YPROTO_HOCUSPOCUS) {
        out->name = crdt_rd_varstring(&r, &out->name_len);
        yproto_status st = rd_status(&r);
        if (st != YPROTO_OK) {
            out->name = NULL;
            out->name_len = 0;
            return st;
        }
    }
    uint64_t type = crdt_rd_varuint(&r);
    if (!crdt_rd_ok(&r))
        return YPROTO_ERR_TRUNCATED;
    yproto_status st;
    switch (type) {
    case T_SYNC:
        st = parse_sync(&r, out);
        break;
    case T_SYNC_REPLY:
        if (dialect != YPROTO_HOCUSPOCUS)
            return YPROTO_ERR_UNKNOWN_TYPE;
        out->reply = true;
        st = parse_sync(&r, out);
        break;
    case T_AWARENESS:
        out->kind = YPROTO_AWARENESS;
        out->payload = crdt_rd_varbytes(&r, &out->payload_len);
        st = rd_status(&r);
        break;
    case T_AUTH:
        st = parse_auth(&r, dialect, out);
        break;
    case T_QUERY_AWARENESS:
        out->kind = YPROTO_QUERY_AWARENESS;
        st = YPROTO_OK;
        break;
    case T_STATELESS:
    case T_BROADCAST_STATELESS:
        if (dialect != YPROTO_HOCUSPOCUS)
            return YPROTO_ERR_UNKNOWN_TYPE;
        out->kind = type == T_STATELESS ? YPROTO_STATELESS : YPROTO_BROADCAST_STATELESS;
        st = parse_string_payload(&r, out);
        break;
    case T_CLOSE:
        if (dialect != YPROTO_HOCUSPOCUS)
            return YPROTO_ERR_UNKNOWN_TYPE;
        /* The provider sends the type alone; a reason string may follow. */
        out->kind = YPROTO_CLOSE;
        st = crdt_rd_left(&r) ? parse_string_payload(&r, out) : YPROTO_OK;
        break;
    default:
        return YPROTO_ERR_UNKNOWN_TYPE;
    }
    if (st != YPROTO_OK)
        return st;
    return crdt_rd_left(&r) == 0 ? YPROTO_OK : YPROTO_ERR_TRAILING;
}

const char *yproto_status_text(yproto_status st)
{
    switch (st) {
    case YPROTO_OK:
        return "ok";
    case YPROTO_ERR_TRUNCATED:
        return "truncated message";
    case YPROTO_ERR_UNKNOWN_TYPE:
        return "unknown message type";
    case YPROTO_ERR_TRAILING:
        return "bytes after the end of the message";
    case YPROTO_ERR_BAD_STRING:
        return "string is not UTF-8";
    }
    return "unknown status";
}

uint64_t yproto_update_client(const uint8_t *update, size_t len)
{
    /* v1 update: varUint number of client groups, then per group varUint
     * number of structs and varUint client id. */
    crdt_rd r;
    crdt_rd_init(&r, update, len);
    uint64_t groups = crdt_rd_varuint(&r);
    (void)crdt_rd_varuint(&r);
    uint64_t client = crdt_rd_varuint(&r);
    return crdt_rd_ok(&r) && groups > 0 ? client : 0;
}

static void put_head(crdt_buf *out, const char *name, uint64_t type)
{
    if (name)
        crdt_buf_varbytes(out, name, strlen(name));
    crdt_buf_varuint(out, type);
}

static void put_sync(crdt_buf *out, const char *name, uint64_t step, const uint8_t *p, size_t n)
{
    put_head(out, name, T_SYNC);
    crdt_buf_varuint(out, step);
    crdt_buf_varbytes(out, p, n);
}

void yproto_put_sync_step1(crdt_buf *out, const char *name, const uint8_t *sv, size_t len)
{
    put_sync(out, name, SYNC_STEP1, sv, len);
}

void yproto_put_sync_step2(crdt_buf *out, const char *name, const uint8_t *update, size_t len)
{
    put_sync(out, name, SYNC_STEP2, update, len);
}

void yproto_put_sync_update(crdt_buf *out, const char *name, const uint8_t *update, size_t len)
{
    put_sync(out, name, SYNC_UPDATE, update, len);
}

void yproto_put_awareness(crdt_buf *out, const char *name, const uint8_t *update, size_t len)
{
    put_head(out, name, T_AWARENESS);
    crdt_buf_varbytes(out, update, len);
}

void yproto_put_auth_denied(crdt_buf *out, const char *name, const char *reason)
{
    put_head(out, name, T_AUTH);
    crdt_buf_varuint(out, name ? AUTH_DENIED : YAUTH_DENIED);
    crdt_buf_varbytes(out, reason, strlen(reason));
}

void yproto_put_authenticated(crdt_buf *out, const char *name, bool read_only)
{
    const char *scope = read_only ? "readonly" : "read-write";
    put_head(out, name, T_AUTH);
    crdt_buf_varuint(out, AUTH_OK);
    crdt_buf_varbytes(out, scope, strlen(scope));
}

void yproto_put_sync_status(crdt_buf *out, const char *name, bool saved)
{
    put_head(out, name, T_SYNC_STATUS);
    crdt_buf_varuint(out, saved ? 1 : 0);
}

void yproto_put_stateless(crdt_buf *out, const char *name, const char *payload, size_t len)
{
    put_head(out, name, T_STATELESS);
    crdt_buf_varbytes(out, payload, len);
}

void yproto_put_close(crdt_buf *out, const char *name, const char *reason)
{
    put_head(out, name, T_CLOSE);
    crdt_buf_varbytes(out, reason, strlen(reason));
}

void yproto_put_auth_token(crdt_buf *out, const char *name, const char *token)
{
    put_head(out, name, T_AUTH);
    crdt_buf_varuint(out, AUTH_TOKEN);
    crdt_buf_varbytes(out, token, strlen(token));
}
