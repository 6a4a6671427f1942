/*
 * test_crdt_doc.c - unit tests of the crdt engine's documents: exact Yjs bytes for the
 * worked examples of shared/docs/yjs-format.md, v1/v2 round trips, concurrent inserts,
 * out-of-order and duplicate delivery, pending delete sets, maps, arrays, nested types,
 * XML, formatting deltas, surrogate pairs split by edits, snapshots, contains-update,
 * diffs against state vectors and merging updates.
 */
#include "crdt_test_util.h"

/* The set-up of yjs-format.md section 9: client 1 types "abc"; client 2 receives it,
 * inserts "X" at 1 and deletes "c"; client 1 sets m.k = 42 and then receives client 2's
 * edits. Returns client 1's document. */
static crdt_doc *worked_example(void)
{
    crdt_doc *c1 = test_doc(1, 1), *c2 = test_doc(2, 1);
    test_bytes u1, u2, u3;
    assert_int_equal(crdt_text_insert(c1, "text", 0, "abc", 3, NULL, &u1.p, &u1.n), CRDT_OK);
    test_apply(c2, u1, CRDT_APPLIED);
    assert_int_equal(crdt_text_insert(c2, "text", 1, "X", 1, NULL, &u2.p, &u2.n), CRDT_OK);
    assert_int_equal(crdt_text_delete(c2, "text", 3, 1, &u3.p, &u3.n), CRDT_OK);
    assert_int_equal(crdt_map_set(c1, "m", "k", "42", NULL, NULL), CRDT_OK);
    test_apply(c1, u2, CRDT_APPLIED);
    test_apply(c1, u3, CRDT_APPLIED);
    test_assert_text(c1, "text", "aXb");
    test_assert_text(c2, "text", "aXb");
    free(u1.p);
    free(u2.p);
    free(u3.p);
    crdt_doc_free(c2);
    return c1;
}

static void test_worked_example_bytes(void **state)
{
    (void)state;
    crdt_doc *d = worked_example();
    test_bytes v1 = test_state(d);
    test_assert_bytes(v1, "02 01 02 00 c4 01 00 01 01 01 58 04 01 00 04 01 04 74 65 78 74 01 61"
                          "84 01 00 01 62 81 01 01 01 28 01 01 6d 01 6b 01 7d 2a"
                          "01 01 01 02 01");
    test_bytes v2 = {0};
    assert_int_equal(crdt_encode_state_v2(d, NULL, 0, &v2.p, &v2.n), CRDT_OK);
    test_assert_bytes(v2, "00 00 03 02 41 03 03 01 00 02 01 02 09 c4 00 04 00 84 00 81 00 28"
                          "0e 09 58 74 65 78 74 61 62 6d 6b 01 04 41 02 01 01 00 02 41 00"
                          "02 01 00 04 00 7d 2a 01 01 01 02 00");
    test_bytes sv = test_sv(d);
    test_assert_bytes(sv, "02 02 01 01 04");
    char *json;
    assert_int_equal(crdt_read_map_json(d, "m", NULL, 0, &json), CRDT_OK);
    assert_string_equal(json, "{\"k\":42}");
    free(json);
    assert_int_equal(crdt_state_vector_json(d, &json), CRDT_OK);
    assert_string_equal(json, "{\"1\":4,\"2\":1}");
    free(json);
    free(v1.p);
    free(v2.p);
    free(sv.p);
    crdt_doc_free(d);
}

static void test_incremental_update_bytes(void **state)
{
    (void)state;
    crdt_doc *d = test_doc(7, 1);
    test_bytes u;
    assert_int_equal(crdt_text_insert(d, "text", 0, "hi", 2, NULL, &u.p, &u.n), CRDT_OK);
    test_assert_bytes(u, "01 01 07 00 04 01 04 74 65 78 74 02 68 69 00");
    free(u.p);
    crdt_doc_free(d);
}

/* A document using every kind of content the edit API makes. */
static crdt_doc *rich_doc(uint64_t client, int gc)
{
    crdt_doc *d = test_doc(client, gc);
    const char *text = "h\xc3\xa9llo \xf0\x9f\x98\x80 world";
    assert_int_equal(crdt_text_insert(d, "t", 0, text, strlen(text), NULL, NULL, NULL), CRDT_OK);
    assert_int_equal(crdt_text_format(d, "t", 0, 5, "{\"bold\":true}", NULL, NULL), CRDT_OK);
    assert_int_equal(crdt_text_delete(d, "t", 6, 3, NULL, NULL), CRDT_OK);
    assert_int_equal(crdt_map_set(d, "m", "b", "[1,\"two\",{\"3\":null}]", NULL, NULL), CRDT_OK);
    assert_int_equal(crdt_map_set(d, "m", "a", "0.5", NULL, NULL), CRDT_OK);
    assert_int_equal(crdt_map_set(d, "m", "b", "\"again\"", NULL, NULL), CRDT_OK);
    assert_int_equal(crdt_array_insert(d, "a", 0, "[1,2,3,4]", NULL, NULL), CRDT_OK);
    assert_int_equal(crdt_array_insert(d, "a", 2, "[\"x\"]", NULL, NULL), CRDT_OK);
    assert_int_equal(crdt_array_delete(d, "a", 0, 1, NULL, NULL), CRDT_OK);
    return d;
}

