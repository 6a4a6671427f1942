/*
 * Integration tests of common/kafka_* against the real broker at
 * $COLLAB_KAFKA_BROKERS: topic creation with partitions and configs
 * (idempotent), idempotent producer delivery reports carrying the caller's
 * opaque, a committed transaction seen by a read_committed consumer and an
 * aborted one not (while read_uncommitted proves it was written), input
 * offsets committed through the transaction, and fencing of a zombie
 * transactional producer reported as fatal.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/kafka_admin.h"
#include "common/kafka_consumer.h"
#include "common/kafka_producer.h"
#include "common/util.h"

#define TIMEOUT_MS 30000

typedef struct fixture {
    const char *brokers;
    clog *log;
    ckafka_admin *admin;
    char run_id[64];
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    f->brokers = getenv("COLLAB_KAFKA_BROKERS");
    if (!f->brokers || !*f->brokers)
        f->brokers = "127.0.0.1:9092";
    f->log = clog_new("itest-kafka", CLOG_WARN, 2);
    snprintf(f->run_id, sizeof f->run_id, "%ld-%lld", (long)getpid(),
             (long long)(util_wall_ns() % 1000000000000LL));
    char err[512];
    f->admin = ckafka_admin_new(f->brokers, f->log, err, sizeof err);
    if (!f->admin) {
        fprintf(stderr, "kafka admin: %s\n", err);
        clog_free(f->log);
        free(f);
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    ckafka_admin_free(f->admin);
    clog_free(f->log);
    free(f);
    return 0;
}

static void make_topic(fixture *f, const char *purpose, int partitions, char *out, size_t size)
{
    snprintf(out, size, "test.common.%s.%s", purpose, f->run_id);
    char err[512];
    if (ckafka_topic_create(f->admin, out, partitions, 1, NULL, TIMEOUT_MS, err, sizeof err) != 0)
        fail_msg("create %s: %s", out, err);
}

static void drop_topic(fixture *f, const char *topic)
{
    char err[512];
    if (ckafka_topic_delete(f->admin, topic, TIMEOUT_MS, err, sizeof err) != 0)
        fail_msg("delete %s: %s", topic, err);
}

static void test_topic_creation(void **state)
{
    fixture *f = *state;
    char topic[200];
    snprintf(topic, sizeof topic, "test.common.topics.%s", f->run_id);
    const char *configs[] = {"retention.ms", "3600000", "cleanup.policy", "delete", NULL};
    char err[512];
    assert_int_equal(
        ckafka_topic_create(f->admin, topic, 3, 1, configs, TIMEOUT_MS, err, sizeof err), 0);
    /* again: "already exists" is success */
    assert_int_equal(
        ckafka_topic_create(f->admin, topic, 3, 1, configs, TIMEOUT_MS, err, sizeof err), 0);
    /* metadata may lag the creation a little: wait for it with a deadline */
    int64_t deadline = util_now_ms() + TIMEOUT_MS;
    int partitions = 0;
    while ((partitions = ckafka_topic_partition_count(f->admin, topic, 5000, err, sizeof err)) !=
               3 &&
           util_now_ms() < deadline)
        util_sleep_ms(100);
    assert_int_equal(partitions, 3);
    /* a bad config is a clear error */
    const char *bad[] = {"retention.ms", "not-a-number", NULL};
    char other[200];
    snprintf(other, sizeof other, "test.common.badcfg.%s", f->run_id);
    assert_int_equal(ckafka_topic_create(f->admin, other, 1, 1, bad, TIMEOUT_MS, err, sizeof err),
                     -1);
    assert_non_null(strstr(err, other));
    drop_topic(f, topic);
    assert_int_equal(ckafka_topic_delete(f->admin, topic, TIMEOUT_MS, err, sizeof err), 0);
}

/* ---- idempotent producer ---- */

typedef struct delivery_slot {
    int reports;
    rd_kafka_resp_err_t err;
    int32_t partition;
    int64_t offset;
} delivery_slot;

