/*
 * codec.h - MQTT 3.1 / 3.1.1 / 5.0 packets as structs, and the pure
 * functions that turn them into bytes and back.
 *
 * No I/O here.  Decoding is zero-copy: every lmq_slice in a decoded packet
 * points into the bytes that were decoded and lives as long as they do.
 * Encoding never allocates: ask lmq_encode_size() for the size, then
 * lmq_encode() writes into the caller's buffer.
 *
 * Internal to the library (hidden symbols); the session layer and the tests
 * use it.
 */
#ifndef LMQ_CODEC_H
#define LMQ_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "lunamq.h"
#include "common/errors.h"
#include "common/text.h"

/* Control packet types, the high nibble of the first byte [MQTT-2.1.2]. */
enum lmq_ptype {
    LMQ_CONNECT = 1,
    LMQ_CONNACK = 2,
    LMQ_PUBLISH = 3,
    LMQ_PUBACK = 4,
    LMQ_PUBREC = 5,
    LMQ_PUBREL = 6,
    LMQ_PUBCOMP = 7,
    LMQ_SUBSCRIBE = 8,
    LMQ_SUBACK = 9,
    LMQ_UNSUBSCRIBE = 10,
    LMQ_UNSUBACK = 11,
    LMQ_PINGREQ = 12,
    LMQ_PINGRESP = 13,
    LMQ_DISCONNECT = 14,
    LMQ_AUTH = 15           /* MQTT 5 only */
};

/* A borrowed run of bytes.  p == NULL means "absent" (an empty but present
 * string has p != NULL and n == 0). */
typedef struct lmq_slice {
    const uint8_t *p;
    uint32_t n;
} lmq_slice;

/* A (key, value) pair: an MQTT 5 User Property. */
typedef struct lmq_strpair {
    lmq_slice key;
    lmq_slice val;
} lmq_strpair;

/* ------------------------------------------------------------- properties */

/* The MQTT 5 property identifiers (enum lmq_property) are public: lunamq.h. */

/* How a property's value is encoded. */
enum lmq_prop_kind {
    LMQ_PK_BYTE = 1,
    LMQ_PK_U16,
    LMQ_PK_U32,
    LMQ_PK_VARINT,
    LMQ_PK_UTF8,
    LMQ_PK_BINARY,
    LMQ_PK_PAIR
};

/* Where a property may appear: bit (1 << packet type); the will properties
 * in CONNECT's payload use bit 0 (packet type 0 is reserved, so it is free). */
#define LMQ_IN_WILL 0x0001u
#define LMQ_IN(t) (1u << (t))

typedef struct lmq_prop_info {
    uint8_t id;
    uint8_t kind;     /* enum lmq_prop_kind */
    uint8_t index;    /* bit number in lmq_props.present */
    uint8_t repeat;   /* 1 if it may appear more than once */
    uint16_t where;   /* LMQ_IN(...) | LMQ_IN_WILL */
    const char *name;
} lmq_prop_info;

/* The table entry for a property id, or NULL for an unknown id. */
const lmq_prop_info *lmq_prop_lookup(uint8_t id);

/*
 * The properties of one packet (or of a will).
 *
 * Scalars and single slices are fields; `present` has bit (1 << index) set
 * for each property that is there (index from lmq_prop_info; see
 * LMQ_HAS()).  Repeatable properties:
 *   - User Property: decoding sets n_user and leaves `user` NULL, the pairs
 *     are read from `raw` with lmq_props_next(); encoding writes `user[0..
 *     n_user)` when `user` is set, else the user properties found in `raw`
 *     (so a decoded packet re-encodes as it was).
 *   - Subscription Identifier: sub_id holds the first, n_sub_id the count;
 *     all of them are read from `raw`.  Encoding writes sub_ids[0..n_sub_id)
 *     when set, else sub_id alone if present, else those found in `raw`.
 * raw is the whole property block as decoded (after the length).
 */
