#!/usr/bin/env bash
# libws as firmware, checked on an x86-64 host with Debian's arm-none-eabi toolchain:
#  1. the Meson cross build for a Cortex-M4 (tests/cross/cortex-m4.ini): a static library
#     only, compiled without -fPIC;
#  2. examples/baremetal linked against it (newlib-nano, no heap) and run under
#     qemu-system-arm (mps2-an386, semihosting): a whole server session, its TAP relayed;
#  3. freestanding: the library compiles with -ffreestanding and its objects need nothing
#     from the C library but memcpy, memmove, memset, memcmp, memchr and strlen;
#  4. no 64-bit division helper on the per-message paths of a Cortex-M0+ build.
# Prints TAP; exits non-zero on a failure. Installs the toolchain when missing (as root).
set -uo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
status=0
build=build-cortex-m4
allowed="memchr memcmp memcpy memmove memset strlen"

if ! command -v arm-none-eabi-gcc >/dev/null || ! command -v qemu-system-arm >/dev/null ||
    [ ! -e /usr/lib/arm-none-eabi/newlib/thumb/v7e-m/nofp/libc_nano.a ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "1..0 # SKIP arm-none-eabi-gcc, newlib or qemu-system-arm missing; not root"
        exit 0
    fi
    . tests/retry.sh
    apt_update apt-get -o DPkg::Lock::Timeout=600 update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive retry apt-get -o DPkg::Lock::Timeout=600 install -y -qq \
        --no-install-recommends gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm \
        >/dev/null
fi
echo "# $(arm-none-eabi-gcc --version | head -n 1); $(qemu-system-arm --version | head -n 1)"

. tests/tap.sh

# 1. The Meson cross build.
if [ ! -d "$build/meson-private" ]; then
    check "meson setup for the Cortex-M4 (tests/cross/cortex-m4.ini)" \
        meson setup "$build" --cross-file tests/cross/cortex-m4.ini --werror || exit 1
fi
check "Cortex-M4 build of the static library" nice ninja -C "$build" || exit 1
check "only the static library is built" test -e "$build/libws.a" -a ! -e "$build/libws.so"
check "no -fPIC in the firmware build" \
    bash -c "! grep -q -- '-fPIC' '$build/compile_commands.json'"

# 2. The example, linked against that library, run under qemu.
m4=(-std=c99 -mcpu=cortex-m4 -mthumb -Os -ffunction-sections -fdata-sections -Wall -Wextra
    -Wpedantic -Wshadow -Wconversion -Wstrict-prototypes -Wmissing-prototypes -Werror)
link=(-nostartfiles --specs=nano.specs -T examples/baremetal/mps2-an386.ld -Wl,--gc-sections)
check "examples/baremetal links (newlib-nano, no heap)" \
    arm-none-eabi-gcc "${m4[@]}" -Iinclude -o "$tmp/echo.elf" examples/baremetal/main.c \
    examples/baremetal/startup.c "$build/libws.a" "${link[@]}" -Wl,-Map="$tmp/echo.map"
if [ -e "$tmp/echo.elf" ]; then
    check "no malloc, free or sbrk in the firmware image" \
        bash -c "! arm-none-eabi-nm '$tmp/echo.elf' | grep -wE '_?(malloc|free|realloc|_sbrk|sbrk)'"
    timeout 60 qemu-system-arm -M mps2-an386 -nographic -monitor none -serial none \
        -semihosting-config enable=on,target=native -kernel "$tmp/echo.elf" \
        >"$tmp/qemu.log" 2>&1
    rc=$?
    sed -e 's/^\(ok\|not ok\) [0-9]* - /\1 - baremetal: /' "$tmp/qemu.log"
    grep -q '^# session complete' "$tmp/qemu.log" && [ "$rc" -eq 0 ] ||
        { echo "not ok - baremetal session under qemu-system-arm (exit status $rc)"; status=1; }
    grep -q '^not ok' "$tmp/qemu.log" && status=1
    arm-none-eabi-size "$tmp/echo.elf" | sed 's/^/# /'
fi

# The size options through Meson (docs/size.md): the smallest server build, and the same
# session on it.
small=build-cortex-m4-small
if [ ! -d "$small/meson-private" ]; then
    check "meson setup with -Droles=server -Derror_strings=false -Dsmall=true -Drequest_hooks=false" \
        meson setup "$small" --cross-file tests/cross/cortex-m4.ini --werror -Droles=server \
        -Derror_strings=false -Dsmall=true -Drequest_hooks=false
fi
if check "Cortex-M4 build with the size options" nice ninja -C "$small" &&
    check "examples/baremetal links against it" \
        arm-none-eabi-gcc "${m4[@]}" -Iinclude -o "$tmp/small.elf" examples/baremetal/main.c \
        examples/baremetal/startup.c "$small/libws.a" "${link[@]}" -Wl,-Map="$tmp/small.map"; then
    timeout 60 qemu-system-arm -M mps2-an386 -nographic -monitor none -serial none \
        -semihosting-config enable=on,target=native -kernel "$tmp/small.elf" >"$tmp/qemu.log" 2>&1
    rc=$?
    if [ "$rc" -eq 0 ] && grep -q '^# session complete' "$tmp/qemu.log" &&
        ! grep -q '^not ok' "$tmp/qemu.log"; then
        echo "ok - the session passes on the smallest build"
    else
        sed 's/^/# /' "$tmp/qemu.log" | grep -v '^# ok'
        echo "not ok - the session passes on the smallest build (exit status $rc)"
        status=1
    fi
    echo "# libws in that image: $(python3 tests/map_share.py "$tmp/small.map" libws.a)"
fi

# The connection's own state on this target (docs/connection.md), measured by the compiler.
printf '#include "conn.h"\nconst char ws_conn_bytes[sizeof(ws_conn)] = {0};\n' >"$tmp/sizeof.c"
if arm-none-eabi-gcc -std=c99 -mcpu=cortex-m4 -mthumb -Iinclude -Ilib -c "$tmp/sizeof.c" \
    -o "$tmp/sizeof.o"; then
    echo "# sizeof(ws_conn) on the Cortex-M4: $((16#$(arm-none-eabi-nm -S "$tmp/sizeof.o" |
        awk '$4 == "ws_conn_bytes" {print $2}')))"
