"""Statements of the request paths, compiled once and run as the driver's
SQL on the transaction's own connection.

``Connection.execute`` of a Core statement spends most of its ~20 us on
set-up per execution (the compiled-cache lookup, parameter and result
processing, result metadata).  Here the compiled SQL goes to a cursor of
the transaction's driver connection, in that transaction: about 4 us
where ``Connection.exec_driver_sql`` still costs ~10 us of execution
context and result set-up per statement (set_metadata's six statements:
0.30 -> 0.22 ms in process).  A driver error goes through the
Connection's own error handling, as it would from ``exec_driver_sql``:
oslo.db's translation (DBDuplicateEntry, DBDeadlock and the retry it asks
for, DBConnectionError) and the invalidation of a connection that went
away apply as before.  While anything listens for statements
(``before_cursor_execute`` or ``after_cursor_execute``: the tests'
statement counters, oslo.db's ``connection_trace``) they run through
``exec_driver_sql``, which tells the listeners.  What SQLAlchemy would do
to the values is done here by the types' own ``bind_processor`` and
``result_processor`` (on SQLite, datetimes travel as strings).

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
        """Run it once on ``conn``; its ``Outcome`` (``rowcount``)."""
        sql, args = self.driver_sql(conn.dialect, params)
        return _run(conn, sql, args, False)

    def execute_many(self, conn, many):
        """Run it for each of ``many`` (dicts with the same names)."""
        compiled = self._for(conn.dialect, tuple(many[0]))
        return _run(conn, compiled.sql,
                    [compiled.bind(params) for params in many], True)

    def all(self, conn, params=None):
        """The rows of a SELECT, as tuples, values as SQLAlchemy would
        give them."""
        names = tuple(params) if params else ()
        compiled = self._for(conn.dialect, names)
        rows = _run(conn, compiled.sql, compiled.bind(params), False).rows
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
                 'result_processors', 'as_given')

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
        #: The values go to the driver as given: no constant of the
        #: statement to add (every bind parameter is one the caller must
        #: give), none to convert.  A lookup per name, no copy of
        #: ``params``.
        self.as_given = not self.bind_processors and all(
            bind.required for bind in compiled.bind_names)

    def bind(self, params):
        if self.as_given:
            if self.names is None:
                return params or {}
            return tuple([params[name] for name in self.names]) \
                if self.names else ()
        values = dict(self.defaults)
        if params:
            values.update(params)
        for name, process in self.bind_processors.items():
            if name in values:
                values[name] = process(values[name])
        if self.names is not None:
            return tuple(values[name] for name in self.names)
        return values


class Outcome:
    """What a statement run here gives back: the driver's ``rowcount``, and
    its ``rows`` (a list of tuples; None for a statement without)."""

    __slots__ = ('rowcount', 'rows')

    def __init__(self, rowcount, rows):
        self.rowcount = rowcount
        self.rows = rows


def _run(conn, sql, args, many):
    """Run ``sql`` on ``conn``'s transaction (see the module)."""
    dispatch = conn.dispatch
    if dispatch.before_cursor_execute or dispatch.after_cursor_execute:
        return _run_watched(conn, sql, args)
    cursor = conn.connection.dbapi_connection.cursor()
    try:
        if many:
            cursor.executemany(sql, args)
        else:
            cursor.execute(sql, args)
        rows = cursor.fetchall() if cursor.description is not None else None
        return Outcome(cursor.rowcount, rows)
    except Exception as error:  # noqa: B902 - translated, or raised as is
        # SQLAlchemy's own handling of a failed execution: handle_error
        # listeners (oslo.db's filters) translate, a lost connection is
        # invalidated; it raises.
        conn._handle_dbapi_exception(error, sql, args, cursor, None)
    finally:
        cursor.close()


def _run_watched(conn, sql, args):
    result = conn.exec_driver_sql(sql, args)
    try:
        rows = result.cursor.fetchall() if result.returns_rows else None
        return Outcome(result.rowcount, rows)
    finally:
        result.close()
