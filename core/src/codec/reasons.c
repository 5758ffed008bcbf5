/*
 * reasons.c - MQTT 5 reason codes: which packet types may carry each code,
 * and its name.
 *
 * One table (spec section 2.4, Table 2-6) answers both questions, so the
 * name shown to a user and the decoder's "is this code allowed here" check
 * cannot disagree.  MQTT 3.x return codes are not in it: they are plain
 * numbers handled by the codec.
 */
#include "codec/codec.h"

#define IN(t) LMQ_IN(LMQ_##t)

/* The packets that share a reason code list in Table 2-6. */
#define ACKS_PUB (IN(PUBACK) | IN(PUBREC))
#define ERR_MOST (IN(CONNACK) | ACKS_PUB | IN(SUBACK) | IN(UNSUBACK) | IN(DISCONNECT))

typedef struct lmq_reason_info {
    uint8_t code;
    uint16_t where;          /* LMQ_IN(packet type) bits */
    const char *name;
} lmq_reason_info;

/* Sorted by code.  0x00 has three names, one per group of packets. */
static const lmq_reason_info lmq_reasons[] = {
    { 0x00, IN(CONNACK) | ACKS_PUB | IN(PUBREL) | IN(PUBCOMP) | IN(UNSUBACK) | IN(AUTH), "Success" },
    { 0x00, IN(DISCONNECT), "Normal disconnection" },
    { 0x00, IN(SUBACK), "Granted QoS 0" },
    { 0x01, IN(SUBACK), "Granted QoS 1" },
    { 0x02, IN(SUBACK), "Granted QoS 2" },
    { 0x04, IN(DISCONNECT), "Disconnect with Will Message" },
    { 0x10, ACKS_PUB, "No matching subscribers" },
    { 0x11, IN(UNSUBACK), "No subscription existed" },
    { 0x18, IN(AUTH), "Continue authentication" },
    { 0x19, IN(AUTH), "Re-authenticate" },
    { 0x80, ERR_MOST, "Unspecified error" },
    { 0x81, IN(CONNACK) | IN(DISCONNECT), "Malformed Packet" },
    { 0x82, IN(CONNACK) | IN(DISCONNECT), "Protocol Error" },
    { 0x83, ERR_MOST, "Implementation specific error" },
    { 0x84, IN(CONNACK), "Unsupported Protocol Version" },
    { 0x85, IN(CONNACK), "Client Identifier not valid" },
    { 0x86, IN(CONNACK), "Bad User Name or Password" },
    { 0x87, ERR_MOST, "Not authorized" },
    { 0x88, IN(CONNACK), "Server unavailable" },
    { 0x89, IN(CONNACK) | IN(DISCONNECT), "Server busy" },
    { 0x8A, IN(CONNACK), "Banned" },
    { 0x8B, IN(DISCONNECT), "Server shutting down" },
    { 0x8C, IN(CONNACK) | IN(DISCONNECT), "Bad authentication method" },
    { 0x8D, IN(DISCONNECT), "Keep Alive timeout" },
    { 0x8E, IN(DISCONNECT), "Session taken over" },
    { 0x8F, IN(SUBACK) | IN(UNSUBACK) | IN(DISCONNECT), "Topic Filter invalid" },
    { 0x90, IN(CONNACK) | ACKS_PUB | IN(DISCONNECT), "Topic Name invalid" },
    { 0x91, ACKS_PUB | IN(SUBACK) | IN(UNSUBACK), "Packet Identifier in use" },
    { 0x92, IN(PUBREL) | IN(PUBCOMP), "Packet Identifier not found" },
    { 0x93, IN(DISCONNECT), "Receive Maximum exceeded" },
    { 0x94, IN(DISCONNECT), "Topic Alias invalid" },
    { 0x95, IN(CONNACK) | IN(DISCONNECT), "Packet too large" },
    { 0x96, IN(DISCONNECT), "Message rate too high" },
    { 0x97, IN(CONNACK) | ACKS_PUB | IN(SUBACK) | IN(DISCONNECT), "Quota exceeded" },
    { 0x98, IN(DISCONNECT), "Administrative action" },
    { 0x99, IN(CONNACK) | ACKS_PUB | IN(DISCONNECT), "Payload format invalid" },
    { 0x9A, IN(CONNACK) | IN(DISCONNECT), "Retain not supported" },
    { 0x9B, IN(CONNACK) | IN(DISCONNECT), "QoS not supported" },
    { 0x9C, IN(CONNACK) | IN(DISCONNECT), "Use another server" },
    { 0x9D, IN(CONNACK) | IN(DISCONNECT), "Server moved" },
    { 0x9E, IN(SUBACK) | IN(DISCONNECT), "Shared Subscriptions not supported" },
    { 0x9F, IN(CONNACK) | IN(DISCONNECT), "Connection rate exceeded" },
    { 0xA0, IN(DISCONNECT), "Maximum connect time" },
    { 0xA1, IN(SUBACK) | IN(DISCONNECT), "Subscription Identifiers not supported" },
    { 0xA2, IN(SUBACK) | IN(DISCONNECT), "Wildcard Subscriptions not supported" },
};

#undef ERR_MOST
#undef ACKS_PUB
#undef IN

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

LMQ_API const char *lmq_reason_name(int packet_type, int reason)
{
    if (packet_type < 0 || reason < 0)
        return NULL;
    const lmq_reason_info *info = reason_find((unsigned)packet_type, (unsigned)reason);
    return info ? info->name : NULL;
}
