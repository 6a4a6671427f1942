/*
 * metrics: registry, lock-free updates and Prometheus text rendering.
 * Doubles that are updated concurrently (gauges, histogram sums) are kept as
 * their bit pattern in an atomic uint64 and changed with a CAS loop. See
 * metrics.h for the model and threading rules.
 */
#include "common/metrics.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"

const double metrics_latency_buckets[METRICS_LATENCY_BUCKET_COUNT] = {
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};

/* Every child starts with its label values (owned, label_count of them). */
typedef struct child_header {
    char **label_values;
} child_header;

struct metrics_counter {
    child_header h;
    _Atomic uint64_t value;
};

struct metrics_gauge {
    child_header h;
    _Atomic uint64_t bits; /* a double */
};

struct metrics_histogram {
    child_header h;
    size_t bucket_count;       /* finite bounds; counts has one more (+Inf) */
    const double *bounds;      /* the family's */
    _Atomic uint64_t sum_bits; /* a double */
    _Atomic uint64_t *counts;  /* per bucket, not cumulative */
};

struct metrics_family {
    metrics_type type;
    char *name;
    char *help;
    char **label_names;
    size_t label_count;
    double *bounds;
    size_t bucket_count;
    pthread_mutex_t lock; /* guards children and child_count */
    void **children;
    size_t child_count;
    size_t child_cap;
    struct metrics_family *next;
};

typedef struct collector {
    metrics_collector_fn fn;
    void *userdata;
    struct collector *next;
} collector;

struct metrics_registry {
    pthread_mutex_t lock; /* guards the family and collector lists */
    metrics_family *first;
    metrics_family *last;
    collector *collectors;
    collector *last_collector;
};

const char *metrics_status_text(metrics_status status)
{
    switch (status) {
    case METRICS_OK:
        return "ok";
    case METRICS_ERR_NAME:
        return "metric name breaks the Prometheus naming rules";
    case METRICS_ERR_LABEL:
        return "label name invalid, reserved or repeated";
    case METRICS_ERR_DUPLICATE:
        return "a metric with that name is already registered";
    case METRICS_ERR_BUCKETS:
        return "histogram buckets must be finite and strictly increasing";
    case METRICS_ERR_NOMEM:
        return "out of memory";
    }
    return "unknown metrics status";
}

/* ---- atomic doubles ---- */

static uint64_t double_bits(double v)
{
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    return bits;
}

static double bits_double(uint64_t bits)
{
    double v;
    memcpy(&v, &bits, sizeof v);
    return v;
}

static void atomic_double_add(_Atomic uint64_t *cell, double delta)
{
    uint64_t old = atomic_load_explicit(cell, memory_order_relaxed);
    while (!atomic_compare_exchange_weak_explicit(cell, &old, double_bits(bits_double(old) + delta),
                                                  memory_order_relaxed, memory_order_relaxed)) {
    }
}

/* ---- naming rules ---- */

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

static bool identifier_valid(const char *name)
{
    if (!name || !*name)
        return false;
    for (const char *p = name; *p; p++) {
        bool alpha = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || *p == '_';
        bool digit = *p >= '0' && *p <= '9';
        if (!alpha && !(digit && p != name))
            return false;
    }
    return true;
}

/* Units that have a base unit Prometheus prefers (seconds, bytes, ratios). */
static const char *const non_base_units[] = {
    "milliseconds", "microseconds", "nanoseconds", "minutes",   "hours",     "days", "ms", "us",
    "ns",           "millis",       "kilobytes",   "megabytes", "gigabytes", "kb",   "mb", "gb",
    "kib",          "mib",          "gib",         "bits",      "percent",   NULL};

bool metrics_name_valid(metrics_type type, const char *name)
{
    if (!identifier_valid(name))
        return false;
    bool total = ends_with(name, "_total");
    if ((type == METRICS_COUNTER) != total)
        return false;
    if (type == METRICS_HISTOGRAM &&
        (ends_with(name, "_bucket") || ends_with(name, "_sum") || ends_with(name, "_count")))
        return false;
    /* The unit is the last word, before "_total" for counters. */
    size_t len = strlen(name) - (total ? strlen("_total") : 0);
    size_t start = len;
    while (start > 0 && name[start - 1] != '_')
        start--;
    for (size_t i = 0; non_base_units[i]; i++) {
        if (strlen(non_base_units[i]) == len - start &&
            strncmp(name + start, non_base_units[i], len - start) == 0)
            return false;
    }
    return true;
}

