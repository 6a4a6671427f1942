/*
 * Unit tests of common/metrics: the exact exposition text of a known
 * registry (HELP/TYPE, labels and their escaping, histogram buckets, sum,
 * count, float formatting), naming rules, bucket validation, concurrent
 * updates from threads, and the process collector.
 */
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/metrics.h"
#include "common/metrics_process.h"

static char *render(metrics_registry *reg)
{
    sbuf out;
    sbuf_init(&out);
    assert_int_equal(metrics_registry_render(reg, &out), 0);
    char *text = sbuf_take(&out, NULL);
    assert_non_null(text);
    return text;
}

static void test_exposition_exact(void **state)
{
    (void)state;
    metrics_registry *reg = metrics_registry_new();
    assert_non_null(reg);

    metrics_counter *ops;
    assert_int_equal(metrics_counter_new(reg, "collab_ops_total", "Operations received.", &ops),
                     METRICS_OK);
    metrics_counter_add(ops, 41);
    metrics_counter_inc(ops);

    metrics_family *by_topic;
    const char *labels[] = {"topic", "result"};
    assert_int_equal(metrics_family_new(reg, METRICS_COUNTER, "collab_messages_total",
                                        "Messages by topic\\result\nsecond line.", labels, 2, NULL,
                                        0, &by_topic),
                     METRICS_OK);
    const char *v1[] = {"collab.ops", "ok"};
    const char *v2[] = {"we\"ird\\top\nic", "error"};
    metrics_counter_add(metrics_family_counter(by_topic, v1), 3);
    metrics_counter_inc(metrics_family_counter(by_topic, v2));
    /* the same values give the same child */
    assert_ptr_equal(metrics_family_counter(by_topic, v1), metrics_family_counter(by_topic, v1));
    assert_null(metrics_family_gauge(by_topic, v1)); /* wrong type */

    metrics_gauge *conns;
    assert_int_equal(metrics_gauge_new(reg, "collab_connections", "Open connections.", &conns),
                     METRICS_OK);
    metrics_gauge_set(conns, 10);
    metrics_gauge_inc(conns);
    metrics_gauge_dec(conns);
    metrics_gauge_dec(conns);
    metrics_gauge_add(conns, 0.25);

    metrics_histogram *lat;
    const double buckets[] = {0.25, 0.5, 1};
    assert_int_equal(metrics_histogram_new(reg, "collab_merge_duration_seconds", "Merge time.",
                                           buckets, 3, &lat),
                     METRICS_OK);
    metrics_histogram_observe(lat, 0.125);
    metrics_histogram_observe(lat, 0.25); /* le is inclusive */
    metrics_histogram_observe(lat, 0.375);
    metrics_histogram_observe(lat, 3);

    metrics_family *sizes;
    const char *hl[] = {"kind"};
    const double sb[] = {1024, 1048576, INFINITY}; /* a trailing +Inf is accepted */
    assert_int_equal(metrics_family_new(reg, METRICS_HISTOGRAM, "collab_update_size_bytes",
                                        "Update sizes.", hl, 1, sb, 3, &sizes),
                     METRICS_OK);
    const char *kind[] = {"yjs"};
    metrics_histogram_observe(metrics_family_histogram(sizes, kind), 2000);

    metrics_gauge *ratio;
    assert_int_equal(metrics_gauge_new(reg, "collab_cache_hit_ratio", "Hits/lookups.", &ratio),
                     METRICS_OK);
    metrics_gauge_set(ratio, 0.1);
    metrics_gauge *inf;
    assert_int_equal(metrics_gauge_new(reg, "collab_lag", "Lag.", &inf), METRICS_OK);
    metrics_gauge_set(inf, -INFINITY);

    char *text = render(reg);
    const char *expected =
        "# HELP collab_ops_total Operations received.\n"
        "# TYPE collab_ops_total counter\n"
        "collab_ops_total 42\n"
        "# HELP collab_messages_total Messages by topic\\\\result\\nsecond line.\n"
        "# TYPE collab_messages_total counter\n"
        "collab_messages_total{topic=\"collab.ops\",result=\"ok\"} 3\n"
        "collab_messages_total{topic=\"we\\\"ird\\\\top\\nic\",result=\"error\"} 1\n"
        "# HELP collab_connections Open connections.\n"
        "# TYPE collab_connections gauge\n"
        "collab_connections 9.25\n"
        "# HELP collab_merge_duration_seconds Merge time.\n"
        "# TYPE collab_merge_duration_seconds histogram\n"
        "collab_merge_duration_seconds_bucket{le=\"0.25\"} 2\n"
        "collab_merge_duration_seconds_bucket{le=\"0.5\"} 3\n"
        "collab_merge_duration_seconds_bucket{le=\"1\"} 3\n"
        "collab_merge_duration_seconds_bucket{le=\"+Inf\"} 4\n"
        "collab_merge_duration_seconds_sum 3.75\n"
        "collab_merge_duration_seconds_count 4\n"
        "# HELP collab_update_size_bytes Update sizes.\n"
        "# TYPE collab_update_size_bytes histogram\n"
        "collab_update_size_bytes_bucket{kind=\"yjs\",le=\"1024\"} 0\n"
        "collab_update_size_bytes_bucket{kind=\"yjs\",le=\"1048576\"} 1\n"
        "collab_update_size_bytes_bucket{kind=\"yjs\",le=\"+Inf\"} 1\n"
        "collab_update_size_bytes_sum{kind=\"yjs\"} 2000\n"
        "collab_update_size_bytes_count{kind=\"yjs\"} 1\n"
        "# HELP collab_cache_hit_ratio Hits/lookups.\n"
        "# TYPE collab_cache_hit_ratio gauge\n"
        "collab_cache_hit_ratio 0.1\n"
        "# HELP collab_lag Lag.\n"
        "# TYPE collab_lag gauge\n"
        "collab_lag -Inf\n";
    if (strcmp(text, expected) != 0) {
        fprintf(stderr, "exposition differs:\n--- got\n%s--- want\n%s", text, expected);
        fail();
    }
    assert_int_equal(metrics_histogram_count(lat), 4);
    free(text);
    metrics_registry_free(reg);
}

