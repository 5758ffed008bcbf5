/*
 * tls.c - the TLS transport: wolfSSL over a non-blocking TCP socket.
 *
 * The TCP part is socket.c's; this file adds the handshake (run from
 * connect_progress whenever the fd is ready, as wolfSSL asks for READ or
 * WRITE) and the record layer.  It is the only file that includes wolfSSL.
 *
 * Secure by default, and rebuilt for every connection: a fresh context is
 * made at each open from the options as they are then, so a reconnect
 * verifies exactly as the first connect did and can never fail open
 * (libmosquitto once skipped verification on reconnect).  The chain is
 * checked against the configured CAs or the system store, the name against
 * the certificate's DNS or IP SANs (Paho C ships with this off), TLS 1.2
 * at least.  The two ways around it are explicit options, and the client
 * logs a warning for them on every connect.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>
#include <wolfssl/error-ssl.h>
#include <wolfssl/wolfcrypt/error-crypt.h>
#include <wolfssl/wolfcrypt/sha.h>

#include "transport/netopts.h"
#include "transport/transport.h"

/* The ex_data slot that leads a callback from the WOLFSSL to its state. */
#define TLS_EX_STATE 0

typedef struct tls_state {
    lmq_transport *t;
    WOLFSSL_CTX *ctx;
    WOLFSSL *ssl;
    int hs_want;                /* what the handshake waits for */
    int sys_errno;              /* errno of a failed recv/send, for messages */
    char name[256];             /* SNI / verification name */
} tls_state;

static pthread_once_t tls_once = PTHREAD_ONCE_INIT;
static int tls_init_rc;

static void tls_global_init(void)
{
    tls_init_rc = wolfSSL_Init() == WOLFSSL_SUCCESS ? 0 : -1;
}

void lmq_tls_sha1(const void *data, size_t n, uint8_t out[20])
{
    wc_ShaHash(data, (word32)n, out);
}

__attribute__((format(printf, 3, 4)))
static int tls_fail(lmq_transport *t, int code, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(t->err, sizeof t->err, fmt, ap);
    va_end(ap);
    return code;
}

/* ------------------------------------------------------------ socket I/O */

/* Our own I/O callbacks: MSG_NOSIGNAL on send (a closed peer must not
 * SIGPIPE the embedding program) and errno kept for the message. */
static int tls_io_recv(WOLFSSL *ssl, char *buf, int sz, void *ctx)
{
    tls_state *st = ctx;
    ssize_t r;

    (void)ssl;
    do
        r = recv(st->t->fd, buf, (size_t)sz, 0);
    while (r < 0 && errno == EINTR);
    if (r > 0)
        return (int)r;
    if (r == 0)
        return WOLFSSL_CBIO_ERR_CONN_CLOSE;
    if (errno == EAGAIN || errno == EWOULDBLOCK)
        return WOLFSSL_CBIO_ERR_WANT_READ;
    st->sys_errno = errno;
    return errno == ECONNRESET ? WOLFSSL_CBIO_ERR_CONN_RST : WOLFSSL_CBIO_ERR_GENERAL;
}

static int tls_io_send(WOLFSSL *ssl, char *buf, int sz, void *ctx)
{
    tls_state *st = ctx;
    ssize_t w;

    (void)ssl;
    do
        w = send(st->t->fd, buf, (size_t)sz, MSG_NOSIGNAL);
    while (w < 0 && errno == EINTR);
    if (w >= 0)
        return (int)w;
    if (errno == EAGAIN || errno == EWOULDBLOCK)
        return WOLFSSL_CBIO_ERR_WANT_WRITE;
    st->sys_errno = errno;
    return errno == EPIPE ? WOLFSSL_CBIO_ERR_CONN_CLOSE : WOLFSSL_CBIO_ERR_GENERAL;
}

/* --------------------------------------------------------------- set-up */

static int tls_passwd_cb(char *buf, int size, int rwflag, void *ud)
{
    const char *pw = ud;
    size_t n = pw ? strlen(pw) : 0;

    (void)rwflag;
    if (!pw || size <= 0 || n >= (size_t)size)
        return 0;
    memcpy(buf, pw, n + 1);
    return (int)n;
}