bool metrics_label_name_valid(metrics_type type, const char *name)
{
    if (!identifier_valid(name) || strncmp(name, "__", 2) == 0)
        return false;
    return !(type == METRICS_HISTOGRAM && strcmp(name, "le") == 0);
}

/* ---- registry ---- */

metrics_registry *metrics_registry_new(void)
{
    metrics_registry *reg = calloc(1, sizeof *reg);
    if (!reg)
        return NULL;
    if (pthread_mutex_init(&reg->lock, NULL) != 0) {
        free(reg);
        return NULL;
    }
    return reg;
}

static void free_strings(char **strings, size_t count)
{
    if (!strings)
        return;
    for (size_t i = 0; i < count; i++)
        free(strings[i]);
    free(strings);
}

static void child_free(metrics_family *fam, void *child)
{
    child_header *h = child;
    free_strings(h->label_values, fam->label_count);
    if (fam->type == METRICS_HISTOGRAM)
        free(((metrics_histogram *)child)->counts);
    free(child);
}

static void family_free(metrics_family *fam)
{
    if (!fam)
        return;
    for (size_t i = 0; i < fam->child_count; i++)
        child_free(fam, fam->children[i]);
    free(fam->children);
    free_strings(fam->label_names, fam->label_count);
    free(fam->bounds);
    free(fam->name);
    free(fam->help);
    pthread_mutex_destroy(&fam->lock);
    free(fam);
}

void metrics_registry_free(metrics_registry *reg)
{
    if (!reg)
        return;
    for (metrics_family *f = reg->first; f;) {
        metrics_family *next = f->next;
        family_free(f);
        f = next;
    }
    for (collector *c = reg->collectors; c;) {
        collector *next = c->next;
        free(c);
        c = next;
    }
    pthread_mutex_destroy(&reg->lock);
    free(reg);
}

static char **copy_strings(const char *const *strings, size_t count)
{
    char **copy = calloc(count ? count : 1, sizeof *copy);
    if (!copy)
        return NULL;
    for (size_t i = 0; i < count; i++) {
        copy[i] = strdup(strings && strings[i] ? strings[i] : "");
        if (!copy[i]) {
            free_strings(copy, i);
            return NULL;
        }
    }
    return copy;
}

static metrics_status check_family(metrics_type type, const char *name,
                                   const char *const *label_names, size_t label_count,
                                   const double *buckets, size_t bucket_count)
{
    if (!metrics_name_valid(type, name))
        return METRICS_ERR_NAME;
    for (size_t i = 0; i < label_count; i++) {
        if (!metrics_label_name_valid(type, label_names[i]))
            return METRICS_ERR_LABEL;
        for (size_t j = 0; j < i; j++) {
            if (strcmp(label_names[i], label_names[j]) == 0)
                return METRICS_ERR_LABEL;
        }
    }
    if (type == METRICS_HISTOGRAM) {
        for (size_t i = 0; i < bucket_count; i++) {
            if (!isfinite(buckets[i]) || (i > 0 && !(buckets[i] > buckets[i - 1])))
                return METRICS_ERR_BUCKETS;
        }
    }
    return METRICS_OK;
}

metrics_status metrics_family_new(metrics_registry *reg, metrics_type type, const char *name,
                                  const char *help, const char *const *label_names,
                                  size_t label_count, const double *buckets, size_t bucket_count,
                                  metrics_family **out)
{
    if (type != METRICS_HISTOGRAM)
        bucket_count = 0;
    /* A trailing +Inf bound is implicit anyway: accept and drop it. */
    if (bucket_count > 0 && isinf(buckets[bucket_count - 1]) && buckets[bucket_count - 1] > 0)
        bucket_count--;
    metrics_status st = check_family(type, name, label_names, label_count, buckets, bucket_count);
    if (st != METRICS_OK)
        return st;
    metrics_family *fam = calloc(1, sizeof *fam);
    if (!fam)
        return METRICS_ERR_NOMEM;
    fam->type = type;
    fam->label_count = label_count;
    fam->bucket_count = bucket_count;
    fam->name = strdup(name);
    fam->help = strdup(help ? help : "");
    fam->label_names = copy_strings(label_names, label_count);
    fam->bounds = calloc(bucket_count ? bucket_count : 1, sizeof *fam->bounds);
    if (!fam->name || !fam->help || !fam->label_names || !fam->bounds ||
        pthread_mutex_init(&fam->lock, NULL) != 0) {
        free_strings(fam->label_names, label_count);
        free(fam->name);
        free(fam->help);
        free(fam->bounds);
        free(fam);
        return METRICS_ERR_NOMEM;
    }
    if (bucket_count)
        memcpy(fam->bounds, buckets, bucket_count * sizeof *buckets);

    pthread_mutex_lock(&reg->lock);
    for (metrics_family *f = reg->first; f; f = f->next) {
        if (strcmp(f->name, name) == 0) {
            pthread_mutex_unlock(&reg->lock);
            family_free(fam);
            return METRICS_ERR_DUPLICATE;
        }
    }
    if (reg->last)
        reg->last->next = fam;
    else
        reg->first = fam;
    reg->last = fam;
    pthread_mutex_unlock(&reg->lock);
    *out = fam;
    return METRICS_OK;
}

