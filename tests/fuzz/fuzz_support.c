/*
 * fuzz_support.c - shared helpers of the crdt fuzz targets (see fuzz_support.h).
 */
#include "fuzz_support.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The root names the seed corpus (tests/fuzz/corpus/, made with Yjs) writes to. */
static const char *const fuzz_root_names[] = {"text", "t", "m", "a", "x", "map", "array", "xml"};

void fuzz_fail(const char *what)
{
    fprintf(stderr, "fuzz property violated: %s\n", what);
    abort();
}

void fuzz_options(crdt_options *opts, int gc)
{
    crdt_options_init(opts);
    opts->gc = gc;
    opts->client_id = 1;
    opts->limits.max_update_bytes = 1u << 20;
    opts->limits.max_structs = 100000;
    opts->limits.max_depth = 64;
    opts->limits.max_pending_structs = 100000;
}

void fuzz_records_init(fuzz_records *r, const uint8_t *data, size_t size)
{
    r->data = data;
    r->left = size;
}

int fuzz_records_next(fuzz_records *r, const uint8_t **rec, size_t *rec_len)
{
    if (r->left < 4)
        return 0;
    size_t len = (size_t)r->data[0] | (size_t)r->data[1] << 8 | (size_t)r->data[2] << 16 |
                 (size_t)r->data[3] << 24;
    r->data += 4;
    r->left -= 4;
    if (len > r->left)
        len = r->left;
    *rec = r->data;
    *rec_len = len;
    r->data += len;
    r->left -= len;
    return 1;
}

typedef crdt_status (*fuzz_reader)(const crdt_doc *, const char *, const uint8_t *, size_t,
                                   char **);

void fuzz_read_all(const crdt_doc *doc, const uint8_t *snapshot, size_t snapshot_len)
{
    static const fuzz_reader readers[] = {crdt_read_text, crdt_read_delta, crdt_read_array_json,
                                          crdt_read_map_json, crdt_read_xml};
    for (size_t i = 0; i < sizeof fuzz_root_names / sizeof fuzz_root_names[0]; i++) {
        for (size_t k = 0; k < sizeof readers / sizeof readers[0]; k++) {
            char *out = NULL;
            crdt_status st = readers[k](doc, fuzz_root_names[i], snapshot, snapshot_len, &out);
            if (st == CRDT_OK) {
                if (!out)
                    fuzz_fail("a reader returned CRDT_OK without output");
                free(out);
            } else if (out) {
                fuzz_fail("a reader returned output with an error");
            }
        }
    }
}

static uint8_t *fuzz_state_vector(const crdt_doc *doc, size_t *len)
{
    uint8_t *sv = NULL;
    if (crdt_encode_state_vector(doc, &sv, len) != CRDT_OK)
        fuzz_fail("crdt_encode_state_vector failed on a valid document");
    return sv;
}

static void fuzz_check_decoded(const uint8_t *sv, size_t sv_len, const uint8_t *update, size_t len,
                               int v2, int gc, int exact)
{
    crdt_options opts;
    fuzz_options(&opts, gc);
    /* The engine's own output may be as large as the document: no byte limit here. */
    opts.limits.max_update_bytes = 0;
    opts.limits.max_structs = 0;
    opts.limits.max_pending_structs = 0;
    crdt_doc *copy = NULL;
    if (crdt_doc_new(&opts, &copy) != CRDT_OK)
        fuzz_fail("crdt_doc_new failed");
    crdt_status st = v2 ? crdt_apply_update_v2(copy, update, len, NULL)
                        : crdt_apply_update(copy, update, len, NULL);
    if (st != CRDT_OK)
        fuzz_fail(v2 ? "the engine cannot decode its own v2 encoding"
                     : "the engine cannot decode its own v1 encoding");
    if (!exact) {
        crdt_doc_free(copy);
        return;
    }
    size_t copy_sv_len = 0;
    uint8_t *copy_sv = fuzz_state_vector(copy, &copy_sv_len);
    if (copy_sv_len != sv_len || memcmp(copy_sv, sv, sv_len) != 0)
        fuzz_fail("re-decoding the encoded state changed the state vector");
    /* Neither the bytes nor the content: for hostile input whose origins contradict the
     * order of its structs, Yjs itself encodes a state that integrates differently when
     * decoded again (merged structs are split elsewhere). What must hold is that the
     * engine reads its own output and keeps exactly the same clocks. */
    free(copy_sv);
    crdt_doc_free(copy);
}

void fuzz_check_roundtrip(const crdt_doc *doc, int gc, int exact)
{
    size_t sv_len = 0;
    uint8_t *sv = fuzz_state_vector(doc, &sv_len);
    uint8_t *v1 = NULL, *v2 = NULL;
    size_t v1_len = 0, v2_len = 0;
    if (crdt_encode_state(doc, NULL, 0, &v1, &v1_len) != CRDT_OK)
        fuzz_fail("crdt_encode_state failed on a valid document");
    if (crdt_encode_state_v2(doc, NULL, 0, &v2, &v2_len) != CRDT_OK)
        fuzz_fail("crdt_encode_state_v2 failed on a valid document");
    fuzz_check_decoded(sv, sv_len, v1, v1_len, 0, gc, exact);
    fuzz_check_decoded(sv, sv_len, v2, v2_len, 1, gc, exact);
    free(v2);
    free(v1);
    free(sv);
}
