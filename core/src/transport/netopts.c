/*
 * netopts.c - setters for the TLS, WebSocket and proxy options (see netopts.h).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "transport/netopts.h"

void lmq_netopts_init(lmq_netopts *o)
{
    memset(o, 0, sizeof *o);
    o->protocol = LMQ_MQTT_5;
    o->min_version = 12;
}

void lmq_netopts_free(lmq_netopts *o)
{
    free(o->ca_file);
    free(o->ca_path);
    free(o->cert_file);
    free(o->key_file);
    if (o->key_password)
        memset(o->key_password, 0, strlen(o->key_password));
    free(o->key_password);
    free(o->alpn);
    free(o->ciphers);
    free(o->psk_identity);
    if (o->psk)
        memset(o->psk, 0, o->psk_len);
    free(o->psk);
    free(o->server_name);
    free(o->ws_path);
    free(o->ws_headers);
    lmq_proxy_cfg_free(&o->proxy);
    memset(o, 0, sizeof *o);
}

__attribute__((format(printf, 3, 4)))
static int opt_fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return LMQ_EINVAL;
}

static int flag(int *dst, int64_t v, char *err, size_t errlen)
{
    if (v != 0 && v != 1)
        return opt_fail(err, errlen, "option takes 0 or 1, not %lld", (long long)v);
    *dst = (int)v;
    return 0;
}

int lmq_netopts_set_int(lmq_netopts *o, int option, int64_t v, char *err, size_t errlen)
{
    switch (option) {
    case LMQ_OPT_TLS:
        return flag(&o->tls, v, err, errlen);
    case LMQ_OPT_TLS_INSECURE:
        return flag(&o->insecure, v, err, errlen);
    case LMQ_OPT_TLS_NO_VERIFY:
        return flag(&o->no_verify, v, err, errlen);
    case LMQ_OPT_WEBSOCKET:
        return flag(&o->websocket, v, err, errlen);
    case LMQ_OPT_TLS_MIN_VERSION:
        if (v != 12 && v != 13)
            return opt_fail(err, errlen, "TLS minimum version is 12 or 13, not %lld",
                            (long long)v);
        o->min_version = (int)v;
        return 0;
    case LMQ_OPT_PROTOCOL:
        o->protocol = (int)v;
        return LMQ_NETOPT_NOT_MINE;
    case LMQ_OPT_URL:
    case LMQ_OPT_TLS_CA_FILE:
    case LMQ_OPT_TLS_CA_PATH:
    case LMQ_OPT_TLS_CERT_FILE:
    case LMQ_OPT_TLS_KEY_FILE:
    case LMQ_OPT_TLS_KEY_PASSWORD:
    case LMQ_OPT_TLS_ALPN:
    case LMQ_OPT_TLS_CIPHERS:
    case LMQ_OPT_TLS_PSK_IDENTITY:
    case LMQ_OPT_TLS_PSK:
    case LMQ_OPT_TLS_SERVER_NAME:
    case LMQ_OPT_WS_PATH:
    case LMQ_OPT_WS_HEADERS:
    case LMQ_OPT_PROXY:
        return opt_fail(err, errlen, "option %d takes a string", option);
    default:
        return LMQ_NETOPT_NOT_MINE;
    }
}

/* An empty string clears. */
static int text(char **dst, const char *s, size_t n, char *err, size_t errlen)
{
    char *d = NULL;

    if (memchr(s, '\0', n))
        return opt_fail(err, errlen, "string option contains a NUL byte");
    if (n) {
        d = malloc(n + 1);
        if (!d)
            return LMQ_ENOMEM;
        memcpy(d, s, n);
        d[n] = '\0';
    }
    free(*dst);
    *dst = d;
    return 0;
}

static int hexval(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

/* The key as mosquitto's psk option and mosquitto_pub --psk take it: hex. */
static int psk_hex(lmq_netopts *o, const char *s, size_t n, char *err, size_t errlen)
{
    uint8_t *k;

    if (n % 2 || n > 2 * 256)
        return opt_fail(err, errlen, "the PSK is hex digits, an even number, at most 512");
    k = n ? malloc(n / 2) : NULL;
    if (n && !k)
        return LMQ_ENOMEM;
    for (size_t i = 0; i < n; i += 2) {
        int hi = hexval(s[i]), lo = hexval(s[i + 1]);
        if (hi < 0 || lo < 0) {
            free(k);
            return opt_fail(err, errlen, "the PSK is hex digits only");
        }
        k[i / 2] = (uint8_t)(hi << 4 | lo);
    }
    if (o->psk)
        memset(o->psk, 0, o->psk_len);
    free(o->psk);
    o->psk = k;
    o->psk_len = n / 2;
    return 0;
}

int lmq_netopts_set_str(lmq_netopts *o, int option, const char *s, size_t n,
                        char *err, size_t errlen)
{
    switch (option) {
    case LMQ_OPT_TLS_CA_FILE: return text(&o->ca_file, s, n, err, errlen);
    case LMQ_OPT_TLS_CA_PATH: return text(&o->ca_path, s, n, err, errlen);
    case LMQ_OPT_TLS_CERT_FILE: return text(&o->cert_file, s, n, err, errlen);
    case LMQ_OPT_TLS_KEY_FILE: return text(&o->key_file, s, n, err, errlen);
    case LMQ_OPT_TLS_KEY_PASSWORD: return text(&o->key_password, s, n, err, errlen);
    case LMQ_OPT_TLS_ALPN: return text(&o->alpn, s, n, err, errlen);
    case LMQ_OPT_TLS_CIPHERS: return text(&o->ciphers, s, n, err, errlen);
    case LMQ_OPT_TLS_PSK_IDENTITY: return text(&o->psk_identity, s, n, err, errlen);
    case LMQ_OPT_TLS_PSK: return psk_hex(o, s, n, err, errlen);
    case LMQ_OPT_TLS_SERVER_NAME: return text(&o->server_name, s, n, err, errlen);
    case LMQ_OPT_WS_PATH:
        if (n && s[0] != '/')
            return opt_fail(err, errlen, "the WebSocket path starts with '/'");
        for (size_t i = 0; i < n; i++)
            if ((unsigned char)s[i] <= 0x20 || s[i] == 0x7f)
                return opt_fail(err, errlen, "space or control character in the path");
        return text(&o->ws_path, s, n, err, errlen);
    case LMQ_OPT_WS_HEADERS:
        /* Header injection guard: lines only, each "Name: value". */
        for (size_t i = 0; i < n; i++)
            if (s[i] == '\r')
                return opt_fail(err, errlen, "separate extra headers with '\\n' only");
        return text(&o->ws_headers, s, n, err, errlen);
    case LMQ_OPT_PROXY:
        if (memchr(s, '\0', n))
            return opt_fail(err, errlen, "string option contains a NUL byte");
        return lmq_proxy_cfg_set(&o->proxy, s, n, err, errlen);
    case LMQ_OPT_TLS:
    case LMQ_OPT_TLS_INSECURE:
    case LMQ_OPT_TLS_NO_VERIFY:
    case LMQ_OPT_TLS_MIN_VERSION:
    case LMQ_OPT_WEBSOCKET:
        return opt_fail(err, errlen, "option %d takes an integer", option);
    default:
        return LMQ_NETOPT_NOT_MINE;
    }
}

const lmq_transport_ops *lmq_netopts_transport(const lmq_netopts *o)
{
    if (o->websocket)
        return o->tls ? &lmq_transport_wss : &lmq_transport_ws;
    return o->tls ? &lmq_transport_tls : &lmq_transport_tcp;
}
