/*
 * encode.c - packets to bytes, for MQTT 3.1 (level 3), 3.1.1 (4) and 5.0 (5).
 *
 * Ask the size, then encode (coreMQTT style), with no allocation.  Both
 * steps run the same walker over the packet: an lmq_out either counts the
 * bytes (p == NULL) or writes them, so the size and the bytes come from one
 * description of each layout and cannot drift apart.
 *
 * The encoder checks what it writes as strictly as a decoder checks what it
 * reads (QoS, packet ids, string lengths, UTF-8, wildcards, which
 * properties and reason codes a packet may carry and, when told who sends
 * it, which side may send them), so a packet that leaves here is one a
 * strict peer accepts.  Every rule the decoder also enforces is called
 * from prims.c / reasons.c (lmq_codec_check_*), never restated here.  At
 * levels 3 and 4 the properties are not part of the protocol and are
 * ignored.
 */
#include <string.h>

#include "codec/codec.h"

#define LMQ_REMAINING_MAX 268435455u    /* largest variable byte integer */
#define LMQ_STR_MAX 65535u              /* two-byte length prefix [MQTT-1.5.4] */
/* Counts (p == NULL) or writes (p != NULL) bytes; the first error sticks
 * and turns every later step into a no-op.  dir is the sender
 * (enum lmq_direction). */
typedef struct lmq_out {
    uint8_t *p;
    size_t cap;
    uint64_t n;
    int err;
    int dir;
} lmq_out;

static void fail(lmq_out *o, int code)
{
    if (!o->err)
        o->err = code;
}

/* A shared rule (lmq_codec_check_*) broken by the caller's packet: the
 * decoder's LMQ_EMAL_* code names the peer's fault, here it is the
 * caller's, LMQ_EINVAL.  Returns 1 when refused. */
static int refuse(lmq_out *o, int rule_rc)
{
    if (!rule_rc)
        return 0;
    fail(o, LMQ_EINVAL);
    return 1;
}

/* ------------------------------------------------------------- primitives */

static void put_raw(lmq_out *o, const uint8_t *src, size_t n)
{
    if (o->err)
        return;
    if (o->p) {
        /* lmq_encode checked the size first; this only guards the cap. */
        if (o->n > o->cap || n > o->cap - o->n) {
            fail(o, LMQ_EBUFSIZE);
            return;
        }
        if (n)
            memcpy(o->p + o->n, src, n);
    }
    o->n += n;
}

static void put_u8(lmq_out *o, uint8_t v)
{
    put_raw(o, &v, 1);
}

static void put_u16(lmq_out *o, uint16_t v)
{
    uint8_t b[2] = { (uint8_t)(v >> 8), (uint8_t)v };
    put_raw(o, b, sizeof b);
}

static void put_u32(lmq_out *o, uint32_t v)
{
    uint8_t b[4] = { (uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8),
                     (uint8_t)v };
    put_raw(o, b, sizeof b);
}

static void put_varint(lmq_out *o, uint32_t v)
{
    uint8_t b[4];
    if (lmq_varint_size(v) == 0) {
        fail(o, LMQ_ETOOBIG);
        return;
    }
    put_raw(o, b, (size_t)lmq_varint_put(b, v));
}

/* A slice that claims bytes must point at them. */
static int slice_ok(lmq_out *o, lmq_slice s)
{
    if (s.n && !s.p) {
        fail(o, LMQ_EINVAL);
        return 0;
    }
    return 1;
}

/* Binary Data: two-byte length, then the bytes [MQTT-1.5.6]. */
static void put_bin(lmq_out *o, lmq_slice s)
{
    if (!slice_ok(o, s))
        return;
    if (s.n > LMQ_STR_MAX) {
        fail(o, LMQ_ETOOBIG);
        return;
    }
    put_u16(o, (uint16_t)s.n);
    put_raw(o, s.p, s.n);
}

/* UTF-8 Encoded String [MQTT-1.5.4-1] [MQTT-1.5.4-2]. */
static void put_utf8(lmq_out *o, lmq_slice s)
{
    if (!slice_ok(o, s))
        return;
    if (s.n > LMQ_STR_MAX) {
        fail(o, LMQ_ETOOBIG);
        return;
    }
    int rc = s.n ? lmq_utf8_check(s.p, s.n) : 0;
    if (rc) {
        fail(o, rc);
        return;
    }
    put_bin(o, s);
}

