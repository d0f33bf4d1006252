"""Interop over TLS: Python websockets clients against an echo server's --cert/--key
(examples/echo-server, uv-echo-server or event-echo-server),
with a throwaway CA made by make-certs.sh at test time: echoes over wss:// when the CA is
trusted, and the client refuses the server when it is not.

usage: /usr/bin/python3 test_tls.py PATH/TO/echo-server
Prints one `ok - name` / `not ok - name` line per check, then `N passed, N failed`.
"""
import asyncio
import os
import ssl
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import harness  # noqa: E402
from harness import EchoServer, expect  # noqa: E402

import websockets  # noqa: E402


def connect(url, ctx):
    return websockets.connect(url, ssl=ctx, max_size=None, ping_interval=None, close_timeout=5,
                              open_timeout=10)


async def echo_session(url, ctx):
    async with connect(url, ctx) as ws:
        for msg in ["hello over TLS é", os.urandom(1 << 20), "x" * 70000, b""]:
            await ws.send(msg)
            got = await ws.recv()
            expect(got == msg, f"echo of {len(msg)} differs")
    expect(ws.close_code == 1000, f"close code {ws.close_code}")


async def refused(url, ctx):
    try:
        async with connect(url, ctx):
            pass
    except ssl.SSLCertVerificationError as e:
        expect("certificate verify failed" in str(e), str(e))
        return
    raise AssertionError("connected to a server whose CA was not trusted")


async def slow_reader_tls(url, ctx):
    """10 MiB of echoes through TLS while the client reads nothing for a second: the
    server's encrypted output fills, partial socket writes and backpressure follow, and
    every reply comes back whole and in order."""
    async with connect(url, ctx) as ws:
        sent = [os.urandom(64 << 10) for _ in range(160)]
        writer = asyncio.ensure_future(asyncio.gather(*[ws.send(m) for m in sent]))
        await asyncio.sleep(1.0)
        for i, m in enumerate(sent):
            expect(await ws.recv() == m, f"reply {i} differs")
        await writer


def push_tls_without_reading(port, cafile, limit=256 << 20):
    """A wss:// client that sends 64 KiB messages and never reads: returns the bytes the
    server took before a send stalled for 3 s (limit when it took them all)."""
    import socket
    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock = ssl.create_default_context(cafile=cafile).wrap_socket(raw, server_hostname="localhost")
    try:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n"
                     b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                     b"Sec-WebSocket-Version: 13\r\n\r\n")
        head = b""
        while b"\r\n\r\n" not in head:
            head += sock.recv(1)
        expect(head.startswith(b"HTTP/1.1 101"), f"answered {head[:40]!r}")
        frame = bytes([0x82, 0x80 | 126, 0xFF, 0xFF, 0, 0, 0, 0]) + bytes(65535)
        sock.settimeout(3)
        sent = 0
        while sent < limit:
            try:
                sock.sendall(frame)
            except (socket.timeout, TimeoutError):
                return sent  # the server stopped reading
            sent += len(frame)
        return sent
    finally:
        sock.close()


async def reading_paused_tls(port, cafile):
    sent = await asyncio.to_thread(push_tls_without_reading, port, cafile)
    expect(sent < 64 << 20, f"the server took {sent >> 20} MiB over TLS from a client that "
                            "never reads (it must stop reading long before 64 MiB)")


async def wrong_name(port, ctx):
    """The certificate names localhost and 127.0.0.1: a client asking for another name
    (SNI and verification) must refuse it."""
    try:
        async with websockets.connect(f"wss://localhost:{port}/", ssl=ctx,
                                      server_hostname="other.example", open_timeout=10):
            pass
    except ssl.SSLCertVerificationError as e:
        expect("Hostname mismatch" in str(e) or "hostname mismatch" in str(e), str(e))
        return
    raise AssertionError("accepted a certificate for another host name")


