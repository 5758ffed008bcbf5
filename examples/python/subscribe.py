"""Subscribe to a filter and print messages as they come."""
import asyncio

from lunamq.aio import Client

import _args


async def main(a):
    async with Client(a.host, a.port) as client:
        await client.subscribe(a.prefix + "/temperature/#", qos=1)
        print("subscribed", flush=True)
        n = 0
        async for message in client.messages:
            print(message.topic, message.payload.decode(), flush=True)
            n += 1
            if n == a.count:
                break


if __name__ == "__main__":
    asyncio.run(main(_args.parse(__doc__)))
