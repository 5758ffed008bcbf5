/*
 * guard - a lunamq plugin that drops messages in or out by topic filter,
 * payload size or JSON validity, and counts what it dropped.
 *
 * Config (space-separated key=value):
 *   deny=F          drop topics matching the MQTT filter F (may repeat)
 *   max_payload=N   drop payloads longer than N bytes
 *   json=1          drop payloads that are not one valid JSON value
 *   dir=in|out|both which way to guard (default both)
 *   reason=R        the PUBACK / PUBREC reason an incoming message dropped
 *                   is acknowledged with at MQTT 5 (default 0: accepted and
 *                   discarded; e.g. 153 = 0x99 Payload format invalid)
 *   report_ms=N     log the counters every N ms while connected (default 0:
 *                   only at shutdown)
 *
 * An outgoing message dropped makes lmq_client_publish return
 * LMQ_EPLUGIN_DROP; the engine logs every drop with the plugin's name.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lunamq_plugin.h"

#define MAX_FILTERS 32
#define JSON_MAX_DEPTH 64

typedef struct guard {
    const lmq_plugin_api *api;
    int in, out;
    int n_deny;
    char *deny[MAX_FILTERS];
    long long max_payload;        /* -1: no bound */
    int json;
    int reason;
    /* counters: [0] in, [1] out */
    unsigned long long by_filter[2], by_size[2], by_json[2], passed[2];
} guard;

/* ------------------------------------------------------ JSON validation */

typedef struct jp {
    const unsigned char *p, *end;
    int depth;
} jp;

static void ws(jp *j)
{
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
        j->p++;
}

static int lit(jp *j, const char *w)
{
    size_t n = strlen(w);
    if ((size_t)(j->end - j->p) < n || memcmp(j->p, w, n))
        return 0;
    j->p += n;
    return 1;
}

static int digits(jp *j)
{
    const unsigned char *s = j->p;
    while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
        j->p++;
    return j->p > s;
}

static int number(jp *j)
{
    if (j->p < j->end && *j->p == '-')
        j->p++;
    if (j->p < j->end && *j->p == '0')
        j->p++;
    else if (!digits(j))
        return 0;
    if (j->p < j->end && *j->p == '.') {
        j->p++;
        if (!digits(j))
            return 0;
    }
    if (j->p < j->end && (*j->p == 'e' || *j->p == 'E')) {
        j->p++;
        if (j->p < j->end && (*j->p == '+' || *j->p == '-'))
            j->p++;
        if (!digits(j))
            return 0;
    }
    return 1;
}

static int string(jp *j)
{
    j->p++;                                 /* the opening quote */
    while (j->p < j->end) {
        unsigned char c = *j->p++;
        if (c == '"')
            return 1;
        if (c < 0x20)
            return 0;
        if (c != '\\')
            continue;
        if (j->p >= j->end)
            return 0;
        c = *j->p++;
        if (c == 'u') {
            for (int i = 0; i < 4; i++, j->p++)
                if (j->p >= j->end || !strchr("0123456789abcdefABCDEF", *j->p) || !*j->p)
                    return 0;
        } else if (!strchr("\"\\/bfnrt", c) || !c) {
            return 0;
        }
    }
    return 0;
}

static int value(jp *j);

static int container(jp *j, unsigned char close, int object)
{
    if (++j->depth > JSON_MAX_DEPTH)
        return 0;
    j->p++;
    ws(j);
    if (j->p < j->end && *j->p == close) {
        j->p++;
        j->depth--;
        return 1;
    }
    for (;;) {
        ws(j);
        if (object) {
            if (j->p >= j->end || *j->p != '"' || !string(j))
                return 0;
            ws(j);
            if (j->p >= j->end || *j->p++ != ':')
                return 0;
        }
        if (!value(j))
            return 0;
        ws(j);
        if (j->p >= j->end)
            return 0;
        if (*j->p == ',') {
            j->p++;
            continue;
        }
        if (*j->p++ != close)
            return 0;
        j->depth--;
        return 1;
    }
}

static int value(jp *j)
{
    ws(j);
    if (j->p >= j->end)
        return 0;
    switch (*j->p) {
    case '{':
        return container(j, '}', 1);
    case '[':
        return container(j, ']', 0);
    case '"':
        return string(j);
    case 't':
        return lit(j, "true");
    case 'f':
        return lit(j, "false");
    case 'n':
        return lit(j, "null");
    default:
        return number(j);
    }
}

static int json_ok(const void *p, int32_t n)
{
    jp j = { p, (const unsigned char *)p + n, 0 };
    if (!n || !value(&j))
        return 0;
    ws(&j);
    return j.p == j.end;
}

/* ------------------------------------------------------------------ hooks */

static int denied(const guard *g, const lmq_plugin_msg *m)
{
    for (int i = 0; i < g->n_deny; i++)
        if (g->api->topic_matches(g->deny[i], -1, m->topic, m->topic_len) == 1)
            return 1;
    return 0;
}

static int check(guard *g, lmq_plugin_msg *m, int d)
{
    if (denied(g, m)) {
        g->by_filter[d]++;
    } else if (g->max_payload >= 0 && m->payload_len > g->max_payload) {
        g->by_size[d]++;
    } else if (g->json && !json_ok(m->payload, m->payload_len)) {
        g->by_json[d]++;
    } else {
        g->passed[d]++;
        return LMQ_PLUGIN_CONTINUE;
    }
    if (m->direction == LMQ_PLUGIN_IN && g->reason)
        g->api->msg_set_reason(g->api, m, g->reason);
    return LMQ_PLUGIN_DROP;
}

