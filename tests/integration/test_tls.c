/*
 * test_tls.c - the TLS transport against a real mosquitto with a TLS
 * listener, using certificates made for the run (tests/support/certs.h):
 * what must connect does, what must be refused is refused with the error
 * that says why, and a reconnect verifies as strictly as the first connect.
 */
#define _GNU_SOURCE
#include "itest.h"
#include "certs.h"
#include "ws_bridge.h"

/* A broker whose listener speaks TLS with the given certificate (under
 * the test CA) plus more lines. */
static tb_broker *tls_broker(const char *cert, const char *more)
{
    /* The broker keeps the pointer (it rewrites its config on restart):
     * the text must outlive this call. */
    static char extras[4][1024];
    static int next;
    char *extra = extras[next++ % 4];
    tb_broker_opts opts = {0};

    if (!tc_certs_dir())
        return NULL;
    snprintf(extra, sizeof extras[0], "cafile %s\ncertfile %s\nkeyfile %s\n%s", tc_file("ca.crt"),
             tc_file(cert), tc_file("server.key"), more ? more : "");
    opts.extra = extra;
    return tb_broker_start(&opts);
}

/* A client for b over TLS trusting `ca` (NULL: none given). */
static tw_client *tls_client(const tb_broker *b, const char *name, const char *ca)
{
    tw_client *t = tw_new_for(b, name, LMQ_MQTT_5);

    if (!t)
        return NULL;
    CHECK_INT(lmq_client_set_int(t->c, LMQ_OPT_TLS, 1), 0);
    if (ca)
        CHECK_INT(lmq_client_set_str(t->c, LMQ_OPT_TLS_CA_FILE, tc_file(ca), -1), 0);
    lmq_client_set_int(t->c, LMQ_OPT_CONNECT_TIMEOUT_MS, IT_SHORT_MS);
    return t;
}

static void round_trip(tw_client *t, const char *topic)
{
    CHECK_INT(tw_subscribe(t, topic, 1, IT_SHORT_MS), 1);
    CHECK_INT(tw_publish_wait(t, topic, "over tls", 1, 0, IT_SHORT_MS), 0);
    tw_event *m = tw_wait_msg(t, topic, IT_SHORT_MS);
    CHECK(m && m->ev.payload_len == 8 && memcmp(m->payload, "over tls", 8) == 0);
}

/* The first LMQ_EV_LOG at warning level whose text holds `needle`. */
static int logged_warning(tw_client *t, const char *needle)
{
    tw_collect_events(t);
    for (int i = 0; i < t->n; i++)
        if (t->ev[i].ev.type == LMQ_EV_LOG && t->ev[i].ev.log_level == LMQ_LOG_WARNING &&
            t->ev[i].text && strstr(t->ev[i].text, needle))
            return 1;
    return 0;
}

static int count_logged(tw_client *t, const char *needle)
{
    int n = 0;

    tw_collect_events(t);
    for (int i = 0; i < t->n; i++)
        if (t->ev[i].ev.type == LMQ_EV_LOG && t->ev[i].text && strstr(t->ev[i].text, needle))
            n++;
    return n;
}

static void test_tls_with_the_ca_connects_and_checks_the_ip_san(void)
{
    tb_broker *b = tls_broker("server.crt", NULL);
    tw_client *t = NULL;

    REQUIRE(b);
    t = tls_client(b, "tls-ok", "ca.crt");      /* host 127.0.0.1: the IP SAN */
    REQUIRE(t);
    REQUIRE(tw_connect(t, IT_SHORT_MS) == 0);
    round_trip(t, "it/tls/ok");
done:
    tw_free(t);
    it_broker_stop(b);
}

static void test_tls_checks_a_host_name_against_the_dns_san(void)
{
    tb_broker *b = tls_broker("server.crt", NULL);
    tw_client *t = NULL;

    REQUIRE(b);
    t = tls_client(b, "tls-dns", "ca.crt");
    REQUIRE(t);
    lmq_client_set_str(t->c, LMQ_OPT_HOST, "localhost", -1);
    REQUIRE(tw_connect(t, IT_SHORT_MS) == 0);
    round_trip(t, "it/tls/dns");
done:
    tw_free(t);
    it_broker_stop(b);
}

