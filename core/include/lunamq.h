/*
 * lunamq.h - the public API of lunamq, an MQTT 3.1 / 3.1.1 / 5.0 client engine.
 *
 * Rules this header keeps so that any FFI (LuaJIT ffi.cdef, Python ctypes)
 * can read it:
 *   - every symbol starts with lmq_ / LMQ_;
 *   - handles are opaque and passed by pointer;
 *   - fixed-width integers only, strings as (const char *, int32_t len);
 *     a negative len means "NUL-terminated, measure it";
 *   - functions return int: 0 or a positive count on success, a negative
 *     LMQ_E* code on failure (lmq_strerror names it);
 *   - nothing here needs a macro to be called.
 *
 * The build also writes lunamq_cdef.h: this file run through the C
 * preprocessor with LMQ_CDEF defined, which is what ffi.cdef reads.
 */
#ifndef LUNAMQ_H
#define LUNAMQ_H

#ifdef LMQ_CDEF
#define LMQ_API
#else
#include <stdint.h>

#if defined(LMQ_BUILDING) && defined(__GNUC__)
#define LMQ_API __attribute__((visibility("default")))
#else
#define LMQ_API
#endif

#define LMQ_VERSION_MAJOR 0
#define LMQ_VERSION_MINOR 1
#define LMQ_VERSION_PATCH 0
#define LMQ_VERSION_STRING "0.1.0"
/* MAJOR * 1000000 + MINOR * 1000 + PATCH, comparable with lmq_version_number() */
#define LMQ_VERSION_NUMBER 1000

