#!/usr/bin/env python3
"""Failover under load: `sessionkit serve --bench-routes` on a private Redis Cluster (3 masters
+ 3 replicas) and on a private Sentinel setup (master, replica, 3 sentinels), loadgen writing
(`/bench/incr`, per-client mode) while one master is killed with SIGKILL mid-run; with
SESSION_REDIS_WAIT_REPLICAS=1 and without. Then `/bench/incr` req/s on one Redis node against
the 3-master cluster, in alternating rounds.

    scripts/bench-failover.py [--clients 32] [--duration 30] [--kill-at 10]
                              [--restart-after 5] [--rounds 3] [--round-duration 10]
                              [--no-build]

The killed node is restarted --restart-after seconds after the kill, as a supervisor would
restart a crashed process; it rejoins as a replica. Until then the promoted master has no
replica, so with WAIT=1 saves to its keys fail (503) rather than be acknowledged unreplicated.

Reported per scenario: answers by status (200 / 503 / other / none), the window from the first
to the last failed request, seconds from the kill to the last failure (when writes succeed
again), and acknowledged increments lost (a client's counter going back during the run, or
/read at the end below its last acknowledged counter). The Markdown report goes to standard
output and to $CARGO_TARGET_DIR/bench-failover/report.md. Setups live under a temporary
directory and are stopped (their pids only) whatever happens; Redis on 6379 is not touched.
"""

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from ports import spare_port, wait_for_port  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET_DIR = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
BIN = os.path.join(TARGET_DIR, "release")
SETUP = os.path.join(ROOT, "scripts", "redis-cluster.sh")
SECRET = "benchmark-secret-key-that-is-long-enough-to-be-realistic-0123456789"


def setup(command, directory, *args):
    """Runs scripts/redis-cluster.sh; its output (the URL, a port)."""
    return subprocess.run(
        [SETUP, command, directory, *map(str, args)], check=True, capture_output=True, text=True
    ).stdout.strip()


class Server:
    """`sessionkit serve --bench-routes` on a spare port, stopped with SIGTERM by its pid."""

    def __init__(self, url, wait_replicas, log):
        self.port = spare_port()
        env = dict(
            os.environ,
            SECRET_KEY=SECRET,
            SESSION_ENGINE="cache",
            SESSION_CACHE_URL=url,
            SESSION_REDIS_WAIT_REPLICAS=str(wait_replicas),
            SESSION_COOKIE_SECURE="true",
            RUST_LOG="warn",
        )
        self.process = subprocess.Popen(
            [os.path.join(BIN, "sessionkit"), "serve", "--bench-routes", "--addr",
             f"127.0.0.1:{self.port}"],
            env=env, stdout=log, stderr=subprocess.STDOUT,
        )
        try:
            wait_for_port(self.port, self.process)
        except SystemExit as error:
            raise SystemExit(f"sessionkit serve: {error}; see {log.name}") from None

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def loadgen(port, clients, duration, label, out):
    """Starts loadgen in per-client incr mode; its report goes to `out` (one JSON line)."""
    return subprocess.Popen(
        [os.path.join(BIN, "loadgen"), "--url", f"http://127.0.0.1:{port}/bench", "--mode",
         "incr", "--clients", str(clients), "--duration", str(duration), "--label", label,
         "--json-out", out, "--format", "json"],
        stdout=subprocess.DEVNULL,
    )


def read_report(path):
    with open(path) as f:
        return json.loads(f.readlines()[-1])


def failover(kind, wait_replicas, args, work):
    """One run with a master killed mid-way; the loadgen report and when the kill happened."""
    directory = tempfile.mkdtemp(prefix=f"sessionkit-failover-{kind}-", dir=work)
    label = f"{kind} WAIT={wait_replicas}"
    out = os.path.join(work, f"{kind}-wait{wait_replicas}.jsonl")
    try:
        url = setup(kind, directory)
        with open(os.path.join(work, f"serve-{kind}-wait{wait_replicas}.log"), "w") as log:
            server = Server(url, wait_replicas, log)
            try:
                started = time.monotonic()
                load = loadgen(server.port, args.clients, args.duration, label, out)
                time.sleep(args.kill_at)
                victim = setup("master", directory)
                setup("kill", directory, victim)
                killed_at = time.monotonic() - started
                time.sleep(args.restart_after)
                setup("restart", directory, victim)
                if load.wait() != 0:
                    raise RuntimeError(f"loadgen failed against {label}")
            finally:
                server.stop()
    finally:
        setup("stop", directory)
    report = read_report(out)
    report["killed_at_s"] = killed_at
    report["victim"] = victim
    return report


