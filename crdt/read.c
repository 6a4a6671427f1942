/*
 * read.c - reading content the way Yjs's types print it: Y.Text toString() and toDelta(),
 * toJSON() of arrays and maps, and the XML string of XML types; optionally as of a snapshot
 * (state vector + delete set), where visibility is decided per clock range instead of by the
 * item's deleted flag (Yjs splits items at snapshot boundaries; reading sub-ranges is the
 * same without changing the document).
 */
#include "crdt/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct snap {
    crdt_ranges ds;
    crdt_sv_entry *sv;
    size_t nsv;
} snap;

typedef struct reader {
    const crdt_doc *doc;
    const snap *s; /* NULL: current version */
    crdt_buf out;
    uint32_t depth;
    crdt_status err;
} reader;

static crdt_status snap_decode(const uint8_t *p, size_t n, snap *s)
{
    memset(s, 0, sizeof(*s));
    crdt_rd r;
    crdt_rd_init(&r, p, n);
    uint64_t nclients = crdt_rd_varuint(&r);
    if (crdt_rd_ok(&r) && nclients > crdt_rd_left(&r) / 2)
        return CRDT_ERR_TRUNCATED;
    for (uint64_t c = 0; c < nclients && crdt_rd_ok(&r); c++) {
        uint64_t client = crdt_rd_varuint(&r);
        uint64_t nranges = crdt_rd_varuint(&r);
        if (crdt_rd_ok(&r) && nranges > crdt_rd_left(&r) / 2)
            crdt_rd_fail(&r, CRDT_ERR_TRUNCATED);
        for (uint64_t i = 0; i < nranges && crdt_rd_ok(&r); i++) {
            uint64_t clock = crdt_rd_varuint(&r);
            uint64_t len = crdt_rd_varuint(&r);
            if (crdt_rd_ok(&r) && crdt_ranges_add(&s->ds, client, clock, len) != CRDT_OK)
                crdt_rd_fail(&r, CRDT_ERR_NOMEM);
        }
    }
    if (!crdt_rd_ok(&r)) {
        crdt_ranges_free(&s->ds);
        return r.err;
    }
    crdt_status st = crdt_sv_decode(r.p, crdt_rd_left(&r), &s->sv, &s->nsv);
    if (st != CRDT_OK) {
        crdt_ranges_free(&s->ds);
        return st;
    }
    crdt_ranges_normalize(&s->ds);
    return CRDT_OK;
}

static void snap_free(snap *s)
{
    crdt_ranges_free(&s->ds);
    free(s->sv);
}

/* Iterates the visible parts of an item as offsets [a, b) into it. */
typedef struct vis_iter {
    const crdt_item *it;
    const snap *s;
    uint64_t pos, end;
    size_t di;
    int done;
} vis_iter;

static void vis_start(vis_iter *v, const crdt_item *it, const snap *s)
{
    v->it = it;
    v->s = s;
    v->done = 0;
    if (!s) {
        v->pos = 0;
        return;
    }
    uint64_t svclock = crdt_sv_get(s->sv, s->nsv, it->id.client);
    v->pos = it->id.clock;
    v->end = it->id.clock + it->len;
    if (v->end > svclock)
        v->end = svclock;
    v->di = crdt_ranges_lower(&s->ds, it->id.client, v->pos);
}

static int vis_next(vis_iter *v, uint64_t *a, uint64_t *b)
{
    const crdt_item *it = v->it;
    if (v->done)
        return 0;
    if (!v->s) {
        v->done = 1;
        if (crdt_item_deleted(it))
            return 0;
        *a = 0;
        *b = it->len;
        return 1;
    }
    const crdt_ranges *ds = &v->s->ds;
    while (v->pos < v->end) {
        if (v->di < ds->n && ds->v[v->di].client == it->id.client && ds->v[v->di].clock <= v->pos) {
            uint64_t e = ds->v[v->di].clock + ds->v[v->di].len;
            if (e > v->pos)
                v->pos = e;
            v->di++;
            continue;
        }
        uint64_t seg = v->end;
        if (v->di < ds->n && ds->v[v->di].client == it->id.client && ds->v[v->di].clock < seg)
            seg = ds->v[v->di].clock;
        *a = v->pos - it->id.clock;
        *b = seg - it->id.clock;
        v->pos = seg;
        return 1;
    }
    v->done = 1;
    return 0;
}

