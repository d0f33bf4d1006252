# Sourced by the test scripts that print TAP. check NAME COMMAND...: runs the command and
# prints "ok - NAME", or its output's last lines as comments and "not ok - NAME" (then sets
# status=1 and returns 1). Needs $tmp, a scratch directory, and $status.
check() {
    local name=$1
    shift
    if "$@" >"$tmp/check.out" 2>&1; then
        echo "ok - $name"
    else
        sed 's/^/# /' "$tmp/check.out" | tail -n 30
        echo "not ok - $name"
        status=1
        return 1
    fi
}
