/*
 * test_transports.c - the ways to reach a broker (TCP on 127.0.0.1 and
 * ::1, a Unix socket) and the ways to drive a client (the external driver
 * from a plain poll() loop, a shared libev loop, a background thread, a
 * callback instead of pulling).
 */
#define _GNU_SOURCE
#include "itest.h"

#include <poll.h>
#include <pthread.h>

/* Subscribe to a topic, publish to it, get it back: proof that a client
 * can do real work over whatever carries it. */
static void self_round_trip(tw_client *t, const char *topic)
{
    CHECK_INT(tw_subscribe(t, topic, 1, IT_SHORT_MS), 1);
    CHECK_INT(tw_publish_wait(t, topic, "echo", 1, 0, IT_SHORT_MS), 0);
    tw_event *m = tw_wait_msg(t, topic, IT_SHORT_MS);
    CHECK(m && m->ev.payload_len == 4 && memcmp(m->payload, "echo", 4) == 0);
}

static void test_client_works_over_a_unix_socket(void)
{
    tb_broker_opts opts = {.unix_socket = 1};
    tb_broker *b = tb_broker_start(&opts);
    tw_client *t = NULL;

    REQUIRE(b);
    t = tw_new("unix");
    REQUIRE(t);
    CHECK_INT(lmq_client_set_str(t->c, LMQ_OPT_UNIX_PATH, tb_broker_unix_path(b), -1), 0);
    REQUIRE(tw_connect(t, IT_SHORT_MS) == 0);
    self_round_trip(t, "it/transport/unix");
done:
    tw_free(t);
    it_broker_stop(b);
}

static void test_client_works_over_ipv6_loopback(void)
{
    tb_broker_opts opts = {.ipv6 = 1};
    tb_broker *b = NULL;
    tw_client *t = NULL;

    if (!tb_ipv6_available()) {
        printf("SKIP test_client_works_over_ipv6_loopback: no ::1 on this machine\n");
        return;
    }
    b = tb_broker_start(&opts);
    REQUIRE(b);
    t = tw_new_for(b, "ipv6", LMQ_MQTT_5);
    REQUIRE(t);
    REQUIRE(tw_connect(t, IT_SHORT_MS) == 0);
    self_round_trip(t, "it/transport/ipv6");
done:
    tw_free(t);
    it_broker_stop(b);
}

/* Nothing listening: the first connect fails with an event, not a hang. */
static void test_connect_to_a_closed_port_fails_with_an_event(void)
{
    tw_client *t = tw_new("nobody-home");
    int port = tb_free_port(0);

    REQUIRE(t && port > 0);
    lmq_client_set_str(t->c, LMQ_OPT_HOST, "127.0.0.1", -1);
    lmq_client_set_int(t->c, LMQ_OPT_PORT, port);
    lmq_client_set_int(t->c, LMQ_OPT_RECONNECT_FIRST, 0);
    int rc = tw_connect(t, IT_SHORT_MS);
    CHECK(rc != 0);
    CHECK(rc != LMQ_ETIMEOUT);
done:
    tw_free(t);
}

/*
 * The external driver as a caller's own loop uses it, written out in full
 * here (not through the wait helpers): poll() on the fd with the events
 * lmq_client_want() asks for and the timeout lmq_client_timeout_ms()
 * gives, call on_readable / on_writable / on_timeout, pull events.
 */
struct poll_run {
    lmq_client *c;
    int connected, subscribed, got_message, published, disconnected;
    int fd_changes;
};

static void poll_once(struct poll_run *r, int max_ms)
{
    struct pollfd p = {lmq_client_fd(r->c), 0, 0};
    int64_t tmo = lmq_client_timeout_ms(r->c);
    lmq_event ev[16];
    int n;

    if (tmo < 0 || tmo > max_ms)
        tmo = max_ms;
    int want = lmq_client_want(r->c);
    if (want & LMQ_WANT_READ)
        p.events |= POLLIN;
    if (want & LMQ_WANT_WRITE)
        p.events |= POLLOUT;
    if (p.fd >= 0)
        poll(&p, 1, (int)tmo);
    else
        poll(NULL, 0, (int)tmo);
    if (p.fd >= 0 && (p.revents & (POLLOUT | POLLERR | POLLHUP)) && (want & LMQ_WANT_WRITE))
        lmq_client_on_writable(r->c);
    if (p.fd >= 0 && (p.revents & (POLLIN | POLLERR | POLLHUP)) && lmq_client_fd(r->c) == p.fd)
        lmq_client_on_readable(r->c);
    if (lmq_client_timeout_ms(r->c) == 0)
        lmq_client_on_timeout(r->c);
    while ((n = lmq_client_events(r->c, ev, 16, sizeof(lmq_event))) > 0)
        for (int i = 0; i < n; i++) {
            switch (ev[i].type) {
            case LMQ_EV_CONNECTED: r->connected++; break;
            case LMQ_EV_SUBSCRIBED: r->subscribed++; break;
            case LMQ_EV_PUBLISHED: r->published += ev[i].error == 0; break;
            case LMQ_EV_DISCONNECTED: r->disconnected++; break;
            case LMQ_EV_FD_CHANGED: r->fd_changes++; break;
            case LMQ_EV_MESSAGE:
                r->got_message += ev[i].payload_len == 4 &&
                                  memcmp(ev[i].payload, "poll", 4) == 0;
                break;
            default: break;
            }
        }
}

