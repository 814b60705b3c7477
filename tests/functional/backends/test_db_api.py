"""The database layer and the manager's rules, identical on SQLite,
PostgreSQL and MySQL/MariaDB.

Decision (doc/api-ref.md, "The aggregate object": unique, case-sensitive;
enforced by the schema): aggregate names, compute host names and metadata
keys and values compare *exactly*, code
point by code point, on every backend: case matters, accents matter,
trailing spaces matter.  SQLite and PostgreSQL compare that way already;
on MySQL/MariaDB the columns use a binary NO PAD collation (the server's
default collation folds case and accents, and even ``utf8mb4_bin`` ignores
trailing spaces).
"""

import datetime
import json

import fixtures
from paste import deploy
import sqlalchemy as sa
import webob

from nova_aggregates import context
from nova_aggregates.db import api as db_api
from nova_aggregates import exception
from nova_aggregates import service
from tests.functional import backends
from tests import fixtures as na_fixtures

# Pairs that a case- or accent-insensitive, or space-padding, collation
# would take for one value.
DISTINCT_NAMES = (
    'rack', 'Rack', 'RACK', 'rack ', 'r\u00e4ck', 'R\u00c4CK', 'stra\u00dfe',
    'strasse', '\uff52\uff41\uff43\uff4b', 'rack\U0001F600', 'rack\U0001F601',
    'i\u0307', '\u0130')


