"""ctypes declarations mirroring core/include/lunamq.h.

Only what the Python package uses is declared.  tests/python/test_ffi.py
checks these against the header (enum values, function arity) and against
a C program compiled with the header (struct sizes and field offsets), so
a change in lunamq.h that is not mirrored here fails a test instead of
corrupting memory.

The library is found, in this order, at:
  1. $LUNAMQ_LIBRARY (a path to liblunamq.so),
  2. next to this package (lunamq/liblunamq.so*, for a bundled copy),
  3. the system path (ctypes.util.find_library("lunamq"), liblunamq.so.0).
"""
from __future__ import annotations

import ctypes
import ctypes.util
import glob
import os
import struct
import threading

c_int = ctypes.c_int
c_int32 = ctypes.c_int32
c_int64 = ctypes.c_int64
c_char_p = ctypes.c_char_p
c_void_p = ctypes.c_void_p
POINTER = ctypes.POINTER

# The library major version this package speaks (lmq_version_number() //
# 1000000 must match).
ABI_MAJOR = 0

# ------------------------------------------------------------------ enums

# enum lmq_protocol
LMQ_MQTT_31 = 3
LMQ_MQTT_311 = 4
LMQ_MQTT_5 = 5
LMQ_MQTT_AUTO = 0

# enum lmq_option
OPTIONS = {
    "LMQ_OPT_HOST": 1,
    "LMQ_OPT_PORT": 2,
    "LMQ_OPT_UNIX_PATH": 3,
    "LMQ_OPT_BIND_ADDRESS": 4,
    "LMQ_OPT_TCP_NODELAY": 5,
    "LMQ_OPT_CONNECT_TIMEOUT_MS": 6,
    "LMQ_OPT_PROTOCOL": 20,
    "LMQ_OPT_CLIENT_ID": 21,
    "LMQ_OPT_USERNAME": 22,
    "LMQ_OPT_PASSWORD": 23,
    "LMQ_OPT_KEEPALIVE": 24,
    "LMQ_OPT_CLEAN_START": 25,
    "LMQ_OPT_SESSION_EXPIRY": 26,
    "LMQ_OPT_RECEIVE_MAXIMUM": 27,
    "LMQ_OPT_MAXIMUM_PACKET_SIZE": 28,
    "LMQ_OPT_TOPIC_ALIAS_MAXIMUM": 29,
    "LMQ_OPT_REQUEST_RESPONSE_INFO": 30,
    "LMQ_OPT_REQUEST_PROBLEM_INFO": 31,
    "LMQ_OPT_AUTH_METHOD": 32,
    "LMQ_OPT_AUTH_DATA": 33,
    "LMQ_OPT_WILL_TOPIC": 40,
    "LMQ_OPT_WILL_PAYLOAD": 41,
    "LMQ_OPT_WILL_QOS": 42,
    "LMQ_OPT_WILL_RETAIN": 43,
    "LMQ_OPT_RECONNECT": 60,
    "LMQ_OPT_RECONNECT_MIN_MS": 61,
    "LMQ_OPT_RECONNECT_MAX_MS": 62,
    "LMQ_OPT_RECONNECT_FIRST": 63,
    "LMQ_OPT_OFFLINE_MAX_MSGS": 64,
    "LMQ_OPT_OFFLINE_MAX_BYTES": 65,
    "LMQ_OPT_OFFLINE_POLICY": 66,
    "LMQ_OPT_MANUAL_ACK": 67,
    "LMQ_OPT_AUTO_RESUBSCRIBE": 68,
    "LMQ_OPT_TOPIC_ALIAS_OUT": 69,
    "LMQ_OPT_FOLLOW_REDIRECT": 70,
    "LMQ_OPT_LOG_LEVEL": 71,
    "LMQ_OPT_STRICT_RECEIVE_MAX": 72,
    "LMQ_OPT_RECONNECT_TAKEN_OVER": 76,
    "LMQ_OPT_URL": 80,
    "LMQ_OPT_TLS": 81,
    "LMQ_OPT_TLS_CA_FILE": 82,
    "LMQ_OPT_TLS_CA_PATH": 83,
    "LMQ_OPT_TLS_CERT_FILE": 84,
    "LMQ_OPT_TLS_KEY_FILE": 85,
    "LMQ_OPT_TLS_KEY_PASSWORD": 86,
    "LMQ_OPT_TLS_ALPN": 87,
    "LMQ_OPT_TLS_CIPHERS": 88,
    "LMQ_OPT_TLS_PSK_IDENTITY": 89,
    "LMQ_OPT_TLS_PSK": 90,
    "LMQ_OPT_TLS_INSECURE": 91,
    "LMQ_OPT_TLS_NO_VERIFY": 92,
    "LMQ_OPT_TLS_SERVER_NAME": 93,
    "LMQ_OPT_TLS_MIN_VERSION": 94,
    "LMQ_OPT_WEBSOCKET": 100,
    "LMQ_OPT_WS_PATH": 101,
    "LMQ_OPT_WS_HEADERS": 102,
    "LMQ_OPT_STATE_DIR": 110,
    "LMQ_OPT_DURABILITY": 111,
}
globals().update(OPTIONS)

