/*
 * Helpers shared by the items unit tests. See items_test_util.h.
 */
#include "tests/unit/items/items_test_util.h"

#include "processor/items_json.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

void test_clock(vclock *c, const uint64_t *counters, size_t count)
{
    vclock_free(c);
    for (size_t i = 0; i < count; i++) {
        assert_int_equal(vclock_set(c, (uint64_t)i + 1, counters[i]), VCLOCK_OK);
    }
}

items_write test_write(const char *value, const vclock *clock, uint64_t timestamp_ms,
                       uint64_t client_id)
{
    items_write w = {(const uint8_t *)value, strlen(value), clock, timestamp_ms, client_id};
    return w;
}

static int is_leap(int year)
{
    return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

/* Days from 1970-01-01 to a date from 1970 on, counted plainly, so the tests
 * need no non-standard timegm(). */
static int64_t days_since_epoch(int year, int month, int day)
{
    static const int month_days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int64_t days = 0;
    for (int y = 1970; y < year; y++) {
        days += is_leap(y) ? 366 : 365;
    }
    for (int m = 1; m < month; m++) {
        days += month_days[m - 1] + (m == 2 && is_leap(year));
    }
    return days + day - 1;
}

uint64_t test_utc_ms(int year, int month, int day, int hour, int minute, int second)
{
    int64_t days = days_since_epoch(year, month, day);
    int64_t seconds = days * 86400 + (int64_t)hour * 3600 + (int64_t)minute * 60 + second;
    return (uint64_t)seconds * 1000u;
}

char *test_state_text(const items_state *s)
{
    json_t *json = items_state_to_json(s);
    assert_non_null(json);
    char *text = json_dumps(json, JSON_COMPACT);
    json_decref(json);
    assert_non_null(text);
    return text;
}

int test_sibling_is(const items_sibling *sibling, const char *value)
{
    size_t len = strlen(value);
    return sibling != NULL && sibling->value_len == len &&
           (len == 0 || memcmp(sibling->value, value, len) == 0);
}
