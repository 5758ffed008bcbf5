/*
 * proxy.c - the SOCKS5 (RFC 1928, RFC 1929) and HTTP CONNECT (RFC 9110
 * 9.3.6, Basic credentials RFC 7617) handshakes, run on the raw socket
 * before any TLS or WebSocket (see proxy.h).
 *
 * Non-blocking like everything on the loop: a request is written as far
 * as the socket takes it, an answer read as far as it has come, and the
 * step returns 1 with want() saying whether to wait for writable or
 * readable.  SOCKS5 answers are read to their exact length; an HTTP
 * answer up to its blank line, and since the client has not spoken to
 * the server yet, a byte after that line is the proxy's error.
 *
 * Who resolves the server's name: socks5h:// and http:// send the name
 * and the proxy resolves it; socks5:// sends an address the client
 * resolved (a numeric host is sent as an address in every case).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "client/url.h"
#include "transport/netopts.h"
#include "transport/proxy.h"

#define HTTP_ANSWER_MAX 8192

enum {
    P_SEND,                     /* writing out[] */
    P_METHOD,                   /* SOCKS5: the chosen method, 2 bytes */
    P_AUTH,                     /* SOCKS5: RFC 1929 status, 2 bytes */
    P_REPLY,                    /* SOCKS5: the CONNECT reply: 2 bytes (a refusal may
                                   end there), 5, then 4 + address + 2 */
    P_HTTP,                     /* HTTP: the answer up to its blank line */
    P_DONE
};

typedef struct proxy_state {
    const lmq_proxy_cfg *cfg;
    int tcp_up;                 /* the TCP connect to the proxy finished */
    int phase;
    int next;                   /* the phase after P_SEND */
    uint8_t target[19];         /* SOCKS5 ATYP + address + port of the server */
    size_t target_len;
    char *out;                  /* the request being written */
    size_t out_len, out_off;
    uint8_t *in;                /* the answer being read */
    size_t in_len, in_need;
} proxy_state;

/* ------------------------------------------------------------ settings */

int lmq_proxy_cfg_set(lmq_proxy_cfg *p, const char *s, size_t n, char *err, size_t errlen)
{
    lmq_url u;
    int rc;

    if (n == 0) {
        lmq_proxy_cfg_free(p);
        return 0;
    }
    rc = lmq_url_parse_proxy(s, n, &u, err, errlen);
    if (rc < 0)
        return rc;
    if (u.scheme != LMQ_URL_HTTP_PROXY &&
        ((u.user && strlen(u.user) > 255) || (u.password && strlen(u.password) > 255))) {
        /* RFC 1929: one length byte each */
        snprintf(err, errlen, "SOCKS5 user name and password are 255 bytes at most");
        lmq_url_clear(&u);
        return LMQ_EURL;
    }
    if (u.scheme != LMQ_URL_HTTP_PROXY && u.user && !u.user[0]) {
        snprintf(err, errlen, "SOCKS5 user name must not be empty (RFC 1929)");
        lmq_url_clear(&u);
        return LMQ_EURL;
    }
    lmq_proxy_cfg_free(p);
    p->kind = u.scheme;
    p->host = u.host;
    p->port = u.port;
    p->user = u.user;
    p->password = u.password;
    free(u.path);
    return 0;
}

void lmq_proxy_cfg_free(lmq_proxy_cfg *p)
{
    free(p->host);
    free(p->user);
    if (p->password)
        memset(p->password, 0, strlen(p->password));
    free(p->password);
    memset(p, 0, sizeof *p);
}

const char *lmq_proxy_kind_name(int kind)
{
    return kind == LMQ_URL_HTTP_PROXY ? "HTTP" : "SOCKS5";
}

/* The address family of a numeric host, or 0 for a name. */
static int numeric_family(const char *host, void *addr)
{
    uint8_t scratch[16];

    if (!addr)
        addr = scratch;
    if (inet_pton(AF_INET, host, addr) == 1)
        return AF_INET;
    if (inet_pton(AF_INET6, host, addr) == 1)
        return AF_INET6;
    return 0;
}

