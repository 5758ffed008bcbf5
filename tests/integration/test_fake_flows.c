/*
 * test_fake_flows.c - well-behaved but exact exchanges with the scripted
 * fake broker, where the bytes on the wire are the thing to prove: the
 * server's Receive Maximum, topic aliases both ways, resending in-flight
 * messages after a reconnect.
 */
#include "itest.h"

static int send_ack(tf_fake *f, int type, uint16_t id)
{
    lmq_packet p;

    memset(&p, 0, sizeof p);
    p.type = (uint8_t)type;
    if (type == LMQ_PUBREL)
        p.flags = 2;
    p.u.ack.packet_id = id;
    return tf_fake_send_packet(f, &p, LMQ_MQTT_5);
}

/* [MQTT-3.3.4-7] with Receive Maximum 2 the client has at most two QoS 1
 * PUBLISH unacknowledged; each PUBACK lets exactly one more out. */
static void test_client_sends_no_more_than_the_servers_receive_maximum(void)
{
    enum { N = 5 };
    tf_fake *f = tf_fake_new();
    tw_client *t = NULL;
    tf_packet p = {0};
    lmq_props props;
    uint16_t ids[N];

    REQUIRE(f);
    t = it_fake_client(f, "rm", LMQ_MQTT_5);
    REQUIRE(t);
    memset(&props, 0, sizeof props);
    props.receive_maximum = 2;
    lmq_props_set(&props, LMQ_PROP_RECEIVE_MAXIMUM);
    REQUIRE(it_fake_handshake(f, t, LMQ_MQTT_5, &props) == 0);

    for (int i = 0; i < N; i++)
        CHECK(tw_publish(t, "fake/rm", "m", 1, 0) > 0);
    for (int i = 0; i < 2; i++) {
        REQUIRE(tf_fake_expect(f, LMQ_PUBLISH, IT_SHORT_MS, &p) == 0);
        ids[i] = p.pkt.u.publish.packet_id;
    }
    /* The third stays back while two are in flight. */
    CHECK_INT(tf_fake_expect_silence(f, 300, NULL), 0);
    for (int i = 2; i < N; i++) {
        REQUIRE(send_ack(f, LMQ_PUBACK, ids[i - 2]) == 0);
        REQUIRE(tf_fake_expect(f, LMQ_PUBLISH, IT_SHORT_MS, &p) == 0);
        ids[i] = p.pkt.u.publish.packet_id;
        CHECK_INT(tf_fake_expect_silence(f, 100, NULL), 0);
    }
    REQUIRE(send_ack(f, LMQ_PUBACK, ids[N - 2]) == 0);
    REQUIRE(send_ack(f, LMQ_PUBACK, ids[N - 1]) == 0);
    CHECK_INT(tw_wait_count(t, LMQ_EV_PUBLISHED, N, IT_SHORT_MS), N);
    for (int i = 0; i < t->n; i++)
        if (t->ev[i].ev.type == LMQ_EV_PUBLISHED)
            CHECK_INT(t->ev[i].ev.error, 0);
done:
    tf_packet_clear(&p);
    tw_free(t);
    tf_fake_free(f);
}

/* With the server's Topic Alias Maximum 2 the client may alias: a topic
 * goes out once with its name and an alias, then as the alias alone (an
 * empty topic name).  Aliases stay in 1..2 [MQTT-3.3.2-8] [MQTT-3.3.2-9]. */
