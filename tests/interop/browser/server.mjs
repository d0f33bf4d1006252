// A tiny static file server for the browser interop test: serves the files of this folder
// that are listed below, on 127.0.0.1 and a port the kernel picks, and nothing else.
// Used in-process by test_browser.mjs; `node server.mjs` runs it alone for debugging and
// prints `listening on 127.0.0.1:PORT`.
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import { fileURLToPath } from 'node:url';

const FILES = { '/page.html': 'text/html; charset=utf-8' };

export async function startStaticServer(host = '127.0.0.1') {
  const server = http.createServer(async (req, res) => {
    const path = new URL(req.url, 'http://x').pathname;
    const type = FILES[path];
    if (req.method !== 'GET' || type === undefined) {
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found\n');
      return;
    }
    try {
      const body = await readFile(new URL(`.${path}`, import.meta.url));
      res.writeHead(200, { 'Content-Type': type, 'Cache-Control': 'no-store' }).end(body);
    } catch (e) {
      res.writeHead(500, { 'Content-Type': 'text/plain' }).end(`${e.message}\n`);
    }
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, resolve);
  });
  return {
    port: server.address().port,
    close: () => new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const s = await startStaticServer();
  console.log(`listening on 127.0.0.1:${s.port}`);
}