static void assert_rich_content(const crdt_doc *d)
{
    test_assert_text(d, "t", "h\xc3\xa9llo world");
    char *s;
    assert_int_equal(crdt_read_delta(d, "t", NULL, 0, &s), CRDT_OK);
    assert_string_equal(s, "[{\"insert\":\"h\xc3\xa9llo\",\"attributes\":{\"bold\":true}},"
                           "{\"insert\":\" world\"}]");
    free(s);
    assert_int_equal(crdt_read_map_json(d, "m", NULL, 0, &s), CRDT_OK);
    assert_string_equal(s, "{\"b\":\"again\",\"a\":0.5}");
    free(s);
    assert_int_equal(crdt_read_array_json(d, "a", NULL, 0, &s), CRDT_OK);
    assert_string_equal(s, "[2,\"x\",3,4]");
    free(s);
}

static void test_round_trip_v1_and_v2(void **state)
{
    (void)state;
    for (int gc = 0; gc <= 1; gc++) {
        crdt_doc *d = rich_doc(5, gc);
        assert_rich_content(d);
        test_bytes v1 = test_state(d), v2 = {0};
        assert_int_equal(crdt_encode_state_v2(d, NULL, 0, &v2.p, &v2.n), CRDT_OK);
        crdt_doc *a = test_doc(9, gc), *b = test_doc(9, gc);
        test_apply(a, v1, CRDT_APPLIED);
        crdt_apply_result r;
        assert_int_equal(crdt_apply_update_v2(b, v2.p, v2.n, &r), CRDT_OK);
        assert_int_equal(r, CRDT_APPLIED);
        assert_rich_content(a);
        assert_rich_content(b);
        test_assert_same_state(a, d);
        test_assert_same_state(b, d);
        /* Converted updates describe the same document. (Bytes may differ in the
         * parentSub flag, which decoded items with an origin do not carry, as in Yjs.) */
        test_bytes c = {0}, back = {0};
        assert_int_equal(crdt_convert_v1_to_v2(v1.p, v1.n, NULL, &c.p, &c.n), CRDT_OK);
        assert_int_equal(crdt_convert_v2_to_v1(c.p, c.n, NULL, &back.p, &back.n), CRDT_OK);
        crdt_doc *from_v2 = test_doc(9, gc), *from_back = test_doc(9, gc);
        assert_int_equal(crdt_apply_update_v2(from_v2, c.p, c.n, &r), CRDT_OK);
        test_apply(from_back, back, CRDT_APPLIED);
        test_assert_same_state(from_v2, d);
        test_assert_same_state(from_back, d);
        crdt_doc_free(from_v2);
        crdt_doc_free(from_back);
        free(c.p);
        free(back.p);
        free(v1.p);
        free(v2.p);
        crdt_doc_free(a);
        crdt_doc_free(b);
        crdt_doc_free(d);
    }
}

static void test_concurrent_inserts_converge(void **state)
{
    (void)state;
    /* Three clients insert at the same place concurrently: Yjs orders items with the same
     * origin by ascending client id, whatever the delivery order. */
    crdt_doc *docs[3];
    test_bytes ups[3];
    const char *texts[3] = {"C", "A", "B"};
    const uint64_t ids[3] = {30, 10, 20};
    crdt_doc *base = test_doc(1, 1);
    test_bytes u0;
    assert_int_equal(crdt_text_insert(base, "t", 0, "[]", 2, NULL, &u0.p, &u0.n), CRDT_OK);
    for (int i = 0; i < 3; i++) {
        docs[i] = test_doc(ids[i], 1);
        test_apply(docs[i], u0, CRDT_APPLIED);
        assert_int_equal(crdt_text_insert(docs[i], "t", 1, texts[i], 1, NULL, &ups[i].p, &ups[i].n),
                         CRDT_OK);
    }
    /* Each replica receives the other two in its own order: 30 gets 20 then 10, 10 gets 30
     * then 20, 20 gets 10 then 30. */
    const int delivery[3][2] = {{2, 1}, {0, 2}, {1, 0}};
    for (int i = 0; i < 3; i++)
        for (int k = 0; k < 2; k++)
            test_apply(docs[i], ups[delivery[i][k]], CRDT_APPLIED);
    for (int i = 0; i < 3; i++)
        test_assert_text(docs[i], "t", "[ABC]");
    test_assert_same_state(docs[0], docs[1]);
    test_assert_same_state(docs[1], docs[2]);
    for (int i = 0; i < 3; i++) {
        free(ups[i].p);
        crdt_doc_free(docs[i]);
    }
    free(u0.p);
    crdt_doc_free(base);
}

