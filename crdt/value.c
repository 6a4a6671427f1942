/*
 * value.c - lib0 "any" codec, JSON parsing (JSON.parse rules) and JSON.stringify-compatible
 * output for crdt_value (see value.h).
 *
 * The JSON reader and writer are our own because they must behave like JavaScript's:
 * jansson formats reals with %.17g, cannot order keys the way JS objects do, and rejects
 * "\u0000" in object keys, which JSON.parse accepts (and Yjs documents can contain).
 */
#include "crdt/value.h"

#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
    ANY_UNDEFINED = 127,
    ANY_NULL = 126,
    ANY_INTEGER = 125,
    ANY_FLOAT32 = 124,
    ANY_FLOAT64 = 123,
    ANY_BIGINT = 122,
    ANY_FALSE = 121,
    ANY_TRUE = 120,
    ANY_STRING = 119,
    ANY_OBJECT = 118,
    ANY_ARRAY = 117,
    ANY_BINARY = 116,
};

void crdt_value_clear(crdt_value *v)
{
    switch (v->kind) {
    case CRDT_V_STRING:
        free(v->u.str.p);
        break;
    case CRDT_V_BINARY:
        free(v->u.bin.p);
        break;
    case CRDT_V_ARRAY:
        for (size_t i = 0; i < v->u.arr.n; i++)
            crdt_value_clear(&v->u.arr.items[i]);
        free(v->u.arr.items);
        break;
    case CRDT_V_OBJECT:
        for (size_t i = 0; i < v->u.obj.n; i++) {
            free(v->u.obj.kv[i].key);
            crdt_value_clear(&v->u.obj.kv[i].val);
        }
        free(v->u.obj.kv);
        break;
    default:
        break;
    }
    memset(v, 0, sizeof(*v));
    v->kind = CRDT_V_UNDEFINED;
}

static char *dup_bytes(const void *p, size_t n)
{
    char *s = malloc(n + 1);
    if (!s)
        return NULL;
    if (n)
        memcpy(s, p, n);
    s[n] = 0;
    return s;
}

crdt_status crdt_value_copy(crdt_value *dst, const crdt_value *src)
{
    memset(dst, 0, sizeof(*dst));
    dst->kind = src->kind;
    switch (src->kind) {
    case CRDT_V_STRING:
        dst->u.str.p = dup_bytes(src->u.str.p, src->u.str.n);
        dst->u.str.n = src->u.str.n;
        if (!dst->u.str.p)
            goto nomem;
        return CRDT_OK;
    case CRDT_V_BINARY:
        dst->u.bin.p = (uint8_t *)dup_bytes(src->u.bin.p, src->u.bin.n);
        dst->u.bin.n = src->u.bin.n;
        if (!dst->u.bin.p)
            goto nomem;
        return CRDT_OK;
    case CRDT_V_ARRAY:
        dst->u.arr.n = 0;
        dst->u.arr.items = calloc(src->u.arr.n ? src->u.arr.n : 1, sizeof(crdt_value));
        if (!dst->u.arr.items)
            goto nomem;
        for (size_t i = 0; i < src->u.arr.n; i++) {
            if (crdt_value_copy(&dst->u.arr.items[i], &src->u.arr.items[i]) != CRDT_OK)
                goto nomem;
            dst->u.arr.n++;
        }
        return CRDT_OK;
    case CRDT_V_OBJECT:
        dst->u.obj.n = 0;
        dst->u.obj.kv = calloc(src->u.obj.n ? src->u.obj.n : 1, sizeof(crdt_value_kv));
        if (!dst->u.obj.kv)
            goto nomem;
        for (size_t i = 0; i < src->u.obj.n; i++) {
            crdt_value_kv *kv = &dst->u.obj.kv[i];
            kv->key = dup_bytes(src->u.obj.kv[i].key, src->u.obj.kv[i].key_len);
            kv->key_len = src->u.obj.kv[i].key_len;
            if (!kv->key)
                goto nomem;
            dst->u.obj.n++;
            if (crdt_value_copy(&kv->val, &src->u.obj.kv[i].val) != CRDT_OK)
                goto nomem;
        }
        return CRDT_OK;
    default:
        dst->u = src->u;
        return CRDT_OK;
    }
nomem:
    crdt_value_clear(dst);
    return CRDT_ERR_NOMEM;
}

