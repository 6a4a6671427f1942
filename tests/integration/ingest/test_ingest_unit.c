/*
 * Server-free tests of ingest's logic and the shared WebSocket helpers: the
 * client protocol codec (common/ws_frame), document paths and the error
 * shape (common/ws_http), bearer tokens in the subprotocol header
 * (common/ws_auth), the token bucket, awareness update reading, and the
 * validation + Avro encoding of operations (ingest/ops), decoded back with
 * the registry. Label unit: no servers needed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "common/avro_records.h"
#include "common/avro_registry.h"
#include "common/awareness.h"
#include "common/client_op.h"
#include "common/ws_auth.h"
#include "common/ws_frame.h"
#include "common/ws_http.h"
#include "crdt/crdt.h"
#include "ingest/ratelimit.h"

/* Encodes a frame into a malloc'd buffer (caller frees). */
static uint8_t *take(crdt_buf *b, size_t *len)
{
    uint8_t *out = NULL;
    assert_int_equal(crdt_buf_take(b, &out, len), CRDT_OK);
    return out;
}

static void test_frame_update_roundtrip(void **state)
{
    wsframe_msg *msg = *state;
    const uint8_t update[] = {0, 0};
    crdt_buf b;
    crdt_buf_init(&b);
    wsframe_put_update(&b, "op-1", 42, 1700000000000ULL, update, sizeof update);
    size_t len;
    uint8_t *data = take(&b, &len);
    assert_int_equal(wsframe_parse(data, len, msg), WSFRAME_OK);
    assert_int_equal(msg->type, WSFRAME_UPDATE);
    assert_int_equal(msg->op_id_len, 4);
    assert_memory_equal(msg->op_id, "op-1", 4);
    assert_int_equal(msg->client_id, 42);
    assert_int_equal(msg->client_time_ms, 1700000000000ULL);
    assert_int_equal(msg->payload_len, 2);

    /* Every prefix is truncated; one byte more is trailing. */
    for (size_t cut = 0; cut < len; cut++)
        assert_int_equal(wsframe_parse(data, cut, msg), WSFRAME_ERR_TRUNCATED);
    uint8_t *longer = malloc(len + 1);
    memcpy(longer, data, len);
    longer[len] = 0;
    assert_int_equal(wsframe_parse(longer, len + 1, msg), WSFRAME_ERR_TRAILING);
    free(longer);
    free(data);
}

static void test_frame_item_clock_rules(void **state)
{
    wsframe_msg *msg = *state;
    struct {
        wsframe_clock_entry clock[3];
        size_t count;
        wsframe_status want;
    } cases[] = {
        {{{1, 1}, {5, 2}}, 2, WSFRAME_OK},
        {{{5, 1}, {1, 2}}, 2, WSFRAME_ERR_BAD_CLOCK}, /* unsorted */
        {{{1, 1}, {1, 2}}, 2, WSFRAME_ERR_BAD_CLOCK}, /* repeated */
        {{{1, 0}}, 1, WSFRAME_ERR_BAD_CLOCK},         /* zero counter */
        {{{0}}, 0, WSFRAME_OK},                       /* empty: ingest/ops refuses it */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        crdt_buf b;
        crdt_buf_init(&b);
        wsframe_put_item_op(&b, WSFRAME_ITEM_WRITE, "w", 3, 4, "title", (const uint8_t *)"v", 1,
                            cases[i].clock, cases[i].count);
        size_t len;
        uint8_t *data = take(&b, &len);
        assert_int_equal(wsframe_parse(data, len, msg), cases[i].want);
        /* The op id is known even for a bad clock, so it can be NACKed. */
        assert_int_equal(msg->op_id_len, 1);
        assert_int_equal(msg->clock_count, cases[i].count);
        free(data);
    }
}

