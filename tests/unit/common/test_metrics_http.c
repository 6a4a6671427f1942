/*
 * Unit test of common/metrics_http over a real socket: the endpoint listens
 * on an ephemeral port of 127.0.0.1 and a plain-socket client fetches
 * /metrics (content type, exact body, a body larger than one write chunk),
 * /healthz, /readyz (503 until ready, then 200; the readiness callback can
 * veto) and an unknown path (404).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/metrics_http.h"
#include "test_http_client.h"

typedef struct fixture {
    metrics_registry *reg;
    metrics_http *srv;
    clog *log;
    metrics_counter *requests;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    f->log = clog_new("test", CLOG_WARN, 2);
    f->reg = metrics_registry_new();
    if (metrics_counter_new(f->reg, "test_requests_total", "Requests.", &f->requests) != METRICS_OK)
        return -1;
    char err[256];
    f->srv = metrics_http_start(f->reg, "127.0.0.1", 0, f->log, err, sizeof err);
    if (!f->srv) {
        fprintf(stderr, "start: %s\n", err);
        metrics_registry_free(f->reg);
        clog_free(f->log);
        free(f);
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    metrics_http_stop(f->srv);
    metrics_registry_free(f->reg);
    clog_free(f->log);
    free(f);
    return 0;
}

static void get(fixture *f, const char *path, test_http_response *resp)
{
    assert_int_equal(test_http_get("127.0.0.1", metrics_http_port(f->srv), path, 5000, resp), 0);
}

static void test_metrics_endpoint(void **state)
{
    fixture *f = *state;
    assert_true(metrics_http_port(f->srv) > 0);
    metrics_counter_add(f->requests, 7);
    test_http_response r;
    get(f, "/metrics", &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.headers, "text/plain; version=0.0.4"));
    assert_string_equal(r.body, "# HELP test_requests_total Requests.\n"
                                "# TYPE test_requests_total counter\n"
                                "test_requests_total 7\n");
    test_http_response_free(&r);

    /* a body of many chunks arrives whole */
    metrics_family *fam;
    const char *labels[] = {"n"};
    assert_int_equal(metrics_family_new(f->reg, METRICS_GAUGE, "test_big", "Many series.", labels,
                                        1, NULL, 0, &fam),
                     METRICS_OK);
    for (int i = 0; i < 2000; i++) {
        char v[16];
        snprintf(v, sizeof v, "%d", i);
        const char *values[] = {v};
        metrics_gauge_set(metrics_family_gauge(fam, values), i);
    }
    sbuf want;
    sbuf_init(&want);
    assert_int_equal(metrics_registry_render(f->reg, &want), 0);
    assert_true(want.len > 40000);
    get(f, "/metrics", &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.body_len, want.len);
    assert_memory_equal(r.body, want.data, want.len);
    sbuf_free(&want);
    test_http_response_free(&r);
}

static bool veto(void *userdata)
{
    return *(bool *)userdata;
}

static void test_health_and_readiness(void **state)
{
    fixture *f = *state;
    test_http_response r;
    get(f, "/healthz", &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "ok\n");
    test_http_response_free(&r);

    get(f, "/readyz", &r);
    assert_int_equal(r.status, 503);
    assert_string_equal(r.body, "not ready\n");
    test_http_response_free(&r);

    metrics_http_set_ready(f->srv, true);
    get(f, "/readyz", &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "ready\n");
    test_http_response_free(&r);

    bool callback_says = false;
    metrics_http_set_ready_fn(f->srv, veto, &callback_says);
    get(f, "/readyz", &r);
    assert_int_equal(r.status, 503);
    test_http_response_free(&r);
    callback_says = true;
    get(f, "/readyz", &r);
    assert_int_equal(r.status, 200);
    test_http_response_free(&r);
    metrics_http_set_ready_fn(f->srv, NULL, NULL);

    get(f, "/nope", &r);
    assert_int_equal(r.status, 404);
    test_http_response_free(&r);
}

static void test_listen_errors(void **state)
{
    fixture *f = *state;
    char host[64];
    int port;
    assert_int_equal(metrics_http_parse_listen("127.0.0.1:9100", host, sizeof host, &port), 0);
    assert_string_equal(host, "127.0.0.1");
    assert_int_equal(port, 9100);
    assert_int_equal(metrics_http_parse_listen("127.0.0.1", host, sizeof host, &port), -1);
    assert_int_equal(metrics_http_parse_listen("127.0.0.1:99999", host, sizeof host, &port), -1);
    assert_int_equal(metrics_http_parse_listen(":80", host, sizeof host, &port), -1);
    /* the port in use by the fixture cannot be bound twice */
    char err[256];
    metrics_http *second =
        metrics_http_start(f->reg, "127.0.0.1", metrics_http_port(f->srv), f->log, err, sizeof err);
    assert_null(second);
    assert_non_null(strstr(err, "cannot listen"));
    assert_null(metrics_http_start_at(f->reg, "localhost", f->log, err, sizeof err));
    assert_non_null(strstr(err, "invalid metrics address \"localhost\""));
    /* the setting's spelling, with an ephemeral port */
    metrics_http *third = metrics_http_start_at(f->reg, "127.0.0.1:0", f->log, err, sizeof err);
    assert_non_null(third);
    test_http_response r;
    assert_int_equal(test_http_get("127.0.0.1", metrics_http_port(third), "/healthz", 5000, &r), 0);
    assert_int_equal(r.status, 200);
    test_http_response_free(&r);
    metrics_http_stop(third);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_metrics_endpoint),
        cmocka_unit_test(test_health_and_readiness),
        cmocka_unit_test(test_listen_errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
