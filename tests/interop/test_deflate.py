"""Interop, permessage-deflate (RFC 7692) with Python websockets (Debian's 10.4, which
compresses by default), in both roles, and raw clients that send what no library would.

  - a websockets client against examples/echo-server;
  - examples/ws-client --echo against a websockets server;
  - raw clients (frames built here with zlib) that offer permessage-deflate and then send a
    message inflating past the server's limit (1009), data that does not inflate (1007),
    RSV1 on a continuation or a ping (1002), text inflating to invalid UTF-8 (1007).

Each connection goes through an observing relay (observer.py) that reads the 101's
Sec-WebSocket-Extensions and each frame's RSV1 off the wire.

usage: /usr/bin/python3 test_deflate.py PATH/TO/echo-server PATH/TO/ws-client
Prints one `ok - name` / `not ok - name` line per check, then `N passed, N failed`.
"""
import asyncio
import base64
import hashlib
import json
import os
import sys
import zlib

import harness
from harness import HOST, EchoServer, describe, expect, run_program
from observer import Observer, extensions_of, summarize

import websockets

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
TICKS = 20


def ticks(n):
    syms = ["MSFT", "AAPL", "GOOG", "AMZN", "NVDA"]
    return [json.dumps({"type": "tick", "sym": syms[i % 5], "bid": 100 + (i * 37 % 1000) / 100,
                        "ask": 100 + ((i * 37 + 5) % 1000) / 100, "seq": i, "venue": "XNAS"})
            for i in range(n)]


def workload():
    """The messages each connection exchanges: 20 ticks (over 64 bytes, so both sides
    compress them), short and empty text, random binary, 1 MiB of repeated text, periodic
    binary, multi-byte UTF-8."""
    return [*ticks(TICKS), "hi", "", os.urandom(100_000),
            ("The quick brown fox jumps over the lazy dog. " * 23302)[:1 << 20],
            bytes((i * 7) & 255 for i in range(256 << 10)), "é€𝄞 ж" * 10000]


def parse_extension(value):
    """'permessage-deflate; a=1; b' -> ('permessage-deflate', {'a': '1', 'b': True})."""
    parts = [p.strip() for p in (value or "").split(",")[0].split(";")]
    params = {}
    for p in parts[1:]:
        k, _, v = p.partition("=")
        params[k.strip()] = v.strip().strip('"') if _ else True
    return parts[0], params


def expected_line(answer):
    """What ws-client and echo-server --verbose print for the 101's answer."""
    _, p = parse_extension(answer)
    line = (f"permessage-deflate: server_max_window_bits={p.get('server_max_window_bits', '15')}"
            f" client_max_window_bits={p.get('client_max_window_bits', '15')}")
    for flag in ("server_no_context_takeover", "client_no_context_takeover"):
        if flag in p:
            line += " " + flag
    return line


def check_wire(results, name, rec):
    answer = extensions_of(rec["down"].head)
    ext, _ = parse_extension(answer)
    results.check(f"{name}: the 101 accepts permessage-deflate", ext == "permessage-deflate",
                  f"offer {extensions_of(rec['up'].head)!r}, answer {answer!r}")
    up, down = summarize(rec["up"].frames), summarize(rec["down"].frames)
    results.check(f"{name}: RSV1 only on first frames of data messages; RSV2/RSV3 clear",
                  up["misplaced_rsv1"] + down["misplaced_rsv1"] + up["rsv23"] + down["rsv23"] == 0,
                  repr((up, down)))
    results.check(f"{name}: client to server, the {TICKS} ticks and more carry RSV1",
                  up["compressed"] >= TICKS, repr(up))
    results.check(f"{name}: server to client, the {TICKS} ticks and more carry RSV1",
                  down["compressed"] >= TICKS, repr(down))
    total = sum(len(m.encode() if isinstance(m, str) else m) for m in workload())
    results.check(f"{name}: the {total} bytes of the workload took under 400 KB each way",
                  rec["up"].bytes < 400_000 and rec["down"].bytes < 400_000,
                  f"up {rec['up'].bytes}, down {rec['down'].bytes}")