static void test_mqtts_url_with_a_ca_dir_connects(void)
{
    tb_broker *b = tls_broker("server.crt", NULL);
    tw_client *t = NULL;
    char url[128], cadir[160];

    REQUIRE(b);
    t = tw_new("tls-url");
    REQUIRE(t);
    snprintf(url, sizeof url, "mqtts://127.0.0.1:%d", tb_broker_port(b));
    CHECK_INT(lmq_client_set_url(t->c, url, -1), 0);
    /* A CA directory (wolfSSL loads every file in it; other files are
     * skipped): the certificate directory holds keys and more. */
    snprintf(cadir, sizeof cadir, "%s/cadir", tc_certs_dir());
    char cmd[400];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s' && cp '%s' '%s/'", cadir, tc_file("ca.crt"), cadir);
    REQUIRE(system(cmd) == 0);
    CHECK_INT(lmq_client_set_str(t->c, LMQ_OPT_TLS_CA_PATH, cadir, -1), 0);
    REQUIRE(tw_connect(t, IT_SHORT_MS) == 0);
    round_trip(t, "it/tls/url");
done:
    tw_free(t);
    it_broker_stop(b);
}

static void test_tls_with_an_unknown_ca_fails_with_ETLS_UNKNOWN_CA(void)
{
    tb_broker *b = tls_broker("server.crt", NULL);
    tw_client *t = NULL;

    REQUIRE(b);
    t = tls_client(b, "tls-unknown-ca", "other-ca.crt");
    REQUIRE(t);
    CHECK_INT(tw_connect(t, IT_SHORT_MS), LMQ_ETLS_UNKNOWN_CA);
    CHECK(strstr(lmq_client_errmsg(t->c), "trusted CA") != NULL);
done:
    tw_free(t);
    it_broker_stop(b);
}

static void test_tls_without_any_ca_uses_the_system_store_and_refuses_a_private_ca(void)
{
    tb_broker *b = tls_broker("server.crt", NULL);
    tw_client *t = NULL;

    REQUIRE(b);
    t = tls_client(b, "tls-system-store", NULL);
    REQUIRE(t);
    CHECK_INT(tw_connect(t, IT_SHORT_MS), LMQ_ETLS_UNKNOWN_CA);
done:
    tw_free(t);
    it_broker_stop(b);
}

static void test_tls_host_name_mismatch_fails_with_ETLS_HOSTNAME(void)
{
    tb_broker *b = tls_broker("wrongname.crt", NULL);
    tw_client *t = NULL, *u = NULL;

    REQUIRE(b);
    /* by name: the DNS SAN is elsewhere.example */
    t = tls_client(b, "tls-wrong-dns", "ca.crt");
    REQUIRE(t);
    lmq_client_set_str(t->c, LMQ_OPT_HOST, "localhost", -1);
    CHECK_INT(tw_connect(t, IT_SHORT_MS), LMQ_ETLS_HOSTNAME);
    CHECK(strstr(lmq_client_errmsg(t->c), "localhost") != NULL);
    /* by address: the IP SAN is 10.9.8.7 */
    u = tls_client(b, "tls-wrong-ip", "ca.crt");
    REQUIRE(u);
    CHECK_INT(tw_connect(u, IT_SHORT_MS), LMQ_ETLS_HOSTNAME);
    CHECK(strstr(lmq_client_errmsg(u->c), "127.0.0.1") != NULL);
done:
    tw_free(t);
    tw_free(u);
    it_broker_stop(b);
}

static void test_tls_server_name_option_names_what_is_checked(void)
{
    tb_broker *b = tls_broker("wrongname.crt", NULL);
    tw_client *t = NULL;

    REQUIRE(b);
    t = tls_client(b, "tls-server-name", "ca.crt");
    REQUIRE(t);
    CHECK_INT(lmq_client_set_str(t->c, LMQ_OPT_TLS_SERVER_NAME, "elsewhere.example", -1), 0);
    REQUIRE(tw_connect(t, IT_SHORT_MS) == 0);
done:
    tw_free(t);
    it_broker_stop(b);
}

