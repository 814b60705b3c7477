"""The console scripts, run as an operator runs them."""

import json
import os
import signal
import subprocess
import sys
import urllib.request

import fixtures
import testtools

from tests.support import process

BIN = process.BIN
free_port = process.free_port


class CommandFixture(fixtures.Fixture):
    """A config file with a private SQLite database and port."""

    def __init__(self, **sections):
        super().__init__()
        self.sections = sections

    def _setUp(self):
        self.dir = self.useFixture(fixtures.TempDir()).path
        self.port = free_port()
        self.config = process.write_config(
            os.path.join(self.dir, 'test.conf'), process.merge_sections({
                'database': {
                    'connection': 'sqlite:///%s/db.sqlite' % self.dir},
                'api': {'bind_port': self.port, 'bind_host': '127.0.0.1'},
            }, self.sections))

    def manage(self, *args):
        return subprocess.run(
            [os.path.join(BIN, 'nova-aggregates-manage'), '--config-file',
             self.config] + list(args), capture_output=True, text=True,
            timeout=60)

    def server(self, **kwargs):
        """``nova-aggregates-api`` on this configuration (not started):
        a tests/support ServerProcess logging to ``api.log``."""
        return process.ServerProcess(
            process.api_command(self.config), self.port,
            os.path.join(self.dir, 'api.log'), 'nova-aggregates-api',
            **kwargs)


