"""Listen in a background task while the program does other work, then
stop the listener cleanly (cancelling the message iterator leaves the
client usable)."""
import asyncio

from lunamq.aio import Client

import _args


async def listen(client, seen, want, enough):
    async for message in client.messages:
        seen.append(message.payload.decode())
        print("heard", seen[-1], flush=True)
        if len(seen) == want:
            enough.set()


async def main(a):
    seen = []
    enough = asyncio.Event()
    async with Client(a.host, a.port) as client:
        await client.subscribe(a.prefix + "/background", qos=1)
        listener = asyncio.ensure_future(listen(client, seen, a.count, enough))
        for i in range(a.count):                      # the "other work"
            await client.publish(a.prefix + "/background", "tick %d" % i, qos=1)
        await asyncio.wait_for(enough.wait(), 10)
        listener.cancel()
        try:
            await listener
        except asyncio.CancelledError:
            pass
        # still connected and usable after the cancellation
        await client.publish(a.prefix + "/background", "done", qos=1)
    print("listener stopped after", len(seen), "messages")


if __name__ == "__main__":
    asyncio.run(main(_args.parse(__doc__, count=3)))
