/*
 * test_flow.c - MQTT 5 flow control and topic aliases against mosquitto.
 *
 * mosquitto advertises its max_inflight_messages as Receive Maximum and
 * answers a QoS 1/2 PUBLISH beyond it with reason 0x97 (Quota exceeded),
 * and disconnects a client that uses a topic alias above its
 * max_topic_alias: so "every publish completed with success" proves our
 * client kept within both limits.  The byte-exact counterparts are in
 * test_fake_flows.c.
 */
#include "itest.h"

static void burst_within_receive_maximum(int qos)
{
    enum { N = 100 };
    tb_broker_opts opts = {.max_inflight = 5};
    tb_broker *b = tb_broker_start(&opts);
    tw_client *pub = NULL, *sub = NULL;

    REQUIRE(b);
    sub = tw_new_for(b, "rm-sub", LMQ_MQTT_5);
    pub = tw_new_for(b, "rm-pub", LMQ_MQTT_5);
    REQUIRE(sub && pub);
    REQUIRE(tw_connect(sub, IT_SHORT_MS) == 0);
    REQUIRE(tw_connect(pub, IT_SHORT_MS) == 0);
    CHECK_INT(tw_subscribe(sub, "it/flow/burst", qos, IT_SHORT_MS), qos);

    /* [MQTT-3.3.4-7] no more than Receive Maximum (5) unacknowledged
     * QoS 1/2 PUBLISH at a time: the client holds the rest back. */
    for (int i = 0; i < N; i++)
        CHECK(tw_publish(pub, "it/flow/burst", "b", qos, 0) > 0);
    CHECK_INT(tw_wait_count(pub, LMQ_EV_PUBLISHED, N, IT_LONG_MS), N);
    for (int i = 0; i < pub->n; i++) {
        tw_event *e = &pub->ev[i];
        if (e->ev.type != LMQ_EV_PUBLISHED)
            continue;
        if (e->ev.error || e->ev.reason)
            fprintf(stderr, "publish %d: error %d reason 0x%02x\n", e->ev.msg_id,
                    e->ev.error, (unsigned)e->ev.reason);
        CHECK_INT(e->ev.error, 0);
        CHECK_INT(e->ev.reason, 0);
    }
    CHECK_INT(tw_count(pub, LMQ_EV_DISCONNECTED), 0);
    CHECK_INT(tw_wait_count(sub, LMQ_EV_MESSAGE, N, IT_LONG_MS), N);
done:
    tw_free(pub);
    tw_free(sub);
    it_broker_stop(b);
}

static void test_qos1_burst_stays_within_the_brokers_receive_maximum(void)
{
    burst_within_receive_maximum(1);
}

static void test_qos2_burst_stays_within_the_brokers_receive_maximum(void)
{
    burst_within_receive_maximum(2);
}

/*
 * Not tested here: mosquitto honouring OUR Receive Maximum.  mosquitto
 * 2.0.11 does not: with Receive Maximum 2 and its window full, one PUBACK
 * releases two more PUBLISH (three unacknowledged; seen on a raw socket),
 * and our client rightly disconnects with 0x93 [MQTT-3.3.4-9].  Both sides
 * of our Receive Maximum are proved against the fake broker instead
 * (test_fake_flows.c, test_adversarial.c).
 */

/* More topics than the broker's Topic Alias Maximum (3), each published
 * several times: the client may alias at most 3 of them [MQTT-3.3.2-9],
 * and every message reaches the subscriber under its full topic name. */
static void test_outgoing_topic_aliases_stay_within_the_brokers_maximum(void)
{
    enum { TOPICS = 6, ROUNDS = 4 };
    tb_broker_opts opts = {.max_topic_alias = 3};
    tb_broker *b = tb_broker_start(&opts);
    tw_client *pub = NULL, *sub = NULL;

    REQUIRE(b);
    sub = tw_new_for(b, "alias-sub", LMQ_MQTT_5);
    pub = tw_new_for(b, "alias-pub", LMQ_MQTT_5);
    REQUIRE(sub && pub);
    CHECK_INT(lmq_client_set_int(pub->c, LMQ_OPT_TOPIC_ALIAS_OUT, 1), 0);
    REQUIRE(tw_connect(sub, IT_SHORT_MS) == 0);
    REQUIRE(tw_connect(pub, IT_SHORT_MS) == 0);
    CHECK_INT(tw_subscribe(sub, "it/alias/#", 1, IT_SHORT_MS), 1);
    for (int r = 0; r < ROUNDS; r++)
        for (int k = 0; k < TOPICS; k++) {
            char topic[32], payload[16];
            snprintf(topic, sizeof topic, "it/alias/topic-%d", k);
            snprintf(payload, sizeof payload, "%d", r);
            CHECK(tw_publish(pub, topic, payload, 1, 0) > 0);
        }
    CHECK_INT(tw_wait_count(pub, LMQ_EV_PUBLISHED, TOPICS * ROUNDS, IT_LONG_MS),
              TOPICS * ROUNDS);
    CHECK_INT(tw_count(pub, LMQ_EV_DISCONNECTED), 0);
    CHECK_INT(tw_wait_count(sub, LMQ_EV_MESSAGE, TOPICS * ROUNDS, IT_LONG_MS),
              TOPICS * ROUNDS);
    for (int k = 0; k < TOPICS; k++) {
        char topic[32];
        snprintf(topic, sizeof topic, "it/alias/topic-%d", k);
        CHECK_INT(tw_count_msgs(sub, topic), ROUNDS);
    }
done:
    tw_free(pub);
    tw_free(sub);
    it_broker_stop(b);
}

/* Accepting aliases (Topic Alias Maximum in CONNECT) changes nothing for
 * the application: messages carry their full topic. */
static void test_incoming_messages_resolve_with_topic_aliases_enabled(void)
{
    tb_broker *b = tb_broker_start(NULL);
    tw_client *pub = NULL, *sub = NULL;

    REQUIRE(b);
    sub = tw_new_for(b, "alias-in-sub", LMQ_MQTT_5);
    pub = tw_new_for(b, "alias-in-pub", LMQ_MQTT_5);
    REQUIRE(sub && pub);
    CHECK_INT(lmq_client_set_int(sub->c, LMQ_OPT_TOPIC_ALIAS_MAXIMUM, 5), 0);
    REQUIRE(tw_connect(sub, IT_SHORT_MS) == 0);
    REQUIRE(tw_connect(pub, IT_SHORT_MS) == 0);
    CHECK_INT(tw_subscribe(sub, "it/alias-in/#", 0, IT_SHORT_MS), 0);
    for (int i = 0; i < 10; i++)
        CHECK(tw_publish(pub, i % 2 ? "it/alias-in/odd" : "it/alias-in/even", "x", 0, 0) > 0);
    CHECK_INT(tw_wait_count(sub, LMQ_EV_MESSAGE, 10, IT_SHORT_MS), 10);
    CHECK_INT(tw_count_msgs(sub, "it/alias-in/odd"), 5);
    CHECK_INT(tw_count_msgs(sub, "it/alias-in/even"), 5);
done:
    tw_free(pub);
    tw_free(sub);
    it_broker_stop(b);
}

int main(void)
{
    RUN(test_qos1_burst_stays_within_the_brokers_receive_maximum);
    RUN(test_qos2_burst_stays_within_the_brokers_receive_maximum);
    RUN(test_outgoing_topic_aliases_stay_within_the_brokers_maximum);
    RUN(test_incoming_messages_resolve_with_topic_aliases_enabled);
    return check_done();
}
