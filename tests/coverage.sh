#!/usr/bin/env bash
# Measures test coverage of lib/: builds with gcc --coverage in build-cov, runs the unit
# tests and (when the build has them) the fuzz corpus replays, and prints gcovr's line and
# branch tables for lib/ with the totals. The percentages are a report, never a verdict:
# the script fails only when the build or a test fails. See docs/coverage.md.
#
#   tests/coverage.sh            (COV_BUILD=build-cov to use another directory)
#   COV_HTML=1 tests/coverage.sh also writes build-cov/coverage/index.html
set -u

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
build=${COV_BUILD:-build-cov}

for tool in gcovr meson ninja gcc; do
    if ! command -v "$tool" >/dev/null; then
        echo "coverage: $tool is not installed" >&2
        exit 1
    fi
done

if [ ! -d "$build/meson-private" ]; then
    CC=gcc meson setup "$build" -Dtests=true -Db_coverage=true -Dsanitize_tests=false -Dinterop=false \
        -Dexamples=false >/dev/null || exit 1
fi
ninja -C "$build" >/dev/null || { echo "coverage: build failed" >&2; exit 1; }

# Counters from an earlier run would add up; start from zero.
find "$build" -name '*.gcda' -delete

suites=(--suite unit)
if meson test -C "$build" --list 2>/dev/null | grep -q 'fuzz-replay /'; then
    suites+=(--suite fuzz-replay)
fi
if ! meson test -C "$build" "${suites[@]}" --num-processes 2 >"$build/coverage-tests.log" 2>&1
then
    tail -n 30 "$build/coverage-tests.log"
    echo "coverage: tests failed" >&2
    exit 1
fi
echo "coverage of lib/ from: ${suites[*]//--suite /}"

# gcovr 5.x: the text report is per file; -b switches it to branches.
gcovr -r "$root" --filter "$root/lib/" "$build" || exit 1
gcovr -r "$root" --filter "$root/lib/" -b "$build" || exit 1
# (-o names a real file: gcovr replaces its output file, and /dev/null must stay a device)
gcovr -r "$root" --filter "$root/lib/" --print-summary -o "$build/coverage-summary.txt" "$build" || exit 1
if [ "${COV_HTML:-0}" = 1 ]; then
    mkdir -p "$build/coverage"
    gcovr -r "$root" --filter "$root/lib/" --html-details "$build/coverage/index.html" \
        "$build" && echo "html report: $build/coverage/index.html"
fi
exit 0
