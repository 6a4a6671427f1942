/*
 * crdt_bench.c - the engine's side of the crdt benchmark (bench/crdt/run.sh): applies a
 * stream of Yjs v1 updates ([u32 LE length][update] records, as a server receives them)
 * to an empty document and times it, times encoding the final state and loading it back,
 * measures peak memory, and the memory of many small documents held at once. The peers
 * (Yjs, ywasm, pycrdt) do the same in peers/; every peer prints one JSON line in the same
 * shape, which report.js turns into the table in docs/benchmarks.md.
 *
 *   crdt-bench apply STREAM EXPECTED_TEXT REPEATS   timings (input preloaded)
 *   crdt-bench memory STREAM EXPECTED_TEXT          one pass reading the stream, peak RSS
 *   crdt-bench docs STATE EXPECTED_TEXT COUNT       COUNT documents loaded from STATE
 *
 * The final text of root "text" is compared with EXPECTED_TEXT in every mode: a wrong
 * result is reported as an error, not timed.
 */
#include "crdt/crdt.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

typedef struct bench_buf {
    uint8_t *data;
    size_t len;
} bench_buf;

/* Reads a whole file; the caller frees buf->data. Returns 0 or -1 (message printed). */
static int bench_read_file(const char *path, bench_buf *buf)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "crdt-bench: cannot open %s\n", path);
        return -1;
    }
    size_t cap = 1 << 16, len = 0;
    uint8_t *data = malloc(cap);
    while (data) {
        len += fread(data + len, 1, cap - len, f);
        if (len < cap)
            break;
        cap *= 2;
        uint8_t *more = realloc(data, cap);
        if (!more)
            free(data);
        data = more;
    }
    int failed = ferror(f);
    fclose(f);
    if (!data || failed) {
        free(data);
        fprintf(stderr, "crdt-bench: cannot read %s\n", path);
        return -1;
    }
    buf->data = data;
    buf->len = len;
    return 0;
}

static double bench_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static long bench_peak_rss_kb(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return -1;
    return ru.ru_maxrss;
}

/* Current resident set size from /proc/self/statm, in KiB; -1 if unknown. */
static long bench_current_rss_kb(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f)
        return -1;
    char line[128];
    char *got = fgets(line, sizeof(line), f);
    fclose(f);
    if (!got)
        return -1;
    /* "size resident shared ...", in pages: the second number is the one wanted. strtol
     * rather than sscanf, which cannot report a number out of range. */
    long pages[2];
    char *end = line;
    for (int i = 0; i < 2; i++) {
        char *start = end;
        errno = 0;
        pages[i] = strtol(start, &end, 10);
        if (end == start || errno != 0 || pages[i] < 0)
            return -1;
    }
    long page_kb = sysconf(_SC_PAGESIZE) / 1024;
    return pages[1] * page_kb;
}

static crdt_doc *bench_new_doc(void)
{
    crdt_options opts;
    crdt_options_init(&opts);
    crdt_doc *doc = NULL;
    crdt_status st = crdt_doc_new(&opts, &doc);
    if (st != CRDT_OK) {
        fprintf(stderr, "crdt-bench: crdt_doc_new: %s\n", crdt_strerror(st));
        return NULL;
    }
    return doc;
}

/* Applies every record of the stream in order; returns 0 or -1 (message printed). */
static int bench_apply_stream(crdt_doc *doc, const bench_buf *stream)
{
    size_t at = 0;
    while (at < stream->len) {
        if (stream->len - at < 4) {
            fprintf(stderr, "crdt-bench: truncated record header at byte %zu\n", at);
            return -1;
        }
        const uint8_t *p = stream->data + at;
        size_t len = (size_t)p[0] | (size_t)p[1] << 8 | (size_t)p[2] << 16 | (size_t)p[3] << 24;
        at += 4;
        if (len > stream->len - at) {
            fprintf(stderr, "crdt-bench: truncated record at byte %zu\n", at);
            return -1;
        }
        crdt_status st = crdt_apply_update(doc, stream->data + at, len, NULL);
        if (st != CRDT_OK) {
            fprintf(stderr, "crdt-bench: apply at byte %zu: %s\n", at, crdt_strerror(st));
            return -1;
        }
        at += len;
    }
    return 0;
}

