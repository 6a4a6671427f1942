/*
 * test_crdt_errors.c - hostile and malformed input: every class is rejected with its error
 * code, the document stays exactly as it was and keeps working. Covers truncation at every
 * byte, corrupted bytes, absurd counts and lengths, huge clocks and client ids, deep
 * nesting, bad UTF-8, unknown refs, zero-length structs, self-references, the configurable
 * limits, invalid arguments and rejected edits.
 */
#include "crdt/lib0.h"
#include "crdt_test_util.h"

/* The 47-byte v1 update of yjs-format.md section 9, and its v2 form. */
static const char example_v1[] = "02 01 02 00 c4 01 00 01 01 01 58 04 01 00 04 01 04 74 65 78 74"
                                 "01 61 84 01 00 01 62 81 01 01 01 28 01 01 6d 01 6b 01 7d 2a"
                                 "01 01 01 02 01";
static const char example_v2[] = "00 00 03 02 41 03 03 01 00 02 01 02 09 c4 00 04 00 84 00 81 00"
                                 "28 0e 09 58 74 65 78 74 61 62 6d 6b 01 04 41 02 01 01 00 02 41"
                                 "00 02 01 00 04 00 7d 2a 01 01 01 02 00";

/* A document with some content of its own, to check that rejected input leaves it alone. */
static crdt_doc *busy_doc(crdt_options *o)
{
    crdt_doc *d = NULL;
    assert_int_equal(crdt_doc_new(o, &d), CRDT_OK);
    assert_int_equal(crdt_text_insert(d, "text", 0, "keep me", 7, NULL, NULL, NULL), CRDT_OK);
    assert_int_equal(crdt_map_set(d, "m", "k", "1", NULL, NULL), CRDT_OK);
    return d;
}

static crdt_doc *busy_default(void)
{
    crdt_options o;
    crdt_options_init(&o);
    o.client_id = 77;
    return busy_doc(&o);
}

/* Applies bad bytes, expects `want` (or any error when want == CRDT_OK), and checks the
 * document did not change and still works. */
static void expect_rejected(crdt_doc *d, const uint8_t *p, size_t n, int v2, crdt_status want)
{
    test_bytes before = test_state(d);
    crdt_apply_result r = 0;
    crdt_status st = v2 ? crdt_apply_update_v2(d, p, n, &r) : crdt_apply_update(d, p, n, &r);
    if (want == CRDT_OK)
        assert_int_not_equal(st, CRDT_OK);
    else
        assert_int_equal(st, want);
    test_bytes after = test_state(d);
    assert_int_equal(before.n, after.n);
    assert_memory_equal(before.p, after.p, before.n);
    free(before.p);
    free(after.p);
}

static void assert_still_works(crdt_doc *d)
{
    test_assert_text(d, "text", "keep me");
    assert_int_equal(crdt_text_insert(d, "text", 7, "!", 1, NULL, NULL, NULL), CRDT_OK);
    test_assert_text(d, "text", "keep me!");
}

static void test_truncated_at_every_byte(void **state)
{
    (void)state;
    const char *examples[2] = {example_v1, example_v2};
    for (int v2 = 0; v2 <= 1; v2++) {
        test_bytes u = test_hex(examples[v2]);
        crdt_doc *d = busy_default();
        for (size_t cut = 0; cut < u.n; cut++) {
            uint8_t *copy = malloc(cut ? cut : 1); /* exact size, so ASan sees overreads */
            memcpy(copy, u.p, cut);
            /* A v2 update cut inside its last column can still be well-formed (the rest
             * stream and the delete set are empty); everything else must fail. */
            crdt_apply_result r;
            test_bytes before = test_state(d);
            crdt_status st =
                v2 ? crdt_apply_update_v2(d, copy, cut, &r) : crdt_apply_update(d, copy, cut, &r);
            if (st == CRDT_OK) {
                assert_true(v2);
            } else {
                test_bytes after = test_state(d);
                assert_int_equal(before.n, after.n);
                assert_memory_equal(before.p, after.p, before.n);
                free(after.p);
            }
            free(before.p);
            free(copy);
        }
        crdt_doc_free(d);
        /* v1 prefixes never decode; check that on a fresh document too. */
        if (!v2) {
            d = busy_default();
            for (size_t cut = 0; cut < u.n; cut++)
                expect_rejected(d, u.p, cut, 0, CRDT_OK);
            assert_still_works(d);
            crdt_doc_free(d);
        }
        free(u.p);
    }
}

