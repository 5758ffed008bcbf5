/*
 * test_roundtrip - encode, decode, compare, re-encode.
 *
 * Every packet type at every protocol level where it exists is built with
 * every field set and, at level 5, every property the packet may carry
 * (several User Properties everywhere, several Subscription Identifiers in
 * a PUBLISH from the server).  The decoded packet must hold what was
 * encoded, and encoding the decoded packet (User Properties, Subscription
 * Identifiers and SUBSCRIBE entries read back from the raw bytes) must give
 * the same bytes.  A seeded random run does the same for PUBLISH packets
 * whose remaining length sits on each variable byte integer boundary.
 * Packets are encoded as their sender (lmq_encode_as), so the encoder's
 * sender rules meet the decoder's; two sweeps check that the two agree on
 * every reason code and every property, from either side.
 */
#include <stdlib.h>

#include "check.h"
#include "codec/codec.h"

#define S(lit) ((lmq_slice){ (const uint8_t *)(lit), (uint32_t)(sizeof(lit) - 1) })
#define BYTES(arr) ((lmq_slice){ (arr), (uint32_t)sizeof(arr) })

static const char *case_name = "";

/* ------------------------------------------------------ property access */

static uint32_t get_num(const lmq_props *pr, uint8_t id)
{
    switch (id) {
    case LMQ_PROP_PAYLOAD_FORMAT: return pr->payload_format;
    case LMQ_PROP_MESSAGE_EXPIRY: return pr->message_expiry;
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
    default: return 0xDEADBEEFu;
    }
}

static void set_num(lmq_props *pr, uint8_t id, uint32_t v)
{
    switch (id) {
    case LMQ_PROP_PAYLOAD_FORMAT: pr->payload_format = (uint8_t)v; break;
    case LMQ_PROP_MESSAGE_EXPIRY: pr->message_expiry = v; break;
    case LMQ_PROP_SESSION_EXPIRY: pr->session_expiry = v; break;
    case LMQ_PROP_SERVER_KEEP_ALIVE: pr->server_keep_alive = (uint16_t)v; break;
    case LMQ_PROP_REQUEST_PROBLEM_INFO: pr->request_problem_info = (uint8_t)v; break;
    case LMQ_PROP_WILL_DELAY: pr->will_delay = v; break;
    case LMQ_PROP_REQUEST_RESPONSE_INFO: pr->request_response_info = (uint8_t)v; break;
    case LMQ_PROP_RECEIVE_MAXIMUM: pr->receive_maximum = (uint16_t)v; break;
    case LMQ_PROP_TOPIC_ALIAS_MAXIMUM: pr->topic_alias_maximum = (uint16_t)v; break;
    case LMQ_PROP_TOPIC_ALIAS: pr->topic_alias = (uint16_t)v; break;
    case LMQ_PROP_MAXIMUM_QOS: pr->maximum_qos = (uint8_t)v; break;
    case LMQ_PROP_RETAIN_AVAILABLE: pr->retain_available = (uint8_t)v; break;
    case LMQ_PROP_MAXIMUM_PACKET_SIZE: pr->maximum_packet_size = v; break;
    case LMQ_PROP_WILDCARD_SUB_AVAILABLE: pr->wildcard_sub_available = (uint8_t)v; break;
    case LMQ_PROP_SUB_ID_AVAILABLE: pr->sub_id_available = (uint8_t)v; break;
    case LMQ_PROP_SHARED_SUB_AVAILABLE: pr->shared_sub_available = (uint8_t)v; break;
    default: break;
    }
}

static lmq_slice *str_field(lmq_props *pr, uint8_t id)
{
    switch (id) {
    case LMQ_PROP_CONTENT_TYPE: return &pr->content_type;
    case LMQ_PROP_RESPONSE_TOPIC: return &pr->response_topic;
    case LMQ_PROP_CORRELATION_DATA: return &pr->correlation_data;
    case LMQ_PROP_ASSIGNED_CLIENT_ID: return &pr->assigned_client_id;
    case LMQ_PROP_AUTH_METHOD: return &pr->auth_method;
    case LMQ_PROP_AUTH_DATA: return &pr->auth_data;
    case LMQ_PROP_RESPONSE_INFO: return &pr->response_info;
    case LMQ_PROP_SERVER_REFERENCE: return &pr->server_reference;
    case LMQ_PROP_REASON_STRING: return &pr->reason_string;
    default: return NULL;
    }
}

/* ----------------------------------------------------- building packets */

static const lmq_strpair users[] = {
    { { (const uint8_t *)"region", 6 }, { (const uint8_t *)"eu-west", 7 } },
    { { (const uint8_t *)"region", 6 }, { (const uint8_t *)"", 0 } },   /* repeated key, empty value */
    { { (const uint8_t *)"\xC3\xA9t\xC3\xA9", 5 }, { (const uint8_t *)"\xE2\x82\xAC", 3 } },
};
static const uint32_t pub_sub_ids[] = { 1, 300, 16384, 268435455 };
static const uint32_t one_sub_id[] = { 2097152 };
static const uint8_t binary[] = { 0x00, 0xFF, 0x7F, 0x80, 0x00 };

