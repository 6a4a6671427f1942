/*
 * redis: a hiredis (0.14) connection for the services' Redis views and
 * caches: URL parsing (redis://[[user]:password@]host[:port][/db], with
 * percent-decoded credentials), connect and command timeouts, AUTH and
 * SELECT on every (re)connect, and a command
 * wrapper that reconnects once and retries once when the connection broke
 * (a server restart, CLIENT KILL, an idle timeout). Reconnect attempts after
 * a failure are spaced by a jittered exponential backoff, so a Redis outage
 * costs one fast error per call instead of a connect storm.
 *
 * The retry means a command whose reply was lost may run twice: use it for
 * idempotent commands (SET, HSET, EXPIRE, GET, PUBLISH of idempotent data),
 * which is what the design's Redis views need. A handle is thread-safe (a
 * mutex serialises commands); one per thread avoids that contention.
 * Prefix: credis_ (redis* is hiredis').
 */
#ifndef COMMON_REDIS_H
#define COMMON_REDIS_H

#include <hiredis/hiredis.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/log.h"

typedef struct credis_url {
    char host[256];
    int port;           /* default 6379 */
    int db;             /* default 0 */
    char user[128];     /* empty: none (Redis 6 ACL user) */
    char password[256]; /* empty: no AUTH */
} credis_url;

/* Parses url into out. Returns 0, or -1 with the reason in err. */
int credis_url_parse(const char *url, credis_url *out, char *err, size_t err_size);

typedef struct credis credis;

typedef struct credis_opts {
    const char *url;
    int connect_timeout_ms; /* 0: 2000 */
    int command_timeout_ms; /* 0: 2000 */
    int backoff_base_ms;    /* 0: 100 */
    int backoff_max_ms;     /* 0: 5000 */
    clog *log;              /* borrowed */
} credis_opts;

/*
 * A handle for opts->url. It tries to connect at once, but a server that is
 * down is not an error here: commands reconnect. NULL (reason in err) only
 * for an invalid URL or no memory. Free with credis_free.
 */
credis *credis_new(const credis_opts *opts, char *err, size_t err_size);
void credis_free(credis *r);

/*
 * Runs a command (hiredis format: "SET %s %b", key, value, len). Returns the
 * reply, which the caller frees with freeReplyObject; a Redis error reply
 * (REDIS_REPLY_ERROR) is a reply too. NULL when the command could not be
 * run (no connection, timeout, backoff pending): credis_last_error says why.
 */
redisReply *credis_command(credis *r, const char *fmt, ...);

/* The same with an argument vector (binary-safe). */
redisReply *credis_command_argv(credis *r, int argc, const char **argv, const size_t *argv_len);

/* True when the last command or connect succeeded on a live connection. */
bool credis_connected(credis *r);

/* Copies the reason of the last failure ("" if none) into out. */
void credis_last_error(credis *r, char *out, size_t size);

/* How many connections were made so far (1 after the first connect):
 * lets tests and metrics see reconnects. */
unsigned long credis_connect_count(credis *r);

#endif
