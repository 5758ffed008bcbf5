"""Types shared by the asyncio client and the sync helpers: errors, topics,
messages, the will, TLS parameters and MQTT 5 properties."""
from __future__ import annotations

import enum
import ssl
from dataclasses import dataclass
from typing import Any, Dict, Iterable, List, Optional, Tuple, Union

from . import _ffi

# ---------------------------------------------------------------- errors


class MqttError(Exception):
    """Base of every error this package raises about MQTT."""


# What aiomqtt (after paho-mqtt) says for a bare error number, so that
# `str(MqttCodeError(n))` reads the same as there.
_ERROR_STRINGS = {
    0: "No error.",
    1: "Out of memory.",
    2: "A network protocol error occurred when communicating with the broker.",
    3: "Invalid function arguments provided.",
    4: "The client is not currently connected.",
    5: "The connection was refused.",
    6: "Message not found (internal error).",
    7: "The connection was lost.",
    8: "A TLS error occurred.",
    9: "Payload too large.",
    10: "This feature is not supported.",
    11: "Authorisation failed.",
    12: "Access denied by ACL.",
    13: "Unknown error.",
    14: "Error defined by errno.",
    15: "Message queue full.",
    16: "Client or broker did not communicate in the keepalive interval.",
}

# MQTT 3.1.1 CONNACK return codes (section 3.2.2.3), aiomqtt's wording.
_CONNECT_RC_STRINGS = {
    1: "Incorrect protocol version",
    2: "Invalid client identifier",
    3: "Server unavailable",
    4: "Bad username or password",
    5: "Not authorised",
}


def _is_reason_code(rc) -> bool:
    # paho's ReasonCode, without importing paho: a value and a name.
    return hasattr(rc, "value") and hasattr(rc, "getName")


class MqttCodeError(MqttError):
    """An error with a code, built as aiomqtt's is: `MqttCodeError(rc,
    *args)`, rc an int, a paho ReasonCode or None.

    `rc` is what aiomqtt's carries: the MQTT reason code the server sent
    (a CONNACK / DISCONNECT / PUBACK / SUBACK reason >= 0x80, or the 3.1.1
    CONNACK return code) when there is one, else lunamq's error code
    (negative, LMQ_E*).  `code` is always lunamq's code (LMQ_E*, or None),
    `name` its name ("LMQ_EREFUSED"), `reason` the server's reason or None.
    str(): "[code:RC] text"."""

    def __init__(self, rc: Any = None, *args: Any, reason: Optional[int] = None,
                 code: Optional[int] = None):
        super().__init__(*args)
        if code is None and isinstance(rc, int) and rc < 0 and reason is None:
            code = rc
        self.rc = rc
        self.reason = reason
        self.code = code
        self.name = error_name(code) if code is not None and code < 0 else None

    def __str__(self) -> str:
        rc = self.rc
        if _is_reason_code(rc):
            return "[code:%d] %s" % (rc.value, rc)
        text = getattr(self, "_text", None)
        if text is None:
            if self.args:
                text = super().__str__()
            elif isinstance(rc, int) and not isinstance(rc, bool):
                text = _ERROR_STRINGS.get(rc, "Unknown error.")
            else:
                text = ""
        return "[code:%s] %s" % (rc, text)


class MqttInvalidArgument(MqttCodeError, ValueError):
    """The arguments were refused before anything was sent (a wildcard in
    a publish topic, QoS 3, a malformed filter...).  Also a ValueError."""


class MqttConnectError(MqttCodeError):
    """The connection could not be made, or the server refused it: then
    `rc` (and `reason`) is its CONNACK reason code (MQTT 5) or return code
    (3.1.1).  `MqttConnectError(rc)` alone reads as aiomqtt's does
    ("Connection refused: Not authorised")."""

    def __init__(self, rc: Any = None, *args: Any, reason: Optional[int] = None,
                 code: Optional[int] = None):
        if args or _is_reason_code(rc) or not isinstance(rc, int):
            super().__init__(rc, *args, reason=reason, code=code)
            return
        msg = "Connection refused"
        if rc in _CONNECT_RC_STRINGS:
            msg += ": " + _CONNECT_RC_STRINGS[rc]
        super().__init__(rc, msg, reason=reason, code=code)
        self._text = _ERROR_STRINGS.get(rc, "Unknown error.")


