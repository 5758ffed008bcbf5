/*
 * test_proxy.c - LMQ_OPT_PROXY through real proxies: danted (SOCKS5, with
 * and without RFC 1929 user/password) and tinyproxy (HTTP CONNECT with
 * Basic credentials), in front of a real mosquitto, for plain TCP, TLS and
 * WebSocket (tests/support/ws_bridge.py), and each refusal with the code
 * and the text that says why.  A scripted proxy in this file answers only
 * what no real proxy sends (malformed answers, one byte at a time).
 *
 * Proxies and brokers are started once for the whole file; every client
 * gets its own connection through them.
 */
#define _GNU_SOURCE
#include <pthread.h>

#include "itest.h"
#include "certs.h"
#include "proxies.h"
#include "ws_bridge.h"

#define USER "lmqproxy"
#define PASS "s3cr:et@x"            /* danted's: ':' and '@' travel %-escaped in the URL */
#define PASS_URL "s3cr%3Aet%40x"
#define HTTP_PASS "s3cr.et-x"       /* tinyproxy takes no ':' or '@' in its config */

static tb_broker *plain, *denied, *tlsb;
static tbr_bridge *wsb;
static tp_proxy *socks, *socks_auth, *http_auth;
static int closed_port;             /* nothing listens there */

static void dump_all(void)
{
    tp_dump_log(socks);
    tp_dump_log(socks_auth);
    tp_dump_log(http_auth);
}

/* A client to host:port (reconnect off) through proxy_url. */
static tw_client *via(const char *name, const char *host, int port, const char *proxy_url)
{
    tw_client *t = tw_new(name);

    if (!t)
        return NULL;
    CHECK_INT(lmq_client_set_str(t->c, LMQ_OPT_HOST, host, -1), 0);
    CHECK_INT(lmq_client_set_int(t->c, LMQ_OPT_PORT, port), 0);
    CHECK_INT(lmq_client_set_str(t->c, LMQ_OPT_CLIENT_ID, name, -1), 0);
    CHECK_INT(lmq_client_set_int(t->c, LMQ_OPT_RECONNECT, 0), 0);
    CHECK_INT(lmq_client_set_int(t->c, LMQ_OPT_CONNECT_TIMEOUT_MS, IT_SHORT_MS), 0);
    if (proxy_url) {
        int rc = lmq_client_set_str(t->c, LMQ_OPT_PROXY, proxy_url, -1);
        CHECK_INT(rc, 0);
        if (rc)
            fprintf(stderr, "proxy %s: %s\n", proxy_url, lmq_client_errmsg(t->c));
    }
    return t;
}

static const char *url(const char *scheme, const char *cred, const tp_proxy *p)
{
    static char ring[4][200];
    static int next;
    char *u = ring[next++ % 4];

    snprintf(u, sizeof ring[0], "%s://%s%s127.0.0.1:%d", scheme, cred ? cred : "",
             cred ? "@" : "", p->port);
    return u;
}

static void round_trip(tw_client *t, const char *topic)
{
    CHECK_INT(tw_subscribe(t, topic, 1, IT_SHORT_MS), 1);
    CHECK_INT(tw_publish_wait(t, topic, "proxied", 1, 0, IT_SHORT_MS), 0);
    tw_event *m = tw_wait_msg(t, topic, IT_SHORT_MS);
    CHECK(m && m->ev.payload_len == 7 && memcmp(m->payload, "proxied", 7) == 0);
}

/* The proxy's log names the server's port: the connection went through it. */
static int proxied_to(const tp_proxy *p, const char *host, int port)
{
    char needle[96];

    /* danted writes host.port, tinyproxy "host:port" in its CONNECT line */
    snprintf(needle, sizeof needle, p == http_auth ? "%s:%d" : "%s.%d", host, port);
    return tp_log_has(p, needle);
}

static void expect_refusal(tw_client *t, int code, const char *text)
{
    int rc = tw_connect(t, IT_SHORT_MS);
    const char *msg = lmq_client_errmsg(t->c);

    CHECK_INT(rc, code);
    if (!strstr(msg, text)) {
        fprintf(stderr, "error text \"%s\" lacks \"%s\"\n", msg, text);
        CHECK(strstr(msg, text) != NULL);
    }
}

