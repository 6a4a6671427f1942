/*
 * config: declaration, parsing and lookup of settings (flags > env > default).
 * Hand-written rather than getopt_long because the table also drives the
 * environment lookup, typed validation and --help; see docs/decisions.md.
 */
#include "common/config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

enum value_source { FROM_DEFAULT, FROM_ENV, FROM_FLAG };

typedef struct cfg_value {
    char *str;   /* STRING, ENUM: owned copy */
    int64_t num; /* INT, DURATION (ns), SIZE (bytes) */
    bool flag;   /* BOOL */
    int choice;  /* ENUM index */
} cfg_value;

typedef struct cfg_entry {
    const cfg_setting *setting;
    char *default_override; /* owned; replaces setting->default_value */
    enum value_source source;
    bool has_value;
    cfg_value value;
} cfg_entry;

struct cfg {
    char *program;
    char *summary;
    cfg_entry *entries;
    size_t count;
    size_t cap;
    bool allow_positional;
    bool parsed;
    char **positional; /* borrowed pointers into argv */
    size_t positional_count;
    char error[512];
};

static const char *const log_level_choices[] = {"debug", "info", "warn", "error", NULL};

static const cfg_setting common_settings[] = {
    {.name = CFG_KAFKA_BROKERS,
     .flag = "--kafka-brokers",
     .env = "COLLAB_KAFKA_BROKERS",
     .type = CFG_STRING,
     .default_value = "127.0.0.1:9092",
     .help = "Kafka bootstrap servers, host:port[,host:port...]"},
    {.name = CFG_MONGO_URI,
     .flag = "--mongo-uri",
     .env = "COLLAB_MONGO_URI",
     .type = CFG_STRING,
     .default_value = "mongodb://127.0.0.1:27017",
     .help = "MongoDB connection URI (FerretDB locally, mongod in production)"},
    {.name = CFG_MONGO_DB,
     .flag = "--mongo-db",
     .env = "COLLAB_MONGO_DB",
     .type = CFG_STRING,
     .default_value = "collab",
     .help = "MongoDB database name"},
    {.name = CFG_REDIS_URL,
     .flag = "--redis-url",
     .env = "COLLAB_REDIS_URL",
     .type = CFG_STRING,
     .default_value = "redis://127.0.0.1:6379",
     .help = "Redis URL, redis://[:password@]host[:port][/db]"},
    {.name = CFG_METRICS_LISTEN,
     .flag = "--metrics-listen",
     .env = "COLLAB_METRICS_LISTEN",
     .type = CFG_STRING,
     .default_value = "127.0.0.1:9100",
     .help = "address:port of the /metrics, /healthz and /readyz HTTP endpoint"},
    {.name = CFG_LOG_LEVEL,
     .flag = "--log-level",
     .env = "COLLAB_LOG_LEVEL",
     .type = CFG_ENUM,
     .default_value = "info",
     .help = "lowest level of log lines written to stderr",
     .choices = log_level_choices},
    {.name = CFG_INSTANCE_ID,
     .flag = "--instance-id",
     .env = "COLLAB_INSTANCE_ID",
     .type = CFG_STRING,
     .default_value = "",
     .help = "name of this process in logs, metrics and Kafka client ids "
             "(empty: <hostname>-<pid>)"},
};

static void set_error(cfg *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void set_error(cfg *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->error, sizeof c->error, fmt, ap);
    va_end(ap);
}

cfg *cfg_new(const char *program, const char *summary)
{
    cfg *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    const char *base = program ? strrchr(program, '/') : NULL;
    c->program = strdup(base ? base + 1 : (program ? program : "collab"));
    c->summary = strdup(summary ? summary : "");
    if (!c->program || !c->summary) {
        cfg_free(c);
        return NULL;
    }
    return c;
}

static void value_clear(cfg_value *v)
{
    free(v->str);
    memset(v, 0, sizeof *v);
}

void cfg_free(cfg *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->count; i++) {
        free(c->entries[i].default_override);
        value_clear(&c->entries[i].value);
    }
    free(c->entries);
    free(c->positional);
    free(c->program);
    free(c->summary);
    free(c);
}

const char *cfg_error(const cfg *c)
{
    return c->error;
}

void cfg_allow_positional(cfg *c)
{
    c->allow_positional = true;
}

/* ---- value parsers ---- */

static bool mul_overflows(int64_t a, int64_t b, int64_t *out)
{
    return __builtin_mul_overflow(a, b, out);
}

