/*
 * End-to-end tests of one processor process against the real Kafka, MongoDB
 * and Redis: Yjs ops merged into gap-free versions with resends ignored (same
 * op id, or an update already contained); poison records to the DLQ while
 * processing goes on; every items scenario of the seeds (manual conflict and
 * resolve, lww by timestamp, then by client id) through collab.ops ->
 * collab.merged -> MongoDB items / Redis item:{doc}:{item}.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "common/util.h"
#include "crdt/crdt.h"
#include "tests/integration/processor/harness.h"

typedef struct fixture {
    ph_env env;
    ph_proc proc;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    if (ph_env_init(&f->env, "e2e", 2) != 0)
        return -1;
    if (ph_start_processor(&f->env, "p1", NULL, &f->proc) != 0)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    int code = ph_stop(&f->proc, 30000);
    ph_env_free(&f->env);
    free(f);
    /* A clean shutdown is part of the contract. */
    return code == 0 ? 0 : -1;
}

static void send_text(fixture *f, crdt_doc *client, const char *doc_id, const char *op_id,
                      uint64_t index, const char *text, uint8_t **update, size_t *len)
{
    assert_int_equal(crdt_text_insert(client, "text", index, text, strlen(text), NULL, update, len),
                     CRDT_OK);
    assert_int_equal(ph_send_op(&f->env, doc_id, op_id, (int64_t)crdt_doc_client_id(client),
                                CAVRO_OP_YJS_UPDATE, *update, *len),
                     0);
}

static void test_yjs_versions_and_resends(void **state)
{
    fixture *f = *state;
    char doc[200];
    ph_doc_id(&f->env, "yjs", doc, sizeof doc);
    crdt_options o;
    crdt_options_init(&o);
    o.client_id = 101;
    crdt_doc *client = NULL;
    assert_int_equal(crdt_doc_new(&o, &client), CRDT_OK);
    uint8_t *u1, *u2, *u3;
    size_t l1, l2, l3;
    send_text(f, client, doc, "op-1", 0, "hello", &u1, &l1);
    send_text(f, client, doc, "op-2", 5, " world", &u2, &l2);
    /* a resend after a reconnect: same op id */
    assert_int_equal(ph_send_op(&f->env, doc, "op-2", 101, CAVRO_OP_YJS_UPDATE, u2, l2), 0);
    /* the same update under another op id: already contained */
    assert_int_equal(ph_send_op(&f->env, doc, "op-2-copy", 101, CAVRO_OP_YJS_UPDATE, u2, l2), 0);
    send_text(f, client, doc, "op-3", 0, ">> ", &u3, &l3);

    ph_merged m;
    assert_int_equal(ph_read_merged(&f->env, doc, 3, PH_TIMEOUT_MS, &m), 0);
    assert_int_equal(m.count, 3);
    char why[256];
    assert_true(ph_versions_ok(&m, why, sizeof why));
    assert_string_equal(m.records[0].op_id, "op-1");
    assert_string_equal(m.records[1].op_id, "op-2");
    assert_string_equal(m.records[2].op_id, "op-3");
    for (size_t i = 0; i < m.count; i++) {
        assert_int_equal(m.records[i].kind, CAVRO_MERGED_YJS_UPDATE);
        assert_true(m.records[i].state_vector.present);
    }
    const uint8_t *ups[3] = {m.records[0].payload.data, m.records[1].payload.data,
                             m.records[2].payload.data};
    size_t lens[3] = {m.records[0].payload.len, m.records[1].payload.len, m.records[2].payload.len};
    char *text = ph_text_of_updates(ups, lens, 3);
    assert_non_null(text);
    assert_string_equal(text, ">> hello world");
    free(text);
    ph_merged_free(&m);

    /* Nothing more arrives for the resends (a fourth record would be a bug). */
    ph_merged again;
    assert_int_equal(ph_read_merged(&f->env, doc, 4, 3000, &again), 0);
    assert_int_equal(again.count, 3);
    ph_merged_free(&again);

    /* The views catch up: crdt_operations 1..3, documents.version 3, Redis state. */
    assert_true(ph_wait_ops(&f->env, doc, 3, PH_TIMEOUT_MS));
    int64_t total, distinct;
    bool contiguous;
    assert_int_equal(ph_count_ops(&f->env, doc, &total, &distinct, &contiguous), 0);
    assert_int_equal(total, 3);
    assert_int_equal(distinct, 3);
    assert_true(contiguous);
    int64_t deadline = util_now_ms() + PH_TIMEOUT_MS;
    while (ph_document_version(&f->env, doc) < 3 && util_now_ms() < deadline)
        util_sleep_ms(100);
    assert_int_equal(ph_document_version(&f->env, doc), 3);
    int64_t version;
    text = ph_view_text(&f->env, doc, &version);
    assert_non_null(text);
    assert_int_equal(version, 3);
    assert_string_equal(text, ">> hello world");
    free(text);
    free(u1);
    free(u2);
    free(u3);
    crdt_doc_free(client);
}

