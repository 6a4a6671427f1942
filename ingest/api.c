/*
 * api: request routing, JSON in and out (jansson), and the handlers of the
 * HTTP API over userstore, auth_password and auth_token. See api.h and
 * docs/api.md.
 */
#include "ingest/api.h"

#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "common/ws_frame.h"

struct ingest_api {
    ustore *store;
    const struct authtoken_keys *keys;
    struct authpw_params params;
    /* Verified against when the user does not exist, so that a login takes
     * the same time either way (docs/api.md). */
    char dummy_hash[AUTHPW_HASH_MAX];
    clog *log;
    ingest_metrics *metrics;
};

ingest_api *ingest_api_new(ustore *store, const struct authtoken_keys *keys,
                           struct authpw_params params, clog *log, ingest_metrics *m, char *err,
                           size_t err_size)
{
    ingest_api *api = calloc(1, sizeof *api);
    if (!api) {
        snprintf(err, err_size, "out of memory");
        return NULL;
    }
    api->store = store;
    api->keys = keys;
    api->params = params;
    api->log = log;
    api->metrics = m;
    unsigned char random_password[32];
    randombytes_buf(random_password, sizeof random_password);
    enum authpw_status st = authpw_hash(&params, (const char *)random_password,
                                        sizeof random_password, api->dummy_hash);
    if (st != AUTHPW_OK) {
        snprintf(err, err_size, "cannot make the dummy password hash: %s", authpw_status_name(st));
        free(api);
        return NULL;
    }
    return api;
}

void ingest_api_free(ingest_api *api)
{
    free(api);
}

void ingest_api_request_clear(ingest_api_request *req)
{
    free(req->body);
    req->body = NULL;
    req->body_len = 0;
}

void ingest_api_response_clear(ingest_api_response *resp)
{
    free(resp->body);
    resp->body = NULL;
    resp->body_len = 0;
}

void ingest_api_error(ingest_api_response *resp, unsigned int status, const char *code,
                      const char *message)
{
    free(resp->body);
    resp->status = status;
    resp->body = wshttp_error_json(code, message, &resp->body_len);
    if (!resp->body)
        resp->body_len = 0;
}

/* Takes ownership of root (decref'd here). */
static void respond_json(ingest_api_response *resp, unsigned int status, json_t *root)
{
    char *text = root ? json_dumps(root, JSON_COMPACT) : NULL;
    json_decref(root);
    if (!text) {
        ingest_api_error(resp, 500, "internal", "out of memory");
        return;
    }
    free(resp->body);
    resp->status = status;
    resp->body = text;
    resp->body_len = strlen(text);
}

static void respond_store_error(ingest_api_response *resp, ustore_status st)
{
    if (st == USTORE_UNAVAILABLE)
        ingest_api_error(resp, 503, "unavailable", "the database is unavailable, retry later");
    else
        ingest_api_error(resp, 500, "internal", "database error");
}

/* The body as a JSON object, or NULL after answering 400. */
static json_t *parse_body(const ingest_api_request *req, ingest_api_response *resp)
{
    if (!req->body || req->body_len == 0) {
        ingest_api_error(resp, 400, "invalid_json", "the request needs a JSON object body");
        return NULL;
    }
    json_error_t jerr;
    json_t *root = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root || !json_is_object(root)) {
        json_decref(root);
        ingest_api_error(resp, 400, "invalid_json", "the body is not a JSON object");
        return NULL;
    }
    return root;
}

/* A string member; NULL when absent; *bad set when present but no string. */
static const char *member_string(json_t *obj, const char *key, int *bad)
{
    json_t *v = json_object_get(obj, key);
    if (!v || json_is_null(v))
        return NULL;
    if (!json_is_string(v)) {
        *bad = 1;
        return NULL;
    }
    return json_string_value(v);
}

static json_t *iso_time(int64_t ms)
{
    return json_integer(ms);
}

static json_t *doc_json(const ustore_doc *doc, ustore_role role)
{
    return json_pack("{s:s,s:s,s:s,s:s,s:I,s:o,s:o,s:s}", "id", doc->id, "title", doc->title,
                     "owner", doc->owner, "item_policy", doc->item_policy, "version",
                     (json_int_t)doc->version, "created_at_ms", iso_time(doc->created_at_ms),
                     "updated_at_ms", iso_time(doc->updated_at_ms), "role", ustore_role_name(role));
}

