/*
 * test_session.c - the session's connection lifecycle, byte for byte on a
 * fake clock: CONNECT at each level, CONNACK (refused, limits obeyed),
 * keepalive, enhanced authentication, DISCONNECT both ways, and the
 * protocol errors a server can commit around them.
 */
#include "test_session_fx.h"

static void str(fx *f, int opt, const char *v)
{
    CHECK_INT(lmq_session_set_str(f->s, opt, (const uint8_t *)v, strlen(v)), 0);
}

/* ------------------------------------------------------------- CONNECT */

static void test_connect_bytes_mqtt311(void)
{
    fx f;
    fx_init(&f, 4);
    static const uint8_t want[] = { 0x10, 0x0E, 0, 4, 'M', 'Q', 'T', 'T', 4, 0x02,
                                    0, 60, 0, 2, 'c', '1' };
    CHECK_INT(lmq_session_start(f.s, f.now), 0);
    CHECK_INT(lmq_session_state(f.s), LMQ_SS_CONNECTING);
    const uint8_t *p;
    size_t n = lmq_session_out(f.s, &p);
    CHECK_INT(n, sizeof want);
    if (n == sizeof want)
        CHECK_MEM(p, want, n);
    fx_free(&f);
}

static void test_connect_bytes_mqtt31_uses_mqisdp(void)
{
    fx f;
    fx_init(&f, 3);
    /* [MQTT-3.1.2-1] 3.1's protocol name is "MQIsdp", level 3 */
    static const uint8_t want[] = { 0x10, 0x10, 0, 6, 'M', 'Q', 'I', 's', 'd', 'p', 3,
                                    0x02, 0, 60, 0, 2, 'c', '1' };
    CHECK_INT(lmq_session_start(f.s, f.now), 0);
    const uint8_t *p;
    size_t n = lmq_session_out(f.s, &p);
    CHECK_INT(n, sizeof want);
    if (n == sizeof want)
        CHECK_MEM(p, want, n);
    fx_free(&f);
}

static void test_connect_bytes_mqtt5_minimal(void)
{
    fx f;
    fx_init(&f, 5);
    /* flags 0x02: no user name or password flag, and neither field in the
     * payload [MQTT-3.1.2-16] [MQTT-3.1.2-18] */
    static const uint8_t want[] = { 0x10, 0x0F, 0, 4, 'M', 'Q', 'T', 'T', 5, 0x02,
                                    0, 60, 0, 0, 2, 'c', '1' };
    CHECK_INT(lmq_session_start(f.s, f.now), 0);
    const uint8_t *p;
    size_t n = lmq_session_out(f.s, &p);
    CHECK_INT(n, sizeof want);
    if (n == sizeof want)
        CHECK_MEM(p, want, n);
    fx_free(&f);
}

static void test_connect_bytes_mqtt311_with_credentials_and_will(void)
{
    fx f;
    fx_init(&f, 4);
    str(&f, LMQ_OPT_USERNAME, "u");
    str(&f, LMQ_OPT_PASSWORD, "p");
    str(&f, LMQ_OPT_WILL_TOPIC, "w");
    str(&f, LMQ_OPT_WILL_PAYLOAD, "x");
    lmq_session_set_int(f.s, LMQ_OPT_WILL_QOS, 1);
    lmq_session_set_int(f.s, LMQ_OPT_WILL_RETAIN, 1);
    /* flags: user, password, will retain, will QoS 1, will, clean = 0xEE;
     * payload order [MQTT-3.1.3-1]: id, will topic, will payload, user, password;
     * the will flag brings the will fields [MQTT-3.1.2-9], the user name and
     * password flags their fields [MQTT-3.1.2-17] [MQTT-3.1.2-19] */
    static const uint8_t want[] = { 0x10, 0x1A, 0, 4, 'M', 'Q', 'T', 'T', 4, 0xEE, 0, 60,
                                    0, 2, 'c', '1', 0, 1, 'w', 0, 1, 'x', 0, 1, 'u',
                                    0, 1, 'p' };
    CHECK_INT(lmq_session_start(f.s, f.now), 0);
    const uint8_t *p;
    size_t n = lmq_session_out(f.s, &p);
    CHECK_INT(n, sizeof want);
    if (n == sizeof want)
        CHECK_MEM(p, want, n);
    fx_free(&f);
}

static void test_connect_bytes_mqtt5_with_session_expiry(void)
{
    fx f;
    fx_init(&f, 5);
    lmq_session_set_int(f.s, LMQ_OPT_CLEAN_START, 0);
    lmq_session_set_int(f.s, LMQ_OPT_SESSION_EXPIRY, 10);
    static const uint8_t want[] = { 0x10, 0x14, 0, 4, 'M', 'Q', 'T', 'T', 5, 0x00, 0, 60,
                                    5, 0x11, 0, 0, 0, 10, 0, 2, 'c', '1' };
    CHECK_INT(lmq_session_start(f.s, f.now), 0);
    const uint8_t *p;
    size_t n = lmq_session_out(f.s, &p);
    CHECK_INT(n, sizeof want);
    if (n == sizeof want)
        CHECK_MEM(p, want, n);
    fx_free(&f);
}

