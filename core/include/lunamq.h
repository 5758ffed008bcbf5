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
    LMQ_EREJECTED = -119
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
    LMQ_MQTT_5 = 5
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

#ifndef LMQ_CDEF
#ifdef __cplusplus
}
#endif
#endif /* LMQ_CDEF */

#endif /* LUNAMQ_H */
