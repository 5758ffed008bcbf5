/*
 * test_session_conn.c - what must hold across connections of one session:
 * resending within the new server's limits, options that wait for the next
 * connection, manual acks that outlive a reconnect, the packet size with a
 * topic alias, and keepalive against a server that never finishes a packet.
 */
#include <stdio.h>

#include "test_session_fx.h"

/* Sends every packet the session wrote; counts those of `type` and keeps
 * their packet ids (PUBLISH / PUBREL) in ids[]. */
static int sent_of(fx *f, int type, int *ids, int max)
{
    int n = 0, t;
    while ((t = fx_next(f)) > 0) {
        if (t != type)
            continue;
        if (ids && n < max)
            ids[n] = type == LMQ_PUBLISH ? f->pkt.u.publish.packet_id : f->pkt.u.ack.packet_id;
        n++;
    }
    return n;
}

static lmq_packet connack_rm(int sp, int receive_max)
{
    lmq_packet ca = fx_connack(sp, 0);
    ca.u.connack.props.receive_maximum = (uint16_t)receive_max;
    lmq_props_set(&ca.u.connack.props, LMQ_PROP_RECEIVE_MAXIMUM);
    return ca;
}

/* Connected, five QoS 1 messages sent and unanswered, then the link
 * breaks. ids[] gets their packet ids in send order. */
static void five_in_flight(fx *f, int *ids)
{
    fx_init(f, 5);
    lmq_session_set_int(f->s, LMQ_OPT_CLEAN_START, 0);
    fx_connect(f, 0);
    for (int i = 0; i < 5; i++)
        CHECK(fx_pub(f, "a/b", "x", 1) > 0);
    CHECK_INT(sent_of(f, LMQ_PUBLISH, ids, 5), 5);
    fx_reconnect(f);
}

/* ------------------------------------------- 1: resend within the window */

static void test_resend_after_reconnect_stays_within_new_receive_maximum(void)
{
    fx f;
    int ids[5], got[8];
    five_in_flight(&f, ids);
    lmq_packet ca = connack_rm(1, 2);
    fx_connect_with(&f, &ca);
    /* [MQTT-3.3.4-7] no more unacknowledged QoS 1/2 than the new server's
     * Receive Maximum, resends included. */
    CHECK_INT(sent_of(&f, LMQ_PUBLISH, got, 8), 2);
    CHECK_INT(got[0], ids[0]);
    CHECK_INT(got[1], ids[1]);
    CHECK(f.pkt.u.publish.dup);
    lmq_session_stats st;
    lmq_session_stats_get(f.s, &st);
    CHECK_INT(st.inflight_out, 5);
    fx_free(&f);
}

static void test_messages_left_to_resend_go_before_new_ones(void)
{
    fx f;
    int ids[5], got[8];
    five_in_flight(&f, ids);
    lmq_packet ca = connack_rm(1, 2);
    fx_connect_with(&f, &ca);
    CHECK_INT(sent_of(&f, LMQ_PUBLISH, NULL, 0), 2);
    CHECK(fx_pub(&f, "a/new", "y", 1) > 0);
    CHECK_INT(sent_of(&f, LMQ_PUBLISH, NULL, 0), 0);        /* window full */
    /* Each ack frees a slot: the next old message, same id, DUP, in the
     * original order [MQTT-4.6.0-1], and only then the new one. */
    for (int i = 0; i < 4; i++) {
        lmq_packet ack = fx_ack(LMQ_PUBACK, ids[i], 0);
        CHECK_INT(fx_feed(&f, &ack), 0);
        CHECK_INT(sent_of(&f, LMQ_PUBLISH, got, 8), 1);
        if (i < 3) {
            CHECK_INT(got[0], ids[i + 2]);
            CHECK(f.pkt.u.publish.dup);
        } else {
            CHECK(!f.pkt.u.publish.dup);
            CHECK_INT((int)f.pkt.u.publish.topic.n, 5);
        }
    }
    fx_free(&f);
}

