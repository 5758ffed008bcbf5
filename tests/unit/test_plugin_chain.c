/*
 * test_plugin_chain.c - the plugin chain inside the session, byte for byte:
 * every hook fires, in the order things happen, with the right data;
 * message-in and publish-out hooks modify and drop; the chain runs in load
 * order and a drop stops it; ticks; the log hook is not re-entered; the
 * descriptor checks (ABI major, incomplete descriptor, init failure) and
 * an older plugin's smaller struct.  The plugins here are static
 * descriptors added to the session; test_plugin_load covers dlopen.
 */
#include <stddef.h>
#include <stdio.h>

#include "test_session_fx.h"
#include "lunamq_plugin.h"
#include "plugin/plugin.h"
#include "session/session_int.h"

/* ------------------------------------------------------ a recording plugin */

/* What one instance does; the test owns it and passes its address in the
 * config string ("rec=0x..."), the way a real plugin gets its settings. */
typedef struct rec {
    char name;                    /* letter in the trace */
    int drop_in, drop_out;
    int reason;                   /* msg_set_reason when dropping in */
    const char *topic, *payload;  /* set these when not NULL */
    int qos;                      /* out: msg_set_qos when >= 0 */
    int log_in_log;               /* api->log from the log hook */
    int ticks;
    int64_t tick_ms;              /* set_tick at init when > 0 */
    int shutdowns;
    const lmq_plugin_api *api;
    char seen[256];               /* last message: "topic|payload|qos|retain|dir" */
    char seen_props[128];         /* out: user property k=v, content type */
    lmq_plugin_conn conn[3];      /* connect, connack, disconnect */
} rec;

static char trace[1024];

static void add(const rec *r, const char *what)
{
    size_t n = strlen(trace);
    snprintf(trace + n, sizeof trace - n, "%c:%s ", r->name, what);
}

static int rec_init(const lmq_plugin_api *api, const char *config, void **state)
{
    rec *r = NULL;
    if (sscanf(config, "rec=%p", (void **)&r) != 1 || !r) {
        api->set_error(api, "config needs rec=<address>");
        return -1;
    }
    r->api = api;
    if (r->tick_ms > 0)
        api->set_tick(api, (int32_t)r->tick_ms);
    *state = r;
    return 0;
}

static void rec_shutdown(void *state)
{
    rec *r = state;
    r->shutdowns++;
    add(r, "shutdown");
}

static void rec_connect(void *state, const lmq_plugin_conn *c)
{
    rec *r = state;
    r->conn[0] = *c;
    r->conn[0].client_id = NULL;    /* borrowed: not kept */
    add(r, c->client_id_len == 2 && !memcmp(c->client_id, "c1", 2) ? "connect(c1)"
                                                                     : "connect(?)");
}

static void rec_connack(void *state, const lmq_plugin_conn *c)
{
    rec *r = state;
    r->conn[1] = *c;
    add(r, "connack");
}

static void rec_disconnect(void *state, const lmq_plugin_conn *c)
{
    rec *r = state;
    r->conn[2] = *c;
    add(r, "disconnect");
}

static int rec_msg(rec *r, lmq_plugin_msg *m, int drop)
{
    snprintf(r->seen, sizeof r->seen, "%.*s|%.*s|%d|%d|%s", (int)m->topic_len, m->topic,
             (int)m->payload_len, (const char *)m->payload, m->qos, m->retain,
             m->direction == LMQ_PLUGIN_IN ? "in" : "out");
    if (r->topic)
        CHECK_INT(r->api->msg_set_topic(r->api, m, r->topic, -1), 0);
    if (r->payload)
        CHECK_INT(r->api->msg_set_payload(r->api, m, r->payload,
                                          (int32_t)strlen(r->payload)), 0);
    if (r->qos >= 0 && m->direction == LMQ_PLUGIN_OUT)
        CHECK_INT(r->api->msg_set_qos(r->api, m, r->qos), 0);
    if (drop && r->reason)
        CHECK_INT(r->api->msg_set_reason(r->api, m, r->reason), 0);
    return drop ? LMQ_PLUGIN_DROP : LMQ_PLUGIN_CONTINUE;
}

static int rec_in(void *state, lmq_plugin_msg *m)
{
    rec *r = state;
    add(r, "in");
    return rec_msg(r, m, r->drop_in);
}

static int rec_out(void *state, lmq_plugin_msg *m)
{
    rec *r = state;
    const char *k, *v, *ct;
    int32_t kl, vl, ctl;
    add(r, "out");
    r->seen_props[0] = '\0';
    if (r->api->prop_user(m->props, m->props_len, 0, &k, &kl, &v, &vl) == 1 &&
        r->api->prop_str(m->props, m->props_len, LMQ_PROP_CONTENT_TYPE, &ct, &ctl) == 1)
        snprintf(r->seen_props, sizeof r->seen_props, "%.*s=%.*s %.*s", (int)kl, k,
                 (int)vl, v, (int)ctl, ct);
    return rec_msg(r, m, r->drop_out);
}

static void rec_log(void *state, int32_t level, const char *text)
{
    rec *r = state;
    (void)level;
    if (strstr(text, "connected"))
        add(r, "log(connected)");
    if (r->log_in_log)
        r->api->log(r->api, LMQ_LOG_WARNING, "from the log hook");
}

static void rec_tick(void *state, int64_t now)
{
    rec *r = state;
    (void)now;
    r->ticks++;
}

static void rec_app_event(void *state, const char *name, int32_t len, int64_t value)
{
    char what[64];
    snprintf(what, sizeof what, "ev(%.*s=%lld)", (int)len, name, (long long)value);
    add(state, what);
}

static const lmq_plugin rec_plugin = {
    .abi_version = LMQ_PLUGIN_ABI_VERSION,
    .struct_size = sizeof(lmq_plugin),
    .name = "rec",
    .version = "1",
    .init = rec_init,
    .shutdown = rec_shutdown,
    .on_connect = rec_connect,
    .on_connack = rec_connack,
    .on_message_in = rec_in,
    .on_publish_out = rec_out,
    .on_disconnect = rec_disconnect,
    .on_log = rec_log,
    .on_tick = rec_tick,
    .on_app_event = rec_app_event,
};

static void rec_init_struct(rec *r, char name)
{
    memset(r, 0, sizeof *r);
    r->name = name;
    r->qos = -1;
}

static int load(fx *f, rec *r)
{
    char cfg[64];
    snprintf(cfg, sizeof cfg, "rec=%p", (void *)r);
    return lmq_plugin_session_add(f->s, &rec_plugin, cfg, "rec.so");
}

static void setup(fx *f, int level, rec *a, rec *b)
{
    trace[0] = '\0';
    fx_init(f, level);
    if (a)
        CHECK_INT(load(f, a), 0);
    if (b)
        CHECK_INT(load(f, b), 0);
}

/* An event of a type with a text containing `needle`. */
static int has_log(fx *f, const char *needle)
{
    for (int i = 0; i < f->nev; i++)
        if (f->ev[i].type == LMQ_EV_LOG && f->ev[i].text && strstr(f->ev[i].text, needle))
            return 1;
    return 0;
}

/* ------------------------------------------------------------------ tests */

static void test_without_plugins_the_session_has_no_chain(void)
{
    fx f;
    fx_init(&f, 5);
    CHECK(f.s->plugins == NULL);
    /* A refused load leaves it so: the hook points stay a NULL test. */
    static const lmq_plugin bad = { .abi_version = 2u << 16, .struct_size = sizeof bad,
                                    .name = "bad", .init = rec_init };
    CHECK_INT(lmq_plugin_session_add(f.s, &bad, "", "bad.so"), LMQ_EPLUGIN_ABI);
    CHECK(f.s->plugins == NULL);
    fx_connect(&f, 0);
    CHECK(fx_pub(&f, "t", "x", 0) > 0);
    fx_free(&f);
}

static void test_every_hook_fires_in_order_with_the_right_data(void)
{
    fx f;
    rec a;
    rec_init_struct(&a, 'A');
    setup(&f, 5, &a, NULL);
    CHECK_INT(lmq_session_set_int(f.s, LMQ_OPT_LOG_LEVEL, LMQ_LOG_INFO), 0);
    CHECK_INT(lmq_session_set_int(f.s, LMQ_OPT_KEEPALIVE, 30), 0);
    fx_connect(&f, 0);
    CHECK_INT(a.conn[0].protocol, 5);
    CHECK_INT(a.conn[0].keepalive, 30);
    CHECK_INT(a.conn[0].clean_start, 1);
    CHECK_INT(a.conn[1].reason, 0);
    CHECK_INT(a.conn[1].session_present, 0);

    lmq_packet in = fx_publish("in/t", "hello", 1, 7);
    in.u.publish.retain = 1;
    CHECK_INT(fx_feed(&f, &in), 0);
    CHECK(strcmp(a.seen, "in/t|hello|1|1|in") == 0);
    CHECK(fx_pub(&f, "out/t", "bye", 1) > 0);
    CHECK(strcmp(a.seen, "out/t|bye|1|0|out") == 0);
    lmq_session_lost(f.s, f.now, LMQ_EIO);
    CHECK_INT(a.conn[2].error, LMQ_EIO);
    CHECK(strcmp(trace, "A:connect(c1) A:connack A:log(connected) A:in A:out "
                        "A:disconnect ") == 0);
    fx_free(&f);
    CHECK_INT(a.shutdowns, 1);
}

static void test_refused_connack_and_server_disconnect_reach_the_hooks(void)
{
    fx f;
    rec a;
    rec_init_struct(&a, 'A');
    setup(&f, 5, &a, NULL);
    CHECK_INT(lmq_session_start(f.s, f.now), 0);
    lmq_packet ca = fx_connack(0, 0x87);
    fx_feed(&f, &ca);
    CHECK_INT(a.conn[1].reason, 0x87);
    CHECK_INT(a.conn[2].error, LMQ_EREFUSED);
    CHECK_INT(a.conn[2].reason, 0x87);
    lmq_session_lost(f.s, f.now, 0);
    fx_skip_all(&f);

    fx_connect(&f, 0);
    lmq_packet d;
    memset(&d, 0, sizeof d);
    d.type = LMQ_DISCONNECT;
    d.u.disconnect.reason = 0x8B;       /* server shutting down */
    fx_feed(&f, &d);
    CHECK_INT(a.conn[2].error, LMQ_EDISCONNECTED);
    CHECK_INT(a.conn[2].reason, 0x8B);
    fx_free(&f);
}

static void test_message_in_is_modified_before_delivery(void)
{
    fx f;
    rec a;
    rec_init_struct(&a, 'A');
    a.topic = "new/topic";
    a.payload = "changed";
    setup(&f, 5, &a, NULL);
    fx_connect(&f, 0);
    lmq_packet in = fx_publish("t", "x", 1, 3);
    CHECK_INT(fx_feed(&f, &in), 0);
    CHECK_INT(fx_next(&f), LMQ_PUBACK);         /* acked as usual [MQTT-4.3.2-4] */
    CHECK_INT(f.pkt.u.ack.packet_id, 3);
    fx_events(&f);
    const lmq_event *ev = fx_find(&f, LMQ_EV_MESSAGE);
    CHECK(ev && ev->topic_len == 9 && !memcmp(ev->topic, "new/topic", 9));
    CHECK(ev && ev->payload_len == 7 && !memcmp(ev->payload, "changed", 7));
    fx_free(&f);
}