/* ------------------------------------------------------------- plain TCP */

static void test_socks5h_no_auth_carries_mqtt_and_sends_the_name(void)
{
    /* socks5h: the name goes to the proxy, which alone can resolve it */
    tw_client *t = via("px-socks5h", TP_PROXY_SIDE_NAME, tb_broker_port(plain),
                       url("socks5h", NULL, socks));

    REQUIRE(t);
    REQUIRE(tw_connect(t, IT_SHORT_MS) == 0);
    round_trip(t, "it/proxy/socks5h");
    CHECK(proxied_to(socks, "127.0.0.1", tb_broker_port(plain)));
done:
    tw_free(t);
}

static void test_socks5_with_user_password_resolves_the_name_here(void)
{
    char cred[64];
    tw_client *t;

    snprintf(cred, sizeof cred, "%s:%s", USER, PASS_URL);
    t = via("px-socks5-auth", "localhost", tb_broker_port(plain), url("socks5", cred, socks_auth));
    REQUIRE(t);
    REQUIRE(tw_connect(t, IT_SHORT_MS) == 0);
    round_trip(t, "it/proxy/socks5");
    CHECK(proxied_to(socks_auth, "127.0.0.1", tb_broker_port(plain)));
    /* (test_socks5_answer_in_pieces_then_mqtt reads the request: an address) */
done:
    tw_free(t);
}

static void test_http_connect_with_basic_auth_carries_mqtt(void)
{
    char cred[64];
    tw_client *t;

    snprintf(cred, sizeof cred, "%s:%s", USER, HTTP_PASS);
    t = via("px-http", "127.0.0.1", tb_broker_port(plain), url("http", cred, http_auth));
    REQUIRE(t);
    REQUIRE(tw_connect(t, IT_SHORT_MS) == 0);
    round_trip(t, "it/proxy/http");
    CHECK(proxied_to(http_auth, "127.0.0.1", tb_broker_port(plain)));
done:
    tw_free(t);
}

/* The proxy and a connection URL: each its own option, in any order; an
 * empty string turns the proxy off. */
static void test_proxy_option_survives_the_url_and_clears_with_empty(void)
{
    char u[96], down[64];
    tw_client *t = tw_new("px-url");

    REQUIRE(t);
    snprintf(u, sizeof u, "mqtt://127.0.0.1:%d", tb_broker_port(plain));
    snprintf(down, sizeof down, "socks5://127.0.0.1:%d", closed_port);
    CHECK_INT(lmq_client_set_str(t->c, LMQ_OPT_PROXY, down, -1), 0);
    CHECK_INT(lmq_client_set_url(t->c, u, -1), 0);
    CHECK_INT(lmq_client_set_int(t->c, LMQ_OPT_RECONNECT, 0), 0);
    CHECK_INT(tw_connect(t, IT_SHORT_MS), LMQ_EPROXY_UNREACHABLE);
    CHECK_INT(lmq_client_set_int(t->c, LMQ_OPT_PROXY, 1), LMQ_EINVAL);
    CHECK_INT(lmq_client_set_str(t->c, LMQ_OPT_PROXY, "ftp://x", -1), LMQ_EURL);
    CHECK_INT(lmq_client_set_str(t->c, LMQ_OPT_PROXY, "", 0), 0);
    CHECK_INT(tw_connect(t, IT_SHORT_MS), 0);          /* direct now */
done:
    tw_free(t);
}

/* ------------------------------------------------------------ TLS and WS */

static tw_client *tls_via(const char *name, const char *proxy_url)
{
    /* "localhost": the name the certificate's DNS SAN carries, checked
     * and sent as SNI although the socket leads to the proxy */
    tw_client *t = via(name, "localhost", tb_broker_port(tlsb), proxy_url);

    if (!t)
        return NULL;
    CHECK_INT(lmq_client_set_int(t->c, LMQ_OPT_TLS, 1), 0);
    CHECK_INT(lmq_client_set_str(t->c, LMQ_OPT_TLS_CA_FILE, tc_file("ca.crt"), -1), 0);
    return t;
}

