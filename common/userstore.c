/*
 * userstore: users, permissions and document records in MongoDB through the
 * cmongo pool, with the _id scheme of docs/storage.md, so a retried insert
 * is a duplicate key (11000). See userstore.h.
 */
#include "common/userstore.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/util.h"
#include "common/ws_frame.h"

struct ustore {
    cmongo *mongo;
    clog *log;
};

ustore *ustore_new(cmongo *m, clog *log)
{
    ustore *us = calloc(1, sizeof *us);
    if (!us)
        return NULL;
    us->mongo = m;
    us->log = log;
    return us;
}

void ustore_free(ustore *us)
{
    free(us);
}

const char *ustore_role_name(ustore_role role)
{
    switch (role) {
    case USTORE_ROLE_VIEWER:
        return "viewer";
    case USTORE_ROLE_EDITOR:
        return "editor";
    case USTORE_ROLE_OWNER:
        return "owner";
    case USTORE_ROLE_NONE:
        break;
    }
    return "none";
}

int ustore_role_parse(const char *name, ustore_role *out)
{
    static const ustore_role roles[] = {USTORE_ROLE_NONE, USTORE_ROLE_VIEWER, USTORE_ROLE_EDITOR,
                                        USTORE_ROLE_OWNER};
    for (size_t i = 0; i < sizeof roles / sizeof roles[0]; i++) {
        if (strcmp(name, ustore_role_name(roles[i])) == 0) {
            *out = roles[i];
            return 0;
        }
    }
    return -1;
}

const char *ustore_status_name(ustore_status st)
{
    switch (st) {
    case USTORE_OK:
        return "ok";
    case USTORE_NOT_FOUND:
        return "not_found";
    case USTORE_EXISTS:
        return "exists";
    case USTORE_INVALID:
        return "invalid";
    case USTORE_UNAVAILABLE:
        return "unavailable";
    case USTORE_FAILED:
        return "failed";
    }
    return "unknown";
}

int ustore_username_valid(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > USTORE_USERNAME_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        int ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                 c == '.' || c == '_' || c == '@' || c == '-';
        if (!ok)
            return 0;
    }
    return 1;
}

int ustore_policy_valid(const char *s)
{
    return strcmp(s, "manual") == 0 || strcmp(s, "lww") == 0;
}

static int user_id_valid(const char *s)
{
    if (strlen(s) != USTORE_USER_ID_LEN)
        return 0;
    for (const char *p = s; *p; p++) {
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
            return 0;
    }
    return 1;
}

static int64_t wall_ms(void)
{
    return util_wall_ns() / 1000000;
}

/* Maps a driver error to a status, logging what is not a plain outcome. */
static ustore_status fail(ustore *us, const char *what, const bson_error_t *error)
{
    cmongo_error_kind kind = cmongo_classify(error);
    if (kind == CMONGO_DUPLICATE_KEY)
        return USTORE_EXISTS;
    clog_field f[] = {clog_str("op", what), clog_str("error", error->message),
                      clog_str("kind", cmongo_error_kind_name(kind))};
    clog_emit(us->log, CLOG_WARN, "userstore: mongodb call failed", f, 3);
    return kind == CMONGO_UNAVAILABLE ? USTORE_UNAVAILABLE : USTORE_FAILED;
}

/* A string field of doc into out (truncated to size); "" when absent. */
static void copy_str(const bson_t *doc, const char *key, char *out, size_t size)
{
    bson_iter_t it;
    out[0] = '\0';
    if (bson_iter_init_find(&it, doc, key) && BSON_ITER_HOLDS_UTF8(&it)) {
        uint32_t len = 0;
        const char *s = bson_iter_utf8(&it, &len);
        size_t n = len < size - 1 ? len : size - 1;
        memcpy(out, s, n);
        out[n] = '\0';
    }
}

static int64_t get_time_ms(const bson_t *doc, const char *key)
{
    bson_iter_t it;
    if (bson_iter_init_find(&it, doc, key) && BSON_ITER_HOLDS_DATE_TIME(&it))
        return bson_iter_date_time(&it);
    return 0;
}

