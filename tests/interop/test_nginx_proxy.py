"""Interop: the reverse-proxy snippet of docs/keepalive.md, run in a real nginx in front of
examples/chat-server, with Python websockets clients going through nginx.

usage: /usr/bin/python3 test_nginx_proxy.py PATH/TO/chat-server
Prints one `ok - name` / `not ok - name` line per check, then `N passed, N failed`.
nginx.conf.in (next to this file) is a whole nginx.conf around the doc's snippet; it is checked
against the doc, checked with `nginx -t`, then run with short proxy timeouts to show the doc's
rule both ways: server pings more often than proxy_read_timeout keep an idle client connected,
rarer pings let nginx cut it off. nginx comes from PATH or /usr/sbin (install-peers.sh installs
it); a missing nginx fails the test, it never skips.

Origins: the snippet passes the client's Host, port included (`Host $http_host`), so behind
nginx on 127.0.0.1:PORT chat-server's default same-origin rule accepts the page's own origin
http://127.0.0.1:PORT with no --allow-origin (checked below). The other servers here also get
`--allow-origin http://127.0.0.1:PORT`, which changes nothing for them.
"""
import asyncio
import os
import re
import shutil
import signal
import socket
import sys
import tempfile
import time

import harness
from harness import HOST, expect, run_program

import websockets

HERE = os.path.dirname(os.path.abspath(__file__))
TEMPLATE = os.path.join(HERE, "nginx.conf.in")
DOC = os.path.normpath(os.path.join(HERE, "..", "..", "docs", "keepalive.md"))
PROXY_TIMEOUT = 2  # seconds: proxy_read_timeout and proxy_send_timeout in the rendered config
WAIT = 5  # seconds for any one message, answer or close
IDLE = 5  # seconds a client stays quiet in the keepalive checks


def find_nginx():
    """$NGINX, else nginx on PATH, else Debian's /usr/sbin/nginx (not on a user's PATH)."""
    for candidate in (os.environ.get("NGINX"), shutil.which("nginx"), "/usr/sbin/nginx"):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


def reserve_port():
    """A socket bound to a port nothing else holds. While it stays open (no SO_REUSEADDR) the
    kernel gives that port to no other bind, the chat-server's port 0 included; it is closed just
    before nginx binds the port, and start() retries when someone else was faster even so."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind((HOST, 0))
    return s


def tail(path, n=600):
    try:
        with open(path, errors="replace") as f:
            return f.read()[-n:]
    except OSError:
        return ""


class ChatServer(harness.ServerProcess):
    """examples/chat-server behind nginx; its log is kept, and it is stopped gracefully."""

    name = "chat-server"
    capture_log = True

    async def close(self):
        await self.stop()


def render(directory, nginx_port, chat_port):
    """Writes nginx.conf.in with its @NAMES@ filled in to directory/nginx.conf."""
    with open(TEMPLATE) as f:
        text = f.read()
    values = {"DIR": directory, "NGINX_PORT": str(nginx_port), "CHAT_PORT": str(chat_port),
              "PROXY_TIMEOUT": f"{PROXY_TIMEOUT}s"}
    for name, value in values.items():
        text = text.replace(f"@{name}@", value)
    left = re.findall(r"@[A-Z_]+@", text)
    if left:
        raise RuntimeError(f"nginx.conf.in has unknown placeholders {left}")
    conf = os.path.join(directory, "nginx.conf")
    with open(conf, "w") as f:
        f.write(text)
    return conf


def make_dir():
    d = tempfile.mkdtemp(prefix="libws-nginx-")
    # Started as root, nginx runs its worker as an unprivileged user, which must reach the
    # temp paths inside (nginx creates and chowns those itself).
    os.chmod(d, 0o755)
    return d


def nginx_args(binary, directory, conf):
    # -e: the error log before the config is read (else /var/log/nginx, unwritable as a user).
    return [binary, "-p", directory + "/", "-e", os.path.join(directory, "error.log"), "-c", conf]


class Nginx:
    """nginx in the foreground with the rendered config, on 127.0.0.1:port, in front of
    127.0.0.1:chat_port. Its own session, so a worker cannot outlive a killed master."""

    def __init__(self, binary, port, chat_port):
        self.binary = binary
        self.port = port
        self.chat_port = chat_port
        self.proc = None
        self.dir = make_dir()
        try:
            self.conf = render(self.dir, port, chat_port)
        except BaseException:
            shutil.rmtree(self.dir, ignore_errors=True)
            raise

    def error_log(self):
        return tail(os.path.join(self.dir, "error.log"), 100000)

    async def start(self):
        """True once nginx accepts connections; False when the port was taken meanwhile."""
        with open(os.path.join(self.dir, "output.log"), "wb") as out:
            self.proc = await asyncio.create_subprocess_exec(
                *nginx_args(self.binary, self.dir, self.conf), stdin=asyncio.subprocess.DEVNULL,
                stdout=out, stderr=out, start_new_session=True)
        deadline = time.monotonic() + harness.START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.returncode is not None:
                log = self.error_log() + tail(os.path.join(self.dir, "output.log"))
                if "Address already in use" in log:
                    return False
                raise RuntimeError(f"nginx exited with {self.proc.returncode}: {log[-600:]!r}")
            if await self.answers():
                return True
            await asyncio.sleep(0.05)
        raise RuntimeError(f"nginx not listening on port {self.port} after "
                           f"{harness.START_TIMEOUT} s: {self.error_log()[-600:]!r}")

    async def answers(self):
        """True when this nginx answers on its port: /whoami returns its own directory. A bare
        connect is not enough, as another test's server may hold the port while this nginx is
        still failing to bind it; the clients would then bypass the proxy altogether."""
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(HOST, self.port), 1)
        except (OSError, asyncio.TimeoutError):
            return False
        try:
            writer.write(f"GET /whoami HTTP/1.1\r\nHost: {HOST}:{self.port}\r\n"
                         "Connection: close\r\n\r\n".encode())
            reply = await asyncio.wait_for(reader.read(), 1)
        except (OSError, asyncio.TimeoutError):
            return False
        finally:
            writer.close()
        return reply.startswith(b"HTTP/1.1 200 ") and reply.endswith(self.dir.encode())

    def kill_now(self):
        """SIGKILL to nginx's whole session, without waiting."""
        if self.proc is not None and self.proc.returncode is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    async def close(self):
        """Fast shutdown (SIGTERM), else SIGKILL to its whole session; then its files go."""
        if self.proc is not None and self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.proc.wait(), harness.START_TIMEOUT)
            except asyncio.TimeoutError:
                self.kill_now()
                await self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)

    def url(self, path="/chat"):
        return f"ws://{HOST}:{self.port}{path}"

    @property
    def origin(self):
        """The origin of the page nginx serves: what a browser would send."""
        return f"http://{HOST}:{self.port}"


