/*
 * redis: hiredis connection with URL parsing, timeouts, AUTH/SELECT,
 * backoff between reconnects and one retry after a broken connection.
 * See redis.h.
 */
#include "common/redis.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"

struct credis {
    credis_url url;
    int connect_timeout_ms;
    int command_timeout_ms;
    clog *log;
    pthread_mutex_t lock; /* guards everything below */
    redisContext *ctx;
    util_backoff backoff;
    int64_t next_attempt_ms; /* no reconnect before this (monotonic ms) */
    unsigned long connects;
    char error[512];
};

static int parse_port(const char *text, size_t len, int *out)
{
    if (len == 0 || len > 5)
        return -1;
    int v = 0;
    for (size_t i = 0; i < len; i++) {
        if (text[i] < '0' || text[i] > '9')
            return -1;
        v = v * 10 + (text[i] - '0');
    }
    if (v < 1 || v > 65535)
        return -1;
    *out = v;
    return 0;
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Copies len bytes of in to out (size bytes), decoding %XX escapes as URLs
 * write reserved characters of credentials ("p%40ss" is "p@ss"). 0 or -1. */
static int percent_decode(const char *in, size_t len, char *out, size_t size)
{
    size_t used = 0;
    for (size_t i = 0; i < len; i++) {
        char c = in[i];
        if (c == '%') {
            if (i + 2 >= len)
                return -1;
            int hi = hex_value(in[i + 1]);
            int lo = hex_value(in[i + 2]);
            if (hi < 0 || lo < 0)
                return -1;
            c = (char)(hi * 16 + lo);
            i += 2;
        }
        if (used + 1 >= size)
            return -1;
        out[used++] = c;
    }
    out[used] = '\0';
    return 0;
}

int credis_url_parse(const char *url, credis_url *out, char *err, size_t err_size)
{
    memset(out, 0, sizeof *out);
    out->port = 6379;
    static const char scheme[] = "redis://";
    if (!url || strncmp(url, scheme, sizeof scheme - 1) != 0) {
        snprintf(err, err_size, "redis URL must start with redis://: \"%s\"", url ? url : "");
        return -1;
    }
    const char *p = url + sizeof scheme - 1;
    const char *slash = strchr(p, '/');
    const char *auth_end = strrchr(p, '@');
    if (auth_end && slash && auth_end > slash)
        auth_end = NULL;
    if (auth_end) {
        const char *colon = memchr(p, ':', (size_t)(auth_end - p));
        size_t user_len = colon ? (size_t)(colon - p) : 0;
        const char *pass = colon ? colon + 1 : p;
        size_t pass_len = (size_t)(auth_end - pass);
        if (percent_decode(p, user_len, out->user, sizeof out->user) != 0 ||
            percent_decode(pass, pass_len, out->password, sizeof out->password) != 0) {
            snprintf(err, err_size, "redis URL credentials too long or badly %%-encoded");
            return -1;
        }
        p = auth_end + 1;
    }
    const char *host_end = slash ? slash : p + strlen(p);
    const char *colon = memchr(p, ':', (size_t)(host_end - p));
    const char *name_end = colon ? colon : host_end;
    size_t host_len = (size_t)(name_end - p);
    if (host_len == 0 || host_len >= sizeof out->host) {
        snprintf(err, err_size, "redis URL has no valid host: \"%s\"", url);
        return -1;
    }
    memcpy(out->host, p, host_len);
    if (colon && parse_port(colon + 1, (size_t)(host_end - colon - 1), &out->port) != 0) {
        snprintf(err, err_size, "redis URL has an invalid port: \"%s\"", url);
        return -1;
    }
    if (slash && slash[1]) {
        char *end = NULL;
        long db = strtol(slash + 1, &end, 10);
        if (*end != '\0' || db < 0 || db > 65535) {
            snprintf(err, err_size, "redis URL has an invalid database number: \"%s\"", url);
            return -1;
        }
        out->db = (int)db;
    }
    return 0;
}

static struct timeval ms_timeval(int ms)
{
    struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (suseconds_t)(ms % 1000) * 1000};
    return tv;
}

static void set_error(credis *r, const char *what, const char *detail)
{
    snprintf(r->error, sizeof r->error, "%s: %s", what, detail);
}

/* Runs a setup command (AUTH, SELECT) on a fresh context. 0 or -1. */
static int setup_command(credis *r, redisContext *ctx, const char *what, int argc,
                         const char **argv)
{
    redisReply *reply = redisCommandArgv(ctx, argc, argv, NULL);
    if (!reply) {
        set_error(r, what, ctx->errstr);
        return -1;
    }
    int rc = reply->type == REDIS_REPLY_ERROR ? -1 : 0;
    if (rc != 0)
        set_error(r, what, reply->str);
    freeReplyObject(reply);
    return rc;
}