class MqttReentrantError(MqttError):
    """The client was entered twice (`async with` on a client in use)."""


def error_name(rc: int) -> str:
    n = _ffi.lib().lmq_errname(rc)
    return n.decode() if n else "LMQ_E%d" % -rc


def error_text(rc: int) -> str:
    return _ffi.lib().lmq_strerror(rc).decode()


def check(rc: int, handle=None, exc=None) -> int:
    """Raise for a negative return code (the client's detailed message
    when it has one); return rc otherwise."""
    if rc >= 0:
        return rc
    detail = ""
    if handle:
        m = _ffi.lib().lmq_client_errmsg(handle)
        detail = m.decode("utf-8", "replace") if m else ""
    text = error_text(rc) + (": " + detail if detail else "")
    if exc is None:
        exc = MqttInvalidArgument if _is_argument_error(rc) else MqttCodeError
    raise exc(rc, text)


# The codes that mean "the arguments were refused" (MqttInvalidArgument):
# the header's "general" and "strings and topics" groups, except out of
# memory and a wrong state, which are not about the arguments; and a
# malformed URL, which is.
ARGUMENT_ERRORS = frozenset(
    c for c, group in _ffi.ERROR_GROUP.items()
    if group in ("general", "strings and topics")
    and c not in (_ffi.Error.OK, _ffi.Error.ENOMEM, _ffi.Error.ESTATE)) | {_ffi.Error.EURL}


def _is_argument_error(rc: int) -> bool:
    return rc in ARGUMENT_ERRORS


# ---------------------------------------------------------------- topics


def _utf8(s: Union[str, bytes]) -> bytes:
    return s.encode("utf-8") if isinstance(s, str) else bytes(s)


class Wildcard:
    """A topic filter ("a/+/c", "a/#", "$share/g/a/+"), validated on creation."""

    __slots__ = ("value", "_b")

    def __init__(self, value: Union[str, "Wildcard"]):
        if isinstance(value, Wildcard):
            value = value.value
        if not isinstance(value, str):
            raise TypeError("a topic filter is a str, not %s" % type(value).__name__)
        b = value.encode("utf-8", "surrogatepass")
        rc = _ffi.lib().lmq_topic_validate_filter(b, len(b))
        if rc < 0:
            raise MqttInvalidArgument(rc, "Invalid wildcard: %r (%s)" % (value, error_text(rc)))
        self.value = value
        self._b = b

    def __str__(self) -> str:
        return self.value

    def __repr__(self) -> str:
        return "Wildcard(%r)" % self.value

    def __eq__(self, other) -> bool:
        return isinstance(other, Wildcard) and other.value == self.value

    def __hash__(self) -> int:
        return hash(("W", self.value))


class Topic:
    """A topic name (what PUBLISH carries: no wildcards), validated on creation."""

    __slots__ = ("value", "_b")

    def __init__(self, value: Union[str, "Topic"]):
        if isinstance(value, Topic):
            value = value.value
        if not isinstance(value, str):
            raise TypeError("a topic is a str, not %s" % type(value).__name__)
        b = value.encode("utf-8", "surrogatepass")
        rc = _ffi.lib().lmq_topic_validate_name(b, len(b))
        if rc < 0:
            raise MqttInvalidArgument(rc, "Invalid topic: %r (%s)" % (value, error_text(rc)))
        self.value = value
        self._b = b

    @classmethod
    def _trusted(cls, value: str, b: bytes) -> "Topic":
        # A topic the engine received and checked already.
        t = object.__new__(cls)
        t.value = value
        t._b = b
        return t

    def matches(self, wildcard: Union[str, Wildcard]) -> bool:
        """Does this topic match the filter (MQTT rules, $-topics not
        matched by a leading wildcard [MQTT-4.7.2-1])?"""
        w = wildcard._b if isinstance(wildcard, Wildcard) else Wildcard(wildcard)._b
        rc = _ffi.lib().lmq_topic_matches(w, len(w), self._b, len(self._b))
        if rc < 0:
            check(rc)
        return rc == 1

    def __str__(self) -> str:
        return self.value

    def __repr__(self) -> str:
        return "Topic(%r)" % self.value

    def __eq__(self, other) -> bool:
        if isinstance(other, Topic):
            return other.value == self.value
        return NotImplemented

    def __hash__(self) -> int:
        return hash(("T", self.value))


