"""Docs that compile: every ```c block of README.md and of every docs/*.md is compiled
against include/ws.h with warnings as errors, and the servers among them (the README's quick
start, the libuv and libevent echo servers of docs/event-loops.md) are run against a real
client (Python websockets).

A block says what it is in an HTML comment on the line before it:
  <!-- snippet: program NAME -->   a complete program: compiled and linked with libws
  <!-- snippet: fragment -->       statements: compiled inside a function, after
                                   tests/docs/prelude.h (includes, cfg, c, fd, buf, now_ms
                                   and the host functions the docs mention)
  <!-- snippet: toplevel -->       declarations: compiled at file scope after the prelude
                                   (without c, fd, buf, now_ms: names a function may use)
  <!-- snippet: program NAME uv -->        a program on examples/glue/ws_uv.c: linked with
  <!-- snippet: program NAME libevent -->  the glue and the loop library (pkg-config)
  <!-- snippet: conformance-case -->       an entry of a conformance table: compiled against
                                   tests/conformance/conf_driver.h, and its id must be a case
                                   of the suite
A block without one is a failure: every snippet is checked.

usage: /usr/bin/python3 check_snippets.py CC LIBWS.a SOURCE_ROOT WORK_DIR [LIBS...]
(LIBS: what the static library needs at link time, e.g. -lz when built with deflate)
Prints one `ok - ...` / `not ok - ...` line per check, then `N passed, N failed`.
"""
import asyncio
import os
import re
import subprocess
import sys

CC, LIB, ROOT, WORK = sys.argv[1:5]
LIB_DEPS = sys.argv[5:]
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


# The loop glue a program snippet may use: its source and its pkg-config package.
GLUE = {"uv": ("examples/glue/ws_uv.c", "libuv"),
        "libevent": ("examples/glue/ws_libevent.c", "libevent")}
# The program snippets that are echo servers: run against Python websockets.
SERVERS = ("quick-start", "uv-echo", "event-echo")


def snippets():
    docs = os.path.join(ROOT, "docs")
    files = [os.path.join(ROOT, "README.md")] + sorted(
        os.path.join(docs, f) for f in os.listdir(docs) if f.endswith(".md"))
    for path in files:
        text = open(path, encoding="utf-8").read()
        for m in re.finditer(r"(?:<!-- snippet: ([^>]*?) -->\n)?```c\n(.*?)```", text, re.S):
            line = text.count("\n", 0, m.start(2))
            yield os.path.relpath(path, ROOT), line, (m.group(1) or "").split(), m.group(2)


def pkg_config(*args):
    r = subprocess.run(["pkg-config"] + list(args), capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"pkg-config {' '.join(args)}: {r.stderr.strip() or 'failed'}")
    return r.stdout.split()


def compile_one(name, kind, code, link, glue=None):
    src = os.path.join(WORK, name + ".c")
    prelude = '#include "prelude.h"\n'
    if kind == "fragment":
        code = ("#define SNIPPET_FRAGMENT\n" + prelude +
                "void snippet(void);\nvoid snippet(void)\n{\n" + code + "}\n")
    elif kind == "toplevel":
        code = prelude + code
    elif kind == "conformance-case":
        code = ('#include "conf_driver.h"\nstatic const cf_case cases[] = {\n' + code +
                "};\nconst cf_case *snippet_cases(void);\n"
                "const cf_case *snippet_cases(void)\n{\n    return cases;\n}\n")
    with open(src, "w") as f:
        f.write(code)
    out = os.path.join(WORK, name)
    args = [CC] + FLAGS + ["-I" + os.path.dirname(os.path.abspath(__file__)),
                           "-I" + os.path.join(ROOT, "tests", "conformance"),
                           "-I" + os.path.join(ROOT, "examples", "glue"), src]
    extra = []
    try:
        if glue is not None:
            source, package = GLUE[glue]
            args += pkg_config("--cflags", package) + [os.path.join(ROOT, source)]
            extra = pkg_config("--libs", package)
        if kind == "conformance-case":
            args += pkg_config("--cflags", "cmocka")
    except (RuntimeError, KeyError) as e:
        return False, f"{glue}: {e}", out
    args += ["-o", out, LIB] + extra + LIB_DEPS if link else ["-c", "-o", out + ".o"]
    if kind != "program":
        # A fragment computes what the surrounding program would use.
        args += ["-Wno-unused-function", "-Wno-unused-variable", "-Wno-unused-const-variable"]
    r = subprocess.run(args, capture_output=True, text=True)
    return r.returncode == 0, r.stderr, out


async def run_server(label, exe):
    import websockets
    proc = await asyncio.create_subprocess_exec(exe, "0", stdout=asyncio.subprocess.PIPE)
    try:
        line = (await asyncio.wait_for(proc.stdout.readline(), 10)).decode()
        m = re.match(r"listening on (ws://127\.0\.0\.1:\d+)", line)
        if not check(f"{label}: prints its address", m, repr(line)):
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
            check(f"{label}: Python websockets echoes text, 1 MiB binary, "
                  "a fragmented message, closes with 1000", True)
        except Exception as e:  # noqa: BLE001
            check(f"{label}: echo session with Python websockets", False, repr(e))

        async def silent():
            reader, writer = await asyncio.open_connection("127.0.0.1", int(url.rsplit(":", 1)[1]))
            got = await asyncio.wait_for(reader.read(), 30)  # to the server's close
            writer.close()
            assert got.startswith(b"HTTP/1.1 408 "), got

        try:
            await silent()
            check(f"{label}: a client that never sends its request is dropped "
                  "with 408 (handshake timeout, through ws_conn_tick)", True)
        except Exception as e:  # noqa: BLE001
            check(f"{label}: handshake timeout drops a silent client", False, repr(e))
    finally:
        proc.kill()
        await proc.wait()


def conformance_case_known(code):
    m = re.search(r'\.id = ("[^"]*")', code)
    if m is None:
        return False
    suite = os.path.join(ROOT, "tests", "conformance")
    return any(m.group(1) in open(os.path.join(suite, f), encoding="utf-8").read()
               for f in os.listdir(suite) if f.endswith(".c"))


def main():
    os.makedirs(WORK, exist_ok=True)
    servers = {}
    for path, line, directive, code in snippets():
        where = f"{path}:{line}"
        if not directive:
            check(f"{where}: C snippet says what it is (<!-- snippet: ... -->)", False)
            continue
        kind = directive[0]
        name = re.sub(r"[^A-Za-z0-9]+", "_", f"{path}_{line}")
        if kind == "program" and len(directive) > 1:
            name = directive[1]
        if kind not in ("program", "fragment", "toplevel", "conformance-case"):
            check(f"{where}: known snippet kind", False, kind)
            continue
        glue = directive[2] if kind == "program" and len(directive) > 2 else None
        ok, err, exe = compile_one(name, kind, code, kind == "program", glue)
        check(f"{where}: {kind} compiles" + (" and links" if kind == "program" else "") +
              (f" (with the {glue} glue)" if glue else ""), ok, err.replace("\n", " ")[:600])
        if kind == "conformance-case":
            check(f"{where}: the case is one of tests/conformance", conformance_case_known(code))
        if ok and name in SERVERS:
            servers[name] = exe
    for name, label in zip(SERVERS, ("README quick start", "event-loops.md libuv echo",
                                      "event-loops.md libevent echo")):
        if check(f"the docs have the {name} program", name in servers):
            asyncio.run(run_server(label, servers[name]))
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


main()
