// Shared parts of the Node interop tests: ok/not ok reporting with a time limit on every
// check, loading the npm peers from this folder (loudly when missing), starting the example
// echo server, running a program to completion, and a raw WebSocket frame codec.
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import net from 'node:net';

export const HOST = '127.0.0.1';
export const STEP_TIMEOUT = 60_000; // ms for one check
export const START_TIMEOUT = 10_000; // ms for a program to start or stop
const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
const INSTALL_HINT = 'run tests/interop/install-peers.sh';

// Counts checks and prints one `ok - name` / `not ok - name  # detail` line per check.
export class Results {
  constructor() {
    this.passed = 0;
    this.failed = 0;
  }

  check(name, cond, detail = '') {
    if (cond) {
      this.passed++;
      console.log(`ok - ${name}`);
    } else {
      this.failed++;
      console.log(`not ok - ${name}` + (detail ? `  # ${oneLine(detail)}` : ''));
    }
    return cond;
  }

  // Runs one check: it passes when fn() settles in time without throwing.
  async run(name, fn, timeout = STEP_TIMEOUT) {
    try {
      await withTimeout(fn(), timeout, `timed out after ${timeout / 1000} s`);
    } catch (e) {
      return this.check(name, false, describeError(e));
    }
    return this.check(name, true);
  }

  finish() {
    console.log(`${this.passed} passed, ${this.failed} failed`);
    return this.failed || !this.passed ? 1 : 0;
  }
}

function oneLine(s) {
  const t = String(s).replace(/\s+/g, ' ');
  return t.length > 600 ? t.slice(0, 600) + '...' : t;
}

function describeError(e) {
  return e instanceof Error ? `${e.name}: ${e.message}` : String(e);
}

export function expect(cond, what) {
  if (!cond) throw new Error(what);
}

export function withTimeout(promise, ms, what) {
  let timer;
  const limit = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(what)), ms);
  });
  return Promise.race([promise, limit]).finally(() => clearTimeout(timer));
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// Loads an npm package from tests/interop/node/node_modules whatever the caller's folder.
const requireHere = createRequire(new URL('./package.json', import.meta.url));
export function requirePeer(name) {
  try {
    return requireHere(name);
  } catch (e) {
    throw new Error(`npm package '${name}' is missing from tests/interop/node/node_modules ` +
                    `(${INSTALL_HINT}): ${e.message}`);
  }
}

// Runs main(results) and exits with the status; a peer that cannot load, or anything else
// the script did not expect, is one failed check rather than a silent skip.
const children = new Set(); // every program started, killed if still running at exit

export function main(fn) {
  const results = new Results();
  process.on('exit', () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  });
  for (const sig of ['SIGTERM', 'SIGINT']) {
    process.on(sig, () => {
      results.check('test script ran to the end', false, `got ${sig}`);
      process.exit(results.finish());
    });
  }
  fn(results)
    .catch((e) => results.check('test script ran to the end', false, describeError(e)))
    .finally(() => {
      process.exitCode = results.finish();
      // Sockets left open by a failed check must not keep the process alive.
      setTimeout(() => process.exit(process.exitCode), 200).unref();
    });
}

export function spawnTracked(cmd, args, opts) {
  const child = spawn(cmd, args, opts);
  children.add(child);
  child.on('exit', () => children.delete(child));
  return child;
}

function exited(child) {
  if (child.exitCode !== null || child.signalCode !== null)
    return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  return new Promise((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })));
}

// The example echo server on 127.0.0.1 and a port the kernel picked.
export class EchoServer {
  constructor(path, ...args) {
    this.path = path;
    this.args = args;
    this.stderr = '';
  }

  async start() {
    const proc = spawnTracked(this.path, ['--host', HOST, '--port', '0', ...this.args],
                              { stdio: ['ignore', 'pipe', 'pipe'] });
    this.proc = proc;
    proc.stderr.setEncoding('utf8');
    proc.stderr.on('data', (d) => {
      if (this.stderr.length < 1 << 20) this.stderr += d;
    });
    const line = await withTimeout(new Promise((resolve, reject) => {
      let buf = '';
      proc.on('error', reject);
      proc.on('exit', (code, sig) => reject(new Error(
        `echo-server exited (${code ?? sig}) before listening: ${this.stderr.trim()}`)));
      proc.stdout.setEncoding('utf8');
      proc.stdout.on('data', (d) => {
        buf += d;
        const nl = buf.indexOf('\n');
        if (nl >= 0) resolve(buf.slice(0, nl));
      });
    }), START_TIMEOUT, 'echo-server did not print its address').catch(async (e) => {
      await this.close();
      throw e;
    });
    const m = /^listening on 127\.0\.0\.1:(\d+)$/.exec(line.trim());
    if (!m) {
      await this.close();
      throw new Error(`echo-server printed '${line}', not 'listening on HOST:PORT'`);
    }
    this.port = Number(m[1]);
    return this;
  }