static void test_tls_through_socks5_verifies_the_server_not_the_proxy(void)
{
    char cred[64];
    tw_client *t;

    snprintf(cred, sizeof cred, "%s:%s", USER, PASS_URL);
    t = tls_via("px-tls-socks", url("socks5h", cred, socks_auth));
    REQUIRE(t);
    REQUIRE(tw_connect(t, IT_SHORT_MS) == 0);
    round_trip(t, "it/proxy/tls-socks");
    CHECK(proxied_to(socks_auth, "127.0.0.1", tb_broker_port(tlsb)));
done:
    tw_free(t);
}

static void test_tls_through_http_connect(void)
{
    char cred[64];
    tw_client *t;

    snprintf(cred, sizeof cred, "%s:%s", USER, HTTP_PASS);
    t = tls_via("px-tls-http", url("http", cred, http_auth));
    REQUIRE(t);
    REQUIRE(tw_connect(t, IT_SHORT_MS) == 0);
    round_trip(t, "it/proxy/tls-http");
    CHECK(proxied_to(http_auth, "localhost", tb_broker_port(tlsb)));
done:
    tw_free(t);
}

static void test_tls_name_check_still_applies_through_a_proxy(void)
{
    /* the certificate does not name elsewhere.example: refused as it is
     * without a proxy */
    tw_client *t = tls_via("px-tls-name", url("socks5", NULL, socks));

    REQUIRE(t);
    CHECK_INT(lmq_client_set_str(t->c, LMQ_OPT_TLS_SERVER_NAME, "elsewhere.example", -1), 0);
    CHECK_INT(tw_connect(t, IT_SHORT_MS), LMQ_ETLS_HOSTNAME);
done:
    tw_free(t);
}

static void test_websocket_through_socks5_and_http_connect(void)
{
    char cred[64];
    tw_client *t = NULL, *u = NULL;

    snprintf(cred, sizeof cred, "%s:%s", USER, HTTP_PASS);
    t = via("px-ws-socks", "127.0.0.1", wsb->port, url("socks5", NULL, socks));
    REQUIRE(t);
    CHECK_INT(lmq_client_set_int(t->c, LMQ_OPT_WEBSOCKET, 1), 0);
    REQUIRE(tw_connect(t, IT_SHORT_MS) == 0);
    round_trip(t, "it/proxy/ws-socks");
    CHECK(proxied_to(socks, "127.0.0.1", wsb->port));

    u = via("px-ws-http", "localhost", wsb->port, url("http", cred, http_auth));
    REQUIRE(u);
    CHECK_INT(lmq_client_set_int(u->c, LMQ_OPT_WEBSOCKET, 1), 0);
    REQUIRE(tw_connect(u, IT_SHORT_MS) == 0);
    round_trip(u, "it/proxy/ws-http");
    CHECK(proxied_to(http_auth, "localhost", wsb->port));
done:
    tw_free(t);
    tw_free(u);
}

/* -------------------------------------------------------------- refusals */

static void test_socks5_wrong_password_is_EPROXY_AUTH(void)
{
    tw_client *t = via("px-bad-pw", "127.0.0.1", tb_broker_port(plain),
                       url("socks5", USER ":wrong", socks_auth));

    REQUIRE(t);
    expect_refusal(t, LMQ_EPROXY_AUTH, "rejected the user name or password (RFC 1929 status");
done:
    tw_free(t);
}

static void test_socks5_without_credentials_where_needed_is_EPROXY_AUTH(void)
{
    tw_client *t = via("px-no-pw", "127.0.0.1", tb_broker_port(plain),
                       url("socks5", NULL, socks_auth));

    REQUIRE(t);
    expect_refusal(t, LMQ_EPROXY_AUTH, "wants user:password@ in the proxy URL");
done:
    tw_free(t);
}

static void test_socks5_ruleset_refusal_is_EPROXY_DENIED_named(void)
{
    tw_client *t = via("px-denied", "127.0.0.1", tb_broker_port(denied), url("socks5", NULL, socks));

    REQUIRE(t);
    expect_refusal(t, LMQ_EPROXY_DENIED, "connection not allowed by ruleset (reply 2)");
done:
    tw_free(t);
}

