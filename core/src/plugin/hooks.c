/*
 * hooks.c - where the session meets the plugin chain (see hooks.h).
 */
#include <stdlib.h>
#include <string.h>

#include "plugin/hooks.h"

/* The chain logs through the session, so plugin lines come out with the
 * rest of the client's log, under its level. */
static void session_sink(void *ctx, int level, const char *text)
{
    lmq_session_log(ctx, level, "%s", text);
}

/* api->stat: figures of the session now. */
static int64_t session_stat(void *ctx, int which)
{
    lmq_session_stats st;
    lmq_session *s = ctx;

    lmq_session_stats_get(s, &st);
    switch (which) {
    case LMQ_PLUGIN_STAT_CONNECTED: return s->state == LMQ_SS_CONNECTED;
    case LMQ_PLUGIN_STAT_OFFLINE_MSGS: return st.offline_msgs;
    case LMQ_PLUGIN_STAT_OFFLINE_BYTES: return (int64_t)st.offline_bytes;
    case LMQ_PLUGIN_STAT_WAITING_OUT: return st.waiting_out;
    case LMQ_PLUGIN_STAT_INFLIGHT_OUT: return st.inflight_out;
    case LMQ_PLUGIN_STAT_INFLIGHT_IN: return st.inflight_in;
    default: return LMQ_EINVAL;
    }
}

static const lmq_session_hooks plugin_hooks;

lmq_plugin_chain *lmq_plugin_session_chain(lmq_session *s)
{
    lmq_plugin_chain *ch = lmq_session_hooks_ctx(s, &plugin_hooks);

    if (!ch && (ch = lmq_plugin_chain_new(session_sink, s))) {
        lmq_plugin_chain_set_stat(ch, session_stat, s);
        lmq_session_set_hooks(s, &plugin_hooks, ch);
    }
    return ch;
}

lmq_plugin_chain *lmq_plugin_session_chain_get(const lmq_session *s)
{
    return lmq_session_hooks_ctx(s, &plugin_hooks);
}

/* Load from a file (path) or add a descriptor (desc, named label). */
static int session_add(lmq_session *s, const char *path, const lmq_plugin *desc,
                       const char *config, const char *label)
{
    char err[sizeof s->errmsg];

    if (!lmq_plugin_session_chain(s))
        return LMQ_ENOMEM;
    err[0] = '\0';
    int rc = path ? lmq_plugin_chain_load(s->plugins, path, config, err, sizeof err)
                  : lmq_plugin_chain_add(s->plugins, desc, config, label, NULL, err,
                                         sizeof err);
    if (rc) {
        lmq_session_seterr(s, "%s", err[0] ? err : lmq_strerror(rc));
        lmq_session_log(s, LMQ_LOG_ERROR, "%s", s->errmsg);
    }
    /* An empty chain costs a call per hook point: keep the NULL instead. */
    if (!lmq_plugin_chain_count(s->plugins))
        lmq_session_set_hooks(s, NULL, NULL);
    return rc;
}

int lmq_plugin_session_load(lmq_session *s, const char *path, const char *config)
{
    if (!s || !path)
        return LMQ_EINVAL;
    return session_add(s, path, NULL, config, NULL);
}

int lmq_plugin_session_add(lmq_session *s, const lmq_plugin *desc, const char *config,
                           const char *label)
{
    if (!s || !desc || !label)
        return LMQ_EINVAL;
    return session_add(s, NULL, desc, config, label);
}

static int has(const lmq_session *s, unsigned hook)
{
    return (lmq_plugin_chain_hooks(s->plugins) & hook) != 0;
}

/* The raw property block of a v5 CONNECT as it goes on the wire (the
 * decoded-from-options lmq_props has no raw block).  NULL when there is
 * none.  Free the result. */
static uint8_t *connect_raw_props(const lmq_connect *c, int32_t *len)
{
    lmq_packet pkt;
    int rc;

    memset(&pkt, 0, sizeof pkt);
    pkt.type = LMQ_CONNECT;
    pkt.u.connect = *c;
    /* "MQTT" with its length, level, flags, keepalive */
    return lmq_plugin_packet_props(&pkt, LMQ_FROM_CLIENT, 6 + 1 + 1 + 2, len, &rc);
}

