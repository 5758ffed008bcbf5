/*
 * json.c - `lunamq sub --json`: one JSON object per message (RFC 8259),
 * strings escaped, payloads that are not UTF-8 in base64 (RFC 4648).
 */
#define _GNU_SOURCE
#include <string.h>
#include <time.h>

#include "cli.h"

/* Well-formed UTF-8 (RFC 3629): no overlongs, no surrogates, <= U+10FFFF. */
int cli_utf8_valid(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;

    while (i < n) {
        unsigned c = p[i];
        size_t len;
        unsigned cp, min;

        if (c < 0x80) {
            i++;
            continue;
        }
        if ((c & 0xE0) == 0xC0) { len = 2; cp = c & 0x1F; min = 0x80; }
        else if ((c & 0xF0) == 0xE0) { len = 3; cp = c & 0x0F; min = 0x800; }
        else if ((c & 0xF8) == 0xF0) { len = 4; cp = c & 0x07; min = 0x10000; }
        else return 0;
        if (i + len > n)
            return 0;
        for (size_t k = 1; k < len; k++) {
            if ((p[i + k] & 0xC0) != 0x80)
                return 0;
            cp = (cp << 6) | (p[i + k] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return 0;
        i += len;
    }
    return 1;
}

int cli_json_str(cli_buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    int rc = cli_buf_addc(b, '"');

    for (size_t i = 0; i < n && rc == 0; i++) {
        unsigned char c = (unsigned char)s[i];
        char esc[7] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15], 0 };

        switch (c) {
        case '"': rc = cli_buf_add(b, "\\\"", 2); break;
        case '\\': rc = cli_buf_add(b, "\\\\", 2); break;
        case '\n': rc = cli_buf_add(b, "\\n", 2); break;
        case '\r': rc = cli_buf_add(b, "\\r", 2); break;
        case '\t': rc = cli_buf_add(b, "\\t", 2); break;
        default:
            /* control characters must be escaped; DEL is escaped too so
             * a terminal shows nothing odd */
            rc = c < 0x20 || c == 0x7F ? cli_buf_add(b, esc, 6) : cli_buf_addc(b, (char)c);
        }
    }
    return rc ? rc : cli_buf_addc(b, '"');
}

int cli_base64(cli_buf *b, const void *data, size_t n)
{
    static const char tbl[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const unsigned char *p = data;
    char out[4];

    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)p[i] << 16;
        size_t left = n - i;

        if (left > 1)
            v |= (unsigned)p[i + 1] << 8;
        if (left > 2)
            v |= p[i + 2];
        out[0] = tbl[(v >> 18) & 63];
        out[1] = tbl[(v >> 12) & 63];
        out[2] = left > 1 ? tbl[(v >> 6) & 63] : '=';
        out[3] = left > 2 ? tbl[v & 63] : '=';
        if (cli_buf_add(b, out, 4) < 0)
            return -1;
    }
    return 0;
}

/* "key":"text" or, for bytes that are not UTF-8, "key_base64":"...";
 * `sep` goes first (a comma between members, or nothing). */
static int json_bytes(cli_buf *b, const char *sep, const char *key, const char *s, size_t n)
{
    if (cli_utf8_valid(s, n))
        return cli_buf_addf(b, "%s\"%s\":", sep, key) < 0 ? -1 : cli_json_str(b, s, n);
    if (cli_buf_addf(b, "%s\"%s_base64\":\"", sep, key) < 0 || cli_base64(b, s, n) < 0)
        return -1;
    return cli_buf_addc(b, '"');
}

static int json_props(cli_buf *b, const lmq_event *ev)
{
    static const struct { int id; const char *key; } ints[] = {
        { 0x01, "payload_format_indicator" },
        { 0x02, "message_expiry_interval" },
        { 0x23, "topic_alias" },
    };
    static const struct { int id; const char *key; } strs[] = {
        { 0x03, "content_type" },
        { 0x08, "response_topic" },
        { 0x09, "correlation_data" },
    };
    const char *s, *k, *v;
    int32_t n, kl, vl;
    int64_t iv;
    const char *sep = "";
    int rc = cli_buf_add(b, ",\"properties\":{", 15);

    for (size_t i = 0; i < sizeof ints / sizeof ints[0] && rc == 0; i++)
        if (lmq_event_prop_int(ev, ints[i].id, 0, &iv) == 1) {
            rc = cli_buf_addf(b, "%s\"%s\":%lld", sep, ints[i].key, (long long)iv);
            sep = ",";
        }
    for (size_t i = 0; i < sizeof strs / sizeof strs[0] && rc == 0; i++)
        if (lmq_event_prop_str(ev, strs[i].id, &s, &n) == 1) {
            rc = json_bytes(b, sep, strs[i].key, s, (size_t)n);
            sep = ",";
        }
    if (rc == 0 && lmq_event_prop_int(ev, 0x0B, 0, &iv) == 1) {
        rc = cli_buf_addf(b, "%s\"subscription_identifiers\":[", sep);
        for (int32_t i = 0; rc == 0 && lmq_event_prop_int(ev, 0x0B, i, &iv) == 1; i++)
            rc = cli_buf_addf(b, "%s%lld", i ? "," : "", (long long)iv);
        rc = rc ? rc : cli_buf_addc(b, ']');
        sep = ",";
    }
    /* user properties as [name, value] pairs: names repeat, order matters */
    if (rc == 0 && lmq_event_prop_user(ev, 0, &k, &kl, &v, &vl) == 1) {
        rc = cli_buf_addf(b, "%s\"user_properties\":[", sep);
        for (int32_t i = 0; rc == 0 && lmq_event_prop_user(ev, i, &k, &kl, &v, &vl) == 1; i++) {
            rc = cli_buf_add(b, i ? ",[" : "[", i ? 2 : 1);
            rc = rc ? rc : cli_json_str(b, k, (size_t)kl);
            rc = rc ? rc : cli_buf_addc(b, ',');
            rc = rc ? rc : cli_json_str(b, v, (size_t)vl);
            rc = rc ? rc : cli_buf_addc(b, ']');
        }
        rc = rc ? rc : cli_buf_addc(b, ']');
    }
    return rc ? rc : cli_buf_addc(b, '}');
}

int cli_json_message(cli_buf *b, const lmq_event *ev, int64_t ts_ns)
{
    time_t t = (time_t)(ts_ns / 1000000000);
    struct tm tm;
    char when[32];

    /* the keys mosquitto_sub -F %j uses, so readers of one read both */
    gmtime_r(&t, &tm);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
    if (cli_buf_addf(b, "{\"tst\":\"%s.%06lldZ\",\"topic\":", when,
                     (long long)(ts_ns % 1000000000 / 1000)) < 0 ||
        cli_json_str(b, ev->topic, (size_t)ev->topic_len) < 0 ||
        cli_buf_addf(b, ",\"qos\":%d,\"retain\":%s,\"dup\":%s,\"payloadlen\":%d",
                     (int)ev->qos, ev->retain ? "true" : "false", ev->dup ? "true" : "false",
                     (int)ev->payload_len) < 0 ||
        json_bytes(b, ",", "payload", ev->payload ? ev->payload : "", (size_t)ev->payload_len) < 0)
        return -1;
    if (ev->props_len > 0 && json_props(b, ev) < 0)
        return -1;
    return cli_buf_addc(b, '}');
}
