/*
 * test_adversarial.c - the client against a server that breaks the rules,
 * byte by byte from the scripted fake broker.
 *
 * For each violation the client must: close the connection, having sent
 * (MQTT 5) a DISCONNECT whose reason code names the problem (0x81
 * malformed, 0x82 protocol error, 0x93 receive maximum exceeded, 0x94
 * topic alias invalid, 0x95 packet too large) [MQTT-4.13.1-1]; report
 * the error in an event; and carry on: the same client then connects to
 * a well-behaved server.  An MQTT 3.1.1 client just closes: a 3.1.1
 * DISCONNECT means "normal close, drop my will", which a failure is not.
 * An ack for a packet id not in flight is not such a violation here: it
 * is ignored, logged and counted (the stray_acks tests).
 */
#include "itest.h"

static const uint8_t connack5_ok[] = {0x20, 0x03, 0x00, 0x00, 0x00};

/* The client closed as described above, reported `error` in an event of
 * `type`, and then connects again to a good server. */
static void expect_close_then_recovery(tf_fake *f, tw_client *t, int level, int reason,
                                       int error, int type)
{
    int got = -2;

    CHECK_INT(tf_fake_wait_close(f, IT_SHORT_MS, &got), 0);
    if (level == LMQ_MQTT_5)
        CHECK_INT(got, reason);
    else
        CHECK_INT(got, -1);
    tw_event *e = tw_wait(t, type, IT_SHORT_MS);
    CHECK(e != NULL);
    if (e) {
        if (e->ev.error != error)
            fprintf(stderr, "event error %s, expected %s\n", lmq_errname(e->ev.error),
                    lmq_errname(error));
        CHECK_INT(e->ev.error, error);
    }

    CHECK_INT(it_fake_handshake(f, t, level, NULL), 0);
    CHECK(tw_publish(t, "after/recovery", "ok", 0, 0) > 0);
    /* Whatever the client replays first on the new connection (a
     * resubscription), the publish follows. */
    tf_packet p = {0};
    int got_type;
    do
        got_type = tf_fake_read(f, IT_SHORT_MS, &p);
    while (got_type > 0 && got_type != LMQ_PUBLISH);
    CHECK_INT(got_type, LMQ_PUBLISH);
    tf_packet_clear(&p);
}

/* A fake and a client that has sent its CONNECT (not yet answered). */
static int setup(tf_fake **f, tw_client **t, const char *name, int level)
{
    *f = tf_fake_new();
    *t = *f ? it_fake_client(*f, name, level) : NULL;
    return *t ? 0 : -1;
}

static void teardown(tf_fake *f, tw_client *t)
{
    tw_free(t);
    tf_fake_free(f);
}

/* ------------------------------------------------------------- CONNACK */

/* [MQTT-3.2.2-1] the CONNACK acknowledge flags' bits 7-1 are reserved
 * and must be 0: one set makes the packet malformed. */
static void connack_with_reserved_flag(int level)
{
    tf_fake *f;
    tw_client *t;
    static const uint8_t bad5[] = {0x20, 0x03, 0x02, 0x00, 0x00};
    static const uint8_t bad4[] = {0x20, 0x02, 0x02, 0x00};

    REQUIRE(setup(&f, &t, "resflags", level) == 0);
    REQUIRE(it_fake_take_connect(f, t, NULL) == 0);
    if (level == LMQ_MQTT_5)
        REQUIRE(tf_fake_send(f, bad5, sizeof bad5) == 0);
    else
        REQUIRE(tf_fake_send(f, bad4, sizeof bad4) == 0);
    expect_close_then_recovery(f, t, level, 0x81, LMQ_EMAL_ACK_FLAGS, LMQ_EV_CONNECT_FAILED);
done:
    teardown(f, t);
}

static void test_connack_with_a_reserved_flag_is_malformed_v5(void)
{
    connack_with_reserved_flag(LMQ_MQTT_5);
}

static void test_connack_with_a_reserved_flag_is_malformed_v311(void)
{
    connack_with_reserved_flag(LMQ_MQTT_311);
}

/* A server sends one CONNACK per connection: a second one is a protocol
 * error. */
static void test_second_connack_is_a_protocol_error(void)
{
    tf_fake *f;
    tw_client *t;

    REQUIRE(setup(&f, &t, "twice", LMQ_MQTT_5) == 0);
    REQUIRE(it_fake_handshake(f, t, LMQ_MQTT_5, NULL) == 0);
    REQUIRE(tf_fake_send(f, connack5_ok, sizeof connack5_ok) == 0);
    expect_close_then_recovery(f, t, LMQ_MQTT_5, 0x82, LMQ_EPROTOCOL, LMQ_EV_DISCONNECTED);
done:
    teardown(f, t);
}

