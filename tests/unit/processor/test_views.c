/*
 * processor/views without servers: the queue's sequence numbers, its bound
 * (a full queue refuses and counts; the audit trail may use three quarters of
 * it, so states still fit), and the item view that both the pipeline and
 * tools/replay write (pviews_item_view). The writer thread is never started,
 * so the docstore is never touched (NULL).
 */
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "processor/items_json.h"
#include "processor/views.h"

typedef struct fixture {
    metrics_registry *reg;
    clog *log;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    f->reg = metrics_registry_new();
    f->log = clog_new("test", CLOG_ERROR, 2);
    *state = f;
    return f->reg && f->log ? 0 : -1;
}

static int teardown(void **state)
{
    fixture *f = *state;
    metrics_registry_free(f->reg);
    clog_free(f->log);
    free(f);
    return 0;
}

static docstore_op op_of(int64_t version, const uint8_t *bytes, size_t len)
{
    return (docstore_op){.doc_id = "d",
                         .op_id = "o",
                         .version = version,
                         .kind = "YJS_UPDATE",
                         .user_id = "u",
                         .bytes = bytes,
                         .len = len};
}

static void test_sequence_and_pending(void **state)
{
    fixture *f = *state;
    pviews *v = pviews_new(NULL, 1 << 20, f->reg, f->log);
    assert_non_null(v);
    uint8_t payload[16] = {0};
    docstore_op op = op_of(1, payload, sizeof payload);
    uint64_t a = pviews_push_op(v, &op);
    uint64_t b = pviews_push_state(v, "d", 1, DOCSTORE_POSITION_UNKNOWN, payload, 4, payload, 2);
    uint64_t c = pviews_push_op(v, &op);
    assert_true(a > 0);
    assert_true(b > a);
    assert_true(c > b);
    assert_int_equal(pviews_pending(v), 3);
    assert_int_equal(pviews_written_seq(v), 0); /* no writer ran */
    assert_true(pviews_has_room(v));
    /* Nobody writes: waiting for idle gives up at its deadline. */
    assert_false(pviews_wait_idle(v, 50));
    pviews_free(v);
}

static void test_full_queue_refuses_and_keeps_room_for_states(void **state)
{
    fixture *f = *state;
    size_t max = (size_t)64 * 1024;
    pviews *v = pviews_new(NULL, max, f->reg, f->log);
    uint8_t payload[1024] = {0};
    docstore_op op = op_of(1, payload, sizeof payload);
    size_t accepted = 0;
    while (pviews_push_op(v, &op) != 0)
        accepted++;
    /* The audit trail stopped at three quarters of the queue... */
    assert_true(accepted > 0);
    assert_true(accepted * sizeof payload <= max / 4 * 3);
    assert_int_equal(pviews_pending(v), accepted);
    /* ...so a document state still fits. */
    assert_true(pviews_push_state(v, "d", 9, DOCSTORE_POSITION_UNKNOWN, payload, 512, payload, 8) !=
                0);
    /* A job larger than the whole queue never fits. */
    uint8_t *huge = calloc(1, max);
    assert_int_equal(pviews_push_state(v, "d", 10, DOCSTORE_POSITION_UNKNOWN, huge, max, huge, 1),
                     0);
    free(huge);
    pviews_free(v);
}

static items_state written_item(const char *id, const char *value, uint64_t client, uint64_t c)
{
    items_state s;
    assert_int_equal(items_state_init(&s, id, ITEMS_POLICY_MANUAL), ITEMS_OK);
    vclock clock;
    vclock_init(&clock);
    assert_int_equal(vclock_set(&clock, client, c), VCLOCK_OK);
    items_write w = {.value = (const uint8_t *)value,
                     .value_len = strlen(value),
                     .clock = &clock,
                     .timestamp_ms = 1700000000000,
                     .client_id = client};
    items_result r;
    assert_int_equal(items_apply_write(&s, &w, &r), ITEMS_OK);
    vclock_free(&clock);
    return s;
}

static void test_item_view_settled(void **state)
{
    (void)state;
    items_state s = written_item("title", "hello", 1, 1);
    docstore_item item;
    char *json = NULL;
    assert_int_equal(pviews_item_view("doc-9", &s, &item, &json), 0);
    assert_non_null(json);
    assert_string_equal(item.doc_id, "doc-9");
    assert_string_equal(item.item_id, "title");
    assert_int_equal(item.revision, (int64_t)s.revision);
    assert_int_equal(item.version, (int64_t)s.version);
    assert_false(item.conflict);
    assert_non_null(item.value);
    assert_int_equal(item.value_len, 5);
    assert_memory_equal(item.value, "hello", 5);
    /* The JSON is the item's own state (items_json), loadable again. */
    json_t *parsed = json_loads(item.state_json, 0, NULL);
    assert_non_null(parsed);
    items_state back;
    assert_int_equal(items_state_from_json(&back, parsed, NULL, 0), ITEMS_OK);
    assert_int_equal(back.revision, s.revision);
    items_state_free(&back);
    json_decref(parsed);
    free(json);
    items_state_free(&s);
}

static void test_item_view_in_conflict_has_no_value(void **state)
{
    (void)state;
    items_state s = written_item("colour", "red", 1, 1);
    vclock clock;
    vclock_init(&clock);
    assert_int_equal(vclock_set(&clock, 2, 1), VCLOCK_OK);
    items_write w = {.value = (const uint8_t *)"blue",
                     .value_len = 4,
                     .clock = &clock,
                     .timestamp_ms = 1700000000001,
                     .client_id = 2};
    items_result r;
    assert_int_equal(items_apply_write(&s, &w, &r), ITEMS_OK);
    vclock_free(&clock);
    docstore_item item;
    char *json = NULL;
    assert_int_equal(pviews_item_view("doc-9", &s, &item, &json), 0);
    assert_true(item.conflict);
    assert_null(item.value);
    assert_int_equal(item.value_len, 0);
    free(json);
    items_state_free(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        /* A registry per test: each writer registers the same metrics. */
        cmocka_unit_test_setup_teardown(test_sequence_and_pending, setup, teardown),
        cmocka_unit_test_setup_teardown(test_full_queue_refuses_and_keeps_room_for_states, setup,
                                        teardown),
        cmocka_unit_test(test_item_view_settled),
        cmocka_unit_test(test_item_view_in_conflict_has_no_value),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
