#!/usr/bin/python3
"""paho-mqtt (Python) peer of bench_client.c, bench_mosq.c and bench_paho.c
for the `peers` suite of scripts/bench: the same options, workload and
result line.

  /usr/bin/python3 bench_paho.py --role pub|sub|rtt --port P [--host H]
      [--qos 0|1|2] [--count N] [--size BYTES] [--window W] [--topic T]
      [--idle-ms MS]

Run it with Debian's /usr/bin/python3 (python3-paho-mqtt, 1.6).  The loop is
paho's own Client.loop() in the calling thread, as bench_mosq drives
libmosquitto: publish() writes to the socket when it can, loop() reads the
acknowledgements.  The window is paho's max_inflight_messages and the
program also stops publishing while that many are unfinished.  paho-mqtt
1.6 never sets TCP_NODELAY; without it a QoS 1 round trip waits for the
peer's delayed ACK, so it is set here once connected (the result line says
what it was: nodelay_was=).

pub: span from the first publish to the last on_publish (QoS 0: written).
sub: "ready" after the SUBACK; stops when all came or after --idle-ms of
silence (exit 3: messages missing).  rtt: publish one, wait for it to come
back, --count times; p50/p99.
"""
import argparse
import os
import resource
import socket
import struct
import sys
import time

import paho.mqtt.client as mqtt

SLICE = 0.05
CONNECT_S = 5.0
START_WAIT_S = 30.0
RTT_WARMUP = 20


def cpu_now():
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime, ru.ru_stime


def maxrss_kb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