async def python_client(results, echo_path):
    """websockets client (compression on by default) -> echo-server."""
    name = "websockets -> echo-server"
    server = await LoggedEchoServer(echo_path, "--verbose").start()
    try:
        async with Observer(server.port) as relay:
            async def session():
                async with websockets.connect(relay.url, max_size=None, ping_interval=None,
                                              close_timeout=5, open_timeout=10) as ws:
                    expect([e.name for e in ws.extensions] == ["permessage-deflate"],
                           f"websockets negotiated {ws.extensions!r}")
                    for msg in workload():
                        await ws.send(msg)
                        got = await asyncio.wait_for(ws.recv(), 30)
                        expect(type(got) is type(msg) and got == msg,
                               f"sent {describe(msg)}, got {describe(got)}")
                    # A fragmented message: websockets compresses it as one (RSV1 on the
                    # first frame only).
                    parts = ["{\"part\": %d, \"pad\": \"%s\"}" % (i, "x" * 200) for i in range(5)]

                    async def fragments():
                        for p in parts:
                            yield p
                    await ws.send(fragments())
                    got = await asyncio.wait_for(ws.recv(), 30)
                    expect(got == "".join(parts), f"fragmented: got {describe(got)}")

            await results.run(f"{name}: every message echoed, same type and bytes", session())
            rec = relay.last()
            if results.check(f"{name}: the connection went through the relay", rec is not None):
                check_wire(results, name, rec)
                line = expected_line(extensions_of(rec["down"].head))
                results.check(f"{name}: echo-server --verbose logged '{line}'",
                              f"({line})" in server_log(server), server_log(server))
    finally:
        await server.close()


class LoggedEchoServer(EchoServer):
    capture_log = True


def server_log(server):
    return server.log_text()


async def python_server(results, client_path):
    """ws-client --echo -> websockets server (compression on by default)."""
    name = "ws-client -> websockets"
    outcome = {"echoed": 0, "error": None}
    items = workload()

    async def handler(ws):
        try:
            for msg in items:
                await ws.send(msg)
                got = await asyncio.wait_for(ws.recv(), 30)
                if type(got) is not type(msg) or got != msg:
                    raise AssertionError(f"sent {describe(msg)}, got {describe(got)}")
                outcome["echoed"] += 1
            await ws.close(1000, "done")
        except Exception as e:
            outcome["error"] = f"{type(e).__name__}: {e}"
            await ws.close(4000, "wrong echo")

    async with websockets.serve(handler, HOST, 0, max_size=None, ping_interval=None,
                                close_timeout=5) as srv:
        port = srv.sockets[0].getsockname()[1]
        async with Observer(port) as relay:
            status, out, err = await run_program([client_path, "--echo", relay.url + "/"],
                                                 timeout=120)
            results.check(f"{name}: every message came back, same type and bytes",
                          outcome["error"] is None and outcome["echoed"] == len(items),
                          f"{outcome!r}; ws-client: {err!r}")
            results.check(f"{name}: ws-client exits 0 after close 1000",
                          status == 0 and "closed: 1000 done" in err, f"status {status}, {err!r}")
            rec = relay.last()
            if results.check(f"{name}: the connection went through the relay", rec is not None):
                check_wire(results, name, rec)
                line = expected_line(extensions_of(rec["down"].head))
                results.check(f"{name}: ws-client prints '{line}'", f"{line}\n" in err, repr(err))


# ---- Raw clients ----------------------------------------------------------------------

def deflate_raw(data, flush_end=True, wbits=15):
    """data compressed as permessage-deflate sends it: raw DEFLATE, sync-flushed, without
    the 00 00 FF FF tail (flush_end) or with the stream left open (not flush_end)."""
    c = zlib.compressobj(6, zlib.DEFLATED, -wbits)
    out = c.compress(data) + c.flush(zlib.Z_SYNC_FLUSH)
    return out[:-4] if flush_end else out


def frame(opcode, payload, fin=True, rsv1=False):
    head = bytes([(0x80 if fin else 0) | (0x40 if rsv1 else 0) | opcode])
    n = len(payload)
    if n < 126:
        head += bytes([0x80 | n])
    elif n < 65536:
        head += bytes([0x80 | 126]) + n.to_bytes(2, "big")
    else:
        head += bytes([0x80 | 127]) + n.to_bytes(8, "big")
    key = os.urandom(4)
    return head + key + bytes(b ^ key[i & 3] for i, b in enumerate(payload))