static void test_dropped_message_in_is_acked_with_the_plugins_reason(void)
{
    fx f;
    rec a, b;
    rec_init_struct(&a, 'A');
    rec_init_struct(&b, 'B');
    a.drop_in = 1;
    a.reason = 0x87;
    setup(&f, 5, &a, &b);
    CHECK_INT(lmq_session_set_int(f.s, LMQ_OPT_LOG_LEVEL, LMQ_LOG_INFO), 0);
    fx_connect(&f, 0);
    trace[0] = '\0';
    lmq_packet in = fx_publish("t", "x", 1, 5);
    CHECK_INT(fx_feed(&f, &in), 0);
    CHECK(strcmp(trace, "A:in ") == 0);         /* the drop stopped the chain */
    CHECK_INT(fx_next(&f), LMQ_PUBACK);
    CHECK_INT(f.pkt.u.ack.packet_id, 5);
    CHECK_INT(f.pkt.u.ack.reason, 0x87);
    fx_events(&f);
    CHECK(fx_find(&f, LMQ_EV_MESSAGE) == NULL);
    CHECK(has_log(&f, "plugin rec dropped the incoming message on 't'"));

    /* QoS 0: nothing to ack, nothing delivered. */
    lmq_packet q0 = fx_publish("t", "x", 0, 0);
    CHECK_INT(fx_feed(&f, &q0), 0);
    CHECK_INT(fx_next(&f), 0);
    fx_events(&f);
    CHECK(fx_find(&f, LMQ_EV_MESSAGE) == NULL);
    fx_free(&f);
}

static void test_dropped_qos2_message_in_completes_its_flow(void)
{
    fx f;
    rec a;
    rec_init_struct(&a, 'A');
    a.drop_in = 1;
    setup(&f, 5, &a, NULL);
    fx_connect(&f, 0);
    lmq_packet in = fx_publish("t", "x", 2, 9);
    CHECK_INT(fx_feed(&f, &in), 0);
    CHECK_INT(fx_next(&f), LMQ_PUBREC);         /* [MQTT-4.3.3-8] */
    CHECK_INT(f.pkt.u.ack.reason, 0);
    /* The server's resend is answered, not run through the chain again. */
    a.drop_in = 0;
    in.u.publish.dup = 1;
    CHECK_INT(fx_feed(&f, &in), 0);
    CHECK_INT(fx_next(&f), LMQ_PUBREC);
    lmq_packet rel = fx_ack(LMQ_PUBREL, 9, 0);
    CHECK_INT(fx_feed(&f, &rel), 0);
    CHECK_INT(fx_next(&f), LMQ_PUBCOMP);        /* [MQTT-4.3.3-11] */
    CHECK_INT(f.pkt.u.ack.reason, 0);
    fx_events(&f);
    CHECK(fx_find(&f, LMQ_EV_MESSAGE) == NULL);
    CHECK(strcmp(trace, "A:connect(c1) A:connack A:in ") == 0);
    fx_free(&f);
}

static void test_drop_with_manual_ack_is_acked_by_the_engine(void)
{
    fx f;
    rec a;
    rec_init_struct(&a, 'A');
    a.drop_in = 1;
    setup(&f, 4, &a, NULL);
    CHECK_INT(lmq_session_set_int(f.s, LMQ_OPT_MANUAL_ACK, 1), 0);
    fx_connect(&f, 0);
    lmq_packet in = fx_publish("t", "x", 1, 4);
    CHECK_INT(fx_feed(&f, &in), 0);
    CHECK_INT(fx_next(&f), LMQ_PUBACK);
    lmq_session_stats st;
    lmq_session_stats_get(f.s, &st);
    CHECK_INT(st.inflight_in, 0);
    fx_free(&f);
}

static void test_publish_out_is_modified_before_it_is_sent(void)
{
    fx f;
    rec a;
    rec_init_struct(&a, 'A');
    a.topic = "re/routed";
    a.payload = "PAYLOAD";
    a.qos = 1;
    setup(&f, 5, &a, NULL);
    fx_connect(&f, 0);
    CHECK(fx_pub(&f, "t", "p", 0) > 0);
    CHECK_INT(fx_next(&f), LMQ_PUBLISH);
    CHECK_INT(f.pkt.u.publish.qos, 1);
    CHECK(f.pkt.u.publish.topic.n == 9 && !memcmp(f.pkt.u.publish.topic.p, "re/routed", 9));
    CHECK(f.pkt.u.publish.payload.n == 7 && !memcmp(f.pkt.u.publish.payload.p, "PAYLOAD", 7));
    fx_free(&f);
}

static void test_publish_out_with_an_invalid_change_is_refused(void)
{
    fx f;
    rec a;
    rec_init_struct(&a, 'A');
    a.qos = 2;
    setup(&f, 5, &a, NULL);
    lmq_packet ca = fx_connack(0, 0);
    ca.u.connack.props.maximum_qos = 1;
    lmq_props_set(&ca.u.connack.props, LMQ_PROP_MAXIMUM_QOS);
    fx_connect_with(&f, &ca);
    /* The change goes through the same checks as the caller's arguments. */
    CHECK_INT(fx_pub(&f, "t", "p", 0), LMQ_EQOS_NOT_SUPPORTED);
    CHECK_INT(fx_next(&f), 0);
    fx_free(&f);
}

static void test_dropped_publish_out_is_refused_and_never_sent(void)
{
    fx f;
    rec a, b;
    rec_init_struct(&a, 'A');
    rec_init_struct(&b, 'B');
    a.drop_out = 1;
    setup(&f, 5, &a, &b);
    fx_connect(&f, 0);
    trace[0] = '\0';
    CHECK_INT(fx_pub(&f, "t", "p", 1), LMQ_EPLUGIN_DROP);
    CHECK(strcmp(trace, "A:out ") == 0);
    CHECK_INT(fx_next(&f), 0);
    lmq_session_stats st;
    lmq_session_stats_get(f.s, &st);
    CHECK_INT(st.inflight_out, 0);
    fx_free(&f);
}

static void test_chain_runs_in_load_order_and_sees_earlier_changes(void)
{
    fx f;
    rec a, b;
    rec_init_struct(&a, 'A');
    rec_init_struct(&b, 'B');
    a.payload = "from A";
    setup(&f, 5, &a, &b);
    fx_connect(&f, 0);
    trace[0] = '\0';
    lmq_packet in = fx_publish("t", "x", 0, 0);
    CHECK_INT(fx_feed(&f, &in), 0);
    CHECK(strcmp(b.seen, "t|from A|0|0|in") == 0);
    CHECK(fx_pub(&f, "o", "y", 0) > 0);
    CHECK(strcmp(b.seen, "o|from A|0|0|out") == 0);
    CHECK(strcmp(trace, "A:in B:in A:out B:out ") == 0);
    fx_free(&f);
    /* Shut down in reverse load order. */
    CHECK(strstr(trace, "B:shutdown A:shutdown") != NULL);
}

static void test_publish_out_shows_the_properties(void)
{
    fx f;
    rec a;
    rec_init_struct(&a, 'A');
    setup(&f, 5, &a, NULL);
    fx_connect(&f, 0);
    lmq_proplist *pl = lmq_proplist_new();
    lmq_proplist_add_user(pl, "k", 1, "v", 1);
    lmq_proplist_add_str(pl, LMQ_PROP_CONTENT_TYPE, "text/plain", -1);
    CHECK(lmq_session_publish(f.s, (const uint8_t *)"t", 1, (const uint8_t *)"x", 1, 0, 0,
                              pl, f.now) > 0);
    CHECK(strcmp(a.seen_props, "k=v text/plain") == 0);
    lmq_proplist_free(pl);
    fx_free(&f);
}

static void test_tick_runs_every_interval_connected_or_not(void)
{
    fx f;
    rec a;
    rec_init_struct(&a, 'A');
    a.tick_ms = 100;
    setup(&f, 5, &a, NULL);
    CHECK_INT(lmq_session_set_int(f.s, LMQ_OPT_KEEPALIVE, 0), 0);
    /* ABI 1.1: offline too (the client ticks the chain while it waits to
     * reconnect).  The first call schedules the interval from now. */
    CHECK(lmq_session_deadline(f.s) <= f.now);
    CHECK_INT(lmq_session_tick(f.s, f.now), 0);
    CHECK_INT(lmq_session_deadline(f.s), f.now + 100);
    f.now += 100;
    CHECK_INT(lmq_session_tick(f.s, f.now), 0);
    CHECK_INT(a.ticks, 1);                      /* while offline */
    fx_connect(&f, 0);
    CHECK_INT(lmq_session_deadline(f.s), f.now + 100);
    f.now += 99;
    CHECK_INT(lmq_session_tick(f.s, f.now), 0);
    CHECK_INT(a.ticks, 1);
    f.now += 1;
    CHECK_INT(lmq_session_tick(f.s, f.now), 0);
    CHECK_INT(a.ticks, 2);
    CHECK_INT(lmq_session_deadline(f.s), f.now + 100);
    fx_free(&f);
}

static void test_log_hook_that_logs_is_not_reentered(void)
{
    fx f;
    rec a;
    rec_init_struct(&a, 'A');
    a.log_in_log = 1;
    setup(&f, 5, &a, NULL);
    CHECK_INT(lmq_session_set_int(f.s, LMQ_OPT_LOG_LEVEL, LMQ_LOG_INFO), 0);
    fx_connect(&f, 0);
    /* Each engine line gave one plugin line, which went to the log only. */
    int engine = 0, plugin = 0;
    for (int i = 0; i < f.nev; i++) {
        if (f.ev[i].type != LMQ_EV_LOG)
            continue;
        if (strstr(f.ev[i].text, "[rec] from the log hook"))
            plugin++;
        else
            engine++;
    }
    CHECK(engine > 0);
    CHECK_INT(plugin, engine);
    fx_free(&f);
}

static void test_abi_major_mismatch_is_refused_naming_the_plugin(void)
{
    fx f;
    fx_init(&f, 5);
    lmq_plugin d = rec_plugin;
    d.abi_version = (2u << 16) | 0;
    CHECK_INT(lmq_plugin_session_add(f.s, &d, "", "/x/future.so"), LMQ_EPLUGIN_ABI);
    CHECK(strstr(lmq_session_errmsg(f.s), "/x/future.so") != NULL);
    CHECK(strstr(lmq_session_errmsg(f.s), "ABI 2.0") != NULL);
    /* A newer minor of the same major loads. */
    rec a;
    rec_init_struct(&a, 'A');
    char cfg[64];
    snprintf(cfg, sizeof cfg, "rec=%p", (void *)&a);
    d.abi_version = (LMQ_PLUGIN_ABI_MAJOR << 16) | 7;
    CHECK_INT(lmq_plugin_session_add(f.s, &d, cfg, "minor.so"), 0);
    fx_free(&f);
}

