#!/usr/bin/env bash
# Runs the plain (non-sanitizer) test programs of a Meson build directory under valgrind
# memcheck: the CMocka unit and conformance tests and, when the build has them, the fuzz
# corpus replays (suite "fuzz-replay"). Valgrind sees what the sanitizers cannot, such as
# reads of uninitialised memory, on the code exactly as the compiler optimised it.
# Prints "ok - valgrind <test>" / "not ok - valgrind <test>" per program and a final
# "N passed, N failed"; exits non-zero on any memory error, definite or indirect leak, or
# test failure.
#
#   tests/valgrind.sh [BUILD_DIR]      (default: build)
set -u

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
build=${1:-build}

if ! command -v valgrind >/dev/null; then
    echo "not ok - valgrind is not installed (apt-get install valgrind)"
    echo "0 passed, 1 failed"
    exit 1
fi
if [ ! -d "$build/meson-private" ]; then
    echo "not ok - $build is not a configured Meson build directory"
    echo "0 passed, 1 failed"
    exit 1
fi
if ! ninja -C "$build" >/dev/null; then
    echo "not ok - build of $build"
    echo "0 passed, 1 failed"
    exit 1
fi

exec python3 - "$build" <<'PY'
import json
import os
import subprocess
import sys

build = sys.argv[1]
VALGRIND = ["valgrind", "--tool=memcheck", "--error-exitcode=1", "--leak-check=full",
            "--errors-for-leak-kinds=definite,indirect",
            "--show-leak-kinds=definite,indirect", "-q"]
SUITES = ("unit", "conformance", "fuzz-replay")

tests = json.loads(subprocess.check_output(["meson", "introspect", "--tests", build]))
passed = failed = 0
for t in sorted(tests, key=lambda t: t["name"]):
    suites = {s.split(":")[-1] for s in t.get("suite", [])}
    if not suites & set(SUITES):
        continue
    # Only the programs this build compiled; a script's interpreter (tests/exports.py) is not
    # libws's code.
    if not os.path.abspath(t["cmd"][0]).startswith(os.path.abspath(build) + os.sep):
        continue
    env = dict(os.environ)
    env.update(t.get("env") or {})
    try:
        # meson runs a test in the build directory unless it names another
        r = subprocess.run(VALGRIND + t["cmd"], cwd=t.get("workdir") or build, env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=1800)
        ok = r.returncode == 0
        out = r.stdout.decode(errors="replace")
    except subprocess.TimeoutExpired:
        ok, out = False, "timed out after 1800 s"
    if ok:
        passed += 1
        print("ok - valgrind %s" % t["name"], flush=True)
    else:
        failed += 1
        print("not ok - valgrind %s" % t["name"], flush=True)
        for line in out.splitlines()[-40:]:
            print("#   " + line)
print("%d passed, %d failed" % (passed, failed))
sys.exit(1 if failed else 0)
PY
