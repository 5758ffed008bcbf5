/*
 * args.c - the connection flags pub, sub and bench share (spelled as
 * mosquitto_pub / mosquitto_sub spell them), -D properties, and small
 * helpers: numbers, clocks, a growable buffer, error lines.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <strings.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

const char cli_conn_usage[] =
    "Connection:\n"
    "  -h HOST            broker host (default localhost)\n"
    "  -p PORT            broker port (default 1883)\n"
    "  -L URL             mqtt(s)://[user[:password]@]host[:port]/topic,\n"
    "                     ws(s)://host[:port]/path, unix:///path\n"
    "  --unix PATH        connect to a Unix socket\n"
    "  -A ADDRESS         bind the socket to this local address\n"
    "  --proxy URL        through a proxy: socks5://[user:pass@]host[:1080] (the\n"
    "                     broker's name resolved here), socks5h://... (resolved by\n"
    "                     the proxy), http://[user:pass@]host[:8080] (HTTP CONNECT)\n"
    "  -i ID              client id;  -I PREFIX: PREFIX followed by the process id\n"
    "  -u USER, -P PASS   username and password\n"
    "  -k SECONDS         keepalive (default 60, 0 disables)\n"
    "  -c                 persistent session (clean start off; needs -i)\n"
    "  --state-dir DIR    durable session: QoS 1/2 state kept in DIR, survives a\n"
    "                     restart or kill -9 (needs -c and -i)\n"
    "  -x SECONDS         session expiry interval (MQTT 5; -1: never)\n"
    "  -V VERSION         31, 311, 5 (or mqttv31, mqttv311, mqttv5) or auto; default\n"
    "                     auto: MQTT 5, or 3.1.1 when the server refuses 5\n"
    "  -D PACKET NAME VALUE [VALUE]\n"
    "                     an MQTT 5 property, e.g. -D publish user-property a b;\n"
    "                     PACKET: connect publish subscribe unsubscribe disconnect will\n"
    "  --will-topic T --will-payload P --will-qos Q --will-retain\n"
    "  --nodelay          (the default: TCP_NODELAY is always on)\n"
    "  -d                 debug output on stderr;  --quiet: no error messages\n"
    "TLS (any of these turns it on; port 8883 unless -p or -L says):\n"
    "  --cafile FILE, --capath DIR   trusted CAs (default: the system's)\n"
    "  --cert FILE --key FILE [--keypass P]   client certificate\n"
    "  --insecure         do not check the server's name (the chain still is)\n"
    "  --tls-version tlsv1.2|tlsv1.3  the lowest version accepted\n"
    "  --alpn PROTO[,PROTO]  --ciphers LIST  --psk HEX --psk-identity ID\n"
    "  --tls-use-os-certs TLS with the system's CAs\n";

/* ---------------------------------------------------------------- helpers */