static void on_delivery(void *userdata, void *msg_opaque, rd_kafka_resp_err_t err,
                        int32_t partition, int64_t offset)
{
    int *total = userdata;
    delivery_slot *slot = msg_opaque;
    slot->reports++;
    slot->err = err;
    slot->partition = partition;
    slot->offset = offset;
    (*total)++;
}

static void test_idempotent_delivery_reports(void **state)
{
    fixture *f = *state;
    char topic[200];
    make_topic(f, "idem", 4, topic, sizeof topic);
    int total = 0;
    ckafka_producer_opts o = {.brokers = f->brokers,
                              .client_id = "itest-idem",
                              .log = f->log,
                              .on_delivery = on_delivery,
                              .delivery_userdata = &total};
    char err[512];
    ckafka_producer *p = ckafka_producer_new(&o, err, sizeof err);
    assert_non_null(p);
    enum { N = 40 };
    delivery_slot slots[N];
    memset(slots, 0, sizeof slots);
    for (int i = 0; i < N; i++) {
        char key[16], value[32];
        snprintf(key, sizeof key, "doc-%d", i % 4);
        snprintf(value, sizeof value, "op-%d", i);
        assert_int_equal(ckafka_producer_send(p, topic, RD_KAFKA_PARTITION_UA, key, strlen(key),
                                              value, strlen(value), &slots[i], 1000),
                         RD_KAFKA_RESP_ERR_NO_ERROR);
    }
    assert_int_equal(ckafka_producer_flush(p, TIMEOUT_MS), RD_KAFKA_RESP_ERR_NO_ERROR);
    assert_int_equal(total, N);
    assert_int_equal(ckafka_producer_outstanding(p), 0);
    for (int i = 0; i < N; i++) {
        assert_int_equal(slots[i].reports, 1);
        assert_int_equal(slots[i].err, RD_KAFKA_RESP_ERR_NO_ERROR);
        assert_true(slots[i].offset >= 0);
        /* same key, same partition: per-document order */
        assert_int_equal(slots[i].partition, slots[i % 4].partition);
        if (i >= 4)
            assert_true(slots[i].offset > slots[i - 4].offset);
    }
    assert_false(ckafka_producer_fatal(p, err, sizeof err));
    /* the configuration really is idempotent with acks=all */
    char value[64];
    size_t size = sizeof value;
    const rd_kafka_conf_t *conf = rd_kafka_conf(ckafka_producer_handle(p));
    assert_int_equal(rd_kafka_conf_get(conf, "enable.idempotence", value, &size), RD_KAFKA_CONF_OK);
    assert_string_equal(value, "true");
    size = sizeof value;
    assert_int_equal(rd_kafka_conf_get(conf, "acks", value, &size), RD_KAFKA_CONF_OK);
    assert_true(strcmp(value, "all") == 0 || strcmp(value, "-1") == 0);
    ckafka_producer_free(p);
    drop_topic(f, topic);
}

typedef struct counted {
    atomic_int reports;
    atomic_int failures;
} counted;

static void count_delivery(void *userdata, void *msg_opaque, rd_kafka_resp_err_t err,
                           int32_t partition, int64_t offset)
{
    (void)msg_opaque;
    (void)partition;
    (void)offset;
    counted *c = userdata;
    atomic_fetch_add(&c->reports, 1);
    if (err)
        atomic_fetch_add(&c->failures, 1);
}

/* With its own poll thread the producer reports deliveries without the
 * caller polling; a full local queue blocks up to block_ms, then reports
 * QUEUE_FULL. */