/* [MQTT-3.2.2-4] a client without session state (clean start) that gets
 * Session Present 1 must close the connection. */
static void test_session_present_after_a_clean_start_closes_the_connection(void)
{
    tf_fake *f;
    tw_client *t;
    static const uint8_t sp[] = {0x20, 0x03, 0x01, 0x00, 0x00};

    REQUIRE(setup(&f, &t, "sp", LMQ_MQTT_5) == 0);
    REQUIRE(it_fake_take_connect(f, t, NULL) == 0);
    REQUIRE(tf_fake_send(f, sp, sizeof sp) == 0);
    expect_close_then_recovery(f, t, LMQ_MQTT_5, 0x82, LMQ_EPROTOCOL, LMQ_EV_CONNECT_FAILED);
done:
    teardown(f, t);
}

/* A refusal is not a violation: the event carries the server's reason and
 * the client sends nothing back; the server closes. */
static void refused(int level, uint8_t code)
{
    tf_fake *f;
    tw_client *t;
    uint8_t no5[] = {0x20, 0x03, 0x00, code, 0x00};
    uint8_t no4[] = {0x20, 0x02, 0x00, code};
    tf_packet p = {0};

    REQUIRE(setup(&f, &t, "refused", level) == 0);
    REQUIRE(it_fake_take_connect(f, t, NULL) == 0);
    if (level == LMQ_MQTT_5)
        REQUIRE(tf_fake_send(f, no5, sizeof no5) == 0);
    else
        REQUIRE(tf_fake_send(f, no4, sizeof no4) == 0);
    tw_event *e = tw_wait(t, LMQ_EV_CONNECT_FAILED, IT_SHORT_MS);
    REQUIRE(e);
    CHECK_INT(e->ev.error, LMQ_EREFUSED);
    CHECK_INT(e->ev.reason, code);
    /* Nothing follows a refusal from the client. */
    CHECK(tf_fake_read(f, 200, &p) < 0);
    tf_fake_close_client(f);
    CHECK_INT(it_fake_handshake(f, t, level, NULL), 0);
done:
    tf_packet_clear(&p);
    teardown(f, t);
}

static void test_refused_connack_reports_the_reason_v5(void)
{
    refused(LMQ_MQTT_5, 0x87);
}

static void test_refused_connack_reports_the_return_code_v311(void)
{
    refused(LMQ_MQTT_311, 0x05);
}

/* ----------------------------------------------------------------- acks */

/*
 * Acknowledgements for packet ids the client has nothing in flight under
 * (what mosquitto's client tests 03-publish-b2c-qos1-unexpected-puback and
 * -qos2-unexpected-pubcomp check): ignored, logged and counted, at every
 * level; the client stays connected and keeps pinging.  A stray PUBREC is
 * answered with PUBREL (0x92 at v5) so the server's flow ends.
 */
