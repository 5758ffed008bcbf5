/*
 * test_guard.c - the guard module loaded by path into a session driven by
 * the unit tests' fake server: drops by filter, size and JSON validity in
 * both directions, the reason an incoming drop is acked with, the counters
 * it reports on its tick, and config errors.
 */
#include "test_session_fx.h"
#include "plugin/plugin.h"

static void start(fx *f, const char *cfg)
{
    fx_init(f, 5);
    CHECK_INT(lmq_session_set_int(f->s, LMQ_OPT_LOG_LEVEL, LMQ_LOG_INFO), 0);
    CHECK_INT(lmq_plugin_session_load(f->s, LMQ_PLUGIN_GUARD, cfg), 0);
    fx_connect(f, 0);
}

/* Feed a QoS 1 PUBLISH; 1 when it was delivered.  *reason: the PUBACK's. */
static int feed(fx *f, const char *topic, const char *payload, int pid, int *reason)
{
    lmq_packet in = fx_publish(topic, payload, 1, pid);
    CHECK_INT(fx_feed(f, &in), 0);
    CHECK_INT(fx_next(f), LMQ_PUBACK);
    *reason = f->pkt.u.ack.reason;
    fx_events(f);
    return fx_find(f, LMQ_EV_MESSAGE) != NULL;
}

static void test_incoming_drops_by_filter_size_and_json(void)
{
    fx f;
    int reason;
    start(&f, "deny=private/# max_payload=16 json=1 reason=0x99");
    CHECK_INT(feed(&f, "ok/1", "{\"a\":[1,2.5e3,true,null]}", 1, &reason), 0); /* 25 > 16 */
    CHECK_INT(feed(&f, "ok/1", "{\"a\":1}", 2, &reason), 1);
    CHECK_INT(reason, 0);
    CHECK_INT(feed(&f, "private/x", "{}", 3, &reason), 0);
    CHECK_INT(reason, 0x99);
    CHECK_INT(feed(&f, "ok/2", "{\"a\":}", 4, &reason), 0);
    CHECK_INT(feed(&f, "ok/2", "[1,2] x", 5, &reason), 0);
    CHECK_INT(feed(&f, "ok/2", "\"s\\u00e9\"", 6, &reason), 1);
    fx_free(&f);
}

static void test_outgoing_drops_are_refused_and_counted(void)
{
    fx f;
    start(&f, "deny=+/secret dir=out report_ms=1000");
    CHECK_INT(fx_pub(&f, "a/secret", "x", 1), LMQ_EPLUGIN_DROP);
    CHECK(fx_pub(&f, "a/public", "x", 1) > 0);
    /* dir=out: incoming messages pass whatever their topic. */
    lmq_packet in = fx_publish("a/secret", "x", 0, 0);
    CHECK_INT(fx_feed(&f, &in), 0);
    fx_events(&f);
    CHECK(fx_find(&f, LMQ_EV_MESSAGE) != NULL);
    /* The first tick schedules, the next one a second later reports. */
    CHECK_INT(lmq_session_tick(f.s, f.now), 0);
    f.now += 1000;
    CHECK_INT(lmq_session_tick(f.s, f.now), 0);
    fx_events(&f);
    int seen = 0;
    for (int i = 0; i < f.nev; i++)
        if (f.ev[i].type == LMQ_EV_LOG &&
            strstr(f.ev[i].text, "[guard] in: 0 passed") &&
            strstr(f.ev[i].text, "out: 1 passed, dropped 1 by filter, 0 by size, 0 not JSON"))
            seen = 1;
    CHECK(seen);
    fx_free(&f);
}

static void test_bad_config_refuses_the_load(void)
{
    fx f;
    fx_init(&f, 5);
    CHECK_INT(lmq_plugin_session_load(f.s, LMQ_PLUGIN_GUARD, "max_payload=lots"),
              LMQ_EPLUGIN_INIT);
    CHECK(strstr(lmq_session_errmsg(f.s), "max_payload needs a number") != NULL);
    CHECK_INT(lmq_plugin_session_load(f.s, LMQ_PLUGIN_GUARD, "reason=5"), LMQ_EPLUGIN_INIT);
    CHECK_INT(lmq_plugin_session_load(f.s, LMQ_PLUGIN_GUARD, "deny=a/#/b"), LMQ_EPLUGIN_INIT);
    fx_free(&f);
}

int main(void)
{
    RUN(test_incoming_drops_by_filter_size_and_json);
    RUN(test_outgoing_drops_are_refused_and_counted);
    RUN(test_bad_config_refuses_the_load);
    return check_done();
}