static void test_repeated_topic_goes_out_as_an_alias(void)
{
    tf_fake *f = tf_fake_new();
    tw_client *t = NULL;
    tf_packet first = {0}, second = {0};
    lmq_props props;

    REQUIRE(f);
    t = it_fake_client(f, "alias-out", LMQ_MQTT_5);
    REQUIRE(t);
    CHECK_INT(lmq_client_set_int(t->c, LMQ_OPT_TOPIC_ALIAS_OUT, 1), 0);
    memset(&props, 0, sizeof props);
    props.topic_alias_maximum = 2;
    lmq_props_set(&props, LMQ_PROP_TOPIC_ALIAS_MAXIMUM);
    REQUIRE(it_fake_handshake(f, t, LMQ_MQTT_5, &props) == 0);

    CHECK(tw_publish(t, "fake/alias/topic", "1", 0, 0) > 0);
    CHECK(tw_publish(t, "fake/alias/topic", "2", 0, 0) > 0);
    REQUIRE(tf_fake_expect(f, LMQ_PUBLISH, IT_SHORT_MS, &first) == 0);
    REQUIRE(tf_fake_expect(f, LMQ_PUBLISH, IT_SHORT_MS, &second) == 0);
    REQUIRE(first.decode_rc == 0 && second.decode_rc == 0);

    const lmq_publish *a = &first.pkt.u.publish, *b = &second.pkt.u.publish;
    CHECK(a->topic.n == 16 && memcmp(a->topic.p, "fake/alias/topic", 16) == 0);
    CHECK(lmq_props_has(&a->props, LMQ_PROP_TOPIC_ALIAS));
    CHECK(a->props.topic_alias >= 1 && a->props.topic_alias <= 2);
    CHECK_INT(b->topic.n, 0);
    CHECK(lmq_props_has(&b->props, LMQ_PROP_TOPIC_ALIAS));
    CHECK_INT(b->props.topic_alias, a->props.topic_alias);
done:
    tf_packet_clear(&first);
    tf_packet_clear(&second);
    tw_free(t);
    tf_fake_free(f);
}

/* No Topic Alias Maximum in CONNACK means 0: the client sends no alias
 * at all [MQTT-3.3.2-9]. */
static void test_no_alias_is_sent_when_the_server_allows_none(void)
{
    tf_fake *f = tf_fake_new();
    tw_client *t = NULL;
    tf_packet p = {0};

    REQUIRE(f);
    t = it_fake_client(f, "alias-none", LMQ_MQTT_5);
    REQUIRE(t);
    CHECK_INT(lmq_client_set_int(t->c, LMQ_OPT_TOPIC_ALIAS_OUT, 1), 0);
    REQUIRE(it_fake_handshake(f, t, LMQ_MQTT_5, NULL) == 0);
    for (int i = 0; i < 3; i++)
        CHECK(tw_publish(t, "fake/alias/none", "x", 0, 0) > 0);
    for (int i = 0; i < 3; i++) {
        REQUIRE(tf_fake_expect(f, LMQ_PUBLISH, IT_SHORT_MS, &p) == 0);
        CHECK(!lmq_props_has(&p.pkt.u.publish.props, LMQ_PROP_TOPIC_ALIAS));
        CHECK_INT(p.pkt.u.publish.topic.n, 15);
    }
done:
    tf_packet_clear(&p);
    tw_free(t);
    tf_fake_free(f);
}

static int send_publish(tf_fake *f, const char *topic, int alias, const char *payload,
                        int qos, uint16_t id)
{
    lmq_packet p;

    memset(&p, 0, sizeof p);
    p.type = LMQ_PUBLISH;
    p.flags = (uint8_t)(qos << 1);
    p.u.publish.qos = (uint8_t)qos;
    p.u.publish.packet_id = id;
    p.u.publish.topic.p = (const uint8_t *)topic;
    p.u.publish.topic.n = (uint32_t)strlen(topic);
    p.u.publish.payload.p = (const uint8_t *)payload;
    p.u.publish.payload.n = (uint32_t)strlen(payload);
    if (alias > 0) {
        p.u.publish.props.topic_alias = (uint16_t)alias;
        lmq_props_set(&p.u.publish.props, LMQ_PROP_TOPIC_ALIAS);
    }
    return tf_fake_send_packet(f, &p, LMQ_MQTT_5);
}

/* [MQTT-3.3.2-10] the client accepts aliases up to the maximum it sent
 * and resolves an alias-only PUBLISH to the topic the alias was set to;
 * a new topic with the same alias re-maps it. */