int crdt_value_equal(const crdt_value *a, const crdt_value *b)
{
    if (a->kind != b->kind)
        return 0;
    switch (a->kind) {
    case CRDT_V_UNDEFINED:
    case CRDT_V_NULL:
        return 1;
    case CRDT_V_BOOL:
        return a->u.boolean == b->u.boolean;
    case CRDT_V_NUMBER:
        return a->u.number == b->u.number;
    case CRDT_V_BIGINT:
        return a->u.bigint == b->u.bigint;
    case CRDT_V_STRING:
        return a->u.str.n == b->u.str.n && memcmp(a->u.str.p, b->u.str.p, a->u.str.n) == 0;
    case CRDT_V_BINARY:
        return a->u.bin.n == b->u.bin.n &&
               (a->u.bin.n == 0 || memcmp(a->u.bin.p, b->u.bin.p, a->u.bin.n) == 0);
    case CRDT_V_ARRAY:
        if (a->u.arr.n != b->u.arr.n)
            return 0;
        for (size_t i = 0; i < a->u.arr.n; i++)
            if (!crdt_value_equal(&a->u.arr.items[i], &b->u.arr.items[i]))
                return 0;
        return 1;
    case CRDT_V_OBJECT:
        if (a->u.obj.n != b->u.obj.n)
            return 0;
        for (size_t i = 0; i < a->u.obj.n; i++) {
            const crdt_value_kv *x = &a->u.obj.kv[i];
            size_t j;
            for (j = 0; j < b->u.obj.n; j++) {
                const crdt_value_kv *y = &b->u.obj.kv[j];
                if (x->key_len == y->key_len && memcmp(x->key, y->key, x->key_len) == 0)
                    break;
            }
            if (j == b->u.obj.n || !crdt_value_equal(&x->val, &b->u.obj.kv[j].val))
                return 0;
        }
        return 1;
    }
    return 0;
}

/* An object being parsed: its members stay in locals until it is complete, so that no
 * call in between can see (or be assumed to change) the half-built value. */
typedef struct obj_builder {
    crdt_value_kv *kv;
    size_t n, cap;
} obj_builder;

/* Sets key in an object being built, replacing an earlier value like JS assignment (the key
 * keeps its first position). Takes ownership of key and val on success. */
static crdt_status obj_set(obj_builder *ob, char *key, size_t key_len, crdt_value *val)
{
    for (size_t i = 0; i < ob->n; i++) {
        crdt_value_kv *kv = &ob->kv[i];
        if (kv->key_len == key_len && memcmp(kv->key, key, key_len) == 0) {
            crdt_value_clear(&kv->val);
            kv->val = *val;
            free(key);
            return CRDT_OK;
        }
    }
    if (ob->n == ob->cap) {
        size_t ncap = ob->cap ? ob->cap * 2 : 4;
        crdt_value_kv *kv = realloc(ob->kv, ncap * sizeof(*kv));
        if (!kv)
            return CRDT_ERR_NOMEM;
        ob->kv = kv;
        ob->cap = ncap;
    }
    crdt_value_kv *kv = &ob->kv[ob->n++];
    kv->key = key;
    kv->key_len = key_len;
    kv->val = *val;
    return CRDT_OK;
}