/* An update may carry two blocks for one client; as in Yjs (a Map keyed by client), the
 * later one replaces the earlier, whatever order the C library's qsort leaves equal keys in.
 * Yjs gives "second" for (first, second) and "first" for (second, first). */
static void test_later_block_for_same_client_wins(void **state)
{
    (void)state;
    const char *texts[2] = {"first", "second"};
    test_bytes ups[2];
    for (int i = 0; i < 2; i++) {
        crdt_doc *d = test_doc(5, 1);
        assert_int_equal(
            crdt_text_insert(d, "t", 0, texts[i], strlen(texts[i]), NULL, &ups[i].p, &ups[i].n),
            CRDT_OK);
        /* One client, its block, an empty delete set. */
        assert_int_equal(ups[i].p[0], 1);
        assert_int_equal(ups[i].p[ups[i].n - 1], 0);
        crdt_doc_free(d);
    }
    for (int later = 0; later < 2; later++) {
        const test_bytes *a = &ups[1 - later], *b = &ups[later];
        size_t na = a->n - 2, nb = b->n - 2;
        test_bytes both = {malloc(na + nb + 2), na + nb + 2};
        assert_non_null(both.p);
        both.p[0] = 2;
        memcpy(both.p + 1, a->p + 1, na);
        memcpy(both.p + 1 + na, b->p + 1, nb);
        both.p[1 + na + nb] = 0;
        crdt_doc *d = test_doc(9, 1);
        test_apply(d, both, CRDT_APPLIED);
        test_assert_text(d, "t", texts[later]);
        free(both.p);
        crdt_doc_free(d);
    }
    free(ups[0].p);
    free(ups[1].p);
}

static void test_concurrent_map_writes(void **state)
{
    (void)state;
    crdt_doc *a = test_doc(100, 1), *b = test_doc(200, 1);
    test_bytes ua, ub;
    assert_int_equal(crdt_map_set(a, "m", "k", "\"from a\"", &ua.p, &ua.n), CRDT_OK);
    assert_int_equal(crdt_map_set(b, "m", "k", "\"from b\"", &ub.p, &ub.n), CRDT_OK);
    test_apply(a, ub, CRDT_APPLIED);
    test_apply(b, ua, CRDT_APPLIED);
    /* The higher client id wins a concurrent write to the same key. */
    char *s;
    assert_int_equal(crdt_read_map_json(a, "m", NULL, 0, &s), CRDT_OK);
    assert_string_equal(s, "{\"k\":\"from b\"}");
    free(s);
    test_assert_same_state(a, b);
    test_bytes ud;
    assert_int_equal(crdt_map_delete(a, "m", "k", &ud.p, &ud.n), CRDT_OK);
    test_apply(b, ud, CRDT_APPLIED);
    assert_int_equal(crdt_read_map_json(b, "m", NULL, 0, &s), CRDT_OK);
    assert_string_equal(s, "{}");
    free(s);
    free(ua.p);
    free(ub.p);
    free(ud.p);
    crdt_doc_free(a);
    crdt_doc_free(b);
}

/* Five single-edit updates of one client. */
static void five_edits(test_bytes ups[5])
{
    crdt_doc *src = test_doc(3, 1);
    assert_int_equal(crdt_text_insert(src, "t", 0, "abc", 3, NULL, &ups[0].p, &ups[0].n), CRDT_OK);
    assert_int_equal(crdt_text_insert(src, "t", 3, "def", 3, NULL, &ups[1].p, &ups[1].n), CRDT_OK);
    assert_int_equal(crdt_text_delete(src, "t", 1, 2, &ups[2].p, &ups[2].n), CRDT_OK);
    assert_int_equal(crdt_text_insert(src, "t", 0, ">", 1, NULL, &ups[3].p, &ups[3].n), CRDT_OK);
    assert_int_equal(crdt_text_delete(src, "t", 4, 1, &ups[4].p, &ups[4].n), CRDT_OK);
    test_assert_text(src, "t", ">ade");
    crdt_doc_free(src);
}

