/*
 * test_persistence.c - nothing the API accepted gets lost across a missing
 * connection: the offline queue before the first connect and while the
 * broker is down, and a broker restart in the middle of a QoS 1 / QoS 2
 * stream with persistent sessions on both sides.
 */
#define _GNU_SOURCE
#include "itest.h"

#include <sys/socket.h>

/* A client with a session that outlives its connections: clean start
 * off, and (v5) a session expiry longer than the test. */
static tw_client *persistent(tb_broker *b, const char *name, int level)
{
    tw_client *t = tw_new_for(b, name, level);

    if (!t)
        return NULL;
    lmq_client_set_int(t->c, LMQ_OPT_CLEAN_START, 0);
    if (level == LMQ_MQTT_5)
        lmq_client_set_int(t->c, LMQ_OPT_SESSION_EXPIRY, 600);
    return t;
}

/* The payloads of t's messages on `topic`, in arrival order, must read
 * "0", "1", ... "n-1". */
static void check_in_order(const tw_client *t, const char *topic, int n)
{
    int next = 0;

    for (int i = 0; i < t->n; i++) {
        const tw_event *e = &t->ev[i];
        if (e->ev.type != LMQ_EV_MESSAGE || strcmp(e->topic, topic) != 0)
            continue;
        int v = atoi((const char *)e->payload);
        if (v != next)
            fprintf(stderr, "message %d arrived where %d was due\n", v, next);
        CHECK_INT(v, next);
        next = v + 1;
    }
    CHECK_INT(next, n);
}

static int publish_numbers(tw_client *t, const char *topic, int from, int to, int qos)
{
    for (int i = from; i < to; i++) {
        char payload[16];
        snprintf(payload, sizeof payload, "%d", i);
        int id = tw_publish(t, topic, payload, qos, 0);
        if (id <= 0) {
            fprintf(stderr, "publish %d refused: %s\n", i, lmq_strerror(id));
            return -1;
        }
    }
    return 0;
}

/* Every LMQ_EV_PUBLISHED so far succeeded. */
static void check_all_published_ok(const tw_client *t)
{
    for (int i = 0; i < t->n; i++)
        if (t->ev[i].ev.type == LMQ_EV_PUBLISHED) {
            CHECK_INT(t->ev[i].ev.error, 0);
            CHECK(t->ev[i].ev.reason < 0x80);
        }
}

static void offline_queue_before_first_connect(int level, int qos)
{
    enum { N = 30 };
    tb_broker *b = tb_broker_start(NULL);
    tw_client *sub = NULL, *pub = NULL;
    const char *topic = "it/offline/first";

    REQUIRE(b);
    sub = tw_new_for(b, "early-sub", level);
    REQUIRE(sub && tw_connect(sub, IT_SHORT_MS) == 0);
    CHECK_INT(tw_subscribe(sub, topic, 2, IT_SHORT_MS), 2);

    pub = tw_new_for(b, "early-pub", level);
    REQUIRE(pub);
    REQUIRE(publish_numbers(pub, topic, 0, N, qos) == 0);
    REQUIRE(tw_connect(pub, IT_SHORT_MS) == 0);
    CHECK_INT(tw_wait_count(pub, LMQ_EV_PUBLISHED, N, IT_LONG_MS), N);
    check_all_published_ok(pub);
    CHECK_INT(tw_wait_count(sub, LMQ_EV_MESSAGE, N, IT_LONG_MS), N);
    check_in_order(sub, topic, N);
done:
    tw_free(pub);
    tw_free(sub);
    it_broker_stop(b);
}

static void test_messages_published_before_the_first_connect_go_out_in_order_qos1(void)
{
    offline_queue_before_first_connect(LMQ_MQTT_311, 1);
}

static void test_messages_published_before_the_first_connect_go_out_in_order_qos2(void)
{
    offline_queue_before_first_connect(LMQ_MQTT_5, 2);
}

/* A full offline queue refuses by default (LMQ_EQUEUE_FULL at the call);
 * with LMQ_QUEUE_DROP_OLDEST it makes room by completing the oldest
 * message with LMQ_EDROPPED, and the rest go out in order on connect. */