/*
 * Every property `where` allows, each with a value of its own (so a value
 * landing in the wrong field shows): one-byte flags 1, integers made from
 * the id, strings naming the property, binary data with 0x00 and 0xFF.
 */
static void fill_props(lmq_props *pr, uint16_t where, const uint32_t *sub_ids,
                       uint32_t n_sub_ids)
{
    memset(pr, 0, sizeof *pr);
    for (unsigned id = 1; id <= 0x2A; id++) {
        const lmq_prop_info *info = lmq_prop_lookup((uint8_t)id);
        if (!info || !(info->where & where))
            continue;
        switch (info->kind) {
        case LMQ_PK_BYTE: set_num(pr, info->id, 1); break;
        case LMQ_PK_U16: set_num(pr, info->id, 0x0100u + id); break;
        case LMQ_PK_U32: set_num(pr, info->id, 0x01020300u + id); break;
        case LMQ_PK_UTF8:
            *str_field(pr, info->id) = id == LMQ_PROP_RESPONSE_TOPIC
                ? S("reply/to/me") : (lmq_slice){ (const uint8_t *)info->name,
                                                  (uint32_t)strlen(info->name) };
            break;
        case LMQ_PK_BINARY: *str_field(pr, info->id) = BYTES(binary); break;
        case LMQ_PK_PAIR:
            pr->user = users;
            pr->n_user = sizeof users / sizeof users[0];
            break;
        case LMQ_PK_VARINT:
            if (!n_sub_ids)
                continue;                   /* left out on purpose */
            pr->sub_ids = sub_ids;
            pr->n_sub_id = n_sub_ids;
            pr->sub_id = sub_ids[0];
            break;
        default: break;
        }
        lmq_props_set(pr, info->id);
    }
}

static void drop_prop(lmq_props *pr, uint8_t id)
{
    pr->present &= ~(1u << lmq_prop_lookup(id)->index);
}

static const lmq_sub_entry sub_entries_v5[] = {
    { { (const uint8_t *)"home/+/temp", 11 }, 0x01 | 0x04 | 0x08 | 0x20 },
    { { (const uint8_t *)"$share/g/x/#", 12 }, 0x02 | 0x10 },
    { { (const uint8_t *)"\xC3\xA9/#", 4 }, 0x00 },
};
static const lmq_sub_entry sub_entries_v3[] = {
    { { (const uint8_t *)"home/+/temp", 11 }, 0x01 },
    { { (const uint8_t *)"a/#", 3 }, 0x02 },
    { { (const uint8_t *)"#", 1 }, 0x00 },
};
static const uint8_t suback_v5[] = { 0x00, 0x01, 0x02, 0x80, 0x8F, 0xA2 };
static const uint8_t suback_v3[] = { 0x00, 0x01, 0x02, 0x80 };
static const uint8_t unsuback_v5[] = { 0x00, 0x11, 0x87 };

static lmq_packet make_connect(uint8_t level)
{
    lmq_packet p = { .type = LMQ_CONNECT };
    lmq_connect *c = &p.u.connect;
    c->level = level;
    c->clean = 1;
    c->keepalive = 0xFFFF;
    c->client_id = S("client-\xC3\xA9");
    c->username = S("user");
    c->password = BYTES(binary);
    c->will = 1;
    c->will_qos = 2;
    c->will_retain = 1;
    c->will_topic = S("clients/gone");
    c->will_payload = S("offline \xE2\x9C\x97");   /* UTF-8: payload format 1 */
    fill_props(&c->props, LMQ_IN(LMQ_CONNECT), NULL, 0);
    fill_props(&c->will_props, LMQ_IN_WILL, NULL, 0);
    return p;
}

static lmq_packet make_connack(uint8_t level)
{
    lmq_packet p = { .type = LMQ_CONNACK };
    p.u.connack.session_present = level == 3 ? 0 : 1;
    p.u.connack.reason = 0;
    fill_props(&p.u.connack.props, LMQ_IN(LMQ_CONNACK), NULL, 0);
    return p;
}

static lmq_packet make_publish(int from_server)
{
    lmq_packet p = { .type = LMQ_PUBLISH };
    lmq_publish *pb = &p.u.publish;
    pb->qos = 2;
    pb->dup = 1;
    pb->retain = 1;
    pb->packet_id = 0xFFFF;
    pb->topic = S("sensors/\xE2\x82\xAC/kitchen");
    pb->payload = S("22.5 \xC2\xB0""C");    /* UTF-8, as the format property says */
    /* [MQTT-3.3.4-6] only a server's PUBLISH carries Subscription
     * Identifiers (one per matching subscription). */
    if (from_server)
        fill_props(&pb->props, LMQ_IN(LMQ_PUBLISH), pub_sub_ids,
                   sizeof pub_sub_ids / sizeof pub_sub_ids[0]);
    else
        fill_props(&pb->props, LMQ_IN(LMQ_PUBLISH), NULL, 0);
    return p;
}

