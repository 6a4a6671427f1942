/*
 * util: the few small helpers several common/ modules need: clocks in
 * nanoseconds and milliseconds, a sleep that survives signals, and an
 * exponential backoff with full jitter for reconnect loops (mongo, redis,
 * kafka admin). Nothing here allocates.
 */
#ifndef COMMON_UTIL_H
#define COMMON_UTIL_H

#include <stdint.h>

/* Monotonic clock, for deadlines and durations; never goes backwards. */
int64_t util_now_ns(void);
int64_t util_now_ms(void);

/* Wall clock (CLOCK_REALTIME) in nanoseconds since the Unix epoch. */
int64_t util_wall_ns(void);

/* Sleeps for ms milliseconds, resuming after signal interruptions. */
void util_sleep_ms(int64_t ms);

/*
 * Exponential backoff with "full jitter": the n-th delay is uniform in
 * [0, min(max, base * 2^n)], which spreads reconnect storms from many
 * processes. The random state lives in the struct, so no global RNG.
 */
typedef struct util_backoff {
    int64_t base_ms;
    int64_t max_ms;
    uint32_t attempt;
    uint64_t rng;
} util_backoff;

/* Prepares b; base_ms > 0 and max_ms >= base_ms (clamped if not). */
void util_backoff_init(util_backoff *b, int64_t base_ms, int64_t max_ms);

/* The next delay in ms, and counts the attempt. */
int64_t util_backoff_next(util_backoff *b);

/* Back to the first, shortest delay (after a success). */
void util_backoff_reset(util_backoff *b);

#endif
