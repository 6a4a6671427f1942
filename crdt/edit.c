/*
 * edit.c - local edits on root types, done the way Yjs's YText/YMap/YArray methods do them
 * (same items, same origins, same formatting items), each in its own transaction whose
 * update (v1) is handed back like Yjs's 'update' event. Used by tests, benchmarks and tools
 * that need to produce updates without JavaScript.
 *
 * Arguments are validated before anything changes, so a rejected edit leaves the document
 * as it was.
 */
#include "crdt/internal.h"

#include <stdlib.h>
#include <string.h>

/* ---- transaction wrapper ---- */

static crdt_status edit_begin(crdt_doc *doc)
{
    crdt_txn_begin(doc);
    return CRDT_OK;
}

/* Ends the transaction and encodes what it did (writeUpdateMessageFromTransaction). */
static crdt_status edit_end(crdt_doc *doc, crdt_status st, uint8_t **update, size_t *update_len)
{
    if (st == CRDT_OK)
        st = crdt_txn_end(doc);
    else
        crdt_txn_end(doc);
    if (st != CRDT_OK || !update)
        return st;
    crdt_enc e;
    crdt_enc_init(&e, 0);
    crdt_client *c = crdt_store_client(doc, doc->client_id);
    if (c && c->txn_stamp == doc->txn.stamp && crdt_client_state(c) > c->txn_before) {
        size_t start = crdt_client_find(c, c->txn_before);
        crdt_buf_varuint(&e.rest, 1);
        crdt_buf_varuint(&e.rest, c->n - start);
        crdt_enc_client(&e, c->id);
        crdt_buf_varuint(&e.rest, c->txn_before);
        crdt_enc_struct(&e, crdt_client_at(c, start),
                        c->txn_before - crdt_client_at(c, start)->id.clock);
        for (size_t k = start + 1; k < c->n; k++)
            crdt_enc_struct(&e, crdt_client_at(c, k), 0);
    } else {
        crdt_buf_varuint(&e.rest, 0);
    }
    crdt_enc_delete_set(&e, &doc->txn.ds);
    return crdt_enc_finish(&e, update, update_len);
}

static crdt_item *new_item(crdt_doc *doc, crdt_type *parent, crdt_item *left, crdt_item *right,
                           const char *sub, uint8_t kind)
{
    crdt_item *it = crdt_pool_get(&doc->pool);
    if (!it)
        return NULL;
    it->id.client = doc->client_id;
    it->id.clock = crdt_store_state(doc, doc->client_id);
    if (left) {
        it->origin.client = left->id.client;
        it->origin.clock = left->id.clock + left->len - 1;
        it->flags |= CRDT_F_ORIGIN;
    }
    if (right) {
        it->right_origin = right->id;
        it->flags |= CRDT_F_RIGHT_ORIGIN;
    }
    it->left = left;
    it->right = right;
    it->parent_kind = CRDT_PARENT_TYPE;
    it->parent.type = parent;
    if (sub) {
        it->sub = sub;
        it->sub_len = crdt_intern_len(sub);
    }
    it->kind = kind;
    if (crdt_ref_countable(kind))
        it->flags |= CRDT_F_COUNTABLE;
    return it;
}

static crdt_status integrate_new(crdt_doc *doc, crdt_item *it)
{
    if (it->len > doc->lim.max_clock - it->id.clock) {
        crdt_item_release(&doc->pool, it);
        return CRDT_ERR_LIMIT;
    }
    crdt_status st = crdt_item_integrate(doc, it, 0);
    return st;
}

static crdt_type *edit_root(crdt_doc *doc, const char *root)
{
    return crdt_doc_root(doc, root, strlen(root));
}

static int visible(const crdt_item *it)
{
    return !crdt_item_deleted(it) && (it->flags & CRDT_F_COUNTABLE);
}

/* ---- text position (ItemTextListPosition) ---- */

typedef struct attr {
    const char *key; /* borrowed from a format item or the caller's attributes */
    size_t key_len;
    const crdt_value *val;
} attr;

typedef struct attr_map {
    attr *v;
    size_t n, cap;
} attr_map;

static const crdt_value js_null = {.kind = CRDT_V_NULL};

