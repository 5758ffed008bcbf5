/*
 * test_session_fx.h - the fake server the session tests talk to: it feeds
 * the session bytes built with the codec (or written by hand), decodes
 * what the session sends (as a server would, LMQ_FROM_CLIENT), and pulls
 * events.  A fake clock, no sockets.
 */
#ifndef LMQ_TEST_SESSION_FX_H
#define LMQ_TEST_SESSION_FX_H

#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "codec/codec.h"
#include "session/session.h"

#define FX_MAX_EV 4096

typedef struct fx {
    lmq_session *s;
    int64_t now;
    uint8_t level;
    uint8_t *ob;              /* what the session wrote, not yet parsed */
    size_t on, opos, ocap;
    lmq_packet pkt;           /* the last packet parsed by fx_next */
    uint8_t raw[64];          /* its first bytes */
    size_t raw_n;
    lmq_event ev[FX_MAX_EV];
    int nev;
    int last_rc;              /* of the last fx_feed */
} fx;

static inline void fx_init(fx *f, int level)
{
    memset(f, 0, sizeof *f);
    f->s = lmq_session_new();
    f->level = (uint8_t)level;
    f->now = 1000;
    lmq_session_set_int(f->s, LMQ_OPT_PROTOCOL, level);
    lmq_session_set_str(f->s, LMQ_OPT_CLIENT_ID, (const uint8_t *)"c1", 2);
}

static inline void fx_free(fx *f)
{
    lmq_session_free(f->s);
    free(f->ob);
    f->s = NULL;
    f->ob = NULL;
}

/* Take every byte the session wants to write (and tell it they went):
 * writing lets it encode more of its queue (the high-water mark). */
static inline void fx_drain(fx *f)
{
    const uint8_t *p;
    size_t n;
    while ((n = lmq_session_out(f->s, &p)) > 0) {
        if (f->opos == f->on)
            f->opos = f->on = 0;
        if (f->ocap - f->on < n) {
            size_t cap = f->ocap ? f->ocap : 4096;
            while (cap - f->on < n)
                cap *= 2;
            f->ob = realloc(f->ob, cap);
            f->ocap = cap;
        }
        memcpy(f->ob + f->on, p, n);
        f->on += n;
        lmq_session_sent(f->s, n, f->now);
    }
}

/* The next packet the session sent: its type, 0 when none, -1 when it
 * does not decode.  The packet is in f->pkt (slices valid until the next
 * fx_drain). */
static inline int fx_next(fx *f)
{
    uint8_t tf;
    uint32_t rem;
    fx_drain(f);
    if (f->opos >= f->on)
        return 0;
    int h = lmq_decode_header(f->ob + f->opos, f->on - f->opos, &tf, &rem);
    if (h <= 0)
        return -1;
    size_t len = (size_t)h + rem;
    f->raw_n = len < sizeof f->raw ? len : sizeof f->raw;
    memcpy(f->raw, f->ob + f->opos, f->raw_n);
    int rc = lmq_decode(f->ob + f->opos, len, f->level, LMQ_FROM_CLIENT, &f->pkt);
    f->opos += len;
    return rc ? -1 : f->pkt.type;
}

/* Drop whatever was sent. */
static inline void fx_skip_all(fx *f)
{
    fx_drain(f);
    f->opos = f->on = 0;
}

static inline int fx_feed_bytes(fx *f, const uint8_t *p, size_t n)
{
    f->last_rc = lmq_session_input(f->s, p, n, f->now);
    return f->last_rc;
}

static inline int fx_feed(fx *f, const lmq_packet *pkt)
{
    int64_t size = lmq_encode_size_as(pkt, f->level, LMQ_FROM_SERVER);
    uint8_t *buf = size > 0 ? malloc((size_t)size) : NULL;
    int64_t n = buf ? lmq_encode_as(pkt, f->level, LMQ_FROM_SERVER, buf, (size_t)size) : size;
    if (n < 0) {
        fprintf(stderr, "fx_feed: cannot encode type %d: %s\n", pkt->type,
                lmq_errname((int)n));
        free(buf);
        return (int)n;
    }
    int rc = fx_feed_bytes(f, buf, (size_t)n);
    free(buf);
    return rc;
}

static inline int fx_events(fx *f)
{
    f->nev = lmq_session_events(f->s, f->ev, FX_MAX_EV);
    return f->nev;
}

/* The first pulled event of a type, or NULL. */
static inline const lmq_event *fx_find(fx *f, int type)
{
    for (int i = 0; i < f->nev; i++)
        if (f->ev[i].type == type)
            return &f->ev[i];
    return NULL;
}

static inline int fx_count(fx *f, int type)
{
    int n = 0;
    for (int i = 0; i < f->nev; i++)
        n += f->ev[i].type == type;
    return n;
}

static inline lmq_packet fx_connack(int sp, int reason)
{
    lmq_packet p;
    memset(&p, 0, sizeof p);
    p.type = LMQ_CONNACK;
    p.u.connack.session_present = (uint8_t)sp;
    p.u.connack.reason = (uint8_t)reason;
    return p;
}

static inline lmq_packet fx_ack(int type, int pid, int reason)
{
    lmq_packet p;
    memset(&p, 0, sizeof p);
    p.type = (uint8_t)type;
    p.u.ack.packet_id = (uint16_t)pid;
    p.u.ack.reason = (uint8_t)reason;
    return p;
}

static inline lmq_packet fx_publish(const char *topic, const char *payload, int qos, int pid)
{
    lmq_packet p;
    memset(&p, 0, sizeof p);
    p.type = LMQ_PUBLISH;
    p.u.publish.qos = (uint8_t)qos;
    p.u.publish.packet_id = (uint16_t)pid;
    p.u.publish.topic.p = (const uint8_t *)topic;
    p.u.publish.topic.n = (uint32_t)strlen(topic);
    p.u.publish.payload.p = (const uint8_t *)payload;
    p.u.publish.payload.n = (uint32_t)strlen(payload);
    return p;
}

/* start + CONNECT out + CONNACK (session present sp) in; events pulled. */
static inline void fx_connect_with(fx *f, const lmq_packet *connack)
{
    CHECK_INT(lmq_session_start(f->s, f->now), 0);
    CHECK_INT(fx_next(f), LMQ_CONNECT);
    CHECK_INT(fx_feed(f, connack), 0);
    CHECK_INT(lmq_session_state(f->s), LMQ_SS_CONNECTED);
    fx_events(f);
}

static inline void fx_connect(fx *f, int sp)
{
    lmq_packet ca = fx_connack(sp, 0);
    fx_connect_with(f, &ca);
}

static inline int fx_pub(fx *f, const char *topic, const char *payload, int qos)
{
    return lmq_session_publish(f->s, (const uint8_t *)topic, strlen(topic),
                               (const uint8_t *)payload, strlen(payload), qos, 0,
                               NULL, f->now);
}

/* The connection breaks; a new one starts and sees CONNECT go out. */
static inline void fx_reconnect(fx *f)
{
    lmq_session_lost(f->s, f->now, LMQ_EIO);
    fx_skip_all(f);
    fx_events(f);
}

#endif /* LMQ_TEST_SESSION_FX_H */
