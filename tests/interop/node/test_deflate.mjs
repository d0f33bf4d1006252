// Interop, permessage-deflate (RFC 7692) with Node's `ws`, in both roles:
//  - a ws client with perMessageDeflate on, against examples/echo-server;
//  - examples/ws-client --echo, against a ws server with perMessageDeflate on;
// with the defaults and with each of the four parameters (server_no_context_takeover,
// client_no_context_takeover, server_max_window_bits, client_max_window_bits), asked for
// by either side. Every connection goes through an observing relay (observer.mjs) that
// reads the 101's Sec-WebSocket-Extensions and each frame's RSV1 off the wire.
//
// usage: node test_deflate.mjs PATH/TO/echo-server PATH/TO/ws-client
// Prints one `ok - name` / `not ok - name` line per check, then `N passed, N failed`.
import {
  EchoServer, HOST, binaryOf, describe, expect, main, requirePeer, runProgram, textOf,
  withTimeout,
} from './harness.mjs';
import { extensionsOf, startObserver, summarize } from './observer.mjs';

let WebSocket;
let WebSocketServer;

// "permessage-deflate; a=1; b" -> { name, params: { a: '1', b: true } } (first extension).
function parseExtension(value) {
  const [name, ...rest] = value.split(',')[0].split(';').map((s) => s.trim());
  const params = {};
  for (const p of rest) {
    const [k, v] = p.split('=').map((s) => s.trim());
    params[k] = v === undefined ? true : v.replace(/^"|"$/g, '');
  }
  return { name, params };
}

// JSON-like text messages that repeat themselves, as a market-data feed would.
function ticks(n) {
  const syms = ['MSFT', 'AAPL', 'GOOG', 'AMZN', 'NVDA'];
  return Array.from({ length: n }, (_, i) => Buffer.from(JSON.stringify({
    type: 'tick', sym: syms[i % syms.length], bid: 100 + ((i * 37) % 1000) / 100,
    ask: 100 + ((i * 37 + 5) % 1000) / 100, seq: i, venue: 'XNAS',
  })));
}

// What each connection exchanges: [data, isBinary]. The 20 ticks (over 64 bytes each, so
// both sides compress them), then a short text, an empty one, random (incompressible)
// binary, 1 MiB of repeated text, and 256 KiB of periodic binary.
function workload() {
  const periodic = Buffer.alloc(256 << 10);
  // A period of 100 bytes: within reach of the smallest window (zlib's window 9 matches
  // at most 250 bytes back).
  for (let i = 0; i < periodic.length; i++) periodic[i] = ((i % 100) * 7) & 255;
  return [
    ...ticks(20).map((b) => [b, false]),
    [Buffer.from('hi'), false],
    [Buffer.alloc(0), false],
    [binaryOf(100_000), true],
    [textOf(1 << 20), false],
    [periodic, true],
  ];
}
const TICKS = 20;
const WORKLOAD_BYTES = workload().reduce((n, [b]) => n + b.length, 0);

// The checks on what the relay saw of one connection. want: the parameters the 101 must
// carry ({ name: value|true }), absent: those it must not carry.
function checkWire(results, name, rec, want, absent = []) {
  const answer = extensionsOf(rec.down.head);
  const ext = parseExtension(answer ?? '');
  results.check(`${name}: the 101 accepts permessage-deflate` +
                (Object.keys(want).length ? ` with ${JSON.stringify(want)}` : ''),
                ext.name === 'permessage-deflate' &&
                Object.entries(want).every(([k, v]) => ext.params[k] === v) &&
                absent.every((k) => !(k in ext.params)),
                `offer '${extensionsOf(rec.up.head)}', answer '${answer}'`);
  const up = summarize(rec.up.frames);
  const down = summarize(rec.down.frames);
  results.check(`${name}: RSV1 on the first frame of compressed messages only, never on ` +
                'continuations or control frames; RSV2/RSV3 clear',
                up.misplacedRsv1 === 0 && down.misplacedRsv1 === 0 && up.rsv23 + down.rsv23 === 0,
                JSON.stringify({ up, down }));
  results.check(`${name}: client to server, the ${TICKS} ticks and more carry RSV1`,
                up.compressed >= TICKS, JSON.stringify(up));
  results.check(`${name}: server to client, the ${TICKS} ticks and more carry RSV1`,
                down.compressed >= TICKS, JSON.stringify(down));
  // 1 MiB of text and 256 KiB of periodic bytes shrink to little; 100 KB random does not.
  results.check(`${name}: the ${WORKLOAD_BYTES} bytes of the workload took under 300 KB on ` +
                'the wire each way', rec.up.bytes < 300_000 && rec.down.bytes < 300_000,
                `up ${rec.up.bytes}, down ${rec.down.bytes}`);
}