/* A Topic Name: at least one character [MQTT-4.7.3-1] and no wildcard
 * [MQTT-4.7.0-1] [MQTT-3.3.2-2], the decoder's rule.  PUBLISH decides
 * itself about the empty name a topic alias allows, so `may_be_empty`
 * lets it through.  Its own codes (LMQ_ETOPIC_*) are kept: they say what
 * is wrong with the caller's topic. */
static void put_topic_name(lmq_out *o, lmq_slice s, int may_be_empty)
{
    if (!slice_ok(o, s))
        return;
    /* an over-long name is put_utf8's LMQ_ETOOBIG */
    int rc = s.n <= LMQ_STR_MAX ? lmq_codec_check_topic_name(s, may_be_empty) : 0;
    if (rc) {
        fail(o, rc);
        return;
    }
    put_utf8(o, s);
}

/* A Topic Filter in SUBSCRIBE/UNSUBSCRIBE: not empty [MQTT-4.7.3-1].  Its
 * wildcard syntax is the API's business (lmq_topic_validate_filter); a
 * filter the server dislikes is answered with a reason code, not a broken
 * connection. */
static void put_filter(lmq_out *o, lmq_slice s)
{
    if (s.n == 0) {
        fail(o, LMQ_ETOPIC_EMPTY);
        return;
    }
    put_utf8(o, s);
}

/* ------------------------------------------------------------- properties */

static lmq_slice prop_str(const lmq_props *pr, uint8_t id)
{
    static const lmq_slice none = { NULL, 0 };
    switch (id) {
    case LMQ_PROP_CONTENT_TYPE: return pr->content_type;
    case LMQ_PROP_RESPONSE_TOPIC: return pr->response_topic;
    case LMQ_PROP_CORRELATION_DATA: return pr->correlation_data;
    case LMQ_PROP_ASSIGNED_CLIENT_ID: return pr->assigned_client_id;
    case LMQ_PROP_AUTH_METHOD: return pr->auth_method;
    case LMQ_PROP_AUTH_DATA: return pr->auth_data;
    case LMQ_PROP_RESPONSE_INFO: return pr->response_info;
    case LMQ_PROP_SERVER_REFERENCE: return pr->server_reference;
    case LMQ_PROP_REASON_STRING: return pr->reason_string;
    default: return none;
    }
}

static void put_prop_num(lmq_out *o, const lmq_prop_info *info, uint32_t v)
{
    /* the value ranges a receiver treats as a Protocol Error */
    if (refuse(o, lmq_codec_check_prop_value(info->id, v)))
        return;
    put_u8(o, info->id);
    switch (info->kind) {
    case LMQ_PK_BYTE: put_u8(o, (uint8_t)v); break;
    case LMQ_PK_U16: put_u16(o, (uint16_t)v); break;
    case LMQ_PK_U32: put_u32(o, v); break;
    default: put_varint(o, v); break;
    }
}

static void put_prop_str(lmq_out *o, const lmq_prop_info *info, lmq_slice s)
{
    put_u8(o, info->id);
    if (info->kind == LMQ_PK_BINARY)
        put_bin(o, s);
    else if (info->id == LMQ_PROP_RESPONSE_TOPIC)
        put_topic_name(o, s, 0);        /* [MQTT-3.3.2-13] [MQTT-3.3.2-14] */
    else
        put_utf8(o, s);                 /* Content Type etc. [MQTT-3.3.2-19] */
}

static void put_user(lmq_out *o, lmq_slice key, lmq_slice val)
{
    put_u8(o, LMQ_PROP_USER);
    put_utf8(o, key);                   /* both halves [MQTT-1.5.7-1] */
    put_utf8(o, val);
}

