/*
 * fanout_stats: what the fan-out benchmarks (bc-fanout against our
 * broadcaster, peer-fanout against @y/websocket-server and
 * @hocuspocus/server) measure the same way: per-message delivery latency
 * (writer's send -> subscriber's read) with its percentiles, and the CPU time
 * the measured server spent. One implementation so the three figures of
 * docs/benchmarks.md are computed alike. Prefix: fanout_.
 */
#ifndef BENCH_FANOUT_STATS_H
#define BENCH_FANOUT_STATS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Latencies of up to `capacity` deliveries, in microseconds. */
typedef struct fanout_latency {
    uint32_t *us; /* owned; freed by fanout_latency_free */
    size_t len, capacity;
    int sorted; /* us[0..len) is in ascending order */
} fanout_latency;

/* Reserves room for `capacity` samples. 0, or -1 when out of memory. */
int fanout_latency_init(fanout_latency *l, size_t capacity);
void fanout_latency_free(fanout_latency *l);

/* Records one delivery that took `ns`; samples past the capacity are dropped
 * (the caller sized it for every expected delivery). */
void fanout_latency_add(fanout_latency *l, int64_t ns);

/* The p-th percentile (0..100) in milliseconds, or -1 with no samples.
 * Sorts the samples in place; call after the last add. */
double fanout_latency_ms(fanout_latency *l, double p);

/* User + system CPU seconds the process `pid` has used so far, or -1 when it
 * cannot be read (not running, not ours to read). */
double fanout_cpu_seconds(pid_t pid);

#endif
