#!/usr/bin/env bash
# Checks the one-file build: tools/amalgamate.py writes libws.c + ws.h, which must compile
# warning-free on its own with gcc and clang; the example programs must build from those two
# files alone (no lib/, no Meson), and the CMocka unit tests must pass linked against it
# (they include a few private headers from lib/ to reach internals, as in the Meson build).
# Prints TAP: one line per check and one per unit test case (CMocka's TAP output).
set -uo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
amal=$tmp/amalgamation
flags=(-std=c99 -O2 -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wstrict-prototypes
    -Wmissing-prototypes -Wvla -Werror -DWS_HAVE_DEFLATE=1) # with zlib, as the Meson build here
status=0

. tests/tap.sh

check "amalgamate: tools/amalgamate.py writes libws.c and ws.h" \
    python3 tools/amalgamate.py "$amal" || exit 1
echo "# libws.c: $(wc -l <"$amal/libws.c") lines"
check "amalgamation compiles with clang, warnings as errors" \
    clang "${flags[@]}" -c "$amal/libws.c" -o "$tmp/libws-clang.o"
check "amalgamation compiles with gcc, warnings as errors" \
    gcc "${flags[@]}" -c "$amal/libws.c" -o "$tmp/libws.o" || exit 1

# The size options of docs/size.md compile, alone and as a firmware build combines them
# (no vector path there: clang warns of code only another option uses), and a build with
# one role left out refuses it.
for opt in WS_NO_CLIENT WS_NO_SERVER WS_NO_ERROR_STRINGS WS_SMALL WS_NO_REQUEST_HOOKS \
    WS_NO_SIMD "WS_SMALL WS_NO_SIMD" \
    "WS_NO_CLIENT WS_NO_ERROR_STRINGS WS_SMALL WS_NO_REQUEST_HOOKS WS_NO_SIMD"; do
    defs="-D${opt// / -D}" name=${opt// /-}
    check "amalgamation compiles with $defs (gcc and clang)" \
        bash -c "gcc ${flags[*]} $defs -c '$amal/libws.c' -o '$tmp/libws-$name.o' &&
                 clang ${flags[*]} $defs -c '$amal/libws.c' -o '$tmp/libws-clang-$name.o'"
done
for opt in WS_NO_CLIENT WS_NO_SERVER; do
    if check "roles_check builds with -D$opt" gcc -I"$amal" "${flags[@]}" "-D$opt" \
        -o "$tmp/roles-$opt" tests/roles_check.c "$tmp/libws-$opt.o" -lz; then
        "$tmp/roles-$opt" | sed "s/^\(ok\|not ok\) - /\1 - -D$opt: /" || status=1
    fi
done

# The examples, from the amalgamation alone: only its directory is on the include path.
ex=(-I"$amal" "${flags[@]}")
check "chat page embedded" python3 examples/embed.py examples/chat.html "$tmp/chat_page.c" chat_page
# Each example with the example sources it links (as examples/meson.build lists them), over
# OpenSSL and hiredis as in the Meson build.
declare -A srcs=(
    [frame-demo]="examples/common.c"
    [echo-server]="examples/echo_app.c examples/deflate_flags.c examples/tls.c examples/common.c"
    [ws-client]="examples/tls.c examples/deflate_flags.c examples/common.c examples/backoff.c"
    [chat-server]="examples/cluster.c examples/deflate_flags.c examples/bus.c examples/rooms.c examples/common.c examples/backoff.c $tmp/chat_page.c"
)
declare -A libs=([frame-demo]="" [echo-server]="-lssl -lcrypto" [ws-client]="-lssl -lcrypto"
    [chat-server]="-lhiredis")
for prog in frame-demo echo-server ws-client chat-server; do
    # shellcheck disable=SC2086
    check "example $prog builds from libws.c + ws.h" \
        gcc "${ex[@]}" -DEX_HAVE_OPENSSL -o "$tmp/$prog" "examples/$prog.c" ${srcs[$prog]} \
        "$tmp/libws.o" ${libs[$prog]} -lz
done
check "frame-demo runs" "$tmp/frame-demo"

# The unit tests against the amalgamation, each case a TAP line: as built by default, and
# with WS_SMALL (the rolled SHA-1 and the table-less UTF-8 and token checks must agree) and
# WS_NO_REQUEST_HOOKS (the tests of the hooks then check that they are refused); the Meson
# build-small of tests/run.sh runs WS_SMALL with the hooks.
check "amalgamation compiles with -DWS_SMALL -DWS_NO_REQUEST_HOOKS" \
    gcc "${flags[@]}" -DWS_SMALL -DWS_NO_REQUEST_HOOKS -c "$amal/libws.c" -o "$tmp/libws-nohooks.o"
for variant in default "WS_SMALL WS_NO_REQUEST_HOOKS"; do
    obj=$tmp/libws.o label="" defs=()
    if [ "$variant" != default ]; then
        obj=$tmp/libws-nohooks.o label=" ($variant)"
        read -ra defs <<<"-D${variant// / -D}"
    fi
    for src in tests/test_*.c; do
        name=$(basename "$src" .c)
        check "$name builds against the amalgamation$label" \
            gcc -I"$amal" -Ilib "${flags[@]}" "${defs[@]}" -Wno-missing-field-initializers \
            -o "$tmp/$name" "$src" "$obj" -lcmocka -lz || continue
        if ! CMOCKA_MESSAGE_OUTPUT=TAP "$tmp/$name" >"$tmp/tap" 2>&1; then
            status=1
            grep -q '^not ok' "$tmp/tap" ||
                echo "not ok - $name$label (exit status, see above)" >>"$tmp/tap"
        fi
        sed -e "s/^\(ok\|not ok\) [0-9]* - /\1 - $name$label: /" \
            -e '/^\(ok\|not ok\)/!s/^/# /' "$tmp/tap"
    done
done
exit $status
