#!/usr/bin/env bash
# The chat cluster's load run (docs/scaling.md): redis-server and three chat-server nodes on
# 127.0.0.1, then tests/load/chat-load with CLIENTS clients spread over the nodes in rooms of
# ROOM, each saying RATE lines a second for DURATION seconds. Prints the delivered count,
# publish-to-receipt latency, and each node's CPU time and memory. Figures only: it never
# fails on a number.
#
# usage: bash tests/load/run.sh [BUILD_DIR]   (env: CLIENTS ROOM RATE DURATION HEARTBEAT)
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$root/build}
CLIENTS=${CLIENTS:-3000}
ROOM=${ROOM:-10}
RATE=${RATE:-1}
DURATION=${DURATION:-60}
HEARTBEAT=${HEARTBEAT:-1000}
chat=$build/examples/chat-server
load=$build/tests/load/chat-load
for p in "$chat" "$load"; do
    [ -x "$p" ] || { echo "missing $p (build first: ninja -C $build)" >&2; exit 1; }
done
command -v redis-server >/dev/null || { echo "redis-server missing (apt-get install redis-server)" >&2; exit 1; }

dir=$(mktemp -d /tmp/libws-load-XXXXXX)
pids=()
cleanup() { # SIGTERM (the nodes drain and exit 0), SIGKILL what is left after 10 s
    local p i
    for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    for i in $(seq 100); do
        for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && break; done
        kill -0 "$p" 2>/dev/null || break
        sleep 0.1
    done
    for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$dir"
}
trap cleanup EXIT INT TERM

# Free ports below the ephemeral range (checked by binding them).
free_port() {
    python3 -c 'import random, socket
while True:
    p = random.randrange(20000, 32000); s = socket.socket()
    try:
        s.bind(("127.0.0.1", p)); print(p); break
    except OSError:
        s.close()'
}

ulimit -n "$(ulimit -Hn)"
rport=$(free_port)
redis-server --port "$rport" --bind 127.0.0.1 --save '' --appendonly no --dir "$dir" \
    --daemonize no --logfile "$dir/redis.log" &
pids+=($!)
redis_pid=$!
for _ in $(seq 100); do
    redis-cli -p "$rport" ping >/dev/null 2>&1 && break
    sleep 0.05
done

ports=()
node_pids=()
for i in 1 2 3; do
    port=$(free_port)
    "$chat" --port "$port" --redis "127.0.0.1:$rport" --cluster "load-$$" \
        --heartbeat "$HEARTBEAT" >"$dir/node$i.out" 2>"$dir/node$i.err" &
    pids+=($!)
    node_pids+=($!)
    ports+=("$port")
done
for i in 1 2 3; do
    for _ in $(seq 100); do
        grep -q "redis subscriber link up" "$dir/node$i.err" 2>/dev/null && break
        sleep 0.05
    done
done

ticks() { # utime + stime of a process, in clock ticks
    awk '{print $14 + $15}' "/proc/$1/stat"
}
hz=$(getconf CLK_TCK)
before=()
for p in "${node_pids[@]}" "$redis_pid"; do before+=("$(ticks "$p")"); done
start=$(date +%s.%N)

echo "load: $CLIENTS clients in rooms of $ROOM on 3 nodes, $RATE line/s each, ${DURATION}s"
args=()
for p in "${ports[@]}"; do args+=(--port "$p"); done
"$load" "${args[@]}" --clients "$CLIENTS" --room-size "$ROOM" --rate "$RATE" \
    --duration "$DURATION" | tee "$dir/load.out"

end=$(date +%s.%N)
calc() { awk "BEGIN { print $1 }"; }
wall=$(calc "$end - $start")
echo "per process, over the whole run (${wall%.*} s: connect, settle, ${DURATION} s of lines, drain):"
names=(node1 node2 node3 redis)
all=("${node_pids[@]}" "$redis_pid")
for i in 0 1 2 3; do
    p=${all[$i]}
    t=$(ticks "$p")
    cpu=$(calc "($t - ${before[$i]}) / $hz")
    rss=$(awk '/^VmRSS/ {print $2}' "/proc/$p/status")
    hwm=$(awk '/^VmHWM/ {print $2}' "/proc/$p/status")
    printf '  %-6s CPU %6.2f s (%5.1f%% of one core)  RSS %6d KiB (peak %d KiB)\n' \
        "${names[$i]}" "$cpu" "$(calc "100 * $cpu / $wall")" "$rss" "$hwm"
done
grep -h "too slow\|not published" "$dir"/node*.err | sort | uniq -c | head -5 || true
