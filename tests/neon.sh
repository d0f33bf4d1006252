#!/usr/bin/env bash
# Checks the NEON paths on an x86-64 host: cross-compiles tests/neon_mask_check.c (with
# lib/mask.c) and tests/neon_utf8_check.c (with lib/utf8.c) for AArch64 and runs them under
# qemu-aarch64. Installs the cross compiler and
# qemu with apt-get when missing (needs root or sudo). Prints TAP; exits non-zero on failure.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cc=aarch64-linux-gnu-gcc
sysroot=/usr/aarch64-linux-gnu

have_tools() {
    command -v "$cc" >/dev/null && command -v qemu-aarch64 >/dev/null &&
        [ -e "$sysroot/include/stdio.h" ]
}

if ! have_tools; then
    sudo=""
    if [ "$(id -u)" -ne 0 ]; then
        if command -v sudo >/dev/null; then
            sudo="sudo"
        else
            echo "1..0 # SKIP $cc or qemu-aarch64 missing and not root to install them"
            exit 0
        fi
    fi
    echo "# installing gcc-aarch64-linux-gnu, libc6-dev-arm64-cross, qemu-user" >&2
    . "$(dirname "$0")/retry.sh"
    apt_update $sudo apt-get -qq update >/dev/null
    DEBIAN_FRONTEND=noninteractive retry $sudo apt-get -y -qq install \
        gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user >/dev/null
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# The library's own warning set, so that the NEON code is held to it too.
build() { # build NAME SOURCES...
    local name=$1
    shift
    "$cc" -std=c99 -O2 -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wstrict-prototypes \
        -Wmissing-prototypes -Wvla -Werror -I"$root/include" -I"$root/lib" "$@" -o "$tmp/$name"
}
build mask_check "$root/lib/mask.c" "$root/tests/neon_mask_check.c"
build utf8_check "$root/lib/utf8.c" "$root/lib/error.c" "$root/tests/neon_utf8_check.c"
echo "# $("$cc" --version | head -n 1), run by $(qemu-aarch64 --version | head -n 1)"
status=0
qemu-aarch64 -L "$sysroot" "$tmp/mask_check" || status=1
qemu-aarch64 -L "$sysroot" "$tmp/utf8_check" || status=1
exit $status
