"""Counting the SQL statements an engine runs."""

import sqlalchemy as sa

from nova_aggregates.db import direct

_TRANSACTION_CONTROL = frozenset(('BEGIN', 'COMMIT', 'ROLLBACK', 'SAVEPOINT',
                                  'RELEASE'))


class StatementCounter:
    """``with StatementCounter(engine) as c: ...``; then ``c.count``.

    ``queries_only`` leaves out transaction control (SQLite's explicit
    BEGIN), so counts compare across backends.  The reads ``db.direct``
    runs on the driver's connections count too.
    """

    def __init__(self, engine, queries_only=False):
        self.engine = engine
        self.queries_only = queries_only
        self.statements = []

    def _count(self, conn, cursor, statement, *args):
        if self.queries_only and \
                statement.split(None, 1)[0].upper() in _TRANSACTION_CONTROL:
            return
        self.statements.append(statement)

    def _count_direct(self, engine, statement):
        if engine is self.engine:
            self._count(None, None, statement)

    def __enter__(self):
        sa.event.listen(self.engine, 'before_cursor_execute', self._count)
        direct.listen(self._count_direct)
        return self

    def __exit__(self, *exc):
        sa.event.remove(self.engine, 'before_cursor_execute', self._count)
        direct.unlisten(self._count_direct)

    @property
    def count(self):
        return len(self.statements)
