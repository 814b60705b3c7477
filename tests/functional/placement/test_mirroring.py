"""Placement mirroring against the real Placement (api-contract §16),
through the HTTP API, with a FaultProxy between us and Placement.

Every test has its own database and proxy, and its own host names (a
Placement serves the whole class), so memberships never cross tests.
"""

import json
import threading
import uuid

from keystoneauth1 import loading as ks_loading

from nova_aggregates import conf as na_conf
from nova_aggregates.db import api as db_api
from tests import base
from tests import fixtures as na_fixtures
from tests.functional import backends
from tests.functional import pool_fixtures
from tests.support import placement


def enable_admin_token_options(conf):
    """keystoneauth registers a plugin's options when it loads it; a test
    sets them before."""
    for opt in ks_loading.get_auth_plugin_conf_options('admin_token'):
        if opt.dest not in conf.placement:
            conf.register_opt(opt, group='placement')


def mirror_overrides(placement_fixture, endpoint, **extra):
    options = dict(placement_fixture.placement_conf_options(
        endpoint=endpoint, timeout=2), mirror_aggregates=True,
        retry_interval=0.2, **extra)
    return {('placement', name): value for name, value in options.items()}


class MirrorTestCase(base.JSONRequestMixin, placement.PlacementTestCase):

    compute_driver = 'fake'

    def setUp(self):
        super().setUp()
        enable_admin_token_options(na_conf.CONF)
        self.proxy = self.useFixture(placement.FaultProxy(self.placement.url))
        self.api = self.make_api()
        self.context = self.api.context
        self.manager = self.api.services.aggregates
        self.suffix = uuid.uuid4().hex[:8]

    def make_api(self):
        return self.useFixture(na_fixtures.APIFixture(
            compute_driver=self.compute_driver,
            overrides=mirror_overrides(self.placement, self.proxy.url)))

    def request(self, *args, **kwargs):
        return self.api.request(*args, **kwargs)

    def host(self, name, provider=True):
        """A registered compute host of this test (with its resource
        provider in Placement unless ``provider`` is False)."""
        host = '%s-%s' % (name, self.suffix)
        self.api.register_host(host)
        if provider:
            self.placement.create_provider(host)
        return host

    def create(self, name='agg'):
        return self.json_request('POST', '/v2.1/os-aggregates', {
            'aggregate': {'name': '%s-%s' % (name, self.suffix)}},
            headers={'OpenStack-API-Version': 'compute 2.41'})['aggregate']

    def act(self, agg, action, host, expected=200):
        response = self.request(
            'POST', '/v2.1/os-aggregates/%s/action' % agg['id'],
            {action: {'host': host}})
        self.assertEqual(expected, response.status_int, response.body)
        return json.loads(response.body)

    def fault(self, body, status):
        (name, fault), = body.items()
        self.assertEqual(status, fault['code'])
        self.assertNotIn('Traceback', fault['message'])
        return fault['message']

    def hosts_of(self, agg):
        return db_api.aggregate_get(self.context, agg['id'])['hosts']

    def steps(self):
        return db_api.placement_steps_all(self.context)

    def fail_next_write(self):
        """Let the provider lookup and reads through, fail from the first
        write on (Placement goes down after our request began)."""
        def hook(method, path):
            if path.endswith('/aggregates') and method == 'GET':
                self.proxy.fail(503)
        self.proxy.before_forward(hook)

    def marked(self, aggs, host):
        return [a['id'] for a in aggs if 'placement_mirror:' + host in
                db_api.aggregate_get(self.context, a['id'])['metadata']]


