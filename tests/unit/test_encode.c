/*
 * test_encode - the encoder against byte vectors worked out by hand from
 * the MQTT 3.1, 3.1.1 and 5.0 specifications, and every refusal it makes.
 *
 * Each expected packet is spelled out field by field; a property's bytes
 * are its identifier then its value (sections 2.2.2.2 and 1.5).
 */
#include <stdlib.h>

#include "check.h"
#include "codec/codec.h"

#define S(lit) ((lmq_slice){ (const uint8_t *)(lit), (uint32_t)(sizeof(lit) - 1) })
#define BYTES(arr) ((lmq_slice){ (arr), (uint32_t)sizeof(arr) })

static void dump(const char *what, const uint8_t *p, size_t n)
{
    fprintf(stderr, "  %s:", what);
    for (size_t i = 0; i < n; i++)
        fprintf(stderr, " %02X", p[i]);
    fprintf(stderr, "\n");
}

/* Size, bytes, and the exact-fit buffer must all agree with `want`. */
static void expect_at(int line, const lmq_packet *pkt, uint8_t level,
                      const uint8_t *want, size_t n)
{
    uint8_t buf[512];
    memset(buf, 0xA5, sizeof buf);
    int64_t size = lmq_encode_size(pkt, level);
    int64_t got = lmq_encode(pkt, level, buf, sizeof buf);
    if (size != (int64_t)n || got != (int64_t)n || memcmp(buf, want, n) != 0) {
        fprintf(stderr, "line %d: size %lld, encoded %lld, expected %zu\n",
                line, (long long)size, (long long)got, n);
        dump("want", want, n);
        if (got > 0)
            dump("got ", buf, (size_t)got);
        check_failed_now = 1;
        return;
    }
    CHECK(buf[n] == 0xA5);              /* nothing past the packet */

    /* A buffer of exactly the packet's size is enough. */
    uint8_t *exact = malloc(n);
    CHECK(exact != NULL);
    if (exact) {
        CHECK_INT(lmq_encode(pkt, level, exact, n), n);
        CHECK_MEM(exact, want, n);
        free(exact);
    }
}
#define EXPECT(pkt, level, want) expect_at(__LINE__, (pkt), (level), (want), sizeof(want))

/* Both the size and the encoder refuse pkt with `code`. */
static void refuse_at(int line, const lmq_packet *pkt, uint8_t level, int code)
{
    uint8_t buf[128];
    int64_t size = lmq_encode_size(pkt, level);
    int64_t got = lmq_encode(pkt, level, buf, sizeof buf);
    if (size != code || got != code) {
        fprintf(stderr, "line %d: size %lld, encode %lld, expected %d (%s)\n",
                line, (long long)size, (long long)got, code, lmq_errname(code));
        check_failed_now = 1;
    }
}
#define REFUSE(pkt, level, code) refuse_at(__LINE__, (pkt), (level), (code))

/* Encoding pkt as sent by `dir`: the size and the bytes agree, and give
 * `code` (< 0) or a packet (code 0). */
static void as_at(int line, const lmq_packet *pkt, uint8_t level, int dir, int code)
{
    uint8_t buf[256];
    int64_t size = lmq_encode_size_as(pkt, level, dir);
    int64_t got = lmq_encode_as(pkt, level, dir, buf, sizeof buf);
    int ok = code ? size == code && got == code : size > 0 && got == size;
    if (!ok) {
        fprintf(stderr, "line %d: from %d: size %lld, encode %lld, expected %d (%s)\n",
                line, dir, (long long)size, (long long)got, code,
                code ? lmq_errname(code) : "a packet");
        check_failed_now = 1;
    }
}
#define ENCODES_AS(pkt, level, dir) as_at(__LINE__, (pkt), (level), (dir), 0)
#define REFUSE_AS(pkt, level, dir, code) as_at(__LINE__, (pkt), (level), (dir), (code))

/* ------------------------------------------------------- CONNECT vectors */

static void test_connect_311_with_will_username_and_password(void)
{
    lmq_packet p = { .type = LMQ_CONNECT };
    lmq_connect *c = &p.u.connect;
    c->level = 4;
    c->clean = 1;
    c->keepalive = 60;
    c->client_id = S("cid");
    c->will = 1;
    c->will_qos = 1;
    c->will_retain = 1;
    c->will_topic = S("w/t");
    c->will_payload = S("bye");
    c->username = S("u");
    c->password = S("pw");
    static const uint8_t want[] = {
        0x10, 0x20,                         /* CONNECT, remaining length 32 */
        0x00, 0x04, 'M', 'Q', 'T', 'T',     /* protocol name */
        0x04,                               /* level 4 (3.1.1) */
        0xEE,                               /* user, password, will retain,
                                               will QoS 1, will, clean session */
        0x00, 0x3C,                         /* keep alive 60 s */
        0x00, 0x03, 'c', 'i', 'd',          /* client id */
        0x00, 0x03, 'w', '/', 't',          /* will topic */
        0x00, 0x03, 'b', 'y', 'e',          /* will payload */
        0x00, 0x01, 'u',                    /* user name */
        0x00, 0x02, 'p', 'w',               /* password */
    };
    EXPECT(&p, 4, want);
    /* CONNECT speaks its own level, whatever level the call names. */
    EXPECT(&p, 5, want);
}

static void test_connect_31_uses_mqisdp_and_level_3(void)
{
    lmq_packet p = { .type = LMQ_CONNECT };
    p.u.connect.level = 3;
    p.u.connect.clean = 1;
    p.u.connect.keepalive = 10;
    p.u.connect.client_id = S("c1");
    static const uint8_t want[] = {
        0x10, 0x10,                                     /* CONNECT, 16 */
        0x00, 0x06, 'M', 'Q', 'I', 's', 'd', 'p',       /* 3.1's name */
        0x03,                                           /* level 3 */
        0x02,                                           /* clean session */
        0x00, 0x0A,                                     /* keep alive 10 s */
        0x00, 0x02, 'c', '1',                           /* client id */
    };
    EXPECT(&p, 3, want);
}

