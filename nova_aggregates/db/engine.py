"""The database engine: oslo.db's enginefacade, set up for each backend.

Transactions come from the enginefacade.  Query functions are decorated
with ``writer`` or ``reader`` and join the caller's transaction when there
is one, so the rules can wrap a check and its writes in one write
transaction (``transaction``).

``configure`` points the service at ``[database] connection`` and records
``[database] aggregate_store`` (``store()``; ``db/api.py`` binds the query
functions of that store); everything this module adds to what oslo.db
builds is tuning of one backend, done in an ``on_engine_create`` hook of
the enginefacade with SQLAlchemy's public pool and event API:

* MySQL/MariaDB: READ COMMITTED, as on PostgreSQL, and utf8mb4;
* file-based SQLite: a QueuePool instead of oslo.db's NullPool, and WAL;
* every backend: the change counter of conditional requests goes up when a
  transaction that changed aggregates commits (``changes``);
* PostgreSQL: the libpq 14+ wording of "cannot connect" is a
  DBConnectionError, as older wordings already are.
"""

import datetime
import os

from oslo_db import api as oslo_db_api
from oslo_db import exception as db_exc
from oslo_db import options as oslo_db_options
from oslo_db.sqlalchemy import enginefacade
from oslo_db.sqlalchemy import exc_filters
import sqlalchemy as sa

from nova_aggregates.conf import database as db_conf
from nova_aggregates.db import changes

context_manager = enginefacade.transaction_context()

writer = context_manager.writer.connection
reader = context_manager.reader.connection

#: ``[database]`` options handed to the enginefacade as they are: all of
#: oslo.db's.  The enginefacade takes any option it is not given from
#: oslo.config's global object, which inside another service's process
#: (our filter in Nova) holds that service's own [database] settings.
_OPTIONS = tuple(opt.dest for opt in oslo_db_options.database_opts)

_current_factory = None
#: The engine of the configured factory, once connected.
_engine = {'current': None}
#: ``[database] aggregate_store`` as ``configure`` last read it.
_store = db_conf.OWN
#: The engine whose SQLite connections this process pools (see
#: ``_pool_sqlite_connections``).
_pooling_engine = None


def configure(conf):
    """Point the service at ``[database] connection`` and connect; may be
    called again (tests use one database each)."""
    global _current_factory, _store
    _store = conf.database.aggregate_store \
        if 'aggregate_store' in conf.database else db_conf.OWN
    factory = enginefacade.transaction_context()
    options = {name: conf.database[name] for name in _OPTIONS
               if name in conf.database}
    options['connection_parameters'] = _mysql_utf8mb4(
        options.get('connection'), options.get('connection_parameters'))
    options['sqlite_fk'] = True
    # oslo.db's checkin hook sleeps to yield to eventlet; we run no eventlet
    # and it costs every request a context switch.
    options['thread_checkin'] = False
    factory.configure(**options)
    factory.append_on_engine_create(_tune_engine)
    context_manager.patch_factory(factory)
    if _current_factory is not None:
        _current_factory.dispose_pool()
    _current_factory = factory
    _engine['current'] = None
    # Connect now, as before serving: a wrong URL fails here.
    _engine['current'] = context_manager.writer.get_engine()


def store():
    """The configured aggregate store: ``own`` or ``nova_api``."""
    return _store


def get_engine():
    # Kept: asking the enginefacade costs a conditional poll a tenth.
    return _engine['current'] or context_manager.writer.get_engine()


def pooled_sqlite_engine():
    """The engine whose SQLite file connections this process pools, if
    the service's is one (see ``_pool_sqlite_connections``)."""
    return _pooling_engine


def dispose():
    """Close the pool; until ``configure`` runs again the store is
    ``own``, the default."""
    global _current_factory, _pooling_engine, _store
    _engine['current'] = None
    if _current_factory is not None:
        _current_factory.dispose_pool()
        _current_factory = None
    _pooling_engine = None
    _store = db_conf.OWN


def transaction(fn):
    """Decorator: run ``fn(self, context, ...)`` in one write transaction,
    retried on deadlock."""
    return oslo_db_api.wrap_db_retry(max_retries=5, retry_on_deadlock=True)(
        writer(fn))


def now():
    """The time as the tables store it: UTC, naive, with microseconds."""
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)


# -- per backend --------------------------------------------------------------

_PING = sa.text('SELECT 1')


@reader
def ping(context):
    """``SELECT 1`` on a connection of the service's pool (the health
    check): raises, e.g. oslo.db's DBConnectionError for a server that is
    down, unless the database answers."""
    context.connection.execute(_PING).scalar()


def _tune_engine(engine):
    changes.listen(engine)
    if engine.dialect.name in ('mysql', 'mariadb'):
        _mysql_read_committed(engine)
    elif engine.dialect.name == 'sqlite':
        _sqlite_begin_on_the_driver(engine)
        if engine.url.database and engine.url.database != ':memory:':
            _pool_sqlite_connections(engine)


