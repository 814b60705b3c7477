"""Alembic migrations on SQLite, PostgreSQL and MySQL/MariaDB: upgrade from
an empty database, step by step and at once, and the models match what the
migrations build (oslo.db's ModelsMigrationsSync)."""

import datetime

from alembic import config as alembic_config
from alembic import script as alembic_script
from oslo_db.sqlalchemy import test_migrations
import sqlalchemy as sa

from nova_aggregates.db import migration
from nova_aggregates.db import models
from tests.functional import backends

TABLES = {'aggregates', 'aggregate_hosts', 'aggregate_metadata',
          'compute_hosts', 'guest_origins', 'rolling_maintenance_tasks',
          'rolling_maintenance_hosts', 'placement_mirror_steps',
          'aggregate_changes',
          # TaskFlow's persistence tables (db/migrations/rolling_maintenance)
          'logbooks', 'flowdetails', 'atomdetails'}
EXACT_COLUMNS = (('compute_hosts', 'name'), ('guest_origins', 'origin'),
                 ('placement_mirror_steps', 'host'),
                 ('aggregates', 'name'),
                 ('aggregates', 'pending_host'), ('aggregate_hosts', 'host'),
                 ('aggregate_metadata', 'key'),
                 ('aggregate_metadata', 'value'))


def revisions():
    """Every revision, oldest first."""
    config = alembic_config.Config()
    config.set_main_option('script_location', migration._MIGRATIONS_DIR)
    scripts = alembic_script.ScriptDirectory.from_config(config)
    return [rev.revision for rev in reversed(list(scripts.walk_revisions()))]


class MigrationTests:

    def setUp(self):
        super().setUp()
        self.engine = self.database.engine()

    def tables(self):
        return set(sa.inspect(self.engine).get_table_names()) - {
            'alembic_version'}

    def test_revisions_form_one_line(self):
        revs = revisions()
        self.assertEqual('0001', revs[0])
        self.assertEqual(len(revs), len(set(revs)))
        self.assertEqual(sorted(revs), revs)

    def test_upgrade_from_empty_to_head(self):
        self.assertEqual(set(), self.tables())
        self.assertIsNone(migration.db_version(self.engine))
        migration.db_sync(self.engine)
        self.assertEqual(TABLES, self.tables())
        self.assertEqual(revisions()[-1], migration.db_version(self.engine))
        # Again: nothing to do, nothing fails.
        migration.db_sync(self.engine)
        self.assertEqual(revisions()[-1], migration.db_version(self.engine))

    def test_upgrade_one_revision_at_a_time_keeps_data(self):
        revs = revisions()
        migration.db_sync(self.engine, revs[0])
        self.assertEqual(revs[0], migration.db_version(self.engine))
        now = datetime.datetime(2012, 3, 1, 10, 0, 0, 123456)
        hosts = sa.table('compute_hosts', sa.column('name'),
                         sa.column('generation'),
                         sa.column('created_at', sa.DateTime))
        aggs = sa.table('aggregates', sa.column('id'), sa.column('uuid'),
                        sa.column('name'), sa.column('operational_state'),
                        sa.column('created_at', sa.DateTime))
        members = sa.table('aggregate_hosts', sa.column('aggregate_id'),
                           sa.column('host'),
                           sa.column('created_at', sa.DateTime))
        meta = sa.table('aggregate_metadata', sa.column('aggregate_id'),
                        sa.column('key'), sa.column('value'))
        with self.engine.begin() as conn:
            conn.execute(hosts.insert(), [
                {'name': n, 'generation': 0, 'created_at': now}
                for n in ('node1', 'Node1')])
            conn.execute(aggs.insert().values(
                uuid='u1', name='Web', operational_state='active',
                created_at=now))
            agg_id = conn.execute(sa.select(aggs.c.id)).scalar_one()
            conn.execute(members.insert().values(
                aggregate_id=agg_id, host='Node1', created_at=now))
            conn.execute(meta.insert().values(aggregate_id=agg_id, key='k',
                                              value='v'))
        for rev in revs[1:]:
            migration.db_sync(self.engine, rev)
            self.assertEqual(rev, migration.db_version(self.engine))
        with self.engine.connect() as conn:
            self.assertEqual(['Node1', 'node1'], sorted(conn.execute(
                sa.select(hosts.c.name)).scalars()))
            self.assertEqual([(agg_id, 'Node1')], [tuple(r) for r in (
                conn.execute(sa.select(members.c.aggregate_id,
                                       members.c.host)))])
            self.assertEqual([('k', 'v')], [tuple(r) for r in conn.execute(
                sa.select(meta.c.key, meta.c.value))])
            self.assertEqual(now, conn.execute(
                sa.select(aggs.c.created_at)).scalar())
            # 0008: an existing aggregate starts at generation 1, the
            # change counter at 1.
            self.assertEqual(1, conn.execute(sa.text(
                'SELECT generation FROM aggregates')).scalar_one())
            self.assertEqual([(1, 1)], [tuple(r) for r in conn.execute(
                sa.text('SELECT id, counter FROM aggregate_changes'))])
        # The foreign key still holds after the upgrade.
        with self.engine.connect() as conn:
            if self.BACKEND == backends.SQLITE:
                conn.exec_driver_sql('PRAGMA foreign_keys = ON')
            self.assertRaises(sa.exc.IntegrityError, conn.execute,
                              members.insert().values(
                                  aggregate_id=agg_id, host='NODE1',
                                  created_at=now))


class ModelsMigrationsSync(test_migrations.ModelsMigrationsSync):
    """oslo.db's check: alembic's autogenerate finds nothing to do after
    the migrations ran."""

    def setUp(self):
        super().setUp()
        self.engine = self.database.engine()

    def db_sync(self, engine):
        migration.db_sync(engine)

    def get_engine(self):
        return self.engine

    def get_metadata(self):
        return models.Base.metadata

    def include_object(self, object_, name, type_, reflected, compare_to):
        if type_ == 'unique_constraint' and object_.table.name in (
                'logbooks', 'flowdetails', 'atomdetails'):
            # TaskFlow declares its uuid keys unique as well as primary:
            # PostgreSQL keeps the key alone, which is the same constraint.
            return False
        return not (type_ == 'table' and name == 'alembic_version')


class TestMigrationsSQLite(MigrationTests, backends.SQLiteTestCase):
    pass


class TestMigrationsPostgreSQL(MigrationTests, backends.PostgreSQLTestCase):
    pass


class TestMigrationsMySQL(MigrationTests, backends.MySQLTestCase):

    def test_columns_compare_exactly(self):
        migration.db_sync(self.engine)
        expected = models.exact_collation(self.engine.dialect)
        with self.engine.connect() as conn:
            rows = conn.execute(sa.text(
                'SELECT table_name, column_name, collation_name FROM '
                'information_schema.columns WHERE table_schema = DATABASE()'
            )).all()
        collations = {(t, c): coll for t, c, coll in rows}
        for column in EXACT_COLUMNS:
            self.assertEqual(expected, collations[column], column)


class TestModelsMigrationsSyncSQLite(ModelsMigrationsSync,
                                     backends.SQLiteTestCase):
    pass


class TestModelsMigrationsSyncPostgreSQL(ModelsMigrationsSync,
                                         backends.PostgreSQLTestCase):
    pass


class TestModelsMigrationsSyncMySQL(ModelsMigrationsSync,
                                    backends.MySQLTestCase):
    pass