/* Whole-item visibility (Yjs isVisible on an item of length 1). */
static int item_visible(const crdt_item *it, const snap *s)
{
    if (!s)
        return !crdt_item_deleted(it);
    return crdt_sv_get(s->sv, s->nsv, it->id.client) > it->id.clock &&
           !crdt_ranges_contains(&s->ds, it->id.client, it->id.clock);
}

static const char fffd[3] = {(char)0xef, (char)0xbf, (char)0xbd};

/* UTF-8 of UTF-16 units [a, b) of a string, U+FFFD for halves of a cut surrogate pair. */
static void put_units(crdt_buf *out, const crdt_item *it, uint64_t a, uint64_t b)
{
    const uint8_t *p = (const uint8_t *)it->c.str.p;
    size_t n = it->c.str.n;
    if (a == 0 && b == it->len) {
        crdt_buf_put(out, p, n);
        return;
    }
    int split_a, split_b;
    size_t ba = crdt_str_offset(it, a, &split_a);
    size_t bb = crdt_str_offset(it, b, &split_b);
    if (split_a) {
        crdt_buf_put(out, fffd, 3);
        ba += 4;
    }
    if (bb > ba)
        crdt_buf_put(out, p + ba, bb - ba);
    if (split_b && b > a + (uint64_t)split_a)
        crdt_buf_put(out, fffd, 3);
}

static void text_string(reader *r, const crdt_type *t)
{
    for (const crdt_item *it = t->start; it; it = it->right) {
        if (it->kind != CRDT_REF_STRING)
            continue;
        vis_iter v;
        uint64_t a, b;
        vis_start(&v, it, r->s);
        while (vis_next(&v, &a, &b))
            put_units(&r->out, it, a, b);
    }
}

static void write_type_json(reader *r, const crdt_type *t, uint8_t kind);

/* One element of an item's content as JSON (ContentX.getContent()[index]). */
static void write_elem_json(reader *r, const crdt_item *it, uint64_t index)
{
    switch (it->kind) {
    case CRDT_REF_ANY:
    case CRDT_REF_JSON:
        crdt_value_write_json(&r->out, &it->c.vals[index], 0);
        break;
    case CRDT_REF_BINARY: {
        crdt_value v;
        v.kind = CRDT_V_BINARY;
        v.u.bin.p = it->c.bin.p;
        v.u.bin.n = it->c.bin.n;
        crdt_value_write_json(&r->out, &v, 0);
        break;
    }
    case CRDT_REF_EMBED:
        crdt_value_write_json(&r->out, it->c.embed, 0);
        break;
    case CRDT_REF_TYPE:
        write_type_json(r, it->c.type, it->c.type->type_ref);
        break;
    case CRDT_REF_STRING: {
        /* str.split(''): one string per UTF-16 unit. */
        int split;
        const uint8_t *p = (const uint8_t *)it->c.str.p;
        size_t at = crdt_str_offset(it, index, &split);
        if (split || (p[at] >= 0xf0)) {
            uint32_t cp = ((p[at] & 0x07u) << 18) | ((p[at + 1] & 0x3fu) << 12) |
                          ((p[at + 2] & 0x3fu) << 6) | (p[at + 3] & 0x3fu);
            cp -= 0x10000;
            unsigned unit = split ? 0xdc00u + (cp & 0x3ffu) : 0xd800u + (cp >> 10);
            char esc[16];
            static const char hex[] = "0123456789abcdef";
            esc[0] = '"';
            esc[1] = '\\';
            esc[2] = 'u';
            for (int i = 0; i < 4; i++)
                esc[3 + i] = hex[(unit >> (12 - 4 * i)) & 15];
            esc[7] = '"';
            crdt_buf_put(&r->out, esc, 8);
        } else {
            size_t len = p[at] < 0x80 ? 1 : p[at] < 0xe0 ? 2 : 3;
            crdt_json_write_string(&r->out, (const char *)p + at, len);
        }
        break;
    }
    default: /* a sub-document: Y.Doc toJSON of an unloaded doc */
        crdt_buf_str(&r->out, "{}");
        break;
    }
}