/* User Properties: the caller's array, else those of a decoded block. */
static void put_users(lmq_out *o, const lmq_props *pr)
{
    if (pr->user) {
        for (uint32_t i = 0; i < pr->n_user; i++)
            put_user(o, pr->user[i].key, pr->user[i].val);
        return;
    }
    if (pr->n_user == 0 || !pr->raw.p)
        return;
    uint32_t pos = 0, num;
    uint8_t id;
    lmq_slice a, b;
    while (!o->err && lmq_props_next(pr, &pos, &id, &num, &a, &b)) {
        if (id == LMQ_PROP_USER)
            put_user(o, a, b);
    }
}

/* Subscription Identifiers: the array, else those of a decoded block when
 * it holds several, else sub_id alone. */
static void put_sub_ids(lmq_out *o, const lmq_prop_info *info, const lmq_props *pr)
{
    if (pr->sub_ids) {
        for (uint32_t i = 0; i < pr->n_sub_id; i++)
            put_prop_num(o, info, pr->sub_ids[i]);
        return;
    }
    if (!(pr->present & (1u << info->index)))
        return;
    if (pr->n_sub_id > 1 && pr->raw.p) {
        uint32_t pos = 0, num;
        uint8_t id;
        lmq_slice a, b;
        while (!o->err && lmq_props_next(pr, &pos, &id, &num, &a, &b)) {
            if (id == LMQ_PROP_SUBSCRIPTION_ID)
                put_prop_num(o, info, num);
        }
        return;
    }
    put_prop_num(o, info, pr->sub_id);
}

/* Does the block hold any of a repeatable property? */
static int has_repeated(const lmq_props *pr, const lmq_prop_info *info)
{
    if (info->id == LMQ_PROP_USER)
        return pr->user ? pr->n_user > 0 : pr->n_user > 0 && pr->raw.p;
    if (pr->sub_ids)
        return pr->n_sub_id > 0;
    return (pr->present & (1u << info->index)) != 0;
}

/* The presence bits prims.c's table defines, one per entry. */
static uint32_t props_known(void)
{
    return (1u << lmq_prop_count()) - 1u;
}

/*
 * The properties themselves (no length), in ascending id order, which is
 * the order of prims.c's table.  `block` is the packet type the block
 * belongs to, or 0 for the will properties (LMQ_IN(0) is LMQ_IN_WILL).
 */
static void props_walk(lmq_out *o, const lmq_props *pr, uint8_t block)
{
    uint16_t where = (uint16_t)LMQ_IN(block);
    if (pr->present & ~props_known()) {
        fail(o, LMQ_EINVAL);
        return;
    }
    /* The repeatable ones may come from arrays or raw rather than bits. */
    const lmq_prop_info *user = lmq_prop_lookup(LMQ_PROP_USER);
    const lmq_prop_info *subid = lmq_prop_lookup(LMQ_PROP_SUBSCRIPTION_ID);
    uint32_t todo = pr->present & ~((1u << user->index) | (1u << subid->index));
    if (has_repeated(pr, user))
        todo |= 1u << user->index;
    if (has_repeated(pr, subid))
        todo |= 1u << subid->index;
    /* Visit only the properties that are there, lowest index first: the
     * table is in identifier order, so the output order is fixed. */
    while (todo && !o->err) {
        unsigned index = (unsigned)__builtin_ctz(todo);
        todo &= todo - 1;
        const lmq_prop_info *info = lmq_prop_at(index);
        if (!(info->where & where)) {
            fail(o, LMQ_EINVAL);        /* not allowed in this packet */
            return;
        }
        /* [MQTT-3.3.4-6] [MQTT-3.14.2-2] allowed, but not from this side */
        if (refuse(o, lmq_codec_check_prop_sender(info->id, block, o->dir)))
            return;
        if (info == user)
            put_users(o, pr);
        else if (info == subid)
            put_sub_ids(o, info, pr);
        else if (info->kind == LMQ_PK_UTF8 || info->kind == LMQ_PK_BINARY)
            put_prop_str(o, info, prop_str(pr, info->id));
        else
            put_prop_num(o, info, lmq_props_num(pr, info->id));
    }
    /* Authentication Data without a Method (3.1.2.11.10 and the like) */
    if (!o->err)
        refuse(o, lmq_codec_check_props(pr));
}

