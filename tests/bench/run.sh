#!/usr/bin/env bash
# Builds libws and the receive-path benchmark in release mode (build-bench/) and runs it.
# Arguments go to the benchmark: --runs N, --only W1,W4, --impl memcpy,libws,stream,wslay,
# --quick, --no-verify, --no-handshake. Figures only: it never fails a build.
#   tests/bench/run.sh deflate [--messages N] [--runs N]   the permessage-deflate benchmark
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
build=${BENCH_BUILD_DIR:-build-bench}

if [ ! -d "$build/meson-private" ]; then
    meson setup "$build" -Dtests=true -Dbench=true --buildtype=release >/dev/null
else
    meson configure "$build" -Dbench=true --buildtype=release >/dev/null
fi
program=bench
which=""
if [ "${1:-}" = deflate ]; then
    program=bench_deflate
    which=" deflate"
    shift
fi
ninja -C "$build" "tests/bench/$program" >/dev/null

echo "command: tests/bench/run.sh$which $*"
if command -v git >/dev/null && git rev-parse --git-dir >/dev/null 2>&1; then
    dirty=$(git diff --quiet HEAD -- lib include 2>/dev/null || echo " + uncommitted changes in lib/ or include/")
    echo "libws commit: $(git rev-parse --short HEAD)$dirty"
fi
if command -v lscpu >/dev/null; then
    lscpu | grep -E '^(Model name|CPU\(s\)|Thread\(s\) per core|Core\(s\) per socket|L2 cache|L3 cache):' \
        | sed 's/  */ /g'
fi
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
exec "$build/tests/bench/$program" "$@"
