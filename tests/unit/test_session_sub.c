/*
 * test_session_sub.c - SUBSCRIBE / UNSUBSCRIBE through the session: bytes,
 * v5 options and properties, reason codes, checks made before anything is
 * sent, requests made offline, and automatic re-subscription when the
 * server comes back without our session.
 */
#include "test_session_fx.h"

static int sub1(fx *f, const char *filter, int options, const lmq_proplist *pl)
{
    lmq_subscription s = { filter, -1, options };
    return lmq_session_subscribe(f->s, &s, 1, pl, f->now);
}

static lmq_packet suback(int type, int pid, const uint8_t *codes, int n)
{
    lmq_packet p;
    memset(&p, 0, sizeof p);
    p.type = (uint8_t)type;
    p.u.suback.packet_id = (uint16_t)pid;
    p.u.suback.reasons = (lmq_slice){ codes, (uint32_t)n };
    return p;
}

static void test_subscribe_bytes_at_311_and_suback(void)
{
    fx f;
    fx_init(&f, 4);
    fx_connect(&f, 0);
    int id = sub1(&f, "a/+", 1, NULL);
    CHECK(id > 0);
    /* [MQTT-3.8.1-1] flags 0010 */
    static const uint8_t want[] = { 0x82, 0x08, 0, 1, 0, 3, 'a', '/', '+', 0x01 };
    fx_drain(&f);
    CHECK_INT(f.on - f.opos, sizeof want);
    CHECK_MEM(f.ob + f.opos, want, sizeof want);
    static const uint8_t codes[] = { 0x01 };
    lmq_packet sa = suback(LMQ_SUBACK, 1, codes, 1);
    CHECK_INT(fx_feed(&f, &sa), 0);
    fx_events(&f);
    const lmq_event *ev = fx_find(&f, LMQ_EV_SUBSCRIBED);
    CHECK(ev && ev->msg_id == id && ev->n_reasons == 1 && ev->reasons[0] == 1);
    fx_free(&f);
}

static void test_subscribe_v5_several_filters_options_and_identifier(void)
{
    fx f;
    fx_init(&f, 5);
    fx_connect(&f, 0);
    lmq_subscription subs[2] = {
        { "home/#", -1, 0x01 | 0x04 | 0x08 | 0x20 },   /* QoS 1, NL, RAP, RH 2 */
        { "$share/g/work/+", 15, 0x02 },
    };
    lmq_proplist *pl = lmq_proplist_new();
    lmq_proplist_add_int(pl, LMQ_PROP_SUBSCRIPTION_ID, 42);
    lmq_proplist_add_user(pl, "who", -1, "me", -1);
    int id = lmq_session_subscribe(f.s, subs, 2, pl, f.now);
    CHECK(id > 0);
    CHECK_INT(fx_next(&f), LMQ_SUBSCRIBE);
    const lmq_subscribe *sp = &f.pkt.u.subscribe;
    CHECK_INT(sp->count, 2);
    CHECK_INT(sp->props.sub_id, 42);
    CHECK_INT(sp->props.n_user, 1);
    uint32_t pos = 0;
    lmq_sub_entry e;
    CHECK(lmq_subs_next(sp, LMQ_SUBSCRIBE, &pos, &e));
    CHECK_INT(e.options, 0x2D);
    CHECK(lmq_subs_next(sp, LMQ_SUBSCRIBE, &pos, &e));
    CHECK_INT(e.filter.n, 15);
    CHECK_INT(e.options, 2);
    static const uint8_t codes[] = { 0x01, 0x9E };  /* shared subs not supported */
    lmq_packet sa = suback(LMQ_SUBACK, sp->packet_id, codes, 2);
    CHECK_INT(fx_feed(&f, &sa), 0);
    fx_events(&f);
    const lmq_event *ev = fx_find(&f, LMQ_EV_SUBSCRIBED);
    CHECK(ev && ev->n_reasons == 2 && ev->reasons[1] == 0x9E);
    lmq_proplist_free(pl);
    fx_free(&f);
}