static const crdt_value *attr_get(const attr_map *m, const char *key, size_t key_len)
{
    for (size_t i = 0; i < m->n; i++)
        if (m->v[i].key_len == key_len && memcmp(m->v[i].key, key, key_len) == 0)
            return m->v[i].val;
    return NULL;
}

static void attr_delete(attr_map *m, const char *key, size_t key_len)
{
    for (size_t i = 0; i < m->n; i++) {
        if (m->v[i].key_len == key_len && memcmp(m->v[i].key, key, key_len) == 0) {
            memmove(&m->v[i], &m->v[i + 1], (m->n - i - 1) * sizeof(attr));
            m->n--;
            return;
        }
    }
}

static crdt_status attr_set(attr_map *m, const char *key, size_t key_len, const crdt_value *val)
{
    for (size_t i = 0; i < m->n; i++) {
        if (m->v[i].key_len == key_len && memcmp(m->v[i].key, key, key_len) == 0) {
            m->v[i].val = val;
            return CRDT_OK;
        }
    }
    if (m->n == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 4;
        attr *v = realloc(m->v, cap * sizeof(*v));
        if (!v)
            return CRDT_ERR_NOMEM;
        m->v = v;
        m->cap = cap;
    }
    m->v[m->n].key = key;
    m->v[m->n].key_len = key_len;
    m->v[m->n].val = val;
    m->n++;
    return CRDT_OK;
}

static crdt_status attr_update(attr_map *m, const crdt_item *fmt)
{
    if (fmt->c.fmt.val->kind == CRDT_V_NULL) {
        attr_delete(m, fmt->c.fmt.key, fmt->c.fmt.key_len);
        return CRDT_OK;
    }
    return attr_set(m, fmt->c.fmt.key, fmt->c.fmt.key_len, fmt->c.fmt.val);
}

/* equalAttrs: same primitive, or objects equal member by member. */
static int equal_attrs(const crdt_value *a, const crdt_value *b)
{
    return crdt_value_equal(a, b);
}

/* JavaScript ===: objects only equal themselves. */
static int strict_equal(const crdt_value *a, const crdt_value *b)
{
    if (a == b)
        return 1;
    if (a->kind == CRDT_V_OBJECT || a->kind == CRDT_V_ARRAY || a->kind == CRDT_V_BINARY)
        return 0;
    return crdt_value_equal(a, b);
}

typedef struct text_pos {
    crdt_type *parent;
    crdt_item *left, *right;
    uint64_t index;
    attr_map attrs;
} text_pos;

static crdt_status pos_forward(text_pos *p)
{
    crdt_item *r = p->right;
    crdt_status st = CRDT_OK;
    if (r->kind == CRDT_REF_FORMAT) {
        if (!crdt_item_deleted(r))
            st = attr_update(&p->attrs, r);
    } else if (!crdt_item_deleted(r)) {
        p->index += r->len;
    }
    p->left = r;
    p->right = r->right;
    return st;
}

/* findPosition: moves to UTF-16 index, splitting the item the index falls into. */
static crdt_status find_position(crdt_doc *doc, crdt_type *t, uint64_t index, text_pos *p)
{
    memset(p, 0, sizeof(*p));
    p->parent = t;
    p->right = t->start;
    if (!t->has_formatting && t->cache_item) {
        /* Without formatting there are no attributes to collect, so a remembered position
         * is as good as the start: walk from there. */
        p->right = t->cache_item;
        p->left = t->cache_item->left;
        p->index = t->cache_index;
        while (p->index > index && p->left) {
            p->right = p->left;
            p->left = p->left->left;
            if (visible(p->right))
                p->index -= p->right->len;
        }
    }
    uint64_t count = index - p->index;
    while (p->right && count > 0) {
        crdt_item *r = p->right;
        if (r->kind == CRDT_REF_FORMAT) {
            if (!crdt_item_deleted(r) && attr_update(&p->attrs, r) != CRDT_OK)
                return CRDT_ERR_NOMEM;
        } else if (!crdt_item_deleted(r)) {
            if (count < r->len) {
                crdt_id at = {r->id.client, r->id.clock + count};
                if (!crdt_store_clean_start(doc, at))
                    return doc->txn.err ? doc->txn.err : CRDT_ERR_NOMEM;
            }
            p->index += r->len;
            count -= r->len;
        }
        p->left = r;
        p->right = r->right;
    }
    return CRDT_OK;
}