static void test_poll_thread_and_backpressure(void **state)
{
    fixture *f = *state;
    char topic[200];
    make_topic(f, "bp", 1, topic, sizeof topic);
    counted c;
    atomic_init(&c.reports, 0);
    atomic_init(&c.failures, 0);
    /* a local queue of 2 messages, and a long linger so it stays full */
    const char *tiny_queue[] = {"queue.buffering.max.messages", "2", "linger.ms", "200", NULL};
    ckafka_producer_opts o = {.brokers = f->brokers,
                              .log = f->log,
                              .on_delivery = count_delivery,
                              .delivery_userdata = &c,
                              .poll_thread = true,
                              .extra_config = tiny_queue};
    char err[512];
    ckafka_producer *p = ckafka_producer_new(&o, err, sizeof err);
    assert_non_null(p);
    assert_int_equal(ckafka_producer_send(p, topic, 0, NULL, 0, "1", 1, NULL, 0),
                     RD_KAFKA_RESP_ERR_NO_ERROR);
    assert_int_equal(ckafka_producer_send(p, topic, 0, NULL, 0, "2", 1, NULL, 0),
                     RD_KAFKA_RESP_ERR_NO_ERROR);
    /* full, and no waiting allowed */
    assert_int_equal(ckafka_producer_send(p, topic, 0, NULL, 0, "3", 1, NULL, 0),
                     RD_KAFKA_RESP_ERR__QUEUE_FULL);
    /* full, but waiting allowed: room appears once the batch is delivered */
    for (int i = 0; i < 6; i++)
        assert_int_equal(ckafka_producer_send(p, topic, 0, NULL, 0, "x", 1, NULL, TIMEOUT_MS),
                         RD_KAFKA_RESP_ERR_NO_ERROR);
    /* reports arrive on the poll thread: wait for them, never flush */
    int64_t deadline = util_now_ms() + TIMEOUT_MS;
    while (atomic_load(&c.reports) < 8 && util_now_ms() < deadline)
        util_sleep_ms(10);
    assert_int_equal(atomic_load(&c.reports), 8);
    assert_int_equal(atomic_load(&c.failures), 0);
    ckafka_producer_free(p);

    /* a bad extra setting is a clear error */
    const char *bad[] = {"no.such.setting", "1", NULL};
    o.extra_config = bad;
    assert_null(ckafka_producer_new(&o, err, sizeof err));
    assert_non_null(strstr(err, "no.such.setting"));
    drop_topic(f, topic);
}

/* With a poll thread, a flush waits for the reports that thread serves:
 * when it returns, every report has been delivered to the callback. With no
 * broker to deliver to, it gives up at its timeout and says so. */
static void test_flush_with_poll_thread(void **state)
{
    fixture *f = *state;
    char topic[200];
    make_topic(f, "flush", 1, topic, sizeof topic);
    counted c;
    atomic_init(&c.reports, 0);
    atomic_init(&c.failures, 0);
    const char *linger[] = {"linger.ms", "50", NULL};
    ckafka_producer_opts o = {.brokers = f->brokers,
                              .log = f->log,
                              .on_delivery = count_delivery,
                              .delivery_userdata = &c,
                              .poll_thread = true,
                              .extra_config = linger};
    char err[512];
    ckafka_producer *p = ckafka_producer_new(&o, err, sizeof err);
    assert_non_null(p);
    for (int round = 1; round <= 3; round++) {
        for (int i = 0; i < 20; i++)
            assert_int_equal(ckafka_producer_send(p, topic, 0, NULL, 0, "v", 1, NULL, 0),
                             RD_KAFKA_RESP_ERR_NO_ERROR);
        assert_int_equal(ckafka_producer_flush(p, TIMEOUT_MS), RD_KAFKA_RESP_ERR_NO_ERROR);
        /* (rd_kafka_outq_len may still count a message for a moment: it is
         * destroyed after its callback returns.) */
        assert_int_equal(atomic_load(&c.reports), 20 * round);
    }
    assert_int_equal(atomic_load(&c.failures), 0);
    ckafka_producer_free(p);
    drop_topic(f, topic);

    /* Nothing listens on port 1: the record stays queued. */
    atomic_store(&c.reports, 0);
    o.brokers = "127.0.0.1:1";
    o.extra_config = NULL;
    p = ckafka_producer_new(&o, err, sizeof err);
    assert_non_null(p);
    assert_int_equal(ckafka_producer_send(p, "nowhere", 0, NULL, 0, "v", 1, NULL, 0),
                     RD_KAFKA_RESP_ERR_NO_ERROR);
    assert_int_equal(ckafka_producer_flush(p, 300), RD_KAFKA_RESP_ERR__TIMED_OUT);
    assert_int_equal(atomic_load(&c.reports), 0);
    ckafka_producer_free(p); /* purges it: reported as failed, no leak */
}

