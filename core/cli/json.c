/*
 * json.c - JSON out of `lunamq sub` (RFC 8259): --json's own object per
 * message (payloads that are not UTF-8 in base64, RFC 4648), mosquitto_sub's
 * -F %j / %J object, and JSON text printed again compact or --pretty.
 */
#define _GNU_SOURCE
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
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

/* Escaped as cJSON escapes (what mosquitto_sub's %j prints): the two-letter
 * forms for " \\ \b \f \n \r \t, \u00XX for the other control characters,
 * everything else as it is. */
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
        case '\b': rc = cli_buf_add(b, "\\b", 2); break;
        case '\f': rc = cli_buf_add(b, "\\f", 2); break;
        case '\n': rc = cli_buf_add(b, "\\n", 2); break;
        case '\r': rc = cli_buf_add(b, "\\r", 2); break;
        case '\t': rc = cli_buf_add(b, "\\t", 2); break;
        default:
            rc = c < 0x20 ? cli_buf_add(b, esc, 6) : cli_buf_addc(b, (char)c);
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

/* ------------------------------------------------- re-printing JSON text
 *
 * A JSON text (RFC 8259) parsed and printed again the way cJSON prints it,
 * which is what mosquitto_sub shows for -F %J (the payload embedded) and
 * --pretty: compact, or one member a line indented with tabs, "key":<tab>
 * value, array items after ", "; strings with their escapes decoded and
 * printed as cli_json_str does; numbers as cJSON prints a double (%1.15g,
 * or %1.17g when 15 digits do not give it back).
 */

#define JSON_MAX_DEPTH 1000     /* cJSON's nesting limit */

typedef struct jr {
    const char *p, *end;
    cli_buf *out;
    int pretty;
    int depth;
    cli_buf tmp;                /* a decoded string */
} jr;

static void jr_ws(jr *r)
{
    /* cJSON skips every byte up to the space as white space */
    while (r->p < r->end && (unsigned char)*r->p <= 0x20 && *r->p)
        r->p++;
}

static int jr_indent(jr *r, int n)
{
    for (int i = 0; i < n; i++)
        if (cli_buf_addc(r->out, '\t') < 0)
            return -1;
    return 0;
}

static int jr_hex4(const char *p, unsigned *v)
{
    *v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        unsigned d = c >= '0' && c <= '9' ? (unsigned)(c - '0')
                   : c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10)
                   : c >= 'A' && c <= 'F' ? (unsigned)(c - 'A' + 10) : 16u;
        if (d > 15)
            return -1;
        *v = *v << 4 | d;
    }
    return 0;
}

static int jr_utf8(cli_buf *b, unsigned cp)
{
    char u[4];
    size_t n;

    if (cp < 0x80) { u[0] = (char)cp; n = 1; }
    else if (cp < 0x800) { u[0] = (char)(0xC0 | cp >> 6); u[1] = (char)(0x80 | (cp & 63)); n = 2; }
    else if (cp < 0x10000) {
        u[0] = (char)(0xE0 | cp >> 12); u[1] = (char)(0x80 | (cp >> 6 & 63));
        u[2] = (char)(0x80 | (cp & 63)); n = 3;
    } else {
        u[0] = (char)(0xF0 | cp >> 18); u[1] = (char)(0x80 | (cp >> 12 & 63));
        u[2] = (char)(0x80 | (cp >> 6 & 63)); u[3] = (char)(0x80 | (cp & 63)); n = 4;
    }
    return cli_buf_add(b, u, n);
}

/* A string at r->p (the opening quote) decoded into r->tmp, then printed.
 * 0, 1 not JSON, -1 out of memory. */
