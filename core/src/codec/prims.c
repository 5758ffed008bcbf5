/*
 * prims.c - the data representations of MQTT [MQTT-1.5]: variable byte
 * integers, UTF-8 strings, and the table of MQTT 5 properties.
 */
#include <string.h>

#include "codec/codec.h"

/* ---------------------------------------------------- variable byte integer */

#define LMQ_VARINT_MAX 268435455u   /* 0xFF 0xFF 0xFF 0x7F */

int lmq_varint_size(uint32_t v)
{
    if (v < 128u)
        return 1;
    if (v < 16384u)
        return 2;
    if (v < 2097152u)
        return 3;
    if (v <= LMQ_VARINT_MAX)
        return 4;
    return 0;
}

int lmq_varint_put(uint8_t *p, uint32_t v)
{
    int n = 0;
    do {
        uint8_t b = v & 0x7Fu;
        v >>= 7;
        p[n++] = v ? (uint8_t)(b | 0x80u) : b;
    } while (v && n < 4);
    return n;
}

int lmq_varint_get(const uint8_t *p, size_t len, uint32_t *v)
{
    uint32_t value = 0;
    for (size_t i = 0; i < 4; i++) {
        if (i >= len)
            return 0;
        value |= (uint32_t)(p[i] & 0x7Fu) << (7 * i);
        if (!(p[i] & 0x80u)) {
            /* [MQTT-1.5.5-1] the shortest form only: a last byte of 0 after
             * a continuation byte means a shorter form existed. */
            if (i > 0 && p[i] == 0)
                return LMQ_EMAL_VARINT_LONG;
            *v = value;
            return (int)i + 1;
        }
    }
    return LMQ_EMAL_VARINT;
}

/* -------------------------------------------------------------- properties */

#define W LMQ_IN_WILL
#define P(t) LMQ_IN(LMQ_##t)

/* [MQTT-2.2.2.2] Table 2-4: identifier, type, and the packets each property
 * may appear in.  `index` numbers the properties for lmq_props.present. */
