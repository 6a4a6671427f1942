/*
 * A tiny blocking HTTP/1.0 GET client for tests (the metrics endpoint, the
 * Prometheus query API): plain sockets, a deadline on the whole exchange,
 * Content-Length or read-until-close bodies. Not for production use.
 */
#ifndef TEST_HTTP_CLIENT_H
#define TEST_HTTP_CLIENT_H

#include <stddef.h>

typedef struct test_http_response {
    int status;    /* e.g. 200; 0 when no valid answer */
    char *headers; /* owned, the raw header block */
    char *body;    /* owned, NUL-terminated */
    size_t body_len;
} test_http_response;

/* GET http://host:port/path. Returns 0 with *resp filled (free it with
 * test_http_response_free), or -1 (connect failure, timeout, garbage). */
int test_http_get(const char *host, int port, const char *path, int timeout_ms,
                  test_http_response *resp);

/* Splits "http://host:port" into host and port. 0 or -1. */
int test_http_parse_base(const char *url, char *host, size_t host_size, int *port);

void test_http_response_free(test_http_response *resp);

#endif
