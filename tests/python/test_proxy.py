"""lunamq.aio's proxy= (aiomqtt's ProxySettings) through real proxies:
danted (SOCKS5) and tinyproxy (HTTP CONNECT with Basic credentials), run by
tests/support/proxy.sh in front of mosquitto."""
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest

from lunamq import _ffi
from lunamq.aio import Client, ProxySettings
from lunamq._common import MqttConnectError, MqttInvalidArgument
from lunamq._proxy import HTTP, SOCKS4, SOCKS5, proxy_url
from broker import SUPPORT, Broker, free_port
from pyhelpers import take, topic, within

START_DEADLINE = 10.0


class Proxy:
    """proxy.sh KIND in a temporary directory, on a free port."""

    def __init__(self, kind, user=None, password=None, more=()):
        self.dir = tempfile.mkdtemp(prefix="lmq-pyproxy-")
        self.port = free_port()
        args = ["/bin/sh", os.path.join(SUPPORT, "proxy.sh"), kind, self.dir, str(self.port),
                user or "-", password or "-"] + [str(m) for m in more]
        self.out = open(os.path.join(self.dir, "out.log"), "w")
        self.proc = subprocess.Popen(args, stdout=self.out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + START_DEADLINE
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.02)
        self.stop()
        raise RuntimeError("%s did not start (scripts/bootstrap installs it)" % kind)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.out.close()
        shutil.rmtree(self.dir, ignore_errors=True)


class TestProxySettingsMapping(unittest.TestCase):
    def test_aiomqtt_settings_become_the_engine_url(self):
        self.assertEqual(proxy_url(ProxySettings(proxy_type=SOCKS5, proxy_addr="p.lan")),
                         "socks5h://p.lan")
        self.assertEqual(proxy_url(ProxySettings(proxy_type=SOCKS5, proxy_addr="::1",
                                                 proxy_rdns=False, proxy_port=1081)),
                         "socks5://[::1]:1081")
        self.assertEqual(proxy_url(ProxySettings(proxy_type=HTTP, proxy_addr="10.0.0.1",
                                                 proxy_port=3128, proxy_username="a@b",
                                                 proxy_password="p:w")),
                         "http://a%40b:p%3Aw@10.0.0.1:3128")
        self.assertEqual(proxy_url("socks5://h:1"), "socks5://h:1")
        self.assertIsNone(proxy_url(None))
        self.assertNotIn("p:w", repr(ProxySettings(proxy_type=HTTP, proxy_addr="h",
                                                   proxy_password="p:w")))

    def test_what_cannot_be_carried_is_refused_at_construction(self):
        with self.assertRaisesRegex(MqttInvalidArgument, "SOCKS4 is not supported"):
            Client("localhost", proxy=ProxySettings(proxy_type=SOCKS4, proxy_addr="h"))
        with self.assertRaisesRegex(MqttInvalidArgument, "proxy_type 9"):
            Client("localhost", proxy=ProxySettings(proxy_type=9, proxy_addr="h"))
        with self.assertRaises(MqttInvalidArgument):
            Client("localhost", proxy=42)


class TestThroughRealProxies(unittest.IsolatedAsyncioTestCase):
    @classmethod
    def setUpClass(cls):
        cls.broker = Broker().start()
        cls.socks = Proxy("danted", more=[0])
        cls.http = Proxy("tinyproxy", "alice", "wonder-5", more=[cls.broker.port])

    @classmethod
    def tearDownClass(cls):
        cls.socks.stop()
        cls.http.stop()
        cls.broker.stop()

    async def pubsub(self, c):
        t = topic("proxy")
        await within(c.subscribe(t, qos=1))
        await within(c.publish(t, "via proxy", qos=1))
        (m,) = await take(c.messages, 1)
        self.assertEqual(m.payload, b"via proxy")

    async def test_socks5_with_remote_dns_reaches_a_name_only_the_proxy_knows(self):
        proxy = ProxySettings(proxy_type=SOCKS5, proxy_addr="127.0.0.1",
                              proxy_port=self.socks.port, proxy_rdns=True)
        async with Client("broker.proxy-side.test", self.broker.port, proxy=proxy) as c:
            await self.pubsub(c)

    async def test_http_connect_with_credentials(self):
        proxy = ProxySettings(proxy_type=HTTP, proxy_addr="127.0.0.1", proxy_port=self.http.port,
                              proxy_username="alice", proxy_password="wonder-5")
        async with Client("127.0.0.1", self.broker.port, proxy=proxy) as c:
            await self.pubsub(c)

    async def test_http_wrong_password_is_a_connect_error_with_the_status_line(self):
        proxy = ProxySettings(proxy_type=HTTP, proxy_addr="127.0.0.1", proxy_port=self.http.port,
                              proxy_username="alice", proxy_password="nope")
        c = Client("127.0.0.1", self.broker.port, proxy=proxy, timeout=5)
        with self.assertRaises(MqttConnectError) as cm:
            await within(c.__aenter__())
        self.assertEqual(cm.exception.rc, _ffi.LMQ_EPROXY_AUTH)
        self.assertIn("HTTP/1.", str(cm.exception))

    async def test_proxy_down_is_EPROXY_UNREACHABLE(self):
        c = Client("127.0.0.1", self.broker.port, proxy="socks5://127.0.0.1:%d" % free_port(),
                   timeout=5)
        with self.assertRaises(MqttConnectError) as cm:
            await within(c.__aenter__())
        self.assertEqual(cm.exception.rc, _ffi.LMQ_EPROXY_UNREACHABLE)


if __name__ == "__main__":
    unittest.main()
