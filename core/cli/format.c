/*
 * format.c - `lunamq sub -F FORMAT`, with mosquitto_sub's format letters:
 *
 *   %t topic  %p payload  %l length  %q QoS  %r retain  %m message id
 *   %x %X payload in hex  %I ISO-8601 time  %U Unix time with nanoseconds
 *   %j the message as JSON (--json's object)  %J the same
 *   MQTT 5: %A topic alias  %C content type  %D correlation data
 *           %E message expiry  %F payload format  %R response topic
 *           %S subscription identifiers  %P user properties (name:value)
 *   @X     strftime's %X of the receive time (@@ is '@')
 *   \n \t \r \v \a \e \0 \\    escapes
 */
#define _GNU_SOURCE
#include <string.h>
#include <time.h>

#include "cli.h"

static int add_hex(cli_buf *b, const void *data, int32_t n, int upper)
{
    const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    const unsigned char *p = data;

    for (int32_t i = 0; i < n; i++) {
        char two[2] = { digits[p[i] >> 4], digits[p[i] & 15] };
        if (cli_buf_add(b, two, 2) < 0)
            return -1;
    }
    return 0;
}

static int add_prop_str(cli_buf *b, const lmq_event *ev, int id)
{
    const char *s;
    int32_t n;

    return lmq_event_prop_str(ev, id, &s, &n) == 1 ? cli_buf_add(b, s, (size_t)n) : 0;
}

static int add_prop_int(cli_buf *b, const lmq_event *ev, int id)
{
    int64_t v;

    return lmq_event_prop_int(ev, id, 0, &v) == 1 ? cli_buf_addf(b, "%lld", (long long)v) : 0;
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

static int add_sub_ids(cli_buf *b, const lmq_event *ev)
{
    int64_t v;
    int rc = 0;

    for (int32_t i = 0; rc == 0 && lmq_event_prop_int(ev, 0x0B, i, &v) == 1; i++)
        rc = cli_buf_addf(b, "%s%lld", i ? "," : "", (long long)v);
    return rc;
}

static int add_time(cli_buf *b, const char *spec, int64_t ts_ns)
{
    time_t t = (time_t)(ts_ns / 1000000000);
    struct tm tm;
    char out[128];
    size_t n;

    localtime_r(&t, &tm);
    /* the spec is the user's -F (@H, %I's fixed text): strftime is meant
     * to take it */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
    n = strftime(out, sizeof out, spec, &tm);
#pragma GCC diagnostic pop
    return cli_buf_add(b, out, n);
}

static int add_field(cli_buf *b, char f, const lmq_event *ev, int64_t ts_ns)
{
    switch (f) {
    case '%': return cli_buf_addc(b, '%');
    case 't': return cli_buf_add(b, ev->topic, (size_t)ev->topic_len);
    case 'p': return cli_buf_add(b, ev->payload, (size_t)ev->payload_len);
    case 'l': return cli_buf_addf(b, "%d", (int)ev->payload_len);
    case 'q': return cli_buf_addf(b, "%d", (int)ev->qos);
    case 'r': return cli_buf_addf(b, "%d", ev->retain ? 1 : 0);
    case 'm': return cli_buf_addf(b, "%d", (int)ev->packet_id);
    case 'x': return add_hex(b, ev->payload, ev->payload_len, 0);
    case 'X': return add_hex(b, ev->payload, ev->payload_len, 1);
    case 'I': return add_time(b, "%Y-%m-%dT%H:%M:%S%z", ts_ns);
    case 'U':
        return cli_buf_addf(b, "%lld.%09lld", (long long)(ts_ns / 1000000000),
                            (long long)(ts_ns % 1000000000));
    case 'j':
    case 'J': return cli_json_message(b, ev, ts_ns);
    case 'A': return add_prop_int(b, ev, 0x23);
    case 'C': return add_prop_str(b, ev, 0x03);
    case 'D': return add_prop_str(b, ev, 0x09);
    case 'E': return add_prop_int(b, ev, 0x02);
    case 'F': return add_prop_int(b, ev, 0x01);
    case 'R': return add_prop_str(b, ev, 0x08);
    case 'S': return add_sub_ids(b, ev);
    case 'P': return add_user_props(b, ev);
    default:                    /* unknown: kept as written */
        return cli_buf_addc(b, '%') < 0 ? -1 : cli_buf_addc(b, f);
    }
}

static char escape_char(char e)
{
    switch (e) {
    case 'n': return '\n';
    case 't': return '\t';
    case 'r': return '\r';
    case 'v': return '\v';
    case 'a': return '\a';
    case 'e': return '\033';
    case '0': return '\0';
    default: return e;          /* \\ and anything else: the character */
    }
}

int cli_format_message(cli_buf *b, const char *fmt, const lmq_event *ev, int64_t ts_ns)
{
    int rc = 0;

    for (const char *p = fmt; *p && rc == 0; p++) {
        if ((*p == '%' || *p == '@' || *p == '\\') && p[1]) {
            char spec[3] = { '%', p[1], 0 };
            if (*p == '%')
                rc = add_field(b, p[1], ev, ts_ns);
            else if (*p == '\\')
                rc = cli_buf_addc(b, escape_char(p[1]));
            else
                rc = p[1] == '@' ? cli_buf_addc(b, '@') : add_time(b, spec, ts_ns);
            p++;
        } else {
            rc = cli_buf_addc(b, *p);
        }
    }
    return rc;
}
