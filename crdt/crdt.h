/*
 * crdt.h - public API of the Yjs-compatible CRDT engine.
 *
 * A crdt_doc is one Yjs document held in memory. It reads and writes the Yjs binary update
 * formats (v1 and v2), integrates updates with Yjs's YATA rules (out-of-order delivery,
 * duplicates, concurrent edits, nested types, garbage collection) and reads the content back
 * as text, Yjs deltas, JSON or XML strings. The library does no I/O and has no global state;
 * one document is used by one thread at a time (different documents on different threads
 * are fine).
 *
 * Conventions:
 *  - Every function returns a crdt_status: CRDT_OK (0) or a negative error code;
 *    crdt_strerror() names it. On error nothing is returned through out parameters and the
 *    document is unchanged (except CRDT_ERR_NOMEM in the middle of an apply or an edit: then
 *    the document must be discarded with crdt_doc_free).
 *  - Buffers returned through (uint8_t **out, size_t *out_len) or (char **out) are allocated
 *    with malloc and owned by the caller, who frees them with free(). Text output is UTF-8
 *    and NUL-terminated; the length excludes the NUL.
 *  - Positions and lengths in text are UTF-16 code units, as in Yjs; strings are UTF-8.
 *  - Unless a function says otherwise, "update" means update format v1 (what y-protocols
 *    and Y.applyUpdate use).
 */
#ifndef CRDT_CRDT_H
#define CRDT_CRDT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum crdt_status {
    CRDT_OK = 0,
    CRDT_ERR_NOMEM = -1,     /* an allocation failed */
    CRDT_ERR_TRUNCATED = -2, /* the input ended in the middle of a value */
    CRDT_ERR_MALFORMED = -3, /* invalid encoding: bad tag, bad UTF-8, bad JSON, integer
                                out of range, trailing bytes, inconsistent structure */
    CRDT_ERR_LIMIT = -4,     /* the input exceeds a configured crdt_limits value */
    CRDT_ERR_ARG = -5,       /* invalid argument (NULL, index out of range, bad kind) */
    CRDT_ERR_TYPE = -6,      /* the root or value exists but is of another kind */
} crdt_status;

/* What crdt_apply_update did with an update that decoded correctly. */
typedef enum crdt_apply_result {
    CRDT_APPLIED = 1,   /* something new was integrated, nothing of it waits */
    CRDT_DUPLICATE = 2, /* the document already contained everything in the update */
    CRDT_PENDING = 3,   /* (part of) the update waits for updates it depends on; it is
                           integrated automatically once they arrive */
} crdt_apply_result;

/* Bounds on what hostile input can make the engine do. Zero in a field means "default". */
typedef struct crdt_limits {
    size_t max_update_bytes;      /* default 256 MiB */
    uint64_t max_structs;         /* structs + delete ranges in one update; default 50 M */
    uint64_t max_clock;           /* largest clock + length accepted; default 2^53 - 1 */
    uint64_t max_client_id;       /* default 2^53 - 1 (JS safe integer) */
    uint32_t max_depth;           /* nesting of Any/JSON values and of types when read;
                                     default 128 */
    uint64_t max_pending_structs; /* structs held back waiting for dependencies; default 1 M */
} crdt_limits;

typedef struct crdt_options {
    int gc;             /* 1: garbage-collect deleted content like a default Y.Doc;
                           0: keep it (needed to read old snapshots). */
    uint64_t client_id; /* client id for local edits; 0 picks a random 32-bit id */
    crdt_limits limits; /* zero fields take the defaults */
} crdt_options;

typedef struct crdt_doc crdt_doc;

/* Fills *opts with the defaults: gc on, random client id, default limits. */
void crdt_options_init(crdt_options *opts);

/* Creates an empty document; opts may be NULL for the defaults. The caller frees the
 * document with crdt_doc_free. */
crdt_status crdt_doc_new(const crdt_options *opts, crdt_doc **out);
void crdt_doc_free(crdt_doc *doc);

/* The client id used for local edits. Like Yjs, the document switches to a new random id
 * when an applied update contains structs of its current id (another replica uses it). */
uint64_t crdt_doc_client_id(const crdt_doc *doc);

/* 1 when structs or deletions wait for updates they depend on (Yjs's pendingStructs /
 * pendingDs), else 0. */
int crdt_doc_has_pending(const crdt_doc *doc);

/* Applies an update (v1 or v2). result may be NULL. A malformed update is rejected as a
 * whole (nothing of it is applied). */
crdt_status crdt_apply_update(crdt_doc *doc, const uint8_t *update, size_t len,
                              crdt_apply_result *result);
crdt_status crdt_apply_update_v2(crdt_doc *doc, const uint8_t *update, size_t len,
                                 crdt_apply_result *result);

/* Encodes the document as one update: everything, or (sv != NULL) only what the encoded
 * state vector sv does not cover. Structs still waiting for dependencies are included, as
 * Yjs does. Caller frees *out. */
crdt_status crdt_encode_state(const crdt_doc *doc, const uint8_t *sv, size_t sv_len, uint8_t **out,
                              size_t *out_len);
crdt_status crdt_encode_state_v2(const crdt_doc *doc, const uint8_t *sv, size_t sv_len,
                                 uint8_t **out, size_t *out_len);

/* Encodes the state vector (client -> next expected clock). Caller frees *out. */
crdt_status crdt_encode_state_vector(const crdt_doc *doc, uint8_t **out, size_t *out_len);