class Raw:
    """A raw connection: a handshake by hand (offering permessage-deflate unless told not
    to), then frames written as given and frames read with their payloads."""

    def __init__(self, port, offer="permessage-deflate; client_max_window_bits"):
        self.port = port
        self.offer = offer

    async def __aenter__(self):
        self.reader, self.writer = await asyncio.open_connection(HOST, self.port)
        key = base64.b64encode(os.urandom(16))
        ext = f"Sec-WebSocket-Extensions: {self.offer}\r\n" if self.offer else ""
        self.writer.write((f"GET /raw HTTP/1.1\r\nHost: {HOST}:{self.port}\r\n"
                           "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                           f"Sec-WebSocket-Key: {key.decode()}\r\nSec-WebSocket-Version: 13\r\n"
                           f"{ext}\r\n").encode())
        head = (await asyncio.wait_for(self.reader.readuntil(b"\r\n\r\n"), 10)).decode("latin-1")
        expect(head.startswith("HTTP/1.1 101"), f"handshake answered {head.splitlines()[0]!r}")
        accept = base64.b64encode(hashlib.sha1(key + GUID).digest()).decode()
        expect(f"\r\nsec-websocket-accept: {accept}".lower() in head.lower(), "bad accept")
        self.extensions = extensions_of(head)
        return self

    async def __aexit__(self, *exc):
        self.writer.close()

    def send(self, *frames):
        for f in frames:
            self.writer.write(f)

    async def read_frame(self, timeout=10):
        """(fin, rsv1, opcode, payload), or None at the end of the stream."""
        try:
            b = await asyncio.wait_for(self.reader.readexactly(2), timeout)
        except asyncio.IncompleteReadError:
            return None
        n = b[1] & 0x7F
        if n == 126:
            n = int.from_bytes(await self.reader.readexactly(2), "big")
        elif n == 127:
            n = int.from_bytes(await self.reader.readexactly(8), "big")
        expect(not b[1] & 0x80, "server frame is masked")
        payload = await asyncio.wait_for(self.reader.readexactly(n), timeout)
        return bool(b[0] & 0x80), bool(b[0] & 0x40), b[0] & 0x0F, payload

    async def expect_close(self, code):
        while True:
            f = await self.read_frame()
            expect(f is not None, "connection ended without a close frame")
            if f[2] == 8:
                got = int.from_bytes(f[3][:2], "big") if len(f[3]) >= 2 else 1005
                expect(got == code, f"server closed with {got} {f[3][2:]!r}, expected {code}")
                return

    async def message(self):
        """The next data message: (opcode, compressed, payload bytes as sent)."""
        parts, first = [], None
        while True:
            f = await self.read_frame()
            expect(f is not None, "connection ended before a message")
            fin, rsv1, op, payload = f
            if op >= 8:
                continue
            if first is None:
                first = (op, rsv1)
            else:
                expect(op == 0 and not rsv1, f"continuation with opcode {op}, RSV1 {rsv1}")
            parts.append(payload)
            if fin:
                return first[0], first[1], b"".join(parts)