static void remember(crdt_type *t, crdt_item *it, uint64_t index)
{
    t->cache_item = it;
    t->cache_index = index;
}

static crdt_status insert_format(crdt_doc *doc, text_pos *p, const char *key, size_t key_len,
                                 const crdt_value *val)
{
    crdt_item *it = new_item(doc, p->parent, p->left, p->right, NULL, CRDT_REF_FORMAT);
    if (!it)
        return CRDT_ERR_NOMEM;
    it->len = 1;
    it->c.fmt.key = malloc(key_len + 1);
    it->c.fmt.val = calloc(1, sizeof(crdt_value));
    if (!it->c.fmt.key || !it->c.fmt.val || crdt_value_copy(it->c.fmt.val, val) != CRDT_OK) {
        free(it->c.fmt.val);
        it->c.fmt.val = NULL;
        crdt_item_release(&doc->pool, it);
        return CRDT_ERR_NOMEM;
    }
    memcpy(it->c.fmt.key, key, key_len);
    it->c.fmt.key[key_len] = 0;
    it->c.fmt.key_len = key_len;
    crdt_status st = integrate_new(doc, it);
    if (st != CRDT_OK)
        return st;
    p->right = it;
    return pos_forward(p);
}

/* minimizeAttributeChanges: skip deleted items and formats that already say the same. */
static crdt_status minimize_changes(text_pos *p, const attr_map *want)
{
    while (p->right) {
        crdt_item *r = p->right;
        if (!crdt_item_deleted(r)) {
            if (r->kind != CRDT_REF_FORMAT)
                break;
            const crdt_value *w = attr_get(want, r->c.fmt.key, r->c.fmt.key_len);
            if (!equal_attrs(w ? w : &js_null, r->c.fmt.val))
                break;
        }
        crdt_status st = pos_forward(p);
        if (st != CRDT_OK)
            return st;
    }
    return CRDT_OK;
}

/* insertAttributes: a format item for every attribute that differs; returns the negations. */
static crdt_status insert_attributes(crdt_doc *doc, text_pos *p, const attr_map *want,
                                     attr_map *negated)
{
    for (size_t i = 0; i < want->n; i++) {
        const attr *a = &want->v[i];
        const crdt_value *cur = attr_get(&p->attrs, a->key, a->key_len);
        if (!cur)
            cur = &js_null;
        if (equal_attrs(cur, a->val))
            continue;
        crdt_status st = attr_set(negated, a->key, a->key_len, cur);
        if (st == CRDT_OK)
            st = insert_format(doc, p, a->key, a->key_len, a->val);
        if (st != CRDT_OK)
            return st;
    }
    return CRDT_OK;
}

static crdt_status insert_negated(crdt_doc *doc, text_pos *p, attr_map *negated)
{
    while (p->right) {
        crdt_item *r = p->right;
        if (!crdt_item_deleted(r)) {
            if (r->kind != CRDT_REF_FORMAT)
                break;
            const crdt_value *n = attr_get(negated, r->c.fmt.key, r->c.fmt.key_len);
            if (!equal_attrs(n ? n : &js_null, r->c.fmt.val))
                break;
            attr_delete(negated, r->c.fmt.key, r->c.fmt.key_len);
        }
        crdt_status st = pos_forward(p);
        if (st != CRDT_OK)
            return st;
    }
    for (size_t i = 0; i < negated->n; i++) {
        crdt_status st =
            insert_format(doc, p, negated->v[i].key, negated->v[i].key_len, negated->v[i].val);
        if (st != CRDT_OK)
            return st;
    }
    return CRDT_OK;
}

/* The caller's attributes object as an attribute list in JS key order. */
static crdt_status attrs_from_value(const crdt_value *obj, attr_map *out)
{
    size_t n = obj->u.obj.n;
    size_t *order = malloc((n ? n : 1) * sizeof(size_t));
    const char **keys = calloc(n ? n : 1, sizeof(char *));
    size_t *lens = calloc(n ? n : 1, sizeof(size_t));
    crdt_status st = order && keys && lens ? CRDT_OK : CRDT_ERR_NOMEM;
    if (st == CRDT_OK) {
        for (size_t i = 0; i < n; i++) {
            keys[i] = obj->u.obj.kv[i].key;
            lens[i] = obj->u.obj.kv[i].key_len;
        }
        crdt_js_key_order(keys, lens, n, order);
        for (size_t i = 0; i < n && st == CRDT_OK; i++) {
            const crdt_value_kv *kv = &obj->u.obj.kv[order[i]];
            if (kv->val.kind != CRDT_V_UNDEFINED)
                st = attr_set(out, kv->key, kv->key_len, &kv->val);
        }
    }
    free(order);
    free(keys);
    free(lens);
    return st;
}

