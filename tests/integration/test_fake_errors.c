/*
 * test_fake_errors.c - errors that say what happened (issue 18 item 8):
 * a 3.1.1 server's refusal of an MQTT 5 CONNECT and the "auto" protocol
 * setting, named refusals and DISCONNECT reasons, client ids a level
 * forbids refused before connecting, no reconnect after DISCONNECT 0x8E
 * unless asked for, and a backoff that keeps growing against a server
 * that breaks the protocol on every connection.  Scripted with the fake
 * broker for what mosquitto never sends; the session takeover also against
 * a real mosquitto (two clients with one id).
 */
#include "itest.h"

/* The exact answer of a 3.1.1-only server (aedes, mosquitto 1.3) to a
 * level-5 CONNECT: CONNACK, return code 1 "unacceptable protocol version". */
static const uint8_t v311_refusal[] = {0x20, 0x02, 0x00, 0x01};

static int has(const char *text, const char *part)
{
    return text && strstr(text, part) != NULL;
}

/* Without "auto" the failure names the cause and the fix, with its own
 * code, instead of "malformed packet". */
static void test_311_refusal_of_a_v5_connect_says_the_server_lacks_mqtt5(void)
{
    tf_fake *f = tf_fake_new();
    tw_client *t = NULL;

    REQUIRE(f);
    t = it_fake_client(f, "not5", LMQ_MQTT_5);
    REQUIRE(t);
    REQUIRE(it_fake_take_connect(f, t, NULL) == 0);
    REQUIRE(tf_fake_send(f, v311_refusal, sizeof v311_refusal) == 0);
    tw_event *e = tw_wait(t, LMQ_EV_CONNECT_FAILED, IT_SHORT_MS);
    REQUIRE(e);
    CHECK_INT(e->ev.error, LMQ_ENOT_MQTT5);
    CHECK(has(e->text, "does not speak MQTT 5"));
    CHECK(has(e->text, "-V 311"));
    CHECK(has(lmq_client_errmsg(t->c), "does not speak MQTT 5"));
    CHECK(has(lmq_strerror(LMQ_ENOT_MQTT5), "does not speak MQTT 5"));
    CHECK_INT(strcmp(lmq_errname(LMQ_ENOT_MQTT5), "LMQ_ENOT_MQTT5"), 0);
    /* no second attempt: reconnect is off and the level was fixed */
    CHECK_INT(tf_fake_accept(f, 300), -1);
done:
    tw_free(t);
    tf_fake_free(f);
}

/* LMQ_MQTT_AUTO: the refusal is followed at once by a 3.1.1 CONNECT, no
 * failure is reported, and the reconnect after a loss speaks 3.1.1 again
 * without trying 5 first. */
static void test_auto_falls_back_to_311_and_remembers_it(void)
{
    tf_fake *f = tf_fake_new();
    tw_client *t = NULL;
    tf_packet p = {0};

    REQUIRE(f);
    t = it_fake_client(f, "auto", LMQ_MQTT_AUTO);
    REQUIRE(t);
    lmq_client_set_int(t->c, LMQ_OPT_RECONNECT, 1);
    lmq_client_set_int(t->c, LMQ_OPT_RECONNECT_MIN_MS, 50);
    lmq_client_set_int(t->c, LMQ_OPT_RECONNECT_MAX_MS, 100);
    REQUIRE(it_fake_take_connect(f, t, &p) == 0);
    CHECK_INT(p.pkt.u.connect.level, 5);
    tf_packet_clear(&p);
    REQUIRE(tf_fake_send(f, v311_refusal, sizeof v311_refusal) == 0);
    REQUIRE(tf_fake_accept(f, IT_SHORT_MS) == 0);
    REQUIRE(tf_fake_expect(f, LMQ_CONNECT, IT_SHORT_MS, &p) == 0);
    CHECK_INT(p.pkt.u.connect.level, 4);
    tf_packet_clear(&p);
    REQUIRE(tf_fake_send_connack(f, LMQ_MQTT_311, 0, 0, NULL) == 0);
    CHECK(tw_wait(t, LMQ_EV_CONNECTED, IT_SHORT_MS) != NULL);
    CHECK_INT(tw_count(t, LMQ_EV_CONNECT_FAILED), 0);
    /* a 3.1.1 session works: a QoS 1 publish goes out as 3.1.1 */
    CHECK(tw_publish(t, "auto/t", "x", 1, 0) > 0);
    REQUIRE(tf_fake_expect(f, LMQ_PUBLISH, IT_SHORT_MS, &p) == 0);
    tf_packet_clear(&p);
    /* the link drops; the reconnect is 3.1.1 straight away */
    tf_fake_close_client(f);
    CHECK(tw_wait(t, LMQ_EV_DISCONNECTED, IT_SHORT_MS) != NULL);
    REQUIRE(tf_fake_accept(f, IT_SHORT_MS) == 0);
    REQUIRE(tf_fake_expect(f, LMQ_CONNECT, IT_SHORT_MS, &p) == 0);
    CHECK_INT(p.pkt.u.connect.level, 4);
    tf_packet_clear(&p);
    REQUIRE(tf_fake_send_connack(f, LMQ_MQTT_311, 0, 0, NULL) == 0);
    CHECK(tw_wait_count(t, LMQ_EV_CONNECTED, 2, IT_SHORT_MS) >= 2);
done:
    tf_packet_clear(&p);
    tw_free(t);
    tf_fake_free(f);
}

