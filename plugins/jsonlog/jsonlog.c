/*
 * jsonlog - a lunamq plugin that writes every message in and out as one
 * JSON line: time, direction, topic, qos, retain, dup, payload (as text
 * when it is valid UTF-8, else base64) and the MQTT 5 properties.
 *
 * Config (space-separated key=value):
 *   file=PATH     append to PATH (default, or "-": stderr)
 *   filter=F      only topics matching the MQTT filter F (may repeat;
 *                 default: every topic)
 *   dir=in|out|both   which way to log (default both)
 *   flush=0       let stdio buffer the lines (default 1: each line is
 *                 flushed as written, for tail -f and crash safety)
 *
 * It only observes: both hooks always let the message through.  Built
 * against lunamq_plugin.h alone; the engine is reached through the api.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lunamq_plugin.h"

#define MAX_FILTERS 32

typedef struct jsonlog {
    const lmq_plugin_api *api;
    FILE *out;
    int own_file;                 /* out is ours to close */
    int log_in, log_out;
    int flush;
    long long stamp_sec;          /* the second stamp[] was made for */
    char stamp[24];               /* "YYYY-MM-DDTHH:MM:SS" of that second */
    int n_filters;
    char *filter[MAX_FILTERS];
    char *line;                   /* reused output buffer */
    size_t len, cap;
} jsonlog;

/* ---------------------------------------------------------- output buffer */

static int reserve(jsonlog *j, size_t n)
{
    if (j->cap - j->len >= n)
        return 0;
    size_t cap = j->cap ? j->cap : 512;
    while (cap - j->len < n)
        cap *= 2;
    char *p = realloc(j->line, cap);
    if (!p)
        return -1;
    j->line = p;
    j->cap = cap;
    return 0;
}

static void put(jsonlog *j, const char *s, size_t n)
{
    if (reserve(j, n))
        return;
    memcpy(j->line + j->len, s, n);
    j->len += n;
}

static void puts_(jsonlog *j, const char *s)
{
    put(j, s, strlen(s));
}

/* A JSON member "key":integer, key given with its comma and colon. */
static void put_int(jsonlog *j, const char *key, long long v)
{
    char buf[32];
    int n = snprintf(buf, sizeof buf, "%lld", v);
    puts_(j, key);
    put(j, buf, (size_t)n);
}

/* A JSON string of UTF-8 text: quotes, backslash and control bytes escaped. */
static void put_str(jsonlog *j, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    put(j, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        size_t run = i;
        while (run < n && (unsigned char)s[run] >= 0x20 && s[run] != '"' && s[run] != '\\' &&
               s[run] != 0x7F)
            run++;
        if (run > i) {                      /* the common case: a plain run */
            put(j, s + i, run - i);
            i = run - 1;
            continue;
        }
        if (c == '"' || c == '\\') {
            char e[2] = { '\\', (char)c };
            put(j, e, 2);
        } else if (c == '\n') {
            put(j, "\\n", 2);
        } else if (c == '\r') {
            put(j, "\\r", 2);
        } else if (c == '\t') {
            put(j, "\\t", 2);
        } else {
            char e[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15] };
            put(j, e, 6);
        }
    }
    put(j, "\"", 1);
}

static void put_b64(jsonlog *j, const unsigned char *p, size_t n)
{
    static const char tab[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    put(j, "\"", 1);
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)p[i] << 16;
        if (i + 1 < n)
            v |= (unsigned)p[i + 1] << 8;
        if (i + 2 < n)
            v |= p[i + 2];
        char o[4] = { tab[v >> 18 & 63], tab[v >> 12 & 63],
                      i + 1 < n ? tab[v >> 6 & 63] : '=', i + 2 < n ? tab[v & 63] : '=' };
        put(j, o, 4);
    }
    put(j, "\"", 1);
}

/* Well-formed UTF-8 (no overlongs, surrogates or code points past
 * U+10FFFF): such a payload is logged as text. */
static int utf8_ok(const unsigned char *p, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned char c = p[i];
        size_t k;
        unsigned cp;
        if (c < 0x80) {
            i++;
            continue;
        } else if (c >= 0xC2 && c <= 0xDF) {
            k = 1;
            cp = c & 0x1F;
        } else if (c >= 0xE0 && c <= 0xEF) {
            k = 2;
            cp = c & 0x0F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            k = 3;
            cp = c & 0x07;
        } else {
            return 0;
        }
        if (n - i <= k)
            return 0;
        for (size_t m = 1; m <= k; m++) {
            if ((p[i + m] & 0xC0) != 0x80)
                return 0;
            cp = cp << 6 | (p[i + m] & 0x3F);
        }
        if ((k == 2 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
            (k == 3 && (cp < 0x10000 || cp > 0x10FFFF)))
            return 0;
        i += k + 1;
    }
    return 1;
}