static const lmq_prop_info lmq_props_table[] = {
    { LMQ_PROP_PAYLOAD_FORMAT, LMQ_PK_BYTE, 0, 0, P(PUBLISH) | W, "Payload Format Indicator" },
    { LMQ_PROP_MESSAGE_EXPIRY, LMQ_PK_U32, 1, 0, P(PUBLISH) | W, "Message Expiry Interval" },
    { LMQ_PROP_CONTENT_TYPE, LMQ_PK_UTF8, 2, 0, P(PUBLISH) | W, "Content Type" },
    { LMQ_PROP_RESPONSE_TOPIC, LMQ_PK_UTF8, 3, 0, P(PUBLISH) | W, "Response Topic" },
    { LMQ_PROP_CORRELATION_DATA, LMQ_PK_BINARY, 4, 0, P(PUBLISH) | W, "Correlation Data" },
    /* repeatable in PUBLISH (one per matching subscription), once in
     * SUBSCRIBE: the decoder checks the SUBSCRIBE case itself */
    { LMQ_PROP_SUBSCRIPTION_ID, LMQ_PK_VARINT, 5, 1, P(PUBLISH) | P(SUBSCRIBE), "Subscription Identifier" },
    { LMQ_PROP_SESSION_EXPIRY, LMQ_PK_U32, 6, 0, P(CONNECT) | P(CONNACK) | P(DISCONNECT), "Session Expiry Interval" },
    { LMQ_PROP_ASSIGNED_CLIENT_ID, LMQ_PK_UTF8, 7, 0, P(CONNACK), "Assigned Client Identifier" },
    { LMQ_PROP_SERVER_KEEP_ALIVE, LMQ_PK_U16, 8, 0, P(CONNACK), "Server Keep Alive" },
    { LMQ_PROP_AUTH_METHOD, LMQ_PK_UTF8, 9, 0, P(CONNECT) | P(CONNACK) | P(AUTH), "Authentication Method" },
    { LMQ_PROP_AUTH_DATA, LMQ_PK_BINARY, 10, 0, P(CONNECT) | P(CONNACK) | P(AUTH), "Authentication Data" },
    { LMQ_PROP_REQUEST_PROBLEM_INFO, LMQ_PK_BYTE, 11, 0, P(CONNECT), "Request Problem Information" },
    { LMQ_PROP_WILL_DELAY, LMQ_PK_U32, 12, 0, W, "Will Delay Interval" },
    { LMQ_PROP_REQUEST_RESPONSE_INFO, LMQ_PK_BYTE, 13, 0, P(CONNECT), "Request Response Information" },
    { LMQ_PROP_RESPONSE_INFO, LMQ_PK_UTF8, 14, 0, P(CONNACK), "Response Information" },
    { LMQ_PROP_SERVER_REFERENCE, LMQ_PK_UTF8, 15, 0, P(CONNACK) | P(DISCONNECT), "Server Reference" },
    { LMQ_PROP_REASON_STRING, LMQ_PK_UTF8, 16, 0,
      P(CONNACK) | P(PUBACK) | P(PUBREC) | P(PUBREL) | P(PUBCOMP) | P(SUBACK) |
      P(UNSUBACK) | P(DISCONNECT) | P(AUTH), "Reason String" },
    { LMQ_PROP_RECEIVE_MAXIMUM, LMQ_PK_U16, 17, 0, P(CONNECT) | P(CONNACK), "Receive Maximum" },
    { LMQ_PROP_TOPIC_ALIAS_MAXIMUM, LMQ_PK_U16, 18, 0, P(CONNECT) | P(CONNACK), "Topic Alias Maximum" },
    { LMQ_PROP_TOPIC_ALIAS, LMQ_PK_U16, 19, 0, P(PUBLISH), "Topic Alias" },
    { LMQ_PROP_MAXIMUM_QOS, LMQ_PK_BYTE, 20, 0, P(CONNACK), "Maximum QoS" },
    { LMQ_PROP_RETAIN_AVAILABLE, LMQ_PK_BYTE, 21, 0, P(CONNACK), "Retain Available" },
    { LMQ_PROP_USER, LMQ_PK_PAIR, 22, 1,
      P(CONNECT) | P(CONNACK) | P(PUBLISH) | W | P(PUBACK) | P(PUBREC) | P(PUBREL) |
      P(PUBCOMP) | P(SUBSCRIBE) | P(SUBACK) | P(UNSUBSCRIBE) | P(UNSUBACK) |
      P(DISCONNECT) | P(AUTH), "User Property" },
    { LMQ_PROP_MAXIMUM_PACKET_SIZE, LMQ_PK_U32, 23, 0, P(CONNECT) | P(CONNACK), "Maximum Packet Size" },
    { LMQ_PROP_WILDCARD_SUB_AVAILABLE, LMQ_PK_BYTE, 24, 0, P(CONNACK), "Wildcard Subscription Available" },
    { LMQ_PROP_SUB_ID_AVAILABLE, LMQ_PK_BYTE, 25, 0, P(CONNACK), "Subscription Identifier Available" },
    { LMQ_PROP_SHARED_SUB_AVAILABLE, LMQ_PK_BYTE, 26, 0, P(CONNACK), "Shared Subscription Available" },
};

#undef W
#undef P

#define LMQ_PROP_N (sizeof lmq_props_table / sizeof lmq_props_table[0])

/* lmq_props.present is a uint32_t with one bit per entry. */
_Static_assert(LMQ_PROP_N < 32, "lmq_props.present has a bit per property");

/* id -> table entry + 1 (0: unknown), built from the table on first use
 * would need a lock; the ids fit in 0x00..0x2A, so it is spelled out. */
