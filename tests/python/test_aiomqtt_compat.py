"""What aiomqtt 2.5.1's own test suite pins about its API, checked on
lunamq.aio with tests of our own: the names it exports, its errors and
their wording, topic validation, identifiers, the outgoing-call limit and
the pending-calls warning, queue_type, the logger, a client reusable but
not reentrant (also after a failed connect), Message.mid."""
import asyncio
import logging
import unittest

import lunamq.aio as aio
from lunamq.aio import (Client, MqttCodeError, MqttConnectError, MqttError,
                        MqttReentrantError, ProtocolVersion, Topic, Wildcard)
from lunamq import _ffi
from broker import Broker, free_port
from pyhelpers import BrokerTestCase, take, topic, within


class FakeReasonCode:
    """Shaped as paho's ReasonCode (a value and a name), without paho."""

    def __init__(self, value, name):
        self.value = value
        self._name = name

    def getName(self):
        return self._name

    def __str__(self):
        return self._name


class TestNames(unittest.TestCase):
    def test_the_names_aiomqtt_exports_exist(self):
        for name in ("Client", "Message", "MessagesIterator", "MqttCodeError", "MqttError",
                     "MqttReentrantError", "ProtocolVersion", "ProxySettings",
                     "TLSParameters", "Topic", "TopicLike", "Wildcard", "WildcardLike",
                     "Will", "PayloadType", "SubscribeTopic", "SocketOption",
                     "WebSocketHeaders", "__version__", "__version_tuple__"):
            self.assertTrue(hasattr(aio, name), name)
        self.assertEqual(aio.__version_tuple__,
                         tuple(int(x) for x in aio.__version__.split(".")))
        p = aio.ProxySettings(proxy_type=2, proxy_addr="127.0.0.1", proxy_port=1080)
        self.assertEqual(p.proxy_args["proxy_port"], 1080)


class TestErrors(unittest.TestCase):
    def test_a_bare_error_number_reads_as_aiomqtt_says(self):
        self.assertEqual(str(MqttCodeError(0)), "[code:0] No error.")
        self.assertEqual(str(MqttCodeError(7)), "[code:7] The connection was lost.")
        self.assertEqual(str(MqttCodeError(-1)), "[code:-1] Unknown error.")
        self.assertEqual(str(MqttCodeError(None)), "[code:None] ")
        self.assertEqual(str(MqttCodeError(None, "why")), "[code:None] why")

    def test_a_reason_code_object_gives_its_value_and_name(self):
        rc = FakeReasonCode(0x87, "Not authorized")
        self.assertEqual(str(MqttCodeError(rc)), "[code:135] Not authorized")
        self.assertEqual(str(MqttConnectError(rc)), "[code:135] Not authorized")
        self.assertIs(MqttConnectError(rc).rc, rc)

    def test_a_connect_error_from_a_return_code(self):
        # 3.1.1 CONNACK return codes (section 3.2.2.3)
        self.assertEqual(set(aio._CONNECT_RC_STRINGS), {1, 2, 3, 4, 5})
        e = MqttConnectError(1)
        self.assertEqual(e.args[0], "Connection refused: Incorrect protocol version")
        self.assertEqual(str(e), "[code:1] Out of memory.")
        self.assertEqual(MqttConnectError(5).args[0], "Connection refused: Not authorised")
        self.assertEqual(MqttConnectError(0).args[0], "Connection refused")
        self.assertEqual(MqttConnectError(5).rc, 5)

    def test_lunamq_codes_keep_their_name_and_text(self):
        e = MqttCodeError(_ffi.LMQ_ECONNECT, "cannot connect")
        self.assertEqual(e.code, _ffi.LMQ_ECONNECT)
        self.assertEqual(e.name, "LMQ_ECONNECT")
        self.assertEqual(str(e), "[code:%d] cannot connect" % _ffi.LMQ_ECONNECT)


