/*
 * replay_internal: what the parts of tools/replay share (the run's state);
 * not for anything outside tools/replay. Prefix: replay_.
 */
#ifndef TOOLS_REPLAY_REPLAY_INTERNAL_H
#define TOOLS_REPLAY_REPLAY_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "common/avro_records.h"
#include "common/docstore.h"
#include "common/log.h"
#include "processor/doctable.h"
#include "tools/replay/replay.h"

/* Per document, beside its pdoc (pdoc.user). */
typedef struct replay_doc_track {
    bool incomplete; /* a version gap, or a record the engine refused */
    bool cut;        /* a record was past --until: later versions are left out too */
} replay_doc_track;

typedef struct replay_ctx {
    const replay_options *o;
    docstore *ds;
    const struct cavro_registry *avro;
    clog *log;
    FILE *out;
    replay_stats *stats;
    pdoc_table *docs;
    struct cavro_merged_op *batch; /* decoded records whose rows are not flushed yet */
    size_t batch_count;
    size_t reported; /* verify lines printed */
    replay_status status;
    char *err;
    size_t err_size;
} replay_ctx;

/* Prints one verify difference (counted; printed up to o->max_reported). */
void replay_difference(replay_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Verify: the crdt_operations rows of ops exist and hold what the log says.
 * 0, or -1 when MongoDB failed (c->err set). */
int replay_verify_rows(replay_ctx *c, const docstore_op *ops, size_t count);

/* Verify: MongoDB documents, Redis doc:{doc}, MongoDB items and Redis
 * item:{doc}:{item} of d against its rebuilt state. 0, or -1 when a store
 * failed (c->err set). */
int replay_verify_doc(replay_ctx *c, pdoc *d);

#endif
