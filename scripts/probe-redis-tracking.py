#!/usr/bin/env python3
"""Which Redis client-side caching mode tells a connection only of *other* clients' writes.

The near cache on Redis must not be told of its own writes (every write of the Redis store is
a Lua script). This asks the Redis at REDIS_PORT (default 6379) over raw RESP3, on keys of its
own that it deletes afterwards, and prints one line per case:

- BCAST + NOLOOP: is a plain SET, and a script's SET, echoed to the writer?
- default mode + NOLOOP: the same, and whether another client's write is still reported after
  the writer's own script write (with and without a read of the key inside the script).

Seen on Redis 7.0.15: BCAST echoes script writes (NOLOOP only covers plain commands there);
default mode echoes neither, and a script that reads the key after writing keeps it tracked
(on 7.0 a read of any of the script's keys does: it tracks all the keys the script declares).
"""

import os
import socket
import time

PORT = int(os.environ.get("REDIS_PORT", "6379"))


def command(*args):
    parts = "".join(f"${len(a.encode())}\r\n{a}\r\n" for a in args)
    return f"*{len(args)}\r\n{parts}".encode()


class Conn:
    def __init__(self, resp3=False):
        self.sock = socket.create_connection(("127.0.0.1", PORT))
        self.sock.settimeout(0.2)
        if resp3:
            self.send("HELLO", "3")

    def send(self, *args):
        """Sends one command; returns everything that arrived within 0.1 s after it."""
        self.sock.sendall(command(*args))
        time.sleep(0.1)
        out = b""
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    break
                out += chunk
        except socket.timeout:
            pass
        return out


def pushed(out):
    return b"invalidate" in out


def main():
    key = f"sessionkit-probe:{os.getpid()}:{time.time_ns()}"
    other = Conn()
    script_set = "return redis.call('set', KEYS[1], ARGV[1])"
    set_then_read = "redis.call('set', KEYS[1], ARGV[1]); return redis.call('get', KEYS[1])"

    bcast = Conn(resp3=True)
    bcast.send("CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", key, "NOLOOP")
    print("BCAST NOLOOP, own plain SET echoed:", pushed(bcast.send("SET", key, "1")))
    print("BCAST NOLOOP, own script SET echoed:", pushed(bcast.send("EVAL", script_set, "1", key, "2")))

    default = Conn(resp3=True)
    default.send("CLIENT", "TRACKING", "ON", "NOLOOP")
    default.send("GET", key)
    print("default NOLOOP, own script SET echoed:", pushed(default.send("EVAL", script_set, "1", key, "3")))
    other.send("SET", key, "4")
    print("default NOLOOP, another's SET after it reported:", pushed(default.send("PING")))
    default.send("EVAL", set_then_read, "1", key, "5")
    other.send("SET", key, "6")
    print(
        "default NOLOOP, another's SET after an own script that reads the key reported:",
        pushed(default.send("PING")),
    )
    other.send("DEL", key)

    # Redis 7.0: a read in a script tracks every key the script declares, not just the key
    # it reads; so a read of another key after the write tracks the written key again.
    key2 = key + ":other"
    default.send("GET", key)
    read_other_after = "redis.call('set', KEYS[1], ARGV[1]); return redis.call('ttl', KEYS[2])"
    default.send("EVAL", read_other_after, "2", key, key2, "7")
    other.send("SET", key, "8")
    print(
        "default NOLOOP, another's SET after an own script that reads another of its keys reported:",
        pushed(default.send("PING")),
    )
    other.send("DEL", key)


if __name__ == "__main__":
    main()