/* The length of the property block, or 0 with o failed. */
static uint32_t props_len(lmq_out *o, const lmq_props *pr, uint8_t block)
{
    lmq_out c = { NULL, 0, 0, 0, o->dir };
    if (o->err)
        return 0;
    props_walk(&c, pr, block);
    if (!c.err && c.n > LMQ_REMAINING_MAX)
        c.err = LMQ_ETOOBIG;
    if (c.err) {
        fail(o, c.err);
        return 0;
    }
    return (uint32_t)c.n;
}

/* Property Length then the properties [MQTT-2.2.2]; len from props_len. */
static void put_props_len(lmq_out *o, const lmq_props *pr, uint8_t block,
                          uint32_t len)
{
    put_varint(o, len);
    if (o->err)
        return;
    if (o->p)
        props_walk(o, pr, block);
    else
        o->n += len;                    /* already walked by props_len */
}

static void put_props(lmq_out *o, const lmq_props *pr, uint8_t block)
{
    uint32_t len = props_len(o, pr, block);
    put_props_len(o, pr, block, len);
}

/* -------------------------------------------------------------- packets */

static void body_connect(lmq_out *o, const lmq_connect *c)
{
    static const uint8_t mqisdp[] = { 'M', 'Q', 'I', 's', 'd', 'p' };
    static const uint8_t mqtt[] = { 'M', 'Q', 'T', 'T' };
    /* [MQTT-3.1.2-1] the name goes with the level: "MQIsdp" was 3.1's. */
    lmq_slice name = c->level == 3 ? (lmq_slice){ mqisdp, sizeof mqisdp }
                                   : (lmq_slice){ mqtt, sizeof mqtt };
    uint8_t flags = 0;                  /* bit 0 reserved, 0 [MQTT-3.1.2-3] */

    if (c->clean)
        flags |= 0x02;
    if (c->will) {
        /* QoS 3 is malformed [MQTT-3.1.2-12].  Without the will flag the
         * will fields are not looked at and the will QoS and retain bits
         * stay 0 [MQTT-3.1.2-11] [MQTT-3.1.2-13]. */
        if (c->will_qos > 2) {
            fail(o, LMQ_EINVAL);
            return;
        }
        flags |= (uint8_t)(0x04 | (c->will_qos << 3) | (c->will_retain ? 0x20 : 0));
    }
    if (c->password.p) {
        /* 3.1 and 3.1.1 allow a password only with a user name
         * [MQTT-3.1.2-22]; 5.0 dropped that rule. */
        if (c->level < 5 && !c->username.p) {
            fail(o, LMQ_EINVAL);
            return;
        }
        flags |= 0x40;
    }
    /* Each flag comes from the very field it announces, so a flag is set
     * exactly when its field is in the payload: user name [MQTT-3.1.2-16]
     * [MQTT-3.1.2-17], password [MQTT-3.1.2-18] [MQTT-3.1.2-19]. */
    if (c->username.p)
        flags |= 0x80;

    put_bin(o, name);
    put_u8(o, c->level);
    put_u8(o, flags);
    put_u16(o, c->keepalive);
    if (c->level == 5)
        put_props(o, &c->props, LMQ_CONNECT);

    /* Payload order is fixed [MQTT-3.1.3-1]: client id, will properties,
     * will topic, will payload, user name, password. */
    put_utf8(o, c->client_id);          /* [MQTT-3.1.3-3] [MQTT-3.1.3-4] */
    if (c->will) {
        /* the will flag brings all three [MQTT-3.1.2-9] */
        if (c->level == 5)
            put_props(o, &c->will_props, 0);       /* the will block */
        put_topic_name(o, c->will_topic, 0);  /* [MQTT-3.1.3-11] */
        put_bin(o, c->will_payload);
    }
    if (c->username.p)
        put_utf8(o, c->username);       /* [MQTT-3.1.3-12] */
    if (c->password.p)
        put_bin(o, c->password);
}