static bool add_overflows(int64_t a, int64_t b, int64_t *out)
{
    return __builtin_add_overflow(a, b, out);
}

static int parse_int64(const char *text, int64_t *out)
{
    if (!text || !*text)
        return -1;
    errno = 0;
    char *end = NULL;
    long long v = strtoll(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0')
        return -1;
    *out = (int64_t)v;
    return 0;
}

int cfg_parse_bool(const char *text, bool *out)
{
    static const char *const yes[] = {"true", "1", "yes", "on"};
    static const char *const no[] = {"false", "0", "no", "off"};
    if (!text)
        return -1;
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(text, yes[i]) == 0) {
            *out = true;
            return 0;
        }
        if (strcasecmp(text, no[i]) == 0) {
            *out = false;
            return 0;
        }
    }
    return -1;
}

typedef struct unit_scale {
    const char *unit;
    int64_t scale;
} unit_scale;

static const unit_scale duration_units[] = {
    {"ns", 1},           {"us", 1000},         {"ms", 1000000},
    {"s", 1000000000LL}, {"m", 60000000000LL}, {"h", 3600000000000LL},
};

/* "1m30s", "1.5s", "250ms"; "0" alone needs no unit. */
int cfg_parse_duration_ns(const char *text, int64_t *out)
{
    if (!text || !*text)
        return -1;
    if (strcmp(text, "0") == 0) {
        *out = 0;
        return 0;
    }
    int64_t total = 0;
    const char *p = text;
    while (*p) {
        int64_t whole = 0;
        int64_t frac = 0;
        int64_t frac_div = 1;
        const char *start = p;
        while (*p >= '0' && *p <= '9') {
            if (mul_overflows(whole, 10, &whole) || add_overflows(whole, *p - '0', &whole))
                return -1;
            p++;
        }
        if (*p == '.') {
            p++;
            while (*p >= '0' && *p <= '9') {
                if (frac_div < 1000000000LL) { /* digits past the 9th: ignored */
                    frac = frac * 10 + (*p - '0');
                    frac_div *= 10;
                }
                p++;
            }
        }
        if (p == start || (p == start + 1 && *start == '.'))
            return -1;
        const char *unit_start = p;
        while ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z'))
            p++;
        size_t unit_len = (size_t)(p - unit_start);
        int64_t scale = 0;
        for (size_t i = 0; i < sizeof duration_units / sizeof duration_units[0]; i++) {
            if (strlen(duration_units[i].unit) == unit_len &&
                strncmp(unit_start, duration_units[i].unit, unit_len) == 0)
                scale = duration_units[i].scale;
        }
        if (scale == 0)
            return -1;
        int64_t part;
        if (mul_overflows(whole, scale, &part) || add_overflows(total, part, &total))
            return -1;
        /* frac < frac_div <= 1e9 and scale <= 3.6e12: the product needs more
         * than 64 bits, so it is computed in 128. */
        int64_t frac_ns = (int64_t)(((__int128)frac * scale) / frac_div);
        if (add_overflows(total, frac_ns, &total))
            return -1;
    }
    *out = total;
    return 0;
}

static const unit_scale size_units[] = {
    {"", 1},
    {"B", 1},
    {"KiB", 1024},
    {"MiB", 1024LL * 1024},
    {"GiB", 1024LL * 1024 * 1024},
    {"TiB", 1024LL * 1024 * 1024 * 1024},
    {"KB", 1000},
    {"MB", 1000LL * 1000},
    {"GB", 1000LL * 1000 * 1000},
    {"TB", 1000LL * 1000 * 1000 * 1000},
};

int cfg_parse_size(const char *text, int64_t *out)
{
    if (!text || !*text)
        return -1;
    const char *p = text;
    int64_t n = 0;
    while (*p >= '0' && *p <= '9') {
        if (mul_overflows(n, 10, &n) || add_overflows(n, *p - '0', &n))
            return -1;
        p++;
    }
    if (p == text)
        return -1;
    for (size_t i = 0; i < sizeof size_units / sizeof size_units[0]; i++) {
        if (strcasecmp(p, size_units[i].unit) == 0) {
            int64_t bytes;
            if (mul_overflows(n, size_units[i].scale, &bytes))
                return -1;
            *out = bytes;
            return 0;
        }
    }
    return -1;
}

static bool has_range(const cfg_setting *s)
{
    return s->min != 0 || s->max != 0;
}

