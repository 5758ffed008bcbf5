/*
 * session.c - the session's lifecycle: options, one connection after
 * another (start / lost), bytes in and out, keepalive, errors, events.
 * The protocol flows themselves are in connect.c, publish.c and
 * subscribe.c.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "session/session_int.h"

#define LMQ_PING_WAIT_MIN_MS 3000   /* "a few seconds" for a PINGRESP */

/* What a client assumes of a server no CONNACK has described yet
 * (section 3.2.2.3: the defaults of absent properties). */
static void server_defaults(lmq_session *s)
{
    s->srv_receive_max = 65535;
    s->srv_max_qos = 2;
    s->srv_retain = 1;
    s->srv_sub_ids = 1;
    s->srv_max_packet = 0;
    s->srv_alias_max = 0;
    s->srv_known = 0;
}

/* The connection-shaping options, fixed for one connection. */
static void take_cfg(lmq_session *s)
{
    s->level = s->cfg.level;
    s->keepalive = s->cfg.keepalive;
    s->manual_ack = s->cfg.manual_ack;
    s->alias_out = s->cfg.alias_out;
}

lmq_session *lmq_session_new(void)
{
    lmq_session *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->cfg.level = LMQ_MQTT_5;
    s->cfg.keepalive = 60;
    s->cfg.alias_out = 1;
    s->clean_start = 1;
    s->receive_max = 65535;
    s->req_prob_info = 1;
    s->connect_timeout_ms = 10000;
    s->drain_ms = 10000;
    s->offline_max_msgs = 10000;
    s->offline_max_bytes = 16u << 20;
    s->offline_policy = LMQ_QUEUE_REFUSE;
    s->hold_max_bytes = 16u << 20;
    s->auto_resub = 1;
    s->log_level = LMQ_LOG_WARNING;
    take_cfg(s);
    server_defaults(s);
    s->next_pid = 1;
    s->next_msg_id = 1;
    s->server_reason = -1;
    return s;
}

void lmq_bytes_free(lmq_bytes *b)
{
    free(b->p);
    memset(b, 0, sizeof *b);
}

void lmq_session_free(lmq_session *s)
{
    if (!s)
        return;
    /* First: a plugin's shutdown may still log through the session. */
    lmq_session_set_hooks(s, NULL, NULL);
    lmq_durable_close(s);
    free(s->state_dir);
    lmq_out_free_all(s);
    lmq_evq_free(&s->evq);
    lmq_hold_free(s);
    lmq_alias_out_free(&s->aout);
    lmq_in_alias_free(s);
    lmq_decoder_free(&s->dec);
    lmq_sub_memo_free(s);
    free(s->in_state);
    free(s->in_gen);
    free(s->pack);
    free(s->obuf);
    lmq_bytes_free(&s->client_id);
    lmq_bytes_free(&s->username);
    lmq_bytes_free(&s->password);
    lmq_bytes_free(&s->auth_method);
    lmq_bytes_free(&s->auth_data);
    lmq_bytes_free(&s->will_topic);
    lmq_bytes_free(&s->will_payload);
    lmq_proplist_free(s->connect_props);
    lmq_proplist_free(s->will_props);
    lmq_proplist_free(s->drain_props);
    free(s);
}

/* ------------------------------------------------------ events and logs */

lmq_event *lmq_session_event(lmq_session *s, int type, int error, int reason,
                             const lmq_props *props)
{
    /* Every end of a connection comes through here, whichever path saw it. */
    if (s->plugins && (type == LMQ_EV_DISCONNECTED || type == LMQ_EV_CONNECT_FAILED))
        s->hooks->disconnect(s, error, reason, props);
    lmq_event *ev = lmq_evq_push(&s->evq, type);
    if (!ev)
        return NULL;
    ev->error = error;
    ev->reason = reason;
    if (props && props->raw.p && props->raw.n) {
        const uint8_t *raw = lmq_evq_copy(&s->evq, props->raw.p, props->raw.n);
        if (raw) {
            ev->props = raw;
            ev->props_len = (int32_t)props->raw.n;
        }
    }
    return ev;
}

static void event_text(lmq_session *s, lmq_event *ev, const char *text)
{
    if (ev && text)
        ev->text = lmq_evq_copy(&s->evq, text, strlen(text));
}

void lmq_session_log(lmq_session *s, int level, const char *fmt, ...)
{
    char buf[256];
    va_list ap;

    if (level > s->log_level)
        return;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    lmq_session_push_log(s, level, buf);
    if (s->plugins)
        s->hooks->log(s->plugins, level, buf);
}

void lmq_session_seterr(lmq_session *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->errmsg, sizeof s->errmsg, fmt, ap);
    va_end(ap);
}

const char *lmq_session_errmsg(const lmq_session *s)
{
    return s ? s->errmsg : "";
}