static void test_poison_records_to_dlq(void **state)
{
    fixture *f = *state;
    char doc[200];
    ph_doc_id(&f->env, "dlq", doc, sizeof doc);
    static const char garbage[] = "this is not an Avro record";
    assert_int_equal(ph_send_raw(&f->env, doc, garbage, sizeof garbage - 1), 0);
    static const uint8_t bad_update[] = {0x07, 0xff, 0xff, 0x01};
    assert_int_equal(
        ph_send_op(&f->env, doc, "bad-yjs", 7, CAVRO_OP_YJS_UPDATE, bad_update, sizeof bad_update),
        0);
    /* an op whose record key is another document */
    char other[200];
    ph_doc_id(&f->env, "dlq-other", other, sizeof other);
    crdt_doc *client = NULL;
    crdt_options o;
    crdt_options_init(&o);
    o.client_id = 7;
    assert_int_equal(crdt_doc_new(&o, &client), CRDT_OK);
    uint8_t *u;
    size_t l;
    assert_int_equal(crdt_text_insert(client, "text", 0, "ok", 2, NULL, &u, &l), CRDT_OK);
    struct cavro_client_op op = {.doc_id = other,
                                 .op_id = "mismatch",
                                 .client_id = 7,
                                 .user_id = "u",
                                 .kind = CAVRO_OP_YJS_UPDATE,
                                 .payload = {u, l},
                                 .ingest_node = ""};
    uint8_t *value;
    size_t value_len;
    char err[256];
    assert_int_equal(cavro_client_op_encode(f->env.avro, &op, &value, &value_len, err, sizeof err),
                     CAVRO_OK);
    assert_int_equal(ph_send_raw(&f->env, doc, value, value_len), 0);
    free(value);
    /* processing goes on: a valid op after the poison is merged as version 1 */
    assert_int_equal(ph_send_op(&f->env, doc, "good", 7, CAVRO_OP_YJS_UPDATE, u, l), 0);

    ph_merged m;
    assert_int_equal(ph_read_merged(&f->env, doc, 1, PH_TIMEOUT_MS, &m), 0);
    assert_int_equal(m.count, 1);
    assert_string_equal(m.records[0].op_id, "good");
    assert_int_equal(m.records[0].doc_version, 1);
    ph_merged_free(&m);

    struct cavro_dlq_record *dlq;
    size_t count;
    assert_int_equal(ph_read_dlq(&f->env, 3, PH_TIMEOUT_MS, &dlq, &count), 0);
    /* One reason per poison record, in the order they were sent. The loop is bounded by
     * this list: cmocka's failed assertions end the test, but the analyzer cannot see that. */
    static const char *const codes[] = {"avro_undecodable", "yjs_rejected", "key_mismatch"};
    const size_t code_count = sizeof codes / sizeof codes[0];
    assert_int_equal(count, code_count);
    for (size_t i = 0; i < code_count; i++) {
        assert_string_equal(dlq[i].reason_code, codes[i]);
        assert_true(strlen(dlq[i].reason) > 0);
        assert_string_equal(dlq[i].topic, f->env.ops_topic);
        assert_true(dlq[i].original_key.present);
        assert_memory_equal(dlq[i].original_key.bytes.data, doc, strlen(doc));
        assert_true(dlq[i].offset >= 0);
    }
    assert_int_equal(dlq[0].original_value.len, sizeof garbage - 1);
    assert_memory_equal(dlq[0].original_value.data, garbage, sizeof garbage - 1);
    for (size_t i = 0; i < count; i++)
        cavro_dlq_record_clear(&dlq[i]);
    free(dlq);
    free(u);
    crdt_doc_free(client);
}

