/*
 * format.c - `lunamq sub -F FORMAT`, mosquitto_sub's output formats with
 * the output of mosquitto_sub 2.0 (README, "Output formats"):
 *
 *   %t topic  %p payload  %l length  %q QoS  %r retain  %m packet id
 *   %x %X payload in hex  %I ISO-8601 time  %U Unix time with nanoseconds
 *   %j the message as JSON  %J the same with a JSON payload embedded
 *   MQTT 5: %A topic alias  %C content type  %D correlation data
 *           %E message expiry  %F payload format  %R response topic
 *           %S subscription identifier  %P user properties (name:value)
 *   %%     a '%'
 *   flags  %-10t left-aligned, %010l zero-padded, %.5t at most 5 bytes
 *   @X     strftime's %X of the receive time, @N its nanoseconds, @@ '@'
 *   \\ \0 \a \e \n \r \t \v    escapes
 *
 * The format is checked once (cli_format_check), with mosquitto's rules,
 * so a bad one is a usage error before connecting; then each message is
 * written into a buffer.  Widths and precisions do what mosquitto_sub's
 * do, including its odd cases (a width also cuts %p and %x, a zero flag
 * pads a missing MQTT 5 number with zeros): scripts written for it print
 * the same bytes.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli.h"

/* The letters a '%' takes. */
static const char fmt_letters[] = "%ACDEFIjJlmPpqRrStUxX";

/* What may follow the '%': '-', '0', a width, '.' and a precision. */
typedef struct spec {
    char align;                 /* '-' or 0 */
    char pad;                   /* '0' or ' ' */
    int width;
    int precision;              /* -1: none */
} spec;

static const char *parse_spec(const char *p, spec *sp)
{
    sp->align = 0;
    sp->pad = ' ';
    sp->width = 0;
    sp->precision = -1;
    if (*p == '-')
        sp->align = *p++;
    if (*p == '0') {
        sp->pad = '0';
        p++;
    }
    while (*p >= '0' && *p <= '9' && sp->width < 100000)
        sp->width = sp->width * 10 + (*p++ - '0');
    while (*p >= '0' && *p <= '9')
        p++;
    if (*p == '.') {
        p++;
        sp->precision = 0;
        while (*p >= '0' && *p <= '9' && sp->precision < 100000)
            sp->precision = sp->precision * 10 + (*p++ - '0');
        while (*p >= '0' && *p <= '9')
            p++;
    }
    return p;
}

int cli_format_check(const char *fmt, char *why, size_t n)
{
    spec sp;

    for (const char *p = fmt; *p; p++) {
        if (*p == '%') {
            p = parse_spec(p + 1, &sp);
            if (!*p) {
                snprintf(why, n, "incomplete format specifier at the end of '%s'", fmt);
                return -1;
            }
            if (!strchr(fmt_letters, *p)) {
                snprintf(why, n, "invalid format specifier '%%%c' (valid: %%%s)", *p,
                         "% %A %C %D %E %F %I %j %J %l %m %P %p %q %R %r %S %t %U %x %X");
                return -1;
            }
        } else if (*p == '@' || *p == '\\') {
            if (!p[1]) {
                snprintf(why, n, "incomplete %s specifier at the end of '%s'",
                         *p == '@' ? "time" : "escape", fmt);
                return -1;
            }
            if (*p == '\\' && !strchr("\\0aenrtv", p[1])) {
                snprintf(why, n, "invalid escape specifier '\\%c' (valid: \\\\ \\0 \\a \\e \\n "
                         "\\r \\t \\v)", p[1]);
                return -1;
            }
            p++;
        }
    }
    return 0;
}

/* ---------------------------------------------------------------- fields */

static int add_pad(cli_buf *b, char pad, int n)
{
    for (int i = 0; i < n; i++)
        if (cli_buf_addc(b, pad) < 0)
            return -1;
    return 0;
}