# ------------------------------------------------------------- properties

# MQTT 5 property identifiers (section 2.2.2.2), their value kind:
#   b byte, h two-byte int, i four-byte int, v variable byte int,
#   s UTF-8 string, d binary data, p UTF-8 string pair.
PROPERTIES = {
    0x01: ("payload_format_indicator", "b"),
    0x02: ("message_expiry_interval", "i"),
    0x03: ("content_type", "s"),
    0x08: ("response_topic", "s"),
    0x09: ("correlation_data", "d"),
    0x0B: ("subscription_identifier", "v"),
    0x11: ("session_expiry_interval", "i"),
    0x12: ("assigned_client_identifier", "s"),
    0x13: ("server_keep_alive", "h"),
    0x15: ("authentication_method", "s"),
    0x16: ("authentication_data", "d"),
    0x17: ("request_problem_information", "b"),
    0x18: ("will_delay_interval", "i"),
    0x19: ("request_response_information", "b"),
    0x1A: ("response_information", "s"),
    0x1C: ("server_reference", "s"),
    0x1F: ("reason_string", "s"),
    0x21: ("receive_maximum", "h"),
    0x22: ("topic_alias_maximum", "h"),
    0x23: ("topic_alias", "h"),
    0x24: ("maximum_qos", "b"),
    0x25: ("retain_available", "b"),
    0x26: ("user_property", "p"),
    0x27: ("maximum_packet_size", "i"),
    0x28: ("wildcard_subscription_available", "b"),
    0x29: ("subscription_identifier_available", "b"),
    0x2A: ("shared_subscription_available", "b"),
}
_BY_KEY = {}
for _id, (_name, _kind) in PROPERTIES.items():
    _BY_KEY[_name.replace("_", "")] = (_id, _name, _kind)
# paho's spellings ("MessageExpiryInterval", "UserProperty") also work.
_BY_KEY["subscriptionidentifier"] = (0x0B, "subscription_identifier", "v")


def _prop_key(name: str):
    k = _BY_KEY.get(name.replace("_", "").replace(" ", "").lower())
    if k is None:
        raise MqttInvalidArgument(_ffi.LMQ_EINVAL, "unknown MQTT 5 property %r" % name)
    return k


def _props_items(props) -> Iterable[Tuple[str, Any]]:
    """A dict, a paho-like object with attributes, or (name, value) pairs."""
    if props is None:
        return ()
    if isinstance(props, dict):
        return props.items()
    if hasattr(props, "__dict__") and not isinstance(props, (list, tuple)):
        return [(k, v) for k, v in vars(props).items() if not k.startswith("_")
                and k.replace("_", "").lower() in _BY_KEY]
    return props


