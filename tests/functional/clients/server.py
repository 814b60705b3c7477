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
import subprocess

import fixtures

from tests.support import http
from tests.support import process

BIN = process.BIN
ADMIN_TOKEN = http.ADMIN
#: host -> default availability zone, as the embedded simulator registers.
HOSTS = {'xenhost1': 'az1', 'xenhost2': 'az1',
         'xenhost3': 'az2', 'xenhost4': 'az2'}
START_TIMEOUT = 30
COMMAND_TIMEOUT = 60

free_port = process.free_port


class ServerError(Exception):
    pass


class APIServerFixture(process.APIServerFixture):
    """``nova-aggregates-api`` on 127.0.0.1:<free port>, stopped on cleanup.

    ``base_url`` is ``http://127.0.0.1:<port>``; ``endpoint(prefix)`` gives
    the compute endpoint a client is configured with.  A start that lost
    its free port to someone else is retried on another port.
    """

    start_timeout = START_TIMEOUT

    def __init__(self, driver='xenapi', sections=None):
        """``sections``: ``{section: {option: value}}`` added to (or
        overriding) the configuration file the fixture writes."""
        if driver not in ('xenapi', 'fake'):
            raise ValueError('driver must be xenapi or fake: %r' % driver)
        super().__init__(sections=sections, name='nova-aggregates')
        self.driver = driver

    def base_sections(self):
        sections = process.merge_sections(super().base_sections(), {
            'DEFAULT': {'compute_driver': self.driver},
            'api': {'auth_strategy': 'noauth2'},
            'database': {'connection': 'sqlite:///%s' % os.path.join(
                self.dir, 'nova-aggregates.sqlite')},
        })
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
        return sections

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

    def prepare(self):
        self.manage('db', 'sync')
        if self.driver == 'fake':
            for host, zone in HOSTS.items():
                self.manage('host', 'add', host, '--zone', zone)

    def endpoint(self, prefix='/v2.1'):
        return self.base_url + prefix

    def get_json(self, path, token=ADMIN_TOKEN, headers=None):
        """GET ``path`` directly (no client): status and decoded body.

        For checking what a client did without paying another client
        start-up."""
        response = self.request('GET', path, token=token, headers=headers)
        return response.status, json.loads(response.body)


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
