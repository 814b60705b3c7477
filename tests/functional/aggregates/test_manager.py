"""AggregateManager rules on a real (SQLite) database with the fake
driver, including races between threads."""

import functools

from nova_aggregates.aggregates import compute_hosts
from nova_aggregates.aggregates import manager as aggregate_manager
from nova_aggregates import context as na_context
from nova_aggregates.db import api as db
from nova_aggregates import exception
from tests import base
from tests.support import concurrency


class ManagerTestCase(base.TestCase):

    def setUp(self):
        super().setUp()
        self.context = na_context.get_admin_context()
        self.manager = aggregate_manager.AggregateManager(self.conf)
        self.hosts = compute_hosts.ComputeHosts(self.conf)
        for number in range(1, 5):
            self.hosts.register(self.context, 'host%d' % number)

    def create(self, name, zone=None, hosts=()):
        agg = self.manager.create_aggregate(self.context, name, zone)
        for host in hosts:
            agg = self.manager.add_host(self.context, agg['id'], host)
        return agg

    def get(self, agg):
        return self.manager.get_aggregate(self.context, agg['id'])

    def zones_of(self, host):
        return {a['availability_zone'] for a in
                db.host_aggregates(self.context, [host])[host]} - {None}

    def assertUnchangedBy(self, error, fn, *args, **kwargs):
        before = self.manager.list_aggregates(self.context)
        raised = self.assertRaises(error, fn, self.context, *args, **kwargs)
        self.assertEqual(before, self.manager.list_aggregates(self.context))
        return raised


class TestZoneRule(ManagerTestCase):

    def test_add_host_into_another_zone(self):
        self.create('a', 'az1', ['host1'])
        b = self.create('b', 'az2')
        error = self.assertUnchangedBy(exception.HostZoneConflict,
                                       self.manager.add_host, b['id'],
                                       'host1')
        self.assertIn('conflicts with zone az1 of aggregate a', str(error))
        self.assertEqual({'az1'}, self.zones_of('host1'))

    def test_add_host_into_the_same_zone_or_none(self):
        self.create('a', 'az1', ['host1'])
        b = self.create('b', 'az1', ['host1'])
        c = self.create('c', None, ['host1'])
        self.assertEqual(['host1'], self.get(b)['hosts'])
        self.assertEqual(['host1'], self.get(c)['hosts'])
        d = self.create('d', None, ['host2'])
        e = self.create('e', 'az5', ['host2'])
        self.assertEqual((['host2'], ['host2']),
                         (self.get(d)['hosts'], self.get(e)['hosts']))

    def test_update_zone_against_a_hosts_other_zone(self):
        self.create('a', 'az1', ['host1'])
        b = self.create('b', None, ['host1', 'host2'])
        error = self.assertUnchangedBy(exception.InvalidZoneChange,
                                       self.manager.update_aggregate,
                                       b['id'], availability_zone='az2')
        self.assertIn('host host1 is in aggregate a with availability zone '
                      'az1', str(error))
        agg = self.manager.update_aggregate(self.context, b['id'],
                                            availability_zone='az1')
        self.assertEqual('az1', agg['availability_zone'])

    def test_update_zone_of_the_only_zoned_aggregate(self):
        a = self.create('a', 'az1', ['host1'])
        self.create('b', None, ['host1'])
        agg = self.manager.update_aggregate(self.context, a['id'],
                                            availability_zone='az2')
        self.assertEqual('az2', agg['availability_zone'])
        self.assertEqual({'az2'}, self.zones_of('host1'))

    def test_set_metadata_zone_against_a_hosts_other_zone(self):
        self.create('a', 'az1', ['host1'])
        b = self.create('b', None, ['host1'])
        self.assertUnchangedBy(exception.InvalidZoneChange,
                               self.manager.set_metadata, b['id'],
                               {'availability_zone': 'az2', 'k': 'v'})
        agg = self.manager.set_metadata(self.context, b['id'],
                                        {'availability_zone': 'az1'})
        self.assertEqual('az1', agg['availability_zone'])

    def test_zone_cannot_be_emptied(self):
        a = self.create('a', 'az1')
        for value in (None, ''):
            self.assertUnchangedBy(exception.InvalidAvailabilityZone,
                                   self.manager.set_metadata, a['id'],
                                   {'availability_zone': value})
            self.assertUnchangedBy(exception.InvalidAvailabilityZone,
                                   self.manager.update_aggregate, a['id'],
                                   availability_zone=value)

    def test_update_zone_merges_into_metadata(self):
        a = self.create('a', 'az1')
        self.manager.set_metadata(self.context, a['id'], {'k': 'v'})
        agg = self.manager.update_aggregate(self.context, a['id'],
                                            availability_zone='az2')
        self.assertEqual({'availability_zone': 'az2', 'k': 'v'},
                         agg['metadata'])


