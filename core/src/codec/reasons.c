/*
 * reasons.c - MQTT 5 reason codes: which packet types may carry each code,
 * who may send it, and its name; and which side sends each packet type.
 *
 * One table (spec section 2.4, Table 2-6, with the "sent by" column of
 * Tables 3-10 and 3-13 for DISCONNECT and AUTH) answers every question, so
 * the name shown to a user, the decoder's "is this code allowed here" and
 * the encoder's "may I send this" cannot disagree.  MQTT 3.x return codes
 * are not in it: they are plain numbers, checked in lmq_codec_check_reason.
 */
#include "codec/codec.h"

#define IN(t) LMQ_IN(LMQ_##t)

/* The packets that share a reason code list in Table 2-6. */
#define ACKS_PUB (IN(PUBACK) | IN(PUBREC))
#define ERR_MOST (IN(CONNACK) | ACKS_PUB | IN(SUBACK) | IN(UNSUBACK) | IN(DISCONNECT))

/* Who may send a code in the packets of its entry, beyond what the packet
 * type already settles (CONNACK, SUBACK and UNSUBACK only ever come from a
 * server).  DISCONNECT and AUTH travel both ways and reserve some codes to
 * one side; such a code gets an entry of its own for those packets. */
#define BY_C 1u                 /* only a client sends it */
#define BY_S 2u                 /* only a server sends it */
#define BY_ANY (BY_C | BY_S)

typedef struct lmq_reason_info {
    uint8_t code;
    uint8_t by;              /* BY_C, BY_S or BY_ANY */
    uint16_t where;          /* LMQ_IN(packet type) bits */
    const char *name;
} lmq_reason_info;

/* Sorted by code.  0x00 has three names, one per group of packets. */
static const lmq_reason_info lmq_reasons[] = {
    { 0x00, BY_ANY, IN(CONNACK) | ACKS_PUB | IN(PUBREL) | IN(PUBCOMP) | IN(UNSUBACK), "Success" },
    { 0x00, BY_S, IN(AUTH), "Success" },                        /* Table 3-13 */
    { 0x00, BY_ANY, IN(DISCONNECT), "Normal disconnection" },
    { 0x00, BY_ANY, IN(SUBACK), "Granted QoS 0" },
    { 0x01, BY_ANY, IN(SUBACK), "Granted QoS 1" },
    { 0x02, BY_ANY, IN(SUBACK), "Granted QoS 2" },
    { 0x04, BY_C, IN(DISCONNECT), "Disconnect with Will Message" },
    { 0x10, BY_ANY, ACKS_PUB, "No matching subscribers" },
    { 0x11, BY_ANY, IN(UNSUBACK), "No subscription existed" },
    { 0x18, BY_ANY, IN(AUTH), "Continue authentication" },
    { 0x19, BY_C, IN(AUTH), "Re-authenticate" },                /* Table 3-13 */
    { 0x80, BY_ANY, ERR_MOST, "Unspecified error" },
    { 0x81, BY_ANY, IN(CONNACK) | IN(DISCONNECT), "Malformed Packet" },
    { 0x82, BY_ANY, IN(CONNACK) | IN(DISCONNECT), "Protocol Error" },
    { 0x83, BY_ANY, ERR_MOST, "Implementation specific error" },
    { 0x84, BY_ANY, IN(CONNACK), "Unsupported Protocol Version" },
    { 0x85, BY_ANY, IN(CONNACK), "Client Identifier not valid" },
    { 0x86, BY_ANY, IN(CONNACK), "Bad User Name or Password" },
    { 0x87, BY_ANY, ERR_MOST & ~IN(DISCONNECT), "Not authorized" },
    { 0x87, BY_S, IN(DISCONNECT), "Not authorized" },           /* Table 3-10 */
    { 0x88, BY_ANY, IN(CONNACK), "Server unavailable" },
    /* From here on, BY_S marks the DISCONNECT codes of Table 3-10 that
     * only a server sends; the other packets of those entries are a
     * server's anyway. */
    { 0x89, BY_S, IN(CONNACK) | IN(DISCONNECT), "Server busy" },
    { 0x8A, BY_ANY, IN(CONNACK), "Banned" },
    { 0x8B, BY_S, IN(DISCONNECT), "Server shutting down" },
    /* not in Table 3-10, but Table 2-6 lists it for DISCONNECT; only a
     * server judges an authentication method */
    { 0x8C, BY_S, IN(CONNACK) | IN(DISCONNECT), "Bad authentication method" },
    { 0x8D, BY_S, IN(DISCONNECT), "Keep Alive timeout" },
    { 0x8E, BY_S, IN(DISCONNECT), "Session taken over" },
    { 0x8F, BY_S, IN(SUBACK) | IN(UNSUBACK) | IN(DISCONNECT), "Topic Filter invalid" },
    { 0x90, BY_ANY, IN(CONNACK) | ACKS_PUB | IN(DISCONNECT), "Topic Name invalid" },
    { 0x91, BY_ANY, ACKS_PUB | IN(SUBACK) | IN(UNSUBACK), "Packet Identifier in use" },
    { 0x92, BY_ANY, IN(PUBREL) | IN(PUBCOMP), "Packet Identifier not found" },
    { 0x93, BY_ANY, IN(DISCONNECT), "Receive Maximum exceeded" },
    { 0x94, BY_ANY, IN(DISCONNECT), "Topic Alias invalid" },
    { 0x95, BY_ANY, IN(CONNACK) | IN(DISCONNECT), "Packet too large" },
    { 0x96, BY_ANY, IN(DISCONNECT), "Message rate too high" },
    { 0x97, BY_ANY, IN(CONNACK) | ACKS_PUB | IN(SUBACK) | IN(DISCONNECT), "Quota exceeded" },
    { 0x98, BY_ANY, IN(DISCONNECT), "Administrative action" },
    { 0x99, BY_ANY, IN(CONNACK) | ACKS_PUB | IN(DISCONNECT), "Payload format invalid" },
    { 0x9A, BY_S, IN(CONNACK) | IN(DISCONNECT), "Retain not supported" },
    { 0x9B, BY_S, IN(CONNACK) | IN(DISCONNECT), "QoS not supported" },
    { 0x9C, BY_S, IN(CONNACK) | IN(DISCONNECT), "Use another server" },
    { 0x9D, BY_S, IN(CONNACK) | IN(DISCONNECT), "Server moved" },
    { 0x9E, BY_S, IN(SUBACK) | IN(DISCONNECT), "Shared Subscriptions not supported" },
    { 0x9F, BY_S, IN(CONNACK) | IN(DISCONNECT), "Connection rate exceeded" },
    { 0xA0, BY_S, IN(DISCONNECT), "Maximum connect time" },
    { 0xA1, BY_S, IN(SUBACK) | IN(DISCONNECT), "Subscription Identifiers not supported" },
    { 0xA2, BY_S, IN(SUBACK) | IN(DISCONNECT), "Wildcard Subscriptions not supported" },
};