static void test_corrupted_bytes_never_crash(void **state)
{
    (void)state;
    const char *examples[2] = {example_v1, example_v2};
    for (int v2 = 0; v2 <= 1; v2++) {
        test_bytes u = test_hex(examples[v2]);
        for (size_t i = 0; i < u.n; i++) {
            static const uint8_t patterns[] = {0x00, 0x01, 0x7f, 0x80, 0xff, 0x41};
            for (size_t k = 0; k < sizeof(patterns); k++) {
                crdt_doc *d = busy_default();
                uint8_t *copy = malloc(u.n);
                memcpy(copy, u.p, u.n);
                copy[i] = patterns[k];
                test_bytes before = test_state(d);
                crdt_status st = v2 ? crdt_apply_update_v2(d, copy, u.n, NULL)
                                    : crdt_apply_update(d, copy, u.n, NULL);
                if (st != CRDT_OK) {
                    test_bytes after = test_state(d);
                    assert_int_equal(before.n, after.n);
                    assert_memory_equal(before.p, after.p, before.n);
                    free(after.p);
                }
                /* Whatever happened, the document is consistent: it round-trips. */
                test_bytes now = test_state(d);
                crdt_doc *e = test_doc(5, 1);
                assert_int_equal(crdt_apply_update(e, now.p, now.n, NULL), CRDT_OK);
                free(now.p);
                free(before.p);
                free(copy);
                crdt_doc_free(e);
                crdt_doc_free(d);
            }
        }
        free(u.p);
    }
}

static void test_absurd_counts_and_lengths(void **state)
{
    (void)state;
    crdt_doc *d = busy_default();
    /* 2^40 clients in a 7-byte update. */
    test_bytes u = test_hex("80 80 80 80 80 20 00");
    expect_rejected(d, u.p, u.n, 0, CRDT_ERR_TRUNCATED);
    free(u.p);
    /* One client claiming 2^35 structs. */
    u = test_hex("01 80 80 80 80 80 01 01 00 04 01 01 74 01 61 00");
    expect_rejected(d, u.p, u.n, 0, CRDT_ERR_TRUNCATED);
    free(u.p);
    /* A string claiming 2^28 bytes. */
    u = test_hex("01 01 01 00 04 01 01 74 80 80 80 80 01 61 00");
    expect_rejected(d, u.p, u.n, 0, CRDT_ERR_TRUNCATED);
    free(u.p);
    /* An Any content claiming 2^30 elements. */
    u = test_hex("01 01 01 00 08 01 01 74 80 80 80 80 04 7e 00");
    expect_rejected(d, u.p, u.n, 0, CRDT_ERR_TRUNCATED);
    free(u.p);
    /* A delete set with 2^30 ranges. */
    u = test_hex("00 01 01 80 80 80 80 04 00 01");
    expect_rejected(d, u.p, u.n, 0, CRDT_ERR_TRUNCATED);
    free(u.p);
    /* v2: the info column repeats forever, so the struct count is bounded by max_structs. */
    u = test_hex("00 | 00 | 01 01 | 00 | 00 | 01 01 | 02 00 00 | 00 | 00"
                 "| 07 41 80 80 80 80 80 01"        /* len column: 1, repeated 2^35 times */
                 "| 01 80 80 80 80 80 01 00 | 00"); /* 1 client with 2^35 Deleted structs */
    expect_rejected(d, u.p, u.n, 1, CRDT_ERR_LIMIT);
    free(u.p);
    assert_still_works(d);
    crdt_doc_free(d);
}

static void test_huge_clocks_and_client_ids(void **state)
{
    (void)state;
    crdt_doc *d = busy_default();
    /* Client id 2^53: beyond what JavaScript (and lib0) can represent. */
    test_bytes u = test_hex("01 01 80 80 80 80 80 80 80 10 00 04 01 01 74 01 61 00");
    expect_rejected(d, u.p, u.n, 0, CRDT_ERR_MALFORMED);
    free(u.p);
    /* A first clock of 2^53 - 1 plus a length of 1 passes max_clock. */
    u = test_hex("01 01 01 ff ff ff ff ff ff ff 0f 04 01 01 74 01 61 00");
    expect_rejected(d, u.p, u.n, 0, CRDT_ERR_LIMIT);
    free(u.p);
    /* A deletion range ending past max_clock. */
    u = test_hex("00 01 01 01 ff ff ff ff ff ff ff 0f 02");
    expect_rejected(d, u.p, u.n, 0, CRDT_ERR_LIMIT);
    free(u.p);
    crdt_doc_free(d);

    /* Configured limits are enforced too. */
    crdt_options o;
    crdt_options_init(&o);
    o.client_id = 7;
    o.limits.max_client_id = 1000;
    o.limits.max_clock = 100;
    d = busy_doc(&o);
    u = test_hex("01 01 e9 07 00 04 01 01 74 01 61 00"); /* client 1001 */
    expect_rejected(d, u.p, u.n, 0, CRDT_ERR_LIMIT);
    free(u.p);
    u = test_hex("01 01 05 65 04 01 01 74 01 61 00"); /* clock 101 */
    expect_rejected(d, u.p, u.n, 0, CRDT_ERR_LIMIT);
    free(u.p);
    assert_still_works(d);
    crdt_doc_free(d);
}

