/*
 * test_fake_connack.c - what the client takes from the server's CONNACK
 * (MQTT 5 limits and assignments) and how it behaves when the CONNACK is
 * missing or the connection keeps failing, scripted with the fake broker.
 */
#include "itest.h"

static int connack_with(tf_fake *f, tw_client *t, const lmq_props *props)
{
    return it_fake_handshake(f, t, LMQ_MQTT_5, props);
}

/* [MQTT-3.1.2-21] a Server Keep Alive in CONNACK replaces the client's
 * own: asked for 60 s, told 1 s, the client pings within about a second. */
static void test_server_keep_alive_replaces_the_clients_own(void)
{
    tf_fake *f = tf_fake_new();
    tw_client *t = NULL;
    tf_packet p = {0};
    lmq_props props;

    REQUIRE(f);
    t = it_fake_client(f, "ska", LMQ_MQTT_5);
    REQUIRE(t);
    lmq_client_set_int(t->c, LMQ_OPT_KEEPALIVE, 60);
    memset(&props, 0, sizeof props);
    props.server_keep_alive = 1;
    lmq_props_set(&props, LMQ_PROP_SERVER_KEEP_ALIVE);
    REQUIRE(connack_with(f, t, &props) == 0);
    int64_t t0 = tw_now_ms();
    CHECK_INT(tf_fake_read(f, 2500, &p), LMQ_PINGREQ);
    int64_t waited = tw_now_ms() - t0;
    CHECK(waited <= 1500);
    /* Answer it, and the next one comes a keepalive later again. */
    static const uint8_t pingresp[] = {0xD0, 0x00};
    REQUIRE(tf_fake_send(f, pingresp, sizeof pingresp) == 0);
    CHECK_INT(tf_fake_read(f, 2500, &p), LMQ_PINGREQ);
    CHECK_INT(tw_count(t, LMQ_EV_DISCONNECTED), 0);
done:
    tf_packet_clear(&p);
    tw_free(t);
    tf_fake_free(f);
}

/* [MQTT-3.2.2-11] nothing above the server's Maximum QoS is sent: a
 * QoS 2 publish to a server that allows 1 is refused at the call, and
 * QoS 1 still works. */
static void test_publish_above_the_servers_maximum_qos_is_refused(void)
{
    tf_fake *f = tf_fake_new();
    tw_client *t = NULL;
    tf_packet p = {0};
    lmq_props props;

    REQUIRE(f);
    t = it_fake_client(f, "maxqos", LMQ_MQTT_5);
    REQUIRE(t);
    memset(&props, 0, sizeof props);
    props.maximum_qos = 1;
    lmq_props_set(&props, LMQ_PROP_MAXIMUM_QOS);
    REQUIRE(connack_with(f, t, &props) == 0);
    CHECK_INT(tw_publish(t, "fake/maxqos", "2", 2, 0), LMQ_EQOS_NOT_SUPPORTED);
    CHECK(tw_publish(t, "fake/maxqos", "1", 1, 0) > 0);
    REQUIRE(tf_fake_expect(f, LMQ_PUBLISH, IT_SHORT_MS, &p) == 0);
    CHECK_INT(p.pkt.u.publish.qos, 1);
    CHECK_INT(tf_fake_expect_silence(f, 100, NULL), 0);
done:
    tf_packet_clear(&p);
    tw_free(t);
    tf_fake_free(f);
}

/* [MQTT-3.2.2-14] with Retain Available 0 the client sends no retained
 * message. */