static lmq_packet make_ack(uint8_t type, uint8_t level)
{
    lmq_packet p = { .type = type };
    p.u.ack.packet_id = 0x8001;
    if (level == 5)
        p.u.ack.reason = (type == LMQ_PUBREL || type == LMQ_PUBCOMP) ? 0x92 : 0x10;
    fill_props(&p.u.ack.props, (uint16_t)LMQ_IN(type), NULL, 0);
    return p;
}

static lmq_packet make_subscribe(uint8_t type, uint8_t level)
{
    lmq_packet p = { .type = type };
    lmq_subscribe *s = &p.u.subscribe;
    s->packet_id = 42;
    s->count = 3;
    s->entries = level == 5 ? sub_entries_v5 : sub_entries_v3;
    fill_props(&s->props, (uint16_t)LMQ_IN(type), one_sub_id, 1);
    return p;
}

static lmq_packet make_suback(uint8_t type, uint8_t level)
{
    lmq_packet p = { .type = type };
    p.u.suback.packet_id = 42;
    if (type == LMQ_SUBACK)
        p.u.suback.reasons = level == 5 ? BYTES(suback_v5) : BYTES(suback_v3);
    else if (level == 5)
        p.u.suback.reasons = BYTES(unsuback_v5);
    fill_props(&p.u.suback.props, (uint16_t)LMQ_IN(type), NULL, 0);
    return p;
}

static lmq_packet make_disconnect(uint8_t type, uint8_t level, int from_server)
{
    lmq_packet p = { .type = type };
    lmq_disconnect *d = &p.u.disconnect;
    fill_props(&d->props, (uint16_t)LMQ_IN(type), NULL, 0);
    if (level < 5)
        return p;
    if (type == LMQ_AUTH) {
        d->reason = 0x18;                   /* continue authentication */
    } else if (from_server) {
        d->reason = 0x9C;                   /* use another server */
        drop_prop(&d->props, LMQ_PROP_SESSION_EXPIRY);   /* [MQTT-3.14.2-2] */
    } else {
        d->reason = 0x04;                   /* disconnect with will message */
    }
    return p;
}

/* --------------------------------------------------------- comparison */

static void same_slice(const char *what, lmq_slice a, lmq_slice b)
{
    if (a.n != b.n || (a.n && memcmp(a.p, b.p, a.n) != 0)) {
        fprintf(stderr, "%s: %s differs (%u vs %u bytes)\n", case_name, what,
                (unsigned)a.n, (unsigned)b.n);
        check_failed_now = 1;
    }
}

static void same_int(const char *what, long long a, long long b)
{
    if (a != b) {
        fprintf(stderr, "%s: %s differs: %lld vs %lld\n", case_name, what, a, b);
        check_failed_now = 1;
    }
}

/* The Subscription Identifiers the encoder was given, in order. */
static uint32_t want_sub_ids(const lmq_props *in, const uint32_t **ids)
{
    *ids = in->sub_ids;
    return in->sub_ids ? in->n_sub_id : 0;
}

static void same_props(const lmq_props *in, const lmq_props *out, uint8_t level)
{
    if (level < 5) {
        same_int("3.x property bits", out->present, 0);
        same_int("3.x user properties", out->n_user, 0);
        return;
    }
    same_int("present", out->present, in->present);
    for (unsigned id = 1; id <= 0x2A; id++) {
        const lmq_prop_info *info = lmq_prop_lookup((uint8_t)id);
        if (!info || info->repeat || !(in->present & (1u << info->index)))
            continue;
        if (info->kind == LMQ_PK_UTF8 || info->kind == LMQ_PK_BINARY)
            same_slice(info->name, *str_field((lmq_props *)out, info->id),
                       *str_field((lmq_props *)in, info->id));
        else
            same_int(info->name, get_num(out, info->id), get_num(in, info->id));
    }

    /* The repeatable ones, read back from the raw block in order. */
    const uint32_t *ids;
    uint32_t n_ids = want_sub_ids(in, &ids);
    same_int("user property count", out->n_user, in->n_user);
    same_int("subscription id count", out->n_sub_id, n_ids);
    if (n_ids)
        same_int("first subscription id", out->sub_id, ids[0]);
    CHECK(out->user == NULL);               /* decoding leaves pairs in raw */
    uint32_t pos = 0, num, nu = 0, ns = 0;
    uint8_t pid;
    lmq_slice a, b;
    while (lmq_props_next(out, &pos, &pid, &num, &a, &b)) {
        if (pid == LMQ_PROP_USER && nu < in->n_user) {
            same_slice("user key", a, in->user[nu].key);
            same_slice("user value", b, in->user[nu].val);
            nu++;
        } else if (pid == LMQ_PROP_SUBSCRIPTION_ID && ns < n_ids) {
            same_int("subscription id", num, ids[ns]);
            ns++;
        }
    }
    same_int("raw walk end", pos, out->raw.n);
    same_int("user properties in raw", nu, in->n_user);
    same_int("subscription ids in raw", ns, n_ids);
}

