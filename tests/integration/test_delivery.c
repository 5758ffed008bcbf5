/*
 * test_delivery.c - nothing accepted is lost silently, against mosquitto:
 * a QoS 0 stream kept to a window by lmq_client_backlog arrives whole;
 * lmq_client_disconnect delivers what was accepted before its DISCONNECT
 * goes; lmq_client_wait returns when its request completes, and
 * lmq_client_run when a stop is asked for from the callback.
 *
 * The blocking calls (lmq_client_wait, lmq_client_run) run the client's
 * own libev loop, so these tests use plain lmq_clients, not the wait.h
 * pump (whose external mode drives clients from a poll() loop).
 */
#include "itest.h"

static lmq_client *plain_client(tb_broker *b, const char *id, int level)
{
    lmq_client *c = lmq_client_new();
    if (!c)
        return NULL;
    lmq_client_set_str(c, LMQ_OPT_HOST, "127.0.0.1", -1);
    lmq_client_set_int(c, LMQ_OPT_PORT, tb_broker_port(b));
    lmq_client_set_str(c, LMQ_OPT_CLIENT_ID, id, -1);
    lmq_client_set_int(c, LMQ_OPT_PROTOCOL, level);
    if (lmq_client_connect_wait(c, IT_LONG_MS) != 0) {
        fprintf(stderr, "%s: connect: %s\n", id, lmq_client_errmsg(c));
        lmq_client_free(c);
        return NULL;
    }
    return c;
}

static int drain_events(lmq_client *c, int type, int error)
{
    lmq_event ev[64];
    int n, k = 0;
    while ((n = lmq_client_events(c, ev, 64, sizeof ev[0])) > 0)
        for (int i = 0; i < n; i++)
            k += ev[i].type == type && (error < 0 || ev[i].error == error);
    return k;
}

/* A producer keeps at most W messages incomplete (no LMQ_EV_PUBLISHED
 * yet): with QoS 0 complete only once written, that bounds what it holds,
 * and every message reaches the subscriber. */
static void test_qos0_stream_in_a_window_arrives_whole(void)
{
    enum { N = 20000, W = 200 };
    tb_broker *b = tb_broker_start(NULL);
    tw_client *sub = NULL;
    lmq_client *pub = NULL;
    char payload[64];

    REQUIRE(b);
    sub = tw_new_for(b, "dl-sub", LMQ_MQTT_5);
    REQUIRE(sub && tw_connect(sub, IT_SHORT_MS) == 0);
    CHECK_INT(tw_subscribe(sub, "it/dl/q0", 0, IT_SHORT_MS), 0);
    pub = plain_client(b, "dl-pub", LMQ_MQTT_5);
    REQUIRE(pub);
    int refused = 0, most = 0;
    for (int i = 0; i < N; i++) {
        lmq_backlog bl;
        for (;;) {
            CHECK_INT(lmq_client_backlog(pub, &bl, sizeof bl), 0);
            if (bl.incomplete_msgs < W)
                break;
            lmq_client_run(pub, 5);
            drain_events(pub, 0, -1);
            tw_pump(0);
        }
        if (bl.incomplete_msgs > most)
            most = bl.incomplete_msgs;
        snprintf(payload, sizeof payload, "%d", i);
        if (lmq_client_publish(pub, "it/dl/q0", -1, payload, -1, 0, 0, NULL) < 0)
            refused++;
    }
    CHECK_INT(refused, 0);
    CHECK(most < W);
    CHECK_INT(lmq_client_disconnect(pub, 0, NULL), 0);
    CHECK_INT(lmq_client_run(pub, IT_LONG_MS), 0);
    drain_events(pub, 0, -1);
    lmq_backlog bl;
    CHECK_INT(lmq_client_backlog(pub, &bl, sizeof bl), 0);
    CHECK_INT(bl.incomplete_msgs, 0);
    CHECK_INT(bl.undelivered, 0);
    CHECK_INT(tw_wait_count(sub, LMQ_EV_MESSAGE, N, IT_LONG_MS), N);
done:
    lmq_client_free(pub);
    tw_free(sub);
    it_broker_stop(b);
}

/* Publish a burst and disconnect at once: the DISCONNECT waits for every
 * PUBACK / PUBCOMP (at v5 mosquitto's Receive Maximum holds most of the
 * burst back at first), so all arrive and the disconnect reports nothing.
 * (mosquitto 2.0.11 applies max_inflight_messages to what a 3.1.1 client
 * sends too, which has no Receive Maximum to learn it from, and closes the
 * link past it: the 3.1.1 run keeps its default of 1000.) */
static void disconnect_right_after_a_burst(int level, int qos)
{
    enum { N = 500 };
    tb_broker_opts opts = {.max_inflight = level == LMQ_MQTT_5 ? 10 : 0};
    tb_broker *b = tb_broker_start(&opts);
    tw_client *sub = NULL;
    lmq_client *pub = NULL;

    REQUIRE(b);
    sub = tw_new_for(b, "burst-sub", level);
    REQUIRE(sub && tw_connect(sub, IT_SHORT_MS) == 0);
    CHECK_INT(tw_subscribe(sub, "it/dl/burst", qos, IT_SHORT_MS), qos);
    pub = plain_client(b, "burst-pub", level);
    REQUIRE(pub);
    for (int i = 0; i < N; i++)
        CHECK(lmq_client_publish(pub, "it/dl/burst", -1, "m", 1, qos, 0, NULL) > 0);
    CHECK_INT(lmq_client_disconnect(pub, 0, NULL), 0);
    /* refused while draining */
    CHECK_INT(lmq_client_publish(pub, "it/dl/burst", -1, "late", 4, qos, 0, NULL),
              LMQ_ESTATE);
    CHECK_INT(lmq_client_run(pub, IT_LONG_MS), 0);
    CHECK_INT(drain_events(pub, LMQ_EV_PUBLISHED, 0), N);
    lmq_backlog bl;
    CHECK_INT(lmq_client_backlog(pub, &bl, sizeof bl), 0);
    CHECK_INT(bl.undelivered, 0);
    CHECK_INT(tw_wait_count(sub, LMQ_EV_MESSAGE, N, IT_LONG_MS), N);
done:
    lmq_client_free(pub);
    tw_free(sub);
    it_broker_stop(b);
}