static void test_connect_v5_carries_every_option(void)
{
    fx f;
    fx_init(&f, 5);
    str(&f, LMQ_OPT_USERNAME, "user");
    CHECK_INT(lmq_session_set_str(f.s, LMQ_OPT_PASSWORD, (const uint8_t *)"p\0w", 3), 0);
    str(&f, LMQ_OPT_WILL_TOPIC, "will/t");
    str(&f, LMQ_OPT_WILL_PAYLOAD, "gone");
    lmq_session_set_int(f.s, LMQ_OPT_WILL_QOS, 1);
    lmq_session_set_int(f.s, LMQ_OPT_WILL_RETAIN, 1);
    lmq_session_set_int(f.s, LMQ_OPT_CLEAN_START, 0);
    lmq_session_set_int(f.s, LMQ_OPT_KEEPALIVE, 30);
    lmq_session_set_int(f.s, LMQ_OPT_SESSION_EXPIRY, 3600);
    lmq_session_set_int(f.s, LMQ_OPT_RECEIVE_MAXIMUM, 20);
    lmq_session_set_int(f.s, LMQ_OPT_MAXIMUM_PACKET_SIZE, 4096);
    lmq_session_set_int(f.s, LMQ_OPT_TOPIC_ALIAS_MAXIMUM, 8);
    lmq_session_set_int(f.s, LMQ_OPT_REQUEST_RESPONSE_INFO, 1);
    lmq_session_set_int(f.s, LMQ_OPT_REQUEST_PROBLEM_INFO, 0);
    lmq_proplist *cp = lmq_proplist_new(), *wp = lmq_proplist_new();
    lmq_proplist_add_user(cp, "k", -1, "v", -1);
    lmq_proplist_add_int(wp, LMQ_PROP_WILL_DELAY, 5);
    lmq_proplist_add_str(wp, LMQ_PROP_CONTENT_TYPE, "text/plain", -1);
    CHECK_INT(lmq_session_set_props(f.s, LMQ_PROPS_CONNECT, cp), 0);
    CHECK_INT(lmq_session_set_props(f.s, LMQ_PROPS_WILL, wp), 0);
    /* Will Delay is a will property, not a CONNECT one */
    CHECK_INT(lmq_session_set_props(f.s, LMQ_PROPS_CONNECT, wp), LMQ_EINVAL);
    lmq_proplist_free(cp);
    lmq_proplist_free(wp);

    CHECK_INT(lmq_session_start(f.s, f.now), 0);
    CHECK_INT(fx_next(&f), LMQ_CONNECT);
    const lmq_connect *c = &f.pkt.u.connect;
    CHECK_INT(c->level, 5);
    CHECK_INT(c->clean, 0);
    CHECK_INT(c->keepalive, 30);
    CHECK_INT(c->username.n, 4);
    CHECK_INT(c->password.n, 3);
    CHECK_MEM(c->password.p, "p\0w", 3);
    CHECK_INT(c->will, 1);
    CHECK_INT(c->will_qos, 1);
    CHECK_INT(c->will_retain, 1);
    CHECK_INT(c->will_topic.n, 6);
    CHECK_INT(c->will_payload.n, 4);
    CHECK_INT(c->will_props.will_delay, 5);
    CHECK(lmq_props_has(&c->will_props, LMQ_PROP_CONTENT_TYPE));
    CHECK_INT(c->props.session_expiry, 3600);
    CHECK_INT(c->props.receive_maximum, 20);
    CHECK_INT(c->props.maximum_packet_size, 4096);
    CHECK_INT(c->props.topic_alias_maximum, 8);
    CHECK(lmq_props_has(&c->props, LMQ_PROP_REQUEST_RESPONSE_INFO));
    CHECK_INT(c->props.request_response_info, 1);
    CHECK(lmq_props_has(&c->props, LMQ_PROP_REQUEST_PROBLEM_INFO));
    CHECK_INT(c->props.request_problem_info, 0);
    CHECK_INT(c->props.n_user, 1);
    fx_free(&f);
}

static void test_password_and_auth_data_are_never_logged(void)
{
    fx f;
    fx_init(&f, 5);
    lmq_session_set_int(f.s, LMQ_OPT_LOG_LEVEL, LMQ_LOG_DEBUG);
    str(&f, LMQ_OPT_USERNAME, "user");
    str(&f, LMQ_OPT_PASSWORD, "hunter2");
    str(&f, LMQ_OPT_AUTH_METHOD, "PLAIN");
    str(&f, LMQ_OPT_AUTH_DATA, "s3cr3t");
    CHECK_INT(lmq_session_start(f.s, f.now), 0);
    fx_events(&f);
    CHECK(fx_count(&f, LMQ_EV_LOG) > 0);
    for (int i = 0; i < f.nev; i++) {
        if (f.ev[i].type != LMQ_EV_LOG || !f.ev[i].text)
            continue;
        CHECK(!strstr(f.ev[i].text, "hunter2"));
        CHECK(!strstr(f.ev[i].text, "s3cr3t"));
    }
    fx_free(&f);
}

static void test_connect_refuses_bad_client_ids_at_3x(void)
{
    fx f;
    fx_init(&f, 3);
    str(&f, LMQ_OPT_CLIENT_ID, "");
    CHECK_INT(lmq_session_start(f.s, f.now), LMQ_ECLIENT_ID);   /* 3.1: 1..23 chars */
    CHECK(strstr(lmq_session_errmsg(f.s), "1 to 23") != NULL);
    CHECK_INT(lmq_session_state(f.s), LMQ_SS_OFFLINE);
    fx_free(&f);
    fx_init(&f, 4);
    str(&f, LMQ_OPT_CLIENT_ID, "");
    lmq_session_set_int(f.s, LMQ_OPT_CLEAN_START, 0);
    CHECK_INT(lmq_session_start(f.s, f.now), LMQ_ECLIENT_ID);   /* empty id needs clean */
    CHECK(strstr(lmq_session_errmsg(f.s), "MQTT-3.1.3-7") != NULL);
    fx_free(&f);
}

/* ------------------------------------------------------------- CONNACK */

static void test_connack_success_reports_connected_with_props(void)
{
    fx f;
    fx_init(&f, 5);
    lmq_packet ca = fx_connack(0, 0);
    ca.u.connack.props.reason_string = (lmq_slice){ (const uint8_t *)"welcome", 7 };
    lmq_props_set(&ca.u.connack.props, LMQ_PROP_REASON_STRING);
    fx_connect_with(&f, &ca);
    const lmq_event *ev = fx_find(&f, LMQ_EV_CONNECTED);
    CHECK(ev != NULL);
    if (ev) {
        const char *s;
        int32_t n;
        CHECK_INT(ev->session_present, 0);
        CHECK_INT(lmq_event_prop_str(ev, LMQ_PROP_REASON_STRING, &s, &n), 1);
        CHECK_INT(n, 7);
        CHECK_MEM(s, "welcome", 7);
    }
    fx_free(&f);
}

static void test_assigned_client_id_is_used_for_the_rest_of_the_session(void)
{
    fx f;
    fx_init(&f, 5);
    str(&f, LMQ_OPT_CLIENT_ID, "");
    CHECK_INT(lmq_session_start(f.s, f.now), 0);
    CHECK_INT(fx_next(&f), LMQ_CONNECT);
    CHECK_INT(f.pkt.u.connect.client_id.n, 0);  /* [MQTT-3.1.3-6] server assigns */
    lmq_packet ca = fx_connack(0, 0);
    ca.u.connack.props.assigned_client_id = (lmq_slice){ (const uint8_t *)"auto-7", 6 };
    lmq_props_set(&ca.u.connack.props, LMQ_PROP_ASSIGNED_CLIENT_ID);
    CHECK_INT(fx_feed(&f, &ca), 0);
    fx_events(&f);
    const lmq_event *ev = fx_find(&f, LMQ_EV_CONNECTED);
    const char *s = NULL;
    int32_t n = 0;
    CHECK(ev && lmq_event_prop_str(ev, LMQ_PROP_ASSIGNED_CLIENT_ID, &s, &n) == 1);
    CHECK_INT(n, 6);
    fx_reconnect(&f);
    CHECK_INT(lmq_session_start(f.s, f.now), 0);
    CHECK_INT(fx_next(&f), LMQ_CONNECT);
    /* the session state is the assigned id's from now on: the next CONNECT
     * names it [MQTT-3.1.3-2] */
    CHECK_INT(f.pkt.u.connect.client_id.n, 6);
    CHECK_MEM(f.pkt.u.connect.client_id.p, "auto-7", 6);
    fx_free(&f);
}

