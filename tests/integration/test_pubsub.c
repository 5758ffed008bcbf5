/*
 * test_pubsub.c - publish and subscribe through mosquitto at every QoS,
 * MQTT 3.1.1 and 5.0: our client as publisher (client -> broker) and as
 * subscriber (broker -> client) in the same exchange; retained messages.
 */
#include "itest.h"

static tb_broker *broker;

/* One subscriber and one publisher, both connected at `level`. */
static int connect_pair(int level, tw_client **pub, tw_client **sub)
{
    char name[32];

    snprintf(name, sizeof name, "pub-v%d", level);
    *pub = tw_new_for(broker, name, level);
    snprintf(name, sizeof name, "sub-v%d", level);
    *sub = tw_new_for(broker, name, level);
    if (!*pub || !*sub)
        return -1;
    if (tw_connect(*pub, IT_SHORT_MS) != 0 || tw_connect(*sub, IT_SHORT_MS) != 0)
        return -1;
    return 0;
}

static void round_trip_at_every_qos(int level)
{
    tw_client *pub = NULL, *sub = NULL;

    REQUIRE(connect_pair(level, &pub, &sub) == 0);
    for (int qos = 0; qos <= 2; qos++) {
        char topic[64], payload[64];
        snprintf(topic, sizeof topic, "it/pubsub/v%d/q%d", level, qos);
        snprintf(payload, sizeof payload, "hello at qos %d", qos);

        /* [MQTT-3.9.3-1] the SUBACK grants the QoS asked for (mosquitto
         * supports all three). */
        CHECK_INT(tw_subscribe(sub, topic, qos, IT_SHORT_MS), qos);

        /* QoS 0 completes when written, 1 on PUBACK, 2 on PUBCOMP. */
        CHECK_INT(tw_publish_wait(pub, topic, payload, qos, 0, IT_SHORT_MS), 0);

        tw_event *m = tw_wait_msg(sub, topic, IT_SHORT_MS);
        REQUIRE(m);
        CHECK_INT(m->ev.qos, qos);
        CHECK_INT(m->ev.retain, 0);
        CHECK_INT(m->ev.dup, 0);
        CHECK_INT(m->ev.payload_len, (int)strlen(payload));
        CHECK(memcmp(m->payload, payload, strlen(payload)) == 0);
    }
done:
    tw_free(pub);
    tw_free(sub);
}

static void test_every_qos_round_trips_with_mqtt_311(void)
{
    round_trip_at_every_qos(LMQ_MQTT_311);
}

static void test_every_qos_round_trips_with_mqtt_5(void)
{
    round_trip_at_every_qos(LMQ_MQTT_5);
}

static void test_every_qos_round_trips_with_mqtt_31(void)
{
    round_trip_at_every_qos(LMQ_MQTT_31);
}

/* The MQTT 5 PUBLISH properties a broker forwards unchanged reach the
 * subscriber's event: payload format [MQTT-3.3.2-4], response topic
 * [MQTT-3.3.2-15], correlation data [MQTT-3.3.2-16], user properties in
 * order [MQTT-3.3.2-17] [MQTT-3.3.2-18], content type [MQTT-3.3.2-20]. */