/* 0 when root "text" of doc equals the expected text, else -1 (message printed). */
static int bench_check_text(const crdt_doc *doc, const bench_buf *expected)
{
    char *text = NULL;
    crdt_status st = crdt_read_text(doc, "text", NULL, 0, &text);
    if (st != CRDT_OK) {
        fprintf(stderr, "crdt-bench: read text: %s\n", crdt_strerror(st));
        return -1;
    }
    int same = strlen(text) == expected->len && memcmp(text, expected->data, expected->len) == 0;
    free(text);
    if (!same) {
        fprintf(stderr, "crdt-bench: the final text differs from the expected text\n");
        return -1;
    }
    return 0;
}

static void bench_print_series(const char *name, const double *ms, int n)
{
    printf("\"%s\":[", name);
    for (int i = 0; i < n; i++)
        printf("%s%.3f", i ? "," : "", ms[i]);
    printf("],");
}

static int bench_apply(const char *stream_path, const char *expected_path, int repeats)
{
    bench_buf stream = {0}, expected = {0};
    double *apply_ms = calloc((size_t)repeats * 3, sizeof(double));
    double *encode_ms = apply_ms ? apply_ms + repeats : NULL;
    double *load_ms = apply_ms ? apply_ms + 2 * (size_t)repeats : NULL;
    size_t state_bytes = 0;
    int rc = -1;
    if (!apply_ms || bench_read_file(stream_path, &stream) != 0 ||
        bench_read_file(expected_path, &expected) != 0)
        goto out;
    for (int r = 0; r < repeats; r++) {
        crdt_doc *doc = bench_new_doc();
        if (!doc)
            goto out;
        double t0 = bench_now_ms();
        int failed = bench_apply_stream(doc, &stream);
        double t1 = bench_now_ms();
        uint8_t *state = NULL;
        crdt_status st = failed ? CRDT_OK : crdt_encode_state(doc, NULL, 0, &state, &state_bytes);
        double t2 = bench_now_ms();
        if (!failed && st != CRDT_OK)
            fprintf(stderr, "crdt-bench: encode: %s\n", crdt_strerror(st));
        if (failed || st != CRDT_OK || bench_check_text(doc, &expected) != 0) {
            free(state);
            crdt_doc_free(doc);
            goto out;
        }
        crdt_doc_free(doc);
        crdt_doc *loaded = bench_new_doc();
        if (!loaded) {
            free(state);
            goto out;
        }
        double t3 = bench_now_ms();
        st = crdt_apply_update(loaded, state, state_bytes, NULL);
        double t4 = bench_now_ms();
        free(state);
        if (st != CRDT_OK || bench_check_text(loaded, &expected) != 0) {
            fprintf(stderr, "crdt-bench: loading the encoded state failed\n");
            crdt_doc_free(loaded);
            goto out;
        }
        crdt_doc_free(loaded);
        apply_ms[r] = t1 - t0;
        encode_ms[r] = t2 - t1;
        load_ms[r] = t4 - t3;
    }
    printf("{\"peer\":\"engine\",");
    bench_print_series("apply_ms", apply_ms, repeats);
    bench_print_series("encode_ms", encode_ms, repeats);
    bench_print_series("load_ms", load_ms, repeats);
    printf("\"state_bytes\":%zu}\n", state_bytes);
    rc = 0;
out:
    free(apply_ms);
    free(stream.data);
    free(expected.data);
    return rc;
}

/* One pass that reads the stream record by record from the file, as a server receives
 * updates, so that the peak RSS is the document's and the program's, not the input's. */
