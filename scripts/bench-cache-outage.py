#!/usr/bin/env python3
"""`cached_db` throughput while its Redis is alive, hung (SIGSTOP) and dead (SIGKILL).

Runs `sessionkit serve --bench-routes` on cached_db over a private redis-server and a SQLite
file, and `loadgen --mode incr` (C clients, default 16, for SECONDS, default 10) against it in
each state. A hung or dead cache should cost cached_db about nothing: the database answers.
Loopback only; the Redis, the database and the server are private to the run and removed.

    scripts/bench-cache-outage.py [CLIENTS] [SECONDS]     (BIN=target/release by default)
"""

import os
import shutil
import signal
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from loadgen import run_loadgen  # noqa: E402
from ports import spare_port, wait_for_port  # noqa: E402
from redis_server import redis_server_argv  # noqa: E402

BIN = os.environ.get("BIN", "target/release")
CLIENTS = sys.argv[1] if len(sys.argv) > 1 else "16"
SECONDS = sys.argv[2] if len(sys.argv) > 2 else "10"


def measure(state, port):
    report = run_loadgen(BIN, port, "--mode", "incr", "-c", CLIENTS, "--duration", SECONDS)
    latency = report["latency_ms"]
    print(f"| {state} | {report['req_per_s']:.0f} | {latency['p50']:.1f} | {latency['p99']:.1f} "
          f"| {latency['max']:.0f} | {report['errors']} | {report['first_error'] or ''} |",
          flush=True)


def main():
    for binary in ("sessionkit", "loadgen"):
        if not os.access(f"{BIN}/{binary}", os.X_OK):
            sys.exit(f"{BIN}/{binary} is missing: cargo build --release "
                     "-p sessionkit-cli -p sessionkit-bench")
    work = tempfile.mkdtemp(prefix="bench-cache-outage-")
    redis_port, app_port = spare_port(), spare_port()
    redis = subprocess.Popen(redis_server_argv(redis_port, work), stdout=subprocess.DEVNULL)
    server = None
    try:
        wait_for_port(redis_port, redis)
        env = dict(os.environ, SECRET_KEY="bench-cache-outage", SESSION_ENGINE="cached_db",
                   SESSION_CACHE_URL=f"redis://127.0.0.1:{redis_port}",
                   SESSION_DB_URL=f"sqlite://{work}/sessions.sqlite3", RUST_LOG="off")
        subprocess.run([f"{BIN}/sessionkit", "migrate"], env=env, check=True,
                       stdout=subprocess.DEVNULL)
        with open(f"{work}/serve.log", "w") as log:
            server = subprocess.Popen(
                [f"{BIN}/sessionkit", "serve", "--bench-routes", "--addr",
                 f"127.0.0.1:{app_port}"], env=env, stdout=subprocess.DEVNULL, stderr=log)
        wait_for_port(app_port, server)
        print(f"cached_db on SQLite, loadgen --mode incr -c {CLIENTS} --duration {SECONDS}\n")
        print("| Redis | req/s | p50 ms | p99 ms | max ms | errors | first error |")
        print("|---|---|---|---|---|---|---|")
        measure("alive", app_port)
        os.kill(redis.pid, signal.SIGSTOP)
        measure("hung (SIGSTOP)", app_port)
        os.kill(redis.pid, signal.SIGKILL)
        redis.wait()
        measure("dead (SIGKILL)", app_port)
    finally:
        if server is not None:
            server.terminate()
            server.wait()
        if redis.poll() is None:
            os.kill(redis.pid, signal.SIGKILL)
            redis.wait()
        shutil.rmtree(work, ignore_errors=True)


main()