static void handle_login(ingest_api *api, const ingest_api_request *req, ingest_api_response *resp)
{
    json_t *root = parse_body(req, resp);
    if (!root)
        return;
    int bad = 0;
    const char *username = member_string(root, "username", &bad);
    json_t *pw = json_object_get(root, "password");
    if (bad || !username || !pw || !json_is_string(pw)) {
        json_decref(root);
        ingest_api_error(resp, 400, "bad_request", "username and password (strings) are required");
        return;
    }
    const char *password = json_string_value(pw);
    size_t password_len = json_string_length(pw);

    ustore_user user;
    ustore_status st = ustore_user_by_name(api->store, username, &user);
    if (st != USTORE_OK && st != USTORE_NOT_FOUND) {
        json_decref(root);
        respond_store_error(resp, st);
        return;
    }
    const char *hash = st == USTORE_OK ? user.password_hash : api->dummy_hash;
    enum authpw_status vs = authpw_verify(hash, password, password_len);
    if (st != USTORE_OK || vs != AUTHPW_OK) {
        json_decref(root);
        ingest_metrics_auth_failure(api->metrics, "invalid_credentials");
        ingest_api_error(resp, 401, "invalid_credentials", "wrong username or password");
        return;
    }
    if (authpw_needs_rehash(user.password_hash, &api->params) == 1) {
        char fresh[AUTHPW_HASH_MAX];
        if (authpw_hash(&api->params, password, password_len, fresh) == AUTHPW_OK &&
            ustore_user_set_password_hash(api->store, user.id, fresh) != USTORE_OK)
            clog_warnf(api->log, "login: could not store the upgraded password hash");
    }
    json_decref(root);

    char *token = NULL;
    struct authtoken_claims claims;
    memset(&claims, 0, sizeof claims);
    int64_t now = util_wall_ns() / 1000000000LL;
    enum authtoken_status ts =
        authtoken_issue(api->keys, user.id, user.name[0] ? user.name : NULL, now, &token, &claims);
    if (ts != AUTHTOKEN_OK) {
        ingest_api_error(resp, 500, "internal", "cannot issue a token");
        return;
    }
    json_t *out = json_pack("{s:s,s:s,s:I,s:I,s:{s:s,s:s,s:s}}", "access_token", token,
                            "token_type", "Bearer", "expires_in", (json_int_t)(claims.exp - now),
                            "expires_at", (json_int_t)claims.exp, "user", "id", user.id, "username",
                            user.username, "name", user.name);
    free(token);
    authtoken_claims_clear(&claims);
    respond_json(resp, 200, out);
}

static void random_doc_id(char *out, size_t size)
{
    unsigned char raw[12];
    randombytes_buf(raw, sizeof raw);
    sodium_bin2hex(out, size, raw, sizeof raw);
}

