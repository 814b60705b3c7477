"""db.engine on file-based SQLite: pooled connections with oslo.db's set-up
and ours, none shared with a forked child, transactions begun on the
driver; and db.direct's reads."""

import os
import threading
from unittest import mock

import sqlalchemy as sa

from nova_aggregates import context
from nova_aggregates.db import api as db
from nova_aggregates.db import direct
from nova_aggregates.db import prepared
from nova_aggregates import exception
from tests import base


def in_forked_child(check):
    """Whether ``check()`` returns true in a forked child process."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through the pipe
        try:
            os.write(write, b'1' if check() else b'0')
        finally:
            os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    try:
        return os.read(read, 1) == b'1'
    finally:
        os.close(read)


class TestSQLiteEngine(base.TestCase):

    def setUp(self):
        super().setUp()
        self.engine = db.get_engine()

    def pragmas(self):
        with self.engine.connect() as conn:
            return tuple(conn.exec_driver_sql('PRAGMA %s' % name).scalar()
                         for name in ('foreign_keys', 'journal_mode',
                                      'busy_timeout', 'synchronous'))

    def test_connections_are_pooled_and_set_up_once(self):
        self.assertIsInstance(self.engine.pool, sa.pool.QueuePool)
        connects = []
        sa.event.listen(self.engine, 'connect',
                        lambda *args: connects.append(args))
        self.engine.pool.dispose()
        for _ in range(3):
            # oslo.db's foreign keys; WAL, a busy timeout and NORMAL ours.
            self.assertEqual((1, 'wal', 30000, 1), self.pragmas())
        self.assertEqual(1, len(connects))

    def test_a_forked_child_opens_its_own_connections(self):
        with self.engine.connect() as conn:
            parent_connection = conn.connection.dbapi_connection

        def fresh():
            with self.engine.connect() as conn:
                conn.exec_driver_sql('SELECT 1')
                return conn.connection.dbapi_connection is not \
                    parent_connection
        self.assertTrue(in_forked_child(fresh))
        with self.engine.connect() as conn:
            self.assertIs(parent_connection,
                          conn.connection.dbapi_connection)

    def test_a_transaction_begins_on_the_driver(self):
        statements = []
        sa.event.listen(self.engine, 'before_cursor_execute',
                        lambda conn, cursor, sql, *args: statements.append(
                            sql))
        with self.engine.begin() as conn:
            conn.exec_driver_sql(
                "INSERT INTO compute_hosts (name, zone, status, maintenance, "
                "created_at) VALUES ('h', 'az', 'enabled', 0, "
                "'2026-01-01 00:00:00')")
            # Another connection does not see it before the commit...
            with self.engine.connect() as other:
                self.assertEqual(0, other.exec_driver_sql(
                    "SELECT count(*) FROM compute_hosts").scalar())
        # ...and after it does.
        with self.engine.connect() as other:
            self.assertEqual(1, other.exec_driver_sql(
                "SELECT count(*) FROM compute_hosts").scalar())
        # The BEGINs went to the driver, not through SQLAlchemy (which is
        # what oslo.db's own listener, now removed, would have done).
        self.assertNotIn('BEGIN', statements)
        self.assertNotIn('_sqlite_emit_begin', [
            getattr(fn, '__name__', None)
            for fn in self.engine.dispatch.begin])
        with self.engine.begin() as conn:
            conn.exec_driver_sql("DELETE FROM compute_hosts")
            conn.rollback()
        with self.engine.connect() as other:
            self.assertEqual(1, other.exec_driver_sql(
                "SELECT count(*) FROM compute_hosts").scalar())


class TestDirectReads(base.TestCase):
    """db.direct: one-statement reads on a DBAPI connection, outside the
    enginefacade; on file SQLite, each thread's own connection."""

    COUNT = prepared.Prepared(sa.select(sa.func.count()).select_from(
        db.compute_hosts))
    BY_NAME = prepared.Prepared(sa.select(db.compute_hosts.c.zone).where(
        db.compute_hosts.c.name == sa.bindparam('name')))

    def add_host(self, name):
        ctx = context.get_admin_context()
        with db.writer.using(ctx):
            db.compute_host_create(ctx, name, 'az1')

    def test_reads_see_what_was_committed_since(self):
        self.assertEqual([[(0,)]], direct.fetch((self.COUNT, None)))
        self.add_host('h1')
        self.assertEqual([[(1,)], [('az1',)], []], direct.fetch(
            (self.COUNT, None), (self.BY_NAME, {'name': 'h1'}),
            (self.BY_NAME, {'name': 'h2'})))

    def test_a_thread_keeps_its_connection_and_threads_have_their_own(self):
        def connection():
            direct.fetch((self.COUNT, None))
            return direct._own.connection[2]
        first = connection()
        self.assertIs(first, connection())
        other = []
        thread = threading.Thread(target=lambda: other.append(connection()))
        thread.start()
        thread.join()
        self.assertIsNot(first, other[0])

    def test_a_forked_child_takes_another_connection(self):
        direct.fetch((self.COUNT, None))
        first = direct._own.connection[2]

        def fresh():
            rows = direct.fetch((self.COUNT, None))
            return direct._own.connection[2] is not first and \
                rows == [[(0,)]]
        self.assertTrue(in_forked_child(fresh))
        # The parent's thread keeps its own.
        self.assertEqual([[(0,)]], direct.fetch((self.COUNT, None)))
        self.assertIs(first, direct._own.connection[2])

    def test_a_failed_read_answers_nothing_and_the_next_one_works(self):
        broken = prepared.Prepared(sa.select(sa.text('nosuchcolumn')))
        direct.fetch((self.COUNT, None))
        first = direct._own.connection[2]
        self.assertIsNone(direct.fetch((self.COUNT, None), (broken, None)))
        # That connection was closed and dropped.
        self.assertRaises(Exception, first.execute, 'SELECT 1')
        self.assertEqual([[(0,)]], direct.fetch((self.COUNT, None)))

    def test_the_version_reads_fall_back_to_the_enginefacade(self):
        agg = self.create_aggregate()
        ctx = context.get_admin_context()
        expected = (db.aggregate_version(ctx, agg['id']),
                    db.aggregates_version(ctx), db.aggregate_versions(ctx))
        statements = []
        listener = lambda *args: statements.append(args)  # noqa: E731
        sa.event.listen(db.get_engine(), 'before_cursor_execute', listener)
        self.addCleanup(sa.event.remove, db.get_engine(),
                        'before_cursor_execute', listener)
        with mock.patch.object(direct, 'fetch', return_value=None):
            self.assertEqual(expected, (
                db.aggregate_version(ctx, agg['id']),
                db.aggregates_version(ctx),
                tuple(db.aggregate_versions(ctx))))
            self.assertRaises(exception.AggregateNotFound,
                              db.aggregate_version, ctx, agg['id'] + 1)
        self.assertTrue(statements)
        self.assertRaises(exception.AggregateNotFound,
                          db.aggregate_version, ctx, agg['id'] + 1)

    def test_listeners_see_the_statements(self):
        seen = []
        listener = lambda engine, sql: seen.append(sql)  # noqa: E731
        direct.listen(listener)
        self.addCleanup(direct.unlisten, listener)
        direct.fetch((self.COUNT, None), (self.BY_NAME, {'name': 'x'}))
        self.assertEqual(2, len(seen))
        self.assertIn('count(*)', seen[0])

    def create_aggregate(self):
        ctx = context.get_admin_context()
        with db.writer.using(ctx):
            return db.aggregate_create(ctx, 'agg')
