#!/usr/bin/python3
"""ws_bridge.py - a WebSocket server in front of a TCP MQTT broker, for tests.

Debian's mosquitto has no WebSocket listener, and websockify refuses the
"mqtt" subprotocol; this bridge, on Debian's python3-websockets, accepts a
WebSocket (ws, or wss with --cert/--key), negotiates "mqtt" or "mqttv3.1",
and relays binary frames to and from a TCP connection to the broker.

It tells the test what happened on stdout, one line each, flushed:
  READY <port>            listening (port 0 on the command line picks one)
  SUBPROTOCOL <name>      a client was accepted with this subprotocol
  PATH <path>             ... on this request path
  PONG                    the client answered our ping (--ping)
  CLIENT_CLOSE <code>     the client closed with this code
Switches make it misbehave on purpose: --reject STATUS, --path (404 for
others), --require-header, --max-frame (split what the broker sends),
--text-frame (send a text frame, which MQTT forbids), --close-code.
--raw relays TCP instead (no WebSocket): the same Python relay, as a
baseline for the benchmark's WebSocket figures; with --cert it is a TLS
server in front of the broker that tells what the client offered:
  SNI <name>|-            the server name the client sent (- for none)
  ALPN <protocol>|-       the protocol chosen from the client's list (--alpn)
  TLS <version>           the version negotiated (--tls-max 1.2 caps it)
"""
import argparse
import asyncio
import http
import ssl
import sys

import websockets
import websockets.legacy.server


def say(*words):
    print(*words, flush=True)


def parse_args():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--target-host", default="127.0.0.1")
    p.add_argument("--target-port", type=int, required=True)
    p.add_argument("--cert")
    p.add_argument("--key")
    p.add_argument("--path")
    p.add_argument("--require-header", action="append", default=[])
    p.add_argument("--reject", type=int)
    p.add_argument("--max-frame", type=int, default=0)
    p.add_argument("--ping", action="store_true")
    p.add_argument("--text-frame", action="store_true")
    p.add_argument("--close-code", type=int, default=1001)
    p.add_argument("--close-reason", default="broker gone")
    p.add_argument("--raw", action="store_true")
    p.add_argument("--alpn", help="comma-separated protocols the TLS server accepts")
    p.add_argument("--tls-max", choices=["1.2", "1.3"])
    return p.parse_args()


def make_process_request(args):
    async def process_request(path, headers):
        if args.reject:
            return (http.HTTPStatus(args.reject), [], b"rejected by the test\n")
        if args.path and path != args.path:
            return (http.HTTPStatus.NOT_FOUND, [], b"no such path\n")
        for h in args.require_header:
            name, _, value = h.partition(":")
            if headers.get(name.strip()) != value.strip():
                return (http.HTTPStatus.UNAUTHORIZED, [], b"missing header\n")
        return None
    return process_request


def make_handler(args):
    async def handler(ws, path=None):
        say("SUBPROTOCOL", ws.subprotocol)
        say("PATH", ws.path)
        try:
            reader, writer = await asyncio.open_connection(args.target_host, args.target_port)
        except OSError:
            await ws.close(1011, "no broker")
            return

        async def client_to_broker():
            try:
                async for msg in ws:
                    if isinstance(msg, str):
                        await ws.close(1003, "text frame")
                        break
                    writer.write(msg)
                    await writer.drain()
            except websockets.ConnectionClosed:
                pass
            if ws.close_code is not None:
                say("CLIENT_CLOSE", ws.close_code)
            writer.close()

        async def broker_to_client():
            try:
                while True:
                    data = await reader.read(65536)
                    if not data:
                        break
                    step = args.max_frame or len(data)
                    for i in range(0, len(data), step):
                        await ws.send(data[i:i + step])
                await ws.close(args.close_code, args.close_reason)
            except websockets.ConnectionClosed:
                pass

        if args.ping:
            try:
                pong = await ws.ping(b"are you there")
                await asyncio.wait_for(pong, 5)
                say("PONG")
            except (asyncio.TimeoutError, websockets.ConnectionClosed):
                say("NO_PONG")
        if args.text_frame:
            await ws.send("text is not allowed")
        await asyncio.gather(client_to_broker(), broker_to_client())
    return handler


async def relay(src, dst):
    try:
        while True:
            data = await src.read(65536)
            if not data:
                break
            dst.write(data)
            await dst.drain()
    except OSError:
        pass
    dst.close()


def make_raw_handler(args):
    async def handler(creader, cwriter):
        tls = cwriter.get_extra_info("ssl_object")
        if tls is not None:
            say("SNI", getattr(tls, "lmq_sni", None) or "-")
            say("ALPN", tls.selected_alpn_protocol() or "-")
            say("TLS", tls.version())
        try:
            breader, bwriter = await asyncio.open_connection(args.target_host, args.target_port)
        except OSError:
            cwriter.close()
            return
        await asyncio.gather(relay(creader, bwriter), relay(breader, cwriter))
    return handler


async def main():
    args = parse_args()
    tls = None
    if args.cert:
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls.load_cert_chain(args.cert, args.key)
    if args.raw:
        if tls is not None:
            if args.alpn:
                tls.set_alpn_protocols(args.alpn.split(","))
            if args.tls_max == "1.2":
                tls.maximum_version = ssl.TLSVersion.TLSv1_2

            def on_sni(sslobj, name, ctx):
                sslobj.lmq_sni = name
            tls.sni_callback = on_sni
        server = await asyncio.start_server(make_raw_handler(args), "127.0.0.1", args.port,
                                            ssl=tls)
        say("READY", server.sockets[0].getsockname()[1])
        await asyncio.Future()
    server = await websockets.legacy.server.serve(
        make_handler(args), "127.0.0.1", args.port, ssl=tls,
        subprotocols=["mqtt", "mqttv3.1"], process_request=make_process_request(args),
        compression=None, ping_interval=None, max_size=None)
    port = server.sockets[0].getsockname()[1]
    say("READY", port)
    await asyncio.Future()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(0)