/* What the connect hooks are told of a CONNECT. */
static void conn_of(lmq_plugin_conn *conn, const lmq_connect *c)
{
    memset(conn, 0, sizeof *conn);
    conn->protocol = c->level;
    conn->clean_start = c->clean;
    conn->keepalive = c->keepalive;
    conn->client_id = (const char *)c->client_id.p;
    conn->client_id_len = (int32_t)c->client_id.n;
}

void lmq_plugin_hook_connect(lmq_session *s, const lmq_connect *c)
{
    lmq_plugin_conn conn;
    uint8_t *raw = NULL;

    if (!has(s, LMQ_HOOK_CONNECT))
        return;
    conn_of(&conn, c);
    if (c->level == 5 && (raw = connect_raw_props(c, &conn.props_len)))
        conn.props = raw;
    lmq_plugin_run_conn(s->plugins, LMQ_HOOK_CONNECT, &conn, s->last_sent);
    free(raw);
}

void lmq_plugin_hook_connack(lmq_session *s, const lmq_connack *ca)
{
    lmq_plugin_conn conn;

    if (!has(s, LMQ_HOOK_CONNACK))
        return;
    memset(&conn, 0, sizeof conn);
    conn.protocol = s->level;
    conn.reason = ca->reason;
    conn.session_present = ca->session_present;
    conn.props = ca->props.raw.p;
    conn.props_len = (int32_t)ca->props.raw.n;
    lmq_plugin_run_conn(s->plugins, LMQ_HOOK_CONNACK, &conn, s->last_recv);
}

void lmq_plugin_hook_disconnect(lmq_session *s, int error, int reason,
                                const lmq_props *props)
{
    lmq_plugin_conn conn;

    if (!has(s, LMQ_HOOK_DISCONNECT))
        return;
    memset(&conn, 0, sizeof conn);
    conn.protocol = s->level;
    conn.error = error;
    conn.reason = reason;
    if (props) {
        conn.props = props->raw.p;
        conn.props_len = (int32_t)props->raw.n;
    }
    lmq_plugin_run_conn(s->plugins, LMQ_HOOK_DISCONNECT, &conn, s->last_recv);
}

int lmq_plugin_hook_in(lmq_session *s, lmq_publish *p, uint8_t *reason)
{
    lmq_plugin_msg m;

    if (!has(s, LMQ_HOOK_MESSAGE_IN))
        return 0;
    memset(&m, 0, sizeof m);
    m.direction = LMQ_PLUGIN_IN;
    m.protocol = s->level;
    m.qos = p->qos;
    m.retain = p->retain;
    m.dup = p->dup;
    m.topic = (const char *)p->topic.p;
    m.topic_len = (int32_t)p->topic.n;
    m.payload = p->payload.p;
    m.payload_len = (int32_t)p->payload.n;
    m.props = p->props.raw.p;
    m.props_len = (int32_t)p->props.raw.n;
    if (lmq_plugin_run_msg(s->plugins, LMQ_HOOK_MESSAGE_IN, &m, s->last_recv)) {
        *reason = (uint8_t)m.reason;
        return 1;
    }
    p->topic.p = (const uint8_t *)m.topic;
    p->topic.n = (uint32_t)m.topic_len;
    p->payload.p = m.payload;
    p->payload.n = (uint32_t)m.payload_len;
    /* The application's event carries the block a hook set. */
    (void)lmq_plugin_msg_props(s->plugins, &p->props);
    return 0;
}

int lmq_plugin_hook_subscribe(lmq_session *s, lmq_slice *f, uint8_t *o, int n, int64_t now)
{
    if (!has(s, LMQ_HOOK_SUBSCRIBE))
        return 0;
    lmq_plugin_sub *subs = malloc((size_t)n * sizeof *subs);
    if (!subs)
        return LMQ_ENOMEM;
    for (int i = 0; i < n; i++) {
        subs[i].filter = (const char *)f[i].p;
        subs[i].filter_len = (int32_t)f[i].n;
        subs[i].options = o[i];
    }
    int verdict = lmq_plugin_run_sub(s->plugins, subs, n, now);
    /* Rewritten ones point at the chain's copies, alive until its next
     * run: the request copies them before that. */
    for (int i = 0; verdict == LMQ_PLUGIN_CONTINUE && i < n; i++) {
        f[i].p = (const uint8_t *)subs[i].filter;
        f[i].n = (uint32_t)subs[i].filter_len;
        o[i] = (uint8_t)subs[i].options;
    }
    free(subs);
    if (verdict < 0)
        return verdict;
    return verdict ? LMQ_EPLUGIN_DROP : 0;
}