static void same_packet(const lmq_packet *in, const lmq_packet *out, uint8_t level)
{
    same_int("type", out->type, in->type);
    switch (in->type) {
    case LMQ_CONNECT: {
        const lmq_connect *x = &in->u.connect, *y = &out->u.connect;
        same_int("level", y->level, x->level);
        same_int("clean", y->clean, x->clean);
        same_int("keepalive", y->keepalive, x->keepalive);
        same_slice("client id", y->client_id, x->client_id);
        same_int("username flag", y->username.p != NULL, x->username.p != NULL);
        same_slice("username", y->username, x->username);
        same_int("password flag", y->password.p != NULL, x->password.p != NULL);
        same_slice("password", y->password, x->password);
        same_int("will", y->will, x->will);
        same_int("will qos", y->will_qos, x->will_qos);
        same_int("will retain", y->will_retain, x->will_retain);
        same_slice("will topic", y->will_topic, x->will_topic);
        same_slice("will payload", y->will_payload, x->will_payload);
        same_props(&x->props, &y->props, level);
        same_props(&x->will_props, &y->will_props, level);
        break;
    }
    case LMQ_CONNACK:
        same_int("session present", out->u.connack.session_present,
                 in->u.connack.session_present);
        same_int("reason", out->u.connack.reason, in->u.connack.reason);
        same_props(&in->u.connack.props, &out->u.connack.props, level);
        break;
    case LMQ_PUBLISH: {
        const lmq_publish *x = &in->u.publish, *y = &out->u.publish;
        same_int("qos", y->qos, x->qos);
        same_int("dup", y->dup, x->dup);
        same_int("retain", y->retain, x->retain);
        same_int("packet id", y->packet_id, x->qos ? x->packet_id : 0);
        same_slice("topic", y->topic, x->topic);
        same_slice("payload", y->payload, x->payload);
        same_props(&x->props, &y->props, level);
        break;
    }
    case LMQ_PUBACK:
    case LMQ_PUBREC:
    case LMQ_PUBREL:
    case LMQ_PUBCOMP:
        same_int("packet id", out->u.ack.packet_id, in->u.ack.packet_id);
        same_int("reason", out->u.ack.reason, in->u.ack.reason);
        same_props(&in->u.ack.props, &out->u.ack.props, level);
        break;
    case LMQ_SUBSCRIBE:
    case LMQ_UNSUBSCRIBE: {
        const lmq_subscribe *x = &in->u.subscribe, *y = &out->u.subscribe;
        same_int("packet id", y->packet_id, x->packet_id);
        same_int("count", y->count, x->count);
        CHECK(y->entries == NULL);          /* decoding leaves them in list */
        uint32_t pos = 0, k = 0;
        lmq_sub_entry e;
        while (lmq_subs_next(y, in->type, &pos, &e) && k < x->count) {
            same_slice("filter", e.filter, x->entries[k].filter);
            same_int("options", e.options,
                     in->type == LMQ_SUBSCRIBE ? x->entries[k].options : 0);
            k++;
        }
        same_int("entries walked", k, x->count);
        same_props(&x->props, &y->props, level);
        break;
    }
    case LMQ_SUBACK:
    case LMQ_UNSUBACK:
        same_int("packet id", out->u.suback.packet_id, in->u.suback.packet_id);
        same_slice("reason codes", out->u.suback.reasons, in->u.suback.reasons);
        same_props(&in->u.suback.props, &out->u.suback.props, level);
        break;
    case LMQ_DISCONNECT:
    case LMQ_AUTH:
        same_int("reason", out->u.disconnect.reason, in->u.disconnect.reason);
        same_props(&in->u.disconnect.props, &out->u.disconnect.props, level);
        break;
    default:
        break;
    }
}

/* Encode, decode, compare, re-encode; returns the encoded size. */
static int64_t roundtrip(const char *name, const lmq_packet *in, uint8_t level,
                         int direction)
{
    case_name = name;
    int64_t size = lmq_encode_size_as(in, level, direction);
    if (size <= 0) {
        fprintf(stderr, "%s: encode_size %lld (%s)\n", name, (long long)size,
                lmq_errname((int)size));
        check_failed_now = 1;
        return size;
    }
    uint8_t *buf = malloc((size_t)size);
    uint8_t *again = malloc((size_t)size);
    CHECK(buf != NULL && again != NULL);
    if (!buf || !again)
        goto done;
    same_int("encoded size", lmq_encode_as(in, level, direction, buf, (size_t)size), size);

    lmq_packet out;
    int rc = lmq_decode(buf, (size_t)size, level, direction, &out);
    if (rc != 0) {
        fprintf(stderr, "%s: decode failed: %s\n", name, lmq_errname(rc));
        check_failed_now = 1;
        goto done;
    }
    same_int("decoded flags", out.flags, buf[0] & 0x0F);
    same_packet(in, &out, level);

    same_int("re-encode size", lmq_encode_size_as(&out, level, direction), size);
    int64_t n = lmq_encode_as(&out, level, direction, again, (size_t)size);
    same_int("re-encoded bytes", n, size);
    if (n == size && memcmp(buf, again, (size_t)size) != 0) {
        fprintf(stderr, "%s: re-encoded bytes differ\n", name);
        check_failed_now = 1;
    }
done:
    free(buf);
    free(again);
    return size;
}

