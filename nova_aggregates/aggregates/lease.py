"""Who runs a task, and when someone else may take it over.

A task that outlives one database transaction -- a pool operation today --
records its owner when it starts: ``<hostname>:<pid>`` of the process that
runs it (``this_process``), and the time it started.  Crash recovery takes a
task over only when ``is_gone`` says its owner cannot finish it: a process
of this machine that no longer runs, or, for any owner, a task older than
the staleness limit the caller gives (the only test an owner on another
machine allows).
"""

import datetime
import os
import socket


def this_process():
    """The owner string of this process (computed per call: a forked
    worker is an owner of its own)."""
    return '%s:%d' % (socket.gethostname(), os.getpid())


def is_gone(owner, started_at, now, stale_after=None):
    """Whether a task ``owner`` started at ``started_at`` may be taken over
    at ``now``: it is older than ``stale_after`` seconds (if given), or its
    owner is a process of this machine that no longer runs, or it records
    no owner at all."""
    if stale_after is not None and started_at is not None and \
            now - started_at > datetime.timedelta(seconds=stale_after):
        return True
    hostname, _, pid = (owner or '').rpartition(':')
    if hostname != socket.gethostname() or not pid.isdigit():
        return not owner
    if int(pid) == os.getpid():
        return False
    return not process_runs(int(pid))


def process_runs(pid):
    """Whether process ``pid`` of this machine still runs.  A zombie does
    not: a killed API worker whose parent died stays one for as long as
    the container's init does not reap it."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open('/proc/%d/stat' % pid) as stat:
            # The state letter follows the parenthesised command name.
            return stat.read().rpartition(')')[2].split()[0] != 'Z'
    except (OSError, IndexError):
        return True