static void test_full_offline_queue_refuses_or_drops_the_oldest(void)
{
    tb_broker *b = tb_broker_start(NULL);
    tw_client *sub = NULL, *refuse = NULL, *drop = NULL;
    const char *topic = "it/offline/full";

    REQUIRE(b);
    refuse = tw_new_for(b, "q-refuse", LMQ_MQTT_5);
    drop = tw_new_for(b, "q-drop", LMQ_MQTT_5);
    REQUIRE(refuse && drop);
    CHECK_INT(lmq_client_set_int(refuse->c, LMQ_OPT_OFFLINE_MAX_MSGS, 3), 0);
    CHECK_INT(lmq_client_set_int(drop->c, LMQ_OPT_OFFLINE_MAX_MSGS, 3), 0);
    CHECK_INT(lmq_client_set_int(drop->c, LMQ_OPT_OFFLINE_POLICY, LMQ_QUEUE_DROP_OLDEST), 0);

    REQUIRE(publish_numbers(refuse, topic, 0, 3, 1) == 0);
    CHECK_INT(tw_publish(refuse, topic, "3", 1, 0), LMQ_EQUEUE_FULL);

    int first = tw_publish(drop, topic, "0", 1, 0);
    CHECK(first > 0);
    REQUIRE(publish_numbers(drop, topic, 1, 4, 1) == 0);
    tw_event *e = tw_wait_id(drop, LMQ_EV_PUBLISHED, first, IT_SHORT_MS);
    REQUIRE(e);
    CHECK_INT(e->ev.error, LMQ_EDROPPED);

    sub = tw_new_for(b, "q-sub", LMQ_MQTT_5);
    REQUIRE(sub && tw_connect(sub, IT_SHORT_MS) == 0);
    CHECK_INT(tw_subscribe(sub, topic, 1, IT_SHORT_MS), 1);
    REQUIRE(tw_connect(drop, IT_SHORT_MS) == 0);
    CHECK_INT(tw_wait_count(sub, LMQ_EV_MESSAGE, 3, IT_SHORT_MS), 3);
    const char *want[3] = {"1", "2", "3"};
    for (int i = 0; i < 3; i++) {
        tw_event *m = tw_wait_msg(sub, topic, 0);
        REQUIRE(m);
        CHECK(strcmp((const char *)m->payload, want[i]) == 0);
    }
    CHECK(tw_expect_none(sub, LMQ_EV_MESSAGE, 100));
done:
    tw_free(sub);
    tw_free(refuse);
    tw_free(drop);
    it_broker_stop(b);
}

/* The broker goes away; what is published meanwhile waits in the offline
 * queue and goes out in order once the client has reconnected by itself.
 * The subscriber's persistent session keeps its subscription and collects
 * what arrives before it is back [MQTT-3.1.2-4]. */
static void test_messages_published_while_the_broker_is_down_go_out_in_order_after_reconnect(void)
{
    enum { N = 30 };
    tb_broker_opts opts = {.persistence = 1};
    tb_broker *b = tb_broker_start(&opts);
    tw_client *sub = NULL, *pub = NULL;
    const char *topic = "it/offline/down";

    REQUIRE(b);
    sub = persistent(b, "down-sub", LMQ_MQTT_5);
    pub = tw_new_for(b, "down-pub", LMQ_MQTT_5);
    REQUIRE(sub && pub);
    REQUIRE(tw_connect(sub, IT_SHORT_MS) == 0);
    CHECK_INT(tw_subscribe(sub, topic, 1, IT_SHORT_MS), 1);
    REQUIRE(tw_connect(pub, IT_SHORT_MS) == 0);

    REQUIRE(tb_broker_kill(b) == 0);
    REQUIRE(tw_wait(pub, LMQ_EV_DISCONNECTED, IT_SHORT_MS));
    REQUIRE(publish_numbers(pub, topic, 0, N, 1) == 0);
    REQUIRE(tb_broker_start_again(b) == 0);

    CHECK(tw_wait(pub, LMQ_EV_CONNECTED, IT_LONG_MS) != NULL);
    tw_event *c = tw_wait(sub, LMQ_EV_CONNECTED, IT_LONG_MS);
    REQUIRE(c);
    /* [MQTT-3.2.2-3] the broker kept the subscriber's session. */
    CHECK_INT(c->ev.session_present, 1);
    CHECK_INT(tw_wait_count(pub, LMQ_EV_PUBLISHED, N, IT_LONG_MS), N);
    check_all_published_ok(pub);
    CHECK_INT(tw_wait_count(sub, LMQ_EV_MESSAGE, N, IT_LONG_MS), N);
    check_in_order(sub, topic, N);
done:
    tw_free(pub);
    tw_free(sub);
    it_broker_stop(b);
}