/* Under auto, a v5 server is spoken to in v5 (nothing changes). */
static void test_auto_speaks_5_to_a_v5_server(void)
{
    tf_fake *f = tf_fake_new();
    tw_client *t = NULL;
    tf_packet p = {0};

    REQUIRE(f);
    t = it_fake_client(f, "auto5", LMQ_MQTT_AUTO);
    REQUIRE(t);
    REQUIRE(it_fake_take_connect(f, t, &p) == 0);
    CHECK_INT(p.pkt.u.connect.level, 5);
    REQUIRE(tf_fake_send_connack(f, LMQ_MQTT_5, 0, 0, NULL) == 0);
    CHECK(tw_wait(t, LMQ_EV_CONNECTED, IT_SHORT_MS) != NULL);
done:
    tf_packet_clear(&p);
    tw_free(t);
    tf_fake_free(f);
}

/* A CONNACK refusal carries its name (and the Reason String) in the
 * event's text, at v5 and at 3.1.1. */
static void test_connack_refusals_are_named(void)
{
    tf_fake *f = tf_fake_new();
    tw_client *t = NULL;
    lmq_props props;

    REQUIRE(f);
    t = it_fake_client(f, "refused5", LMQ_MQTT_5);
    REQUIRE(t);
    REQUIRE(it_fake_take_connect(f, t, NULL) == 0);
    memset(&props, 0, sizeof props);
    props.reason_string.p = (const uint8_t *)"no entry";
    props.reason_string.n = 8;
    lmq_props_set(&props, LMQ_PROP_REASON_STRING);
    REQUIRE(tf_fake_send_connack(f, LMQ_MQTT_5, 0, 0x87, &props) == 0);
    tw_event *e = tw_wait(t, LMQ_EV_CONNECT_FAILED, IT_SHORT_MS);
    REQUIRE(e);
    CHECK_INT(e->ev.error, LMQ_EREFUSED);
    CHECK_INT(e->ev.reason, 0x87);
    CHECK(has(e->text, "0x87 Not authorized"));
    CHECK(has(e->text, "no entry"));
    tw_free(t);
    t = it_fake_client(f, "refused311", LMQ_MQTT_311);
    REQUIRE(t);
    REQUIRE(it_fake_take_connect(f, t, NULL) == 0);
    REQUIRE(tf_fake_send_connack(f, LMQ_MQTT_311, 0, 4, NULL) == 0);
    e = tw_wait(t, LMQ_EV_CONNECT_FAILED, IT_SHORT_MS);
    REQUIRE(e);
    CHECK_INT(e->ev.reason, 4);
    CHECK(has(e->text, "Bad user name or password"));
done:
    tw_free(t);
    tf_fake_free(f);
}

/* A server DISCONNECT is named in the event text, not only numbered. */
static void test_server_disconnect_is_named(void)
{
    tf_fake *f = tf_fake_new();
    tw_client *t = NULL;
    static const uint8_t quota[] = {0xE0, 0x01, 0x97};

    REQUIRE(f);
    t = it_fake_client(f, "named", LMQ_MQTT_5);
    REQUIRE(t);
    REQUIRE(it_fake_handshake(f, t, LMQ_MQTT_5, NULL) == 0);
    REQUIRE(tf_fake_send(f, quota, sizeof quota) == 0);
    tw_event *e = tw_wait(t, LMQ_EV_DISCONNECTED, IT_SHORT_MS);
    REQUIRE(e);
    CHECK_INT(e->ev.error, LMQ_EDISCONNECTED);
    CHECK_INT(e->ev.reason, 0x97);
    CHECK(has(e->text, "0x97 Quota exceeded"));
    CHECK(has(lmq_client_errmsg(t->c), "Quota exceeded"));
done:
    tw_free(t);
    tf_fake_free(f);
}