static void *child_new(metrics_family *fam, const char *const *label_values)
{
    size_t size = fam->type == METRICS_COUNTER ? sizeof(metrics_counter)
                  : fam->type == METRICS_GAUGE ? sizeof(metrics_gauge)
                                               : sizeof(metrics_histogram);
    child_header *h = calloc(1, size);
    if (!h)
        return NULL;
    h->label_values = copy_strings(label_values, fam->label_count);
    if (!h->label_values) {
        free(h);
        return NULL;
    }
    if (fam->type == METRICS_HISTOGRAM) {
        metrics_histogram *hist = (metrics_histogram *)h;
        hist->bucket_count = fam->bucket_count;
        hist->bounds = fam->bounds;
        hist->counts = calloc(fam->bucket_count + 1, sizeof *hist->counts);
        if (!hist->counts) {
            child_free(fam, h);
            return NULL;
        }
        for (size_t i = 0; i <= fam->bucket_count; i++)
            atomic_init(&hist->counts[i], 0);
        atomic_init(&hist->sum_bits, double_bits(0.0));
    } else if (fam->type == METRICS_GAUGE) {
        atomic_init(&((metrics_gauge *)h)->bits, double_bits(0.0));
    } else {
        atomic_init(&((metrics_counter *)h)->value, 0);
    }
    return h;
}

static bool values_equal(const metrics_family *fam, const child_header *h,
                         const char *const *values)
{
    for (size_t i = 0; i < fam->label_count; i++) {
        if (strcmp(h->label_values[i], values && values[i] ? values[i] : "") != 0)
            return false;
    }
    return true;
}

static void *family_child(metrics_family *fam, metrics_type type, const char *const *values)
{
    if (!fam || fam->type != type)
        return NULL;
    pthread_mutex_lock(&fam->lock);
    void *found = NULL;
    for (size_t i = 0; i < fam->child_count && !found; i++) {
        if (values_equal(fam, fam->children[i], values))
            found = fam->children[i];
    }
    if (!found) {
        if (fam->child_count == fam->child_cap) {
            size_t cap = fam->child_cap ? fam->child_cap * 2 : 4;
            void **grown = realloc(fam->children, cap * sizeof *grown);
            if (grown) {
                fam->children = grown;
                fam->child_cap = cap;
            }
        }
        if (fam->child_count < fam->child_cap) {
            found = child_new(fam, values);
            if (found)
                fam->children[fam->child_count++] = found;
        }
    }
    pthread_mutex_unlock(&fam->lock);
    return found;
}

metrics_counter *metrics_family_counter(metrics_family *fam, const char *const *label_values)
{
    return family_child(fam, METRICS_COUNTER, label_values);
}

metrics_gauge *metrics_family_gauge(metrics_family *fam, const char *const *label_values)
{
    return family_child(fam, METRICS_GAUGE, label_values);
}

metrics_histogram *metrics_family_histogram(metrics_family *fam, const char *const *label_values)
{
    return family_child(fam, METRICS_HISTOGRAM, label_values);
}

static metrics_status unlabelled(metrics_registry *reg, metrics_type type, const char *name,
                                 const char *help, const double *buckets, size_t bucket_count,
                                 void **out)
{
    metrics_family *fam;
    metrics_status st =
        metrics_family_new(reg, type, name, help, NULL, 0, buckets, bucket_count, &fam);
    if (st != METRICS_OK)
        return st;
    /* The family stays registered even if this fails; the registry frees it. */
    void *child = family_child(fam, type, NULL);
    if (!child)
        return METRICS_ERR_NOMEM;
    *out = child;
    return METRICS_OK;
}

