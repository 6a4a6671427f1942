/*
 * metrics_process: the standard process_* metrics (CPU seconds, resident and
 * virtual memory, start time, open and max file descriptors) read from
 * /proc/self at scrape time, so they cost nothing between scrapes. Linux only.
 */
#ifndef COMMON_METRICS_PROCESS_H
#define COMMON_METRICS_PROCESS_H

#include "common/metrics.h"

/* Adds the process collector to reg. Returns METRICS_OK or an error. */
metrics_status metrics_process_register(metrics_registry *reg);

#endif
