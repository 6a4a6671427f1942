/*
 * mongo: mongoc pool with timeouts, ping/wait, ensure-index and error
 * classification. See mongo.h.
 */
#include "common/mongo.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"

struct cmongo {
    mongoc_client_pool_t *pool;
    mongoc_uri_t *uri;
    char *db;
    clog *log;
};

static void set_default_timeout(mongoc_uri_t *uri, const char *option, int value, int fallback)
{
    /* A timeout written in the URI by the operator wins over ours. */
    if (!mongoc_uri_has_option(uri, option))
        mongoc_uri_set_option_as_int32(uri, option, value > 0 ? value : fallback);
}

cmongo *cmongo_new(const cmongo_opts *opts, char *err, size_t err_size)
{
    cmongo *m = calloc(1, sizeof *m);
    if (!m) {
        snprintf(err, err_size, "out of memory");
        return NULL;
    }
    m->log = opts->log;
    bson_error_t error;
    m->uri = mongoc_uri_new_with_error(opts->uri ? opts->uri : "", &error);
    if (!m->uri) {
        snprintf(err, err_size, "invalid MongoDB URI: %s", error.message);
        free(m);
        return NULL;
    }
    set_default_timeout(m->uri, MONGOC_URI_CONNECTTIMEOUTMS, opts->connect_timeout_ms, 2000);
    set_default_timeout(m->uri, MONGOC_URI_SERVERSELECTIONTIMEOUTMS,
                        opts->server_selection_timeout_ms, 5000);
    set_default_timeout(m->uri, MONGOC_URI_SOCKETTIMEOUTMS, opts->socket_timeout_ms, 10000);
    if (opts->max_pool_size > 0)
        mongoc_uri_set_option_as_int32(m->uri, MONGOC_URI_MAXPOOLSIZE, opts->max_pool_size);
    if (opts->app_name)
        mongoc_uri_set_appname(m->uri, opts->app_name);
    m->db = strdup(opts->db ? opts->db : "collab");
    m->pool = m->db ? mongoc_client_pool_new(m->uri) : NULL;
    if (!m->pool) {
        snprintf(err, err_size, "cannot create the MongoDB client pool");
        cmongo_free(m);
        return NULL;
    }
    /* Version 2: server errors keep the server's code (11000) in
     * error.code with domain MONGOC_ERROR_SERVER. */
    mongoc_client_pool_set_error_api(m->pool, MONGOC_ERROR_API_VERSION_2);
    return m;
}

void cmongo_free(cmongo *m)
{
    if (!m)
        return;
    if (m->pool)
        mongoc_client_pool_destroy(m->pool);
    if (m->uri)
        mongoc_uri_destroy(m->uri);
    free(m->db);
    free(m);
}

mongoc_client_t *cmongo_acquire(cmongo *m)
{
    return mongoc_client_pool_pop(m->pool);
}

void cmongo_release(cmongo *m, mongoc_client_t *client)
{
    if (client)
        mongoc_client_pool_push(m->pool, client);
}

const char *cmongo_db_name(const cmongo *m)
{
    return m->db;
}

mongoc_collection_t *cmongo_collection(cmongo *m, mongoc_client_t *client, const char *name)
{
    return mongoc_client_get_collection(client, m->db, name);
}

int cmongo_ping(cmongo *m, bson_error_t *error)
{
    mongoc_client_t *client = cmongo_acquire(m);
    bson_t cmd = BSON_INITIALIZER;
    BSON_APPEND_INT32(&cmd, "ping", 1);
    bool ok = mongoc_client_command_simple(client, m->db, &cmd, NULL, NULL, error);
    bson_destroy(&cmd);
    cmongo_release(m, client);
    return ok ? 0 : -1;
}

int cmongo_wait_ready(cmongo *m, int timeout_ms, bson_error_t *error)
{
    int64_t deadline = util_now_ms() + timeout_ms;
    util_backoff backoff;
    util_backoff_init(&backoff, 100, 2000);
    for (;;) {
        if (cmongo_ping(m, error) == 0)
            return 0;
        int64_t pause = util_backoff_next(&backoff);
        if (util_now_ms() + pause >= deadline)
            return -1;
        clog_field f[] = {clog_str("error", error->message), clog_int("retry_in_ms", pause)};
        clog_emit(m->log, CLOG_WARN, "mongodb not reachable yet", f, 2);
        util_sleep_ms(pause);
    }
}

