/*
 * test_session_pub.c - PUBLISH both ways through the session, byte for
 * byte: QoS 0/1/2 flows, packet ids, the server's limits (Receive Maximum,
 * Maximum QoS, Retain Available, Maximum Packet Size, Topic Alias Maximum),
 * the offline queue, resending after a reconnect, incoming QoS 2 exactly
 * once, manual acks, incoming topic aliases and our Receive Maximum.
 */
#include "test_session_fx.h"

static const lmq_event *published(fx *f, int msg_id)
{
    for (int i = 0; i < f->nev; i++)
        if (f->ev[i].type == LMQ_EV_PUBLISHED && f->ev[i].msg_id == msg_id)
            return &f->ev[i];
    return NULL;
}

static void set(fx *f, int opt, int64_t v)
{
    CHECK_INT(lmq_session_set_int(f->s, opt, v), 0);
}

/* ----------------------------------------------------------- out, flows */

static void test_qos0_publish_bytes_and_completion(void)
{
    fx f;
    fx_init(&f, 4);
    fx_connect(&f, 0);
    int id = fx_pub(&f, "a/b", "hi", 0);
    CHECK(id > 0);
    /* 0x30: QoS 0, DUP 0 [MQTT-4.3.1-1] */
    static const uint8_t want[] = { 0x30, 0x07, 0, 3, 'a', '/', 'b', 'h', 'i' };
    fx_drain(&f);
    CHECK_INT(f.on - f.opos, sizeof want);
    CHECK_MEM(f.ob + f.opos, want, sizeof want);
    fx_events(&f);
    const lmq_event *ev = published(&f, id);
    CHECK(ev && ev->error == 0);
    fx_free(&f);
}

static void test_qos1_publish_completes_on_puback(void)
{
    fx f;
    fx_init(&f, 4);
    fx_connect(&f, 0);
    int id = lmq_session_publish(f.s, (const uint8_t *)"t", 1, (const uint8_t *)"x", 1,
                                 1, 1, NULL, f.now);
    /* 0x33: QoS 1, retain, DUP 0, with its packet id [MQTT-4.3.2-2] */
    static const uint8_t want[] = { 0x33, 0x06, 0, 1, 't', 0, 1, 'x' };
    fx_drain(&f);
    CHECK_INT(f.on - f.opos, sizeof want);
    CHECK_MEM(f.ob + f.opos, want, sizeof want);
    fx_events(&f);
    CHECK(published(&f, id) == NULL);   /* unacknowledged [MQTT-4.3.2-3] */
    lmq_packet ack = fx_ack(LMQ_PUBACK, 1, 0);
    CHECK_INT(fx_feed(&f, &ack), 0);
    fx_events(&f);
    const lmq_event *ev = published(&f, id);
    CHECK(ev && ev->error == 0 && ev->reason == 0);
    lmq_session_stats st;
    lmq_session_stats_get(f.s, &st);
    CHECK_INT(st.inflight_out, 0);
    fx_free(&f);
}

static void test_qos2_publish_pubrec_pubrel_pubcomp(void)
{
    fx f;
    fx_init(&f, 5);
    fx_connect(&f, 0);
    int id = fx_pub(&f, "t", "x", 2);
    CHECK_INT(fx_next(&f), LMQ_PUBLISH);
    CHECK_INT(f.pkt.u.publish.qos, 2);
    CHECK_INT(f.pkt.u.publish.dup, 0);              /* [MQTT-4.3.3-2] */
    uint16_t pid = f.pkt.u.publish.packet_id;
    /* unacknowledged until PUBREC [MQTT-4.3.3-3] */
    fx_events(&f);
    CHECK(published(&f, id) == NULL);
    lmq_session_stats st;
    lmq_session_stats_get(f.s, &st);
    CHECK_INT(st.inflight_out, 1);
    lmq_packet rec = fx_ack(LMQ_PUBREC, pid, 0);
    CHECK_INT(fx_feed(&f, &rec), 0);
    /* [MQTT-4.3.3-4] PUBREC is answered with PUBREL: 62 02 id, the
     * PUBLISH's id [MQTT-2.2.1-5], no Reason String or User Property to
     * grow it [MQTT-3.6.2-2] [MQTT-3.6.2-3] */
    fx_drain(&f);
    CHECK_INT(f.on - f.opos, 4);
    CHECK_INT(f.ob[f.opos], 0x62);
    CHECK_INT(f.ob[f.opos + 3], pid);
    fx_skip_all(&f);
    fx_events(&f);
    CHECK(published(&f, id) == NULL);
    lmq_packet comp = fx_ack(LMQ_PUBCOMP, pid, 0);
    CHECK_INT(fx_feed(&f, &comp), 0);
    fx_events(&f);
    const lmq_event *ev = published(&f, id);
    CHECK(ev && ev->error == 0);
    fx_free(&f);
}

static void test_pubrec_with_error_ends_the_flow(void)
{
    fx f;
    fx_init(&f, 5);
    fx_connect(&f, 0);
    int id = fx_pub(&f, "t", "x", 2);
    fx_skip_all(&f);
    lmq_packet rec = fx_ack(LMQ_PUBREC, 1, 0x87);
    CHECK_INT(fx_feed(&f, &rec), 0);
    CHECK_INT(fx_next(&f), 0);          /* no PUBREL [MQTT-4.3.3-4] */
    fx_events(&f);
    const lmq_event *ev = published(&f, id);
    CHECK(ev && ev->error == LMQ_EREJECTED && ev->reason == 0x87);
    fx_free(&f);
}

static void test_puback_with_error_fails_the_message(void)
{
    fx f;
    fx_init(&f, 5);
    fx_connect(&f, 0);
    int id = fx_pub(&f, "t", "x", 1);
    fx_skip_all(&f);
    lmq_packet ack = fx_ack(LMQ_PUBACK, 1, 0x10);   /* no matching subscribers: success */
    CHECK_INT(fx_feed(&f, &ack), 0);
    int id2 = fx_pub(&f, "t", "x", 1);
    fx_skip_all(&f);
    lmq_packet bad = fx_ack(LMQ_PUBACK, 2, 0x97);   /* quota exceeded */
    CHECK_INT(fx_feed(&f, &bad), 0);
    fx_events(&f);
    const lmq_event *ev = published(&f, id);
    CHECK(ev && ev->error == 0 && ev->reason == 0x10);
    ev = published(&f, id2);
    CHECK(ev && ev->error == LMQ_EREJECTED && ev->reason == 0x97);
    fx_free(&f);
}

static void test_packet_ids_in_flight_are_never_reused(void)
{
    fx f;
    fx_init(&f, 4);
    set(&f, LMQ_OPT_OFFLINE_MAX_MSGS, 70000);
    fx_connect(&f, 0);
    /* every id 1..65535 in flight */
    for (int i = 0; i < 65535; i++)
        fx_pub(&f, "t", "", 1);
    fx_skip_all(&f);
    fx_events(&f);
    lmq_session_stats st;
    lmq_session_stats_get(f.s, &st);
    CHECK_INT(st.inflight_out, 65535);
    /* one more waits: no id is free [MQTT-2.2.1-3] */
    fx_pub(&f, "t", "", 1);
    CHECK_INT(fx_next(&f), 0);
    /* id 7 completes: the waiting message takes exactly that id */
    lmq_packet ack = fx_ack(LMQ_PUBACK, 7, 0);
    CHECK_INT(fx_feed(&f, &ack), 0);
    CHECK_INT(fx_next(&f), LMQ_PUBLISH);
    CHECK_INT(f.pkt.u.publish.packet_id, 7);
    fx_free(&f);
}