async def start_pair(nginx, chat_path, running, *chat_args, allow_own_origin=True):
    """chat-server with chat_args behind a fresh nginx; both are appended to running (so the
    caller stops them). A few tries, in case nginx's port is taken before nginx binds it."""
    for _ in range(3):
        with reserve_port() as reserved:
            port = reserved.getsockname()[1]
            args = list(chat_args)
            if allow_own_origin:
                args += ["--allow-origin", f"http://{HOST}:{port}"]
            chat = await ChatServer(chat_path, *args).start()
            running.append(chat)
        proxy = Nginx(nginx, port, chat.port)
        running.append(proxy)
        if await proxy.start():
            return chat, proxy
    raise RuntimeError("nginx found its port taken three times")


def connect(proxy, origin=None):
    # ping_interval=None: the client sends no pings of its own (it still answers the server's),
    # so the server's pings are the only traffic on an idle connection.
    return websockets.connect(proxy.url(), origin=origin or proxy.origin, ping_interval=None,
                              open_timeout=WAIT, close_timeout=WAIT)


async def welcome_name(ws):
    msg = await asyncio.wait_for(ws.recv(), WAIT)
    m = re.match(r"\* welcome, (.+) \(\d+ online\)$", msg)
    expect(m is not None, f"first message {msg!r} is not the welcome")
    return m.group(1)


async def recv_chat(ws, timeout=WAIT):
    """The next chat line, skipping "* ..." notices."""
    deadline = time.monotonic() + timeout
    while True:
        msg = await asyncio.wait_for(ws.recv(), max(0.01, deadline - time.monotonic()))
        expect(isinstance(msg, str), f"got a binary message of {len(msg)} bytes")
        if not msg.startswith("* "):
            return msg


# ---- the config --------------------------------------------------------------------------

