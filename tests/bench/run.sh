#!/usr/bin/env bash
# Builds libws and the receive-path benchmark in release mode (build-bench/) and runs it.
# Arguments go to the benchmark: --runs N, --only W1,W4, --impl memcpy,libws,stream,wslay,
# --quick, --no-verify, --no-handshake. Figures only: it never fails a build.
#   tests/bench/run.sh deflate [--messages N] [--runs N]   the permessage-deflate benchmark
#   tests/bench/run.sh --instructions [--no-times] [--quick] [--only ..] [--impl ..]
#       instructions per wire byte and per message of each receiver under callgrind (one
#       counted run each, independent of machine load), then the timed benchmark unless
#       --no-times
#   tests/bench/run.sh send [--runs N] [--only S1,S2,S3,B] [--impl ...] [--role ...]
#                                                          the send-path benchmark
#   tests/bench/run.sh send --callgrind [--only S1] [--role server]   instructions per message
#                                                          and per wire byte, under callgrind
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
elif [ "${1:-}" = send ]; then
    program=bench_send
    which=" send"
    shift
fi
instructions=false
times=true
args=()
for a in "$@"; do
    case "$a" in
    --instructions) instructions=true ;;
    --no-times) times=false ;;
    *) args+=("$a") ;;
    esac
done
ninja -C "$build" "tests/bench/$program" >/dev/null

# Instruction counts do not depend on the machine's load: each (workload, role, impl) runs
# once under callgrind, counting only bench_send_timed; Ir per message and per wire byte.
if [ "$program" = bench_send ] && [ "${1:-}" = --callgrind ]; then
    shift
    only=S1,S2,S3
    roles="server client"
    while [ $# -gt 0 ]; do
        case "$1" in
        --only) only=$2; shift 2 ;;
        --role) roles=$2; shift 2 ;;
        *) echo "unknown option $1" >&2; exit 2 ;;
        esac
    done
    echo "command: tests/bench/run.sh send --callgrind --only $only --role '$roles'"
    echo "libws commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    echo "| workload | role | impl | Ir | Ir/message | Ir/wire byte | x memcpy |"
    echo "|---|---|---|--:|--:|--:|--:|"
    for w in ${only//,/ }; do
        for role in $roles; do
            base=""
            for impl in memcpy libws nocopy wslay; do
                [ "$impl" = nocopy ] && [ "$role" = client ] && continue
                out=$("$build/tests/bench/bench_send" --once --no-broadcast --only "$w" \
                    --role "$role" --impl "$impl")
                row=$(printf '%s\n' "$out" | grep "^| $w |" || true)
                [ -n "$row" ] || continue
                valgrind --tool=callgrind --callgrind-out-file="$tmp/cg.out" \
                    --collect-atstart=no --toggle-collect='bench_send_timed*' \
                    "$build/tests/bench/bench_send" --once --no-broadcast --only "$w" \
                    --role "$role" --impl "$impl" >/dev/null 2>&1
                ir=$(grep -E '^(summary|totals):' "$tmp/cg.out" | head -1 | awk '{print $2}')
                msgs=$(case $w in S1) echo 1000000 ;; S2) echo 100000 ;; S3) echo 10000 ;; esac)
                # wire bytes from the plain run's MB/s column are not exact: compute them
                len=$(case $w in S1) echo 16 ;; S2) echo 200 ;; S3) echo 65536 ;; esac)
                hdr=$(case $w in S1|S2) echo 2 ;; S3) echo 10 ;; esac)
                [ "$role" = client ] && hdr=$((hdr + 4))
                bytes=$((msgs * (len + hdr)))
                [ -z "$base" ] && base=$ir
                awk -v w="$w" -v r="$role" -v i="$impl" -v ir="$ir" -v m="$msgs" -v b="$bytes" \
                    -v base="$base" 'BEGIN { printf "| %s | %s | %s | %d | %.1f | %.3f | %.2f |\n",
                        w, r, i, ir, ir / m, ir / b, ir / base }'
            done
        done
    done
    # Broadcast: instructions per recipient for 1 and 64 server connections, prepared once
    # per message or sent to each; the difference is the cost of each extra recipient.
    echo
    # With permessage-deflate (no context takeover, window 15, level 6): zprepared
    # compresses each message once (ws_prepared_compress), zsend has every connection
    # compress it (1000 messages, to 16 connections: it is slow under callgrind).
    echo "| broadcast | message | Ir/recipient, 1 | Ir/recipient, N | N | Ir per extra recipient |"
    echo "|---|--:|--:|--:|--:|--:|"
    for len in 16 1024; do
        for kind in prepared send zprepared zsend; do
            hi=64 m=10000
            [ "$kind" = zsend ] && hi=16 m=1000
            for n in 1 "$hi"; do
                valgrind --tool=callgrind --callgrind-out-file="$tmp/cg.out" \
                    --collect-atstart=no --toggle-collect='bench_broadcast*' \
                    "$build/tests/bench/bench_send" --broadcast "$n,$len,$kind" >/dev/null 2>&1
                eval "ir_$n=$(grep -E '^(summary|totals):' "$tmp/cg.out" | head -1 | awk '{print $2}')"
            done
            eval "ir_hi=\$ir_$hi"
            awk -v k="$kind" -v l="$len" -v a="$ir_1" -v b="$ir_hi" -v m="$m" -v n="$hi" \
                'BEGIN { printf "| %s | %s B | %.1f | %.1f | %d | %.1f |\n", k, l, a / m,
                    b / (n * m), n, (b - a) / ((n - 1) * m) }'
        done
    done
    exit 0
