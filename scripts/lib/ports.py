"""Port helpers shared by the Python scripts under scripts/.

The scripts' names have hyphens, so one cannot import another; each used to carry its own copy
of these. A script imports them with `sys.path.insert(0, <its directory>/lib)`.
"""

import socket
import time


def spare_port():
    """A port on 127.0.0.1 that nothing listens on now, for a private server to take."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_port(port, process=None, timeout=30):
    """Returns once 127.0.0.1:`port` accepts a connection; SystemExit after `timeout` seconds,
    or at once if `process` (the server's Popen, when given) has exited."""
    deadline = time.monotonic() + timeout
    while True:
        if process is not None and process.poll() is not None:
            raise SystemExit(f"the server for port {port} exited with {process.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            if time.monotonic() >= deadline:
                raise SystemExit(f"nothing listens on port {port} after {timeout} s") from None
            time.sleep(0.05)
