/*
 * Parsing Canonical Form and CRC-64-AVRO fingerprint (see avro_pcf.h).
 *
 * The transformation follows the specification's rules in order:
 * PRIMITIVES (bare names for primitive schemas), FULLNAMES (names qualified by
 * the applicable namespace, namespace attributes dropped), STRIP (only name,
 * type, fields, symbols, items, values, size are kept), ORDER (that order),
 * STRINGS (escapes replaced by UTF-8), INTEGERS (size without quotes or
 * leading zeros) and WHITESPACE (none outside strings).
 */
#include "common/avro_pcf.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/sbuf.h"

/* Avro nests rarely; a deeper schema is treated as hostile rather than recursed into. */
#define PCF_MAX_DEPTH 64

/* Named types already emitted, by fullname: later uses are emitted as the bare fullname. */
struct pcf_state {
    sbuf out;
    json_t *defined; /* object: fullname -> true */
    char *err;
    size_t errlen;
};

static const char *const pcf_primitives[] = {"null",  "boolean", "int",   "long",
                                             "float", "double",  "bytes", "string"};

static int pcf_fail(struct pcf_state *st, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int pcf_fail(struct pcf_state *st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (st->errlen > 0) {
        /* clang 14's analyzer misreads the va_list as uninitialised. */
        // NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized)
        vsnprintf(st->err, st->errlen, fmt, ap);
    }
    va_end(ap);
    return -1;
}

/* Appends to the output; a failed allocation is sticky in the sbuf and
 * reported once at the end. */
static void pcf_append_str(struct pcf_state *st, const char *text)
{
    (void)sbuf_puts(&st->out, text);
}

/* A JSON string literal with only the escapes JSON requires (rule STRINGS). */
static int pcf_append_json_string(struct pcf_state *st, const char *s)
{
    json_t *str = json_string(s);
    if (str == NULL) {
        return pcf_fail(st, "string is not valid UTF-8");
    }
    char *text = json_dumps(str, JSON_ENCODE_ANY | JSON_COMPACT);
    json_decref(str);
    if (text == NULL) {
        return pcf_fail(st, "out of memory");
    }
    pcf_append_str(st, text);
    free(text);
    return 0;
}

static int pcf_is_primitive(const char *name)
{
    for (size_t i = 0; i < sizeof(pcf_primitives) / sizeof(pcf_primitives[0]); i++) {
        if (strcmp(name, pcf_primitives[i]) == 0) {
            return 1;
        }
    }
    return 0;
}

char *cavro_pcf_fullname(const char *name, const char *explicit_ns, const char *enclosing_ns)
{
    const char *ns = explicit_ns != NULL ? explicit_ns : enclosing_ns;
    if (strchr(name, '.') != NULL || ns == NULL || ns[0] == '\0') {
        return strdup(name);
    }
    size_t size = strlen(ns) + 1 + strlen(name) + 1;
    char *full = malloc(size);
    if (full != NULL) {
        snprintf(full, size, "%s.%s", ns, name);
    }
    return full;
}

void cavro_pcf_namespace_of(const char *fullname, char *ns)
{
    const char *dot = strrchr(fullname, '.');
    size_t n = dot != NULL ? (size_t)(dot - fullname) : 0;
    memcpy(ns, fullname, n);
    ns[n] = '\0';
}

static int pcf_emit(struct pcf_state *st, const json_t *schema, const char *ns, int depth);

/* A type given by name: a primitive, or a named type defined earlier. */
static int pcf_emit_reference(struct pcf_state *st, const char *name, const char *ns)
{
    if (pcf_is_primitive(name)) {
        return pcf_append_json_string(st, name);
    }
    char *full = cavro_pcf_fullname(name, NULL, ns);
    if (full == NULL) {
        return pcf_fail(st, "out of memory");
    }
    /* An unqualified name may also refer to a type in the null namespace. */
    const char *found = NULL;
    if (json_object_get(st->defined, full) != NULL) {
        found = full;
    } else if (json_object_get(st->defined, name) != NULL) {
        found = name;
    }
    int rc = found != NULL ? pcf_append_json_string(st, found)
                           : pcf_fail(st, "unknown type name '%s'", name);
    free(full);
    return rc;
}

static int pcf_emit_fields(struct pcf_state *st, const json_t *fields, const char *ns, int depth)
{
    if (!json_is_array(fields)) {
        return pcf_fail(st, "record 'fields' must be an array");
    }
    pcf_append_str(st, ",\"fields\":[");
    for (size_t i = 0; i < json_array_size(fields); i++) {
        const json_t *field = json_array_get(fields, i);
        const char *fname = json_string_value(json_object_get(field, "name"));
        const json_t *ftype = json_object_get(field, "type");
        if (fname == NULL || ftype == NULL) {
            return pcf_fail(st, "record field %zu needs 'name' and 'type'", i);
        }
        pcf_append_str(st, i ? ",{\"name\":" : "{\"name\":");
        if (pcf_append_json_string(st, fname) != 0) {
            return -1;
        }
        pcf_append_str(st, ",\"type\":");
        if (pcf_emit(st, ftype, ns, depth + 1) != 0) {
            return -1;
        }
        pcf_append_str(st, "}");
    }
    pcf_append_str(st, "]");
    return 0;
}

static int pcf_emit_symbols(struct pcf_state *st, const json_t *symbols)
{
    if (!json_is_array(symbols)) {
        return pcf_fail(st, "enum 'symbols' must be an array");
    }
    pcf_append_str(st, ",\"symbols\":[");
    for (size_t i = 0; i < json_array_size(symbols); i++) {
        const char *sym = json_string_value(json_array_get(symbols, i));
        if (sym == NULL) {
            return pcf_fail(st, "enum symbol %zu is not a string", i);
        }
        if (i > 0) {
            pcf_append_str(st, ",");
        }
        if (pcf_append_json_string(st, sym) != 0) {
            return -1;
        }
    }
    pcf_append_str(st, "]");
    return 0;
}

/* record, enum or fixed: {"name":fullname,"type":...,<fields|symbols|size>} */
static int pcf_emit_named(struct pcf_state *st, const json_t *schema, const char *type,
                          const char *ns, int depth)
{
    const char *name = json_string_value(json_object_get(schema, "name"));
    if (name == NULL) {
        return pcf_fail(st, "%s without a 'name'", type);
    }
    const json_t *ns_attr = json_object_get(schema, "namespace");
    if (ns_attr != NULL && !json_is_string(ns_attr)) {
        return pcf_fail(st, "'namespace' of %s must be a string", name);
    }
    char *full = cavro_pcf_fullname(name, json_string_value(ns_attr), ns);
    if (full == NULL) {
        return pcf_fail(st, "out of memory");
    }
    if (json_object_get(st->defined, full) != NULL) {
        int rc = pcf_fail(st, "type '%s' defined twice", full);
        free(full);
        return rc;
    }
    /* Defined before its fields are visited, so a record may refer to itself. */
    if (json_object_set_new(st->defined, full, json_true()) != 0) {
        free(full);
        return pcf_fail(st, "out of memory");
    }
    pcf_append_str(st, "{\"name\":");
    int rc = pcf_append_json_string(st, full);
    if (rc == 0) {
        pcf_append_str(st, ",\"type\":");
        rc = pcf_append_json_string(st, type);
    }
    if (rc == 0 && strcmp(type, "record") == 0) {
        char *inner_ns = malloc(strlen(full) + 1);
        if (inner_ns == NULL) {
            rc = pcf_fail(st, "out of memory");
        } else {
            cavro_pcf_namespace_of(full, inner_ns);
            rc = pcf_emit_fields(st, json_object_get(schema, "fields"), inner_ns, depth);
            free(inner_ns);
        }
    } else if (rc == 0 && strcmp(type, "enum") == 0) {
        rc = pcf_emit_symbols(st, json_object_get(schema, "symbols"));
    } else if (rc == 0) {
        const json_t *size = json_object_get(schema, "size");
        if (!json_is_integer(size) || json_integer_value(size) < 0) {
            rc = pcf_fail(st, "fixed '%s' needs a non-negative integer 'size'", full);
        } else {
            char digits[32];
            snprintf(digits, sizeof(digits), ",\"size\":%" JSON_INTEGER_FORMAT,
                     json_integer_value(size));
            pcf_append_str(st, digits);
        }
    }
    free(full);
    if (rc == 0) {
        pcf_append_str(st, "}");
    }
    return rc;
}

static int pcf_emit_object(struct pcf_state *st, const json_t *schema, const char *ns, int depth)
{
    const json_t *type_attr = json_object_get(schema, "type");
    const char *type = json_string_value(type_attr);
    if (type == NULL) {
        return pcf_fail(st, "schema object without a string 'type'");
    }
    if (pcf_is_primitive(type)) {
        /* PRIMITIVES: {"type":"long","logicalType":...} is just "long". */
        return pcf_append_json_string(st, type);
    }
    if (strcmp(type, "record") == 0 || strcmp(type, "enum") == 0 || strcmp(type, "fixed") == 0) {
        return pcf_emit_named(st, schema, type, ns, depth);
    }
    if (strcmp(type, "array") == 0 || strcmp(type, "map") == 0) {
        int is_array = type[0] == 'a';
        const json_t *inner = json_object_get(schema, is_array ? "items" : "values");
        if (inner == NULL) {
            return pcf_fail(st, "%s without '%s'", type, is_array ? "items" : "values");
        }
        pcf_append_str(st, is_array ? "{\"type\":\"array\",\"items\":"
                                    : "{\"type\":\"map\",\"values\":");
        if (pcf_emit(st, inner, ns, depth + 1) != 0) {
            return -1;
        }
        pcf_append_str(st, "}");
        return 0;
    }
    /* A named type referenced through {"type": "Name"}. */
    return pcf_emit_reference(st, type, ns);
}

static int pcf_emit(struct pcf_state *st, const json_t *schema, const char *ns, int depth)
{
    if (depth > PCF_MAX_DEPTH) {
        return pcf_fail(st, "schema nested deeper than %d", PCF_MAX_DEPTH);
    }
    if (json_is_string(schema)) {
        return pcf_emit_reference(st, json_string_value(schema), ns);
    }
    if (json_is_array(schema)) {
        pcf_append_str(st, "[");
        for (size_t i = 0; i < json_array_size(schema); i++) {
            if (i > 0) {
                pcf_append_str(st, ",");
            }
            if (pcf_emit(st, json_array_get(schema, i), ns, depth + 1) != 0) {
                return -1;
            }
        }
        pcf_append_str(st, "]");
        return 0;
    }
    if (json_is_object(schema)) {
        return pcf_emit_object(st, schema, ns, depth);
    }
    return pcf_fail(st, "a schema is a string, an object or an array");
}

int cavro_pcf_from_json(const char *json, size_t len, char **out, char *err, size_t errlen)
{
    struct pcf_state st = {.err = err, .errlen = errlen};
    sbuf_init(&st.out);
    if (errlen > 0) {
        err[0] = '\0';
    }
    json_error_t jerr;
    json_t *root = json_loadb(json, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL) {
        return pcf_fail(&st, "schema is not JSON: %s (line %d)", jerr.text, jerr.line);
    }
    st.defined = json_object();
    int rc = st.defined != NULL ? pcf_emit(&st, root, "", 0) : pcf_fail(&st, "out of memory");
    if (rc == 0 && sbuf_failed(&st.out)) {
        rc = pcf_fail(&st, "out of memory");
    }
    json_decref(st.defined);
    json_decref(root);
    size_t len_out = 0;
    char *text = rc == 0 ? sbuf_take(&st.out, &len_out) : NULL;
    sbuf_free(&st.out);
    if (text == NULL) {
        return rc != 0 ? -1 : pcf_fail(&st, "out of memory");
    }
    *out = text;
    return 0;
}

uint64_t cavro_fingerprint64(const void *data, size_t len)
{
    /* The table is derived from the polynomial on every call: it runs once per
     * schema at start-up, and needs no shared state. */
    const uint64_t empty = 0xc15d213aa4d7a795ULL;
    uint64_t table[256];
    for (uint64_t i = 0; i < 256; i++) {
        uint64_t fp = i;
        for (int j = 0; j < 8; j++) {
            fp = (fp >> 1) ^ (empty & (0 - (fp & 1)));
        }
        table[i] = fp;
    }
    const unsigned char *bytes = data;
    uint64_t fp = empty;
    for (size_t i = 0; i < len; i++) {
        fp = (fp >> 8) ^ table[(fp ^ bytes[i]) & 0xff];
    }
    return fp;
}