static void test_incomplete_descriptor_is_refused(void)
{
    fx f;
    fx_init(&f, 5);
    lmq_plugin d = rec_plugin;
    d.name = NULL;
    CHECK_INT(lmq_plugin_session_add(f.s, &d, "", "noname.so"), LMQ_EPLUGIN_ABI);
    d = rec_plugin;
    d.struct_size = 8;
    CHECK_INT(lmq_plugin_session_add(f.s, &d, "", "tiny.so"), LMQ_EPLUGIN_ABI);
    CHECK(strstr(lmq_session_errmsg(f.s), "tiny.so") != NULL);
    fx_free(&f);
}

static void test_init_failure_is_reported_with_the_plugins_reason(void)
{
    fx f;
    fx_init(&f, 5);
    CHECK_INT(lmq_plugin_session_add(f.s, &rec_plugin, "nonsense", "rec.so"),
              LMQ_EPLUGIN_INIT);
    CHECK(strstr(lmq_session_errmsg(f.s), "rec.so (rec): init failed: config needs rec=") !=
          NULL);
    CHECK(f.s->plugins == NULL);
    fx_free(&f);
}

static void test_older_plugin_without_later_hooks_still_loads(void)
{
    fx f;
    rec a;
    rec_init_struct(&a, 'A');
    lmq_plugin d = rec_plugin;
    /* Built against a header that ended before on_message_in: the engine
     * must not read the hooks past its struct_size. */
    d.struct_size = offsetof(lmq_plugin, on_message_in);
    char cfg[64];
    snprintf(cfg, sizeof cfg, "rec=%p", (void *)&a);
    trace[0] = '\0';
    fx_init(&f, 5);
    CHECK_INT(lmq_plugin_session_add(f.s, &d, cfg, "old.so"), 0);
    fx_connect(&f, 0);
    lmq_packet in = fx_publish("t", "x", 0, 0);
    CHECK_INT(fx_feed(&f, &in), 0);
    CHECK(fx_pub(&f, "t", "x", 0) > 0);
    CHECK(strcmp(trace, "A:connect(c1) A:connack ") == 0);
    fx_free(&f);
}

static void test_msg_setters_refuse_what_they_must(void)
{
    fx f;
    rec a;
    rec_init_struct(&a, 'A');
    setup(&f, 5, &a, NULL);
    lmq_plugin_msg m;
    memset(&m, 0, sizeof m);
    /* Outside a hook run the message is not the chain's. */
    CHECK_INT(a.api->msg_set_topic(a.api, &m, "t", 1), LMQ_EINVAL);
    CHECK_INT(a.api->set_tick(a.api, -1), LMQ_EINVAL);
    CHECK(strcmp(a.api->prop_name(LMQ_PROP_CONTENT_TYPE), "Content Type") == 0);
    CHECK(a.api->prop_name(0x7F) == NULL);
    CHECK_INT(a.api->topic_matches("a/+", 3, "a/b", 3), 1);
    CHECK_INT(a.api->engine_version(a.api), lmq_version_number());
    fx_free(&f);
}

/* ------------------------------------------------------ publish completion */

static char done_seen[256];

static void done_hook(void *state, const lmq_plugin_done *d)
{
    (void)state;
    size_t n = strlen(done_seen);
    snprintf(done_seen + n, sizeof done_seen - n, "%d:%.*s:q%d:e%d:r%d ", (int)d->msg_id,
             (int)d->topic_len, d->topic, (int)d->qos, (int)d->error, (int)d->reason);
}

static int done_init(const lmq_plugin_api *api, const char *config, void **state)
{
    (void)api;
    (void)config;
    *state = NULL;
    return 0;
}

static void test_publish_done_reports_each_completion_and_failure(void)
{
    static const lmq_plugin d = { .abi_version = LMQ_PLUGIN_ABI_VERSION,
                                  .struct_size = sizeof d, .name = "done",
                                  .init = done_init, .on_publish_done = done_hook };
    fx f;
    fx_init(&f, 5);
    done_seen[0] = '\0';
    CHECK_INT(lmq_plugin_session_add(f.s, &d, "", "done.so"), 0);
    fx_connect(&f, 0);
    int a = fx_pub(&f, "t/0", "x", 0);     /* complete when written */
    int b = fx_pub(&f, "t/1", "x", 1);
    int c = fx_pub(&f, "t/2", "x", 1);
    fx_skip_all(&f);
    lmq_packet ok = fx_ack(LMQ_PUBACK, 1, 0);
    lmq_packet no = fx_ack(LMQ_PUBACK, 2, 0x87);
    CHECK_INT(fx_feed(&f, &no), 0);
    CHECK_INT(fx_feed(&f, &ok), 0);
    char want[160];
    snprintf(want, sizeof want, "%d:t/0:q0:e0:r0 %d:t/2:q1:e%d:r%d %d:t/1:q1:e0:r0 ", a, c,
             LMQ_EREJECTED, 0x87, b);
    CHECK(strcmp(done_seen, want) == 0);
    fx_free(&f);
}

/* ------------------------------------------------------------- subscribe */

static char sub_seen[128];

static int sub_hook(void *state, const lmq_plugin_sub *subs, int32_t n)
{
    (void)state;
    sub_seen[0] = '\0';
    for (int32_t i = 0; i < n; i++) {
        size_t k = strlen(sub_seen);
        snprintf(sub_seen + k, sizeof sub_seen - k, "%.*s/o%d ", (int)subs[i].filter_len,
                 subs[i].filter, (int)subs[i].options);
        if (subs[i].filter_len >= 7 && !memcmp(subs[i].filter, "secret/", 7))
            return LMQ_PLUGIN_DROP;
    }
    return LMQ_PLUGIN_CONTINUE;
}

static void test_subscribe_hook_sees_the_filters_and_may_deny(void)
{
    static const lmq_plugin d = { .abi_version = LMQ_PLUGIN_ABI_VERSION,
                                  .struct_size = sizeof d, .name = "subs",
                                  .init = done_init, .on_subscribe = sub_hook };
    fx f;
    fx_init(&f, 5);
    CHECK_INT(lmq_session_set_int(f.s, LMQ_OPT_LOG_LEVEL, LMQ_LOG_INFO), 0);
    CHECK_INT(lmq_plugin_session_add(f.s, &d, "", "subs.so"), 0);
    fx_connect(&f, 0);
    lmq_subscription ok[2] = { { "a/+", -1, 1 }, { "b/#", 3, 2 | 4 } };
    CHECK(lmq_session_subscribe(f.s, ok, 2, NULL, f.now) > 0);
    CHECK(strcmp(sub_seen, "a/+/o1 b/#/o6 ") == 0);
    CHECK_INT(fx_next(&f), LMQ_SUBSCRIBE);
    lmq_subscription no[2] = { { "c", -1, 0 }, { "secret/x", -1, 0 } };
    CHECK_INT(lmq_session_subscribe(f.s, no, 2, NULL, f.now), LMQ_EPLUGIN_DROP);
    CHECK_INT(fx_next(&f), 0);                  /* nothing sent */
    fx_events(&f);
    int logged = 0;
    for (int i = 0; i < f.nev; i++)
        logged |= f.ev[i].type == LMQ_EV_LOG &&
                  strstr(f.ev[i].text, "plugin subs denied the subscription to 'c' and more");
    CHECK(logged);
    fx_free(&f);
}

/* ---------------------------------------------------------- ABI 1.1 hooks */

/* One plugin with every 1.1 hook; what each does is set per test. */
typedef struct p11 {
    char name;
    const lmq_plugin_api *api;
    int refuse_connect;         /* on_connect_send returns DROP */
    const char *user, *pass;    /* set these for the connection */
    int add_props;              /* add a user property and session expiry */
    int rc_prop_v3;             /* what conn_add_prop_int returned (3.1.1) */
    const char *auth_answer;    /* auth_reply with this, when not NULL */
    char auth_seen[64];         /* "method|data" of the challenge */
    const char *prefix;         /* on_subscribe: prefix every filter */
    int rc_bad_filter;          /* what sub_set_filter("a/#/b") returned */
    char subs_seen[128];
    char suback_seen[128];
    int attempts[4];
    int64_t delays[4];
    int n_reconnect;
    int64_t queued;             /* api->stat(OFFLINE_MSGS) at connect_send */
} p11;

static const lmq_plugin_api *any_api;  /* to read raw property blocks */

static p11 *p11_of(void *state)
{
    return state;
}

static int p11_init(const lmq_plugin_api *api, const char *config, void **state)
{
    p11 *p = NULL;
    if (sscanf(config, "p=%p", (void **)&p) != 1 || !p)
        return -1;
    p->api = api;
    any_api = api;
    *state = p;
    return 0;
}

static int p11_connect_send(void *state, lmq_plugin_conn *conn)
{
    p11 *p = p11_of(state);
    add(&(rec){ .name = p->name }, "connect_send");
    p->queued = p->api->stat(p->api, LMQ_PLUGIN_STAT_OFFLINE_MSGS);
    if (p->user)
        CHECK_INT(p->api->conn_set_user(p->api, conn, p->user, -1), 0);
    if (p->pass)
        CHECK_INT(p->api->conn_set_password(p->api, conn, p->pass, (int32_t)strlen(p->pass)),
                  0);
    if (p->add_props && conn->protocol == 5) {
        CHECK_INT(p->api->conn_add_user_prop(p->api, conn, "token-src", -1, p->name == 'A'
                                             ? "vault" : "file", -1), 0);
        if (p->name == 'A')
            CHECK_INT(p->api->conn_add_prop_int(p->api, conn, LMQ_PROP_SESSION_EXPIRY, 600),
                      0);
        /* Not a CONNECT property. */
        CHECK_INT(p->api->conn_add_prop_int(p->api, conn, LMQ_PROP_TOPIC_ALIAS, 3),
                  LMQ_EINVAL);
    } else if (p->add_props) {
        p->rc_prop_v3 = p->api->conn_add_prop_int(p->api, conn, LMQ_PROP_SESSION_EXPIRY, 1);
    }
    return p->refuse_connect ? LMQ_PLUGIN_DROP : LMQ_PLUGIN_CONTINUE;
}

static void p11_connect(void *state, const lmq_plugin_conn *conn)
{
    p11 *p = p11_of(state);
    (void)conn;
    add(&(rec){ .name = p->name }, "connect");
}

static int p11_auth(void *state, const lmq_plugin_auth *au)
{
    p11 *p = p11_of(state);
    add(&(rec){ .name = p->name }, "auth");
    snprintf(p->auth_seen, sizeof p->auth_seen, "%.*s|%.*s", (int)au->method_len, au->method,
             (int)au->data_len, (const char *)au->data);
    if (p->auth_answer)
        CHECK_INT(p->api->auth_reply(p->api, au, p->auth_answer,
                                     (int32_t)strlen(p->auth_answer)), 0);
    return LMQ_PLUGIN_CONTINUE;
}

static int p11_subscribe(void *state, const lmq_plugin_sub *subs, int32_t n)
{
    p11 *p = p11_of(state);
    char buf[128];
    p->subs_seen[0] = '\0';
    for (int32_t i = 0; i < n; i++) {
        size_t k = strlen(p->subs_seen);
        snprintf(p->subs_seen + k, sizeof p->subs_seen - k, "%.*s ", (int)subs[i].filter_len,
                 subs[i].filter);
        if (!p->prefix)
            continue;
        p->rc_bad_filter = p->api->sub_set_filter(p->api, &subs[i], "a/#/b", -1);
        snprintf(buf, sizeof buf, "%s%.*s", p->prefix, (int)subs[i].filter_len, subs[i].filter);
        CHECK_INT(p->api->sub_set_filter(p->api, &subs[i], buf, -1), 0);
        CHECK_INT(p->api->sub_set_options(p->api, &subs[i], 3), LMQ_EINVAL);   /* QoS 3 */
        CHECK_INT(p->api->sub_set_options(p->api, &subs[i], 0), 0);
    }
    return LMQ_PLUGIN_CONTINUE;
}

