/*
 * bench_items: how many item operations per second the pure logic handles on
 * one core, so the processor's budget for items is known. Not a test (ctest
 * does not run it, and timings are never assertions); run a Release build:
 *   build/bin/bench_items [operations]
 * Cases: dominating writes (the common path), concurrent writes under lww,
 * conflict + resolve cycles under manual, and the JSON view written and
 * loaded back (what each persisted change costs).
 */
#include "processor/items.h"
#include "processor/items_json.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define CLIENTS 8

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int fail(const char *what, items_error error)
{
    fprintf(stderr, "bench_items: %s: %s\n", what, items_strerror(error));
    return 1;
}

static void report(const char *name, long operations, double seconds)
{
    printf("%-34s %9ld ops  %8.3f s  %10.0f ops/s\n", name, operations, seconds,
           (double)operations / seconds);
}

/* Each write has seen the item's clock: replaces the value, version + 1. */
static int bench_dominating(long operations)
{
    items_state s;
    items_error error = items_state_init(&s, "bench", ITEMS_POLICY_LWW);
    if (error != ITEMS_OK) {
        return fail("init", error);
    }
    vclock clock;
    vclock_init(&clock);
    const uint8_t value[] = "a value of some thirty-two bytes";
    double start = now_seconds();
    for (long i = 0; i < operations; i++) {
        uint64_t client = 1000 + (uint64_t)(i % CLIENTS);
        if (vclock_copy(&clock, &s.clock) != VCLOCK_OK ||
            vclock_increment(&clock, client) != VCLOCK_OK) {
            return fail("clock", ITEMS_ERR_NOMEM);
        }
        items_write w = {value, sizeof(value) - 1, &clock, (uint64_t)i, client};
        items_result r;
        error = items_apply_write(&s, &w, &r);
        if (error != ITEMS_OK || r.outcome != ITEMS_APPLIED) {
            return fail("dominating write", error);
        }
    }
    report("dominating writes (lww)", operations, now_seconds() - start);
    vclock_free(&clock);
    items_state_free(&s);
    return 0;
}

/* Pairs of concurrent writes, then one write that has seen both. */
static int bench_cycles(items_policy policy, const char *name, long operations)
{
    items_state s;
    items_error error = items_state_init(&s, "bench", policy);
    if (error != ITEMS_OK) {
        return fail("init", error);
    }
    vclock a, b, settle;
    vclock_init(&a);
    vclock_init(&b);
    vclock_init(&settle);
    const uint8_t value_a[] = "left";
    const uint8_t value_b[] = "right";
    double start = now_seconds();
    long done = 0;
    for (long i = 0; done < operations; i++) {
        if (vclock_copy(&a, &s.clock) != VCLOCK_OK || vclock_increment(&a, 1) != VCLOCK_OK ||
            vclock_copy(&b, &s.clock) != VCLOCK_OK || vclock_increment(&b, 2) != VCLOCK_OK) {
            return fail("clock", ITEMS_ERR_NOMEM);
        }
        items_write wa = {value_a, 4, &a, (uint64_t)i, 1};
        items_write wb = {value_b, 5, &b, (uint64_t)i, 2};
        items_result r;
        if ((error = items_apply_write(&s, &wa, &r)) != ITEMS_OK ||
            (error = items_apply_write(&s, &wb, &r)) != ITEMS_OK) {
            return fail("concurrent write", error);
        }
        if (vclock_copy(&settle, &s.clock) != VCLOCK_OK ||
            vclock_increment(&settle, 3) != VCLOCK_OK) {
            return fail("clock", ITEMS_ERR_NOMEM);
        }
        items_write resolve = {value_a, 4, &settle, (uint64_t)i, 3};
        error = policy == ITEMS_POLICY_MANUAL ? items_apply_resolve(&s, &resolve, &r)
                                              : items_apply_write(&s, &resolve, &r);
        if (error != ITEMS_OK) {
            return fail("settle", error);
        }
        done += 3;
    }
    report(name, done, now_seconds() - start);
    vclock_free(&a);
    vclock_free(&b);
    vclock_free(&settle);
    items_state_free(&s);
    return 0;
}

/* The persisted form of a two-sibling conflict: to JSON text and back. */
static int bench_json(long operations)
{
    items_state s;
    items_error error = items_state_init(&s, "bench", ITEMS_POLICY_MANUAL);
    if (error != ITEMS_OK) {
        return fail("init", error);
    }
    vclock a, b;
    vclock_init(&a);
    vclock_init(&b);
    for (uint64_t c = 1; c <= CLIENTS; c++) {
        if (vclock_set(&a, c * 1000, c) != VCLOCK_OK || vclock_set(&b, c * 1000, c) != VCLOCK_OK) {
            return fail("clock", ITEMS_ERR_NOMEM);
        }
    }
    if (vclock_increment(&a, 1) != VCLOCK_OK || vclock_increment(&b, 2) != VCLOCK_OK) {
        return fail("clock", ITEMS_ERR_NOMEM);
    }
    const uint8_t value[] = "a value of some thirty-two bytes";
    items_write wa = {value, 32, &a, 1, 1};
    items_write wb = {value, 31, &b, 2, 2};
    items_result r;
    if ((error = items_apply_write(&s, &wa, &r)) != ITEMS_OK ||
        (error = items_apply_write(&s, &wb, &r)) != ITEMS_OK) {
        return fail("write", error);
    }
    double start = now_seconds();
    for (long i = 0; i < operations; i++) {
        json_t *json = items_state_to_json(&s);
        char *text = json ? json_dumps(json, JSON_COMPACT) : NULL;
        json_decref(json);
        json_t *parsed = text ? json_loads(text, 0, NULL) : NULL;
        free(text);
        items_state back;
        error = parsed ? items_state_from_json(&back, parsed, NULL, 0) : ITEMS_ERR_NOMEM;
        json_decref(parsed);
        if (error != ITEMS_OK) {
            return fail("json", error);
        }
        items_state_free(&back);
    }
    report("JSON view out and back (conflict)", operations, now_seconds() - start);
    vclock_free(&a);
    vclock_free(&b);
    items_state_free(&s);
    return 0;
}

int main(int argc, char **argv)
{
    long operations = argc > 1 ? strtol(argv[1], NULL, 10) : 1000000;
    if (operations <= 0) {
        fprintf(stderr, "usage: bench_items [operations > 0]\n");
        return 2;
    }
    return bench_dominating(operations) ||
           bench_cycles(ITEMS_POLICY_LWW, "concurrent pairs + settle (lww)", operations) ||
           bench_cycles(ITEMS_POLICY_MANUAL, "conflict + resolve (manual)", operations) ||
           bench_json(operations / 10);
}