static void body_connack(lmq_out *o, const lmq_connack *c, uint8_t level)
{
    if (refuse(o, lmq_codec_check_reason(LMQ_CONNACK, level, c->reason, o->dir)))
        return;
    if (c->session_present && (level == 3 || c->reason != 0)) {
        /* 3.1 has no session present flag (the byte is reserved); a refused
         * connection has no session [MQTT-3.2.2-6] (5.0), [MQTT-3.2.2-4]
         * (3.1.1). */
        fail(o, LMQ_EINVAL);
        return;
    }
    put_u8(o, c->session_present ? 1 : 0);  /* other bits 0 [MQTT-3.2.2-1] */
    put_u8(o, c->reason);
    if (level == 5)
        put_props(o, &c->props, LMQ_CONNACK);
}

static void body_publish(lmq_out *o, const lmq_publish *p, uint8_t level)
{
    if (p->qos > 2 || (p->dup && p->qos == 0)) {
        /* [MQTT-3.3.1-4] no QoS 3; [MQTT-3.3.1-2] DUP only when QoS > 0 */
        fail(o, LMQ_EINVAL);
        return;
    }
    if (p->qos && p->packet_id == 0) {
        fail(o, LMQ_EINVAL);            /* [MQTT-2.2.1-3] */
        return;
    }
    /* An empty topic name is only allowed in v5 with a Topic Alias that
     * stands in for it (section 3.3.2.3.4). */
    int alias = level == 5 && lmq_props_has(&p->props, LMQ_PROP_TOPIC_ALIAS);
    put_topic_name(o, p->topic, alias);
    if (p->qos)                 /* none at QoS 0 [MQTT-2.2.1-2] */
        put_u16(o, p->packet_id);
    if (level == 5)
        put_props(o, &p->props, LMQ_PUBLISH);
    if (slice_ok(o, p->payload))
        put_raw(o, p->payload.p, p->payload.n);   /* no length: it fills the rest */
}

/* PUBACK, PUBREC, PUBREL, PUBCOMP. */
static void body_ack(lmq_out *o, const lmq_ack *a, uint8_t type, uint8_t level)
{
    if (a->packet_id == 0) {
        fail(o, LMQ_EINVAL);            /* [MQTT-2.2.1-3] */
        return;
    }
    put_u16(o, a->packet_id);
    if (level < 5) {
        if (a->reason)
            fail(o, LMQ_EINVAL);        /* 3.x acks carry no reason code */
        return;
    }
    /* [MQTT-3.4.2-1] and the like */
    if (refuse(o, lmq_codec_check_reason(type, level, a->reason, o->dir)))
        return;
    uint32_t len = props_len(o, &a->props, type);
    /* Section 3.4.2.1: reason 0 without properties may be left out
     * (remaining length 2); with no properties the Property Length may be
     * left out (remaining length 3).  The shortest form is written. */
    if (o->err || (a->reason == 0 && len == 0))
        return;
    put_u8(o, a->reason);
    if (len)
        put_props_len(o, &a->props, type, len);
}

static void put_sub_entry(lmq_out *o, const lmq_sub_entry *e, uint8_t type,
                          uint8_t level)
{
    put_filter(o, e->filter);
    if (type == LMQ_UNSUBSCRIBE || o->err)
        return;
    /* section 3.8.3.1 [MQTT-3.8.3-4] [MQTT-3.8.3-5], the decoder's rule */
    if (refuse(o, lmq_codec_check_subopts(level, e->options, e->filter)))
        return;
    put_u8(o, e->options);
}

/* SUBSCRIBE and UNSUBSCRIBE. */
static void body_subscribe(lmq_out *o, const lmq_subscribe *s, uint8_t type,
                           uint8_t level)
{
    if (s->packet_id == 0) {
        fail(o, LMQ_EINVAL);            /* [MQTT-2.2.1-3] */
        return;
    }
    if (s->count == 0 || (!s->entries && !s->list.p)) {
        fail(o, LMQ_EINVAL);            /* [MQTT-3.8.3-2] [MQTT-3.10.3-2] */
        return;
    }
    put_u16(o, s->packet_id);
    if (level == 5) {
        /* A SUBSCRIBE carries at most one Subscription Identifier. */
        if (type == LMQ_SUBSCRIBE && s->props.n_sub_id > 1 &&
            (s->props.sub_ids || s->props.raw.p)) {
            fail(o, LMQ_EINVAL);
            return;
        }
        put_props(o, &s->props, type);
    }
    if (s->entries) {
        for (uint32_t i = 0; i < s->count && !o->err; i++)
            put_sub_entry(o, &s->entries[i], type, level);
        return;
    }
    /* A decoded packet: its entries are still in the payload bytes. */
    uint32_t pos = 0, seen = 0;
    lmq_sub_entry e;
    while (!o->err && lmq_subs_next(s, type, &pos, &e)) {
        put_sub_entry(o, &e, type, level);
        seen++;
    }
    if (seen != s->count)
        fail(o, LMQ_EINVAL);
}

