/*
 * Helpers shared by the items unit tests: clocks written like the seeds'
 * positional arrays ([2, 0, 0] = client 1 at 2), writes built from C strings,
 * UTC dates as epoch milliseconds, and a state fingerprint (its canonical JSON)
 * to show that an operation changed nothing.
 */
#ifndef TESTS_UNIT_ITEMS_TEST_UTIL_H
#define TESTS_UNIT_ITEMS_TEST_UTIL_H

#include "processor/items.h"
#include "processor/vclock.h"

#include <stddef.h>
#include <stdint.h>

/* Makes c (initialised) the clock whose client i+1 has counters[i]; fails the
 * test on error. */
void test_clock(vclock *c, const uint64_t *counters, size_t count);

/* A write of the NUL-terminated text value; borrows value and clock. */
items_write test_write(const char *value, const vclock *clock, uint64_t timestamp_ms,
                       uint64_t client_id);

/* Milliseconds since the Unix epoch of a UTC date and time. */
uint64_t test_utc_ms(int year, int month, int day, int hour, int minute, int second);

/* The state's JSON text (caller frees with free()). */
char *test_state_text(const items_state *s);

/* True when sibling holds exactly the text value. */
int test_sibling_is(const items_sibling *sibling, const char *value);

#endif
