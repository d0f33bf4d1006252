// Interop over TLS (wss://), with a throwaway CA made by make-certs.sh at test time:
// - examples/ws-client against a Node `ws` server on https: verified by --ca-file (by name
//   and by IP address), and refused for a certificate naming another host, a self-signed
//   certificate, and a CA it was not given; --insecure connects anyway;
// - an echo server's --cert/--key (echo-server, uv-echo-server, event-echo-server) driven by a Node `ws` client (which refuses it without
//   the CA) and by headless Chromium with the test CA in its NSS trust store.
//
// usage: node test_tls.mjs PATH/TO/echo-server PATH/TO/ws-client
// Prints one `ok - name` / `not ok - name` line per check, then `N passed, N failed`.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startStaticServer } from '../browser/server.mjs';
import { EchoServer, HOST, expect, main, requirePeer, runProgram, withTimeout } from '../node/harness.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const CHROMIUM = '/usr/bin/chromium';

// A Node ws echo server on https with the given certificate.
async function nodeWssServer(dir, name) {
  const { WebSocketServer } = requirePeer('ws');
  const server = https.createServer({ cert: readFileSync(join(dir, `${name}.pem`)),
                                      key: readFileSync(join(dir, `${name}.key`)) });
  const wss = new WebSocketServer({ server, perMessageDeflate: false });
  wss.on('connection', (ws) => ws.on('message', (d, isBinary) => ws.send(d, { binary: isBinary })));
  await new Promise((resolve) => server.listen(0, HOST, resolve));
  return { port: server.address().port,
           close: () => new Promise((resolve) => { wss.close(); server.close(resolve);
                                                   server.closeAllConnections(); }) };
}

async function wsClient(client, args) {
  return runProgram(client, args, { timeout: 30_000 });
}

async function clientChecks(results, dir, client) {
  const good = await nodeWssServer(dir, 'server');
  const wrong = await nodeWssServer(dir, 'wrong');
  const self = await nodeWssServer(dir, 'self');
  const ca = join(dir, 'ca.pem');
  try {
    await results.run('ws-client --ca-file: wss://localhost to a Node ws server, echo', async () => {
      const r = await wsClient(client, ['--ca-file', ca, '--send', 'hello over TLS é',
                                        `wss://localhost:${good.port}/tls`]);
      expect(r.status === 0 && r.stdout === 'hello over TLS é\n', `status ${r.status}, ` +
             `stdout ${JSON.stringify(r.stdout)}, stderr ${r.stderr}`);
    });
    await results.run('ws-client --ca-file: wss://127.0.0.1 (IP address in the certificate)', async () => {
      const big = 'x'.repeat(100_000);
      const r = await wsClient(client, ['--ca-file', ca, '--send', big,
                                        `wss://127.0.0.1:${good.port}/`]);
      expect(r.status === 0 && r.stdout === big + '\n', `status ${r.status}, stderr ${r.stderr}`);
    });
    await results.run('ws-client refuses a certificate for another host name', async () => {
      const r = await wsClient(client, ['--ca-file', ca, '--send', 'x',
                                        `wss://localhost:${wrong.port}/`]);
      expect(r.status === 1 && /not trusted: hostname mismatch/.test(r.stderr) &&
             r.stdout === '', `status ${r.status}, stderr ${r.stderr}`);
    });
    await results.run('ws-client refuses a self-signed certificate', async () => {
      const r = await wsClient(client, ['--ca-file', ca, '--send', 'x',
                                        `wss://localhost:${self.port}/`]);
      expect(r.status === 1 && /not trusted: self.signed certificate/.test(r.stderr) &&
             r.stdout === '', `status ${r.status}, stderr ${r.stderr}`);
    });
    await results.run('ws-client without --ca-file refuses the test CA (system trust only)', async () => {
      const r = await wsClient(client, ['--send', 'x', `wss://localhost:${good.port}/`]);
      expect(r.status === 1 && /not trusted/.test(r.stderr), `status ${r.status}, stderr ${r.stderr}`);
    });
    await results.run('ws-client --insecure connects to the self-signed server', async () => {
      const r = await wsClient(client, ['--insecure', '--send', 'anyway',
                                        `wss://localhost:${self.port}/`]);
      expect(r.status === 0 && r.stdout === 'anyway\n', `status ${r.status}, stderr ${r.stderr}`);
    });
  } finally {
    await Promise.all([good.close(), wrong.close(), self.close()]);
  }
}

function nodeClient(url, opts) {
  const { WebSocket } = requirePeer('ws');
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { handshakeTimeout: 10_000, perMessageDeflate: false, ...opts });
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