// ---- Node ws client -> echo-server -------------------------------------------------------

function openClient(url, perMessageDeflate) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { handshakeTimeout: 10_000, perMessageDeflate,
                                    maxPayload: 64 << 20 });
    const queue = [];
    const waiters = [];
    let closed = null;
    ws.on('message', (data, isBinary) => {
      queue.push({ data, isBinary });
      waiters.splice(0).forEach((f) => f());
    });
    ws.on('close', (code, reason) => {
      closed = { code, reason: String(reason) };
      waiters.splice(0).forEach((f) => f());
    });
    ws.once('error', reject);
    ws.once('open', () => resolve({
      ws,
      next: () => withTimeout((async () => {
        while (!queue.length) {
          if (closed) throw new Error(`closed ${closed.code} ${closed.reason} before a message`);
          await new Promise((r) => waiters.push(r));
        }
        return queue.shift();
      })(), 30_000, 'no echo within 30 s'),
      closed: () => withTimeout((async () => {
        while (!closed) await new Promise((r) => waiters.push(r));
        return closed;
      })(), 10_000, 'no close within 10 s'),
    }));
  });
}

async function nodeClientCase(results, echoPath, name, serverArgs, clientOpts, want, absent) {
  const echo = await new EchoServer(echoPath, '--verbose', ...serverArgs).start();
  const relay = await startObserver(echo.port);
  try {
    await results.run(`${name}: every message echoed, same type and bytes`, async () => {
      const c = await openClient(relay.url, { threshold: 0, ...clientOpts });
      try {
        expect(c.ws.extensions === 'permessage-deflate', `ws negotiated '${c.ws.extensions}'`);
        for (const [data, isBinary] of workload()) {
          await new Promise((resolve, reject) =>
            c.ws.send(data, { binary: isBinary }, (e) => (e ? reject(e) : resolve())));
          const got = await c.next();
          expect(got.isBinary === isBinary && Buffer.from(got.data).equals(data),
                 `sent ${describe(data, isBinary)}, got ${describe(got.data, got.isBinary)}` +
                 (Buffer.from(got.data).equals(data) ? '' : ', different bytes'));
        }
        c.ws.close(1000, 'done');
        const cl = await c.closed();
        expect(cl.code === 1000, `close answered with ${cl.code} ${cl.reason}`);
      } finally {
        c.ws.terminate();
      }
    });
    const rec = relay.last();
    if (results.check(`${name}: the connection went through the relay`, Boolean(rec))) {
      checkWire(results, name, rec, want, absent);
      // What echo-server --verbose logged from ws_conn_deflate_params matches the 101.
      const ext = parseExtension(extensionsOf(rec.down.head) ?? '');
      const m = /\] open [^\n]*\(permessage-deflate: server_max_window_bits=(\d+) client_max_window_bits=(\d+)( server_no_context_takeover)?( client_no_context_takeover)?\)/
        .exec(echo.stderr);
      results.check(`${name}: echo-server's log of the negotiated parameters matches the 101`,
                    m && m[1] === (ext.params.server_max_window_bits ?? '15') &&
                    (!ext.params.client_max_window_bits ||
                     m[2] === String(ext.params.client_max_window_bits)) &&
                    Boolean(m[3]) === ('server_no_context_takeover' in ext.params) &&
                    Boolean(m[4]) === ('client_no_context_takeover' in ext.params),
                    echo.stderr.trim());
    }
  } finally {
    await relay.close();
    await echo.close();
  }
}

// ---- ws-client -> Node ws server ---------------------------------------------------------