class PropList:
    """An lmq_proplist built from Python values, freed with the object."""

    def __init__(self, props):
        L = _ffi.lib()
        self._lib = L
        self.ptr = L.lmq_proplist_new()
        if not self.ptr:
            raise MemoryError("lmq_proplist_new")
        try:
            for name, value in _props_items(props):
                self._add(name, value)
        except BaseException:
            self.close()
            raise

    def _add(self, name, value):
        pid, pname, kind = _prop_key(name)
        L = self._lib
        if kind == "p":
            pairs = [value] if isinstance(value, tuple) else value
            for k, v in pairs:
                kb, vb = _utf8(k), _utf8(v)
                check(L.lmq_proplist_add_user(self.ptr, kb, len(kb), vb, len(vb)))
            return
        values = value if (pid == 0x0B and isinstance(value, (list, tuple))) else [value]
        for v in values:
            if kind in "bhiv":
                if isinstance(v, bool):
                    v = int(v)
                if not isinstance(v, int):
                    raise MqttInvalidArgument(_ffi.LMQ_EINVAL,
                                              "property %s takes an int" % pname)
                check(L.lmq_proplist_add_int(self.ptr, pid, v))
            else:
                b = _utf8(v)
                check(L.lmq_proplist_add_str(self.ptr, pid, b, len(b)))

    def close(self):
        if self.ptr:
            self._lib.lmq_proplist_free(self.ptr)
            self.ptr = None

    def __del__(self):
        self.close()


def proplist(props) -> Optional[PropList]:
    if props is None or (isinstance(props, (dict, list, tuple)) and not props):
        return None
    if isinstance(props, PropList):
        return props
    return PropList(props)


def _varint(b: bytes, i: int) -> Tuple[int, int]:
    v, shift = 0, 0
    while True:
        c = b[i]
        i += 1
        v |= (c & 0x7F) << shift
        if not c & 0x80:
            return v, i
        shift += 7


def parse_props(raw: bytes) -> Dict[str, Any]:
    """The raw property block of an event (the engine validated it) as a
    dict: names as in PROPERTIES; user_property a list of (key, value);
    subscription_identifier a list (a PUBLISH may carry several)."""
    out: Dict[str, Any] = {}
    i, n = 0, len(raw)
    while i < n:
        pid, i = _varint(raw, i)
        name, kind = PROPERTIES.get(pid, ("property_%#x" % pid, "?"))
        if kind == "b":
            v = raw[i]
            i += 1
        elif kind == "h":
            v = int.from_bytes(raw[i:i + 2], "big")
            i += 2
        elif kind == "i":
            v = int.from_bytes(raw[i:i + 4], "big")
            i += 4
        elif kind == "v":
            v, i = _varint(raw, i)
        elif kind in "sd":
            ln = int.from_bytes(raw[i:i + 2], "big")
            v = raw[i + 2:i + 2 + ln]
            if kind == "s":
                v = v.decode("utf-8", "replace")
            i += 2 + ln
        elif kind == "p":
            kl = int.from_bytes(raw[i:i + 2], "big")
            k = raw[i + 2:i + 2 + kl].decode("utf-8", "replace")
            i += 2 + kl
            vl = int.from_bytes(raw[i:i + 2], "big")
            v = (k, raw[i + 2:i + 2 + vl].decode("utf-8", "replace"))
            i += 2 + vl
        else:
            break       # unknown id: the rest cannot be framed
        if kind == "p":
            out.setdefault(name, []).append(v)
        elif pid == 0x0B:
            out.setdefault(name, []).append(v)
        else:
            out[name] = v
    return out


# -------------------------------------------------------------- messages


class Properties(dict):
    """A message's MQTT 5 properties: a dict (m.properties["content_type"],
    names as in PROPERTIES), also readable as paho's Properties are
    (m.properties.ContentType, .UserProperty, .SubscriptionIdentifier...):
    a property that is absent raises AttributeError, as paho's does."""

    def __getattr__(self, name: str) -> Any:
        k = _BY_KEY.get(name.replace("_", "").lower())
        if k is None or k[1] not in self:
            raise AttributeError(name)
        return self[k[1]]

    def __setattr__(self, name: str, value: Any) -> None:
        self[_prop_key(name)[1]] = value




