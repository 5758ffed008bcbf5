/*
 * ws.c - MQTT over WebSocket (RFC 6455), over TCP (ws) or TLS (wss).
 *
 * The transport below (socket.c's TCP or tls.c's TLS) is kept inside, so
 * to the client a WebSocket connection is one more transport.  Opening
 * runs three phases, each driven by the fd like a TCP connect: the inner
 * connection (with its TLS handshake), the HTTP upgrade request, and the
 * server's answer.  Then wslay frames the byte stream: what the session
 * writes goes out as binary messages, masked as a client must; what comes
 * in is unframed and handed up as a plain stream, because MQTT packets
 * need not line up with frames [MQTT-6.0.0-2].  Pings are answered and a
 * close is answered with a close (wslay does both); the code and reason
 * the server closed with are reported.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

#include <wslay/wslay.h>

#include "transport/netopts.h"
#include "transport/transport.h"

enum { WS_INNER, WS_SEND_REQUEST, WS_READ_RESPONSE, WS_OPEN };

/* Outgoing binary messages are at most this long: a large MQTT packet
 * spans several frames, which peers must accept anyway. */
#define WS_MAX_OUT_FRAME 16384
#define WS_MAX_RESPONSE 8192

typedef struct ws_state {
    lmq_transport inner;        /* TCP or TLS, with the real fd */
    wslay_event_context_ptr ws;
    int phase;
    char *req;                  /* the upgrade request, while it is sent */
    size_t req_len, req_off;
    char resp[WS_MAX_RESPONSE]; /* the answer's head, while it comes */
    size_t resp_len;
    const char *subprotocol;
    char accept[32];            /* the Sec-WebSocket-Accept we expect */

    /* bytes read past the answer's head: the first frames */
    uint8_t *early;
    size_t early_len, early_off;
    /* unframed payload not yet read by the client */
    uint8_t *in;
    size_t in_len, in_off, in_cap;

    int cur_opcode;             /* of the data message being received */
    int frame_is_data;          /* the frame being received carries data */
    int io_err;                 /* an LMQ_E* the inner transport reported */
    int proto_err;              /* LMQ_EWS when the peer broke the rules */
    char why[96];
    int close_code;             /* 0 until a close arrived */
    char close_reason[64];
} ws_state;

__attribute__((format(printf, 3, 4)))
static int ws_fail(lmq_transport *t, int code, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(t->err, sizeof t->err, fmt, ap);
    va_end(ap);
    return code;
}

void lmq_base64(const uint8_t *in, size_t n, char *out)
{
    static const char tab[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t i;

    for (i = 0; i + 2 < n; i += 3) {
        *out++ = tab[in[i] >> 2];
        *out++ = tab[(in[i] & 3) << 4 | in[i + 1] >> 4];
        *out++ = tab[(in[i + 1] & 15) << 2 | in[i + 2] >> 6];
        *out++ = tab[in[i + 2] & 63];
    }
    if (i < n) {
        *out++ = tab[in[i] >> 2];
        if (i + 1 < n) {
            *out++ = tab[(in[i] & 3) << 4 | in[i + 1] >> 4];
            *out++ = tab[(in[i + 1] & 15) << 2];
        } else {
            *out++ = tab[(in[i] & 3) << 4];
            *out++ = '=';
        }
        *out++ = '=';
    }
    *out = '\0';
}

static int fill_random(uint8_t *buf, size_t n)
{
    size_t got = 0;

    while (got < n) {
        ssize_t r = getrandom(buf + got, n - got, 0);
        if (r <= 0)
            return -1;
        got += (size_t)r;
    }
    return 0;
}

/* ------------------------------------------------------- wslay callbacks */

static ssize_t ws_recv_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags,
                          void *ud)
{
    lmq_transport *t = ud;
    ws_state *st = t->impl;
    ptrdiff_t r;

    (void)flags;
    if (st->early_off < st->early_len) {
        size_t k = st->early_len - st->early_off;
        if (k > len)
            k = len;
        memcpy(buf, st->early + st->early_off, k);
        st->early_off += k;
        return (ssize_t)k;
    }
    r = st->inner.ops->read(&st->inner, buf, len);
    if (r > 0)
        return r;
    if (r == 0) {
        wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
        return -1;
    }
    st->io_err = (int)r;
    wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
    return -1;
}

