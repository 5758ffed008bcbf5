/*
 * test_proplist.c - lmq_proplist (what an application sends as MQTT 5
 * properties), its conversion for one packet type, and the lmq_event_prop_*
 * readers of a received property block.
 */
#include "check.h"
#include "codec/codec.h"
#include "session/session_int.h"

static void test_add_int_checks_id_kind_and_range(void)
{
    lmq_proplist *pl = lmq_proplist_new();
    CHECK(pl != NULL);
    CHECK_INT(lmq_proplist_add_int(pl, 0x04, 1), LMQ_EINVAL);       /* unknown id */
    CHECK_INT(lmq_proplist_add_int(pl, 0x300, 1), LMQ_EINVAL);
    CHECK_INT(lmq_proplist_add_int(pl, LMQ_PROP_CONTENT_TYPE, 1), LMQ_EINVAL); /* a string */
    CHECK_INT(lmq_proplist_add_int(pl, LMQ_PROP_MAXIMUM_QOS, 256), LMQ_EINVAL);
    CHECK_INT(lmq_proplist_add_int(pl, LMQ_PROP_RECEIVE_MAXIMUM, 65536), LMQ_EINVAL);
    CHECK_INT(lmq_proplist_add_int(pl, LMQ_PROP_RECEIVE_MAXIMUM, 0), LMQ_EINVAL);
    CHECK_INT(lmq_proplist_add_int(pl, LMQ_PROP_SUBSCRIPTION_ID, 268435456), LMQ_EINVAL);
    CHECK_INT(lmq_proplist_add_int(pl, LMQ_PROP_SUBSCRIPTION_ID, 0), LMQ_EINVAL);
    CHECK_INT(lmq_proplist_add_int(pl, LMQ_PROP_PAYLOAD_FORMAT, 2), LMQ_EINVAL);
    CHECK_INT(lmq_proplist_add_int(pl, LMQ_PROP_MESSAGE_EXPIRY, -1), LMQ_EINVAL);
    CHECK_INT(lmq_proplist_add_int(pl, LMQ_PROP_MESSAGE_EXPIRY, 0xFFFFFFFFll), 0);
    CHECK_INT(lmq_proplist_add_int(pl, LMQ_PROP_SUBSCRIPTION_ID, 268435455), 0);
    CHECK_INT(lmq_proplist_add_int(NULL, LMQ_PROP_MESSAGE_EXPIRY, 1), LMQ_EINVAL);
    lmq_proplist_free(pl);
}

static void test_add_str_checks_utf8_for_utf8_kinds_only(void)
{
    lmq_proplist *pl = lmq_proplist_new();
    /* [MQTT-1.5.4-1] ill-formed, [MQTT-1.5.4-2] U+0000 */
    CHECK_INT(lmq_proplist_add_str(pl, LMQ_PROP_CONTENT_TYPE, "\xC0\x80", 2), LMQ_EUTF8);
    CHECK_INT(lmq_proplist_add_str(pl, LMQ_PROP_CONTENT_TYPE, "a\0b", 3), LMQ_EUTF8_NUL);
    CHECK_INT(lmq_proplist_add_str(pl, LMQ_PROP_CORRELATION_DATA, "\xC0\x00", 2), 0); /* binary */
    CHECK_INT(lmq_proplist_add_str(pl, LMQ_PROP_MESSAGE_EXPIRY, "x", 1), LMQ_EINVAL); /* an int */
    CHECK_INT(lmq_proplist_add_str(pl, LMQ_PROP_USER, "x", 1), LMQ_EINVAL); /* use add_user */
    CHECK_INT(lmq_proplist_add_str(pl, LMQ_PROP_CONTENT_TYPE, "text/plain", -1), 0);
    CHECK_INT(lmq_proplist_add_user(pl, "k", -1, "\xFF", 1), LMQ_EUTF8);
    lmq_proplist_free(pl);
}

