/*
 * plugin.c - loading C plugins and running their chain.
 *
 * Each loaded plugin gets a slot whose first member is its own copy of
 * the api table: the api pointer a plugin passes back is the slot, which
 * is how the engine knows who calls without a separate handle.  The
 * plugin's descriptor is copied into a full-size, zeroed struct, so hooks
 * an older plugin (smaller struct_size) does not have read as NULL.
 */
#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/codec.h"
#include "plugin/plugin.h"
#include "session/session_int.h"

#define LMQ_TICK_DEFAULT_MS 1000

/* The codes lunamq_plugin.h spells out for plugins are the engine's. */
_Static_assert(LMQ_PLUGIN_EINVAL == LMQ_EINVAL, "LMQ_PLUGIN_EINVAL");
_Static_assert(LMQ_PLUGIN_ESTATE == LMQ_ESTATE, "LMQ_PLUGIN_ESTATE");
_Static_assert(LMQ_PLUGIN_EVERSION == LMQ_EVERSION, "LMQ_PLUGIN_EVERSION");
_Static_assert(LMQ_PLUGIN_ENOLOOP == LMQ_EPLUGIN_NOLOOP, "LMQ_PLUGIN_ENOLOOP");

typedef struct lmq_plugin_slot {
    lmq_plugin_api api;           /* first: (slot *)api is the slot */
    lmq_plugin desc;              /* zero-padded copy of the plugin's own */
    lmq_plugin_chain *ch;
    void *state;
    void *handle;                 /* dlopen handle, NULL for a static one */
    char *label;                  /* the file, for errors */
    int64_t tick_ms;              /* 0: no ticks */
    int64_t next_tick;            /* 0: not scheduled yet */
    char err[200];                /* set_error, during init */
} lmq_plugin_slot;

/* Bytes a hook handed the engine (a user name, an AUTH answer): owned
 * until the next run of that hook, or the chain's end. */
typedef struct owned_bytes {
    uint8_t *p;
    int32_t n;
    int set;
} owned_bytes;

struct lmq_plugin_chain {
    lmq_plugin_slot **slot;
    int n, cap;
    unsigned hooks;               /* LMQ_HOOK_* of the loaded plugins */
    lmq_plugin_log_sink sink;
    void *sink_ctx;
    int64_t now;                  /* as of the last hook run */
    int in_log;                   /* inside the log hooks: do not re-enter */
    lmq_plugin_msg *cur;          /* the message being run, for msg_set_* */
    void *owned[3];               /* topic, payload and the PUBLISH around
                                     the property block a hook set: freed
                                     at the next run */
    lmq_props msg_props;          /* that block decoded (props_set) */
    int props_set;
    const uint8_t *orig_props;    /* the block the run began with */
    int32_t orig_props_len;
    lmq_proplist *out_list;       /* out: the block as a list to send */

    /* on_connect_send (ABI 1.1): what the hooks set for this attempt */
    lmq_plugin_conn *cur_conn;
    lmq_proplist *conn_props;     /* the CONNECT's properties, plugin ones added */
    int conn_level;
    owned_bytes conn_user, conn_pass;
    /* on_auth */
    const lmq_plugin_auth *cur_auth;
    owned_bytes auth_data;
    /* on_subscribe: the filters being run, and rewritten ones */
    lmq_plugin_sub *cur_subs;
    int32_t cur_nsubs;
    char **sub_owned;             /* [cur_nsubs], freed at the next run */
    int32_t n_sub_owned;

    /* fd watches (watch_fd) and who serves them */
    lmq_plugin_watch **watch;
    int n_watch, cap_watch;
    const lmq_plugin_io *io;
    void *io_ctx;
    lmq_plugin_stat_fn stat;
    void *stat_ctx;
    int64_t dropped[2], denied;   /* for api->stat: in, out; subscribe calls */
};

static lmq_plugin_slot *slot_of(const lmq_plugin_api *api)
{
    return (lmq_plugin_slot *)(uintptr_t)api;
}

