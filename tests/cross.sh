#!/usr/bin/env bash
# Builds libws for a 32-bit target (i386) and a big-endian one (s390x) with Debian's cross
# compilers and Meson cross files (tests/cross/*.ini), then runs the unit, conformance and
# corpus-replay tests under qemu-user. CMocka for each target comes from Debian multiarch.
# Build dirs: build-cross-<target>; their meson-logs/testlog.json hold the per-case results
# (tests/run.sh counts them). Prints "not ok" lines only for a target that failed to set up
# or build; exits non-zero when anything failed. Installs what is missing when run as root.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
targets=(i386 s390x)
declare -A gcc_of=([i386]=i686-linux-gnu-gcc [s390x]=s390x-linux-gnu-gcc)
declare -A pkgs_of=(
    [i386]="gcc-i686-linux-gnu libc6-dev-i386-cross libcmocka-dev:i386"
    [s390x]="gcc-s390x-linux-gnu libc6-dev-s390x-cross libcmocka-dev:s390x")

missing=()
for t in "${targets[@]}"; do
    if ! command -v "${gcc_of[$t]}" >/dev/null || ! command -v "qemu-$t" >/dev/null ||
        [ ! -e "/usr/lib/$t-linux-gnu/pkgconfig/cmocka.pc" ]; then
        missing+=("$t")
    fi
done
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "1..0 # SKIP cross tools for ${missing[*]} missing and not root to install them"
        exit 0
    fi
    . tests/retry.sh
    list=(qemu-user)
    for t in "${missing[@]}"; do
        dpkg --add-architecture "$t"
        read -ra p <<<"${pkgs_of[$t]}"
        list+=("${p[@]}")
    done
    echo "# installing ${list[*]}" >&2
    apt_update apt-get -o DPkg::Lock::Timeout=600 update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive retry apt-get -o DPkg::Lock::Timeout=600 install -y -qq \
        --no-install-recommends "${list[@]}" >/dev/null
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
status=0
for t in "${targets[@]}"; do
    dir=build-cross-$t
    echo "# $t: $("${gcc_of[$t]}" --version | head -n 1), run by $(qemu-"$t" --version | head -n 1)"
    if [ ! -d "$dir/meson-private" ]; then
        # Sanitizers do not run under qemu-user; the examples and interop need the host.
        if ! meson setup "$dir" --cross-file "tests/cross/$t.ini" --werror -Dtests=true -Dexamples=false \
            -Dinterop=false -Dsanitize_tests=false >"$tmp/setup.log" 2>&1; then
            cat "$tmp/setup.log"
            echo "not ok - $t: meson setup"
            status=1
            continue
        fi
    fi
    rm -f "$dir/meson-logs/testlog.json" # no stale results when this run fails to build
    if ! nice ninja -C "$dir" >"$tmp/build.log" 2>&1; then
        tail -n 40 "$tmp/build.log"
        echo "not ok - $t: build"
        status=1
        continue
    fi
    # Per-case results land in $dir/meson-logs/testlog.json.
    meson test -C "$dir" --suite unit --suite conformance --suite fuzz-replay \
        --print-errorlogs --num-processes 2 || status=1
done
exit $status