/* ---- transactions ---- */

typedef struct rebalance_count {
    int assigned;
    int revoked;
} rebalance_count;

static void count_assigned(void *ud, const rd_kafka_topic_partition_list_t *parts)
{
    ((rebalance_count *)ud)->assigned += parts->cnt;
}

static void count_revoked(void *ud, const rd_kafka_topic_partition_list_t *parts, bool lost)
{
    (void)lost;
    ((rebalance_count *)ud)->revoked += parts->cnt;
}

static ckafka_consumer *make_consumer(fixture *f, const char *topic, const char *group_suffix,
                                      bool read_uncommitted, rebalance_count *counts)
{
    char group[200];
    snprintf(group, sizeof group, "itest.%s.%s", group_suffix, f->run_id);
    const char *topics[] = {topic, NULL};
    ckafka_consumer_opts o = {.brokers = f->brokers,
                              .group_id = group,
                              .client_id = group_suffix,
                              .log = f->log,
                              .topics = topics,
                              .on_assigned = count_assigned,
                              .on_revoked = count_revoked,
                              .rebalance_userdata = counts,
                              .read_uncommitted = read_uncommitted};
    char err[512];
    ckafka_consumer *c = ckafka_consumer_new(&o, err, sizeof err);
    if (!c)
        fail_msg("consumer: %s", err);
    return c;
}

/* Reads until a message with value `last` arrives; returns the values seen
 * joined by ',' into out. */
static void consume_until(ckafka_consumer *c, const char *last, char *out, size_t size)
{
    out[0] = '\0';
    int64_t deadline = util_now_ms() + TIMEOUT_MS;
    bool done = false;
    while (!done && util_now_ms() < deadline) {
        rd_kafka_resp_err_t err;
        rd_kafka_message_t *m = ckafka_consumer_poll(c, 200, &err);
        if (!m)
            continue;
        char value[64];
        snprintf(value, sizeof value, "%.*s", (int)m->len, (const char *)m->payload);
        strncat(out, value, size - strlen(out) - 2);
        strncat(out, ",", size - strlen(out) - 1);
        done = strcmp(value, last) == 0;
        rd_kafka_message_destroy(m);
    }
    if (!done)
        fail_msg("did not see \"%s\" within %d ms; got: %s", last, TIMEOUT_MS, out);
}

static ckafka_producer *make_txn_producer(fixture *f, const char *txn_id)
{
    ckafka_producer_opts o = {
        .brokers = f->brokers, .client_id = "itest-txn", .transactional_id = txn_id, .log = f->log};
    char err[512];
    ckafka_producer *p = ckafka_producer_new(&o, err, sizeof err);
    if (!p)
        fail_msg("producer: %s", err);
    ckafka_txn_status st = ckafka_txn_init(p, TIMEOUT_MS, err, sizeof err);
    if (st != CKAFKA_TXN_OK)
        fail_msg("init_transactions: %s (%s)", ckafka_txn_status_name(st), err);
    return p;
}

static void send_values(ckafka_producer *p, const char *topic, const char *const *values)
{
    for (size_t i = 0; values[i]; i++)
        assert_int_equal(ckafka_producer_send(p, topic, RD_KAFKA_PARTITION_UA, "doc", 3, values[i],
                                              strlen(values[i]), NULL, 1000),
                         RD_KAFKA_RESP_ERR_NO_ERROR);
}