/* Writes the state vector as JSON {"client": clock, ...}. Caller frees *out. */
crdt_status crdt_state_vector_json(const crdt_doc *doc, char **out);

/* Sets *contained to 1 when every struct and every deletion of the update (v1) is already
 * integrated in the document, else 0. Parts still pending (see crdt_doc_has_pending) do not
 * count as contained; applying such an update again is harmless. */
crdt_status crdt_contains_update(const crdt_doc *doc, const uint8_t *update, size_t len,
                                 int *contained);

/* Merges n updates (v1, or v2 with the _v2 variant) into one update of the same format
 * without a document, like Y.mergeUpdates. limits may be NULL. Caller frees *out. */
crdt_status crdt_merge_updates(const uint8_t *const *updates, const size_t *lens, size_t n,
                               const crdt_limits *limits, uint8_t **out, size_t *out_len);
crdt_status crdt_merge_updates_v2(const uint8_t *const *updates, const size_t *lens, size_t n,
                                  const crdt_limits *limits, uint8_t **out, size_t *out_len);

/* Converts an update between the formats. limits may be NULL. Caller frees *out. */
crdt_status crdt_convert_v1_to_v2(const uint8_t *update, size_t len, const crdt_limits *limits,
                                  uint8_t **out, size_t *out_len);
crdt_status crdt_convert_v2_to_v1(const uint8_t *update, size_t len, const crdt_limits *limits,
                                  uint8_t **out, size_t *out_len);

/* Encodes a snapshot of the current version (Y.encodeSnapshot: delete set, then state
 * vector). Caller frees *out. */
crdt_status crdt_snapshot_encode(const crdt_doc *doc, uint8_t **out, size_t *out_len);

/* ---- Reading content. snapshot (an encoded snapshot) may be NULL for the current version;
 * reading an older snapshot needs a document created with gc = 0. A root that was never
 * written reads as empty. Caller frees *out. ---- */

/* Root text ROOT as a plain string (Y.Text toString()). */
crdt_status crdt_read_text(const crdt_doc *doc, const char *root, const uint8_t *snapshot,
                           size_t snapshot_len, char **out);
/* Root text as the JSON of Yjs's ytext.toDelta(). */
crdt_status crdt_read_delta(const crdt_doc *doc, const char *root, const uint8_t *snapshot,
                            size_t snapshot_len, char **out);
/* Root array or map as the JSON of Yjs's toJSON() (binary values as arrays of bytes). */
crdt_status crdt_read_array_json(const crdt_doc *doc, const char *root, const uint8_t *snapshot,
                                 size_t snapshot_len, char **out);
crdt_status crdt_read_map_json(const crdt_doc *doc, const char *root, const uint8_t *snapshot,
                               size_t snapshot_len, char **out);
/* Root Y.XmlFragment as Yjs's toString(). */
crdt_status crdt_read_xml(const crdt_doc *doc, const char *root, const uint8_t *snapshot,
                          size_t snapshot_len, char **out);
/* As crdt_read_text and crdt_read_xml, and also set *out_len (required) to the length in
 * bytes without the terminating NUL: text and XML may contain U+0000, where strlen stops
 * short. The string is still NUL-terminated. Caller frees *out. */
crdt_status crdt_read_text_len(const crdt_doc *doc, const char *root, const uint8_t *snapshot,
                               size_t snapshot_len, char **out, size_t *out_len);
crdt_status crdt_read_xml_len(const crdt_doc *doc, const char *root, const uint8_t *snapshot,
                              size_t snapshot_len, char **out, size_t *out_len);

/* ---- Local edits on root types, as a Yjs transaction would do them. Each edit emits the
 * resulting update (v1) through *update (caller frees; may be NULL when not wanted). An edit
 * that changes nothing emits an empty update (2 bytes). Values are JSON text. ---- */

/* Inserts UTF-8 text at a UTF-16 index. attrs_json: NULL to inherit the formatting at that
 * position (like ytext.insert without attributes) or a JSON object of attributes. */
crdt_status crdt_text_insert(crdt_doc *doc, const char *root, uint64_t index, const char *text,
                             size_t text_len, const char *attrs_json, uint8_t **update,
                             size_t *update_len);
crdt_status crdt_text_delete(crdt_doc *doc, const char *root, uint64_t index, uint64_t length,
                             uint8_t **update, size_t *update_len);
/* Applies formatting attributes (JSON object; null values remove) to a range. */
crdt_status crdt_text_format(crdt_doc *doc, const char *root, uint64_t index, uint64_t length,
                             const char *attrs_json, uint8_t **update, size_t *update_len);
crdt_status crdt_map_set(crdt_doc *doc, const char *root, const char *key, const char *value_json,
                         uint8_t **update, size_t *update_len);
crdt_status crdt_map_delete(crdt_doc *doc, const char *root, const char *key, uint8_t **update,
                            size_t *update_len);
/* values_json is a JSON array; its elements are inserted at index. */
crdt_status crdt_array_insert(crdt_doc *doc, const char *root, uint64_t index,
                              const char *values_json, uint8_t **update, size_t *update_len);
crdt_status crdt_array_delete(crdt_doc *doc, const char *root, uint64_t index, uint64_t length,
                              uint8_t **update, size_t *update_len);

/* A short English description of a status code (static string, not to be freed). */
const char *crdt_strerror(crdt_status status);

#ifdef __cplusplus
}
#endif

#endif /* CRDT_CRDT_H */