static void test_receive_maximum_window_holds_messages_in_order(void)
{
    fx f;
    fx_init(&f, 5);
    lmq_packet ca = fx_connack(0, 0);
    ca.u.connack.props.receive_maximum = 2;
    lmq_props_set(&ca.u.connack.props, LMQ_PROP_RECEIVE_MAXIMUM);
    fx_connect_with(&f, &ca);
    char payload[2] = "0";
    for (int i = 0; i < 5; i++) {
        payload[0] = (char)('0' + i);
        CHECK(fx_pub(&f, "t", payload, 1) > 0);
    }
    /* [MQTT-4.9.0-1] [MQTT-4.9.0-2] only two unacknowledged */
    CHECK_INT(fx_next(&f), LMQ_PUBLISH);
    CHECK_MEM(f.pkt.u.publish.payload.p, "0", 1);
    CHECK_INT(fx_next(&f), LMQ_PUBLISH);
    CHECK_MEM(f.pkt.u.publish.payload.p, "1", 1);
    CHECK_INT(fx_next(&f), 0);
    lmq_session_stats st;
    lmq_session_stats_get(f.s, &st);
    CHECK_INT(st.inflight_out, 2);
    CHECK_INT(st.waiting_out, 3);
    for (int i = 2; i < 5; i++) {
        lmq_packet ack = fx_ack(LMQ_PUBACK, i - 1, 0);
        CHECK_INT(fx_feed(&f, &ack), 0);
        CHECK_INT(fx_next(&f), LMQ_PUBLISH);
        CHECK_INT(f.pkt.u.publish.payload.p[0], '0' + i);
        CHECK_INT(fx_next(&f), 0);
    }
    /* QoS 0 is not held by the window [MQTT-4.9.0-3] */
    CHECK(fx_pub(&f, "t", "q0", 0) > 0);
    CHECK_INT(fx_next(&f), LMQ_PUBLISH);
    CHECK_INT(f.pkt.u.publish.qos, 0);
    fx_free(&f);
}

static void test_maximum_qos_is_obeyed(void)
{
    fx f;
    fx_init(&f, 5);
    /* queued while offline, before the limit is known */
    int early = fx_pub(&f, "t", "x", 2);
    CHECK(early > 0);
    lmq_packet ca = fx_connack(0, 0);
    ca.u.connack.props.maximum_qos = 1;
    lmq_props_set(&ca.u.connack.props, LMQ_PROP_MAXIMUM_QOS);
    fx_connect_with(&f, &ca);
    const lmq_event *ev = published(&f, early);
    CHECK(ev && ev->error == LMQ_EQOS_NOT_SUPPORTED);
    CHECK_INT(fx_next(&f), 0);
    /* [MQTT-3.2.2-11] refused up front once known (the server's half:
     * [MQTT-3.2.2-9]) */
    CHECK_INT(fx_pub(&f, "t", "x", 2), LMQ_EQOS_NOT_SUPPORTED);
    CHECK(fx_pub(&f, "t", "x", 1) > 0);
    fx_free(&f);
}

static void test_retain_not_available_is_obeyed(void)
{
    fx f;
    fx_init(&f, 5);
    lmq_packet ca = fx_connack(0, 0);
    ca.u.connack.props.retain_available = 0;
    lmq_props_set(&ca.u.connack.props, LMQ_PROP_RETAIN_AVAILABLE);
    fx_connect_with(&f, &ca);
    /* [MQTT-3.2.2-14] */
    CHECK_INT(lmq_session_publish(f.s, (const uint8_t *)"t", 1, (const uint8_t *)"x", 1, 0, 1,
                                  NULL, f.now), LMQ_ERETAIN_NOT_SUPPORTED);
    CHECK_INT(fx_next(&f), 0);
    fx_free(&f);
}

static void test_nothing_larger_than_the_server_maximum_packet_size_is_sent(void)
{
    fx f;
    fx_init(&f, 5);
    lmq_packet ca = fx_connack(0, 0);
    ca.u.connack.props.maximum_packet_size = 20;
    lmq_props_set(&ca.u.connack.props, LMQ_PROP_MAXIMUM_PACKET_SIZE);
    fx_connect_with(&f, &ca);
    /* [MQTT-3.1.2-24] 2 + 3 + 1 + 15 = 21 > 20 */
    CHECK_INT(fx_pub(&f, "t", "123456789012345", 0), LMQ_ESERVER_MAX_SIZE);
    CHECK_INT(fx_next(&f), 0);
    CHECK(fx_pub(&f, "t", "12345678901234", 0) > 0);    /* exactly 20 */
    CHECK_INT(fx_next(&f), LMQ_PUBLISH);
    fx_free(&f);
}

static void test_queued_message_too_big_for_the_next_server_fails_alone(void)
{
    fx f;
    fx_init(&f, 5);
    int big = fx_pub(&f, "t", "123456789012345678901234567890", 1);
    int small = fx_pub(&f, "t", "ok", 1);
    CHECK(big > 0 && small > 0);
    lmq_packet ca = fx_connack(0, 0);
    ca.u.connack.props.maximum_packet_size = 20;
    lmq_props_set(&ca.u.connack.props, LMQ_PROP_MAXIMUM_PACKET_SIZE);
    fx_connect_with(&f, &ca);
    const lmq_event *ev = published(&f, big);
    CHECK(ev && ev->error == LMQ_ESERVER_MAX_SIZE);     /* [MQTT-3.1.2-24] */
    CHECK_INT(fx_next(&f), LMQ_PUBLISH);
    CHECK_MEM(f.pkt.u.publish.payload.p, "ok", 2);
    CHECK_INT(fx_next(&f), 0);
    fx_free(&f);
}

static void test_outgoing_topic_aliases(void)
{
    fx f;
    fx_init(&f, 5);
    lmq_packet ca = fx_connack(0, 0);
    ca.u.connack.props.topic_alias_maximum = 2;
    lmq_props_set(&ca.u.connack.props, LMQ_PROP_TOPIC_ALIAS_MAXIMUM);
    fx_connect_with(&f, &ca);
    fx_pub(&f, "t/1", "a", 0);
    fx_pub(&f, "t/1", "b", 0);
    fx_pub(&f, "t/2", "c", 0);
    fx_pub(&f, "t/3", "d", 0);
    /* first use: topic and alias; then the alias alone */
    CHECK_INT(fx_next(&f), LMQ_PUBLISH);
    CHECK_INT(f.pkt.u.publish.topic.n, 3);
    CHECK_INT(f.pkt.u.publish.props.topic_alias, 1);
    CHECK_INT(fx_next(&f), LMQ_PUBLISH);
    CHECK_INT(f.pkt.u.publish.topic.n, 0);
    CHECK_INT(f.pkt.u.publish.props.topic_alias, 1);
    CHECK_INT(fx_next(&f), LMQ_PUBLISH);
    CHECK_INT(f.pkt.u.publish.props.topic_alias, 2);
    /* never above the server's maximum [MQTT-3.3.2-9] [MQTT-3.2.2-17]:
     * none left */
    CHECK_INT(fx_next(&f), LMQ_PUBLISH);
    CHECK_INT(f.pkt.u.publish.topic.n, 3);
    CHECK(!lmq_props_has(&f.pkt.u.publish.props, LMQ_PROP_TOPIC_ALIAS));
    /* aliases end with the connection [MQTT-3.3.2-7] */
    fx_reconnect(&f);
    fx_connect_with(&f, &ca);
    fx_pub(&f, "t/1", "e", 0);
    CHECK_INT(fx_next(&f), LMQ_PUBLISH);
    CHECK_INT(f.pkt.u.publish.topic.n, 3);
    CHECK_INT(f.pkt.u.publish.props.topic_alias, 1);
    fx_free(&f);
}

static void test_outgoing_topic_aliases_can_be_turned_off(void)
{
    fx f;
    fx_init(&f, 5);
    set(&f, LMQ_OPT_TOPIC_ALIAS_OUT, 0);
    lmq_packet ca = fx_connack(0, 0);
    ca.u.connack.props.topic_alias_maximum = 10;
    lmq_props_set(&ca.u.connack.props, LMQ_PROP_TOPIC_ALIAS_MAXIMUM);
    fx_connect_with(&f, &ca);
    fx_pub(&f, "t/1", "a", 0);
    fx_pub(&f, "t/1", "b", 0);
    CHECK_INT(fx_next(&f), LMQ_PUBLISH);
    CHECK(!lmq_props_has(&f.pkt.u.publish.props, LMQ_PROP_TOPIC_ALIAS));
    CHECK_INT(fx_next(&f), LMQ_PUBLISH);
    CHECK_INT(f.pkt.u.publish.topic.n, 3);
    fx_free(&f);
}

