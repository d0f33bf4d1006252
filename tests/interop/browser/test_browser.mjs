// Interop: a real browser against examples/echo-server. Headless Chromium (Debian's
// /usr/bin/chromium, driven by playwright-core, which never downloads a browser of its own)
// loads page.html from a local static server; the page talks to the echo server and records
// what it saw, and this script checks it.
//
// usage: node test_browser.mjs PATH/TO/echo-server [--deflate]
// Without --deflate the server runs with --no-deflate and the connection must have no
// extension. With it the server runs as it starts by default (permessage-deflate on), the
// page's connections go through an observing relay (../node/observer.mjs), and the checks
// add that compression was negotiated and that frames carry RSV1 in both directions.
// Prints one `ok - name` / `not ok - name` line per check, then `N passed, N failed`.
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { EchoServer, HOST, expect, main, requirePeer, withTimeout } from '../node/harness.mjs';
import { extensionsOf, startObserver, summarize } from '../node/observer.mjs';
import { startStaticServer } from './server.mjs';

const CHROMIUM = '/usr/bin/chromium';
// Headless, no sandbox (root), and nothing that reaches beyond 127.0.0.1. playwright-core
// gives the browser a fresh temporary profile (user data dir) and removes it afterwards.
const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--disable-dev-shm-usage', '--no-proxy-server',
];
const PAGE_TIMEOUT = 120_000;
const MIB = 1 << 20;

const sha256 = (b) => createHash('sha256').update(b).digest('hex');

// What the page sends, rebuilt here so the check does not rest on the page's word alone.
function bytesOf(n, salt) {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + salt) & 255;
  return b;
}
const textOf = (n) => Buffer.from('é€𝄞 ж Chromium '.repeat(Math.ceil(n / 22)), 'utf8');

const EXPECTED = [
  // name, what the page sent, what it must get back (kind), the bytes
  ['text', 'string', 'string', Buffer.from('hello from Chromium é€𝄞', 'utf8')],
  ['empty text', 'string', 'string', Buffer.alloc(0)],
  ['ArrayBuffer', 'ArrayBuffer', 'ArrayBuffer', bytesOf(1000, 1)],
  ['Uint8Array view', '[object Uint8Array]', 'ArrayBuffer', bytesOf(3000, 2).subarray(1000, 1500)],
  ['empty ArrayBuffer', 'ArrayBuffer', 'ArrayBuffer', Buffer.alloc(0)],
  ['Blob', 'Blob', 'ArrayBuffer', Buffer.concat([bytesOf(777, 3), bytesOf(10, 4)])],
  ['Blob received as Blob', 'Blob', 'Blob', bytesOf(4096, 5)],
  ['binary 1 MiB', 'ArrayBuffer', 'ArrayBuffer', bytesOf(MIB, 6)],
  ['text 1 MiB', 'string', 'string', textOf(MIB)],
  ['Blob 1 MiB', 'Blob', 'ArrayBuffer', bytesOf(MIB, 7)],
  ['second connection text', 'string', 'string', Buffer.from('again')],
];

function checkPage(results, r, deflate) {
  if (deflate) {
    results.check('page: opened with no subprotocol, permessage-deflate negotiated',
                  r.open && r.open.protocol === '' &&
                  /^permessage-deflate\b/.test(r.open.extensions), JSON.stringify(r.open));
  } else {
    results.check('page: opened with no subprotocol and no extension',
                  r.open && r.open.protocol === '' && r.open.extensions === '',
                  JSON.stringify(r.open));
  }
  results.check('page: no step failed', r.errors.length === 0, r.errors.join('; '));
  for (const [name, sentKind, gotKind, bytes] of EXPECTED) {
    const s = r.steps.find((x) => x.name === name);
    if (!s) {
      results.check(`page: ${name} echoed`, false, 'step missing');
      continue;
    }
    const want = sha256(bytes);
    results.check(`page: ${name} (${bytes.length} bytes) echoed as ${gotKind}, same bytes`,
                  s.sentKind === sentKind && s.sentBytes === bytes.length && s.sentSha === want &&
                  s.gotKind === gotKind && s.gotBytes === bytes.length && s.gotSha === want,
                  `sent ${s.sentKind} ${s.sentBytes} bytes, got ${s.gotKind} ${s.gotBytes} ` +
                  `bytes${s.gotSha === want ? '' : ', different content'}` +
                  (s.sentSha === want ? '' : ' (the page did not send what was expected)'));
  }
  const burst = r.steps.find((x) => x.name === 'burst');
  results.check('page: three messages sent at once come back in order',
                burst && JSON.stringify(burst.order) === '["one","bin2","three"]',
                JSON.stringify(burst));
  results.check('page: close(4000, reason) answered with 4000 and the reason, wasClean',
                r.close && r.close.code === 4000 && r.close.reason === 'bye from Chromium é' &&
                r.close.wasClean === true, JSON.stringify(r.close));
  results.check('page: close(1000) on a second connection answered with 1000, wasClean',
                r.close2 && r.close2.code === 1000 && r.close2.wasClean === true,
                JSON.stringify(r.close2));
  results.check('page: no WebSocket error events', r.errorEvents === 0,
                `${r.errorEvents} error events`);
}

