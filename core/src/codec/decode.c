/*
 * decode.c - bytes to packets, for MQTT 3.1 (level 3), 3.1.1 (level 4) and
 * 5.0 (level 5).
 *
 * Strict and zero-copy: every length field is checked against the bytes
 * that are really there before anything is read, every slice in the
 * decoded packet points into the caller's buffer, and the first rule a
 * packet breaks is named by its own error code (errors.def), so a log line
 * says what the peer got wrong.  lmq_decode() allocates nothing; only the
 * incremental lmq_decoder owns memory (its receive buffer).
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "codec/codec.h"

/* ------------------------------------------------------------------ reader */

/*
 * A cursor over one packet's bytes (or one property block).  The two error
 * codes say what running out of bytes means here: in a packet body a field
 * that is cut is LMQ_EMAL_SHORT, inside a property block it is
 * LMQ_EMAL_PROP_LEN (the block's length did not cover its properties).
 */
typedef struct rd {
    const uint8_t *p;
    size_t n;
    size_t i;
    int short_err;
} rd;

static size_t rd_left(const rd *r)
{
    return r->n - r->i;
}

static int rd_u8(rd *r, uint8_t *v)
{
    if (rd_left(r) < 1)
        return r->short_err;
    *v = r->p[r->i++];
    return 0;
}

/* Two Byte Integer, big-endian (section 1.5.2). */
static int rd_u16(rd *r, uint16_t *v)
{
    if (rd_left(r) < 2)
        return r->short_err;
    *v = (uint16_t)((r->p[r->i] << 8) | r->p[r->i + 1]);
    r->i += 2;
    return 0;
}

/* Four Byte Integer, big-endian (section 1.5.3). */
static int rd_u32(rd *r, uint32_t *v)
{
    if (rd_left(r) < 4)
        return r->short_err;
    const uint8_t *p = r->p + r->i;
    *v = ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
         ((uint32_t)p[2] << 8) | (uint32_t)p[3];
    r->i += 4;
    return 0;
}

/* Variable Byte Integer (section 1.5.5): cut short is the reader's short error,
 * too long or not minimal is LMQ_EMAL_VARINT / LMQ_EMAL_VARINT_LONG. */
static int rd_varint(rd *r, uint32_t *v)
{
    int n = lmq_varint_get(r->p + r->i, rd_left(r), v);
    if (n == 0)
        return r->short_err;
    if (n < 0)
        return n;
    r->i += (size_t)n;
    return 0;
}

/* Binary Data (section 1.5.6): a two byte length, then that many bytes.  The
 * length is never trusted: past the end it is LMQ_EMAL_STRLEN.  The slice
 * is non-NULL even when empty (present but empty). */
static int rd_bin(rd *r, lmq_slice *s)
{
    uint16_t len = 0;
    int rc = rd_u16(r, &len);
    if (rc)
        return rc;
    if (rd_left(r) < len)
        return LMQ_EMAL_STRLEN;
    s->p = r->p + r->i;
    s->n = len;
    r->i += len;
    return 0;
}

/* UTF-8 Encoded String (section 1.5.4): binary data that must also be
 * well-formed UTF-8 without U+0000 [MQTT-1.5.4-1] [MQTT-1.5.4-2]. */
static int rd_str(rd *r, lmq_slice *s)
{
    int rc = rd_bin(r, s);
    if (rc)
        return rc;
    return lmq_utf8_check(s->p, s->n);
}

/* Nothing may follow a packet's last field. */
static int rd_end(const rd *r)
{
    return rd_left(r) ? LMQ_EMAL_TRAILING : 0;
}

/* -------------------------------------------------------------- properties */

/* Where a property block sits, for the checks that depend on it. */
typedef struct prop_ctx {
    uint8_t type;       /* packet type */
    uint8_t will;       /* 1: the will properties in CONNECT's payload */
    int direction;
} prop_ctx;

/* Checks that depend on where the property is, beyond the table's
 * packet-type mask. */
static int prop_check_place(const prop_ctx *ctx, uint8_t id, int seen)
{
    /* A SUBSCRIBE carries at most one Subscription
     * Identifier (section 3.8.2.1.2; PUBLISH may carry several). */
    if (id == LMQ_PROP_SUBSCRIPTION_ID && ctx->type == LMQ_SUBSCRIBE && seen)
        return LMQ_EMAL_PROP_TWICE;
    /* [MQTT-3.3.4-6] [MQTT-3.14.2-2], shared with the encoder (the will
     * block's type is CONNECT, which no sender rule concerns). */
    return lmq_codec_check_prop_sender(id, ctx->type, ctx->direction);
}