static void test_publish_props_are_sent_and_checked(void)
{
    fx f;
    fx_init(&f, 5);
    fx_connect(&f, 0);
    lmq_proplist *pl = lmq_proplist_new();
    lmq_proplist_add_str(pl, LMQ_PROP_RESPONSE_TOPIC, "reply/1", -1);
    lmq_proplist_add_user(pl, "k", -1, "v", -1);
    CHECK(lmq_session_publish(f.s, (const uint8_t *)"t", 1, NULL, 0, 1, 0, pl, f.now) > 0);
    CHECK_INT(fx_next(&f), LMQ_PUBLISH);
    CHECK_INT(f.pkt.u.publish.props.response_topic.n, 7);
    CHECK_INT(f.pkt.u.publish.props.n_user, 1);
    /* not allowed in PUBLISH, or owned by the session [MQTT-3.3.4-6] */
    lmq_proplist_clear(pl);
    lmq_proplist_add_int(pl, LMQ_PROP_SESSION_EXPIRY, 1);
    CHECK_INT(lmq_session_publish(f.s, (const uint8_t *)"t", 1, NULL, 0, 1, 0, pl, f.now), LMQ_EINVAL);
    lmq_proplist_clear(pl);
    lmq_proplist_add_int(pl, LMQ_PROP_SUBSCRIPTION_ID, 3);
    CHECK_INT(lmq_session_publish(f.s, (const uint8_t *)"t", 1, NULL, 0, 1, 0, pl, f.now), LMQ_EINVAL);
    lmq_proplist_free(pl);
    /* [MQTT-3.3.2-2] no wildcards in a topic name */
    CHECK_INT(fx_pub(&f, "a/+", "x", 0), LMQ_ETOPIC_WILDCARD);
    CHECK_INT(fx_pub(&f, "", "x", 0), LMQ_ETOPIC_EMPTY);
    CHECK_INT(fx_pub(&f, "t", "x", 3), LMQ_EINVAL);
    CHECK(lmq_session_publish(f.s, NULL, 0, NULL, 0, 0, 0, NULL, f.now) < 0);
    CHECK_INT(lmq_session_publish(f.s, NULL, 3, NULL, 0, 0, 0, NULL, f.now), LMQ_EINVAL);
    CHECK_INT(fx_next(&f), 0);
    fx_free(&f);
}

/* ------------------------------------------------------- offline queue */

static void test_offline_queue_refuses_when_full_and_drains_in_order(void)
{
    fx f;
    fx_init(&f, 4);
    set(&f, LMQ_OPT_OFFLINE_MAX_MSGS, 2);
    CHECK(fx_pub(&f, "t", "1", 1) > 0);
    CHECK(fx_pub(&f, "t", "2", 0) > 0);
    CHECK_INT(fx_pub(&f, "t", "3", 1), LMQ_EQUEUE_FULL);
    lmq_session_stats st;
    lmq_session_stats_get(f.s, &st);
    CHECK_INT(st.offline_msgs, 2);
    CHECK_INT(st.offline_bytes, 4);
    fx_connect(&f, 0);
    CHECK_INT(fx_next(&f), LMQ_PUBLISH);
    CHECK_MEM(f.pkt.u.publish.payload.p, "1", 1);
    CHECK_INT(fx_next(&f), LMQ_PUBLISH);
    CHECK_MEM(f.pkt.u.publish.payload.p, "2", 1);
    CHECK_INT(fx_next(&f), 0);
    fx_free(&f);
}

static void test_offline_queue_drops_the_oldest_when_told(void)
{
    fx f;
    fx_init(&f, 4);
    set(&f, LMQ_OPT_OFFLINE_MAX_MSGS, 2);
    set(&f, LMQ_OPT_OFFLINE_POLICY, LMQ_QUEUE_DROP_OLDEST);
    int a = fx_pub(&f, "t", "1", 1);
    int b = fx_pub(&f, "t", "2", 1);
    int c = fx_pub(&f, "t", "3", 1);
    CHECK(a > 0 && b > 0 && c > 0);
    fx_events(&f);
    const lmq_event *ev = published(&f, a);
    CHECK(ev && ev->error == LMQ_EDROPPED);
    fx_connect(&f, 0);
    CHECK_INT(fx_next(&f), LMQ_PUBLISH);
    CHECK_MEM(f.pkt.u.publish.payload.p, "2", 1);
    CHECK_INT(fx_next(&f), LMQ_PUBLISH);
    CHECK_MEM(f.pkt.u.publish.payload.p, "3", 1);
    fx_free(&f);
}

static void test_offline_queue_byte_bound(void)
{
    fx f;
    fx_init(&f, 4);
    set(&f, LMQ_OPT_OFFLINE_MAX_BYTES, 10);
    CHECK(fx_pub(&f, "t", "1234", 0) > 0);          /* 5 bytes */
    CHECK(fx_pub(&f, "t", "1234", 0) > 0);          /* 10 */
    CHECK_INT(fx_pub(&f, "t", "1", 0), LMQ_EQUEUE_FULL);
    fx_free(&f);
}

/* ------------------------------------------------------------ reconnect */

/* A (QoS 1), B (QoS 2, PUBREC'd), C (QoS 2) in flight, D queued offline. */
static void inflight_then_lost(fx *f, int *ids)
{
    set(f, LMQ_OPT_CLEAN_START, 0);
    fx_connect(f, 0);
    ids[0] = fx_pub(f, "t", "A", 1);
    ids[1] = fx_pub(f, "t", "B", 2);
    ids[2] = fx_pub(f, "t", "C", 2);
    lmq_packet rec = fx_ack(LMQ_PUBREC, 2, 0);
    CHECK_INT(fx_feed(f, &rec), 0);
    fx_reconnect(f);
    ids[3] = fx_pub(f, "t", "D", 1);
}

static void test_reconnect_with_session_resends_with_dup_and_same_ids(void)
{
    fx f;
    int ids[4];
    fx_init(&f, 4);
    inflight_then_lost(&f, ids);
    fx_connect(&f, 1);
    /* [MQTT-4.4.0-1] original order, same ids, DUP set; PUBREL for B.
     * DUP is set by retransmission alone [MQTT-3.3.1-3]: 1 on these, 0
     * on the new D */
    CHECK_INT(fx_next(&f), LMQ_PUBLISH);
    CHECK_INT(f.pkt.u.publish.packet_id, 1);
    CHECK_INT(f.pkt.u.publish.dup, 1);
    CHECK_MEM(f.pkt.u.publish.payload.p, "A", 1);
    CHECK_INT(fx_next(&f), LMQ_PUBREL);
    CHECK_INT(f.pkt.u.ack.packet_id, 2);
    CHECK_INT(fx_next(&f), LMQ_PUBLISH);
    CHECK_INT(f.pkt.u.publish.packet_id, 3);
    CHECK_INT(f.pkt.u.publish.dup, 1);
    /* then the new one */
    CHECK_INT(fx_next(&f), LMQ_PUBLISH);
    CHECK_INT(f.pkt.u.publish.dup, 0);
    CHECK_INT(f.pkt.u.publish.packet_id, 4);
    CHECK_MEM(f.pkt.u.publish.payload.p, "D", 1);
    CHECK_INT(fx_next(&f), 0);
    lmq_packet comp = fx_ack(LMQ_PUBCOMP, 2, 0);
    CHECK_INT(fx_feed(&f, &comp), 0);
    fx_events(&f);
    CHECK(published(&f, ids[1]) && published(&f, ids[1])->error == 0);
    fx_free(&f);
}

static void test_reconnect_without_session_sends_unacked_as_new(void)
{
    fx f;
    int ids[4];
    fx_init(&f, 4);
    inflight_then_lost(&f, ids);
    fx_connect(&f, 0);
    /* documented in session.h: B got PUBREC, so it is complete; A and C
     * go again as new messages (no DUP), before D: the old ids and flow
     * states are discarded [MQTT-3.2.2-5] */
    const lmq_event *ev = published(&f, ids[1]);
    CHECK(ev && ev->error == 0);
    CHECK(published(&f, ids[0]) == NULL);
    const char *want = "ACD";
    for (int i = 0; i < 3; i++) {
        CHECK_INT(fx_next(&f), LMQ_PUBLISH);
        CHECK_INT(f.pkt.u.publish.dup, 0);
        CHECK_INT(f.pkt.u.publish.payload.p[0], want[i]);
    }
    CHECK_INT(fx_next(&f), 0);
    lmq_session_stats st;
    lmq_session_stats_get(f.s, &st);
    CHECK_INT(st.inflight_out, 3);
    fx_free(&f);
}

