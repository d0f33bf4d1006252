// Interop: a real browser against examples/chat-server and the page it serves at "/".
// Headless Chromium (Debian's /usr/bin/chromium, driven by playwright-core) opens the page
// as alice and as bob, each with a token minted by `chat-server --print-token`, and chats
// through the page's own form; a page with no token (or a forged one) must be refused.
//
// usage: node test_chat_browser.mjs PATH/TO/chat-server
// Prints one `ok - name` / `not ok - name` line per check, then `N passed, N failed`.
import { existsSync } from 'node:fs';
import { EchoServer, HOST, expect, main, requirePeer, runProgram, withTimeout } from
  '../node/harness.mjs';

const CHROMIUM = '/usr/bin/chromium';
// As in test_browser.mjs: headless, no sandbox (root), nothing that reaches beyond
// 127.0.0.1; playwright-core gives the browser a fresh temporary profile and removes it.
const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--disable-dev-shm-usage', '--no-proxy-server',
];
const SECRET = 'browser chat secret';
const WAIT = 10_000; // ms for the page to show one thing
const TOKEN_RE = /^[A-Za-z0-9_-]+\.\d+\.[A-Za-z0-9_-]+$/;
const REFUSED_LINE = '* connection failed or refused (origin? token?)';

async function mintToken(path, subject, secret) {
  const r = await runProgram(path, ['--print-token', subject, '--ttl', '600',
                                    '--token-secret', secret]);
  const token = r.stdout.trim();
  expect(r.status === 0 && TOKEN_RE.test(token),
         `exit ${r.status ?? r.signal}, printed '${token}', stderr '${r.stderr.trim()}'`);
  return token;
}

// The lines of the page's chat log, with their kind (notice, msg, mine).
const logOf = (page) => page.$$eval('#log li', (lis) =>
  lis.map((li) => ({ text: li.textContent, kind: li.className })));

const statusOf = (page) => page.$eval('#status', (s) => ({ text: s.textContent,
                                                          kind: s.className }));

// Waits until the page's log holds a line that is exactly `text` (of `kind` when given).
async function waitLine(page, text, kind = null) {
  try {
    await page.waitForFunction(([t, k]) => [...document.querySelectorAll('#log li')]
      .some((li) => li.textContent === t && (k === null || li.className === k)),
    [text, kind], { timeout: WAIT, polling: 50 });
  } catch (e) {
    throw new Error(`no line '${text}'${kind ? ` (${kind})` : ''} within ${WAIT} ms; ` +
                    `the page shows ${JSON.stringify(await logOf(page).catch(() => '?'))} ` +
                    `(${e.message.split('\n')[0]})`);
  }
}

// Waits until the page's status element reads `text` with class `kind`.
async function waitStatus(page, text, kind) {
  try {
    await page.waitForFunction(([t, k]) => {
      const s = document.getElementById('status');
      return s.textContent === t && s.className === k;
    }, [text, kind], { timeout: WAIT, polling: 50 });
  } catch (e) {
    throw new Error(`status is ${JSON.stringify(await statusOf(page).catch(() => '?'))}, ` +
                    `not '${text}' (${kind}) after ${WAIT} ms; the log shows ` +
                    `${JSON.stringify(await logOf(page).catch(() => '?'))}`);
  }
}

// Chromium asks every origin for /favicon.ico by itself and logs the server's 404 as an
// error; that request is the browser's, not the page's, so it is the one error let through.
function isFaviconMiss(m) {
  const url = m.location().url;
  return m.text().startsWith('Failed to load resource') && Boolean(url) &&
         new URL(url).pathname === '/favicon.ico';
}

// One browser context (its own cookies and storage) with one page on the chat, recording
// its console errors, page errors, WebSocket URLs and any request that leaves 127.0.0.1.
async function openChat(browser, port, who, token) {
  const context = await browser.newContext();
  const page = await context.newPage();
  const chat = { who, context, page, errors: [], sockets: [], badRequests: [], response: null };
  page.on('pageerror', (e) => chat.errors.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' && !isFaviconMiss(m)) chat.errors.push(`console: ${m.text()}`);
  });
  context.on('request', (req) => {
    const u = new URL(req.url());
    if (u.protocol !== 'data:' && u.hostname !== HOST) chat.badRequests.push(req.url());
  });
  page.on('websocket', (ws) => {
    chat.sockets.push(ws.url());
    if (new URL(ws.url()).hostname !== HOST) chat.badRequests.push(ws.url());
  });
  const query = token === null ? '' : `?token=${encodeURIComponent(token)}`;
  chat.response = await page.goto(`http://${HOST}:${port}/${query}`, { timeout: 30_000 });
  return chat;
}