static void test_out_of_order_and_duplicates(void **state)
{
    (void)state;
    test_bytes ups[5];
    five_edits(ups);
    crdt_doc *d = test_doc(9, 1);
    test_apply(d, ups[4], CRDT_PENDING); /* deletes clock 5 (not there yet) */
    test_apply(d, ups[3], CRDT_PENDING); /* needs clocks 0..5 first */
    test_apply(d, ups[1], CRDT_PENDING);
    test_assert_text(d, "t", "");
    /* The pending parts are part of the encoded state, like in Yjs. */
    test_bytes pending_state = test_state(d);
    test_apply(d, ups[0], CRDT_APPLIED); /* unblocks 1, 3 and the deletion in 4 */
    test_assert_text(d, "t", ">abcde");
    test_apply(d, ups[2], CRDT_APPLIED);
    test_assert_text(d, "t", ">ade");
    for (int i = 0; i < 5; i++)
        test_apply(d, ups[i], CRDT_DUPLICATE);
    test_assert_text(d, "t", ">ade");

    crdt_doc *e = test_doc(9, 1);
    test_apply(e, pending_state, CRDT_PENDING);
    test_apply(e, ups[0], CRDT_APPLIED);
    test_apply(e, ups[2], CRDT_APPLIED);
    test_assert_text(e, "t", ">ade");
    test_assert_same_state(d, e);
    for (int i = 0; i < 5; i++)
        free(ups[i].p);
    free(pending_state.p);
    crdt_doc_free(d);
    crdt_doc_free(e);
}

static void test_reverse_delivery_chain(void **state)
{
    (void)state;
    /* 300 typed characters delivered newest first: everything waits until the first one
     * arrives, then the whole chain integrates. */
    enum { N = 300 };
    test_bytes ups[N];
    crdt_doc *src = test_doc(6, 1);
    for (int i = 0; i < N; i++) {
        char c = (char)('a' + i % 26);
        assert_int_equal(crdt_text_insert(src, "t", (uint64_t)i, &c, 1, NULL, &ups[i].p, &ups[i].n),
                         CRDT_OK);
    }
    crdt_doc *d = test_doc(9, 1);
    for (int i = N - 1; i > 0; i--)
        test_apply(d, ups[i], CRDT_PENDING);
    assert_true(crdt_doc_has_pending(d));
    test_assert_text(d, "t", "");
    test_apply(d, ups[0], CRDT_APPLIED);
    assert_false(crdt_doc_has_pending(d));
    test_assert_same_state(d, src);
    for (int i = 0; i < N; i++)
        free(ups[i].p);
    crdt_doc_free(src);
    crdt_doc_free(d);
}

static void test_pending_delete_set(void **state)
{
    (void)state;
    crdt_doc *src = test_doc(4, 1);
    test_bytes ins, del;
    assert_int_equal(crdt_text_insert(src, "t", 0, "hello", 5, NULL, &ins.p, &ins.n), CRDT_OK);
    assert_int_equal(crdt_text_delete(src, "t", 0, 4, &del.p, &del.n), CRDT_OK);
    crdt_doc *d = test_doc(8, 1);
    test_apply(d, del, CRDT_PENDING);
    int contained = 1;
    assert_int_equal(crdt_contains_update(d, del.p, del.n, &contained), CRDT_OK);
    assert_false(contained);
    test_apply(d, ins, CRDT_APPLIED);
    test_assert_text(d, "t", "o");
    assert_int_equal(crdt_contains_update(d, del.p, del.n, &contained), CRDT_OK);
    assert_true(contained);
    test_assert_same_state(d, src);
    free(ins.p);
    free(del.p);
    crdt_doc_free(src);
    crdt_doc_free(d);
}

static void test_contains_update(void **state)
{
    (void)state;
    test_bytes ups[5];
    five_edits(ups);
    crdt_doc *d = test_doc(9, 1);
    test_apply(d, ups[0], CRDT_APPLIED);
    int yes = -1;
    assert_int_equal(crdt_contains_update(d, ups[0].p, ups[0].n, &yes), CRDT_OK);
    assert_int_equal(yes, 1);
    assert_int_equal(crdt_contains_update(d, ups[1].p, ups[1].n, &yes), CRDT_OK);
    assert_int_equal(yes, 0);
    test_apply(d, ups[1], CRDT_APPLIED);
    assert_int_equal(crdt_contains_update(d, ups[2].p, ups[2].n, &yes), CRDT_OK);
    assert_int_equal(yes, 0); /* a deletion not applied yet */
    test_apply(d, ups[2], CRDT_APPLIED);
    assert_int_equal(crdt_contains_update(d, ups[2].p, ups[2].n, &yes), CRDT_OK);
    assert_int_equal(yes, 1);
    for (int i = 0; i < 5; i++)
        free(ups[i].p);
    crdt_doc_free(d);
}

static void test_diff_against_state_vector(void **state)
{
    (void)state;
    test_bytes ups[5];
    five_edits(ups);
    crdt_doc *full = test_doc(9, 1), *partial = test_doc(9, 1);
    for (int i = 0; i < 5; i++)
        test_apply(full, ups[i], CRDT_APPLIED);
    test_apply(partial, ups[0], CRDT_APPLIED);
    test_bytes sv = test_sv(partial), diff = {0};
    assert_int_equal(crdt_encode_state(full, sv.p, sv.n, &diff.p, &diff.n), CRDT_OK);
    test_bytes whole = test_state(full);
    assert_true(diff.n < whole.n);
    test_apply(partial, diff, CRDT_APPLIED);
    test_assert_text(partial, "t", ">ade");
    test_assert_same_state(partial, full);
    /* Against its own state vector, only the delete set remains. */
    test_bytes own = test_sv(full), nothing = {0};
    assert_int_equal(crdt_encode_state(full, own.p, own.n, &nothing.p, &nothing.n), CRDT_OK);
    assert_int_equal(nothing.p[0], 0); /* no client blocks */
    test_apply(partial, nothing, CRDT_DUPLICATE);
    for (int i = 0; i < 5; i++)
        free(ups[i].p);
    free(sv.p);
    free(diff.p);
    free(whole.p);
    free(own.p);
    free(nothing.p);
    crdt_doc_free(full);
    crdt_doc_free(partial);
}

