#!/usr/bin/env bash
# The one test command: installs what the build and the tests need (Debian 12, as root),
# builds libws with gcc, clang, without SIMD and with the firmware size options (warnings
# are errors), runs every test - unit and conformance tests plain and under ASan+UBSan,
# corpus replays, interop tests against real peers, the NEON paths under qemu, 32-bit
# (i386) and big-endian (s390x) builds under qemu-user, the one-file build, a Cortex-M4
# firmware session under qemu-system-arm, a short libFuzzer run of every harness, valgrind
# memcheck - and prints "N passed, N failed" counted from the test programs' own
# results.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
. tests/retry.sh

need=()
command -v meson >/dev/null || need+=(meson)
command -v ninja >/dev/null || need+=(ninja-build)
command -v cc >/dev/null || need+=(gcc)
command -v clang >/dev/null || need+=(clang)
command -v valgrind >/dev/null || need+=(valgrind)
command -v clang-format >/dev/null || need+=(clang-format)
command -v gcovr >/dev/null || need+=(gcovr)
# libFuzzer's runtime ships apart from clang on Debian.
ls /usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a >/dev/null 2>&1 ||
    need+=(libclang-rt-14-dev)
command -v pkg-config >/dev/null || need+=(pkg-config)
pkg-config --exists cmocka 2>/dev/null || need+=(libcmocka-dev)
# permessage-deflate (RFC 7692) is built and tested when zlib is found.
pkg-config --exists zlib 2>/dev/null || need+=(zlib1g-dev)
/usr/bin/python3 -c 'import websockets' 2>/dev/null || need+=(python3-websockets)
# The chat cluster (examples/cluster.c, tests/interop/test_cluster*.py): hiredis, a real
# redis-server (the tests start their own on a free port), ip netns for the network test.
pkg-config --exists hiredis 2>/dev/null || need+=(libhiredis-dev)
command -v redis-server >/dev/null || need+=(redis-server)
command -v ip >/dev/null || need+=(iproute2)
# TLS and the event-loop integrations of the examples, and the tools of the wss:// tests:
# openssl makes a throwaway CA, certutil puts it in Chromium's NSS trust store.
pkg-config --exists openssl 2>/dev/null || need+=(libssl-dev)
command -v openssl >/dev/null || need+=(openssl)
command -v certutil >/dev/null || need+=(libnss3-tools)
pkg-config --exists libuv 2>/dev/null || need+=(libuv1-dev)
pkg-config --exists libevent 2>/dev/null || need+=(libevent-dev)
# The benchmark's comparison (tests/bench, docs/performance.md): wslay 1.1.1, no .pc file.
[ -e /usr/include/wslay/wslay.h ] || need+=(libwslay-dev)
# The NEON paths, cross-compiled and run under qemu (tests/neon.sh).
command -v aarch64-linux-gnu-gcc >/dev/null || need+=(gcc-aarch64-linux-gnu libc6-dev-arm64-cross)
command -v qemu-aarch64 >/dev/null || need+=(qemu-user)
# A 32-bit and a big-endian target under qemu-user (tests/cross.sh): cross compilers, and
# CMocka for each target from Debian multiarch (which brings the target's libc6 along).
foreign=()
for arch in i386 s390x; do
    [ -e /usr/lib/$arch-linux-gnu/pkgconfig/cmocka.pc ] || {
        foreign+=("$arch")
        need+=("libcmocka-dev:$arch")
    }
done
# The Cortex-M4 firmware build and its example under qemu-system-arm (tests/baremetal.sh).
command -v arm-none-eabi-gcc >/dev/null || need+=(gcc-arm-none-eabi)
[ -e /usr/lib/arm-none-eabi/newlib/thumb/v7e-m/nofp/libc_nano.a ] ||
    need+=(libnewlib-arm-none-eabi)