/* ---- items ---- */

static void send_item(fixture *f, const char *doc, const char *op_id, bool resolve,
                      const char *item, const char *value, const int64_t clock[3], int64_t time_ms,
                      int64_t client_id)
{
    uint8_t *payload;
    size_t len;
    assert_int_equal(ph_item_payload(&f->env, resolve, item, value, clock, 3, time_ms, client_id,
                                     &payload, &len),
                     0);
    assert_int_equal(ph_send_op(&f->env, doc, op_id, client_id,
                                resolve ? CAVRO_OP_ITEM_RESOLVE : CAVRO_OP_ITEM_WRITE, payload,
                                len),
                     0);
    free(payload);
}

static struct cavro_item_state item_of(fixture *f, const struct cavro_merged_op *m)
{
    struct cavro_item_state st;
    char why[256];
    assert_int_equal(
        cavro_item_state_decode(f->env.avro, m->payload.data, m->payload.len, &st, why, sizeof why),
        CAVRO_OK);
    return st;
}

static bool sibling_is(const struct cavro_item_sibling *s, const char *value)
{
    return s->value.len == strlen(value) && memcmp(s->value.data, value, s->value.len) == 0;
}

/* 2024-05-18 12:34:55 and :56 UTC in ms. */
#define T55 1716035695000LL
#define T56 1716035696000LL

/* Whether `text` is exactly the decimal `value` (a view field Redis returns as a string). */
static bool decimal_equals(const char *text, int64_t value)
{
    char *end = NULL;
    errno = 0;
    long long parsed = strtoll(text, &end, 10);
    return errno == 0 && end != text && *end == '\0' && parsed == (long long)value;
}