static void test_transaction_commit_and_abort(void **state)
{
    fixture *f = *state;
    char topic[200], txn_id[200], err[512];
    make_topic(f, "txn", 1, topic, sizeof topic);
    snprintf(txn_id, sizeof txn_id, "itest-txn-%s", f->run_id);
    ckafka_producer *p = make_txn_producer(f, txn_id);

    const char *committed[] = {"commit-0", "commit-1", "commit-2", NULL};
    const char *aborted[] = {"abort-0", "abort-1", NULL};
    const char *after[] = {"after", NULL};
    assert_int_equal(ckafka_txn_begin(p, err, sizeof err), CKAFKA_TXN_OK);
    send_values(p, topic, committed);
    assert_int_equal(ckafka_txn_commit(p, TIMEOUT_MS, err, sizeof err), CKAFKA_TXN_OK);
    assert_int_equal(ckafka_txn_begin(p, err, sizeof err), CKAFKA_TXN_OK);
    send_values(p, topic, aborted);
    assert_int_equal(ckafka_producer_flush(p, TIMEOUT_MS), RD_KAFKA_RESP_ERR_NO_ERROR);
    assert_int_equal(ckafka_txn_abort(p, TIMEOUT_MS, err, sizeof err), CKAFKA_TXN_OK);
    assert_int_equal(ckafka_txn_begin(p, err, sizeof err), CKAFKA_TXN_OK);
    send_values(p, topic, after);
    assert_int_equal(ckafka_txn_commit(p, TIMEOUT_MS, err, sizeof err), CKAFKA_TXN_OK);

    rebalance_count counts = {0, 0};
    ckafka_consumer *rc = make_consumer(f, topic, "committed", false, &counts);
    char seen[1024];
    consume_until(rc, "after", seen, sizeof seen);
    assert_string_equal(seen, "commit-0,commit-1,commit-2,after,");
    assert_int_equal(counts.assigned, 1);
    assert_int_equal(ckafka_consumer_close(rc), RD_KAFKA_RESP_ERR_NO_ERROR);
    assert_int_equal(counts.revoked, 1);
    ckafka_consumer_free(rc);

    /* the aborted messages were written: read_uncommitted sees them */
    rebalance_count counts2 = {0, 0};
    ckafka_consumer *ru = make_consumer(f, topic, "uncommitted", true, &counts2);
    consume_until(ru, "after", seen, sizeof seen);
    assert_string_equal(seen, "commit-0,commit-1,commit-2,abort-0,abort-1,after,");
    ckafka_consumer_free(ru);

    /* misuse is an error, not a crash: commit without begin */
    assert_int_equal(ckafka_txn_commit(p, 5000, err, sizeof err), CKAFKA_TXN_ERROR);
    ckafka_producer_free(p);
    drop_topic(f, topic);
}