static void stray_acks(int level)
{
    tf_fake *f;
    tw_client *t;
    tf_packet p = {0};
    static const uint8_t puback[] = {0x40, 0x02, 0x12, 0x34};
    static const uint8_t pubcomp[] = {0x70, 0x02, 0x12, 0x35};
    static const uint8_t pubrec[] = {0x50, 0x02, 0x12, 0x36};
    static const uint8_t suback4[] = {0x90, 0x03, 0x12, 0x37, 0x00};
    static const uint8_t suback5[] = {0x90, 0x04, 0x12, 0x37, 0x00, 0x00};
    static const uint8_t unsuback4[] = {0xB0, 0x02, 0x12, 0x38};
    static const uint8_t unsuback5[] = {0xB0, 0x04, 0x12, 0x38, 0x00, 0x00};
    static const uint8_t pingresp[] = {0xD0, 0x00};

    REQUIRE(setup(&f, &t, "stray-acks", level) == 0);
    lmq_client_set_int(t->c, LMQ_OPT_KEEPALIVE, 1);
    REQUIRE(it_fake_handshake(f, t, level, NULL) == 0);
    REQUIRE(tf_fake_send(f, puback, sizeof puback) == 0);
    REQUIRE(tf_fake_send(f, pubcomp, sizeof pubcomp) == 0);
    REQUIRE(tf_fake_send(f, pubrec, sizeof pubrec) == 0);
    if (level == LMQ_MQTT_5) {
        REQUIRE(tf_fake_send(f, suback5, sizeof suback5) == 0);
        REQUIRE(tf_fake_send(f, unsuback5, sizeof unsuback5) == 0);
    } else {
        REQUIRE(tf_fake_send(f, suback4, sizeof suback4) == 0);
        REQUIRE(tf_fake_send(f, unsuback4, sizeof unsuback4) == 0);
    }
    /* the stray PUBREC gets its PUBREL */
    REQUIRE(tf_fake_expect(f, LMQ_PUBREL, IT_SHORT_MS, &p) == 0);
    CHECK_INT(p.pkt.u.ack.packet_id, 0x1236);
    if (level == LMQ_MQTT_5)
        CHECK_INT(p.pkt.u.ack.reason, 0x92);
    tf_packet_clear(&p);
    /* then the keepalive, not a DISCONNECT: still connected */
    CHECK_INT(tf_fake_read(f, IT_SHORT_MS, &p), LMQ_PINGREQ);
    tf_packet_clear(&p);
    REQUIRE(tf_fake_send(f, pingresp, sizeof pingresp) == 0);
    CHECK_INT(tw_count(t, LMQ_EV_DISCONNECTED), 0);
    /* and works: a QoS 1 publish completes */
    int id = tw_publish(t, "after/stray", "ok", 1, 0);
    CHECK(id > 0);
    REQUIRE(tf_fake_expect(f, LMQ_PUBLISH, IT_SHORT_MS, &p) == 0);
    uint8_t ack[] = {0x40, 0x02, (uint8_t)(p.pkt.u.publish.packet_id >> 8),
                     (uint8_t)p.pkt.u.publish.packet_id};
    tf_packet_clear(&p);
    REQUIRE(tf_fake_send(f, ack, sizeof ack) == 0);
    tw_event *e = tw_wait_id(t, LMQ_EV_PUBLISHED, id, IT_SHORT_MS);
    CHECK(e && e->ev.error == 0);
    lmq_backlog b;
    CHECK_INT(lmq_client_backlog(t->c, &b, sizeof b), 0);
    CHECK_INT((int)b.stray_acks, 5);
    CHECK_INT(b.incomplete_msgs, 0);
done:
    tf_packet_clear(&p);
    teardown(f, t);
}

static void test_stray_acks_are_ignored_and_the_client_keeps_pinging_v5(void)
{
    stray_acks(LMQ_MQTT_5);
}

static void test_stray_acks_are_ignored_and_the_client_keeps_pinging_v311(void)
{
    stray_acks(LMQ_MQTT_311);
}

/* [MQTT-3.8.4-6] [MQTT-3.9.3-1] a SUBACK has one reason code per filter
 * of its SUBSCRIBE: one code for two filters is a protocol error. */
static void test_suback_with_the_wrong_number_of_codes_is_a_protocol_error(void)
{
    tf_fake *f;
    tw_client *t;
    tf_packet sub = {0};
    lmq_subscription subs[2] = {{"a/b", -1, 0}, {"c/d", -1, 1}};

    REQUIRE(setup(&f, &t, "suback", LMQ_MQTT_5) == 0);
    REQUIRE(it_fake_handshake(f, t, LMQ_MQTT_5, NULL) == 0);
    int id = lmq_client_subscribe(t->c, subs, 2, NULL);
    REQUIRE(id > 0);
    REQUIRE(tf_fake_expect(f, LMQ_SUBSCRIBE, IT_SHORT_MS, &sub) == 0);
    uint16_t pid = sub.pkt.u.subscribe.packet_id;
    uint8_t suback[] = {0x90, 0x04, (uint8_t)(pid >> 8), (uint8_t)pid, 0x00, 0x00};
    REQUIRE(tf_fake_send(f, suback, sizeof suback) == 0);
    expect_close_then_recovery(f, t, LMQ_MQTT_5, 0x82, LMQ_EPROTOCOL, LMQ_EV_DISCONNECTED);
    /* The subscription was not reported as granted. */
    for (int i = 0; i < t->n; i++)
        if (t->ev[i].ev.type == LMQ_EV_SUBSCRIBED && t->ev[i].ev.msg_id == id)
            CHECK(t->ev[i].ev.error != 0);
done:
    tf_packet_clear(&sub);
    teardown(f, t);
}

/* ------------------------------------------------------------- PUBLISH */

