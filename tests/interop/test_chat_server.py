"""Interop: examples/chat-server against Python websockets clients and raw sockets.

usage: /usr/bin/python3 test_chat_server.py PATH/TO/chat-server
Prints one `ok - name` / `not ok - name` line per check, then `N passed, N failed`.
Covers the page on the same port, the origin hook (403), the token hook (401 for a missing,
expired or forged token; cookie, query and Bearer accepted), the broadcast with the
"<subject>: " prefix (not back to the sender), the keepalive dropping a client that never
answers pings (close 1001 first), --print-token, and a clean exit on SIGTERM.
"""
import asyncio
import base64
import hashlib
import hmac
import os
import re
import struct
import sys
import time

import harness
from harness import HOST, expect, run_program

import websockets

SECRET = "correct horse battery staple"
ALLOWED = "https://chat.example"
WAIT = 5  # seconds for any one message, answer or close


class ChatServer(harness.ServerProcess):
    """examples/chat-server; its log is kept for the checks that read it."""

    name = "chat-server"
    capture_log = True

    def url(self, path="/chat"):
        return f"ws://{HOST}:{self.port}{path}"


def connect(url, **kw):
    # ping_interval=None: the client sends no pings of its own (it still answers the server's).
    return websockets.connect(url, ping_interval=None, close_timeout=WAIT, open_timeout=WAIT, **kw)


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def mint(subject, expires, secret=SECRET):
    """A token as documented in ws.h (ws_token_sign), made here independently."""
    payload = f"{b64url(subject.encode())}.{expires}"
    mac = hmac.new(secret.encode(), payload.encode(), hashlib.sha256).digest()
    return f"{payload}.{b64url(mac)}"


async def print_token(path, subject, ttl=600, secret=SECRET):
    status, out, err = await run_program(
        [path, "--print-token", subject, "--ttl", str(ttl), "--token-secret", secret])
    expect(status == 0, f"--print-token exited with {status}: {err.strip()}")
    return out.strip()


async def refused(url, status, **kw):
    """Expects the handshake to be answered with status; returns the exception."""
    try:
        async with connect(url, **kw):
            pass
    except websockets.exceptions.InvalidStatusCode as e:
        expect(e.status_code == status, f"answered {e.status_code}, expected {status}")
        return e
    raise AssertionError(f"connected, expected HTTP {status}")


async def recv_chat(ws, timeout=WAIT):
    """The next chat line, skipping "* ..." notices."""
    while True:
        msg = await asyncio.wait_for(ws.recv(), timeout)
        expect(isinstance(msg, str), f"got a binary message of {len(msg)} bytes")
        if not msg.startswith("* "):
            return msg


async def recv_note(ws, want, timeout=WAIT):
    """Waits for the notice `want`, skipping anything else."""
    deadline = time.monotonic() + timeout
    while True:
        msg = await asyncio.wait_for(ws.recv(), max(0.01, deadline - time.monotonic()))
        if msg == want:
            return


async def nothing_pending(ws):
    """After a ping round trip, every message sent to ws before it has arrived: none may be
    a chat line."""
    await asyncio.wait_for(await ws.ping(b"sync"), WAIT)
    while True:
        try:
            msg = await asyncio.wait_for(ws.recv(), 0.2)
        except asyncio.TimeoutError:
            return
        expect(msg.startswith("* "), f"the sender got {msg!r} back")


async def welcome_name(ws):
    """The name the server gave this client, from "* welcome, NAME (N online)"."""
    msg = await asyncio.wait_for(ws.recv(), WAIT)
    m = re.match(r"\* welcome, (.+) \(\d+ online\)$", msg)
    expect(m is not None, f"first message {msg!r} is not the welcome")
    return m.group(1)


# ---- plain HTTP on the same port -----------------------------------------------------------

async def http_get(port, target):
    reader, writer = await asyncio.open_connection(HOST, port)
    try:
        writer.write(f"GET {target} HTTP/1.1\r\nHost: {HOST}:{port}\r\n\r\n".encode())
        await writer.drain()
        data = await asyncio.wait_for(reader.read(), WAIT)  # Connection: close: until EOF
    finally:
        writer.close()
    expect(data.startswith(b"HTTP/1.1 "), f"answered {data[:40]!r}")
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(lines[0].split()[1]), headers, body