static void test_socks5_server_down_behind_the_proxy_is_EPROXY_TARGET(void)
{
    tw_client *t = via("px-target", "127.0.0.1", closed_port, url("socks5h", NULL, socks));

    REQUIRE(t);
    expect_refusal(t, LMQ_EPROXY_TARGET, "(reply ");
done:
    tw_free(t);
}

static void test_http_wrong_password_shows_the_status_line(void)
{
    tw_client *t = via("px-http-pw", "127.0.0.1", tb_broker_port(plain),
                       url("http", USER ":wrong", http_auth));

    REQUIRE(t);
    expect_refusal(t, LMQ_EPROXY_AUTH, "\"HTTP/1.");
    CHECK(strstr(lmq_client_errmsg(t->c), "user name or password refused") != NULL);
done:
    tw_free(t);
}

static void test_http_without_credentials_is_407_EPROXY_AUTH(void)
{
    tw_client *t = via("px-http-none", "127.0.0.1", tb_broker_port(plain),
                       url("http", NULL, http_auth));

    REQUIRE(t);
    expect_refusal(t, LMQ_EPROXY_AUTH, " 407 ");
done:
    tw_free(t);
}

static void test_http_connect_to_a_port_the_proxy_denies_is_403_EPROXY_DENIED(void)
{
    char cred[64];
    tw_client *t;

    snprintf(cred, sizeof cred, "%s:%s", USER, HTTP_PASS);
    t = via("px-http-port", "127.0.0.1", tb_broker_port(denied), url("http", cred, http_auth));
    REQUIRE(t);
    expect_refusal(t, LMQ_EPROXY_DENIED, " 403 ");
done:
    tw_free(t);
}

static void test_proxy_down_is_EPROXY_UNREACHABLE(void)
{
    char u[64];
    tw_client *t;

    snprintf(u, sizeof u, "socks5://127.0.0.1:%d", closed_port);
    t = via("px-down", "127.0.0.1", tb_broker_port(plain), u);
    REQUIRE(t);
    expect_refusal(t, LMQ_EPROXY_UNREACHABLE, "cannot connect to the SOCKS5 proxy 127.0.0.1:");
    snprintf(u, sizeof u, "http://127.0.0.1:%d", closed_port);
    CHECK_INT(lmq_client_set_str(t->c, LMQ_OPT_PROXY, u, -1), 0);
    expect_refusal(t, LMQ_EPROXY_UNREACHABLE, "cannot connect to the HTTP proxy 127.0.0.1:");
done:
    tw_free(t);
}

/* ------------------------------------------- a scripted proxy: malformed */

/* Answers each line of `script` after reading `reads[i]` bytes (0: do not
 * wait), one byte at a time when slow; relays to `relay_port` afterwards
 * when it is not 0. */
typedef struct fake_proxy {
    int lfd, port;
    const char *answers[4];
    size_t answer_len[4];
    int reads[4];
    int slow;
    int relay_port;
    uint8_t got[4][300];            /* what the client sent before each answer */
    pthread_t th;
} fake_proxy;

static void *fake_run(void *arg)
{
    fake_proxy *f = arg;
    uint8_t buf[4096];
    int fd = accept(f->lfd, NULL, NULL);

    if (fd < 0)
        return NULL;
    for (int i = 0; i < 4 && f->answers[i]; i++) {
        ssize_t got = 0;
        while (got < f->reads[i]) {
            ssize_t r = read(fd, f->got[i] + got, (size_t)(f->reads[i] - got));
            if (r <= 0)
                goto out;
            got += r;
        }
        /* the rest of a longer request (an IPv6 address), sent in the
         * same write as its first bytes */
        if (got && recv(fd, f->got[i] + got, sizeof f->got[i] - (size_t)got, MSG_DONTWAIT) < 0) {
        }
        for (size_t k = 0; k < f->answer_len[i]; k += f->slow ? 1 : f->answer_len[i]) {
            size_t n = f->slow ? 1 : f->answer_len[i];
            if (write(fd, f->answers[i] + k, n) != (ssize_t)n)
                goto out;
            if (f->slow)
                poll(NULL, 0, 5);
        }
    }
    if (f->relay_port) {
        struct sockaddr_in sin = { .sin_family = AF_INET,
                                   .sin_port = htons((uint16_t)f->relay_port) };
        int up = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (up >= 0 && connect(up, (struct sockaddr *)&sin, sizeof sin) == 0) {
            struct pollfd p[2] = { { fd, POLLIN, 0 }, { up, POLLIN, 0 } };
            for (;;) {
                if (poll(p, 2, 10000) <= 0)
                    break;
                int from = p[0].revents ? 0 : 1;
                ssize_t r = read(p[from].fd, buf, sizeof buf);
                if (r <= 0 || write(p[!from].fd, buf, (size_t)r) != r)
                    break;
            }
        }
        if (up >= 0)
            close(up);
    } else {
        /* hold the connection until the client gives up on it */
        while (read(fd, buf, sizeof buf) > 0) {
        }
    }
out:
    close(fd);
    return NULL;
}

