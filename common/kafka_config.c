/*
 * kafka_config: shared librdkafka configuration and log/error routing into
 * clog. See kafka_config.h.
 */
#include "common/kafka_config.h"

#include <stdio.h>
#include <string.h>

void ckafka_base_init(ckafka_base *base, clog *log, const char *role)
{
    base->log = log;
    base->role = role;
    atomic_init(&base->fatal, false);
}

bool ckafka_base_fatal(const ckafka_base *base)
{
    return atomic_load(&((ckafka_base *)base)->fatal);
}

/* syslog levels (0 emerg .. 7 debug) -> ours. */
static clog_level level_from_syslog(int level)
{
    if (level <= 3)
        return CLOG_ERROR;
    if (level == 4)
        return CLOG_WARN;
    if (level <= 6)
        return CLOG_INFO;
    return CLOG_DEBUG;
}

static void log_callback(const rd_kafka_t *rk, int level, const char *facility, const char *buf)
{
    const ckafka_base *base = rd_kafka_opaque(rk);
    if (!base)
        return;
    clog_field f[] = {clog_str("kafka_client", rd_kafka_name(rk)), clog_str("role", base->role),
                      clog_str("facility", facility)};
    clog_emit(base->log, level_from_syslog(level), buf, f, 3);
}

static void error_callback(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    ckafka_base *base = opaque;
    rd_kafka_resp_err_t code = (rd_kafka_resp_err_t)err;
    char fatal_reason[512];
    bool fatal = code == RD_KAFKA_RESP_ERR__FATAL;
    if (fatal) {
        code = rd_kafka_fatal_error(rk, fatal_reason, sizeof fatal_reason);
        reason = fatal_reason;
        atomic_store(&base->fatal, true);
    }
    clog_field f[] = {clog_str("kafka_client", rd_kafka_name(rk)), clog_str("role", base->role),
                      clog_str("error", rd_kafka_err2name(code)), clog_str("reason", reason),
                      clog_bool("fatal", fatal)};
    /* Most errors are transient (a broker restarting, all brokers down for a
     * moment) and librdkafka retries them itself: a warning, not an error. */
    clog_emit(base->log, fatal ? CLOG_ERROR : CLOG_WARN, "kafka client error", f, 5);
}

int ckafka_conf_set(rd_kafka_conf_t *conf, const char *key, const char *value, char *err,
                    size_t err_size)
{
    char reason[256];
    if (rd_kafka_conf_set(conf, key, value, reason, sizeof reason) != RD_KAFKA_CONF_OK) {
        snprintf(err, err_size, "kafka setting %s=%s: %s", key, value, reason);
        return -1;
    }
    return 0;
}

int ckafka_conf_apply(rd_kafka_conf_t *conf, const char *const *extra, char *err, size_t err_size)
{
    for (size_t i = 0; extra && extra[i]; i += 2) {
        if (!extra[i + 1]) {
            snprintf(err, err_size, "kafka setting %s has no value", extra[i]);
            return -1;
        }
        if (ckafka_conf_set(conf, extra[i], extra[i + 1], err, err_size) != 0)
            return -1;
    }
    return 0;
}

rd_kafka_conf_t *ckafka_conf_new(ckafka_base *base, const char *brokers, const char *client_id,
                                 char *err, size_t err_size)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (!conf) {
        snprintf(err, err_size, "out of memory");
        return NULL;
    }
    rd_kafka_conf_set_opaque(conf, base);
    rd_kafka_conf_set_log_cb(conf, log_callback);
    rd_kafka_conf_set_error_cb(conf, error_callback);
    /* TCP_NODELAY: a small request held back behind an unacknowledged one
     * only adds latency (the Java clients always disable Nagle too). */
    if (ckafka_conf_set(conf, "bootstrap.servers", brokers ? brokers : "", err, err_size) != 0 ||
        ckafka_conf_set(conf, "socket.nagle.disable", "true", err, err_size) != 0 ||
        (client_id && ckafka_conf_set(conf, "client.id", client_id, err, err_size) != 0)) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    return conf;
}