static void test_connack_refused_v5_reports_reason(void)
{
    fx f;
    fx_init(&f, 5);
    CHECK_INT(lmq_session_start(f.s, f.now), 0);
    fx_skip_all(&f);
    lmq_packet ca = fx_connack(0, 0x87);
    CHECK_INT(fx_feed(&f, &ca), LMQ_EREFUSED);
    fx_events(&f);
    const lmq_event *ev = fx_find(&f, LMQ_EV_CONNECT_FAILED);
    CHECK(ev && ev->error == LMQ_EREFUSED && ev->reason == 0x87);
    CHECK_INT(fx_next(&f), 0);          /* nothing sent back */
    /* a reason >= 0x80: the connection closes [MQTT-4.13.2-1] */
    CHECK(lmq_session_wants_close(f.s));
    lmq_session_lost(f.s, f.now, LMQ_EREFUSED);
    fx_events(&f);
    CHECK_INT(f.nev, 0);                /* reported once */
    CHECK_INT(lmq_session_state(f.s), LMQ_SS_OFFLINE);
    fx_free(&f);
}

static void test_connack_refused_311_return_code(void)
{
    fx f;
    fx_init(&f, 4);
    CHECK_INT(lmq_session_start(f.s, f.now), 0);
    static const uint8_t ca[] = { 0x20, 0x02, 0x00, 0x05 };   /* not authorized */
    CHECK_INT(fx_feed_bytes(&f, ca, sizeof ca), LMQ_EREFUSED);
    fx_events(&f);
    const lmq_event *ev = fx_find(&f, LMQ_EV_CONNECT_FAILED);
    CHECK(ev && ev->reason == 5);
    fx_free(&f);
}

static void test_connack_wait_is_bounded_by_connect_timeout(void)
{
    fx f;
    fx_init(&f, 5);
    lmq_session_set_int(f.s, LMQ_OPT_CONNECT_TIMEOUT_MS, 2000);
    CHECK_INT(lmq_session_start(f.s, f.now), 0);
    CHECK_INT(lmq_session_deadline(f.s), f.now + 2000);
    CHECK_INT(lmq_session_tick(f.s, f.now + 1999), 0);
    CHECK_INT(lmq_session_tick(f.s, f.now + 2000), LMQ_ETIMEOUT);
    fx_events(&f);
    const lmq_event *ev = fx_find(&f, LMQ_EV_CONNECT_FAILED);
    CHECK(ev && ev->error == LMQ_ETIMEOUT);
    fx_free(&f);
}

static void test_second_connack_is_a_protocol_error(void)
{
    fx f;
    fx_init(&f, 5);
    fx_connect(&f, 0);
    lmq_packet ca = fx_connack(0, 0);
    CHECK_INT(fx_feed(&f, &ca), LMQ_EPROTOCOL);
    CHECK_INT(fx_next(&f), LMQ_DISCONNECT);
    CHECK_INT(f.pkt.u.disconnect.reason, 0x82);
    fx_events(&f);
    const lmq_event *ev = fx_find(&f, LMQ_EV_DISCONNECTED);
    CHECK(ev && ev->error == LMQ_EPROTOCOL && ev->text);
    CHECK(lmq_session_wants_close(f.s));
    /* further bytes change nothing */
    CHECK_INT(fx_feed(&f, &ca), LMQ_EPROTOCOL);
    CHECK_INT(fx_next(&f), 0);
    fx_free(&f);
}

static void test_session_present_after_clean_start_is_a_protocol_error(void)
{
    fx f;
    fx_init(&f, 5);
    CHECK_INT(lmq_session_start(f.s, f.now), 0);
    fx_skip_all(&f);
    lmq_packet ca = fx_connack(1, 0);       /* [MQTT-3.2.2-2] */
    CHECK_INT(fx_feed(&f, &ca), LMQ_EPROTOCOL);
    CHECK_INT(fx_next(&f), LMQ_DISCONNECT);
    CHECK_INT(f.pkt.u.disconnect.reason, 0x82);
    fx_events(&f);
    CHECK(fx_find(&f, LMQ_EV_CONNECT_FAILED) != NULL);
    fx_free(&f);
}

static void test_packet_before_connack_is_a_protocol_error(void)
{
    fx f;
    fx_init(&f, 5);
    CHECK_INT(lmq_session_start(f.s, f.now), 0);
    fx_skip_all(&f);
    lmq_packet p = fx_publish("a", "x", 0, 0);
    CHECK_INT(fx_feed(&f, &p), LMQ_EPROTOCOL);
    CHECK_INT(fx_next(&f), LMQ_DISCONNECT);
    CHECK_INT(f.pkt.u.disconnect.reason, 0x82);
    fx_free(&f);
}

static void test_protocol_error_at_311_just_closes(void)
{
    fx f;
    fx_init(&f, 4);
    fx_connect(&f, 0);
    lmq_packet ca = fx_connack(0, 0);
    CHECK_INT(fx_feed(&f, &ca), LMQ_EPROTOCOL);
    CHECK_INT(fx_next(&f), 0);          /* no DISCONNECT at 3.1.1 */
    CHECK(lmq_session_wants_close(f.s));
    fx_free(&f);
}

/* ----------------------------------------------------------- keepalive */

static void test_pingreq_after_keepalive_without_traffic(void)
{
    fx f;
    fx_init(&f, 4);
    lmq_session_set_int(f.s, LMQ_OPT_KEEPALIVE, 10);
    int64_t t0 = f.now;
    fx_connect(&f, 0);
    /* [MQTT-3.1.2-20] nothing sent for the keepalive: PINGREQ */
    CHECK_INT(lmq_session_deadline(f.s), t0 + 10000);
    CHECK_INT(lmq_session_tick(f.s, t0 + 9999), 0);
    CHECK_INT(fx_next(&f), 0);
    f.now = t0 + 10000;
    CHECK_INT(lmq_session_tick(f.s, f.now), 0);
    fx_drain(&f);
    CHECK_INT(f.on - f.opos, 2);
    CHECK_INT(f.ob[f.opos], 0xC0);
    CHECK_INT(f.ob[f.opos + 1], 0x00);
    fx_skip_all(&f);
    /* PINGRESP: the next ping is a keepalive after the last one */
    static const uint8_t pingresp[] = { 0xD0, 0x00 };
    f.now += 100;
    CHECK_INT(fx_feed_bytes(&f, pingresp, 2), 0);
    CHECK_INT(lmq_session_deadline(f.s), t0 + 20000);
    fx_free(&f);
}

static void test_sending_postpones_the_ping(void)
{
    fx f;
    fx_init(&f, 4);
    lmq_session_set_int(f.s, LMQ_OPT_KEEPALIVE, 10);
    int64_t t0 = f.now;
    fx_connect(&f, 0);
    f.now = t0 + 6000;
    fx_pub(&f, "a", "b", 1);
    fx_skip_all(&f);                    /* written at t0 + 6 s */
    lmq_packet ack = fx_ack(LMQ_PUBACK, 1, 0);
    CHECK_INT(fx_feed(&f, &ack), 0);    /* heard at t0 + 6 s */
    CHECK_INT(lmq_session_deadline(f.s), t0 + 16000);
    fx_free(&f);
}