/* ------------------------------------------------------------------- in */

static void test_incoming_qos0_and_qos1_are_delivered_and_acked(void)
{
    fx f;
    fx_init(&f, 4);
    fx_connect(&f, 0);
    lmq_packet p0 = fx_publish("s/0", "zero", 0, 0);
    CHECK_INT(fx_feed(&f, &p0), 0);
    CHECK_INT(fx_next(&f), 0);
    lmq_packet p1 = fx_publish("s/1", "one", 1, 5);
    p1.u.publish.retain = 1;
    CHECK_INT(fx_feed(&f, &p1), 0);
    /* [MQTT-3.3.4-1] the answer the QoS asks for: none for QoS 0, PUBACK
     * for QoS 1.  [MQTT-4.3.2-4] PUBACK 40 02 00 05: the PUBLISH's id
     * [MQTT-2.2.1-5], no Reason String or User Property [MQTT-3.4.2-2]
     * [MQTT-3.4.2-3].  No subscription matches here: acknowledged all the
     * same [MQTT-4.5.0-2] */
    static const uint8_t want[] = { 0x40, 0x02, 0x00, 0x05 };
    fx_drain(&f);
    CHECK_INT(f.on - f.opos, 4);
    CHECK_MEM(f.ob + f.opos, want, 4);
    fx_events(&f);
    CHECK_INT(fx_count(&f, LMQ_EV_MESSAGE), 2);
    const lmq_event *ev = &f.ev[1];
    CHECK_INT(ev->type, LMQ_EV_MESSAGE);
    CHECK_INT(ev->qos, 1);
    CHECK_INT(ev->retain, 1);
    CHECK_INT(ev->ack_id, 0);
    CHECK_INT(ev->packet_id, 5);                /* the PUBLISH's packet identifier */
    CHECK_INT(f.ev[0].packet_id, 0);            /* QoS 0 has none */
    CHECK_INT(ev->topic_len, 3);
    CHECK_MEM(ev->topic, "s/1", 3);
    CHECK_INT(ev->payload_len, 3);
    fx_free(&f);
}

static void test_incoming_qos2_is_delivered_exactly_once(void)
{
    fx f;
    fx_init(&f, 5);
    fx_connect(&f, 0);
    lmq_packet p = fx_publish("q", "two", 2, 9);
    CHECK_INT(fx_feed(&f, &p), 0);
    CHECK_INT(fx_next(&f), LMQ_PUBREC);             /* [MQTT-4.3.3-8] */
    CHECK_INT(f.pkt.u.ack.packet_id, 9);            /* [MQTT-2.2.1-5] */
    CHECK_INT(f.raw_n, 4);          /* no properties [MQTT-3.5.2-2] [MQTT-3.5.2-3] */
    fx_events(&f);
    CHECK_INT(fx_count(&f, LMQ_EV_MESSAGE), 1);
    /* the same again (DUP): PUBREC again, not delivered [MQTT-4.3.3-10] */
    p.u.publish.dup = 1;
    CHECK_INT(fx_feed(&f, &p), 0);
    CHECK_INT(fx_next(&f), LMQ_PUBREC);
    fx_events(&f);
    CHECK_INT(fx_count(&f, LMQ_EV_MESSAGE), 0);
    lmq_packet rel = fx_ack(LMQ_PUBREL, 9, 0);
    CHECK_INT(fx_feed(&f, &rel), 0);
    CHECK_INT(fx_next(&f), LMQ_PUBCOMP);            /* [MQTT-4.3.3-11] */
    CHECK_INT(f.pkt.u.ack.reason, 0);
    CHECK_INT(f.raw_n, 4);          /* no properties [MQTT-3.7.2-2] [MQTT-3.7.2-3] */
    /* after PUBCOMP the id is new again [MQTT-4.3.3-12] */
    p.u.publish.dup = 0;
    CHECK_INT(fx_feed(&f, &p), 0);
    fx_events(&f);
    CHECK_INT(fx_count(&f, LMQ_EV_MESSAGE), 1);
    fx_free(&f);
}

static void test_pubrel_for_unknown_id_gets_pubcomp_0x92(void)
{
    fx f;
    fx_init(&f, 5);
    fx_connect(&f, 0);
    lmq_packet rel = fx_ack(LMQ_PUBREL, 33, 0);
    CHECK_INT(fx_feed(&f, &rel), 0);
    CHECK_INT(fx_next(&f), LMQ_PUBCOMP);
    CHECK_INT(f.pkt.u.ack.packet_id, 33);
    CHECK_INT(f.pkt.u.ack.reason, 0x92);
    fx_free(&f);
}

static void test_incoming_qos2_state_survives_a_reconnect_with_session(void)
{
    fx f;
    fx_init(&f, 4);
    lmq_session_set_int(f.s, LMQ_OPT_CLEAN_START, 0);
    fx_connect(&f, 0);
    lmq_packet p = fx_publish("q", "two", 2, 4);
    CHECK_INT(fx_feed(&f, &p), 0);
    fx_reconnect(&f);
    fx_connect(&f, 1);
    p.u.publish.dup = 1;
    CHECK_INT(fx_feed(&f, &p), 0);
    CHECK_INT(fx_next(&f), LMQ_PUBREC);
    fx_events(&f);
    CHECK_INT(fx_count(&f, LMQ_EV_MESSAGE), 0);     /* [MQTT-4.3.3-10] */
    fx_free(&f);
}

static void test_manual_ack(void)
{
    fx f;
    fx_init(&f, 5);
    set(&f, LMQ_OPT_MANUAL_ACK, 1);
    fx_connect(&f, 0);
    lmq_packet p1 = fx_publish("m", "1", 1, 1);
    lmq_packet p2 = fx_publish("m", "2", 2, 2);
    CHECK_INT(fx_feed(&f, &p1), 0);
    CHECK_INT(fx_feed(&f, &p2), 0);
    CHECK_INT(fx_next(&f), 0);                      /* nothing until acked */
    fx_events(&f);
    CHECK_INT(fx_count(&f, LMQ_EV_MESSAGE), 2);
    int32_t a1 = f.ev[0].ack_id, a2 = f.ev[1].ack_id;
    CHECK(a1 > 0 && a2 > 0 && a1 != a2);
    lmq_session_stats st;
    lmq_session_stats_get(f.s, &st);
    CHECK_INT(st.inflight_in, 2);
    CHECK_INT(lmq_session_ack(f.s, a1, 0, f.now), 0);
    CHECK_INT(fx_next(&f), LMQ_PUBACK);
    CHECK_INT(f.pkt.u.ack.packet_id, 1);
    CHECK_INT(lmq_session_ack(f.s, a1, 0, f.now), LMQ_EINVAL);  /* acked already */
    CHECK_INT(lmq_session_ack(f.s, a2, 0x80, f.now), 0);
    CHECK_INT(fx_next(&f), LMQ_PUBREC);
    CHECK_INT(f.pkt.u.ack.reason, 0x80);
    lmq_session_stats_get(f.s, &st);
    CHECK_INT(st.inflight_in, 0);   /* the flow ended at PUBREC 0x80 [MQTT-4.3.3-9] */
    fx_free(&f);
}

static void test_manual_ack_for_an_old_connection_is_refused(void)
{
    fx f;
    fx_init(&f, 4);
    set(&f, LMQ_OPT_MANUAL_ACK, 1);
    lmq_session_set_int(f.s, LMQ_OPT_CLEAN_START, 0);
    fx_connect(&f, 0);
    lmq_packet p1 = fx_publish("m", "1", 1, 1);
    CHECK_INT(fx_feed(&f, &p1), 0);
    fx_events(&f);
    int32_t a = f.ev[0].ack_id;
    fx_reconnect(&f);
    fx_connect(&f, 1);
    CHECK_INT(lmq_session_ack(f.s, a, 0, f.now), LMQ_ESTATE);
    CHECK_INT(fx_next(&f), 0);
    fx_free(&f);
}