static ssize_t ws_send_cb(wslay_event_context_ptr ctx, const uint8_t *data, size_t len,
                          int flags, void *ud)
{
    lmq_transport *t = ud;
    ws_state *st = t->impl;
    ptrdiff_t w;

    (void)flags;
    w = st->inner.ops->write(&st->inner, data, len);
    if (w > 0)
        return w;
    if (w == 0) {
        wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
        return -1;
    }
    st->io_err = (int)w;
    wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
    return -1;
}

/* A client masks every frame with a fresh unpredictable key (RFC 6455,
 * 5.3); wslay asks for it. */
static int ws_genmask_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, void *ud)
{
    (void)ud;
    if (fill_random(buf, len) != 0) {
        wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
        return -1;
    }
    return 0;
}

static void ws_frame_start_cb(wslay_event_context_ptr ctx,
                              const struct wslay_event_on_frame_recv_start_arg *arg, void *ud)
{
    lmq_transport *t = ud;
    ws_state *st = t->impl;

    /* Control frames (close, ping, pong) come to the chunk callback too:
     * their payload is not part of the MQTT stream. */
    st->frame_is_data = !(arg->opcode & 0x8);
    if (arg->opcode == WSLAY_CONTINUATION_FRAME || (arg->opcode & 0x8))
        return;                 /* continuation, or a control frame */
    st->cur_opcode = arg->opcode;
    if (arg->opcode != WSLAY_BINARY_FRAME && !st->proto_err) {
        /* [MQTT-6.0.0-1] MQTT travels in binary frames only: anything
         * else closes the connection. */
        st->proto_err = LMQ_EWS;
        snprintf(st->why, sizeof st->why, "the server sent a non-binary frame (opcode %d)",
                 arg->opcode);
        wslay_event_queue_close(ctx, WSLAY_CODE_UNSUPPORTED_DATA, NULL, 0);
        wslay_event_shutdown_read(ctx);
    }
}

static void ws_frame_chunk_cb(wslay_event_context_ptr ctx,
                              const struct wslay_event_on_frame_recv_chunk_arg *arg, void *ud)
{
    lmq_transport *t = ud;
    ws_state *st = t->impl;
    size_t need;

    (void)ctx;
    if (st->proto_err || !st->frame_is_data || st->cur_opcode != WSLAY_BINARY_FRAME ||
        arg->data_length == 0)
        return;
    if (st->in_off > 0 && st->in_off == st->in_len)
        st->in_off = st->in_len = 0;
    need = st->in_len + arg->data_length;
    if (need > st->in_cap) {
        size_t cap = st->in_cap ? st->in_cap : 65536;
        uint8_t *p;
        while (cap < need)
            cap *= 2;
        p = realloc(st->in, cap);
        if (!p) {
            st->io_err = LMQ_ENOMEM;
            return;
        }
        st->in = p;
        st->in_cap = cap;
    }
    memcpy(st->in + st->in_len, arg->data, arg->data_length);
    st->in_len += arg->data_length;
}

/* With buffering off, only control messages arrive whole here. */
static void ws_msg_cb(wslay_event_context_ptr ctx, const struct wslay_event_on_msg_recv_arg *arg,
                      void *ud)
{
    lmq_transport *t = ud;
    ws_state *st = t->impl;
    size_t n;

    (void)ctx;
    if (arg->opcode != WSLAY_CONNECTION_CLOSE)
        return;                 /* a ping is answered by wslay */
    st->close_code = arg->status_code ? arg->status_code : WSLAY_CODE_NO_STATUS_RCVD;
    n = arg->msg_length > 2 ? arg->msg_length - 2 : 0;
    if (n >= sizeof st->close_reason)
        n = sizeof st->close_reason - 1;
    for (size_t i = 0; i < n; i++) {
        char ch = (char)arg->msg[2 + i];
        st->close_reason[i] = ch >= 0x20 && ch < 0x7f ? ch : '?';
    }
    st->close_reason[n] = '\0';
}

