/* MQTT data representations [MQTT-1.5]: variable byte integers, UTF-8
 * strings, and the MQTT 5 property table. */
#include "check.h"
#include "codec/codec.h"

static void test_varint_sizes_follow_the_spec_boundaries(void)
{
    /* [MQTT-1.5.5] Table 1-1 */
    CHECK_INT(lmq_varint_size(0), 1);
    CHECK_INT(lmq_varint_size(127), 1);
    CHECK_INT(lmq_varint_size(128), 2);
    CHECK_INT(lmq_varint_size(16383), 2);
    CHECK_INT(lmq_varint_size(16384), 3);
    CHECK_INT(lmq_varint_size(2097151), 3);
    CHECK_INT(lmq_varint_size(2097152), 4);
    CHECK_INT(lmq_varint_size(268435455), 4);
    CHECK_INT(lmq_varint_size(268435456), 0);
}

static void test_varint_bytes_match_table_1_1(void)
{
    static const struct { uint32_t v; uint8_t b[4]; int n; } t[] = {
        { 0, { 0x00 }, 1 },
        { 127, { 0x7F }, 1 },
        { 128, { 0x80, 0x01 }, 2 },
        { 16383, { 0xFF, 0x7F }, 2 },
        { 16384, { 0x80, 0x80, 0x01 }, 3 },
        { 2097151, { 0xFF, 0xFF, 0x7F }, 3 },
        { 2097152, { 0x80, 0x80, 0x80, 0x01 }, 4 },
        { 268435455, { 0xFF, 0xFF, 0xFF, 0x7F }, 4 },
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        uint8_t buf[4];
        uint32_t v = 0;
        CHECK_INT(lmq_varint_put(buf, t[i].v), t[i].n);
        CHECK_MEM(buf, t[i].b, (size_t)t[i].n);
        CHECK_INT(lmq_varint_get(t[i].b, (size_t)t[i].n, &v), t[i].n);
        CHECK_INT(v, t[i].v);
        /* every shorter prefix asks for more bytes */
        for (int k = 0; k < t[i].n; k++)
            CHECK_INT(lmq_varint_get(t[i].b, (size_t)k, &v), 0);
    }
}

static void test_varint_over_four_bytes_is_malformed(void)
{
    static const uint8_t five[] = { 0x80, 0x80, 0x80, 0x80, 0x01 };
    uint32_t v;
    CHECK_INT(lmq_varint_get(five, sizeof five, &v), LMQ_EMAL_VARINT);
    CHECK_INT(lmq_varint_get(five, 4, &v), LMQ_EMAL_VARINT);
}

static void test_varint_not_in_shortest_form_is_malformed(void)
{
    /* [MQTT-1.5.5-1] 0x80 0x00 encodes 0 in two bytes */
    static const uint8_t two[] = { 0x80, 0x00 };
    static const uint8_t three[] = { 0xFF, 0x80, 0x00 };
    uint32_t v;
    CHECK_INT(lmq_varint_get(two, sizeof two, &v), LMQ_EMAL_VARINT_LONG);
    CHECK_INT(lmq_varint_get(three, sizeof three, &v), LMQ_EMAL_VARINT_LONG);
}

#define U8(s) (const uint8_t *)(s), sizeof(s) - 1

static void test_utf8_well_formed_strings_pass(void)
{
    CHECK_INT(lmq_utf8_check(U8("")), 0);
    CHECK_INT(lmq_utf8_check(U8("home/kitchen/temp")), 0);
    CHECK_INT(lmq_utf8_check(U8("caf\xC3\xA9")), 0);                /* U+00E9 */
    CHECK_INT(lmq_utf8_check(U8("\xE2\x82\xAC")), 0);               /* U+20AC */
    CHECK_INT(lmq_utf8_check(U8("\xF0\x9F\x98\x80")), 0);           /* U+1F600 */
    CHECK_INT(lmq_utf8_check(U8("\xF4\x8F\xBF\xBF")), 0);           /* U+10FFFF */
    CHECK_INT(lmq_utf8_check(U8("\xEF\xBB\xBF" "a")), 0);           /* BOM kept [MQTT-1.5.4-3] */
}

