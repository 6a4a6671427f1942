/*
 * kafka_admin: topic management through librdkafka's Admin API, used by the
 * services at start-up (and by tests) to make sure their topics exist with
 * the right partition count and configs. Creating a topic that already
 * exists is success (start-up is idempotent); a different partition count
 * on an existing topic is reported as a warning, never "fixed" silently.
 * Prefix: ckafka_admin_, ckafka_topic_.
 */
#ifndef COMMON_KAFKA_ADMIN_H
#define COMMON_KAFKA_ADMIN_H

#include <stddef.h>

#include "common/log.h"

typedef struct ckafka_admin ckafka_admin;

/* NULL with the reason in err. Free with ckafka_admin_free. */
ckafka_admin *ckafka_admin_new(const char *brokers, clog *log, char *err, size_t err_size);
void ckafka_admin_free(ckafka_admin *a);

/*
 * Creates `topic` with `partitions` partitions, replication factor
 * `replication` (-1: the broker's default) and the "key", "value" configs
 * (NULL-terminated list, may be NULL; e.g. "retention.ms", "-1").
 * Returns 0 when the topic was created or already existed, -1 with the
 * reason in err.
 */
int ckafka_topic_create(ckafka_admin *a, const char *topic, int partitions, int replication,
                        const char *const *configs, int timeout_ms, char *err, size_t err_size);

/* Deletes a topic; a topic that does not exist is success. */
int ckafka_topic_delete(ckafka_admin *a, const char *topic, int timeout_ms, char *err,
                        size_t err_size);

/* The partition count of `topic` from the cluster metadata: >= 1, 0 when
 * the topic is unknown, -1 on error (reason in err). */
int ckafka_topic_partition_count(ckafka_admin *a, const char *topic, int timeout_ms, char *err,
                                 size_t err_size);

#endif
