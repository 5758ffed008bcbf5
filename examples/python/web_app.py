"""A web service that talks MQTT, shaped like a FastAPI application but in
plain asyncio (no dependency): one client opened by the app's lifespan and
shared by every request, a background task keeping the last message of
each topic, and two routes:

    POST /publish/<topic>   body published at QoS 1; 202 once the broker has it
    GET  /last/<topic>      the last message seen on <topic>, 404 if none

With FastAPI the same pieces go into `lifespan` (an asynccontextmanager
passed to FastAPI(lifespan=...)) and two path operations calling
App.publish / App.last.

    web_app.py --http-port 8080          serve
    web_app.py --demo                    serve on a free port, call both routes, quit
"""
import argparse
import asyncio
import contextlib
import json

from lunamq import MqttError
from lunamq.aio import Client


class App:
    def __init__(self, mqtt_host, mqtt_port, prefix):
        self.mqtt_host, self.mqtt_port, self.prefix = mqtt_host, mqtt_port, prefix
        self.client = None
        self.last_seen = {}

    @contextlib.asynccontextmanager
    async def lifespan(self):
        # reconnect=True: a broker restart does not take the service down.
        async with Client(self.mqtt_host, self.mqtt_port, reconnect=True) as client:
            self.client = client
            await client.subscribe(self.prefix + "/#", qos=1)
            listener = asyncio.ensure_future(self._listen())
            try:
                yield self
            finally:
                listener.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await listener
                self.client = None

    async def _listen(self):
        async for m in self.client.messages:
            self.last_seen[m.topic.value] = m.payload.decode("utf-8", "replace")

    # -- the routes: (status, JSON-able body)

    async def publish(self, topic, body):
        try:
            await self.client.publish("%s/%s" % (self.prefix, topic), body, qos=1, timeout=5)
        except ValueError as e:          # a wildcard in the topic, ...
            return 400, {"error": str(e)}
        except MqttError as e:
            return 503, {"error": str(e)}
        return 202, {"published": topic}

    async def last(self, topic):
        full = "%s/%s" % (self.prefix, topic)
        if full not in self.last_seen:
            return 404, {"error": "nothing seen on " + topic}
        return 200, {"topic": topic, "payload": self.last_seen[full]}


async def handle_http(app, reader, writer):
    """Just enough HTTP/1.0 for the two routes."""
    try:
        request = (await reader.readline()).decode("latin-1").split()
        headers = {}
        while True:
            line = (await reader.readline()).decode("latin-1").strip()
            if not line:
                break
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
        body = await reader.readexactly(int(headers.get("content-length", "0")))
        method, path = (request + ["", ""])[:2]
        if method == "POST" and path.startswith("/publish/"):
            status, out = await app.publish(path[len("/publish/"):], body)
        elif method == "GET" and path.startswith("/last/"):
            status, out = await app.last(path[len("/last/"):])
        else:
            status, out = 404, {"error": "no route"}
        data = json.dumps(out).encode()
        writer.write(b"HTTP/1.0 %d X\r\nContent-Type: application/json\r\n"
                     b"Content-Length: %d\r\n\r\n%s" % (status, len(data), data))
        await writer.drain()
    finally:
        writer.close()


async def http_call(port, method, path, body=b""):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"%s %s HTTP/1.0\r\nContent-Length: %d\r\n\r\n%s"
                 % (method.encode(), path.encode(), len(body), body))
    data = await reader.read()
    writer.close()
    head, _, payload = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(payload)


async def main(a):
    app = App(a.host, a.port, a.prefix)
    async with app.lifespan():
        server = await asyncio.start_server(lambda r, w: handle_http(app, r, w),
                                            "127.0.0.1", 0 if a.demo else a.http_port)
        port = server.sockets[0].getsockname()[1]
        async with server:
            if not a.demo:
                print("serving on http://127.0.0.1:%d" % port)
                await server.serve_forever()
            print("POST", *await http_call(port, "POST", "/publish/greeting", b"hello"))
            print("POST", *await http_call(port, "POST", "/publish/bad/+", b"x"))
            for _ in range(100):          # the message makes the round trip
                status, out = await http_call(port, "GET", "/last/greeting")
                if status == 200:
                    break
                await asyncio.sleep(0.02)
            print("GET", status, out)


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--host", default="localhost")
    p.add_argument("--port", type=int, default=1883)
    p.add_argument("--http-port", type=int, default=8080)
    p.add_argument("--prefix", default="lunamq/examples/web")
    p.add_argument("--demo", action="store_true")
    asyncio.run(main(p.parse_args()))
