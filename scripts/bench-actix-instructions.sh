#!/usr/bin/env bash
# Instructions per request (valgrind callgrind), a count that does not drift with the machine's
# load as req/s does: sessionkit-actix (memory cache, signed_cookies) against actix-session 0.11's
# cookie store, `GET /bench/incr`, 8 clients. Each server runs twice under callgrind, for N1 and
# N2 requests; (I(N2) - I(N1)) / (N2 - N1) leaves out start-up and shutdown.
# Caveat: valgrind does not emulate SHA-NI, so SHA-256 (the HMAC of signed cookies) runs in
# software here while AES-NI (actix-session's private cookies) does not: signed_cookies is
# overstated against a native run.
#
#   CARGO_TARGET_DIR [./target]  where the release binaries are built
#   N1 [2000] N2 [6000]          requests of the two runs
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/bench-server.sh
target=${CARGO_TARGET_DIR:-target}/release
n1=${N1:-2000}
n2=${N2:-6000}
port=${PORT:-18620}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cargo build --release -q -p sessionkit-bench \
  --bin actix_sessionkit_server --bin actix_session_server --bin loadgen
export SECRET_KEY=${SECRET_KEY:-bench-secret-0123456789abcdef0123456789abcdef}

# instructions N COMMAND…: the instructions callgrind counted in the server over N requests.
instructions() {
  local n=$1
  shift
  SERVER_LOG=$work/log start_server "$port" \
    valgrind --tool=callgrind --callgrind-out-file="$work/out" "$@" --addr "127.0.0.1:$port"
  "$target/loadgen" --url "http://127.0.0.1:$port/bench" --mode incr -c 8 --duration 600 \
    --requests "$n" >/dev/null
  stop_server INT
  grep -o 'Collected : [0-9]*' "$work/log" | awk '{print $3}'
}

# per_request LABEL COMMAND…
per_request() {
  local label=$1
  shift
  local a b
  a=$(instructions "$n1" "$@")
  b=$(instructions "$n2" "$@")
  echo "| $label | $(((b - a) / (n2 - n1))) |"
}

echo "| target | instructions per request |"
echo "|---|---:|"
SESSION_ENGINE=cache SESSION_CACHE_URL=memory:// \
  per_request "sessionkit-actix cache, memory" "$target/actix_sessionkit_server"
SESSION_ENGINE=signed_cookies \
  per_request "sessionkit-actix signed_cookies" "$target/actix_sessionkit_server"
per_request "actix-session 0.11 cookie" "$target/actix_session_server" --store cookie