static void test_incoming_topic_alias_is_resolved(void)
{
    fx f;
    fx_init(&f, 5);
    set(&f, LMQ_OPT_TOPIC_ALIAS_MAXIMUM, 2);
    fx_connect(&f, 0);
    lmq_packet p = fx_publish("x/y", "1", 0, 0);
    p.u.publish.props.topic_alias = 2;
    lmq_props_set(&p.u.publish.props, LMQ_PROP_TOPIC_ALIAS);
    CHECK_INT(fx_feed(&f, &p), 0);
    lmq_packet q = fx_publish("", "2", 0, 0);
    q.u.publish.props.topic_alias = 2;
    lmq_props_set(&q.u.publish.props, LMQ_PROP_TOPIC_ALIAS);
    CHECK_INT(fx_feed(&f, &q), 0);
    fx_events(&f);
    CHECK_INT(fx_count(&f, LMQ_EV_MESSAGE), 2);
    CHECK_INT(f.ev[1].topic_len, 3);
    CHECK_MEM(f.ev[1].topic, "x/y", 3);
    fx_free(&f);
}

static void alias_error(int max, int alias, const char *topic)
{
    fx f;
    fx_init(&f, 5);
    set(&f, LMQ_OPT_TOPIC_ALIAS_MAXIMUM, max);
    fx_connect(&f, 0);
    lmq_packet p = fx_publish(topic, "1", 0, 0);
    p.u.publish.props.topic_alias = (uint16_t)alias;
    lmq_props_set(&p.u.publish.props, LMQ_PROP_TOPIC_ALIAS);
    CHECK_INT(fx_feed(&f, &p), LMQ_EALIAS);
    CHECK_INT(fx_next(&f), LMQ_DISCONNECT);
    CHECK_INT(f.pkt.u.disconnect.reason, 0x94);
    fx_events(&f);
    const lmq_event *ev = fx_find(&f, LMQ_EV_DISCONNECTED);
    CHECK(ev && ev->error == LMQ_EALIAS);
    CHECK_INT(fx_count(&f, LMQ_EV_MESSAGE), 0);
    fx_free(&f);
}

static void test_incoming_topic_alias_errors_disconnect_0x94(void)
{
    alias_error(0, 1, "a");     /* we allowed none [MQTT-3.3.2-10] */
    alias_error(2, 3, "a");     /* above our maximum [MQTT-3.3.2-9] */
    alias_error(2, 1, "");      /* never set on this connection */
}

static void test_server_overshooting_our_receive_maximum_is_tolerated_by_default(void)
{
    fx f;
    fx_init(&f, 5);
    set(&f, LMQ_OPT_RECEIVE_MAXIMUM, 2);
    set(&f, LMQ_OPT_MANUAL_ACK, 1);
    fx_connect(&f, 0);
    fx_events(&f);
    lmq_packet p = fx_publish("r", "1", 1, 1);
    CHECK_INT(fx_feed(&f, &p), 0);
    p.u.publish.packet_id = 2;
    CHECK_INT(fx_feed(&f, &p), 0);
    /* a third and a fourth unacknowledged one: taken, delivered, and one
     * warning for the connection; no DISCONNECT goes out */
    p.u.publish.packet_id = 3;
    CHECK_INT(fx_feed(&f, &p), 0);
    p.u.publish.packet_id = 4;
    CHECK_INT(fx_feed(&f, &p), 0);
    fx_events(&f);
    CHECK_INT(fx_count(&f, LMQ_EV_MESSAGE), 4);
    int warnings = 0;
    for (int i = 0; i < f.nev; i++)
        warnings += f.ev[i].type == LMQ_EV_LOG && f.ev[i].log_level == LMQ_LOG_WARNING &&
                    strstr(f.ev[i].text, "Receive Maximum") != NULL;
    CHECK_INT(warnings, 1);
    CHECK_INT(lmq_session_state(f.s), LMQ_SS_CONNECTED);
    const uint8_t *out;
    CHECK_INT(lmq_session_out(f.s, &out), 0);      /* nothing sent: acks are manual */
    fx_free(&f);
}

static void test_our_receive_maximum_is_enforced_in_strict_mode(void)
{
    fx f;
    fx_init(&f, 5);
    set(&f, LMQ_OPT_STRICT_RECEIVE_MAX, 1);
    set(&f, LMQ_OPT_RECEIVE_MAXIMUM, 2);
    set(&f, LMQ_OPT_MANUAL_ACK, 1);
    fx_connect(&f, 0);
    lmq_packet p = fx_publish("r", "1", 1, 1);
    CHECK_INT(fx_feed(&f, &p), 0);
    p.u.publish.packet_id = 2;
    CHECK_INT(fx_feed(&f, &p), 0);
    p.u.publish.packet_id = 3;
    /* [MQTT-3.3.4-9] a third unacknowledged one: DISCONNECT 0x93 */
    CHECK_INT(fx_feed(&f, &p), LMQ_ERECEIVE_MAX);
    CHECK_INT(fx_next(&f), LMQ_DISCONNECT);
    CHECK_INT(f.pkt.u.disconnect.reason, 0x93);
    fx_free(&f);
}

static void test_subscription_identifiers_reach_the_message_event(void)
{
    fx f;
    fx_init(&f, 5);
    fx_connect(&f, 0);
    /* hand-written: PUBLISH "t", props: sub id 3, sub id 200 (varint), "p" */
    static const uint8_t pub[] = { 0x30, 0x0A, 0, 1, 't', 0x05, 0x0B, 0x03,
                                   0x0B, 0xC8, 0x01, 'p' };
    CHECK_INT(fx_feed_bytes(&f, pub, sizeof pub), 0);
    fx_events(&f);
    const lmq_event *ev = fx_find(&f, LMQ_EV_MESSAGE);
    int64_t v = 0;
    CHECK(ev != NULL);
    CHECK_INT(lmq_event_prop_int(ev, LMQ_PROP_SUBSCRIPTION_ID, 0, &v), 1);
    CHECK_INT(v, 3);
    CHECK_INT(lmq_event_prop_int(ev, LMQ_PROP_SUBSCRIPTION_ID, 1, &v), 1);
    CHECK_INT(v, 200);
    CHECK_INT(lmq_event_prop_int(ev, LMQ_PROP_SUBSCRIPTION_ID, 2, &v), 0);
    CHECK(ev && ev->payload_len == 1);
    fx_free(&f);
}

/* ------------------------------------------------------- errors, scale */

/* An ack for a packet id not in flight (or of the wrong kind for the flow
 * under that id) is logged, counted and ignored at every level: no
 * DISCONNECT, the connection and the messages in flight carry on.  A
 * stray PUBREC is answered with PUBREL (0x92 at v5) so the server's flow
 * ends [MQTT-4.3.3-11] works the same way for PUBREL. */
static void stray_acks_are_ignored(int level)
{
    fx f;
    lmq_session_stats st;
    fx_init(&f, level);
    fx_connect(&f, 0);
    lmq_packet ack = fx_ack(LMQ_PUBACK, 77, 0);
    CHECK_INT(fx_feed(&f, &ack), 0);
    CHECK_INT(fx_next(&f), 0);                      /* nothing answers a PUBACK */
    lmq_packet comp = fx_ack(LMQ_PUBCOMP, 78, 0);
    CHECK_INT(fx_feed(&f, &comp), 0);
    CHECK_INT(fx_next(&f), 0);
    lmq_packet rec = fx_ack(LMQ_PUBREC, 79, 0);
    CHECK_INT(fx_feed(&f, &rec), 0);
    CHECK_INT(fx_next(&f), LMQ_PUBREL);
    CHECK_INT(f.pkt.u.ack.packet_id, 79);
    if (level == 5)
        CHECK_INT(f.pkt.u.ack.reason, 0x92);       /* Packet Identifier not found */
    /* PUBCOMP before PUBREC, PUBACK for a QoS 2 message: the wrong flow
     * for that id, ignored; the message stays in flight. */
    int id = fx_pub(&f, "t", "x", 2);
    CHECK_INT(fx_next(&f), LMQ_PUBLISH);
    uint16_t pid = f.pkt.u.publish.packet_id;
    comp = fx_ack(LMQ_PUBCOMP, pid, 0);
    CHECK_INT(fx_feed(&f, &comp), 0);
    ack = fx_ack(LMQ_PUBACK, pid, 0);
    CHECK_INT(fx_feed(&f, &ack), 0);
    CHECK_INT(fx_next(&f), 0);
    lmq_session_stats_get(f.s, &st);
    CHECK_INT(st.inflight_out, 1);      /* the table is untouched */
    CHECK_INT((int)st.stray_acks, 5);
    CHECK_INT(lmq_session_state(f.s), LMQ_SS_CONNECTED);
    /* and the real flow still completes */
    rec = fx_ack(LMQ_PUBREC, pid, 0);
    CHECK_INT(fx_feed(&f, &rec), 0);
    CHECK_INT(fx_next(&f), LMQ_PUBREL);
    comp = fx_ack(LMQ_PUBCOMP, pid, 0);
    CHECK_INT(fx_feed(&f, &comp), 0);
    fx_events(&f);
    const lmq_event *ev = published(&f, id);
    CHECK(ev && ev->error == 0);
    const lmq_event *log = fx_find(&f, LMQ_EV_LOG);
    CHECK(log && strstr(log->text, "not in flight: ignored"));
    fx_free(&f);
}