/* Connects (lock held). Honors the backoff. 0 or -1 (r->error set). */
static int connect_locked(credis *r)
{
    int64_t now = util_now_ms();
    if (now < r->next_attempt_ms) {
        snprintf(r->error, sizeof r->error,
                 "redis %.200s:%d unreachable; next reconnect in %lld ms", r->url.host, r->url.port,
                 (long long)(r->next_attempt_ms - now));
        return -1;
    }
    if (r->ctx) {
        redisFree(r->ctx);
        r->ctx = NULL;
    }
    redisContext *ctx =
        redisConnectWithTimeout(r->url.host, r->url.port, ms_timeval(r->connect_timeout_ms));
    int rc = -1;
    if (!ctx) {
        set_error(r, "redis connect", "out of memory");
    } else if (ctx->err) {
        char what[300];
        snprintf(what, sizeof what, "redis connect %s:%d", r->url.host, r->url.port);
        set_error(r, what, ctx->errstr);
    } else if (redisSetTimeout(ctx, ms_timeval(r->command_timeout_ms)) != REDIS_OK) {
        set_error(r, "redis timeout", ctx->errstr);
    } else {
        redisEnableKeepAlive(ctx);
        rc = 0;
        if (r->url.password[0]) {
            const char *argv[3] = {"AUTH", r->url.user[0] ? r->url.user : r->url.password,
                                   r->url.password};
            rc = setup_command(r, ctx, "redis AUTH", r->url.user[0] ? 3 : 2, argv);
        }
        if (rc == 0 && r->url.db != 0) {
            char db[16];
            snprintf(db, sizeof db, "%d", r->url.db);
            const char *argv[2] = {"SELECT", db};
            rc = setup_command(r, ctx, "redis SELECT", 2, argv);
        }
    }
    if (rc != 0) {
        if (ctx)
            redisFree(ctx);
        int64_t pause = util_backoff_next(&r->backoff);
        r->next_attempt_ms = util_now_ms() + pause;
        clog_field f[] = {clog_str("error", r->error), clog_int("retry_in_ms", pause)};
        clog_emit(r->log, CLOG_WARN, "redis connect failed", f, 2);
        return -1;
    }
    r->ctx = ctx;
    r->connects++;
    r->error[0] = '\0';
    util_backoff_reset(&r->backoff);
    r->next_attempt_ms = 0;
    if (r->connects > 1) {
        clog_field f[] = {clog_str("host", r->url.host), clog_int("port", r->url.port),
                          clog_int("connects", (int64_t)r->connects)};
        clog_emit(r->log, CLOG_INFO, "redis reconnected", f, 3);
    }
    return 0;
}

credis *credis_new(const credis_opts *opts, char *err, size_t err_size)
{
    credis *r = calloc(1, sizeof *r);
    if (!r) {
        snprintf(err, err_size, "out of memory");
        return NULL;
    }
    if (credis_url_parse(opts->url, &r->url, err, err_size) != 0 ||
        pthread_mutex_init(&r->lock, NULL) != 0) {
        free(r);
        return NULL;
    }
    r->connect_timeout_ms = opts->connect_timeout_ms > 0 ? opts->connect_timeout_ms : 2000;
    r->command_timeout_ms = opts->command_timeout_ms > 0 ? opts->command_timeout_ms : 2000;
    r->log = opts->log;
    util_backoff_init(&r->backoff, opts->backoff_base_ms > 0 ? opts->backoff_base_ms : 100,
                      opts->backoff_max_ms > 0 ? opts->backoff_max_ms : 5000);
    pthread_mutex_lock(&r->lock);
    connect_locked(r); /* failure is fine: commands reconnect */
    pthread_mutex_unlock(&r->lock);
    return r;
}

void credis_free(credis *r)
{
    if (!r)
        return;
    if (r->ctx)
        redisFree(r->ctx);
    pthread_mutex_destroy(&r->lock);
    free(r);
}

/* A connection-level failure (as opposed to an error reply). */
static bool connection_broken(const redisContext *ctx)
{
    return ctx->err == REDIS_ERR_IO || ctx->err == REDIS_ERR_EOF ||
           ctx->err == REDIS_ERR_PROTOCOL || ctx->err == REDIS_ERR_OTHER;
}

typedef struct command_args {
    const char *fmt;
    va_list *ap;
    int argc;
    const char **argv;
    const size_t *argv_len;
} command_args;

static redisReply *send_once(redisContext *ctx, const command_args *a)
{
    if (a->fmt) {
        va_list copy;
        va_copy(copy, *a->ap);
        void *reply = redisvCommand(ctx, a->fmt, copy);
        va_end(copy);
        return reply;
    }
    return redisCommandArgv(ctx, a->argc, a->argv, a->argv_len);
}

static redisReply *run_command(credis *r, const command_args *a)
{
    pthread_mutex_lock(&r->lock);
    redisReply *reply = NULL;
    for (int attempt = 0; attempt < 2 && !reply; attempt++) {
        if ((!r->ctx || r->ctx->err) && connect_locked(r) != 0)
            break;
        reply = send_once(r->ctx, a);
        if (reply)
            break;
        set_error(r, "redis command", r->ctx->errstr);
        if (!connection_broken(r->ctx))
            break;
        clog_field f[] = {clog_str("error", r->ctx->errstr), clog_bool("retrying", attempt == 0)};
        clog_emit(r->log, CLOG_WARN, "redis connection lost", f, 2);
        redisFree(r->ctx);
        r->ctx = NULL;
    }
    if (reply)
        r->error[0] = '\0';
    pthread_mutex_unlock(&r->lock);
    return reply;
}

redisReply *credis_command(credis *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    command_args a = {.fmt = fmt, .ap = &ap};
    redisReply *reply = run_command(r, &a);
    va_end(ap);
    return reply;
}

redisReply *credis_command_argv(credis *r, int argc, const char **argv, const size_t *argv_len)
{
    command_args a = {.argc = argc, .argv = argv, .argv_len = argv_len};
    return run_command(r, &a);
}

bool credis_connected(credis *r)
{
    pthread_mutex_lock(&r->lock);
    bool ok = r->ctx && !r->ctx->err;
    pthread_mutex_unlock(&r->lock);
    return ok;
}

void credis_last_error(credis *r, char *out, size_t size)
{
    pthread_mutex_lock(&r->lock);
    snprintf(out, size, "%s", r->error);
    pthread_mutex_unlock(&r->lock);
}

unsigned long credis_connect_count(credis *r)
{
    pthread_mutex_lock(&r->lock);
    unsigned long n = r->connects;
    pthread_mutex_unlock(&r->lock);
    return n;
}
