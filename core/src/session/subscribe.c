/*
 * subscribe.c - SUBSCRIBE / UNSUBSCRIBE, their acks, and the subscriptions
 * the session remembers so that it can subscribe again by itself when a
 * server comes back without our session (LMQ_OPT_AUTO_RESUBSCRIBE).
 *
 * While not connected, requests wait in s->subq and go out first thing
 * after the next CONNACK (they never wait behind PUBLISH flow control).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "session/session_int.h"

#define LMQ_RESUB_BATCH 64u     /* filters per automatic SUBSCRIBE */

/* One request holding n filters (copied) and their options. */
static lmq_req *req_new(uint8_t kind, const lmq_slice *f, const uint8_t *opts,
                        uint32_t n)
{
    size_t bytes = 0;
    for (uint32_t i = 0; i < n; i++)
        bytes += f[i].n;
    lmq_req *r = malloc(sizeof *r + n * sizeof(lmq_sub_entry) + bytes + 1);
    if (!r)
        return NULL;
    memset(r, 0, sizeof *r);
    r->kind = kind;
    r->entries = (lmq_sub_entry *)(r + 1);
    uint8_t *p = (uint8_t *)(r->entries + n);
    for (uint32_t i = 0; i < n; i++) {
        if (f[i].n)
            memcpy(p, f[i].p, f[i].n);
        r->entries[i].filter.p = p;
        r->entries[i].filter.n = f[i].n;
        r->entries[i].options = opts ? opts[i] : 0;
        p += f[i].n;
    }
    r->n_entries = n;
    return r;
}

static void sub_event(lmq_session *s, const lmq_req *r, int error,
                      const lmq_slice *reasons, const lmq_props *props)
{
    int type = r->kind == LMQ_SUBSCRIBE ? LMQ_EV_SUBSCRIBED : LMQ_EV_UNSUBSCRIBED;
    lmq_session_done(s, r->msg_id, error);
    lmq_event *ev = lmq_session_event(s, type, error, 0, props);
    if (!ev)
        return;
    ev->msg_id = r->msg_id;
    if (reasons && reasons->n) {
        ev->reasons = lmq_evq_copy(&s->evq, reasons->p, reasons->n);
        ev->n_reasons = ev->reasons ? (int32_t)reasons->n : 0;
    }
}

/* Encode r and put it in flight.  On failure r is left to the caller
 * (without a packet id). */
static int sub_emit(lmq_session *s, lmq_req *r)
{
    lmq_packet pkt;
    int rc;

    if (!r->packet_id && (rc = lmq_out_alloc_id(s, r)))
        return rc;
    memset(&pkt, 0, sizeof pkt);
    pkt.type = r->kind;
    pkt.u.subscribe.packet_id = r->packet_id;
    pkt.u.subscribe.count = r->n_entries;
    pkt.u.subscribe.entries = r->entries;
    if (s->level == 5 &&
        (rc = lmq_proplist_props(r->props, LMQ_IN(r->kind), &pkt.u.subscribe.props)))
        goto fail;
    /* Section 3.2.2.3.12 (no numbered statement): a server that said
     * Subscription Identifier Available 0 takes a SUBSCRIBE carrying one
     * as a Protocol Error (DISCONNECT 0xA1): refused here instead. */
    if (s->level == 5 && r->kind == LMQ_SUBSCRIBE && s->srv_known && !s->srv_sub_ids &&
        lmq_props_has(&pkt.u.subscribe.props, LMQ_PROP_SUBSCRIPTION_ID)) {
        rc = LMQ_ESUB_ID_NOT_SUPPORTED;
        goto fail;
    }
    if ((rc = lmq_session_emit(s, &pkt)))
        goto fail;
    r->state = LMQ_RQ_SENT;
    lmq_reqlist_append(&s->inflight, r);
    return 0;

fail:
    lmq_out_release_id(s, r);
    return rc;
}

/* Send a request accepted earlier (queued offline, resent, automatic): a
 * failure now is reported by its event. */
int lmq_sub_send(lmq_session *s, lmq_req *r)
{
    int rc = sub_emit(s, r);
    if (rc) {
        sub_event(s, r, rc, NULL, NULL);
        lmq_req_free(r);
    }
    return rc;
}

