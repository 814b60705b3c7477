"""The README's walkthroughs, run as written against a ``make serve``
server.

The server is what ``make serve`` runs: ``nova-aggregates-api`` with
``etc/nova-aggregates-dev.conf`` as it is (the xenapi driver, the embedded
simulator and its guests), after ``nova-aggregates-manage db sync``.  A
second configuration file moves it to free ports and a private database,
nothing else; the walkthroughs' ``127.0.0.1:8774`` (API) and
``127.0.0.1:8779`` (simulator control) are replaced by those ports.  Each
fenced ``sh`` block runs in bash (``-euo pipefail``, so a failing
``openstack`` command fails the test) from the checkout, with the
``openstack`` client hermetic (no clouds.yaml, no ``OS_*`` variables, a
private HOME).

In the maintenance and rolling maintenance walkthroughs the indented
comments (``  # ...``) are what the commands print: every one without
``...`` must appear in the output, in that order.  Their
``nova-aggregates-manage --config-file etc/nova-aggregates-dev.conf`` gets
the server's second file too (its private database).
"""

import os
import re
import subprocess

import testtools

from tests.functional.clients import server as clients
from tests.support import http
from tests.support import process

REPO = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
README = os.path.join(REPO, 'README.md')
DEV_CONF = os.path.join(REPO, 'etc', 'nova-aggregates-dev.conf')
API = 'http://127.0.0.1:8774'
SIM = 'http://127.0.0.1:8779'

CURL = 'Walkthrough with curl'
POOL = 'Walkthrough: an aggregate that is a XenServer pool'
MAINTENANCE = 'Walkthrough: host maintenance with no guest stopped'
ROLLING = 'Walkthrough: rolling maintenance of the whole pool'
#: The configuration the walkthroughs' nova-aggregates-manage commands name.
MANAGE_CONF = '--config-file etc/nova-aggregates-dev.conf'
#: The simulator guests make serve starts ([xenserver_sim] guests).
SEEDED = {'db': 8192, 'cache': 4096, 'www': 2048}
BLOCK_TIMEOUT = 180


def walkthrough(heading):
    """The first ``sh`` block under ``## heading`` in the README."""
    with open(README) as f:
        text = f.read()
    match = re.search(r'^## %s\n(.*?)^```sh\n(.*?)^```' % re.escape(heading),
                      text, re.S | re.M)
    if match is None or '\n## ' in match.group(1):
        raise AssertionError('no sh block under "## %s" in README.md'
                             % heading)
    return match.group(2)


def expected_output(block):
    """The indented comments of ``block`` that are output as printed."""
    return [line[4:].rstrip() for line in block.splitlines()
            if line.startswith('  # ') and '...' not in line]


class DevServerFixture(process.APIServerFixture):
    """``make serve``'s server: the dev configuration file first, then one
    that only moves it to free ports and a private database."""

    def base_sections(self):
        self.control_port = process.free_port()
        return {
            'api': {'bind_port': self.port},
            'database': {'connection': 'sqlite:///%s' % os.path.join(
                self.dir, 'nova-aggregates.sqlite')},
            'xenserver_sim': {'port': 0, 'control_port': self.control_port},
        }

    def _setUp(self):
        super()._setUp()
        self.control_url = 'http://127.0.0.1:%d' % self.control_port
        printed = re.search(r'^simulator control at (\S+)/ ',
                            self.output(), re.M)
        if not printed or printed.group(1) != self.control_url:
            raise AssertionError('the simulator control URL is not %s:\n%s'
                                 % (self.control_url, self.output()))

    def prepare(self):
        result = subprocess.run(
            process.script('nova-aggregates-manage') + self.files() +
            ['db', 'sync'], capture_output=True, text=True, timeout=60)
        if result.returncode != 0:
            raise AssertionError('db sync failed: %s' % result.stderr)

    def files(self):
        return ['--config-file', DEV_CONF, '--config-file', self.config]

    def start(self, timeout=None):
        # As make serve: from the checkout, on both files.
        self.server = process.ServerProcess(
            process.script('nova-aggregates-api') + self.files(), self.port,
            self.log_path, self.name, cwd=REPO)
        self.server.start(timeout or self.start_timeout)

    def get_json(self, port, path):
        response = http.request(port, 'GET', path)
        if response.status != 200:
            raise AssertionError('GET %s: %r' % (path, response))
        return response.json()