static void test_suback_count_mismatch_is_a_protocol_error(void)
{
    fx f;
    fx_init(&f, 5);
    fx_connect(&f, 0);
    lmq_subscription subs[2] = { { "a", -1, 0 }, { "b", -1, 0 } };
    CHECK(lmq_session_subscribe(f.s, subs, 2, NULL, f.now) > 0);
    fx_skip_all(&f);
    static const uint8_t codes[] = { 0x00 };
    lmq_packet sa = suback(LMQ_SUBACK, 1, codes, 1);
    /* [MQTT-3.9.3-1] one reason code per filter */
    CHECK_INT(fx_feed(&f, &sa), LMQ_EPROTOCOL);
    CHECK_INT(fx_next(&f), LMQ_DISCONNECT);
    CHECK_INT(f.pkt.u.disconnect.reason, 0x82);
    fx_free(&f);
}

static void test_suback_for_an_unknown_id_is_ignored(void)
{
    fx f;
    fx_init(&f, 5);
    fx_connect(&f, 0);
    /* [MQTT-3.8.4-2] [MQTT-2.2.1-6] a SUBACK names the id of a SUBSCRIBE
     * in flight; none is: logged, counted and ignored (publish acks alike,
     * test_session_pub) */
    static const uint8_t codes[] = { 0x00 };
    lmq_packet sa = suback(LMQ_SUBACK, 5, codes, 1);
    CHECK_INT(fx_feed(&f, &sa), 0);
    CHECK_INT(fx_next(&f), 0);
    CHECK_INT(lmq_session_state(f.s), LMQ_SS_CONNECTED);
    lmq_session_stats st;
    lmq_session_stats_get(f.s, &st);
    CHECK_INT((int)st.stray_acks, 1);
    fx_free(&f);
}

static void test_bad_filters_and_options_are_refused_before_sending(void)
{
    fx f;
    fx_init(&f, 5);
    fx_connect(&f, 0);
    /* [MQTT-3.8.3-4] No Local on a shared subscription */
    CHECK_INT(sub1(&f, "$share/g/a", 0x04, NULL), LMQ_EINVAL);
    CHECK_INT(sub1(&f, "a/#/b", 0, NULL), LMQ_EFILTER_HASH);    /* [MQTT-4.7.1-1] */
    CHECK_INT(sub1(&f, "a+", 0, NULL), LMQ_EFILTER_PLUS);       /* [MQTT-4.7.1-2] */
    CHECK_INT(sub1(&f, "", 0, NULL), LMQ_ETOPIC_EMPTY);
    CHECK_INT(sub1(&f, "a", 3, NULL), LMQ_EINVAL);              /* QoS 3 */
    CHECK_INT(sub1(&f, "a", 0x30, NULL), LMQ_EINVAL);           /* retain handling 3 */
    CHECK_INT(sub1(&f, "a", 0x40, NULL), LMQ_EINVAL);           /* reserved [MQTT-3.8.3-5] */
    lmq_proplist *pl = lmq_proplist_new();
    lmq_proplist_add_int(pl, LMQ_PROP_MESSAGE_EXPIRY, 5);       /* not a SUBSCRIBE property */
    CHECK_INT(sub1(&f, "a", 0, pl), LMQ_EINVAL);
    lmq_proplist_free(pl);
    const char *bad[] = { "x/#/y" };
    CHECK_INT(lmq_session_unsubscribe(f.s, bad, NULL, 1, NULL, f.now), LMQ_EFILTER_HASH);
    CHECK_INT(fx_next(&f), 0);
    fx_free(&f);
}

