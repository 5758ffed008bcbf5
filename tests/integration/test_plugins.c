/*
 * test_plugins.c - C plugins loaded by path into a client: the loader's
 * refusals name the file (missing file, missing entry symbol, ABI major
 * mismatch), and the jsonlog plugin logs every message in and out of a
 * client talking to a real mosquitto, two instances chained with their own
 * configs, without changing what the application sees.
 *
 * ABI 1.1 hooks through a real client: reconnect attempts and ticks while
 * offline (nothing listening), and against the fake broker the credentials
 * a plugin sets in CONNECT and its answer to an AUTH challenge.
 *
 * The module paths come from plugins/CMakeLists.txt.
 */
#define _GNU_SOURCE

#include <poll.h>
#include <unistd.h>

#include "itest.h"

#ifndef LMQ_PLUGIN_JSONLOG
#define LMQ_PLUGIN_JSONLOG ""
#define LMQ_PLUGIN_BAD_ABI ""
#define LMQ_PLUGIN_NO_ENTRY ""
#endif
#ifndef LMQ_PLUGIN_PROBE
#define LMQ_PLUGIN_PROBE ""
#endif
/* $LMQ_PLUGIN_PROBE_SO replaces the probe: integration.test_plugins.abi_1_1
 * runs these tests with the probe built against the 1.1 plugin header. */
static const char *probe_so(void)
{
    const char *env = getenv("LMQ_PLUGIN_PROBE_SO");
    return env && env[0] ? env : LMQ_PLUGIN_PROBE;
}

#include "probe.h"

static tb_broker *broker;

static int contains(const char *hay, const char *needle)
{
    return hay && needle && needle[0] && strstr(hay, needle) != NULL;
}

static void test_loader_refusals_name_the_file(void)
{
    lmq_client *c = lmq_client_new();
    REQUIRE(c);
    REQUIRE(LMQ_PLUGIN_JSONLOG[0]);     /* built with the plugin paths */
    CHECK_INT(lmq_client_load_plugin(c, NULL, NULL), LMQ_EINVAL);
    CHECK_INT(lmq_client_load_plugin(c, "/nonexistent/lunamq_x.so", NULL), LMQ_EPLUGIN_LOAD);
    CHECK(contains(lmq_client_errmsg(c), "/nonexistent/lunamq_x.so"));
    CHECK_INT(lmq_client_load_plugin(c, LMQ_PLUGIN_NO_ENTRY, ""), LMQ_EPLUGIN_SYMBOL);
    CHECK(contains(lmq_client_errmsg(c), LMQ_PLUGIN_NO_ENTRY));
    CHECK(contains(lmq_client_errmsg(c), "lmq_plugin_entry"));
    CHECK_INT(lmq_client_load_plugin(c, LMQ_PLUGIN_BAD_ABI, ""), LMQ_EPLUGIN_ABI);
    CHECK(contains(lmq_client_errmsg(c), LMQ_PLUGIN_BAD_ABI));
    CHECK(contains(lmq_client_errmsg(c), "ABI 2.0"));
    CHECK(contains(lmq_strerror(LMQ_EPLUGIN_ABI), "ABI"));
    CHECK(lmq_errname(LMQ_EPLUGIN_DROP) && !strcmp(lmq_errname(LMQ_EPLUGIN_DROP),
                                                   "LMQ_EPLUGIN_DROP"));
done:
    lmq_client_free(c);
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    char *buf = calloc(1, 65536);
    if (f && buf)
        buf[fread(buf, 1, 65535, f)] = '\0';
    if (f)
        fclose(f);
    return buf;
}

