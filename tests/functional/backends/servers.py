"""Real processes for the multi-process tests: the API server as an
operator runs it (``nova-aggregates-api --config-file F``, gunicorn with
``[api] workers``), and a private PostgreSQL server that a test may stop,
restart and crash without disturbing the tests running beside it."""

import glob
import http.client
import json
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

import fixtures

BIN = os.path.dirname(sys.executable)
ADMIN = 'admin:admin'


def free_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    def json(self):
        return json.loads(self.body) if self.body else None

    def fault(self):
        """``(name, code, message)`` of a JSON fault body."""
        body = self.json()
        (name, inner), = body.items()
        return name, inner['code'], inner['message']

    def __repr__(self):
        return '<%d %r>' % (self.status, self.body[:300])


def http_request(port, method, path, body=None, token=ADMIN, headers=None,
                 timeout=30):
    """One request on a new connection; never raises for an HTTP status."""
    all_headers = {}
    if token is not None:
        all_headers['X-Auth-Token'] = token
    if body is not None and not isinstance(body, bytes):
        body = json.dumps(body).encode()
        all_headers['Content-Type'] = 'application/json'
    all_headers.update(headers or {})
    conn = http.client.HTTPConnection('127.0.0.1', port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=all_headers)
        response = conn.getresponse()
        return Response(response.status, dict(response.getheaders()),
                        response.read())
    finally:
        conn.close()


class APIServer(fixtures.Fixture):
    """``nova-aggregates-api`` on a free port of 127.0.0.1.

    ``sections``: ``{section: {option: value}}`` for its config file (the
    database must already be migrated).  Started in its own process group;
    ``kill()`` SIGKILLs the master and its workers at once, ``start()``
    starts it again on the same port and configuration.  Stopped on
    cleanup whatever happened.
    """

    def __init__(self, connection, workers=2, sections=None, name='api'):
        super().__init__()
        self.connection = connection
        self.workers = workers
        self.sections = sections or {}
        self.name = name
        self.proc = None

    def _setUp(self):
        self.dir = self.useFixture(fixtures.TempDir()).path
        self.port = free_port()
        sections = {
            'DEFAULT': {'compute_driver': 'fake'},
            'database': {'connection': self.connection,
                         # Start-up waits at most ~5 s for the database.
                         'max_retries': 5, 'retry_interval': 1},
            'api': {'bind_host': '127.0.0.1', 'bind_port': self.port,
                    'workers': self.workers},
        }
        for section, values in self.sections.items():
            sections.setdefault(section, {}).update(values)
        self.config = os.path.join(self.dir, 'api.conf')
        with open(self.config, 'w') as f:
            for section, values in sections.items():
                f.write('[%s]\n' % section)
                for key, value in values.items():
                    f.write('%s = %s\n' % (key, value))
        self.log_path = os.path.join(self.dir, 'api.log')
        self.addCleanup(self.stop)
        self.start()

    def start(self, timeout=30):
        log = open(self.log_path, 'a')
        try:
            self.proc = subprocess.Popen(
                [os.path.join(BIN, 'nova-aggregates-api'), '--config-file',
                 self.config], stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True)
        finally:
            log.close()
        deadline = time.monotonic() + timeout
        while True:
            try:
                http_request(self.port, 'GET', '/', timeout=2)
                break
            except OSError:
                if self.proc.poll() is not None or \
                        time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError('%s did not start:\n%s' % (
                        self.name, self.output()[-4000:]))
                time.sleep(0.05)
        self.wait_for_workers(deadline)

    def wait_for_workers(self, deadline):
        """Wait until every worker has loaded the app (each logs the
        paste pipeline's first line) so that load reaches all of them."""
        while len(self.worker_pids()) < self.workers:
            if time.monotonic() > deadline:
                raise RuntimeError('%s: workers did not boot:\n%s' % (
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

    def output(self):
        try:
            with open(self.log_path, errors='replace') as f:
                return f.read()
        except FileNotFoundError:
            return ''

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def kill(self):
        """SIGKILL the whole server (master and workers), no clean-up."""
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait(10)

    def stop(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            # Quick shutdown (SIGTERM would wait for idle workers).
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                pass
        # Workers of a killed master, if any, go with the group.
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            pass
        self.proc = None

    def request(self, method, path, body=None, **kwargs):
        return http_request(self.port, method, path, body, **kwargs)


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

    ``calls``: ``(server, method, path, body)`` tuples.  A transport
    error (connection refused or cut) is returned as the exception.
    """
    import threading

    barrier = threading.Barrier(len(calls))
    results = [None] * len(calls)

    def run(index, server, method, path, body):
        try:
            barrier.wait(timeout)
            results[index] = server.request(method, path, body,
                                            timeout=timeout)
        except Exception as exc:  # noqa: B902 - reported to the test
            results[index] = exc

    threads = [threading.Thread(target=run, args=(i,) + tuple(call),
                                daemon=True)
               for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout + 5)
    return results
