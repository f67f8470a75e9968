#!/usr/bin/env python3
"""Redis's own CPU per command: the Redis floor's `SET … EX` against the Redis store's
versioned write script, as the store sends it (docs/PROFILES.md, "The Redis near cache,
piece by piece").

Starts a private `redis-server` on a spare port in a temporary directory (the shared one is
never touched), sends each case's commands over one RESP3 connection, `--batch` commands per
write, and reads the server's CPU time from /proc/<pid>/stat before and after. The replace
script is read from crates/sessionkit/src/engine/cache/redis/scripts.rs and put together as
the store does. Cases:

- `SET key value EX 3600`: the Redis floor's one command per change;
- `EVALSHA` of a script that only returns: what calling a script costs;
- `EVALSHA` of the store's replace script (version check, `HSET`, `EXPIREAT`) as a store
  without the near cache sends it, on a connection nothing tracks;
- the same as the near cache's store sends it, with the read that keeps the key tracked, on a
  connection with `CLIENT TRACKING ON NOLOOP`.

Usage: scripts/redis-script-cost.py [--commands 300000] [--batch 64] [--runs 2]
"""

import argparse
import os
import re
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from ports import spare_port, wait_for_port  # noqa: E402
from procstat import cpu_seconds  # noqa: E402
from redis_server import redis_server_argv  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPTS_RS = os.path.join(ROOT, "crates/sessionkit/src/engine/cache/redis/scripts.rs")
SESSION_JSON = '{"count":1,"_auth_user_id":"1","_auth_user_backend":"app.Backend"}'


def replace_script(tracked):
    """The store's replace script: its helpers, then its body (scripts.rs builds it so)."""
    source = open(SCRIPTS_RS).read()

    def constant(name):
        return re.search(name + r': &str = r"(.*?)";', source, re.S).group(1)

    track_again = constant("TRACK_AGAIN" if tracked else "NOTHING_TRACKED")
    return constant("INDEX_USER") + track_again + constant("REPLACE_SCRIPT")


def encode(*args):
    parts = [b"*%d\r\n" % len(args)]
    for arg in args:
        data = arg if isinstance(arg, bytes) else str(arg).encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(parts)


class Connection:
    """One RESP3 connection that reads replies in full, and skips pushes."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.buffer = b""
        self.call("HELLO", "3")

    def _fill(self, size):
        while len(self.buffer) < size:
            chunk = self.sock.recv(1 << 20)
            if not chunk:
                raise ConnectionError("redis-server closed the connection")
            self.buffer += chunk

    def _line(self):
        while b"\r\n" not in self.buffer:
            self._fill(len(self.buffer) + 1)
        line, self.buffer = self.buffer.split(b"\r\n", 1)
        return line

    def _value(self):
        line = self._line()
        kind = line[:1]
        if kind == b"-":
            raise RuntimeError(line.decode())
        if kind in b"$=":
            size = int(line[1:])
            if size < 0:
                return None
            self._fill(size + 2)
            data, self.buffer = self.buffer[:size], self.buffer[size + 2 :]
            return data
        if kind in b"*~>%":
            count = int(line[1:]) * (2 if kind == b"%" else 1)
            items = [self._value() for _ in range(count)]
            return ("push", items) if kind == b">" else items
        return line

    def reply(self):
        value = self._value()
        while isinstance(value, tuple):
            value = self._value()
        return value

    def call(self, *args):
        self.sock.sendall(encode(*args))
        return self.reply()


def measure(port, pid, case, commands, batch):
    """Redis µs of CPU per command of `case`."""
    connection = Connection(port)
    keys = [f"cost:{case}:{n}" for n in range(batch)]
    versions = dict.fromkeys(keys, 1)
    expires = int(time.time()) + 3600
    if case.startswith("replace"):
        tracked = case == "replace, tracking"
        sha = connection.call("SCRIPT", "LOAD", replace_script(tracked)).decode()
        if tracked:
            connection.call("CLIENT", "TRACKING", "ON", "NOLOOP")
        for key in keys:
            connection.call("DEL", key)
            connection.call("HSET", key, "d", SESSION_JSON, "v", 1)
    elif case == "script that only returns":
        sha = connection.call("SCRIPT", "LOAD", "return 1").decode()

    def command(key):
        if case == "SET … EX":
            return encode("SET", key, SESSION_JSON, "EX", 3600)
        if case == "script that only returns":
            return encode("EVALSHA", sha, 1, key)
        version = versions[key]
        return encode("EVALSHA", sha, 2, key, "", "id", version, version + 1, SESSION_JSON,
                      expires)

    before, sent = cpu_seconds(pid), 0
    while sent < commands:
        connection.sock.sendall(b"".join(command(key) for key in keys))
        for key in keys:
            answer = connection.reply()
            if case.startswith("replace"):
                if answer != b":1":
                    raise RuntimeError(f"the replace of {key} was refused: {answer!r}")
                versions[key] += 1
        sent += len(keys)
    used = cpu_seconds(pid) - before
    for key in keys:
        connection.call("DEL", key)
    return used / sent * 1e6


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--commands", type=int, default=300_000)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--runs", type=int, default=2)
    args = parser.parse_args()
    cases = ["SET … EX", "script that only returns", "replace", "replace, tracking"]
    with tempfile.TemporaryDirectory(prefix="redis-script-cost-") as directory:
        port = spare_port()
        server = subprocess.Popen(redis_server_argv(port, directory), stdout=subprocess.DEVNULL)
        try:
            try:
                wait_for_port(port, server)
            except SystemExit as error:
                raise SystemExit(f"the private redis-server did not answer: {error}") from None
            results = {case: [] for case in cases}
            for _ in range(args.runs):
                for case in cases:
                    results[case].append(measure(port, server.pid, case, args.commands, args.batch))
        finally:
            server.terminate()
            server.wait()
    print(f"| command ({args.batch} per write, {args.commands:,} per run) | Redis µs per command |")
    print("|---|---:|")
    for case in cases:
        print(f"| {case} | {', '.join(f'{value:.2f}' for value in results[case])} |")


if __name__ == "__main__":
    main()
