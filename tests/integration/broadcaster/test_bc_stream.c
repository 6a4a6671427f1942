/*
 * Integration (real Kafka, FerretDB, Redis; the broadcaster as a separate
 * process): the initial STATE from Redis, from a MongoDB snapshot plus the
 * newer ops when Redis has nothing, live MERGED/ITEM messages in version
 * order, and the race between a state load and the live stream (records at
 * or below the state's version are never sent); the items that exist before
 * a reader joins, sent after its STATE, and SYNCED once it is caught up.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "bt.h"
#include "crdt/crdt.h"
#include "processor/item_codec.h"
#include "processor/items.h"
#include "processor/items_json.h"

static bt_env env;
static ustore_user owner;
static char *owner_token;

static int setup(void **state)
{
    (void)state;
    if (bt_env_init(&env, "stream", 3) != 0 || bt_user(&env, "owner", &owner, &owner_token) != 0)
        return -1;
    return bt_start(&env, NULL);
}

static int teardown(void **state)
{
    (void)state;
    int code = bt_stop(&env, 15000);
    free(owner_token);
    bt_env_free(&env);
    return code == 0 ? 0 : -1;
}

static void new_doc(const char *name, char *doc_id, size_t size)
{
    bt_doc_id(&env, name, doc_id, size);
    assert_int_equal(bt_doc(&env, doc_id, owner.id), 0);
}

static void test_state_from_redis(void **state)
{
    (void)state;
    char doc[160];
    new_doc("redis", doc, sizeof doc);
    crdt_doc *d = NULL;
    assert_int_equal(crdt_doc_new(NULL, &d), CRDT_OK);
    size_t len;
    free(bt_yjs_insert(d, "cached in redis", &len));
    uint8_t *st = NULL;
    size_t st_len = 0;
    assert_int_equal(crdt_encode_state(d, NULL, 0, &st, &st_len), CRDT_OK);
    char err[256];
    assert_int_equal(docstore_cache_state(env.ds, doc, 17, st, st_len, NULL, 0,
                                          DOCSTORE_POSITION_UNKNOWN, err, sizeof err),
                     DOCSTORE_OK);

    int status;
    wsc *c = bt_connect(&env, doc, owner_token, -1, 0, &status);
    assert_non_null(c);
    wsc_msg m;
    bt_next(c, &m);
    assert_int_equal(m.type, 48);
    assert_int_equal(m.version, 17);
    assert_int_equal(m.payload_len, st_len);
    assert_memory_equal(m.payload, st, st_len);
    bt_expect_synced(c, 17); /* no items, no presence: caught up at once */
    wsc_close(c);
    free(st);
    crdt_doc_free(d);
}

static void test_state_from_mongo_snapshot_and_ops(void **state)
{
    (void)state;
    char doc[160];
    new_doc("mongo", doc, sizeof doc);
    crdt_doc *d = NULL;
    assert_int_equal(crdt_doc_new(NULL, &d), CRDT_OK);
    size_t len;
    uint8_t *u1 = bt_yjs_insert(d, "snap", &len);
    free(u1);
    uint8_t *snap = NULL, *sv = NULL;
    size_t snap_len = 0, sv_len = 0;
    assert_int_equal(crdt_encode_state(d, NULL, 0, &snap, &snap_len), CRDT_OK);
    assert_int_equal(crdt_encode_state_vector(d, &sv, &sv_len), CRDT_OK);
    struct cavro_snapshot s = {
        .doc_id = doc, .doc_version = 1, .state = {snap, snap_len}, .state_vector = {sv, sv_len}};
    char err[256];
    assert_int_equal(docstore_put_snapshot(env.ds, &s, err, sizeof err), DOCSTORE_OK);
    const char *parts[] = {"-two", "-three", "-four"};
    for (int i = 0; i < 3; i++) {
        uint8_t *u = bt_yjs_insert(d, parts[i], &len);
        char op[32];
        snprintf(op, sizeof op, "op-%d", i + 2);
        assert_int_equal(bt_store_op(&env, doc, i + 2, op, u, len), 0);
        free(u);
    }
    int status;
    wsc *c = bt_connect(&env, doc, owner_token, -1, 0, &status);
    assert_non_null(c);
    wsc_msg m;
    bt_next(c, &m);
    assert_int_equal(m.type, 48);
    assert_int_equal(m.version, 4);
    char *text = bt_text_of(m.payload, m.payload_len);
    assert_non_null(text);
    assert_string_equal(text, "snap-two-three-four");
    free(text);
    bt_expect_synced(c, 4);
    wsc_close(c);
    free(snap);
    free(sv);
    crdt_doc_free(d);
}

