"""``nova-aggregates-manage placement sync [--dry-run]`` against the real
Placement: drift made behind our back, found in both directions, repaired,
and the exit status an operator's script reads."""

import json
import os
import time
import uuid

import fixtures

from nova_aggregates.aggregates import manager as aggregate_manager
from nova_aggregates import context
from nova_aggregates.db import api as db_api
from tests import fixtures as na_fixtures
from tests.functional.cmd import test_commands
from tests.support import placement
from tests.support import process


class TestPlacementSync(placement.PlacementTestCase):

    def setUp(self):
        super().setUp()
        self.dir = self.useFixture(fixtures.TempDir()).path
        connection = 'sqlite:///%s' % os.path.join(self.dir, 'db.sqlite')
        conf = self.useFixture(na_fixtures.ConfFixture())
        self.useFixture(na_fixtures.DatabaseFixture(conf, connection))
        self.context = context.get_admin_context()
        # Memberships made while mirroring was off: Placement knows none.
        self.manager = aggregate_manager.AggregateManager(conf.conf)
        self.suffix = uuid.uuid4().hex[:8]
        self.sections = {
            'database': {'connection': connection},
            'placement': self.placement.placement_conf_options(),
        }

    def manage(self, *args, sections=None):
        config = process.write_config(
            os.path.join(self.dir, 'sync.conf'), sections or self.sections)
        fixture = test_commands.CommandFixture()
        fixture.config = config
        return fixture.manage(*args)

    def name(self, base):
        return '%s-%s' % (base, self.suffix)

    def make_drift(self):
        h1, h2, h3 = (self.name(h) for h in ('h1', 'h2', 'h3'))
        for host in (h1, h2, h3):
            db_api.compute_host_create(self.context, host, None, None)
        for host in (h1, h2):  # h3's nova-compute never reported
            self.placement.create_provider(host)
        a, b, c = (self.manager.create_aggregate(self.context, self.name(n))
                   for n in ('a', 'b', 'c'))
        for agg, host in ((a, h1), (a, h2), (b, h1), (c, h3)):
            self.manager.add_host(self.context, agg['id'], host)
        self.foreign = str(uuid.uuid4())
        self.placement.set_aggregates_of(h1, [self.foreign])
        self.placement.set_aggregates_of(h2, [a['uuid'], b['uuid']])
        return (h1, h2, h3), (a, b, c)

    def test_dry_run_reports_both_directions_and_changes_nothing(self):
        (h1, h2, h3), (a, b, c) = self.make_drift()
        result = self.manage('placement', 'sync', '--dry-run')
        self.assertEqual(1, result.returncode, result.stdout + result.stderr)
        out = result.stdout
        self.assertIn('missing: %s lacks aggregate %s (%s) (would repair)'
                      % (h1, a['name'], a['uuid']), out)
        self.assertIn('missing: %s lacks aggregate %s' % (h1, b['name']), out)
        self.assertIn('stale: %s still has aggregate %s (%s)'
                      % (h2, b['name'], b['uuid']), out)
        self.assertIn('unknown resource provider: %s (member of %s)'
                      % (h3, c['name']), out)
        self.assertNotIn('lacks aggregate %s' % a['name'],
                         out.replace('%s lacks' % h1, ''))
        self.assertEqual({self.foreign}, self.placement.aggregates_of(h1))
        self.assertEqual({a['uuid'], b['uuid']},
                         self.placement.aggregates_of(h2))

    def test_sync_repairs_and_exits_nonzero_while_a_provider_is_unknown(self):
        (h1, h2, h3), (a, b, c) = self.make_drift()
        result = self.manage('placement', 'sync')
        self.assertEqual(1, result.returncode, result.stdout + result.stderr)
        self.assertIn('stale: %s still has aggregate %s (%s): repaired'
                      % (h2, b['name'], b['uuid']), result.stdout)
        self.assertIn('unknown resource provider: %s' % h3, result.stdout)
        self.assertIn('Drift remaining: 1.', result.stdout)
        self.assertEqual({self.foreign, a['uuid'], b['uuid']},
                         self.placement.aggregates_of(h1))
        self.assertEqual({a['uuid']}, self.placement.aggregates_of(h2))
        # h3's provider appears: the next sync completes the mirror.
        self.placement.create_provider(h3)
        result = self.manage('placement', 'sync')
        self.assertEqual(0, result.returncode, result.stdout + result.stderr)
        self.assertEqual({c['uuid']}, self.placement.aggregates_of(h3))
        result = self.manage('placement', 'sync', '--dry-run')
        self.assertEqual(0, result.returncode, result.stdout)
        self.assertIn('No drift: Placement matches.', result.stdout)

    def test_unreachable_placement_is_a_clear_error(self):
        self.make_drift()
        sections = dict(self.sections, placement=dict(
            self.placement.placement_conf_options(
                endpoint='http://127.0.0.1:%d' % process.free_port()),
            timeout=2))
        result = self.manage('placement', 'sync', sections=sections)
        self.assertEqual(1, result.returncode)
        self.assertIn('Error: Placement cannot be reached', result.stderr)
        self.assertNotIn('Traceback', result.stderr)


class TestRetriesInTheServer(placement.PlacementTestCase):
    """A real nova-aggregates-api: its workers retry a failed mirror step
    with no request (gunicorn's post_fork starts the retrier)."""

    def test_worker_repairs_after_placement_comes_back(self):
        proxy = self.useFixture(placement.FaultProxy(self.placement.url))
        host = 'srv-%s' % uuid.uuid4().hex[:8]
        self.placement.create_provider(host)
        cmd = self.useFixture(test_commands.CommandFixture(placement=dict(
            self.placement.placement_conf_options(endpoint=proxy.url,
                                                  timeout=2),
            mirror_aggregates='true', retry_interval='0.3')))
        self.assertEqual(0, cmd.manage('db', 'sync').returncode)
        self.assertEqual(0, cmd.manage('host', 'add', host).returncode)
        server = cmd.server()
        self.addCleanup(server.stop)
        server.start()
        created = server.request('POST', '/v2.1/os-aggregates', {
            'aggregate': {'name': 'web'}}, timeout=10)
        agg_id = json.loads(created.body)['aggregate']['id']

        def writes_fail(method, path):
            if method == 'GET' and path.endswith('/aggregates'):
                proxy.fail(503)
        proxy.before_forward(writes_fail)
        added = server.request(
            'POST', '/v2.1/os-aggregates/%d/action' % agg_id,
            {'add_host': {'host': host}}, timeout=10)
        self.assertEqual(200, added.status, added.body)
        self.assertIn('placement_mirror:' + host, json.loads(
            added.body)['aggregate']['metadata'])
        proxy.before_forward(None)
        proxy.pass_through()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            shown = json.loads(server.request(
                'GET', '/v2.1/os-aggregates/%d' % agg_id, timeout=10).body)
            if 'placement_mirror:' + host not in \
                    shown['aggregate']['metadata']:
                break
            time.sleep(0.2)
        else:
            self.fail('no worker retried the step:\n' + server.output())
        self.assertEqual(1, len(self.placement.aggregates_of(host)))