static void test_conversion_fills_fields_and_keeps_user_order(void)
{
    lmq_proplist *pl = lmq_proplist_new();
    lmq_proplist_add_user(pl, "a", -1, "1", -1);
    lmq_proplist_add_int(pl, LMQ_PROP_MESSAGE_EXPIRY, 60);
    lmq_proplist_add_user(pl, "b", -1, "", 0);
    lmq_proplist_add_str(pl, LMQ_PROP_RESPONSE_TOPIC, "r/1", -1);
    lmq_props p;
    CHECK_INT(lmq_proplist_props(pl, LMQ_IN(LMQ_PUBLISH), &p), 0);
    CHECK_INT(p.message_expiry, 60);
    CHECK(lmq_props_has(&p, LMQ_PROP_MESSAGE_EXPIRY));
    CHECK_INT(p.response_topic.n, 3);
    CHECK_INT(p.n_user, 2);
    CHECK_MEM(p.user[0].key.p, "a", 1);
    CHECK_MEM(p.user[1].key.p, "b", 1);
    CHECK(p.user[1].val.p != NULL && p.user[1].val.n == 0);    /* present, empty */
    /* it encodes as a real PUBLISH would */
    lmq_packet pkt;
    memset(&pkt, 0, sizeof pkt);
    pkt.type = LMQ_PUBLISH;
    pkt.u.publish.topic = (lmq_slice){ (const uint8_t *)"t", 1 };
    pkt.u.publish.props = p;
    uint8_t buf[128];
    int64_t n = lmq_encode_as(&pkt, 5, LMQ_FROM_SERVER, buf, sizeof buf);
    CHECK(n > 0);
    lmq_packet back;
    CHECK_INT(lmq_decode(buf, (size_t)n, 5, LMQ_FROM_SERVER, &back), 0);
    CHECK_INT(back.u.publish.props.n_user, 2);
    lmq_proplist_free(pl);
}

static void test_conversion_refuses_properties_not_allowed_there(void)
{
    lmq_proplist *pl = lmq_proplist_new();
    lmq_proplist_add_int(pl, LMQ_PROP_SESSION_EXPIRY, 10);
    lmq_props p;
    CHECK_INT(lmq_proplist_props(pl, LMQ_IN(LMQ_PUBLISH), &p), LMQ_EINVAL);
    CHECK_INT(lmq_proplist_props(pl, LMQ_IN(LMQ_CONNECT), &p), 0);
    CHECK_INT(lmq_proplist_props(pl, LMQ_IN_WILL, &p), LMQ_EINVAL);
    lmq_proplist_clear(pl);
    lmq_proplist_add_int(pl, LMQ_PROP_WILL_DELAY, 10);
    CHECK_INT(lmq_proplist_props(pl, LMQ_IN_WILL, &p), 0);
    CHECK_INT(lmq_proplist_props(pl, LMQ_IN(LMQ_CONNECT), &p), LMQ_EINVAL);
    /* once-only properties twice */
    lmq_proplist_clear(pl);
    lmq_proplist_add_int(pl, LMQ_PROP_SUBSCRIPTION_ID, 1);
    lmq_proplist_add_int(pl, LMQ_PROP_SUBSCRIPTION_ID, 2);
    CHECK_INT(lmq_proplist_props(pl, LMQ_IN(LMQ_SUBSCRIBE), &p), LMQ_EINVAL);
    lmq_proplist_clear(pl);
    lmq_proplist_add_str(pl, LMQ_PROP_REASON_STRING, "x", 1);
    lmq_proplist_add_str(pl, LMQ_PROP_REASON_STRING, "y", 1);
    CHECK_INT(lmq_proplist_props(pl, LMQ_IN(LMQ_DISCONNECT), &p), LMQ_EINVAL);
    /* empty and NULL lists are fine anywhere */
    lmq_proplist_clear(pl);
    CHECK_INT(lmq_proplist_props(pl, LMQ_IN(LMQ_AUTH), &p), 0);
    CHECK_INT(p.present, 0);
    CHECK_INT(lmq_proplist_props(NULL, LMQ_IN(LMQ_AUTH), &p), 0);
    lmq_proplist_free(pl);
    lmq_proplist_free(NULL);
    lmq_proplist_clear(NULL);
}

