/*
 * connect.c - opening a connection: CONNECT out, CONNACK in (and every
 * limit it sets), the AUTH exchange of enhanced authentication and
 * re-authentication (MQTT 5, section 4.12).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "session/session_int.h"

static uint8_t *malloc_copy(const uint8_t *p, uint32_t n)
{
    uint8_t *c = malloc(n ? n : 1);
    if (c && n)
        memcpy(c, p, n);
    return c;
}

static lmq_slice bslice(const lmq_bytes *b)
{
    static const uint8_t empty[1];
    lmq_slice sl = { b->p ? b->p : empty, b->n };
    return sl;
}

/* Options win over the same property given in the LMQ_PROPS_CONNECT list
 * when they differ from their defaults. */
static void connect_props(lmq_session *s, lmq_props *pr)
{
    if (s->session_expiry) {
        pr->session_expiry = s->session_expiry;
        lmq_props_set(pr, LMQ_PROP_SESSION_EXPIRY);
    }
    if (s->receive_max != 65535) {
        pr->receive_maximum = s->receive_max;
        lmq_props_set(pr, LMQ_PROP_RECEIVE_MAXIMUM);
    }
    if (s->max_packet) {
        pr->maximum_packet_size = s->max_packet;
        lmq_props_set(pr, LMQ_PROP_MAXIMUM_PACKET_SIZE);
    }
    if (s->alias_max_in) {
        pr->topic_alias_maximum = s->alias_max_in;
        lmq_props_set(pr, LMQ_PROP_TOPIC_ALIAS_MAXIMUM);
    }
    if (s->req_resp_info) {
        pr->request_response_info = 1;
        lmq_props_set(pr, LMQ_PROP_REQUEST_RESPONSE_INFO);
    }
    if (!s->req_prob_info) {
        pr->request_problem_info = 0;
        lmq_props_set(pr, LMQ_PROP_REQUEST_PROBLEM_INFO);
    }
    if (s->auth_method.set) {
        pr->auth_method = bslice(&s->auth_method);
        lmq_props_set(pr, LMQ_PROP_AUTH_METHOD);
        if (s->auth_data.set) {
            pr->auth_data = bslice(&s->auth_data);
            lmq_props_set(pr, LMQ_PROP_AUTH_DATA);
        }
    }
}

/* What this connection enforces on the server, from what CONNECT said. */
static int apply_own_limits(lmq_session *s, const lmq_props *pr)
{
    uint32_t max_packet = 0;
    s->in_receive_max = 65535;
    s->in_alias_max = 0;
    if (s->level == 5) {
        s->sent_session_expiry = lmq_props_has(pr, LMQ_PROP_SESSION_EXPIRY)
                                     ? pr->session_expiry : 0;
        s->in_receive_max = lmq_props_has(pr, LMQ_PROP_RECEIVE_MAXIMUM)
                                ? pr->receive_maximum : 65535;
        s->in_alias_max = lmq_props_has(pr, LMQ_PROP_TOPIC_ALIAS_MAXIMUM)
                              ? pr->topic_alias_maximum : 0;
        if (lmq_props_has(pr, LMQ_PROP_MAXIMUM_PACKET_SIZE))
            max_packet = pr->maximum_packet_size;
    }
    /* [MQTT-3.1.2-29] with 0 sent, the server may put a Reason String or
     * User Property only on PUBLISH, CONNACK and DISCONNECT */
    s->no_problem_info = s->level == 5 &&
                         lmq_props_has(pr, LMQ_PROP_REQUEST_PROBLEM_INFO) &&
                         pr->request_problem_info == 0;
    /* The decoder refuses anything over our Maximum Packet Size
     * [MQTT-3.2.2-15 is the server's side of it]: DISCONNECT 0x95. */
    lmq_decoder_free(&s->dec);
    lmq_decoder_init(&s->dec, s->level, LMQ_FROM_SERVER, max_packet);
    return lmq_in_alias_reset(s);
}

/* The client id rules of the level `level`; 0 or LMQ_ECLIENT_ID with the
 * id and the rule in the session's message. */
