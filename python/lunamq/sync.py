"""Blocking helpers for scripts, in the manner of paho's publish.single and
subscribe.simple.  Each call runs a short-lived asyncio loop of its own, so
they cannot be called from a running loop (use lunamq.aio there)."""
from __future__ import annotations

import asyncio
from typing import Any, Iterable, List, Optional, Sequence, Tuple, Union

from ._common import Message
from .aio import Client


def _run(coro):
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    coro.close()
    raise RuntimeError("lunamq's blocking helpers cannot run inside an event loop: "
                       "use lunamq.aio.Client")


def publish_multiple(msgs: Iterable[Union[dict, Tuple]], hostname: str = "localhost",
                     port: Optional[int] = None, **client_args: Any) -> None:
    """Connect, publish each message (a dict with topic, payload, qos,
    retain, properties, or a tuple in that order), wait for each to
    complete, disconnect."""
    async def go():
        async with Client(hostname, port, **client_args) as c:
            for m in msgs:
                if isinstance(m, dict):
                    await c.publish(**m)
                else:
                    await c.publish(*m)
    _run(go())


def publish_single(topic: str, payload: Any = None, qos: int = 0, retain: bool = False,
                   hostname: str = "localhost", port: Optional[int] = None,
                   properties: Any = None, **client_args: Any) -> None:
    """Connect, publish one message, wait for it to complete, disconnect."""
    publish_multiple([dict(topic=topic, payload=payload, qos=qos, retain=retain,
                           properties=properties)], hostname, port, **client_args)


def subscribe_simple(topics: Union[str, Sequence[str]], qos: int = 0, msg_count: int = 1,
                     retained: bool = True, hostname: str = "localhost",
                     port: Optional[int] = None, timeout: Optional[float] = None,
                     **client_args: Any) -> Union[Message, List[Message]]:
    """Subscribe to one or more filters and return the first message
    (msg_count 1) or a list of msg_count messages; retained=False skips
    retained messages.  `timeout` (seconds, None: wait for ever) raises
    lunamq.aio.MqttTimeoutError when it passes first."""
    if msg_count < 1:
        raise ValueError("msg_count must be at least 1")
    filters = [topics] if isinstance(topics, str) else list(topics)

    async def go():
        got: List[Message] = []
        async with Client(hostname, port, **client_args) as c:
            await c.subscribe([(f, qos) for f in filters])
            async for m in c.messages:
                if m.retain and not retained:
                    continue
                got.append(m)
                if len(got) >= msg_count:
                    break
        return got

    async def bounded():
        if timeout is None:
            return await go()
        try:
            return await asyncio.wait_for(go(), timeout)
        except asyncio.TimeoutError:
            from .aio import MqttTimeoutError
            raise MqttTimeoutError("subscribe_simple: no message within %ss" % timeout) from None

    got = _run(bounded())
    return got[0] if msg_count == 1 else got