static void handle_create_document(ingest_api *api, const ingest_api_request *req,
                                   ingest_api_response *resp)
{
    json_t *root = parse_body(req, resp);
    if (!root)
        return;
    int bad = 0;
    const char *id = member_string(root, "id", &bad);
    const char *title = member_string(root, "title", &bad);
    const char *policy = member_string(root, "item_policy", &bad);
    ustore_doc doc;
    memset(&doc, 0, sizeof doc);
    if (bad) {
        json_decref(root);
        ingest_api_error(resp, 400, "bad_request", "id, title and item_policy must be strings");
        return;
    }
    if (id && !wsframe_doc_id_valid(id, strlen(id))) {
        json_decref(root);
        ingest_api_error(resp, 400, "bad_request",
                         "id must be 1-128 characters of [A-Za-z0-9._~-]");
        return;
    }
    if (title && strlen(title) > USTORE_TITLE_MAX) {
        json_decref(root);
        ingest_api_error(resp, 400, "bad_request", "title is longer than 256 bytes");
        return;
    }
    if (policy && !ustore_policy_valid(policy)) {
        json_decref(root);
        ingest_api_error(resp, 400, "bad_request", "item_policy must be \"manual\" or \"lww\"");
        return;
    }
    if (id)
        snprintf(doc.id, sizeof doc.id, "%s", id);
    else
        random_doc_id(doc.id, sizeof doc.id);
    snprintf(doc.title, sizeof doc.title, "%s", title ? title : "");
    snprintf(doc.item_policy, sizeof doc.item_policy, "%s", policy ? policy : "manual");
    snprintf(doc.owner, sizeof doc.owner, "%s", req->user_id);
    json_decref(root);

    ustore_status st = ustore_doc_create(api->store, &doc);
    if (st == USTORE_EXISTS) {
        ingest_api_error(resp, 409, "document_exists", "a document with this id exists");
        return;
    }
    if (st == USTORE_INVALID) {
        ingest_api_error(resp, 400, "bad_request", "invalid document");
        return;
    }
    if (st != USTORE_OK) {
        respond_store_error(resp, st);
        return;
    }
    respond_json(resp, 201, doc_json(&doc, USTORE_ROLE_OWNER));
}

typedef struct list_ctx {
    json_t *array;
    int oom;
} list_ctx;

static void add_doc(void *ctx, const ustore_doc *doc, ustore_role role)
{
    list_ctx *c = ctx;
    json_t *j = doc_json(doc, role);
    if (!j || json_array_append_new(c->array, j) != 0)
        c->oom = 1;
}

static void handle_list_documents(ingest_api *api, const ingest_api_request *req,
                                  ingest_api_response *resp)
{
    list_ctx c = {json_array(), 0};
    if (!c.array) {
        ingest_api_error(resp, 500, "internal", "out of memory");
        return;
    }
    ustore_status st = ustore_doc_list_for_user(api->store, req->user_id, add_doc, &c);
    if (st != USTORE_OK || c.oom) {
        json_decref(c.array);
        if (c.oom)
            ingest_api_error(resp, 500, "internal", "out of memory");
        else
            respond_store_error(resp, st);
        return;
    }
    respond_json(resp, 200, json_pack("{s:o}", "documents", c.array));
}

/* Loads doc_id and the caller's role; answers 404/403/5xx itself and returns
 * -1 when the caller may not see the document. */
static int load_doc(ingest_api *api, const ingest_api_request *req, const char *doc_id,
                    ustore_doc *doc, ustore_role *role, ingest_api_response *resp)
{
    ustore_status st = ustore_doc_get(api->store, doc_id, doc);
    if (st == USTORE_NOT_FOUND) {
        ingest_api_error(resp, 404, "not_found", "no such document");
        return -1;
    }
    if (st == USTORE_OK)
        st = ustore_permission_get(api->store, doc_id, req->user_id, role);
    if (st != USTORE_OK) {
        respond_store_error(resp, st);
        return -1;
    }
    if (*role == USTORE_ROLE_NONE) {
        ingest_api_error(resp, 403, "forbidden", "you have no right on this document");
        return -1;
    }
    return 0;
}

static void handle_get_document(ingest_api *api, const ingest_api_request *req, const char *doc_id,
                                ingest_api_response *resp)
{
    ustore_doc doc;
    ustore_role role;
    if (load_doc(api, req, doc_id, &doc, &role, resp) != 0)
        return;
    respond_json(resp, 200, doc_json(&doc, role));
}

static void add_permission(void *ctx, const ustore_permission *perm)
{
    list_ctx *c = ctx;
    json_t *j = json_pack("{s:s,s:s,s:s,s:I}", "user_id", perm->user_id, "role",
                          ustore_role_name(perm->role), "granted_by", perm->granted_by,
                          "granted_at_ms", (json_int_t)perm->granted_at_ms);
    if (!j || json_array_append_new(c->array, j) != 0)
        c->oom = 1;
}

