#!/usr/bin/env bash
# The HTTP server's benchmark (figures in BENCHMARKS.md, "HTTP server"): loads
# OBJECTS seeded random objects (scripts/gen-inserts: uniform in [-500, 500]³, 32 channels),
# serves them with `tmap serve` on loopback, and drives POST /tensor/query (a radius query
# with about 100 hits) and POST /query (the same radius query in TensorQL) with wrk,
# CONNECTIONS connections on THREADS threads for DURATION seconds each.
#
#   scripts/bench-serve.sh [TMAP]        (default target/release/tmap; needs wrk)
#   env: OBJECTS=100000 RADIUS=62 DURATION=10 CONNECTIONS=16 THREADS=2 WORKERS=0
set -euo pipefail
cd "$(dirname "$0")/.."
tmap=$(realpath "${1:-target/release/tmap}")
objects=${OBJECTS:-100000}
radius=${RADIUS:-62}
duration=${DURATION:-10}
connections=${CONNECTIONS:-16}
threads=${THREADS:-2}
workers=${WORKERS:-0}
command -v wrk >/dev/null || { echo "wrk is required (apt-get install wrk)" >&2; exit 1; }

work=$(mktemp -d)
pid=
cleanup() {
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

scripts/gen-inserts --objects "$objects" >"$work/load.tql"
"$tmap" "$work/db" -f "$work/load.tql"
rm "$work/load.tql"
"$tmap" serve "$work/db" --listen 127.0.0.1:0 --workers "$workers" >"$work/out" 2>"$work/err" &
pid=$!
for _ in $(seq 100); do
    grep -q '^listening on ' "$work/out" 2>/dev/null && break
    sleep 0.1
done
base=$(sed -n 's/^listening on //p' "$work/out")
[ -n "$base" ] || { echo "tmap serve did not start" >&2; cat "$work/err" >&2; exit 1; }

radius_body="{\"map\": \"big\", \"center\": [0, 0, 0], \"radius\": $radius}"
sql_body="{\"sql\": \"SELECT id, type, position, confidence FROM big WHERE WITHIN(position, ?, ?)\", \"params\": [[0, 0, 0], $radius]}"
hits=$(curl -s -X POST -d "$radius_body" "$base/tensor/query" | python3 -c 'import json,sys; print(json.load(sys.stdin)["count"])')
echo "== $objects objects, radius $radius: $hits hits; $connections connections, $threads wrk threads, ${duration} s each"
echo "== load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
# The server's CPU time (user + system, all threads), in clock ticks.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
tick=$(getconf CLK_TCK)
for route in /tensor/query /query; do
    body=$radius_body
    [ "$route" = /query ] && body=$sql_body
    echo "== POST $route"
    before=$(cpu_ticks)
    BODY=$body wrk -t"$threads" -c"$connections" -d"${duration}s" --latency \
        -s scripts/wrk-post.lua "$base$route" | tee "$work/wrk"
    after=$(cpu_ticks)
    requests=$(awk '/requests in/ {print $1}' "$work/wrk")
    awk -v t=$((after - before)) -v hz="$tick" -v n="$requests" 'BEGIN {
        printf "== server CPU: %.1f s for %d requests = %.1f us a request (%.0f requests/s per core)\n",
            t / hz, n, t / hz / n * 1e6, n / (t / hz) }'
    echo "== load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
done