crdt_status crdt_value_read_any(crdt_rd *r, crdt_value *out, uint32_t depth)
{
    memset(out, 0, sizeof(*out));
    uint8_t tag = crdt_rd_u8(r);
    if (!crdt_rd_ok(r))
        return r->err;
    int neg;
    uint64_t mag;
    size_t n;
    const char *s;
    switch (tag) {
    case ANY_UNDEFINED:
        out->kind = CRDT_V_UNDEFINED;
        return CRDT_OK;
    case ANY_NULL:
        out->kind = CRDT_V_NULL;
        return CRDT_OK;
    case ANY_INTEGER:
        mag = crdt_rd_varint(r, &neg);
        out->kind = CRDT_V_NUMBER;
        out->u.number = neg ? -(double)mag : (double)mag;
        return r->err;
    case ANY_FLOAT32:
        out->kind = CRDT_V_NUMBER;
        out->u.number = (double)crdt_rd_f32(r);
        return r->err;
    case ANY_FLOAT64:
        out->kind = CRDT_V_NUMBER;
        out->u.number = crdt_rd_f64(r);
        return r->err;
    case ANY_BIGINT:
        out->kind = CRDT_V_BIGINT;
        out->u.bigint = crdt_rd_i64(r);
        return r->err;
    case ANY_FALSE:
    case ANY_TRUE:
        out->kind = CRDT_V_BOOL;
        out->u.boolean = tag == ANY_TRUE;
        return CRDT_OK;
    case ANY_STRING:
        s = crdt_rd_varstring(r, &n);
        if (!s)
            return r->err;
        out->u.str.p = dup_bytes(s, n);
        if (!out->u.str.p)
            return CRDT_ERR_NOMEM;
        out->u.str.n = n;
        out->kind = CRDT_V_STRING;
        return CRDT_OK;
    case ANY_BINARY: {
        const uint8_t *p = crdt_rd_varbytes(r, &n);
        if (!p)
            return r->err;
        out->u.bin.p = (uint8_t *)dup_bytes(p, n);
        if (!out->u.bin.p)
            return CRDT_ERR_NOMEM;
        out->u.bin.n = n;
        out->kind = CRDT_V_BINARY;
        return CRDT_OK;
    }
    case ANY_ARRAY: {
        if (depth == 0)
            return CRDT_ERR_LIMIT;
        uint64_t count = crdt_rd_varuint(r);
        if (!crdt_rd_ok(r))
            return r->err;
        if (count > crdt_rd_left(r)) /* every element takes at least one byte */
            return CRDT_ERR_TRUNCATED;
        out->kind = CRDT_V_ARRAY;
        out->u.arr.items = calloc(count ? (size_t)count : 1, sizeof(crdt_value));
        if (!out->u.arr.items)
            return CRDT_ERR_NOMEM;
        for (uint64_t i = 0; i < count; i++) {
            crdt_status st = crdt_value_read_any(r, &out->u.arr.items[i], depth - 1);
            out->u.arr.n++;
            if (st != CRDT_OK) {
                crdt_value_clear(out);
                return st;
            }
        }
        return CRDT_OK;
    }
    case ANY_OBJECT: {
        if (depth == 0)
            return CRDT_ERR_LIMIT;
        uint64_t count = crdt_rd_varuint(r);
        if (!crdt_rd_ok(r))
            return r->err;
        if (count > crdt_rd_left(r) / 2) /* a key and a value take at least two bytes */
            return CRDT_ERR_TRUNCATED;
        out->kind = CRDT_V_OBJECT;
        obj_builder ob = {NULL, 0, 0};
        crdt_status st = CRDT_OK;
        for (uint64_t i = 0; i < count && st == CRDT_OK; i++) {
            s = crdt_rd_varstring(r, &n);
            if (!s) {
                st = r->err;
                break;
            }
            char *key = dup_bytes(s, n);
            crdt_value val;
            st = key ? crdt_value_read_any(r, &val, depth - 1) : CRDT_ERR_NOMEM;
            if (st == CRDT_OK) {
                st = obj_set(&ob, key, n, &val);
                if (st != CRDT_OK)
                    crdt_value_clear(&val);
            }
            if (st != CRDT_OK)
                free(key); /* obj_set only takes the key on success */
        }
        out->u.obj.kv = ob.kv;
        out->u.obj.n = ob.n;
        if (st != CRDT_OK)
            crdt_value_clear(out);
        return st;
    }
    default:
        crdt_rd_fail(r, CRDT_ERR_MALFORMED);
        return CRDT_ERR_MALFORMED;
    }
}

static int fits_float32(double d)
{
    float f = (float)d;
    return (double)f == d || (isnan(d) && isnan(f));
}

