/*
 * replay (build/bin/replay): the command line of tools/replay. Settings
 * follow the services' (common/config.h: flag, COLLAB_* variable, default;
 * --help lists them), connections are checked before anything is read, and
 * the run ends with a summary on stdout. Exit codes: 0 done (verify: no
 * difference), 1 verify found differences, 2 bad options, 3 a server could
 * not be reached or a write kept failing, 4 undecodable records were skipped
 * (or, with --strict, one stopped the run).
 */
#include <inttypes.h>
#include <mongoc/mongoc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/avro_registry.h"
#include "common/config.h"
#include "common/docstore.h"
#include "common/log.h"
#include "common/mongo.h"
#include "common/redis.h"
#include "tools/replay/replay.h"

enum {
    EXIT_DONE = 0,
    EXIT_DIFFERENT = 1,
    EXIT_USAGE = 2,
    EXIT_UNREACHABLE = 3,
    EXIT_UNDECODABLE = 4,
};

static const cfg_setting replay_settings[] = {
    {.name = "merged_topic",
     .flag = "--merged-topic",
     .env = "COLLAB_MERGED_TOPIC",
     .type = CFG_STRING,
     .default_value = "collab.merged",
     .help = "topic of merged operations to rebuild the views from"},
    {.name = "doc",
     .flag = "--doc",
     .env = NULL,
     .type = CFG_STRING,
     .default_value = "",
     .help = "only this document (default: every document in the log)"},
    {.name = "until",
     .flag = "--until",
     .env = NULL,
     .type = CFG_STRING,
     .default_value = "",
     .help = "only records merged at or before this time: RFC 3339 "
             "(2026-11-22T03:04:05.123Z) or Unix milliseconds (default: the whole log)"},
    {.name = "verify",
     .flag = "--verify",
     .env = NULL,
     .type = CFG_BOOL,
     .default_value = "false",
     .help = "write nothing; report every view that differs from the log (exit 1 if any)"},
    {.name = "strict",
     .flag = "--strict",
     .env = NULL,
     .type = CFG_BOOL,
     .default_value = "false",
     .help = "stop at the first undecodable record (default: count it and go on)"},
    {.name = "timeout",
     .flag = "--timeout",
     .env = "COLLAB_REPLAY_TIMEOUT",
     .type = CFG_DURATION,
     .default_value = "30s",
     .help = "how long to wait for Kafka, MongoDB and Redis (connecting, the next record, a "
             "write that fails)",
     .min = 100000000,
     .max = 3600000000000},
    {.name = "progress",
     .flag = "--progress",
     .env = NULL,
     .type = CFG_DURATION,
     .default_value = "5s",
     .help = "a progress line on stderr this often (0: none)"},
    {.name = "batch",
     .flag = "--batch",
     .env = NULL,
     .type = CFG_INT,
     .default_value = "500",
     .help = "crdt_operations rows per insert (or per verify query)",
     .min = 1,
     .max = 10000},
    {.name = "max_reported",
     .flag = "--max-reported",
     .env = NULL,
     .type = CFG_INT,
     .default_value = "1000",
     .help = "verify: differences printed at most (all are counted)",
     .min = 0,
     .max = 100000000},
};

/* Connects and checks both stores within timeout_ms. 0, or -1 with a message
 * on stderr. */
static int check_stores(cfg *c, cmongo *mongo, credis *redis, int timeout_ms)
{
    bson_error_t error;
    if (cmongo_wait_ready(mongo, timeout_ms, &error) != 0) {
        fprintf(stderr, "replay: cannot reach MongoDB (%s) within %d ms: %s\n",
                cfg_string(c, CFG_MONGO_URI), timeout_ms, error.message);
        return -1;
    }
    redisReply *r = credis_command(redis, "PING");
    if (!r || r->type == REDIS_REPLY_ERROR) {
        char why[256] = "";
        if (r)
            snprintf(why, sizeof why, "%s", r->str);
        else
            credis_last_error(redis, why, sizeof why);
        fprintf(stderr, "replay: cannot reach Redis: %s\n", why);
        if (r)
            freeReplyObject(r);
        return -1;
    }
    freeReplyObject(r);
    return 0;
}

static void print_summary(const replay_options *o, const replay_stats *s, FILE *out)
{
    fprintf(out, "mode: %s\n", o->verify ? "verify" : "rebuild");
    fprintf(out, "records read: %" PRId64 "\n", s->records);
    fprintf(out, "records replayed: %" PRId64 "\n", s->replayed);
    fprintf(out, "records after --until: %" PRId64 "\n", s->after_until);
    fprintf(out, "records of other documents: %" PRId64 "\n", s->other_documents);
    fprintf(out, "undecodable records: %" PRId64 "\n", s->undecodable);
    fprintf(out, "version gaps: %" PRId64 "\n", s->gaps);
    fprintf(out, "repeated versions: %" PRId64 "\n", s->repeated);
    fprintf(out, "documents: %" PRId64 "\n", s->documents);
    fprintf(out, "documents in memory at most: %" PRId64 "\n", s->peak_documents);
    fprintf(out, "documents with gaps (state not %s): %" PRId64 "\n",
            o->verify ? "compared" : "written", s->incomplete);
    fprintf(out, "items: %" PRId64 "\n", s->items);
    if (o->verify) {
        fprintf(out, "differences: %" PRId64 "\n", s->differences);
        fprintf(out, "views newer than the log read: %" PRId64 "\n", s->views_ahead);
    } else {
        const docstore_counts *w = &s->writes;
        fprintf(out, "crdt_operations rows written: %" PRIu64 ", already present: %" PRIu64 "\n",
                w->rows_inserted, w->rows_present);
        fprintf(out, "documents written: %" PRIu64 ", already as new: %" PRIu64 "\n",
                w->documents_written, w->documents_newer);
        fprintf(out, "redis doc states written: %" PRIu64 ", already as new: %" PRIu64 "\n",
                w->states_written, w->states_newer);
        fprintf(out, "items written: %" PRIu64 ", already as new: %" PRIu64 "\n", w->items_written,
                w->items_newer);
        fprintf(out, "redis items written: %" PRIu64 ", already as new: %" PRIu64 "\n",
                w->item_caches_written, w->item_caches_newer);
    }
    fprintf(out, "seconds: %.3f\n", s->seconds);
}

