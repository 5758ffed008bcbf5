#!/usr/bin/python3
"""bench_pubsub.py - lunamq.aio against paho-mqtt (Debian's
python3-paho-mqtt), same interpreter, same mosquitto, same run.

For each QoS (0, 1, 2) and library: a subscriber process subscribes, then a
publisher process publishes N 64-byte messages on one topic flat out (at
most 1000 unacknowledged for QoS 1/2), MQTT 3.1.1.  Runs alternate between
the libraries; medians of `runs` are reported.  Figures:
  end-to-end msgs/s   N / (last message received - first publish started)
  pub us/msg          publisher CPU (user + sys, all threads) / N
  sub us/msg          subscriber CPU / N, first to last message
  lost                messages the subscriber did not get within the deadline

    bench_pubsub.py [--quick] [--runs 3] [--json FILE]

lunamq.aio needs LUNAMQ_LIBRARY (or an installed library) and lunamq on
PYTHONPATH; scripts/bench sets both.
"""
import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
WINDOW = 1000
PAYLOAD = b"x" * 64
SUB_DEADLINE = 60.0


def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def say(**kw):
    print(json.dumps(kw), flush=True)


# ---------------------------------------------------------------- lunamq

def lunamq_sub(port, qos, n, topic):
    import asyncio
    from lunamq.aio import Client

    async def main():
        async with Client("127.0.0.1", port, max_queued_incoming_messages=0) as c:
            await c.subscribe(topic, qos=qos)
            print("READY", flush=True)
            st = {"got": 0, "t0": None, "c0": None}

            # One deadline for the whole run: a wait_for per message would
            # cost a task each and measure asyncio rather than the client.
            async def consume():
                async for _ in c.messages:
                    if st["got"] == 0:
                        st["t0"], st["c0"] = time.monotonic(), cpu()
                    st["got"] += 1
                    if st["got"] == n:
                        return
            try:
                await asyncio.wait_for(consume(), SUB_DEADLINE)
            except asyncio.TimeoutError:
                pass
            got, t0, c0 = st["got"], st["t0"], st["c0"]
            t1, c1 = time.monotonic(), cpu()
        say(got=got, t_first=t0, t_last=t1, cpu=(c1 - c0) if c0 is not None else 0)
    asyncio.run(main())


def lunamq_pub(port, qos, n, topic):
    import asyncio
    from lunamq.aio import Client

    async def main():
        async with Client("127.0.0.1", port) as c:
            per, extra = divmod(n, WINDOW)

            async def worker(k):
                for _ in range(k):
                    await c.publish(topic, PAYLOAD, qos=qos)
            t0, c0 = time.monotonic(), cpu()
            await asyncio.gather(*(worker(per + (1 if i < extra else 0))
                                   for i in range(WINDOW)))
            t1, c1 = time.monotonic(), cpu()
        say(t_start=t0, t_done=t1, cpu=c1 - c0)
    asyncio.run(main())


# ------------------------------------------------------------------ paho

def paho_client():
    import paho.mqtt.client as mqtt
    if hasattr(mqtt, "CallbackAPIVersion"):      # paho 2.x
        return mqtt, mqtt.Client(mqtt.CallbackAPIVersion.VERSION1, protocol=mqtt.MQTTv311)
    return mqtt, mqtt.Client(protocol=mqtt.MQTTv311)


def paho_sub(port, qos, n, topic):
    mqtt, c = paho_client()
    st = {"got": 0, "t0": None, "c0": None, "t1": None, "c1": None}

    def on_connect(client, userdata, flags, rc):
        client.subscribe(topic, qos)

    def on_subscribe(client, userdata, mid, granted):
        print("READY", flush=True)

    def on_message(client, userdata, msg):
        if st["got"] == 0:
            st["t0"], st["c0"] = time.monotonic(), cpu()
        st["got"] += 1
        if st["got"] == n:
            st["t1"], st["c1"] = time.monotonic(), cpu()
            client.disconnect()

    c.on_connect, c.on_subscribe, c.on_message = on_connect, on_subscribe, on_message
    c.connect("127.0.0.1", port)
    deadline = time.monotonic() + SUB_DEADLINE
    while st["t1"] is None and time.monotonic() < deadline:
        c.loop(timeout=0.5)
    if st["t1"] is None:
        st["t1"], st["c1"] = time.monotonic(), cpu()
    say(got=st["got"], t_first=st["t0"], t_last=st["t1"],
        cpu=(st["c1"] - st["c0"]) if st["c0"] is not None else 0)