/* --------------------------------------------------------- the upgrade */

static int build_request(lmq_transport *t, ws_state *st)
{
    const lmq_netopts *o = t->net;
    const char *path = o && o->ws_path ? o->ws_path : "/mqtt";
    const char *extra = o && o->ws_headers ? o->ws_headers : "";
    int default_port = t->ops == &lmq_transport_wss ? 443 : 80;
    int v6 = t->host && strchr(t->host, ':') != NULL;
    char key[32], port[16] = "", expect[128];
    uint8_t nonce[16], digest[20];
    size_t cap;
    char *p;

    if (fill_random(nonce, sizeof nonce) != 0)
        return ws_fail(t, LMQ_EWS, "no randomness for the WebSocket key");
    lmq_base64(nonce, sizeof nonce, key);
    snprintf(expect, sizeof expect, "%s258EAFA5-E914-47DA-95CA-C5AB0DC85B11", key);
    lmq_tls_sha1(expect, strlen(expect), digest);
    lmq_base64(digest, sizeof digest, st->accept);
    /* [MQTT-6.0.0-3] offer "mqtt"; MQTT 3.1 brokers knew it as "mqttv3.1" */
    st->subprotocol = o && o->protocol == LMQ_MQTT_31 ? "mqttv3.1" : "mqtt";
    if (t->port != default_port)
        snprintf(port, sizeof port, ":%d", t->port);

    cap = strlen(path) + strlen(extra) * 2 + (t->host ? strlen(t->host) : 0) + 512;
    st->req = malloc(cap);
    if (!st->req)
        return ws_fail(t, LMQ_ENOMEM, "out of memory");
    p = st->req;
    p += sprintf(p,
                 "GET %s HTTP/1.1\r\n"
                 "Host: %s%s%s%s\r\n"
                 "Upgrade: websocket\r\n"
                 "Connection: Upgrade\r\n"
                 "Sec-WebSocket-Key: %s\r\n"
                 "Sec-WebSocket-Version: 13\r\n"
                 "Sec-WebSocket-Protocol: %s\r\n",
                 path, v6 ? "[" : "", t->host ? t->host : "localhost", v6 ? "]" : "", port,
                 key, st->subprotocol);
    /* the caller's lines, '\n'-separated, each ended with CRLF */
    for (const char *line = extra; *line;) {
        const char *nl = strchr(line, '\n');
        size_t len = nl ? (size_t)(nl - line) : strlen(line);
        if (len) {
            memcpy(p, line, len);
            p += len;
            *p++ = '\r';
            *p++ = '\n';
        }
        line += len + (nl ? 1 : 0);
    }
    p += sprintf(p, "\r\n");
    st->req_len = (size_t)(p - st->req);
    st->req_off = 0;
    return 0;
}

/* The value of header `name` in the response head, copied into out. */
static int header(const char *head, const char *name, char *out, size_t outlen)
{
    size_t nlen = strlen(name);
    const char *line = strstr(head, "\r\n");

    while (line && line[2] && !(line[2] == '\r' && line[3] == '\n')) {
        line += 2;
        const char *end = strstr(line, "\r\n");
        if (!end)
            break;
        if ((size_t)(end - line) > nlen && strncasecmp(line, name, nlen) == 0 &&
            line[nlen] == ':') {
            const char *v = line + nlen + 1;
            while (v < end && (*v == ' ' || *v == '\t'))
                v++;
            size_t len = (size_t)(end - v);
            while (len && (v[len - 1] == ' ' || v[len - 1] == '\t'))
                len--;
            if (len >= outlen)
                len = outlen - 1;
            memcpy(out, v, len);
            out[len] = '\0';
            return 1;
        }
        line = end;
    }
    return 0;
}