def snippet_blocks(text):
    """The `map $http_upgrade` block and the `location /chat` block of nginx config text, one
    list of lines each, runs of blanks squeezed (indentation and comment columns differ), the
    upstream port and the timeout values replaced by PORT and TIME."""
    lines = [" ".join(line.split()) for line in text.splitlines()]
    lines = [re.sub(r"^(proxy_pass http://127\.0\.0\.1:)[^;]+;", r"\1PORT;", line)
             for line in lines]
    lines = [re.sub(r"^(proxy_(?:read|send)_timeout )[^;]+;", r"\1TIME;", line) for line in lines]
    blocks = []
    for opener in ("map $http_upgrade $connection_upgrade {", "location /chat {"):
        expect(lines.count(opener) == 1, f"{lines.count(opener)} lines {opener!r}")
        depth, block = 0, []
        for line in lines[lines.index(opener):]:
            block.append(line)
            depth += line.count("{") - line.count("}")
            if depth == 0:
                break
        blocks.append(block)
    return blocks


def doc_snippet():
    with open(DOC) as f:
        doc = f.read()
    found = re.findall(r"^```nginx\n(.*?)^```", doc, re.S | re.M)
    expect(len(found) == 1, f"{DOC} has {len(found)} ```nginx blocks, expected 1")
    return found[0]


async def template_is_doc_snippet():
    with open(TEMPLATE) as f:
        ours = snippet_blocks(f.read())
    theirs = snippet_blocks(doc_snippet())
    for mine, doc in zip(ours, theirs):
        for i in range(max(len(mine), len(doc))):
            a = mine[i] if i < len(mine) else "(nothing)"
            b = doc[i] if i < len(doc) else "(nothing)"
            expect(a == b, f"nginx.conf.in has {a!r} where docs/keepalive.md has {b!r}")


async def syntax_ok(nginx):
    d = make_dir()
    try:
        with reserve_port() as reserved:
            conf = render(d, reserved.getsockname()[1], 9002)
        status, out, err = await run_program(nginx_args(nginx, d, conf) + ["-t"])
        text = out + err
        expect(status == 0, f"nginx -t exited with {status}: {text.strip()[-600:]!r}")
        expect("syntax is ok" in text, f"nginx -t said {text.strip()!r}")
    finally:
        shutil.rmtree(d, ignore_errors=True)


# ---- through nginx -------------------------------------------------------------------------

async def page(proxy):
    reader, writer = await asyncio.open_connection(HOST, proxy.port)
    try:
        # Connection: close, or nginx would keep the connection open for the next request.
        writer.write(f"GET / HTTP/1.1\r\nHost: {HOST}:{proxy.port}\r\n"
                     "Connection: close\r\n\r\n".encode())
        await writer.drain()
        data = await asyncio.wait_for(reader.read(), WAIT)
    finally:
        writer.close()
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    expect(lines[0].startswith("HTTP/1.1 200 "), f"answered {lines[0]!r}")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    expect(headers.get("content-type", "").startswith("text/html"),
           f"Content-Type {headers.get('content-type')!r}")
    if "content-length" in headers:
        expect(int(headers["content-length"]) == len(body),
               f"Content-Length {headers['content-length']} for {len(body)} bytes")
    expect(b"WebSocket" in body and b"/chat" in body, "not the chat page")


async def chat_through(proxy):
    async with connect(proxy) as a, connect(proxy) as b:
        expect(a.response_headers.get("Upgrade", "").lower() == "websocket",
               f"101 with Upgrade {a.response_headers.get('Upgrade')!r}")
        na, nb = await welcome_name(a), await welcome_name(b)
        await a.send("hello through nginx")
        got = await recv_chat(b)
        expect(got == f"{na}: hello through nginx", f"{nb} got {got!r}")
        await b.send("héllo back 𝄞")
        got = await recv_chat(a)
        expect(got == f"{nb}: héllo back 𝄞", f"{na} got {got!r}")


async def idle_stays(proxy):
    """Server pings every 500 ms, nginx times out after 2 s: nothing ends for IDLE s."""
    async with connect(proxy) as quiet, connect(proxy) as other:
        nq = await welcome_name(quiet)
        await welcome_name(other)
        await asyncio.sleep(IDLE)
        expect(quiet.open, f"the idle client was closed ({quiet.close_code})")
        expect(other.open, f"the other client was closed ({other.close_code})")
        await quiet.send(f"still here after {IDLE} s")
        got = await recv_chat(other)
        expect(got == f"{nq}: still here after {IDLE} s", f"got {got!r}")
    log = proxy.error_log()
    expect("timed out" not in log, f"nginx logged a timeout: {log[-300:]!r}")


