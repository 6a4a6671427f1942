/* itest_support.c - see itest_support.h. */
#include "tests/integration/support/itest_support.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "common/kafka_admin.h"
#include "common/util.h"

const char *itest_env_or(const char *name, const char *fallback)
{
    const char *v = getenv(name);
    return v && *v ? v : fallback;
}

void itest_on_delivery(void *userdata, void *msg_opaque, rd_kafka_resp_err_t err, int32_t partition,
                       int64_t offset)
{
    (void)userdata;
    (void)partition;
    (void)offset;
    itest_delivery *d = msg_opaque;
    if (!d)
        return; /* sent without waiting */
    d->err = err;
    d->done = 1;
}

int itest_produce_and_wait(ckafka_producer *producer, const char *topic, const char *key,
                           const void *value, size_t len)
{
    itest_delivery d = {0};
    if (ckafka_producer_send(producer, topic, RD_KAFKA_PARTITION_UA, key, strlen(key), value, len,
                             &d, 5000) != RD_KAFKA_RESP_ERR_NO_ERROR)
        return -1;
    int64_t deadline = util_now_ms() + 30000;
    while (!d.done && util_now_ms() < deadline)
        ckafka_producer_poll(producer, 50);
    return d.done && d.err == RD_KAFKA_RESP_ERR_NO_ERROR ? 0 : -1;
}

void itest_drop_run(const char *brokers, clog *log, const char *const *topics, cmongo *mongo,
                    const char *mongo_db)
{
    char err[512];
    ckafka_admin *admin = ckafka_admin_new(brokers, log, err, sizeof err);
    if (admin) {
        for (size_t i = 0; topics[i]; i++)
            ckafka_topic_delete(admin, topics[i], 30000, err, sizeof err);
        ckafka_admin_free(admin);
    }
    if (mongo) {
        mongoc_client_t *client = cmongo_acquire(mongo);
        mongoc_database_t *db = mongoc_client_get_database(client, mongo_db);
        bson_error_t error;
        mongoc_database_drop(db, &error); /* best effort */
        mongoc_database_destroy(db);
        cmongo_release(mongo, client);
    }
}

pid_t itest_spawn(const char *path, const char *const *argv, const char *log_path)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid != 0)
        return pid;
    /* The tests may run with SIGTERM/SIGINT blocked: unblock for the child. */
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    int fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
        dup2(fd, STDERR_FILENO);
        dup2(fd, STDOUT_FILENO);
        close(fd);
    }
    execv(path, (char *const *)argv);
    _exit(127);
}
