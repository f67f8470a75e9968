#!/usr/bin/env python3
"""Atomic read-modify-write instructions executed per request, from a callgrind profile.

    atomics_per_request.py BINARY CALLGRIND_OUT REQUESTS

CALLGRIND_OUT must come from `valgrind --tool=callgrind --dump-instr=yes --compress-pos=no` on
BINARY. An atomic read-modify-write (a `lock`-prefixed instruction, or `xchg` with memory) costs
about 20 cycles even uncontended, and far more when another core last wrote its cache line;
instruction counts weigh it as one instruction. Counting them shows the part of a layer's time
that its instruction count hides: mutex locks and unlocks, reference counts. Only BINARY's own
instructions are counted (the C library's are not: malloc on one thread takes no lock).
"""

import re
import subprocess
import sys


def atomic_addresses(binary):
    """The addresses of BINARY's atomic read-modify-write instructions."""
    listing = subprocess.run(
        ["objdump", "-d", "--no-show-raw-insn", binary], capture_output=True, text=True, check=True
    ).stdout
    # `xchg` is atomic only with a memory operand; `xchg %ax,%ax` is a two-byte no-op the
    # compiler pads with.
    instruction = re.compile(r"^\s+([0-9a-f]+):\s+(lock\b|xchg\s+\S*\()")
    return {int(m.group(1), 16) for m in map(instruction.match, listing.splitlines()) if m}


def executed(profile, addresses):
    """How many times the instructions at ADDRESSES ran, by PROFILE's own-cost lines."""
    total = 0
    after_call = False
    cost = re.compile(r"^(0x[0-9a-f]+) \d+ (\d+)")
    with open(profile) as lines:
        for line in lines:
            if line.startswith("calls="):
                # The next cost line is the call's inclusive cost, not an instruction's own.
                after_call = True
                continue
            m = cost.match(line)
            if m and not after_call and int(m.group(1), 16) in addresses:
                total += int(m.group(2))
            after_call = False
    return total


def main():
    binary, profile, requests = sys.argv[1], sys.argv[2], int(sys.argv[3])
    print(round(executed(profile, atomic_addresses(binary)) / requests, 1))


if __name__ == "__main__":
    main()
