/*
 * api: the HTTP API of docs/api.md served by ingest - POST /v1/login,
 * POST /v1/documents, GET /v1/documents, GET /v1/documents/{id},
 * PUT /v1/documents/{id}/permissions - as a function from a request (method,
 * path, body, the authenticated user) to a response (status, JSON body).
 * It blocks (argon2id, MongoDB), so ingest runs it on worker threads
 * (jobs.h), never on the WebSocket thread. Every failure uses the one error
 * shape of common/ws_http.h. Thread-safe: the api object is read-only after
 * creation. Prefix: ingest_api_.
 */
#ifndef INGEST_API_H
#define INGEST_API_H

#include <stddef.h>
#include <stdint.h>

#include "common/auth_password.h"
#include "common/auth_token.h"
#include "common/userstore.h"
#include "common/ws_http.h"
#include "ingest/metrics.h"

/* Request bodies larger than this are refused with 413 payload_too_large. */
#define INGEST_API_MAX_BODY ((size_t)64 * 1024)

typedef struct ingest_api_request {
    wshttp_method method;
    char path[512];
    char *body; /* malloc'd, NUL-terminated; owned by the request */
    size_t body_len;
    /* Authentication was checked on the WebSocket thread: user_id is the
     * token's sub when authenticated, else auth_reason says why not. */
    int authenticated;
    char user_id[USTORE_USER_ID_LEN + 1];
    const char *auth_reason;
} ingest_api_request;

typedef struct ingest_api_response {
    unsigned int status;
    const char *route; /* metric label: "login", "documents", ... */
    char *body;        /* malloc'd JSON; owned by the response */
    size_t body_len;
} ingest_api_response;

typedef struct ingest_api ingest_api;

/* An api over the store and keys (borrowed; keys must be able to issue).
 * NULL with the reason in err (argon2 parameters, no memory). */
ingest_api *ingest_api_new(ustore *store, const struct authtoken_keys *keys,
                           struct authpw_params params, clog *log, ingest_metrics *m, char *err,
                           size_t err_size);
void ingest_api_free(ingest_api *api);

/* Serves one request; fills *resp (release with ingest_api_response_clear). */
void ingest_api_handle(ingest_api *api, const ingest_api_request *req, ingest_api_response *resp);

void ingest_api_request_clear(ingest_api_request *req);
void ingest_api_response_clear(ingest_api_response *resp);

/* Whether a path belongs to the API at all (else 404 before any auth). */
int ingest_api_known_path(const char *path);

/* Fills resp with the error shape. Exposed for the server's own refusals. */
void ingest_api_error(ingest_api_response *resp, unsigned int status, const char *code,
                      const char *message);

#endif