void lmq_session_push_event(lmq_session *s, int type, int error, int reason,
                            const char *text)
{
    if (s)
        event_text(s, lmq_session_event(s, type, error, reason, NULL), text);
}

void lmq_session_set_hooks(lmq_session *s, const lmq_session_hooks *h, void *ctx)
{
    const lmq_session_hooks *old = s->hooks;
    void *old_ctx = s->plugins;

    /* Released while still installed: a plugin's shutdown may log through
     * the session, to the chain being shut down, as it always did. */
    if (old && old_ctx && old_ctx != ctx)
        old->release(old_ctx);
    s->hooks = h && ctx ? h : NULL;
    s->plugins = h && ctx ? ctx : NULL;
}

void *lmq_session_hooks_ctx(const lmq_session *s, const lmq_session_hooks *h)
{
    return s && s->hooks == h ? s->plugins : NULL;
}

void lmq_session_push_log(lmq_session *s, int level, const char *text)
{
    lmq_event *ev = s ? lmq_session_event(s, LMQ_EV_LOG, 0, 0, NULL) : NULL;
    if (ev)
        ev->log_level = level;
    event_text(s, ev, text);
}

int lmq_session_events(lmq_session *s, lmq_event *out, int max)
{
    return lmq_session_events_sized(s, out, max, sizeof *out);
}

int lmq_session_events_sized(lmq_session *s, void *out, int max, size_t size)
{
    if (!s || !out || max <= 0)
        return 0;
    int n = lmq_evq_pull(&s->evq, out, max, size);
    /* With a store, a QoS 2 message handed out now is acknowledged now:
     * its id recorded and written before this returns (durable.c).  Also
     * once the store is given up: the acks it deferred are still owed. */
    if (s->pack_n)
        lmq_durable_acks_pulled(s, s->evq.pushed - s->evq.count + (uint32_t)n);
    if (s->store)
        lmq_durable_commit(s);
    return n;
}

/* The callback form: the events handed out are acknowledged (durable QoS
 * 1/2: recorded, PUBACK / PUBREC queued) by lmq_session_events_done, once
 * the application is done with them, not by the pull. */
int lmq_session_events_take(lmq_session *s, lmq_event *out, int max)
{
    if (!s || !out || max <= 0)
        return 0;
    int n = lmq_evq_pull(&s->evq, out, max, sizeof *out);
    s->ack_upto = s->evq.pushed - s->evq.count + (uint32_t)n;
    return n;
}

void lmq_session_events_done(lmq_session *s)
{
    if (s->pack_n)
        lmq_durable_acks_pulled(s, s->ack_upto);
    if (s->store)
        lmq_durable_commit(s);
}

/* ------------------------------------------------------------ bytes out */

/* The unsent output is dropped, and with it its fences (the absolute
 * position moves past it). */
static void out_drop(lmq_session *s)
{
    lmq_pub_unwritten_requeue(s);
    lmq_durable_out_discard(s);
    s->ostart = s->oend = 0;
}

static int out_reserve(lmq_session *s, size_t n)
{
    if (s->ostart == s->oend)
        s->ostart = s->oend = 0;
    if (s->ocap - s->oend >= n)
        return 0;
    if (s->ostart > 0) {
        memmove(s->obuf, s->obuf + s->ostart, s->oend - s->ostart);
        s->oend -= s->ostart;
        s->ostart = 0;
        if (s->ocap - s->oend >= n)
            return 0;
    }
    size_t cap = s->ocap ? s->ocap : 4096;
    while (cap - s->oend < n)
        cap *= 2;
    uint8_t *p = realloc(s->obuf, cap);
    if (!p)
        return LMQ_ENOMEM;
    s->obuf = p;
    s->ocap = cap;
    return 0;
}

/* Encode a packet to the output.  Nothing is ever sent larger than the
 * server's Maximum Packet Size [MQTT-3.1.2-24]. */
/*
 * Encode pkt straight into the output buffer: one encoder call on the hot
 * path.  Only when the spare room is too small (LMQ_EBUFSIZE, nothing
 * written) is the packet sized, the buffer grown and the encoding retried.
 * A packet over the server's Maximum Packet Size [MQTT-3.1.2-24] is not
 * committed (oend does not move) and gives LMQ_ESERVER_MAX_SIZE: so a
 * Reason String or User Property the application put in an AUTH or
 * DISCONNECT never takes it past that size [MQTT-3.15.2-2]
 * [MQTT-3.15.2-3] (the session's own PUBACK, PUBREC, PUBREL and PUBCOMP
 * carry neither, see lmq_pub_send_ack).
 */
