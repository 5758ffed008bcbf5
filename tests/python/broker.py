"""A real mosquitto for the Python tests, on a free loopback port: the
Python counterpart of tests/support/broker.c.

    b = Broker(); b.start() ... b.stop()      (also stopped at exit)

A temporary directory holds the configuration and the log.  restart()
starts it again on the same port (for reconnect tests); tls=True adds a
TLS listener with the certificates of tests/support/make_certs.sh;
unix=True a Unix socket listener.
"""
import atexit
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SUPPORT = os.path.join(HERE, "..", "support")
START_DEADLINE = 5.0
STOP_DEADLINE = 5.0

_running = []


def mosquitto_path():
    p = os.environ.get("LMQ_MOSQUITTO")
    return p if p else "/usr/sbin/mosquitto"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stop_all():
    for b in list(_running):
        b.stop()


atexit.register(_stop_all)


class Broker:
    def __init__(self, tls_dir=None, unix=False, extra=""):
        self.dir = tempfile.mkdtemp(prefix="lmq-pybroker-")
        self.port = free_port()
        self.tls_port = free_port() if tls_dir else None
        self.tls_dir = tls_dir
        self.sock = os.path.join(self.dir, "mqtt.sock") if unix else None
        self.extra = extra
        self.proc = None
        self.conf = os.path.join(self.dir, "mosquitto.conf")
        self.log = os.path.join(self.dir, "mosquitto.log")

    def _write_conf(self):
        lines = ["listener %d 127.0.0.1" % self.port]
        if self.tls_port:
            d = self.tls_dir
            lines += ["listener %d 127.0.0.1" % self.tls_port,
                      "cafile %s" % os.path.join(d, "ca.crt"),
                      "certfile %s" % os.path.join(d, "server.crt"),
                      "keyfile %s" % os.path.join(d, "server.key")]
        if self.sock:
            lines += ["listener 0 %s" % self.sock]
        lines += [
            "allow_anonymous true",
            "max_queued_messages 0",
            "max_queued_bytes 0",
            # mosquitto 2.0.11 misbehaves with its default quota for
            # 3.1.1 clients and with 0/65535 (see tests/support/broker.c).
            "max_inflight_messages 1000",
            "set_tcp_nodelay true",
            "persistence false",
            "log_dest file %s" % self.log,
            "log_type all",
        ]
        if os.geteuid() == 0:
            # As root mosquitto would switch to an unprivileged user who
            # could not write the temporary directory.
            lines.append("user root")
        if self.extra:
            lines.append(self.extra)
        with open(self.conf, "w") as f:
            f.write("\n".join(lines) + "\n")

    def _accepts(self):
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                return True
        except OSError:
            return False

    def start(self):
        self._write_conf()
        self.proc = subprocess.Popen([mosquitto_path(), "-c", self.conf],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _running.append(self)
        deadline = time.monotonic() + START_DEADLINE
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("mosquitto exited (%s); log:\n%s"
                                   % (self.proc.returncode, self.read_log()))
            if self._accepts() and (not self.sock or os.path.exists(self.sock)):
                return self
            time.sleep(0.02)
        self.stop()
        raise RuntimeError("mosquitto did not accept within %ss" % START_DEADLINE)

    def kill(self):
        """Stop the broker at once (SIGKILL), keeping its directory."""
        p = self.proc
        if p is None:
            return
        p.send_signal(signal.SIGKILL)
        p.wait(STOP_DEADLINE)
        self.proc = None
        if self in _running:
            _running.remove(self)

    def restart(self):
        self.kill()
        return self.start()

    def read_log(self):
        try:
            with open(self.log) as f:
                return f.read()
        except OSError:
            return ""

    def stop(self):
        p = self.proc
        if p is not None:
            p.terminate()
            try:
                p.wait(STOP_DEADLINE)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
            self.proc = None
        if self in _running:
            _running.remove(self)
        shutil.rmtree(self.dir, ignore_errors=True)


def make_certs():
    """Run tests/support/make_certs.sh into a temporary directory."""
    d = tempfile.mkdtemp(prefix="lmq-pycerts-")
    atexit.register(shutil.rmtree, d, True)
    subprocess.run(["sh", os.path.join(SUPPORT, "make_certs.sh"), d], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return d