static void test_connect_5_with_properties_and_will_properties(void)
{
    static const lmq_strpair user[] = { { S("k"), S("v") } };
    static const lmq_strpair will_user[] = { { S("a"), S("b") } };
    lmq_packet p = { .type = LMQ_CONNECT };
    lmq_connect *c = &p.u.connect;
    c->level = 5;
    c->clean = 1;
    c->keepalive = 30;
    c->client_id = S("id");
    c->props.session_expiry = 3600;
    lmq_props_set(&c->props, LMQ_PROP_SESSION_EXPIRY);
    c->props.receive_maximum = 20;
    lmq_props_set(&c->props, LMQ_PROP_RECEIVE_MAXIMUM);
    c->props.user = user;
    c->props.n_user = 1;
    c->will = 1;
    c->will_topic = S("t");
    c->will_payload = S("x");
    c->will_props.will_delay = 5;
    lmq_props_set(&c->will_props, LMQ_PROP_WILL_DELAY);
    c->will_props.payload_format = 1;
    lmq_props_set(&c->will_props, LMQ_PROP_PAYLOAD_FORMAT);
    c->will_props.user = will_user;
    c->will_props.n_user = 1;
    static const uint8_t want[] = {
        0x10, 0x33,                         /* CONNECT, remaining length 51 */
        0x00, 0x04, 'M', 'Q', 'T', 'T',     /* protocol name */
        0x05,                               /* level 5 */
        0x06,                               /* will (QoS 0), clean start */
        0x00, 0x1E,                         /* keep alive 30 s */
        0x0F,                               /* property length 15 */
        0x11, 0x00, 0x00, 0x0E, 0x10,       /* session expiry 3600 s */
        0x21, 0x00, 0x14,                   /* receive maximum 20 */
        0x26, 0x00, 0x01, 'k',              /* user property key "k" */
              0x00, 0x01, 'v',              /*               value "v" */
        0x00, 0x02, 'i', 'd',               /* client id */
        0x0E,                               /* will property length 14 */
        0x01, 0x01,                         /* payload format: UTF-8 */
        0x18, 0x00, 0x00, 0x00, 0x05,       /* will delay 5 s */
        0x26, 0x00, 0x01, 'a',              /* will user property "a" */
              0x00, 0x01, 'b',              /*                    "b" */
        0x00, 0x01, 't',                    /* will topic */
        0x00, 0x01, 'x',                    /* will payload */
    };
    EXPECT(&p, 5, want);
}

static void test_connect_5_allows_password_without_username(void)
{
    lmq_packet p = { .type = LMQ_CONNECT };
    p.u.connect.level = 5;
    p.u.connect.client_id = S("");
    p.u.connect.password = S("k");
    static const uint8_t want[] = {
        0x10, 0x10,                         /* CONNECT, 16 */
        0x00, 0x04, 'M', 'Q', 'T', 'T',
        0x05,
        0x40,                               /* password only */
        0x00, 0x00,                         /* keep alive 0 */
        0x00,                               /* no properties */
        0x00, 0x00,                         /* empty client id */
        0x00, 0x01, 'k',                    /* password */
    };
    EXPECT(&p, 5, want);
}

/* ------------------------------------------------------- CONNACK vectors */

static void test_connack_311_and_5(void)
{
    lmq_packet p = { .type = LMQ_CONNACK };
    p.u.connack.session_present = 1;
    static const uint8_t v4[] = {
        0x20, 0x02,                         /* CONNACK, 2 */
        0x01,                               /* session present */
        0x00,                               /* accepted */
    };
    EXPECT(&p, 4, v4);

    p.u.connack.session_present = 0;
    p.u.connack.reason = 0x87;
    p.u.connack.props.maximum_qos = 1;
    lmq_props_set(&p.u.connack.props, LMQ_PROP_MAXIMUM_QOS);
    static const uint8_t v5[] = {
        0x20, 0x05,                         /* CONNACK, 5 */
        0x00,                               /* no session */
        0x87,                               /* not authorized */
        0x02,                               /* property length 2 */
        0x24, 0x01,                         /* maximum QoS 1 */
    };
    EXPECT(&p, 5, v5);
}

/* ------------------------------------------------------- PUBLISH vectors */

static void test_publish_qos0_311(void)
{
    lmq_packet p = { .type = LMQ_PUBLISH };
    p.u.publish.retain = 1;
    p.u.publish.topic = S("a/b");
    p.u.publish.payload = S("hello");
    static const uint8_t want[] = {
        0x31, 0x0A,                         /* PUBLISH QoS 0 retain, 10 */
        0x00, 0x03, 'a', '/', 'b',          /* topic name, no packet id [MQTT-2.2.1-2] */
        'h', 'e', 'l', 'l', 'o',            /* payload, no length */
    };
    EXPECT(&p, 4, want);

    /* Properties do not exist at 3.x: they are left out, not refused. */
    p.u.publish.props.message_expiry = 9;
    lmq_props_set(&p.u.publish.props, LMQ_PROP_MESSAGE_EXPIRY);
    EXPECT(&p, 4, want);
    EXPECT(&p, 3, want);
}

static void test_publish_qos1_5_with_alias_expiry_content_type_and_users(void)
{
    static const lmq_strpair user[] = { { S("a"), S("1") }, { S("b"), S("2") } };
    lmq_packet p = { .type = LMQ_PUBLISH };
    lmq_publish *pb = &p.u.publish;
    pb->qos = 1;
    pb->packet_id = 0x1234;
    pb->topic = S("t/1");
    pb->payload = S("on");
    pb->props.topic_alias = 7;
    lmq_props_set(&pb->props, LMQ_PROP_TOPIC_ALIAS);
    pb->props.message_expiry = 60;
    lmq_props_set(&pb->props, LMQ_PROP_MESSAGE_EXPIRY);
    pb->props.content_type = S("text/plain");
    lmq_props_set(&pb->props, LMQ_PROP_CONTENT_TYPE);
    pb->props.user = user;
    pb->props.n_user = 2;
    static const uint8_t want[] = {
        0x32, 0x2D,                         /* PUBLISH QoS 1, 45 */
        0x00, 0x03, 't', '/', '1',          /* topic name */
        0x12, 0x34,                         /* packet id */
        0x23,                               /* property length 35 */
        0x02, 0x00, 0x00, 0x00, 0x3C,       /* message expiry 60 s */
        0x03, 0x00, 0x0A, 't', 'e', 'x', 't', '/', 'p', 'l', 'a', 'i', 'n',
                                            /* content type */
        0x23, 0x00, 0x07,                   /* topic alias 7 */
        0x26, 0x00, 0x01, 'a', 0x00, 0x01, '1',     /* user property a=1 */
        0x26, 0x00, 0x01, 'b', 0x00, 0x01, '2',     /* user property b=2 */
        'o', 'n',                           /* payload */
    };
    EXPECT(&p, 5, want);
}

static void test_publish_5_empty_topic_with_alias_and_dup_qos2(void)
{
    lmq_packet p = { .type = LMQ_PUBLISH };
    p.u.publish.qos = 2;
    p.u.publish.dup = 1;
    p.u.publish.packet_id = 5;
    p.u.publish.topic = S("");
    p.u.publish.props.topic_alias = 0x0102;
    lmq_props_set(&p.u.publish.props, LMQ_PROP_TOPIC_ALIAS);
    static const uint8_t want[] = {
        0x3C, 0x08,                         /* PUBLISH DUP QoS 2, 8 */
        0x00, 0x00,                         /* empty topic: the alias stands in */
        0x00, 0x05,                         /* packet id */
        0x03,                               /* property length 3 */
        0x23, 0x01, 0x02,                   /* topic alias 258 */
    };
    EXPECT(&p, 5, want);
}

/* ----------------------------------------------------------- ack vectors */