#define POLL_UNTIL(r, cond)                                                \
    do {                                                                   \
        int64_t until_ = tw_now_ms() + IT_SHORT_MS;                        \
        while (!(cond) && tw_now_ms() < until_)                            \
            poll_once((r), 50);                                            \
        CHECK(cond);                                                       \
    } while (0)

static void test_external_driver_runs_from_a_plain_poll_loop(void)
{
    tb_broker *b = tb_broker_start(NULL);
    struct poll_run r = {0};
    lmq_subscription s = {"it/transport/poll", -1, 1};

    REQUIRE(b);
    r.c = lmq_client_new();
    REQUIRE(r.c);
    lmq_client_set_str(r.c, LMQ_OPT_HOST, "127.0.0.1", -1);
    lmq_client_set_int(r.c, LMQ_OPT_PORT, tb_broker_port(b));
    lmq_client_set_int(r.c, LMQ_OPT_KEEPALIVE, 1);
    REQUIRE(lmq_client_connect(r.c) == 0);
    POLL_UNTIL(&r, r.connected == 1);
    CHECK(lmq_client_fd(r.c) >= 0);

    REQUIRE(lmq_client_subscribe(r.c, &s, 1, NULL) > 0);
    POLL_UNTIL(&r, r.subscribed == 1);
    REQUIRE(lmq_client_publish(r.c, s.filter, -1, "poll", 4, 1, 0, NULL) > 0);
    POLL_UNTIL(&r, r.published == 1 && r.got_message == 1);

    /* The deadline drives keepalive: 1.5 s idle with keepalive 1 needs a
     * PINGREQ answered, and the loop only wakes when told to. */
    int64_t until = tw_now_ms() + 1500;
    while (tw_now_ms() < until)
        poll_once(&r, 1000);
    CHECK_INT(r.disconnected, 0);

    CHECK_INT(lmq_client_disconnect(r.c, 0, NULL), 0);
    POLL_UNTIL(&r, r.disconnected == 1);
done:
    lmq_client_free(r.c);
    it_broker_stop(b);
}

/* Many clients may share one libev loop (lmq_loop_new + attach). */
static void test_two_clients_share_one_libev_loop(void)
{
    tb_broker *b = tb_broker_start(NULL);
    lmq_loop *loop = lmq_loop_new();
    tw_client *sub = NULL, *pub = NULL;

    REQUIRE(b && loop);
    sub = tw_new_for(b, "loop-sub", LMQ_MQTT_5);
    pub = tw_new_for(b, "loop-pub", LMQ_MQTT_5);
    REQUIRE(sub && pub);
    CHECK_INT(lmq_client_attach(sub->c, loop), 0);
    CHECK_INT(lmq_client_attach(pub->c, loop), 0);
    CHECK_INT(lmq_client_connect(sub->c), 0);
    CHECK_INT(lmq_client_connect(pub->c), 0);

    int64_t until = tw_now_ms() + IT_SHORT_MS;
    while ((tw_count(sub, LMQ_EV_CONNECTED) < 1 || tw_count(pub, LMQ_EV_CONNECTED) < 1) &&
           tw_now_ms() < until) {
        lmq_loop_run(loop, LMQ_RUN_NOWAIT);
        poll(NULL, 0, 1);
        tw_collect_events(sub);
        tw_collect_events(pub);
    }
    REQUIRE(tw_count(sub, LMQ_EV_CONNECTED) == 1 && tw_count(pub, LMQ_EV_CONNECTED) == 1);

    lmq_subscription s = {"it/transport/loop", -1, 1};
    REQUIRE(lmq_client_subscribe(sub->c, &s, 1, NULL) > 0);
    until = tw_now_ms() + IT_SHORT_MS;
    while (tw_count(sub, LMQ_EV_SUBSCRIBED) < 1 && tw_now_ms() < until) {
        lmq_loop_run(loop, LMQ_RUN_NOWAIT);
        poll(NULL, 0, 1);
        tw_collect_events(sub);
    }
    REQUIRE(lmq_client_publish(pub->c, s.filter, -1, "loop", 4, 1, 0, NULL) > 0);
    until = tw_now_ms() + IT_SHORT_MS;
    while ((tw_count(sub, LMQ_EV_MESSAGE) < 1 || tw_count(pub, LMQ_EV_PUBLISHED) < 1) &&
           tw_now_ms() < until) {
        lmq_loop_run(loop, LMQ_RUN_NOWAIT);
        poll(NULL, 0, 1);
        tw_collect_events(sub);
        tw_collect_events(pub);
    }
    CHECK_INT(tw_count(sub, LMQ_EV_MESSAGE), 1);
    CHECK_INT(tw_count(pub, LMQ_EV_PUBLISHED), 1);
done:
    tw_free(sub);
    tw_free(pub);
    lmq_loop_free(loop);
    it_broker_stop(b);
}