static void handle_set_permission(ingest_api *api, const ingest_api_request *req,
                                  const char *doc_id, ingest_api_response *resp)
{
    ustore_doc doc;
    ustore_role caller_role;
    if (load_doc(api, req, doc_id, &doc, &caller_role, resp) != 0)
        return;
    if (caller_role != USTORE_ROLE_OWNER) {
        ingest_api_error(resp, 403, "forbidden", "only an owner may change permissions");
        return;
    }
    json_t *root = parse_body(req, resp);
    if (!root)
        return;
    int bad = 0;
    const char *user_id = member_string(root, "user_id", &bad);
    const char *username = member_string(root, "username", &bad);
    const char *role_name = member_string(root, "role", &bad);
    ustore_role role;
    if (bad || (!user_id == !username) || !role_name || ustore_role_parse(role_name, &role) != 0) {
        json_decref(root);
        ingest_api_error(resp, 400, "bad_request",
                         "give user_id or username, and role: owner, editor, viewer or none");
        return;
    }
    ustore_user user;
    ustore_status st = user_id ? ustore_user_by_id(api->store, user_id, &user)
                               : ustore_user_by_name(api->store, username, &user);
    json_decref(root);
    if (st == USTORE_NOT_FOUND) {
        ingest_api_error(resp, 404, "user_not_found", "no such user");
        return;
    }
    if (st != USTORE_OK) {
        respond_store_error(resp, st);
        return;
    }
    if (strcmp(user.id, req->user_id) == 0) {
        /* An owner demoting themselves could leave a document without owner. */
        ingest_api_error(resp, 400, "bad_request", "you cannot change your own role");
        return;
    }
    st = ustore_permission_set(api->store, doc_id, user.id, role, req->user_id);
    if (st != USTORE_OK) {
        respond_store_error(resp, st);
        return;
    }
    list_ctx c = {json_array(), 0};
    if (!c.array) {
        ingest_api_error(resp, 500, "internal", "out of memory");
        return;
    }
    st = ustore_permission_list(api->store, doc_id, add_permission, &c);
    if (st != USTORE_OK || c.oom) {
        json_decref(c.array);
        respond_store_error(resp, st);
        return;
    }
    respond_json(resp, 200, json_pack("{s:s,s:o}", "doc_id", doc_id, "permissions", c.array));
}

int ingest_api_known_path(const char *path)
{
    char id[WSFRAME_DOC_ID_MAX + 1];
    return strcmp(path, "/v1/login") == 0 || strcmp(path, "/v1/documents") == 0 ||
           wshttp_match_doc_path(path, "", id, sizeof id) ||
           wshttp_match_doc_path(path, "/permissions", id, sizeof id);
}

void ingest_api_handle(ingest_api *api, const ingest_api_request *req, ingest_api_response *resp)
{
    memset(resp, 0, sizeof *resp);
    char doc_id[WSFRAME_DOC_ID_MAX + 1];
    if (strcmp(req->path, "/v1/login") == 0) {
        resp->route = "login";
        if (req->method != WSHTTP_POST)
            ingest_api_error(resp, 405, "method_not_allowed", "use POST");
        else
            handle_login(api, req, resp);
        return;
    }
    int is_documents = strcmp(req->path, "/v1/documents") == 0;
    int is_document = wshttp_match_doc_path(req->path, "", doc_id, sizeof doc_id);
    int is_permissions = wshttp_match_doc_path(req->path, "/permissions", doc_id, sizeof doc_id);
    resp->route = is_documents ? "documents" : is_document ? "document" : "permissions";
    if (!is_documents && !is_document && !is_permissions) {
        resp->route = "other";
        ingest_api_error(resp, 404, "not_found", "no such resource");
        return;
    }
    if (!req->authenticated) {
        ingest_api_error(resp, 401, req->auth_reason ? req->auth_reason : "token_missing",
                         "a valid access token is required");
        return;
    }
    if (is_documents && req->method == WSHTTP_POST)
        handle_create_document(api, req, resp);
    else if (is_documents && req->method == WSHTTP_GET)
        handle_list_documents(api, req, resp);
    else if (is_document && req->method == WSHTTP_GET)
        handle_get_document(api, req, doc_id, resp);
    else if (is_permissions && req->method == WSHTTP_PUT)
        handle_set_permission(api, req, doc_id, resp);
    else
        ingest_api_error(resp, 405, "method_not_allowed", "method not allowed on this resource");
}