static void format_duration(int64_t ns, char *out, size_t size)
{
    for (size_t i = sizeof duration_units / sizeof duration_units[0]; i-- > 0;) {
        if (ns != 0 && ns % duration_units[i].scale == 0) {
            snprintf(out, size, "%lld%s", (long long)(ns / duration_units[i].scale),
                     duration_units[i].unit);
            return;
        }
    }
    snprintf(out, size, "%lldns", (long long)ns);
}

static void format_size(int64_t bytes, char *out, size_t size)
{
    static const unit_scale binary[] = {{"TiB", 1024LL * 1024 * 1024 * 1024},
                                        {"GiB", 1024LL * 1024 * 1024},
                                        {"MiB", 1024LL * 1024},
                                        {"KiB", 1024}};
    for (size_t i = 0; i < 4; i++) {
        if (bytes != 0 && bytes % binary[i].scale == 0) {
            snprintf(out, size, "%lld%s", (long long)(bytes / binary[i].scale), binary[i].unit);
            return;
        }
    }
    snprintf(out, size, "%lldB", (long long)bytes);
}

/* What a valid value looks like, for errors and --help. */
static void describe_expected(const cfg_setting *s, char *out, size_t size)
{
    char lo[32], hi[32];
    switch (s->type) {
    case CFG_STRING:
        snprintf(out, size, "a string");
        return;
    case CFG_BOOL:
        snprintf(out, size, "true or false");
        return;
    case CFG_INT:
        if (has_range(s))
            snprintf(out, size, "an integer in [%lld, %lld]", (long long)s->min, (long long)s->max);
        else
            snprintf(out, size, "an integer");
        return;
    case CFG_DURATION:
        if (has_range(s)) {
            format_duration(s->min, lo, sizeof lo);
            format_duration(s->max, hi, sizeof hi);
            snprintf(out, size, "a duration like 250ms or 5s in [%s, %s]", lo, hi);
        } else {
            snprintf(out, size, "a duration like 250ms or 5s");
        }
        return;
    case CFG_SIZE:
        if (has_range(s)) {
            format_size(s->min, lo, sizeof lo);
            format_size(s->max, hi, sizeof hi);
            snprintf(out, size, "a size like 512KiB or 1MiB in [%s, %s]", lo, hi);
        } else {
            snprintf(out, size, "a size like 512KiB or 1MiB");
        }
        return;
    case CFG_ENUM: {
        size_t used = (size_t)snprintf(out, size, "one of ");
        for (size_t i = 0; s->choices && s->choices[i] && used < size; i++)
            used += (size_t)snprintf(out + used, size - used, "%s%s", i ? "|" : "", s->choices[i]);
        return;
    }
    }
    snprintf(out, size, "?");
}

/* Parses text as s's type into v (cleared first). Returns 0 or -1. */
static int parse_value(const cfg_setting *s, const char *text, cfg_value *v)
{
    value_clear(v);
    switch (s->type) {
    case CFG_STRING:
        v->str = strdup(text);
        return v->str ? 0 : -1;
    case CFG_BOOL:
        return cfg_parse_bool(text, &v->flag);
    case CFG_INT:
        if (parse_int64(text, &v->num) != 0)
            return -1;
        break;
    case CFG_DURATION:
        if (cfg_parse_duration_ns(text, &v->num) != 0)
            return -1;
        break;
    case CFG_SIZE:
        if (cfg_parse_size(text, &v->num) != 0)
            return -1;
        break;
    case CFG_ENUM:
        for (int i = 0; s->choices && s->choices[i]; i++) {
            if (strcmp(text, s->choices[i]) == 0) {
                v->choice = i;
                v->str = strdup(text);
                return v->str ? 0 : -1;
            }
        }
        return -1;
    }
    if (has_range(s) && (v->num < s->min || v->num > s->max))
        return -1;
    return 0;
}

/* ---- declaration ---- */

static cfg_entry *find_entry(const cfg *c, const char *name)
{
    for (size_t i = 0; i < c->count; i++) {
        if (strcmp(c->entries[i].setting->name, name) == 0)
            return &c->entries[i];
    }
    return NULL;
}

static const char *entry_default(const cfg_entry *e)
{
    return e->default_override ? e->default_override : e->setting->default_value;
}