/* Only once connected, as PUBLISH [MQTT-3.1.0-1] [MQTT-3.1.2-30]. */
int lmq_sub_flush(lmq_session *s)
{
    lmq_req *r;
    while (s->state == LMQ_SS_CONNECTED && !s->failed && (r = s->subq.head)) {
        lmq_reqlist_remove(&s->subq, r);
        lmq_sub_send(s, r);
    }
    return 0;
}

/* ----------------------------------------------------- remembered subs */

void lmq_sub_memo_free(lmq_session *s)
{
    for (uint32_t i = 0; i < s->n_memo; i++)
        free(s->memo[i].filter);
    free(s->memo);
    s->memo = NULL;
    s->n_memo = s->cap_memo = 0;
}

/* Byte for byte, wildcards as plain characters: what the server does with
 * an UNSUBSCRIBE filter [MQTT-3.10.4-1]. */
static int memo_find(const lmq_session *s, lmq_slice f)
{
    for (uint32_t i = 0; i < s->n_memo; i++)
        if (s->memo[i].flen == f.n && memcmp(s->memo[i].filter, f.p, f.n) == 0)
            return (int)i;
    return -1;
}

static void memo_del(lmq_session *s, lmq_slice f)
{
    int i = memo_find(s, f);
    if (i < 0)
        return;
    lmq_durable_unsub(s, f.p, f.n);
    free(s->memo[i].filter);
    memmove(&s->memo[i], &s->memo[i + 1], (s->n_memo - (uint32_t)i - 1) * sizeof *s->memo);
    s->n_memo--;
}

/* The same filter again replaces the subscription (section 3.8.4), so the
 * memo keeps one entry per filter, in the order first granted. */
static void memo_put(lmq_session *s, const lmq_sub_entry *e, uint32_t sub_id)
{
    /* in the state file too, for a restart that finds the server's
     * session gone (a no-op when the file says the same already) */
    lmq_durable_sub(s, e->filter.p, e->filter.n, e->options, sub_id);
    int i = memo_find(s, e->filter);
    if (i >= 0) {
        s->memo[i].options = e->options;
        s->memo[i].sub_id = sub_id;
        return;
    }
    if (s->n_memo == s->cap_memo) {
        uint32_t cap = s->cap_memo ? s->cap_memo * 2 : 16;
        lmq_sub_memo *m = realloc(s->memo, cap * sizeof *m);
        if (!m)
            return;             /* not remembered: only auto re-subscribe loses it */
        s->memo = m;
        s->cap_memo = cap;
    }
    uint8_t *copy = malloc(e->filter.n ? e->filter.n : 1);
    if (!copy)
        return;
    memcpy(copy, e->filter.p, e->filter.n);
    s->memo[s->n_memo++] = (lmq_sub_memo){ copy, e->filter.n, e->options, sub_id };
}

/* A subscription the state file remembers, back in the memo. */
void lmq_sub_memo_restore(lmq_session *s, const uint8_t *f, uint32_t n, uint8_t options,
                          uint32_t sub_id)
{
    lmq_sub_entry e = { { f, n }, options };
    memo_put(s, &e, sub_id);
}

/* The server lost our session: subscribe again to what it had granted,
 * batched by Subscription Identifier.  Their SUBACKs come out as
 * LMQ_EV_SUBSCRIBED with msg_id 0. */
int lmq_sub_resubscribe(lmq_session *s)
{
    lmq_slice f[LMQ_RESUB_BATCH];
    uint8_t o[LMQ_RESUB_BATCH];
    uint32_t i = 0;

    while (i < s->n_memo) {
        uint32_t n = 0, sub_id = s->memo[i].sub_id;
        while (i < s->n_memo && n < LMQ_RESUB_BATCH && s->memo[i].sub_id == sub_id) {
            f[n] = (lmq_slice){ s->memo[i].filter, s->memo[i].flen };
            o[n++] = s->memo[i++].options;
        }
        lmq_req *r = req_new(LMQ_SUBSCRIBE, f, o, n);
        if (!r)
            return LMQ_ENOMEM;
        if (sub_id && s->level == 5) {
            r->props = lmq_proplist_new();
            if (!r->props || lmq_proplist_add_int(r->props, LMQ_PROP_SUBSCRIPTION_ID, sub_id)) {
                lmq_req_free(r);
                return LMQ_ENOMEM;
            }
        }
        lmq_session_log(s, LMQ_LOG_INFO, "re-subscribing to %u filter(s)", n);
        lmq_sub_send(s, r);
    }
    return 0;
}

