"""C plugins from Python: Client(..., plugins=[(path, config)]) loads them
when the client connects.  A plugin that cannot load makes `async with`
raise naming the file; the metrics plugin, polled from its tick (the
package runs the external driver: no loop of the engine's), answers an
HTTP scrape made from the same asyncio loop with the client's figures."""
import asyncio
import os
import tempfile
import unittest

from lunamq import Client, MqttError, MqttInvalidArgument
from lunamq import _ffi
from pyhelpers import BrokerTestCase, take, topic, within

PLUGINS = os.environ.get("LUNAMQ_PLUGIN_DIR", "build/plugins")
METRICS = os.path.join(PLUGINS, "metrics", "lunamq_metrics.so")


def sample(text, series):
    for line in text.splitlines():
        if line.startswith(series + " "):
            return float(line.split(" ", 1)[1])
    return None


async def scrape(port, path="/metrics"):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(("GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % path).encode())
    await writer.drain()
    data = await reader.read()          # the plugin closes after answering
    writer.close()
    return data.decode()


class TestPlugins(BrokerTestCase):
    def client(self, **kw):
        return Client("127.0.0.1", self.broker.port, **kw)

    async def test_a_plugin_that_cannot_load_is_refused_naming_the_file(self):
        with self.assertRaises(MqttError) as cm:
            async with self.client(plugins=[("/nonexistent/lunamq_x.so", "")]):
                pass
        self.assertEqual(cm.exception.rc, _ffi.LMQ_EPLUGIN_LOAD)
        self.assertIn("/nonexistent/lunamq_x.so", str(cm.exception))
        with self.assertRaises(MqttError) as cm:
            async with self.client(plugins=[(METRICS, "port=x")]):
                pass
        self.assertEqual(cm.exception.rc, _ffi.LMQ_EPLUGIN_INIT)
        self.assertIn("port must be 0..65535", str(cm.exception))
        with self.assertRaises(MqttInvalidArgument):
            self.client(plugins=[(METRICS, 9100)])

    async def test_metrics_plugin_serves_the_clients_figures(self):
        with tempfile.TemporaryDirectory() as d:
            pf = os.path.join(d, "port")
            t = topic("plug")
            async with self.client(protocol=5,
                                   plugins=[(METRICS, "port=0 port_file=" + pf)]) as c:
                with open(pf) as f:
                    port = int(f.read())
                self.assertGreater(port, 0)
                await within(c.subscribe(t + "/#", qos=1))
                await within(c.publish(t + "/a", b"12345", qos=1))
                await within(c.publish(t + "/b", b"xyz", qos=0))
                await take(c.messages, 2)
                text = await within(scrape(port))
                self.assertTrue(text.startswith("HTTP/1.1 200 OK\r\n"), text[:80])
                self.assertEqual(sample(text, 'lunamq_messages_total{direction="out",qos="1"}'), 1)
                self.assertEqual(sample(text, 'lunamq_messages_total{direction="in",qos="1"}'), 1)
                self.assertEqual(sample(text, 'lunamq_messages_total{direction="in",qos="0"}'), 1)
                self.assertEqual(
                    sample(text, 'lunamq_payload_bytes_total{direction="out",qos="1"}'), 5)
                self.assertEqual(
                    sample(text, 'lunamq_publish_ack_latency_seconds_count{qos="1"}'), 1)
                self.assertEqual(sample(text, "lunamq_connected"), 1)
                # The external driver: served from the tick, not a loop.
                self.assertEqual(sample(text, "lunamq_metrics_on_loop"), 0)
                self.assertIn("404 Not Found", (await within(scrape(port, "/x"))).split("\r\n")[0])


if __name__ == "__main__":
    unittest.main()
