/*
 * replay_time: the --until argument. Hand-written because neither libc
 * (strptime has no fractions or numeric offsets with a colon) nor any
 * library the project links parses RFC 3339; see docs/decisions.md.
 */
/* timegm */
#define _DEFAULT_SOURCE

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "tools/replay/replay.h"

/* Digits only: milliseconds since the epoch. */
static int parse_unix_ms(const char *text, int64_t *us)
{
    int64_t ms = 0;
    for (const char *p = text; *p; p++) {
        if (!isdigit((unsigned char)*p) || ms > (INT64_MAX / 1000 - 9) / 10)
            return -1;
        ms = ms * 10 + (*p - '0');
    }
    *us = ms * 1000;
    return 0;
}

/* n digits at *p as a number, advancing *p; -1 when not n digits. */
static int digits(const char **p, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)(*p)[i]))
            return -1;
        v = v * 10 + ((*p)[i] - '0');
    }
    *p += n;
    return v;
}

static int expect(const char **p, const char *chars)
{
    if (!**p || !strchr(chars, **p))
        return -1;
    (*p)++;
    return 0;
}

static int parse_rfc3339(const char *text, int64_t *us)
{
    const char *p = text;
    struct tm tm = {0};
    int year = digits(&p, 4);
    int month = expect(&p, "-") ? -1 : digits(&p, 2);
    int day = expect(&p, "-") ? -1 : digits(&p, 2);
    int hour = expect(&p, "Tt ") ? -1 : digits(&p, 2);
    int minute = expect(&p, ":") ? -1 : digits(&p, 2);
    int second = expect(&p, ":") ? -1 : digits(&p, 2);
    if (year < 1970 || month < 1 || month > 12 || day < 1 || day > 31 || hour < 0 || hour > 23 ||
        minute < 0 || minute > 59 || second < 0 || second > 60)
        return -1;
    int64_t micros = 0;
    if (*p == '.') {
        p++;
        int n = 0;
        for (; isdigit((unsigned char)*p); p++, n++) {
            if (n < 6)
                micros = micros * 10 + (*p - '0');
        }
        if (n == 0)
            return -1;
        for (; n < 6; n++)
            micros *= 10;
    }
    int64_t offset_s = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int sign = *p == '-' ? -1 : 1;
        p++;
        int oh = digits(&p, 2);
        int om = expect(&p, ":") ? -1 : digits(&p, 2);
        if (oh < 0 || oh > 23 || om < 0 || om > 59)
            return -1;
        offset_s = (int64_t)sign * ((int64_t)oh * 3600 + (int64_t)om * 60);
    } else {
        return -1; /* RFC 3339 requires the offset */
    }
    if (*p)
        return -1;
    tm.tm_year = year - 1900;
    tm.tm_mon = month - 1;
    tm.tm_mday = day;
    tm.tm_hour = hour;
    tm.tm_min = minute;
    tm.tm_sec = second;
    time_t t = timegm(&tm);
    /* timegm normalises 31 February into March: refuse such dates. */
    struct tm back;
    if (t == (time_t)-1 || !gmtime_r(&t, &back) || back.tm_mday != day || back.tm_mon != month - 1)
        return -1;
    *us = ((int64_t)t - offset_s) * 1000000 + micros;
    return 0;
}

int replay_parse_time(const char *text, int64_t *us)
{
    if (!text || !*text)
        return -1;
    if (strchr(text, '-') || strchr(text, 'T') || strchr(text, ':'))
        return parse_rfc3339(text, us);
    return parse_unix_ms(text, us);
}