int lmq_proxy_resolves_locally(const lmq_proxy_cfg *p, const char *host)
{
    return p->kind == LMQ_URL_SOCKS5 && host && numeric_family(host, NULL) == 0;
}

/* ------------------------------------------------------------ messages */

__attribute__((format(printf, 3, 4)))
static int fail(lmq_transport *t, int code, const char *fmt, ...)
{
    const lmq_proxy_cfg *cfg = t->net ? &t->net->proxy : NULL;
    char what[128];
    va_list ap;
    int k;

    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    k = snprintf(t->err, sizeof t->err, "%s proxy %s%s%s:%d: %s",
                 cfg ? lmq_proxy_kind_name(cfg->kind) : "?",
                 cfg && strchr(cfg->host, ':') ? "[" : "", cfg ? cfg->host : "?",
                 cfg && strchr(cfg->host, ':') ? "]" : "", cfg ? cfg->port : 0, what);
    (void)k;
    return code;
}

/* RFC 1928, 6: the reply field, named, and the code it maps to. */
static const char *socks_reply(int rep, int *code)
{
    static const char *const names[] = {
        "succeeded",
        "general SOCKS server failure",
        "connection not allowed by ruleset",
        "network unreachable",
        "host unreachable",
        "connection refused",
        "TTL expired",
        "command not supported",
        "address type not supported",
    };

    switch (rep) {
    case 2:
        *code = LMQ_EPROXY_DENIED;
        break;
    case 3: case 4: case 5: case 6:
        *code = LMQ_EPROXY_TARGET;
        break;
    default:
        *code = LMQ_EPROXY_REFUSED;
        break;
    }
    return rep >= 0 && rep < (int)(sizeof names / sizeof names[0]) ? names[rep]
                                                                  : "unassigned reply code";
}

/* --------------------------------------------------------------- state */

static int set_out(proxy_state *st, const void *p, size_t n, int next)
{
    free(st->out);
    st->out = malloc(n);
    if (!st->out)
        return LMQ_ENOMEM;
    memcpy(st->out, p, n);
    st->out_len = n;
    st->out_off = 0;
    st->phase = P_SEND;
    st->next = next;
    return 0;
}

static void expect(proxy_state *st, int phase, size_t need)
{
    st->phase = phase;
    st->in_len = 0;
    st->in_need = need;
}

/* The server's address as a SOCKS5 request carries it (RFC 1928, 5). */
static int socks_target(lmq_transport *t, proxy_state *st, const lmq_transport_opts *o)
{
    uint8_t *d = st->target;
    uint8_t a[16];
    int fam = numeric_family(t->host, a);
    size_t n = 0;

    if (fam == AF_INET) {
        d[n++] = 1;
        memcpy(d + n, a, 4);
        n += 4;
    } else if (fam == AF_INET6) {
        d[n++] = 4;
        memcpy(d + n, a, 16);
        n += 16;
    } else if (st->cfg->kind == LMQ_URL_SOCKS5H) {
        d = NULL;               /* the name: written by socks_request */
    } else if (o && o->proxy_target && o->proxy_target->sa_family == AF_INET) {
        d[n++] = 1;
        memcpy(d + n, &((const struct sockaddr_in *)o->proxy_target)->sin_addr, 4);
        n += 4;
    } else if (o && o->proxy_target && o->proxy_target->sa_family == AF_INET6) {
        d[n++] = 4;
        memcpy(d + n, &((const struct sockaddr_in6 *)o->proxy_target)->sin6_addr, 16);
        n += 16;
    } else {
        return fail(t, LMQ_EPROXY_REFUSED, "no address of %s to send (socks5:// resolves "
                    "the name here)", t->host);
    }
    if (d) {
        d[n++] = (uint8_t)(t->port >> 8);
        d[n++] = (uint8_t)t->port;
    } else if (strlen(t->host) > 255) {
        return fail(t, LMQ_EPROXY_REFUSED, "host name longer than 255 bytes");
    }
    st->target_len = n;
    return 0;
}