static void test_dead_link_is_detected_at_one_and_a_half_keepalive(void)
{
    fx f;
    fx_init(&f, 5);
    lmq_session_set_int(f.s, LMQ_OPT_KEEPALIVE, 10);
    int64_t t0 = f.now;
    fx_connect(&f, 0);
    CHECK_INT(lmq_session_tick(f.s, t0 + 10000), 0);
    CHECK_INT(fx_next(&f), LMQ_PINGREQ);
    /* the server owes a PINGRESP [MQTT-3.12.4-1]; without one the link is
     * taken for dead */
    CHECK_INT(lmq_session_deadline(f.s), t0 + 15000);
    CHECK_INT(lmq_session_tick(f.s, t0 + 14999), 0);
    CHECK_INT(lmq_session_tick(f.s, t0 + 15000), LMQ_EKEEPALIVE);
    fx_events(&f);
    const lmq_event *ev = fx_find(&f, LMQ_EV_DISCONNECTED);
    CHECK(ev && ev->error == LMQ_EKEEPALIVE);
    CHECK(lmq_session_wants_close(f.s));
    fx_free(&f);
}

static void test_server_keep_alive_replaces_ours(void)
{
    fx f;
    fx_init(&f, 5);
    lmq_session_set_int(f.s, LMQ_OPT_KEEPALIVE, 60);
    int64_t t0 = f.now;
    lmq_packet ca = fx_connack(0, 0);
    ca.u.connack.props.server_keep_alive = 5;       /* [MQTT-3.1.2-21] [MQTT-3.2.2-21] */
    lmq_props_set(&ca.u.connack.props, LMQ_PROP_SERVER_KEEP_ALIVE);
    fx_connect_with(&f, &ca);
    CHECK_INT(lmq_session_deadline(f.s), t0 + 5000);
    fx_free(&f);
}

static void test_keepalive_zero_never_pings(void)
{
    fx f;
    fx_init(&f, 4);
    lmq_session_set_int(f.s, LMQ_OPT_KEEPALIVE, 0);
    fx_connect(&f, 0);
    CHECK(lmq_session_deadline(f.s) == INT64_MAX);
    CHECK_INT(lmq_session_tick(f.s, f.now + 1000000), 0);
    CHECK_INT(fx_next(&f), 0);
    fx_free(&f);
}

/* ---------------------------------------------------------- DISCONNECT */

static void test_server_disconnect_is_reported_with_reason_and_reference(void)
{
    fx f;
    fx_init(&f, 5);
    fx_connect(&f, 0);
    lmq_packet d;
    memset(&d, 0, sizeof d);
    d.type = LMQ_DISCONNECT;
    d.u.disconnect.reason = 0x9C;       /* use another server */
    d.u.disconnect.props.server_reference = (lmq_slice){ (const uint8_t *)"b:1883", 6 };
    lmq_props_set(&d.u.disconnect.props, LMQ_PROP_SERVER_REFERENCE);
    CHECK_INT(fx_feed(&f, &d), LMQ_EDISCONNECTED);
    CHECK_INT(fx_next(&f), 0);          /* no answer [MQTT-3.14.4-1] */
    fx_events(&f);
    const lmq_event *ev = fx_find(&f, LMQ_EV_DISCONNECTED);
    CHECK(ev && ev->error == LMQ_EDISCONNECTED && ev->reason == 0x9C);
    const char *s = NULL;
    int32_t n = 0;
    CHECK(ev && lmq_event_prop_str(ev, LMQ_PROP_SERVER_REFERENCE, &s, &n) == 1 && n == 6);
    lmq_session_lost(f.s, f.now, LMQ_ECLOSED);
    fx_events(&f);
    CHECK_INT(fx_count(&f, LMQ_EV_DISCONNECTED), 0);
    fx_free(&f);
}

static void test_our_disconnect_is_flushed_then_closed(void)
{
    fx f;
    fx_init(&f, 5);
    fx_connect(&f, 0);
    CHECK_INT(lmq_session_disconnect(f.s, 0x04, NULL, f.now), 0);
    CHECK_INT(lmq_session_state(f.s), LMQ_SS_CLOSING);
    CHECK(!lmq_session_wants_close(f.s));   /* bytes still to write */
    fx_drain(&f);
    static const uint8_t want[] = { 0xE0, 0x01, 0x04 };
    CHECK_INT(f.on - f.opos, 3);
    CHECK_MEM(f.ob + f.opos, want, 3);
    /* written: now the connection closes [MQTT-3.14.4-2] */
    CHECK(lmq_session_wants_close(f.s));
    /* nothing more is sent after DISCONNECT [MQTT-3.14.4-1] */
    CHECK_INT(fx_pub(&f, "a", "b", 0), LMQ_ESTATE);
    CHECK_INT(lmq_session_disconnect(f.s, 0, NULL, f.now), LMQ_ESTATE);
    lmq_session_lost(f.s, f.now, 0);
    fx_events(&f);
    const lmq_event *ev = fx_find(&f, LMQ_EV_DISCONNECTED);
    CHECK(ev && ev->error == 0 && ev->reason == 0x04);
    fx_free(&f);
}

static void test_disconnect_refuses_session_expiry_after_zero(void)
{
    fx f;
    fx_init(&f, 5);
    fx_connect(&f, 0);
    lmq_proplist *pl = lmq_proplist_new();
    lmq_proplist_add_int(pl, LMQ_PROP_SESSION_EXPIRY, 30);
    /* section 3.14.2.2.2: CONNECT had 0, so DISCONNECT may not set it */
    CHECK_INT(lmq_session_disconnect(f.s, 0, pl, f.now), LMQ_EINVAL);
    CHECK_INT(lmq_session_state(f.s), LMQ_SS_CONNECTED);
    lmq_proplist_free(pl);
    fx_free(&f);
}

static void test_disconnect_at_311_is_two_bytes(void)
{
    fx f;
    fx_init(&f, 4);
    fx_connect(&f, 0);
    CHECK_INT(lmq_session_disconnect(f.s, 0x04, NULL, f.now), 0);
    fx_drain(&f);
    CHECK_INT(f.on - f.opos, 2);
    CHECK_INT(f.ob[f.opos], 0xE0);
    CHECK_INT(f.ob[f.opos + 1], 0);
    fx_free(&f);
}

static void test_lost_connection_before_connack_is_connect_failed(void)
{
    fx f;
    fx_init(&f, 5);
    CHECK_INT(lmq_session_start(f.s, f.now), 0);
    lmq_session_lost(f.s, f.now, LMQ_EIO);
    fx_events(&f);
    const lmq_event *ev = fx_find(&f, LMQ_EV_CONNECT_FAILED);
    CHECK(ev && ev->error == LMQ_EIO);
    CHECK_INT(lmq_session_state(f.s), LMQ_SS_OFFLINE);
    CHECK_INT(lmq_session_start(f.s, f.now), 0);    /* and it can start again */
    fx_free(&f);
}