/* An item state after one write (conflict = false), or after two concurrent
 * writes under the manual policy (conflict = true, two siblings). */
static void item_state(const char *item_id, bool conflict, items_state *result)
{
    items_state st;
    assert_int_equal(items_state_init(&st, item_id, ITEMS_POLICY_MANUAL), ITEMS_OK);
    vclock clock;
    vclock_init(&clock);
    assert_int_equal(vclock_set(&clock, 1, 1), VCLOCK_OK);
    items_write w = {.value = (const uint8_t *)"v1",
                     .value_len = 2,
                     .clock = &clock,
                     .timestamp_ms = 1000,
                     .client_id = 1};
    items_result out;
    assert_int_equal(items_apply_write(&st, &w, &out), ITEMS_OK);
    vclock_free(&clock);
    if (conflict) {
        vclock other;
        vclock_init(&other);
        assert_int_equal(vclock_set(&other, 2, 1), VCLOCK_OK);
        items_write w2 = {.value = (const uint8_t *)"v2",
                          .value_len = 2,
                          .clock = &other,
                          .timestamp_ms = 1001,
                          .client_id = 2};
        assert_int_equal(items_apply_write(&st, &w2, &out), ITEMS_OK);
        assert_int_equal(out.outcome, ITEMS_CONFLICT);
        vclock_free(&other);
    }
    *result = st;
}

static uint8_t *item_payload(const char *item_id, bool conflict, size_t *len)
{
    items_state st;
    item_state(item_id, conflict, &st);
    uint8_t *bytes = NULL;
    char err[256];
    assert_int_equal(pitem_state_encode(env.avro, &st, &bytes, len, err, sizeof err), 0);
    items_state_free(&st);
    return bytes;
}

static void test_live_ops_in_order(void **state)
{
    (void)state;
    char doc[160];
    new_doc("live", doc, sizeof doc);
    int status;
    wsc *a = bt_connect(&env, doc, owner_token, -1, 0, &status);
    wsc *b = bt_connect(&env, doc, owner_token, -1, 0, &status);
    assert_non_null(a);
    assert_non_null(b);
    wsc_msg m;
    bt_next(a, &m);
    assert_int_equal(m.type, 48);
    assert_int_equal(m.version, 0);
    bt_expect_synced(a, 0);
    bt_next(b, &m);
    assert_int_equal(m.type, 48);
    assert_int_equal(m.version, 0);
    bt_expect_synced(b, 0);

    const int n = 40;
    size_t item_len, conflict_len;
    uint8_t *item = item_payload("color", false, &item_len);
    uint8_t *conflict = item_payload("size", true, &conflict_len);
    for (int v = 1; v <= n; v++) {
        char op[32], payload[32];
        snprintf(op, sizeof op, "op-%d", v);
        snprintf(payload, sizeof payload, "update-%d", v);
        if (v == 20)
            assert_int_equal(
                bt_send_merged(&env, doc, v, op, CAVRO_MERGED_ITEM_STATE, item, item_len), 0);
        else if (v == 21)
            assert_int_equal(bt_send_merged(&env, doc, v, op, CAVRO_MERGED_ITEM_CONFLICT, conflict,
                                            conflict_len),
                             0);
        else
            assert_int_equal(bt_send_merged(&env, doc, v, op, CAVRO_MERGED_YJS_UPDATE,
                                            (const uint8_t *)payload, strlen(payload)),
                             0);
    }
    free(item);
    free(conflict);
    wsc *readers[] = {a, b};
    for (int r = 0; r < 2; r++) {
        for (int v = 1; v <= n; v++) {
            bt_next(readers[r], &m);
            char op[32], payload[32];
            snprintf(op, sizeof op, "op-%d", v);
            snprintf(payload, sizeof payload, "update-%d", v);
            assert_int_equal(m.version, v);
            assert_true(wsc_eq(m.op_id, m.op_id_len, op));
            assert_true(m.ingest_ms > 0);
            if (v == 20) {
                assert_int_equal(m.type, 50);
                char json[1024];
                snprintf(json, sizeof json, "%.*s", (int)m.payload_len, (const char *)m.payload);
                assert_non_null(strstr(json, "\"item_id\":\"color\""));
                assert_non_null(strstr(json, "\"conflict\":false"));
            } else if (v == 21) {
                /* The conflict notice: every sibling, for the users to resolve. */
                assert_int_equal(m.type, 50);
                char json[2048];
                snprintf(json, sizeof json, "%.*s", (int)m.payload_len, (const char *)m.payload);
                assert_non_null(strstr(json, "\"item_id\":\"size\""));
                assert_non_null(strstr(json, "\"conflict\":true"));
                assert_non_null(strstr(json, "\"value_base64\":\"djE=\""));
                assert_non_null(strstr(json, "\"value_base64\":\"djI=\""));
            } else {
                assert_int_equal(m.type, 49);
                assert_true(wsc_eq((const char *)m.payload, m.payload_len, payload));
            }
        }
    }
    /* A record repeated by the log (a replay) is not sent twice; the next one is. */
    assert_int_equal(bt_send_merged(&env, doc, 40, "op-40", CAVRO_MERGED_YJS_UPDATE,
                                    (const uint8_t *)"again", 5),
                     0);
    assert_int_equal(bt_send_merged(&env, doc, 41, "op-41", CAVRO_MERGED_YJS_UPDATE,
                                    (const uint8_t *)"update-41", 9),
                     0);
    bt_next(a, &m);
    assert_int_equal(m.version, 41);
    assert_true(wsc_eq(m.op_id, m.op_id_len, "op-41"));
    wsc_close(a);
    wsc_close(b);
    assert_true(bt_metric(&env, "broadcaster_records_total{result=\"duplicate\"}") >= 1);
    assert_true(bt_metric(&env, "broadcaster_e2e_latency_seconds_count") >= 2 * n);
}

