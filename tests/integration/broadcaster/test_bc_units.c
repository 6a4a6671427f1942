/*
 * Unit (no servers): the broadcaster's small pure parts - WebSocket frame
 * headers at the length boundaries and framed batches read back, the shared
 * message queue (references, order, bytes), the string map, and the
 * presence roster (newer clocks win, null removes, stale entries dropped),
 * and the SYNCED and state-item messages read back with the test client's
 * parser.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "broadcaster/msg.h"
#include "broadcaster/roster.h"
#include "broadcaster/wire.h"
#include "common/strmap.h"
#include "crdt/lib0.h"
#include "wsc.h"

static void test_frame_headers(void **state)
{
    (void)state;
    const size_t lens[] = {0, 125, 126, 65535, 65536, 1u << 20};
    const size_t heads[] = {2, 2, 4, 4, 10, 10};
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        uint8_t h[10];
        assert_int_equal(bcmsg_frame_header(h, lens[i]), heads[i]);
        assert_int_equal(bcmsg_frame_header_size(lens[i]), heads[i]);
        assert_int_equal(h[0], 0x82); /* FIN + binary, never masked */
        uint64_t got = h[1] & 0x7f;
        if (got == 126) {
            got = ((uint64_t)h[2] << 8) | h[3];
        } else if (got == 127) {
            got = 0;
            for (int k = 0; k < 8; k++)
                got = (got << 8) | h[2 + k];
        }
        assert_int_equal(got, lens[i]);
    }
}

static void test_queue_frames_in_order_and_shares(void **state)
{
    (void)state;
    bcqueue q = {0};
    bcmsg *small = bcmsg_new(BCMSG_MERGED, 1, 0, (const uint8_t *)"abc", 3);
    uint8_t big_payload[300];
    memset(big_payload, 'z', sizeof big_payload);
    bcmsg *big = bcmsg_new(BCMSG_MERGED, 2, 0, big_payload, sizeof big_payload);
    for (int i = 0; i < 40; i++) /* beyond the first ring size: growth keeps order */
        assert_int_equal(bcqueue_push(&q, i % 2 ? big : small), 0);
    assert_int_equal(q.count, 40);
    assert_int_equal(q.bytes, 20 * 3 + 20 * 300);
    assert_int_equal(small->refs, 21); /* shared, not copied */

    /* Room for exactly the first three messages: 5 + 304 + 5 bytes. */
    uint8_t out[320];
    bcmsg *sent[8];
    size_t n = 0;
    size_t used = bcqueue_frame(&q, out, 314, sent, 8, &n);
    assert_int_equal(used, 314);
    assert_int_equal(n, 3);
    assert_ptr_equal(sent[0], small);
    assert_ptr_equal(sent[1], big);
    assert_memory_equal(out,
                        "\x82\x03"
                        "abc",
                        5);
    assert_int_equal(out[5], 0x82);
    assert_int_equal(out[6], 126);
    assert_int_equal((out[7] << 8) | out[8], 300);
    assert_memory_equal(out + 309,
                        "\x82\x03"
                        "abc",
                        5);
    for (size_t i = 0; i < n; i++)
        bcmsg_unref(sent[i]);
    assert_int_equal(q.count, 37);
    /* Nothing fits: 0, the caller writes the head alone. */
    assert_int_equal(bcqueue_frame(&q, out, 10, sent, 8, &n), 0);
    assert_int_equal(n, 0);
    assert_ptr_equal(bcqueue_peek(&q), big);
    bcqueue_clear(&q);
    assert_int_equal(small->refs, 1);
    assert_int_equal(big->refs, 1);
    bcmsg_unref(small);
    bcmsg_unref(big);
}

/* Values are pointers to longs in the test's own array: the map never owns them. */
static int keep_even(void *userdata, const char *key, void *value)
{
    (void)userdata;
    (void)key;
    return (int)(*(const long *)value % 2 == 0);
}

static void test_map(void **state)
{
    (void)state;
    cmap *m = cmap_new();
    assert_non_null(m);
    long numbers[1001];
    long replacement = 7770;
    char key[32];
    for (long i = 1; i <= 1000; i++) {
        numbers[i] = i;
        snprintf(key, sizeof key, "doc-%ld", i);
        assert_int_equal(cmap_put(m, key, &numbers[i]), 0);
    }
    assert_int_equal(cmap_count(m), 1000);
    assert_ptr_equal(cmap_get(m, "doc-777"), &numbers[777]);
    assert_null(cmap_get(m, "doc-1001"));
    assert_int_equal(cmap_put(m, "doc-777", &replacement), 0); /* replace */
    assert_int_equal(cmap_count(m), 1000);
    assert_ptr_equal(cmap_remove(m, "doc-777"), &replacement);
    assert_null(cmap_remove(m, "doc-777"));
    cmap_filter(m, keep_even, NULL);
    assert_int_equal(cmap_count(m), 500);
    assert_null(cmap_get(m, "doc-3"));
    assert_non_null(cmap_get(m, "doc-4"));
    cmap_free(m);
}