static void test_utf8_ill_formed_strings_are_rejected(void)
{
    /* [MQTT-1.5.4-1] */
    CHECK_INT(lmq_utf8_check(U8("\xC0\xAF")), LMQ_EUTF8);           /* overlong '/' */
    CHECK_INT(lmq_utf8_check(U8("\xE0\x80\xAF")), LMQ_EUTF8);       /* overlong */
    CHECK_INT(lmq_utf8_check(U8("\xED\xA0\x80")), LMQ_EUTF8);       /* U+D800 surrogate */
    CHECK_INT(lmq_utf8_check(U8("\xED\xBF\xBF")), LMQ_EUTF8);       /* U+DFFF surrogate */
    CHECK_INT(lmq_utf8_check(U8("\xF4\x90\x80\x80")), LMQ_EUTF8);   /* U+110000 */
    CHECK_INT(lmq_utf8_check(U8("\x80")), LMQ_EUTF8);               /* stray continuation */
    CHECK_INT(lmq_utf8_check(U8("\xC3")), LMQ_EUTF8);               /* truncated */
    CHECK_INT(lmq_utf8_check(U8("\xC3" "a")), LMQ_EUTF8);           /* bad continuation */
    CHECK_INT(lmq_utf8_check(U8("\xFF")), LMQ_EUTF8);
}

static void test_utf8_nul_is_rejected(void)
{
    /* [MQTT-1.5.4-2] */
    CHECK_INT(lmq_utf8_check(U8("a\0b")), LMQ_EUTF8_NUL);
}

static void test_property_table_covers_every_mqtt5_property(void)
{
    static const uint8_t ids[] = {
        0x01, 0x02, 0x03, 0x08, 0x09, 0x0B, 0x11, 0x12, 0x13, 0x15, 0x16,
        0x17, 0x18, 0x19, 0x1A, 0x1C, 0x1F, 0x21, 0x22, 0x23, 0x24, 0x25,
        0x26, 0x27, 0x28, 0x29, 0x2A,
    };
    uint32_t seen = 0;
    for (size_t i = 0; i < sizeof ids; i++) {
        const lmq_prop_info *p = lmq_prop_lookup(ids[i]);
        CHECK(p != NULL);
        if (!p)
            continue;
        CHECK_INT(p->id, ids[i]);
        CHECK(p->index < 32);
        CHECK((seen & (1u << p->index)) == 0);     /* indexes are distinct */
        seen |= 1u << p->index;
    }
    int unknown = 0;
    for (int id = 0; id < 256; id++)
        unknown += lmq_prop_lookup((uint8_t)id) == NULL;
    CHECK_INT(unknown, 256 - (int)sizeof ids);
}

static void test_property_placement_matches_the_spec(void)
{
    CHECK(lmq_prop_lookup(LMQ_PROP_WILL_DELAY)->where == LMQ_IN_WILL);
    CHECK(lmq_prop_lookup(LMQ_PROP_TOPIC_ALIAS)->where == LMQ_IN(LMQ_PUBLISH));
    CHECK(lmq_prop_lookup(LMQ_PROP_USER)->repeat);
    CHECK(!lmq_prop_lookup(LMQ_PROP_REASON_STRING)->repeat);
    CHECK((lmq_prop_lookup(LMQ_PROP_REASON_STRING)->where & LMQ_IN(LMQ_PUBLISH)) == 0);
    CHECK(lmq_prop_lookup(LMQ_PROP_SESSION_EXPIRY)->where & LMQ_IN(LMQ_DISCONNECT));
}

static void test_props_presence_bits(void)
{
    lmq_props p = { 0 };
    CHECK(!lmq_props_has(&p, LMQ_PROP_TOPIC_ALIAS));
    p.topic_alias = 7;
    lmq_props_set(&p, LMQ_PROP_TOPIC_ALIAS);
    CHECK(lmq_props_has(&p, LMQ_PROP_TOPIC_ALIAS));
    CHECK(!lmq_props_has(&p, LMQ_PROP_MESSAGE_EXPIRY));
    CHECK(!lmq_props_has(&p, 0x7F));
}

/* The table's size is what the encoder's "known property" mask and the
 * presence bits are derived from: every entry has the index of its place
 * and lookup by id finds it. */