// What the relay saw of the page's two connections: the 101 answered the offer, Chromium's
// messages and the server's echoes carried RSV1 (first frames only), and the 4 MiB or so of
// repetitive data each way went by in far fewer bytes.
function checkWire(results, relay, stderr) {
  results.check('relay: the page made its two connections through it', relay.conns.length === 2,
                `${relay.conns.length} connections`);
  relay.conns.forEach((c, i) => {
    const name = `relay: connection ${i + 1}`;
    const offer = extensionsOf(c.up.head);
    const answer = extensionsOf(c.down.head);
    results.check(`${name}: Chromium offered permessage-deflate, the 101 accepted it`,
                  /permessage-deflate/.test(offer) && /^permessage-deflate\b/.test(answer) &&
                  /^HTTP\/1\.1 101/.test(c.down.head ?? ''),
                  `offer '${offer}', answer '${answer}'`);
    const up = summarize(c.up.frames);
    const down = summarize(c.down.frames);
    results.check(`${name}: RSV1 only on first frames of data messages, RSV2/RSV3 never`,
                  up.misplacedRsv1 === 0 && down.misplacedRsv1 === 0 && up.rsv23 === 0 &&
                  down.rsv23 === 0, JSON.stringify({ up, down }));
    results.check(`${name}: Chromium's messages carry RSV1 (compressed)`,
                  up.compressed >= 1, JSON.stringify(up));
    if (i === 0) {
      results.check(`${name}: the server's echoes carry RSV1 (compressed)`,
                    down.compressed >= 1, JSON.stringify(down));
    } else {
      // Its one echo is 5 bytes, under the 64-byte min_size: sent as it is.
      results.check(`${name}: the server's 5-byte echo goes uncompressed (min_size)`,
                    down.messages === 1 && down.compressed === 0, JSON.stringify(down));
    }
  });
  const [first] = relay.conns;
  if (first) {
    // Over 4 MiB of periodic binary and repeated text went each way on the first connection.
    results.check('relay: the first connection took under 1 MiB on the wire each way ' +
                  '(compression, not just the flag)',
                  first.up.bytes < MIB && first.down.bytes < MIB,
                  `up ${first.up.bytes} bytes, down ${first.down.bytes} bytes`);
  }
  results.check('echo-server --verbose logged permessage-deflate for both connections',
                (stderr.match(/\] open [^\n]*\(permessage-deflate: server_max_window_bits=\d+ /g) ||
                 []).length === 2, stderr);
}

main(async (results) => {
  const path = process.argv[2];
  const deflate = process.argv[3] === '--deflate';
  if (!results.check('usage: PATH/TO/echo-server given', Boolean(path))) return;
  let chromium;
  try {
    ({ chromium } = requirePeer('playwright-core'));
  } catch (e) {
    results.check('npm package playwright-core loads', false, e.message);
    return;
  }
  results.check(`npm package playwright-core ${requirePeer('playwright-core/package.json')
    .version} loads`, true);
  if (!results.check(`${CHROMIUM} is installed`, existsSync(CHROMIUM),
                     'run tests/interop/install-peers.sh (apt-get install chromium)')) return;

  const echo = await new EchoServer(path, '--verbose', ...(deflate ? [] : ['--no-deflate']))
    .start();
  let web = null;
  let browser = null;
  let relay = null;
  try {
    relay = deflate ? await startObserver(echo.port) : null;
    web = await startStaticServer(HOST);
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true,
                                      args: CHROMIUM_ARGS, timeout: 60_000 });
    results.check(`Chromium ${browser.version()} started headless`, true);
    const context = await browser.newContext();
    const page = await context.newPage();
    const pageErrors = [];
    const badRequests = [];
    page.on('pageerror', (e) => pageErrors.push(e.message));
    page.on('console', (m) => {
      if (m.type() === 'error') pageErrors.push(m.text());
    });
    // Everything the page loads or opens must stay on 127.0.0.1.
    page.on('request', (req) => {
      const u = new URL(req.url());
      if (u.protocol !== 'data:' && u.hostname !== HOST) badRequests.push(req.url());
    });
    page.on('websocket', (ws) => {
      if (new URL(ws.url()).hostname !== HOST) badRequests.push(ws.url());
    });

    const wsUrl = relay ? relay.url : echo.url;
    const pageUrl = `http://${HOST}:${web.port}/page.html?ws=${encodeURIComponent(wsUrl)}`;
    const resp = await page.goto(pageUrl, { timeout: 30_000 });
    results.check('page.html served by the local static server',
                  resp && resp.status() === 200, `status ${resp && resp.status()}`);
    let r = null;
    await results.run('page ran its WebSocket session to the end', async () => {
      await page.waitForFunction(() => window.interopResult !== undefined, null,
                                 { timeout: PAGE_TIMEOUT, polling: 100 });
      r = await page.evaluate(() => window.interopResult);
      expect(!r.fatal, `page failed: ${r.fatal}`);
    }, PAGE_TIMEOUT + 10_000);
    if (r && !r.fatal) checkPage(results, r, deflate);
    if (relay && r && !r.fatal) checkWire(results, relay, echo.stderr);
    if (!deflate) {
      results.check('echo-server --verbose logged "compression: off" (--no-deflate)',
                    (echo.stderr.match(/\] open [^\n]*\(compression: off\)/g) || []).length === 2,
                    echo.stderr);
    }
    results.check('page: no script or console errors', pageErrors.length === 0,
                  pageErrors.join('; '));
    results.check('browser contacted nothing but 127.0.0.1', badRequests.length === 0,
                  badRequests.join(' '));
    // The server logged the page's connections, Origin included in the request it accepted.
    results.check('echo-server saw both browser connections open and close',
                  (echo.stderr.match(/\] open /g) || []).length === 2 &&
                  /closed: 4000 bye from Chromium é/.test(echo.stderr) &&
                  /closed: 1000\b/.test(echo.stderr), echo.stderr);
    await context.close();
  } finally {
    if (browser) await withTimeout(browser.close(), 30_000, 'browser.close').catch(() => {});
    if (web) await web.close();
    if (relay) await relay.close();
    await echo.close();
  }
});