/*
 * The broker restarts (its database saved on SIGTERM) while N messages
 * are on their way.  Both clients have persistent sessions, reconnect by
 * themselves and resend what was in flight (DUP set, [MQTT-4.4.0-1]).
 * QoS 1: every message arrives at least once.  QoS 2: exactly once
 * [MQTT-4.3.3-10]; a duplicate here means the PUBREC/PUBREL exchange was
 * not resumed correctly on one side.  (The broker's max_inflight_messages
 * matters here: see broker.c for the values at which mosquitto 2.0.11
 * itself duplicates or drops QoS 2 messages across a restart.)
 */
static void restart_mid_stream(int level, int qos)
{
    enum { N = 200 };
    tb_broker_opts opts = {.persistence = 1};
    tb_broker *b = tb_broker_start(&opts);
    tw_client *sub = NULL, *pub = NULL;
    const char *topic = "it/restart/stream";
    int got[N];

    memset(got, 0, sizeof got);
    REQUIRE(b);
    sub = persistent(b, "stream-sub", level);
    pub = persistent(b, "stream-pub", level);
    REQUIRE(sub && pub);
    REQUIRE(tw_connect(sub, IT_SHORT_MS) == 0);
    CHECK_INT(tw_subscribe(sub, topic, qos, IT_SHORT_MS), qos);
    REQUIRE(tw_connect(pub, IT_SHORT_MS) == 0);

    for (int i = 0; i < N; i++) {
        char payload[16];
        snprintf(payload, sizeof payload, "%d", i);
        CHECK(tw_publish(pub, topic, payload, qos, 0) > 0);
        tw_pump(1);
        if (i == N / 2) {
            /* Mid-stream: a quarter delivered, the next quarter in flight
             * on either side, the second half not yet published. */
            CHECK(tw_wait_count(sub, LMQ_EV_MESSAGE, N / 4, IT_SHORT_MS) >= N / 4);
            REQUIRE(tb_broker_restart(b) == 0);
        }
    }
    CHECK(tw_wait(pub, LMQ_EV_CONNECTED, IT_LONG_MS) != NULL);
    CHECK(tw_wait(sub, LMQ_EV_CONNECTED, IT_LONG_MS) != NULL);
    CHECK_INT(tw_wait_count(pub, LMQ_EV_PUBLISHED, N, IT_LONG_MS), N);
    check_all_published_ok(pub);

    /* Wait until every payload has been seen at least once. */
    int64_t deadline = tw_now_ms() + IT_LONG_MS;
    int distinct = 0;
    for (;;) {
        distinct = 0;
        memset(got, 0, sizeof got);
        for (int i = 0; i < sub->n; i++) {
            tw_event *e = &sub->ev[i];
            if (e->ev.type != LMQ_EV_MESSAGE)
                continue;
            int v = atoi((const char *)e->payload);
            if (v >= 0 && v < N && got[v]++ == 0)
                distinct++;
        }
        if (distinct == N || tw_now_ms() >= deadline)
            break;
        tw_pump(10);
    }
    CHECK_INT(distinct, N);
    if (qos == 2) {
        /* Late duplicates would come right after: give them a moment. */
        CHECK(tw_expect_none(sub, LMQ_EV_MESSAGE, 300));
        int dups = 0;
        for (int i = 0; i < N; i++)
            if (got[i] > 1) {
                fprintf(stderr, "QoS 2 message %d delivered %d times\n", i, got[i]);
                dups += got[i] - 1;
            }
        CHECK_INT(dups, 0);
    }
done:
    tw_free(pub);
    tw_free(sub);
    it_broker_stop(b);
}

static void test_broker_restart_mid_stream_loses_no_qos1_message(void)
{
    restart_mid_stream(LMQ_MQTT_5, 1);
}