typedef struct lmq_props {
    uint32_t present;

    uint8_t payload_format;
    uint8_t request_problem_info;
    uint8_t request_response_info;
    uint8_t maximum_qos;
    uint8_t retain_available;
    uint8_t wildcard_sub_available;
    uint8_t sub_id_available;
    uint8_t shared_sub_available;

    uint16_t server_keep_alive;
    uint16_t receive_maximum;
    uint16_t topic_alias_maximum;
    uint16_t topic_alias;

    uint32_t message_expiry;
    uint32_t session_expiry;
    uint32_t will_delay;
    uint32_t maximum_packet_size;
    uint32_t sub_id;

    lmq_slice content_type;
    lmq_slice response_topic;
    lmq_slice correlation_data;
    lmq_slice assigned_client_id;
    lmq_slice auth_method;
    lmq_slice auth_data;
    lmq_slice response_info;
    lmq_slice server_reference;
    lmq_slice reason_string;

    uint32_t n_user;
    const lmq_strpair *user;
    uint32_t n_sub_id;
    const uint32_t *sub_ids;

    lmq_slice raw;
} lmq_props;

/* The table entry with lmq_props.present bit `index`, or NULL past the end.
 * Entries are in identifier order. */
const lmq_prop_info *lmq_prop_at(unsigned index);

/* The value of an integer-kind property's field (0 for other ids). */
uint32_t lmq_props_num(const lmq_props *pr, uint8_t id);

/* Is property `id` present?  (Looks the id up; for hot paths test the bit.) */
int lmq_props_has(const lmq_props *props, uint8_t id);

/* Set the presence bit for `id` after filling its field (encode side). */
void lmq_props_set(lmq_props *props, uint8_t id);

/*
 * Walk the raw property block: *pos starts at 0.  Returns 1 and fills
 * *id plus the value (*num for integer kinds, *a for strings/binary, *a and
 * *b for a pair) and advances *pos; 0 at the end.  Only valid on a block the
 * decoder accepted.
 */
int lmq_props_next(const lmq_props *props, uint32_t *pos, uint8_t *id,
                   uint32_t *num, lmq_slice *a, lmq_slice *b);

/* ----------------------------------------------------------------- packets */

typedef struct lmq_connect {
    uint8_t level;            /* 3, 4 or 5 */
    uint8_t clean;            /* clean session (3.x) / clean start (5) */
    uint16_t keepalive;
    lmq_slice client_id;      /* may be empty (p set, n 0) */
    lmq_slice username;       /* p NULL: no username flag */
    lmq_slice password;       /* p NULL: no password flag */
    uint8_t will;             /* will flag */
    uint8_t will_qos;
    uint8_t will_retain;
    lmq_slice will_topic;
    lmq_slice will_payload;
    lmq_props props;
    lmq_props will_props;
} lmq_connect;

typedef struct lmq_connack {
    uint8_t session_present;
    uint8_t reason;           /* 3.x: return code 0..5; 5: reason code */
    lmq_props props;
} lmq_connack;

typedef struct lmq_publish {
    uint8_t qos;
    uint8_t retain;
    uint8_t dup;
    uint16_t packet_id;       /* 0 for QoS 0 */
    lmq_slice topic;          /* may be empty in v5 when a topic alias is set */
    lmq_slice payload;
    lmq_props props;
} lmq_publish;

/* PUBACK, PUBREC, PUBREL, PUBCOMP. */
typedef struct lmq_ack {
    uint16_t packet_id;
    uint8_t reason;           /* 0 when absent (v5 short form, or 3.x) */
    lmq_props props;
} lmq_ack;

/* One SUBSCRIBE entry.  options: bits 0-1 QoS, 2 no local, 3 retain as
 * published, 4-5 retain handling [MQTT-3.8.3.1]; 3.x uses only the QoS. */
