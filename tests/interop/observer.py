"""An observing relay for the permessage-deflate interop tests (the Python twin of
node/observer.mjs): between a peer and a libws program on 127.0.0.1 it passes every byte
through unchanged and records, per direction, the HTTP head and each frame's header (FIN,
RSV bits, opcode, payload length), parsed off the wire by itself."""
import asyncio
import re

from harness import HOST


class WireReader:
    """Frame headers from a byte stream that starts with an HTTP head."""

    def __init__(self):
        self.head = None
        self.pending = b""
        self.skip = 0
        self.frames = []
        self.total = 0
        self.head_bytes = 0

    @property
    def bytes(self):
        """Bytes of frames (headers and payloads) after the head."""
        return 0 if self.head is None else self.total - self.head_bytes

    def push(self, data):
        self.total += len(data)
        buf = self.pending + data
        self.pending = b""
        if self.head is None:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                self.pending = buf
                return
            self.head = buf[:end].decode("latin-1")
            self.head_bytes = end + 4
            buf = buf[end + 4:]
        off = 0
        while off < len(buf):
            if self.skip:
                n = min(self.skip, len(buf) - off)
                self.skip -= n
                off += n
                continue
            h = self._header(buf, off)
            if h is None:
                self.pending = buf[off:]
                return
            size, frame = h
            self.frames.append(frame)
            off += size
            self.skip = frame["length"]

    @staticmethod
    def _header(buf, off):
        if len(buf) - off < 2:
            return None
        b0, b1 = buf[off], buf[off + 1]
        length, size = b1 & 0x7F, 2
        if length == 126:
            if len(buf) - off < 4:
                return None
            length, size = int.from_bytes(buf[off + 2:off + 4], "big"), 4
        elif length == 127:
            if len(buf) - off < 10:
                return None
            length, size = int.from_bytes(buf[off + 2:off + 10], "big"), 10
        if b1 & 0x80:
            size += 4
        if len(buf) - off < size:
            return None
        return size, {"fin": bool(b0 & 0x80), "rsv1": bool(b0 & 0x40), "rsv23": bool(b0 & 0x30),
                      "opcode": b0 & 0x0F, "length": length}


def summarize(frames):
    """What one direction carried: data messages, how many started with RSV1, and RSV1 where
    RFC 7692 forbids it (continuations, control frames)."""
    starts = [f for f in frames if f["opcode"] in (1, 2)]
    return {
        "frames": len(frames),
        "messages": len(starts),
        "compressed": sum(f["rsv1"] for f in starts),
        "misplaced_rsv1": sum(f["rsv1"] and (f["opcode"] == 0 or f["opcode"] >= 8)
                              for f in frames),
        "rsv23": sum(f["rsv23"] for f in frames),
    }


def extensions_of(head):
    """The Sec-WebSocket-Extensions value of a head ("" when absent, None without a head)."""
    if head is None:
        return None
    m = re.search(r"\r\nsec-websocket-extensions:[ \t]*([^\r]*)", head, re.I)
    return m.group(1).strip() if m else ""


class Observer:
    """A relay to HOST:target_port; each connection through it is recorded in conns as a
    dict with "up" (client to server) and "down" WireReaders."""

    def __init__(self, target_port):
        self.target_port = target_port
        self.conns = []
        self.tasks = set()

    async def __aenter__(self):
        self.server = await asyncio.start_server(self._relay, HOST, 0)
        self.port = self.server.sockets[0].getsockname()[1]
        self.url = f"ws://{HOST}:{self.port}"
        return self

    async def __aexit__(self, *exc):
        self.server.close()
        for t in list(self.tasks):
            t.cancel()
        await self.server.wait_closed()

    def last(self):
        return self.conns[-1] if self.conns else None

    async def _relay(self, c_reader, c_writer):
        rec = {"up": WireReader(), "down": WireReader()}
        self.conns.append(rec)
        try:
            s_reader, s_writer = await asyncio.open_connection(HOST, self.target_port)
        except OSError:
            c_writer.close()
            return

        async def pipe(reader, writer, wire):
            try:
                while True:
                    data = await reader.read(65536)
                    if not data:
                        break
                    wire.push(data)
                    writer.write(data)
                    await writer.drain()
                if writer.can_write_eof():
                    writer.write_eof()
            except (OSError, asyncio.CancelledError):
                writer.close()

        tasks = [asyncio.ensure_future(pipe(c_reader, s_writer, rec["up"])),
                 asyncio.ensure_future(pipe(s_reader, c_writer, rec["down"]))]
        self.tasks.update(tasks)
        try:
            await asyncio.gather(*tasks, return_exceptions=True)
        finally:
            self.tasks.difference_update(tasks)
            for w in (c_writer, s_writer):
                w.close()
