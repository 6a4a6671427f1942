/*
 * ws_frame: parsing and encoding of the client protocol's binary messages
 * (docs/protocol.md) on top of crdt/lib0.h's readers and writers. See
 * ws_frame.h.
 */
#include "common/ws_frame.h"

#include <string.h>

int wsframe_op_id_valid(const char *s, size_t len)
{
    if (len == 0 || len > WSFRAME_OP_ID_MAX)
        return 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x21 || c > 0x7e)
            return 0;
    }
    return 1;
}

int wsframe_doc_id_valid(const char *s, size_t len)
{
    if (len == 0 || len > WSFRAME_DOC_ID_MAX)
        return 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        int ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                 c == '.' || c == '_' || c == '~' || c == '-';
        if (!ok)
            return 0;
    }
    return 1;
}

static wsframe_status reader_status(const crdt_rd *r)
{
    return r->err == CRDT_ERR_TRUNCATED ? WSFRAME_ERR_TRUNCATED : WSFRAME_ERR_BAD_STRING;
}

/* Reads a varString into (*s, *len); returns WSFRAME_OK or why not. */
static wsframe_status read_string(crdt_rd *r, const char **s, size_t *len)
{
    *s = crdt_rd_varstring(r, len);
    if (!crdt_rd_ok(r))
        return reader_status(r);
    return WSFRAME_OK;
}

/* op id, client id and client time: the head every operation shares. */
static wsframe_status read_op_head(crdt_rd *r, wsframe_msg *out)
{
    wsframe_status st = read_string(r, &out->op_id, &out->op_id_len);
    if (st != WSFRAME_OK) {
        out->op_id_len = 0;
        return st;
    }
    if (!wsframe_op_id_valid(out->op_id, out->op_id_len)) {
        out->op_id_len = 0;
        return WSFRAME_ERR_BAD_OP_ID;
    }
    out->client_id = crdt_rd_varuint(r);
    out->client_time_ms = crdt_rd_varuint(r);
    return crdt_rd_ok(r) ? WSFRAME_OK : reader_status(r);
}

/* Reads the clock; a structurally complete but invalid clock is reported
 * after the whole clock was read, so the caller still sees trailing bytes. */
static wsframe_status read_clock(crdt_rd *r, wsframe_msg *out)
{
    uint64_t n = crdt_rd_varuint(r);
    if (!crdt_rd_ok(r))
        return reader_status(r);
    int invalid = n > WSFRAME_CLOCK_MAX;
    uint64_t prev = 0;
    out->clock_count = 0;
    for (uint64_t i = 0; i < n; i++) {
        uint64_t id = crdt_rd_varuint(r);
        uint64_t counter = crdt_rd_varuint(r);
        if (!crdt_rd_ok(r))
            return reader_status(r);
        if ((i > 0 && id <= prev) || counter == 0)
            invalid = 1;
        prev = id;
        if (out->clock_count < WSFRAME_CLOCK_MAX) {
            out->clock[out->clock_count].client_id = id;
            out->clock[out->clock_count].counter = counter;
            out->clock_count++;
        }
    }
    return invalid ? WSFRAME_ERR_BAD_CLOCK : WSFRAME_OK;
}

wsframe_status wsframe_parse(const uint8_t *data, size_t len, wsframe_msg *out)
{
    out->type = 0;
    out->op_id = NULL;
    out->op_id_len = 0;
    out->payload = NULL;
    out->payload_len = 0;
    out->item_id = NULL;
    out->item_id_len = 0;
    out->clock_count = 0;
    out->client_id = 0;
    out->client_time_ms = 0;

    crdt_rd r;
    crdt_rd_init(&r, data, len);
    uint64_t type = crdt_rd_varuint(&r);
    if (!crdt_rd_ok(&r))
        return WSFRAME_ERR_TRUNCATED;
    wsframe_status st = WSFRAME_OK;
    switch (type) {
    case WSFRAME_AWARENESS:
        out->type = WSFRAME_AWARENESS;
        out->payload = crdt_rd_varbytes(&r, &out->payload_len);
        if (!crdt_rd_ok(&r))
            return reader_status(&r);
        break;
    case WSFRAME_UPDATE:
        out->type = WSFRAME_UPDATE;
        st = read_op_head(&r, out);
        if (st != WSFRAME_OK)
            return st;
        out->payload = crdt_rd_varbytes(&r, &out->payload_len);
        if (!crdt_rd_ok(&r))
            return reader_status(&r);
        break;
    case WSFRAME_ITEM_WRITE:
    case WSFRAME_ITEM_RESOLVE:
        out->type = (wsframe_type)type;
        st = read_op_head(&r, out);
        if (st != WSFRAME_OK)
            return st;
        st = read_string(&r, &out->item_id, &out->item_id_len);
        if (st != WSFRAME_OK)
            return st;
        out->payload = crdt_rd_varbytes(&r, &out->payload_len);
        if (!crdt_rd_ok(&r))
            return reader_status(&r);
        st = read_clock(&r, out);
        if (st != WSFRAME_OK && st != WSFRAME_ERR_BAD_CLOCK)
            return st;
        break;
    default:
        return WSFRAME_ERR_UNKNOWN_TYPE;
    }
    if (crdt_rd_left(&r) != 0)
        return WSFRAME_ERR_TRAILING;
    return st;
}

