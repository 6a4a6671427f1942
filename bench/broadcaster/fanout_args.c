/*
 * fanout_args: strict integer arguments for the fan-out benchmarks; see
 * fanout_args.h.
 */
#include "fanout_args.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>

int fanout_parse_int(const char *s, long min, long max, int *out)
{
    if (!s || !*s || min < INT_MIN || max > INT_MAX)
        return -1;
    char *end = NULL;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < min || v > max)
        return -1;
    *out = (int)v;
    return 0;
}