static void test_merge_updates(void **state)
{
    (void)state;
    test_bytes ups[5];
    five_edits(ups);
    const uint8_t *ptrs[5];
    size_t lens[5];
    for (int i = 0; i < 5; i++) {
        ptrs[i] = ups[i].p;
        lens[i] = ups[i].n;
    }
    test_bytes merged = {0};
    assert_int_equal(crdt_merge_updates(ptrs, lens, 5, NULL, &merged.p, &merged.n), CRDT_OK);
    crdt_doc *a = test_doc(9, 1), *b = test_doc(9, 1);
    test_apply(a, merged, CRDT_APPLIED);
    for (int i = 0; i < 5; i++)
        test_apply(b, ups[i], CRDT_APPLIED);
    test_assert_text(a, "t", ">ade");
    test_assert_same_state(a, b);
    /* Merging a gap (updates 0 and 3 without 1) keeps it as a Skip: the result waits. */
    const uint8_t *gap[2] = {ups[0].p, ups[3].p};
    size_t gap_lens[2] = {ups[0].n, ups[3].n};
    test_bytes holey = {0};
    assert_int_equal(crdt_merge_updates(gap, gap_lens, 2, NULL, &holey.p, &holey.n), CRDT_OK);
    crdt_doc *c = test_doc(9, 1);
    test_apply(c, holey, CRDT_PENDING);
    test_assert_text(c, "t", "abc");
    test_apply(c, ups[1], CRDT_APPLIED);
    test_assert_text(c, "t", ">abcdef");
    for (int i = 0; i < 5; i++)
        free(ups[i].p);
    free(merged.p);
    free(holey.p);
    crdt_doc_free(a);
    crdt_doc_free(b);
    crdt_doc_free(c);
}

static void test_nested_types_and_gc(void **state)
{
    (void)state;
    /* Client 1: root array "a" holds a Y.Map (1,0) with k = 7. */
    test_bytes nested = test_hex("01 02 01 00 | 07 01 01 61 01 | 28 00 01 00 01 6b 01 7d 07 | 00");
    /* Deleting the map, and later an item written into the deleted map. */
    test_bytes del = test_hex("00 01 01 01 00 01");
    test_bytes late = test_hex("01 01 02 00 | 28 00 01 00 01 6a 01 7d 08 | 00");
    for (int gc = 0; gc <= 1; gc++) {
        crdt_doc *d = test_doc(9, gc);
        test_apply(d, nested, CRDT_APPLIED);
        char *s;
        assert_int_equal(crdt_read_array_json(d, "a", NULL, 0, &s), CRDT_OK);
        assert_string_equal(s, "[{\"k\":7}]");
        free(s);
        test_bytes snap = {0};
        assert_int_equal(crdt_snapshot_encode(d, &snap.p, &snap.n), CRDT_OK);
        test_apply(d, del, CRDT_APPLIED);
        test_apply(d, late, CRDT_APPLIED);
        assert_int_equal(crdt_read_array_json(d, "a", NULL, 0, &s), CRDT_OK);
        assert_string_equal(s, "[]");
        free(s);
        /* Without gc the snapshot still shows the map; with gc its content is gone. */
        assert_int_equal(crdt_read_array_json(d, "a", snap.p, snap.n, &s), CRDT_OK);
        assert_string_equal(s, gc ? "[]" : "[{\"k\":7}]");
        free(s);
        /* The state round-trips either way. */
        test_bytes st = test_state(d);
        crdt_doc *e = test_doc(9, gc);
        test_apply(e, st, CRDT_APPLIED);
        test_assert_same_state(d, e);
        free(st.p);
        free(snap.p);
        crdt_doc_free(e);
        crdt_doc_free(d);
    }
    free(nested.p);
    free(del.p);
    free(late.p);
}

