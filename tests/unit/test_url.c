/*
 * test_url.c - connection strings: every scheme, its default port, user
 * and password with escapes, IPv6 literals, WebSocket paths, and the
 * mistakes that must be refused with a reason.
 */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "client/url.h"

static char err[256];

static int parse(const char *s, lmq_url *u)
{
    err[0] = '\0';
    return lmq_url_parse(s, strlen(s), u, err, sizeof err);
}

static int streq(const char *a, const char *b)
{
    return a && b && strcmp(a, b) == 0;
}

static void test_each_scheme_has_its_default_port(void)
{
    static const struct {
        const char *url;
        int scheme, port;
    } cases[] = {
        { "mqtt://broker", LMQ_URL_MQTT, 1883 },
        { "tcp://broker", LMQ_URL_MQTT, 1883 },
        { "mqtts://broker", LMQ_URL_MQTTS, 8883 },
        { "ssl://broker", LMQ_URL_MQTTS, 8883 },
        { "ws://broker", LMQ_URL_WS, 80 },
        { "wss://broker", LMQ_URL_WSS, 443 },
        { "MQTTS://broker", LMQ_URL_MQTTS, 8883 },
    };
    lmq_url u;

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        CHECK_INT(parse(cases[i].url, &u), 0);
        CHECK_INT(u.scheme, cases[i].scheme);
        CHECK_INT(u.port, cases[i].port);
        CHECK(streq(u.host, "broker"));
        CHECK(u.user == NULL && u.password == NULL && u.path == NULL);
        lmq_url_clear(&u);
    }
}

static void test_user_password_host_port_are_taken_apart(void)
{
    lmq_url u;

    CHECK_INT(parse("mqtt://alice:s3cret@broker.example:1999", &u), 0);
    CHECK(streq(u.user, "alice"));
    CHECK(streq(u.password, "s3cret"));
    CHECK(streq(u.host, "broker.example"));
    CHECK_INT(u.port, 1999);
    lmq_url_clear(&u);
}

static void test_user_and_password_are_percent_decoded(void)
{
    lmq_url u;

    /* '@', ':' and '/' in a password must be escaped; a bare '@' before
     * the last one is taken as part of the password too. */
    CHECK_INT(parse("mqtts://b%40b:p%3Aa%2Fss@h", &u), 0);
    CHECK(streq(u.user, "b@b"));
    CHECK(streq(u.password, "p:a/ss"));
    lmq_url_clear(&u);
    CHECK_INT(parse("mqtt://u:p@ss@h", &u), 0);
    CHECK(streq(u.password, "p@ss"));
    CHECK(streq(u.host, "h"));
    lmq_url_clear(&u);
}

static void test_a_user_without_password_and_an_empty_password(void)
{
    lmq_url u;

    CHECK_INT(parse("mqtt://bob@h", &u), 0);
    CHECK(streq(u.user, "bob") && u.password == NULL);
    lmq_url_clear(&u);
    CHECK_INT(parse("mqtt://bob:@h", &u), 0);
    CHECK(streq(u.user, "bob") && streq(u.password, ""));
    lmq_url_clear(&u);
}

static void test_ipv6_literals_go_in_brackets(void)
{
    lmq_url u;

    CHECK_INT(parse("mqtt://[::1]:1884", &u), 0);
    CHECK(streq(u.host, "::1"));
    CHECK_INT(u.port, 1884);
    lmq_url_clear(&u);
    CHECK_INT(parse("wss://[2001:db8::2]/mqtt", &u), 0);
    CHECK(streq(u.host, "2001:db8::2"));
    CHECK_INT(u.port, 443);
    CHECK(streq(u.path, "/mqtt"));
    lmq_url_clear(&u);
    CHECK_INT(parse("mqtt://::1:1883", &u), LMQ_EURL);
    CHECK(strstr(err, "brackets") != NULL);
    CHECK_INT(parse("mqtt://[::1", &u), LMQ_EURL);
    CHECK_INT(parse("mqtt://[::1]x", &u), LMQ_EURL);
}

static void test_websocket_paths_keep_their_query(void)
{
    lmq_url u;

    CHECK_INT(parse("ws://h:8080/mqtt/ws?token=a%20b&x=1", &u), 0);
    CHECK(streq(u.path, "/mqtt/ws?token=a%20b&x=1"));
    CHECK_INT(u.port, 8080);
    lmq_url_clear(&u);
    CHECK_INT(parse("wss://h?x=1", &u), 0);
    CHECK(streq(u.path, "/?x=1"));
    lmq_url_clear(&u);
    CHECK_INT(parse("ws://h/", &u), 0);
    CHECK(streq(u.path, "/"));
    lmq_url_clear(&u);
}

static void test_mqtt_urls_take_no_path(void)
{
    lmq_url u;

    CHECK_INT(parse("mqtt://h/", &u), 0);        /* a trailing slash is harmless */
    lmq_url_clear(&u);
    CHECK_INT(parse("mqtt://h/mqtt", &u), LMQ_EURL);
    CHECK(strstr(err, "no path") != NULL);
    CHECK_INT(parse("mqtts://h:8883/x", &u), LMQ_EURL);
}

