"""Queries of the rolling maintenance tables: tasks, their hosts, and the
claim of the runner executing a task (one table pair in both stores)."""

import sqlalchemy as sa

from nova_aggregates import constants
from nova_aggregates.db import engine
from nova_aggregates.db.models import rolling_maintenance_hosts as hosts_t
from nova_aggregates.db.models import rolling_maintenance_tasks as tasks_t
from nova_aggregates import exception

_TASK_COLUMNS = ('id', 'aggregate_id', 'state', 'host_action', 'owner',
                 'heartbeat_at', 'logbook_uuid', 'flow_uuid', 'created_at',
                 'updated_at')
_HOST_COLUMNS = ('position', 'host', 'state', 'step', 'started_at',
                 'finished_at', 'guests_moved', 'message')

_GET = sa.select(tasks_t).where(tasks_t.c.id == sa.bindparam('task_id'))
_ALL = sa.select(tasks_t).order_by(tasks_t.c.created_at.desc(),
                                   tasks_t.c.id.desc())
_OF_STATES = sa.select(tasks_t).where(tasks_t.c.state.in_(
    sa.bindparam('states', expanding=True))).order_by(tasks_t.c.id)
_ACTIVE_OF_AGGREGATE = sa.select(tasks_t.c.id, tasks_t.c.state).where(
    tasks_t.c.aggregate_id == sa.bindparam('aggregate_id'),
    tasks_t.c.state.in_(constants.TASK_ACTIVE_STATES)).order_by(tasks_t.c.id)
_HOSTS_OF = sa.select(hosts_t).where(hosts_t.c.task_id.in_(
    sa.bindparam('task_ids', expanding=True))).order_by(
    hosts_t.c.task_id, hosts_t.c.position)
# An UPDATE that changes nothing but the stamp locks the row on every
# backend (SQLite included), as lock_aggregate does.
_LOCK = tasks_t.update().where(
    tasks_t.c.id == sa.bindparam('task_id')).values(
    updated_at=sa.bindparam('now'))


def _task(row, hosts):
    task = {k: row._mapping[k] for k in _TASK_COLUMNS}
    task['hosts'] = hosts
    return task


def _hosts_by_task(conn, task_ids):
    found = {task_id: [] for task_id in task_ids}
    if task_ids:
        for row in conn.execute(_HOSTS_OF, {'task_ids': list(task_ids)}):
            found[row.task_id].append({k: row._mapping[k]
                                       for k in _HOST_COLUMNS})
    return found


@engine.writer
def rolling_task_create(context, aggregate_id, host_action, host_names):
    """A new queued task of ``aggregate_id`` over ``host_names`` (in
    order); returns its id."""
    conn = context.connection
    now = engine.now()
    task_id = conn.execute(tasks_t.insert(), {
        'aggregate_id': aggregate_id, 'state': constants.TASK_QUEUED,
        'host_action': host_action, 'created_at': now,
        'updated_at': now}).inserted_primary_key[0]
    conn.execute(hosts_t.insert(), [
        {'task_id': task_id, 'position': position, 'host': host,
         'state': constants.TASK_HOST_PENDING, 'guests_moved': 0}
        for position, host in enumerate(host_names)])
    return task_id


@engine.reader
def rolling_task_get(context, task_id):
    conn = context.connection
    row = conn.execute(_GET, {'task_id': task_id}).first()
    if row is None:
        raise exception.RollingMaintenanceNotFound(task_id=task_id)
    return _task(row, _hosts_by_task(conn, [task_id])[task_id])


@engine.reader
def rolling_task_get_all(context, states=None):
    """Tasks with their hosts, newest first (``states``: only those)."""
    conn = context.connection
    if states is None:
        rows = conn.execute(_ALL).all()
    else:
        rows = conn.execute(_OF_STATES, {'states': list(states)}).all()
    hosts = _hosts_by_task(conn, [row.id for row in rows])
    return [_task(row, hosts[row.id]) for row in rows]


@engine.reader
def rolling_task_active_of(context, aggregate_id):
    """The id of the queued, running or cancelling task of
    ``aggregate_id``, or None."""
    row = context.connection.execute(
        _ACTIVE_OF_AGGREGATE, {'aggregate_id': aggregate_id}).first()
    return None if row is None else row.id


@engine.writer
def lock_rolling_task(context, task_id):
    """Lock the task row (in the caller's transaction) and return the task
    as it is inside it."""
    result = context.connection.execute(_LOCK, {'task_id': task_id,
                                                'now': engine.now()})
    if result.rowcount == 0:
        raise exception.RollingMaintenanceNotFound(task_id=task_id)
    return rolling_task_get(context, task_id)


@engine.writer
def rolling_task_update(context, task_id, expect_owner=None, **values):
    """Set columns of a task; with ``expect_owner``, only while that runner
    still owns it.  Whether it was set."""
    stmt = tasks_t.update().where(tasks_t.c.id == task_id)
    if expect_owner is not None:
        stmt = stmt.where(tasks_t.c.owner == expect_owner)
    values.setdefault('updated_at', engine.now())
    return context.connection.execute(stmt.values(**values)).rowcount == 1


@engine.writer
def rolling_task_host_update(context, task_id, position, **values):
    context.connection.execute(hosts_t.update().where(
        hosts_t.c.task_id == task_id,
        hosts_t.c.position == position).values(**values))


@engine.writer
def rolling_task_claim(context, task_id, expect_owner, owner):
    """Make ``owner`` the runner of an active task still owned by
    ``expect_owner`` (None: nobody), renewing its claim; a queued task
    becomes running.  Whether it did."""
    stmt = tasks_t.update().where(
        tasks_t.c.id == task_id,
        tasks_t.c.state.in_(constants.TASK_ACTIVE_STATES),
        tasks_t.c.owner.is_(None) if expect_owner is None
        else tasks_t.c.owner == expect_owner)
    now = engine.now()
    return context.connection.execute(stmt.values(
        owner=owner, heartbeat_at=now, updated_at=now,
        state=sa.case((tasks_t.c.state == constants.TASK_QUEUED,
                       constants.TASK_RUNNING), else_=tasks_t.c.state),
    )).rowcount == 1