static int fake_start(fake_proxy *f)
{
    struct sockaddr_in sin = { .sin_family = AF_INET };
    socklen_t len = sizeof sin;

    for (int i = 0; i < 4 && f->answers[i]; i++)
        if (!f->answer_len[i])
            f->answer_len[i] = strlen(f->answers[i]);
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    f->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (f->lfd < 0 || bind(f->lfd, (struct sockaddr *)&sin, sizeof sin) != 0 ||
        listen(f->lfd, 4) != 0 || getsockname(f->lfd, (struct sockaddr *)&sin, &len) != 0)
        return -1;
    f->port = ntohs(sin.sin_port);
    return pthread_create(&f->th, NULL, fake_run, f);
}

static void fake_stop(fake_proxy *f)
{
    shutdown(f->lfd, SHUT_RDWR);
    close(f->lfd);
    pthread_join(f->th, NULL);
}

static void malformed(const char *scheme, fake_proxy *f, int code, const char *text)
{
    char u[64];
    tw_client *t = NULL;

    REQUIRE(fake_start(f) == 0);
    snprintf(u, sizeof u, "%s://127.0.0.1:%d", scheme, f->port);
    t = via("px-fake", "127.0.0.1", tb_broker_port(plain), u);
    REQUIRE(t);
    expect_refusal(t, code, text);
done:
    tw_free(t);
    fake_stop(f);
}

static void test_malformed_proxy_answers_are_EPROXY_PROTOCOL(void)
{
    fake_proxy v4 = { .answers = { "\x04\x00" }, .answer_len = { 2 }, .reads = { 3 } };
    fake_proxy unoffered = { .answers = { "\x05\x02" }, .reads = { 3 } };
    fake_proxy atyp = { .answers = { "\x05\x00", "\x05\x00\x00\x07\x00" },
                        .answer_len = { 2, 5 }, .reads = { 3, 10 } };
    fake_proxy ssh = { .answers = { "SSH-2.0-OpenSSH_9.2\r\n\r\n" }, .reads = { 1 } };
    fake_proxy extra = { .answers = { "HTTP/1.1 200 OK\r\n\r\nsurprise" }, .reads = { 1 } };

    malformed("socks5", &v4, LMQ_EPROXY_PROTOCOL, "not a SOCKS5 answer (version byte 4)");
    malformed("socks5", &unoffered, LMQ_EPROXY_PROTOCOL, "chose method 2, which was not offered");
    malformed("socks5", &atyp, LMQ_EPROXY_PROTOCOL, "reply with address type 7");
    malformed("http", &ssh, LMQ_EPROXY_PROTOCOL, "not an HTTP answer to CONNECT");
    malformed("http", &extra, LMQ_EPROXY_PROTOCOL, "sent 8 bytes after \"HTTP/1.1 200 OK\"");
}

/* Answers in one-byte pieces (a domain-name bound address, RFC 1928's
 * ATYP 3) are put together across reads; then MQTT flows.  The request
 * for "localhost" through socks5:// carries an address resolved here. */