static void test_retained_publish_is_refused_when_the_server_has_no_retain(void)
{
    tf_fake *f = tf_fake_new();
    tw_client *t = NULL;
    tf_packet p = {0};
    lmq_props props;

    REQUIRE(f);
    t = it_fake_client(f, "noretain", LMQ_MQTT_5);
    REQUIRE(t);
    memset(&props, 0, sizeof props);
    props.retain_available = 0;
    lmq_props_set(&props, LMQ_PROP_RETAIN_AVAILABLE);
    REQUIRE(connack_with(f, t, &props) == 0);
    CHECK_INT(tw_publish(t, "fake/retain", "r", 0, 1), LMQ_ERETAIN_NOT_SUPPORTED);
    CHECK(tw_publish(t, "fake/retain", "n", 0, 0) > 0);
    REQUIRE(tf_fake_expect(f, LMQ_PUBLISH, IT_SHORT_MS, &p) == 0);
    CHECK_INT(p.pkt.u.publish.retain, 0);
    CHECK_INT(tf_fake_expect_silence(f, 100, NULL), 0);
done:
    tf_packet_clear(&p);
    tw_free(t);
    tf_fake_free(f);
}

/* [MQTT-3.1.2-24] the client sends nothing larger than the server's
 * Maximum Packet Size (here 64 bytes): the big publish is refused, a
 * small one goes out. */
static void test_publish_over_the_servers_maximum_packet_size_is_not_sent(void)
{
    tf_fake *f = tf_fake_new();
    tw_client *t = NULL;
    tf_packet p = {0};
    lmq_props props;
    char big[100];

    memset(big, 'b', sizeof big - 1);
    big[sizeof big - 1] = 0;
    REQUIRE(f);
    t = it_fake_client(f, "srvmax", LMQ_MQTT_5);
    REQUIRE(t);
    memset(&props, 0, sizeof props);
    props.maximum_packet_size = 64;
    lmq_props_set(&props, LMQ_PROP_MAXIMUM_PACKET_SIZE);
    REQUIRE(connack_with(f, t, &props) == 0);
    CHECK_INT(tw_publish(t, "fake/big", big, 1, 0), LMQ_ESERVER_MAX_SIZE);
    CHECK(tw_publish(t, "fake/big", "small", 1, 0) > 0);
    REQUIRE(tf_fake_expect(f, LMQ_PUBLISH, IT_SHORT_MS, &p) == 0);
    CHECK(p.len <= 64);
    CHECK_INT(p.pkt.u.publish.payload.n, 5);
    CHECK_INT(tf_fake_expect_silence(f, 100, NULL), 0);
done:
    tf_packet_clear(&p);
    tw_free(t);
    tf_fake_free(f);
}

/* An empty client id lets the v5 server assign one; the CONNECTED event
 * carries the Assigned Client Identifier. */
static void test_assigned_client_identifier_is_on_the_connected_event(void)
{
    tf_fake *f = tf_fake_new();
    tw_client *t = NULL;
    tf_packet connect = {0};
    lmq_props props;
    const char *s;
    int32_t n;

    REQUIRE(f);
    t = it_fake_client(f, "unused", LMQ_MQTT_5);
    REQUIRE(t);
    CHECK_INT(lmq_client_set_str(t->c, LMQ_OPT_CLIENT_ID, "", 0), 0);
    REQUIRE(it_fake_take_connect(f, t, &connect) == 0);
    CHECK(connect.decode_rc == 0 && connect.pkt.u.connect.client_id.n == 0);
    memset(&props, 0, sizeof props);
    props.assigned_client_id.p = (const uint8_t *)"given-by-server";
    props.assigned_client_id.n = 15;
    lmq_props_set(&props, LMQ_PROP_ASSIGNED_CLIENT_ID);
    REQUIRE(tf_fake_send_connack(f, LMQ_MQTT_5, 0, 0, &props) == 0);
    tw_event *e = tw_wait(t, LMQ_EV_CONNECTED, IT_SHORT_MS);
    REQUIRE(e);
    CHECK_INT(lmq_event_prop_str(&e->ev, 0x12, &s, &n), 1);
    CHECK(n == 15 && memcmp(s, "given-by-server", 15) == 0);
done:
    tf_packet_clear(&connect);
    tw_free(t);
    tf_fake_free(f);
}

