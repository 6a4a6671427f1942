/*
 * client_op: validation of client operations with the crdt engine and the
 * items rules, and their Avro encoding. See client_op.h.
 */
#include "common/client_op.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/avro_records.h"
#include "crdt/crdt.h"
#include "processor/items.h"

int client_op_check_update(const uint8_t *update, size_t len, char *why, size_t why_size)
{
    crdt_options opts;
    crdt_options_init(&opts);
    /* A fixed id: the scratch document makes no edits of its own, and a
     * random one would cost a syscall per op. */
    opts.client_id = 1;
    crdt_doc *doc = NULL;
    crdt_status st = crdt_doc_new(&opts, &doc);
    if (st == CRDT_OK) {
        crdt_apply_result res;
        st = crdt_apply_update(doc, update, len, &res);
        crdt_doc_free(doc);
    }
    if (st != CRDT_OK) {
        snprintf(why, why_size, "the Yjs update was rejected: %s", crdt_strerror(st));
        return -1;
    }
    return 0;
}

static client_op_result check_item(const wsframe_msg *msg, char *item_id, char *why,
                                   size_t why_size)
{
    if (msg->item_id_len == 0 || msg->item_id_len > ITEMS_MAX_ID_BYTES) {
        snprintf(why, why_size, "item id must be 1-%u bytes", ITEMS_MAX_ID_BYTES);
        return CLIENT_OP_INVALID_ITEM;
    }
    memcpy(item_id, msg->item_id, msg->item_id_len);
    item_id[msg->item_id_len] = '\0';
    if (strlen(item_id) != msg->item_id_len || items_check_item_id(item_id) != ITEMS_OK) {
        snprintf(why, why_size, "item id must be UTF-8 without control characters");
        return CLIENT_OP_INVALID_ITEM;
    }
    if (msg->payload_len > ITEMS_MAX_VALUE_BYTES) {
        snprintf(why, why_size, "item value is larger than %zu bytes", ITEMS_MAX_VALUE_BYTES);
        return CLIENT_OP_INVALID_ITEM;
    }
    if (msg->clock_count == 0) {
        snprintf(why, why_size, "an item write needs a non-empty clock");
        return CLIENT_OP_INVALID_ITEM;
    }
    for (size_t i = 0; i < msg->clock_count; i++) {
        if (msg->clock[i].client_id > (uint64_t)INT64_MAX ||
            msg->clock[i].counter > (uint64_t)INT64_MAX) {
            snprintf(why, why_size, "clock entry out of range");
            return CLIENT_OP_INVALID_ITEM;
        }
    }
    return CLIENT_OP_OK;
}

client_op_result client_op_encode(const client_op_context *ctx, const wsframe_msg *msg,
                                  int64_t ingest_time_us, uint8_t **out, size_t *out_len, char *why,
                                  size_t why_size)
{
    char err[256];
    char op_id[WSFRAME_OP_ID_MAX + 1];
    memcpy(op_id, msg->op_id, msg->op_id_len);
    op_id[msg->op_id_len] = '\0';
    if (msg->client_id > (uint64_t)INT64_MAX || msg->client_time_ms > (uint64_t)INT64_MAX / 1000) {
        snprintf(why, why_size, "client id or client time out of range");
        return msg->type == WSFRAME_UPDATE ? CLIENT_OP_INVALID_UPDATE : CLIENT_OP_INVALID_ITEM;
    }

    struct cavro_client_op rec;
    memset(&rec, 0, sizeof rec);
    rec.doc_id = (char *)ctx->doc_id;
    rec.op_id = op_id;
    rec.client_id = (int64_t)msg->client_id;
    rec.user_id = (char *)ctx->user_id;
    rec.client_time_us = (int64_t)msg->client_time_ms * 1000;
    rec.ingest_time_us = ingest_time_us;
    rec.ingest_node = (char *)ctx->node;

    uint8_t *item_bytes = NULL;
    struct cavro_clock_entry *entries = NULL;
    client_op_result result = CLIENT_OP_OK;
    if (msg->type == WSFRAME_UPDATE) {
        if (client_op_check_update(msg->payload, msg->payload_len, why, why_size) != 0)
            return CLIENT_OP_INVALID_UPDATE;
        rec.kind = CAVRO_OP_YJS_UPDATE;
        rec.payload.data = (uint8_t *)msg->payload;
        rec.payload.len = msg->payload_len;
    } else {
        char item_id[ITEMS_MAX_ID_BYTES + 1];
        result = check_item(msg, item_id, why, why_size);
        if (result != CLIENT_OP_OK)
            return result;
        entries = calloc(msg->clock_count, sizeof *entries);
        if (!entries)
            return CLIENT_OP_INTERNAL;
        for (size_t i = 0; i < msg->clock_count; i++) {
            entries[i].client_id = (int64_t)msg->clock[i].client_id;
            entries[i].counter = (int64_t)msg->clock[i].counter;
        }
        struct cavro_item_op item = {
            .item_id = item_id,
            .value = {(uint8_t *)msg->payload, msg->payload_len},
            .clock = {entries, msg->clock_count},
            .time_ms = (int64_t)msg->client_time_ms,
            .client_id = (int64_t)msg->client_id,
        };
        size_t item_len = 0;
        enum cavro_status cs = msg->type == WSFRAME_ITEM_WRITE
                                   ? cavro_item_write_encode(ctx->registry, &item, &item_bytes,
                                                             &item_len, err, sizeof err)
                                   : cavro_item_resolve_encode(ctx->registry, &item, &item_bytes,
                                                               &item_len, err, sizeof err);
        if (cs != CAVRO_OK) {
            snprintf(why, why_size, "item rejected: %s", err);
            free(entries);
            return cs == CAVRO_ERR_INVALID_VALUE ? CLIENT_OP_INVALID_ITEM : CLIENT_OP_INTERNAL;
        }
        rec.kind = msg->type == WSFRAME_ITEM_WRITE ? CAVRO_OP_ITEM_WRITE : CAVRO_OP_ITEM_RESOLVE;
        rec.payload.data = item_bytes;
        rec.payload.len = item_len;
        rec.version_vector.entries = entries;
        rec.version_vector.count = msg->clock_count;
    }

    enum cavro_status cs =
        cavro_client_op_encode(ctx->registry, &rec, out, out_len, err, sizeof err);
    if (cs != CAVRO_OK) {
        snprintf(why, why_size, "cannot encode the operation: %s", err);
        result = CLIENT_OP_INTERNAL;
    }
    free(item_bytes);
    free(entries);
    return result;
}
