/*
 * url.c - connection strings (see url.h).
 *
 * One string carries what several options would: where (host, port or a
 * Unix path), how (plain, TLS, WebSocket, both) and who (user, password).
 * Parsing is strict so that a typo fails at set-up with a message naming
 * the problem instead of as a confusing connect error later.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "client/url.h"

typedef struct url_scheme {
    const char *name;
    int scheme;
    int port;
} url_scheme;

static const url_scheme url_schemes[] = {
    { "mqtt", LMQ_URL_MQTT, 1883 },
    { "tcp", LMQ_URL_MQTT, 1883 },      /* as Paho spells it */
    { "mqtts", LMQ_URL_MQTTS, 8883 },
    { "ssl", LMQ_URL_MQTTS, 8883 },     /* Paho again */
    { "tls", LMQ_URL_MQTTS, 8883 },
    { "ws", LMQ_URL_WS, 80 },
    { "wss", LMQ_URL_WSS, 443 },
    { "unix", LMQ_URL_UNIX, 0 },
    { NULL, 0, 0 }
};

/* Proxies, as curl and PySocks spell them. */
static const url_scheme proxy_schemes[] = {
    { "socks5", LMQ_URL_SOCKS5, 1080 },
    { "socks5h", LMQ_URL_SOCKS5H, 1080 },
    { "http", LMQ_URL_HTTP_PROXY, 8080 },
    { NULL, 0, 0 }
};

__attribute__((format(printf, 3, 4)))
static int url_fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return LMQ_EURL;
}

static int hexval(int ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    ch = tolower(ch);
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    return -1;
}

/* Copy s[0..n) with %XX decoded; NULL on a bad escape or %00 (a NUL
 * would cut the C string short), *bad says which. */
static char *decode(const char *s, size_t n, int *bad)
{
    char *d = malloc(n + 1);
    size_t i, j = 0;

    *bad = 0;
    if (!d)
        return NULL;
    for (i = 0; i < n; i++) {
        if (s[i] != '%') {
            d[j++] = s[i];
            continue;
        }
        int hi = i + 2 < n ? hexval((unsigned char)s[i + 1]) : -1;
        int lo = i + 2 < n ? hexval((unsigned char)s[i + 2]) : -1;
        if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
            *bad = 1;
            free(d);
            return NULL;
        }
        d[j++] = (char)(hi << 4 | lo);
        i += 2;
    }
    d[j] = '\0';
    return d;
}

/* decode() with the error turned into a message. */
static int decode_into(char **dst, const char *s, size_t n, const char *what,
                       char *err, size_t errlen)
{
    int bad;

    *dst = decode(s, n, &bad);
    if (*dst)
        return 0;
    if (bad)
        return url_fail(err, errlen, "bad %%-escape in the %s", what);
    return LMQ_ENOMEM;
}

static int parse_port(const char *s, size_t n, int *port, char *err, size_t errlen)
{
    long v = 0;

    if (n == 0 || n > 5)
        return url_fail(err, errlen, "port must be 1..65535");
    for (size_t i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i]))
            return url_fail(err, errlen, "port is not a number: %.*s", (int)n, s);
        v = v * 10 + (s[i] - '0');
    }
    if (v < 1 || v > 65535)
        return url_fail(err, errlen, "port must be 1..65535, not %ld", v);
    *port = (int)v;
    return 0;
}

/* host, [v6], host:port, [v6]:port */
static int parse_hostport(const char *s, size_t n, lmq_url *u, char *err, size_t errlen)
{
    const char *host = s, *colon;
    size_t hlen;

    if (n > 0 && s[0] == '[') {
        const char *close = memchr(s, ']', n);
        if (!close)
            return url_fail(err, errlen, "'[' without ']' around an IPv6 address");
        host = s + 1;
        hlen = (size_t)(close - host);
        colon = close + 1 < s + n ? close + 1 : NULL;
        if (colon && *colon != ':')
            return url_fail(err, errlen, "unexpected text after ']'");
    } else {
        colon = memchr(s, ':', n);
        hlen = colon ? (size_t)(colon - s) : n;
        if (colon && memchr(colon + 1, ':', (size_t)(s + n - colon - 1)))
            return url_fail(err, errlen, "an IPv6 address needs brackets: [addr]:port");
    }
    if (hlen == 0)
        return url_fail(err, errlen, "no host in the URL");
    if (colon) {
        int rc = parse_port(colon + 1, (size_t)(s + n - colon - 1), &u->port, err, errlen);
        if (rc < 0)
            return rc;
    }
    return decode_into(&u->host, host, hlen, "host", err, errlen);
}

