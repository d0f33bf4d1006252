#!/usr/bin/env bash
# Builds the libFuzzer harnesses with clang in build-fuzz and runs each one for a short,
# fixed budget on a scratch copy of its seed corpus (the checked-in corpus never grows here).
# A crash, leak, timeout or failed invariant saves its input as fuzz/crashes/<harness>-*
# and makes the script fail. Prints "ok - fuzz <harness> (...)" / "not ok - fuzz <harness>"
# per harness and a final "N passed, N failed".
#
#   fuzz/run.sh [harness ...]      (default: all)
#   FUZZ_SECONDS=20   budget per harness, in seconds
#   FUZZ_JOBS=2       harnesses run at once (each uses one core; default: 2, or 1 on one core)
#   FUZZ_BUILD=build-fuzz
set -u

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

seconds=${FUZZ_SECONDS:-20}
cores=$(nproc 2>/dev/null || echo 1)
jobs=${FUZZ_JOBS:-$((cores >= 2 ? 2 : 1))}
build=${FUZZ_BUILD:-build-fuzz}

# harness  max_len  dictionaries (fuzz/dict/*.dict, joined)
harnesses="
fuzz_handshake_server 4096 http
fuzz_handshake_client 4096 http
fuzz_frame_server     4096 frame,utf8
fuzz_frame_client     4096 frame,utf8
fuzz_conn_server      4096 http,frame
fuzz_conn_client      4096 http,frame
fuzz_split            4096 http,frame
fuzz_roundtrip        4096 api,utf8
fuzz_utf8             1024 utf8
fuzz_mask             1024 frame
fuzz_api              4096 api,frame,http
fuzz_origin           512  http
fuzz_token            1024 http
fuzz_bus              1024 bus
fuzz_http_parser      4096 http
fuzz_deflate_negotiate 1024 http,deflate
fuzz_deflate_data     8192 deflate
fuzz_conn_deflate     8192 frame,deflate
"

if [ $# -gt 0 ]; then
    wanted=" $* "
else
    wanted=""
fi

if [ ! -d "$build/meson-private" ]; then
    CC=clang meson setup "$build" -Dfuzz=true -Dtests=false -Dexamples=false >/dev/null ||
        { echo "not ok - fuzz build (meson setup)"; echo "0 passed, 1 failed"; exit 1; }
fi
if ! ninja -C "$build" >"$build/fuzz-build.log" 2>&1; then
    tail -n 30 "$build/fuzz-build.log"
    echo "not ok - fuzz build"
    echo "0 passed, 1 failed"
    exit 1
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/libws-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p fuzz/crashes

# Runs one harness; leaves its result line in $work/<harness>.result.
run_one() {
    local name=$1 max_len=$2 dicts=$3
    local dir="$work/$name" log="$work/$name.log" dict="$work/$name.dict" d rc
    mkdir -p "$dir"
    cp fuzz/corpus/"$name"/* "$dir"/ 2>/dev/null
    cp fuzz/regressions/"$name"/* "$dir"/ 2>/dev/null
    : >"$dict"
    for d in ${dicts//,/ }; do
        cat "fuzz/dict/$d.dict" >>"$dict"
    done
    "$build/fuzz/$name" "$dir" -dict="$dict" -max_len="$max_len" \
        -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="fuzz/crashes/$name-" >"$log" 2>&1
    rc=$?
    local execs cov ft
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1 | cut -d' ' -f2)
    ft=$(grep -o 'ft: [0-9]*' "$log" | tail -n 1 | cut -d' ' -f2)
    if [ $rc -eq 0 ]; then
        echo "ok - fuzz $name (${execs:-?} execs, cov: ${cov:-?}, ft: ${ft:-?})" >"$work/$name.result"
    else
        {
            echo "not ok - fuzz $name (exit $rc)"
            grep -E 'invariant failed|ERROR: |SUMMARY: |runtime error|Test unit written' "$log" |
                head -n 8 | sed 's/^/#   /'
        } >"$work/$name.result"
    fi
}

names=()
while read -r name max_len dicts; do
    [ -n "$name" ] || continue
    if [ -n "$wanted" ] && [[ "$wanted" != *" $name "* ]]; then
        continue
    fi
    names+=("$name")
    run_one "$name" "$max_len" "$dicts" &
    while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do
        wait -n
    done
done <<<"$harnesses"
wait

passed=0
failed=0
for name in "${names[@]}"; do
    cat "$work/$name.result"
    if grep -q '^ok' "$work/$name.result"; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
    fi
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
