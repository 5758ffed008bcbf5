/*
 * publish.c - application messages both ways.
 *
 * Out: QoS 0/1/2 PUBLISH through the pending queue, the server's Receive
 * Maximum window, topic aliases, the PUBACK / PUBREC-PUBREL-PUBCOMP flows
 * and their completion events.  In: delivery, acks (automatic or manual),
 * QoS 2 exactly-once bookkeeping, our Receive Maximum.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "session/session_int.h"

/* ------------------------------------------------------------------- out */

void lmq_pub_complete(lmq_session *s, lmq_req *r, int error, int reason,
                      const lmq_props *props)
{
    lmq_durable_done(s, r);
    lmq_session_done(s, r->msg_id, error);
    lmq_out_release_id(s, r);
    if (s->plugins)
        s->hooks->done(s, r, error, reason, props);
    lmq_event *ev = lmq_session_event(s, LMQ_EV_PUBLISHED, error, reason, props);
    if (ev) {
        ev->msg_id = r->msg_id;
        ev->qos = r->qos;
    }
    lmq_req_free(r);
}

/* Encode r as PUBLISH, with an outgoing topic alias when the server takes
 * them.  The alias is recorded only once the packet is in the output, so a
 * packet refused here never leaves the server with an alias it did not
 * get.  The packet is sized once, by the encoder writing it (see
 * lmq_session_emit); if the alias property pushes it over the server's
 * Maximum Packet Size [MQTT-3.1.2-24] it goes again without one, the size
 * check_publish accepted. */
static int send_publish(lmq_session *s, lmq_req *r, int dup)
{
    lmq_packet pkt;
    int rc, fresh = 0;

    memset(&pkt, 0, sizeof pkt);
    pkt.type = LMQ_PUBLISH;
    lmq_publish *p = &pkt.u.publish;
    p->qos = r->qos;
    p->retain = r->retain;
    /* DUP only on a retransmission [MQTT-3.3.1-1] [MQTT-3.3.1-2]
     * [MQTT-3.3.1-3]: a new message has 0 at every QoS [MQTT-4.3.1-1]
     * [MQTT-4.3.2-2] [MQTT-4.3.3-2] */
    p->dup = (uint8_t)dup;
    p->packet_id = r->packet_id;
    p->topic.p = r->topic;
    p->topic.n = r->tlen;
    p->payload.p = r->payload;
    p->payload.n = r->plen;
    if (s->level == 5 && r->props &&
        (rc = lmq_proplist_props(r->props, LMQ_IN(LMQ_PUBLISH), &p->props)))
        return rc;
    uint32_t present = p->props.present;
    uint16_t alias = 0;
    if (s->level == 5 && s->aout.max) {
        if ((alias = lmq_alias_out_find(&s->aout, r->topic, r->tlen)))
            p->topic.n = 0;                 /* the alias stands for it */
        else if ((alias = lmq_alias_out_next(&s->aout)))
            fresh = 1;
        if (alias) {
            p->props.topic_alias = alias;   /* 1..server maximum [MQTT-3.3.2-9] */
            lmq_props_set(&p->props, LMQ_PROP_TOPIC_ALIAS);
        }
    }
    rc = lmq_session_emit(s, &pkt);
    if (rc == LMQ_ESERVER_MAX_SIZE && alias) {
        p->topic.n = r->tlen;
        p->props.present = present;
        alias = 0;
        fresh = 0;
        rc = lmq_session_emit(s, &pkt);
    }
    if (rc)
        return rc;
    /* Without memory the alias is simply not remembered: the next PUBLISH
     * to this topic sends the topic again, which is always allowed. */
    if (fresh)
        (void)lmq_alias_out_add(&s->aout, r->topic, r->tlen);
    lmq_session_log(s, LMQ_LOG_DEBUG, "sent PUBLISH id %u qos %u%s", r->packet_id,
                    r->qos, dup ? " dup" : "");
    return 0;
}

/* Limits the server set in CONNACK, checked again when a queued message
 * finally goes out (the server may be another one by then). */
static int server_allows(const lmq_session *s, const lmq_req *r)
{
    if (r->qos > s->srv_max_qos)
        return LMQ_EQOS_NOT_SUPPORTED;      /* [MQTT-3.2.2-11] */
    if (r->retain && !s->srv_retain)
        return LMQ_ERETAIN_NOT_SUPPORTED;   /* [MQTT-3.2.2-14] */
    return 0;
}

/* Send again now what an earlier connection left in flight: the PUBREL
 * [MQTT-4.4.0-1], or the PUBLISH with DUP and its id [MQTT-3.3.1-1]
 * (never the PUBLISH once its PUBREL went [MQTT-4.3.3-6]), if the new
 * server takes its QoS and retain flag; if not, the message completes with
 * that error rather than send what the server forbids. */
