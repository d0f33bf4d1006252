#!/bin/sh
# The README demo: builds libws and its examples (into build-demo), starts the echo server on
# a free port, talks to it with ws-client, then stops it. Exits non-zero if any step fails.
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
build="$root/build-demo"
tmp=$(mktemp -d)
server_pid=

cleanup() {
    if [ -n "$server_pid" ]; then
        kill "$server_pid" 2>/dev/null || true
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

say() { printf '\n== %s\n' "$*"; }
fail() { printf 'demo: %s\n' "$*" >&2; exit 1; }
show() { printf '$ %s\n' "$*"; }

# Build tools: installed with apt-get when missing (as root), else say what is needed.
if ! command -v meson >/dev/null || ! command -v ninja >/dev/null || ! command -v cc >/dev/null
then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        say "installing build tools"
        . "$root/tests/retry.sh"
        apt_update apt-get update -qq
        retry apt-get install -y -qq meson ninja-build gcc pkg-config >/dev/null ||
            fail "apt-get install meson ninja-build gcc pkg-config failed"
    else
        fail "needs meson, ninja and a C compiler (apt-get install meson ninja-build gcc)"
    fi
fi

if [ ! -f "$build/build.ninja" ]; then
    say "building libws and the examples in build-demo"
    meson setup "$build" "$root" -Dtests=false >"$tmp/build.log" 2>&1 ||
        { cat "$tmp/build.log" >&2; fail "meson setup failed"; }
fi
ninja -C "$build" >"$tmp/build.log" 2>&1 || { cat "$tmp/build.log" >&2; fail "build failed"; }

server="$build/examples/echo-server"
client="$build/examples/ws-client"
limit=
if command -v timeout >/dev/null; then
    limit="timeout 10"
fi

say "starting the echo server on a free port"
show "echo-server --port 0 --verbose"
"$server" --port 0 --verbose >"$tmp/server.out" 2>"$tmp/server.log" &
server_pid=$!
tries=0
until grep -q '^listening on' "$tmp/server.out"; do
    kill -0 "$server_pid" 2>/dev/null || fail "echo-server exited: $(cat "$tmp/server.log")"
    tries=$((tries + 1))
    [ "$tries" -le 100 ] || fail "echo-server did not start within 10 s"
    sleep 0.1
done
cat "$tmp/server.out"
port=$(sed -n 's/^listening on .*:\([0-9][0-9]*\)$/\1/p' "$tmp/server.out")
url="ws://127.0.0.1:$port"

say "one message with --send; --verbose shows the opening handshake"
show "ws-client --verbose --send 'Hello, libws!' $url/demo"
$limit "$client" --verbose --send 'Hello, libws!' "$url/demo" 2>&1 ||
    fail "ws-client --send failed"

say "an interactive session, typed by a script (stdin lines are messages)"
printf '%s\n' 'first line' 'ünïcödé works too' '/ping are you there?' '/close 1000 bye' \
    >"$tmp/session.txt"
sed 's/^/  | /' "$tmp/session.txt"
show "ws-client $url/chat < session.txt"
$limit "$client" "$url/chat" <"$tmp/session.txt" 2>&1 || fail "interactive session failed"

say "stopping the server (SIGTERM)"
kill -TERM "$server_pid"
status=0
wait "$server_pid" || status=$?
server_pid=
echo "echo-server exited with status $status; its log:"
sed 's/^/  /' "$tmp/server.log"
[ "$status" = 0 ] || fail "echo-server did not exit cleanly"

say "done"
