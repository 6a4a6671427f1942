/*
 * Unit tests of common/yproto: the y-websocket and Hocuspocus messages the
 * edge parses and sends. Client messages are the bytes the real providers
 * send (y-websocket 3, @hocuspocus/provider 3); server messages are checked
 * byte for byte, and every malformed shape gets its own status.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/yproto.h"

static yproto_status parse(yproto_dialect d, const uint8_t *bytes, size_t n, yproto_msg *m)
{
    return yproto_parse(d, bytes, n, m);
}

/* The bytes b holds, compared with want, then freed. */
static void assert_buf(crdt_buf *b, const uint8_t *want, size_t want_len)
{
    uint8_t *got = NULL;
    size_t got_len = 0;
    assert_int_equal(crdt_buf_take(b, &got, &got_len), CRDT_OK);
    assert_int_equal(got_len, want_len);
    assert_memory_equal(got, want, want_len);
    crdt_buf_free(b);
    free(got);
}

static void test_ywebsocket_client_messages(void **state)
{
    (void)state;
    yproto_msg m;
    /* Sync step 1 of an empty Y.Doc: its state vector is one 0. */
    static const uint8_t step1[] = {0, 0, 1, 0};
    assert_int_equal(parse(YPROTO_YWEBSOCKET, step1, sizeof step1, &m), YPROTO_OK);
    assert_int_equal(m.kind, YPROTO_SYNC_STEP1);
    assert_null(m.name);
    assert_int_equal(m.payload_len, 1);
    assert_ptr_equal(m.payload, step1 + 3); /* borrowed from the input */

    static const uint8_t step2[] = {0, 1, 2, 0, 0};
    assert_int_equal(parse(YPROTO_YWEBSOCKET, step2, sizeof step2, &m), YPROTO_OK);
    assert_int_equal(m.kind, YPROTO_SYNC_STEP2);
    assert_int_equal(m.payload_len, 2);
    assert_false(m.reply);

    static const uint8_t update[] = {0, 2, 3, 1, 2, 3};
    assert_int_equal(parse(YPROTO_YWEBSOCKET, update, sizeof update, &m), YPROTO_OK);
    assert_int_equal(m.kind, YPROTO_SYNC_UPDATE);
    assert_memory_equal(m.payload, update + 3, 3);

    static const uint8_t awareness[] = {1, 2, 9, 9};
    assert_int_equal(parse(YPROTO_YWEBSOCKET, awareness, sizeof awareness, &m), YPROTO_OK);
    assert_int_equal(m.kind, YPROTO_AWARENESS);
    assert_int_equal(m.payload_len, 2);

    static const uint8_t query[] = {3};
    assert_int_equal(parse(YPROTO_YWEBSOCKET, query, sizeof query, &m), YPROTO_OK);
    assert_int_equal(m.kind, YPROTO_QUERY_AWARENESS);

    /* y-protocols' permission denied, which a client never sends: parsed
     * whole so the edge can ignore it. */
    static const uint8_t denied[] = {2, 0, 1, 'x'};
    assert_int_equal(parse(YPROTO_YWEBSOCKET, denied, sizeof denied, &m), YPROTO_OK);
    assert_int_equal(m.kind, YPROTO_AUTH_OTHER);
}

static void test_hocuspocus_client_messages(void **state)
{
    (void)state;
    yproto_msg m;
    static const uint8_t auth[] = {3, 'd', 'o', 'c', 2, 0, 3, 'j', 'w', 't'};
    assert_int_equal(parse(YPROTO_HOCUSPOCUS, auth, sizeof auth, &m), YPROTO_OK);
    assert_int_equal(m.kind, YPROTO_AUTH_TOKEN);
    assert_int_equal(m.name_len, 3);
    assert_memory_equal(m.name, "doc", 3);
    assert_int_equal(m.payload_len, 3);
    assert_memory_equal(m.payload, "jwt", 3);

    /* A sync reply (type 4) answers our step 1: a step 2 marked reply. */
    static const uint8_t reply[] = {1, 'a', 4, 1, 2, 0, 0};
    assert_int_equal(parse(YPROTO_HOCUSPOCUS, reply, sizeof reply, &m), YPROTO_OK);
    assert_int_equal(m.kind, YPROTO_SYNC_STEP2);
    assert_true(m.reply);

    static const uint8_t stateless[] = {1, 'a', 5, 2, '{', '}'};
    assert_int_equal(parse(YPROTO_HOCUSPOCUS, stateless, sizeof stateless, &m), YPROTO_OK);
    assert_int_equal(m.kind, YPROTO_STATELESS);
    assert_memory_equal(m.payload, "{}", 2);

    static const uint8_t broadcast[] = {1, 'a', 6, 1, 'x'};
    assert_int_equal(parse(YPROTO_HOCUSPOCUS, broadcast, sizeof broadcast, &m), YPROTO_OK);
    assert_int_equal(m.kind, YPROTO_BROADCAST_STATELESS);

    /* The provider sends close with no reason; a reason may follow. */
    static const uint8_t close_bare[] = {1, 'a', 7};
    assert_int_equal(parse(YPROTO_HOCUSPOCUS, close_bare, sizeof close_bare, &m), YPROTO_OK);
    assert_int_equal(m.kind, YPROTO_CLOSE);
    assert_int_equal(m.payload_len, 0);
    static const uint8_t close_reason[] = {1, 'a', 7, 2, 'b', 'y'};
    assert_int_equal(parse(YPROTO_HOCUSPOCUS, close_reason, sizeof close_reason, &m), YPROTO_OK);
    assert_int_equal(m.payload_len, 2);

    /* A document name with multi-byte UTF-8 ("é"). */
    static const uint8_t utf8[] = {2, 0xc3, 0xa9, 3};
    assert_int_equal(parse(YPROTO_HOCUSPOCUS, utf8, sizeof utf8, &m), YPROTO_OK);
    assert_int_equal(m.name_len, 2);
}