static int add_int(cli_buf *b, long long v, const spec *sp)
{
    if (sp->align == '-')
        return cli_buf_addf(b, "%-*lld", sp->width, v);
    return cli_buf_addf(b, sp->pad == '0' ? "%0*lld" : "%*lld", sp->width, v);
}

/* printf's %-*.*s over bytes that may hold a NUL. */
static int add_str(cli_buf *b, const char *s, size_t n, const spec *sp)
{
    if (sp->precision >= 0 && n > (size_t)sp->precision)
        n = (size_t)sp->precision;
    int padlen = sp->width > (int)n ? sp->width - (int)n : 0;

    if (sp->align != '-' && add_pad(b, ' ', padlen) < 0)
        return -1;
    if (cli_buf_add(b, s, n) < 0)
        return -1;
    return sp->align == '-' ? add_pad(b, ' ', padlen) : 0;
}

/* %p, %x, %X: as mosquitto_sub writes them, a width is also the most
 * bytes written (for hex, half of it); zero padding on the left only. */
static int add_payload(cli_buf *b, const lmq_event *ev, int hex, const spec *sp)
{
    static const char lower[] = "0123456789abcdef", upper[] = "0123456789ABCDEF";
    const unsigned char *p = ev->payload;
    int len = (int)ev->payload_len, padlen;

    if (sp->width > 0) {
        if (len > sp->width)
            len = sp->width;
        if (hex)
            len /= 2;
        padlen = sp->width - (hex ? len * 2 : len);
    } else {
        padlen = 0;
    }
    if (sp->align != '-' && add_pad(b, sp->pad, padlen) < 0)
        return -1;
    if (!hex) {
        if (cli_buf_add(b, p, (size_t)len) < 0)
            return -1;
    } else {
        const char *d = hex == 2 ? upper : lower;
        for (int i = 0; i < len; i++) {
            char two[2] = { d[p[i] >> 4], d[p[i] & 15] };
            if (cli_buf_add(b, two, 2) < 0)
                return -1;
        }
    }
    return sp->align == '-' ? add_pad(b, ' ', padlen) : 0;
}

/* An MQTT 5 number property, or `pad` times the width when absent. */
static int add_prop_int(cli_buf *b, const lmq_event *ev, int id, const spec *sp)
{
    int64_t v;

    if (lmq_event_prop_int(ev, id, 0, &v) == 1)
        return add_int(b, (long long)v, sp);
    return add_pad(b, sp->pad, sp->width);
}

static int add_prop_str(cli_buf *b, const lmq_event *ev, int id, const spec *sp, int blank)
{
    const char *s;
    int32_t n;

    if (lmq_event_prop_str(ev, id, &s, &n) == 1)
        return sp ? add_str(b, s, (size_t)n, sp) : cli_buf_add(b, s, (size_t)n);
    return blank && sp ? add_pad(b, ' ', sp->width) : 0;
}

static int add_user_props(cli_buf *b, const lmq_event *ev)
{
    const char *k, *v;
    int32_t kl, vl;
    int rc = 0;

    for (int32_t i = 0; rc == 0 && lmq_event_prop_user(ev, i, &k, &kl, &v, &vl) == 1; i++)
        rc = cli_buf_addf(b, "%s%.*s:%.*s", i ? " " : "", (int)kl, k, (int)vl, v);
    return rc;
}

/* strftime of one conversion; what it cannot write is left out, as
 * mosquitto_sub leaves it. */
static size_t strftime1(char *out, size_t n, const char *conv, const struct tm *tm)
{
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
    return strftime(out, n, conv, tm);
#pragma GCC diagnostic pop
}

typedef struct fctx {
    const lmq_event *ev;
    int64_t ts_ns;
    struct tm tm;               /* local time of ts_ns */
    int pretty;
    int json_bad;               /* %J met a payload that is not JSON */
} fctx;

