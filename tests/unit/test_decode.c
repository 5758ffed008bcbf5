/*
 * test_decode.c - the decoder against hand-written bytes.
 *
 * Every vector here is worked out from the MQTT 3.1, 3.1.1 and 5.0
 * specifications by hand (not produced by the encoder).  Each malformed
 * vector breaks exactly one rule and must fail with that rule's code.
 * Bytes are copied to a heap block of their exact size before decoding, so
 * under the sanitizer build a read one byte past the end is caught.
 */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "codec/codec.h"

#define S LMQ_FROM_SERVER
#define C LMQ_FROM_CLIENT

/* The bytes last decoded, on the heap at their exact size; freed by the
 * next decode (slices of the last packet point into it). */
static uint8_t *held;

static int decode_copy(uint8_t level, int dir, const uint8_t *b, size_t n,
                       lmq_packet *pkt)
{
    free(held);
    held = malloc(n ? n : 1);
    if (n)
        memcpy(held, b, n);
    return lmq_decode(held, n, level, dir, pkt);
}

#define BYTES(...) (const uint8_t[]){ __VA_ARGS__ }, sizeof((const uint8_t[]){ __VA_ARGS__ })
#define DECODE(level, dir, pkt, ...) decode_copy(level, dir, BYTES(__VA_ARGS__), pkt)

/* Decoding these bytes fails with exactly `code`. */
#define REJECT(level, dir, code, ...)                                      \
    do {                                                                   \
        lmq_packet rej_;                                                   \
        CHECK_INT(DECODE(level, dir, &rej_, __VA_ARGS__), code);           \
    } while (0)

#define CHECK_SLICE(s, str)                                                \
    do {                                                                   \
        CHECK((s).p != NULL);                                              \
        CHECK_INT((s).n, sizeof(str) - 1);                                 \
        if ((s).p && (s).n == sizeof(str) - 1)                             \
            CHECK_MEM((s).p, str, sizeof(str) - 1);                        \
    } while (0)

/* ------------------------------------------------------------ valid bytes */

/* MQTT 3.1 CONNECT: "MQIsdp" level 3, clean, user "u", password "pw". */
static const uint8_t v3_connect[] = {
    0x10, 24,
    0, 6, 'M', 'Q', 'I', 's', 'd', 'p', 3, 0xC2, 0, 60,
    0, 3, 'a', 'b', 'c',
    0, 1, 'u',
    0, 2, 'p', 'w',
};

/* 3.1.1 CONNECT with every flag: user, password, will retain, will QoS 1,
 * will, clean. */
static const uint8_t v4_connect[] = {
    0x10, 29,
    0, 4, 'M', 'Q', 'T', 'T', 4, 0xEE, 0, 10,
    0, 2, 'c', 'i',
    0, 3, 'w', '/', 't',
    0, 2, 'x', 'y',
    0, 1, 'u',
    0, 1, 'p',
};

/* 5.0 CONNECT: every CONNECT property, every will property, an empty
 * client id, will QoS 2, clean start, a password without a user name. */
static const uint8_t v5_connect[] = {
    0x10, 91,
    0, 4, 'M', 'Q', 'T', 'T', 5, 0x56, 0, 30,
    36,
    0x11, 0, 0, 0, 120,             /* session expiry 120 */
    0x21, 0, 16,                    /* receive maximum 16 */
    0x27, 0, 0, 0x10, 0,            /* maximum packet size 4096 */
    0x22, 0, 5,                     /* topic alias maximum 5 */
    0x17, 1,                        /* request problem info */
    0x19, 1,                        /* request response info */
    0x26, 0, 1, 'k', 0, 1, 'v',     /* user property k=v */
    0x15, 0, 2, 'a', 'm',           /* auth method "am" */
    0x16, 0, 1, 0xFF,               /* auth data ff */
    0, 0,                           /* client id "" */
    31,
    0x18, 0, 0, 0, 10,              /* will delay 10 */
    0x01, 1,                        /* payload format: UTF-8 */
    0x02, 0, 0, 0, 60,              /* message expiry 60 */
    0x03, 0, 1, 't',                /* content type "t" */
    0x08, 0, 1, 'r',                /* response topic "r" */
    0x09, 0, 2, 1, 2,               /* correlation data 01 02 */
    0x26, 0, 1, 'a', 0, 0,          /* user property a="" */
    0, 1, 'w',                      /* will topic "w" */
    0, 0,                           /* will payload "" */
    0, 3, 1, 2, 3,                  /* password 01 02 03 */
};

static const uint8_t v4_connack[] = { 0x20, 2, 0x01, 0x00 };

/* 5.0 CONNACK with every CONNACK property. */
static const uint8_t v5_connack[] = {
    0x20, 66, 0x01, 0x00,
    63,
    0x11, 0, 0, 0, 30,              /* session expiry 30 */
    0x12, 0, 3, 'c', 'i', 'd',      /* assigned client id */
    0x13, 0, 20,                    /* server keep alive 20 */
    0x1A, 0, 1, 'i',                /* response information */
    0x1C, 0, 1, 's',                /* server reference */
    0x1F, 0, 2, 'o', 'k',           /* reason string */
    0x21, 0, 10,                    /* receive maximum 10 */
    0x22, 0, 8,                     /* topic alias maximum 8 */
    0x24, 1,                        /* maximum QoS 1 */
    0x25, 0,                        /* retain not available */
    0x27, 0, 0, 1, 0,               /* maximum packet size 256 */
    0x28, 1,                        /* wildcard subs available */
    0x29, 0,                        /* sub ids not available */
    0x2A, 1,                        /* shared subs available */
    0x15, 0, 1, 'm',                /* auth method */
    0x16, 0, 1, 9,                  /* auth data */
    0x26, 0, 1, 'a', 0, 1, 'b',     /* user property */
};

static const uint8_t v4_publish_qos0[] = {
    0x31, 7, 0, 3, 'a', '/', 'b', 'h', 'i',
};

static const uint8_t v4_publish_qos1_dup[] = {
    0x3A, 9, 0, 3, 'a', '/', 'b', 0x12, 0x34, 'h', 'i',
};

static const uint8_t v4_publish_qos2_empty[] = {
    0x34, 5, 0, 1, 't', 0, 1,
};

/* 5.0 PUBLISH QoS 1 with every PUBLISH property, two subscription ids. */
static const uint8_t v5_publish[] = {
    0x32, 42, 0, 1, 't', 0, 7,
    35,
    0x01, 1,                        /* payload format UTF-8 */
    0x02, 0, 0, 0, 5,               /* message expiry 5 */
    0x03, 0, 2, 't', 'y',           /* content type */
    0x08, 0, 1, 'r',                /* response topic */
    0x09, 0, 1, 0x00,               /* correlation data 00 (binary) */
    0x0B, 5,                        /* subscription id 5 */
    0x0B, 0x80, 0x01,               /* subscription id 128 */
    0x23, 0, 3,                     /* topic alias 3 */
    0x26, 0, 1, 'k', 0, 1, 'v',     /* user property */
    'p',
};

/* 5.0 PUBLISH naming its topic by alias only (section 3.3.2.3.4). */
static const uint8_t v5_publish_alias[] = {
    0x30, 7, 0, 0, 3, 0x23, 0, 1, 'z',
};

static const uint8_t v5_puback_short[] = { 0x40, 2, 0, 1 };
static const uint8_t v5_puback_reason[] = { 0x40, 3, 0, 1, 0x10 };
static const uint8_t v5_pubrec_noprops[] = { 0x50, 4, 0, 1, 0x80, 0 };
static const uint8_t v5_pubrel_props[] = {
    0x62, 14, 0, 1, 0x92,
    10, 0x1F, 0, 2, 'n', 'f', 0x26, 0, 0, 0, 0,
};
static const uint8_t v5_pubcomp[] = { 0x70, 3, 0, 1, 0x92 };

static const uint8_t v4_subscribe[] = {
    0x82, 12, 0, 10, 0, 3, 'a', '/', '+', 1, 0, 1, '#', 2,
};

static const uint8_t v5_subscribe[] = {
    0x82, 31, 0, 10,
    9, 0x0B, 5, 0x26, 0, 1, 'k', 0, 1, 'v',
    0, 3, 'a', '/', '+', 0x2D,      /* QoS 1, no local, RAP, RH 2 */
    0, 10, '$', 's', 'h', 'a', 'r', 'e', '/', 'g', '/', 'x', 0x02,
};

static const uint8_t v4_suback[] = { 0x90, 5, 0, 10, 0x00, 0x02, 0x80 };
static const uint8_t v5_suback[] = {
    0x90, 9, 0, 10, 4, 0x1F, 0, 1, 'x', 0x01, 0xA2,
};

static const uint8_t v4_unsubscribe[] = {
    0xA2, 10, 0, 11, 0, 3, 'a', '/', 'b', 0, 1, '#',
};
static const uint8_t v5_unsubscribe[] = {
    0xA2, 13, 0, 11, 7, 0x26, 0, 1, 'k', 0, 1, 'v', 0, 1, 'x',
};

static const uint8_t v4_unsuback[] = { 0xB0, 2, 0, 11 };
static const uint8_t v5_unsuback[] = { 0xB0, 5, 0, 11, 0, 0x00, 0x11 };

static const uint8_t pingreq[] = { 0xC0, 0 };
static const uint8_t pingresp[] = { 0xD0, 0 };
static const uint8_t disconnect_empty[] = { 0xE0, 0 };
static const uint8_t v5_disconnect_reason[] = { 0xE0, 1, 0x8E };
static const uint8_t v5_disconnect_props[] = {
    0xE0, 12, 0x9C, 10, 0x1C, 0, 3, 'h', ':', '1', 0x1F, 0, 1, 'r',
};
static const uint8_t v5_disconnect_client[] = {
    0xE0, 7, 0x04, 5, 0x11, 0, 0, 0, 0,
};
static const uint8_t v5_auth_empty[] = { 0xF0, 0 };
static const uint8_t v5_auth[] = {
    0xF0, 11, 0x18, 9, 0x15, 0, 1, 'm', 0x16, 0, 2, 1, 2,
};

typedef struct vec {
    const char *name;
    uint8_t level;
    int dir;
    const uint8_t *b;
    size_t n;
} vec;

#define V(level, dir, a) { #a, level, dir, a, sizeof a }

/* Every valid vector, with the level and side it is valid for. */
static const vec valid[] = {
    V(3, C, v3_connect), V(4, C, v4_connect), V(5, C, v5_connect),
    V(3, S, v4_connack), V(4, S, v4_connack), V(5, S, v5_connack),
    V(3, S, v4_publish_qos0), V(4, C, v4_publish_qos0),
    V(4, S, v4_publish_qos1_dup), V(3, C, v4_publish_qos2_empty),
    V(5, S, v5_publish), V(5, C, v5_publish_alias),
    V(5, S, v5_puback_short), V(5, C, v5_puback_reason),
    V(5, S, v5_pubrec_noprops), V(5, S, v5_pubrel_props), V(5, C, v5_pubcomp),
    V(3, C, v4_subscribe), V(4, C, v4_subscribe), V(5, C, v5_subscribe),
    V(3, S, v4_suback), V(4, S, v4_suback), V(5, S, v5_suback),
    V(3, C, v4_unsubscribe), V(4, C, v4_unsubscribe), V(5, C, v5_unsubscribe),
    V(3, S, v4_unsuback), V(4, S, v4_unsuback), V(5, S, v5_unsuback),
    V(3, C, pingreq), V(4, C, pingreq), V(5, C, pingreq),
    V(3, S, pingresp), V(4, S, pingresp), V(5, S, pingresp),
    V(3, C, disconnect_empty), V(4, S, disconnect_empty), V(5, S, disconnect_empty),
    V(5, S, v5_disconnect_reason), V(5, S, v5_disconnect_props),
    V(5, C, v5_disconnect_client),
    V(5, S, v5_auth_empty), V(5, C, v5_auth),
};

/* ---------------------------------------------------- decoding valid bytes */

static void test_every_valid_vector_decodes(void)
{
    for (size_t k = 0; k < sizeof valid / sizeof valid[0]; k++) {
        lmq_packet p;
        int rc = decode_copy(valid[k].level, valid[k].dir, valid[k].b,
                             valid[k].n, &p);
        if (rc != 0)
            fprintf(stderr, "  %s at level %d: %d\n", valid[k].name,
                    valid[k].level, rc);
        CHECK_INT(rc, 0);
        CHECK_INT(p.type, valid[k].b[0] >> 4);
        CHECK_INT(p.flags, valid[k].b[0] & 0x0F);
    }
}

