# Sourced by the test scripts. retry COMMAND...: runs the command up to three times, 10 s and
# then 20 s apart, for the steps that go over the network (apt-get, npm), so that one dropped
# connection to a mirror does not end a CI run before any test has run.
retry() {
    local attempt
    for attempt in 1 2 3; do
        "$@" && return 0
        [ "$attempt" -lt 3 ] || break
        echo "retry: '$*' failed; trying again in $((attempt * 10)) s" >&2
        sleep $((attempt * 10))
    done
    return 1
}
