"""Real processes for the multi-process tests: the API server as an
operator runs it (``nova-aggregates-api --config-file F``, gunicorn with
``[api] workers``), and a private PostgreSQL server that a test may stop,
restart and crash without disturbing the tests running beside it.

The process plumbing is tests/support's; what is here is what these
tests add to it (workers, which pid served what, a burst of requests)."""

import functools
import glob
import os
import pwd
import re
import shutil
import subprocess
import tempfile
import time

import fixtures
import testtools.content

from tests.support import concurrency
from tests.support import http
from tests.support import process

ADMIN = http.ADMIN
Response = http.Response
free_port = process.free_port
http_request = http.request


class APIServer(process.APIServerFixture):
    """``nova-aggregates-api`` on a free port of 127.0.0.1, on an existing
    (migrated) database, ``workers`` gunicorn workers, fake driver.

    ``sections``: ``{section: {option: value}}`` added to its config file.
    Started in its own process group; ``kill()`` SIGKILLs the master and
    its workers at once, ``start()`` starts it again on the same port and
    configuration.  Stopped on cleanup whatever happened.
    """

    def __init__(self, connection, workers=2, sections=None, name='api'):
        super().__init__(sections=sections, name=name)
        self.connection = connection
        self.workers = workers

    def base_sections(self):
        return process.merge_sections(super().base_sections(), {
            'DEFAULT': {'compute_driver': 'fake'},
            'database': {'connection': self.connection,
                         # Start-up waits at most ~5 s for the database.
                         'max_retries': 5, 'retry_interval': 1},
            'api': {'workers': self.workers},
        })

    #: Any answer to GET / means the master is up.
    ready_status = None

    def start(self, timeout=30):
        deadline = time.monotonic() + timeout
        self.server.start(timeout)
        self.wait_for_workers(deadline)

    def wait_for_workers(self, deadline):
        """Wait until every worker has loaded the app (each logs the
        paste pipeline's first line) so that load reaches all of them."""
        while len(self.worker_pids()) < self.workers:
            if time.monotonic() > deadline:
                raise process.ServerStartError(
                    '%s: workers did not boot:\n%s' % (
                        self.name, self.output()[-4000:]))
            time.sleep(0.05)

    def worker_pids(self):
        pids = set()
        for line in self.output().splitlines():
            match = re.search(r'Booting worker with pid: (\d+)', line)
            if match:
                pids.add(int(match.group(1)))
        return pids

    def pids_that_served(self, path_part=''):
        """Pids of the processes that logged a request line whose path
        contains ``path_part`` (oslo.log's second field is the pid)."""
        pids = set()
        for line in self.output().splitlines():
            fields = line.split()
            if len(fields) > 3 and '"' in line and 'status: ' in line and \
                    path_part in line and fields[2].isdigit():
                pids.add(int(fields[2]))
        return pids


class PostgreSQLUnavailable(Exception):
    pass


def _postgresql_bindir():
    candidates = sorted(glob.glob('/usr/lib/postgresql/*/bin/initdb'),
                        key=lambda p: [int(x) for x in re.findall(
                            r'\d+', p)])
    if candidates:
        return os.path.dirname(candidates[-1])
    initdb = shutil.which('initdb')
    if initdb:
        return os.path.dirname(initdb)
    raise PostgreSQLUnavailable('no PostgreSQL server binaries (initdb)')