/* ------------------------------------------------------------------ acks */

int lmq_sub_on_ack(lmq_session *s, const lmq_packet *pkt)
{
    const lmq_suback *a = &pkt->u.suback;
    uint8_t want = pkt->type == LMQ_SUBACK ? LMQ_SUBSCRIBE : LMQ_UNSUBSCRIBE;
    lmq_req *r = lmq_out_find(s, a->packet_id);
    char msg[128];

    /* The ack names the request's id [MQTT-2.2.1-6] [MQTT-3.8.4-2]
     * [MQTT-3.10.4-5]; until it comes the request is pending
     * [MQTT-3.10.4-4]. */
    if (!r || r->kind != want || r->state != LMQ_RQ_SENT) {
        /* None in flight under that id: ignored, logged and counted, as
         * stray publish acks are (publish.c lmq_session_stray_ack). */
        lmq_session_stray_ack(s, pkt->type == LMQ_SUBACK ? "SUBACK" : "UNSUBACK",
                              a->packet_id);
        return 0;
    }
    /* One reason code per filter [MQTT-3.8.4-6] [MQTT-3.9.3-1]
     * [MQTT-3.11.3-1]; a 3.x UNSUBACK has none. */
    int counted = !(pkt->type == LMQ_UNSUBACK && s->level < 5);
    if (counted && a->reasons.n != r->n_entries) {
        snprintf(msg, sizeof msg, "%u reason codes for %u filters",
                 a->reasons.n, r->n_entries);
        return lmq_session_fail(s, LMQ_EPROTOCOL, msg);
    }
    lmq_reqlist_remove(&s->inflight, r);
    lmq_out_release_id(s, r);
    lmq_props rp;
    uint32_t sub_id = 0;
    if (want == LMQ_SUBSCRIBE && !lmq_proplist_props(r->props, LMQ_IN(LMQ_SUBSCRIBE), &rp) &&
        lmq_props_has(&rp, LMQ_PROP_SUBSCRIPTION_ID))
        sub_id = rp.sub_id;
    for (uint32_t i = 0; i < r->n_entries; i++) {
        int ok = !counted || a->reasons.p[i] < 0x80;
        if (!ok)
            continue;
        if (want == LMQ_SUBSCRIBE)
            memo_put(s, &r->entries[i], sub_id);
        else
            memo_del(s, r->entries[i].filter);
    }
    if (s->plugins && want == LMQ_SUBSCRIBE)
        s->hooks->suback(s, r, &a->reasons, &a->props, s->last_recv);
    sub_event(s, r, 0, &a->reasons, &a->props);
    lmq_req_free(r);
    return 0;
}

/* ------------------------------------------------------------- API calls */

static size_t flen(const char *f, int32_t n)
{
    return n < 0 ? strlen(f) : (size_t)n;
}

static int check_options(const lmq_session *s, lmq_slice f, uint8_t o)
{
    if ((o & 3u) == 3 || (o & 0xC0u) || ((o >> 4) & 3u) == 3)
        return LMQ_EINVAL;      /* QoS 3, reserved bits [MQTT-3.8.3-5], RH 3 */
    /* [MQTT-3.8.3-4] No Local on a shared subscription is a Protocol Error. */
    if (lmq_session_api_level(s) == 5 && (o & LMQ_SUB_NO_LOCAL) && f.n >= 7 && memcmp(f.p, "$share/", 7) == 0)
        return LMQ_EINVAL;
    return 0;
}