static int64_t get_int(const bson_t *doc, const char *key)
{
    bson_iter_t it;
    if (bson_iter_init_find(&it, doc, key) &&
        (BSON_ITER_HOLDS_INT32(&it) || BSON_ITER_HOLDS_INT64(&it) || BSON_ITER_HOLDS_DOUBLE(&it)))
        return bson_iter_as_int64(&it);
    return 0;
}

int ustore_ensure_indexes(ustore *us, char *err, size_t err_size)
{
    struct {
        const char *collection, *field, *name;
        bool unique;
    } idx[] = {
        {"users", "username", "username_unique", true},
        {"permissions", "user_id", "user_id", false},
        {"permissions", "doc_id", "doc_id", false},
    };
    for (size_t i = 0; i < sizeof idx / sizeof idx[0]; i++) {
        bson_t keys = BSON_INITIALIZER;
        BSON_APPEND_INT32(&keys, idx[i].field, 1);
        bson_error_t error;
        int rc = cmongo_ensure_index(us->mongo, idx[i].collection, &keys, idx[i].name,
                                     idx[i].unique, &error);
        bson_destroy(&keys);
        if (rc != 0) {
            snprintf(err, err_size, "index %s.%s: %s", idx[i].collection, idx[i].name,
                     error.message);
            return -1;
        }
    }
    return 0;
}

/* Runs find_one on collection with filter; USTORE_OK copies the document to
 * *found (caller destroys), USTORE_NOT_FOUND leaves it untouched. */
static ustore_status find_one(ustore *us, const char *collection, const bson_t *filter,
                              bson_t *found)
{
    mongoc_client_t *client = cmongo_acquire(us->mongo);
    mongoc_collection_t *coll = cmongo_collection(us->mongo, client, collection);
    bson_t opts = BSON_INITIALIZER;
    BSON_APPEND_INT64(&opts, "limit", 1);
    mongoc_cursor_t *cur = mongoc_collection_find_with_opts(coll, filter, &opts, NULL);
    const bson_t *doc = NULL;
    ustore_status st = USTORE_NOT_FOUND;
    if (mongoc_cursor_next(cur, &doc)) {
        bson_copy_to(doc, found);
        st = USTORE_OK;
    } else {
        bson_error_t error;
        if (mongoc_cursor_error(cur, &error))
            st = fail(us, collection, &error);
    }
    mongoc_cursor_destroy(cur);
    bson_destroy(&opts);
    mongoc_collection_destroy(coll);
    cmongo_release(us->mongo, client);
    return st;
}

static ustore_status insert_one(ustore *us, const char *collection, const bson_t *doc)
{
    mongoc_client_t *client = cmongo_acquire(us->mongo);
    mongoc_collection_t *coll = cmongo_collection(us->mongo, client, collection);
    bson_error_t error;
    ustore_status st = USTORE_OK;
    if (!mongoc_collection_insert_one(coll, doc, NULL, NULL, &error))
        st = fail(us, collection, &error);
    mongoc_collection_destroy(coll);
    cmongo_release(us->mongo, client);
    return st;
}

static void user_from_bson(const bson_t *doc, ustore_user *out)
{
    memset(out, 0, sizeof *out);
    copy_str(doc, "_id", out->id, sizeof out->id);
    copy_str(doc, "username", out->username, sizeof out->username);
    copy_str(doc, "name", out->name, sizeof out->name);
    copy_str(doc, "password_hash", out->password_hash, sizeof out->password_hash);
    out->created_at_ms = get_time_ms(doc, "created_at");
}