static void array_json(reader *r, const crdt_type *t)
{
    crdt_buf_u8(&r->out, '[');
    int first = 1;
    for (const crdt_item *it = t->start; it && r->err == CRDT_OK; it = it->right) {
        if (!crdt_ref_countable(it->kind))
            continue;
        vis_iter v;
        uint64_t a, b;
        vis_start(&v, it, r->s);
        while (vis_next(&v, &a, &b)) {
            for (uint64_t i = a; i < b; i++) {
                if (!first)
                    crdt_buf_u8(&r->out, ',');
                first = 0;
                write_elem_json(r, it, i);
            }
        }
    }
    crdt_buf_u8(&r->out, ']');
}

/* The map entry's current item (typeMapGet / typeMapGetSnapshot), or NULL. */
static const crdt_item *map_value(const reader *r, const crdt_item *it, uint64_t *index)
{
    if (!r->s) {
        if (crdt_item_deleted(it))
            return NULL;
        *index = it->len - 1;
        return it;
    }
    while (it && crdt_sv_get(r->s->sv, r->s->nsv, it->id.client) <= it->id.clock)
        it = it->left;
    if (!it || !item_visible(it, r->s))
        return NULL;
    uint64_t svclock = crdt_sv_get(r->s->sv, r->s->nsv, it->id.client);
    uint64_t last = svclock - it->id.clock;
    *index = (last < it->len ? last : it->len) - 1;
    return it;
}

static int elem_is_undefined(const crdt_item *it, uint64_t index)
{
    return (it->kind == CRDT_REF_ANY || it->kind == CRDT_REF_JSON) &&
           it->c.vals[index].kind == CRDT_V_UNDEFINED;
}

static void map_json(reader *r, const crdt_type *t)
{
    size_t n = t->map.n;
    size_t *order = malloc((n ? n : 1) * sizeof(size_t));
    const char **keys = calloc(n ? n : 1, sizeof(char *));
    size_t *lens = calloc(n ? n : 1, sizeof(size_t));
    if (!order || !keys || !lens) {
        r->err = CRDT_ERR_NOMEM;
        free(order);
        free(keys);
        free(lens);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        keys[i] = t->map.entries[i].key;
        lens[i] = crdt_intern_len(keys[i]);
    }
    crdt_js_key_order(keys, lens, n, order);
    crdt_buf_u8(&r->out, '{');
    int first = 1;
    for (size_t k = 0; k < n && r->err == CRDT_OK; k++) {
        size_t i = order[k];
        uint64_t index;
        const crdt_item *it = map_value(r, t->map.entries[i].val, &index);
        if (!it || elem_is_undefined(it, index))
            continue;
        if (!first)
            crdt_buf_u8(&r->out, ',');
        first = 0;
        crdt_json_write_string(&r->out, keys[i], lens[i]);
        crdt_buf_u8(&r->out, ':');
        write_elem_json(r, it, index);
    }
    crdt_buf_u8(&r->out, '}');
    free(order);
    free(keys);
    free(lens);
}

/* ---- deltas ---- */

typedef struct attr {
    const char *key;
    size_t key_len;
    const crdt_value *val;
} attr;

typedef struct attrs {
    attr *v;
    size_t n, cap;
} attrs;

/* updateCurrentAttributes: null removes, anything else sets (a JS Map keeps the first
 * insertion position of a key). */
static int attrs_update(attrs *a, const crdt_item *fmt)
{
    const char *key = fmt->c.fmt.key;
    size_t key_len = fmt->c.fmt.key_len;
    const crdt_value *val = fmt->c.fmt.val;
    for (size_t i = 0; i < a->n; i++) {
        if (a->v[i].key_len == key_len && memcmp(a->v[i].key, key, key_len) == 0) {
            if (val->kind == CRDT_V_NULL) {
                memmove(&a->v[i], &a->v[i + 1], (a->n - i - 1) * sizeof(attr));
                a->n--;
            } else {
                a->v[i].val = val;
            }
            return 0;
        }
    }
    if (val->kind == CRDT_V_NULL)
        return 0;
    if (a->n == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 4;
        attr *v = realloc(a->v, cap * sizeof(*v));
        if (!v)
            return -1;
        a->v = v;
        a->cap = cap;
    }
    a->v[a->n].key = key;
    a->v[a->n].key_len = key_len;
    a->v[a->n].val = val;
    a->n++;
    return 0;
}