static void test_frame_malformed(void **state)
{
    wsframe_msg *msg = *state;
    const uint8_t unknown[] = {99};
    assert_int_equal(wsframe_parse(unknown, 1, msg), WSFRAME_ERR_UNKNOWN_TYPE);
    const uint8_t server_type[] = {WSFRAME_ACK, 0};
    assert_int_equal(wsframe_parse(server_type, 2, msg), WSFRAME_ERR_UNKNOWN_TYPE);
    assert_int_equal(wsframe_parse(unknown, 0, msg), WSFRAME_ERR_TRUNCATED);
    /* op id: empty, non-printable, 65 bytes. */
    const uint8_t empty_op[] = {WSFRAME_UPDATE, 0, 1, 1, 2, 0, 0};
    assert_int_equal(wsframe_parse(empty_op, sizeof empty_op, msg), WSFRAME_ERR_BAD_OP_ID);
    const uint8_t space_op[] = {WSFRAME_UPDATE, 1, ' ', 1, 1, 2, 0, 0};
    assert_int_equal(wsframe_parse(space_op, sizeof space_op, msg), WSFRAME_ERR_BAD_OP_ID);
    char long_id[66];
    memset(long_id, 'a', 65);
    long_id[65] = '\0';
    crdt_buf b;
    crdt_buf_init(&b);
    wsframe_put_update(&b, long_id, 1, 1, (const uint8_t *)"\0\0", 2);
    size_t len;
    uint8_t *data = take(&b, &len);
    assert_int_equal(wsframe_parse(data, len, msg), WSFRAME_ERR_BAD_OP_ID);
    free(data);
    /* Invalid UTF-8 in the item id. */
    const uint8_t bad_utf8[] = {WSFRAME_ITEM_WRITE, 1, 'x', 1, 1, 1, 0xff, 0, 0};
    assert_int_equal(wsframe_parse(bad_utf8, sizeof bad_utf8, msg), WSFRAME_ERR_BAD_STRING);
}

static void test_frame_peek_oversized_head(void **state)
{
    (void)state;
    crdt_buf b;
    crdt_buf_init(&b);
    uint8_t big[300];
    memset(big, 7, sizeof big);
    wsframe_put_update(&b, "big-op", 1, 1, big, sizeof big);
    size_t len;
    uint8_t *data = take(&b, &len);
    wsframe_type type;
    const char *op;
    size_t op_len;
    /* Only the head of the message is kept; the op id is still readable. */
    assert_int_equal(wsframe_peek_op(data, 64, &type, &op, &op_len), 0);
    assert_int_equal(type, WSFRAME_UPDATE);
    assert_int_equal(op_len, 6);
    assert_memory_equal(op, "big-op", 6);
    free(data);
}

static void test_server_frames(void **state)
{
    (void)state;
    crdt_buf b;
    crdt_buf_init(&b);
    wsframe_put_nack(&b, "o", 1, "rate_limited", "slow down", 1000);
    size_t len;
    uint8_t *data = take(&b, &len);
    const uint8_t want[] = {34,  1,   'o', 12,  'r', 'a', 't', 'e', '_', 'l', 'i', 'm', 'i',  't',
                            'e', 'd', 9,   's', 'l', 'o', 'w', ' ', 'd', 'o', 'w', 'n', 0xe8, 0x07};
    assert_int_equal(len, sizeof want);
    assert_memory_equal(data, want, sizeof want);
    free(data);
}

static void test_doc_paths_and_errors(void **state)
{
    (void)state;
    char id[129];
    assert_true(wshttp_match_doc_path("/v1/documents/ab.c~_-9/write", "/write", id, sizeof id));
    assert_string_equal(id, "ab.c~_-9");
    assert_false(wshttp_match_doc_path("/v1/documents//write", "/write", id, sizeof id));
    assert_false(wshttp_match_doc_path("/v1/documents/a b/write", "/write", id, sizeof id));
    assert_false(wshttp_match_doc_path("/v1/documents/a/read", "/write", id, sizeof id));
    assert_false(wshttp_match_doc_path("/v1/documents/a/write/x", "/write", id, sizeof id));
    assert_true(wshttp_match_doc_path("/v1/documents/a", "", id, sizeof id));
    char long_id[200];
    memset(long_id, 'a', sizeof long_id);
    strcpy(long_id, "/v1/documents/");
    memset(long_id + 14, 'a', 129);
    long_id[14 + 129] = '\0';
    assert_false(wshttp_match_doc_path(long_id, "", id, sizeof id));

    size_t len;
    char *body = wshttp_error_json("not_found", "no \"such\" document", &len);
    json_error_t err;
    json_t *root = json_loads(body, 0, &err);
    assert_non_null(root);
    assert_string_equal(json_string_value(json_object_get(json_object_get(root, "error"), "code")),
                        "not_found");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(root, "error"), "message")),
        "no \"such\" document");
    json_decref(root);
    free(body);
}

static void test_bearer_subprotocol(void **state)
{
    (void)state;
    size_t n = 0;
    const char *t = wsauth_find_bearer_protocol("collab.v1, bearer.abc.def.ghi", &n);
    assert_non_null(t);
    assert_int_equal(n, 11);
    assert_memory_equal(t, "abc.def.ghi", 11);
    assert_null(wsauth_find_bearer_protocol("collab.v1", &n));
    assert_null(wsauth_find_bearer_protocol("bearer.", &n));
    t = wsauth_find_bearer_protocol("bearer.x ,collab.v1", &n);
    assert_non_null(t);
    assert_int_equal(n, 1);
    assert_memory_equal(t, "x", 1);
}