static int check_declaration(cfg *c, const cfg_setting *s)
{
    if (!s->name || !*s->name || !s->flag || strncmp(s->flag, "--", 2) != 0 || !s->flag[2]) {
        set_error(c, "setting '%s' needs a name and a flag starting with --",
                  s->name ? s->name : "(null)");
        return -1;
    }
    for (size_t i = 0; i < c->count; i++) {
        const cfg_setting *o = c->entries[i].setting;
        if (strcmp(o->name, s->name) == 0 || strcmp(o->flag, s->flag) == 0 ||
            (o->env && s->env && strcmp(o->env, s->env) == 0)) {
            set_error(c, "setting '%s' is declared twice (name, flag or variable)", s->name);
            return -1;
        }
    }
    if (strcmp(s->flag, "--help") == 0) {
        set_error(c, "setting '%s' cannot use the flag --help", s->name);
        return -1;
    }
    if (s->type == CFG_ENUM && (!s->choices || !s->choices[0])) {
        set_error(c, "enum setting '%s' has no choices", s->name);
        return -1;
    }
    if (has_range(s) && s->min > s->max) {
        set_error(c, "setting '%s' has min > max", s->name);
        return -1;
    }
    if (s->default_value) {
        cfg_value probe = {0};
        int rc = parse_value(s, s->default_value, &probe);
        value_clear(&probe);
        if (rc != 0) {
            set_error(c, "setting '%s' has an invalid default \"%s\"", s->name,
                      s->secret ? "(secret)" : s->default_value);
            return -1;
        }
    }
    return 0;
}

int cfg_add(cfg *c, const cfg_setting *settings, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        if (check_declaration(c, &settings[i]) != 0)
            return -1;
        if (c->count == c->cap) {
            size_t cap = c->cap ? c->cap * 2 : 16;
            cfg_entry *grown = realloc(c->entries, cap * sizeof *grown);
            if (!grown) {
                set_error(c, "out of memory");
                return -1;
            }
            c->entries = grown;
            c->cap = cap;
        }
        cfg_entry *e = &c->entries[c->count++];
        memset(e, 0, sizeof *e);
        e->setting = &settings[i];
    }
    return 0;
}

int cfg_add_common(cfg *c)
{
    return cfg_add(c, common_settings, sizeof common_settings / sizeof common_settings[0]);
}

int cfg_set_default(cfg *c, const char *name, const char *value)
{
    cfg_entry *e = find_entry(c, name);
    if (!e) {
        set_error(c, "cannot set the default of undeclared setting '%s'", name);
        return -1;
    }
    cfg_value probe = {0};
    int rc = parse_value(e->setting, value, &probe);
    value_clear(&probe);
    if (rc != 0) {
        set_error(c, "invalid default \"%s\" for %s", e->setting->secret ? "(secret)" : value,
                  e->setting->flag);
        return -1;
    }
    char *copy = strdup(value);
    if (!copy) {
        set_error(c, "out of memory");
        return -1;
    }
    free(e->default_override);
    e->default_override = copy;
    return 0;
}

/* ---- parsing ---- */

static const char *lookup_env(char *const envp[], const char *name)
{
    if (!name)
        return NULL;
    const char *value = NULL;
    if (!envp) {
        value = getenv(name);
    } else {
        size_t len = strlen(name);
        for (size_t i = 0; envp[i]; i++) {
            if (strncmp(envp[i], name, len) == 0 && envp[i][len] == '=') {
                value = envp[i] + len + 1;
                break;
            }
        }
    }
    return value && *value ? value : NULL;
}

static void invalid_value_error(cfg *c, const cfg_setting *s, const char *text,
                                enum value_source from)
{
    char expected[256];
    describe_expected(s, expected, sizeof expected);
    if (s->secret)
        text = "(secret)";
    if (from == FROM_ENV)
        set_error(c, "invalid value \"%s\" in %s (%s): expected %s", text, s->env, s->flag,
                  expected);
    else
        set_error(c, "invalid value \"%s\" for %s%s%s%s: expected %s", text, s->flag,
                  s->env ? " (" : "", s->env ? s->env : "", s->env ? ")" : "", expected);
}

