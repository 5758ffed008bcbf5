/*
 * inflight.c - what the server sent us that is not fully acknowledged yet
 * (QoS 1 awaiting a manual ack, QoS 2 awaiting PUBREL), by packet id in
 * O(1), and the incoming topic aliases of the current connection.
 */
#include <stdlib.h>
#include <string.h>

#include "session/session_int.h"

int lmq_in_init(lmq_session *s)
{
    if (!s->in_state && !(s->in_state = calloc(65536, 1)))
        return LMQ_ENOMEM;
    return 0;
}

int lmq_in_get(const lmq_session *s, uint16_t pid)
{
    return s->in_state ? s->in_state[pid] : LMQ_IN_NONE;
}

void lmq_in_set(lmq_session *s, uint16_t pid, int st)
{
    if (!s->in_state)
        return;             /* lmq_in_init ran before any non-NONE state */
    uint8_t old = s->in_state[pid];
    if (old == LMQ_IN_NONE && st != LMQ_IN_NONE)
        s->in_count++;
    else if (old != LMQ_IN_NONE && st == LMQ_IN_NONE)
        s->in_count--;
    s->in_q1_unacked += (st == LMQ_IN_Q1_UNACKED) - (old == LMQ_IN_Q1_UNACKED);
    s->in_state[pid] = (uint8_t)st;
    /* PUBREC'd ids go to the state file (before the PUBREC leaves), so a
     * restarted process does not deliver the server's resend again */
    if (s->store && (old == LMQ_IN_Q2_RECEIVED) != (st == LMQ_IN_Q2_RECEIVED))
        lmq_durable_in(s, pid, st == LMQ_IN_Q2_RECEIVED);
}

/* Only manual ack needs it: allocated on its first delivery. */
int lmq_in_set_gen(lmq_session *s, uint16_t pid, uint16_t gen)
{
    if (!s->in_gen && !(s->in_gen = calloc(65536, sizeof *s->in_gen)))
        return LMQ_ENOMEM;
    s->in_gen[pid] = gen;
    return 0;
}

uint16_t lmq_in_gen(const lmq_session *s, uint16_t pid)
{
    return s->in_gen ? s->in_gen[pid] : 0;
}

/*
 * The connection is gone.  A QoS 1 message the application has not acked
 * yet will come again from the server (DUP) on the next connection and is
 * delivered again, under a new ack id: QoS 1 is at-least-once, and an ack
 * for the old delivery would mean nothing there.  QoS 2 state stays, acked
 * or not: the PUBREL may come on the next connection [MQTT-4.4.0-1], a
 * resent PUBLISH must not be delivered twice [MQTT-4.3.3-10], and the
 * application's ack (its id still valid) sends the PUBREC then.  (CONNACK
 * session present 0 drops it all: lmq_in_clear.)  Counted, so a session
 * without QoS 1 messages pending never scans the table.
 */
void lmq_in_forget_unacked(lmq_session *s)
{
    if (!s->in_state)
        return;
    for (uint32_t i = 1; i < 65536 && s->in_q1_unacked; i++) {
        if (s->in_state[i] == LMQ_IN_Q1_UNACKED)
            lmq_in_set(s, (uint16_t)i, LMQ_IN_NONE);
    }
}

/* The server has no session for us: nor do we keep its half [MQTT-4.1.0-1]. */
void lmq_in_clear(lmq_session *s)
{
    if (s->in_state)
        memset(s->in_state, 0, 65536);
    lmq_durable_in_clear(s);
    s->in_count = 0;
    s->in_q1_unacked = 0;
}

/* ---------------------------------------------------------- topic aliases */

void lmq_in_alias_free(lmq_session *s)
{
    if (!s->alias_in)
        return;
    for (uint32_t i = 0; i <= s->alias_in_n; i++)
        free(s->alias_in[i].p);
    free(s->alias_in);
    s->alias_in = NULL;
    s->alias_in_n = 0;
}

/* Aliases live for one connection [MQTT-3.3.2-7]. */
int lmq_in_alias_reset(lmq_session *s)
{
    lmq_in_alias_free(s);
    if (s->level < 5 || s->in_alias_max == 0)
        return 0;
    s->alias_in = calloc((size_t)s->in_alias_max + 1, sizeof *s->alias_in);
    if (!s->alias_in)
        return LMQ_ENOMEM;
    s->alias_in_n = s->in_alias_max;
    return 0;
}

/*
 * A PUBLISH with a Topic Alias: a topic sets the mapping, an empty topic
 * uses it.  An alias above the maximum we announced (0 when we announced
 * none) [MQTT-3.3.2-9] [MQTT-3.3.2-10], or an empty topic with an alias never
 * set on this connection, is a Topic Alias invalid error (DISCONNECT 0x94).
 */
int lmq_in_alias_resolve(lmq_session *s, lmq_publish *p)
{
    if (s->level < 5 || !lmq_props_has(&p->props, LMQ_PROP_TOPIC_ALIAS))
        return 0;
    uint16_t a = p->props.topic_alias;
    if (a == 0 || a > s->alias_in_n)
        return LMQ_EALIAS;
    lmq_bytes *slot = &s->alias_in[a];
    if (p->topic.n == 0) {
        if (!slot->p)
            return LMQ_EALIAS;
        p->topic.p = slot->p;
        p->topic.n = slot->n;
        return 0;
    }
    uint8_t *copy = malloc(p->topic.n);
    if (!copy)
        return LMQ_ENOMEM;
    memcpy(copy, p->topic.p, p->topic.n);
    free(slot->p);
    slot->p = copy;
    slot->n = p->topic.n;
    return 0;
}