/* --------------------------------------------------------------- tests */

static void test_connect_roundtrips_at_every_level(void)
{
    for (uint8_t level = 3; level <= 5; level++) {
        lmq_packet p = make_connect(level);
        roundtrip("CONNECT", &p, level, LMQ_FROM_CLIENT);
        /* the optional parts absent */
        lmq_packet q = make_connect(level);
        q.u.connect.will = 0;
        q.u.connect.will_qos = 0;
        q.u.connect.will_retain = 0;
        q.u.connect.will_topic = (lmq_slice){ NULL, 0 };
        q.u.connect.will_payload = (lmq_slice){ NULL, 0 };
        memset(&q.u.connect.will_props, 0, sizeof q.u.connect.will_props);
        q.u.connect.username = (lmq_slice){ NULL, 0 };
        q.u.connect.password = (lmq_slice){ NULL, 0 };
        q.u.connect.client_id = S("");
        roundtrip("CONNECT minimal", &q, level, LMQ_FROM_CLIENT);
    }
}

static void test_connack_roundtrips_at_every_level(void)
{
    for (uint8_t level = 3; level <= 5; level++) {
        lmq_packet p = make_connack(level);
        roundtrip("CONNACK", &p, level, LMQ_FROM_SERVER);
        p.u.connack.session_present = 0;
        p.u.connack.reason = level == 5 ? 0x9D : 5;
        roundtrip("CONNACK refused", &p, level, LMQ_FROM_SERVER);
    }
}

static void test_publish_roundtrips_at_every_level_and_qos(void)
{
    for (uint8_t level = 3; level <= 5; level++) {
        lmq_packet p = make_publish(0);
        roundtrip("PUBLISH from client", &p, level, LMQ_FROM_CLIENT);
        for (uint8_t qos = 0; qos <= 1; qos++) {
            lmq_packet q = make_publish(0);
            q.u.publish.qos = qos;
            q.u.publish.dup = qos ? 1 : 0;
            q.u.publish.packet_id = qos ? 1 : 0;
            roundtrip("PUBLISH qos 0/1", &q, level, LMQ_FROM_CLIENT);
        }
    }
}

static void test_publish_from_server_keeps_several_subscription_ids(void)
{
    lmq_packet p = make_publish(1);
    roundtrip("PUBLISH from server", &p, 5, LMQ_FROM_SERVER);
    /* an alias without a topic name */
    p.u.publish.topic = S("");
    roundtrip("PUBLISH alias only", &p, 5, LMQ_FROM_SERVER);
}

static void test_acks_roundtrip_at_every_level(void)
{
    static const uint8_t types[] = { LMQ_PUBACK, LMQ_PUBREC, LMQ_PUBREL, LMQ_PUBCOMP };
    for (uint8_t level = 3; level <= 5; level++) {
        for (size_t i = 0; i < sizeof types; i++) {
            lmq_packet p = make_ack(types[i], level);
            roundtrip("ack", &p, level, LMQ_FROM_CLIENT);
            roundtrip("ack from server", &p, level, LMQ_FROM_SERVER);
            if (level < 5)
                continue;
            /* the two short forms */
            memset(&p.u.ack.props, 0, sizeof p.u.ack.props);
            CHECK_INT(roundtrip("ack reason only", &p, 5, LMQ_FROM_CLIENT), 5);
            p.u.ack.reason = 0;
            CHECK_INT(roundtrip("ack shortest", &p, 5, LMQ_FROM_CLIENT), 4);
        }
    }
}

static void test_subscribe_and_unsubscribe_roundtrip_at_every_level(void)
{
    for (uint8_t level = 3; level <= 5; level++) {
        lmq_packet s = make_subscribe(LMQ_SUBSCRIBE, level);
        roundtrip("SUBSCRIBE", &s, level, LMQ_FROM_CLIENT);
        lmq_packet u = make_subscribe(LMQ_UNSUBSCRIBE, level);
        roundtrip("UNSUBSCRIBE", &u, level, LMQ_FROM_CLIENT);
    }
}

static void test_suback_and_unsuback_roundtrip_at_every_level(void)
{
    for (uint8_t level = 3; level <= 5; level++) {
        lmq_packet s = make_suback(LMQ_SUBACK, level);
        roundtrip("SUBACK", &s, level, LMQ_FROM_SERVER);
        lmq_packet u = make_suback(LMQ_UNSUBACK, level);
        roundtrip("UNSUBACK", &u, level, LMQ_FROM_SERVER);
    }
}