static int parse_userinfo(const char *s, size_t n, lmq_url *u, char *err, size_t errlen)
{
    const char *colon = memchr(s, ':', n);
    size_t ulen = colon ? (size_t)(colon - s) : n;
    int rc;

    rc = decode_into(&u->user, s, ulen, "user name", err, errlen);
    if (rc == 0 && colon)
        rc = decode_into(&u->password, colon + 1, (size_t)(s + n - colon - 1), "password",
                         err, errlen);
    return rc;
}

static int parse_scheme(const char *s, size_t n, const url_scheme *tab, lmq_url *u,
                        size_t *skip, char *err, size_t errlen)
{
    const char *sep = NULL;

    for (size_t i = 0; i + 2 < n; i++)
        if (s[i] == ':' && s[i + 1] == '/' && s[i + 2] == '/') {
            sep = s + i;
            break;
        }
    if (!sep)
        return url_fail(err, errlen, "not a URL (scheme://...): %.*s", (int)(n > 64 ? 64 : n), s);
    for (size_t i = 0; tab[i].name; i++) {
        size_t len = strlen(tab[i].name);
        if (len == (size_t)(sep - s) && strncasecmp(s, tab[i].name, len) == 0) {
            u->scheme = tab[i].scheme;
            u->port = tab[i].port;
            *skip = len + 3;
            return 0;
        }
    }
    if (tab == proxy_schemes)
        return url_fail(err, errlen, "unknown proxy scheme \"%.*s\" (socks5, socks5h or http)",
                        (int)(sep - s > 16 ? 16 : sep - s), s);
    return url_fail(err, errlen, "unknown scheme \"%.*s\" (mqtt, mqtts, ws, wss or unix)",
                    (int)(sep - s > 16 ? 16 : sep - s), s);
}

static int parse_with(const char *s, size_t n, const url_scheme *tab, lmq_url *u, char *err,
                      size_t errlen)
{
    const char *rest, *end, *auth_end, *at;
    size_t skip = 0;
    int rc;

    memset(u, 0, sizeof *u);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] <= 0x20 || s[i] == 0x7f)
            return url_fail(err, errlen, "space or control character in the URL");
    rc = parse_scheme(s, n, tab, u, &skip, err, errlen);
    if (rc < 0)
        return rc;
    rest = s + skip;
    end = s + n;
    if (u->scheme == LMQ_URL_UNIX) {
        /* unix:///run/mosquitto.sock: everything after "unix://" */
        if (rest == end)
            return url_fail(err, errlen, "unix:// needs a socket path");
        rc = decode_into(&u->path, rest, (size_t)(end - rest), "path", err, errlen);
        goto out;
    }
    auth_end = rest;
    while (auth_end < end && *auth_end != '/' && *auth_end != '?')
        auth_end++;
    at = NULL;
    for (const char *p = rest; p < auth_end; p++)
        if (*p == '@')
            at = p;         /* the last '@': a password may hold one unescaped */
    if (at) {
        rc = parse_userinfo(rest, (size_t)(at - rest), u, err, errlen);
        if (rc < 0)
            goto out;
        rest = at + 1;
    }
    rc = parse_hostport(rest, (size_t)(auth_end - rest), u, err, errlen);
    if (rc < 0 || auth_end == end)
        goto out;
    if (u->scheme == LMQ_URL_MQTT || u->scheme == LMQ_URL_MQTTS) {
        /* MQTT over TCP has nowhere to send a path: a typo for ws://? */
        if (end - auth_end != 1 || *auth_end != '/')
            rc = url_fail(err, errlen, "mqtt:// and mqtts:// URLs take no path");
        goto out;
    }
    if (tab == proxy_schemes) {
        if (end - auth_end != 1 || *auth_end != '/')
            rc = url_fail(err, errlen, "a proxy URL takes no path");
        goto out;
    }
    if (*auth_end == '?') {
        /* ws://host?x=1 means the path "/?x=1" */
        char *p = malloc((size_t)(end - auth_end) + 2);
        if (!p) {
            rc = LMQ_ENOMEM;
            goto out;
        }
        p[0] = '/';
        memcpy(p + 1, auth_end, (size_t)(end - auth_end));
        p[end - auth_end + 1] = '\0';
        u->path = p;
    } else {
        /* Sent as it is in the request line: escapes stay escaped. */
        u->path = malloc((size_t)(end - auth_end) + 1);
        if (!u->path) {
            rc = LMQ_ENOMEM;
            goto out;
        }
        memcpy(u->path, auth_end, (size_t)(end - auth_end));
        u->path[end - auth_end] = '\0';
    }
