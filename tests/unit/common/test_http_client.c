/*
 * Test HTTP client: see test_http_client.h.
 */
#include "test_http_client.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int test_http_parse_base(const char *url, char *host, size_t host_size, int *port)
{
    const char *p = strncmp(url, "http://", 7) == 0 ? url + 7 : url;
    const char *colon = strchr(p, ':');
    if (!colon || (size_t)(colon - p) >= host_size)
        return -1;
    memcpy(host, p, (size_t)(colon - p));
    host[colon - p] = '\0';
    long value = strtol(colon + 1, NULL, 10);
    *port = value > 0 && value <= 65535 ? (int)value : 0;
    return *port > 0 ? 0 : -1;
}

void test_http_response_free(test_http_response *resp)
{
    free(resp->headers);
    free(resp->body);
    memset(resp, 0, sizeof *resp);
}

int test_http_get(const char *host, int port, const char *path, int timeout_ms,
                  test_http_response *resp)
{
    memset(resp, 0, sizeof *resp);
    int64_t deadline = now_ms() + timeout_ms;
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, host, &addr.sin_addr) != 1)
        return -1;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
        close(fd);
        return -1;
    }
    char request[1024];
    int n = snprintf(request, sizeof request, "GET %s HTTP/1.0\r\nHost: %s:%d\r\n\r\n", path, host,
                     port);
    if (n < 0 || (size_t)n >= sizeof request ||
        send(fd, request, (size_t)n, MSG_NOSIGNAL) != (ssize_t)n) {
        close(fd);
        return -1;
    }
    size_t cap = 65536, len = 0;
    char *data = malloc(cap);
    int rc = -1;
    for (;;) {
        int64_t left = deadline - now_ms();
        if (left <= 0 || !data)
            goto out;
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        int ready = poll(&pfd, 1, (int)left);
        if (ready < 0 && errno == EINTR)
            continue;
        if (ready <= 0)
            goto out;
        if (len + 4096 > cap) {
            char *grown = realloc(data, cap * 2);
            if (!grown)
                goto out;
            data = grown;
            cap *= 2;
        }
        ssize_t got = recv(fd, data + len, cap - len - 1, 0);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            goto out;
        if (got == 0)
            break;
        len += (size_t)got;
        data[len] = '\0';
        /* Stop as soon as a Content-Length body is complete (keep-alive). */
        char *end = strstr(data, "\r\n\r\n");
        if (end) {
            const char *cl = strstr(data, "\r\nContent-Length:");
            if (!cl)
                cl = strstr(data, "\r\ncontent-length:");
            if (cl && cl < end && len - (size_t)(end + 4 - data) >= strtoul(cl + 17, NULL, 10))
                break;
        }
    }
    data[len] = '\0';
    char *end = strstr(data, "\r\n\r\n");
    /* "HTTP/1.1 200 OK": the status follows the first space. */
    const char *space = strchr(data, ' ');
    long status = space ? strtol(space + 1, NULL, 10) : 0;
    if (!end || strncmp(data, "HTTP/", 5) != 0 || status < 100 || status > 599)
        goto out;
    resp->status = (int)status;
    resp->headers = strndup(data, (size_t)(end - data));
    resp->body_len = len - (size_t)(end + 4 - data);
    resp->body = malloc(resp->body_len + 1);
    if (!resp->headers || !resp->body) {
        test_http_response_free(resp);
        goto out;
    }
    memcpy(resp->body, end + 4, resp->body_len);
    resp->body[resp->body_len] = '\0';
    rc = 0;
out:
    free(data);
    close(fd);
    return rc;
}
