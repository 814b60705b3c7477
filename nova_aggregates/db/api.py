"""Every SQL statement of the service.

Transactions come from oslo.db's enginefacade.  Functions here join the
caller's transaction when there is one, so the AggregateManager can wrap a
rule check and its writes in one ``writer`` block (see ``transaction``).

Locking, the same way on every backend: a write transaction starts with an
UPDATE of the rows it depends on (``lock_aggregate``, ``lock_hosts``).  That
takes row locks on PostgreSQL and MySQL and the database write lock on
SQLite, so a check made after it cannot be invalidated by a concurrent
request before the transaction commits.  Locks are always taken aggregate
first, then hosts in sorted order.

Reads use SQLAlchemy Core with statements built once at import: listing and
showing cost two statements whatever the number of aggregates, hosts or
keys (no join that multiplies rows).
"""

import datetime
import uuid as uuid_lib

from oslo_db import api as oslo_db_api
from oslo_db import exception as db_exc
from oslo_db.sqlalchemy import enginefacade
from oslo_db.sqlalchemy import exc_filters
import sqlalchemy as sa

from nova_aggregates import exception
from nova_aggregates.db import models

context_manager = enginefacade.transaction_context()

writer = context_manager.writer.connection
reader = context_manager.reader.connection

aggregates = models.Aggregate.__table__
aggregate_hosts = models.AggregateHost.__table__
aggregate_metadata = models.AggregateMetadata.__table__
compute_hosts = models.ComputeHost.__table__

_current_factory = None


def configure(conf):
    """Point the service at ``[database] connection``; may be called again
    (tests use one database each)."""
    global _current_factory
    factory = enginefacade.transaction_context()
    options = {name: conf.database[name] for name in
               ('connection', 'slave_connection', 'max_pool_size',
                'max_overflow', 'pool_timeout', 'connection_recycle_time',
                'max_retries', 'retry_interval', 'connection_debug',
                'connection_trace', 'connection_parameters',
                'mysql_sql_mode', 'db_max_retries', 'db_retry_interval',
                'db_inc_retry_interval', 'db_max_retry_interval')
               if name in conf.database}
    options['connection_parameters'] = _mysql_utf8mb4(
        options.get('connection'), options.get('connection_parameters'))
    options['sqlite_fk'] = True
    # oslo.db's checkin hook sleeps to yield to eventlet; we run no eventlet
    # and it costs every request a context switch.
    options['thread_checkin'] = False
    factory.configure(**options)
    context_manager.patch_factory(factory)
    if _current_factory is not None:
        _current_factory.dispose_pool()
    _current_factory = factory
    _tune_engine(get_engine())


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


def _tune_engine(engine):
    if engine.dialect.name in ('mysql', 'mariadb'):
        _mysql_read_committed(engine)
        return
    if engine.dialect.name != 'sqlite' or not engine.url.database or \
            engine.url.database == ':memory:':
        return
    # oslo.db gives file-based SQLite a NullPool, which opens a connection
    # per transaction; a request would pay for that every time.  Keep the
    # same creator and event listeners (oslo.db's foreign-key pragma and
    # error translation) on a QueuePool instead.
    old_pool = engine.pool
    engine.pool = sa.pool.QueuePool(
        old_pool._creator, pool_size=8, max_overflow=32, timeout=30,
        dialect=old_pool._dialect, _dispatch=old_pool.dispatch,
        pre_ping=False, reset_on_return='rollback')
    old_pool.dispose()

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


def get_engine():
    return context_manager.writer.get_engine()


def dispose():
    global _current_factory
    if _current_factory is not None:
        _current_factory.dispose_pool()
        _current_factory = None


def transaction(fn):
    """Decorator: run ``fn(self, context, ...)`` in one write transaction,
    retried on deadlock."""
    return oslo_db_api.wrap_db_retry(max_retries=5, retry_on_deadlock=True)(
        writer(fn))


def _now():
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)


# -- reading aggregates -----------------------------------------------------

_AGGREGATE_COLUMNS = (
    aggregates.c.id, aggregates.c.uuid, aggregates.c.name,
    aggregates.c.operational_state, aggregates.c.last_error,
    aggregates.c.pending_host, aggregates.c.task_owner,
    aggregates.c.task_started_at, aggregates.c.created_at,
    aggregates.c.updated_at)

_LIST_AGGREGATES = sa.select(*_AGGREGATE_COLUMNS).order_by(aggregates.c.id)
_GET_AGGREGATE = sa.select(*_AGGREGATE_COLUMNS).where(
    aggregates.c.id == sa.bindparam('aggregate_id'))