static int check_client_id_at(lmq_session *s, int level)
{
    uint32_t n = s->client_id.n;
    const char *id = s->client_id.p ? (const char *)s->client_id.p : "";
    /* 3.1 wants 1..23 characters (MQTT 3.1, section 3.1, Client
     * Identifier); 3.1.1 lets an empty id through only with a clean
     * session [MQTT-3.1.3-7 of 3.1.1]; 5.0 lets the server assign one
     * [MQTT-3.1.3-6].  Which characters an id holds is not the client's
     * rule at any level: a server must take 0-9a-zA-Z and may take more
     * ([MQTT-3.1.3-5]), so other characters are left to it to refuse. */
    if (level == LMQ_MQTT_31 && (n == 0 || n > 23)) {
        lmq_session_seterr(s, "client id '%.*s' has %u characters: MQTT 3.1 allows 1 to 23 "
                           "(3.1 section 3.1, Client Identifier); shorten it or use "
                           "MQTT 3.1.1 or 5", (int)(n > 64 ? 64 : n), id, (unsigned)n);
        return LMQ_ECLIENT_ID;
    }
    if (level == LMQ_MQTT_311 && n == 0 && !s->clean_start) {
        lmq_session_seterr(s, "an empty client id needs a clean session in MQTT 3.1.1 "
                           "[MQTT-3.1.3-7 of 3.1.1]: give an id or set clean start");
        return LMQ_ECLIENT_ID;
    }
    return 0;
}

int lmq_session_check_client_id(lmq_session *s)
{
    return s ? check_client_id_at(s, s->cfg.level) : LMQ_EINVAL;
}

int lmq_connect_send(lmq_session *s)
{
    lmq_packet pkt;
    int rc;

    if ((rc = check_client_id_at(s, s->level)))
        return rc;
    if (s->password.set && !s->username.set && s->level < 5)
        return LMQ_EINVAL;      /* 3.x: password only with a user name */
    memset(&pkt, 0, sizeof pkt);
    pkt.type = LMQ_CONNECT;
    lmq_connect *c = &pkt.u.connect;
    c->level = s->level;
    c->clean = s->clean_start;
    c->keepalive = s->keepalive;
    c->client_id = bslice(&s->client_id);
    if (s->username.set)
        c->username = bslice(&s->username);
    if (s->password.set)
        c->password = bslice(&s->password);
    if (s->will_topic.set) {
        c->will = 1;
        c->will_qos = s->will_qos;
        c->will_retain = s->will_retain;
        c->will_topic = bslice(&s->will_topic);
        c->will_payload = bslice(&s->will_payload);
        if (s->level == 5 &&
            (rc = lmq_proplist_props(s->will_props, LMQ_IN_WILL, &c->will_props)))
            return rc;
    }
    /* Plugins may set this attempt's credentials and add properties. */
    const lmq_proplist *cprops = s->connect_props;
    if (s->plugins && (rc = s->hooks->connect_send(s, c, &cprops)))
        return rc;
    if (c->password.p && !c->username.p && s->level < 5)
        return LMQ_EINVAL;      /* a plugin's password without a user name */
    if (s->level == 5) {
        if ((rc = lmq_proplist_props(cprops, LMQ_IN(LMQ_CONNECT), &c->props)))
            return rc;
        connect_props(s, &c->props);
    }
    if ((rc = apply_own_limits(s, &c->props)))
        return rc;
    s->sent_clean = c->clean;
    s->auth_active = s->level == 5 && s->auth_method.set;
    s->ka = s->keepalive;
    if ((rc = lmq_session_emit(s, &pkt)))
        return rc;
    if (s->plugins)
        s->hooks->connect(s, c);
    /* Never the password or auth data in a log. */
    lmq_session_log(s, LMQ_LOG_INFO, "CONNECT level %d client id '%.*s' keepalive %u%s%s",
                    s->level, (int)c->client_id.n, (const char *)c->client_id.p,
                    (unsigned)c->keepalive, c->clean ? " clean" : "",
                    c->will ? " will" : "");
    return 0;
}

/* --------------------------------------------------------------- CONNACK */

/* The CONNACK return codes of 3.1.1 and 3.1 (3.1.1 section 3.2.2.3). */
static const char *v3_refusal(int code)
{
    static const char *const names[] = {
        NULL, "Unacceptable protocol version", "Identifier rejected",
        "Server unavailable", "Bad user name or password", "Not authorized",
    };
    return code > 0 && code < 6 ? names[code] : NULL;
}