/* lmq_client_thread_start: the loop runs in a background thread, events
 * come to the callback (on that thread), the API is callable from here. */
struct thread_seen {
    pthread_mutex_t mu;
    int connected, subscribed, messages, published;
};

static void on_event(lmq_client *c, const lmq_event *ev, void *ud)
{
    struct thread_seen *s = ud;

    (void)c;
    pthread_mutex_lock(&s->mu);
    switch (ev->type) {
    case LMQ_EV_CONNECTED: s->connected++; break;
    case LMQ_EV_SUBSCRIBED: s->subscribed++; break;
    case LMQ_EV_MESSAGE: s->messages++; break;
    case LMQ_EV_PUBLISHED: s->published += ev->error == 0; break;
    default: break;
    }
    pthread_mutex_unlock(&s->mu);
}

static int seen_get(struct thread_seen *s, const int *field)
{
    pthread_mutex_lock(&s->mu);
    int v = *field;
    pthread_mutex_unlock(&s->mu);
    return v;
}

static int wait_field(struct thread_seen *s, const int *field, int n)
{
    int64_t until = tw_now_ms() + IT_SHORT_MS;

    while (seen_get(s, field) < n && tw_now_ms() < until)
        poll(NULL, 0, 2);
    return seen_get(s, field);
}

static void test_background_thread_delivers_events_to_the_callback(void)
{
    enum { N = 50 };
    tb_broker *b = tb_broker_start(NULL);
    lmq_client *c = NULL;
    struct thread_seen seen = {.mu = PTHREAD_MUTEX_INITIALIZER};
    lmq_subscription s = {"it/transport/thread", -1, 1};
    int started = 0;

    REQUIRE(b);
    c = lmq_client_new();
    REQUIRE(c);
    lmq_client_set_str(c, LMQ_OPT_HOST, "127.0.0.1", -1);
    lmq_client_set_int(c, LMQ_OPT_PORT, tb_broker_port(b));
    CHECK_INT(lmq_client_set_callback(c, on_event, &seen, NULL), 0);
    REQUIRE(lmq_client_thread_start(c) == 0);
    started = 1;
    REQUIRE(lmq_client_connect(c) == 0);
    REQUIRE(wait_field(&seen, &seen.connected, 1) == 1);
    REQUIRE(lmq_client_subscribe(c, &s, 1, NULL) > 0);
    REQUIRE(wait_field(&seen, &seen.subscribed, 1) == 1);
    for (int i = 0; i < N; i++)
        CHECK(lmq_client_publish(c, s.filter, -1, "t", 1, 1, 0, NULL) > 0);
    CHECK_INT(wait_field(&seen, &seen.published, N), N);
    CHECK_INT(wait_field(&seen, &seen.messages, N), N);
    /* With a callback set nothing is left to pull. */
done:
    if (started)
        CHECK_INT(lmq_client_thread_stop(c), 0);
    if (c) {
        lmq_event ev[4];
        CHECK_INT(lmq_client_events(c, ev, 4, sizeof(lmq_event)), 0);
    }
    lmq_client_free(c);
    it_broker_stop(b);
}

int main(void)
{
    RUN(test_client_works_over_a_unix_socket);
    RUN(test_client_works_over_ipv6_loopback);
    RUN(test_connect_to_a_closed_port_fails_with_an_event);
    RUN(test_external_driver_runs_from_a_plain_poll_loop);
    RUN(test_two_clients_share_one_libev_loop);
    RUN(test_background_thread_delivers_events_to_the_callback);
    return check_done();
}
