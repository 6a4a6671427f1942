/*
 * config: a service's settings from command-line flags and environment
 * variables. A service declares a table of cfg_setting (name, flag, variable,
 * type, default, help), usually after cfg_add_common() for the settings every
 * service shares (Kafka, MongoDB, Redis, metrics address, log level, instance
 * id). cfg_parse() applies, per setting, the first of: the last flag given,
 * the environment variable (an empty variable counts as unset), the default.
 * `--help` lists every setting with its flag, variable, type and default.
 * An invalid value, unknown flag or missing required setting gives a one-line
 * error naming the setting; main exits 2 (cfg_parse_cli does all of this).
 *
 * Types: string; int (optional [min, max]); bool (true/false, 1/0, yes/no,
 * on/off; a bare --flag means true, --no-flag false); duration ("250ms",
 * "5s", "1m30s", "1.5h"; units ns us ms s m h; stored in nanoseconds); size
 * ("512", "64KiB", "1MiB", "10MB"; stored in bytes); enum (one of a list).
 *
 * Threading: build and parse in main; afterwards the getters only read and
 * may be called from any thread. Prefix: cfg_.
 */
#ifndef COMMON_CONFIG_H
#define COMMON_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef enum cfg_type {
    CFG_STRING,
    CFG_INT,
    CFG_BOOL,
    CFG_DURATION,
    CFG_SIZE,
    CFG_ENUM,
} cfg_type;

typedef struct cfg_setting {
    const char *name; /* key for the getters: "kafka_brokers" */
    const char *flag; /* "--kafka-brokers" */
    const char *env;  /* "COLLAB_KAFKA_BROKERS", or NULL: flag only */
    cfg_type type;
    const char *default_value; /* text parsed like user input; NULL = required */
    const char *help;          /* one line */
    /* INT, DURATION (ns) and SIZE (bytes): accepted range, inclusive. Both 0
     * means no range beyond the type's own (sizes and durations are >= 0). */
    int64_t min;
    int64_t max;
    const char *const *choices; /* ENUM: NULL-terminated list of values */
    bool secret;                /* a password or key: never echoed in errors or --help */
} cfg_setting;

typedef struct cfg cfg;

/* Names of the shared settings, for the getters. */
#define CFG_KAFKA_BROKERS  "kafka_brokers"
#define CFG_MONGO_URI      "mongo_uri"
#define CFG_MONGO_DB       "mongo_db"
#define CFG_REDIS_URL      "redis_url"
#define CFG_METRICS_LISTEN "metrics_listen"
#define CFG_LOG_LEVEL      "log_level"
#define CFG_INSTANCE_ID    "instance_id"

typedef enum cfg_status {
    CFG_OK = 0,      /* settings parsed: run */
    CFG_HELP = 1,    /* --help was given: print help, exit 0 */
    CFG_INVALID = 2, /* cfg_error() says why: exit 2 */
} cfg_status;

/* Returned by cfg_parse_cli when the program should go on running. */
#define CFG_RUN (-1)

/*
 * A new, empty configuration for `program` (shown in --help and errors) with
 * a one-line summary. NULL when out of memory. Free with cfg_free.
 */
cfg *cfg_new(const char *program, const char *summary);
void cfg_free(cfg *c);

/*
 * Declares `count` settings. The table is borrowed (keep it static const).
 * Returns 0, or -1 for a malformed declaration (duplicate name or flag, bad
 * default, enum without choices...) with cfg_error() saying which: that is a
 * programming error, caught by the first run of --help.
 */
int cfg_add(cfg *c, const cfg_setting *settings, size_t count);

/* Declares the shared settings (the CFG_* names above). Returns 0 or -1. */
int cfg_add_common(cfg *c);

/* Replaces the default of a declared setting (copied), e.g. a per-service
 * metrics port. Returns 0, or -1 (unknown name or invalid value). */
int cfg_set_default(cfg *c, const char *name, const char *value);

/* Allows arguments that are not flags (a tool's file names); without this
 * call they are an error. */
void cfg_allow_positional(cfg *c);

/*
 * Parses argv (argv[0] is skipped) and the environment: envp as given to
 * main or `environ`; NULL reads getenv(). May be called once.
 */
cfg_status cfg_parse(cfg *c, int argc, char *const argv[], char *const envp[]);

/* The last error as one line without a trailing newline ("" if none). */
const char *cfg_error(const cfg *c);

/* Writes the usage text with every setting. Returns 0 or -1 on write error. */
int cfg_print_help(const cfg *c, FILE *out);

/*
 * cfg_parse plus the usual reaction: help to `out` and 0, or
 * "program: error" to `err` and 2, or CFG_RUN when the program should run.
 *     int code = cfg_parse_cli(c, argc, argv, NULL, stdout, stderr);
 *     if (code != CFG_RUN) { cfg_free(c); return code; }
 */
int cfg_parse_cli(cfg *c, int argc, char *const argv[], char *const envp[], FILE *out, FILE *err);

/*
 * Getters. The name must be declared with the matching type: asking for an
 * undeclared name or the wrong type is a programming error and aborts with a
 * message (it cannot happen in a program that ran its tests once). Returned
 * strings belong to c.
 */
const char *cfg_string(const cfg *c, const char *name);
int64_t cfg_int(const cfg *c, const char *name);
bool cfg_bool(const cfg *c, const char *name);
int64_t cfg_duration_ns(const cfg *c, const char *name);
int64_t cfg_duration_ms(const cfg *c, const char *name); /* rounded down */
int64_t cfg_size(const cfg *c, const char *name);
const char *cfg_enum(const cfg *c, const char *name);
int cfg_enum_index(const cfg *c, const char *name); /* index in choices */

/* Where the value came from: "default", "env" or "flag". */
const char *cfg_source(const cfg *c, const char *name);

/* Arguments that were not flags (see cfg_allow_positional). */
size_t cfg_positional_count(const cfg *c);
const char *cfg_positional(const cfg *c, size_t i);

/*
 * The instance id: the instance_id setting when set, else "<hostname>-<pid>".
 * Writes at most size bytes (NUL included). Returns 0, or -1 if truncated.
 */
int cfg_instance_id(const cfg *c, char *out, size_t size);

/* Parsers behind the types, exposed for reuse and tests. Return 0 or -1. */
int cfg_parse_duration_ns(const char *text, int64_t *out);
int cfg_parse_size(const char *text, int64_t *out);
int cfg_parse_bool(const char *text, bool *out);

#endif