def _sqlite_begin_on_the_driver(engine):
    """oslo.db turns pysqlite's own transaction handling off and starts
    every SQLite transaction with a BEGIN sent through SQLAlchemy's whole
    execution path: about 25 us of every request that touches the
    database.  Its listener is replaced by one that sends the same BEGIN
    on the driver's connection and keeps the same marker (which oslo.db's
    commit and rollback listeners clear).  A BEGIN the driver refuses is
    sent oslo.db's way, whose errors are the typed ones."""
    for listener in list(engine.dispatch.begin):
        if getattr(listener, '__module__', None) == _OSLO_DB_ENGINES and \
                getattr(listener, '__name__', None) == '_sqlite_emit_begin':
            sa.event.remove(engine, 'begin', listener)

    @sa.event.listens_for(engine, 'begin')
    def _begin(conn):
        if _SQLITE_IN_TRANSACTION not in conn.info:
            try:
                conn.connection.dbapi_connection.execute('BEGIN')
            except Exception:  # noqa: B902 - the usual way says what it is
                conn.exec_driver_sql('BEGIN')
            conn.info[_SQLITE_IN_TRANSACTION] = True


_OSLO_DB_ENGINES = 'oslo_db.sqlalchemy.engines'
#: The conn.info key oslo.db's SQLite listeners keep while a transaction
#: is open.
_SQLITE_IN_TRANSACTION = 'in_transaction'


def _mysql_utf8mb4(connection, parameters):
    """oslo.db connects to MySQL with charset ``utf8`` (three bytes per
    character) unless the URL names one: a name with an emoji would fail
    with a 500.  Ask for ``utf8mb4``, as the tables are."""
    if not connection:
        return parameters
    url = sa.engine.make_url(connection)
    if url.get_backend_name() not in ('mysql', 'mariadb') or \
            'charset' in url.query or 'charset=' in (parameters or ''):
        return parameters
    return '&'.join(p for p in (parameters, 'charset=utf8mb4') if p)


def _mysql_read_committed(engine):
    """InnoDB's default REPEATABLE READ answers a transaction's SELECTs
    from a snapshot taken at its first one, so a check made after waiting
    for a row lock would not see what the lock's holder committed (two
    concurrent add_hosts could put a host in two zones).  READ COMMITTED,
    as on PostgreSQL: every statement sees the latest commits."""

    @sa.event.listens_for(engine, 'connect')
    def _read_committed(dbapi_connection, record):
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute('SET SESSION TRANSACTION ISOLATION LEVEL '
                           'READ COMMITTED')
        finally:
            cursor.close()

    # oslo.db connected once already to test the engine.
    engine.pool.dispose()


def _pool_sqlite_connections(engine):
    """oslo.db gives file-based SQLite a NullPool, which opens a connection
    per transaction; a request would pay for that every time.

    Keep the connections in a QueuePool instead.  Its connections are
    opened by oslo.db's NullPool and detached from it, so everything
    oslo.db does to a new connection (foreign keys on, its own BEGIN
    handling) still happens, once per connection.
    """
    global _pooling_engine
    opener = engine.pool

    def connect():
        connection = opener.connect()
        connection.detach()
        return connection.dbapi_connection

    engine.pool = sa.pool.QueuePool(
        connect, pool_size=8, max_overflow=32, timeout=30,
        dialect=engine.dialect, pre_ping=False, reset_on_return='rollback')
    opener.dispose()
    _pooling_engine = engine

    @sa.event.listens_for(engine, 'connect')
    def _sqlite_pragmas(dbapi_connection, record):
        # Writers queue for the database lock instead of failing at once;
        # WAL lets readers run while a request writes.  Pooled connections
        # make this a once-per-connection cost.
        dbapi_connection.execute('PRAGMA busy_timeout = 30000')
        try:
            dbapi_connection.execute('PRAGMA journal_mode = WAL')
        except Exception:  # noqa: B902 - a read-only or odd file system
            return
        # In WAL mode NORMAL cannot corrupt the database; a power cut may
        # lose the last commits, which FULL would have synced one by one.
        dbapi_connection.execute('PRAGMA synchronous = NORMAL')


def _forget_inherited_connections():
    # A SQLite connection must not be shared between processes: a forked
    # child drops the pooled connections it inherited (without closing
    # them under the parent) and opens its own.  oslo.db's pools of the
    # other backends check this at checkout.
    if _pooling_engine is not None:
        _pooling_engine.dispose(close=False)


os.register_at_fork(after_in_child=_forget_inherited_connections)


# oslo.db recognizes PostgreSQL's "could not connect to server" as
# DBConnectionError (a 503, retried at start-up), but libpq 14 and later
# say "connection to server at ... failed: Connection refused", and a
# server going down or coming up says "the database system is shutting
# down / starting up": without these they would reach the API as a bare
# OperationalError, a 500.
@exc_filters.filters('postgresql', sa.exc.OperationalError,
                     r'(?s).*connection to server .* failed')
@exc_filters.filters('postgresql', sa.exc.OperationalError,
                     r'(?s).*the database system is (?:starting up|'
                     r'shutting down|in recovery mode|not yet accepting)')
def _postgresql_connect_failed(error, match, engine_name, is_disconnect):
    raise db_exc.DBConnectionError(error)
