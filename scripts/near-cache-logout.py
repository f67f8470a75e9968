#!/usr/bin/env python3
"""The near cache across two `sessionkit serve` processes (issue 17).

logout (default): two processes, A and B, on one store with SESSION_NEAR_CACHE=true. Each try
logs in on A, makes B cache the session (reads on B), logs out on A, then reads on B with the
old cookie until B answers with a fresh session. Reported per store: the longest time B still
accepted the old cookie after A's logout had answered, over --tries tries (goal: < 100 ms).

throughput (--throughput): one process per configuration, near cache off then on, `/bench/incr`
and `/bench/read` with `loadgen`, alternating configurations in --rounds rounds; medians.

    CARGO_TARGET_DIR=/work/target-near cargo build --release -p sessionkit-cli -p sessionkit-bench --bins
    scripts/near-cache-logout.py --bin-dir /work/target-near/release
    scripts/near-cache-logout.py --bin-dir /work/target-near/release --throughput

Uses the shared PostgreSQL (127.0.0.1:5432, database test) and Redis (127.0.0.1:6379) under a
table and key prefix of its own, removed at the end; the processes it starts run in process
groups of their own and are stopped at the end.
"""

import argparse
import http.client
import json
import os
import signal
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from ports import spare_port, wait_for_port  # noqa: E402

POSTGRES = "postgres://postgres@127.0.0.1:5432/test"
REDIS = "redis://127.0.0.1:6379"
RUN = f"sk_near_{os.getpid()}"


def store_env(store, near):
    """The settings of a serve process on `store`, the near cache on or off."""
    env = {
        "SECRET_KEY": "near-cache-measurement",
        "SESSION_COOKIE_SECURE": "false",
        "SESSION_NEAR_CACHE": "true" if near else "false",
    }
    if store == "postgres":
        env.update(SESSION_ENGINE="db", SESSION_DB_URL=POSTGRES, SESSION_DB_TABLE=RUN)
    else:
        env.update(SESSION_ENGINE="cache", SESSION_CACHE_URL=REDIS, SESSION_CACHE_KEY_PREFIX=f"{RUN}:")
    return env


class Server:
    """A `sessionkit serve --bench-routes` process in a process group of its own."""

    def __init__(self, bin_dir, env):
        self.port = spare_port()
        self.process = subprocess.Popen(
            [os.path.join(bin_dir, "sessionkit"), "serve", "--bench-routes",
             "--expire-every", "0", "--addr", f"127.0.0.1:{self.port}"],
            env={**os.environ, **env}, start_new_session=True,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        try:
            wait_for_port(self.port, self.process)
        except SystemExit as error:
            self.stop()
            raise SystemExit(f"sessionkit serve did not start: {error}") from None

    def stop(self):
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


class Client:
    """One keep-alive connection to a server."""

    def __init__(self, server):
        self.connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)

    def request(self, method, path, cookie=None):
        headers = {"Cookie": f"sessionid={cookie}"} if cookie else {}
        self.connection.request(method, f"/bench{path}", headers=headers)
        response = self.connection.getresponse()
        body = response.read().decode()
        set_cookie = response.getheader("Set-Cookie") or ""
        if response.status != 200:
            sys.exit(f"{method} {path}: {response.status} {body}")
        new = set_cookie.split(";")[0].split("=", 1)[1] if set_cookie.startswith("sessionid=") else None
        return body, new


def one_logout(a, b):
    """Milliseconds B still accepted the cookie after A's logout answered (0: never)."""
    _, cookie = a.request("POST", "/login")
    a.request("GET", "/incr", cookie)
    for _ in range(3):  # B caches the session
        body, _ = b.request("GET", "/read", cookie)
        assert body == "1", f"B reads the session: {body}"
    a.request("GET", "/logout", cookie)
    logged_out = time.monotonic()
    last_accept = None
    while time.monotonic() - logged_out < 5:
        body, _ = b.request("GET", "/read", cookie)
        if body == "0":  # a fresh session: the old cookie is no longer accepted
            break
        last_accept = time.monotonic()
    else:
        sys.exit("B still accepted the cookie after 5 s")
    return 0.0 if last_accept is None else (last_accept - logged_out) * 1000


def logout_run(args, store):
    a_server = Server(args.bin_dir, store_env(store, near=False))
    b_server = Server(args.bin_dir, store_env(store, near=True))
    try:
        a, b = Client(a_server), Client(b_server)
        times = [one_logout(a, b) for _ in range(args.tries)]
    finally:
        a_server.stop()
        b_server.stop()
    accepted = sum(1 for t in times if t > 0)
    print(json.dumps({
        "store": store, "tries": len(times), "max_ms": round(max(times), 2),
        "median_ms": round(statistics.median(times), 2),
        "tries_where_b_accepted_after_logout": accepted,
    }))


def loadgen(args, server, mode):
    out = subprocess.run(
        [os.path.join(args.bin_dir, "loadgen"), "--url", f"http://127.0.0.1:{server.port}/bench",
         "--mode", mode, "-c", str(args.clients), "--duration", str(args.duration),
         "--server-pid", str(server.process.pid)],
        check=True, capture_output=True, text=True,
    )
    return json.loads(out.stdout)


def throughput_run(args):
    configs = [(store, near) for store in args.stores for near in (False, True)]
    results = {(store, near, mode): [] for store, near in configs for mode in ("incr", "read")}
    for _ in range(args.rounds):
        for store, near in configs:
            server = Server(args.bin_dir, store_env(store, near))
            try:
                for mode in ("incr", "read"):
                    report = loadgen(args, server, mode)
                    if report["errors"] or report.get("lost_updates"):
                        sys.exit(f"{store} near={near} {mode}: {report}")
                    results[(store, near, mode)].append(report["req_per_s"])
            finally:
                server.stop()
    for (store, near, mode), rates in results.items():
        print(json.dumps({
            "store": store, "near_cache": near, "mode": mode, "clients": args.clients,
            "median_req_per_s": round(statistics.median(rates)), "rounds": [round(r) for r in rates],
        }))


def clean_up():
    subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "test", "-qc",
                    f"DROP TABLE IF EXISTS {RUN}"], check=False, capture_output=True)
    keys = subprocess.run(["redis-cli", "--scan", "--pattern", f"{RUN}:*"],
                          capture_output=True, text=True, check=False).stdout.split()
    for i in range(0, len(keys), 500):
        subprocess.run(["redis-cli", "DEL", *keys[i:i + 500]], check=False, capture_output=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bin-dir", required=True, help="where sessionkit and loadgen are")
    parser.add_argument("--stores", nargs="+", default=["postgres", "redis"],
                        choices=["postgres", "redis"])
    parser.add_argument("--tries", type=int, default=100)
    parser.add_argument("--throughput", action="store_true")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--duration", type=float, default=5)
    args = parser.parse_args()
    try:
        if args.throughput:
            throughput_run(args)
        else:
            for store in args.stores:
                logout_run(args, store)
    finally:
        clean_up()


if __name__ == "__main__":
    main()