typedef struct lmq_sub_entry {
    lmq_slice filter;
    uint8_t options;
} lmq_sub_entry;

/*
 * SUBSCRIBE and UNSUBSCRIBE.  Decoding sets count and `list` (the payload
 * bytes; walk it with lmq_subs_next()) and leaves `entries` NULL.
 * Encoding writes entries[0..count) (UNSUBSCRIBE ignores options); when
 * entries is NULL it writes the `count` entries found in `list` (so a
 * decoded packet re-encodes as it was).
 */
typedef struct lmq_subscribe {
    uint16_t packet_id;
    uint32_t count;
    const lmq_sub_entry *entries;
    lmq_slice list;
    lmq_props props;
} lmq_subscribe;

/* Walk a decoded SUBSCRIBE/UNSUBSCRIBE list: *pos starts at 0; returns 1 and
 * fills *e (options 0 for UNSUBSCRIBE), 0 at the end. */
int lmq_subs_next(const lmq_subscribe *s, uint8_t type, uint32_t *pos,
                  lmq_sub_entry *e);

/* SUBACK and UNSUBACK: one reason code (3.x: return code) per filter.
 * A 3.1.1 UNSUBACK has none (reasons.n == 0). */
typedef struct lmq_suback {
    uint16_t packet_id;
    lmq_slice reasons;
    lmq_props props;
} lmq_suback;

/* DISCONNECT and AUTH. */
typedef struct lmq_disconnect {
    uint8_t reason;
    lmq_props props;
} lmq_disconnect;

typedef struct lmq_packet {
    uint8_t type;             /* enum lmq_ptype */
    uint8_t flags;            /* low nibble of the first byte, as decoded */
    union {
        lmq_connect connect;
        lmq_connack connack;
        lmq_publish publish;
        lmq_ack ack;
        lmq_subscribe subscribe;      /* also UNSUBSCRIBE */
        lmq_suback suback;            /* also UNSUBACK */
        lmq_disconnect disconnect;    /* also AUTH */
    } u;
} lmq_packet;

/* ---------------------------------------------------------------- decoding */

/* Who sent the bytes being decoded.  A client decodes LMQ_FROM_SERVER and
 * rejects the packet types only a client sends (LMQ_EMAL_DIRECTION);
 * LMQ_FROM_CLIENT is for tests, fuzzers and the scripted fake broker. */
enum lmq_direction {
    LMQ_FROM_SERVER = 0,
    LMQ_FROM_CLIENT = 1,
    /* Encoding only (lmq_decode refuses it): no sender rule is applied.
     * What lmq_encode()/lmq_encode_size() use, for callers that build
     * packets of both sides without saying which. */
    LMQ_FROM_EITHER = 2
};

/*
 * Read the fixed header at the start of buf[0..len).
 *   > 0  the header is complete: *type_flags is the first byte, *remaining
 *        the remaining length; the return value is the header's size (2..5)
 *   0    need more bytes
 *   < 0  LMQ_EMAL_VARINT or LMQ_EMAL_VARINT_LONG
 */
int lmq_decode_header(const uint8_t *buf, size_t len, uint8_t *type_flags,
                      uint32_t *remaining);

/*
 * Decode one whole packet buf[0..len) (fixed header included, len exactly
 * the packet's size) spoken at protocol `level` (3, 4, 5; ignored for
 * CONNECT, which carries its own).  Slices in *out point into buf.
 * 0 on success, else the LMQ_EMAL_* code of the first rule broken.
 */
int lmq_decode(const uint8_t *buf, size_t len, uint8_t level, int direction,
               lmq_packet *out);

/*
 * An incremental decoder: bytes go in in chunks of any size (one at a time
 * works), whole packets come out.  It owns a buffer that grows to the
 * largest packet seen (bounded by max_packet); the transport may read
 * straight into it with lmq_decoder_space()/lmq_decoder_commit().
 */