static void resend_now(lmq_session *s, lmq_req *r)
{
    int rc;
    /* The fences of the lost connection went with its bytes: a record this
     * resend rests on may still wait for its fsync (store.h). */
    lmq_durable_hold_out(s, lmq_durable_out_mark(s));
    if (r->state == LMQ_RQ_RELEASED)
        rc = lmq_pub_send_ack(s, LMQ_PUBREL, r->packet_id, 0);
    else if (!(rc = server_allows(s, r)))
        rc = send_publish(s, r, 1);
    if (rc) {
        lmq_pub_complete(s, r, rc, 0, NULL);
        return;
    }
    lmq_reqlist_append(&s->inflight, r);
    s->inflight_pub++;
}

/* After a reconnect with a session, in the original order: what fits the
 * new server's Receive Maximum goes now [MQTT-3.3.4-7]; the rest keep their
 * ids and wait in s->resendq, ahead of anything new (lmq_pub_pump). */
void lmq_pub_resend(lmq_session *s, lmq_req *r)
{
    if (s->resendq.count || s->inflight_pub >= s->srv_receive_max) {
        r->resend = 1;
        lmq_reqlist_append(&s->resendq, r);
        return;
    }
    resend_now(s, r);
}

/* An ack for a message not resent yet (the server had it): it leaves the
 * resend queue and is handled as any message in flight. */
static void unpark(lmq_session *s, lmq_req *r)
{
    lmq_reqlist_remove(&s->resendq, r);
    r->resend = 0;
    lmq_reqlist_append(&s->inflight, r);
    s->inflight_pub++;
}

/*
 * Send what the pending queue holds, in order, while the server's Receive
 * Maximum allows: at most that many QoS 1/2 PUBLISH unacknowledged
 * [MQTT-4.9.0-1] [MQTT-4.9.0-2] [MQTT-3.3.4-7]; QoS 0 is not counted
 * [MQTT-4.9.0-3] but keeps its place in the queue.
 * Messages an earlier connection left to resend go first.
 */
int lmq_pub_pump(lmq_session *s)
{
    lmq_req *r;

    /* Nothing before CONNACK: CONNECT goes first [MQTT-3.1.0-1], only AUTH
     * may follow it with an Authentication Method [MQTT-3.1.2-30], and
     * nothing waits behind a CONNECT the server may refuse [MQTT-3.1.4-6]. */
    if (s->state != LMQ_SS_CONNECTED || s->failed)
        return 0;
    while ((r = s->resendq.head) && s->inflight_pub < s->srv_receive_max) {
        lmq_reqlist_remove(&s->resendq, r);
        r->resend = 0;
        resend_now(s, r);
    }
    if (s->resendq.count)
        return 0;               /* the old messages go first [MQTT-4.6.0-1] */
    while ((r = s->pending.head)) {
        if (r->qos > 0 && s->inflight_pub >= s->srv_receive_max)
            break;
        if (r->qos > 0 && s->ids_used >= 65535u)
            break;
        /* Encode no further ahead of the socket than this: the rest waits
         * as messages, where the queue's bounds apply. */
        if (s->oend - s->ostart >= LMQ_OUT_HIGH_WATER)
            break;
        lmq_out_dequeue(s);
        uint64_t mark = lmq_durable_out_mark(s);
        int rc = server_allows(s, r);
        if (!rc && r->qos > 0)
            rc = lmq_out_alloc_id(s, r);    /* unused, non-zero [MQTT-4.3.3-1] */
        if (!rc)
            rc = send_publish(s, r, 0);
        if (rc) {
            lmq_pub_complete(s, r, rc, 0, NULL);
            continue;
        }
        if (r->qos == 0) {
            /* Complete when the socket (or the transport's buffer below
             * TLS / WebSocket) has taken its last byte: lmq_pub_written. */
            r->out_end = s->out_abs + (s->oend - s->ostart);
            lmq_reqlist_append(&s->unwritten, r);
            continue;
        }
        /* unacknowledged until PUBACK [MQTT-4.3.2-3] / PUBREC [MQTT-4.3.3-3] */
        r->state = LMQ_RQ_SENT;
        lmq_durable_state(s, r);    /* the id, before the PUBLISH leaves */
        /* QoS 2: on disk before it leaves, or a power loss could make it
         * go again under a new id (store.h) */
        if (r->qos == 2)
            lmq_durable_hold_out(s, mark);
        lmq_reqlist_append(&s->inflight, r);
        s->inflight_pub++;
    }
    lmq_session_drain_check(s, 0);
    return 0;
}