static unsigned int tls_psk_cb(WOLFSSL *ssl, const char *hint, char *identity,
                               unsigned int id_max, unsigned char *key,
                               unsigned int key_max)
{
    tls_state *st = wolfSSL_get_ex_data(ssl, TLS_EX_STATE);
    const lmq_netopts *o = st ? st->t->net : NULL;

    (void)hint;
    if (!o || !o->psk_identity || !o->psk || strlen(o->psk_identity) >= id_max ||
        o->psk_len > key_max)
        return 0;
    memcpy(identity, o->psk_identity, strlen(o->psk_identity) + 1);
    memcpy(key, o->psk, o->psk_len);
    return (unsigned int)o->psk_len;
}

/* A certificate or key file in PEM, else DER. */
static int load_cert(WOLFSSL_CTX *ctx, const char *file)
{
    if (wolfSSL_CTX_use_certificate_chain_file(ctx, file) == WOLFSSL_SUCCESS)
        return 0;
    return wolfSSL_CTX_use_certificate_file(ctx, file, WOLFSSL_FILETYPE_ASN1) ==
           WOLFSSL_SUCCESS ? 0 : -1;
}

static int load_key(WOLFSSL_CTX *ctx, const char *file)
{
    if (wolfSSL_CTX_use_PrivateKey_file(ctx, file, WOLFSSL_FILETYPE_PEM) == WOLFSSL_SUCCESS)
        return 0;
    return wolfSSL_CTX_use_PrivateKey_file(ctx, file, WOLFSSL_FILETYPE_ASN1) ==
           WOLFSSL_SUCCESS ? 0 : -1;
}

static int ctx_trust(lmq_transport *t, WOLFSSL_CTX *ctx, const lmq_netopts *o)
{
    if (o->no_verify) {
        wolfSSL_CTX_set_verify(ctx, WOLFSSL_VERIFY_NONE, NULL);
        return 0;
    }
    wolfSSL_CTX_set_verify(ctx, WOLFSSL_VERIFY_PEER, NULL);
    if (o->ca_file || o->ca_path) {
        /* A directory may hold other files too: skip what does not parse. */
        if (wolfSSL_CTX_load_verify_locations_ex(ctx, o->ca_file, o->ca_path,
                                                 WOLFSSL_LOAD_FLAG_IGNORE_ERR) !=
            WOLFSSL_SUCCESS)
            return tls_fail(t, LMQ_ETLS_CONFIG, "cannot load CA certificates from %s",
                            o->ca_file ? o->ca_file : o->ca_path);
        return 0;
    }
    if (o->psk_identity)
        return 0;               /* PSK: no certificates at all */
    if (wolfSSL_CTX_load_system_CA_certs(ctx) != WOLFSSL_SUCCESS)
        return tls_fail(t, LMQ_ETLS_CONFIG,
                        "no CA given and the system CA store could not be loaded");
    return 0;
}

static int ctx_identity(lmq_transport *t, WOLFSSL_CTX *ctx, const lmq_netopts *o)
{
    if (o->key_password) {
        wolfSSL_CTX_set_default_passwd_cb(ctx, tls_passwd_cb);
        wolfSSL_CTX_set_default_passwd_cb_userdata(ctx, o->key_password);
    }
    if (o->cert_file && load_cert(ctx, o->cert_file) != 0)
        return tls_fail(t, LMQ_ETLS_CONFIG, "cannot load the client certificate %s",
                        o->cert_file);
    if (o->key_file && load_key(ctx, o->key_file) != 0)
        return tls_fail(t, LMQ_ETLS_CONFIG,
                        "cannot load the client key %s (wrong passphrase?)", o->key_file);
    if (o->cert_file && !o->key_file && load_key(ctx, o->cert_file) != 0)
        return tls_fail(t, LMQ_ETLS_CONFIG, "client certificate %s without a key",
                        o->cert_file);
    if (o->psk_identity) {
        if (!o->psk)
            return tls_fail(t, LMQ_ETLS_CONFIG, "a PSK identity without a PSK");
        wolfSSL_CTX_set_psk_client_callback(ctx, tls_psk_cb);
    }
    return 0;
}