static void attrs_json(reader *r, const attrs *a)
{
    crdt_value obj;
    crdt_value_kv *kv = malloc((a->n ? a->n : 1) * sizeof(*kv));
    if (!kv) {
        r->err = CRDT_ERR_NOMEM;
        return;
    }
    for (size_t i = 0; i < a->n; i++) {
        kv[i].key = (char *)a->v[i].key;
        kv[i].key_len = a->v[i].key_len;
        kv[i].val = *a->v[i].val; /* shallow: only written, never freed */
    }
    obj.kind = CRDT_V_OBJECT;
    obj.u.obj.kv = kv;
    obj.u.obj.n = a->n;
    crdt_value_write_json(&r->out, &obj, 0);
    free(kv);
}

/* A delta op being built: consecutive strings under the same attributes become one. */
typedef struct delta_op {
    crdt_buf text;
    int has_text;
} delta_op;

typedef void (*delta_sink)(reader *r, void *ctx, const char *text, size_t n, const crdt_item *embed,
                           const attrs *a);

static void delta_walk(reader *r, const crdt_type *t, delta_sink sink, void *ctx)
{
    attrs cur = {0};
    crdt_buf str;
    crdt_buf_init(&str);
    for (const crdt_item *it = t->start; it && r->err == CRDT_OK; it = it->right) {
        switch (it->kind) {
        case CRDT_REF_STRING: {
            vis_iter v;
            uint64_t a, b;
            vis_start(&v, it, r->s);
            while (vis_next(&v, &a, &b))
                put_units(&str, it, a, b);
            break;
        }
        case CRDT_REF_TYPE:
        case CRDT_REF_EMBED:
            if (!item_visible(it, r->s))
                break;
            if (str.len) {
                sink(r, ctx, (const char *)str.data, str.len, NULL, &cur);
                str.len = 0;
            }
            sink(r, ctx, NULL, 0, it, &cur);
            break;
        case CRDT_REF_FORMAT:
            if (!item_visible(it, r->s))
                break;
            if (str.len) {
                sink(r, ctx, (const char *)str.data, str.len, NULL, &cur);
                str.len = 0;
            }
            if (attrs_update(&cur, it) != 0)
                r->err = CRDT_ERR_NOMEM;
            break;
        default:
            break;
        }
    }
    if (str.len && r->err == CRDT_OK)
        sink(r, ctx, (const char *)str.data, str.len, NULL, &cur);
    if (str.oom)
        r->err = CRDT_ERR_NOMEM;
    crdt_buf_free(&str);
    free(cur.v);
}

static void delta_json_sink(reader *r, void *ctx, const char *text, size_t n,
                            const crdt_item *embed, const attrs *a)
{
    int *first = ctx;
    if (!*first)
        crdt_buf_u8(&r->out, ',');
    *first = 0;
    crdt_buf_str(&r->out, "{\"insert\":");
    if (embed)
        write_elem_json(r, embed, 0);
    else
        crdt_json_write_string(&r->out, text, n);
    if (a->n) {
        crdt_buf_str(&r->out, ",\"attributes\":");
        attrs_json(r, a);
    }
    crdt_buf_u8(&r->out, '}');
}

static void delta_json(reader *r, const crdt_type *t)
{
    int first = 1;
    crdt_buf_u8(&r->out, '[');
    delta_walk(r, t, delta_json_sink, &first);
    crdt_buf_u8(&r->out, ']');
}

/* ---- XML ---- */

static void xml_string(reader *r, const crdt_type *t);

static int cmp_attr_key(const void *a, const void *b)
{
    const attr *x = a, *y = b;
    size_t n = x->key_len < y->key_len ? x->key_len : y->key_len;
    int c = memcmp(x->key, y->key, n);
    if (c)
        return c;
    return x->key_len < y->key_len ? -1 : x->key_len > y->key_len;
}

static int cmp_decimal_strings(const void *a, const void *b)
{
    return strcmp((const char *)a, (const char *)b);
}

static void xml_string_attr_indexes(reader *r, const crdt_value *v)
{
    const uint8_t *p = (const uint8_t *)v->u.str.p;
    size_t n = v->u.str.n;
    uint64_t units = crdt_utf16_len(p, n);
    if (units == 0)
        return;
    char(*names)[24] = malloc((size_t)units * sizeof(*names));
    if (!names) {
        r->err = CRDT_ERR_NOMEM;
        return;
    }
    for (uint64_t i = 0; i < units; i++)
        snprintf(names[i], sizeof(names[i]), "%llu", (unsigned long long)i);
    qsort(names, (size_t)units, sizeof(*names), cmp_decimal_strings);
    for (uint64_t k = 0; k < units; k++) {
        uint64_t i = strtoull(names[k], NULL, 10);
        int split;
        size_t at = crdt_utf16_to_byte(p, n, i, &split);
        crdt_buf_u8(&r->out, ' ');
        crdt_buf_str(&r->out, names[k]);
        crdt_buf_str(&r->out, "=\"");
        if (split || p[at] >= 0xf0) /* half of a surrogate pair: not representable in UTF-8 */
            crdt_buf_put(&r->out, fffd, 3);
        else
            crdt_buf_put(&r->out, p + at, p[at] < 0x80 ? 1 : p[at] < 0xe0 ? 2 : 3);
        crdt_buf_u8(&r->out, '"');
    }
    free(names);
}

