/*
 * Single-object encode and decode (see avro_codec.h).
 *
 * Decoding: check the header, look the writer up by fingerprint, validate the
 * body against the writer schema (avro_validate.c), then let avro-c's resolved
 * writer read it into a value of the "effective" reader (the reader minus the
 * fields the writer lacks), and finally copy that into a value of the full
 * reader, filling the missing fields from the reader's defaults: avro-c 1.11
 * refuses reader fields absent from the writer instead of using defaults.
 */
#include "common/avro_codec.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/avro_pcf.h"
#include "common/avro_validate.h"

#define CODEC_MAX_DEPTH 64

static const uint8_t codec_marker[2] = {0xc3, 0x01};

static enum cavro_status codec_fail(char *err, size_t errlen, enum cavro_status status,
                                    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static enum cavro_status codec_fail(char *err, size_t errlen, enum cavro_status status,
                                    const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (errlen > 0) {
        /* clang 14's analyzer misreads the va_list as uninitialised. */
        // NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized)
        vsnprintf(err, errlen, fmt, ap);
    }
    va_end(ap);
    return status;
}

enum cavro_status cavro_encode(const struct cavro_schema *writer, avro_value_t *value,
                               uint8_t **out, size_t *out_len, char *err, size_t errlen)
{
    if (errlen > 0) {
        err[0] = '\0';
    }
    size_t body_len = 0;
    if (avro_value_sizeof(value, &body_len) != 0) {
        return codec_fail(err, errlen, CAVRO_ERR_INVALID_VALUE, "cannot size value: %s",
                          avro_strerror());
    }
    uint8_t *buf = malloc(CAVRO_HEADER_SIZE + body_len);
    if (buf == NULL) {
        return codec_fail(err, errlen, CAVRO_ERR_NO_MEMORY, "out of memory");
    }
    buf[0] = codec_marker[0];
    buf[1] = codec_marker[1];
    for (int i = 0; i < 8; i++) {
        buf[2 + i] = (uint8_t)(writer->fingerprint >> (8 * i));
    }
    avro_writer_t w = avro_writer_memory((const char *)buf + CAVRO_HEADER_SIZE, (int64_t)body_len);
    if (w == NULL) {
        free(buf);
        return codec_fail(err, errlen, CAVRO_ERR_NO_MEMORY, "out of memory");
    }
    int rc = avro_value_write(w, value);
    avro_writer_free(w);
    if (rc != 0) {
        free(buf);
        return codec_fail(err, errlen, CAVRO_ERR_INVALID_VALUE, "cannot encode value: %s",
                          avro_strerror());
    }
    char reason[160];
    enum cavro_status valid = cavro_validate_body(writer->schema, buf + CAVRO_HEADER_SIZE, body_len,
                                                  reason, sizeof(reason));
    if (valid != CAVRO_OK) {
        free(buf);
        return codec_fail(err, errlen, CAVRO_ERR_INVALID_VALUE, "value breaks %s: %s",
                          writer->fullname, reason);
    }
    *out = buf;
    *out_len = CAVRO_HEADER_SIZE + body_len;
    return CAVRO_OK;
}

enum cavro_status cavro_peek_fingerprint(const uint8_t *buf, size_t len, uint64_t *fingerprint)
{
    if (len < 2) {
        return CAVRO_ERR_TRUNCATED;
    }
    if (buf[0] != codec_marker[0] || buf[1] != codec_marker[1]) {
        return CAVRO_ERR_BAD_MARKER;
    }
    if (len < CAVRO_HEADER_SIZE) {
        return CAVRO_ERR_TRUNCATED;
    }
    uint64_t fp = 0;
    for (int i = 0; i < 8; i++) {
        fp |= (uint64_t)buf[2 + i] << (8 * i);
    }
    *fingerprint = fp;
    return CAVRO_OK;
}

/* A JSON string default for bytes/fixed: each code point 0-255 is one byte. */
static int codec_default_bytes(const char *text, uint8_t **out, size_t *out_len)
{
    size_t n = strlen(text);
    uint8_t *bytes = malloc(n + 1);
    if (bytes == NULL) {
        return -1;
    }
    size_t len = 0;
    for (size_t i = 0; i < n; i++) {
        uint8_t c = (uint8_t)text[i];
        if (c < 0x80) {
            bytes[len++] = c;
        } else if ((c & 0xe0) == 0xc0 && c <= 0xc3 && i + 1 < n) {
            bytes[len++] = (uint8_t)(((c & 0x1f) << 6) | ((uint8_t)text[++i] & 0x3f));
        } else {
            free(bytes);
            return -1;
        }
    }
    *out = bytes;
    *out_len = len;
    return 0;
}

static int codec_set_default(avro_value_t *dst, json_t *def, json_t *records, int depth);

static json_t *codec_field_default(json_t *records, avro_schema_t record, const char *field)
{
    const char *ns = avro_schema_namespace(record);
    char *full = cavro_pcf_fullname(avro_schema_name(record), NULL, ns != NULL ? ns : "");
    json_t *fields = full != NULL ? json_object_get(records, full) : NULL;
    free(full);
    for (size_t i = 0; i < json_array_size(fields); i++) {
        json_t *f = json_array_get(fields, i);
        const char *name = json_string_value(json_object_get(f, "name"));
        if (name != NULL && strcmp(name, field) == 0) {
            return json_object_get(f, "default");
        }
    }
    return NULL;
}

static int codec_set_default_record(avro_value_t *dst, json_t *def, json_t *records, int depth)
{
    avro_schema_t schema = avro_value_get_schema(dst);
    for (size_t i = 0; i < avro_schema_record_size(schema); i++) {
        const char *name = avro_schema_record_field_name(schema, (int)i);
        json_t *given = json_object_get(def, name);
        if (given == NULL) {
            given = codec_field_default(records, schema, name);
        }
        avro_value_t field;
        if (given == NULL || avro_value_get_by_index(dst, i, &field, NULL) != 0 ||
            codec_set_default(&field, given, records, depth + 1) != 0) {
            return -1;
        }
    }
    return 0;
}

/* Sets `dst` from a JSON default; the registry checked that it fits. */
static int codec_set_default(avro_value_t *dst, json_t *def, json_t *records, int depth)
{
    if (depth > CODEC_MAX_DEPTH) {
        return -1;
    }
    avro_value_t child;
    uint8_t *bytes = NULL;
    size_t len = 0;
    int rc = 0;
    switch (avro_value_get_type(dst)) {
    case AVRO_NULL:
        return avro_value_set_null(dst);
    case AVRO_BOOLEAN:
        return avro_value_set_boolean(dst, json_is_true(def));
    case AVRO_INT32:
        return avro_value_set_int(dst, (int32_t)json_integer_value(def));
    case AVRO_INT64:
        return avro_value_set_long(dst, (int64_t)json_integer_value(def));
    case AVRO_FLOAT:
        return avro_value_set_float(dst, (float)json_number_value(def));
    case AVRO_DOUBLE:
        return avro_value_set_double(dst, json_number_value(def));
    case AVRO_STRING:
        return avro_value_set_string_len(dst, json_string_value(def), json_string_length(def) + 1);
    case AVRO_BYTES:
    case AVRO_FIXED:
        if (codec_default_bytes(json_string_value(def), &bytes, &len) != 0) {
            return -1;
        }
        rc = avro_value_get_type(dst) == AVRO_BYTES ? avro_value_set_bytes(dst, bytes, len)
                                                    : avro_value_set_fixed(dst, bytes, len);
        free(bytes);
        return rc;
    case AVRO_ENUM: {
        int symbol =
            avro_schema_enum_get_by_name(avro_value_get_schema(dst), json_string_value(def));
        return symbol < 0 ? -1 : avro_value_set_enum(dst, symbol);
    }
    case AVRO_ARRAY:
        for (size_t i = 0; rc == 0 && i < json_array_size(def); i++) {
            rc = avro_value_append(dst, &child, NULL) != 0 ||
                 codec_set_default(&child, json_array_get(def, i), records, depth + 1) != 0;
        }
        return rc;
    case AVRO_MAP: {
        const char *key;
        json_t *item;
        json_object_foreach(def, key, item)
        {
            if (avro_value_add(dst, key, &child, NULL, NULL) != 0 ||
                codec_set_default(&child, item, records, depth + 1) != 0) {
                return -1;
            }
        }
        return 0;
    }
    case AVRO_UNION:
        if (avro_value_set_branch(dst, 0, &child) != 0) {
            return -1;
        }
        return codec_set_default(&child, def, records, depth + 1);
    case AVRO_RECORD:
        return codec_set_default_record(dst, def, records, depth);
    default:
        return -1;
    }
}

/*
 * Copies `src` (a value of the effective reader) into `dst` (a value of the
 * full reader): the two schemas differ only by record fields that `src`
 * lacks, which get their defaults.
 */
static int codec_copy_filling(avro_value_t *dst, avro_value_t *src, json_t *records, int depth)
{
    if (depth > CODEC_MAX_DEPTH) {
        return -1;
    }
    avro_value_t s;
    avro_value_t d;
    size_t count = 0;
    switch (avro_value_get_type(dst)) {
    case AVRO_RECORD: {
        avro_schema_t schema = avro_value_get_schema(dst);
        for (size_t i = 0; i < avro_schema_record_size(schema); i++) {
            const char *name = avro_schema_record_field_name(schema, (int)i);
            if (avro_value_get_by_index(dst, i, &d, NULL) != 0) {
                return -1;
            }
            int rc = avro_value_get_by_name(src, name, &s, NULL) == 0
                         ? codec_copy_filling(&d, &s, records, depth + 1)
                         : codec_set_default(&d, codec_field_default(records, schema, name),
                                             records, depth + 1);
            if (rc != 0) {
                return -1;
            }
        }
        return 0;
    }
    case AVRO_ARRAY:
    case AVRO_MAP:
        if (avro_value_get_size(src, &count) != 0) {
            return -1;
        }
        for (size_t i = 0; i < count; i++) {
            const char *key = NULL;
            if (avro_value_get_by_index(src, i, &s, &key) != 0) {
                return -1;
            }
            int rc = avro_value_get_type(dst) == AVRO_ARRAY
                         ? avro_value_append(dst, &d, NULL)
                         : avro_value_add(dst, key, &d, NULL, NULL);
            if (rc != 0 || codec_copy_filling(&d, &s, records, depth + 1) != 0) {
                return -1;
            }
        }
        return 0;
    case AVRO_UNION: {
        int branch = 0;
        if (avro_value_get_discriminant(src, &branch) != 0 ||
            avro_value_get_current_branch(src, &s) != 0 ||
            avro_value_set_branch(dst, branch, &d) != 0) {
            return -1;
        }
        return codec_copy_filling(&d, &s, records, depth + 1);
    }
    default:
        return avro_value_copy(dst, src);
    }
}

/* Reads a validated body as `res->effective`, then completes it to the reader. */
static enum cavro_status codec_read(const struct cavro_resolution *res, const uint8_t *body,
                                    size_t len, avro_value_t *out, char *err, size_t errlen)
{
    avro_value_t effective;
    if (avro_generic_value_new(res->effective_iface, &effective) != 0) {
        return codec_fail(err, errlen, CAVRO_ERR_NO_MEMORY, "out of memory");
    }
    avro_reader_t reader = avro_reader_memory((const char *)body, (int64_t)len);
    if (reader == NULL) {
        avro_value_decref(&effective);
        return codec_fail(err, errlen, CAVRO_ERR_NO_MEMORY, "out of memory");
    }
    int rc;
    if (res->resolver == NULL) {
        rc = avro_value_read(reader, &effective);
    } else {
        avro_value_t resolved;
        rc = avro_resolved_writer_new_value(res->resolver, &resolved);
        if (rc == 0) {
            avro_resolved_writer_set_dest(&resolved, &effective);
            rc = avro_value_read(reader, &resolved);
            avro_value_decref(&resolved);
        }
    }
    avro_reader_free(reader);
    if (rc != 0) {
        /* The body was valid for the writer, so only resolution can fail here,
         * e.g. a union branch the reader does not know. */
        avro_value_decref(&effective);
        return codec_fail(err, errlen, CAVRO_ERR_INCOMPATIBLE, "cannot resolve %s to %s: %s",
                          res->writer->file, res->reader->file, avro_strerror());
    }
    if (!res->fills_defaults) {
        *out = effective;
        return CAVRO_OK;
    }
    avro_value_t full;
    if (avro_generic_value_new(res->reader->iface, &full) != 0) {
        avro_value_decref(&effective);
        return codec_fail(err, errlen, CAVRO_ERR_NO_MEMORY, "out of memory");
    }
    rc = codec_copy_filling(&full, &effective, res->reader->records, 0);
    avro_value_decref(&effective);
    if (rc != 0) {
        avro_value_decref(&full);
        return codec_fail(err, errlen, CAVRO_ERR_NO_MEMORY, "cannot fill defaults of %s",
                          res->reader->file);
    }
    *out = full;
    return CAVRO_OK;
}

enum cavro_status cavro_decode(const struct cavro_registry *registry,
                               const struct cavro_schema *reader, const uint8_t *buf, size_t len,
                               avro_value_t *out, char *err, size_t errlen)
{
    if (errlen > 0) {
        err[0] = '\0';
    }
    uint64_t fingerprint = 0;
    enum cavro_status rc = cavro_peek_fingerprint(buf, len, &fingerprint);
    if (rc != CAVRO_OK) {
        return codec_fail(err, errlen, rc, "%s",
                          rc == CAVRO_ERR_TRUNCATED ? "shorter than the 10-byte header"
                                                    : "no single-object marker C3 01");
    }
    const struct cavro_schema *writer = cavro_registry_by_fingerprint(registry, fingerprint);
    if (writer == NULL) {
        return codec_fail(err, errlen, CAVRO_ERR_UNKNOWN_SCHEMA,
                          "no schema with fingerprint %016llx", (unsigned long long)fingerprint);
    }
    if (strcmp(writer->fullname, reader->fullname) != 0) {
        return codec_fail(err, errlen, CAVRO_ERR_WRONG_TYPE, "record is a %s, not a %s",
                          writer->fullname, reader->fullname);
    }
    const struct cavro_resolution *res = cavro_registry_resolution(registry, writer, reader);
    if (res == NULL || !res->compatible) {
        return codec_fail(err, errlen, CAVRO_ERR_INCOMPATIBLE, "%s cannot be read as %s: %s",
                          writer->file, reader->file, res != NULL ? res->reason : "unknown");
    }
    rc = cavro_validate_body(writer->schema, buf + CAVRO_HEADER_SIZE, len - CAVRO_HEADER_SIZE, err,
                             errlen);
    if (rc != CAVRO_OK) {
        return rc;
    }
    return codec_read(res, buf + CAVRO_HEADER_SIZE, len - CAVRO_HEADER_SIZE, out, err, errlen);
}