static void test_connect_31_fields(void)
{
    lmq_packet p;
    CHECK_INT(decode_copy(0, C, v3_connect, sizeof v3_connect, &p), 0);
    const lmq_connect *c = &p.u.connect;
    CHECK_INT(p.type, LMQ_CONNECT);
    CHECK_INT(c->level, 3);
    CHECK_INT(c->clean, 1);
    CHECK_INT(c->keepalive, 60);
    CHECK_SLICE(c->client_id, "abc");
    CHECK_SLICE(c->username, "u");
    CHECK_SLICE(c->password, "pw");
    CHECK_INT(c->will, 0);
    CHECK(c->will_topic.p == NULL);
    CHECK(c->will_payload.p == NULL);
    CHECK(c->props.raw.p == NULL);
}

static void test_connect_311_fields_with_will(void)
{
    lmq_packet p;
    CHECK_INT(decode_copy(5, C, v4_connect, sizeof v4_connect, &p), 0);
    const lmq_connect *c = &p.u.connect;
    CHECK_INT(c->level, 4);
    CHECK_INT(c->clean, 1);
    CHECK_INT(c->keepalive, 10);
    CHECK_SLICE(c->client_id, "ci");
    CHECK_INT(c->will, 1);
    CHECK_INT(c->will_qos, 1);
    CHECK_INT(c->will_retain, 1);
    CHECK_SLICE(c->will_topic, "w/t");
    CHECK_SLICE(c->will_payload, "xy");
    CHECK_SLICE(c->username, "u");
    CHECK_SLICE(c->password, "p");
}

static void test_connect_5_fields_and_properties(void)
{
    lmq_packet p;
    CHECK_INT(decode_copy(4, C, v5_connect, sizeof v5_connect, &p), 0);
    const lmq_connect *c = &p.u.connect;
    CHECK_INT(c->level, 5);
    CHECK_INT(c->clean, 1);
    CHECK_INT(c->keepalive, 30);
    CHECK(c->client_id.p != NULL);              /* present but empty */
    CHECK_INT(c->client_id.n, 0);
    CHECK(c->username.p == NULL);
    CHECK_INT(c->password.n, 3);
    CHECK_MEM(c->password.p, "\x01\x02\x03", 3);
    CHECK_INT(c->will, 1);
    CHECK_INT(c->will_qos, 2);
    CHECK_INT(c->will_retain, 0);
    CHECK_SLICE(c->will_topic, "w");
    CHECK(c->will_payload.p != NULL);
    CHECK_INT(c->will_payload.n, 0);

    const lmq_props *pr = &c->props;
    CHECK_INT(pr->raw.n, 36);
    CHECK_INT(pr->session_expiry, 120);
    CHECK_INT(pr->receive_maximum, 16);
    CHECK_INT(pr->maximum_packet_size, 4096);
    CHECK_INT(pr->topic_alias_maximum, 5);
    CHECK_INT(pr->request_problem_info, 1);
    CHECK_INT(pr->request_response_info, 1);
    CHECK_INT(pr->n_user, 1);
    CHECK(pr->user == NULL);
    CHECK_SLICE(pr->auth_method, "am");
    CHECK_SLICE(pr->auth_data, "\xFF");
    CHECK(lmq_props_has(pr, LMQ_PROP_SESSION_EXPIRY));
    CHECK(lmq_props_has(pr, LMQ_PROP_AUTH_DATA));
    CHECK(!lmq_props_has(pr, LMQ_PROP_WILL_DELAY));

    const lmq_props *w = &c->will_props;
    CHECK_INT(w->raw.n, 31);
    CHECK_INT(w->will_delay, 10);
    CHECK_INT(w->payload_format, 1);
    CHECK_INT(w->message_expiry, 60);
    CHECK_SLICE(w->content_type, "t");
    CHECK_SLICE(w->response_topic, "r");
    CHECK_SLICE(w->correlation_data, "\x01\x02");
    CHECK_INT(w->n_user, 1);
    CHECK(lmq_props_has(w, LMQ_PROP_WILL_DELAY));
    CHECK(!lmq_props_has(w, LMQ_PROP_SESSION_EXPIRY));
}

static void test_connack_3x_fields(void)
{
    for (uint8_t level = 3; level <= 4; level++) {
        lmq_packet p;
        CHECK_INT(decode_copy(level, S, v4_connack, sizeof v4_connack, &p), 0);
        CHECK_INT(p.type, LMQ_CONNACK);
        /* 3.1 has no session present flag: its first byte is unused */
        CHECK_INT(p.u.connack.session_present, level == 4);
        CHECK_INT(p.u.connack.reason, 0);
        CHECK(p.u.connack.props.raw.p == NULL);
        /* return code 5 "not authorized" is the last one defined */
        CHECK_INT(DECODE(level, S, &p, 0x20, 2, 0x00, 0x05), 0);
        CHECK_INT(p.u.connack.reason, 5);
        CHECK_INT(p.u.connack.session_present, 0);
    }
}

static void test_connack_5_fields_and_properties(void)
{
    lmq_packet p;
    CHECK_INT(decode_copy(5, S, v5_connack, sizeof v5_connack, &p), 0);
    const lmq_connack *c = &p.u.connack;
    CHECK_INT(c->session_present, 1);
    CHECK_INT(c->reason, 0);
    const lmq_props *pr = &c->props;
    CHECK_INT(pr->raw.n, 63);
    CHECK_INT(pr->session_expiry, 30);
    CHECK_SLICE(pr->assigned_client_id, "cid");
    CHECK_INT(pr->server_keep_alive, 20);
    CHECK_SLICE(pr->response_info, "i");
    CHECK_SLICE(pr->server_reference, "s");
    CHECK_SLICE(pr->reason_string, "ok");
    CHECK_INT(pr->receive_maximum, 10);
    CHECK_INT(pr->topic_alias_maximum, 8);
    CHECK_INT(pr->maximum_qos, 1);
    CHECK(lmq_props_has(pr, LMQ_PROP_RETAIN_AVAILABLE));
    CHECK_INT(pr->retain_available, 0);
    CHECK_INT(pr->maximum_packet_size, 256);
    CHECK_INT(pr->wildcard_sub_available, 1);
    CHECK(lmq_props_has(pr, LMQ_PROP_SUB_ID_AVAILABLE));
    CHECK_INT(pr->sub_id_available, 0);
    CHECK_INT(pr->shared_sub_available, 1);
    CHECK_SLICE(pr->auth_method, "m");
    CHECK_SLICE(pr->auth_data, "\x09");
    CHECK_INT(pr->n_user, 1);

    /* a refusal with an empty property block */
    CHECK_INT(DECODE(5, S, &p, 0x20, 3, 0x00, 0x87, 0), 0);
    CHECK_INT(p.u.connack.reason, 0x87);
    CHECK_INT(p.u.connack.props.present, 0);
    CHECK(p.u.connack.props.raw.p != NULL);
    CHECK_INT(p.u.connack.props.raw.n, 0);
}

static void test_publish_3x_fields(void)
{
    lmq_packet p;
    CHECK_INT(decode_copy(4, S, v4_publish_qos0, sizeof v4_publish_qos0, &p), 0);
    const lmq_publish *m = &p.u.publish;
    CHECK_INT(m->qos, 0);
    CHECK_INT(m->retain, 1);
    CHECK_INT(m->dup, 0);
    CHECK_INT(m->packet_id, 0);
    CHECK_SLICE(m->topic, "a/b");
    CHECK_SLICE(m->payload, "hi");

    CHECK_INT(decode_copy(3, S, v4_publish_qos1_dup, sizeof v4_publish_qos1_dup, &p), 0);
    CHECK_INT(m->qos, 1);
    CHECK_INT(m->retain, 0);
    CHECK_INT(m->dup, 1);
    CHECK_INT(m->packet_id, 0x1234);
    CHECK_SLICE(m->topic, "a/b");
    CHECK_SLICE(m->payload, "hi");

    CHECK_INT(decode_copy(4, C, v4_publish_qos2_empty, sizeof v4_publish_qos2_empty, &p), 0);
    CHECK_INT(m->qos, 2);
    CHECK_INT(m->packet_id, 1);
    CHECK_SLICE(m->topic, "t");
    CHECK(m->payload.p != NULL);
    CHECK_INT(m->payload.n, 0);
}

static void test_publish_5_fields_and_properties(void)
{
    lmq_packet p;
    CHECK_INT(decode_copy(5, S, v5_publish, sizeof v5_publish, &p), 0);
    const lmq_publish *m = &p.u.publish;
    CHECK_INT(m->qos, 1);
    CHECK_INT(m->packet_id, 7);
    CHECK_SLICE(m->topic, "t");
    CHECK_SLICE(m->payload, "p");
    const lmq_props *pr = &m->props;
    CHECK_INT(pr->payload_format, 1);
    CHECK_INT(pr->message_expiry, 5);
    CHECK_SLICE(pr->content_type, "ty");
    CHECK_SLICE(pr->response_topic, "r");
    CHECK_INT(pr->correlation_data.n, 1);
    CHECK_INT(pr->correlation_data.p[0], 0);
    CHECK_INT(pr->sub_id, 5);                   /* the first */
    CHECK_INT(pr->n_sub_id, 2);
    CHECK(pr->sub_ids == NULL);
    CHECK_INT(pr->topic_alias, 3);
    CHECK_INT(pr->n_user, 1);
}

/* A v5 PUBLISH may leave the topic empty and name it by a Topic Alias
 * (section 3.3.2.3.4). */
static void test_publish_5_empty_topic_with_alias_is_accepted(void)
{
    lmq_packet p;
    CHECK_INT(decode_copy(5, S, v5_publish_alias, sizeof v5_publish_alias, &p), 0);
    CHECK(p.u.publish.topic.p != NULL);
    CHECK_INT(p.u.publish.topic.n, 0);
    CHECK_INT(p.u.publish.props.topic_alias, 1);
    CHECK_SLICE(p.u.publish.payload, "z");
}

static void test_acks_3x_fields(void)
{
    static const uint8_t first[] = { 0x40, 0x50, 0x62, 0x70 };
    for (uint8_t level = 3; level <= 4; level++) {
        for (size_t k = 0; k < sizeof first; k++) {
            lmq_packet p;
            CHECK_INT(DECODE(level, S, &p, first[k], 2, 0x12, 0x34), 0);
            CHECK_INT(p.type, first[k] >> 4);
            CHECK_INT(p.u.ack.packet_id, 0x1234);
            CHECK_INT(p.u.ack.reason, 0);
            CHECK(p.u.ack.props.raw.p == NULL);
        }
    }
}

/* v5 PUBACK..PUBCOMP: remaining length 2 means reason 0 (section 3.4.2.1),
 * 3 means a reason and no properties (section 3.4.2.2.1). */
static void test_acks_5_short_forms_and_properties(void)
{
    lmq_packet p;
    CHECK_INT(decode_copy(5, S, v5_puback_short, sizeof v5_puback_short, &p), 0);
    CHECK_INT(p.type, LMQ_PUBACK);
    CHECK_INT(p.u.ack.packet_id, 1);
    CHECK_INT(p.u.ack.reason, 0);
    CHECK(p.u.ack.props.raw.p == NULL);

    CHECK_INT(decode_copy(5, S, v5_puback_reason, sizeof v5_puback_reason, &p), 0);
    CHECK_INT(p.u.ack.reason, 0x10);
    CHECK(p.u.ack.props.raw.p == NULL);

    CHECK_INT(decode_copy(5, S, v5_pubrec_noprops, sizeof v5_pubrec_noprops, &p), 0);
    CHECK_INT(p.type, LMQ_PUBREC);
    CHECK_INT(p.u.ack.reason, 0x80);
    CHECK(p.u.ack.props.raw.p != NULL);
    CHECK_INT(p.u.ack.props.raw.n, 0);

    CHECK_INT(decode_copy(5, S, v5_pubrel_props, sizeof v5_pubrel_props, &p), 0);
    CHECK_INT(p.type, LMQ_PUBREL);
    CHECK_INT(p.u.ack.reason, 0x92);
    CHECK_SLICE(p.u.ack.props.reason_string, "nf");
    CHECK_INT(p.u.ack.props.n_user, 1);

    CHECK_INT(decode_copy(5, C, v5_pubcomp, sizeof v5_pubcomp, &p), 0);
    CHECK_INT(p.type, LMQ_PUBCOMP);
    CHECK_INT(p.u.ack.reason, 0x92);
}

