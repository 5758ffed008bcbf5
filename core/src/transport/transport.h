/*
 * transport.h - moving bytes between the session and a file descriptor.
 *
 * A transport is a small table of functions (the Redis connection.h way):
 * plain TCP, Unix sockets, and later TLS and WebSocket all look the same to
 * the client, which only ever calls through the table.  Only this layer
 * touches sockets.
 *
 * Flow states are not errors: read and write return the byte count, 0 for
 * "would block" (try again when the fd is ready), or a negative LMQ_E* code
 * when the connection is unusable (LMQ_ECLOSED at end of stream, LMQ_EIO
 * otherwise).  The detail of the last failure is in t->err.
 *
 * Internal to the library.
 */
#ifndef LMQ_TRANSPORT_H
#define LMQ_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "lunamq.h"

typedef struct lmq_transport lmq_transport;
struct lmq_netopts;

/* What a transport needs besides the address; not every field applies to
 * every transport (a Unix socket has no Nagle to turn off). */
typedef struct lmq_transport_opts {
    const char *bind_address;   /* numeric local address or NULL */
    int tcp_nodelay;            /* 1: disable Nagle (MQTT packets are small) */
    /* Through a socks5:// proxy (proxy.h): the server's address, resolved
     * here; NULL when the proxy is given the name. */
    const struct sockaddr *proxy_target;
    socklen_t proxy_target_len;
} lmq_transport_opts;

typedef struct lmq_transport_ops {
    const char *name;
    /* Start a non-blocking connect to one address: 0 connected already,
     * 1 in progress (wait for writable, then call connect_progress), or a
     * negative LMQ_E* code (the caller tries its next address). */
    int (*open)(lmq_transport *t, const struct sockaddr *sa, socklen_t salen,
                const lmq_transport_opts *o);
    /* The fd became ready while connecting: 0 connected, 1 not yet
     * (a handshake on top may need more rounds), negative LMQ_E* failed. */
    int (*connect_progress)(lmq_transport *t);
    ptrdiff_t (*read)(lmq_transport *t, uint8_t *buf, size_t n);
    ptrdiff_t (*write)(lmq_transport *t, const uint8_t *buf, size_t n);
    /* Close the fd; the transport may be opened again afterwards. */
    void (*close)(lmq_transport *t);
    int (*fd)(const lmq_transport *t);
    /* LMQ_WANT_READ / LMQ_WANT_WRITE the transport itself needs (connect in
     * progress wants WRITE; TLS may want WRITE to make a read progress).
     * The client adds WRITE when the session has bytes to send. */
    int (*want)(const lmq_transport *t);
} lmq_transport_ops;

struct lmq_transport {
    const lmq_transport_ops *ops;
    int fd;                     /* -1 when closed */
    int connecting;             /* non-blocking connect in progress */
    char err[160];              /* detail of the last failure */

    /* For the layered transports (TLS, WebSocket): set by the client
     * before open, read by the transport. */
    const char *host;           /* the name asked for: SNI, certificate check, Host: */
    int port;
    const struct lmq_netopts *net;
    /* Kept by a layered transport. */
    void *impl;                 /* its state (tls.c, ws.c); freed by close */
    int handshaking;            /* its handshake runs (a timeout is a handshake timeout) */
    int pending_in;             /* it holds received bytes: read again before polling */
    int pending_out;            /* it holds bytes to send: call write(t, NULL, 0) when
                                   the fd is writable */
    /* The TCP transport's proxy handshake (proxy.c), when t->net names a
     * proxy; freed by close. */
    void *proxy;
};

/* Plain TCP (IPv4 and IPv6) and Unix domain stream sockets. */
extern const lmq_transport_ops lmq_transport_tcp;
extern const lmq_transport_ops lmq_transport_unix;
/* TLS over TCP through wolfSSL (tls.c); WebSocket over TCP and over TLS
 * through wslay (ws.c).  They read their settings from t->net. */
extern const lmq_transport_ops lmq_transport_tls;
extern const lmq_transport_ops lmq_transport_ws;
extern const lmq_transport_ops lmq_transport_wss;

/* Standard base64 with padding; out holds 4 * ((n + 2) / 3) + 1 bytes
 * (ws.c: the upgrade key; proxy.c: Basic credentials). */
void lmq_base64(const uint8_t *in, size_t n, char *out);

/* SHA-1 (for the WebSocket handshake's accept key; tls.c has the crypto). */
void lmq_tls_sha1(const void *data, size_t n, uint8_t out[20]);

/* A closed transport using the given table. */
void lmq_transport_init(lmq_transport *t, const lmq_transport_ops *ops);

#endif /* LMQ_TRANSPORT_H */
