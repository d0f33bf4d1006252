"""Interop: examples/ws-client against Python websockets servers.

usage: /usr/bin/python3 test_ws_client.py PATH/TO/ws-client
Prints one `ok - name` / `not ok - name` line per check, then `N passed, N failed`.
"""
import asyncio
import http
import os
import re
import socket
import sys

import harness
from harness import HOST, describe, run_program

import websockets

SIZES = [0, 1, 125, 126, 65535, 65536, 1 << 20]


def text_of(n):
    return ("Pack my box with five dozen liquor jugs. " * (n // 41 + 1))[:n]


class PyServer:
    """A websockets server on 127.0.0.1 and a free port, running handler per connection."""

    def __init__(self, handler, **kw):
        self.handler = handler
        self.kw = kw
        self.server = None

    async def __aenter__(self):
        self.server = await websockets.serve(
            self.handler, HOST, 0, max_size=None, ping_interval=None, close_timeout=5,
            **self.kw)
        self.port = self.server.sockets[0].getsockname()[1]
        self.url = f"ws://{HOST}:{self.port}/test"
        return self

    async def __aexit__(self, *exc):
        self.server.close()
        await asyncio.wait_for(self.server.wait_closed(), 10)


async def fragments(parts):
    for p in parts:
        yield p


async def echo_session(ws, seen):
    """What the server does to a ws-client --echo: send, wait for the same message back."""
    async def expect_echo(name, msg, send=None):
        await ws.send(msg if send is None else send)
        got = await asyncio.wait_for(ws.recv(), 30)
        ok = type(got) is type(msg) and got == msg
        seen.append((name, ok, "" if ok else f"sent {describe(msg)}, got {describe(got)}"))

    for n in SIZES:
        await expect_echo(f"text {n} bytes", text_of(n))
        await expect_echo(f"binary {n} bytes", os.urandom(n))
    await expect_echo("text with multi-byte UTF-8", "é€𝄞 ж" * 5000)
    await expect_echo("binary 16 MiB (through backpressure)", os.urandom(16 << 20))
    await expect_echo("fragmented text", "Hello wörld", fragments(["Hel", "lo ", "wör", "ld"]))
    await expect_echo("fragmented binary", b"\x01" * 70000 + b"\x02" * 70000,
                      fragments([b"\x01" * 70000, b"\x02" * 70000]))

    pong = await ws.ping(b"from python")
    try:
        await asyncio.wait_for(pong, 5)
        seen.append(("ping answered with a pong", True, ""))
    except asyncio.TimeoutError:
        seen.append(("ping answered with a pong", False, "no pong within 5 s"))

    burst = [f"burst {i}" if i % 2 else os.urandom(i * 100) for i in range(50)]
    for m in burst:
        await ws.send(m)
    replies = [await asyncio.wait_for(ws.recv(), 30) for _ in burst]
    seen.append(("50 pipelined messages echoed in order", replies == burst, ""))


async def client_echo(results, client, close_code, reason):
    seen = []

    async def handler(ws):
        try:
            await echo_session(ws, seen)
        except Exception as e:
            seen.append(("server session", False, f"{type(e).__name__}: {e}"))
        await ws.close(close_code, reason)

    prefix = f"--echo (close {close_code})"
    async with PyServer(handler) as srv:
        status, out, err = await run_program([client, "--echo", srv.url], timeout=120)
    if close_code == 1000:
        for name, ok, detail in seen:
            results.check(f"{prefix}: {name}", ok, detail)
    else:
        results.check(f"{prefix}: every echo correct", seen and all(ok for _, ok, _ in seen),
                      "; ".join(f"{n}: {d}" for n, ok, d in seen if not ok))
    results.check(f"{prefix}: exits 0", status == 0, f"status {status}, stderr {err!r}")
    results.check(f"{prefix}: prints 'closed: {close_code} {reason}'",
                  f"closed: {close_code} {reason}" in err, f"stderr {err!r}")


async def client_send(results, client):
    got = {}

    async def handler(ws):
        msg = await ws.recv()
        got["message"] = msg
        got["subprotocol"] = ws.subprotocol
        got["x-test"] = ws.request_headers.get("X-Test")
        await ws.send(f"reply to {msg}")
        await asyncio.wait_for(ws.wait_closed(), 10)
        got["close"] = ws.close_code

    async with PyServer(handler, subprotocols=["chat", "superchat"]) as srv:
        status, out, err = await run_program(
            [client, "--protocol", "nope", "--protocol", "superchat",
             "--header", "X-Test: yes", "--send", "hello", srv.url])
    results.check("--send: exits 0", status == 0, f"status {status}, stderr {err!r}")
    results.check("--send: server got the message", got.get("message") == "hello", repr(got))
    results.check("--send: prints the reply", out == "reply to hello\n", repr(out))
    results.check("--send: closes with 1000", got.get("close") == 1000, repr(got))
    results.check("--protocol: server picked the offered 'superchat'",
                  got.get("subprotocol") == "superchat" and "subprotocol superchat" in err,
                  f"{got!r} {err!r}")
    results.check("--header: server saw X-Test: yes", got.get("x-test") == "yes", repr(got))


def recording_server(got, echo=True):
    """A handler that records the messages and the close it receives, and (echo) answers
    each message with an "echo: " prefix."""
    got["messages"] = []

    async def handler(ws):
        try:
            async for msg in ws:
                got["messages"].append(msg)
                if echo:
                    await ws.send(f"echo: {msg}")
        except websockets.ConnectionClosed:
            pass
        await ws.wait_closed()
        got["close"] = (ws.close_code, ws.close_reason)

    return handler


async def interactive(results, client):
    """Types lines one at a time and waits for each answer, as a person would."""
    got = {}
    async with PyServer(recording_server(got)) as srv:
        proc = await asyncio.create_subprocess_exec(
            client, srv.url, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE)
        try:
            for line, answer in [("hello", "echo: hello"), ("/ping abc", "< pong abc"),
                                 ("héllo wörld", "echo: héllo wörld")]:
                proc.stdin.write(line.encode() + b"\n")
                await proc.stdin.drain()
                out = await asyncio.wait_for(proc.stdout.readline(), 10)
                results.check(f"interactive: '{line}' answered by '{answer}'",
                              out.decode() == answer + "\n", repr(out))
            proc.stdin.write(b"/close 4001 done now\n")
            await proc.stdin.drain()
            status = await asyncio.wait_for(proc.wait(), 10)
            err = (await proc.stderr.read()).decode()
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
    results.check("interactive: '/close 4001 done now' closes with 4001",
                  got.get("close") == (4001, "done now"), repr(got.get("close")))
    results.check("interactive: prints 'closed: 4001 done now', exits 0",
                  status == 0 and "closed: 4001 done now" in err, f"status {status}, {err!r}")


async def piped(results, client):
    """Lines piped in at once; end of input closes with 1000."""
    got = {}
    # No answers: the client closes right after the last line, before they could arrive.
    async with PyServer(recording_server(got, echo=False)) as srv:
        status, out, err = await run_program([client, srv.url],
                                             stdin_data="one\n\ntwo\nno newline at the end")
    results.check("piped stdin: exits 0", status == 0, f"status {status}, stderr {err!r}")
    results.check("piped stdin: every line sent as a text message",
                  got["messages"] == ["one", "", "two", "no newline at the end"],
                  repr(got["messages"]))
    results.check("piped stdin: end of input closes with 1000", got.get("close") == (1000, ""),
                  repr(got.get("close")))


async def refused(results, client):
    def reject(path, headers):
        return http.HTTPStatus.FORBIDDEN, [], b"go away\n"

    async def handler(ws):
        pass

    async with PyServer(handler, process_request=reject) as srv:
        status, out, err = await run_program([client, "--send", "x", srv.url])
    results.check("refused handshake: exits 1 and reports HTTP 403",
                  status == 1 and "403" in err, f"status {status}, stderr {err!r}")


async def dropped(results, client):
    async def handler(ws):
        await ws.recv()
        ws.transport.abort()  # no close frame: the client must see an abnormal end

    async with PyServer(handler) as srv:
        status, out, err = await run_program([client, "--send", "x", srv.url])
    results.check("connection dropped without close: exits 1, reports 1006",
                  status == 1 and "1006" in err, f"status {status}, stderr {err!r}")


async def reconnecting(results, client):
    """--reconnect: after a 1001 and two refused handshakes, the client is back by itself,
    with waits that double (jittered within their ranges), and sends --on-open each time."""
    handshakes, opened = [], []

    def gate(path, headers):
        handshakes.append(path)
        if len(handshakes) in (2, 3):  # the next two attempts are refused
            return http.HTTPStatus.SERVICE_UNAVAILABLE, [], b"not now\n"
        return None

    async def handler(ws):
        opened.append(await ws.recv())
        if len(opened) == 1:
            await ws.close(1001, "going away")
        else:
            await ws.send("welcome back")
            await ws.wait_closed()

    async with PyServer(handler, process_request=gate) as srv:
        proc = await asyncio.create_subprocess_exec(
            client, "--reconnect", "--backoff", "100:1000", "--on-open", "/join r1", srv.url,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE)
        try:
            out = await asyncio.wait_for(proc.stdout.readline(), 30)
            proc.stdin.close()  # end of input: close with 1000, and no coming back
            status = await asyncio.wait_for(proc.wait(), 10)
            err = (await proc.stderr.read()).decode()
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
    results.check("--reconnect: back after a 1001 and two refusals, --on-open sent on both "
                  "connections", out == b"welcome back\n" and opened == ["/join r1"] * 2 and
                  len(handshakes) == 4, f"{out!r}, {opened}, {len(handshakes)} handshakes")
    waits = [(int(m.group(2)), int(m.group(1))) for m in
             re.finditer(r"state reconnecting in (\d+) ms \(attempt (\d+)\)", err)]
    results.check("--reconnect: waits 50-100, 100-200, 200-400 ms for attempts 1, 2, 3",
                  [a for a, _ in waits] == [1, 2, 3] and 50 <= waits[0][1] <= 100 and
                  100 <= waits[1][1] <= 200 and 200 <= waits[2][1] <= 400, err)
    results.check("--reconnect: shows its state and the 1001, exits 0 after its own close",
                  status == 0 and "closed: 1001 going away" in err and
                  err.count("ws-client: state open") == 2, f"status {status}, {err!r}")


def refusing_socket():
    """A socket bound to a port but not listening: connecting to the port is refused, and while
    it stays open no other program (a test running beside this one) can take the port."""
    s = socket.socket()
    s.bind((HOST, 0))
    return s


async def usage_errors(results, client):
    # wss:// is tested against real TLS peers in tls/; here only that it is accepted.
    status, _, err = await run_program([client, "wss://127.0.0.1:1/"])
    results.check("wss:// URL accepted: a closed port gives a connection error (exit 1)",
                  status == 1 and "cannot connect" in err, f"status {status}, stderr {err!r}")
    status, _, err = await run_program([client])
    results.check("no URL: exits 2", status == 2, f"status {status}")
    status, _, err = await run_program([client, "http://127.0.0.1/"])
    results.check("http:// URL: exits 2", status == 2, f"status {status}")
    status, _, err = await run_program([client, "--send", "x", "--echo", "ws://127.0.0.1/"])
    results.check("--send with --echo: exits 2", status == 2, f"status {status}")
    with refusing_socket() as refusing:
        url = f"ws://{HOST}:{refusing.getsockname()[1]}/"
        status, _, err = await run_program([client, "--send", "x", url])
    results.check("connection refused: exits 1", status == 1, f"status {status}, {err!r}")


async def main(results):
    client = sys.argv[1]
    await results.run("ws-client --echo session", client_echo(results, client, 1000, "done"), 180)
    await results.run("ws-client --echo, server closes 4000",
                      client_echo(results, client, 4000, "custom"), 180)
    await results.run("ws-client --send session", client_send(results, client))
    await results.run("interactive session", interactive(results, client))
    await results.run("piped session", piped(results, client))
    await results.run("refused handshake", refused(results, client))
    await results.run("dropped connection", dropped(results, client))
    await results.run("usage errors", usage_errors(results, client))
    await results.run("reconnecting", reconnecting(results, client))


if __name__ == "__main__":
    harness.main(main)