static void test_bucket(void **state)
{
    (void)state;
    ingest_bucket b;
    const int64_t s = 1000000000LL;
    ingest_bucket_init(&b, 10, 10, 0);
    for (int i = 0; i < 10; i++)
        assert_true(ingest_bucket_take(&b, 0));
    assert_false(ingest_bucket_take(&b, 0));
    assert_false(ingest_bucket_take(&b, s / 20)); /* half a token back */
    assert_true(ingest_bucket_take(&b, s / 10));
    /* A long pause refills only up to the burst. */
    int allowed = 0;
    for (int i = 0; i < 100; i++)
        allowed += ingest_bucket_take(&b, 100 * s);
    assert_int_equal(allowed, 10);
}

static void test_awareness_tracking(void **state)
{
    (void)state;
    crdt_buf b;
    crdt_buf_init(&b);
    crdt_buf_varuint(&b, 2);
    crdt_buf_varuint(&b, 777);
    crdt_buf_varuint(&b, 3);
    crdt_buf_varbytes(&b, "{\"a\":1}", 7);
    crdt_buf_varuint(&b, 9);
    crdt_buf_varuint(&b, 1);
    crdt_buf_varbytes(&b, "{}", 2);
    size_t len;
    uint8_t *update = take(&b, &len);
    assert_int_equal(awareness_valid(update, len), 0);
    assert_int_equal(awareness_valid(update, len - 1), -1);
    crdt_buf bad;
    crdt_buf_init(&bad);
    crdt_buf_varuint(&bad, 1);
    crdt_buf_varuint(&bad, 1);
    crdt_buf_varuint(&bad, 1);
    crdt_buf_varbytes(&bad, "{not json", 9);
    size_t bad_len;
    uint8_t *bad_update = take(&bad, &bad_len);
    assert_int_equal(awareness_valid(bad_update, bad_len), -1);
    free(bad_update);

    awareness_tracker t;
    memset(&t, 0, sizeof t);
    awareness_track(&t, update, len);
    assert_int_equal(t.count, 2);
    free(update);

    /* Client 9 leaves by itself: no longer tracked. */
    crdt_buf_init(&b);
    crdt_buf_varuint(&b, 1);
    crdt_buf_varuint(&b, 9);
    crdt_buf_varuint(&b, 2);
    crdt_buf_varbytes(&b, "null", 4);
    update = take(&b, &len);
    awareness_track(&t, update, len);
    free(update);
    assert_int_equal(t.count, 1);

    crdt_buf_init(&b);
    assert_int_equal(awareness_removal(&t, &b), 1);
    update = take(&b, &len);
    const uint8_t want[] = {1, 0x89, 0x06, 4, 4, 'n', 'u', 'l', 'l'};
    assert_int_equal(len, sizeof want);
    assert_memory_equal(update, want, sizeof want);
    free(update);
}