typedef struct lmq_decoder {
    uint8_t *buf;
    size_t cap;
    size_t start;             /* first byte not yet consumed */
    size_t end;               /* one past the last byte received */
    uint32_t max_packet;      /* 0: the protocol limit (268435455 + 5) */
    uint8_t level;
    uint8_t direction;
    int error;                /* sticky: after an error, next() repeats it */
} lmq_decoder;

void lmq_decoder_init(lmq_decoder *d, uint8_t level, int direction,
                      uint32_t max_packet);
void lmq_decoder_free(lmq_decoder *d);

/* Copy n bytes in.  0, or LMQ_ENOMEM.  Once next() has failed, feed and
 * space keep no more bytes and return that sticky error. */
int lmq_decoder_feed(lmq_decoder *d, const uint8_t *bytes, size_t n);

/* Room for at least `want` bytes at the end of the buffer: *out points to
 * it; returns the room available (>= want) or LMQ_ENOMEM.  After writing k
 * bytes there, call lmq_decoder_commit(d, k). */
int lmq_decoder_space(lmq_decoder *d, size_t want, uint8_t **out);
void lmq_decoder_commit(lmq_decoder *d, size_t n);

/*
 * The next whole packet:
 *   1   *out holds it; its slices stay valid until the next call to
 *       next/feed/space on this decoder
 *   0   need more bytes
 *   < 0 an LMQ_EMAL_* code; the stream is broken and stays so
 * A remaining length over max_packet fails with LMQ_EMAL_TOO_LARGE as soon
 * as the fixed header is read, before the body is buffered.
 */
int lmq_decoder_next(lmq_decoder *d, lmq_packet *out);

/* ---------------------------------------------------------------- encoding */

/*
 * Bytes needed to encode pkt at `level` (fixed header included), or a
 * negative LMQ_E* code when pkt cannot be encoded (bad QoS, a property not
 * allowed in this packet, a string over 65535 bytes, a packet over the
 * protocol's 268435455-byte limit, ...).  The encoder checks what it
 * writes as the decoder checks what it reads (the same lmq_codec_check_*
 * functions), so it never produces a packet that lmq_decode() would
 * reject, except for the sender rules, which need lmq_encode_as() below
 * to know the sender.
 */
int64_t lmq_encode_size(const lmq_packet *pkt, uint8_t level);

/* Encode pkt into buf[0..cap).  Returns the bytes written, LMQ_EBUFSIZE if
 * cap is too small, or the same errors as lmq_encode_size().
 * (Both: a CONNECT is written at the level it carries, as lmq_decode reads
 * it; at levels 3 and 4 properties are left out.) */
int64_t lmq_encode(const lmq_packet *pkt, uint8_t level, uint8_t *buf,
                   size_t cap);

/*
 * The same, for a packet sent by `direction` (LMQ_FROM_CLIENT,
 * LMQ_FROM_SERVER, or LMQ_FROM_EITHER).  A named sender adds the rules
 * lmq_decode() applies to that side: packet types only the other side
 * sends, one-sided reason codes (Tables 3-10, 3-13), a Subscription
 * Identifier in PUBLISH only from a server [MQTT-3.3.4-6], Session Expiry
 * in DISCONNECT only from a client [MQTT-3.14.2-2].  lmq_encode() and
 * lmq_encode_size() are these with LMQ_FROM_EITHER: the client's own
 * packets should be encoded with LMQ_FROM_CLIENT.
 */
int64_t lmq_encode_size_as(const lmq_packet *pkt, uint8_t level, int direction);
int64_t lmq_encode_as(const lmq_packet *pkt, uint8_t level, int direction,
                      uint8_t *buf, size_t cap);

/* ---------------------------------------------------------------- helpers */