static void test_subscribe_3x_fields_and_walk(void)
{
    for (uint8_t level = 3; level <= 4; level++) {
        lmq_packet p;
        CHECK_INT(decode_copy(level, C, v4_subscribe, sizeof v4_subscribe, &p), 0);
        const lmq_subscribe *s = &p.u.subscribe;
        CHECK_INT(s->packet_id, 10);
        CHECK_INT(s->count, 2);
        CHECK(s->entries == NULL);
        CHECK_INT(s->list.n, 10);
        uint32_t pos = 0;
        lmq_sub_entry e;
        CHECK_INT(lmq_subs_next(s, LMQ_SUBSCRIBE, &pos, &e), 1);
        CHECK_SLICE(e.filter, "a/+");
        CHECK_INT(e.options, 1);
        CHECK_INT(lmq_subs_next(s, LMQ_SUBSCRIBE, &pos, &e), 1);
        CHECK_SLICE(e.filter, "#");
        CHECK_INT(e.options, 2);
        CHECK_INT(lmq_subs_next(s, LMQ_SUBSCRIBE, &pos, &e), 0);
    }
}

static void test_subscribe_5_fields_and_walk(void)
{
    lmq_packet p;
    CHECK_INT(decode_copy(5, C, v5_subscribe, sizeof v5_subscribe, &p), 0);
    const lmq_subscribe *s = &p.u.subscribe;
    CHECK_INT(s->packet_id, 10);
    CHECK_INT(s->count, 2);
    CHECK_INT(s->props.sub_id, 5);
    CHECK_INT(s->props.n_sub_id, 1);
    CHECK_INT(s->props.n_user, 1);
    uint32_t pos = 0;
    lmq_sub_entry e;
    CHECK_INT(lmq_subs_next(s, LMQ_SUBSCRIBE, &pos, &e), 1);
    CHECK_SLICE(e.filter, "a/+");
    CHECK_INT(e.options, 0x2D);
    CHECK_INT(lmq_subs_next(s, LMQ_SUBSCRIBE, &pos, &e), 1);
    CHECK_SLICE(e.filter, "$share/g/x");
    CHECK_INT(e.options, 0x02);
    CHECK_INT(lmq_subs_next(s, LMQ_SUBSCRIBE, &pos, &e), 0);
}

static void test_suback_fields(void)
{
    for (uint8_t level = 3; level <= 4; level++) {
        lmq_packet p;
        CHECK_INT(decode_copy(level, S, v4_suback, sizeof v4_suback, &p), 0);
        CHECK_INT(p.u.suback.packet_id, 10);
        CHECK_SLICE(p.u.suback.reasons, "\x00\x02\x80");
    }
    lmq_packet p;
    CHECK_INT(decode_copy(5, S, v5_suback, sizeof v5_suback, &p), 0);
    CHECK_INT(p.u.suback.packet_id, 10);
    CHECK_SLICE(p.u.suback.props.reason_string, "x");
    CHECK_SLICE(p.u.suback.reasons, "\x01\xA2");
}

static void test_unsubscribe_fields_and_walk(void)
{
    for (uint8_t level = 3; level <= 4; level++) {
        lmq_packet p;
        CHECK_INT(decode_copy(level, C, v4_unsubscribe, sizeof v4_unsubscribe, &p), 0);
        const lmq_subscribe *s = &p.u.subscribe;
        CHECK_INT(p.type, LMQ_UNSUBSCRIBE);
        CHECK_INT(s->packet_id, 11);
        CHECK_INT(s->count, 2);
        uint32_t pos = 0;
        lmq_sub_entry e;
        CHECK_INT(lmq_subs_next(s, LMQ_UNSUBSCRIBE, &pos, &e), 1);
        CHECK_SLICE(e.filter, "a/b");
        CHECK_INT(e.options, 0);
        CHECK_INT(lmq_subs_next(s, LMQ_UNSUBSCRIBE, &pos, &e), 1);
        CHECK_SLICE(e.filter, "#");
        CHECK_INT(lmq_subs_next(s, LMQ_UNSUBSCRIBE, &pos, &e), 0);
    }
    lmq_packet p;
    CHECK_INT(decode_copy(5, C, v5_unsubscribe, sizeof v5_unsubscribe, &p), 0);
    CHECK_INT(p.u.subscribe.count, 1);
    CHECK_INT(p.u.subscribe.props.n_user, 1);
    uint32_t pos = 0;
    lmq_sub_entry e;
    CHECK_INT(lmq_subs_next(&p.u.subscribe, LMQ_UNSUBSCRIBE, &pos, &e), 1);
    CHECK_SLICE(e.filter, "x");
}

/* A 3.x UNSUBACK is only the packet id; a v5 one has a reason per filter. */
static void test_unsuback_has_reasons_only_at_5(void)
{
    for (uint8_t level = 3; level <= 4; level++) {
        lmq_packet p;
        CHECK_INT(decode_copy(level, S, v4_unsuback, sizeof v4_unsuback, &p), 0);
        CHECK_INT(p.type, LMQ_UNSUBACK);
        CHECK_INT(p.u.suback.packet_id, 11);
        CHECK_INT(p.u.suback.reasons.n, 0);
    }
    lmq_packet p;
    CHECK_INT(decode_copy(5, S, v5_unsuback, sizeof v5_unsuback, &p), 0);
    CHECK_INT(p.u.suback.packet_id, 11);
    CHECK_SLICE(p.u.suback.reasons, "\x00\x11");
}

static void test_ping_and_disconnect_at_every_level(void)
{
    for (uint8_t level = 3; level <= 5; level++) {
        lmq_packet p;
        CHECK_INT(decode_copy(level, C, pingreq, sizeof pingreq, &p), 0);
        CHECK_INT(p.type, LMQ_PINGREQ);
        CHECK_INT(decode_copy(level, S, pingresp, sizeof pingresp, &p), 0);
        CHECK_INT(p.type, LMQ_PINGRESP);
        CHECK_INT(decode_copy(level, S, disconnect_empty, sizeof disconnect_empty, &p), 0);
        CHECK_INT(p.type, LMQ_DISCONNECT);
        CHECK_INT(p.u.disconnect.reason, 0);
        CHECK(p.u.disconnect.props.raw.p == NULL);
    }
}

/* v5 DISCONNECT: remaining length 0 means reason 0, 1 means a reason and
 * no properties (section 3.14.2.2.1). */
static void test_disconnect_5_forms(void)
{
    lmq_packet p;
    CHECK_INT(decode_copy(5, S, v5_disconnect_reason, sizeof v5_disconnect_reason, &p), 0);
    CHECK_INT(p.u.disconnect.reason, 0x8E);
    CHECK(p.u.disconnect.props.raw.p == NULL);

    CHECK_INT(decode_copy(5, S, v5_disconnect_props, sizeof v5_disconnect_props, &p), 0);
    CHECK_INT(p.u.disconnect.reason, 0x9C);
    CHECK_SLICE(p.u.disconnect.props.server_reference, "h:1");
    CHECK_SLICE(p.u.disconnect.props.reason_string, "r");

    CHECK_INT(decode_copy(5, C, v5_disconnect_client, sizeof v5_disconnect_client, &p), 0);
    CHECK_INT(p.u.disconnect.reason, 0x04);
    CHECK(lmq_props_has(&p.u.disconnect.props, LMQ_PROP_SESSION_EXPIRY));
    CHECK_INT(p.u.disconnect.props.session_expiry, 0);
}

/* AUTH: remaining length 0 means Success with no properties
 * (section 3.15.2.1). */
static void test_auth_5_forms(void)
{
    lmq_packet p;
    CHECK_INT(decode_copy(5, S, v5_auth_empty, sizeof v5_auth_empty, &p), 0);
    CHECK_INT(p.type, LMQ_AUTH);
    CHECK_INT(p.u.disconnect.reason, 0);
    CHECK_INT(decode_copy(5, C, v5_auth, sizeof v5_auth, &p), 0);
    CHECK_INT(p.u.disconnect.reason, 0x18);
    CHECK_SLICE(p.u.disconnect.props.auth_method, "m");
    CHECK_SLICE(p.u.disconnect.props.auth_data, "\x01\x02");
}

/* ------------------------------------------------------- walking properties */

static void test_props_next_walks_every_property_in_order(void)
{
    lmq_packet p;
    CHECK_INT(decode_copy(5, S, v5_publish, sizeof v5_publish, &p), 0);
    static const uint8_t ids[] = { 0x01, 0x02, 0x03, 0x08, 0x09, 0x0B, 0x0B, 0x23, 0x26 };
    static const uint32_t nums[] = { 1, 5, 0, 0, 0, 5, 128, 3, 0 };
    uint32_t pos = 0, num;
    uint8_t id;
    lmq_slice a, b;
    for (size_t k = 0; k < sizeof ids; k++) {
        CHECK_INT(lmq_props_next(&p.u.publish.props, &pos, &id, &num, &a, &b), 1);
        CHECK_INT(id, ids[k]);
        CHECK_INT(num, nums[k]);
        if (id == LMQ_PROP_CONTENT_TYPE)
            CHECK_SLICE(a, "ty");
        if (id == LMQ_PROP_USER) {
            CHECK_SLICE(a, "k");
            CHECK_SLICE(b, "v");
        }
    }
    CHECK_INT(lmq_props_next(&p.u.publish.props, &pos, &id, &num, &a, &b), 0);
    CHECK_INT(pos, 35);
}

static void test_props_next_on_absent_block_is_empty(void)
{
    lmq_props none;
    memset(&none, 0, sizeof none);
    uint32_t pos = 0;
    CHECK_INT(lmq_props_next(&none, &pos, NULL, NULL, NULL, NULL), 0);
}

/* ------------------------------------------------------------------ framing */

/* At most 4 bytes of remaining length (section 1.5.5). */
static void test_remaining_length_over_4_bytes_is_rejected(void)
{
    REJECT(4, S, LMQ_EMAL_VARINT, 0xD0, 0xFF, 0xFF, 0xFF, 0xFF, 0x01);
    uint8_t tf;
    uint32_t rem;
    CHECK_INT(lmq_decode_header(BYTES(0x30, 0x80, 0x80, 0x80, 0x80), &tf, &rem),
              LMQ_EMAL_VARINT);
}

/* [MQTT-1.5.5-1] the shortest encoding only. */
static void test_remaining_length_not_minimal_is_rejected(void)
{
    REJECT(4, S, LMQ_EMAL_VARINT_LONG, 0xD0, 0x80, 0x00);
    REJECT(5, S, LMQ_EMAL_VARINT_LONG, 0x40, 0x82, 0x00, 0, 1);
}

static void test_decode_header_reports_size_and_needs_more(void)
{
    uint8_t tf = 0;
    uint32_t rem = 0;
    CHECK_INT(lmq_decode_header(BYTES(0x30), &tf, &rem), 0);
    CHECK_INT(lmq_decode_header(BYTES(0x30, 0x80), &tf, &rem), 0);
    CHECK_INT(lmq_decode_header(BYTES(0x30, 0x80, 0x01), &tf, &rem), 3);
    CHECK_INT(tf, 0x30);
    CHECK_INT(rem, 128);
    CHECK_INT(lmq_decode_header(BYTES(0x30, 0xFF, 0xFF, 0xFF, 0x7F), &tf, &rem), 5);
    CHECK_INT(rem, 268435455);
}

static void test_reserved_packet_type_0_is_rejected(void)
{
    for (uint8_t level = 3; level <= 5; level++) {
        REJECT(level, S, LMQ_EMAL_TYPE, 0x00, 0);
        REJECT(level, C, LMQ_EMAL_TYPE, 0x00, 0);
    }
}

/* Type 15 is reserved before MQTT 5 (it is AUTH there). */
static void test_type_15_before_5_is_rejected(void)
{
    REJECT(3, S, LMQ_EMAL_TYPE, 0xF0, 0);
    REJECT(4, S, LMQ_EMAL_TYPE, 0xF0, 0);
    REJECT(4, C, LMQ_EMAL_TYPE, 0xF0, 2, 0x18, 0);
}

/* [MQTT-2.1.3-1] reserved flag bits: 0010 for PUBREL, SUBSCRIBE and
 * UNSUBSCRIBE [MQTT-3.6.1-1] [MQTT-3.8.1-1] [MQTT-3.10.1-1], 0000 else. */
