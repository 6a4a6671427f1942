/*
 * mongo: the services' access to MongoDB (FerretDB locally) through a
 * mongoc client pool: connection/server-selection/socket timeouts set on the
 * URI unless it already has them, a ping and a wait-until-reachable with
 * backoff for start-up, an ensure-index helper (unique indexes for the
 * idempotent writes), and a classification of errors, so a duplicate key
 * (11000: "this write already happened") is told apart from an unreachable
 * server (retry later) and from everything else. No transactions and no
 * change streams: FerretDB has neither and the design needs neither.
 * The mongoc driver reconnects by itself; callers retry UNAVAILABLE errors.
 *
 * Threading: the pool is thread-safe; a mongoc_client_t taken from it
 * belongs to one thread until it is given back. mongoc_init() and
 * mongoc_cleanup() are the program's (call them in main). Prefix: cmongo_.
 */
#ifndef COMMON_MONGO_H
#define COMMON_MONGO_H

#include <mongoc/mongoc.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/log.h"

typedef struct cmongo cmongo;

typedef struct cmongo_opts {
    const char *uri;                 /* mongodb://... */
    const char *db;                  /* database name */
    const char *app_name;            /* shown in server logs; may be NULL */
    int connect_timeout_ms;          /* 0: 2000 */
    int server_selection_timeout_ms; /* 0: 5000 */
    int socket_timeout_ms;           /* 0: 10000 */
    int max_pool_size;               /* 0: the driver's default (100) */
    clog *log;                       /* borrowed */
} cmongo_opts;

typedef enum cmongo_error_kind {
    CMONGO_OK = 0,
    CMONGO_DUPLICATE_KEY, /* E11000: the document (or operation) exists */
    CMONGO_UNAVAILABLE,   /* network, server selection, not primary: retry */
    CMONGO_FAILED,        /* anything else: a bad request or a server error */
} cmongo_error_kind;

/* Parses the URI and creates the pool (no connection is made yet). NULL
 * with the reason in err. Free with cmongo_free. */
cmongo *cmongo_new(const cmongo_opts *opts, char *err, size_t err_size);
void cmongo_free(cmongo *m);

/* A client from the pool (blocks while all are in use); give it back with
 * cmongo_release on the same thread. */
mongoc_client_t *cmongo_acquire(cmongo *m);
void cmongo_release(cmongo *m, mongoc_client_t *client);

const char *cmongo_db_name(const cmongo *m);

/* A collection of the configured database on client; caller destroys it
 * with mongoc_collection_destroy before releasing the client. */
mongoc_collection_t *cmongo_collection(cmongo *m, mongoc_client_t *client, const char *name);

/* One "ping" round trip. Returns 0, or -1 with error filled. */
int cmongo_ping(cmongo *m, bson_error_t *error);

/* Pings with jittered backoff until the server answers or timeout_ms
 * passed (start-up: the database may start after us). 0 or -1. */
int cmongo_wait_ready(cmongo *m, int timeout_ms, bson_error_t *error);

/*
 * Makes sure an index named `name` on `keys` (e.g. {"doc_id":1,"op_id":1})
 * exists on collection, unique if asked. An identical index is success; an
 * index of that name with other keys or options is an error. 0 or -1.
 */
int cmongo_ensure_index(cmongo *m, const char *collection, const bson_t *keys, const char *name,
                        bool unique, bson_error_t *error);

/* What kind of failure error is (CMONGO_OK for an empty error). */
cmongo_error_kind cmongo_classify(const bson_error_t *error);
bool cmongo_is_duplicate_key(const bson_error_t *error);
const char *cmongo_error_kind_name(cmongo_error_kind kind);

/* Routes the mongoc driver's own log lines into log (warnings and worse).
 * The driver's handler is process-wide: call once from main; log must live
 * until mongoc_cleanup(). */
void cmongo_route_driver_log(clog *log);

#endif