/* ---------------------------------------------------------------- AUTH */

static lmq_packet auth_pkt(int reason, const char *method, const char *data)
{
    lmq_packet p;
    memset(&p, 0, sizeof p);
    p.type = LMQ_AUTH;
    p.u.disconnect.reason = (uint8_t)reason;
    p.u.disconnect.props.auth_method = (lmq_slice){ (const uint8_t *)method, (uint32_t)strlen(method) };
    lmq_props_set(&p.u.disconnect.props, LMQ_PROP_AUTH_METHOD);
    if (data) {
        p.u.disconnect.props.auth_data = (lmq_slice){ (const uint8_t *)data, (uint32_t)strlen(data) };
        lmq_props_set(&p.u.disconnect.props, LMQ_PROP_AUTH_DATA);
    }
    return p;
}

static void test_enhanced_authentication_exchange(void)
{
    fx f;
    fx_init(&f, 5);
    str(&f, LMQ_OPT_AUTH_METHOD, "SCRAM-SHA-1");
    str(&f, LMQ_OPT_AUTH_DATA, "client-first");
    CHECK_INT(lmq_session_start(f.s, f.now), 0);
    CHECK_INT(fx_next(&f), LMQ_CONNECT);
    CHECK_INT(f.pkt.u.connect.props.auth_method.n, 11);
    CHECK_INT(f.pkt.u.connect.props.auth_data.n, 12);
    /* the server continues: 0x18, surfaced as LMQ_EV_AUTH */
    lmq_packet a = auth_pkt(0x18, "SCRAM-SHA-1", "server-first");
    CHECK_INT(fx_feed(&f, &a), 0);
    fx_events(&f);
    const lmq_event *ev = fx_find(&f, LMQ_EV_AUTH);
    const char *s = NULL;
    int32_t n = 0;
    CHECK(ev && ev->reason == 0x18);
    CHECK(ev && lmq_event_prop_str(ev, LMQ_PROP_AUTH_DATA, &s, &n) == 1 && n == 12);
    /* the application answers; the method is filled in [MQTT-4.12.0-5] */
    lmq_proplist *pl = lmq_proplist_new();
    lmq_proplist_add_str(pl, LMQ_PROP_AUTH_DATA, "client-final", -1);
    CHECK_INT(lmq_session_auth(f.s, 0x18, pl, f.now), 0);
    CHECK_INT(fx_next(&f), LMQ_AUTH);
    CHECK_INT(f.pkt.u.disconnect.reason, 0x18);     /* [MQTT-4.12.0-3] */
    /* no other reason answers a challenge */
    CHECK_INT(lmq_session_auth(f.s, 0x00, NULL, f.now), LMQ_EINVAL);
    CHECK_INT(fx_next(&f), 0);
    CHECK_INT(f.pkt.u.disconnect.props.auth_method.n, 11);
    CHECK_INT(f.pkt.u.disconnect.props.auth_data.n, 12);
    lmq_packet ca = fx_connack(0, 0);
    CHECK_INT(fx_feed(&f, &ca), 0);
    CHECK_INT(lmq_session_state(f.s), LMQ_SS_CONNECTED);

    /* re-authentication while connected [MQTT-4.12.1-1] */
    CHECK_INT(lmq_session_auth(f.s, 0x19, pl, f.now), 0);
    CHECK_INT(fx_next(&f), LMQ_AUTH);
    CHECK_INT(f.pkt.u.disconnect.reason, 0x19);
    lmq_packet ok = auth_pkt(0x00, "SCRAM-SHA-1", NULL);
    CHECK_INT(fx_feed(&f, &ok), 0);
    fx_events(&f);
    ev = fx_find(&f, LMQ_EV_AUTH);
    CHECK(ev && ev->reason == 0);
    /* no exchange under way: the server's AUTH is a protocol error */
    CHECK_INT(fx_feed(&f, &ok), LMQ_EPROTOCOL);
    CHECK_INT(fx_next(&f), LMQ_DISCONNECT);
    CHECK_INT(f.pkt.u.disconnect.reason, 0x82);
    lmq_proplist_free(pl);
    fx_free(&f);
}

static void test_auth_with_another_method_is_a_protocol_error(void)
{
    fx f;
    fx_init(&f, 5);
    str(&f, LMQ_OPT_AUTH_METHOD, "A");
    CHECK_INT(lmq_session_start(f.s, f.now), 0);
    fx_skip_all(&f);
    lmq_packet a = auth_pkt(0x18, "B", NULL);
    CHECK_INT(fx_feed(&f, &a), LMQ_EPROTOCOL);
    CHECK_INT(fx_next(&f), LMQ_DISCONNECT);
    CHECK_INT(f.pkt.u.disconnect.reason, 0x82);
    fx_free(&f);
}

static void test_auth_needs_v5_and_a_method(void)
{
    fx f;
    fx_init(&f, 4);
    fx_connect(&f, 0);
    CHECK_INT(lmq_session_auth(f.s, 0x19, NULL, f.now), LMQ_EVERSION);
    fx_free(&f);
    fx_init(&f, 5);
    fx_connect(&f, 0);
    /* no Authentication Method in CONNECT: no AUTH from us [MQTT-4.12.0-7] */
    CHECK_INT(lmq_session_auth(f.s, 0x19, NULL, f.now), LMQ_ESTATE);
    CHECK_INT(lmq_session_auth(f.s, 0x18, NULL, f.now), LMQ_ESTATE);
    CHECK_INT(fx_next(&f), 0);
    fx_free(&f);
}

/* ------------------------------------------- conformance (CONNECT, AUTH) */

/* Every packet the session wrote, by type, into types[] (at most max). */
static int sent_types(fx *f, int *types, int max)
{
    int n = 0, t;
    while ((t = fx_next(f)) > 0)
        if (n < max)
            types[n++] = t;
    return n;
}

static void test_connect_goes_first_and_once(void)
{
    fx f;
    int t[8];
    fx_init(&f, 5);
    /* asked for while offline: queued, never ahead of CONNECT */
    CHECK(fx_pub(&f, "a", "x", 1) > 0);
    lmq_subscription sub = { "s/#", -1, 1 };
    CHECK(lmq_session_subscribe(f.s, &sub, 1, NULL, f.now) > 0);
    CHECK_INT(lmq_session_start(f.s, f.now), 0);
    /* [MQTT-3.1.0-1] the first packet on the connection is CONNECT, and
     * nothing is pipelined behind it that a refusal could leave unprocessed
     * (the server's side: [MQTT-3.1.4-6]) */
    CHECK_INT(sent_types(&f, t, 8), 1);
    CHECK_INT(t[0], LMQ_CONNECT);
    /* [MQTT-3.1.0-2] one CONNECT per connection, whatever the application
     * asks */
    CHECK_INT(lmq_session_start(f.s, f.now), LMQ_ESTATE);
    CHECK_INT(fx_next(&f), 0);
    lmq_packet ca = fx_connack(0, 0);
    CHECK_INT(fx_feed(&f, &ca), 0);
    CHECK_INT(lmq_session_start(f.s, f.now), LMQ_ESTATE);
    CHECK_INT(sent_types(&f, t, 8), 2);
    CHECK(t[0] != LMQ_CONNECT && t[1] != LMQ_CONNECT);
    fx_free(&f);
}