static void test_unix_urls_carry_a_socket_path(void)
{
    lmq_url u;

    CHECK_INT(parse("unix:///run/mosquitto/mqtt.sock", &u), 0);
    CHECK_INT(u.scheme, LMQ_URL_UNIX);
    CHECK(streq(u.path, "/run/mosquitto/mqtt.sock"));
    CHECK(u.host == NULL);
    lmq_url_clear(&u);
    CHECK_INT(parse("unix:///tmp/a%20b.sock", &u), 0);
    CHECK(streq(u.path, "/tmp/a b.sock"));
    lmq_url_clear(&u);
    CHECK_INT(parse("unix://", &u), LMQ_EURL);
}

static void test_malformed_urls_are_refused_with_a_reason(void)
{
    static const char *const bad[] = {
        "broker:1883",              /* no scheme */
        "http://broker",            /* unknown scheme */
        "mqtt://",                  /* no host */
        "mqtt://:1883",             /* no host */
        "mqtt://h:",                /* empty port */
        "mqtt://h:0",               /* port 0 */
        "mqtt://h:65536",           /* port too big */
        "mqtt://h:12a",             /* not a number */
        "mqtt://h:123456",
        "mqtt://u%zz@h",            /* bad escape */
        "mqtt://u%00@h",            /* NUL through an escape */
        "mqtt://u%4@h",             /* short escape */
        "mqtt://h st",              /* space */
        "mqtt://h\r\n",             /* control characters */
        "ws://@",                   /* empty host after userinfo */
    };
    lmq_url u;

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = parse(bad[i], &u);
        if (rc != LMQ_EURL)
            fprintf(stderr, "accepted: %s\n", bad[i]);
        CHECK_INT(rc, LMQ_EURL);
        CHECK(err[0] != '\0');
        CHECK(u.host == NULL && u.user == NULL && u.path == NULL);
    }
}

static void test_a_nul_inside_the_given_length_is_refused(void)
{
    lmq_url u;

    CHECK_INT(lmq_url_parse("mqtt://h\0x", 10, &u, err, sizeof err), LMQ_EURL);
}

static void test_client_set_url_accepts_good_and_explains_bad(void)
{
    lmq_client *c = lmq_client_new();

    CHECK(c != NULL);
    if (!c)
        return;
    CHECK_INT(lmq_client_set_url(c, "mqtts://u:p@127.0.0.1:8884", -1), 0);
    CHECK_INT(lmq_client_set_url(c, "wss://h/mqtt", -1), 0);
    CHECK_INT(lmq_client_set_url(c, "unix:///tmp/x.sock", -1), 0);
    CHECK_INT(lmq_client_set_str(c, LMQ_OPT_URL, "ws://h:9001", -1), 0);
    CHECK_INT(lmq_client_set_url(c, "mqtt://h:99999", -1), LMQ_EURL);
    CHECK(strstr(lmq_client_errmsg(c), "port") != NULL);
    CHECK_INT(lmq_client_set_url(c, "mqtt://h", 4), LMQ_EURL);     /* "mqtt" */
    CHECK_INT(lmq_client_set_url(c, NULL, 5), LMQ_EINVAL);
    CHECK_INT(lmq_client_set_int(c, LMQ_OPT_URL, 1), LMQ_EINVAL);
    lmq_client_free(c);
}

static void test_transport_options_are_checked(void)
{
    lmq_client *c = lmq_client_new();

    CHECK(c != NULL);
    if (!c)
        return;
    CHECK_INT(lmq_client_set_int(c, LMQ_OPT_TLS, 2), LMQ_EINVAL);
    CHECK_INT(lmq_client_set_int(c, LMQ_OPT_TLS_MIN_VERSION, 13), 0);
    CHECK_INT(lmq_client_set_int(c, LMQ_OPT_TLS_MIN_VERSION, 10), LMQ_EINVAL);
    CHECK_INT(lmq_client_set_str(c, LMQ_OPT_TLS_PSK, "abc", -1), LMQ_EINVAL);     /* odd */
    CHECK_INT(lmq_client_set_str(c, LMQ_OPT_TLS_PSK, "zz", -1), LMQ_EINVAL);      /* not hex */
    CHECK_INT(lmq_client_set_str(c, LMQ_OPT_TLS_PSK, "00ff", -1), 0);
    CHECK_INT(lmq_client_set_str(c, LMQ_OPT_WS_PATH, "mqtt", -1), LMQ_EINVAL);    /* no '/' */
    CHECK_INT(lmq_client_set_str(c, LMQ_OPT_WS_PATH, "/a b", -1), LMQ_EINVAL);
    CHECK_INT(lmq_client_set_str(c, LMQ_OPT_WS_HEADERS, "X-A: 1\r\nX-B: 2", -1), LMQ_EINVAL);
    CHECK_INT(lmq_client_set_str(c, LMQ_OPT_WS_HEADERS, "X-A: 1\nX-B: 2", -1), 0);
    CHECK_INT(lmq_client_set_str(c, LMQ_OPT_TLS_CA_FILE, "/etc/ssl/certs/ca.pem", -1), 0);
    CHECK_INT(lmq_client_set_int(c, LMQ_OPT_TLS_CA_FILE, 1), LMQ_EINVAL);
    CHECK_INT(lmq_client_set_str(c, LMQ_OPT_TLS_INSECURE, "1", -1), LMQ_EINVAL);
    lmq_client_free(c);
}

