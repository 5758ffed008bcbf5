/*
 * test_subscriptions.c - what subscriptions do against mosquitto:
 * several filters in one SUBSCRIBE, subscription identifiers on messages,
 * shared subscriptions split across clients, unsubscribe stopping delivery.
 */
#include "itest.h"

static tb_broker *broker;

static tw_client *connected(const char *name, int level)
{
    tw_client *t = tw_new_for(broker, name, level);

    if (t && tw_connect(t, IT_SHORT_MS) != 0) {
        tw_free(t);
        return NULL;
    }
    return t;
}

/* [MQTT-3.8.4-6] / [MQTT-3.9.3-1] one SUBACK reason code per filter, in
 * order; the event carries them all. */
static void test_one_subscribe_with_three_filters_gets_three_reason_codes(void)
{
    tw_client *t = connected("multi", LMQ_MQTT_5);
    lmq_subscription subs[3] = {
        {"it/subs/a", -1, 0}, {"it/subs/b/+", -1, 1}, {"it/subs/c/#", -1, 2},
    };

    REQUIRE(t);
    int id = lmq_client_subscribe(t->c, subs, 3, NULL);
    REQUIRE(id > 0);
    tw_event *e = tw_wait_id(t, LMQ_EV_SUBSCRIBED, id, IT_SHORT_MS);
    REQUIRE(e);
    CHECK_INT(e->ev.error, 0);
    REQUIRE(e->ev.n_reasons == 3);
    CHECK_INT(e->reasons[0], 0);
    CHECK_INT(e->reasons[1], 1);
    CHECK_INT(e->reasons[2], 2);
done:
    tw_free(t);
}

/* [MQTT-3.3.4-3] the server puts the Subscription Identifier of the
 * matching subscription on the PUBLISH.  With two overlapping
 * subscriptions it sends either one copy carrying both ids [MQTT-3.3.4-4]
 * or one copy per subscription with its own id [MQTT-3.3.4-5]: either way
 * the ids seen are exactly {7, 9}. */
static void test_messages_carry_the_subscription_identifiers_that_matched(void)
{
    tw_client *sub = connected("subid", LMQ_MQTT_5);
    tw_client *pub = connected("subid-pub", LMQ_MQTT_5);
    lmq_proplist *p7 = lmq_proplist_new(), *p9 = lmq_proplist_new();
    lmq_subscription s1 = {"it/subid/+", -1, 1}, s2 = {"it/subid/#", -1, 1};
    int seen7 = 0, seen9 = 0, other = 0;

    REQUIRE(sub && pub && p7 && p9);
    CHECK_INT(lmq_proplist_add_int(p7, 0x0B, 7), 0);
    CHECK_INT(lmq_proplist_add_int(p9, 0x0B, 9), 0);
    int id1 = lmq_client_subscribe(sub->c, &s1, 1, p7);
    int id2 = lmq_client_subscribe(sub->c, &s2, 1, p9);
    REQUIRE(id1 > 0 && id2 > 0);
    REQUIRE(tw_wait_id(sub, LMQ_EV_SUBSCRIBED, id1, IT_SHORT_MS));
    REQUIRE(tw_wait_id(sub, LMQ_EV_SUBSCRIBED, id2, IT_SHORT_MS));

    CHECK_INT(tw_publish_wait(pub, "it/subid/x", "both", 1, 0, IT_SHORT_MS), 0);
    CHECK_INT(tw_publish_wait(pub, "it/subid/x/y", "hash only", 1, 0, IT_SHORT_MS), 0);

    /* Only it/subid/# matches x/y: exactly the id 9.  It was published
     * last, so every copy of the first message is in by then. */
    tw_event *m = tw_wait_msg(sub, "it/subid/x/y", IT_SHORT_MS);
    REQUIRE(m);
    int64_t v = -1;
    CHECK_INT(lmq_event_prop_int(&m->ev, 0x0B, 0, &v), 1);
    CHECK_INT(v, 9);
    CHECK_INT(lmq_event_prop_int(&m->ev, 0x0B, 1, &v), 0);

    int copies = tw_count_msgs(sub, "it/subid/x");
    CHECK(copies == 1 || copies == 2);
    for (int i = 0; i < sub->n; i++) {
        tw_event *e = &sub->ev[i];
        if (e->ev.type != LMQ_EV_MESSAGE || strcmp(e->topic, "it/subid/x") != 0)
            continue;
        for (int k = 0; lmq_event_prop_int(&e->ev, 0x0B, k, &v) == 1; k++) {
            if (v == 7)
                seen7++;
            else if (v == 9)
                seen9++;
            else
                other++;
        }
    }
    CHECK_INT(seen7, 1);
    CHECK_INT(seen9, 1);
    CHECK_INT(other, 0);
done:
    lmq_proplist_free(p7);
    lmq_proplist_free(p9);
    tw_free(sub);
    tw_free(pub);
}

/* [MQTT-4.8.2] a shared subscription hands each message to one member of
 * the group: two clients in $share/g/... together get every message once,
 * and each gets some. */