static void test_incoming_topic_alias_resolves_to_its_topic(void)
{
    tf_fake *f = tf_fake_new();
    tw_client *t = NULL;
    tf_packet connect = {0};

    REQUIRE(f);
    t = it_fake_client(f, "alias-in", LMQ_MQTT_5);
    REQUIRE(t);
    CHECK_INT(lmq_client_set_int(t->c, LMQ_OPT_TOPIC_ALIAS_MAXIMUM, 3), 0);
    REQUIRE(it_fake_take_connect(f, t, &connect) == 0);
    /* The maximum goes out in CONNECT. */
    CHECK(connect.decode_rc == 0);
    CHECK(lmq_props_has(&connect.pkt.u.connect.props, LMQ_PROP_TOPIC_ALIAS_MAXIMUM));
    CHECK_INT(connect.pkt.u.connect.props.topic_alias_maximum, 3);
    REQUIRE(tf_fake_send_connack(f, LMQ_MQTT_5, 0, 0, NULL) == 0);
    REQUIRE(tw_wait(t, LMQ_EV_CONNECTED, IT_SHORT_MS));

    REQUIRE(send_publish(f, "fake/in/one", 3, "a", 0, 0) == 0);
    REQUIRE(send_publish(f, "", 3, "b", 0, 0) == 0);
    REQUIRE(send_publish(f, "fake/in/two", 3, "c", 0, 0) == 0);
    REQUIRE(send_publish(f, "", 3, "d", 0, 0) == 0);
    REQUIRE(tw_wait_count(t, LMQ_EV_MESSAGE, 4, IT_SHORT_MS) == 4);
    const char *want[4][2] = {
        {"fake/in/one", "a"}, {"fake/in/one", "b"}, {"fake/in/two", "c"}, {"fake/in/two", "d"},
    };
    for (int k = 0; k < 4; k++) {
        tw_event *m = tw_wait(t, LMQ_EV_MESSAGE, 0);
        REQUIRE(m);
        CHECK(strcmp(m->topic, want[k][0]) == 0);
        CHECK(m->ev.payload_len == 1 && m->payload[0] == want[k][1][0]);
    }
    CHECK_INT(tw_count(t, LMQ_EV_DISCONNECTED), 0);
done:
    tf_packet_clear(&connect);
    tw_free(t);
    tf_fake_free(f);
}

/* Reconnect with Clean Start 0 to a server that kept the session. */
static int reconnect_with_session(tf_fake *f, tw_client *t)
{
    tf_packet connect = {0};
    int rc = -1;

    if (it_fake_take_connect(f, t, &connect) != 0)
        goto out;
    CHECK(connect.decode_rc == 0);
    CHECK_INT(connect.pkt.u.connect.clean, 0);
    if (tf_fake_send_connack(f, LMQ_MQTT_5, 1, 0, NULL) != 0)
        goto out;
    rc = tw_wait(t, LMQ_EV_CONNECTED, IT_SHORT_MS) ? 0 : -1;
out:
    tf_packet_clear(&connect);
    return rc;
}

static tw_client *persistent_fake_client(tf_fake *f, const char *name)
{
    tw_client *t = it_fake_client(f, name, LMQ_MQTT_5);

    if (t) {
        lmq_client_set_int(t->c, LMQ_OPT_CLEAN_START, 0);
        lmq_client_set_int(t->c, LMQ_OPT_SESSION_EXPIRY, 600);
    }
    return t;
}

/* [MQTT-4.4.0-1] after a reconnect with a session present the client
 * resends the unacknowledged PUBLISH with its original packet id and
 * [MQTT-3.3.1-1] DUP set; its completion is reported once. */
