"""lunamq.aio over TLS (mosquitto's TLS listener, certificates from
tests/support/make_certs.sh) and over WebSocket (tests/support/ws_bridge.py
in front of mosquitto)."""
import asyncio
import os
import ssl
import subprocess
import unittest

from lunamq import Client, MqttConnectError, TLSParameters
from lunamq import _ffi
from broker import SUPPORT, Broker, make_certs
from pyhelpers import take, topic, within

BRIDGE_DEADLINE = 10.0


class TestTLS(unittest.IsolatedAsyncioTestCase):
    @classmethod
    def setUpClass(cls):
        cls.certs = make_certs()
        cls.broker = Broker(tls_dir=cls.certs).start()

    @classmethod
    def tearDownClass(cls):
        cls.broker.stop()

    def cert(self, name):
        return os.path.join(self.certs, name)

    async def pubsub(self, c):
        t = topic("tls")
        await within(c.subscribe(t, qos=1))
        await within(c.publish(t, "secret", qos=1))
        (m,) = await take(c.messages, 1)
        self.assertEqual(m.payload, b"secret")

    async def test_tls_with_the_ca_verifies_the_server_and_carries_messages(self):
        async with Client("localhost", self.broker.tls_port, protocol=5,
                          tls_params=TLSParameters(ca_certs=self.cert("ca.crt"))) as c:
            await self.pubsub(c)

    async def test_tls_refuses_a_server_signed_by_an_unknown_ca(self):
        c = Client("localhost", self.broker.tls_port,
                   tls_params=TLSParameters(ca_certs=self.cert("other-ca.crt")))
        with self.assertRaises(MqttConnectError) as cm:
            await within(c.__aenter__())
        self.assertEqual(cm.exception.rc, _ffi.LMQ_ETLS_UNKNOWN_CA)

    async def test_tls_context_without_verification_connects(self):
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        async with Client("127.0.0.1", self.broker.tls_port, tls_context=ctx) as c:
            await self.pubsub(c)

    async def test_tls_context_cas_are_the_trust_store(self):
        # aiomqtt's way: an SSLContext with its CAs loaded; they are carried
        # to the engine, never replaced by the system's store
        ctx = ssl.create_default_context(cafile=self.cert("ca.crt"))
        async with Client("localhost", self.broker.tls_port, protocol=5, tls_context=ctx) as c:
            await self.pubsub(c)
        other = ssl.create_default_context(cafile=self.cert("other-ca.crt"))
        c = Client("localhost", self.broker.tls_port, tls_context=other)
        with self.assertRaises(MqttConnectError) as cm:
            await within(c.__aenter__())
        self.assertEqual(cm.exception.rc, _ffi.LMQ_ETLS_UNKNOWN_CA)
        with self.assertRaises(ValueError):
            Client("localhost", tls_context="not a context")

    async def test_tls_to_a_plain_listener_fails_with_a_tls_error(self):
        c = Client("localhost", self.broker.port, timeout=5,
                   tls_params=TLSParameters(ca_certs=self.cert("ca.crt")))
        with self.assertRaises(MqttConnectError) as cm:
            await within(c.__aenter__())
        self.assertLessEqual(cm.exception.rc, _ffi.LMQ_ETLS)


class Bridge:
    """tests/support/ws_bridge.py in front of the broker."""

    def __init__(self, target_port, *args):
        self.proc = subprocess.Popen(
            ["/usr/bin/python3", os.path.join(SUPPORT, "ws_bridge.py"),
             "--target-port", str(target_port)] + list(args),
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, universal_newlines=True)
        self.port = None

    async def ready(self):
        loop = asyncio.get_running_loop()
        line = await asyncio.wait_for(loop.run_in_executor(None, self.proc.stdout.readline),
                                      BRIDGE_DEADLINE)
        word, _, port = line.strip().partition(" ")
        if word != "READY":
            raise RuntimeError("ws_bridge.py did not start: %r" % line)
        self.port = int(port)
        return self

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc.stdout.close()


def have_websockets():
    return subprocess.run(["/usr/bin/python3", "-c", "import websockets"],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode == 0


@unittest.skipUnless(have_websockets(), "python3-websockets is missing (scripts/bootstrap)")
class TestWebSocket(unittest.IsolatedAsyncioTestCase):
    @classmethod
    def setUpClass(cls):
        cls.broker = Broker().start()

    @classmethod
    def tearDownClass(cls):
        cls.broker.stop()

    async def test_websocket_transport_with_path_and_headers(self):
        b = await Bridge(self.broker.port, "--path", "/mq",
                         "--require-header", "X-Token: 42").ready()
        try:
            t = topic("ws")
            async with Client("127.0.0.1", b.port, transport="websockets", protocol=5,
                              websocket_path="/mq",
                              websocket_headers={"X-Token": "42"}) as c:
                await within(c.subscribe(t, qos=2))
                for q in (0, 1, 2):
                    await within(c.publish(t, b"ws %d" % q, qos=q))
                got = sorted(m.payload for m in await take(c.messages, 3))
            self.assertEqual(got, [b"ws 0", b"ws 1", b"ws 2"])
        finally:
            b.stop()

    async def test_websocket_upgrade_refused_is_a_connect_error(self):
        b = await Bridge(self.broker.port, "--path", "/elsewhere").ready()
        try:
            c = Client("127.0.0.1", b.port, transport="websockets", timeout=5)
            with self.assertRaises(MqttConnectError) as cm:
                await within(c.__aenter__())
            self.assertEqual(cm.exception.rc, _ffi.LMQ_EWS_UPGRADE)
        finally:
            b.stop()


if __name__ == "__main__":
    unittest.main()
