#!/usr/bin/env bash
# The shared-session load of issue 7: C clients (default 16) incrementing one counter on ONE
# session for SECONDS (default 5) through `sessionkit serve`, for every server engine, without
# and with SESSION_LOCKING. Prints a Markdown table: with locking the counter must end at the
# number of increments; without it, what per-key merge cannot save (a read-modify-write of one
# key) is reported as lost.
# Loopback only; every store it touches is private to the run and cleaned up.
#
#   scripts/bench-lost-updates.sh [CLIENTS] [SECONDS]   (LOCKING="true" for the locked runs only)
set -euo pipefail
cd "$(dirname "$0")/.."

CLIENTS=${1:-16}
SECONDS_EACH=${2:-5}
BIN=${BIN:-target/release}
PORT=${PORT:-18766}
RUN=lost_$$
WORK=$(mktemp -d)
PG=postgres://postgres@127.0.0.1:5432/test
MARIADB=mysql://root@127.0.0.1:3306/test

[ -x "$BIN/sessionkit" ] && [ -x "$BIN/loadgen" ] ||
  cargo build --release --bin sessionkit --bin loadgen

SERVER=
stop() { [ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null && wait "$SERVER" 2>/dev/null; SERVER=; }
cleanup() {
  stop || true
  for table in "${RUN}_pg" "${RUN}_cached"; do
    psql "$PG" -qc "DROP TABLE IF EXISTS $table; DROP TABLE IF EXISTS ${table}_lock" >/dev/null 2>&1 || true
  done
  mariadb -h 127.0.0.1 -u root test -e "DROP TABLE IF EXISTS ${RUN}_my; DROP TABLE IF EXISTS ${RUN}_my_lock" 2>/dev/null || true
  redis-cli EVAL "for _, k in ipairs(redis.call('KEYS', ARGV[1])) do redis.call('DEL', k) end" 0 "${RUN}*" >/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

# engine label, then the settings that select it
engines=(
  "db SQLite|SESSION_ENGINE=db SESSION_DB_URL=sqlite://$WORK/sessions.sqlite3"
  "db PostgreSQL|SESSION_ENGINE=db SESSION_DB_URL=$PG SESSION_DB_TABLE=${RUN}_pg"
  "db MariaDB|SESSION_ENGINE=db SESSION_DB_URL=$MARIADB SESSION_DB_TABLE=${RUN}_my"
  "cache memory|SESSION_ENGINE=cache SESSION_CACHE_URL=memory://"
  "cache Redis|SESSION_ENGINE=cache SESSION_CACHE_URL=redis://127.0.0.1:6379 SESSION_CACHE_KEY_PREFIX=${RUN}:"
  "cached_db Redis+PostgreSQL|SESSION_ENGINE=cached_db SESSION_CACHE_URL=redis://127.0.0.1:6379 SESSION_CACHE_KEY_PREFIX=${RUN}c: SESSION_DB_URL=$PG SESSION_DB_TABLE=${RUN}_cached"
  "file|SESSION_ENGINE=file SESSION_FILE_PATH=$WORK/files"
)
mkdir -p "$WORK/files"

echo "| engine | SESSION_LOCKING | clients | increments | final counter | lost updates | errors | req/s |"
echo "|---|---|---|---|---|---|---|---|"
for entry in "${engines[@]}"; do
  label=${entry%%|*}
  for locking in ${LOCKING:-false true}; do
    # shellcheck disable=SC2086 # the settings are words on purpose
    env SECRET_KEY=lost-updates SESSION_LOCKING=$locking ${entry#*|} \
      "$BIN/sessionkit" migrate >/dev/null
    env SECRET_KEY=lost-updates SESSION_LOCKING=$locking ${entry#*|} \
      "$BIN/sessionkit" serve --bench-routes --addr "127.0.0.1:$PORT" >"$WORK/serve.log" 2>&1 &
    SERVER=$!
    for _ in $(seq 1 100); do
      (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break
      sleep 0.1
    done
    "$BIN/loadgen" --url "http://127.0.0.1:$PORT/bench" --mode shared -c "$CLIENTS" \
      --duration "$SECONDS_EACH" --format json >"$WORK/report.json"
    stop || true
    python3 - "$label" "$locking" "$CLIENTS" "$WORK/report.json" <<'PY'
import json, sys
label, locking, clients, path = sys.argv[1:]
report = json.load(open(path))
shared = report.get("shared_counter") or {}
print(f"| {label} | {locking} | {clients} | {shared.get('expected')} | {shared.get('final_value')} "
      f"| {report.get('lost_updates')} | {report.get('errors')} | {report.get('req_per_s', 0):.0f} |")
PY
  done
done