class TestTopics(unittest.TestCase):
    def test_bad_topics_and_wildcards_are_named_in_aiomqtt_words(self):
        for bad in (True, 1.0, None, []):
            with self.assertRaises(TypeError):
                Topic(bad)
            with self.assertRaises(TypeError):
                Wildcard(bad)
        for bad in ("a/b/#", "a/+/c", "#", "", "a" * 65536):
            with self.assertRaisesRegex(ValueError, "Invalid topic: "):
                Topic(bad)
        for bad in ("a/#/c", "a/b+/c", "a/b/#c", "", "a" * 65536):
            with self.assertRaisesRegex(ValueError, "Invalid wildcard: "):
                Wildcard(bad)

    def test_shared_subscriptions_match_on_their_filter(self):
        t = Topic("a/b/c")
        self.assertTrue(t.matches("$share/group/a/b/c"))
        self.assertTrue(t.matches("$share/group/a/b/+"))
        self.assertFalse(t.matches("$share/a/b/c"))
        self.assertFalse(t.matches("$test/group/a/b/c"))
        self.assertFalse(t.matches("a/b/c/+"))
        self.assertTrue(t.matches("a/b/c/#"))     # [MQTT-4.7.1-2] # matches the parent

    def test_identifiers_fit_mqtt_3_1(self):
        # 3.1 servers take 1 to 23 characters; 3.1.1 and 5 may assign one
        self.assertEqual(len(Client("localhost", protocol=ProtocolVersion.V31).identifier), 22)
        self.assertEqual(Client("localhost", protocol=ProtocolVersion.V311).identifier, "")
        self.assertEqual(Client("localhost", protocol=ProtocolVersion.V5).identifier, "")