/* Read one property value of the given kind: integers to *num, strings
 * and binary to *a, a User Property pair to *a and *b. */
static int prop_read_value(rd *r, uint8_t kind, uint32_t *num, lmq_slice *a,
                           lmq_slice *b)
{
    uint8_t u8 = 0;
    uint16_t u16 = 0;
    int rc;

    *num = 0;
    switch (kind) {
    case LMQ_PK_BYTE:
        rc = rd_u8(r, &u8);
        *num = u8;
        return rc;
    case LMQ_PK_U16:
        rc = rd_u16(r, &u16);
        *num = u16;
        return rc;
    case LMQ_PK_U32:
        return rd_u32(r, num);
    case LMQ_PK_VARINT:
        return rd_varint(r, num);
    case LMQ_PK_UTF8:
        return rd_str(r, a);        /* Content Type etc. [MQTT-3.3.2-19] */
    case LMQ_PK_BINARY:
        return rd_bin(r, a);        /* binary data is not checked */
    case LMQ_PK_PAIR:
        rc = rd_str(r, a);          /* key and value are both UTF-8 [MQTT-1.5.7-1] */
        return rc ? rc : rd_str(r, b);
    default:
        return LMQ_EMAL_PROP_ID;
    }
}

/* Put a decoded value into its field of *pr. */
static void prop_store(lmq_props *pr, uint8_t id, uint32_t num, lmq_slice a)
{
    switch (id) {
    case LMQ_PROP_PAYLOAD_FORMAT: pr->payload_format = (uint8_t)num; break;
    case LMQ_PROP_MESSAGE_EXPIRY: pr->message_expiry = num; break;
    case LMQ_PROP_CONTENT_TYPE: pr->content_type = a; break;
    case LMQ_PROP_RESPONSE_TOPIC: pr->response_topic = a; break;
    case LMQ_PROP_CORRELATION_DATA: pr->correlation_data = a; break;
    case LMQ_PROP_SUBSCRIPTION_ID:
        if (pr->n_sub_id++ == 0)
            pr->sub_id = num;       /* the first; all of them are in raw */
        break;
    case LMQ_PROP_SESSION_EXPIRY: pr->session_expiry = num; break;
    case LMQ_PROP_ASSIGNED_CLIENT_ID: pr->assigned_client_id = a; break;
    case LMQ_PROP_SERVER_KEEP_ALIVE: pr->server_keep_alive = (uint16_t)num; break;
    case LMQ_PROP_AUTH_METHOD: pr->auth_method = a; break;
    case LMQ_PROP_AUTH_DATA: pr->auth_data = a; break;
    case LMQ_PROP_REQUEST_PROBLEM_INFO: pr->request_problem_info = (uint8_t)num; break;
    case LMQ_PROP_WILL_DELAY: pr->will_delay = num; break;
    case LMQ_PROP_REQUEST_RESPONSE_INFO: pr->request_response_info = (uint8_t)num; break;
    case LMQ_PROP_RESPONSE_INFO: pr->response_info = a; break;
    case LMQ_PROP_SERVER_REFERENCE: pr->server_reference = a; break;
    case LMQ_PROP_REASON_STRING: pr->reason_string = a; break;
    case LMQ_PROP_RECEIVE_MAXIMUM: pr->receive_maximum = (uint16_t)num; break;
    case LMQ_PROP_TOPIC_ALIAS_MAXIMUM: pr->topic_alias_maximum = (uint16_t)num; break;
    case LMQ_PROP_TOPIC_ALIAS: pr->topic_alias = (uint16_t)num; break;
    case LMQ_PROP_MAXIMUM_QOS: pr->maximum_qos = (uint8_t)num; break;
    case LMQ_PROP_RETAIN_AVAILABLE: pr->retain_available = (uint8_t)num; break;
    case LMQ_PROP_USER: pr->n_user++; break;   /* the pairs are in raw */
    case LMQ_PROP_MAXIMUM_PACKET_SIZE: pr->maximum_packet_size = num; break;
    case LMQ_PROP_WILDCARD_SUB_AVAILABLE: pr->wildcard_sub_available = (uint8_t)num; break;
    case LMQ_PROP_SUB_ID_AVAILABLE: pr->sub_id_available = (uint8_t)num; break;
    case LMQ_PROP_SHARED_SUB_AVAILABLE: pr->shared_sub_available = (uint8_t)num; break;
    default: break;
    }
}

