/*
 * test_session_hold.c - delivery paused by the application (hold.c): the
 * connection goes on (acks of our publishes, PINGRESP), only incoming
 * messages and their automatic acks wait, in order, until resumed.
 */
#include "test_session_fx.h"

static int publish_qos1(fx *f, const char *topic)
{
    int id = lmq_session_publish(f->s, (const uint8_t *)topic, strlen(topic),
                                 (const uint8_t *)"x", 1, 1, 0, NULL, f->now);
    CHECK(id > 0);
    return id;
}

static void test_paused_delivery_still_completes_our_publishes(void)
{
    fx f;
    fx_init(&f, 5);
    fx_connect(&f, 0);
    CHECK_INT(lmq_session_hold(f.s, 1), 0);
    int id = publish_qos1(&f, "own");
    CHECK_INT(fx_next(&f), LMQ_PUBLISH);
    uint16_t pid = f.pkt.u.publish.packet_id;
    /* the server sends us messages, then the PUBACK of ours */
    lmq_packet m1 = fx_publish("in/1", "a", 1, 7);
    lmq_packet m0 = fx_publish("in/0", "b", 0, 0);
    lmq_packet m2 = fx_publish("in/2", "c", 2, 8);
    CHECK_INT(fx_feed(&f, &m1), 0);
    CHECK_INT(fx_feed(&f, &m0), 0);
    CHECK_INT(fx_feed(&f, &m2), 0);
    lmq_packet ack = fx_ack(LMQ_PUBACK, pid, 0);
    CHECK_INT(fx_feed(&f, &ack), 0);
    /* the completion comes, the messages wait, and so do their acks
     * (the server's Receive Maximum holds it back [MQTT-3.3.4-9]) */
    fx_events(&f);
    CHECK_INT(fx_count(&f, LMQ_EV_MESSAGE), 0);
    const lmq_event *pub = fx_find(&f, LMQ_EV_PUBLISHED);
    CHECK(pub != NULL);
    CHECK_INT(pub ? pub->msg_id : 0, id);
    CHECK_INT(pub ? pub->error : -1, 0);
    CHECK_INT(fx_next(&f), 0);
    lmq_session_stats st;
    lmq_session_stats_get(f.s, &st);
    CHECK_INT(st.inflight_in, 2);
    /* resumed: all three in arrival order, then PUBACK 7 and PUBREC 8 in
     * that order [MQTT-4.6.0-2] [MQTT-4.6.0-3] */
    CHECK_INT(lmq_session_hold(f.s, 0), 3);
    fx_events(&f);
    CHECK_INT(fx_count(&f, LMQ_EV_MESSAGE), 3);
    CHECK_INT(f.nev, 3);
    CHECK_MEM(f.ev[0].topic, "in/1", 4);
    CHECK_MEM(f.ev[1].topic, "in/0", 4);
    CHECK_MEM(f.ev[2].topic, "in/2", 4);
    CHECK_INT(f.ev[2].payload_len, 1);
    CHECK_MEM(f.ev[2].payload, "c", 1);
    CHECK_INT(f.ev[0].ack_id, 0);
    CHECK_INT(fx_next(&f), LMQ_PUBACK);             /* [MQTT-4.3.2-4] */
    CHECK_INT(f.pkt.u.ack.packet_id, 7);
    CHECK_INT(fx_next(&f), LMQ_PUBREC);             /* [MQTT-4.3.3-8] */
    CHECK_INT(f.pkt.u.ack.packet_id, 8);
    CHECK_INT(fx_next(&f), 0);
    /* the QoS 2 flow ends as usual */
    lmq_packet rel = fx_ack(LMQ_PUBREL, 8, 0);
    CHECK_INT(fx_feed(&f, &rel), 0);
    CHECK_INT(fx_next(&f), LMQ_PUBCOMP);
    CHECK_INT(f.pkt.u.ack.reason, 0);
    fx_free(&f);
}

static void test_keepalive_holds_while_paused(void)
{
    fx f;
    fx_init(&f, 4);
    fx_connect(&f, 0);
    lmq_session_hold(f.s, 1);
    lmq_packet m = fx_publish("busy", "x", 0, 0);
    for (int i = 0; i < 5; i++) {
        /* a keepalive period passes: PINGREQ, and its PINGRESP is heard
         * although messages are waiting */
        f.now += 61000;
        CHECK_INT(lmq_session_tick(f.s, f.now), 0);
        CHECK_INT(fx_next(&f), LMQ_PINGREQ);
        CHECK_INT(fx_feed(&f, &m), 0);
        static const uint8_t pingresp[] = { 0xD0, 0x00 };
        CHECK_INT(fx_feed_bytes(&f, pingresp, 2), 0);
    }
    f.now += 30000;
    CHECK_INT(lmq_session_tick(f.s, f.now), 0);     /* no LMQ_EKEEPALIVE */
    fx_events(&f);
    CHECK_INT(fx_count(&f, LMQ_EV_MESSAGE), 0);
    CHECK_INT(lmq_session_hold(f.s, 0), 5);
    fx_events(&f);
    CHECK_INT(fx_count(&f, LMQ_EV_MESSAGE), 5);
    fx_free(&f);
}

