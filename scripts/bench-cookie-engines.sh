#!/usr/bin/env bash
# signed_cookies against encrypted_cookies over HTTP (issue 16), in one run on this machine:
# `sessionkit serve --bench-routes`, `GET /bench/incr` with 64 clients, the two engines
# alternating in each round so a busy machine's drift falls on both. Prints a Markdown table;
# compare medians.
#
#   CARGO_TARGET_DIR [./target]  where the release binaries are built
#   ROUNDS [3]                   rounds
#   DURATION [5]                 seconds per measurement
#   PORT [18611]                 where each server listens in turn
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/bench-server.sh
target=${CARGO_TARGET_DIR:-target}/release
rounds=${ROUNDS:-3}
duration=${DURATION:-5}
port=${PORT:-18611}
cargo build --release -q -p sessionkit-cli -p sessionkit-bench --bin sessionkit --bin loadgen
export SECRET_KEY=${SECRET_KEY:-bench-secret-0123456789abcdef0123456789abcdef}

"$target/loadgen" --markdown-header
for round in $(seq "$rounds"); do
  for engine in signed_cookies encrypted_cookies; do
    SESSION_ENGINE=$engine start_server "$port" \
      "$target/sessionkit" serve --bench-routes --expire-every 0 --addr "127.0.0.1:$port"
    "$target/loadgen" --url "http://127.0.0.1:$port/bench" --mode incr -c 64 \
      --duration "$duration" --label "r$round $engine" --server-pid "$SERVER_PID" --format markdown
    stop_server
  done
done
