/*
 * A walk over an Avro binary body driven by the writer schema (see
 * avro_validate.h). It reads nothing into memory: it only moves a cursor and
 * checks every length, index and count against the bytes that remain.
 */
#include "common/avro_validate.h"

#include <bson.h>
#include <stdarg.h>
#include <stdio.h>

struct validate_cursor {
    const uint8_t *pos;
    size_t left;
    size_t items_budget; /* array items + map entries still allowed */
    char *err;
    size_t errlen;
};

static enum cavro_status validate_fail(struct validate_cursor *c, enum cavro_status status,
                                       const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static enum cavro_status validate_fail(struct validate_cursor *c, enum cavro_status status,
                                       const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (c->errlen > 0) {
        /* clang 14's analyzer misreads the va_list as uninitialised. */
        // NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized)
        vsnprintf(c->err, c->errlen, fmt, ap);
    }
    va_end(ap);
    return status;
}

static enum cavro_status validate_take(struct validate_cursor *c, size_t n, const char *what)
{
    if (n > c->left) {
        return validate_fail(c, CAVRO_ERR_TRUNCATED, "%s needs %zu bytes, %zu left", what, n,
                             c->left);
    }
    c->pos += n;
    c->left -= n;
    return CAVRO_OK;
}

/* A zig-zag varint of at most 10 bytes whose value fits in 64 bits. */
static enum cavro_status validate_long(struct validate_cursor *c, int64_t *out)
{
    uint64_t raw = 0;
    for (unsigned shift = 0; shift < 70; shift += 7) {
        if (c->left == 0) {
            return validate_fail(c, CAVRO_ERR_TRUNCATED, "body ends inside a varint");
        }
        uint8_t byte = *c->pos++;
        c->left--;
        if (shift == 63 && (byte & 0x7e) != 0) {
            return validate_fail(c, CAVRO_ERR_MALFORMED, "varint overflows 64 bits");
        }
        raw |= (uint64_t)(byte & 0x7f) << shift;
        if ((byte & 0x80) == 0) {
            uint64_t magnitude = raw >> 1;
            *out = (raw & 1) ? -(int64_t)magnitude - 1 : (int64_t)magnitude;
            return CAVRO_OK;
        }
    }
    return validate_fail(c, CAVRO_ERR_MALFORMED, "varint longer than 10 bytes");
}

static enum cavro_status validate_length(struct validate_cursor *c, const char *what, size_t *out)
{
    int64_t n = 0;
    enum cavro_status rc = validate_long(c, &n);
    if (rc != CAVRO_OK) {
        return rc;
    }
    if (n < 0) {
        return validate_fail(c, CAVRO_ERR_MALFORMED, "negative %s length %lld", what, (long long)n);
    }
    if ((uint64_t)n > c->left) {
        return validate_fail(c, CAVRO_ERR_TRUNCATED, "%s length %lld exceeds the %zu bytes left",
                             what, (long long)n, c->left);
    }
    *out = (size_t)n;
    return CAVRO_OK;
}

/* An int or long used as an index into [0, count). */
static enum cavro_status validate_index(struct validate_cursor *c, size_t count, const char *what,
                                        size_t *out)
{
    int64_t index = 0;
    enum cavro_status rc = validate_long(c, &index);
    if (rc != CAVRO_OK) {
        return rc;
    }
    if (index < 0 || (uint64_t)index >= count) {
        return validate_fail(c, CAVRO_ERR_MALFORMED, "%s index %lld out of range [0, %zu)", what,
                             (long long)index, count);
    }
    *out = (size_t)index;
    return CAVRO_OK;
}

static enum cavro_status validate_string(struct validate_cursor *c)
{
    size_t n = 0;
    enum cavro_status rc = validate_length(c, "string", &n);
    if (rc != CAVRO_OK) {
        return rc;
    }
    if (!bson_utf8_validate((const char *)c->pos, n, false)) {
        return validate_fail(c, CAVRO_ERR_MALFORMED, "string is not valid UTF-8");
    }
    return validate_take(c, n, "string");
}

static enum cavro_status validate_value(struct validate_cursor *c, avro_schema_t schema, int depth);

/* Arrays and maps: blocks of (count, [byte size], items) ended by a zero count. */
static enum cavro_status validate_blocks(struct validate_cursor *c, avro_schema_t item_schema,
                                         int is_map, int depth)
{
    for (;;) {
        int64_t count = 0;
        enum cavro_status rc = validate_long(c, &count);
        if (rc != CAVRO_OK) {
            return rc;
        }
        if (count == 0) {
            return CAVRO_OK;
        }
        size_t block_bytes = 0;
        int has_size = count < 0;
        if (has_size) {
            if (count == INT64_MIN) {
                return validate_fail(c, CAVRO_ERR_MALFORMED, "block count out of range");
            }
            count = -count;
            rc = validate_length(c, "block", &block_bytes);
            if (rc != CAVRO_OK) {
                return rc;
            }
        }
        if ((uint64_t)count > c->items_budget) {
            return validate_fail(c, CAVRO_ERR_MALFORMED,
                                 "block of %lld items exceeds the limit for this body",
                                 (long long)count);
        }
        c->items_budget -= (size_t)count;
        size_t left_before = c->left;
        for (int64_t i = 0; i < count; i++) {
            if (is_map) {
                rc = validate_string(c);
                if (rc != CAVRO_OK) {
                    return rc;
                }
            }
            rc = validate_value(c, item_schema, depth + 1);
            if (rc != CAVRO_OK) {
                return rc;
            }
        }
        if (has_size && left_before - c->left != block_bytes) {
            return validate_fail(c, CAVRO_ERR_MALFORMED,
                                 "block size %zu does not match its %zu bytes", block_bytes,
                                 left_before - c->left);
        }
    }
}

static enum cavro_status validate_value(struct validate_cursor *c, avro_schema_t schema, int depth)
{
    if (depth > CAVRO_VALIDATE_MAX_DEPTH) {
        return validate_fail(c, CAVRO_ERR_MALFORMED, "values nested deeper than %d",
                             CAVRO_VALIDATE_MAX_DEPTH);
    }
    enum cavro_status rc = CAVRO_OK;
    size_t n = 0;
    int64_t ignored = 0;
    switch (avro_typeof(schema)) {
    case AVRO_NULL:
        return CAVRO_OK;
    case AVRO_BOOLEAN:
        if (c->left == 0) {
            return validate_fail(c, CAVRO_ERR_TRUNCATED, "body ends inside a boolean");
        }
        if (*c->pos > 1) {
            return validate_fail(c, CAVRO_ERR_MALFORMED, "boolean byte %u is not 0 or 1", *c->pos);
        }
        return validate_take(c, 1, "boolean");
    case AVRO_INT32:
        rc = validate_long(c, &ignored);
        if (rc == CAVRO_OK && (ignored < INT32_MIN || ignored > INT32_MAX)) {
            return validate_fail(c, CAVRO_ERR_MALFORMED, "int %lld out of range",
                                 (long long)ignored);
        }
        return rc;
    case AVRO_INT64:
        return validate_long(c, &ignored);
    case AVRO_FLOAT:
        return validate_take(c, 4, "float");
    case AVRO_DOUBLE:
        return validate_take(c, 8, "double");
    case AVRO_BYTES:
        rc = validate_length(c, "bytes", &n);
        return rc == CAVRO_OK ? validate_take(c, n, "bytes") : rc;
    case AVRO_STRING:
        return validate_string(c);
    case AVRO_FIXED: {
        int64_t size = avro_schema_fixed_size(schema);
        return validate_take(c, size < 0 ? SIZE_MAX : (size_t)size, "fixed");
    }
    case AVRO_ENUM: {
        int symbols = avro_schema_enum_number_of_symbols(schema);
        return validate_index(c, symbols < 0 ? 0 : (size_t)symbols, "enum", &n);
    }
    case AVRO_UNION:
        rc = validate_index(c, avro_schema_union_size(schema), "union", &n);
        if (rc != CAVRO_OK) {
            return rc;
        }
        return validate_value(c, avro_schema_union_branch(schema, (int)n), depth + 1);
    case AVRO_RECORD:
        for (size_t i = 0; i < avro_schema_record_size(schema); i++) {
            rc =
                validate_value(c, avro_schema_record_field_get_by_index(schema, (int)i), depth + 1);
            if (rc != CAVRO_OK) {
                return rc;
            }
        }
        return CAVRO_OK;
    case AVRO_ARRAY:
        return validate_blocks(c, avro_schema_array_items(schema), 0, depth);
    case AVRO_MAP:
        return validate_blocks(c, avro_schema_map_values(schema), 1, depth);
    case AVRO_LINK:
        return validate_value(c, avro_schema_link_target(schema), depth + 1);
    default:
        return validate_fail(c, CAVRO_ERR_MALFORMED, "unsupported schema type %d",
                             (int)avro_typeof(schema));
    }
}

enum cavro_status cavro_validate_body(avro_schema_t schema, const uint8_t *buf, size_t len,
                                      char *err, size_t errlen)
{
    struct validate_cursor c = {
        .pos = buf, .left = len, .items_budget = len, .err = err, .errlen = errlen};
    if (errlen > 0) {
        err[0] = '\0';
    }
    enum cavro_status rc = validate_value(&c, schema, 0);
    if (rc == CAVRO_OK && c.left != 0) {
        return validate_fail(&c, CAVRO_ERR_TRAILING_BYTES, "%zu bytes after the record", c.left);
    }
    return rc;
}