static void test_stray_acks_are_logged_counted_and_ignored_v5(void)
{
    stray_acks_are_ignored(5);
}

static void test_stray_acks_are_logged_counted_and_ignored_v311(void)
{
    stray_acks_are_ignored(4);
}

static void test_malformed_input_disconnects_0x81(void)
{
    fx f;
    fx_init(&f, 5);
    fx_connect(&f, 0);
    static const uint8_t bad[] = { 0x40, 0x01, 0x00 };  /* PUBACK cut short */
    CHECK_INT(fx_feed_bytes(&f, bad, sizeof bad), LMQ_EMAL_SHORT);
    CHECK_INT(fx_next(&f), LMQ_DISCONNECT);
    CHECK_INT(f.pkt.u.disconnect.reason, 0x81);
    fx_events(&f);
    const lmq_event *ev = fx_find(&f, LMQ_EV_DISCONNECTED);
    CHECK(ev && ev->error == LMQ_EMAL_SHORT && ev->reason == 0x81);
    fx_free(&f);
}

static void test_packet_over_our_maximum_disconnects_0x95(void)
{
    fx f;
    fx_init(&f, 5);
    set(&f, LMQ_OPT_MAXIMUM_PACKET_SIZE, 50);
    fx_connect(&f, 0);
    static char big[101];
    memset(big, 'z', 100);
    lmq_packet p = fx_publish("t", big, 0, 0);
    CHECK_INT(fx_feed(&f, &p), LMQ_EMAL_TOO_LARGE);
    CHECK_INT(fx_next(&f), LMQ_DISCONNECT);
    CHECK_INT(f.pkt.u.disconnect.reason, 0x95);
    fx_free(&f);
}

static void test_input_split_into_single_bytes(void)
{
    fx f;
    fx_init(&f, 4);
    fx_connect(&f, 0);
    /* the session reads an ordered stream of bytes, however the transport
     * cuts it [MQTT-4.2-1] */
    static const uint8_t pub[] = { 0x32, 0x06, 0, 1, 'a', 0, 9, 'z' };
    for (size_t i = 0; i < sizeof pub; i++)
        CHECK_INT(fx_feed_bytes(&f, pub + i, 1), 0);
    CHECK_INT(fx_next(&f), LMQ_PUBACK);
    CHECK_INT(f.pkt.u.ack.packet_id, 9);
    fx_free(&f);
}

static void test_ten_thousand_messages_in_flight_complete(void)
{
    enum { N = 10000 };
    fx f;
    fx_init(&f, 5);
    fx_connect(&f, 0);
    static int ids[N + 1];
    static uint16_t pids[N];
    for (int i = 0; i < N; i++)
        ids[i] = fx_pub(&f, "bulk", "x", 1);
    for (int i = 0; i < N; i++) {
        CHECK_INT(fx_next(&f), LMQ_PUBLISH);
        pids[i] = f.pkt.u.publish.packet_id;
    }
    lmq_session_stats st;
    lmq_session_stats_get(f.s, &st);
    CHECK_INT(st.inflight_out, N);
    /* acked in reverse: each lookup is by id, not by position */
    static uint8_t acks[N * 4];
    for (int i = 0; i < N; i++) {
        uint16_t pid = pids[N - 1 - i];
        acks[4 * i] = 0x40;
        acks[4 * i + 1] = 2;
        acks[4 * i + 2] = (uint8_t)(pid >> 8);
        acks[4 * i + 3] = (uint8_t)pid;
    }
    CHECK_INT(fx_feed_bytes(&f, acks, sizeof acks), 0);
    fx_events(&f);
    CHECK_INT(fx_count(&f, LMQ_EV_PUBLISHED), N > FX_MAX_EV ? FX_MAX_EV : N);
    int done = fx_count(&f, LMQ_EV_PUBLISHED);
    CHECK(f.ev[0].msg_id == ids[N - 1]);
    while (fx_events(&f) > 0) {
        for (int i = 0; i < f.nev; i++)
            CHECK_INT(f.ev[i].error, 0);
        done += fx_count(&f, LMQ_EV_PUBLISHED);
    }
    CHECK_INT(done, N);
    lmq_session_stats_get(f.s, &st);
    CHECK_INT(st.inflight_out, 0);
    fx_free(&f);
}

/* ------------------------------------------ conformance (flows, order) */

static void test_new_qos2_messages_take_unused_ids(void)
{
    fx f;
    fx_init(&f, 5);
    fx_connect(&f, 0);
    int ids[3];
    for (int i = 0; i < 3; i++) {
        CHECK(fx_pub(&f, "t", "x", 2) > 0);
        CHECK_INT(fx_next(&f), LMQ_PUBLISH);
        ids[i] = f.pkt.u.publish.packet_id;
    }
    /* [MQTT-4.3.3-1] non-zero, and none in use twice */
    CHECK(ids[0] && ids[1] && ids[2]);
    CHECK(ids[0] != ids[1] && ids[1] != ids[2] && ids[0] != ids[2]);
    /* still in use after PUBREC (until PUBCOMP): the next one differs */
    lmq_packet rec = fx_ack(LMQ_PUBREC, ids[0], 0);
    CHECK_INT(fx_feed(&f, &rec), 0);
    fx_skip_all(&f);
    CHECK(fx_pub(&f, "t", "x", 2) > 0);
    CHECK_INT(fx_next(&f), LMQ_PUBLISH);
    CHECK(f.pkt.u.publish.packet_id != ids[0] && f.pkt.u.publish.packet_id != ids[1] &&
          f.pkt.u.publish.packet_id != ids[2]);
    fx_free(&f);
}

static void test_after_puback_the_same_id_is_a_new_message(void)
{
    fx f;
    fx_init(&f, 5);
    fx_connect(&f, 0);
    lmq_packet p = fx_publish("a", "one", 1, 4);
    CHECK_INT(fx_feed(&f, &p), 0);
    CHECK_INT(fx_next(&f), LMQ_PUBACK);
    /* [MQTT-4.3.2-5] after our PUBACK, id 4 is a new message even with
     * DUP set: delivered and acknowledged again */
    p.u.publish.dup = 1;
    p.u.publish.payload = (lmq_slice){ (const uint8_t *)"two", 3 };
    CHECK_INT(fx_feed(&f, &p), 0);
    CHECK_INT(fx_next(&f), LMQ_PUBACK);
    CHECK_INT(f.pkt.u.ack.packet_id, 4);
    fx_events(&f);
    CHECK_INT(fx_count(&f, LMQ_EV_MESSAGE), 2);
    fx_free(&f);
}