static void test_publish_properties_reach_the_subscriber(void)
{
    tw_client *pub = NULL, *sub = NULL;
    lmq_proplist *pl = lmq_proplist_new();
    const char *s;
    int32_t n, kl, vl;
    const char *k, *v;
    int64_t num;

    REQUIRE(pl);
    REQUIRE(connect_pair(LMQ_MQTT_5, &pub, &sub) == 0);
    CHECK_INT(tw_subscribe(sub, "it/pubsub/props", 1, IT_SHORT_MS), 1);
    CHECK_INT(lmq_proplist_add_int(pl, 0x01, 1), 0);
    CHECK_INT(lmq_proplist_add_str(pl, 0x03, "text/plain", -1), 0);
    CHECK_INT(lmq_proplist_add_str(pl, 0x08, "it/pubsub/reply", -1), 0);
    CHECK_INT(lmq_proplist_add_str(pl, 0x09, "\x00\x01\x02", 3), 0);
    CHECK_INT(lmq_proplist_add_user(pl, "k1", -1, "v1", -1), 0);
    CHECK_INT(lmq_proplist_add_user(pl, "k2", -1, "v2", -1), 0);
    int id = lmq_client_publish(pub->c, "it/pubsub/props", -1, "hi", 2, 1, 0, pl);
    REQUIRE(id > 0);
    tw_event *done_ev = tw_wait_id(pub, LMQ_EV_PUBLISHED, id, IT_SHORT_MS);
    CHECK(done_ev && done_ev->ev.error == 0);

    tw_event *m = tw_wait_msg(sub, "it/pubsub/props", IT_SHORT_MS);
    REQUIRE(m);
    CHECK_INT(lmq_event_prop_int(&m->ev, 0x01, 0, &num), 1);
    CHECK_INT(num, 1);
    CHECK_INT(lmq_event_prop_str(&m->ev, 0x03, &s, &n), 1);
    CHECK(n == 10 && memcmp(s, "text/plain", 10) == 0);
    CHECK_INT(lmq_event_prop_str(&m->ev, 0x08, &s, &n), 1);
    CHECK(n == 15 && memcmp(s, "it/pubsub/reply", 15) == 0);
    CHECK_INT(lmq_event_prop_str(&m->ev, 0x09, &s, &n), 1);
    CHECK(n == 3 && memcmp(s, "\x00\x01\x02", 3) == 0);
    CHECK_INT(lmq_event_prop_user(&m->ev, 0, &k, &kl, &v, &vl), 1);
    CHECK(kl == 2 && memcmp(k, "k1", 2) == 0 && vl == 2 && memcmp(v, "v1", 2) == 0);
    CHECK_INT(lmq_event_prop_user(&m->ev, 1, &k, &kl, &v, &vl), 1);
    CHECK(kl == 2 && memcmp(k, "k2", 2) == 0 && vl == 2 && memcmp(v, "v2", 2) == 0);
    CHECK_INT(lmq_event_prop_user(&m->ev, 2, &k, &kl, &v, &vl), 0);
done:
    lmq_proplist_free(pl);
    tw_free(pub);
    tw_free(sub);
}

/* [MQTT-3.8.4-8] delivery QoS is the minimum of the published QoS and the
 * subscription's maximum QoS. */
static void test_qos_2_publish_reaches_a_qos_0_subscription_at_qos_0(void)
{
    tw_client *pub = NULL, *sub = NULL;

    REQUIRE(connect_pair(LMQ_MQTT_5, &pub, &sub) == 0);
    CHECK_INT(tw_subscribe(sub, "it/pubsub/downgrade", 0, IT_SHORT_MS), 0);
    CHECK_INT(tw_publish_wait(pub, "it/pubsub/downgrade", "x", 2, 0, IT_SHORT_MS), 0);
    tw_event *m = tw_wait_msg(sub, "it/pubsub/downgrade", IT_SHORT_MS);
    REQUIRE(m);
    CHECK_INT(m->ev.qos, 0);
done:
    tw_free(pub);
    tw_free(sub);
}

/* Big enough that neither side writes or reads it in one go. */
static void test_a_one_megabyte_payload_arrives_intact(void)
{
    tw_client *pub = NULL, *sub = NULL;
    size_t n = 1024 * 1024;
    char *big = malloc(n);

    REQUIRE(big);
    for (size_t i = 0; i < n; i++)
        big[i] = (char)(i * 7 + (i >> 10));
    REQUIRE(connect_pair(LMQ_MQTT_5, &pub, &sub) == 0);
    CHECK_INT(tw_subscribe(sub, "it/pubsub/big", 1, IT_SHORT_MS), 1);
    int id = lmq_client_publish(pub->c, "it/pubsub/big", -1, big, (int32_t)n, 1, 0, NULL);
    CHECK(id > 0);
    tw_event *done_ev = tw_wait_id(pub, LMQ_EV_PUBLISHED, id, IT_LONG_MS);
    CHECK(done_ev && done_ev->ev.error == 0);
    tw_event *m = tw_wait_msg(sub, "it/pubsub/big", IT_LONG_MS);
    REQUIRE(m);
    CHECK_INT(m->ev.payload_len, (int)n);
    CHECK(m->ev.payload_len == (int)n && memcmp(m->payload, big, n) == 0);
done:
    free(big);
    tw_free(pub);
    tw_free(sub);
}

