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

# apt_update COMMAND...: an `apt-get update` command, retried as above. A mirror can serve a
# stale index for one architecture for a while ("File has unexpected size ... Mirror sync in
# progress?"), and then every attempt fails; apt keeps the lists it already has, so this warns
# and lets the install that follows go ahead: it succeeds when the packages it needs are in
# the lists that did come, and fails naming the package otherwise.
apt_update() {
    retry "$@" && return 0
    echo "warning: '$*' did not refresh every package list; installing from the lists apt has" >&2
}