/* SUBACK and UNSUBACK. */
static void body_suback(lmq_out *o, const lmq_suback *s, uint8_t type,
                        uint8_t level)
{
    if (s->packet_id == 0) {
        fail(o, LMQ_EINVAL);            /* [MQTT-2.2.1-3] */
        return;
    }
    if (!slice_ok(o, s->reasons))
        return;
    put_u16(o, s->packet_id);
    if (type == LMQ_UNSUBACK && level < 5) {
        /* A 3.x UNSUBACK is the packet id alone. */
        if (s->reasons.n)
            fail(o, LMQ_EINVAL);
        return;
    }
    if (s->reasons.n == 0) {
        fail(o, LMQ_EINVAL);            /* one code per filter [MQTT-3.9.3-1] */
        return;
    }
    for (uint32_t i = 0; i < s->reasons.n; i++) {
        /* [MQTT-3.9.3-2] (3.1.1) and Table 2-6 (5.0) */
        if (refuse(o, lmq_codec_check_reason(type, level, s->reasons.p[i], o->dir)))
            return;
    }
    if (level == 5)
        put_props(o, &s->props, type);
    put_raw(o, s->reasons.p, s->reasons.n);
}

/* DISCONNECT and AUTH. */
static void body_disconnect(lmq_out *o, const lmq_disconnect *d, uint8_t type,
                            uint8_t level)
{
    if (level < 5) {
        if (d->reason)
            fail(o, LMQ_EINVAL);        /* a 3.x DISCONNECT is empty */
        return;
    }
    /* [MQTT-3.14.2-1] [MQTT-3.15.2-1], and the side Tables 3-10 and 3-13
     * name; reason 0 of the short form too (an AUTH Success is a
     * server's). */
    if (refuse(o, lmq_codec_check_reason(type, level, d->reason, o->dir)))
        return;
    uint32_t len = props_len(o, &d->props, type);
    /* Reason 0 without properties: remaining length 0 (3.14.2.1,
     * 3.15.2.1).  DISCONNECT may also drop just the Property Length
     * (3.14.2.2.1); AUTH has no such rule, so it always writes it. */
    if (o->err || (d->reason == 0 && len == 0))
        return;
    put_u8(o, d->reason);
    if (len || type == LMQ_AUTH)
        put_props_len(o, &d->props, type, len);
}

/* The first byte: type and flags derived from the packet's fields. */
static uint8_t first_byte(const lmq_packet *pkt)
{
    uint8_t flags = 0;
    switch (pkt->type) {
    case LMQ_PUBLISH: {
        const lmq_publish *p = &pkt->u.publish;
        flags = (uint8_t)((p->dup ? 0x08 : 0) | (p->qos << 1) | (p->retain ? 0x01 : 0));
        break;
    }
    case LMQ_PUBREL:
    case LMQ_SUBSCRIBE:
    case LMQ_UNSUBSCRIBE:
        /* [MQTT-3.6.1-1] [MQTT-3.8.1-1] [MQTT-3.10.1-1] */
        flags = 0x02;
        break;
    default:
        break;                          /* reserved, 0 [MQTT-2.1.3-1] */
    }
    return (uint8_t)(pkt->type << 4 | flags);
}