static void test_deep_nesting(void **state)
{
    (void)state;
    crdt_doc *d = busy_default();
    /* An Any value nested 1000 arrays deep. */
    size_t depth = 1000;
    test_bytes u = {malloc(16 + 2 * depth), 0};
    const uint8_t head[] = {0x01, 0x01, 0x09, 0x00, 0x08, 0x01, 0x01, 0x61, 0x01};
    memcpy(u.p, head, sizeof(head));
    u.n = sizeof(head);
    for (size_t i = 0; i < depth; i++) {
        u.p[u.n++] = 117; /* array */
        u.p[u.n++] = 1;   /* of one element */
    }
    u.p[u.n++] = 126; /* null */
    u.p[u.n++] = 0;   /* empty delete set */
    expect_rejected(d, u.p, u.n, 0, CRDT_ERR_LIMIT);
    free(u.p);

    /* Types nested 5000 deep are fine to store, deleting them works without recursion, and
     * reading them stops at max_depth with an error instead of overflowing the stack. */
    crdt_doc *n = test_doc(3, 1);
    crdt_buf b;
    crdt_buf_init(&b);
    size_t levels = 5000;
    crdt_buf_varuint(&b, 1);
    crdt_buf_varuint(&b, levels);
    crdt_buf_varuint(&b, 1);
    crdt_buf_varuint(&b, 0);
    crdt_buf_u8(&b, 0x07); /* Y.Array in root "a" */
    crdt_buf_varuint(&b, 1);
    crdt_buf_varbytes(&b, "a", 1);
    crdt_buf_varuint(&b, 0);
    for (size_t i = 1; i < levels; i++) {
        crdt_buf_u8(&b, 0x07); /* Y.Array inside the previous one */
        crdt_buf_varuint(&b, 0);
        crdt_buf_varuint(&b, 1);
        crdt_buf_varuint(&b, i - 1);
        crdt_buf_varuint(&b, 0);
    }
    crdt_buf_varuint(&b, 0);
    test_apply(n, (test_bytes){b.data, b.len}, CRDT_APPLIED);
    char *s = NULL;
    assert_int_equal(crdt_read_array_json(n, "a", NULL, 0, &s), CRDT_ERR_LIMIT);
    test_bytes del = test_hex("00 01 01 01 00 01");
    test_apply(n, del, CRDT_APPLIED);
    assert_int_equal(crdt_read_array_json(n, "a", NULL, 0, &s), CRDT_OK);
    assert_string_equal(s, "[]");
    free(s);
    free(del.p);
    crdt_buf_free(&b);
    crdt_doc_free(n);
    crdt_doc_free(d);
}

static void test_invalid_encodings(void **state)
{
    (void)state;
    crdt_doc *d = busy_default();
    struct {
        const char *hex;
        crdt_status want;
    } cases[] = {
        {"01 01 01 00 04 01 01 74 02 c3 28 00", CRDT_ERR_MALFORMED},    /* bad UTF-8 */
        {"01 01 01 00 0b 01 01 74 00", CRDT_ERR_MALFORMED},             /* content ref 11 */
        {"01 01 01 00 07 01 01 74 09 00", CRDT_ERR_MALFORMED},          /* type ref 9 */
        {"01 01 01 00 01 01 01 74 00 00", CRDT_ERR_MALFORMED},          /* Deleted of len 0 */
        {"01 01 01 00 04 01 01 74 00 00", CRDT_ERR_MALFORMED},          /* empty string */
        {"01 01 01 00 00 00 00", CRDT_ERR_MALFORMED},                   /* GC of len 0 */
        {"01 01 01 00 84 01 00 01 61 00", CRDT_ERR_MALFORMED},          /* origin = itself */
        {"01 01 01 00 05 01 01 74 03 7b 61 7d 00", CRDT_ERR_MALFORMED}, /* embed "{a}" */
        {"01 01 01 00 08 01 01 74 01 63 00", CRDT_ERR_MALFORMED},       /* any tag 99 */
        {"", CRDT_ERR_TRUNCATED},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        test_bytes u = test_hex(cases[i].hex);
        expect_rejected(d, u.p, u.n, 0, cases[i].want);
        free(u.p);
    }
    /* v2 with a string column shorter than its lengths claim. */
    test_bytes u = test_hex("00 00 01 05 00 00 01 04 04 01 61 01 05 01 01 00 00 01 01 00 00");
    expect_rejected(d, u.p, u.n, 1, CRDT_OK);
    free(u.p);
    assert_still_works(d);
    crdt_doc_free(d);
}

