/*
 * netopts.h - the settings of the secure and web transports (TLS, WebSocket)
 * and of the proxy in front of them.
 *
 * The client keeps one of these and hands it to the transport at every
 * open, so each connection (and each reconnect) is set up afresh from the
 * options as they are then: verification can never be left behind by an
 * earlier connection.  Setters follow the client's convention; a key that
 * is not a transport option returns LMQ_NETOPT_NOT_MINE.
 *
 * Internal to the library.
 */
#ifndef LMQ_NETOPTS_H
#define LMQ_NETOPTS_H

#include <stddef.h>
#include <stdint.h>

#include "transport/proxy.h"
#include "transport/transport.h"

#define LMQ_NETOPT_NOT_MINE 1

typedef struct lmq_netopts {
    int tls;                    /* LMQ_OPT_TLS */
    int websocket;              /* LMQ_OPT_WEBSOCKET */
    int protocol;               /* the MQTT level, for the WebSocket subprotocol */

    char *ca_file, *ca_path;
    char *cert_file, *key_file, *key_password;
    char *alpn;                 /* comma-separated */
    char *ciphers;
    char *psk_identity;
    uint8_t *psk;               /* decoded from hex */
    size_t psk_len;
    char *server_name;
    int insecure;               /* skip the host name check only */
    int no_verify;              /* skip all verification */
    int min_version;            /* 12 or 13 */

    char *ws_path;              /* NULL: "/mqtt" */
    char *ws_headers;           /* "Name: value" lines, '\n'-separated */

    lmq_proxy_cfg proxy;        /* LMQ_OPT_PROXY; kind 0: none */
} lmq_netopts;

void lmq_netopts_init(lmq_netopts *o);
void lmq_netopts_free(lmq_netopts *o);

/* 0 set, LMQ_NETOPT_NOT_MINE, or a negative LMQ_E* code with the reason in
 * err.  LMQ_OPT_PROTOCOL is noted but reported as not mine, so the session
 * still gets it. */
int lmq_netopts_set_int(lmq_netopts *o, int option, int64_t v, char *err, size_t errlen);
int lmq_netopts_set_str(lmq_netopts *o, int option, const char *s, size_t n,
                        char *err, size_t errlen);

/* The transport the options ask for over TCP: tcp, tls, ws or wss. */
const lmq_transport_ops *lmq_netopts_transport(const lmq_netopts *o);

#endif /* LMQ_NETOPTS_H */
