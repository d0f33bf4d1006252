"""Shared parts of the interop tests: ok/not ok reporting, time limits on every wait, and
starting the example echo server on a free port.

Run with Debian's /usr/bin/python3 and python3-websockets (10.x, asyncio API).
"""
import asyncio
import os
import re
import signal
import sys
import tempfile

try:
    import websockets  # noqa: F401  (imported here so a missing package fails loudly)
except ImportError:
    print("not ok - python3-websockets is importable "
          f"(python: {sys.executable}; install python3-websockets and use /usr/bin/python3)")
    print("0 passed, 1 failed")
    sys.exit(1)

HOST = "127.0.0.1"
STEP_TIMEOUT = 60  # seconds for one check
START_TIMEOUT = 10  # seconds for a program to start or stop


class Results:
    """Counts checks and prints one `ok - name` / `not ok - name` line per check."""

    def __init__(self):
        self.passed = 0
        self.failed = 0

    def check(self, name, cond, detail=""):
        if cond:
            self.passed += 1
            print(f"ok - {name}", flush=True)
        else:
            self.failed += 1
            print(f"not ok - {name}" + (f"  # {detail}" if detail else ""), flush=True)
        return cond

    async def run(self, name, coro, timeout=STEP_TIMEOUT):
        """Runs one check: it passes when coro finishes in time without raising."""
        try:
            await asyncio.wait_for(coro, timeout)
        except asyncio.TimeoutError:
            return self.check(name, False, f"timed out after {timeout} s")
        except Exception as e:  # any failure is this check's failure, not the script's
            return self.check(name, False, f"{type(e).__name__}: {e}")
        return self.check(name, True)

    def finish(self):
        print(f"{self.passed} passed, {self.failed} failed", flush=True)
        return 1 if self.failed or not self.passed else 0


def expect(cond, what):
    if not cond:
        raise AssertionError(what)


def describe(data):
    kind = "text" if isinstance(data, str) else "binary"
    return f"{kind} of {len(data)} {'chars' if kind == 'text' else 'bytes'}"


class ServerProcess:
    """An example server on 127.0.0.1 and a port the kernel picked. With capture_log its
    stderr is kept in a temporary file (log_text); otherwise it goes to the test's stderr."""

    name = "server"
    capture_log = False

    def __init__(self, path, *args):
        self.path = path
        self.args = args
        self.proc = None
        self.port = None
        self.log = tempfile.TemporaryFile() if self.capture_log else None

    async def start(self):
        self.proc = await asyncio.create_subprocess_exec(
            self.path, "--host", HOST, "--port", "0", *self.args,
            stdout=asyncio.subprocess.PIPE, stderr=self.log, stdin=asyncio.subprocess.DEVNULL)
        try:
            line = await asyncio.wait_for(self.proc.stdout.readline(), START_TIMEOUT)
            m = re.match(rb"listening on 127\.0\.0\.1:(\d+)$", line.strip())
            if not m:
                raise RuntimeError(f"{self.name} printed {line!r}, not 'listening on HOST:PORT'")
        except BaseException:
            await self.kill()
            raise
        self.port = int(m.group(1))
        return self

    def log_text(self):
        self.log.seek(0)
        return self.log.read().decode(errors="replace")

    async def stop(self):
        """SIGTERM, then the exit status (None when it had to be killed)."""
        if self.proc is None or self.proc.returncode is not None:
            return None if self.proc is None else self.proc.returncode
        self.proc.send_signal(signal.SIGTERM)
        try:
            return await asyncio.wait_for(self.proc.wait(), START_TIMEOUT)
        except asyncio.TimeoutError:
            await self.kill()
            return None

    async def kill(self):
        """Kills the server if it still runs."""
        if self.proc is not None and self.proc.returncode is None:
            try:
                self.proc.kill()
            except ProcessLookupError:
                pass
            await self.proc.wait()

    async def close(self):
        """For finally blocks: the server goes away at once."""
        await self.kill()


class EchoServer(ServerProcess):
    """examples/echo-server."""

    name = "echo-server"

    @property
    def url(self):
        return f"ws://{HOST}:{self.port}"


async def run_program(args, stdin_data=None, timeout=STEP_TIMEOUT):
    """Runs a program to completion; returns (status, stdout, stderr) as text. Killed (and
    an error raised) when it takes longer than timeout."""
    proc = await asyncio.create_subprocess_exec(
        *args,
        stdin=asyncio.subprocess.PIPE if stdin_data is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        out, err = await asyncio.wait_for(
            proc.communicate(stdin_data.encode() if stdin_data is not None else None), timeout)
    except asyncio.TimeoutError:
        proc.kill()
        await proc.wait()
        raise AssertionError(f"{os.path.basename(args[0])} still running after {timeout} s")
    except BaseException:  # the check itself timed out or was cancelled: no orphan left
        if proc.returncode is None:
            proc.kill()
        raise
    return proc.returncode, out.decode(errors="replace"), err.decode(errors="replace")


def main(coro_fn):
    """Runs the script's async main and exits with its status."""
    results = Results()
    try:
        asyncio.run(coro_fn(results))
    except Exception as e:
        results.check("test script ran to the end", False, f"{type(e).__name__}: {e}")
    sys.exit(results.finish())