async def page(port, target):
    status, headers, body = await http_get(port, target)
    expect(status == 200, f"status {status}")
    expect(headers.get("content-type", "").startswith("text/html"),
           f"Content-Type {headers.get('content-type')!r}")
    expect(int(headers.get("content-length", -1)) == len(body),
           f"Content-Length {headers.get('content-length')} for {len(body)} bytes")
    expect(b"WebSocket" in body, "the page does not mention WebSocket")
    expect(b"/chat" in body, "the page does not open /chat")
    expect(b"<script src" not in body and b"<link" not in body, "the page loads something")


async def not_found(port, target):
    status, _, _ = await http_get(port, target)
    expect(status == 404, f"status {status}")


# ---- origin and token ------------------------------------------------------------------------

async def connects(url, want_name=None, **kw):
    async with connect(url, **kw) as ws:
        name = await welcome_name(ws)
        if want_name is not None:
            expect(name == want_name, f"named {name!r}, expected {want_name!r}")


async def refused_logged(server, url, status, why, **kw):
    """refused(), and the server's log gives the hook's reason (ws_strerror of its policy
    code) for this refusal: one more `answered HTTP <status>, <why>` line than before."""
    line = f"answered HTTP {status}, {why}\n"
    before = server.log_text().count(line)
    e = await refused(url, status, **kw)
    deadline = time.monotonic() + WAIT
    while server.log_text().count(line) == before:  # logged before the answer is flushed
        expect(time.monotonic() < deadline, f"no {line.strip()!r} in the server's log: "
               f"{server.log_text()[-300:]!r}")
        await asyncio.sleep(0.02)
    return e


async def missing_token(server):
    e = await refused_logged(server, server.url(), 401, "credentials missing")
    expect(e.headers.get("WWW-Authenticate", "").startswith("Bearer"),
           f"WWW-Authenticate {e.headers.get('WWW-Authenticate')!r}")


async def print_token_format(path):
    before = int(time.time())
    token = await print_token(path, "zoë", ttl=120)
    after = int(time.time())
    subject, expires, _ = token.split(".")
    expect(base64.urlsafe_b64decode(subject + "=" * (-len(subject) % 4)) == "zoë".encode(),
           f"subject part {subject!r}")
    expect(before + 120 <= int(expires) <= after + 120, f"expiry {expires}, now {after}")
    expect(token == mint("zoë", int(expires)), "the signature differs from HMAC-SHA256")


async def print_token_refusals(path):
    status, _, _ = await run_program([path, "--print-token", "alice"])
    expect(status != 0, "--print-token without --token-secret succeeded")
    status, _, _ = await run_program(
        [path, "--print-token", "bad\nname", "--token-secret", SECRET])
    expect(status != 0, "a subject with a newline was signed")


# ---- the chat --------------------------------------------------------------------------------

async def broadcast(server, path):
    tokens = {n: await print_token(path, n) for n in ("alice", "bob", "carol")}
    url = server.url()
    hdr = {"Authorization": f"Bearer {tokens['alice']}"}
    async with connect(url, extra_headers=hdr) as alice, \
            connect(url, extra_headers={"Cookie": f"token={tokens['bob']}"}) as bob, \
            connect(f"{url}?token={tokens['carol']}") as carol:
        for ws, n in ((alice, "alice"), (bob, "bob"), (carol, "carol")):
            expect(await welcome_name(ws) == n, f"{n} was not welcomed by name")
        await recv_note(alice, "* carol joined")
        await alice.send("hello, world")
        for ws, n in ((bob, "bob"), (carol, "carol")):
            got = await recv_chat(ws)
            expect(got == "alice: hello, world", f"{n} got {got!r}")
        await nothing_pending(alice)

        await bob.send("héllo 𝄞")
        for ws in (alice, carol):
            got = await recv_chat(ws)
            expect(got == "bob: héllo 𝄞", f"got {got!r}")
        await nothing_pending(bob)

        await carol.close()
        await recv_note(alice, "* carol left")
        await recv_note(bob, "* carol left")
        await alice.send("")
        got = await recv_chat(bob)
        expect(got == "alice: ", f"an empty message came as {got!r}")