class PrivatePostgreSQL(fixtures.Fixture):
    """A PostgreSQL server of our own, in a temporary directory, on a free
    port: a test may stop and restart it while other tests use the shared
    server.  Runs as the ``postgres`` system user when we are root.
    Always stopped and removed on cleanup.
    """

    def _setUp(self):
        self.bindir = _postgresql_bindir()
        self.user = None
        if os.geteuid() == 0:
            try:
                self.user = pwd.getpwnam('postgres')
            except KeyError:
                raise PostgreSQLUnavailable('running as root and there is '
                                            'no postgres user')
        self.dir = tempfile.mkdtemp(prefix='na-pg-')
        self.addCleanup(shutil.rmtree, self.dir, True)
        if self.user is not None:
            os.chown(self.dir, self.user.pw_uid, self.user.pw_gid)
        self.data = os.path.join(self.dir, 'data')
        self.port = free_port()
        self._run('initdb', '-D', self.data, '-A', 'trust', '-U', 'postgres',
                  '-E', 'UTF8', '--no-sync')
        self.addCleanup(self._cleanup_stop)
        self.start()
        self.url = 'postgresql+psycopg2://postgres@127.0.0.1:%d/postgres' % (
            self.port)

    def _run(self, program, *args, check=True, timeout=60):
        command = [os.path.join(self.bindir, program)] + list(args)
        if self.user is not None:
            command = ['runuser', '-u', 'postgres', '--'] + command
        result = subprocess.run(command, capture_output=True, text=True,
                                timeout=timeout)
        if check and result.returncode != 0:
            raise PostgreSQLUnavailable('%s failed: %s%s' % (
                program, result.stdout, result.stderr))
        return result

    def start(self):
        self._run('pg_ctl', '-D', self.data, '-w', '-t', '30', '-l',
                  os.path.join(self.dir, 'server.log'), '-o',
                  '-p %d -c listen_addresses=127.0.0.1 -k %s -c fsync=off '
                  '-c max_connections=200' % (self.port, self.dir), 'start')

    def stop(self, mode='fast'):
        self._run('pg_ctl', '-D', self.data, '-w', '-t', '30', '-m', mode,
                  'stop')

    def crash(self):
        """Stop as a crash would: ``immediate`` mode, no shutdown
        checkpoint, clients cut off."""
        self.stop('immediate')

    def running(self):
        return self._run('pg_ctl', '-D', self.data, 'status',
                         check=False).returncode == 0

    def _cleanup_stop(self):
        if self.running():
            self._run('pg_ctl', '-D', self.data, '-w', '-m', 'immediate',
                      'stop', check=False)


def burst(calls, timeout=60):
    """Send every call at the same moment, one thread each (the server
    side is several processes), and return the responses in order.

    ``calls``: ``(server, method, path, body[, headers])`` tuples.  A
    transport error (connection refused or cut) is returned as the
    exception.
    """
    return concurrency.at_once(
        [functools.partial(server.request, method, path, body,
                           headers=headers[0] if headers else None,
                           timeout=timeout)
         for server, method, path, body, *headers in calls], timeout)


class BurstMixin:
    """For test cases with ``self.nodes`` (APIServers): ``fire()``."""

    #: For ``start_nodes``: how many servers, of how many workers each.
    NODES = 2
    WORKERS = 2

    @classmethod
    def start_nodes(cls):
        """In ``set_up_class``: migrate ``cls.database`` and start NODES
        servers of WORKERS workers on it (``cls.nodes``)."""
        cls.database.migrate()
        cls.nodes = [cls.use_class_fixture(APIServer(
            cls.database.url, workers=cls.WORKERS, name='node%d' % n))
            for n in range(cls.NODES)]

    def attach_node_logs(self):
        """The end of each node's log goes with a failing test."""
        for node in self.nodes:
            self.addOnException(lambda exc_info, node=node: self.addDetail(
                node.name + '-log', testtools.content.text_content(
                    node.output()[-30000:])))

    def fire(self, requests):
        """``(method, path, body[, headers])`` each, spread over the nodes
        in turn and sent at once; none may fail in transport or answer
        5xx."""
        calls = [(self.nodes[i % len(self.nodes)],) + tuple(request)
                 for i, request in enumerate(requests)]
        results = burst(calls)
        self.sent = getattr(self, 'sent', 0) + len(calls)
        self.addDetail('requests', testtools.content.text_content(
            '%d concurrent requests in bursts' % self.sent))
        for request, result in zip(requests, results):
            self.assertIsInstance(result, Response,
                                  '%s -> %r' % (request, result))
            self.assertLess(result.status, 500, '%s -> %r' % (request,
                                                              result))
        return results
