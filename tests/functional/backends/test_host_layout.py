"""What host matching reads (``db.host_layout_get``) and what it answers,
alike on SQLite, PostgreSQL and MySQL/MariaDB, in the own store and in
Nova's tables (the nova_api store): the same statements, names, keys and
values exactly as stored; the own store's version, and the aggregates left
unread while it holds."""

from nova_aggregates import context
from nova_aggregates.db import api as db_api
from nova_aggregates import service
from tests.functional import backends
from tests.functional.db import test_nova_api_store_suites as nova_suites

NAMES = ('rack', 'Rack', 'r\u00e4ck')


class HostLayoutTests:

    def setUp(self):
        super().setUp()
        self.use_service()
        self.conf_fixture.config(
            enabled_filters=['AggregateInstanceExtraSpecsFilter'],
            group='filter_scheduler')
        self.ctx = context.get_admin_context()
        services = service.get_services()
        for name in NAMES:
            services.compute_hosts.register(self.ctx, name, 'az9')
        self.manager = services.aggregates
        self.matching = services.host_matching
        self.gpu = self.manager.create_aggregate(self.ctx, 'gpu', 'az1')['id']
        self.manager.set_metadata(self.ctx, self.gpu, {'gpu': 'true',
                                                       'GPU': 'false'})
        self.manager.add_host(self.ctx, self.gpu, 'Rack')
        self.empty = self.manager.create_aggregate(self.ctx, 'empty')['id']

    #: Whether the store has a version of its aggregates (Nova's tables
    #: have none of ours).
    VERSIONED = True

    def test_layout(self):
        with self.count_statements() as counter:
            version, hosts, aggregates = db_api.host_layout_get(self.ctx)
        self.assertEqual(3 if self.VERSIONED else 2, counter.count)
        self.assertEqual(self.VERSIONED, version is not None)
        self.assertEqual(sorted(NAMES), sorted(row[0] for row in hosts))
        self.assertEqual({('az9', 'enabled', None, 'off_maintenance', None)},
                         {tuple(row[1:]) for row in hosts})
        self.assertEqual([
            {'id': self.gpu, 'name': 'gpu', 'hosts': ['Rack'],
             'metadata': {'availability_zone': 'az1', 'gpu': 'true',
                          'GPU': 'false'}},
            {'id': self.empty, 'name': 'empty', 'hosts': [], 'metadata': {}},
        ], aggregates)

    def test_known_version(self):
        version, hosts, aggregates = db_api.host_layout_get(self.ctx)
        with self.count_statements() as counter:
            again = db_api.host_layout_get(self.ctx, version)
        self.assertEqual(2, counter.count)
        if self.VERSIONED:
            # Unchanged: the version and the hosts, the aggregates unread.
            self.assertEqual((version, hosts, None), again)
        else:
            self.assertEqual((None, hosts, aggregates), again)
        self.manager.set_metadata(self.ctx, self.empty, {'k': 'v'})
        changed, _, aggregates = db_api.host_layout_get(self.ctx, version)
        self.assertEqual(self.VERSIONED, changed != version)
        self.assertEqual({'k': 'v'}, aggregates[1]['metadata'])

    def test_match(self):
        result = self.matching.match(self.ctx, flavor={'extra_specs': {
            'gpu': 'true'}}, availability_zone='az1')
        self.assertEqual([('Rack', 'az1', (self.gpu,))],
                         [tuple(m) for m in result.hosts])
        self.assertEqual(
            sorted(set(NAMES) - {'Rack'}),
            [r.host for r in result.rejected])
        self.assertEqual({'AvailabilityZoneFilter'},
                         {r.filter for r in result.rejected})
        result = self.matching.match(self.ctx, flavor={'extra_specs': {
            'GPU': 'true'}})
        self.assertEqual([], result.hosts)


class TestSQLite(HostLayoutTests, backends.ServiceDatabaseMixin,
                 backends.SQLiteTestCase):
    pass


class TestPostgreSQL(HostLayoutTests, backends.ServiceDatabaseMixin,
                     backends.PostgreSQLTestCase):
    pass


class TestMySQL(HostLayoutTests, backends.ServiceDatabaseMixin,
                backends.MySQLTestCase):
    pass


class TestNovaAPISQLite(nova_suites.OnNovaAPIStore, HostLayoutTests,
                        backends.ServiceDatabaseMixin,
                        backends.SQLiteTestCase):
    VERSIONED = False


class TestNovaAPIPostgreSQL(nova_suites.OnNovaAPIStore, HostLayoutTests,
                            backends.ServiceDatabaseMixin,
                            backends.PostgreSQLTestCase):
    VERSIONED = False
