/*
 * fuzz_merge_updates.c - libFuzzer target for the document-less update tools: the input
 * is a stream of v1 updates ([u32 LE length][bytes] records) merged with
 * crdt_merge_updates (as Y.mergeUpdates), and converted v1 -> v2 -> v1. What the engine
 * produces from valid input must decode again, and converting back and forth must give a
 * document with the same state vector. Seeds: corpus/multi_update/.
 */
#include "fuzz_support.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { FUZZ_MAX_UPDATES = 64 };

static uint8_t *fuzz_state_vector_of(const uint8_t *update, size_t len, int v2, size_t *sv_len)
{
    crdt_options opts;
    fuzz_options(&opts, 1);
    opts.limits.max_update_bytes = 0;
    crdt_doc *doc = NULL;
    if (crdt_doc_new(&opts, &doc) != CRDT_OK)
        fuzz_fail("crdt_doc_new failed");
    crdt_status st = v2 ? crdt_apply_update_v2(doc, update, len, NULL)
                        : crdt_apply_update(doc, update, len, NULL);
    if (st != CRDT_OK)
        fuzz_fail("an update produced by the engine does not decode");
    uint8_t *sv = NULL;
    if (crdt_encode_state_vector(doc, &sv, sv_len) != CRDT_OK)
        fuzz_fail("crdt_encode_state_vector failed");
    crdt_doc_free(doc);
    return sv;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *updates[FUZZ_MAX_UPDATES];
    size_t lens[FUZZ_MAX_UPDATES];
    size_t n = 0;
    fuzz_records records;
    fuzz_records_init(&records, data, size);
    while (n < FUZZ_MAX_UPDATES && fuzz_records_next(&records, &updates[n], &lens[n]))
        n++;
    if (n == 0)
        return 0;

    crdt_options opts;
    fuzz_options(&opts, 1);
    uint8_t *merged = NULL;
    size_t merged_len = 0;
    if (crdt_merge_updates(updates, lens, n, &opts.limits, &merged, &merged_len) != CRDT_OK)
        return 0; /* some input was malformed: rejected, nothing to check */
    size_t sv_len = 0;
    uint8_t *sv = fuzz_state_vector_of(merged, merged_len, 0, &sv_len);

    uint8_t *v2 = NULL, *back = NULL;
    size_t v2_len = 0, back_len = 0;
    if (crdt_convert_v1_to_v2(merged, merged_len, NULL, &v2, &v2_len) != CRDT_OK)
        fuzz_fail("converting the engine's merged update to v2 failed");
    if (crdt_convert_v2_to_v1(v2, v2_len, NULL, &back, &back_len) != CRDT_OK)
        fuzz_fail("converting the engine's v2 update back to v1 failed");
    size_t sv2_len = 0, sv_back_len = 0;
    uint8_t *sv2 = fuzz_state_vector_of(v2, v2_len, 1, &sv2_len);
    uint8_t *sv_back = fuzz_state_vector_of(back, back_len, 0, &sv_back_len);
    if (sv2_len != sv_len || memcmp(sv2, sv, sv_len) != 0 || sv_back_len != sv_len ||
        memcmp(sv_back, sv, sv_len) != 0)
        fuzz_fail("v1 -> v2 -> v1 conversion changed the state vector");
    free(sv_back);
    free(sv2);
    free(back);
    free(v2);
    free(sv);
    free(merged);
    return 0;
}