static void p11_subscribed(void *state, const lmq_plugin_suback *ack)
{
    p11 *p = p11_of(state);
    size_t k = 0;
    k += (size_t)snprintf(p->suback_seen, sizeof p->suback_seen, "%d:", (int)ack->msg_id);
    for (int32_t i = 0; i < ack->n && k < sizeof p->suback_seen; i++)
        k += (size_t)snprintf(p->suback_seen + k, sizeof p->suback_seen - k, " %.*s=0x%02x",
                              (int)ack->subs[i].filter_len, ack->subs[i].filter,
                              ack->reasons[i]);
}

static void p11_reconnect(void *state, int32_t attempt, int64_t delay)
{
    p11 *p = p11_of(state);
    if (p->n_reconnect < 4) {
        p->attempts[p->n_reconnect] = attempt;
        p->delays[p->n_reconnect] = delay;
    }
    p->n_reconnect++;
}

static const lmq_plugin p11_plugin = {
    .abi_version = LMQ_PLUGIN_ABI_VERSION,
    .struct_size = sizeof(lmq_plugin),
    .name = "p11",
    .version = "1",
    .init = p11_init,
    .on_connect = p11_connect,
    .on_subscribe = p11_subscribe,
    .on_connect_send = p11_connect_send,
    .on_auth = p11_auth,
    .on_subscribed = p11_subscribed,
    .on_reconnect = p11_reconnect,
};

static void p11_setup(fx *f, int level, p11 *a, p11 *b)
{
    char cfg[64];
    trace[0] = '\0';
    fx_init(f, level);
    CHECK_INT(lmq_session_set_int(f->s, LMQ_OPT_LOG_LEVEL, LMQ_LOG_INFO), 0);
    p11 *both[2] = { a, b };
    for (int i = 0; i < 2; i++) {
        if (!both[i])
            continue;
        snprintf(cfg, sizeof cfg, "p=%p", (void *)both[i]);
        CHECK_INT(lmq_plugin_session_add(f->s, &p11_plugin, cfg, "p11.so"), 0);
    }
}

static void p11_new(p11 *p, char name)
{
    memset(p, 0, sizeof *p);
    p->name = name;
}

/* A decoded packet's user properties are in its raw block. */

static int has_user_prop(const lmq_props *pr, const char *k, const char *v)
{
    const char *key, *val;
    int32_t kl, vl;
    for (int32_t i = 0; any_api->prop_user(pr->raw.p, (int32_t)pr->raw.n, i, &key, &kl, &val,
                                           &vl) == 1; i++)
        if ((size_t)kl == strlen(k) && !memcmp(key, k, (size_t)kl) && (size_t)vl == strlen(v) &&
            !memcmp(val, v, (size_t)vl))
            return 1;
    return 0;
}

static void test_connect_send_sets_credentials_and_adds_properties(void)
{
    fx f;
    p11 a, b;
    p11_new(&a, 'A');
    p11_new(&b, 'B');
    a.user = "alice";
    a.pass = "token-1";
    a.add_props = b.add_props = 1;
    b.pass = "token-2";                 /* the later plugin wins */
    p11_setup(&f, 5, &a, &b);
    CHECK_INT(lmq_session_set_str(f.s, LMQ_OPT_USERNAME, (const uint8_t *)"configured", 10), 0);
    lmq_proplist *pl = lmq_proplist_new();
    CHECK_INT(lmq_proplist_add_user(pl, "app", -1, "x", -1), 0);
    CHECK_INT(lmq_session_set_props(f.s, LMQ_PROPS_CONNECT, pl), 0);
    lmq_proplist_free(pl);
    CHECK(fx_pub(&f, "q", "queued", 1) > 0);    /* offline: queued */
    CHECK_INT(lmq_session_start(f.s, f.now), 0);
    CHECK_INT(fx_next(&f), LMQ_CONNECT);
    const lmq_connect *c = &f.pkt.u.connect;
    CHECK(c->username.n == 5 && !memcmp(c->username.p, "alice", 5));
    CHECK(c->password.n == 7 && !memcmp(c->password.p, "token-2", 7));
    CHECK(has_user_prop(&c->props, "app", "x"));             /* configured ones kept */
    CHECK(has_user_prop(&c->props, "token-src", "vault"));
    CHECK(has_user_prop(&c->props, "token-src", "file"));
    CHECK(lmq_props_has(&c->props, LMQ_PROP_SESSION_EXPIRY) && c->props.session_expiry == 600);
    /* In chain order, before the CONNECT observers. */
    CHECK(strcmp(trace, "A:connect_send B:connect_send A:connect B:connect ") == 0);
    CHECK_INT(a.queued, 1);

    /* Nothing they set is kept: the next attempt starts from the options. */
    a.user = NULL;
    a.pass = b.pass = NULL;
    a.add_props = b.add_props = 0;
    fx_reconnect(&f);
    CHECK_INT(lmq_session_start(f.s, f.now), 0);
    CHECK_INT(fx_next(&f), LMQ_CONNECT);
    CHECK(c->username.n == 10 && !memcmp(c->username.p, "configured", 10));
    CHECK(c->password.p == NULL);
    CHECK(has_user_prop(&c->props, "app", "x"));
    CHECK(!has_user_prop(&c->props, "token-src", "vault"));
    CHECK(!lmq_props_has(&c->props, LMQ_PROP_SESSION_EXPIRY));
    fx_free(&f);
}

static void test_connect_send_may_abandon_the_attempt(void)
{
    fx f;
    p11 a, b;
    p11_new(&a, 'A');
    p11_new(&b, 'B');
    a.refuse_connect = 1;
    p11_setup(&f, 4, &a, &b);
    b.add_props = 1;
    CHECK_INT(lmq_session_start(f.s, f.now), LMQ_EPLUGIN_REFUSED);
    CHECK_INT(fx_next(&f), 0);                  /* no CONNECT went */
    CHECK(strcmp(trace, "A:connect_send ") == 0);   /* the chain stopped */
    fx_events(&f);
    CHECK(has_log(&f, "plugin p11 abandoned the connection attempt"));
    /* 3.1.1 has no properties to add. */
    a.refuse_connect = 0;
    lmq_session_lost(f.s, f.now, LMQ_EPLUGIN_REFUSED);
    CHECK_INT(lmq_session_start(f.s, f.now), 0);
    CHECK_INT(fx_next(&f), LMQ_CONNECT);
    CHECK_INT(b.rc_prop_v3, LMQ_EVERSION);
    fx_free(&f);
}

/* AUTH 0x18 from the server, method SCRAM, with data. */
static lmq_packet auth_challenge(const char *data)
{
    lmq_packet p;
    memset(&p, 0, sizeof p);
    p.type = LMQ_AUTH;
    p.u.disconnect.reason = 0x18;
    p.u.disconnect.props.auth_method = (lmq_slice){ (const uint8_t *)"SCRAM", 5 };
    lmq_props_set(&p.u.disconnect.props, LMQ_PROP_AUTH_METHOD);
    p.u.disconnect.props.auth_data = (lmq_slice){ (const uint8_t *)data, (uint32_t)strlen(data) };
    lmq_props_set(&p.u.disconnect.props, LMQ_PROP_AUTH_DATA);
    return p;
}

static void test_auth_challenge_is_answered_by_a_plugin(void)
{
    fx f;
    p11 a, b;
    p11_new(&a, 'A');
    p11_new(&b, 'B');
    a.auth_answer = "client-proof";
    b.auth_answer = "never";            /* the chain stopped at A */
    p11_setup(&f, 5, &a, &b);
    CHECK_INT(lmq_session_set_str(f.s, LMQ_OPT_AUTH_METHOD, (const uint8_t *)"SCRAM", 5), 0);
    CHECK_INT(lmq_session_start(f.s, f.now), 0);
    CHECK_INT(fx_next(&f), LMQ_CONNECT);
    fx_events(&f);
    trace[0] = '\0';
    lmq_packet ch = auth_challenge("server-nonce");
    CHECK_INT(fx_feed(&f, &ch), 0);
    CHECK(strcmp(a.auth_seen, "SCRAM|server-nonce") == 0);
    CHECK(strcmp(trace, "A:auth ") == 0);
    /* Answered with AUTH 0x18, the same method [MQTT-4.12.0-5], A's data. */
    CHECK_INT(fx_next(&f), LMQ_AUTH);
    CHECK_INT(f.pkt.u.disconnect.reason, 0x18);
    const lmq_props *pr = &f.pkt.u.disconnect.props;
    CHECK(pr->auth_method.n == 5 && !memcmp(pr->auth_method.p, "SCRAM", 5));
    CHECK(pr->auth_data.n == 12 && !memcmp(pr->auth_data.p, "client-proof", 12));
    fx_events(&f);
    CHECK(fx_find(&f, LMQ_EV_AUTH) == NULL);    /* the application is not asked */
    lmq_packet ca = fx_connack(0, 0);
    CHECK_INT(fx_feed(&f, &ca), 0);
    CHECK_INT(lmq_session_state(f.s), LMQ_SS_CONNECTED);
    fx_free(&f);

    /* No plugin answers: the application gets the challenge as before. */
    p11_new(&a, 'A');
    p11_setup(&f, 5, &a, NULL);
    CHECK_INT(lmq_session_set_str(f.s, LMQ_OPT_AUTH_METHOD, (const uint8_t *)"SCRAM", 5), 0);
    CHECK_INT(lmq_session_start(f.s, f.now), 0);
    CHECK_INT(fx_next(&f), LMQ_CONNECT);
    ch = auth_challenge("n2");
    CHECK_INT(fx_feed(&f, &ch), 0);
    CHECK(strcmp(a.auth_seen, "SCRAM|n2") == 0);
    CHECK_INT(fx_next(&f), 0);
    fx_events(&f);
    CHECK(fx_find(&f, LMQ_EV_AUTH) != NULL);
    fx_free(&f);
}