static void test_acks_go_in_the_order_of_what_they_answer(void)
{
    fx f;
    static const int in[] = { 7, 3, 9, 1 };
    fx_init(&f, 5);
    fx_connect(&f, 0);
    /* [MQTT-4.6.0-2] PUBACKs in the order the QoS 1 PUBLISH came */
    for (int i = 0; i < 4; i++) {
        lmq_packet p = fx_publish("a", "x", 1, in[i]);
        CHECK_INT(fx_feed(&f, &p), 0);
    }
    for (int i = 0; i < 4; i++) {
        CHECK_INT(fx_next(&f), LMQ_PUBACK);
        CHECK_INT(f.pkt.u.ack.packet_id, in[i]);
    }
    /* [MQTT-4.6.0-3] PUBRECs in the order the QoS 2 PUBLISH came, even in
     * one read */
    uint8_t buf[256];
    size_t n = 0;
    for (int i = 0; i < 4; i++) {
        lmq_packet p = fx_publish("a", "x", 2, 100 + in[i]);
        int64_t w = lmq_encode_as(&p, 5, LMQ_FROM_SERVER, buf + n, sizeof buf - n);
        CHECK(w > 0);
        n += (size_t)(w > 0 ? w : 0);
    }
    CHECK_INT(fx_feed_bytes(&f, buf, n), 0);
    for (int i = 0; i < 4; i++) {
        CHECK_INT(fx_next(&f), LMQ_PUBREC);
        CHECK_INT(f.pkt.u.ack.packet_id, 100 + in[i]);
    }
    CHECK_INT(fx_next(&f), 0);
    fx_free(&f);
}

static void test_pubrels_go_in_the_order_the_pubrecs_came(void)
{
    fx f;
    fx_init(&f, 5);
    fx_connect(&f, 0);
    int ids[4];
    for (int i = 0; i < 4; i++) {
        CHECK(fx_pub(&f, "t", "x", 2) > 0);
        CHECK_INT(fx_next(&f), LMQ_PUBLISH);
        ids[i] = f.pkt.u.publish.packet_id;
    }
    /* [MQTT-4.6.0-4] the server answers out of order: PUBRELs follow the
     * order of the PUBRECs, not of our PUBLISH */
    static const int order[] = { 2, 0, 3, 1 };
    for (int i = 0; i < 4; i++) {
        lmq_packet rec = fx_ack(LMQ_PUBREC, ids[order[i]], 0);
        CHECK_INT(fx_feed(&f, &rec), 0);
    }
    for (int i = 0; i < 4; i++) {
        CHECK_INT(fx_next(&f), LMQ_PUBREL);
        CHECK_INT(f.pkt.u.ack.packet_id, ids[order[i]]);
    }
    fx_free(&f);
}

static void test_a_full_window_delays_only_publish(void)
{
    fx f;
    fx_init(&f, 5);
    set(&f, LMQ_OPT_KEEPALIVE, 10);
    lmq_packet ca = fx_connack(0, 0);
    ca.u.connack.props.receive_maximum = 1;
    lmq_props_set(&ca.u.connack.props, LMQ_PROP_RECEIVE_MAXIMUM);
    fx_connect_with(&f, &ca);
    CHECK(fx_pub(&f, "t", "1", 1) > 0);
    CHECK(fx_pub(&f, "t", "2", 1) > 0);
    CHECK_INT(fx_next(&f), LMQ_PUBLISH);
    CHECK_INT(fx_next(&f), 0);                  /* the window is full */
    /* [MQTT-3.3.4-8] everything else goes at once: SUBSCRIBE, UNSUBSCRIBE,
     * acks for incoming messages, PINGREQ */
    lmq_subscription sub = { "s", -1, 1 };
    CHECK(lmq_session_subscribe(f.s, &sub, 1, NULL, f.now) > 0);
    CHECK_INT(fx_next(&f), LMQ_SUBSCRIBE);
    const char *filters[] = { "s" };
    CHECK(lmq_session_unsubscribe(f.s, filters, NULL, 1, NULL, f.now) > 0);
    CHECK_INT(fx_next(&f), LMQ_UNSUBSCRIBE);
    lmq_packet p = fx_publish("s", "in", 1, 3);
    CHECK_INT(fx_feed(&f, &p), 0);
    CHECK_INT(fx_next(&f), LMQ_PUBACK);
    CHECK_INT(lmq_session_tick(f.s, f.now + 10000), 0);
    CHECK_INT(fx_next(&f), LMQ_PINGREQ);
    CHECK_INT(fx_next(&f), 0);                  /* and still not PUBLISH 2 */
    fx_free(&f);
}

static void test_qos2_flow_completes_after_the_message_expired(void)
{
    fx f;
    fx_init(&f, 5);
    fx_connect(&f, 0);
    lmq_packet p = fx_publish("e", "x", 2, 11);
    p.u.publish.props.message_expiry = 1;
    lmq_props_set(&p.u.publish.props, LMQ_PROP_MESSAGE_EXPIRY);
    CHECK_INT(fx_feed(&f, &p), 0);
    CHECK_INT(fx_next(&f), LMQ_PUBREC);
    /* [MQTT-4.3.3-13] the PUBREL comes long after the message's lifetime:
     * the exchange still completes (no message expiry applies to it) */
    f.now += 60000;
    CHECK_INT(lmq_session_tick(f.s, f.now), 0);
    CHECK_INT(fx_next(&f), LMQ_PINGREQ);        /* idle for the keepalive */
    lmq_packet rel = fx_ack(LMQ_PUBREL, 11, 0);
    CHECK_INT(fx_feed(&f, &rel), 0);
    CHECK_INT(fx_next(&f), LMQ_PUBCOMP);
    CHECK_INT(f.pkt.u.ack.packet_id, 11);
    CHECK_INT(f.pkt.u.ack.reason, 0);
    fx_free(&f);
}

static void test_no_alias_when_the_server_allows_none(void)
{
    fx f;
    fx_init(&f, 5);
    fx_connect(&f, 0);          /* no Topic Alias Maximum in CONNACK */
    for (int i = 0; i < 3; i++)
        fx_pub(&f, "t/1", "a", 0);
    /* [MQTT-3.2.2-18] absent means 0: never an alias */
    for (int i = 0; i < 3; i++) {
        CHECK_INT(fx_next(&f), LMQ_PUBLISH);
        CHECK_INT(f.pkt.u.publish.topic.n, 3);
        CHECK(!lmq_props_has(&f.pkt.u.publish.props, LMQ_PROP_TOPIC_ALIAS));
    }
    fx_free(&f);
}

/* ------------------------------------------ QoS 0 completion, drain */

/* A QoS 0 message is complete when the socket took its last byte, not when
 * it was encoded: the backlog counts it until then. */
static void test_qos0_completes_when_its_bytes_are_written(void)
{
    fx f;
    lmq_session_stats st;
    fx_init(&f, 5);
    fx_connect(&f, 0);
    int id = fx_pub(&f, "t", "x", 0);
    CHECK(id > 0);
    fx_events(&f);
    CHECK(published(&f, id) == NULL);
    lmq_session_stats_get(f.s, &st);
    CHECK_INT((int)st.unwritten_msgs, 1);
    /* the socket takes all but the last byte: still not complete */
    const uint8_t *p;
    size_t n = lmq_session_out(f.s, &p);
    CHECK(n > 1);
    lmq_session_sent(f.s, n - 1, f.now);
    fx_events(&f);
    CHECK(published(&f, id) == NULL);
    lmq_session_sent(f.s, 1, f.now);
    fx_events(&f);
    const lmq_event *ev = published(&f, id);
    CHECK(ev && ev->error == 0);
    lmq_session_stats_get(f.s, &st);
    CHECK_INT((int)st.unwritten_msgs, 0);
    CHECK_INT((int)st.unwritten_bytes, 0);
    fx_free(&f);
}

/* No more than 64 KiB is encoded ahead of the socket; the rest waits as
 * messages under the queue's bounds (LMQ_EQUEUE_FULL past them), and goes
 * as the socket takes bytes. */
static void test_qos0_backlog_is_bounded_and_drains_as_written(void)
{
    fx f;
    lmq_session_stats st;
    char payload[1001];
    memset(payload, 'p', 1000);
    payload[1000] = 0;
    fx_init(&f, 5);
    set(&f, LMQ_OPT_OFFLINE_MAX_MSGS, 200);
    fx_connect(&f, 0);
    int accepted = 0, full = 0;
    for (int i = 0; i < 400; i++) {
        int rc = fx_pub(&f, "t", payload, 0);
        if (rc > 0)
            accepted++;
        else if (rc == LMQ_EQUEUE_FULL)
            full++;
    }
    const uint8_t *p;
    CHECK(lmq_session_out(f.s, &p) < 64u * 1024u + 1100u);
    lmq_session_stats_get(f.s, &st);
    CHECK_INT((int)st.unwritten_msgs, accepted);
    CHECK(full > 0);                        /* refused, never silently kept */
    CHECK_INT(accepted + full, 400);
    fx_skip_all(&f);                        /* the socket takes everything */
    fx_events(&f);
    CHECK_INT(fx_count(&f, LMQ_EV_PUBLISHED), accepted);
    lmq_session_stats_get(f.s, &st);
    CHECK_INT((int)st.unwritten_msgs, 0);
    fx_free(&f);
}

