#!/usr/bin/env bash
# Builds libws and the receive-path benchmark in release mode (build-bench/) and runs it.
# Arguments go to the benchmark: --runs N, --only W1,W4, --impl memcpy,libws,stream,wslay,
# --quick, --no-verify, --no-handshake. Figures only: it never fails a build.
#   tests/bench/run.sh deflate [--messages N] [--runs N]   the permessage-deflate benchmark
#   tests/bench/run.sh deflate-node [--messages N] [--runs N]   its Node ws reference (the same
#       messages through ws's PerMessageDeflate; tests/interop/install-peers.sh installs ws)
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
node_ref=false
if [ "${1:-}" = deflate ] || [ "${1:-}" = deflate-node ]; then
    program=bench_deflate
    which=" $1"
    [ "$1" = deflate-node ] && node_ref=true
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
if $node_ref; then
    messages=100000 runs=3
    while [ $# -gt 0 ]; do
        case "$1" in
        --messages) messages=$2; shift 2 ;;
        --runs) runs=$2; shift 2 ;;
        *) echo "usage: tests/bench/run.sh deflate-node [--messages N] [--runs N]" >&2; exit 2 ;;
        esac
    done
    dir=$(mktemp -d)
    trap 'rm -rf "$dir"' EXIT
    "$build/tests/bench/$program" --messages "$messages" --dump "$dir"
    node "$root/tests/bench/deflate_node.mjs" "$dir" "$runs"
    exit
fi
exec "$build/tests/bench/$program" "$@"