static int jr_string(jr *r)
{
    const char *start;

    r->tmp.len = 0;
    r->p++;
    for (;;) {
        start = r->p;
        while (r->p < r->end && *r->p != '"' && *r->p != '\\' && (unsigned char)*r->p >= 0x20)
            r->p++;
        if (cli_buf_add(&r->tmp, start, (size_t)(r->p - start)) < 0)
            return -1;
        if (r->p >= r->end || (unsigned char)*r->p < 0x20)
            return 1;
        if (*r->p == '"')
            break;
        if (r->end - r->p < 2)
            return 1;
        char e = r->p[1];
        const char *simple = strchr("\"\\/bfnrt", e);
        if (simple && e) {
            static const char to[] = "\"\\/\b\f\n\r\t";
            if (cli_buf_addc(&r->tmp, to[simple - "\"\\/bfnrt"]) < 0)
                return -1;
            r->p += 2;
            continue;
        }
        unsigned cp, lo;
        if (e != 'u' || r->end - r->p < 6 || jr_hex4(r->p + 2, &cp) < 0)
            return 1;
        r->p += 6;
        if (cp >= 0xDC00 && cp <= 0xDFFF)
            return 1;
        if (cp >= 0xD800 && cp <= 0xDBFF) {     /* a surrogate pair */
            if (r->end - r->p < 6 || r->p[0] != '\\' || r->p[1] != 'u' ||
                jr_hex4(r->p + 2, &lo) < 0 || lo < 0xDC00 || lo > 0xDFFF)
                return 1;
            r->p += 6;
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        }
        if (jr_utf8(&r->tmp, cp) < 0)
            return -1;
    }
    r->p++;
    return cli_json_str(r->out, r->tmp.p ? r->tmp.p : "", r->tmp.len) < 0 ? -1 : 0;
}

static int jr_number(jr *r)
{
    const char *s = r->p;
    char text[64], num[40];
    double d, back;
    int n;

    if (r->p < r->end && *r->p == '-')
        r->p++;
    if (r->p >= r->end || !(*r->p >= '0' && *r->p <= '9'))
        return 1;
    if (*r->p == '0')
        r->p++;
    else
        while (r->p < r->end && *r->p >= '0' && *r->p <= '9')
            r->p++;
    if (r->p < r->end && *r->p == '.') {
        r->p++;
        if (r->p >= r->end || !(*r->p >= '0' && *r->p <= '9'))
            return 1;
        while (r->p < r->end && *r->p >= '0' && *r->p <= '9')
            r->p++;
    }
    if (r->p < r->end && (*r->p == 'e' || *r->p == 'E')) {
        r->p++;
        if (r->p < r->end && (*r->p == '+' || *r->p == '-'))
            r->p++;
        if (r->p >= r->end || !(*r->p >= '0' && *r->p <= '9'))
            return 1;
        while (r->p < r->end && *r->p >= '0' && *r->p <= '9')
            r->p++;
    }
    if ((size_t)(r->p - s) >= sizeof text)
        return 1;
    memcpy(text, s, (size_t)(r->p - s));
    text[r->p - s] = '\0';
    d = strtod(text, NULL);
    /* as cJSON prints a double: 15 significant digits, 17 when 15 do not
     * read back as the same number (so -0 stays "-0", 1e300 "1e+300") */
    if (isnan(d) || isinf(d)) {
        n = snprintf(num, sizeof num, "null");
    } else {
        n = snprintf(num, sizeof num, "%1.15g", d);
        back = strtod(num, NULL);
        double mx = fabs(back) > fabs(d) ? fabs(back) : fabs(d);
        if (!(fabs(back - d) <= mx * DBL_EPSILON))
            n = snprintf(num, sizeof num, "%1.17g", d);
    }
    return cli_buf_add(r->out, num, (size_t)n);
}

static int jr_value(jr *r);

/* An object or an array: members "key":value (with `is_obj`) or values. */
static int jr_container(jr *r, int is_obj)
{
    char close = is_obj ? '}' : ']';
    int rc, first = 1;

    if (++r->depth > JSON_MAX_DEPTH)
        return 1;
    r->p++;
    if (cli_buf_addc(r->out, is_obj ? '{' : '[') < 0 ||
        (is_obj && r->pretty && cli_buf_addc(r->out, '\n') < 0))
        return -1;
    jr_ws(r);
    if (r->p < r->end && *r->p == close) {
        r->p++;
    } else {
        for (;;) {
            if (!first && (cli_buf_addc(r->out, ',') < 0 ||
                           (!is_obj && r->pretty && cli_buf_addc(r->out, ' ') < 0) ||
                           (is_obj && r->pretty && cli_buf_addc(r->out, '\n') < 0)))
                return -1;
            first = 0;
            jr_ws(r);
            if (is_obj) {
                if (r->pretty && jr_indent(r, r->depth) < 0)
                    return -1;
                if (r->p >= r->end || *r->p != '"')
                    return 1;
                if ((rc = jr_string(r)) != 0)
                    return rc;
                jr_ws(r);
                if (r->p >= r->end || *r->p != ':')
                    return 1;
                r->p++;
                if (cli_buf_add(r->out, ":\t", r->pretty ? 2 : 1) < 0)
                    return -1;
                jr_ws(r);
            }
            if ((rc = jr_value(r)) != 0)
                return rc;
            jr_ws(r);
            if (r->p < r->end && *r->p == ',') {
                r->p++;
                continue;
            }
            if (r->p < r->end && *r->p == close) {
                r->p++;
                break;
            }
            return 1;
        }
        if (is_obj && r->pretty && cli_buf_addc(r->out, '\n') < 0)
            return -1;
    }
    if (is_obj && r->pretty && jr_indent(r, r->depth - 1) < 0)
        return -1;
    r->depth--;
    return cli_buf_addc(r->out, close);
}

