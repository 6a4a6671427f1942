/*
 * log: JSON-lines logger. jansson builds and escapes each line (it knows
 * JSON string escaping exactly), we add the timestamp and write the result
 * with one write() so that concurrent lines never mix. See log.h.
 */
#include "common/log.h"

#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct clog {
    char *service;
    int fd;
    _Atomic int min_level;
};

static const char *const level_names[] = {"debug", "info", "warn", "error"};

clog *clog_new(const char *service, clog_level min_level, int fd)
{
    clog *log = calloc(1, sizeof *log);
    if (!log)
        return NULL;
    log->service = strdup(service ? service : "");
    if (!log->service) {
        free(log);
        return NULL;
    }
    log->fd = fd;
    atomic_init(&log->min_level, (int)min_level);
    return log;
}

void clog_free(clog *log)
{
    if (!log)
        return;
    free(log->service);
    free(log);
}

int clog_level_parse(const char *name, clog_level *out)
{
    for (int i = 0; i < 4; i++) {
        if (name && strcmp(name, level_names[i]) == 0) {
            *out = (clog_level)i;
            return 0;
        }
    }
    return -1;
}

const char *clog_level_name(clog_level level)
{
    if ((int)level < 0 || (int)level > 3)
        return "unknown";
    return level_names[level];
}

void clog_set_level(clog *log, clog_level level)
{
    atomic_store(&log->min_level, (int)level);
}

clog_level clog_get_level(const clog *log)
{
    return (clog_level)atomic_load(&((clog *)log)->min_level);
}

bool clog_enabled(const clog *log, clog_level level)
{
    return log && (int)level >= atomic_load(&((clog *)log)->min_level);
}

/* Length of the valid UTF-8 sequence at s (1..4), or 0 if it is invalid
 * (overlong forms, surrogates and code points past U+10FFFF included). */
static size_t utf8_sequence_length(const unsigned char *s, size_t left)
{
    unsigned char c = s[0];
    if (c < 0x80)
        return 1;
    size_t n;
    unsigned int cp;
    if (c >= 0xC2 && c <= 0xDF) {
        n = 2;
        cp = c & 0x1Fu;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        cp = c & 0x0Fu;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        cp = c & 0x07u;
    } else {
        return 0;
    }
    if (n > left)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3Fu);
    }
    if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10FFFF ||
        (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return n;
}

/* A JSON string for s; invalid UTF-8 bytes become U+FFFD. NULL -> null. */
static json_t *json_text(const char *s)
{
    if (!s)
        return json_null();
    json_t *j = json_string(s);
    if (j)
        return j;
    /* jansson refuses invalid UTF-8: repair it rather than lose the line. */
    size_t len = strlen(s);
    char *fixed = malloc(len * 3 + 1);
    if (!fixed)
        return NULL;
    size_t out = 0;
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < len;) {
        size_t n = utf8_sequence_length(p + i, len - i);
        if (n == 0) {
            memcpy(fixed + out, "\xEF\xBF\xBD", 3);
            out += 3;
            i++;
        } else {
            memcpy(fixed + out, p + i, n);
            out += n;
            i += n;
        }
    }
    fixed[out] = '\0';
    j = json_string(fixed);
    free(fixed);
    return j;
}

static json_t *field_value(const clog_field *f)
{
    switch (f->type) {
    case CLOG_FIELD_STR:
        return json_text(f->v.s);
    case CLOG_FIELD_INT:
        return json_integer(f->v.i);
    case CLOG_FIELD_DOUBLE: {
        /* JSON has no NaN/Infinity: keep them readable as strings. */
        json_t *j = json_real(f->v.d);
        if (j)
            return j;
        char text[32];
        snprintf(text, sizeof text, "%g", f->v.d);
        return json_string(text);
    }
    case CLOG_FIELD_BOOL:
        return json_boolean(f->v.b);
    }
    return json_null();
}

static bool is_reserved_key(const char *key)
{
    return strcmp(key, "ts") == 0 || strcmp(key, "level") == 0 || strcmp(key, "service") == 0 ||
           strcmp(key, "msg") == 0;
}

/* RFC 3339 UTC with milliseconds: 2026-01-02T03:04:05.678Z */
static void format_timestamp(char *out, size_t size)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char date[32];
    strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, size, "%s.%03ldZ", date, ts.tv_nsec / 1000000);
}

static int set_field(json_t *obj, const char *key, json_t *value)
{
    if (!value)
        return -1;
    return json_object_set_new(obj, key, value);
}

static int write_all(int fd, const char *data, size_t len)
{
    /* One write() almost always takes the whole line; the loop only covers
     * partial writes to a full pipe and EINTR. */
    while (len > 0) {
        ssize_t n = write(fd, data, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        data += n;
        len -= (size_t)n;
    }
    return 0;
}

int clog_emit(clog *log, clog_level level, const char *msg, const clog_field *fields, size_t count)
{
    if (!clog_enabled(log, level))
        return 0;
    char ts[48];
    format_timestamp(ts, sizeof ts);
    json_t *line = json_object();
    if (!line)
        return -1;
    int rc = 0;
    rc |= set_field(line, "ts", json_string(ts));
    rc |= set_field(line, "level", json_string(clog_level_name(level)));
    rc |= set_field(line, "service", json_text(log->service));
    rc |= set_field(line, "msg", json_text(msg ? msg : ""));
    for (size_t i = 0; i < count; i++) {
        const char *key = fields[i].key ? fields[i].key : "";
        char renamed[128];
        if (is_reserved_key(key)) {
            snprintf(renamed, sizeof renamed, "field.%s", key);
            key = renamed;
        }
        json_t *k = json_text(key);
        if (!k) {
            rc = -1;
            continue;
        }
        rc |= set_field(line, json_string_value(k), field_value(&fields[i]));
        json_decref(k);
    }
    char *text = json_dumps(line, JSON_COMPACT);
    json_decref(line);
    if (!text)
        return -1;
    size_t len = strlen(text);
    /* Append the newline in place so the line goes out in one write(). */
    char *with_newline = realloc(text, len + 2);
    if (!with_newline) {
        free(text);
        return -1;
    }
    with_newline[len] = '\n';
    with_newline[len + 1] = '\0';
    if (write_all(log->fd, with_newline, len + 1) != 0)
        rc = -1;
    free(with_newline);
    return rc == 0 ? 0 : -1;
}

__attribute__((format(printf, 3, 0))) static int emit_formatted(clog *log, clog_level level,
                                                                const char *fmt, va_list ap)
{
    if (!clog_enabled(log, level))
        return 0;
    /* A memory stream formats messages of any length in one pass over ap. */
    char *text = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&text, &len);
    if (!mem)
        return -1;
    /* ap comes from va_start in the caller; clang 14's analyzer misreads
     * va_list parameters as uninitialised. */
    // NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized)
    int n = vfprintf(mem, fmt, ap);
    if (fclose(mem) != 0 || n < 0) {
        free(text);
        return -1;
    }
    int rc = clog_emit(log, level, text, NULL, 0);
    free(text);
    return rc;
}

int clog_debugf(clog *log, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = emit_formatted(log, CLOG_DEBUG, fmt, ap);
    va_end(ap);
    return rc;
}

int clog_infof(clog *log, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = emit_formatted(log, CLOG_INFO, fmt, ap);
    va_end(ap);
    return rc;
}

int clog_warnf(clog *log, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = emit_formatted(log, CLOG_WARN, fmt, ap);
    va_end(ap);
    return rc;
}

int clog_errorf(clog *log, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = emit_formatted(log, CLOG_ERROR, fmt, ap);
    va_end(ap);
    return rc;
}
