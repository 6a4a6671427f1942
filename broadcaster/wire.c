/*
 * wire: merged operations to reader messages, with common/ws_frame's
 * encoders and the processor's item codec. See wire.h.
 */
#include "broadcaster/wire.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/ws_frame.h"
#include "processor/item_codec.h"
#include "processor/items_json.h"

static bcmsg *from_crdt_buf(crdt_buf *b, bcmsg_kind kind, uint64_t version, int64_t ingest_us)
{
    uint8_t *bytes = NULL;
    size_t len = 0;
    if (crdt_buf_take(b, &bytes, &len) != CRDT_OK)
        return NULL;
    return bcmsg_from_buf(kind, version, ingest_us, bytes, len);
}

static char *item_json(const struct cavro_registry *reg, const uint8_t *payload, size_t len,
                       char *err, size_t err_size)
{
    items_state st;
    if (pitem_state_decode(reg, payload, len, &st, err, err_size) != 0)
        return NULL;
    json_t *j = items_state_to_json(&st);
    items_state_free(&st);
    char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (!text)
        snprintf(err, err_size, "out of memory writing the item JSON");
    return text;
}

bcmsg *bcwire_merged(const struct cavro_registry *reg, const char *kind, uint64_t version,
                     const char *op_id, int64_t ingest_time_us, const uint8_t *payload, size_t len,
                     char *err, size_t err_size)
{
    uint64_t ingest_ms = ingest_time_us > 0 ? (uint64_t)ingest_time_us / 1000 : 0;
    crdt_buf b;
    crdt_buf_init(&b);
    bcmsg *m = NULL;
    if (strcmp(kind, "YJS_UPDATE") == 0) {
        wsframe_put_merged(&b, version, op_id, ingest_ms, payload, len);
        m = from_crdt_buf(&b, BCMSG_MERGED, version, ingest_time_us);
    } else if (strcmp(kind, "ITEM_STATE") == 0 || strcmp(kind, "ITEM_CONFLICT") == 0) {
        char *json = item_json(reg, payload, len, err, err_size);
        if (!json) {
            crdt_buf_free(&b);
            return NULL;
        }
        wsframe_put_item(&b, version, op_id, ingest_ms, json);
        free(json);
        m = from_crdt_buf(&b, BCMSG_ITEM, version, ingest_time_us);
    } else {
        crdt_buf_free(&b);
        snprintf(err, err_size, "unknown merged kind %s", kind);
        return NULL;
    }
    if (!m)
        snprintf(err, err_size, "out of memory");
    return m;
}

bcmsg *bcwire_resync(const char *reason)
{
    crdt_buf b;
    crdt_buf_init(&b);
    wsframe_put_resync(&b, reason);
    return from_crdt_buf(&b, BCMSG_RESYNC, 0, 0);
}

bcmsg *bcwire_error(const char *code, const char *message)
{
    crdt_buf b;
    crdt_buf_init(&b);
    wsframe_put_error(&b, code, message);
    return from_crdt_buf(&b, BCMSG_ERROR, 0, 0);
}

bcmsg *bcwire_state(uint64_t version, const uint8_t *update, size_t len)
{
    crdt_buf b;
    crdt_buf_init(&b);
    wsframe_put_state(&b, version, update, len);
    return from_crdt_buf(&b, BCMSG_STATE, version, 0);
}

bcmsg *bcwire_synced(uint64_t version)
{
    crdt_buf b;
    crdt_buf_init(&b);
    wsframe_put_synced(&b, version);
    return from_crdt_buf(&b, BCMSG_SYNCED, version, 0);
}

bcmsg *bcwire_state_item(uint64_t version, const char *state_json, char *err, size_t err_size)
{
    json_error_t jerr;
    json_t *j = json_loads(state_json, 0, &jerr);
    if (!j) {
        snprintf(err, err_size, "stored item JSON is invalid: %s", jerr.text);
        return NULL;
    }
    char *text = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    if (!text) {
        snprintf(err, err_size, "out of memory writing the item JSON");
        return NULL;
    }
    crdt_buf b;
    crdt_buf_init(&b);
    wsframe_put_item(&b, version, "", 0, text);
    free(text);
    bcmsg *m = from_crdt_buf(&b, BCMSG_ITEM, version, 0);
    if (!m)
        snprintf(err, err_size, "out of memory");
    return m;
}

bcmsg *bcwire_awareness(const uint8_t *update, size_t len)
{
    crdt_buf b;
    crdt_buf_init(&b);
    wsframe_put_awareness(&b, update, len);
    return from_crdt_buf(&b, BCMSG_AWARENESS, 0, 0);
}