static void test_pubrel_5_short_reason_only_and_with_reason_string(void)
{
    lmq_packet p = { .type = LMQ_PUBREL };
    p.u.ack.packet_id = 0x0102;
    static const uint8_t shortest[] = {
        0x62, 0x02,                         /* PUBREL, flags 0x2 [MQTT-3.6.1-1], 2 */
        0x01, 0x02,                         /* packet id; reason 0 left out */
    };
    EXPECT(&p, 5, shortest);
    EXPECT(&p, 4, shortest);

    p.u.ack.reason = 0x92;
    static const uint8_t reason_only[] = {
        0x62, 0x03,
        0x01, 0x02,                         /* packet id */
        0x92,                               /* packet id not found; no
                                               property length (3.6.2.2.1) */
    };
    EXPECT(&p, 5, reason_only);

    p.u.ack.props.reason_string = S("gone");
    lmq_props_set(&p.u.ack.props, LMQ_PROP_REASON_STRING);
    static const uint8_t with_string[] = {
        0x62, 0x0B,                         /* PUBREL, 11 */
        0x01, 0x02,                         /* packet id */
        0x92,                               /* packet id not found */
        0x07,                               /* property length 7 */
        0x1F, 0x00, 0x04, 'g', 'o', 'n', 'e',   /* reason string */
    };
    EXPECT(&p, 5, with_string);
}

static void test_puback_pubrec_pubcomp_311_are_id_only(void)
{
    static const uint8_t puback[] = { 0x40, 0x02, 0x00, 0x07 };
    static const uint8_t pubrec[] = { 0x50, 0x02, 0x00, 0x07 };
    static const uint8_t pubcomp[] = { 0x70, 0x02, 0x00, 0x07 };
    lmq_packet p = { .type = LMQ_PUBACK };
    p.u.ack.packet_id = 7;
    EXPECT(&p, 4, puback);
    p.type = LMQ_PUBREC;
    EXPECT(&p, 4, pubrec);
    p.type = LMQ_PUBCOMP;
    EXPECT(&p, 3, pubcomp);
}

static void test_puback_5_with_reason_and_no_properties(void)
{
    lmq_packet p = { .type = LMQ_PUBACK };
    p.u.ack.packet_id = 1;
    p.u.ack.reason = 0x10;
    static const uint8_t want[] = {
        0x40, 0x03,                         /* PUBACK, 3 */
        0x00, 0x01,                         /* packet id */
        0x10,                               /* no matching subscribers */
    };
    EXPECT(&p, 5, want);
}

/* ------------------------------------------------- subscription vectors */

static void test_subscribe_5_with_options_and_subscription_id(void)
{
    static const lmq_sub_entry entries[] = {
        { S("a/+"), 0x01 | 0x04 | 0x08 | 0x20 },
        { S("b/#"), 0x02 | 0x10 },
    };
    lmq_packet p = { .type = LMQ_SUBSCRIBE };
    p.u.subscribe.packet_id = 10;
    p.u.subscribe.count = 2;
    p.u.subscribe.entries = entries;
    p.u.subscribe.props.sub_id = 300;
    lmq_props_set(&p.u.subscribe.props, LMQ_PROP_SUBSCRIPTION_ID);
    static const uint8_t want[] = {
        0x82, 0x12,                         /* SUBSCRIBE, flags 0x2
                                               [MQTT-3.8.1-1], 18 */
        0x00, 0x0A,                         /* packet id */
        0x03,                               /* property length 3 */
        0x0B, 0xAC, 0x02,                   /* subscription id 300 (varint) */
        0x00, 0x03, 'a', '/', '+',          /* filter */
        0x2D,                               /* QoS 1, no local, retain as
                                               published, retain handling 2 */
        0x00, 0x03, 'b', '/', '#',          /* filter */
        0x12,                               /* QoS 2, retain handling 1 */
    };
    EXPECT(&p, 5, want);
}

static void test_subscribe_311_writes_qos_only_options(void)
{
    static const lmq_sub_entry entries[] = { { S("x"), 1 } };
    lmq_packet p = { .type = LMQ_SUBSCRIBE };
    p.u.subscribe.packet_id = 1;
    p.u.subscribe.count = 1;
    p.u.subscribe.entries = entries;
    static const uint8_t want[] = {
        0x82, 0x06,
        0x00, 0x01,                         /* packet id */
        0x00, 0x01, 'x', 0x01,              /* filter, QoS 1 */
    };
    EXPECT(&p, 4, want);
}

static void test_unsubscribe_311(void)
{
    static const lmq_sub_entry entries[] = { { S("a/b"), 0 }, { S("c"), 0 } };
    lmq_packet p = { .type = LMQ_UNSUBSCRIBE };
    p.u.subscribe.packet_id = 2;
    p.u.subscribe.count = 2;
    p.u.subscribe.entries = entries;
    static const uint8_t want[] = {
        0xA2, 0x0A,                         /* UNSUBSCRIBE, flags 0x2
                                               [MQTT-3.10.1-1], 10 */
        0x00, 0x02,                         /* packet id */
        0x00, 0x03, 'a', '/', 'b',          /* filter */
        0x00, 0x01, 'c',                    /* filter */
    };
    EXPECT(&p, 4, want);
}

static void test_suback_and_unsuback_vectors(void)
{
    static const uint8_t codes[] = { 0x01, 0x80 };
    lmq_packet p = { .type = LMQ_SUBACK };
    p.u.suback.packet_id = 10;
    p.u.suback.reasons = BYTES(codes);
    static const uint8_t v4[] = {
        0x90, 0x04,                         /* SUBACK, 4 */
        0x00, 0x0A,                         /* packet id */
        0x01, 0x80,                         /* granted QoS 1, failure */
    };
    EXPECT(&p, 4, v4);
    static const uint8_t v5[] = {
        0x90, 0x05,
        0x00, 0x0A,                         /* packet id */
        0x00,                               /* property length 0 */
        0x01, 0x80,                         /* granted QoS 1, unspecified error */
    };
    EXPECT(&p, 5, v5);

    static const uint8_t unsub_codes[] = { 0x11 };
    lmq_packet u = { .type = LMQ_UNSUBACK };
    u.u.suback.packet_id = 5;
    static const uint8_t u4[] = { 0xB0, 0x02, 0x00, 0x05 };  /* id only */
    EXPECT(&u, 4, u4);
    u.u.suback.reasons = BYTES(unsub_codes);
    static const uint8_t u5[] = {
        0xB0, 0x04,
        0x00, 0x05,                         /* packet id */
        0x00,                               /* property length 0 */
        0x11,                               /* no subscription existed */
    };
    EXPECT(&u, 5, u5);
}

/* --------------------------------------------- ping, disconnect, auth */

static void test_pingreq_and_pingresp(void)
{
    static const uint8_t req[] = { 0xC0, 0x00 };
    static const uint8_t resp[] = { 0xD0, 0x00 };
    lmq_packet p = { .type = LMQ_PINGREQ };
    EXPECT(&p, 3, req);
    EXPECT(&p, 4, req);
    EXPECT(&p, 5, req);
    p.type = LMQ_PINGRESP;
    EXPECT(&p, 5, resp);
}