async def idle_dropped(proxy, chat):
    """Server pings every 60 s, nginx times out after 2 s: nginx ends the connection."""
    # From before the connect: nginx's timer starts when it reads the welcome, which may be
    # well before this process gets it on a loaded machine.
    start = time.monotonic()
    async with connect(proxy) as ws:
        await welcome_name(ws)
        try:
            await asyncio.wait_for(ws.wait_closed(), WAIT)
        except asyncio.TimeoutError:
            raise AssertionError(f"still open after {WAIT} s") from None
        elapsed = time.monotonic() - start
    expect(elapsed >= PROXY_TIMEOUT - 0.5,
           f"closed after {elapsed:.2f} s, before proxy_read_timeout ({PROXY_TIMEOUT} s)")
    # 1006: the TCP connection ended without a close frame, so neither chat-server (it
    # would send 1001) nor the client ended it.
    expect(ws.close_code == 1006, f"close code {ws.close_code}, expected 1006 (no close frame)")
    log = proxy.error_log()
    expect("upstream timed out" in log, f"nginx logged no upstream timeout: {log[-300:]!r}")
    deadline = time.monotonic() + WAIT
    while " left (" not in chat.log_text():  # the server sees its end of stream too
        expect(time.monotonic() < deadline, f"chat-server never saw the client leave: "
               f"{chat.log_text()[-300:]!r}")
        await asyncio.sleep(0.05)


async def own_origin_allowed(proxy):
    try:
        async with connect(proxy, origin=proxy.origin) as ws:
            welcome = await asyncio.wait_for(ws.recv(), harness.STEP_TIMEOUT)
    except websockets.exceptions.InvalidStatusCode as e:
        raise AssertionError(f"Origin {proxy.origin} answered {e.status_code}: does the "
                             "snippet still pass nginx's $host (no port) as Host?") from e
    expect("welcome" in welcome, f"first message {welcome!r}, expected the welcome")


async def main(results):
    chat_path = os.path.abspath(sys.argv[1])
    nginx = find_nginx()
    if not results.check("nginx is installed", nginx is not None,
                         "not on PATH nor /usr/sbin/nginx; run tests/interop/install-peers.sh "
                         "as root, or: apt-get install -y nginx"):
        return
    await results.run("nginx.conf.in's map and `location /chat` are docs/keepalive.md's "
                      "(but port and timeouts)", template_is_doc_snippet())
    await results.run("nginx -t accepts the rendered config", syntax_ok(nginx))

    # nginx runs in a session of its own (see Nginx), out of reach of a kill sent to this
    # test's process group: on SIGTERM (meson's timeout, say), kill every nginx at once, as
    # meson follows up with SIGKILL half a second later, then let the finally below tidy up.
    running = []
    task = asyncio.current_task()

    def on_sigterm():
        for p in running:
            if isinstance(p, Nginx):
                p.kill_now()
        task.cancel()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, on_sigterm)
    try:
        try:
            _, p_proxy = await asyncio.wait_for(start_pair(
                nginx, chat_path, running, "--ping-interval", "500", "--pong-timeout", "1000"),
                harness.STEP_TIMEOUT)
            rare, r_proxy = await asyncio.wait_for(start_pair(
                nginx, chat_path, running, "--ping-interval", "60000", "--pong-timeout", "10000"),
                harness.STEP_TIMEOUT)
            _, d_proxy = await asyncio.wait_for(start_pair(
                nginx, chat_path, running, allow_own_origin=False), harness.STEP_TIMEOUT)
        except Exception as e:
            results.check("chat-server and nginx start", False, f"{type(e).__name__}: {e}")
            return

        await results.run("GET / through nginx: 200 and the chat page", page(p_proxy))
        await results.run("upgrade through nginx: a message from one client reaches another",
                          chat_through(p_proxy))
        await results.run(f"pings every 0.5 s < proxy_read_timeout {PROXY_TIMEOUT} s: an idle "
                          f"client stays {IDLE} s and can still chat", idle_stays(p_proxy))
        await results.run(f"pings every 60 s > proxy_read_timeout {PROXY_TIMEOUT} s: nginx drops "
                          f"an idle client within {WAIT} s", idle_dropped(r_proxy, rare))
        await results.run("Host $http_host keeps the port: the page's own origin is accepted "
                          "without --allow-origin", own_origin_allowed(d_proxy))
        await results.run("still chatting through nginx after all that", chat_through(p_proxy))
    except asyncio.CancelledError:
        results.check("ran to the end", False, "stopped by SIGTERM")
    finally:
        for p in reversed(running):
            await p.close()


if __name__ == "__main__":
    harness.main(main)