/* UTC with milliseconds; the date part is formatted once a second. */
static void put_time(jsonlog *j)
{
    struct timespec ts;
    char ms[8];
    clock_gettime(CLOCK_REALTIME, &ts);
    if ((long long)ts.tv_sec != j->stamp_sec || !j->stamp[0]) {
        struct tm tm;
        gmtime_r(&ts.tv_sec, &tm);
        strftime(j->stamp, sizeof j->stamp, "%Y-%m-%dT%H:%M:%S", &tm);
        j->stamp_sec = (long long)ts.tv_sec;
    }
    int v = (int)(ts.tv_nsec / 1000000);
    ms[0] = '.';
    ms[1] = (char)('0' + v / 100);
    ms[2] = (char)('0' + v / 10 % 10);
    ms[3] = (char)('0' + v % 10);
    ms[4] = 'Z';
    ms[5] = '"';
    put(j, "\"", 1);
    puts_(j, j->stamp);
    put(j, ms, 6);
}

/* Correlation Data and Authentication Data are binary, the rest text. */
static int binary_prop(int32_t id)
{
    return id == 0x09 || id == 0x16;
}

static void put_props(jsonlog *j, const uint8_t *props, int32_t len)
{
    int32_t id, slen, s2len;
    int64_t value;
    const char *s, *s2;

    puts_(j, ",\"props\":[");
    for (int32_t n = 0; j->api->prop_at(props, len, n, &id, &value, &s, &slen, &s2, &s2len);
         n++) {
        const char *name = j->api->prop_name(id);
        puts_(j, n ? ",{\"name\":" : "{\"name\":");
        put_str(j, name ? name : "?", strlen(name ? name : "?"));
        if (!s) {
            put_int(j, ",\"value\":", (long long)value);
        } else if (s2) {
            puts_(j, ",\"key\":");
            put_str(j, s, (size_t)slen);
            puts_(j, ",\"value\":");
            put_str(j, s2, (size_t)s2len);
        } else if (binary_prop(id)) {
            puts_(j, ",\"value_b64\":");
            put_b64(j, (const unsigned char *)s, (size_t)slen);
        } else {
            puts_(j, ",\"value\":");
            put_str(j, s, (size_t)slen);
        }
        puts_(j, "}");
    }
    puts_(j, "]");
}

/* ------------------------------------------------------------------ hooks */

static int wanted(const jsonlog *j, const lmq_plugin_msg *m)
{
    if (!j->n_filters)
        return 1;
    for (int i = 0; i < j->n_filters; i++)
        if (j->api->topic_matches(j->filter[i], -1, m->topic, m->topic_len) == 1)
            return 1;
    return 0;
}

static void write_line(jsonlog *j, const lmq_plugin_msg *m)
{
    j->len = 0;
    puts_(j, "{\"ts\":");
    put_time(j);
    puts_(j, m->direction == LMQ_PLUGIN_IN ? ",\"dir\":\"in\"" : ",\"dir\":\"out\"");
    puts_(j, ",\"topic\":");
    put_str(j, m->topic, (size_t)m->topic_len);
    put_int(j, ",\"qos\":", m->qos);
    puts_(j, m->retain ? ",\"retain\":true" : ",\"retain\":false");
    if (m->direction == LMQ_PLUGIN_IN)
        puts_(j, m->dup ? ",\"dup\":true" : ",\"dup\":false");
    const unsigned char *p = m->payload;
    size_t n = (size_t)m->payload_len;
    if (utf8_ok(p, n)) {
        puts_(j, ",\"payload\":");
        put_str(j, (const char *)p, n);
    } else {
        puts_(j, ",\"payload_b64\":");
        put_b64(j, p, n);
    }
    if (m->protocol == 5)
        put_props(j, m->props, m->props_len);
    puts_(j, "}\n");
    if (j->len && j->line[j->len - 1] == '\n') {
        fwrite(j->line, 1, j->len, j->out);
        if (j->flush)
            fflush(j->out);
    }
}

