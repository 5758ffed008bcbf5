"""Surviving a lost connection, two ways.

aiomqtt leaves it to the application: catch MqttError, wait, enter the
client again.  lunamq.aio can do that inside the engine instead
(reconnect=True): backoff between the two reconnect_delay bounds, the
subscriptions renewed, publishes made while offline held in a bounded
queue and sent after the reconnect; `async for` simply goes on.
"""
import asyncio

from lunamq import MqttError
from lunamq.aio import Client

import _args


async def by_hand(a, interval=1.0):
    """The aiomqtt pattern: the loop owns reconnecting."""
    client = Client(a.host, a.port)
    while True:
        try:
            async with client:
                await client.subscribe(a.prefix + "/#")
                await client.publish(a.prefix + "/by-hand", "hi", qos=1)
                async for message in client.messages:
                    print("by hand:", message.topic, message.payload.decode())
                    return
        except MqttError as e:
            print("connection lost (%s); again in %.0f s" % (e, interval))
            await asyncio.sleep(interval)


async def automatic(a):
    """The engine reconnects; nothing to catch for a lost connection."""
    async with Client(a.host, a.port, reconnect=True, reconnect_delay=(0.5, 30)) as client:
        await client.subscribe(a.prefix + "/#")
        await client.publish(a.prefix + "/automatic", "hi", qos=1)
        async for message in client.messages:
            print("automatic:", message.topic, message.payload.decode(),
                  "(reconnects so far: %d)" % client.reconnects)
            return


if __name__ == "__main__":
    args = _args.parse(__doc__)
    asyncio.run(by_hand(args))
    asyncio.run(automatic(args))