static void test_unsubscribe_v5_reports_reasons(void)
{
    fx f;
    fx_init(&f, 5);
    fx_connect(&f, 0);
    const char *filters[] = { "a/b", "c" };
    int32_t lens[] = { 3, -1 };
    int id = lmq_session_unsubscribe(f.s, filters, lens, 2, NULL, f.now);
    CHECK(id > 0);
    CHECK_INT(fx_next(&f), LMQ_UNSUBSCRIBE);
    CHECK_INT(f.pkt.u.subscribe.count, 2);
    /* [MQTT-3.10.4-4] the request completes only with the server's
     * UNSUBACK */
    fx_events(&f);
    CHECK(fx_find(&f, LMQ_EV_UNSUBSCRIBED) == NULL);
    static const uint8_t codes[] = { 0x00, 0x11 };
    lmq_packet ua = suback(LMQ_UNSUBACK, f.pkt.u.subscribe.packet_id, codes, 2);
    CHECK_INT(fx_feed(&f, &ua), 0);
    fx_events(&f);
    const lmq_event *ev = fx_find(&f, LMQ_EV_UNSUBSCRIBED);
    CHECK(ev && ev->msg_id == id && ev->n_reasons == 2 && ev->reasons[1] == 0x11);
    fx_free(&f);
}

static void test_unsubscribe_at_311_has_no_reasons(void)
{
    fx f;
    fx_init(&f, 4);
    fx_connect(&f, 0);
    const char *filters[] = { "a" };
    int id = lmq_session_unsubscribe(f.s, filters, NULL, 1, NULL, f.now);
    static const uint8_t want[] = { 0xA2, 0x05, 0, 1, 0, 1, 'a' };   /* [MQTT-3.10.1-1] */
    fx_drain(&f);
    CHECK_INT(f.on - f.opos, sizeof want);
    CHECK_MEM(f.ob + f.opos, want, sizeof want);
    static const uint8_t ua[] = { 0xB0, 0x02, 0, 1 };
    CHECK_INT(fx_feed_bytes(&f, ua, sizeof ua), 0);
    fx_events(&f);
    const lmq_event *ev = fx_find(&f, LMQ_EV_UNSUBSCRIBED);
    CHECK(ev && ev->msg_id == id && ev->n_reasons == 0);
    fx_free(&f);
}

static void test_subscribe_while_offline_goes_out_after_connack(void)
{
    fx f;
    fx_init(&f, 4);
    int id = sub1(&f, "early/#", 0, NULL);
    CHECK(id > 0);
    fx_pub(&f, "t", "x", 0);
    fx_connect(&f, 0);
    /* subscriptions first, then the queued messages */
    CHECK_INT(fx_next(&f), LMQ_SUBSCRIBE);
    CHECK_INT(fx_next(&f), LMQ_PUBLISH);
    fx_free(&f);
}

static void granted_then_lost(fx *f)
{
    CHECK(sub1(f, "keep/#", 1, NULL) > 0);
    CHECK(sub1(f, "refused", 0, NULL) > 0);
    CHECK(sub1(f, "gone", 0, NULL) > 0);
    static const uint8_t ok[] = { 0x01 }, no[] = { 0x80 }, zero[] = { 0x00 };
    lmq_packet a = suback(LMQ_SUBACK, 1, ok, 1);
    lmq_packet b = suback(LMQ_SUBACK, 2, no, 1);
    lmq_packet c = suback(LMQ_SUBACK, 3, zero, 1);
    CHECK_INT(fx_feed(f, &a), 0);
    CHECK_INT(fx_feed(f, &b), 0);
    CHECK_INT(fx_feed(f, &c), 0);
    const char *un[] = { "gone" };
    CHECK(lmq_session_unsubscribe(f->s, un, NULL, 1, NULL, f->now) > 0);
    lmq_packet u = suback(LMQ_UNSUBACK, 4, NULL, 0);
    CHECK_INT(fx_feed(f, &u), 0);
    fx_reconnect(f);
}