static crdt_status parse_attrs(const crdt_doc *doc, const char *json, crdt_value *out)
{
    crdt_status st = crdt_value_from_json(json, strlen(json), out, doc->lim.max_depth);
    if (st != CRDT_OK)
        return st;
    if (out->kind != CRDT_V_OBJECT) {
        crdt_value_clear(out);
        return CRDT_ERR_ARG;
    }
    return CRDT_OK;
}

crdt_status crdt_text_insert(crdt_doc *doc, const char *root, uint64_t index, const char *text,
                             size_t text_len, const char *attrs_json, uint8_t **update,
                             size_t *update_len)
{
    if (!doc || !root || (!text && text_len))
        return CRDT_ERR_ARG;
    if (text_len > UINT32_MAX / 2 || !crdt_utf8_valid((const uint8_t *)text, text_len))
        return CRDT_ERR_ARG;
    crdt_value attrs_val = {.kind = CRDT_V_UNDEFINED};
    if (attrs_json) {
        crdt_status st = parse_attrs(doc, attrs_json, &attrs_val);
        if (st != CRDT_OK)
            return st;
    }
    crdt_type *t = edit_root(doc, root);
    if (!t) {
        crdt_value_clear(&attrs_val);
        return CRDT_ERR_NOMEM;
    }
    if (index > t->length) {
        crdt_value_clear(&attrs_val);
        return CRDT_ERR_ARG;
    }
    edit_begin(doc);
    text_pos p;
    attr_map want = {0}, negated = {0};
    crdt_status st = find_position(doc, t, index, &p);
    if (st == CRDT_OK && text_len > 0) {
        if (attrs_json) {
            st = attrs_from_value(&attrs_val, &want);
            /* Attributes in effect here but not given are turned off. */
            for (size_t i = 0; i < p.attrs.n && st == CRDT_OK; i++)
                if (!attr_get(&want, p.attrs.v[i].key, p.attrs.v[i].key_len))
                    st = attr_set(&want, p.attrs.v[i].key, p.attrs.v[i].key_len, &js_null);
        } else {
            for (size_t i = 0; i < p.attrs.n && st == CRDT_OK; i++)
                st = attr_set(&want, p.attrs.v[i].key, p.attrs.v[i].key_len, p.attrs.v[i].val);
        }
        if (st == CRDT_OK)
            st = minimize_changes(&p, &want);
        if (st == CRDT_OK)
            st = insert_attributes(doc, &p, &want, &negated);
        crdt_item *it = NULL;
        if (st == CRDT_OK) {
            it = new_item(doc, t, p.left, p.right, NULL, CRDT_REF_STRING);
            if (!it)
                st = CRDT_ERR_NOMEM;
        }
        if (st == CRDT_OK) {
            it->c.str.p = (char *)text; /* copied into the arena by integration */
            it->c.str.n = it->c.str.cap = (uint32_t)text_len;
            it->flags |= CRDT_F_STR_BORROWED;
            it->len = crdt_utf16_len((const uint8_t *)text, text_len);
            uint64_t at = p.index;
            st = integrate_new(doc, it);
            if (st == CRDT_OK) {
                p.right = it;
                st = pos_forward(&p);
                if (!t->has_formatting)
                    remember(t, it, at);
            }
        }
        if (st == CRDT_OK)
            st = insert_negated(doc, &p, &negated);
    }
    free(p.attrs.v);
    free(want.v);
    free(negated.v);
    st = edit_end(doc, st, update, update_len);
    crdt_value_clear(&attrs_val);
    return st;
}

/* cleanupFormattingGap after a deletion: drops format items that no longer change
 * anything. */