int lmq_session_emit(lmq_session *s, const lmq_packet *pkt)
{
    int rc;

    if (s->ostart == s->oend)
        s->ostart = s->oend = 0;
    if (!s->obuf && (rc = out_reserve(s, 1)))
        return rc;
    int64_t w = lmq_encode_as(pkt, s->level, LMQ_FROM_CLIENT, s->obuf + s->oend,
                              s->ocap - s->oend);
    if (w == LMQ_EBUFSIZE) {
        int64_t n = lmq_encode_size_as(pkt, s->level, LMQ_FROM_CLIENT);
        if (n < 0)
            return (int)n;
        if (s->srv_max_packet && (uint64_t)n > s->srv_max_packet)
            return LMQ_ESERVER_MAX_SIZE;
        if ((rc = out_reserve(s, (size_t)n)))
            return rc;
        w = lmq_encode_as(pkt, s->level, LMQ_FROM_CLIENT, s->obuf + s->oend,
                          s->ocap - s->oend);
    }
    if (w < 0)
        return (int)w;
    if (s->srv_max_packet && (uint64_t)w > s->srv_max_packet)
        return LMQ_ESERVER_MAX_SIZE;
    s->oend += (size_t)w;
    return 0;
}

size_t lmq_session_out(lmq_session *s, const uint8_t **p)
{
    size_t n = 0;
    /* Write-ahead: the state file learns of a change before the bytes
     * acting on it go (one write per batch of output; the fsync runs on
     * the store's thread, and only the bytes that need it wait for it:
     * see durable.c). */
    if (s && s->store)
        lmq_durable_commit(s);
    if (s && s->ostart != s->oend)
        n = lmq_durable_out_allowed(s, s->oend - s->ostart);
    if (p)
        *p = n ? s->obuf + s->ostart : NULL;
    return n;
}

void lmq_session_sent(lmq_session *s, size_t k, int64_t now)
{
    if (!s || k == 0)
        return;
    if (k > s->oend - s->ostart)
        k = s->oend - s->ostart;
    s->ostart += k;
    s->out_abs += k;
    s->clock = now;
    if (s->ostart == s->oend)
        s->ostart = s->oend = 0;
    s->last_sent = now;         /* keepalive counts what was written */
    if (s->unwritten.head)
        lmq_pub_written(s, s->out_abs);
    /* Room below the high-water mark again: more of the queue goes. */
    if (s->pending.head && s->oend - s->ostart < LMQ_OUT_HIGH_WATER)
        lmq_pub_pump(s);
}

/* --------------------------------------------------------------- errors */

/*
 * The server broke the protocol (or the link died): say why in an event,
 * and at v5 queue the DISCONNECT with the matching reason code (section
 * 4.13: 0x81 malformed, 0x82 protocol error, 0x93, 0x94, 0x95).  3.x has
 * no reason codes and just closes (3.1.1 section 4.8).  The connection then
 * goes CLOSING; the caller flushes and closes.
 */
int lmq_session_fail(lmq_session *s, int err, const char *text)
{
    if (s->failed)
        return s->failed;
    s->failed = err;
    lmq_session_seterr(s, "%s", text);
    int reason = lmq_error_reason(err);
    if (s->level == 5 && reason && s->state != LMQ_SS_CLOSING) {
        lmq_packet pkt;
        memset(&pkt, 0, sizeof pkt);
        pkt.type = LMQ_DISCONNECT;
        pkt.u.disconnect.reason = (uint8_t)reason;
        if (lmq_session_emit(s, &pkt))
            reason = 0;
    } else {
        reason = 0;
    }
    if (!s->reported) {
        int type = s->state == LMQ_SS_CONNECTING ? LMQ_EV_CONNECT_FAILED
                                                 : LMQ_EV_DISCONNECTED;
        event_text(s, lmq_session_event(s, type, err, reason, NULL), text);
        s->reported = 1;
    }
    lmq_session_log(s, LMQ_LOG_ERROR, "%s (%s)", text, lmq_errname(err));
    s->state = LMQ_SS_CLOSING;
    return err;
}

/* ------------------------------------------------------------ lifecycle */

