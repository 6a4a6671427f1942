/*
 * replay_log: one assign-only, read_committed consumer over the partitions
 * of a topic, one after the other, from the first record to the end seen at
 * the start. See replay_log.h.
 */
#include "tools/replay/replay_log.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/kafka_config.h"
#include "common/kafka_consumer.h"
#include "common/util.h"

/* Where each partition ends for this read. */
typedef struct part_end {
    int32_t partition;
    int64_t end; /* the offset after the last record to read (high watermark at start) */
    bool done;
} part_end;

static rd_kafka_t *new_consumer(const replay_log_opts *o, ckafka_base *base, char *err,
                                size_t err_size)
{
    char timeout[32], group[96];
    snprintf(timeout, sizeof timeout, "%d", o->timeout_ms);
    /* librdkafka's assign needs a group id, but assign never joins it and
     * nothing is committed: a fresh name per run that no other consumer
     * uses, so a replay never disturbs the services' consumer groups. */
    snprintf(group, sizeof group, "collab-replay-%ld-%lld", (long)getpid(),
             (long long)util_wall_ns());
    const char *extra[] = {"socket.timeout.ms", timeout, NULL};
    rd_kafka_t *rk =
        ckafka_reader_new(base, o->brokers, "collab-replay", group, extra, err, err_size);
    if (rk)
        rd_kafka_poll_set_consumer(rk);
    return rk;
}

/* The partition count of the topic: -1 with err when Kafka cannot be reached
 * in time or the topic does not exist. */
static int partition_count(rd_kafka_t *rk, const replay_log_opts *o, char *err, size_t err_size)
{
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, o->topic, NULL);
    if (!rkt) {
        snprintf(err, err_size, "topic handle %s: %s", o->topic,
                 rd_kafka_err2str(rd_kafka_last_error()));
        return -1;
    }
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t kerr = rd_kafka_metadata(rk, 0, rkt, &md, o->timeout_ms);
    int count = -1;
    if (kerr) {
        snprintf(err, err_size, "cannot reach Kafka at %s within %d ms: %s", o->brokers,
                 o->timeout_ms, rd_kafka_err2str(kerr));
    } else if (md->topic_cnt != 1 || md->topics[0].err) {
        snprintf(err, err_size, "topic %s: %s", o->topic,
                 md->topic_cnt == 1 ? rd_kafka_err2str(md->topics[0].err) : "not in metadata");
    } else {
        count = md->topics[0].partition_cnt;
    }
    if (md)
        rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(rkt);
    return count;
}

/* Reads one partition from its first record to pe->end (or its end of what
 * is committed), calling fn for each record. 0, fn's non-zero value, or -1
 * with err. *read counts the records handed to fn. */
static int read_partition(rd_kafka_t *rk, const replay_log_opts *o, part_end *pe, replay_log_fn fn,
                          void *userdata, int64_t *read, int64_t total, int64_t *next_progress,
                          char *err, size_t err_size)
{
    rd_kafka_topic_partition_list_t *assign = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(assign, o->topic, pe->partition)->offset =
        RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_resp_err_t kerr = rd_kafka_assign(rk, assign);
    rd_kafka_topic_partition_list_destroy(assign);
    if (kerr) {
        snprintf(err, err_size, "assign %s[%d]: %s", o->topic, (int)pe->partition,
                 rd_kafka_err2str(kerr));
        return -1;
    }
    int rc = 0;
    int64_t idle_deadline = util_now_ms() + o->timeout_ms;
    while (rc == 0 && !pe->done) {
        rd_kafka_message_t *msg = rd_kafka_consumer_poll(rk, 200);
        int64_t now = util_now_ms();
        if (o->progress && o->progress_ms > 0 && now >= *next_progress) {
            o->progress(userdata, *read, total);
            *next_progress = now + o->progress_ms;
        }
        if (!msg) {
            if (now > idle_deadline) {
                snprintf(err, err_size, "no record of %s[%d] within %d ms (not read to its end)",
                         o->topic, (int)pe->partition, o->timeout_ms);
                rc = -1;
            }
            continue;
        }
        idle_deadline = now + o->timeout_ms;
        if (msg->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            /* read_committed: the end of what is committed (control records
             * and aborted records included in the watermark are skipped). */
            if (msg->partition == pe->partition)
                pe->done = true;
        } else if (msg->err) {
            snprintf(err, err_size, "read %s: %s", o->topic, rd_kafka_message_errstr(msg));
            rc = -1;
        } else if (msg->partition == pe->partition) {
            if (msg->offset < pe->end) {
                (*read)++;
                rc = fn(userdata, msg);
            }
            if (rc == 0 && msg->offset + 1 >= pe->end)
                pe->done = true; /* newer records belong to the next run */
        }
        rd_kafka_message_destroy(msg);
    }
    rd_kafka_assign(rk, NULL);
    return rc;
}

int replay_log_read(const replay_log_opts *o, replay_log_fn fn, void *userdata, char *err,
                    size_t err_size)
{
    ckafka_base base;
    ckafka_base_init(&base, o->log, "consumer");
    rd_kafka_t *rk = new_consumer(o, &base, err, err_size);
    if (!rk)
        return -1;
    int rc = 0;
    int count = partition_count(rk, o, err, err_size);
    part_end *parts = count > 0 ? calloc((size_t)count, sizeof *parts) : NULL;
    if (count < 0) {
        rc = -1;
    } else if (count > 0 && !parts) {
        snprintf(err, err_size, "out of memory");
        rc = -1;
    }
    int64_t total = 0;
    for (int p = 0; rc == 0 && p < count; p++) {
        int64_t low = 0, high = 0;
        rd_kafka_resp_err_t kerr =
            rd_kafka_query_watermark_offsets(rk, o->topic, p, &low, &high, o->timeout_ms);
        if (kerr) {
            snprintf(err, err_size, "offsets of %s[%d]: %s", o->topic, p, rd_kafka_err2str(kerr));
            rc = -1;
            break;
        }
        parts[p] = (part_end){.partition = p, .end = high, .done = high <= low};
        if (low > 0)
            clog_emit(o->log, CLOG_WARN,
                      "the log no longer starts at offset 0 (retention): documents whose first "
                      "versions are gone are reported as gaps and their state is not written",
                      (clog_field[]){clog_str("topic", o->topic), clog_int("partition", p),
                                     clog_int("log_start", low)},
                      3);
        if (!parts[p].done)
            total += high - low;
    }
    /* One partition after the other: a document's records are all in one
     * partition, so the caller holds one partition's documents at a time. */
    int64_t read = 0;
    int64_t next_progress = util_now_ms() + o->progress_ms;
    for (int p = 0; rc == 0 && p < count; p++) {
        if (!parts[p].done)
            rc = read_partition(rk, o, &parts[p], fn, userdata, &read, total, &next_progress, err,
                                err_size);
        if (rc == 0 && o->partition_done)
            rc = o->partition_done(userdata, p);
    }
    if (o->progress && o->progress_ms > 0 && rc == 0)
        o->progress(userdata, read, total);
    free(parts);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return rc;
}
