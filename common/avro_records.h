/*
 * Typed C records for every Kafka record value (the schemas/ .avsc files), with
 * encode/decode to Avro single-object bytes (avro_codec.h). Services use these
 * and never touch avro-c values.
 *
 * Ownership: encode reads a record whose pointers the caller owns, and returns
 * a malloc'd buffer the caller frees with free(). Decode fills a record whose
 * strings, buffers and arrays are malloc'd; the caller releases them with the
 * record's _clear() function (safe on a zeroed record and after a failed
 * decode, which leaves the record zeroed). Strings are NUL-terminated UTF-8.
 *
 * Every function takes the registry (avro_registry.h) and writes with, or
 * reads into, the newest revision of the record's schema.
 */
#ifndef COLLAB_AVRO_RECORDS_H
#define COLLAB_AVRO_RECORDS_H

#include <stddef.h>
#include <stdint.h>

#include "common/avro_status.h"

struct cavro_registry;

struct cavro_bytes {
    uint8_t *data; /* may be NULL when len == 0 */
    size_t len;
};

/* A value of a ["null", "bytes"] field. */
struct cavro_opt_bytes {
    int present;
    struct cavro_bytes bytes;
};

struct cavro_bytes_list {
    struct cavro_bytes *items;
    size_t count;
};

/* A vector clock or version vector: client id -> counter, an Avro array of
 * ClockEntry sorted by client id. Encode and decode both refuse unsorted or
 * repeated client ids and negative numbers (CAVRO_ERR_INVALID_VALUE). */
struct cavro_clock_entry {
    int64_t client_id; /* Yjs client id */
    int64_t counter;
};

struct cavro_clock {
    struct cavro_clock_entry *entries;
    size_t count;
};

/* Symbols of the enums, in schema order (matched to the schema by name). */
enum cavro_op_kind { CAVRO_OP_YJS_UPDATE, CAVRO_OP_ITEM_WRITE, CAVRO_OP_ITEM_RESOLVE };
enum cavro_merged_kind {
    CAVRO_MERGED_YJS_UPDATE,
    CAVRO_MERGED_ITEM_STATE,
    CAVRO_MERGED_ITEM_CONFLICT
};
enum cavro_item_policy { CAVRO_POLICY_MANUAL, CAVRO_POLICY_LWW };

/* collab.ClientOp: topic collab.ops. */
struct cavro_client_op {
    char *doc_id;
    char *op_id;
    int64_t client_id; /* Yjs client id */
    char *user_id;
    enum cavro_op_kind kind;
    struct cavro_bytes payload;
    int64_t client_time_us;
    int64_t ingest_time_us;
    struct cavro_clock version_vector;
    char *ingest_node;
};

/* collab.MergedOp: topic collab.merged. */
struct cavro_merged_op {
    char *doc_id;
    int64_t doc_version;
    char *op_id;
    enum cavro_merged_kind kind;
    struct cavro_bytes payload;
    struct cavro_opt_bytes state_vector;
    char *user_id;
    int64_t client_id;
    int64_t ingest_time_us;
    int64_t processed_time_us;
    int32_t source_partition;
    int64_t source_offset;
};

/* collab.ItemWrite and collab.ItemResolve (same fields): ClientOp payloads. */
struct cavro_item_op {
    char *item_id;
    struct cavro_bytes value;
    struct cavro_clock clock;
    int64_t time_ms;
    int64_t client_id;
};

struct cavro_item_sibling {
    struct cavro_bytes value;
    struct cavro_clock clock;
    int64_t time_ms;
    int64_t client_id;
};

/* collab.ItemState: MergedOp payload of ITEM_STATE and ITEM_CONFLICT. */
struct cavro_item_state {
    char *item_id;
    int64_t version;
    int64_t revision;
    enum cavro_item_policy policy;
    struct cavro_item_sibling *siblings;
    size_t sibling_count;
    int conflict; /* 0 or 1 */
};

/* collab.DlqRecord: topic collab.dlq. */
struct cavro_dlq_record {
    struct cavro_opt_bytes original_key;
    struct cavro_bytes original_value;
    char *topic;
    int32_t partition;
    int64_t offset;
    char *reason_code;
    char *reason;
    char *service;
    int64_t failed_time_us;
};

/* collab.Snapshot: document_versions and the Redis snapshot cache. */
struct cavro_snapshot {
    char *doc_id;
    int64_t doc_version;
    struct cavro_bytes state;
    struct cavro_bytes state_vector;
    struct cavro_bytes_list items;
    int32_t source_partition;
    int64_t source_offset;
    int64_t created_time_us;
};

