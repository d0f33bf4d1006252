"""The pieces of the chat-cluster tests: redis-server, chat-server nodes, nginx with
examples/nginx-cluster.conf, ws-client processes as reconnecting receivers, and Python
websockets clients as senders, all on 127.0.0.1.

Every process is started in a session of its own and recorded in a Registry, which kills
each whole session (SIGKILL) when the test ends, however it ends: nothing is left behind.

Ports: picked at random below the kernel's ephemeral range (where the port-0 binds and the
outgoing connections of other tests land), checked free by binding them, and held by that
socket (no SO_REUSEADDR) until just before the program that needs them starts.
"""
import asyncio
import os
import random
import re
import shutil
import signal
import socket
import tempfile
import time

from harness import HOST, expect

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
NGINX_CONF = os.path.join(ROOT, "examples", "nginx-cluster.conf")
WAIT = 15  # seconds for anything that should be quick (a start, a reconnect)


def ephemeral_low():
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def reserve_port():
    """A bound socket on a free port below the ephemeral range; close it just before use."""
    top = min(ephemeral_low(), 32768)
    for _ in range(200):
        port = random.randrange(20000, top)
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            s.bind((HOST, port))
            return s
        except OSError:
            s.close()
    raise RuntimeError("no free port found below the ephemeral range")


def find_program(name, *extra):
    for candidate in (os.environ.get(name.upper().replace("-", "_")), shutil.which(name), *extra):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


class Registry:
    """Every process the test started; kill_all() ends their sessions."""

    def __init__(self):
        self.procs = []
        self.dirs = []

    def add(self, proc):
        self.procs.append(proc)
        return proc

    def tempdir(self, prefix):
        d = tempfile.mkdtemp(prefix=prefix)
        os.chmod(d, 0o755)  # nginx's worker (an unprivileged user) must reach its temp paths
        self.dirs.append(d)
        return d

    def kill_now(self):
        for p in self.procs:
            if p.returncode is None:
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass

    async def kill_all(self):
        self.kill_now()
        for p in self.procs:
            try:
                await asyncio.wait_for(p.wait(), 10)
            except asyncio.TimeoutError:
                pass
        for d in self.dirs:
            shutil.rmtree(d, ignore_errors=True)


async def spawn(reg, args, **kw):
    return reg.add(await asyncio.create_subprocess_exec(
        *args, start_new_session=True, stdin=kw.pop("stdin", asyncio.subprocess.DEVNULL), **kw))


async def wait_for(cond, what, timeout=WAIT, every=0.05):
    """Polls cond() (sync) until true; raises naming `what` after timeout seconds."""
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout} s")
        await asyncio.sleep(every)


async def who(rx, want, timeout=WAIT):
    """Asks /who t through the Receiver rx until it answers `want` members (presence
    converges within a few heartbeats)."""
    deadline = time.monotonic() + timeout
    while True:
        before = rx.count(r"^\* t: \d+ here$")
        rx.command("/who t")
        await wait_for(lambda: rx.count(r"^\* t: \d+ here$") > before, "an answer to /who")
        last = [t for _, t in rx.lines if t.startswith("* t: ")][-1]
        if last == f"* t: {want} here":
            return
        expect(time.monotonic() < deadline, f"/who t answers {last!r}, expected {want}")
        await asyncio.sleep(0.2)


# ---- redis ---------------------------------------------------------------------------------

async def resp(port, *args, timeout=2):
    """One Redis command over a fresh connection; returns the reply's first line."""
    reader, writer = await asyncio.wait_for(asyncio.open_connection(HOST, port), timeout)
    try:
        cmd = f"*{len(args)}\r\n" + "".join(f"${len(a.encode())}\r\n{a}\r\n" for a in args)
        writer.write(cmd.encode())
        return (await asyncio.wait_for(reader.readline(), timeout)).decode().strip()
    finally:
        writer.close()


