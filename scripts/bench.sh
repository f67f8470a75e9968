#!/usr/bin/env bash
# Benchmarks sessionkit (docs/DESIGN.md §10) and writes docs/BENCHMARKS.md and docs/benchmarks.png.
#
#   scripts/bench.sh              # everything: criterion micro-benchmarks and allocation
#                                 # counts, then HTTP load runs
#   scripts/bench.sh --no-micro   # HTTP load runs only
#   BENCH_GOALS_ONLY=1 BENCH_ROUNDS=3 scripts/bench.sh   # the peers comparison only (~8 min)
#
# First the goal rounds: `/bench/incr` on every sessionkit engine next to its peers on the same
# store (tower-sessions 0.15 memory, unsigned and signed id; tower-sessions 0.14's SQLite,
# PostgreSQL, MySQL and Redis stores from the separate cargo project
# crates/sessionkit-bench/peers; actix-session 0.11 on Redis), the server engines with and
# without the near cache (SESSION_NEAR_CACHE=true; db on SQLite, PostgreSQL and MySQL, cached_db
# on PostgreSQL + Redis), and the floors (one on Redis too), alternating (see "goal rounds"
# below). Then, unless BENCH_GOALS_ONLY=1, HTTP targets one after another on 127.0.0.1:
# `sessionkit serve` on every engine (signed_cookies; db on SQLite, PostgreSQL and MySQL; cache
# in memory and on Redis), the same routes on bare axum (no sessions: the HTTP stack's floor),
# on tower-sessions with its MemoryStore, and on Django 5.2 under gunicorn (signed_cookies, and
# db on SQLite). Each target gets the modes incr, read, login and shared from `loadgen`.
#
# Environment (defaults in brackets):
#   BENCH_CLIENTS [64]          concurrent clients in every mode
#   BENCH_DURATION [10]         seconds of the incr run of each target
#   BENCH_SHORT_DURATION [5]    seconds of the read, login and shared runs
#   BENCH_ROUNDS [5]            rounds of the goal comparison (see below)
#   BENCH_GOALS_ONLY [0]        1: only the goal rounds (no micro-benchmarks, no per-target runs)
#   BENCH_NEAR_CACHE [1]        0: no near-cache variants (a build without SESSION_NEAR_CACHE)
#   BENCH_PORT [18080]          port the targets listen on (must be free)
#   BENCH_PG_URL [postgres://postgres@127.0.0.1:5432/test]
#   BENCH_MYSQL_URL [mysql://root@127.0.0.1:3306/test]   MySQL or MariaDB
#   BENCH_REDIS_URL [redis://127.0.0.1:6379]
#   CARGO_TARGET_DIR [./target] release binaries (the peers' in peers/), the Python venv
#                               (bench-venv), run files
# A PostgreSQL, MySQL or Redis that does not answer is skipped, and the document says so
# (MySQL is asked through the mariadb or mysql client: without one, its targets are skipped).
#
# Needs python3 (with venv) for Django and the chart; pip installs the pinned versions of
# crates/sessionkit-bench/django_app/requirements.txt into $CARGO_TARGET_DIR/bench-venv.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
# The command as run, with the BENCH_* settings it was given.
COMMAND="$(env | { grep '^BENCH_' || true; } | sort | tr '\n' ' ')scripts/bench.sh $*"
MICRO=1
for arg in "$@"; do
  case $arg in
    --no-micro) MICRO=0 ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench.sh: unknown argument $arg (try --help)" >&2; exit 2 ;;
  esac
done

