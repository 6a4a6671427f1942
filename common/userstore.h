/*
 * userstore: users, per-document permissions and document records in
 * MongoDB, as docs/storage.md lays them out (collections `users`,
 * `permissions`, `documents`, and the version-0 entry of
 * `document_versions`). Shared by ingest (login, document API, the
 * permission check of every connection), the broadcaster (permission check)
 * and the admin CLI (tools/collab-admin).
 *
 * Records are plain structs with fixed-size strings, so nothing returned
 * needs freeing; list calls hand each record to a callback. Every call takes
 * a client from the cmongo pool for its duration: thread-safe, blocking
 * (a round trip or two to MongoDB). Prefix: ustore_.
 */
#ifndef COMMON_USERSTORE_H
#define COMMON_USERSTORE_H

#include <stddef.h>
#include <stdint.h>

#include "common/auth_password.h"
#include "common/log.h"
#include "common/mongo.h"

#define USTORE_USER_ID_LEN  32  /* 16 random bytes in hex */
#define USTORE_USERNAME_MAX 64  /* [A-Za-z0-9._@-], 1..64 bytes */
#define USTORE_NAME_MAX     128 /* display name, UTF-8, 0..128 bytes */
#define USTORE_TITLE_MAX    256 /* document title, UTF-8, 0..256 bytes */
#define USTORE_DOC_ID_MAX   128 /* docs/protocol.md: [A-Za-z0-9._~-], 1..128 */

typedef enum ustore_status {
    USTORE_OK = 0,
    USTORE_NOT_FOUND,   /* no such user / document / permission */
    USTORE_EXISTS,      /* the username or document id is taken */
    USTORE_INVALID,     /* an argument breaks the rules above */
    USTORE_UNAVAILABLE, /* MongoDB unreachable: retry later */
    USTORE_FAILED,      /* any other MongoDB error (logged) */
} ustore_status;

/* Ordered: a higher role includes the rights of the lower ones. */
typedef enum ustore_role {
    USTORE_ROLE_NONE = 0,
    USTORE_ROLE_VIEWER = 1,
    USTORE_ROLE_EDITOR = 2,
    USTORE_ROLE_OWNER = 3,
} ustore_role;

typedef struct ustore_user {
    char id[USTORE_USER_ID_LEN + 1];
    char username[USTORE_USERNAME_MAX + 1];
    char name[USTORE_NAME_MAX + 1];
    char password_hash[AUTHPW_HASH_MAX];
    int64_t created_at_ms; /* Unix epoch */
} ustore_user;

typedef struct ustore_doc {
    char id[USTORE_DOC_ID_MAX + 1];
    char title[USTORE_TITLE_MAX + 1];
    char owner[USTORE_USER_ID_LEN + 1];
    char item_policy[8]; /* "manual" or "lww" */
    int64_t version;     /* merged ops so far (advanced by the processor) */
    int64_t created_at_ms;
    int64_t updated_at_ms;
} ustore_doc;

typedef struct ustore_permission {
    char doc_id[USTORE_DOC_ID_MAX + 1];
    char user_id[USTORE_USER_ID_LEN + 1];
    ustore_role role;
    char granted_by[USTORE_USER_ID_LEN + 1];
    int64_t granted_at_ms;
} ustore_permission;

typedef struct ustore ustore;

/* A store over m (borrowed, must outlive it); log borrowed. NULL when out of
 * memory. Free with ustore_free. */
ustore *ustore_new(cmongo *m, clog *log);
void ustore_free(ustore *us);

/* Creates the indexes of docs/storage.md (unique users.username,
 * permissions.user_id, permissions.doc_id). Idempotent. 0 or -1 (err). */
int ustore_ensure_indexes(ustore *us, char *err, size_t err_size);

/* "owner"/"editor"/"viewer" <-> role ("none" for USTORE_ROLE_NONE). */
const char *ustore_role_name(ustore_role role);
int ustore_role_parse(const char *name, ustore_role *out); /* 0 or -1 */

const char *ustore_status_name(ustore_status st);

/* Validation rules, exposed for the API and the CLI. */
int ustore_username_valid(const char *s);
int ustore_policy_valid(const char *s);

/* Creates a user with a fresh random id; *out (may be NULL) receives the
 * record. USTORE_EXISTS when the username is taken. */
ustore_status ustore_user_create(ustore *us, const char *username, const char *password_hash,
                                 const char *name, ustore_user *out);
ustore_status ustore_user_by_name(ustore *us, const char *username, ustore_user *out);
ustore_status ustore_user_by_id(ustore *us, const char *user_id, ustore_user *out);
ustore_status ustore_user_set_password_hash(ustore *us, const char *user_id, const char *hash);

typedef void (*ustore_user_fn)(void *ctx, const ustore_user *user);
ustore_status ustore_user_list(ustore *us, ustore_user_fn fn, void *ctx);

/*
 * Creates document doc->id (title, owner, item_policy as given; version 0,
 * an empty state vector, created/updated now), its version-0 entry in
 * document_versions (the empty Yjs update) and the owner's permission.
 * USTORE_EXISTS when the id is taken. On USTORE_OK, *doc has the timestamps.
 */
ustore_status ustore_doc_create(ustore *us, ustore_doc *doc);
ustore_status ustore_doc_get(ustore *us, const char *doc_id, ustore_doc *out);

/* Every document user_id has a role on, with that role. */
typedef void (*ustore_doc_fn)(void *ctx, const ustore_doc *doc, ustore_role role);
ustore_status ustore_doc_list_for_user(ustore *us, const char *user_id, ustore_doc_fn fn,
                                       void *ctx);

/* Grants role (USTORE_ROLE_NONE revokes) on doc_id to user_id. */
ustore_status ustore_permission_set(ustore *us, const char *doc_id, const char *user_id,
                                    ustore_role role, const char *granted_by);
/* The role of user_id on doc_id; USTORE_OK with USTORE_ROLE_NONE when none. */
ustore_status ustore_permission_get(ustore *us, const char *doc_id, const char *user_id,
                                    ustore_role *out);

typedef void (*ustore_permission_fn)(void *ctx, const ustore_permission *perm);
ustore_status ustore_permission_list(ustore *us, const char *doc_id, ustore_permission_fn fn,
                                     void *ctx);

#endif