static void test_tls_expired_certificate_fails_with_ETLS_EXPIRED(void)
{
    tb_broker *b = tls_broker("expired.crt", NULL);
    tw_client *t = NULL;

    REQUIRE(b);
    t = tls_client(b, "tls-expired", "ca.crt");
    REQUIRE(t);
    CHECK_INT(tw_connect(t, IT_SHORT_MS), LMQ_ETLS_EXPIRED);
    CHECK(strstr(lmq_client_errmsg(t->c), "expired") != NULL);
done:
    tw_free(t);
    it_broker_stop(b);
}

/* mosquitto's --insecure: the name is not checked, the chain still is. */
static void test_tls_insecure_skips_the_name_check_only_and_warns(void)
{
    tb_broker *b = tls_broker("wrongname.crt", NULL);
    tw_client *t = NULL, *u = NULL;

    REQUIRE(b);
    t = tls_client(b, "tls-insecure", "ca.crt");
    REQUIRE(t);
    CHECK_INT(lmq_client_set_int(t->c, LMQ_OPT_TLS_INSECURE, 1), 0);
    REQUIRE(tw_connect(t, IT_SHORT_MS) == 0);
    CHECK(logged_warning(t, "host name check is off"));
    round_trip(t, "it/tls/insecure");
    /* said again on the reconnect, not only once */
    REQUIRE(tb_broker_kill(b) == 0);
    REQUIRE(tw_wait(t, LMQ_EV_DISCONNECTED, IT_SHORT_MS));
    REQUIRE(tb_broker_start_again(b) == 0);
    CHECK(tw_wait(t, LMQ_EV_CONNECTED, IT_LONG_MS) != NULL);
    CHECK(count_logged(t, "host name check is off") >= 2);

    u = tls_client(b, "tls-insecure-bad-ca", "other-ca.crt");
    REQUIRE(u);
    CHECK_INT(lmq_client_set_int(u->c, LMQ_OPT_TLS_INSECURE, 1), 0);
    CHECK_INT(tw_connect(u, IT_SHORT_MS), LMQ_ETLS_UNKNOWN_CA);
done:
    tw_free(t);
    tw_free(u);
    it_broker_stop(b);
}

static void test_tls_no_verify_skips_the_chain_and_warns_loudly(void)
{
    tb_broker *b = tls_broker("wrongname.crt", NULL);
    tw_client *t = NULL;

    REQUIRE(b);
    t = tls_client(b, "tls-no-verify", "other-ca.crt");
    REQUIRE(t);
    CHECK_INT(lmq_client_set_int(t->c, LMQ_OPT_TLS_NO_VERIFY, 1), 0);
    REQUIRE(tw_connect(t, IT_SHORT_MS) == 0);
    CHECK(logged_warning(t, "verification is OFF"));
done:
    tw_free(t);
    it_broker_stop(b);
}

static void test_mutual_tls_required_refuses_no_certificate_and_takes_one(void)
{
    tb_broker *b = tls_broker("server.crt", "require_certificate true\n");
    tw_client *t = NULL, *u = NULL, *v = NULL, *w = NULL;

    REQUIRE(b);
    t = tls_client(b, "mtls-none", "ca.crt");
    REQUIRE(t);
    /* TLS 1.3 may finish the client's side before the server judges the
     * (missing) certificate: the refusal then comes as the first read.
     * Either way the connection must not come up. */
    CHECK(tw_connect(t, IT_SHORT_MS) != 0);

    u = tls_client(b, "mtls-pem", "ca.crt");
    REQUIRE(u);
    CHECK_INT(lmq_client_set_str(u->c, LMQ_OPT_TLS_CERT_FILE, tc_file("client.crt"), -1), 0);
    CHECK_INT(lmq_client_set_str(u->c, LMQ_OPT_TLS_KEY_FILE, tc_file("client.key"), -1), 0);
    CHECK_INT(tw_connect(u, IT_SHORT_MS), 0);
    round_trip(u, "it/tls/mtls");

    /* an encrypted key with its passphrase */
    v = tls_client(b, "mtls-enc", "ca.crt");
    REQUIRE(v);
    lmq_client_set_str(v->c, LMQ_OPT_TLS_CERT_FILE, tc_file("client.crt"), -1);
    lmq_client_set_str(v->c, LMQ_OPT_TLS_KEY_FILE, tc_file("client-enc.key"), -1);
    lmq_client_set_str(v->c, LMQ_OPT_TLS_KEY_PASSWORD, "s3cret", -1);
    CHECK_INT(tw_connect(v, IT_SHORT_MS), 0);

    /* DER files */
    w = tls_client(b, "mtls-der", "ca.crt");
    REQUIRE(w);
    lmq_client_set_str(w->c, LMQ_OPT_TLS_CERT_FILE, tc_file("client.der"), -1);
    lmq_client_set_str(w->c, LMQ_OPT_TLS_KEY_FILE, tc_file("client-key.der"), -1);
    CHECK_INT(tw_connect(w, IT_SHORT_MS), 0);
done:
    tw_free(t);
    tw_free(u);
    tw_free(v);
    tw_free(w);
    it_broker_stop(b);
}

