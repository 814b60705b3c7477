"""Who runs a task, and when someone else may take it over.

A task that outlives one database transaction -- a pool operation, a
host's status change -- records its owner when it starts: the coordination
member of the process that runs it (``this_process``, see
``nova_aggregates.coordination``), and the time it started.  Crash recovery
takes a task over only when ``is_gone`` says its owner cannot finish it:
its member lock is free, which the coordination backend knows for a
process of any node.
"""

import datetime
import os
import socket

from nova_aggregates import coordination


def this_process():
    """The owner string of this process: its coordination member (a forked
    worker is a member of its own)."""
    return coordination.get().member()


def is_gone(owner, started_at, now, stale_after=None):
    """Whether a task ``owner`` started at ``started_at`` may be taken over
    at ``now``: it records no owner, or its owner's member lock is free,
    or it is older than ``stale_after`` seconds (if given: an operator's
    override)."""
    if stale_after is not None and started_at is not None and \
            now - started_at > datetime.timedelta(seconds=stale_after):
        return True
    if not owner:
        return True
    if coordination.is_member_id(owner):
        return not coordination.get().is_alive(owner)
    return _legacy_owner_is_gone(owner)


def _legacy_owner_is_gone(owner):
    """``<hostname>:<pid>``, as releases before coordination recorded
    owners: gone if it is a process of this machine that no longer runs;
    an owner on another machine only goes stale."""
    hostname, _, pid = owner.rpartition(':')
    if hostname != socket.gethostname() or not pid.isdigit():
        return False
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