static void test_every_content_kind(void **state)
{
    (void)state;
    /* Root array "a" holding ContentJSON [1, undefined], ContentBinary [1,2], ContentEmbed
     * {"x":1} and a sub-document (guid "g", opts {}); then a Y.Text, a Y.Map and a Y.Array
     * nested in map "m", each with content. */
    test_bytes u = test_hex("02 | 04 01 00"
                            "| 02 01 01 61 02 01 31 09 75 6e 64 65 66 69 6e 65 64"
                            "| 83 01 01 02 01 02"
                            "| 85 01 02 07 7b 22 78 22 3a 31 7d"
                            "| 89 01 03 01 67 76 00"
                            "| 06 02 00"
                            "| 27 01 01 6d 01 74 02"       /* m.t = Y.Text */
                            "| 04 00 02 00 02 68 69"       /* "hi" in it */
                            "| 27 01 01 6d 01 61 00"       /* m.a = Y.Array */
                            "| 08 00 02 03 02 78 7d 05"    /* [true, 5] in (2,3) */
                            "| 27 01 01 6d 01 6d 01"       /* m.m = Y.Map */
                            "| 28 00 02 06 01 6b 01 76 00" /* m.m.k = {} in (2,6) */
                            "| 00");
    crdt_doc *d = test_doc(9, 1);
    test_apply(d, u, CRDT_APPLIED);
    char *s;
    assert_int_equal(crdt_read_array_json(d, "a", NULL, 0, &s), CRDT_OK);
    assert_string_equal(s, "[1,null,[1,2],{\"x\":1},{}]");
    free(s);
    assert_int_equal(crdt_read_map_json(d, "m", NULL, 0, &s), CRDT_OK);
    assert_string_equal(s, "{\"t\":\"hi\",\"a\":[true,5],\"m\":{\"k\":{}}}");
    free(s);
    test_bytes v1 = test_state(d), v2 = {0};
    assert_int_equal(crdt_encode_state_v2(d, NULL, 0, &v2.p, &v2.n), CRDT_OK);
    crdt_doc *a = test_doc(9, 1), *b = test_doc(9, 1);
    test_apply(a, v1, CRDT_APPLIED);
    assert_int_equal(crdt_apply_update_v2(b, v2.p, v2.n, NULL), CRDT_OK);
    test_assert_same_state(a, d);
    test_assert_same_state(b, d);
    free(u.p);
    free(v1.p);
    free(v2.p);
    crdt_doc_free(a);
    crdt_doc_free(b);
    crdt_doc_free(d);
}

static void test_xml_fragment_string(void **state)
{
    (void)state;
    /* Root fragment "x" <- XmlElement "P" (1,0) with class="c", holding an XmlText (1,2)
     * with "hi" bold-formatted, then a second XmlText child "!". */
    test_bytes u = test_hex("01 07 01 00"
                            "| 07 01 01 78 03 01 50"                      /* XmlElement P in x */
                            "| 28 00 01 00 05 63 6c 61 73 73 01 77 01 63" /* class="c" */
                            "| 07 00 01 00 06"                            /* XmlText in (1,0) */
                            "| 06 00 01 02 04 62 6f 6c 64 04 74 72 75 65" /* bold=true */
                            "| 84 01 03 02 68 69"                         /* "hi" */
                            "| 86 01 05 04 62 6f 6c 64 04 6e 75 6c 6c"    /* bold=null */
                            "| 87 01 00 06"                               /* XmlText after P */
                            "| 00");
    crdt_doc *d = test_doc(9, 1);
    test_apply(d, u, CRDT_APPLIED);
    char *s;
    assert_int_equal(crdt_read_xml(d, "x", NULL, 0, &s), CRDT_OK);
    assert_string_equal(s, "<p class=\"c\"><bold>hi</bold></p>");
    free(s);
    free(u.p);
    crdt_doc_free(d);
}

/* Text and XML may hold U+0000: the _len readers must hand back all of it, and the plain
 * readers still return the same bytes (only strlen would stop early). */