/* [MQTT-3.3.1-4] QoS 3 does not exist: malformed. */
static void publish_with_qos_3(int level)
{
    tf_fake *f;
    tw_client *t;
    static const uint8_t q3v5[] = {0x36, 0x09, 0x00, 0x03, 'a', '/', 'b', 0x00, 0x01, 0x00, 'x'};
    static const uint8_t q3v4[] = {0x36, 0x08, 0x00, 0x03, 'a', '/', 'b', 0x00, 0x01, 'x'};

    REQUIRE(setup(&f, &t, "qos3", level) == 0);
    REQUIRE(it_fake_handshake(f, t, level, NULL) == 0);
    if (level == LMQ_MQTT_5)
        REQUIRE(tf_fake_send(f, q3v5, sizeof q3v5) == 0);
    else
        REQUIRE(tf_fake_send(f, q3v4, sizeof q3v4) == 0);
    expect_close_then_recovery(f, t, level, 0x81, LMQ_EMAL_QOS, LMQ_EV_DISCONNECTED);
    CHECK_INT(tw_count(t, LMQ_EV_MESSAGE), 0);
done:
    teardown(f, t);
}

static void test_publish_with_qos_3_is_malformed_v5(void)
{
    publish_with_qos_3(LMQ_MQTT_5);
}

static void test_publish_with_qos_3_is_malformed_v311(void)
{
    publish_with_qos_3(LMQ_MQTT_311);
}

/* [MQTT-3.3.1-2] DUP must be 0 on a QoS 0 PUBLISH. */
static void test_qos0_publish_with_dup_is_malformed(void)
{
    tf_fake *f;
    tw_client *t;
    static const uint8_t dup0[] = {0x38, 0x07, 0x00, 0x03, 'a', '/', 'b', 0x00, 'x'};

    REQUIRE(setup(&f, &t, "dup0", LMQ_MQTT_5) == 0);
    REQUIRE(it_fake_handshake(f, t, LMQ_MQTT_5, NULL) == 0);
    REQUIRE(tf_fake_send(f, dup0, sizeof dup0) == 0);
    expect_close_then_recovery(f, t, LMQ_MQTT_5, 0x81, LMQ_EMAL_DUP, LMQ_EV_DISCONNECTED);
    CHECK_INT(tw_count(t, LMQ_EV_MESSAGE), 0);
done:
    teardown(f, t);
}

/* [MQTT-3.3.2-10] only aliases 1..our maximum (2) are acceptable: 5 is
 * "Topic Alias invalid" (0x94). */
static void test_incoming_topic_alias_above_our_maximum_is_invalid(void)
{
    tf_fake *f;
    tw_client *t;
    static const uint8_t pub[] = {0x30, 0x0A, 0x00, 0x03, 'a', '/', 'b', 0x03, 0x23, 0x00, 0x05,
                                  'x'};

    REQUIRE(setup(&f, &t, "alias", LMQ_MQTT_5) == 0);
    CHECK_INT(lmq_client_set_int(t->c, LMQ_OPT_TOPIC_ALIAS_MAXIMUM, 2), 0);
    REQUIRE(it_fake_handshake(f, t, LMQ_MQTT_5, NULL) == 0);
    REQUIRE(tf_fake_send(f, pub, sizeof pub) == 0);
    expect_close_then_recovery(f, t, LMQ_MQTT_5, 0x94, LMQ_EALIAS, LMQ_EV_DISCONNECTED);
    CHECK_INT(tw_count(t, LMQ_EV_MESSAGE), 0);
done:
    teardown(f, t);
}

/* [MQTT-3.3.2-8] alias 0 is never sent.  The spec names no reason code
 * for receiving one (0x94's text is about aliases above the maximum), so
 * either 0x94 or 0x82 (protocol error) is a right answer; the connection
 * must close all the same and no message be delivered. */