static void test_ping_roundtrips_at_every_level(void)
{
    for (uint8_t level = 3; level <= 5; level++) {
        lmq_packet req = { .type = LMQ_PINGREQ };
        CHECK_INT(roundtrip("PINGREQ", &req, level, LMQ_FROM_CLIENT), 2);
        lmq_packet resp = { .type = LMQ_PINGRESP };
        CHECK_INT(roundtrip("PINGRESP", &resp, level, LMQ_FROM_SERVER), 2);
    }
}

static void test_disconnect_roundtrips_at_every_level(void)
{
    for (uint8_t level = 3; level <= 5; level++) {
        lmq_packet c = make_disconnect(LMQ_DISCONNECT, level, 0);
        roundtrip("DISCONNECT from client", &c, level, LMQ_FROM_CLIENT);
        lmq_packet s = make_disconnect(LMQ_DISCONNECT, level, 1);
        roundtrip("DISCONNECT from server", &s, level, LMQ_FROM_SERVER);
    }
    lmq_packet r = { .type = LMQ_DISCONNECT };
    r.u.disconnect.reason = 0x81;
    CHECK_INT(roundtrip("DISCONNECT reason only", &r, 5, LMQ_FROM_SERVER), 3);
    r.u.disconnect.reason = 0;
    CHECK_INT(roundtrip("DISCONNECT shortest", &r, 5, LMQ_FROM_CLIENT), 2);
}

static void test_auth_roundtrips_at_level_5(void)
{
    lmq_packet a = make_disconnect(LMQ_AUTH, 5, 0);
    roundtrip("AUTH from client", &a, 5, LMQ_FROM_CLIENT);
    roundtrip("AUTH from server", &a, 5, LMQ_FROM_SERVER);
    lmq_packet s = { .type = LMQ_AUTH };
    CHECK_INT(roundtrip("AUTH shortest", &s, 5, LMQ_FROM_SERVER), 2);
}

/* ------------------------------------- decoder and encoder agree */

static const char *const side[] = { "server", "client" };

/* The packet with one reason code, and the same packet written by hand. */
static size_t reason_case(uint8_t type, uint8_t level, uint8_t code,
                          lmq_packet *p, uint8_t *b)
{
    memset(p, 0, sizeof *p);
    p->type = type;
    switch (type) {
    case LMQ_CONNACK:
        p->u.connack.reason = code;
        memcpy(b, (const uint8_t[]){ 0x20, 3, 0, code, 0 }, 5);
        if (level < 5)
            b[1] = 2;
        return level < 5 ? 4 : 5;
    case LMQ_SUBACK:
    case LMQ_UNSUBACK:
        p->u.suback.packet_id = 1;
        p->u.suback.reasons = (lmq_slice){ &p->flags, 1 };
        p->flags = code;                /* a byte that lives with p */
        if (level < 5) {
            memcpy(b, (const uint8_t[]){ (uint8_t)(type << 4), 3, 0, 1, code }, 5);
            return 5;
        }
        memcpy(b, (const uint8_t[]){ (uint8_t)(type << 4), 4, 0, 1, 0, code }, 6);
        return 6;
    case LMQ_DISCONNECT:
        p->u.disconnect.reason = code;
        memcpy(b, (const uint8_t[]){ 0xE0, 1, code }, 3);
        return 3;
    case LMQ_AUTH:
        p->u.disconnect.reason = code;
        memcpy(b, (const uint8_t[]){ 0xF0, 2, code, 0 }, 4);
        return 4;
    default:                            /* PUBACK, PUBREC, PUBREL, PUBCOMP */
        p->u.ack.packet_id = 1;
        p->u.ack.reason = code;
        memcpy(b, (const uint8_t[]){ (uint8_t)(type << 4 | (type == LMQ_PUBREL ? 2 : 0)),
                                     3, 0, 1, code }, 5);
        return 5;
    }
}

/* Every reason code of every packet that has one, at 5 (and the 3.x return
 * codes of CONNACK and SUBACK), from each side: the decoder accepts the
 * hand-written bytes exactly when the encoder agrees to write the packet
 * as that side.  Tables 2-6, 3-10 and 3-13 live in one place (reasons.c);
 * this proves both directions read them the same way. */
static void test_decoder_and_encoder_agree_on_every_reason_code(void)
{
    static const uint8_t types[] = { LMQ_CONNACK, LMQ_PUBACK, LMQ_PUBREC, LMQ_PUBREL,
                                     LMQ_PUBCOMP, LMQ_SUBACK, LMQ_UNSUBACK,
                                     LMQ_DISCONNECT, LMQ_AUTH };
    for (size_t t = 0; t < sizeof types; t++) {
        for (uint8_t level = 3; level <= 5; level++) {
            if (level < 5 && types[t] != LMQ_CONNACK && types[t] != LMQ_SUBACK)
                continue;
            for (unsigned code = 0; code < 256; code++) {
                for (int dir = LMQ_FROM_SERVER; dir <= LMQ_FROM_CLIENT; dir++) {
                    lmq_packet p, out;
                    uint8_t b[8];
                    size_t n = reason_case(types[t], level, (uint8_t)code, &p, b);
                    int dec = lmq_decode(b, n, level, dir, &out) == 0;
                    int enc = lmq_encode_size_as(&p, level, dir) > 0;
                    if (dec != enc) {
                        fprintf(stderr, "type %u level %u code 0x%02X from %s: "
                                "decoder %d, encoder %d\n", types[t], level, code,
                                side[dir], dec, enc);
                        check_failed_now = 1;
                    }
                }
            }
        }
    }
}

