/*
 * proplist.c - lmq_proplist, the MQTT 5 properties an application sends,
 * and their conversion to the codec's lmq_props for one packet type.
 *
 * Every string is its own allocation, so the item array may grow without
 * moving them, and `pairs` (the User Properties as lmq_strpair, in order)
 * can point at them: conversion then needs no memory.
 */
#include <stdlib.h>
#include <string.h>

#include "session/session_int.h"

typedef struct lmq_plitem {
    uint8_t id;
    uint32_t num;
    lmq_slice a, b;
} lmq_plitem;

struct lmq_proplist {
    lmq_plitem *items;
    uint32_t n, cap;
    lmq_strpair *pairs;
    uint32_t n_pairs, cap_pairs;
};

LMQ_API lmq_proplist *lmq_proplist_new(void)
{
    return calloc(1, sizeof(lmq_proplist));
}

LMQ_API void lmq_proplist_clear(lmq_proplist *pl)
{
    if (!pl)
        return;
    for (uint32_t i = 0; i < pl->n; i++) {
        free((void *)pl->items[i].a.p);
        free((void *)pl->items[i].b.p);
    }
    pl->n = 0;
    pl->n_pairs = 0;
}

LMQ_API void lmq_proplist_free(lmq_proplist *pl)
{
    if (!pl)
        return;
    lmq_proplist_clear(pl);
    free(pl->items);
    free(pl->pairs);
    free(pl);
}

/* A negative length means NUL-terminated (the header's convention). */
static int measure(const char *s, int32_t len, uint32_t *n)
{
    if (!s && len != 0)
        return LMQ_EINVAL;
    size_t m = len < 0 ? strlen(s) : (size_t)len;
    if (m > 65535u)
        return LMQ_ETOOBIG;     /* two-byte length prefix [MQTT-1.5.4] */
    *n = (uint32_t)m;
    return 0;
}

/* An owned copy; an empty string still gets a pointer (present, empty). */
static int copy_slice(lmq_slice *dst, const char *s, uint32_t n)
{
    uint8_t *p = malloc(n ? n : 1);
    if (!p)
        return LMQ_ENOMEM;
    if (n)
        memcpy(p, s, n);
    dst->p = p;
    dst->n = n;
    return 0;
}

static lmq_plitem *grow(lmq_proplist *pl)
{
    if (pl->n == pl->cap) {
        uint32_t cap = pl->cap ? pl->cap * 2 : 8;
        lmq_plitem *items = realloc(pl->items, cap * sizeof *items);
        if (!items)
            return NULL;
        pl->items = items;
        pl->cap = cap;
    }
    lmq_plitem *it = &pl->items[pl->n];
    memset(it, 0, sizeof *it);
    return it;
}

/* Range of an integer value by the property's encoding, plus the values
 * the spec calls a Protocol Error (0 for these). */
static int int_ok(const lmq_prop_info *info, int64_t v)
{
    static const int64_t max[] = { 0, 0xFF, 0xFFFF, 0xFFFFFFFFll, 268435455 };
    if (v < 0 || v > max[info->kind])
        return 0;
    switch (info->id) {
    case LMQ_PROP_PAYLOAD_FORMAT:
    case LMQ_PROP_REQUEST_PROBLEM_INFO:
    case LMQ_PROP_REQUEST_RESPONSE_INFO:
        return v <= 1;
    case LMQ_PROP_RECEIVE_MAXIMUM:
    case LMQ_PROP_MAXIMUM_PACKET_SIZE:
    case LMQ_PROP_TOPIC_ALIAS:           /* [MQTT-3.3.2-8] */
    case LMQ_PROP_SUBSCRIPTION_ID:
        return v != 0;
    default:
        return 1;
    }
}

LMQ_API int lmq_proplist_add_int(lmq_proplist *pl, int id, int64_t value)
{
    if (!pl || id < 0 || id > 0xFF)
        return LMQ_EINVAL;
    const lmq_prop_info *info = lmq_prop_lookup((uint8_t)id);
    if (!info || info->kind > LMQ_PK_VARINT || !int_ok(info, value))
        return LMQ_EINVAL;
    lmq_plitem *it = grow(pl);
    if (!it)
        return LMQ_ENOMEM;
    it->id = (uint8_t)id;
    it->num = (uint32_t)value;
    pl->n++;
    return 0;
}

LMQ_API int lmq_proplist_add_str(lmq_proplist *pl, int id, const char *s, int32_t len)
{
    uint32_t n;
    int rc;

    if (!pl || id < 0 || id > 0xFF)
        return LMQ_EINVAL;
    const lmq_prop_info *info = lmq_prop_lookup((uint8_t)id);
    if (!info || (info->kind != LMQ_PK_UTF8 && info->kind != LMQ_PK_BINARY))
        return LMQ_EINVAL;
    if ((rc = measure(s, len, &n)))
        return rc;
    /* [MQTT-1.5.4-1] [MQTT-1.5.4-2] */
    if (info->kind == LMQ_PK_UTF8 && (rc = lmq_utf8_check((const uint8_t *)s, n)))
        return rc;
    lmq_plitem *it = grow(pl);
    if (!it)
        return LMQ_ENOMEM;
    if ((rc = copy_slice(&it->a, s, n)))
        return rc;
    it->id = (uint8_t)id;
    pl->n++;
    return 0;
}