void lmq_pub_written(lmq_session *s, uint64_t pos)
{
    lmq_req *r;
    while ((r = s->unwritten.head) && r->out_end <= pos) {
        lmq_reqlist_remove(&s->unwritten, r);
        lmq_pub_complete(s, r, 0, 0, NULL);
    }
}

/* The connection went with part of a QoS 0 PUBLISH (or all of it) unwritten:
 * the server cannot have taken a packet it did not get whole, so the message
 * goes again on the next connection, ahead of what was queued after it
 * (at most once still holds; nothing accepted is dropped unreported). */
void lmq_pub_unwritten_requeue(lmq_session *s)
{
    lmq_req *r;
    while ((r = s->unwritten.tail)) {
        lmq_reqlist_remove(&s->unwritten, r);
        lmq_out_requeue_front(s, r);
    }
}

uint32_t lmq_pub_backlog(const lmq_session *s)
{
    return s->pending.count + s->unwritten.count + s->inflight_pub + s->resendq.count;
}

/*
 * The server has no session for us (CONNACK session present 0), so it
 * knows nothing of our unacknowledged messages.  Documented choice (see
 * session.h): a PUBLISH never acknowledged goes back to the front of the
 * queue, in its order, and is sent as a new message (new packet id, no
 * DUP); a QoS 2 message that got its PUBREC is complete (the server took
 * it over at PUBREC) and reports success.
 */
void lmq_pub_session_lost(lmq_session *s, lmq_reqlist *old)
{
    lmq_reqlist back = { NULL, NULL, 0 };
    lmq_req *r = old->head;

    while (r) {
        lmq_req *next = r->next;
        if (r->kind == LMQ_PUBLISH) {
            lmq_reqlist_remove(old, r);
            if (r->state == LMQ_RQ_RELEASED) {
                lmq_pub_complete(s, r, 0, 0, NULL);
            } else {
                lmq_out_release_id(s, r);
                r->state = LMQ_RQ_QUEUED;
                lmq_durable_state(s, r);
                lmq_reqlist_append(&back, r);
            }
        }
        r = next;
    }
    while ((r = back.tail)) {
        lmq_reqlist_remove(&back, r);
        lmq_out_requeue_front(s, r);
    }
}

/* PUBACK / PUBREC / PUBREL / PUBCOMP with the id of the PUBLISH it belongs
 * to [MQTT-2.2.1-5], sent at once in the order of what it answers
 * [MQTT-4.6.0-2] [MQTT-4.6.0-3] [MQTT-4.6.0-4] (the Receive Maximum holds
 * back PUBLISH only [MQTT-3.3.4-8]).  Never a Reason String or User
 * Property, so never over the server's Maximum Packet Size for their sake
 * [MQTT-3.4.2-2] [MQTT-3.4.2-3] [MQTT-3.5.2-2] [MQTT-3.5.2-3]
 * [MQTT-3.6.2-2] [MQTT-3.6.2-3] [MQTT-3.7.2-2] [MQTT-3.7.2-3]. */
int lmq_pub_send_ack(lmq_session *s, uint8_t type, uint16_t pid, uint8_t reason)
{
    lmq_packet pkt;
    memset(&pkt, 0, sizeof pkt);
    pkt.type = type;
    pkt.u.ack.packet_id = pid;
    pkt.u.ack.reason = s->level == 5 ? reason : 0;
    return lmq_session_emit(s, &pkt);
}

/*
 * An acknowledgement naming a packet id we have nothing in flight under (or
 * the wrong kind of flow under it): logged, counted, and otherwise ignored
 * at every protocol level.  The spec asks a receiver to answer a PUBREL it
 * cannot place [MQTT-4.3.3-11] rather than drop the link (PUBCOMP 0x92), and
 * section 4.13 leaves the handling of other Protocol Errors to the
 * receiver; a stray PUBACK or PUBCOMP (a broker resending after a session
 * was taken over, a buggy or slow server) costs nothing to ignore, while a
 * disconnect would cost a reconnect each time and, with a server that keeps
 * sending it, a reconnect loop (libmosquitto and Paho ignore them too).
 * A PUBREC is answered with PUBREL (0x92 Packet Identifier not found at
 * v5), so the server's QoS 2 flow ends instead of waiting forever.
 */
void lmq_session_stray_ack(lmq_session *s, const char *what, uint16_t pid)
{
    s->stray_acks++;
    lmq_session_log(s, LMQ_LOG_WARNING,
                    "%s for packet id %u, not in flight: ignored (%llu so far)", what,
                    pid, (unsigned long long)s->stray_acks);
}