async function serverChecks(results, dir, server) {
  const name = basename(server);
  const echo = await new EchoServer(server, '--cert', join(dir, 'server.pem'),
                                    '--key', join(dir, 'server.key'), '--verbose').start();
  const url = `wss://localhost:${echo.port}`;
  try {
    await results.run(`Node ws client (trusting the CA): ${name} over wss echoes 1 MiB`, async () => {
      const ws = await nodeClient(url + '/node', { ca: readFileSync(join(dir, 'ca.pem')) });
      const data = Buffer.alloc(1 << 20, 7);
      for (const [msg, binary] of [[Buffer.from('hi é'), false], [data, true]]) {
        const got = new Promise((resolve) => ws.once('message', (d, b) => resolve([d, b])));
        ws.send(msg, { binary });
        const [d, b] = await withTimeout(got, 30_000, 'no echo');
        expect(b === binary && d.equals(msg), `echo of ${msg.length} bytes differs`);
      }
      const closed = new Promise((resolve) => ws.once('close', (code) => resolve(code)));
      ws.close(1000);
      expect(await withTimeout(closed, 10_000, 'no close') === 1000, 'close code');
    });
    await results.run(`Node ws client without the CA refuses ${name}'s certificate`, async () => {
      let err = null;
      try {
        (await nodeClient(url + '/x')).terminate();
      } catch (e) {
        err = e;
      }
      expect(err && /unable to verify the first certificate|unable to get local issuer/
        .test(err.message), `connected, or failed otherwise: ${err && err.message}`);
    });
    await browserCheck(results, dir, echo, name);
  } finally {
    const status = await echo.stop();
    results.check(`${name} --cert/--key exits 0 on SIGTERM`, status === 0, `status ${status}`);
  }
}

async function browserCheck(results, dir, echo, name) {
  let chromium;
  try {
    ({ chromium } = requirePeer('playwright-core'));
  } catch (e) {
    results.check('npm package playwright-core loads', false, e.message);
    return;
  }
  if (!results.check(`${CHROMIUM} is installed`, existsSync(CHROMIUM))) return;
  // A real trust path: the test CA in an NSS database under a temporary HOME, where
  // Chromium on Linux looks for the user's trusted roots (certutil, libnss3-tools).
  const home = join(dir, 'home');
  const db = `sql:${join(home, '.pki', 'nssdb')}`;
  try {
    execFileSync('mkdir', ['-p', join(home, '.pki', 'nssdb')]);
    execFileSync('certutil', ['-N', '-d', db, '--empty-password']);
    execFileSync('certutil', ['-A', '-d', db, '-n', 'libws test CA', '-t', 'C,,',
                              '-i', join(dir, 'ca.pem')]);
  } catch (e) {
    results.check('test CA added to an NSS database (certutil, libnss3-tools)', false, e.message);
    return;
  }
  const browser = await chromium.launch({
    executablePath: CHROMIUM, headless: true, timeout: 60_000, env: { ...process.env, HOME: home },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run',
           '--disable-background-networking', '--disable-component-update', '--no-proxy-server',
           '--disable-dev-shm-usage'],
  });
  // The page comes from 127.0.0.1 (Chromium keeps public pages away from local addresses).
  const web = await startStaticServer(HOST);
  try {
    const page = await (await browser.newContext()).newPage();
    await page.goto(`http://${HOST}:${web.port}/page.html?ws=none`);
    const r = await withTimeout(page.evaluate(async (url) => {
      const ws = new WebSocket(url);
      ws.binaryType = 'arraybuffer';
      const next = () => new Promise((resolve, reject) => {
        ws.onmessage = (e) => resolve(e.data);
        ws.onclose = (e) => reject(new Error(`closed ${e.code}`));
      });
      await new Promise((resolve, reject) => { ws.onopen = resolve; ws.onerror = () => reject(new Error('error event')); });
      const out = {};
      let p = next();
      ws.send('Chromium over wss é');
      out.text = await p;
      const bin = new Uint8Array(200000).map((_, i) => i * 7);
      p = next();
      ws.send(bin);
      const got = new Uint8Array(await p);
      out.binOk = got.length === bin.length && got.every((v, i) => v === bin[i]);
      out.close = await new Promise((resolve) => {
        ws.onclose = (e) => resolve({ code: e.code, wasClean: e.wasClean });
        ws.close(1000);
      });
      return out;
    }, `wss://localhost:${echo.port}/chromium`), 60_000, 'page did not finish');
    results.check(`Chromium ${browser.version()}: wss to ${name} echoes text and binary, ` +
                  'closes cleanly', r.text === 'Chromium over wss é' && r.binOk &&
                  r.close.code === 1000 && r.close.wasClean, JSON.stringify(r));
  } catch (e) {
    results.check(`Chromium: wss session with ${name}`, false, e.message);
  } finally {
    await withTimeout(browser.close(), 30_000, 'browser.close').catch(() => {});
    await web.close();
  }
}

main(async (results) => {
  const [server, client] = process.argv.slice(2);
  if (!results.check('usage: PATH/TO/echo-server PATH/TO/ws-client given', Boolean(client))) return;
  requirePeer('ws');
  const dir = mkdtempSync(join(tmpdir(), 'libws-tls-'));
  try {
    execFileSync('sh', [join(here, 'make-certs.sh'), dir], { stdio: 'inherit' });
    results.check('throwaway CA and certificates made with openssl', true);
    await clientChecks(results, dir, client);
    await serverChecks(results, dir, server);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