// A ws server that sends the workload to each client and checks each echo; it closes with
// 1000 when everything came back right, 4000 and the reason otherwise.
async function startNodeServer(perMessageDeflate) {
  const wss = new WebSocketServer({ host: HOST, port: 0, maxPayload: 64 << 20,
                                    perMessageDeflate: { threshold: 0, ...perMessageDeflate } });
  await new Promise((resolve, reject) => {
    wss.once('listening', resolve);
    wss.once('error', reject);
  });
  const outcomes = [];
  wss.on('connection', (ws) => {
    const items = workload();
    let i = 0;
    const outcome = { extensions: ws.extensions, error: null, echoed: 0 };
    outcomes.push(outcome);
    const fail = (why) => {
      outcome.error = why;
      ws.close(4000, why.slice(0, 100));
    };
    ws.on('message', (data, isBinary) => {
      const [want, wantBinary] = items[i];
      if (isBinary !== wantBinary || !Buffer.from(data).equals(want)) {
        fail(`message ${i}: sent ${describe(want, wantBinary)}, got ${describe(data, isBinary)}`);
        return;
      }
      outcome.echoed = ++i;
      if (i === items.length) ws.close(1000, 'done');
      else ws.send(items[i][0], { binary: items[i][1] });
    });
    ws.send(items[0][0], { binary: items[0][1] });
  });
  return { wss, outcomes, port: wss.address().port,
           close: () => new Promise((resolve) => {
             for (const ws of wss.clients) ws.terminate();
             wss.close(() => resolve());
           }) };
}

async function wsClientCase(results, clientPath, name, serverOpts, clientArgs, want, absent,
                            line) {
  const server = await startNodeServer(serverOpts);
  const relay = await startObserver(server.port);
  try {
    let run = null;
    await results.run(`${name}: ws-client --echo returns every message, same type and bytes`,
                      async () => {
      run = await runProgram(clientPath, ['--echo', ...clientArgs, `${relay.url}/`],
                             { timeout: 60_000 });
      const o = server.outcomes[0];
      expect(o, `no connection reached the server (status ${run.status}, ${run.stderr})`);
      expect(o.error === null && o.echoed === workload().length,
             `${o.error ?? `${o.echoed} echoed`}; ws-client: ${run.stderr.trim()}`);
      expect(run.status === 0 && run.stderr.includes('closed: 1000 done'),
             `status ${run.status}, stderr ${JSON.stringify(run.stderr)}`);
    });
    if (run) {
      results.check(`${name}: ws-client prints '${line}'`, run.stderr.includes(`${line}\n`),
                    JSON.stringify(run.stderr));
    }
    const rec = relay.last();
    if (results.check(`${name}: the connection went through the relay`, Boolean(rec)))
      checkWire(results, name, rec, want, absent);
    return rec;
  } finally {
    await relay.close();
    await server.close();
  }
}

