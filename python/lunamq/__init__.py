"""lunamq - an MQTT 3.1 / 3.1.1 / 5.0 client: a pure-Python package over the
lunamq C engine (liblunamq, loaded with ctypes).

    lunamq.aio.Client                  the asyncio client (aiomqtt's API)
    lunamq.publish_single / subscribe_simple   blocking helpers for scripts

The library is found through $LUNAMQ_LIBRARY, next to this package, or on
the system path (lunamq._ffi says how).
"""
# First: lunamq.aio reads it while this package is being imported.
__version__ = "0.1.0"

from ._common import (Message, MqttCodeError, MqttConnectError, MqttError,
                      MqttInvalidArgument, MqttReentrantError, ProtocolVersion,
                      SubscribeOptions, TLSParameters, Topic, Wildcard, Will)
from ._ffi import LibraryNotFound
from .aio import Client, MqttTimeoutError
from .sync import publish_multiple, publish_single, subscribe_simple


__all__ = [
    "Client", "Message", "MqttCodeError", "MqttConnectError", "MqttError",
    "MqttInvalidArgument", "MqttReentrantError", "MqttTimeoutError", "ProtocolVersion",
    "SubscribeOptions", "TLSParameters", "Topic", "Wildcard", "Will", "LibraryNotFound",
    "publish_multiple", "publish_single", "subscribe_simple", "library_version",
]


def library_version() -> str:
    """The version of the loaded liblunamq."""
    from . import _ffi
    return _ffi.lib().lmq_version().decode()