void lmq_plugin_hook_suback(lmq_session *s, const lmq_req *r, const lmq_slice *reasons,
                            const lmq_props *props, int64_t now)
{
    lmq_plugin_suback ack;

    if (!has(s, LMQ_HOOK_SUBSCRIBED) || reasons->n != r->n_entries)
        return;
    lmq_plugin_sub *subs = malloc((r->n_entries ? r->n_entries : 1) * sizeof *subs);
    if (!subs)
        return;
    for (uint32_t i = 0; i < r->n_entries; i++) {
        subs[i].filter = (const char *)r->entries[i].filter.p;
        subs[i].filter_len = (int32_t)r->entries[i].filter.n;
        subs[i].options = r->entries[i].options;
    }
    memset(&ack, 0, sizeof ack);
    ack.msg_id = r->msg_id;
    ack.n = (int32_t)r->n_entries;
    ack.subs = subs;
    ack.reasons = reasons->p;
    if (props) {
        ack.props = props->raw.p;
        ack.props_len = (int32_t)props->raw.n;
    }
    lmq_plugin_run_suback(s->plugins, &ack, now);
    free(subs);
}

int lmq_plugin_hook_connect_send(lmq_session *s, lmq_connect *c, const lmq_proplist **props)
{
    lmq_plugin_conn conn;
    const uint8_t *p;
    uint32_t n;
    int rc;

    if (!has(s, LMQ_HOOK_CONNECT_SEND))
        return 0;
    conn_of(&conn, c);
    /* The hooks add to a copy of the configured list: nothing they add
     * outlives this attempt. */
    lmq_proplist *pl = NULL;
    if (c->level == 5 && *props && !(pl = lmq_proplist_dup(*props, &rc)))
        return rc;
    if (lmq_plugin_run_connect_send(s->plugins, &conn, pl, s->last_sent)) {
        lmq_session_seterr(s, "a plugin abandoned the connection attempt");
        return LMQ_EPLUGIN_REFUSED;
    }
    if (c->level == 5)
        *props = lmq_plugin_connect_props(s->plugins);
    if (lmq_plugin_connect_user(s->plugins, 0, &p, &n))
        c->username = (lmq_slice){ p, n };
    if (lmq_plugin_connect_user(s->plugins, 1, &p, &n))
        c->password = (lmq_slice){ p, n };
    return 0;
}

int lmq_plugin_hook_auth(lmq_session *s, const lmq_disconnect *au, int64_t now)
{
    lmq_plugin_auth a;
    const uint8_t *data;
    uint32_t n;

    if (!has(s, LMQ_HOOK_AUTH))
        return 0;
    memset(&a, 0, sizeof a);
    a.reason = au->reason;
    a.method = (const char *)au->props.auth_method.p;
    a.method_len = (int32_t)au->props.auth_method.n;
    if (lmq_props_has(&au->props, LMQ_PROP_AUTH_DATA)) {
        a.data = au->props.auth_data.p;
        a.data_len = (int32_t)au->props.auth_data.n;
    }
    a.props = au->props.raw.p;
    a.props_len = (int32_t)au->props.raw.n;
    if (!lmq_plugin_run_auth(s->plugins, &a, &data, &n, now))
        return 0;
    lmq_proplist *pl = lmq_proplist_new();
    int rc = pl ? lmq_proplist_add_str(pl, LMQ_PROP_AUTH_DATA, (const char *)data,
                                       (int32_t)n)
                : LMQ_ENOMEM;
    if (!rc)
        rc = lmq_session_auth(s, 0x18, pl, now);
    lmq_proplist_free(pl);
    return rc < 0 ? rc : 1;
}

void lmq_plugin_hook_reconnect(lmq_session *s, int32_t attempt, int64_t delay_ms,
                               int64_t now)
{
    if (s && has(s, LMQ_HOOK_RECONNECT))
        lmq_plugin_run_reconnect(s->plugins, attempt, delay_ms, now);
}