int lmq_session_start(lmq_session *s, int64_t now)
{
    if (!s)
        return LMQ_EINVAL;
    if (s->state != LMQ_SS_OFFLINE)
        return LMQ_ESTATE;      /* one CONNECT per connection [MQTT-3.1.0-2] */
    /* What a previous process left is restored before CONNECT goes. */
    int rc = lmq_durable_open(s);
    if (rc)
        return rc;
    s->conn_gen++;
    s->failed = 0;
    s->server_reason = -1;
    s->fell_back = 0;
    s->got_connack = 0;
    s->undelivered = 0;
    s->reported = 0;
    s->user_closing = 0;
    s->close_reason = 0;
    s->ping_out = 0;
    s->rmax_warned = 0;
    s->auth_active = 0;
    out_drop(s);
    s->clock = now;
    s->last_sent = s->last_recv = now;
    s->connect_deadline = s->connect_timeout_ms ? now + s->connect_timeout_ms : 0;
    /* Options changed since the last connection apply from here on. */
    take_cfg(s);
    /* This may be another server: nothing is judged by the previous one's
     * limits (until CONNACK, publish only queues), and nothing bounds the
     * CONNECT. */
    server_defaults(s);
    lmq_alias_out_reset(&s->aout, 0);
    s->state = LMQ_SS_CONNECTING;
    /* The output is empty: CONNECT is the connection's first packet
     * [MQTT-3.1.0-1]. */
    rc = lmq_connect_send(s);
    if (rc) {
        s->state = LMQ_SS_OFFLINE;
        out_drop(s);
    }
    return rc;
}

void lmq_session_lost(lmq_session *s, int64_t now, int error)
{
    (void)now;
    if (!s || s->state == LMQ_SS_OFFLINE)
        return;
    /* Our own disconnect ends here (the connection may have broken while
     * it drained): what it could not deliver is said before it closes. */
    if (s->user_closing || s->draining) {
        s->draining = 0;
        lmq_proplist_free(s->drain_props);
        s->drain_props = NULL;
        out_drop(s);            /* unwritten QoS 0 counted as queued */
        lmq_session_report_undelivered(s);
    }
    if (!s->reported) {
        int type = s->state == LMQ_SS_CONNECTING ? LMQ_EV_CONNECT_FAILED
                                                 : LMQ_EV_DISCONNECTED;
        if (!error && !s->user_closing)
            error = LMQ_ECLOSED;
        lmq_session_event(s, type, error, s->user_closing ? s->close_reason : 0, NULL);
        s->reported = 1;
    }
    lmq_session_log(s, LMQ_LOG_INFO, "connection closed (%s)",
                    error ? lmq_errname(error) : "clean");
    s->state = LMQ_SS_OFFLINE;
    out_drop(s);                /* unsent bytes belonged to that connection */
    s->ping_out = 0;
    s->auth_active = 0;
    s->user_closing = 0;        /* offline again: publish queues as usual */
    lmq_in_forget_unacked(s);
    lmq_in_alias_free(s);
    lmq_alias_out_reset(&s->aout, 0);
    lmq_decoder_free(&s->dec);
}

int lmq_session_state(const lmq_session *s)
{
    return s ? s->state : LMQ_SS_OFFLINE;
}

int lmq_session_wants_close(const lmq_session *s)
{
    return s && s->state == LMQ_SS_CLOSING && s->ostart == s->oend;
}

/* Queue our DISCONNECT (checked already) and go CLOSING. */
static int send_disconnect(lmq_session *s, const lmq_packet *pkt, int reason)
{
    int rc = lmq_session_emit(s, pkt);
    if (rc)
        return rc;
    s->user_closing = 1;
    s->close_reason = reason;
    /* Nothing more is sent [MQTT-3.14.4-1]; once the DISCONNECT is written
     * lmq_session_wants_close says close [MQTT-3.14.4-2]. */
    s->state = LMQ_SS_CLOSING;
    lmq_session_log(s, LMQ_LOG_INFO, "DISCONNECT sent (reason 0x%02x)", reason);
    return 0;
}

static int build_disconnect(lmq_session *s, int reason, const lmq_proplist *props,
                            lmq_packet *pkt)
{
    int rc;

    memset(pkt, 0, sizeof *pkt);
    pkt->type = LMQ_DISCONNECT;
    if (s->level != 5)
        return 0;
    if (reason < 0 || reason > 0xFF ||
        lmq_codec_check_reason(LMQ_DISCONNECT, 5, (uint8_t)reason, LMQ_FROM_CLIENT) != 0)
        return LMQ_EINVAL;
    if ((rc = lmq_proplist_props(props, LMQ_IN(LMQ_DISCONNECT), &pkt->u.disconnect.props)))
        return rc;
    /* Section 3.14.2.2.2: a non-zero Session Expiry in DISCONNECT
     * after a CONNECT that had zero is a Protocol Error. */
    const lmq_props *dp = &pkt->u.disconnect.props;
    if (lmq_props_has(dp, LMQ_PROP_SESSION_EXPIRY) && dp->session_expiry &&
        !s->sent_session_expiry)
        return LMQ_EINVAL;
    pkt->u.disconnect.reason = (uint8_t)reason;
    return 0;
}

/*
 * Connected with messages still to deliver (queued, unwritten, waiting for
 * their acks): the DISCONNECT waits until they are complete or
 * LMQ_OPT_DRAIN_TIMEOUT_MS passed (lmq_session_drain_check); meanwhile new
 * publishes are refused (LMQ_ESTATE) and acks are processed as usual.
 */
