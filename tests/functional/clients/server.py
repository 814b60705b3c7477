"""The real API server for client tests, and a hermetic ``openstack`` CLI.

``APIServerFixture`` writes a private configuration (SQLite file, free
loopback port), runs ``nova-aggregates-manage db sync`` and starts
``nova-aggregates-api`` as an operator would.  With ``driver='xenapi'`` (the
default) the server starts its embedded XenServer simulator, which
registers xenhost1..4 (az1, az1, az2, az2) itself; with ``driver='fake'``
the same four hosts are registered with ``nova-aggregates-manage host add``.

``OpenStackCLIFixture`` runs the ``openstack`` command installed next to
this interpreter with no clouds.yaml, no ``OS_*`` variables and a private
HOME, against the server's endpoint, with ``admin_token`` auth (the token is
sent as ``X-Auth-Token``; the server's noauth2 strategy reads it as
``user:project``).
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import fixtures

BIN = os.path.dirname(sys.executable)
ADMIN_TOKEN = 'admin:admin'
#: host -> default availability zone, as the embedded simulator registers.
HOSTS = {'xenhost1': 'az1', 'xenhost2': 'az1',
         'xenhost3': 'az2', 'xenhost4': 'az2'}
START_TIMEOUT = 30
COMMAND_TIMEOUT = 60


def free_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


class ServerError(Exception):
    pass


class APIServerFixture(fixtures.Fixture):
    """``nova-aggregates-api`` on 127.0.0.1:<free port>, stopped on cleanup.

    ``base_url`` is ``http://127.0.0.1:<port>``; ``endpoint(prefix)`` gives
    the compute endpoint a client is configured with.
    """

    def __init__(self, driver='xenapi', sections=None):
        """``sections``: ``{section: {option: value}}`` added to (or
        overriding) the configuration file the fixture writes."""
        super().__init__()
        if driver not in ('xenapi', 'fake'):
            raise ValueError('driver must be xenapi or fake: %r' % driver)
        self.driver = driver
        self.sections = sections or {}
        self.proc = None

    def _setUp(self):
        self.dir = self.useFixture(fixtures.TempDir()).path
        self.log_path = os.path.join(self.dir, 'api.log')
        self.addCleanup(self._stop)
        # A free port can be taken by someone else before the server binds
        # it; such a start is retried on another port.
        for attempt in range(3):
            self.port = free_port()
            self._write_config()
            if attempt == 0:
                self._prepare_database()
            if self._start():
                break
        else:
            raise ServerError('nova-aggregates-api did not start:\n%s'
                              % self.output())
        self.base_url = 'http://127.0.0.1:%d' % self.port

    def _write_config(self):
        sections = {
            'DEFAULT': {'compute_driver': self.driver},
            'api': {'bind_host': '127.0.0.1', 'bind_port': self.port,
                    'auth_strategy': 'noauth2'},
            'database': {'connection': 'sqlite:///%s' % os.path.join(
                self.dir, 'nova-aggregates.sqlite')},
        }
        if self.driver == 'xenapi':
            sections['xenapi'] = {
                'connection_username': 'root',
                'connection_password': 'secret',
                # Loopback: a stuck call is a bug, fail it quickly.
                'connect_timeout': 5,
                'call_timeout': 10,
                'join_timeout': 10,
            }
            sections['xenserver_sim'] = {'hosts': len(HOSTS),
                                         'password': 'secret'}
        for section, values in self.sections.items():
            sections.setdefault(section, {}).update(values)
        self.config = os.path.join(self.dir, 'nova-aggregates.conf')
        with open(self.config, 'w') as f:
            for name, values in sections.items():
                f.write('[%s]\n' % name)
                for key, value in values.items():
                    f.write('%s = %s\n' % (key, value))
                f.write('\n')

    def manage(self, *args):
        """Run nova-aggregates-manage; fail loudly on a non-zero status."""
        result = subprocess.run(
            [os.path.join(BIN, 'nova-aggregates-manage'), '--config-file',
             self.config] + list(args), capture_output=True, text=True,
            timeout=COMMAND_TIMEOUT)
        if result.returncode != 0:
            raise ServerError('nova-aggregates-manage %s failed (%d): %s' % (
                ' '.join(args), result.returncode, result.stderr))
        return result.stdout

    def _prepare_database(self):
        self.manage('db', 'sync')
        if self.driver == 'fake':
            for host, zone in HOSTS.items():
                self.manage('host', 'add', host, '--zone', zone)

    def _start(self):
        """Start the server; True once it answers, False if it died."""
        log = open(self.log_path, 'a')
        try:
            self.proc = subprocess.Popen(
                [os.path.join(BIN, 'nova-aggregates-api'), '--config-file',
                 self.config], stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, cwd=self.dir,
                # Its own process group: cleanup reaches the workers too.
                start_new_session=True)
        finally:
            log.close()
        url = 'http://127.0.0.1:%d/' % self.port
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                with urllib.request.urlopen(url, timeout=1) as response:
                    if response.status == 200:
                        return True
            except OSError:
                pass
            time.sleep(0.05)
        self._stop()
        raise ServerError('nova-aggregates-api did not answer within %ds:\n%s'
                          % (START_TIMEOUT, self.output()))

    def _stop(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        try:
            # Whatever of the group outlived the master (a worker).
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def output(self):
        """Everything the server logged so far (for failure messages)."""
        try:
            with open(self.log_path) as f:
                return f.read()
        except OSError:
            return ''

    def endpoint(self, prefix='/v2.1'):
        return self.base_url + prefix

    def get_json(self, path, token=ADMIN_TOKEN, headers=None):
        """GET ``path`` directly (no client): status and decoded body.

        For checking what a client did without paying another client
        start-up."""
        request = urllib.request.Request(
            self.base_url + path, headers=dict(headers or {},
                                               **{'X-Auth-Token': token}))
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as exc:
            with exc:
                return exc.code, json.loads(exc.read())


class CLIError(Exception):
    pass


class OpenStackCLIFixture(fixtures.Fixture):
    """Runs ``openstack`` hermetically against ``endpoint``."""

    def __init__(self, endpoint, token=ADMIN_TOKEN, extra_env=None):
        super().__init__()
        self.endpoint = endpoint
        self.token = token
        self.extra_env = extra_env or {}

    def _setUp(self):
        self.home = self.useFixture(fixtures.TempDir()).path
        env = {key: value for key, value in os.environ.items()
               if not key.startswith('OS_') and key.lower() not in (
                   'http_proxy', 'https_proxy', 'all_proxy', 'no_proxy')}
        env.update({
            'HOME': self.home,
            'XDG_CONFIG_HOME': os.path.join(self.home, '.config'),
            'XDG_CACHE_HOME': os.path.join(self.home, '.cache'),
            'NO_PROXY': '127.0.0.1,localhost',
            'no_proxy': '127.0.0.1,localhost',
            # Library deprecation warnings are not what these tests read.
            'PYTHONWARNINGS': 'ignore',
        })
        env.update(self.extra_env)
        self.env = env

    def run(self, *args, token=None):
        """``openstack <global options> args``: the CompletedProcess."""
        command = [os.path.join(BIN, 'openstack'),
                   '--os-auth-type', 'admin_token',
                   '--os-token', token or self.token,
                   '--os-endpoint', self.endpoint] + list(args)
        return subprocess.run(command, capture_output=True, text=True,
                              env=self.env, cwd=self.home,
                              stdin=subprocess.DEVNULL,
                              timeout=COMMAND_TIMEOUT)

    def ok(self, *args, token=None):
        """Run a command that must succeed; its stdout."""
        result = self.run(*args, token=token)
        if result.returncode != 0:
            raise CLIError('openstack %s failed (%d):\nstdout: %s\nstderr: %s'
                           % (' '.join(args), result.returncode,
                              result.stdout, result.stderr))
        return result.stdout

    def json(self, *args, token=None):
        """Run a command with ``-f json``; the decoded output."""
        return json.loads(self.ok(*(args + ('-f', 'json')), token=token))

    def fails(self, *args, token=None):
        """Run a command that must fail; its stderr."""
        result = self.run(*args, token=token)
        if result.returncode == 0:
            raise CLIError('openstack %s succeeded but should have failed:\n'
                           '%s' % (' '.join(args), result.stdout))
        return result.stderr