static void test_items_manual_conflict_and_resolve(void **state)
{
    fixture *f = *state;
    char doc[200];
    ph_doc_id(&f->env, "items-manual", doc, sizeof doc);
    send_item(f, doc, "i16-base", false, "item16", "val16", (int64_t[]){1, 0, 0}, T55, 1);
    send_item(f, doc, "i16-a", false, "item16", "val16_A", (int64_t[]){2, 0, 0}, T55, 1);
    send_item(f, doc, "i16-b", false, "item16", "val16_B", (int64_t[]){1, 2, 0}, T55, 2);
    /* [2,1,0] has not seen B's write: refused (to the DLQ), no version */
    send_item(f, doc, "i16-bad-resolve", true, "item16", "val16_A", (int64_t[]){2, 1, 0}, T56, 1);
    send_item(f, doc, "i16-resolve", true, "item16", "val16_Aval16_B", (int64_t[]){2, 2, 0}, T56,
              1);

    ph_merged m;
    assert_int_equal(ph_read_merged(&f->env, doc, 4, PH_TIMEOUT_MS, &m), 0);
    assert_int_equal(m.count, 4);
    char why[256];
    assert_true(ph_versions_ok(&m, why, sizeof why));
    assert_int_equal(m.records[0].kind, CAVRO_MERGED_ITEM_STATE);
    assert_int_equal(m.records[1].kind, CAVRO_MERGED_ITEM_STATE);
    assert_int_equal(m.records[2].kind, CAVRO_MERGED_ITEM_CONFLICT); /* the conflict notice */
    assert_int_equal(m.records[3].kind, CAVRO_MERGED_ITEM_STATE);
    assert_string_equal(m.records[3].op_id, "i16-resolve");

    struct cavro_item_state conflict = item_of(f, &m.records[2]);
    assert_true(conflict.conflict);
    assert_int_equal(conflict.sibling_count, 2);
    assert_int_equal(conflict.version, 2);
    bool has_a = sibling_is(&conflict.siblings[0], "val16_A") ||
                 sibling_is(&conflict.siblings[1], "val16_A");
    bool has_b = sibling_is(&conflict.siblings[0], "val16_B") ||
                 sibling_is(&conflict.siblings[1], "val16_B");
    assert_true(has_a && has_b);
    cavro_item_state_clear(&conflict);

    struct cavro_item_state resolved = item_of(f, &m.records[3]);
    assert_false(resolved.conflict);
    assert_int_equal(resolved.version, 3);
    assert_int_equal(resolved.sibling_count, 1);
    assert_true(sibling_is(&resolved.siblings[0], "val16_Aval16_B"));
    assert_int_equal(resolved.siblings[0].clock.count, 2);
    assert_int_equal(resolved.siblings[0].clock.entries[0].counter, 2);
    assert_int_equal(resolved.siblings[0].clock.entries[1].counter, 2);
    int64_t revision = resolved.revision;
    cavro_item_state_clear(&resolved);
    ph_merged_free(&m);

    struct cavro_dlq_record *dlq;
    size_t count;
    /* after the three of test_poison_records_to_dlq */
    assert_int_equal(ph_read_dlq(&f->env, 4, PH_TIMEOUT_MS, &dlq, &count), 0);
    bool found = false;
    for (size_t i = 0; i < count; i++) {
        if (strcmp(dlq[i].reason_code, "item_resolve_rejected") == 0)
            found = true;
        cavro_dlq_record_clear(&dlq[i]);
    }
    free(dlq);
    assert_true(found);

    /* The views: Redis item:{doc}:item16 and MongoDB items reach the revision. */
    char key[300];
    snprintf(key, sizeof key, "item:%s:item16", doc);
    int64_t deadline = util_now_ms() + PH_TIMEOUT_MS;
    redisReply *r = NULL;
    for (;;) {
        r = credis_command(f->env.redis, "HMGET %s revision version value conflict", key);
        assert_non_null(r);
        if (r->element[0]->type == REDIS_REPLY_STRING &&
            decimal_equals(r->element[0]->str, revision))
            break;
        freeReplyObject(r);
        r = NULL;
        assert_true(util_now_ms() < deadline);
        util_sleep_ms(100);
    }
    assert_string_equal(r->element[1]->str, "3");
    assert_string_equal(r->element[2]->str, "val16_Aval16_B");
    assert_string_equal(r->element[3]->str, "0");
    freeReplyObject(r);
}

static void check_winner(fixture *f, const char *doc, size_t records, const char *winner)
{
    ph_merged m;
    assert_int_equal(ph_read_merged(&f->env, doc, records, PH_TIMEOUT_MS, &m), 0);
    assert_int_equal(m.count, records);
    char why[256];
    assert_true(ph_versions_ok(&m, why, sizeof why));
    struct cavro_item_state last = item_of(f, &m.records[m.count - 1]);
    assert_false(last.conflict);
    assert_int_equal(last.sibling_count, 1);
    assert_true(sibling_is(&last.siblings[0], winner));
    cavro_item_state_clear(&last);
    ph_merged_free(&m);
}

