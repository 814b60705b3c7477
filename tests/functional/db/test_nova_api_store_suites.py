"""The existing suites of the database layer and of the AggregateManager's
rules, run again on the nova_api store: each class here is one of theirs
whose database (``DatabaseFixture``, the own store) is replaced by Nova's
tables with the nova_api store (``NovaAPIDatabaseFixture``).  What differs
because of Nova's schema is overridden, and says why.

SQLite for all of them; the suites of tests/functional/backends that hold
on Nova's schema also on PostgreSQL (exact comparison, microseconds and
ids that are never handed out again hold there as in the own store).
"""

import sqlalchemy as sa

from nova_aggregates.db import api as db
from tests.functional.aggregates import test_compute_hosts
from tests.functional.aggregates import test_manager
from tests.functional.aggregates import test_recovery
from tests.functional import backends
from tests.functional.backends import test_db_api as backend_suites
from tests.functional.db import test_api
from tests.functional.db import test_nova_api_store
from tests import fixtures as na_fixtures


class OnNovaAPIStore:
    """Mixed in first: the suite's database is Nova's, on the nova_api
    store."""

    def useFixture(self, fixture):
        if type(fixture) is na_fixtures.DatabaseFixture:
            fixture = test_nova_api_store.NovaAPIDatabaseFixture(
                fixture.conf_fixture, fixture.connection)
        return super().useFixture(fixture)


# -- the AggregateManager's rules ---------------------------------------------

class TestZoneRule(OnNovaAPIStore, test_manager.TestZoneRule):
    pass


class TestMembership(OnNovaAPIStore, test_manager.TestMembership):
    pass


class TestDelete(OnNovaAPIStore, test_manager.TestDelete):
    pass


class TestMetadata(OnNovaAPIStore, test_manager.TestMetadata):
    pass


class TestUpdatedAt(OnNovaAPIStore, test_manager.TestUpdatedAt):
    pass


class TestRaces(OnNovaAPIStore, test_manager.TestRaces):
    pass


class TestReconcile(OnNovaAPIStore, test_recovery.TestReconcile):
    pass


class TestComputeHosts(OnNovaAPIStore, test_compute_hosts.TestComputeHosts):
    pass


# -- db.api ---------------------------------------------------------------------

class TestStatementCounts(OnNovaAPIStore, test_api.TestStatementCounts):
    pass


class TestUniqueness(OnNovaAPIStore, test_api.TestUniqueness):
    pass


class TestCaseSensitivity(OnNovaAPIStore, test_api.TestCaseSensitivity):
    pass


class TestTimestamps(OnNovaAPIStore, test_api.TestTimestamps):
    pass


class TestDeletes(OnNovaAPIStore, test_api.TestDeletes):

    def test_ids_are_never_reused(self):
        # Nova's aggregates.id is a plain INTEGER PRIMARY KEY: SQLite hands
        # out the id of the last deleted aggregate again.  The new
        # aggregate does not inherit anything of the old one.
        first = db.aggregate_create(self.context, 'a')
        db.aggregate_update(self.context, first['id'],
                            operational_state='error', last_error='old')
        db.aggregate_delete(self.context, first['id'])
        second = db.aggregate_create(self.context, 'a')
        self.assertEqual(first['id'], second['id'])
        got = db.aggregate_get(self.context, second['id'])
        self.assertEqual(('created', None), (got['operational_state'],
                                             got['last_error']))

    def test_hard_delete_frees_the_name_with_no_stale_metadata(self):
        # As the own store's, but the id may come back (see above).
        agg = db.aggregate_create(self.context, 'agg1',
                                  {'availability_zone': 'az1', 'k': 'v'})
        db.aggregate_delete(self.context, agg['id'])
        self.assertEqual([], self.rows('aggregates'))
        self.assertEqual([], self.rows('aggregate_metadata'))
        self.assertEqual([], self.rows('nova_aggregates_aggregate_state'))
        again = db.aggregate_create(self.context, 'agg1')
        self.assertEqual(({}, [], None), (again['metadata'], again['hosts'],
                                          again['updated_at']))
        self.assertNotEqual(agg['uuid'], again['uuid'])

    def test_hosts_go_with_the_aggregate(self):
        # Nova's foreign keys do not cascade: the store deletes the hosts.
        test_api._populate(self.context, 0, 2)
        db.aggregate_delete(self.context, 1)
        with self.db.engine.connect() as conn:
            for table in ('aggregate_hosts', 'aggregate_metadata'):
                self.assertEqual({2}, set(conn.execute(sa.text(
                    'SELECT aggregate_id FROM %s' % table)).scalars()))


# -- the backends suites --------------------------------------------------------

class NovaAPIDbApiTests(OnNovaAPIStore, backend_suites.DbApiTests):

    def test_ids_are_not_reused(self):
        if self.BACKEND == backends.SQLITE:
            self.skipTest("SQLite reuses the ids of Nova's aggregates "
                          '(TestDeletes.test_ids_are_never_reused)')
        super().test_ids_are_not_reused()


class TestDbApiSQLite(NovaAPIDbApiTests, backends.ServiceDatabaseMixin,
                      backends.SQLiteTestCase):

    def test_hard_delete_frees_the_name_and_leaves_nothing(self):
        self.skipTest("SQLite reuses the ids of Nova's aggregates "
                      '(TestDeletes.test_ids_are_never_reused)')


class TestDbApiPostgreSQL(NovaAPIDbApiTests, backends.ServiceDatabaseMixin,
                          backends.PostgreSQLTestCase):
    pass


class TestAPISQLite(OnNovaAPIStore, backend_suites.APITests,
                    backends.ServiceDatabaseMixin, backends.SQLiteTestCase):
    pass


class TestAPIPostgreSQL(OnNovaAPIStore, backend_suites.APITests,
                        backends.ServiceDatabaseMixin,
                        backends.PostgreSQLTestCase):
    pass
