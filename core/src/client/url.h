/*
 * url.h - connection strings: mqtt://, mqtts://, ws://, wss://, unix://.
 *
 *   scheme://[user[:password]@]host[:port][/path]
 *   unix:///absolute/path/to/socket
 *
 * The parser is pure (no client, no I/O) so the unit test can feed it
 * strings; lmq_url_apply turns a parsed URL into client options.
 *
 * Internal to the library.
 */
#ifndef LMQ_URL_H
#define LMQ_URL_H

#include <stddef.h>

#include "lunamq.h"

enum lmq_url_scheme {
    LMQ_URL_MQTT = 1,       /* plain TCP, default port 1883 */
    LMQ_URL_MQTTS = 2,      /* TLS, 8883 */
    LMQ_URL_WS = 3,         /* WebSocket over TCP, 80 */
    LMQ_URL_WSS = 4,        /* WebSocket over TLS, 443 */
    LMQ_URL_UNIX = 5,       /* Unix domain socket: only a path */
    /* proxies (lmq_url_parse_proxy) */
    LMQ_URL_SOCKS5 = 10,    /* socks5://, 1080: the server's name resolved locally */
    LMQ_URL_SOCKS5H = 11,   /* socks5h://, 1080: the name sent to the proxy */
    LMQ_URL_HTTP_PROXY = 12 /* http://, 8080: HTTP CONNECT (the proxy resolves) */
};

/* A parsed URL.  Strings are NUL-terminated copies (user and password
 * percent-decoded; the password may hold any byte but NUL); NULL when the
 * URL had none.  Free with lmq_url_clear. */
typedef struct lmq_url {
    int scheme;
    char *user;
    char *password;
    char *host;             /* without the brackets of an IPv6 literal */
    int port;               /* the URL's, or the scheme's default */
    char *path;             /* "/..." with any query; the socket path for unix */
} lmq_url;

/* Parse; 0, or LMQ_EURL / LMQ_ENOMEM with the reason in err. */
int lmq_url_parse(const char *s, size_t n, lmq_url *u, char *err, size_t errlen);
void lmq_url_clear(lmq_url *u);

/* A proxy URL: socks5://, socks5h:// or http://, with user:password@,
 * host and :port, no path.  Same errors as lmq_url_parse. */
int lmq_url_parse_proxy(const char *s, size_t n, lmq_url *u, char *err, size_t errlen);

/* Parse and set host, port, Unix path, user, password, TLS, WebSocket and
 * its path on c (through the public setters; the caller holds the lock).
 * Nothing is changed when the URL is malformed. */
int lmq_url_apply(lmq_client *c, const char *s, size_t n, char *err, size_t errlen);

#endif /* LMQ_URL_H */