int lmq_session_disconnect(lmq_session *s, int reason, const lmq_proplist *props,
                           int64_t now)
{
    lmq_packet pkt;
    int rc;

    if (!s)
        return LMQ_EINVAL;
    if (s->state == LMQ_SS_OFFLINE)
        return LMQ_ENOT_CONNECTED;
    if (s->state == LMQ_SS_CLOSING || s->draining)
        return LMQ_ESTATE;
    if ((rc = build_disconnect(s, reason, props, &pkt)))
        return rc;
    if (s->level != 5)
        reason = 0;
    if (s->state == LMQ_SS_CONNECTED && !s->failed && s->drain_ms > 0 &&
        lmq_pub_backlog(s) > 0) {
        if (props && s->level == 5 && !(s->drain_props = lmq_proplist_dup(props, &rc)))
            return rc;
        s->draining = 1;
        s->user_closing = 1;    /* publish & co refuse from now on */
        s->drain_reason = (uint8_t)reason;
        s->drain_deadline = now + s->drain_ms;
        lmq_session_log(s, LMQ_LOG_INFO,
                        "disconnect: delivering %u accepted messages first (up to %lld ms)",
                        lmq_pub_backlog(s), (long long)s->drain_ms);
        return 0;
    }
    return send_disconnect(s, &pkt, reason);
}

void lmq_session_drain_check(lmq_session *s, int force)
{
    lmq_packet pkt;

    if (!s->draining || s->state != LMQ_SS_CONNECTED || s->failed)
        return;
    if (!force && lmq_pub_backlog(s) > 0)
        return;
    s->draining = 0;
    if (force)
        lmq_session_log(s, LMQ_LOG_WARNING,
                        "disconnect: %u messages still undelivered after %lld ms",
                        lmq_pub_backlog(s), (long long)s->drain_ms);
    int rc = build_disconnect(s, s->drain_reason, s->drain_props, &pkt);
    if (!rc)
        rc = send_disconnect(s, &pkt, s->drain_reason);
    if (rc)
        lmq_session_fail(s, rc, "cannot queue DISCONNECT");
    lmq_proplist_free(s->drain_props);
    s->drain_props = NULL;
}

/*
 * What our own disconnect leaves undelivered: messages accepted by publish
 * and not complete (never sent, not written whole, or sent and not
 * acknowledged).  They stay in the session (with a state directory, in the
 * file: the next run sends them); the application hears of them here, as
 * an LMQ_EV_ERROR with LMQ_EUNDELIVERED and in the error message.
 */
void lmq_session_report_undelivered(lmq_session *s)
{
    char text[200];
    uint32_t queued = s->pending.count + s->unwritten.count;
    uint32_t unacked = s->inflight_pub + s->resendq.count;

    s->undelivered = queued + unacked;
    if (!s->undelivered)
        return;
    snprintf(text, sizeof text,
             "disconnect: %u accepted messages not delivered (%u not sent, %u not "
             "acknowledged)%s", s->undelivered, queued, unacked,
             s->store ? "; kept in the state file for the next run" : "");
    lmq_session_seterr(s, "%s", text);
    event_text(s, lmq_session_event(s, LMQ_EV_ERROR, LMQ_EUNDELIVERED, 0, NULL), text);
    lmq_session_log(s, LMQ_LOG_WARNING, "%s", text);
}

uint32_t lmq_session_undelivered(const lmq_session *s)
{
    return s ? s->undelivered : 0;
}

/* ----------------------------------------------------------- bytes in */

static int on_server_disconnect(lmq_session *s, const lmq_disconnect *d)
{
    lmq_event *ev = lmq_session_event(s, s->state == LMQ_SS_CONNECTING
                                             ? LMQ_EV_CONNECT_FAILED
                                             : LMQ_EV_DISCONNECTED,
                                      LMQ_EDISCONNECTED, d->reason, &d->props);
    const char *name = lmq_reason_name(LMQ_DISCONNECT, d->reason);
    char text[256];
    int n;

    s->reported = 1;
    s->server_reason = d->reason;
    if (lmq_props_has(&d->props, LMQ_PROP_SERVER_REFERENCE))
        lmq_session_log(s, LMQ_LOG_INFO, "server reference: %.*s",
                        (int)d->props.server_reference.n,
                        (const char *)d->props.server_reference.p);
    /* Named, with the server's Reason String when it gave one, so every
     * front end shows what happened without a debug log. */
    n = snprintf(text, sizeof text, "the server sent DISCONNECT 0x%02X %s", d->reason,
                 name ? name : "(unknown reason)");
    if (d->reason == 0x8E && n > 0 && (size_t)n < sizeof text)
        n += snprintf(text + n, sizeof text - (size_t)n,
                      ": another client connected with this client id");
    if (lmq_props_has(&d->props, LMQ_PROP_REASON_STRING) && n > 0 && (size_t)n < sizeof text)
        snprintf(text + n, sizeof text - (size_t)n, " (\"%.*s\")",
                 (int)d->props.reason_string.n, (const char *)d->props.reason_string.p);
    event_text(s, ev, text);
    lmq_session_seterr(s, "%s", text);
    lmq_session_log(s, LMQ_LOG_WARNING, "%s", text);
    /* The server closes; we send nothing more [MQTT-3.14.4-1].  This is
     * also how a failed re-authentication ends [MQTT-4.12.1-2]. */
    s->failed = LMQ_EDISCONNECTED;
    s->state = LMQ_SS_CLOSING;
    return LMQ_EDISCONNECTED;
}