# enum lmq_queue_policy, lmq_log_level, lmq_props_target, lmq_want
OTHER_ENUMS = {
    "LMQ_QUEUE_REFUSE": 0,
    "LMQ_QUEUE_DROP_OLDEST": 1,
    "LMQ_LOG_ERROR": 1,
    "LMQ_LOG_WARNING": 2,
    "LMQ_LOG_INFO": 3,
    "LMQ_LOG_DEBUG": 4,
    "LMQ_PROPS_CONNECT": 1,
    "LMQ_PROPS_WILL": 2,
    "LMQ_WANT_READ": 1,
    "LMQ_WANT_WRITE": 2,
    "LMQ_MQTT_31": 3,
    "LMQ_MQTT_311": 4,
    "LMQ_MQTT_5": 5,
    "LMQ_MQTT_AUTO": 0,
}
globals().update(OTHER_ENUMS)

# enum lmq_event_type
EVENT_TYPES = {
    "LMQ_EV_CONNECTED": 1,
    "LMQ_EV_CONNECT_FAILED": 2,
    "LMQ_EV_DISCONNECTED": 3,
    "LMQ_EV_MESSAGE": 4,
    "LMQ_EV_PUBLISHED": 5,
    "LMQ_EV_SUBSCRIBED": 6,
    "LMQ_EV_UNSUBSCRIBED": 7,
    "LMQ_EV_AUTH": 8,
    "LMQ_EV_LOG": 9,
    "LMQ_EV_FD_CHANGED": 10,
    "LMQ_EV_ERROR": 11,
}
globals().update(EVENT_TYPES)

# enum lmq_error: the codes the package branches on (the rest are named at
# run time by lmq_errname / lmq_strerror).
ERRORS = {
    "LMQ_OK": 0,
    "LMQ_EINVAL": -1,
    "LMQ_ENOMEM": -2,
    "LMQ_ESTATE": -4,
    "LMQ_EVERSION": -5,
    "LMQ_ETOOBIG": -6,
    "LMQ_EUTF8": -10,
    "LMQ_EUTF8_NUL": -11,
    "LMQ_ETOPIC_EMPTY": -12,
    "LMQ_ETOPIC_WILDCARD": -13,
    "LMQ_EFILTER_HASH": -14,
    "LMQ_EFILTER_PLUS": -15,
    "LMQ_ESHARE": -16,
    "LMQ_ETOPIC_LONG": -17,
    "LMQ_ECLOSED": -100,
    "LMQ_ETIMEOUT": -101,
    "LMQ_EKEEPALIVE": -102,
    "LMQ_ERESOLVE": -103,
    "LMQ_ECONNECT": -104,
    "LMQ_EIO": -105,
    "LMQ_EREFUSED": -106,
    "LMQ_EPROTOCOL": -107,
    "LMQ_EQUEUE_FULL": -110,
    "LMQ_EDROPPED": -111,
    "LMQ_EQOS_NOT_SUPPORTED": -112,
    "LMQ_ERETAIN_NOT_SUPPORTED": -113,
    "LMQ_ESERVER_MAX_SIZE": -114,
    "LMQ_ENOT_CONNECTED": -116,
    "LMQ_ESESSION_LOST": -117,
    "LMQ_EDISCONNECTED": -118,
    "LMQ_EREJECTED": -119,
    "LMQ_ETLS": -130,
    "LMQ_ETLS_UNKNOWN_CA": -131,
    "LMQ_ETLS_HOSTNAME": -132,
    "LMQ_ETLS_EXPIRED": -133,
    "LMQ_ETLS_CONFIG": -134,
    "LMQ_EHANDSHAKE_TIMEOUT": -135,
    "LMQ_EWS_UPGRADE": -136,
    "LMQ_EWS": -137,
    "LMQ_EURL": -138,
    "LMQ_ESTORE_IO": -150,
    "LMQ_ESTORE_CORRUPT": -151,
    "LMQ_ESTORE_CLIENT_ID": -152,
    "LMQ_ESTORE_VERSION": -153,
    "LMQ_EPLUGIN_LOAD": -170,
    "LMQ_EPLUGIN_ABI": -171,
    "LMQ_EPLUGIN_SYMBOL": -172,
    "LMQ_EPLUGIN_INIT": -173,
    "LMQ_EPLUGIN_DROP": -174,
    "LMQ_EPLUGIN_NOLOOP": -175,
    "LMQ_EPLUGIN_REFUSED": -176,
}
globals().update(ERRORS)