/* Variable byte integer: bytes needed (1..4) for v <= 268435455, else 0. */
int lmq_varint_size(uint32_t v);
/* Write v at p (room for 4 bytes); returns the bytes written. */
int lmq_varint_put(uint8_t *p, uint32_t v);
/* Read one from p[0..len): bytes used (1..4), 0 need more, or
 * LMQ_EMAL_VARINT / LMQ_EMAL_VARINT_LONG. */
int lmq_varint_get(const uint8_t *p, size_t len, uint32_t *v);


/* 1 if `reason` is an MQTT 5 reason code defined for packet type
 * `packet_type` (spec section 2.4, Table 2-6), else 0.  reasons.c holds the
 * one table behind this and lmq_reason_name(). */
int lmq_reason_valid(uint8_t packet_type, uint8_t reason);

/* ------------------------------------------------- rules of both directions
 *
 * Each rule the decoder and the encoder both enforce lives in one function,
 * so the two cannot drift apart.  They return 0 or the LMQ_E* code the
 * decoder reports; the encoder turns the LMQ_EMAL_* ones into LMQ_EINVAL.
 * `direction` is who sends the packet; LMQ_FROM_EITHER skips sender rules.
 */

/* Number of entries in the property table (lmq_prop_at indexes 0..n-1). */
unsigned lmq_prop_count(void);

/* An integer property's value in range (LMQ_EMAL_PROP_VALUE if not): the
 * one-byte ones are 0 or 1; Receive Maximum, Maximum Packet Size and
 * Topic Alias [MQTT-3.3.2-8] are not 0; a Subscription Identifier is
 * 1..268435455. */
int lmq_codec_check_prop_value(uint8_t id, uint32_t v);

/* A property its packet allows but not from this sender
 * (LMQ_EMAL_PROP_PACKET): Subscription Identifier in a client's PUBLISH
 * [MQTT-3.3.4-6], Session Expiry Interval in a server's DISCONNECT
 * [MQTT-3.14.2-2]. */
int lmq_codec_check_prop_sender(uint8_t id, uint8_t packet_type, int direction);

/* Rules on a whole property block: Authentication Data needs an
 * Authentication Method (3.1.2.11.10, 3.2.2.3.18, 3.15.2.2.3)
 * (LMQ_EMAL_PROP_VALUE). */
int lmq_codec_check_props(const lmq_props *pr);

/* A Topic Name inside a packet (PUBLISH, will topic, Response Topic): not
 * empty [MQTT-4.7.3-1] unless may_be_empty (a v5 PUBLISH with a Topic
 * Alias), no wildcard [MQTT-3.3.2-2] [MQTT-3.3.2-14].  UTF-8 is checked by
 * the string reader/writer.  LMQ_ETOPIC_EMPTY, LMQ_ETOPIC_WILDCARD. */
int lmq_codec_check_topic_name(lmq_slice s, int may_be_empty);

/* One SUBSCRIBE entry's options at `level` (section 3.8.3.1)
 * (LMQ_EMAL_SUB_OPTS). */
int lmq_codec_check_subopts(uint8_t level, uint8_t opts, lmq_slice filter);

/* A packet type `direction` may send (LMQ_EMAL_DIRECTION): CONNECT,
 * SUBSCRIBE, UNSUBSCRIBE, PINGREQ only from a client; CONNACK, SUBACK,
 * UNSUBACK, PINGRESP only from a server. */
int lmq_codec_check_sender(uint8_t packet_type, int direction);

/* A reason / return code of `packet_type` at `level` from `direction`
 * (LMQ_EMAL_REASON): 3.x CONNACK 0..5, 3.x SUBACK 0..2 or 0x80; 5.0 the
 * packet's table (Table 2-6) and, for DISCONNECT and AUTH, the side that
 * may send it (Tables 3-10 and 3-13).  Other 3.x packets carry none and
 * are not judged here. */
int lmq_codec_check_reason(uint8_t packet_type, uint8_t level, uint8_t code,
                           int direction);

#endif /* LMQ_CODEC_H */
