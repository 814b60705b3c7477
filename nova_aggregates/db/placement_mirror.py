"""Queries of the ``placement_mirror_steps`` table (one table in both
stores): memberships Placement may not show yet, one row per aggregate
and host, from the transaction that changed the membership until
Placement matches."""

import sqlalchemy as sa

from nova_aggregates.db import engine
from nova_aggregates.db.models import placement_mirror_steps as steps

_KEY = sa.and_(steps.c.aggregate_uuid == sa.bindparam('b_aggregate_uuid'),
               steps.c.host == sa.bindparam('host_name'))
_GET = sa.select(steps).where(_KEY)
_BUMP = steps.update().where(_KEY).values(
    version=steps.c.version + 1, queued_at=sa.bindparam('now'),
    next_attempt_at=sa.bindparam('due_at'))
_DONE = steps.delete().where(_KEY).where(
    steps.c.version == sa.bindparam('seen_version'))
_FAILED = steps.update().where(_KEY).values(
    attempts=steps.c.attempts + 1, last_error=sa.bindparam('error'),
    next_attempt_at=sa.bindparam('next_attempt_at'))
_CLAIM = steps.update().where(_KEY).where(
    steps.c.next_attempt_at == sa.bindparam('due_at')).values(
    next_attempt_at=sa.bindparam('until'))
_DUE = sa.select(steps).where(
    steps.c.next_attempt_at <= sa.bindparam('now')).order_by(
    steps.c.next_attempt_at, steps.c.aggregate_uuid, steps.c.host).limit(
    sa.bindparam('limit'))
_ALL = sa.select(steps).order_by(steps.c.aggregate_uuid, steps.c.host)


def _step(row):
    return dict(row._mapping) if row is not None else None


@engine.writer
def placement_step_queue(context, aggregate_id, aggregate_uuid, hosts,
                         due_at):
    """Record that the membership of ``hosts`` in the aggregate changed
    (in the caller's transaction): a new step, or a new version of the
    step still waiting, due for a retry at ``due_at`` (the caller runs it
    first)."""
    conn = context.connection
    now = engine.now()
    for host in sorted(set(hosts)):
        key = {'b_aggregate_uuid': aggregate_uuid, 'host_name': host}
        if conn.execute(_BUMP, dict(key, now=now,
                                    due_at=due_at)).rowcount == 0:
            conn.execute(steps.insert(), {
                'aggregate_uuid': aggregate_uuid, 'host': host,
                'aggregate_id': aggregate_id, 'version': 1,
                'queued_at': now, 'next_attempt_at': due_at,
                'attempts': 0})


@engine.reader
def placement_step_get(context, aggregate_uuid, host):
    return _step(context.connection.execute(_GET, {
        'b_aggregate_uuid': aggregate_uuid, 'host_name': host}).first())


@engine.writer
def placement_step_done(context, aggregate_uuid, host, version):
    """Forget the step if it is still at ``version`` (a later change keeps
    it for its own attempt); whether it was forgotten."""
    return context.connection.execute(_DONE, {
        'b_aggregate_uuid': aggregate_uuid, 'host_name': host,
        'seen_version': version}).rowcount == 1


@engine.writer
def placement_step_failed(context, aggregate_uuid, host, error,
                          next_attempt_at):
    context.connection.execute(_FAILED, {
        'b_aggregate_uuid': aggregate_uuid, 'host_name': host,
        'error': error[:4000], 'next_attempt_at': next_attempt_at})


@engine.writer
def placement_step_claim(context, step, until):
    """Take a due ``step`` (as read) for an attempt: push its next attempt
    to ``until`` unless another process did first; whether we did."""
    return context.connection.execute(_CLAIM, {
        'b_aggregate_uuid': step['aggregate_uuid'], 'host_name': step['host'],
        'due_at': step['next_attempt_at'], 'until': until}).rowcount == 1


@engine.reader
def placement_steps_due(context, limit=100):
    return [_step(row) for row in context.connection.execute(
        _DUE, {'now': engine.now(), 'limit': limit})]


@engine.reader
def placement_steps_all(context):
    return [_step(row) for row in context.connection.execute(_ALL)]
