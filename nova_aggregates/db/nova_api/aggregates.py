"""Aggregates in Nova's ``aggregates`` table with their state from ours,
and whole aggregates read with their hosts and metadata.

The functions, their arguments and what they return are those of
``db/aggregates.py``, and so are the rules of its docstring: reads cost two
statements whatever the number of aggregates, hosts or keys; statements are
built once; a write transaction starts by UPDATE-locking the rows it depends
on, the aggregate (Nova's row) first, then the compute hosts in sorted
order.  Every write of our state table happens under the lock of Nova's
aggregate row, which is what serializes them.

The state of an aggregate is its row of ``nova_aggregates_aggregate_state``
when it has one whose uuid matches (``models``), else ``created`` or
``active`` after its hosts.  A state write updates that row, or, when there
is none, inserts it (replacing a stale one) from the state the aggregate
reads as.
"""

import uuid as uuid_lib

from oslo_db import exception as db_exc
import sqlalchemy as sa

from nova_aggregates import constants
from nova_aggregates.db import aggregate_reads
from nova_aggregates.db import engine
from nova_aggregates.db.nova_api import models
from nova_aggregates.db.nova_api.models import aggregate_hosts
from nova_aggregates.db.nova_api.models import aggregate_metadata
from nova_aggregates.db.nova_api.models import aggregate_state
from nova_aggregates.db.nova_api.models import aggregates
from nova_aggregates.db import prepared
from nova_aggregates import exception

# -- reading ------------------------------------------------------------------

#: The row of our state table that belongs to the aggregate.
_ITS_STATE = sa.and_(
    aggregate_state.c.aggregate_id == aggregates.c.id,
    aggregate_state.c.aggregate_uuid == sa.func.coalesce(aggregates.c.uuid,
                                                         ''))
_WITH_STATE = aggregates.outerjoin(aggregate_state, _ITS_STATE)

_COLUMNS = (
    aggregates.c.id, aggregates.c.uuid, aggregates.c.name,
    aggregate_state.c.operational_state, aggregate_state.c.last_error,
    aggregate_state.c.pending_host, aggregate_state.c.task_owner,
    aggregate_state.c.task_started_at, aggregates.c.created_at,
    aggregates.c.updated_at, sa.null().label('generation'))
_KEYS = ('id', 'uuid', 'name') + models.STATE_COLUMNS + (
    'created_at', 'updated_at', 'generation')

#: The state of an aggregate without a state row, in SQL (for the reads
#: that filter on state; the others derive it from the hosts they read).
_HAS_HOSTS = aggregates.c.id.in_(sa.select(aggregate_hosts.c.aggregate_id))
_STATE = sa.func.coalesce(
    aggregate_state.c.operational_state,
    sa.case((_HAS_HOSTS, constants.ACTIVE), else_=constants.CREATED))

_SELECT = sa.select(*_COLUMNS).select_from(_WITH_STATE)
_LIST = _SELECT.order_by(aggregates.c.id)
_GET = prepared.Prepared(_SELECT.where(
    aggregates.c.id == sa.bindparam('aggregate_id')))
_IN_STATE = _SELECT.where(_STATE == sa.bindparam('state')).order_by(
    aggregates.c.id)


_READS = aggregate_reads.AggregateReads(
    _KEYS, aggregate_hosts, aggregate_metadata, derive_state=True)


@engine.reader
def aggregate_get_all(context):
    """All aggregates with hosts and metadata, in two statements."""
    return _READS.all(context.connection, _LIST)


@engine.reader
def aggregate_list(context):
    """``(version, aggregates)``: all aggregates and a version made of
    their content (Nova changes these tables without a counter of ours)."""
    listed = _READS.all(context.connection, _LIST)
    return aggregate_reads.list_version(
        [version_of(agg) for agg in listed]), listed


def aggregate_versions(context):
    """None: only reading the aggregates tells their versions."""
    return None


_SOME = _SELECT.where(aggregates.c.id.in_(
    sa.bindparam('ids', expanding=True))).order_by(aggregates.c.id)


@engine.reader
def aggregate_get_many(context, ids):
    """The aggregates of ``ids`` that exist, in id order."""
    return _READS.some(context.connection, _SOME, {'ids': list(ids)})


def aggregates_version(context):
    """None: only reading the whole list tells its version."""
    return None


def aggregate_version(context, aggregate_id):
    """None: only reading the whole aggregate tells its version."""
    return None


#: Nova's rows carry no generation: the version is their content's.
version_of = aggregate_reads.content_version


@engine.reader
def aggregate_get(context, aggregate_id):
    return _READS.one(context.connection, _GET, aggregate_id)