static void cleanup_formatting_gap(crdt_doc *doc, crdt_item *start, crdt_item *curr,
                                   const attr_map *start_attrs, attr_map *curr_attrs)
{
    crdt_item *end = start;
    attr_map end_formats = {0}; /* key -> the format item (through val pointer) */
    while (end && (!(end->flags & CRDT_F_COUNTABLE) || crdt_item_deleted(end))) {
        if (!crdt_item_deleted(end) && end->kind == CRDT_REF_FORMAT)
            attr_set(&end_formats, end->c.fmt.key, end->c.fmt.key_len, end->c.fmt.val);
        end = end->right;
    }
    int reached_curr = 0;
    for (; start != end; start = start->right) {
        if (curr == start)
            reached_curr = 1;
        if (crdt_item_deleted(start) || start->kind != CRDT_REF_FORMAT)
            continue;
        const char *key = start->c.fmt.key;
        size_t key_len = start->c.fmt.key_len;
        const crdt_value *value = start->c.fmt.val;
        const crdt_value *start_val = attr_get(start_attrs, key, key_len);
        if (!start_val)
            start_val = &js_null;
        if (attr_get(&end_formats, key, key_len) != value || strict_equal(start_val, value)) {
            crdt_item_delete(doc, start);
            const crdt_value *cv = attr_get(curr_attrs, key, key_len);
            if (!reached_curr && strict_equal(cv ? cv : &js_null, value) &&
                !strict_equal(start_val, value)) {
                if (start_val->kind == CRDT_V_NULL)
                    attr_delete(curr_attrs, key, key_len);
                else
                    attr_set(curr_attrs, key, key_len, start_val);
            }
        }
        if (!reached_curr && !crdt_item_deleted(start))
            attr_update(curr_attrs, start);
    }
    free(end_formats.v);
}

crdt_status crdt_text_delete(crdt_doc *doc, const char *root, uint64_t index, uint64_t length,
                             uint8_t **update, size_t *update_len)
{
    if (!doc || !root)
        return CRDT_ERR_ARG;
    crdt_type *t = edit_root(doc, root);
    if (!t)
        return CRDT_ERR_NOMEM;
    if (index > t->length || length > t->length - index)
        return CRDT_ERR_ARG;
    edit_begin(doc);
    text_pos p;
    crdt_status st = find_position(doc, t, index, &p);
    attr_map start_attrs = {0};
    if (st == CRDT_OK && length > 0) {
        crdt_item *start = p.right;
        for (size_t i = 0; i < p.attrs.n && st == CRDT_OK; i++)
            st = attr_set(&start_attrs, p.attrs.v[i].key, p.attrs.v[i].key_len, p.attrs.v[i].val);
        while (st == CRDT_OK && length > 0 && p.right) {
            crdt_item *r = p.right;
            if (!crdt_item_deleted(r) && (r->kind == CRDT_REF_STRING || r->kind == CRDT_REF_EMBED ||
                                          r->kind == CRDT_REF_TYPE)) {
                if (length < r->len) {
                    crdt_id at = {r->id.client, r->id.clock + length};
                    if (!crdt_store_clean_start(doc, at)) {
                        st = doc->txn.err ? doc->txn.err : CRDT_ERR_NOMEM;
                        break;
                    }
                }
                length -= r->len;
                crdt_item_delete(doc, r);
            }
            st = pos_forward(&p);
        }
        if (st == CRDT_OK && start)
            cleanup_formatting_gap(doc, start, p.right, &start_attrs, &p.attrs);
        if (st == CRDT_OK && p.right && !t->has_formatting)
            remember(t, p.right, index);
    }
    free(start_attrs.v);
    free(p.attrs.v);
    return edit_end(doc, st, update, update_len);
}