static void chain_log(lmq_plugin_chain *ch, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void chain_log(lmq_plugin_chain *ch, int level, const char *fmt, ...)
{
    char buf[300];
    va_list ap;

    if (!ch->sink)
        return;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    ch->sink(ch->sink_ctx, level, buf);
}

/* ---------------------------------------------------------- the api table */

static int api_engine_version(const lmq_plugin_api *api)
{
    (void)api;
    return lmq_version_number();
}

static void api_log(const lmq_plugin_api *api, int32_t level, const char *text)
{
    lmq_plugin_slot *sl = slot_of(api);
    if (!text)
        return;
    if (level < LMQ_LOG_ERROR)
        level = LMQ_LOG_ERROR;
    if (level > LMQ_LOG_DEBUG)
        level = LMQ_LOG_DEBUG;
    chain_log(sl->ch, level, "[%s] %s", sl->desc.name, text);
}

static void api_set_error(const lmq_plugin_api *api, const char *text)
{
    lmq_plugin_slot *sl = slot_of(api);
    snprintf(sl->err, sizeof sl->err, "%s", text ? text : "");
}

static int64_t api_now_ms(const lmq_plugin_api *api)
{
    return slot_of(api)->ch->now;
}

static int api_set_tick(const lmq_plugin_api *api, int32_t interval_ms)
{
    lmq_plugin_slot *sl = slot_of(api);
    if (interval_ms < 0)
        return LMQ_EINVAL;
    sl->tick_ms = interval_ms;
    sl->next_tick = 0;
    return 0;
}

/* The message a hook may change: the one being run, and only that one. */
static int msg_ok(const lmq_plugin_api *api, const lmq_plugin_msg *m)
{
    return api && m && slot_of(api)->ch->cur == m;
}

static int set_bytes(lmq_plugin_chain *ch, int which, const void *p, int32_t len,
                     const void **dst)
{
    void *copy = malloc(len ? (size_t)len : 1);
    if (!copy)
        return LMQ_ENOMEM;
    if (len)
        memcpy(copy, p, (size_t)len);
    /* The old copy may be what p pointed into: freed only now. */
    free(ch->owned[which]);
    ch->owned[which] = copy;
    *dst = copy;
    return 0;
}

static int api_msg_set_topic(const lmq_plugin_api *api, lmq_plugin_msg *m,
                             const char *topic, int32_t len)
{
    if (!msg_ok(api, m) || !topic)
        return LMQ_EINVAL;
    if (len < 0)
        len = (int32_t)strlen(topic);
    int rc = lmq_topic_validate_name(topic, len);
    if (rc)
        return rc;
    const void *dst;
    if ((rc = set_bytes(slot_of(api)->ch, 0, topic, len, &dst)))
        return rc;
    m->topic = dst;
    m->topic_len = len;
    return 0;
}

static int api_msg_set_payload(const lmq_plugin_api *api, lmq_plugin_msg *m,
                               const void *payload, int32_t len)
{
    if (!msg_ok(api, m) || len < 0 || (!payload && len))
        return LMQ_EINVAL;
    const void *dst;
    int rc = set_bytes(slot_of(api)->ch, 1, payload, len, &dst);
    if (rc)
        return rc;
    m->payload = dst;
    m->payload_len = len;
    return 0;
}

static int api_msg_set_qos(const lmq_plugin_api *api, lmq_plugin_msg *m, int32_t qos)
{
    if (!msg_ok(api, m) || m->direction != LMQ_PLUGIN_OUT || qos < 0 || qos > 2)
        return LMQ_EINVAL;
    m->qos = qos;
    return 0;
}

static int api_msg_set_retain(const lmq_plugin_api *api, lmq_plugin_msg *m, int32_t retain)
{
    if (!msg_ok(api, m) || m->direction != LMQ_PLUGIN_OUT)
        return LMQ_EINVAL;
    m->retain = retain != 0;
    return 0;
}

static int api_msg_set_reason(const lmq_plugin_api *api, lmq_plugin_msg *m, int32_t reason)
{
    if (!msg_ok(api, m) || m->direction != LMQ_PLUGIN_IN)
        return LMQ_EINVAL;
    /* Success, or a refusal valid in both PUBACK and PUBREC. */
    if (reason != 0 && (reason > 0xFF || !lmq_reason_valid(LMQ_PUBACK, (uint8_t)reason) ||
                        reason < 0x80))
        return LMQ_EINVAL;
    m->reason = reason;
    return 0;
}

/* The lmq_event_prop_* readers work on any raw block put in an event. */
static lmq_event raw_event(const uint8_t *props, int32_t len)
{
    lmq_event ev;
    memset(&ev, 0, sizeof ev);
    ev.props = len > 0 ? props : NULL;
    ev.props_len = len > 0 ? len : 0;
    return ev;
}

static int api_prop_int(const uint8_t *props, int32_t len, int32_t id, int32_t index,
                        int64_t *value)
{
    lmq_event ev = raw_event(props, len);
    return lmq_event_prop_int(&ev, id, index, value);
}

static int api_prop_str(const uint8_t *props, int32_t len, int32_t id, const char **s,
                        int32_t *slen)
{
    lmq_event ev = raw_event(props, len);
    return lmq_event_prop_str(&ev, id, s, slen);
}

static int api_prop_user(const uint8_t *props, int32_t len, int32_t index,
                         const char **key, int32_t *klen, const char **val, int32_t *vlen)
{
    lmq_event ev = raw_event(props, len);
    return lmq_event_prop_user(&ev, index, key, klen, val, vlen);
}

static int api_prop_at(const uint8_t *props, int32_t len, int32_t n, int32_t *id,
                       int64_t *value, const char **s, int32_t *slen, const char **s2,
                       int32_t *s2len)
{
    lmq_props p;
    uint32_t pos = 0, num;
    uint8_t got;
    lmq_slice a, b;

    if (!props || len <= 0 || n < 0)
        return 0;
    memset(&p, 0, sizeof p);
    p.raw.p = props;
    p.raw.n = (uint32_t)len;
    while (lmq_props_next(&p, &pos, &got, &num, &a, &b)) {
        if (n-- > 0)
            continue;
        if (id)
            *id = got;
        if (value)
            *value = num;
        if (s)
            *s = (const char *)a.p;
        if (slen)
            *slen = (int32_t)a.n;
        if (s2)
            *s2 = (const char *)b.p;
        if (s2len)
            *s2len = (int32_t)b.n;
        return 1;
    }
    return 0;
}

static const char *api_prop_name(int32_t id)
{
    const lmq_prop_info *info = id >= 0 && id <= 0xFF ? lmq_prop_lookup((uint8_t)id) : NULL;
    return info ? info->name : NULL;
}

/* ----------------------------------------------------- ABI 1.1 functions */

static void bytes_free(owned_bytes *b)
{
    free(b->p);
    memset(b, 0, sizeof *b);
}

static int bytes_set(owned_bytes *b, const void *p, int32_t len)
{
    uint8_t *copy = malloc(len ? (size_t)len : 1);
    if (!copy)
        return LMQ_ENOMEM;
    if (len)
        memcpy(copy, p, (size_t)len);
    free(b->p);
    b->p = copy;
    b->n = len;
    b->set = 1;
    return 0;
}

static int conn_ok(const lmq_plugin_api *api, const lmq_plugin_conn *conn)
{
    return api && conn && slot_of(api)->ch->cur_conn == conn;
}

static int api_conn_set_user(const lmq_plugin_api *api, lmq_plugin_conn *conn,
                             const char *user, int32_t len)
{
    if (!conn_ok(api, conn) || !user)
        return LMQ_EINVAL;
    if (len < 0)
        len = (int32_t)strlen(user);
    if (len > 65535 || lmq_utf8_check((const uint8_t *)user, (uint32_t)len))
        return LMQ_EINVAL;      /* [MQTT-3.1.3-11] a UTF-8 string */
    return bytes_set(&slot_of(api)->ch->conn_user, user, len);
}

static int api_conn_set_password(const lmq_plugin_api *api, lmq_plugin_conn *conn,
                                 const void *pw, int32_t len)
{
    if (!conn_ok(api, conn) || (!pw && len) || len < 0 || len > 65535)
        return LMQ_EINVAL;
    return bytes_set(&slot_of(api)->ch->conn_pass, pw, len);
}

/* The list the CONNECT will carry: made on first use. */
static int conn_list(const lmq_plugin_api *api, lmq_plugin_conn *conn)
{
    lmq_plugin_chain *ch;
    if (!conn_ok(api, conn))
        return LMQ_EINVAL;
    ch = slot_of(api)->ch;
    if (ch->conn_level != 5)
        return LMQ_EVERSION;
    if (!ch->conn_props && !(ch->conn_props = lmq_proplist_new()))
        return LMQ_ENOMEM;
    return 0;
}

static int connect_prop(int32_t id)
{
    const lmq_prop_info *info = id > 0 && id <= 0xFF ? lmq_prop_lookup((uint8_t)id) : NULL;
    return info && (info->where & LMQ_IN(LMQ_CONNECT));
}

static int api_conn_add_prop_int(const lmq_plugin_api *api, lmq_plugin_conn *conn,
                                 int32_t id, int64_t value)
{
    int rc = conn_list(api, conn);
    if (rc)
        return rc;
    if (!connect_prop(id))
        return LMQ_EINVAL;
    return lmq_proplist_add_int(slot_of(api)->ch->conn_props, id, value);
}

static int api_conn_add_prop_str(const lmq_plugin_api *api, lmq_plugin_conn *conn,
                                 int32_t id, const char *str, int32_t len)
{
    int rc = conn_list(api, conn);
    if (rc)
        return rc;
    if (!connect_prop(id) || id == LMQ_PROP_USER)
        return LMQ_EINVAL;
    return lmq_proplist_add_str(slot_of(api)->ch->conn_props, id, str, len);
}

static int api_conn_add_user_prop(const lmq_plugin_api *api, lmq_plugin_conn *conn,
                                  const char *key, int32_t klen, const char *val,
                                  int32_t vlen)
{
    int rc = conn_list(api, conn);
    if (rc)
        return rc;
    return lmq_proplist_add_user(slot_of(api)->ch->conn_props, key, klen, val, vlen);
}

static int api_auth_reply(const lmq_plugin_api *api, const lmq_plugin_auth *auth,
                          const void *data, int32_t len)
{
    if (!api || !auth || slot_of(api)->ch->cur_auth != auth || len < 0 || len > 65535 ||
        (!data && len))
        return LMQ_EINVAL;
    return bytes_set(&slot_of(api)->ch->auth_data, data, len);
}

/* Which of the subs being run this is: its index, or -1. */
static int32_t sub_index(const lmq_plugin_api *api, const lmq_plugin_sub *sub)
{
    lmq_plugin_chain *ch;
    if (!api || !sub)
        return -1;
    ch = slot_of(api)->ch;
    if (!ch->cur_subs || sub < ch->cur_subs || sub >= ch->cur_subs + ch->cur_nsubs)
        return -1;
    return (int32_t)(sub - ch->cur_subs);
}

static int api_sub_set_filter(const lmq_plugin_api *api, const lmq_plugin_sub *sub,
                              const char *filter, int32_t len)
{
    int32_t i = sub_index(api, sub);
    lmq_plugin_chain *ch;
    int rc;

    if (i < 0 || !filter)
        return LMQ_EINVAL;
    if (len < 0)
        len = (int32_t)strlen(filter);
    if ((rc = lmq_topic_validate_filter(filter, len)))   /* [MQTT-4.7.1-1] [MQTT-4.7.1-2] */
        return rc;
    ch = slot_of(api)->ch;
    char *copy = malloc(len ? (size_t)len : 1);
    if (!copy)
        return LMQ_ENOMEM;
    memcpy(copy, filter, (size_t)len);
    /* The old copy may be what filter pointed into: freed only now. */
    free(ch->sub_owned[i]);
    ch->sub_owned[i] = copy;
    ch->cur_subs[i].filter = copy;
    ch->cur_subs[i].filter_len = len;
    return 0;
}

static int api_sub_set_options(const lmq_plugin_api *api, const lmq_plugin_sub *sub,
                               int32_t o)
{
    int32_t i = sub_index(api, sub);
    /* QoS 3, reserved bits [MQTT-3.8.3-5] and Retain Handling 3 are not
     * options. */
    if (i < 0 || o < 0 || o > 0x3F || (o & 3) == 3 || ((o >> 4) & 3) == 3)
        return LMQ_EINVAL;
    slot_of(api)->ch->cur_subs[i].options = o;
    return 0;
}

static int find_watch(const lmq_plugin_chain *ch, const lmq_plugin_slot *sl, int32_t fd)
{
    for (int i = 0; i < ch->n_watch; i++)
        if (ch->watch[i]->slot == sl && ch->watch[i]->fd == fd)
            return i;
    return -1;
}

static int api_watch_fd(const lmq_plugin_api *api, int32_t fd, int32_t events,
                        void (*cb)(void *ud, int32_t fd, int32_t revents), void *ud)
{
    lmq_plugin_slot *sl = slot_of(api);
    lmq_plugin_chain *ch = sl->ch;
    int rc;

    if (fd < 0 || !cb || events <= 0 ||
        (events & ~(LMQ_PLUGIN_WATCH_READ | LMQ_PLUGIN_WATCH_WRITE)))
        return LMQ_EINVAL;
    if (!ch->io)
        return LMQ_EPLUGIN_NOLOOP;
    int i = find_watch(ch, sl, fd);
    if (i >= 0) {
        lmq_plugin_watch *w = ch->watch[i];
        int old = w->events;
        w->events = events;
        w->cb = cb;
        w->ud = ud;
        if (old != events && (rc = ch->io->watch(ch->io_ctx, w)))
            w->events = old;
        return old != events ? rc : 0;
    }
    if (ch->n_watch == ch->cap_watch) {
        int cap = ch->cap_watch ? ch->cap_watch * 2 : 4;
        lmq_plugin_watch **nw = realloc(ch->watch, (size_t)cap * sizeof *nw);
        if (!nw)
            return LMQ_ENOMEM;
        ch->watch = nw;
        ch->cap_watch = cap;
    }
    lmq_plugin_watch *w = calloc(1, sizeof *w);
    if (!w)
        return LMQ_ENOMEM;
    w->fd = fd;
    w->events = events;
    w->cb = cb;
    w->ud = ud;
    w->slot = sl;
    if ((rc = ch->io->watch(ch->io_ctx, w))) {
        free(w);
        return rc;
    }
    ch->watch[ch->n_watch++] = w;
    return 0;
}

static int watch_drop(lmq_plugin_chain *ch, int i)
{
    lmq_plugin_watch *w = ch->watch[i];
    int rc;
    /* Refused from a thread not the loop's: w stays, still watched. */
    if (ch->io && w->drv && (rc = ch->io->unwatch(ch->io_ctx, w)))
        return rc;
    free(w);
    ch->watch[i] = ch->watch[--ch->n_watch];
    return 0;
}

static int api_unwatch_fd(const lmq_plugin_api *api, int32_t fd)
{
    lmq_plugin_slot *sl = slot_of(api);
    int i = find_watch(sl->ch, sl, fd);
    if (i < 0)
        return LMQ_EINVAL;
    return watch_drop(sl->ch, i);
}

static int64_t api_stat(const lmq_plugin_api *api, int32_t which)
{
    lmq_plugin_chain *ch = slot_of(api)->ch;
    if (which == LMQ_PLUGIN_STAT_DROPPED_IN || which == LMQ_PLUGIN_STAT_DROPPED_OUT)
        return ch->dropped[which == LMQ_PLUGIN_STAT_DROPPED_OUT];
    if (which == LMQ_PLUGIN_STAT_SUBS_DENIED)
        return ch->denied;
    if (!ch->stat || which < LMQ_PLUGIN_STAT_CONNECTED || which > LMQ_PLUGIN_STAT_INFLIGHT_IN)
        return LMQ_EINVAL;
    return ch->stat(ch->stat_ctx, which);
}

/* ------------------------------------------- message properties (ABI 1.1) */

uint8_t *lmq_plugin_packet_props(const lmq_packet *pkt, int direction, size_t vh,
                                 int32_t *len, int *rc)
{
    uint32_t rem, plen;

    *len = 0;
    *rc = 0;
    int64_t n = lmq_encode_size_as(pkt, 5, direction);
    if (n <= 0) {
        *rc = (int)n;
        return NULL;
    }
    uint8_t *buf = malloc((size_t)n);
    if (!buf || lmq_encode_as(pkt, 5, direction, buf, (size_t)n) != n)
        goto fail;
    int k = lmq_varint_get(buf + 1, (size_t)n - 1, &rem);     /* fixed header */
    size_t at = 1 + (size_t)(k > 0 ? k : 0) + vh;
    if (k <= 0 || at >= (size_t)n ||
        (k = lmq_varint_get(buf + at, (size_t)n - at, &plen)) <= 0 ||
        at + (size_t)k + plen > (size_t)n)
        goto fail;
    memmove(buf, buf + at + (size_t)k, plen);
    /* What else the packet carried (a CONNECT's password and will) is not
     * left in freed memory. */
    memset(buf + plen, 0, (size_t)n - plen);
    if (!plen) {
        free(buf);
        return NULL;
    }
    *len = (int32_t)plen;
    return buf;
fail:
    if (buf)
        memset(buf, 0, (size_t)n);
    free(buf);
    *rc = LMQ_ENOMEM;
    return NULL;
}

/* The property block of a PUBLISH carrying pl's properties as the codec
 * writes them for `direction` (LMQ_FROM_*); *len 0 and NULL when there
 * are none, NULL with *rc set when pl cannot go in a PUBLISH.  Free it. */
uint8_t *lmq_plugin_props_block(const lmq_proplist *pl, int direction, int32_t *len, int *rc)
{
    lmq_packet pkt;

    *len = 0;
    memset(&pkt, 0, sizeof pkt);
    pkt.type = LMQ_PUBLISH;
    pkt.u.publish.topic.p = (const uint8_t *)"t";
    pkt.u.publish.topic.n = 1;
    if ((*rc = lmq_proplist_props(pl, LMQ_IN(LMQ_PUBLISH), &pkt.u.publish.props)))
        return NULL;
    return lmq_plugin_packet_props(&pkt, direction, 2 + 1, len, rc);    /* topic "t" */
}

/* The largest block a PUBLISH of topic "t" holds (section 2.1.4). */
#define LMQ_PROPS_BLOCK_MAX (268435455u - 3u - 4u)

/*
 * Make block the message's property block.  It is checked by the codec
 * itself, not here: a QoS 0 PUBLISH is built around it and decoded as
 * from the message's sender (the server in, the client out), so the rules
 * are the decoder's (PUBLISH properties only, once each unless repeatable,
 * values, UTF-8, a Subscription Identifier only from a server
 * [MQTT-3.3.4-6]).  On top: the engine's topic aliases are its own.  The
 * packet becomes the chain's; on a refusal nothing changes.
 */
static int props_install(lmq_plugin_chain *ch, lmq_plugin_msg *m, const uint8_t *block,
                         uint32_t len)
{
    lmq_packet pkt;

    if (len > LMQ_PROPS_BLOCK_MAX)
        return LMQ_EINVAL;
    uint32_t rem = 3u + (uint32_t)lmq_varint_size(len) + len;
    size_t n = 1u + (size_t)lmq_varint_size(rem) + rem;
    uint8_t *buf = malloc(n);
    if (!buf)
        return LMQ_ENOMEM;
    size_t at = 0;
    buf[at++] = (uint8_t)(LMQ_PUBLISH << 4);
    at += (size_t)lmq_varint_put(buf + at, rem);
    buf[at++] = 0;
    buf[at++] = 1;
    buf[at++] = 't';
    at += (size_t)lmq_varint_put(buf + at, len);
    if (len)
        memcpy(buf + at, block, len);
    int rc = lmq_decode(buf, n, 5,
                        m->direction == LMQ_PLUGIN_IN ? LMQ_FROM_SERVER : LMQ_FROM_CLIENT, &pkt);
    /* Out, the session sets Topic Alias itself [MQTT-3.3.2-9]; in, it was
     * resolved before the hook: only the one the message came with (looked
     * up only here, off the path of messages whose properties stay). */
    if (!rc && lmq_props_has(&pkt.u.publish.props, LMQ_PROP_TOPIC_ALIAS)) {
        int64_t came = 0;
        if (m->direction != LMQ_PLUGIN_IN ||
            api_prop_int(ch->orig_props, ch->orig_props_len, LMQ_PROP_TOPIC_ALIAS, 0,
                         &came) != 1 ||
            came != pkt.u.publish.props.topic_alias)
            rc = LMQ_EINVAL;
    }
    if (rc) {
        free(buf);
        return rc;
    }
    free(ch->owned[2]);
    ch->owned[2] = buf;
    ch->msg_props = pkt.u.publish.props;
    ch->props_set = 1;
    m->props = len ? buf + at : NULL;
    m->props_len = (int32_t)len;
    return 0;
}

/* The message whose properties a hook may change: MQTT 5 only. */
static int props_ok(const lmq_plugin_api *api, const lmq_plugin_msg *m)
{
    if (!msg_ok(api, m))
        return LMQ_EINVAL;
    return m->protocol == 5 ? 0 : LMQ_EVERSION;
}

/* The message's block without property id (of User Properties, only those
 * of key when key is set), then add[0..addlen): installed as above.  The
 * number removed, or LMQ_E*. */
static int props_edit(const lmq_plugin_api *api, lmq_plugin_msg *m, int32_t id, const char *key,
                      uint32_t klen, const uint8_t *add, uint32_t addlen)
{
    lmq_props cur;
    uint32_t pos = 0, start = 0, at = 0, num;
    uint8_t pid;
    lmq_slice a, b;
    int removed = 0;

    memset(&cur, 0, sizeof cur);
    cur.raw.p = m->props;
    cur.raw.n = m->props_len > 0 ? (uint32_t)m->props_len : 0;
    if ((uint64_t)cur.raw.n + addlen > LMQ_PROPS_BLOCK_MAX)
        return LMQ_EINVAL;
    uint8_t *nb = malloc((size_t)cur.raw.n + addlen + 1);
    if (!nb)
        return LMQ_ENOMEM;
    /* The block is one the codec accepted (decoded in, encoded out, or
     * installed here), which is what lmq_props_next asks. */
    for (; lmq_props_next(&cur, &pos, &pid, &num, &a, &b); start = pos) {
        if (pid == id && (!key || (a.n == klen && !memcmp(a.p, key, klen)))) {
            removed++;
            continue;
        }
        memcpy(nb + at, cur.raw.p + start, pos - start);
        at += pos - start;
    }
    if (addlen)
        memcpy(nb + at, add, addlen);
    int rc = props_install(slot_of(api)->ch, m, nb, at + addlen);
    free(nb);
    return rc ? rc : removed;
}

/* Replace every property id with the one property of pl (takes pl). */
static int props_replace(const lmq_plugin_api *api, lmq_plugin_msg *m, int32_t id,
                         lmq_proplist *pl, int rc)
{
    int32_t len = 0;
    uint8_t *one = NULL;
    /* Either sender: which one may send it is the install's check. */
    if (!rc && !(one = lmq_plugin_props_block(pl, LMQ_FROM_EITHER, &len, &rc)) && !rc)
        rc = LMQ_EINVAL;
    lmq_proplist_free(pl);
    if (!rc && (rc = props_edit(api, m, id, NULL, 0, one, (uint32_t)len)) > 0)
        rc = 0;
    free(one);
    return rc;
}

static int api_msg_set_props(const lmq_plugin_api *api, lmq_plugin_msg *m,
                             const uint8_t *block, int32_t len)
{
    int rc = props_ok(api, m);
    if (rc)
        return rc;
    if (len < 0 || (!block && len))
        return LMQ_EINVAL;
    return props_install(slot_of(api)->ch, m, block, (uint32_t)len);
}

static int api_msg_add_user_prop(const lmq_plugin_api *api, lmq_plugin_msg *m,
                                 const char *key, int32_t klen, const char *val, int32_t vlen)
{
    int rc = props_ok(api, m);
    if (rc)
        return rc;
    lmq_proplist *pl = lmq_proplist_new();
    rc = pl ? lmq_proplist_add_user(pl, key, klen, val, vlen) : LMQ_ENOMEM;
    /* id 0 is no property: nothing removed, the pair appended */
    return props_replace(api, m, 0, pl, rc);
}

static int api_msg_set_prop_int(const lmq_plugin_api *api, lmq_plugin_msg *m, int32_t id,
                                int64_t value)
{
    int rc = props_ok(api, m);
    if (rc)
        return rc;
    lmq_proplist *pl = lmq_proplist_new();
    rc = pl ? lmq_proplist_add_int(pl, id, value) : LMQ_ENOMEM;
    return props_replace(api, m, id, pl, rc);
}

static int api_msg_set_prop_str(const lmq_plugin_api *api, lmq_plugin_msg *m, int32_t id,
                                const char *str, int32_t len)
{
    int rc = props_ok(api, m);
    if (rc)
        return rc;
    if (id == LMQ_PROP_USER || !str)
        return LMQ_EINVAL;
    lmq_proplist *pl = lmq_proplist_new();
    rc = pl ? lmq_proplist_add_str(pl, id, str, len) : LMQ_ENOMEM;
    return props_replace(api, m, id, pl, rc);
}

static int api_msg_remove_prop(const lmq_plugin_api *api, lmq_plugin_msg *m, int32_t id,
                               const char *key, int32_t klen)
{
    int rc = props_ok(api, m);
    if (rc)
        return rc;
    if (id <= 0 || id > 0xFF || !lmq_prop_lookup((uint8_t)id) ||
        (key && id != LMQ_PROP_USER))
        return LMQ_EINVAL;
    if (key && klen < 0)
        klen = (int32_t)strlen(key);
    if (key && klen > 65535)
        return LMQ_EINVAL;
    return props_edit(api, m, id, key, key ? (uint32_t)klen : 0, NULL, 0);
}

int lmq_plugin_msg_props(const lmq_plugin_chain *ch, lmq_props *out)
{
    if (!ch->props_set)
        return 0;
    *out = ch->msg_props;
    return 1;
}

int lmq_plugin_msg_proplist(lmq_plugin_chain *ch, const lmq_proplist **out)
{
    uint32_t pos = 0, num;
    uint8_t id;
    lmq_slice a, b;
    int rc = 0;

    if (!ch->props_set)
        return 0;
    lmq_proplist_free(ch->out_list);
    if (!(ch->out_list = lmq_proplist_new()))
        return LMQ_ENOMEM;
    while (!rc && lmq_props_next(&ch->msg_props, &pos, &id, &num, &a, &b)) {
        const lmq_prop_info *info = lmq_prop_lookup(id);
        if (id == LMQ_PROP_USER)
            rc = lmq_proplist_add_user(ch->out_list, (const char *)a.p, (int32_t)a.n,
                                       (const char *)b.p, (int32_t)b.n);
        else if (info && (info->kind == LMQ_PK_UTF8 || info->kind == LMQ_PK_BINARY))
            rc = lmq_proplist_add_str(ch->out_list, id, (const char *)a.p, (int32_t)a.n);
        else
            rc = lmq_proplist_add_int(ch->out_list, id, num);
    }
    *out = ch->out_list;
    return rc ? rc : 1;
}

static const lmq_plugin_api api_template = {
    .abi_version = LMQ_PLUGIN_ABI_VERSION,
    .struct_size = sizeof(lmq_plugin_api),
    .engine_version = api_engine_version,
    .log = api_log,
    .set_error = api_set_error,
    .now_ms = api_now_ms,
    .set_tick = api_set_tick,
    .msg_set_topic = api_msg_set_topic,
    .msg_set_payload = api_msg_set_payload,
    .msg_set_qos = api_msg_set_qos,
    .msg_set_retain = api_msg_set_retain,
    .msg_set_reason = api_msg_set_reason,
    .prop_int = api_prop_int,
    .prop_str = api_prop_str,
    .prop_user = api_prop_user,
    .prop_at = api_prop_at,
    .prop_name = api_prop_name,
    .topic_matches = lmq_topic_matches,
    .conn_set_user = api_conn_set_user,
    .conn_set_password = api_conn_set_password,
    .conn_add_prop_int = api_conn_add_prop_int,
    .conn_add_prop_str = api_conn_add_prop_str,
    .conn_add_user_prop = api_conn_add_user_prop,
    .auth_reply = api_auth_reply,
    .sub_set_filter = api_sub_set_filter,
    .sub_set_options = api_sub_set_options,
    .watch_fd = api_watch_fd,
    .unwatch_fd = api_unwatch_fd,
    .stat = api_stat,
    .msg_set_props = api_msg_set_props,
    .msg_add_user_prop = api_msg_add_user_prop,
    .msg_set_prop_int = api_msg_set_prop_int,
    .msg_set_prop_str = api_msg_set_prop_str,
    .msg_remove_prop = api_msg_remove_prop,
};

/* ------------------------------------------------------------- the chain */

lmq_plugin_chain *lmq_plugin_chain_new(lmq_plugin_log_sink sink, void *ctx)
{
    lmq_plugin_chain *ch = calloc(1, sizeof *ch);
    if (!ch)
        return NULL;
    ch->sink = sink;
    ch->sink_ctx = ctx;
    return ch;
}

static void slot_free(lmq_plugin_slot *sl)
{
    if (sl->handle)
        dlclose(sl->handle);
    free(sl->label);
    free(sl);
}

void lmq_plugin_chain_free(lmq_plugin_chain *ch)
{
    if (!ch)
        return;
    for (int i = ch->n - 1; i >= 0; i--) {
        lmq_plugin_slot *sl = ch->slot[i];
        /* Out of the chain first: a shutdown that logs runs the log hooks
         * of the plugins still loaded, never of those already freed (and
         * dlclosed) nor its own. */
        ch->n = i;
        if (sl->desc.shutdown)
            sl->desc.shutdown(sl->state);
        /* What it left watched is unwatched for it (never closed). */
        for (int k = ch->n_watch - 1; k >= 0; k--)
            if (ch->watch[k]->slot == sl)
                watch_drop(ch, k);
        slot_free(sl);
    }
    free(ch->watch);
    lmq_proplist_free(ch->conn_props);
    bytes_free(&ch->conn_user);
    bytes_free(&ch->conn_pass);
    bytes_free(&ch->auth_data);
    for (int32_t i = 0; i < ch->n_sub_owned; i++)
        free(ch->sub_owned[i]);
    free(ch->sub_owned);
    for (int i = 0; i < 3; i++)
        free(ch->owned[i]);
    lmq_proplist_free(ch->out_list);
    free(ch->slot);
    free(ch);
}

static unsigned hooks_of(const lmq_plugin *d)
{
    unsigned h = 0;
    h |= d->on_connect ? LMQ_HOOK_CONNECT : 0;
    h |= d->on_connack ? LMQ_HOOK_CONNACK : 0;
    h |= d->on_message_in ? LMQ_HOOK_MESSAGE_IN : 0;
    h |= d->on_publish_out ? LMQ_HOOK_PUBLISH_OUT : 0;
    h |= d->on_disconnect ? LMQ_HOOK_DISCONNECT : 0;
    h |= d->on_log ? LMQ_HOOK_LOG : 0;
    h |= d->on_tick ? LMQ_HOOK_TICK : 0;
    h |= d->on_publish_done ? LMQ_HOOK_PUBLISH_DONE : 0;
    h |= d->on_subscribe ? LMQ_HOOK_SUBSCRIBE : 0;
    h |= d->on_connect_send ? LMQ_HOOK_CONNECT_SEND : 0;
    h |= d->on_auth ? LMQ_HOOK_AUTH : 0;
    h |= d->on_subscribed ? LMQ_HOOK_SUBSCRIBED : 0;
    h |= d->on_reconnect ? LMQ_HOOK_RECONNECT : 0;
    h |= d->on_app_event ? LMQ_HOOK_APP_EVENT : 0;
    return h;
}

/* The descriptor checks: what the engine refuses before calling anything. */
static int check_desc(const lmq_plugin *desc, const char *label, char *err, size_t errlen)
{
    uint32_t major = desc->abi_version >> 16, minor = desc->abi_version & 0xFFFFu;
    if (major != LMQ_PLUGIN_ABI_MAJOR) {
        snprintf(err, errlen, "plugin %s: built for plugin ABI %u.%u, the engine has %u.%u",
                 label, major, minor, LMQ_PLUGIN_ABI_MAJOR, LMQ_PLUGIN_ABI_MINOR);
        return LMQ_EPLUGIN_ABI;
    }
    if (desc->struct_size < offsetof(lmq_plugin, on_connect) || !desc->name ||
        !desc->name[0] || !desc->init) {
        snprintf(err, errlen, "plugin %s: descriptor incomplete (struct_size %u, name, init)",
                 label, desc->struct_size);
        return LMQ_EPLUGIN_ABI;
    }
    return 0;
}

static char *dup_str(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

static int grow(lmq_plugin_chain *ch)
{
    if (ch->n < ch->cap)
        return 0;
    int cap = ch->cap ? ch->cap * 2 : 4;
    lmq_plugin_slot **s = realloc(ch->slot, (size_t)cap * sizeof *s);
    if (!s)
        return LMQ_ENOMEM;
    ch->slot = s;
    ch->cap = cap;
    return 0;
}

int lmq_plugin_chain_add(lmq_plugin_chain *ch, const lmq_plugin *desc, const char *config,
                         const char *label, void *handle, char *err, size_t errlen)
{
    int rc;

    if (!ch || !desc || !label)
        return LMQ_EINVAL;
    if ((rc = check_desc(desc, label, err, errlen)))
        return rc;
    if ((rc = grow(ch)))
        return rc;
    lmq_plugin_slot *sl = calloc(1, sizeof *sl);
    if (!sl || !(sl->label = dup_str(label))) {
        free(sl);
        return LMQ_ENOMEM;
    }
    sl->api = api_template;
    size_t n = desc->struct_size < sizeof sl->desc ? desc->struct_size : sizeof sl->desc;
    memcpy(&sl->desc, desc, n);
    sl->ch = ch;
    sl->tick_ms = sl->desc.on_tick ? LMQ_TICK_DEFAULT_MS : 0;
    if (sl->desc.init(&sl->api, config ? config : "", &sl->state) != 0) {
        snprintf(err, errlen, "plugin %s (%s): init failed%s%s", label, sl->desc.name,
                 sl->err[0] ? ": " : "", sl->err);
        for (int k = ch->n_watch - 1; k >= 0; k--)
            if (ch->watch[k]->slot == sl)
                watch_drop(ch, k);
        free(sl->label);
        free(sl);
        return LMQ_EPLUGIN_INIT;
    }
    sl->handle = handle;
    ch->slot[ch->n++] = sl;
    ch->hooks |= hooks_of(&sl->desc);
    chain_log(ch, LMQ_LOG_INFO, "plugin %s %s loaded from %s", sl->desc.name,
              sl->desc.version ? sl->desc.version : "", label);
    return 0;
}

int lmq_plugin_chain_load(lmq_plugin_chain *ch, const char *path, const char *config,
                          char *err, size_t errlen)
{
    if (!ch || !path || !path[0])
        return LMQ_EINVAL;
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        const char *why = dlerror();
        snprintf(err, errlen, "plugin %s: cannot load: %s", path, why ? why : "unknown");
        return LMQ_EPLUGIN_LOAD;
    }
    /* A data pointer to a function pointer through memcpy: what POSIX
     * dlsym() promises to work, without the ISO C cast warning. */
    void *sym = dlsym(h, LMQ_PLUGIN_ENTRY_SYMBOL);
    lmq_plugin_entry_fn entry;
    if (!sym) {
        snprintf(err, errlen, "plugin %s: no %s symbol", path, LMQ_PLUGIN_ENTRY_SYMBOL);
        dlclose(h);
        return LMQ_EPLUGIN_SYMBOL;
    }
    memcpy(&entry, &sym, sizeof entry);
    const lmq_plugin *desc = entry();
    if (!desc) {
        snprintf(err, errlen, "plugin %s: %s returned NULL", path, LMQ_PLUGIN_ENTRY_SYMBOL);
        dlclose(h);
        return LMQ_EPLUGIN_SYMBOL;
    }
    int rc = lmq_plugin_chain_add(ch, desc, config, path, h, err, errlen);
    if (rc)
        dlclose(h);
    return rc;
}

unsigned lmq_plugin_chain_hooks(const lmq_plugin_chain *ch)
{
    return ch ? ch->hooks : 0;
}

int lmq_plugin_chain_count(const lmq_plugin_chain *ch)
{
    return ch ? ch->n : 0;
}

/* ---------------------------------------------------------- running hooks */

int lmq_plugin_run_msg(lmq_plugin_chain *ch, int hook, lmq_plugin_msg *m, int64_t now)
{
    int verdict = LMQ_PLUGIN_CONTINUE;

    ch->now = now;
    for (int i = 0; i < 3; i++) {
        free(ch->owned[i]);
        ch->owned[i] = NULL;
    }
    lmq_proplist_free(ch->out_list);
    ch->out_list = NULL;
    ch->props_set = 0;
    ch->orig_props = m->props;
    ch->orig_props_len = m->props_len;
    ch->cur = m;
    for (int i = 0; i < ch->n && verdict == LMQ_PLUGIN_CONTINUE; i++) {
        lmq_plugin_slot *sl = ch->slot[i];
        int (*fn)(void *, lmq_plugin_msg *) =
            hook == LMQ_HOOK_MESSAGE_IN ? sl->desc.on_message_in : sl->desc.on_publish_out;
        if (!fn || fn(sl->state, m) == LMQ_PLUGIN_CONTINUE)
            continue;
        verdict = LMQ_PLUGIN_DROP;
        ch->dropped[hook != LMQ_HOOK_MESSAGE_IN]++;
        chain_log(ch, LMQ_LOG_INFO, "plugin %s dropped the %s message on '%.*s'",
                  sl->desc.name, m->direction == LMQ_PLUGIN_IN ? "incoming" : "outgoing",
                  m->topic ? (int)m->topic_len : 0, m->topic ? m->topic : "");
    }
    ch->cur = NULL;
    return verdict;
}

void lmq_plugin_run_conn(lmq_plugin_chain *ch, int hook, const lmq_plugin_conn *conn,
                         int64_t now)
{
    ch->now = now;
    for (int i = 0; i < ch->n; i++) {
        const lmq_plugin *d = &ch->slot[i]->desc;
        void (*fn)(void *, const lmq_plugin_conn *) =
            hook == LMQ_HOOK_CONNECT   ? d->on_connect
            : hook == LMQ_HOOK_CONNACK ? d->on_connack
                                       : d->on_disconnect;
        if (fn)
            fn(ch->slot[i]->state, conn);
    }
}

int lmq_plugin_run_sub(lmq_plugin_chain *ch, lmq_plugin_sub *subs, int32_t n, int64_t now)
{
    int verdict = LMQ_PLUGIN_CONTINUE;

    ch->now = now;
    for (int32_t i = 0; i < ch->n_sub_owned; i++)
        free(ch->sub_owned[i]);
    free(ch->sub_owned);
    ch->n_sub_owned = 0;
    if (!(ch->sub_owned = calloc((size_t)n, sizeof *ch->sub_owned)))
        return LMQ_ENOMEM;
    ch->n_sub_owned = n;
    ch->cur_subs = subs;
    ch->cur_nsubs = n;
    for (int i = 0; i < ch->n; i++) {
        lmq_plugin_slot *sl = ch->slot[i];
        if (!sl->desc.on_subscribe ||
            sl->desc.on_subscribe(sl->state, subs, n) == LMQ_PLUGIN_CONTINUE)
            continue;
        chain_log(ch, LMQ_LOG_INFO, "plugin %s denied the subscription to '%.*s'%s",
                  sl->desc.name, (int)subs[0].filter_len, subs[0].filter,
                  n > 1 ? " and more" : "");
        verdict = LMQ_PLUGIN_DROP;
        ch->denied++;
        break;
    }
    ch->cur_subs = NULL;
    ch->cur_nsubs = 0;
    return verdict;
}

int lmq_plugin_run_connect_send(lmq_plugin_chain *ch, lmq_plugin_conn *conn,
                                lmq_proplist *props, int64_t now)
{
    int verdict = LMQ_PLUGIN_CONTINUE;

    ch->now = now;
    lmq_proplist_free(ch->conn_props);
    ch->conn_props = props;
    ch->conn_level = conn->protocol;
    bytes_free(&ch->conn_user);
    bytes_free(&ch->conn_pass);
    ch->cur_conn = conn;
    for (int i = 0; i < ch->n; i++) {
        lmq_plugin_slot *sl = ch->slot[i];
        if (!sl->desc.on_connect_send ||
            sl->desc.on_connect_send(sl->state, conn) == LMQ_PLUGIN_CONTINUE)
            continue;
        chain_log(ch, LMQ_LOG_WARNING, "plugin %s abandoned the connection attempt",
                  sl->desc.name);
        verdict = LMQ_PLUGIN_DROP;
        break;
    }
    ch->cur_conn = NULL;
    return verdict;
}

const lmq_proplist *lmq_plugin_connect_props(const lmq_plugin_chain *ch)
{
    return ch->conn_props;
}

int lmq_plugin_connect_user(const lmq_plugin_chain *ch, int which, const uint8_t **p,
                            uint32_t *n)
{
    const owned_bytes *b = which ? &ch->conn_pass : &ch->conn_user;
    if (!b->set)
        return 0;
    *p = b->p;
    *n = (uint32_t)b->n;
    return 1;
}

int lmq_plugin_run_auth(lmq_plugin_chain *ch, const lmq_plugin_auth *auth,
                        const uint8_t **data, uint32_t *n, int64_t now)
{
    ch->now = now;
    bytes_free(&ch->auth_data);
    ch->cur_auth = auth;
    for (int i = 0; i < ch->n && !ch->auth_data.set; i++) {
        lmq_plugin_slot *sl = ch->slot[i];
        if (!sl->desc.on_auth)
            continue;
        sl->desc.on_auth(sl->state, auth);
        if (ch->auth_data.set)
            chain_log(ch, LMQ_LOG_DEBUG, "plugin %s answered the AUTH challenge",
                      sl->desc.name);
    }
    ch->cur_auth = NULL;
    if (!ch->auth_data.set)
        return 0;
    *data = ch->auth_data.p;
    *n = (uint32_t)ch->auth_data.n;
    return 1;
}

void lmq_plugin_run_suback(lmq_plugin_chain *ch, const lmq_plugin_suback *ack, int64_t now)
{
    ch->now = now;
    for (int i = 0; i < ch->n; i++) {
        lmq_plugin_slot *sl = ch->slot[i];
        if (sl->desc.on_subscribed)
            sl->desc.on_subscribed(sl->state, ack);
    }
}

void lmq_plugin_run_reconnect(lmq_plugin_chain *ch, int32_t attempt, int64_t delay_ms,
                              int64_t now)
{
    ch->now = now;
    for (int i = 0; i < ch->n; i++) {
        lmq_plugin_slot *sl = ch->slot[i];
        if (sl->desc.on_reconnect)
            sl->desc.on_reconnect(sl->state, attempt, delay_ms);
    }
}

void lmq_plugin_run_app_event(lmq_plugin_chain *ch, const char *name, int32_t len,
                              int64_t value, int64_t now)
{
    ch->now = now;
    for (int i = 0; i < ch->n; i++) {
        lmq_plugin_slot *sl = ch->slot[i];
        if (sl->desc.on_app_event)
            sl->desc.on_app_event(sl->state, name, len, value);
    }
}

void lmq_plugin_chain_set_io(lmq_plugin_chain *ch, const lmq_plugin_io *io, void *ctx)
{
    if (!ch)
        return;
    ch->io = io;
    ch->io_ctx = ctx;
}

void lmq_plugin_chain_set_stat(lmq_plugin_chain *ch, lmq_plugin_stat_fn fn, void *ctx)
{
    if (!ch)
        return;
    ch->stat = fn;
    ch->stat_ctx = ctx;
}

void lmq_plugin_watch_fire(lmq_plugin_chain *ch, lmq_plugin_watch *w, int revents,
                           int64_t now)
{
    ch->now = now;
    w->cb(w->ud, w->fd, revents);
}

void lmq_plugin_chain_io_gone(lmq_plugin_chain *ch)
{
    if (!ch)
        return;
    for (int i = 0; i < ch->n_watch; i++)
        ch->watch[i]->drv = NULL;
    ch->io = NULL;
    ch->io_ctx = NULL;
}

void lmq_plugin_run_done(lmq_plugin_chain *ch, const lmq_plugin_done *done)
{
    for (int i = 0; i < ch->n; i++) {
        lmq_plugin_slot *sl = ch->slot[i];
        if (sl->desc.on_publish_done)
            sl->desc.on_publish_done(sl->state, done);
    }
}

void lmq_plugin_run_log(lmq_plugin_chain *ch, int level, const char *text)
{
    /* A log hook that logs would come back here: its line still goes to
     * the client's log, but not to the log hooks again. */
    if (ch->in_log || !(ch->hooks & LMQ_HOOK_LOG))
        return;
    ch->in_log = 1;
    for (int i = 0; i < ch->n; i++) {
        lmq_plugin_slot *sl = ch->slot[i];
        if (sl->desc.on_log)
            sl->desc.on_log(sl->state, level, text);
    }
    ch->in_log = 0;
}

int64_t lmq_plugin_run_tick(lmq_plugin_chain *ch, int64_t now)
{
    ch->now = now;
    for (int i = 0; i < ch->n; i++) {
        lmq_plugin_slot *sl = ch->slot[i];
        if (!sl->desc.on_tick || !sl->tick_ms)
            continue;
        if (!sl->next_tick) {
            sl->next_tick = now + sl->tick_ms;   /* the first interval starts now */
            continue;
        }
        if (now < sl->next_tick)
            continue;
        sl->next_tick = now + sl->tick_ms;
        sl->desc.on_tick(sl->state, now);
    }
    return lmq_plugin_tick_deadline(ch);
}

int64_t lmq_plugin_tick_deadline(const lmq_plugin_chain *ch)
{
    int64_t d = INT64_MAX;
    if (!ch || !(ch->hooks & LMQ_HOOK_TICK))
        return d;
    for (int i = 0; i < ch->n; i++) {
        const lmq_plugin_slot *sl = ch->slot[i];
        if (!sl->desc.on_tick || !sl->tick_ms)
            continue;
        /* Not scheduled yet: due now, which schedules it. */
        int64_t t = sl->next_tick ? sl->next_tick : ch->now;
        if (t < d)
            d = t;
    }
    return d;
}