async def guests(server):
    async with connect(server.url()) as a, connect(server.url()) as b:
        na, nb = await welcome_name(a), await welcome_name(b)
        expect(na != nb and na.startswith("guest-"), f"names {na!r} and {nb!r}")
        await a.send("hi")
        got = await recv_chat(b)
        expect(got == f"{na}: hi", f"got {got!r}")


async def binary_refused(server):
    async with connect(server.url()) as ws:
        await ws.send(b"\x00\x01")
        await asyncio.wait_for(ws.wait_closed(), WAIT)
        expect(ws.close_code == 1003, f"closed with {ws.close_code}, expected 1003")


# ---- keepalive -------------------------------------------------------------------------------

async def read_frame(reader):
    b0, b1 = await reader.readexactly(2)
    expect(b1 & 0x80 == 0, "the server masked a frame")
    n = b1 & 0x7F
    if n == 126:
        n = struct.unpack("!H", await reader.readexactly(2))[0]
    elif n == 127:
        n = struct.unpack("!Q", await reader.readexactly(8))[0]
    return b0 & 0x0F, await reader.readexactly(n)


async def silent_client(server):
    """Completes the handshake, then never answers: pings, then close 1001, then EOF."""
    reader, writer = await asyncio.open_connection(HOST, server.port)
    try:
        key = base64.b64encode(os.urandom(16)).decode()
        writer.write((f"GET /chat HTTP/1.1\r\nHost: {HOST}:{server.port}\r\n"
                      "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                      f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
        await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), WAIT)
        expect(head.startswith(b"HTTP/1.1 101"), f"answered {head[:40]!r}")
        start = time.monotonic()
        pings, close = 0, None
        # Expected after about 0.5 s (a ping at 200 ms, 300 ms for its pong); the bounds
        # leave room for a loaded machine, and still show that the server does not linger.
        while close is None:  # pings keep coming: the whole wait is bounded, not each read
            left = start + WAIT - time.monotonic()
            expect(left > 0, f"no close frame within {WAIT} s ({pings} pings)")
            try:
                op, payload = await asyncio.wait_for(read_frame(reader), left)
            except asyncio.TimeoutError:
                raise AssertionError(f"no close frame within {WAIT} s ({pings} pings)") from None
            if op == 0x9:
                pings += 1
            elif op == 0x8:
                close = payload
        expect(pings >= 1, "no ping came before the close")
        expect(len(close) >= 2 and struct.unpack("!H", close[:2])[0] == 1001,
               f"close payload {close!r}, expected code 1001")
        rest = await asyncio.wait_for(reader.read(), WAIT)
        elapsed = time.monotonic() - start
        expect(rest == b"", f"{len(rest)} more bytes after the close frame")
        expect(elapsed < WAIT, f"socket closed after {elapsed:.2f} s")
    finally:
        writer.close()
    log = server.log_text()
    expect("pong timeout" in log, f"the server did not log the pong timeout: {log[-300:]!r}")


async def answering_client_stays(server):
    """A server that pings every 200 ms keeps a client that answers, for 15 pings and three
    times its pong timeout (1 s: a pong timeout a loaded machine cannot miss by accident)."""
    async with connect(server.url()) as ws:
        await welcome_name(ws)
        await asyncio.sleep(3)
        await ws.send("still here")
        await nothing_pending(ws)
        expect(ws.open, f"closed with {ws.close_code}")


async def shutdown_with_client(server, results):
    ws = await connect(server.url())
    await welcome_name(ws)
    status = await server.stop()
    await asyncio.wait_for(ws.wait_closed(), WAIT * 2)
    results.check("SIGTERM: open client gets close 1001", ws.close_code == 1001,
                  f"got {ws.close_code}")
    results.check("SIGTERM: chat-server exits with status 0", status == 0, f"status {status}")