/* Read one property from the block and check it. */
static int prop_read_one(rd *blk, const prop_ctx *ctx, lmq_props *pr)
{
    uint32_t id32, num;
    lmq_slice a = { NULL, 0 }, b = { NULL, 0 };

    /* The identifier is a Variable Byte Integer (section 2.2.2.2); every id
     * defined fits in one byte. */
    int rc = rd_varint(blk, &id32);
    if (rc)
        return rc;
    const lmq_prop_info *info = id32 <= 0xFF ? lmq_prop_lookup((uint8_t)id32) : NULL;
    if (!info)
        return LMQ_EMAL_PROP_ID;
    uint16_t where = ctx->will ? LMQ_IN_WILL : (uint16_t)LMQ_IN(ctx->type);
    if (!(info->where & where))
        return LMQ_EMAL_PROP_PACKET;
    int seen = (pr->present & (1u << info->index)) != 0;
    if (seen && !info->repeat)
        return LMQ_EMAL_PROP_TWICE;    /* section 2.2.2.2 */
    rc = prop_check_place(ctx, info->id, seen);
    if (rc)
        return rc;
    rc = prop_read_value(blk, info->kind, &num, &a, &b);
    if (rc)
        return rc;
    rc = lmq_codec_check_prop_value(info->id, num);
    if (rc)
        return rc;
    /* [MQTT-3.3.2-13] [MQTT-3.3.2-14] the Response Topic is a topic name:
     * not empty [MQTT-4.7.3-1], no wildcards. */
    if (info->id == LMQ_PROP_RESPONSE_TOPIC &&
        (rc = lmq_codec_check_topic_name(a, 0)))
        return rc;
    pr->present |= 1u << info->index;
    prop_store(pr, info->id, num, a);
    return 0;
}

/*
 * A property block: its length (Variable Byte Integer), then the
 * properties (section 2.2.2).  The length itself cut short is LMQ_EMAL_SHORT
 * (v5 packets that have properties always carry the length
 * [MQTT-2.2.2-1]); a length past the packet is LMQ_EMAL_PROP_LEN.
 */
static int props_read(rd *r, const prop_ctx *ctx, lmq_props *pr)
{
    uint32_t len;
    int rc = rd_varint(r, &len);
    if (rc)
        return rc;
    if (len > rd_left(r))
        return LMQ_EMAL_PROP_LEN;

    rd blk = { r->p + r->i, len, 0, LMQ_EMAL_PROP_LEN };
    pr->raw.p = blk.p;
    pr->raw.n = len;
    r->i += len;
    while (rd_left(&blk) > 0) {
        rc = prop_read_one(&blk, ctx, pr);
        if (rc)
            return rc;
    }
    /* Authentication Data without a Method (3.1.2.11.10 and the like). */
    return lmq_codec_check_props(pr);
}

static int props_of(rd *r, uint8_t type, int direction, lmq_props *pr)
{
    prop_ctx ctx = { type, 0, direction };
    return props_read(r, &ctx, pr);
}

/* ------------------------------------------------------------ fixed header */

int lmq_decode_header(const uint8_t *buf, size_t len, uint8_t *type_flags,
                      uint32_t *remaining)
{
    uint32_t v;
    if (!buf || len < 2)
        return 0;
    int n = lmq_varint_get(buf + 1, len - 1, &v);
    if (n <= 0)
        return n;           /* 0: need more; < 0: [MQTT-1.5.5-1] etc. */
    *type_flags = buf[0];
    *remaining = v;
    return n + 1;
}

/* The flag nibble each packet type must carry [MQTT-2.1.3-1] (Table 2-2);
 * PUBLISH's is checked by its own rules.  The rest are 0000, DISCONNECT's
 * [MQTT-3.14.1-1] and AUTH's [MQTT-3.15.1-1] included. */
static const uint8_t required_flags[16] = {
    [LMQ_PUBREL] = 0x2,       /* [MQTT-3.6.1-1] */
    [LMQ_SUBSCRIBE] = 0x2,    /* [MQTT-3.8.1-1] */
    [LMQ_UNSUBSCRIBE] = 0x2,  /* [MQTT-3.10.1-1] */
};