static void test_subscribe_hook_rewrites_filters_in_chain_order(void)
{
    fx f;
    p11 a, b;
    p11_new(&a, 'A');
    p11_new(&b, 'B');
    a.prefix = "tenant7/";
    p11_setup(&f, 5, &a, &b);
    fx_connect(&f, 0);
    lmq_subscription subs[2] = { { "a/+", -1, 1 }, { "b/#", -1, 2 } };
    int id = lmq_session_subscribe(f.s, subs, 2, NULL, f.now);
    CHECK(id > 0);
    CHECK_INT(a.rc_bad_filter, LMQ_EFILTER_HASH);    /* "#" not last [MQTT-4.7.1-2] */
    CHECK(strcmp(a.subs_seen, "a/+ b/# ") == 0);
    CHECK(strcmp(b.subs_seen, "tenant7/a/+ tenant7/b/# ") == 0);   /* sees A's change */
    CHECK_INT(fx_next(&f), LMQ_SUBSCRIBE);
    /* What went on the wire: the rewritten filters, QoS 0. */
    CHECK_INT(f.pkt.u.subscribe.count, 2);
    lmq_sub_entry e;
    uint32_t pos = 0;
    CHECK(lmq_subs_next(&f.pkt.u.subscribe, LMQ_SUBSCRIBE, &pos, &e) == 1);
    CHECK(e.filter.n == 11 && !memcmp(e.filter.p, "tenant7/a/+", 11) && e.options == 0);
    CHECK(lmq_subs_next(&f.pkt.u.subscribe, LMQ_SUBSCRIBE, &pos, &e) == 1);
    CHECK(e.filter.n == 11 && !memcmp(e.filter.p, "tenant7/b/#", 11) && e.options == 0);

    /* SUBACK: one reason per filter, to the subscribed hook of each. */
    lmq_packet ack;
    memset(&ack, 0, sizeof ack);
    ack.type = LMQ_SUBACK;
    ack.u.suback.packet_id = f.pkt.u.subscribe.packet_id;
    ack.u.suback.reasons = (lmq_slice){ (const uint8_t *)"\x00\x87", 2 };
    CHECK_INT(fx_feed(&f, &ack), 0);
    char want[96];
    snprintf(want, sizeof want, "%d: tenant7/a/+=0x00 tenant7/b/#=0x87", id);
    CHECK(strcmp(a.suback_seen, want) == 0);
    CHECK(strcmp(b.suback_seen, want) == 0);
    fx_events(&f);
    CHECK(fx_find(&f, LMQ_EV_SUBSCRIBED) != NULL);
    fx_free(&f);
}

static void test_api_figures_and_fd_watch_without_a_loop(void)
{
    fx f;
    p11 a;
    p11_new(&a, 'A');
    p11_setup(&f, 5, &a, NULL);
    const lmq_plugin_api *api = a.api;
    CHECK(api->struct_size >= offsetof(lmq_plugin_api, stat) + sizeof api->stat);
    CHECK_INT((int)(api->abi_version & 0xFFFF), 1);
    CHECK_INT(api->stat(api, LMQ_PLUGIN_STAT_CONNECTED), 0);
    CHECK(fx_pub(&f, "t", "x", 1) > 0);
    CHECK(fx_pub(&f, "t", "y", 1) > 0);
    CHECK_INT(api->stat(api, LMQ_PLUGIN_STAT_OFFLINE_MSGS), 2);
    CHECK_INT(api->stat(api, 99), LMQ_EINVAL);
    fx_connect(&f, 0);
    CHECK_INT(api->stat(api, LMQ_PLUGIN_STAT_CONNECTED), 1);
    CHECK_INT(api->stat(api, LMQ_PLUGIN_STAT_OFFLINE_MSGS), 0);
    CHECK_INT(api->stat(api, LMQ_PLUGIN_STAT_INFLIGHT_OUT), 2);
    /* A bare session has no loop: the plugin is told to poll. */
    CHECK_INT(api->watch_fd(api, 0, LMQ_PLUGIN_WATCH_READ, NULL, NULL), LMQ_EINVAL);
    CHECK_INT(api->watch_fd(api, 0, LMQ_PLUGIN_WATCH_READ, (void (*)(void *, int32_t, int32_t))
                            (void (*)(void))p11_of, NULL), LMQ_EPLUGIN_NOLOOP);
    CHECK_INT(api->unwatch_fd(api, 0), LMQ_EINVAL);
    /* Outside their hooks the setters refuse. */
    lmq_plugin_conn conn;
    lmq_plugin_sub sub = { 1, "a", 0 };
    lmq_plugin_auth au;
    memset(&conn, 0, sizeof conn);
    memset(&au, 0, sizeof au);
    CHECK_INT(api->conn_set_user(api, &conn, "u", 1), LMQ_EINVAL);
    CHECK_INT(api->conn_add_prop_int(api, &conn, LMQ_PROP_SESSION_EXPIRY, 1), LMQ_EINVAL);
    CHECK_INT(api->sub_set_filter(api, &sub, "b", 1), LMQ_EINVAL);
    CHECK_INT(api->auth_reply(api, &au, "x", 1), LMQ_EINVAL);
    fx_free(&f);
}

/* A plugin built against ABI 1.0: a smaller descriptor, whatever lies
 * past it (here: hooks that must never run) is not read. */
static int never_connect_send(void *state, lmq_plugin_conn *conn)
{
    (void)state;
    (void)conn;
    CHECK(!"a 1.0 plugin's struct has no on_connect_send");
    return LMQ_PLUGIN_DROP;
}

static void test_plugin_built_for_abi_1_0_still_loads(void)
{
    fx f;
    rec a;
    rec_init_struct(&a, 'A');
    lmq_plugin d = rec_plugin;
    d.abi_version = 1u << 16;                             /* 1.0 */
    d.struct_size = offsetof(lmq_plugin, on_connect_send); /* sizeof as 1.0 had it */
    d.on_connect_send = never_connect_send;
    char cfg[64];
    snprintf(cfg, sizeof cfg, "rec=%p", (void *)&a);
    trace[0] = '\0';
    fx_init(&f, 5);
    CHECK_INT(lmq_plugin_session_add(f.s, &d, cfg, "old10.so"), 0);
    fx_connect(&f, 0);
    lmq_packet in = fx_publish("t", "x", 0, 0);
    CHECK_INT(fx_feed(&f, &in), 0);
    CHECK(strcmp(trace, "A:connect(c1) A:connack A:in ") == 0);
    fx_free(&f);
}

/* Teardown: shutdown runs in reverse load order, and a plugin that logs
 * from its shutdown must not reach the log hook of one already shut down
 * and freed (a dlclosed library, under dlopen). */
static int td_b_shut, td_b_logs_after_shutdown, td_a_logged;

static int td_init(const lmq_plugin_api *api, const char *config, void **state)
{
    (void)config;
    *state = (void *)(uintptr_t)api;
    return 0;
}

static void td_a_shutdown(void *state)
{
    const lmq_plugin_api *api = state;
    api->log(api, LMQ_LOG_INFO, "A shutting down");
    td_a_logged = 1;
}

static void td_b_shutdown(void *state)
{
    (void)state;
    td_b_shut = 1;
}

static void td_b_log(void *state, int32_t level, const char *text)
{
    (void)state;
    (void)level;
    (void)text;
    if (td_b_shut)
        td_b_logs_after_shutdown++;
}

static void test_shutdown_logging_does_not_reach_plugins_already_gone(void)
{
    fx f;
    lmq_plugin a = { .abi_version = LMQ_PLUGIN_ABI_VERSION, .struct_size = sizeof(lmq_plugin),
                     .name = "td-a", .init = td_init, .shutdown = td_a_shutdown };
    lmq_plugin b = { .abi_version = LMQ_PLUGIN_ABI_VERSION, .struct_size = sizeof(lmq_plugin),
                     .name = "td-b", .init = td_init, .shutdown = td_b_shutdown,
                     .on_log = td_b_log };
    fx_init(&f, 5);
    CHECK_INT(lmq_session_set_int(f.s, LMQ_OPT_LOG_LEVEL, LMQ_LOG_DEBUG), 0);
    CHECK_INT(lmq_plugin_session_add(f.s, &a, "", "a.so"), 0);
    CHECK_INT(lmq_plugin_session_add(f.s, &b, "", "b.so"), 0);
    fx_free(&f);                /* B shuts down first, then A logs */
    CHECK(td_b_shut);
    CHECK(td_a_logged);
    CHECK_INT(td_b_logs_after_shutdown, 0);
}

/* A subscribe rewrite is checked as the caller's filters are: 3.1.1 has
 * only the QoS bits (the rest are reserved, 0), and No Local on a shared
 * subscription is a Protocol Error [MQTT-3.8.3-4]. */
static const char *sx_filter;
static int32_t sx_options = -1;

static int sx_init(const lmq_plugin_api *api, const char *config, void **state)
{
    (void)config;
    *state = (void *)(uintptr_t)api;
    return 0;
}

static int sx_subscribe(void *state, const lmq_plugin_sub *subs, int32_t n)
{
    const lmq_plugin_api *api = state;
    for (int32_t i = 0; i < n; i++) {
        if (sx_filter)
            CHECK_INT(api->sub_set_filter(api, &subs[i], sx_filter, -1), 0);
        if (sx_options >= 0)
            CHECK_INT(api->sub_set_options(api, &subs[i], sx_options), 0);
    }
    return LMQ_PLUGIN_CONTINUE;
}

static void test_subscribe_rewrites_are_checked_like_the_callers(void)
{
    fx f;
    lmq_plugin d = { .abi_version = LMQ_PLUGIN_ABI_VERSION, .struct_size = sizeof(lmq_plugin),
                     .name = "sx", .init = sx_init, .on_subscribe = sx_subscribe };
    lmq_subscription sub = { "a/b", -1, 1 };
    lmq_sub_entry e;
    uint32_t pos = 0;

    /* 3.1.1: No Local set by the plugin does not reach the wire. */
    fx_init(&f, 4);
    CHECK_INT(lmq_plugin_session_add(f.s, &d, "", "sx.so"), 0);
    fx_connect(&f, 0);
    sx_filter = NULL;
    sx_options = 0x04 | 1;
    int id = lmq_session_subscribe(f.s, &sub, 1, NULL, f.now);
    if (id <= 0)
        fprintf(stderr, "3.1.1 subscribe: %d %s\n", id, lmq_session_errmsg(f.s));
    CHECK(id > 0);
    CHECK_INT(fx_next(&f), LMQ_SUBSCRIBE);
    CHECK(lmq_subs_next(&f.pkt.u.subscribe, LMQ_SUBSCRIBE, &pos, &e) == 1);
    CHECK_INT(e.options, 1);
    fx_free(&f);

    /* 5: No Local, then the plugin makes the filter a shared one: refused
     * by the call, offline too (not queued to fail at the next CONNECT). */
    fx_init(&f, 5);
    CHECK_INT(lmq_plugin_session_add(f.s, &d, "", "sx.so"), 0);
    sub.options = 0x04 | 1;
    sx_filter = "$share/g/a/b";
    sx_options = -1;
    CHECK_INT(lmq_session_subscribe(f.s, &sub, 1, NULL, f.now), LMQ_EINVAL);
    CHECK(strstr(lmq_session_errmsg(f.s), "plugin") != NULL);
    fx_connect(&f, 0);
    CHECK_INT(lmq_session_subscribe(f.s, &sub, 1, NULL, f.now), LMQ_EINVAL);
    CHECK_INT(fx_next(&f), 0);                  /* nothing went */
    /* Without No Local the shared filter goes. */
    sub.options = 1;
    CHECK(lmq_session_subscribe(f.s, &sub, 1, NULL, f.now) > 0);
    CHECK_INT(fx_next(&f), LMQ_SUBSCRIBE);
    pos = 0;
    CHECK(lmq_subs_next(&f.pkt.u.subscribe, LMQ_SUBSCRIBE, &pos, &e) == 1);
    CHECK(e.filter.n == 12 && !memcmp(e.filter.p, "$share/g/a/b", 12));
    fx_free(&f);
    sx_filter = NULL;
}

