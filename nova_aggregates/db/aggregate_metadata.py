"""Queries of the ``aggregate_metadata`` table (reads go with the aggregate,
in ``db/aggregates.py``)."""

import sqlalchemy as sa

from nova_aggregates.db import changes
from nova_aggregates.db import engine
from nova_aggregates.db.models import aggregate_metadata
from nova_aggregates.db import prepared

_INSERT = prepared.Prepared(aggregate_metadata.insert())
_OF_AGGREGATE = aggregate_metadata.c.aggregate_id == sa.bindparam(
    'aggregate_id')
_DELETE_KEYS = aggregate_metadata.delete().where(_OF_AGGREGATE).where(
    aggregate_metadata.c.key.in_(sa.bindparam('keys', expanding=True)))
#: Up to this many keys, the DELETE of a request's keys is a statement
#: prepared for that number of keys (``key0``, ``key1``, ...): an expanding
#: IN is compiled again on each execution.
PREPARED_KEYS = 64
#: number of keys -> prepared.Prepared
_DELETE_N_KEYS = {}


def _delete_keys(conn, aggregate_id, keys):
    count = len(keys)
    if count > PREPARED_KEYS:
        conn.execute(_DELETE_KEYS, {'aggregate_id': aggregate_id,
                                    'keys': keys})
        return
    statement = _DELETE_N_KEYS.get(count)
    if statement is None:
        statement = _DELETE_N_KEYS.setdefault(count, prepared.Prepared(
            aggregate_metadata.delete().where(_OF_AGGREGATE).where(
                aggregate_metadata.c.key.in_([
                    sa.bindparam('key%d' % n) for n in range(count)]))))
    params = {'key%d' % n: key for n, key in enumerate(keys)}
    params['aggregate_id'] = aggregate_id
    statement.execute(conn, params)


@engine.writer
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
        _delete_keys(conn, aggregate_id, sorted(keys))
    if set_items:
        _INSERT.execute_many(conn, [
            {'aggregate_id': aggregate_id, 'key': k, 'value': v}
            for k, v in set_items.items()])
    if keys:
        changes.note_change(conn, aggregate_id)
