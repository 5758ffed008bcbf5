#!/usr/bin/env python3
"""Reproduces, without lunamq, the broker fault test_durable_sub counts:
mosquitto 2.0.11 resends a QoS 2 PUBLISH (DUP) after it has sent its PUBREL
([MQTT-4.3.3-6] forbids it).  A raw MQTT 3.1.1 client subscribes QoS 2 on a
persistent session, takes a message up to the broker's PUBREL, leaves
without PUBCOMP, then connects and vanishes at once a few times (as a
client killed right after CONNECT: the broker's resend pass writes to a
dead socket and stops, leaving the message in "resend PUBREL", which its
next reconnect turns into "resend PUBLISH").  The last, proper connection
prints what the broker sends for the message: PUBREL (correct) or PUBLISH.

    python3 tests/support/mosquitto_qos2_resend.py [port]

Needs mosquitto on PATH; python3 standard library only."""
import socket, struct, subprocess, sys, time, os, tempfile

PORT = int(sys.argv[1]) if len(sys.argv) > 1 else 18931
d = tempfile.mkdtemp(prefix="r1mq")
conf = os.path.join(d, "m.conf"); log = os.path.join(d, "m.log")
with open(conf, "w") as f:
    f.write(f"listener {PORT} 127.0.0.1\nallow_anonymous true\npersistence false\n"
            f"log_dest file {log}\nlog_type all\n" + ("user root\n" if os.getuid() == 0 else ""))
broker = subprocess.Popen(["mosquitto", "-c", conf])

def enc_len(n):
    out = b""
    while True:
        b = n % 128; n //= 128
        out += bytes([b | (0x80 if n else 0)])
        if not n: return out

def pkt(t, body): return bytes([t]) + enc_len(len(body)) + body
def s16(s): s = s.encode(); return struct.pack(">H", len(s)) + s

def connect(cid, clean):
    flags = 0x02 if clean else 0
    return pkt(0x10, s16("MQTT") + bytes([4, flags]) + struct.pack(">H", 60) + s16(cid))

def read_pkt(sock):
    h = sock.recv(1)
    if not h: return None
    mult, n = 1, 0
    while True:
        b = sock.recv(1)[0]; n += (b & 127) * mult; mult *= 128
        if not b & 128: break
    body = b""
    while len(body) < n: body += sock.recv(n - len(body))
    return h[0], body

def dial():
    for _ in range(100):
        try: return socket.create_connection(("127.0.0.1", PORT))
        except OSError: time.sleep(0.05)
    raise SystemExit("no broker")

try:
    # 1. persistent subscriber, QoS 2
    s = dial(); s.sendall(connect("r1-sub", False)); assert read_pkt(s)[0] == 0x20
    s.sendall(pkt(0x82, struct.pack(">H", 1) + s16("r1/t") + b"\x02")); assert read_pkt(s)[0] == 0x90
    # 2. a publisher sends one QoS 2 message
    p = dial(); p.sendall(connect("r1-pub", True)); read_pkt(p)
    p.sendall(pkt(0x34, s16("r1/t") + struct.pack(">H", 7) + b"hello"))
    assert read_pkt(p)[0] == 0x50; p.sendall(pkt(0x62, struct.pack(">H", 7))); assert read_pkt(p)[0] == 0x70
    # 3. subscriber: PUBLISH -> PUBREC -> PUBREL arrives; no PUBCOMP; gone
    t, body = read_pkt(s); assert t & 0xF0 == 0x30, hex(t)
    mid = struct.unpack(">H", body[2 + struct.unpack(">H", body[:2])[0]:][:2])[0]
    s.sendall(pkt(0x50, struct.pack(">H", mid)))
    t, body = read_pkt(s); assert t == 0x62, hex(t)          # PUBREL: the broker released it
    print(f"broker sent PUBREL for mid {mid}; subscriber leaves without PUBCOMP")
    s.close(); time.sleep(0.2)
    # 4. reconnect and vanish at once (a client killed right after CONNECT):
    #    the broker's resend pass writes to a dead socket
    for _ in range(10):
        s = dial(); s.sendall(connect("r1-sub", False)); s.close(); time.sleep(0.2)
    # 5. reconnect properly: what comes for mid?
    s = dial(); s.sendall(connect("r1-sub", False)); t, body = read_pkt(s); assert t == 0x20
    s.settimeout(2)
    t, body = read_pkt(s)
    if t == 0x62:
        print("RESULT: PUBREL resent (correct, [MQTT-4.3.3-6] kept)")
    elif t & 0xF0 == 0x30:
        print(f"RESULT: PUBLISH resent after PUBREL, flags 0x{t:02x} (DUP={t >> 3 & 1}) "
              "-> violates [MQTT-4.3.3-6]; a client that answered the PUBREL delivers it twice")
    else:
        print(f"RESULT: unexpected packet 0x{t:02x}")
    s.close()
finally:
    broker.terminate(); broker.wait()
    print("---- broker log, r1-sub lines ----")
    for line in open(log):
        if "r1-sub" in line and ("PUB" in line or "CONN" in line or "isconnect" in line or "closed" in line):
            print(line.rstrip())
