/*
 * test_will.c - the will message: published by mosquitto when our client
 * goes away without a clean DISCONNECT, not published after one.
 */
#define _GNU_SOURCE
#include "itest.h"

#include <sys/socket.h>

static tb_broker *broker;

static tw_client *client_with_will(const char *name, int level, const char *topic)
{
    tw_client *t = tw_new_for(broker, name, level);

    if (!t)
        return NULL;
    lmq_client_set_str(t->c, LMQ_OPT_WILL_TOPIC, topic, -1);
    lmq_client_set_str(t->c, LMQ_OPT_WILL_PAYLOAD, "gone", 4);
    lmq_client_set_int(t->c, LMQ_OPT_WILL_QOS, 1);
    return t;
}

static tw_client *observer_of(const char *topic)
{
    tw_client *t = tw_new_for(broker, "observer", LMQ_MQTT_5);

    if (!t || tw_connect(t, IT_SHORT_MS) != 0 || tw_subscribe(t, topic, 1, IT_SHORT_MS) != 1) {
        tw_free(t);
        return NULL;
    }
    return t;
}

/* [MQTT-3.1.2-8] the will is published when the network connection closes
 * without a DISCONNECT: here the client is freed, which closes the socket
 * and sends nothing. */
static void will_is_published_when_the_client_vanishes(int level)
{
    char topic[64];
    tw_client *obs = NULL, *dying = NULL;

    snprintf(topic, sizeof topic, "it/will/vanish/v%d", level);
    obs = observer_of(topic);
    REQUIRE(obs);
    dying = client_with_will("dying", level, topic);
    REQUIRE(dying && tw_connect(dying, IT_SHORT_MS) == 0);
    tw_free(dying);
    dying = NULL;

    tw_event *m = tw_wait_msg(obs, topic, IT_SHORT_MS);
    REQUIRE(m);
    CHECK_INT(m->ev.payload_len, 4);
    CHECK(memcmp(m->payload, "gone", 4) == 0);
    CHECK_INT(m->ev.qos, 1);
done:
    tw_free(dying);
    tw_free(obs);
}

static void test_will_is_published_when_a_311_client_vanishes(void)
{
    will_is_published_when_the_client_vanishes(LMQ_MQTT_311);
}

static void test_will_is_published_when_a_5_client_vanishes(void)
{
    will_is_published_when_the_client_vanishes(LMQ_MQTT_5);
}

/* The network breaks under a live client: the broker publishes the will,
 * and the client reports the loss and reconnects on its own. */
static void test_broken_socket_publishes_the_will_and_the_client_reconnects(void)
{
    const char *topic = "it/will/broken";
    tw_client *obs = NULL, *victim = NULL;

    obs = observer_of(topic);
    REQUIRE(obs);
    victim = client_with_will("victim", LMQ_MQTT_5, topic);
    REQUIRE(victim && tw_connect(victim, IT_SHORT_MS) == 0);
    int fd = lmq_client_fd(victim->c);
    REQUIRE(fd >= 0);
    CHECK_INT(shutdown(fd, SHUT_RDWR), 0);

    CHECK(tw_wait_msg(obs, topic, IT_SHORT_MS) != NULL);
    tw_event *d = tw_wait(victim, LMQ_EV_DISCONNECTED, IT_SHORT_MS);
    REQUIRE(d);
    CHECK(d->ev.error != 0);
    CHECK(tw_wait(victim, LMQ_EV_CONNECTED, IT_SHORT_MS) != NULL);
done:
    tw_free(victim);
    tw_free(obs);
}

/* [MQTT-3.1.2-10] / [MQTT-3.14.4-3] a clean DISCONNECT discards the will.
 * A marker published afterwards proves the observer saw everything the
 * broker had for it. */
static void will_is_not_published_after_a_clean_disconnect(int level)
{
    char topic[64];
    tw_client *obs = NULL, *polite = NULL, *marker = NULL;

    snprintf(topic, sizeof topic, "it/will/clean/v%d", level);
    obs = observer_of(topic);
    REQUIRE(obs);
    polite = client_with_will("polite", level, topic);
    REQUIRE(polite && tw_connect(polite, IT_SHORT_MS) == 0);
    CHECK_INT(lmq_client_disconnect(polite->c, 0, NULL), 0);
    tw_event *d = tw_wait(polite, LMQ_EV_DISCONNECTED, IT_SHORT_MS);
    REQUIRE(d);
    CHECK_INT(d->ev.error, 0);

    marker = tw_new_for(broker, "marker", LMQ_MQTT_5);
    REQUIRE(marker && tw_connect(marker, IT_SHORT_MS) == 0);
    CHECK_INT(tw_publish_wait(marker, topic, "marker", 1, 0, IT_SHORT_MS), 0);
    tw_event *m = tw_wait_msg(obs, topic, IT_SHORT_MS);
    REQUIRE(m);
    CHECK(m->ev.payload_len == 6 && memcmp(m->payload, "marker", 6) == 0);
    CHECK(tw_expect_none(obs, LMQ_EV_MESSAGE, 300));
    /* And the client stays away: no reconnect after our own DISCONNECT
     * (the one CONNECTED is the first connection). */
    CHECK_INT(tw_count(polite, LMQ_EV_CONNECTED), 1);
done:
    tw_free(marker);
    tw_free(polite);
    tw_free(obs);
}

static void test_will_is_not_published_after_a_clean_311_disconnect(void)
{
    will_is_not_published_after_a_clean_disconnect(LMQ_MQTT_311);
}

static void test_will_is_not_published_after_a_clean_5_disconnect(void)
{
    will_is_not_published_after_a_clean_disconnect(LMQ_MQTT_5);
}

/* MQTT 5 reason 0x04 "Disconnect with Will Message": a clean close that
 * still asks the server to publish the will. */
static void test_disconnect_with_reason_4_publishes_the_will(void)
{
    const char *topic = "it/will/reason4";
    tw_client *obs = NULL, *leaver = NULL;

    obs = observer_of(topic);
    REQUIRE(obs);
    leaver = client_with_will("leaver", LMQ_MQTT_5, topic);
    REQUIRE(leaver && tw_connect(leaver, IT_SHORT_MS) == 0);
    CHECK_INT(lmq_client_disconnect(leaver->c, 0x04, NULL), 0);
    CHECK(tw_wait(leaver, LMQ_EV_DISCONNECTED, IT_SHORT_MS) != NULL);
    CHECK(tw_wait_msg(obs, topic, IT_SHORT_MS) != NULL);
done:
    tw_free(leaver);
    tw_free(obs);
}

int main(void)
{
    broker = tb_broker_start(NULL);
    if (!broker)
        return 1;
    RUN(test_will_is_published_when_a_311_client_vanishes);
    RUN(test_will_is_published_when_a_5_client_vanishes);
    RUN(test_broken_socket_publishes_the_will_and_the_client_reconnects);
    RUN(test_will_is_not_published_after_a_clean_311_disconnect);
    RUN(test_will_is_not_published_after_a_clean_5_disconnect);
    RUN(test_disconnect_with_reason_4_publishes_the_will);
    if (check_tests_failed)
        tb_broker_dump_log(broker);
    tb_broker_stop(broker);
    return check_done();
}