/* A 3.1 client id over 23 characters, or an empty one, is refused by
 * lmq_client_connect itself, naming the id and the rule; no TCP connect. */
static void test_client_id_the_level_forbids_is_refused_before_connecting(void)
{
    tf_fake *f = tf_fake_new();
    tw_client *t = NULL;
    const char *id = "a-client-id-of-30-characters!!";

    REQUIRE(f);
    t = it_fake_client(f, "x", LMQ_MQTT_31);
    REQUIRE(t);
    CHECK_INT(lmq_client_set_str(t->c, LMQ_OPT_CLIENT_ID, id, -1), 0);
    CHECK_INT(lmq_client_connect(t->c), LMQ_ECLIENT_ID);
    CHECK(has(lmq_client_errmsg(t->c), id));
    CHECK(has(lmq_client_errmsg(t->c), "1 to 23"));
    CHECK_INT(tf_fake_accept(f, 200), -1);
    /* 3.1.1: an empty id needs a clean session [MQTT-3.1.3-7 of 3.1.1] */
    CHECK_INT(lmq_client_set_int(t->c, LMQ_OPT_PROTOCOL, LMQ_MQTT_311), 0);
    CHECK_INT(lmq_client_set_str(t->c, LMQ_OPT_CLIENT_ID, "", 0), 0);
    CHECK_INT(lmq_client_set_int(t->c, LMQ_OPT_CLEAN_START, 0), 0);
    CHECK_INT(lmq_client_connect(t->c), LMQ_ECLIENT_ID);
    CHECK(has(lmq_client_errmsg(t->c), "MQTT-3.1.3-7"));
    CHECK_INT(tf_fake_accept(f, 200), -1);
    /* 23 characters at 3.1 are fine */
    CHECK_INT(lmq_client_set_int(t->c, LMQ_OPT_PROTOCOL, LMQ_MQTT_31), 0);
    CHECK_INT(lmq_client_set_str(t->c, LMQ_OPT_CLIENT_ID, "abcdefghijklmnopqrstuvw", -1), 0);
    CHECK_INT(lmq_client_connect(t->c), 0);
    CHECK_INT(tf_fake_accept(f, IT_SHORT_MS), 0);
done:
    tw_free(t);
    tf_fake_free(f);
}

/* DISCONNECT 0x8E with reconnect on: the client stops and says why
 * (LMQ_ETAKEN_OVER); with LMQ_OPT_RECONNECT_TAKEN_OVER it reconnects. */
static void test_session_taken_over_stops_reconnecting_unless_asked(void)
{
    tf_fake *f = tf_fake_new();
    tw_client *t = NULL;
    static const uint8_t taken[] = {0xE0, 0x01, 0x8E};

    REQUIRE(f);
    t = it_fake_client(f, "taken", LMQ_MQTT_5);
    REQUIRE(t);
    lmq_client_set_int(t->c, LMQ_OPT_RECONNECT, 1);
    lmq_client_set_int(t->c, LMQ_OPT_RECONNECT_MIN_MS, 20);
    lmq_client_set_int(t->c, LMQ_OPT_RECONNECT_MAX_MS, 40);
    REQUIRE(it_fake_handshake(f, t, LMQ_MQTT_5, NULL) == 0);
    REQUIRE(tf_fake_send(f, taken, sizeof taken) == 0);
    tw_event *e = tw_wait(t, LMQ_EV_DISCONNECTED, IT_SHORT_MS);
    REQUIRE(e);
    CHECK_INT(e->ev.reason, 0x8E);
    CHECK(has(e->text, "Session taken over"));
    e = tw_wait(t, LMQ_EV_ERROR, IT_SHORT_MS);
    REQUIRE(e);
    CHECK_INT(e->ev.error, LMQ_ETAKEN_OVER);
    CHECK(has(e->text, "not reconnecting"));
    CHECK_INT(tf_fake_accept(f, 400), -1);
    tw_free(t);

    t = it_fake_client(f, "taken", LMQ_MQTT_5);
    REQUIRE(t);
    lmq_client_set_int(t->c, LMQ_OPT_RECONNECT, 1);
    lmq_client_set_int(t->c, LMQ_OPT_RECONNECT_MIN_MS, 20);
    lmq_client_set_int(t->c, LMQ_OPT_RECONNECT_MAX_MS, 40);
    CHECK_INT(lmq_client_set_int(t->c, LMQ_OPT_RECONNECT_TAKEN_OVER, 1), 0);
    REQUIRE(it_fake_handshake(f, t, LMQ_MQTT_5, NULL) == 0);
    REQUIRE(tf_fake_send(f, taken, sizeof taken) == 0);
    CHECK(tw_wait(t, LMQ_EV_DISCONNECTED, IT_SHORT_MS) != NULL);
    CHECK_INT(tf_fake_accept(f, IT_SHORT_MS), 0);
    CHECK_INT(tw_count(t, LMQ_EV_ERROR), 0);
done:
    tw_free(t);
    tf_fake_free(f);
}

