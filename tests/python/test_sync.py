"""The blocking helpers for scripts: lunamq.publish_single,
publish_multiple and subscribe_simple."""
import asyncio
import unittest

import lunamq
from broker import Broker
from pyhelpers import topic


class TestSyncHelpers(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.broker = Broker().start()

    @classmethod
    def tearDownClass(cls):
        cls.broker.stop()

    def test_publish_single_then_subscribe_simple_gets_the_retained_message(self):
        t = topic("sync")
        lunamq.publish_single(t, "hello", qos=1, retain=True, hostname="127.0.0.1",
                              port=self.broker.port)
        m = lunamq.subscribe_simple(t, qos=1, hostname="127.0.0.1", port=self.broker.port,
                                    timeout=10)
        self.assertEqual((m.topic.value, m.payload, m.retain), (t, b"hello", True))
        lunamq.publish_single(t, None, qos=1, retain=True, hostname="127.0.0.1",
                              port=self.broker.port)

    def test_publish_multiple_and_a_list_of_messages(self):
        t = topic("syncmulti")
        lunamq.publish_multiple([dict(topic=t + "/a", payload="1", qos=1, retain=True),
                                 (t + "/b", "2", 2, True)],
                                hostname="127.0.0.1", port=self.broker.port, protocol=5)
        got = lunamq.subscribe_simple(t + "/+", msg_count=2, hostname="127.0.0.1",
                                      port=self.broker.port, timeout=10)
        self.assertEqual(sorted(m.payload for m in got), [b"1", b"2"])
        for sub in ("/a", "/b"):
            lunamq.publish_single(t + sub, None, qos=1, retain=True, hostname="127.0.0.1",
                                  port=self.broker.port)

    def test_subscribe_simple_times_out_and_skips_retained_when_asked(self):
        t = topic("synctimeout")
        lunamq.publish_single(t, "old", qos=1, retain=True, hostname="127.0.0.1",
                              port=self.broker.port)
        with self.assertRaises(lunamq.MqttTimeoutError):
            lunamq.subscribe_simple(t, retained=False, hostname="127.0.0.1",
                                    port=self.broker.port, timeout=0.3)
        lunamq.publish_single(t, None, qos=1, retain=True, hostname="127.0.0.1",
                              port=self.broker.port)

    def test_helpers_refuse_to_run_inside_an_event_loop(self):
        async def inside():
            with self.assertRaises(RuntimeError):
                lunamq.publish_single("a", "b", hostname="127.0.0.1", port=self.broker.port)
        asyncio.run(inside())


if __name__ == "__main__":
    unittest.main()