void lmq_plugin_hook_done(lmq_session *s, const lmq_req *r, int error, int reason,
                          const lmq_props *props)
{
    lmq_plugin_done d;

    if (!has(s, LMQ_HOOK_PUBLISH_DONE))
        return;
    memset(&d, 0, sizeof d);
    d.msg_id = r->msg_id;
    d.qos = r->qos;
    d.error = error;
    d.reason = reason;
    d.topic = (const char *)r->topic;
    d.topic_len = (int32_t)r->tlen;
    d.payload = r->payload;
    d.payload_len = (int32_t)r->plen;
    if (props) {
        d.props = props->raw.p;
        d.props_len = (int32_t)props->raw.n;
    }
    d.published_ms = r->queued_at;
    /* The later of the two clocks: a QoS 0 completes when written. */
    d.done_ms = s->last_recv > s->last_sent ? s->last_recv : s->last_sent;
    if (d.done_ms < d.published_ms)
        d.done_ms = d.published_ms;
    lmq_plugin_run_done(s->plugins, &d);
}

int lmq_plugin_hook_out(lmq_session *s, const uint8_t **topic, size_t *tlen,
                        const uint8_t **payload, size_t *plen, int *qos, int *retain,
                        const lmq_proplist **props, int64_t now)
{
    lmq_plugin_msg m;
    uint8_t *raw = NULL;
    int bad = 0;

    if (!has(s, LMQ_HOOK_PUBLISH_OUT))
        return 0;
    if (*tlen > INT32_MAX || *plen > INT32_MAX)
        return 0;               /* the publish call refuses these itself */
    memset(&m, 0, sizeof m);
    m.direction = LMQ_PLUGIN_OUT;
    m.protocol = lmq_session_api_level(s);
    m.qos = *qos;
    m.retain = *retain != 0;
    m.topic = (const char *)*topic;
    m.topic_len = (int32_t)*tlen;
    m.payload = *payload;
    m.payload_len = (int32_t)*plen;
    /* The block as it will go on the wire; a list the PUBLISH cannot
     * carry is the publish call's to refuse, whatever a hook does. */
    if (*props && m.protocol == 5) {
        raw = lmq_plugin_props_block(*props, LMQ_FROM_CLIENT, &m.props_len, &bad);
        m.props = raw;
    }
    int verdict = lmq_plugin_run_msg(s->plugins, LMQ_HOOK_PUBLISH_OUT, &m, now);
    free(raw);
    if (verdict)
        return LMQ_EPLUGIN_DROP;
    if (!bad) {
        int rc = lmq_plugin_msg_proplist(s->plugins, props);
        if (rc < 0)
            return rc;
    }
    *topic = (const uint8_t *)m.topic;
    *tlen = (size_t)m.topic_len;
    *payload = m.payload;
    *plen = (size_t)m.payload_len;
    *qos = m.qos;
    *retain = m.retain;
    return 0;
}

/* ------------------------------------------------ the session's hook port */

static void port_log(void *ctx, int level, const char *text)
{
    lmq_plugin_run_log(ctx, level, text);
}

static void port_tick(void *ctx, int64_t now)
{
    lmq_plugin_run_tick(ctx, now);
}

static int64_t port_tick_deadline(void *ctx)
{
    return lmq_plugin_tick_deadline(ctx);
}

static void port_release(void *ctx)
{
    lmq_plugin_chain_free(ctx);
}

static const lmq_session_hooks plugin_hooks = {
    .connect = lmq_plugin_hook_connect,
    .connack = lmq_plugin_hook_connack,
    .disconnect = lmq_plugin_hook_disconnect,
    .subscribe = lmq_plugin_hook_subscribe,
    .suback = lmq_plugin_hook_suback,
    .connect_send = lmq_plugin_hook_connect_send,
    .auth = lmq_plugin_hook_auth,
    .done = lmq_plugin_hook_done,
    .in = lmq_plugin_hook_in,
    .out = lmq_plugin_hook_out,
    .log = port_log,
    .tick = port_tick,
    .tick_deadline = port_tick_deadline,
    .release = port_release,
};
