"""Reads run straight on a DBAPI connection of the pool, outside any
transaction of the enginefacade.

A conditional poll, or a show answered from a kept rendering, needs one
indexed read.  Through the enginefacade that read costs a transaction: a
Connection, SQLite's explicit BEGIN, the statement through SQLAlchemy's
execution layer, the ROLLBACK; about 80 us in process on SQLite, where the
same SELECT on a pooled DBAPI connection takes about 9 us.

Only for reads that stand alone.  Each statement sees what was committed
when it ran, as a statement of a transaction at READ COMMITTED does
(SQLite runs it on its own; the other drivers' implicit transaction is
rolled back right after the read, before the connection goes back to the
pool).  Reads that must
agree with each other as one snapshot stay in ``@reader`` functions.

Failures are not answered here: the connection that failed is dropped
from the pool and ``fetch`` returns None, and the caller runs the read the
usual way, whose errors are oslo.db's typed ones (a database that is down
is a 503 there) and whose reconnection is oslo.db's.
"""

import os
import threading

from nova_aggregates.db import engine as db_engine

#: (engine, statement) listeners: see ``listen``.
_listeners = []


def fetch(*reads):
    """The rows of each ``(prepared.Prepared, params)`` of ``reads`` (a
    list of tuples each, as the driver returns them), run in order on one
    connection, or None if any failed (then nothing is answered: read the
    usual way)."""
    engine = db_engine.get_engine()
    if engine is db_engine.pooled_sqlite_engine():
        return _fetch_on_own_connection(engine, reads)
    try:
        connection = engine.raw_connection()
    except Exception:  # noqa: B902 - the usual read will say what it is
        return None
    ended = False
    try:
        dbapi_connection = connection.dbapi_connection
        cursor = dbapi_connection.cursor()

        def query(sql, args):
            cursor.execute(sql, args)
            return cursor.fetchall()
        try:
            rows = _run(engine, query, reads)
        finally:
            cursor.close()
        # The driver's implicit transaction ends here, where a server that
        # went away since the read is a connection to drop; the pool's
        # rollback on return would log it as an error with a traceback.
        dbapi_connection.rollback()
        ended = True
        return rows
    except Exception:  # noqa: B902 - the usual read will say what it is
        # It may be broken (a server that went away); a new one replaces it.
        connection.invalidate()
        return None
    finally:
        _give_back(connection, ended)


def _give_back(connection, rolled_back):
    """Return a pooled DBAPI connection; one whose transaction was just
    rolled back is not rolled back again (SQLAlchemy's own way of telling
    its pool so, as its Connection does; ``close()`` where it is missing)."""
    close_special = getattr(connection, '_close_special', None)
    if rolled_back and close_special is not None:
        close_special(transaction_reset=True)
    else:
        connection.close()


#: Per thread: (engine, fork generation, SQLite connection) of its direct
#: reads.
_own = threading.local()
#: Bumped in a forked child: a connection a thread-local kept from the
#: parent is not this process's to use (cheaper than os.getpid(), a system
#: call, on every read).
_forks = [0]


def _forked():
    _forks[0] += 1


os.register_at_fork(after_in_child=_forked)


def _fetch_on_own_connection(engine, reads):
    """SQLite file databases: each thread reads on a connection of its own,
    taken from the pool once (detached from it: the pool opens another
    when it needs one).  A pool checkout and return cost more than the
    read; a SQLite connection is a file handle and a page cache, and has
    no server to time it out."""
    own = getattr(_own, 'connection', None)
    if own is None or own[0] is not engine or own[1] != _forks[0]:
        try:
            pooled = engine.raw_connection()
            pooled.detach()
        except Exception:  # noqa: B902 - the usual read will say what it is
            return None
        own = _own.connection = (engine, _forks[0],
                                 pooled.dbapi_connection)

    def query(sql, args):
        # sqlite3's own shortcut: no cursor object to make and close.
        return own[2].execute(sql, args).fetchall()
    try:
        return _run(engine, query, reads)
    except Exception:  # noqa: B902 - the usual read will say what it is
        _own.connection = None
        try:
            own[2].close()
        except Exception:  # noqa: B902 - it is dropped either way
            pass
        return None


def _run(engine, query, reads):
    """The rows of each read; ``query(sql, args)`` runs one statement on
    the connection and returns its rows."""
    results = []
    for statement, params in reads:
        sql, args = statement.driver_sql(engine.dialect, params)
        for listener in _listeners:
            listener(engine, sql)
        results.append(query(sql, args))
    return results


def listen(listener):
    """Call ``listener(engine, sql)`` before each statement run here (the
    tests' statement counters: SQLAlchemy's events do not see these)."""
    _listeners.append(listener)


def unlisten(listener):
    _listeners.remove(listener)