static int add_field(cli_buf *b, char f, const spec *sp, fctx *x)
{
    const lmq_event *ev = x->ev;
    char tbuf[128];
    size_t n;
    int rc;

    switch (f) {
    case '%': return cli_buf_addc(b, '%');
    case 'A': return add_prop_int(b, ev, 0x23, sp);
    case 'C': return add_prop_str(b, ev, LMQ_PROP_CONTENT_TYPE, sp, 1);
    case 'D': return add_prop_str(b, ev, LMQ_PROP_CORRELATION_DATA, NULL, 0);
    case 'E': return add_prop_int(b, ev, LMQ_PROP_MESSAGE_EXPIRY, sp);
    case 'F': return add_prop_int(b, ev, LMQ_PROP_PAYLOAD_FORMAT, sp);
    case 'I':
        n = strftime1(tbuf, sizeof tbuf, "%FT%T%z", &x->tm);
        return n ? add_str(b, tbuf, n, sp) : add_pad(b, ' ', sp->width);
    case 'j':
    case 'J':
        rc = cli_json_mosquitto(b, ev, x->ts_ns, f == 'J', x->pretty);
        if (rc > 0)
            x->json_bad = 1;
        return rc < 0 ? -1 : 0;
    case 'l': return add_int(b, ev->payload_len, sp);
    case 'm': return add_int(b, ev->packet_id, sp);
    case 'P': return add_user_props(b, ev);
    case 'p': return add_payload(b, ev, 0, sp);
    case 'q': return cli_buf_addc(b, (char)('0' + ev->qos));
    case 'R': return add_prop_str(b, ev, LMQ_PROP_RESPONSE_TOPIC, sp, 0);
    case 'r': return cli_buf_addc(b, ev->retain ? '1' : '0');
    case 'S': return add_prop_int(b, ev, LMQ_PROP_SUBSCRIPTION_ID, sp);
    case 't': return add_str(b, ev->topic, (size_t)ev->topic_len, sp);
    case 'U':
        return cli_buf_addf(b, "%lld.%09lld", (long long)(x->ts_ns / 1000000000),
                            (long long)(x->ts_ns % 1000000000));
    case 'x': return add_payload(b, ev, 1, sp);
    case 'X': return add_payload(b, ev, 2, sp);
    default: return 0;          /* cli_format_check let nothing else through */
    }
}

static char escape_char(char e)
{
    switch (e) {
    case '0': return '\0';
    case 'a': return '\a';
    case 'e': return '\033';
    case 'n': return '\n';
    case 'r': return '\r';
    case 't': return '\t';
    case 'v': return '\v';
    default: return e;          /* '\\' */
    }
}

int cli_format_message(cli_buf *b, const char *fmt, const lmq_event *ev, int64_t ts_ns,
                       int pretty)
{
    fctx x = { ev, ts_ns, { 0 }, pretty, 0 };
    time_t t = (time_t)(ts_ns / 1000000000);
    char tbuf[128], conv[3] = { '%', 0, 0 };
    spec sp;
    int rc = 0;

    localtime_r(&t, &x.tm);
    for (const char *p = fmt; *p && rc == 0; p++) {
        if (*p == '%' && p[1]) {
            p = parse_spec(p + 1, &sp);
            if (!*p)
                break;
            rc = add_field(b, *p, &sp, &x);
        } else if (*p == '\\' && p[1]) {
            rc = cli_buf_addc(b, escape_char(*++p));
        } else if (*p == '@' && p[1]) {
            p++;
            if (*p == '@') {
                rc = cli_buf_addc(b, '@');
            } else if (*p == 'N') {
                rc = cli_buf_addf(b, "%09lld", (long long)(ts_ns % 1000000000));
            } else {
                conv[1] = *p;
                rc = cli_buf_add(b, tbuf, strftime1(tbuf, sizeof tbuf, conv, &x.tm));
            }
        } else {
            rc = cli_buf_addc(b, *p);
        }
    }
    return rc < 0 ? -1 : x.json_bad;
}