/* on_connect sees the property block of the CONNECT as sent: the
 * engine's own (Session Expiry from its option) and the configured list. */
static const lmq_plugin_api *cp_api;
static int32_t cp_props_len = -1;
static int64_t cp_expiry = -1;
static char cp_user[32];

static int cp_init(const lmq_plugin_api *api, const char *config, void **state)
{
    (void)config;
    cp_api = api;
    *state = NULL;
    return 0;
}

static void cp_connect(void *state, const lmq_plugin_conn *c)
{
    const char *k, *v;
    int32_t kl, vl;
    (void)state;
    cp_props_len = c->props_len;
    if (cp_api->prop_int(c->props, c->props_len, LMQ_PROP_SESSION_EXPIRY, 0, &cp_expiry) != 1)
        cp_expiry = -1;
    if (cp_api->prop_user(c->props, c->props_len, 0, &k, &kl, &v, &vl) == 1)
        snprintf(cp_user, sizeof cp_user, "%.*s=%.*s", (int)kl, k, (int)vl, v);
}

static void test_connect_hook_sees_the_properties_as_sent(void)
{
    fx f;
    lmq_plugin d = { .abi_version = LMQ_PLUGIN_ABI_VERSION, .struct_size = sizeof(lmq_plugin),
                     .name = "cp", .init = cp_init, .on_connect = cp_connect };
    fx_init(&f, 5);
    CHECK_INT(lmq_session_set_int(f.s, LMQ_OPT_SESSION_EXPIRY, 120), 0);
    lmq_proplist *pl = lmq_proplist_new();
    CHECK_INT(lmq_proplist_add_user(pl, "app", -1, "x", -1), 0);
    CHECK_INT(lmq_session_set_props(f.s, LMQ_PROPS_CONNECT, pl), 0);
    lmq_proplist_free(pl);
    CHECK_INT(lmq_plugin_session_add(f.s, &d, "", "cp.so"), 0);
    fx_connect(&f, 0);
    CHECK(cp_props_len > 0);
    CHECK(cp_expiry == 120);
    CHECK(strcmp(cp_user, "app=x") == 0);
    fx_free(&f);
}

/* ------------------------------------------ message properties (ABI 1.1) */

#define PP_REQUIRE(x)   \
    do {                \
        CHECK(x);       \
        if (!(x))       \
            goto done;  \
    } while (0)

/* A plugin whose message hooks run a test's function, after writing down
 * the User Properties they were handed ("k=v " each) and the block. */
typedef struct pp pp;
struct pp {
    const lmq_plugin_api *api;
    void (*act)(pp *p, lmq_plugin_msg *m);
    int rc[16];                   /* what act's api calls returned */
    char seen[128];
    int32_t seen_len;             /* props_len on entry */
};

static int pp_init(const lmq_plugin_api *api, const char *config, void **state)
{
    pp *p = NULL;
    if (sscanf(config, "pp=%p", (void **)&p) != 1 || !p)
        return -1;
    p->api = any_api = api;
    *state = p;
    return 0;
}

static int pp_msg(void *state, lmq_plugin_msg *m)
{
    pp *p = state;
    const char *k, *v;
    int32_t kl, vl;
    p->seen[0] = '\0';
    p->seen_len = m->props_len;
    for (int32_t i = 0; p->api->prop_user(m->props, m->props_len, i, &k, &kl, &v, &vl) == 1;
         i++) {
        size_t n = strlen(p->seen);
        snprintf(p->seen + n, sizeof p->seen - n, "%.*s=%.*s ", (int)kl, k, (int)vl, v);
    }
    if (p->act)
        p->act(p, m);
    return LMQ_PLUGIN_CONTINUE;
}

static const lmq_plugin pp_plugin = {
    .abi_version = LMQ_PLUGIN_ABI_VERSION,
    .struct_size = sizeof(lmq_plugin),
    .name = "pp",
    .version = "1",
    .init = pp_init,
    .on_message_in = pp_msg,
    .on_publish_out = pp_msg,
};

static void pp_setup(fx *f, int level, pp *a, pp *b)
{
    char cfg[64];
    fx_init(f, level);
    snprintf(cfg, sizeof cfg, "pp=%p", (void *)a);
    CHECK_INT(lmq_plugin_session_add(f->s, &pp_plugin, cfg, "pp.so"), 0);
    if (b) {
        snprintf(cfg, sizeof cfg, "pp=%p", (void *)b);
        CHECK_INT(lmq_plugin_session_add(f->s, &pp_plugin, cfg, "pp.so"), 0);
    }
}

/* All the User Properties of an event, "k=v " each. */
static const char *ev_users(const lmq_event *ev)
{
    static char buf[128];
    const char *k, *v;
    int32_t kl, vl;
    buf[0] = '\0';
    for (int32_t i = 0; ev && lmq_event_prop_user(ev, i, &k, &kl, &v, &vl) == 1; i++) {
        size_t n = strlen(buf);
        snprintf(buf + n, sizeof buf - n, "%.*s=%.*s ", (int)kl, k, (int)vl, v);
    }
    return buf;
}

/* The same of a packet the session sent. */
static const char *pkt_users(const lmq_props *pr)
{
    lmq_event ev;
    memset(&ev, 0, sizeof ev);
    ev.props = pr->raw.p;
    ev.props_len = (int32_t)pr->raw.n;
    return ev_users(&ev);
}

static void act_edit(pp *p, lmq_plugin_msg *m)
{
    const lmq_plugin_api *api = p->api;
    p->rc[0] = api->msg_add_user_prop(api, m, "trace-id", -1, "abc", -1);
    p->rc[1] = api->msg_remove_prop(api, m, LMQ_PROP_USER, "drop-me", -1);
    p->rc[2] = api->msg_set_prop_str(api, m, LMQ_PROP_CONTENT_TYPE, "text/plain", -1);
    p->rc[3] = api->msg_set_prop_int(api, m, LMQ_PROP_MESSAGE_EXPIRY, 60);
    p->rc[4] = api->msg_remove_prop(api, m, LMQ_PROP_RESPONSE_TOPIC, NULL, 0);
}

static void test_message_in_properties_are_changed_before_delivery(void)
{
    fx f;
    pp a;
    memset(&a, 0, sizeof a);
    a.act = act_edit;
    pp_setup(&f, 5, &a, NULL);
    fx_connect(&f, 0);
    lmq_packet in = fx_publish("t", "x", 1, 3);
    lmq_strpair users[2] = {
        { { (const uint8_t *)"keep", 4 }, { (const uint8_t *)"1", 1 } },
        { { (const uint8_t *)"drop-me", 7 }, { (const uint8_t *)"2", 1 } },
    };
    lmq_props *pr = &in.u.publish.props;
    pr->user = users;
    pr->n_user = 2;
    pr->content_type = (lmq_slice){ (const uint8_t *)"a/b", 3 };
    lmq_props_set(pr, LMQ_PROP_CONTENT_TYPE);
    CHECK_INT(fx_feed(&f, &in), 0);
    CHECK(strcmp(a.seen, "keep=1 drop-me=2 ") == 0);
    CHECK_INT(a.rc[0], 0);
    CHECK_INT(a.rc[1], 1);                      /* one removed */
    CHECK_INT(a.rc[2], 0);
    CHECK_INT(a.rc[3], 0);
    CHECK_INT(a.rc[4], 0);                      /* none was there */
    CHECK_INT(fx_next(&f), LMQ_PUBACK);
    fx_events(&f);
    const lmq_event *ev = fx_find(&f, LMQ_EV_MESSAGE);
    PP_REQUIRE(ev);
    CHECK(strcmp(ev_users(ev), "keep=1 trace-id=abc ") == 0);
    const char *ct;
    int32_t ctl;
    int64_t exp = 0;
    CHECK_INT(lmq_event_prop_str(ev, LMQ_PROP_CONTENT_TYPE, &ct, &ctl), 1);
    CHECK(ctl == 10 && !memcmp(ct, "text/plain", 10));
    CHECK_INT(lmq_event_prop_int(ev, LMQ_PROP_MESSAGE_EXPIRY, 0, &exp), 1);
    CHECK(exp == 60);
    CHECK(ev->payload_len == 1 && !memcmp(ev->payload, "x", 1));
done:
    fx_free(&f);
}

static void act_replace(pp *p, lmq_plugin_msg *m)
{
    static const uint8_t block[] = { 0x03, 0, 4, 'j', 's', 'o', 'n',       /* Content Type */
                                     0x26, 0, 1, 'k', 0, 1, 'v' };         /* k=v */
    p->rc[0] = p->api->msg_set_props(p->api, m, block, (int32_t)sizeof block);
    p->rc[1] = m->props_len == (int32_t)sizeof block && !memcmp(m->props, block, sizeof block);
}

static void act_clear(pp *p, lmq_plugin_msg *m)
{
    p->rc[0] = p->api->msg_set_props(p->api, m, NULL, 0);
    p->rc[1] = m->props_len == 0;
}

/* A whole block replaces the properties, in and out; len 0 removes them. */
static void test_whole_property_block_is_replaced_or_cleared(void)
{
    fx f;
    pp a;
    const char *ct;
    int32_t ctl;
    memset(&a, 0, sizeof a);
    a.act = act_replace;
    pp_setup(&f, 5, &a, NULL);
    fx_connect(&f, 0);
    lmq_packet in = fx_publish("t", "x", 0, 0);
    lmq_strpair users[1] = { { { (const uint8_t *)"old", 3 }, { (const uint8_t *)"1", 1 } } };
    in.u.publish.props.user = users;
    in.u.publish.props.n_user = 1;
    CHECK_INT(fx_feed(&f, &in), 0);
    CHECK_INT(a.rc[0], 0);
    CHECK_INT(a.rc[1], 1);                      /* msg->props is the new block */
    fx_events(&f);
    const lmq_event *ev = fx_find(&f, LMQ_EV_MESSAGE);
    PP_REQUIRE(ev);
    CHECK(strcmp(ev_users(ev), "k=v ") == 0);
    CHECK_INT(lmq_event_prop_str(ev, LMQ_PROP_CONTENT_TYPE, &ct, &ctl), 1);
    CHECK(ctl == 4 && !memcmp(ct, "json", 4));

    lmq_proplist *pl = lmq_proplist_new();
    lmq_proplist_add_user(pl, "app", -1, "1", -1);
    lmq_proplist_add_int(pl, LMQ_PROP_PAYLOAD_FORMAT, 1);
    memset(a.rc, 0, sizeof a.rc);
    CHECK(lmq_session_publish(f.s, (const uint8_t *)"o", 1, (const uint8_t *)"y", 1, 0, 0, pl,
                              f.now) > 0);
    CHECK_INT(a.rc[0], 0);
    CHECK_INT(fx_next(&f), LMQ_PUBLISH);
    CHECK(strcmp(pkt_users(&f.pkt.u.publish.props), "k=v ") == 0);
    CHECK(!lmq_props_has(&f.pkt.u.publish.props, LMQ_PROP_PAYLOAD_FORMAT));
    CHECK(lmq_props_has(&f.pkt.u.publish.props, LMQ_PROP_CONTENT_TYPE) &&
          f.pkt.u.publish.props.content_type.n == 4);

    a.act = act_clear;
    CHECK(lmq_session_publish(f.s, (const uint8_t *)"o", 1, (const uint8_t *)"y", 1, 0, 0, pl,
                              f.now) > 0);
    CHECK_INT(a.rc[0], 0);
    CHECK_INT(a.rc[1], 1);
    CHECK_INT(fx_next(&f), LMQ_PUBLISH);
    CHECK_INT((int)f.pkt.u.publish.props.raw.n, 0);
    /* The application's list is its own: untouched by the plugin's change. */
    a.act = NULL;
    CHECK(lmq_session_publish(f.s, (const uint8_t *)"o", 1, (const uint8_t *)"y", 1, 0, 0, pl,
                              f.now) > 0);
    CHECK_INT(fx_next(&f), LMQ_PUBLISH);
    CHECK(strcmp(pkt_users(&f.pkt.u.publish.props), "app=1 ") == 0);
    CHECK(lmq_props_has(&f.pkt.u.publish.props, LMQ_PROP_PAYLOAD_FORMAT));
    lmq_proplist_free(pl);
done:
    fx_free(&f);
}