static int start_framing(lmq_transport *t, ws_state *st)
{
    static const struct wslay_event_callbacks cbs = {
        ws_recv_cb, ws_send_cb, ws_genmask_cb,
        ws_frame_start_cb, ws_frame_chunk_cb, NULL, ws_msg_cb
    };

    if (wslay_event_context_client_init(&st->ws, &cbs, t) != 0)
        return ws_fail(t, LMQ_ENOMEM, "out of memory");
    /* Data frames stream through (no whole-message buffering): an MQTT
     * packet may span many frames anyway. */
    wslay_event_config_set_no_buffering(st->ws, 1);
    return 0;
}

/* The server's answer is complete in st->resp (head_len bytes of head). */
static int check_response(lmq_transport *t, ws_state *st, size_t head_len)
{
    char status[96], val[128];
    const char *eol = strstr(st->resp, "\r\n");
    size_t slen = eol ? (size_t)(eol - st->resp) : 0;
    int code = 0;

    if (slen >= sizeof status)
        slen = sizeof status - 1;
    memcpy(status, st->resp, slen);
    status[slen] = '\0';
    if (sscanf(status, "HTTP/1.%*d %d", &code) != 1 || code != 101)
        return ws_fail(t, LMQ_EWS_UPGRADE, "WebSocket upgrade refused: %s",
                       status[0] ? status : "(no status line)");
    if (!header(st->resp, "Upgrade", val, sizeof val) || strcasecmp(val, "websocket") != 0)
        return ws_fail(t, LMQ_EWS_UPGRADE, "WebSocket upgrade: no \"Upgrade: websocket\"");
    if (!header(st->resp, "Sec-WebSocket-Accept", val, sizeof val) ||
        strcmp(val, st->accept) != 0)
        return ws_fail(t, LMQ_EWS_UPGRADE, "WebSocket upgrade: wrong Sec-WebSocket-Accept");
    /* [MQTT-6.0.0-4] the server selects our subprotocol; one we did not
     * offer is refused (RFC 6455, 4.1). */
    if (header(st->resp, "Sec-WebSocket-Protocol", val, sizeof val) &&
        strcasecmp(val, st->subprotocol) != 0)
        return ws_fail(t, LMQ_EWS_UPGRADE, "WebSocket upgrade: server chose subprotocol \"%s\"",
                       val);
    if (st->resp_len > head_len) {
        st->early_len = st->resp_len - head_len;
        st->early = malloc(st->early_len);
        if (!st->early)
            return ws_fail(t, LMQ_ENOMEM, "out of memory");
        memcpy(st->early, st->resp + head_len, st->early_len);
        t->pending_in = 1;
    }
    return start_framing(t, st);
}

static int inner_err(lmq_transport *t, ws_state *st, int rc)
{
    memcpy(t->err, st->inner.err, sizeof t->err);
    return rc;
}

/* Move the handshake on: 0 open, 1 waiting for the fd, or an error. */
static int ws_step(lmq_transport *t)
{
    ws_state *st = t->impl;
    ptrdiff_t r;
    int rc;

    if (st->phase == WS_INNER) {
        rc = st->inner.ops->connect_progress(&st->inner);
        if (rc != 0)
            return rc < 0 ? inner_err(t, st, rc) : 1;
        rc = build_request(t, st);
        if (rc < 0)
            return rc;
        st->phase = WS_SEND_REQUEST;
    }
    if (st->phase == WS_SEND_REQUEST) {
        while (st->req_off < st->req_len) {
            r = st->inner.ops->write(&st->inner, (const uint8_t *)st->req + st->req_off,
                                     st->req_len - st->req_off);
            if (r < 0)
                return inner_err(t, st, (int)r);
            if (r == 0)
                return 1;
            st->req_off += (size_t)r;
        }
        free(st->req);
        st->req = NULL;
        st->phase = WS_READ_RESPONSE;
    }
    for (;;) {
        char *end;
        r = st->inner.ops->read(&st->inner, (uint8_t *)st->resp + st->resp_len,
                                sizeof st->resp - 1 - st->resp_len);
        if (r == LMQ_ECLOSED)
            return ws_fail(t, LMQ_EWS_UPGRADE,
                           "the server closed the connection during the WebSocket upgrade");
        if (r < 0)
            return inner_err(t, st, (int)r);
        if (r == 0)
            return 1;
        st->resp_len += (size_t)r;
        st->resp[st->resp_len] = '\0';
        end = strstr(st->resp, "\r\n\r\n");
        if (end) {
            rc = check_response(t, st, (size_t)(end + 4 - st->resp));
            if (rc < 0)
                return rc;
            st->phase = WS_OPEN;
            t->handshaking = 0;
            return 0;
        }
        if (st->resp_len == sizeof st->resp - 1)
            return ws_fail(t, LMQ_EWS_UPGRADE, "WebSocket upgrade: answer too long");
    }
}