void crdt_value_write_any(crdt_buf *b, const crdt_value *v)
{
    switch (v->kind) {
    case CRDT_V_UNDEFINED:
        crdt_buf_u8(b, ANY_UNDEFINED);
        break;
    case CRDT_V_NULL:
        crdt_buf_u8(b, ANY_NULL);
        break;
    case CRDT_V_BOOL:
        crdt_buf_u8(b, v->u.boolean ? ANY_TRUE : ANY_FALSE);
        break;
    case CRDT_V_NUMBER: {
        double d = v->u.number;
        if (isfinite(d) && floor(d) == d && fabs(d) <= 2147483647.0) {
            crdt_buf_u8(b, ANY_INTEGER);
            crdt_buf_varint(b, (uint64_t)fabs(d), signbit(d) != 0);
        } else if (fits_float32(d)) {
            crdt_buf_u8(b, ANY_FLOAT32);
            crdt_buf_f32(b, (float)d);
        } else {
            crdt_buf_u8(b, ANY_FLOAT64);
            crdt_buf_f64(b, d);
        }
        break;
    }
    case CRDT_V_BIGINT:
        crdt_buf_u8(b, ANY_BIGINT);
        crdt_buf_i64(b, v->u.bigint);
        break;
    case CRDT_V_STRING:
        crdt_buf_u8(b, ANY_STRING);
        crdt_buf_varbytes(b, v->u.str.p, v->u.str.n);
        break;
    case CRDT_V_BINARY:
        crdt_buf_u8(b, ANY_BINARY);
        crdt_buf_varbytes(b, v->u.bin.p, v->u.bin.n);
        break;
    case CRDT_V_ARRAY:
        crdt_buf_u8(b, ANY_ARRAY);
        crdt_buf_varuint(b, v->u.arr.n);
        for (size_t i = 0; i < v->u.arr.n; i++)
            crdt_value_write_any(b, &v->u.arr.items[i]);
        break;
    case CRDT_V_OBJECT: {
        /* Object.keys order, which is what lib0 iterates. */
        crdt_buf_u8(b, ANY_OBJECT);
        crdt_buf_varuint(b, v->u.obj.n);
        size_t n = v->u.obj.n;
        size_t *order = malloc((n ? n : 1) * sizeof(size_t));
        const char **keys = calloc(n ? n : 1, sizeof(char *));
        size_t *lens = calloc(n ? n : 1, sizeof(size_t));
        if (!order || !keys || !lens) {
            b->oom = 1;
        } else {
            for (size_t i = 0; i < n; i++) {
                keys[i] = v->u.obj.kv[i].key;
                lens[i] = v->u.obj.kv[i].key_len;
            }
            crdt_js_key_order(keys, lens, n, order);
            for (size_t i = 0; i < n; i++) {
                const crdt_value_kv *kv = &v->u.obj.kv[order[i]];
                crdt_buf_varbytes(b, kv->key, kv->key_len);
                crdt_value_write_any(b, &kv->val);
            }
        }
        free(order);
        free(keys);
        free(lens);
        break;
    }
    }
}

/* A JSON.parse for crdt_value. Hand-written because JavaScript accepts what jansson does
 * not: "\u0000" inside object keys, and lone surrogate escapes (kept as U+FFFD here, which
 * is what encoding such a string as UTF-8 gives in JavaScript). */
typedef struct json_parser {
    const char *p;
    const char *end;
} json_parser;

static void json_ws(json_parser *jp)
{
    while (jp->p < jp->end && (*jp->p == ' ' || *jp->p == '\t' || *jp->p == '\n' || *jp->p == '\r'))
        jp->p++;
}

static int json_lit(json_parser *jp, const char *word)
{
    size_t n = strlen(word);
    if ((size_t)(jp->end - jp->p) < n || memcmp(jp->p, word, n) != 0)
        return 0;
    jp->p += n;
    return 1;
}

static int json_hex4(json_parser *jp, unsigned *out)
{
    if (jp->end - jp->p < 4)
        return 0;
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char c = *jp->p++;
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (unsigned)(c - 'A' + 10);
        else
            return 0;
    }
    *out = v;
    return 1;
}

