/*
 * test_ws.c - MQTT over WebSocket (ws and wss) through a real WebSocket
 * server: tests/support/ws_bridge.py (python3-websockets) in front of a
 * real mosquitto, started and stopped here.
 */
#define _GNU_SOURCE
#include "itest.h"
#include "certs.h"
#include "ws_bridge.h"

static void pump(int ms)
{
    tw_pump(ms);
}

/* A client to the bridge through a ws:// or wss:// URL, reconnect off. */
static tw_client *ws_client(const tbr_bridge *br, const char *name, const char *scheme,
                            const char *path, int level)
{
    tw_client *t = tw_new(name);
    char url[160];

    if (!t)
        return NULL;
    snprintf(url, sizeof url, "%s://127.0.0.1:%d%s", scheme, br->port, path ? path : "");
    CHECK_INT(lmq_client_set_url(t->c, url, -1), 0);
    lmq_client_set_str(t->c, LMQ_OPT_CLIENT_ID, name, -1);
    lmq_client_set_int(t->c, LMQ_OPT_PROTOCOL, level);
    lmq_client_set_int(t->c, LMQ_OPT_RECONNECT, 0);
    lmq_client_set_int(t->c, LMQ_OPT_CONNECT_TIMEOUT_MS, IT_SHORT_MS);
    return t;
}

static void round_trip(tw_client *t, const char *topic)
{
    CHECK_INT(tw_subscribe(t, topic, 1, IT_SHORT_MS), 1);
    CHECK_INT(tw_publish_wait(t, topic, "over ws", 1, 0, IT_SHORT_MS), 0);
    tw_event *m = tw_wait_msg(t, topic, IT_SHORT_MS);
    CHECK(m && m->ev.payload_len == 7 && memcmp(m->payload, "over ws", 7) == 0);
}

/* The server (python3-websockets) closes the connection on an unmasked
 * client frame (RFC 6455, 5.1): every passing exchange here also proves
 * the client masks. */
static void test_ws_connects_on_the_path_offering_mqtt(void)
{
    const char *args[] = {"--path", "/mqtt", NULL};
    tb_broker *b = tb_broker_start(NULL);
    tbr_bridge *br = NULL;
    tw_client *t = NULL;
    char line[128];

    REQUIRE(b);
    br = tbr_start(tb_broker_port(b), args);
    REQUIRE(br);
    t = ws_client(br, "ws-basic", "ws", NULL, LMQ_MQTT_5);   /* default path /mqtt */
    REQUIRE(t);
    REQUIRE(tw_connect(t, IT_SHORT_MS) == 0);
    /* [MQTT-6.0.0-3] offered and [MQTT-6.0.0-4] selected: "mqtt" */
    CHECK(tbr_expect(br, "SUBPROTOCOL", line, sizeof line, IT_SHORT_MS) == 0 &&
          strcmp(line, "SUBPROTOCOL mqtt") == 0);
    CHECK(tbr_expect(br, "PATH", line, sizeof line, IT_SHORT_MS) == 0 &&
          strcmp(line, "PATH /mqtt") == 0);
    round_trip(t, "it/ws/basic");
done:
    tw_free(t);
    tbr_stop(br);
    it_broker_stop(b);
}

static void test_ws_mqtt31_offers_the_old_subprotocol_name(void)
{
    tb_broker *b = tb_broker_start(NULL);
    tbr_bridge *br = NULL;
    tw_client *t = NULL;
    char line[128];

    REQUIRE(b);
    br = tbr_start(tb_broker_port(b), NULL);
    REQUIRE(br);
    t = ws_client(br, "ws-31", "ws", "/mqtt", LMQ_MQTT_31);
    REQUIRE(t);
    REQUIRE(tw_connect(t, IT_SHORT_MS) == 0);
    CHECK(tbr_expect(br, "SUBPROTOCOL", line, sizeof line, IT_SHORT_MS) == 0 &&
          strcmp(line, "SUBPROTOCOL mqttv3.1") == 0);
    round_trip(t, "it/ws/31");
done:
    tw_free(t);
    tbr_stop(br);
    it_broker_stop(b);
}

/* [MQTT-6.0.0-2] packets are not aligned on frames: the bridge cuts what
 * the broker sends into 1000-byte frames (a 200 kB PUBLISH arrives in
 * 200 of them, and small packets share frames), and we send 16 KiB frames. */
