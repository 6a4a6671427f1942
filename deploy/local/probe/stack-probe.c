/* stack-probe: protocol-level readiness checks for the local stack (deploy/local/).
 *
 * An open port does not mean a server is ready: a JVM or a Go binary binds its port
 * before it can answer. The stack scripts therefore ask the real question:
 *   stack-probe kafka BROKERS [TIMEOUT_MS]  cluster metadata through librdkafka
 *   stack-probe mongo URI [TIMEOUT_MS]      a MongoDB `ping` command through libmongoc
 * Using the same client libraries as the services means "ready" is what the services
 * will see. deploy/local/lib.sh compiles this file straight into the cache folder
 * (not through CMake) because the stack must start before the project is built.
 * Exit status: 0 ready, 1 not ready (reason on stderr), 2 usage error.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>
#include <mongoc/mongoc.h>

enum { PROBE_READY = 0, PROBE_NOT_READY = 1, PROBE_USAGE = 2 };

enum { PROBE_DEFAULT_TIMEOUT_MS = 2000 };

/* Parses a positive millisecond count; returns 0 on success, -1 on bad input. */
static int probe_parse_timeout(const char *text, int *timeout_ms)
{
    char *end = NULL;
    errno = 0;
    long value = strtol(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || value <= 0 || value > INT_MAX) {
        return -1;
    }
    *timeout_ms = (int)value;
    return 0;
}

/* Ready when the bootstrap brokers answer a metadata request listing at least one
 * broker: that needs the broker to have joined the KRaft quorum and be unfenced. */
static int probe_kafka(const char *brokers, int timeout_ms)
{
    char errstr[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    /* librdkafka would log every refused connection while we poll; the probe reports
     * its own single-line reason instead. */
    if (rd_kafka_conf_set(conf, "bootstrap.servers", brokers, errstr, sizeof errstr) !=
            RD_KAFKA_CONF_OK ||
        rd_kafka_conf_set(conf, "log_level", "0", errstr, sizeof errstr) != RD_KAFKA_CONF_OK) {
        fprintf(stderr, "stack-probe kafka: bad configuration: %s\n", errstr);
        rd_kafka_conf_destroy(conf);
        return PROBE_USAGE;
    }
    /* On success rd_kafka_new takes ownership of conf; on failure it stays ours. */
    rd_kafka_t *client = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    if (client == NULL) {
        fprintf(stderr, "stack-probe kafka: cannot create client: %s\n", errstr);
        rd_kafka_conf_destroy(conf);
        return PROBE_NOT_READY;
    }

    const struct rd_kafka_metadata *metadata = NULL;
    rd_kafka_resp_err_t err = rd_kafka_metadata(client, 0, NULL, &metadata, timeout_ms);
    int status = PROBE_NOT_READY;
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        fprintf(stderr, "stack-probe kafka: no metadata from %s: %s\n", brokers,
                rd_kafka_err2str(err));
    } else if (metadata->broker_cnt <= 0) {
        fprintf(stderr, "stack-probe kafka: %s answered but lists no broker yet\n", brokers);
    } else {
        status = PROBE_READY;
    }
    if (metadata != NULL) {
        rd_kafka_metadata_destroy(metadata);
    }
    rd_kafka_destroy(client);
    return status;
}

/* Passes on errors only: FerretDB lacks `endSessions`, which libmongoc sends when the
 * client is destroyed, and the warning about it would show on every probe. */
static void probe_mongo_log(mongoc_log_level_t level, const char *domain, const char *message,
                            void *user_data)
{
    if (level <= MONGOC_LOG_LEVEL_ERROR) {
        mongoc_log_default_handler(level, domain, message, user_data);
    }
}

/* Ready when the server answers `{ping: 1}` on the admin database with ok: 1. */
static int probe_mongo(const char *uri_text, int timeout_ms)
{
    bson_error_t error;
    mongoc_uri_t *uri = mongoc_uri_new_with_error(uri_text, &error);
    if (uri == NULL) {
        fprintf(stderr, "stack-probe mongo: bad URI: %s\n", error.message);
        return PROBE_USAGE;
    }
    if (!mongoc_uri_set_option_as_int32(uri, MONGOC_URI_SERVERSELECTIONTIMEOUTMS, timeout_ms) ||
        !mongoc_uri_set_option_as_int32(uri, MONGOC_URI_CONNECTTIMEOUTMS, timeout_ms)) {
        fprintf(stderr, "stack-probe mongo: cannot set timeouts on the URI\n");
        mongoc_uri_destroy(uri);
        return PROBE_USAGE;
    }
    mongoc_client_t *client = mongoc_client_new_from_uri(uri);
    mongoc_uri_destroy(uri);
    if (client == NULL) {
        fprintf(stderr, "stack-probe mongo: cannot create client for %s\n", uri_text);
        return PROBE_NOT_READY;
    }

    bson_t *command = BCON_NEW("ping", BCON_INT32(1));
    bson_t reply; /* initialised by the call even when it fails */
    bool answered = mongoc_client_command_simple(client, "admin", command, NULL, &reply, &error);
    if (!answered) {
        fprintf(stderr, "stack-probe mongo: ping failed: %s\n", error.message);
    }
    bson_destroy(&reply);
    bson_destroy(command);
    mongoc_client_destroy(client);
    return answered ? PROBE_READY : PROBE_NOT_READY;
}

static void probe_usage(void)
{
    fputs("usage: stack-probe kafka BROKERS [TIMEOUT_MS]\n"
          "       stack-probe mongo URI [TIMEOUT_MS]\n"
          "exit status: 0 ready, 1 not ready, 2 usage error\n",
          stderr);
}

int main(int argc, char **argv)
{
    if (argc < 3 || argc > 4) {
        probe_usage();
        return PROBE_USAGE;
    }
    int timeout_ms = PROBE_DEFAULT_TIMEOUT_MS;
    if (argc == 4 && probe_parse_timeout(argv[3], &timeout_ms) != 0) {
        fprintf(stderr, "stack-probe: TIMEOUT_MS must be a positive integer, got '%s'\n", argv[3]);
        return PROBE_USAGE;
    }
    if (strcmp(argv[1], "kafka") == 0) {
        return probe_kafka(argv[2], timeout_ms);
    }
    if (strcmp(argv[1], "mongo") == 0) {
        mongoc_log_set_handler(probe_mongo_log, NULL);
        mongoc_init();
        int status = probe_mongo(argv[2], timeout_ms);
        mongoc_cleanup();
        return status;
    }
    probe_usage();
    return PROBE_USAGE;
}