/* MQTT 3.1 gave PUBREL, SUBSCRIBE and UNSUBSCRIBE real DUP and QoS fields
 * (QoS 1), and a 3.1 peer sets DUP when it sends one again: 1010 is
 * accepted beside 0010 at level 3 only.  3.1.1 and 5.0 fixed the nibble
 * [MQTT-2.1.3-1].  The encoder always writes 0010. */
static int flags_ok(uint8_t type, uint8_t flags, uint8_t level)
{
    if (flags == required_flags[type])
        return 1;
    return level == 3 && required_flags[type] == 0x2 && flags == 0xA;
}

/* Everything the first byte alone can prove wrong, so the incremental
 * decoder can refuse a packet before its body arrives. */
static int check_first_byte(uint8_t tf, uint8_t level, int direction)
{
    uint8_t type = tf >> 4, flags = tf & 0x0F;

    if (type == 0)
        return LMQ_EMAL_TYPE;               /* reserved */
    if (type == LMQ_AUTH && level != 5)
        return LMQ_EMAL_TYPE;               /* reserved before MQTT 5 */
    int rc = lmq_codec_check_sender(type, direction);
    if (rc)
        return rc;
    if (type == LMQ_PUBLISH) {
        uint8_t qos = (flags >> 1) & 3u;
        if (qos == 3)
            return LMQ_EMAL_QOS;            /* [MQTT-3.3.1-4] */
        if ((flags & 0x8u) && qos == 0)
            return LMQ_EMAL_DUP;            /* [MQTT-3.3.1-2] */
        return 0;
    }
    if (!flags_ok(type, flags, level))
        return LMQ_EMAL_FLAGS;              /* [MQTT-2.1.3-1] */
    return 0;
}

/* ----------------------------------------------------------------- packets */

/* CONNECT (section 3.1): spoken at the level it names itself. */
static int dec_connect(rd *r, int direction, lmq_connect *c)
{
    lmq_slice name;
    uint8_t level, flags;
    int rc;

    /* The protocol name is compared byte for byte, so it need not be
     * checked as UTF-8 first. */
    if ((rc = rd_bin(r, &name)) || (rc = rd_u8(r, &level)))
        return rc;
    int is_mqtt = name.n == 4 && memcmp(name.p, "MQTT", 4) == 0;
    int is_isdp = name.n == 6 && memcmp(name.p, "MQIsdp", 6) == 0;
    if (!is_mqtt && !is_isdp)
        return LMQ_EMAL_PROTO_NAME;         /* [MQTT-3.1.2-1] */
    if (level < 3 || level > 5)
        return LMQ_EVERSION;
    if ((level == 3) != is_isdp)
        return LMQ_EMAL_PROTO_NAME;         /* "MQIsdp" is 3.1's name only */
    c->level = level;

    if ((rc = rd_u8(r, &flags)))
        return rc;
    uint8_t will = (flags >> 2) & 1u, will_qos = (flags >> 3) & 3u;
    uint8_t will_retain = (flags >> 5) & 1u;
    uint8_t has_pass = (flags >> 6) & 1u, has_user = (flags >> 7) & 1u;
    if (flags & 1u)
        return LMQ_EMAL_CONN_FLAGS;         /* [MQTT-3.1.2-3] reserved */
    if (will_qos == 3)
        return LMQ_EMAL_CONN_FLAGS;         /* [MQTT-3.1.2-12] */
    if (!will && (will_qos || will_retain))
        return LMQ_EMAL_CONN_FLAGS;         /* [MQTT-3.1.2-11] [MQTT-3.1.2-13] */
    if (level < 5 && has_pass && !has_user)
        return LMQ_EMAL_CONN_FLAGS;         /* 3.1.1 [MQTT-3.1.2-22] */
    c->clean = (flags >> 1) & 1u;
    c->will = will;
    c->will_qos = will_qos;
    c->will_retain = will_retain;

    if ((rc = rd_u16(r, &c->keepalive)))
        return rc;
    if (level == 5 && (rc = props_of(r, LMQ_CONNECT, direction, &c->props)))
        return rc;
    if ((rc = rd_str(r, &c->client_id)))    /* [MQTT-3.1.3-4] */
        return rc;
    if (will) {
        prop_ctx wctx = { LMQ_CONNECT, 1, direction };
        if (level == 5 && (rc = props_read(r, &wctx, &c->will_props)))
            return rc;
        /* [MQTT-3.1.3-11] UTF-8, and a topic name: not empty
         * [MQTT-4.7.3-1], no wildcard [MQTT-3.3.2-2]. */
        if ((rc = rd_str(r, &c->will_topic)) ||
            (rc = lmq_codec_check_topic_name(c->will_topic, 0)) ||
            (rc = rd_bin(r, &c->will_payload)))
            return rc;
    }
    if (has_user && (rc = rd_str(r, &c->username)))  /* [MQTT-3.1.3-12] */
        return rc;
    if (has_pass && (rc = rd_bin(r, &c->password)))
        return rc;
    return rd_end(r);
}