/* A QoS 0 message not written whole when the link broke goes again on the
 * next connection (the server cannot have taken half a packet). */
static void test_qos0_not_written_whole_goes_again_after_a_reconnect(void)
{
    fx f;
    fx_init(&f, 5);
    fx_connect(&f, 0);
    int id = fx_pub(&f, "t", "hello", 0);
    const uint8_t *p;
    size_t n = lmq_session_out(f.s, &p);
    lmq_session_sent(f.s, n - 2, f.now);    /* cut mid-packet */
    fx_reconnect(&f);
    CHECK(published(&f, id) == NULL);
    fx_connect(&f, 0);
    CHECK_INT(fx_next(&f), LMQ_PUBLISH);
    CHECK_INT((int)f.pkt.u.publish.payload.n, 5);
    fx_events(&f);
    CHECK(published(&f, id) != NULL);
    fx_free(&f);
}

/* Our DISCONNECT waits for what was accepted: here a QoS 1 PUBACK and a
 * queued message behind the server's Receive Maximum; publish is refused
 * meanwhile.  Then it goes, and nothing is reported undelivered. */
static void test_disconnect_delivers_the_backlog_first(void)
{
    fx f;
    fx_init(&f, 5);
    lmq_packet ca = fx_connack(0, 0);
    ca.u.connack.props.receive_maximum = 1;
    lmq_props_set(&ca.u.connack.props, LMQ_PROP_RECEIVE_MAXIMUM);
    fx_connect_with(&f, &ca);
    int a = fx_pub(&f, "t", "a", 1), b = fx_pub(&f, "t", "b", 1);
    CHECK_INT(fx_next(&f), LMQ_PUBLISH);
    uint16_t pa = f.pkt.u.publish.packet_id;
    CHECK_INT(lmq_session_disconnect(f.s, 0, NULL, f.now), 0);
    CHECK_INT(fx_pub(&f, "t", "late", 1), LMQ_ESTATE);
    CHECK_INT(fx_next(&f), 0);              /* no DISCONNECT yet */
    lmq_packet ack = fx_ack(LMQ_PUBACK, pa, 0);
    CHECK_INT(fx_feed(&f, &ack), 0);
    CHECK_INT(fx_next(&f), LMQ_PUBLISH);    /* b goes */
    uint16_t pb = f.pkt.u.publish.packet_id;
    CHECK_INT(fx_next(&f), 0);
    ack = fx_ack(LMQ_PUBACK, pb, 0);
    CHECK_INT(fx_feed(&f, &ack), 0);
    CHECK_INT(fx_next(&f), LMQ_DISCONNECT);
    CHECK(lmq_session_wants_close(f.s));
    lmq_session_lost(f.s, f.now, 0);
    fx_events(&f);
    CHECK(published(&f, a) && published(&f, b));
    CHECK(fx_find(&f, LMQ_EV_ERROR) == NULL);
    CHECK_INT((int)lmq_session_undelivered(f.s), 0);
    fx_free(&f);
}

/* The drain has a bound (LMQ_OPT_DRAIN_TIMEOUT_MS): then DISCONNECT goes
 * and what is left is reported, as an event and in the error message. */
static void test_disconnect_reports_what_the_drain_could_not_deliver(void)
{
    fx f;
    fx_init(&f, 5);
    set(&f, LMQ_OPT_DRAIN_TIMEOUT_MS, 500);
    fx_connect(&f, 0);
    fx_pub(&f, "t", "a", 1);
    fx_pub(&f, "t", "b", 2);
    fx_skip_all(&f);
    CHECK_INT(lmq_session_disconnect(f.s, 0, NULL, f.now), 0);
    CHECK_INT(fx_next(&f), 0);
    CHECK(lmq_session_deadline(f.s) <= f.now + 500);
    f.now += 500;
    CHECK_INT(lmq_session_tick(f.s, f.now), 0);
    CHECK_INT(fx_next(&f), LMQ_DISCONNECT);
    lmq_session_lost(f.s, f.now, 0);
    fx_events(&f);
    const lmq_event *ev = fx_find(&f, LMQ_EV_ERROR);
    CHECK(ev && ev->error == LMQ_EUNDELIVERED);
    CHECK(ev && strstr(ev->text, "2 accepted messages not delivered"));
    CHECK_INT((int)lmq_session_undelivered(f.s), 2);
    CHECK(strstr(lmq_session_errmsg(f.s), "not delivered") != NULL);
    fx_free(&f);
}

int main(void)
{
    RUN(test_qos0_publish_bytes_and_completion);
    RUN(test_qos1_publish_completes_on_puback);
    RUN(test_qos2_publish_pubrec_pubrel_pubcomp);
    RUN(test_pubrec_with_error_ends_the_flow);
    RUN(test_puback_with_error_fails_the_message);
    RUN(test_packet_ids_in_flight_are_never_reused);
    RUN(test_receive_maximum_window_holds_messages_in_order);
    RUN(test_maximum_qos_is_obeyed);
    RUN(test_retain_not_available_is_obeyed);
    RUN(test_nothing_larger_than_the_server_maximum_packet_size_is_sent);
    RUN(test_queued_message_too_big_for_the_next_server_fails_alone);
    RUN(test_outgoing_topic_aliases);
    RUN(test_outgoing_topic_aliases_can_be_turned_off);
    RUN(test_publish_props_are_sent_and_checked);
    RUN(test_offline_queue_refuses_when_full_and_drains_in_order);
    RUN(test_offline_queue_drops_the_oldest_when_told);
    RUN(test_offline_queue_byte_bound);
    RUN(test_reconnect_with_session_resends_with_dup_and_same_ids);
    RUN(test_reconnect_without_session_sends_unacked_as_new);
    RUN(test_incoming_qos0_and_qos1_are_delivered_and_acked);
    RUN(test_incoming_qos2_is_delivered_exactly_once);
    RUN(test_pubrel_for_unknown_id_gets_pubcomp_0x92);
    RUN(test_incoming_qos2_state_survives_a_reconnect_with_session);
    RUN(test_manual_ack);
    RUN(test_manual_ack_for_an_old_connection_is_refused);
    RUN(test_incoming_topic_alias_is_resolved);
    RUN(test_incoming_topic_alias_errors_disconnect_0x94);
    RUN(test_our_receive_maximum_is_enforced_in_strict_mode);
    RUN(test_server_overshooting_our_receive_maximum_is_tolerated_by_default);
    RUN(test_subscription_identifiers_reach_the_message_event);
    RUN(test_stray_acks_are_logged_counted_and_ignored_v5);
    RUN(test_stray_acks_are_logged_counted_and_ignored_v311);
    RUN(test_malformed_input_disconnects_0x81);
    RUN(test_packet_over_our_maximum_disconnects_0x95);
    RUN(test_input_split_into_single_bytes);
    RUN(test_ten_thousand_messages_in_flight_complete);
    RUN(test_new_qos2_messages_take_unused_ids);
    RUN(test_after_puback_the_same_id_is_a_new_message);
    RUN(test_acks_go_in_the_order_of_what_they_answer);
    RUN(test_pubrels_go_in_the_order_the_pubrecs_came);
    RUN(test_a_full_window_delays_only_publish);
    RUN(test_qos2_flow_completes_after_the_message_expired);
    RUN(test_no_alias_when_the_server_allows_none);
    RUN(test_qos0_completes_when_its_bytes_are_written);
    RUN(test_qos0_backlog_is_bounded_and_drains_as_written);
    RUN(test_qos0_not_written_whole_goes_again_after_a_reconnect);
    RUN(test_disconnect_delivers_the_backlog_first);
    RUN(test_disconnect_reports_what_the_drain_could_not_deliver);
    return check_done();
}