metrics_status metrics_counter_new(metrics_registry *reg, const char *name, const char *help,
                                   metrics_counter **out)
{
    void *child;
    metrics_status st = unlabelled(reg, METRICS_COUNTER, name, help, NULL, 0, &child);
    if (st == METRICS_OK)
        *out = child;
    return st;
}

metrics_status metrics_gauge_new(metrics_registry *reg, const char *name, const char *help,
                                 metrics_gauge **out)
{
    void *child;
    metrics_status st = unlabelled(reg, METRICS_GAUGE, name, help, NULL, 0, &child);
    if (st == METRICS_OK)
        *out = child;
    return st;
}

metrics_status metrics_histogram_new(metrics_registry *reg, const char *name, const char *help,
                                     const double *buckets, size_t bucket_count,
                                     metrics_histogram **out)
{
    void *child;
    metrics_status st =
        unlabelled(reg, METRICS_HISTOGRAM, name, help, buckets, bucket_count, &child);
    if (st == METRICS_OK)
        *out = child;
    return st;
}

metrics_status metrics_registry_add_collector(metrics_registry *reg, metrics_collector_fn fn,
                                              void *userdata)
{
    collector *c = calloc(1, sizeof *c);
    if (!c)
        return METRICS_ERR_NOMEM;
    c->fn = fn;
    c->userdata = userdata;
    pthread_mutex_lock(&reg->lock);
    if (reg->last_collector)
        reg->last_collector->next = c;
    else
        reg->collectors = c;
    reg->last_collector = c;
    pthread_mutex_unlock(&reg->lock);
    return METRICS_OK;
}

/* ---- hot path ---- */

void metrics_counter_inc(metrics_counter *c)
{
    atomic_fetch_add_explicit(&c->value, 1, memory_order_relaxed);
}

void metrics_counter_add(metrics_counter *c, uint64_t n)
{
    atomic_fetch_add_explicit(&c->value, n, memory_order_relaxed);
}

uint64_t metrics_counter_value(const metrics_counter *c)
{
    return atomic_load_explicit(&((metrics_counter *)c)->value, memory_order_relaxed);
}

void metrics_gauge_set(metrics_gauge *g, double v)
{
    atomic_store_explicit(&g->bits, double_bits(v), memory_order_relaxed);
}

void metrics_gauge_add(metrics_gauge *g, double delta)
{
    atomic_double_add(&g->bits, delta);
}

void metrics_gauge_inc(metrics_gauge *g)
{
    atomic_double_add(&g->bits, 1.0);
}

void metrics_gauge_dec(metrics_gauge *g)
{
    atomic_double_add(&g->bits, -1.0);
}

double metrics_gauge_value(const metrics_gauge *g)
{
    return bits_double(atomic_load_explicit(&((metrics_gauge *)g)->bits, memory_order_relaxed));
}

void metrics_histogram_observe(metrics_histogram *h, double v)
{
    /* First bucket whose upper bound is >= v; NaN lands in +Inf. */
    size_t lo = 0, hi = h->bucket_count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (v <= h->bounds[mid])
            hi = mid;
        else
            lo = mid + 1;
    }
    atomic_fetch_add_explicit(&h->counts[lo], 1, memory_order_relaxed);
    atomic_double_add(&h->sum_bits, v);
}

void metrics_histogram_observe_since_ns(metrics_histogram *h, int64_t start_ns)
{
    metrics_histogram_observe(h, (double)(util_now_ns() - start_ns) / 1e9);
}

uint64_t metrics_histogram_count(const metrics_histogram *h)
{
    uint64_t total = 0;
    for (size_t i = 0; i <= h->bucket_count; i++)
        total += atomic_load_explicit(&h->counts[i], memory_order_relaxed);
    return total;
}

double metrics_histogram_sum(const metrics_histogram *h)
{
    return bits_double(
        atomic_load_explicit(&((metrics_histogram *)h)->sum_bits, memory_order_relaxed));
}

/* ---- rendering ---- */

void metrics_format_value(double v, char *out, size_t size)
{
    if (isnan(v)) {
        snprintf(out, size, "NaN");
    } else if (isinf(v)) {
        snprintf(out, size, v > 0 ? "+Inf" : "-Inf");
    } else {
        /* Shortest of %.15g / %.17g that reads back as the same double. */
        snprintf(out, size, "%.15g", v);
        if (strtod(out, NULL) != v)
            snprintf(out, size, "%.17g", v);
    }
}

