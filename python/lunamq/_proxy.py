"""aiomqtt's ProxySettings, mapped onto the engine's proxy option.

aiomqtt hands ProxySettings to paho's ``proxy_set`` (PySocks underneath);
here the engine itself speaks SOCKS5 and HTTP CONNECT (LMQ_OPT_PROXY), so
the settings become one proxy URL:

    proxy_type socks.SOCKS5 (2), proxy_rdns True   ->  socks5h://  (the proxy resolves)
    proxy_type socks.SOCKS5 (2), proxy_rdns False  ->  socks5://   (resolved here)
    proxy_type socks.HTTP (3)                      ->  http://     (HTTP CONNECT)

PySocks' default ports apply (1080 for SOCKS, 8080 for HTTP).  SOCKS4
(proxy_type 1) is refused with MqttInvalidArgument.  ``proxy=`` also takes
a proxy URL string, or aiomqtt's own ProxySettings object (its
``proxy_args``).
"""
from __future__ import annotations

from typing import Any, Dict, Optional
from urllib.parse import quote

from . import _ffi
from ._common import MqttInvalidArgument

# PySocks' constants (socks.SOCKS4, socks.SOCKS5, socks.HTTP), so that
# callers need not import it.
SOCKS4, SOCKS5, HTTP = 1, 2, 3


class ProxySettings:
    """A proxy as aiomqtt takes it (keyword arguments of paho's proxy_set)."""

    def __init__(self, *, proxy_type: int, proxy_addr: str,
                 proxy_rdns: Optional[bool] = True,
                 proxy_username: Optional[str] = None,
                 proxy_password: Optional[str] = None,
                 proxy_port: Optional[int] = None) -> None:
        self.proxy_args: Dict[str, Any] = {
            "proxy_type": proxy_type,
            "proxy_addr": proxy_addr,
            "proxy_rdns": proxy_rdns,
            "proxy_username": proxy_username,
            "proxy_password": proxy_password,
            "proxy_port": proxy_port,
        }

    def __repr__(self) -> str:
        shown = dict(self.proxy_args)
        if shown.get("proxy_password") is not None:
            shown["proxy_password"] = "***"
        return "ProxySettings(%s)" % ", ".join("%s=%r" % kv for kv in shown.items())


def _text(v: Any) -> str:
    return v.decode("utf-8") if isinstance(v, (bytes, bytearray)) else str(v)


def proxy_url(proxy: Any) -> Optional[str]:
    """The engine's proxy URL for ``proxy=`` (None: no proxy)."""
    if proxy is None:
        return None
    if isinstance(proxy, str):
        return proxy            # the engine checks it at connect set-up
    args = getattr(proxy, "proxy_args", None)
    if not isinstance(args, dict):
        raise MqttInvalidArgument(_ffi.LMQ_EINVAL,
                                  "proxy: a ProxySettings or a proxy URL string, not %r"
                                  % (proxy,))
    kind = args.get("proxy_type")
    addr = args.get("proxy_addr")
    if not addr:
        raise MqttInvalidArgument(_ffi.LMQ_EINVAL, "proxy: proxy_addr is required")
    if kind == SOCKS5:
        scheme = "socks5h" if args.get("proxy_rdns", True) else "socks5"
    elif kind == HTTP:
        scheme = "http"
    elif kind == SOCKS4:
        raise MqttInvalidArgument(_ffi.LMQ_EINVAL,
                                  "proxy: SOCKS4 is not supported (SOCKS5 and HTTP are)")
    else:
        raise MqttInvalidArgument(_ffi.LMQ_EINVAL,
                                  "proxy: proxy_type %r is not socks.SOCKS5 (2) or "
                                  "socks.HTTP (3)" % (kind,))
    user, password = args.get("proxy_username"), args.get("proxy_password")
    cred = ""
    if user is not None:
        cred = quote(_text(user), safe="")
        if password is not None:
            cred += ":" + quote(_text(password), safe="")
        cred += "@"
    host = _text(addr)
    if ":" in host and not host.startswith("["):
        host = "[%s]" % host
    port = args.get("proxy_port")
    return "%s://%s%s%s" % (scheme, cred, host, "" if port is None else ":%d" % int(port))