def _children_query(where_hosts=None, where_metadata=None):
    # Hosts (kind 0, ordered by join order) and metadata (kind 1) in one
    # statement; a UNION ALL returns rows, not their product.
    hosts = sa.select(sa.literal(0).label('kind'),
                      aggregate_hosts.c.aggregate_id,
                      aggregate_hosts.c.id.label('seq'),
                      aggregate_hosts.c.host.label('key'),
                      sa.null().label('value'))
    metadata = sa.select(sa.literal(1).label('kind'),
                         aggregate_metadata.c.aggregate_id,
                         aggregate_metadata.c.id.label('seq'),
                         aggregate_metadata.c.key,
                         aggregate_metadata.c.value)
    if where_hosts is not None:
        hosts = hosts.where(where_hosts)
        metadata = metadata.where(where_metadata)
    union = sa.union_all(hosts, metadata).subquery()
    return sa.select(union).order_by(union.c.kind, union.c.seq)


_LIST_CHILDREN = _children_query()
_GET_CHILDREN = _children_query(
    aggregate_hosts.c.aggregate_id == sa.bindparam('aggregate_id'),
    aggregate_metadata.c.aggregate_id == sa.bindparam('aggregate_id'))


_AGGREGATE_KEYS = tuple(column.key for column in _AGGREGATE_COLUMNS)


def _aggregate_dict(row):
    # zip over known keys: much cheaper than Row._mapping for long lists.
    agg = dict(zip(_AGGREGATE_KEYS, row))
    agg['hosts'] = []
    agg['metadata'] = {}
    return agg


def _attach_children(by_id, rows):
    for kind, aggregate_id, _seq, key, value in rows:
        agg = by_id.get(aggregate_id)
        if agg is None:
            # Created after the first statement ran: not part of this list.
            continue
        if kind == 0:
            agg['hosts'].append(key)
        else:
            agg['metadata'][key] = value


@reader
def aggregate_get_all(context):
    """All aggregates with hosts and metadata, in two statements.

    An aggregate deleted between the statements simply keeps what the first
    one saw; the list never fails because of it.
    """
    conn = context.connection
    result = [_aggregate_dict(row) for row in conn.execute(_LIST_AGGREGATES)]
    _attach_children({agg['id']: agg for agg in result},
                     conn.execute(_LIST_CHILDREN))
    return result


@reader
def aggregate_get(context, aggregate_id):
    conn = context.connection
    row = conn.execute(_GET_AGGREGATE, {'aggregate_id': aggregate_id}).first()
    if row is None:
        raise exception.AggregateNotFound(aggregate_id=aggregate_id)
    agg = _aggregate_dict(row)
    _attach_children({agg['id']: agg},
                     conn.execute(_GET_CHILDREN, {'aggregate_id': aggregate_id}))
    return agg


@reader
def aggregate_get_by_state(context, state):
    conn = context.connection
    ids = conn.execute(sa.select(aggregates.c.id).where(
        aggregates.c.operational_state == state)).scalars().all()
    return [aggregate_get(context, aggregate_id) for aggregate_id in ids]


def _host_aggregates_query():
    zone = aggregate_metadata.alias('zone')
    pool = aggregate_metadata.alias('pool')

    def with_flags(select):
        return (select
                .outerjoin(zone, sa.and_(zone.c.aggregate_id == aggregates.c.id,
                                         zone.c.key == 'availability_zone'))
                .outerjoin(pool, sa.and_(pool.c.aggregate_id == aggregates.c.id,
                                         pool.c.key == 'hypervisor_pool')))

    members = with_flags(
        sa.select(aggregate_hosts.c.host.label('host'), aggregates.c.id,
                  aggregates.c.name, zone.c.value.label('zone'),
                  pool.c.value.label('pool'))
        .select_from(aggregate_hosts)
        .join(aggregates, aggregates.c.id == aggregate_hosts.c.aggregate_id)
    ).where(aggregate_hosts.c.host.in_(sa.bindparam('hosts', expanding=True)))
    # A host that a pool operation in flight is adding has no row in
    # aggregate_hosts until XenServer is done, but it is already taken: two
    # concurrent add_hosts must not put it in two pools or two zones.
    joining = with_flags(
        sa.select(aggregates.c.pending_host.label('host'), aggregates.c.id,
                  aggregates.c.name, zone.c.value.label('zone'),
                  pool.c.value.label('pool'))
        .select_from(aggregates)
    ).where(aggregates.c.pending_host.in_(
        sa.bindparam('hosts', expanding=True))).where(
        aggregates.c.operational_state == 'changing')
    union = sa.union_all(members, joining).subquery()
    return sa.select(union).order_by(union.c.host, union.c.id)


# Built once: constructing aliased joins costs more than running them.
_HOST_AGGREGATES = _host_aggregates_query()