class Message:
    """A message received.  `properties` (MQTT 5) is a dict, parsed on
    first use; `ack_id` is the handle for Client.ack() with manual_ack."""

    __slots__ = ("topic", "payload", "qos", "retain", "mid", "dup", "ack_id",
                 "_raw_props", "_props")

    def __init__(self, topic, payload, qos=0, retain=False, mid=0, properties=None,
                 dup=False, ack_id=0):
        self.topic = topic if isinstance(topic, Topic) else Topic(topic)
        self.payload = payload
        self.qos = qos
        self.retain = retain
        self.mid = mid
        self.dup = dup
        self.ack_id = ack_id
        self._raw_props = b""
        self._props = properties

    @property
    def properties(self) -> "Properties":
        if self._props is None:
            self._props = Properties(parse_props(self._raw_props) if self._raw_props else {})
        return self._props

    def __lt__(self, other: "Message") -> bool:
        # aiomqtt orders messages by packet id (for queue_type=PriorityQueue)
        return self.mid < other.mid

    def __repr__(self) -> str:
        return "Message(topic=%r, payload=%r, qos=%d, retain=%r)" % (
            self.topic.value, self.payload, self.qos, self.retain)


# ------------------------------------------------------ connection settings


class ProtocolVersion(enum.IntEnum):
    V31 = 3
    V311 = 4
    V5 = 5


@dataclass
class Will:
    topic: str
    payload: Union[str, bytes, bytearray, int, float, None] = None
    qos: int = 0
    retain: bool = False
    properties: Any = None


@dataclass
class TLSParameters:
    """Files and settings for TLS (the engine uses wolfSSL, not Python's
    ssl module: certificates are given as file paths)."""
    ca_certs: Optional[str] = None
    certfile: Optional[str] = None
    keyfile: Optional[str] = None
    cert_reqs: Optional[ssl.VerifyMode] = None
    tls_version: Any = None
    ciphers: Optional[str] = None
    keyfile_password: Optional[str] = None
    ca_path: Optional[str] = None
    alpn: Optional[List[str]] = None
    server_hostname: Optional[str] = None


@dataclass
class SubscribeOptions:
    """MQTT 5 subscription options beside the QoS."""
    qos: int = 0
    no_local: bool = False
    retain_as_published: bool = False
    retain_handling: int = 0

    def bits(self) -> int:
        if self.qos not in (0, 1, 2):
            raise MqttInvalidArgument(_ffi.LMQ_EINVAL, "QoS must be 0, 1 or 2, not %r" % self.qos)
        if self.retain_handling not in (0, 1, 2):
            raise MqttInvalidArgument(_ffi.LMQ_EINVAL, "retain_handling must be 0, 1 or 2")
        return (self.qos | (4 if self.no_local else 0) | (8 if self.retain_as_published else 0)
                | (self.retain_handling << 4))


def subscribe_bits(o) -> int:
    """The option bits of a subscription: a QoS, our SubscribeOptions, or
    paho's (QoS, noLocal, retainAsPublished, retainHandling)."""
    if isinstance(o, SubscribeOptions):
        return o.bits()
    if hasattr(o, "retainHandling") and hasattr(o, "QoS"):
        return SubscribeOptions(o.QoS, bool(o.noLocal), bool(o.retainAsPublished),
                                o.retainHandling).bits()
    return check_qos(o)


def encode_payload(payload) -> bytes:
    """aiomqtt's payload rules: str as UTF-8, bytes as they are, numbers as
    their text, None as empty."""
    if payload is None:
        return b""
    if isinstance(payload, (bytes, bytearray, memoryview)):
        return bytes(payload)
    if isinstance(payload, str):
        return payload.encode("utf-8")
    if isinstance(payload, (int, float)) and not isinstance(payload, bool):
        return str(payload).encode("ascii")
    raise TypeError("payload must be str, bytes, bytearray, int, float or None, not %s"
                    % type(payload).__name__)


def check_qos(qos) -> int:
    if isinstance(qos, bool) or qos not in (0, 1, 2):
        raise MqttInvalidArgument(_ffi.LMQ_EINVAL, "QoS must be 0, 1 or 2, not %r" % (qos,))
    return int(qos)