static lmq_props *props_of(lmq_packet *p)
{
    switch (p->type) {
    case LMQ_CONNECT: return &p->u.connect.props;
    case LMQ_CONNACK: return &p->u.connack.props;
    case LMQ_PUBLISH: return &p->u.publish.props;
    case LMQ_SUBSCRIBE:
    case LMQ_UNSUBSCRIBE: return &p->u.subscribe.props;
    case LMQ_SUBACK:
    case LMQ_UNSUBACK: return &p->u.suback.props;
    case LMQ_DISCONNECT:
    case LMQ_AUTH: return &p->u.disconnect.props;
    default: return &p->u.ack.props;
    }
}

/* A v5 packet of `type` whose properties are `info` alone (fill_props'
 * value for it), with fields either side may send. */
static lmq_packet one_prop_packet(uint8_t type, const lmq_prop_info *info)
{
    lmq_packet p;
    switch (type) {
    case LMQ_CONNECT: p = make_connect(5); break;
    case LMQ_CONNACK: p = make_connack(5); break;
    case LMQ_PUBLISH: p = make_publish(1); break;
    case LMQ_SUBSCRIBE:
    case LMQ_UNSUBSCRIBE: p = make_subscribe(type, 5); break;
    case LMQ_SUBACK:
    case LMQ_UNSUBACK: p = make_suback(type, 5); break;
    case LMQ_DISCONNECT:
    case LMQ_AUTH:
        p = make_disconnect(type, 5, 0);
        p.u.disconnect.reason = type == LMQ_AUTH ? 0x18 : 0x00;
        break;
    default: p = make_ack(type, 5); break;
    }
    lmq_props *pr = props_of(&p);
    pr->present &= 1u << info->index;
    if (info->id != LMQ_PROP_USER) {
        pr->user = NULL;
        pr->n_user = 0;
    }
    if (info->id != LMQ_PROP_SUBSCRIPTION_ID) {
        pr->sub_ids = NULL;
        pr->n_sub_id = 0;
    }
    return p;
}

/* Every property in every packet that may carry it, from each side: the
 * decoder accepts the bytes exactly when the encoder agrees to write them
 * as that side ([MQTT-3.3.4-6], [MQTT-3.14.2-2], the value ranges and the
 * Authentication Method rule included). */
static void test_decoder_and_encoder_agree_on_every_property_and_sender(void)
{
    int compared = 0;
    for (uint8_t type = LMQ_CONNECT; type <= LMQ_AUTH; type++) {
        for (unsigned i = 0; lmq_prop_at(i); i++) {
            const lmq_prop_info *info = lmq_prop_at(i);
            if (!(info->where & LMQ_IN(type)))
                continue;
            lmq_packet p = one_prop_packet(type, info);
            uint8_t buf[1024];
            int64_t n = lmq_encode(&p, 5, buf, sizeof buf);
            for (int dir = LMQ_FROM_SERVER; dir <= LMQ_FROM_CLIENT; dir++) {
                lmq_packet out;
                int enc = lmq_encode_size_as(&p, 5, dir) > 0;
                int dec = n > 0 && lmq_decode(buf, (size_t)n, 5, dir, &out) == 0;
                /* a packet type of the other side fails both, which says
                 * nothing about the property: count only the others */
                compared += lmq_codec_check_sender(type, dir) == 0;
                if (dec != enc) {
                    fprintf(stderr, "type %u property %s from %s: decoder %d, "
                            "encoder %d\n", type, info->name, side[dir], dec, enc);
                    check_failed_now = 1;
                }
            }
        }
    }
    CHECK(compared > 60);
}

/* ------------------------------------------------ randomized PUBLISH */

static uint32_t rng_state = 0x2545F491u;    /* fixed seed: reproducible */

static uint32_t rng(void)
{
    /* xorshift32 */
    uint32_t x = rng_state;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return rng_state = x;
}

#define BIG_PAYLOAD (2097152u + 64u)
static uint8_t big_payload[BIG_PAYLOAD];

/* A PUBLISH whose remaining length is exactly `rem`, with a random topic,
 * QoS, level and (at 5) properties; false if `rem` is too small for it. */
