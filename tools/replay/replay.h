/*
 * replay: rebuilds the views derived from collab.merged (MongoDB documents,
 * crdt_operations, items; Redis doc:{doc} and item:{doc}:{item}) from the
 * Kafka log, or checks them against it (docs/operations.md, "Rebuilding
 * views: replay"). The log is read read_committed from the beginning of each
 * partition up to where it ended when the run began (replay_log.h); every
 * record's document is rebuilt in memory with the processor's own code
 * (doctable, pmerge_replay: the crdt engine and the items rules), its
 * crdt_operations row is inserted in batches, and at the end of each
 * partition its documents' states and items are written and the documents
 * forgotten (memory holds one partition's documents). Every write goes
 * through docstore's idempotent, version-conditioned writers, so a replay
 * next to a running processor never rolls a view back: it only fills in what
 * is missing or older. --until and --doc narrow the records; --verify writes nothing and
 * reports every difference instead (replay_verify.h). Prefix: replay_.
 */
#ifndef TOOLS_REPLAY_REPLAY_H
#define TOOLS_REPLAY_REPLAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "common/avro_registry.h"
#include "common/docstore.h"
#include "common/log.h"

typedef struct replay_options {
    const char *brokers;
    const char *merged_topic;
    const char *doc_id;    /* only this document; NULL: all */
    int64_t until_us;      /* records with processed_time_us <= this; INT64_MAX: all */
    bool verify;           /* compare only, write nothing */
    bool strict;           /* stop at the first undecodable record */
    int timeout_ms;        /* Kafka calls; a store write that keeps failing */
    int64_t progress_ms;   /* a progress line on stderr this often; 0: none */
    size_t rows_per_batch; /* crdt_operations rows per insert (or verify query) */
    size_t max_reported;   /* verify: differences printed at most (all are counted) */
} replay_options;

typedef struct replay_stats {
    int64_t records;         /* read from the log (every document) */
    int64_t replayed;        /* applied to their document */
    int64_t after_until;     /* left out by --until */
    int64_t other_documents; /* left out by --doc */
    int64_t undecodable;     /* not a MergedOp, key not its doc id, or refused by the engine */
    int64_t gaps;            /* records whose version did not follow their document's */
    int64_t repeated;        /* records at or below their document's version */
    int64_t documents;       /* documents seen */
    int64_t peak_documents;  /* documents in memory at once at most (one partition's) */
    int64_t incomplete;      /* of which with a gap: state neither written nor compared */
    int64_t items;           /* items of those documents */
    docstore_counts writes;  /* how the writes turned out (not in verify mode) */
    int64_t differences;     /* verify: every difference found */
    int64_t views_ahead;     /* verify: views newer than the log read (a running processor) */
    double seconds;
} replay_stats;

/* Status of a run: what the tool's exit code is made of. */
typedef enum replay_status {
    REPLAY_OK = 0,
    REPLAY_FAILED,      /* a server unreachable, a write that kept failing: see err */
    REPLAY_UNDECODABLE, /* --strict and an undecodable record: see err */
} replay_status;

/*
 * Runs a replay (or a verification) with ds (borrowed: its MongoDB database
 * and Redis are the views written or checked) and avro (borrowed). Progress
 * goes to log; verify differences are printed to out, one per line. *stats is
 * filled also on failure (what was done until then).
 */
replay_status replay_run(const replay_options *o, docstore *ds, const struct cavro_registry *avro,
                         clog *log, FILE *out, replay_stats *stats, char *err, size_t err_size);

/*
 * Parses --until: RFC 3339 ("2026-11-22T03:04:05Z", "2026-11-22T03:04:05.123+01:00")
 * or milliseconds since the Unix epoch ("1795316645123"). *us gets
 * microseconds since the epoch. 0, or -1 for anything else.
 */
int replay_parse_time(const char *text, int64_t *us);

#endif
