/*
 * roster: who is present on a document, as this broadcaster has seen it -
 * the presence hash loaded with the document's state plus every awareness
 * update relayed since (y-protocols awareness: client id -> clock, JSON
 * state; a "null" state is a removal). A reader who joins a document that
 * others already read gets the roster as one AWARENESS message, so it sees
 * everyone at once instead of waiting for their next refresh. Entries not
 * refreshed within the presence timeout are left out and forgotten.
 * Service thread only. Prefix: bcroster_.
 */
#ifndef BROADCASTER_ROSTER_H
#define BROADCASTER_ROSTER_H

#include <stddef.h>
#include <stdint.h>

#include "broadcaster/msg.h"

typedef struct bcroster bcroster;

/* An empty roster, or NULL when out of memory. */
bcroster *bcroster_new(void);
void bcroster_free(bcroster *r);

/* Applies a y-protocols awareness update seen at now_ms: newer clocks
 * replace older ones, null states remove. A malformed update changes
 * nothing. */
void bcroster_apply(bcroster *r, const uint8_t *update, size_t len, int64_t now_ms);

/* The AWARENESS message of every entry seen within timeout_ms (one
 * reference, caller unrefs), or NULL when there is none (or no memory). */
bcmsg *bcroster_message(bcroster *r, int64_t now_ms, int64_t timeout_ms);

#endif