CLIENTS=${BENCH_CLIENTS:-64}
DURATION=${BENCH_DURATION:-10}
SHORT=${BENCH_SHORT_DURATION:-5}
ROUNDS=${BENCH_ROUNDS:-5}
GOALS_ONLY=${BENCH_GOALS_ONLY:-0}
NEAR_CACHE=${BENCH_NEAR_CACHE:-1}
[ "$GOALS_ONLY" = 1 ] && MICRO=0
PORT=${BENCH_PORT:-18080}
PG_URL=${BENCH_PG_URL:-postgres://postgres@127.0.0.1:5432/test}
MYSQL_URL=${BENCH_MYSQL_URL:-mysql://root@127.0.0.1:3306/test}
REDIS_URL=${BENCH_REDIS_URL:-redis://127.0.0.1:6379}
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
BIN=$TARGET_DIR/release
PEERS_BIN=$TARGET_DIR/peers/release
VENV=$TARGET_DIR/bench-venv
WORK=$TARGET_DIR/bench-run
DJANGO_APP=$ROOT/crates/sessionkit-bench/django_app
SECRET=benchmark-secret-key-that-is-long-enough-to-be-realistic-0123456789
# sessionkit's table, on PostgreSQL and on MySQL.
DB_TABLE=sessionkit_bench_session
# tower-sessions' own schema (on MySQL a schema is a database), dropped when its server stops.
PEER_SCHEMA=tower_sessions_bench_$$
REDIS_PREFIX="sessionkit-bench-$$:"

rm -rf "$WORK"
mkdir -p "$WORK" docs
RESULTS=$WORK/results.jsonl
GOAL_ROUNDS=$WORK/rounds.jsonl
ROWS=$WORK/rows.md
NOTES=$WORK/notes.txt
: >"$RESULTS"
: >"$GOAL_ROUNDS"
: >"$ROWS"
: >"$NOTES"
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)

step() { printf '\n== %s\n' "$*" >&2; }
note() { echo "$*" >>"$NOTES"; echo "note: $*" >&2; }

step "building release binaries"
cargo build --release -p sessionkit-cli -p sessionkit-bench --bins
# Its own lock file and target directory: its sqlx 0.8 cannot share the workspace's lock file.
cargo build --release --locked --manifest-path crates/sessionkit-bench/peers/Cargo.toml \
  --target-dir "$TARGET_DIR/peers"

step "Python venv for Django, gunicorn and matplotlib ($VENV)"
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
fi
"$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$DJANGO_APP/requirements.txt"

if [ "$MICRO" = 1 ]; then
  step "criterion micro-benchmarks"
  rm -rf "$TARGET_DIR/criterion"
  cargo bench -p sessionkit-bench --bench micro -- --warm-up-time 1 --measurement-time 3 \
    | tee "$WORK/micro.txt"
  step "heap allocations per request"
  cargo bench -p sessionkit-bench --bench allocations | tee "$WORK/allocations.jsonl"
  step "in-process layer time, alternating rounds"
  cargo bench -p sessionkit-bench --bench layer_time -- --json | tee "$WORK/layer_time.jsonl"
fi

if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
  echo "bench.sh: port $PORT is in use; set BENCH_PORT" >&2
  exit 1
fi
# Servers run here, so what they create (SQLite files, logs) stays in the run directory.
cd "$WORK"
"$BIN/loadgen" --markdown-header >"$WORK/header.md"

# gunicorn: one worker process per core (the GIL lets a worker use about one), gthread so
# connections are kept alive as for the other targets.
GUNICORN_WORKERS=$(nproc)

SERVER_PID=
stop_server() {
  if [ -n "$SERVER_PID" ]; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=
  fi
}
# mysql_sql SQL: runs SQL in $MYSQL_URL's database. The mariadb and mysql clients take no URL,
# so its user, password, host, port and database are passed one by one (not percent-decoded).
MYSQL_CLIENT=$(command -v mariadb || command -v mysql || true)
mysql_sql() {
  local url='^[a-z]+://(([^:@/]*)(:([^@/]*))?@)?([^:/?]+)(:([0-9]+))?/?([^?]*)'
  [ -n "$MYSQL_CLIENT" ] && [[ $MYSQL_URL =~ $url ]] || return 1
  MYSQL_PWD=${BASH_REMATCH[4]} "$MYSQL_CLIENT" --protocol=tcp --connect-timeout=5 \
    -h "${BASH_REMATCH[5]}" -P "${BASH_REMATCH[7]:-3306}" -u "${BASH_REMATCH[2]:-root}" \
    -e "$1" "${BASH_REMATCH[8]}"
}
cleanup_stores() {
  if command -v psql >/dev/null; then
    # The table and the lock table SESSION_LOCKING's migration adds beside it.
    psql "$PG_URL" -qc "DROP TABLE IF EXISTS $DB_TABLE, ${DB_TABLE}_lock" >/dev/null 2>&1 || true
    psql "$PG_URL" -qc "DROP SCHEMA IF EXISTS $PEER_SCHEMA CASCADE" >/dev/null 2>&1 || true
  fi
  mysql_sql "DROP TABLE IF EXISTS $DB_TABLE, ${DB_TABLE}_lock; DROP SCHEMA IF EXISTS $PEER_SCHEMA" \
    >/dev/null 2>&1 || true
  if command -v redis-cli >/dev/null; then
    redis-cli -u "$REDIS_URL" --scan --pattern "${REDIS_PREFIX}*" 2>/dev/null \
      | xargs -r -n 500 redis-cli -u "$REDIS_URL" DEL >/dev/null 2>&1 || true
  fi
}
trap 'stop_server; cleanup_stores' EXIT

# The stores' versions, as each server reports its own, for the report.
STORE_VERSIONS=()
HAVE_PG=0
if pg_isready -q -d "$PG_URL" 2>/dev/null; then
  HAVE_PG=1
  STORE_VERSIONS+=("PostgreSQL $(psql "$PG_URL" -Atc 'SHOW server_version' 2>/dev/null || echo '?')")
else
  note "PostgreSQL at $PG_URL did not answer: its targets were skipped."
fi
HAVE_MYSQL=0
if mysql_sql 'SELECT 1' >/dev/null 2>&1; then
  HAVE_MYSQL=1
  STORE_VERSIONS+=("MySQL/MariaDB $(mysql_sql 'SELECT VERSION()' 2>/dev/null | tail -1 || echo '?')")
else
  note "MySQL at $MYSQL_URL did not answer (or neither mariadb nor mysql is installed):" \
    "its targets were skipped."
fi
HAVE_REDIS=0
if redis-cli -u "$REDIS_URL" ping >/dev/null 2>&1; then
  HAVE_REDIS=1
  STORE_VERSIONS+=("Redis $(redis-cli -u "$REDIS_URL" INFO server 2>/dev/null |
    sed -n 's/^redis_version:\([^\r]*\).*/\1/p')")
else
  note "Redis at $REDIS_URL did not answer: its targets were skipped."
fi

report() {
  step "writing docs/BENCHMARKS.md and docs/benchmarks.png"
  BENCH_COMMAND=$COMMAND BENCH_LOAD_BEFORE=$LOAD_BEFORE BENCH_CLIENTS=$CLIENTS \
    BENCH_DURATION=$DURATION BENCH_SHORT=$SHORT BENCH_MICRO=$MICRO BENCH_WORK=$WORK \
    BENCH_ROUNDS=$ROUNDS BENCH_GOALS_ONLY=$GOALS_ONLY \
    BENCH_STORE_VERSIONS="$(IFS=';'; echo "${STORE_VERSIONS[*]}")" \
    BENCH_CRITERION=$TARGET_DIR/criterion BENCH_WORKERS=$GUNICORN_WORKERS \
    "$VENV/bin/python" "$ROOT/scripts/bench_report.py" "$ROOT/docs"
  echo "wrote docs/BENCHMARKS.md and docs/benchmarks.png" >&2
}

# start_server LABEL COMMAND…: starts the target in the background and waits for its port.
start_server() {
  local label=$1
  shift
  "$@" >"$WORK/server-${label// /_}.log" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 1 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then return 0; fi
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then break; fi
    sleep 0.1
  done
  echo "bench.sh: $label did not start; its log:" >&2
  cat "$WORK/server-${label// /_}.log" >&2
  SERVER_PID=
  return 1
}

# server_pids: the server and its child processes (gunicorn's workers), for the CPU column.
server_pids() {
  local args="--server-pid $SERVER_PID"
  for child in $(pgrep -P "$SERVER_PID" || true); do args="$args --server-pid $child"; done
  echo "$args"
}

# measure LABEL MODES [loadgen options…]: one loadgen run per mode against the running server.
measure() {
  local label=$1 modes=$2
  shift 2
  local mode seconds
  for mode in $modes; do
    seconds=$SHORT
    [ "$mode" = incr ] && seconds=$DURATION
    printf '%-32s %-6s ' "$label" "$mode" >&2
    # shellcheck disable=SC2046 # server_pids is a list of options
    if ! "$BIN/loadgen" --url "http://127.0.0.1:$PORT/bench" --mode "$mode" \
      --clients "$CLIENTS" --duration "$seconds" --label "$label" --json-out "$RESULTS" \
      --format markdown $(server_pids) "$@" | tee -a "$ROWS" >&2; then
      note "loadgen failed against $label in mode $mode (see the output above)."
    fi
  done
}

sessionkit_target() { # LABEL, then SESSION_*=… settings
  local label=$1
  shift
  step "$label"
  start_server "$label" env SECRET_KEY="$SECRET" SESSION_COOKIE_SECURE=true RUST_LOG=warn "$@" \
    "$BIN/sessionkit" serve --bench-routes --addr "127.0.0.1:$PORT"
  measure "$label" "incr read login shared"
  stop_server
}

# The HTTP goals compare neighbours' req/s, and on a shared machine req/s drifts by more than
# the differences (±15% between runs minutes apart was seen). So the goal's targets also run
# back to back, in ROUNDS rounds of incr, each round starting one target later than the last
# (so drift within a round does not always favour the same one); the report takes the median of
# the per-round ratios. Besides bare axum, the rounds run bare axum sending a session-sized
# cookie and Vary with no session behind them: what the cookie's bytes alone cost.
COOKIE_FLOOR="bare axum + session cookie (no session)"
# And on Redis, the same floor writing each change to Redis (one SET, no session logic): what
# a session layer that keeps its sessions there cannot beat (docs/PROFILES.md, "The Redis floor").
REDIS_FLOOR="bare axum + session cookie + Redis write (no session)"
# The yardsticks: the least a session layer does (in memory, or in a signed cookie), served
# with a cookie as long as sessionkit's: how near the cookie floor a session layer can come.
MINIMAL="minimal session layer (yardstick)"
MINIMAL_SIGNED="minimal signed-cookie layer (yardstick)"
goal_round() { # LABEL, then the server command
  local label=$1
  shift
  start_server "$label" "$@"
  # shellcheck disable=SC2046 # server_pids is a list of options
  "$BIN/loadgen" --url "http://127.0.0.1:$PORT/bench" --mode incr --clients "$CLIENTS" \
    --duration "$SHORT" --label "$label" --json-out "$GOAL_ROUNDS" --format markdown \
    $(server_pids) $(case $label in "bare axum"*) echo --no-verify ;; esac) >&2 \
    || note "loadgen failed against $label in goal round $round."
  stop_server
}
SESSIONKIT_ENV=(env SECRET_KEY="$SECRET" SESSION_COOKIE_SECURE=true RUST_LOG=warn)
PEER_ADDR=(--addr "127.0.0.1:$PORT")
sessionkit_goal() { # LABEL, then SESSION_*=… settings; ", near cache" in LABEL turns it on
  local label=$1 near=()
  shift
  case $label in *", near cache") near=(SESSION_NEAR_CACHE=true) ;; esac
  goal_round "$label" "${SESSIONKIT_ENV[@]}" "$@" "${near[@]}" \
    "$BIN/sessionkit" serve --bench-routes "${PEER_ADDR[@]}"
}
# The targets the goals compare, each engine next to its peers on the same store, the server
# engines with and without the near cache (SESSION_NEAR_CACHE). A store that does not answer
# drops its targets (and the document says so).
# server_engine LABEL: adds a sessionkit server engine to GOALS, and its near-cache variant.
server_engine() {
  GOALS+=("$1")
  if [ "$NEAR_CACHE" = 1 ]; then GOALS+=("$1, near cache"); fi
}
GOALS=("bare axum (no sessions)" "$COOKIE_FLOOR" "$MINIMAL" "$MINIMAL_SIGNED"
  "sessionkit signed_cookies" "sessionkit cache memory" "tower-sessions MemoryStore"
  "tower-sessions MemoryStore, signed id")