async function checkServed(results, chat) {
  const r = chat.response;
  const type = r ? r.headers()['content-type'] : undefined;
  const title = await chat.page.title();
  results.check(`${chat.who}: chat page served at / with 200, text/html`,
                r && r.status() === 200 && /^text\/html\b/.test(type ?? '') &&
                title === 'libws chat',
                `status ${r && r.status()}, content-type ${type}, title '${title}'`);
}

// Sends text through the page's form: Enter in the input, or a click on Send.
async function say(chat, text, how) {
  await chat.page.fill('#text', text);
  if (how === 'enter') await chat.page.press('#text', 'Enter');
  else await chat.page.click('#send', { timeout: WAIT });
  await waitLine(chat.page, `you: ${text}`, 'mine');
  const left = await chat.page.inputValue('#text');
  expect(left === '', `the input still holds '${left}' after sending`);
}

// A page whose WebSocket the server must refuse (401): it says so and is never welcomed.
async function checkRefused(results, chats, browser, port, who, token, what) {
  const chat = await openChat(browser, port, who, token);
  chats.push(chat);
  try {
    await checkServed(results, chat);
    await results.run(`${who}: page ${what} shows it was refused, status disconnected`,
                      async () => {
                        await waitStatus(chat.page, 'disconnected', 'closed');
                        await waitLine(chat.page, REFUSED_LINE, 'notice');
                      });
    const lines = await logOf(chat.page);
    results.check(`${who}: page ${what} never shows a welcome or any chat`,
                  lines.length === 1 && lines[0].text === REFUSED_LINE, JSON.stringify(lines));
    // Chromium words a 401 answer to a WebSocket handshake as an authentication failure.
    results.check(`${who}: the one console error is Chromium's: handshake refused with 401`,
                  chat.errors.length === 1 &&
                  /WebSocket connection to 'ws:\/\/127\.0\.0\.1:\d+\/chat/.test(chat.errors[0]) &&
                  /HTTP Authentication failed|\b401\b/.test(chat.errors[0]),
                  chat.errors.join('; ') || 'no console error at all');
  } finally {
    await chat.context.close();
  }
}

