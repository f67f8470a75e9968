#!/usr/bin/env bash
# Private Redis setups on spare ports under a directory of their own, for benchmarks and manual
# tests (the Rust tests use sessionkit-testkit's RedisCluster and RedisSentinel, the same
# setups). Never touches the machine's Redis on 6379.
#
#   scripts/redis-cluster.sh cluster DIR        3 masters + 3 replicas (redis-cli --cluster create)
#   scripts/redis-cluster.sh sentinel DIR       a master, its replica and 3 sentinels (quorum 2)
#   scripts/redis-cluster.sh single DIR         one node, configured like the others
#   scripts/redis-cluster.sh master DIR         the port of a master: the first of the cluster's,
#                                               or the one the sentinels name
#   scripts/redis-cluster.sh kill DIR PORT      SIGKILL to the node on PORT (a crash)
#   scripts/redis-cluster.sh restart DIR PORT   starts it again: it rejoins as a replica
#   scripts/redis-cluster.sh stop DIR           SIGKILL to every process started, DIR removed
#
# The setup commands print the SESSION_CACHE_URL to use. Nodes keep no snapshot or AOF (their
# durability is their replicas), `cluster-node-timeout` and `down-after-milliseconds` are
# 2000 ms. Each process's pid is in DIR/PORT/redis.pid; only those pids are ever signalled.
set -euo pipefail

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 2; }
[ $# -ge 2 ] || usage
COMMAND=$1
DIR=$2
TIMEOUT_MS=2000
MASTER_NAME=sessionkit

spare_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

cli() { # PORT, then the command
  local port=$1
  shift
  redis-cli -h 127.0.0.1 -p "$port" "$@"
}

wait_until() { # what, then a command that succeeds once it is so
  local what=$1
  shift
  for _ in $(seq 1 600); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.1
  done
  echo "redis-cluster.sh: $what within 60 s" >&2
  exit 1
}

# start_node PORT [redis-server arguments…]: a daemonized node with its files in DIR/PORT.
start_node() {
  local port=$1
  shift
  mkdir -p "$DIR/$port"
  redis-server "$@" --port "$port" --bind 127.0.0.1 --dir "$DIR/$port" --save "" \
    --appendonly no --daemonize yes --pidfile "$DIR/$port/redis.pid" \
    --logfile "$DIR/$port/server.log"
  echo "$*" >"$DIR/$port/args"
  wait_until "redis on $port did not answer" cli "$port" ping
}

all_replicas_in_sync() {
  local port
  for port in $(cat "$DIR/ports"); do
    cli "$port" info replication | grep -Eq 'role:master|master_link_status:up' || return 1
  done
}

cluster_ok() {
  local port
  for port in $(cat "$DIR/ports"); do
    cli "$port" cluster info | grep -q 'cluster_state:ok' || return 1
  done
  all_replicas_in_sync
}

sentinels_agree() {
  local port fields
  cli "$(cat "$DIR/replica")" info replication | grep -q 'master_link_status:up' || return 1
  for port in $(cat "$DIR/sentinels"); do
    fields=$(cli "$port" sentinel master "$MASTER_NAME" | tr '\n' ' ')
    [[ $fields == *"num-slaves 1 "* && $fields == *"num-other-sentinels 2 "* ]] || return 1
  done
}

case $COMMAND in
  cluster)
    mkdir -p "$DIR"
    : >"$DIR/ports"
    addresses=()
    for _ in 1 2 3 4 5 6; do
      port=$(spare_port)
      start_node "$port" --cluster-enabled yes --cluster-config-file nodes.conf \
        --cluster-node-timeout "$TIMEOUT_MS" --cluster-port "$(spare_port)"
      echo "$port" >>"$DIR/ports"
      addresses+=("127.0.0.1:$port")
    done
    redis-cli --cluster create "${addresses[@]}" --cluster-replicas 1 --cluster-yes >"$DIR/create.log"
    wait_until "the cluster was not ok" cluster_ok
    echo "redis+cluster://$(IFS=,; echo "${addresses[*]}")"
    ;;
  sentinel)
    mkdir -p "$DIR"
    master=$(spare_port)
    start_node "$master"
    replica=$(spare_port)
    start_node "$replica" --replicaof 127.0.0.1 "$master"
    echo "$master $replica" >"$DIR/ports"
    echo "$replica" >"$DIR/replica"
    : >"$DIR/sentinels"
    addresses=()
    for _ in 1 2 3; do
      port=$(spare_port)
      mkdir -p "$DIR/$port"
      cat >"$DIR/$port/sentinel.conf" <<EOF
sentinel monitor $MASTER_NAME 127.0.0.1 $master 2
sentinel down-after-milliseconds $MASTER_NAME $TIMEOUT_MS
sentinel failover-timeout $MASTER_NAME 10000
sentinel parallel-syncs $MASTER_NAME 1
EOF
      start_node "$port" "$DIR/$port/sentinel.conf" --sentinel
      echo "$port" >>"$DIR/sentinels"
      addresses+=("127.0.0.1:$port")
    done
    wait_until "the sentinels did not agree" sentinels_agree
    echo "redis+sentinel://$(IFS=,; echo "${addresses[*]}")/$MASTER_NAME"
    ;;
  single)
    mkdir -p "$DIR"
    port=$(spare_port)
    start_node "$port"
    echo "$port" >"$DIR/ports"
    echo "redis://127.0.0.1:$port"
    ;;
  master)
    if [ -s "$DIR/sentinels" ]; then
      cli "$(head -n 1 "$DIR/sentinels")" sentinel get-master-addr-by-name "$MASTER_NAME" | sed -n 2p
    else
      for port in $(cat "$DIR/ports"); do
        if cli "$port" role 2>/dev/null | head -n 1 | grep -q master; then echo "$port"; break; fi
      done
    fi
    ;;
  kill)
    port=${3:?which port}
    kill -9 "$(cat "$DIR/$port/redis.pid")"
    ;;
  restart)
    port=${3:?which port}
    # shellcheck disable=SC2046 # the node's saved arguments, word by word
    start_node "$port" $(cat "$DIR/$port/args")
    ;;
  stop)
    for pidfile in "$DIR"/*/redis.pid; do
      [ -f "$pidfile" ] || continue
      kill -9 "$(cat "$pidfile")" 2>/dev/null || true
    done
    rm -rf "$DIR"
    ;;
  *) usage ;;
esac
