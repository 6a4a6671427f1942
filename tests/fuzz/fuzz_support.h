/*
 * fuzz_support.h - helpers shared by the crdt libFuzzer targets in this folder: splitting
 * one fuzz input into several records, reading every kind of content out of a document,
 * and the round-trip property every target checks (what the engine encodes, the engine
 * decodes back to the same state). A violated property aborts, so libFuzzer reports it
 * like a crash and keeps the input.
 */
#ifndef FUZZ_SUPPORT_H
#define FUZZ_SUPPORT_H

#include "crdt/crdt.h"

#include <stddef.h>
#include <stdint.h>

/* Limits for fuzzing: small enough that no input can make a target slow or big. */
void fuzz_options(crdt_options *opts, int gc);

/* Records are [u32 little-endian length][bytes], the crdt-cli --stream format, so that
 * stream files are corpus entries as they are. A length past the end of the input is
 * cut to what is left. */
typedef struct fuzz_records {
    const uint8_t *data;
    size_t left;
} fuzz_records;

void fuzz_records_init(fuzz_records *r, const uint8_t *data, size_t size);
/* Sets *rec and *rec_len to the next record; returns 0 when there is none. */
int fuzz_records_next(fuzz_records *r, const uint8_t **rec, size_t *rec_len);

/* Reads every root name the seed corpus uses, as every kind (text, delta, array, map,
 * xml), at the current version or at the encoded snapshot (may be NULL), and discards the
 * output. A root of another kind is an expected error; anything else must not happen. */
void fuzz_read_all(const crdt_doc *doc, const uint8_t *snapshot, size_t snapshot_len);

/* Encodes doc (v1 and v2), decodes each into a new document and aborts unless that
 * succeeds. With exact set (nothing in doc waits for missing dependencies) the copy must
 * also have the same state vector. Not with pending structs, which may stay pending or
 * be integrated depending on what arrives with them. */
void fuzz_check_roundtrip(const crdt_doc *doc, int gc, int exact);

/* Aborts with a message naming the violated property. */
void fuzz_fail(const char *what);

#endif