static void test_tls_wrong_key_passphrase_fails_with_ETLS_CONFIG(void)
{
    tb_broker *b = tls_broker("server.crt", NULL);
    tw_client *t = NULL;

    REQUIRE(b);
    t = tls_client(b, "tls-bad-pass", "ca.crt");
    REQUIRE(t);
    lmq_client_set_str(t->c, LMQ_OPT_TLS_CERT_FILE, tc_file("client.crt"), -1);
    lmq_client_set_str(t->c, LMQ_OPT_TLS_KEY_FILE, tc_file("client-enc.key"), -1);
    lmq_client_set_str(t->c, LMQ_OPT_TLS_KEY_PASSWORD, "wrong", -1);
    CHECK_INT(tw_connect(t, IT_SHORT_MS), LMQ_ETLS_CONFIG);
    CHECK(strstr(lmq_client_errmsg(t->c), "client-enc.key") != NULL);
done:
    tw_free(t);
    it_broker_stop(b);
}

static void test_tls_psk_listener_takes_the_right_key_only(void)
{
    char extra[512];
    tb_broker_opts opts = {0};
    tb_broker *b = NULL;
    tw_client *t = NULL, *u = NULL;
    const char *pskfile;
    FILE *f;

    REQUIRE(tc_certs_dir());
    pskfile = tc_file("psk.txt");
    f = fopen(pskfile, "w");
    REQUIRE(f);
    fprintf(f, "lunamq-id:0123456789abcdef0123456789abcdef\n");
    fclose(f);
    snprintf(extra, sizeof extra, "psk_hint lunamq\npsk_file %s\n", pskfile);
    opts.extra = extra;
    b = tb_broker_start(&opts);
    REQUIRE(b);

    t = tls_client(b, "tls-psk", NULL);
    REQUIRE(t);
    CHECK_INT(lmq_client_set_str(t->c, LMQ_OPT_TLS_PSK_IDENTITY, "lunamq-id", -1), 0);
    CHECK_INT(lmq_client_set_str(t->c, LMQ_OPT_TLS_PSK,
                                 "0123456789abcdef0123456789abcdef", -1), 0);
    REQUIRE(tw_connect(t, IT_SHORT_MS) == 0);
    round_trip(t, "it/tls/psk");

    u = tls_client(b, "tls-psk-wrong", NULL);
    REQUIRE(u);
    lmq_client_set_str(u->c, LMQ_OPT_TLS_PSK_IDENTITY, "lunamq-id", -1);
    lmq_client_set_str(u->c, LMQ_OPT_TLS_PSK, "ffffffffffffffffffffffffffffffff", -1);
    CHECK(tw_connect(u, IT_SHORT_MS) != 0);
done:
    tw_free(t);
    tw_free(u);
    it_broker_stop(b);
}

static void test_tls13_minimum_connects_to_a_tls13_server(void)
{
    tb_broker *b = tls_broker("server.crt", NULL);
    tw_client *t = NULL;

    REQUIRE(b);
    t = tls_client(b, "tls13", "ca.crt");
    REQUIRE(t);
    CHECK_INT(lmq_client_set_int(t->c, LMQ_OPT_TLS_MIN_VERSION, 13), 0);
    CHECK_INT(lmq_client_set_int(t->c, LMQ_OPT_TLS_MIN_VERSION, 11), LMQ_EINVAL);
    REQUIRE(tw_connect(t, IT_SHORT_MS) == 0);
    round_trip(t, "it/tls/13");
done:
    tw_free(t);
    it_broker_stop(b);
}

