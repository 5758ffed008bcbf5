"""lunamq.aio - an asyncio MQTT client over the lunamq C engine.

The engine is driven by the running event loop through its external
driver: the socket is watched with loop.add_reader / add_writer, the
engine's next deadline with loop.call_at, and after every engine call the
events it queued are pulled in one batch (lmq_client_events) and turned
into resolved futures and queued messages.  No thread, no polling, and no
callback from C into Python.

    async with Client("localhost") as client:
        await client.subscribe("sensors/#")
        await client.publish("sensors/a", b"21.5", qos=1)
        async for message in client.messages:
            print(message.topic, message.payload)
"""
from __future__ import annotations

import asyncio
import collections
import ctypes
import logging
import math
import os
import socket
import ssl
from typing import Any, Deque, Dict, Iterable, List, Optional, Sequence, Tuple, Union

from . import _ffi
from ._proxy import ProxySettings, proxy_url
from . import __version__ as _pkg_version
from ._ffi import (E_ACK_ID, E_DUP, E_ERROR, E_LOG_LEVEL, E_MSG_ID, E_N_REASONS, E_PACKET_ID,
                   E_PAYLOAD, E_PAYLOAD_LEN, E_PROPS, E_PROPS_LEN, E_QOS, E_REASON, E_REASONS,
                   E_RETAIN, E_SESSION_PRESENT, E_TEXT, E_TOPIC, E_TOPIC_LEN, E_TYPE)
from ._common import (_CONNECT_RC_STRINGS, Message, MqttCodeError, MqttConnectError, MqttError,
                      MqttInvalidArgument, MqttReentrantError, ProtocolVersion,
                      SubscribeOptions, TLSParameters, Topic, Will, Wildcard, check,
                      check_qos, encode_payload, error_text, parse_props, proplist,
                      subscribe_bits)

__all__ = ["Client", "Message", "MessagesIterator", "FilteredMessages", "MqttError",
           "MqttCodeError", "MqttConnectError", "MqttInvalidArgument", "MqttReentrantError",
           "MqttTimeoutError", "ProtocolVersion", "ProxySettings", "SubscribeOptions",
           "TLSParameters", "Topic", "TopicLike", "Wildcard", "WildcardLike", "Will",
           "PayloadType", "SubscribeTopic", "SocketOption", "WebSocketHeaders",
           "__version__", "__version_tuple__"]

__version__ = _pkg_version
__version_tuple__ = tuple(int(x) for x in __version__.split("."))

# aiomqtt's type names (aiomqtt.types and aiomqtt.topic), for code that
# annotates with them.
PayloadType = Union[str, bytes, bytearray, int, float, None]
TopicLike = Union[str, Topic]
WildcardLike = Union[str, Wildcard]
SubscribeTopic = Union[str, Tuple[str, SubscribeOptions], List[Tuple[str, SubscribeOptions]],
                       List[Tuple[str, int]]]
WebSocketHeaders = Dict[str, str]
SocketOption = Tuple[Any, ...]

# aiomqtt logs to "mqtt" unless given a logger; so does this client.
_log = logging.getLogger("mqtt")

# Events pulled per lmq_client_events call.
_BATCH = 64
# Topics remembered so that a busy topic is decoded once.
_TOPIC_CACHE = 512
# Leaving `async with` delivers what was accepted first: the engine's
# disconnect drains for up to LMQ_OPT_DRAIN_TIMEOUT_MS (10 s by default),
# then its DISCONNECT goes; __aexit__ waits that long and a little more,
# then raises MqttError if anything accepted was not delivered.
_CLOSE_WAIT = 12.0
# publish(qos=0) returns at once while less than this much is unwritten
# (and fewer than _QOS0_MSGS messages); past it, it waits for the write,
# as aiomqtt's publish waits for its socket write.
_QOS0_BYTES = 1 << 20
_QOS0_MSGS = 1000
# Default bound of the incoming message queue.
_DEFAULT_MAX_INCOMING = 10000

_string_at = ctypes.string_at


class MqttTimeoutError(MqttError, TimeoutError):
    """An operation did not complete within its timeout (the request may
    still complete later: a publish stays in the engine's session)."""


def _timeout_fut(fut: asyncio.Future, what: str) -> None:
    if not fut.done():
        fut.set_exception(MqttTimeoutError("%s timed out" % what))


class _QueueAdapter:
    """An asyncio.Queue subclass given as queue_type (PriorityQueue,
    LifoQueue...) behind the deque interface _Receiver uses."""

    __slots__ = ("q",)

    def __init__(self, q: asyncio.Queue):
        self.q = q

    def append(self, m: Message) -> None:
        self.q.put_nowait(m)

    def popleft(self) -> Message:
        return self.q.get_nowait()

    def clear(self) -> None:
        while not self.q.empty():
            self.q.get_nowait()

    def __len__(self) -> int:
        return self.q.qsize()


