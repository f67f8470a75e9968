#!/usr/bin/env python3
"""HTTP targets in alternating rounds of `loadgen`: req/s, server CPU and sleeps per request.

    scripts/http-rounds.py [--rounds R] [--duration S] [--clients C] [--mode M]
                           [--no-verify LABEL]... [--store-pid PID]
                           'LABEL=[VAR=VALUE...] COMMAND [ARG...]'...

Each target is a server command whose arguments may name `{port}`, the port it must listen
on; a relative COMMAND is looked up in $CARGO_TARGET_DIR/release (default target/release).
Every target starts once and runs until the end. Each round runs `loadgen` (`--mode`: `incr` by
default, or `shared`, all clients on one session) against each target in turn, the order moving
by one place a round, so a machine that speeds up or slows down does not favour one target. For
each run it prints the requests per second, the server's CPU per request, and how often per
request the server's threads went to sleep (voluntary context switches) or were preempted
(involuntary), read from /proc/PID/task/*/status around the run; then the median of each over
the rounds. A label given to `--no-verify` is a target without sessions (a floor), whose
counters `loadgen` does not check. With `--store-pid`, also the CPU per request of that process
(a database server shared by the targets), from /proc/PID/stat around each run. For instance,
two builds of `sessionkit serve` on SQLite:

    scripts/http-rounds.py \\
      'before=SECRET_KEY=s SESSION_ENGINE=db SESSION_DB_URL=sqlite:///tmp/a.sqlite3 /tmp/before serve --bench-routes --addr 127.0.0.1:{port}' \\
      'after=SECRET_KEY=s SESSION_ENGINE=db SESSION_DB_URL=sqlite:///tmp/b.sqlite3 /tmp/after serve --bench-routes --addr 127.0.0.1:{port}'
"""

import argparse
import glob
import os
import signal
import statistics
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from loadgen import run_loadgen  # noqa: E402
from ports import wait_for_port  # noqa: E402
from procstat import cpu_seconds  # noqa: E402
from targets import parse_target  # noqa: E402

FIRST_PORT = 18500


def context_switches(pid):
    """Voluntary and involuntary context switches of all of `pid`'s threads so far."""
    voluntary = involuntary = 0
    for status in glob.glob(f"/proc/{pid}/task/*/status"):
        try:
            with open(status) as lines:
                for line in lines:
                    if line.startswith("voluntary_ctxt_switches"):
                        voluntary += int(line.split()[1])
                    elif line.startswith("nonvoluntary_ctxt_switches"):
                        involuntary += int(line.split()[1])
        except FileNotFoundError:
            pass  # a thread that ended meanwhile
    return voluntary, involuntary


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per run")
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--mode", choices=["incr", "shared"], default="incr")
    parser.add_argument("--no-verify", action="append", default=[], metavar="LABEL")
    parser.add_argument("--store-pid", type=int, metavar="PID",
                        help="also report this process's CPU per request (the database's)")
    parser.add_argument("targets", nargs="+", metavar="'LABEL=COMMAND'")
    args = parser.parse_args()
    release = os.path.join(os.environ.get("CARGO_TARGET_DIR", "target"), "release")
    targets = [
        (*parse_target(spec, release, port=FIRST_PORT + i), FIRST_PORT + i)
        for i, spec in enumerate(args.targets)
    ]

    servers = {}
    results = {label: [] for label, *_ in targets}
    try:
        for label, command, env, port in targets:
            servers[label] = subprocess.Popen(
                command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
            wait_for_port(port, servers[label])
        for round_ in range(args.rounds):
            turn = round_ % len(targets)
            for label, _, _, port in targets[turn:] + targets[:turn]:
                pid = servers[label].pid
                before = context_switches(pid)
                store_before = cpu_seconds(args.store_pid) if args.store_pid else 0
                report = run_loadgen(
                    release, port, "--duration", str(args.duration), "--clients",
                    str(args.clients), "--mode", args.mode, "--server-pid", str(pid), "--label",
                    label, *(["--no-verify"] if label in args.no_verify else []),
                )
                after = context_switches(pid)
                store_after = cpu_seconds(args.store_pid) if args.store_pid else 0
                requests = max(report["requests"], 1)
                row = (
                    report["req_per_s"],
                    report["server_cpu_us_per_req"],
                    (after[0] - before[0]) / requests,
                    (after[1] - before[1]) / requests,
                    (store_after - store_before) / requests * 1e6,
                    report["errors"],
                )
                results[label].append(row)
                lost = report.get("lost_updates")
                print(f"round {round_ + 1} {label}: {row[0]:,.0f} req/s, {row[1]:.1f} µs/req, "
                      f"sleeps {row[2]:.3f}, preempted {row[3]:.3f} per request, "
                      + (f"store {row[4]:.1f} µs/req, " if args.store_pid else "") +
                      f"errors {report['errors']}, "
                      f"lost updates {lost if lost is not None else 'not checked'}",
                      flush=True)
    finally:
        for server in servers.values():
            try:
                os.killpg(server.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
    store = (" store CPU µs/req |", "---:|") if args.store_pid else ("", "")
    print("\n| target | req/s | server CPU µs/req | sleeps per request | preempted per request |"
          + store[0] + " errors |")
    print("|---|---:|---:|---:|---:|" + store[1] + "---:|")
    for label, rows in results.items():
        medians = [statistics.median(column) for column in zip(*rows)]
        print(f"| {label} | {medians[0]:,.0f} | {medians[1]:.1f} | {medians[2]:.3f} | "
              f"{medians[3]:.3f} |" + (f" {medians[4]:.1f} |" if args.store_pid else "")
              + f" {medians[5]:.0f} |")


if __name__ == "__main__":
    main()
