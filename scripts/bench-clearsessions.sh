#!/usr/bin/env bash
# Measures `sessionkit clearsessions` on ROWS expired sessions (default 1,000,000) beside 10,000
# live ones, against one plain `DELETE ... WHERE expire_date < now` of the same rows in the same
# run, while a client keeps reading a live session through `sessionkit serve` on the same table
# (so the batches are shown not to block readers). Prints both times and rates, and the readers'
# latency (count, p50, p99, max) during clearsessions. Loopback only; cleans up its table.
#
#   DB=postgres|sqlite|mysql scripts/bench-clearsessions.sh [ROWS] [BATCH]
set -euo pipefail
cd "$(dirname "$0")/.."

ROWS=${1:-1000000}
BATCH=${2:-100000}
LIVE=10000
DB=${DB:-postgres}
TABLE=sk_bench_clear_$$
PORT=${PORT:-18765}
BIN=${BIN:-${CARGO_TARGET_DIR:-target}/release/sessionkit}
WORK=$(mktemp -d)

# sql STATEMENTS: runs them on the chosen database.
case "$DB" in
  postgres)
    URL=postgres://postgres@127.0.0.1:5432/test
    sql() { psql "$URL" -qtAc "$1"; }
    key() { echo "lpad($1::text, 64, '0')"; }
    series="generate_series(1, %d) AS s(i)" ;;
  mysql)
    URL=mysql://root@127.0.0.1:3306/test
    # MariaDB stops a recursive query after 1,000 rows unless told otherwise.
    sql() { mysql -h 127.0.0.1 -u root -N test -e "SET SESSION max_recursive_iterations = 100000000; $1"; }
    key() { echo "lpad($1, 64, '0')"; }
    series="(WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < %d) SELECT i FROM s) AS s" ;;
  sqlite)
    URL="sqlite://$WORK/sessions.db"
    sql() { sqlite3 "$WORK/sessions.db" "$1"; }
    key() { echo "printf('%064d', $1)"; }
    series="(WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < %d) SELECT i FROM s) AS s" ;;
  *) echo "DB must be postgres, sqlite or mysql" >&2; exit 2 ;;
esac

export SECRET_KEY=bench-clearsessions SESSION_ENGINE=db SESSION_DB_URL=$URL SESSION_DB_TABLE=$TABLE
cleanup() {
  [ -n "${SERVER:-}" ] && kill "$SERVER" 2>/dev/null || true
  [ "$DB" = sqlite ] || sql "DROP TABLE IF EXISTS $TABLE; DROP TABLE IF EXISTS ${TABLE}_lock" >/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT

# fill: ROWS expired rows and LIVE live ones (keys 'e…' and 'l…', never a real session's).
fill() {
  # shellcheck disable=SC2059
  sql "INSERT INTO $TABLE (session_key_hash, session_data, expire_date, created_at, version)
    SELECT $(key "i"), 'e30:1r31eq:x', 1000000000, 1000000000, 1 FROM $(printf "$series" "$ROWS")"
  # shellcheck disable=SC2059
  sql "INSERT INTO $TABLE (session_key_hash, session_data, expire_date, created_at, version)
    SELECT $(key "i + $ROWS"), 'e30:1r31eq:x', 4000000000, 1000000000, 1 FROM $(printf "$series" "$LIVE")"
  case "$DB" in postgres) sql "VACUUM ANALYZE $TABLE" ;; mysql) sql "ANALYZE TABLE $TABLE" >/dev/null ;; sqlite) sql "ANALYZE" ;; esac
}
now() { date +%s.%N; }

[ -x "$BIN" ] || cargo build --release --bin sessionkit
"$BIN" migrate >/dev/null

echo "$DB: filling $TABLE with $ROWS expired and $LIVE live sessions…"
fill
start=$(now)
sql "DELETE FROM $TABLE WHERE expire_date < $(date +%s)" >/dev/null
plain=$(python3 -c "print($(now) - $start)")
fill

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

start=$(now)
"$BIN" clearsessions --batch "$BATCH" | tail -n 1
end=$(now)
touch "$WORK/done"
wait "$READER"

left=$(sql "SELECT COUNT(*) FROM $TABLE")
python3 - "$DB" "$start" "$end" "$plain" "$ROWS" "$BATCH" "$left" "$WORK/latency" <<'PY'
import statistics, sys
db, start, end, plain, rows, batch, left, path = sys.argv[1:]
rows, seconds, plain = int(rows), float(end) - float(start), float(plain)
lat = sorted(float(x) * 1000 for x in open(path) if x.strip())
print(f"{db}: clearsessions {rows:,} expired rows, --batch {batch}: {seconds:.2f} s, "
      f"{rows / seconds:,.0f} rows/s; plain DELETE: {plain:.2f} s, {rows / plain:,.0f} rows/s "
      f"(clearsessions at {plain / seconds:.0%} of its rate); rows left: {left}")
print(f"{db}: concurrent reads during the run: {len(lat)} requests, "
      f"p50 {statistics.median(lat):.1f} ms, p99 {lat[int(len(lat) * .99)]:.1f} ms, "
      f"max {lat[-1]:.1f} ms")
PY
