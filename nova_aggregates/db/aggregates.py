"""Queries of the ``aggregates`` table, and whole aggregates read with their
hosts and metadata.

Reads cost two statements whatever the number of aggregates, hosts or keys:
the aggregate rows, then their hosts and metadata in one UNION ALL (no join
that multiplies rows).  Statements are built once, at import, with bind
parameters: building a statement per call costs several times more than
running it.  Columns to SET come from the parameters given at execution.

Locking, the same way on every backend: a write transaction starts with an
UPDATE of the rows it depends on (``lock_aggregate`` here,
``compute_hosts.lock_hosts``).  That takes row locks on PostgreSQL and MySQL
and the database write lock on SQLite, so a check made after it cannot be
invalidated by a concurrent request before the transaction commits.  Locks
are always taken aggregate first, then hosts in sorted order.
"""

import uuid as uuid_lib

from oslo_db import exception as db_exc
import sqlalchemy as sa

from nova_aggregates import constants
from nova_aggregates.db import engine
from nova_aggregates.db.models import aggregate_hosts
from nova_aggregates.db.models import aggregate_metadata
from nova_aggregates.db.models import aggregates
from nova_aggregates import exception

# -- reading ------------------------------------------------------------------

_COLUMNS = (
    aggregates.c.id, aggregates.c.uuid, aggregates.c.name,
    aggregates.c.operational_state, aggregates.c.last_error,
    aggregates.c.pending_host, aggregates.c.task_owner,
    aggregates.c.task_started_at, aggregates.c.created_at,
    aggregates.c.updated_at)
_KEYS = tuple(column.key for column in _COLUMNS)

_LIST = sa.select(*_COLUMNS).order_by(aggregates.c.id)
_GET = sa.select(*_COLUMNS).where(
    aggregates.c.id == sa.bindparam('aggregate_id'))
_IN_STATE = sa.select(*_COLUMNS).where(
    aggregates.c.operational_state == sa.bindparam('state')).order_by(
    aggregates.c.id)


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
_CHILDREN_OF = _children_query(
    aggregate_hosts.c.aggregate_id.in_(sa.bindparam('ids', expanding=True)),
    aggregate_metadata.c.aggregate_id.in_(
        sa.bindparam('ids', expanding=True)))


def _aggregate_dict(row):
    # zip over known keys: much cheaper than Row._mapping for long lists.
    agg = dict(zip(_KEYS, row))
    agg['hosts'] = []
    agg['metadata'] = {}
    return agg


def _with_children(conn, rows, children, parameters=None):
    """The aggregates of ``rows``, with the hosts and metadata that the
    ``children`` statement finds for them."""
    result = [_aggregate_dict(row) for row in rows]
    if not result:
        return result
    by_id = {agg['id']: agg for agg in result}
    for kind, aggregate_id, _seq, key, value in conn.execute(children,
                                                             parameters):
        agg = by_id.get(aggregate_id)
        if agg is None:
            # Created after the first statement ran: not part of this read.
            continue
        if kind == 0:
            agg['hosts'].append(key)
        else:
            agg['metadata'][key] = value
    return result


@engine.reader
def aggregate_get_all(context):
    """All aggregates with hosts and metadata, in two statements.

    An aggregate deleted between the statements simply keeps what the first
    one saw; the list never fails because of it.
    """
    conn = context.connection
    return _with_children(conn, conn.execute(_LIST), _LIST_CHILDREN)


@engine.reader
def aggregate_get(context, aggregate_id):
    conn = context.connection
    found = _with_children(
        conn, conn.execute(_GET, {'aggregate_id': aggregate_id}),
        _GET_CHILDREN, {'aggregate_id': aggregate_id})
    if not found:
        raise exception.AggregateNotFound(aggregate_id=aggregate_id)
    return found[0]


@engine.reader
def aggregate_get_by_state(context, state):
    """The aggregates in ``operational_state`` ``state``, with hosts and
    metadata, in two statements."""
    conn = context.connection
    rows = conn.execute(_IN_STATE, {'state': state}).all()
    return _with_children(conn, rows, _CHILDREN_OF,
                          {'ids': [row.id for row in rows]})


# -- writing ------------------------------------------------------------------

_INSERT = aggregates.insert()
_INSERT_METADATA = aggregate_metadata.insert()
_THIS_AGGREGATE = aggregates.c.id == sa.bindparam('aggregate_id')
_UPDATE = aggregates.update().where(_THIS_AGGREGATE)
_UPDATE_IN_STATE = aggregates.update().where(_THIS_AGGREGATE).where(
    aggregates.c.operational_state.in_(
        sa.bindparam('expected', expanding=True)))
_DELETE = aggregates.delete().where(_THIS_AGGREGATE)
_DELETE_METADATA = aggregate_metadata.delete().where(
    aggregate_metadata.c.aggregate_id == sa.bindparam('aggregate_id'))


@engine.writer
def aggregate_create(context, name, metadata=None):
    conn = context.connection
    agg = {'uuid': str(uuid_lib.uuid4()), 'name': name,
           'operational_state': constants.CREATED, 'last_error': None,
           'pending_host': None, 'task_owner': None,
           'task_started_at': None, 'created_at': engine.now(),
           'updated_at': None}
    try:
        agg['id'] = conn.execute(_INSERT, {
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


@engine.writer
def lock_aggregate(context, aggregate_id):
    """Lock the aggregate row, stamp ``updated_at`` (every mutation sets it)
    and return the aggregate as it is inside this transaction."""
    conn = context.connection
    result = conn.execute(_UPDATE, {'aggregate_id': aggregate_id,
                                    'updated_at': engine.now()})
    if result.rowcount == 0:
        raise exception.AggregateNotFound(aggregate_id=aggregate_id)
    return aggregate_get(context, aggregate_id)


@engine.writer
def aggregate_update(context, aggregate_id, **values):
    """Set columns of an aggregate (name, operational_state, ...)."""
    conn = context.connection
    values.setdefault('updated_at', engine.now())
    try:
        result = conn.execute(_UPDATE, dict(values, aggregate_id=aggregate_id))
    except db_exc.DBDuplicateEntry:
        raise exception.AggregateNameExists(name=values.get('name'))
    if result.rowcount == 0:
        raise exception.AggregateNotFound(aggregate_id=aggregate_id)


@engine.writer
def aggregate_compare_and_set_state(context, aggregate_id, expected, **values):
    """Set state columns only if ``operational_state`` is one of ``expected``;
    True if it was.  Atomic across processes and API nodes."""
    conn = context.connection
    values.setdefault('updated_at', engine.now())
    result = conn.execute(_UPDATE_IN_STATE, dict(
        values, aggregate_id=aggregate_id, expected=list(expected)))
    return result.rowcount == 1


@engine.writer
def aggregate_delete(context, aggregate_id):
    conn = context.connection
    conn.execute(_DELETE_METADATA, {'aggregate_id': aggregate_id})
    result = conn.execute(_DELETE, {'aggregate_id': aggregate_id})
    if result.rowcount == 0:
        raise exception.AggregateNotFound(aggregate_id=aggregate_id)
