/*
 * processor/doctable: lookups, the bound and LRU eviction (with the keep
 * callback the pipeline uses), partition drops, the user pointer's free
 * function, the ring of recent op ids, and items.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "processor/doctable.h"

/* A document's user data: where to count that the table freed it. */
typedef struct user_data {
    int *freed;
} user_data;

static void count_free(void *user)
{
    user_data *u = user;
    (*u->freed)++;
    free(u);
}

static pdoc *add(pdoc_table *t, const char *id, int32_t partition)
{
    pdoc *d = pdoc_insert(t, id, partition);
    assert_non_null(d);
    return d;
}

static void test_insert_find_remove(void **state)
{
    (void)state;
    pdoc_table *t = pdoc_table_new(10, NULL);
    assert_non_null(t);
    assert_int_equal(pdoc_table_count(t), 0);
    assert_null(pdoc_find(t, "a"));
    pdoc *a = add(t, "a", 0);
    pdoc *b = add(t, "b", 1);
    assert_string_equal(a->id, "a");
    assert_int_equal(a->version, 0);
    assert_non_null(a->crdt);
    assert_int_equal(b->partition, 1);
    assert_ptr_equal(pdoc_find(t, "a"), a);
    assert_ptr_equal(pdoc_find(t, "b"), b);
    assert_null(pdoc_find(t, "c"));
    assert_int_equal(pdoc_table_count(t), 2);
    pdoc_remove(t, a);
    assert_null(pdoc_find(t, "a"));
    assert_ptr_equal(pdoc_find(t, "b"), b);
    assert_int_equal(pdoc_table_count(t), 1);
    pdoc_table_free(t);
}

static void test_many_documents_share_buckets(void **state)
{
    (void)state;
    /* More documents than the table's buckets: chains stay correct. */
    pdoc_table *t = pdoc_table_new(5000, NULL);
    char id[32];
    for (int i = 0; i < 5000; i++) {
        snprintf(id, sizeof id, "doc-%d", i);
        add(t, id, i % 7)->version = i;
    }
    assert_true(pdoc_table_full(t));
    for (int i = 0; i < 5000; i += 13) {
        snprintf(id, sizeof id, "doc-%d", i);
        pdoc *d = pdoc_find(t, id);
        assert_non_null(d);
        assert_int_equal(d->version, i);
    }
    pdoc_table_free(t);
}

static void test_bound_and_lru_order(void **state)
{
    (void)state;
    pdoc_table *t = pdoc_table_new(3, NULL);
    pdoc *a = add(t, "a", 0);
    add(t, "b", 0);
    assert_false(pdoc_table_full(t));
    add(t, "c", 0);
    assert_true(pdoc_table_full(t));
    /* a is the least recently used until it is looked up. */
    assert_ptr_equal(pdoc_lru_victim(t, NULL, NULL), a);
    assert_ptr_equal(pdoc_find(t, "a"), a);
    pdoc *victim = pdoc_lru_victim(t, NULL, NULL);
    assert_string_equal(victim->id, "b");
    pdoc_remove(t, victim);
    assert_false(pdoc_table_full(t));
    pdoc *d = add(t, "d", 0);
    assert_string_equal(pdoc_lru_victim(t, NULL, NULL)->id, "c");
    (void)d;
    pdoc_table_free(t);
}

/* The pipeline keeps documents that are in the open batch. */
static bool keep_in_batch(const pdoc *d, void *ud)
{
    (void)ud;
    return d->in_batch;
}

static void test_victim_skips_kept_documents(void **state)
{
    (void)state;
    pdoc_table *t = pdoc_table_new(3, NULL);
    pdoc *a = add(t, "a", 0);
    pdoc *b = add(t, "b", 0);
    pdoc *c = add(t, "c", 0);
    a->in_batch = true;
    assert_ptr_equal(pdoc_lru_victim(t, keep_in_batch, NULL), b);
    b->in_batch = true;
    assert_ptr_equal(pdoc_lru_victim(t, keep_in_batch, NULL), c);
    c->in_batch = true;
    assert_null(pdoc_lru_victim(t, keep_in_batch, NULL));
    pdoc_table_free(t);
}