main(async (results) => {
  const path = process.argv[2];
  if (!results.check('usage: PATH/TO/chat-server given', Boolean(path))) return;
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

  const tokens = {};
  for (const [who, secret] of [['alice', SECRET], ['bob', SECRET], ['mallory', 'not it']]) {
    if (!await results.run(`chat-server --print-token ${who} prints a token`, async () => {
      tokens[who] = await mintToken(path, who, secret);
    })) return;
  }

  // The harness's EchoServer starts any example that prints `listening on HOST:PORT`.
  const server = await new EchoServer(path, '--token-secret', SECRET).start();
  const port = server.port;
  let again = null; // the server started anew on the same port, for the page to come back to
  let browser = null;
  const chats = [];
  try {
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true,
                                      args: CHROMIUM_ARGS, timeout: 60_000 });
    results.check(`Chromium ${browser.version()} started headless`, true);

    const alice = await openChat(browser, port, 'alice', tokens.alice);
    chats.push(alice);
    await checkServed(results, alice);
    if (!await results.run('alice: page shows connected and the welcome', async () => {
      await waitStatus(alice.page, 'connected', 'open');
      await waitLine(alice.page, '* welcome, alice (1 online)', 'notice');
    })) return;
    results.check('alice: the page passed its token on to ws://HOST:PORT/chat?token=',
                  alice.sockets.length === 1 && alice.sockets[0] ===
                  `ws://${HOST}:${port}/chat?token=${encodeURIComponent(tokens.alice)}`,
                  JSON.stringify(alice.sockets));

    const bob = await openChat(browser, port, 'bob', tokens.bob);
    chats.push(bob);
    await checkServed(results, bob);
    if (!await results.run('bob: page shows connected and the welcome', async () => {
      await waitStatus(bob.page, 'connected', 'open');
      await waitLine(bob.page, '* welcome, bob (2 online)', 'notice');
    })) return;
    await results.run('alice: page shows that bob joined', () =>
      waitLine(alice.page, '* bob joined', 'notice'));

    const hello = 'hello bob, é€𝄞 from Chromium';
    await results.run('alice: message typed and sent with Enter', () =>
      say(alice, hello, 'enter'));
    await results.run('bob: page shows alice\'s message prefixed "alice: "', () =>
      waitLine(bob.page, `alice: ${hello}`, 'msg'));
    const reply = 'hi alice <b>not bold</b>';
    await results.run('bob: reply typed and sent with the Send button', () =>
      say(bob, reply, 'click'));
    await results.run('alice: page shows bob\'s reply prefixed "bob: "', () =>
      waitLine(alice.page, `bob: ${reply}`, 'msg'));
    // Bob's reply came after anything the server could have sent alice about her own line.
    const aliceLines = await logOf(alice.page);
    results.check('alice: her own message never came back to her',
                  !aliceLines.some((l) => l.text.startsWith('alice: ')),
                  JSON.stringify(aliceLines));
    results.check('both pages show chat lines as text (no markup rendered)',
                  await bob.page.$$eval('#log li b', (b) => b.length) === 0 &&
                  await alice.page.$$eval('#log li b', (b) => b.length) === 0);

    await bob.page.close();
    await results.run('alice: page shows that bob left when his page closed', () =>
      waitLine(alice.page, '* bob left', 'notice'));
    results.check('chat-server logged alice and bob joining and bob leaving',
                  [/\] alice joined\n/, /\] bob joined\n/, /\] bob left \(/]
                    .every((re) => re.test(server.stderr)), server.stderr);

    await checkRefused(results, chats, browser, port, 'no token', null,
                       'opened without a token');
    await checkRefused(results, chats, browser, port, 'forged token', tokens.mallory,
                       'with a token signed by another secret');
    results.check('chat-server answered both refused pages 401 and let no guest in',
                  (server.stderr.match(/\] answered HTTP 401\b/g) || []).length === 2 &&
                  !/guest-|mallory/.test(server.stderr), server.stderr);
    await results.run('alice: page still connected, not told about the refused pages',
                      async () => {
                        await waitStatus(alice.page, 'connected', 'open');
                        const lines = (await logOf(alice.page)).map((l) => l.text);
                        expect(lines.length === 5 && lines[4] === '* bob left',
                               `the page shows ${JSON.stringify(lines)}`);
                      });

    await results.run('alice: "/join side" through the page: joined, and the header lists it',
                      async () => {
                        await say(alice, '/join side', 'enter');
                        await waitLine(alice.page, '* joined side (1 here)', 'notice');
                        const rooms = await alice.page.$eval('#rooms', (e) => e.textContent);
                        expect(rooms === 'rooms: side', `the header says '${rooms}'`);
                      });

    // SIGTERM with alice still in: the server says goodbye (1001) and exits cleanly.
    // Errors are counted up to here: after the 1001 the page keeps trying to reconnect to
    // the stopped server, and Chromium logs each refused attempt.
    const errorsBefore = [alice, bob].map((c) => [...c.errors]);
    const stopping = server.stop();
    await results.run('alice: page shows the server\'s close 1001 on shutdown', async () => {
      await waitStatus(alice.page, 'disconnected', 'closed');
      await waitLine(alice.page, '* closed, code 1001: server shutting down', 'notice');
    });
    const code = await stopping;
    results.check('chat-server exited 0 on SIGTERM', code === 0, `exit ${code}`);
    await results.run('alice: page reconnects by itself after the 1001, with a backoff shown',
                      async () => {
                        await alice.page.waitForFunction(() => /^reconnecting in [0-9.]+ s \(attempt [0-9]+\)$/
                          .test(document.getElementById('retry').textContent),
                        null, { timeout: WAIT, polling: 50 });
                      });
    await results.run('alice: with a server back on the port, the page reconnects and joins ' +
                      'room side again by itself', async () => {
      again = await new EchoServer(path, '--token-secret', SECRET, '--port', String(port))
        .start();
      await waitStatus(alice.page, 'connected', 'open');
      await alice.page.waitForFunction(() => [...document.querySelectorAll('#log li')]
        .filter((li) => li.textContent === '* joined side (1 here)').length === 2,
      null, { timeout: WAIT, polling: 50 });
      const retry = await alice.page.$eval('#retry', (e) => e.textContent);
      expect(retry === '', `the retry line still says '${retry}'`);
    });

    for (const [i, c] of [alice, bob].entries()) {
      results.check(`${c.who}: no script or console errors`, errorsBefore[i].length === 0,
                    errorsBefore[i].join('; '));
    }
    const bad = chats.flatMap((c) => c.badRequests);
    results.check('browser contacted nothing but 127.0.0.1', bad.length === 0, bad.join(' '));
  } finally {
    for (const c of chats) {
      await withTimeout(c.context.close(), 30_000, 'context.close').catch(() => {});
    }
    if (browser) await withTimeout(browser.close(), 30_000, 'browser.close').catch(() => {});
    await server.close();
    if (again) await again.close();
  }
});
