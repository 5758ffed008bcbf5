"""lunamq.aio.Client against a real mosquitto: publish and subscribe at
QoS 0/1/2 on 3.1.1 and 5, properties, concurrency, cancellation, errors,
routing, manual acks, backpressure, the Unix socket transport."""
import asyncio
import os
import unittest

from lunamq import (Client, MqttCodeError, MqttConnectError, MqttError,
                    MqttInvalidArgument, MqttReentrantError, MqttTimeoutError,
                    ProtocolVersion,
                    SubscribeOptions, Topic, Wildcard, Will)
from lunamq import _ffi
from broker import Broker, free_port
from pyhelpers import BrokerTestCase, take, topic, until, within


class TestPubSub(BrokerTestCase):
    def client(self, **kw):
        return Client("127.0.0.1", self.broker.port, **kw)

    async def round_trip(self, protocol):
        t = topic("rt")
        async with self.client(protocol=protocol) as sub, \
                self.client(protocol=protocol) as pub:
            granted = await within(sub.subscribe(t + "/#", qos=2))
            self.assertEqual(granted, (2,))
            for q in (0, 1, 2):
                await within(pub.publish("%s/%d" % (t, q), b"payload %d" % q, qos=q))
            got = await take(sub.messages, 3)
        self.assertEqual(sorted((m.topic.value, m.payload, m.qos) for m in got),
                         [("%s/%d" % (t, q), b"payload %d" % q, q) for q in (0, 1, 2)])
        for m in got:
            self.assertIsInstance(m.topic, Topic)
            self.assertFalse(m.retain)
            # mid: the PUBLISH's packet identifier, 0 for QoS 0 (aiomqtt's)
            self.assertEqual(m.mid == 0, m.qos == 0, (m.qos, m.mid))
            self.assertTrue(0 <= m.mid <= 65535)

    async def test_qos_0_1_2_round_trip_on_3_1_1(self):
        await self.round_trip(ProtocolVersion.V311)

    async def test_qos_0_1_2_round_trip_on_5(self):
        await self.round_trip(ProtocolVersion.V5)

    async def test_qos_0_1_2_round_trip_on_3_1(self):
        await self.round_trip(ProtocolVersion.V31)

    async def test_granted_qos_is_the_minimum_of_asked_and_published(self):
        t = topic("downgrade")
        async with self.client() as c:
            self.assertEqual(await within(c.subscribe(t, qos=1)), (1,))
            await within(c.publish(t, "x", qos=2))
            (m,) = await take(c.messages, 1)
        self.assertEqual(m.qos, 1)   # [MQTT-3.8.4-8] the lesser of the two

    async def test_subscribe_to_several_filters_returns_one_code_each(self):
        t = topic("multi")
        async with self.client(protocol=5) as c:
            rcs = await within(c.subscribe([(t + "/a", 0), (t + "/b", 1),
                                            (t + "/c", SubscribeOptions(qos=2, no_local=True))]))
            self.assertEqual(rcs, (0, 1, 2))
            self.assertEqual(await within(c.unsubscribe([t + "/a", t + "/b"])), (0, 0))
            # no_local: our own publication to /c does not come back
            await within(c.publish(t + "/c", "own", qos=1))
            await c.publish(t + "/a", "gone", qos=1)
            self.assertEqual(len(c.messages), 0)

    async def test_unsubscribe_on_3_1_1_returns_no_codes(self):
        t = topic("unsub311")
        async with self.client() as c:
            await within(c.subscribe(t))
            self.assertEqual(await within(c.unsubscribe(t)), ())

    async def test_retained_message_is_flagged(self):
        t = topic("retained")
        async with self.client() as c:
            await within(c.publish(t, "kept", qos=1, retain=True))
            await within(c.subscribe(t))
            (m,) = await take(c.messages, 1)
            self.assertTrue(m.retain)
            self.assertEqual(m.payload, b"kept")
            await within(c.publish(t, None, qos=1, retain=True))   # clear it

    async def test_payload_types_follow_aiomqtt(self):
        t = topic("payloads")
        async with self.client() as c:
            await within(c.subscribe(t))
            for p in ("text é", b"\x00\x01", bytearray(b"ba"), 42, 1.5, None):
                await within(c.publish(t, p, qos=1))
            got = [m.payload for m in await take(c.messages, 6)]
        self.assertEqual(got, ["text é".encode(), b"\x00\x01", b"ba", b"42", b"1.5", b""])

    async def test_v5_properties_travel_both_ways(self):
        t = topic("props")
        async with self.client(protocol=5) as c:
            await within(c.subscribe(t, qos=1, properties={"subscription_identifier": 7}))
            await within(c.publish(t, "p", qos=1, properties={
                "content_type": "text/plain",
                "response_topic": t + "/reply",
                "correlation_data": b"\x01\x02",
                "message_expiry_interval": 60,
                "payload_format_indicator": 1,
                "UserProperty": [("a", "1"), ("b", "2")],   # paho's spelling
            }))
            (m,) = await take(c.messages, 1)
        p = m.properties
        self.assertEqual(p["content_type"], "text/plain")
        self.assertEqual(p["response_topic"], t + "/reply")
        self.assertEqual(p["correlation_data"], b"\x01\x02")
        self.assertEqual(p["payload_format_indicator"], 1)
        self.assertLessEqual(p["message_expiry_interval"], 60)
        self.assertEqual(p["user_property"], [("a", "1"), ("b", "2")])
        self.assertEqual(p["subscription_identifier"], [7])

    async def test_v5_connack_assigns_an_identifier_when_none_is_given(self):
        async with self.client(protocol=5, identifier="") as c:
            self.assertTrue(c.connected)
            self.assertTrue(c.identifier)
            self.assertEqual(c.identifier, c.connack_properties["assigned_client_identifier"])

    async def test_properties_are_ignored_on_3_1_1(self):
        t = topic("props311")
        async with self.client() as c:
            await within(c.subscribe(t))
            await within(c.publish(t, "x", qos=1, properties={"content_type": "a"}))
            (m,) = await take(c.messages, 1)
        self.assertEqual(m.properties, {})

    async def test_many_concurrent_publisher_tasks(self):
        t = topic("many")
        tasks, per = 50, 20
        async with self.client(protocol=5) as sub, self.client(protocol=5) as pub:
            await within(sub.subscribe(t + "/+", qos=1))

            async def publisher(i):
                for k in range(per):
                    await pub.publish("%s/%d" % (t, i), b"%d" % k, qos=(i + k) % 3)
            await within(asyncio.gather(*(publisher(i) for i in range(tasks))), 20)
            got = await take(sub.messages, tasks * per, 20)
            self.assertEqual(pub.pending_calls, 0)
        seen = {}
        for m in got:
            seen.setdefault(m.topic.value, []).append(int(m.payload))
        self.assertEqual(len(seen), tasks)
        for i in range(tasks):
            # per-topic order is kept at equal QoS; all arrive exactly once
            self.assertEqual(sorted(seen["%s/%d" % (t, i)]), list(range(per)))

    async def test_max_inflight_messages_bounds_unacknowledged_publishes(self):
        t = topic("inflight")
        async with self.client(max_inflight_messages=3) as c:
            await within(c.subscribe(t, qos=1))
            await within(asyncio.gather(*(c.publish(t, b"%d" % i, qos=1) for i in range(30))))
            self.assertEqual(len(await take(c.messages, 30)), 30)

    async def test_cancelled_publish_leaves_the_client_consistent(self):
        t = topic("cancel")
        async with self.client() as c:
            await within(c.subscribe(t, qos=2))
            task = asyncio.ensure_future(c.publish(t, "first", qos=2))
            await asyncio.sleep(0)          # the publish is with the engine now
            task.cancel()
            with self.assertRaises(asyncio.CancelledError):
                await task
            # the message itself was not withdrawn, and the client goes on
            await within(c.publish(t, "second", qos=2))
            got = sorted(m.payload for m in await take(c.messages, 2))
            self.assertEqual(got, [b"first", b"second"])
            await until(lambda: c.pending_calls == 0, what="no pending calls")

    async def test_cancelled_message_wait_loses_no_message(self):
        t = topic("cancel-iter")
        async with self.client() as c:
            await within(c.subscribe(t, qos=1))
            with self.assertRaises(asyncio.TimeoutError):
                await asyncio.wait_for(c.messages.__anext__(), 0.05)
            await within(c.publish(t, "after", qos=1))
            (m,) = await take(c.messages, 1)
            self.assertEqual(m.payload, b"after")

    async def test_several_tasks_may_share_the_message_iterator(self):
        t = topic("shared-iter")
        async with self.client() as c:
            await within(c.subscribe(t, qos=1))
            got = []

            async def consumer():
                async for m in c.messages:
                    got.append(m.payload)
                    if len(got) >= 20:
                        return
            tasks = [asyncio.ensure_future(consumer()) for _ in range(3)]
            for i in range(20):
                await within(c.publish(t, b"%d" % i, qos=1))
            await within(asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED))
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        self.assertEqual(sorted(got, key=int), [b"%d" % i for i in range(20)])

    async def test_filters_route_messages_to_their_own_queue(self):
        t = topic("route")
        async with self.client() as c:
            await within(c.subscribe(t + "/#"))
            async with c.messages.filter(t + "/a/+") as a:
                await within(c.publish(t + "/a/1", "to a", qos=1))
                await within(c.publish(t + "/b", "to default", qos=1))
                (ma,) = await take(a, 1)
                (md,) = await take(c.messages, 1)
            self.assertEqual((ma.payload, md.payload), (b"to a", b"to default"))
            self.assertTrue(ma.topic.matches(t + "/a/+"))
            # closed: back to the default queue
            await within(c.publish(t + "/a/2", "default again", qos=1))
            (m,) = await take(c.messages, 1)
            self.assertEqual(m.payload, b"default again")

    async def test_manual_ack_gives_each_message_a_handle(self):
        t = topic("manual")
        async with self.client(protocol=5, manual_ack=True) as c:
            await within(c.subscribe(t, qos=2))
            await within(c.publish(t, "one", qos=1))
            await within(c.publish(t, "two", qos=2))
            got = await take(c.messages, 2)
            self.assertTrue(all(m.ack_id for m in got))
            self.assertNotEqual(got[0].ack_id, got[1].ack_id)
            for m in got:
                c.ack(m)
            with self.assertRaises(MqttCodeError):
                c.ack(got[0])                  # twice: the handle is spent
            # the session goes on: a QoS 2 flow completes after the acks
            await within(c.publish(t, "three", qos=2))
            (m,) = await take(c.messages, 1)
            c.ack(m)

    async def test_the_incoming_queue_is_bounded_and_the_socket_still_read(self):
        t = topic("backpressure")
        bound, n, size = 20, 120, 16384
        async with self.client(max_queued_incoming_messages=bound) as c, \
                self.client() as pub:
            await within(c.subscribe(t))
            await within(asyncio.gather(*(pub.publish(t, bytes(size), qos=0)
                                          for _ in range(n))), 20)
            await until(lambda: len(c.messages) >= bound, what="a full queue")
            # what one readable event had queued before the pause still
            # comes (at most 4 x 64 KiB); the engine holds the rest
            self.assertLessEqual(len(c.messages), bound + 4 * 65536 // size + 1)
            self.assertTrue(c._paused)
            self.assertTrue(c._reading)     # delivery paused, not the socket
            got = await take(c.messages, n, 20)
            self.assertEqual(len(got), n)
            self.assertFalse(c._paused)

    async def stall_case(self, protocol):
        # An aiomqtt user's program: subscribed to what it publishes, it
        # does not read client.messages.  Every QoS 1 publish must still
        # complete: the PUBACKs are read while the queue is full.
        t = topic("stall%d" % protocol)
        bound, n = 5, 60
        async with self.client(protocol=protocol, max_queued_incoming_messages=bound,
                               receive_maximum=10) as c:
            await within(c.subscribe(t, qos=1))
            for i in range(n):
                await c.publish(t, b"%d" % i, qos=1, timeout=5)
            self.assertTrue(c._paused)
            self.assertGreaterEqual(len(c.messages), bound)
            # nothing lost, nothing twice, in order
            got = await take(c.messages, n)
            self.assertEqual([int(m.payload) for m in got], list(range(n)))
            # and the client goes on as usual afterwards
            await within(c.publish(t, b"after", qos=1))
            (m,) = await take(c.messages, 1)
            self.assertEqual(m.payload, b"after")

    async def test_a_full_queue_never_stalls_acknowledgements_on_5(self):
        await self.stall_case(5)

    async def test_a_full_queue_never_stalls_acknowledgements_on_3_1_1(self):
        await self.stall_case(4)

    async def test_reentering_a_client_in_use_raises(self):
        c = self.client()
        async with c:
            with self.assertRaises(MqttReentrantError):
                async with c:
                    pass
        # and after leaving it may be used again
        async with c:
            self.assertTrue(c.connected)

    async def test_a_persistent_session_is_resumed(self):
        for proto, kw in ((5, {"clean_start": False, "session_expiry": 60}),
                          (4, {"clean_session": False})):
            ident = "lmq-py-session-%d" % proto
            async with self.client(protocol=proto, identifier=ident, **kw) as c:
                pass
            async with self.client(protocol=proto, identifier=ident, **kw) as c:
                self.assertTrue(c.session_present, proto)
            async with self.client(protocol=proto, identifier=ident) as c:   # clean again
                self.assertFalse(c.session_present, proto)

    async def test_socket_options_are_applied_to_the_connection(self):
        import socket
        async with self.client(socket_options=[(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1),
                                               (socket.SOL_SOCKET, socket.SO_SNDBUF, 65536)]) as c:
            s = socket.socket(fileno=os.dup(c._fd))
            try:
                self.assertEqual(s.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE), 1)
            finally:
                s.close()

    async def test_will_is_published_when_the_connection_drops(self):
        t = topic("will")
        async with self.client() as watcher:
            await within(watcher.subscribe(t, qos=1))
            doomed = self.client(will=Will(t, "gone", qos=1), keepalive=5)
            await doomed.__aenter__()
            # close the socket without DISCONNECT
            doomed._teardown(MqttError("test"))
            (m,) = await take(watcher.messages, 1)
            self.assertEqual(m.payload, b"gone")