static int on_in(void *state, lmq_plugin_msg *m)
{
    guard *g = state;
    return g->in ? check(g, m, 0) : LMQ_PLUGIN_CONTINUE;
}

static int on_out(void *state, lmq_plugin_msg *m)
{
    guard *g = state;
    return g->out ? check(g, m, 1) : LMQ_PLUGIN_CONTINUE;
}

static void report(const guard *g)
{
    char line[256];
    snprintf(line, sizeof line,
             "in: %llu passed, dropped %llu by filter, %llu by size, %llu not JSON; "
             "out: %llu passed, dropped %llu by filter, %llu by size, %llu not JSON",
             g->passed[0], g->by_filter[0], g->by_size[0], g->by_json[0], g->passed[1],
             g->by_filter[1], g->by_size[1], g->by_json[1]);
    g->api->log(g->api, 3 /* LMQ_LOG_INFO */, line);
}

static void on_tick(void *state, int64_t now)
{
    (void)now;
    report(state);
}

/* ---------------------------------------------------------- init, config */

static void guard_free(guard *g)
{
    if (!g)
        return;
    for (int i = 0; i < g->n_deny; i++)
        free(g->deny[i]);
    free(g);
}

static int number_arg(const char *v, size_t n, long long *out)
{
    char buf[24];
    char *end;
    if (!n || n >= sizeof buf)
        return -1;
    memcpy(buf, v, n);
    buf[n] = '\0';
    *out = strtoll(buf, &end, 0);
    return *end || *out < 0 ? -1 : 0;
}

static int config_item(guard *g, const char *item, size_t n, char *why, size_t wn)
{
    const char *eq = memchr(item, '=', n);
    long long num;
    if (!eq) {
        snprintf(why, wn, "config: '%.*s' is not key=value", (int)n, item);
        return -1;
    }
    size_t kl = (size_t)(eq - item), vl = n - kl - 1;
    const char *v = eq + 1;
#define KEY(k) (kl == sizeof(k) - 1 && !memcmp(item, k, kl))
    if (KEY("deny")) {
        if (g->n_deny == MAX_FILTERS || g->api->topic_matches(v, (int32_t)vl, "x", 1) < 0) {
            snprintf(why, wn, "config: invalid or too many deny filters ('%.*s')", (int)vl, v);
            return -1;
        }
        if (!(g->deny[g->n_deny] = malloc(vl + 1)))
            return -1;
        memcpy(g->deny[g->n_deny], v, vl);
        g->deny[g->n_deny++][vl] = '\0';
        return 0;
    }
    if (KEY("dir")) {
        g->in = (vl == 2 && !memcmp(v, "in", 2)) || (vl == 4 && !memcmp(v, "both", 4));
        g->out = (vl == 3 && !memcmp(v, "out", 3)) || (vl == 4 && !memcmp(v, "both", 4));
        if (g->in || g->out)
            return 0;
        snprintf(why, wn, "config: dir must be in, out or both");
        return -1;
    }
    if (number_arg(v, vl, &num)) {
        snprintf(why, wn, "config: %.*s needs a number >= 0", (int)kl, item);
        return -1;
    }
    if (KEY("max_payload")) {
        g->max_payload = num;
    } else if (KEY("json")) {
        g->json = num != 0;
    } else if (KEY("reason")) {
        g->reason = (int)num;
        if (num != 0 && (num < 0x80 || num > 0xFF)) {
            snprintf(why, wn, "config: reason must be 0 or 128..255");
            return -1;
        }
    } else if (KEY("report_ms")) {
        if (num > 0x7FFFFFFF || g->api->set_tick(g->api, (int32_t)num)) {
            snprintf(why, wn, "config: report_ms out of range");
            return -1;
        }
    } else {
        snprintf(why, wn, "config: unknown key '%.*s'", (int)kl, item);
        return -1;
    }
#undef KEY
    return 0;
}

static int guard_init(const lmq_plugin_api *api, const char *config, void **state)
{
    char why[256] = "out of memory";
    guard *g = calloc(1, sizeof *g);
    if (!g)
        goto fail;
    g->api = api;
    g->in = g->out = 1;
    g->max_payload = -1;
    api->set_tick(api, 0);      /* no reports unless report_ms says so */
    for (const char *p = config; *p;) {
        while (*p == ' ')
            p++;
        size_t n = strcspn(p, " ");
        if (n && config_item(g, p, n, why, sizeof why))
            goto fail;
        p += n;
    }
    *state = g;
    return 0;
fail:
    api->set_error(api, why);
    guard_free(g);
    return -1;
}

static void guard_shutdown(void *state)
{
    report(state);
    guard_free(state);
}

static const lmq_plugin guard_plugin = {
    .abi_version = LMQ_PLUGIN_ABI_VERSION,
    .struct_size = sizeof(lmq_plugin),
    .name = "guard",
    .version = "0.1.0",
    .init = guard_init,
    .shutdown = guard_shutdown,
    .on_message_in = on_in,
    .on_publish_out = on_out,
    .on_tick = on_tick,
};

LMQ_PLUGIN_EXPORT const lmq_plugin *lmq_plugin_entry(void);

LMQ_PLUGIN_EXPORT const lmq_plugin *lmq_plugin_entry(void)
{
    return &guard_plugin;
}
