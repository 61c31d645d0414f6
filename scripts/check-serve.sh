#!/usr/bin/env bash
# schemathesis against `tmap serve`: starts the server on a demo database
# (examples/demo.tql and a tiny V-LLM) on a free loopback port, runs schemathesis on its
# /openapi.json for a bounded number of examples per operation, stops the server (SIGTERM)
# and requires a clean exit. Fails on a 500, or on an answer whose status, media type or
# body the document does not allow.
#
#   scripts/check-serve.sh [TMAP] [SCHEMATHESIS]
#   (defaults: target/debug/tmap, schemathesis on PATH; CHECK_SERVE_EXAMPLES=N per operation, CHECK_SERVE_CHECKS=LIST)
set -euo pipefail
cd "$(dirname "$0")/.."
tmap=$(realpath "${1:-target/debug/tmap}")
st=${2:-schemathesis}
case "$st" in */*) st=$(realpath "$st") ;; esac
examples=${CHECK_SERVE_EXAMPLES:-50}
checks=${CHECK_SERVE_CHECKS:-not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance}

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

# The demo scene (its RENDER ... TO writes into the work folder) and a model to generate with.
(cd "$work" && "$tmap" db -f "$OLDPWD/examples/demo.tql" >/dev/null)
"$tmap" "$work/db" -c "CREATE MODEL tiny WITH (layers = 1, dim = 16, heads = 2, channels = 8, seed = 7)"

"$tmap" serve "$work/db" --listen 127.0.0.1:0 --timeout 20 >"$work/out" 2>"$work/err" &
pid=$!
for _ in $(seq 100); do
    grep -q '^listening on ' "$work/out" 2>/dev/null && break
    kill -0 "$pid" 2>/dev/null || { cat "$work/err" >&2; exit 1; }
    sleep 0.1
done
base=$(sed -n 's/^listening on //p' "$work/out")
[ -n "$base" ] || { echo "tmap serve did not start" >&2; cat "$work/err" >&2; exit 1; }
echo "tmap serve on $base; schemathesis, $examples examples per operation"

# From the work folder: schemathesis keeps its caches (.schemathesis/) in the current one.
(cd "$work" && "$st" run "$base/openapi.json" --url "$base" \
    --checks "$checks" \
    --max-examples "$examples" --seed 17 --request-timeout 30 \
    --generation-database none --no-color)

kill -TERM "$pid"
status=0
wait "$pid" || status=$?
pid=
[ "$status" -eq 0 ] || { echo "tmap serve exited with $status" >&2; cat "$work/err" >&2; exit 1; }
grep -q "the database is closed" "$work/err"
echo "schemathesis: no server error, every answer as documented; the server stopped cleanly"