static int bench_memory(const char *stream_path, const char *expected_path)
{
    bench_buf expected = {0}, record = {0};
    crdt_doc *doc = NULL;
    FILE *f = NULL;
    int rc = -1;
    size_t cap = 1 << 16;
    if (bench_read_file(expected_path, &expected) != 0)
        return -1;
    record.data = malloc(cap);
    f = fopen(stream_path, "rb");
    if (!record.data || !f) {
        fprintf(stderr, "crdt-bench: cannot open %s\n", stream_path);
        goto out;
    }
    long baseline_kb = bench_peak_rss_kb();
    doc = bench_new_doc();
    if (!doc)
        goto out;
    uint8_t header[4];
    while (fread(header, 1, 4, f) == 4) {
        size_t len = (size_t)header[0] | (size_t)header[1] << 8 | (size_t)header[2] << 16 |
                     (size_t)header[3] << 24;
        if (len > cap) {
            uint8_t *bigger = realloc(record.data, len);
            if (!bigger)
                goto out;
            record.data = bigger;
            cap = len;
        }
        if (fread(record.data, 1, len, f) != len) {
            fprintf(stderr, "crdt-bench: truncated record in %s\n", stream_path);
            goto out;
        }
        crdt_status st = crdt_apply_update(doc, record.data, len, NULL);
        if (st != CRDT_OK) {
            fprintf(stderr, "crdt-bench: apply: %s\n", crdt_strerror(st));
            goto out;
        }
    }
    if (bench_check_text(doc, &expected) != 0)
        goto out;
    printf("{\"peer\":\"engine\",\"baseline_rss_kb\":%ld,\"peak_rss_kb\":%ld}\n", baseline_kb,
           bench_peak_rss_kb());
    rc = 0;
out:
    if (f)
        fclose(f);
    crdt_doc_free(doc);
    free(record.data);
    free(expected.data);
    return rc;
}

static int bench_docs(const char *state_path, const char *expected_path, int count)
{
    bench_buf state = {0}, expected = {0};
    crdt_doc **docs = calloc((size_t)count, sizeof(crdt_doc *));
    int made = 0, rc = -1;
    if (!docs || bench_read_file(state_path, &state) != 0 ||
        bench_read_file(expected_path, &expected) != 0)
        goto out;
    long before_kb = bench_current_rss_kb();
    double t0 = bench_now_ms();
    for (; made < count; made++) {
        docs[made] = bench_new_doc();
        if (!docs[made])
            goto out;
        crdt_status st = crdt_apply_update(docs[made], state.data, state.len, NULL);
        if (st != CRDT_OK) {
            fprintf(stderr, "crdt-bench: load small document: %s\n", crdt_strerror(st));
            made++;
            goto out;
        }
    }
    double t1 = bench_now_ms();
    long after_kb = bench_current_rss_kb();
    if (bench_check_text(docs[0], &expected) != 0 ||
        bench_check_text(docs[count - 1], &expected) != 0)
        goto out;
    printf("{\"peer\":\"engine\",\"docs\":%d,\"rss_before_kb\":%ld,\"rss_after_kb\":%ld,"
           "\"load_all_ms\":%.3f}\n",
           count, before_kb, after_kb, t1 - t0);
    rc = 0;
out:
    for (int i = 0; i < made; i++)
        crdt_doc_free(docs[i]);
    free(docs);
    free(state.data);
    free(expected.data);
    return rc;
}

static int bench_positive(const char *s)
{
    char *end = NULL;
    long v = strtol(s, &end, 10);
    return (*s && !*end && v > 0 && v <= 1000000) ? (int)v : -1;
}

int main(int argc, char **argv)
{
    if (argc == 5 && strcmp(argv[1], "apply") == 0 && bench_positive(argv[4]) > 0)
        return bench_apply(argv[2], argv[3], bench_positive(argv[4])) == 0 ? 0 : 1;
    if (argc == 4 && strcmp(argv[1], "memory") == 0)
        return bench_memory(argv[2], argv[3]) == 0 ? 0 : 1;
    if (argc == 5 && strcmp(argv[1], "docs") == 0 && bench_positive(argv[4]) > 0)
        return bench_docs(argv[2], argv[3], bench_positive(argv[4])) == 0 ? 0 : 1;
    fprintf(stderr, "usage: crdt-bench apply STREAM EXPECTED_TEXT REPEATS\n"
                    "       crdt-bench memory STREAM EXPECTED_TEXT\n"
                    "       crdt-bench docs STATE EXPECTED_TEXT COUNT\n");
    return 2;
}