fi

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

# Each receiver's counted run is bracketed by callgrind client requests (bench.c,
# measure_instructions): one dump per run, named "<workload> <receiver>".
if $instructions; then
    [ "$program" = bench ] || { echo "run.sh: --instructions is for the receive benchmark" >&2; exit 2; }
    command -v valgrind >/dev/null || { echo "run.sh: --instructions needs valgrind" >&2; exit 2; }
    cg=$(mktemp -d)
    trap 'rm -rf "$cg"' EXIT
    valgrind --tool=callgrind --callgrind-out-file="$cg/out" \
        "$build/tests/bench/bench" --instructions ${args[@]+"${args[@]}"} >"$cg/stdout" 2>"$cg/stderr" || {
        cat "$cg/stdout" "$cg/stderr" >&2
        exit 1
    }
    echo
    echo "Instructions (callgrind Ir) per wire byte and per message, one counted run per receiver"
    echo
    for f in "$cg"/out.*; do
        awk '/^desc: Trigger: Client Request: / { label = $5 " " $6 } /^totals:/ { print label, $2 }' "$f"
    done | awk '
        FNR == NR { ir[$1 " " $2] = $3; next }
        $1 == "instructions:" && $3 == "wire_bytes" { order[++n] = $2; wire[$2] = $4; msgs[$2] = $6 }
        function per(w, impl, d) { return (w " " impl) in ir ? sprintf("%.2f", ir[w " " impl] / d) : "-" }
        function ratio(w, a, b) {
            return ((w " " a) in ir && (w " " b) in ir) ? sprintf("%.2f", ir[w " " a] / ir[w " " b]) : "-"
        }
        END {
            print "| workload | wire bytes | messages | memcpy Ir/B | libws Ir/B | stream Ir/B | wslay Ir/B | libws Ir/msg | stream Ir/msg | wslay Ir/msg | libws / memcpy | libws / wslay |"
            print "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|"
            for (i = 1; i <= n; i++) {
                w = order[i]
                printf "| %s | %d | %d | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", w, wire[w], msgs[w],
                    per(w, "memcpy", wire[w]), per(w, "libws", wire[w]), per(w, "stream", wire[w]),
                    per(w, "wslay", wire[w]), per(w, "libws", msgs[w]), per(w, "stream", msgs[w]),
                    per(w, "wslay", msgs[w]), ratio(w, "libws", "memcpy"), ratio(w, "libws", "wslay")
            }
        }' - "$cg/stdout"
    $times || exit 0
    echo
    rm -rf "$cg"
    trap - EXIT
fi
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
exec "$build/tests/bench/$program" ${args[@]+"${args[@]}"}