static void test_dup_is_a_deep_copy(void)
{
    lmq_proplist *pl = lmq_proplist_new();
    lmq_proplist_add_user(pl, "k", -1, "v", -1);
    lmq_proplist_add_str(pl, LMQ_PROP_CONTENT_TYPE, "ct", -1);
    lmq_proplist_add_int(pl, LMQ_PROP_MESSAGE_EXPIRY, 5);
    int rc;
    lmq_proplist *c = lmq_proplist_dup(pl, &rc);
    CHECK_INT(rc, 0);
    lmq_proplist_free(pl);
    lmq_props p;
    CHECK_INT(lmq_proplist_props(c, LMQ_IN(LMQ_PUBLISH), &p), 0);
    CHECK_INT(p.n_user, 1);
    CHECK_MEM(p.user[0].val.p, "v", 1);
    CHECK_MEM(p.content_type.p, "ct", 2);
    CHECK_INT(p.message_expiry, 5);
    CHECK(lmq_proplist_dup(NULL, &rc) == NULL && rc == 0);
    lmq_proplist_free(c);
}

/* ------------------------------------------------------ event readers */

static void test_event_prop_readers(void)
{
    /* a property block as a server would send it: Reason String "ok",
     * Subscription Identifier 5 and 300, User Property (a, b), (c, d) */
    static const uint8_t raw[] = { 0x1F, 0, 2, 'o', 'k', 0x0B, 5, 0x0B, 0xAC, 0x02,
                                   0x26, 0, 1, 'a', 0, 1, 'b', 0x26, 0, 1, 'c', 0, 1, 'd' };
    lmq_event ev;
    memset(&ev, 0, sizeof ev);
    ev.props = raw;
    ev.props_len = sizeof raw;
    int64_t v = 0;
    const char *s, *k, *val;
    int32_t n, kn, vn;
    CHECK_INT(lmq_event_prop_int(&ev, LMQ_PROP_SUBSCRIPTION_ID, 0, &v), 1);
    CHECK_INT(v, 5);
    CHECK_INT(lmq_event_prop_int(&ev, LMQ_PROP_SUBSCRIPTION_ID, 1, &v), 1);
    CHECK_INT(v, 300);
    CHECK_INT(lmq_event_prop_int(&ev, LMQ_PROP_SUBSCRIPTION_ID, 2, &v), 0);
    CHECK_INT(lmq_event_prop_int(&ev, LMQ_PROP_MESSAGE_EXPIRY, 0, &v), 0);
    CHECK_INT(lmq_event_prop_int(&ev, LMQ_PROP_REASON_STRING, 0, &v), LMQ_EINVAL);
    CHECK_INT(lmq_event_prop_str(&ev, LMQ_PROP_REASON_STRING, &s, &n), 1);
    CHECK_INT(n, 2);
    CHECK_MEM(s, "ok", 2);
    CHECK_INT(lmq_event_prop_str(&ev, LMQ_PROP_CONTENT_TYPE, &s, &n), 0);
    CHECK_INT(lmq_event_prop_user(&ev, 1, &k, &kn, &val, &vn), 1);
    CHECK(kn == 1 && k[0] == 'c' && vn == 1 && val[0] == 'd');
    CHECK_INT(lmq_event_prop_user(&ev, 2, &k, &kn, &val, &vn), 0);
    /* no block at all */
    memset(&ev, 0, sizeof ev);
    CHECK_INT(lmq_event_prop_str(&ev, LMQ_PROP_REASON_STRING, &s, &n), 0);
    CHECK_INT(lmq_event_prop_user(&ev, 0, &k, &kn, &val, &vn), 0);
    /* a truncated block ends the walk instead of reading past it */
    static const uint8_t cut[] = { 0x1F, 0, 9, 'o' };
    ev.props = cut;
    ev.props_len = sizeof cut;
    CHECK_INT(lmq_event_prop_str(&ev, LMQ_PROP_REASON_STRING, &s, &n), 0);
}

int main(void)
{
    RUN(test_add_int_checks_id_kind_and_range);
    RUN(test_add_str_checks_utf8_for_utf8_kinds_only);
    RUN(test_conversion_fills_fields_and_keeps_user_order);
    RUN(test_conversion_refuses_properties_not_allowed_there);
    RUN(test_dup_is_a_deep_copy);
    RUN(test_event_prop_readers);
    return check_done();
}