# ---------------------------------------------------------------- structs


class Subscription(ctypes.Structure):
    """struct lmq_subscription"""
    _fields_ = [
        ("filter", c_char_p),
        ("filter_len", c_int32),
        ("options", c_int32),
    ]


class Event(ctypes.Structure):
    """struct lmq_event: every pointer is borrowed until the next pull.

    The fields are the header's, in its order (test_ffi.py compares them
    with the generated cdef and the C compiler's offsets).  The struct
    only grows at the end: lmq_client_events is told ctypes.sizeof(Event)
    and never writes past it."""
    _fields_ = [
        ("struct_size", ctypes.c_uint32),
        ("type", c_int32),
        ("error", c_int32),
        ("reason", c_int32),
        ("msg_id", c_int32),
        ("packet_id", c_int32),
        ("qos", c_int32),
        ("retain", c_int32),
        ("dup", c_int32),
        ("session_present", c_int32),
        ("ack_id", c_int32),
        ("log_level", c_int32),
        ("topic_len", c_int32),
        ("payload_len", c_int32),
        ("n_reasons", c_int32),
        ("props_len", c_int32),
        ("topic", c_void_p),
        ("payload", c_void_p),
        ("reasons", c_void_p),
        ("props", c_void_p),
        ("text", c_void_p),
    ]


EVENT_SIZE = ctypes.sizeof(Event)

# The same layout as a struct format, derived from the fields above, to
# unpack a whole batch of events in one call rather than field by field
# ('@': native sizes and alignment, which is what the C compiler uses).
EVENT_FIELDS = tuple(name for name, _ in Event._fields_)
_FORMAT_CHAR = {ctypes.c_uint32: "I", c_int32: "i", c_void_p: "P"}
EVENT_FORMAT = "@" + "".join(_FORMAT_CHAR[t] for _, t in Event._fields_)
EVENT_STRUCT = struct.Struct(EVENT_FORMAT)
# Unpacking in bulk needs the format to cover the whole stride.
EVENT_BULK_OK = EVENT_STRUCT.size == EVENT_SIZE
# Where each field is in an unpacked row: EV["topic"] and the E_* names.
EV = {name: i for i, name in enumerate(EVENT_FIELDS)}
(E_STRUCT_SIZE, E_TYPE, E_ERROR, E_REASON, E_MSG_ID, E_PACKET_ID, E_QOS, E_RETAIN, E_DUP,
 E_SESSION_PRESENT, E_ACK_ID, E_LOG_LEVEL, E_TOPIC_LEN, E_PAYLOAD_LEN, E_N_REASONS,
 E_PROPS_LEN, E_TOPIC, E_PAYLOAD, E_REASONS, E_PROPS, E_TEXT) = range(len(EVENT_FIELDS))

# ------------------------------------------------------------- functions