static void put_utf8(crdt_buf *b, unsigned cp)
{
    uint8_t u[4];
    if (cp < 0x80) {
        crdt_buf_u8(b, (uint8_t)cp);
    } else if (cp < 0x800) {
        u[0] = (uint8_t)(0xc0 | (cp >> 6));
        u[1] = (uint8_t)(0x80 | (cp & 0x3f));
        crdt_buf_put(b, u, 2);
    } else if (cp < 0x10000) {
        u[0] = (uint8_t)(0xe0 | (cp >> 12));
        u[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
        u[2] = (uint8_t)(0x80 | (cp & 0x3f));
        crdt_buf_put(b, u, 3);
    } else {
        u[0] = (uint8_t)(0xf0 | (cp >> 18));
        u[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3f));
        u[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
        u[3] = (uint8_t)(0x80 | (cp & 0x3f));
        crdt_buf_put(b, u, 4);
    }
}

/* Parses a string literal (jp->p at the opening quote) into a malloc'd, NUL-terminated
 * buffer. */
static crdt_status json_string(json_parser *jp, char **out, size_t *out_len)
{
    crdt_buf b;
    crdt_buf_init(&b);
    jp->p++;
    for (;;) {
        if (jp->p >= jp->end)
            goto bad;
        unsigned char c = (unsigned char)*jp->p++;
        if (c == '"')
            break;
        if (c < 0x20)
            goto bad;
        if (c != '\\') {
            crdt_buf_u8(&b, c);
            continue;
        }
        if (jp->p >= jp->end)
            goto bad;
        char e = *jp->p++;
        unsigned cp;
        switch (e) {
        case '"':
        case '\\':
        case '/':
            crdt_buf_u8(&b, (uint8_t)e);
            break;
        case 'b':
            crdt_buf_u8(&b, '\b');
            break;
        case 'f':
            crdt_buf_u8(&b, '\f');
            break;
        case 'n':
            crdt_buf_u8(&b, '\n');
            break;
        case 'r':
            crdt_buf_u8(&b, '\r');
            break;
        case 't':
            crdt_buf_u8(&b, '\t');
            break;
        case 'u':
            if (!json_hex4(jp, &cp))
                goto bad;
            if (cp >= 0xd800 && cp <= 0xdbff && jp->end - jp->p >= 6 && jp->p[0] == '\\' &&
                jp->p[1] == 'u') {
                json_parser look = *jp;
                unsigned lo;
                look.p += 2;
                if (json_hex4(&look, &lo) && lo >= 0xdc00 && lo <= 0xdfff) {
                    cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                    jp->p = look.p;
                }
            }
            if (cp >= 0xd800 && cp <= 0xdfff)
                cp = 0xfffd; /* a lone surrogate */
            put_utf8(&b, cp);
            break;
        default:
            goto bad;
        }
    }
    if (b.oom) {
        crdt_buf_free(&b);
        return CRDT_ERR_NOMEM;
    }
    if (!crdt_utf8_valid(b.data ? b.data : (const uint8_t *)"", b.len))
        goto bad;
    *out_len = b.len;
    return crdt_buf_take_str(&b, out);
bad:
    crdt_buf_free(&b);
    return CRDT_ERR_MALFORMED;
}

static crdt_status json_number(json_parser *jp, crdt_value *out)
{
    const char *start = jp->p;
    if (jp->p < jp->end && *jp->p == '-')
        jp->p++;
    if (jp->p >= jp->end || *jp->p < '0' || *jp->p > '9')
        return CRDT_ERR_MALFORMED;
    if (*jp->p == '0')
        jp->p++;
    else
        while (jp->p < jp->end && *jp->p >= '0' && *jp->p <= '9')
            jp->p++;
    if (jp->p < jp->end && *jp->p == '.') {
        jp->p++;
        if (jp->p >= jp->end || *jp->p < '0' || *jp->p > '9')
            return CRDT_ERR_MALFORMED;
        while (jp->p < jp->end && *jp->p >= '0' && *jp->p <= '9')
            jp->p++;
    }
    if (jp->p < jp->end && (*jp->p == 'e' || *jp->p == 'E')) {
        jp->p++;
        if (jp->p < jp->end && (*jp->p == '+' || *jp->p == '-'))
            jp->p++;
        if (jp->p >= jp->end || *jp->p < '0' || *jp->p > '9')
            return CRDT_ERR_MALFORMED;
        while (jp->p < jp->end && *jp->p >= '0' && *jp->p <= '9')
            jp->p++;
    }
    char *tmp = dup_bytes(start, (size_t)(jp->p - start)); /* strtod needs a terminator */
    if (!tmp)
        return CRDT_ERR_NOMEM;
    out->kind = CRDT_V_NUMBER;
    out->u.number = strtod(tmp, NULL);
    free(tmp);
    return CRDT_OK;
}

static crdt_status json_value(json_parser *jp, crdt_value *out, uint32_t depth)
{
    memset(out, 0, sizeof(*out));
    json_ws(jp);
    if (jp->p >= jp->end)
        return CRDT_ERR_MALFORMED;
    char c = *jp->p;
    if (c == '"') {
        crdt_status st = json_string(jp, &out->u.str.p, &out->u.str.n);
        if (st == CRDT_OK)
            out->kind = CRDT_V_STRING;
        return st;
    }
    if (c == '-' || (c >= '0' && c <= '9'))
        return json_number(jp, out);
    if (json_lit(jp, "true") || json_lit(jp, "false")) {
        out->kind = CRDT_V_BOOL;
        out->u.boolean = c == 't';
        return CRDT_OK;
    }
    if (json_lit(jp, "null")) {
        out->kind = CRDT_V_NULL;
        return CRDT_OK;
    }
    if (c != '[' && c != '{')
        return CRDT_ERR_MALFORMED;
    if (depth == 0)
        return CRDT_ERR_LIMIT;
    jp->p++;
    json_ws(jp);
    size_t cap = 0;
    crdt_status st = CRDT_OK;
    if (c == '[') {
        out->kind = CRDT_V_ARRAY;
        if (jp->p < jp->end && *jp->p == ']') {
            jp->p++;
            return CRDT_OK;
        }
        for (;;) {
            if (out->u.arr.n == cap) {
                cap = cap ? cap * 2 : 4;
                crdt_value *items = realloc(out->u.arr.items, cap * sizeof(*items));
                if (!items) {
                    st = CRDT_ERR_NOMEM;
                    break;
                }
                out->u.arr.items = items;
            }
            st = json_value(jp, &out->u.arr.items[out->u.arr.n], depth - 1);
            if (st != CRDT_OK)
                break;
            out->u.arr.n++;
            json_ws(jp);
            if (jp->p < jp->end && *jp->p == ',') {
                jp->p++;
                continue;
            }
            if (jp->p < jp->end && *jp->p == ']') {
                jp->p++;
                return CRDT_OK;
            }
            st = CRDT_ERR_MALFORMED;
            break;
        }
    } else {
        out->kind = CRDT_V_OBJECT;
        if (jp->p < jp->end && *jp->p == '}') {
            jp->p++;
            return CRDT_OK;
        }
        obj_builder ob = {NULL, 0, 0};
        for (;;) {
            json_ws(jp);
            if (jp->p >= jp->end || *jp->p != '"') {
                st = CRDT_ERR_MALFORMED;
                break;
            }
            char *key;
            size_t key_len;
            st = json_string(jp, &key, &key_len);
            if (st != CRDT_OK)
                break;
            json_ws(jp);
            crdt_value v;
            if (jp->p >= jp->end || *jp->p != ':') {
                free(key);
                st = CRDT_ERR_MALFORMED;
                break;
            }
            jp->p++;
            st = json_value(jp, &v, depth - 1);
            if (st == CRDT_OK) {
                st = obj_set(&ob, key, key_len, &v);
                if (st != CRDT_OK)
                    crdt_value_clear(&v);
            }
            if (st != CRDT_OK) {
                free(key);
                break;
            }
            json_ws(jp);
            if (jp->p < jp->end && *jp->p == ',') {
                jp->p++;
                continue;
            }
            if (jp->p < jp->end && *jp->p == '}') {
                jp->p++;
                out->u.obj.kv = ob.kv;
                out->u.obj.n = ob.n;
                return CRDT_OK;
            }
            st = CRDT_ERR_MALFORMED;
            break;
        }
        out->u.obj.kv = ob.kv; /* handed over so that the clear below frees them */
        out->u.obj.n = ob.n;
    }
    crdt_value_clear(out);
    return st;
}

crdt_status crdt_value_from_json(const char *text, size_t len, crdt_value *out, uint32_t depth)
{
    memset(out, 0, sizeof(*out));
    out->kind = CRDT_V_UNDEFINED;
    if (len == 9 && memcmp(text, "undefined", 9) == 0)
        return CRDT_OK;
    json_parser jp = {text, text + len};
    crdt_status st = json_value(&jp, out, depth);
    if (st == CRDT_OK) {
        json_ws(&jp);
        if (jp.p != jp.end) {
            crdt_value_clear(out);
            st = CRDT_ERR_MALFORMED;
        }
    }
    return st;
}

void crdt_json_write_string(crdt_buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    crdt_buf_u8(b, '"');
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        crdt_buf_put(b, s + run, i - run);
        run = i + 1;
        switch (c) {
        case '"':
            crdt_buf_str(b, "\\\"");
            break;
        case '\\':
            crdt_buf_str(b, "\\\\");
            break;
        case '\b':
            crdt_buf_str(b, "\\b");
            break;
        case '\f':
            crdt_buf_str(b, "\\f");
            break;
        case '\n':
            crdt_buf_str(b, "\\n");
            break;
        case '\r':
            crdt_buf_str(b, "\\r");
            break;
        case '\t':
            crdt_buf_str(b, "\\t");
            break;
        default: {
            char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            crdt_buf_put(b, esc, 6);
        }
        }
    }
    crdt_buf_put(b, s + run, n - run);
    crdt_buf_u8(b, '"');
}

