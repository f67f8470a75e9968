"""What /proc says about a process, for the scripts that measure a server's CPU per request."""

import os


def cpu_seconds(pid):
    """User and system CPU time `pid` has used so far (its /proc/PID/stat)."""
    with open(f"/proc/{pid}/stat") as stat:
        # The command name, in parentheses, may hold spaces: the fields follow the last ")".
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