# name: (restype, argtypes)
FUNCTIONS = {
    "lmq_version": (c_char_p, []),
    "lmq_version_number": (c_int, []),
    "lmq_strerror": (c_char_p, [c_int]),
    "lmq_errname": (c_char_p, [c_int]),
    "lmq_reason_name": (c_char_p, [c_int, c_int]),
    "lmq_topic_validate_name": (c_int, [c_char_p, c_int32]),
    "lmq_topic_validate_filter": (c_int, [c_char_p, c_int32]),
    "lmq_topic_matches": (c_int, [c_char_p, c_int32, c_char_p, c_int32]),
    "lmq_proplist_new": (c_void_p, []),
    "lmq_proplist_free": (None, [c_void_p]),
    "lmq_proplist_clear": (None, [c_void_p]),
    "lmq_proplist_add_int": (c_int, [c_void_p, c_int, c_int64]),
    "lmq_proplist_add_str": (c_int, [c_void_p, c_int, c_char_p, c_int32]),
    "lmq_proplist_add_user": (c_int, [c_void_p, c_char_p, c_int32, c_char_p, c_int32]),
    "lmq_client_new": (c_void_p, []),
    "lmq_client_free": (None, [c_void_p]),
    "lmq_client_set_int": (c_int, [c_void_p, c_int, c_int64]),
    "lmq_client_set_str": (c_int, [c_void_p, c_int, c_char_p, c_int32]),
    "lmq_client_set_props": (c_int, [c_void_p, c_int, c_void_p]),
    "lmq_client_set_url": (c_int, [c_void_p, c_char_p, c_int32]),
    "lmq_client_errmsg": (c_char_p, [c_void_p]),
    "lmq_client_publish": (c_int, [c_void_p, c_char_p, c_int32, c_char_p, c_int32,
                                   c_int32, c_int32, c_void_p]),
    "lmq_client_subscribe": (c_int, [c_void_p, POINTER(Subscription), c_int32, c_void_p]),
    "lmq_client_unsubscribe": (c_int, [c_void_p, POINTER(c_char_p), POINTER(c_int32),
                                       c_int32, c_void_p]),
    "lmq_client_ack": (c_int, [c_void_p, c_int32, c_int32]),
    "lmq_client_auth": (c_int, [c_void_p, c_int32, c_void_p]),
    "lmq_client_load_plugin": (c_int, [c_void_p, c_char_p, c_char_p]),
    "lmq_client_disconnect": (c_int, [c_void_p, c_int32, c_void_p]),
    "lmq_client_events": (c_int, [c_void_p, POINTER(Event), c_int32, c_int32]),
    "lmq_event_prop_int": (c_int, [POINTER(Event), c_int, c_int32, POINTER(c_int64)]),
    "lmq_event_prop_str": (c_int, [POINTER(Event), c_int, POINTER(c_void_p),
                                   POINTER(c_int32)]),
    "lmq_client_connect": (c_int, [c_void_p]),
    "lmq_client_fd": (c_int, [c_void_p]),
    "lmq_client_want": (c_int, [c_void_p]),
    "lmq_client_timeout_ms": (c_int64, [c_void_p]),
    "lmq_client_on_readable": (c_int, [c_void_p]),
    "lmq_client_on_writable": (c_int, [c_void_p]),
    "lmq_client_on_timeout": (c_int, [c_void_p]),
}


class LibraryNotFound(ImportError):
    """liblunamq could not be loaded; the message lists every place tried."""


def _candidates():
    env = os.environ.get("LUNAMQ_LIBRARY")
    if env:
        # An explicit choice is the only one tried: falling back to some
        # other copy would hide a typo.
        return [env], True
    here = os.path.dirname(os.path.abspath(__file__))
    found = sorted(glob.glob(os.path.join(here, "liblunamq.so*")))
    found += sorted(glob.glob(os.path.join(here, "liblunamq*.dylib")))
    sys_name = ctypes.util.find_library("lunamq")
    if sys_name:
        found.append(sys_name)
    found += ["liblunamq.so.0", "liblunamq.so"]
    return found, False


def _declare(lib):
    for name, (restype, argtypes) in FUNCTIONS.items():
        fn = getattr(lib, name)
        fn.restype = restype
        fn.argtypes = argtypes


def _load():
    names, explicit = _candidates()
    errors = []
    for name in names:
        try:
            lib = ctypes.CDLL(name)
        except OSError as e:
            errors.append("%s: %s" % (name, e))
            continue
        try:
            _declare(lib)
        except AttributeError as e:
            errors.append("%s: not a usable liblunamq (%s)" % (name, e))
            continue
        major = lib.lmq_version_number() // 1000000
        if major != ABI_MAJOR:
            errors.append("%s: version %s, this package needs %d.x"
                          % (name, lib.lmq_version().decode(), ABI_MAJOR))
            continue
        return lib
    how = ("LUNAMQ_LIBRARY is set" if explicit else
           "set LUNAMQ_LIBRARY to the path of liblunamq.so, put the library "
           "next to the lunamq package, or install it on the system path")
    raise LibraryNotFound("cannot load liblunamq (%s):\n  %s" % (how, "\n  ".join(errors)))


_lib = None
_lock = threading.Lock()


def lib():
    """The loaded library (loaded on first use, so that `import lunamq`
    works without it and the error comes where it is needed)."""
    global _lib
    if _lib is None:
        with _lock:
            if _lib is None:
                _lib = _load()
    return _lib
