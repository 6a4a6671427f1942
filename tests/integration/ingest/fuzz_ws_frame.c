/*
 * libFuzzer target for the code that reads hostile client bytes first:
 * the client protocol parser (common/ws_frame), the oversized-message peek,
 * the awareness update reader and tracker (ingest/awareness), and the op
 * validation + Avro encoding (ingest/ops) of whatever parses. Checks that an
 * operation that parses, encoded again, parses to the same fields. Seeds:
 * fuzz-corpus/.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/avro_registry.h"
#include "common/awareness.h"
#include "common/client_op.h"
#include "common/ws_frame.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A parsed operation, encoded again and parsed back, must say the same. */
static void roundtrip(const wsframe_msg *m)
{
    char op_id[WSFRAME_OP_ID_MAX + 1];
    memcpy(op_id, m->op_id, m->op_id_len);
    op_id[m->op_id_len] = '\0';
    char *item = calloc(1, m->item_id_len + 1);
    wsframe_msg *again = malloc(sizeof *again);
    if (!item || !again)
        abort();
    if (m->item_id_len)
        memcpy(item, m->item_id, m->item_id_len);
    crdt_buf b;
    crdt_buf_init(&b);
    if (m->type == WSFRAME_UPDATE)
        wsframe_put_update(&b, op_id, m->client_id, m->client_time_ms, m->payload, m->payload_len);
    else
        wsframe_put_item_op(&b, m->type, op_id, m->client_id, m->client_time_ms, item, m->payload,
                            m->payload_len, m->clock, m->clock_count);
    /* An item id with an embedded NUL cannot be re-encoded from a C string. */
    if (strlen(item) == m->item_id_len) {
        if (b.oom || wsframe_parse(b.data, b.len, again) != WSFRAME_OK)
            abort();
        if (again->type != m->type || again->op_id_len != m->op_id_len ||
            memcmp(again->op_id, m->op_id, m->op_id_len) != 0 || again->client_id != m->client_id ||
            again->client_time_ms != m->client_time_ms || again->payload_len != m->payload_len ||
            (m->payload_len && memcmp(again->payload, m->payload, m->payload_len) != 0) ||
            again->item_id_len != m->item_id_len || again->clock_count != m->clock_count ||
            (m->clock_count &&
             memcmp(again->clock, m->clock, m->clock_count * sizeof m->clock[0]) != 0))
            abort();
    }
    crdt_buf_free(&b);
    free(again);
    free(item);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct cavro_registry *reg;
    if (!reg) {
        char err[256];
        if (cavro_registry_new_builtin(&reg, err, sizeof err) != CAVRO_OK)
            abort();
    }
    wsframe_msg *m = malloc(sizeof *m);
    if (!m)
        abort();
    wsframe_type type;
    const char *op;
    size_t op_len;
    (void)wsframe_peek_op(data, size, &type, &op, &op_len);
    wsframe_status st = wsframe_parse(data, size, m);
    if (st == WSFRAME_OK && m->type == WSFRAME_AWARENESS) {
        awareness_tracker t;
        memset(&t, 0, sizeof t);
        if (awareness_valid(m->payload, m->payload_len) == 0)
            awareness_track(&t, m->payload, m->payload_len);
        crdt_buf b;
        crdt_buf_init(&b);
        awareness_removal(&t, &b);
        crdt_buf_free(&b);
    } else if (st == WSFRAME_OK) {
        roundtrip(m);
        client_op_context ctx = {reg, "doc", "0123456789abcdef0123456789abcdef", "fuzz"};
        uint8_t *out = NULL;
        size_t out_len = 0;
        char why[256];
        if (client_op_encode(&ctx, m, 1, &out, &out_len, why, sizeof why) == CLIENT_OP_OK)
            free(out);
    }
    free(m);
    return 0;
}
