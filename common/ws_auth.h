/*
 * ws_auth: who is asking, for the HTTP API and the WebSocket endpoints of
 * ingest and the broadcaster. Finds the bearer token of a request in the
 * places docs/protocol.md and docs/api.md allow (query parameter
 * `access_token`, or `token` as Yjs providers send it,
 * `Sec-WebSocket-Protocol: collab.v1, bearer.<jwt>`, or the
 * `Authorization: Bearer <jwt>` header of an HTTP request) and verifies it
 * with auth_token (the configured algorithm, key, issuer and audience).
 * Call from the lws service thread while the request headers are available
 * (LWS_CALLBACK_HTTP, LWS_CALLBACK_HTTP_CONFIRM_UPGRADE). No state.
 * Prefix: wsauth_.
 */
#ifndef COMMON_WS_AUTH_H
#define COMMON_WS_AUTH_H

#include <libwebsockets.h>
#include <stddef.h>
#include <stdint.h>

#include "common/auth_token.h"
#include "common/config.h"

/* The WebSocket subprotocol a client names next to its bearer token. */
#define WSAUTH_SUBPROTOCOL "collab.v1"

typedef enum wsauth_status {
    WSAUTH_OK = 0,
    WSAUTH_NO_TOKEN, /* no token anywhere: 401 token_missing */
    WSAUTH_TOO_LONG, /* longer than AUTHTOKEN_MAX_LEN: 401 token_malformed */
    WSAUTH_INVALID,  /* verification failed: 401, the reason is in token_status */
} wsauth_status;

typedef struct wsauth_result {
    wsauth_status status;
    enum authtoken_status token_status; /* AUTHTOKEN_OK unless status is WSAUTH_INVALID */
    struct authtoken_claims claims;     /* on WSAUTH_OK: release with wsauth_result_clear */
} wsauth_result;

/*
 * Copies the request's bearer token into out (NUL-terminated; size should be
 * AUTHTOKEN_MAX_LEN + 1). The query parameter wins over the subprotocol
 * header, which wins over Authorization. Returns WSAUTH_OK with *len set,
 * WSAUTH_NO_TOKEN or WSAUTH_TOO_LONG.
 */
wsauth_status wsauth_request_token(struct lws *wsi, char *out, size_t size, size_t *len);

/*
 * Finds and verifies the request's token at time now (seconds since the
 * epoch). Fills *res; on WSAUTH_OK res->claims holds sub (the user id) and
 * name, which the caller releases with wsauth_result_clear.
 */
wsauth_status wsauth_authenticate(struct lws *wsi, const struct authtoken_keys *keys, int64_t now,
                                  wsauth_result *res);

void wsauth_result_clear(wsauth_result *res);

/* The metric/log reason of a failed result: "token_missing", or
 * authtoken_status_name() of the verification failure. */
const char *wsauth_reason(const wsauth_result *res);

/* Finds "bearer.<token>" in a Sec-WebSocket-Protocol value (comma-separated
 * list). Returns a pointer into value and sets *len, or NULL. Exposed for
 * tests. */
const char *wsauth_find_bearer_protocol(const char *value, size_t *len);

/*
 * The token settings, shared so every service reads the same variables:
 *   jwt_alg              --jwt-alg               COLLAB_JWT_ALG              HS256|RS256|ES256
 *   jwt_secret           --jwt-secret            COLLAB_JWT_SECRET           HS256 secret (>= 32
 * bytes) jwt_secret_file      --jwt-secret-file       COLLAB_JWT_SECRET_FILE      or read it from a
 * file jwt_private_key_file --jwt-private-key-file  COLLAB_JWT_PRIVATE_KEY_FILE RS256/ES256,
 * issuing only jwt_public_key_file  --jwt-public-key-file   COLLAB_JWT_PUBLIC_KEY_FILE  RS256/ES256
 *   jwt_issuer           --jwt-issuer            COLLAB_JWT_ISSUER           default "collab"
 *   jwt_audience         --jwt-audience          COLLAB_JWT_AUDIENCE         default "collab"
 *   jwt_ttl              --jwt-ttl               COLLAB_JWT_TTL              default 1h
 *   jwt_leeway           --jwt-leeway            COLLAB_JWT_LEEWAY           default 30s
 * wsauth_cfg_add declares them (0 or -1); wsauth_keys_from_cfg builds the
 * keys after cfg_parse (free with authtoken_keys_free). With issuer != 0 the
 * private key is loaded too (the login endpoint signs tokens). AUTHTOKEN_OK,
 * or an error with a one-line reason in err.
 */
int wsauth_cfg_add(cfg *c);
enum authtoken_status wsauth_keys_from_cfg(const cfg *c, int issuer, struct authtoken_keys **out,
                                           char *err, size_t err_size);

#endif
