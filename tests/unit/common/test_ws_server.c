/*
 * Unit test of common/ws_server's event loop (libev on epoll, lent to lws):
 * it waits with epoll; HTTP requests are answered while a thousand idle
 * keep-alive connections are open; work handed over from another thread through
 * wsserver_wake reaches the service thread; an lws timer scheduled from
 * outside any callback, earlier than the timer lws has armed, still fires
 * in a quiet loop (lws 4.1's libev glue alone would wait for the armed
 * one); a taken port is a clean error. The server is created on the test
 * thread and served on another, as in the services. ASan checks teardown
 * with connections still open. Listens on ephemeral ports of 127.0.0.1.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/util.h"
#include "common/ws_http.h"
#include "common/ws_server.h"
#include "test_http_client.h"

#define IDLE_SOCKETS 1000
/* Deadlines for things that take milliseconds; generous for ASan on a busy
 * machine. Reaching one is a failure, never a measurement. */
#define DEADLINE_MS 20000

typedef struct fixture {
    clog *log;
    wsserver *ws;
    pthread_t thread;
    pthread_t service_thread; /* set by serve() itself, read on that thread */
    bool serving;
    atomic_bool stop;
    atomic_int accepted;          /* connections lws took on */
    atomic_int http_requests;     /* LWS_CALLBACK_HTTP seen */
    atomic_int mailbox;           /* work handed over by another thread */
    atomic_int taken;             /* ... taken by the service thread */
    atomic_bool taken_on_service; /* and every take was on that thread */
    atomic_int timer_fired;
    lws_sorted_usec_list_t early, late;
} fixture;

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len)
{
    fixture *f = wsserver_user(wsi);
    if (!f)
        return lws_callback_http_dummy(wsi, reason, user, in, len);
    switch (reason) {
    case LWS_CALLBACK_SERVER_NEW_CLIENT_INSTANTIATED:
        atomic_fetch_add(&f->accepted, 1);
        break;
    case LWS_CALLBACK_EVENT_WAIT_CANCELLED: {
        int work = atomic_exchange(&f->mailbox, 0);
        if (work > 0) {
            if (!pthread_equal(pthread_self(), f->service_thread))
                atomic_store(&f->taken_on_service, false);
            atomic_fetch_add(&f->taken, work);
        }
        return 0;
    }
    case LWS_CALLBACK_HTTP:
        atomic_fetch_add(&f->http_requests, 1);
        (void)wshttp_send_error(wsi, 404, "not_found", "test server");
        return lws_http_transaction_completed(wsi) ? -1 : 0;
    default:
        break;
    }
    return lws_callback_http_dummy(wsi, reason, user, in, len);
}

static void *serve(void *arg)
{
    fixture *f = arg;
    f->service_thread = pthread_self();
    while (!atomic_load(&f->stop)) {
        if (wsserver_service(f->ws) < 0)
            break;
    }
    return NULL;
}

static void start_serving(fixture *f)
{
    atomic_store(&f->stop, false);
    assert_int_equal(pthread_create(&f->thread, NULL, serve, f), 0);
    f->serving = true;
}