/* CONNACK (section 3.2). */
static int dec_connack(rd *r, uint8_t level, int direction, lmq_connack *c)
{
    uint8_t ack;
    int rc;

    if ((rc = rd_u8(r, &ack)) || (rc = rd_u8(r, &c->reason)))
        return rc;
    /* A v5 CONNECT answered as 3.1.1 prescribes for a level it does not
     * speak: exactly two bytes, return code 1 "unacceptable protocol
     * version" (3.1.1 section 3.2.2.3; 3.1.1 [MQTT-3.1.2-2]).  Not
     * malformed v5 but another protocol: its own code, so the client can
     * say so and fall back (LMQ_MQTT_AUTO). */
    if (level == 5 && r->n == 2 && ack == 0 && c->reason == 0x01)
        return LMQ_ENOT_MQTT5;
    /* MQTT 3.1 has no acknowledge flags: its first byte is reserved and
     * unused, so it is ignored and no session is reported (the encoder
     * refuses session_present at level 3 and writes 0). */
    if (level == 3)
        ack = 0;
    if (ack & 0xFEu)
        return LMQ_EMAL_ACK_FLAGS;          /* [MQTT-3.2.2-1] */
    if ((rc = lmq_codec_check_reason(LMQ_CONNACK, level, c->reason, direction)))
        return rc;
    c->session_present = ack & 1u;
    /* [MQTT-3.2.2-6] (3.1.1: [MQTT-3.2.2-4]) a refused connection has no
     * session. */
    if (c->session_present && c->reason != 0)
        return LMQ_EMAL_SESSION;
    /* At level 5 the property length is always there, even when 0. */
    if (level == 5 && (rc = props_of(r, LMQ_CONNACK, direction, &c->props)))
        return rc;
    return rd_end(r);                       /* 3.x: exactly 2 bytes */
}

/* PUBLISH (section 3.3); QoS and DUP were checked with the first byte. */
static int dec_publish(rd *r, uint8_t flags, uint8_t level, int direction,
                       lmq_publish *p)
{
    int rc;

    p->retain = flags & 1u;
    p->qos = (flags >> 1) & 3u;
    p->dup = (flags >> 3) & 1u;
    if ((rc = rd_str(r, &p->topic)))        /* [MQTT-3.3.2-1] */
        return rc;
    /* [MQTT-3.3.2-2] no wildcard; emptiness waits for the properties */
    if ((rc = lmq_codec_check_topic_name(p->topic, 1)))
        return rc;
    if (p->qos > 0) {
        if ((rc = rd_u16(r, &p->packet_id)))
            return rc;
        if (p->packet_id == 0)
            return LMQ_EMAL_PACKET_ID;      /* [MQTT-2.2.1-3] */
    }
    if (level == 5 && (rc = props_of(r, LMQ_PUBLISH, direction, &p->props)))
        return rc;
    /* An empty topic is only a v5 PUBLISH that names its topic by alias
     * (section 3.3.2.3.4); otherwise a topic is at least one character
     * [MQTT-4.7.3-1]. */
    int alias = level == 5 && lmq_props_has(&p->props, LMQ_PROP_TOPIC_ALIAS);
    if ((rc = lmq_codec_check_topic_name(p->topic, alias)))
        return rc;
    p->payload.p = r->p + r->i;             /* the rest is the payload */
    p->payload.n = (uint32_t)rd_left(r);
    r->i = r->n;
    return 0;
}

