/*
 * kafka_config: what every librdkafka handle of ours shares: the client
 * configuration (bootstrap servers, client id, extra key/value pairs), and
 * the routing of librdkafka's log and error callbacks into clog. Each
 * wrapper (producer, consumer, admin) starts with a ckafka_base and passes it
 * as the handle's opaque, so the callbacks find the logger without globals.
 * librdkafka calls these callbacks from its own threads; clog is thread-safe.
 * Prefix: ckafka_ (rd_kafka_ is the library's).
 */
#ifndef COMMON_KAFKA_CONFIG_H
#define COMMON_KAFKA_CONFIG_H

#include <librdkafka/rdkafka.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/log.h"

/* First member of every wrapper; the rd_kafka_t opaque points to it. */
typedef struct ckafka_base {
    clog *log;
    const char *role;  /* "producer", "consumer", "admin": in log lines */
    atomic_bool fatal; /* set when librdkafka reports a fatal error */
} ckafka_base;

/*
 * A new configuration with bootstrap.servers, client.id (if not NULL) and the
 * log/error callbacks bound to base. Returns NULL with the reason in err. The
 * caller owns the result until it hands it to rd_kafka_new (which takes it on
 * success), or frees it with rd_kafka_conf_destroy.
 */
rd_kafka_conf_t *ckafka_conf_new(ckafka_base *base, const char *brokers, const char *client_id,
                                 char *err, size_t err_size);

/* Applies every "key", "value" pair of extra (a NULL-terminated list; NULL
 * is an empty list). Wrappers apply it after their own settings, so a
 * caller can tune anything (linger.ms, session.timeout.ms...). Returns 0 or
 * -1 with the reason in err. */
int ckafka_conf_apply(rd_kafka_conf_t *conf, const char *const *extra, char *err, size_t err_size);

/* Sets one property; returns 0, or -1 with "key=value: reason" in err. */
int ckafka_conf_set(rd_kafka_conf_t *conf, const char *key, const char *value, char *err,
                    size_t err_size);

/* Initialises base (log borrowed; role a string literal). */
void ckafka_base_init(ckafka_base *base, clog *log, const char *role);

/* True once librdkafka reported a fatal error on the handle: it must be
 * destroyed and recreated (for a transactional producer: the process is
 * fenced or broken and should exit). */
bool ckafka_base_fatal(const ckafka_base *base);

#endif