static const uint8_t lmq_prop_slot[0x2B] = {
    [0x01] = 1, [0x02] = 2, [0x03] = 3, [0x08] = 4, [0x09] = 5, [0x0B] = 6,
    [0x11] = 7, [0x12] = 8, [0x13] = 9, [0x15] = 10, [0x16] = 11, [0x17] = 12,
    [0x18] = 13, [0x19] = 14, [0x1A] = 15, [0x1C] = 16, [0x1F] = 17,
    [0x21] = 18, [0x22] = 19, [0x23] = 20, [0x24] = 21, [0x25] = 22,
    [0x26] = 23, [0x27] = 24, [0x28] = 25, [0x29] = 26, [0x2A] = 27,
};

const lmq_prop_info *lmq_prop_lookup(uint8_t id)
{
    if (id >= sizeof lmq_prop_slot || lmq_prop_slot[id] == 0)
        return NULL;
    return &lmq_props_table[lmq_prop_slot[id] - 1];
}

int lmq_props_has(const lmq_props *props, uint8_t id)
{
    const lmq_prop_info *info = lmq_prop_lookup(id);
    return info && (props->present & (1u << info->index)) != 0;
}

void lmq_props_set(lmq_props *props, uint8_t id)
{
    const lmq_prop_info *info = lmq_prop_lookup(id);
    if (info)
        props->present |= 1u << info->index;
}

const lmq_prop_info *lmq_prop_at(unsigned index)
{
    if (index >= LMQ_PROP_N)
        return NULL;
    return &lmq_props_table[index];
}

unsigned lmq_prop_count(void)
{
    return (unsigned)LMQ_PROP_N;
}

uint32_t lmq_props_num(const lmq_props *pr, uint8_t id)
{
    switch (id) {
    case LMQ_PROP_PAYLOAD_FORMAT: return pr->payload_format;
    case LMQ_PROP_MESSAGE_EXPIRY: return pr->message_expiry;
    case LMQ_PROP_SUBSCRIPTION_ID: return pr->sub_id;
    case LMQ_PROP_SESSION_EXPIRY: return pr->session_expiry;
    case LMQ_PROP_SERVER_KEEP_ALIVE: return pr->server_keep_alive;
    case LMQ_PROP_REQUEST_PROBLEM_INFO: return pr->request_problem_info;
    case LMQ_PROP_WILL_DELAY: return pr->will_delay;
    case LMQ_PROP_REQUEST_RESPONSE_INFO: return pr->request_response_info;
    case LMQ_PROP_RECEIVE_MAXIMUM: return pr->receive_maximum;
    case LMQ_PROP_TOPIC_ALIAS_MAXIMUM: return pr->topic_alias_maximum;
    case LMQ_PROP_TOPIC_ALIAS: return pr->topic_alias;
    case LMQ_PROP_MAXIMUM_QOS: return pr->maximum_qos;
    case LMQ_PROP_RETAIN_AVAILABLE: return pr->retain_available;
    case LMQ_PROP_MAXIMUM_PACKET_SIZE: return pr->maximum_packet_size;
    case LMQ_PROP_WILDCARD_SUB_AVAILABLE: return pr->wildcard_sub_available;
    case LMQ_PROP_SUB_ID_AVAILABLE: return pr->sub_id_available;
    case LMQ_PROP_SHARED_SUB_AVAILABLE: return pr->shared_sub_available;
    default: return 0;
    }
}

/* ------------------------------------------- rules both directions share */

