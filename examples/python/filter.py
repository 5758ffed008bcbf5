"""Two ways to tell messages apart: Topic.matches() in one loop, or a
queue per filter with client.messages.filter() (lunamq's router)."""
import asyncio

from lunamq.aio import Client

import _args


async def main(a):
    p = a.prefix
    async with Client(a.host, a.port) as client:
        await client.subscribe([(p + "/temperature/#", 1), (p + "/humidity/#", 1)])
        # Humidity goes to a queue of its own, read by its own task, from
        # the moment the filter exists; the rest stays in client.messages.
        async with client.messages.filter(p + "/humidity/+") as humidity:
            async def humidity_reader():
                async for m in humidity:
                    print("humidity", m.topic.value.rsplit("/", 1)[1], m.payload.decode())
                    if m.topic.matches(p + "/humidity/outside"):
                        return
            reader = asyncio.ensure_future(humidity_reader())

            for where in ("inside", "outside"):
                await client.publish("%s/humidity/%s" % (p, where), 40, qos=1)
                await client.publish("%s/temperature/%s" % (p, where), 21, qos=1)

            # One loop branching on the topic (the aiomqtt way).
            n = 0
            async for m in client.messages:
                if m.topic.matches(p + "/temperature/inside"):
                    print("inside:", m.payload.decode())
                elif m.topic.matches(p + "/temperature/+"):
                    print("elsewhere:", m.payload.decode())
                n += 1
                if n == 2:
                    break
            await reader


if __name__ == "__main__":
    asyncio.run(main(_args.parse(__doc__)))
