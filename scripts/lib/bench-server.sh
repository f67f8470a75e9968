# Sourced by the benchmark scripts: start a server in the background, wait for its port, stop it.
#
#   start_server PORT COMMAND…   runs COMMAND (output to /dev/null, or to $SERVER_LOG when set),
#                                sets SERVER_PID and returns once 127.0.0.1:PORT accepts
#   stop_server [SIGNAL]         signals SERVER_PID (TERM by default) and waits for it

start_server() {
  local port=$1
  shift
  "$@" >"${SERVER_LOG:-/dev/null}" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 300); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
    sleep 0.1
  done
  echo "no server on port $port: $*" >&2
  return 1
}

stop_server() {
  kill "-${1:-TERM}" "$SERVER_PID"
  wait "$SERVER_PID" 2>/dev/null || true
}