static void test_incoming_topic_alias_zero_closes_the_connection(void)
{
    tf_fake *f;
    tw_client *t;
    static const uint8_t pub[] = {0x30, 0x0A, 0x00, 0x03, 'a', '/', 'b', 0x03, 0x23, 0x00, 0x00,
                                  'x'};
    int got = -2;

    REQUIRE(setup(&f, &t, "alias0", LMQ_MQTT_5) == 0);
    CHECK_INT(lmq_client_set_int(t->c, LMQ_OPT_TOPIC_ALIAS_MAXIMUM, 2), 0);
    REQUIRE(it_fake_handshake(f, t, LMQ_MQTT_5, NULL) == 0);
    REQUIRE(tf_fake_send(f, pub, sizeof pub) == 0);
    CHECK_INT(tf_fake_wait_close(f, IT_SHORT_MS, &got), 0);
    CHECK(got == 0x94 || got == 0x82);
    tw_event *e = tw_wait(t, LMQ_EV_DISCONNECTED, IT_SHORT_MS);
    CHECK(e && (e->ev.error == LMQ_EALIAS || e->ev.error == LMQ_EMAL_PROP_VALUE));
    CHECK_INT(tw_count(t, LMQ_EV_MESSAGE), 0);
    CHECK_INT(it_fake_handshake(f, t, LMQ_MQTT_5, NULL), 0);
done:
    teardown(f, t);
}

/* Our Maximum Packet Size (64) goes out in CONNECT; a server packet over
 * it is "packet too large" [MQTT-3.1.2-24], refused from its fixed header
 * on, before the body is buffered. */
static void test_packet_over_our_maximum_packet_size_is_too_large(void)
{
    tf_fake *f;
    tw_client *t;
    tf_packet connect = {0};
    uint8_t big[2 + 106];

    memset(big, 'x', sizeof big);
    big[0] = 0x30;
    big[1] = 106;               /* 2 + 3 topic + 1 properties + 100 payload */
    big[2] = 0x00;
    big[3] = 0x03;
    memcpy(big + 4, "a/b", 3);
    big[7] = 0x00;

    REQUIRE(setup(&f, &t, "toobig", LMQ_MQTT_5) == 0);
    CHECK_INT(lmq_client_set_int(t->c, LMQ_OPT_MAXIMUM_PACKET_SIZE, 64), 0);
    REQUIRE(it_fake_take_connect(f, t, &connect) == 0);
    CHECK(lmq_props_has(&connect.pkt.u.connect.props, LMQ_PROP_MAXIMUM_PACKET_SIZE));
    CHECK_INT(connect.pkt.u.connect.props.maximum_packet_size, 64);
    REQUIRE(tf_fake_send(f, connack5_ok, sizeof connack5_ok) == 0);
    REQUIRE(tw_wait(t, LMQ_EV_CONNECTED, IT_SHORT_MS));
    REQUIRE(tf_fake_send(f, big, sizeof big) == 0);
    expect_close_then_recovery(f, t, LMQ_MQTT_5, 0x95, LMQ_EMAL_TOO_LARGE,
                               LMQ_EV_DISCONNECTED);
    CHECK_INT(tw_count(t, LMQ_EV_MESSAGE), 0);
done:
    tf_packet_clear(&connect);
    teardown(f, t);
}

/* [MQTT-3.3.4-9] with our Receive Maximum 2 and nothing acknowledged yet
 * (manual acks), a third QoS 1 PUBLISH exceeds it: 0x93. */
static void test_server_exceeding_our_receive_maximum_is_disconnected(void)
{
    tf_fake *f;
    tw_client *t;
    uint8_t pubs[3 * 11];

    for (int i = 0; i < 3; i++) {
        uint8_t one[] = {0x32, 0x09, 0x00, 0x03, 'a', '/', 'b', 0x00, (uint8_t)(i + 1), 0x00, 'x'};
        memcpy(pubs + i * 11, one, 11);
    }
    REQUIRE(setup(&f, &t, "rm-in", LMQ_MQTT_5) == 0);
    CHECK_INT(lmq_client_set_int(t->c, LMQ_OPT_RECEIVE_MAXIMUM, 2), 0);
    CHECK_INT(lmq_client_set_int(t->c, LMQ_OPT_STRICT_RECEIVE_MAX, 1), 0);
    CHECK_INT(lmq_client_set_int(t->c, LMQ_OPT_MANUAL_ACK, 1), 0);
    REQUIRE(it_fake_handshake(f, t, LMQ_MQTT_5, NULL) == 0);
    REQUIRE(tf_fake_send(f, pubs, sizeof pubs) == 0);
    expect_close_then_recovery(f, t, LMQ_MQTT_5, 0x93, LMQ_ERECEIVE_MAX,
                               LMQ_EV_DISCONNECTED);
done:
    teardown(f, t);
}

/* A server never sends SUBSCRIBE: a packet only a client sends is a
 * protocol error coming from the server. */