static int add_pair(lmq_proplist *pl, lmq_slice k, lmq_slice v)
{
    if (pl->n_pairs == pl->cap_pairs) {
        uint32_t cap = pl->cap_pairs ? pl->cap_pairs * 2 : 4;
        lmq_strpair *p = realloc(pl->pairs, cap * sizeof *p);
        if (!p)
            return LMQ_ENOMEM;
        pl->pairs = p;
        pl->cap_pairs = cap;
    }
    pl->pairs[pl->n_pairs].key = k;
    pl->pairs[pl->n_pairs].val = v;
    pl->n_pairs++;
    return 0;
}

LMQ_API int lmq_proplist_add_user(lmq_proplist *pl, const char *key, int32_t klen,
                                  const char *val, int32_t vlen)
{
    uint32_t kn, vn;
    int rc;

    if (!pl)
        return LMQ_EINVAL;
    if ((rc = measure(key, klen, &kn)) || (rc = measure(val, vlen, &vn)))
        return rc;
    if ((rc = lmq_utf8_check((const uint8_t *)key, kn)) ||
        (rc = lmq_utf8_check((const uint8_t *)val, vn)))
        return rc;
    lmq_plitem *it = grow(pl);
    if (!it)
        return LMQ_ENOMEM;
    if ((rc = copy_slice(&it->a, key, kn)))
        return rc;
    if ((rc = copy_slice(&it->b, val, vn)) || (rc = add_pair(pl, it->a, it->b))) {
        free((void *)it->a.p);
        free((void *)it->b.p);
        return rc;
    }
    it->id = LMQ_PROP_USER;
    pl->n++;
    return 0;
}

/* Store one item in its lmq_props field. */
static void put_field(lmq_props *o, const lmq_plitem *it)
{
    switch (it->id) {
    case LMQ_PROP_PAYLOAD_FORMAT: o->payload_format = (uint8_t)it->num; break;
    case LMQ_PROP_REQUEST_PROBLEM_INFO: o->request_problem_info = (uint8_t)it->num; break;
    case LMQ_PROP_REQUEST_RESPONSE_INFO: o->request_response_info = (uint8_t)it->num; break;
    case LMQ_PROP_MAXIMUM_QOS: o->maximum_qos = (uint8_t)it->num; break;
    case LMQ_PROP_RETAIN_AVAILABLE: o->retain_available = (uint8_t)it->num; break;
    case LMQ_PROP_WILDCARD_SUB_AVAILABLE: o->wildcard_sub_available = (uint8_t)it->num; break;
    case LMQ_PROP_SUB_ID_AVAILABLE: o->sub_id_available = (uint8_t)it->num; break;
    case LMQ_PROP_SHARED_SUB_AVAILABLE: o->shared_sub_available = (uint8_t)it->num; break;
    case LMQ_PROP_SERVER_KEEP_ALIVE: o->server_keep_alive = (uint16_t)it->num; break;
    case LMQ_PROP_RECEIVE_MAXIMUM: o->receive_maximum = (uint16_t)it->num; break;
    case LMQ_PROP_TOPIC_ALIAS_MAXIMUM: o->topic_alias_maximum = (uint16_t)it->num; break;
    case LMQ_PROP_TOPIC_ALIAS: o->topic_alias = (uint16_t)it->num; break;
    case LMQ_PROP_MESSAGE_EXPIRY: o->message_expiry = it->num; break;
    case LMQ_PROP_SESSION_EXPIRY: o->session_expiry = it->num; break;
    case LMQ_PROP_WILL_DELAY: o->will_delay = it->num; break;
    case LMQ_PROP_MAXIMUM_PACKET_SIZE: o->maximum_packet_size = it->num; break;
    case LMQ_PROP_SUBSCRIPTION_ID: o->sub_id = it->num; o->n_sub_id = 1; break;
    case LMQ_PROP_CONTENT_TYPE: o->content_type = it->a; break;
    case LMQ_PROP_RESPONSE_TOPIC: o->response_topic = it->a; break;
    case LMQ_PROP_CORRELATION_DATA: o->correlation_data = it->a; break;
    case LMQ_PROP_ASSIGNED_CLIENT_ID: o->assigned_client_id = it->a; break;
    case LMQ_PROP_AUTH_METHOD: o->auth_method = it->a; break;
    case LMQ_PROP_AUTH_DATA: o->auth_data = it->a; break;
    case LMQ_PROP_RESPONSE_INFO: o->response_info = it->a; break;
    case LMQ_PROP_SERVER_REFERENCE: o->server_reference = it->a; break;
    case LMQ_PROP_REASON_STRING: o->reason_string = it->a; break;
    default: break;
    }
}

