/*
 * value.h - JavaScript values as Yjs stores them in ContentAny, ContentJSON, ContentEmbed,
 * ContentFormat and map entries: lib0 "any" (binary) and JSON text in, lib0 "any" and
 * JSON.stringify-compatible text out.
 *
 * A crdt_value owns everything it points to; crdt_value_clear frees it.
 */
#ifndef CRDT_VALUE_H
#define CRDT_VALUE_H

#include "crdt/lib0.h"

typedef enum crdt_value_kind {
    CRDT_V_UNDEFINED = 0,
    CRDT_V_NULL,
    CRDT_V_BOOL,
    CRDT_V_NUMBER, /* a JS number (double); integers are exact up to 2^53 */
    CRDT_V_BIGINT,
    CRDT_V_STRING,
    CRDT_V_BINARY,
    CRDT_V_ARRAY,
    CRDT_V_OBJECT,
} crdt_value_kind;

typedef struct crdt_value crdt_value;
typedef struct crdt_value_kv crdt_value_kv;

struct crdt_value {
    crdt_value_kind kind;
    union {
        int boolean;
        double number;
        int64_t bigint;
        struct {
            char *p; /* UTF-8, NUL-terminated, malloc'd */
            size_t n;
        } str;
        struct {
            uint8_t *p; /* malloc'd */
            size_t n;
        } bin;
        struct {
            crdt_value *items; /* malloc'd array */
            size_t n;
        } arr;
        struct {
            crdt_value_kv *kv; /* malloc'd array, in insertion order */
            size_t n;
        } obj;
    } u;
};

struct crdt_value_kv {
    char *key; /* malloc'd, NUL-terminated */
    size_t key_len;
    crdt_value val;
};

/* Frees what v owns and leaves it undefined. */
void crdt_value_clear(crdt_value *v);
/* Deep copy; on error dst is left undefined. */
crdt_status crdt_value_copy(crdt_value *dst, const crdt_value *src);
int crdt_value_equal(const crdt_value *a, const crdt_value *b);

/* Reads one lib0 "any" value; depth bounds the nesting of arrays/objects. */
crdt_status crdt_value_read_any(crdt_rd *r, crdt_value *out, uint32_t depth);
void crdt_value_write_any(crdt_buf *b, const crdt_value *v);

/* Parses JSON text like JSON.parse (all numbers are doubles); the text "undefined" gives
 * undefined, as ContentJSON stores it. */
crdt_status crdt_value_from_json(const char *text, size_t len, crdt_value *out, uint32_t depth);
/* Writes v like JSON.stringify (undefined inside objects is skipped, inside arrays it is
 * null; top-level undefined writes `undefined` when undefined_literal is set, else null).
 * Binary values are written as arrays of byte values. */
void crdt_value_write_json(crdt_buf *b, const crdt_value *v, int undefined_literal);
/* JSON string literal with JSON.stringify's escaping. */
void crdt_json_write_string(crdt_buf *b, const char *s, size_t n);
/* A number as JavaScript's Number.prototype.toString writes it (NaN, Infinity too). */
void crdt_js_number(crdt_buf *b, double d);
/* The value as JavaScript's String(v) would give it (for XML attribute values). */
void crdt_value_write_js_string(crdt_buf *b, const crdt_value *v);

/* The order JSON.stringify lists an object's keys in: integer-like keys ("0", "17") first
 * in ascending numeric order, then the others in insertion order. Fills order[0..n). */
void crdt_js_key_order(const char *const *keys, const size_t *key_lens, size_t n, size_t *order);

#endif /* CRDT_VALUE_H */