static int jr_value(jr *r)
{
    static const char *const words[] = { "null", "false", "true" };

    if (r->p >= r->end)
        return 1;
    switch (*r->p) {
    case '{': return jr_container(r, 1);
    case '[': return jr_container(r, 0);
    case '"': return jr_string(r);
    default: break;
    }
    for (size_t i = 0; i < 3; i++) {
        size_t n = strlen(words[i]);
        if ((size_t)(r->end - r->p) >= n && !memcmp(r->p, words[i], n)) {
            r->p += n;
            return cli_buf_add(r->out, words[i], n);
        }
    }
    return jr_number(r);
}

int cli_json_reprint(cli_buf *out, const char *s, size_t n, int pretty)
{
    jr r = { s, s + n, out, pretty, 0, { NULL, 0, 0 } };
    size_t mark = out->len;
    int rc;

    jr_ws(&r);
    rc = jr_value(&r);
    jr_ws(&r);
    if (rc == 0 && r.p != r.end)
        rc = 1;
    cli_buf_free(&r.tmp);
    if (rc != 0) {
        out->len = mark;
        if (out->p)
            out->p[mark] = '\0';
    }
    return rc;
}

/* ---------------------------------------------- mosquitto_sub's %j / %J */

/* The MQTT 5 properties mosquitto_sub's JSON shows, by identifier. */
static const char *mosq_prop_name(int id)
{
    switch (id) {
    case LMQ_PROP_PAYLOAD_FORMAT: return "payload-format-indicator";
    case LMQ_PROP_MESSAGE_EXPIRY: return "message-expiry-interval";
    case LMQ_PROP_CONTENT_TYPE: return "content-type";
    case LMQ_PROP_RESPONSE_TOPIC: return "response-topic";
    case LMQ_PROP_CORRELATION_DATA: return "correlation-data";
    case LMQ_PROP_SUBSCRIPTION_ID: return "subscription-identifier";
    case 0x23: return "topic-alias";
    default: return NULL;
    }
}

/* Every user property as "k":"v" members of one object (names may repeat). */
static int mosq_users(cli_buf *b, const lmq_event *ev)
{
    const char *k, *v;
    int32_t kl, vl;
    int rc = cli_buf_add(b, "\"user-properties\":{", 19);

    for (int32_t i = 0; rc == 0 && lmq_event_prop_user(ev, i, &k, &kl, &v, &vl) == 1; i++) {
        rc = i ? cli_buf_addc(b, ',') : 0;
        rc = rc ? rc : cli_json_str(b, k, (size_t)kl);
        rc = rc ? rc : cli_buf_addc(b, ':');
        rc = rc ? rc : cli_json_str(b, v, (size_t)vl);
    }
    return rc ? rc : cli_buf_addc(b, '}');
}

/* Bytes a fixed-size integer property's value takes [MQTT-2.2.2.2]. */
static size_t int_size(int id)
{
    switch (id) {
    case 0x13: case 0x21: case 0x22: case 0x23: return 2;
    case 0x02: case 0x11: case 0x18: case 0x27: return 4;
    default: return 1;
    }
}

/* "properties":{...} in the order the PUBLISH carried them (the broker's
 * order), as mosquitto_sub prints them: the user properties in one
 * "user-properties" object where the first of them was.  The block is
 * walked with the public readers: each identifier is one byte (all are
 * below 0x80) and the reader's answer gives the value's length. */
