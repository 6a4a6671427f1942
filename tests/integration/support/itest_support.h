/* itest_support.h - helpers shared by the integration-test harnesses of the
 * services (tests/integration/processor/harness.c, broadcaster/bt.c): server
 * addresses from the environment, producing a record and waiting for its
 * delivery report, and dropping what one test run created (its topics and its
 * MongoDB database). Test code only; not part of any service. */
#ifndef COLLAB_ITEST_SUPPORT_H
#define COLLAB_ITEST_SUPPORT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/kafka_producer.h"
#include "common/log.h"
#include "common/mongo.h"

/* The value of environment variable `name`, or `fallback` when it is unset or
 * empty. The result is not owned by the caller. */
const char *itest_env_or(const char *name, const char *fallback);

/* Delivery callback for ckafka producers: the message opaque is an
 * itest_delivery (or NULL for records sent without waiting). Pass it as the
 * producer's on_delivery. */
typedef struct itest_delivery {
    int done;
    rd_kafka_resp_err_t err;
} itest_delivery;
void itest_on_delivery(void *userdata, void *msg_opaque, rd_kafka_resp_err_t err, int32_t partition,
                       int64_t offset);

/* Produces one record to `topic` with `producer` (created with
 * itest_on_delivery) and waits up to 30 s for its delivery report. 0 when
 * Kafka confirmed it, -1 otherwise. */
int itest_produce_and_wait(ckafka_producer *producer, const char *topic, const char *key,
                           const void *value, size_t len);

/* Starts program `path` with the NULL-terminated `argv` (argv[0] included) as
 * a child process: signals unblocked, stdout and stderr appended to
 * `log_path`, killed when the test process dies (a failed assertion must not
 * leave services running). The child's pid, or -1 when fork failed. */
pid_t itest_spawn(const char *path, const char *const *argv, const char *log_path);

/* Best-effort teardown of one run: deletes each topic of the NULL-terminated
 * `topics` and drops database `mongo_db` (when `mongo` is not NULL). */
void itest_drop_run(const char *brokers, clog *log, const char *const *topics, cmongo *mongo,
                    const char *mongo_db);

#endif