static void test_socks5_answer_in_pieces_then_mqtt(void)
{
    static const char reply[] = "\x05\x00\x00\x03\x09localhost\x04\x38";
    fake_proxy f = { .answers = { "\x05\x00", reply }, .answer_len = { 2, sizeof reply - 1 },
                     .reads = { 3, 10 }, .slow = 1 };
    char u[64];
    tw_client *t = NULL;

    f.relay_port = tb_broker_port(plain);
    REQUIRE(fake_start(&f) == 0);
    snprintf(u, sizeof u, "socks5://127.0.0.1:%d", f.port);
    t = via("px-pieces", "localhost", tb_broker_port(plain), u);
    REQUIRE(t);
    REQUIRE(tw_connect(t, IT_SHORT_MS) == 0);
    round_trip(t, "it/proxy/pieces");
    CHECK_MEM(f.got[0], "\x05\x01\x00", 3);          /* v5, one method: none */
    /* CONNECT to 127.0.0.1 or ::1 (ATYP 1 or 4), never the name (3) */
    CHECK_MEM(f.got[1], "\x05\x01\x00", 3);
    if (f.got[1][3] == 1)
        CHECK_MEM(f.got[1] + 4, "\x7f\x00\x00\x01", 4);
    else
        CHECK_MEM(f.got[1] + 3, "\x04\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\x01", 17);
done:
    tw_free(t);
    fake_stop(&f);
}

int main(void)
{
    char tls_extra[1024];
    tb_broker_opts tls_opts = {0};
    int ports[4];

    signal(SIGPIPE, SIG_IGN);
    plain = tb_broker_start(NULL);
    denied = tb_broker_start(NULL);
    closed_port = tb_free_port(0);
    if (tc_certs_dir()) {
        snprintf(tls_extra, sizeof tls_extra, "cafile %s\ncertfile %s\nkeyfile %s\n",
                 tc_file("ca.crt"), tc_file("server.crt"), tc_file("server.key"));
        tls_opts.extra = tls_extra;
        tlsb = tb_broker_start(&tls_opts);
    }
    if (!plain || !denied || !tlsb) {
        fprintf(stderr, "test_proxy: brokers did not start\n");
        return 1;
    }
    wsb = tbr_start(tb_broker_port(plain), NULL);
    socks = tp_danted_start(NULL, NULL, tb_broker_port(denied));
    socks_auth = tp_danted_start(USER, PASS, 0);
    ports[0] = tb_broker_port(plain);
    ports[1] = tb_broker_port(tlsb);
    ports[2] = wsb ? wsb->port : 9;
    ports[3] = 0;
    http_auth = tp_tinyproxy_start(USER, HTTP_PASS, ports);
    if (!wsb || !socks || !socks_auth || !http_auth) {
        fprintf(stderr, "test_proxy: the WebSocket bridge or a proxy did not start\n");
        return 1;
    }
    RUN(test_socks5h_no_auth_carries_mqtt_and_sends_the_name);
    RUN(test_socks5_with_user_password_resolves_the_name_here);
    RUN(test_http_connect_with_basic_auth_carries_mqtt);
    RUN(test_proxy_option_survives_the_url_and_clears_with_empty);
    RUN(test_tls_through_socks5_verifies_the_server_not_the_proxy);
    RUN(test_tls_through_http_connect);
    RUN(test_tls_name_check_still_applies_through_a_proxy);
    RUN(test_websocket_through_socks5_and_http_connect);
    RUN(test_socks5_wrong_password_is_EPROXY_AUTH);
    RUN(test_socks5_without_credentials_where_needed_is_EPROXY_AUTH);
    RUN(test_socks5_ruleset_refusal_is_EPROXY_DENIED_named);
    RUN(test_socks5_server_down_behind_the_proxy_is_EPROXY_TARGET);
    RUN(test_http_wrong_password_shows_the_status_line);
    RUN(test_http_without_credentials_is_407_EPROXY_AUTH);
    RUN(test_http_connect_to_a_port_the_proxy_denies_is_403_EPROXY_DENIED);
    RUN(test_proxy_down_is_EPROXY_UNREACHABLE);
    RUN(test_malformed_proxy_answers_are_EPROXY_PROTOCOL);
    RUN(test_socks5_answer_in_pieces_then_mqtt);
    if (check_tests_failed)
        dump_all();
    tbr_stop(wsb);
    it_broker_stop(plain);
    it_broker_stop(denied);
    it_broker_stop(tlsb);
    return check_done();
}
