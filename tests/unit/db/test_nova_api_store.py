"""The choice of aggregate store: the option, the binding of db.api's
names by ``configure``, and the nova_api store's declarations of Nova's
tables against Nova's schema (tests/support/nova_api_schema.py)."""

import datetime

import sqlalchemy as sa
from sqlalchemy.dialects import mysql
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects import sqlite
import testtools

from nova_aggregates.conf import database as db_conf
from nova_aggregates.db import aggregates as own_aggregates
from nova_aggregates.db import api as db_api
from nova_aggregates.db import engine
from nova_aggregates.db import nova_api
from nova_aggregates.db.nova_api import aggregates as nova_aggregates
from nova_aggregates.db.nova_api import models
from tests import fixtures as na_fixtures
from tests.support import nova_api_schema


class TestOption(testtools.TestCase):

    def test_choices_and_default(self):
        conf = self.useFixture(na_fixtures.ConfFixture()).conf
        self.assertEqual('own', conf.database.aggregate_store)
        self.assertEqual(['own', 'nova_api'], [
            choice for choice, _ in db_conf.aggregate_store.type.choices
            .items()])
        self.assertIn(db_conf.aggregate_store,
                      db_conf.list_opts()['database'])

    def test_an_unknown_store_is_refused(self):
        conf_fixture = self.useFixture(na_fixtures.ConfFixture())
        self.assertRaises(ValueError, conf_fixture.config,
                          aggregate_store='nova', group='database')


class TestDispatch(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.conf_fixture = self.useFixture(na_fixtures.ConfFixture())
        self.conf_fixture.config(connection='sqlite://', group='database')
        self.addCleanup(self._back_to_own)

    def _back_to_own(self):
        self.conf_fixture.config(aggregate_store='own', group='database')
        db_api.configure(self.conf_fixture.conf)
        db_api.dispose()

    def configure(self, store):
        self.conf_fixture.config(aggregate_store=store, group='database')
        db_api.configure(self.conf_fixture.conf)
        self.assertEqual(store, engine.store())

    def test_both_stores_answer_the_same_names(self):
        self.assertEqual(set(db_api._PER_STORE), set(nova_api.STORE))
        self.assertEqual(set(db_api._PER_STORE), set(db_api._OWN))

    def test_configure_binds_the_functions_of_the_store(self):
        self.configure('nova_api')
        for name in db_api._PER_STORE:
            self.assertIs(nova_api.STORE[name], getattr(db_api, name), name)
        self.assertIs(nova_aggregates.aggregate_get, db_api.aggregate_get)
        self.configure('own')
        for name in db_api._PER_STORE:
            self.assertIs(db_api._OWN[name], getattr(db_api, name), name)
        self.assertIs(own_aggregates.aggregate_get, db_api.aggregate_get)

    def test_dispose_goes_back_to_the_own_store(self):
        # What migration.db_sync(engine) of a later own-store test uses.
        self.configure('nova_api')
        db_api.dispose()
        self.assertEqual('own', engine.store())
        self.assertIs(own_aggregates.aggregate_get, db_api.aggregate_get)

    def test_functions_keep_their_signatures(self):
        import inspect
        for name in db_api._PER_STORE:
            own, other = db_api._OWN[name], nova_api.STORE[name]
            if callable(own) and not isinstance(own, sa.Table):
                self.assertEqual(inspect.signature(own),
                                 inspect.signature(other), name)

    def test_aggregates_have_the_same_keys(self):
        self.assertEqual(own_aggregates._KEYS, nova_aggregates._KEYS)


class TestNovaSchema(testtools.TestCase):
    """The store's declarations of Nova's tables are Nova's."""

    def _shape(self, table, dialect):
        columns = [(c.name, str(c.type.compile(dialect=dialect)), c.nullable,
                    c.primary_key,
                    sorted(fk.target_fullname for fk in c.foreign_keys))
                   for c in table.columns]
        uniques = sorted((c.name, tuple(c.columns.keys()))
                         for c in table.constraints
                         if isinstance(c, sa.UniqueConstraint))
        indexes = sorted((i.name, tuple(i.columns.keys()), i.unique)
                         for i in table.indexes)
        return columns, uniques, indexes, table.kwargs

    def test_tables_match_novas_migration(self):
        for dialect in (sqlite.dialect(), postgresql.dialect(),
                        mysql.dialect()):
            for name in ('aggregates', 'aggregate_hosts',
                         'aggregate_metadata'):
                self.assertEqual(
                    self._shape(nova_api_schema.TABLES[name], dialect),
                    self._shape(models.NOVA.tables[name], dialect), name)

    def test_our_tables_do_not_clash_with_novas(self):
        self.assertEqual(set(), set(models.OURS.tables) & set(
            nova_api_schema.TABLES))
        self.assertNotIn(models.VERSION_TABLE, nova_api_schema.TABLES)
        # Foreign keys only between our own tables, never onto Nova's.
        self.assertEqual([], [fk for table in models.OURS.tables.values()
                              for fk in table.foreign_keys
                              if fk.column.table.name not in
                              models.OURS.tables])
        self.assertEqual(3, len([fk for table in models.OURS.tables.values()
                                 for fk in table.foreign_keys]))

    def test_nova_times_keep_whole_seconds_on_mysql(self):
        stamp = datetime.datetime(2012, 3, 1, 10, 0, 0, 999999)
        self.assertEqual(stamp.replace(microsecond=0),
                         models.stored_time(mysql.dialect(), stamp))
        for dialect in (sqlite.dialect(), postgresql.dialect()):
            self.assertEqual(stamp, models.stored_time(dialect, stamp))
        self.assertIsNone(models.stored_time(mysql.dialect(), None))
