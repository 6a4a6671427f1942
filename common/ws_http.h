/*
 * ws_http: the small HTTP pieces the lws-based services share: the request
 * method, matching "/v1/documents/{doc_id}..." paths, and writing a whole
 * response (status, JSON body) in one go - including the one error shape of
 * docs/api.md,
 *     {"error": {"code": "<stable code>", "message": "<for people>"}}
 * used for every failure of the HTTP API and for refusals before a WebSocket
 * upgrade (401, 403, 404). Call from the lws service thread. Prefix: wshttp_.
 */
#ifndef COMMON_WS_HTTP_H
#define COMMON_WS_HTTP_H

#include <libwebsockets.h>
#include <stddef.h>

typedef enum wshttp_method {
    WSHTTP_GET,
    WSHTTP_POST,
    WSHTTP_PUT,
    WSHTTP_DELETE,
    WSHTTP_OTHER,
} wshttp_method;

/* The method of the request being served (headers still bound). */
wshttp_method wshttp_request_method(struct lws *wsi);

/*
 * Matches path against "/v1/documents/{id}" + suffix (suffix may be "").
 * On a match copies the id into id (NUL-terminated) and returns 1; an id
 * that is not a valid document id (ws_frame.h) does not match. 0 otherwise.
 */
int wshttp_match_doc_path(const char *path, const char *suffix, char *id, size_t id_size);

/* The error body as a malloc'd NUL-terminated string (caller frees), or NULL
 * when out of memory. *len (may be NULL) gets its length. */
char *wshttp_error_json(const char *code, const char *message, size_t *len);

/*
 * Writes status, Content-Type, Content-Length, Cache-Control: no-store and
 * the body. lws keeps what the socket does not take at once and sends it
 * before anything else. Returns 0, or -1 (the caller closes the connection).
 * After an HTTP request (not an upgrade refusal) the caller then calls
 * lws_http_transaction_completed().
 */
int wshttp_send(struct lws *wsi, unsigned int status, const char *content_type, const char *body,
                size_t len);

/* wshttp_send of wshttp_error_json(code, message). 0 or -1. */
int wshttp_send_error(struct lws *wsi, unsigned int status, const char *code, const char *message);

#endif
