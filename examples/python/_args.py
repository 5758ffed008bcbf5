"""Command line shared by the examples: --host, --port, --count."""
import argparse


def parse(description, count=1):
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--host", default="localhost")
    p.add_argument("--port", type=int, default=1883)
    p.add_argument("--count", type=int, default=count, help="messages before quitting")
    p.add_argument("--prefix", default="lunamq/examples",
                   help="topic prefix (the tests give each run its own)")
    return p.parse_args()