static void test_tls_alpn_list_is_accepted_by_a_server_without_alpn(void)
{
    tb_broker *b = tls_broker("server.crt", NULL);
    tw_client *t = NULL;

    REQUIRE(b);
    t = tls_client(b, "tls-alpn", "ca.crt");
    REQUIRE(t);
    CHECK_INT(lmq_client_set_str(t->c, LMQ_OPT_TLS_ALPN, "mqtt,x-amzn-mqtt-ca", -1), 0);
    REQUIRE(tw_connect(t, IT_SHORT_MS) == 0);
    round_trip(t, "it/tls/alpn");
done:
    tw_free(t);
    it_broker_stop(b);
}

/* A peer that accepts TCP and never answers the ClientHello. */
static void test_tls_handshake_timeout_is_its_own_error(void)
{
    tf_fake *f = tf_fake_new();
    tw_client *t = NULL;

    REQUIRE(f);
    t = tw_new("tls-hs-timeout");
    REQUIRE(t);
    tw_set_external(t, 1);
    tf_fake_set_idle(f, tw_idle, NULL);
    lmq_client_set_str(t->c, LMQ_OPT_HOST, "127.0.0.1", -1);
    lmq_client_set_int(t->c, LMQ_OPT_PORT, tf_fake_port(f));
    lmq_client_set_int(t->c, LMQ_OPT_TLS, 1);
    lmq_client_set_int(t->c, LMQ_OPT_CONNECT_TIMEOUT_MS, 300);
    REQUIRE(tw_start(t) == 0);
    REQUIRE(tf_fake_accept(f, IT_SHORT_MS) == 0);
    tw_event *e = tw_wait(t, LMQ_EV_CONNECT_FAILED, IT_SHORT_MS);
    CHECK(e && e->ev.error == LMQ_EHANDSHAKE_TIMEOUT);
    CHECK(e && e->text && strstr(e->text, "tls handshake timed out"));
done:
    tw_free(t);
    tf_fake_free(f);
}

/* Messages far larger than a TLS record (16 KiB) come through whole, both
 * ways, and several back to back. */
static void test_tls_carries_messages_larger_than_a_record(void)
{
    tb_broker *b = tls_broker("server.crt", NULL);
    tw_client *t = NULL;
    size_t n = 300 * 1000;
    char *big = malloc(n + 1);

    REQUIRE(b && big);
    for (size_t i = 0; i < n; i++)
        big[i] = (char)('a' + i % 26);
    big[n] = '\0';
    t = tls_client(b, "tls-big", "ca.crt");
    REQUIRE(t);
    REQUIRE(tw_connect(t, IT_SHORT_MS) == 0);
    CHECK_INT(tw_subscribe(t, "it/tls/big", 1, IT_SHORT_MS), 1);
    for (int k = 0; k < 3; k++)
        CHECK(tw_publish(t, "it/tls/big", big, 1, 0) > 0);
    CHECK_INT(tw_wait_count(t, LMQ_EV_MESSAGE, 3, IT_LONG_MS), 3);
    for (int k = 0; k < 3; k++) {
        tw_event *m = tw_wait_msg(t, "it/tls/big", IT_SHORT_MS);
        CHECK(m && m->ev.payload_len == (int32_t)n && memcmp(m->payload, big, n) == 0);
    }
done:
    free(big);
    tw_free(t);
    it_broker_stop(b);
}

static int copy_file(const char *from, const char *to)
{
    char cmd[400];

    snprintf(cmd, sizeof cmd, "cp '%s' '%s'", from, to);
    return system(cmd);
}

/* Never fail open on reconnect: the broker comes back with a certificate
 * for another name and the client refuses it on every attempt, then takes
 * the right one again when it returns. */