/* PUBACK, PUBREC, PUBREL, PUBCOMP (sections 3.4 to 3.7). */
static int dec_ack(rd *r, uint8_t type, uint8_t level, int direction,
                   lmq_ack *a)
{
    int rc;

    if ((rc = rd_u16(r, &a->packet_id)))
        return rc;
    if (a->packet_id == 0)
        return LMQ_EMAL_PACKET_ID;          /* [MQTT-2.2.1-3] */
    /* v5 short forms: remaining length 2 means reason 0 and no properties,
     * 3 means a reason and no properties (section 3.4.2.1). */
    if (level == 5 && rd_left(r) > 0) {
        if ((rc = rd_u8(r, &a->reason)) ||
            (rc = lmq_codec_check_reason(type, level, a->reason, direction)))
            return rc;
        if (rd_left(r) > 0 && (rc = props_of(r, type, direction, &a->props)))
            return rc;
    }
    return rd_end(r);                       /* 3.x: exactly 2 bytes */
}

/* SUBSCRIBE (section 3.8) and UNSUBSCRIBE (section 3.10). */
static int dec_subscribe(rd *r, uint8_t type, uint8_t level, int direction,
                         lmq_subscribe *s)
{
    int rc;

    if ((rc = rd_u16(r, &s->packet_id)))
        return rc;
    if (s->packet_id == 0)
        return LMQ_EMAL_PACKET_ID;          /* [MQTT-2.2.1-3] */
    if (level == 5 && (rc = props_of(r, type, direction, &s->props)))
        return rc;
    if (rd_left(r) == 0)
        return LMQ_EMAL_EMPTY;              /* [MQTT-3.8.3-2] [MQTT-3.10.3-2] */
    s->list.p = r->p + r->i;
    s->list.n = (uint32_t)rd_left(r);
    while (rd_left(r) > 0) {
        lmq_slice filter;
        uint8_t opts = 0;
        /* The topic engine judges filters; the codec checks only what the
         * packet format says: UTF-8 [MQTT-3.8.3-1] [MQTT-3.10.3-1] and
         * not empty [MQTT-4.7.3-1]. */
        if ((rc = rd_str(r, &filter)))
            return rc;
        if (filter.n == 0)
            return LMQ_ETOPIC_EMPTY;
        if (type == LMQ_SUBSCRIBE) {
            if ((rc = rd_u8(r, &opts)) ||
                (rc = lmq_codec_check_subopts(level, opts, filter)))
                return rc;
        }
        s->count++;
    }
    return 0;
}

/* SUBACK (section 3.9) and UNSUBACK (section 3.11). */
static int dec_suback(rd *r, uint8_t type, uint8_t level, int direction,
                      lmq_suback *s)
{
    int rc;

    if ((rc = rd_u16(r, &s->packet_id)))
        return rc;
    if (s->packet_id == 0)
        return LMQ_EMAL_PACKET_ID;          /* [MQTT-2.2.1-3] */
    if (type == LMQ_UNSUBACK && level < 5)
        return rd_end(r);                   /* 3.x: no payload */
    if (level == 5 && (rc = props_of(r, type, direction, &s->props)))
        return rc;
    if (rd_left(r) == 0)
        return LMQ_EMAL_EMPTY;              /* one code per filter [MQTT-3.9.3-1] */
    s->reasons.p = r->p + r->i;
    s->reasons.n = (uint32_t)rd_left(r);
    for (uint32_t k = 0; k < s->reasons.n; k++) {
        /* granted QoS or failure [MQTT-3.8.4-7]; Unsubscribe Reason Codes
         * [MQTT-3.11.3-2] */
        if ((rc = lmq_codec_check_reason(type, level, s->reasons.p[k], direction)))
            return rc;
    }
    r->i = r->n;
    return 0;
}

/* DISCONNECT (section 3.14) and AUTH (section 3.15). */
static int dec_disconnect(rd *r, uint8_t type, uint8_t level, int direction,
                          lmq_disconnect *d)
{
    int rc;

    if (level < 5)
        return rd_end(r);                   /* 3.x: empty */
    /* v5: remaining length 0 means reason 0 (3.14.2.1, 3.15.2.1), which
     * is judged like a written 0: an AUTH Success only comes from a
     * server (Table 3-13). */
    if (rd_left(r) == 0)
        return lmq_codec_check_reason(type, level, 0, direction);
    /* Which codes a packet may carry, and from which side, is one table
     * in reasons.c (Table 2-6 with Tables 3-10 and 3-13). */
    if ((rc = rd_u8(r, &d->reason)) ||
        (rc = lmq_codec_check_reason(type, level, d->reason, direction)))
        return rc;
    /* DISCONNECT may stop after its reason (section 3.14.2.2.1); AUTH omits
     * the property length only together with the reason (section 3.15.2.1). */
    if (type == LMQ_DISCONNECT && rd_left(r) == 0)
        return 0;
    if ((rc = props_of(r, type, direction, &d->props)))
        return rc;
    return rd_end(r);
}

