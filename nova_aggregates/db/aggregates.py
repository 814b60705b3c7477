"""Queries of the ``aggregates`` table, and whole aggregates read with their
hosts and metadata.

Reads cost two statements whatever the number of aggregates, hosts or keys
(``aggregate_reads``).  Statements are built once, at import, with bind
parameters: building a statement per call costs several times more than
running it.  Columns to SET come from the parameters given at execution.

Versions (conditional requests, ``changes``): an aggregate's is its
generation, the list's the change counter; every write here notes its
change.

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
from nova_aggregates.db import aggregate_reads
from nova_aggregates.db import changes
from nova_aggregates.db import direct
from nova_aggregates.db import prepared
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
    aggregates.c.updated_at, aggregates.c.generation)
_KEYS = tuple(column.key for column in _COLUMNS)

_LIST = sa.select(*_COLUMNS).order_by(aggregates.c.id)
# Run as the driver's SQL (``prepared``), as every change's statements.
_GET = prepared.Prepared(sa.select(*_COLUMNS).where(
    aggregates.c.id == sa.bindparam('aggregate_id')))
_IN_STATE = sa.select(*_COLUMNS).where(
    aggregates.c.operational_state == sa.bindparam('state')).order_by(
    aggregates.c.id)


_READS = aggregate_reads.AggregateReads(
    _KEYS, aggregate_hosts, aggregate_metadata)

_GENERATION = sa.select(aggregates.c.generation).where(
    aggregates.c.id == sa.bindparam('aggregate_id'))
# As text, by the database: the versions as they are compared.
_GENERATIONS = sa.select(
    aggregates.c.id, sa.cast(aggregates.c.generation, sa.String)).order_by(
    aggregates.c.id)
_SOME = sa.select(*_COLUMNS).where(aggregates.c.id.in_(
    sa.bindparam('ids', expanding=True))).order_by(aggregates.c.id)


@engine.reader
def aggregate_get_all(context):
    """All aggregates with hosts and metadata, in two statements.

    An aggregate deleted between the statements simply keeps what the first
    one saw; the list never fails because of it.
    """
    return _READS.all(context.connection, _LIST)


@engine.reader
def aggregate_list(context):
    """``(version, aggregates)``: the change counter, read first (so the
    list is at least as new as the version: a version never stands for
    an older list), and all aggregates as ``aggregate_get_all``."""
    conn = context.connection
    version = str(conn.execute(changes.COUNTER).scalar_one())
    return version, _READS.all(conn, _LIST)


# Versions are read on their own (``direct``): they answer conditional
# polls and shows of kept renderings, and stand alone.
_COUNTER = prepared.Prepared(changes.COUNTER)
_ONE_GENERATION = prepared.Prepared(_GENERATION)
_ALL_GENERATIONS = prepared.Prepared(_GENERATIONS)


def aggregates_version(context):
    """The version of the aggregate list (one read of one row)."""
    rows = direct.fetch((_COUNTER, None))
    if rows is None:
        return _aggregates_version_read(context)
    return str(rows[0][0][0])


@engine.reader
def _aggregates_version_read(context):
    return str(context.connection.execute(changes.COUNTER).scalar_one())


def aggregate_version(context, aggregate_id):
    """The version of one aggregate (one read by primary key)."""
    rows = direct.fetch((_ONE_GENERATION, {'aggregate_id': aggregate_id}))
    if rows is None:
        return _aggregate_version_read(context, aggregate_id)
    if not rows[0]:
        raise exception.AggregateNotFound(aggregate_id=aggregate_id)
    return str(rows[0][0][0])


@engine.reader
def _aggregate_version_read(context, aggregate_id):
    generation = context.connection.execute(
        _GENERATION, {'aggregate_id': aggregate_id}).scalar()
    if generation is None:
        raise exception.AggregateNotFound(aggregate_id=aggregate_id)
    return str(generation)


def aggregate_versions(context):
    """``(version, [(id, version), ...])``: the list's version, read first
    (so no aggregate is older than it), and every aggregate's, in id
    order (one read of the primary key)."""
    rows = direct.fetch((_COUNTER, None), (_ALL_GENERATIONS, None))
    if rows is None:
        return _aggregate_versions_read(context)
    return str(rows[0][0][0]), rows[1]


@engine.reader
def _aggregate_versions_read(context):
    conn = context.connection
    version = str(conn.execute(changes.COUNTER).scalar_one())
    return version, aggregate_reads.plain_rows(conn.execute(_GENERATIONS))


@engine.reader
def aggregate_get_many(context, ids):
    """The aggregates of ``ids`` that exist, with hosts and metadata, in id
    order (two statements)."""
    return _READS.some(context.connection, _SOME, {'ids': list(ids)})


def version_of(agg):
    """The version of an aggregate as read: its generation."""
    return str(agg['generation'])


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
_UPDATE = prepared.Prepared(aggregates.update().where(_THIS_AGGREGATE))
_LOCK = aggregates.update().where(_THIS_AGGREGATE).values(
    generation=aggregates.c.generation + 1)
_LOCK_IF_VERSION = _LOCK.where(aggregates.c.generation.in_(
    sa.bindparam('versions', expanding=True)))
_UPDATE_IN_STATE = aggregates.update().where(_THIS_AGGREGATE).where(
    aggregates.c.operational_state.in_(
        sa.bindparam('expected', expanding=True)))
# Its hosts and metadata go with it (ON DELETE CASCADE).
_DELETE = prepared.Prepared(aggregates.delete().where(_THIS_AGGREGATE))
# Without If-Match, as the driver's SQL (``prepared``).
_LOCK_PREPARED = prepared.Prepared(_LOCK)


@engine.writer
def aggregate_create(context, name, metadata=None, uuid=None):
    conn = context.connection
    agg = {'uuid': uuid or str(uuid_lib.uuid4()), 'name': name,
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
    agg['generation'] = 1
    changes.note_change(conn, agg['id'], bumped=True)
    metadata = dict(metadata or {})
    if metadata:
        conn.execute(_INSERT_METADATA, [
            {'aggregate_id': agg['id'], 'key': k, 'value': v}
            for k, v in metadata.items()])
    # What was just written, without reading it back.
    agg.update(hosts=[], metadata=metadata)
    return agg


@engine.writer
def lock_aggregate(context, aggregate_id, expected_versions=None):
    """Lock the aggregate row, stamp ``updated_at`` and raise its generation
    (every mutation does both) and return the aggregate as it is inside
    this transaction.

    ``expected_versions``: the versions the caller read (an If-Match); the
    lock is taken only while the aggregate still has one of them, in the
    same statement, else AggregateVersionMismatch."""
    conn = context.connection
    parameters = {'aggregate_id': aggregate_id, 'updated_at': engine.now()}
    if expected_versions is None:
        result = _LOCK_PREPARED.execute(conn, parameters)
    else:
        parameters['versions'] = [
            int(v) for v in expected_versions if v.isdigit() and len(v) < 19]
        result = conn.execute(_LOCK_IF_VERSION, parameters)
    if result.rowcount == 0:
        if expected_versions is not None and conn.execute(
                _GENERATION, {'aggregate_id': aggregate_id}).scalar() \
                is not None:
            raise exception.AggregateVersionMismatch(
                aggregate_id=aggregate_id)
        raise exception.AggregateNotFound(aggregate_id=aggregate_id)
    changes.note_change(conn, aggregate_id, bumped=True)
    return _READS.one(conn, _GET, aggregate_id)


@engine.writer
def aggregate_update(context, aggregate_id, **values):
    """Set columns of an aggregate (name, operational_state, ...)."""
    conn = context.connection
    values.setdefault('updated_at', engine.now())
    try:
        result = _UPDATE.execute(
            conn, dict(values, aggregate_id=aggregate_id))
    except db_exc.DBDuplicateEntry:
        raise exception.AggregateNameExists(name=values.get('name'))
    if result.rowcount == 0:
        raise exception.AggregateNotFound(aggregate_id=aggregate_id)
    changes.note_change(conn, aggregate_id)


@engine.writer
def aggregate_compare_and_set_state(context, aggregate_id, expected, **values):
    """Set state columns only if ``operational_state`` is one of ``expected``;
    True if it was.  Atomic across processes and API nodes."""
    conn = context.connection
    values.setdefault('updated_at', engine.now())
    result = conn.execute(_UPDATE_IN_STATE, dict(
        values, aggregate_id=aggregate_id, expected=list(expected)))
    if result.rowcount != 1:
        return False
    changes.note_change(conn, aggregate_id)
    return True


@engine.writer
def aggregate_delete(context, aggregate_id):
    conn = context.connection
    result = _DELETE.execute(conn, {'aggregate_id': aggregate_id})
    if result.rowcount == 0:
        raise exception.AggregateNotFound(aggregate_id=aggregate_id)
    changes.note_change(conn, aggregate_id, bumped=True)