/* On the way out, with the server's Topic Alias Maximum: the engine's own
 * aliasing still works around a plugin's properties [MQTT-3.3.2-9]. */
static void test_publish_out_properties_go_on_the_wire_with_topic_aliases(void)
{
    fx f;
    pp a;
    memset(&a, 0, sizeof a);
    a.act = act_edit;
    pp_setup(&f, 5, &a, NULL);
    lmq_packet ca = fx_connack(0, 0);
    ca.u.connack.props.topic_alias_maximum = 4;
    lmq_props_set(&ca.u.connack.props, LMQ_PROP_TOPIC_ALIAS_MAXIMUM);
    fx_connect_with(&f, &ca);
    lmq_proplist *pl = lmq_proplist_new();
    lmq_proplist_add_user(pl, "drop-me", -1, "x", -1);
    lmq_proplist_add_user(pl, "app", -1, "1", -1);
    lmq_proplist_add_str(pl, LMQ_PROP_RESPONSE_TOPIC, "reply/here", -1);
    for (int i = 0; i < 2; i++) {
        memset(a.rc, -1, sizeof a.rc);
        CHECK(lmq_session_publish(f.s, (const uint8_t *)"a/topic", 7, (const uint8_t *)"p", 1, 1,
                                  0, pl, f.now) > 0);
        CHECK(strcmp(a.seen, "drop-me=x app=1 ") == 0);
        CHECK_INT(a.rc[0], 0);
        CHECK_INT(a.rc[1], 1);
        CHECK_INT(a.rc[4], 1);
        CHECK_INT(fx_next(&f), LMQ_PUBLISH);
        const lmq_props *pr = &f.pkt.u.publish.props;
        CHECK(strcmp(pkt_users(pr), "app=1 trace-id=abc ") == 0);
        CHECK(lmq_props_has(pr, LMQ_PROP_CONTENT_TYPE) && pr->content_type.n == 10 &&
              !memcmp(pr->content_type.p, "text/plain", 10));
        CHECK(lmq_props_has(pr, LMQ_PROP_MESSAGE_EXPIRY) && pr->message_expiry == 60);
        CHECK(!lmq_props_has(pr, LMQ_PROP_RESPONSE_TOPIC));
        CHECK(lmq_props_has(pr, LMQ_PROP_TOPIC_ALIAS) && pr->topic_alias == 1);
        /* first: the topic with the new alias; second: the alias alone */
        CHECK_INT((int)f.pkt.u.publish.topic.n, i == 0 ? 7 : 0);
        lmq_packet ack = fx_ack(LMQ_PUBACK, f.pkt.u.publish.packet_id, 0);
        CHECK_INT(fx_feed(&f, &ack), 0);
    }
    lmq_proplist_free(pl);
    fx_free(&f);
}

static void act_refused(pp *p, lmq_plugin_msg *m)
{
    const lmq_plugin_api *api = p->api;
    static const uint8_t unknown[] = { 0x7F, 1 };
    static const uint8_t short_[] = { 0x03, 0, 9, 'a' };
    static const uint8_t not_publish[] = { 0x11, 0, 0, 0, 5 };     /* Session Expiry */
    static const uint8_t twice[] = { 0x03, 0, 1, 'a', 0x03, 0, 1, 'b' };
    static const uint8_t alias[] = { 0x23, 0, 1 };
    static const uint8_t bad_utf8[] = { 0x26, 0, 1, 0xFF, 0, 1, 'v' };
    const uint8_t *before = m->props;
    int32_t before_len = m->props_len;
    int out = m->direction == LMQ_PLUGIN_OUT;

    p->rc[0] = api->msg_set_props(api, m, unknown, 2);
    p->rc[1] = api->msg_set_props(api, m, short_, 4);
    p->rc[2] = api->msg_set_props(api, m, not_publish, 5);
    p->rc[3] = api->msg_set_props(api, m, twice, 8);
    p->rc[4] = api->msg_set_props(api, m, alias, 3);
    p->rc[5] = api->msg_set_prop_int(api, m, LMQ_PROP_TOPIC_ALIAS, 1);
    p->rc[6] = api->msg_set_prop_int(api, m, LMQ_PROP_SUBSCRIPTION_ID, 7);
    p->rc[7] = api->msg_set_props(api, m, bad_utf8, 7);
    p->rc[8] = api->msg_set_props(api, m, NULL, 3);
    p->rc[9] = api->msg_set_prop_str(api, m, LMQ_PROP_USER, "k", 1);
    p->rc[10] = api->msg_remove_prop(api, m, 0x7F, NULL, 0);
    p->rc[11] = api->msg_remove_prop(api, m, LMQ_PROP_CONTENT_TYPE, "k", 1);
    p->rc[12] = api->msg_set_prop_int(api, m, LMQ_PROP_PAYLOAD_FORMAT, 2);
    p->rc[13] = api->msg_set_prop_int(api, m, LMQ_PROP_SESSION_EXPIRY, 5);
    /* refused every time: the message is as it was */
    p->rc[14] = out ? m->props == before && m->props_len == before_len
                    : m->props_len == before_len + 2;   /* the Sub ID went in */
}

static void test_property_changes_refuse_what_they_must(void)
{
    fx f;
    pp a;
    memset(&a, 0, sizeof a);
    a.act = act_refused;
    pp_setup(&f, 5, &a, NULL);
    fx_connect(&f, 0);
    lmq_proplist *pl = lmq_proplist_new();
    lmq_proplist_add_user(pl, "app", -1, "1", -1);
    CHECK(lmq_session_publish(f.s, (const uint8_t *)"o", 1, (const uint8_t *)"y", 1, 0, 0, pl,
                              f.now) > 0);
    lmq_proplist_free(pl);
    CHECK_INT(a.rc[0], LMQ_EMAL_PROP_ID);
    CHECK_INT(a.rc[1], LMQ_EMAL_STRLEN);        /* the codec's own reasons */
    CHECK_INT(a.rc[2], LMQ_EMAL_PROP_PACKET);
    CHECK_INT(a.rc[3], LMQ_EMAL_PROP_TWICE);
    CHECK_INT(a.rc[4], LMQ_EINVAL);             /* Topic Alias: the engine's */
    CHECK_INT(a.rc[5], LMQ_EINVAL);
    CHECK_INT(a.rc[6], LMQ_EMAL_PROP_PACKET);   /* server to client only [MQTT-3.3.4-6] */
    CHECK_INT(a.rc[7], LMQ_EUTF8);              /* [MQTT-1.5.4-1] */
    CHECK_INT(a.rc[8], LMQ_EINVAL);
    CHECK_INT(a.rc[9], LMQ_EINVAL);
    CHECK_INT(a.rc[10], LMQ_EINVAL);
    CHECK_INT(a.rc[11], LMQ_EINVAL);
    CHECK_INT(a.rc[12], LMQ_EINVAL);            /* a byte of 0 or 1 */
    CHECK_INT(a.rc[13], LMQ_EINVAL);            /* not a PUBLISH property */
    CHECK_INT(a.rc[14], 1);
    CHECK_INT(fx_next(&f), LMQ_PUBLISH);
    CHECK(strcmp(pkt_users(&f.pkt.u.publish.props), "app=1 ") == 0);
    CHECK(!lmq_props_has(&f.pkt.u.publish.props, LMQ_PROP_SUBSCRIPTION_ID));

    /* In: the same refusals, but a Subscription Identifier is the
     * server's to send, so that one is taken. */
    memset(a.rc, 0, sizeof a.rc);
    lmq_packet in = fx_publish("t", "x", 0, 0);
    CHECK_INT(fx_feed(&f, &in), 0);
    CHECK_INT(a.rc[0], LMQ_EMAL_PROP_ID);
    CHECK_INT(a.rc[2], LMQ_EMAL_PROP_PACKET);
    CHECK_INT(a.rc[4], LMQ_EINVAL);             /* no alias came with it */
    CHECK_INT(a.rc[5], LMQ_EINVAL);
    CHECK_INT(a.rc[6], 0);
    CHECK_INT(a.rc[14], 1);
    fx_events(&f);
    const lmq_event *ev = fx_find(&f, LMQ_EV_MESSAGE);
    int64_t sid = 0;
    CHECK(ev && lmq_event_prop_int(ev, LMQ_PROP_SUBSCRIPTION_ID, 0, &sid) == 1 && sid == 7);

    /* Outside a hook run no message is the chain's. */
    lmq_plugin_msg m;
    memset(&m, 0, sizeof m);
    m.protocol = 5;
    CHECK_INT(a.api->msg_add_user_prop(a.api, &m, "k", 1, "v", 1), LMQ_EINVAL);
    CHECK_INT(a.api->msg_set_props(a.api, &m, NULL, 0), LMQ_EINVAL);
    fx_free(&f);
}

static void act_alias_in(pp *p, lmq_plugin_msg *m)
{
    static const uint8_t same[] = { 0x23, 0, 2, 0x26, 0, 1, 'k', 0, 1, 'v' };
    static const uint8_t other[] = { 0x23, 0, 3 };
    p->rc[0] = p->api->msg_set_props(p->api, m, other, 3);
    p->rc[1] = p->api->msg_set_props(p->api, m, same, (int32_t)sizeof same);
    p->rc[2] = p->api->msg_set_prop_int(p->api, m, LMQ_PROP_TOPIC_ALIAS, 3);
}

/* In, the server's Topic Alias was resolved before the hook: a block that
 * keeps it as it came is taken, another alias is not. */
static void test_incoming_topic_alias_may_only_stay_as_it_came(void)
{
    fx f;
    pp a;
    memset(&a, 0, sizeof a);
    a.act = act_alias_in;
    pp_setup(&f, 5, &a, NULL);
    CHECK_INT(lmq_session_set_int(f.s, LMQ_OPT_TOPIC_ALIAS_MAXIMUM, 4), 0);
    fx_connect(&f, 0);
    lmq_packet in = fx_publish("al/one", "x", 0, 0);
    in.u.publish.props.topic_alias = 2;
    lmq_props_set(&in.u.publish.props, LMQ_PROP_TOPIC_ALIAS);
    CHECK_INT(fx_feed(&f, &in), 0);
    CHECK_INT(a.rc[0], LMQ_EINVAL);
    CHECK_INT(a.rc[1], 0);
    CHECK_INT(a.rc[2], LMQ_EINVAL);
    fx_events(&f);
    const lmq_event *ev = fx_find(&f, LMQ_EV_MESSAGE);
    CHECK(ev && strcmp(ev_users(ev), "k=v ") == 0);
    CHECK(ev && ev->topic_len == 6 && !memcmp(ev->topic, "al/one", 6));
    fx_free(&f);
}

