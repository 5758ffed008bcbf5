/*
 * test_oneshot.c - lmq_publish_single / _multiple and lmq_subscribe_callback
 * against a real mosquitto.  The one-shot calls run their own private loop,
 * so LMQ_TEST_DRIVER=external only changes the observing subscriber.
 */
#include "itest.h"

static tb_broker *broker;
static char url[64];

typedef struct seen {
    int n;
    int stop_after;         /* fn returns 1 once n reaches it (0: never) */
    char last[64];
    int retain;
} seen;

static int on_message(const lmq_event *msg, void *userdata)
{
    seen *s = userdata;
    int len = msg->payload_len < 63 ? msg->payload_len : 63;

    memcpy(s->last, msg->payload, (size_t)len);
    s->last[len] = '\0';
    s->retain = msg->retain;
    s->n++;
    return s->stop_after > 0 && s->n >= s->stop_after;
}

static void test_publish_single_is_seen_by_a_subscriber_at_each_qos(void)
{
    tw_client *sub = tw_new_for(broker, "os-sub", LMQ_MQTT_5);
    int qos;

    REQUIRE(sub && tw_connect(sub, IT_SHORT_MS) == 0);
    REQUIRE(tw_subscribe(sub, "it/oneshot/single", 2, IT_SHORT_MS) == 2);
    for (qos = 0; qos <= 2; qos++) {
        char payload[8];
        tw_event *ev;

        snprintf(payload, sizeof payload, "q%d", qos);
        CHECK_INT(lmq_publish_single(url, "it/oneshot/single", -1, payload, 2, qos, 0,
                                     IT_SHORT_MS), 0);
        ev = tw_wait_msg(sub, "it/oneshot/single", IT_SHORT_MS);
        REQUIRE(ev);
        CHECK_INT(ev->ev.qos, qos);
        CHECK_INT(memcmp(ev->payload, payload, 2), 0);
    }
done:
    tw_free(sub);
}

static void test_publish_multiple_returns_the_count_and_all_arrive(void)
{
    tw_client *sub = tw_new_for(broker, "os-sub-multi", LMQ_MQTT_5);
    lmq_message_out msgs[3] = {
        {"it/oneshot/multi", -1, "a", 1, 0, 0},
        {"it/oneshot/multi", -1, "b", 1, 1, 0},
        {"it/oneshot/multi", -1, "c", 1, 2, 0},
    };

    REQUIRE(sub && tw_connect(sub, IT_SHORT_MS) == 0);
    REQUIRE(tw_subscribe(sub, "it/oneshot/multi", 2, IT_SHORT_MS) == 2);
    CHECK_INT(lmq_publish_multiple(url, msgs, 3, IT_SHORT_MS), 3);
    CHECK(tw_wait_count(sub, LMQ_EV_MESSAGE, 3, IT_SHORT_MS) >= 3);
    CHECK_INT(tw_count_msgs(sub, "it/oneshot/multi"), 3);
done:
    tw_free(sub);
}

static void test_subscribe_callback_gets_a_retained_message_and_stops_at_count(void)
{
    seen s = {0};

    CHECK_INT(lmq_publish_single(url, "it/oneshot/retained", -1, "kept", 4, 1, 1,
                                 IT_SHORT_MS), 0);
    CHECK_INT(lmq_subscribe_callback(url, "it/oneshot/retained", -1, 1, on_message, &s, 1,
                                     IT_SHORT_MS), 1);
    CHECK_INT(s.n, 1);
    CHECK(strcmp(s.last, "kept") == 0);
    CHECK_INT(s.retain, 1);
}

static void test_callback_returning_non_zero_stops(void)
{
    lmq_message_out msgs[2] = {
        {"it/oneshot/stop/a", -1, "1", 1, 1, 1},
        {"it/oneshot/stop/b", -1, "2", 1, 1, 1},
    };
    seen s = {0};

    s.stop_after = 1;
    REQUIRE(lmq_publish_multiple(url, msgs, 2, IT_SHORT_MS) == 2);
    /* Two retained messages match, the count is 5: only fn ends it. */
    CHECK_INT(lmq_subscribe_callback(url, "it/oneshot/stop/+", -1, 1, on_message, &s, 5,
                                     IT_SHORT_MS), 1);
    CHECK_INT(s.n, 1);
done:
    return;
}

static void test_too_few_messages_before_the_deadline_is_a_timeout(void)
{
    seen s = {0};

    CHECK_INT(lmq_subscribe_callback(url, "it/oneshot/nothing", -1, 0, on_message, &s, 1,
                                     200), LMQ_ETIMEOUT);
    CHECK_INT(s.n, 0);
}

static void test_a_bad_url_is_refused(void)
{
    CHECK_INT(lmq_publish_single("bogus://x", "t", -1, "p", 1, 0, 0, IT_SHORT_MS), LMQ_EURL);
}

static void test_a_closed_port_is_a_connect_error(void)
{
    char closed[64];
    int port = tb_free_port(0);
    int rc;

    REQUIRE(port > 0);
    snprintf(closed, sizeof closed, "mqtt://127.0.0.1:%d", port);
    rc = lmq_publish_single(closed, "t", -1, "p", 1, 0, 0, IT_SHORT_MS);
    CHECK_INT(rc, LMQ_ECONNECT);
done:
    return;
}

static void test_a_wildcard_topic_is_refused_before_connecting(void)
{
    /* Nothing listens there: the refusal must come from the topic check
     * [MQTT-3.3.2-2], not from a connection failure. */
    CHECK_INT(lmq_publish_single("mqtt://127.0.0.1:1", "a/+/b", -1, "p", 1, 0, 0,
                                 IT_SHORT_MS), LMQ_ETOPIC_WILDCARD);
}

int main(void)
{
    broker = tb_broker_start(NULL);
    if (!broker) {
        fprintf(stderr, "no broker\n");
        return 1;
    }
    snprintf(url, sizeof url, "mqtt://%s:%d", tb_broker_host(broker), tb_broker_port(broker));
    RUN(test_publish_single_is_seen_by_a_subscriber_at_each_qos);
    RUN(test_publish_multiple_returns_the_count_and_all_arrive);
    RUN(test_subscribe_callback_gets_a_retained_message_and_stops_at_count);
    RUN(test_callback_returning_non_zero_stops);
    RUN(test_too_few_messages_before_the_deadline_is_a_timeout);
    RUN(test_a_bad_url_is_refused);
    RUN(test_a_closed_port_is_a_connect_error);
    RUN(test_a_wildcard_topic_is_refused_before_connecting);
    it_broker_stop(broker);
    return check_done();
}