/* YXmlText.toString: each delta op wrapped in its attributes as tags, sorted by name. */
static void xml_text_sink(reader *r, void *ctx, const char *text, size_t n, const crdt_item *embed,
                          const attrs *a)
{
    (void)ctx;
    attr *sorted = malloc((a->n ? a->n : 1) * sizeof(attr));
    if (!sorted) {
        r->err = CRDT_ERR_NOMEM;
        return;
    }
    if (a->n) {
        memcpy(sorted, a->v, a->n * sizeof(attr));
        qsort(sorted, a->n, sizeof(attr), cmp_attr_key);
    }
    for (size_t i = 0; i < a->n; i++) {
        crdt_buf_u8(&r->out, '<');
        crdt_buf_put(&r->out, sorted[i].key, sorted[i].key_len);
        const crdt_value *v = sorted[i].val;
        if (v->kind == CRDT_V_STRING) {
            /* `for (key in value)` over a string visits its UTF-16 indexes; sorted as
             * strings ("10" before "2"). */
            xml_string_attr_indexes(r, v);
        } else if (v->kind == CRDT_V_OBJECT) {
            attr *inner = malloc((v->u.obj.n ? v->u.obj.n : 1) * sizeof(attr));
            if (!inner) {
                r->err = CRDT_ERR_NOMEM;
                break;
            }
            for (size_t k = 0; k < v->u.obj.n; k++) {
                inner[k].key = v->u.obj.kv[k].key;
                inner[k].key_len = v->u.obj.kv[k].key_len;
                inner[k].val = &v->u.obj.kv[k].val;
            }
            qsort(inner, v->u.obj.n, sizeof(attr), cmp_attr_key);
            for (size_t k = 0; k < v->u.obj.n; k++) {
                crdt_buf_u8(&r->out, ' ');
                crdt_buf_put(&r->out, inner[k].key, inner[k].key_len);
                crdt_buf_str(&r->out, "=\"");
                crdt_value_write_js_string(&r->out, inner[k].val);
                crdt_buf_u8(&r->out, '"');
            }
            free(inner);
        }
        crdt_buf_u8(&r->out, '>');
    }
    if (embed) {
        if (embed->kind == CRDT_REF_TYPE)
            xml_string(r, embed->c.type);
        else
            crdt_value_write_js_string(&r->out, embed->c.embed);
    } else {
        crdt_buf_put(&r->out, text, n);
    }
    for (size_t i = a->n; i-- > 0;) {
        crdt_buf_str(&r->out, "</");
        crdt_buf_put(&r->out, sorted[i].key, sorted[i].key_len);
        crdt_buf_u8(&r->out, '>');
    }
    free(sorted);
}

static void xml_children(reader *r, const crdt_type *t)
{
    for (const crdt_item *it = t->start; it && r->err == CRDT_OK; it = it->right) {
        if (!crdt_ref_countable(it->kind))
            continue;
        vis_iter v;
        uint64_t a, b;
        vis_start(&v, it, r->s);
        while (vis_next(&v, &a, &b)) {
            switch (it->kind) {
            case CRDT_REF_TYPE:
                xml_string(r, it->c.type);
                break;
            case CRDT_REF_STRING:
                put_units(&r->out, it, a, b);
                break;
            case CRDT_REF_ANY:
            case CRDT_REF_JSON:
                for (uint64_t i = a; i < b; i++)
                    crdt_value_write_js_string(&r->out, &it->c.vals[i]);
                break;
            case CRDT_REF_EMBED:
                crdt_value_write_js_string(&r->out, it->c.embed);
                break;
            default:
                break;
            }
        }
    }
}

/* One attribute of an element: its key for sorting, and where its value lives. */
typedef struct xml_attr {
    attr a; /* only key and key_len are used */
    const crdt_item *item;
    uint64_t index;
} xml_attr;