class _Receiver:
    """A queue of messages and the tasks waiting on it.  The default one
    takes what no filter took."""

    __slots__ = ("client", "wildcard", "queue", "waiters", "closed")

    def __init__(self, client: "Client", wildcard: Optional[Wildcard], queue_type=None):
        self.client = client
        self.wildcard = wildcard
        self.queue: Deque[Message] = (collections.deque() if queue_type is None
                                      else _QueueAdapter(queue_type()))
        self.waiters: List[asyncio.Future] = []
        self.closed = False

    def push(self, m: Message) -> None:
        self.queue.append(m)
        if self.waiters:
            self.wake()

    def wake(self) -> None:
        # Every waiter looks again: one woken and then cancelled must not
        # leave a message behind with the others asleep.
        for w in self.waiters:
            if not w.done():
                w.set_result(None)

    async def get(self) -> Message:
        c = self.client
        while True:
            if self.queue:
                m = self.queue.popleft()
                c._taken()
                return m
            if self.closed:
                raise StopAsyncIteration
            if c._error is not None:
                raise c._error
            if c._h is None:
                raise MqttError("the client is not connected")
            # A bare wake-up future: a cancelled wait loses no message.
            w = c._loop.create_future()
            self.waiters.append(w)
            try:
                await w
            finally:
                self.waiters.remove(w)


class MessagesIterator:
    """`client.messages`: every message no filter took, in arrival order.
    Iterating raises MqttError when the connection is lost (unless
    reconnect is on) once the queued messages are consumed."""

    def __init__(self, client: "Client"):
        self._client = client

    def __aiter__(self) -> "MessagesIterator":
        return self

    async def __anext__(self) -> Message:
        return await self._client._default.get()

    def __len__(self) -> int:
        """Messages waiting in this queue."""
        return len(self._client._default.queue)

    def filter(self, wildcard: Union[str, Wildcard]) -> "FilteredMessages":
        """A queue of its own for the messages matching `wildcard`, from
        now on: they no longer go to `client.messages` (a message
        matching several filters goes to each).  Close it (or use it with
        `async with`) to stop routing."""
        return FilteredMessages(self._client, Wildcard(wildcard))


class FilteredMessages:
    """Messages routed by a filter; an async iterator and context manager."""

    def __init__(self, client: "Client", wildcard: Wildcard):
        self._client = client
        self._r = r = _Receiver(client, wildcard)
        client._routes.append(r)
        # The rule: a message belongs to the filters existing when it is
        # taken off the engine, and one still waiting in client.messages
        # when a matching filter is made moves to the filter (in order):
        # so a filter made right after subscribe() misses nothing.
        d = client._default.queue
        if isinstance(d, collections.deque) and d:
            keep = collections.deque()
            for m in d:
                (r.queue if m.topic.matches(wildcard) else keep).append(m)
            if r.queue:
                d.clear()
                d.extend(keep)

    @property
    def wildcard(self) -> Wildcard:
        return self._r.wildcard

    def __aiter__(self) -> "FilteredMessages":
        return self

    async def __anext__(self) -> Message:
        return await self._r.get()

    def __len__(self) -> int:
        return len(self._r.queue)

    def close(self) -> None:
        """Stop routing; messages still queued here are dropped."""
        r = self._r
        if r.closed:
            return
        r.closed = True
        try:
            self._client._routes.remove(r)
        except ValueError:
            pass
        for _ in range(len(r.queue)):
            self._client._taken()
        r.queue.clear()
        r.wake()

    async def __aenter__(self) -> "FilteredMessages":
        return self

    async def __aexit__(self, *exc) -> None:
        self.close()


def _outgoing_call(method):
    """At most max_concurrent_outgoing_calls of publish / subscribe /
    unsubscribe run at once (aiomqtt's option); without it, no extra
    await on the way."""
    def call(self, *args, **kwargs):
        sem = self._outgoing_calls_sem
        if sem is None:
            return method(self, *args, **kwargs)
        return _limited(sem, method(self, *args, **kwargs))
    call.__name__ = method.__name__
    call.__qualname__ = method.__qualname__
    call.__doc__ = method.__doc__
    return call


async def _limited(sem: asyncio.Semaphore, coro):
    try:
        async with sem:
            return await coro
    finally:
        coro.close()    # never started when the wait was cancelled


