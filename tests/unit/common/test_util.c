/*
 * Unit tests of common/util and common/sbuf: backoff delays stay within
 * [0, min(max, base*2^n)], grow, spread (jitter) and reset; clocks move
 * forward; sbuf appends, formats, grows and hands over its storage.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/sbuf.h"
#include "common/util.h"

static void test_backoff_bounds(void **state)
{
    (void)state;
    util_backoff b;
    util_backoff_init(&b, 10, 1000);
    int64_t ceiling = 10;
    for (int attempt = 0; attempt < 20; attempt++) {
        int64_t d = util_backoff_next(&b);
        assert_true(d >= 0);
        assert_true(d <= ceiling);
        ceiling = ceiling * 2 > 1000 ? 1000 : ceiling * 2;
    }
    /* late delays are drawn from [0, 1000]: across many draws, some must be
     * above the early ceilings, and they must not all be equal (jitter) */
    int64_t max_seen = 0, min_seen = 1000;
    for (int i = 0; i < 200; i++) {
        int64_t d = util_backoff_next(&b);
        assert_true(d <= 1000);
        if (d > max_seen)
            max_seen = d;
        if (d < min_seen)
            min_seen = d;
    }
    assert_true(max_seen > 500);
    assert_true(min_seen < max_seen);
    util_backoff_reset(&b);
    assert_true(util_backoff_next(&b) <= 10);

    util_backoff odd;
    util_backoff_init(&odd, 0, -5); /* clamped to sane values */
    assert_true(util_backoff_next(&odd) <= 1);
}

static void test_clocks(void **state)
{
    (void)state;
    int64_t a = util_now_ns();
    util_sleep_ms(2);
    int64_t b = util_now_ns();
    assert_true(b - a >= 2000000);
    assert_true(util_now_ms() > 0);
    assert_true(util_wall_ns() > (int64_t)1600000000 * 1000000000);
}

static void test_sbuf(void **state)
{
    (void)state;
    sbuf b;
    sbuf_init(&b);
    assert_null(sbuf_take(&b, NULL)); /* nothing appended */
    sbuf_init(&b);
    assert_int_equal(sbuf_puts(&b, "hello"), 0);
    assert_int_equal(sbuf_printf(&b, " %d %s", 42, "x"), 0);
    assert_int_equal(sbuf_append(&b, "\0z", 2), 0);
    assert_int_equal(b.len, 12);
    assert_memory_equal(b.data, "hello 42 x\0z", 13);
    for (int i = 0; i < 10000; i++)
        assert_int_equal(sbuf_printf(&b, "%04d", i % 10000), 0);
    assert_int_equal(b.len, 12 + 40000);
    assert_memory_equal(b.data + b.len - 4, "9999", 4);
    size_t len;
    char *owned = sbuf_take(&b, &len);
    assert_non_null(owned);
    assert_int_equal(len, 40012);
    assert_int_equal(owned[len], '\0');
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    free(owned);
    assert_false(sbuf_failed(&b));
    sbuf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_backoff_bounds),
        cmocka_unit_test(test_clocks),
        cmocka_unit_test(test_sbuf),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
