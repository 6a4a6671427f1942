/*
 * fuzz_multi_update.c - libFuzzer target for what a server does all day: the input is a
 * stream of updates ([u32 LE length][v1 update] records, exactly the crdt-cli --stream
 * format) applied in order to one document, some out of order, duplicated or broken. A
 * broken update is rejected and must leave the document as it was; after the stream the
 * document must read cleanly, contain every update it accepted while nothing was
 * pending, and round-trip through the engine's encoders. Seeds: corpus/multi_update/ (streams of
 * real Yjs updates from multi-client sessions, shuffled and duplicated).
 */
#include "fuzz_support.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { FUZZ_MAX_UPDATES = 256 };

static uint8_t *fuzz_encode(const crdt_doc *doc, size_t *len)
{
    uint8_t *out = NULL;
    if (crdt_encode_state(doc, NULL, 0, &out, len) != CRDT_OK)
        fuzz_fail("crdt_encode_state failed");
    return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    crdt_options opts;
    fuzz_options(&opts, 1);
    crdt_doc *doc = NULL;
    if (crdt_doc_new(&opts, &doc) != CRDT_OK)
        fuzz_fail("crdt_doc_new failed");

    fuzz_records records;
    fuzz_records_init(&records, data, size);
    const uint8_t *update = NULL;
    size_t len = 0;
    int any_pending = 0;
    for (int n = 0; n < FUZZ_MAX_UPDATES && fuzz_records_next(&records, &update, &len); n++) {
        size_t before_len = 0;
        uint8_t *before = fuzz_encode(doc, &before_len);
        crdt_apply_result result = 0;
        crdt_status st = crdt_apply_update(doc, update, len, &result);
        if (st == CRDT_ERR_NOMEM) {
            free(before);
            break; /* the document must be discarded */
        }
        if (st != CRDT_OK) {
            size_t after_len = 0;
            uint8_t *after = fuzz_encode(doc, &after_len);
            if (after_len != before_len || memcmp(after, before, before_len) != 0)
                fuzz_fail("a rejected update changed the document");
            free(after);
        } else if (result == CRDT_PENDING) {
            any_pending = 1;
        } else if (!any_pending) {
            int contained = 0;
            if (crdt_contains_update(doc, update, len, &contained) != CRDT_OK)
                fuzz_fail("contains failed on an update that was just applied");
            if (!contained)
                fuzz_fail("an applied update is not contained in the document");
        }
        free(before);
    }
    fuzz_read_all(doc, NULL, 0);
    fuzz_check_roundtrip(doc, 1, !any_pending);
    crdt_doc_free(doc);
    return 0;
}