static void test_auto_resubscribe_when_the_server_lost_our_session(void)
{
    fx f;
    fx_init(&f, 4);
    fx_connect(&f, 0);
    granted_then_lost(&f);
    fx_connect(&f, 0);
    /* only what was granted and not unsubscribed since */
    CHECK_INT(fx_next(&f), LMQ_SUBSCRIBE);
    CHECK_INT(f.pkt.u.subscribe.count, 1);
    uint32_t pos = 0;
    lmq_sub_entry e;
    CHECK(lmq_subs_next(&f.pkt.u.subscribe, LMQ_SUBSCRIBE, &pos, &e));
    CHECK_INT(e.filter.n, 6);
    CHECK_MEM(e.filter.p, "keep/#", 6);
    CHECK_INT(e.options, 1);
    CHECK_INT(fx_next(&f), 0);
    static const uint8_t ok[] = { 0x01 };
    lmq_packet a = suback(LMQ_SUBACK, f.pkt.u.subscribe.packet_id, ok, 1);
    CHECK_INT(fx_feed(&f, &a), 0);
    fx_events(&f);
    const lmq_event *ev = fx_find(&f, LMQ_EV_SUBSCRIBED);
    CHECK(ev && ev->msg_id == 0);           /* the session's own request */
    fx_free(&f);
}

static void test_no_resubscribe_with_session_present_or_when_off(void)
{
    fx f;
    fx_init(&f, 4);
    lmq_session_set_int(f.s, LMQ_OPT_CLEAN_START, 0);
    fx_connect(&f, 0);
    granted_then_lost(&f);
    fx_connect(&f, 1);
    CHECK_INT(fx_next(&f), 0);
    fx_free(&f);

    fx_init(&f, 4);
    lmq_session_set_int(f.s, LMQ_OPT_AUTO_RESUBSCRIBE, 0);
    fx_connect(&f, 0);
    granted_then_lost(&f);
    fx_connect(&f, 0);
    CHECK_INT(fx_next(&f), 0);
    fx_free(&f);
}

static void test_resubscribe_keeps_the_subscription_identifier(void)
{
    fx f;
    fx_init(&f, 5);
    fx_connect(&f, 0);
    lmq_proplist *pl = lmq_proplist_new();
    lmq_proplist_add_int(pl, LMQ_PROP_SUBSCRIPTION_ID, 9);
    CHECK(sub1(&f, "s/#", 0, pl) > 0);
    lmq_proplist_free(pl);
    static const uint8_t ok[] = { 0x00 };
    lmq_packet a = suback(LMQ_SUBACK, 1, ok, 1);
    CHECK_INT(fx_feed(&f, &a), 0);
    fx_reconnect(&f);
    fx_connect(&f, 0);
    CHECK_INT(fx_next(&f), LMQ_SUBSCRIBE);
    CHECK_INT(f.pkt.u.subscribe.props.sub_id, 9);
    fx_free(&f);
}

static void test_unanswered_subscribe_is_sent_again_after_reconnect(void)
{
    fx f;
    fx_init(&f, 4);
    fx_connect(&f, 0);
    int id = sub1(&f, "x", 0, NULL);
    fx_reconnect(&f);
    fx_connect(&f, 0);
    CHECK_INT(fx_next(&f), LMQ_SUBSCRIBE);
    static const uint8_t ok[] = { 0x00 };
    lmq_packet a = suback(LMQ_SUBACK, f.pkt.u.subscribe.packet_id, ok, 1);
    CHECK_INT(fx_feed(&f, &a), 0);
    fx_events(&f);
    const lmq_event *ev = fx_find(&f, LMQ_EV_SUBSCRIBED);
    CHECK(ev && ev->msg_id == id);
    fx_free(&f);
}