int lmq_proxy_begin(lmq_transport *t, const lmq_transport_opts *o)
{
    proxy_state *st;
    int rc;

    lmq_proxy_end(t);
    st = calloc(1, sizeof *st);
    if (!st)
        return LMQ_ENOMEM;
    st->cfg = &t->net->proxy;
    t->proxy = st;
    if (st->cfg->kind != LMQ_URL_HTTP_PROXY) {
        rc = socks_target(t, st, o);
        if (rc < 0)
            return rc;
    }
    return 0;
}

void lmq_proxy_end(lmq_transport *t)
{
    proxy_state *st = t->proxy;

    if (!st)
        return;
    if (st->out) {
        /* it may hold the credentials */
        memset(st->out, 0, st->out_len);
        free(st->out);
    }
    free(st->in);
    free(st);
    t->proxy = NULL;
}

/* ------------------------------------------------------------ requests */

/* RFC 1928, 3: version 5, the methods we offer: 0 (none), and 2 (user
 * name and password, RFC 1929) when the URL has credentials. */
static int socks_greeting(proxy_state *st)
{
    static const uint8_t plain[] = { 5, 1, 0 };
    static const uint8_t with_auth[] = { 5, 2, 0, 2 };

    if (st->cfg->user)
        return set_out(st, with_auth, sizeof with_auth, P_METHOD);
    return set_out(st, plain, sizeof plain, P_METHOD);
}

/* RFC 1929, 2: version 1, ULEN, UNAME, PLEN, PASSWD. */
static int socks_auth(proxy_state *st)
{
    const char *u = st->cfg->user, *p = st->cfg->password ? st->cfg->password : "";
    size_t ul = strlen(u), pl = strlen(p);
    uint8_t buf[3 + 255 + 255];
    int rc;

    buf[0] = 1;
    buf[1] = (uint8_t)ul;
    memcpy(buf + 2, u, ul);
    buf[2 + ul] = (uint8_t)pl;
    memcpy(buf + 3 + ul, p, pl);
    rc = set_out(st, buf, 3 + ul + pl, P_AUTH);
    memset(buf, 0, sizeof buf);
    return rc;
}

/* RFC 1928, 4: CONNECT to the server. */
static int socks_request(lmq_transport *t, proxy_state *st)
{
    uint8_t buf[4 + 1 + 255 + 2];
    size_t n = 3;

    buf[0] = 5;
    buf[1] = 1;                 /* CONNECT */
    buf[2] = 0;
    if (st->target_len) {
        memcpy(buf + n, st->target, st->target_len);
        n += st->target_len;
    } else {
        size_t hl = strlen(t->host);
        buf[n++] = 3;           /* DOMAINNAME: the proxy resolves it */
        buf[n++] = (uint8_t)hl;
        memcpy(buf + n, t->host, hl);
        n += hl;
        buf[n++] = (uint8_t)(t->port >> 8);
        buf[n++] = (uint8_t)t->port;
    }
    return set_out(st, buf, n, P_REPLY);
}

static int http_request(lmq_transport *t, proxy_state *st)
{
    const lmq_proxy_cfg *cfg = st->cfg;
    int v6 = strchr(t->host, ':') != NULL;
    char authority[300], *req, *b64 = NULL;
    size_t cap;
    int n, rc;

    snprintf(authority, sizeof authority, "%s%s%s:%d", v6 ? "[" : "", t->host, v6 ? "]" : "",
             t->port);
    if (cfg->user) {
        /* RFC 7617: base64 of "user:password" */
        size_t ul = strlen(cfg->user), pl = cfg->password ? strlen(cfg->password) : 0;
        uint8_t *cred = malloc(ul + 1 + pl);
        b64 = malloc(4 * ((ul + 1 + pl + 2) / 3) + 1);
        if (!cred || !b64) {
            free(cred);
            free(b64);
            return LMQ_ENOMEM;
        }
        memcpy(cred, cfg->user, ul);
        cred[ul] = ':';
        if (pl)
            memcpy(cred + ul + 1, cfg->password, pl);
        lmq_base64(cred, ul + 1 + pl, b64);
        memset(cred, 0, ul + 1 + pl);
        free(cred);
    }
    cap = 2 * strlen(authority) + (b64 ? strlen(b64) : 0) + 128;
    req = malloc(cap);
    if (!req) {
        free(b64);
        return LMQ_ENOMEM;
    }
    n = snprintf(req, cap, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n%s%s%s\r\n", authority,
                 authority, b64 ? "Proxy-Authorization: Basic " : "", b64 ? b64 : "",
                 b64 ? "\r\n" : "");
    rc = set_out(st, req, (size_t)n, P_HTTP);
    memset(req, 0, (size_t)n);
    free(req);
    if (b64) {
        memset(b64, 0, strlen(b64));
        free(b64);
    }
    return rc;
}