ustore_status ustore_user_create(ustore *us, const char *username, const char *password_hash,
                                 const char *name, ustore_user *out)
{
    if (!ustore_username_valid(username) || !name || strlen(name) > USTORE_NAME_MAX ||
        !bson_utf8_validate(name, strlen(name), false) || !password_hash ||
        strlen(password_hash) >= AUTHPW_HASH_MAX)
        return USTORE_INVALID;
    ustore_user user;
    memset(&user, 0, sizeof user);
    unsigned char raw[USTORE_USER_ID_LEN / 2];
    randombytes_buf(raw, sizeof raw);
    sodium_bin2hex(user.id, sizeof user.id, raw, sizeof raw);
    snprintf(user.username, sizeof user.username, "%s", username);
    snprintf(user.name, sizeof user.name, "%s", name);
    snprintf(user.password_hash, sizeof user.password_hash, "%s", password_hash);
    user.created_at_ms = wall_ms();

    bson_t doc = BSON_INITIALIZER;
    BSON_APPEND_UTF8(&doc, "_id", user.id);
    BSON_APPEND_UTF8(&doc, "username", user.username);
    BSON_APPEND_UTF8(&doc, "password_hash", user.password_hash);
    BSON_APPEND_UTF8(&doc, "name", user.name);
    BSON_APPEND_DATE_TIME(&doc, "created_at", user.created_at_ms);
    ustore_status st = insert_one(us, "users", &doc);
    bson_destroy(&doc);
    if (st == USTORE_OK && out)
        *out = user;
    return st;
}

static ustore_status user_by(ustore *us, const char *field, const char *value, ustore_user *out)
{
    bson_t filter = BSON_INITIALIZER;
    BSON_APPEND_UTF8(&filter, field, value);
    bson_t found;
    ustore_status st = find_one(us, "users", &filter, &found);
    bson_destroy(&filter);
    if (st == USTORE_OK) {
        user_from_bson(&found, out);
        bson_destroy(&found);
    }
    return st;
}

ustore_status ustore_user_by_name(ustore *us, const char *username, ustore_user *out)
{
    if (!ustore_username_valid(username))
        return USTORE_NOT_FOUND;
    return user_by(us, "username", username, out);
}

ustore_status ustore_user_by_id(ustore *us, const char *user_id, ustore_user *out)
{
    if (!user_id_valid(user_id))
        return USTORE_NOT_FOUND;
    return user_by(us, "_id", user_id, out);
}

/* update_one(filter, update); USTORE_NOT_FOUND when nothing matched and
 * upsert is off. */
static ustore_status update_one(ustore *us, const char *collection, const bson_t *filter,
                                const bson_t *update, bool upsert)
{
    mongoc_client_t *client = cmongo_acquire(us->mongo);
    mongoc_collection_t *coll = cmongo_collection(us->mongo, client, collection);
    bson_t opts = BSON_INITIALIZER;
    BSON_APPEND_BOOL(&opts, "upsert", upsert);
    bson_t reply;
    bson_error_t error;
    ustore_status st = USTORE_OK;
    if (!mongoc_collection_update_one(coll, filter, update, &opts, &reply, &error)) {
        st = fail(us, collection, &error);
    } else if (!upsert && get_int(&reply, "matchedCount") == 0) {
        st = USTORE_NOT_FOUND;
    }
    bson_destroy(&reply);
    bson_destroy(&opts);
    mongoc_collection_destroy(coll);
    cmongo_release(us->mongo, client);
    return st;
}

ustore_status ustore_user_set_password_hash(ustore *us, const char *user_id, const char *hash)
{
    if (!user_id_valid(user_id) || strlen(hash) >= AUTHPW_HASH_MAX)
        return USTORE_INVALID;
    bson_t filter = BSON_INITIALIZER;
    BSON_APPEND_UTF8(&filter, "_id", user_id);
    bson_t update = BSON_INITIALIZER, set;
    BSON_APPEND_DOCUMENT_BEGIN(&update, "$set", &set);
    BSON_APPEND_UTF8(&set, "password_hash", hash);
    bson_append_document_end(&update, &set);
    ustore_status st = update_one(us, "users", &filter, &update, false);
    bson_destroy(&update);
    bson_destroy(&filter);
    return st;
}