class TestMirroring(MirrorTestCase):

    def test_add_and_remove_host_mirror_the_membership(self):
        host = self.host('h1')
        agg = self.create()
        shown = self.act(agg, 'add_host', host)['aggregate']
        self.assertEqual([host], shown['hosts'])
        self.assertEqual({agg['uuid']}, self.placement.aggregates_of(host))
        self.assertEqual({host}, self.placement.providers_in(agg['uuid']))
        self.act(agg, 'remove_host', host)
        self.assertEqual(set(), self.placement.aggregates_of(host))
        self.assertEqual([], self.steps())

    def test_other_aggregates_of_the_provider_are_kept(self):
        host = self.host('h1')
        foreign = str(uuid.uuid4())  # e.g. one a sharing provider uses
        self.placement.set_aggregates_of(host, [foreign])
        first, second = self.create('a'), self.create('b')
        self.act(first, 'add_host', host)
        self.act(second, 'add_host', host)
        self.assertEqual({foreign, first['uuid'], second['uuid']},
                         self.placement.aggregates_of(host))
        self.act(first, 'remove_host', host)
        self.assertEqual({foreign, second['uuid']},
                         self.placement.aggregates_of(host))

    def test_delete_leaves_no_uuid_behind(self):
        member, bystander = self.host('h1'), self.host('h2')
        agg = self.create()
        self.act(agg, 'add_host', member)
        self.act(agg, 'remove_host', member)
        # Put behind our back on a host that never was a member.
        self.placement.set_aggregates_of(bystander, [agg['uuid']])
        response = self.request('DELETE', '/v2.1/os-aggregates/%s' % agg['id'])
        self.assertEqual(200, response.status_int, response.body)
        self.assertEqual(set(), self.placement.providers_in(agg['uuid']))
        self.assertEqual([], self.steps())

    def test_host_without_provider_joins_unmirrored(self):
        host = self.host('h1', provider=False)
        agg = self.create()
        with self.assertLogs('nova_aggregates.aggregates.placement_mirror',
                             'WARNING') as logs:
            shown = self.act(agg, 'add_host', host)['aggregate']
        self.assertEqual([host], shown['hosts'])
        self.assertIn('has no resource provider', logs.output[0])
        self.assertEqual([], self.steps())
        # Asked once, before the change; the step believes the answer.
        self.assertEqual(1, len([r for r in self.proxy.requests
                                 if '?name=' in r[1]]))
        self.assertNotIn('placement_mirror:' + host, shown['metadata'])

    def test_placement_down_fails_the_request_with_nothing_changed(self):
        host = self.host('h1')
        agg = self.create()
        self.proxy.down()
        body = self.act(agg, 'add_host', host, expected=503)
        message = self.fault(body, 503)
        self.assertIn('Placement cannot be reached', message)
        self.assertIn('nothing was changed', message)
        self.proxy.pass_through()
        self.assertEqual([], self.hosts_of(agg))
        self.assertEqual(set(), self.placement.aggregates_of(host))
        self.assertEqual([], self.steps())
        # And for a removal, and a delete.
        self.act(agg, 'add_host', host)
        self.proxy.down()
        self.act(agg, 'remove_host', host, expected=503)
        self.proxy.pass_through()
        self.assertEqual([host], self.hosts_of(agg))
        self.assertEqual({agg['uuid']}, self.placement.aggregates_of(host))

    def test_delete_with_placement_down_changes_nothing(self):
        agg = self.create()
        self.proxy.down()
        response = self.request('DELETE', '/v2.1/os-aggregates/%s' % agg['id'])
        self.proxy.pass_through()
        self.fault(json.loads(response.body), 503)
        self.assertEqual(agg['uuid'], db_api.aggregate_get(
            self.context, agg['id'])['uuid'])

    def test_placement_errors_fail_the_request_naming_placement(self):
        host = self.host('h1')
        agg = self.create()
        self.proxy.fail(500, count=1)
        message = self.fault(self.act(agg, 'add_host', host, expected=502),
                             502)
        self.assertIn('Placement answered 500', message)
        self.proxy.fail(503, count=1)
        self.fault(self.act(agg, 'add_host', host, expected=503), 503)
        self.assertEqual([], self.hosts_of(agg))
        self.assertEqual(set(), self.placement.aggregates_of(host))

    def test_slow_placement_times_out_with_nothing_changed(self):
        host = self.host('h1')
        agg = self.create()
        self.proxy.slow(3)  # the session's timeout is 2 s
        body = self.act(agg, 'add_host', host, expected=503)
        self.proxy.pass_through()
        self.assertIn('Placement cannot be reached', self.fault(body, 503))
        self.assertEqual([], self.hosts_of(agg))

    def test_failure_after_the_change_is_kept_shown_and_retried(self):
        host = self.host('h1')
        agg = self.create()
        self.fail_next_write()
        shown = self.act(agg, 'add_host', host)['aggregate']
        # The membership is done and says what Placement lacks.
        self.assertEqual([host], shown['hosts'])
        marker = shown['metadata']['placement_mirror:' + host]
        self.assertIn('pending since', marker)
        self.assertIn('PlacementUnavailable', marker)
        self.assertNotIn('nothing was changed', marker)
        (step,) = self.steps()
        self.assertEqual((agg['uuid'], host, 1),
                         (step['aggregate_uuid'], step['host'],
                          step['attempts']))
        self.assertEqual(set(), self.placement.aggregates_of(host))
        # The marker is no metadata a user can write.
        response = self.request(
            'POST', '/v2.1/os-aggregates/%s/action' % agg['id'],
            {'set_metadata': {'metadata': {'placement_mirror:x': 'y'}}})
        self.assertEqual(400, response.status_int)
        # Placement is back: the retry mirrors and clears the marker.
        self.proxy.before_forward(None)
        self.proxy.pass_through()
        self.manager.placement.retry_due(self.context, everything=True)
        self.assertEqual({agg['uuid']}, self.placement.aggregates_of(host))
        self.assertEqual([], self.steps())
        shown = self.json_request('GET', '/v2.1/os-aggregates/%s' % agg['id'])
        self.assertNotIn('placement_mirror:' + host,
                         shown['aggregate']['metadata'])

    def test_background_retrier_repairs_without_a_request(self):
        host = self.host('h1')
        agg = self.create()
        self.fail_next_write()
        self.act(agg, 'add_host', host)
        self.proxy.before_forward(None)
        self.proxy.pass_through()
        retrier = self.api.services.placement_retrier()
        retrier.start()
        self.addCleanup(retrier.stop)
        for _ in range(100):
            if not self.steps():
                break
            retrier.stopping.wait(0.1)
        self.assertEqual([], self.steps())
        self.assertEqual({agg['uuid']}, self.placement.aggregates_of(host))

    def test_late_step_follows_the_database_not_the_request(self):
        # The steps of an add and of the removal after it both failed, and
        # the uuid reached Placement meanwhile (a late write): the retry
        # reads the database, and takes it out.
        host = self.host('h1')
        agg = self.create()
        self.fail_next_write()
        self.act(agg, 'add_host', host)
        self.proxy.pass_through()
        self.fail_next_write()
        self.act(agg, 'remove_host', host)
        self.proxy.before_forward(None)
        self.proxy.pass_through()
        (step,) = self.steps()
        self.assertEqual(2, step['version'])
        self.placement.set_aggregates_of(host, [agg['uuid']])
        self.manager.placement.retry_due(self.context, everything=True)
        self.assertEqual(set(), self.placement.aggregates_of(host))
        self.assertEqual([], self.steps())

    def test_generation_conflict_from_a_real_concurrent_writer(self):
        host = self.host('h1')
        agg = self.create()
        foreign = str(uuid.uuid4())
        writes = []

        def concurrent_writer(method, path):
            # Between our read of the provider and our write, someone
            # else writes (once): Placement answers our write 409.
            if method == 'PUT' and not writes:
                writes.append(path)
                self.placement.set_aggregates_of(host, [foreign])
        self.proxy.before_forward(concurrent_writer)
        self.act(agg, 'add_host', host)
        self.assertEqual({foreign, agg['uuid']},
                         self.placement.aggregates_of(host))
        puts = [r for r in self.proxy.requests if r[0] == 'PUT']
        self.assertEqual([409, 200], [status for _, _, status in puts])
        self.assertEqual([], self.steps())

    def test_endless_conflicts_keep_the_step(self):
        host = self.host('h1')
        agg = self.create()

        def always_someone_else(method, path):
            if method == 'PUT':
                self.placement.set_aggregates_of(
                    host, self.placement.aggregates_of(host))
        self.proxy.before_forward(always_someone_else)
        shown = self.act(agg, 'add_host', host)['aggregate']
        self.assertIn('generation conflicts',
                      shown['metadata']['placement_mirror:' + host])
        self.proxy.before_forward(None)
        self.manager.placement.retry_due(self.context, everything=True)
        self.assertEqual({agg['uuid']}, self.placement.aggregates_of(host))

    def test_concurrent_adds_of_one_host_both_land(self):
        host = self.host('h1')
        aggs = [self.create('c%d' % i) for i in range(4)]
        barrier = threading.Barrier(len(aggs))
        statuses = []

        def add(agg):
            barrier.wait()
            statuses.append(self.request(
                'POST', '/v2.1/os-aggregates/%s/action' % agg['id'],
                {'add_host': {'host': host}}).status_int)
        threads = [threading.Thread(target=add, args=(a,)) for a in aggs]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        self.assertEqual([200] * len(aggs), statuses)
        # Placement on SQLite may answer a concurrent write 500 ("database
        # is locked"): such a step is kept, and its retry completes it.
        self.assertEqual(len(self.steps()), len(self.marked(aggs, host)))
        self.manager.placement.retry_due(self.context, everything=True)
        self.assertEqual({a['uuid'] for a in aggs},
                         self.placement.aggregates_of(host),
                         self.proxy.requests)
        self.assertEqual([], self.steps())
        self.assertEqual([], self.marked(aggs, host))


