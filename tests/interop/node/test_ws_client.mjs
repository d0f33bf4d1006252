// Interop: examples/ws-client --echo driven by a Node `ws` server that sends messages and
// checks what comes back, and by a raw TCP server that sends frames a conforming server
// never would and checks the client's close code.
//
// usage: node test_ws_client.mjs PATH/TO/ws-client
// Prints one `ok - name` / `not ok - name` line per check, then `N passed, N failed`.
import {
  HOST, OP, FrameReader, acceptFor, binaryOf, closePayload, describe, expect, frame, main,
  parseHead, requirePeer, runProgram, textOf, utf8TextOf, withTimeout,
} from './harness.mjs';
import net from 'node:net';

const SIZES = [0, 1, 125, 126, 127, 65535, 65536, 65537, 1 << 20];
const BIG = 16 << 20; // ws-client's default limit, which must still echo
const VALID_CLOSE_CODES = [
  1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014,
  ...Array.from({ length: 2000 }, (_, i) => 3000 + i),
];

let WebSocketServer;

// A ws server on 127.0.0.1 and a free port. Each connection is handed to the handler
// registered for its path; an unknown path is closed with 1008.
class NodeServer {
  constructor() {
    this.handlers = new Map();
  }

  async start() {
    this.wss = new WebSocketServer({ host: HOST, port: 0, perMessageDeflate: false,
                                     maxPayload: 64 << 20 });
    await new Promise((resolve, reject) => {
      this.wss.once('listening', resolve);
      this.wss.once('error', reject);
    });
    this.port = this.wss.address().port;
    this.wss.on('connection', (ws, req) => {
      const h = this.handlers.get(req.url);
      if (h) h(ws);
      else ws.close(1008, `no handler for ${req.url}`);
    });
    return this;
  }

  url(path) {
    return `ws://${HOST}:${this.port}${path}`;
  }

  // Hands the next connection to path to handler.
  expect(path, handler) {
    this.handlers.set(path, handler);
  }

  async stop() {
    for (const ws of this.wss.clients) ws.terminate();
    await new Promise((resolve) => this.wss.close(resolve));
  }
}

// Queues what one server-side connection receives, for awaiting in order.
class Peer {
  constructor(ws) {
    this.ws = ws;
    this.messages = [];
    this.pongs = [];
    this.close = null;
    this.waiters = [];
    ws.on('message', (data, isBinary) => this.push(this.messages, { data, isBinary }));
    ws.on('pong', (data) => this.push(this.pongs, data));
    ws.on('close', (code, reason) => {
      this.close = { code, reason: reason.toString('utf8') };
      this.wake();
    });
    ws.on('error', () => this.wake());
  }

  push(q, item) {
    q.push(item);
    this.wake();
  }