int lmq_codec_check_prop_value(uint8_t id, uint32_t v)
{
    const lmq_prop_info *info = lmq_prop_lookup(id);
    if (!info)
        return LMQ_EMAL_PROP_ID;
    switch (id) {
    case LMQ_PROP_RECEIVE_MAXIMUM:          /* 0 is a Protocol Error (3.2.2.3.3) */
    case LMQ_PROP_MAXIMUM_PACKET_SIZE:      /* 0 is a Protocol Error (3.2.2.3.6) */
    case LMQ_PROP_TOPIC_ALIAS:              /* [MQTT-3.3.2-8] alias 0 */
        return v != 0 ? 0 : LMQ_EMAL_PROP_VALUE;
    case LMQ_PROP_SUBSCRIPTION_ID:          /* 1..268435455 (3.3.2.3.8) */
        return v != 0 && v <= 268435455u ? 0 : LMQ_EMAL_PROP_VALUE;
    default:
        /* Every one-byte property is a 0/1 flag: Payload Format Indicator
         * (3.3.2.3.2), Request Problem / Response Information
         * (3.1.2.11.7, 3.1.2.11.6), Maximum QoS (3.2.2.3.4) and the four
         * "available" flags (3.2.2.3.5, 3.2.2.3.11 to 3.2.2.3.13). */
        return info->kind != LMQ_PK_BYTE || v <= 1 ? 0 : LMQ_EMAL_PROP_VALUE;
    }
}

int lmq_codec_check_prop_sender(uint8_t id, uint8_t packet_type, int direction)
{
    /* [MQTT-3.3.4-6] a PUBLISH from a client carries no Subscription
     * Identifier. */
    if (id == LMQ_PROP_SUBSCRIPTION_ID && packet_type == LMQ_PUBLISH &&
        direction == LMQ_FROM_CLIENT)
        return LMQ_EMAL_PROP_PACKET;
    /* [MQTT-3.14.2-2] a server never sends Session Expiry Interval in
     * DISCONNECT. */
    if (id == LMQ_PROP_SESSION_EXPIRY && packet_type == LMQ_DISCONNECT &&
        direction == LMQ_FROM_SERVER)
        return LMQ_EMAL_PROP_PACKET;
    return 0;
}

int lmq_codec_check_props(const lmq_props *pr)
{
    /* Authentication Data without an Authentication Method is a Protocol
     * Error (3.1.2.11.10, 3.2.2.3.18, 3.15.2.2.3). */
    if (lmq_props_has(pr, LMQ_PROP_AUTH_DATA) &&
        !lmq_props_has(pr, LMQ_PROP_AUTH_METHOD))
        return LMQ_EMAL_PROP_VALUE;
    return 0;
}

int lmq_codec_check_topic_name(lmq_slice s, int may_be_empty)
{
    if (s.n == 0)
        return may_be_empty ? 0 : LMQ_ETOPIC_EMPTY;    /* [MQTT-4.7.3-1] */
    if (!s.p)
        return LMQ_EINVAL;
    /* [MQTT-4.7.0-1] [MQTT-3.3.2-2] no wildcard in a topic name */
    if (memchr(s.p, '+', s.n) || memchr(s.p, '#', s.n))
        return LMQ_ETOPIC_WILDCARD;
    return 0;
}

int lmq_codec_check_subopts(uint8_t level, uint8_t opts, lmq_slice filter)
{
    if ((opts & 3u) == 3)
        return LMQ_EMAL_SUB_OPTS;           /* QoS 3 is no QoS (3.8.3.1) */
    /* 3.x uses only the QoS bits: 3.1.1 [MQTT-3-8.3-4] (the id is spelt so
     * in that spec). */
    if (level < 5)
        return (opts & 0xFCu) ? LMQ_EMAL_SUB_OPTS : 0;
    if (opts & 0xC0u)
        return LMQ_EMAL_SUB_OPTS;           /* reserved bits [MQTT-3.8.3-5] */
    if (((opts >> 4) & 3u) == 3)
        return LMQ_EMAL_SUB_OPTS;           /* Retain Handling 3 */
    /* [MQTT-3.8.3-4] No Local on a shared subscription is a Protocol
     * Error.  The topic module owns what "shared" means: any "$share/"
     * prefix, well-formed (1) or not (LMQ_ESHARE). */
    if ((opts & 0x04u) && filter.p &&
        lmq_topic_share_split((const char *)filter.p, filter.n, NULL, NULL) != 0)
        return LMQ_EMAL_SUB_OPTS;
    return 0;
}