static void test_unacked_qos1_publish_is_resent_with_dup_after_reconnect(void)
{
    tf_fake *f = tf_fake_new();
    tw_client *t = NULL;
    tf_packet p1 = {0}, p2 = {0};

    REQUIRE(f);
    t = persistent_fake_client(f, "resend1");
    REQUIRE(t);
    REQUIRE(it_fake_handshake(f, t, LMQ_MQTT_5, NULL) == 0);
    int id = tw_publish(t, "fake/resend", "again", 1, 0);
    REQUIRE(id > 0);
    REQUIRE(tf_fake_expect(f, LMQ_PUBLISH, IT_SHORT_MS, &p1) == 0);
    CHECK_INT(p1.pkt.u.publish.dup, 0);

    tf_fake_close_client(f);
    REQUIRE(tw_wait(t, LMQ_EV_DISCONNECTED, IT_SHORT_MS));
    REQUIRE(reconnect_with_session(f, t) == 0);
    REQUIRE(tf_fake_expect(f, LMQ_PUBLISH, IT_SHORT_MS, &p2) == 0);
    CHECK_INT(p2.pkt.u.publish.dup, 1);
    CHECK_INT(p2.pkt.u.publish.packet_id, p1.pkt.u.publish.packet_id);
    CHECK(p2.pkt.u.publish.payload.n == 5 &&
          memcmp(p2.pkt.u.publish.payload.p, "again", 5) == 0);
    CHECK_INT(tw_count(t, LMQ_EV_PUBLISHED), 0);
    REQUIRE(send_ack(f, LMQ_PUBACK, p2.pkt.u.publish.packet_id) == 0);
    tw_event *e = tw_wait_id(t, LMQ_EV_PUBLISHED, id, IT_SHORT_MS);
    CHECK(e && e->ev.error == 0);
    CHECK(tw_expect_none(t, LMQ_EV_PUBLISHED, 100));
done:
    tf_packet_clear(&p1);
    tf_packet_clear(&p2);
    tw_free(t);
    tf_fake_free(f);
}

/* [MQTT-4.4.0-1] a QoS 2 message already PUBREC'd resumes with PUBREL
 * [MQTT-4.3.3-4], never with the PUBLISH again [MQTT-4.3.3-6]. */
static void test_qos2_after_pubrec_resumes_with_pubrel_after_reconnect(void)
{
    tf_fake *f = tf_fake_new();
    tw_client *t = NULL;
    tf_packet p = {0}, rel = {0};

    REQUIRE(f);
    t = persistent_fake_client(f, "resend2");
    REQUIRE(t);
    REQUIRE(it_fake_handshake(f, t, LMQ_MQTT_5, NULL) == 0);
    int id = tw_publish(t, "fake/resend2", "once", 2, 0);
    REQUIRE(id > 0);
    REQUIRE(tf_fake_expect(f, LMQ_PUBLISH, IT_SHORT_MS, &p) == 0);
    uint16_t pid = p.pkt.u.publish.packet_id;
    REQUIRE(send_ack(f, LMQ_PUBREC, pid) == 0);
    REQUIRE(tf_fake_expect(f, LMQ_PUBREL, IT_SHORT_MS, &rel) == 0);

    tf_fake_close_client(f);
    REQUIRE(tw_wait(t, LMQ_EV_DISCONNECTED, IT_SHORT_MS));
    REQUIRE(reconnect_with_session(f, t) == 0);
    tf_packet_clear(&rel);
    tf_packet_clear(&p);
    int type = tf_fake_read(f, IT_SHORT_MS, &p);
    while (type == LMQ_PINGREQ)
        type = tf_fake_read(f, IT_SHORT_MS, &p);
    CHECK_INT(type, LMQ_PUBREL);
    CHECK_INT(p.pkt.u.ack.packet_id, pid);
    REQUIRE(send_ack(f, LMQ_PUBCOMP, pid) == 0);
    tw_event *e = tw_wait_id(t, LMQ_EV_PUBLISHED, id, IT_SHORT_MS);
    CHECK(e && e->ev.error == 0);
done:
    tf_packet_clear(&p);
    tf_packet_clear(&rel);
    tw_free(t);
    tf_fake_free(f);
}

/* The client answers an incoming QoS 2 PUBLISH with PUBREC, delivers it
 * once even when the server resends it with DUP before PUBREL
 * [MQTT-4.3.3-10], and completes with PUBCOMP. */