/* Runs find(filter, sort) on collection and hands every document to fn. */
typedef void (*each_fn)(void *ctx, const bson_t *doc);
static ustore_status find_each(ustore *us, const char *collection, const bson_t *filter,
                               const char *sort_field, each_fn fn, void *ctx)
{
    mongoc_client_t *client = cmongo_acquire(us->mongo);
    mongoc_collection_t *coll = cmongo_collection(us->mongo, client, collection);
    bson_t opts = BSON_INITIALIZER, sort;
    BSON_APPEND_DOCUMENT_BEGIN(&opts, "sort", &sort);
    BSON_APPEND_INT32(&sort, sort_field, 1);
    bson_append_document_end(&opts, &sort);
    mongoc_cursor_t *cur = mongoc_collection_find_with_opts(coll, filter, &opts, NULL);
    const bson_t *doc = NULL;
    while (mongoc_cursor_next(cur, &doc))
        fn(ctx, doc);
    bson_error_t error;
    ustore_status st = USTORE_OK;
    if (mongoc_cursor_error(cur, &error))
        st = fail(us, collection, &error);
    mongoc_cursor_destroy(cur);
    bson_destroy(&opts);
    mongoc_collection_destroy(coll);
    cmongo_release(us->mongo, client);
    return st;
}

typedef struct user_each_ctx {
    ustore_user_fn fn;
    void *ctx;
} user_each_ctx;

static void user_each(void *ctx, const bson_t *doc)
{
    user_each_ctx *c = ctx;
    ustore_user user;
    user_from_bson(doc, &user);
    c->fn(c->ctx, &user);
}

ustore_status ustore_user_list(ustore *us, ustore_user_fn fn, void *ctx)
{
    bson_t filter = BSON_INITIALIZER;
    user_each_ctx c = {fn, ctx};
    ustore_status st = find_each(us, "users", &filter, "username", user_each, &c);
    bson_destroy(&filter);
    return st;
}

static void doc_from_bson(const bson_t *b, ustore_doc *out)
{
    memset(out, 0, sizeof *out);
    copy_str(b, "_id", out->id, sizeof out->id);
    copy_str(b, "title", out->title, sizeof out->title);
    copy_str(b, "owner", out->owner, sizeof out->owner);
    copy_str(b, "item_policy", out->item_policy, sizeof out->item_policy);
    out->version = get_int(b, "version");
    out->created_at_ms = get_time_ms(b, "created_at");
    out->updated_at_ms = get_time_ms(b, "updated_at");
}

ustore_status ustore_doc_create(ustore *us, ustore_doc *doc)
{
    if (!wsframe_doc_id_valid(doc->id, strlen(doc->id)) || !user_id_valid(doc->owner) ||
        !ustore_policy_valid(doc->item_policy) ||
        !bson_utf8_validate(doc->title, strlen(doc->title), false))
        return USTORE_INVALID;
    doc->version = 0;
    doc->created_at_ms = doc->updated_at_ms = wall_ms();
    /* An empty Yjs document: no structs (varUint 0), empty delete set
     * (varUint 0); its state vector is one varUint 0. */
    static const uint8_t empty_update[] = {0, 0};
    static const uint8_t empty_sv[] = {0};

    bson_t b = BSON_INITIALIZER;
    BSON_APPEND_UTF8(&b, "_id", doc->id);
    BSON_APPEND_UTF8(&b, "title", doc->title);
    BSON_APPEND_UTF8(&b, "owner", doc->owner);
    BSON_APPEND_DATE_TIME(&b, "created_at", doc->created_at_ms);
    BSON_APPEND_UTF8(&b, "item_policy", doc->item_policy);
    BSON_APPEND_INT64(&b, "version", 0);
    BSON_APPEND_BINARY(&b, "state_vector", BSON_SUBTYPE_BINARY, empty_sv, sizeof empty_sv);
    BSON_APPEND_DATE_TIME(&b, "updated_at", doc->updated_at_ms);
    ustore_status st = insert_one(us, "documents", &b);
    bson_destroy(&b);
    int repair_only = 0;
    if (st == USTORE_EXISTS) {
        /* A create retried after a half failure (document stored, permission
         * not) must be repairable by the same owner: finish the writes, then
         * still answer EXISTS. Anyone else just gets EXISTS. */
        ustore_doc existing;
        if (ustore_doc_get(us, doc->id, &existing) != USTORE_OK ||
            strcmp(existing.owner, doc->owner) != 0)
            return USTORE_EXISTS;
        *doc = existing;
        repair_only = 1;
    } else if (st != USTORE_OK) {
        return st;
    }

    st = ustore_permission_set(us, doc->id, doc->owner, USTORE_ROLE_OWNER, doc->owner);
    if (st != USTORE_OK)
        return st;

    char vid[USTORE_DOC_ID_MAX + 8];
    snprintf(vid, sizeof vid, "%s/0", doc->id);
    bson_t v = BSON_INITIALIZER;
    BSON_APPEND_UTF8(&v, "_id", vid);
    BSON_APPEND_UTF8(&v, "doc_id", doc->id);
    BSON_APPEND_INT64(&v, "version", 0);
    BSON_APPEND_BINARY(&v, "state", BSON_SUBTYPE_BINARY, empty_update, sizeof empty_update);
    BSON_APPEND_BINARY(&v, "state_vector", BSON_SUBTYPE_BINARY, empty_sv, sizeof empty_sv);
    bson_t items;
    BSON_APPEND_ARRAY_BEGIN(&v, "items", &items);
    bson_append_array_end(&v, &items);
    BSON_APPEND_INT32(&v, "partition", -1);
    BSON_APPEND_INT64(&v, "offset", -1);
    BSON_APPEND_DATE_TIME(&v, "created_at", doc->created_at_ms);
    st = insert_one(us, "document_versions", &v);
    bson_destroy(&v);
    if (st == USTORE_EXISTS)
        st = USTORE_OK;
    return st == USTORE_OK && repair_only ? USTORE_EXISTS : st;
}