static int make_ctx(lmq_transport *t, tls_state *st)
{
    const lmq_netopts *o = t->net;
    int rc;

    /* PSK is spoken as TLS 1.2 (the PSK cipher suites): TLS 1.3's
     * resumption-style PSK does not interoperate with servers that take
     * the classic identity callback (mosquitto over OpenSSL refuses it
     * with "illegal parameter"). */
    st->ctx = wolfSSL_CTX_new(o->psk_identity ? wolfTLSv1_2_client_method()
                                              : wolfTLS_client_method());
    if (!st->ctx)
        return tls_fail(t, LMQ_ENOMEM, "cannot create a TLS context");
    if (wolfSSL_CTX_SetMinVersion(st->ctx, o->min_version == 13 ? WOLFSSL_TLSV1_3
                                                                 : WOLFSSL_TLSV1_2) !=
        WOLFSSL_SUCCESS)
        return tls_fail(t, LMQ_ETLS_CONFIG, "cannot set the minimum TLS version");
    wolfSSL_CTX_SetIORecv(st->ctx, tls_io_recv);
    wolfSSL_CTX_SetIOSend(st->ctx, tls_io_send);
    rc = ctx_trust(t, st->ctx, o);
    if (rc == 0)
        rc = ctx_identity(t, st->ctx, o);
    if (rc == 0 && o->ciphers &&
        wolfSSL_CTX_set_cipher_list(st->ctx, o->ciphers) != WOLFSSL_SUCCESS)
        rc = tls_fail(t, LMQ_ETLS_CONFIG, "no usable cipher in \"%s\"", o->ciphers);
    return rc;
}

static int is_ip_literal(const char *s)
{
    unsigned char buf[16];

    return inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1;
}

static int make_ssl(lmq_transport *t, tls_state *st)
{
    const lmq_netopts *o = t->net;
    int ip;

    st->ssl = wolfSSL_new(st->ctx);
    if (!st->ssl)
        return tls_fail(t, LMQ_ENOMEM, "cannot create a TLS session");
    wolfSSL_SetIOReadCtx(st->ssl, st);
    wolfSSL_SetIOWriteCtx(st->ssl, st);
    wolfSSL_set_ex_data(st->ssl, TLS_EX_STATE, st);
    snprintf(st->name, sizeof st->name, "%s",
             o->server_name ? o->server_name : t->host ? t->host : "");
    ip = is_ip_literal(st->name);
    /* SNI names a host; an address is not sent (RFC 6066, 3). */
    if (!ip && st->name[0] &&
        wolfSSL_UseSNI(st->ssl, WOLFSSL_SNI_HOST_NAME, st->name,
                       (unsigned short)strlen(st->name)) != WOLFSSL_SUCCESS)
        return tls_fail(t, LMQ_ETLS_CONFIG, "cannot set SNI to %s", st->name);
    if (!o->no_verify && !o->insecure && st->name[0]) {
        int ok = ip ? wolfSSL_X509_VERIFY_PARAM_set1_ip_asc(wolfSSL_get0_param(st->ssl),
                                                             st->name)
                    : wolfSSL_check_domain_name(st->ssl, st->name);
        if (ok != WOLFSSL_SUCCESS)
            return tls_fail(t, LMQ_ETLS_CONFIG, "cannot check the name %s", st->name);
    }
    if (o->alpn) {
        char list[256];
        int n = snprintf(list, sizeof list, "%s", o->alpn);
        if (n <= 0 || (size_t)n >= sizeof list ||
            wolfSSL_UseALPN(st->ssl, list, (unsigned)n, WOLFSSL_ALPN_FAILED_ON_MISMATCH) !=
            WOLFSSL_SUCCESS)
            return tls_fail(t, LMQ_ETLS_CONFIG, "cannot use the ALPN list \"%s\"", o->alpn);
    }
    return 0;
}

static void tls_free_state(lmq_transport *t)
{
    tls_state *st = t->impl;

    if (!st)
        return;
    if (st->ssl)
        wolfSSL_free(st->ssl);
    if (st->ctx)
        wolfSSL_CTX_free(st->ctx);
    free(st);
    t->impl = NULL;
}

/* ------------------------------------------------------------ handshake */

