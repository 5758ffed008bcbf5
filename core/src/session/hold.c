/*
 * hold.c - delivery of application messages paused by the application
 * (lmq_client_pause_delivery), while the connection goes on.
 *
 * An application that cannot take more messages must not stop reading the
 * socket: PUBACK, PUBCOMP, SUBACK and PINGRESP come on it too, so its own
 * publishes would time out and keepalive would fail.  So, while paused,
 * every packet is read and handled as usual, and only incoming PUBLISHes
 * are kept back: their LMQ_EV_MESSAGE events wait here, in arrival order,
 * instead of in the event queue.  Their automatic PUBACK / PUBREC waits
 * with them (sent when they are released, in arrival order
 * [MQTT-4.6.0-2] [MQTT-4.6.0-3]), so the server's flow control does the
 * rest for QoS 1 and 2: MQTT 5 servers send no more than our Receive
 * Maximum unacknowledged [MQTT-3.3.4-9], 3.1.1 servers their own inflight
 * limit.  QoS 0 has no such window: past LMQ_OPT_HOLD_MAX_BYTES of held
 * messages the client stops reading the socket (TCP's window holds the
 * server back) until delivery resumes; nothing is dropped.
 *
 * A held QoS 1/2 message is unacked the way a manual-ack message is
 * (LMQ_IN_Q1/Q2_UNACKED under its connection's generation), so a resent
 * QoS 2 PUBLISH is not delivered twice [MQTT-4.3.3-10], and its release
 * acks it through lmq_pub_ack_pulled, which knows what to do when the
 * connection changed meanwhile.  With a durable store the ack is deferred
 * further, to the pull (durable.c), exactly as for an unheld message.
 */
#include <stdlib.h>
#include <string.h>

#include "session/session_int.h"

struct lmq_held {
    uint16_t pid, gen;
    uint8_t how;                  /* enum lmq_hold_ack */
};

/* The event of a held message, its data copied into the held queue's own
 * arena; NULL without memory (the message is then lost to the
 * application, as an unheld one whose event cannot be pushed is). */
lmq_event *lmq_hold_push(lmq_session *s, int how, uint16_t pid, uint16_t gen,
                         const lmq_props *props)
{
    if (s->held_n == s->held_cap) {
        uint32_t cap = s->held_cap ? s->held_cap * 2 : 64;
        struct lmq_held *h = realloc(s->held_ack, cap * sizeof *h);
        if (!h)
            return NULL;
        s->held_ack = h;
        s->held_cap = cap;
    }
    lmq_event *ev = lmq_evq_push(&s->held, LMQ_EV_MESSAGE);
    if (!ev)
        return NULL;
    s->held_ack[s->held_n++] = (struct lmq_held){ pid, gen, (uint8_t)how };
    if (props && props->raw.p && props->raw.n) {
        const uint8_t *raw = lmq_evq_copy(&s->held, props->raw.p, props->raw.n);
        if (raw) {
            ev->props = raw;
            ev->props_len = (int32_t)props->raw.n;
            s->held_bytes += props->raw.n;
        }
    }
    return ev;
}

void lmq_hold_count_bytes(lmq_session *s, size_t n)
{
    s->held_bytes += n;
    if (!s->hold_warned && lmq_hold_full(s)) {
        s->hold_warned = 1;
        lmq_session_log(s, LMQ_LOG_WARNING,
                        "delivery paused with %llu bytes of messages held: the socket is "
                        "not read until delivery resumes (LMQ_OPT_HOLD_MAX_BYTES)",
                        (unsigned long long)s->held_bytes);
    }
}

int lmq_hold_full(const lmq_session *s)
{
    return s->hold && s->hold_max_bytes && s->held_bytes >= s->hold_max_bytes;
}

/* Move every held event to the event queue, in order, acknowledging each
 * as it goes (or arranging its ack at pull, with a store). */
static void release(lmq_session *s)
{
    lmq_event batch[32];
    uint32_t i = 0;
    int n;

    while ((n = lmq_evq_pull(&s->held, batch, 32, sizeof batch[0])) > 0) {
        for (int k = 0; k < n; k++, i++) {
            const lmq_event *h = &batch[k];
            struct lmq_held a = s->held_ack[i];
            /* before the push: the record names the next event index;
             * without memory for it, acked now (as without a store) */
            if (a.how == LMQ_HOLD_ACK_PULL && lmq_durable_defer_ack(s, a.pid, a.gen))
                a.how = LMQ_HOLD_ACK_NOW;
            lmq_event *ev = lmq_evq_push(&s->evq, LMQ_EV_MESSAGE);
            if (ev) {
                *ev = *h;
                ev->topic = lmq_evq_copy(&s->evq, h->topic, (size_t)h->topic_len);
                ev->payload = lmq_evq_copy(&s->evq, h->payload, (size_t)h->payload_len);
                ev->props = h->props_len
                    ? lmq_evq_copy(&s->evq, h->props, (size_t)h->props_len) : NULL;
                if (!ev->topic || !ev->payload)
                    ev->topic_len = ev->payload_len = 0;
                if (!ev->props)
                    ev->props_len = 0;
            }
            if (a.how == LMQ_HOLD_ACK_NOW)
                lmq_pub_ack_pulled(s, a.pid, a.gen);   /* [MQTT-4.3.2-4] [MQTT-4.3.3-8] */
        }
    }
    lmq_hold_free(s);
}

int lmq_session_hold(lmq_session *s, int on)
{
    if (!s)
        return LMQ_EINVAL;
    int held = (int)s->held_n;
    if (on) {
        s->hold = 1;
        return held;
    }
    s->hold = 0;
    if (held)
        release(s);
    return held;
}

int lmq_session_hold_full(const lmq_session *s)
{
    return s && lmq_hold_full(s);
}

void lmq_hold_free(lmq_session *s)
{
    lmq_evq_free(&s->held);
    free(s->held_ack);
    s->held_ack = NULL;
    s->held_n = s->held_cap = 0;
    s->held_bytes = 0;
    s->hold_warned = 0;
}
