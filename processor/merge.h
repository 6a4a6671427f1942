/*
 * merge: what the processor does with one operation of one document, without
 * any I/O: the idempotency checks (op id seen recently; a Yjs update the
 * document already contains; an item write the items rules call a duplicate
 * or stale), the merge with the crdt engine or the items rules, the next
 * version number and the MergedOp record to produce. It also replays merged
 * records into a document (recovery). The pipeline (pipeline.h) decides what
 * to do with the result: produce it, send the op to the DLQ, or skip it.
 * Prefix: pmerge_.
 */
#ifndef PROCESSOR_MERGE_H
#define PROCESSOR_MERGE_H

#include <stddef.h>
#include <stdint.h>

#include "common/avro_records.h"
#include "processor/doctable.h"

typedef enum pmerge_result {
    PMERGE_MERGED,    /* a new version: produce out->record */
    PMERGE_DUPLICATE, /* already merged (resend, contained update): nothing to produce */
    PMERGE_NOOP,      /* valid but changes nothing (a stale item write) */
    PMERGE_POISON,    /* invalid: out->reason_code / out->reason say why; to the DLQ */
    PMERGE_FATAL,     /* out of memory inside the engine: the document is unusable */
} pmerge_result;

const char *pmerge_result_name(pmerge_result r);

typedef struct pmerge_out {
    int64_t version;
    enum cavro_merged_kind kind;
    uint8_t *record; /* encoded MergedOp (caller frees via pmerge_out_clear) */
    size_t record_len;
    uint8_t *payload; /* the MergedOp payload, for crdt_operations (owned) */
    size_t payload_len;
    const items_state *item; /* item ops: the item after the merge (borrowed from the doc) */
    int conflict_detected;   /* item ops: the op put the item into conflict */
    int conflict_resolved;   /* item ops: the op settled a conflict */
    char reason_code[48];
    char reason[256];
} pmerge_out;

void pmerge_out_clear(pmerge_out *out);

/*
 * Merges op (read from partition/offset of collab.ops) into d. now_us is the
 * processing time stamped on the record. On PMERGE_MERGED d->version was
 * incremented and out holds the record; on every other result d is as before
 * (PMERGE_FATAL excepted).
 */
pmerge_result pmerge_apply(const struct cavro_registry *reg, pdoc *d,
                           const struct cavro_client_op *op, int32_t partition, int64_t offset,
                           int64_t now_us, pmerge_out *out);

/*
 * Replays a merged record into d (recovery): a Yjs update is applied, an item
 * state replaces the item when its revision is newer, d->version becomes the
 * record's version and its op id is remembered. Returns 0, or -1 with the
 * reason in err (the record is skipped; the version still moves on).
 */
int pmerge_replay(const struct cavro_registry *reg, pdoc *d, const struct cavro_merged_op *m,
                  char *err, size_t err_size);

/* Loads an encoded ItemState (snapshot items, MongoDB) into d when its
 * revision is newer than the item d has. 0 or -1 with the reason in err. */
int pmerge_load_item(const struct cavro_registry *reg, pdoc *d, const uint8_t *buf, size_t len,
                     char *err, size_t err_size);

#endif
