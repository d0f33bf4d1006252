#!/usr/bin/env python3
"""Writes the seed corpora in fuzz/corpus/<harness>/, one small file per case, in the input
format each harness reads (see the comment at the top of each harness). The cases are
representative inputs from the unit-test tables (tests/test_*.c) and RFC 6455 examples.
Run from anywhere: python3 fuzz/seeds.py (existing seeds of the same name are rewritten;
files the fuzzer added by hand-minimising, e.g. from a long run, are left alone)."""
import base64
import hashlib
import hmac
import os
import struct
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
KEY = b"dGhlIHNhbXBsZSBub25jZQ=="          # RFC 6455 §1.3
ACCEPT = b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo="     # its accept value
FZ_ACCEPT = b"Bz3qJYTGdOe8gUSpLosEdiLKDrk="  # for the harnesses' deterministic key
MASK = bytes([0x37, 0xFA, 0x21, 0x3D])        # the key of RFC 6455 §5.7


def signed_token(subject, expires, key=b"key"):
    """A token in the form ws_token_sign writes (see ws.h), for the policy checks."""
    b64 = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=")  # noqa: E731
    head = b64(subject) + b"." + str(expires).encode()
    return head + b"." + b64(hmac.new(key, head, hashlib.sha256).digest())


def write(harness, name, data):
    d = os.path.join(HERE, "corpus", harness)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def split(*sizes):
    """A split plan: count byte, then the piece lengths (cycled)."""
    return bytes([len(sizes)]) + bytes(sizes)


WHOLE = split()


def frame(opcode, payload=b"", fin=True, masked=False, rsv=0, key=MASK, length=None,
          form=None):
    n = len(payload) if length is None else length
    b0 = (0x80 if fin else 0) | rsv | opcode
    m = 0x80 if masked else 0
    if form == 16 or (form is None and 126 <= n <= 0xFFFF):
        head = bytes([b0, m | 126]) + struct.pack(">H", n)
    elif form == 64 or (form is None and n > 0xFFFF):
        head = bytes([b0, m | 127]) + struct.pack(">Q", n)
    else:
        head = bytes([b0, m | n])
    if masked:
        head += key
        payload = bytes(c ^ key[i % 4] for i, c in enumerate(payload))
    return head + payload


def close_payload(code, reason=b""):
    return struct.pack(">H", code) + reason


REQUEST = (b"GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\n"
           b"Connection: Upgrade\r\nSec-WebSocket-Key: " + KEY + b"\r\n"
           b"Origin: http://example.com\r\nSec-WebSocket-Protocol: chat, superchat\r\n"
           b"Sec-WebSocket-Version: 13\r\n\r\n")
RESPONSE = (b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + FZ_ACCEPT + b"\r\n\r\n")

UTF8 = {
    "ascii": b"Hello, world",
    "mixed": "caf\u00e9 \u20ac 12 \U0001F600!".encode(),
    "kosme": "\u03ba\u1f79\u03c3\u03bc\u03b5".encode(),
    "boundaries": b"\x7f\xc2\x80\xdf\xbf\xe0\xa0\x80\xed\x9f\xbf\xee\x80\x80\xef\xbf\xbf"
                  b"\xf0\x90\x80\x80\xf4\x8f\xbf\xbf",
    "overlong-c0": b"\xc0\xaf",
    "overlong-e0": b"\xe0\x80\x80",
    "overlong-f0": b"\xf0\x8f\xbf\xbf",
    "surrogate": b"x\xc3\xa9\xed\xa0\x80",
    "cesu8": b"\xed\xa0\xbd\xed\xb8\x80",
    "above-max": b"\xf4\x90\x80\x80",
    "lead-f5": b"\xf5\x80\x80\x80",
    "byte-ff": b"abc\xff",
    "stray-continuation": b"A\x80",
    "c3-41": b"\xc3\x41",
    "truncated": b"hello \xf3",
    "truncated-e2": b"a\xe2\x82",
    "long-ascii-then-bad": b"abcdefghijklmnopqrstuvwxyz0123456789" * 3 + b"\xe2\x28\xa1",
    # Long enough for the SIMD block checks (64 bytes and more at a character boundary).
    "long-mixed": ("Gr\u00fc\u00dfe, \u4e16\u754c \U0001F30D caf\u00e9 " * 12).encode(),
    "long-mixed-then-surrogate": ("\u00e9t\u00e9 \u20ac " * 16).encode() + b"\xed\xa0\x80 tail",
    "long-mixed-cut-f0": ("\u00e9t\u00e9 \u20ac " * 16).encode() + b"\xf0\x9f\x98",
}


def seeds_utf8():
    for i, (name, text) in enumerate(sorted(UTF8.items())):
        plan = [WHOLE, split(1), split(3, 1), split(7, 0, 2)][i % 4]
        write("fuzz_utf8", name, plan + text)
    # Close payloads ride in the same harness.
    write("fuzz_utf8", "close-1000-bye", WHOLE + close_payload(1000, b"bye"))
    write("fuzz_utf8", "close-1005", WHOLE + close_payload(1005))
    write("fuzz_utf8", "close-one-byte", WHOLE + b"\x03")


