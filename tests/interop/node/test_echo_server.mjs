// Interop: examples/echo-server driven by Node's `ws` client, and by raw frames on a plain
// TCP socket for what a conforming client never sends.
//
// usage: node test_echo_server.mjs PATH/TO/echo-server
// Prints one `ok - name` / `not ok - name` line per check, then `N passed, N failed`.
import {
  HOST, OP, EchoServer, FrameReader, acceptFor, binaryOf, closePayload, connectRaw, describe,
  expect, frame, main, parseHead, requirePeer, sleep, textOf, utf8TextOf, withTimeout,
} from './harness.mjs';
import { randomBytes } from 'node:crypto';

const SIZES = [0, 1, 125, 126, 127, 65535, 65536, 65537, 1 << 20];
const BIG = 16 << 20; // the server's default limit, which must still echo
const VALID_CLOSE_CODES = [
  1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014,
  ...Array.from({ length: 2000 }, (_, i) => 3000 + i),
];

let WebSocket;

// A ws client with its received messages, pongs and close queued for awaiting.
class Client {
  constructor(ws) {
    this.ws = ws;
    this.messages = [];
    this.pongs = [];
    this.close = null;
    this.error = null;
    this.waiters = [];
    ws.on('message', (data, isBinary) => this.push(this.messages, { data, isBinary }));
    ws.on('pong', (data) => this.push(this.pongs, data));
    ws.on('close', (code, reason) => {
      this.close = { code, reason: reason.toString('utf8') };
      this.wake();
    });
    ws.on('error', (e) => {
      this.error = e;
      this.wake();
    });
  }

  static open(url, opts = {}) {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, { handshakeTimeout: 10_000, ...opts });
      const c = new Client(ws);
      ws.once('open', () => resolve(c));
      ws.once('error', reject);
    });
  }

  push(queue, item) {
    queue.push(item);
    this.wake();
  }

  wake() {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  async take(queue, what, ms = 30_000) {
    return withTimeout((async () => {
      while (queue.length === 0) {
        if (this.close) throw new Error(`closed (${this.close.code} ${this.close.reason}) ` +
                                        `while waiting for ${what}`);
        if (this.error) throw this.error;
        await new Promise((resolve) => this.waiters.push(resolve));
      }
      return queue.shift();
    })(), ms, `no ${what} within ${ms / 1000} s`);
  }

  message(ms) {
    return this.take(this.messages, 'message', ms);
  }

  pong(ms = 5_000) {
    return this.take(this.pongs, 'pong', ms);
  }

  async closed(ms = 10_000) {
    await withTimeout((async () => {
      while (!this.close) await new Promise((resolve) => this.waiters.push(resolve));
    })(), ms, `connection not closed within ${ms / 1000} s`);
    return this.close;
  }

  send(data, opts) {
    return new Promise((resolve, reject) =>
      this.ws.send(data, opts, (e) => (e ? reject(e) : resolve())));
  }

  end() {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.close(1000);
    this.ws.terminate();
  }
}

async function withClient(url, fn, opts) {
  const c = await Client.open(url, opts);
  try {
    return await fn(c);
  } finally {
    c.end();
  }
}

function expectSame(got, want, isBinary) {
  expect(got.isBinary === isBinary,
         `sent ${describe(want, isBinary)}, got ${describe(got.data, got.isBinary)}`);
  expect(got.data.equals(want),
         `sent ${describe(want, isBinary)}, got different ${describe(got.data, got.isBinary)}`);
}

async function echo(c, data, isBinary, ms) {
  await c.send(data, { binary: isBinary });
  expectSame(await c.message(ms), data, isBinary);
}

const echoOnNew = (url, data, isBinary, ms) => () =>
  withClient(url, (c) => echo(c, data, isBinary, ms));

// Sends parts as the fragments of one message; between(c, i) runs before fragment i > 0.
const fragmented = (url, parts, isBinary, between) => () => withClient(url, async (c) => {
  for (let i = 0; i < parts.length; i++) {
    if (i > 0 && between) await between(c, i);
    await c.send(parts[i], { binary: isBinary, fin: i === parts.length - 1 });
  }
  expectSame(await c.message(), Buffer.concat(parts), isBinary);
});

async function pingBetween(c, i) {
  const payload = Buffer.from(`between ${i}`);
  c.ws.ping(payload);
  const got = await c.pong();
  expect(got.equals(payload), `pong carried '${got}', not '${payload}'`);
}