static void test_ws_packets_span_frames_and_share_them(void)
{
    const char *args[] = {"--max-frame", "1000", NULL};
    tb_broker *b = tb_broker_start(NULL);
    tbr_bridge *br = NULL;
    tw_client *t = NULL;
    size_t n = 200 * 1000;
    char *big = malloc(n + 1);

    REQUIRE(b && big);
    for (size_t i = 0; i < n; i++)
        big[i] = (char)('A' + i % 26);
    big[n] = '\0';
    br = tbr_start(tb_broker_port(b), args);
    REQUIRE(br);
    t = ws_client(br, "ws-frames", "ws", "/mqtt", LMQ_MQTT_5);
    REQUIRE(t);
    REQUIRE(tw_connect(t, IT_SHORT_MS) == 0);
    CHECK_INT(tw_subscribe(t, "it/ws/big", 1, IT_SHORT_MS), 1);
    for (int k = 0; k < 2; k++)
        CHECK(tw_publish(t, "it/ws/big", big, 1, 0) > 0);
    CHECK_INT(tw_wait_count(t, LMQ_EV_MESSAGE, 2, IT_LONG_MS), 2);
    for (int k = 0; k < 2; k++) {
        tw_event *m = tw_wait_msg(t, "it/ws/big", IT_SHORT_MS);
        CHECK(m && m->ev.payload_len == (int32_t)n && memcmp(m->payload, big, n) == 0);
    }
    /* many small ones back to back: several packets per frame */
    for (int k = 0; k < 100; k++)
        CHECK(tw_publish(t, "it/ws/small", "x", 1, 0) > 0);
    CHECK_INT(tw_subscribe(t, "it/ws/small2", 1, IT_SHORT_MS), 1);
    for (int k = 0; k < 100; k++)
        CHECK(tw_publish(t, "it/ws/small2", "y", 1, 0) > 0);
    CHECK_INT(tw_wait_count(t, LMQ_EV_MESSAGE, 102, IT_LONG_MS), 102);
    CHECK_INT(tw_count_msgs(t, "it/ws/small2"), 100);
done:
    free(big);
    tw_free(t);
    tbr_stop(br);
    it_broker_stop(b);
}

static void test_ws_answers_the_servers_ping(void)
{
    const char *args[] = {"--ping", NULL};
    tb_broker *b = tb_broker_start(NULL);
    tbr_bridge *br = NULL;
    tw_client *t = NULL;

    REQUIRE(b);
    br = tbr_start(tb_broker_port(b), args);
    REQUIRE(br);
    t = ws_client(br, "ws-ping", "ws", "/mqtt", LMQ_MQTT_5);
    REQUIRE(t);
    REQUIRE(tw_connect(t, IT_SHORT_MS) == 0);
    CHECK(tbr_expect_pumping(br, "PONG", NULL, 0, IT_SHORT_MS, pump) == 0);
    round_trip(t, "it/ws/ping");
done:
    tw_free(t);
    tbr_stop(br);
    it_broker_stop(b);
}

static void test_ws_refused_upgrade_reports_the_status_line(void)
{
    const char *reject[] = {"--reject", "403", NULL};
    const char *path[] = {"--path", "/mqtt", NULL};
    tbr_bridge *br = NULL, *br2 = NULL;
    tw_client *t = NULL, *u = NULL;

    br = tbr_start(1, reject);      /* never reaches a broker */
    REQUIRE(br);
    t = ws_client(br, "ws-403", "ws", "/mqtt", LMQ_MQTT_5);
    REQUIRE(t);
    CHECK_INT(tw_connect(t, IT_SHORT_MS), LMQ_EWS_UPGRADE);
    CHECK(strstr(lmq_client_errmsg(t->c), "HTTP/1.1 403 Forbidden") != NULL);

    br2 = tbr_start(1, path);
    REQUIRE(br2);
    u = ws_client(br2, "ws-404", "ws", "/elsewhere", LMQ_MQTT_5);
    REQUIRE(u);
    CHECK_INT(tw_connect(u, IT_SHORT_MS), LMQ_EWS_UPGRADE);
    CHECK(strstr(lmq_client_errmsg(u->c), "404") != NULL);
done:
    tw_free(t);
    tw_free(u);
    tbr_stop(br);
    tbr_stop(br2);
}

