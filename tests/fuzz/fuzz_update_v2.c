/*
 * fuzz_update_v2.c - libFuzzer target: decode and apply one v2 update (Y.encodeStateAsUpdateV2,
 * the column format) to an empty document, with gc on or off (last input byte's low bit). A valid
 * update must leave a document that reads cleanly and round-trips through the engine's
 * own encoders; an invalid one must be rejected with an error and leave the document
 * empty. Seeds: corpus/update_v2/ (real Yjs updates).
 */
#include "fuzz_support.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int gc = size > 0 ? !(data[size - 1] & 1) : 1;
    crdt_options opts;
    fuzz_options(&opts, gc);
    crdt_doc *doc = NULL;
    if (crdt_doc_new(&opts, &doc) != CRDT_OK)
        fuzz_fail("crdt_doc_new failed");
    crdt_apply_result result = 0;
    crdt_status st = crdt_apply_update_v2(doc, data, size, &result);
    if (st == CRDT_OK) {
        if (result != CRDT_APPLIED && result != CRDT_DUPLICATE && result != CRDT_PENDING)
            fuzz_fail("apply returned CRDT_OK with no result");
        fuzz_read_all(doc, NULL, 0);
        fuzz_check_roundtrip(doc, gc, result != CRDT_PENDING);
    } else if (st != CRDT_ERR_NOMEM) {
        /* Rejected as a whole: the document must still be empty. */
        uint8_t *sv = NULL;
        size_t sv_len = 0;
        if (crdt_encode_state_vector(doc, &sv, &sv_len) != CRDT_OK)
            fuzz_fail("state vector after a rejected update");
        if (sv_len != 1 || sv[0] != 0)
            fuzz_fail("a rejected update changed the document");
        free(sv);
    }
    crdt_doc_free(doc);
    return 0;
}