static const char *type_name(uint8_t t)
{
    static const char *names[] = { "?", "CONNECT", "CONNACK", "PUBLISH", "PUBACK",
                                   "PUBREC", "PUBREL", "PUBCOMP", "SUBSCRIBE",
                                   "SUBACK", "UNSUBSCRIBE", "UNSUBACK", "PINGREQ",
                                   "PINGRESP", "DISCONNECT", "AUTH" };
    return t < 16 ? names[t] : "?";
}

/* The properties of an ack or AUTH (the packets [MQTT-3.1.2-29] keeps a
 * Reason String and User Property off), or NULL. */
static const lmq_props *problem_props(const lmq_packet *pkt)
{
    switch (pkt->type) {
    case LMQ_PUBACK: case LMQ_PUBREC: case LMQ_PUBREL: case LMQ_PUBCOMP:
        return &pkt->u.ack.props;
    case LMQ_SUBACK: case LMQ_UNSUBACK:
        return &pkt->u.suback.props;
    case LMQ_AUTH:
        return &pkt->u.disconnect.props;
    default:
        return NULL;
    }
}

static int dispatch(lmq_session *s, lmq_packet *pkt, int64_t now)
{
    char msg[96];
    const lmq_props *pp;        /* [MQTT-3.1.2-29] below */

    lmq_session_log(s, LMQ_LOG_DEBUG, "received %s", type_name(pkt->type));
    /* [MQTT-3.1.2-29] we asked for no problem information: a Reason String
     * or User Property anywhere but PUBLISH, CONNACK, DISCONNECT is a
     * Protocol Error (DISCONNECT 0x82). */
    if (s->no_problem_info && (pp = problem_props(pkt)) &&
        (lmq_props_has(pp, LMQ_PROP_REASON_STRING) || pp->n_user)) {
        snprintf(msg, sizeof msg, "%s with problem information we declined [MQTT-3.1.2-29]",
                 type_name(pkt->type));
        return lmq_session_fail(s, LMQ_EPROTOCOL, msg);
    }
    switch (pkt->type) {
    case LMQ_CONNACK:
        if (s->state != LMQ_SS_CONNECTING)
            return lmq_session_fail(s, LMQ_EPROTOCOL, "a second CONNACK [MQTT-3.2.0-2]");
        return lmq_connect_on_connack(s, &pkt->u.connack, now);
    case LMQ_DISCONNECT:
        return on_server_disconnect(s, &pkt->u.disconnect);
    case LMQ_AUTH:
        return lmq_connect_on_auth(s, &pkt->u.disconnect);
    default:
        break;
    }
    if (s->state != LMQ_SS_CONNECTED) {
        /* Only CONNACK, AUTH or DISCONNECT may come before CONNACK
         * [MQTT-3.2.0-1]. */
        snprintf(msg, sizeof msg, "%s before CONNACK", type_name(pkt->type));
        return lmq_session_fail(s, LMQ_EPROTOCOL, msg);
    }
    switch (pkt->type) {
    case LMQ_PINGRESP:
        return 0;
    case LMQ_PUBLISH:
        return lmq_pub_on_publish(s, &pkt->u.publish);
    case LMQ_PUBACK:
    case LMQ_PUBREC:
    case LMQ_PUBCOMP:
        return lmq_pub_on_ack(s, pkt);
    case LMQ_PUBREL:
        return lmq_pub_on_pubrel(s, &pkt->u.ack);
    case LMQ_SUBACK:
    case LMQ_UNSUBACK:
        return lmq_sub_on_ack(s, pkt);
    default:
        snprintf(msg, sizeof msg, "unexpected %s", type_name(pkt->type));
        return lmq_session_fail(s, LMQ_EPROTOCOL, msg);
    }
}

/* Whether bytes received now count: 0 yes, 1 ignore them (after our
 * DISCONNECT nothing matters), else the LMQ_E* code to return. */