int lmq_proplist_props(const lmq_proplist *pl, uint16_t where, lmq_props *out)
{
    memset(out, 0, sizeof *out);
    if (!pl)
        return 0;
    for (uint32_t i = 0; i < pl->n; i++) {
        const lmq_plitem *it = &pl->items[i];
        const lmq_prop_info *info = lmq_prop_lookup(it->id);
        if (!info || !(info->where & where))
            return LMQ_EINVAL;          /* not allowed in this packet */
        int seen = (out->present >> info->index) & 1u;
        /* Once only, except User Property; Subscription Identifier is
         * repeatable in a server's PUBLISH only, never from us. */
        if (seen && it->id != LMQ_PROP_USER)
            return LMQ_EINVAL;
        put_field(out, it);
        out->present |= 1u << info->index;
    }
    out->n_user = pl->n_pairs;
    out->user = pl->n_pairs ? pl->pairs : NULL;
    return 0;
}

lmq_proplist *lmq_proplist_dup(const lmq_proplist *pl, int *rc)
{
    *rc = 0;
    if (!pl)
        return NULL;
    lmq_proplist *c = lmq_proplist_new();
    if (!c)
        goto fail;
    for (uint32_t i = 0; i < pl->n; i++) {
        const lmq_plitem *it = &pl->items[i];
        int r;
        if (it->id == LMQ_PROP_USER)
            r = lmq_proplist_add_user(c, (const char *)it->a.p, (int32_t)it->a.n,
                                      (const char *)it->b.p, (int32_t)it->b.n);
        else if (it->a.p)
            r = lmq_proplist_add_str(c, it->id, (const char *)it->a.p, (int32_t)it->a.n);
        else
            r = lmq_proplist_add_int(c, it->id, it->num);
        if (r)
            goto fail;
    }
    return c;

fail:
    lmq_proplist_free(c);
    *rc = LMQ_ENOMEM;
    return NULL;
}

size_t lmq_proplist_bytes(const lmq_proplist *pl)
{
    size_t n = 0;
    if (!pl)
        return 0;
    for (uint32_t i = 0; i < pl->n; i++)
        n += 8 + pl->items[i].a.n + pl->items[i].b.n;
    return n;
}

/* ------------------------------------------- the durable store's copy */

/* Per item: u8 id, u32 number, u16 + bytes, u16 + bytes (little-endian).
 * Only the store reads it back, with the same library version. */
size_t lmq_proplist_save(const lmq_proplist *pl, uint8_t *out)
{
    size_t n = 0;
    if (!pl)
        return 0;
    for (uint32_t i = 0; i < pl->n; i++) {
        const lmq_plitem *it = &pl->items[i];
        if (out) {
            uint8_t *q = out + n;
            q[0] = it->id;
            for (int k = 0; k < 4; k++)
                q[1 + k] = (uint8_t)(it->num >> (8 * k));
            q[5] = (uint8_t)it->a.n;
            q[6] = (uint8_t)(it->a.n >> 8);
            if (it->a.n)
                memcpy(q + 7, it->a.p, it->a.n);
            q += 7 + it->a.n;
            q[0] = (uint8_t)it->b.n;
            q[1] = (uint8_t)(it->b.n >> 8);
            if (it->b.n)
                memcpy(q + 2, it->b.p, it->b.n);
        }
        n += 9u + it->a.n + it->b.n;
    }
    return n;
}

lmq_proplist *lmq_proplist_load(const uint8_t *p, size_t n, int *rc)
{
    lmq_proplist *pl = lmq_proplist_new();
    size_t at = 0;

    *rc = pl ? 0 : LMQ_ENOMEM;
    while (pl && !*rc && at < n) {
        if (n - at < 9) {
            *rc = LMQ_EINVAL;
            break;
        }
        const uint8_t *q = p + at;
        uint8_t id = q[0];
        uint32_t num = (uint32_t)q[1] | (uint32_t)q[2] << 8 | (uint32_t)q[3] << 16 |
                       (uint32_t)q[4] << 24;
        uint32_t an = (uint32_t)(q[5] | q[6] << 8);
        if (n - at < 9u + an) {
            *rc = LMQ_EINVAL;
            break;
        }
        const char *a = (const char *)q + 7;
        uint32_t bn = (uint32_t)(q[7 + an] | q[8 + an] << 8);
        if (n - at < 9u + an + bn) {
            *rc = LMQ_EINVAL;
            break;
        }
        const char *b = (const char *)q + 9 + an;
        const lmq_prop_info *info = lmq_prop_lookup(id);
        if (!info)
            *rc = LMQ_EINVAL;
        else if (info->kind <= LMQ_PK_VARINT)
            *rc = lmq_proplist_add_int(pl, id, num);
        else if (id == LMQ_PROP_USER)
            *rc = lmq_proplist_add_user(pl, a, (int32_t)an, b, (int32_t)bn);
        else
            *rc = lmq_proplist_add_str(pl, id, a, (int32_t)an);
        at += 9u + an + bn;
    }
    if (*rc) {
        lmq_proplist_free(pl);
        return NULL;
    }
    return pl;
}