static int unknown_ack(lmq_session *s, uint8_t type, const char *what, uint16_t pid)
{
    lmq_session_stray_ack(s, what, pid);
    if (type == LMQ_PUBREC && !lmq_out_find(s, pid) &&
        lmq_pub_send_ack(s, LMQ_PUBREL, pid, 0x92))
        return lmq_session_fail(s, LMQ_ENOMEM, "cannot queue PUBREL");
    return 0;
}

static void finish(lmq_session *s, lmq_req *r, int error, const lmq_ack *a)
{
    lmq_reqlist_remove(&s->inflight, r);
    s->inflight_pub--;
    lmq_pub_complete(s, r, error, a->reason, &a->props);
}

int lmq_pub_on_ack(lmq_session *s, const lmq_packet *pkt)
{
    static const char *names[] = { [LMQ_PUBACK] = "PUBACK", [LMQ_PUBREC] = "PUBREC",
                                   [LMQ_PUBCOMP] = "PUBCOMP" };
    const lmq_ack *a = &pkt->u.ack;
    lmq_req *r = lmq_out_find(s, a->packet_id);
    int rc;

    /* The ack must fit the flow under that id: PUBACK a QoS 1 PUBLISH,
     * PUBREC a QoS 2 one, PUBCOMP a PUBREL we sent.  Anything else leaves
     * the message as it was (unknown_ack). */
    if (!r || r->kind != LMQ_PUBLISH || r->state == LMQ_RQ_QUEUED ||
        (pkt->type == LMQ_PUBACK && r->qos != 1) ||
        (pkt->type == LMQ_PUBREC && r->qos != 2) ||
        (pkt->type == LMQ_PUBCOMP && (r->qos != 2 || r->state != LMQ_RQ_RELEASED)))
        return unknown_ack(s, pkt->type, names[pkt->type], a->packet_id);
    if (r->resend)
        unpark(s, r);
    /* A reason >= 0x80 in PUBACK or PUBREC ends the flow: the message
     * failed (sections 3.4.2.1, 3.5.2.1, 4.3.3). */
    int error = a->reason >= 0x80 ? LMQ_EREJECTED : 0;
    switch (pkt->type) {
    case LMQ_PUBACK:
        finish(s, r, error, a);
        break;
    case LMQ_PUBREC:
        if (error) {
            finish(s, r, error, a);         /* no PUBREL follows [MQTT-4.3.3-4] [MQTT-4.4.0-2] */
            break;
        }
        /* [MQTT-4.3.3-4] answer PUBREC with PUBREL (again, if the PUBREC
         * is a repeat); unacknowledged until PUBCOMP [MQTT-4.3.3-5]. */
        uint64_t mark = lmq_durable_out_mark(s);
        if ((rc = lmq_pub_send_ack(s, LMQ_PUBREL, a->packet_id, 0)))
            return lmq_session_fail(s, rc, "cannot queue PUBREL");
        r->state = LMQ_RQ_RELEASED;
        /* recorded (and with FSYNC on disk) before the PUBREL leaves: after
         * a restart the PUBREL goes again, never the PUBLISH [MQTT-4.3.3-6] */
        lmq_durable_state(s, r);
        lmq_durable_hold_out(s, mark);
        return 0;                           /* the window is still used */
    case LMQ_PUBCOMP:
        finish(s, r, error, a);
        break;
    default:
        return 0;
    }
    return lmq_pub_pump(s);                 /* a slot came free */
}

/* -------------------------------------------------------------------- in */

/* The topic is as the server sent it: a name matching one of our filters
 * is the server's promise [MQTT-3.3.2-3]; the bindings route it to their
 * handlers with lmq_topic_matches (the same rules, section 4.7).  While
 * the application has paused delivery the event is held (hold.c), and
 * `how` says what its release does about the ack of packet pid. */
static void deliver(lmq_session *s, const lmq_publish *p, int32_t ack_id, int how,
                    uint16_t pid, uint16_t gen)
{
    lmq_evq *q = s->hold ? &s->held : &s->evq;
    lmq_event *ev = s->hold ? lmq_hold_push(s, how, pid, gen, &p->props)
                            : lmq_session_event(s, LMQ_EV_MESSAGE, 0, 0, &p->props);
    if (!ev)
        return;
    ev->qos = p->qos;
    ev->retain = p->retain;
    ev->dup = p->dup;
    ev->ack_id = ack_id;
    ev->packet_id = p->packet_id;
    ev->topic = lmq_evq_copy(q, p->topic.p, p->topic.n);
    ev->topic_len = ev->topic ? (int32_t)p->topic.n : 0;
    ev->payload = lmq_evq_copy(q, p->payload.p, p->payload.n);
    ev->payload_len = ev->payload ? (int32_t)p->payload.n : 0;
    if (s->hold)
        lmq_hold_count_bytes(s, p->topic.n + p->payload.n);
}

