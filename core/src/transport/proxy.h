/*
 * proxy.h - a SOCKS5 or HTTP CONNECT proxy in front of the TCP transport.
 *
 * The proxy is not a transport of its own but a handshake layer under all
 * of them: the TCP transport (socket.c) connects to the proxy's address,
 * runs the proxy's handshake on the raw socket, and only then reports
 * itself connected, so TLS and the WebSocket upgrade start on a socket
 * that already leads to the server.  While the handshake runs the
 * transport stays `connecting`, and want() says what it waits for.
 *
 * The client (client.c) resolves the proxy's name instead of the
 * server's, and, for socks5:// (not socks5h://), the server's name too,
 * handing that address down in lmq_transport_opts.proxy_target.
 *
 * Internal to the library.
 */
#ifndef LMQ_PROXY_H
#define LMQ_PROXY_H

#include <stddef.h>
#include <sys/socket.h>

#include "transport/transport.h"

/* LMQ_OPT_PROXY as parsed: kind is 0 (no proxy) or an LMQ_URL_SOCKS5,
 * LMQ_URL_SOCKS5H, LMQ_URL_HTTP_PROXY (client/url.h). */
typedef struct lmq_proxy_cfg {
    int kind;
    char *host;
    int port;
    char *user;                 /* NULL: no authentication offered */
    char *password;             /* never logged */
} lmq_proxy_cfg;

/* Parse a proxy URL into p (an empty one clears it).  0, or LMQ_EURL /
 * LMQ_ENOMEM with the reason in err; p is unchanged on failure. */
int lmq_proxy_cfg_set(lmq_proxy_cfg *p, const char *url, size_t n, char *err, size_t errlen);
void lmq_proxy_cfg_free(lmq_proxy_cfg *p);

/* "SOCKS5" or "HTTP", for messages. */
const char *lmq_proxy_kind_name(int kind);

/* 1 when the server's name must be resolved here before the proxy is
 * asked (socks5:// with a name that is not a numeric address). */
int lmq_proxy_resolves_locally(const lmq_proxy_cfg *p, const char *host);

/* socket.c's side.  begin: the TCP connect to the proxy was started
 * (state allocated; 0 or LMQ_ENOMEM).  step: move the handshake on once
 * the TCP connection is up: 0 done, 1 waiting for want(), or a negative
 * LMQ_EPROXY_* code with the reason in t->err.  end: free the state. */
int lmq_proxy_begin(lmq_transport *t, const lmq_transport_opts *o);
int lmq_proxy_step(lmq_transport *t);
int lmq_proxy_want(const lmq_transport *t);
/* 1 once step has run (the TCP connection to the proxy is up). */
int lmq_proxy_started(const lmq_transport *t);
void lmq_proxy_end(lmq_transport *t);

#endif /* LMQ_PROXY_H */