static int cmp_xml_attr_key(const void *a, const void *b)
{
    const xml_attr *x = a, *y = b;
    return cmp_attr_key(&x->a, &y->a);
}

static void xml_element(reader *r, const crdt_type *t)
{
    size_t n = t->map.n;
    xml_attr *list = malloc((n ? n : 1) * sizeof(xml_attr));
    char *name = NULL;
    if (!list) {
        r->err = CRDT_ERR_NOMEM;
        goto done;
    }
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t index;
        const crdt_item *it = map_value(r, t->map.entries[i].val, &index);
        if (!it)
            continue;
        list[m].a.key = t->map.entries[i].key;
        list[m].a.key_len = crdt_intern_len(list[m].a.key);
        list[m].a.val = NULL;
        list[m].item = it;
        list[m].index = index;
        m++;
    }
    qsort(list, m, sizeof(xml_attr), cmp_xml_attr_key);
    /* nodeName.toLocaleLowerCase(), for the ASCII letters. */
    size_t name_len = t->name ? t->name_len : 0;
    name = malloc(name_len + 1);
    if (!name) {
        r->err = CRDT_ERR_NOMEM;
        goto done;
    }
    for (size_t i = 0; i < name_len; i++) {
        char c = t->name[i];
        name[i] = c >= 'A' && c <= 'Z' ? (char)(c + 32) : c;
    }
    crdt_buf_u8(&r->out, '<');
    crdt_buf_put(&r->out, name, name_len);
    for (size_t i = 0; i < m; i++) {
        const crdt_item *it = list[i].item;
        uint64_t index = list[i].index;
        crdt_buf_u8(&r->out, ' ');
        crdt_buf_put(&r->out, list[i].a.key, list[i].a.key_len);
        crdt_buf_str(&r->out, "=\"");
        if (it->kind == CRDT_REF_ANY || it->kind == CRDT_REF_JSON)
            crdt_value_write_js_string(&r->out, &it->c.vals[index]);
        else if (it->kind == CRDT_REF_EMBED)
            crdt_value_write_js_string(&r->out, it->c.embed);
        else if (it->kind == CRDT_REF_TYPE)
            xml_string(r, it->c.type);
        else if (it->kind == CRDT_REF_STRING)
            put_units(&r->out, it, index, index + 1);
        crdt_buf_u8(&r->out, '"');
    }
    crdt_buf_u8(&r->out, '>');
    xml_children(r, t);
    crdt_buf_str(&r->out, "</");
    crdt_buf_put(&r->out, name, name_len);
    crdt_buf_u8(&r->out, '>');
done:
    free(name);
    free(list);
}

static void xml_string(reader *r, const crdt_type *t)
{
    if (r->depth == 0) {
        r->err = CRDT_ERR_LIMIT;
        return;
    }
    r->depth--;
    switch (t->type_ref) {
    case CRDT_TYPE_XML_ELEMENT:
        xml_element(r, t);
        break;
    case CRDT_TYPE_XML_TEXT:
        delta_walk(r, t, xml_text_sink, NULL);
        break;
    case CRDT_TYPE_TEXT:
        text_string(r, t);
        break;
    case CRDT_TYPE_XML_FRAGMENT:
    case CRDT_TYPE_UNKNOWN:
        xml_children(r, t);
        break;
    default: /* Y.Map / Y.Array / XmlHook have no toString of their own */
        crdt_buf_str(&r->out, "[object Object]");
        break;
    }
    r->depth++;
}

static void write_type_json(reader *r, const crdt_type *t, uint8_t kind)
{
    if (r->depth == 0) {
        r->err = CRDT_ERR_LIMIT;
        return;
    }
    r->depth--;
    switch (kind) {
    case CRDT_TYPE_ARRAY:
        array_json(r, t);
        break;
    case CRDT_TYPE_MAP:
    case CRDT_TYPE_XML_HOOK:
        map_json(r, t);
        break;
    case CRDT_TYPE_TEXT: {
        crdt_buf tmp = r->out;
        crdt_buf_init(&r->out);
        text_string(r, t);
        crdt_buf s = r->out;
        r->out = tmp;
        crdt_json_write_string(&r->out, s.data ? (const char *)s.data : "", s.len);
        if (s.oom)
            r->err = CRDT_ERR_NOMEM;
        crdt_buf_free(&s);
        break;
    }
    default: { /* XML types: toJSON() is toString() */
        crdt_buf tmp = r->out;
        crdt_buf_init(&r->out);
        r->depth++;
        xml_string(r, t);
        r->depth--;
        crdt_buf s = r->out;
        r->out = tmp;
        crdt_json_write_string(&r->out, s.data ? (const char *)s.data : "", s.len);
        if (s.oom)
            r->err = CRDT_ERR_NOMEM;
        crdt_buf_free(&s);
        break;
    }
    }
    r->depth++;
}