static void test_reserved_fixed_header_flags_are_rejected(void)
{
    REJECT(4, S, LMQ_EMAL_FLAGS, 0x21, 2, 0, 0);          /* CONNACK */
    REJECT(4, S, LMQ_EMAL_FLAGS, 0x42, 2, 0, 1);          /* PUBACK */
    REJECT(4, S, LMQ_EMAL_FLAGS, 0x58, 2, 0, 1);          /* PUBREC */
    REJECT(4, S, LMQ_EMAL_FLAGS, 0x60, 2, 0, 1);          /* PUBREL 0000 */
    REJECT(4, S, LMQ_EMAL_FLAGS, 0x63, 2, 0, 1);          /* PUBREL 0011 */
    REJECT(4, S, LMQ_EMAL_FLAGS, 0x72, 2, 0, 1);          /* PUBCOMP */
    REJECT(4, C, LMQ_EMAL_FLAGS, 0x80, 6, 0, 1, 0, 1, 'a', 0); /* SUBSCRIBE */
    REJECT(4, S, LMQ_EMAL_FLAGS, 0x92, 3, 0, 1, 0);       /* SUBACK */
    REJECT(4, C, LMQ_EMAL_FLAGS, 0xA0, 5, 0, 1, 0, 1, 'a'); /* UNSUBSCRIBE */
    REJECT(4, S, LMQ_EMAL_FLAGS, 0xB4, 2, 0, 1);          /* UNSUBACK */
    REJECT(4, C, LMQ_EMAL_FLAGS, 0xC1, 0);                /* PINGREQ */
    REJECT(4, S, LMQ_EMAL_FLAGS, 0xD8, 0);                /* PINGRESP */
    REJECT(4, S, LMQ_EMAL_FLAGS, 0xE1, 0);                /* DISCONNECT */
    REJECT(5, S, LMQ_EMAL_FLAGS, 0xE8, 0);                /* [MQTT-3.14.1-1] */
    REJECT(5, S, LMQ_EMAL_FLAGS, 0xF2, 0);                /* AUTH [MQTT-3.15.1-1] */
    REJECT(5, S, LMQ_EMAL_FLAGS, 0xF1, 2, 0x18, 0);
    REJECT(4, C, LMQ_EMAL_FLAGS, 0x11, 0);                /* CONNECT */
}

/* [MQTT-3.3.1-4] QoS 3. */
static void test_publish_qos_3_is_rejected(void)
{
    REJECT(4, S, LMQ_EMAL_QOS, 0x36, 5, 0, 1, 't', 0, 1);
    REJECT(5, S, LMQ_EMAL_QOS, 0x3E, 6, 0, 1, 't', 0, 1, 0);
}

/* [MQTT-3.3.1-2] DUP must be 0 on QoS 0. */
static void test_publish_dup_with_qos_0_is_rejected(void)
{
    REJECT(4, S, LMQ_EMAL_DUP, 0x38, 3, 0, 1, 't');
}

/* [MQTT-2.2.1-3] a packet identifier is never 0. */
static void test_packet_id_0_is_rejected(void)
{
    REJECT(4, S, LMQ_EMAL_PACKET_ID, 0x32, 5, 0, 1, 't', 0, 0);
    REJECT(4, S, LMQ_EMAL_PACKET_ID, 0x40, 2, 0, 0);
    REJECT(4, S, LMQ_EMAL_PACKET_ID, 0x50, 2, 0, 0);
    REJECT(4, S, LMQ_EMAL_PACKET_ID, 0x62, 2, 0, 0);
    REJECT(5, S, LMQ_EMAL_PACKET_ID, 0x70, 2, 0, 0);
    REJECT(4, C, LMQ_EMAL_PACKET_ID, 0x82, 6, 0, 0, 0, 1, 'a', 0);
    REJECT(4, S, LMQ_EMAL_PACKET_ID, 0x90, 3, 0, 0, 0);
    REJECT(4, C, LMQ_EMAL_PACKET_ID, 0xA2, 5, 0, 0, 0, 1, 'a');
    REJECT(4, S, LMQ_EMAL_PACKET_ID, 0xB0, 2, 0, 0);
}

/* Packets a server never sends arriving at a client, and the reverse. */
static void test_packet_from_the_wrong_side_is_rejected(void)
{
    REJECT(4, S, LMQ_EMAL_DIRECTION, 0x10, 0);            /* CONNECT */
    REJECT(4, S, LMQ_EMAL_DIRECTION, 0x82, 6, 0, 1, 0, 1, 'a', 0);
    REJECT(4, S, LMQ_EMAL_DIRECTION, 0xA2, 5, 0, 1, 0, 1, 'a');
    REJECT(4, S, LMQ_EMAL_DIRECTION, 0xC0, 0);            /* PINGREQ */
    REJECT(4, C, LMQ_EMAL_DIRECTION, 0x20, 2, 0, 0);      /* CONNACK */
    REJECT(4, C, LMQ_EMAL_DIRECTION, 0x90, 3, 0, 1, 0);   /* SUBACK */
    REJECT(4, C, LMQ_EMAL_DIRECTION, 0xB0, 2, 0, 1);      /* UNSUBACK */
    REJECT(4, C, LMQ_EMAL_DIRECTION, 0xD0, 0);            /* PINGRESP */
}

/* Fixed-size packets with bytes left over. */
static void test_fixed_size_packets_with_extra_bytes_are_rejected(void)
{
    REJECT(4, C, LMQ_EMAL_TRAILING, 0xC0, 1, 0);          /* PINGREQ */
    REJECT(5, S, LMQ_EMAL_TRAILING, 0xD0, 1, 0);          /* PINGRESP */
    REJECT(4, S, LMQ_EMAL_TRAILING, 0x40, 3, 0, 1, 0);    /* PUBACK */
    REJECT(3, S, LMQ_EMAL_TRAILING, 0x50, 3, 0, 1, 0);    /* PUBREC */
    REJECT(4, S, LMQ_EMAL_TRAILING, 0x62, 4, 0, 1, 0, 0); /* PUBREL */
    REJECT(4, S, LMQ_EMAL_TRAILING, 0x70, 3, 0, 1, 0);    /* PUBCOMP */
    REJECT(4, S, LMQ_EMAL_TRAILING, 0x20, 3, 0, 0, 0);    /* CONNACK */
    REJECT(4, S, LMQ_EMAL_TRAILING, 0xE0, 1, 0);          /* DISCONNECT */
    REJECT(3, C, LMQ_EMAL_TRAILING, 0xE0, 1, 0);
    REJECT(4, S, LMQ_EMAL_TRAILING, 0xB0, 3, 0, 1, 0);    /* UNSUBACK 3.x */
    /* v5 packets with fields after the properties */
    REJECT(5, S, LMQ_EMAL_TRAILING, 0x40, 5, 0, 1, 0, 0, 0);
    REJECT(5, S, LMQ_EMAL_TRAILING, 0x20, 4, 0, 0, 0, 0);
    REJECT(5, S, LMQ_EMAL_TRAILING, 0xE0, 3, 0, 0, 0);
    /* lmq_decode takes exactly one packet */
    REJECT(4, S, LMQ_EMAL_TRAILING, 0xD0, 0, 0xD0);
}

static void test_connect_with_bytes_after_its_fields_is_rejected(void)
{
    REJECT(4, C, LMQ_EMAL_TRAILING,
           0x10, 14, 0, 4, 'M', 'Q', 'T', 'T', 4, 0x02, 0, 0, 0, 1, 'a', 'X');
}

/* A complete fixed header whose packet is cut, and fields that run past
 * the remaining length. */
static void test_truncated_packets_are_rejected(void)
{
    REJECT(4, S, LMQ_EMAL_SHORT, 0x30, 5, 0, 1, 't');     /* 3 of 5 bytes */
    REJECT(4, S, LMQ_EMAL_SHORT, 0x30);                   /* no length */
    REJECT(4, S, LMQ_EMAL_SHORT, 0x30, 0x80);             /* length cut */
    REJECT(4, S, LMQ_EMAL_SHORT, 0x20, 1, 0);             /* CONNACK */
    REJECT(4, S, LMQ_EMAL_SHORT, 0x40, 1, 0);             /* PUBACK */
    REJECT(5, S, LMQ_EMAL_SHORT, 0x40, 0);
    REJECT(4, S, LMQ_EMAL_SHORT, 0x32, 4, 0, 1, 't', 0);  /* packet id cut */
    REJECT(4, S, LMQ_EMAL_SHORT, 0x30, 1, 0);             /* topic length cut */
    REJECT(4, C, LMQ_EMAL_SHORT, 0x82, 5, 0, 1, 0, 1, 'a'); /* options missing */
    /* v5 CONNACK always carries its property length, whole */
    REJECT(5, S, LMQ_EMAL_SHORT, 0x20, 3, 0, 0, 0x81);
    REJECT(5, S, LMQ_EMAL_SHORT, 0x20, 2, 0, 0);
    /* v5 AUTH omits the property length only together with the reason */
    REJECT(5, S, LMQ_EMAL_SHORT, 0xF0, 1, 0x18);
    /* CONNECT cut after its flags */
    REJECT(4, C, LMQ_EMAL_SHORT, 0x10, 8, 0, 4, 'M', 'Q', 'T', 'T', 4, 0x02);
}

static void test_string_length_past_the_packet_is_rejected(void)
{
    REJECT(4, S, LMQ_EMAL_STRLEN, 0x30, 4, 0, 5, 'a', 'b');
    REJECT(4, C, LMQ_EMAL_STRLEN, 0x82, 6, 0, 1, 0, 9, 'a', 0);
    REJECT(4, C, LMQ_EMAL_STRLEN, 0xA2, 5, 0, 1, 0, 2, 'a');
    /* the client id claims more than is there */
    REJECT(4, C, LMQ_EMAL_STRLEN,
           0x10, 14, 0, 4, 'M', 'Q', 'T', 'T', 4, 0x02, 0, 0, 0, 3, 'a', 'b');
    /* the protocol name claims more than is there */
    REJECT(4, C, LMQ_EMAL_STRLEN, 0x10, 4, 0, 9, 'M', 'Q');
    /* the password (binary) claims more than is there */
    REJECT(4, C, LMQ_EMAL_STRLEN,
           0x10, 19, 0, 4, 'M', 'Q', 'T', 'T', 4, 0xC2, 0, 0, 0, 1, 'a',
           0, 1, 'u', 0, 4, 'p');
}

/* Properties that are UTF-8 strings are checked as the topic is: the
 * Content Type [MQTT-3.3.2-19], both halves of a User Property pair
 * [MQTT-1.5.7-1]. */
static void test_utf8_properties_are_checked(void)
{
    lmq_packet p;
    /* control: well-formed, accepted */
    CHECK_INT(DECODE(5, S, &p, 0x30, 9, 0, 1, 't', 5, 0x03, 0, 2, 'a', 'b'), 0);
    CHECK_SLICE(p.u.publish.props.content_type, "ab");
    REJECT(5, S, LMQ_EUTF8, 0x30, 9, 0, 1, 't', 5, 0x03, 0, 2, 0xC0, 0x80);
    CHECK_INT(DECODE(5, S, &p, 0x30, 11, 0, 1, 't', 7, 0x26, 0, 1, 'k', 0, 1, 'v'), 0);
    REJECT(5, S, LMQ_EUTF8, 0x30, 11, 0, 1, 't', 7, 0x26, 0, 1, 0xFF, 0, 1, 'v');
    REJECT(5, S, LMQ_EUTF8_NUL, 0x30, 11, 0, 1, 't', 7, 0x26, 0, 1, 'k', 0, 1, 0x00);
}

/* [MQTT-1.5.4-1] [MQTT-1.5.4-2] [MQTT-3.3.2-1] the topic is UTF-8. */
static void test_publish_topic_with_bad_utf8_is_rejected(void)
{
    REJECT(4, S, LMQ_EUTF8, 0x30, 4, 0, 2, 0xC0, 0x80);   /* overlong NUL */
    REJECT(4, S, LMQ_EUTF8, 0x30, 5, 0, 3, 0xED, 0xA0, 0x80); /* surrogate */
    REJECT(4, S, LMQ_EUTF8_NUL, 0x30, 4, 0, 2, 'a', 0x00);
}

/* [MQTT-3.3.2-2] no wildcards in a topic name. */
static void test_publish_topic_with_wildcard_is_rejected(void)
{
    REJECT(4, S, LMQ_ETOPIC_WILDCARD, 0x30, 5, 0, 3, 'a', '/', '+');
    REJECT(4, S, LMQ_ETOPIC_WILDCARD, 0x30, 3, 0, 1, '#');
    REJECT(5, S, LMQ_ETOPIC_WILDCARD, 0x30, 6, 0, 3, 'a', '#', 'b', 0);
}

/* [MQTT-4.7.3-1] an empty topic is only allowed in v5 with a Topic Alias
 * (section 3.3.2.3.4). */
static void test_publish_empty_topic_without_alias_is_rejected(void)
{
    REJECT(4, S, LMQ_ETOPIC_EMPTY, 0x30, 3, 0, 0, 'x');
    REJECT(3, S, LMQ_ETOPIC_EMPTY, 0x30, 2, 0, 0);
    REJECT(5, S, LMQ_ETOPIC_EMPTY, 0x30, 3, 0, 0, 0);
    REJECT(5, S, LMQ_ETOPIC_EMPTY, 0x30, 8, 0, 0, 5, 0x02, 0, 0, 0, 1);
}