def seeds_mask():
    payloads = [b"", b"H", b"Hello", bytes(range(64)), bytes(range(200)) + b"tail",
                bytes(range(256)) * 20 + b"xyz"]  # past the widest SIMD step many times
    for i, p in enumerate(payloads):
        offset = [0, 1, 2, 3, 0x85][i % 5]
        align = [0, 1, 7, 0x1b, 0x3f][i % 5]
        plan = [WHOLE, split(1), split(3, 5), split(8, 0, 13), split(31)][i % 5]
        write("fuzz_mask", "len%d" % len(p), MASK + bytes([offset, align]) + plan + p)


def seeds_frame(role):
    masked = role == "server"  # frames to a server are masked
    h = "fuzz_frame_" + role
    f = lambda *a, **k: frame(*a, masked=masked, **k)  # noqa: E731
    cases = {
        "text-hello": (0, 0, WHOLE, f(1, b"Hello")),
        "fragmented": (0, 0, split(1), f(1, b"Hel", fin=False) + f(0, b"lo")),
        "ping-between": (0, 0, split(2), f(1, b"a", fin=False) + f(9, b"p") + f(0, b"b")),
        "close": (0, 0, WHOLE, f(8, close_payload(1000, b"bye"))),
        "empty-frames": (0, 0, split(1), f(2) + f(9) + f(10) + f(8)),
        "len16": (0, 0, split(100), f(2, bytes(300))),
        "len64": (0, 0, split(200, 7), f(2, bytes(70000))[:600]),
        "len64-msb": (0, 0, WHOLE, bytes([0x82, (0x80 if masked else 0) | 127, 0x80]) + bytes(7)),
        "nonminimal16": (1, 0, WHOLE, f(2, b"abc", form=16)),
        "nonminimal16-refused": (0, 0, WHOLE, f(2, b"abc", form=16)),
        "nonminimal64": (1, 0, split(1), f(1, b"x" * 10, form=64)),
        "rsv1": (4 << 1, 0, WHOLE, f(1, b"x", rsv=0x40)),
        "rsv1-refused": (0, 0, WHOLE, f(1, b"x", rsv=0x40)),
        "reserved-opcode": (0, 0, WHOLE, f(3, b"x")),
        "control-fragmented": (0, 0, WHOLE, f(9, b"x", fin=False)),
        "control-126": (0, 0, WHOLE, f(9, bytes(126))),
        "too-big": (0, 2, WHOLE, f(2, bytes(126))),
        "wrong-mask": (0, 0, WHOLE, frame(1, b"hi", masked=not masked)),
        "byte-by-byte": (0, 0, split(1), f(1, b"Hello") + f(2, bytes(130))),
        "truncated": (0, 0, split(3), f(2, bytes(50))[:20]),
    }
    for name, (c0, c1, plan, stream) in cases.items():
        write(h, name, bytes([c0, c1]) + plan + stream)


def seeds_handshake_server():
    h = "fuzz_handshake_server"
    variants = {
        "rfc-request": REQUEST,
        "absolute-form": REQUEST.replace(b"GET /chat", b"GET http://server.example.com/chat?x=1"),
        "query-cookie": REQUEST.replace(b"GET /chat", b"GET /chat?room=lobby&token=abc")
                        .replace(b"\r\n\r\n", b"\r\nCookie: a=1; session=\"xyz\"\r\n\r\n"),
        "extensions": REQUEST.replace(b"\r\n\r\n", b"\r\nSec-WebSocket-Extensions: "
                                      b"permessage-deflate; client_max_window_bits, "
                                      b"x-ext; a=\"q,uoted\"; b=1\r\n\r\n"),
        "http10": REQUEST.replace(b"HTTP/1.1", b"HTTP/1.0"),
        "post": REQUEST.replace(b"GET", b"POST"),
        "no-host": REQUEST.replace(b"Host: server.example.com\r\n", b""),
        "two-hosts": REQUEST.replace(b"Host:", b"Host: a\r\nHost:"),
        "version-8": REQUEST.replace(b"Version: 13", b"Version: 8"),
        "bad-key": REQUEST.replace(KEY, b"short"),
        "body": REQUEST.replace(b"\r\n\r\n", b"\r\nContent-Length: 5\r\n\r\nhello"),
        "obs-fold": REQUEST.replace(b"Upgrade: websocket\r\n", b"Upgrade:\r\n websocket\r\n"),
        "bare-lf": REQUEST.replace(b"\r\n", b"\n"),
        "frames-after": REQUEST + frame(1, b"hi", masked=True),
        "plain-get": b"GET /index.html HTTP/1.1\r\nHost: example.com\r\n\r\n",
        "token-bearer": REQUEST.replace(b"\r\n\r\n", b"\r\nAuthorization: Bearer " +
                                        signed_token(b"alice", 2000) + b"\r\n\r\n"),
        "token-cookie-expired": REQUEST.replace(b"\r\n\r\n", b"\r\nCookie: token=" +
                                                signed_token(b"bob", 10) + b"\r\n\r\n"),
        "token-query": REQUEST.replace(b"GET /chat", b"GET /chat?token=" +
                                       signed_token(b"carol", 5000)),
        "token-subprotocol": REQUEST.replace(b"chat, superchat", b"chat, token." +
                                             signed_token(b"dave", 3000)),
        "origin-subdomain": REQUEST.replace(b"http://example.com", b"https://a.b.Example.com"),
        "origin-lookalike": REQUEST.replace(b"http://example.com", b"https://evilexample.com"),
        "origin-bare": REQUEST.replace(b"http://example.com", b"https://example.com:443"),
        "origin-localhost": REQUEST.replace(b"http://example.com", b"http://localhost:8080"),
    }
    for i, (name, req) in enumerate(sorted(variants.items())):
        c0 = 2 if name == "bare-lf" else 0
        plan = [WHOLE, split(1), split(5, 0, 17), split(64)][i % 4]
        write(h, name, bytes([c0, 0]) + plan + req)
    # Small limits: head buffer 64 bytes, header lines of 16, a request line of 16.
    write(h, "limits-small", bytes([(1 << 2) | (1 << 4), 1]) + WHOLE + REQUEST)
    write(h, "limits-headers", bytes([3 << 6, 0]) + split(9) + REQUEST)
    # Hand-off: version byte, then method, target and headers separated by LF.
    fields = [b"GET", b"/chat?x=1", b"Host: server.example.com", b"Upgrade: websocket",
              b"Connection: keep-alive, Upgrade", b"Sec-WebSocket-Key: " + KEY,
              b"Sec-WebSocket-Version: 13", b"Sec-WebSocket-Protocol: chat"]
    write(h, "handoff-valid", bytes([1, 0]) + WHOLE + b"\x01" + b"\n".join(fields))
    write(h, "handoff-http10", bytes([1, 0]) + WHOLE + b"\x00" + b"\n".join(fields))
    write(h, "handoff-space-in-name", bytes([1, 0]) + WHOLE + b"\x01" +
          b"\n".join(fields + [b"Bad Name: x"]))
    write(h, "handoff-minor-11", bytes([1, 0]) + WHOLE + b"\x0b" + b"\n".join(fields))


