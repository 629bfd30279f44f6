#!/usr/bin/env bash
# Measures what the HTTP instrumentation costs the demo service: requests/sec under wrk with and
# without it, and the service's CPU time per request (steadier where wrk and the service share cores) (examples/service --no-instrumentation registers the same handlers unwrapped).
#
#   scripts/http_overhead.sh [SERVICE_BINARY]
#
# Environment: RUNS (runs per mode, default 5), DURATION (seconds per run, default 5),
# CONNECTIONS (default 16), THREADS (wrk threads, default 1), ENDPOINT (default /v1/events/1),
# SERVER_CPUS and WRK_CPUS (taskset CPU lists, e.g. 0-3 and 4-5, to keep the server and wrk off
# each other's cores on a machine with enough of them; default: unpinned).
# Runs alternate between the modes (in ABBA order) so that drift in the machine's speed hits both alike; the
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

# CPU time (user + system, in clock ticks) the service has used so far.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$pid/stat"; }

# One wrk run against a fresh service; prints "requests/sec server-CPU-microseconds-per-request".
run() {
    start "$@"
    $(pin "$WRK_CPUS") wrk -t"$THREADS" -c"$CONNECTIONS" -d1s "http://127.0.0.1:$port$ENDPOINT" >/dev/null  # warm-up
    local before after
    before=$(cpu_ticks)
    $(pin "$WRK_CPUS") wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" "http://127.0.0.1:$port$ENDPOINT" >"$tmp/wrk"
    after=$(cpu_ticks)
    stop
    awk -v ticks=$((after - before)) -v hz="$(getconf CLK_TCK)" '
        / requests in / {n = $1}
        /^Requests\/sec:/ {rps = $2}
        END {printf "%s %.2f\n", rps, ticks / hz * 1e6 / n}' "$tmp/wrk"
}

median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }

echo "wrk -t$THREADS -c$CONNECTIONS -d${DURATION}s $ENDPOINT, $RUNS runs per mode ($(nproc) CPUs)"
: >"$tmp/with"
: >"$tmp/without"
for i in $(seq "$RUNS"); do
    # ABBA order: whichever mode runs second in a pair meets a warmer (or more loaded) machine.
    if [ $((i % 2)) -eq 1 ]; then
        w=$(run)
        wo=$(run --no-instrumentation)
    else
        wo=$(run --no-instrumentation)
        w=$(run)
    fi
    echo "$w" >>"$tmp/with"
    echo "$wo" >>"$tmp/without"
    read -r w_rps w_cpu <<<"$w"
    read -r wo_rps wo_cpu <<<"$wo"
    printf 'run %d: instrumented %8.0f req/s %7.2f us CPU/req   plain %8.0f req/s %7.2f us CPU/req\n' \
        "$i" "$w_rps" "$w_cpu" "$wo_rps" "$wo_cpu"
done
with=$(cut -d' ' -f1 "$tmp/with" | median)
without=$(cut -d' ' -f1 "$tmp/without" | median)
with_cpu=$(cut -d' ' -f2 "$tmp/with" | median)
without_cpu=$(cut -d' ' -f2 "$tmp/without" | median)
awk -v w="$with" -v wo="$without" -v wc="$with_cpu" -v woc="$without_cpu" 'BEGIN {
    printf "median: instrumented %.0f req/s, plain %.0f req/s, difference %+.2f %%\n", w, wo, (w - wo) / wo * 100
    printf "median server CPU per request: instrumented %.2f us, plain %.2f us, difference %+.2f %%\n", wc, woc, (wc - woc) / woc * 100
}'