static void test_subscribe_over_the_server_maximum_packet_size_fails_at_once(void)
{
    fx f;
    fx_init(&f, 5);
    lmq_packet ca = fx_connack(0, 0);
    ca.u.connack.props.maximum_packet_size = 16;
    lmq_props_set(&ca.u.connack.props, LMQ_PROP_MAXIMUM_PACKET_SIZE);
    fx_connect_with(&f, &ca);
    /* [MQTT-3.1.2-24] 2 + 2 + 1 + 2 + 10 + 1 = 18 > 16 */
    CHECK_INT(sub1(&f, "0123456789", 0, NULL), LMQ_ESERVER_MAX_SIZE);
    CHECK_INT(fx_next(&f), 0);
    fx_events(&f);
    CHECK_INT(fx_count(&f, LMQ_EV_SUBSCRIBED), 0);
    CHECK(sub1(&f, "0123", 0, NULL) > 0);
    CHECK_INT(fx_next(&f), LMQ_SUBSCRIBE);
    CHECK_INT(f.pkt.u.subscribe.count, 1);
    fx_free(&f);
}

/* Section 3.2.2.3.12 (no numbered statement): a server whose CONNACK says
 * Subscription Identifier Available 0 would take a SUBSCRIBE carrying one
 * as a Protocol Error.  The call fails with LMQ_ESUB_ID_NOT_SUPPORTED and
 * nothing is sent; one queued offline fails by its event; without an
 * identifier it goes out.  (With the property absent identifiers are
 * available: test_subscribe_v5_several_filters_options_and_identifier.) */
static void test_subscription_identifier_refused_when_the_server_has_none(void)
{
    fx f;
    fx_init(&f, 5);
    lmq_proplist *pl = lmq_proplist_new();
    CHECK_INT(lmq_proplist_add_int(pl, LMQ_PROP_SUBSCRIPTION_ID, 7), 0);
    int queued = sub1(&f, "early/#", 0, pl);   /* offline: waits for CONNACK */
    CHECK(queued > 0);
    lmq_packet ca = fx_connack(0, 0);
    ca.u.connack.props.sub_id_available = 0;
    lmq_props_set(&ca.u.connack.props, LMQ_PROP_SUB_ID_AVAILABLE);
    fx_connect_with(&f, &ca);
    CHECK_INT(fx_next(&f), 0);                 /* the queued one did not go */
    const lmq_event *ev = fx_find(&f, LMQ_EV_SUBSCRIBED);   /* (pulled at CONNACK) */
    CHECK(ev && ev->msg_id == queued && ev->error == LMQ_ESUB_ID_NOT_SUPPORTED);
    CHECK_INT(sub1(&f, "a/+", 1, pl), LMQ_ESUB_ID_NOT_SUPPORTED);
    CHECK_INT(fx_next(&f), 0);
    CHECK(sub1(&f, "a/+", 1, NULL) > 0);
    CHECK_INT(fx_next(&f), LMQ_SUBSCRIBE);
    CHECK(!lmq_props_has(&f.pkt.u.subscribe.props, LMQ_PROP_SUBSCRIPTION_ID));
    CHECK(strcmp(lmq_errname(LMQ_ESUB_ID_NOT_SUPPORTED), "LMQ_ESUB_ID_NOT_SUPPORTED") == 0);
    lmq_proplist_free(pl);
    fx_free(&f);
}

/* [MQTT-3.10.4-1] an UNSUBSCRIBE filter is compared character by
 * character, wildcards included: unsubscribing "a/+" ends that
 * subscription only, not "a/b" which it would match, nor "A/+" */