static void test_prop_count_matches_the_table(void)
{
    unsigned n = lmq_prop_count();
    CHECK_INT(n, 27);                               /* MQTT 5 Table 2-4 */
    CHECK(lmq_prop_at(n) == NULL);
    for (unsigned i = 0; i < n; i++) {
        const lmq_prop_info *info = lmq_prop_at(i);
        CHECK(info != NULL);
        if (!info)
            continue;
        CHECK_INT(info->index, i);
        CHECK(lmq_prop_lookup(info->id) == info);
        if (i > 0)
            CHECK(lmq_prop_at(i - 1)->id < info->id);   /* identifier order */
    }
}

/* One range rule for both directions. */
static void test_prop_value_ranges(void)
{
    /* every one-byte property is a 0/1 flag */
    for (unsigned i = 0; lmq_prop_at(i); i++) {
        const lmq_prop_info *info = lmq_prop_at(i);
        if (info->kind != LMQ_PK_BYTE)
            continue;
        CHECK_INT(lmq_codec_check_prop_value(info->id, 0), 0);
        CHECK_INT(lmq_codec_check_prop_value(info->id, 1), 0);
        CHECK_INT(lmq_codec_check_prop_value(info->id, 2), LMQ_EMAL_PROP_VALUE);
    }
    CHECK_INT(lmq_codec_check_prop_value(LMQ_PROP_RECEIVE_MAXIMUM, 0), LMQ_EMAL_PROP_VALUE);
    CHECK_INT(lmq_codec_check_prop_value(LMQ_PROP_MAXIMUM_PACKET_SIZE, 0), LMQ_EMAL_PROP_VALUE);
    CHECK_INT(lmq_codec_check_prop_value(LMQ_PROP_TOPIC_ALIAS, 0), LMQ_EMAL_PROP_VALUE);  /* [MQTT-3.3.2-8] */
    CHECK_INT(lmq_codec_check_prop_value(LMQ_PROP_TOPIC_ALIAS, 1), 0);
    CHECK_INT(lmq_codec_check_prop_value(LMQ_PROP_TOPIC_ALIAS_MAXIMUM, 0), 0);
    CHECK_INT(lmq_codec_check_prop_value(LMQ_PROP_SUBSCRIPTION_ID, 0), LMQ_EMAL_PROP_VALUE);
    CHECK_INT(lmq_codec_check_prop_value(LMQ_PROP_SUBSCRIPTION_ID, 268435455), 0);
    CHECK_INT(lmq_codec_check_prop_value(LMQ_PROP_SUBSCRIPTION_ID, 268435456), LMQ_EMAL_PROP_VALUE);
    CHECK_INT(lmq_codec_check_prop_value(LMQ_PROP_SESSION_EXPIRY, 0xFFFFFFFFu), 0);
    CHECK_INT(lmq_codec_check_prop_value(0x7F, 0), LMQ_EMAL_PROP_ID);
}

/* [MQTT-3.3.4-6] [MQTT-3.14.2-2]; nothing is judged without a sender. */
static void test_prop_sender_rules(void)
{
    CHECK_INT(lmq_codec_check_prop_sender(LMQ_PROP_SUBSCRIPTION_ID, LMQ_PUBLISH,
                                          LMQ_FROM_CLIENT), LMQ_EMAL_PROP_PACKET);
    CHECK_INT(lmq_codec_check_prop_sender(LMQ_PROP_SUBSCRIPTION_ID, LMQ_PUBLISH,
                                          LMQ_FROM_SERVER), 0);
    CHECK_INT(lmq_codec_check_prop_sender(LMQ_PROP_SUBSCRIPTION_ID, LMQ_SUBSCRIBE,
                                          LMQ_FROM_CLIENT), 0);
    CHECK_INT(lmq_codec_check_prop_sender(LMQ_PROP_SESSION_EXPIRY, LMQ_DISCONNECT,
                                          LMQ_FROM_SERVER), LMQ_EMAL_PROP_PACKET);
    CHECK_INT(lmq_codec_check_prop_sender(LMQ_PROP_SESSION_EXPIRY, LMQ_DISCONNECT,
                                          LMQ_FROM_CLIENT), 0);
    CHECK_INT(lmq_codec_check_prop_sender(LMQ_PROP_SUBSCRIPTION_ID, LMQ_PUBLISH,
                                          LMQ_FROM_EITHER), 0);
}