/* -------------------------------------------------------------- answers */

/* The first line of an HTTP answer, printable, for messages. */
static void status_line(const proxy_state *st, char *out, size_t outlen)
{
    size_t i, j = 0;

    for (i = 0; i < st->in_len && j + 1 < outlen; i++) {
        uint8_t ch = st->in[i];
        if (ch == '\r' || ch == '\n')
            break;
        out[j++] = ch >= 0x20 && ch < 0x7f ? (char)ch : '?';
    }
    out[j] = '\0';
}

static int http_answer(lmq_transport *t, proxy_state *st, size_t head_len)
{
    char line[96];
    int status = 0, code;

    status_line(st, line, sizeof line);
    if (sscanf(line, "HTTP/1.%*1[01] %3d", &status) != 1 || status < 100 || status > 999)
        return fail(t, LMQ_EPROXY_PROTOCOL, "not an HTTP answer to CONNECT: \"%s\"", line);
    if (status >= 200 && status < 300) {
        if (head_len < st->in_len)
            return fail(t, LMQ_EPROXY_PROTOCOL, "sent %zu bytes after \"%s\" before the "
                        "client spoke", st->in_len - head_len, line);
        return 0;
    }
    switch (status) {
    case 401:                   /* tinyproxy's answer to a wrong password */
    case 407:
        code = LMQ_EPROXY_AUTH;
        break;
    case 403:
        code = LMQ_EPROXY_DENIED;
        break;
    case 502: case 503: case 504:
        code = LMQ_EPROXY_TARGET;
        break;
    default:
        code = LMQ_EPROXY_REFUSED;
        break;
    }
    return fail(t, code, "answered CONNECT %s%s%s:%d with \"%s\"%s",
                strchr(t->host, ':') ? "[" : "", t->host, strchr(t->host, ':') ? "]" : "",
                t->port, line,
                code == LMQ_EPROXY_AUTH ? (st->cfg->user ? " (user name or password refused)"
                                               : " (put user:password@ in the proxy URL)")
                              : "");
}

/* What has come is complete: act on it.  0 handshake done, 1 more to do,
 * or an error. */
static int socks_answer(lmq_transport *t, proxy_state *st)
{
    const uint8_t *in = st->in;
    int code;

    if (in[0] != (st->phase == P_AUTH ? 1 : 5))
        return fail(t, LMQ_EPROXY_PROTOCOL, "not a SOCKS5 answer (version byte %u)", in[0]);
    switch (st->phase) {
    case P_METHOD:
        if (in[1] == 0)
            return socks_request(t, st) < 0 ? LMQ_ENOMEM : 1;
        if (in[1] == 2 && st->cfg->user)
            return socks_auth(st) < 0 ? LMQ_ENOMEM : 1;
        if (in[1] == 0xff)
            return fail(t, LMQ_EPROXY_AUTH, "accepts none of the offered methods (%s)%s",
                        st->cfg->user ? "none, user name/password" : "none",
                        st->cfg->user ? "" : ": it wants user:password@ in the proxy URL");
        return fail(t, LMQ_EPROXY_PROTOCOL, "chose method %u, which was not offered", in[1]);
    case P_AUTH:
        if (in[1] != 0)
            return fail(t, LMQ_EPROXY_AUTH, "rejected the user name or password "
                        "(RFC 1929 status %u)", in[1]);
        return socks_request(t, st) < 0 ? LMQ_ENOMEM : 1;
    default: /* P_REPLY */
        if (in[1] != 0) {
            const char *why = socks_reply(in[1], &code);
            return fail(t, code, "refused CONNECT %s:%d: %s (reply %u)", t->host, t->port,
                        why, in[1]);
        }
        if (st->in_need == 2) {
            st->in_need = 5;    /* the header and the first address byte */
            return 1;
        }
        if (st->in_need == 5) {
            /* now the length of the bound address is known */
            size_t need = in[3] == 1 ? 4 + 4 + 2 : in[3] == 4 ? 4 + 16 + 2
                        : in[3] == 3 ? 5 + (size_t)in[4] + 2 : 0;
            if (need == 0)
                return fail(t, LMQ_EPROXY_PROTOCOL, "reply with address type %u", in[3]);
            st->in_need = need;
            return 1;
        }
        return 0;
    }
}