static void test_malformed(void **state)
{
    (void)state;
    yproto_msg m;
    static const uint8_t empty[] = {0};
    assert_int_equal(parse(YPROTO_YWEBSOCKET, empty, 0, &m), YPROTO_ERR_TRUNCATED);

    static const uint8_t short_bytes[] = {0, 0, 5, 1};
    assert_int_equal(parse(YPROTO_YWEBSOCKET, short_bytes, sizeof short_bytes, &m),
                     YPROTO_ERR_TRUNCATED);

    static const uint8_t no_step[] = {0};
    assert_int_equal(parse(YPROTO_YWEBSOCKET, no_step, sizeof no_step, &m), YPROTO_ERR_TRUNCATED);

    static const uint8_t trailing[] = {3, 0};
    assert_int_equal(parse(YPROTO_YWEBSOCKET, trailing, sizeof trailing, &m), YPROTO_ERR_TRAILING);
    static const uint8_t trailing_sync[] = {0, 0, 1, 0, 7};
    assert_int_equal(parse(YPROTO_YWEBSOCKET, trailing_sync, sizeof trailing_sync, &m),
                     YPROTO_ERR_TRAILING);

    static const uint8_t bad_step[] = {0, 3, 0};
    assert_int_equal(parse(YPROTO_YWEBSOCKET, bad_step, sizeof bad_step, &m),
                     YPROTO_ERR_UNKNOWN_TYPE);
    static const uint8_t bad_type[] = {9};
    assert_int_equal(parse(YPROTO_YWEBSOCKET, bad_type, sizeof bad_type, &m),
                     YPROTO_ERR_UNKNOWN_TYPE);

    /* Hocuspocus-only types are unknown to y-websocket. */
    static const uint8_t yws_reply[] = {4, 0, 1, 0};
    assert_int_equal(parse(YPROTO_YWEBSOCKET, yws_reply, sizeof yws_reply, &m),
                     YPROTO_ERR_UNKNOWN_TYPE);
    static const uint8_t yws_stateless[] = {5, 1, 'x'};
    assert_int_equal(parse(YPROTO_YWEBSOCKET, yws_stateless, sizeof yws_stateless, &m),
                     YPROTO_ERR_UNKNOWN_TYPE);
    static const uint8_t yws_close[] = {7};
    assert_int_equal(parse(YPROTO_YWEBSOCKET, yws_close, sizeof yws_close, &m),
                     YPROTO_ERR_UNKNOWN_TYPE);
    /* y-websocket's auth has no token sub-type. */
    static const uint8_t yws_token[] = {2, 2, 1, 'x'};
    assert_int_equal(parse(YPROTO_YWEBSOCKET, yws_token, sizeof yws_token, &m),
                     YPROTO_ERR_UNKNOWN_TYPE);

    /* A name that is not UTF-8: no name reported. */
    static const uint8_t bad_name[] = {2, 0xff, 0xfe, 3};
    assert_int_equal(parse(YPROTO_HOCUSPOCUS, bad_name, sizeof bad_name, &m),
                     YPROTO_ERR_BAD_STRING);
    assert_null(m.name);
    /* A name longer than the message. */
    static const uint8_t long_name[] = {9, 'a'};
    assert_int_equal(parse(YPROTO_HOCUSPOCUS, long_name, sizeof long_name, &m),
                     YPROTO_ERR_TRUNCATED);
    assert_null(m.name);

    /* A bad token string: the name is still reported, for the answer. */
    static const uint8_t bad_token[] = {1, 'a', 2, 0, 1, 0xff};
    assert_int_equal(parse(YPROTO_HOCUSPOCUS, bad_token, sizeof bad_token, &m),
                     YPROTO_ERR_BAD_STRING);
    assert_non_null(m.name);
    assert_int_equal(m.name_len, 1);
    static const uint8_t bad_auth[] = {1, 'a', 2, 9};
    assert_int_equal(parse(YPROTO_HOCUSPOCUS, bad_auth, sizeof bad_auth, &m),
                     YPROTO_ERR_UNKNOWN_TYPE);

    for (int st = YPROTO_OK; st <= YPROTO_ERR_BAD_STRING; st++)
        assert_true(strlen(yproto_status_text((yproto_status)st)) > 0);
}