command -v qemu-system-arm >/dev/null || need+=(qemu-system-arm)
command -v i686-linux-gnu-gcc >/dev/null || need+=(gcc-i686-linux-gnu libc6-dev-i386-cross)
command -v s390x-linux-gnu-gcc >/dev/null || need+=(gcc-s390x-linux-gnu libc6-dev-s390x-cross)
if [ ${#need[@]} -gt 0 ]; then
    echo "installing: ${need[*]}"
    if [ "$(id -u)" -ne 0 ]; then
        echo "run as root (or install: apt-get install ${need[*]})" >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    for arch in "${foreign[@]}"; do
        dpkg --add-architecture "$arch"
    done
    apt_update apt-get update -qq
    # No recommends: qemu-system-arm's would bring a desktop's worth of media libraries.
    retry apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# Real peers for the interop tests: Node's ws and playwright-core (npm), Chromium (apt).
bash tests/interop/install-peers.sh

status=0
logs=()

# gcc: everything, unit tests also under the sanitizers.
if [ ! -d build/meson-private ]; then
    CC=gcc meson setup build --werror -Dtests=true >/dev/null
fi
mkdir -p build/logs
# The 32-bit and big-endian builds under qemu-user run beside the native steps; their
# results are collected at the end.
setsid bash tests/cross.sh >build/logs/cross.log 2>&1 &
cross_pid=$!
# Should a step stop the script early, the background job goes with it.
trap 'kill -- -"$cross_pid" 2>/dev/null || true' EXIT

ninja -C build
meson test -C build --print-errorlogs --num-processes 2 || status=1
logs+=(build/meson-logs/testlog.json)

# clang: the library, examples, unit and conformance tests build warning-free and pass,
# plainly and under clang's sanitizers (which check a few things gcc's do not).
if [ ! -d build-clang/meson-private ]; then
    CC=clang meson setup build-clang --werror -Dtests=true >/dev/null
fi
ninja -C build-clang
meson test -C build-clang --suite unit --suite asan --suite conformance \
    --suite conformance-asan --print-errorlogs --num-processes 2 || status=1
logs+=(build-clang/meson-logs/testlog.json)

# The portable C alone (-Dsimd=false), as on a machine without SSE2/AVX2/NEON, and without
# the default allocator (-Ddefault_alloc=false), as on a host without a heap.
if [ ! -d build-nosimd/meson-private ]; then
    CC=gcc meson setup build-nosimd --werror -Dtests=true -Dsimd=false -Ddefault_alloc=false \
        -Dexamples=false -Dinterop=false \
        >/dev/null
fi
ninja -C build-nosimd
meson test -C build-nosimd --suite unit --suite conformance --print-errorlogs \
    --num-processes 2 || status=1
logs+=(build-nosimd/meson-logs/testlog.json)

# The firmware options of docs/size.md (-Dsmall=true: the rolled SHA-1, the table-less UTF-8
# and token checks; -Derror_strings=false: codes only, the library's own reason phrases
# only): the unit and conformance tests, which know what those builds write.
if [ ! -d build-small/meson-private ]; then
    CC=gcc meson setup build-small --werror -Dtests=true -Dsmall=true -Derror_strings=false \
        -Dsanitize_tests=false -Dexamples=false -Dinterop=false >/dev/null
fi
ninja -C build-small
meson test -C build-small --suite unit --suite conformance --print-errorlogs \
    --num-processes 2 || status=1
logs+=(build-small/meson-logs/testlog.json)

# Every parser under libFuzzer for a short budget (FUZZ_SECONDS each, default 20); a crash
# fails the run and its input is kept in fuzz/crashes/. Then the plain unit, conformance and
# corpus-replay programs under valgrind memcheck: no error and no leak.
logged() { # logged LOG COMMAND...: runs it, shows and keeps its output, notes a failure
    local log=$1 rc
    shift
    set +e
    "$@" 2>&1 | tee "$log"
    rc=${PIPESTATUS[0]}
    set -e
    if [ "$rc" -ne 0 ]; then
        status=1
        # A step that failed without naming a failed check still counts as one.
        grep -q '^not ok' "$log" || echo "not ok - $* (exit status $rc)" | tee -a "$log"
    fi
    logs+=("$log")
}
logged build/logs/format.log bash tests/format.sh
logged build/logs/neon.log bash tests/neon.sh
logged build/logs/amalgamation.log bash tests/amalgamation.sh
logged build/logs/baremetal.log bash tests/baremetal.sh
logged build/logs/size.log bash tests/size.sh
logged build/logs/fuzz.log bash fuzz/run.sh
logged build/logs/valgrind.log bash tests/valgrind.sh build

# The cross builds started at the top: their per-case results, and a line for a target that
# did not build.
set +e
wait "$cross_pid"
rc=$?
set -e
trap - EXIT
cat build/logs/cross.log
if [ "$rc" -ne 0 ]; then
    status=1
    grep -q '^not ok' build/logs/cross.log || ls build-cross-*/meson-logs/testlog.json \
        >/dev/null 2>&1 || echo "not ok - tests/cross.sh (exit status $rc)" >>build/logs/cross.log
fi
logs+=(build/logs/cross.log)
for t in build-cross-*/meson-logs/testlog.json; do
    [ -e "$t" ] && logs+=("$t")
done

# Line and branch coverage of lib/ (gcovr), from the unit tests and the corpus replays: a
# report, never a verdict (docs/coverage.md says what is not covered and why).
logged build/logs/coverage.log bash tests/coverage.sh

python3 tests/summary.py "${logs[@]}" || status=1
exit $status