static void test_broker_restart_mid_stream_delivers_qos2_exactly_once_with_mqtt_5(void)
{
    restart_mid_stream(LMQ_MQTT_5, 2);
}

static void test_broker_restart_mid_stream_delivers_qos2_exactly_once_with_mqtt_311(void)
{
    restart_mid_stream(LMQ_MQTT_311, 2);
}

/* A QoS 1 message the application has not acked (LMQ_OPT_MANUAL_ACK) is
 * not acknowledged to the broker, so when the connection breaks the
 * broker delivers it again, with DUP, on the resumed session
 * [MQTT-4.4.0-1]; once acked it does not come back. */
static void test_unacked_manual_message_is_redelivered_after_reconnect(void)
{
    tb_broker *b = tb_broker_start(NULL);
    tw_client *sub = NULL, *pub = NULL;
    const char *topic = "it/manual/redeliver";

    REQUIRE(b);
    sub = persistent(b, "manual-sub", LMQ_MQTT_5);
    pub = tw_new_for(b, "manual-pub", LMQ_MQTT_5);
    REQUIRE(sub && pub);
    CHECK_INT(lmq_client_set_int(sub->c, LMQ_OPT_MANUAL_ACK, 1), 0);
    REQUIRE(tw_connect(sub, IT_SHORT_MS) == 0);
    REQUIRE(tw_connect(pub, IT_SHORT_MS) == 0);
    CHECK_INT(tw_subscribe(sub, topic, 1, IT_SHORT_MS), 1);
    CHECK_INT(tw_publish_wait(pub, topic, "keep me", 1, 0, IT_SHORT_MS), 0);
    tw_event *m = tw_wait_msg(sub, topic, IT_SHORT_MS);
    REQUIRE(m);
    CHECK_INT(m->ev.dup, 0);

    /* Break the connection under the client: it reconnects by itself. */
    int fd = lmq_client_fd(sub->c);
    REQUIRE(fd >= 0);
    CHECK_INT(shutdown(fd, SHUT_RDWR), 0);
    REQUIRE(tw_wait(sub, LMQ_EV_DISCONNECTED, IT_SHORT_MS));
    REQUIRE(tw_wait(sub, LMQ_EV_CONNECTED, IT_LONG_MS));
    m = tw_wait_msg(sub, topic, IT_SHORT_MS);
    REQUIRE(m);
    CHECK_INT(m->ev.dup, 1);
    CHECK(m->ev.payload_len == 7 && memcmp(m->payload, "keep me", 7) == 0);
    CHECK_INT(lmq_client_ack(sub->c, m->ev.ack_id, 0), 0);

    /* Acked now: another break does not bring it back. */
    tw_pump(50);
    fd = lmq_client_fd(sub->c);
    REQUIRE(fd >= 0);
    CHECK_INT(shutdown(fd, SHUT_RDWR), 0);
    REQUIRE(tw_wait(sub, LMQ_EV_CONNECTED, IT_LONG_MS));
    CHECK_INT(tw_publish_wait(pub, topic, "marker", 1, 0, IT_SHORT_MS), 0);
    m = tw_wait_msg(sub, topic, IT_SHORT_MS);
    REQUIRE(m);
    CHECK(m->ev.payload_len == 6 && memcmp(m->payload, "marker", 6) == 0);
    CHECK_INT(tw_count_msgs(sub, topic), 3);
    if (m)
        lmq_client_ack(sub->c, m->ev.ack_id, 0);
done:
    tw_free(pub);
    tw_free(sub);
    it_broker_stop(b);
}

int main(void)
{
    RUN(test_messages_published_before_the_first_connect_go_out_in_order_qos1);
    RUN(test_messages_published_before_the_first_connect_go_out_in_order_qos2);
    RUN(test_full_offline_queue_refuses_or_drops_the_oldest);
    RUN(test_messages_published_while_the_broker_is_down_go_out_in_order_after_reconnect);
    RUN(test_broker_restart_mid_stream_loses_no_qos1_message);
    RUN(test_broker_restart_mid_stream_delivers_qos2_exactly_once_with_mqtt_5);
    RUN(test_broker_restart_mid_stream_delivers_qos2_exactly_once_with_mqtt_311);
    RUN(test_unacked_manual_message_is_redelivered_after_reconnect);
    return check_done();
}
