/*
 * ratelimit: a token bucket per connection for "max ops per second"
 * (and awareness messages): `rate` tokens per second, at most `burst` saved
 * up, one token per message. Time is passed in (util_now_ns), so tests need
 * no clock. One bucket is used by one thread. Prefix: ingest_bucket_.
 */
#ifndef INGEST_RATELIMIT_H
#define INGEST_RATELIMIT_H

#include <stdint.h>

typedef struct ingest_bucket {
    double tokens;
    double rate;  /* tokens per second */
    double burst; /* capacity */
    int64_t last_ns;
} ingest_bucket;

/* A full bucket at time now_ns. */
void ingest_bucket_init(ingest_bucket *b, double rate, double burst, int64_t now_ns);

/* Takes one token: 1 when there was one, 0 when the caller is over the rate. */
int ingest_bucket_take(ingest_bucket *b, int64_t now_ns);

#endif
