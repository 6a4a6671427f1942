/*
 * log: structured logging as JSON lines on stderr (or any fd), one object per
 * line: {"ts":"2026-01-02T03:04:05.678Z","level":"info","service":"ingest",
 * "msg":"...", <fields>}. A logger is created in main and passed down; there
 * is no global logger. Every function is thread-safe: a line is built in
 * memory and written with a single write(), so lines from threads never
 * interleave. The minimum level can be changed at run time (atomic).
 *
 * Prefix: clog_ (plain log_ would read like libm's log()).
 */
#ifndef COMMON_LOG_H
#define COMMON_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum clog_level {
    CLOG_DEBUG = 0,
    CLOG_INFO = 1,
    CLOG_WARN = 2,
    CLOG_ERROR = 3,
} clog_level;

typedef struct clog clog;

typedef enum clog_field_type {
    CLOG_FIELD_STR,
    CLOG_FIELD_INT,
    CLOG_FIELD_DOUBLE,
    CLOG_FIELD_BOOL,
} clog_field_type;

/* One key/value pair of a line. Strings are borrowed for the call only. */
typedef struct clog_field {
    const char *key;
    clog_field_type type;
    union {
        const char *s;
        int64_t i;
        double d;
        bool b;
    } v;
} clog_field;

static inline clog_field clog_str(const char *key, const char *value)
{
    clog_field f = {.key = key, .type = CLOG_FIELD_STR, .v.s = value};
    return f;
}

static inline clog_field clog_int(const char *key, int64_t value)
{
    clog_field f = {.key = key, .type = CLOG_FIELD_INT, .v.i = value};
    return f;
}

static inline clog_field clog_double(const char *key, double value)
{
    clog_field f = {.key = key, .type = CLOG_FIELD_DOUBLE, .v.d = value};
    return f;
}

static inline clog_field clog_bool(const char *key, bool value)
{
    clog_field f = {.key = key, .type = CLOG_FIELD_BOOL, .v.b = value};
    return f;
}

/*
 * A logger for `service` writing to fd (2 for stderr; the fd stays the
 * caller's). Returns NULL when out of memory. Free with clog_free.
 */
clog *clog_new(const char *service, clog_level min_level, int fd);
void clog_free(clog *log);

/* "debug"/"info"/"warn"/"error" -> level; returns -1 for anything else. */
int clog_level_parse(const char *name, clog_level *out);
const char *clog_level_name(clog_level level);

void clog_set_level(clog *log, clog_level level);
clog_level clog_get_level(const clog *log);

/* True when a line at `level` would be written: lets callers skip building
 * expensive fields. NULL logger: false. */
bool clog_enabled(const clog *log, clog_level level);

/*
 * Writes one line with `count` fields. Keys "ts", "level", "service" and
 * "msg" are reserved and a field using one is renamed with a "field."
 * prefix. Invalid UTF-8 in any string is replaced by U+FFFD so that the line
 * stays valid JSON. Returns 0, or -1 if the line could not be built or
 * written (logging failures are reported, but a caller usually has nothing
 * better to do than carry on). A NULL logger writes nothing and returns 0.
 */
int clog_emit(clog *log, clog_level level, const char *msg, const clog_field *fields, size_t count);

/* printf-style message without fields. */
int clog_debugf(clog *log, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int clog_infof(clog *log, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int clog_warnf(clog *log, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int clog_errorf(clog *log, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