class TestManage(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.cmd = self.useFixture(CommandFixture())
        result = self.cmd.manage('db', 'sync')
        self.assertEqual(0, result.returncode, result.stderr)

    def test_host_lifecycle(self):
        result = self.cmd.manage('host', 'add', 'node1', '--zone', 'az9',
                                 '--hypervisor-url', 'http://127.0.0.1:9/')
        self.assertEqual(0, result.returncode, result.stderr)
        listing = self.cmd.manage('host', 'list').stdout
        self.assertIn('node1', listing)
        self.assertIn('az9', listing)
        self.assertIn('http://127.0.0.1:9/', listing)
        duplicate = self.cmd.manage('host', 'add', 'node1')
        self.assertEqual(1, duplicate.returncode)
        self.assertIn('already registered', duplicate.stderr)
        self.assertEqual(0, self.cmd.manage('host', 'remove',
                                            'node1').returncode)
        self.assertNotIn('node1', self.cmd.manage('host', 'list').stdout)
        missing = self.cmd.manage('host', 'remove', 'node1')
        self.assertEqual(1, missing.returncode)
        self.assertIn('could not be found', missing.stderr)

    def test_hypervisor_urls_must_be_http_or_https(self):
        for url, reason in (('ftp://x/', "scheme 'ftp'"),
                            ('file:///etc/passwd', "scheme 'file'"),
                            ('xen1', "scheme ''"),
                            ('https:///', 'no host'),
                            ('http://x:99999/', 'Port out of range')):
            result = self.cmd.manage('host', 'add', 'node1',
                                     '--hypervisor-url', url)
            self.assertEqual(1, result.returncode, url)
            self.assertIn('Hypervisor URL %s is not valid' % url,
                          result.stderr)
            self.assertIn(reason, result.stderr)
            self.assertNotIn('Traceback', result.stderr)
        self.assertNotIn('node1', self.cmd.manage('host', 'list').stdout)
        for url in ('http://10.0.0.5/', 'https://xen1.example:443/'):
            result = self.cmd.manage('host', 'add', url.split('/')[2],
                                     '--hypervisor-url', url)
            self.assertEqual(0, result.returncode, result.stderr)

    def test_help_lists_one_command_per_line(self):
        result = subprocess.run(
            [os.path.join(BIN, 'nova-aggregates-manage'), '--help'],
            capture_output=True, text=True, timeout=60)
        self.assertEqual(0, result.returncode)
        lines = result.stdout.splitlines()
        for command in ('db sync [--revision R]', 'db version',
                        'host add NAME [--zone AZ] [--hypervisor-url URL]',
                        'host list', 'host remove NAME',
                        'aggregate reconcile [--stale-after SECONDS]',
                        'maintenance watch ID [--interval SECONDS]',
                        'maintenance runner'):
            self.assertIn('  nova-aggregates-manage ' + command, lines)
        self.assertIn('examples:', lines)

    def test_db_commands_are_quiet_unless_verbose(self):
        for command in (('db', 'sync'), ('db', 'version')):
            result = self.cmd.manage(*command)
            self.assertEqual(0, result.returncode, result.stderr)
            self.assertNotIn('alembic', result.stdout + result.stderr)
        verbose = self.cmd.manage('--verbose', 'db', 'version')
        self.assertIn('alembic.runtime.migration',
                      verbose.stdout + verbose.stderr)

    def test_unusable_database_is_a_clear_error(self):
        broken = self.useFixture(CommandFixture(database={
            'connection': 'sqlite:////nonexistent-dir/db.sqlite'}))
        result = broken.manage('db', 'version')
        self.assertEqual(1, result.returncode)
        self.assertIn('the database at [database] connection cannot be used',
                      result.stderr)
        self.assertNotIn('Traceback', result.stderr)

    def test_db_sync_is_idempotent(self):
        result = self.cmd.manage('db', 'sync')
        self.assertEqual(0, result.returncode, result.stderr)
        # Both name the newest revision: sync said it, version reads it.
        last_line = result.stdout.strip().splitlines()[-1]
        revision = last_line.rsplit(' ', 1)[-1].rstrip('.')
        self.assertTrue(revision)
        self.assertEqual(revision, self.cmd.manage('db', 'version')
                         .stdout.strip().splitlines()[-1])


class TestMaintenanceCommands(testtools.TestCase):
    """``maintenance runner`` runs the tasks of its database until
    interrupted; ``maintenance watch`` follows one to its end."""

    def setUp(self):
        super().setUp()
        self.cmd = self.useFixture(CommandFixture(
            DEFAULT={'compute_driver': 'fake'},
            maintenance={'task_poll_interval': 0.1}))
        result = self.cmd.manage('db', 'sync')
        self.assertEqual(0, result.returncode, result.stderr)
        for host in ('node1', 'node2'):
            self.assertEqual(0, self.cmd.manage(
                'host', 'add', host, '--zone', 'az1').returncode)

    def queue_task(self):
        """A pool aggregate of node1 and node2 and a queued task of it,
        written by this process on the command's database."""
        from nova_aggregates import context
        from nova_aggregates import service
        from tests import fixtures as na_fixtures
        conf = self.useFixture(na_fixtures.ConfFixture())
        conf.config(compute_driver='fake')
        self.useFixture(na_fixtures.DatabaseFixture(
            conf, 'sqlite:///%s/db.sqlite' % self.cmd.dir))
        services = service.get_services(conf.conf)
        ctx = context.get_admin_context()
        agg = services.aggregates.create_aggregate(ctx, 'rack')
        services.aggregates.set_metadata(ctx, agg['id'],
                                         {'hypervisor_pool': 'true'})
        for host in ('node1', 'node2'):
            services.aggregates.add_host(ctx, agg['id'], host)
        return services.rolling_maintenance.create_task(ctx, agg['id'])['id']

    def test_runner_runs_and_watch_follows(self):
        task_id = self.queue_task()
        runner = subprocess.Popen(
            [os.path.join(BIN, 'nova-aggregates-manage'), '--config-file',
             self.cmd.config, 'maintenance', 'runner'],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.addCleanup(runner.wait, 30)
        self.addCleanup(runner.kill)
        watched = self.cmd.manage('maintenance', 'watch', str(task_id),
                                  '--interval', '0.1')
        self.assertEqual(0, watched.returncode, watched.stdout +
                         watched.stderr)
        self.assertIn('Rolling maintenance task %d of aggregate' % task_id,
                      watched.stdout)
        self.assertIn('node1  done', watched.stdout)
        runner.send_signal(signal.SIGINT)
        output, _ = runner.communicate(timeout=30)
        self.assertEqual(0, runner.returncode, output)
        self.assertIn('Rolling maintenance runner', output)

    def test_interrupted_watch_says_the_task_goes_on(self):
        task_id = self.queue_task()  # queued: no runner here
        watcher = subprocess.Popen(
            [os.path.join(BIN, 'nova-aggregates-manage'), '--config-file',
             self.cmd.config, 'maintenance', 'watch', str(task_id),
             '--interval', '0.1'], stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True)
        self.addCleanup(watcher.kill)
        self.assertIn('queued', watcher.stdout.readline())
        watcher.send_signal(signal.SIGINT)
        output, errors = watcher.communicate(timeout=30)
        self.assertEqual(130, watcher.returncode, errors)
        self.assertIn('Stopped watching task %d; it goes on' % task_id,
                      output)
        self.assertNotIn('Traceback', errors)

    def test_watch_of_an_unknown_task(self):
        result = self.cmd.manage('maintenance', 'watch', '42')
        self.assertEqual(1, result.returncode)
        self.assertIn('Error: Rolling maintenance task 42 could not be found.',
                      result.stderr)


class TestAPIServer(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.cmd = self.useFixture(CommandFixture())
        self.assertEqual(0, self.cmd.manage('db', 'sync').returncode)
        self.server = self.cmd.server()
        # Cleanup kills it outright (the tests stop it themselves).
        self.addCleanup(self.server.stop, signal.SIGKILL)
        self.server.start()
        self.proc = self.server.proc
        self.base = 'http://127.0.0.1:%d' % self.cmd.port

    def _output(self):
        return self.server.output()

    def _call(self, method, path, body=None):
        response = self.server.request(method, path, body, timeout=10)
        return response.status, response.headers, json.loads(
            response.body or b'null')

    def test_serves_logs_and_stops_on_sigterm(self):
        status, headers, body = self._call(
            'POST', '/v2.1/os-aggregates', {'aggregate': {'name': 'web'}})
        self.assertEqual(200, status)
        self.assertEqual('web', body['aggregate']['name'])
        request_id = headers['x-compute-request-id']
        self.assertTrue(request_id.startswith('req-'))
        status, _, body = self._call('GET', '/v2.1/os-aggregates')
        self.assertEqual(['web'], [a['name'] for a in body['aggregates']])
        # An anonymous request on the same server thread logs no identity.
        urllib.request.urlopen(self.base + '/v2.1', timeout=10).read()
        self.proc.send_signal(signal.SIGTERM)
        self.assertEqual(0, self.proc.wait(30))
        output = self._output()
        anonymous = [ln for ln in output.splitlines()
                     if '"GET /v2.1" status: 200' in ln]
        self.assertEqual(1, len(anonymous), output)
        self.assertNotIn('admin admin', anonymous[0])
        line = [ln for ln in output.splitlines()
                if request_id in ln and 'POST /v2.1/os-aggregates' in ln]
        self.assertEqual(1, len(line), output)
        self.assertIn('status: 200', line[0])
        self.assertIn('time: ', line[0])

    def test_sigint_stops(self):
        self.proc.send_signal(signal.SIGINT)
        self.assertEqual(0, self.proc.wait(30))


_WSGI_CLIENT = """
import json
import webob
from nova_aggregates.wsgi import application
req = webob.Request.blank('/v2.1/os-aggregates', method='POST',
                          headers={'X-Auth-Token': 'admin:admin'})
req.body = b'{"aggregate": {"name": "via-wsgi"}}'
req.content_type = 'application/json'
created = req.get_response(application)
listed = webob.Request.blank(
    '/v2.1/os-aggregates',
    headers={'X-Auth-Token': 'admin:admin'}).get_response(application)
print(json.dumps([created.status_int, listed.json]))
"""


class TestWSGIModule(testtools.TestCase):
    """nova_aggregates.wsgi:application, as any WSGI server loads it."""

    def test_application_reads_the_configured_files(self):
        cmd = self.useFixture(CommandFixture())
        self.assertEqual(0, cmd.manage('db', 'sync').returncode)
        run = subprocess.run(
            [sys.executable, '-c', _WSGI_CLIENT], capture_output=True,
            text=True, timeout=60, cwd=cmd.dir,
            env=dict(os.environ, NOVA_AGGREGATES_CONFIG_FILES=cmd.config))
        self.assertEqual(0, run.returncode, run.stderr)
        status, listed = json.loads(run.stdout.strip().splitlines()[-1])
        self.assertEqual(200, status)
        self.assertEqual(['via-wsgi'],
                         [a['name'] for a in listed['aggregates']])
        # It wrote to the configured database, not ./var of the cwd.
        self.assertFalse(os.path.exists(os.path.join(cmd.dir, 'var')))