static int dec_body(rd *r, uint8_t tf, uint8_t level, int direction,
                    lmq_packet *out)
{
    uint8_t type = tf >> 4;

    switch (type) {
    case LMQ_CONNECT:
        return dec_connect(r, direction, &out->u.connect);
    case LMQ_CONNACK:
        return dec_connack(r, level, direction, &out->u.connack);
    case LMQ_PUBLISH:
        return dec_publish(r, tf & 0x0F, level, direction, &out->u.publish);
    case LMQ_PUBACK:
    case LMQ_PUBREC:
    case LMQ_PUBREL:
    case LMQ_PUBCOMP:
        return dec_ack(r, type, level, direction, &out->u.ack);
    case LMQ_SUBSCRIBE:
    case LMQ_UNSUBSCRIBE:
        return dec_subscribe(r, type, level, direction, &out->u.subscribe);
    case LMQ_SUBACK:
    case LMQ_UNSUBACK:
        return dec_suback(r, type, level, direction, &out->u.suback);
    case LMQ_PINGREQ:
    case LMQ_PINGRESP:
        return rd_end(r);                   /* remaining length 0 */
    case LMQ_DISCONNECT:
    case LMQ_AUTH:
        return dec_disconnect(r, type, level, direction, &out->u.disconnect);
    default:
        return LMQ_EMAL_TYPE;
    }
}

int lmq_decode(const uint8_t *buf, size_t len, uint8_t level, int direction,
               lmq_packet *out)
{
    uint8_t tf;
    uint32_t remaining;

    if (!out || (!buf && len))
        return LMQ_EINVAL;
    memset(out, 0, sizeof *out);
    if (direction != LMQ_FROM_SERVER && direction != LMQ_FROM_CLIENT)
        return LMQ_EINVAL;
    if (len == 0)
        return LMQ_EMAL_SHORT;
    int rc = check_first_byte(buf[0], level, direction);
    if (rc)
        return rc;
    if ((buf[0] >> 4) != LMQ_CONNECT && (level < 3 || level > 5))
        return LMQ_EVERSION;
    int hdr = lmq_decode_header(buf, len, &tf, &remaining);
    if (hdr < 0)
        return hdr;
    if (hdr == 0 || len - (size_t)hdr < remaining)
        return LMQ_EMAL_SHORT;              /* the packet is cut */
    if (len - (size_t)hdr > remaining)
        return LMQ_EMAL_TRAILING;           /* more than one packet given */

    out->type = tf >> 4;
    out->flags = tf & 0x0F;
    rd r = { buf + hdr, remaining, 0, LMQ_EMAL_SHORT };
    rc = dec_body(&r, tf, level, direction, out);
    if (rc)
        memset(out, 0, sizeof *out);        /* no half-decoded packet */
    return rc;
}

/* ------------------------------------------------------------ walking raw */

int lmq_props_next(const lmq_props *props, uint32_t *pos, uint8_t *id,
                   uint32_t *num, lmq_slice *a, lmq_slice *b)
{
    uint32_t id32, v;
    lmq_slice sa = { NULL, 0 }, sb = { NULL, 0 };

    if (!props || !pos || !props->raw.p || *pos >= props->raw.n)
        return 0;
    /* Bounds are still checked: a block the decoder never saw must not
     * lead the walk astray, it just ends it. */
    rd r = { props->raw.p, props->raw.n, *pos, LMQ_EMAL_PROP_LEN };
    if (rd_varint(&r, &id32) || id32 > 0xFF)
        return 0;
    const lmq_prop_info *info = lmq_prop_lookup((uint8_t)id32);
    if (!info || prop_read_value(&r, info->kind, &v, &sa, &sb))
        return 0;
    if (id)
        *id = info->id;
    if (num)
        *num = v;
    if (a)
        *a = sa;
    if (b)
        *b = sb;
    *pos = (uint32_t)r.i;
    return 1;
}

