"""Docs that compile: every ```c block of README.md, docs/connection.md, docs/keepalive.md
and docs/tls.md is compiled against
include/ws.h with warnings as errors, and the README's quick-start server is run against a
real client (Python websockets).

A block says what it is in an HTML comment on the line before it:
  <!-- snippet: program NAME -->   a complete program: compiled and linked with libws
  <!-- snippet: fragment -->       statements: compiled inside a function, after
                                   tests/docs/prelude.h (includes, cfg, c, ev, buf, n and
                                   the host functions the docs mention)
  <!-- snippet: toplevel -->       declarations: compiled at file scope after the prelude
A block without one is a failure: every snippet is checked.

usage: /usr/bin/python3 check_snippets.py CC LIBWS.a SOURCE_ROOT WORK_DIR
Prints one `ok - ...` / `not ok - ...` line per check, then `N passed, N failed`.
"""
import asyncio
import os
import re
import subprocess
import sys

CC, LIB, ROOT, WORK = sys.argv[1:5]
FLAGS = ["-std=c99", "-Wall", "-Wextra", "-Wpedantic", "-Wshadow", "-Wconversion", "-Werror",
         "-I" + os.path.join(ROOT, "include")]
passed = failed = 0


def check(name, ok, detail=""):
    global passed, failed
    if ok:
        passed += 1
        print(f"ok - {name}", flush=True)
    else:
        failed += 1
        print(f"not ok - {name}" + (f"  # {detail}" if detail else ""), flush=True)
    return ok


def snippets():
    # hooks.md and conformance.md are not covered yet (their fragments need host functions
    # the prelude does not declare).
    files = [os.path.join(ROOT, f) for f in
             ("README.md", "docs/connection.md", "docs/keepalive.md", "docs/tls.md")]
    for path in files:
        text = open(path, encoding="utf-8").read()
        for m in re.finditer(r"(?:<!-- snippet: ([^>]*?) -->\n)?```c\n(.*?)```", text, re.S):
            line = text.count("\n", 0, m.start(2))
            yield os.path.relpath(path, ROOT), line, (m.group(1) or "").split(), m.group(2)


def compile_one(name, kind, code, link):
    src = os.path.join(WORK, name + ".c")
    prelude = '#include "prelude.h"\n'
    if kind == "fragment":
        code = prelude + "void snippet(void);\nvoid snippet(void)\n{\n" + code + "}\n"
    elif kind == "toplevel":
        code = prelude + code
    with open(src, "w") as f:
        f.write(code)
    out = os.path.join(WORK, name)
    args = [CC] + FLAGS + ["-I" + os.path.dirname(os.path.abspath(__file__)), src]
    args += ["-o", out, LIB] if link else ["-c", "-o", out + ".o"]
    if kind != "program":
        # A fragment computes what the surrounding program would use.
        args += ["-Wno-unused-function", "-Wno-unused-variable", "-Wno-unused-const-variable"]
    r = subprocess.run(args, capture_output=True, text=True)
    return r.returncode == 0, r.stderr, out


async def run_quick_start(exe):
    import websockets
    proc = await asyncio.create_subprocess_exec(exe, "0", stdout=asyncio.subprocess.PIPE)
    try:
        line = (await asyncio.wait_for(proc.stdout.readline(), 10)).decode()
        m = re.match(r"listening on (ws://127\.0\.0\.1:\d+)", line)
        if not check("README quick start: prints its address", m, repr(line)):
            return
        url = m.group(1)

        async def session():
            async with websockets.connect(url, max_size=None, ping_interval=None) as ws:
                for msg in ["hello é", os.urandom(1 << 20), "x" * 70000, b""]:
                    await ws.send(msg)
                    got = await ws.recv()
                    assert got == msg, f"echo of {len(msg)} differs"

                async def parts():
                    for p in ["frag", "mented ", "text"]:
                        yield p
                await ws.send(parts())
                got = await ws.recv()
                assert got == "fragmented text", repr(got)
            assert ws.close_code == 1000, ws.close_code

        try:
            await asyncio.wait_for(session(), 60)
            check("README quick start: Python websockets echoes text, 1 MiB binary, "
                  "a fragmented message, closes with 1000", True)
        except Exception as e:  # noqa: BLE001
            check("README quick start: echo session with Python websockets", False, repr(e))

        async def silent():
            reader, writer = await asyncio.open_connection("127.0.0.1", int(url.rsplit(":", 1)[1]))
            got = await asyncio.wait_for(reader.read(100), 30)
            writer.close()
            assert got == b"", got

        try:
            await silent()
            check("README quick start: a client that never sends its request is dropped "
                  "(handshake timeout, through ws_conn_tick)", True)
        except Exception as e:  # noqa: BLE001
            check("README quick start: handshake timeout drops a silent client", False, repr(e))
    finally:
        proc.kill()
        await proc.wait()


def main():
    os.makedirs(WORK, exist_ok=True)
    quick = None
    for path, line, directive, code in snippets():
        where = f"{path}:{line}"
        if not directive:
            check(f"{where}: C snippet says what it is (<!-- snippet: ... -->)", False)
            continue
        kind = directive[0]
        name = re.sub(r"[^A-Za-z0-9]+", "_", f"{path}_{line}")
        if kind == "program" and len(directive) > 1:
            name = directive[1]
        if kind not in ("program", "fragment", "toplevel"):
            check(f"{where}: known snippet kind", False, kind)
            continue
        ok, err, exe = compile_one(name, kind, code, kind == "program")
        check(f"{where}: {kind} compiles" + (" and links" if kind == "program" else ""), ok,
              err.replace("\n", " ")[:600])
        if ok and name == "quick-start":
            quick = exe
    if check("README.md has the quick-start program", quick is not None):
        asyncio.run(run_quick_start(quick))
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


main()
