/*
 * awareness: publishing presence, for every WebSocket endpoint that takes
 * awareness from clients (ingest's write connections, the broadcaster's
 * y-protocols connections). AWARENESS messages are ephemeral: never
 * acknowledged, never in Kafka. Each is handed (copied) to a bounded queue
 * served by one thread that publishes it to Redis channel `awareness:{doc}`
 * (the broadcasters relay it to readers) and keeps hash `presence:{doc}`
 * up to date (awareness client id -> {"clock", "state", "updated_at_ms"};
 * a null state deletes the entry). A slow or absent Redis therefore never
 * stalls the WebSocket thread: when the queue is full, updates are dropped
 * and counted, which presence tolerates (clients refresh every 15 s).
 *
 * awareness_tracker remembers which awareness client ids a connection
 * spoke for, so that closing it can publish their removal (the others see
 * the user leave at once). Prefix: awareness_.
 */
#ifndef COMMON_AWARENESS_H
#define COMMON_AWARENESS_H

#include <stddef.h>
#include <stdint.h>

#include "common/log.h"
#include "common/metrics.h"
#include "crdt/lib0.h"

typedef struct awareness_pub awareness_pub;

/* What the publisher counts (both borrowed, may be NULL). */
typedef struct awareness_counters {
    metrics_counter *published;
    metrics_counter *dropped; /* full queue, no memory or Redis down */
} awareness_counters;

/* Starts the publishing thread with its own Redis connection (url). NULL with
 * the reason in err. counters' members and log are borrowed. Free with
 * awareness_free. */
awareness_pub *awareness_new(const char *redis_url, size_t max_queue, clog *log,
                             const awareness_counters *counters, char *err, size_t err_size);

/* Stops the thread after it published what is queued (at most timeout_ms). */
void awareness_free(awareness_pub *a, int64_t timeout_ms);

/* Queues a copy of a y-protocols awareness update for doc_id. 0, or -1 when
 * it was dropped (queue full or out of memory). Any thread. */
int awareness_publish(awareness_pub *a, const char *doc_id, const uint8_t *update, size_t len);

/* Checks that update is a well-formed y-protocols awareness update
 * (varUint count, then per client varUint id, varUint clock, varString JSON
 * state - which must parse as JSON) with nothing after it. 0 or -1. */
int awareness_valid(const uint8_t *update, size_t len);

#define AWARENESS_TRACKED 8

/* The awareness clients one connection spoke for (a zeroed struct is empty). */
typedef struct awareness_tracker {
    size_t count;
    uint64_t client_id[AWARENESS_TRACKED];
    uint64_t clock[AWARENESS_TRACKED];
} awareness_tracker;

/* Records the client ids and clocks of a valid update (the first
 * AWARENESS_TRACKED distinct ids; a null state forgets the id). */
void awareness_track(awareness_tracker *t, const uint8_t *update, size_t len);

/* Appends to out the awareness update that removes every tracked client
 * (clock + 1, state null), or nothing when none is tracked. Returns how many
 * clients it removes. */
size_t awareness_removal(const awareness_tracker *t, crdt_buf *out);

#endif
