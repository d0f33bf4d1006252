#!/usr/bin/env bash
# Installs the interop tests' Node and browser peers when missing: the npm packages pinned in
# tests/interop/node (ws, playwright-core) into its node_modules, and Debian's chromium.
# Fails loudly (non-zero, with the reason) when a peer cannot be installed; never skips.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
. "$here/../retry.sh"
node_dir="$here/node"
chromium=/usr/bin/chromium

fail() {
    echo "install-peers: $*" >&2
    exit 1
}

# Node 20 or newer (playwright-core 1.64 needs it); Debian 12's own nodejs is 18.
command -v node >/dev/null || fail "node (>= 20) is not on PATH"
command -v npm >/dev/null || fail "npm is not on PATH"
node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)' ||
    fail "node $(node --version) is too old: the interop peers need node >= 20"

# The packages: reinstalled only when node_modules is missing or older than the lockfile.
# playwright-core never downloads a browser, but say so anyway in case a later version would.
stamp="$node_dir/node_modules/.package-lock.json"
if [ ! -f "$node_dir/node_modules/ws/package.json" ] ||
    [ ! -f "$node_dir/node_modules/playwright-core/package.json" ] ||
    [ ! -f "$stamp" ] || [ "$node_dir/package.json" -nt "$stamp" ] ||
    { [ -f "$node_dir/package-lock.json" ] && [ "$node_dir/package-lock.json" -nt "$stamp" ]; }; then
    echo "install-peers: npm packages into $node_dir/node_modules"
    export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
    if [ -f "$node_dir/package-lock.json" ]; then
        (cd "$node_dir" && retry npm ci --no-audit --no-fund --loglevel=error) ||
            fail "npm ci failed"
    else
        (cd "$node_dir" && retry npm install --no-audit --no-fund --loglevel=error) ||
            fail "npm install failed"
    fi
fi
(cd "$node_dir" && node -e 'require("ws"); require("playwright-core")') ||
    fail "ws or playwright-core does not load from $node_dir/node_modules"

# The browser: Debian's chromium (the driver points playwright-core at it).
if [ ! -x "$chromium" ]; then
    [ "$(id -u)" -eq 0 ] || fail "$chromium is missing; run as root, or: apt-get install -y chromium"
    echo "install-peers: apt-get install chromium"
    export DEBIAN_FRONTEND=noninteractive
    apt_update apt-get update -qq
    retry apt-get install -y -qq chromium >/dev/null || fail "apt-get install chromium failed"
    [ -x "$chromium" ] || fail "chromium installed but $chromium is still missing"
fi
"$chromium" --version >/dev/null 2>&1 || fail "$chromium --version failed"

# nginx, for the reverse-proxy test (test_nginx_proxy.py runs its own instance from a temp
# dir; Debian's package also sets up a system service, which a policy-rc.d may keep stopped).
if ! command -v nginx >/dev/null && [ ! -x /usr/sbin/nginx ]; then
    [ "$(id -u)" -eq 0 ] || fail "nginx is missing; run as root, or: apt-get install -y nginx"
    echo "install-peers: apt-get install nginx"
    export DEBIAN_FRONTEND=noninteractive
    apt_update apt-get update -qq
    retry apt-get install -y -qq nginx >/dev/null || fail "apt-get install nginx failed"
fi
nginx=$(command -v nginx || echo /usr/sbin/nginx)
"$nginx" -v >/dev/null 2>&1 || fail "$nginx -v failed"