class DbApiTests:
    """Runs on ``self.BACKEND``; see the subclasses at the end."""

    def setUp(self):
        super().setUp()
        self.use_service()
        self.ctx = context.get_admin_context()
        self.manager = service.get_services().aggregates
        self.hosts = service.get_services().compute_hosts
        self.engine = self.database.engine()

    def rows(self, table, **where):
        query = sa.select(table)
        for column, value in where.items():
            query = query.where(table.c[column] == value)
        with self.engine.connect() as conn:
            return [dict(row._mapping) for row in conn.execute(query)]

    def register(self, *names, zone=None):
        for name in names:
            self.hosts.register(self.ctx, name, zone)

    # -- case sensitivity and exact comparison ------------------------------

    def test_backend_is_the_one_under_test(self):
        expected = {'sqlite': 'sqlite', 'postgresql': 'postgresql',
                    'mysql': 'mysql'}[self.BACKEND]
        self.assertEqual(expected, db_api.get_engine().dialect.name)

    def test_aggregate_names_compare_exactly(self):
        ids = {}
        for name in DISTINCT_NAMES:
            ids[name] = self.manager.create_aggregate(self.ctx, name)['id']
        for name in DISTINCT_NAMES:
            self.assertEqual(name, self.manager.get_aggregate(
                self.ctx, ids[name])['name'])
            self.assertRaises(exception.AggregateNameExists,
                              self.manager.create_aggregate, self.ctx, name)
        self.assertEqual(sorted(DISTINCT_NAMES), sorted(
            a['name'] for a in self.manager.list_aggregates(self.ctx)))
        # Renames follow the same rule.
        self.assertRaises(exception.AggregateNameExists,
                          self.manager.update_aggregate, self.ctx,
                          ids['Rack'], name='rack')
        self.manager.update_aggregate(self.ctx, ids['Rack'], name='rACK')
        self.assertEqual(1, len(self.rows(db_api.aggregates, name='rACK')))
        self.assertEqual([], self.rows(db_api.aggregates, name='Rack'))

    def test_longest_names_round_trip(self):
        for name in ('n' * 255, '\U0001F600' * 255, '\u00e9' * 255):
            agg = self.manager.create_aggregate(self.ctx, name, name[:255])
            got = self.manager.get_aggregate(self.ctx, agg['id'])
            self.assertEqual(name, got['name'])
            self.assertEqual(name, got['availability_zone'])

    def test_host_names_compare_exactly(self):
        hosts = ('node1', 'Node1', 'NODE1', 'node1 ')
        self.register(*hosts)
        self.assertRaises(exception.ComputeHostExists,
                          self.hosts.register, self.ctx,
                          'node1')
        self.assertEqual(sorted(hosts), sorted(
            h['name'] for h in self.hosts.list(self.ctx)))
        agg = self.manager.create_aggregate(self.ctx, 'a')
        for host in hosts:
            self.manager.add_host(self.ctx, agg['id'], host)
        self.assertRaises(exception.AggregateHostExists,
                          self.manager.add_host, self.ctx, agg['id'], 'Node1')
        self.assertEqual(list(hosts), self.manager.get_aggregate(
            self.ctx, agg['id'])['hosts'])
        self.manager.remove_host(self.ctx, agg['id'], 'NODE1')
        self.assertEqual(['node1', 'Node1', 'node1 '],
                         self.manager.get_aggregate(self.ctx,
                                                    agg['id'])['hosts'])
        self.assertRaises(exception.ComputeHostNotFound,
                          self.manager.add_host, self.ctx, agg['id'], 'nOde1')

    def test_zone_rule_sees_exact_host_names(self):
        self.register('node1', 'Node1')
        az1 = self.manager.create_aggregate(self.ctx, 'one', 'az1')
        az2 = self.manager.create_aggregate(self.ctx, 'two', 'az2')
        self.manager.add_host(self.ctx, az1['id'], 'node1')
        # A different host, though its name differs only in case.
        self.manager.add_host(self.ctx, az2['id'], 'Node1')
        self.assertRaises(exception.HostZoneConflict, self.manager.add_host,
                          self.ctx, az2['id'], 'node1')

    def test_zone_key_is_exact(self):
        # A key that differs from availability_zone only in case is an
        # ordinary key: it gives the aggregate no zone.
        self.register('node1')
        plain = self.manager.create_aggregate(self.ctx, 'plain')
        self.manager.set_metadata(self.ctx, plain['id'],
                                  {'Availability_Zone': 'az9'})
        self.manager.add_host(self.ctx, plain['id'], 'node1')
        az1 = self.manager.create_aggregate(self.ctx, 'one', 'az1')
        self.manager.add_host(self.ctx, az1['id'], 'node1')
        agg = self.manager.get_aggregate(self.ctx, plain['id'])
        self.assertIsNone(agg['availability_zone'])
        self.assertEqual({'Availability_Zone': 'az9'}, agg['metadata'])

    def test_metadata_keys_and_values_compare_exactly(self):
        agg = self.manager.create_aggregate(self.ctx, 'a')
        metadata = {'k': 'v', 'K': 'V', 'k ': 'v ', ' k': ' v', 'k.': 'x',
                    'k:K': 'y'}
        got = self.manager.set_metadata(self.ctx, agg['id'], metadata)
        self.assertEqual(metadata, got['metadata'])
        # One key at a time, in any order: each is its own row.
        agg2 = self.manager.create_aggregate(self.ctx, 'b')
        for key in sorted(metadata, reverse=True):
            self.manager.set_metadata(self.ctx, agg2['id'],
                                      {key: metadata[key]})
        self.assertEqual(metadata, self.manager.get_aggregate(
            self.ctx, agg2['id'])['metadata'])
        # Removing one removes only that one.
        got = self.manager.set_metadata(self.ctx, agg['id'],
                                        {'K': None, 'k ': None})
        self.assertEqual({'k': 'v', ' k': ' v', 'k.': 'x', 'k:K': 'y'},
                         got['metadata'])
        got = self.manager.set_metadata(self.ctx, agg['id'], {'k': 'w'})
        self.assertEqual('w', got['metadata']['k'])
        self.assertEqual(4, len(self.rows(db_api.aggregate_metadata,
                                          aggregate_id=agg['id'])))

    # -- uniqueness and hard deletes ----------------------------------------

    def test_hard_delete_frees_the_name_and_leaves_nothing(self):
        self.register('node1')
        agg = self.manager.create_aggregate(self.ctx, 'web', 'az1')
        self.manager.set_metadata(self.ctx, agg['id'], {'k': 'v'})
        self.manager.add_host(self.ctx, agg['id'], 'node1')
        self.assertRaises(exception.AggregateNotEmpty,
                          self.manager.delete_aggregate, self.ctx, agg['id'])
        self.manager.remove_host(self.ctx, agg['id'], 'node1')
        self.manager.delete_aggregate(self.ctx, agg['id'])
        for table in (db_api.aggregate_hosts, db_api.aggregate_metadata):
            self.assertEqual([], self.rows(table, aggregate_id=agg['id']))
        self.assertEqual([], self.rows(db_api.aggregates, id=agg['id']))
        self.assertRaises(exception.AggregateNotFound,
                          self.manager.get_aggregate, self.ctx, agg['id'])
        again = self.manager.create_aggregate(self.ctx, 'web')
        self.assertGreater(again['id'], agg['id'])
        got = self.manager.get_aggregate(self.ctx, again['id'])
        self.assertEqual(({}, [], None), (got['metadata'], got['hosts'],
                                          got['availability_zone']))
        self.assertRaises(exception.AggregateNotFound,
                          self.manager.delete_aggregate, self.ctx, agg['id'])

    def test_ids_are_not_reused(self):
        first = self.manager.create_aggregate(self.ctx, 'a')['id']
        last = self.manager.create_aggregate(self.ctx, 'b')['id']
        self.manager.delete_aggregate(self.ctx, last)
        self.assertGreater(self.manager.create_aggregate(self.ctx, 'c')['id'],
                           last)
        self.assertGreater(last, first)

    # -- timestamps ----------------------------------------------------------

    def test_timestamps_keep_microseconds(self):
        stamps = iter([datetime.datetime(2012, 3, 1, 10, 0, 0, 123456),
                       datetime.datetime(2012, 3, 1, 10, 0, 1, 7),
                       datetime.datetime(2012, 3, 1, 10, 0, 2, 999999)])
        self.useFixture(fixtures.MonkeyPatch(
            'nova_aggregates.db.engine.now', lambda: next(stamps)))
        agg = self.manager.create_aggregate(self.ctx, 'a')
        self.assertEqual(datetime.datetime(2012, 3, 1, 10, 0, 0, 123456),
                         agg['created_at'])
        self.assertIsNone(agg['updated_at'])
        self.manager.set_metadata(self.ctx, agg['id'], {'k': 'v'})
        got = self.manager.get_aggregate(self.ctx, agg['id'])
        self.assertEqual(datetime.datetime(2012, 3, 1, 10, 0, 0, 123456),
                         got['created_at'])
        self.assertEqual(datetime.datetime(2012, 3, 1, 10, 0, 1, 7),
                         got['updated_at'])
        row, = self.rows(db_api.aggregates, id=agg['id'])
        self.assertEqual(7, row['updated_at'].microsecond)

    # -- statement counts ---------------------------------------------------

    def _populate(self, count, hosts_each, keys_each):
        names = ['h%03d' % i for i in range(hosts_each)]
        self.register(*[n for n in names if not self.rows(
            db_api.compute_hosts, name=n)])
        ids = []
        for i in range(count):
            agg = self.manager.create_aggregate(self.ctx, 'agg-%d-%d' % (
                count, i), 'az1')
            for name in names:
                self.manager.add_host(self.ctx, agg['id'], name)
            self.manager.set_metadata(self.ctx, agg['id'], {
                'key%d' % k: 'v' for k in range(keys_each)})
            ids.append(agg['id'])
        return ids

    def _count(self, fn, *args):
        fn(*args)  # warm: the pool has its connection
        with self.count_statements() as counter:
            fn(*args)
        return counter.count

    def test_statement_counts_do_not_grow(self):
        small = self._populate(1, 1, 1)
        list_small = self._count(self.manager.list_aggregates, self.ctx)
        show_small = self._count(self.manager.get_aggregate, self.ctx,
                                 small[0])
        hosts_small = self._count(self.hosts.list, self.ctx)
        big = self._populate(20, 6, 30)
        self.assertEqual(list_small, self._count(self.manager.list_aggregates,
                                                 self.ctx))
        self.assertEqual(show_small, self._count(self.manager.get_aggregate,
                                                 self.ctx, big[-1]))
        self.assertEqual(hosts_small, self._count(
            self.hosts.list, self.ctx))
        self.assertEqual(2, list_small)
        self.assertEqual(2, show_small)
        self.assertEqual(21, len(self.manager.list_aggregates(self.ctx)))

    def test_write_statement_counts_do_not_grow(self):
        small = self._populate(1, 1, 1)[0]
        big = self._populate(3, 6, 60)[0]
        self.register('extra')

        def cycle(aggregate_id):
            with self.count_statements() as counter:
                self.manager.set_metadata(self.ctx, aggregate_id,
                                          {'key0': 'w'})
                self.manager.add_host(self.ctx, aggregate_id, 'extra')
                self.manager.remove_host(self.ctx, aggregate_id, 'extra')
            return counter.count

        self.assertEqual(cycle(small), cycle(big))

    # -- rules ----------------------------------------------------------------

    def test_rules(self):
        self.register('node1', 'node2')
        one = self.manager.create_aggregate(self.ctx, 'one', 'az1')
        two = self.manager.create_aggregate(self.ctx, 'two', 'az2')
        plain = self.manager.create_aggregate(self.ctx, 'plain')
        self.manager.add_host(self.ctx, one['id'], 'node1')
        self.manager.add_host(self.ctx, plain['id'], 'node1')
        self.assertRaises(exception.HostZoneConflict, self.manager.add_host,
                          self.ctx, two['id'], 'node1')
        self.assertRaises(exception.InvalidZoneChange,
                          self.manager.set_metadata, self.ctx, plain['id'],
                          {'availability_zone': 'az2'})
        self.manager.set_metadata(self.ctx, plain['id'],
                                  {'availability_zone': 'az1', 'a': '1'})
        self.assertRaises(exception.InvalidZoneChange,
                          self.manager.update_aggregate, self.ctx, one['id'],
                          availability_zone='az2')
        got = self.manager.set_metadata(self.ctx, plain['id'],
                                        {'b': '2', 'a': None, 'zz': None})
        self.assertEqual({'availability_zone': 'az1', 'b': '2'},
                         got['metadata'])
        self.assertRaises(exception.InvalidAvailabilityZone,
                          self.manager.set_metadata, self.ctx, plain['id'],
                          {'availability_zone': None})
        self.assertRaises(exception.AggregateNotEmpty,
                          self.manager.delete_aggregate, self.ctx, one['id'])
        self.assertRaises(exception.ComputeHostInUse,
                          self.hosts.unregister, self.ctx,
                          'node1')

    def test_metadata_limit(self):
        agg = self.manager.create_aggregate(self.ctx, 'a')
        limit = self.conf_fixture.conf.api.max_aggregate_metadata_items
        self.manager.set_metadata(self.ctx, agg['id'], {
            'k%d' % i: 'v' for i in range(limit)})
        self.assertRaises(exception.TooManyMetadataItems,
                          self.manager.set_metadata, self.ctx, agg['id'],
                          {'one-more': 'v'})
        self.assertEqual(limit, len(self.rows(db_api.aggregate_metadata,
                                              aggregate_id=agg['id'])))


