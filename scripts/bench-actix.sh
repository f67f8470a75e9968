#!/usr/bin/env bash
# The actix-web comparison of issue 19, in one run on this machine: `GET /bench/incr` (own
# sessions) and the `shared` mode (one session, 64 clients: lost updates) against sessionkit-actix
# (memory cache, signed_cookies) and actix-session 0.11 (cookie, Redis on 127.0.0.1:6379).
# Prints a Markdown table, one row per target, mode and round; the targets alternate within each
# round, so a busy machine's drift falls on all of them alike. Compare medians.
#
#   CARGO_TARGET_DIR [./target]  where the release binaries are built
#   ROUNDS [3]                   rounds over all targets
#   MODES [incr shared]          loadgen modes per target
#   DURATION [8]                 seconds per measurement
#   PORT [18571]                 where each server listens in turn
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/bench-server.sh
target=${CARGO_TARGET_DIR:-target}/release
duration=${DURATION:-8}
rounds=${ROUNDS:-3}
modes=${MODES:-incr shared}
port=${PORT:-18571}
cargo build --release -q -p sessionkit-bench \
  --bin actix_sessionkit_server --bin actix_session_server --bin loadgen
export SECRET_KEY=${SECRET_KEY:-bench-secret-0123456789abcdef0123456789abcdef}

# measure LABEL COMMAND…: starts the server, runs both modes against it, stops it.
measure() {
  local label=$1
  shift
  start_server "$port" "$@" --addr "127.0.0.1:$port"
  for mode in $modes; do
    "$target/loadgen" --url "http://127.0.0.1:$port/bench" --mode "$mode" -c 64 \
      --duration "$duration" --label "$label" --server-pid "$SERVER_PID" --format markdown
  done
  stop_server
}

"$target/loadgen" --markdown-header
for round in $(seq "$rounds"); do
  SESSION_ENGINE=cache SESSION_CACHE_URL=memory:// \
    measure "r$round sessionkit-actix cache, memory" "$target/actix_sessionkit_server"
  SESSION_ENGINE=cache SESSION_CACHE_URL=memory:// SESSION_LOCKING=true \
    measure "r$round sessionkit-actix cache, memory, SESSION_LOCKING" "$target/actix_sessionkit_server"
  SESSION_ENGINE=signed_cookies \
    measure "r$round sessionkit-actix signed_cookies" "$target/actix_sessionkit_server"
  measure "r$round actix-session 0.11 cookie" "$target/actix_session_server" --store cookie
  measure "r$round actix-session 0.11 Redis" "$target/actix_session_server" --store redis
done