static void test_pubrel_resends_wait_for_the_window_in_order(void)
{
    fx f;
    int got[4];
    fx_init(&f, 5);
    lmq_session_set_int(f.s, LMQ_OPT_CLEAN_START, 0);
    fx_connect(&f, 0);
    CHECK(fx_pub(&f, "a", "1", 2) > 0);
    CHECK(fx_pub(&f, "a", "2", 2) > 0);
    CHECK_INT(fx_next(&f), LMQ_PUBLISH);
    int a = f.pkt.u.publish.packet_id;
    CHECK_INT(fx_next(&f), LMQ_PUBLISH);
    int b = f.pkt.u.publish.packet_id;
    lmq_packet rec = fx_ack(LMQ_PUBREC, a, 0);
    CHECK_INT(fx_feed(&f, &rec), 0);
    CHECK_INT(fx_next(&f), LMQ_PUBREL);
    fx_reconnect(&f);
    lmq_packet ca = connack_rm(1, 1);
    fx_connect_with(&f, &ca);
    /* Window 1: the PUBREL of the first goes [MQTT-4.4.0-1], the PUBLISH
     * of the second waits for its PUBCOMP. */
    CHECK_INT(fx_next(&f), LMQ_PUBREL);
    CHECK_INT(f.pkt.u.ack.packet_id, a);
    CHECK_INT(fx_next(&f), 0);
    lmq_packet comp = fx_ack(LMQ_PUBCOMP, a, 0);
    CHECK_INT(fx_feed(&f, &comp), 0);
    CHECK_INT(sent_of(&f, LMQ_PUBLISH, got, 4), 1);
    CHECK_INT(got[0], b);
    CHECK(f.pkt.u.publish.dup);
    fx_free(&f);
}

static void test_resend_to_a_server_without_qos2_completes_with_the_error(void)
{
    fx f;
    fx_init(&f, 5);
    lmq_session_set_int(f.s, LMQ_OPT_CLEAN_START, 0);
    fx_connect(&f, 0);
    int id = fx_pub(&f, "a", "1", 2);
    CHECK(id > 0);
    CHECK_INT(fx_next(&f), LMQ_PUBLISH);
    fx_reconnect(&f);
    lmq_packet ca = fx_connack(1, 0);
    ca.u.connack.props.maximum_qos = 1;
    lmq_props_set(&ca.u.connack.props, LMQ_PROP_MAXIMUM_QOS);
    fx_connect_with(&f, &ca);
    /* [MQTT-3.2.2-11] never a QoS above the server's Maximum QoS. */
    CHECK_INT(sent_of(&f, LMQ_PUBLISH, NULL, 0), 0);
    const lmq_event *ev = fx_find(&f, LMQ_EV_PUBLISHED);
    CHECK(ev != NULL);
    if (ev) {
        CHECK_INT(ev->msg_id, id);
        CHECK_INT(ev->error, LMQ_EQOS_NOT_SUPPORTED);
    }
    fx_free(&f);
}

static void test_resend_of_retained_to_a_server_without_retain_completes_with_the_error(void)
{
    fx f;
    fx_init(&f, 5);
    lmq_session_set_int(f.s, LMQ_OPT_CLEAN_START, 0);
    fx_connect(&f, 0);
    int id = lmq_session_publish(f.s, (const uint8_t *)"a", 1, (const uint8_t *)"1", 1, 1,
                                 1, NULL, f.now);
    CHECK(id > 0);
    CHECK_INT(fx_next(&f), LMQ_PUBLISH);
    fx_reconnect(&f);
    lmq_packet ca = fx_connack(1, 0);
    ca.u.connack.props.retain_available = 0;
    lmq_props_set(&ca.u.connack.props, LMQ_PROP_RETAIN_AVAILABLE);
    fx_connect_with(&f, &ca);
    /* [MQTT-3.2.2-14] no retained PUBLISH to a server without retain. */
    CHECK_INT(sent_of(&f, LMQ_PUBLISH, NULL, 0), 0);
    const lmq_event *ev = fx_find(&f, LMQ_EV_PUBLISHED);
    CHECK(ev != NULL);
    if (ev)
        CHECK_INT(ev->error, LMQ_ERETAIN_NOT_SUPPORTED);
    fx_free(&f);
}

