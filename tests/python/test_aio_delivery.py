"""lunamq.aio never drops what it accepted (issue 18): a loop of
publish(qos=0) is held back by the unwritten backlog, and leaving
`async with` delivers everything first, or raises."""
import asyncio
import socket
import threading
import unittest

import lunamq
from lunamq import _ffi
from lunamq.aio import Client
from broker import Broker
from pyhelpers import topic


class TestAioDelivery(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.broker = Broker().start()

    @classmethod
    def tearDownClass(cls):
        cls.broker.stop()

    def test_a_loop_of_qos0_publishes_arrives_whole(self):
        n = 50000
        t = topic("aioq0")
        port = self.broker.port

        async def run():
            got = []
            async with Client("127.0.0.1", port=port) as sub:
                await sub.subscribe(t, qos=0)
                async with Client("127.0.0.1", port=port) as pub:
                    for i in range(n):
                        await pub.publish(t, b"%d" % i, qos=0)
                # the publisher left `async with`: everything was written
                async def collect():
                    async for m in sub.messages:
                        got.append(m.payload)
                        if len(got) == n:
                            return
                await asyncio.wait_for(collect(), 30)
            return got

        got = asyncio.run(run())
        self.assertEqual(got, [b"%d" % i for i in range(n)])

    def test_leaving_async_with_raises_when_messages_were_not_delivered(self):
        # a server that takes the connection and never acknowledges
        srv = socket.socket()
        srv.bind(("127.0.0.1", 0))
        srv.listen(1)
        port = srv.getsockname()[1]
        conns = []

        def serve():
            c, _ = srv.accept()
            conns.append(c)
            c.recv(1024)                        # CONNECT
            c.sendall(b"\x20\x02\x00\x00")      # CONNACK (3.1.1)
            while c.recv(1024):                 # PUBLISH, DISCONNECT: never acked
                pass

        th = threading.Thread(target=serve, daemon=True)
        th.start()

        async def run():
            async with Client("127.0.0.1", port=port, protocol=4) as c:
                c._L.lmq_client_set_int(c._h, _ffi.LMQ_OPT_DRAIN_TIMEOUT_MS, 200)
                fut = asyncio.ensure_future(c.publish("a", b"x", qos=1))
                await asyncio.sleep(0)
                fut.cancel()

        with self.assertRaises(lunamq.MqttError) as cm:
            asyncio.run(run())
        self.assertIn("not delivered", str(cm.exception))
        for c in conns:
            c.close()
        srv.close()


if __name__ == "__main__":
    unittest.main()