static void test_configured_limits(void **state)
{
    (void)state;
    crdt_options o;
    crdt_options_init(&o);
    o.client_id = 7;
    o.limits.max_update_bytes = 40;
    o.limits.max_structs = 3;
    o.limits.max_pending_structs = 2;
    crdt_doc *d = busy_doc(&o);
    test_bytes big = test_hex(example_v1); /* 47 bytes */
    expect_rejected(d, big.p, big.n, 0, CRDT_ERR_LIMIT);
    free(big.p);
    /* Four structs (and one range) > max_structs. */
    test_bytes many = test_hex("01 04 02 00 04 01 01 74 01 61 84 02 00 01 62 84 02 01 01 63"
                               "84 02 02 01 64 00");
    expect_rejected(d, many.p, many.n, 0, CRDT_ERR_LIMIT);
    free(many.p);
    /* Structs that wait for a missing predecessor count against max_pending_structs. */
    test_bytes gap = test_hex("01 03 02 05 04 01 01 74 01 61 84 02 05 01 62 84 02 06 01 63 00");
    crdt_status st = crdt_apply_update(d, gap.p, gap.n, NULL);
    assert_int_equal(st, CRDT_ERR_LIMIT);
    free(gap.p);
    assert_still_works(d);
    crdt_doc_free(d);
}

static void test_bad_arguments_and_edits(void **state)
{
    (void)state;
    crdt_doc *d = busy_default();
    test_bytes before = test_state(d);
    uint8_t *out;
    size_t n;
    char *s;
    assert_int_equal(crdt_apply_update(NULL, (const uint8_t *)"", 0, NULL), CRDT_ERR_ARG);
    assert_int_equal(crdt_encode_state(d, NULL, 0, NULL, &n), CRDT_ERR_ARG);
    assert_int_equal(crdt_read_text(d, NULL, NULL, 0, &s), CRDT_ERR_ARG);
    assert_int_equal(crdt_text_insert(d, "text", 99, "x", 1, NULL, &out, &n), CRDT_ERR_ARG);
    assert_int_equal(crdt_text_insert(d, "text", 0, "\xff", 1, NULL, &out, &n), CRDT_ERR_ARG);
    assert_int_equal(crdt_text_insert(d, "text", 0, "x", 1, "[1]", &out, &n), CRDT_ERR_ARG);
    assert_int_equal(crdt_text_insert(d, "text", 0, "x", 1, "{bad", &out, &n), CRDT_ERR_MALFORMED);
    assert_int_equal(crdt_text_delete(d, "text", 3, 10, &out, &n), CRDT_ERR_ARG);
    assert_int_equal(crdt_text_format(d, "text", 0, 99, "{\"b\":1}", &out, &n), CRDT_ERR_ARG);
    assert_int_equal(crdt_map_set(d, "m", "k", "nope", &out, &n), CRDT_ERR_MALFORMED);
    assert_int_equal(crdt_array_insert(d, "a", 1, "[1]", &out, &n), CRDT_ERR_ARG);
    assert_int_equal(crdt_array_insert(d, "a", 0, "{}", &out, &n), CRDT_ERR_ARG);
    assert_int_equal(crdt_array_delete(d, "a", 0, 1, &out, &n), CRDT_ERR_ARG);
    assert_int_equal(crdt_encode_state(d, (const uint8_t *)"\x03\x01", 2, &out, &n),
                     CRDT_ERR_TRUNCATED);
    test_bytes after = test_state(d);
    assert_int_equal(before.n, after.n);
    assert_memory_equal(before.p, after.p, before.n);
    free(before.p);
    free(after.p);
    /* Edits that change nothing emit an empty update. */
    assert_int_equal(crdt_map_delete(d, "m", "absent", &out, &n), CRDT_OK);
    assert_int_equal(n, 2);
    assert_int_equal(out[0], 0);
    assert_int_equal(out[1], 0);
    free(out);
    const crdt_status all[] = {
        CRDT_OK,        CRDT_ERR_NOMEM, CRDT_ERR_TRUNCATED, CRDT_ERR_MALFORMED,
        CRDT_ERR_LIMIT, CRDT_ERR_ARG,   CRDT_ERR_TYPE};
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
        assert_true(strlen(crdt_strerror(all[i])) > 0);
    assert_still_works(d);
    crdt_doc_free(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_truncated_at_every_byte),
        cmocka_unit_test(test_corrupted_bytes_never_crash),
        cmocka_unit_test(test_absurd_counts_and_lengths),
        cmocka_unit_test(test_huge_clocks_and_client_ids),
        cmocka_unit_test(test_deep_nesting),
        cmocka_unit_test(test_invalid_encodings),
        cmocka_unit_test(test_configured_limits),
        cmocka_unit_test(test_bad_arguments_and_edits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
