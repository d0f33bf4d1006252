#!/usr/bin/env bash
# Echo servers under load (docs/performance.md): examples/echo-server (1 and 2 threads), Node
# ws and Python websockets on 127.0.0.1, driven by tests/load/echo-load (its own framing, not
# libws): CONNS connections, SIZE-byte messages, WINDOW in flight per connection, for DURATION
# seconds; then each server's RSS per idle open connection with IDLE connections. Prints
# figures with the load average; never fails on a number.
#
# usage: bash tests/load/echo-bench.sh [BUILD_DIR]  (env: CONNS SIZE WINDOW DURATION IDLE ONLY)
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$root/build}
CONNS=${CONNS:-100}
SIZE=${SIZE:-16}
WINDOW=${WINDOW:-32}
DURATION=${DURATION:-10}
IDLE=${IDLE:-10000}
ONLY=${ONLY:-libws,libws2,node,python}
load=$build/tests/load/echo-load
for p in "$build/examples/echo-server" "$load"; do
    [ -x "$p" ] || { echo "missing $p (build first: ninja -C $build)" >&2; exit 1; }
done
ulimit -n "$(ulimit -Hn)" # IDLE connections on each side

pid=
stop() {
    if [ -n "$pid" ]; then
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    fi
    pid=
}
trap stop EXIT

# start NAME CMD...: runs a server, waits for "listening on HOST:PORT", sets pid and port.
start() {
    local name=$1 out i
    shift
    out=$(mktemp /tmp/libws-echo-bench-XXXXXX)
    "$@" >"$out" 2>&1 &
    pid=$!
    for i in $(seq 100); do
        grep -q 'listening on' "$out" && break
        sleep 0.1
    done
    port=$(sed -n 's/.*listening on .*:\([0-9]*\)$/\1/p' "$out" | head -1)
    rm -f "$out"
    [ -n "$port" ] || { echo "# $name did not start" >&2; stop; return 1; }
}

run() {
    local name=$1
    shift
    case ",$ONLY," in *",$name,"*) ;; *) return 0 ;; esac
    echo "== $name: $*"
    start "$name" "$@" || return 0
    echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
    "$load" --port "$port" --pid "$pid" --connections "$CONNS" --size "$SIZE" \
        --window "$WINDOW" --duration "$DURATION" || echo "# echo-load failed"
    echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
    stop
    start "$name" "$@" || return 0
    timeout 120 "$load" --port "$port" --pid "$pid" --connections "$IDLE" --idle ||
        echo "# idle run failed"
    stop
}

echo "commit: $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?'), $(nproc) CPUs"
run libws "$build/examples/echo-server" --port 0
run libws2 "$build/examples/echo-server" --port 0 --threads 2
if [ -d "$root/tests/interop/node/node_modules/ws" ]; then
    run node node "$root/tests/load/node-echo.cjs"
else
    echo "# node: ws missing (bash tests/interop/install-peers.sh)"
fi
if /usr/bin/python3 -c "import websockets" 2>/dev/null; then
    run python /usr/bin/python3 "$root/tests/load/py-echo.py"
else
    echo "# python: websockets missing (apt-get install python3-websockets)"
fi
