/*
 * ws_http: request method, document paths and whole JSON responses on
 * libwebsockets, with the API's one error shape built by jansson. See
 * ws_http.h.
 */
#include "common/ws_http.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "common/ws_frame.h"

wshttp_method wshttp_request_method(struct lws *wsi)
{
    if (lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI) > 0)
        return WSHTTP_GET;
    if (lws_hdr_total_length(wsi, WSI_TOKEN_POST_URI) > 0)
        return WSHTTP_POST;
    if (lws_hdr_total_length(wsi, WSI_TOKEN_PUT_URI) > 0)
        return WSHTTP_PUT;
    if (lws_hdr_total_length(wsi, WSI_TOKEN_DELETE_URI) > 0)
        return WSHTTP_DELETE;
    return WSHTTP_OTHER;
}

int wshttp_match_doc_path(const char *path, const char *suffix, char *id, size_t id_size)
{
    static const char prefix[] = "/v1/documents/";
    size_t plen = sizeof prefix - 1;
    if (strncmp(path, prefix, plen) != 0)
        return 0;
    const char *start = path + plen;
    const char *slash = strchr(start, '/');
    size_t id_len = slash ? (size_t)(slash - start) : strlen(start);
    const char *rest = start + id_len;
    if (strcmp(rest, suffix) != 0)
        return 0;
    if (!wsframe_doc_id_valid(start, id_len) || id_len + 1 > id_size)
        return 0;
    memcpy(id, start, id_len);
    id[id_len] = '\0';
    return 1;
}

char *wshttp_error_json(const char *code, const char *message, size_t *len)
{
    json_t *root = json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", message);
    if (!root)
        return NULL;
    char *text = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    if (text && len)
        *len = strlen(text);
    return text;
}

int wshttp_send(struct lws *wsi, unsigned int status, const char *content_type, const char *body,
                size_t len)
{
    unsigned char headers[LWS_PRE + 1024];
    unsigned char *start = headers + LWS_PRE, *p = start, *end = headers + sizeof headers - 1;
    if (lws_add_http_common_headers(wsi, status, content_type, len, &p, end) ||
        lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CACHE_CONTROL,
                                     (const unsigned char *)"no-store", 8, &p, end) ||
        lws_finalize_http_header(wsi, &p, end))
        return -1;
    size_t hlen = (size_t)(p - start);
    if (lws_write(wsi, start, hlen, LWS_WRITE_HTTP_HEADERS) != (int)hlen)
        return -1;
    if (len == 0)
        return 0;
    unsigned char *buf = malloc(LWS_PRE + len);
    if (!buf)
        return -1;
    memcpy(buf + LWS_PRE, body, len);
    int n = lws_write(wsi, buf + LWS_PRE, len, LWS_WRITE_HTTP_FINAL);
    free(buf);
    return n == (int)len ? 0 : -1;
}

int wshttp_send_error(struct lws *wsi, unsigned int status, const char *code, const char *message)
{
    size_t len = 0;
    char *body = wshttp_error_json(code, message, &len);
    if (!body)
        return -1;
    int rc = wshttp_send(wsi, status, "application/json", body, len);
    free(body);
    return rc;
}
