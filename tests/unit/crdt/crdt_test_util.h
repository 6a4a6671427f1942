/*
 * crdt_test_util.h - small helpers shared by the crdt engine's unit tests: documents with
 * a fixed client id, applying with an expected result, reading content, hex strings.
 * Every helper asserts through cmocka, so a failing helper fails the calling test.
 */
#ifndef CRDT_TEST_UTIL_H
#define CRDT_TEST_UTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "crdt/crdt.h"

typedef struct test_bytes {
    uint8_t *p; /* malloc'd */
    size_t n;
} test_bytes;

static inline crdt_doc *test_doc(uint64_t client, int gc)
{
    crdt_options o;
    crdt_options_init(&o);
    o.client_id = client;
    o.gc = gc;
    crdt_doc *d = NULL;
    assert_int_equal(crdt_doc_new(&o, &d), CRDT_OK);
    return d;
}

static inline void test_apply(crdt_doc *d, test_bytes u, crdt_apply_result expect)
{
    crdt_apply_result r = 0;
    assert_int_equal(crdt_apply_update(d, u.p, u.n, &r), CRDT_OK);
    assert_int_equal(r, expect);
}

static inline char *test_text(const crdt_doc *d, const char *root)
{
    char *s = NULL;
    assert_int_equal(crdt_read_text(d, root, NULL, 0, &s), CRDT_OK);
    return s;
}

static inline void test_assert_text(const crdt_doc *d, const char *root, const char *expected)
{
    char *s = test_text(d, root);
    assert_string_equal(s, expected);
    free(s);
}

static inline test_bytes test_state(const crdt_doc *d)
{
    test_bytes b = {0};
    assert_int_equal(crdt_encode_state(d, NULL, 0, &b.p, &b.n), CRDT_OK);
    return b;
}

static inline test_bytes test_sv(const crdt_doc *d)
{
    test_bytes b = {0};
    assert_int_equal(crdt_encode_state_vector(d, &b.p, &b.n), CRDT_OK);
    return b;
}

static inline void test_assert_same_state(const crdt_doc *a, const crdt_doc *b)
{
    test_bytes x = test_state(a), y = test_state(b);
    assert_int_equal(x.n, y.n);
    assert_memory_equal(x.p, y.p, x.n);
    free(x.p);
    free(y.p);
}

/* "01 ab" -> bytes (spaces and '|' ignored). */
static inline test_bytes test_hex(const char *hex)
{
    test_bytes b = {malloc(strlen(hex) / 2 + 1), 0};
    assert_non_null(b.p);
    int hi = -1;
    for (const char *c = hex; *c; c++) {
        int v;
        if (*c >= '0' && *c <= '9')
            v = *c - '0';
        else if (*c >= 'a' && *c <= 'f')
            v = *c - 'a' + 10;
        else
            continue;
        if (hi < 0) {
            hi = v;
        } else {
            b.p[b.n++] = (uint8_t)(hi * 16 + v);
            hi = -1;
        }
    }
    return b;
}

static inline void test_assert_bytes(test_bytes got, const char *hex)
{
    test_bytes want = test_hex(hex);
    if (got.n != want.n || memcmp(got.p, want.p, got.n) != 0) {
        fprintf(stderr, "got:  ");
        for (size_t i = 0; i < got.n; i++)
            fprintf(stderr, "%02x ", got.p[i]);
        fprintf(stderr, "\nwant: %s\n", hex);
    }
    assert_int_equal(got.n, want.n);
    assert_memory_equal(got.p, want.p, got.n);
    free(want.p);
}

#endif /* CRDT_TEST_UTIL_H */