static void test_read_with_nul(void **state)
{
    (void)state;
    crdt_doc *d = test_doc(1, 1);
    assert_int_equal(crdt_text_insert(d, "t", 0, "a\0b\0", 4, NULL, NULL, NULL), CRDT_OK);
    assert_int_equal(crdt_text_insert(d, "t", 2, "\xc3\xa9", 2, NULL, NULL, NULL), CRDT_OK);
    char *s = NULL;
    size_t n = 0;
    assert_int_equal(crdt_read_text_len(d, "t", NULL, 0, &s, &n), CRDT_OK);
    assert_int_equal(n, 6);
    assert_memory_equal(s,
                        "a\0\xc3\xa9"
                        "b\0",
                        7); /* 6 bytes and the terminating NUL */
    free(s);
    assert_int_equal(crdt_read_text(d, "t", NULL, 0, &s), CRDT_OK);
    assert_memory_equal(s,
                        "a\0\xc3\xa9"
                        "b\0",
                        7);
    free(s);
    /* A root never written reads as empty, with length 0. */
    n = 99;
    assert_int_equal(crdt_read_text_len(d, "none", NULL, 0, &s, &n), CRDT_OK);
    assert_int_equal(n, 0);
    assert_string_equal(s, "");
    free(s);
    s = NULL;
    assert_int_equal(crdt_read_text_len(d, "t", NULL, 0, &s, NULL), CRDT_ERR_ARG);
    assert_null(s);
    crdt_doc_free(d);

    /* Made by Yjs 13.6 (client 1): fragment "x" holding <p data-x="a\0b"> with the XmlText
     * "c\0d"; Yjs's toString() is "<p data-x=\"a\0b\">c\0d</p>". */
    test_bytes u = test_hex("01 04 01 00"
                            "| 07 01 01 78 03 01 70"                               /* <p> in x */
                            "| 07 00 01 00 06"                                     /* XmlText */
                            "| 04 00 01 01 03 63 00 64"                            /* "c\0d" */
                            "| 28 00 01 00 06 64 61 74 61 2d 78 01 77 03 61 00 62" /* data-x */
                            "| 00");
    d = test_doc(9, 1);
    test_apply(d, u, CRDT_APPLIED);
    static const char want[] = "<p data-x=\"a\0b\">c\0d</p>";
    assert_int_equal(crdt_read_xml_len(d, "x", NULL, 0, &s, &n), CRDT_OK);
    assert_int_equal(n, sizeof(want) - 1);
    assert_memory_equal(s, want, sizeof(want));
    free(s);
    s = NULL;
    assert_int_equal(crdt_read_xml_len(d, "x", NULL, 0, &s, NULL), CRDT_ERR_ARG);
    assert_null(s);
    free(u.p);
    crdt_doc_free(d);
}

static void test_formatting_delta(void **state)
{
    (void)state;
    crdt_doc *d = test_doc(1, 1);
    assert_int_equal(crdt_text_insert(d, "t", 0, "hello world", 11, NULL, NULL, NULL), CRDT_OK);
    assert_int_equal(crdt_text_format(d, "t", 0, 5, "{\"bold\":true}", NULL, NULL), CRDT_OK);
    assert_int_equal(crdt_text_format(d, "t", 3, 5, "{\"italic\":true}", NULL, NULL), CRDT_OK);
    assert_int_equal(crdt_text_insert(d, "t", 11, "!", 1, "{\"link\":\"u\"}", NULL, NULL), CRDT_OK);
    char *s;
    assert_int_equal(crdt_read_delta(d, "t", NULL, 0, &s), CRDT_OK);
    assert_string_equal(s, "[{\"insert\":\"hel\",\"attributes\":{\"bold\":true}},"
                           "{\"insert\":\"lo\",\"attributes\":{\"bold\":true,\"italic\":true}},"
                           "{\"insert\":\" wo\",\"attributes\":{\"italic\":true}},"
                           "{\"insert\":\"rld\"},"
                           "{\"insert\":\"!\",\"attributes\":{\"link\":\"u\"}}]");
    free(s);
    test_assert_text(d, "t", "hello world!");
    /* Removing a format with null. */
    assert_int_equal(crdt_text_format(d, "t", 0, 11, "{\"bold\":null,\"italic\":null}", NULL, NULL),
                     CRDT_OK);
    assert_int_equal(crdt_read_delta(d, "t", NULL, 0, &s), CRDT_OK);
    assert_string_equal(s, "[{\"insert\":\"hello world\"},"
                           "{\"insert\":\"!\",\"attributes\":{\"link\":\"u\"}}]");
    free(s);
    crdt_doc_free(d);
}

static void test_surrogate_split(void **state)
{
    (void)state;
    crdt_doc *d = test_doc(1, 1);
    /* "a😀b": the emoji is two UTF-16 units; inserting between them splits the pair and
     * Yjs replaces both halves with U+FFFD. */
    assert_int_equal(crdt_text_insert(d, "t", 0,
                                      "a\xf0\x9f\x98\x80"
                                      "b",
                                      6, NULL, NULL, NULL),
                     CRDT_OK);
    test_bytes u;
    assert_int_equal(crdt_text_insert(d, "t", 2, "X", 1, NULL, &u.p, &u.n), CRDT_OK);
    test_assert_text(d, "t",
                     "a\xef\xbf\xbdX\xef\xbf\xbd"
                     "b");
    /* A peer receiving both updates agrees. */
    test_bytes st = test_state(d);
    crdt_doc *e = test_doc(2, 1);
    test_apply(e, st, CRDT_APPLIED);
    test_assert_text(e, "t",
                     "a\xef\xbf\xbdX\xef\xbf\xbd"
                     "b");
    free(st.p);
    free(u.p);
    crdt_doc_free(e);
    crdt_doc_free(d);
}