static void test_ws_extra_headers_are_sent(void)
{
    const char *args[] = {"--require-header", "X-Token: abc", NULL};
    tb_broker *b = tb_broker_start(NULL);
    tbr_bridge *br = NULL;
    tw_client *t = NULL, *u = NULL;

    REQUIRE(b);
    br = tbr_start(tb_broker_port(b), args);
    REQUIRE(br);
    t = ws_client(br, "ws-no-header", "ws", "/mqtt", LMQ_MQTT_5);
    REQUIRE(t);
    CHECK_INT(tw_connect(t, IT_SHORT_MS), LMQ_EWS_UPGRADE);
    CHECK(strstr(lmq_client_errmsg(t->c), "401") != NULL);

    u = ws_client(br, "ws-header", "ws", "/mqtt", LMQ_MQTT_5);
    REQUIRE(u);
    CHECK_INT(lmq_client_set_str(u->c, LMQ_OPT_WS_HEADERS, "X-Other: 1\nX-Token: abc", -1), 0);
    CHECK_INT(tw_connect(u, IT_SHORT_MS), 0);
done:
    tw_free(t);
    tw_free(u);
    tbr_stop(br);
    it_broker_stop(b);
}

/* Our goodbye closes with 1000; the server's close code and reason are
 * reported (4001 here: not a normal end, so LMQ_EWS). */
static void test_ws_close_handshake_carries_codes(void)
{
    const char *args[] = {"--close-code", "4001", "--close-reason", "broker gone", NULL};
    tb_broker *b = tb_broker_start(NULL);
    tbr_bridge *br = NULL;
    tw_client *t = NULL, *u = NULL;
    char line[64];

    REQUIRE(b);
    br = tbr_start(tb_broker_port(b), args);
    REQUIRE(br);
    t = ws_client(br, "ws-bye", "ws", "/mqtt", LMQ_MQTT_5);
    REQUIRE(t);
    REQUIRE(tw_connect(t, IT_SHORT_MS) == 0);
    CHECK_INT(lmq_client_disconnect(t->c, 0, NULL), 0);
    CHECK(tbr_expect_pumping(br, "CLIENT_CLOSE", line, sizeof line, IT_SHORT_MS, pump) == 0 &&
          strcmp(line, "CLIENT_CLOSE 1000") == 0);

    u = ws_client(br, "ws-dropped", "ws", "/mqtt", LMQ_MQTT_5);
    REQUIRE(u);
    REQUIRE(tw_connect(u, IT_SHORT_MS) == 0);
    REQUIRE(tb_broker_kill(b) == 0);
    tw_event *e = tw_wait(u, LMQ_EV_DISCONNECTED, IT_SHORT_MS);
    CHECK(e && e->ev.error == LMQ_EWS);
    CHECK(strstr(lmq_client_errmsg(u->c), "code 4001 \"broker gone\"") != NULL);
done:
    tw_free(t);
    tw_free(u);
    tbr_stop(br);
    it_broker_stop(b);
}

/* [MQTT-6.0.0-1] a text frame closes the connection. */
static void test_ws_text_frame_closes_the_connection(void)
{
    const char *args[] = {"--text-frame", NULL};
    tb_broker *b = tb_broker_start(NULL);
    tbr_bridge *br = NULL;
    tw_client *t = NULL;
    char line[64];

    REQUIRE(b);
    br = tbr_start(tb_broker_port(b), args);
    REQUIRE(br);
    t = ws_client(br, "ws-text", "ws", "/mqtt", LMQ_MQTT_5);
    REQUIRE(t);
    /* The text frame may come before or after CONNACK: either way the
     * connection ends with LMQ_EWS. */
    REQUIRE(tw_start(t) == 0);
    int64_t until = tw_now_ms() + IT_SHORT_MS;
    tw_event *e = NULL;
    while (!e && tw_now_ms() < until) {
        tw_pump(20);
        for (int i = 0; i < t->n && !e; i++)
            if ((t->ev[i].ev.type == LMQ_EV_DISCONNECTED ||
                 t->ev[i].ev.type == LMQ_EV_CONNECT_FAILED) && t->ev[i].ev.error)
                e = &t->ev[i];
    }
    CHECK(e && e->ev.error == LMQ_EWS);
    CHECK(tbr_expect_pumping(br, "CLIENT_CLOSE", line, sizeof line, IT_SHORT_MS, pump) == 0 &&
          strcmp(line, "CLIENT_CLOSE 1003") == 0);
done:
    tw_free(t);
    tbr_stop(br);
    it_broker_stop(b);
}

