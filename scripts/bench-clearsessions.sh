#!/usr/bin/env bash
# Measures `sessionkit clearsessions` on ROWS expired sessions in PostgreSQL (default 1000000),
# while a client keeps reading a live session through `sessionkit serve` on the same table, to
# show that the batched delete never blocks readers for long. Prints the time, rows/s, and the
# readers' latency (count, p50, max) during the run. Loopback only; cleans up its table.
#
#   scripts/bench-clearsessions.sh [ROWS] [BATCH]
set -euo pipefail
cd "$(dirname "$0")/.."

ROWS=${1:-1000000}
BATCH=${2:-10000}
PG=postgres://postgres@127.0.0.1:5432/test
TABLE=sk_bench_clear_$$
PORT=${PORT:-18765}
BIN=${BIN:-target/release/sessionkit}
WORK=$(mktemp -d)

export SECRET_KEY=bench-clearsessions SESSION_ENGINE=db SESSION_DB_URL=$PG SESSION_DB_TABLE=$TABLE
cleanup() {
  [ -n "${SERVER:-}" ] && kill "$SERVER" 2>/dev/null || true
  psql "$PG" -qc "DROP TABLE IF EXISTS $TABLE; DROP TABLE IF EXISTS ${TABLE}_lock" >/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT

[ -x "$BIN" ] || cargo build --release --bin sessionkit
"$BIN" migrate >/dev/null
echo "filling $TABLE with $ROWS expired sessions…"
psql "$PG" -qc "INSERT INTO $TABLE (session_key_hash, session_data, expire_date, created_at, version)
  SELECT md5(i::text) || md5((i + 1)::text), 'e30:1r31eq:x', 1000000000, 1000000000, 1
  FROM generate_series(1, $ROWS) AS i"
psql "$PG" -qc "ANALYZE $TABLE"

"$BIN" serve --bench-routes --addr "127.0.0.1:$PORT" >"$WORK/serve.log" 2>&1 &
SERVER=$!
for _ in $(seq 1 100); do curl -s -o /dev/null "http://127.0.0.1:$PORT/bench/read" && break; sleep 0.1; done
curl -s -c "$WORK/jar" -X POST "http://127.0.0.1:$PORT/bench/login" >/dev/null
sed -i 's/^#HttpOnly_//' "$WORK/jar"   # curl keeps Secure cookies for 127.0.0.1 in the jar

# The reader: back-to-back GET /bench/read (a live session, loaded from the same table).
( while [ ! -e "$WORK/done" ]; do
    curl -s -o /dev/null -b "$WORK/jar" -w '%{time_total}\n' "http://127.0.0.1:$PORT/bench/read"
  done >"$WORK/latency" ) &
READER=$!

start=$(date +%s.%N)
"$BIN" clearsessions --batch "$BATCH" | tail -n 1
end=$(date +%s.%N)
touch "$WORK/done"
wait "$READER"

left=$(psql "$PG" -tAc "SELECT COUNT(*) FROM $TABLE")
python3 - "$start" "$end" "$ROWS" "$BATCH" "$left" "$WORK/latency" <<'PY'
import statistics, sys
start, end, rows, batch, left, path = sys.argv[1:]
seconds = float(end) - float(start)
lat = sorted(float(x) * 1000 for x in open(path) if x.strip())
print(f"clearsessions: {int(rows):,} expired rows, batch {batch}: {seconds:.1f} s, "
      f"{int(rows) / seconds:,.0f} rows/s; rows left: {left} (the live session)")
print(f"concurrent reads during the run: {len(lat)} requests, "
      f"p50 {statistics.median(lat):.1f} ms, p99 {lat[int(len(lat) * .99)]:.1f} ms, "
      f"max {lat[-1]:.1f} ms")
PY