static int refused(lmq_session *s, const lmq_connack *ca)
{
    const char *name = s->level == 5 ? lmq_reason_name(LMQ_CONNACK, ca->reason)
                                     : v3_refusal(ca->reason);
    lmq_event *ev = lmq_session_event(s, LMQ_EV_CONNECT_FAILED, LMQ_EREFUSED,
                                      ca->reason, &ca->props);
    char text[256];
    int n;

    /* Named (3.x codes too), with the Reason String when there is one. */
    n = snprintf(text, sizeof text, "connection refused: 0x%02X %s", ca->reason,
                 name ? name : "(unknown reason)");
    if (lmq_props_has(&ca->props, LMQ_PROP_REASON_STRING) && n > 0 && (size_t)n < sizeof text)
        snprintf(text + n, sizeof text - (size_t)n, " (\"%.*s\")",
                 (int)ca->props.reason_string.n, (const char *)ca->props.reason_string.p);
    if (ev)
        ev->text = lmq_evq_copy(&s->evq, text, strlen(text));
    s->reported = 1;
    s->failed = LMQ_EREFUSED;
    /* A reason >= 0x80 closes the connection [MQTT-4.13.2-1]: whatever the
     * server refused on, its protocol version [MQTT-3.1.2-2], the client id
     * [MQTT-3.1.3-8], credentials or authorization [MQTT-3.1.4-2], or an
     * authentication exchange [MQTT-4.12.0-4]. */
    s->state = LMQ_SS_CLOSING;
    lmq_session_seterr(s, "%s", text);
    lmq_session_log(s, LMQ_LOG_ERROR, "%s", text);
    return LMQ_EREFUSED;
}

/* CONNACK 20 02 00 01 to our v5 CONNECT: a 3.1.1 server refusing a level
 * it does not speak [MQTT-3.1.2-2 of 3.1.1].  Under LMQ_MQTT_AUTO the
 * client tries again at once with 3.1.1, kept for every reconnect;
 * otherwise the failure says what happened and what to change. */
int lmq_connect_not_v5(lmq_session *s)
{
    if (s->cfg.proto_auto) {
        s->cfg.level = LMQ_MQTT_311;
        s->fell_back = 1;
        s->failed = LMQ_ENOT_MQTT5;
        s->reported = 1;        /* not a failure: the next attempt follows */
        s->state = LMQ_SS_CLOSING;
        lmq_session_log(s, LMQ_LOG_WARNING, "the server does not speak MQTT 5 (it answered "
                        "CONNECT with the 3.1.1 refusal \"unacceptable protocol version\"): "
                        "connecting with MQTT 3.1.1 from now on (protocol auto)");
        return LMQ_ENOT_MQTT5;
    }
    /* (no DISCONNECT: the code maps to no reason; the server closes) */
    return lmq_session_fail(s, LMQ_ENOT_MQTT5,
                            "the server does not speak MQTT 5: it refused the CONNECT "
                            "as a 3.1.1 server does (CONNACK return code 1, unacceptable "
                            "protocol version); connect with MQTT 3.1.1 (LMQ_MQTT_311, "
                            "lunamq -V 311) or let the client choose (LMQ_MQTT_AUTO, -V auto)");
}

/* Every CONNACK property the client must obey (section 3.2.2.3); absent
 * ones take their defaults, so nothing carries over from an older
 * connection. */