void crdt_js_number(crdt_buf *b, double d)
{
    if (isnan(d)) {
        crdt_buf_str(b, "NaN");
        return;
    }
    if (isinf(d)) {
        crdt_buf_str(b, d < 0 ? "-Infinity" : "Infinity");
        return;
    }
    if (d == 0) {
        crdt_buf_u8(b, '0');
        return;
    }
    char tmp[40];
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(tmp, sizeof(tmp), "%.*e", prec - 1, d);
        if (strtod(tmp, NULL) == d)
            break;
    }
    /* tmp is [-]D[.DDD]e(+|-)XX: split into digits and the decimal exponent. */
    const char *p = tmp;
    if (*p == '-') {
        crdt_buf_u8(b, '-');
        p++;
    }
    char digits[24];
    int k = 0;
    while (*p && *p != 'e') {
        if (*p != '.')
            digits[k++] = *p;
        p++;
    }
    /* "%e" of a finite non-zero double always has a digit before its exponent. */
    assert(k > 0 && *p == 'e');
    int exp10 = (int)strtol(p + 1, NULL, 10); /* at most three digits: cannot overflow */
    while (k > 1 && digits[k - 1] == '0')
        k--;
    int n = exp10 + 1; /* position of the decimal point relative to the digits */
    if (k <= n && n <= 21) {
        crdt_buf_put(b, digits, (size_t)k);
        for (int i = k; i < n; i++)
            crdt_buf_u8(b, '0');
    } else if (0 < n && n <= 21) {
        crdt_buf_put(b, digits, (size_t)n);
        crdt_buf_u8(b, '.');
        crdt_buf_put(b, digits + n, (size_t)(k - n));
    } else if (-6 < n && n <= 0) {
        crdt_buf_str(b, "0.");
        for (int i = 0; i < -n; i++)
            crdt_buf_u8(b, '0');
        crdt_buf_put(b, digits, (size_t)k);
    } else {
        crdt_buf_u8(b, (uint8_t)digits[0]);
        if (k > 1) {
            crdt_buf_u8(b, '.');
            crdt_buf_put(b, digits + 1, (size_t)(k - 1));
        }
        char e[16];
        snprintf(e, sizeof(e), "e%c%d", n - 1 >= 0 ? '+' : '-', abs(n - 1));
        crdt_buf_str(b, e);
    }
}

