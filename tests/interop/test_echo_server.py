"""Interop: examples/echo-server against Python websockets clients.

usage: /usr/bin/python3 test_echo_server.py PATH/TO/echo-server
Prints one `ok - name` / `not ok - name` line per check, then `N passed, N failed`.
"""
import asyncio
import os
import signal
import sys

import harness
from harness import HOST, EchoServer, describe, expect

import websockets

SIZES = [0, 1, 125, 126, 65535, 65536, 1 << 20]
BIG = 16 << 20  # the server's default limit, which must still echo


def text_of(n):
    return ("The quick brown fox jumps over the lazy dog. " * (n // 45 + 1))[:n]


def connect(url, **kw):
    kw.setdefault("max_size", None)
    return websockets.connect(url, ping_interval=None, close_timeout=5, open_timeout=10, **kw)


async def echo(ws, msg):
    await ws.send(msg)
    got = await ws.recv()
    expect(type(got) is type(msg), f"sent {describe(msg)}, got {describe(got)}")
    expect(got == msg, f"sent {describe(msg)}, got different {describe(got)}")


async def echo_on_new_connection(url, msg):
    async with connect(url) as ws:
        await echo(ws, msg)


async def fragments(parts, between=None):
    for i, p in enumerate(parts):
        if i > 0 and between is not None:
            await between()
        yield p


async def fragmented(url, parts, between=None):
    async with connect(url) as ws:
        await ws.send(fragments(parts, between and (lambda: between(ws))))
        got = await ws.recv()
        want = parts[0][:0].join(parts)
        expect(got == want, f"sent {describe(want)} in {len(parts)} fragments, got {describe(got)}")


async def ping_mid_message(ws):
    pong = await ws.ping(b"mid-message")
    await asyncio.wait_for(pong, 5)


async def ping(url, payload):
    async with connect(url) as ws:
        pong = await ws.ping(payload)
        await asyncio.wait_for(pong, 5)  # resolves only for a pong with the same payload


async def close_with(url, code):
    ws = await connect(url)
    await ws.close(code, "see you")
    expect(ws.close_code == code, f"closed with {code}, server answered {ws.close_code}")


async def many_clients(url, clients=20, messages=20):
    async def client(i):
        async with connect(url) as ws:
            for j in range(messages):
                msg = os.urandom((i * 7919 + j * 104729) % 70000) if j % 2 else \
                    f"client {i} message {j} " * (j + 1)
                await echo(ws, msg)

    await asyncio.gather(*(client(i) for i in range(clients)))


async def pipelined(url, count=200):
    async with connect(url) as ws:
        sent = [f"message {i}" if i % 3 else os.urandom(i * 13) for i in range(count)]
        for m in sent:
            await ws.send(m)
        for i, m in enumerate(sent):
            got = await ws.recv()
            expect(got == m, f"reply {i} is {describe(got)}, expected {describe(m)}")


async def slow_reader(url, count=160, size=64 << 10):
    """The client does not read for a while: the server's output fills, it must stop
    reading from this client instead of failing or growing without bound."""
    async with connect(url) as ws:
        sent = [os.urandom(size) for _ in range(count)]

        async def writer():
            for m in sent:
                await ws.send(m)

        task = asyncio.ensure_future(writer())
        await asyncio.sleep(1.0)
        for i, m in enumerate(sent):
            got = await ws.recv()
            expect(got == m, f"reply {i} differs")
        await task


def push_without_reading(port, limit, stall=3.0):
    """A raw client that sends 64 KiB binary messages and never reads the echoes. Returns
    the bytes the server took before the client's writes stalled for `stall` seconds, or
    `limit` when it took that much (a server that keeps reading and buffering)."""
    sock, sent = stalled_client(port, limit, stall)
    sock.close()
    return sent


def stalled_client(port, limit, stall=3.0):
    """push_without_reading, leaving the connection open: returns (socket, bytes sent)."""
    import select
    import socket

    frame = bytes([0x82, 0x80 | 126, 0xFF, 0xFF, 0, 0, 0, 0]) + bytes(65535)
    sock = socket.create_connection((HOST, port), timeout=10)
    try:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                     b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                     b"Sec-WebSocket-Version: 13\r\n\r\n")
        head = b""
        while b"\r\n\r\n" not in head:
            got = sock.recv(1)
            if not got:
                raise AssertionError(f"connection ended in the handshake: {head!r}")
            head += got
        expect(head.startswith(b"HTTP/1.1 101"), f"answered {head[:40]!r}")
        sock.setblocking(False)
        sent = 0
        view = memoryview(frame)
        while sent < limit:
            _, writable, _ = select.select([], [sock], [], stall)
            if not writable:
                return sock, sent  # the server stopped reading
            try:
                n = sock.send(view)
            except BlockingIOError:
                continue
            sent += n
            view = view[n:] if n < len(view) else memoryview(frame)
        return sock, sent
    except BaseException:
        sock.close()
        raise


async def reading_paused(port):
    """Backpressure reaches the peer: while a client does not read its echoes, the server
    stops reading from it, so what the client can push is bounded by the socket buffers and
    the server's limits (5 to 8 MiB on a Debian 12 loopback), never by the client's patience.
    A server that kept reading would take all 256 MiB."""
    limit = 256 << 20
    sent = await asyncio.to_thread(push_without_reading, port, limit)
    expect(sent < 64 << 20, f"the server took {sent >> 20} MiB from a client that never "
                            "reads (it must stop reading long before 64 MiB)")


async def shutdown_with_stalled_client(path, results):
    """SIGTERM while a client reads nothing: the close frame can never be written, so only
    the server's own bounds (the close timeout, then the bounded final flush) end that
    connection. The server must get there and exit, well within a minute."""
    server = await EchoServer(path).start()
    sock = None
    try:
        sock, _ = await asyncio.to_thread(stalled_client, server.port, 256 << 20)
        server.proc.send_signal(signal.SIGTERM)
        try:
            status = await asyncio.wait_for(server.proc.wait(), 60)
        except asyncio.TimeoutError:
            status = None
        results.check("SIGTERM with a client that never reads: the server gives up on it "
                      "(close timeout, bounded flush) and exits 0", status == 0,
                      "still running after 60 s" if status is None else f"status {status}")
    finally:
        if sock is not None:
            sock.close()
        await server.close()


async def invalid_utf8(url):
    async with connect(url) as ws:
        await ws.write_frame(True, 0x1, b"ok \xc3\x28")  # 0xC3 needs a continuation byte
        await asyncio.wait_for(ws.wait_closed(), 10)
        expect(ws.close_code == 1007, f"server closed with {ws.close_code}, expected 1007")


async def too_big(url, limit):
    async with connect(url) as ws:
        await echo(ws, b"x" * limit)
        await ws.send(b"x" * (limit + 1))
        await asyncio.wait_for(ws.wait_closed(), 10)
        expect(ws.close_code == 1009, f"server closed with {ws.close_code}, expected 1009")


async def plain_http(port):
    reader, writer = await asyncio.open_connection(HOST, port)
    writer.write(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
    await writer.drain()
    answer = await asyncio.wait_for(reader.read(4096), 10)
    writer.close()
    expect(answer.startswith(b"HTTP/1.1 4"), f"answered {answer[:40]!r}")


async def shutdown_with_client(server, results):
    ws = await connect(server.url)
    await echo(ws, "still here")
    status = await server.stop()
    await asyncio.wait_for(ws.wait_closed(), 10)
    results.check("SIGTERM: open client gets close 1001", ws.close_code == 1001,
                  f"got {ws.close_code}")
    results.check("SIGTERM: echo-server exits with status 0", status == 0, f"status {status}")


async def timeouts(path, results):
    """libws's own timeouts reach the wire through the server's loop (ws_conn_tick): with
    --handshake-timeout 1000 a client that never sends its request gets 408, and with
    --idle-timeout 1000 an open client that sends nothing is closed with 1001."""
    server = await EchoServer(path, "--handshake-timeout", "1000", "--idle-timeout", "1000").start()
    try:
        async def silent():
            reader, writer = await asyncio.open_connection(HOST, server.port)
            got = await asyncio.wait_for(reader.read(), 30)  # to the server's close
            writer.close()
            expect(got.startswith(b"HTTP/1.1 408 "), f"got {got[:40]!r}")

        async def idle():
            async with connect(server.url) as ws:
                try:
                    await asyncio.wait_for(ws.recv(), 30)
                    raise AssertionError("a message from an echo server nobody wrote to")
                except websockets.ConnectionClosed:
                    pass
            expect(ws.close_code == 1001, f"close code {ws.close_code}")

        await results.run("--handshake-timeout 1000: a silent client gets 408", silent())
        await results.run("--idle-timeout 1000: a client that sends nothing is closed (1001)",
                          idle())
    finally:
        await server.close()


async def main(results):
    path = sys.argv[1]
    server = await EchoServer(path, "--verbose").start()
    limited = None
    try:
        limited = await EchoServer(path, "--max-message", "1000").start()
        url = server.url
        for n in SIZES:
            await results.run(f"echo text {n} bytes", echo_on_new_connection(url, text_of(n)))
            await results.run(f"echo binary {n} bytes",
                              echo_on_new_connection(url, os.urandom(n)))
        await results.run("echo text with multi-byte UTF-8 (1 MiB)",
                          echo_on_new_connection(url, "é€𝄞 ж" * (1 << 18)))
        await results.run("echo text 16 MiB", echo_on_new_connection(url, text_of(BIG)), 120)
        await results.run("echo binary 16 MiB", echo_on_new_connection(url, os.urandom(BIG)), 120)

        await results.run("fragmented text", fragmented(url, ["Hel", "lo ", "wör", "ld"]))
        await results.run("fragmented text with empty fragments",
                          fragmented(url, ["", "a", "", "b", ""]))
        await results.run("fragmented binary 3 x 100 KiB",
                          fragmented(url, [bytes([i]) * 100000 for i in range(3)]))
        await results.run("fragmented text with a ping between fragments",
                          fragmented(url, ["first ", "second"], ping_mid_message))

        for payload in [b"", b"hello", bytes(range(125))]:
            await results.run(f"ping with {len(payload)}-byte payload gets the same pong",
                              ping(url, payload))

        for code in [1000, 1001, 3000, 4999]:
            await results.run(f"close {code}: server answers {code}", close_with(url, code))

        await results.run("20 concurrent clients x 20 messages", many_clients(url))
        await results.run("200 pipelined messages come back in order", pipelined(url))
        await results.run("slow reader: 10 MiB through backpressure, in order", slow_reader(url))
        await results.run("a client that never reads: the server stops reading from it",
                          reading_paused(server.port), 120)
        await results.run("invalid UTF-8 in text: close 1007", invalid_utf8(url))
        await results.run("--max-message 1000: 1000 echoes, 1001 closes with 1009",
                          too_big(limited.url, 1000))
        await results.run("plain HTTP GET gets a 4xx answer", plain_http(server.port))
        await results.run("still accepting after all that", echo_on_new_connection(url, "end"))

        await shutdown_with_client(server, results)
        await shutdown_with_stalled_client(path, results)
        await timeouts(path, results)
    finally:
        await server.close()
        if limited is not None:
            await limited.close()


if __name__ == "__main__":
    harness.main(main)
