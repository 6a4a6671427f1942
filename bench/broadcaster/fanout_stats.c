/*
 * fanout_stats: latency percentiles and CPU time for the fan-out benchmarks;
 * see fanout_stats.h.
 */
#include "fanout_stats.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int fanout_latency_init(fanout_latency *l, size_t capacity)
{
    memset(l, 0, sizeof *l);
    l->us = malloc((capacity ? capacity : 1) * sizeof *l->us);
    if (!l->us)
        return -1;
    l->capacity = capacity;
    return 0;
}

void fanout_latency_free(fanout_latency *l)
{
    free(l->us);
    memset(l, 0, sizeof *l);
}

void fanout_latency_add(fanout_latency *l, int64_t ns)
{
    if (l->len == l->capacity)
        return;
    int64_t us = ns < 0 ? 0 : ns / 1000;
    l->us[l->len++] = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
    l->sorted = 0;
}

static int compare_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

double fanout_latency_ms(fanout_latency *l, double p)
{
    if (l->len == 0)
        return -1;
    if (!l->sorted) {
        qsort(l->us, l->len, sizeof *l->us, compare_u32);
        l->sorted = 1;
    }
    size_t i = (size_t)(p / 100.0 * (double)l->len);
    if (i >= l->len)
        i = l->len - 1;
    return (double)l->us[i] / 1000.0;
}

double fanout_cpu_seconds(pid_t pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* Fields 14 and 15 (utime, stime, in clock ticks) follow the
     * parenthesised command name, which may itself contain spaces: count
     * fields from its end, where field 3 (the state) begins. */
    const char *p = strrchr(buf, ')');
    if (!p)
        return -1;
    p += 1;
    unsigned long long ticks = 0;
    for (int field = 3; field <= 15; field++) {
        while (*p == ' ')
            p++;
        if (!*p)
            return -1;
        if (field >= 14) {
            char *end = NULL;
            errno = 0;
            unsigned long long v = strtoull(p, &end, 10);
            if (errno != 0 || end == p)
                return -1;
            ticks += v;
            p = end;
        } else {
            while (*p && *p != ' ')
                p++;
        }
    }
    return (double)ticks / (double)sysconf(_SC_CLK_TCK);
}