/* [MQTT-3.8.3-2] [MQTT-3.10.3-2] SUBSCRIBE, UNSUBSCRIBE, SUBACK and v5
 * UNSUBACK carry at least one entry. */
static void test_empty_subscribe_and_ack_payloads_are_rejected(void)
{
    REJECT(4, C, LMQ_EMAL_EMPTY, 0x82, 2, 0, 1);
    REJECT(5, C, LMQ_EMAL_EMPTY, 0x82, 3, 0, 1, 0);
    REJECT(4, C, LMQ_EMAL_EMPTY, 0xA2, 2, 0, 1);
    REJECT(5, C, LMQ_EMAL_EMPTY, 0xA2, 3, 0, 1, 0);
    REJECT(4, S, LMQ_EMAL_EMPTY, 0x90, 2, 0, 1);
    REJECT(5, S, LMQ_EMAL_EMPTY, 0x90, 3, 0, 1, 0);
    REJECT(5, S, LMQ_EMAL_EMPTY, 0xB0, 3, 0, 1, 0);
}

static void test_empty_or_bad_topic_filter_is_rejected(void)
{
    REJECT(4, C, LMQ_ETOPIC_EMPTY, 0x82, 5, 0, 1, 0, 0, 0);
    REJECT(5, C, LMQ_ETOPIC_EMPTY, 0xA2, 5, 0, 1, 0, 0, 0);
    /* [MQTT-3.8.3-1] [MQTT-3.10.3-1] filters are UTF-8 */
    REJECT(4, C, LMQ_EUTF8, 0x82, 6, 0, 1, 0, 1, 0xFF, 0);
    REJECT(4, C, LMQ_EUTF8_NUL, 0xA2, 5, 0, 1, 0, 1, 0x00);
}

/* [MQTT-3.8.3-5] reserved option bits, QoS 3, retain handling 3; 3.x uses
 * only the QoS bits. */
static void test_bad_subscription_options_are_rejected(void)
{
    REJECT(4, C, LMQ_EMAL_SUB_OPTS, 0x82, 6, 0, 1, 0, 1, 'a', 0x03);
    REJECT(4, C, LMQ_EMAL_SUB_OPTS, 0x82, 6, 0, 1, 0, 1, 'a', 0x04);
    REJECT(3, C, LMQ_EMAL_SUB_OPTS, 0x82, 6, 0, 1, 0, 1, 'a', 0x80);
    REJECT(5, C, LMQ_EMAL_SUB_OPTS, 0x82, 7, 0, 1, 0, 0, 1, 'a', 0x03);
    REJECT(5, C, LMQ_EMAL_SUB_OPTS, 0x82, 7, 0, 1, 0, 0, 1, 'a', 0x40);
    REJECT(5, C, LMQ_EMAL_SUB_OPTS, 0x82, 7, 0, 1, 0, 0, 1, 'a', 0x80);
    REJECT(5, C, LMQ_EMAL_SUB_OPTS, 0x82, 7, 0, 1, 0, 0, 1, 'a', 0x30);
    /* the second entry is bad */
    REJECT(5, C, LMQ_EMAL_SUB_OPTS,
           0x82, 11, 0, 1, 0, 0, 1, 'a', 0x01, 0, 1, 'b', 0x31);
}

/* [MQTT-3.8.3-4] No Local on a shared subscription. */
static void test_no_local_on_shared_subscription_is_rejected(void)
{
    REJECT(5, C, LMQ_EMAL_SUB_OPTS,
           0x82, 15, 0, 1, 0, 0, 9, '$', 's', 'h', 'a', 'r', 'e', '/', 'g', '/', 0x04);
}

/* Reason codes outside each packet's table: [MQTT-3.4.2-1] [MQTT-3.5.2-1]
 * [MQTT-3.6.2-1] [MQTT-3.7.2-1] [MQTT-3.14.2-1] [MQTT-3.15.2-1]. */
static void test_reason_code_not_defined_for_the_packet_is_rejected(void)
{
    REJECT(3, S, LMQ_EMAL_REASON, 0x20, 2, 0, 6);         /* 3.x CONNACK > 5 */
    REJECT(4, S, LMQ_EMAL_REASON, 0x20, 2, 0, 0x80);
    REJECT(5, S, LMQ_EMAL_REASON, 0x20, 3, 0, 0x01, 0);   /* a 3.x code */
    REJECT(5, S, LMQ_EMAL_REASON, 0x20, 3, 0, 0x8B, 0);
    REJECT(5, S, LMQ_EMAL_REASON, 0x40, 3, 0, 1, 0x92);   /* PUBACK */
    REJECT(5, S, LMQ_EMAL_REASON, 0x50, 3, 0, 1, 0x01);   /* PUBREC */
    REJECT(5, S, LMQ_EMAL_REASON, 0x62, 3, 0, 1, 0x10);   /* PUBREL */
    REJECT(5, S, LMQ_EMAL_REASON, 0x70, 3, 0, 1, 0x80);   /* PUBCOMP */
    REJECT(4, S, LMQ_EMAL_REASON, 0x90, 3, 0, 1, 0x03);   /* 3.x SUBACK */
    REJECT(4, S, LMQ_EMAL_REASON, 0x90, 4, 0, 1, 0x00, 0x87);
    /* a SUBACK code is a granted QoS or a failure [MQTT-3.8.4-7] */
    REJECT(5, S, LMQ_EMAL_REASON, 0x90, 4, 0, 1, 0, 0x03); /* SUBACK */
    /* only the Unsubscribe Reason Codes [MQTT-3.11.3-2] */
    REJECT(5, S, LMQ_EMAL_REASON, 0xB0, 5, 0, 1, 0, 0x00, 0x10); /* UNSUBACK */
    REJECT(5, S, LMQ_EMAL_REASON, 0xE0, 1, 0x05);         /* DISCONNECT */
    REJECT(5, S, LMQ_EMAL_REASON, 0xF0, 2, 0x01, 0);      /* AUTH */
}

/* Table 3-10 / 3-13: some codes only one side sends. */
static void test_reason_code_from_the_wrong_side_is_rejected(void)
{
    REJECT(5, S, LMQ_EMAL_REASON, 0xE0, 1, 0x04);  /* with will: client only */
    REJECT(5, C, LMQ_EMAL_REASON, 0xE0, 1, 0x8B);  /* shutting down: server */
    REJECT(5, S, LMQ_EMAL_REASON, 0xF0, 2, 0x19, 0); /* re-auth: client */
    REJECT(5, C, LMQ_EMAL_REASON, 0xF0, 2, 0x00, 0); /* success: server */
}

/* [MQTT-3.2.2-1] CONNACK acknowledge flags bits 7-1 are reserved. */
static void test_connack_reserved_ack_flags_are_rejected(void)
{
    REJECT(4, S, LMQ_EMAL_ACK_FLAGS, 0x20, 2, 0x02, 0);
    REJECT(5, S, LMQ_EMAL_ACK_FLAGS, 0x20, 3, 0x80, 0, 0);
}

/* [MQTT-3.2.2-6] (3.1.1 [MQTT-3.2.2-4]) no session on a refusal. */
static void test_connack_session_present_with_failure_is_rejected(void)
{
    REJECT(4, S, LMQ_EMAL_SESSION, 0x20, 2, 0x01, 0x05);
    REJECT(5, S, LMQ_EMAL_SESSION, 0x20, 3, 0x01, 0x80, 0);
}

/* [MQTT-3.1.2-1] the protocol name goes with the level. */
static void test_connect_protocol_name_not_matching_level_is_rejected(void)
{
    REJECT(4, C, LMQ_EMAL_PROTO_NAME,
           0x10, 15, 0, 6, 'M', 'Q', 'I', 's', 'd', 'p', 4, 0x02, 0, 0, 0, 1, 'a');
    REJECT(4, C, LMQ_EMAL_PROTO_NAME,
           0x10, 13, 0, 4, 'M', 'Q', 'T', 'T', 3, 0x02, 0, 0, 0, 1, 'a');
    REJECT(4, C, LMQ_EMAL_PROTO_NAME,
           0x10, 13, 0, 4, 'M', 'Q', 'T', 'X', 4, 0x02, 0, 0, 0, 1, 'a');
}

static void test_connect_unknown_level_is_rejected(void)
{
    REJECT(4, C, LMQ_EVERSION,
           0x10, 13, 0, 4, 'M', 'Q', 'T', 'T', 6, 0x02, 0, 0, 0, 1, 'a');
    REJECT(4, C, LMQ_EVERSION,
           0x10, 13, 0, 4, 'M', 'Q', 'T', 'T', 2, 0x02, 0, 0, 0, 1, 'a');
}

static void test_level_argument_out_of_range_is_rejected(void)
{
    REJECT(6, S, LMQ_EVERSION, 0xD0, 0);
    REJECT(0, S, LMQ_EVERSION, 0xD0, 0);
}

/* Bytes always come from one side: LMQ_FROM_EITHER is the encoder's. */
static void test_direction_either_is_refused(void)
{
    REJECT(4, LMQ_FROM_EITHER, LMQ_EINVAL, 0xD0, 0);
    REJECT(4, 7, LMQ_EINVAL, 0xD0, 0);
}

/* CONNECT flags: [MQTT-3.1.2-3] reserved bit, [MQTT-3.1.2-11] will QoS and
 * [MQTT-3.1.2-13] will retain without the will flag, [MQTT-3.1.2-12] will
 * QoS 3, 3.1.1 [MQTT-3.1.2-22] password without user name. */
static void test_connect_bad_flags_are_rejected(void)
{
#define CONNECT_WITH_FLAGS(level, f)                                        \
    0x10, 13, 0, 4, 'M', 'Q', 'T', 'T', level, f, 0, 0, 0, 1, 'a'
    REJECT(4, C, LMQ_EMAL_CONN_FLAGS, CONNECT_WITH_FLAGS(4, 0x03));
    REJECT(4, C, LMQ_EMAL_CONN_FLAGS, CONNECT_WITH_FLAGS(4, 0x08));
    REJECT(4, C, LMQ_EMAL_CONN_FLAGS, CONNECT_WITH_FLAGS(4, 0x20));
    REJECT(4, C, LMQ_EMAL_CONN_FLAGS, CONNECT_WITH_FLAGS(4, 0x1C));
    REJECT(4, C, LMQ_EMAL_CONN_FLAGS, CONNECT_WITH_FLAGS(4, 0x40));
    REJECT(4, C, LMQ_EMAL_CONN_FLAGS,
           0x10, 15, 0, 6, 'M', 'Q', 'I', 's', 'd', 'p', 3, 0x42, 0, 0, 0, 1, 'a');
#undef CONNECT_WITH_FLAGS
    /* v5 allows a password without a user name (section 3.1.2.9) */
    lmq_packet p;
    CHECK_INT(DECODE(5, C, &p, 0x10, 17, 0, 4, 'M', 'Q', 'T', 'T', 5, 0x40, 0, 0,
                     0, 0, 1, 'a', 0, 1, 'p'), 0);
    CHECK(p.u.connect.username.p == NULL);
    CHECK_SLICE(p.u.connect.password, "p");
}

/* ------------------------------------------------------------- properties */

/* Unknown property identifiers (section 2.2.2.2). */
static void test_unknown_property_id_is_rejected(void)
{
    REJECT(5, S, LMQ_EMAL_PROP_ID, 0x40, 6, 0, 1, 0, 2, 0x00, 0);
    REJECT(5, S, LMQ_EMAL_PROP_ID, 0x40, 6, 0, 1, 0, 2, 0x05, 0);
    REJECT(5, S, LMQ_EMAL_PROP_ID, 0x40, 6, 0, 1, 0, 2, 0x2B, 0);
    REJECT(5, S, LMQ_EMAL_PROP_ID, 0x40, 6, 0, 1, 0, 2, 0x7F, 0);
    REJECT(5, S, LMQ_EMAL_PROP_ID, 0x40, 6, 0, 1, 0, 2, 0x81, 0x01);
    /* an identifier is a Variable Byte Integer: not minimal [MQTT-1.5.5-1] */
    REJECT(5, S, LMQ_EMAL_VARINT_LONG, 0x40, 7, 0, 1, 0, 3, 0x9F, 0x00, 0);
}