enum read_kind { READ_TEXT, READ_DELTA, READ_ARRAY, READ_MAP, READ_XML };

/* out_len may be NULL; when given it receives the length without the terminating NUL, which
 * is the only way to know it when the content itself holds U+0000. */
static crdt_status read_root(const crdt_doc *doc, const char *root, const uint8_t *snapshot,
                             size_t snapshot_len, enum read_kind kind, char **out, size_t *out_len)
{
    if (!doc || !root || !out || (!snapshot && snapshot_len))
        return CRDT_ERR_ARG;
    snap s;
    reader r;
    memset(&r, 0, sizeof(r));
    r.doc = doc;
    r.depth = doc->lim.max_depth;
    crdt_buf_init(&r.out);
    if (snapshot) {
        crdt_status st = snap_decode(snapshot, snapshot_len, &s);
        if (st != CRDT_OK)
            return st;
        r.s = &s;
    }
    static const crdt_type empty = {.type_ref = CRDT_TYPE_UNKNOWN};
    const crdt_type *t = crdt_doc_find_root(doc, root);
    if (!t)
        t = &empty;
    switch (kind) {
    case READ_TEXT:
        text_string(&r, t);
        break;
    case READ_DELTA:
        delta_json(&r, t);
        break;
    case READ_ARRAY:
        write_type_json(&r, t, CRDT_TYPE_ARRAY);
        break;
    case READ_MAP:
        write_type_json(&r, t, CRDT_TYPE_MAP);
        break;
    case READ_XML:
        xml_string(&r, t);
        break;
    }
    if (snapshot)
        snap_free(&s);
    if (r.err != CRDT_OK) {
        crdt_buf_free(&r.out);
        return r.err;
    }
    size_t len = r.out.len;
    crdt_status st = crdt_buf_take_str(&r.out, out);
    if (st == CRDT_OK && out_len)
        *out_len = len;
    return st;
}

crdt_status crdt_read_text(const crdt_doc *doc, const char *root, const uint8_t *snapshot,
                           size_t snapshot_len, char **out)
{
    return read_root(doc, root, snapshot, snapshot_len, READ_TEXT, out, NULL);
}

crdt_status crdt_read_delta(const crdt_doc *doc, const char *root, const uint8_t *snapshot,
                            size_t snapshot_len, char **out)
{
    return read_root(doc, root, snapshot, snapshot_len, READ_DELTA, out, NULL);
}

crdt_status crdt_read_array_json(const crdt_doc *doc, const char *root, const uint8_t *snapshot,
                                 size_t snapshot_len, char **out)
{
    return read_root(doc, root, snapshot, snapshot_len, READ_ARRAY, out, NULL);
}

crdt_status crdt_read_map_json(const crdt_doc *doc, const char *root, const uint8_t *snapshot,
                               size_t snapshot_len, char **out)
{
    return read_root(doc, root, snapshot, snapshot_len, READ_MAP, out, NULL);
}

crdt_status crdt_read_xml(const crdt_doc *doc, const char *root, const uint8_t *snapshot,
                          size_t snapshot_len, char **out)
{
    return read_root(doc, root, snapshot, snapshot_len, READ_XML, out, NULL);
}

crdt_status crdt_read_text_len(const crdt_doc *doc, const char *root, const uint8_t *snapshot,
                               size_t snapshot_len, char **out, size_t *out_len)
{
    if (!out_len)
        return CRDT_ERR_ARG;
    return read_root(doc, root, snapshot, snapshot_len, READ_TEXT, out, out_len);
}

crdt_status crdt_read_xml_len(const crdt_doc *doc, const char *root, const uint8_t *snapshot,
                              size_t snapshot_len, char **out, size_t *out_len)
{
    if (!out_len)
        return CRDT_ERR_ARG;
    return read_root(doc, root, snapshot, snapshot_len, READ_XML, out, out_len);
}
