#!/usr/bin/env python3
"""A fault-injecting TCP proxy for the network-fault suite (issue 18 item 9).

    python3 tests/support/faultproxy.py --target PORT --seed N [--log FILE]
        [--faults cut,fin,stall,slice,delay,refuse] [--every-ms 200:600]
        [--max-faults K] [--no-fault-first]

Listens on a free loopback port (printed as the first line on stdout) and
forwards each accepted connection to 127.0.0.1:PORT.  Every connection
gets a fault drawn from a random.Random seeded with (seed, connection
number), so a seed names the same sequence of faults in every run (when
they strike depends on the traffic):

  cut    after a random number of forwarded bytes, in a random direction
         (usually mid-packet): both sockets closed with RST (SO_LINGER 0)
  fin    the same, closed with FIN (an orderly shutdown)
  stall  after a random delay both directions stop and the sockets stay
         open (a half-open link): only the client's keepalive can notice;
         the time from the stall to the client closing its side is logged
  slice  client->server and server->client bytes go in 1-byte segments
         (TCP_NODELAY, one send each) until the connection is cut
  delay  every chunk waits 0..40 ms (jitter) before going on, then a cut
  refuse after the cut, the next 1..3 connections are accepted and reset
         at once (a server refusing reconnects for a while)

Faults strike every --every-ms milliseconds (uniform in the range) of a
connection's life, or at the byte offset drawn.  --max-faults stops
injecting after K faults (the rest of the run is clean, so a stream can
finish).  Each fault is a JSON line in --log: {"conn", "fault", "t",
"offset", "dir", "detected_ms" (stall: from the stall to the client's
close)}.  SIGTERM ends it.  Python standard library only.
"""
import argparse
import json
import random
import select
import signal
import socket
import struct
import sys
import threading
import time

CHUNK = 65536


def now_ms():
    return time.monotonic() * 1000.0


class Proxy:
    def __init__(self, args):
        self.args = args
        self.kinds = [k for k in args.faults.split(",") if k]
        lo, _, hi = args.every_ms.partition(":")
        self.every = (int(lo), int(hi or lo))
        self.lock = threading.Lock()
        self.nconn = 0
        self.nfaults = 0
        self.refuse_left = 0
        self.log = open(args.log, "a", buffering=1) if args.log else None
        self.lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind(("127.0.0.1", args.port))
        self.lsock.listen(64)

    def record(self, **kw):
        if self.log:
            with self.lock:
                self.log.write(json.dumps(kw) + "\n")

    def serve(self):
        while True:
            c, _ = self.lsock.accept()
            with self.lock:
                n = self.nconn
                self.nconn += 1
                refuse = self.refuse_left > 0
                if refuse:
                    self.refuse_left -= 1
            if refuse:
                self.record(conn=n, fault="refused", t=now_ms())
                rst_close(c)
                continue
            threading.Thread(target=self.run, args=(c, n), daemon=True).start()

    def plan(self, n):
        """The fault of connection n: a pure function of (seed, n)."""
        rng = random.Random(self.args.seed * 1000003 + n)
        with self.lock:
            if self.args.max_faults >= 0 and self.nfaults >= self.args.max_faults:
                return None, rng
            if n == 0 and self.args.no_fault_first:
                return None, rng
            self.nfaults += 1
        kind = rng.choice(self.kinds)
        p = {
            "kind": kind,
            "at_ms": rng.uniform(*self.every),
            "offset": rng.randint(20, 4000),
            "dir": rng.choice(["up", "down"]),
            "refuse": rng.randint(1, 3) if "refuse" in self.kinds else 0,
            "rng": rng,
        }
        if kind == "refuse":            # a cut followed by refusals
            p["kind"] = "cut"
        else:
            p["refuse"] = 0
        return p, rng

    def run(self, c, n):
        try:
            s = socket.create_connection(("127.0.0.1", self.args.target))
        except OSError:
            rst_close(c)
            return
        for x in (c, s):
            x.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        p, rng = self.plan(n)
        t0 = now_ms()
        counted = {"up": 0, "down": 0}
        kind = p["kind"] if p else None
        try:
            while True:
                timeout = None
                if p:
                    timeout = max(0.0, (t0 + p["at_ms"] - now_ms()) / 1000.0)
                r, _, _ = select.select([c, s], [], [], timeout)
                if p and now_ms() >= t0 + p["at_ms"]:
                    self.strike(c, s, n, p, counted)
                    return
                for src in r:
                    dst = s if src is c else c
                    d = "up" if src is c else "down"
                    data = src.recv(CHUNK)
                    if not data:
                        # a side closed: pass the close on
                        self.close_both(c, s, fin=True)
                        return
                    if p and d == p["dir"] and counted[d] + len(data) >= p["offset"]:
                        part = data[: p["offset"] - counted[d]]
                        self.send(dst, part, kind, rng)
                        counted[d] += len(part)
                        self.strike(c, s, n, p, counted)
                        return
                    counted[d] += len(data)
                    self.send(dst, data, kind, rng)
        except OSError:
            self.close_both(c, s, fin=False)

    def send(self, dst, data, kind, rng):
        if kind == "slice":
            for i in range(len(data)):
                dst.sendall(data[i:i + 1])
        elif kind == "delay":
            time.sleep(rng.uniform(0, 0.04))
            dst.sendall(data)
        else:
            dst.sendall(data)

    def strike(self, c, s, n, p, counted):
        kind = p["kind"]
        t = now_ms()
        if kind == "stall":
            # Keep both open, forward nothing; wait for the client to give
            # up on the link (its keepalive), then close the server side.
            detected = None
            deadline = t + self.args.stall_max_ms
            while now_ms() < deadline:
                r, _, _ = select.select([c], [], [], 0.05)
                if r:
                    try:
                        data = c.recv(CHUNK)
                    except OSError:
                        data = b""
                    if not data:
                        detected = now_ms() - t
                        break
                    # (what the client sends into the stalled link is lost)
            self.record(conn=n, fault="stall", t=t, detected_ms=detected,
                        up=counted["up"], down=counted["down"])
            self.close_both(c, s, fin=False)
            return
        self.record(conn=n, fault=kind, t=t, dir=p["dir"], up=counted["up"],
                    down=counted["down"])
        if p["refuse"]:
            with self.lock:
                self.refuse_left = p["refuse"]
        self.close_both(c, s, fin=(kind == "fin"))

    @staticmethod
    def close_both(c, s, fin):
        for x in (c, s):
            if fin:
                try:
                    x.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                x.close()
            else:
                rst_close(x)


def rst_close(x):
    try:
        x.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    x.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--target", type=int, required=True)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--log")
    ap.add_argument("--faults", default="cut,fin,stall,slice,delay,refuse")
    ap.add_argument("--every-ms", default="200:600")
    ap.add_argument("--max-faults", type=int, default=-1)
    ap.add_argument("--stall-max-ms", type=int, default=30000)
    ap.add_argument("--no-fault-first", action="store_true")
    args = ap.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    px = Proxy(args)
    print(px.lsock.getsockname()[1], flush=True)
    px.serve()


if __name__ == "__main__":
    main()