class TestErrors(BrokerTestCase):
    def client(self, **kw):
        return Client("127.0.0.1", self.broker.port, **kw)

    async def test_invalid_arguments_raise_before_anything_is_sent(self):
        t = topic("invalid")
        async with self.client() as c, self.client() as spy:
            await within(spy.subscribe("#"))
            for bad in (t + "/+", t + "/#", ""):
                with self.assertRaises(MqttInvalidArgument) as cm:
                    await c.publish(bad, "x")
                self.assertIsInstance(cm.exception, ValueError)
            with self.assertRaises(MqttInvalidArgument):
                await c.publish(t, "x", qos=3)
            with self.assertRaises(TypeError):
                await c.publish(t, object())
            for bad_filter in (t + "/#/x", t + "/a+", "$share/g"):
                with self.assertRaises(MqttInvalidArgument):
                    await c.subscribe(bad_filter)
            with self.assertRaises(MqttInvalidArgument):
                await c.subscribe(t, qos=-1)
            with self.assertRaises(MqttInvalidArgument):
                await c.publish(t, "x", properties={"no_such_property": 1})
            self.assertEqual(c.pending_calls, 0)
            # nothing reached the broker: the spy sees only the marker
            await within(c.publish(t + "/marker", "m", qos=1))
            (m,) = await take(spy.messages, 1)
            self.assertEqual(m.topic.value, t + "/marker")

    async def test_error_codes_are_named(self):
        with self.assertRaises(MqttInvalidArgument) as cm:
            Topic("a/+")
        self.assertEqual(cm.exception.rc, _ffi.LMQ_ETOPIC_WILDCARD)
        self.assertEqual(cm.exception.name, "LMQ_ETOPIC_WILDCARD")
        self.assertIn("a/+", str(cm.exception))
        with self.assertRaises(MqttInvalidArgument):
            Wildcard("a/#/b")

    async def test_connection_refused_raises_a_connect_error(self):
        c = Client("127.0.0.1", free_port(), timeout=5)
        with self.assertRaises(MqttConnectError) as cm:
            await within(c.__aenter__())
        self.assertEqual(cm.exception.rc, _ffi.LMQ_ECONNECT)
        self.assertIsInstance(cm.exception, MqttCodeError)

    async def test_the_server_refusing_the_connect_gives_its_reason(self):
        b = Broker(extra="allow_anonymous false").start()
        try:
            for proto, reason in ((5, 0x87), (4, 5)):   # not authorized
                c = Client("127.0.0.1", b.port, protocol=proto)
                with self.assertRaises(MqttConnectError) as cm:
                    await within(c.__aenter__())
                self.assertEqual(cm.exception.reason, reason)
        finally:
            b.stop()

    async def test_operations_outside_the_context_raise(self):
        c = self.client()
        with self.assertRaises(MqttError):
            await c.publish("a", "b")

    async def test_bad_keywords_are_refused_at_construction(self):
        with self.assertRaises(MqttInvalidArgument):
            Client("h", transport="carrier-pigeon")
        with self.assertRaises(MqttInvalidArgument):
            Client("h", will=Will("a/#", "x"))

    async def test_topic_matching_follows_the_mqtt_rules(self):
        self.assertTrue(Topic("a/b/c").matches("a/+/c"))
        self.assertTrue(Topic("a/b/c").matches("a/#"))
        self.assertTrue(Topic("a").matches("a/#"))
        self.assertFalse(Topic("a/b").matches("a/+/c"))
        self.assertFalse(Topic("$SYS/x").matches("#"))    # [MQTT-4.7.2-1]
        self.assertTrue(Topic("a/b").matches("$share/g/a/+"))