class TestMirroringOff(MirrorTestCase):

    def make_api(self):
        overrides = mirror_overrides(self.placement, self.proxy.url)
        overrides['placement', 'mirror_aggregates'] = False
        return self.useFixture(na_fixtures.APIFixture(overrides=overrides))

    def test_placement_is_never_called(self):
        host = self.host('h1')
        agg = self.create()
        self.act(agg, 'add_host', host)
        self.act(agg, 'remove_host', host)
        self.request('DELETE', '/v2.1/os-aggregates/%s' % agg['id'])
        self.assertEqual([], self.proxy.requests)


class TestPoolMirroring(MirrorTestCase):
    """Pool aggregates on the simulated XenServer fleet: Placement follows
    the pool, after XenServer did the work."""

    def make_api(self):
        conf = self.useFixture(na_fixtures.ConfFixture())
        for (group, name), value in mirror_overrides(
                self.placement, self.proxy.url).items():
            conf.config(**{name: value, 'group': group})
        self.pool = self.useFixture(pool_fixtures.PoolAPIFixture(hosts=3))
        # The fleet's host names are the same in every test.
        for name in self.pool.host_names:
            if self.placement.provider(name) is None:
                self.placement.create_provider(name)
            self.placement.set_aggregates_of(name, [])
        return self.pool.api

    def pool_aggregate(self):
        agg = self.create('pool')
        self.json_request(
            'POST', '/v2.1/os-aggregates/%s/action' % agg['id'],
            {'set_metadata': {'metadata': {'hypervisor_pool': 'true'}}})
        return agg

    def members(self, host):
        pool = self.pool.pool_of(host)
        return set(pool['members']) if pool else set()

    def test_pool_lifecycle_matches_xenserver_and_placement(self):
        first, second = self.pool.host_names[:2]
        agg = self.pool_aggregate()
        self.act(agg, 'add_host', first)
        self.act(agg, 'add_host', second)
        self.assertEqual({first, second},
                         self.placement.providers_in(agg['uuid']))
        self.assertEqual({first, second}, self.members(first))
        self.act(agg, 'remove_host', second)
        self.assertEqual({first}, self.placement.providers_in(agg['uuid']))
        self.assertEqual({first}, self.members(first))
        self.assertEqual([], self.steps())

    def test_refused_join_leaves_placement_as_it_was(self):
        first, second = self.pool.host_names[:2]
        agg = self.pool_aggregate()
        self.act(agg, 'add_host', first)
        self.pool.fleet.inject('pool.join', error=['JOINING_HOST_CANNOT_'
                                                   'CONTAIN_SHARED_SRS'])
        self.act(agg, 'add_host', second, expected=409)
        self.assertEqual({first}, self.placement.providers_in(agg['uuid']))
        self.assertEqual({first}, self.members(first))
        self.assertEqual([], self.steps())

    def test_placement_down_before_the_join_leaves_the_pool_alone(self):
        first = self.pool.host_names[0]
        agg = self.pool_aggregate()
        self.proxy.down()
        self.act(agg, 'add_host', first, expected=503)
        self.proxy.pass_through()
        self.assertEqual({first}, self.members(first))
        shown = self.json_request('GET', '/v2.1/os-aggregates/%s' % agg['id'])
        self.assertEqual([], shown['aggregate']['hosts'])
        self.assertEqual('created',
                         shown['aggregate']['metadata']['operational_state'])
        self.assertNotIn('master_compute', shown['aggregate']['metadata'])


class _OnBackend:
    """The mirror steps' statements and races on a server database."""

    BACKEND = None

    def make_api(self):
        backends.require(self.BACKEND)
        database = self.useFixture(backends.BackendDatabase(self.BACKEND))
        return self.useFixture(na_fixtures.APIFixture(
            overrides=mirror_overrides(self.placement, self.proxy.url),
            connection=database.url))

    test_concurrent_adds_of_one_host_both_land = \
        TestMirroring.test_concurrent_adds_of_one_host_both_land
    test_failure_after_the_change_is_kept_shown_and_retried = \
        TestMirroring.test_failure_after_the_change_is_kept_shown_and_retried
    test_late_step_follows_the_database_not_the_request = \
        TestMirroring.test_late_step_follows_the_database_not_the_request
    test_delete_leaves_no_uuid_behind = \
        TestMirroring.test_delete_leaves_no_uuid_behind


class TestMirroringPostgreSQL(_OnBackend, MirrorTestCase):
    BACKEND = backends.POSTGRESQL


class TestMirroringMySQL(_OnBackend, MirrorTestCase):
    BACKEND = backends.MYSQL