/* ------------------------------------------------------------ the table */

static void ws_free_state(lmq_transport *t)
{
    ws_state *st = t->impl;

    if (!st)
        return;
    if (st->ws)
        wslay_event_context_free(st->ws);
    free(st->req);
    free(st->early);
    free(st->in);
    free(st);
    t->impl = NULL;
}

static void ws_close(lmq_transport *t)
{
    ws_state *st = t->impl;

    if (st) {
        /* Our half of the closing handshake (1000, normal), if the socket
         * takes it now; the MQTT DISCONNECT before it said goodbye. */
        if (st->ws && st->phase == WS_OPEN && !st->io_err && !wslay_event_get_close_sent(st->ws)) {
            wslay_event_queue_close(st->ws, WSLAY_CODE_NORMAL_CLOSURE, NULL, 0);
            (void)wslay_event_send(st->ws);
        }
        st->inner.ops->close(&st->inner);
    }
    ws_free_state(t);
    t->fd = -1;
    t->handshaking = 0;
    t->pending_in = 0;
    t->pending_out = 0;
}

static int ws_open(lmq_transport *t, const struct sockaddr *sa, socklen_t salen,
                   const lmq_transport_opts *o)
{
    ws_state *st;
    int rc;

    t->err[0] = '\0';
    st = calloc(1, sizeof *st);
    if (!st)
        return ws_fail(t, LMQ_ENOMEM, "out of memory");
    t->impl = st;
    lmq_transport_init(&st->inner, t->ops == &lmq_transport_wss ? &lmq_transport_tls
                                                                : &lmq_transport_tcp);
    st->inner.host = t->host;
    st->inner.port = t->port;
    st->inner.net = t->net;
    rc = st->inner.ops->open(&st->inner, sa, salen, o);
    if (rc < 0) {
        inner_err(t, st, rc);
        ws_free_state(t);
        return rc;
    }
    t->fd = st->inner.fd;
    t->handshaking = 1;
    st->phase = WS_INNER;
    rc = ws_step(t);
    if (rc < 0) {
        char keep[sizeof t->err];
        memcpy(keep, t->err, sizeof keep);
        ws_close(t);
        memcpy(t->err, keep, sizeof keep);
    }
    return rc;
}

static int ws_connect_progress(lmq_transport *t)
{
    if (!t->impl)
        return ws_fail(t, LMQ_ESTATE, "WebSocket transport not open");
    if (!t->handshaking)
        return 0;
    return ws_step(t);
}

/* Push queued frames (ours, pongs, a close reply). */
static int ws_push(lmq_transport *t, ws_state *st)
{
    if (wslay_event_want_write(st->ws) && wslay_event_send(st->ws) != 0) {
        if (st->io_err)
            return inner_err(t, st, st->io_err);
        return ws_fail(t, LMQ_EWS, "WebSocket send failed");
    }
    t->pending_out = wslay_event_want_write(st->ws);
    return 0;
}