static void test_only_auth_goes_before_connack_with_an_auth_method(void)
{
    fx f;
    int t[8];
    fx_init(&f, 5);
    str(&f, LMQ_OPT_AUTH_METHOD, "M");
    lmq_session_set_int(f.s, LMQ_OPT_KEEPALIVE, 1);
    CHECK_INT(lmq_session_start(f.s, f.now), 0);
    CHECK_INT(fx_next(&f), LMQ_CONNECT);
    CHECK(fx_pub(&f, "a", "x", 0) > 0);
    CHECK(fx_pub(&f, "a", "y", 1) > 0);
    lmq_subscription sub = { "s", -1, 0 };
    CHECK(lmq_session_subscribe(f.s, &sub, 1, NULL, f.now) > 0);
    CHECK_INT(lmq_session_tick(f.s, f.now + 5000), 0);   /* past the keepalive */
    lmq_packet a = auth_pkt(0x18, "M", "challenge");
    CHECK_INT(fx_feed(&f, &a), 0);
    CHECK_INT(lmq_session_auth(f.s, 0x18, NULL, f.now), 0);
    /* [MQTT-3.1.2-30] until CONNACK: AUTH (or DISCONNECT), nothing else */
    CHECK_INT(sent_types(&f, t, 8), 1);
    CHECK_INT(t[0], LMQ_AUTH);
    lmq_packet ca = fx_connack(0, 0);
    ca.u.connack.props.auth_method = (lmq_slice){ (const uint8_t *)"M", 1 };
    lmq_props_set(&ca.u.connack.props, LMQ_PROP_AUTH_METHOD);
    CHECK_INT(fx_feed(&f, &ca), 0);
    CHECK_INT(sent_types(&f, t, 8), 3);   /* then the two PUBLISH and SUBSCRIBE */
    fx_free(&f);
}

static void test_refusals_close_the_connection(void)
{
    /* The server's checks [MQTT-3.1.2-2] (0x84), [MQTT-3.1.3-8] (0x85),
     * [MQTT-3.1.4-2] (0x86, 0x87) end in a CONNACK >= 0x80: reported, and
     * the connection closes without another packet [MQTT-4.13.2-1]. */
    static const int codes[] = { 0x84, 0x85, 0x86, 0x87 };
    for (int i = 0; i < 4; i++) {
        fx f;
        fx_init(&f, 5);
        CHECK_INT(lmq_session_start(f.s, f.now), 0);
        fx_skip_all(&f);
        lmq_packet ca = fx_connack(0, codes[i]);
        CHECK_INT(fx_feed(&f, &ca), LMQ_EREFUSED);
        fx_events(&f);
        const lmq_event *ev = fx_find(&f, LMQ_EV_CONNECT_FAILED);
        CHECK(ev && ev->reason == codes[i]);
        CHECK_INT(fx_next(&f), 0);
        CHECK(lmq_session_wants_close(f.s));
        fx_free(&f);
    }
}

static void test_authentication_rejected_mid_exchange_closes(void)
{
    fx f;
    fx_init(&f, 5);
    str(&f, LMQ_OPT_AUTH_METHOD, "M");
    CHECK_INT(lmq_session_start(f.s, f.now), 0);
    fx_skip_all(&f);
    lmq_packet a = auth_pkt(0x18, "M", NULL);
    CHECK_INT(fx_feed(&f, &a), 0);
    CHECK_INT(lmq_session_auth(f.s, 0x18, NULL, f.now), 0);
    fx_skip_all(&f);
    /* [MQTT-4.12.0-4] the server may reject at any point with CONNACK
     * >= 0x80 and close: so do we, and the exchange is over */
    lmq_packet ca = fx_connack(0, 0x8C);
    CHECK_INT(fx_feed(&f, &ca), LMQ_EREFUSED);
    CHECK(lmq_session_wants_close(f.s));
    CHECK_INT(lmq_session_auth(f.s, 0x18, NULL, f.now), LMQ_ESTATE);
    CHECK_INT(fx_next(&f), 0);
    fx_free(&f);
}

static void test_failed_reauthentication_closes(void)
{
    fx f;
    fx_init(&f, 5);
    str(&f, LMQ_OPT_AUTH_METHOD, "M");
    fx_connect(&f, 0);
    CHECK_INT(lmq_session_auth(f.s, 0x19, NULL, f.now), 0);
    CHECK_INT(fx_next(&f), LMQ_AUTH);
    /* [MQTT-4.12.1-2] the server ends a failed re-authentication with
     * DISCONNECT: reported, nothing sent back, the connection closes */
    lmq_packet d;
    memset(&d, 0, sizeof d);
    d.type = LMQ_DISCONNECT;
    d.u.disconnect.reason = 0x87;
    CHECK_INT(fx_feed(&f, &d), LMQ_EDISCONNECTED);
    fx_events(&f);
    const lmq_event *ev = fx_find(&f, LMQ_EV_DISCONNECTED);
    CHECK(ev && ev->reason == 0x87);
    CHECK_INT(fx_next(&f), 0);
    CHECK(lmq_session_wants_close(f.s));
    fx_free(&f);
}

static void test_auth_never_exceeds_the_server_maximum_packet_size(void)
{
    fx f;
    char big[64];
    memset(big, 'r', sizeof big);
    fx_init(&f, 5);
    str(&f, LMQ_OPT_AUTH_METHOD, "M");
    lmq_packet ca = fx_connack(0, 0);
    ca.u.connack.props.maximum_packet_size = 40;
    lmq_props_set(&ca.u.connack.props, LMQ_PROP_MAXIMUM_PACKET_SIZE);
    fx_connect_with(&f, &ca);
    /* [MQTT-3.15.2-2] a Reason String, [MQTT-3.15.2-3] a User Property
     * that would take AUTH past the server's maximum: not sent */
    lmq_proplist *rs = lmq_proplist_new();
    CHECK_INT(lmq_proplist_add_str(rs, LMQ_PROP_REASON_STRING, big, sizeof big), 0);
    CHECK_INT(lmq_session_auth(f.s, 0x19, rs, f.now), LMQ_ESERVER_MAX_SIZE);
    lmq_proplist *up = lmq_proplist_new();
    CHECK_INT(lmq_proplist_add_user(up, "k", 1, big, sizeof big), 0);
    CHECK_INT(lmq_session_auth(f.s, 0x19, up, f.now), LMQ_ESERVER_MAX_SIZE);
    CHECK_INT(fx_next(&f), 0);
    /* a short one fits and goes */
    lmq_proplist *ok = lmq_proplist_new();
    CHECK_INT(lmq_proplist_add_str(ok, LMQ_PROP_REASON_STRING, "again", -1), 0);
    CHECK_INT(lmq_session_auth(f.s, 0x19, ok, f.now), 0);
    CHECK_INT(fx_next(&f), LMQ_AUTH);
    CHECK(f.raw_n <= 40);
    lmq_proplist_free(rs);
    lmq_proplist_free(up);
    lmq_proplist_free(ok);
    fx_free(&f);
}

