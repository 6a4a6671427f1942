/*
 * tools/replay's --until parser (replay_parse_time): RFC 3339 with and without
 * fractions and offsets, Unix milliseconds, and what it refuses. It lives
 * here because tests/unit has no folder for tools/ yet.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "tools/replay/replay.h"

static int64_t parse(const char *text)
{
    int64_t us = -7;
    assert_int_equal(replay_parse_time(text, &us), 0);
    return us;
}

static void test_rfc3339(void **state)
{
    (void)state;
    /* 2026-11-22T03:04:05Z is 1795316645 s after the epoch. */
    assert_int_equal(parse("2026-11-22T03:04:05Z"), INT64_C(1795316645000000));
    assert_int_equal(parse("2026-11-22t03:04:05z"), INT64_C(1795316645000000));
    assert_int_equal(parse("2026-11-22T03:04:05.5Z"), INT64_C(1795316645500000));
    assert_int_equal(parse("2026-11-22T03:04:05.123456Z"), INT64_C(1795316645123456));
    /* Digits beyond microseconds are cut, not rounded. */
    assert_int_equal(parse("2026-11-22T03:04:05.1234569Z"), INT64_C(1795316645123456));
    assert_int_equal(parse("2026-11-22T04:04:05+01:00"), INT64_C(1795316645000000));
    assert_int_equal(parse("2026-11-21T23:34:05-03:30"), INT64_C(1795316645000000));
    assert_int_equal(parse("1970-01-01T00:00:00Z"), 0);
    assert_int_equal(parse("2024-02-29T00:00:00Z"), INT64_C(1709164800000000));
}

static void test_unix_ms(void **state)
{
    (void)state;
    assert_int_equal(parse("1795316645123"), INT64_C(1795316645123000));
    assert_int_equal(parse("0"), 0);
}

static void test_refused(void **state)
{
    (void)state;
    const char *bad[] = {"",
                         "yesterday",
                         "2026-11-22",
                         "2026-11-22T03:04:05",       /* no offset */
                         "2026-11-22T03:04Z",         /* no seconds */
                         "2026-02-30T00:00:00Z",      /* no such day */
                         "2025-02-29T00:00:00Z",      /* not a leap year */
                         "2026-13-01T00:00:00Z",      /* no such month */
                         "2026-11-22T24:00:00Z",      /* no such hour */
                         "2026-11-22T03:04:05.Z",     /* an empty fraction */
                         "2026-11-22T03:04:05+0100",  /* offset without colon */
                         "2026-11-22T03:04:05Z junk", /* trailing text */
                         "12ab",                      /* not digits */
                         "99999999999999999999999"};  /* overflows */
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t us = 42;
        if (replay_parse_time(bad[i], &us) != -1)
            fail_msg("\"%s\" was accepted", bad[i]);
        assert_int_equal(us, 42); /* untouched */
    }
    assert_int_equal(replay_parse_time(NULL, &(int64_t){0}), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc3339),
        cmocka_unit_test(test_unix_ms),
        cmocka_unit_test(test_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