static int input_gate(lmq_session *s, int64_t now)
{
    s->clock = now;
    if (s->failed)
        return s->failed;
    if (s->state == LMQ_SS_OFFLINE)
        return LMQ_ESTATE;
    if (s->state == LMQ_SS_CLOSING)
        return 1;
    return 0;
}

/* Act on every whole packet the decoder holds. */
static int input_decode(lmq_session *s, int64_t now)
{
    lmq_packet pkt;
    char msg[128];
    int rc;

    while ((rc = lmq_decoder_next(&s->dec, &pkt)) == 1) {
        /* Only a whole packet proves the server alive: a server that
         * trickles the bytes of a packet it never finishes must not keep
         * the PINGRESP wait from expiring (3.1.2.10: no PINGRESP within a
         * reasonable time, close). */
        s->last_recv = now;
        s->ping_out = 0;
        if ((rc = dispatch(s, &pkt, now)) < 0)
            return rc;
        if (s->state == LMQ_SS_CLOSING)
            return 0;
    }
    if (rc == LMQ_ENOT_MQTT5 && s->state == LMQ_SS_CONNECTING)
        return lmq_connect_not_v5(s);
    if (rc < 0) {
        snprintf(msg, sizeof msg, "malformed packet from the server: %s",
                 lmq_strerror(rc));
        return lmq_session_fail(s, rc, msg);
    }
    return 0;
}

int lmq_session_server_reason(const lmq_session *s)
{
    return s ? s->server_reason : -1;
}

int lmq_session_fell_back(const lmq_session *s)
{
    return s && s->fell_back;
}

int lmq_session_got_connack(const lmq_session *s)
{
    return s && s->got_connack;
}

int lmq_session_input(lmq_session *s, const uint8_t *p, size_t n, int64_t now)
{
    int rc;

    if (!s || (!p && n))
        return LMQ_EINVAL;
    if ((rc = input_gate(s, now)))
        return rc < 0 ? rc : 0;
    if (n == 0)
        return 0;
    /* Any cut of the ordered byte stream the transport gives (TCP, TLS,
     * WebSocket [MQTT-4.2-1]): the decoder buffers partial packets. */
    if ((rc = lmq_decoder_feed(&s->dec, p, n)))
        return lmq_session_fail(s, rc, "out of memory buffering input");
    return input_decode(s, now);
}

int lmq_session_input_space(lmq_session *s, size_t want, uint8_t **p)
{
    int rc;

    if (!s || !p)
        return LMQ_EINVAL;
    rc = lmq_decoder_space(&s->dec, want, p);
    if (rc < 0 && !s->failed)
        return lmq_session_fail(s, rc, "out of memory buffering input");
    return rc;
}

int lmq_session_input_commit(lmq_session *s, size_t n, int64_t now)
{
    int rc;

    if (!s)
        return LMQ_EINVAL;
    /* Bytes not to act on are simply not committed: the room they were
     * read into is handed out again. */
    if ((rc = input_gate(s, now)))
        return rc < 0 ? rc : 0;
    if (n == 0)
        return 0;
    lmq_decoder_commit(&s->dec, n);
    return input_decode(s, now);
}

void lmq_session_trim(lmq_session *s)
{
    if (!s)
        return;
    if (s->dec.start == s->dec.end)
        lmq_decoder_free(&s->dec);
    if (s->ostart == s->oend && s->obuf) {
        free(s->obuf);
        s->obuf = NULL;
        s->ostart = s->oend = s->ocap = 0;
    }
}

/* ----------------------------------------------------------- time */

static int64_t ping_wait_ms(const lmq_session *s)
{
    int64_t ka = (int64_t)s->ka * 1000;
    int64_t floor = ka < LMQ_PING_WAIT_MIN_MS ? ka : LMQ_PING_WAIT_MIN_MS;
    return ka / 2 > floor ? ka / 2 : floor;
}

/* Idle is measured both ways: nothing sent [MQTT-3.1.2-20], or nothing
 * heard, for the keepalive; either one sends PINGREQ.  So a dead link is
 * noticed within keepalive + ping_wait_ms() (1.5 x keepalive), even while
 * we keep sending into it. */
static int64_t ping_due(const lmq_session *s)
{
    int64_t idle = s->last_sent < s->last_recv ? s->last_sent : s->last_recv;
    return idle + (int64_t)s->ka * 1000;
}