int lmq_subs_next(const lmq_subscribe *s, uint8_t type, uint32_t *pos,
                  lmq_sub_entry *e)
{
    lmq_sub_entry got = { { NULL, 0 }, 0 };

    if (!s || !pos || !s->list.p || *pos >= s->list.n)
        return 0;
    rd r = { s->list.p, s->list.n, *pos, LMQ_EMAL_SHORT };
    if (rd_bin(&r, &got.filter))
        return 0;
    if (type == LMQ_SUBSCRIBE && rd_u8(&r, &got.options))
        return 0;
    if (e)
        *e = got;
    *pos = (uint32_t)r.i;
    return 1;
}

/* ------------------------------------------------------ incremental decoder */

/* The largest packet MQTT can frame: a 5-byte fixed header and the largest
 * remaining length (section 2.1.4). */
#define LMQ_PACKET_MAX (268435455u + 5u)
#define LMQ_DECODER_MIN_CAP 256u

void lmq_decoder_init(lmq_decoder *d, uint8_t level, int direction,
                      uint32_t max_packet)
{
    memset(d, 0, sizeof *d);
    d->level = level;
    d->direction = (uint8_t)direction;
    d->max_packet = max_packet;
}

void lmq_decoder_free(lmq_decoder *d)
{
    if (!d)
        return;
    free(d->buf);
    d->buf = NULL;
    d->cap = d->start = d->end = 0;
}

/*
 * Make room for `want` more bytes at the end.  Consumed bytes are dropped
 * first (moved down) so the buffer grows only when what is still unread
 * needs it; growth doubles so a stream costs O(log n) reallocations.
 */
static int decoder_reserve(lmq_decoder *d, size_t want)
{
    if (d->start == d->end)
        d->start = d->end = 0;
    if (d->cap - d->end >= want)
        return 0;
    if (d->start > 0) {
        memmove(d->buf, d->buf + d->start, d->end - d->start);
        d->end -= d->start;
        d->start = 0;
        if (d->cap - d->end >= want)
            return 0;
    }
    if (want > SIZE_MAX - d->end)
        return LMQ_ENOMEM;
    size_t need = d->end + want;
    size_t cap = d->cap ? d->cap : LMQ_DECODER_MIN_CAP;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    uint8_t *p = realloc(d->buf, cap);
    if (!p)
        return LMQ_ENOMEM;
    d->buf = p;
    d->cap = cap;
    return 0;
}

/* After an error the stream is broken for good: bytes are not kept (they
 * would only pile up), and the error is what every call answers. */
int lmq_decoder_feed(lmq_decoder *d, const uint8_t *bytes, size_t n)
{
    if (d->error)
        return d->error;
    if (n == 0)
        return 0;
    int rc = decoder_reserve(d, n);
    if (rc)
        return rc;
    memcpy(d->buf + d->end, bytes, n);
    d->end += n;
    return 0;
}

int lmq_decoder_space(lmq_decoder *d, size_t want, uint8_t **out)
{
    if (d->error)
        return d->error;
    int rc = decoder_reserve(d, want ? want : 1);
    if (rc)
        return rc;
    *out = d->buf + d->end;
    size_t room = d->cap - d->end;
    return room > INT_MAX ? INT_MAX : (int)room;
}

void lmq_decoder_commit(lmq_decoder *d, size_t n)
{
    /* Never past what lmq_decoder_space() handed out. */
    if (n > d->cap - d->end)
        n = d->cap - d->end;
    d->end += n;
}

int lmq_decoder_next(lmq_decoder *d, lmq_packet *out)
{
    uint8_t tf;
    uint32_t remaining;

    if (d->error)
        return d->error;
    size_t avail = d->end - d->start;
    if (avail == 0)
        return 0;
    const uint8_t *p = d->buf + d->start;
    /* Judge the first byte at once: a wrong type or flags fails without
     * waiting for a body that may never come. */
    int rc = check_first_byte(p[0], d->level, d->direction);
    if (rc)
        goto fail;
    int hdr = lmq_decode_header(p, avail, &tf, &remaining);
    if (hdr < 0) {
        rc = hdr;
        goto fail;
    }
    if (hdr == 0)
        return 0;
    uint64_t total = (uint64_t)hdr + remaining;
    uint64_t max = d->max_packet ? d->max_packet : LMQ_PACKET_MAX;
    if (total > max) {
        rc = LMQ_EMAL_TOO_LARGE;            /* before the body is buffered */
        goto fail;
    }
    if (avail < total)
        return 0;
    rc = lmq_decode(p, (size_t)total, d->level, d->direction, out);
    if (rc)
        goto fail;
    d->start += (size_t)total;
    return 1;

fail:
    d->error = rc;
    return rc;
}