static int mosq_props(cli_buf *b, const lmq_event *ev)
{
    const uint8_t *p = ev->props;
    int32_t pos = 0, n_user = 0, n_subid = 0;
    int first = 1, rc = 0;

    if (cli_buf_add(b, ",\"properties\":{", 15) < 0)
        return -1;
    while (rc == 0 && pos < ev->props_len) {
        int id = p[pos];
        const char *name = mosq_prop_name(id), *s, *k, *v;
        const char *sep = first ? "" : ",";
        int32_t sl, kl, vl;
        int64_t iv;
        size_t skip;

        if (id == 0x26) {
            if (lmq_event_prop_user(ev, n_user, &k, &kl, &v, &vl) != 1)
                break;
            skip = 1 + 2 + (size_t)kl + 2 + (size_t)vl;
            if (n_user++ == 0)
                rc = cli_buf_add(b, sep, strlen(sep)) < 0 ? -1 : mosq_users(b, ev);
        } else if (lmq_event_prop_int(ev, id, id == 0x0B ? n_subid : 0, &iv) == 1) {
            if (id == 0x0B) {
                n_subid++;
                skip = 1 + (size_t)(iv < 128 ? 1 : iv < 16384 ? 2 : iv < 2097152 ? 3 : 4);
            } else {
                skip = 1 + int_size(id);
            }
            if (name)
                rc = cli_buf_addf(b, "%s\"%s\":%lld", sep, name, (long long)iv);
        } else if (lmq_event_prop_str(ev, id, &s, &sl) == 1) {
            skip = 1 + 2 + (size_t)sl;
            if (name)
                rc = cli_buf_addf(b, "%s\"%s\":", sep, name) < 0 ? -1 : cli_json_str(b, s, (size_t)sl);
        } else {
            break;                      /* not a property a PUBLISH carries */
        }
        if (name || id == 0x26)
            first = 0;
        pos += (int32_t)skip;
    }
    return rc ? rc : cli_buf_addc(b, '}');
}

/* The payload as mosquitto_sub's %j shows it: a JSON string.  Bytes that
 * are not UTF-8 cannot be one: they go as an array of byte values, as
 * newer mosquitto_sub versions print payloads that are not text. */
static int mosq_payload_text(cli_buf *b, const lmq_event *ev)
{
    const unsigned char *p = ev->payload;
    int rc = 0;

    if (cli_utf8_valid(ev->payload ? ev->payload : "", (size_t)ev->payload_len))
        return cli_json_str(b, ev->payload ? ev->payload : "", (size_t)ev->payload_len);
    rc = cli_buf_addc(b, '[');
    for (int32_t i = 0; rc == 0 && i < ev->payload_len; i++)
        rc = cli_buf_addf(b, "%s%u", i ? "," : "", p[i]);
    return rc ? rc : cli_buf_addc(b, ']');
}

int cli_json_mosquitto(cli_buf *b, const lmq_event *ev, int64_t ts_ns, int embed, int pretty)
{
    time_t t = (time_t)(ts_ns / 1000000000);
    size_t mark = b->len;
    struct tm tm;
    char when[64];
    cli_buf one = { NULL, 0, 0 };
    cli_buf *o = pretty ? &one : b;
    int rc;

    /* mosquitto_sub writes the local time followed by "Z" and the offset */
    localtime_r(&t, &tm);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
    rc = cli_buf_addf(o, "{\"tst\":\"%s.%06lldZ", when, (long long)(ts_ns % 1000000000 / 1000));
    strftime(when, sizeof when, "%z", &tm);
    rc = rc ? rc : cli_buf_addf(o, "%s\",\"topic\":", when);
    rc = rc ? rc : cli_json_str(o, ev->topic, (size_t)ev->topic_len);
    rc = rc ? rc : cli_buf_addf(o, ",\"qos\":%d,\"retain\":%d,\"payloadlen\":%d", (int)ev->qos,
                                ev->retain ? 1 : 0, (int)ev->payload_len);
    if (rc == 0 && ev->qos > 0)
        rc = cli_buf_addf(o, ",\"mid\":%d", (int)ev->packet_id);
    if (rc == 0 && ev->props_len > 0)
        rc = mosq_props(o, ev);
    rc = rc ? rc : cli_buf_add(o, ",\"payload\":", 11);
    if (rc == 0 && ev->payload_len == 0)
        rc = cli_buf_add(o, "null", 4);    /* mosquitto_sub's word for no payload */
    else if (rc == 0)
        rc = embed ? cli_json_reprint(o, ev->payload ? ev->payload : "", (size_t)ev->payload_len, 0)
                   : mosq_payload_text(o, ev);
    rc = rc ? rc : cli_buf_addc(o, '}');
    if (rc == 0 && pretty)
        rc = cli_json_reprint(b, one.p, one.len, 1) < 0 ? -1 : 0;
    cli_buf_free(&one);
    if (rc != 0) {
        b->len = mark;
        if (b->p)
            b->p[mark] = '\0';
    }
    return rc;
}