int main(int argc, char **argv)
{
    cfg *c = cfg_new(argv[0], "replay: rebuild (or --verify) the MongoDB/Redis views from the "
                              "collab.merged log");
    if (!c || cfg_add_common(c) != 0 ||
        cfg_add(c, replay_settings, sizeof replay_settings / sizeof replay_settings[0]) != 0) {
        fprintf(stderr, "replay: %s\n", c ? cfg_error(c) : "out of memory");
        cfg_free(c);
        return EXIT_UNREACHABLE;
    }
    int code = cfg_parse_cli(c, argc, argv, NULL, stdout, stderr);
    if (code != CFG_RUN) {
        cfg_free(c);
        return code;
    }
    replay_options o = {.brokers = cfg_string(c, CFG_KAFKA_BROKERS),
                        .merged_topic = cfg_string(c, "merged_topic"),
                        .doc_id = *cfg_string(c, "doc") ? cfg_string(c, "doc") : NULL,
                        .until_us = INT64_MAX,
                        .verify = cfg_bool(c, "verify"),
                        .strict = cfg_bool(c, "strict"),
                        .timeout_ms = (int)cfg_duration_ms(c, "timeout"),
                        .progress_ms = cfg_duration_ms(c, "progress"),
                        .rows_per_batch = (size_t)cfg_int(c, "batch"),
                        .max_reported = (size_t)cfg_int(c, "max_reported")};
    const char *until = cfg_string(c, "until");
    if (*until && replay_parse_time(until, &o.until_us) != 0) {
        fprintf(stderr,
                "replay: invalid --until \"%s\": expected RFC 3339 (2026-11-22T03:04:05Z, "
                "2026-11-22T04:04:05.5+01:00) or Unix milliseconds\n",
                until);
        cfg_free(c);
        return EXIT_USAGE;
    }
    clog_level level = CLOG_INFO;
    clog_level_parse(cfg_enum(c, CFG_LOG_LEVEL), &level);
    clog *log = clog_new("replay", level, STDERR_FILENO);
    mongoc_init();
    cmongo_route_driver_log(log);
    char err[1024] = "";
    struct cavro_registry *avro = NULL;
    cmongo *mongo = NULL;
    credis *redis = NULL;
    docstore *ds = NULL;
    code = EXIT_UNREACHABLE;
    if (!log || cavro_registry_new_builtin(&avro, err, sizeof err) != CAVRO_OK) {
        fprintf(stderr, "replay: avro schemas: %s\n", err);
        goto out;
    }
    cmongo_opts mo = {.uri = cfg_string(c, CFG_MONGO_URI),
                      .db = cfg_string(c, CFG_MONGO_DB),
                      .app_name = "replay",
                      .server_selection_timeout_ms = o.timeout_ms,
                      .log = log};
    credis_opts ro = {.url = cfg_string(c, CFG_REDIS_URL), .log = log};
    mongo = cmongo_new(&mo, err, sizeof err);
    redis = mongo ? credis_new(&ro, err, sizeof err) : NULL;
    if (!redis) {
        fprintf(stderr, "replay: %s\n", err);
        code = EXIT_USAGE; /* an unparsable URI */
        goto out;
    }
    if (check_stores(c, mongo, redis, o.timeout_ms) != 0)
        goto out;
    ds = docstore_new(mongo, redis, avro, log);
    if (!ds)
        goto out;
    if (!o.verify && docstore_ensure_indexes(ds, err, sizeof err) != DOCSTORE_OK) {
        fprintf(stderr, "replay: MongoDB indexes: %s\n", err);
        goto out;
    }
    replay_stats stats;
    replay_status st = replay_run(&o, ds, avro, log, stdout, &stats, err, sizeof err);
    print_summary(&o, &stats, stdout);
    if (st == REPLAY_FAILED) {
        fprintf(stderr, "replay: %s\n", err);
        code = EXIT_UNREACHABLE;
    } else if (st == REPLAY_UNDECODABLE) {
        fprintf(stderr, "replay: stopped (--strict): %s\n", err);
        code = EXIT_UNDECODABLE;
    } else if (stats.undecodable > 0) {
        fprintf(stderr,
                "replay: %" PRId64 " undecodable records were skipped (see the log "
                "lines above; --strict stops at the first)\n",
                stats.undecodable);
        code = EXIT_UNDECODABLE;
    } else if (o.verify && stats.differences > 0) {
        fprintf(stderr, "replay: %" PRId64 " differences between the views and the log\n",
                stats.differences);
        code = EXIT_DIFFERENT;
    } else {
        code = EXIT_DONE;
    }
out:
    docstore_free(ds);
    credis_free(redis);
    cmongo_free(mongo);
    cavro_registry_free(avro);
    mongoc_cleanup();
    clog_free(log);
    cfg_free(c);
    return code;
}