class TestReadmeWalkthroughs(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.server = self.useFixture(DevServerFixture(name='make-serve'))
        # Its environment: no OS_* variables or proxies, a private HOME.
        self.env = self.useFixture(clients.OpenStackCLIFixture(
            self.server.base_url + '/v2.1')).env

    def run_block(self, heading):
        """Run the walkthrough under ``heading``; its stdout."""
        block = walkthrough(heading)
        self.assertIn(API, block)
        script = block.replace(API, self.server.base_url).replace(
            SIM, self.server.control_url).replace(
            MANAGE_CONF, ' '.join(self.server.files()))
        result = subprocess.run(['bash', '-euo', 'pipefail', '-c', script],
                                cwd=REPO, env=self.env, capture_output=True,
                                text=True, timeout=BLOCK_TIMEOUT,
                                stdin=subprocess.DEVNULL)
        self.assertEqual(0, result.returncode,
                         '"%s" failed:\nstdout:\n%s\nstderr:\n%s\nserver '
                         'log:\n%s' % (heading, result.stdout, result.stderr,
                                       self.server.server.log_tail()))
        return result.stdout

    def sim(self, what):
        return self.server.get_json(self.server.control_port, '/' + what)

    def api(self, path):
        return self.server.get_json(self.server.port, '/v2.1/' + path)

    def where(self):
        return {vm['name']: vm['host'] for vm in self.sim('vms')}

    def assertPrinted(self, expected, output):
        """Every line of ``expected`` is a line of ``output``, in order."""
        lines = [line.rstrip() for line in output.splitlines()]
        position = 0
        for line in expected:
            if line not in lines[position:]:
                self.fail('the README says the walkthrough prints\n  %s\n'
                          'after line %d of its output; it printed:\n%s'
                          % (line, position, output))
            position = lines.index(line, position) + 1

    def check_maintenance(self):
        output = self.run_block(MAINTENANCE)
        expected = expected_output(walkthrough(MAINTENANCE))
        self.assertGreater(len(expected), 20)
        self.assertPrinted(expected, output)
        agg = self.assertRackBAgrees(['xenhost1', 'xenhost2', 'xenhost3'])
        self.assertEqual(('xenhost3', 'active'),
                         (agg['metadata']['master_compute'],
                          agg['metadata']['operational_state']))
        where = self.where()
        self.assertEqual(
            ['xenhost1'] * 3 + ['xenhost2'] * 2,
            [where[name] for name in ('db', 'cache', 'www', 'app', 'api')])

    def assertRackBAgrees(self, members):
        """The database agrees with the pool rack-b of ``members``: master,
        members, every host back in service.  Returns the aggregate."""
        agg, = [a for a in self.api('os-aggregates')['aggregates']
                if a['name'] == 'rack-b']
        self.assertEqual(members, sorted(agg['hosts']))
        pool, = [p for p in self.sim('pools') if p['name_label'] == 'rack-b']
        self.assertEqual((agg['metadata']['master_compute'], members),
                         (pool['master'], pool['members']))
        for host in self.api('os-hosts')['hosts']:
            self.assertEqual(('enabled', 'off_maintenance'),
                             (host['status'], host['maintenance_mode']),
                             host)
        return agg

    def check_rolling(self):
        output = self.run_block(ROLLING)
        expected = expected_output(walkthrough(ROLLING))
        self.assertGreater(len(expected), 12)
        self.assertPrinted(expected, output)
        task, = [t for t in self.api('os-rolling-maintenance')[
            'rolling_maintenances'] if t['host_action'] == 'reboot']
        self.assertEqual('succeeded', task['state'])
        self.assertRackBAgrees(['xenhost%d' % n for n in range(1, 5)])
        where = self.where()
        self.assertEqual(
            ['xenhost1'] * 3 + ['xenhost2'] * 2 + ['xenhost4'],
            [where[name] for name in ('db', 'cache', 'www', 'app', 'api',
                                      'batch')])

    def test_make_serve_starts_the_seeded_guests(self):
        self.assertEqual(
            {name: ('xenhost1', mb * 2 ** 20, 'Running')
             for name, mb in SEEDED.items()},
            {vm['name']: (vm['host'], vm['memory'], vm['power_state'])
             for vm in self.sim('vms')})
        for name, mb in SEEDED.items():
            self.assertIn('guest %s (%d MiB) running on xenhost1' % (
                name, mb), self.server.output())

    def test_maintenance_walkthroughs_on_a_fresh_server(self):
        self.check_maintenance()
        self.check_rolling()

    def test_the_walkthroughs_in_order(self):
        output = self.run_block(CURL)
        self.assertIn('itemNotFound', output)
        self.assertIn('forbidden', output)
        # curl prints no newline: the delete's status ends the output.
        self.assertTrue(output.endswith('}200\n'), output)

        output = self.run_block(POOL)
        self.assertIn('POOL_JOINING_HOST_CANNOT_HAVE_RUNNING_VMS '
                      '(pool.join on xenhost4)', output)
        self.assertIn('"master_compute": "xenhost1"', output)
        # Dissolved: four standalone pools again, names cleared, and the
        # guests of make serve still where they started.
        self.assertEqual(
            [('xenhost%d' % n, ['xenhost%d' % n], '') for n in range(1, 5)],
            sorted((p['master'], p['members'], p['name_label'])
                   for p in self.sim('pools')))
        where = self.where()
        self.assertEqual({'db': 'xenhost1', 'cache': 'xenhost1',
                          'www': 'xenhost1', 'web1': 'xenhost4'}, where)

        self.check_maintenance()
        self.assertEqual('xenhost4', self.where()['web1'])
        self.check_rolling()
        self.assertNotIn('web1', self.where())