/* An alert the server sent, as text; NULL when none came. */
static const char *tls_alert_rx(tls_state *st, int *code)
{
    WOLFSSL_ALERT_HISTORY h;
    const char *d;

    if (wolfSSL_get_alert_history(st->ssl, &h) != WOLFSSL_SUCCESS || h.last_rx.code <= 0)
        return NULL;
    *code = h.last_rx.code;
    d = wolfSSL_alert_desc_string_long(h.last_rx.code);
    /* 116 is TLS 1.3's certificate_required, unknown to wolfSSL 5.5 */
    if (!d)
        d = h.last_rx.code == 116 ? "certificate required" : "unknown";
    return d;
}

/* wolfSSL's error as one of ours, with its reason in t->err.  During the
 * handshake a closed or reset connection is the server refusing TLS (it
 * accepted TCP), so it is LMQ_ETLS, not a plain I/O error. */
static int tls_error(lmq_transport *t, tls_state *st, int err, const char *when)
{
    int handshake = t->handshaking, alert = 0;
    const char *alert_text;
    char reason[80];

    wolfSSL_ERR_error_string_n((unsigned long)err, reason, sizeof reason);
    switch (err) {
    case ASN_NO_SIGNER_E:
    case ASN_SELF_SIGNED_E:
        return tls_fail(t, LMQ_ETLS_UNKNOWN_CA,
                        "%s: server certificate not signed by a trusted CA (%s)", when, reason);
    case DOMAIN_NAME_MISMATCH:
    case IPADDR_MISMATCH:
        return tls_fail(t, LMQ_ETLS_HOSTNAME,
                        "%s: server certificate does not match \"%s\" (%s)", when, st->name,
                        reason);
    case ASN_AFTER_DATE_E:
        return tls_fail(t, LMQ_ETLS_EXPIRED, "%s: server certificate expired (%s)", when,
                        reason);
    case ASN_BEFORE_DATE_E:
        return tls_fail(t, LMQ_ETLS_EXPIRED, "%s: server certificate not yet valid (%s)",
                        when, reason);
    default:
        break;
    }
    alert_text = tls_alert_rx(st, &alert);
    if (alert_text && (handshake || err == FATAL_ERROR))
        return tls_fail(t, LMQ_ETLS, "%s: the server sent alert %d \"%s\"", when, alert,
                        alert_text);
    switch (err) {
    case SOCKET_PEER_CLOSED_E:
    case WOLFSSL_ERROR_ZERO_RETURN:
        if (handshake)
            return tls_fail(t, LMQ_ETLS, "%s: the server closed the connection", when);
        return tls_fail(t, LMQ_ECLOSED, "%s: connection closed by the server", when);
    case SOCKET_ERROR_E:
        return tls_fail(t, handshake ? LMQ_ETLS : LMQ_EIO, "%s: %s", when,
                        st->sys_errno ? strerror(st->sys_errno) : "the connection broke");
    default:
        return tls_fail(t, LMQ_ETLS, "%s: %s (wolfSSL %d)", when, reason, err);
    }
}

/* One round of the handshake: 0 done, 1 waiting for the fd, or an error. */
static int tls_handshake(lmq_transport *t)
{
    tls_state *st = t->impl;
    int ret, err;

    ret = wolfSSL_connect(st->ssl);
    if (ret == WOLFSSL_SUCCESS) {
        t->handshaking = 0;
        return 0;
    }
    err = wolfSSL_get_error(st->ssl, ret);
    if (err == WOLFSSL_ERROR_WANT_READ) {
        st->hs_want = LMQ_WANT_READ;
        return 1;
    }
    if (err == WOLFSSL_ERROR_WANT_WRITE) {
        st->hs_want = LMQ_WANT_WRITE;
        return 1;
    }
    return tls_error(t, st, err, "TLS handshake");
}

/* ----------------------------------------------------------- the table */

static void tls_close(lmq_transport *t)
{
    tls_state *st = t->impl;

    /* A close_notify if the socket takes it at once; no waiting for the
     * answer (the MQTT DISCONNECT said goodbye already). */
    if (st && st->ssl && !t->handshaking && !t->connecting && t->fd >= 0)
        (void)wolfSSL_shutdown(st->ssl);
    tls_free_state(t);
    lmq_transport_tcp.close(t);
    t->handshaking = 0;
    t->pending_in = 0;
    t->pending_out = 0;
}

