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

# Every enum of lunamq.h, generated from it (scripts/gen_py_consts): the
# IntEnums (Option, EventType, Error, ...) and the header's names
# (LMQ_OPT_HOST, ...).
from ._consts import *  # noqa: E402,F401,F403
from ._consts import Error, EventType  # noqa: E402

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

class Backlog(ctypes.Structure):
    """struct lmq_backlog (lmq_client_backlog): what is not complete."""
    _fields_ = [
        ("struct_size", ctypes.c_uint32),
        ("unwritten_msgs", c_int32),
        ("inflight_msgs", c_int32),
        ("incomplete_msgs", c_int32),
        ("undelivered", c_int32),
        ("requests", c_int32),
        ("unwritten_bytes", c_int64),
        ("stray_acks", c_int64),
    ]


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
    "lmq_client_pause_delivery": (c_int, [c_void_p, c_int32]),
    "lmq_client_auth": (c_int, [c_void_p, c_int32, c_void_p]),
    "lmq_client_load_plugin": (c_int, [c_void_p, c_char_p, c_char_p]),
    "lmq_client_disconnect": (c_int, [c_void_p, c_int32, c_void_p]),
    "lmq_client_backlog": (c_int, [c_void_p, POINTER(Backlog), c_int32]),
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
