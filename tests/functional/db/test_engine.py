"""db.engine on file-based SQLite: pooled connections with oslo.db's set-up
and ours, and none shared with a forked child."""

import os

import sqlalchemy as sa

from nova_aggregates.db import api as db
from tests import base


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
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child reports through the pipe
            try:
                with self.engine.connect() as conn:
                    fresh = conn.connection.dbapi_connection is not \
                        parent_connection
                    conn.exec_driver_sql('SELECT 1')
                os.write(write, b'1' if fresh else b'0')
            finally:
                os._exit(0)
        os.close(write)
        os.waitpid(pid, 0)
        self.assertEqual(b'1', os.read(read, 1))
        os.close(read)
        with self.engine.connect() as conn:
            self.assertIs(parent_connection,
                          conn.connection.dbapi_connection)