static void test_disconnect_5_short_and_with_will_reason_and_expiry(void)
{
    lmq_packet p = { .type = LMQ_DISCONNECT };
    static const uint8_t shortest[] = { 0xE0, 0x00 };  /* normal, no props */
    EXPECT(&p, 5, shortest);
    EXPECT(&p, 4, shortest);

    p.u.disconnect.reason = 0x04;
    p.u.disconnect.props.session_expiry = 120;
    lmq_props_set(&p.u.disconnect.props, LMQ_PROP_SESSION_EXPIRY);
    static const uint8_t will[] = {
        0xE0, 0x07,                         /* DISCONNECT, 7 */
        0x04,                               /* disconnect with will message */
        0x05,                               /* property length 5 */
        0x11, 0x00, 0x00, 0x00, 0x78,       /* session expiry 120 s */
    };
    EXPECT(&p, 5, will);

    lmq_packet q = { .type = LMQ_DISCONNECT };
    q.u.disconnect.reason = 0x8E;
    static const uint8_t reason_only[] = {
        0xE0, 0x01,
        0x8E,                               /* session taken over; no
                                               property length (3.14.2.2.1) */
    };
    EXPECT(&q, 5, reason_only);
}

static void test_auth_5_with_method_and_data(void)
{
    static const uint8_t data[] = { 1, 2, 3 };
    lmq_packet p = { .type = LMQ_AUTH };
    p.u.disconnect.reason = 0x18;
    p.u.disconnect.props.auth_method = S("SCRAM");
    lmq_props_set(&p.u.disconnect.props, LMQ_PROP_AUTH_METHOD);
    p.u.disconnect.props.auth_data = BYTES(data);
    lmq_props_set(&p.u.disconnect.props, LMQ_PROP_AUTH_DATA);
    static const uint8_t want[] = {
        0xF0, 0x10,                         /* AUTH, 16 */
        0x18,                               /* continue authentication */
        0x0E,                               /* property length 14 */
        0x15, 0x00, 0x05, 'S', 'C', 'R', 'A', 'M',  /* authentication method */
        0x16, 0x00, 0x03, 0x01, 0x02, 0x03,         /* authentication data */
    };
    EXPECT(&p, 5, want);
}

static void test_auth_5_short_form_and_reason_without_properties(void)
{
    lmq_packet p = { .type = LMQ_AUTH };
    static const uint8_t shortest[] = { 0xF0, 0x00 };
    EXPECT(&p, 5, shortest);
    /* AUTH has no "Property Length may be left out" rule: it stays. */
    p.u.disconnect.reason = 0x19;
    static const uint8_t reauth[] = { 0xF0, 0x02, 0x19, 0x00 };
    EXPECT(&p, 5, reauth);
}

/* -------------------------------------------------------------- refusals */

static lmq_packet publish_packet(uint8_t qos)
{
    lmq_packet p = { .type = LMQ_PUBLISH };
    p.u.publish.qos = qos;
    p.u.publish.packet_id = qos ? 1 : 0;
    p.u.publish.topic = S("t");
    p.u.publish.payload = S("x");
    return p;
}

static void test_qos_3_is_refused_in_publish_will_and_subscribe(void)
{
    lmq_packet p = publish_packet(3);               /* [MQTT-3.3.1-4] */
    REFUSE(&p, 4, LMQ_EINVAL);
    REFUSE(&p, 5, LMQ_EINVAL);

    lmq_packet c = { .type = LMQ_CONNECT };
    c.u.connect.level = 4;
    c.u.connect.client_id = S("c");
    c.u.connect.will = 1;
    c.u.connect.will_qos = 3;                       /* [MQTT-3.1.2-12] */
    c.u.connect.will_topic = S("w");
    REFUSE(&c, 4, LMQ_EINVAL);

    static const lmq_sub_entry e[] = { { S("f"), 3 } };
    lmq_packet s = { .type = LMQ_SUBSCRIBE };
    s.u.subscribe.packet_id = 1;
    s.u.subscribe.count = 1;
    s.u.subscribe.entries = e;
    REFUSE(&s, 4, LMQ_EINVAL);
    REFUSE(&s, 5, LMQ_EINVAL);
}

static void test_dup_on_qos0_publish_is_refused(void)
{
    lmq_packet p = publish_packet(0);
    p.u.publish.dup = 1;                            /* [MQTT-3.3.1-2] */
    REFUSE(&p, 4, LMQ_EINVAL);
}

static void test_packet_id_0_is_refused_where_one_is_needed(void)
{
    /* [MQTT-2.2.1-3] */
    lmq_packet p = publish_packet(1);
    p.u.publish.packet_id = 0;
    REFUSE(&p, 4, LMQ_EINVAL);
    p.u.publish.qos = 2;
    REFUSE(&p, 5, LMQ_EINVAL);

    static const uint8_t ack_types[] = { LMQ_PUBACK, LMQ_PUBREC, LMQ_PUBREL, LMQ_PUBCOMP };
    for (size_t i = 0; i < sizeof ack_types; i++) {
        lmq_packet a = { .type = ack_types[i] };
        REFUSE(&a, 4, LMQ_EINVAL);
        REFUSE(&a, 5, LMQ_EINVAL);
    }

    static const lmq_sub_entry e[] = { { S("f"), 0 } };
    lmq_packet s = { .type = LMQ_SUBSCRIBE };
    s.u.subscribe.count = 1;
    s.u.subscribe.entries = e;
    REFUSE(&s, 4, LMQ_EINVAL);
    s.type = LMQ_UNSUBSCRIBE;
    REFUSE(&s, 5, LMQ_EINVAL);

    static const uint8_t codes[] = { 0 };
    lmq_packet k = { .type = LMQ_SUBACK };
    k.u.suback.reasons = BYTES(codes);
    REFUSE(&k, 4, LMQ_EINVAL);
}

static void test_strings_over_65535_bytes_are_too_big(void)
{
    static uint8_t big[65536];
    memset(big, 'a', sizeof big);
    lmq_slice too_long = { big, 65536 };
    lmq_slice longest = { big, 65535 };

    lmq_packet p = publish_packet(0);
    p.u.publish.topic = longest;
    CHECK_INT(lmq_encode_size(&p, 4), 1 + 3 + 2 + 65535 + 1);
    p.u.publish.topic = too_long;
    REFUSE(&p, 4, LMQ_ETOOBIG);

    lmq_packet c = { .type = LMQ_CONNECT };
    c.u.connect.level = 4;
    c.u.connect.client_id = too_long;
    REFUSE(&c, 4, LMQ_ETOOBIG);
    c.u.connect.client_id = S("c");
    c.u.connect.username = S("u");
    c.u.connect.password = too_long;                /* binary data too */
    REFUSE(&c, 4, LMQ_ETOOBIG);

    lmq_strpair user[] = { { S("k"), too_long } };
    lmq_packet q = publish_packet(0);
    q.u.publish.props.user = user;
    q.u.publish.props.n_user = 1;
    REFUSE(&q, 5, LMQ_ETOOBIG);
}