static void act_all(pp *p, lmq_plugin_msg *m)
{
    const lmq_plugin_api *api = p->api;
    p->rc[0] = api->msg_add_user_prop(api, m, "k", 1, "v", 1);
    p->rc[1] = api->msg_set_props(api, m, NULL, 0);
    p->rc[2] = api->msg_set_prop_int(api, m, LMQ_PROP_MESSAGE_EXPIRY, 5);
    p->rc[3] = api->msg_set_prop_str(api, m, LMQ_PROP_CONTENT_TYPE, "a", 1);
    p->rc[4] = api->msg_remove_prop(api, m, LMQ_PROP_USER, NULL, 0);
    p->rc[5] = m->protocol;
}

/* MQTT 3.1.1 has no properties: every property setter says so. */
static void test_property_changes_at_3_1_1_are_refused(void)
{
    fx f;
    pp a;
    memset(&a, 0, sizeof a);
    a.act = act_all;
    pp_setup(&f, 4, &a, NULL);
    fx_connect(&f, 0);
    CHECK(fx_pub(&f, "o", "y", 0) > 0);
    for (int i = 0; i < 5; i++)
        CHECK_INT(a.rc[i], LMQ_PLUGIN_EVERSION);
    CHECK_INT(a.rc[5], 4);
    CHECK_INT(fx_next(&f), LMQ_PUBLISH);        /* sent all the same */
    memset(a.rc, 0, sizeof a.rc);
    lmq_packet in = fx_publish("t", "x", 0, 0);
    CHECK_INT(fx_feed(&f, &in), 0);
    for (int i = 0; i < 5; i++)
        CHECK_INT(a.rc[i], LMQ_PLUGIN_EVERSION);
    fx_events(&f);
    CHECK(fx_find(&f, LMQ_EV_MESSAGE) != NULL);
    fx_free(&f);
}

static void act_add_a(pp *p, lmq_plugin_msg *m)
{
    p->rc[0] = p->api->msg_add_user_prop(p->api, m, "trace-id", -1, "from-a", -1);
}

static void act_add_b(pp *p, lmq_plugin_msg *m)
{
    p->rc[0] = p->api->msg_add_user_prop(p->api, m, "hop", -1, "b", -1);
}

/* The second plugin sees the first one's properties, and builds on them. */
static void test_property_changes_run_in_chain_order(void)
{
    fx f;
    pp a, b;
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    a.act = act_add_a;
    b.act = act_add_b;
    pp_setup(&f, 5, &a, &b);
    fx_connect(&f, 0);
    lmq_packet in = fx_publish("t", "x", 0, 0);
    CHECK_INT(fx_feed(&f, &in), 0);
    CHECK(strcmp(a.seen, "") == 0);
    CHECK(strcmp(b.seen, "trace-id=from-a ") == 0);
    fx_events(&f);
    CHECK(strcmp(ev_users(fx_find(&f, LMQ_EV_MESSAGE)), "trace-id=from-a hop=b ") == 0);
    CHECK(fx_pub(&f, "o", "y", 0) > 0);
    CHECK(strcmp(b.seen, "trace-id=from-a ") == 0);
    CHECK_INT(a.rc[0], 0);
    CHECK_INT(b.rc[0], 0);
    CHECK_INT(fx_next(&f), LMQ_PUBLISH);
    CHECK(strcmp(pkt_users(&f.pkt.u.publish.props), "trace-id=from-a hop=b ") == 0);
    fx_free(&f);
}

/* ABI 1.1 on_app_event (lmq_client_plugin_event): every plugin with the
 * hook sees name (as long as len says, not to a NUL) and value, in load
 * order; a plugin whose struct ends before the hook is never called. */
static void test_app_event_reaches_the_plugins_in_load_order(void)
{
    fx f;
    rec a, b;
    rec_init_struct(&a, 'A');
    rec_init_struct(&b, 'B');
    setup(&f, 5, &a, &b);
    lmq_plugin_chain *ch = lmq_plugin_session_chain_get(f.s);
    CHECK(ch != NULL);
    if (!ch)
        return;
    CHECK(lmq_plugin_chain_hooks(ch) & LMQ_HOOK_APP_EVENT);
    lmq_plugin_run_app_event(ch, "host_handler_errorsXYZ", 19, 1, 10);
    lmq_plugin_run_app_event(ch, "batch", 5, -7, 11);
    CHECK(strcmp(trace, "A:ev(host_handler_errors=1) B:ev(host_handler_errors=1) "
                        "A:ev(batch=-7) B:ev(batch=-7) ") == 0);
    fx_free(&f);
}

static void test_app_event_skips_plugins_built_before_the_hook(void)
{
    fx f;
    rec a, b, c;
    rec_init_struct(&a, 'A');
    rec_init_struct(&b, 'B');
    rec_init_struct(&c, 'C');
    char cfg[64];
    trace[0] = '\0';
    fx_init(&f, 5);
    lmq_plugin d10 = rec_plugin;    /* 1.0-sized, hook set past its end */
    d10.abi_version = 1u << 16;
    d10.struct_size = offsetof(lmq_plugin, on_connect_send);
    snprintf(cfg, sizeof cfg, "rec=%p", (void *)&a);
    CHECK_INT(lmq_plugin_session_add(f.s, &d10, cfg, "old10.so"), 0);
    lmq_plugin d11 = rec_plugin;    /* 1.1 as it was before on_app_event */
    d11.struct_size = offsetof(lmq_plugin, on_app_event);
    snprintf(cfg, sizeof cfg, "rec=%p", (void *)&b);
    CHECK_INT(lmq_plugin_session_add(f.s, &d11, cfg, "old11.so"), 0);
    lmq_plugin_chain *ch = lmq_plugin_session_chain_get(f.s);
    CHECK(ch != NULL);
    if (!ch)
        return;
    CHECK(!(lmq_plugin_chain_hooks(ch) & LMQ_HOOK_APP_EVENT));
    snprintf(cfg, sizeof cfg, "rec=%p", (void *)&c);
    CHECK_INT(lmq_plugin_session_add(f.s, &rec_plugin, cfg, "new.so"), 0);
    CHECK(lmq_plugin_chain_hooks(ch) & LMQ_HOOK_APP_EVENT);
    lmq_plugin_run_app_event(ch, "x", 1, 3, 10);
    CHECK(strcmp(trace, "C:ev(x=3) ") == 0);
    fx_free(&f);
}

/* The public call's argument checks (a client with no plugin: 0). */
static void test_client_plugin_event_refuses_bad_names(void)
{
    char long_name[300];
    memset(long_name, 'n', sizeof long_name);
    long_name[299] = '\0';
    lmq_client *c = lmq_client_new();
    CHECK(c != NULL);
    if (!c)
        return;
    CHECK_INT(lmq_client_plugin_event(NULL, "x", 1, 1), LMQ_EINVAL);
    CHECK_INT(lmq_client_plugin_event(c, NULL, 1, 1), LMQ_EINVAL);
    CHECK_INT(lmq_client_plugin_event(c, "", -1, 1), LMQ_EINVAL);
    CHECK_INT(lmq_client_plugin_event(c, "x", 0, 1), LMQ_EINVAL);
    CHECK_INT(lmq_client_plugin_event(c, long_name, -1, 1), LMQ_EINVAL);
    CHECK_INT(lmq_client_plugin_event(c, long_name, 256, 1), LMQ_EINVAL);
    CHECK_INT(lmq_client_plugin_event(c, "a\0b", 3, 1), LMQ_EINVAL);     /* U+0000 */
    CHECK_INT(lmq_client_plugin_event(c, "\xc3\x28", 2, 1), LMQ_EINVAL); /* bad UTF-8 */
    CHECK_INT(lmq_client_plugin_event(c, long_name, 255, 1), 0);
    CHECK_INT(lmq_client_plugin_event(c, "host_handler_errors", -1, 1), 0);
    CHECK_INT(lmq_client_plugin_event(c, "caf\xc3\xa9", 5, 2), 0);
    lmq_client_free(c);
}

int main(void)
{
    RUN(test_without_plugins_the_session_has_no_chain);
    RUN(test_every_hook_fires_in_order_with_the_right_data);
    RUN(test_refused_connack_and_server_disconnect_reach_the_hooks);
    RUN(test_message_in_is_modified_before_delivery);
    RUN(test_dropped_message_in_is_acked_with_the_plugins_reason);
    RUN(test_dropped_qos2_message_in_completes_its_flow);
    RUN(test_drop_with_manual_ack_is_acked_by_the_engine);
    RUN(test_publish_out_is_modified_before_it_is_sent);
    RUN(test_publish_out_with_an_invalid_change_is_refused);
    RUN(test_dropped_publish_out_is_refused_and_never_sent);
    RUN(test_chain_runs_in_load_order_and_sees_earlier_changes);
    RUN(test_publish_out_shows_the_properties);
    RUN(test_tick_runs_every_interval_connected_or_not);
    RUN(test_log_hook_that_logs_is_not_reentered);
    RUN(test_abi_major_mismatch_is_refused_naming_the_plugin);
    RUN(test_incomplete_descriptor_is_refused);
    RUN(test_init_failure_is_reported_with_the_plugins_reason);
    RUN(test_older_plugin_without_later_hooks_still_loads);
    RUN(test_msg_setters_refuse_what_they_must);
    RUN(test_publish_done_reports_each_completion_and_failure);
    RUN(test_subscribe_hook_sees_the_filters_and_may_deny);
    RUN(test_connect_send_sets_credentials_and_adds_properties);
    RUN(test_connect_send_may_abandon_the_attempt);
    RUN(test_auth_challenge_is_answered_by_a_plugin);
    RUN(test_subscribe_hook_rewrites_filters_in_chain_order);
    RUN(test_api_figures_and_fd_watch_without_a_loop);
    RUN(test_plugin_built_for_abi_1_0_still_loads);
    RUN(test_shutdown_logging_does_not_reach_plugins_already_gone);
    RUN(test_subscribe_rewrites_are_checked_like_the_callers);
    RUN(test_connect_hook_sees_the_properties_as_sent);
    RUN(test_message_in_properties_are_changed_before_delivery);
    RUN(test_whole_property_block_is_replaced_or_cleared);
    RUN(test_publish_out_properties_go_on_the_wire_with_topic_aliases);
    RUN(test_property_changes_refuse_what_they_must);
    RUN(test_incoming_topic_alias_may_only_stay_as_it_came);
    RUN(test_property_changes_at_3_1_1_are_refused);
    RUN(test_property_changes_run_in_chain_order);
    RUN(test_app_event_reaches_the_plugins_in_load_order);
    RUN(test_app_event_skips_plugins_built_before_the_hook);
    RUN(test_client_plugin_event_refuses_bad_names);
    return check_done();
}
