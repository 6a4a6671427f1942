/*
 * doc_access: a user's role on a document, as the WebSocket endpoints check
 * it before an upgrade (ingest's write endpoint, the broadcaster's read
 * endpoint), looked up through common/userstore and cached per (document,
 * user) for a short time.
 *
 * The lookup is a MongoDB read on the service thread: libwebsockets 4.1
 * decides an upgrade inside LWS_CALLBACK_HTTP_CONFIRM_UPGRADE and cannot
 * defer it, and the protocol wants 403/404 before the upgrade. So a miss
 * costs one indexed read by _id (two when the user has no role), bounded by
 * the MongoDB pool's timeouts, and the cache makes a reconnect storm (a node
 * restarted, a thousand clients back at once) or many clients of one
 * document cost one read per (document, user) instead of one per
 * connection. The price: a right granted or revoked applies to new
 * connections within the TTL (docs/decisions.md). Only definite answers are
 * cached, never "unavailable". Used on one thread. Prefix: docaccess_.
 */
#ifndef COMMON_DOC_ACCESS_H
#define COMMON_DOC_ACCESS_H

#include <stdint.h>

#include "common/userstore.h"

typedef enum docaccess_status {
    DOCACCESS_OK,          /* *role is the user's role (USTORE_ROLE_NONE: none, a 403) */
    DOCACCESS_NOT_FOUND,   /* no such document: 404 */
    DOCACCESS_UNAVAILABLE, /* MongoDB did not answer: 503 */
} docaccess_status;

typedef struct docaccess docaccess;

/* A checker over store (borrowed). ttl_ms 0 disables the cache. NULL when
 * out of memory. Free with docaccess_free. */
docaccess *docaccess_new(ustore *store, int64_t ttl_ms);
void docaccess_free(docaccess *a);

/* The role of user_id on doc_id, in *role when DOCACCESS_OK. now_ms is a
 * monotonic clock. */
docaccess_status docaccess_role(docaccess *a, const char *doc_id, const char *user_id,
                                int64_t now_ms, ustore_role *role);

/* Forgets expired answers (call now and then). */
void docaccess_expire(docaccess *a, int64_t now_ms);

#endif