/* A manual-ack handle: the connection it came on and the packet id, so an
 * ack meant for an earlier connection is recognised and refused. */
static int32_t make_ack_id(const lmq_session *s, uint16_t pid)
{
    return (int32_t)(((s->conn_gen & 0x7FFFu) << 16) | pid);
}

/* A plugin dropped a QoS 1/2 message: never delivered, acknowledged at
 * once (even with manual ack: the application never sees it) with the
 * plugin's reason.  A QoS 2 refusal >= 0x80 ends the flow, so the id is
 * new again [MQTT-4.3.3-9]; accepted, it waits for PUBREL as usual. */
static int drop_in(lmq_session *s, const lmq_publish *p, uint8_t reason)
{
    int rc;
    if (s->level < 5)
        reason = 0;
    if (p->qos == 1) {
        rc = lmq_pub_send_ack(s, LMQ_PUBACK, p->packet_id, reason);   /* [MQTT-4.3.2-4] */
    } else {
        if (reason < 0x80)
            lmq_in_set(s, p->packet_id, LMQ_IN_Q2_RECEIVED);
        rc = lmq_pub_send_ack(s, LMQ_PUBREC, p->packet_id, reason);   /* [MQTT-4.3.3-8] */
    }
    return rc ? lmq_session_fail(s, rc, "cannot queue an acknowledgement") : 0;
}

int lmq_pub_on_publish(lmq_session *s, lmq_publish *p)
{
    char msg[96];
    int rc;

    if ((rc = lmq_in_alias_resolve(s, p))) {
        snprintf(msg, sizeof msg, "topic alias %u invalid [MQTT-3.3.2-9] [MQTT-3.3.2-10]",
                 p->props.topic_alias);
        return lmq_session_fail(s, rc, msg);
    }
    /* [MQTT-3.3.4-1] answered as its QoS says (QoS 0: not at all), whether
     * or not a subscription of ours matches it [MQTT-4.5.0-2].  An
     * automatic QoS 1 PUBACK leaves no state: the id is new again
     * [MQTT-4.3.2-5]. */
    if (p->qos == 0) {
        if (!s->plugins || !s->hooks->in(s, p, &(uint8_t){ 0 }))
            deliver(s, p, 0, LMQ_HOLD_ACK_NONE, 0, 0);
        return 0;
    }
    if ((rc = lmq_in_init(s)))
        return lmq_session_fail(s, rc, "out of memory");
    uint16_t pid = p->packet_id;
    int st = lmq_in_get(s, pid);
    if (p->qos == 2 && st == LMQ_IN_Q2_RECEIVED) {
        /* Seen and PUBREC'd already: acknowledge again, deliver once
         * [MQTT-4.3.3-10]; not before the record of the id is on disk
         * (it may be, after a reconnect, the first PUBREC for it). */
        lmq_durable_hold_out(s, lmq_durable_out_mark(s));
        if ((rc = lmq_pub_send_ack(s, LMQ_PUBREC, pid, 0)))
            return lmq_session_fail(s, rc, "cannot queue PUBREC");
        return 0;
    }
    if (p->qos == 2 && st == LMQ_IN_Q2_UNACKED)
        return 0;   /* delivered, the application's ack is still to come */
    /* [MQTT-3.3.4-9] binds the server: no more unacknowledged QoS 1/2 than
     * our Receive Maximum.  Section 4.9 has the client answer an excess
     * with DISCONNECT 0x93; that is the strict mode.  By default the
     * message is taken (our tables hold every packet id) and the overshoot
     * logged, because a widely deployed broker (mosquitto 2.0.11) exceeds
     * the window by one under load and a client that drops the link over
     * it loses more than it protects. */
    if (st == LMQ_IN_NONE && s->level == 5 && s->in_count >= s->in_receive_max) {
        if (s->strict_rmax)
            return lmq_session_fail(s, LMQ_ERECEIVE_MAX,
                                    "the server exceeded our Receive Maximum");
        if (!s->rmax_warned) {
            s->rmax_warned = 1;
            lmq_session_log(s, LMQ_LOG_WARNING,
                            "the server exceeded our Receive Maximum (%u); accepted "
                            "(LMQ_OPT_STRICT_RECEIVE_MAX disconnects instead)",
                            (unsigned)s->in_receive_max);
        }
    }
    uint8_t drop_reason = 0;
    if (s->plugins && s->hooks->in(s, p, &drop_reason))
        return drop_in(s, p, drop_reason);
    if (s->manual_ack) {
        int32_t ack_id = make_ack_id(s, pid);
        if ((rc = lmq_in_set_gen(s, pid, (uint16_t)(ack_id >> 16))))
            return lmq_session_fail(s, rc, "out of memory");
        deliver(s, p, ack_id, LMQ_HOLD_ACK_NONE, 0, 0);
        lmq_in_set(s, pid, p->qos == 1 ? LMQ_IN_Q1_UNACKED : LMQ_IN_Q2_UNACKED);
        return 0;
    }
    if (s->store || s->hold) {
        /* Durable: acknowledged when the application pulls it (QoS 2: the
         * id reaches the state file together with the delivery; QoS 1: a
         * process killed before the pull gets it again), durable.c.  A
         * QoS 2 resend meanwhile is not delivered again [MQTT-4.3.3-10]. */
        /* Held (delivery paused): unacked the same way until its release
         * (hold.c), which acks it or, with a store, defers that to the pull. */
        uint16_t gen = (uint16_t)(s->conn_gen & 0x7FFFu);
        if (lmq_in_set_gen(s, pid, gen) || (!s->hold && lmq_durable_defer_ack(s, pid, gen)))
            return lmq_session_fail(s, LMQ_ENOMEM, "out of memory");
        lmq_in_set(s, pid, p->qos == 1 ? LMQ_IN_Q1_UNACKED : LMQ_IN_Q2_UNACKED);
        deliver(s, p, 0, s->store ? LMQ_HOLD_ACK_PULL : LMQ_HOLD_ACK_NOW, pid, gen);
        return 0;
    }
    deliver(s, p, 0, LMQ_HOLD_ACK_NONE, 0, 0);
    if (p->qos == 1) {
        rc = lmq_pub_send_ack(s, LMQ_PUBACK, pid, 0);       /* [MQTT-4.3.2-4] */
    } else {
        lmq_in_set(s, pid, LMQ_IN_Q2_RECEIVED);
        rc = lmq_pub_send_ack(s, LMQ_PUBREC, pid, 0);       /* [MQTT-4.3.3-8] */
    }
    return rc ? lmq_session_fail(s, rc, "cannot queue an acknowledgement") : 0;
}