static void test_start_forgets_the_previous_servers_limits(void)
{
    fx f;
    fx_init(&f, 5);
    lmq_packet ca = fx_connack(0, 0);
    ca.u.connack.props.maximum_qos = 0;
    lmq_props_set(&ca.u.connack.props, LMQ_PROP_MAXIMUM_QOS);
    fx_connect_with(&f, &ca);
    CHECK_INT(fx_pub(&f, "a", "1", 1), LMQ_EQOS_NOT_SUPPORTED);
    fx_reconnect(&f);
    CHECK_INT(lmq_session_start(f.s, f.now), 0);
    /* Maybe another server: until its CONNACK the message just queues. */
    CHECK(fx_pub(&f, "a", "1", 1) > 0);
    lmq_session_stats st;
    lmq_session_stats_get(f.s, &st);
    CHECK_INT(st.server_max_qos, 2);
    fx_free(&f);
}

/* --------------------------------- 2, 3: options wait for the next start */

static void test_protocol_change_while_connected_applies_to_the_next_connection(void)
{
    fx f;
    fx_init(&f, 5);
    fx_connect(&f, 0);
    CHECK_INT(lmq_session_set_int(f.s, LMQ_OPT_PROTOCOL, LMQ_MQTT_311), 0);
    CHECK(fx_pub(&f, "a/b", "x", 1) > 0);
    /* Still 5.0 on this connection: the server decodes it. */
    CHECK_INT(fx_next(&f), LMQ_PUBLISH);
    fx_reconnect(&f);
    CHECK_INT(lmq_session_start(f.s, f.now), 0);
    CHECK_INT(fx_next(&f), LMQ_CONNECT);
    CHECK_INT(f.pkt.u.connect.level, LMQ_MQTT_311);
    fx_free(&f);
}

static void test_keepalive_change_before_connack_applies_to_the_next_connection(void)
{
    fx f;
    fx_init(&f, 5);
    lmq_session_set_int(f.s, LMQ_OPT_KEEPALIVE, 60);
    CHECK_INT(lmq_session_start(f.s, f.now), 0);
    CHECK_INT(fx_next(&f), LMQ_CONNECT);
    CHECK_INT(f.pkt.u.connect.keepalive, 60);
    /* Changed between CONNECT and CONNACK: the server holds us to the 60 s
     * we sent [MQTT-3.1.2-20], not to the new value. */
    CHECK_INT(lmq_session_set_int(f.s, LMQ_OPT_KEEPALIVE, 5), 0);
    lmq_packet ca = fx_connack(0, 0);
    CHECK_INT(fx_feed(&f, &ca), 0);
    f.now += 10000;
    CHECK_INT(lmq_session_tick(f.s, f.now), 0);
    CHECK_INT(fx_next(&f), 0);          /* still 60 s on this connection */
    fx_reconnect(&f);
    CHECK_INT(lmq_session_start(f.s, f.now), 0);
    CHECK_INT(fx_next(&f), LMQ_CONNECT);
    CHECK_INT(f.pkt.u.connect.keepalive, 5);
    fx_free(&f);
}

