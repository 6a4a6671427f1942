/*
 * metrics_process: process_* metrics from /proc/self/stat, /proc/stat and
 * /proc/self/fd, rendered by a registry collector. See metrics_process.h.
 */
#include "common/metrics_process.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

typedef struct process_stat {
    double cpu_seconds;
    double start_time_seconds;
    double virtual_bytes;
    double resident_bytes;
} process_stat;

/* Seconds since the epoch at which the machine booted ("btime" line). */
static int read_boot_time(double *out)
{
    FILE *f = fopen("/proc/stat", "r");
    if (!f)
        return -1;
    char line[256];
    int rc = -1;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "btime ", 6) == 0) {
            char *end = NULL;
            unsigned long long btime = strtoull(line + 6, &end, 10);
            if (end != line + 6) {
                *out = (double)btime;
                rc = 0;
            }
            break;
        }
    }
    fclose(f);
    return rc;
}

static int read_process_stat(process_stat *st)
{
    FILE *f = fopen("/proc/self/stat", "r");
    if (!f)
        return -1;
    char buf[1024];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* The command name (field 2) may hold spaces and parentheses: fields are
     * counted from the last ')'. Field 3 (state) follows it. */
    char *p = strrchr(buf, ')');
    if (!p)
        return -1;
    p++;
    unsigned long long utime = 0, stime = 0, start = 0, vsize = 0;
    long long rss = 0;
    int field = 2;
    for (char *tok = strtok(p, " "); tok; tok = strtok(NULL, " ")) {
        field++;
        if (field == 14)
            utime = strtoull(tok, NULL, 10);
        else if (field == 15)
            stime = strtoull(tok, NULL, 10);
        else if (field == 22)
            start = strtoull(tok, NULL, 10);
        else if (field == 23)
            vsize = strtoull(tok, NULL, 10);
        else if (field == 24) {
            rss = strtoll(tok, NULL, 10);
            break;
        }
    }
    if (field != 24)
        return -1;
    long ticks = sysconf(_SC_CLK_TCK);
    long page = sysconf(_SC_PAGESIZE);
    double boot;
    if (ticks <= 0 || page <= 0 || read_boot_time(&boot) != 0)
        return -1;
    st->cpu_seconds = (double)(utime + stime) / (double)ticks;
    st->start_time_seconds = boot + (double)start / (double)ticks;
    st->virtual_bytes = (double)vsize;
    st->resident_bytes = (double)rss * (double)page;
    return 0;
}

static double count_open_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return -1;
    double count = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] != '.')
            count++;
    }
    closedir(d);
    return count - 1; /* the descriptor opendir itself holds */
}

static void render_one(sbuf *out, const char *name, const char *type, const char *help,
                       double value)
{
    char text[64];
    metrics_format_value(value, text, sizeof text);
    sbuf_printf(out, "# HELP %s %s\n# TYPE %s %s\n%s %s\n", name, help, name, type, name, text);
}

static int collect_process(void *userdata, sbuf *out)
{
    (void)userdata;
    process_stat st;
    /* Not being able to read /proc (another OS, a sandbox) is no reason to
     * fail the whole scrape: those metrics are simply absent. */
    if (read_process_stat(&st) == 0) {
        render_one(out, "process_cpu_seconds_total", "counter",
                   "Total user and system CPU time spent in seconds.", st.cpu_seconds);
        render_one(out, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.",
                   st.resident_bytes);
        render_one(out, "process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.",
                   st.virtual_bytes);
        render_one(out, "process_start_time_seconds", "gauge",
                   "Start time of the process since unix epoch in seconds.", st.start_time_seconds);
    }
    double fds = count_open_fds();
    if (fds >= 0)
        render_one(out, "process_open_fds", "gauge", "Number of open file descriptors.", fds);
    struct rlimit lim;
    if (getrlimit(RLIMIT_NOFILE, &lim) == 0)
        render_one(out, "process_max_fds", "gauge", "Maximum number of open file descriptors.",
                   lim.rlim_cur == RLIM_INFINITY ? -1 : (double)lim.rlim_cur);
    return sbuf_failed(out) ? -1 : 0;
}

metrics_status metrics_process_register(metrics_registry *reg)
{
    return metrics_registry_add_collector(reg, collect_process, NULL);
}