class TestClient(BrokerTestCase):
    def client(self, **kw):
        return Client("127.0.0.1", self.broker.port, **kw)

    async def test_max_concurrent_outgoing_calls_runs_one_at_a_time(self):
        t = topic("outgoing")
        async with self.client(max_concurrent_outgoing_calls=1) as c:
            busy = []

            async def call(aw):
                busy.append(c._outgoing_calls_sem.locked())
                await aw
            await within(asyncio.gather(*(call(c.publish(t, b"%d" % i, qos=1))
                                          for i in range(5)),
                                        call(c.subscribe(t)), call(c.unsubscribe(t))))
            self.assertLessEqual(c.pending_calls, 1)
        async with self.client() as c:
            self.assertIsNone(c._outgoing_calls_sem)

    async def test_too_many_pending_calls_warn_on_the_mqtt_logger(self):
        t = topic("pending")
        async with self.client() as c:
            c.pending_calls_threshold = 5
            with self.assertLogs("mqtt", logging.WARNING) as logs:
                await within(asyncio.gather(*(c.publish(t, "x", qos=1) for _ in range(6))))
        self.assertEqual(logs.output, ["WARNING:mqtt:There are 6 pending publish calls."])

    async def test_a_logger_given_is_the_one_used(self):
        log = logging.getLogger("lmq-test-logger")
        c = Client("127.0.0.1", free_port(), logger=log, timeout=5)
        self.assertIs(c._logger, log)
        with self.assertLogs(log, logging.DEBUG):
            with self.assertRaises(MqttConnectError):
                await within(c.__aenter__())
            log.debug("marker")      # assertLogs needs one record at least

    async def test_queue_type_orders_the_messages(self):
        t = topic("lifo")
        async with self.client(queue_type=asyncio.LifoQueue) as c:
            await within(c.subscribe(t, qos=1))
            for i in range(3):
                await within(c.publish(t, b"%d" % i, qos=1))
            while len(c.messages) < 3:
                await asyncio.sleep(0.01)
            got = [m.payload for m in await take(c.messages, 3)]
        self.assertEqual(got, [b"2", b"1", b"0"])

    async def test_message_mid_is_the_packet_id(self):
        t = topic("mid")
        async with self.client() as c:
            await within(c.subscribe(t, qos=2))
            await within(c.publish(t, "zero", qos=0))
            await within(c.publish(t, "one", qos=1))
            m0, m1 = await take(c.messages, 2)
        self.assertEqual(m0.mid, 0)               # QoS 0 has no packet id
        self.assertTrue(0 < m1.mid < 65536)       # [MQTT-2.2.1-3]
        self.assertTrue(m0 < m1)                  # ordered by mid, as aiomqtt's

    async def test_properties_read_as_a_dict_and_as_paho_attributes(self):
        t = topic("props")
        async with self.client(protocol=5) as c:
            await within(c.subscribe(t, qos=1, properties={"subscription_identifier": 3}))
            await within(c.publish(t, "p", qos=1, properties={
                "content_type": "text/plain", "user_property": [("k", "v")]}))
            (m,) = await take(c.messages, 1)
        p = m.properties
        self.assertIsInstance(p, dict)
        self.assertEqual(p["content_type"], "text/plain")
        self.assertEqual(p.ContentType, "text/plain")
        self.assertEqual(p.UserProperty, [("k", "v")])
        self.assertEqual(p.SubscriptionIdentifier, [3])
        self.assertFalse(hasattr(p, "ResponseTopic"))    # absent, as in paho

    async def test_paho_subscribe_options_are_accepted(self):
        class PahoLike:          # paho.mqtt.subscribeoptions.SubscribeOptions' fields
            QoS, noLocal, retainAsPublished, retainHandling = 1, True, False, 0

        class PahoLocal(PahoLike):
            noLocal = False
        t = topic("nolocal")
        async with self.client(protocol=5) as c:
            self.assertEqual(await within(c.subscribe(t, options=PahoLike())), (1,))
            self.assertEqual(await within(c.subscribe([(t + "/b", PahoLocal())])), (1,))
            await within(c.publish(t, "own", qos=1))        # no local: not back
            await within(c.publish(t + "/b", "marker", qos=1))
            (m,) = await take(c.messages, 1)
        self.assertEqual(m.topic.value, t + "/b")

    async def test_a_filter_takes_the_matching_messages_already_waiting(self):
        t = topic("filter")
        async with self.client() as c:
            await within(c.subscribe(t + "/#", qos=1))
            for sub in ("a", "b", "a"):
                await within(c.publish("%s/%s" % (t, sub), sub, qos=1))
            while len(c.messages) < 3:
                await asyncio.sleep(0.01)
            async with c.messages.filter(t + "/a") as only_a:
                got = await take(only_a, 2)
                self.assertEqual([m.topic.value for m in got], [t + "/a"] * 2)
                self.assertEqual(len(c.messages), 1)    # b stays where it was

    async def test_reusable_but_not_reentrant(self):
        t = topic("reuse")
        c = self.client()
        async with c:
            await within(c.publish(t, "a"))
            with self.assertRaises(MqttReentrantError):
                async with c:
                    pass
        async with c:
            await within(c.publish(t, "b"))
        await c.__aexit__(None, None, None)      # again, and never entered: no-op
        await self.client().__aexit__(None, None, None)

    async def test_the_state_is_reset_after_each_kind_of_failed_connect(self):
        refusing = Broker(extra="allow_anonymous false").start()
        try:
            cases = [
                ("no server", Client("127.0.0.1", free_port(), timeout=5)),
                ("no CONNACK in time", self.client(timeout=0)),
                ("CONNACK refused", Client("127.0.0.1", refusing.port, protocol=5)),
            ]
            for what, c in cases:
                with self.assertRaises(MqttError, msg=what) as cm:
                    await within(c.__aenter__())
                if what == "CONNACK refused":
                    # e.rc is the server's reason code, as aiomqtt's
                    self.assertEqual(cm.exception.rc, 0x87)
                    self.assertEqual(cm.exception.code, _ffi.LMQ_EREFUSED)
                self.assertIsNone(c._h, what)
                self.assertFalse(c.connected, what)
                # nothing left half-open: the same object connects again
                c._port, c._timeout = self.broker.port, 10.0
                async with c:
                    self.assertTrue(c.connected, what)
        finally:
            refusing.stop()


if __name__ == "__main__":
    unittest.main()