static void test_ops_encode(void **state)
{
    wsframe_msg *msg = *state;
    struct cavro_registry *reg = NULL;
    char err[256];
    assert_int_equal(cavro_registry_new_builtin(&reg, err, sizeof err), CAVRO_OK);
    client_op_context ctx = {reg, "doc-1", "0123456789abcdef0123456789abcdef", "node-1"};

    /* A real update from the engine. */
    crdt_doc *doc = NULL;
    assert_int_equal(crdt_doc_new(NULL, &doc), CRDT_OK);
    uint8_t *update = NULL;
    size_t update_len = 0;
    assert_int_equal(crdt_text_insert(doc, "t", 0, "hi", 2, NULL, &update, &update_len), CRDT_OK);
    crdt_doc_free(doc);
    crdt_buf b;
    crdt_buf_init(&b);
    wsframe_put_update(&b, "op-7", 99, 1234, update, update_len);
    size_t len;
    uint8_t *frame = take(&b, &len);
    assert_int_equal(wsframe_parse(frame, len, msg), WSFRAME_OK);
    uint8_t *value = NULL;
    size_t value_len = 0;
    char why[256];
    assert_int_equal(client_op_encode(&ctx, msg, 5555, &value, &value_len, why, sizeof why),
                     CLIENT_OP_OK);
    struct cavro_client_op rec;
    memset(&rec, 0, sizeof rec);
    assert_int_equal(cavro_client_op_decode(reg, value, value_len, &rec, err, sizeof err),
                     CAVRO_OK);
    assert_string_equal(rec.doc_id, "doc-1");
    assert_string_equal(rec.op_id, "op-7");
    assert_int_equal(rec.client_id, 99);
    assert_int_equal(rec.kind, CAVRO_OP_YJS_UPDATE);
    assert_int_equal(rec.client_time_us, 1234000);
    assert_int_equal(rec.ingest_time_us, 5555);
    assert_string_equal(rec.ingest_node, "node-1");
    assert_int_equal(rec.payload.len, update_len);
    assert_memory_equal(rec.payload.data, update, update_len);
    cavro_client_op_clear(&rec);
    free(value);
    free(frame);

    /* A corrupted update is refused by the engine. */
    update[update_len - 1] ^= 0xff;
    update[1] = 0x7f;
    crdt_buf_init(&b);
    wsframe_put_update(&b, "op-8", 99, 1234, update, update_len);
    frame = take(&b, &len);
    assert_int_equal(wsframe_parse(frame, len, msg), WSFRAME_OK);
    value = NULL;
    assert_int_equal(client_op_encode(&ctx, msg, 5555, &value, &value_len, why, sizeof why),
                     CLIENT_OP_INVALID_UPDATE);
    assert_null(value);
    free(frame);
    free(update);

    /* Items: a valid write encodes ItemWrite in the payload; an empty clock
     * or a control character in the id is refused. */
    wsframe_clock_entry clock[] = {{3, 1}};
    crdt_buf_init(&b);
    wsframe_put_item_op(&b, WSFRAME_ITEM_WRITE, "i-1", 3, 10, "title", (const uint8_t *)"v", 1,
                        clock, 1);
    frame = take(&b, &len);
    assert_int_equal(wsframe_parse(frame, len, msg), WSFRAME_OK);
    assert_int_equal(client_op_encode(&ctx, msg, 1, &value, &value_len, why, sizeof why),
                     CLIENT_OP_OK);
    memset(&rec, 0, sizeof rec);
    assert_int_equal(cavro_client_op_decode(reg, value, value_len, &rec, err, sizeof err),
                     CAVRO_OK);
    assert_int_equal(rec.kind, CAVRO_OP_ITEM_WRITE);
    assert_int_equal(rec.version_vector.count, 1);
    struct cavro_item_op item;
    memset(&item, 0, sizeof item);
    assert_int_equal(
        cavro_item_write_decode(reg, rec.payload.data, rec.payload.len, &item, err, sizeof err),
        CAVRO_OK);
    assert_string_equal(item.item_id, "title");
    assert_int_equal(item.clock.count, 1);
    assert_int_equal(item.clock.entries[0].client_id, 3);
    cavro_item_op_clear(&item);
    cavro_client_op_clear(&rec);
    free(value);
    free(frame);

    crdt_buf_init(&b);
    wsframe_put_item_op(&b, WSFRAME_ITEM_WRITE, "i-2", 3, 10, "title", (const uint8_t *)"v", 1,
                        clock, 0);
    frame = take(&b, &len);
    assert_int_equal(wsframe_parse(frame, len, msg), WSFRAME_OK);
    value = NULL;
    assert_int_equal(client_op_encode(&ctx, msg, 1, &value, &value_len, why, sizeof why),
                     CLIENT_OP_INVALID_ITEM);
    assert_null(value);
    free(frame);

    crdt_buf_init(&b);
    wsframe_put_item_op(&b, WSFRAME_ITEM_WRITE, "i-3", 3, 10, "a\tb", (const uint8_t *)"v", 1,
                        clock, 1);
    frame = take(&b, &len);
    assert_int_equal(wsframe_parse(frame, len, msg), WSFRAME_OK);
    assert_int_equal(client_op_encode(&ctx, msg, 1, &value, &value_len, why, sizeof why),
                     CLIENT_OP_INVALID_ITEM);
    free(frame);
    cavro_registry_free(reg);
}

/* The parse target is 16 KiB: one per test, on the heap. */
static int alloc_msg(void **state)
{
    *state = calloc(1, sizeof(wsframe_msg));
    return *state ? 0 : -1;
}

static int free_msg(void **state)
{
    free(*state);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_frame_update_roundtrip, alloc_msg, free_msg),
        cmocka_unit_test_setup_teardown(test_frame_item_clock_rules, alloc_msg, free_msg),
        cmocka_unit_test_setup_teardown(test_frame_malformed, alloc_msg, free_msg),
        cmocka_unit_test_setup_teardown(test_frame_peek_oversized_head, alloc_msg, free_msg),
        cmocka_unit_test_setup_teardown(test_server_frames, alloc_msg, free_msg),
        cmocka_unit_test_setup_teardown(test_doc_paths_and_errors, alloc_msg, free_msg),
        cmocka_unit_test_setup_teardown(test_bearer_subprotocol, alloc_msg, free_msg),
        cmocka_unit_test_setup_teardown(test_bucket, alloc_msg, free_msg),
        cmocka_unit_test_setup_teardown(test_awareness_tracking, alloc_msg, free_msg),
        cmocka_unit_test_setup_teardown(test_ops_encode, alloc_msg, free_msg),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
