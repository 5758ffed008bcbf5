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

static void test_tick_runs_every_interval_while_connected(void)
{
    fx f;
    rec a;
    rec_init_struct(&a, 'A');
    a.tick_ms = 100;
    setup(&f, 5, &a, NULL);
    CHECK_INT(lmq_session_set_int(f.s, LMQ_OPT_KEEPALIVE, 0), 0);
    CHECK_INT(lmq_session_deadline(f.s), INT64_MAX);    /* offline: no ticks */
    fx_connect(&f, 0);
    /* The first call schedules the interval from now. */
    CHECK(lmq_session_deadline(f.s) <= f.now);
    CHECK_INT(lmq_session_tick(f.s, f.now), 0);
    CHECK_INT(lmq_session_deadline(f.s), f.now + 100);
    f.now += 99;
    CHECK_INT(lmq_session_tick(f.s, f.now), 0);
    CHECK_INT(a.ticks, 0);
    f.now += 1;
    CHECK_INT(lmq_session_tick(f.s, f.now), 0);
    CHECK_INT(a.ticks, 1);
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
    RUN(test_tick_runs_every_interval_while_connected);
    RUN(test_log_hook_that_logs_is_not_reentered);
    RUN(test_abi_major_mismatch_is_refused_naming_the_plugin);
    RUN(test_incomplete_descriptor_is_refused);
    RUN(test_init_failure_is_reported_with_the_plugins_reason);
    RUN(test_older_plugin_without_later_hooks_still_loads);
    RUN(test_msg_setters_refuse_what_they_must);
    RUN(test_publish_done_reports_each_completion_and_failure);
    RUN(test_subscribe_hook_sees_the_filters_and_may_deny);
    return check_done();
}