static ptrdiff_t ws_deliver(lmq_transport *t, ws_state *st, uint8_t *buf, size_t n)
{
    size_t k = st->in_len - st->in_off;

    if (k > n)
        k = n;
    memcpy(buf, st->in + st->in_off, k);
    st->in_off += k;
    t->pending_in = st->in_off < st->in_len || st->early_off < st->early_len;
    return (ptrdiff_t)k;
}

static ptrdiff_t ws_read(lmq_transport *t, uint8_t *buf, size_t n)
{
    ws_state *st = t->impl;
    int rc;

    if (!st || !st->ws)
        return ws_fail(t, LMQ_ECLOSED, "WebSocket transport not open");
    /* What was unframed already goes first, before any close is told. */
    if (st->in_off < st->in_len)
        return ws_deliver(t, st, buf, n);
    if (!st->proto_err && !st->close_code && !st->io_err) {
        rc = wslay_event_recv(st->ws);
        if (rc != 0 && !st->io_err && !st->proto_err) {
            st->proto_err = LMQ_EWS;
            snprintf(st->why, sizeof st->why, "WebSocket framing error from the server");
        }
        (void)ws_push(t, st);   /* pong, close reply: best effort */
    }
    if (st->in_off < st->in_len)
        return ws_deliver(t, st, buf, n);
    t->pending_in = 0;
    if (st->proto_err)
        return ws_fail(t, st->proto_err, "%s", st->why);
    if (st->close_code) {
        /* 1000 normal and 1001 going away are ordinary ends. */
        int normal = st->close_code == WSLAY_CODE_NORMAL_CLOSURE ||
                     st->close_code == WSLAY_CODE_GOING_AWAY;
        return ws_fail(t, normal ? LMQ_ECLOSED : LMQ_EWS,
                       "WebSocket closed by the server: code %d%s%s%s", st->close_code,
                       st->close_reason[0] ? " \"" : "", st->close_reason,
                       st->close_reason[0] ? "\"" : "");
    }
    if (st->io_err)
        return inner_err(t, st, st->io_err);
    return 0;
}

static ptrdiff_t ws_write(lmq_transport *t, const uint8_t *buf, size_t n)
{
    ws_state *st = t->impl;
    struct wslay_event_msg msg;
    int rc;

    if (!st || !st->ws)
        return ws_fail(t, LMQ_ECLOSED, "WebSocket transport not open");
    rc = ws_push(t, st);
    if (rc < 0)
        return rc;
    /* Take new bytes only once the last frame is on its way: the session
     * keeps them meanwhile, which is the back-pressure. */
    if (n == 0 || t->pending_out)
        return 0;
    if (n > WS_MAX_OUT_FRAME)
        n = WS_MAX_OUT_FRAME;
    msg.opcode = WSLAY_BINARY_FRAME;    /* [MQTT-6.0.0-1] */
    msg.msg = buf;
    msg.msg_length = n;
    if (wslay_event_queue_msg(st->ws, &msg) != 0)
        return ws_fail(t, LMQ_EWS, "WebSocket closing: cannot send");
    rc = ws_push(t, st);
    return rc < 0 ? rc : (ptrdiff_t)n;
}

static int ws_fd(const lmq_transport *t)
{
    return t->fd;
}

static int ws_want(const lmq_transport *t)
{
    const ws_state *st = t->impl;

    if (!st || t->fd < 0)
        return 0;
    switch (st->phase) {
    case WS_INNER:
        return st->inner.ops->want(&st->inner);
    case WS_SEND_REQUEST:
        return LMQ_WANT_WRITE;
    case WS_READ_RESPONSE:
        return LMQ_WANT_READ;
    default:
        return LMQ_WANT_READ | (t->pending_out ? LMQ_WANT_WRITE : 0);
    }
}

const lmq_transport_ops lmq_transport_ws = {
    "ws", ws_open, ws_connect_progress, ws_read, ws_write, ws_close, ws_fd, ws_want
};

const lmq_transport_ops lmq_transport_wss = {
    "wss", ws_open, ws_connect_progress, ws_read, ws_write, ws_close, ws_fd, ws_want
};