static void test_reconnect_after_a_broker_restart_still_verifies(void)
{
    tb_broker_opts opts = {0};
    tb_broker *b = NULL;
    tw_client *t = NULL;
    char extra[1024];
    const char *live;

    REQUIRE(tc_certs_dir());
    live = tc_file("live.crt");
    REQUIRE(copy_file(tc_file("server.crt"), live) == 0);
    snprintf(extra, sizeof extra, "cafile %s\ncertfile %s\nkeyfile %s\n", tc_file("ca.crt"),
             live, tc_file("server.key"));
    opts.extra = extra;
    b = tb_broker_start(&opts);
    REQUIRE(b);
    t = tls_client(b, "tls-reconnect", "ca.crt");
    REQUIRE(t);
    REQUIRE(tw_connect(t, IT_SHORT_MS) == 0);

    REQUIRE(tb_broker_kill(b) == 0);
    REQUIRE(tw_wait(t, LMQ_EV_DISCONNECTED, IT_SHORT_MS));
    REQUIRE(copy_file(tc_file("wrongname.crt"), live) == 0);
    REQUIRE(tb_broker_start_again(b) == 0);
    /* Attempts fail while the broker is down (ECONNECT) and then on the
     * name: wait for the name failure. */
    int64_t until = tw_now_ms() + IT_LONG_MS;
    int refused = 0;
    while (!refused && tw_now_ms() < until) {
        tw_event *e = tw_wait(t, LMQ_EV_CONNECT_FAILED, IT_SHORT_MS);
        refused = e && e->ev.error == LMQ_ETLS_HOSTNAME;
    }
    CHECK(refused);
    CHECK_INT(tw_count(t, LMQ_EV_CONNECTED), 1);

    REQUIRE(tb_broker_kill(b) == 0);
    REQUIRE(copy_file(tc_file("server.crt"), live) == 0);
    REQUIRE(tb_broker_start_again(b) == 0);
    CHECK(tw_wait(t, LMQ_EV_CONNECTED, IT_LONG_MS) != NULL);
    round_trip(t, "it/tls/reconnect");
done:
    tw_free(t);
    it_broker_stop(b);
}

/* A Python TLS server (ws_bridge.py --raw --cert) in front of the broker
 * reports what the ClientHello carried. */
static tbr_bridge *tls_relay(const tb_broker *b, const char *more1, const char *more2)
{
    const char *args[] = {"--raw", "--cert", tc_file("server.crt"), "--key",
                          tc_file("server.key"), more1, more2, NULL};

    return tbr_start(tb_broker_port(b), args);
}

static tw_client *relay_client(const tbr_bridge *br, const char *name, const char *host)
{
    tw_client *t = tw_new(name);

    if (!t)
        return NULL;
    lmq_client_set_str(t->c, LMQ_OPT_HOST, host, -1);
    lmq_client_set_int(t->c, LMQ_OPT_PORT, br->port);
    lmq_client_set_str(t->c, LMQ_OPT_CLIENT_ID, name, -1);
    lmq_client_set_int(t->c, LMQ_OPT_RECONNECT, 0);
    lmq_client_set_int(t->c, LMQ_OPT_TLS, 1);
    lmq_client_set_str(t->c, LMQ_OPT_TLS_CA_FILE, tc_file("ca.crt"), -1);
    return t;
}

static void test_tls_sends_sni_for_a_name_and_none_for_an_address(void)
{
    tb_broker *b = tb_broker_start(NULL);
    tbr_bridge *br = NULL;
    tw_client *t = NULL, *u = NULL;
    char line[128];

    REQUIRE(b && tc_certs_dir());
    br = tls_relay(b, NULL, NULL);
    REQUIRE(br);
    t = relay_client(br, "sni-name", "localhost");
    REQUIRE(t);
    REQUIRE(tw_connect(t, IT_SHORT_MS) == 0);
    CHECK(tbr_expect(br, "SNI", line, sizeof line, IT_SHORT_MS) == 0 &&
          strcmp(line, "SNI localhost") == 0);
    CHECK(tbr_expect(br, "TLS", line, sizeof line, IT_SHORT_MS) == 0 &&
          strcmp(line, "TLS TLSv1.3") == 0);
    u = relay_client(br, "sni-ip", "127.0.0.1");
    REQUIRE(u);
    REQUIRE(tw_connect(u, IT_SHORT_MS) == 0);
    CHECK(tbr_expect(br, "SNI", line, sizeof line, IT_SHORT_MS) == 0 &&
          strcmp(line, "SNI -") == 0);
done:
    tw_free(t);
    tw_free(u);
    tbr_stop(br);
    it_broker_stop(b);
}