@reader
def host_aggregates(context, hosts):
    """For each host, the aggregates it is in with their zone and pool flag:
    ``{host: [{"id", "name", "availability_zone", "hypervisor_pool"}]}``.

    An aggregate whose pool operation in flight is adding the host counts
    as one of them.
    """
    if not hosts:
        return {}
    result = {host: [] for host in hosts}
    rows = context.connection.execute(
        _HOST_AGGREGATES, {'hosts': sorted(set(hosts))})
    seen = set()
    for host, agg_id, name, zone_value, pool_value in rows:
        if (host, agg_id) in seen:
            continue  # a member that a pool operation is removing
        seen.add((host, agg_id))
        result[host].append({'id': agg_id, 'name': name,
                             'availability_zone': zone_value,
                             'hypervisor_pool': pool_value is not None})
    return result


# -- writing aggregates -----------------------------------------------------

# Write statements are built once, with bind parameters: building a
# statement per call costs several times more than running it.  Columns to
# SET come from the parameters given at execution.
_INSERT_AGGREGATE = aggregates.insert()
_INSERT_METADATA = aggregate_metadata.insert()
_INSERT_HOST = aggregate_hosts.insert()
_THIS_AGGREGATE = aggregates.c.id == sa.bindparam('aggregate_id')
_UPDATE_AGGREGATE = aggregates.update().where(_THIS_AGGREGATE)
_UPDATE_AGGREGATE_IN_STATE = aggregates.update().where(_THIS_AGGREGATE).where(
    aggregates.c.operational_state.in_(
        sa.bindparam('expected', expanding=True)))
_DELETE_AGGREGATE = aggregates.delete().where(_THIS_AGGREGATE)
_DELETE_ALL_METADATA = aggregate_metadata.delete().where(
    aggregate_metadata.c.aggregate_id == sa.bindparam('aggregate_id'))
_DELETE_METADATA_KEYS = aggregate_metadata.delete().where(
    aggregate_metadata.c.aggregate_id == sa.bindparam('aggregate_id')).where(
    aggregate_metadata.c.key.in_(sa.bindparam('keys', expanding=True)))
_DELETE_HOST = aggregate_hosts.delete().where(
    aggregate_hosts.c.aggregate_id == sa.bindparam('aggregate_id')).where(
    aggregate_hosts.c.host == sa.bindparam('host_name'))


@writer
def aggregate_create(context, name, metadata=None):
    conn = context.connection
    agg = {'uuid': str(uuid_lib.uuid4()), 'name': name,
           'operational_state': 'created', 'last_error': None,
           'pending_host': None, 'task_owner': None,
           'task_started_at': None, 'created_at': _now(),
           'updated_at': None}
    try:
        agg['id'] = conn.execute(_INSERT_AGGREGATE, {
            key: agg[key] for key in ('uuid', 'name', 'operational_state',
                                      'created_at')}).inserted_primary_key[0]
    except db_exc.DBDuplicateEntry:
        raise exception.AggregateNameExists(name=name)
    metadata = dict(metadata or {})
    if metadata:
        conn.execute(_INSERT_METADATA, [
            {'aggregate_id': agg['id'], 'key': k, 'value': v}
            for k, v in metadata.items()])
    # What was just written, without reading it back.
    agg.update(hosts=[], metadata=metadata)
    return agg


@writer
def lock_aggregate(context, aggregate_id):
    """Lock the aggregate row, stamp ``updated_at`` (every mutation sets it)
    and return the aggregate as it is inside this transaction."""
    conn = context.connection
    result = conn.execute(_UPDATE_AGGREGATE, {'aggregate_id': aggregate_id,
                                              'updated_at': _now()})
    if result.rowcount == 0:
        raise exception.AggregateNotFound(aggregate_id=aggregate_id)
    return aggregate_get(context, aggregate_id)


_LOCK_HOSTS = compute_hosts.update().where(
    compute_hosts.c.name.in_(sa.bindparam('names', expanding=True))).values(
    generation=compute_hosts.c.generation + 1)
_GET_HOSTS = sa.select(compute_hosts).where(
    compute_hosts.c.name.in_(sa.bindparam('names', expanding=True)))


@writer
def lock_hosts(context, names):
    """Lock compute host rows (sorted, to avoid deadlocks) and return them as
    ``{name: host}``; an unregistered name raises ComputeHostNotFound."""
    names = sorted(set(names))
    if not names:
        return {}
    conn = context.connection
    conn.execute(_LOCK_HOSTS, {'names': names})
    found = {row.name: dict(row._mapping)
             for row in conn.execute(_GET_HOSTS, {'names': names})}
    for name in names:
        if name not in found:
            raise exception.ComputeHostNotFound(host=name)
    return found


@writer
def aggregate_update(context, aggregate_id, **values):
    """Set columns of an aggregate (name, operational_state, ...)."""
    conn = context.connection
    values.setdefault('updated_at', _now())
    try:
        result = conn.execute(_UPDATE_AGGREGATE,
                              dict(values, aggregate_id=aggregate_id))
    except db_exc.DBDuplicateEntry:
        raise exception.AggregateNameExists(name=values.get('name'))
    if result.rowcount == 0:
        raise exception.AggregateNotFound(aggregate_id=aggregate_id)