@engine.reader
def aggregate_get_by_state(context, state):
    """The aggregates in ``operational_state`` ``state``, with hosts and
    metadata, in two statements."""
    return _READS.some(context.connection, _IN_STATE, {'state': state})


# -- writing ------------------------------------------------------------------

_INSERT = aggregates.insert()
_INSERT_METADATA = aggregate_metadata.insert()
_THIS_AGGREGATE = aggregates.c.id == sa.bindparam('aggregate_id')
#: Locks Nova's row, sets what is given (name, updated_at).
_UPDATE = aggregates.update().where(_THIS_AGGREGATE)
#: Locks Nova's row and changes nothing.
_LOCK_ONLY = aggregates.update().where(_THIS_AGGREGATE).values(
    updated_at=aggregates.c.updated_at)
_DELETE = aggregates.delete().where(_THIS_AGGREGATE)
_DELETE_HOSTS = aggregate_hosts.delete().where(
    aggregate_hosts.c.aggregate_id == sa.bindparam('aggregate_id'))
_DELETE_METADATA = aggregate_metadata.delete().where(
    aggregate_metadata.c.aggregate_id == sa.bindparam('aggregate_id'))

# Our state table has a column aggregate_id: its statements bind the id as
# ``target_id``.
_UUID_OF_TARGET = sa.select(sa.func.coalesce(aggregates.c.uuid, '')).where(
    aggregates.c.id == sa.bindparam('target_id')).scalar_subquery()
_UPDATE_STATE = aggregate_state.update().where(
    aggregate_state.c.aggregate_id == sa.bindparam('target_id')).where(
    aggregate_state.c.aggregate_uuid == _UUID_OF_TARGET)
_UPDATE_STATE_IN = _UPDATE_STATE.where(
    aggregate_state.c.operational_state.in_(
        sa.bindparam('expected', expanding=True)))
#: A compare-and-set that sets nothing but checks the state.
_CHECK_STATE_IN = _UPDATE_STATE_IN.values(
    operational_state=aggregate_state.c.operational_state)
#: What a state write needs when the UPDATE found no row of the aggregate.
_PROBE_STATE = sa.select(
    aggregates.c.uuid, aggregate_state.c.aggregate_uuid,
    sa.exists().where(aggregate_hosts.c.aggregate_id == aggregates.c.id)
).select_from(aggregates.outerjoin(
    aggregate_state, aggregate_state.c.aggregate_id == aggregates.c.id)
).where(_THIS_AGGREGATE)
_DELETE_STATE = aggregate_state.delete().where(
    aggregate_state.c.aggregate_id == sa.bindparam('target_id'))
_INSERT_STATE = aggregate_state.insert()
# Ours, and those of aggregates that Nova deleted.
_DELETE_STATES_LEFT = aggregate_state.delete().where(sa.or_(
    aggregate_state.c.aggregate_id == sa.bindparam('target_id'),
    ~sa.exists().where(aggregates.c.id == aggregate_state.c.aggregate_id)
    .where(sa.func.coalesce(aggregates.c.uuid, '') ==
           aggregate_state.c.aggregate_uuid)))


def _now(conn):
    return models.stored_time(conn.dialect, engine.now())


def _write_state(conn, aggregate_id, values, expected=None):
    """Set the state columns ``values`` of an aggregate that the caller has
    locked, if its state is one of ``expected`` (None: whatever it is);
    True if it was."""
    parameters = dict(values, target_id=aggregate_id)
    if expected is None:
        result = conn.execute(_UPDATE_STATE, parameters)
    else:
        result = conn.execute(_UPDATE_STATE_IN if values else _CHECK_STATE_IN,
                              dict(parameters, expected=list(expected)))
    if result.rowcount == 1:
        return True
    # No row of this aggregate, or (compare-and-set) one in another state.
    row = conn.execute(_PROBE_STATE, {'aggregate_id': aggregate_id}).first()
    if row is None:
        return False
    uuid, state_uuid, has_hosts = row
    if state_uuid is not None and state_uuid == (uuid or ''):
        return False
    state = constants.ACTIVE if has_hosts else constants.CREATED
    if expected is not None and state not in expected:
        return False
    if state_uuid is not None:
        conn.execute(_DELETE_STATE, {'target_id': aggregate_id})
    new = dict.fromkeys(models.STATE_COLUMNS)
    new['operational_state'] = state
    new.update(values)
    new.update(aggregate_id=aggregate_id, aggregate_uuid=uuid or '')
    conn.execute(_INSERT_STATE, new)
    return True