/*
 * For each record type:
 *   _encode: CAVRO_OK and *out (free()) / *out_len, or CAVRO_ERR_INVALID_VALUE
 *            (NULL string, string not UTF-8, enum out of range, ...) or
 *            CAVRO_ERR_NO_MEMORY, with a reason in err.
 *   _decode: CAVRO_OK with the record filled, or any cavro_decode() error, or
 *            CAVRO_ERR_INVALID_VALUE for a clock that is not canonical (the
 *            record is then zeroed).
 *   _clear:  frees what decode allocated and zeroes the record.
 */
enum cavro_status cavro_client_op_encode(const struct cavro_registry *reg,
                                         const struct cavro_client_op *rec, uint8_t **out,
                                         size_t *out_len, char *err, size_t errlen);
enum cavro_status cavro_client_op_decode(const struct cavro_registry *reg, const uint8_t *buf,
                                         size_t len, struct cavro_client_op *rec, char *err,
                                         size_t errlen);
void cavro_client_op_clear(struct cavro_client_op *rec);

enum cavro_status cavro_merged_op_encode(const struct cavro_registry *reg,
                                         const struct cavro_merged_op *rec, uint8_t **out,
                                         size_t *out_len, char *err, size_t errlen);
enum cavro_status cavro_merged_op_decode(const struct cavro_registry *reg, const uint8_t *buf,
                                         size_t len, struct cavro_merged_op *rec, char *err,
                                         size_t errlen);
void cavro_merged_op_clear(struct cavro_merged_op *rec);

enum cavro_status cavro_item_write_encode(const struct cavro_registry *reg,
                                          const struct cavro_item_op *rec, uint8_t **out,
                                          size_t *out_len, char *err, size_t errlen);
enum cavro_status cavro_item_write_decode(const struct cavro_registry *reg, const uint8_t *buf,
                                          size_t len, struct cavro_item_op *rec, char *err,
                                          size_t errlen);
enum cavro_status cavro_item_resolve_encode(const struct cavro_registry *reg,
                                            const struct cavro_item_op *rec, uint8_t **out,
                                            size_t *out_len, char *err, size_t errlen);
enum cavro_status cavro_item_resolve_decode(const struct cavro_registry *reg, const uint8_t *buf,
                                            size_t len, struct cavro_item_op *rec, char *err,
                                            size_t errlen);
void cavro_item_op_clear(struct cavro_item_op *rec);

enum cavro_status cavro_item_state_encode(const struct cavro_registry *reg,
                                          const struct cavro_item_state *rec, uint8_t **out,
                                          size_t *out_len, char *err, size_t errlen);
enum cavro_status cavro_item_state_decode(const struct cavro_registry *reg, const uint8_t *buf,
                                          size_t len, struct cavro_item_state *rec, char *err,
                                          size_t errlen);
void cavro_item_state_clear(struct cavro_item_state *rec);

enum cavro_status cavro_dlq_record_encode(const struct cavro_registry *reg,
                                          const struct cavro_dlq_record *rec, uint8_t **out,
                                          size_t *out_len, char *err, size_t errlen);
enum cavro_status cavro_dlq_record_decode(const struct cavro_registry *reg, const uint8_t *buf,
                                          size_t len, struct cavro_dlq_record *rec, char *err,
                                          size_t errlen);
void cavro_dlq_record_clear(struct cavro_dlq_record *rec);

enum cavro_status cavro_snapshot_encode(const struct cavro_registry *reg,
                                        const struct cavro_snapshot *rec, uint8_t **out,
                                        size_t *out_len, char *err, size_t errlen);
enum cavro_status cavro_snapshot_decode(const struct cavro_registry *reg, const uint8_t *buf,
                                        size_t len, struct cavro_snapshot *rec, char *err,
                                        size_t errlen);
void cavro_snapshot_clear(struct cavro_snapshot *rec);

/* Which record type single-object bytes hold ("collab.ClientOp", ...), by
 * fingerprint: NULL for an unknown schema or bad header. Borrowed from reg. */
/* The schema's symbol of a merged kind ("YJS_UPDATE", "ITEM_STATE",
 * "ITEM_CONFLICT"; "UNKNOWN" out of range): a static string, as stored in
 * crdt_operations and sent to clients. */
const char *cavro_merged_kind_name(enum cavro_merged_kind kind);

const char *cavro_record_type(const struct cavro_registry *reg, const uint8_t *buf, size_t len);

#endif