async def raw_checks(results, port, limited_port):
    def inflate(b, stream=None):
        """A message from the server; stream carries its context over (context takeover)."""
        return (stream or zlib.decompressobj(-15)).decompress(b + b"\x00\x00\xff\xff")

    async def accepted():
        stream = zlib.decompressobj(-15)  # the server keeps its context between messages
        async with Raw(port) as r:
            expect(parse_extension(r.extensions)[0] == "permessage-deflate",
                   f"101 answered {r.extensions!r}")
            msg = json.dumps({"hello": "raw", "pad": "abc" * 100}).encode()
            r.send(frame(1, deflate_raw(msg), rsv1=True))
            op, compressed, payload = await r.message()
            expect(op == 1 and compressed, f"echo opcode {op}, RSV1 {compressed}")
            expect(inflate(payload, stream) == msg, "the echo does not inflate to the message")
            # Fragmented and compressed: RSV1 on the first frame only, the stream cut anywhere.
            body = deflate_raw(msg)
            r.send(frame(1, body[:5], fin=False, rsv1=True), frame(0, body[5:9], fin=False),
                   frame(0, body[9:]))
            op, compressed, payload = await r.message()
            # echo-server streams: it echoes as it inflates, and a message whose first
            # piece is under the 64-byte min_size goes out uncompressed.
            expect(op == 1 and (inflate(payload, stream) if compressed else payload) == msg,
                   f"fragmented compressed message not echoed (RSV1 {compressed})")
    await results.run("raw: offer accepted, a compressed message echoed compressed, inflating "
                      "to the same bytes; the same in 3 fragments echoed", accepted())

    async def expect_code(p, code, *frames, offer="permessage-deflate"):
        async with Raw(p, offer) as r:
            r.send(*frames)
            await r.expect_close(code)

    bomb = deflate_raw(bytes(100 << 20))  # 100 MiB of zeros, about 100 KB
    cases = [
        ("a message inflating to 2000 bytes past --max-message 1000: 1009", limited_port, 1009,
         [frame(2, deflate_raw(b"x" * 2000), rsv1=True)]),
        (f"100 MiB of zeros in {len(bomb)} compressed bytes, past the 16 MiB limit: 1009",
         port, 1009, [frame(2, bomb, rsv1=True)]),
        ("the same bomb against --max-message 1000, in 1 KiB fragments: 1009", limited_port, 1009,
         [frame(2, bomb[:1024], fin=False, rsv1=True)] +
         [frame(0, bomb[i:i + 1024], fin=False) for i in range(1024, 64 * 1024, 1024)]),
        ("data that does not inflate (a reserved block type): 1007", port, 1007,
         [frame(2, b"\xff\xff\xff\xff\xff", rsv1=True)]),
        ("a stored block whose length check fails: 1007", port, 1007,
         [frame(1, b"\x00\x05\x00\x00\x00hello", rsv1=True)]),
        ("compressed text inflating to invalid UTF-8: 1007", port, 1007,
         [frame(1, deflate_raw(b"ok \xc3\x28 not utf-8"), rsv1=True)]),
        ("RSV1 on a continuation frame: 1002", port, 1002,
         [frame(1, deflate_raw(b"first part ", flush_end=False), fin=False, rsv1=True),
          frame(0, deflate_raw(b"second", flush_end=True), rsv1=True)]),
        ("RSV1 on a continuation of an uncompressed message: 1002", port, 1002,
         [frame(1, b"plain ", fin=False), frame(0, b"more", rsv1=True)]),
        ("RSV1 on a ping: 1002", port, 1002, [frame(9, b"ping", rsv1=True)]),
    ]
    for name, p, code, frames in cases:
        await results.run(f"raw: {name}", expect_code(p, code, *frames))
    await results.run("raw: RSV1 without an offer (nothing negotiated): 1002",
                      expect_code(port, 1002, frame(1, deflate_raw(b"hello"), rsv1=True),
                                  offer=None))

    async def still_serving():
        async with Raw(port) as r:
            r.send(frame(1, deflate_raw(b"still here " * 20), rsv1=True))
            op, compressed, payload = await r.message()
            expect(inflate(payload) == b"still here " * 20, "no echo")
    await results.run("raw: the server still echoes after all that", still_serving())


async def flag_checks(results, echo_path, client_path):
    """The examples refuse deflate flags out of range, and list them in --help."""
    for prog, args in [(client_path, ["--server-max-window-bits", "7", "ws://127.0.0.1:1/"]),
                       (client_path, ["--client-max-window-bits", "16", "ws://127.0.0.1:1/"]),
                       (client_path, ["--deflate-level", "10", "ws://127.0.0.1:1/"]),
                       (echo_path, ["--server-max-window-bits", "08x"]),
                       (echo_path, ["--client-max-window-bits"])]:
        name = f"{os.path.basename(prog)} {' '.join(args[:2])}: refused with the usage"
        status, out, err = await run_program([prog, *args], timeout=10)
        results.check(name, status not in (0, None) and "usage:" in err,
                      f"status {status}, stderr {err[:200]!r}")
    for prog in (echo_path, client_path):
        status, out, err = await run_program([prog, "--help"], timeout=10)
        results.check(f"{os.path.basename(prog)} --help lists --no-deflate and the four "
                      "parameters", status == 0 and all(
                          f in out for f in ("--no-deflate", "--server-max-window-bits",
                                             "--client-max-window-bits",
                                             "--server-no-context-takeover",
                                             "--client-no-context-takeover")), out[-400:])


async def main(results):
    if len(sys.argv) != 3:
        results.check("usage: PATH/TO/echo-server PATH/TO/ws-client given", False)
        return
    echo_path, client_path = sys.argv[1], sys.argv[2]
    await flag_checks(results, echo_path, client_path)
    await python_client(results, echo_path)
    await python_server(results, client_path)
    server = await EchoServer(echo_path).start()
    limited = None
    try:
        limited = await EchoServer(echo_path, "--max-message", "1000").start()
        await raw_checks(results, server.port, limited.port)
    finally:
        await server.close()
        if limited:
            await limited.close()


if __name__ == "__main__":
    harness.main(main)