static void test_ack_accepted_after_manual_ack_turned_off_while_connected(void)
{
    fx f;
    fx_init(&f, 5);
    lmq_session_set_int(f.s, LMQ_OPT_MANUAL_ACK, 1);
    lmq_session_set_int(f.s, LMQ_OPT_RECEIVE_MAXIMUM, 1);
    fx_connect(&f, 0);
    lmq_packet p = fx_publish("t", "m", 1, 3);
    CHECK_INT(fx_feed(&f, &p), 0);
    fx_events(&f);
    const lmq_event *ev = fx_find(&f, LMQ_EV_MESSAGE);
    CHECK(ev && ev->ack_id > 0);
    int32_t ack = ev ? ev->ack_id : 0;
    CHECK_INT(lmq_session_set_int(f.s, LMQ_OPT_MANUAL_ACK, 0), 0);
    CHECK_INT(lmq_session_ack(f.s, ack, 0, f.now), 0);
    CHECK_INT(fx_next(&f), LMQ_PUBACK);
    CHECK_INT(f.pkt.u.ack.packet_id, 3);
    /* The slot of our Receive Maximum is free again [MQTT-3.3.4-9]. */
    lmq_packet p2 = fx_publish("t", "m2", 1, 4);
    CHECK_INT(fx_feed(&f, &p2), 0);
    fx_free(&f);
}

/* ------------------------------------------ 4: the alias and the max size */

static void test_alias_that_would_exceed_max_packet_size_is_left_out(void)
{
    fx f;
    fx_init(&f, 5);
    lmq_packet ca = fx_connack(0, 0);
    ca.u.connack.props.topic_alias_maximum = 10;
    lmq_props_set(&ca.u.connack.props, LMQ_PROP_TOPIC_ALIAS_MAXIMUM);
    /* QoS 0 "a/b" + 10 bytes: 2 + 2 + 3 + 1 + 10 = 18 without an alias,
     * 21 with one. */
    ca.u.connack.props.maximum_packet_size = 18;
    lmq_props_set(&ca.u.connack.props, LMQ_PROP_MAXIMUM_PACKET_SIZE);
    fx_connect_with(&f, &ca);
    CHECK(fx_pub(&f, "a/b", "0123456789", 0) > 0);
    /* [MQTT-3.1.2-24] within the server's maximum, topic in full. */
    CHECK_INT(fx_next(&f), LMQ_PUBLISH);
    fx_events(&f);      /* QoS 0: complete once written */
    const lmq_event *ev = fx_find(&f, LMQ_EV_PUBLISHED);
    CHECK(ev != NULL);
    if (ev)
        CHECK_INT(ev->error, 0);
    CHECK(!lmq_props_has(&f.pkt.u.publish.props, LMQ_PROP_TOPIC_ALIAS));
    CHECK_INT((int)f.pkt.u.publish.topic.n, 3);
    CHECK_INT(fx_next(&f), 0);
    /* A smaller one to the same topic still gets an alias. */
    CHECK(fx_pub(&f, "a/b", "0", 0) > 0);
    CHECK_INT(fx_next(&f), LMQ_PUBLISH);
    CHECK(lmq_props_has(&f.pkt.u.publish.props, LMQ_PROP_TOPIC_ALIAS));
    fx_free(&f);
}

static void test_publish_over_max_packet_size_without_alias_is_refused(void)
{
    fx f;
    fx_init(&f, 5);
    lmq_packet ca = fx_connack(0, 0);
    ca.u.connack.props.maximum_packet_size = 17;
    lmq_props_set(&ca.u.connack.props, LMQ_PROP_MAXIMUM_PACKET_SIZE);
    fx_connect_with(&f, &ca);
    CHECK_INT(fx_pub(&f, "a/b", "0123456789", 0), LMQ_ESERVER_MAX_SIZE);
    CHECK(fx_pub(&f, "a/b", "012345678", 0) > 0);
    fx_free(&f);
}

static void test_publish_over_the_protocol_limit_is_refused_at_once(void)
{
    fx f;
    static const uint8_t one[1] = { 'x' };
    fx_init(&f, 5);
    fx_connect(&f, 0);
    /* Topic + payload over the 268435455 bytes a Remaining Length can say
     * (section 2.1.4); the payload is never read. */
    CHECK_INT(lmq_session_publish(f.s, (const uint8_t *)"a/b", 3, one, 268435455u - 4u, 0, 0,
                                  NULL, f.now),
              LMQ_ETOOBIG);
    fx_free(&f);
}

/* --------------------------------- 5: exactly once with manual ack */

