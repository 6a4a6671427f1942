/*
 * fuzz_diff.c - libFuzzer target for the sync path: the input holds two records
 * ([u32 LE length][bytes], see fuzz_support.h), an update and a state vector. The update
 * is applied to an empty document, then the document is diffed against the state vector.
 * The diff must decode. And the diff against the document's own state vector holds
 * nothing the document lacks (unless parts of the update wait for missing dependencies).
 * Seeds: corpus/diff/ (a Yjs update and the state vector of an earlier version).
 */
#include "fuzz_support.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_diff_must_decode(const uint8_t *diff, size_t len)
{
    crdt_options opts;
    fuzz_options(&opts, 1);
    opts.limits.max_update_bytes = 0;
    opts.limits.max_structs = 0;
    opts.limits.max_pending_structs = 0;
    crdt_doc *peer = NULL;
    if (crdt_doc_new(&opts, &peer) != CRDT_OK)
        fuzz_fail("crdt_doc_new failed");
    if (crdt_apply_update(peer, diff, len, NULL) != CRDT_OK)
        fuzz_fail("a diff produced by the engine does not decode");
    crdt_doc_free(peer);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_records records;
    const uint8_t *update = NULL, *sv = NULL;
    size_t update_len = 0, sv_len = 0;
    fuzz_records_init(&records, data, size);
    if (!fuzz_records_next(&records, &update, &update_len) ||
        !fuzz_records_next(&records, &sv, &sv_len))
        return 0;

    crdt_options opts;
    fuzz_options(&opts, 1);
    crdt_doc *doc = NULL;
    if (crdt_doc_new(&opts, &doc) != CRDT_OK)
        fuzz_fail("crdt_doc_new failed");
    crdt_apply_result result = 0;
    if (crdt_apply_update(doc, update, update_len, &result) == CRDT_OK) {
        uint8_t *diff = NULL;
        size_t diff_len = 0;
        if (crdt_encode_state(doc, sv, sv_len, &diff, &diff_len) == CRDT_OK) {
            fuzz_diff_must_decode(diff, diff_len);
            free(diff);
        }
        /* Against its own state vector the diff holds nothing new for the document. */
        uint8_t *own_sv = NULL;
        size_t own_sv_len = 0;
        if (crdt_encode_state_vector(doc, &own_sv, &own_sv_len) != CRDT_OK)
            fuzz_fail("crdt_encode_state_vector failed");
        if (crdt_encode_state(doc, own_sv, own_sv_len, &diff, &diff_len) != CRDT_OK)
            fuzz_fail("diff against the document's own state vector failed");
        int contained = 0;
        if (crdt_contains_update(doc, diff, diff_len, &contained) != CRDT_OK)
            fuzz_fail("contains of the engine's own diff failed");
        if (!contained && result != CRDT_PENDING)
            fuzz_fail("the document does not contain its diff against its own state vector");
        free(diff);
        free(own_sv);
    }
    crdt_doc_free(doc);
    return 0;
}
