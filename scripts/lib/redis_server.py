"""The private `redis-server` the measuring scripts under scripts/ start on a spare port, so
that the shared Redis is never touched."""


def redis_server_argv(port, directory):
    """`redis-server` on 127.0.0.1:`port` that keeps nothing on disk, run in `directory`."""
    return ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
            "--appendonly", "no", "--dir", directory]