crdt_status crdt_text_format(crdt_doc *doc, const char *root, uint64_t index, uint64_t length,
                             const char *attrs_json, uint8_t **update, size_t *update_len)
{
    if (!doc || !root || !attrs_json)
        return CRDT_ERR_ARG;
    crdt_value attrs_val;
    crdt_status st = parse_attrs(doc, attrs_json, &attrs_val);
    if (st != CRDT_OK)
        return st;
    crdt_type *t = edit_root(doc, root);
    if (!t || index > t->length || length > t->length - index) {
        crdt_value_clear(&attrs_val);
        return t ? CRDT_ERR_ARG : CRDT_ERR_NOMEM;
    }
    edit_begin(doc);
    text_pos p;
    attr_map want = {0}, negated = {0};
    st = find_position(doc, t, index, &p);
    if (st == CRDT_OK && length > 0 && p.right) {
        st = attrs_from_value(&attrs_val, &want);
        if (st == CRDT_OK)
            st = minimize_changes(&p, &want);
        if (st == CRDT_OK)
            st = insert_attributes(doc, &p, &want, &negated);
        while (st == CRDT_OK && p.right &&
               (length > 0 || (negated.n > 0 &&
                               (crdt_item_deleted(p.right) || p.right->kind == CRDT_REF_FORMAT)))) {
            crdt_item *r = p.right;
            if (!crdt_item_deleted(r)) {
                if (r->kind == CRDT_REF_FORMAT) {
                    const crdt_value *w = attr_get(&want, r->c.fmt.key, r->c.fmt.key_len);
                    if (w) {
                        if (equal_attrs(w, r->c.fmt.val)) {
                            attr_delete(&negated, r->c.fmt.key, r->c.fmt.key_len);
                        } else {
                            if (length == 0)
                                break;
                            st = attr_set(&negated, r->c.fmt.key, r->c.fmt.key_len, r->c.fmt.val);
                        }
                        crdt_item_delete(doc, r);
                    } else {
                        st = attr_set(&p.attrs, r->c.fmt.key, r->c.fmt.key_len, r->c.fmt.val);
                    }
                } else {
                    if (length < r->len) {
                        crdt_id at = {r->id.client, r->id.clock + length};
                        if (!crdt_store_clean_start(doc, at)) {
                            st = doc->txn.err ? doc->txn.err : CRDT_ERR_NOMEM;
                            break;
                        }
                    }
                    length -= r->len < length ? r->len : length;
                }
            }
            if (st == CRDT_OK)
                st = pos_forward(&p);
        }
        if (st == CRDT_OK && length > 0) {
            /* Yjs (for Quill) fills a range past the end with newlines. */
            char *nl = malloc((size_t)length);
            crdt_item *it = nl ? new_item(doc, t, p.left, p.right, NULL, CRDT_REF_STRING) : NULL;
            if (!it) {
                st = CRDT_ERR_NOMEM;
            } else {
                memset(nl, '\n', (size_t)length);
                it->c.str.p = nl;
                it->c.str.n = it->c.str.cap = (uint32_t)length;
                it->flags |= CRDT_F_STR_BORROWED;
                it->len = length;
                st = integrate_new(doc, it);
                p.right = it;
                if (st == CRDT_OK)
                    st = pos_forward(&p);
            }
            free(nl);
        }
        if (st == CRDT_OK)
            st = insert_negated(doc, &p, &negated);
    }
    free(p.attrs.v);
    free(want.v);
    free(negated.v);
    st = edit_end(doc, st, update, update_len);
    crdt_value_clear(&attrs_val);
    return st;
}

/* ---- maps ---- */

crdt_status crdt_map_set(crdt_doc *doc, const char *root, const char *key, const char *value_json,
                         uint8_t **update, size_t *update_len)
{
    if (!doc || !root || !key || !value_json)
        return CRDT_ERR_ARG;
    crdt_value *val = calloc(1, sizeof(*val));
    if (!val)
        return CRDT_ERR_NOMEM;
    crdt_status st = crdt_value_from_json(value_json, strlen(value_json), val, doc->lim.max_depth);
    if (st != CRDT_OK) {
        free(val);
        return st;
    }
    crdt_type *t = edit_root(doc, root);
    const char *k = t ? crdt_intern_get(&doc->keys, key, strlen(key)) : NULL;
    if (!k) {
        crdt_value_clear(val);
        free(val);
        return CRDT_ERR_NOMEM;
    }
    edit_begin(doc);
    crdt_item *left = crdt_pmap_get(&t->map, k);
    crdt_item *it = new_item(doc, t, left, NULL, k, CRDT_REF_ANY);
    if (!it) {
        crdt_value_clear(val);
        free(val);
        st = CRDT_ERR_NOMEM;
    } else {
        it->c.vals = val;
        it->len = 1;
        st = integrate_new(doc, it);
    }
    return edit_end(doc, st, update, update_len);
}