def _split(values):
    """``values`` as the columns of Nova's row and those of our state."""
    state = {key: values.pop(key) for key in models.STATE_COLUMNS
             if key in values}
    return values, state


@engine.writer
def aggregate_create(context, name, metadata=None, uuid=None):
    """A new aggregate in Nova's tables; it has no state row (it reads as
    ``created``) until its state first changes."""
    conn = context.connection
    agg = {'uuid': uuid or str(uuid_lib.uuid4()), 'name': name,
           'operational_state': constants.CREATED, 'last_error': None,
           'pending_host': None, 'task_owner': None,
           'task_started_at': None, 'created_at': _now(conn),
           'updated_at': None, 'generation': None}
    metadata = dict(metadata or {})
    with models.nova_strings():
        try:
            agg['id'] = conn.execute(_INSERT, {
                key: agg[key] for key in ('uuid', 'name', 'created_at')
            }).inserted_primary_key[0]
        except db_exc.DBDuplicateEntry:
            raise exception.AggregateNameExists(name=name)
        if metadata:
            conn.execute(_INSERT_METADATA, [
                {'aggregate_id': agg['id'], 'key': k, 'value': v,
                 'created_at': agg['created_at']}
                for k, v in metadata.items()])
    agg.update(hosts=[], metadata=metadata)
    return agg


@engine.writer
def lock_aggregate(context, aggregate_id, expected_versions=None):
    """Lock Nova's row of the aggregate, stamp ``updated_at`` (every
    mutation sets it) and return the aggregate as it is inside this
    transaction.

    ``expected_versions`` (an If-Match): the aggregate is locked first
    without a change and read, and stamped only if its content still has
    one of those versions, else AggregateVersionMismatch."""
    conn = context.connection
    now = _now(conn)
    if expected_versions is None:
        result = conn.execute(_UPDATE, {'aggregate_id': aggregate_id,
                                        'updated_at': now})
        if result.rowcount == 0:
            raise exception.AggregateNotFound(aggregate_id=aggregate_id)
        return aggregate_get(context, aggregate_id)
    result = conn.execute(_LOCK_ONLY, {'aggregate_id': aggregate_id})
    if result.rowcount == 0:
        raise exception.AggregateNotFound(aggregate_id=aggregate_id)
    agg = aggregate_get(context, aggregate_id)
    if version_of(agg) not in expected_versions:
        raise exception.AggregateVersionMismatch(aggregate_id=aggregate_id)
    conn.execute(_UPDATE, {'aggregate_id': aggregate_id, 'updated_at': now})
    agg['updated_at'] = now
    return agg


@engine.writer
def aggregate_update(context, aggregate_id, **values):
    """Set columns of an aggregate (name, operational_state, ...): Nova's
    in its row, which this locks first, the others in our state row."""
    conn = context.connection
    nova, state = _split(dict(values))
    nova.setdefault('updated_at', _now(conn))
    try:
        with models.nova_strings():
            result = conn.execute(_UPDATE, dict(nova,
                                                aggregate_id=aggregate_id))
    except db_exc.DBDuplicateEntry:
        raise exception.AggregateNameExists(name=values.get('name'))
    if result.rowcount == 0:
        raise exception.AggregateNotFound(aggregate_id=aggregate_id)
    if state:
        _write_state(conn, aggregate_id, state)


@engine.writer
def aggregate_compare_and_set_state(context, aggregate_id, expected, **values):
    """Set state columns only if ``operational_state`` is one of ``expected``;
    True if it was.  Atomic across processes and API nodes: it locks the
    aggregate first (and stamps ``updated_at``, as the lock that every
    caller but a release takes does anyway)."""
    conn = context.connection
    nova, state = _split(dict(values))
    nova.setdefault('updated_at', _now(conn))
    result = conn.execute(_UPDATE, dict(nova, aggregate_id=aggregate_id))
    if result.rowcount == 0:
        return False
    return _write_state(conn, aggregate_id, state, expected)


@engine.writer
def aggregate_delete(context, aggregate_id):
    """Delete the aggregate from Nova's tables (its hosts and metadata
    first: Nova's foreign keys do not cascade), and its state row with
    those that aggregates deleted by Nova left."""
    conn = context.connection
    conn.execute(_DELETE_HOSTS, {'aggregate_id': aggregate_id})
    conn.execute(_DELETE_METADATA, {'aggregate_id': aggregate_id})
    result = conn.execute(_DELETE, {'aggregate_id': aggregate_id})
    if result.rowcount == 0:
        raise exception.AggregateNotFound(aggregate_id=aggregate_id)
    conn.execute(_DELETE_STATES_LEFT, {'target_id': aggregate_id})
