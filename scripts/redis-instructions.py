#!/usr/bin/env python3
"""Redis's own instructions per HTTP request, counted by valgrind's callgrind.

    scripts/redis-instructions.py [--requests N] [--clients C] [--no-verify LABEL]...
                                  'LABEL=[VAR=VALUE...] COMMAND [ARG...]'...

Each target is a server command whose arguments name `{redis}`, the URL of the Redis it must
use, and `{port}`, the port it must listen on; a relative COMMAND is looked up in
$CARGO_TARGET_DIR/release (default target/release). For each target, twice: a private
`redis-server` under callgrind, on a spare port in a temporary directory (the shared Redis is
never touched), the target started on it, `loadgen` (`incr`) sending N requests (the second
time none), then both stopped. The difference of the two counts over N is what Redis executed
per request: unlike CPU time on a shared 2-core machine, it does not move with the machine's
load, so two builds or two libraries compare in one run each. `loadgen` checks the counters:
errors and lost updates are printed beside the count (not for a label given to `--no-verify`,
a target without sessions).

Example (docs/PROFILES.md, "What a session's write costs Redis"):

    CARGO_TARGET_DIR=/work/bt scripts/redis-instructions.py \\
      'sessionkit=SECRET_KEY=s SESSION_ENGINE=cache SESSION_CACHE_URL={redis} sessionkit serve --bench-routes --addr 127.0.0.1:{port}' \\
      'actix-session=actix_session_server --store redis --redis-url {redis} --addr 127.0.0.1:{port}'
"""

import argparse
import os
import re
import signal
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from loadgen import run_loadgen  # noqa: E402
from ports import spare_port, wait_for_port  # noqa: E402
from redis_server import redis_server_argv  # noqa: E402
from targets import parse_target  # noqa: E402


def count(spec, requests, clients, release, verify):
    """Redis's instructions over a run of `requests`, and loadgen's report (None for none)."""
    with tempfile.TemporaryDirectory(prefix="redis-instructions-") as directory:
        redis_port, port = spare_port(), spare_port()
        log = os.path.join(directory, "callgrind.log")
        redis = subprocess.Popen(
            ["valgrind", "--tool=callgrind", f"--log-file={log}",
             f"--callgrind-out-file={os.path.join(directory, 'callgrind.out')}",
             *redis_server_argv(redis_port, directory)],
            stdout=subprocess.DEVNULL,
        )
        server = None
        try:
            wait_for_port(redis_port, redis, timeout=60)
            _, command, env = parse_target(
                spec, release, redis=f"redis://127.0.0.1:{redis_port}", port=port
            )
            server = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL, start_new_session=True)
            wait_for_port(port, server)
            report = None
            if requests:
                report = run_loadgen(
                    release, port, "--mode", "incr", "--clients", str(clients), "--duration",
                    "600", "--requests", str(requests), *([] if verify else ["--no-verify"]),
                )
        finally:
            if server is not None:
                os.killpg(server.pid, signal.SIGTERM)
                server.wait()
            # SIGTERM: redis-server exits cleanly, and callgrind writes its totals.
            redis.terminate()
            redis.wait()
        with open(log) as lines:
            collected = re.search(r"Collected : (\d+)", lines.read())
        if not collected:
            raise SystemExit(f"callgrind reported no count for {spec.split('=', 1)[0]!r}")
        return int(collected.group(1)), report


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--no-verify", action="append", default=[], metavar="LABEL")
    parser.add_argument("targets", nargs="+", metavar="'LABEL=COMMAND'")
    args = parser.parse_args()
    release = os.path.join(os.environ.get("CARGO_TARGET_DIR", "target"), "release")
    print(f"| target ({args.requests:,} requests of `incr`, {args.clients} clients) "
          "| Redis instructions per request | errors | lost updates |")
    print("|---|---:|---:|---:|")
    for spec in args.targets:
        label = spec.split("=", 1)[0]
        verify = label not in args.no_verify
        idle, _ = count(spec, 0, args.clients, release, verify)
        busy, report = count(spec, args.requests, args.clients, release, verify)
        lost = report.get("lost_updates") if verify else None
        print(f"| {label} | {(busy - idle) // args.requests:,} "
              f"| {report['errors']} | {lost if lost is not None else 'not checked'} |",
              flush=True)


if __name__ == "__main__":
    main()
