/*
 * views: the processor's MongoDB/Redis view writer, beside the hot path. The
 * merge thread hands it jobs (a merged op for crdt_operations, a document's
 * new whole state, an item's new state) through a bounded queue and never
 * waits for it; a writer thread takes everything queued, writes it in batches
 * through docstore (idempotent, version-conditioned), and on a MongoDB or
 * Redis failure keeps the jobs and retries with backoff, so the views catch up
 * after an outage. When the queue holds max_bytes, new jobs are refused: the
 * caller marks the document (its whole state is re-queued later) and counts
 * the drop; a dropped (or crash-lost) crdt_operations entry is written by
 * the snapshotter before it commits past the record (snapshotter/snapper.h)
 * and again by a partition recovery. MongoDB documents rows are written at
 * most 100 per round, oldest first, because each conditional upsert costs
 * FerretDB a collection scan: under load they trail the Redis states, which
 * readers use, and catch up when the load drops. Prefix: pviews_.
 */
#ifndef PROCESSOR_VIEWS_H
#define PROCESSOR_VIEWS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/docstore.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/service.h"
#include "processor/items.h"

typedef struct pviews pviews;

/* A writer over ds (borrowed; used from the writer thread only) with a queue
 * of at most max_bytes; metrics registered in reg. NULL on failure. Free with
 * pviews_free after its loop returned. */
pviews *pviews_new(docstore *ds, size_t max_bytes, metrics_registry *reg, clog *log);
void pviews_free(pviews *v);

/* The writer thread's body and wake function (svc_spawn). It runs until
 * pviews_finish, then writes what is queued for at most drain_ms more and
 * returns (1 when it had to give up on unwritten jobs). */
int pviews_loop(svc *s, void *userdata);
void pviews_wake(void *userdata);
/* Nothing more will be pushed (the merge loop ended): let the writer drain
 * and stop. Any thread. */
void pviews_finish(pviews *v);
void pviews_set_drain_ms(pviews *v, int64_t drain_ms);
/* The least time between a document falling behind and its MongoDB
 * documents row being written (default 1000 ms; 0: every round). Redis, which
 * readers load, is written every round regardless. Before pviews_loop starts. */
void pviews_set_documents_interval_ms(pviews *v, int64_t interval_ms);

/* Queue a job (everything copied). Returns its sequence number (> 0, in push
 * order), or 0 when the queue is full and the job was dropped. */
uint64_t pviews_push_op(pviews *v, const docstore_op *op);
uint64_t pviews_push_state(pviews *v, const char *doc_id, int64_t version, docstore_position pos,
                           const uint8_t *state, size_t state_len, const uint8_t *sv,
                           size_t sv_len);
uint64_t pviews_push_item(pviews *v, const docstore_item *item);

/* The view of item s of doc_id as docstore_put_item writes it (MongoDB items,
 * Redis item:{doc}:{item}): *out borrows from doc_id, from s and from
 * *json_text, a new string with the item's JSON state that the caller frees
 * (free) after the write. 0, or -1 when out of memory (nothing to free).
 * Shared by the pipeline's item jobs and tools/replay. */
int pviews_item_view(const char *doc_id, const items_state *s, docstore_item *out,
                     char **json_text);

/* Every job with a sequence number up to this one is written. */
uint64_t pviews_written_seq(pviews *v);

/* True when the states lane has plenty of room (under an eighth of the
 * queue): the time to queue again the states of documents whose jobs were
 * dropped. */
bool pviews_has_room(pviews *v);

/* Jobs queued or being written, plus documents rows still owed. */
size_t pviews_pending(pviews *v);

/* Waits until every job queued so far is written and no documents row is
 * owed, at most timeout_ms. true when all is written (tests, benchmarks,
 * shutdown). */
bool pviews_wait_idle(pviews *v, int64_t timeout_ms);

#endif