def throughput(kind, args, work, round_number):
    directory = tempfile.mkdtemp(prefix=f"sessionkit-throughput-{kind}-", dir=work)
    out = os.path.join(work, "throughput.jsonl")
    try:
        url = setup(kind, directory)
        with open(os.path.join(work, f"serve-throughput-{kind}.log"), "a") as log:
            server = Server(url, 0, log)
            try:
                load = loadgen(server.port, args.clients, args.round_duration,
                               f"{kind} round {round_number}", out)
                if load.wait() != 0:
                    raise RuntimeError(f"loadgen failed against {kind}")
            finally:
                server.stop()
    finally:
        setup("stop", directory)
    return read_report(out)


def failover_row(report):
    statuses = report.get("statuses", {})
    ok = sum(n for s, n in statuses.items() if s.startswith("2"))
    unavailable = statuses.get("503", 0)
    other = sum(n for s, n in statuses.items()
                if not s.startswith("2") and s not in ("503", "none"))
    none = statuses.get("none", 0)
    window = report.get("failures_s")
    if window:
        failing = f"{window[0]:.1f}–{window[1]:.1f} s"
        back = f"{window[1] - report['killed_at_s']:.1f} s"
    else:
        failing, back = "none", "no failure"
    latency = report["latency_ms"]
    return (f"| {report['label']} | {ok} | {unavailable} | {other} | {none} | "
            f"{report['killed_at_s']:.1f} s | {failing} | {back} | "
            f"{latency['p99'] / 1000:.2f} s / {latency['max'] / 1000:.2f} s | "
            f"{report.get('acknowledged_lost')} | {report['req_per_s']:.0f} |")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--duration", type=float, default=30)
    parser.add_argument("--kill-at", type=float, default=10)
    parser.add_argument("--restart-after", type=float, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--round-duration", type=float, default=10)
    parser.add_argument("--no-build", action="store_true")
    args = parser.parse_args()
    if not shutil.which("redis-server") or not shutil.which("redis-cli"):
        sys.exit("bench-failover.py: needs redis-server and redis-cli")
    if not args.no_build:
        subprocess.run(["cargo", "build", "--release", "-p", "sessionkit-cli", "-p",
                        "sessionkit-bench", "--bins"], check=True, cwd=ROOT)
    work = os.path.join(TARGET_DIR, "bench-failover")
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    load_before = open("/proc/loadavg").read().split()[:3]

    rows = []
    for kind in ("cluster", "sentinel"):
        for wait_replicas in (1, 0):
            print(f"== failover: {kind}, WAIT={wait_replicas}", file=sys.stderr)
            rows.append(failover_row(failover(kind, wait_replicas, args, work)))
            print(rows[-1], file=sys.stderr)

    rates = {"single": [], "cluster": []}
    for round_number in range(args.rounds):
        # Alternate which goes first, so drift within a round favours neither.
        order = ("single", "cluster") if round_number % 2 == 0 else ("cluster", "single")
        for kind in order:
            report = throughput(kind, args, work, round_number)
            rates[kind].append(report["req_per_s"])
            print(f"== throughput round {round_number}: {kind} {report['req_per_s']:.0f} req/s "
                  f"({report['errors']} errors, {report.get('acknowledged_lost')} lost)",
                  file=sys.stderr)

    command = "scripts/bench-failover.py " + " ".join(sys.argv[1:])
    lines = [
        "# Failover under load",
        "",
        f"`{command}` on {os.cpu_count()} cores, load generator, server and every Redis process "
        f"on the same machine (load average before: {' '.join(load_before)}). Release build. "
        f"loadgen `--mode incr` (per-client), {args.clients} clients, {args.duration:g} s; one "
        f"master killed with SIGKILL at about {args.kill_at:g} s and restarted "
        f"{args.restart_after:g} s later. Redis nodes: no persistence, "
        "cluster-node-timeout / down-after-milliseconds 2000 ms. SESSION_STORE_TIMEOUT 5 s.",
        "",
        "| setup | 200 | 503 | other | no answer | kill at | failing | writes back after kill "
        "| p99 / slowest answer | acknowledged increments lost | req/s |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
        *rows,
        "",
        "\"failing\": from the first to the last failed request, seconds into the run; \"writes "
        "back after kill\": from the kill to the last failed request. A request to the dead "
        "master's keys that the client holds until the failover ends answers late instead of "
        "failing: the slowest answer shows how long.",
        "",
        f"Throughput, `/bench/incr`, {args.clients} clients, {args.rounds} alternating rounds of "
        f"{args.round_duration:g} s, SESSION_REDIS_WAIT_REPLICAS off, median req/s:",
        "",
        "| Redis | median req/s | rounds |",
        "|---|---|---|",
    ]
    for kind, label in (("single", "one node"), ("cluster", "3-master cluster (+3 replicas)")):
        runs = ", ".join(f"{r:.0f}" for r in rates[kind])
        lines.append(f"| {label} | {statistics.median(rates[kind]):.0f} | {runs} |")
    report = "\n".join(lines) + "\n"
    with open(os.path.join(work, "report.md"), "w") as f:
        f.write(report)
    print(report)


if __name__ == "__main__":
    main()
