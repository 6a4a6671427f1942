/*
 * The processor's ring of transactional producers (processor/txnring.h)
 * against the real broker: transactions taken in turn by several producers
 * keep their order for read_committed readers; ptxn_settle makes every ended
 * transaction visible before it returns; an aborted transaction stays
 * invisible; a new ring with the same transactional id fences every producer
 * of the old one; a bad producer count is refused with a clear error.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/kafka_admin.h"
#include "common/util.h"
#include "processor/txnring.h"
#include "tests/integration/support/itest_support.h"

typedef struct fixture {
    const char *brokers;
    clog *log;
    char topic[128];
    char group[128];
    char txn_id[128];
} fixture;

/* A new topic reaches the broker's metadata a moment after CreateTopics returns, and a
 * ring asks for it at once (and fails on "unknown topic"): wait until it is there. */
static int wait_for_topic(ckafka_admin *admin, const char *topic, char *err, size_t err_size)
{
    int64_t deadline = util_now_ms() + 30000;
    for (;;) {
        int partitions = ckafka_topic_partition_count(admin, topic, 5000, err, err_size);
        if (partitions < 0)
            return -1;
        if (partitions > 0)
            return 0;
        if (util_now_ms() > deadline) {
            snprintf(err, err_size, "topic %s not in the metadata after 30 s", topic);
            return -1;
        }
        util_sleep_ms(50);
    }
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    f->brokers = itest_env_or("COLLAB_KAFKA_BROKERS", "127.0.0.1:9092");
    f->log = clog_new("itest-txnring", CLOG_WARN, 2);
    unsigned run = (unsigned)getpid() ^ (unsigned)(util_wall_ns() / 1000);
    snprintf(f->topic, sizeof f->topic, "itest.txnring.%u", run);
    snprintf(f->group, sizeof f->group, "itest-txnring-%u", run);
    snprintf(f->txn_id, sizeof f->txn_id, "itest-txnring-%u", run);
    char err[256];
    ckafka_admin *admin = ckafka_admin_new(f->brokers, f->log, err, sizeof err);
    if (!admin || ckafka_topic_create(admin, f->topic, 1, 1, NULL, 30000, err, sizeof err) != 0 ||
        wait_for_topic(admin, f->topic, err, sizeof err) != 0) {
        fprintf(stderr, "setup: %s\n", err);
        ckafka_admin_free(admin);
        clog_free(f->log);
        free(f);
        return -1;
    }
    ckafka_admin_free(admin);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    const char *topics[] = {f->topic, NULL};
    itest_drop_run(f->brokers, f->log, topics, NULL, NULL);
    clog_free(f->log);
    free(f);
    return 0;
}

static ptxn_ring *ring_new(const fixture *f, int producers)
{
    const char *topics[] = {f->topic, NULL};
    ptxn_config cfg = {.brokers = f->brokers,
                       .client_id = "itest-txnring",
                       .transactional_id = f->txn_id,
                       .producers = producers,
                       .txn_timeout_ms = 10000,
                       .kafka_timeout_ms = 30000,
                       .topics = topics,
                       .log = f->log};
    char err[256] = "";
    ptxn_ring *r = ptxn_ring_new(&cfg, err, sizeof err);
    if (!r)
        fprintf(stderr, "ring: %s\n", err);
    return r;
}

static void commit_one(const fixture *f, ptxn_ring *r, const char *value)
{
    char err[256];
    assert_int_equal(ptxn_begin(r, err, sizeof err), CKAFKA_TXN_OK);
    assert_int_equal(ptxn_send(r, f->topic, 0, "k", 1, value, strlen(value)), 0);
    assert_int_equal(ptxn_commit(r, NULL, NULL, err, sizeof err), CKAFKA_TXN_OK);
}

/* Everything a read_committed reader sees in partition 0 right now (up to
 * the last stable offset), as one string of the values joined by ','. The
 * caller frees it. */
static char *read_committed(const fixture *f)
{
    char err[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char group[160];
    snprintf(group, sizeof group, "%s-reader-%lld", f->group, (long long)util_wall_ns());
    if (rd_kafka_conf_set(conf, "bootstrap.servers", f->brokers, err, sizeof err) ||
        rd_kafka_conf_set(conf, "group.id", group, err, sizeof err) ||
        rd_kafka_conf_set(conf, "isolation.level", "read_committed", err, sizeof err) ||
        rd_kafka_conf_set(conf, "enable.partition.eof", "true", err, sizeof err))
        fail_msg("reader config: %s", err);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
    assert_non_null(rk);
    rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(parts, f->topic, 0)->offset = RD_KAFKA_OFFSET_BEGINNING;
    assert_int_equal(rd_kafka_assign(rk, parts), 0);
    rd_kafka_topic_partition_list_destroy(parts);
    size_t cap = 4096, len = 0;
    char *out = calloc(1, cap);
    assert_non_null(out);
    int64_t deadline = util_now_ms() + 30000;
    for (;;) {
        assert_true(util_now_ms() < deadline);
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 200);
        if (!m)
            continue;
        bool eof = m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF;
        if (!eof && m->err)
            fail_msg("reader: %s", rd_kafka_message_errstr(m));
        if (!eof) {
            assert_true(len + m->len + 2 < cap);
            if (len)
                out[len++] = ',';
            memcpy(out + len, m->payload, m->len);
            len += m->len;
        }
        rd_kafka_message_destroy(m);
        if (eof)
            break;
    }
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return out;
}