static int array_index_key(const char *k, size_t n, uint64_t *idx)
{
    if (n == 0 || n > 10 || (n > 1 && k[0] == '0'))
        return 0;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (k[i] < '0' || k[i] > '9')
            return 0;
        v = v * 10 + (uint64_t)(k[i] - '0');
    }
    if (v >= 4294967295ULL)
        return 0;
    *idx = v;
    return 1;
}

void crdt_js_key_order(const char *const *keys, const size_t *key_lens, size_t n, size_t *order)
{
    /* One pass classifies each key once: integer keys are insertion-sorted at the front
     * (objects here are small), the others are stacked from the back, so every slot is
     * written exactly once; then the back is reversed into insertion order. */
    size_t m = 0, back = n;
    for (size_t i = 0; i < n; i++) {
        uint64_t idx;
        if (!array_index_key(keys[i], key_lens[i], &idx)) {
            order[--back] = i;
            continue;
        }
        size_t j = m++;
        while (j > 0) {
            /* order[0..m) holds only integer keys: this always succeeds. */
            uint64_t prev = 0;
            (void)array_index_key(keys[order[j - 1]], key_lens[order[j - 1]], &prev);
            if (prev <= idx)
                break;
            order[j] = order[j - 1];
            j--;
        }
        order[j] = i;
    }
    for (size_t lo = back, hi = n; lo + 1 < hi; lo++, hi--) {
        size_t t = order[lo];
        order[lo] = order[hi - 1];
        order[hi - 1] = t;
    }
}

