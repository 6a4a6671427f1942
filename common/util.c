/*
 * util: clocks, an EINTR-safe sleep and a jittered exponential backoff.
 * See util.h.
 */
#include "common/util.h"

#include <errno.h>
#include <time.h>

static int64_t timespec_ns(const struct timespec *ts)
{
    return (int64_t)ts->tv_sec * 1000000000 + (int64_t)ts->tv_nsec;
}

int64_t util_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return timespec_ns(&ts);
}

int64_t util_now_ms(void)
{
    return util_now_ns() / 1000000;
}

int64_t util_wall_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return timespec_ns(&ts);
}

void util_sleep_ms(int64_t ms)
{
    if (ms <= 0)
        return;
    struct timespec want = {.tv_sec = (time_t)(ms / 1000), .tv_nsec = (long)(ms % 1000) * 1000000};
    struct timespec left;
    while (nanosleep(&want, &left) != 0 && errno == EINTR)
        want = left;
}

/* xorshift64*: plenty for spreading retries, and needs no shared state. */
static uint64_t backoff_random(util_backoff *b)
{
    uint64_t x = b->rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    b->rng = x;
    return x * 0x2545F4914F6CDD1DULL;
}

void util_backoff_init(util_backoff *b, int64_t base_ms, int64_t max_ms)
{
    b->base_ms = base_ms > 0 ? base_ms : 1;
    b->max_ms = max_ms >= b->base_ms ? max_ms : b->base_ms;
    b->attempt = 0;
    /* Seed from the clock and the struct's address so that two processes
     * (or two connections) started together do not retry in lockstep. */
    b->rng = (uint64_t)util_wall_ns() ^ ((uint64_t)(uintptr_t)b << 17) ^ 0x9E3779B97F4A7C15ULL;
    if (b->rng == 0)
        b->rng = 1;
}

int64_t util_backoff_next(util_backoff *b)
{
    int64_t ceiling = b->base_ms;
    for (uint32_t i = 0; i < b->attempt && ceiling < b->max_ms; i++)
        ceiling *= 2;
    if (ceiling > b->max_ms)
        ceiling = b->max_ms;
    if (b->attempt < 64)
        b->attempt++;
    return (int64_t)(backoff_random(b) % (uint64_t)(ceiling + 1));
}

void util_backoff_reset(util_backoff *b)
{
    b->attempt = 0;
}
