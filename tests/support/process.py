"""Server subprocesses as an operator runs them.

``free_port()`` picks a loopback port, ``write_config()`` writes an
oslo.config file from ``{section: {option: value}}``, ``ServerProcess``
runs one command in a process group of its own with its output in a log
file, waits until it answers HTTP, and stops it (the whole group: gunicorn
workers that outlive their master go too).  ``APIServerFixture`` puts them
together for ``nova-aggregates-api``: a private directory, a configuration
on a free port (retried on another port if someone else took it before
the server bound it), start, and stop on cleanup.
"""

import os
import signal
import socket
import subprocess
import sys
import time

import fixtures

from tests.support import http

BIN = os.path.dirname(sys.executable)


def free_port():
    """A TCP port of 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def script(name):
    """The command line of console script ``name`` of this environment."""
    path = os.path.join(BIN, name)
    return [path] if os.path.exists(path) else [sys.executable, '-m', name]


def write_config(path, sections):
    """Write ``{section: {option: value}}`` as an oslo.config file."""
    with open(path, 'w') as f:
        for section, values in sections.items():
            f.write('[%s]\n' % section)
            for key, value in values.items():
                f.write('%s = %s\n' % (key, value))
            f.write('\n')
    return path


def merge_sections(*layers):
    """``{section: {option: value}}`` layers merged, later ones winning."""
    merged = {}
    for layer in layers:
        for section, values in (layer or {}).items():
            merged.setdefault(section, {}).update(values)
    return merged


class ServerStartError(RuntimeError):
    """A server did not come up; the message ends with its log."""


class ServerExited(ServerStartError):
    """The server process ended before it answered."""


class ServerProcess:
    """``command`` as a server on 127.0.0.1:``port``, its stdout and stderr
    appended to ``log_path``, in a session (process group) of its own."""

    def __init__(self, command, port, log_path, name='server', cwd=None,
                 env=None, ready_path='/', ready_status=200):
        self.command = command
        self.port = port
        self.log_path = log_path
        self.name = name
        self.cwd = cwd
        self.env = env
        self.ready_path = ready_path
        #: The status of ``GET ready_path`` that means "up" (None: any).
        self.ready_status = ready_status
        self.proc = None

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def start(self, timeout=30, wait=True):
        """Start the process; with ``wait``, return once it answers."""
        log = open(self.log_path, 'ab')
        try:
            self.proc = subprocess.Popen(
                self.command, stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, cwd=self.cwd, env=self.env,
                start_new_session=True)
        finally:
            log.close()
        if wait:
            self.wait_until_answers(timeout)
        return self

    def answers(self):
        return http.answers(self.port, self.ready_path,
                            status=self.ready_status)

    def wait_until_answers(self, timeout=30):
        """Return once the server answers; if it exits first or does not
        answer within ``timeout`` seconds, stop it and raise
        ``ServerExited`` or ``ServerStartError``."""
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                self.stop()
                raise ServerExited('%s exited with %s at start:\n%s' % (
                    self.name, self.proc.returncode, self.log_tail()))
            if self.answers():
                return
            if time.monotonic() > deadline:
                self.stop()
                raise ServerStartError(
                    '%s did not answer within %.0f s:\n%s' % (
                        self.name, timeout, self.log_tail()))
            time.sleep(0.05)

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def signal_group(self, sig):
        """Send ``sig`` to the whole process group (master and workers)."""
        try:
            os.killpg(self.proc.pid, sig)
        except ProcessLookupError:
            pass

    def kill(self):
        """SIGKILL the whole server at once, no clean-up (a crash)."""
        if self.proc is None:
            return
        self.signal_group(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self, sig=signal.SIGINT, timeout=15, wait=True, group=False):
        """Send ``sig`` to the master (SIGINT: gunicorn's quick shutdown;
        with ``group``, to every process of the group), wait up to
        ``timeout`` seconds, then SIGKILL whatever is left of the group.
        ``wait=False`` only sends the signal (stop several servers in
        parallel, then ``stop()`` each)."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            if group:
                self.signal_group(sig)
            else:
                self.proc.send_signal(sig)
            if not wait:
                return
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                pass
        self.signal_group(signal.SIGKILL)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            pass

    def output(self):
        """Everything the server logged so far."""
        try:
            with open(self.log_path, 'rb') as f:
                return f.read().decode('utf-8', 'replace')
        except OSError:
            return ''

    def log_tail(self, lines=60):
        return '\n'.join(self.output().splitlines()[-lines:])

    def request(self, method, path, body=None, **kwargs):
        """One request (``tests.support.http.request``): a Response."""
        return http.request(self.port, method, path, body, **kwargs)


def api_command(config_file):
    return script('nova-aggregates-api') + ['--config-file', config_file]


class APIServerFixture(fixtures.Fixture):
    """``nova-aggregates-api`` on a free port of 127.0.0.1, stopped on
    cleanup whatever happened.

    ``sections`` (``{section: {option: value}}``) go over what
    ``base_sections()`` gives; subclasses add their defaults there and
    prepare the database in ``prepare()`` (called once, after the first
    configuration file is written).  The server's files are in
    ``self.dir``: ``<name>.conf`` and ``<name>.log``.
    """

    #: Starts retried on another port when the server could not bind.
    attempts = 3
    start_timeout = 30
    #: The status of ``GET /`` that means "up" (None: any answer).
    ready_status = 200

    def __init__(self, sections=None, name='api', directory=None, env=None):
        super().__init__()
        self.sections = sections or {}
        self.name = name
        self.directory = directory
        self.env = env
        self.server = None

    def base_sections(self):
        return {'api': {'bind_host': '127.0.0.1', 'bind_port': self.port}}

    def prepare(self):
        """Hook: run once the first configuration file exists."""

    def _setUp(self):
        self.dir = self.directory or self.useFixture(
            fixtures.TempDir()).path
        self.log_path = os.path.join(self.dir, self.name + '.log')
        self.config = os.path.join(self.dir, self.name + '.conf')
        self.addCleanup(self.stop)
        for attempt in range(self.attempts):
            self.port = free_port()
            write_config(self.config, merge_sections(
                self.base_sections(), self.sections))
            if attempt == 0:
                self.prepare()
            self.server = ServerProcess(
                api_command(self.config), self.port, self.log_path,
                self.name, cwd=self.dir, env=self.env,
                ready_status=self.ready_status)
            try:
                self.start()
                break
            except ServerExited:
                if attempt == self.attempts - 1:
                    raise
        self.base_url = 'http://127.0.0.1:%d' % self.port

    @property
    def proc(self):
        return self.server.proc if self.server else None

    def start(self, timeout=None):
        """Start (again, after a ``kill()`` or ``stop()``) on the same port
        and configuration; return once it answers."""
        self.server.start(timeout or self.start_timeout)

    def stop(self, **kwargs):
        if self.server is not None:
            self.server.stop(**kwargs)

    def kill(self):
        self.server.kill()

    def running(self):
        return self.server is not None and self.server.running()

    def output(self):
        return self.server.output() if self.server else ''

    def request(self, method, path, body=None, **kwargs):
        return self.server.request(method, path, body, **kwargs)