/* Table 2-4: each property only in its packets. */
static void test_property_in_the_wrong_packet_is_rejected(void)
{
    /* topic alias in CONNACK */
    REJECT(5, S, LMQ_EMAL_PROP_PACKET, 0x20, 6, 0, 0, 3, 0x23, 0, 1);
    /* reason string in PUBLISH */
    REJECT(5, S, LMQ_EMAL_PROP_PACKET, 0x30, 8, 0, 1, 't', 3, 0x1F, 0, 0, 'x');
    /* will delay in CONNECT's own properties */
    REJECT(5, C, LMQ_EMAL_PROP_PACKET,
           0x10, 19, 0, 4, 'M', 'Q', 'T', 'T', 5, 0x02, 0, 0,
           5, 0x18, 0, 0, 0, 1, 0, 1, 'a');
    /* session expiry in the will properties: LMQ_IN_WILL is separate */
    REJECT(5, C, LMQ_EMAL_PROP_PACKET,
           0x10, 25, 0, 4, 'M', 'Q', 'T', 'T', 5, 0x06, 0, 0,
           0, 0, 1, 'a', 5, 0x11, 0, 0, 0, 1, 0, 1, 'w', 0, 0);
    /* user property is the only one allowed in UNSUBSCRIBE */
    REJECT(5, C, LMQ_EMAL_PROP_PACKET, 0xA2, 7, 0, 1, 2, 0x0B, 1, 0, 1);
    /* server keep alive in AUTH */
    REJECT(5, S, LMQ_EMAL_PROP_PACKET, 0xF0, 5, 0x18, 3, 0x13, 0, 1);
}

/* [MQTT-3.3.4-6] a client's PUBLISH carries no Subscription Identifier. */
static void test_subscription_id_in_client_publish_is_rejected(void)
{
    REJECT(5, C, LMQ_EMAL_PROP_PACKET, 0x30, 6, 0, 1, 't', 2, 0x0B, 1);
    lmq_packet p;
    CHECK_INT(DECODE(5, S, &p, 0x30, 6, 0, 1, 't', 2, 0x0B, 1), 0);
    CHECK_INT(p.u.publish.props.sub_id, 1);
}

/* [MQTT-3.14.2-2] a server's DISCONNECT has no Session Expiry Interval. */
static void test_session_expiry_in_server_disconnect_is_rejected(void)
{
    REJECT(5, S, LMQ_EMAL_PROP_PACKET, 0xE0, 7, 0x00, 5, 0x11, 0, 0, 0, 0);
}

/* A property that is not repeatable appears once (section 2.2.2.2). */
static void test_property_twice_is_rejected(void)
{
    REJECT(5, S, LMQ_EMAL_PROP_TWICE,
           0x20, 13, 0, 0, 10, 0x11, 0, 0, 0, 1, 0x11, 0, 0, 0, 2);
    REJECT(5, S, LMQ_EMAL_PROP_TWICE,
           0x30, 10, 0, 1, 't', 6, 0x23, 0, 1, 0x23, 0, 1);
    /* one Subscription Identifier in SUBSCRIBE (section 3.8.2.1.2) */
    REJECT(5, C, LMQ_EMAL_PROP_TWICE,
           0x82, 11, 0, 1, 4, 0x0B, 1, 0x0B, 2, 0, 1, 'a', 0);
    /* several user properties are fine */
    lmq_packet p;
    CHECK_INT(DECODE(5, S, &p, 0x40, 15, 0, 1, 0, 11,
                     0x26, 0, 0, 0, 0, 0x26, 0, 1, 'a', 0, 0), 0);
    CHECK_INT(p.u.ack.props.n_user, 2);
}

/* Values out of range. */
static void test_property_values_out_of_range_are_rejected(void)
{
    /* payload format indicator 2 */
    REJECT(5, S, LMQ_EMAL_PROP_VALUE, 0x30, 6, 0, 1, 't', 2, 0x01, 2);
    /* [MQTT-3.3.2-8] topic alias 0 */
    REJECT(5, S, LMQ_EMAL_PROP_VALUE, 0x30, 7, 0, 1, 't', 3, 0x23, 0, 0);
    /* subscription identifier 0, in PUBLISH and in SUBSCRIBE */
    REJECT(5, S, LMQ_EMAL_PROP_VALUE, 0x30, 6, 0, 1, 't', 2, 0x0B, 0);
    REJECT(5, C, LMQ_EMAL_PROP_VALUE, 0x82, 9, 0, 1, 2, 0x0B, 0, 0, 1, 'a', 0);
    /* CONNACK: receive maximum 0, maximum packet size 0, maximum QoS 2,
     * the four "available" flags 2 */
    REJECT(5, S, LMQ_EMAL_PROP_VALUE, 0x20, 6, 0, 0, 3, 0x21, 0, 0);
    REJECT(5, S, LMQ_EMAL_PROP_VALUE, 0x20, 8, 0, 0, 5, 0x27, 0, 0, 0, 0);
    REJECT(5, S, LMQ_EMAL_PROP_VALUE, 0x20, 5, 0, 0, 2, 0x24, 2);
    REJECT(5, S, LMQ_EMAL_PROP_VALUE, 0x20, 5, 0, 0, 2, 0x25, 2);
    REJECT(5, S, LMQ_EMAL_PROP_VALUE, 0x20, 5, 0, 0, 2, 0x28, 2);
    REJECT(5, S, LMQ_EMAL_PROP_VALUE, 0x20, 5, 0, 0, 2, 0x29, 2);
    REJECT(5, S, LMQ_EMAL_PROP_VALUE, 0x20, 5, 0, 0, 2, 0x2A, 0xFF);
    /* CONNECT: request problem / response information 2, receive max 0 */
#define CONNECT_WITH_PROP(n, ...)                                          \
    0x10, 14 + n, 0, 4, 'M', 'Q', 'T', 'T', 5, 0x02, 0, 0, n, __VA_ARGS__, 0, 1, 'a'
    REJECT(5, C, LMQ_EMAL_PROP_VALUE, CONNECT_WITH_PROP(2, 0x17, 2));
    REJECT(5, C, LMQ_EMAL_PROP_VALUE, CONNECT_WITH_PROP(2, 0x19, 2));
    REJECT(5, C, LMQ_EMAL_PROP_VALUE, CONNECT_WITH_PROP(3, 0x21, 0, 0));
    REJECT(5, C, LMQ_EMAL_PROP_VALUE, CONNECT_WITH_PROP(5, 0x27, 0, 0, 0, 0));
#undef CONNECT_WITH_PROP
    /* will payload format 2 */
    REJECT(5, C, LMQ_EMAL_PROP_VALUE,
           0x10, 22, 0, 4, 'M', 'Q', 'T', 'T', 5, 0x06, 0, 0,
           0, 0, 1, 'a', 2, 0x01, 2, 0, 1, 'w', 0, 0);
}

/* The property length runs past the packet, or a value past the block. */
static void test_property_length_past_the_packet_is_rejected(void)
{
    REJECT(5, S, LMQ_EMAL_PROP_LEN, 0x40, 4, 0, 1, 0, 1);
    REJECT(5, S, LMQ_EMAL_PROP_LEN, 0x30, 6, 0, 1, 't', 9, 0x01, 1);
    /* a four-byte value cut by the block's end */
    REJECT(5, S, LMQ_EMAL_PROP_LEN, 0x20, 6, 0, 0, 3, 0x11, 0, 0);
    /* a two-byte value cut by the block's end, the packet going on */
    REJECT(5, S, LMQ_EMAL_PROP_LEN, 0x30, 8, 0, 1, 't', 2, 0x23, 0, 1, 'x');
    /* a string's length past the block is a string length error */
    REJECT(5, S, LMQ_EMAL_STRLEN, 0x40, 8, 0, 1, 0, 4, 0x1F, 0, 5, 'a');
    /* a property length that is not minimal [MQTT-1.5.5-1] */
    REJECT(5, S, LMQ_EMAL_VARINT_LONG, 0x40, 5, 0, 1, 0, 0x80, 0x00);
}

/* [MQTT-1.5.4-1] [MQTT-1.5.4-2] UTF-8 properties, User Property key and
 * value both. */
static void test_property_strings_with_bad_utf8_are_rejected(void)
{
    REJECT(5, S, LMQ_EUTF8, 0x40, 8, 0, 1, 0, 4, 0x1F, 0, 1, 0xFF);
    REJECT(5, S, LMQ_EUTF8_NUL, 0x40, 8, 0, 1, 0, 4, 0x1F, 0, 1, 0x00);
    REJECT(5, S, LMQ_EUTF8, 0x40, 11, 0, 1, 0, 7, 0x26, 0, 1, 0xC1, 0, 1, 'v');
    REJECT(5, S, LMQ_EUTF8_NUL, 0x40, 11, 0, 1, 0, 7, 0x26, 0, 1, 'k', 0, 1, 0x00);
    REJECT(5, S, LMQ_EUTF8, 0x30, 9, 0, 1, 't', 5, 0x03, 0, 2, 0xE0, 0x80);
}

/* Binary data is not UTF-8 and is not checked as such. */
static void test_binary_properties_are_not_checked_as_utf8(void)
{
    lmq_packet p;
    CHECK_INT(DECODE(5, S, &p, 0x30, 9, 0, 1, 't', 5, 0x09, 0, 2, 0x00, 0xFF), 0);
    CHECK_SLICE(p.u.publish.props.correlation_data, "\x00\xFF");
}

/* [MQTT-3.3.2-14] the Response Topic is a topic name: no wildcards. */
static void test_response_topic_with_wildcard_is_rejected(void)
{
    REJECT(5, S, LMQ_ETOPIC_WILDCARD, 0x30, 10, 0, 1, 't', 6, 0x08, 0, 3, 'a', '/', '+');
}

/* [MQTT-3.3.2-13] [MQTT-4.7.3-1] the Response Topic is a topic name, so
 * it is at least one character long: in PUBLISH and in the will. */
static void test_empty_response_topic_is_rejected(void)
{
    REJECT(5, S, LMQ_ETOPIC_EMPTY, 0x30, 7, 0, 1, 'a', 3, 0x08, 0, 0);
    REJECT(5, C, LMQ_ETOPIC_EMPTY, 0x30, 7, 0, 1, 'a', 3, 0x08, 0, 0);
    REJECT(5, C, LMQ_ETOPIC_EMPTY,
           0x10, 23, 0, 4, 'M', 'Q', 'T', 'T', 5, 0x06, 0, 0,
           0, 0, 1, 'a', 3, 0x08, 0, 0, 0, 1, 'w', 0, 0);
    /* one character is enough */
    lmq_packet p;
    CHECK_INT(DECODE(5, S, &p, 0x30, 8, 0, 1, 'a', 4, 0x08, 0, 1, 'r'), 0);
    CHECK_SLICE(p.u.publish.props.response_topic, "r");
}

/* MQTT 3.1's CONNACK has no acknowledge flags: the first byte is reserved
 * and unused.  It is ignored (the encoder writes 0 and refuses a session
 * present flag at level 3), so no session is ever reported at level 3;
 * 3.1.1 keeps [MQTT-3.2.2-1] and [MQTT-3.2.2-4]. */
static void test_connack_31_first_byte_is_ignored(void)
{
    lmq_packet p;
    CHECK_INT(DECODE(3, S, &p, 0x20, 2, 0x01, 0x00), 0);
    CHECK_INT(p.u.connack.session_present, 0);
    CHECK_INT(DECODE(3, S, &p, 0x20, 2, 0xFF, 0x00), 0);
    CHECK_INT(p.u.connack.session_present, 0);
    CHECK_INT(DECODE(3, S, &p, 0x20, 2, 0x01, 0x05), 0);
    CHECK_INT(p.u.connack.session_present, 0);
    CHECK_INT(p.u.connack.reason, 5);
    REJECT(4, S, LMQ_EMAL_ACK_FLAGS, 0x20, 2, 0xFF, 0x00);
    REJECT(4, S, LMQ_EMAL_SESSION, 0x20, 2, 0x01, 0x05);
}

/* [MQTT-3.1.3-11] the Will Topic is a topic name: not empty
 * [MQTT-4.7.3-1], no wildcard [MQTT-3.3.2-2], at every level. */
static void test_will_topic_must_be_a_topic_name(void)
{
    REJECT(4, C, LMQ_ETOPIC_EMPTY,
           0x10, 18, 0, 4, 'M', 'Q', 'T', 'T', 4, 0x06, 0, 60,
           0, 1, 'c', 0, 0, 0, 1, 'x');
    REJECT(4, C, LMQ_ETOPIC_WILDCARD,
           0x10, 21, 0, 4, 'M', 'Q', 'T', 'T', 4, 0x06, 0, 60,
           0, 1, 'c', 0, 3, 'a', '/', '#', 0, 1, 'x');
    REJECT(3, C, LMQ_ETOPIC_WILDCARD,
           0x10, 21, 0, 6, 'M', 'Q', 'I', 's', 'd', 'p', 3, 0x06, 0, 60,
           0, 1, 'c', 0, 1, '#', 0, 1, 'x');
    REJECT(5, C, LMQ_ETOPIC_WILDCARD,
           0x10, 23, 0, 4, 'M', 'Q', 'T', 'T', 5, 0x06, 0, 60, 0,
           0, 1, 'c', 0, 0, 3, 'a', '/', '+', 0, 1, 'x');
    lmq_packet p;
    CHECK_INT(DECODE(4, C, &p, 0x10, 21, 0, 4, 'M', 'Q', 'T', 'T', 4, 0x06, 0, 60,
                     0, 1, 'c', 0, 3, 'a', '/', 'b', 0, 1, 'x'), 0);
    CHECK_SLICE(p.u.connect.will_topic, "a/b");
}