int metrics_append_help_escaped(sbuf *out, const char *text)
{
    for (const char *p = text; *p; p++) {
        if (*p == '\\')
            sbuf_puts(out, "\\\\");
        else if (*p == '\n')
            sbuf_puts(out, "\\n");
        else
            sbuf_append(out, p, 1);
    }
    return sbuf_failed(out) ? -1 : 0;
}

int metrics_append_label_escaped(sbuf *out, const char *text)
{
    for (const char *p = text; *p; p++) {
        if (*p == '\\')
            sbuf_puts(out, "\\\\");
        else if (*p == '"')
            sbuf_puts(out, "\\\"");
        else if (*p == '\n')
            sbuf_puts(out, "\\n");
        else
            sbuf_append(out, p, 1);
    }
    return sbuf_failed(out) ? -1 : 0;
}

/* {a="x",b="y"} with an optional trailing le label; nothing when empty. */
static void render_labels(sbuf *out, const metrics_family *fam, const child_header *h,
                          const char *le)
{
    if (fam->label_count == 0 && !le)
        return;
    sbuf_puts(out, "{");
    for (size_t i = 0; i < fam->label_count; i++) {
        sbuf_printf(out, "%s%s=\"", i ? "," : "", fam->label_names[i]);
        metrics_append_label_escaped(out, h->label_values[i]);
        sbuf_puts(out, "\"");
    }
    if (le)
        sbuf_printf(out, "%sle=\"%s\"", fam->label_count ? "," : "", le);
    sbuf_puts(out, "}");
}

static void render_histogram(sbuf *out, const metrics_family *fam, const metrics_histogram *h)
{
    char value[64];
    uint64_t cumulative = 0;
    for (size_t i = 0; i <= h->bucket_count; i++) {
        cumulative += atomic_load_explicit(&h->counts[i], memory_order_relaxed);
        if (i < h->bucket_count)
            metrics_format_value(h->bounds[i], value, sizeof value);
        else
            snprintf(value, sizeof value, "+Inf");
        sbuf_printf(out, "%s_bucket", fam->name);
        render_labels(out, fam, &h->h, value);
        sbuf_printf(out, " %llu\n", (unsigned long long)cumulative);
    }
    metrics_format_value(metrics_histogram_sum(h), value, sizeof value);
    sbuf_printf(out, "%s_sum", fam->name);
    render_labels(out, fam, &h->h, NULL);
    sbuf_printf(out, " %s\n", value);
    /* _count is the +Inf bucket, so the two always agree in one scrape. */
    sbuf_printf(out, "%s_count", fam->name);
    render_labels(out, fam, &h->h, NULL);
    sbuf_printf(out, " %llu\n", (unsigned long long)cumulative);
}

static void render_family(sbuf *out, metrics_family *fam)
{
    static const char *const type_names[] = {"counter", "gauge", "histogram"};
    sbuf_printf(out, "# HELP %s ", fam->name);
    metrics_append_help_escaped(out, fam->help);
    sbuf_printf(out, "\n# TYPE %s %s\n", fam->name, type_names[fam->type]);
    pthread_mutex_lock(&fam->lock);
    for (size_t i = 0; i < fam->child_count; i++) {
        void *child = fam->children[i];
        char value[64];
        switch (fam->type) {
        case METRICS_COUNTER:
            sbuf_puts(out, fam->name);
            render_labels(out, fam, child, NULL);
            sbuf_printf(out, " %llu\n",
                        (unsigned long long)metrics_counter_value((metrics_counter *)child));
            break;
        case METRICS_GAUGE:
            metrics_format_value(metrics_gauge_value((metrics_gauge *)child), value, sizeof value);
            sbuf_puts(out, fam->name);
            render_labels(out, fam, child, NULL);
            sbuf_printf(out, " %s\n", value);
            break;
        case METRICS_HISTOGRAM:
            render_histogram(out, fam, (metrics_histogram *)child);
            break;
        }
    }
    pthread_mutex_unlock(&fam->lock);
}

int metrics_registry_render(metrics_registry *reg, sbuf *out)
{
    int rc = 0;
    pthread_mutex_lock(&reg->lock);
    for (metrics_family *f = reg->first; f; f = f->next)
        render_family(out, f);
    for (collector *c = reg->collectors; c && rc == 0; c = c->next)
        rc = c->fn(c->userdata, out);
    pthread_mutex_unlock(&reg->lock);
    return rc == 0 && !sbuf_failed(out) ? 0 : -1;
}
