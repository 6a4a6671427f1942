/*
 * Unit tests of common/log: every line is one valid JSON object (parsed back
 * with jansson) with ts/level/service/msg and typed fields; escaping of
 * quotes, control characters and invalid UTF-8; level filtering; lines from
 * many threads never interleave.
 */
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/log.h"

/* A logger writing into a temporary file, and that file read back. */
typedef struct capture {
    int fd;
    char path[64];
} capture;

static void capture_open(capture *c)
{
    snprintf(c->path, sizeof c->path, "/tmp/test_log_XXXXXX");
    c->fd = mkstemp(c->path);
    assert_true(c->fd >= 0);
    unlink(c->path);
}

/* Returns every line written so far (caller frees). */
static char *capture_read(capture *c)
{
    off_t size = lseek(c->fd, 0, SEEK_END);
    assert_true(size >= 0);
    char *text = calloc(1, (size_t)size + 1);
    assert_non_null(text);
    assert_int_equal(pread(c->fd, text, (size_t)size, 0), size);
    return text;
}

static json_t *parse_line(const char *line)
{
    json_error_t error;
    json_t *j = json_loads(line, JSON_REJECT_DUPLICATES, &error);
    if (!j)
        fail_msg("not JSON (%s): %s", error.text, line);
    assert_true(json_is_object(j));
    return j;
}

static void test_fields_and_escaping(void **state)
{
    (void)state;
    capture cap;
    capture_open(&cap);
    clog *log = clog_new("ingest", CLOG_DEBUG, cap.fd);
    assert_non_null(log);
    const char *nasty =
        "quote\" backslash\\ newline\n tab\t ctrl\x01 bell\x07 \xC3\xA9 \xE2\x82\xAC";
    clog_field f[] = {clog_str("doc", nasty),          clog_int("partition", -42),
                      clog_double("ratio", 0.5),       clog_bool("ok", true),
                      clog_str("msg", "reserved key"), clog_str("null_value", NULL),
                      clog_double("nan", NAN)};
    assert_int_equal(clog_emit(log, CLOG_WARN, "hello \"world\"\n", f, 7), 0);
    char *text = capture_read(&cap);
    size_t len = strlen(text);
    assert_true(len > 0);
    assert_int_equal(text[len - 1], '\n');
    assert_null(memchr(text, '\n', len - 1)); /* one line */
    json_t *j = parse_line(text);
    assert_string_equal(json_string_value(json_object_get(j, "level")), "warn");
    assert_string_equal(json_string_value(json_object_get(j, "service")), "ingest");
    assert_string_equal(json_string_value(json_object_get(j, "msg")), "hello \"world\"\n");
    assert_string_equal(json_string_value(json_object_get(j, "doc")), nasty);
    assert_int_equal(json_integer_value(json_object_get(j, "partition")), -42);
    assert_true(json_real_value(json_object_get(j, "ratio")) == 0.5);
    assert_true(json_is_true(json_object_get(j, "ok")));
    assert_string_equal(json_string_value(json_object_get(j, "field.msg")), "reserved key");
    assert_true(json_is_null(json_object_get(j, "null_value")));
    assert_string_equal(json_string_value(json_object_get(j, "nan")), "nan");
    /* ts: RFC 3339 UTC with milliseconds, e.g. 2026-01-02T03:04:05.678Z */
    const char *ts = json_string_value(json_object_get(j, "ts"));
    assert_non_null(ts);
    assert_int_equal(strlen(ts), 24);
    const char *shape = "dddd-dd-ddTdd:dd:dd.dddZ";
    for (size_t i = 0; shape[i]; i++) {
        if (shape[i] == 'd')
            assert_true(ts[i] >= '0' && ts[i] <= '9');
        else
            assert_int_equal(ts[i], shape[i]);
    }
    assert_true(strtol(ts, NULL, 10) >= 2024);
    long month = strtol(ts + 5, NULL, 10);
    assert_true(month >= 1 && month <= 12);
    json_decref(j);
    free(text);
    clog_free(log);
    close(cap.fd);
}

static void test_invalid_utf8_is_repaired(void **state)
{
    (void)state;
    capture cap;
    capture_open(&cap);
    clog *log = clog_new("svc", CLOG_INFO, cap.fd);
    /* stray continuation byte, truncated sequence, overlong '/', surrogate */
    clog_field f[] = {clog_str("bytes", "a\x80"
                                        "b\xE2\x82"
                                        "c\xC0\xAF"
                                        "d\xED\xA0\x80"
                                        "e")};
    assert_int_equal(clog_emit(log, CLOG_INFO, "bad \xFF utf8", f, 1), 0);
    char *text = capture_read(&cap);
    json_t *j = parse_line(text);
    assert_string_equal(json_string_value(json_object_get(j, "msg")), "bad \xEF\xBF\xBD utf8");
    const char *bytes = json_string_value(json_object_get(j, "bytes"));
    assert_non_null(bytes);
    assert_non_null(strstr(bytes, "a\xEF\xBF\xBD"
                                  "b"));
    assert_non_null(strstr(bytes, "e"));
    json_decref(j);
    free(text);
    clog_free(log);
    close(cap.fd);
}