static void test_unsubscribe_removes_only_the_identical_filter(void)
{
    fx f;
    fx_init(&f, 4);
    fx_connect(&f, 0);
    static const uint8_t ok[] = { 0x00, 0x00, 0x00 };
    lmq_subscription subs[] = { { "a/+", -1, 0 }, { "a/b", -1, 0 }, { "A/+", -1, 0 } };
    CHECK(lmq_session_subscribe(f.s, subs, 3, NULL, f.now) > 0);
    CHECK_INT(fx_next(&f), LMQ_SUBSCRIBE);
    lmq_packet a = suback(LMQ_SUBACK, f.pkt.u.subscribe.packet_id, ok, 3);
    CHECK_INT(fx_feed(&f, &a), 0);
    const char *un[] = { "a/+" };
    CHECK(lmq_session_unsubscribe(f.s, un, NULL, 1, NULL, f.now) > 0);
    CHECK_INT(fx_next(&f), LMQ_UNSUBSCRIBE);
    lmq_packet u = suback(LMQ_UNSUBACK, f.pkt.u.subscribe.packet_id, NULL, 0);
    CHECK_INT(fx_feed(&f, &u), 0);
    /* the server lost the session: what we resubscribe is what we hold */
    fx_reconnect(&f);
    fx_connect(&f, 0);
    CHECK_INT(fx_next(&f), LMQ_SUBSCRIBE);
    CHECK_INT(f.pkt.u.subscribe.count, 2);
    uint32_t pos = 0;
    lmq_sub_entry e;
    CHECK(lmq_subs_next(&f.pkt.u.subscribe, LMQ_SUBSCRIBE, &pos, &e));
    CHECK(e.filter.n == 3 && memcmp(e.filter.p, "a/b", 3) == 0);
    CHECK(lmq_subs_next(&f.pkt.u.subscribe, LMQ_SUBSCRIBE, &pos, &e));
    CHECK(e.filter.n == 3 && memcmp(e.filter.p, "A/+", 3) == 0);
    fx_free(&f);
}

static void test_unsuback_for_an_unknown_id_is_ignored(void)
{
    fx f;
    fx_init(&f, 5);
    fx_connect(&f, 0);
    const char *un[] = { "a" };
    CHECK(lmq_session_unsubscribe(f.s, un, NULL, 1, NULL, f.now) > 0);
    CHECK_INT(fx_next(&f), LMQ_UNSUBSCRIBE);
    uint16_t pid = f.pkt.u.subscribe.packet_id;
    /* [MQTT-3.10.4-5] [MQTT-2.2.1-6] the UNSUBACK carries the
     * UNSUBSCRIBE's id: another one is ignored, and the real one still
     * completes the request */
    static const uint8_t codes[] = { 0x00 };
    lmq_packet ua = suback(LMQ_UNSUBACK, pid + 1, codes, 1);
    CHECK_INT(fx_feed(&f, &ua), 0);
    CHECK_INT(fx_next(&f), 0);
    ua = suback(LMQ_UNSUBACK, pid, codes, 1);
    CHECK_INT(fx_feed(&f, &ua), 0);
    fx_events(&f);
    CHECK(fx_find(&f, LMQ_EV_UNSUBSCRIBED) != NULL);
    fx_free(&f);
}

int main(void)
{
    RUN(test_subscribe_bytes_at_311_and_suback);
    RUN(test_subscribe_v5_several_filters_options_and_identifier);
    RUN(test_suback_count_mismatch_is_a_protocol_error);
    RUN(test_suback_for_an_unknown_id_is_ignored);
    RUN(test_bad_filters_and_options_are_refused_before_sending);
    RUN(test_unsubscribe_v5_reports_reasons);
    RUN(test_unsubscribe_at_311_has_no_reasons);
    RUN(test_subscribe_while_offline_goes_out_after_connack);
    RUN(test_auto_resubscribe_when_the_server_lost_our_session);
    RUN(test_no_resubscribe_with_session_present_or_when_off);
    RUN(test_resubscribe_keeps_the_subscription_identifier);
    RUN(test_unanswered_subscribe_is_sent_again_after_reconnect);
    RUN(test_subscribe_over_the_server_maximum_packet_size_fails_at_once);
    RUN(test_unsubscribe_removes_only_the_identical_filter);
    RUN(test_unsuback_for_an_unknown_id_is_ignored);
    RUN(test_subscription_identifier_refused_when_the_server_has_none);
    return check_done();
}