static uint8_t *update(size_t n, const uint64_t *ids, const uint64_t *clocks,
                       const char *const *states, size_t *len)
{
    crdt_buf b;
    crdt_buf_init(&b);
    crdt_buf_varuint(&b, n);
    for (size_t i = 0; i < n; i++) {
        crdt_buf_varuint(&b, ids[i]);
        crdt_buf_varuint(&b, clocks[i]);
        crdt_buf_varbytes(&b, states[i], strlen(states[i]));
    }
    uint8_t *out = NULL;
    assert_int_equal(crdt_buf_take(&b, &out, len), CRDT_OK);
    return out;
}

static void test_roster(void **state)
{
    (void)state;
    bcroster *r = bcroster_new();
    assert_non_null(r);
    assert_null(bcroster_message(r, 1000, 30000));
    size_t len;
    uint64_t ids[] = {1, 2}, clocks[] = {5, 1};
    const char *states[] = {"{\"a\":1}", "{\"b\":2}"};
    uint8_t *u = update(2, ids, clocks, states, &len);
    bcroster_apply(r, u, len, 1000);
    free(u);
    /* An older clock for client 1 is ignored; client 2 leaves. */
    uint64_t ids2[] = {1, 2}, clocks2[] = {4, 2};
    const char *states2[] = {"{\"old\":1}", "null"};
    u = update(2, ids2, clocks2, states2, &len);
    bcroster_apply(r, u, len, 2000);
    free(u);
    /* Malformed input changes nothing. */
    bcroster_apply(r, (const uint8_t *)"\x05\x01", 2, 2000);

    bcmsg *m = bcroster_message(r, 3000, 30000);
    assert_non_null(m);
    uint64_t want_ids[] = {1}, want_clocks[] = {5};
    const char *want_states[] = {"{\"a\":1}"};
    uint8_t *want = update(1, want_ids, want_clocks, want_states, &len);
    crdt_rd rd;
    crdt_rd_init(&rd, bcmsg_payload(m), m->len);
    assert_int_equal(crdt_rd_varuint(&rd), 1); /* AWARENESS */
    size_t ulen = 0;
    const uint8_t *got = crdt_rd_varbytes(&rd, &ulen);
    assert_int_equal(ulen, len);
    assert_memory_equal(got, want, len);
    free(want);
    bcmsg_unref(m);
    /* 31 s after it was last seen, the entry is stale. */
    assert_null(bcroster_message(r, 1000 + 31000, 30000));
    bcroster_free(r);
}

static void test_synced_and_state_items(void **state)
{
    (void)state;
    bcmsg *s = bcwire_synced(300); /* a two-byte varUint */
    assert_non_null(s);
    assert_int_equal(s->kind, BCMSG_SYNCED);
    wsc_msg m;
    assert_int_equal(wsc_parse(bcmsg_payload(s), s->len, &m), 0);
    assert_int_equal(m.type, 52);
    assert_int_equal(m.version, 300);
    bcmsg_unref(s);

    char err[256] = "";
    bcmsg *item =
        bcwire_state_item(7, "{ \"item_id\": \"a\",\n  \"conflict\": false }", err, sizeof err);
    assert_non_null(item);
    assert_int_equal(item->kind, BCMSG_ITEM);
    assert_int_equal(item->version, 7);
    assert_int_equal(wsc_parse(bcmsg_payload(item), item->len, &m), 0);
    assert_int_equal(m.type, 50);
    assert_int_equal(m.version, 7);
    assert_int_equal(m.op_id_len, 0);
    assert_int_equal(m.ingest_ms, 0);
    assert_true(
        wsc_eq((const char *)m.payload, m.payload_len, "{\"item_id\":\"a\",\"conflict\":false}"));
    bcmsg_unref(item);

    /* A stored state that is not JSON is an error, not a message. */
    assert_null(bcwire_state_item(7, "{not json", err, sizeof err));
    assert_non_null(strstr(err, "invalid"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_frame_headers),
        cmocka_unit_test(test_queue_frames_in_order_and_shares),
        cmocka_unit_test(test_map),
        cmocka_unit_test(test_roster),
        cmocka_unit_test(test_synced_and_state_items),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