static void test_update_client(void **state)
{
    (void)state;
    /* One group of one struct by client 133 (varUint 0x85 0x01). */
    static const uint8_t update[] = {1, 1, 0x85, 0x01, 0, 4};
    assert_int_equal(yproto_update_client(update, sizeof update), 133);
    static const uint8_t none[] = {0, 0};
    assert_int_equal(yproto_update_client(none, sizeof none), 0);
    assert_int_equal(yproto_update_client(update, 3), 0); /* cut in the client id */
    assert_int_equal(yproto_update_client(NULL, 0), 0);
}

static void test_server_messages(void **state)
{
    (void)state;
    crdt_buf b;
    static const uint8_t sv[] = {0};

    crdt_buf_init(&b);
    yproto_put_sync_step1(&b, NULL, sv, sizeof sv);
    static const uint8_t yws_step1[] = {0, 0, 1, 0};
    assert_buf(&b, yws_step1, sizeof yws_step1);

    crdt_buf_init(&b);
    yproto_put_sync_step2(&b, "d", sv, sizeof sv);
    static const uint8_t hp_step2[] = {1, 'd', 0, 1, 1, 0};
    assert_buf(&b, hp_step2, sizeof hp_step2);

    crdt_buf_init(&b);
    yproto_put_sync_update(&b, NULL, sv, sizeof sv);
    static const uint8_t yws_update[] = {0, 2, 1, 0};
    assert_buf(&b, yws_update, sizeof yws_update);

    crdt_buf_init(&b);
    yproto_put_awareness(&b, "d", sv, sizeof sv);
    static const uint8_t hp_awareness[] = {1, 'd', 1, 1, 0};
    assert_buf(&b, hp_awareness, sizeof hp_awareness);

    crdt_buf_init(&b);
    yproto_put_auth_denied(&b, NULL, "no");
    static const uint8_t yws_denied[] = {2, 0, 2, 'n', 'o'};
    assert_buf(&b, yws_denied, sizeof yws_denied);

    crdt_buf_init(&b);
    yproto_put_auth_denied(&b, "d", "no");
    static const uint8_t hp_denied[] = {1, 'd', 2, 1, 2, 'n', 'o'};
    assert_buf(&b, hp_denied, sizeof hp_denied);

    crdt_buf_init(&b);
    yproto_put_authenticated(&b, "d", true);
    static const uint8_t hp_readonly[] = {1, 'd', 2, 2, 8, 'r', 'e', 'a', 'd', 'o', 'n', 'l', 'y'};
    assert_buf(&b, hp_readonly, sizeof hp_readonly);

    crdt_buf_init(&b);
    yproto_put_sync_status(&b, "d", true);
    static const uint8_t hp_saved[] = {1, 'd', 8, 1};
    assert_buf(&b, hp_saved, sizeof hp_saved);

    crdt_buf_init(&b);
    yproto_put_stateless(&b, "d", "{}", 2);
    static const uint8_t hp_stateless[] = {1, 'd', 5, 2, '{', '}'};
    assert_buf(&b, hp_stateless, sizeof hp_stateless);

    crdt_buf_init(&b);
    yproto_put_close(&b, "d", "x");
    static const uint8_t hp_close[] = {1, 'd', 7, 1, 'x'};
    assert_buf(&b, hp_close, sizeof hp_close);
}

/* What a client encoder writes, the parser reads back. */
static void test_client_roundtrip(void **state)
{
    (void)state;
    crdt_buf b;
    crdt_buf_init(&b);
    yproto_put_auth_token(&b, "notes", "a.b.c");
    uint8_t *bytes = NULL;
    size_t n = 0;
    assert_int_equal(crdt_buf_take(&b, &bytes, &n), CRDT_OK);
    crdt_buf_free(&b);
    yproto_msg m;
    assert_int_equal(yproto_parse(YPROTO_HOCUSPOCUS, bytes, n, &m), YPROTO_OK);
    assert_int_equal(m.kind, YPROTO_AUTH_TOKEN);
    assert_memory_equal(m.name, "notes", 5);
    assert_memory_equal(m.payload, "a.b.c", 5);
    free(bytes);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ywebsocket_client_messages),
        cmocka_unit_test(test_hocuspocus_client_messages),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_update_client),
        cmocka_unit_test(test_server_messages),
        cmocka_unit_test(test_client_roundtrip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