/* The entry whose flag matches arg up to '=' (or its --no- form for bools). */
static cfg_entry *match_flag(cfg *c, const char *arg, size_t name_len, bool *negated)
{
    *negated = false;
    for (size_t i = 0; i < c->count; i++) {
        const char *flag = c->entries[i].setting->flag;
        if (strlen(flag) == name_len && strncmp(flag, arg, name_len) == 0)
            return &c->entries[i];
    }
    if (name_len > 5 && strncmp(arg, "--no-", 5) == 0) {
        for (size_t i = 0; i < c->count; i++) {
            const cfg_setting *s = c->entries[i].setting;
            if (s->type == CFG_BOOL && strlen(s->flag) == name_len - 3 &&
                strncmp(s->flag + 2, arg + 5, name_len - 5) == 0) {
                *negated = true;
                return &c->entries[i];
            }
        }
    }
    return NULL;
}

/* Records a flag's raw text per entry: the last occurrence wins. */
typedef struct flag_text {
    const char *text;
    bool given;
} flag_text;

static cfg_status scan_args(cfg *c, int argc, char *const argv[], flag_text *given)
{
    bool only_positional = false;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (only_positional || strncmp(arg, "-", 1) != 0 || strcmp(arg, "-") == 0) {
            if (!c->allow_positional) {
                set_error(c, "unexpected argument \"%s\" (see --help)", arg);
                return CFG_INVALID;
            }
            c->positional[c->positional_count++] = argv[i];
            continue;
        }
        if (strcmp(arg, "--") == 0) {
            only_positional = true;
            continue;
        }
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0)
            return CFG_HELP;
        const char *eq = strchr(arg, '=');
        size_t name_len = eq ? (size_t)(eq - arg) : strlen(arg);
        bool negated;
        cfg_entry *e = strncmp(arg, "--", 2) == 0 ? match_flag(c, arg, name_len, &negated) : NULL;
        if (!e) {
            set_error(c, "unknown flag %.*s (see --help)", (int)name_len, arg);
            return CFG_INVALID;
        }
        size_t idx = (size_t)(e - c->entries);
        const cfg_setting *s = e->setting;
        if (negated) {
            if (eq) {
                set_error(c, "flag --no-%s takes no value", s->flag + 2);
                return CFG_INVALID;
            }
            given[idx].text = "false";
        } else if (eq) {
            given[idx].text = eq + 1;
        } else if (s->type == CFG_BOOL) {
            given[idx].text = "true";
        } else if (i + 1 < argc) {
            given[idx].text = argv[++i];
        } else {
            set_error(c, "flag %s needs a value", s->flag);
            return CFG_INVALID;
        }
        given[idx].given = true;
    }
    return CFG_OK;
}

cfg_status cfg_parse(cfg *c, int argc, char *const argv[], char *const envp[])
{
    if (c->parsed) {
        set_error(c, "settings were already parsed");
        return CFG_INVALID;
    }
    c->parsed = true;
    c->error[0] = '\0';
    free(c->positional);
    c->positional = calloc((size_t)(argc > 0 ? argc : 1), sizeof *c->positional);
    flag_text *given = calloc(c->count ? c->count : 1, sizeof *given);
    if (!c->positional || !given) {
        free(given);
        set_error(c, "out of memory");
        return CFG_INVALID;
    }
    cfg_status status = scan_args(c, argc, argv, given);
    for (size_t i = 0; status == CFG_OK && i < c->count; i++) {
        cfg_entry *e = &c->entries[i];
        const cfg_setting *s = e->setting;
        const char *text;
        if (given[i].given) {
            text = given[i].text;
            e->source = FROM_FLAG;
        } else if ((text = lookup_env(envp, s->env)) != NULL) {
            e->source = FROM_ENV;
        } else {
            text = entry_default(e);
            e->source = FROM_DEFAULT;
        }
        if (!text) {
            set_error(c, "missing required setting %s%s%s", s->flag, s->env ? " or " : "",
                      s->env ? s->env : "");
            status = CFG_INVALID;
            break;
        }
        if (parse_value(s, text, &e->value) != 0) {
            invalid_value_error(c, s, text, e->source);
            status = CFG_INVALID;
            break;
        }
        e->has_value = true;
    }
    free(given);
    return status;
}