static void stop_serving(fixture *f)
{
    if (!f->serving)
        return;
    atomic_store(&f->stop, true);
    wsserver_wake(f->ws); /* the loop may be waiting */
    pthread_join(f->thread, NULL);
    f->serving = false;
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    f->log = clog_new("test", CLOG_WARN, 2);
    atomic_store(&f->taken_on_service, true);
    wsserver_opts opts = {.host = "127.0.0.1",
                          .port = 0,
                          .callback = callback,
                          .per_session_size = 16,
                          .user = f,
                          .log = f->log};
    char err[512];
    f->ws = wsserver_new(&opts, err, sizeof err);
    if (!f->ws) {
        fprintf(stderr, "wsserver_new: %s\n", err);
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
    stop_serving(f);
    wsserver_free(f->ws);
    clog_free(f->log);
    free(f);
    return 0;
}

/* Waits until *counter reaches at least want; false at the deadline. */
static bool wait_for(atomic_int *counter, int want)
{
    int64_t deadline = util_now_ms() + DEADLINE_MS;
    while (atomic_load(counter) < want) {
        if (util_now_ms() > deadline)
            return false;
        util_sleep_ms(1);
    }
    return true;
}

static int connect_to(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static void test_waits_with_epoll(void **state)
{
    fixture *f = *state;
    assert_string_equal(wsserver_backend(f->ws), "epoll");
    assert_true(wsserver_port(f->ws) > 0);
}

static void test_answers_http_among_idle_sockets(void **state)
{
    fixture *f = *state;
    start_serving(f);
    int *fds = calloc(IDLE_SOCKETS, sizeof *fds);
    assert_non_null(fds);
    /* Idle as a client between requests is: one request answered, the
     * connection kept open (lws holds header space only while a request is
     * being read, 256 at a time). */
    static const char request[] = "GET /first HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    for (int i = 0; i < IDLE_SOCKETS; i++) {
        fds[i] = connect_to(wsserver_port(f->ws));
        assert_true(fds[i] >= 0);
        assert_int_equal(write(fds[i], request, sizeof request - 1), (ssize_t)sizeof request - 1);
    }
    assert_true(wait_for(&f->accepted, IDLE_SOCKETS));
    assert_true(wait_for(&f->http_requests, IDLE_SOCKETS));

    for (int i = 0; i < 3; i++) {
        test_http_response resp;
        assert_int_equal(
            test_http_get("127.0.0.1", wsserver_port(f->ws), "/nothing-here", DEADLINE_MS, &resp),
            0);
        assert_int_equal(resp.status, 404);
        assert_non_null(strstr(resp.body, "not_found"));
        test_http_response_free(&resp);
    }
    assert_int_equal(atomic_load(&f->http_requests), IDLE_SOCKETS + 3);

    /* Torn down with the idle connections still open (teardown). */
    stop_serving(f);
    for (int i = 0; i < IDLE_SOCKETS; i++)
        close(fds[i]);
    free(fds);
}

typedef struct waker {
    fixture *f;
    int rounds;
} waker;

/* Hands over one unit of work and wakes the loop, rounds times, each after
 * the previous one was taken. */
static void *wake_from_elsewhere(void *arg)
{
    waker *w = arg;
    for (int i = 1; i <= w->rounds; i++) {
        atomic_fetch_add(&w->f->mailbox, 1);
        wsserver_wake(w->f->ws);
        if (!wait_for(&w->f->taken, i))
            break;
    }
    return NULL;
}

static void test_wake_from_another_thread(void **state)
{
    fixture *f = *state;
    int fds[64];
    for (size_t i = 0; i < sizeof fds / sizeof fds[0]; i++) {
        fds[i] = connect_to(wsserver_port(f->ws));
        assert_true(fds[i] >= 0);
    }
    start_serving(f);
    waker w = {.f = f, .rounds = 200};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, wake_from_elsewhere, &w), 0);
    bool all_taken = wait_for(&f->taken, w.rounds);
    pthread_join(t, NULL);
    assert_true(all_taken);
    assert_int_equal(atomic_load(&f->taken), w.rounds);
    assert_true(atomic_load(&f->taken_on_service));
    stop_serving(f);
    for (size_t i = 0; i < sizeof fds / sizeof fds[0]; i++)
        close(fds[i]);
}

static void early_fired(lws_sorted_usec_list_t *sul)
{
    fixture *f = lws_container_of(sul, fixture, early);
    atomic_fetch_add(&f->timer_fired, 1);
}

static void late_fired(lws_sorted_usec_list_t *sul)
{
    (void)sul;
    fail_msg("the one-hour timer fired");
}

static void test_early_timer_fires_in_quiet_loop(void **state)
{
    fixture *f = *state;
    struct lws_context *ctx = wsserver_context(f->ws);
    /* lws arms its libev timer for the earliest of its timers once it has
     * handled a socket event: have it arm for an hour from now. */
    lws_sul_schedule(ctx, 0, &f->late, late_fired, 3600 * LWS_US_PER_SEC);
    start_serving(f);
    /* Two hand-overs: the second one's round comes after lws looked at its
     * timers following the first. */
    for (int i = 1; i <= 2; i++) {
        atomic_fetch_add(&f->mailbox, 1);
        wsserver_wake(f->ws);
        assert_true(wait_for(&f->taken, i));
    }
    stop_serving(f);

    /* Earlier than the armed one, scheduled outside any callback, and
     * nothing but time happens. */
    lws_sul_schedule(ctx, 0, &f->early, early_fired, 10 * LWS_US_PER_MS);
    start_serving(f);
    assert_true(wait_for(&f->timer_fired, 1));
    stop_serving(f);
    lws_sul_cancel(&f->late);
}

static void test_taken_port_is_an_error(void **state)
{
    fixture *f = *state;
    wsserver_opts opts = {.host = "127.0.0.1",
                          .port = wsserver_port(f->ws),
                          .callback = callback,
                          .per_session_size = 16,
                          .user = f,
                          .log = f->log};
    char err[512] = "";
    wsserver *second = wsserver_new(&opts, err, sizeof err);
    assert_null(second);
    assert_non_null(strstr(err, "cannot listen"));
    /* The first still serves. */
    start_serving(f);
    test_http_response resp;
    assert_int_equal(
        test_http_get("127.0.0.1", wsserver_port(f->ws), "/still-here", DEADLINE_MS, &resp), 0);
    assert_int_equal(resp.status, 404);
    test_http_response_free(&resp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_waits_with_epoll, setup, teardown),
        cmocka_unit_test_setup_teardown(test_answers_http_among_idle_sockets, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wake_from_another_thread, setup, teardown),
        cmocka_unit_test_setup_teardown(test_early_timer_fires_in_quiet_loop, setup, teardown),
        cmocka_unit_test_setup_teardown(test_taken_port_is_an_error, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