class APITests:
    """The whole paste pipeline on the backend: bodies serialize alike."""

    def setUp(self):
        super().setUp()
        self.use_service()
        self.app = deploy.loadapp('config:' + na_fixtures.PASTE_CONFIG,
                                  name='osapi_compute')
        service.get_services().compute_hosts.register(
            context.get_admin_context(), 'node1', 'az1')

    def call(self, method, path, body=None, expected=200, headers=None):
        req = webob.Request.blank(path, method=method, headers=dict(
            {'X-Auth-Token': 'admin:admin'}, **(headers or {})))
        if body is not None:
            req.body = json.dumps(body).encode()
            req.content_type = 'application/json'
        response = req.get_response(self.app)
        self.assertEqual(expected, response.status_int, response.body)
        return json.loads(response.body) if response.body else None

    def test_lifecycle_on_both_surfaces(self):
        created = self.call('POST', '/v2.1/os-aggregates', {
            'aggregate': {'name': 'Caf\u00e9 \U0001F600',
                          'availability_zone': 'az1'}})['aggregate']
        self.assertEqual('Caf\u00e9 \U0001F600', created['name'])
        self.assertRegex(created['created_at'],
                         r'^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}$')
        agg_id = created['id']
        self.call('POST', '/v2.1/os-aggregates', {
            'aggregate': {'name': 'caf\u00e9 \U0001F600'}})
        self.call('POST', '/v2.1/os-aggregates', {
            'aggregate': {'name': 'Caf\u00e9 \U0001F600'}}, expected=409)
        path = '/v2.1/os-aggregates/%d' % agg_id
        self.call('POST', path + '/action', {'add_host': {'host': 'node1'}})
        self.call('POST', path + '/action', {'add_host': {'host': 'Node1'}},
                  expected=404)
        shown = self.call('POST', path + '/action', {'set_metadata': {
            'metadata': {'K': 'v', 'k': 'V', 'k ': ' v'}}})['aggregate']
        self.assertEqual({'availability_zone': 'az1', 'K': 'v', 'k': 'V',
                          'k ': ' v'}, shown['metadata'])
        legacy = self.call('GET', '/v1.1/admin/os-aggregates/%d' % agg_id)
        self.assertEqual(['node1'], legacy['aggregate']['hosts'])
        self.assertEqual('active', legacy['aggregate']['operational_state'])
        latest = self.call('GET', path, headers={
            'OpenStack-API-Version': 'compute 2.41'})['aggregate']
        self.assertEqual(set(latest), {
            'id', 'uuid', 'name', 'availability_zone', 'created_at',
            'updated_at', 'deleted_at', 'deleted', 'hosts', 'metadata'})
        self.assertRegex(latest['updated_at'],
                         r'^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}$')
        listing = self.call('GET', '/v2.1/os-aggregates')['aggregates']
        self.assertEqual(2, len(listing))
        self.call('DELETE', path, expected=400)
        self.call('POST', path + '/action',
                  {'remove_host': {'host': 'node1'}})
        self.call('DELETE', path)
        self.call('GET', path, expected=404)
        hosts = self.call('GET', '/v2/admin/os-hosts')['hosts']
        self.assertEqual([{'host_name': 'node1', 'service': 'compute',
                           'zone': 'az1', 'status': 'enabled',
                           'maintenance_mode': 'off_maintenance'}], hosts)


class TestDbApiSQLite(DbApiTests, backends.ServiceDatabaseMixin,
                      backends.SQLiteTestCase):
    pass


class TestDbApiPostgreSQL(DbApiTests, backends.ServiceDatabaseMixin,
                          backends.PostgreSQLTestCase):
    pass


class TestDbApiMySQL(DbApiTests, backends.ServiceDatabaseMixin,
                     backends.MySQLTestCase):
    pass


class TestAPISQLite(APITests, backends.ServiceDatabaseMixin,
                    backends.SQLiteTestCase):
    pass


class TestAPIPostgreSQL(APITests, backends.ServiceDatabaseMixin,
                        backends.PostgreSQLTestCase):
    pass


class TestAPIMySQL(APITests, backends.ServiceDatabaseMixin,
                   backends.MySQLTestCase):
    pass