int lmq_session_tick(lmq_session *s, int64_t now)
{
    if (!s)
        return LMQ_EINVAL;
    s->clock = now;
    /* Plugin ticks run in every state: the client calls this while
     * connected, and lmq_plugin_run_tick directly while offline. */
    if (s->plugins)
        s->hooks->tick(s->plugins, now);
    if (s->failed)
        return s->failed;
    if (s->state == LMQ_SS_CONNECTING && s->connect_deadline &&
        now >= s->connect_deadline)
        return lmq_session_fail(s, LMQ_ETIMEOUT, "no CONNACK within the connect timeout");
    if (s->draining && now >= s->drain_deadline)
        lmq_session_drain_check(s, 1);
    if (s->state != LMQ_SS_CONNECTED || s->ka == 0)
        return s->failed;
    if (s->ping_out) {
        if (now >= s->ping_deadline)
            return lmq_session_fail(s, LMQ_EKEEPALIVE, "no PINGRESP from the server");
        return 0;
    }
    if (now >= ping_due(s)) {
        lmq_packet pkt;
        memset(&pkt, 0, sizeof pkt);
        pkt.type = LMQ_PINGREQ;
        int rc = lmq_session_emit(s, &pkt);
        if (rc)
            return lmq_session_fail(s, rc, "cannot queue PINGREQ");
        s->ping_out = 1;
        s->ping_deadline = now + ping_wait_ms(s);
        lmq_session_log(s, LMQ_LOG_DEBUG, "PINGREQ");
    }
    return 0;
}

static int64_t protocol_deadline(const lmq_session *s);

int64_t lmq_session_deadline(const lmq_session *s)
{
    int64_t d = protocol_deadline(s);
    /* Bytes or events wait for the store's fsync thread: look again in a
     * millisecond (group commit, durable.c). */
    if (s && s->store && lmq_durable_waiting(s) && s->clock + 1 < d)
        d = s->clock + 1;
    /* Plugin ticks too (the client asks the session while connected, the
     * chain itself while waiting to reconnect). */
    if (s && s->plugins && !s->failed) {
        int64_t t = s->hooks->tick_deadline(s->plugins);
        if (t < d)
            d = t;
    }
    return d;
}

static int64_t protocol_deadline(const lmq_session *s)
{
    if (!s || s->failed)
        return INT64_MAX;
    if (s->state == LMQ_SS_CONNECTING)
        return s->connect_deadline ? s->connect_deadline : INT64_MAX;
    if (s->state != LMQ_SS_CONNECTED)
        return INT64_MAX;
    int64_t d = s->draining ? s->drain_deadline : INT64_MAX;
    if (s->ka == 0)
        return d;
    int64_t k = s->ping_out ? s->ping_deadline : ping_due(s);
    return k < d ? k : d;
}

/* ----------------------------------------------------- request states */

void lmq_session_done(lmq_session *s, int32_t msg_id, int error)
{
    if (msg_id <= 0)
        return;
    uint32_t i = s->done_next++ % (sizeof s->done / sizeof s->done[0]);
    s->done[i].msg_id = msg_id;
    s->done[i].error = error;
}

static int in_list(const lmq_reqlist *l, int32_t msg_id)
{
    for (const lmq_req *r = l->head; r; r = r->next)
        if (r->msg_id == msg_id)
            return 1;
    return 0;
}

int lmq_session_request(const lmq_session *s, int32_t msg_id, int *error)
{
    if (!s || msg_id <= 0)
        return LMQ_EINVAL;
    /* The newest completion first: ids wrap after 2^31 requests. */
    uint32_t n = sizeof s->done / sizeof s->done[0];
    for (uint32_t k = 1; k <= n; k++) {
        uint32_t i = (s->done_next - k) % n;
        if (s->done[i].msg_id == msg_id) {
            *error = s->done[i].error;
            return 0;
        }
    }
    if (in_list(&s->inflight, msg_id) || in_list(&s->resendq, msg_id) ||
        in_list(&s->unwritten, msg_id) || in_list(&s->pending, msg_id) ||
        in_list(&s->subq, msg_id))
        return 1;
    return LMQ_EINVAL;
}

/* ------------------------------------------------------------ stats */

void lmq_session_stats_get(const lmq_session *s, lmq_session_stats *st)
{
    memset(st, 0, sizeof *st);
    if (!s)
        return;
    st->inflight_out = s->inflight_pub + s->resendq.count;
    if (s->state == LMQ_SS_CONNECTED)
        st->waiting_out = s->pending.count;
    else
        st->offline_msgs = s->pending.count;
    st->offline_bytes = s->pending_bytes;
    st->inflight_in = s->in_count;
    st->server_receive_max = s->srv_receive_max;
    st->server_alias_max = s->srv_alias_max;
    st->server_max_packet = s->srv_max_packet;
    st->server_max_qos = s->srv_max_qos;
    st->server_retain = s->srv_retain;
    st->unwritten_msgs = s->pending.count + s->unwritten.count;
    st->unwritten_bytes = s->pending_bytes + (s->oend - s->ostart);
    st->stray_acks = s->stray_acks;
    st->requests = s->subq.count + (s->inflight.count - s->inflight_pub);
}