def paho_pub(port, qos, n, topic):
    import threading
    mqtt, c = paho_client()
    c.max_inflight_messages_set(WINDOW)
    c.max_queued_messages_set(0)
    done = threading.Event()
    connected = threading.Event()
    count = [0]

    def on_connect(client, userdata, flags, rc):
        connected.set()

    def on_publish(client, userdata, mid):
        count[0] += 1
        if count[0] == n:
            done.set()

    c.on_connect, c.on_publish = on_connect, on_publish
    c.connect("127.0.0.1", port)
    c.loop_start()
    connected.wait(10)
    t0, c0 = time.monotonic(), cpu()
    for _ in range(n):
        c.publish(topic, PAYLOAD, qos)
    done.wait(SUB_DEADLINE)
    t1, c1 = time.monotonic(), cpu()
    c.disconnect()
    c.loop_stop()
    say(t_start=t0, t_done=t1, cpu=c1 - c0)


ROLES = {("lunamq", "sub"): lunamq_sub, ("lunamq", "pub"): lunamq_pub,
         ("paho", "sub"): paho_sub, ("paho", "pub"): paho_pub}


# ---------------------------------------------------------------- driver

def one_run(lib, port, qos, n, topic):
    me = [sys.executable, os.path.abspath(__file__)]
    args = [lib, str(port), str(qos), str(n), topic]
    sub = subprocess.Popen(me + ["sub"] + args, stdout=subprocess.PIPE, universal_newlines=True)
    try:
        line = sub.stdout.readline().strip()
        if line != "READY":
            raise RuntimeError("%s subscriber did not start: %r" % (lib, line))
        pub = subprocess.run(me + ["pub"] + args, stdout=subprocess.PIPE,
                             universal_newlines=True, timeout=SUB_DEADLINE + 30, check=True)
        s = json.loads(sub.stdout.readline())
        sub.wait(SUB_DEADLINE)
    finally:
        if sub.poll() is None:
            sub.kill()
            sub.wait()
        sub.stdout.close()
    p = json.loads(pub.stdout.strip().splitlines()[-1])
    span = s["t_last"] - p["t_start"]
    return {
        "msgs_per_s": s["got"] / span if span > 0 else 0.0,
        "pub_us_per_msg": p["cpu"] / n * 1e6,
        "sub_us_per_msg": s["cpu"] / max(1, s["got"]) * 1e6,
        "lost": n - s["got"],
    }


def have_paho():
    try:
        import paho.mqtt.client  # noqa: F401
        return True
    except ImportError:
        return False


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="tiny runs: plumbing only")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--json")
    a = ap.parse_args()
    sys.path.insert(0, HERE)
    from broker import Broker
    libs = ["lunamq"] + (["paho"] if have_paho() else [])
    if len(libs) == 1:
        print("paho-mqtt not importable (python3-paho-mqtt): lunamq only", file=sys.stderr)
    sizes = {0: 500, 1: 500, 2: 300} if a.quick else {0: 50000, 1: 20000, 2: 10000}
    runs = 1 if a.quick else a.runs
    broker = Broker().start()
    rows = []
    try:
        for qos in (0, 1, 2):
            res = {lib: [] for lib in libs}
            for r in range(runs):
                for lib in (libs if r % 2 == 0 else libs[::-1]):
                    topic = "bench/%s/%d/%d" % (lib, qos, r)
                    res[lib].append(one_run(lib, broker.port, qos, sizes[qos], topic))
            for lib in libs:
                med = {k: statistics.median(x[k] for x in res[lib]) for k in res[lib][0]}
                rows.append(dict(library=lib, qos=qos, messages=sizes[qos], **med))
    finally:
        broker.stop()
    print("%-7s %3s %8s %12s %11s %11s %6s" % ("library", "qos", "msgs", "e2e msgs/s",
                                               "pub us/msg", "sub us/msg", "lost"))
    for r in rows:
        print("%-7s %3d %8d %12.0f %11.1f %11.1f %6d" % (
            r["library"], r["qos"], r["messages"], r["msgs_per_s"], r["pub_us_per_msg"],
            r["sub_us_per_msg"], r["lost"]))
    if a.json:
        import platform
        doc = {"suite": "python", "quick": a.quick, "runs": runs,
               "python": sys.version.split()[0], "interpreter": sys.executable,
               "machine": platform.machine(), "payload_bytes": len(PAYLOAD),
               "window": WINDOW, "protocol": "3.1.1", "results": rows}
        with open(a.json, "w") as f:
            json.dump(doc, f, indent=2)


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] in ("sub", "pub"):
        role, lib, port, qos, n, topic = sys.argv[1:7]
        ROLES[(lib, role)](int(port), int(qos), int(n), topic)
    else:
        main()