  get url() {
    return `ws://${HOST}:${this.port}`;
  }

  // SIGTERM, then the exit status (null when it had to be killed).
  async stop() {
    const done = exited(this.proc);
    this.proc.kill('SIGTERM');
    try {
      const { code } = await withTimeout(done, START_TIMEOUT, 'no exit');
      return code;
    } catch {
      await this.close();
      return null;
    }
  }

  // Kills the server if it still runs (for finally blocks).
  async close() {
    if (this.proc && this.proc.exitCode === null && this.proc.signalCode === null) {
      const done = exited(this.proc);
      this.proc.kill('SIGKILL');
      await done;
    }
  }
}

// Runs a program to completion: { status, stdout, stderr } (text). Killed, and an error
// thrown, when it takes longer than timeout ms.
export async function runProgram(cmd, args, { timeout = STEP_TIMEOUT, input } = {}) {
  const child = spawnTracked(cmd, args, { stdio: [input === undefined ? 'ignore' : 'pipe',
                                                  'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d) => { stdout += d; });
  child.stderr.setEncoding('utf8').on('data', (d) => { stderr += d; });
  if (input !== undefined) child.stdin.end(input);
  const done = new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ status: code, signal, stdout, stderr }));
  });
  try {
    return await withTimeout(done, timeout, `${cmd} still running after ${timeout / 1000} s`);
  } catch (e) {
    child.kill('SIGKILL');
    throw e;
  }
}

// ---- Deterministic test data --------------------------------------------------------

// n bytes of ASCII text (a Buffer), cheap to build for 16 MiB.
export function textOf(n, phrase = 'The quick brown fox jumps over the lazy dog. ') {
  return Buffer.alloc(n, phrase, 'utf8');
}

// Text whose UTF-8 holds 2-, 3- and 4-byte sequences; exactly n bytes, whole characters.
export function utf8TextOf(n) {
  const unit = Buffer.from('é€𝄞 ж', 'utf8'); // 2 + 3 + 4 + 1 + 2 = 12 bytes
  const whole = Buffer.alloc(n - (n % unit.length), unit);
  return Buffer.concat([whole, Buffer.alloc(n % unit.length, 'a')]);
}

export function binaryOf(n) {
  return randomBytes(n);
}

export function describe(buf, isBinary) {
  return `${isBinary ? 'binary' : 'text'} of ${buf.length} bytes`;
}

// ---- Raw frames (for what a conforming library refuses to send) ----------------------

export const OP = { CONT: 0x0, TEXT: 0x1, BINARY: 0x2, CLOSE: 0x8, PING: 0x9, PONG: 0xa };

// Builds a frame. length overrides the encoded payload length (for lying headers);
// lengthBytes forces the 7-bit, 16-bit or 64-bit form (2, 4, 10 header bytes).
export function frame(opcode, payload = Buffer.alloc(0), opts = {}) {
  const { fin = true, rsv = 0, masked = true, length = payload.length, lengthForm } = opts;
  const head = [(fin ? 0x80 : 0) | (rsv << 4) | opcode];
  const form = lengthForm ?? (length < 126 ? 7 : length < 65536 ? 16 : 64);
  const maskBit = masked ? 0x80 : 0;
  if (form === 7) {
    head.push(maskBit | length);
  } else if (form === 16) {
    head.push(maskBit | 126, (length >> 8) & 0xff, length & 0xff);
  } else {
    const big = BigInt(length);
    head.push(maskBit | 127);
    for (let i = 7; i >= 0; i--) head.push(Number((big >> BigInt(i * 8)) & 0xffn));
  }
  if (!masked) return Buffer.concat([Buffer.from(head), payload]);
  const key = randomBytes(4);
  const body = Buffer.from(payload);
  for (let i = 0; i < body.length; i++) body[i] ^= key[i & 3];
  return Buffer.concat([Buffer.from(head), key, body]);
}

export function closePayload(code, reason = '') {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(code);
  return Buffer.concat([b, Buffer.isBuffer(reason) ? reason : Buffer.from(reason, 'utf8')]);
}

