#!/usr/bin/env bash
# Measures what the HTTP instrumentation costs the demo service: requests/sec under wrk with and
# without it (examples/service --no-instrumentation registers the same handlers unwrapped).
#
#   scripts/http_overhead.sh [SERVICE_BINARY]
#
# Environment: RUNS (runs per mode, default 5), DURATION (seconds per run, default 5),
# CONNECTIONS (default 16), THREADS (wrk threads, default 1), ENDPOINT (default /v1/events/1),
# SERVER_CPUS and WRK_CPUS (taskset CPU lists, e.g. 0-3 and 4-5, to keep the server and wrk off
# each other's cores on a machine with enough of them; default: unpinned).
# Runs alternate between the modes so that drift in the machine's speed hits both alike; the
# medians are compared. Target: at most 3 % fewer requests/sec with instrumentation.
set -euo pipefail

SERVICE=${1:-build-http/examples/service}
RUNS=${RUNS:-5}
DURATION=${DURATION:-5}
CONNECTIONS=${CONNECTIONS:-16}
THREADS=${THREADS:-1}
ENDPOINT=${ENDPOINT:-/v1/events/1}
SERVER_CPUS=${SERVER_CPUS:-}
WRK_CPUS=${WRK_CPUS:-}
pin() { if [ -n "$1" ] && command -v taskset >/dev/null; then echo "taskset -c $1"; fi; }

command -v wrk >/dev/null || { echo "wrk not found (Debian package 'wrk')" >&2; exit 1; }
[ -x "$SERVICE" ] || { echo "service binary '$SERVICE' not found: build it first" >&2; exit 1; }

tmp=$(mktemp -d)
pid=
cleanup() {
    if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
    rm -rf "$tmp"
}
trap cleanup EXIT

# Starts the service in the given mode; sets $pid and $port.
start() {
    rm -f "$tmp/out"  # a port left from the previous run must not be read
    $(pin "$SERVER_CPUS") "$SERVICE" --port 0 --host 127.0.0.1 "$@" >"$tmp/out" 2>"$tmp/err" &
    pid=$!
    port=
    for _ in $(seq 100); do
        port=$(sed -n 's/^listening on \([0-9]*\)$/\1/p' "$tmp/out" 2>/dev/null || true)
        [ -n "$port" ] && return 0
        sleep 0.05
    done
    echo "service did not start: $(cat "$tmp/err")" >&2
    exit 1
}

stop() {
    kill -TERM "$pid"
    wait "$pid" || { echo "service exited with an error" >&2; exit 1; }
    pid=
}

# One wrk run against a fresh service; prints requests/sec.
run() {
    start "$@"
    $(pin "$WRK_CPUS") wrk -t"$THREADS" -c"$CONNECTIONS" -d1s "http://127.0.0.1:$port$ENDPOINT" >/dev/null  # warm-up
    $(pin "$WRK_CPUS") wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" "http://127.0.0.1:$port$ENDPOINT" >"$tmp/wrk"
    stop
    awk '/^Requests\/sec:/ {print $2}' "$tmp/wrk"
}

median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }

echo "wrk -t$THREADS -c$CONNECTIONS -d${DURATION}s $ENDPOINT, $RUNS runs per mode ($(nproc) CPUs)"
: >"$tmp/with"
: >"$tmp/without"
for i in $(seq "$RUNS"); do
    w=$(run)
    wo=$(run --no-instrumentation)
    echo "$w" >>"$tmp/with"
    echo "$wo" >>"$tmp/without"
    printf 'run %d: instrumented %10.0f req/s   plain %10.0f req/s\n' "$i" "$w" "$wo"
done
with=$(median <"$tmp/with")
without=$(median <"$tmp/without")
awk -v w="$with" -v wo="$without" 'BEGIN {
    printf "median: instrumented %.0f req/s, plain %.0f req/s, difference %+.2f %%\n", w, wo, (w - wo) / wo * 100
}'