static int submit(lmq_session *s, lmq_req *r, const lmq_proplist *props)
{
    int rc;
    lmq_props tmp;

    if ((rc = lmq_proplist_props(props, LMQ_IN(r->kind), &tmp)))
        goto fail;
    r->props = lmq_proplist_dup(props, &rc);
    if (rc)
        goto fail;
    r->msg_id = lmq_out_msg_id(s);
    int32_t id = r->msg_id;
    /* Connected: refused now (e.g. over the server's Maximum Packet Size)
     * means the call fails and no event follows. */
    if (s->state == LMQ_SS_CONNECTED) {
        if ((rc = sub_emit(s, r)))
            goto fail;
    } else {
        lmq_reqlist_append(&s->subq, r);
    }
    return id;

fail:
    lmq_req_free(r);
    return rc;
}

int lmq_session_subscribe(lmq_session *s, const lmq_subscription *subs, int n,
                          const lmq_proplist *props, int64_t now)
{
    (void)now;
    if (!s || !subs || n <= 0 || n > 65535)
        return LMQ_EINVAL;
    if (s->user_closing)
        return LMQ_ESTATE;
    lmq_slice *f = malloc((size_t)n * sizeof *f);
    uint8_t *o = malloc((size_t)n);
    int rc = f && o ? 0 : LMQ_ENOMEM;
    for (int i = 0; !rc && i < n; i++) {
        if (!subs[i].filter || subs[i].options < 0 || subs[i].options > 0xFF) {
            rc = LMQ_EINVAL;
            break;
        }
        size_t len = flen(subs[i].filter, subs[i].filter_len);
        if (len > 65535u) {
            rc = LMQ_ETOPIC_LONG;
            break;
        }
        f[i] = (lmq_slice){ (const uint8_t *)subs[i].filter, (uint32_t)len };
        /* 3.x knows only the QoS bits. */
        o[i] = (uint8_t)(lmq_session_api_level(s) == 5 ? subs[i].options : subs[i].options & 3);
        if ((rc = lmq_topic_validate_filter(subs[i].filter, (int32_t)len)))
            break;                              /* [MQTT-4.7.1-1] [MQTT-4.7.1-2] */
        rc = check_options(s, f[i], o[i]);
    }
    if (!rc && s->plugins && !(rc = s->hooks->subscribe(s, f, o, n, now))) {
        /* What a plugin rewrote is checked as the caller's was. */
        for (int i = 0; !rc && i < n; i++) {
            if (lmq_session_api_level(s) != 5)
                o[i] &= 3u;
            if ((rc = check_options(s, f[i], o[i])))
                lmq_session_seterr(s, "a plugin rewrote the subscription to '%.*s' with "
                                   "options 0x%02x: not a valid subscription [MQTT-3.8.3-4]",
                                   (int)f[i].n, (const char *)f[i].p, (unsigned)o[i]);
        }
    }
    lmq_req *r = rc ? NULL : req_new(LMQ_SUBSCRIBE, f, o, (uint32_t)n);
    if (!rc && !r)
        rc = LMQ_ENOMEM;
    free(f);
    free(o);
    return rc ? rc : submit(s, r, props);
}

int lmq_session_unsubscribe(lmq_session *s, const char *const *filters,
                            const int32_t *lens, int n, const lmq_proplist *props,
                            int64_t now)
{
    (void)now;
    if (!s || !filters || n <= 0 || n > 65535)
        return LMQ_EINVAL;
    if (s->user_closing)
        return LMQ_ESTATE;
    lmq_slice *f = malloc((size_t)n * sizeof *f);
    int rc = f ? 0 : LMQ_ENOMEM;
    for (int i = 0; !rc && i < n; i++) {
        if (!filters[i]) {
            rc = LMQ_EINVAL;
            break;
        }
        size_t len = flen(filters[i], lens ? lens[i] : -1);
        if (len > 65535u) {
            rc = LMQ_ETOPIC_LONG;
            break;
        }
        f[i] = (lmq_slice){ (const uint8_t *)filters[i], (uint32_t)len };
        rc = lmq_topic_validate_filter(filters[i], (int32_t)len);  /* [MQTT-3.10.3-1] */
    }
    lmq_req *r = rc ? NULL : req_new(LMQ_UNSUBSCRIBE, f, NULL, (uint32_t)n);
    if (!rc && !r)
        rc = LMQ_ENOMEM;
    free(f);
    return rc ? rc : submit(s, r, props);
}