int lmq_pub_on_pubrel(lmq_session *s, const lmq_ack *a)
{
    int st = lmq_in_get(s, a->packet_id), rc;
    uint8_t reason = 0;

    if (st == LMQ_IN_Q1_UNACKED || st == LMQ_IN_Q2_UNACKED)
        return lmq_session_fail(s, LMQ_EPROTOCOL, "PUBREL before our PUBREC");
    /* No message expiry applies here: the flow ends as usual however late
     * the PUBREL comes [MQTT-4.3.3-13]. */
    if (st == LMQ_IN_Q2_RECEIVED)
        lmq_in_set(s, a->packet_id, LMQ_IN_NONE);
    else
        reason = 0x92;      /* Packet Identifier not found (v5 only) */
    /* [MQTT-4.3.3-11] answer PUBREL with PUBCOMP; the id is then new
     * again [MQTT-4.3.3-12]. */
    if ((rc = lmq_pub_send_ack(s, LMQ_PUBCOMP, a->packet_id, reason)))
        return lmq_session_fail(s, rc, "cannot queue PUBCOMP");
    return 0;
}

void lmq_pub_ack_pulled(lmq_session *s, uint16_t pid, uint16_t gen)
{
    int st = lmq_in_get(s, pid);
    /* Still waiting under that delivery (not cleared by a lost server
     * session, not a newer message under the same id)? */
    if ((st != LMQ_IN_Q1_UNACKED && st != LMQ_IN_Q2_UNACKED) || lmq_in_gen(s, pid) != gen)
        return;
    if (st == LMQ_IN_Q1_UNACKED) {
        /* (forgotten when its connection ended: the server resends it) */
        lmq_in_set(s, pid, LMQ_IN_NONE);
        if (s->state == LMQ_SS_CONNECTED && lmq_pub_send_ack(s, LMQ_PUBACK, pid, 0))
            lmq_session_fail(s, LMQ_ENOMEM, "cannot queue PUBACK");   /* [MQTT-4.3.2-4] */
        return;
    }
    lmq_in_set(s, pid, LMQ_IN_Q2_RECEIVED);     /* the record, before the PUBREC */
    /* Pulled while offline: PUBREC'd when the server sends it again (the
     * duplicate path) [MQTT-4.4.0-1].  On a later connection the server
     * has resent it (or will, before anything new): answered now. */
    if (s->state != LMQ_SS_CONNECTED)
        return;
    if (lmq_pub_send_ack(s, LMQ_PUBREC, pid, 0))  /* [MQTT-4.3.3-8] */
        lmq_session_fail(s, LMQ_ENOMEM, "cannot queue PUBREC");
}