static void retained_message_reaches_a_later_subscriber(int level)
{
    tw_client *pub = NULL, *late = NULL, *later = NULL;
    char topic[64];

    snprintf(topic, sizeof topic, "it/pubsub/retained/v%d", level);
    pub = tw_new_for(broker, "retainer", level);
    REQUIRE(pub && tw_connect(pub, IT_SHORT_MS) == 0);
    CHECK_INT(tw_publish_wait(pub, topic, "kept", 1, 1, IT_SHORT_MS), 0);

    /* [MQTT-3.3.1-9] a new subscription (retain handling 0) gets the
     * retained message, and it comes with RETAIN set. */
    late = tw_new_for(broker, "late", level);
    REQUIRE(late && tw_connect(late, IT_SHORT_MS) == 0);
    CHECK_INT(tw_subscribe(late, topic, 1, IT_SHORT_MS), 1);
    tw_event *m = tw_wait_msg(late, topic, IT_SHORT_MS);
    REQUIRE(m);
    CHECK_INT(m->ev.retain, 1);
    CHECK_INT(m->ev.payload_len, 4);
    CHECK(memcmp(m->payload, "kept", 4) == 0);

    /* [MQTT-3.3.1-6] an empty retained message clears it: the next
     * subscriber gets nothing, only the marker published after it. */
    CHECK_INT(tw_publish_wait(pub, topic, "", 1, 1, IT_SHORT_MS), 0);
    later = tw_new_for(broker, "later", level);
    REQUIRE(later && tw_connect(later, IT_SHORT_MS) == 0);
    CHECK_INT(tw_subscribe(later, topic, 1, IT_SHORT_MS), 1);
    CHECK_INT(tw_publish_wait(pub, topic, "fresh", 1, 0, IT_SHORT_MS), 0);
    m = tw_wait_msg(later, topic, IT_SHORT_MS);
    REQUIRE(m);
    CHECK_INT(m->ev.retain, 0);
    CHECK_INT(m->ev.payload_len, 5);
    CHECK_INT(tw_count(later, LMQ_EV_MESSAGE), 1);
done:
    tw_free(pub);
    tw_free(late);
    tw_free(later);
}

static void test_retained_message_reaches_a_later_subscriber_with_mqtt_311(void)
{
    retained_message_reaches_a_later_subscriber(LMQ_MQTT_311);
}

static void test_retained_message_reaches_a_later_subscriber_with_mqtt_5(void)
{
    retained_message_reaches_a_later_subscriber(LMQ_MQTT_5);
}

int main(void)
{
    broker = tb_broker_start(NULL);
    if (!broker)
        return 1;
    RUN(test_every_qos_round_trips_with_mqtt_311);
    RUN(test_every_qos_round_trips_with_mqtt_5);
    RUN(test_every_qos_round_trips_with_mqtt_31);
    RUN(test_publish_properties_reach_the_subscriber);
    RUN(test_qos_2_publish_reaches_a_qos_0_subscription_at_qos_0);
    RUN(test_a_one_megabyte_payload_arrives_intact);
    RUN(test_retained_message_reaches_a_later_subscriber_with_mqtt_311);
    RUN(test_retained_message_reaches_a_later_subscriber_with_mqtt_5);
    if (check_tests_failed)
        tb_broker_dump_log(broker);
    tb_broker_stop(broker);
    return check_done();
}
