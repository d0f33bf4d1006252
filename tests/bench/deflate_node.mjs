// The Node `ws` reference for the permessage-deflate benchmark: the same two streams as
// bench_deflate (dumped with `bench_deflate --dump DIR`), each message compressed by a
// server-side and inflated by a client-side ws PerMessageDeflate (the object a ws
// connection uses, with the same settings: window, memLevel, level, context takeover),
// one message at a time as a connection would. Prints bytes on the wire and the time per
// message each way (median of the runs). ws compresses on libuv's thread pool, so a
// message costs a round trip to it besides zlib's work. Figures only, never a verdict.
//
// usage: node deflate_node.mjs DIR [RUNS]   (tests/bench/run.sh deflate-node does it all)
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const require = createRequire(new URL('../interop/node/package.json', import.meta.url));
// ws does not export it by name; it is the file every ws connection loads.
const wsDir = dirname(require.resolve('ws/package.json'));
const PerMessageDeflate = require(join(wsDir, 'lib', 'permessage-deflate.js'));
const wsVersion = require('ws/package.json').version;

// [name, window bits, memLevel, level, no context takeover]: bench_deflate's settings.
const SETTINGS = [
  ['defaults: window 15, memLevel 8, level 6', 15, 8, 6, false],
  ['window 15, memLevel 8, level 6, no context takeover', 15, 8, 6, true],
  ['window 15, memLevel 8, level 1', 15, 8, 1, false],
  ['window 10, memLevel 4, level 6', 10, 4, 6, false],
  ['smallest: window 8, memLevel 1, level 6, no context takeover', 8, 1, 6, true],
];

function load(path) {
  const buf = readFileSync(path);
  const msgs = [];
  for (let off = 0; off < buf.length;) {
    const n = buf.readUInt32LE(off);
    msgs.push(buf.subarray(off + 4, off + 4 + n));
    off += 4 + n;
  }
  return msgs;
}

const header = (n) => (n < 126 ? 2 : n <= 0xffff ? 4 : 10); // server to client, unmasked

// A server and a client extension object agreed on one setting, as a handshake makes them.
function pair([, window, memLevel, level, noTakeover]) {
  const zlibDeflateOptions = { level, memLevel };
  const server = new PerMessageDeflate({ isServer: true, threshold: 0, zlibDeflateOptions,
                                         serverMaxWindowBits: window,
                                         clientMaxWindowBits: window,
                                         serverNoContextTakeover: noTakeover,
                                         clientNoContextTakeover: noTakeover });
  const offer = { client_max_window_bits: [true] };
  const agreed = server.accept([offer]);
  const client = new PerMessageDeflate({ isServer: false, threshold: 0, zlibDeflateOptions });
  const answer = {};
  for (const [k, v] of Object.entries(agreed)) answer[k] = [v === true ? true : String(v)];
  client.accept([answer]);
  return { server, client, agreed };
}

const call = (fn, obj, data) => new Promise((resolve, reject) =>
  fn.call(obj, data, true, (err, out) => (err ? reject(err) : resolve(out))));

async function runOnce(msgs, setting) {
  const { server, client, agreed } = pair(setting);
  const packed = new Array(msgs.length);
  let wire = 0;
  let t0 = process.hrtime.bigint();
  for (let i = 0; i < msgs.length; i++) packed[i] = await call(server.compress, server, msgs[i]);
  const sendNs = Number(process.hrtime.bigint() - t0) / msgs.length;
  t0 = process.hrtime.bigint();
  let ok = true;
  for (let i = 0; i < msgs.length; i++) {
    const out = await call(client.decompress, client, packed[i]);
    if (out.length !== msgs[i].length) ok = false;
  }
  const recvNs = Number(process.hrtime.bigint() - t0) / msgs.length;
  for (const p of packed) wire += header(p.length) + p.length;
  server.cleanup();
  client.cleanup();
  return { wire, sendNs, recvNs, ok, agreed };
}

const median = (xs) => xs.slice().sort((a, b) => a - b)[xs.length >> 1];

const [dir, runsArg] = process.argv.slice(2);
if (!dir) {
  console.error('usage: node deflate_node.mjs DIR [RUNS]');
  process.exit(2);
}
const runs = Number(runsArg ?? 3);
console.log(`Node ${process.version}, ws ${wsVersion}, zlib ${process.versions.zlib}; ` +
            `times: median of ${runs} runs`);
for (const [file, name] of [['w2.msgs', 'W2: 200 B JSON-like objects'],
                            ['ticks.msgs', 'ticks: market-data JSON, 40 symbols']]) {
  const msgs = load(join(dir, file));
  const plain = msgs.reduce((n, m) => n + header(m.length) + m.length, 0);
  console.log(`\n${name}: ${msgs.length} messages; uncompressed on the wire: ${plain} B`);
  console.log(`  ${'setting'.padEnd(62)} ${'wire B'.padStart(10)} ${'ratio'.padStart(6)} ` +
              `${'send ns'.padStart(9)} ${'recv ns'.padStart(9)}`);
  for (const s of SETTINGS) {
    const res = [];
    for (let r = 0; r < runs; r++) res.push(await runOnce(msgs, s));
    const r0 = res[0];
    console.log(`  ${s[0].padEnd(62)} ${String(r0.wire).padStart(10)} ` +
                `${(100 * r0.wire / plain).toFixed(1).padStart(5)}% ` +
                `${median(res.map((x) => x.sendNs)).toFixed(0).padStart(9)} ` +
                `${median(res.map((x) => x.recvNs)).toFixed(0).padStart(9)}` +
                (res.every((x) => x.ok) ? '' : '  ROUND TRIP FAILED'));
  }
}