/*
 * The application's ack for a message delivered with ack_id (connection
 * generation << 16 | packet id).  Accepted while the message is still
 * unacked under that very id, whatever LMQ_OPT_MANUAL_ACK says now (it
 * was on when the message came).  QoS 2 state survives a reconnect with a
 * session present (the server will not deliver it again, [MQTT-4.3.3-10]),
 * so its ack id stays valid; a QoS 1 message unacked at the disconnect was
 * forgotten and the server sends it again under a new ack id
 * (at-least-once), so the old id gives LMQ_ESTATE.
 */
int lmq_session_ack(lmq_session *s, int32_t ack_id, int reason, int64_t now)
{
    (void)now;
    if (!s || ack_id <= 0 || reason < 0 || reason > 0xFF)
        return LMQ_EINVAL;
    uint16_t pid = (uint16_t)(ack_id & 0xFFFF);
    uint16_t gen = (uint16_t)((uint32_t)ack_id >> 16);
    if (pid == 0)
        return LMQ_EINVAL;
    int st = lmq_in_get(s, pid);
    if ((st != LMQ_IN_Q1_UNACKED && st != LMQ_IN_Q2_UNACKED) || lmq_in_gen(s, pid) != gen)
        return gen != (s->conn_gen & 0x7FFFu)
                   ? LMQ_ESTATE     /* its connection is gone: the server resends */
                   : LMQ_EINVAL;    /* acked already, or never delivered */
    uint8_t type = st == LMQ_IN_Q1_UNACKED ? LMQ_PUBACK : LMQ_PUBREC;
    uint8_t lv = lmq_session_api_level(s);
    if (lv == 5 && !lmq_reason_valid(type, (uint8_t)reason))
        return LMQ_EINVAL;
    if (s->state != LMQ_SS_CONNECTED) {
        /* A kept QoS 2 message acked between connections: remember it as
         * PUBREC'd; the server must send the PUBLISH again on the next
         * connection [MQTT-4.4.0-1] and gets its PUBREC then.  A refusal
         * has no such state to wait in: ack again once connected. */
        if (st != LMQ_IN_Q2_UNACKED || (lv == 5 && reason >= 0x80))
            return LMQ_ESTATE;
        lmq_in_set(s, pid, LMQ_IN_Q2_RECEIVED);
        return 0;
    }
    if (s->level < 5)
        reason = 0;
    uint64_t mark = lmq_durable_out_mark(s);
    int rc = lmq_pub_send_ack(s, type, pid, (uint8_t)reason);
    if (rc)
        return rc;
    /* A PUBREC >= 0x80 ends the QoS 2 flow: the id is new again
     * [MQTT-4.3.3-9]. */
    int next = type == LMQ_PUBREC && reason < 0x80 ? LMQ_IN_Q2_RECEIVED : LMQ_IN_NONE;
    lmq_in_set(s, pid, next);
    if (next == LMQ_IN_Q2_RECEIVED)
        lmq_durable_hold_out(s, mark);      /* the PUBREC waits for the record */
    return 0;
}

/* ----------------------------------------------------------- the API call */

static lmq_req *req_new(const uint8_t *topic, size_t tlen, const uint8_t *payload,
                        size_t plen)
{
    lmq_req *r = malloc(sizeof *r + tlen + plen + 1);
    if (!r)
        return NULL;
    memset(r, 0, sizeof *r);
    r->kind = LMQ_PUBLISH;
    r->topic = (uint8_t *)(r + 1);
    r->payload = r->topic + tlen;
    if (tlen)
        memcpy(r->topic, topic, tlen);
    if (plen)
        memcpy(r->payload, payload, plen);
    r->tlen = (uint32_t)tlen;
    r->plen = (uint32_t)plen;
    return r;
}

/* The PUBLISH of a message as check_publish sizes it: no Topic Alias
 * (the largest form, so what passes here can always go). */
static int64_t publish_size(uint8_t level, const uint8_t *topic, size_t tlen,
                            const uint8_t *payload, size_t plen, int qos,
                            const lmq_props *props)
{
    lmq_packet pkt;
    memset(&pkt, 0, sizeof pkt);
    pkt.type = LMQ_PUBLISH;
    pkt.u.publish.qos = (uint8_t)qos;
    pkt.u.publish.packet_id = 1;
    pkt.u.publish.topic.p = topic ? topic : (const uint8_t *)"";
    pkt.u.publish.topic.n = (uint32_t)tlen;
    pkt.u.publish.payload.p = payload;
    pkt.u.publish.payload.n = (uint32_t)plen;
    pkt.u.publish.props = *props;
    return lmq_encode_size_as(&pkt, level, LMQ_FROM_CLIENT);
}

