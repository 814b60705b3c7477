"""Statements of the request paths, compiled once and run as the driver's
SQL on the transaction's own connection.

``Connection.execute`` of a Core statement spends most of its ~20 us on
set-up per execution (the compiled-cache lookup, parameter and result
processing, result metadata); ``Connection.exec_driver_sql`` of the same
SQL takes ~6 us.  It still runs on the Connection, in its transaction and
through its events, so oslo.db's error translation (DBDuplicateEntry,
DBDeadlock and the retry it asks for, DBConnectionError) applies as
before.  What SQLAlchemy would do to the values is done here by the
types' own ``bind_processor`` and ``result_processor`` (on SQLite,
datetimes travel as strings).

For statements whose SQL does not depend on the values beyond which
columns they name: no ``expanding`` bind parameters (``IN`` lists stay on
``Connection.execute``).
"""

import threading


class Prepared:
    """A statement compiled per dialect and per set of parameter names
    (an INSERT's or UPDATE's columns are the parameters given)."""

    __slots__ = ('statement', '_compiled', '_lock')

    def __init__(self, statement):
        self.statement = statement
        # (dialect, parameter names) -> _Compiled
        self._compiled = {}
        self._lock = threading.Lock()

    def _for(self, dialect, names):
        key = (dialect, names)
        compiled = self._compiled.get(key)
        if compiled is None:
            with self._lock:
                compiled = self._compiled.get(key)
                if compiled is None:
                    compiled = self._compiled[key] = _Compiled(
                        self.statement, dialect, names)
        return compiled

    def driver_sql(self, dialect, params=None):
        """``(SQL, parameters)`` as ``dialect``'s driver takes them."""
        compiled = self._for(dialect, tuple(params) if params else ())
        return compiled.sql, compiled.bind(params)

    def execute(self, conn, params=None):
        """Run it once on ``conn``; the driver-level CursorResult."""
        return conn.exec_driver_sql(*self.driver_sql(conn.dialect, params))

    def execute_many(self, conn, many):
        """Run it for each of ``many`` (dicts with the same names)."""
        compiled = self._for(conn.dialect, tuple(many[0]))
        return conn.exec_driver_sql(compiled.sql,
                                    [compiled.bind(params) for params in many])

    def all(self, conn, params=None):
        """The rows of a SELECT, as tuples, values as SQLAlchemy would
        give them."""
        names = tuple(params) if params else ()
        compiled = self._for(conn.dialect, names)
        result = conn.exec_driver_sql(compiled.sql, compiled.bind(params))
        try:
            rows = result.cursor.fetchall()
        finally:
            result.close()
        processors = compiled.result_processors
        if not processors:
            return list(rows)
        converted = []
        for row in rows:
            row = list(row)
            for index, process in processors:
                row[index] = process(row[index])
            converted.append(tuple(row))
        return converted


class _Compiled:
    __slots__ = ('sql', 'names', 'defaults', 'bind_processors',
                 'result_processors')

    def __init__(self, statement, dialect, names):
        compiled = statement.compile(dialect=dialect,
                                     column_keys=list(names) or None)
        self.sql = str(compiled)
        #: Bind names in the order of a positional paramstyle, or None.
        self.names = tuple(compiled.positiontup) if dialect.positional \
            else None
        # Constants of the statement are bind parameters too.
        self.defaults = compiled.params
        self.bind_processors = {}
        for bind, name in compiled.bind_names.items():
            process = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if process is not None:
                self.bind_processors[name] = process
        #: (column index, processor) of the columns that have one.
        self.result_processors = []
        for index, column in enumerate(
                getattr(statement, 'selected_columns', None) or ()):
            process = column.type.dialect_impl(dialect).result_processor(
                dialect, None)
            if process is not None:
                self.result_processors.append((index, process))

    def bind(self, params):
        values = dict(self.defaults)
        if params:
            values.update(params)
        for name, process in self.bind_processors.items():
            if name in values:
                values[name] = process(values[name])
        if self.names is not None:
            return tuple(values[name] for name in self.names)
        return values
