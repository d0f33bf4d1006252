#!/usr/bin/env bash
# What building and installing libws costs the people who use it, checked on real builds:
# - a top-level build with the default options installs libws.so/libws.a, ws.h and libws.pc
#   and nothing else, builds no test, and a program compiled against the installed copy
#   with pkg-config runs;
# - as a Meson subproject of a small parent project (tests/packaging/), libws adds no test,
#   builds no example, installs nothing, does not turn on werror, and the parent's program
#   links it statically and runs.
# Prints "ok - ..." / "not ok - ..." per check and "N passed, N failed".
#
#   tests/packaging.sh [WORK_DIR]     (default: a temporary directory, removed afterwards)
set -u

root=$(cd "$(dirname "$0")/.." && pwd)
if [ $# -ge 1 ]; then
    work=$1
    mkdir -p "$work"
else
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT
fi
passed=0
failed=0
check() { # check NAME COMMAND...: ok when COMMAND succeeds
    local name=$1
    shift
    if "$@" >"$work/check.log" 2>&1; then
        passed=$((passed + 1))
        echo "ok - $name"
    else
        failed=$((failed + 1))
        echo "not ok - $name  # $(tr '\n' ' ' <"$work/check.log" | cut -c1-400)"
    fi
}
finish() {
    echo "$passed passed, $failed failed"
    [ "$failed" -eq 0 ]
    exit $?
}

# ---- top level, default options
top="$work/top"
rm -rf "$top" "$work/prefix"
if ! meson setup "$top" "$root" --prefix "$work/prefix" >"$work/setup.log" 2>&1; then
    echo "not ok - meson setup with the default options  # $(tail -5 "$work/setup.log" | tr '\n' ' ')"
    failed=$((failed + 1))
    finish
fi
installed_top() {
    meson introspect --installed "$top" | python3 -c '
import json, os, sys
got = sorted(os.path.basename(p) for p in json.load(sys.stdin).values())
want = ["libws.a", "libws.pc", "libws.so", "libws.so.0", "libws.so.0.1.0", "ws.h"]
print("installs:", " ".join(got))
sys.exit(0 if [g for g in got if g not in want] == [] and "ws.h" in got and "libws.pc" in got else 1)'
}
check "default build installs only libws.so/.a, ws.h and libws.pc" installed_top
no_tests() { [ "$(meson introspect --tests "$1")" = "[]" ] || { meson introspect --tests "$1" | head -c 300; false; }; }
check "default build defines no test (tests are -Dtests=true)" no_tests "$top"
check "default build compiles" ninja -C "$top"
check "meson install" meson install -C "$top" --quiet
only_lib_installed() {
    local files
    files=$(cd "$work/prefix" && find . -type f -o -type l | sort)
    echo "$files"
    ! echo "$files" | grep -Ev '/(libws\.(a|so[.0-9]*|pc)|ws\.h)$'
}
check "the install tree holds the library, the header and the .pc file only" only_lib_installed
pc=$(find "$work/prefix" -name libws.pc | head -n 1)
libdir=$(dirname "$(find "$work/prefix" -name 'libws.so' | head -n 1)")
use_installed() {
    local flags
    flags=$(PKG_CONFIG_PATH=$(dirname "$pc") pkg-config --cflags --libs libws) &&
        echo "pkg-config: $flags" &&
        cc -std=c99 -Wall -Werror "$root/tests/packaging/parent.c" $flags -o "$work/parent-installed" &&
        LD_LIBRARY_PATH=$libdir "$work/parent-installed"
}
check "a program built with pkg-config against the installed libws runs" use_installed

# ---- as a subproject
parent="$work/parent"
rm -rf "$parent"
mkdir -p "$parent/subprojects"
cp "$root/tests/packaging/parent.meson" "$parent/meson.build"
cp "$root/tests/packaging/parent.c" "$parent/"
ln -s "$root" "$parent/subprojects/libws"
if ! meson setup "$parent/build" "$parent" >"$work/psetup.log" 2>&1; then
    echo "not ok - parent project with libws as a subproject configures  # $(tail -5 "$work/psetup.log" | tr '\n' ' ')"
    failed=$((failed + 1))
    finish
fi
parent_tests() {
    meson introspect --tests "$parent/build" | python3 -c '
import json, sys
names = sorted(t["name"] for t in json.load(sys.stdin))
print("tests:", names)
sys.exit(0 if names == ["parent"] else 1)'
}
check "subproject: the parent's meson test has the parent's test only" parent_tests
parent_installs() {
    meson introspect --installed "$parent/build" | python3 -c '
import json, os, sys
got = sorted(os.path.basename(p) for p in json.load(sys.stdin).values())
print("installs:", got)
sys.exit(0 if got == ["parent"] else 1)'
}
check "subproject: libws installs nothing into the parent's prefix" parent_installs
parent_targets() {
    meson introspect --targets "$parent/build" | python3 -c '
import json, sys
got = sorted((t["name"], t["type"]) for t in json.load(sys.stdin))
print("targets:", got)
sys.exit(0 if got == [("parent", "executable"), ("ws", "static library")] else 1)'
}
check "subproject: no example, test, fuzz program or libws.so is built, only libws.a and the parent" \
    parent_targets
werror_off() {
    meson introspect --buildoptions "$parent/build" | python3 -c '
import json, sys
vals = {o["name"]: o["value"] for o in json.load(sys.stdin)}
print("werror:", vals.get("werror"), "libws:werror:", vals.get("libws:werror"))
sys.exit(0 if vals.get("werror") is False and vals.get("libws:werror", False) is False else 1)'
}
check "subproject: libws does not turn werror on" werror_off
check "subproject: the parent builds" ninja -C "$parent/build"
static_link() {
    "$parent/build/parent" && ! ldd "$parent/build/parent" | grep libws
}
check "subproject: the parent's program runs, libws linked in statically" static_link
finish