static void test_remaining_length_over_268435455_is_too_big(void)
{
    /* The size is worked out without reading the payload, so a huge slice
     * over one real byte is enough to ask. */
    static const uint8_t one = 0;
    lmq_packet p = publish_packet(0);
    p.u.publish.payload.p = &one;
    p.u.publish.payload.n = 268435455u - 3;         /* topic takes 3 */
    CHECK_INT(lmq_encode_size(&p, 4), 1 + 4 + 268435455);
    p.u.publish.payload.n++;
    REFUSE(&p, 4, LMQ_ETOOBIG);
    p.u.publish.payload.n = 0xFFFFFFFFu;
    REFUSE(&p, 5, LMQ_ETOOBIG);
}

static void test_property_not_allowed_in_the_packet_is_refused(void)
{
    lmq_packet p = publish_packet(0);
    p.u.publish.props.session_expiry = 1;           /* CONNECT/CONNACK/DISCONNECT */
    lmq_props_set(&p.u.publish.props, LMQ_PROP_SESSION_EXPIRY);
    REFUSE(&p, 5, LMQ_EINVAL);

    lmq_packet c = { .type = LMQ_CONNECT };
    c.u.connect.level = 5;
    c.u.connect.client_id = S("c");
    c.u.connect.props.will_delay = 1;               /* will properties only */
    lmq_props_set(&c.u.connect.props, LMQ_PROP_WILL_DELAY);
    REFUSE(&c, 5, LMQ_EINVAL);

    lmq_packet w = { .type = LMQ_CONNECT };
    w.u.connect.level = 5;
    w.u.connect.client_id = S("c");
    w.u.connect.will = 1;
    w.u.connect.will_topic = S("w");
    w.u.connect.will_props.topic_alias = 1;         /* PUBLISH only, not a will */
    lmq_props_set(&w.u.connect.will_props, LMQ_PROP_TOPIC_ALIAS);
    REFUSE(&w, 5, LMQ_EINVAL);

    static const uint32_t ids[] = { 1 };
    lmq_packet a = { .type = LMQ_PUBACK };
    a.u.ack.packet_id = 1;
    a.u.ack.props.sub_ids = ids;                    /* PUBLISH/SUBSCRIBE only */
    a.u.ack.props.n_sub_id = 1;
    REFUSE(&a, 5, LMQ_EINVAL);

    static const lmq_strpair user[] = { { S("k"), S("v") } };
    lmq_packet d = { .type = LMQ_DISCONNECT };
    d.u.disconnect.props.user = user;
    d.u.disconnect.props.n_user = 1;
    d.u.disconnect.props.auth_method = S("m");      /* CONNECT/CONNACK/AUTH */
    lmq_props_set(&d.u.disconnect.props, LMQ_PROP_AUTH_METHOD);
    REFUSE(&d, 5, LMQ_EINVAL);

    /* At 3.x the same packets encode: properties are not written at all. */
    CHECK(lmq_encode_size(&p, 4) > 0);
    CHECK(lmq_encode_size(&a, 4) > 0);
    CHECK(lmq_encode_size(&d, 4) > 0);
}

static void test_property_values_out_of_range_are_refused(void)
{
    lmq_packet p = publish_packet(0);
    lmq_props *pr = &p.u.publish.props;
    pr->topic_alias = 0;                            /* [MQTT-3.3.2-8] */
    lmq_props_set(pr, LMQ_PROP_TOPIC_ALIAS);
    REFUSE(&p, 5, LMQ_EINVAL);

    lmq_packet q = publish_packet(0);
    q.u.publish.props.payload_format = 2;           /* 0 or 1 */
    lmq_props_set(&q.u.publish.props, LMQ_PROP_PAYLOAD_FORMAT);
    REFUSE(&q, 5, LMQ_EINVAL);

    lmq_packet r = publish_packet(0);
    r.u.publish.props.response_topic = S("a/#");    /* [MQTT-3.3.2-14] */
    lmq_props_set(&r.u.publish.props, LMQ_PROP_RESPONSE_TOPIC);
    REFUSE(&r, 5, LMQ_ETOPIC_WILDCARD);

    lmq_packet c = { .type = LMQ_CONNECT };
    c.u.connect.level = 5;
    c.u.connect.client_id = S("c");
    c.u.connect.props.receive_maximum = 0;
    lmq_props_set(&c.u.connect.props, LMQ_PROP_RECEIVE_MAXIMUM);
    REFUSE(&c, 5, LMQ_EINVAL);

    static const uint8_t data[] = { 1 };
    lmq_packet a = { .type = LMQ_AUTH };
    a.u.disconnect.reason = 0x18;
    a.u.disconnect.props.auth_data = BYTES(data);   /* data without method */
    lmq_props_set(&a.u.disconnect.props, LMQ_PROP_AUTH_DATA);
    REFUSE(&a, 5, LMQ_EINVAL);

    lmq_packet u = publish_packet(0);
    u.u.publish.props.present = 1u << 30;           /* no such property */
    REFUSE(&u, 5, LMQ_EINVAL);
}

static void test_subscription_identifier_rules(void)
{
    static const lmq_sub_entry e[] = { { S("f"), 0 } };
    static const uint32_t two[] = { 1, 2 };
    static const uint32_t zero[] = { 0 };
    static const uint32_t too_big[] = { 268435456u };
    lmq_packet s = { .type = LMQ_SUBSCRIBE };
    s.u.subscribe.packet_id = 1;
    s.u.subscribe.count = 1;
    s.u.subscribe.entries = e;
    s.u.subscribe.props.sub_ids = two;              /* at most one here */
    s.u.subscribe.props.n_sub_id = 2;
    REFUSE(&s, 5, LMQ_EINVAL);
    s.u.subscribe.props.sub_ids = zero;             /* 0 is a protocol error */
    s.u.subscribe.props.n_sub_id = 1;
    REFUSE(&s, 5, LMQ_EINVAL);
    s.u.subscribe.props.sub_ids = too_big;
    REFUSE(&s, 5, LMQ_EINVAL);
}