/* Read toward in_need (SOCKS5: exactly; HTTP: up to the blank line).
 * 0 complete, 1 waiting, or an error. */
static int read_answer(lmq_transport *t, proxy_state *st)
{
    size_t cap = st->phase == P_HTTP ? HTTP_ANSWER_MAX : st->in_need;
    ssize_t r;

    if (!st->in) {
        st->in = malloc(HTTP_ANSWER_MAX + 1);
        if (!st->in)
            return LMQ_ENOMEM;
    }
    for (;;) {
        if (st->phase != P_HTTP && st->in_len == st->in_need)
            return 0;
        if (st->in_len == cap)
            return fail(t, LMQ_EPROXY_PROTOCOL, "HTTP answer longer than %d bytes",
                        HTTP_ANSWER_MAX);
        do
            r = recv(t->fd, st->in + st->in_len, cap - st->in_len, 0);
        while (r < 0 && errno == EINTR);
        if (r == 0)
            return fail(t, LMQ_EPROXY_REFUSED, "closed the connection %s",
                        st->phase == P_METHOD ? "at the SOCKS5 greeting"
                        : st->phase == P_AUTH ? "after the user name and password"
                        : st->phase == P_REPLY ? "instead of answering CONNECT"
                        : "without answering CONNECT");
        if (r < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return 1;
            return fail(t, LMQ_EPROXY_REFUSED, "recv: %s", strerror(errno));
        }
        st->in_len += (size_t)r;
        if (st->phase == P_HTTP) {
            uint8_t *end;
            st->in[st->in_len] = '\0';
            end = memmem(st->in, st->in_len, "\r\n\r\n", 4);
            if (end)
                return http_answer(t, st, (size_t)(end + 4 - st->in));
        }
    }
}

int lmq_proxy_step(lmq_transport *t)
{
    proxy_state *st = t->proxy;
    ssize_t w;
    int rc;

    if (!st->tcp_up) {
        st->tcp_up = 1;
        rc = st->cfg->kind == LMQ_URL_HTTP_PROXY ? http_request(t, st) : socks_greeting(st);
        if (rc < 0)
            return rc;
    }
    for (;;) {
        switch (st->phase) {
        case P_SEND:
            while (st->out_off < st->out_len) {
                do
                    w = send(t->fd, st->out + st->out_off, st->out_len - st->out_off,
                             MSG_NOSIGNAL);
                while (w < 0 && errno == EINTR);
                if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
                    return 1;
                if (w < 0)
                    return fail(t, LMQ_EPROXY_REFUSED, "send: %s", strerror(errno));
                st->out_off += (size_t)w;
            }
            memset(st->out, 0, st->out_len);
            expect(st, st->next, 2);
            break;
        case P_HTTP:
            rc = read_answer(t, st);
            if (rc == 0)
                st->phase = P_DONE;
            return rc;
        case P_DONE:
            return 0;
        default:
            rc = read_answer(t, st);
            if (rc != 0)
                return rc;
            rc = socks_answer(t, st);
            if (rc <= 0) {
                if (rc == 0)
                    st->phase = P_DONE;
                return rc;
            }
            break;
        }
    }
}

int lmq_proxy_started(const lmq_transport *t)
{
    const proxy_state *st = t->proxy;

    return st && st->tcp_up;
}

int lmq_proxy_want(const lmq_transport *t)
{
    const proxy_state *st = t->proxy;

    if (!st || !st->tcp_up || st->phase == P_SEND)
        return LMQ_WANT_WRITE;
    return LMQ_WANT_READ;
}