static int count(const char *s, const char *needle)
{
    int n = 0;
    for (const char *p = s; p && (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

static void jsonlog_through_mosquitto(int level)
{
    tw_client *t = NULL;
    char all[64], only_b[64], cfg[160], *log = NULL, *log_b = NULL;

    snprintf(all, sizeof all, "/tmp/lmq_itplug_all_%d_%d.log", (int)getpid(), level);
    snprintf(only_b, sizeof only_b, "/tmp/lmq_itplug_b_%d_%d.log", (int)getpid(), level);
    unlink(all);
    unlink(only_b);
    REQUIRE(broker);
    t = tw_new_for(broker, level == 5 ? "plug-v5" : "plug-v4", level);
    REQUIRE(t);
    snprintf(cfg, sizeof cfg, "file=%s", all);
    REQUIRE(lmq_client_load_plugin(t->c, LMQ_PLUGIN_JSONLOG, cfg) == 0);
    /* The same module again, its own state and config: the second in the chain. */
    snprintf(cfg, sizeof cfg, "file=%s dir=in filter=it/plugins/b", only_b);
    REQUIRE(lmq_client_load_plugin(t->c, LMQ_PLUGIN_JSONLOG, cfg) == 0);
    REQUIRE(tw_connect(t, IT_SHORT_MS) == 0);
    CHECK_INT(tw_subscribe(t, "it/plugins/#", 1, IT_SHORT_MS), 1);
    CHECK_INT(tw_publish_wait(t, "it/plugins/a", "first", 1, 0, IT_SHORT_MS), 0);
    CHECK_INT(tw_publish_wait(t, "it/plugins/b", "second", 0, 0, IT_SHORT_MS), 0);
    tw_event *a = tw_wait_msg(t, "it/plugins/a", IT_SHORT_MS);
    tw_event *b = tw_wait_msg(t, "it/plugins/b", IT_SHORT_MS);
    REQUIRE(a && b);
    CHECK(a->ev.payload_len == 5 && !memcmp(a->payload, "first", 5));
    CHECK(b->ev.payload_len == 6 && !memcmp(b->payload, "second", 6));

    log = slurp(all);
    log_b = slurp(only_b);
    CHECK_INT(count(log, "\n"), 4);
    CHECK_INT(count(log, "\"dir\":\"out\",\"topic\":\"it/plugins/a\",\"qos\":1"), 1);
    CHECK_INT(count(log, "\"dir\":\"out\",\"topic\":\"it/plugins/b\",\"qos\":0"), 1);
    CHECK_INT(count(log, "\"dir\":\"in\",\"topic\":\"it/plugins/a\",\"qos\":1"), 1);
    CHECK_INT(count(log, "\"payload\":\"second\""), 2);
    CHECK_INT(count(log, "\"props\":["), level == 5 ? 4 : 0);
    CHECK_INT(count(log_b, "\n"), 1);
    CHECK_INT(count(log_b, "\"dir\":\"in\",\"topic\":\"it/plugins/b\""), 1);
    if (check_failed_now)
        fprintf(stderr, "log:\n%s\nlog b:\n%s\n", log ? log : "", log_b ? log_b : "");
done:
    tw_free(t);
    free(log);
    free(log_b);
    unlink(all);
    unlink(only_b);
}

static void test_jsonlog_logs_both_ways_with_mqtt_5(void)
{
    jsonlog_through_mosquitto(LMQ_MQTT_5);
}

static void test_jsonlog_logs_both_ways_with_mqtt_311(void)
{
    jsonlog_through_mosquitto(LMQ_MQTT_311);
}

static int probe_load(tw_client *t, lmq_probe *p)
{
    char cfg[64];
    snprintf(cfg, sizeof cfg, "p=%p", (void *)p);
    return lmq_client_load_plugin(t->c, probe_so(), cfg);
}

static void test_reconnect_attempts_and_offline_ticks_reach_plugins(void)
{
    lmq_probe p;
    tw_client *t = tw_new("probe-offline");
    memset(&p, 0, sizeof p);
    p.tick_ms = 20;
    REQUIRE(t && probe_so()[0]);
    /* Nothing listens there: every attempt fails, the client retries. */
    lmq_client_set_str(t->c, LMQ_OPT_HOST, "127.0.0.1", -1);
    lmq_client_set_int(t->c, LMQ_OPT_PORT, tb_free_port(0));
    lmq_client_set_int(t->c, LMQ_OPT_RECONNECT_FIRST, 1);
    lmq_client_set_int(t->c, LMQ_OPT_RECONNECT_MIN_MS, 30);
    lmq_client_set_int(t->c, LMQ_OPT_RECONNECT_MAX_MS, 120);
    REQUIRE(probe_load(t, &p) == 0);
    REQUIRE(tw_start(t) == 0);
    int64_t deadline = tw_now_ms() + IT_LONG_MS;
    while ((p.reconnects < 3 || p.ticks_offline < 3) && tw_now_ms() < deadline)
        tw_pump(10);
    CHECK(p.reconnects >= 3);
    CHECK(p.ticks_offline >= 3);            /* ticks go on with no connection */
    CHECK_INT(p.ticks, p.ticks_offline);
    CHECK_INT(p.attempt[0], 1);
    CHECK_INT(p.attempt[1], 2);
    CHECK_INT(p.attempt[2], 3);
    for (int i = 0; i < 3; i++)
        CHECK(p.delay[i] >= 0 && p.delay[i] <= 120);
    /* Each failed attempt is reported, then the next one scheduled. */
    CHECK(!strncmp(p.trace, "disconnect reconnect disconnect reconnect ", 42));
    CHECK_INT(p.connect_sends, 0);          /* never got as far as CONNECT */
    /* Stopped: no more ticks. */
    CHECK_INT(lmq_client_disconnect(t->c, 0, NULL), 0);
    int ticks = p.ticks;
    tw_pump(100);
    CHECK_INT(p.ticks, ticks);
done:
    tw_free(t);
}

static void test_plugin_sets_connect_credentials_and_answers_auth(void)
{
    lmq_probe p;
    tf_packet cp = {0}, ap = {0};
    tf_fake *f = tf_fake_new();
    tw_client *t = NULL;
    memset(&p, 0, sizeof p);
    p.user = "token-user";
    p.password = "token-123";
    p.auth_answer = "client-proof";
    REQUIRE(f && probe_so()[0]);
    t = it_fake_client(f, "probe-auth", LMQ_MQTT_5);
    REQUIRE(t);
    lmq_client_set_str(t->c, LMQ_OPT_USERNAME, "configured", -1);
    lmq_client_set_str(t->c, LMQ_OPT_AUTH_METHOD, "SCRAM-SHA-1", -1);
    REQUIRE(probe_load(t, &p) == 0);
    REQUIRE(it_fake_take_connect(f, t, &cp) == 0);
    REQUIRE(cp.decode_rc == 0);
    const lmq_connect *c = &cp.pkt.u.connect;
    CHECK(c->username.n == 10 && !memcmp(c->username.p, "token-user", 10));
    CHECK(c->password.n == 9 && !memcmp(c->password.p, "token-123", 9));
    CHECK(c->props.auth_method.n == 11 && !memcmp(c->props.auth_method.p, "SCRAM-SHA-1", 11));
    CHECK(c->props.raw.n > 0 && memmem(c->props.raw.p, c->props.raw.n, "probe", 5) != NULL);
    CHECK_INT(p.connect_sends, 1);

    /* The challenge [MQTT-4.12.0-2]: the plugin answers, same method. */
    lmq_packet au;
    memset(&au, 0, sizeof au);
    au.type = LMQ_AUTH;
    au.u.disconnect.reason = 0x18;
    au.u.disconnect.props.auth_method = (lmq_slice){ (const uint8_t *)"SCRAM-SHA-1", 11 };
    lmq_props_set(&au.u.disconnect.props, LMQ_PROP_AUTH_METHOD);
    au.u.disconnect.props.auth_data = (lmq_slice){ (const uint8_t *)"server-nonce", 12 };
    lmq_props_set(&au.u.disconnect.props, LMQ_PROP_AUTH_DATA);
    REQUIRE(tf_fake_send_packet(f, &au, 5) == 0);
    REQUIRE(tf_fake_expect(f, LMQ_AUTH, IT_SHORT_MS, &ap) == 0);
    CHECK_INT(ap.pkt.u.disconnect.reason, 0x18);
    const lmq_props *pr = &ap.pkt.u.disconnect.props;
    CHECK(pr->auth_method.n == 11 && !memcmp(pr->auth_method.p, "SCRAM-SHA-1", 11));
    CHECK(pr->auth_data.n == 12 && !memcmp(pr->auth_data.p, "client-proof", 12));
    CHECK(strcmp(p.auth_data, "server-nonce") == 0);
    REQUIRE(tf_fake_send_connack(f, 5, 0, 0, NULL) == 0);
    CHECK(tw_wait(t, LMQ_EV_CONNECTED, IT_SHORT_MS) != NULL);
    CHECK_INT(tw_count(t, LMQ_EV_AUTH), 0);     /* the application was not asked */
    CHECK(strstr(p.trace, "connect_send auth connack") != NULL);
done:
    tf_packet_clear(&cp);
    tf_packet_clear(&ap);
    tw_free(t);
    tf_fake_free(f);
}

static int32_t probe_get(const int32_t *field)
{
    return __atomic_load_n(field, __ATOMIC_SEQ_CST);
}

/* Wait for *field to become non-zero (the loop thread sets it). */
static int32_t probe_wait(const int32_t *field)
{
    int64_t until = tw_now_ms() + IT_SHORT_MS;
    while (!probe_get(field) && tw_now_ms() < until)
        poll(NULL, 0, 2);
    return probe_get(field);
}

/* A User Property a plugin adds on publish-out goes on the wire: a
 * subscriber without plugins gets it from mosquitto, next to the one the
 * application set, in that order (the server forwards them unaltered and
 * in order, [MQTT-3.3.2-17] [MQTT-3.3.2-18]).  jsonlog, loaded after the
 * plugin that adds it, logs the message as changed. */
static void test_user_property_added_on_publish_out_reaches_a_subscriber(void)
{
    lmq_probe p;
    tw_client *pub = NULL, *sub = NULL;
    lmq_proplist *pl = NULL;
    const char *k, *v;
    int32_t kl, vl;
    char path[64], cfg[96], *log = NULL;

    memset(&p, 0, sizeof p);
    REQUIRE(broker && probe_so()[0]);
    snprintf(path, sizeof path, "/tmp/lmq_itplug_props_%d.log", (int)getpid());
    unlink(path);
    p.out_user_key = "trace-id";
    p.out_user_val = "it-42";
    sub = tw_new_for(broker, "plug-props-sub", LMQ_MQTT_5);
    pub = tw_new_for(broker, "plug-props-pub", LMQ_MQTT_5);
    REQUIRE(sub && pub);
    REQUIRE(probe_load(pub, &p) == 0);
    snprintf(cfg, sizeof cfg, "file=%s dir=out", path);
    REQUIRE(lmq_client_load_plugin(pub->c, LMQ_PLUGIN_JSONLOG, cfg) == 0);
    REQUIRE(tw_connect(sub, IT_SHORT_MS) == 0);
    REQUIRE(tw_connect(pub, IT_SHORT_MS) == 0);
    CHECK_INT(tw_subscribe(sub, "it/plugins/props", 1, IT_SHORT_MS), 1);
    pl = lmq_proplist_new();
    REQUIRE(pl && lmq_proplist_add_user(pl, "app", -1, "yes", -1) == 0);
    CHECK(lmq_client_publish(pub->c, "it/plugins/props", -1, "x", 1, 1, 0, pl) > 0);
    CHECK_INT(p.out_prop_rc, 1000);
    tw_event *e = tw_wait_msg(sub, "it/plugins/props", IT_SHORT_MS);
    REQUIRE(e);
    CHECK_INT(lmq_event_prop_user(&e->ev, 0, &k, &kl, &v, &vl), 1);
    CHECK(kl == 3 && !memcmp(k, "app", 3) && vl == 3 && !memcmp(v, "yes", 3));
    CHECK_INT(lmq_event_prop_user(&e->ev, 1, &k, &kl, &v, &vl), 1);
    CHECK(kl == 8 && !memcmp(k, "trace-id", 8) && vl == 5 && !memcmp(v, "it-42", 5));
    CHECK_INT(lmq_event_prop_user(&e->ev, 2, &k, &kl, &v, &vl), 0);
    log = slurp(path);
    CHECK_INT(count(log, "\n"), 1);
    CHECK_INT(count(log, "{\"name\":\"User Property\",\"key\":\"app\",\"value\":\"yes\"},"
                         "{\"name\":\"User Property\",\"key\":\"trace-id\",\"value\":\"it-42\"}]"),
              1);
    if (check_failed_now)
        fprintf(stderr, "log:\n%s\n", log ? log : "");
done:
    lmq_proplist_free(pl);
    tw_free(pub);
    tw_free(sub);
    free(log);
    unlink(path);
}

/* Thread mode: a watch belongs to the loop's thread.  Started from the
 * tick (the loop thread) it fires; an unwatch from a hook the application
 * thread runs (publish) is refused with ESTATE and the fd stays watched;
 * from the tick it works. */
static void test_fd_watch_in_thread_mode_stays_on_the_loop_thread(void)
{
    lmq_probe p;
    lmq_client *c = NULL;
    int pfd[2] = { -1, -1 }, started = 0;
    char cfg[64];

    memset(&p, 0, sizeof p);
    REQUIRE(broker && probe_so()[0]);
    REQUIRE(pipe(pfd) == 0);
    p.tick_ms = 10;
    p.watch_fd = pfd[0];
    c = lmq_client_new();
    REQUIRE(c);
    lmq_client_set_str(c, LMQ_OPT_HOST, "127.0.0.1", -1);
    lmq_client_set_int(c, LMQ_OPT_PORT, tb_broker_port(broker));
    snprintf(cfg, sizeof cfg, "p=%p", (void *)&p);
    REQUIRE(lmq_client_load_plugin(c, probe_so(), cfg) == 0);
    REQUIRE(lmq_client_connect_wait(c, IT_SHORT_MS) == 0);
    REQUIRE(lmq_client_thread_start(c) == 0);
    started = 1;
    CHECK_INT(probe_wait(&p.watched), 1);
    CHECK_INT(probe_get(&p.watch_rc), 0);
    CHECK(write(pfd[1], "x", 1) == 1);
    CHECK_INT(probe_wait(&p.fired), 1);
    /* This thread runs the publish hook. */
    CHECK(lmq_client_publish(c, "it/plugins/thread", -1, "x", 1, 0, 0, NULL) > 0);
    CHECK_INT(probe_wait(&p.unwatch_rc_out), 1000 + LMQ_ESTATE);
    CHECK(write(pfd[1], "y", 1) == 1);
    int64_t until = tw_now_ms() + IT_SHORT_MS;
    while (probe_get(&p.fired) < 2 && tw_now_ms() < until)
        poll(NULL, 0, 2);
    CHECK_INT(probe_get(&p.fired), 2);          /* still watched */
    __atomic_store_n(&p.unwatch_in_tick, 1, __ATOMIC_SEQ_CST);
    CHECK_INT(probe_wait(&p.unwatch_rc_tick), 1000);
done:
    if (started)
        CHECK_INT(lmq_client_thread_stop(c), 0);
    lmq_client_free(c);
    if (pfd[0] >= 0)
        close(pfd[0]);
    if (pfd[1] >= 0)
        close(pfd[1]);
}

int main(void)
{
    broker = tb_broker_start(NULL);
    RUN(test_loader_refusals_name_the_file);
    RUN(test_jsonlog_logs_both_ways_with_mqtt_5);
    RUN(test_jsonlog_logs_both_ways_with_mqtt_311);
    RUN(test_reconnect_attempts_and_offline_ticks_reach_plugins);
    RUN(test_plugin_sets_connect_credentials_and_answers_auth);
    RUN(test_fd_watch_in_thread_mode_stays_on_the_loop_thread);
    RUN(test_user_property_added_on_publish_out_reaches_a_subscriber);
    it_broker_stop(broker);
    return check_done();
}
