/*
 * Integration test: Prometheus ($COLLAB_PROMETHEUS_URL) scrapes our metrics
 * endpoint. The stack's Prometheus scrapes job "collab-test" at
 * 127.0.0.1:9199 every second; this test serves a uniquely named gauge
 * there and polls the query API until the metric comes back with its value
 * and job label (deadline, no fixed sleeps).
 */
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/metrics_http.h"
#include "common/metrics_process.h"
#include "common/util.h"
#include "test_http_client.h"

#define SCRAPE_PORT 9199
#define DEADLINE_MS 90000

/* Asks the query API for `name`; returns the sample value as text ("" when
 * absent) and the job label in job. */
static void query(const char *host, int port, const char *name, char *value, size_t value_size,
                  char *job, size_t job_size)
{
    value[0] = '\0';
    job[0] = '\0';
    char path[256];
    snprintf(path, sizeof path, "/api/v1/query?query=%s", name);
    test_http_response r;
    if (test_http_get(host, port, path, 5000, &r) != 0)
        return;
    json_error_t error;
    json_t *doc = r.status == 200 ? json_loads(r.body, 0, &error) : NULL;
    json_t *result = json_object_get(json_object_get(doc, "data"), "result");
    if (json_array_size(result) > 0) {
        json_t *sample = json_array_get(result, 0);
        const char *v = json_string_value(json_array_get(json_object_get(sample, "value"), 1));
        const char *j =
            json_string_value(json_object_get(json_object_get(sample, "metric"), "job"));
        snprintf(value, value_size, "%s", v ? v : "");
        snprintf(job, job_size, "%s", j ? j : "");
    }
    json_decref(doc);
    test_http_response_free(&r);
}

static void test_prometheus_scrapes_exporter(void **state)
{
    (void)state;
    const char *base = getenv("COLLAB_PROMETHEUS_URL");
    char host[128];
    int port;
    if (test_http_parse_base(base && *base ? base : "http://127.0.0.1:9090", host, sizeof host,
                             &port) != 0)
        fail_msg("cannot parse COLLAB_PROMETHEUS_URL");

    clog *log = clog_new("itest-prometheus", CLOG_WARN, 2);
    metrics_registry *reg = metrics_registry_new();
    assert_int_equal(metrics_process_register(reg), METRICS_OK);
    char name[128];
    snprintf(name, sizeof name, "collab_itest_probe_%ld_%lld", (long)getpid(),
             (long long)(util_wall_ns() % 1000000000LL));
    metrics_gauge *g;
    assert_int_equal(metrics_gauge_new(reg, name, "Integration test probe.", &g), METRICS_OK);
    metrics_gauge_set(g, 42.5);
    char err[256];
    metrics_http *srv = metrics_http_start(reg, "127.0.0.1", SCRAPE_PORT, log, err, sizeof err);
    if (!srv)
        fail_msg("cannot serve on 127.0.0.1:%d (is another test using it?): %s", SCRAPE_PORT, err);

    int64_t deadline = util_now_ms() + DEADLINE_MS;
    char value[64] = "", job[64] = "";
    while (util_now_ms() < deadline) {
        query(host, port, name, value, sizeof value, job, sizeof job);
        if (value[0])
            break;
        util_sleep_ms(250);
    }
    if (!value[0])
        fail_msg("Prometheus at %s:%d did not return %s within %d ms", host, port, name,
                 DEADLINE_MS);
    assert_string_equal(value, "42.5");
    assert_string_equal(job, "collab-test");
    metrics_http_stop(srv);
    metrics_registry_free(reg);
    clog_free(log);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_prometheus_scrapes_exporter),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
