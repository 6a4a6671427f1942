/*
 * bench-drop-run: removes what one benchmark run created on the local stack,
 * its Kafka topics and its MongoDB database, so that runs do not pile up in
 * the broker (an ingest run leaves ~130 MB of log) and in FerretDB.
 * bench/ingest/run.sh calls it on exit.
 *
 *   bench-drop-run [--topic NAME]... [--database NAME]
 *
 * Servers from COLLAB_KAFKA_BROKERS and COLLAB_MONGO_URI (the local stack's
 * defaults otherwise). Best effort, like the tests' teardown it reuses
 * (itest_drop_run): a failure is logged, the exit code is 0 unless the
 * arguments are wrong.
 */
#include <mongoc/mongoc.h>
#include <stdio.h>
#include <string.h>

#include "common/log.h"
#include "common/mongo.h"
#include "tests/integration/support/itest_support.h"

#define MAX_TOPICS 16

int main(int argc, char **argv)
{
    const char *topics[MAX_TOPICS + 1] = {0};
    size_t topic_count = 0;
    const char *database = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--topic") == 0 && i + 1 < argc && topic_count < MAX_TOPICS) {
            topics[topic_count++] = argv[++i];
        } else if (strcmp(argv[i], "--database") == 0 && i + 1 < argc && !database) {
            database = argv[++i];
        } else {
            fprintf(stderr,
                    "usage: bench-drop-run [--topic NAME]... (at most %d) "
                    "[--database NAME]\n",
                    MAX_TOPICS);
            return 2;
        }
    }
    clog *log = clog_new("bench-drop-run", CLOG_WARN, 2);
    if (!log)
        return 1;
    mongoc_init();
    cmongo_route_driver_log(log); /* FerretDB's "no endSessions" at shutdown is noise */
    const char *brokers = itest_env_or("COLLAB_KAFKA_BROKERS", "127.0.0.1:9092");
    cmongo *mongo = NULL;
    if (database) {
        char err[256];
        cmongo_opts mo = {.uri = itest_env_or("COLLAB_MONGO_URI", "mongodb://127.0.0.1:27017"),
                          .db = database,
                          .app_name = "bench-drop-run",
                          .log = log};
        mongo = cmongo_new(&mo, err, sizeof err);
        if (!mongo)
            clog_emit(log, CLOG_WARN, "database not dropped",
                      (clog_field[]){clog_str("database", database), clog_str("error", err)}, 2);
    }
    itest_drop_run(brokers, log, topics, mongo, database);
    cmongo_free(mongo);
    mongoc_cleanup();
    clog_free(log);
    return 0;
}