class TestConnectionLoss(unittest.IsolatedAsyncioTestCase):
    async def asyncSetUp(self):
        self.broker = Broker().start()

    async def asyncTearDown(self):
        self.broker.stop()

    async def test_without_reconnect_a_lost_connection_ends_iteration_with_an_error(self):
        async with Client("127.0.0.1", self.broker.port) as c:
            await within(c.subscribe("x"))
            self.broker.kill()
            with self.assertRaises(MqttCodeError):
                await take(c.messages, 1)
            with self.assertRaises(MqttError):
                await c.publish("x", "y")
            self.assertFalse(c.connected)

    async def test_with_reconnect_the_client_comes_back_and_resubscribes(self):
        t = topic("reconnect")
        async with Client("127.0.0.1", self.broker.port, reconnect=True,
                          reconnect_delay=(0.05, 0.2), identifier="lmq-py-recon") as c:
            await within(c.subscribe(t, qos=1))
            self.broker.restart()
            await until(lambda: c.reconnects >= 1, what="a reconnect")
            # resubscribed by the engine: a message published now arrives
            async with Client("127.0.0.1", self.broker.port) as pub:
                async def keep_publishing():
                    while True:
                        await pub.publish(t, "back", qos=1)
                        await asyncio.sleep(0.05)
                p = asyncio.ensure_future(keep_publishing())
                try:
                    (m,) = await take(c.messages, 1)
                finally:
                    p.cancel()
            self.assertEqual(m.payload, b"back")
            # and publishing from the reconnected client works
            await within(c.publish(t, "mine", qos=2))

    async def test_publish_while_reconnecting_completes_after_the_reconnect(self):
        t = topic("offline")
        async with Client("127.0.0.1", self.broker.port, reconnect=True,
                          reconnect_delay=(0.05, 0.2)) as c:
            self.broker.kill()
            await until(lambda: not c.connected, what="the loss noticed")
            # a publish that outlives its timeout says so, the message stays
            # queued in the engine
            with self.assertRaises(MqttTimeoutError):
                await c.publish(t, "late", qos=1, timeout=0.05)
            task = asyncio.ensure_future(c.publish(t, "queued", qos=1))
            await asyncio.sleep(0)
            self.assertFalse(task.done())
            self.broker.start()
            await within(task)
            self.assertTrue(c.connected)
            await until(lambda: c.pending_calls == 0, what="the late one completed")


class TestUnixSocket(BrokerTestCase):
    broker_args = {"unix": True}

    async def test_unix_socket_transport(self):
        t = topic("unix")
        async with Client(self.broker.sock, transport="unix") as c:
            await within(c.subscribe(t, qos=1))
            await within(c.publish(t, "over unix", qos=1))
            (m,) = await take(c.messages, 1)
        self.assertEqual(m.payload, b"over unix")


if __name__ == "__main__":
    unittest.main()
