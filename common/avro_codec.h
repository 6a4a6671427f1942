/*
 * Avro single-object encoding of Kafka record values: the marker C3 01, the
 * writer schema's CRC-64-AVRO fingerprint in 8 little-endian bytes, then the
 * Avro binary body. Consumers find the writer schema by fingerprint in the
 * registry (avro_registry.h) and resolve it against the schema they read with,
 * so producers and consumers can be upgraded independently.
 *
 * This is the generic layer over avro-c values; services use the typed records
 * of avro_records.h, which sit on top of it.
 */
#ifndef COLLAB_AVRO_CODEC_H
#define COLLAB_AVRO_CODEC_H

#include <avro.h>
#include <stddef.h>
#include <stdint.h>

#include "common/avro_registry.h"
#include "common/avro_status.h"

#define CAVRO_HEADER_SIZE 10

/*
 * Encodes `value`, an instance of writer->schema. On CAVRO_OK, *out is a
 * malloc'd buffer of *out_len bytes that the caller frees with free(). The
 * bytes are checked against the schema before they are returned, so a
 * producer never emits what consumers would reject (e.g. a string that is not
 * UTF-8: CAVRO_ERR_INVALID_VALUE).
 */
enum cavro_status cavro_encode(const struct cavro_schema *writer, avro_value_t *value,
                               uint8_t **out, size_t *out_len, char *err, size_t errlen);

/* Reads the writer fingerprint of single-object bytes (CAVRO_ERR_TRUNCATED or
 * CAVRO_ERR_BAD_MARKER when they have no valid header). */
enum cavro_status cavro_peek_fingerprint(const uint8_t *buf, size_t len, uint64_t *fingerprint);

/*
 * Decodes single-object bytes as a record of reader's type, resolved from the
 * writer schema named by the fingerprint to `reader` (fields the writer did
 * not have get the reader's defaults; fields the reader does not have are
 * skipped). On CAVRO_OK, *out is a new generic value of reader->schema that
 * the caller releases with avro_value_decref(). On failure nothing is
 * allocated, *out is untouched and `err` (when errlen > 0) says why; the
 * status is one of CAVRO_ERR_TRUNCATED, _BAD_MARKER, _UNKNOWN_SCHEMA,
 * _WRONG_TYPE, _INCOMPATIBLE, _MALFORMED, _TRAILING_BYTES, _NO_MEMORY.
 */
enum cavro_status cavro_decode(const struct cavro_registry *registry,
                               const struct cavro_schema *reader, const uint8_t *buf, size_t len,
                               avro_value_t *out, char *err, size_t errlen);

#endif