out:
    if (rc < 0)
        lmq_url_clear(u);
    return rc;
}

int lmq_url_parse(const char *s, size_t n, lmq_url *u, char *err, size_t errlen)
{
    return parse_with(s, n, url_schemes, u, err, errlen);
}

int lmq_url_parse_proxy(const char *s, size_t n, lmq_url *u, char *err, size_t errlen)
{
    return parse_with(s, n, proxy_schemes, u, err, errlen);
}

void lmq_url_clear(lmq_url *u)
{
    free(u->user);
    free(u->password);
    free(u->host);
    free(u->path);
    memset(u, 0, sizeof *u);
}

/* Every setting through the public setters, so each is checked as if the
 * caller had made it; the first refusal stops (its message stays). */
static int apply(lmq_client *c, const lmq_url *u)
{
    int tls = u->scheme == LMQ_URL_MQTTS || u->scheme == LMQ_URL_WSS;
    int ws = u->scheme == LMQ_URL_WS || u->scheme == LMQ_URL_WSS;
    int rc;

    if (u->scheme == LMQ_URL_UNIX) {
        rc = lmq_client_set_str(c, LMQ_OPT_UNIX_PATH, u->path, -1);
        if (rc == 0)
            rc = lmq_client_set_int(c, LMQ_OPT_TLS, 0);
        if (rc == 0)
            rc = lmq_client_set_int(c, LMQ_OPT_WEBSOCKET, 0);
        return rc;
    }
    rc = lmq_client_set_str(c, LMQ_OPT_UNIX_PATH, NULL, 0);
    if (rc == 0)
        rc = lmq_client_set_str(c, LMQ_OPT_HOST, u->host, -1);
    if (rc == 0)
        rc = lmq_client_set_int(c, LMQ_OPT_PORT, u->port);
    if (rc == 0)
        rc = lmq_client_set_int(c, LMQ_OPT_TLS, tls);
    if (rc == 0)
        rc = lmq_client_set_int(c, LMQ_OPT_WEBSOCKET, ws);
    if (rc == 0 && ws && u->path)
        rc = lmq_client_set_str(c, LMQ_OPT_WS_PATH, u->path, -1);
    if (rc == 0 && u->user)
        rc = lmq_client_set_str(c, LMQ_OPT_USERNAME, u->user, -1);
    if (rc == 0 && u->password)
        rc = lmq_client_set_str(c, LMQ_OPT_PASSWORD, u->password, -1);
    return rc;
}

int lmq_url_apply(lmq_client *c, const char *s, size_t n, char *err, size_t errlen)
{
    lmq_url u;
    int rc;

    rc = lmq_url_parse(s, n, &u, err, errlen);
    if (rc < 0)
        return rc;
    rc = apply(c, &u);
    lmq_url_clear(&u);
    return rc;
}

LMQ_API int lmq_client_set_url(lmq_client *c, const char *url, int32_t len)
{
    return lmq_client_set_str(c, LMQ_OPT_URL, url, len);
}