/* A newcomer to a document with readers gets the state loaded for the
 * first reader plus the recent ops kept in memory: STATE 0, then 1..n. */
static void test_newcomer_gets_cached_state_and_history(void **state)
{
    (void)state;
    char doc[160];
    new_doc("cached", doc, sizeof doc);
    int status;
    wsc *a = bt_connect(&env, doc, owner_token, -1, 0, &status);
    assert_non_null(a);
    wsc_msg m;
    bt_next(a, &m);
    assert_int_equal(m.version, 0);
    bt_expect_synced(a, 0);
    for (int v = 1; v <= 10; v++)
        bt_send_version(&env, doc, v);
    for (int v = 1; v <= 10; v++) {
        bt_next(a, &m);
        assert_int_equal(m.version, v);
    }
    double loads = bt_metric(&env, "broadcaster_state_loads_total");
    wsc *b = bt_connect(&env, doc, owner_token, -1, 0, &status);
    assert_non_null(b);
    bt_next(b, &m);
    assert_int_equal(m.type, 48);
    assert_int_equal(m.version, 0);
    for (int v = 1; v <= 10; v++) {
        bt_next(b, &m);
        assert_int_equal(m.type, 49);
        assert_int_equal(m.version, v);
    }
    /* Caught up once the history after the cached state is sent. */
    bt_expect_synced(b, 10);
    /* No second load was needed. */
    assert_true(bt_metric(&env, "broadcaster_state_loads_total") == loads);
    wsc_close(a);
    wsc_close(b);
}

/* The state comes from a view that is ahead of the stream: the records it
 * already contains arrive later and must not be sent. */
static void test_state_newer_than_stream(void **state)
{
    (void)state;
    char doc[160];
    new_doc("race", doc, sizeof doc);
    char err[256];
    static const uint8_t empty[] = {0, 0};
    assert_int_equal(docstore_cache_state(env.ds, doc, 12, empty, 2, NULL, 0,
                                          DOCSTORE_POSITION_UNKNOWN, err, sizeof err),
                     DOCSTORE_OK);
    int status;
    wsc *c = bt_connect(&env, doc, owner_token, -1, 0, &status);
    assert_non_null(c);
    wsc_msg m;
    bt_next(c, &m);
    assert_int_equal(m.type, 48);
    assert_int_equal(m.version, 12);
    bt_expect_synced(c, 12);
    for (int v = 10; v <= 15; v++)
        bt_send_version(&env, doc, v);
    for (int v = 13; v <= 15; v++) {
        bt_next(c, &m);
        assert_int_equal(m.type, 49);
        assert_int_equal(m.version, v);
    }
    const uint8_t *data;
    size_t len;
    assert_int_equal(wsc_read(c, 300, &data, &len), 0); /* nothing else */
    wsc_close(c);
}

/* Stores an item as the processor would, with its JSON pretty-printed (the
 * reader must get it compact, as live ITEM messages carry it); returns the
 * compact JSON (caller frees). */