int cmongo_ensure_index(cmongo *m, const char *collection, const bson_t *keys, const char *name,
                        bool unique, bson_error_t *error)
{
    bson_t cmd = BSON_INITIALIZER;
    bson_t indexes, index;
    BSON_APPEND_UTF8(&cmd, "createIndexes", collection);
    BSON_APPEND_ARRAY_BEGIN(&cmd, "indexes", &indexes);
    BSON_APPEND_DOCUMENT_BEGIN(&indexes, "0", &index);
    BSON_APPEND_DOCUMENT(&index, "key", keys);
    BSON_APPEND_UTF8(&index, "name", name);
    if (unique)
        BSON_APPEND_BOOL(&index, "unique", true);
    bson_append_document_end(&indexes, &index);
    bson_append_array_end(&cmd, &indexes);

    mongoc_client_t *client = cmongo_acquire(m);
    bson_t reply;
    bool ok = mongoc_client_write_command_with_opts(client, m->db, &cmd, NULL, &reply, error);
    cmongo_release(m, client);
    bson_destroy(&reply);
    bson_destroy(&cmd);
    if (ok) {
        clog_field f[] = {clog_str("collection", collection), clog_str("index", name),
                          clog_bool("unique", unique)};
        clog_emit(m->log, CLOG_DEBUG, "mongodb index ready", f, 3);
    }
    return ok ? 0 : -1;
}

bool cmongo_is_duplicate_key(const bson_error_t *error)
{
    /* 11000 today; 11001 and 12582 are older servers' spellings of it. */
    return error &&
           (error->domain == MONGOC_ERROR_SERVER || error->domain == MONGOC_ERROR_WRITE_CONCERN ||
            error->domain == MONGOC_ERROR_COLLECTION || error->domain == MONGOC_ERROR_QUERY) &&
           (error->code == 11000 || error->code == 11001 || error->code == 12582);
}

cmongo_error_kind cmongo_classify(const bson_error_t *error)
{
    if (!error || (error->domain == 0 && error->code == 0))
        return CMONGO_OK;
    if (cmongo_is_duplicate_key(error))
        return CMONGO_DUPLICATE_KEY;
    if (error->domain == MONGOC_ERROR_STREAM || error->domain == MONGOC_ERROR_SERVER_SELECTION)
        return CMONGO_UNAVAILABLE;
    if (error->domain == MONGOC_ERROR_SERVER) {
        /* Server codes for "try again elsewhere / later": host unreachable,
         * not primary, shutting down, network timeout, primary stepped down. */
        static const uint32_t transient[] = {6,    7,     89,    91,    189,   262,
                                             9001, 10107, 11600, 11602, 13435, 13436};
        for (size_t i = 0; i < sizeof transient / sizeof transient[0]; i++) {
            if (error->code == transient[i])
                return CMONGO_UNAVAILABLE;
        }
    }
    return CMONGO_FAILED;
}

const char *cmongo_error_kind_name(cmongo_error_kind kind)
{
    switch (kind) {
    case CMONGO_OK:
        return "ok";
    case CMONGO_DUPLICATE_KEY:
        return "duplicate_key";
    case CMONGO_UNAVAILABLE:
        return "unavailable";
    case CMONGO_FAILED:
        return "failed";
    }
    return "unknown";
}

static void driver_log(mongoc_log_level_t level, const char *domain, const char *message,
                       void *userdata)
{
    clog *log = userdata;
    clog_level ours;
    if (level <= MONGOC_LOG_LEVEL_CRITICAL)
        ours = CLOG_ERROR;
    else if (level == MONGOC_LOG_LEVEL_WARNING)
        ours = CLOG_WARN;
    else
        return; /* the driver's info/debug/trace chatter */
    /* FerretDB has no sessions; the driver's goodbye "endSessions" fails
     * harmlessly at every pool shutdown. */
    if (strstr(message, "endSessions"))
        ours = CLOG_DEBUG;
    clog_field f[] = {clog_str("mongoc_domain", domain)};
    clog_emit(log, ours, message, f, 1);
}

void cmongo_route_driver_log(clog *log)
{
    mongoc_log_set_handler(driver_log, log);
}