static int take_server_limits(lmq_session *s, const lmq_props *p)
{
    s->srv_receive_max = lmq_props_has(p, LMQ_PROP_RECEIVE_MAXIMUM)
                             ? p->receive_maximum : 65535;    /* [MQTT-3.3.4-7] */
    /* [MQTT-3.2.2-9] the server announces what QoS it lacks; we obey it
     * [MQTT-3.2.2-11] */
    s->srv_max_qos = lmq_props_has(p, LMQ_PROP_MAXIMUM_QOS) ? p->maximum_qos : 2;
    s->srv_retain = lmq_props_has(p, LMQ_PROP_RETAIN_AVAILABLE) ? p->retain_available : 1;
    /* section 3.2.2.3.12: absent means available */
    s->srv_sub_ids = lmq_props_has(p, LMQ_PROP_SUB_ID_AVAILABLE) ? p->sub_id_available : 1;
    s->srv_max_packet = lmq_props_has(p, LMQ_PROP_MAXIMUM_PACKET_SIZE)
                            ? p->maximum_packet_size : 0;
    /* Aliases up to the server's maximum [MQTT-3.2.2-17], none when it
     * gave none or 0 [MQTT-3.2.2-18]. */
    s->srv_alias_max = lmq_props_has(p, LMQ_PROP_TOPIC_ALIAS_MAXIMUM)
                           ? p->topic_alias_maximum : 0;
    /* [MQTT-3.1.2-21] [MQTT-3.2.2-21] the server's keep alive replaces ours. */
    s->ka = lmq_props_has(p, LMQ_PROP_SERVER_KEEP_ALIVE) ? p->server_keep_alive
                                                         : s->keepalive;
    s->srv_known = 1;
    lmq_alias_out_reset(&s->aout, s->alias_out ? s->srv_alias_max : 0);
    /* The id the server chose is ours for the rest of the session
     * (section 3.2.2.3.7): later CONNECTs send it, as the name of the
     * state both sides keep [MQTT-3.1.3-2]. */
    if (lmq_props_has(p, LMQ_PROP_ASSIGNED_CLIENT_ID)) {
        lmq_bytes *id = &s->client_id;
        uint8_t *copy = malloc_copy(p->assigned_client_id.p, p->assigned_client_id.n);
        if (!copy)
            return LMQ_ENOMEM;
        free(id->p);
        id->p = copy;
        id->n = p->assigned_client_id.n;
        id->set = 1;
    }
    if (lmq_props_has(p, LMQ_PROP_SERVER_REFERENCE))
        lmq_session_log(s, LMQ_LOG_INFO, "server reference: %.*s",
                        (int)p->server_reference.n, (const char *)p->server_reference.p);
    return 0;
}

/* Send again what was in flight, in the original order [MQTT-4.6.0-1]:
 * PUBLISH with DUP and their ids, PUBREL for those PUBREC'd
 * [MQTT-4.4.0-1], as far as the new server's Receive Maximum allows
 * [MQTT-3.3.4-7] (the rest wait in s->resendq, see lmq_pub_resend), and
 * SUBSCRIBE / UNSUBSCRIBE never answered. */
static void resend_inflight(lmq_session *s, lmq_reqlist *old)
{
    lmq_req *r;
    while ((r = old->head)) {
        lmq_reqlist_remove(old, r);
        if (r->kind == LMQ_PUBLISH)
            lmq_pub_resend(s, r);
        else
            lmq_sub_send(s, r);
    }
}

/* Everything the last connection left in flight, in send order: what it
 * had resent (s->inflight), then what it had not got to yet (s->resendq;
 * nothing new was sent while that was not empty, so the order holds).
 * The window of the new connection starts empty. */
static lmq_reqlist take_inflight(lmq_session *s)
{
    lmq_reqlist old = s->inflight;
    lmq_req *r;

    memset(&s->inflight, 0, sizeof s->inflight);
    while ((r = s->resendq.head)) {
        lmq_reqlist_remove(&s->resendq, r);
        r->resend = 0;
        lmq_reqlist_append(&old, r);
    }
    s->inflight_pub = 0;
    return old;
}

int lmq_connect_on_connack(lmq_session *s, const lmq_connack *ca, int64_t now)
{
    int rc;

    (void)now;
    if (s->plugins)
        s->hooks->connack(s, ca);
    if (s->level == 5 ? ca->reason >= 0x80 : ca->reason != 0)
        return refused(s, ca);
    /* With clean start the server must answer session present 0
     * [MQTT-3.2.2-2]; a 1 means it kept what it had to discard. */
    if (ca->session_present && s->sent_clean)
        return lmq_session_fail(s, LMQ_EPROTOCOL,
                                "session present after clean start [MQTT-3.2.2-2]");
    if ((rc = take_server_limits(s, &ca->props)))
        return lmq_session_fail(s, rc, "out of memory");
    s->auth_active = 0;
    s->state = LMQ_SS_CONNECTED;
    s->got_connack = 1;
    lmq_event *ev = lmq_session_event(s, LMQ_EV_CONNECTED, 0, ca->reason, &ca->props);
    if (ev)
        ev->session_present = ca->session_present;
    lmq_session_log(s, LMQ_LOG_INFO, "connected, session present %d", ca->session_present);

    lmq_reqlist old = take_inflight(s);
    if (!ca->session_present) {
        /* The server has no session: neither half survives
         * [MQTT-4.1.0-1] [MQTT-3.2.2-5]: packet ids and flow states are
         * dropped (see lmq_pub_session_lost for our messages). */
        lmq_in_clear(s);
        lmq_pub_session_lost(s, &old);
        if (s->auto_resub)
            lmq_sub_resubscribe(s);
    }
    resend_inflight(s, &old);
    lmq_sub_flush(s);
    lmq_pub_pump(s);
    return s->failed;
}

