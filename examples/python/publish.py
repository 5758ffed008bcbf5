"""Publish one reading and leave: the smallest lunamq.aio program."""
import asyncio

from lunamq.aio import Client

import _args


async def main(a):
    async with Client(a.host, a.port) as client:
        # Returns once the broker has it (QoS 1: its PUBACK came back).
        await client.publish(a.prefix + "/temperature/outside", payload=28.4, qos=1)
    print("published")


if __name__ == "__main__":
    asyncio.run(main(_args.parse(__doc__)))