static const lmq_reason_info *reason_find(unsigned packet_type, unsigned reason)
{
    /* Types 1..15 only: LMQ_IN(0) is the will bit, not a packet. */
    if (packet_type < LMQ_CONNECT || packet_type > LMQ_AUTH || reason > 0xFFu)
        return NULL;
    uint16_t bit = (uint16_t)LMQ_IN(packet_type);
    size_t n = sizeof lmq_reasons / sizeof lmq_reasons[0];
    for (size_t i = 0; i < n && lmq_reasons[i].code <= reason; i++) {
        if (lmq_reasons[i].code == reason && (lmq_reasons[i].where & bit))
            return &lmq_reasons[i];
    }
    return NULL;
}

int lmq_reason_valid(uint8_t packet_type, uint8_t reason)
{
    return reason_find(packet_type, reason) != NULL;
}

/* The packet types only one side sends (section 3, each packet's
 * "direction of flow"); a bit per type. */
#define ONLY_C (IN(CONNECT) | IN(SUBSCRIBE) | IN(UNSUBSCRIBE) | IN(PINGREQ))
#define ONLY_S (IN(CONNACK) | IN(SUBACK) | IN(UNSUBACK) | IN(PINGRESP))

int lmq_codec_check_sender(uint8_t packet_type, int direction)
{
    if (packet_type > LMQ_AUTH)
        return 0;                   /* not a type: judged elsewhere */
    unsigned bit = LMQ_IN(packet_type);
    if (direction == LMQ_FROM_SERVER && (ONLY_C & bit))
        return LMQ_EMAL_DIRECTION;
    if (direction == LMQ_FROM_CLIENT && (ONLY_S & bit))
        return LMQ_EMAL_DIRECTION;
    return 0;
}

int lmq_codec_check_reason(uint8_t packet_type, uint8_t level, uint8_t code,
                           int direction)
{
    if (level < 5) {
        if (packet_type == LMQ_CONNACK)     /* return codes 0..5 (3.1.1 3.2.2.3) */
            return code <= 5 ? 0 : LMQ_EMAL_REASON;
        /* The granted QoS or 0x80 failure (3.1.1 [MQTT-3.9.3-2]).  3.1
         * defined only the QoS values, but brokers answer 3.1 clients with
         * 0x80 too, so both levels take it. */
        if (packet_type == LMQ_SUBACK)
            return code <= 2 || code == 0x80 ? 0 : LMQ_EMAL_REASON;
        return 0;
    }
    /* [MQTT-3.4.2-1] [MQTT-3.5.2-1] [MQTT-3.6.2-1] [MQTT-3.7.2-1]
     * [MQTT-3.14.2-1] [MQTT-3.15.2-1]: only the codes of the packet's
     * table, and only from the side the table names. */
    const lmq_reason_info *info = reason_find(packet_type, code);
    if (!info)
        return LMQ_EMAL_REASON;
    unsigned sender = direction == LMQ_FROM_CLIENT ? BY_C
                    : direction == LMQ_FROM_SERVER ? BY_S : BY_ANY;
    return (info->by & sender) ? 0 : LMQ_EMAL_REASON;
}

#undef ONLY_S
#undef ONLY_C

LMQ_API const char *lmq_reason_name(int packet_type, int reason)
{
    if (packet_type < 0 || reason < 0)
        return NULL;
    const lmq_reason_info *info = reason_find((unsigned)packet_type, (unsigned)reason);
    return info ? info->name : NULL;
}

#undef BY_ANY
#undef BY_S
#undef BY_C
#undef ERR_MOST
#undef ACKS_PUB
#undef IN