/* ------------------------------------------------------------------ AUTH */

static int same_method(const lmq_session *s, const lmq_props *p)
{
    return lmq_props_has(p, LMQ_PROP_AUTH_METHOD) &&
           p->auth_method.n == s->auth_method.n &&
           (s->auth_method.n == 0 ||
            memcmp(p->auth_method.p, s->auth_method.p, s->auth_method.n) == 0);
}

int lmq_connect_on_auth(lmq_session *s, const lmq_disconnect *au)
{
    /* AUTH only within an exchange we started, with our method
     * [MQTT-4.12.0-2] [MQTT-4.12.0-5]. */
    if (!s->auth_method.set || !s->auth_active)
        return lmq_session_fail(s, LMQ_EPROTOCOL, "AUTH without an authentication exchange");
    if (!same_method(s, &au->props))
        return lmq_session_fail(s, LMQ_EPROTOCOL,
                                "AUTH with another authentication method [MQTT-4.12.0-5]");
    if (au->reason == 0x00) {
        /* Success by AUTH ends a re-authentication only; the first
         * exchange ends with CONNACK. */
        if (s->state != LMQ_SS_CONNECTED)
            return lmq_session_fail(s, LMQ_EPROTOCOL, "AUTH success before CONNACK");
        s->auth_active = 0;
    } else if (au->reason != 0x18) {
        return lmq_session_fail(s, LMQ_EPROTOCOL, "AUTH re-authenticate from the server");
    } else if (s->plugins) {
        /* A plugin may answer the challenge itself (then the application
         * is not asked). */
        int rc = s->hooks->auth(s, au, s->last_recv);
        if (rc < 0)
            return lmq_session_fail(s, rc, "cannot send a plugin's AUTH answer");
        if (rc == 1)
            return 0;
    }
    lmq_session_event(s, LMQ_EV_AUTH, 0, au->reason, &au->props);
    return 0;
}

int lmq_session_auth(lmq_session *s, int reason, const lmq_proplist *props, int64_t now)
{
    lmq_packet pkt;
    int rc;

    (void)now;
    if (!s)
        return LMQ_EINVAL;
    if (s->level != 5)
        return LMQ_EVERSION;
    if (!s->auth_method.set)
        return LMQ_ESTATE;      /* no method in CONNECT, no AUTH [MQTT-4.12.0-7] */
    if (reason == 0x18) {
        /* Continue: only an answer to the server's challenge, and the
         * only reason that answers one [MQTT-4.12.0-3]. */
        if (!s->auth_active || (s->state != LMQ_SS_CONNECTING && s->state != LMQ_SS_CONNECTED))
            return LMQ_ESTATE;
    } else if (reason == 0x19) {
        /* Re-authenticate: only when connected [MQTT-4.12.1-1]. */
        if (s->state != LMQ_SS_CONNECTED || s->auth_active)
            return LMQ_ESTATE;
    } else {
        return LMQ_EINVAL;
    }
    memset(&pkt, 0, sizeof pkt);
    pkt.type = LMQ_AUTH;
    pkt.u.disconnect.reason = (uint8_t)reason;
    if ((rc = lmq_proplist_props(props, LMQ_IN(LMQ_AUTH), &pkt.u.disconnect.props)))
        return rc;
    lmq_props *p = &pkt.u.disconnect.props;
    if (!lmq_props_has(p, LMQ_PROP_AUTH_METHOD)) {
        p->auth_method = bslice(&s->auth_method);   /* [MQTT-4.12.1-1] same method */
        lmq_props_set(p, LMQ_PROP_AUTH_METHOD);
    } else if (!same_method(s, p)) {
        return LMQ_EINVAL;
    }
    if ((rc = lmq_session_emit(s, &pkt)))
        return rc;
    if (reason == 0x19)
        s->auth_active = 1;
    lmq_session_log(s, LMQ_LOG_DEBUG, "AUTH sent (reason 0x%02x)", reason);
    return 0;
}
