/*
 * test_connection.c - the life of a connection against mosquitto: a
 * session taken over by another client, subscriptions restored after the
 * client reconnects to a broker that forgot them.
 */
#include "itest.h"

/* The broker closes the first connection when another one takes its
 * client id [MQTT-3.1.4-3].  The client reports the loss: with the reason
 * when the server says it (DISCONNECT 0x8E "Session taken over"), as a
 * plain close when it does not (mosquitto 2.0.11 just closes the socket);
 * the new owner of the id stays connected. */
static void test_session_takeover_is_reported_with_its_reason_code(void)
{
    tb_broker *b = tb_broker_start(NULL);
    tw_client *first = NULL, *second = NULL;

    REQUIRE(b);
    first = tw_new_for(b, "same-id", LMQ_MQTT_5);
    second = tw_new_for(b, "same-id", LMQ_MQTT_5);
    REQUIRE(first && second);
    /* Without this the two would take the id from each other forever. */
    lmq_client_set_int(first->c, LMQ_OPT_RECONNECT, 0);
    REQUIRE(tw_connect(first, IT_SHORT_MS) == 0);
    REQUIRE(tw_connect(second, IT_SHORT_MS) == 0);
    tw_event *d = tw_wait(first, LMQ_EV_DISCONNECTED, IT_SHORT_MS);
    REQUIRE(d);
    if (d->ev.error == LMQ_EDISCONNECTED)
        CHECK_INT(d->ev.reason, 0x8E);
    else
        CHECK_INT(d->ev.error, LMQ_ECLOSED);
    CHECK(tw_expect_none(second, LMQ_EV_DISCONNECTED, 200));
done:
    tw_free(first);
    tw_free(second);
    it_broker_stop(b);
}

/* A broker without persistence restarts and forgets every subscription;
 * the client reconnects with a new session and subscribes again by
 * itself (LMQ_OPT_AUTO_RESUBSCRIBE, on by default). */
static void resubscribe_after_a_fresh_broker(int level)
{
    tb_broker *b = tb_broker_start(NULL);
    tw_client *sub = NULL, *pub = NULL;

    REQUIRE(b);
    sub = tw_new_for(b, "resub", level);
    REQUIRE(sub && tw_connect(sub, IT_SHORT_MS) == 0);
    CHECK_INT(tw_subscribe(sub, "it/resub/+", 1, IT_SHORT_MS), 1);
    REQUIRE(tb_broker_restart(b) == 0);
    tw_event *c = tw_wait(sub, LMQ_EV_CONNECTED, IT_LONG_MS);
    REQUIRE(c);
    CHECK_INT(c->ev.session_present, 0);

    pub = tw_new_for(b, "resub-pub", level);
    REQUIRE(pub && tw_connect(pub, IT_SHORT_MS) == 0);
    /* The resubscription may still be on its way: publish until one
     * arrives, each publish a bounded wait. */
    tw_event *m = NULL;
    for (int i = 0; i < 20 && !m; i++) {
        CHECK_INT(tw_publish_wait(pub, "it/resub/x", "back", 1, 0, IT_SHORT_MS), 0);
        m = tw_wait_msg(sub, "it/resub/x", i < 19 ? 100 : IT_SHORT_MS);
    }
    CHECK(m != NULL);
done:
    tw_free(pub);
    tw_free(sub);
    it_broker_stop(b);
}

static void test_subscriptions_are_restored_after_reconnecting_with_mqtt_311(void)
{
    resubscribe_after_a_fresh_broker(LMQ_MQTT_311);
}

static void test_subscriptions_are_restored_after_reconnecting_with_mqtt_5(void)
{
    resubscribe_after_a_fresh_broker(LMQ_MQTT_5);
}

int main(void)
{
    RUN(test_session_takeover_is_reported_with_its_reason_code);
    RUN(test_subscriptions_are_restored_after_reconnecting_with_mqtt_311);
    RUN(test_subscriptions_are_restored_after_reconnecting_with_mqtt_5);
    return check_done();
}