static void test_invalid_utf8_is_refused_with_the_checker_code(void)
{
    static const uint8_t overlong[] = { 'a', 0xC0, 0x80 };
    static const uint8_t nul[] = { 'a', 0x00, 'b' };
    static const uint8_t surrogate[] = { 0xED, 0xA0, 0x80 };

    lmq_packet p = publish_packet(0);
    p.u.publish.topic = BYTES(overlong);            /* [MQTT-1.5.4-1] */
    REFUSE(&p, 4, LMQ_EUTF8);
    p.u.publish.topic = BYTES(nul);                 /* [MQTT-1.5.4-2] */
    REFUSE(&p, 4, LMQ_EUTF8_NUL);

    lmq_packet c = { .type = LMQ_CONNECT };
    c.u.connect.level = 4;
    c.u.connect.client_id = BYTES(surrogate);
    REFUSE(&c, 4, LMQ_EUTF8);
    c.u.connect.client_id = S("c");
    c.u.connect.username = BYTES(nul);              /* [MQTT-3.1.3-12] */
    REFUSE(&c, 4, LMQ_EUTF8_NUL);

    /* [MQTT-1.5.7-1] both strings of a pair: the name, then the value */
    lmq_strpair user[] = { { BYTES(overlong), S("v") } };
    lmq_packet q = publish_packet(0);
    q.u.publish.props.user = user;
    q.u.publish.props.n_user = 1;
    REFUSE(&q, 5, LMQ_EUTF8);
    lmq_strpair user_val[] = { { S("k"), BYTES(nul) } };
    q.u.publish.props.user = user_val;
    REFUSE(&q, 5, LMQ_EUTF8_NUL);

    /* [MQTT-3.3.2-19] the Content Type is UTF-8 */
    lmq_packet ct = publish_packet(0);
    ct.u.publish.props.content_type = BYTES(surrogate);
    lmq_props_set(&ct.u.publish.props, LMQ_PROP_CONTENT_TYPE);
    REFUSE(&ct, 5, LMQ_EUTF8);

    static const lmq_sub_entry e[] = { { BYTES(nul), 0 } };
    lmq_packet s = { .type = LMQ_UNSUBSCRIBE };
    s.u.subscribe.packet_id = 1;
    s.u.subscribe.count = 1;
    s.u.subscribe.entries = e;
    REFUSE(&s, 4, LMQ_EUTF8_NUL);
}

static void test_auth_below_level_5_is_a_version_error(void)
{
    lmq_packet p = { .type = LMQ_AUTH };
    REFUSE(&p, 4, LMQ_EVERSION);
    REFUSE(&p, 3, LMQ_EVERSION);
}

static void test_unknown_levels_and_types_are_refused(void)
{
    lmq_packet p = { .type = LMQ_PINGREQ };
    REFUSE(&p, 2, LMQ_EVERSION);
    REFUSE(&p, 6, LMQ_EVERSION);
    lmq_packet c = { .type = LMQ_CONNECT };
    c.u.connect.level = 6;
    REFUSE(&c, 5, LMQ_EVERSION);
    lmq_packet z = { .type = 0 };
    REFUSE(&z, 4, LMQ_EINVAL);
    CHECK_INT(lmq_encode_size(NULL, 4), LMQ_EINVAL);
}

static void test_publish_topic_with_wildcard_is_refused(void)
{
    /* [MQTT-3.3.2-2] [MQTT-4.7.0-1] */
    lmq_packet p = publish_packet(0);
    p.u.publish.topic = S("a/+/b");
    REFUSE(&p, 4, LMQ_ETOPIC_WILDCARD);
    p.u.publish.topic = S("a/#");
    REFUSE(&p, 5, LMQ_ETOPIC_WILDCARD);

    lmq_packet c = { .type = LMQ_CONNECT };        /* a will topic too */
    c.u.connect.level = 4;
    c.u.connect.client_id = S("c");
    c.u.connect.will = 1;
    c.u.connect.will_topic = S("#");
    REFUSE(&c, 4, LMQ_ETOPIC_WILDCARD);
}

static void test_empty_publish_topic_needs_a_v5_topic_alias(void)
{
    lmq_packet p = publish_packet(0);
    p.u.publish.topic = S("");                      /* [MQTT-4.7.3-1] */
    REFUSE(&p, 4, LMQ_ETOPIC_EMPTY);
    REFUSE(&p, 5, LMQ_ETOPIC_EMPTY);
    p.u.publish.topic.p = NULL;
    REFUSE(&p, 5, LMQ_ETOPIC_EMPTY);
    p.u.publish.props.topic_alias = 3;
    lmq_props_set(&p.u.publish.props, LMQ_PROP_TOPIC_ALIAS);
    CHECK_INT(lmq_encode_size(&p, 5), 2 + 2 + 4 + 1);
    REFUSE(&p, 4, LMQ_ETOPIC_EMPTY);                /* no aliases at 3.1.1 */
}

static void test_empty_subscribe_and_unsubscribe_are_refused(void)
{
    /* [MQTT-3.8.3-2] [MQTT-3.10.3-2] */
    static const lmq_sub_entry e[] = { { S("f"), 0 } };
    lmq_packet s = { .type = LMQ_SUBSCRIBE };
    s.u.subscribe.packet_id = 1;
    REFUSE(&s, 4, LMQ_EINVAL);
    REFUSE(&s, 5, LMQ_EINVAL);
    s.u.subscribe.count = 1;                        /* a count, no entries */
    REFUSE(&s, 5, LMQ_EINVAL);
    s.type = LMQ_UNSUBSCRIBE;
    s.u.subscribe.count = 0;
    s.u.subscribe.entries = e;
    REFUSE(&s, 4, LMQ_EINVAL);
    REFUSE(&s, 5, LMQ_EINVAL);

    static const lmq_sub_entry empty_filter[] = { { S(""), 0 } };
    lmq_packet f = { .type = LMQ_SUBSCRIBE };
    f.u.subscribe.packet_id = 1;
    f.u.subscribe.count = 1;
    f.u.subscribe.entries = empty_filter;           /* [MQTT-4.7.3-1] */
    REFUSE(&f, 4, LMQ_ETOPIC_EMPTY);
}

static void test_bad_subscription_options_are_refused(void)
{
    lmq_sub_entry e[] = { { S("f"), 0x04 } };
    lmq_packet s = { .type = LMQ_SUBSCRIBE };
    s.u.subscribe.packet_id = 1;
    s.u.subscribe.count = 1;
    s.u.subscribe.entries = e;
    CHECK(lmq_encode_size(&s, 5) > 0);              /* no local is fine at 5 */
    REFUSE(&s, 4, LMQ_EINVAL);                      /* reserved bits at 3.1.1 */
    e[0].options = 0x30;                            /* retain handling 3 */
    REFUSE(&s, 5, LMQ_EINVAL);
    e[0].options = 0x40;                            /* reserved [MQTT-3.8.3-5] */
    REFUSE(&s, 5, LMQ_EINVAL);
    e[0].options = 0x04;
    e[0].filter = S("$share/g/f");                  /* [MQTT-3.8.3-4] */
    REFUSE(&s, 5, LMQ_EINVAL);
    e[0].options = 0x00;
    CHECK(lmq_encode_size(&s, 5) > 0);
}