class TestMembership(ManagerTestCase):

    def test_add_host_twice(self):
        a = self.create('a', None, ['host1'])
        self.assertUnchangedBy(exception.AggregateHostExists,
                               self.manager.add_host, a['id'], 'host1')

    def test_unregistered_host(self):
        a = self.create('a', None, ['host1'])
        self.assertUnchangedBy(exception.ComputeHostNotFound,
                               self.manager.add_host, a['id'], 'host9')
        self.assertUnchangedBy(exception.ComputeHostNotFound,
                               self.manager.remove_host, a['id'], 'host9')

    def test_remove_host_not_in_the_aggregate(self):
        a = self.create('a', None, ['host1'])
        self.assertUnchangedBy(exception.AggregateHostNotFound,
                               self.manager.remove_host, a['id'], 'host2')

    def test_missing_aggregate(self):
        for fn, args in ((self.manager.add_host, ('host1',)),
                         (self.manager.remove_host, ('host1',)),
                         (self.manager.set_metadata, ({'k': 'v'},)),
                         (self.manager.get_aggregate, ()),
                         (self.manager.delete_aggregate, ())):
            self.assertRaises(exception.AggregateNotFound, fn, self.context,
                              404, *args)
        self.assertRaises(exception.AggregateNotFound,
                          self.manager.update_aggregate, self.context, 404,
                          name='x')

    def test_operational_state(self):
        a = self.create('a')
        self.assertEqual('created', a['operational_state'])
        self.assertEqual('active', self.manager.add_host(
            self.context, a['id'], 'host1')['operational_state'])


class TestDelete(ManagerTestCase):

    def test_delete_with_hosts(self):
        a = self.create('a', 'az1', ['host1', 'host2'])
        error = self.assertUnchangedBy(exception.AggregateNotEmpty,
                                       self.manager.delete_aggregate, a['id'])
        self.assertIn('host1, host2', str(error))

    def test_delete_after_removing_hosts(self):
        a = self.create('a', 'az1', ['host1'])
        self.manager.remove_host(self.context, a['id'], 'host1')
        self.manager.delete_aggregate(self.context, a['id'])
        self.assertEqual([], self.manager.list_aggregates(self.context))
        again = self.create('a')
        self.assertEqual({}, again['metadata'])


class TestMetadata(ManagerTestCase):

    def test_merge_and_null_removal(self):
        a = self.create('a', 'az1')
        agg = self.manager.set_metadata(self.context, a['id'],
                                        {'x': '1', 'y': '2'})
        self.assertEqual({'availability_zone': 'az1', 'x': '1', 'y': '2'},
                         agg['metadata'])
        agg = self.manager.set_metadata(self.context, a['id'],
                                        {'x': None, 'z': '3'})
        self.assertEqual({'availability_zone': 'az1', 'y': '2', 'z': '3'},
                         agg['metadata'])
        self.assertEqual(agg['metadata'], self.get(a)['metadata'])

    def test_removing_an_absent_key_is_a_noop(self):
        a = self.create('a', None)
        self.manager.set_metadata(self.context, a['id'], {'x': '1'})
        agg = self.manager.set_metadata(self.context, a['id'],
                                        {'absent': None})
        self.assertEqual({'x': '1'}, agg['metadata'])

    def test_reserved_keys(self):
        a = self.create('a')
        for key in ('operational_state', 'master_compute', 'last_error',
                    'xenapi_host_uuid:host1', 'xenapi_host_uuid:'):
            for value in ('x', None):
                error = self.assertUnchangedBy(
                    exception.ReservedMetadataKey, self.manager.set_metadata,
                    a['id'], {'ok': 'v', key: value})
                self.assertIn('Metadata key %s is reserved' % key,
                              str(error))

    def test_item_limit(self):
        self.conf_fixture.config(max_aggregate_metadata_items=3, group='api')
        a = self.create('a', 'az1')
        self.manager.set_metadata(self.context, a['id'], {'x': '1', 'y': '2'})
        error = self.assertUnchangedBy(exception.TooManyMetadataItems,
                                       self.manager.set_metadata, a['id'],
                                       {'z': '3'})
        self.assertIn('would hold 4 metadata items; the limit is 3',
                      str(error))
        agg = self.manager.set_metadata(self.context, a['id'],
                                        {'x': None, 'z': '3'})
        self.assertEqual({'availability_zone': 'az1', 'y': '2', 'z': '3'},
                         agg['metadata'])


class TestUpdatedAt(ManagerTestCase):

    def test_every_mutation_persists_updated_at(self):
        a = self.create('a', 'az1')
        self.assertIsNone(self.get(a)['updated_at'])
        mutations = [
            lambda: self.manager.update_aggregate(self.context, a['id'],
                                                  name='b'),
            lambda: self.manager.update_aggregate(self.context, a['id'],
                                                  availability_zone='az2'),
            lambda: self.manager.add_host(self.context, a['id'], 'host1'),
            lambda: self.manager.set_metadata(self.context, a['id'],
                                              {'k': 'v'}),
            lambda: self.manager.set_metadata(self.context, a['id'],
                                              {'k': None}),
            lambda: self.manager.remove_host(self.context, a['id'], 'host1'),
        ]
        previous = a['created_at']
        for number, mutate in enumerate(mutations):
            returned = mutate()['updated_at']
            stored = db.aggregate_get(self.context, a['id'])['updated_at']
            self.assertEqual(returned, stored, number)
            self.assertGreater(stored, previous, number)
            previous = stored

    def test_a_refused_mutation_leaves_updated_at(self):
        a = self.create('a', 'az1', ['host1'])
        stamp = self.get(a)['updated_at']
        self.assertRaises(exception.AggregateHostExists,
                          self.manager.add_host, self.context, a['id'],
                          'host1')
        self.assertRaises(exception.AggregateNotEmpty,
                          self.manager.delete_aggregate, self.context,
                          a['id'])
        self.assertEqual(stamp, self.get(a)['updated_at'])


