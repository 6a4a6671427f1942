/*
 * fuzz_state_vector.c - libFuzzer target: the input is an encoded state vector, and then
 * an encoded snapshot (delete set + state vector). As a state vector it drives a diff
 * (crdt_encode_state / _v2 against it) of a small document with several clients; as a
 * snapshot it drives reading that document (kept without gc) at a past version. Invalid
 * input must be rejected with an error; a diff that is produced must decode. Seeds:
 * corpus/state_vector/ (state vectors and snapshots made with Yjs).
 */
#include "fuzz_support.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A document edited by three clients through the engine's own edit API. */
static crdt_doc *fuzz_sample_doc(void)
{
    static const char sample_text[] = "h\xc3\xa9llo \xf0\x9f\x98\x80"; /* "héllo 😀" */
    crdt_doc *doc = NULL;
    crdt_options opts;
    fuzz_options(&opts, 0);
    for (uint64_t client = 1; client <= 3; client++) {
        opts.client_id = client;
        crdt_doc *author = NULL;
        if (crdt_doc_new(&opts, &author) != CRDT_OK)
            fuzz_fail("crdt_doc_new failed");
        if (doc) {
            /* The next author starts from everything written so far. */
            uint8_t *state = NULL;
            size_t len = 0;
            if (crdt_encode_state(doc, NULL, 0, &state, &len) != CRDT_OK ||
                crdt_apply_update(author, state, len, NULL) != CRDT_OK)
                fuzz_fail("copying the sample document failed");
            free(state);
            crdt_doc_free(doc);
        }
        doc = author;
        if (crdt_text_insert(doc, "text", 0, sample_text, strlen(sample_text), NULL, NULL, NULL) !=
                CRDT_OK ||
            crdt_text_delete(doc, "text", client, 1, NULL, NULL) != CRDT_OK ||
            crdt_text_format(doc, "text", 0, 2, "{\"bold\":true}", NULL, NULL) != CRDT_OK ||
            crdt_map_set(doc, "m", "k", "[1,\"two\",{\"three\":3}]", NULL, NULL) != CRDT_OK ||
            crdt_array_insert(doc, "a", 0, "[1,2,3]", NULL, NULL) != CRDT_OK ||
            crdt_array_delete(doc, "a", 1, 1, NULL, NULL) != CRDT_OK)
            fuzz_fail("building the sample document failed");
    }
    return doc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    crdt_doc *doc = fuzz_sample_doc();
    uint8_t *diff = NULL;
    size_t diff_len = 0;
    crdt_status st = crdt_encode_state(doc, data, size, &diff, &diff_len);
    if (st == CRDT_OK) {
        crdt_options opts;
        fuzz_options(&opts, 0);
        crdt_doc *peer = NULL;
        if (crdt_doc_new(&opts, &peer) != CRDT_OK)
            fuzz_fail("crdt_doc_new failed");
        if (crdt_apply_update(peer, diff, diff_len, NULL) != CRDT_OK)
            fuzz_fail("a diff against a state vector does not decode");
        crdt_doc_free(peer);
        free(diff);
    } else if (diff) {
        fuzz_fail("crdt_encode_state returned output with an error");
    }
    st = crdt_encode_state_v2(doc, data, size, &diff, &diff_len);
    if (st == CRDT_OK)
        free(diff);
    fuzz_read_all(doc, data, size);
    crdt_doc_free(doc);
    return 0;
}