static void test_packet_type_only_a_client_sends_is_a_protocol_error(void)
{
    tf_fake *f;
    tw_client *t;
    static const uint8_t subscribe[] = {0x82, 0x09, 0x00, 0x01, 0x00, 0x00, 0x03, 'a', '/', 'b',
                                        0x00};

    REQUIRE(setup(&f, &t, "direction", LMQ_MQTT_5) == 0);
    REQUIRE(it_fake_handshake(f, t, LMQ_MQTT_5, NULL) == 0);
    REQUIRE(tf_fake_send(f, subscribe, sizeof subscribe) == 0);
    expect_close_then_recovery(f, t, LMQ_MQTT_5, 0x82, LMQ_EMAL_DIRECTION,
                               LMQ_EV_DISCONNECTED);
done:
    teardown(f, t);
}

/* ------------------------------------------------------------- closing */

/* The server hangs up in the middle of a packet: the half packet is
 * dropped (no message), the loss reported, and nothing is sent back since
 * there is nobody to send it to. */
static void test_server_closing_mid_packet_is_reported_as_closed(void)
{
    tf_fake *f;
    tw_client *t;
    static const uint8_t half[] = {0x30, 0x0A, 0x00, 0x03, 'a'};

    REQUIRE(setup(&f, &t, "midpacket", LMQ_MQTT_5) == 0);
    REQUIRE(it_fake_handshake(f, t, LMQ_MQTT_5, NULL) == 0);
    REQUIRE(tf_fake_send(f, half, sizeof half) == 0);
    tf_fake_close_client(f);
    tw_event *e = tw_wait(t, LMQ_EV_DISCONNECTED, IT_SHORT_MS);
    REQUIRE(e);
    CHECK_INT(e->ev.error, LMQ_ECLOSED);
    CHECK_INT(tw_count(t, LMQ_EV_MESSAGE), 0);
    CHECK_INT(it_fake_handshake(f, t, LMQ_MQTT_5, NULL), 0);
done:
    teardown(f, t);
}

/* A server DISCONNECT (v5) is reported with its reason code. */
static void test_server_disconnect_is_reported_with_its_reason(void)
{
    tf_fake *f;
    tw_client *t;
    static const uint8_t bye[] = {0xE0, 0x02, 0x8B, 0x00};   /* 0x8B server shutting down */
    int got = -2;

    REQUIRE(setup(&f, &t, "bye", LMQ_MQTT_5) == 0);
    REQUIRE(it_fake_handshake(f, t, LMQ_MQTT_5, NULL) == 0);
    REQUIRE(tf_fake_send(f, bye, sizeof bye) == 0);
    tw_event *e = tw_wait(t, LMQ_EV_DISCONNECTED, IT_SHORT_MS);
    REQUIRE(e);
    CHECK_INT(e->ev.error, LMQ_EDISCONNECTED);
    CHECK_INT(e->ev.reason, 0x8B);
    /* The client does not answer a DISCONNECT with one. */
    CHECK_INT(tf_fake_wait_close(f, IT_SHORT_MS, &got), 0);
    CHECK_INT(got, -1);
    CHECK_INT(it_fake_handshake(f, t, LMQ_MQTT_5, NULL), 0);
done:
    teardown(f, t);
}

int main(void)
{
    RUN(test_connack_with_a_reserved_flag_is_malformed_v5);
    RUN(test_connack_with_a_reserved_flag_is_malformed_v311);
    RUN(test_second_connack_is_a_protocol_error);
    RUN(test_session_present_after_a_clean_start_closes_the_connection);
    RUN(test_refused_connack_reports_the_reason_v5);
    RUN(test_refused_connack_reports_the_return_code_v311);
    RUN(test_stray_acks_are_ignored_and_the_client_keeps_pinging_v5);
    RUN(test_stray_acks_are_ignored_and_the_client_keeps_pinging_v311);
    RUN(test_suback_with_the_wrong_number_of_codes_is_a_protocol_error);
    RUN(test_publish_with_qos_3_is_malformed_v5);
    RUN(test_publish_with_qos_3_is_malformed_v311);
    RUN(test_qos0_publish_with_dup_is_malformed);
    RUN(test_incoming_topic_alias_above_our_maximum_is_invalid);
    RUN(test_incoming_topic_alias_zero_closes_the_connection);
    RUN(test_packet_over_our_maximum_packet_size_is_too_large);
    RUN(test_server_exceeding_our_receive_maximum_is_disconnected);
    RUN(test_packet_type_only_a_client_sends_is_a_protocol_error);
    RUN(test_server_closing_mid_packet_is_reported_as_closed);
    RUN(test_server_disconnect_is_reported_with_its_reason);
    return check_done();
}