static void test_drop_partition_and_user_free(void **state)
{
    (void)state;
    int freed_users = 0;
    pdoc_table *t = pdoc_table_new(100, count_free);
    char id[16];
    for (int i = 0; i < 30; i++) {
        snprintf(id, sizeof id, "d%d", i);
        pdoc *d = add(t, id, i % 3);
        user_data *u = malloc(sizeof *u);
        assert_non_null(u);
        u->freed = &freed_users;
        d->user = u;
    }
    pdoc_drop_partition(t, 1);
    assert_int_equal(pdoc_table_count(t), 20);
    assert_int_equal(freed_users, 10);
    for (int i = 0; i < 30; i++) {
        snprintf(id, sizeof id, "d%d", i);
        pdoc *d = pdoc_find(t, id);
        if (i % 3 == 1)
            assert_null(d);
        else
            assert_non_null(d);
    }
    /* The LRU list survived the drop: every remaining document is found as
     * a victim in turn. */
    size_t victims = 0;
    pdoc *v;
    while ((v = pdoc_lru_victim(t, NULL, NULL)) != NULL) {
        assert_int_not_equal(v->partition, 1);
        pdoc_remove(t, v);
        victims++;
    }
    assert_int_equal(victims, 20);
    assert_int_equal(freed_users, 30);
    pdoc_table_free(t);
}

static void count_each(pdoc *d, void *ud)
{
    (void)d;
    (*(int *)ud)++;
}

static void test_each_visits_every_document(void **state)
{
    (void)state;
    pdoc_table *t = pdoc_table_new(10, NULL);
    add(t, "x", 0);
    add(t, "y", 0);
    add(t, "z", 1);
    int n = 0;
    pdoc_each(t, count_each, &n);
    assert_int_equal(n, 3);
    pdoc_table_free(t);
}

static void test_recent_op_ids_ring(void **state)
{
    (void)state;
    pdoc_table *t = pdoc_table_new(1, NULL);
    pdoc *d = add(t, "a", 0);
    assert_false(pdoc_seen_op(d, "op-0"));
    char id[32];
    for (int i = 0; i < PDOC_RECENT_OPS; i++) {
        snprintf(id, sizeof id, "op-%d", i);
        assert_true(pdoc_remember_op(d, id));
    }
    assert_true(pdoc_seen_op(d, "op-0"));
    assert_true(pdoc_seen_op(d, "op-127"));
    assert_false(pdoc_seen_op(d, "op-128"));
    /* One more forgets the oldest only. */
    assert_true(pdoc_remember_op(d, "op-new"));
    assert_false(pdoc_seen_op(d, "op-0"));
    assert_true(pdoc_seen_op(d, "op-1"));
    assert_true(pdoc_seen_op(d, "op-new"));
    pdoc_table_free(t);
}

static void test_items(void **state)
{
    (void)state;
    pdoc_table *t = pdoc_table_new(1, NULL);
    pdoc *d = add(t, "a", 0);
    d->policy = ITEMS_POLICY_LWW;
    assert_null(pdoc_item(d, "title"));
    items_state *s = pdoc_add_item(d, "title");
    assert_non_null(s);
    assert_int_equal(s->policy, ITEMS_POLICY_LWW);
    assert_int_equal(s->revision, 0);
    assert_ptr_equal(pdoc_item(d, "title"), s);
    assert_null(pdoc_add_item(d, "")); /* an invalid id is refused */
    /* Replacing keeps one entry and takes over the new state. */
    items_state replacement;
    assert_int_equal(items_state_init(&replacement, "title", ITEMS_POLICY_MANUAL), ITEMS_OK);
    replacement.revision = 7;
    assert_true(pdoc_put_item(d, &replacement));
    assert_int_equal(d->item_count, 1);
    assert_int_equal(pdoc_item(d, "title")->revision, 7);
    assert_int_equal(pdoc_item(d, "title")->policy, ITEMS_POLICY_MANUAL);
    items_state other;
    assert_int_equal(items_state_init(&other, "body", ITEMS_POLICY_MANUAL), ITEMS_OK);
    assert_true(pdoc_put_item(d, &other));
    assert_int_equal(d->item_count, 2);
    pdoc_remove_item(d, pdoc_item(d, "title"));
    assert_null(pdoc_item(d, "title"));
    assert_non_null(pdoc_item(d, "body"));
    assert_int_equal(d->item_count, 1);
    pdoc_table_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_insert_find_remove),
        cmocka_unit_test(test_many_documents_share_buckets),
        cmocka_unit_test(test_bound_and_lru_order),
        cmocka_unit_test(test_victim_skips_kept_documents),
        cmocka_unit_test(test_drop_partition_and_user_free),
        cmocka_unit_test(test_each_visits_every_document),
        cmocka_unit_test(test_recent_op_ids_ring),
        cmocka_unit_test(test_items),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