void crdt_value_write_json(crdt_buf *b, const crdt_value *v, int undefined_literal)
{
    switch (v->kind) {
    case CRDT_V_UNDEFINED:
        crdt_buf_str(b, undefined_literal ? "undefined" : "null");
        break;
    case CRDT_V_NULL:
        crdt_buf_str(b, "null");
        break;
    case CRDT_V_BOOL:
        crdt_buf_str(b, v->u.boolean ? "true" : "false");
        break;
    case CRDT_V_NUMBER:
        if (isfinite(v->u.number))
            crdt_js_number(b, v->u.number);
        else
            crdt_buf_str(b, "null");
        break;
    case CRDT_V_BIGINT: {
        char tmp[32];
        snprintf(tmp, sizeof(tmp), "%lld", (long long)v->u.bigint);
        crdt_buf_str(b, tmp);
        break;
    }
    case CRDT_V_STRING:
        crdt_json_write_string(b, v->u.str.p, v->u.str.n);
        break;
    case CRDT_V_BINARY:
        crdt_buf_u8(b, '[');
        for (size_t i = 0; i < v->u.bin.n; i++) {
            char tmp[8];
            snprintf(tmp, sizeof(tmp), i ? ",%u" : "%u", v->u.bin.p[i]);
            crdt_buf_str(b, tmp);
        }
        crdt_buf_u8(b, ']');
        break;
    case CRDT_V_ARRAY:
        crdt_buf_u8(b, '[');
        for (size_t i = 0; i < v->u.arr.n; i++) {
            if (i)
                crdt_buf_u8(b, ',');
            crdt_value_write_json(b, &v->u.arr.items[i], 0);
        }
        crdt_buf_u8(b, ']');
        break;
    case CRDT_V_OBJECT: {
        size_t n = v->u.obj.n;
        size_t *order = malloc((n ? n : 1) * sizeof(size_t));
        const char **keys = calloc(n ? n : 1, sizeof(char *));
        size_t *lens = calloc(n ? n : 1, sizeof(size_t));
        if (!order || !keys || !lens) {
            b->oom = 1;
        } else {
            for (size_t i = 0; i < n; i++) {
                keys[i] = v->u.obj.kv[i].key;
                lens[i] = v->u.obj.kv[i].key_len;
            }
            crdt_js_key_order(keys, lens, n, order);
            crdt_buf_u8(b, '{');
            int first = 1;
            for (size_t i = 0; i < n; i++) {
                const crdt_value_kv *kv = &v->u.obj.kv[order[i]];
                if (kv->val.kind == CRDT_V_UNDEFINED)
                    continue;
                if (!first)
                    crdt_buf_u8(b, ',');
                first = 0;
                crdt_json_write_string(b, kv->key, kv->key_len);
                crdt_buf_u8(b, ':');
                crdt_value_write_json(b, &kv->val, 0);
            }
            crdt_buf_u8(b, '}');
        }
        free(order);
        free(keys);
        free(lens);
        break;
    }
    }
}

void crdt_value_write_js_string(crdt_buf *b, const crdt_value *v)
{
    switch (v->kind) {
    case CRDT_V_UNDEFINED:
        crdt_buf_str(b, "undefined");
        break;
    case CRDT_V_STRING:
        crdt_buf_put(b, v->u.str.p, v->u.str.n);
        break;
    case CRDT_V_NUMBER:
        crdt_js_number(b, v->u.number);
        break;
    case CRDT_V_OBJECT:
        crdt_buf_str(b, "[object Object]");
        break;
    case CRDT_V_ARRAY:
        for (size_t i = 0; i < v->u.arr.n; i++) {
            const crdt_value *e = &v->u.arr.items[i];
            if (i)
                crdt_buf_u8(b, ',');
            if (e->kind != CRDT_V_UNDEFINED && e->kind != CRDT_V_NULL)
                crdt_value_write_js_string(b, e);
        }
        break;
    case CRDT_V_BINARY:
        for (size_t i = 0; i < v->u.bin.n; i++) {
            char tmp[8];
            snprintf(tmp, sizeof(tmp), i ? ",%u" : "%u", v->u.bin.p[i]);
            crdt_buf_str(b, tmp);
        }
        break;
    default:
        crdt_value_write_json(b, v, 0);
        break;
    }
}