static void set_policy(fixture *f, const char *doc, const char *policy)
{
    mongoc_client_t *client = cmongo_acquire(f->env.mongo);
    mongoc_collection_t *coll = cmongo_collection(f->env.mongo, client, "documents");
    bson_t *d =
        BCON_NEW("_id", BCON_UTF8(doc), "item_policy", BCON_UTF8(policy), "version", BCON_INT64(0));
    bson_error_t error;
    assert_true(mongoc_collection_insert_one(coll, d, NULL, NULL, &error));
    bson_destroy(d);
    mongoc_collection_destroy(coll);
    cmongo_release(f->env.mongo, client);
}

static void test_items_equal_clocks_by_timestamp_then_client(void **state)
{
    fixture *f = *state;
    const char *policies[] = {"manual", "lww"};
    for (int p = 0; p < 2; p++) {
        for (int order = 0; order < 2; order++) {
            char name[64], doc[200];
            snprintf(name, sizeof name, "items-ts-%s-%d", policies[p], order);
            ph_doc_id(&f->env, name, doc, sizeof doc);
            set_policy(f, doc, policies[p]);
            send_item(f, doc, "base", false, "item1", "val1", (int64_t[]){1, 0, 0}, T55 - 1000, 1);
            /* identical clocks [2,0,0]: 12:34:56 beats 12:34:55, in both orders */
            if (order == 0) {
                send_item(f, doc, "c1", false, "item1", "val_client1", (int64_t[]){2, 0, 0}, T55,
                          1);
                send_item(f, doc, "c2", false, "item1", "val_client2", (int64_t[]){2, 0, 0}, T56,
                          2);
                check_winner(f, doc, 3, "val_client2");
            } else {
                send_item(f, doc, "c2", false, "item1", "val_client2", (int64_t[]){2, 0, 0}, T56,
                          2);
                send_item(f, doc, "c1", false, "item1", "val_client1", (int64_t[]){2, 0, 0}, T55,
                          1);
                /* the loser changes nothing: no third version */
                check_winner(f, doc, 2, "val_client2");
            }
        }
        /* identical timestamps: the larger client id wins */
        char name[64], doc[200];
        snprintf(name, sizeof name, "items-client-%s", policies[p]);
        ph_doc_id(&f->env, name, doc, sizeof doc);
        set_policy(f, doc, policies[p]);
        send_item(f, doc, "x2", false, "item1", "from_client2", (int64_t[]){2, 0, 0}, T56, 2);
        send_item(f, doc, "x1", false, "item1", "from_client1", (int64_t[]){2, 0, 0}, T56, 1);
        check_winner(f, doc, 1, "from_client2");
    }
}

static void test_items_lww_concurrent(void **state)
{
    fixture *f = *state;
    char doc[200];
    ph_doc_id(&f->env, "items-lww", doc, sizeof doc);
    set_policy(f, doc, "lww");
    send_item(f, doc, "a", false, "item16", "val16_A", (int64_t[]){2, 0, 0}, T55, 1);
    send_item(f, doc, "b", false, "item16", "val16_B", (int64_t[]){1, 2, 0}, T56, 2);
    ph_merged m;
    assert_int_equal(ph_read_merged(&f->env, doc, 2, PH_TIMEOUT_MS, &m), 0);
    assert_int_equal(m.count, 2);
    /* lww: no conflict notice; the later write is shown first, the loser kept */
    assert_int_equal(m.records[1].kind, CAVRO_MERGED_ITEM_STATE);
    struct cavro_item_state st = item_of(f, &m.records[1]);
    assert_false(st.conflict);
    assert_int_equal(st.policy, CAVRO_POLICY_LWW);
    assert_true(sibling_is(&st.siblings[0], "val16_B"));
    cavro_item_state_clear(&st);
    ph_merged_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_yjs_versions_and_resends),
        cmocka_unit_test(test_poison_records_to_dlq),
        cmocka_unit_test(test_items_manual_conflict_and_resolve),
        cmocka_unit_test(test_items_equal_clocks_by_timestamp_then_client),
        cmocka_unit_test(test_items_lww_concurrent),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