static int parse_proxy(const char *s, lmq_url *u)
{
    err[0] = '\0';
    return lmq_url_parse_proxy(s, strlen(s), u, err, sizeof err);
}

/* LMQ_OPT_PROXY's URLs: socks5 (resolved here), socks5h (by the proxy),
 * http (CONNECT), their ports, credentials, and what is refused. */
static void test_proxy_urls(void)
{
    lmq_url u;
    lmq_client *c = lmq_client_new();

    CHECK_INT(parse_proxy("socks5://proxy.lan", &u), 0);
    CHECK(u.scheme == LMQ_URL_SOCKS5 && u.port == 1080 && streq(u.host, "proxy.lan") && !u.user);
    lmq_url_clear(&u);
    CHECK_INT(parse_proxy("SOCKS5H://bob:p%40ss@[::1]:9050/", &u), 0);
    CHECK(u.scheme == LMQ_URL_SOCKS5H && u.port == 9050 && streq(u.host, "::1") &&
          streq(u.user, "bob") && streq(u.password, "p@ss"));
    lmq_url_clear(&u);
    CHECK_INT(parse_proxy("http://alice:wonder@10.0.0.1:3128", &u), 0);
    CHECK(u.scheme == LMQ_URL_HTTP_PROXY && u.port == 3128 && streq(u.password, "wonder"));
    lmq_url_clear(&u);
    CHECK_INT(parse_proxy("http://h", &u), 0);
    CHECK_INT(u.port, 8080);
    lmq_url_clear(&u);
    CHECK_INT(parse_proxy("socks4://h", &u), LMQ_EURL);
    CHECK(strstr(err, "socks5, socks5h or http") != NULL);
    CHECK_INT(parse_proxy("https://h", &u), LMQ_EURL);
    CHECK_INT(parse_proxy("http://h:3128/path", &u), LMQ_EURL);
    CHECK(strstr(err, "takes no path") != NULL);
    CHECK_INT(parse_proxy("socks5://h:0", &u), LMQ_EURL);
    CHECK_INT(parse_proxy("mqtt://h", &u), LMQ_EURL);
    /* a broker URL is not a proxy and the other way round */
    CHECK_INT(parse("socks5://h", &u), LMQ_EURL);

    if (!c) {
        CHECK(c != NULL);
        return;
    }
    CHECK_INT(lmq_client_set_str(c, LMQ_OPT_PROXY, "socks5://u:p@h:1", -1), 0);
    CHECK_INT(lmq_client_set_str(c, LMQ_OPT_PROXY, "socks5://h:99999", -1), LMQ_EURL);
    CHECK(strstr(lmq_client_errmsg(c), "65535") != NULL);
    /* RFC 1929: one length byte for the user name, which is not empty */
    CHECK_INT(lmq_client_set_str(c, LMQ_OPT_PROXY, "socks5://:pw@h", -1), LMQ_EURL);
    {
        char long_user[300 + 32];
        memset(long_user, 'u', sizeof long_user);
        memcpy(long_user, "socks5://", 9);
        memcpy(long_user + 9 + 256, "@h", 3);
        CHECK_INT(lmq_client_set_str(c, LMQ_OPT_PROXY, long_user, -1), LMQ_EURL);
        CHECK(strstr(lmq_client_errmsg(c), "255") != NULL);
        /* HTTP Basic credentials have no such limit */
        memcpy(long_user, "http://", 7);
        memset(long_user + 7, 'u', 2);
        CHECK_INT(lmq_client_set_str(c, LMQ_OPT_PROXY, long_user, -1), 0);
    }
    CHECK_INT(lmq_client_set_int(c, LMQ_OPT_PROXY, 1), LMQ_EINVAL);
    CHECK_INT(lmq_client_set_str(c, LMQ_OPT_PROXY, "", 0), 0);
    lmq_client_free(c);
}

int main(void)
{
    RUN(test_each_scheme_has_its_default_port);
    RUN(test_user_password_host_port_are_taken_apart);
    RUN(test_user_and_password_are_percent_decoded);
    RUN(test_a_user_without_password_and_an_empty_password);
    RUN(test_ipv6_literals_go_in_brackets);
    RUN(test_websocket_paths_keep_their_query);
    RUN(test_mqtt_urls_take_no_path);
    RUN(test_unix_urls_carry_a_socket_path);
    RUN(test_malformed_urls_are_refused_with_a_reason);
    RUN(test_a_nul_inside_the_given_length_is_refused);
    RUN(test_client_set_url_accepts_good_and_explains_bad);
    RUN(test_transport_options_are_checked);
    RUN(test_proxy_urls);
    return check_done();
}
