#!/usr/bin/env python3
"""Two or more builds of the in-process stacks, timed in turn: did a change make a layer faster?

    scripts/in-process-ab.py [--stack S] [--path P] [--requests N] [--runs R] BINARY...

Each BINARY is the `instructions` benchmark of one build (`benches/instructions.rs`), copied
aside after building it:

    cargo bench -p sessionkit-bench --bench instructions --no-run   # prints its path
    cp target/release/deps/instructions-<hash> /tmp/before          # then change, rebuild, copy

Each run sends N requests through one stack (the whole stack: router and layer, and the
process's set-up of a few milliseconds) in a fresh process, the binaries taking turns, R runs each, the order moving by one place a run. It prints
each build's median time per request and the median of its per-run ratios to the first build,
with the middle half of those ratios. Taking turns keeps a machine that speeds up or slows down
from favouring one build; `layer_time`, which compares stacks of one build, cannot compare
builds. Its resolution is about 2 %: code layout alone moves a build whose code did not change
by that much (docs/PROFILES.md, "Atomics, clocks and the demo's router").
"""

import argparse
import statistics
import subprocess
import time


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stack", default="sessionkit_memory", help="a stack of `BINARY --stacks`")
    parser.add_argument("--path", default="/read_write", help="a handler of `BINARY --paths`")
    parser.add_argument("--requests", type=int, default=100_000, help="requests per run")
    parser.add_argument("--runs", type=int, default=15, help="runs of each build")
    parser.add_argument("binaries", nargs="+", metavar="BINARY")
    args = parser.parse_args()

    times = {binary: [] for binary in args.binaries}
    for run in range(args.runs):
        turn = run % len(args.binaries)
        for binary in args.binaries[turn:] + args.binaries[:turn]:
            started = time.perf_counter()
            subprocess.run(
                [binary, args.stack, args.path, str(args.requests)],
                stdout=subprocess.DEVNULL,
                check=True,
            )
            times[binary].append((time.perf_counter() - started) / args.requests * 1e9)

    first = times[args.binaries[0]]
    print(f"{args.stack} {args.path}, {args.runs} runs of {args.requests} requests each")
    for binary, runs in times.items():
        ratios = sorted(mine / theirs for mine, theirs in zip(runs, first))
        quarter = len(ratios) // 4
        print(
            f"{statistics.median(runs):8.1f} ns per request, "
            f"{statistics.median(ratios):.3f}× the first "
            f"(middle half {ratios[quarter]:.3f}–{ratios[-1 - quarter]:.3f}×)  {binary}"
        )


if __name__ == "__main__":
    main()