static void test_levels(void **state)
{
    (void)state;
    capture cap;
    capture_open(&cap);
    clog *log = clog_new("svc", CLOG_WARN, cap.fd);
    assert_false(clog_enabled(log, CLOG_INFO));
    assert_true(clog_enabled(log, CLOG_ERROR));
    clog_debugf(log, "debug %d", 1);
    clog_infof(log, "info %d", 2);
    clog_warnf(log, "warn %d", 3);
    clog_errorf(log, "error %s", "four");
    clog_set_level(log, CLOG_DEBUG);
    assert_int_equal(clog_get_level(log), CLOG_DEBUG);
    clog_debugf(log, "debug %d", 5);
    char *text = capture_read(&cap);
    const char *want[][2] = {{"warn", "warn 3"}, {"error", "error four"}, {"debug", "debug 5"}};
    char *save = NULL;
    size_t n = 0;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        assert_true(n < 3);
        json_t *j = parse_line(line);
        assert_string_equal(json_string_value(json_object_get(j, "level")), want[n][0]);
        assert_string_equal(json_string_value(json_object_get(j, "msg")), want[n][1]);
        json_decref(j);
        n++;
    }
    assert_int_equal(n, 3);
    free(text);

    clog_level lv;
    assert_int_equal(clog_level_parse("warn", &lv), 0);
    assert_int_equal(lv, CLOG_WARN);
    assert_int_equal(clog_level_parse("WARN", &lv), -1);
    assert_int_equal(clog_level_parse("verbose", &lv), -1);
    /* a NULL logger is a silent one */
    assert_int_equal(clog_infof(NULL, "nothing"), 0);
    clog_free(log);
    close(cap.fd);
}

static void test_long_message(void **state)
{
    (void)state;
    capture cap;
    capture_open(&cap);
    clog *log = clog_new("svc", CLOG_INFO, cap.fd);
    char *big = malloc(100001);
    memset(big, 'x', 100000);
    big[100000] = '\0';
    assert_int_equal(clog_infof(log, "%s", big), 0);
    char *text = capture_read(&cap);
    json_t *j = parse_line(text);
    assert_int_equal(strlen(json_string_value(json_object_get(j, "msg"))), 100000);
    json_decref(j);
    free(text);
    free(big);
    clog_free(log);
    close(cap.fd);
}

#define THREADS          8
#define LINES_PER_THREAD 500

typedef struct writer_arg {
    clog *log;
    int id;
} writer_arg;

static void *writer(void *p)
{
    writer_arg *a = p;
    char filler[300];
    memset(filler, 'a' + a->id, sizeof filler - 1);
    filler[sizeof filler - 1] = '\0';
    for (int i = 0; i < LINES_PER_THREAD; i++) {
        clog_field f[] = {clog_int("thread", a->id), clog_int("seq", i), clog_str("fill", filler)};
        clog_emit(a->log, CLOG_INFO, "concurrent", f, 3);
    }
    return NULL;
}

static void test_threads_do_not_interleave(void **state)
{
    (void)state;
    capture cap;
    capture_open(&cap);
    clog *log = clog_new("svc", CLOG_INFO, cap.fd);
    pthread_t threads[THREADS];
    writer_arg args[THREADS];
    for (int i = 0; i < THREADS; i++) {
        args[i].log = log;
        args[i].id = i;
        assert_int_equal(pthread_create(&threads[i], NULL, writer, &args[i]), 0);
    }
    for (int i = 0; i < THREADS; i++)
        pthread_join(threads[i], NULL);
    char *text = capture_read(&cap);
    int next_seq[THREADS] = {0};
    size_t lines = 0;
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        json_t *j = parse_line(line);
        int id = (int)json_integer_value(json_object_get(j, "thread"));
        int seq = (int)json_integer_value(json_object_get(j, "seq"));
        assert_true(id >= 0 && id < THREADS);
        assert_int_equal(seq, next_seq[id]); /* each thread's lines in its order */
        next_seq[id]++;
        assert_int_equal(strlen(json_string_value(json_object_get(j, "fill"))), 299);
        json_decref(j);
        lines++;
    }
    assert_int_equal(lines, THREADS * LINES_PER_THREAD);
    free(text);
    clog_free(log);
    close(cap.fd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fields_and_escaping),
        cmocka_unit_test(test_invalid_utf8_is_repaired),
        cmocka_unit_test(test_levels),
        cmocka_unit_test(test_long_message),
        cmocka_unit_test(test_threads_do_not_interleave),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