ustore_status ustore_doc_get(ustore *us, const char *doc_id, ustore_doc *out)
{
    if (!wsframe_doc_id_valid(doc_id, strlen(doc_id)))
        return USTORE_NOT_FOUND;
    bson_t filter = BSON_INITIALIZER;
    BSON_APPEND_UTF8(&filter, "_id", doc_id);
    bson_t found;
    ustore_status st = find_one(us, "documents", &filter, &found);
    bson_destroy(&filter);
    if (st == USTORE_OK) {
        doc_from_bson(&found, out);
        bson_destroy(&found);
    }
    return st;
}

static void permission_from_bson(const bson_t *b, ustore_permission *out)
{
    memset(out, 0, sizeof *out);
    copy_str(b, "doc_id", out->doc_id, sizeof out->doc_id);
    copy_str(b, "user_id", out->user_id, sizeof out->user_id);
    copy_str(b, "granted_by", out->granted_by, sizeof out->granted_by);
    char role[16];
    copy_str(b, "role", role, sizeof role);
    if (ustore_role_parse(role, &out->role) != 0)
        out->role = USTORE_ROLE_NONE;
    out->granted_at_ms = get_time_ms(b, "granted_at");
}

typedef struct doc_list_ctx {
    ustore *us;
    ustore_doc_fn fn;
    void *ctx;
    ustore_permission *perms;
    size_t count, cap;
    int oom;
} doc_list_ctx;

static void collect_permission(void *ctx, const bson_t *doc)
{
    doc_list_ctx *c = ctx;
    if (c->oom)
        return;
    if (c->count == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 16;
        ustore_permission *p = realloc(c->perms, cap * sizeof *p);
        if (!p) {
            c->oom = 1;
            return;
        }
        c->perms = p;
        c->cap = cap;
    }
    permission_from_bson(doc, &c->perms[c->count]);
    if (c->perms[c->count].role != USTORE_ROLE_NONE)
        c->count++;
}

ustore_status ustore_doc_list_for_user(ustore *us, const char *user_id, ustore_doc_fn fn, void *ctx)
{
    bson_t filter = BSON_INITIALIZER;
    BSON_APPEND_UTF8(&filter, "user_id", user_id);
    doc_list_ctx c = {us, fn, ctx, NULL, 0, 0, 0};
    ustore_status st = find_each(us, "permissions", &filter, "doc_id", collect_permission, &c);
    bson_destroy(&filter);
    if (st == USTORE_OK && c.oom)
        st = USTORE_FAILED;
    /* The documents are read after the cursor is closed, so one pooled
     * client at a time is enough. */
    for (size_t i = 0; st == USTORE_OK && i < c.count; i++) {
        ustore_doc doc;
        ustore_status ds = ustore_doc_get(us, c.perms[i].doc_id, &doc);
        if (ds == USTORE_OK)
            fn(ctx, &doc, c.perms[i].role);
        else if (ds != USTORE_NOT_FOUND)
            st = ds;
    }
    free(c.perms);
    return st;
}

