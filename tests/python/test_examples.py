"""Every program in examples/python runs to completion against a real
broker and prints what it should."""
import os
import subprocess
import sys
import unittest

from broker import Broker

EXAMPLES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                        "examples", "python")
RUN_DEADLINE = 15


class TestExamples(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.broker = Broker().start()

    @classmethod
    def tearDownClass(cls):
        cls.broker.stop()

    def start(self, name, *args):
        prefix = "lmqpy-ex/%d/%s" % (os.getpid(), name)
        return subprocess.Popen(
            [sys.executable, os.path.join(EXAMPLES, name), "--host", "127.0.0.1",
             "--port", str(self.broker.port), "--prefix", prefix] + list(args),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True)

    def run_example(self, name, *args):
        p = self.start(name, *args)
        try:
            out, err = p.communicate(timeout=RUN_DEADLINE)
        except subprocess.TimeoutExpired:
            p.kill()
            out, err = p.communicate()
            self.fail("%s did not finish within %ss:\n%s%s" % (name, RUN_DEADLINE, out, err))
        self.assertEqual(p.returncode, 0, err)
        return out

    def test_publish_and_subscribe(self):
        sub = self.start("subscribe.py", "--count", "1")
        try:
            self.assertEqual(sub.stdout.readline().strip(), "subscribed")
            # same prefix as the subscriber's
            p = subprocess.run(
                [sys.executable, os.path.join(EXAMPLES, "publish.py"), "--host", "127.0.0.1",
                 "--port", str(self.broker.port),
                 "--prefix", "lmqpy-ex/%d/subscribe.py" % os.getpid()],
                stdout=subprocess.PIPE, universal_newlines=True, timeout=RUN_DEADLINE)
            self.assertEqual(p.stdout.strip(), "published")
            out, err = sub.communicate(timeout=RUN_DEADLINE)
        finally:
            if sub.poll() is None:
                sub.kill()
                sub.communicate()
        self.assertIn("temperature/outside 28.4", out)

    def test_filter(self):
        out = self.run_example("filter.py")
        self.assertIn("inside: 21", out)
        self.assertIn("elsewhere: 21", out)
        self.assertIn("humidity outside 40", out)

    def test_reconnect(self):
        out = self.run_example("reconnect.py")
        self.assertIn("by hand:", out)
        self.assertIn("automatic:", out)

    def test_background(self):
        out = self.run_example("background.py")
        self.assertIn("listener stopped after 3 messages", out)

    def test_web_app(self):
        out = self.run_example("web_app.py", "--demo")
        self.assertIn("POST 202", out)
        self.assertIn("POST 400", out)
        self.assertIn("GET 200 {'topic': 'greeting', 'payload': 'hello'}", out)


if __name__ == "__main__":
    unittest.main()