static void test_tls_alpn_offers_the_configured_protocols(void)
{
    tb_broker *b = tb_broker_start(NULL);
    tbr_bridge *br = NULL;
    tw_client *t = NULL;
    char line[128];

    REQUIRE(b && tc_certs_dir());
    br = tls_relay(b, "--alpn", "x-amzn-mqtt-ca");
    REQUIRE(br);
    t = relay_client(br, "alpn", "127.0.0.1");
    REQUIRE(t);
    CHECK_INT(lmq_client_set_str(t->c, LMQ_OPT_TLS_ALPN, "mqtt,x-amzn-mqtt-ca", -1), 0);
    REQUIRE(tw_connect(t, IT_SHORT_MS) == 0);
    CHECK(tbr_expect(br, "ALPN", line, sizeof line, IT_SHORT_MS) == 0 &&
          strcmp(line, "ALPN x-amzn-mqtt-ca") == 0);
    round_trip(t, "it/tls/alpn-relay");
done:
    tw_free(t);
    tbr_stop(br);
    it_broker_stop(b);
}

static void test_tls12_server_is_taken_by_default_and_refused_with_a_13_minimum(void)
{
    tb_broker *b = tb_broker_start(NULL);
    tbr_bridge *br = NULL;
    tw_client *t = NULL, *u = NULL;
    char line[128];

    REQUIRE(b && tc_certs_dir());
    br = tls_relay(b, "--tls-max", "1.2");
    REQUIRE(br);
    t = relay_client(br, "tls12-ok", "127.0.0.1");
    REQUIRE(t);
    REQUIRE(tw_connect(t, IT_SHORT_MS) == 0);
    CHECK(tbr_expect(br, "TLS", line, sizeof line, IT_SHORT_MS) == 0 &&
          strcmp(line, "TLS TLSv1.2") == 0);
    u = relay_client(br, "tls13-min", "127.0.0.1");
    REQUIRE(u);
    CHECK_INT(lmq_client_set_int(u->c, LMQ_OPT_TLS_MIN_VERSION, 13), 0);
    CHECK_INT(tw_connect(u, IT_SHORT_MS), LMQ_ETLS);
    CHECK(strstr(lmq_client_errmsg(u->c), "TLS handshake") != NULL);
done:
    tw_free(t);
    tw_free(u);
    tbr_stop(br);
    it_broker_stop(b);
}

int main(void)
{
    RUN(test_tls_with_the_ca_connects_and_checks_the_ip_san);
    RUN(test_tls_checks_a_host_name_against_the_dns_san);
    RUN(test_mqtts_url_with_a_ca_dir_connects);
    RUN(test_tls_with_an_unknown_ca_fails_with_ETLS_UNKNOWN_CA);
    RUN(test_tls_without_any_ca_uses_the_system_store_and_refuses_a_private_ca);
    RUN(test_tls_host_name_mismatch_fails_with_ETLS_HOSTNAME);
    RUN(test_tls_server_name_option_names_what_is_checked);
    RUN(test_tls_expired_certificate_fails_with_ETLS_EXPIRED);
    RUN(test_tls_insecure_skips_the_name_check_only_and_warns);
    RUN(test_tls_no_verify_skips_the_chain_and_warns_loudly);
    RUN(test_mutual_tls_required_refuses_no_certificate_and_takes_one);
    RUN(test_tls_wrong_key_passphrase_fails_with_ETLS_CONFIG);
    RUN(test_tls_psk_listener_takes_the_right_key_only);
    RUN(test_tls13_minimum_connects_to_a_tls13_server);
    RUN(test_tls_alpn_list_is_accepted_by_a_server_without_alpn);
    RUN(test_tls_handshake_timeout_is_its_own_error);
    RUN(test_tls_carries_messages_larger_than_a_record);
    RUN(test_reconnect_after_a_broker_restart_still_verifies);
    RUN(test_tls_sends_sni_for_a_name_and_none_for_an_address);
    RUN(test_tls_alpn_offers_the_configured_protocols);
    RUN(test_tls12_server_is_taken_by_default_and_refused_with_a_13_minimum);
    return check_done();
}