static void test_resent_qos2_publish_before_pubrel_is_delivered_once(void)
{
    tf_fake *f = tf_fake_new();
    tw_client *t = NULL;
    tf_packet p = {0};
    /* PUBLISH QoS 2 "fake/q2" id 7, no properties, payload "z"; then the
     * same with DUP. */
    static const uint8_t pub[] = {0x34, 0x0D, 0x00, 0x07, 'f', 'a', 'k', 'e', '/', 'q', '2',
                                  0x00, 0x07, 0x00, 'z'};
    static const uint8_t dup[] = {0x3C, 0x0D, 0x00, 0x07, 'f', 'a', 'k', 'e', '/', 'q', '2',
                                  0x00, 0x07, 0x00, 'z'};

    REQUIRE(f);
    t = it_fake_client(f, "q2in", LMQ_MQTT_5);
    REQUIRE(t);
    REQUIRE(it_fake_handshake(f, t, LMQ_MQTT_5, NULL) == 0);
    REQUIRE(tf_fake_send(f, pub, sizeof pub) == 0);
    REQUIRE(tf_fake_expect(f, LMQ_PUBREC, IT_SHORT_MS, &p) == 0);
    CHECK_INT(p.pkt.u.ack.packet_id, 7);
    REQUIRE(tf_fake_send(f, dup, sizeof dup) == 0);
    REQUIRE(tf_fake_expect(f, LMQ_PUBREC, IT_SHORT_MS, &p) == 0);
    CHECK_INT(p.pkt.u.ack.packet_id, 7);
    REQUIRE(send_ack(f, LMQ_PUBREL, 7) == 0);
    REQUIRE(tf_fake_expect(f, LMQ_PUBCOMP, IT_SHORT_MS, &p) == 0);
    CHECK_INT(p.pkt.u.ack.packet_id, 7);
    CHECK_INT(tw_count_msgs(t, "fake/q2"), 1);
done:
    tf_packet_clear(&p);
    tw_free(t);
    tf_fake_free(f);
}

/* The record of a QoS 2 message received and PUBREC'd but not yet
 * released is session state, kept after the connection closes when the
 * Session Expiry Interval is above 0 [MQTT-3.1.2-23].
 * After a reconnect with the session present, the server resends the
 * PUBLISH (DUP); the client answers PUBREC again and does not deliver it a
 * second time [MQTT-4.3.3-10]. */
static void test_qos2_received_before_a_reconnect_is_not_delivered_twice(void)
{
    tf_fake *f = tf_fake_new();
    tw_client *t = NULL;
    tf_packet p = {0};
    static const uint8_t pub[] = {0x34, 0x0D, 0x00, 0x07, 'f', 'a', 'k', 'e', '/', 'q', '2',
                                  0x00, 0x07, 0x00, 'z'};
    static const uint8_t dup[] = {0x3C, 0x0D, 0x00, 0x07, 'f', 'a', 'k', 'e', '/', 'q', '2',
                                  0x00, 0x07, 0x00, 'z'};

    REQUIRE(f);
    t = persistent_fake_client(f, "q2keep");
    REQUIRE(t);
    REQUIRE(it_fake_handshake(f, t, LMQ_MQTT_5, NULL) == 0);
    REQUIRE(tf_fake_send(f, pub, sizeof pub) == 0);
    REQUIRE(tf_fake_expect(f, LMQ_PUBREC, IT_SHORT_MS, &p) == 0);
    CHECK_INT(tw_wait_count(t, LMQ_EV_MESSAGE, 1, IT_SHORT_MS), 1);

    tf_fake_close_client(f);
    REQUIRE(tw_wait(t, LMQ_EV_DISCONNECTED, IT_SHORT_MS));
    REQUIRE(reconnect_with_session(f, t) == 0);
    REQUIRE(tf_fake_send(f, dup, sizeof dup) == 0);
    REQUIRE(tf_fake_expect(f, LMQ_PUBREC, IT_SHORT_MS, &p) == 0);
    CHECK_INT(p.pkt.u.ack.packet_id, 7);
    REQUIRE(send_ack(f, LMQ_PUBREL, 7) == 0);
    REQUIRE(tf_fake_expect(f, LMQ_PUBCOMP, IT_SHORT_MS, &p) == 0);
    CHECK_INT(p.pkt.u.ack.packet_id, 7);
    CHECK_INT(tw_count_msgs(t, "fake/q2"), 1);
done:
    tf_packet_clear(&p);
    tw_free(t);
    tf_fake_free(f);
}