def _race(count, target):
    """Run ``target(number)`` in ``count`` threads released together;
    return {number: result or exception}."""
    return dict(enumerate(concurrency.at_once(
        [functools.partial(target, number) for number in range(count)])))


class TestRaces(ManagerTestCase):

    THREADS = 8

    def test_add_one_host_to_aggregates_of_different_zones(self):
        aggs = [self.create('agg%d' % n, 'az%d' % n)
                for n in range(self.THREADS)]
        results = _race(self.THREADS, lambda n: self.manager.add_host(
            na_context.get_admin_context(), aggs[n]['id'], 'host1'))
        won = [n for n, r in results.items() if isinstance(r, dict)]
        lost = [r for r in results.values() if not isinstance(r, dict)]
        self.assertEqual(1, len(won), results)
        for error in lost:
            self.assertIsInstance(error, exception.HostZoneConflict)
        self.assertEqual({'az%d' % won[0]}, self.zones_of('host1'))
        self.assertEqual(1, len(db.host_aggregates(self.context,
                                                   ['host1'])['host1']))

    def test_add_one_host_to_aggregates_of_two_zones(self):
        aggs = [self.create('agg%d' % n, 'az%d' % (n % 2))
                for n in range(self.THREADS)]
        results = _race(self.THREADS, lambda n: self.manager.add_host(
            na_context.get_admin_context(), aggs[n]['id'], 'host1'))
        won = sorted(n for n, r in results.items() if isinstance(r, dict))
        self.assertEqual(self.THREADS // 2, len(won), results)
        self.assertEqual(1, len({n % 2 for n in won}))
        self.assertEqual(1, len(self.zones_of('host1')))

    def test_zone_change_racing_add_host(self):
        for round_number in range(4):
            host = 'host%d' % (round_number + 1)
            self.create('a%d' % round_number, 'az1', [host])
            b = self.create('b%d' % round_number)

            def step(n):
                context = na_context.get_admin_context()
                if n == 0:
                    return self.manager.add_host(context, b['id'], host)
                return self.manager.update_aggregate(
                    context, b['id'], availability_zone='az2')

            results = _race(2, step)
            failures = [r for r in results.values()
                        if isinstance(r, Exception)]
            self.assertEqual(1, len(failures), results)
            self.assertIsInstance(failures[0], (exception.HostZoneConflict,
                                                exception.InvalidZoneChange))
            self.assertEqual({'az1'}, self.zones_of(host))
            self.assertEqual(['az1'], [
                agg['availability_zone'] for agg in
                db.host_aggregates(self.context, [host])[host]
                if agg['availability_zone']])

    def test_concurrent_creates_of_one_name(self):
        results = _race(self.THREADS, lambda n: self.manager.create_aggregate(
            na_context.get_admin_context(), 'same', 'az%d' % n))
        won = [r for r in results.values() if isinstance(r, dict)]
        lost = [r for r in results.values() if not isinstance(r, dict)]
        self.assertEqual(1, len(won), results)
        for error in lost:
            self.assertIsInstance(error, exception.AggregateNameExists)
        listed = self.manager.list_aggregates(self.context)
        self.assertEqual([('same', won[0]['availability_zone'])],
                         [(a['name'], a['availability_zone'])
                          for a in listed])
        self.assertEqual({'availability_zone': won[0]['availability_zone']},
                         listed[0]['metadata'])

    def test_concurrent_metadata_writes_lose_nothing(self):
        a = self.create('a')
        results = _race(self.THREADS, lambda n: self.manager.set_metadata(
            na_context.get_admin_context(), a['id'], {'k%d' % n: str(n)}))
        self.assertTrue(all(isinstance(r, dict) for r in results.values()),
                        results)
        self.assertEqual({'k%d' % n: str(n) for n in range(self.THREADS)},
                         self.get(a)['metadata'])

    def test_concurrent_metadata_writes_keep_the_limit(self):
        self.conf_fixture.config(max_aggregate_metadata_items=5, group='api')
        a = self.create('a')
        results = _race(self.THREADS, lambda n: self.manager.set_metadata(
            na_context.get_admin_context(), a['id'], {'k%d' % n: 'v'}))
        won = [r for r in results.values() if isinstance(r, dict)]
        for error in results.values():
            if not isinstance(error, dict):
                self.assertIsInstance(error, exception.TooManyMetadataItems)
        self.assertEqual(5, len(won))
        self.assertEqual(5, len(self.get(a)['metadata']))
