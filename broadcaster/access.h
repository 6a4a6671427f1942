/*
 * access: who may read a document. Looks up the caller's role (owner,
 * editor, viewer may read) through common/userstore and caches the answer
 * per (document, user) for a short time.
 *
 * The lookup is the one MongoDB read on the service thread: libwebsockets
 * 4.1 decides an upgrade inside LWS_CALLBACK_HTTP_CONFIRM_UPGRADE and
 * cannot defer it, and the protocol wants 403/404 before the upgrade. So a
 * miss costs one indexed read by _id (two for a refusal), bounded by the
 * MongoDB pool's timeouts, and the cache makes reconnect storms and many
 * readers of one document cost one (see docs/decisions.md). Used on the
 * service thread only. Prefix: bcaccess_.
 */
#ifndef BROADCASTER_ACCESS_H
#define BROADCASTER_ACCESS_H

#include <stdint.h>

#include "common/userstore.h"

typedef enum bcaccess_result {
    BCACCESS_ALLOWED,
    BCACCESS_FORBIDDEN,   /* the user has no role on the document: 403 */
    BCACCESS_NOT_FOUND,   /* no such document: 404 */
    BCACCESS_UNAVAILABLE, /* MongoDB did not answer: 503 */
} bcaccess_result;

typedef struct bcaccess bcaccess;

/* A checker over store (borrowed). ttl_ms 0 disables the cache. NULL when
 * out of memory. */
bcaccess *bcaccess_new(ustore *store, int64_t ttl_ms);
void bcaccess_free(bcaccess *a);

/* May user_id read doc_id? now_ms is a monotonic clock. */
bcaccess_result bcaccess_check(bcaccess *a, const char *doc_id, const char *user_id,
                               int64_t now_ms);

/* Forgets expired answers (call now and then). */
void bcaccess_expire(bcaccess *a, int64_t now_ms);

#endif