class Client:
    """An MQTT client for asyncio, with aiomqtt's constructor keywords.

    Beyond aiomqtt: `reconnect=True` reconnects with exponential backoff
    between `reconnect_delay` (min, max) seconds and subscribes again;
    `client.messages.filter("a/+")` routes messages to a queue of their
    own; `manual_ack=True` leaves QoS 1/2 acknowledgements to
    `client.ack(message)`; outgoing MQTT 5 topic aliases are assigned by
    the engine when the server allows them (`topic_alias_out`).
    `plugins=[(path, config), ...]` loads C plugins (lunamq_plugin.h)
    into the client's chain, in that order, when it connects; a plugin
    that cannot load makes `async with` raise, naming the file.  The
    client runs on the external driver, so a plugin serving a socket
    (metrics) polls it from its tick.
    """

    def __init__(
        self,
        hostname: str = "localhost",
        port: Optional[int] = None,
        *,
        username: Optional[str] = None,
        password: Optional[Union[str, bytes]] = None,
        logger: Optional[logging.Logger] = None,
        identifier: Optional[str] = None,
        protocol: Optional[Union[ProtocolVersion, int]] = None,
        will: Optional[Will] = None,
        clean_session: Optional[bool] = None,
        clean_start: Optional[bool] = None,
        session_expiry: Optional[int] = None,
        transport: str = "tcp",
        timeout: Optional[float] = None,
        keepalive: int = 60,
        bind_address: str = "",
        bind_port: int = 0,
        max_queued_incoming_messages: Optional[int] = None,
        max_queued_outgoing_messages: Optional[int] = None,
        max_inflight_messages: Optional[int] = None,
        max_concurrent_outgoing_calls: Optional[int] = None,
        queue_type: Optional[type] = None,
        properties: Any = None,
        tls_context: Optional[ssl.SSLContext] = None,
        tls_params: Optional[TLSParameters] = None,
        tls_insecure: Optional[bool] = None,
        socket_options: Optional[Iterable[Tuple[int, int, Any]]] = None,
        websocket_path: Optional[str] = None,
        websocket_headers: Optional[Dict[str, str]] = None,
        proxy: Optional[Union[ProxySettings, str]] = None,
        reconnect: bool = False,
        reconnect_delay: Tuple[float, float] = (0.5, 30.0),
        manual_ack: bool = False,
        topic_alias_out: bool = True,
        topic_alias_maximum: int = 0,
        receive_maximum: Optional[int] = None,
        plugins: Iterable[Tuple[str, str]] = (),
    ):
        if transport not in ("tcp", "websockets", "unix"):
            raise MqttInvalidArgument(_ffi.LMQ_EINVAL,
                                      "transport must be 'tcp', 'websockets' or 'unix', not %r"
                                      % (transport,))
        if bind_port:
            raise MqttInvalidArgument(_ffi.LMQ_EINVAL,
                                      "bind_port is not supported (bind_address is)")
        self._hostname = hostname
        self._transport = transport
        self._tls = tls_context is not None or tls_params is not None
        if port is None:
            port = (8883 if self._tls else 1883) if transport == "tcp" else (
                443 if self._tls else 80)
        self._port = port
        self._username = username
        self._password = password
        self._logger = logger or _log
        self._protocol = ProtocolVersion(int(protocol) if protocol is not None else 4)
        if not identifier and self._protocol == ProtocolVersion.V31:
            # 3.1 servers need 1 to 23 characters (3.1.1 and 5 may
            # assign one); paho makes one up the same way.
            identifier = "lunamq-" + os.urandom(8).hex()[:15]     # 22 characters
        self.identifier = identifier or ""
        self._will = will
        if self._protocol == ProtocolVersion.V5:
            clean = clean_start if clean_start is not None else clean_session
        else:
            clean = clean_session if clean_session is not None else clean_start
        self._clean = True if clean is None else bool(clean)
        self._session_expiry = session_expiry
        self._timeout = 10.0 if timeout is None else float(timeout)
        self._keepalive = int(keepalive)
        self._bind_address = bind_address
        mq = (_DEFAULT_MAX_INCOMING if max_queued_incoming_messages is None
              else int(max_queued_incoming_messages))
        if mq < 0:
            raise MqttInvalidArgument(_ffi.LMQ_EINVAL, "max_queued_incoming_messages < 0")
        self._max_incoming = mq          # 0: unbounded, as in aiomqtt
        self._max_outgoing = max_queued_outgoing_messages
        self._max_inflight = max_inflight_messages
        if max_concurrent_outgoing_calls is not None and max_concurrent_outgoing_calls < 1:
            raise MqttInvalidArgument(_ffi.LMQ_EINVAL, "max_concurrent_outgoing_calls < 1")
        self._max_outgoing_calls = max_concurrent_outgoing_calls
        self._outgoing_calls_sem: Optional[asyncio.Semaphore] = None
        # aiomqtt's: a warning on the logger when more publish / subscribe
        # / unsubscribe calls than this wait for completion at once.
        self.pending_calls_threshold = 10
        self._queue_type = queue_type
        self._tmp_files: List[str] = []
        if tls_context is not None and not isinstance(tls_context, ssl.SSLContext):
            raise MqttInvalidArgument(_ffi.LMQ_EINVAL, "tls_context must be an ssl.SSLContext")
        self._connect_props = properties
        self._tls_context = tls_context
        self._tls_params = tls_params
        self._tls_insecure = tls_insecure
        self._socket_options = list(socket_options or ())
        self._ws_path = websocket_path
        self._ws_headers = websocket_headers
        self._proxy = proxy_url(proxy)   # _proxy.py: ProxySettings -> the engine's URL
        self._reconnect = bool(reconnect)
        self._reconnect_delay = reconnect_delay
        self._manual_ack = bool(manual_ack)
        self._alias_out = bool(topic_alias_out)
        self._alias_max = int(topic_alias_maximum)
        self._receive_max = receive_maximum
        self._plugins = []
        for item in plugins:
            path, config = (item, "") if isinstance(item, str) else item
            if not isinstance(path, str) or not isinstance(config, str):
                raise MqttInvalidArgument(_ffi.LMQ_EINVAL,
                                          "plugins: (path, config) pairs of strings")
            self._plugins.append((path, config))
        # Validated now rather than at connect time.
        if will is not None:
            Topic(will.topic)
            check_qos(will.qos)

        self._L = None
        self._h = None
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._fd = -1
        self._gen = 0
        self._reading = False
        self._writing = False
        self._paused = False
        self._timer: Optional[asyncio.TimerHandle] = None
        self._timer_when = 0.0
        self._pending: Dict[int, asyncio.Future] = {}
        self._connect_fut: Optional[asyncio.Future] = None
        self._closed_fut: Optional[asyncio.Future] = None
        self._closing = False
        self._error: Optional[MqttError] = None
        self._default = _Receiver(self, None, self._queue_type)
        self._routes: List[_Receiver] = []
        self._queued = 0
        self._topics: Dict[bytes, Topic] = {}
        self._inflight_sem: Optional[asyncio.Semaphore] = None
        self.messages = MessagesIterator(self)
        self.connected = False
        self.session_present = False
        self.connack_properties: Dict[str, Any] = {}
        self.reconnects = 0
        self._backlog = _ffi.Backlog()
        evs = (_ffi.Event * _BATCH)()
        self._evs = evs
        self._evbytes = memoryview((ctypes.c_ubyte * ctypes.sizeof(evs)).from_address(
            ctypes.addressof(evs)))

    # ------------------------------------------------------------ settings

    def _configure(self) -> None:
        L, h = self._L, self._h

        def si(opt, v):
            check(L.lmq_client_set_int(h, opt, int(v)), h)

        def ss(opt, v):
            b = v.encode("utf-8") if isinstance(v, str) else bytes(v)
            check(L.lmq_client_set_str(h, opt, b, len(b)), h)

        if self._transport == "unix":
            ss(_ffi.LMQ_OPT_UNIX_PATH, self._hostname)
        else:
            ss(_ffi.LMQ_OPT_HOST, self._hostname)
            si(_ffi.LMQ_OPT_PORT, self._port)
        if self._bind_address:
            ss(_ffi.LMQ_OPT_BIND_ADDRESS, self._bind_address)
        if self._proxy:
            ss(_ffi.LMQ_OPT_PROXY, self._proxy)
        si(_ffi.LMQ_OPT_PROTOCOL, int(self._protocol))
        ss(_ffi.LMQ_OPT_CLIENT_ID, self.identifier)
        if self._username is not None:
            ss(_ffi.LMQ_OPT_USERNAME, self._username)
        if self._password is not None:
            ss(_ffi.LMQ_OPT_PASSWORD, self._password)
        si(_ffi.LMQ_OPT_KEEPALIVE, self._keepalive)
        si(_ffi.LMQ_OPT_CLEAN_START, self._clean)
        if self._session_expiry is not None:
            si(_ffi.LMQ_OPT_SESSION_EXPIRY, self._session_expiry)
        if math.isfinite(self._timeout) and self._timeout > 0:
            si(_ffi.LMQ_OPT_CONNECT_TIMEOUT_MS, max(1, int(self._timeout * 1000)))
        if self._receive_max is not None:
            si(_ffi.LMQ_OPT_RECEIVE_MAXIMUM, self._receive_max)
        if self._alias_max:
            si(_ffi.LMQ_OPT_TOPIC_ALIAS_MAXIMUM, self._alias_max)
        si(_ffi.LMQ_OPT_TOPIC_ALIAS_OUT, self._alias_out)
        si(_ffi.LMQ_OPT_MANUAL_ACK, self._manual_ack)
        si(_ffi.LMQ_OPT_RECONNECT, self._reconnect)
        si(_ffi.LMQ_OPT_AUTO_RESUBSCRIBE, 1)
        if self._reconnect:
            lo, hi = self._reconnect_delay
            si(_ffi.LMQ_OPT_RECONNECT_MIN_MS, max(1, int(lo * 1000)))
            si(_ffi.LMQ_OPT_RECONNECT_MAX_MS, max(1, int(hi * 1000)))
        if self._max_outgoing is not None:
            si(_ffi.LMQ_OPT_OFFLINE_MAX_MSGS, self._max_outgoing)
        if self._connect_props:
            pl = proplist(self._connect_props)
            check(L.lmq_client_set_props(h, _ffi.LMQ_PROPS_CONNECT, pl.ptr if pl else None), h)
        w = self._will
        if w is not None:
            ss(_ffi.LMQ_OPT_WILL_TOPIC, w.topic)
            ss(_ffi.LMQ_OPT_WILL_PAYLOAD, encode_payload(w.payload))
            si(_ffi.LMQ_OPT_WILL_QOS, w.qos)
            si(_ffi.LMQ_OPT_WILL_RETAIN, w.retain)
            if w.properties:
                pl = proplist(w.properties)
                check(L.lmq_client_set_props(h, _ffi.LMQ_PROPS_WILL, pl.ptr if pl else None), h)
        if self._transport == "websockets":
            si(_ffi.LMQ_OPT_WEBSOCKET, 1)
            if self._ws_path:
                ss(_ffi.LMQ_OPT_WS_PATH, self._ws_path)
            if self._ws_headers:
                ss(_ffi.LMQ_OPT_WS_HEADERS,
                   "\n".join("%s: %s" % kv for kv in self._ws_headers.items()))
        if self._tls:
            self._configure_tls(si, ss)
        # Last: a plugin's init sees the client as configured.
        for path, config in self._plugins:
            check(L.lmq_client_load_plugin(h, path.encode("utf-8"), config.encode("utf-8")), h)

    def _ca_file(self, ders) -> str:
        import tempfile
        fd, path = tempfile.mkstemp(prefix="lunamq-ca-", suffix=".pem")
        with os.fdopen(fd, "w") as f:
            for der in ders:
                f.write(ssl.DER_cert_to_PEM_cert(der))
        self._tmp_files.append(path)
        return path

    def _configure_tls(self, si, ss) -> None:
        si(_ffi.LMQ_OPT_TLS, 1)
        ctx, p = self._tls_context, self._tls_params
        insecure = self._tls_insecure
        if ctx is not None:
            # wolfSSL cannot use an SSLContext: what it says about
            # verification is honoured; CA files must come as tls_params.
            if ctx.verify_mode == ssl.CERT_NONE:
                si(_ffi.LMQ_OPT_TLS_NO_VERIFY, 1)
            elif not ctx.check_hostname and insecure is None:
                insecure = True
            cas = ctx.get_ca_certs(binary_form=True) if ctx.verify_mode != ssl.CERT_NONE else []
            if cas and not (p is not None and (p.ca_certs or p.ca_path)):
                # The CAs loaded into the context (load_verify_locations)
                # are the trust store: carried to the engine as a PEM file,
                # never replaced by the system's.
                ss(_ffi.LMQ_OPT_TLS_CA_FILE, self._ca_file(cas))
            if ctx.minimum_version == ssl.TLSVersion.TLSv1_3:
                si(_ffi.LMQ_OPT_TLS_MIN_VERSION, 13)
        if p is not None:
            if p.ca_certs:
                ss(_ffi.LMQ_OPT_TLS_CA_FILE, p.ca_certs)
            if p.ca_path:
                ss(_ffi.LMQ_OPT_TLS_CA_PATH, p.ca_path)
            if p.certfile:
                ss(_ffi.LMQ_OPT_TLS_CERT_FILE, p.certfile)
            if p.keyfile:
                ss(_ffi.LMQ_OPT_TLS_KEY_FILE, p.keyfile)
            if p.keyfile_password:
                ss(_ffi.LMQ_OPT_TLS_KEY_PASSWORD, p.keyfile_password)
            if p.ciphers:
                ss(_ffi.LMQ_OPT_TLS_CIPHERS, p.ciphers)
            if p.alpn:
                ss(_ffi.LMQ_OPT_TLS_ALPN, ",".join(p.alpn))
            if p.server_hostname:
                ss(_ffi.LMQ_OPT_TLS_SERVER_NAME, p.server_hostname)
            if p.cert_reqs == ssl.CERT_NONE:
                si(_ffi.LMQ_OPT_TLS_NO_VERIFY, 1)
            if p.tls_version in (ssl.TLSVersion.TLSv1_3, "1.3", "tlsv1.3"):
                si(_ffi.LMQ_OPT_TLS_MIN_VERSION, 13)
        if insecure:
            si(_ffi.LMQ_OPT_TLS_INSECURE, 1)

    # ---------------------------------------------------------- lifecycle

    async def __aenter__(self) -> "Client":
        if self._h is not None:
            raise MqttReentrantError("the client is already connected or connecting")
        self._loop = asyncio.get_running_loop()
        self._L = _ffi.lib()
        h = self._L.lmq_client_new()
        if not h:
            raise MemoryError("lmq_client_new")
        self._h = h
        self._error = None
        self._closing = False
        self._default = _Receiver(self, None, self._queue_type)
        self._routes = []
        self._queued = 0
        self._paused = False
        self.connected = False
        if self._max_inflight:
            self._inflight_sem = asyncio.Semaphore(self._max_inflight)
        if self._max_outgoing_calls:
            self._outgoing_calls_sem = asyncio.Semaphore(self._max_outgoing_calls)
        try:
            self._configure()
            self._connect_fut = self._loop.create_future()
            check(self._L.lmq_client_connect(h), h, MqttConnectError)
            self._pump()
            await self._wait(self._connect_fut, None, "connect")
        except BaseException:
            self._teardown(MqttError("connect failed"))
            raise
        finally:
            self._connect_fut = None
        return self

    async def __aexit__(self, exc_type, exc, tb) -> None:
        h = self._h
        if h is None:
            return
        self._closing = True
        lost = 0
        try:
            if self.connected or self._reconnect:
                self._closed_fut = self._loop.create_future()
                rc = self._L.lmq_client_disconnect(h, 0, None)
                self._pump()
                if rc >= 0 and not self._closed_fut.done():
                    try:
                        await asyncio.wait_for(self._closed_fut, _CLOSE_WAIT)
                    except (asyncio.TimeoutError, MqttError):
                        pass
            b = _ffi.Backlog()
            if self._L.lmq_client_backlog(h, ctypes.byref(b), ctypes.sizeof(b)) == 0:
                lost = max(b.undelivered, b.incomplete_msgs)
        finally:
            self._closed_fut = None
            self._teardown(MqttError("the client was closed"))
        # Never dropped silently: said, unless another exception is on its way.
        if lost and exc_type is None:
            raise MqttCodeError(_ffi.LMQ_EUNDELIVERED,
                                f"{lost} accepted messages were not delivered when the "
                                f"client closed")

    def _teardown(self, err: MqttError) -> None:
        """Stop watching, fail what waits, free the engine."""
        self._unwatch()
        for path in self._tmp_files:         # tls_context's CAs, read at connect
            try:
                os.unlink(path)
            except OSError:
                pass
        self._tmp_files = []
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._fail_all(err)
        h, self._h = self._h, None
        self.connected = False
        if h is not None:
            self._L.lmq_client_free(h)

    def _fail_all(self, err: MqttError) -> None:
        pending, self._pending = self._pending, {}
        for fut in pending.values():
            if not fut.done():
                fut.set_exception(err)
                # Nobody may be awaiting a future whose task was
                # cancelled: do not let asyncio warn about it.
                fut.exception()
        if self._error is None:
            self._error = err
        self._default.wake()
        for r in self._routes:
            r.wake()

    def __del__(self):
        h = getattr(self, "_h", None)
        if h is not None and self._L is not None:
            self._h = None
            self._L.lmq_client_free(h)

    # ------------------------------------------------------------ driving

    def _unwatch(self) -> None:
        loop, fd = self._loop, self._fd
        # The socket may be closed already; the selector then forgets it
        # (an OSError from the kernel says it had already).
        if self._reading:
            self._reading = False
            try:
                loop.remove_reader(fd)
            except OSError:
                pass
        if self._writing:
            self._writing = False
            try:
                loop.remove_writer(fd)
            except OSError:
                pass
        self._fd = -1

    def _rearm(self, fd_changed: bool) -> None:
        L, h, loop = self._L, self._h, self._loop
        fd = L.lmq_client_fd(h)
        if fd != self._fd or fd_changed:
            self._unwatch()
            self._gen += 1
            self._fd = fd
            if fd >= 0 and self._socket_options:
                self._apply_socket_options(fd)
        want = L.lmq_client_want(h) if fd >= 0 else 0
        r = bool(want & _ffi.LMQ_WANT_READ)
        if r != self._reading:
            self._reading = r
            if r:
                loop.add_reader(fd, self._on_readable, self._gen)
            else:
                loop.remove_reader(fd)
        w = bool(want & _ffi.LMQ_WANT_WRITE)
        if w != self._writing:
            self._writing = w
            if w:
                loop.add_writer(fd, self._on_writable, self._gen)
            else:
                loop.remove_writer(fd)
        t = L.lmq_client_timeout_ms(h)
        if (fd < 0 and t < 0 and self._reconnect and not self._closing
                and self._connect_fut is None and self._error is None):
            # No socket and no deadline: the engine is idle, it gave up
            # reconnecting.  Waiting would hang for ever.
            self._fail_all(MqttCodeError(_ffi.LMQ_EDISCONNECTED,
                                         "the connection is lost and no reconnect is pending"))
        if t >= 0:
            when = loop.time() + t / 1000.0
            # An earlier timer than needed is harmless (it re-arms): only
            # a later one must be replaced.
            if self._timer is None or when < self._timer_when - 0.0005:
                if self._timer is not None:
                    self._timer.cancel()
                self._timer = loop.call_at(when, self._on_timer)
                self._timer_when = when

    def _apply_socket_options(self, fd: int) -> None:
        try:
            s = socket.socket(fileno=os.dup(fd))
        except OSError:
            return          # not a socket (the resolver's pipe)
        try:
            for level, opt, value in self._socket_options:
                s.setsockopt(level, opt, value)
        except OSError as e:
            self._logger.warning("socket option not applied: %s", e)
        finally:
            s.close()

    def _on_readable(self, gen: int) -> None:
        # A handle queued for a socket replaced in the same loop turn.
        if gen != self._gen or self._h is None:
            return
        self._L.lmq_client_on_readable(self._h)
        self._pump()

    def _on_writable(self, gen: int) -> None:
        if gen != self._gen or self._h is None:
            return
        self._L.lmq_client_on_writable(self._h)
        self._pump()

    def _on_timer(self) -> None:
        self._timer = None
        h = self._h
        if h is None:
            return
        if self._L.lmq_client_timeout_ms(h) == 0:
            self._L.lmq_client_on_timeout(h)
        self._pump()

    def _pump(self) -> None:
        """Pull every queued event, then re-arm the loop."""
        h = self._h
        if h is None:
            return
        L, evs = self._L, self._evs
        fd_changed = False
        size = _ffi.EVENT_SIZE
        while True:
            n = L.lmq_client_events(h, evs, _BATCH, size)
            if n <= 0:
                break
            if _ffi.EVENT_BULK_OK:
                rows = _ffi.EVENT_STRUCT.iter_unpack(self._evbytes[:n * size])
            else:
                rows = (tuple(getattr(evs[i], f) or 0 for f in _ffi.EVENT_FIELDS)
                        for i in range(n))
            for ev in rows:
                if self._on_event(ev):
                    fd_changed = True
            if n < _BATCH or self._h is None:
                break
        if self._h is not None:
            self._rearm(fd_changed)

    # ev: a row of struct lmq_event as _ffi.EVENT_STRUCT unpacks it, read
    #     by field name (the E_* indices follow _ffi.Event's fields)
    def _on_event(self, ev) -> bool:
        t = ev[E_TYPE]
        if t == _ffi.LMQ_EV_MESSAGE:
            self._on_message(ev)
        elif t == _ffi.LMQ_EV_PUBLISHED:
            fut = self._pending.pop(ev[E_MSG_ID], None)
            if fut is not None and not fut.done():
                if ev[E_ERROR]:
                    fut.set_exception(self._code_error(ev))
                else:
                    fut.set_result(None)
        elif t in (_ffi.LMQ_EV_SUBSCRIBED, _ffi.LMQ_EV_UNSUBSCRIBED):
            fut = self._pending.pop(ev[E_MSG_ID], None)
            if fut is not None and not fut.done():
                if ev[E_ERROR]:
                    fut.set_exception(self._code_error(ev))
                else:
                    fut.set_result(tuple(_string_at(ev[E_REASONS], ev[E_N_REASONS])) if ev[E_N_REASONS] else ())
        elif t == _ffi.LMQ_EV_FD_CHANGED:
            return True
        elif t == _ffi.LMQ_EV_CONNECTED:
            self._on_connected(ev)
        elif t == _ffi.LMQ_EV_CONNECT_FAILED:
            self._on_connect_failed(ev)
        elif t == _ffi.LMQ_EV_DISCONNECTED:
            self._on_disconnected(ev)
        elif t == _ffi.LMQ_EV_LOG:
            lvl = {1: logging.ERROR, 2: logging.WARNING, 3: logging.INFO}.get(ev[E_LOG_LEVEL],
                                                                               logging.DEBUG)
            self._logger.log(lvl, "%s", self._text(ev))
        elif t == _ffi.LMQ_EV_ERROR:
            self._logger.warning("%s: %s", error_text(ev[E_ERROR]), self._text(ev))
        return False

    @staticmethod
    def _text(ev) -> str:
        return _string_at(ev[E_TEXT]).decode("utf-8", "replace") if ev[E_TEXT] else ""

    def _code_error(self, ev, cls=MqttCodeError) -> MqttCodeError:
        code, reason, text = ev[E_ERROR], ev[E_REASON], self._text(ev)
        msg = error_text(code) if code else "refused"
        if reason:
            msg += " (reason %#04x)" % reason
        if text:
            msg += ": " + text
        # e.rc: the server's reason code when it sent one (aiomqtt's rc),
        # else lunamq's error code; e.code is always lunamq's.
        return cls(reason if reason else code, msg, reason=reason or None,
                   code=code or None)

    def _on_message(self, ev) -> None:
        tb = _string_at(ev[E_TOPIC], ev[E_TOPIC_LEN])
        topic = self._topics.get(tb)
        if topic is None:
            topic = Topic._trusted(tb.decode("utf-8", "surrogateescape"), tb)
            if len(self._topics) >= _TOPIC_CACHE:
                self._topics.clear()
            self._topics[tb] = topic
        m = Message.__new__(Message)
        m.topic = topic
        m.payload = _string_at(ev[E_PAYLOAD], ev[E_PAYLOAD_LEN]) if ev[E_PAYLOAD_LEN] else b""
        m.qos = ev[E_QOS]
        m.retain = bool(ev[E_RETAIN])
        m.dup = bool(ev[E_DUP])
        m.mid = ev[E_PACKET_ID]
        m.ack_id = ev[E_ACK_ID]
        m._raw_props = _string_at(ev[E_PROPS], ev[E_PROPS_LEN]) if ev[E_PROPS_LEN] else b""
        m._props = None
        delivered = 0
        for r in self._routes:
            if topic.matches(r.wildcard):
                r.push(m)
                delivered += 1
        if not delivered:
            self._default.push(m)
            delivered = 1
        self._queued += delivered
        if self._max_incoming and self._queued >= self._max_incoming and not self._paused:
            # Backpressure without a stall: the engine holds further
            # messages (and their acks, so the server's flow control holds
            # back the rest) while it goes on reading acks and PINGRESP.
            self._paused = True
            self._L.lmq_client_pause_delivery(self._h, 1)

    def _taken(self) -> None:
        self._queued -= 1
        if self._paused and self._queued < max(1, self._max_incoming // 2):
            self._paused = False
            if self._h is not None:
                self._L.lmq_client_pause_delivery(self._h, 0)
                self._pump()

    def _on_connected(self, ev) -> None:
        self.connected = True
        self.session_present = bool(ev[E_SESSION_PRESENT])
        raw = _string_at(ev[E_PROPS], ev[E_PROPS_LEN]) if ev[E_PROPS_LEN] else b""
        self.connack_properties = parse_props(raw) if raw else {}
        cid = self.connack_properties.get("assigned_client_identifier")
        if cid:
            self.identifier = cid
        fut = self._connect_fut
        if fut is not None and not fut.done():
            fut.set_result(None)
        else:
            self.reconnects += 1
            self._logger.info("reconnected (session present: %s)", self.session_present)

    def _on_connect_failed(self, ev) -> None:
        fut = self._connect_fut
        if fut is not None and not fut.done():
            fut.set_exception(self._code_error(ev, MqttConnectError))
            return
        self._logger.info("reconnect failed: %s", self._code_error(ev))

    def _on_disconnected(self, ev) -> None:
        self.connected = False
        if self._closing:
            cf = self._closed_fut
            if cf is not None and not cf.done():
                cf.set_result(None)
            return
        err = self._code_error(ev) if ev[E_ERROR] else MqttCodeError(
            ev[E_REASON] or _ffi.LMQ_EDISCONNECTED, "disconnected by the server",
            reason=ev[E_REASON] or None, code=_ffi.LMQ_EDISCONNECTED)
        if self._reconnect:
            self._logger.warning("connection lost, reconnecting: %s", err)
            return
        self._fail_all(err)

    # --------------------------------------------------------- operations

    def _live(self):
        if self._h is None:
            raise MqttError("the client is not connected (use `async with Client(...)`)")
        if self._error is not None:
            raise self._error
        return self._h

    async def _wait(self, fut: asyncio.Future, timeout: Optional[float], what: str):
        t = self._timeout if timeout is None else timeout
        handle = None
        if t is not None and math.isfinite(t):
            handle = self._loop.call_later(t, _timeout_fut, fut, what)
        try:
            return await fut
        finally:
            if handle is not None:
                handle.cancel()

    @_outgoing_call
    async def publish(self, topic: Union[str, Topic], payload: Any = None, qos: int = 0,
                      retain: bool = False, properties: Any = None, *,
                      timeout: Optional[float] = None) -> None:
        """Publish and return once complete: QoS 0 written to the socket,
        QoS 1 acknowledged (PUBACK), QoS 2 completed (PUBCOMP).  Invalid
        arguments raise MqttInvalidArgument before anything is sent.
        Cancelling the wait does not withdraw the message."""
        qos = check_qos(qos)
        tb = topic._b if isinstance(topic, Topic) else topic.encode("utf-8")
        pb = encode_payload(payload)
        h = self._live()
        pl = proplist(properties)
        sem = self._inflight_sem if qos else None
        if sem is not None:
            await sem.acquire()
            h = self._live()
        try:
            mid = self._L.lmq_client_publish(h, tb, len(tb), pb, len(pb), qos,
                                             1 if retain else 0, pl.ptr if pl else None)
            if mid < 0:
                check(mid, h)
            if qos == 0 and timeout is None and self._qos0_room(h):
                # accepted; completes when written (the engine goes on
                # writing while the caller publishes more)
                self._pump()
                return
            fut = self._loop.create_future()
            self._track(mid, fut)
            self._pump()
            await self._wait(fut, timeout, "publish")
        finally:
            if sem is not None:
                sem.release()

    def _qos0_room(self, h) -> bool:
        b = self._backlog
        if self._L.lmq_client_backlog(h, ctypes.byref(b), ctypes.sizeof(b)) != 0:
            return False
        return b.unwritten_bytes < _QOS0_BYTES and b.unwritten_msgs < _QOS0_MSGS

    @_outgoing_call
    async def subscribe(self, topic: Union[str, Wildcard, Sequence[Any]], qos: int = 0,
                        options: Optional[SubscribeOptions] = None, properties: Any = None,
                        *, timeout: Optional[float] = None) -> Tuple[int, ...]:
        """Subscribe to one filter or a list of filters (str, (str, qos)
        or (str, SubscribeOptions)); returns the SUBACK reason codes, one
        per filter (0-2: the granted QoS, >= 0x80: refused)."""
        if isinstance(topic, (str, Wildcard)):
            entries = [(topic, options if options is not None else qos)]
        else:
            entries = [(e, options if options is not None else qos)
                       if isinstance(e, (str, Wildcard)) else e for e in topic]
        if not entries:
            raise MqttInvalidArgument(_ffi.LMQ_EINVAL, "nothing to subscribe to")
        subs = (_ffi.Subscription * len(entries))()
        keep = []
        for i, (f, o) in enumerate(entries):
            w = Wildcard(f)
            bits = subscribe_bits(o)
            keep.append(w._b)
            subs[i].filter = w._b
            subs[i].filter_len = len(w._b)
            subs[i].options = bits
        h = self._live()
        pl = proplist(properties)
        mid = self._L.lmq_client_subscribe(h, subs, len(entries), pl.ptr if pl else None)
        if mid < 0:
            check(mid, h)
        return await self._request(mid, timeout, "subscribe")

    @_outgoing_call
    async def unsubscribe(self, topic: Union[str, Wildcard, Sequence[Union[str, Wildcard]]],
                          properties: Any = None, *,
                          timeout: Optional[float] = None) -> Tuple[int, ...]:
        """Unsubscribe; returns the UNSUBACK reason codes (MQTT 5) or ()."""
        filters = [topic] if isinstance(topic, (str, Wildcard)) else list(topic)
        if not filters:
            raise MqttInvalidArgument(_ffi.LMQ_EINVAL, "nothing to unsubscribe from")
        bs = [Wildcard(f)._b for f in filters]
        arr = (ctypes.c_char_p * len(bs))(*bs)
        lens = (ctypes.c_int32 * len(bs))(*[len(b) for b in bs])
        h = self._live()
        pl = proplist(properties)
        mid = self._L.lmq_client_unsubscribe(h, arr, lens, len(bs), pl.ptr if pl else None)
        if mid < 0:
            check(mid, h)
        return await self._request(mid, timeout, "unsubscribe")

    def _track(self, mid: int, fut: asyncio.Future) -> None:
        pending = self._pending
        pending[mid] = fut
        # Once each time the count rises past the threshold (aiomqtt warns
        # on every call above it, which floods a busy publisher's log).
        if len(pending) == self.pending_calls_threshold + 1:
            self._logger.warning("There are %d pending publish calls.", len(pending))

    async def _request(self, mid: int, timeout: Optional[float], what: str):
        fut = self._loop.create_future()
        self._track(mid, fut)
        self._pump()
        return await self._wait(fut, timeout, what)

    def ack(self, message: Message, reason: int = 0) -> None:
        """Acknowledge a QoS 1/2 message received with manual_ack=True
        (reason, MQTT 5: 0 or an error reason >= 0x80)."""
        if not message.ack_id:
            if message.qos == 0:
                return          # nothing to acknowledge
            raise MqttInvalidArgument(_ffi.LMQ_EINVAL,
                                      "this message has no ack handle (manual_ack is off)")
        h = self._live()
        check(self._L.lmq_client_ack(h, message.ack_id, reason), h)
        self._pump()

    @property
    def pending_calls(self) -> int:
        """Publish / subscribe / unsubscribe calls waiting for completion."""
        return len(self._pending)