/* Table 3-13: AUTH Success (0x00) only comes from a server, and the short
 * form (remaining length 0, section 3.15.2.1) means just that, so it gets
 * the same check as a written 0x00. */
static void test_auth_short_form_from_a_client_is_rejected(void)
{
    REJECT(5, C, LMQ_EMAL_REASON, 0xF0, 0);
    REJECT(5, C, LMQ_EMAL_REASON, 0xF0, 2, 0x00, 0);
    lmq_packet p;
    CHECK_INT(DECODE(5, S, &p, 0xF0, 0), 0);
    /* a DISCONNECT's 0x00 is either side's */
    CHECK_INT(DECODE(5, C, &p, 0xE0, 0), 0);
    CHECK_INT(DECODE(5, S, &p, 0xE0, 0), 0);
}

/* Authentication Data without an Authentication Method is a Protocol Error
 * (3.1.2.11.10 in CONNECT, 3.2.2.3.18 in CONNACK, 3.15.2.2.3 in AUTH). */
static void test_auth_data_without_auth_method_is_rejected(void)
{
    REJECT(5, S, LMQ_EMAL_PROP_VALUE, 0x20, 7, 0, 0, 4, 0x16, 0, 1, 'z');
    REJECT(5, C, LMQ_EMAL_PROP_VALUE,
           0x10, 18, 0, 4, 'M', 'Q', 'T', 'T', 5, 0x02, 0, 0,
           4, 0x16, 0, 1, 'z', 0, 1, 'a');
    REJECT(5, C, LMQ_EMAL_PROP_VALUE, 0xF0, 6, 0x18, 4, 0x16, 0, 1, 'z');
    REJECT(5, S, LMQ_EMAL_PROP_VALUE, 0xF0, 6, 0x18, 4, 0x16, 0, 1, 'z');
    /* the method alone, or both, are fine */
    lmq_packet p;
    CHECK_INT(DECODE(5, S, &p, 0x20, 7, 0, 0, 4, 0x15, 0, 1, 'm'), 0);
    CHECK_INT(DECODE(5, S, &p, 0x20, 11, 0, 0, 8, 0x15, 0, 1, 'm', 0x16, 0, 1, 'z'), 0);
    CHECK_SLICE(p.u.connack.props.auth_data, "z");
}

/* MQTT 3.1 gave PUBREL, SUBSCRIBE and UNSUBSCRIBE a QoS 1 fixed header
 * with a DUP flag a peer sets when it sends one again: 1010 is accepted
 * beside 0010 at level 3.  3.1.1 and 5.0 allow only 0010 [MQTT-2.1.3-1]
 * [MQTT-3.6.1-1] [MQTT-3.8.1-1] [MQTT-3.10.1-1]. */
static void test_31_pubrel_subscribe_unsubscribe_may_carry_dup(void)
{
    lmq_packet p;
    CHECK_INT(DECODE(3, S, &p, 0x6A, 2, 0, 1), 0);
    CHECK_INT(p.type, LMQ_PUBREL);
    CHECK_INT(p.u.ack.packet_id, 1);
    CHECK_INT(DECODE(3, C, &p, 0x6A, 2, 0, 1), 0);
    CHECK_INT(DECODE(3, C, &p, 0x8A, 6, 0, 1, 0, 1, 'a', 0), 0);
    CHECK_INT(p.u.subscribe.count, 1);
    CHECK_INT(DECODE(3, C, &p, 0xAA, 5, 0, 1, 0, 1, 'a'), 0);
    CHECK_INT(p.u.subscribe.count, 1);
    for (uint8_t level = 4; level <= 5; level++) {
        REJECT(level, S, LMQ_EMAL_FLAGS, 0x6A, 2, 0, 1);
        REJECT(level, C, LMQ_EMAL_FLAGS, 0xAA, 5, 0, 1, 0, 1, 'a');
    }
    REJECT(4, C, LMQ_EMAL_FLAGS, 0x8A, 6, 0, 1, 0, 1, 'a', 0);
    REJECT(5, C, LMQ_EMAL_FLAGS, 0x8A, 7, 0, 1, 0, 0, 1, 'a', 0);
    /* only DUP is new: other nibbles stay wrong at 3.1 too */
    REJECT(3, S, LMQ_EMAL_FLAGS, 0x68, 2, 0, 1);
    REJECT(3, S, LMQ_EMAL_FLAGS, 0x6B, 2, 0, 1);
    REJECT(3, S, LMQ_EMAL_FLAGS, 0x6E, 2, 0, 1);
    REJECT(3, S, LMQ_EMAL_FLAGS, 0x48, 2, 0, 1);     /* PUBACK never had one */
    /* the incremental decoder judges the first byte the same way */
    lmq_decoder d;
    lmq_decoder_init(&d, 3, S, 0);
    CHECK_INT(lmq_decoder_feed(&d, BYTES(0x6A, 2, 0, 7)), 0);
    CHECK_INT(lmq_decoder_next(&d, &p), 1);
    CHECK_INT(p.u.ack.packet_id, 7);
    lmq_decoder_free(&d);
}

/* ---------------------------------------------------- incremental decoder */

/* Several packets of one v5 session, back to back. */
static const uint8_t *const stream_parts[] = {
    v5_connack, v5_publish, v5_puback_short, v5_suback, v5_publish_alias,
    v5_unsuback, pingresp, v5_pubrel_props, v5_disconnect_props,
};
static const size_t stream_sizes[] = {
    sizeof v5_connack, sizeof v5_publish, sizeof v5_puback_short,
    sizeof v5_suback, sizeof v5_publish_alias, sizeof v5_unsuback,
    sizeof pingresp, sizeof v5_pubrel_props, sizeof v5_disconnect_props,
};
#define N_STREAM (sizeof stream_sizes / sizeof stream_sizes[0])

static size_t build_stream(uint8_t *out)
{
    size_t n = 0;
    for (size_t k = 0; k < N_STREAM; k++) {
        memcpy(out + n, stream_parts[k], stream_sizes[k]);
        n += stream_sizes[k];
    }
    return n;
}

/* What a test remembers of a decoded packet: its type and its bytes
 * re-read through lmq_decode (slices die with the decoder's buffer). */
typedef struct seen {
    uint8_t type;
    uint16_t id;
    uint32_t payload_n;
    uint32_t props_n;
} seen;

/* Field by field: padding need not survive a struct returned by value
 * (at -O3 it does not), so no memcmp. */
static int same_seen(const seen *a, const seen *b)
{
    return a->type == b->type && a->id == b->id && a->payload_n == b->payload_n &&
           a->props_n == b->props_n;
}

static seen remember(const lmq_packet *p)
{
    seen s;
    memset(&s, 0, sizeof s);
    s.type = p->type;
    switch (p->type) {
    case LMQ_PUBLISH:
        s.id = p->u.publish.packet_id;
        s.payload_n = p->u.publish.payload.n;
        s.props_n = p->u.publish.props.raw.n;
        break;
    case LMQ_PUBACK: case LMQ_PUBREL:
        s.id = p->u.ack.packet_id;
        s.props_n = p->u.ack.props.raw.n;
        break;
    case LMQ_SUBACK: case LMQ_UNSUBACK:
        s.id = p->u.suback.packet_id;
        s.payload_n = p->u.suback.reasons.n;
        break;
    case LMQ_CONNACK:
        s.props_n = p->u.connack.props.raw.n;
        break;
    case LMQ_DISCONNECT:
        s.props_n = p->u.disconnect.props.raw.n;
        break;
    default:
        break;
    }
    return s;
}

static void test_stream_one_byte_at_a_time_equals_whole(void)
{
    uint8_t stream[512];
    size_t n = build_stream(stream);
    seen whole[N_STREAM], bytewise[N_STREAM], spaced[N_STREAM];
    size_t n_whole = 0, n_bytewise = 0, n_spaced = 0;
    lmq_decoder d;
    lmq_packet p;
    int rc;

    lmq_decoder_init(&d, 5, S, 0);
    CHECK_INT(lmq_decoder_feed(&d, stream, n), 0);
    while ((rc = lmq_decoder_next(&d, &p)) == 1 && n_whole < N_STREAM)
        whole[n_whole++] = remember(&p);
    CHECK_INT(rc, 0);
    lmq_decoder_free(&d);

    lmq_decoder_init(&d, 5, S, 0);
    for (size_t k = 0; k < n; k++) {
        CHECK_INT(lmq_decoder_feed(&d, stream + k, 1), 0);
        while ((rc = lmq_decoder_next(&d, &p)) == 1 && n_bytewise < N_STREAM)
            bytewise[n_bytewise++] = remember(&p);
        CHECK_INT(rc, 0);
    }
    lmq_decoder_free(&d);

    /* the same through space/commit, three bytes at a time */
    lmq_decoder_init(&d, 5, S, 0);
    for (size_t k = 0; k < n; k += 3) {
        uint8_t *room;
        size_t take = n - k < 3 ? n - k : 3;
        CHECK(lmq_decoder_space(&d, take, &room) >= (int)take);
        memcpy(room, stream + k, take);
        lmq_decoder_commit(&d, take);
        while ((rc = lmq_decoder_next(&d, &p)) == 1 && n_spaced < N_STREAM)
            spaced[n_spaced++] = remember(&p);
        CHECK_INT(rc, 0);
    }
    lmq_decoder_free(&d);

    CHECK_INT(n_whole, N_STREAM);
    CHECK_INT(n_bytewise, N_STREAM);
    CHECK_INT(n_spaced, N_STREAM);
    for (size_t k = 0; k < N_STREAM; k++) {
        CHECK_INT(whole[k].type, stream_parts[k][0] >> 4);
        CHECK(same_seen(&whole[k], &bytewise[k]));
        CHECK(same_seen(&whole[k], &spaced[k]));
    }
}

/* The packet from next() points into the decoder's buffer and has the same
 * fields as lmq_decode gives on its own bytes. */
static void test_decoder_packet_matches_lmq_decode(void)
{
    lmq_decoder d;
    lmq_packet a, b;
    lmq_decoder_init(&d, 5, S, 0);
    CHECK_INT(lmq_decoder_feed(&d, v5_publish, sizeof v5_publish), 0);
    CHECK_INT(lmq_decoder_next(&d, &a), 1);
    CHECK_INT(decode_copy(5, S, v5_publish, sizeof v5_publish, &b), 0);
    CHECK(a.u.publish.topic.p >= d.buf && a.u.publish.topic.p < d.buf + d.cap);
    CHECK_INT(a.u.publish.packet_id, b.u.publish.packet_id);
    CHECK_INT(a.u.publish.props.present, b.u.publish.props.present);
    CHECK_INT(a.u.publish.props.n_sub_id, 2);
    CHECK_SLICE(a.u.publish.payload, "p");
    CHECK_INT(lmq_decoder_next(&d, &a), 0);
    lmq_decoder_free(&d);
}

/* A remaining length over max_packet fails as soon as the fixed header is
 * in, before the body arrives; max_packet counts the whole packet. */
static void test_decoder_rejects_too_large_before_the_body(void)
{
    lmq_decoder d;
    lmq_packet p;
    lmq_decoder_init(&d, 5, S, 1000);
    CHECK_INT(lmq_decoder_feed(&d, BYTES(0x30, 0xA0, 0x8D)), 0);
    CHECK_INT(lmq_decoder_next(&d, &p), 0);         /* length not complete */
    CHECK_INT(lmq_decoder_feed(&d, BYTES(0x06)), 0); /* remaining 100000 */
    CHECK_INT(lmq_decoder_next(&d, &p), LMQ_EMAL_TOO_LARGE);
    CHECK(d.cap < 100000);                          /* no room was made */
    lmq_decoder_free(&d);

    /* 2 + 98 = 100 bytes is allowed, 2 + 99 is not */
    lmq_decoder_init(&d, 5, S, 100);
    CHECK_INT(lmq_decoder_feed(&d, BYTES(0x30, 98)), 0);
    CHECK_INT(lmq_decoder_next(&d, &p), 0);
    lmq_decoder_free(&d);
    lmq_decoder_init(&d, 5, S, 100);
    CHECK_INT(lmq_decoder_feed(&d, BYTES(0x30, 99)), 0);
    CHECK_INT(lmq_decoder_next(&d, &p), LMQ_EMAL_TOO_LARGE);
    lmq_decoder_free(&d);
}