static lmq_packet puback_with(int pid, int reason_string, int user)
{
    static lmq_strpair up[] = { { { (const uint8_t *)"k", 1 }, { (const uint8_t *)"v", 1 } } };
    lmq_packet a = fx_ack(LMQ_PUBACK, pid, 0x10);
    if (reason_string) {
        a.u.ack.props.reason_string = (lmq_slice){ (const uint8_t *)"why", 3 };
        lmq_props_set(&a.u.ack.props, LMQ_PROP_REASON_STRING);
    }
    if (user) {
        a.u.ack.props.user = up;
        a.u.ack.props.n_user = 1;
    }
    return a;
}

static void test_declined_problem_information_is_a_protocol_error(void)
{
    fx f;
    /* asked for (the default): a Reason String on PUBACK is fine */
    fx_init(&f, 5);
    fx_connect(&f, 0);
    CHECK(fx_pub(&f, "t", "x", 1) > 0);
    fx_skip_all(&f);
    lmq_packet a = puback_with(1, 1, 1);
    CHECK_INT(fx_feed(&f, &a), 0);
    fx_free(&f);

    for (int which = 0; which < 2; which++) {
        fx_init(&f, 5);
        CHECK_INT(lmq_session_set_int(f.s, LMQ_OPT_REQUEST_PROBLEM_INFO, 0), 0);
        fx_connect(&f, 0);
        /* a User Property on PUBLISH stays legal */
        lmq_packet p = fx_publish("in", "x", 0, 0);
        static lmq_strpair up[] = { { { (const uint8_t *)"k", 1 }, { (const uint8_t *)"v", 1 } } };
        p.u.publish.props.user = up;
        p.u.publish.props.n_user = 1;
        CHECK_INT(fx_feed(&f, &p), 0);
        CHECK(fx_pub(&f, "t", "x", 1) > 0);
        fx_skip_all(&f);
        /* [MQTT-3.1.2-29] a Reason String (which 0) or User Property
         * (which 1) on PUBACK: DISCONNECT 0x82 */
        a = puback_with(1, which == 0, which == 1);
        CHECK_INT(fx_feed(&f, &a), LMQ_EPROTOCOL);
        CHECK_INT(fx_next(&f), LMQ_DISCONNECT);
        CHECK_INT(f.pkt.u.disconnect.reason, 0x82);
        CHECK(lmq_session_wants_close(f.s));
        fx_free(&f);
    }
}

/* -------------------------------------------------------------- events */

static void test_events_stay_valid_until_the_next_pull(void)
{
    fx f;
    fx_init(&f, 4);
    fx_connect(&f, 0);
    lmq_packet p = fx_publish("t/1", "first", 0, 0);
    CHECK_INT(fx_feed(&f, &p), 0);
    lmq_event ev[1];
    CHECK_INT(lmq_session_events(f.s, ev, 1), 1);
    /* many more events (and arena chunks) arrive before the next pull */
    static char big[70000];
    memset(big, 'x', sizeof big - 1);
    for (int i = 0; i < 5; i++) {
        lmq_packet q = fx_publish("t/2", big, 0, 0);
        CHECK_INT(fx_feed(&f, &q), 0);
    }
    CHECK_INT(ev[0].payload_len, 5);
    CHECK_MEM(ev[0].payload, "first", 5);
    CHECK_INT(ev[0].topic_len, 3);
    CHECK_MEM(ev[0].topic, "t/1", 3);
    CHECK_INT(fx_events(&f), 5);
    CHECK_INT(f.ev[4].payload_len, (int)sizeof big - 1);
    lmq_session_push_event(f.s, LMQ_EV_ERROR, LMQ_EIO, 0, "socket broke");
    CHECK_INT(fx_events(&f), 1);
    CHECK(f.ev[0].text && strcmp(f.ev[0].text, "socket broke") == 0);
    fx_free(&f);
}

static void test_logs_respect_the_log_level(void)
{
    fx f;
    fx_init(&f, 4);
    lmq_session_set_int(f.s, LMQ_OPT_LOG_LEVEL, LMQ_LOG_ERROR);
    fx_connect(&f, 0);
    CHECK_INT(fx_count(&f, LMQ_EV_LOG), 0);     /* INFO and DEBUG are below */
    lmq_packet ca = fx_connack(0, 0);
    CHECK_INT(fx_feed(&f, &ca), LMQ_EPROTOCOL);
    fx_events(&f);
    const lmq_event *ev = fx_find(&f, LMQ_EV_LOG);
    CHECK(ev && ev->log_level == LMQ_LOG_ERROR && ev->text && strstr(ev->text, "CONNACK"));
    CHECK(ev && ev->reason == 0);               /* the level has its own field */
    fx_free(&f);
}

/* ---------------------------------------------------------- robustness */

static uint32_t rnd_state = 12345;
static uint32_t rnd(void)
{
    rnd_state ^= rnd_state << 13;
    rnd_state ^= rnd_state >> 17;
    rnd_state ^= rnd_state << 5;
    return rnd_state;
}

static void test_random_bytes_from_the_server_never_crash(void)
{
    for (int round = 0; round < 300; round++) {
        fx f;
        fx_init(&f, round % 2 ? 5 : 4);
        fx_connect(&f, 0);
        fx_pub(&f, "t", "x", 1);
        fx_pub(&f, "t", "y", 2);
        uint8_t junk[64];
        size_t n = 1 + rnd() % sizeof junk;
        for (size_t i = 0; i < n; i++)
            junk[i] = (uint8_t)rnd();
        int rc = fx_feed_bytes(&f, junk, n);
        CHECK(rc <= 0);
        /* whatever happened, what the session wrote decodes */
        int t;
        while ((t = fx_next(&f)) > 0)
            ;
        CHECK_INT(t, 0);
        lmq_session_lost(f.s, f.now, rc);
        fx_events(&f);
        fx_free(&f);
    }
}

/* A server that answers at random (valid packets, wrong ids, duplicates,
 * reconnects): the session never sends a packet that does not decode,
 * never exceeds the server's Receive Maximum, and its counters stay
 * consistent. */