int cfg_print_help(const cfg *c, FILE *out)
{
    int rc = 0;
    if (fprintf(out, "usage: %s [flags]%s\n", c->program, c->allow_positional ? " [args...]" : "") <
        0)
        rc = -1;
    if (c->summary[0] && fprintf(out, "%s\n", c->summary) < 0)
        rc = -1;
    if (fprintf(out, "\nFlags (each can also be set by the environment variable shown; a flag "
                     "wins over\nthe variable, the variable over the default):\n") < 0)
        rc = -1;
    for (size_t i = 0; i < c->count; i++) {
        const cfg_entry *e = &c->entries[i];
        const cfg_setting *s = e->setting;
        static const char *const type_names[] = {"STRING",   "INT",  "BOOL",
                                                 "DURATION", "SIZE", "ENUM"};
        char expected[256];
        describe_expected(s, expected, sizeof expected);
        const char *def = entry_default(e);
        if (s->secret && def && def[0])
            def = "(secret)";
        if (s->type == CFG_BOOL)
            rc |= fprintf(out, "  %s[=BOOL], --no-%s\n", s->flag, s->flag + 2) < 0 ? -1 : 0;
        else
            rc |= fprintf(out, "  %s=%s\n", s->flag, type_names[s->type]) < 0 ? -1 : 0;
        rc |= fprintf(out, "      %s\n", s->help ? s->help : "") < 0 ? -1 : 0;
        rc |= fprintf(out, "      %s%s%s%s%s%s; %s\n", s->env ? "env " : "", s->env ? s->env : "",
                      s->env ? "; " : "", def ? "default \"" : "required", def ? def : "",
                      def ? "\"" : "", expected) < 0
                  ? -1
                  : 0;
    }
    rc |= fprintf(out, "  --help, -h\n      print this help and exit\n") < 0 ? -1 : 0;
    return rc;
}

int cfg_parse_cli(cfg *c, int argc, char *const argv[], char *const envp[], FILE *out, FILE *err)
{
    switch (cfg_parse(c, argc, argv, envp)) {
    case CFG_OK:
        return CFG_RUN;
    case CFG_HELP:
        return cfg_print_help(c, out) == 0 && fflush(out) == 0 ? 0 : 1;
    case CFG_INVALID:
        break;
    }
    fprintf(err, "%s: %s\n", c->program, c->error);
    return 2;
}

/* ---- getters ---- */

static const cfg_entry *get_entry(const cfg *c, const char *name, cfg_type type)
{
    const cfg_entry *e = find_entry(c, name);
    if (!e || e->setting->type != type || !e->has_value) {
        fprintf(stderr, "%s: bug: setting '%s' %s\n", c->program, name,
                !e ? "is not declared"
                   : (e->setting->type != type ? "read with the wrong type" : "read before parse"));
        abort();
    }
    return e;
}

const char *cfg_string(const cfg *c, const char *name)
{
    return get_entry(c, name, CFG_STRING)->value.str;
}

int64_t cfg_int(const cfg *c, const char *name)
{
    return get_entry(c, name, CFG_INT)->value.num;
}

bool cfg_bool(const cfg *c, const char *name)
{
    return get_entry(c, name, CFG_BOOL)->value.flag;
}

int64_t cfg_duration_ns(const cfg *c, const char *name)
{
    return get_entry(c, name, CFG_DURATION)->value.num;
}

int64_t cfg_duration_ms(const cfg *c, const char *name)
{
    return cfg_duration_ns(c, name) / 1000000;
}

int64_t cfg_size(const cfg *c, const char *name)
{
    return get_entry(c, name, CFG_SIZE)->value.num;
}

const char *cfg_enum(const cfg *c, const char *name)
{
    return get_entry(c, name, CFG_ENUM)->value.str;
}

int cfg_enum_index(const cfg *c, const char *name)
{
    return get_entry(c, name, CFG_ENUM)->value.choice;
}

const char *cfg_source(const cfg *c, const char *name)
{
    const cfg_entry *e = find_entry(c, name);
    if (!e || !e->has_value)
        return NULL;
    static const char *const names[] = {"default", "env", "flag"};
    return names[e->source];
}

size_t cfg_positional_count(const cfg *c)
{
    return c->positional_count;
}

const char *cfg_positional(const cfg *c, size_t i)
{
    return i < c->positional_count ? c->positional[i] : NULL;
}

int cfg_instance_id(const cfg *c, char *out, size_t size)
{
    const char *id = cfg_string(c, CFG_INSTANCE_ID);
    int n;
    if (id[0]) {
        n = snprintf(out, size, "%s", id);
    } else {
        char host[256];
        if (gethostname(host, sizeof host) != 0)
            snprintf(host, sizeof host, "localhost");
        host[sizeof host - 1] = '\0';
        n = snprintf(out, size, "%s-%ld", host, (long)getpid());
    }
    return n >= 0 && (size_t)n < size ? 0 : -1;
}