ustore_status ustore_permission_set(ustore *us, const char *doc_id, const char *user_id,
                                    ustore_role role, const char *granted_by)
{
    if (!wsframe_doc_id_valid(doc_id, strlen(doc_id)) || !user_id_valid(user_id) ||
        !user_id_valid(granted_by))
        return USTORE_INVALID;
    char id[USTORE_DOC_ID_MAX + USTORE_USER_ID_LEN + 2];
    snprintf(id, sizeof id, "%s/%s", doc_id, user_id);
    bson_t filter = BSON_INITIALIZER;
    BSON_APPEND_UTF8(&filter, "_id", id);
    ustore_status st;
    if (role == USTORE_ROLE_NONE) {
        mongoc_client_t *client = cmongo_acquire(us->mongo);
        mongoc_collection_t *coll = cmongo_collection(us->mongo, client, "permissions");
        bson_error_t error;
        st = USTORE_OK;
        if (!mongoc_collection_delete_one(coll, &filter, NULL, NULL, &error))
            st = fail(us, "permissions", &error);
        mongoc_collection_destroy(coll);
        cmongo_release(us->mongo, client);
    } else {
        bson_t update = BSON_INITIALIZER, set;
        BSON_APPEND_DOCUMENT_BEGIN(&update, "$set", &set);
        BSON_APPEND_UTF8(&set, "doc_id", doc_id);
        BSON_APPEND_UTF8(&set, "user_id", user_id);
        BSON_APPEND_UTF8(&set, "role", ustore_role_name(role));
        BSON_APPEND_UTF8(&set, "granted_by", granted_by);
        BSON_APPEND_DATE_TIME(&set, "granted_at", wall_ms());
        bson_append_document_end(&update, &set);
        st = update_one(us, "permissions", &filter, &update, true);
        bson_destroy(&update);
    }
    bson_destroy(&filter);
    return st;
}

ustore_status ustore_permission_get(ustore *us, const char *doc_id, const char *user_id,
                                    ustore_role *out)
{
    *out = USTORE_ROLE_NONE;
    if (!wsframe_doc_id_valid(doc_id, strlen(doc_id)) || !user_id_valid(user_id))
        return USTORE_OK;
    char id[USTORE_DOC_ID_MAX + USTORE_USER_ID_LEN + 2];
    snprintf(id, sizeof id, "%s/%s", doc_id, user_id);
    bson_t filter = BSON_INITIALIZER;
    BSON_APPEND_UTF8(&filter, "_id", id);
    bson_t found;
    ustore_status st = find_one(us, "permissions", &filter, &found);
    bson_destroy(&filter);
    if (st == USTORE_NOT_FOUND)
        return USTORE_OK;
    if (st == USTORE_OK) {
        ustore_permission perm;
        permission_from_bson(&found, &perm);
        *out = perm.role;
        bson_destroy(&found);
    }
    return st;
}

typedef struct perm_each_ctx {
    ustore_permission_fn fn;
    void *ctx;
} perm_each_ctx;

static void perm_each(void *ctx, const bson_t *doc)
{
    perm_each_ctx *c = ctx;
    ustore_permission perm;
    permission_from_bson(doc, &perm);
    if (perm.role != USTORE_ROLE_NONE)
        c->fn(c->ctx, &perm);
}

ustore_status ustore_permission_list(ustore *us, const char *doc_id, ustore_permission_fn fn,
                                     void *ctx)
{
    bson_t filter = BSON_INITIALIZER;
    BSON_APPEND_UTF8(&filter, "doc_id", doc_id);
    perm_each_ctx c = {fn, ctx};
    ustore_status st = find_each(us, "permissions", &filter, "user_id", perm_each, &c);
    bson_destroy(&filter);
    return st;
}