static char *store_item(const char *doc, const char *item_id, bool conflict, int64_t version)
{
    items_state st;
    item_state(item_id, conflict, &st);
    json_t *j = items_state_to_json(&st);
    assert_non_null(j);
    char *pretty = json_dumps(j, JSON_INDENT(2));
    char *compact = json_dumps(j, JSON_COMPACT);
    assert_non_null(pretty);
    assert_non_null(compact);
    json_decref(j);
    docstore_item item = {.doc_id = doc,
                          .item_id = item_id,
                          .revision = 1,
                          .version = version,
                          .conflict = conflict,
                          .state_json = pretty,
                          .value = (const uint8_t *)"v1",
                          .value_len = 2};
    char err[256];
    assert_int_equal(docstore_put_item(env.ds, &item, err, sizeof err), DOCSTORE_OK);
    free(pretty);
    items_state_free(&st);
    return compact;
}

/* Reads the ITEM messages that follow a STATE at version: exactly one per
 * stored item (any order), empty op id, the compact JSON. */
static void expect_items(wsc *c, uint64_t version, char *const *want, size_t count)
{
    bool seen[8] = {false};
    assert_true(count <= 8);
    for (size_t i = 0; i < count; i++) {
        wsc_msg m;
        bt_next(c, &m);
        assert_int_equal(m.type, 50);
        assert_int_equal(m.version, version);
        assert_int_equal(m.op_id_len, 0);
        size_t k = 0;
        while (k < count && !(m.payload_len == strlen(want[k]) &&
                              memcmp(m.payload, want[k], m.payload_len) == 0))
            k++;
        if (k == count)
            fail_msg("unexpected item JSON %.*s", (int)m.payload_len, (const char *)m.payload);
        assert_false(seen[k]); /* each item once */
        seen[k] = true;
    }
}

/* A reader joining a document with items gets STATE, one ITEM per item at
 * the STATE's version, SYNCED, then the live stream; so does a resume that
 * falls back to a STATE. */
static void test_state_then_items_then_synced(void **state)
{
    (void)state;
    char doc[160];
    new_doc("items", doc, sizeof doc);
    char err[256];
    static const uint8_t empty[] = {0, 0};
    assert_int_equal(docstore_cache_state(env.ds, doc, 5, empty, 2, NULL, 0,
                                          DOCSTORE_POSITION_UNKNOWN, err, sizeof err),
                     DOCSTORE_OK);
    char *items[2] = {store_item(doc, "color", false, 3), store_item(doc, "size", true, 5)};

    int status;
    wsc *c = bt_connect(&env, doc, owner_token, -1, 0, &status);
    assert_non_null(c);
    wsc_msg m;
    bt_next(c, &m);
    assert_int_equal(m.type, 48);
    assert_int_equal(m.version, 5);
    expect_items(c, 5, items, 2);
    bt_expect_synced(c, 5);
    assert_int_equal(
        bt_send_merged(&env, doc, 6, "op-6", CAVRO_MERGED_YJS_UPDATE, (const uint8_t *)"u6", 2), 0);
    bt_next(c, &m);
    assert_int_equal(m.type, 49);
    assert_int_equal(m.version, 6);

    /* Resuming from 1 over a hole (MongoDB has 3 but not 2): a STATE with
     * its items instead of the replay, then SYNCED. */
    assert_int_equal(bt_store_op(&env, doc, 3, "op-3", (const uint8_t *)"op-3", 4), 0);
    wsc *r = bt_connect(&env, doc, owner_token, 1, 0, &status);
    assert_non_null(r);
    bt_next(r, &m);
    assert_int_equal(m.type, 48);
    uint64_t v = m.version;
    assert_true(v >= 5);
    expect_items(r, v, items, 2);
    /* The history may add op 6 after a state at 5. */
    for (uint64_t next = v + 1; next <= 6; next++) {
        bt_next(r, &m);
        assert_int_equal(m.type, 49);
        assert_int_equal(m.version, next);
    }
    bt_expect_synced(r, 6);
    wsc_close(r);
    wsc_close(c);
    free(items[0]);
    free(items[1]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_state_from_redis),
        cmocka_unit_test(test_state_from_mongo_snapshot_and_ops),
        cmocka_unit_test(test_live_ops_in_order),
        cmocka_unit_test(test_newcomer_gets_cached_state_and_history),
        cmocka_unit_test(test_state_newer_than_stream),
        cmocka_unit_test(test_state_then_items_then_synced),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