main(async (results) => {
  const [echoPath, clientPath] = process.argv.slice(2);
  if (!results.check('usage: PATH/TO/echo-server PATH/TO/ws-client given',
                     Boolean(echoPath && clientPath))) return;
  try {
    ({ WebSocket, WebSocketServer } = requirePeer('ws'));
  } catch (e) {
    results.check('npm package ws loads', false, e.message);
    return;
  }
  results.check(`npm package ws ${requirePeer('ws/package.json').version} loads`, true);

  // Node client (perMessageDeflate on) -> echo-server. [name, echo-server flags, ws options,
  // parameters the 101 must carry, parameters it must not carry]
  const clientCases = [
    ['ws -> echo-server, defaults', [], {}, {},
     ['server_no_context_takeover', 'client_no_context_takeover', 'server_max_window_bits']],
    ['ws -> echo-server, ws asks server_no_context_takeover', [],
     { serverNoContextTakeover: true }, { server_no_context_takeover: true }],
    ['ws -> echo-server, --server-no-context-takeover', ['--server-no-context-takeover'], {},
     { server_no_context_takeover: true }],
    ['ws -> echo-server, ws offers client_no_context_takeover', [],
     { clientNoContextTakeover: true }, {}],
    ['ws -> echo-server, --client-no-context-takeover', ['--client-no-context-takeover'], {},
     { client_no_context_takeover: true }],
    ['ws -> echo-server, ws asks server_max_window_bits=10', [], { serverMaxWindowBits: 10 },
     { server_max_window_bits: '10' }],
    ['ws -> echo-server, --server-max-window-bits 9', ['--server-max-window-bits', '9'], {},
     { server_max_window_bits: '9' }],
    ['ws -> echo-server, ws offers client_max_window_bits=10', [], { clientMaxWindowBits: 10 },
     {}],
    ['ws -> echo-server, --client-max-window-bits 9', ['--client-max-window-bits', '9'], {},
     { client_max_window_bits: '9' }],
    ['ws -> echo-server, all four at the smallest', ['--server-max-window-bits', '8',
      '--client-max-window-bits', '8', '--server-no-context-takeover',
      '--client-no-context-takeover'], {},
     { server_max_window_bits: '8', client_max_window_bits: '8',
       server_no_context_takeover: true, client_no_context_takeover: true }],
  ];
  for (const [name, args, opts, want, absent] of clientCases)
    await nodeClientCase(results, echoPath, name, args, opts, want, absent);

  // ws-client -> Node ws server (perMessageDeflate on). [name, ws server options, ws-client
  // flags, parameters the 101 must carry, parameters it must not carry, ws-client's line]
  const P = 'permessage-deflate: server_max_window_bits=';
  const serverCases = [
    ['ws-client -> ws, defaults', {}, [], {}, ['server_no_context_takeover'],
     `${P}15 client_max_window_bits=15`],
    ['ws-client -> ws, ws insists on server_no_context_takeover',
     { serverNoContextTakeover: true }, [], { server_no_context_takeover: true }, [],
     `${P}15 client_max_window_bits=15 server_no_context_takeover`],
    ['ws-client -> ws, --server-no-context-takeover', {}, ['--server-no-context-takeover'],
     { server_no_context_takeover: true }, [],
     `${P}15 client_max_window_bits=15 server_no_context_takeover`],
    ['ws-client -> ws, ws insists on client_no_context_takeover',
     { clientNoContextTakeover: true }, [], { client_no_context_takeover: true }, [],
     `${P}15 client_max_window_bits=15 client_no_context_takeover`],
    ['ws-client -> ws, ws limits server_max_window_bits to 10', { serverMaxWindowBits: 10 },
     [], { server_max_window_bits: '10' }, [], `${P}10 client_max_window_bits=15`],
    ['ws-client -> ws, --server-max-window-bits 9', {}, ['--server-max-window-bits', '9'],
     { server_max_window_bits: '9' }, [], `${P}9 client_max_window_bits=15`],
    ['ws-client -> ws, ws limits client_max_window_bits to 10', { clientMaxWindowBits: 10 },
     [], { client_max_window_bits: '10' }, [], `${P}15 client_max_window_bits=10`],
    ['ws-client -> ws, --client-max-window-bits 9', {}, ['--client-max-window-bits', '9'], {},
     [], `${P}15 client_max_window_bits=9`],
  ];
  for (const [name, opts, args, want, absent, line] of serverCases)
    await wsClientCase(results, clientPath, name, opts, args, want, absent, line);

  // --no-deflate: nothing offered, nothing compressed, and ws-client says so.
  const server = await startNodeServer({});
  const relay = await startObserver(server.port);
  try {
    await results.run('ws-client --no-deflate: no offer, no RSV1, "compression: off"',
                      async () => {
      const run = await runProgram(clientPath, ['--echo', '--no-deflate', `${relay.url}/`]);
      const rec = relay.last();
      expect(run.status === 0 && run.stderr.includes('compression: off\n'),
             `status ${run.status}, stderr ${JSON.stringify(run.stderr)}`);
      expect(rec && extensionsOf(rec.up.head) === '' && extensionsOf(rec.down.head) === '',
             `offer '${rec && extensionsOf(rec.up.head)}'`);
      const up = summarize(rec.up.frames);
      const down = summarize(rec.down.frames);
      expect(up.compressed + down.compressed === 0, JSON.stringify({ up, down }));
      expect(server.outcomes[0] && server.outcomes[0].echoed === workload().length,
             JSON.stringify(server.outcomes[0]));
    });
  } finally {
    await relay.close();
    await server.close();
  }
});