static int32_t manual_q2_delivered(fx *f, int pid)
{
    fx_init(f, 5);
    lmq_session_set_int(f->s, LMQ_OPT_CLEAN_START, 0);
    lmq_session_set_int(f->s, LMQ_OPT_MANUAL_ACK, 1);
    fx_connect(f, 0);
    lmq_packet p = fx_publish("t", "once", 2, pid);
    CHECK_INT(fx_feed(f, &p), 0);
    fx_events(f);
    CHECK_INT(fx_count(f, LMQ_EV_MESSAGE), 1);
    const lmq_event *ev = fx_find(f, LMQ_EV_MESSAGE);
    return ev ? ev->ack_id : 0;
}

static void test_unacked_qos2_is_not_delivered_again_after_reconnect(void)
{
    fx f;
    int32_t ack = manual_q2_delivered(&f, 7);
    CHECK(ack > 0);
    fx_reconnect(&f);
    fx_connect(&f, 1);
    lmq_packet p = fx_publish("t", "once", 2, 7);
    p.u.publish.dup = 1;
    CHECK_INT(fx_feed(&f, &p), 0);
    fx_events(&f);
    /* [MQTT-4.3.3-10] delivered once; no PUBREC before the app's ack. */
    CHECK_INT(fx_count(&f, LMQ_EV_MESSAGE), 0);
    CHECK_INT(fx_next(&f), 0);
    /* The ack id of the first delivery still works on this connection. */
    CHECK_INT(lmq_session_ack(f.s, ack, 0, f.now), 0);
    CHECK_INT(fx_next(&f), LMQ_PUBREC);
    CHECK_INT(f.pkt.u.ack.packet_id, 7);
    lmq_packet rel = fx_ack(LMQ_PUBREL, 7, 0);
    CHECK_INT(fx_feed(&f, &rel), 0);
    CHECK_INT(fx_next(&f), LMQ_PUBCOMP);
    CHECK_INT(f.pkt.u.ack.reason, 0);
    CHECK_INT(lmq_session_ack(f.s, ack, 0, f.now), LMQ_ESTATE);
    fx_free(&f);
}

static void test_qos2_acked_between_connections_gets_its_pubrec_on_resend(void)
{
    fx f;
    int32_t ack = manual_q2_delivered(&f, 9);
    fx_reconnect(&f);
    CHECK_INT(lmq_session_ack(f.s, ack, 0, f.now), 0);
    /* Manual ack off by now: the kept message is still the app's. */
    lmq_session_set_int(f.s, LMQ_OPT_MANUAL_ACK, 0);
    fx_connect(&f, 1);
    lmq_packet p = fx_publish("t", "once", 2, 9);
    p.u.publish.dup = 1;
    CHECK_INT(fx_feed(&f, &p), 0);
    fx_events(&f);
    CHECK_INT(fx_count(&f, LMQ_EV_MESSAGE), 0);
    CHECK_INT(fx_next(&f), LMQ_PUBREC);         /* [MQTT-4.3.3-8] */
    CHECK_INT(f.pkt.u.ack.packet_id, 9);
    fx_free(&f);
}

static void test_unacked_qos2_kept_when_manual_ack_is_off_on_the_new_connection(void)
{
    fx f;
    int32_t ack = manual_q2_delivered(&f, 5);
    fx_reconnect(&f);
    lmq_session_set_int(f.s, LMQ_OPT_MANUAL_ACK, 0);
    fx_connect(&f, 1);
    CHECK_INT(lmq_session_ack(f.s, ack, 0, f.now), 0);
    CHECK_INT(fx_next(&f), LMQ_PUBREC);
    fx_free(&f);
}