@writer
def aggregate_compare_and_set_state(context, aggregate_id, expected, **values):
    """Set state columns only if ``operational_state`` is one of ``expected``;
    True if it was.  Atomic across processes and API nodes."""
    conn = context.connection
    values.setdefault('updated_at', _now())
    result = conn.execute(_UPDATE_AGGREGATE_IN_STATE, dict(
        values, aggregate_id=aggregate_id, expected=list(expected)))
    return result.rowcount == 1


@writer
def aggregate_delete(context, aggregate_id):
    conn = context.connection
    conn.execute(_DELETE_ALL_METADATA, {'aggregate_id': aggregate_id})
    result = conn.execute(_DELETE_AGGREGATE, {'aggregate_id': aggregate_id})
    if result.rowcount == 0:
        raise exception.AggregateNotFound(aggregate_id=aggregate_id)


@writer
def aggregate_metadata_update(context, aggregate_id, set_items=None,
                              remove_keys=()):
    """Merge ``set_items`` and drop ``remove_keys`` (absent keys are fine).

    The caller holds the aggregate lock, so delete-then-insert is a safe
    upsert on every backend.
    """
    conn = context.connection
    set_items = set_items or {}
    keys = set(set_items) | set(remove_keys)
    if keys:
        conn.execute(_DELETE_METADATA_KEYS, {'aggregate_id': aggregate_id,
                                             'keys': sorted(keys)})
    if set_items:
        conn.execute(_INSERT_METADATA, [
            {'aggregate_id': aggregate_id, 'key': k, 'value': v}
            for k, v in set_items.items()])


@writer
def aggregate_host_add(context, aggregate_id, host):
    conn = context.connection
    try:
        conn.execute(_INSERT_HOST, {'aggregate_id': aggregate_id,
                                    'host': host, 'created_at': _now()})
    except db_exc.DBDuplicateEntry:
        raise exception.AggregateHostExists(aggregate_id=aggregate_id,
                                            host=host)


@writer
def aggregate_host_remove(context, aggregate_id, host):
    conn = context.connection
    result = conn.execute(_DELETE_HOST, {'aggregate_id': aggregate_id,
                                         'host_name': host})
    if result.rowcount == 0:
        raise exception.AggregateHostNotFound(aggregate_id=aggregate_id,
                                              host=host)


# -- compute hosts ----------------------------------------------------------

@writer
def compute_host_create(context, name, zone=None, hypervisor_url=None):
    conn = context.connection
    try:
        conn.execute(compute_hosts.insert().values(
            name=name, zone=zone, hypervisor_url=hypervisor_url,
            generation=0, created_at=_now()))
    except db_exc.DBDuplicateEntry:
        raise exception.ComputeHostExists(host=name)
    return compute_host_get(context, name)


@writer
def compute_host_update(context, name, **values):
    conn = context.connection
    values['updated_at'] = _now()
    result = conn.execute(compute_hosts.update()
                          .where(compute_hosts.c.name == name).values(**values))
    if result.rowcount == 0:
        raise exception.ComputeHostNotFound(host=name)


@reader
def compute_host_get(context, name):
    row = context.connection.execute(
        sa.select(compute_hosts).where(compute_hosts.c.name == name)).first()
    if row is None:
        raise exception.ComputeHostNotFound(host=name)
    return dict(row._mapping)


@reader
def compute_host_get_all(context):
    """Hosts with the zone of their aggregates, in two statements:
    ``aggregate_zones`` lists the zones of the aggregates each is in."""
    conn = context.connection
    hosts = [dict(row._mapping) for row in conn.execute(
        sa.select(compute_hosts).order_by(compute_hosts.c.name))]
    zones = {}
    query = (sa.select(aggregate_hosts.c.host, aggregate_metadata.c.value)
             .join(aggregate_metadata, sa.and_(
                 aggregate_metadata.c.aggregate_id ==
                 aggregate_hosts.c.aggregate_id,
                 aggregate_metadata.c.key == 'availability_zone')))
    for host, zone in conn.execute(query):
        zones.setdefault(host, set()).add(zone)
    for host in hosts:
        host['aggregate_zones'] = sorted(zones.get(host['name'], ()))
    return hosts


@writer
def compute_host_delete(context, name):
    conn = context.connection
    lock_hosts(context, [name])
    in_use = conn.execute(sa.select(aggregate_hosts.c.aggregate_id).where(
        aggregate_hosts.c.host == name)).scalars().all()
    if in_use:
        raise exception.ComputeHostInUse(host=name, aggregates=sorted(in_use))
    conn.execute(compute_hosts.delete().where(compute_hosts.c.name == name))