static void test_shared_subscription_splits_messages_across_two_clients(void)
{
    enum { N = 40 };
    tw_client *w1 = connected("worker1", LMQ_MQTT_5);
    tw_client *w2 = connected("worker2", LMQ_MQTT_5);
    tw_client *pub = connected("boss", LMQ_MQTT_5);
    int seen[N] = {0};

    REQUIRE(w1 && w2 && pub);
    CHECK_INT(tw_subscribe(w1, "$share/g/it/shared/+", 1, IT_SHORT_MS), 1);
    CHECK_INT(tw_subscribe(w2, "$share/g/it/shared/+", 1, IT_SHORT_MS), 1);
    for (int i = 0; i < N; i++) {
        char payload[16];
        snprintf(payload, sizeof payload, "%d", i);
        CHECK(tw_publish(pub, "it/shared/job", payload, 1, 0) > 0);
    }
    REQUIRE(tw_wait_count(pub, LMQ_EV_PUBLISHED, N, IT_LONG_MS) == N);
    int64_t deadline = tw_now_ms() + IT_LONG_MS;
    while (tw_count(w1, LMQ_EV_MESSAGE) + tw_count(w2, LMQ_EV_MESSAGE) < N &&
           tw_now_ms() < deadline)
        tw_pump(10);
    int n1 = tw_count(w1, LMQ_EV_MESSAGE), n2 = tw_count(w2, LMQ_EV_MESSAGE);
    CHECK_INT(n1 + n2, N);
    CHECK(n1 > 0);
    CHECK(n2 > 0);
    tw_client *ws[2] = {w1, w2};
    for (int k = 0; k < 2; k++)
        for (int i = 0; i < ws[k]->n; i++) {
            tw_event *e = &ws[k]->ev[i];
            if (e->ev.type != LMQ_EV_MESSAGE)
                continue;
            CHECK(strcmp(e->topic, "it/shared/job") == 0);
            int v = atoi((const char *)e->payload);
            if (v >= 0 && v < N)
                seen[v]++;
        }
    for (int i = 0; i < N; i++)
        CHECK_INT(seen[i], 1);
    /* Nothing more trickles in afterwards. */
    CHECK(tw_expect_none(w1, LMQ_EV_MESSAGE, 200));
    CHECK_INT(tw_count(w2, LMQ_EV_MESSAGE), n2);
done:
    tw_free(w1);
    tw_free(w2);
    tw_free(pub);
}

/* [MQTT-3.10.4-2] after the UNSUBACK the server stops sending new messages
 * for that filter.  A marker on a still-subscribed topic, published after
 * the unsubscribed one, proves the broker already had the chance. */
static void unsubscribe_stops_delivery(int level)
{
    tw_client *sub = connected("unsub", level);
    tw_client *pub = connected("unsub-pub", level);
    const char *filters[1] = {"it/unsub/t"};

    REQUIRE(sub && pub);
    CHECK_INT(tw_subscribe(sub, "it/unsub/t", 1, IT_SHORT_MS), 1);
    CHECK_INT(tw_subscribe(sub, "it/unsub/marker", 1, IT_SHORT_MS), 1);
    CHECK_INT(tw_publish_wait(pub, "it/unsub/t", "before", 1, 0, IT_SHORT_MS), 0);
    REQUIRE(tw_wait_msg(sub, "it/unsub/t", IT_SHORT_MS));

    int id = lmq_client_unsubscribe(sub->c, filters, NULL, 1, NULL);
    REQUIRE(id > 0);
    tw_event *u = tw_wait_id(sub, LMQ_EV_UNSUBSCRIBED, id, IT_SHORT_MS);
    REQUIRE(u);
    CHECK_INT(u->ev.error, 0);
    if (level == LMQ_MQTT_5) {
        /* One reason code per filter (section 3.11.3): 0x00 Success. */
        CHECK_INT(u->ev.n_reasons, 1);
        CHECK(u->ev.n_reasons == 1 && u->reasons[0] == 0);
    }

    CHECK_INT(tw_publish_wait(pub, "it/unsub/t", "after", 1, 0, IT_SHORT_MS), 0);
    CHECK_INT(tw_publish_wait(pub, "it/unsub/marker", "m", 1, 0, IT_SHORT_MS), 0);
    REQUIRE(tw_wait_msg(sub, "it/unsub/marker", IT_SHORT_MS));
    CHECK_INT(tw_count_msgs(sub, "it/unsub/t"), 1);
done:
    tw_free(sub);
    tw_free(pub);
}

static void test_unsubscribe_stops_delivery_with_mqtt_311(void)
{
    unsubscribe_stops_delivery(LMQ_MQTT_311);
}

static void test_unsubscribe_stops_delivery_with_mqtt_5(void)
{
    unsubscribe_stops_delivery(LMQ_MQTT_5);
}

int main(void)
{
    broker = tb_broker_start(NULL);
    if (!broker)
        return 1;
    RUN(test_one_subscribe_with_three_filters_gets_three_reason_codes);
    RUN(test_messages_carry_the_subscription_identifiers_that_matched);
    RUN(test_shared_subscription_splits_messages_across_two_clients);
    RUN(test_unsubscribe_stops_delivery_with_mqtt_311);
    RUN(test_unsubscribe_stops_delivery_with_mqtt_5);
    if (check_tests_failed)
        tb_broker_dump_log(broker);
    tb_broker_stop(broker);
    return check_done();
}