static void test_unacked_qos1_is_delivered_again_after_reconnect(void)
{
    fx f;
    fx_init(&f, 5);
    lmq_session_set_int(f.s, LMQ_OPT_CLEAN_START, 0);
    lmq_session_set_int(f.s, LMQ_OPT_MANUAL_ACK, 1);
    fx_connect(&f, 0);
    lmq_packet p = fx_publish("t", "m", 1, 3);
    CHECK_INT(fx_feed(&f, &p), 0);
    fx_events(&f);
    int32_t old = fx_find(&f, LMQ_EV_MESSAGE) ? fx_find(&f, LMQ_EV_MESSAGE)->ack_id : 0;
    fx_reconnect(&f);
    fx_connect(&f, 1);
    /* QoS 1 is at-least-once: the server's resend is delivered again,
     * under a new ack id; the old one is stale. */
    CHECK_INT(lmq_session_ack(f.s, old, 0, f.now), LMQ_ESTATE);
    p.u.publish.dup = 1;
    CHECK_INT(fx_feed(&f, &p), 0);
    fx_events(&f);
    const lmq_event *ev = fx_find(&f, LMQ_EV_MESSAGE);
    CHECK(ev && ev->ack_id > 0 && ev->ack_id != old);
    if (ev)
        CHECK_INT(lmq_session_ack(f.s, ev->ack_id, 0, f.now), 0);
    CHECK_INT(fx_next(&f), LMQ_PUBACK);
    lmq_session_stats st;
    lmq_session_stats_get(f.s, &st);
    CHECK_INT(st.inflight_in, 0);
    fx_free(&f);
}

/* ------------------------------- 6: keepalive counts whole packets only */

static void test_trickled_bytes_of_an_unfinished_packet_do_not_keep_the_link(void)
{
    fx f;
    fx_init(&f, 5);
    lmq_session_set_int(f.s, LMQ_OPT_KEEPALIVE, 10);
    fx_connect(&f, 0);
    /* A PUBLISH announcing 1 MB, then a byte every 4 s. */
    static const uint8_t hdr[] = { 0x30, 0x80, 0x80, 0x40 };
    CHECK_INT(fx_feed_bytes(&f, hdr, sizeof hdr), 0);
    int64_t start = f.now;
    int rc = 0;
    while (rc == 0 && f.now - start < 60000) {
        f.now += 1000;
        rc = lmq_session_tick(f.s, f.now);
        fx_skip_all(&f);
        if (rc == 0 && (f.now - start) % 4000 == 0) {
            uint8_t b = 'x';
            rc = fx_feed_bytes(&f, &b, 1);
        }
    }
    /* 3.1.2.10: no PINGRESP within a reasonable time: close.  Keepalive
     * 10 s + at most 5 s of waiting. */
    CHECK_INT(rc, LMQ_EKEEPALIVE);
    CHECK(f.now - start <= 15000);
    fx_free(&f);
}

int main(void)
{
    RUN(test_resend_after_reconnect_stays_within_new_receive_maximum);
    RUN(test_messages_left_to_resend_go_before_new_ones);
    RUN(test_pubrel_resends_wait_for_the_window_in_order);
    RUN(test_resend_to_a_server_without_qos2_completes_with_the_error);
    RUN(test_resend_of_retained_to_a_server_without_retain_completes_with_the_error);
    RUN(test_start_forgets_the_previous_servers_limits);
    RUN(test_protocol_change_while_connected_applies_to_the_next_connection);
    RUN(test_keepalive_change_before_connack_applies_to_the_next_connection);
    RUN(test_ack_accepted_after_manual_ack_turned_off_while_connected);
    RUN(test_alias_that_would_exceed_max_packet_size_is_left_out);
    RUN(test_publish_over_max_packet_size_without_alias_is_refused);
    RUN(test_publish_over_the_protocol_limit_is_refused_at_once);
    RUN(test_unacked_qos2_is_not_delivered_again_after_reconnect);
    RUN(test_qos2_acked_between_connections_gets_its_pubrec_on_resend);
    RUN(test_unacked_qos2_kept_when_manual_ack_is_off_on_the_new_connection);
    RUN(test_unacked_qos1_is_delivered_again_after_reconnect);
    RUN(test_trickled_bytes_of_an_unfinished_packet_do_not_keep_the_link);
    return check_done();
}
