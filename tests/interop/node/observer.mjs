// An observing relay for the permessage-deflate interop tests: it sits between a peer and a
// libws program on 127.0.0.1, passes every byte through unchanged, and records what went by
// in each direction: the HTTP head, then each frame's header (FIN, RSV bits, opcode, payload
// length). It parses the wire itself, so what it reports about RSV1 does not rest on the
// word of either library.
import net from 'node:net';
import { HOST } from './harness.mjs';

// Parses frame headers from a byte stream that starts with an HTTP head.
class WireReader {
  constructor() {
    this.head = null;
    this.pending = Buffer.alloc(0); // head bytes, or an incomplete frame header
    this.skip = 0; // payload bytes of the current frame still to pass
    this.frames = [];
    this.total = 0; // bytes seen, head included
    this.headBytes = 0;
  }

  // Bytes of frames (headers and payloads) after the HTTP head.
  get bytes() {
    return this.head === null ? 0 : this.total - this.headBytes;
  }

  push(data) {
    this.total += data.length;
    let buf = this.pending.length ? Buffer.concat([this.pending, data]) : data;
    this.pending = Buffer.alloc(0);
    if (this.head === null) {
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) {
        this.pending = Buffer.from(buf);
        return;
      }
      this.head = buf.subarray(0, end).toString('latin1');
      this.headBytes = end + 4; // pending held everything from the start of the stream
      buf = buf.subarray(end + 4);
    }
    let off = 0;
    while (off < buf.length) {
      if (this.skip > 0) {
        const n = Math.min(this.skip, buf.length - off);
        this.skip -= n;
        off += n;
        continue;
      }
      const h = this.header(buf, off);
      if (h === null) {
        this.pending = Buffer.from(buf.subarray(off));
        return;
      }
      this.frames.push(h.frame);
      off += h.size;
      this.skip = h.frame.length;
    }
  }

  header(buf, off) {
    if (buf.length - off < 2) return null;
    const b0 = buf[off];
    const b1 = buf[off + 1];
    let len = b1 & 0x7f;
    let size = 2;
    if (len === 126) {
      if (buf.length - off < 4) return null;
      len = buf.readUInt16BE(off + 2);
      size = 4;
    } else if (len === 127) {
      if (buf.length - off < 10) return null;
      len = Number(buf.readBigUInt64BE(off + 2));
      size = 10;
    }
    if (b1 & 0x80) size += 4;
    if (buf.length - off < size) return null;
    return { size, frame: { fin: (b0 & 0x80) !== 0, rsv1: (b0 & 0x40) !== 0,
                            rsv23: (b0 & 0x30) !== 0, opcode: b0 & 0x0f,
                            masked: (b1 & 0x80) !== 0, length: len } };
  }
}

// What one direction carried, summed up for the checks.
export function summarize(frames) {
  const data = frames.filter((f) => f.opcode <= 2);
  const starts = data.filter((f) => f.opcode !== 0);
  return {
    frames: frames.length,
    messages: starts.length,
    compressed: starts.filter((f) => f.rsv1).length,
    // RSV1 where RFC 7692 forbids it: on a continuation or a control frame.
    misplacedRsv1: frames.filter((f) => f.rsv1 && (f.opcode === 0 || f.opcode >= 8)).length,
    rsv23: frames.filter((f) => f.rsv23).length,
  };
}

// The Sec-WebSocket-Extensions value of a head ('' when absent).
export function extensionsOf(head) {
  if (head === null) return null;
  const m = /\r\nsec-websocket-extensions:[ \t]*([^\r]*)/i.exec(head);
  return m ? m[1].trim() : '';
}

// A relay to HOST:targetPort. Each connection through it is recorded as
// { up: WireReader (client to server), down: WireReader (server to client) }.
export async function startObserver(targetPort) {
  const conns = [];
  const sockets = new Set();
  const server = net.createServer((client) => {
    const rec = { up: new WireReader(), down: new WireReader() };
    conns.push(rec);
    const upstream = net.connect({ host: HOST, port: targetPort });
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.setNoDelay(true);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => { client.destroy(); upstream.destroy(); });
    }
    client.on('data', (d) => { rec.up.push(d); upstream.write(d); });
    upstream.on('data', (d) => { rec.down.push(d); client.write(d); });
    client.on('end', () => upstream.end());
    upstream.on('end', () => client.end());
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, HOST, resolve);
  });
  return {
    port: server.address().port,
    url: `ws://${HOST}:${server.address().port}`,
    conns,
    // The last connection's record, once its response head went by.
    last: () => conns[conns.length - 1],
    close: () => new Promise((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    }),
  };
}