static void test_offsets_in_transaction(void **state)
{
    fixture *f = *state;
    char input[200], output[200], txn_id[200], err[512];
    make_topic(f, "in", 1, input, sizeof input);
    make_topic(f, "out", 1, output, sizeof output);
    snprintf(txn_id, sizeof txn_id, "itest-eos-%s", f->run_id);

    /* three input messages, plainly produced */
    ckafka_producer_opts po = {.brokers = f->brokers, .log = f->log};
    ckafka_producer *plain = ckafka_producer_new(&po, err, sizeof err);
    const char *inputs[] = {"a", "b", "c", NULL};
    send_values(plain, input, inputs);
    assert_int_equal(ckafka_producer_flush(plain, TIMEOUT_MS), RD_KAFKA_RESP_ERR_NO_ERROR);
    ckafka_producer_free(plain);

    /* consume-transform-produce: output and input offsets in one txn */
    rebalance_count counts = {0, 0};
    ckafka_consumer *c = make_consumer(f, input, "eos", false, &counts);
    char seen[256];
    consume_until(c, "c", seen, sizeof seen);
    assert_string_equal(seen, "a,b,c,");
    ckafka_producer *p = make_txn_producer(f, txn_id);
    assert_int_equal(ckafka_txn_begin(p, err, sizeof err), CKAFKA_TXN_OK);
    const char *outputs[] = {"A", "B", "C", NULL};
    send_values(p, output, outputs);
    rd_kafka_topic_partition_list_t *positions = ckafka_consumer_positions(c);
    assert_non_null(positions);
    assert_int_equal(positions->cnt, 1);
    assert_int_equal(positions->elems[0].offset, 3);
    assert_int_equal(ckafka_txn_send_offsets(p, c, positions, TIMEOUT_MS, err, sizeof err),
                     CKAFKA_TXN_OK);
    assert_int_equal(ckafka_txn_commit(p, TIMEOUT_MS, err, sizeof err), CKAFKA_TXN_OK);

    /* the group's committed offset is now 3 */
    rd_kafka_topic_partition_list_t *committed = rd_kafka_topic_partition_list_copy(positions);
    committed->elems[0].offset = RD_KAFKA_OFFSET_INVALID;
    assert_int_equal(rd_kafka_committed(ckafka_consumer_handle(c), committed, TIMEOUT_MS),
                     RD_KAFKA_RESP_ERR_NO_ERROR);
    assert_int_equal(committed->elems[0].offset, 3);
    rd_kafka_topic_partition_list_destroy(committed);
    rd_kafka_topic_partition_list_destroy(positions);

    /* rewind goes back to the committed offset: nothing left to read */
    assert_int_equal(ckafka_consumer_rewind(c, TIMEOUT_MS), RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_resp_err_t perr;
    rd_kafka_message_t *m = ckafka_consumer_poll(c, 1000, &perr);
    assert_null(m);
    ckafka_consumer_free(c);

    /* the output is visible to read_committed */
    rebalance_count counts2 = {0, 0};
    ckafka_consumer *oc = make_consumer(f, output, "eos-out", false, &counts2);
    consume_until(oc, "C", seen, sizeof seen);
    assert_string_equal(seen, "A,B,C,");
    ckafka_consumer_free(oc);
    ckafka_producer_free(p);
    drop_topic(f, input);
    drop_topic(f, output);
}

static void test_zombie_is_fenced(void **state)
{
    fixture *f = *state;
    char topic[200], txn_id[200], err[512];
    make_topic(f, "fence", 1, topic, sizeof topic);
    snprintf(txn_id, sizeof txn_id, "itest-fence-%s", f->run_id);
    ckafka_producer *zombie = make_txn_producer(f, txn_id);
    assert_int_equal(ckafka_txn_begin(zombie, err, sizeof err), CKAFKA_TXN_OK);
    const char *values[] = {"zombie", NULL};
    send_values(zombie, topic, values);
    /* a new instance with the same transactional id takes over */
    ckafka_producer *successor = make_txn_producer(f, txn_id);
    ckafka_txn_status st = ckafka_txn_commit(zombie, TIMEOUT_MS, err, sizeof err);
    assert_int_equal(st, CKAFKA_TXN_FATAL);
    assert_true(ckafka_producer_fatal(zombie, err, sizeof err));
    assert_non_null(strstr(err, "FENCED"));
    ckafka_producer_free(zombie);
    assert_int_equal(ckafka_txn_begin(successor, err, sizeof err), CKAFKA_TXN_OK);
    const char *ok[] = {"successor", NULL};
    send_values(successor, topic, ok);
    assert_int_equal(ckafka_txn_commit(successor, TIMEOUT_MS, err, sizeof err), CKAFKA_TXN_OK);
    rebalance_count counts = {0, 0};
    ckafka_consumer *c = make_consumer(f, topic, "fence", false, &counts);
    char seen[256];
    consume_until(c, "successor", seen, sizeof seen);
    assert_string_equal(seen, "successor,");
    ckafka_consumer_free(c);
    ckafka_producer_free(successor);
    drop_topic(f, topic);
}

/* Per-consumer partition ownership, kept up to date by the callbacks. */
typedef struct ownership {
    int owned;
    int assigned_events;
    int revoked_events;
    int revoked_total;
} ownership;

static void own_assigned(void *ud, const rd_kafka_topic_partition_list_t *parts)
{
    ownership *o = ud;
    o->owned += parts->cnt;
    o->assigned_events++;
}

static void own_revoked(void *ud, const rd_kafka_topic_partition_list_t *parts, bool lost)
{
    (void)lost;
    ownership *o = ud;
    o->owned -= parts->cnt;
    o->revoked_events++;
    o->revoked_total += parts->cnt;
}

static ckafka_consumer *member(fixture *f, const char *topic, const char *group, ownership *o)
{
    const char *topics[] = {topic, NULL};
    ckafka_consumer_opts opts = {.brokers = f->brokers,
                                 .group_id = group,
                                 .log = f->log,
                                 .topics = topics,
                                 .on_assigned = own_assigned,
                                 .on_revoked = own_revoked,
                                 .rebalance_userdata = o};
    char err[512];
    ckafka_consumer *c = ckafka_consumer_new(&opts, err, sizeof err);
    if (!c)
        fail_msg("consumer: %s", err);
    return c;
}

/* Polls both members until `done` holds for their ownership or the
 * deadline passes. */
static void poll_until(ckafka_consumer *a, ckafka_consumer *b, const ownership *oa,
                       const ownership *ob, int want_a, int want_b)
{
    int64_t deadline = util_now_ms() + (int64_t)TIMEOUT_MS * 2;
    while (util_now_ms() < deadline && !(oa->owned == want_a && ob->owned == want_b)) {
        rd_kafka_resp_err_t err;
        rd_kafka_message_t *m = ckafka_consumer_poll(a, 50, &err);
        if (m)
            rd_kafka_message_destroy(m);
        if (b) {
            m = ckafka_consumer_poll(b, 50, &err);
            if (m)
                rd_kafka_message_destroy(m);
        }
    }
    if (!(oa->owned == want_a && ob->owned == want_b))
        fail_msg("ownership %d/%d, wanted %d/%d", oa->owned, ob->owned, want_a, want_b);
}

/* Cooperative rebalancing: when a second member joins, the first gives up
 * only the partitions that move, not all of them, and keeps the rest. */
static void test_cooperative_rebalance(void **state)
{
    fixture *f = *state;
    char topic[200], group[200];
    make_topic(f, "coop", 4, topic, sizeof topic);
    snprintf(group, sizeof group, "itest.coop.%s", f->run_id);
    ownership oa = {0, 0, 0, 0}, ob = {0, 0, 0, 0};
    ckafka_consumer *a = member(f, topic, group, &oa);
    poll_until(a, NULL, &oa, &ob, 4, 0);
    ckafka_consumer *b = member(f, topic, group, &ob);
    poll_until(a, b, &oa, &ob, 2, 2);
    /* a lost exactly the two partitions b took: an incremental revoke */
    assert_int_equal(oa.revoked_total, 2);
    assert_string_equal(rd_kafka_rebalance_protocol(ckafka_consumer_handle(a)), "COOPERATIVE");
    /* b leaves: its partitions come back to a */
    assert_int_equal(ckafka_consumer_close(b), RD_KAFKA_RESP_ERR_NO_ERROR);
    assert_int_equal(ob.owned, 0);
    poll_until(a, NULL, &oa, &ob, 4, 0);
    assert_int_equal(oa.revoked_total, 2); /* a never gave up what it kept */
    ckafka_consumer_free(b);
    ckafka_consumer_free(a);
    drop_topic(f, topic);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_topic_creation),
        cmocka_unit_test(test_idempotent_delivery_reports),
        cmocka_unit_test(test_poll_thread_and_backpressure),
        cmocka_unit_test(test_flush_with_poll_thread),
        cmocka_unit_test(test_transaction_commit_and_abort),
        cmocka_unit_test(test_offsets_in_transaction),
        cmocka_unit_test(test_zombie_is_fenced),
        cmocka_unit_test(test_cooperative_rebalance),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
