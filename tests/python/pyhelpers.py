"""Shared pieces of the Python tests: one broker per test module, and
waiting with deadlines (never a bare sleep)."""
import asyncio
import itertools
import os
import unittest

from broker import Broker

DEADLINE = 10.0
_ids = itertools.count(1)


def topic(name):
    """A topic of its own for each test (the broker is shared)."""
    return "lmqpy/%d/%d/%s" % (os.getpid(), next(_ids), name)


async def within(aw, t=DEADLINE):
    return await asyncio.wait_for(aw, t)


async def take(it, n, t=DEADLINE):
    """The next n messages of an async iterator, within t seconds."""
    async def go():
        out = []
        async for m in it:
            out.append(m)
            if len(out) == n:
                break
        return out
    return await asyncio.wait_for(go(), t)


async def until(pred, t=DEADLINE, what="condition"):
    """Wait for pred() to hold, yielding to the loop between checks."""
    async def go():
        while not pred():
            await asyncio.sleep(0.01)
    try:
        await asyncio.wait_for(go(), t)
    except asyncio.TimeoutError:
        raise AssertionError("%s not reached within %ss" % (what, t)) from None


class BrokerTestCase(unittest.IsolatedAsyncioTestCase):
    """A mosquitto shared by the tests of a class."""
    broker_args = {}

    @classmethod
    def setUpClass(cls):
        cls.broker = Broker(**cls.broker_args).start()

    @classmethod
    def tearDownClass(cls):
        cls.broker.stop()