crdt_status crdt_map_delete(crdt_doc *doc, const char *root, const char *key, uint8_t **update,
                            size_t *update_len)
{
    if (!doc || !root || !key)
        return CRDT_ERR_ARG;
    crdt_type *t = edit_root(doc, root);
    const char *k = t ? crdt_intern_get(&doc->keys, key, strlen(key)) : NULL;
    if (!k)
        return CRDT_ERR_NOMEM;
    edit_begin(doc);
    crdt_item *it = crdt_pmap_get(&t->map, k);
    if (it)
        crdt_item_delete(doc, it);
    return edit_end(doc, doc->txn.err, update, update_len);
}

/* ---- arrays ---- */

crdt_status crdt_array_insert(crdt_doc *doc, const char *root, uint64_t index,
                              const char *values_json, uint8_t **update, size_t *update_len)
{
    if (!doc || !root || !values_json)
        return CRDT_ERR_ARG;
    crdt_value arr;
    crdt_status st =
        crdt_value_from_json(values_json, strlen(values_json), &arr, doc->lim.max_depth);
    if (st != CRDT_OK)
        return st;
    crdt_type *t = edit_root(doc, root);
    if (arr.kind != CRDT_V_ARRAY || !t || index > t->length) {
        crdt_value_clear(&arr);
        return t ? CRDT_ERR_ARG : CRDT_ERR_NOMEM;
    }
    if (arr.u.arr.n == 0) {
        crdt_value_clear(&arr);
        edit_begin(doc);
        return edit_end(doc, CRDT_OK, update, update_len);
    }
    edit_begin(doc);
    crdt_item *n = NULL;
    if (index > 0) {
        for (n = t->start; n; n = n->right) {
            if (!visible(n))
                continue;
            if (index <= n->len) {
                if (index < n->len) {
                    crdt_id at = {n->id.client, n->id.clock + index};
                    if (!crdt_store_clean_start(doc, at))
                        st = doc->txn.err ? doc->txn.err : CRDT_ERR_NOMEM;
                }
                break;
            }
            index -= n->len;
        }
    }
    crdt_item *it = NULL;
    if (st == CRDT_OK) {
        crdt_item *right = n ? n->right : t->start;
        it = new_item(doc, t, n, right, NULL, CRDT_REF_ANY);
        if (!it)
            st = CRDT_ERR_NOMEM;
    }
    if (st == CRDT_OK) {
        it->c.vals = arr.u.arr.items; /* the item takes the elements */
        it->len = arr.u.arr.n;
        arr.u.arr.items = NULL;
        arr.u.arr.n = 0;
        st = integrate_new(doc, it);
    }
    crdt_value_clear(&arr);
    return edit_end(doc, st, update, update_len);
}

crdt_status crdt_array_delete(crdt_doc *doc, const char *root, uint64_t index, uint64_t length,
                              uint8_t **update, size_t *update_len)
{
    if (!doc || !root)
        return CRDT_ERR_ARG;
    crdt_type *t = edit_root(doc, root);
    if (!t)
        return CRDT_ERR_NOMEM;
    if (index > t->length || length > t->length - index)
        return CRDT_ERR_ARG;
    edit_begin(doc);
    crdt_status st = CRDT_OK;
    crdt_item *n = t->start;
    for (; n && index > 0 && st == CRDT_OK; n = n->right) {
        if (!visible(n))
            continue;
        if (index < n->len) {
            crdt_id at = {n->id.client, n->id.clock + index};
            if (!crdt_store_clean_start(doc, at))
                st = doc->txn.err ? doc->txn.err : CRDT_ERR_NOMEM;
        }
        index -= n->len < index ? n->len : index;
    }
    for (; n && length > 0 && st == CRDT_OK; n = n->right) {
        if (crdt_item_deleted(n))
            continue;
        if (length < n->len) {
            crdt_id at = {n->id.client, n->id.clock + length};
            if (!crdt_store_clean_start(doc, at)) {
                st = doc->txn.err ? doc->txn.err : CRDT_ERR_NOMEM;
                break;
            }
        }
        crdt_item_delete(doc, n);
        length -= n->len < length ? n->len : length;
    }
    return edit_end(doc, st, update, update_len);
}