static void body(lmq_out *o, const lmq_packet *pkt, uint8_t level)
{
    /* a packet type only the other side sends */
    if (refuse(o, lmq_codec_check_sender(pkt->type, o->dir)))
        return;
    switch (pkt->type) {
    case LMQ_CONNECT: body_connect(o, &pkt->u.connect); break;
    case LMQ_CONNACK: body_connack(o, &pkt->u.connack, level); break;
    case LMQ_PUBLISH: body_publish(o, &pkt->u.publish, level); break;
    case LMQ_PUBACK:
    case LMQ_PUBREC:
    case LMQ_PUBREL:
    case LMQ_PUBCOMP: body_ack(o, &pkt->u.ack, pkt->type, level); break;
    case LMQ_SUBSCRIBE:
    case LMQ_UNSUBSCRIBE: body_subscribe(o, &pkt->u.subscribe, pkt->type, level); break;
    case LMQ_SUBACK:
    case LMQ_UNSUBACK: body_suback(o, &pkt->u.suback, pkt->type, level); break;
    case LMQ_PINGREQ:
    case LMQ_PINGRESP: break;
    case LMQ_DISCONNECT:
    case LMQ_AUTH: body_disconnect(o, &pkt->u.disconnect, pkt->type, level); break;
    default: fail(o, LMQ_EINVAL); break;
    }
}

/* CONNECT speaks the level it carries (as lmq_decode reads it); every
 * other packet the level it is asked for. */
static int effective_level(const lmq_packet *pkt, uint8_t level, uint8_t *out)
{
    if (pkt->type == LMQ_CONNECT)
        level = pkt->u.connect.level;
    if (level < 3 || level > 5)
        return LMQ_EVERSION;
    if (pkt->type == LMQ_AUTH && level < 5)
        return LMQ_EVERSION;            /* AUTH is new in 5.0 */
    *out = level;
    return 0;
}

/* The remaining length of pkt at `level` sent by `dir`, or a negative
 * LMQ_E* code. */
static int64_t remaining(const lmq_packet *pkt, uint8_t level, int dir)
{
    lmq_out c = { NULL, 0, 0, 0, dir };
    body(&c, pkt, level);
    if (c.err)
        return c.err;
    if (c.n > LMQ_REMAINING_MAX)
        return LMQ_ETOOBIG;             /* section 2.1.4 */
    return (int64_t)c.n;
}

/* Checks the arguments and sizes the packet: *lv is the level it is
 * written at, the return value its remaining length or an LMQ_E* code. */
static int64_t prepare(const lmq_packet *pkt, uint8_t level, int dir, uint8_t *lv)
{
    if (!pkt)
        return LMQ_EINVAL;
    if (dir != LMQ_FROM_SERVER && dir != LMQ_FROM_CLIENT && dir != LMQ_FROM_EITHER)
        return LMQ_EINVAL;
    int rc = effective_level(pkt, level, lv);
    if (rc)
        return rc;
    return remaining(pkt, *lv, dir);
}

int64_t lmq_encode_size_as(const lmq_packet *pkt, uint8_t level, int direction)
{
    uint8_t lv = 0;
    int64_t rem = prepare(pkt, level, direction, &lv);
    if (rem < 0)
        return rem;
    return 1 + lmq_varint_size((uint32_t)rem) + rem;
}

int64_t lmq_encode_as(const lmq_packet *pkt, uint8_t level, int direction,
                      uint8_t *buf, size_t cap)
{
    uint8_t lv = 0;
    int64_t rem = prepare(pkt, level, direction, &lv);
    if (rem < 0)
        return rem;
    uint64_t total = 1 + (uint64_t)lmq_varint_size((uint32_t)rem) + (uint64_t)rem;
    if (!buf || cap < total)
        return LMQ_EBUFSIZE;            /* nothing written */

    lmq_out o = { buf, cap, 0, 0, direction };
    put_u8(&o, first_byte(pkt));
    put_varint(&o, (uint32_t)rem);
    body(&o, pkt, lv);
    if (o.err)
        return o.err;
    return (int64_t)o.n;
}

/* Without a sender: only the rules that bind both sides. */
int64_t lmq_encode_size(const lmq_packet *pkt, uint8_t level)
{
    return lmq_encode_size_as(pkt, level, LMQ_FROM_EITHER);
}

int64_t lmq_encode(const lmq_packet *pkt, uint8_t level, uint8_t *buf,
                   size_t cap)
{
    return lmq_encode_as(pkt, level, LMQ_FROM_EITHER, buf, cap);
}