#ifdef __cplusplus
extern "C" {
#endif
#endif /* LMQ_CDEF */

/* ---------------------------------------------------------------- version */

/* The library's version as "MAJOR.MINOR.PATCH"; static text. */
LMQ_API const char *lmq_version(void);
/* The library's version as MAJOR * 1000000 + MINOR * 1000 + PATCH. */
LMQ_API int lmq_version_number(void);

/* ----------------------------------------------------------------- errors */

/*
 * Error codes.  Append only: a value is never renumbered or reused.
 * "Need more bytes" and "would block" are not errors and have no code.
 */
enum lmq_error {
    LMQ_OK = 0,

    /* general */
    LMQ_EINVAL = -1,          /* invalid argument */
    LMQ_ENOMEM = -2,          /* out of memory */
    LMQ_EBUFSIZE = -3,        /* buffer too small */
    LMQ_ESTATE = -4,          /* operation not valid in the current state */
    LMQ_EVERSION = -5,        /* unsupported MQTT protocol version */
    LMQ_ETOOBIG = -6,         /* value or packet too large for MQTT */

    /* strings and topics */
    LMQ_EUTF8 = -10,          /* invalid UTF-8 */
    LMQ_EUTF8_NUL = -11,      /* U+0000 in a string */
    LMQ_ETOPIC_EMPTY = -12,   /* empty topic name or filter */
    LMQ_ETOPIC_WILDCARD = -13,/* '+' or '#' in a topic name */
    LMQ_EFILTER_HASH = -14,   /* '#' not last or not a whole level */
    LMQ_EFILTER_PLUS = -15,   /* '+' not a whole level */
    LMQ_ESHARE = -16,         /* malformed $share/group/filter */
    LMQ_ETOPIC_LONG = -17,    /* longer than 65535 bytes */

    /* malformed or forbidden input from the peer: framing */
    LMQ_EMAL_VARINT = -30,
    LMQ_EMAL_VARINT_LONG = -31,
    LMQ_EMAL_TYPE = -32,
    LMQ_EMAL_FLAGS = -33,
    LMQ_EMAL_DIRECTION = -34,
    LMQ_EMAL_TOO_LARGE = -35,
    LMQ_EMAL_SHORT = -36,
    LMQ_EMAL_TRAILING = -37,

    /* malformed or forbidden input from the peer: fields */
    LMQ_EMAL_STRLEN = -40,
    LMQ_EMAL_QOS = -41,
    LMQ_EMAL_DUP = -42,
    LMQ_EMAL_PACKET_ID = -43,
    LMQ_EMAL_REASON = -44,
    LMQ_EMAL_ACK_FLAGS = -45,
    LMQ_EMAL_EMPTY = -46,
    LMQ_EMAL_PROTO_NAME = -47,
    LMQ_EMAL_CONN_FLAGS = -48,
    LMQ_EMAL_SUB_OPTS = -49,
    LMQ_EMAL_SESSION = -50,

    /* malformed or forbidden input from the peer: MQTT 5 properties */
    LMQ_EMAL_PROP_LEN = -60,
    LMQ_EMAL_PROP_ID = -61,
    LMQ_EMAL_PROP_PACKET = -62,
    LMQ_EMAL_PROP_TWICE = -63,
    LMQ_EMAL_PROP_VALUE = -64,

    /* the client: connections and the server's behaviour */
    LMQ_ECLOSED = -100,
    LMQ_ETIMEOUT = -101,
    LMQ_EKEEPALIVE = -102,
    LMQ_ERESOLVE = -103,
    LMQ_ECONNECT = -104,
    LMQ_EIO = -105,
    LMQ_EREFUSED = -106,
    LMQ_EPROTOCOL = -107,
    LMQ_EUNKNOWN_ID = -108,
    LMQ_EALIAS = -109,
    LMQ_EQUEUE_FULL = -110,
    LMQ_EDROPPED = -111,
    LMQ_EQOS_NOT_SUPPORTED = -112,
    LMQ_ERETAIN_NOT_SUPPORTED = -113,
    LMQ_ESERVER_MAX_SIZE = -114,
    LMQ_ERECEIVE_MAX = -115,
    LMQ_ENOT_CONNECTED = -116,
    LMQ_ESESSION_LOST = -117,
    LMQ_EDISCONNECTED = -118,
    LMQ_EREJECTED = -119,
    LMQ_ESUB_ID_NOT_SUPPORTED = -120, /* a Subscription Identifier, the server has none */
    LMQ_ENOT_MQTT5 = -121,    /* a v5 CONNECT got the 3.1.1 refusal "unacceptable
                                 protocol version" (CONNACK 20 02 00 01) */
    LMQ_ETAKEN_OVER = -122,   /* DISCONNECT 0x8E: another client took the session
                                 over; no reconnect unless LMQ_OPT_RECONNECT_TAKEN_OVER */
    LMQ_ECLIENT_ID = -123,    /* the client id breaks the protocol level's rule
                                 (3.1: 1 to 23 characters), refused before connecting */
    LMQ_EUNDELIVERED = -125,  /* our disconnect left accepted messages undelivered */

    /* secure and web transports, connection URLs */
    LMQ_ETLS = -130,          /* TLS failed (the text carries wolfSSL's reason) */
    LMQ_ETLS_UNKNOWN_CA = -131, /* server certificate not signed by a trusted CA */
    LMQ_ETLS_HOSTNAME = -132, /* server certificate does not name the host */
    LMQ_ETLS_EXPIRED = -133,  /* a certificate expired or is not yet valid */
    LMQ_ETLS_CONFIG = -134,   /* TLS settings unusable (CA, cert, key, ciphers) */
    LMQ_EHANDSHAKE_TIMEOUT = -135, /* TLS or WebSocket handshake timed out */
    LMQ_EWS_UPGRADE = -136,   /* the HTTP upgrade to WebSocket was refused */
    LMQ_EWS = -137,           /* WebSocket protocol error or close */
    LMQ_EURL = -138,          /* malformed connection URL */

    /* durable sessions (LMQ_OPT_STATE_DIR) */
    LMQ_ESTORE_IO = -150,     /* the state file could not be read, written or synced */
    LMQ_ESTORE_CORRUPT = -151,/* the state file is damaged (not a torn tail: that is dropped) */
    LMQ_ESTORE_CLIENT_ID = -152, /* the state file belongs to another client id */
    LMQ_ESTORE_VERSION = -153,/* the state file has a format version this library cannot read */

    /* C plugins (lunamq_plugin.h) */
    LMQ_EPLUGIN_LOAD = -170,  /* dlopen failed (the text names the file and why) */
    LMQ_EPLUGIN_ABI = -171,   /* the plugin's ABI major is not the engine's */
    LMQ_EPLUGIN_SYMBOL = -172,/* no lmq_plugin_entry symbol in the file */
    LMQ_EPLUGIN_INIT = -173,  /* the plugin's init refused (its reason in the text) */
    LMQ_EPLUGIN_DROP = -174,  /* a plugin's publish hook dropped the message */
    LMQ_EPLUGIN_NOLOOP = -175,/* plugin fd watch: no libev loop of the engine's here */
    LMQ_EPLUGIN_REFUSED = -176,/* a plugin's connect hook abandoned the attempt */

    /* proxies (LMQ_OPT_PROXY); the text names the proxy and its answer */
    LMQ_EPROXY_UNREACHABLE = -180, /* no TCP connection to the proxy */
    LMQ_EPROXY_AUTH = -181,   /* credentials refused or missing (SOCKS5 method or
                                 RFC 1929 status, HTTP 407) */
    LMQ_EPROXY_DENIED = -182, /* the proxy's rules forbid the server (SOCKS5 reply 2,
                                 HTTP 403) */
    LMQ_EPROXY_TARGET = -183, /* the proxy could not reach the server (SOCKS5 replies
                                 3, 4, 5, 6; HTTP 502, 503, 504) */
    LMQ_EPROXY_REFUSED = -184,/* any other refusal (SOCKS5 replies 1, 7, 8; other
                                 HTTP statuses) */
    LMQ_EPROXY_PROTOCOL = -185 /* the proxy's answer is not SOCKS5 / HTTP */
};

/* Static text naming an error code ("unknown error" for a value not in the
 * list).  Never NULL; never freed. */
LMQ_API const char *lmq_strerror(int code);

/* The symbolic name of an error code ("LMQ_EINVAL"), or NULL if unknown. */
LMQ_API const char *lmq_errname(int code);

/* ---------------------------------------------------------- MQTT constants */

/* Protocol levels as they appear in CONNECT. */
enum lmq_protocol {
    LMQ_MQTT_31 = 3,
    LMQ_MQTT_311 = 4,
    LMQ_MQTT_5 = 5,
    /* Not a level: try MQTT 5; when the server answers with the 3.1.1
     * refusal "unacceptable protocol version" (LMQ_ENOT_MQTT5), connect
     * again at once with 3.1.1 and keep 3.1.1 for every reconnect of this
     * client (a log line says so). */
    LMQ_MQTT_AUTO = 0
};

/*
 * The name of an MQTT 5 reason code in a given packet type (1 CONNECT ..
 * 15 AUTH), e.g. "Not authorized"; reason 0x00 reads "Success", "Normal
 * disconnection" or "Granted QoS 0" depending on the packet.  Static text;
 * NULL when the code is not defined for that packet type.
 */
LMQ_API const char *lmq_reason_name(int packet_type, int reason);

/* ------------------------------------------------------------------ topics */

/*
 * Check a topic name (what PUBLISH carries): non-empty, valid UTF-8 without
 * U+0000, at most 65535 bytes, no '+' or '#'.  0 when valid, else the
 * LMQ_E* code of the first rule broken.
 */
LMQ_API int lmq_topic_validate_name(const char *topic, int32_t len);

/*
 * Check a topic filter (what SUBSCRIBE carries): as a name, except that '+'
 * must fill a whole level and '#' must fill the last level; a shared
 * subscription "$share/{group}/{filter}" needs a non-empty group without
 * '/', '+' or '#' and a valid filter.  0 when valid, else an LMQ_E* code.
 */
LMQ_API int lmq_topic_validate_filter(const char *filter, int32_t len);

/*
 * Does the topic name match the filter?  1 yes, 0 no, negative LMQ_E* when
 * either is invalid.  A filter starting with a wildcard does not match a
 * topic starting with '$' [MQTT-4.7.2-1].  A shared filter
 * "$share/group/f" matches as f does.
 */
LMQ_API int lmq_topic_matches(const char *filter, int32_t flen,
                              const char *topic, int32_t tlen);

/*
 * A topic trie: topic filters, each carrying any number of int32_t values
 * (handler ids, say), and for a topic name the values of every filter that
 * matches it, at a cost that follows the topic's levels, not the number
 * of filters.  It matches as lmq_topic_matches does: the '$' rule
 * [MQTT-4.7.2-1], and "$share/{group}/{filter}" as {filter}.
 *
 * One entry is (filter, value).  Adding an entry that is there changes
 * nothing; the same value under another filter is another entry ("a/b"
 * and "$share/g/a/b" are different filters).  Filters are copied.  Not
 * thread-safe: one writer at a time, and no match while one writes
 * (matches alone may run concurrently).
 */
typedef struct lmq_trie lmq_trie;

/* A new empty trie, NULL when out of memory.  Free with lmq_trie_free. */
LMQ_API lmq_trie *lmq_trie_new(void);
/* Frees the trie and its copies of the filters.  NULL is a no-op. */
LMQ_API void lmq_trie_free(lmq_trie *t);
/* Add (filter, value): 1 added, 0 it was there already, or a negative
 * code: the filter's (as lmq_topic_validate_filter), LMQ_EINVAL (t NULL),
 * LMQ_ENOMEM (then the trie is as it was). */
LMQ_API int lmq_trie_add(lmq_trie *t, const char *filter, int32_t len, int32_t value);
/* Take (filter, value) out: 1 removed, 0 it was not there, or a negative
 * code as lmq_trie_add. */
LMQ_API int lmq_trie_remove(lmq_trie *t, const char *filter, int32_t len, int32_t value);
/* The number of entries, or LMQ_EINVAL (t NULL). */
LMQ_API int lmq_trie_count(const lmq_trie *t);
/*
 * The values of the entries whose filter matches the topic name.  Returns
 * how many match and writes the first min(that, cap) of them to out[],
 * in ascending order when all fit.  A value under two matching filters
 * ("a/+" and "a/#") comes once per filter.  When the return exceeds cap,
 * out[] holds an unspecified cap of them: call again with an array of at
 * least that many (cap 0 and out NULL just count).  Negative: the topic's
 * code (as lmq_topic_validate_name), LMQ_EINVAL (t NULL, cap < 0, out
 * NULL with cap > 0).
 */
LMQ_API int lmq_trie_match(const lmq_trie *t, const char *topic, int32_t len,
                           int32_t *out, int32_t cap);

/* ------------------------------------------------------------- properties */

/* MQTT 5 property identifiers [MQTT-2.2.2.2], for lmq_proplist_add_* and
 * lmq_event_prop_*. */
enum lmq_property {
    LMQ_PROP_PAYLOAD_FORMAT = 0x01,
    LMQ_PROP_MESSAGE_EXPIRY = 0x02,
    LMQ_PROP_CONTENT_TYPE = 0x03,
    LMQ_PROP_RESPONSE_TOPIC = 0x08,
    LMQ_PROP_CORRELATION_DATA = 0x09,
    LMQ_PROP_SUBSCRIPTION_ID = 0x0B,
    LMQ_PROP_SESSION_EXPIRY = 0x11,
    LMQ_PROP_ASSIGNED_CLIENT_ID = 0x12,
    LMQ_PROP_SERVER_KEEP_ALIVE = 0x13,
    LMQ_PROP_AUTH_METHOD = 0x15,
    LMQ_PROP_AUTH_DATA = 0x16,
    LMQ_PROP_REQUEST_PROBLEM_INFO = 0x17,
    LMQ_PROP_WILL_DELAY = 0x18,
    LMQ_PROP_REQUEST_RESPONSE_INFO = 0x19,
    LMQ_PROP_RESPONSE_INFO = 0x1A,
    LMQ_PROP_SERVER_REFERENCE = 0x1C,
    LMQ_PROP_REASON_STRING = 0x1F,
    LMQ_PROP_RECEIVE_MAXIMUM = 0x21,
    LMQ_PROP_TOPIC_ALIAS_MAXIMUM = 0x22,
    LMQ_PROP_TOPIC_ALIAS = 0x23,
    LMQ_PROP_MAXIMUM_QOS = 0x24,
    LMQ_PROP_RETAIN_AVAILABLE = 0x25,
    LMQ_PROP_USER = 0x26,
    LMQ_PROP_MAXIMUM_PACKET_SIZE = 0x27,
    LMQ_PROP_WILDCARD_SUB_AVAILABLE = 0x28,
    LMQ_PROP_SUB_ID_AVAILABLE = 0x29,
    LMQ_PROP_SHARED_SUB_AVAILABLE = 0x2A
};


/*
 * A list of MQTT 5 properties to send (CONNECT, will, PUBLISH, SUBSCRIBE,
 * UNSUBSCRIBE, DISCONNECT, AUTH).  Build it, pass it to a call (which
 * copies what it needs), reuse or free it.  Property ids are the MQTT 5
 * identifiers (0x01 Payload Format Indicator .. 0x2A Shared Subscription
 * Available); a property not allowed in the packet it is used for is
 * refused by that call with LMQ_EINVAL.  Ignored at protocol levels 3 and 4.
 */
typedef struct lmq_proplist lmq_proplist;

/* A new empty list, or NULL when out of memory. */
LMQ_API lmq_proplist *lmq_proplist_new(void);
/* Frees the list and its copies of the values.  NULL is a no-op. */
LMQ_API void lmq_proplist_free(lmq_proplist *pl);
/* Empties the list to build another one in it.  NULL is a no-op. */
LMQ_API void lmq_proplist_clear(lmq_proplist *pl);
/* Integer-valued property (byte, two-byte, four-byte, varint kinds). */
LMQ_API int lmq_proplist_add_int(lmq_proplist *pl, int id, int64_t value);
/* String or binary property (UTF-8 ones are checked). */
LMQ_API int lmq_proplist_add_str(lmq_proplist *pl, int id, const char *s, int32_t len);
/* A User Property (0x26); may be added many times, order is kept. */
LMQ_API int lmq_proplist_add_user(lmq_proplist *pl, const char *key, int32_t klen,
                                  const char *val, int32_t vlen);

/* ------------------------------------------------------------------ client */

typedef struct lmq_client lmq_client;

/* Option keys for lmq_client_set_int / lmq_client_set_str.  Append only. */
enum lmq_option {
    /* where to connect */
    LMQ_OPT_HOST = 1,               /* str, default "localhost" */
    LMQ_OPT_PORT = 2,               /* int, default 1883 (8883 TLS, 80 ws, 443 wss) */
    LMQ_OPT_UNIX_PATH = 3,          /* str: connect to a Unix socket instead */
    LMQ_OPT_BIND_ADDRESS = 4,       /* str: local address to bind before connecting */
    LMQ_OPT_TCP_NODELAY = 5,        /* int 0/1, default 1 */
    LMQ_OPT_CONNECT_TIMEOUT_MS = 6, /* int, default 10000: TCP + CONNACK */

    /* CONNECT */
    LMQ_OPT_PROTOCOL = 20,          /* int 3, 4, 5 or 0 auto (enum lmq_protocol), default 5 */
    LMQ_OPT_CLIENT_ID = 21,         /* str; empty: the server assigns one (v5) */
    LMQ_OPT_USERNAME = 22,          /* str */
    LMQ_OPT_PASSWORD = 23,          /* str (binary allowed); never logged */
    LMQ_OPT_KEEPALIVE = 24,         /* int seconds, default 60, 0 disables */
    LMQ_OPT_CLEAN_START = 25,       /* int 0/1, default 1 (3.x: clean session) */
    LMQ_OPT_SESSION_EXPIRY = 26,    /* int seconds (v5), default 0 */
    LMQ_OPT_RECEIVE_MAXIMUM = 27,   /* int 1..65535 (v5), default 65535 */
    LMQ_OPT_MAXIMUM_PACKET_SIZE = 28,   /* int bytes, default 0 = no limit */
    LMQ_OPT_TOPIC_ALIAS_MAXIMUM = 29,   /* int (v5): aliases we accept, default 0 */
    LMQ_OPT_REQUEST_RESPONSE_INFO = 30, /* int 0/1 (v5) */
    LMQ_OPT_REQUEST_PROBLEM_INFO = 31,  /* int 0/1 (v5), default 1 */
    LMQ_OPT_AUTH_METHOD = 32,       /* str (v5): enhanced authentication */
    LMQ_OPT_AUTH_DATA = 33,         /* str, binary (v5); never logged */

    /* the will */
    LMQ_OPT_WILL_TOPIC = 40,        /* str; setting it enables the will */
    LMQ_OPT_WILL_PAYLOAD = 41,      /* str, binary */
    LMQ_OPT_WILL_QOS = 42,          /* int 0..2 */
    LMQ_OPT_WILL_RETAIN = 43,       /* int 0/1 */

    /* behaviour */
    LMQ_OPT_RECONNECT = 60,         /* int 0/1, default 1: reconnect when lost */
    LMQ_OPT_RECONNECT_MIN_MS = 61,  /* int, default 500 */
    LMQ_OPT_RECONNECT_MAX_MS = 62,  /* int, default 30000 */
    LMQ_OPT_RECONNECT_FIRST = 63,   /* int 0/1, default 0: retry a failed first connect */
    LMQ_OPT_OFFLINE_MAX_MSGS = 64,  /* int, default 10000: messages queued while offline */
    LMQ_OPT_OFFLINE_MAX_BYTES = 65, /* int, default 16 MiB */
    LMQ_OPT_OFFLINE_POLICY = 66,    /* int enum lmq_queue_policy, default LMQ_QUEUE_REFUSE */
    LMQ_OPT_MANUAL_ACK = 67,        /* int 0/1: the application acks QoS 1/2 messages */
    LMQ_OPT_AUTO_RESUBSCRIBE = 68,  /* int 0/1, default 1 */
    LMQ_OPT_TOPIC_ALIAS_OUT = 69,   /* int 0/1, default 1: assign outgoing aliases */
    /* 70 is reserved: it was LMQ_OPT_FOLLOW_REDIRECT, which was accepted
     * and never did anything; it is refused now (a Server Reference is
     * logged, and the application may connect there itself). */
    LMQ_OPT_LOG_LEVEL = 71,         /* int enum lmq_log_level, default LMQ_LOG_WARNING */
    /* int 0/1, default 0.  A server that sends more unacknowledged QoS 1/2
     * messages than our Receive Maximum is answered with DISCONNECT 0x93
     * when 1; when 0 the excess is accepted and a warning logged once per
     * connection (mosquitto 2.0.11 overshoots by one now and then). */
    LMQ_OPT_STRICT_RECEIVE_MAX = 72,
    /* int 0/1, default 0.  After the server's DISCONNECT 0x8E (Session
     * taken over: another connection with this client id) the client stops
     * with LMQ_ETAKEN_OVER instead of reconnecting, so two clients sharing
     * an id do not throw each other out for ever; 1 reconnects as after
     * any other loss. */
    LMQ_OPT_RECONNECT_TAKEN_OVER = 76,
    /* int ms, default 10000, 0: none.  How long lmq_client_disconnect
     * goes on delivering what was accepted (queued, unwritten, awaiting
     * acks) before its DISCONNECT goes; what is left is reported. */
    LMQ_OPT_DRAIN_TIMEOUT_MS = 73,
    /* int bytes, default 16 MiB, 0 = no bound: while delivery is paused
     * (lmq_client_pause_delivery), how much message data (topics,
     * payloads, properties) may be held before the socket stops being
     * read.  QoS 1/2 are bounded by the server's flow control already;
     * this bounds a QoS 0 flood. */
    LMQ_OPT_HOLD_MAX_BYTES = 74,

    /* connection URL: mqtt:// mqtts:// ws:// wss:// unix:///path, with
     * user:password@, host, :port and /path (see lmq_client_set_url) */
    LMQ_OPT_URL = 80,               /* str (write only) */

    /* TLS (wolfSSL).  Secure by default: the server's chain is verified
     * (against the CA options, else the system store) and its name
     * checked (DNS or IP SAN), TLS 1.2 minimum, on every (re)connect. */
    LMQ_OPT_TLS = 81,               /* int 0/1, default 0 (mqtts:// and wss:// set it) */
    LMQ_OPT_TLS_CA_FILE = 82,       /* str: PEM file of trusted CAs */
    LMQ_OPT_TLS_CA_PATH = 83,       /* str: directory of trusted CA files */
    LMQ_OPT_TLS_CERT_FILE = 84,     /* str: client certificate (PEM or DER) */
    LMQ_OPT_TLS_KEY_FILE = 85,      /* str: client key (PEM or DER) */
    LMQ_OPT_TLS_KEY_PASSWORD = 86,  /* str: passphrase of an encrypted key; never logged */
    LMQ_OPT_TLS_ALPN = 87,          /* str: comma-separated ALPN list ("mqtt", "x-amzn-mqtt-ca") */
    LMQ_OPT_TLS_CIPHERS = 88,       /* str: cipher list (OpenSSL names, ':'-separated) */
    LMQ_OPT_TLS_PSK_IDENTITY = 89,  /* str: PSK identity (PSK instead of certificates) */
    LMQ_OPT_TLS_PSK = 90,           /* str: the PSK in hex, as mosquitto takes it; never logged */
    LMQ_OPT_TLS_INSECURE = 91,      /* int 0/1: skip the host name check (chain still
                                       verified), a warning on each connect */
    LMQ_OPT_TLS_NO_VERIFY = 92,     /* int 0/1: skip ALL certificate verification
                                       (testing only), a warning on each connect */
    LMQ_OPT_TLS_SERVER_NAME = 93,   /* str: name for SNI and the check (default: the host) */
    LMQ_OPT_TLS_MIN_VERSION = 94,   /* int 12 or 13 (TLS 1.2 / 1.3), default 12 */

    /* MQTT over WebSocket (ws:// and wss://) */
    LMQ_OPT_WEBSOCKET = 100,        /* int 0/1, default 0 */
    LMQ_OPT_WS_PATH = 101,          /* str, default "/mqtt" */
    LMQ_OPT_WS_HEADERS = 102,       /* str: extra "Name: value" lines, '\n'-separated */

    /* a proxy in front of any TCP transport (plain, TLS, WebSocket): its
     * handshake runs on the raw socket before TLS or the upgrade.  A URL:
     * socks5://[user:pass@]host[:1080]  (the server's name resolved here),
     * socks5h://...  (the name resolved by the proxy),
     * http://[user:pass@]host[:8080]  (HTTP CONNECT; the proxy resolves).
     * Empty: no proxy (the default). */
    LMQ_OPT_PROXY = 105,            /* str (write only); the password is never logged */

    /* durable sessions: with a state directory, accepted QoS 1/2 messages,
     * their flow state and incoming QoS 2 ids survive a process restart
     * (even kill -9); one file per client id, which must be set */
    LMQ_OPT_STATE_DIR = 110,        /* str: directory of the state files; empty: none */
    LMQ_OPT_DURABILITY = 111        /* int enum lmq_durability, default LMQ_DURABILITY_FSYNC */
};

/* How hard the state file is pushed to disk (LMQ_OPT_DURABILITY).  Both
 * survive kill -9 (records are written before the bytes they announce);
 * only FSYNC survives a power loss or kernel crash. */
enum lmq_durability {
    LMQ_DURABILITY_FSYNC = 0,       /* fsync once per I/O batch (default) */
    LMQ_DURABILITY_OS = 1           /* trust the OS page cache: no fsync */
};

/* What a full offline queue does with a new message. */
enum lmq_queue_policy {
    LMQ_QUEUE_REFUSE = 0,           /* publish fails with LMQ_EQUEUE_FULL */
    LMQ_QUEUE_DROP_OLDEST = 1       /* the oldest is dropped (its completion says LMQ_EDROPPED) */
};

enum lmq_log_level {
    LMQ_LOG_ERROR = 1,
    LMQ_LOG_WARNING = 2,
    LMQ_LOG_INFO = 3,
    LMQ_LOG_DEBUG = 4
};

/* Which property list lmq_client_set_props sets. */
enum lmq_props_target {
    LMQ_PROPS_CONNECT = 1,
    LMQ_PROPS_WILL = 2
};

/* A new client, not connected.  Free with lmq_client_free. */
LMQ_API lmq_client *lmq_client_new(void);
/* Closes the connection (no DISCONNECT: call lmq_client_disconnect first for
 * a clean one), frees everything.  NULL is a no-op.
 * From inside an event callback it is deferred: c stays valid until the
 * callback returns, no further event is delivered, and the client is
 * freed when the call that ran the callback returns (lmq_client_publish,
 * lmq_client_on_readable & co); do not use c after that.  lmq_client_run
 * and lmq_client_connect_wait then return LMQ_ECLOSED.  In thread mode the
 * loop thread frees the client and ends itself (no join needed).  From
 * another thread in thread mode it stops and joins the loop thread first. */
LMQ_API void lmq_client_free(lmq_client *c);

/*
 * Set an integer option (enum lmq_option; the comment of each says its
 * range and default).  0, or LMQ_EINVAL with the reason in
 * lmq_client_errmsg: an unknown option, a string option, or a value out
 * of its range (nothing is changed then).  Options set while connected
 * apply from the next connection.
 */
LMQ_API int lmq_client_set_int(lmq_client *c, int option, int64_t value);
/* Set a string option (enum lmq_option), as lmq_client_set_int; len < 0:
 * NUL-terminated.  The string is copied. */
LMQ_API int lmq_client_set_str(lmq_client *c, int option, const char *s, int32_t len);
/* The list is copied; NULL clears. */
LMQ_API int lmq_client_set_props(lmq_client *c, int target, const lmq_proplist *pl);

/*
 * Set where and how to connect from one string (the same as
 * lmq_client_set_str(c, LMQ_OPT_URL, ...)):
 *   mqtt://[user[:password]@]host[:port]       TCP, port 1883
 *   mqtts://...                                TLS, port 8883
 *   ws://...[/path]   wss://...[/path]         WebSocket (over TLS), 80 / 443,
 *                                              path default "/mqtt"
 *   unix:///path/to/socket                     Unix domain socket
 * user and password may be %-escaped; an IPv6 host goes in brackets.
 * LMQ_EURL (with the reason in lmq_client_errmsg) when malformed, and then
 * nothing is changed.  The string is not kept.
 */
LMQ_API int lmq_client_set_url(lmq_client *c, const char *url, int32_t len);

/* The last detailed error message of this client ("" if none).  Borrowed:
 * valid until the next call on the client. */
LMQ_API const char *lmq_client_errmsg(const lmq_client *c);

/* Subscription options as the SUBSCRIBE carries them (MQTT 5 section
 * 3.8.3.1; levels 3 and 4 send the QoS bits only): the QoS (0..2) or'd
 * with the flags and one retain handling value. */
enum lmq_sub_option {
    LMQ_SUB_QOS_MASK = 0x03,            /* bits 0-1: the maximum QoS */
    LMQ_SUB_NO_LOCAL = 0x04,            /* not our own publications (v5) */
    LMQ_SUB_RETAIN_AS_PUBLISHED = 0x08, /* keep the retain flag as published (v5) */
    LMQ_SUB_RETAIN_HANDLING_MASK = 0x30,/* bits 4-5, one of: */
    LMQ_SUB_RETAIN_SEND = 0x00,         /*   retained messages at subscribe (default) */
    LMQ_SUB_RETAIN_SEND_NEW = 0x10,     /*   only when the subscription is new */
    LMQ_SUB_RETAIN_NONE = 0x20          /*   none */
};

/* One SUBSCRIBE entry: the filter and its options (enum lmq_sub_option). */
typedef struct lmq_subscription {
    const char *filter;
    int32_t filter_len;             /* < 0: NUL-terminated */
    int32_t options;
} lmq_subscription;

/*
 * Publish.  Returns a message id (> 0) that the LMQ_EV_PUBLISHED event
 * carries when the message is complete or failed; or a negative LMQ_E*
 * code when the arguments are refused (nothing is sent then).  Complete
 * means: QoS 0, the last byte of its PUBLISH went to the socket (or to the
 * transport's own buffer below TLS / WebSocket); QoS 1, PUBACK; QoS 2,
 * PUBCOMP.  topic and payload are copied.  A message waits in one bounded
 * queue (LMQ_OPT_OFFLINE_MAX_MSGS / _BYTES) while offline, while the
 * server's Receive Maximum holds it back, and while more than 64 KiB of
 * encoded output is still unwritten: a producer faster than the socket
 * meets LMQ_EQUEUE_FULL (or, better, keeps a window with
 * lmq_client_backlog).  A QoS 0 message not written whole when the
 * connection drops goes again on the next one.
 */
LMQ_API int lmq_client_publish(lmq_client *c, const char *topic, int32_t topic_len,
                               const void *payload, int32_t payload_len,
                               int32_t qos, int32_t retain, const lmq_proplist *props);

/* Subscribe to n filters in one SUBSCRIBE.  Returns a message id carried
 * by the LMQ_EV_SUBSCRIBED event (with one reason code per filter). */
LMQ_API int lmq_client_subscribe(lmq_client *c, const lmq_subscription *subs, int32_t n,
                                 const lmq_proplist *props);
/* Unsubscribe from n filters (filter_len < 0: NUL-terminated). */
LMQ_API int lmq_client_unsubscribe(lmq_client *c, const char *const *filters,
                                   const int32_t *filter_lens, int32_t n,
                                   const lmq_proplist *props);
/* Acknowledge a QoS 1/2 message received with LMQ_OPT_MANUAL_ACK, by the
 * ack_id its LMQ_EV_MESSAGE event carried; reason (v5) 0 or >= 0x80.
 * QoS 2 stays exactly-once across a reconnect that keeps the session: the
 * ack_id stays valid and the server's resend is not delivered again.  A
 * QoS 1 message not acked when the connection dropped is delivered again
 * (at-least-once) with a new ack_id; the old one then gives LMQ_ESTATE.
 * The ack goes when this is called, so the order of PUBACKs (PUBRECs) is
 * the order of the calls: MQTT wants them in the order the messages came
 * [MQTT-4.6.0-2] [MQTT-4.6.0-3], which is the application's to keep here
 * (automatic acks always keep it).
 * Options changed while connected (protocol, keepalive, manual ack, ...)
 * apply from the next connection. */
LMQ_API int lmq_client_ack(lmq_client *c, int32_t ack_id, int32_t reason);
/* Send AUTH (v5 enhanced authentication, or re-authentication). */
LMQ_API int lmq_client_auth(lmq_client *c, int32_t reason, const lmq_proplist *props);
/* Send DISCONNECT with a reason code and close; no reconnect follows.
 * Connected, it first delivers what was accepted (queued, unwritten, and
 * QoS 1/2 acks still to come) for up to LMQ_OPT_DRAIN_TIMEOUT_MS, refusing
 * new publishes (LMQ_ESTATE) meanwhile; then DISCONNECT goes.  If
 * messages are left undelivered (drain timed out, the link broke, or the
 * client was offline), an LMQ_EV_ERROR with LMQ_EUNDELIVERED comes before
 * the closing event, lmq_client_errmsg says how many, and
 * lmq_client_backlog still counts them (with a state directory they stay
 * in the file for the next run).  One closing event always follows a 0
 * return: LMQ_EV_DISCONNECTED (error 0 for our own disconnect, also
 * while waiting to reconnect) or LMQ_EV_CONNECT_FAILED when a connect
 * attempt was cut short. */
LMQ_API int lmq_client_disconnect(lmq_client *c, int32_t reason, const lmq_proplist *props);

/*
 * Pause (paused = 1) or resume (0) the delivery of application messages,
 * for an application whose own queue is full: unlike not reading the
 * socket, the connection goes on.  While paused every packet is still
 * read and handled (PUBACK, PUBREC, PUBCOMP, SUBACK, UNSUBACK, PINGRESP,
 * DISCONNECT...), so publishes complete and keepalive holds; only
 * LMQ_EV_MESSAGE events are kept back, in arrival order, and with them the
 * automatic PUBACK / PUBREC of QoS 1/2 messages, so the server's flow
 * control holds it back: an MQTT 5 server sends at most our Receive
 * Maximum (LMQ_OPT_RECEIVE_MAXIMUM) unacknowledged [MQTT-3.3.4-9], a 3.1.1
 * server its own inflight limit.  QoS 0 has no such window: once
 * LMQ_OPT_HOLD_MAX_BYTES of messages are held, the socket is not read any
 * more (a warning is logged; TCP's window then holds the server back, and
 * acks wait too) until delivery resumes.  Nothing is dropped.  Resuming
 * queues every held event at once, in order, and sends their acks then
 * [MQTT-4.6.0-2]; with manual ack nothing changes about acks, with a
 * durable store a held message is acked when pulled, as usual.  Messages
 * queued before the call stay queued.  Works with any driver and with
 * callbacks (held messages are not given to the callback).  Returns the
 * number of messages held when called (>= 0), or LMQ_EINVAL.  Any
 * thread; paused state survives reconnects; off for a new client.
 */
LMQ_API int lmq_client_pause_delivery(lmq_client *c, int32_t paused);

/*
 * What the client holds that is not complete, for callers that keep a
 * window (a producer that reads its input only as fast as the socket
 * takes it: lunamq pub -l does).  The struct grows as lmq_event does:
 * pass sizeof(lmq_backlog) as size; fields are only appended; struct_size
 * says how much the engine filled.
 */
typedef struct lmq_backlog {
    uint32_t struct_size;       /* bytes of this struct the engine filled */
    int32_t unwritten_msgs;     /* accepted, not yet written whole to the socket
                                   (queued: offline, behind flow control or the
                                   64 KiB of encoded output) */
    int32_t inflight_msgs;      /* QoS 1/2 written, PUBACK / PUBCOMP to come */
    int32_t incomplete_msgs;    /* unwritten + in flight: no LMQ_EV_PUBLISHED yet */
    int32_t undelivered;        /* left by the last disconnect (LMQ_EUNDELIVERED) */
    int32_t requests;           /* SUBSCRIBE / UNSUBSCRIBE not answered yet */
    int64_t unwritten_bytes;    /* encoded output not written + the topic and
                                   payload bytes of queued messages */
    int64_t stray_acks;         /* acks for packet ids not in flight, ignored */
} lmq_backlog;

/* Fill *out, up to size bytes (sizeof(lmq_backlog)).  0, or LMQ_EINVAL
 * (NULL, or size below 8). */
LMQ_API int lmq_client_backlog(lmq_client *c, lmq_backlog *out, int32_t size);

/* ------------------------------------------------------------------ events */

enum lmq_event_type {
    LMQ_EV_CONNECTED = 1,       /* CONNACK success: session_present, props */
    LMQ_EV_CONNECT_FAILED = 2,  /* error (+ reason when the server refused) */
    LMQ_EV_DISCONNECTED = 3,    /* error, reason (server DISCONNECT), props */
    LMQ_EV_MESSAGE = 4,         /* topic, payload, qos, retain, dup, packet_id, props, ack_id */
    LMQ_EV_PUBLISHED = 5,       /* msg_id, error (0 ok), reason, props */
    LMQ_EV_SUBSCRIBED = 6,      /* msg_id, reasons[n_reasons], props */
    LMQ_EV_UNSUBSCRIBED = 7,    /* msg_id, reasons[n_reasons] (v5), props */
    LMQ_EV_AUTH = 8,            /* reason, props (auth method / data) */
    LMQ_EV_LOG = 9,             /* log_level, text */
    LMQ_EV_FD_CHANGED = 10,     /* the socket changed (external driver) */
    LMQ_EV_ERROR = 11           /* error + text: something went wrong, the client carries on */
};

/*
 * One event.  Every pointer is borrowed from the client and stays valid
 * until the next lmq_client_events() call on it (or lmq_client_free).
 * Fields that do not apply to a type are 0 / NULL.
 *
 * The struct grows: fields are only ever appended, never moved, resized
 * or removed.  lmq_client_events() is told the size of the caller's
 * lmq_event and never writes past it; struct_size says how many bytes of
 * it the engine filled (the smaller of the caller's and the engine's
 * sizeof(lmq_event)), so code built against a newer header than the
 * library it runs on reads a field only when
 * struct_size >= offsetof(field) + sizeof(field); fields past it are 0.
 * Events given to a callback (lmq_event_fn, lmq_message_fn) are the
 * engine's own, with struct_size its sizeof(lmq_event).
 * Layout: the 32-bit fields first, then the pointers, so there are no
 * padding holes on 32- or 64-bit targets.
 */
typedef struct lmq_event {
    uint32_t struct_size;       /* bytes of this event the engine filled */
    int32_t type;               /* enum lmq_event_type */
    int32_t error;              /* 0 or an LMQ_E* code */
    int32_t reason;             /* MQTT reason / return code */
    int32_t msg_id;             /* our publish / subscribe / unsubscribe id */
    int32_t packet_id;          /* LMQ_EV_MESSAGE: the incoming PUBLISH's MQTT
                                   packet identifier, 0 for QoS 0 */
    int32_t qos;
    int32_t retain;
    int32_t dup;
    int32_t session_present;
    int32_t ack_id;             /* manual ack handle for LMQ_EV_MESSAGE, else 0 */
    int32_t log_level;          /* LMQ_EV_LOG: enum lmq_log_level */
    int32_t topic_len;
    int32_t payload_len;
    int32_t n_reasons;
    int32_t props_len;
    const char *topic;
    const void *payload;
    const uint8_t *reasons;     /* SUBACK / UNSUBACK reason codes */
    const uint8_t *props;       /* the raw MQTT 5 property block: read it with
                                   lmq_event_prop_int / _str / _user */
    const char *text;           /* detail for errors and logs, NUL-terminated */
} lmq_event;

/*
 * Pull up to max events into out[], an array of lmq_event whose element
 * size is event_size: pass sizeof(lmq_event) (ffi.sizeof("lmq_event"),
 * ctypes.sizeof(Event)).  Returns how many (0: none pending), or
 * LMQ_EINVAL when event_size is smaller than the first growable layout
 * (the one above, through `text`).  Each event is written up to
 * event_size bytes and no further; struct_size tells how much of it the
 * engine filled.  Pointers in earlier events become invalid.
 */
LMQ_API int lmq_client_events(lmq_client *c, lmq_event *out, int32_t max,
                              int32_t event_size);

/* An integer property of an event (first occurrence, or the index-th for the
 * repeatable Subscription Identifier): 1 found, 0 absent. */
LMQ_API int lmq_event_prop_int(const lmq_event *ev, int id, int32_t index, int64_t *value);
/* A string / binary property: 1 found (pointer borrowed like the event), 0 absent. */
LMQ_API int lmq_event_prop_str(const lmq_event *ev, int id, const char **s, int32_t *len);
/* The index-th User Property: 1 found, 0 past the end. */
LMQ_API int lmq_event_prop_user(const lmq_event *ev, int32_t index, const char **key,
                                int32_t *klen, const char **val, int32_t *vlen);

/* For C users: once set, every event goes to fn as it happens instead of
 * the pull queue; NULL goes back to pulling (also from inside fn: the
 * events fn has not seen yet stay queued for lmq_client_events).  `fin`,
 * when set, is called with userdata when the callback is replaced or the
 * client freed; when fn is replaced while it runs (by itself or by another
 * thread), only after it returns.  The event is borrowed for the duration
 * of the call.  fn runs without the client's
 * lock held, so it may take the application's own locks; in thread mode
 * (lmq_client_thread_start) it runs on the loop thread only, never on the
 * thread calling publish & co.  Not for LuaJIT or Python: pull instead. */
typedef void (*lmq_event_fn)(lmq_client *c, const lmq_event *ev, void *userdata);
typedef void (*lmq_finalizer_fn)(void *userdata);
LMQ_API int lmq_client_set_callback(lmq_client *c, lmq_event_fn fn, void *userdata,
                                    lmq_finalizer_fn fin);

/*
 * Load a C plugin (a shared object exporting lmq_plugin_entry, see
 * lunamq_plugin.h) and add it at the end of the client's plugin chain:
 * hooks run in load order, and a plugin that drops a message stops the
 * chain.  config is handed to the plugin's init (NULL: ""); not kept.
 * 0, or LMQ_EPLUGIN_LOAD / _SYMBOL / _ABI / _INIT with the file named in
 * lmq_client_errmsg.  Plugins are shut down and unloaded by
 * lmq_client_free, in reverse load order.  Load before connecting.
 */
LMQ_API int lmq_client_load_plugin(lmq_client *c, const char *path, const char *config);
/*
 * Tell the client's plugins about an event of the application's own (a
 * handler failed, a batch was dropped): the on_app_event hook of each
 * plugin that has one runs now, in load order, with name and value (a
 * metrics plugin sums the values per name).  name: 1-255 bytes of UTF-8
 * without U+0000 (len -1: NUL-terminated), which the plugins may read
 * during the call only.  0 (also with no plugin loaded), or LMQ_EINVAL for
 * a NULL client or name or a bad name.  Takes the client's lock, like the
 * other calls: any thread, never from inside a plugin hook.
 */
LMQ_API int lmq_client_plugin_event(lmq_client *c, const char *name, int32_t len,
                                    int64_t value);

/* ----------------------------------------------------------------- driving */

/*
 * External driver: drive a client from any loop (poll, epoll, asyncio, libuv)
 * without callbacks.  After lmq_client_connect() and after every call below,
 * ask for the fd, what it waits for and the time left to its next deadline,
 * and (re)arm the loop with them; the fd changes on reconnect (an
 * LMQ_EV_FD_CHANGED event says so).  Then pull events.
 */
enum lmq_want {
    LMQ_WANT_READ = 1,
    LMQ_WANT_WRITE = 2
};

/* Start connecting (non-blocking: resolution, TCP connect, CONNECT).  The
 * outcome is an LMQ_EV_CONNECTED or LMQ_EV_CONNECT_FAILED event. */
LMQ_API int lmq_client_connect(lmq_client *c);
/* The socket to watch, or -1 when there is none (waiting to reconnect). */
LMQ_API int lmq_client_fd(const lmq_client *c);
/* LMQ_WANT_READ | LMQ_WANT_WRITE bits for the fd. */
LMQ_API int lmq_client_want(const lmq_client *c);
/* Milliseconds until lmq_client_on_timeout() must be called; -1: no deadline. */
LMQ_API int64_t lmq_client_timeout_ms(const lmq_client *c);
/* The fd is readable / writable / the deadline passed.  0, or a negative
 * LMQ_E* code for a failure the call itself hit (events say the rest). */
LMQ_API int lmq_client_on_readable(lmq_client *c);
LMQ_API int lmq_client_on_writable(lmq_client *c);
LMQ_API int lmq_client_on_timeout(lmq_client *c);

/*
 * libev driver: a loop of the library's own, or the caller's struct ev_loop *
 * (passed as void * so this header needs no libev types).  Many clients may
 * share one loop.
 */
typedef struct lmq_loop lmq_loop;

/* A new libev loop of the library's own; NULL when out of memory. */
LMQ_API lmq_loop *lmq_loop_new(void);
/* The caller's struct ev_loop *, used as it is (lmq_loop_free frees the
 * wrapper, not the loop); NULL for a NULL ev_loop or out of memory. */
LMQ_API lmq_loop *lmq_loop_wrap(void *ev_loop);
/* Detaches nothing: free the clients on it first.  NULL is a no-op. */
LMQ_API void lmq_loop_free(lmq_loop *loop);
/* Drive c from this loop (before lmq_client_connect). */
LMQ_API int lmq_client_attach(lmq_client *c, lmq_loop *loop);
/* How long lmq_loop_run runs. */
enum lmq_run_mode {
    LMQ_RUN_DEFAULT = 0,            /* until lmq_loop_stop or nothing is left */
    LMQ_RUN_ONCE = 1,               /* one iteration, waiting for something */
    LMQ_RUN_NOWAIT = 2              /* one iteration without waiting */
};
/* Run the loop (mode: enum lmq_run_mode).  0, or LMQ_EINVAL for a NULL
 * loop or an unknown mode. */
LMQ_API int lmq_loop_run(lmq_loop *loop, int32_t mode);
/* Make lmq_loop_run return after the current iteration.  NULL is a no-op. */
LMQ_API void lmq_loop_stop(lmq_loop *loop);

/*
 * Blocking conveniences for simple C programs (the client gets a private
 * loop if it has none).
 */
/* Connect and wait for the outcome: 0 connected, or an LMQ_E* code. */
LMQ_API int lmq_client_connect_wait(lmq_client *c, int32_t timeout_ms);
/* Run the client's loop until the client stops (disconnected and no
 * reconnect pending: returns its error, 0 for a clean disconnect), a stop
 * is requested (lmq_client_run_stop, or lmq_loop_stop on the client's
 * loop, from the event callback or another thread: returns 0), or
 * timeout_ms passed (-1: no limit; returns 0). */
LMQ_API int lmq_client_run(lmq_client *c, int32_t timeout_ms);
/* Make the lmq_client_run / lmq_client_wait under way return now (from
 * the event callback, or from another thread).  0 or LMQ_EINVAL. */
LMQ_API int lmq_client_run_stop(lmq_client *c);
/*
 * Run the client's loop until the request msg_id (a publish, subscribe or
 * unsubscribe id) completes, then return at once (paho's
 * wait_for_publish): 0 when it succeeded, the error its event carries
 * (LMQ_EREJECTED, LMQ_EDROPPED...) when it failed, LMQ_ETIMEOUT when
 * timeout_ms passed or lmq_client_run_stop was called first (-1: no
 * limit; the request goes on), LMQ_ESTATE
 * when the client stopped first, LMQ_EINVAL for an id that is neither
 * pending nor among the last 64 completions.  The completion event is
 * still delivered (callback) or queued for lmq_client_events as usual.
 * Blocking convenience like lmq_client_run (not in thread mode).
 */
LMQ_API int lmq_client_wait(lmq_client *c, int32_t msg_id, int32_t timeout_ms);
/* Run the client's loop in a background thread (paho's loop_start); while
 * it runs, publish/subscribe/unsubscribe/disconnect may be called from any
 * thread.  Events go to the callback, on the loop thread only. */
LMQ_API int lmq_client_thread_start(lmq_client *c);
/* Stop the background thread and wait for it: 0, or LMQ_ESTATE when none
 * runs or when called from the loop thread itself. */
LMQ_API int lmq_client_thread_stop(lmq_client *c);

/* ---------------------------------------------------------------- one-shot */

/*
 * One call that connects, does one job, disconnects cleanly and says how it
 * went (paho's publish.single / publish.multiple / subscribe.callback).
 * url is what lmq_client_set_url takes (NULL: "mqtt://localhost"); each call
 * uses a private client with reconnect off, so a lost connection fails the
 * call.  timeout_ms bounds the connect and the job (< 0: none); the final
 * DISCONNECT gets up to one more second.  Topics and filters are checked
 * before connecting (LMQ_ETOPIC_WILDCARD for a wildcard in a topic name).
 * Errors: LMQ_EURL, LMQ_ECONNECT, LMQ_EREFUSED, LMQ_ETIMEOUT, LMQ_EREJECTED,
 * LMQ_EDISCONNECTED, ...
 */
typedef struct lmq_message_out {
    const char *topic;
    int32_t topic_len;              /* < 0: NUL-terminated */
    const void *payload;
    int32_t payload_len;
    int32_t qos;
    int32_t retain;
} lmq_message_out;

/* Publish one message: 0 once it completed (QoS 0 written, QoS 1 PUBACK,
 * QoS 2 PUBCOMP) and the client disconnected cleanly, else an LMQ_E* code. */
LMQ_API int lmq_publish_single(const char *url, const char *topic, int32_t topic_len,
                               const void *payload, int32_t payload_len, int32_t qos,
                               int32_t retain, int32_t timeout_ms);
/* Publish n messages over one connection: n once all completed, else the
 * first LMQ_E* code (earlier messages may have been delivered). */
LMQ_API int lmq_publish_multiple(const char *url, const lmq_message_out *msgs, int32_t n,
                                 int32_t timeout_ms);

/* Called for each message; non-zero stops.  msg is borrowed for the call. */
typedef int (*lmq_message_fn)(const lmq_event *msg, void *userdata);
/*
 * Subscribe to one filter and call fn for each LMQ_EV_MESSAGE until fn
 * returns non-zero, `count` messages were handled (count <= 0: no limit) or
 * timeout_ms passed (-1: none).  Returns how many messages fn was given;
 * LMQ_ETIMEOUT when the deadline came before `count` did (with no count the
 * deadline is the normal end); LMQ_EREJECTED when the SUBACK refused the
 * filter; else an LMQ_E* code.  For C users: LuaJIT and Python pull.
 */
LMQ_API int lmq_subscribe_callback(const char *url, const char *filter, int32_t filter_len,
                                   int32_t qos, lmq_message_fn fn, void *userdata,
                                   int32_t count, int32_t timeout_ms);

#ifndef LMQ_CDEF
#ifdef __cplusplus
}
#endif
#endif /* LMQ_CDEF */

#endif /* LUNAMQ_H */