void cli_err(const cli_conn *o, const char *fmt, ...)
{
    va_list ap;

    if (o && o->quiet)
        return;
    fprintf(stderr, "%s: ", o ? o->prog : "lunamq");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

int cli_parse_int(const char *s, int64_t lo, int64_t hi, int64_t *out)
{
    char *end;
    long long v;

    if (!s || !*s)
        return -1;
    v = strtoll(s, &end, 10);
    if (*end || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

const char *cli_value(const char *prog, int argc, char **argv, int *i)
{
    if (*i + 1 >= argc) {
        fprintf(stderr, "%s: %s needs a value\n", prog, argv[*i]);
        return NULL;
    }
    return argv[++*i];
}

int64_t cli_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t cli_wall_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int cli_buf_add(cli_buf *b, const void *p, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *np = realloc(b->p, cap);
        if (!np)
            return -1;
        b->p = np;
        b->cap = cap;
    }
    if (n)
        memcpy(b->p + b->len, p, n);
    b->len += n;
    b->p[b->len] = '\0';
    return 0;
}

int cli_buf_addc(cli_buf *b, char ch)
{
    return cli_buf_add(b, &ch, 1);
}

int cli_buf_addf(cli_buf *b, const char *fmt, ...)
{
    char tmp[256];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0)
        return -1;
    if ((size_t)n < sizeof tmp)
        return cli_buf_add(b, tmp, (size_t)n);
    char *big = malloc((size_t)n + 1);
    if (!big)
        return -1;
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    int rc = cli_buf_add(b, big, (size_t)n);
    free(big);
    return rc;
}

void cli_buf_free(cli_buf *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

const char *cli_connack_text(int protocol, int reason)
{
    /* MQTT 3.1.1 CONNACK return codes [MQTT-3.2.2.3] */
    static const char *const v3[] = {
        "Connection Accepted",
        "Connection Refused: unacceptable protocol version",
        "Connection Refused: identifier rejected",
        "Connection Refused: server unavailable",
        "Connection Refused: bad user name or password",
        "Connection Refused: not authorised",
    };
    const char *name;

    if (protocol != LMQ_MQTT_AUTO && protocol < LMQ_MQTT_5)
        return reason >= 0 && reason < 6 ? v3[reason] : "Connection Refused: unknown reason";
    name = lmq_reason_name(2, reason);
    return name ? name : "unknown reason";
}

/* ------------------------------------------------------------- properties */

enum { PK_INT, PK_STR, PK_BIN, PK_PAIR };

#define M(p) (1u << (p))
static const struct cli_prop {
    const char *name;
    int id;
    int kind;
    unsigned packets;
} cli_props[] = {
    { "payload-format-indicator", 0x01, PK_INT, M(CLI_PK_PUBLISH) | M(CLI_PK_WILL) },
    { "message-expiry-interval", 0x02, PK_INT, M(CLI_PK_PUBLISH) | M(CLI_PK_WILL) },
    { "content-type", 0x03, PK_STR, M(CLI_PK_PUBLISH) | M(CLI_PK_WILL) },
    { "response-topic", 0x08, PK_STR, M(CLI_PK_PUBLISH) | M(CLI_PK_WILL) },
    { "correlation-data", 0x09, PK_BIN, M(CLI_PK_PUBLISH) | M(CLI_PK_WILL) },
    { "subscription-identifier", 0x0B, PK_INT, M(CLI_PK_SUBSCRIBE) },
    { "session-expiry-interval", 0x11, PK_INT, M(CLI_PK_CONNECT) | M(CLI_PK_DISCONNECT) },
    { "authentication-method", 0x15, PK_STR, M(CLI_PK_CONNECT) },
    { "authentication-data", 0x16, PK_BIN, M(CLI_PK_CONNECT) },
    { "request-problem-information", 0x17, PK_INT, M(CLI_PK_CONNECT) },
    { "will-delay-interval", 0x18, PK_INT, M(CLI_PK_WILL) },
    { "request-response-information", 0x19, PK_INT, M(CLI_PK_CONNECT) },
    { "reason-string", 0x1F, PK_STR, M(CLI_PK_DISCONNECT) },
    { "receive-maximum", 0x21, PK_INT, M(CLI_PK_CONNECT) },
    { "topic-alias-maximum", 0x22, PK_INT, M(CLI_PK_CONNECT) },
    { "topic-alias", 0x23, PK_INT, M(CLI_PK_PUBLISH) },
    { "user-property", 0x26, PK_PAIR, 0x3Fu },
    { "maximum-packet-size", 0x27, PK_INT, M(CLI_PK_CONNECT) },
};
#undef M

static const char *const cli_packet_names[CLI_PK_COUNT] = {
    "connect", "publish", "subscribe", "unsubscribe", "disconnect", "will",
};

/* CONNECT properties that have a client option: the option sets them, so
 * the CONNECT carries each once. */
static int connect_option(cli_conn *o, int id, int64_t v, const char *s)
{
    switch (id) {
    case 0x11: o->session_expiry = v; return 1;
    case 0x15: o->auth_method = s; return 1;
    case 0x16: o->auth_data = s; return 1;
    case 0x17: o->req_problem = v; return 1;
    case 0x19: o->req_response = v; return 1;
    case 0x21: o->receive_maximum = v; return 1;
    case 0x22: o->topic_alias_max = v; return 1;
    case 0x27: o->max_packet_size = v; return 1;
    default: return 0;
    }
}

/* -D PACKET NAME VALUE [VALUE] */
static int parse_property(cli_conn *o, int argc, char **argv, int *i)
{
    const struct cli_prop *p = NULL;
    int pk = -1, rc;
    int64_t v = 0;

    if (*i + 3 >= argc) {
        cli_err(o, "-D needs a packet, a property name and a value");
        return -1;
    }
    for (int k = 0; k < CLI_PK_COUNT; k++)
        if (!strcmp(argv[*i + 1], cli_packet_names[k]))
            pk = k;
    if (pk < 0) {
        cli_err(o, "-D: unknown packet '%s'", argv[*i + 1]);
        return -1;
    }
    for (size_t k = 0; k < sizeof cli_props / sizeof cli_props[0]; k++)
        if (!strcmp(argv[*i + 2], cli_props[k].name))
            p = &cli_props[k];
    if (!p) {
        cli_err(o, "-D: unknown property '%s'", argv[*i + 2]);
        return -1;
    }
    if (!(p->packets & (1u << pk))) {
        cli_err(o, "-D: %s is not allowed in %s", p->name, argv[*i + 1]);
        return -1;
    }
    const char *val = argv[*i + 3];
    o->nprops++;
    if (p->kind == PK_PAIR) {
        if (*i + 4 >= argc) {
            cli_err(o, "-D: user-property needs a name and a value");
            return -1;
        }
        rc = lmq_proplist_add_user(o->props[pk], val, -1, argv[*i + 4], -1);
        *i += 4;
    } else if (p->kind == PK_INT) {
        if (cli_parse_int(val, 0, 4294967295LL, &v) < 0) {
            cli_err(o, "-D: %s needs a number, not '%s'", p->name, val);
            return -1;
        }
        *i += 3;
        if (pk == CLI_PK_CONNECT && connect_option(o, p->id, v, NULL))
            return 0;
        rc = lmq_proplist_add_int(o->props[pk], p->id, v);
    } else {
        *i += 3;
        if (pk == CLI_PK_CONNECT && connect_option(o, p->id, 0, val))
            return 0;
        rc = lmq_proplist_add_str(o->props[pk], p->id, val, -1);
    }
    if (rc < 0) {
        cli_err(o, "-D %s %s: %s", cli_packet_names[pk], p->name, lmq_strerror(rc));
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------ flags */

void cli_conn_init(cli_conn *o, const char *prog)
{
    memset(o, 0, sizeof *o);
    o->prog = prog;
    o->keepalive = 60;
    o->clean = 1;
    o->session_expiry = -1;
    o->protocol = LMQ_MQTT_AUTO;
    o->receive_maximum = o->max_packet_size = o->topic_alias_max = -1;
    o->req_problem = o->req_response = -1;
    for (int k = 0; k < CLI_PK_COUNT; k++)
        o->props[k] = lmq_proplist_new();
}

void cli_conn_free(cli_conn *o)
{
    for (int k = 0; k < CLI_PK_COUNT; k++)
        lmq_proplist_free(o->props[k]);
    free(o->url_copy);
    o->url_copy = NULL;
}

static int parse_version(cli_conn *o, const char *v)
{
    if (!strcmp(v, "31") || !strcmp(v, "mqttv31"))
        o->protocol = LMQ_MQTT_31;
    else if (!strcmp(v, "311") || !strcmp(v, "mqttv311"))
        o->protocol = LMQ_MQTT_311;
    else if (!strcmp(v, "5") || !strcmp(v, "mqttv5"))
        o->protocol = LMQ_MQTT_5;
    else if (!strcmp(v, "auto"))
        o->protocol = LMQ_MQTT_AUTO;
    else {
        cli_err(o, "-V: unknown protocol version '%s' (31, 311, 5 or auto)", v);
        return -1;
    }
    return 0;
}

/* -L URL: what lmq_client_set_url takes (mqtt, mqtts, ws, wss, unix),
 * except that, as with mosquitto, an mqtt:// or mqtts:// path is the
 * topic: it is cut off here.  Checked now on a scratch client, so a bad
 * URL is a usage error; applied before the other flags, which override. */
static int parse_url(cli_conn *o, const char *url)
{
    lmq_client *scratch;
    char *s;
    int rc;

    free(o->url_copy);
    o->url_copy = s = strdup(url);
    if (!s)
        return -1;
    if (!strncasecmp(s, "mqtt://", 7) || !strncasecmp(s, "mqtts://", 8)) {
        char *slash = strchr(strstr(s, "://") + 3, '/');
        if (slash) {
            *slash = '\0';
            if (slash[1])
                o->url_topic = slash + 1;
        }
    }
    scratch = lmq_client_new();
    if (!scratch)
        return -1;
    rc = lmq_client_set_url(scratch, s, -1);
    if (rc < 0)
        cli_err(o, "-L %s: %s", url, lmq_client_errmsg(scratch)[0]
                ? lmq_client_errmsg(scratch) : lmq_strerror(rc));
    lmq_client_free(scratch);
    o->url = s;
    return rc < 0 ? -1 : 0;
}

/* --proxy: checked now (a typo is a usage error, exit 2), set later. */
static int parse_proxy(cli_conn *o, const char *url)
{
    lmq_client *scratch = lmq_client_new();
    int rc;

    if (!scratch)
        return -1;
    rc = lmq_client_set_str(scratch, LMQ_OPT_PROXY, url, -1);
    if (rc < 0)
        cli_err(o, "--proxy %s: %s", url, lmq_client_errmsg(scratch)[0]
                ? lmq_client_errmsg(scratch) : lmq_strerror(rc));
    lmq_client_free(scratch);
    o->proxy = url;
    return rc < 0 ? -1 : 0;
}

/* --cafile and the others; 1 taken, 0 not one, -1 bad */
static int tls_flag(cli_conn *o, int argc, char **argv, int *i)
{
    static const char *const names[] = {
        "--cafile", "--capath", "--cert", "--key", "--keypass", "--alpn", "--tls-alpn",
        "--ciphers", "--psk", "--psk-identity", "--tls-version", NULL,
    };
    const char **dst[] = {
        &o->cafile, &o->capath, &o->cert, &o->key, &o->keypass, &o->alpn, &o->alpn,
        &o->ciphers, &o->psk, &o->psk_identity,
    };
    const char *f = argv[*i], *v;
    int k;

    if (!strcmp(f, "--insecure")) {
        o->insecure = o->tls = 1;
        return 1;
    }
    if (!strcmp(f, "--tls-use-os-certs")) {
        o->tls = 1;             /* no CA given: the library uses the system's */
        return 1;
    }
    for (k = 0; names[k] && strcmp(f, names[k]); k++)
        ;
    if (!names[k])
        return 0;
    if (!(v = cli_value(o->prog, argc, argv, i)))
        return -1;
    o->tls = 1;
    if (names[k + 1]) {
        *dst[k] = v;
        return 1;
    }
    /* --tls-version: the lowest version accepted */
    if (!strcmp(v, "tlsv1.2") || !strcmp(v, "1.2"))
        o->tls_min_version = 12;
    else if (!strcmp(v, "tlsv1.3") || !strcmp(v, "1.3"))
        o->tls_min_version = 13;
    else {
        cli_err(o, "--tls-version: '%s' is not tlsv1.2 or tlsv1.3", v);
        return -1;
    }
    return 1;
}

/* Flags taking a number: where it goes and its range. */
static int int_flag(cli_conn *o, const char *f, const char *v)
{
    int64_t n;

    if (!strcmp(f, "-p")) {
        if (cli_parse_int(v, 1, 65535, &n) < 0)
            goto bad;
        o->port = (int)n;
    } else if (!strcmp(f, "-k")) {
        if (cli_parse_int(v, 0, 65535, &n) < 0)
            goto bad;
        o->keepalive = (int)n;
    } else if (!strcmp(f, "-x")) {
        if (!strcmp(v, "-1") || !strcmp(v, "\xe2\x88\x9e"))   /* "∞" */
            n = 4294967295LL;
        else if (cli_parse_int(v, 0, 4294967295LL, &n) < 0)
            goto bad;
        o->session_expiry = n;
    } else if (!strcmp(f, "--will-qos")) {
        if (cli_parse_int(v, 0, 2, &n) < 0)
            goto bad;
        o->will_qos = (int)n;
    } else {
        return 0;
    }
    return 1;
bad:
    cli_err(o, "%s: '%s' is out of range or not a number", f, v);
    return -1;
}

int cli_conn_flag(cli_conn *o, int argc, char **argv, int *i)
{
    static const char *const num_flags[] = { "-p", "-k", "-x", "--will-qos", NULL };
    const char *f = argv[*i];
    const char *v;

    if (!strcmp(f, "-c")) { o->clean = 0; return 1; }
    if (!strcmp(f, "-d") || !strcmp(f, "--debug")) { o->debug = 1; return 1; }
    if (!strcmp(f, "--quiet")) { o->quiet = 1; return 1; }
    if (!strcmp(f, "--nodelay")) { o->nodelay = 1; return 1; }
    if (!strcmp(f, "--will-retain")) { o->will_retain = 1; return 1; }
    int rc = tls_flag(o, argc, argv, i);
    if (rc)
        return rc;
    if (!strcmp(f, "-D"))
        return parse_property(o, argc, argv, i) < 0 ? -1 : 1;
    for (int k = 0; num_flags[k]; k++)
        if (!strcmp(f, num_flags[k])) {
            if (!(v = cli_value(o->prog, argc, argv, i)))
                return -1;
            return int_flag(o, f, v);
        }

    const char **dst = NULL;
    if (!strcmp(f, "-h") || !strcmp(f, "--host")) dst = &o->host;
    else if (!strcmp(f, "--unix")) dst = &o->unix_path;
    else if (!strcmp(f, "-A")) dst = &o->bind_address;
    else if (!strcmp(f, "--proxy")) {
        if (!(v = cli_value(o->prog, argc, argv, i)))
            return -1;
        return parse_proxy(o, v) < 0 ? -1 : 1;
    }
    else if (!strcmp(f, "-i") || !strcmp(f, "--id")) dst = &o->id;
    else if (!strcmp(f, "-I") || !strcmp(f, "--id-prefix")) dst = &o->id_prefix;
    else if (!strcmp(f, "--state-dir")) dst = &o->state_dir;
    else if (!strcmp(f, "-u") || !strcmp(f, "--username")) dst = &o->username;
    else if (!strcmp(f, "-P") || !strcmp(f, "--pw")) dst = &o->password;
    else if (!strcmp(f, "--will-topic")) dst = &o->will_topic;
    else if (!strcmp(f, "--will-payload")) dst = &o->will_payload;
    else if (!strcmp(f, "-L") || !strcmp(f, "--url") || !strcmp(f, "-V") ||
             !strcmp(f, "--protocol-version")) {
        if (!(v = cli_value(o->prog, argc, argv, i)))
            return -1;
        if (f[1] == 'L' || !strcmp(f, "--url"))
            return parse_url(o, v) < 0 ? -1 : 1;
        return parse_version(o, v) < 0 ? -1 : 1;
    }
    if (!dst)
        return 0;
    if (!(v = cli_value(o->prog, argc, argv, i)))
        return -1;
    *dst = v;
    return 1;
}

int cli_conn_check(cli_conn *o)
{
    if (!o->cert != !o->key) {
        cli_err(o, "--cert and --key go together");
        return -1;
    }
    if (!o->psk != !o->psk_identity) {
        cli_err(o, "--psk and --psk-identity go together");
        return -1;
    }
    if (o->unix_path && o->proxy) {
        cli_err(o, "--unix and --proxy exclude each other");
        return -1;
    }
    if (o->unix_path && o->tls) {
        cli_err(o, "--unix and TLS exclude each other");
        return -1;
    }
    if (o->id && o->id_prefix) {
        cli_err(o, "-i and -I cannot be used together");
        return -1;
    }
    if (!o->clean && !o->id && !o->id_prefix) {
        cli_err(o, "-c needs a client id (-i or -I)");
        return -1;
    }
    /* the state file is found by client id: -I changes it every run */
    if (o->state_dir && (o->clean || !o->id)) {
        cli_err(o, "--state-dir needs a persistent session (-c) and a client id (-i)");
        return -1;
    }
    /* auto (the default) tries MQTT 5 and falls back to 3.1.1 only on a
     * 3.1.1 server's refusal; a flag that only MQTT 5 can carry pins 5,
     * so nothing asked for is dropped by a fallback. */
    if (o->protocol == LMQ_MQTT_AUTO &&
        (o->nprops || o->session_expiry >= 0 || o->receive_maximum >= 0 ||
         o->max_packet_size >= 0 || o->topic_alias_max >= 0 || o->req_problem >= 0 ||
         o->req_response >= 0 || o->auth_method || (o->password && !o->username)))
        o->protocol = LMQ_MQTT_5;
    if (o->protocol != LMQ_MQTT_5 && o->nprops) {
        cli_err(o, "-D (properties) needs MQTT 5 (-V 5)");
        return -1;
    }
    if (o->protocol != LMQ_MQTT_5 && o->session_expiry >= 0) {
        cli_err(o, "-x (session expiry) needs MQTT 5 (-V 5)");
        return -1;
    }
    if (!o->will_topic && (o->will_payload || o->will_qos || o->will_retain)) {
        cli_err(o, "--will-payload, --will-qos and --will-retain need --will-topic");
        return -1;
    }
    if (o->will_topic && lmq_topic_validate_name(o->will_topic, -1) < 0) {
        cli_err(o, "--will-topic '%s': %s", o->will_topic,
                lmq_strerror(lmq_topic_validate_name(o->will_topic, -1)));
        return -1;
    }
    if (o->password && !o->username && o->protocol != LMQ_MQTT_5) {
        cli_err(o, "-P needs -u with MQTT 3.1.1 and 3.1");
        return -1;
    }
    /* mosquitto's rule: -c alone keeps the session for ever (MQTT 5) */
    if (!o->clean && o->session_expiry < 0 &&
        (o->protocol == LMQ_MQTT_5 || o->protocol == LMQ_MQTT_AUTO))
        o->session_expiry = 4294967295LL;
    return 0;
}

static int set_int(const cli_conn *o, lmq_client *c, int opt, int64_t v, const char *what)
{
    int rc = lmq_client_set_int(c, opt, v);

    if (rc < 0)
        cli_err(o, "%s: %s", what, lmq_client_errmsg(c)[0] ? lmq_client_errmsg(c) : lmq_strerror(rc));
    return rc < 0 ? -1 : 0;
}

static int set_str(const cli_conn *o, lmq_client *c, int opt, const char *v, const char *what)
{
    int rc;

    if (!v)
        return 0;
    rc = lmq_client_set_str(c, opt, v, -1);
    if (rc < 0)
        cli_err(o, "%s: %s", what, lmq_client_errmsg(c)[0] ? lmq_client_errmsg(c) : lmq_strerror(rc));
    return rc < 0 ? -1 : 0;
}

/* Without -p or -L, TLS goes to 8883 as with mosquitto: the engine's
 * default port follows the transport. */
static int apply_tls(const cli_conn *o, lmq_client *c)
{
    if (set_int(o, c, LMQ_OPT_TLS, 1, "TLS") < 0 ||
        set_str(o, c, LMQ_OPT_TLS_CA_FILE, o->cafile, "--cafile") < 0 ||
        set_str(o, c, LMQ_OPT_TLS_CA_PATH, o->capath, "--capath") < 0 ||
        set_str(o, c, LMQ_OPT_TLS_CERT_FILE, o->cert, "--cert") < 0 ||
        set_str(o, c, LMQ_OPT_TLS_KEY_FILE, o->key, "--key") < 0 ||
        set_str(o, c, LMQ_OPT_TLS_KEY_PASSWORD, o->keypass, "--keypass") < 0 ||
        set_str(o, c, LMQ_OPT_TLS_ALPN, o->alpn, "--alpn") < 0 ||
        set_str(o, c, LMQ_OPT_TLS_CIPHERS, o->ciphers, "--ciphers") < 0 ||
        set_str(o, c, LMQ_OPT_TLS_PSK, o->psk, "--psk") < 0 ||
        set_str(o, c, LMQ_OPT_TLS_PSK_IDENTITY, o->psk_identity, "--psk-identity") < 0)
        return -1;
    if (o->insecure && set_int(o, c, LMQ_OPT_TLS_INSECURE, 1, "--insecure") < 0)
        return -1;
    if (o->tls_min_version &&
        set_int(o, c, LMQ_OPT_TLS_MIN_VERSION, o->tls_min_version, "--tls-version") < 0)
        return -1;
    return 0;
}

int cli_conn_apply(const cli_conn *o, lmq_client *c, const char *default_id)
{
    char id[128];

    if (o->id_prefix)
        snprintf(id, sizeof id, "%s%ld", o->id_prefix, (long)getpid());
    else
        snprintf(id, sizeof id, "%s", o->id ? o->id : default_id);
    if (o->url && lmq_client_set_url(c, o->url, -1) < 0) {
        cli_err(o, "-L: %s", lmq_client_errmsg(c));
        return -1;
    }
    if (set_str(o, c, LMQ_OPT_HOST, o->host, "-h") < 0 ||
        (o->port && set_int(o, c, LMQ_OPT_PORT, o->port, "-p") < 0) ||
        set_str(o, c, LMQ_OPT_UNIX_PATH, o->unix_path, "--unix") < 0 ||
        set_str(o, c, LMQ_OPT_BIND_ADDRESS, o->bind_address, "-A") < 0 ||
        set_str(o, c, LMQ_OPT_PROXY, o->proxy, "--proxy") < 0 ||
        set_int(o, c, LMQ_OPT_PROTOCOL, o->protocol, "-V") < 0 ||
        set_str(o, c, LMQ_OPT_CLIENT_ID, id, "-i") < 0 ||
        set_str(o, c, LMQ_OPT_USERNAME, o->username, "-u") < 0 ||
        set_str(o, c, LMQ_OPT_PASSWORD, o->password, "-P") < 0 ||
        set_int(o, c, LMQ_OPT_KEEPALIVE, o->keepalive, "-k") < 0 ||
        set_int(o, c, LMQ_OPT_CLEAN_START, o->clean, "-c") < 0 ||
        set_str(o, c, LMQ_OPT_STATE_DIR, o->state_dir, "--state-dir") < 0)
        return -1;
    if (o->session_expiry >= 0 &&
        set_int(o, c, LMQ_OPT_SESSION_EXPIRY, o->session_expiry, "-x") < 0)
        return -1;
    if ((o->receive_maximum >= 0 &&
         set_int(o, c, LMQ_OPT_RECEIVE_MAXIMUM, o->receive_maximum, "receive-maximum") < 0) ||
        (o->max_packet_size >= 0 &&
         set_int(o, c, LMQ_OPT_MAXIMUM_PACKET_SIZE, o->max_packet_size, "maximum-packet-size") < 0) ||
        (o->topic_alias_max >= 0 &&
         set_int(o, c, LMQ_OPT_TOPIC_ALIAS_MAXIMUM, o->topic_alias_max, "topic-alias-maximum") < 0) ||
        (o->req_problem >= 0 &&
         set_int(o, c, LMQ_OPT_REQUEST_PROBLEM_INFO, o->req_problem, "request-problem-information") < 0) ||
        (o->req_response >= 0 &&
         set_int(o, c, LMQ_OPT_REQUEST_RESPONSE_INFO, o->req_response, "request-response-information") < 0) ||
        set_str(o, c, LMQ_OPT_AUTH_METHOD, o->auth_method, "authentication-method") < 0 ||
        set_str(o, c, LMQ_OPT_AUTH_DATA, o->auth_data, "authentication-data") < 0)
        return -1;
    if (o->will_topic) {
        const char *p = o->will_payload ? o->will_payload : "";
        if (set_str(o, c, LMQ_OPT_WILL_TOPIC, o->will_topic, "--will-topic") < 0 ||
            set_str(o, c, LMQ_OPT_WILL_PAYLOAD, p, "--will-payload") < 0 ||
            set_int(o, c, LMQ_OPT_WILL_QOS, o->will_qos, "--will-qos") < 0 ||
            set_int(o, c, LMQ_OPT_WILL_RETAIN, o->will_retain, "--will-retain") < 0)
            return -1;
    }
    if (o->protocol == LMQ_MQTT_5) {
        if (lmq_client_set_props(c, LMQ_PROPS_CONNECT, o->props[CLI_PK_CONNECT]) < 0 ||
            lmq_client_set_props(c, LMQ_PROPS_WILL, o->props[CLI_PK_WILL]) < 0) {
            cli_err(o, "-D: %s", lmq_client_errmsg(c));
            return -1;
        }
    }
    if (o->tls && apply_tls(o, c) < 0)
        return -1;
    if (o->debug)
        return set_int(o, c, LMQ_OPT_LOG_LEVEL, LMQ_LOG_DEBUG, "-d");
    return 0;
}