const pings = (url, payloads) => () => withClient(url, async (c) => {
  for (const p of payloads) c.ws.ping(p);
  for (const p of payloads) {
    const got = await c.pong();
    expect(got.equals(p), `pong carried ${got.length} bytes, not the ping's ${p.length}`);
  }
});

// The reason is UTF-8 with multi-byte characters; the server answers with the same close.
function reasonFor(code) {
  return `bye ${code} é€𝄞`;
}

async function closeWith(url, code, reason) {
  const c = await Client.open(url);
  try {
    c.ws.close(code, reason);
    const got = await c.closed();
    expect(got.code === code && got.reason === reason,
           `closed with ${code} '${reason}', server answered ${got.code} '${got.reason}'`);
  } finally {
    c.ws.terminate();
  }
}

// Runs fn over items, `width` at a time; returns the items whose fn threw, with the error.
async function inParallel(items, width, fn) {
  const failures = [];
  let next = 0;
  async function worker() {
    while (next < items.length) {
      const item = items[next++];
      try {
        await fn(item);
      } catch (e) {
        failures.push(`${item}: ${e.message}`);
      }
    }
  }
  await Promise.all(Array.from({ length: width }, worker));
  return failures;
}

async function closeCodes(results, url) {
  const one = VALID_CLOSE_CODES.filter((c) => c < 3000);
  for (const code of one) {
    await results.run(`close ${code} with a reason: server answers ${code} and the reason`,
                      () => closeWith(url, code, reasonFor(code)));
  }
  for (const [lo, hi] of [[3000, 3999], [4000, 4999]]) {
    const codes = VALID_CLOSE_CODES.filter((c) => c >= lo && c <= hi);
    await results.run(`close ${lo}-${hi} (${codes.length} codes) with reasons: each answered ` +
                      'with the same code and reason', async () => {
      const failed = await inParallel(codes, 16, (code) => closeWith(url, code, reasonFor(code)));
      expect(failed.length === 0, `${failed.length} failed: ${failed.slice(0, 5).join('; ')}`);
    }, 120_000);
  }
  await results.run('close with a 123-byte reason (the most there is room for)', () =>
    closeWith(url, 4321, 'é'.repeat(61) + 'x'));
  await results.run('close without a code: server answers without one (1005)', async () => {
    await withClient(url, async (c) => {
      c.ws.close();
      const got = await c.closed();
      expect(got.code === 1005 && got.reason === '',
             `server answered ${got.code} '${got.reason}'`);
    });
  });
}

// ---- Raw: a handshake by hand, then frames no library would send --------------------