  wake() {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  take(q, what, ms = 30_000) {
    return withTimeout((async () => {
      while (q.length === 0) {
        if (this.close) throw new Error(`closed (${this.close.code}) while waiting for ${what}`);
        await new Promise((resolve) => this.waiters.push(resolve));
      }
      return q.shift();
    })(), ms, `no ${what} within ${ms / 1000} s`);
  }

  async closed(ms = 10_000) {
    await withTimeout((async () => {
      while (!this.close) await new Promise((resolve) => this.waiters.push(resolve));
    })(), ms, `not closed within ${ms / 1000} s`);
    return this.close;
  }

  send(data, opts) {
    return new Promise((resolve, reject) =>
      this.ws.send(data, opts, (e) => (e ? reject(e) : resolve())));
  }
}

function same(got, want, isBinary) {
  if (got.isBinary !== isBinary || !got.data.equals(want))
    return `sent ${describe(want, isBinary)}, got ${describe(got.data, got.isBinary)}` +
           (got.isBinary === isBinary ? ' with different bytes' : '');
  return '';
}

// The echo session: each step is one check; `seen` collects [name, detail] ('' = passed).
async function echoSession(peer, seen) {
  async function step(name, fn, ms = 30_000) {
    try {
      await withTimeout(fn(), ms, `timed out after ${ms / 1000} s`);
      seen.push([name, '']);
    } catch (e) {
      seen.push([name, e.message || String(e)]);
    }
  }
  const echo = (data, isBinary, ms) => async () => {
    await peer.send(data, { binary: isBinary });
    const d = same(await peer.take(peer.messages, 'echo', ms), data, isBinary);
    expect(!d, d);
  };
  const fragmented = (parts, isBinary, between) => async () => {
    for (let i = 0; i < parts.length; i++) {
      if (i > 0 && between) await between(i);
      await peer.send(parts[i], { binary: isBinary, fin: i === parts.length - 1 });
    }
    const d = same(await peer.take(peer.messages, 'echo'), Buffer.concat(parts), isBinary);
    expect(!d, d);
  };
  const pingBetween = async (i) => {
    const p = Buffer.from(`between ${i}`);
    peer.ws.ping(p);
    const got = await peer.take(peer.pongs, 'pong', 5_000);
    expect(got.equals(p), `pong carried '${got}'`);
  };

  for (const n of SIZES) {
    await step(`text ${n} bytes`, echo(textOf(n, 'Pack my box with five dozen liquor jugs. '),
                                       false));
    await step(`binary ${n} bytes`, echo(binaryOf(n), true));
  }
  await step('text with 2-, 3- and 4-byte UTF-8 (1 MiB)', echo(utf8TextOf(1 << 20), false));
  await step('text 16 MiB', echo(textOf(BIG), false, 120_000), 180_000);
  await step('binary 16 MiB', echo(binaryOf(BIG), true, 120_000), 180_000);

  const word = Buffer.from('Hé€𝄞 wörld', 'utf8');
  await step('fragmented text split inside UTF-8 characters',
             fragmented([word.subarray(0, 2), word.subarray(2, 5), word.subarray(5, 8),
                         word.subarray(8)], false));
  await step('fragmented text with empty fragments',
             fragmented(['', 'a', '', 'b', ''].map((s) => Buffer.from(s)), false));
  await step('fragmented binary 3 x 100 KiB',
             fragmented([0, 1, 2].map((i) => Buffer.alloc(100_000, i)), true));
  await step('fragmented binary 1000 x 100 bytes',
             fragmented(Array.from({ length: 1000 }, () => binaryOf(100)), true));
  await step('fragmented binary 16 x 1 MiB (16 MiB in all)',
             fragmented(Array.from({ length: 16 }, () => binaryOf(1 << 20)), true), 180_000);
  await step('fragmented text with a ping between fragments',
             fragmented(['first ', 'second ', 'third'].map((s) => Buffer.from(s)), false,
                        pingBetween));

  for (const n of [0, 1, 125]) {
    await step(`ping with ${n}-byte payload gets the same pong`, async () => {
      const p = binaryOf(n);
      peer.ws.ping(p);
      const got = await peer.take(peer.pongs, 'pong', 5_000);
      expect(got.equals(p), `pong carried ${got.length} bytes, not the ping's ${n}`);
    });
  }
  await step('50 pipelined messages echoed in order', async () => {
    const burst = Array.from({ length: 50 }, (_, i) =>
      (i % 2 ? { data: Buffer.from(`burst ${i}`), bin: false }
             : { data: binaryOf(i * 100), bin: true }));
    await Promise.all(burst.map((m) => peer.send(m.data, { binary: m.bin })));
    for (const [i, m] of burst.entries()) {
      const d = same(await peer.take(peer.messages, `echo ${i}`), m.data, m.bin);
      expect(!d, `message ${i}: ${d}`);
    }
  });
}

// One ws-client --echo run: the session, then the server closes with code and reason.
async function echoRun(results, client, srv) {
  const seen = [];
  let session = null;
  srv.expect('/echo', (ws) => {
    const peer = new Peer(ws);
    session = (async () => {
      await echoSession(peer, seen);
      ws.close(1000, 'done');
      return peer.closed();
    })().catch((e) => ({ code: `none (${e.message})` }));
  });
  const run = await runProgram(client, ['--echo', srv.url('/echo')], { timeout: 300_000 });
  const answer = session ? await session : { code: 'none (no connection)' };
  for (const [name, detail] of seen) results.check(`--echo: ${name}`, !detail, detail);
  results.check('--echo: server closes 1000 "done", client answers 1000 "done"',
                answer.code === 1000 && answer.reason === 'done', JSON.stringify(answer));
  results.check('--echo: prints "closed: 1000 done" and exits 0',
                run.status === 0 && run.stderr.includes('closed: 1000 done'),
                `status ${run.status}, stderr ${JSON.stringify(run.stderr)}`);
}

function reasonFor(code) {
  return `bye ${code} é€𝄞`;
}

// The server closes at once with code and a UTF-8 reason; ws-client must answer with the
// same, print it and exit 0.
async function closeRun(client, srv, code) {
  const path = `/close/${code}`;
  const reason = reasonFor(code);
  let answered = null;
  srv.expect(path, (ws) => {
    const peer = new Peer(ws);
    ws.close(code, reason);
    answered = peer.closed().catch((e) => ({ code: `none (${e.message})`, reason: '' }));
  });
  try {
    const run = await runProgram(client, ['--echo', srv.url(path)], { timeout: 30_000 });
    expect(answered !== null, `no connection (status ${run.status}, ${run.stderr})`);
    const got = await answered;
    expect(got.code === code && got.reason === reason,
           `client answered ${got.code} '${got.reason}'`);
    expect(run.status === 0 && run.stderr.includes(`closed: ${code} ${reason}`),
           `status ${run.status}, stderr ${JSON.stringify(run.stderr)}`);
  } finally {
    srv.handlers.delete(path);
  }
}

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

async function closeCodes(results, client, srv) {
  for (const code of VALID_CLOSE_CODES.filter((c) => c < 3000)) {
    await results.run(`server closes ${code} with a reason: client answers the same, ` +
                      'prints it, exits 0', () => closeRun(client, srv, code));
  }
  for (const [lo, hi] of [[3000, 3999], [4000, 4999]]) {
    const codes = VALID_CLOSE_CODES.filter((c) => c >= lo && c <= hi);
    await results.run(`server closes ${lo}-${hi} (${codes.length} codes) with reasons: ` +
                      'each answered with the same, exit 0', async () => {
      const failed = await inParallel(codes, 16, (code) => closeRun(client, srv, code));
      expect(failed.length === 0, `${failed.length} failed: ${failed.slice(0, 5).join('; ')}`);
    }, 300_000);
  }
}

// ---- Raw server: a handshake by hand, then frames no server may send -------------------

// A TCP server that answers one upgrade request (or with `response(key)`) and then writes
// `bytes` (together: in the same write as the response); resolves with what the client did.
async function rawServer(client, { bytes = [], response, together = false } = {}) {
  const server = net.createServer();
  await new Promise((resolve) => server.listen(0, HOST, resolve));
  const port = server.address().port;
  const conn = new Promise((resolve) => server.once('connection', resolve));
  const program = runProgram(client, ['--echo', `ws://${HOST}:${port}/raw`], { timeout: 30_000 });
  program.catch(() => {}); // awaited below; a failure to start must not go unhandled first
  let sock = null;
  try {
    const quit = program.then((r) => {
      throw new Error(`ws-client exited (${r.status}) before connecting: ${r.stderr.trim()}`);
    });
    sock = await withTimeout(Promise.race([conn, quit]), 10_000, 'ws-client did not connect');
    sock.setNoDelay(true);
    // The request head first, then frames in the same reader.
    const reader = new FrameReader(sock);
    const head = await reader.headLine();
    const key = /sec-websocket-key:\s*(\S+)/i.exec(head)?.[1] ?? '';
    const answer = response ? response(key)
      : 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n' +
        `Connection: Upgrade\r\nSec-WebSocket-Accept: ${acceptFor(key)}\r\n\r\n`;
    if (together) {
      sock.write(Buffer.concat([Buffer.from(answer, 'latin1'), ...bytes]));
    } else {
      sock.write(answer);
      for (const b of bytes) sock.write(b);
    }
    const run = await program;
    await reader.end(5_000).catch(() => {});
    return { run, reader };
  } finally {
    if (sock) sock.destroy();
    server.close();
    await program.catch(() => {});
  }
}

async function rawExpectClose(client, bytes, code) {
  const { run, reader } = await rawServer(client, { bytes: Array.isArray(bytes) ? bytes : [bytes] });
  const f = reader.frames.find((x) => x.opcode === OP.CLOSE);
  expect(f, `no close frame from the client (status ${run.status}, ${run.stderr.trim()})`);
  expect(f.masked, 'client close frame not masked');
  const got = f.payload.length >= 2 ? f.payload.readUInt16BE(0) : 1005;
  expect(got === code, `client closed with ${got}, expected ${code}`);
  expect(run.status === 1 && run.stderr.includes(`closed: ${code}`),
         `status ${run.status}, stderr ${JSON.stringify(run.stderr)}`);
  return { run, reader };
}

function serverFrame(op, payload, opts = {}) {
  return frame(op, payload, { masked: false, ...opts });
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

async function rawChecks(results, client) {
  const hi = Buffer.from('hi');
  const text = (b) => serverFrame(OP.TEXT, Buffer.from(b));
  const cases = [
    ['masked text frame from the server', frame(OP.TEXT, hi, { masked: true }), 1002],
    ['reserved opcode 0x3', serverFrame(0x3, hi), 1002],
    ['reserved control opcode 0xB', serverFrame(0xb, hi), 1002],
    ['RSV1 set without an extension', serverFrame(OP.TEXT, hi, { rsv: 4 }), 1002],
    ['1-byte close payload', serverFrame(OP.CLOSE, Buffer.from([0x03])), 1002],
    ['close code 1005 on the wire', serverFrame(OP.CLOSE, closePayload(1005)), 1002],
    ['close code 2999', serverFrame(OP.CLOSE, closePayload(2999)), 1002],
    ['ping with a 126-byte payload', serverFrame(OP.PING, Buffer.alloc(126, 1)), 1002],
    ['ping with FIN clear', serverFrame(OP.PING, hi, { fin: false }), 1002],
    ['continuation frame with no message started', serverFrame(OP.CONT, hi), 1002],
    ['text frame while a fragmented message is open',
     [serverFrame(OP.TEXT, hi, { fin: false }), serverFrame(OP.TEXT, hi)], 1002],
    ['16-bit length used for 5 bytes', serverFrame(OP.TEXT, Buffer.from('hello'),
                                                   { lengthForm: 16 }), 1002],
    ['frame header declaring 2^40 bytes', serverFrame(OP.BINARY, Buffer.alloc(0),
                                                      { length: 2 ** 40 }), 1009],
    ['text: invalid UTF-8 (C3 28)', text([0x6f, 0x6b, 0xc3, 0x28]), 1007],
    ['text: UTF-16 surrogate (ED A0 80)', text([0xed, 0xa0, 0x80]), 1007],
    ['text: invalid UTF-8 across fragments',
     [serverFrame(OP.TEXT, Buffer.from([0x61, 0xe2, 0x82]), { fin: false }),
      serverFrame(OP.CONT, Buffer.from([0x28]))], 1007],
    ['close: reason is not UTF-8', serverFrame(OP.CLOSE, closePayload(1000, Buffer.from([0xff]))),
     1007],
  ];
  for (const [name, bytes, code] of cases) {
    await results.run(`raw server sends ${name}: client closes with ${code}, exits 1`,
                      () => rawExpectClose(client, bytes, code));
  }

  // The whole over-limit frame is sent: the client fails the connection after the header,
  // with the rest still arriving. Its close frame must reach the server all the same, so the
  // client has to shut its side and read away the rest, not close with input unread (that
  // resets the connection, and the server, busy writing, loses the close frame).
  const overLimit = serverFrame(OP.BINARY, Buffer.alloc(BIG + 1, 0x5a));
  await results.run('raw server sends a whole 16 MiB + 1 frame: the client\'s close 1009 ' +
                    'still reaches it, no reset (10 runs)',
                    () => everyTime(10, async () => {
                      const { reader } = await rawExpectClose(client, [overLimit], 1009);
                      expect(reader.error === null, 'connection reset after the close frame ' +
                             `(${reader.error?.code ?? reader.error?.message})`);
                    }), 180_000);

  const word = Buffer.from('Hé wörld', 'utf8');
  await results.run('raw server: message fragmented by hand, with a ping inside, is echoed',
                    async () => {
    const { run, reader } = await rawServer(client, {
      bytes: [serverFrame(OP.TEXT, word.subarray(0, 2), { fin: false }), // inside 'é'
              serverFrame(OP.PING, Buffer.from('inside')),
              serverFrame(OP.CONT, word.subarray(2)),
              serverFrame(OP.CLOSE, closePayload(1000, 'bye'))],
    });
    const pong = reader.frames.find((f) => f.opcode === OP.PONG);
    expect(pong && pong.payload.toString() === 'inside', 'no pong "inside"');
    const data = reader.frames.filter((f) => f.opcode <= OP.BINARY);
    const joined = Buffer.concat(data.map((f) => f.payload)).toString('utf8');
    expect(data.length > 0 && data[0].opcode === OP.TEXT && joined === 'Hé wörld' &&
           data.every((f) => f.masked), `echo '${joined}' in ${data.length} frame(s)`);
    const close = reader.frames.find((f) => f.opcode === OP.CLOSE);
    expect(close && close.payload.readUInt16BE(0) === 1000, 'no close 1000 answer');
    expect(run.status === 0, `status ${run.status}, ${run.stderr}`);
  });

  await results.run('raw server: first frames in the same TCP write as the 101 are handled',
                    async () => {
    const { run, reader } = await rawServer(client, {
      together: true,
      bytes: [serverFrame(OP.BINARY, Buffer.from([9, 8, 7])),
              serverFrame(OP.CLOSE, closePayload(4002, 'quick'))],
    });
    const data = reader.frames.filter((f) => f.opcode <= OP.BINARY);
    const joined = Buffer.concat(data.map((f) => f.payload));
    expect(data.length > 0 && data[0].opcode === OP.BINARY &&
           joined.equals(Buffer.from([9, 8, 7])), `echo of ${joined.length} bytes`);
    const close = reader.frames.find((f) => f.opcode === OP.CLOSE);
    expect(close && close.payload.readUInt16BE(0) === 4002, 'no close 4002 answer');
    expect(run.status === 0 && run.stderr.includes('closed: 4002 quick'),
           `status ${run.status}, ${run.stderr}`);
  });

  await results.run('raw server: close in the middle of a fragmented message is answered',
                    async () => {
    const { run, reader } = await rawServer(client, {
      bytes: [serverFrame(OP.TEXT, Buffer.from('half'), { fin: false }),
              serverFrame(OP.CLOSE, closePayload(4003, 'mid'))],
    });
    const close = reader.frames.find((f) => f.opcode === OP.CLOSE);
    expect(close && close.masked && close.payload.readUInt16BE(0) === 4003,
           'no masked close 4003 answer');
    expect(run.status === 0 && run.stderr.includes('closed: 4003 mid'),
           `status ${run.status}, ${run.stderr}`);
  });

  await results.run('raw server answers with a wrong Sec-WebSocket-Accept: client exits 1',
                    async () => {
    const { run, reader } = await rawServer(client, {
      response: () => 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n' +
                      'Connection: Upgrade\r\n' +
                      'Sec-WebSocket-Accept: AAAAAAAAAAAAAAAAAAAAAAAAAAA=\r\n\r\n',
    });
    expect(run.status === 1 && /handshake failed/.test(run.stderr),
           `status ${run.status}, stderr ${JSON.stringify(run.stderr)}`);
    expect(reader.frames.length === 0, 'client sent frames after a bad handshake');
  });

  await results.run('raw server sees a valid upgrade request (GET, key, version 13)',
                    async () => {
    const { run, reader } = await rawServer(client, {
      bytes: [serverFrame(OP.CLOSE, closePayload(1000))],
    });
    const lines = reader.head.split('\r\n');
    const { headers } = parseHead('HTTP/1.1 000\r\n' + lines.slice(1).join('\r\n'));
    const key = headers['sec-websocket-key'] ?? '';
    expect(lines[0] === 'GET /raw HTTP/1.1', `request line '${lines[0]}'`);
    expect(/^websocket$/i.test(headers.upgrade ?? '') &&
           /(^|,)\s*upgrade\s*(,|$)/i.test(headers.connection ?? '') &&
           headers['sec-websocket-version'] === '13' && headers.host !== undefined,
           `headers ${JSON.stringify(headers)}`);
    expect(/^[A-Za-z0-9+/]{22}==$/.test(key) && Buffer.from(key, 'base64').length === 16,
           `Sec-WebSocket-Key '${key}'`);
    expect(run.status === 0, `status ${run.status}, ${run.stderr}`);
  });
}

main(async (results) => {
  const client = process.argv[2];
  if (!results.check('usage: PATH/TO/ws-client given', Boolean(client))) return;
  let ws;
  try {
    ws = requirePeer('ws');
  } catch (e) {
    results.check('npm package ws loads', false, e.message);
    return;
  }
  WebSocketServer = ws.WebSocketServer;
  results.check(`npm package ws ${requirePeer('ws/package.json').version} loads`, true);

  const srv = await new NodeServer().start();
  try {
    // The close codes first: 2000 program starts, each slower once this process holds the
    // echo session's 16 MiB buffers.
    await closeCodes(results, client, srv);
    await results.run('ws-client --echo session', () => echoRun(results, client, srv), 300_000);
    await rawChecks(results, client);
  } finally {
    await srv.stop();
  }
});