static void test_random_valid_traffic_keeps_state_consistent(void)
{
    fx f;
    fx_init(&f, 5);
    lmq_session_set_int(f.s, LMQ_OPT_CLEAN_START, 0);
    lmq_session_set_int(f.s, LMQ_OPT_TOPIC_ALIAS_MAXIMUM, 3);
    lmq_session_set_int(f.s, LMQ_OPT_RECEIVE_MAXIMUM, 8);
    lmq_packet ca = fx_connack(0, 0);
    ca.u.connack.props.receive_maximum = 5;
    lmq_props_set(&ca.u.connack.props, LMQ_PROP_RECEIVE_MAXIMUM);
    ca.u.connack.props.topic_alias_maximum = 2;
    lmq_props_set(&ca.u.connack.props, LMQ_PROP_TOPIC_ALIAS_MAXIMUM);
    fx_connect_with(&f, &ca);
    int bad = 0, reconnects = 0;
    for (int step = 0; step < 20000; step++) {
        int rc = 0;
        uint16_t pid = (uint16_t)(1 + rnd() % 12);
        switch (rnd() % 8) {
        case 0: {
            char topic[4] = { 't', '/', (char)('a' + rnd() % 4), 0 };
            fx_pub(&f, topic, "p", (int)(rnd() % 3));
            break;
        }
        case 1: {
            static const int types[] = { LMQ_PUBACK, LMQ_PUBREC, LMQ_PUBCOMP };
            lmq_packet a = fx_ack(types[rnd() % 3], pid, 0);
            rc = fx_feed(&f, &a);
            break;
        }
        case 2: {
            lmq_packet p = fx_publish("in/x", "m", (int)(rnd() % 3), pid);
            if (p.u.publish.qos == 0)
                p.u.publish.packet_id = 0;
            if (rnd() % 2) {
                p.u.publish.props.topic_alias = (uint16_t)(1 + rnd() % 3);
                lmq_props_set(&p.u.publish.props, LMQ_PROP_TOPIC_ALIAS);
            }
            rc = fx_feed(&f, &p);
            break;
        }
        case 3: {
            lmq_packet r = fx_ack(LMQ_PUBREL, pid, 0);
            rc = fx_feed(&f, &r);
            break;
        }
        case 4:
            f.now += rnd() % 20000;
            rc = lmq_session_tick(f.s, f.now);
            break;
        case 5: {
            /* answer the oldest thing in flight correctly */
            int t;
            while ((t = fx_next(&f)) > 0) {
                lmq_packet a;
                if (t == LMQ_PUBLISH && f.pkt.u.publish.qos == 1)
                    a = fx_ack(LMQ_PUBACK, f.pkt.u.publish.packet_id, 0);
                else if (t == LMQ_PUBLISH && f.pkt.u.publish.qos == 2)
                    a = fx_ack(LMQ_PUBREC, f.pkt.u.publish.packet_id, 0);
                else if (t == LMQ_PUBREL)
                    a = fx_ack(LMQ_PUBCOMP, f.pkt.u.ack.packet_id, 0);
                else
                    continue;
                if ((rc = fx_feed(&f, &a)) < 0)
                    break;
            }
            if (t < 0)
                bad++;
            break;
        }
        default: {
            int t;
            while ((t = fx_next(&f)) > 0)
                ;
            if (t < 0)
                bad++;
            break;
        }
        }
        lmq_session_stats st;
        lmq_session_stats_get(f.s, &st);
        if (st.inflight_out > 5)
            bad++;
        /* Stray acks no longer end the connection: drop it now and then,
         * so the resend paths run too. */
        if (step % 1000 == 999 && rc == 0)
            rc = LMQ_ECLOSED;
        if (rc < 0 || lmq_session_state(f.s) != LMQ_SS_CONNECTED) {
            int t;
            while ((t = fx_next(&f)) > 0)
                ;
            if (t < 0)
                bad++;
            lmq_session_lost(f.s, f.now, rc);
            fx_skip_all(&f);
            ca.u.connack.session_present = (uint8_t)(rnd() % 2);
            fx_connect_with(&f, &ca);
            reconnects++;
        }
        fx_events(&f);
    }
    CHECK_INT(bad, 0);
    CHECK(reconnects > 0);
    lmq_session_stats st;
    lmq_session_stats_get(f.s, &st);
    CHECK(st.stray_acks > 0);
    fx_free(&f);
}

int main(void)
{
    RUN(test_connect_bytes_mqtt311);
    RUN(test_connect_bytes_mqtt31_uses_mqisdp);
    RUN(test_connect_bytes_mqtt5_minimal);
    RUN(test_connect_bytes_mqtt311_with_credentials_and_will);
    RUN(test_connect_bytes_mqtt5_with_session_expiry);
    RUN(test_connect_v5_carries_every_option);
    RUN(test_password_and_auth_data_are_never_logged);
    RUN(test_connect_refuses_bad_client_ids_at_3x);
    RUN(test_connack_success_reports_connected_with_props);
    RUN(test_assigned_client_id_is_used_for_the_rest_of_the_session);
    RUN(test_connack_refused_v5_reports_reason);
    RUN(test_connack_refused_311_return_code);
    RUN(test_connack_wait_is_bounded_by_connect_timeout);
    RUN(test_second_connack_is_a_protocol_error);
    RUN(test_session_present_after_clean_start_is_a_protocol_error);
    RUN(test_packet_before_connack_is_a_protocol_error);
    RUN(test_protocol_error_at_311_just_closes);
    RUN(test_pingreq_after_keepalive_without_traffic);
    RUN(test_sending_postpones_the_ping);
    RUN(test_dead_link_is_detected_at_one_and_a_half_keepalive);
    RUN(test_server_keep_alive_replaces_ours);
    RUN(test_keepalive_zero_never_pings);
    RUN(test_server_disconnect_is_reported_with_reason_and_reference);
    RUN(test_our_disconnect_is_flushed_then_closed);
    RUN(test_disconnect_refuses_session_expiry_after_zero);
    RUN(test_disconnect_at_311_is_two_bytes);
    RUN(test_lost_connection_before_connack_is_connect_failed);
    RUN(test_enhanced_authentication_exchange);
    RUN(test_auth_with_another_method_is_a_protocol_error);
    RUN(test_auth_needs_v5_and_a_method);
    RUN(test_connect_goes_first_and_once);
    RUN(test_only_auth_goes_before_connack_with_an_auth_method);
    RUN(test_refusals_close_the_connection);
    RUN(test_authentication_rejected_mid_exchange_closes);
    RUN(test_failed_reauthentication_closes);
    RUN(test_auth_never_exceeds_the_server_maximum_packet_size);
    RUN(test_declined_problem_information_is_a_protocol_error);
    RUN(test_events_stay_valid_until_the_next_pull);
    RUN(test_logs_respect_the_log_level);
    RUN(test_random_bytes_from_the_server_never_crash);
    RUN(test_random_valid_traffic_keeps_state_consistent);
    return check_done();
}
