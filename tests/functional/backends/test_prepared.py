"""db.prepared: statements run as the driver's SQL on the transaction's
connection give what Connection.execute gives, errors included, on every
backend."""

import datetime

from oslo_db import exception as db_exc
import sqlalchemy as sa

from nova_aggregates import context
from nova_aggregates.db import api as db
from nova_aggregates.db import prepared
from tests.functional import backends

HOSTS = db.compute_hosts
_INSERT = prepared.Prepared(HOSTS.insert())
_BY_NAME = prepared.Prepared(sa.select(
    HOSTS.c.name, HOSTS.c.zone, HOSTS.c.created_at, HOSTS.c.maintenance,
    sa.literal(7).label('seven')).where(
    HOSTS.c.name == sa.bindparam('host_name')))
_RENAME = prepared.Prepared(HOSTS.update().where(
    HOSTS.c.name == sa.bindparam('host_name')))


class PreparedTests:

    def setUp(self):
        super().setUp()
        self.use_service()
        self.engine = db.get_engine()

    def row(self, name):
        with self.engine.connect() as conn:
            return conn.execute(sa.select(
                HOSTS.c.name, HOSTS.c.zone, HOSTS.c.created_at,
                HOSTS.c.maintenance, sa.literal(7)).where(
                HOSTS.c.name == name)).one()

    def test_values_go_in_and_come_out_as_sqlalchemy_gives_them(self):
        created = datetime.datetime(2026, 12, 1, 10, 30, 0)
        with self.engine.begin() as conn:
            _INSERT.execute_many(conn, [
                {'name': name, 'zone': 'az1', 'status': 'enabled',
                 'maintenance': 'off', 'created_at': created}
                for name in ('h1', 'h2')])
            _INSERT.execute(conn, {
                'name': 'h3', 'zone': 'az2', 'status': 'enabled',
                'maintenance': 'on',
                'created_at': created.replace(microsecond=5)})
        for name in ('h1', 'h2', 'h3'):
            with self.engine.connect() as conn:
                rows = _BY_NAME.all(conn, {'host_name': name})
            self.assertEqual([tuple(self.row(name))], rows)
        self.assertEqual((created, 'off'), self.row('h1')[2:4])
        self.assertEqual((created.replace(microsecond=5), 'on'),
                         self.row('h3')[2:4])

    def test_an_update_names_the_columns_it_is_given(self):
        with self.engine.begin() as conn:
            _INSERT.execute(conn, {
                'name': 'h1', 'zone': 'az1', 'status': 'enabled',
                'maintenance': 'off',
                'created_at': datetime.datetime(2026, 1, 1)})
        with self.engine.begin() as conn:
            self.assertEqual(1, _RENAME.execute(conn, {
                'host_name': 'h1', 'zone': 'az9'}).rowcount)
            self.assertEqual(0, _RENAME.execute(conn, {
                'host_name': 'nope', 'zone': 'az9'}).rowcount)
            _RENAME.execute(conn, {'host_name': 'h1', 'status': 'disabled'})
        self.assertEqual('az9', self.row('h1')[1])
        with self.engine.connect() as conn:
            self.assertEqual('disabled', conn.execute(sa.select(
                HOSTS.c.status)).scalar())

    def test_errors_are_oslo_dbs_and_roll_back(self):
        values = {'name': 'h1', 'zone': 'az1', 'status': 'enabled',
                  'maintenance': 'off',
                  'created_at': datetime.datetime(2026, 1, 1)}
        with self.engine.begin() as conn:
            _INSERT.execute(conn, values)
        ctx = context.get_admin_context()

        @db.writer
        def twice(context):
            _RENAME.execute(context.connection, {'host_name': 'h1',
                                                 'zone': 'changed'})
            _INSERT.execute(context.connection, values)
        self.assertRaises(db_exc.DBDuplicateEntry, twice, ctx)
        # The whole transaction went.
        self.assertEqual('az1', self.row('h1')[1])


class TestPreparedSQLite(PreparedTests, backends.ServiceDatabaseMixin,
                         backends.SQLiteTestCase):
    pass


class TestPreparedPostgreSQL(PreparedTests, backends.ServiceDatabaseMixin,
                             backends.PostgreSQLTestCase):
    pass


class TestPreparedMySQL(PreparedTests, backends.ServiceDatabaseMixin,
                        backends.MySQLTestCase):
    pass