/* A consumer handle (never subscribed) to ask for watermarks with. */
static rd_kafka_t *watermark_handle(const fixture *f, const char *isolation)
{
    char err[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (rd_kafka_conf_set(conf, "bootstrap.servers", f->brokers, err, sizeof err) ||
        rd_kafka_conf_set(conf, "isolation.level", isolation, err, sizeof err))
        fail_msg("watermark handle: %s", err);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
    assert_non_null(rk);
    return rk;
}

static int64_t high_watermark(const fixture *f, rd_kafka_t *rk)
{
    int64_t low = 0, high = 0;
    assert_int_equal(rd_kafka_query_watermark_offsets(rk, f->topic, 0, &low, &high, 10000), 0);
    return high;
}

static void test_ring_keeps_order_and_settles(void **state)
{
    fixture *f = *state;
    ptxn_ring *r = ring_new(f, 3);
    assert_non_null(r);
    /* Made (and connected) first, so the check right after the settle is
     * one round trip. */
    rd_kafka_t *stable = watermark_handle(f, "read_committed");
    rd_kafka_t *end = watermark_handle(f, "read_uncommitted");
    (void)high_watermark(f, stable);
    (void)high_watermark(f, end);
    char expected[4096] = "";
    size_t expected_len = 0;
    for (int i = 0; i < 40; i++) {
        char value[16];
        snprintf(value, sizeof value, "v%d", i);
        commit_one(f, r, value);
        int n = snprintf(expected + expected_len, sizeof expected - expected_len, "%s%s",
                         i ? "," : "", value);
        assert_true(n > 0 && (size_t)n < sizeof expected - expected_len);
        expected_len += (size_t)n;
    }
    char err[256];
    /* Without the settle the newest commit may still be invisible: its
     * markers not written, the last stable offset short of the log end. */
    assert_int_equal(ptxn_settle(r, f->topic, err, sizeof err), CKAFKA_TXN_OK);
    assert_int_equal(high_watermark(f, stable), high_watermark(f, end));
    rd_kafka_destroy(stable);
    rd_kafka_destroy(end);
    char *seen = read_committed(f);
    assert_string_equal(seen, expected);
    free(seen);
    /* Settling twice costs nothing and still works; with a transaction open
     * it is refused. */
    assert_int_equal(ptxn_settle(r, f->topic, err, sizeof err), CKAFKA_TXN_OK);
    assert_int_equal(ptxn_begin(r, err, sizeof err), CKAFKA_TXN_OK);
    assert_int_equal(ptxn_settle(r, f->topic, err, sizeof err), CKAFKA_TXN_ERROR);
    assert_non_null(strstr(err, "open"));
    assert_int_equal(ptxn_abort(r, err, sizeof err), CKAFKA_TXN_OK);
    assert_int_equal(ptxn_flush(r, 10000), 0);
    ptxn_ring_free(r);
}

static void test_aborted_transaction_stays_invisible(void **state)
{
    fixture *f = *state;
    ptxn_ring *r = ring_new(f, 2);
    assert_non_null(r);
    char err[256];
    assert_int_equal(ptxn_begin(r, err, sizeof err), CKAFKA_TXN_OK);
    assert_int_equal(ptxn_send(r, f->topic, 0, "k", 1, "aborted", 7), 0);
    assert_int_equal(ptxn_abort(r, err, sizeof err), CKAFKA_TXN_OK);
    commit_one(f, r, "kept");
    assert_int_equal(ptxn_settle(r, f->topic, err, sizeof err), CKAFKA_TXN_OK);
    char *seen = read_committed(f);
    assert_string_equal(seen, "kept");
    free(seen);
    ptxn_ring_free(r);
}

static void test_new_ring_fences_every_old_producer(void **state)
{
    fixture *f = *state;
    ptxn_ring *old = ring_new(f, 2);
    assert_non_null(old);
    commit_one(f, old, "old-0"); /* the old ring's next transaction is on producer 1 */
    ptxn_ring *fresh = ring_new(f, 2);
    assert_non_null(fresh);
    char err[256];
    ckafka_txn_status st = ptxn_begin(old, err, sizeof err);
    if (st == CKAFKA_TXN_OK) {
        (void)ptxn_send(old, f->topic, 0, "k", 1, "zombie", 6);
        st = ptxn_commit(old, NULL, NULL, err, sizeof err);
    }
    assert_int_equal(st, CKAFKA_TXN_FATAL);
    commit_one(f, fresh, "new-0");
    assert_int_equal(ptxn_settle(fresh, f->topic, err, sizeof err), CKAFKA_TXN_OK);
    char *seen = read_committed(f);
    assert_string_equal(seen, "old-0,new-0");
    free(seen);
    ptxn_ring_free(old);
    ptxn_ring_free(fresh);
}

static void test_bad_producer_count(void **state)
{
    fixture *f = *state;
    const int counts[] = {0, PTXN_MAX_PRODUCERS + 1};
    for (size_t i = 0; i < 2; i++) {
        ptxn_config cfg = {.brokers = f->brokers,
                           .transactional_id = f->txn_id,
                           .producers = counts[i],
                           .txn_timeout_ms = 10000,
                           .kafka_timeout_ms = 30000,
                           .log = f->log};
        char err[256] = "";
        assert_null(ptxn_ring_new(&cfg, err, sizeof err));
        assert_non_null(strstr(err, "transaction producers must be"));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_ring_keeps_order_and_settles, setup, teardown),
        cmocka_unit_test_setup_teardown(test_aborted_transaction_stays_invisible, setup, teardown),
        cmocka_unit_test_setup_teardown(test_new_ring_fences_every_old_producer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_producer_count, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