static void test_reason_codes_are_checked_per_packet_and_level(void)
{
    lmq_packet a = { .type = LMQ_PUBACK };
    a.u.ack.packet_id = 1;
    a.u.ack.reason = 0x92;                          /* PUBREL/PUBCOMP only */
    REFUSE(&a, 5, LMQ_EINVAL);
    a.u.ack.reason = 0x10;
    REFUSE(&a, 4, LMQ_EINVAL);                      /* 3.x acks have none */

    lmq_packet c = { .type = LMQ_CONNACK };
    c.u.connack.reason = 6;                         /* 3.1.1 codes are 0..5 */
    REFUSE(&c, 4, LMQ_EINVAL);
    c.u.connack.reason = 0x10;
    REFUSE(&c, 5, LMQ_EINVAL);
    c.u.connack.reason = 0x80;
    c.u.connack.session_present = 1;                /* [MQTT-3.2.2-6] */
    REFUSE(&c, 5, LMQ_EINVAL);
    c.u.connack.reason = 0;
    REFUSE(&c, 3, LMQ_EINVAL);                      /* 3.1 has no such flag */

    static const uint8_t v5only[] = { 0x97 };
    static const uint8_t unsub[] = { 0x00 };
    lmq_packet s = { .type = LMQ_SUBACK };
    s.u.suback.packet_id = 1;
    s.u.suback.reasons = BYTES(v5only);
    REFUSE(&s, 4, LMQ_EINVAL);
    CHECK(lmq_encode_size(&s, 5) > 0);
    s.u.suback.reasons.n = 0;                       /* one per filter */
    REFUSE(&s, 5, LMQ_EINVAL);
    s.type = LMQ_UNSUBACK;
    s.u.suback.reasons = BYTES(unsub);
    REFUSE(&s, 4, LMQ_EINVAL);                      /* none at 3.1.1 */

    lmq_packet d = { .type = LMQ_DISCONNECT };
    d.u.disconnect.reason = 0x18;                   /* AUTH's */
    REFUSE(&d, 5, LMQ_EINVAL);
    d.u.disconnect.reason = 0x04;
    REFUSE(&d, 4, LMQ_EINVAL);                      /* empty at 3.1.1 */
    lmq_packet au = { .type = LMQ_AUTH };
    au.u.disconnect.reason = 0x04;
    REFUSE(&au, 5, LMQ_EINVAL);
}

static void test_password_without_username_is_refused_before_5(void)
{
    lmq_packet c = { .type = LMQ_CONNECT };
    c.u.connect.client_id = S("c");
    c.u.connect.password = S("p");                  /* [MQTT-3.1.2-22] (3.1.1) */
    c.u.connect.level = 4;
    REFUSE(&c, 4, LMQ_EINVAL);
    c.u.connect.level = 3;
    REFUSE(&c, 3, LMQ_EINVAL);
    c.u.connect.level = 5;
    CHECK(lmq_encode_size(&c, 5) > 0);
}

static void test_slice_with_length_but_no_bytes_is_refused(void)
{
    lmq_packet p = publish_packet(0);
    p.u.publish.payload.p = NULL;
    p.u.publish.payload.n = 4;
    REFUSE(&p, 4, LMQ_EINVAL);
}

static void test_buffer_one_byte_short_is_refused_and_not_overrun(void)
{
    lmq_packet p = publish_packet(1);
    int64_t n = lmq_encode_size(&p, 5);
    CHECK_INT(n, 2 + 3 + 2 + 1 + 1);
    uint8_t buf[16];
    memset(buf, 0xA5, sizeof buf);
    CHECK_INT(lmq_encode(&p, 5, buf, (size_t)n - 1), LMQ_EBUFSIZE);
    CHECK_INT(buf[n - 1], 0xA5);                    /* the guard byte */
    CHECK_INT(lmq_encode(&p, 5, buf, 0), LMQ_EBUFSIZE);
    CHECK_INT(lmq_encode(&p, 5, NULL, 64), LMQ_EBUFSIZE);
    CHECK_INT(lmq_encode(&p, 5, buf, (size_t)n), n);
    CHECK_INT(buf[n], 0xA5);
}

/* ------------------------------------------------------- sender rules */

/* [MQTT-3.3.4-6] a client's PUBLISH carries no Subscription Identifier;
 * a server's may (one per matching subscription). */
static void test_client_publish_with_subscription_id_is_refused(void)
{
    lmq_packet p = publish_packet(0);
    p.u.publish.props.sub_id = 7;
    lmq_props_set(&p.u.publish.props, LMQ_PROP_SUBSCRIPTION_ID);
    REFUSE_AS(&p, 5, LMQ_FROM_CLIENT, LMQ_EINVAL);
    ENCODES_AS(&p, 5, LMQ_FROM_SERVER);
    ENCODES_AS(&p, 5, LMQ_FROM_EITHER);
    /* the same through the array form */
    static const uint32_t ids[] = { 1, 2 };
    lmq_packet q = publish_packet(1);
    q.u.publish.props.sub_ids = ids;
    q.u.publish.props.n_sub_id = 2;
    REFUSE_AS(&q, 5, LMQ_FROM_CLIENT, LMQ_EINVAL);
    ENCODES_AS(&q, 5, LMQ_FROM_SERVER);
    /* at 3.x there are no properties to refuse */
    ENCODES_AS(&p, 4, LMQ_FROM_CLIENT);
}

/* [MQTT-3.14.2-2] a server's DISCONNECT has no Session Expiry Interval. */
static void test_server_disconnect_with_session_expiry_is_refused(void)
{
    lmq_packet d = { .type = LMQ_DISCONNECT };
    d.u.disconnect.props.session_expiry = 5;
    lmq_props_set(&d.u.disconnect.props, LMQ_PROP_SESSION_EXPIRY);
    REFUSE_AS(&d, 5, LMQ_FROM_SERVER, LMQ_EINVAL);
    ENCODES_AS(&d, 5, LMQ_FROM_CLIENT);
}

/* Tables 3-10 and 3-13 reserve some DISCONNECT and AUTH codes to one
 * side; the encoder refuses them from the other, short form included. */
static void test_one_sided_reason_codes_are_refused_from_the_other_side(void)
{
    lmq_packet d = { .type = LMQ_DISCONNECT };
    d.u.disconnect.reason = 0x04;               /* with will: a client's */
    REFUSE_AS(&d, 5, LMQ_FROM_SERVER, LMQ_EINVAL);
    ENCODES_AS(&d, 5, LMQ_FROM_CLIENT);
    d.u.disconnect.reason = 0x8E;               /* session taken over */
    REFUSE_AS(&d, 5, LMQ_FROM_CLIENT, LMQ_EINVAL);
    ENCODES_AS(&d, 5, LMQ_FROM_SERVER);
    d.u.disconnect.reason = 0x87;               /* not authorized: server */
    REFUSE_AS(&d, 5, LMQ_FROM_CLIENT, LMQ_EINVAL);
    d.u.disconnect.reason = 0x00;
    ENCODES_AS(&d, 5, LMQ_FROM_CLIENT);
    ENCODES_AS(&d, 5, LMQ_FROM_SERVER);

    lmq_packet a = { .type = LMQ_AUTH };        /* 0x00 Success: a server's */
    REFUSE_AS(&a, 5, LMQ_FROM_CLIENT, LMQ_EINVAL);
    ENCODES_AS(&a, 5, LMQ_FROM_SERVER);
    a.u.disconnect.reason = 0x19;               /* re-authenticate: a client's */
    REFUSE_AS(&a, 5, LMQ_FROM_SERVER, LMQ_EINVAL);
    ENCODES_AS(&a, 5, LMQ_FROM_CLIENT);
    a.u.disconnect.reason = 0x18;
    ENCODES_AS(&a, 5, LMQ_FROM_CLIENT);
    ENCODES_AS(&a, 5, LMQ_FROM_SERVER);

    /* 0x87 stays valid from a client in a PUBACK (Table 2-6) */
    lmq_packet k = { .type = LMQ_PUBACK };
    k.u.ack.packet_id = 1;
    k.u.ack.reason = 0x87;
    ENCODES_AS(&k, 5, LMQ_FROM_CLIENT);
}