async def not_tls(port):
    """A plain ws:// upgrade request on the wss:// port: the TLS handshake fails and the
    server ends the connection (an alert at most, never a WebSocket answer; a reset counts
    as an end: libevent's OpenSSL bufferevent closes with the request unread)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET / HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n"
                 b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                 b"Sec-WebSocket-Version: 13\r\n\r\n")
    await writer.drain()
    try:
        got = await asyncio.wait_for(reader.read(), 10)  # until the server ends the stream
    except ConnectionResetError:
        got = b""
    writer.close()
    expect(b"HTTP/1.1" not in got, f"answered in plaintext: {got[:80]!r}")
    expect(len(got) < 64, f"{len(got)} bytes back: more than a TLS alert")


async def stalled(port, first_bytes):
    """A client that sends first_bytes (nothing, or part of a ClientHello) and then nothing:
    the handshake timeout ends the connection, with no WebSocket answer in plaintext."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(first_bytes)
    await writer.drain()
    try:
        got = await asyncio.wait_for(reader.read(), 30)  # until the server ends the stream
    except ConnectionResetError:
        got = b""
    writer.close()
    expect(b"HTTP/1.1" not in got, f"answered in plaintext: {got[:80]!r}")


def client_hello_start():
    """The first bytes of a real TLS ClientHello, from Python's ssl over memory BIOs."""
    ctx = ssl.create_default_context()
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(incoming, outgoing, server_hostname="localhost")
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    hello = outgoing.read()
    expect(len(hello) > 40 and hello[0] == 0x16, f"not a ClientHello: {hello[:8]!r}")
    return hello[:40]


async def main(results):
    path = sys.argv[1]
    name = os.path.basename(path)
    with tempfile.TemporaryDirectory() as d:
        subprocess.run(["sh", os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                           "make-certs.sh"), d], check=True)
        results.check("throwaway CA and certificates made with openssl", True)
        server = await EchoServer(path, "--cert", os.path.join(d, "server.pem"),
                                  "--key", os.path.join(d, "server.key")).start()
        try:
            trusted = ssl.create_default_context(cafile=os.path.join(d, "ca.pem"))
            url = f"wss://localhost:{server.port}/py"
            await results.run("websockets over wss://localhost, CA trusted: echoes up to 1 MiB",
                              echo_session(url, trusted))
            await results.run("websockets over wss://127.0.0.1 (IP in the certificate)",
                              echo_session(f"wss://127.0.0.1:{server.port}/", trusted))
            await results.run(f"{name}: wss:// slow reader, 10 MiB through backpressure, in order",
                              slow_reader_tls(url, trusted))
            await results.run(f"a wss:// client that never reads: {name} stops reading from it",
                              reading_paused_tls(server.port, os.path.join(d, "ca.pem")), 120)
            await results.run(f"websockets refuses {name} when the CA is not trusted",
                              refused(url, ssl.create_default_context()))
            await results.run(f"websockets refuses {name}'s certificate for another host name",
                              wrong_name(server.port, trusted))
            await results.run(f"a plain ws:// request to {name}'s wss:// port: TLS fails, "
                              "connection ended", not_tls(server.port))
            await results.run(f"{name} still serves wss:// after those",
                              echo_session(url, trusted))
            status = await server.stop()
            results.check(f"{name} --cert/--key exits 0 on SIGTERM", status == 0,
                          f"status {status}")
        finally:
            await server.close()
        server = await EchoServer(path, "--cert", os.path.join(d, "server.pem"),
                                  "--key", os.path.join(d, "server.key"),
                                  "--handshake-timeout", "1000").start()
        try:
            await results.run(f"{name} --handshake-timeout: a client silent after connecting "
                              "is dropped", stalled(server.port, b""))
            await results.run(f"{name} --handshake-timeout: a client stalled in the middle of "
                              "its ClientHello is dropped", stalled(server.port,
                                                                    client_hello_start()))
            await results.run(f"{name} still serves wss:// after those",
                              echo_session(f"wss://localhost:{server.port}/", trusted))
            status = await server.stop()
            results.check(f"{name} exits 0 on SIGTERM after those", status == 0,
                          f"status {status}")
        finally:
            await server.close()


harness.main(main)