async def main(results):
    path = os.path.abspath(sys.argv[1])
    servers = []

    async def start(*args):
        s = await ChatServer(path, *args).start()
        servers.append(s)
        return s

    try:
        open_srv = await start("--allow-origin", ALLOWED, "--allow-origin", "https://*.example.org")
        auth = await start("--token-secret", SECRET)
        keep = await start("--ping-interval", "200", "--pong-timeout", "300")
        steady = await start("--ping-interval", "200", "--pong-timeout", "1000")
        port, url = open_srv.port, open_srv.url()
        now = int(time.time())

        await results.run("GET / returns the page (200, text/html, WebSocket)", page(port, "/"))
        await results.run("GET /?token=x returns the page", page(port, "/?token=x"))
        await results.run("GET /nope returns 404", not_found(port, "/nope"))
        await results.run("WebSocket to /other gets 404", refused(open_srv.url("/other"), 404))
        await results.run("the page needs no token", page(auth.port, "/"))

        await results.run("origin: other Origin gets 403",
                          refused(url, 403, origin="https://evil.example"))
        await results.run("origin: look-alike of an allowed one gets 403, logged as such",
                          refused_logged(open_srv, url, 403, "origin not allowed",
                                         origin="https://chat.example.evil.test"))
        await results.run("origin: --allow-origin origin connects", connects(url, origin=ALLOWED))
        await results.run("origin: --allow-origin wildcard connects",
                          connects(url, origin="https://a.b.example.org"))
        await results.run("origin: same origin as the page connects",
                          connects(url, origin=f"http://{HOST}:{port}"))
        await results.run("origin: no Origin header connects", connects(url))
        await results.run("origin: default policy refuses a foreign Origin",
                          refused(keep.url(), 403, origin=ALLOWED))

        aurl = auth.url()
        await results.run("token: missing gets 401 (WWW-Authenticate: Bearer), logged as such",
                          missing_token(auth))
        await results.run("token: expired gets 401, logged as expired",
                          refused_logged(auth, f"{aurl}?token={mint('alice', now - 60)}", 401,
                                         "credentials expired"))
        await results.run("token: bad signature gets 401, logged as invalid",
                          refused_logged(auth, f"{aurl}?token={mint('alice', now + 600, 'wrong key')}",
                                         401, "credentials invalid"))
        good = mint("alice", now + 600)
        forged = b64url(b"mallory") + good[good.index("."):]
        await results.run("token: subject swapped under a good signature gets 401",
                          refused(f"{aurl}?token={forged}", 401))
        await results.run("token: garbage gets 401", refused(f"{aurl}?token=abc", 401))
        tabbed = mint("a\tb", now + 600)
        await results.run("token: not printable subject gets 403",
                          refused(f"{aurl}?token={tabbed}", 403))
        await results.run("token: valid in cookie connects",
                          connects(aurl, "alice", extra_headers={"Cookie": f"x=1; token={good}"}))
        await results.run("token: valid in query connects", connects(f"{aurl}?token={good}", "alice"))
        await results.run("token: valid as Bearer connects",
                          connects(aurl, "alice", extra_headers={"Authorization": f"Bearer {good}"}))

        async def printed():
            await connects(f"{aurl}?token={await print_token(path, 'dave')}", "dave")
        await results.run("--print-token output connects", printed())
        await results.run("--print-token: format, expiry and HMAC as documented",
                          print_token_format(path))
        await results.run("--print-token refuses no secret and a bad subject",
                          print_token_refusals(path))

        await results.run("broadcast: '<subject>: ' prefix to the others, not the sender",
                          broadcast(auth, path))
        await results.run("without --token-secret: guest names", guests(open_srv))
        await results.run("binary message: close 1003", binary_refused(open_srv))

        await results.run(f"keepalive: silent client gets 1001 and is dropped within {WAIT} s",
                          silent_client(keep))
        await results.run("keepalive: a client that answers pings stays",
                          answering_client_stays(steady))
        await results.run("still serving after all that", connects(auth.url(), "alice",
                          extra_headers={"Cookie": f"token={good}"}))
        await shutdown_with_client(open_srv, results)
    finally:
        for s in servers:
            await s.close()


if __name__ == "__main__":
    harness.main(main)