/* The packet types only one side sends (section 3). */
static void test_packet_types_of_the_other_side_are_refused(void)
{
    lmq_packet c = { .type = LMQ_CONNACK };
    REFUSE_AS(&c, 4, LMQ_FROM_CLIENT, LMQ_EINVAL);
    ENCODES_AS(&c, 4, LMQ_FROM_SERVER);
    lmq_packet q = { .type = LMQ_PINGREQ };
    REFUSE_AS(&q, 4, LMQ_FROM_SERVER, LMQ_EINVAL);
    ENCODES_AS(&q, 4, LMQ_FROM_CLIENT);
    lmq_packet k = { .type = LMQ_CONNECT };
    k.u.connect.level = 4;
    k.u.connect.client_id = S("c");
    REFUSE_AS(&k, 4, LMQ_FROM_SERVER, LMQ_EINVAL);
    ENCODES_AS(&k, 4, LMQ_FROM_CLIENT);
}

static void test_encode_as_refuses_an_unknown_direction(void)
{
    lmq_packet q = { .type = LMQ_PINGREQ };
    uint8_t buf[8];
    CHECK_INT(lmq_encode_size_as(&q, 4, 3), LMQ_EINVAL);
    CHECK_INT(lmq_encode_size_as(&q, 4, -1), LMQ_EINVAL);
    CHECK_INT(lmq_encode_as(&q, 4, 3, buf, sizeof buf), LMQ_EINVAL);
    CHECK_INT(lmq_encode_as(NULL, 4, LMQ_FROM_CLIENT, buf, sizeof buf), LMQ_EINVAL);
    CHECK_INT(lmq_encode_as(&q, 4, LMQ_FROM_CLIENT, buf, 1), LMQ_EBUFSIZE);
}

/* [MQTT-3.3.2-13] [MQTT-4.7.3-1] an empty Response Topic is refused, in
 * PUBLISH and in the will, with the topic error the decoder reports. */
static void test_empty_response_topic_is_refused(void)
{
    lmq_packet p = publish_packet(0);
    p.u.publish.props.response_topic = S("");
    lmq_props_set(&p.u.publish.props, LMQ_PROP_RESPONSE_TOPIC);
    REFUSE(&p, 5, LMQ_ETOPIC_EMPTY);

    lmq_packet w = { .type = LMQ_CONNECT };
    w.u.connect.level = 5;
    w.u.connect.client_id = S("c");
    w.u.connect.will = 1;
    w.u.connect.will_topic = S("w");
    w.u.connect.will_props.response_topic = S("");
    lmq_props_set(&w.u.connect.will_props, LMQ_PROP_RESPONSE_TOPIC);
    REFUSE(&w, 5, LMQ_ETOPIC_EMPTY);
    w.u.connect.will_props.response_topic = S("r");
    CHECK(lmq_encode_size(&w, 5) > 0);
    w.u.connect.will_topic = S("w/#");          /* [MQTT-3.1.3-11] a topic name */
    REFUSE(&w, 5, LMQ_ETOPIC_WILDCARD);
    w.u.connect.will_topic = S("");
    REFUSE(&w, 5, LMQ_ETOPIC_EMPTY);
}

/* MQTT 3.1 resends may carry DUP on PUBREL (the decoder takes 0x6A at level
 * 3), but lunamq itself always writes the 3.1.1 nibble 0010. */
static void test_31_pubrel_is_written_without_dup(void)
{
    lmq_packet p = { .type = LMQ_PUBREL };
    p.u.ack.packet_id = 1;
    static const uint8_t want[] = { 0x62, 0x02, 0x00, 0x01 };
    EXPECT(&p, 3, want);
}

int main(void)
{
    RUN(test_connect_311_with_will_username_and_password);
    RUN(test_connect_31_uses_mqisdp_and_level_3);
    RUN(test_connect_5_with_properties_and_will_properties);
    RUN(test_connect_5_allows_password_without_username);
    RUN(test_connack_311_and_5);
    RUN(test_publish_qos0_311);
    RUN(test_publish_qos1_5_with_alias_expiry_content_type_and_users);
    RUN(test_publish_5_empty_topic_with_alias_and_dup_qos2);
    RUN(test_pubrel_5_short_reason_only_and_with_reason_string);
    RUN(test_puback_pubrec_pubcomp_311_are_id_only);
    RUN(test_puback_5_with_reason_and_no_properties);
    RUN(test_subscribe_5_with_options_and_subscription_id);
    RUN(test_subscribe_311_writes_qos_only_options);
    RUN(test_unsubscribe_311);
    RUN(test_suback_and_unsuback_vectors);
    RUN(test_pingreq_and_pingresp);
    RUN(test_disconnect_5_short_and_with_will_reason_and_expiry);
    RUN(test_auth_5_with_method_and_data);
    RUN(test_auth_5_short_form_and_reason_without_properties);
    RUN(test_qos_3_is_refused_in_publish_will_and_subscribe);
    RUN(test_dup_on_qos0_publish_is_refused);
    RUN(test_packet_id_0_is_refused_where_one_is_needed);
    RUN(test_strings_over_65535_bytes_are_too_big);
    RUN(test_remaining_length_over_268435455_is_too_big);
    RUN(test_property_not_allowed_in_the_packet_is_refused);
    RUN(test_property_values_out_of_range_are_refused);
    RUN(test_subscription_identifier_rules);
    RUN(test_invalid_utf8_is_refused_with_the_checker_code);
    RUN(test_auth_below_level_5_is_a_version_error);
    RUN(test_unknown_levels_and_types_are_refused);
    RUN(test_publish_topic_with_wildcard_is_refused);
    RUN(test_empty_publish_topic_needs_a_v5_topic_alias);
    RUN(test_empty_subscribe_and_unsubscribe_are_refused);
    RUN(test_bad_subscription_options_are_refused);
    RUN(test_reason_codes_are_checked_per_packet_and_level);
    RUN(test_password_without_username_is_refused_before_5);
    RUN(test_slice_with_length_but_no_bytes_is_refused);
    RUN(test_buffer_one_byte_short_is_refused_and_not_overrun);
    RUN(test_client_publish_with_subscription_id_is_refused);
    RUN(test_server_disconnect_with_session_expiry_is_refused);
    RUN(test_one_sided_reason_codes_are_refused_from_the_other_side);
    RUN(test_packet_types_of_the_other_side_are_refused);
    RUN(test_encode_as_refuses_an_unknown_direction);
    RUN(test_empty_response_topic_is_refused);
    RUN(test_31_pubrel_is_written_without_dup);
    return check_done();
}