def seeds_handshake_client():
    h = "fuzz_handshake_client"
    chat = RESPONSE.replace(b"\r\n\r\n", b"\r\nSec-WebSocket-Protocol: chat\r\n\r\n")
    ext = RESPONSE.replace(b"\r\n\r\n", b"\r\nSec-WebSocket-Extensions: x-fz\r\n"
                           b"Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n")
    cases = {
        "ok": (0, WHOLE, RESPONSE),
        "ok-split": (0, split(1), RESPONSE + frame(1, b"hi")),
        "subprotocol": (4, split(7), chat),
        "subprotocol-not-offered": (0, WHOLE, chat),
        "extensions": (8, split(13, 2), ext),
        "wrong-accept": (0, WHOLE, RESPONSE.replace(FZ_ACCEPT, ACCEPT)),
        "status-403": (0, WHOLE, b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n"),
        "redirect": (0, WHOLE, b"HTTP/1.1 302 Found\r\nLocation: ws://elsewhere/\r\n\r\n"),
        "no-upgrade": (0, WHOLE, RESPONSE.replace(b"Upgrade: websocket\r\n", b"")),
        "bad-status-line": (0, WHOLE, b"HTTP/1.1 1010 Nope\r\n\r\n"),
        "bare-lf": (2, WHOLE, RESPONSE.replace(b"\r\n", b"\n")),
        "small-buffer": (1 << 4, WHOLE, RESPONSE),
    }
    for name, (c0, plan, data) in cases.items():
        write(h, name, bytes([c0]) + plan + data)
    urls = {
        "url-plain": b"ws://example.com/chat",
        "url-secure-port": b"wss://example.com:8443/a/b?x=1&y=2",
        "url-ipv6": b"ws://[2001:db8::1]:9000/",
        "url-ipv4-query-only": b"ws://127.0.0.1?x=1",
        "url-userinfo": b"ws://user@example.com/",
        "url-fragment": b"ws://example.com/#frag",
        "url-port-0": b"ws://example.com:0/",
        "url-http": b"http://example.com/",
    }
    for name, url in urls.items():
        write(h, name, bytes([1]) + WHOLE + url)


def seeds_conn(role):
    h = "fuzz_conn_" + role
    to_us = role == "server"  # a server receives masked frames
    f = lambda *a, **k: frame(*a, masked=to_us, **k)  # noqa: E731
    head = REQUEST if role == "server" else RESPONSE
    chat = b"chat"
    data = {
        "echo-session": f(1, b"Hello") + f(9, b"ping") + f(2, bytes(200)) +
                        f(8, close_payload(1000, b"bye")),
        "fragments": f(1, b"frag", fin=False) + f(9, b"") + f(0, b"mented", fin=False) +
                     f(0, b"!"),
        "bad-utf8": f(1, b"ok\xc3\xa9 \xed\xa0\x80 no"),
        "bad-close": f(8, b"\x03"),
        "close-999": f(8, close_payload(999)),
        "continuation-first": f(0, b"x"),
        "new-message-inside": f(1, b"a", fin=False) + f(2, b"b"),
        "unmasked": frame(1, b"hi", masked=not to_us),
        "big-claim": f(2, length=1 << 40, payload=b"")[:14],
    }
    # c0: whole_messages, auto_pong off, heap, echo, drain policy (2 bits), start_open, eof.
    # c1: frame, message, fragment and output limits. c2: head, headers, bare LF, reject,
    # pick protocol, plain HTTP. c3: allocator failure (heap only).
    settings = [
        (0x08 | 0x80, 0, 0x40, 0),        # echo, eof at end, pick protocol
        (0x01 | 0x04 | 0x08, 0, 0, 0),    # whole messages, heap, echo
        (0x04 | 0x10, 0x55, 0, 0),        # heap, drain per piece, small limits
        (0x20 | 0x08, 0xFF, 0x05, 0),     # drain at end only, tightest limits
        (0x30 | 0x08, 0x40, 0, 0),        # trickle drain, 256-byte output
        (0x04, 0, 0, 5),                  # allocator fails from the 5th call
    ]
    plans = [WHOLE, split(1), split(3, 17), split(64, 0, 5)]
    i = 0
    for name, frames in sorted(data.items()):
        c0, c1, c2, c3 = settings[i % len(settings)]
        write(h, name, bytes([c0, c1, c2, c3]) + plans[i % len(plans)] + head + frames)
        write(h, name + "-open", bytes([c0 | 0x40, c1, c2, c3]) + plans[(i + 1) % 4] + frames)
        i += 1
    if role == "server":
        write(h, "reject", bytes([0x80, 0, 0x20, 0]) + WHOLE + REQUEST + f(1, b"never"))
        write(h, "plain-http", bytes([0, 0, 0x80, 0]) + WHOLE +
              b"GET /index.html HTTP/1.1\r\nHost: example.com\r\n\r\n")
        write(h, "bad-request", bytes([0, 0, 0, 0]) + split(2) + REQUEST.replace(b"13", b"8"))
    else:
        write(h, "refused", bytes([0, 0, 0, 0]) + WHOLE + b"HTTP/1.1 403 Forbidden\r\n\r\n")
        write(h, "subprotocol", bytes([0x80, 0, 0x40, 0]) + split(5) +
              RESPONSE.replace(b"\r\n\r\n", b"\r\nSec-WebSocket-Protocol: " + chat + b"\r\n\r\n"))


def seeds_split():
    h = "fuzz_split"
    fm = lambda *a, **k: frame(*a, masked=True, **k)  # noqa: E731
    fu = lambda *a, **k: frame(*a, masked=False, **k)  # noqa: E731
    server = fm(1, "h\u00e9llo".encode(), fin=False) + fm(9, b"p") + fm(0, b" w\xc3", fin=False) + \
        fm(0, b"\xa9rld") + fm(2, bytes(300)) + fm(8, close_payload(1000, b"bye"))
    client = fu(1, b"hi") + fu(10, b"pong") + fu(2, bytes(200), fin=False) + fu(0, b"end") + \
        fu(8, close_payload(1001))
    bad = fm(1, b"valid prefix \xe2\x82", fin=False) + fm(0, b"\x41 then bad")
    # m: role, whole, start_open, defer, eof, small limits, auto_pong off, reject.
    cases = {
        "server-stream": (0x00, WHOLE, REQUEST + server),
        "server-whole": (0x02, split(1), REQUEST + server),
        "server-open": (0x04, split(3, 1), server),
        "server-defer": (0x08, split(50, 7), REQUEST + server),
        "server-eof": (0x10, split(2), REQUEST + fm(1, b"cut", fin=False)),
        "server-limits": (0x20, split(9), REQUEST + fm(2, bytes(150)) + server),
        "server-reject": (0x80, split(1), REQUEST + server),
        "server-bad-utf8": (0x00, split(1), REQUEST + bad),
        "server-bad-utf8-whole": (0x02, split(5), REQUEST + bad),
        "client-stream": (0x01, split(1), RESPONSE + client),
        "client-whole": (0x03, split(4, 0), RESPONSE + client),
        "client-open-eof": (0x15, split(7), client),
    }
    for name, (m, plan, stream) in cases.items():
        write(h, name, bytes([m, 0]) + plan + stream)
    write(h, "server-plain-http", bytes([0x08, 1]) + split(3) +
          b"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n")


def seeds_roundtrip():
    h = "fuzz_roundtrip"

    def send(side, kind, data=b"", detail=0):
        return bytes([(side << 7) | (detail << 3) | kind, len(data)]) + data

    def ctl(side, kind, data=b""):
        return bytes([(side << 7) | kind, len(data)]) + data

    def close(side, detail, reason=b""):
        return bytes([(side << 7) | (detail << 3) | 4, len(reason)]) + reason

    xfer = bytes([6])
    ops = {
        "text-binary": send(0, 0, b"hello") + send(1, 0, b"\x00\xff", 1) + xfer,
        "fragments": send(0, 1, b"frag", 0) + ctl(0, 2, b"ping") + send(0, 1, b"ment", 2 | 4) +
                     xfer,
        "bad-utf8-send": send(0, 0, b"\xff") + send(1, 1, b"\xe2\x82", 0) +
                         send(1, 1, b"\x41", 2 | 4) + xfer,
        "ping-pong": ctl(0, 2, b"p1") + ctl(1, 2, b"p2") + ctl(1, 3, b"unsolicited") + xfer + xfer,
        "close-client": send(0, 0, b"last") + close(0, 1, b"bye") + send(0, 0, b"late") + xfer,
        "close-server": close(1, 12, b"4999") + xfer,
        "close-both": close(0, 1) + close(1, 2) + xfer,
        "close-invalid": close(0, 9) + close(0, 5, b"x") + close(0, 0) + xfer,
        "big": bytes([7, 0x90, 0x00]) + bytes([0x87, 0x00, 0x80]) + xfer,
        "state-errors": send(0, 1, b"a", 0) + send(0, 0, b"b") + send(0, 1, b"c", 3) + xfer,
    }
    for i, (name, body) in enumerate(sorted(ops.items())):
        cfg = [0, 1, 2, 3 | 4, 8 | 16][i % 5]
        plan = [WHOLE, split(1), split(5, 0, 9), split(100)][i % 4]
        write(h, name, bytes([cfg]) + plan + body)


def seeds_api():
    h = "fuzz_api"

    def op(what, detail=0):
        return bytes([(detail << 4) | what])

    def feed_frame(b0, payload, wrong_mask=False):
        return op(1, 1 if wrong_mask else 0) + bytes([b0, len(payload)]) + payload

    handshake, nxt, drain, eof = op(2), op(3), op(4), op(9)
    consume = op(12) + b"\xff\xff"
    accept_chat = op(10, 1)

    def send(data, detail=0):
        return op(5, detail) + bytes([len(data)]) + data

    def ping(data, pong=False):
        return op(7, 1 if pong else 0) + bytes([len(data)]) + data

    def close(detail, reason=b""):
        return op(8, detail) + bytes([len(reason)]) + reason

    def reject(status, body=b""):
        return op(11) + struct.pack(">H", status) + bytes([len(body)]) + body

    def raw(data):
        if len(data) > 255:
            return op(0, 1) + struct.pack(">H", len(data)) + data
        return op(0) + bytes([len(data)]) + data

    def tick(ms, seconds=False):
        return op(14, 8 if seconds else 0) + struct.pack(">H", ms)

    def resume(detail):
        return op(15, detail)

    def handoff(rest=b"", drop=0):
        return op(15, 8 | drop) + bytes([len(rest)]) + rest

    start_open, connect = op(13, 1), op(13, 0)
    # Settings: c0 role / whole / heap / no utf8 check / no auto pong / output (2 bits) /
    # small limits; c1 allocator failure; c2 hooks (origin, auth), plain HTTP, short
    # timeouts, fail once; c3 hook verdicts (3 bits each: allow, pending, WS_E_ORIGIN, 401, 42,
    # 599, WS_E_AUTH_EXPIRED, WS_E_EOF).
    cases = [
        ("server-session", (0, 0, 0, 0), handshake + drain + accept_chat + drain +
         feed_frame(0x81, b"hi") + drain + send(b"hi") + ping(b"p") + consume +
         close(1, b"bye") + drain + consume),
        ("server-reject", (0, 0, 0, 0), handshake + drain + reject(403, b"no") + nxt + nxt +
         op(0) + b"\x02ab"),
        ("server-undrained-feed", (0, 0, 0, 0), handshake + nxt + handshake + op(10) + drain),
        ("server-start-open", (0x04, 0, 0, 0), start_open + feed_frame(0x89, b"x") + drain +
         eof + drain),
        ("server-send-before-open", (0, 0, 0, 0), send(b"a") + close(0) + handshake + drain +
         op(10, 4) + drain),
        ("server-eof-mid-message", (0x02, 0, 0, 0), handshake + drain + op(10) + drain +
         feed_frame(0x01, b"par") + eof + drain),
        ("server-heap-fail", (0x04 | 0x20, 7, 0, 0), handshake + drain + op(10) + drain +
         send(bytes(16)) + consume),
        ("server-hooks-allow", (0, 0, 0x03, 0x00), handshake + drain + accept_chat + drain +
         consume),
        ("server-origin-rejects", (0, 0, 0x03, 0x02), handshake + drain + op(10) + consume),
        ("server-auth-pending", (0, 0, 0x03, 0x08), handshake + drain + op(10) + resume(0) +
         drain + op(10) + drain + consume),
        ("server-pending-rejected", (0, 0, 0x01, 0x01), handshake + drain + resume(3) + drain),
        ("server-hook-nonsense", (0x04, 0, 0x02, 0x20), handshake + drain + consume),
        ("server-plain-http", (0, 0, 0x04, 0),
         raw(b"GET /page HTTP/1.1\r\nHost: a.example\r\n\r\n") + drain +
         reject(200, b"page") + drain + consume),
        ("server-handoff", (0, 0, 0, 0), handoff(frame(0x81 & 15, b"x", masked=True)) + drain +
         op(10) + drain + consume),
        ("server-handoff-426", (0, 0, 0, 0), handoff(drop=3) + drain + consume),
        ("server-timeouts", (0, 0, 0x08, 0), handshake + drain + op(10) + drain + tick(10) +
         tick(60) + consume + tick(200) + drain + consume),
        ("server-handshake-timeout", (0, 0, 0, 0), raw(b"GET") + drain + tick(1) +
         tick(11, True) + drain),
        ("server-close-timeout", (0, 0, 0x08, 0), start_open + drain + close(1) + tick(1) +
         tick(150) + drain + consume),
        ("server-keepalive-hooks", (0, 0, 0x08 | 0x40 | 0x80, 0xC0), handshake + drain +
         op(10) + drain + tick(1) + tick(60) + consume + feed_frame(0x8a, b"") + drain +
         tick(100) + consume + tick(600) + drain + consume),
        ("server-stash-overflow", (0, 0, 0x20, 0), raw(REQUEST + bytes(600)) + drain + consume),
        ("server-stash-feed", (0, 0, 0x20, 0), handshake + nxt + raw(bytes(255)) +
         raw(bytes(255)) + raw(bytes(255)) + drain + op(10) + drain + consume),
        ("client-session", (1, 0, 0, 0), connect + handshake + drain + feed_frame(0x81, b"hi") +
         drain + send(b"yo") + close(1) + feed_frame(0x88, b"\x03\xe8") + drain + consume),
        ("client-start-open", (1, 0, 0, 0), start_open + connect + feed_frame(0x82, b"\x00\x01") +
         drain),
        ("client-masked-frame", (1, 0, 0, 0), connect + handshake + drain +
         feed_frame(0x81, b"x", True) + drain),
        ("client-keepalive", (1, 0, 0x08, 0), connect + tick(1) + handshake + drain +
         tick(60) + consume + feed_frame(0x8a, b"") + drain + tick(100) + drain + consume),
    ]
    for name, cfg, ops in cases:
        write(h, name, bytes(cfg) + ops)


def seeds_origin():
    """fuzz_origin: flags (origins sent 0-2, allow list, same-origin, secure, allow missing,
    lower-case header name), then pattern, origin and Host separated by LF."""
    h = "fuzz_origin"
    cases = {
        "exact": (0x05, b"https://app.example.com", b"https://app.example.com", b"app.example.com"),
        "case-and-port": (0x05, b"https://App.Example.com", b"HTTPS://app.example.COM:443",
                          b"x"),
        "wildcard-sub": (0x05, b"https://*.example.com", b"https://a.b.example.com", b"x"),
        "wildcard-apex": (0x05, b"https://*.example.com", b"https://example.com", b"x"),
        "wildcard-lookalike": (0x05, b"https://*.example.com", b"https://evilexample.com", b"x"),
        "same-origin": (0x09, b"", b"http://chat.example:8080", b"chat.example:8080"),
        "same-origin-secure": (0x19, b"", b"https://chat.example", b"chat.example"),
        "ipv6": (0x05, b"http://[::1]:8080", b"http://[::1]:8080", b"[::1]:8080"),
        "null": (0x05, b"null", b"null", b"x"),
        "missing-allowed": (0x20, b"https://a.example", b"", b"a.example"),
        "missing-refused": (0x00, b"https://a.example", b"", b"a.example"),
        "two-origins": (0x06, b"https://a.example", b"https://a.example", b"a.example"),
        "userinfo-path": (0x05, b"https://a.example", b"https://u@a.example/x", b"a.example"),
        "trailing-dot": (0x85, b"https://a.example", b"https://a.example.", b"a.example"),
    }
    for name, (flags, pattern, origin, host) in cases.items():
        write(h, name, bytes([flags]) + pattern + b"\n" + origin + b"\n" + host)


def seeds_token():
    h = "fuzz_token"
    key = b"fuzz-token-key"  # FZ key of fuzz/fuzz_token.c
    B, C, Q, S = 1, 2, 4, 8

    def b64url(data):
        return base64.urlsafe_b64encode(data).rstrip(b"=")

    def mint(subject, expires):
        payload = b64url(subject) + b"." + str(expires).encode()
        return payload + b"." + b64url(hmac.new(key, payload, hashlib.sha256).digest())

    def inp(mode, expires, token, query=b"", headers=(), pos=0, flip=1):
        # mode: bits 0-3 sources, bits 4-5 clock (0, 1.7e9, 4.1e9, max), 0x40 tickets,
        # 0x80 signed and single-use; expiry for signing; mutation position and xor; lines.
        return (bytes([mode]) + struct.pack(">Q", expires) + bytes([pos, flip]) + token +
                b"\n" + query + b"".join(b"\n" + x for x in headers))

    good = mint(b"user-1", 1800000000)
    banned = mint(b"xavier", 1800000000)
    expired = mint(b"user-1", 1600000000)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    alias = good[:-1] + alphabet[alphabet.index(chr(good[-1])) + 1].encode()  # stray bits
    write(h, "bearer", inp(0x10 | B | C, 1800000000, good,
                           headers=[b"Authorization: Bearer " + good]))
    write(h, "bearer-banned", inp(0x10 | B, 1800000000, banned,
                                  headers=[b"Authorization: Bearer " + banned]))
    write(h, "expired", inp(0x10 | B, 1600000000, expired,
                            headers=[b"Authorization: Bearer " + expired]))
    write(h, "cookie", inp(0x10 | C, 1, good, headers=[b"Cookie: a=1; token=" + good]))
    write(h, "query", inp(0x10 | Q, 2, good, query=b"room=1&token=" + good))
    write(h, "subprotocol", inp(0x10 | S, 3, good,
                                headers=[b"Sec-WebSocket-Protocol: chat, token." + good]))
    write(h, "all-sources", inp(0x10 | B | C | Q | S, 4, good, query=b"token=q",
                                headers=[b"Authorization: Bearer b", b"Cookie: token=c",
                                         b"Sec-WebSocket-Protocol: token.s"], pos=5, flip=0x20))
    write(h, "ticket", inp(0x40 | Q, 5, b"t-1", query=b"token=t-1"))
    write(h, "ticket-x", inp(0x40 | Q, 5, b"x-1", query=b"token=x-1"))
    write(h, "signed-single-use", inp(0x80 | 0x10 | B, 6, good,
                                      headers=[b"Authorization: Bearer " + good]))
    write(h, "noncanonical-sig", inp(0x10 | B, 8, alias,
                                     headers=[b"Authorization: Bearer " + alias]))
    write(h, "bearer-spaces", inp(0x10 | B, 7, good,
                                  headers=[b"Authorization: bearer   " + good]))
    write(h, "long-key", inp(0x30 | B, 0, b"k" * 100, query=b"message"))


def seeds_deflate():
    """fuzz_deflate_negotiate: server settings, client settings, flags, header lines.
    fuzz_deflate_data: mode, params, windows, level, output size, split plan, messages."""
    h = "fuzz_deflate_negotiate"
    pmd = b"permessage-deflate"
    default = 7 | (7 << 3)  # windows 15 / 15, no flags
    offers = {
        "plain": (default, default, 0, pmd),
        "browser": (default, default, 0, pmd + b"; client_max_window_bits"),
        "all-four": (default, default, 0, pmd + b"; server_no_context_takeover; "
                     b"client_no_context_takeover; server_max_window_bits=10; "
                     b"client_max_window_bits=9"),
        "quoted": (default, default, 0, pmd + b'; server_max_window_bits="12"'),
        "several": (2 | (1 << 3), default, 0,
                    pmd + b"; foo, " + pmd + b"; server_max_window_bits=08, " + pmd +
                    b"; client_max_window_bits\n" + pmd),
        "two-headers": (default, 0x40 | default, 0, pmd + b"; server_max_window_bits\n" + pmd +
                        b"; server_no_context_takeover"),
        "flag-values": (default, default, 0, pmd + b"; server_no_context_takeover=1, " + pmd +
                        b"; client_no_context_takeover=\"\""),
        "not-offered": (default, default, 1, pmd),
        "duplicate": (default, default, 0, pmd + b"; client_max_window_bits=9; "
                      b"client_max_window_bits=9"),
        "small-windows": (0xc0, 0xc0, 0, pmd + b"; client_max_window_bits=8; "
                          b"server_max_window_bits=8"),
        "malformed": (default, default, 0, pmd + b";; server_max_window_bits=\"1"),
    }
    for name, (scfg, ccfg, flags, text) in sorted(offers.items()):
        write(h, name, bytes([scfg, ccfg, flags]) + text)

    h = "fuzz_deflate_data"

    def msg(data, frag=0):
        return struct.pack(">H", len(data)) + bytes([frag]) + data

    def raw(data):
        return struct.pack(">H", len(data)) + data

    json = b'{"symbol":"ABC","price":101.25,"qty":300,"side":"buy"}'

    def deflate_raw(data):
        """A message as RFC 7692 §7.2.1 sends it: raw DEFLATE, flushed, tail removed."""
        c = zlib.compressobj(9, zlib.DEFLATED, -15)
        return (c.compress(data) + c.flush(zlib.Z_SYNC_FLUSH))[:-4]

    rt = {
        "hello": (0, 0, 0x3f, 0x86, 0, WHOLE, msg(b"Hello") + msg(b"Hello")),
        "json-fragments": (2, 0, 0x3f, 0x86, 1, split(7, 1), msg(json * 20, 1) + msg(json)),
        "no-takeover-small": (0, 3, 0, 0x09, 0, split(3), msg(json * 5) + msg(b"") + msg(json)),
        "stored-level0": (2, 0, 0x2d, 0x00, 3, WHOLE, msg(bytes(range(256)) * 4, 4)),
        "zeros": (0, 1, 0x3f, 0x89, 255, split(200), msg(bytes(4096))),
    }
    for name, (mode, flags, windows, level, cap, plan, body) in sorted(rt.items()):
        write(h, "rt-" + name, bytes([mode, flags, windows, level, cap]) + plan + body)
    hostile = {
        "rfc-hello": (1, split(3), b"\x04\x00", raw(bytes.fromhex("f248cdc9c90700")) +
                      raw(bytes.fromhex("f200110000"))),
        "rfc-stored": (1, WHOLE, b"\x00\x10", raw(bytes.fromhex("000500faff48656c6c6f00"))),
        "rfc-bfinal": (3, split(1), b"\x00\x10", raw(bytes.fromhex("f348cdc9c9070000")) +
                       raw(bytes.fromhex("f248cdc9c90700"))),
        "rfc-two-blocks": (1, WHOLE, b"\x00\x10",
                           raw(bytes.fromhex("f24805000000ffffcac9c90700"))),
        "empty": (1, WHOLE, b"\x00\x10", raw(b"") + raw(b"\x00") + raw(b"")),
        "bad-type": (1, WHOLE, b"\x00\x10", raw(b"\xff")),
        "bomb": (1, split(2, 5), b"\x01\x00", raw(deflate_raw(bytes(60000)))),
        "too-far-back": (3, split(1), b"\x07\xff", raw(bytes.fromhex("22c4afa8ac0200"))),
    }
    for name, (mode, plan, limit, body) in sorted(hostile.items()):
        write(h, "raw-" + name, bytes([mode, 0, 0x3f, 0, 0]) + plan + limit + body)

    # fuzz_conn_deflate. Round trip: 0, delivery bits, level/memLevel, min_size, flags,
    # windows, split plan, then operations: op (bit 0: server sends; 2: text; 3+4:
    # fragmented; 4 alone: uncompressed; 5: idle tick; 6: pump), length (2 bytes), bytes.
    # Hostile: 1, settings, flags, windows, limit (2 bytes), split plan, then frames: first
    # byte, payload length (1 byte), payload.
    h = "fuzz_conn_deflate"

    def op(code, data):
        return bytes([code]) + struct.pack(">H", len(data)) + data

    def frame(b0, payload):
        return bytes([b0, len(payload)]) + payload

    conn_rt = {
        "json-both-ways": (0, 0x06, 66, 0, 0, 0x77, split(5, 60),
                           op(0x40, json) + op(0x41, json * 3) + op(0x44, json) + op(0x45, b"")),
        "fragments-and-opt-out": (0, 0x02, 6, 16, 1, 0x70, split(1, 2, 3),
                                  op(0x58, json * 4) + op(0x51, json) + op(0x59, json * 2) +
                                  op(0x60, json) + op(0x61, json)),
        "smallest-windows": (0, 0x04, 9, 0, 3, 0x00, WHOLE,
                             op(0x44, json * 10) + op(0x45, json * 10) + op(0x20, json) +
                             op(0x40, bytes(2000))),
    }
    for name, (mode, whole, level, minimum, flags, windows, plan, body) in sorted(conn_rt.items()):
        write(h, "rt-" + name, bytes([mode, whole, level, minimum, flags, windows]) + plan + body)
    T1, C0, C1 = 0x81, 0x00, 0x80
    conn_hostile = {
        "hello-twice": (0, 0x77, b"\x01\x00", split(3),
                        frame(T1 | 0x40, bytes.fromhex("f248cdc9c90700")) +
                        frame(T1 | 0x40, bytes.fromhex("f200110000"))),
        "fragmented-hello": (2, 0x77, b"\x00\x10", split(1),
                             frame(0x01 | 0x40, bytes.fromhex("f248cd")) +
                             frame(0x89, b"ping") + frame(C1, bytes.fromhex("c9c90700"))),
        "rsv1-continuation": (0, 0x77, b"\x00\x10", WHOLE,
                              frame(0x01 | 0x40, bytes.fromhex("f248cd")) +
                              frame(C1 | 0x40, bytes.fromhex("c9c90700"))),
        "rsv1-ping": (0, 0x77, b"\x00\x10", WHOLE, frame(0x89 | 0x40, b"x")),
        "bomb": (2, 0x77, b"\x00\x40", split(7), frame(0x82 | 0x40, deflate_raw(bytes(60000)))),
        "bomb-streaming": (0, 0x77, b"\x00\x40", split(2, 9),
                           frame(0x02 | 0x40, deflate_raw(bytes(30000))[:100]) +
                           frame(C1, deflate_raw(bytes(30000))[100:])),
        "bad-text": (0, 0x77, b"\x00\x40", WHOLE,
                     frame(T1 | 0x40, bytes.fromhex("000300fcff4865ff"))),
        "no-takeover-reference": (0, 0x73, b"\x00\x40", WHOLE,
                                  frame(T1 | 0x40, bytes.fromhex("f248cdc9c90700")) +
                                  frame(T1 | 0x40, bytes.fromhex("f200110000"))),
        "alloc-fails": (0x80, 0x77, b"\x03\x00\x40", WHOLE,
                        frame(T1 | 0x40, deflate_raw(json * 3))),
    }
    for name, (settings, windows, limit, plan, body) in sorted(conn_hostile.items()):
        flags = 3 if name == "no-takeover-reference" else 0
        write(h, "raw-" + name, bytes([1, settings, flags, windows]) + limit + plan + body)


def main():
    seeds_utf8()
    seeds_mask()
    seeds_frame("server")
    seeds_frame("client")
    seeds_handshake_server()
    seeds_handshake_client()
    seeds_conn("server")
    seeds_conn("client")
    seeds_split()
    seeds_roundtrip()
    seeds_api()
    seeds_origin()
    seeds_token()
    seeds_deflate()


if __name__ == "__main__":
    main()