/* The first byte is judged before the rest arrives. */
static void test_decoder_rejects_a_bad_first_byte_at_once(void)
{
    lmq_decoder d;
    lmq_packet p;
    lmq_decoder_init(&d, 4, S, 0);
    CHECK_INT(lmq_decoder_feed(&d, BYTES(0x10)), 0);   /* CONNECT */
    CHECK_INT(lmq_decoder_next(&d, &p), LMQ_EMAL_DIRECTION);
    lmq_decoder_free(&d);
}

/* After an error every call repeats it. */
static void test_decoder_error_is_sticky(void)
{
    lmq_decoder d;
    lmq_packet p;
    uint8_t *room;
    lmq_decoder_init(&d, 4, S, 0);
    CHECK_INT(lmq_decoder_feed(&d, BYTES(0xD0, 0x80, 0x00, 0xD0, 0x00)), 0);
    CHECK_INT(lmq_decoder_next(&d, &p), LMQ_EMAL_VARINT_LONG);
    CHECK_INT(lmq_decoder_next(&d, &p), LMQ_EMAL_VARINT_LONG);
    CHECK_INT(lmq_decoder_feed(&d, pingresp, sizeof pingresp), LMQ_EMAL_VARINT_LONG);
    CHECK_INT(lmq_decoder_space(&d, 10, &room), LMQ_EMAL_VARINT_LONG);
    CHECK_INT(lmq_decoder_next(&d, &p), LMQ_EMAL_VARINT_LONG);
    lmq_decoder_free(&d);
}

/* A body error found by lmq_decode also breaks the stream. */
static void test_decoder_body_error_is_reported_and_sticky(void)
{
    lmq_decoder d;
    lmq_packet p;
    lmq_decoder_init(&d, 4, S, 0);
    CHECK_INT(lmq_decoder_feed(&d, BYTES(0xD0, 0x00, 0x40, 0x02, 0x00, 0x00, 0xD0, 0x00)), 0);
    CHECK_INT(lmq_decoder_next(&d, &p), 1);
    CHECK_INT(p.type, LMQ_PINGRESP);
    CHECK_INT(lmq_decoder_next(&d, &p), LMQ_EMAL_PACKET_ID);
    CHECK_INT(lmq_decoder_next(&d, &p), LMQ_EMAL_PACKET_ID);
    lmq_decoder_free(&d);
}

/* Consumed bytes are moved out of the way instead of growing the buffer. */
static void test_decoder_reuses_its_buffer(void)
{
    lmq_decoder d;
    lmq_packet p;
    lmq_decoder_init(&d, 5, S, 0);
    CHECK_INT(lmq_decoder_feed(&d, v5_puback_reason, 1), 0);
    size_t cap = d.cap;
    CHECK(cap > 0);
    /* 10000 packets, each split across two feeds so a partial one is
     * always left to move down */
    for (int k = 0; k < 10000; k++) {
        CHECK_INT(lmq_decoder_feed(&d, v5_puback_reason + 1, sizeof v5_puback_reason - 1), 0);
        CHECK_INT(lmq_decoder_feed(&d, v5_puback_reason, 1), 0);
        CHECK_INT(lmq_decoder_next(&d, &p), 1);
        CHECK_INT(p.u.ack.reason, 0x10);
        CHECK_INT(lmq_decoder_next(&d, &p), 0);
    }
    CHECK_INT(d.cap, cap);
    lmq_decoder_free(&d);
}

/* A large packet grows the buffer; it arrives whole and exact. */
static void test_decoder_grows_for_a_large_packet(void)
{
    enum { PAYLOAD = 100000 };
    size_t n = 4 + 3 + PAYLOAD;
    uint8_t *big = malloc(n);
    big[0] = 0x30;
    /* remaining 3 + 100000 = 100003 = 0x186A3: A3 8D 06 */
    big[1] = 0xA3; big[2] = 0x8D; big[3] = 0x06;
    big[4] = 0; big[5] = 1; big[6] = 't';
    for (size_t k = 0; k < PAYLOAD; k++)
        big[7 + k] = (uint8_t)k;
    lmq_decoder d;
    lmq_packet p;
    lmq_decoder_init(&d, 4, S, 0);
    for (size_t k = 0; k < n; k += 4096) {
        size_t take = n - k < 4096 ? n - k : 4096;
        CHECK_INT(lmq_decoder_feed(&d, big + k, take), 0);
        int rc = lmq_decoder_next(&d, &p);
        CHECK_INT(rc, k + take == n ? 1 : 0);
    }
    CHECK_INT(p.u.publish.payload.n, PAYLOAD);
    CHECK_MEM(p.u.publish.payload.p, big + 7, PAYLOAD);
    CHECK(d.cap >= n && d.cap < 4 * n);
    lmq_decoder_free(&d);
    free(big);
}

/* ------------------------------------------------ never past the buffer */

static int inside(lmq_slice s, const uint8_t *b, size_t n)
{
    if (!s.p)
        return s.n == 0;
    return s.p >= b && s.n <= n && (size_t)(s.p - b) <= n - s.n;
}

static int props_inside(const lmq_props *pr, const uint8_t *b, size_t n)
{
    const lmq_slice *all[] = {
        &pr->content_type, &pr->response_topic, &pr->correlation_data,
        &pr->assigned_client_id, &pr->auth_method, &pr->auth_data,
        &pr->response_info, &pr->server_reference, &pr->reason_string, &pr->raw,
    };
    for (size_t k = 0; k < sizeof all / sizeof all[0]; k++)
        if (!inside(*all[k], b, n))
            return 0;
    return 1;
}

static int packet_inside(const lmq_packet *p, const uint8_t *b, size_t n)
{
    switch (p->type) {
    case LMQ_CONNECT: {
        const lmq_connect *c = &p->u.connect;
        return inside(c->client_id, b, n) && inside(c->username, b, n) &&
               inside(c->password, b, n) && inside(c->will_topic, b, n) &&
               inside(c->will_payload, b, n) && props_inside(&c->props, b, n) &&
               props_inside(&c->will_props, b, n);
    }
    case LMQ_CONNACK:
        return props_inside(&p->u.connack.props, b, n);
    case LMQ_PUBLISH:
        return inside(p->u.publish.topic, b, n) &&
               inside(p->u.publish.payload, b, n) &&
               props_inside(&p->u.publish.props, b, n);
    case LMQ_SUBSCRIBE: case LMQ_UNSUBSCRIBE:
        return inside(p->u.subscribe.list, b, n) &&
               props_inside(&p->u.subscribe.props, b, n);
    case LMQ_SUBACK: case LMQ_UNSUBACK:
        return inside(p->u.suback.reasons, b, n) &&
               props_inside(&p->u.suback.props, b, n);
    case LMQ_DISCONNECT: case LMQ_AUTH:
        return props_inside(&p->u.disconnect.props, b, n);
    default:
        return props_inside(&p->u.ack.props, b, n);
    }
}

/* Every valid vector cut short at every length fails (the sanitizer build
 * catches any read past the copy), and with every byte changed to a few
 * values either fails or decodes to slices inside the buffer. */
static void test_cut_and_mutated_vectors_stay_inside_the_buffer(void)
{
    static const uint8_t subst[] = { 0x00, 0x01, 0x7F, 0x80, 0xFF };
    for (size_t k = 0; k < sizeof valid / sizeof valid[0]; k++) {
        const vec *v = &valid[k];
        lmq_packet p;
        for (size_t len = 0; len < v->n; len++)
            CHECK(decode_copy(v->level, v->dir, v->b, len, &p) < 0);
        uint8_t *m = malloc(v->n);
        for (size_t at = 0; at < v->n; at++) {
            for (size_t s = 0; s < sizeof subst; s++) {
                memcpy(m, v->b, v->n);
                m[at] = subst[s];
                int rc = decode_copy(v->level, v->dir, m, v->n, &p);
                CHECK(rc <= 0);
                if (rc == 0)
                    CHECK(packet_inside(&p, held, v->n));
            }
        }
        free(m);
    }
}

int main(void)
{
    RUN(test_every_valid_vector_decodes);
    RUN(test_connect_31_fields);
    RUN(test_connect_311_fields_with_will);
    RUN(test_connect_5_fields_and_properties);
    RUN(test_connack_3x_fields);
    RUN(test_connack_5_fields_and_properties);
    RUN(test_publish_3x_fields);
    RUN(test_publish_5_fields_and_properties);
    RUN(test_publish_5_empty_topic_with_alias_is_accepted);
    RUN(test_acks_3x_fields);
    RUN(test_acks_5_short_forms_and_properties);
    RUN(test_subscribe_3x_fields_and_walk);
    RUN(test_subscribe_5_fields_and_walk);
    RUN(test_suback_fields);
    RUN(test_unsubscribe_fields_and_walk);
    RUN(test_unsuback_has_reasons_only_at_5);
    RUN(test_ping_and_disconnect_at_every_level);
    RUN(test_disconnect_5_forms);
    RUN(test_auth_5_forms);
    RUN(test_props_next_walks_every_property_in_order);
    RUN(test_props_next_on_absent_block_is_empty);

    RUN(test_remaining_length_over_4_bytes_is_rejected);
    RUN(test_remaining_length_not_minimal_is_rejected);
    RUN(test_decode_header_reports_size_and_needs_more);
    RUN(test_reserved_packet_type_0_is_rejected);
    RUN(test_type_15_before_5_is_rejected);
    RUN(test_reserved_fixed_header_flags_are_rejected);
    RUN(test_utf8_properties_are_checked);
    RUN(test_publish_qos_3_is_rejected);
    RUN(test_publish_dup_with_qos_0_is_rejected);
    RUN(test_packet_id_0_is_rejected);
    RUN(test_packet_from_the_wrong_side_is_rejected);
    RUN(test_fixed_size_packets_with_extra_bytes_are_rejected);
    RUN(test_connect_with_bytes_after_its_fields_is_rejected);
    RUN(test_truncated_packets_are_rejected);
    RUN(test_string_length_past_the_packet_is_rejected);
    RUN(test_publish_topic_with_bad_utf8_is_rejected);
    RUN(test_publish_topic_with_wildcard_is_rejected);
    RUN(test_publish_empty_topic_without_alias_is_rejected);
    RUN(test_empty_subscribe_and_ack_payloads_are_rejected);
    RUN(test_empty_or_bad_topic_filter_is_rejected);
    RUN(test_bad_subscription_options_are_rejected);
    RUN(test_no_local_on_shared_subscription_is_rejected);
    RUN(test_reason_code_not_defined_for_the_packet_is_rejected);
    RUN(test_reason_code_from_the_wrong_side_is_rejected);
    RUN(test_connack_reserved_ack_flags_are_rejected);
    RUN(test_connack_session_present_with_failure_is_rejected);
    RUN(test_connect_protocol_name_not_matching_level_is_rejected);
    RUN(test_connect_unknown_level_is_rejected);
    RUN(test_level_argument_out_of_range_is_rejected);
    RUN(test_direction_either_is_refused);
    RUN(test_connect_bad_flags_are_rejected);

    RUN(test_unknown_property_id_is_rejected);
    RUN(test_property_in_the_wrong_packet_is_rejected);
    RUN(test_subscription_id_in_client_publish_is_rejected);
    RUN(test_session_expiry_in_server_disconnect_is_rejected);
    RUN(test_property_twice_is_rejected);
    RUN(test_property_values_out_of_range_are_rejected);
    RUN(test_property_length_past_the_packet_is_rejected);
    RUN(test_property_strings_with_bad_utf8_are_rejected);
    RUN(test_binary_properties_are_not_checked_as_utf8);
    RUN(test_response_topic_with_wildcard_is_rejected);
    RUN(test_empty_response_topic_is_rejected);
    RUN(test_connack_31_first_byte_is_ignored);
    RUN(test_will_topic_must_be_a_topic_name);
    RUN(test_auth_short_form_from_a_client_is_rejected);
    RUN(test_auth_data_without_auth_method_is_rejected);
    RUN(test_31_pubrel_subscribe_unsubscribe_may_carry_dup);

    RUN(test_stream_one_byte_at_a_time_equals_whole);
    RUN(test_decoder_packet_matches_lmq_decode);
    RUN(test_decoder_rejects_too_large_before_the_body);
    RUN(test_decoder_rejects_a_bad_first_byte_at_once);
    RUN(test_decoder_error_is_sticky);
    RUN(test_decoder_body_error_is_reported_and_sticky);
    RUN(test_decoder_reuses_its_buffer);
    RUN(test_decoder_grows_for_a_large_packet);
    RUN(test_cut_and_mutated_vectors_stay_inside_the_buffer);

    free(held);
    return check_done();
}