static void test_a_resent_qos2_message_is_not_held_twice(void)
{
    fx f;
    fx_init(&f, 4);
    lmq_session_set_int(f.s, LMQ_OPT_CLEAN_START, 0);
    fx_connect(&f, 0);
    lmq_session_hold(f.s, 1);
    lmq_packet p = fx_publish("q", "two", 2, 4);
    CHECK_INT(fx_feed(&f, &p), 0);
    CHECK_INT(fx_next(&f), 0);                      /* no PUBREC yet */
    fx_reconnect(&f);
    fx_connect(&f, 1);
    p.u.publish.dup = 1;
    CHECK_INT(fx_feed(&f, &p), 0);                  /* [MQTT-4.3.3-10] */
    CHECK_INT(lmq_session_hold(f.s, 0), 1);
    fx_events(&f);
    CHECK_INT(fx_count(&f, LMQ_EV_MESSAGE), 1);
    /* released on the new connection: its PUBREC goes now */
    CHECK_INT(fx_next(&f), LMQ_PUBREC);
    CHECK_INT(f.pkt.u.ack.packet_id, 4);
    fx_free(&f);
}

static void test_held_bytes_past_the_bound_say_stop_reading(void)
{
    fx f;
    fx_init(&f, 5);
    lmq_session_set_int(f.s, LMQ_OPT_HOLD_MAX_BYTES, 80);   /* two messages of 45 */
    fx_connect(&f, 0);
    lmq_session_hold(f.s, 1);
    lmq_packet m = fx_publish("flood", "0123456789012345678901234567890123456789", 0, 0);
    CHECK_INT(fx_feed(&f, &m), 0);
    CHECK_INT(lmq_session_hold_full(f.s), 0);
    CHECK_INT(fx_feed(&f, &m), 0);
    CHECK_INT(lmq_session_hold_full(f.s), 1);
    fx_events(&f);
    const lmq_event *log = fx_find(&f, LMQ_EV_LOG);
    CHECK(log != NULL && strstr(log->text, "not read") != NULL);
    CHECK_INT(lmq_session_hold(f.s, 0), 2);
    CHECK_INT(lmq_session_hold_full(f.s), 0);
    fx_events(&f);
    CHECK_INT(fx_count(&f, LMQ_EV_MESSAGE), 2);
    CHECK_INT(lmq_session_set_int(f.s, LMQ_OPT_HOLD_MAX_BYTES, -1), LMQ_EINVAL);
    fx_free(&f);
}

static void test_manual_ack_messages_are_held_with_their_ack_id(void)
{
    fx f;
    fx_init(&f, 5);
    lmq_session_set_int(f.s, LMQ_OPT_MANUAL_ACK, 1);
    fx_connect(&f, 0);
    lmq_session_hold(f.s, 1);
    lmq_packet p = fx_publish("m", "1", 1, 3);
    CHECK_INT(fx_feed(&f, &p), 0);
    CHECK_INT(lmq_session_hold(f.s, 0), 1);
    CHECK_INT(fx_next(&f), 0);                      /* the application acks */
    fx_events(&f);
    CHECK_INT(f.nev, 1);
    CHECK(f.ev[0].ack_id > 0);
    CHECK_INT(lmq_session_ack(f.s, f.ev[0].ack_id, 0, f.now), 0);
    CHECK_INT(fx_next(&f), LMQ_PUBACK);
    fx_free(&f);
}

static void test_messages_arriving_unpaused_go_straight_through(void)
{
    fx f;
    fx_init(&f, 4);
    fx_connect(&f, 0);
    CHECK_INT(lmq_session_hold(f.s, 0), 0);         /* resuming when not paused */
    lmq_packet p = fx_publish("s", "x", 1, 2);
    CHECK_INT(fx_feed(&f, &p), 0);
    CHECK_INT(fx_next(&f), LMQ_PUBACK);
    fx_events(&f);
    CHECK_INT(fx_count(&f, LMQ_EV_MESSAGE), 1);
    CHECK_INT(lmq_session_hold(NULL, 1), LMQ_EINVAL);
    fx_free(&f);
}

int main(void)
{
    RUN(test_paused_delivery_still_completes_our_publishes);
    RUN(test_keepalive_holds_while_paused);
    RUN(test_a_resent_qos2_message_is_not_held_twice);
    RUN(test_held_bytes_past_the_bound_say_stop_reading);
    RUN(test_manual_ack_messages_are_held_with_their_ack_id);
    RUN(test_messages_arriving_unpaused_go_straight_through);
    return check_done();
}