static void test_naming_rules(void **state)
{
    (void)state;
    struct {
        const char *name;
        metrics_type type;
        int valid;
    } cases[] = {
        {"collab_ops_total", METRICS_COUNTER, 1},
        {"collab_ops", METRICS_COUNTER, 0},     /* counters end in _total */
        {"collab_ops_total", METRICS_GAUGE, 0}, /* only counters do */
        {"collab_latency_seconds", METRICS_HISTOGRAM, 1},
        {"collab_latency_ms", METRICS_HISTOGRAM, 0}, /* base units */
        {"collab_latency_milliseconds", METRICS_HISTOGRAM, 0},
        {"collab_heap_kb", METRICS_GAUGE, 0},
        {"collab_sent_bytes_total", METRICS_COUNTER, 1},
        {"collab_wait_ms_total", METRICS_COUNTER, 0},
        {"collab_x_count", METRICS_HISTOGRAM, 0}, /* reserved suffixes */
        {"collab_x_bucket", METRICS_HISTOGRAM, 0},
        {"9lives", METRICS_GAUGE, 0},
        {"collab:rule", METRICS_GAUGE, 0}, /* colons: recording rules */
        {"collab-dash", METRICS_GAUGE, 0},
        {"", METRICS_GAUGE, 0},
        {"_ok_name", METRICS_GAUGE, 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        if ((int)metrics_name_valid(cases[i].type, cases[i].name) != cases[i].valid)
            fail_msg("name \"%s\": expected %s", cases[i].name,
                     cases[i].valid ? "valid" : "invalid");
    }
    assert_true(metrics_label_name_valid(METRICS_COUNTER, "topic"));
    assert_false(metrics_label_name_valid(METRICS_COUNTER, "__reserved"));
    assert_false(metrics_label_name_valid(METRICS_HISTOGRAM, "le"));
    assert_true(metrics_label_name_valid(METRICS_GAUGE, "le"));
    assert_false(metrics_label_name_valid(METRICS_GAUGE, "a-b"));

    metrics_registry *reg = metrics_registry_new();
    metrics_counter *c;
    assert_int_equal(metrics_counter_new(reg, "bad", "", &c), METRICS_ERR_NAME);
    assert_int_equal(metrics_counter_new(reg, "good_total", "", &c), METRICS_OK);
    assert_int_equal(metrics_counter_new(reg, "good_total", "", &c), METRICS_ERR_DUPLICATE);
    metrics_family *f;
    const char *dup[] = {"a", "a"};
    assert_int_equal(metrics_family_new(reg, METRICS_GAUGE, "g1", "", dup, 2, NULL, 0, &f),
                     METRICS_ERR_LABEL);
    const double unsorted[] = {1, 0.5};
    metrics_histogram *h;
    assert_int_equal(metrics_histogram_new(reg, "h_seconds", "", unsorted, 2, &h),
                     METRICS_ERR_BUCKETS);
    const double with_nan[] = {0.1, NAN};
    assert_int_equal(metrics_histogram_new(reg, "h_seconds", "", with_nan, 2, &h),
                     METRICS_ERR_BUCKETS);
    assert_int_equal(metrics_histogram_new(reg, "h_seconds", "", metrics_latency_buckets,
                                           METRICS_LATENCY_BUCKET_COUNT, &h),
                     METRICS_OK);
    assert_non_null(strstr(metrics_status_text(METRICS_ERR_DUPLICATE), "already"));
    metrics_registry_free(reg);
}

static void test_value_formatting(void **state)
{
    (void)state;
    char out[64];
    metrics_format_value(0.1, out, sizeof out);
    assert_string_equal(out, "0.1");
    metrics_format_value(1e21, out, sizeof out);
    assert_string_equal(out, "1e+21");
    metrics_format_value(1.0 / 3.0, out, sizeof out);
    assert_true(strtod(out, NULL) == 1.0 / 3.0); /* round-trips exactly */
    metrics_format_value(NAN, out, sizeof out);
    assert_string_equal(out, "NaN");
    metrics_format_value(INFINITY, out, sizeof out);
    assert_string_equal(out, "+Inf");
    metrics_format_value(-0.5, out, sizeof out);
    assert_string_equal(out, "-0.5");
}

#define THREADS    8
#define ITERATIONS 100000

typedef struct hot_path {
    metrics_counter *counter;
    metrics_gauge *gauge;
    metrics_histogram *hist;
    metrics_family *family;
    metrics_registry *reg;
} hot_path;

static void *hammer(void *p)
{
    hot_path *h = p;
    const char *values[] = {"shared"};
    metrics_counter *labelled = metrics_family_counter(h->family, values);
    for (int i = 0; i < ITERATIONS; i++) {
        metrics_counter_inc(h->counter);
        metrics_gauge_add(h->gauge, 1.0);
        metrics_histogram_observe(h->hist, (i % 2) ? 0.5 : 2.0);
        metrics_counter_inc(labelled);
    }
    return NULL;
}

static void *scraper(void *p)
{
    hot_path *h = p;
    for (int i = 0; i < 50; i++) {
        sbuf out;
        sbuf_init(&out);
        assert_int_equal(metrics_registry_render(h->reg, &out), 0);
        sbuf_free(&out);
    }
    return NULL;
}

static void test_concurrent_updates(void **state)
{
    (void)state;
    hot_path h;
    h.reg = metrics_registry_new();
    const double buckets[] = {1};
    const char *labels[] = {"name"};
    assert_int_equal(metrics_counter_new(h.reg, "c_total", "", &h.counter), METRICS_OK);
    assert_int_equal(metrics_gauge_new(h.reg, "g", "", &h.gauge), METRICS_OK);
    assert_int_equal(metrics_histogram_new(h.reg, "h_seconds", "", buckets, 1, &h.hist),
                     METRICS_OK);
    assert_int_equal(
        metrics_family_new(h.reg, METRICS_COUNTER, "l_total", "", labels, 1, NULL, 0, &h.family),
        METRICS_OK);
    pthread_t threads[THREADS + 1];
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(pthread_create(&threads[i], NULL, hammer, &h), 0);
    assert_int_equal(pthread_create(&threads[THREADS], NULL, scraper, &h), 0);
    for (int i = 0; i <= THREADS; i++)
        pthread_join(threads[i], NULL);
    const uint64_t total = (uint64_t)THREADS * ITERATIONS;
    assert_int_equal(metrics_counter_value(h.counter), total);
    assert_true(metrics_gauge_value(h.gauge) == (double)total);
    assert_int_equal(metrics_histogram_count(h.hist), total);
    assert_true(metrics_histogram_sum(h.hist) == (double)total / 2 * 2.5);
    const char *values[] = {"shared"};
    assert_int_equal(metrics_counter_value(metrics_family_counter(h.family, values)), total);
    char *text = render(h.reg);
    char line[128];
    snprintf(line, sizeof line, "h_seconds_bucket{le=\"1\"} %llu\n",
             (unsigned long long)(total / 2));
    assert_non_null(strstr(text, line));
    free(text);
    metrics_registry_free(h.reg);
}

static void test_process_collector(void **state)
{
    (void)state;
    metrics_registry *reg = metrics_registry_new();
    assert_int_equal(metrics_process_register(reg), METRICS_OK);
    char *text = render(reg);
    const char *names[] = {"# TYPE process_cpu_seconds_total counter\n",
                           "\nprocess_resident_memory_bytes ",
                           "\nprocess_virtual_memory_bytes ",
                           "\nprocess_start_time_seconds ",
                           "\nprocess_open_fds ",
                           "\nprocess_max_fds "};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (!strstr(text, names[i]))
            fail_msg("missing %s in:\n%s", names[i], text);
    }
    /* resident memory of a running test is certainly above 1 MiB */
    double rss = strtod(strstr(text, "\nprocess_resident_memory_bytes ") + 31, NULL);
    assert_true(rss > 1048576.0);
    double start = strtod(strstr(text, "\nprocess_start_time_seconds ") + 28, NULL);
    assert_true(start > 1.6e9);
    free(text);
    metrics_registry_free(reg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exposition_exact),  cmocka_unit_test(test_naming_rules),
        cmocka_unit_test(test_value_formatting),  cmocka_unit_test(test_concurrent_updates),
        cmocka_unit_test(test_process_collector),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
