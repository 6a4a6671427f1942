/*
 * fanout_args: the fan-out benchmarks' command-line numbers, read strictly
 * (a typo in "10000" must stop the run, not measure 0 subscribers). Prefix:
 * fanout_.
 */
#ifndef BENCH_FANOUT_ARGS_H
#define BENCH_FANOUT_ARGS_H

/* Reads the decimal integer s (nothing else around it) into *out when it lies
 * in [min, max]. 0, or -1 otherwise. */
int fanout_parse_int(const char *s, long min, long max, int *out);

#endif
