/*
 * metrics: a registry of counters, gauges and histograms with labels, and its
 * rendering in the Prometheus text exposition format 0.0.4. The HTTP endpoint
 * that serves it is metrics_http.h; process metrics are metrics_process.h.
 *
 * Model: a family (name, help, type, label names, histogram buckets) holds one
 * child per combination of label values. Unlabelled metrics are a family with
 * one child, returned directly by metrics_counter_new() and friends. Fetch a
 * labelled child once with metrics_family_counter() and keep the pointer:
 * that lookup takes the family's lock, while updating a child (inc, add, set,
 * observe) only does atomic operations, so the hot path takes no lock and any
 * thread may update any metric. Rendering locks the registry and, family by
 * family, each family's child list; values are read atomically.
 *
 * Names are checked against Prometheus conventions: [a-zA-Z_][a-zA-Z0-9_]*
 * (colons are for recording rules), counters end in "_total" and nothing
 * else does, and the unit at the end is a base unit (seconds, bytes, not
 * milliseconds or kb). Label names: [a-zA-Z_][a-zA-Z0-9_]*, not "__...",
 * "le" is reserved for histograms. Prefix: metrics_.
 */
#ifndef COMMON_METRICS_H
#define COMMON_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/sbuf.h"

typedef struct metrics_registry metrics_registry;
typedef struct metrics_family metrics_family;
typedef struct metrics_counter metrics_counter;
typedef struct metrics_gauge metrics_gauge;
typedef struct metrics_histogram metrics_histogram;

typedef enum metrics_type {
    METRICS_COUNTER,
    METRICS_GAUGE,
    METRICS_HISTOGRAM,
} metrics_type;

typedef enum metrics_status {
    METRICS_OK = 0,
    METRICS_ERR_NAME,      /* metric name breaks the naming rules */
    METRICS_ERR_LABEL,     /* label name invalid, reserved or repeated */
    METRICS_ERR_DUPLICATE, /* a family with that name exists */
    METRICS_ERR_BUCKETS,   /* buckets not finite and strictly increasing */
    METRICS_ERR_NOMEM,
} metrics_status;

const char *metrics_status_text(metrics_status status);

/* Latency buckets in seconds from 0.5 ms to 10 s, for request/op timings. */
#define METRICS_LATENCY_BUCKET_COUNT 14
extern const double metrics_latency_buckets[METRICS_LATENCY_BUCKET_COUNT];

/* A new empty registry, or NULL. Free with metrics_registry_free, which frees
 * every family and child: their pointers are invalid afterwards. */
metrics_registry *metrics_registry_new(void);
void metrics_registry_free(metrics_registry *reg);

/* Unlabelled metrics: the family and its only child in one call. The child
 * belongs to the registry. */
metrics_status metrics_counter_new(metrics_registry *reg, const char *name, const char *help,
                                   metrics_counter **out);
metrics_status metrics_gauge_new(metrics_registry *reg, const char *name, const char *help,
                                 metrics_gauge **out);
metrics_status metrics_histogram_new(metrics_registry *reg, const char *name, const char *help,
                                     const double *buckets, size_t bucket_count,
                                     metrics_histogram **out);

/* A labelled family. Strings and arrays are copied. Buckets (histograms only)
 * are the finite upper bounds in increasing order; "+Inf" is implicit. */
metrics_status metrics_family_new(metrics_registry *reg, metrics_type type, const char *name,
                                  const char *help, const char *const *label_names,
                                  size_t label_count, const double *buckets, size_t bucket_count,
                                  metrics_family **out);

/* The child for these label values (one per label name, copied), created on
 * first use. NULL when out of memory or when the family has another type.
 * Owned by the registry. */
metrics_counter *metrics_family_counter(metrics_family *fam, const char *const *label_values);
metrics_gauge *metrics_family_gauge(metrics_family *fam, const char *const *label_values);
metrics_histogram *metrics_family_histogram(metrics_family *fam, const char *const *label_values);

/* Hot path: lock-free, any thread. */
void metrics_counter_inc(metrics_counter *c);
void metrics_counter_add(metrics_counter *c, uint64_t n);
uint64_t metrics_counter_value(const metrics_counter *c);

void metrics_gauge_set(metrics_gauge *g, double v);
void metrics_gauge_add(metrics_gauge *g, double delta);
void metrics_gauge_inc(metrics_gauge *g);
void metrics_gauge_dec(metrics_gauge *g);
double metrics_gauge_value(const metrics_gauge *g);

void metrics_histogram_observe(metrics_histogram *h, double v);
/* Observes the time since start_ns (util_now_ns) in seconds. */
void metrics_histogram_observe_since_ns(metrics_histogram *h, int64_t start_ns);
uint64_t metrics_histogram_count(const metrics_histogram *h);
double metrics_histogram_sum(const metrics_histogram *h);

/*
 * A collector appends whole families of its own (HELP, TYPE, samples) at
 * render time, for values that are read rather than counted (process memory,
 * queue lengths of a library). It returns 0, or -1 to fail the render. It is
 * called with the registry's lock held, from the rendering thread.
 */
typedef int (*metrics_collector_fn)(void *userdata, sbuf *out);
metrics_status metrics_registry_add_collector(metrics_registry *reg, metrics_collector_fn fn,
                                              void *userdata);

/* Appends the exposition text of every family, in registration order, then
 * the collectors' output. Returns 0, or -1 (out of memory, collector error). */
int metrics_registry_render(metrics_registry *reg, sbuf *out);

/* Helpers for collectors: a sample value as Prometheus formats floats
 * (shortest exact form, "+Inf", "-Inf", "NaN"), and escaped HELP text and
 * label values. */
void metrics_format_value(double v, char *out, size_t size);
int metrics_append_help_escaped(sbuf *out, const char *text);
int metrics_append_label_escaped(sbuf *out, const char *text);

/* Naming checks, exposed for tests and for collectors' own names. */
bool metrics_name_valid(metrics_type type, const char *name);
bool metrics_label_name_valid(metrics_type type, const char *name);

#endif