/* A server that takes the CONNECT and never answers: the client gives up
 * after LMQ_OPT_CONNECT_TIMEOUT_MS, reports LMQ_ETIMEOUT and closes. */
static void test_connack_that_never_comes_times_out(void)
{
    tf_fake *f = tf_fake_new();
    tw_client *t = NULL;
    int reason;

    REQUIRE(f);
    t = it_fake_client(f, "noanswer", LMQ_MQTT_5);
    REQUIRE(t);
    CHECK_INT(lmq_client_set_int(t->c, LMQ_OPT_CONNECT_TIMEOUT_MS, 500), 0);
    int64_t t0 = tw_now_ms();
    REQUIRE(it_fake_take_connect(f, t, NULL) == 0);
    tw_event *e = tw_wait(t, LMQ_EV_CONNECT_FAILED, IT_SHORT_MS);
    int64_t waited = tw_now_ms() - t0;
    REQUIRE(e);
    CHECK_INT(e->ev.error, LMQ_ETIMEOUT);
    CHECK(waited >= 450);
    CHECK(waited <= 1500);
    CHECK_INT(tf_fake_wait_close(f, IT_SHORT_MS, &reason), 0);
done:
    tw_free(t);
    tf_fake_free(f);
}

/*
 * Connections that fail are retried with waits between
 * LMQ_OPT_RECONNECT_MIN_MS and LMQ_OPT_RECONNECT_MAX_MS (100..400 here)
 * until one succeeds: the fake hangs up on three CONNECTs, then answers
 * the fourth.
 */
static void test_failed_connects_are_retried_within_the_backoff_bounds(void)
{
    tf_fake *f = tf_fake_new();
    tw_client *t = NULL;
    int64_t at[4];

    REQUIRE(f);
    t = it_fake_client(f, "retry", LMQ_MQTT_5);
    REQUIRE(t);
    lmq_client_set_int(t->c, LMQ_OPT_RECONNECT, 1);
    lmq_client_set_int(t->c, LMQ_OPT_RECONNECT_FIRST, 1);
    lmq_client_set_int(t->c, LMQ_OPT_RECONNECT_MIN_MS, 100);
    lmq_client_set_int(t->c, LMQ_OPT_RECONNECT_MAX_MS, 400);
    REQUIRE(tw_start(t) == 0);
    for (int i = 0; i < 4; i++) {
        tf_packet p = {0};
        REQUIRE(tf_fake_accept(f, IT_SHORT_MS) == 0);
        at[i] = tw_now_ms();
        REQUIRE(tf_fake_expect(f, LMQ_CONNECT, IT_SHORT_MS, &p) == 0);
        tf_packet_clear(&p);
        if (i < 3)
            tf_fake_close_client(f);
    }
    REQUIRE(tf_fake_send_connack(f, LMQ_MQTT_5, 0, 0, NULL) == 0);
    CHECK(tw_wait(t, LMQ_EV_CONNECTED, IT_SHORT_MS) != NULL);
    CHECK_INT(tw_count(t, LMQ_EV_CONNECT_FAILED), 3);
    for (int i = 1; i < 4; i++) {
        int64_t gap = at[i] - at[i - 1];
        if (gap < 90 || gap > 550)
            fprintf(stderr, "retry %d came %lld ms after the previous one\n", i,
                    (long long)gap);
        CHECK(gap >= 90);
        CHECK(gap <= 550);
    }
done:
    tw_free(t);
    tf_fake_free(f);
}

int main(void)
{
    RUN(test_server_keep_alive_replaces_the_clients_own);
    RUN(test_publish_above_the_servers_maximum_qos_is_refused);
    RUN(test_retained_publish_is_refused_when_the_server_has_no_retain);
    RUN(test_publish_over_the_servers_maximum_packet_size_is_not_sent);
    RUN(test_assigned_client_identifier_is_on_the_connected_event);
    RUN(test_connack_that_never_comes_times_out);
    RUN(test_failed_connects_are_retried_within_the_backoff_bounds);
    return check_done();
}