fi

# 3. Freestanding: the one-file build with -ffreestanding, and the Meson build's objects.
python3 tools/amalgamate.py "$tmp/amal" >/dev/null
check "libws compiles with -ffreestanding" \
    arm-none-eabi-gcc "${m4[@]}" -ffreestanding -DWS_NO_DEFAULT_ALLOC -c "$tmp/amal/libws.c" \
        -o "$tmp/free.o"
needs() { # the C library symbols the objects of an archive or object use
    arm-none-eabi-nm -u "$@" | awk 'NF == 2 {print $2}' | sort -u >"$tmp/undef"
    arm-none-eabi-nm --defined-only "$@" | awk 'NF == 3 {print $3}' | sort -u >"$tmp/def"
    comm -23 "$tmp/undef" "$tmp/def" | grep -v '^__aeabi_' | tr '\n' ' ' | sed 's/ $//'
}
for obj in "$tmp/free.o" "$build/libws.a"; do
    got=$(needs "$obj")
    echo "# $(basename "$obj") needs: $got"
    if [ "$got" = "$allowed" ]; then
        echo "ok - $(basename "$obj") needs only $allowed"
    else
        echo "not ok - $(basename "$obj") needs only $allowed (it needs: $got)"
        status=1
    fi
done

# 4. The per-message paths of a Cortex-M0+ build (no divide instruction), as built by default
#    and with WS_SMALL (whose UTF-8 and masking loops are their own): no division helper.
for variant in default WS_SMALL; do
    defs=()
    [ "$variant" = default ] || defs=("-D$variant")
    if check "libws compiles for the Cortex-M0+ ($variant)" \
        arm-none-eabi-gcc -std=c99 -mcpu=cortex-m0plus -mthumb -Os -ffunction-sections \
        -fdata-sections "${defs[@]}" -c "$tmp/amal/libws.c" -o "$tmp/m0.o"; then
        python3 tests/hot_paths.py arm-none-eabi-objdump "$tmp/m0.o" |
            sed "s/^\(ok\|not ok\) - /\1 - Cortex-M0+ ($variant): /" || status=1
    fi
done
exit $status