/* With LMQ_OPT_MANUAL_ACK the PUBACK waits for lmq_client_ack() and
 * carries the reason the application gave (v5): the ack is the
 * application's promise that it has the message [MQTT-4.3.2-4]. */
static void test_manual_ack_holds_the_puback_until_the_application_acks(void)
{
    tf_fake *f = tf_fake_new();
    tw_client *t = NULL;
    tf_packet p = {0};
    /* PUBLISH QoS 1 "fake/m" ids 9 and 10, no properties, payload "m". */
    static const uint8_t pub9[] = {0x32, 0x0C, 0x00, 0x06, 'f', 'a', 'k', 'e', '/', 'm',
                                   0x00, 0x09, 0x00, 'm'};
    static const uint8_t pub10[] = {0x32, 0x0C, 0x00, 0x06, 'f', 'a', 'k', 'e', '/', 'm',
                                    0x00, 0x0A, 0x00, 'm'};

    REQUIRE(f);
    t = it_fake_client(f, "manual", LMQ_MQTT_5);
    REQUIRE(t);
    CHECK_INT(lmq_client_set_int(t->c, LMQ_OPT_MANUAL_ACK, 1), 0);
    REQUIRE(it_fake_handshake(f, t, LMQ_MQTT_5, NULL) == 0);

    REQUIRE(tf_fake_send(f, pub9, sizeof pub9) == 0);
    tw_event *m = tw_wait(t, LMQ_EV_MESSAGE, IT_SHORT_MS);
    REQUIRE(m);
    CHECK(m->ev.ack_id > 0);
    CHECK_INT(tf_fake_expect_silence(f, 200, NULL), 0);
    CHECK_INT(lmq_client_ack(t->c, m->ev.ack_id, 0), 0);
    REQUIRE(tf_fake_expect(f, LMQ_PUBACK, IT_SHORT_MS, &p) == 0);
    CHECK_INT(p.pkt.u.ack.packet_id, 9);
    CHECK_INT(p.pkt.u.ack.reason, 0);

    /* A refusal: PUBACK with the application's reason code. */
    REQUIRE(tf_fake_send(f, pub10, sizeof pub10) == 0);
    m = tw_wait(t, LMQ_EV_MESSAGE, IT_SHORT_MS);
    REQUIRE(m);
    CHECK_INT(lmq_client_ack(t->c, m->ev.ack_id, 0x80), 0);
    REQUIRE(tf_fake_expect(f, LMQ_PUBACK, IT_SHORT_MS, &p) == 0);
    CHECK_INT(p.pkt.u.ack.packet_id, 10);
    CHECK_INT(p.pkt.u.ack.reason, 0x80);
    /* An ack_id is good once. */
    CHECK(lmq_client_ack(t->c, m->ev.ack_id, 0) < 0);
    CHECK_INT(tw_count(t, LMQ_EV_DISCONNECTED), 0);
done:
    tf_packet_clear(&p);
    tw_free(t);
    tf_fake_free(f);
}

int main(void)
{
    RUN(test_client_sends_no_more_than_the_servers_receive_maximum);
    RUN(test_repeated_topic_goes_out_as_an_alias);
    RUN(test_no_alias_is_sent_when_the_server_allows_none);
    RUN(test_incoming_topic_alias_resolves_to_its_topic);
    RUN(test_unacked_qos1_publish_is_resent_with_dup_after_reconnect);
    RUN(test_qos2_after_pubrec_resumes_with_pubrel_after_reconnect);
    RUN(test_resent_qos2_publish_before_pubrel_is_delivered_once);
    RUN(test_qos2_received_before_a_reconnect_is_not_delivered_twice);
    RUN(test_manual_ack_holds_the_puback_until_the_application_acks);
    return check_done();
}