/* Authentication Data needs an Authentication Method (3.1.2.11.10). */
static void test_auth_data_needs_auth_method(void)
{
    lmq_props p = { 0 };
    CHECK_INT(lmq_codec_check_props(&p), 0);
    lmq_props_set(&p, LMQ_PROP_AUTH_DATA);
    CHECK_INT(lmq_codec_check_props(&p), LMQ_EMAL_PROP_VALUE);
    lmq_props_set(&p, LMQ_PROP_AUTH_METHOD);
    CHECK_INT(lmq_codec_check_props(&p), 0);
}

#define SL(lit) ((lmq_slice){ (const uint8_t *)(lit), (uint32_t)(sizeof(lit) - 1) })

/* [MQTT-4.7.3-1] not empty (unless a topic alias stands in for it),
 * [MQTT-3.3.2-2] no wildcard. */
static void test_topic_name_in_a_packet(void)
{
    CHECK_INT(lmq_codec_check_topic_name(SL("a/b"), 0), 0);
    CHECK_INT(lmq_codec_check_topic_name(SL("$SYS/x"), 0), 0);
    CHECK_INT(lmq_codec_check_topic_name(SL(""), 0), LMQ_ETOPIC_EMPTY);
    CHECK_INT(lmq_codec_check_topic_name(SL(""), 1), 0);
    CHECK_INT(lmq_codec_check_topic_name((lmq_slice){ NULL, 0 }, 0), LMQ_ETOPIC_EMPTY);
    CHECK_INT(lmq_codec_check_topic_name(SL("a/+"), 0), LMQ_ETOPIC_WILDCARD);
    CHECK_INT(lmq_codec_check_topic_name(SL("#"), 1), LMQ_ETOPIC_WILDCARD);
    CHECK_INT(lmq_codec_check_topic_name((lmq_slice){ NULL, 3 }, 0), LMQ_EINVAL);
}

/* Section 3.8.3.1, per level. */
static void test_subscription_options(void)
{
    lmq_slice f = SL("a/b");
    CHECK_INT(lmq_codec_check_subopts(4, 0x02, f), 0);
    CHECK_INT(lmq_codec_check_subopts(4, 0x03, f), LMQ_EMAL_SUB_OPTS);     /* QoS 3 */
    CHECK_INT(lmq_codec_check_subopts(3, 0x04, f), LMQ_EMAL_SUB_OPTS);     /* 3.x: QoS only */
    CHECK_INT(lmq_codec_check_subopts(5, 0x2D, f), 0);   /* QoS 1, NL, RAP, RH 2 */
    CHECK_INT(lmq_codec_check_subopts(5, 0x40, f), LMQ_EMAL_SUB_OPTS);     /* [MQTT-3.8.3-5] */
    CHECK_INT(lmq_codec_check_subopts(5, 0x30, f), LMQ_EMAL_SUB_OPTS);     /* RH 3 */
    /* [MQTT-3.8.3-4] No Local on a shared subscription; "shared" is the
     * topic module's "$share/" test, malformed ones included */
    CHECK_INT(lmq_codec_check_subopts(5, 0x04, SL("$share/g/a")), LMQ_EMAL_SUB_OPTS);
    CHECK_INT(lmq_codec_check_subopts(5, 0x04, SL("$share//a")), LMQ_EMAL_SUB_OPTS);
    CHECK_INT(lmq_codec_check_subopts(5, 0x00, SL("$share/g/a")), 0);
    CHECK_INT(lmq_codec_check_subopts(5, 0x04, SL("$shared/a")), 0);
}

int main(void)
{
    RUN(test_varint_sizes_follow_the_spec_boundaries);
    RUN(test_varint_bytes_match_table_1_1);
    RUN(test_varint_over_four_bytes_is_malformed);
    RUN(test_varint_not_in_shortest_form_is_malformed);
    RUN(test_utf8_well_formed_strings_pass);
    RUN(test_utf8_ill_formed_strings_are_rejected);
    RUN(test_utf8_nul_is_rejected);
    RUN(test_property_table_covers_every_mqtt5_property);
    RUN(test_property_placement_matches_the_spec);
    RUN(test_props_presence_bits);
    RUN(test_prop_count_matches_the_table);
    RUN(test_prop_value_ranges);
    RUN(test_prop_sender_rules);
    RUN(test_auth_data_needs_auth_method);
    RUN(test_topic_name_in_a_packet);
    RUN(test_subscription_options);
    return check_done();
}