int wsframe_peek_op(const uint8_t *data, size_t len, wsframe_type *type, const char **op_id,
                    size_t *op_id_len)
{
    crdt_rd r;
    crdt_rd_init(&r, data, len);
    uint64_t t = crdt_rd_varuint(&r);
    if (!crdt_rd_ok(&r))
        return -1;
    *type = (wsframe_type)t;
    *op_id = NULL;
    *op_id_len = 0;
    if (t != WSFRAME_UPDATE && t != WSFRAME_ITEM_WRITE && t != WSFRAME_ITEM_RESOLVE)
        return t == WSFRAME_AWARENESS ? 0 : -1;
    size_t n = 0;
    const char *s = crdt_rd_varstring(&r, &n);
    if (!crdt_rd_ok(&r) || !wsframe_op_id_valid(s, n))
        return -1;
    *op_id = s;
    *op_id_len = n;
    return 0;
}

const char *wsframe_status_text(wsframe_status st)
{
    switch (st) {
    case WSFRAME_OK:
        return "ok";
    case WSFRAME_ERR_TRUNCATED:
        return "message ends in the middle of a field";
    case WSFRAME_ERR_UNKNOWN_TYPE:
        return "unknown message type";
    case WSFRAME_ERR_TRAILING:
        return "bytes left after the last field";
    case WSFRAME_ERR_BAD_STRING:
        return "a string is not valid UTF-8";
    case WSFRAME_ERR_BAD_OP_ID:
        return "op id must be 1-64 bytes of printable ASCII";
    case WSFRAME_ERR_BAD_CLOCK:
        return "clock must have at most 1024 entries sorted by client id, no zero counter";
    }
    return "unknown status";
}

static void put_string_n(crdt_buf *out, const char *s, size_t len)
{
    crdt_buf_varbytes(out, s, len);
}

static void put_string(crdt_buf *out, const char *s)
{
    put_string_n(out, s, strlen(s));
}

void wsframe_put_hello(crdt_buf *out, const char *connection_id, uint64_t max_message_bytes,
                       uint64_t max_ops_per_second)
{
    crdt_buf_varuint(out, WSFRAME_HELLO);
    put_string(out, connection_id);
    crdt_buf_varuint(out, max_message_bytes);
    crdt_buf_varuint(out, max_ops_per_second);
}

void wsframe_put_ack(crdt_buf *out, const char *op_id, size_t op_id_len, uint64_t partition,
                     uint64_t offset)
{
    crdt_buf_varuint(out, WSFRAME_ACK);
    put_string_n(out, op_id, op_id_len);
    crdt_buf_varuint(out, partition);
    crdt_buf_varuint(out, offset);
}

void wsframe_put_nack(crdt_buf *out, const char *op_id, size_t op_id_len, const char *code,
                      const char *message, uint64_t retry_after_ms)
{
    crdt_buf_varuint(out, WSFRAME_NACK);
    put_string_n(out, op_id, op_id_len);
    put_string(out, code);
    put_string(out, message);
    crdt_buf_varuint(out, retry_after_ms);
}

void wsframe_put_error(crdt_buf *out, const char *code, const char *message)
{
    crdt_buf_varuint(out, WSFRAME_ERROR);
    put_string(out, code);
    put_string(out, message);
}

void wsframe_put_awareness(crdt_buf *out, const uint8_t *update, size_t len)
{
    crdt_buf_varuint(out, WSFRAME_AWARENESS);
    crdt_buf_varbytes(out, update, len);
}

void wsframe_put_state(crdt_buf *out, uint64_t version, const uint8_t *update, size_t len)
{
    crdt_buf_varuint(out, WSFRAME_STATE);
    crdt_buf_varuint(out, version);
    crdt_buf_varbytes(out, update, len);
}

void wsframe_put_merged(crdt_buf *out, uint64_t version, const char *op_id, uint64_t ingest_time_ms,
                        const uint8_t *update, size_t len)
{
    crdt_buf_varuint(out, WSFRAME_MERGED);
    crdt_buf_varuint(out, version);
    put_string(out, op_id);
    crdt_buf_varuint(out, ingest_time_ms);
    crdt_buf_varbytes(out, update, len);
}

void wsframe_put_item(crdt_buf *out, uint64_t version, const char *op_id, uint64_t ingest_time_ms,
                      const char *item_json)
{
    crdt_buf_varuint(out, WSFRAME_ITEM);
    crdt_buf_varuint(out, version);
    put_string(out, op_id);
    crdt_buf_varuint(out, ingest_time_ms);
    put_string(out, item_json);
}

void wsframe_put_resync(crdt_buf *out, const char *reason)
{
    crdt_buf_varuint(out, WSFRAME_RESYNC);
    put_string(out, reason);
}

void wsframe_put_synced(crdt_buf *out, uint64_t version)
{
    crdt_buf_varuint(out, WSFRAME_SYNCED);
    crdt_buf_varuint(out, version);
}

void wsframe_put_update(crdt_buf *out, const char *op_id, uint64_t client_id,
                        uint64_t client_time_ms, const uint8_t *update, size_t len)
{
    crdt_buf_varuint(out, WSFRAME_UPDATE);
    put_string(out, op_id);
    crdt_buf_varuint(out, client_id);
    crdt_buf_varuint(out, client_time_ms);
    crdt_buf_varbytes(out, update, len);
}

void wsframe_put_item_op(crdt_buf *out, wsframe_type type, const char *op_id, uint64_t client_id,
                         uint64_t client_time_ms, const char *item_id, const uint8_t *value,
                         size_t value_len, const wsframe_clock_entry *clock, size_t clock_count)
{
    crdt_buf_varuint(out, (uint64_t)type);
    put_string(out, op_id);
    crdt_buf_varuint(out, client_id);
    crdt_buf_varuint(out, client_time_ms);
    put_string(out, item_id);
    crdt_buf_varbytes(out, value, value_len);
    crdt_buf_varuint(out, clock_count);
    for (size_t i = 0; i < clock_count; i++) {
        crdt_buf_varuint(out, clock[i].client_id);
        crdt_buf_varuint(out, clock[i].counter);
    }
}