static void test_snapshot_reads(void **state)
{
    (void)state;
    crdt_doc *d = test_doc(1, 0);
    assert_int_equal(crdt_text_insert(d, "t", 0, "abc", 3, NULL, NULL, NULL), CRDT_OK);
    assert_int_equal(crdt_map_set(d, "m", "k", "1", NULL, NULL), CRDT_OK);
    test_bytes s1 = {0};
    assert_int_equal(crdt_snapshot_encode(d, &s1.p, &s1.n), CRDT_OK);
    assert_int_equal(crdt_text_delete(d, "t", 1, 1, NULL, NULL), CRDT_OK);
    assert_int_equal(crdt_text_insert(d, "t", 1, "XY", 2, NULL, NULL, NULL), CRDT_OK);
    assert_int_equal(crdt_map_set(d, "m", "k", "2", NULL, NULL), CRDT_OK);
    assert_int_equal(crdt_map_set(d, "m", "new", "3", NULL, NULL), CRDT_OK);
    test_assert_text(d, "t", "aXYc");
    char *s;
    assert_int_equal(crdt_read_text(d, "t", s1.p, s1.n, &s), CRDT_OK);
    assert_string_equal(s, "abc");
    free(s);
    assert_int_equal(crdt_read_map_json(d, "m", s1.p, s1.n, &s), CRDT_OK);
    assert_string_equal(s, "{\"k\":1}");
    free(s);
    assert_int_equal(crdt_read_delta(d, "t", s1.p, s1.n, &s), CRDT_OK);
    assert_string_equal(s, "[{\"insert\":\"abc\"}]");
    free(s);
    /* A snapshot in the middle of merged items: "aX" + "Yc" split at clock boundaries. */
    test_bytes s2 = {0};
    assert_int_equal(crdt_snapshot_encode(d, &s2.p, &s2.n), CRDT_OK);
    assert_int_equal(crdt_read_text(d, "t", s2.p, s2.n, &s), CRDT_OK);
    assert_string_equal(s, "aXYc");
    free(s);
    assert_int_equal(crdt_read_text(d, "t", (const uint8_t *)"\x05", 1, &s), CRDT_ERR_TRUNCATED);
    free(s1.p);
    free(s2.p);
    crdt_doc_free(d);
}

static void test_roots_read_as_empty(void **state)
{
    (void)state;
    crdt_doc *d = test_doc(1, 1);
    char *s;
    assert_int_equal(crdt_read_xml(d, "none", NULL, 0, &s), CRDT_OK);
    assert_string_equal(s, "");
    free(s);
    assert_int_equal(crdt_read_array_json(d, "none", NULL, 0, &s), CRDT_OK);
    assert_string_equal(s, "[]");
    free(s);
    assert_int_equal(crdt_read_map_json(d, "none", NULL, 0, &s), CRDT_OK);
    assert_string_equal(s, "{}");
    free(s);
    assert_int_equal(crdt_read_delta(d, "none", NULL, 0, &s), CRDT_OK);
    assert_string_equal(s, "[]");
    free(s);
    crdt_doc_free(d);
}

static void test_client_id_collision(void **state)
{
    (void)state;
    /* Two replicas that picked the same client id: receiving structs of our own id makes the
     * document move to a new id, so its next edits do not collide (as in Yjs). */
    crdt_doc *a = test_doc(5, 1), *b = test_doc(5, 1);
    test_bytes ua, ub;
    assert_int_equal(crdt_text_insert(a, "t", 0, "a", 1, NULL, &ua.p, &ua.n), CRDT_OK);
    test_apply(b, ua, CRDT_APPLIED);
    assert_int_not_equal(crdt_doc_client_id(b), 5);
    assert_int_equal(crdt_doc_client_id(a), 5);
    assert_int_equal(crdt_text_insert(b, "t", 1, "b", 1, NULL, &ub.p, &ub.n), CRDT_OK);
    test_apply(a, ub, CRDT_APPLIED);
    test_assert_text(a, "t", "ab");
    test_assert_same_state(a, b);
    free(ua.p);
    free(ub.p);
    crdt_doc_free(a);
    crdt_doc_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_worked_example_bytes),
        cmocka_unit_test(test_incremental_update_bytes),
        cmocka_unit_test(test_round_trip_v1_and_v2),
        cmocka_unit_test(test_concurrent_inserts_converge),
        cmocka_unit_test(test_concurrent_map_writes),
        cmocka_unit_test(test_later_block_for_same_client_wins),
        cmocka_unit_test(test_out_of_order_and_duplicates),
        cmocka_unit_test(test_reverse_delivery_chain),
        cmocka_unit_test(test_pending_delete_set),
        cmocka_unit_test(test_contains_update),
        cmocka_unit_test(test_diff_against_state_vector),
        cmocka_unit_test(test_merge_updates),
        cmocka_unit_test(test_nested_types_and_gc),
        cmocka_unit_test(test_every_content_kind),
        cmocka_unit_test(test_xml_fragment_string),
        cmocka_unit_test(test_read_with_nul),
        cmocka_unit_test(test_formatting_delta),
        cmocka_unit_test(test_surrogate_split),
        cmocka_unit_test(test_snapshot_reads),
        cmocka_unit_test(test_roots_read_as_empty),
        cmocka_unit_test(test_client_id_collision),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
