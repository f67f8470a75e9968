"""`loadgen` as the measuring scripts under scripts/ run it: one run against a target's
benchmark routes, and the report it prints."""

import json
import os
import subprocess


def run_loadgen(release, port, *args):
    """The report (loadgen's last line, JSON) of one run against the `/bench` routes on
    127.0.0.1:`port`, with `args` (mode, clients, duration…); `release` holds the binary. A
    run that could not measure (loadgen exits non-zero) raises."""
    run = subprocess.run(
        [os.path.join(release, "loadgen"), "--url", f"http://127.0.0.1:{port}/bench", *args],
        capture_output=True, text=True, check=True,
    )
    return json.loads(run.stdout.splitlines()[-1])