class Redis:
    """redis-server on 127.0.0.1:port, no persistence, its files in a temp dir of its own (the
    system's redis service, if any, is never touched)."""

    def __init__(self, reg, binary):
        self.reg = reg
        self.binary = binary
        self.dir = reg.tempdir("libws-redis-")
        self.proc = None
        self.port = None

    async def start(self, port=None):
        held = None
        if port is None:
            held = reserve_port()
            port = held.getsockname()[1]
        self.port = port
        if held is not None:
            held.close()
        self.proc = await spawn(self.reg, [
            self.binary, "--port", str(port), "--bind", HOST, "--save", "", "--appendonly", "no",
            "--dir", self.dir, "--daemonize", "no", "--logfile", os.path.join(self.dir, "log")],
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
        deadline = time.monotonic() + WAIT
        while True:
            expect(self.proc.returncode is None, f"redis-server exited: {self.log()[-400:]!r}")
            try:
                if await resp(port, "PING") == "+PONG":
                    return self
            except (OSError, asyncio.TimeoutError):
                pass
            expect(time.monotonic() < deadline, "redis-server not answering")
            await asyncio.sleep(0.05)

    def log(self):
        try:
            with open(os.path.join(self.dir, "log"), errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    async def stop(self):
        if self.proc is not None and self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
            await asyncio.wait_for(self.proc.wait(), WAIT)


# ---- chat nodes ------------------------------------------------------------------------------

class Node:
    """examples/chat-server --redis ...; its stderr in a file (log()); its id from there."""

    def __init__(self, reg, binary, redis, cluster, *args, host=HOST):
        self.reg = reg
        self.binary = binary
        self.redis = redis
        self.cluster = cluster
        self.args = args
        self.host = host
        self.proc = None
        self.port = None
        self.logfile = None
        self.id = None
        self.starts = 0

    async def start(self, port=None):
        held = None
        if port is None:
            held = reserve_port() if self.host == HOST else None
            port = held.getsockname()[1] if held else 0
        if held is not None:
            held.close()
        self.starts += 1
        self.id = None  # a new process, a new id
        self.logfile = os.path.join(self.reg.tempdir("libws-node-"), "stderr")
        with open(self.logfile, "wb") as err:
            self.proc = await spawn(self.reg, [
                self.binary, "--host", self.host, "--port", str(port),
                "--redis", f"{HOST}:{self.redis.port}", "--cluster", self.cluster, *self.args],
                stdout=asyncio.subprocess.PIPE, stderr=err)
        line = await asyncio.wait_for(self.proc.stdout.readline(), WAIT)
        m = re.match(rb"listening on [0-9.]+:(\d+)$", line.strip())
        expect(m is not None, f"chat-server printed {line!r}: {self.log()[-400:]!r}")
        self.port = int(m.group(1))
        await wait_for(lambda: self.id is not None or self.find_id(), "node id in its log")
        return self

    def find_id(self):
        m = re.search(r"node ([0-9a-f]{16}) joining", self.log())
        if m:
            self.id = m.group(1)
        return m is not None

    def log(self):
        try:
            with open(self.logfile, errors="replace") as f:
                return f.read()
        except (OSError, TypeError):
            return ""

    def links_up(self):
        """How many times both Redis links came up (each reconnect adds one)."""
        log = self.log()
        return min(log.count("redis subscriber link up"), log.count("redis commands link up"))

    def peers(self):
        """Node ids this node currently counts in the cluster (from its log)."""
        seen = set()
        for m in re.finditer(r"node ([0-9a-f]{16}) (is in|left) the cluster", self.log()):
            (seen.add if m.group(2) == "is in" else seen.discard)(m.group(1))
        return seen

    def url(self, query="rooms=t"):
        return f"ws://{self.host}:{self.port}/chat?{query}"

    async def term(self):
        """SIGTERM; returns the exit status (None when it had to be killed after WAIT s)."""
        self.proc.send_signal(signal.SIGTERM)
        try:
            return await asyncio.wait_for(self.proc.wait(), WAIT)
        except asyncio.TimeoutError:
            os.killpg(self.proc.pid, signal.SIGKILL)
            await self.proc.wait()
            return None

    async def kill(self):
        os.killpg(self.proc.pid, signal.SIGKILL)
        await self.proc.wait()


# ---- nginx -----------------------------------------------------------------------------------

def render_cluster_conf(text, listen_port, node_ports):
    """examples/nginx-cluster.conf with its listen port and upstream ports replaced."""
    servers = re.findall(r"^\s*server 127\.0\.0\.1:\d+", text, re.M)
    expect(len(servers) == len(node_ports),
           f"{NGINX_CONF} lists {len(servers)} upstream servers, the test runs {len(node_ports)}")
    ports = iter(node_ports)
    text = re.sub(r"^(\s*server 127\.0\.0\.1:)\d+", lambda m: m.group(1) + str(next(ports)),
                  text, flags=re.M)
    text, n = re.subn(r"^(\s*listen 127\.0\.0\.1:)\d+;", rf"\g<1>{listen_port};", text,
                      flags=re.M)
    expect(n == 1, f"{NGINX_CONF} has {n} listen lines, expected 1")
    return text


class Nginx:
    """nginx in the foreground: a minimal nginx.conf of the test's own whose http block
    includes examples/nginx-cluster.conf, rendered with the test's ports."""

    def __init__(self, reg, binary, node_ports, connections=1024):
        self.reg = reg
        self.binary = binary
        self.node_ports = node_ports
        self.connections = connections
        self.dir = reg.tempdir("libws-nginx-")
        self.port = None
        self.proc = None

    def write_conf(self):
        with open(NGINX_CONF) as f:
            cluster = render_cluster_conf(f.read(), self.port, self.node_ports)
        with open(os.path.join(self.dir, "cluster.conf"), "w") as f:
            f.write(cluster)
        d = self.dir
        main = f"""daemon off;
worker_processes 1;
worker_rlimit_nofile {self.connections * 2 + 64};
pid {d}/nginx.pid;
error_log {d}/error.log info;
events {{ worker_connections {self.connections}; }}
http {{
    access_log {d}/access.log;
    client_body_temp_path {d}/client_body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    include {d}/cluster.conf;
}}
"""
        conf = os.path.join(d, "nginx.conf")
        with open(conf, "w") as f:
            f.write(main)
        return conf

    async def start(self):
        for _ in range(3):
            held = reserve_port()
            self.port = held.getsockname()[1]
            conf = self.write_conf()
            held.close()
            with open(os.path.join(self.dir, "output.log"), "wb") as out:
                self.proc = await spawn(self.reg, [
                    self.binary, "-p", self.dir + "/", "-e", os.path.join(self.dir, "error.log"),
                    "-c", conf], stdout=out, stderr=out)
            deadline = time.monotonic() + WAIT
            while time.monotonic() < deadline:
                if self.proc.returncode is not None:
                    break
                try:
                    _, w = await asyncio.wait_for(asyncio.open_connection(HOST, self.port), 1)
                    w.close()
                    await asyncio.sleep(0.2)  # still running after its bind: it is ours
                    if self.proc.returncode is None:
                        return self
                except (OSError, asyncio.TimeoutError):
                    await asyncio.sleep(0.05)
            if "Address already in use" not in self.error_log():
                raise RuntimeError(f"nginx did not start: {self.error_log()[-600:]!r}")
        raise RuntimeError("nginx found its port taken three times")

    def error_log(self):
        out = ""
        for name in ("error.log", "output.log"):
            try:
                with open(os.path.join(self.dir, name), errors="replace") as f:
                    out += f.read()
            except OSError:
                pass
        return out

    def url(self, query="rooms=t"):
        return f"ws://{HOST}:{self.port}/chat?{query}"


# ---- clients ---------------------------------------------------------------------------------

class Receiver:
    """examples/ws-client --reconnect, its stdout and stderr as one stream of lines (state,
    closes and messages in the order it printed them); stdin stays open for commands."""

    def __init__(self, reg, binary, url, *args, netns=None):
        self.reg = reg
        self.binary = binary
        self.url = url
        self.args = args
        self.netns = netns
        self.lines = []  # (monotonic time, text)
        self.proc = None
        self.task = None

    async def start(self):
        cmd = [self.binary, "--reconnect", *self.args, self.url]
        if self.netns:
            cmd = ["ip", "netns", "exec", self.netns, *cmd]
        self.proc = await spawn(self.reg, cmd, stdin=asyncio.subprocess.PIPE,
                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
        self.task = asyncio.ensure_future(self.read())
        return self

    async def read(self):
        while True:
            line = await self.proc.stdout.readline()
            if not line:
                return
            self.lines.append((time.monotonic(), line.decode(errors="replace").rstrip("\n")))

    def command(self, text):
        self.proc.stdin.write(text.encode() + b"\n")

    def count(self, pattern):
        return sum(1 for _, t in self.lines if re.search(pattern, t))

    def welcomes(self):
        return [m.group(1) for _, t in self.lines
                for m in [re.match(r"\* welcome, (\S+) \(", t)] if m]

    def node(self):
        """The id prefix of the node of its latest connection (from its guest name)."""
        w = self.welcomes()
        m = re.match(r"guest-([0-9a-f]{4})-", w[-1]) if w else None
        return m.group(1) if m else None

    def opens(self):
        return self.count(r"^ws-client: state open$")

    def tail(self, n=12):
        return [t for _, t in self.lines[-n:]]

    async def stop(self):
        if self.proc.returncode is None:
            self.proc.stdin.close()  # end of input: it closes with 1000 and exits
            try:
                await asyncio.wait_for(self.proc.wait(), WAIT)
            except asyncio.TimeoutError:
                os.killpg(self.proc.pid, signal.SIGKILL)
        await self.task


MSG = re.compile(r"^\[(\S+)\] (\S+): (s[\w.-]+):(\d+)$")


def received(rx, room="t"):
    """rx's chat lines in room, in order: a list of (session, sender label, seq); a session
    is the number of `state open` lines before the message."""
    out, session = [], 0
    for _, t in rx.lines:
        if t == "ws-client: state open":
            session += 1
            continue
        m = MSG.match(t)
        if m and m.group(1) == room:
            out.append((session, m.group(3), int(m.group(4))))
    return out