// Opens a connection by hand; `after` is written in the same write as the request head, and
// `byteByByte` writes the head one byte at a time.
// `upgrade` replaces the Upgrade and Connection lines.
async function rawOpen(port, { after = Buffer.alloc(0), byteByByte = false,
                               upgrade = 'Upgrade: websocket\r\nConnection: Upgrade\r\n' } = {}) {
  const sock = await connectRaw(port);
  sock.setNoDelay(true);
  const reader = new FrameReader(sock);
  const key = randomBytes(16).toString('base64');
  const request = Buffer.from(`GET /raw HTTP/1.1\r\nHost: ${HOST}:${port}\r\n${upgrade}` +
                              `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
  if (byteByByte) {
    for (const b of request) {
      sock.write(Buffer.from([b]));
      await sleep(1);
    }
    sock.write(after);
  } else {
    sock.write(Buffer.concat([request, after]));
  }
  const head = parseHead(await reader.headLine());
  expect(head.status === 101, `handshake answered '${head.first}'`);
  expect(head.headers['sec-websocket-accept'] === acceptFor(key),
         `Sec-WebSocket-Accept '${head.headers['sec-websocket-accept']}', expected ` +
         `'${acceptFor(key)}'`);
  return { sock, reader };
}

function closeCodeOf(f) {
  return f.payload.length >= 2 ? f.payload.readUInt16BE(0) : 1005;
}

// Sends bytes (a Buffer or a list of Buffers written separately) after the handshake and
// expects the server's close frame with `code`, unmasked, then the end of the TCP stream.
async function rawExpectClose(port, bytes, code) {
  const { sock, reader } = await rawOpen(port);
  try {
    for (const b of Array.isArray(bytes) ? bytes : [bytes]) sock.write(b);
    const f = await reader.next(OP.CLOSE);
    expect(f !== null, 'server ended the connection without a close frame');
    expect(!f.masked, 'server close frame is masked');
    const got = closeCodeOf(f);
    expect(got === code, `server closed with ${got} '${f.payload.subarray(2)}', expected ${code}`);
    await reader.end();
  } finally {
    sock.destroy();
  }
}

// A client still sending when the server fails the connection must get the close frame. A
// socket closed with input unread resets the connection, and a peer busy writing then loses
// what it had not read yet; the server has to shut its side and read away the rest first.
const OVER_LIMIT = (16 << 20) + 1; // one byte over the server's default frame limit
const STREAMED = 4 << 20; // payload bytes written behind the header, without waiting

async function rawOverLimitWhileSending(port) {
  const { sock, reader } = await rawOpen(port);
  try {
    sock.write(frame(OP.BINARY, Buffer.alloc(0), { length: OVER_LIMIT }));
    const chunk = Buffer.alloc(64 << 10, 0x5a);
    for (let sent = 0; sent < STREAMED; sent += chunk.length) sock.write(chunk);
    const f = await reader.next(OP.CLOSE);
    const why = reader.error ? `${reader.error.code ?? reader.error.message}` : 'no error';
    expect(f !== null, `connection ended without a close frame (${why})`);
    expect(!f.masked, 'server close frame is masked');
    const got = closeCodeOf(f);
    expect(got === 1009, `server closed with ${got} '${f.payload.subarray(2)}', expected 1009`);
    await reader.end();
    expect(reader.error === null, `connection reset after the close frame (${why})`);
  } finally {
    sock.destroy();
  }
}

// Runs fn `times` times in a row; throws naming how many runs failed and the first reason.
async function everyTime(times, fn) {
  const failures = [];
  for (let i = 0; i < times; i++) {
    try {
      await fn();
    } catch (e) {
      failures.push(`run ${i + 1}: ${e.message}`);
    }
  }
  expect(failures.length === 0, `${failures.length}/${times} runs failed: ${failures[0]}`);
}

function utf8Cases() {
  const text = (b) => frame(OP.TEXT, Buffer.from(b));
  return [
    ['text: invalid UTF-8 (C3 28)', text([0x6f, 0x6b, 0x20, 0xc3, 0x28]), 1007],
    ['text: overlong encoding (C0 AF)', text([0xc0, 0xaf]), 1007],
    ['text: UTF-16 surrogate (ED A0 80)', text([0xed, 0xa0, 0x80]), 1007],
    ['text: code point above U+10FFFF (F4 90 80 80)', text([0xf4, 0x90, 0x80, 0x80]), 1007],
    ['text: a lone continuation byte (80)', text([0x41, 0x80]), 1007],
    ['text: message ends inside a UTF-8 sequence (E2 82)', text([0x61, 0xe2, 0x82]), 1007],
    ['text: invalid UTF-8 across two fragments (E2 82 | 28)',
     [frame(OP.TEXT, Buffer.from([0x61, 0xe2, 0x82]), { fin: false }),
      frame(OP.CONT, Buffer.from([0x28]))], 1007],
    ['text: fragmented message ends inside a UTF-8 sequence',
     [frame(OP.TEXT, Buffer.from('ok'), { fin: false }),
      frame(OP.CONT, Buffer.from([0xf0, 0x9d]))], 1007],
    ['close: reason is not UTF-8', frame(OP.CLOSE, closePayload(1000, Buffer.from([0xff]))),
     1007],
  ];
}

function frameCases() {
  const hi = Buffer.from('hi');
  const cases = [
    ['unmasked text frame', frame(OP.TEXT, hi, { masked: false }), 1002],
    ['unmasked close frame', frame(OP.CLOSE, closePayload(1000), { masked: false }), 1002],
    ['RSV1 set without an extension', frame(OP.TEXT, hi, { rsv: 4 }), 1002],
    ['RSV2 set', frame(OP.BINARY, hi, { rsv: 2 }), 1002],
    ['RSV3 set', frame(OP.TEXT, hi, { rsv: 1 }), 1002],
    ['RSV1 set on a ping', frame(OP.PING, hi, { rsv: 4 }), 1002],
    ['1-byte close payload', frame(OP.CLOSE, Buffer.from([0x03])), 1002],
    ['ping with FIN clear (fragmented control frame)', frame(OP.PING, hi, { fin: false }), 1002],
    ['ping with a 126-byte payload', frame(OP.PING, Buffer.alloc(126, 0x70)), 1002],
    ['close with a 126-byte payload', frame(OP.CLOSE, closePayload(1000, 'r'.repeat(124))), 1002],
    ['continuation frame with no message started', frame(OP.CONT, hi), 1002],
    ['text frame while a fragmented message is open',
     [frame(OP.TEXT, hi, { fin: false }), frame(OP.TEXT, hi)], 1002],
    ['binary frame while a fragmented text message is open',
     [frame(OP.TEXT, hi, { fin: false }), frame(OP.BINARY, hi)], 1002],
    ['16-bit length used for 5 bytes (not minimal)',
     frame(OP.TEXT, Buffer.from('hello'), { lengthForm: 16 }), 1002],
    ['64-bit length used for 200 bytes (not minimal)',
     frame(OP.BINARY, Buffer.alloc(200, 1), { lengthForm: 64 }), 1002],
    ['64-bit length with the most significant bit set',
     frame(OP.BINARY, Buffer.alloc(0), { length: 2n ** 63n + 5n, lengthForm: 64 }), 1002],
    ['frame header declaring 2^40 bytes (over the 16 MiB limit)',
     frame(OP.BINARY, Buffer.alloc(0), { length: 2 ** 40 }), 1009],
    ['4097 empty fragments (over the 4096 frames a message has for free)',
     [frame(OP.BINARY, Buffer.alloc(0), { fin: false }),
      ...Array.from({ length: 4095 }, () => frame(OP.CONT, Buffer.alloc(0), { fin: false })),
      frame(OP.CONT, Buffer.alloc(0))], 1009],
  ];
  for (const op of [0x3, 0x4, 0x5, 0x6, 0x7, 0xb, 0xc, 0xd, 0xe, 0xf]) {
    cases.push([`reserved opcode 0x${op.toString(16).toUpperCase()}`, frame(op, hi), 1002]);
  }
  for (const code of [0, 999, 1004, 1005, 1006, 1015, 1016, 2000, 2999, 5000, 65535]) {
    cases.push([`close code ${code} (not valid on the wire)`, frame(OP.CLOSE, closePayload(code)),
                1002]);
  }
  return cases;
}

async function rawChecks(results, port, limitedPort) {
  for (const [name, bytes, code] of [...frameCases(), ...utf8Cases()]) {
    await results.run(`raw ${name}: server closes with ${code}`,
                      () => rawExpectClose(port, bytes, code));
  }
  await results.run('raw 16 MiB + 1 frame header, then 4 MiB of payload still streaming: ' +
                    'close 1009 arrives before the end, no reset (10 runs)',
                    () => everyTime(10, () => rawOverLimitWhileSending(port)), 120_000);
  await results.run('raw fragments adding up to more than --max-message 1000: close 1009', () =>
    rawExpectClose(limitedPort, [frame(OP.BINARY, Buffer.alloc(400), { fin: false }),
                                 frame(OP.CONT, Buffer.alloc(400), { fin: false }),
                                 frame(OP.CONT, Buffer.alloc(400))], 1009));

  // The server streams: what arrives in pieces goes back as fragments of one message.
  await results.run('raw frame written one byte at a time is echoed', async () => {
    const { sock, reader } = await rawOpen(port);
    try {
      const payload = Buffer.from('byte by byte é');
      const bytes = frame(OP.TEXT, payload);
      for (const b of bytes) {
        sock.write(Buffer.from([b]));
        await sleep(2);
      }
      const m = await reader.message();
      expect(m !== null && m.opcode === OP.TEXT && m.payload.equals(payload),
             `echo ${m ? `opcode ${m.opcode} '${m.payload}'` : 'missing'}`);
      expect(m.frames.every((f) => !f.masked), 'server frame masked');
    } finally {
      sock.destroy();
    }
  });

  await results.run('raw first frame in the same TCP write as the upgrade request is echoed',
                    async () => {
    const payload = Buffer.from('right behind the head');
    const { sock, reader } = await rawOpen(port, { after: frame(OP.TEXT, payload) });
    try {
      const m = await reader.message();
      expect(m !== null && m.opcode === OP.TEXT && m.payload.equals(payload),
             `echo ${m ? `opcode ${m.opcode} '${m.payload}'` : 'missing'}`);
    } finally {
      sock.destroy();
    }
  });

  await results.run('raw upgrade request written one byte at a time', async () => {
    const payload = Buffer.from([0, 1, 2, 254, 255]);
    const { sock, reader } = await rawOpen(port, { after: frame(OP.BINARY, payload),
                                                   byteByByte: true });
    try {
      const m = await reader.message();
      expect(m !== null && m.opcode === OP.BINARY && m.payload.equals(payload),
             `echo ${m ? `opcode ${m.opcode} ${m.payload.length} bytes` : 'missing'}`);
    } finally {
      sock.destroy();
    }
  });

  await results.run('raw upgrade request as Firefox words it (keep-alive, Upgrade; WebSocket)',
                    async () => {
    const { sock } = await rawOpen(port, {
      upgrade: 'Connection: keep-alive, Upgrade\r\nUpgrade: WebSocket\r\n' });
    sock.destroy();
  });

  await results.run('raw close in the middle of a fragmented message: answered with 1000',
                    () => rawExpectClose(port, [frame(OP.TEXT, Buffer.from('half'), { fin: false }),
                                                frame(OP.CLOSE, closePayload(1000, 'stop'))],
                                         1000));

  await results.run('raw data after the client close is not echoed', async () => {
    const { sock, reader } = await rawOpen(port);
    try {
      sock.write(Buffer.concat([frame(OP.CLOSE, closePayload(1000, 'done')),
                                frame(OP.TEXT, Buffer.from('too late'))]));
      const f = await reader.next(OP.CLOSE);
      expect(f !== null && closeCodeOf(f) === 1000, 'no close 1000 from the server');
      await reader.end();
      const texts = reader.frames.filter((x) => x.opcode === OP.TEXT);
      expect(texts.length === 0, `server echoed ${texts.length} frame(s) after the close`);
    } finally {
      sock.destroy();
    }
  });

  await results.run('raw unsolicited pong is ignored, the next message echoed', async () => {
    const { sock, reader } = await rawOpen(port);
    try {
      sock.write(Buffer.concat([frame(OP.PONG, Buffer.from('unasked')),
                                frame(OP.BINARY, Buffer.from([1, 2, 3]))]));
      const f = await reader.next(OP.BINARY);
      expect(f !== null && f.payload.equals(Buffer.from([1, 2, 3])), 'no echo of the message');
      expect(!reader.frames.some((x) => x.opcode === OP.CLOSE), 'server closed');
    } finally {
      sock.destroy();
    }
  });

  await results.run('raw handshake with Sec-WebSocket-Version 8: 426 naming version 13',
                    async () => {
    const sock = await connectRaw(port);
    const reader = new FrameReader(sock);
    try {
      sock.write(`GET / HTTP/1.1\r\nHost: ${HOST}\r\nUpgrade: websocket\r\n` +
                 'Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n' +
                 'Sec-WebSocket-Version: 8\r\n\r\n');
      const head = parseHead(await reader.headLine());
      expect(head.status === 426 && head.headers['sec-websocket-version'] === '13',
             `answered '${head.first}', Sec-WebSocket-Version ` +
             `'${head.headers['sec-websocket-version']}'`);
      await reader.end();
    } finally {
      sock.destroy();
    }
  });

  await results.run('raw handshake without Sec-WebSocket-Key: 400', async () => {
    const sock = await connectRaw(port);
    const reader = new FrameReader(sock);
    try {
      sock.write(`GET / HTTP/1.1\r\nHost: ${HOST}\r\nUpgrade: websocket\r\n` +
                 'Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n');
      const head = parseHead(await reader.headLine());
      expect(head.status === 400, `answered '${head.first}'`);
      await reader.end();
    } finally {
      sock.destroy();
    }
  });
}

// ---- Load: several clients at once, pipelining ---------------------------------------

async function manyClients(url, clients = 20, messages = 20) {
  await Promise.all(Array.from({ length: clients }, (_, i) => withClient(url, async (c) => {
    for (let j = 0; j < messages; j++) {
      if (j % 2) await echo(c, binaryOf((i * 7919 + j * 104729) % 70000), true);
      else await echo(c, Buffer.from(`client ${i} message ${j} `.repeat(j + 1)), false);
    }
  })));
}

async function pipelined(url, count = 200) {
  await withClient(url, async (c) => {
    const sent = Array.from({ length: count }, (_, i) =>
      (i % 3 ? { data: Buffer.from(`message ${i}`), bin: false }
             : { data: binaryOf(i * 13), bin: true }));
    await Promise.all(sent.map((m) => c.send(m.data, { binary: m.bin })));
    for (const m of sent) expectSame(await c.message(), m.data, m.bin);
  });
}

async function shutdownWithClient(results, server) {
  const c = await Client.open(server.url);
  await echo(c, Buffer.from('still here'), false);
  const status = await server.stop();
  const got = await c.closed().catch((e) => ({ code: `none (${e.message})`, reason: '' }));
  results.check('SIGTERM: open ws client gets close 1001 "server shutting down"',
                got.code === 1001 && got.reason === 'server shutting down',
                `got ${got.code} '${got.reason}'`);
  results.check('SIGTERM: echo-server exits with status 0', status === 0, `status ${status}`);
}

main(async (results) => {
  const path = process.argv[2];
  if (!results.check('usage: PATH/TO/echo-server given', Boolean(path))) return;
  try {
    WebSocket = requirePeer('ws');
  } catch (e) {
    results.check('npm package ws loads', false, e.message);
    return;
  }
  results.check(`npm package ws ${requirePeer('ws/package.json').version} loads`, true);

  const server = await new EchoServer(path).start();
  let limited = null;
  try {
    limited = await new EchoServer(path, '--max-message', '1000').start();
    const url = server.url;

    // The example turns permessage-deflate on (test_deflate.mjs checks the wire): every
    // check below with a ws client runs compressed.
    await results.run('open: permessage-deflate offered by ws is accepted', () =>
      withClient(url, async (c) => {
        expect(c.ws.extensions === 'permessage-deflate', `extensions '${c.ws.extensions}'`);
        await echo(c, Buffer.from('plain'), false);
      }));
    for (const n of SIZES) {
      await results.run(`echo text ${n} bytes`, echoOnNew(url, textOf(n), false));
      await results.run(`echo binary ${n} bytes`, echoOnNew(url, binaryOf(n), true));
    }
    await results.run('echo text with 2-, 3- and 4-byte UTF-8 (1 MiB)',
                      echoOnNew(url, utf8TextOf(1 << 20), false));
    await results.run('echo text 16 MiB', echoOnNew(url, textOf(BIG), false, 120_000), 180_000);
    await results.run('echo binary 16 MiB', echoOnNew(url, binaryOf(BIG), true, 120_000), 180_000);
    await results.run('echo 30 messages of every size on one connection', () =>
      withClient(url, async (c) => {
        for (let i = 0; i < 30; i++) {
          const n = (i * 40503) % 200000;
          await echo(c, i % 2 ? textOf(n) : binaryOf(n), i % 2 === 0);
        }
      }));

    const word = Buffer.from('Hé€𝄞 wörld', 'utf8');
    await results.run('fragmented text split inside UTF-8 characters',
                      fragmented(url, [word.subarray(0, 2), word.subarray(2, 5),
                                       word.subarray(5, 8), word.subarray(8)], false));
    await results.run('fragmented text with empty fragments',
                      fragmented(url, ['', 'a', '', 'b', ''].map((s) => Buffer.from(s)), false));
    await results.run('fragmented binary 3 x 100 KiB',
                      fragmented(url, [0, 1, 2].map((i) => Buffer.alloc(100_000, i)), true));
    await results.run('fragmented binary 1000 x 100 bytes',
                      fragmented(url, Array.from({ length: 1000 }, () => binaryOf(100)), true));
    await results.run('fragmented binary 16 x 1 MiB (16 MiB in all)',
                      fragmented(url, Array.from({ length: 16 }, () => binaryOf(1 << 20)), true),
                      180_000);
    await results.run('fragmented text with a ping between fragments',
                      fragmented(url, ['first ', 'second ', 'third'].map((s) => Buffer.from(s)),
                                 false, pingBetween));

    for (const n of [0, 1, 125]) {
      await results.run(`ping with ${n}-byte payload gets the same pong`,
                        pings(url, [binaryOf(n)]));
    }
    await results.run('10 pings in a row get 10 pongs in order',
                      pings(url, Array.from({ length: 10 }, (_, i) => Buffer.from(`ping ${i}`))));

    await closeCodes(results, url);
    await rawChecks(results, server.port, limited.port);

    await results.run('20 concurrent ws clients x 20 messages', () => manyClients(url));
    await results.run('200 pipelined messages come back in order', () => pipelined(url));
    await results.run('still accepting after all that',
                      echoOnNew(url, Buffer.from('the end'), false));
    await shutdownWithClient(results, server);
  } finally {
    await server.close();
    if (limited) await limited.close();
  }
});