server_engine "sessionkit db SQLite"
GOALS+=("tower-sessions SQLite store")
if [ "$HAVE_PG" = 1 ]; then
  server_engine "sessionkit db PostgreSQL"
  GOALS+=("tower-sessions PostgreSQL store")
fi
if [ "$HAVE_MYSQL" = 1 ]; then
  server_engine "sessionkit db MySQL"
  GOALS+=("tower-sessions MySQL store")
fi
if [ "$HAVE_REDIS" = 1 ]; then
  server_engine "sessionkit cache Redis"
  GOALS+=("actix-session Redis" "tower-sessions Redis store" "$REDIS_FLOOR")
fi
if [ "$HAVE_PG" = 1 ] && [ "$HAVE_REDIS" = 1 ]; then
  server_engine "sessionkit cached_db"
fi
goal_target() { # a label of GOALS
  case $1 in
    "bare axum (no sessions)") goal_round "$1" "$BIN/bare_axum" "${PEER_ADDR[@]}" ;;
    "$COOKIE_FLOOR") goal_round "$1" "$BIN/bare_axum" --session-cookie "${PEER_ADDR[@]}" ;;
    "$MINIMAL") goal_round "$1" "$BIN/minimal_layer_server" "${PEER_ADDR[@]}" ;;
    "$MINIMAL_SIGNED") goal_round "$1" "$BIN/minimal_layer_server" --signed "${PEER_ADDR[@]}" ;;
    "$REDIS_FLOOR")
      goal_round "$1" "$BIN/bare_axum" --session-cookie --redis-write "$REDIS_URL" \
        --redis-key-prefix "$REDIS_PREFIX" "${PEER_ADDR[@]}"
      cleanup_stores ;;
    "sessionkit signed_cookies") sessionkit_goal "$1" SESSION_ENGINE=signed_cookies ;;
    "sessionkit cache memory") sessionkit_goal "$1" SESSION_ENGINE=cache SESSION_CACHE_URL=memory:// ;;
    "tower-sessions MemoryStore") goal_round "$1" "$BIN/tower_sessions_server" "${PEER_ADDR[@]}" ;;
    "tower-sessions MemoryStore, signed id")
      goal_round "$1" "$BIN/tower_sessions_server" --signed "${PEER_ADDR[@]}" ;;
    # The SQLite targets: a fresh file per round, WAL, synchronous=NORMAL.
    "sessionkit db SQLite"*)
      rm -f "$WORK"/goal-sessionkit.sqlite3*
      sessionkit_goal "$1" SESSION_ENGINE=db SESSION_DB_SQLITE_SYNCHRONOUS=normal \
        SESSION_DB_URL="sqlite://$WORK/goal-sessionkit.sqlite3" ;;
    "tower-sessions SQLite store")
      rm -f "$WORK"/goal-tower.sqlite3*
      goal_round "$1" "$PEERS_BIN/tower_sessions_store_server" --store sqlite \
        --url "sqlite://$WORK/goal-tower.sqlite3" "${PEER_ADDR[@]}" ;;
    "sessionkit db PostgreSQL"*)
      sessionkit_goal "$1" SESSION_ENGINE=db SESSION_DB_URL="$PG_URL" SESSION_DB_TABLE="$DB_TABLE"
      cleanup_stores ;;
    "tower-sessions PostgreSQL store") # its schema is dropped when the server stops
      goal_round "$1" "$PEERS_BIN/tower_sessions_store_server" --store postgres --url "$PG_URL" \
        --pg-schema "$PEER_SCHEMA" "${PEER_ADDR[@]}" ;;
    "sessionkit db MySQL"*)
      sessionkit_goal "$1" SESSION_ENGINE=db SESSION_DB_URL="$MYSQL_URL" \
        SESSION_DB_TABLE="$DB_TABLE"
      cleanup_stores ;;
    "tower-sessions MySQL store") # its database is dropped when the server stops
      goal_round "$1" "$PEERS_BIN/tower_sessions_store_server" --store mysql --url "$MYSQL_URL" \
        --mysql-database "$PEER_SCHEMA" "${PEER_ADDR[@]}" ;;
    "sessionkit cache Redis"*)
      sessionkit_goal "$1" SESSION_ENGINE=cache SESSION_CACHE_URL="$REDIS_URL" \
        SESSION_CACHE_KEY_PREFIX="$REDIS_PREFIX"
      cleanup_stores ;;
    "actix-session Redis")
      goal_round "$1" "$BIN/actix_session_server" --store redis --redis-url "$REDIS_URL" \
        --redis-key-prefix "$REDIS_PREFIX" "${PEER_ADDR[@]}"
      cleanup_stores ;;
    "tower-sessions Redis store") # deletes the sessions it created when it stops
      goal_round "$1" "$PEERS_BIN/tower_sessions_store_server" --store redis --url "$REDIS_URL" \
        "${PEER_ADDR[@]}" ;;
    "sessionkit cached_db"*)
      sessionkit_goal "$1" SESSION_ENGINE=cached_db SESSION_DB_URL="$PG_URL" \
        SESSION_DB_TABLE="$DB_TABLE" SESSION_CACHE_URL="$REDIS_URL" \
        SESSION_CACHE_KEY_PREFIX="$REDIS_PREFIX"
      cleanup_stores ;;
  esac
}
for round in $(seq 1 "$ROUNDS"); do
  step "goal round $round of $ROUNDS"
  for i in $(seq 0 $((${#GOALS[@]} - 1))); do
    goal_target "${GOALS[$(((i + round - 1) % ${#GOALS[@]}))]}"
  done
done

if [ "$GOALS_ONLY" = 1 ]; then
  report
  exit 0
fi

step "bare axum (no sessions)"
start_server "bare axum" "$BIN/bare_axum" --addr "127.0.0.1:$PORT"
measure "bare axum (no sessions)" "incr read" --no-verify
stop_server

sessionkit_target "sessionkit signed_cookies" SESSION_ENGINE=signed_cookies
sessionkit_target "sessionkit db SQLite" SESSION_ENGINE=db \
  SESSION_DB_URL="sqlite://$WORK/sessionkit.sqlite3"
if [ "$HAVE_PG" = 1 ]; then
  sessionkit_target "sessionkit db PostgreSQL" SESSION_ENGINE=db SESSION_DB_URL="$PG_URL" \
    SESSION_DB_TABLE="$DB_TABLE"
  cleanup_stores
fi
if [ "$HAVE_MYSQL" = 1 ]; then
  sessionkit_target "sessionkit db MySQL" SESSION_ENGINE=db SESSION_DB_URL="$MYSQL_URL" \
    SESSION_DB_TABLE="$DB_TABLE"
  cleanup_stores
fi
sessionkit_target "sessionkit cache memory" SESSION_ENGINE=cache SESSION_CACHE_URL=memory://
if [ "$HAVE_REDIS" = 1 ]; then
  sessionkit_target "sessionkit cache Redis" SESSION_ENGINE=cache SESSION_CACHE_URL="$REDIS_URL" \
    SESSION_CACHE_KEY_PREFIX="$REDIS_PREFIX"
  cleanup_stores
fi

step "tower-sessions MemoryStore"
start_server "tower-sessions" "$BIN/tower_sessions_server" --addr "127.0.0.1:$PORT"
measure "tower-sessions MemoryStore" "incr read login shared"
stop_server

django_target() { # LABEL ENGINE
  step "$1"
  start_server "$1" env BENCH_SESSION_ENGINE="$2" BENCH_SQLITE_PATH="$WORK/django.sqlite3" \
    "$VENV/bin/gunicorn" benchapp.wsgi:application --chdir "$DJANGO_APP" \
    --worker-class gthread --workers "$GUNICORN_WORKERS" --threads 8 --keep-alive 30 \
    --graceful-timeout 5 \
    --bind "127.0.0.1:$PORT" --log-level warning
  sleep 1 # the workers boot after the master binds the port
  measure "$1" "incr read login shared"
  stop_server
}
BENCH_SQLITE_PATH="$WORK/django.sqlite3" BENCH_SESSION_ENGINE=db \
  "$VENV/bin/python" "$DJANGO_APP/manage.py" migrate --verbosity 0
django_target "Django 5.2 signed_cookies" signed_cookies
django_target "Django 5.2 db SQLite" db

report