static int tls_open(lmq_transport *t, const struct sockaddr *sa, socklen_t salen,
                    const lmq_transport_opts *o)
{
    tls_state *st;
    int rc;

    t->err[0] = '\0';
    pthread_once(&tls_once, tls_global_init);
    if (tls_init_rc != 0)
        return tls_fail(t, LMQ_ETLS_CONFIG, "wolfSSL failed to initialise");
    if (!t->net)
        return tls_fail(t, LMQ_ETLS_CONFIG, "TLS without settings");
    st = calloc(1, sizeof *st);
    if (!st)
        return tls_fail(t, LMQ_ENOMEM, "out of memory");
    st->t = t;
    t->impl = st;
    rc = make_ctx(t, st);
    if (rc == 0)
        rc = make_ssl(t, st);
    if (rc < 0)
        goto fail;
    rc = lmq_transport_tcp.open(t, sa, salen, o);
    if (rc < 0)
        goto fail;
    t->handshaking = 1;
    if (rc == 1)
        return 1;               /* TCP first; connect_progress goes on */
    rc = tls_handshake(t);
    if (rc >= 0)
        return rc;
fail:
    {
        char keep[sizeof t->err];
        memcpy(keep, t->err, sizeof keep);
        tls_close(t);
        memcpy(t->err, keep, sizeof keep);
    }
    return rc;
}

static int tls_connect_progress(lmq_transport *t)
{
    int rc;

    if (!t->impl)
        return tls_fail(t, LMQ_ESTATE, "TLS transport not open");
    if (t->connecting) {
        rc = lmq_transport_tcp.connect_progress(t);
        if (rc != 0)
            return rc;
    }
    if (!t->handshaking)
        return 0;
    return tls_handshake(t);
}

static ptrdiff_t tls_read(lmq_transport *t, uint8_t *buf, size_t n)
{
    tls_state *st = t->impl;
    size_t got = 0;
    int r, err;

    if (!st)
        return tls_fail(t, LMQ_ECLOSED, "TLS transport not open");
    /* Fill the buffer: wolfSSL hands out one record per call. */
    while (got < n) {
        r = wolfSSL_read(st->ssl, buf + got, (int)(n - got > INT_MAX ? INT_MAX : n - got));
        if (r > 0) {
            got += (size_t)r;
            continue;
        }
        err = wolfSSL_get_error(st->ssl, r);
        if (err == WOLFSSL_ERROR_WANT_READ || err == WOLFSSL_ERROR_WANT_WRITE)
            break;
        if (got > 0)
            break;              /* deliver these; the error comes back next call */
        return tls_error(t, st, err, "TLS read");
    }
    /* Decrypted bytes wolfSSL still holds will not wake poll(): the
     * client reads again before it waits. */
    t->pending_in = wolfSSL_pending(st->ssl) > 0;
    return (ptrdiff_t)got;
}

static ptrdiff_t tls_write(lmq_transport *t, const uint8_t *buf, size_t n)
{
    tls_state *st = t->impl;
    int w, err;

    if (!st)
        return tls_fail(t, LMQ_ECLOSED, "TLS transport not open");
    if (n == 0)
        return 0;
    /* After WANT_WRITE wolfSSL wants the same bytes again (at least as
     * many): the session keeps them until we say they were sent, so the
     * retry always starts with the same data. */
    w = wolfSSL_write(st->ssl, buf, (int)(n > INT_MAX ? INT_MAX : n));
    if (w > 0)
        return w;
    err = wolfSSL_get_error(st->ssl, w);
    if (err == WOLFSSL_ERROR_WANT_WRITE || err == WOLFSSL_ERROR_WANT_READ)
        return 0;
    return tls_error(t, st, err, "TLS write");
}

static int tls_fd(const lmq_transport *t)
{
    return t->fd;
}

static int tls_want(const lmq_transport *t)
{
    const tls_state *st = t->impl;

    if (t->fd < 0)
        return 0;
    if (t->connecting)
        return lmq_transport_tcp.want(t);   /* the connect, or a proxy's handshake */
    if (t->handshaking && st)
        return st->hs_want ? st->hs_want : LMQ_WANT_WRITE;
    return LMQ_WANT_READ;
}

const lmq_transport_ops lmq_transport_tls = {
    "tls", tls_open, tls_connect_progress, tls_read, tls_write,
    tls_close, tls_fd, tls_want
};