/* A server that sends an invalid topic alias on every connection: each
 * one ends (DISCONNECT 0x94), and the wait before the next grows as if
 * no CONNACK had come in between, with the count reported. */
static void test_bad_alias_on_every_connection_backs_off(void)
{
    tf_fake *f = tf_fake_new();
    tw_client *t = NULL;
    static const uint8_t pub[] = {0x30, 0x0A, 0x00, 0x03, 'a', '/', 'b', 0x03, 0x23, 0x00, 0x05,
                                  'x'};
    int64_t at[5];
    int reason;

    REQUIRE(f);
    t = it_fake_client(f, "badalias", LMQ_MQTT_5);
    REQUIRE(t);
    lmq_client_set_int(t->c, LMQ_OPT_TOPIC_ALIAS_MAXIMUM, 2);
    lmq_client_set_int(t->c, LMQ_OPT_RECONNECT, 1);
    lmq_client_set_int(t->c, LMQ_OPT_RECONNECT_MIN_MS, 50);
    lmq_client_set_int(t->c, LMQ_OPT_RECONNECT_MAX_MS, 5000);
    REQUIRE(it_fake_handshake(f, t, LMQ_MQTT_5, NULL) == 0);
    for (int i = 0; i < 5; i++) {
        tf_packet p = {0};
        if (i > 0) {
            REQUIRE(tf_fake_accept(f, IT_SHORT_MS) == 0);
            REQUIRE(tf_fake_expect(f, LMQ_CONNECT, IT_SHORT_MS, &p) == 0);
            tf_packet_clear(&p);
            REQUIRE(tf_fake_send_connack(f, LMQ_MQTT_5, 0, 0, NULL) == 0);
        }
        REQUIRE(tf_fake_send(f, pub, sizeof pub) == 0);
        REQUIRE(tf_fake_wait_close(f, IT_SHORT_MS, &reason) == 0);
        CHECK_INT(reason, 0x94);
        at[i] = tw_now_ms();
    }
    /* backoff after the k-th fault: 50 * 2^k .. 50 * 2^(k+1) ms; without
     * the rule each wait would be 50..100 ms */
    REQUIRE(tf_fake_accept(f, IT_SHORT_MS) == 0);
    int64_t last_gap = tw_now_ms() - at[4];
    if (last_gap < 700)
        fprintf(stderr, "reconnect came %lld ms after the 5th fault\n", (long long)last_gap);
    CHECK(last_gap >= 700);
    tw_collect_events(t);
    int counted = 0;
    for (int i = 0; i < t->n; i++)
        if (t->ev[i].ev.type == LMQ_EV_ERROR && has(t->ev[i].text, "5 connections in a row"))
            counted = 1;
    if (!counted)
        tw_dump(t);
    CHECK(counted);
    CHECK_INT(tw_count(t, LMQ_EV_MESSAGE), 0);
done:
    tw_free(t);
    tf_fake_free(f);
}

int main(void)
{
    RUN(test_311_refusal_of_a_v5_connect_says_the_server_lacks_mqtt5);
    RUN(test_auto_falls_back_to_311_and_remembers_it);
    RUN(test_auto_speaks_5_to_a_v5_server);
    RUN(test_connack_refusals_are_named);
    RUN(test_server_disconnect_is_named);
    RUN(test_client_id_the_level_forbids_is_refused_before_connecting);
    RUN(test_session_taken_over_stops_reconnecting_unless_asked);
    RUN(test_bad_alias_on_every_connection_backs_off);
    return check_done();
}