// Parses complete frames from the front of buf; returns { frames, rest }. Masked payloads
// are unmasked; each frame records whether it was masked.
export function parseFrames(buf) {
  const frames = [];
  let off = 0;
  for (;;) {
    if (buf.length - off < 2) break;
    const b0 = buf[off];
    const b1 = buf[off + 1];
    let len = b1 & 0x7f;
    let pos = off + 2;
    if (len === 126) {
      if (buf.length - pos < 2) break;
      len = buf.readUInt16BE(pos);
      pos += 2;
    } else if (len === 127) {
      if (buf.length - pos < 8) break;
      len = Number(buf.readBigUInt64BE(pos));
      pos += 8;
    }
    const masked = (b1 & 0x80) !== 0;
    let key = null;
    if (masked) {
      if (buf.length - pos < 4) break;
      key = buf.subarray(pos, pos + 4);
      pos += 4;
    }
    if (buf.length - pos < len) break;
    const payload = Buffer.from(buf.subarray(pos, pos + len));
    if (key) for (let i = 0; i < payload.length; i++) payload[i] ^= key[i & 3];
    frames.push({ fin: (b0 & 0x80) !== 0, rsv: (b0 >> 4) & 7, opcode: b0 & 0x0f, masked,
                  payload });
    off = pos + len;
  }
  return { frames, rest: buf.subarray(off) };
}

export function acceptFor(key) {
  return createHash('sha1').update(key + GUID).digest('base64');
}

// Reads a socket: whole frames after an HTTP head, and the moment the peer ends.
export class FrameReader {
  constructor(sock, { head = true } = {}) {
    this.sock = sock;
    this.buf = Buffer.alloc(0);
    this.head = null;
    this.needHead = head;
    this.frames = [];
    this.ended = false;
    this.error = null;
    this.waiters = [];
    sock.on('data', (d) => {
      this.buf = Buffer.concat([this.buf, d]);
      this.parse();
    });
    sock.on('end', () => { this.ended = true; this.wake(); });
    sock.on('close', () => { this.ended = true; this.wake(); });
    sock.on('error', (e) => { this.error = e; this.ended = true; this.wake(); });
  }

  parse() {
    if (this.needHead && this.head === null) {
      const end = this.buf.indexOf('\r\n\r\n');
      if (end < 0) return this.wake();
      this.head = this.buf.subarray(0, end).toString('latin1');
      this.buf = this.buf.subarray(end + 4);
    }
    const { frames, rest } = parseFrames(this.buf);
    this.frames.push(...frames);
    this.buf = rest;
    this.wake();
  }

  wake() {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  // Resolves once pred() is true; rejects after ms.
  async until(pred, ms, what) {
    const start = Date.now();
    while (!pred()) {
      const left = ms - (Date.now() - start);
      if (left <= 0) throw new Error(`timed out waiting for ${what}`);
      await new Promise((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => { clearTimeout(t); resolve(); });
      });
    }
  }

  async headLine(ms = 10_000) {
    await this.until(() => this.head !== null || this.ended, ms, 'the HTTP response head');
    if (this.head === null) throw new Error('connection ended before an HTTP response head');
    return this.head;
  }

  // The next frame of the given opcode (others are skipped), or null when the peer ended first.
  async next(opcode, ms = 10_000) {
    let found = null;
    await this.until(() => {
      const i = this.frames.findIndex((f) => f.opcode === opcode);
      if (i >= 0) found = this.frames.splice(i, 1)[0];
      return found !== null || this.ended;
    }, ms, `a frame with opcode ${opcode}`);
    return found;
  }

  // The next data message, its fragments joined: { opcode, payload, frames }, or null when
  // the peer ended first. Control frames in between are left in this.frames.
  async message(ms = 10_000) {
    let found = null;
    await this.until(() => {
      const data = this.frames.filter((f) => f.opcode <= OP.BINARY);
      const last = data.findIndex((f) => f.fin);
      if (last >= 0) {
        const parts = data.slice(0, last + 1);
        this.frames = this.frames.filter((f) => !parts.includes(f));
        found = { opcode: parts[0].opcode, payload: Buffer.concat(parts.map((f) => f.payload)),
                  frames: parts };
      }
      return found !== null || this.ended;
    }, ms, 'a data message');
    if (found && (found.opcode === OP.CONT ||
                  found.frames.slice(1).some((f) => f.opcode !== OP.CONT))) {
      throw new Error('peer sent a badly fragmented message: opcodes ' +
                      found.frames.map((f) => f.opcode).join(','));
    }
    return found;
  }

  async end(ms = 10_000) {
    await this.until(() => this.ended, ms, 'the peer to close the TCP connection');
  }
}

export function connectRaw(port) {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host: HOST, port }, () => resolve(sock));
    sock.once('error', reject);
  });
}

// Status code and lower-cased headers of an HTTP response head.
export function parseHead(head) {
  const lines = head.split('\r\n');
  const m = /^HTTP\/1\.1 (\d{3})/.exec(lines[0]);
  const headers = {};
  for (const l of lines.slice(1)) {
    const i = l.indexOf(':');
    if (i > 0) headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
  }
  return { status: m ? Number(m[1]) : null, headers, first: lines[0] };
}