static int on_in(void *state, lmq_plugin_msg *m)
{
    jsonlog *j = state;
    if (j->log_in && wanted(j, m))
        write_line(j, m);
    return LMQ_PLUGIN_CONTINUE;
}

static int on_out(void *state, lmq_plugin_msg *m)
{
    jsonlog *j = state;
    if (j->log_out && wanted(j, m))
        write_line(j, m);
    return LMQ_PLUGIN_CONTINUE;
}

/* ---------------------------------------------------------- init, config */

static void jsonlog_free(jsonlog *j)
{
    if (!j)
        return;
    if (j->own_file && j->out)
        fclose(j->out);
    for (int i = 0; i < j->n_filters; i++)
        free(j->filter[i]);
    free(j->line);
    free(j);
}

static char *dup_n(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

/* One key=value item; 0 ok, else the reason is set. */
static int config_item(jsonlog *j, const char *item, size_t n, char *why, size_t wn)
{
    const char *eq = memchr(item, '=', n);
    if (!eq) {
        snprintf(why, wn, "config: '%.*s' is not key=value", (int)n, item);
        return -1;
    }
    size_t kl = (size_t)(eq - item), vl = n - kl - 1;
    const char *v = eq + 1;
    if (kl == 4 && !memcmp(item, "file", 4)) {
        if (vl == 1 && v[0] == '-')
            return 0;
        char *path = dup_n(v, vl);
        FILE *f = path ? fopen(path, "a") : NULL;
        if (!f) {
            snprintf(why, wn, "cannot open %s: %s", path ? path : "file", strerror(errno));
            free(path);
            return -1;
        }
        free(path);
        if (j->own_file)
            fclose(j->out);
        j->out = f;
        j->own_file = 1;
        return 0;
    }
    if (kl == 6 && !memcmp(item, "filter", 6)) {
        if (j->n_filters == MAX_FILTERS) {
            snprintf(why, wn, "config: more than %d filters", MAX_FILTERS);
            return -1;
        }
        if (j->api->topic_matches(v, (int32_t)vl, "x", 1) < 0) {
            snprintf(why, wn, "config: invalid topic filter '%.*s'", (int)vl, v);
            return -1;
        }
        if (!(j->filter[j->n_filters] = dup_n(v, vl)))
            return -1;
        j->n_filters++;
        return 0;
    }
    if (kl == 3 && !memcmp(item, "dir", 3)) {
        j->log_in = (vl == 2 && !memcmp(v, "in", 2)) || (vl == 4 && !memcmp(v, "both", 4));
        j->log_out = (vl == 3 && !memcmp(v, "out", 3)) || (vl == 4 && !memcmp(v, "both", 4));
        if (!j->log_in && !j->log_out) {
            snprintf(why, wn, "config: dir must be in, out or both");
            return -1;
        }
        return 0;
    }
    if (kl == 5 && !memcmp(item, "flush", 5) && vl == 1 && (v[0] == '0' || v[0] == '1')) {
        j->flush = v[0] == '1';
        return 0;
    }
    snprintf(why, wn, "config: unknown key '%.*s'", (int)kl, item);
    return -1;
}

static int jsonlog_init(const lmq_plugin_api *api, const char *config, void **state)
{
    char why[256] = "out of memory";
    jsonlog *j = calloc(1, sizeof *j);
    if (!j)
        goto fail;
    j->api = api;
    j->out = stderr;
    j->log_in = j->log_out = 1;
    j->flush = 1;
    for (const char *p = config; *p;) {
        while (*p == ' ')
            p++;
        size_t n = strcspn(p, " ");
        if (n && config_item(j, p, n, why, sizeof why))
            goto fail;
        p += n;
    }
    *state = j;
    return 0;
fail:
    api->set_error(api, why);
    jsonlog_free(j);
    return -1;
}

static void jsonlog_shutdown(void *state)
{
    jsonlog_free(state);
}

static const lmq_plugin jsonlog_plugin = {
    .abi_version = LMQ_PLUGIN_ABI_VERSION,
    .struct_size = sizeof(lmq_plugin),
    .name = "jsonlog",
    .version = "0.1.0",
    .init = jsonlog_init,
    .shutdown = jsonlog_shutdown,
    .on_message_in = on_in,
    .on_publish_out = on_out,
};

LMQ_PLUGIN_EXPORT const lmq_plugin *lmq_plugin_entry(void);

LMQ_PLUGIN_EXPORT const lmq_plugin *lmq_plugin_entry(void)
{
    return &jsonlog_plugin;
}