#define LMQ_REMAINING_LIMIT 268435455u  /* section 2.1.4 */

/*
 * Everything that can be refused before a message is accepted.  The topic
 * is checked here once (the encoder only re-checks what it writes).  The
 * packet is sized only when that can refuse it: the server set a Maximum
 * Packet Size, or properties make the bound hard to see; otherwise plain
 * arithmetic bounds the Remaining Length, so the hot path (QoS 0, no
 * properties) encodes each message once, when it is sent.
 */
static int check_publish(lmq_session *s, const uint8_t *topic, size_t tlen,
                         const uint8_t *payload, size_t plen, int qos, int retain,
                         const lmq_proplist *props)
{
    lmq_props pr;
    int rc;

    if ((!topic && tlen) || (!payload && plen) || qos < 0 || qos > 2)
        return LMQ_EINVAL;
    if (tlen > 65535u)
        return LMQ_ETOPIC_LONG;
    if ((rc = lmq_topic_validate_name((const char *)topic, (int32_t)tlen)))
        return rc;                          /* [MQTT-3.3.2-1] [MQTT-3.3.2-2] */
    if (plen > LMQ_REMAINING_LIMIT)
        return LMQ_ETOOBIG;
    uint8_t level = lmq_session_api_level(s);
    memset(&pr, 0, sizeof pr);
    /* Properties go only in a v5 PUBLISH: at 3.x they are never converted. */
    if (props && level == 5) {
        if ((rc = lmq_proplist_props(props, LMQ_IN(LMQ_PUBLISH), &pr)))
            return rc;
        /* The session owns topic aliases; a client never sends a
         * Subscription Identifier [MQTT-3.3.4-6]. */
        if (lmq_props_has(&pr, LMQ_PROP_TOPIC_ALIAS) ||
            lmq_props_has(&pr, LMQ_PROP_SUBSCRIPTION_ID))
            return LMQ_EINVAL;
    }
    if (s->srv_known) {
        if (qos > s->srv_max_qos)
            return LMQ_EQOS_NOT_SUPPORTED;      /* [MQTT-3.2.2-11] */
        if (retain && !s->srv_retain)
            return LMQ_ERETAIN_NOT_SUPPORTED;   /* [MQTT-3.2.2-14] */
    }
    int limited = s->srv_known && s->srv_max_packet;
    if (!limited && !(props && level == 5)) {
        /* topic length + topic + packet id + property length + payload */
        if (2u + tlen + 2u + 4u + (uint64_t)plen > LMQ_REMAINING_LIMIT)
            return LMQ_ETOOBIG;
        return 0;
    }
    int64_t size = publish_size(level, topic, tlen, payload, plen, qos, &pr);
    if (size < 0)
        return (int)size;
    if (limited && (uint64_t)size > s->srv_max_packet)
        return LMQ_ESERVER_MAX_SIZE;            /* [MQTT-3.1.2-24] */
    return 0;
}

int lmq_session_publish(lmq_session *s, const uint8_t *topic, size_t tlen,
                        const uint8_t *payload, size_t plen, int qos, int retain,
                        const lmq_proplist *props, int64_t now)
{
    int rc;

    if (!s)
        return LMQ_EINVAL;
    if (s->user_closing)
        return LMQ_ESTATE;
    if (s->plugins && (rc = s->hooks->out(s, &topic, &tlen, &payload, &plen, &qos,
                                                &retain, &props, now)))
        return rc;
    if ((rc = check_publish(s, topic, tlen, payload, plen, qos, retain, props)))
        return rc;
    if ((rc = lmq_durable_open(s)))
        return rc;
    lmq_req *r = req_new(topic, tlen, payload, plen);
    if (!r)
        return LMQ_ENOMEM;
    r->qos = (uint8_t)qos;
    r->retain = retain != 0;
    r->queued_at = now;
    r->props = lmq_proplist_dup(props, &rc);
    if (rc)
        goto fail;
    r->bytes = tlen + plen + lmq_proplist_bytes(r->props);
    r->msg_id = lmq_out_msg_id(s);
    /* In the state file before publish says yes (kill -9 safe). */
    if ((rc = lmq_durable_accept(s, r)))
        goto fail;
    if ((rc = lmq_out_enqueue(s, r))) {
        lmq_durable_done(s, r);
        goto fail;
    }
    int32_t id = r->msg_id;
    lmq_pub_pump(s);            /* r may be complete and freed after this */
    return id;

fail:
    lmq_req_free(r);
    return rc;
}
