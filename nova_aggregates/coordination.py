"""Who is alive, seen from every node: tooz locks that live as long as the
process holding them.

Each process that runs long tasks is a coordination *member*: at first use
it takes the lock ``nova-aggregates.member.<member id>`` and holds it until
it stops.  Another process on any node tells whether that member is alive
by trying the same lock without waiting: whoever gets it knows the holder
is gone (and lets it go at once).  Rolling maintenance tasks are claimed the
same way, one lock per task (``try_lock``).

A lock ends with its holder: on PostgreSQL and MySQL (advisory locks,
tooz's ``postgresql://`` and ``mysql://`` drivers) when the server ends the
holder's session, at once for a process that died; with the file backend
when the process exits; with etcd, Redis or ZooKeeper when the holder stops
renewing it for ``[maintenance] task_lease_seconds`` (tooz's heartbeat
renews it).  ``[coordination] backend_url`` picks the backend; unset, it is
the database of ``[database] connection`` (see ``backend_url``).

One process has one ``Coordinator`` (``get()``); a forked child gets a
member of its own on first use.
"""

import logging
import os
import re
import socket
import tempfile
import threading
import urllib.parse
import uuid

import sqlalchemy as sa
from tooz import coordination as tooz_coordination

LOG = logging.getLogger(__name__)

MEMBER_LOCK_PREFIX = 'nova-aggregates.member.'
#: ``<hostname>:<pid>:<token>``, as ``Coordinator.member`` names members.
_MEMBER_ID = re.compile(r'^.+:[0-9]+:[0-9a-f]{12}$')
#: tooz drivers whose locks expire unless renewed: they get the lease.
_TTL_SCHEMES = ('etcd3', 'etcd3+http', 'etcd3+https', 'redis', 'rediss',
                'zookeeper', 'kazoo', 'memcached')


def backend_url(conf):
    """The tooz URL of ``[coordination] backend_url``, or the one made from
    ``[database] connection`` when that is unset; TTL backends get
    ``timeout=[maintenance] task_lease_seconds`` unless the URL has one."""
    url = conf.coordination.backend_url or _from_database(
        conf.database.connection)
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme in _TTL_SCHEMES:
        query = urllib.parse.parse_qs(parsed.query)
        if 'timeout' not in query:
            joined = (parsed.query + '&' if parsed.query else '') + \
                'timeout=%d' % conf.maintenance.task_lease_seconds
            url = urllib.parse.urlunsplit(parsed._replace(query=joined))
    return url


def _from_database(connection):
    """PostgreSQL and MySQL databases serve their advisory locks; a SQLite
    file gets a lock directory beside it (SQLite serves one node)."""
    url = sa.engine.make_url(connection or 'sqlite://')
    backend = url.get_backend_name()
    if backend in ('postgresql', 'mysql', 'mariadb'):
        return url.set(drivername='postgresql' if backend == 'postgresql'
                       else 'mysql', query={}).render_as_string(
                           hide_password=False)
    if backend == 'sqlite' and url.database not in (None, '', ':memory:'):
        directory = os.path.abspath(url.database) + '.locks'
    else:
        # In-memory SQLite: this process is the whole deployment.
        directory = os.path.join(tempfile.gettempdir(),
                                 'nova-aggregates-locks-%d' % os.getpid())
    return 'file://' + directory


class Coordinator:
    """This process's coordination member (see the module docstring)."""

    def __init__(self, url):
        self.url = url
        self._guard = threading.Lock()
        self._pid = None
        self._tooz = None
        self._member_lock = None
        self.member_id = None

    # -- this process -----------------------------------------------------------

    def member(self):
        """This process's member id, ``<hostname>:<pid>:<token>`` (taken
        on first use, again after a fork)."""
        with self._guard:
            if self._pid != os.getpid():
                self._start()
            return self.member_id

    def _start(self):
        # A forked child inherits its parent's objects but not its locks
        # (nor, safely, its connections): it starts its own member.
        self._tooz = self._member_lock = None
        for _ in range(8):
            member_id = '%s:%d:%s' % (socket.gethostname(), os.getpid(),
                                      uuid.uuid4().hex[:12])
            coordinator = tooz_coordination.get_coordinator(
                self.url, member_id.encode())
            coordinator.start(start_heart=True)
            lock = coordinator.get_lock(_member_lock_name(member_id))
            if lock.acquire(blocking=False):
                self._tooz, self._member_lock = coordinator, lock
                self.member_id, self._pid = member_id, os.getpid()
                LOG.debug('Coordination member %s on %s', member_id,
                          _safe(self.url))
                return
            # PostgreSQL's tooz locks hash names to 16 bits: another live
            # member's lock has this key.  Another token has another key.
            coordinator.stop()
        raise RuntimeError('cannot take a coordination member lock on %s'
                           % _safe(self.url))

    def stop(self):
        """Give this process's member lock back (at exit, before a fork)."""
        with self._guard:
            if self._pid == os.getpid() and self._tooz is not None:
                try:
                    self._member_lock.release()
                    self._tooz.stop()
                except Exception as exc:  # noqa: B902 - stopping anyway
                    LOG.warning('Stopping coordination: %s', exc)
            self._tooz = self._member_lock = self.member_id = None
            self._pid = None

    # -- others -----------------------------------------------------------------

    def try_lock(self, name):
        """The tooz lock ``name``, acquired without waiting, or None when
        another holder has it.  The caller releases it."""
        self.member()
        lock = self._tooz.get_lock(name.encode())
        return lock if lock.acquire(blocking=False) else None

    def is_alive(self, member_id):
        """Whether coordination member ``member_id`` still holds its lock.
        Unknown when the backend cannot be asked: then it is alive (a task
        is never taken from an owner that may be running it)."""
        if member_id == self.member():
            return True
        try:
            lock = self.try_lock(_member_lock_name(member_id).decode())
        except Exception as exc:  # noqa: B902 - tooz raises many kinds
            LOG.warning('Cannot ask the coordination backend whether %s is '
                        'alive: %s', member_id, exc)
            return True
        if lock is None:
            return True
        lock.release()
        return False


def is_member_id(owner):
    """Whether ``owner`` names a coordination member (not an owner string
    of a release before coordination)."""
    return bool(_MEMBER_ID.match(owner))


def _member_lock_name(member_id):
    return (MEMBER_LOCK_PREFIX + member_id).encode()


def _safe(url):
    parsed = urllib.parse.urlsplit(url)
    if parsed.password:
        parsed = parsed._replace(netloc=parsed.netloc.replace(
            ':' + parsed.password + '@', ':***@'))
    return urllib.parse.urlunsplit(parsed)


_lock = threading.Lock()
_coordinator = None


def get(conf=None):
    """This process's Coordinator, for ``conf`` (default: our CONF)."""
    global _coordinator
    with _lock:
        if _coordinator is None:
            if conf is None:
                from nova_aggregates import conf as na_conf
                conf = na_conf.CONF
            _coordinator = Coordinator(backend_url(conf))
        return _coordinator


def reset():
    """Stop this process's member (tests, before a fork, at exit)."""
    global _coordinator
    with _lock:
        if _coordinator is not None:
            _coordinator.stop()
        _coordinator = None
