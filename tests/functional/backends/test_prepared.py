"""db.prepared: statements run as the driver's SQL on the transaction's
connection give what Connection.execute gives, errors included, on every
backend."""

import datetime
from unittest import mock

from oslo_db import exception as db_exc
import sqlalchemy as sa

from nova_aggregates import context
from nova_aggregates import exception
from nova_aggregates.db import aggregate_metadata
from nova_aggregates.db import api as db
from nova_aggregates.db import direct
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

    def insert_host(self, name):
        """Insert host ``name`` (prepared, in its own transaction); the
        values inserted."""
        values = {'name': name, 'zone': 'az1', 'status': 'enabled',
                  'maintenance': 'off',
                  'created_at': datetime.datetime(2026, 1, 1)}
        with self.engine.begin() as conn:
            _INSERT.execute(conn, values)
        return values

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
        self.insert_host('h1')
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
        values = self.insert_host('h1')
        ctx = context.get_admin_context()

        @db.writer
        def twice(context):
            _RENAME.execute(context.connection, {'host_name': 'h1',
                                                 'zone': 'changed'})
            _INSERT.execute(context.connection, values)
        self.assertRaises(db_exc.DBDuplicateEntry, twice, ctx)
        # The whole transaction went.
        self.assertEqual('az1', self.row('h1')[1])

    def test_metadata_keys_are_dropped_by_count_and_past_the_prepared(self):
        ctx = context.get_admin_context()
        many = aggregate_metadata.PREPARED_KEYS + 6
        keys = ['k%02d' % n for n in range(many)]
        mine = db.aggregate_create(ctx, 'mine', {k: 'v' for k in keys})
        other = db.aggregate_create(ctx, 'other', {k: 'o' for k in keys})
        # One key, then three (each number of keys its own statement), then
        # all but two of them (past the prepared ones: an expanding IN).
        db.aggregate_metadata_update(ctx, mine['id'], {'k00': 'new'})
        db.aggregate_metadata_update(ctx, mine['id'], {}, keys[1:4])
        self.assertEqual(dict({k: 'v' for k in keys[4:]}, k00='new'),
                         db.aggregate_get(ctx, mine['id'])['metadata'])
        db.aggregate_metadata_update(ctx, mine['id'], {'k00': 'last'},
                                     keys[1:-1])
        self.assertEqual({'k00': 'last', keys[-1]: 'v'},
                         db.aggregate_get(ctx, mine['id'])['metadata'])
        # The other aggregate's keys of the same names stay.
        self.assertEqual({k: 'o' for k in keys},
                         db.aggregate_get(ctx, other['id'])['metadata'])

    def test_an_update_to_the_same_values_counts_its_row(self):
        # MySQL counts changed rows unless the client asks for matched ones
        # (SQLAlchemy's FOUND_ROWS): a rename to the same name must not
        # read as "no such aggregate".
        self.insert_host('h1')
        with self.engine.begin() as conn:
            self.assertEqual(1, _RENAME.execute(conn, {
                'host_name': 'h1', 'zone': 'az1'}).rowcount)

    def test_values_with_nothing_to_add_or_convert_go_as_given(self):
        by_name = prepared.Prepared(sa.select(HOSTS.c.zone).where(
            HOSTS.c.name == sa.bindparam('host_name')))
        dialect = self.engine.dialect
        self.assertTrue(by_name._for(dialect, ('host_name',)).as_given)
        # A constant of the statement (the literal 7) is a value to add.
        self.assertFalse(_BY_NAME._for(dialect, ('host_name',)).as_given)
        self.insert_host('h1')
        self.insert_host('h2')
        with self.engine.connect() as conn:
            self.assertEqual([('az1',)], by_name.all(conn, {
                'host_name': 'h2'}))
            self.assertEqual([], by_name.all(conn, {'host_name': 'h3'}))
            self.assertEqual(['h2'], [row[0] for row in _BY_NAME.all(
                conn, {'host_name': 'h2'})])
            self.assertEqual(7, _BY_NAME.all(conn, {'host_name': 'h2'})[0][4])
        with self.engine.begin() as conn:
            self.assertEqual(1, _RENAME.execute(conn, {
                'host_name': 'h2', 'zone': 'az2'}).rowcount)
        self.assertEqual('az2', self.row('h2')[1])
        self.assertEqual('az1', self.row('h1')[1])

    def test_statements_run_on_the_driver_unless_watched(self):
        self.insert_host('h1')
        with self.engine.begin() as conn:
            # Nothing listens: SQLAlchemy's execution path is not used.
            with mock.patch.object(conn, 'exec_driver_sql',
                                   side_effect=AssertionError('used')):
                self.assertEqual(1, len(_BY_NAME.all(
                    conn, {'host_name': 'h1'})))
                _RENAME.execute(conn, {'host_name': 'h1', 'zone': 'az2'})
        seen = []
        listener = lambda conn, cursor, sql, *args: seen.append(sql)  # noqa
        sa.event.listen(self.engine, 'after_cursor_execute', listener)
        self.addCleanup(sa.event.remove, self.engine, 'after_cursor_execute',
                        listener)
        with self.engine.begin() as conn:
            rows = _BY_NAME.all(conn, {'host_name': 'h1'})
            _RENAME.execute(conn, {'host_name': 'h1', 'zone': 'az3'})
        # Watched, they are told each statement, and the answers are alike.
        self.assertEqual('az2', rows[0][1])
        self.assertEqual(2, len([sql for sql in seen
                                 if 'compute_hosts' in sql]), seen)
        self.assertEqual('az3', self.row('h1')[1])

    def test_one_host_is_read_as_among_many(self):
        # lock_hosts and host_aggregates have statements of their own for
        # one host (no expanding IN): they give what the general ones do.
        ctx = context.get_admin_context()
        for name, zone in (('h1', 'az1'), ('h2', 'az2'), ('h3', 'az1')):
            db.compute_host_create(ctx, name, zone)
        zoned = db.aggregate_create(ctx, 'zoned', {
            'availability_zone': 'az1', 'hypervisor_pool': 'true'})
        plain = db.aggregate_create(ctx, 'plain')
        db.aggregate_host_add(ctx, zoned['id'], 'h1')
        db.aggregate_host_add(ctx, plain['id'], 'h1')
        # h3 is being added to a pool by an operation in flight.
        db.aggregate_update(ctx, plain['id'], pending_host='h3',
                            operational_state='changing')

        @db.writer
        def locked(context, names):
            return db.lock_hosts(context, names)
        every = locked(ctx, ['h1', 'h2', 'h3'])
        memberships = db.host_aggregates(ctx, ['h1', 'h2', 'h3'])
        for name in ('h1', 'h2', 'h3'):
            self.assertEqual({name: every[name]}, locked(ctx, [name]))
            self.assertEqual({name: memberships[name]},
                             db.host_aggregates(ctx, [name]))
        self.assertEqual(
            [{'id': zoned['id'], 'name': 'zoned', 'availability_zone': 'az1',
              'hypervisor_pool': True},
             {'id': plain['id'], 'name': 'plain', 'availability_zone': None,
              'hypervisor_pool': False}], memberships['h1'])
        self.assertEqual([plain['id']], [a['id'] for a in memberships['h3']])
        self.assertEqual([], memberships['h2'])
        self.assertEqual('az2', every['h2']['zone'])
        self.assertRaises(exception.ComputeHostNotFound, locked, ctx,
                          ['nope'])

    #: SQL that ends the session of the connection whose id the first
    #: statement selects (None where there is no server: SQLite).
    KILL = None

    def test_a_lost_connection_is_oslo_dbs_error_and_replaced(self):
        if not self.KILL:
            self.skipTest('no server connection to lose')
        select_id, kill = self.KILL
        self.insert_host('h1')
        with self.engine.connect() as conn:
            session = conn.exec_driver_sql(select_id).scalar()
            with self.engine.connect() as other:
                other.exec_driver_sql(kill % session)
                other.commit()
            self.assertRaises(db_exc.DBConnectionError, _BY_NAME.all,
                              conn, {'host_name': 'h1'})
            self.assertTrue(conn.invalidated)
        # The pool gives a working connection again.
        with self.engine.begin() as conn:
            self.assertEqual(1, len(_BY_NAME.all(conn, {'host_name': 'h1'})))

    #: SQL that takes an exclusive lock on compute_hosts within a second, or
    #: fails: None where a direct read holds no transaction (SQLite).
    EXCLUSIVE_LOCK = None

    def test_a_direct_read_ends_its_transaction_itself(self):
        self.insert_host('h1')
        rollbacks = []
        dialect = self.engine.dialect
        do_rollback = dialect.do_rollback
        self.addCleanup(setattr, dialect, 'do_rollback', do_rollback)
        dialect.do_rollback = lambda conn: (rollbacks.append(conn),
                                            do_rollback(conn))
        rows = direct.fetch((_BY_NAME, {'host_name': 'h1'}))
        # As the driver returns them (no result processors: SQLite's
        # datetime is text).
        self.assertEqual([[('h1', 'az1', 'off', 7)]], [
            [(row[0], row[1], row[3], row[4]) for row in result]
            for result in rows])
        # The pool was not left to roll the read back on its return (where
        # a server gone since would be an error logged with a traceback).
        self.assertEqual([], rollbacks)
        if self.EXCLUSIVE_LOCK:
            # Nor is the read's transaction still open, holding its lock.
            with self.engine.connect() as other:
                for sql in self.EXCLUSIVE_LOCK:
                    other.exec_driver_sql(sql)
                other.rollback()


class TestPreparedSQLite(PreparedTests, backends.ServiceDatabaseMixin,
                         backends.SQLiteTestCase):
    pass


class TestPreparedPostgreSQL(PreparedTests, backends.ServiceDatabaseMixin,
                             backends.PostgreSQLTestCase):
    KILL = ('SELECT pg_backend_pid()', 'SELECT pg_terminate_backend(%d)')
    EXCLUSIVE_LOCK = ("SET lock_timeout = '1s'",
                      'LOCK TABLE compute_hosts IN ACCESS EXCLUSIVE MODE')


class TestPreparedMySQL(PreparedTests, backends.ServiceDatabaseMixin,
                        backends.MySQLTestCase):
    KILL = ('SELECT CONNECTION_ID()', 'KILL %d')
    EXCLUSIVE_LOCK = ('SET SESSION lock_wait_timeout = 1',
                      'LOCK TABLES compute_hosts WRITE', 'UNLOCK TABLES')