static void test_disconnect_delivers_a_qos1_burst_first_v5(void)
{
    disconnect_right_after_a_burst(LMQ_MQTT_5, 1);
}

static void test_disconnect_delivers_a_qos2_burst_first_v311(void)
{
    disconnect_right_after_a_burst(LMQ_MQTT_311, 2);
}

/* lmq_client_wait returns as soon as its request completed (no timeout
 * given: a wait that ran on would hang the test), with the outcome. */
static void test_wait_returns_when_the_request_completes(void)
{
    tb_broker *b = tb_broker_start(NULL);
    lmq_client *c = NULL;

    REQUIRE(b);
    c = plain_client(b, "waiter", LMQ_MQTT_5);
    REQUIRE(c);
    lmq_subscription s = {"it/dl/wait", -1, 1};
    int sid = lmq_client_subscribe(c, &s, 1, NULL);
    CHECK(sid > 0);
    CHECK_INT(lmq_client_wait(c, sid, -1), 0);
    for (int qos = 0; qos <= 2; qos++) {
        int id = lmq_client_publish(c, "it/dl/wait", -1, "w", 1, qos, 0, NULL);
        CHECK(id > 0);
        CHECK_INT(lmq_client_wait(c, id, -1), 0);
        /* done already: answered from the recent completions */
        CHECK_INT(lmq_client_wait(c, id, 0), 0);
    }
    CHECK_INT(lmq_client_wait(c, 999999, 0), LMQ_EINVAL);
    /* the completion events are still there for the application */
    CHECK_INT(drain_events(c, LMQ_EV_PUBLISHED, 0), 3);
    CHECK_INT(lmq_client_disconnect(c, 0, NULL), 0);
    CHECK_INT(lmq_client_run(c, IT_LONG_MS), 0);
done:
    lmq_client_free(c);
    it_broker_stop(b);
}

struct stopper {
    lmq_loop *loop;             /* NULL: lmq_client_run_stop */
    int published;
};

static void stop_on_published(lmq_client *c, const lmq_event *ev, void *ud)
{
    struct stopper *st = ud;
    if (ev->type != LMQ_EV_PUBLISHED)
        return;
    st->published++;
    if (st->loop)
        lmq_loop_stop(st->loop);
    else
        lmq_client_run_stop(c);
}

/* "Publish, run until acknowledged": a stop from the callback ends
 * lmq_client_run (run without a timeout: one that ran on would hang). */
static void run_stops_from_the_callback(int use_loop)
{
    tb_broker *b = tb_broker_start(NULL);
    lmq_client *c = NULL;
    lmq_loop *loop = NULL;
    struct stopper st = {0};

    REQUIRE(b);
    c = lmq_client_new();
    REQUIRE(c);
    if (use_loop) {
        loop = lmq_loop_new();
        REQUIRE(loop && lmq_client_attach(c, loop) == 0);
        st.loop = loop;
    }
    lmq_client_set_str(c, LMQ_OPT_HOST, "127.0.0.1", -1);
    lmq_client_set_int(c, LMQ_OPT_PORT, tb_broker_port(b));
    REQUIRE(lmq_client_connect_wait(c, IT_LONG_MS) == 0);
    lmq_client_set_callback(c, stop_on_published, &st, NULL);
    CHECK(lmq_client_publish(c, "it/dl/stop", -1, "s", 1, 1, 0, NULL) > 0);
    CHECK_INT(lmq_client_run(c, -1), 0);
    CHECK_INT(st.published, 1);
    /* a stop asked for earlier is not taken by the next run */
    CHECK(lmq_client_publish(c, "it/dl/stop", -1, "s", 1, 2, 0, NULL) > 0);
    CHECK_INT(lmq_client_run(c, -1), 0);
    CHECK_INT(st.published, 2);
    lmq_client_set_callback(c, NULL, NULL, NULL);
    CHECK_INT(lmq_client_disconnect(c, 0, NULL), 0);
    CHECK_INT(lmq_client_run(c, IT_LONG_MS), 0);
done:
    lmq_client_free(c);
    lmq_loop_free(loop);
    it_broker_stop(b);
}

static void test_run_ends_on_lmq_client_run_stop_from_the_callback(void)
{
    run_stops_from_the_callback(0);
}

static void test_run_ends_on_lmq_loop_stop_from_the_callback(void)
{
    run_stops_from_the_callback(1);
}

int main(void)
{
    RUN(test_qos0_stream_in_a_window_arrives_whole);
    RUN(test_disconnect_delivers_a_qos1_burst_first_v5);
    RUN(test_disconnect_delivers_a_qos2_burst_first_v311);
    RUN(test_wait_returns_when_the_request_completes);
    RUN(test_run_ends_on_lmq_client_run_stop_from_the_callback);
    RUN(test_run_ends_on_lmq_loop_stop_from_the_callback);
    return check_done();
}
