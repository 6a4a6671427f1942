/*
 * Checks that bytes are exactly one well-formed Avro binary encoding of a
 * schema, before avro-c reads them. avro-c's reader trusts what it reads: a
 * negative length makes it write before its buffer and a huge one makes it
 * allocate that much, so every decode in avro_codec.c runs this first.
 * docs/decisions.md explains why this is hand-written.
 *
 * Limits beyond the Avro specification, to bound work per byte of input:
 * schemas nest at most CAVRO_VALIDATE_MAX_DEPTH deep, and a body holds at
 * most as many array items and map entries together as it has bytes.
 */
#ifndef COLLAB_AVRO_VALIDATE_H
#define COLLAB_AVRO_VALIDATE_H

#include <avro.h>
#include <stddef.h>
#include <stdint.h>

#include "common/avro_status.h"

#define CAVRO_VALIDATE_MAX_DEPTH 64

/*
 * Returns CAVRO_OK when buf[0..len) is one value of `schema` with no byte
 * left over; otherwise CAVRO_ERR_TRUNCATED, CAVRO_ERR_MALFORMED (bad varint,
 * negative or oversized length, enum or union index out of range, boolean not
 * 0/1, string not UTF-8, block size inconsistent, limits above) or
 * CAVRO_ERR_TRAILING_BYTES, with a reason in `err` when errlen > 0.
 */
enum cavro_status cavro_validate_body(avro_schema_t schema, const uint8_t *buf, size_t len,
                                      char *err, size_t errlen);

#endif