static void test_wss_verifies_the_server_and_carries_large_messages(void)
{
    tb_broker *b = tb_broker_start(NULL);
    tbr_bridge *br = NULL;
    tw_client *t = NULL, *u = NULL;
    size_t n = 100 * 1000;
    char *big = malloc(n + 1);

    REQUIRE(b && big && tc_certs_dir());
    memset(big, 'w', n);
    big[n] = '\0';
    const char *args[] = {"--cert", tc_file("server.crt"), "--key", tc_file("server.key"),
                          "--max-frame", "4000", NULL};
    br = tbr_start(tb_broker_port(b), args);
    REQUIRE(br);
    t = ws_client(br, "wss-ok", "wss", "/mqtt", LMQ_MQTT_311);
    REQUIRE(t);
    CHECK_INT(lmq_client_set_str(t->c, LMQ_OPT_TLS_CA_FILE, tc_file("ca.crt"), -1), 0);
    REQUIRE(tw_connect(t, IT_SHORT_MS) == 0);
    round_trip(t, "it/wss/small");
    CHECK_INT(tw_subscribe(t, "it/wss/big", 1, IT_SHORT_MS), 1);
    CHECK(tw_publish(t, "it/wss/big", big, 1, 0) > 0);
    tw_event *m = tw_wait_msg(t, "it/wss/big", IT_LONG_MS);
    CHECK(m && m->ev.payload_len == (int32_t)n && memcmp(m->payload, big, n) == 0);

    u = ws_client(br, "wss-unknown-ca", "wss", "/mqtt", LMQ_MQTT_311);
    REQUIRE(u);
    CHECK_INT(lmq_client_set_str(u->c, LMQ_OPT_TLS_CA_FILE, tc_file("other-ca.crt"), -1), 0);
    CHECK_INT(tw_connect(u, IT_SHORT_MS), LMQ_ETLS_UNKNOWN_CA);
done:
    free(big);
    tw_free(t);
    tw_free(u);
    tbr_stop(br);
    it_broker_stop(b);
}

/* A server that takes the TCP connection and never answers the upgrade. */
static void test_ws_handshake_timeout_is_its_own_error(void)
{
    tf_fake *f = tf_fake_new();
    tw_client *t = NULL;
    char url[64];

    REQUIRE(f);
    t = tw_new("ws-hs-timeout");
    REQUIRE(t);
    tw_set_external(t, 1);
    tf_fake_set_idle(f, tw_idle, NULL);
    snprintf(url, sizeof url, "ws://127.0.0.1:%d/mqtt", tf_fake_port(f));
    CHECK_INT(lmq_client_set_url(t->c, url, -1), 0);
    lmq_client_set_int(t->c, LMQ_OPT_CONNECT_TIMEOUT_MS, 300);
    REQUIRE(tw_start(t) == 0);
    REQUIRE(tf_fake_accept(f, IT_SHORT_MS) == 0);
    tw_event *e = tw_wait(t, LMQ_EV_CONNECT_FAILED, IT_SHORT_MS);
    CHECK(e && e->ev.error == LMQ_EHANDSHAKE_TIMEOUT);
    CHECK(e && e->text && strstr(e->text, "ws handshake timed out"));
done:
    tw_free(t);
    tf_fake_free(f);
}

int main(void)
{
    RUN(test_ws_connects_on_the_path_offering_mqtt);
    RUN(test_ws_mqtt31_offers_the_old_subprotocol_name);
    RUN(test_ws_packets_span_frames_and_share_them);
    RUN(test_ws_answers_the_servers_ping);
    RUN(test_ws_refused_upgrade_reports_the_status_line);
    RUN(test_ws_extra_headers_are_sent);
    RUN(test_ws_close_handshake_carries_codes);
    RUN(test_ws_text_frame_closes_the_connection);
    RUN(test_wss_verifies_the_server_and_carries_large_messages);
    RUN(test_ws_handshake_timeout_is_its_own_error);
    return check_done();
}
