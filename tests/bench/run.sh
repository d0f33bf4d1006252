#!/usr/bin/env bash
# Builds libws and the receive-path benchmark in release mode (build-bench/) and runs it.
# Arguments go to the benchmark: --runs N, --only W1,W4, --impl memcpy,libws,stream,wslay,
# --quick, --no-verify, --no-handshake. Figures only: it never fails a build.
#   tests/bench/run.sh deflate [--messages N] [--runs N]   the permessage-deflate benchmark
#   tests/bench/run.sh --instructions [--no-times] [--quick] [--only ..] [--impl ..]
#       instructions per wire byte and per message of each receiver under callgrind (one
#       counted run each, independent of machine load), then the timed benchmark unless
#       --no-times
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
exec "$build/tests/bench/$program" ${args[@]+"${args[@]}"}