class State:
    def __init__(self, o):
        self.o = o
        self.connected = 0
        self.lost = False
        self.subscribed = False
        self.granted = 0x80
        self.completed = 0
        self.received = 0
        self.distinct = 0
        self.seen = bytearray(o.count // 8 + 1)
        self.t_first = 0
        self.t_last = 0
        self.cpu_done = None


def open_client(o, st, role):
    c = mqtt.Client(client_id="bench-paho-py-%s-%d" % (role, os.getpid()),
                    clean_session=True, userdata=st, protocol=mqtt.MQTTv311)
    c.max_inflight_messages_set(o.window)
    c.max_queued_messages_set(0)

    def on_connect(client, ud, flags, rc):
        ud.connected = 1 if rc == 0 else -1

    def on_disconnect(client, ud, rc):
        ud.lost = True

    def on_publish(client, ud, mid):
        ud.completed += 1

    def on_subscribe(client, ud, mid, granted):
        ud.subscribed = True
        ud.granted = granted[0] if granted else 0x80

    def on_message(client, ud, msg):
        now = time.monotonic_ns()
        ud.received += 1
        ud.t_last = now
        if ud.received == 1:
            ud.t_first = now
        p = msg.payload
        if len(p) != ud.o.size:
            return
        seq = struct.unpack_from("<Q", p)[0]
        if seq >= ud.o.count or ud.seen[seq >> 3] & (1 << (seq & 7)):
            return
        ud.seen[seq >> 3] |= 1 << (seq & 7)
        ud.distinct += 1
        if ud.distinct == ud.o.count:
            ud.cpu_done = cpu_now()

    c.on_connect = on_connect
    c.on_disconnect = on_disconnect
    c.on_publish = on_publish
    c.on_subscribe = on_subscribe
    c.on_message = on_message
    c.connect(o.host, o.port, keepalive=60)
    sock = c.socket()
    was = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    deadline = time.monotonic() + CONNECT_S
    while not st.connected and not st.lost and time.monotonic() < deadline:
        c.loop(SLICE)
    if st.connected != 1:
        sys.exit("bench_paho.py: %s: connect to %s:%d failed" % (role, o.host, o.port))
    return c, 1 if was else 0


def subscribe(c, st):
    c.subscribe(st.o.topic, st.o.qos)
    deadline = time.monotonic() + CONNECT_S
    while not st.subscribed and not st.lost and time.monotonic() < deadline:
        c.loop(SLICE)
    if not st.subscribed or st.granted != st.o.qos:
        sys.exit("bench_paho.py: SUBACK %s (granted %r)"
                 % ("refused" if st.subscribed else "never came", st.granted))


def turn(c, st, timeout):
    if c.loop(timeout) != mqtt.MQTT_ERR_SUCCESS or st.lost:
        sys.exit("bench_paho.py: connection lost")


def cpu_fields(o, c0, c1):
    user, sys_ = c1[0] - c0[0], c1[1] - c0[1]
    return ("cpu_s=%.4f cpu_us_per_msg=%.3f user_us_per_msg=%.3f sys_us_per_msg=%.3f"
            % (user + sys_, (user + sys_) * 1e6 / o.count, user * 1e6 / o.count,
               sys_ * 1e6 / o.count))


def run_pub(o):
    st = State(o)
    c, was = open_client(o, st, "pub")
    payload = bytearray(b"x" * o.size)
    c0 = cpu_now()
    t0 = time.monotonic_ns()
    for i in range(o.count):
        struct.pack_into("<Q", payload, 0, i)
        info = c.publish(o.topic, bytes(payload), o.qos)
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            sys.exit("bench_paho.py: publish %d failed: %d" % (i, info.rc))
        if (i + 1) % 100 == 0:
            turn(c, st, 0)      # as bench_mosq: read acks, write what waits
        while o.qos > 0 and (i + 1) - st.completed >= o.window:
            turn(c, st, 1.0)
    while st.completed < o.count:
        turn(c, st, 1.0)
    while c.want_write():
        turn(c, st, 1.0)
    t1 = time.monotonic_ns()
    c1 = cpu_now()
    print("result lib=paho-py libver=%s role=pub proto=4 qos=%d count=%d size=%d "
          "t_first_ns=%d t_last_ns=%d secs=%.6f msgs_per_s=%.0f %s maxrss_kb=%d nodelay_was=%d"
          % (paho_version(), o.qos,
             o.count, o.size, t0, t1, (t1 - t0) / 1e9, o.count * 1e9 / (t1 - t0),
             cpu_fields(o, c0, c1), maxrss_kb(), was), flush=True)
    c.disconnect()
    return 0


def run_sub(o):
    st = State(o)
    c, was = open_client(o, st, "sub")
    subscribe(c, st)
    c0 = cpu_now()
    print("ready", flush=True)
    quiet_since = time.monotonic()
    before = 0
    while st.distinct < o.count:
        turn(c, st, SLICE)
        now = time.monotonic()
        if st.received != before:
            before = st.received
            quiet_since = now
            continue
        if now - quiet_since > (o.idle_ms / 1000.0 if st.received else START_WAIT_S):
            break
    c1 = st.cpu_done if st.distinct == o.count else cpu_now()
    span = st.t_last - st.t_first
    print("result lib=paho-py libver=%s role=sub proto=4 qos=%d count=%d size=%d "
          "received=%d distinct=%d lost=%d dups=%d t_first_ns=%d t_last_ns=%d secs=%.6f "
          "msgs_per_s=%.0f %s maxrss_kb=%d nodelay_was=%d"
          % (paho_version(), o.qos, o.count, o.size, st.received, st.distinct,
             o.count - st.distinct, st.received - st.distinct, st.t_first, st.t_last,
             span / 1e9, st.received * 1e9 / span if span > 0 else 0.0,
             cpu_fields(o, c0, c1), maxrss_kb(), was), flush=True)
    c.disconnect()
    return 0 if st.distinct == o.count else 3


def run_rtt(o):
    st = State(o)
    c, was = open_client(o, st, "rtt")
    subscribe(c, st)
    payload = b"x" * o.size
    rtt = []
    for i in range(o.count + RTT_WARMUP):
        before = st.received
        t0 = time.monotonic_ns()
        c.publish(o.topic, payload, o.qos)
        deadline = time.monotonic() + 5.0
        while st.received == before:
            turn(c, st, 1.0)
            if time.monotonic() > deadline:
                sys.exit("bench_paho.py: rtt: message %d never came back" % i)
        if i >= RTT_WARMUP:
            rtt.append(time.monotonic_ns() - t0)
    rtt.sort()
    n = len(rtt)
    print("result lib=paho-py libver=%s role=rtt proto=4 qos=%d count=%d size=%d "
          "p50_us=%.1f p99_us=%.1f max_us=%.1f nodelay_was=%d"
          % (paho_version(), o.qos, o.count, o.size, rtt[n // 2] / 1e3,
             rtt[n * 99 // 100] / 1e3, rtt[-1] / 1e3, was), flush=True)
    c.disconnect()
    return 0


def paho_version():
    import paho.mqtt
    return getattr(paho.mqtt, "__version__", "?")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--role", required=True, choices=("pub", "sub", "rtt"))
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--qos", type=int, default=0, choices=(0, 1, 2))
    ap.add_argument("--count", type=int, default=1000)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--window", type=int, default=1000)
    ap.add_argument("--topic", default="bench/paho-py")
    ap.add_argument("--idle-ms", type=int, default=10000)
    ap.add_argument("--proto", default="4", help="accepted for symmetry: 3.1.1 only")
    ap.add_argument("--batch", default="100", help="accepted for symmetry: unused")
    o = ap.parse_args()
    if o.size < 8 or o.count < 1 or o.window < 1:
        ap.error("--size >= 8, --count >= 1, --window >= 1")
    return {"pub": run_pub, "sub": run_sub, "rtt": run_rtt}[o.role](o)


if __name__ == "__main__":
    sys.exit(main())