static int random_publish(uint32_t rem, lmq_packet *p, uint8_t *level,
                          uint8_t *topic_buf, size_t topic_cap)
{
    static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789/_-$ ";
    static const lmq_strpair user[] = { { { (const uint8_t *)"k", 1 },
                                          { (const uint8_t *)"v", 1 } } };
    /* Up to 100 bytes keeps everything but the payload under 128, so even
     * a remaining length of 127 can be reached. */
    uint32_t tlen = 1 + rng() % (uint32_t)(topic_cap < 100 ? topic_cap : 100);
    for (uint32_t i = 0; i < tlen; i++)
        topic_buf[i] = (uint8_t)alphabet[rng() % (sizeof alphabet - 1)];

    memset(p, 0, sizeof *p);
    p->type = LMQ_PUBLISH;
    *level = (uint8_t)(3 + rng() % 3);
    lmq_publish *pb = &p->u.publish;
    pb->qos = (uint8_t)(rng() % 3);
    pb->retain = (uint8_t)(rng() & 1);
    pb->dup = pb->qos ? (uint8_t)(rng() & 1) : 0;
    pb->packet_id = pb->qos ? (uint16_t)(1 + rng() % 65535) : 0;
    pb->topic = (lmq_slice){ topic_buf, tlen };
    if (rng() & 1) {
        pb->props.message_expiry = rng();
        lmq_props_set(&pb->props, LMQ_PROP_MESSAGE_EXPIRY);
        pb->props.user = user;
        pb->props.n_user = 1;
        lmq_props_set(&pb->props, LMQ_PROP_USER);
    }

    /* What the packet needs besides the payload fixes the payload size. */
    pb->payload = (lmq_slice){ big_payload, 0 };
    int64_t bare = lmq_encode_size(p, *level);
    if (bare <= 0)
        return 0;
    uint32_t overhead = (uint32_t)bare - 2;  /* under 128: 1-byte length */
    if (rem < overhead || rem - overhead > BIG_PAYLOAD)
        return 0;
    pb->payload.n = rem - overhead;
    return 1;
}

static void check_publish_with_remaining(uint32_t rem)
{
    uint8_t topic[128];
    lmq_packet p;
    uint8_t level;
    char name[64];
    snprintf(name, sizeof name, "random PUBLISH, remaining %u", (unsigned)rem);
    if (!random_publish(rem, &p, &level, topic, sizeof topic)) {
        fprintf(stderr, "%s: could not be built\n", name);
        check_failed_now = 1;
        return;
    }
    int64_t size = roundtrip(name, &p, level, LMQ_FROM_CLIENT);
    CHECK_INT(size, 1 + lmq_varint_size(rem) + (int64_t)rem);
}

static void test_random_publish_roundtrips_across_varint_boundaries(void)
{
    for (size_t i = 0; i < BIG_PAYLOAD; i++)
        big_payload[i] = (uint8_t)rng();

    /* Each boundary of the remaining length's encoding (1..4 bytes),
     * several random packets on each side. */
    static const uint32_t edges[] = { 127, 128, 16383, 16384, 2097151, 2097152 };
    for (size_t e = 0; e < sizeof edges / sizeof edges[0]; e++) {
        for (int k = 0; k < 4; k++)
            check_publish_with_remaining(edges[e]);
    }
    /* And random sizes in between. */
    for (int k = 0; k < 200; k++)
        check_publish_with_remaining(130 + rng() % 20000);
}

static void test_remaining_length_header_grows_at_each_boundary(void)
{
    /* [MQTT-1.5.5] 1, 2, 3 then 4 bytes of remaining length. */
    static const struct { uint32_t rem; int header; } cases[] = {
        { 127, 2 }, { 128, 3 }, { 16383, 3 }, { 16384, 4 },
        { 2097151, 4 }, { 2097152, 5 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        lmq_packet p = { .type = LMQ_PUBLISH };
        p.u.publish.topic = S("t");
        p.u.publish.payload = (lmq_slice){ big_payload, cases[i].rem - 3 };
        CHECK_INT(lmq_encode_size(&p, 4), cases[i].header + (int64_t)cases[i].rem);
    }
}

int main(void)
{
    RUN(test_connect_roundtrips_at_every_level);
    RUN(test_connack_roundtrips_at_every_level);
    RUN(test_publish_roundtrips_at_every_level_and_qos);
    RUN(test_publish_from_server_keeps_several_subscription_ids);
    RUN(test_acks_roundtrip_at_every_level);
    RUN(test_subscribe_and_unsubscribe_roundtrip_at_every_level);
    RUN(test_suback_and_unsuback_roundtrip_at_every_level);
    RUN(test_ping_roundtrips_at_every_level);
    RUN(test_disconnect_roundtrips_at_every_level);
    RUN(test_auth_roundtrips_at_level_5);
    RUN(test_decoder_and_encoder_agree_on_every_reason_code);
    RUN(test_decoder_and_encoder_agree_on_every_property_and_sender);
    RUN(test_random_publish_roundtrips_across_varint_boundaries);
    RUN(test_remaining_length_header_grows_at_each_boundary);
    return check_done();
}
