"""Writes of Nova's ``aggregate_metadata`` (``db/aggregate_metadata.py``'s
function; reads go with the aggregate, in ``aggregates.py``)."""

from oslo_db import exception as db_exc
import sqlalchemy as sa

from nova_aggregates.db import engine
from nova_aggregates.db.nova_api import models
from nova_aggregates.db.nova_api.models import aggregate_metadata
from nova_aggregates import exception

_INSERT = aggregate_metadata.insert()
_DELETE_KEYS = aggregate_metadata.delete().where(
    aggregate_metadata.c.aggregate_id == sa.bindparam('aggregate_id')).where(
    aggregate_metadata.c.key.in_(sa.bindparam('keys', expanding=True)))


@engine.writer
def aggregate_metadata_update(context, aggregate_id, set_items=None,
                              remove_keys=()):
    """Merge ``set_items`` and drop ``remove_keys`` (absent keys are fine).

    The caller holds the aggregate lock, so delete-then-insert is a safe
    upsert against our own writers.  Nova's API writes metadata without
    that lock: a key it inserts at the same moment is a conflict.
    """
    conn = context.connection
    set_items = set_items or {}
    keys = set(set_items) | set(remove_keys)
    if keys:
        conn.execute(_DELETE_KEYS, {'aggregate_id': aggregate_id,
                                    'keys': sorted(keys)})
    if set_items:
        stamp = models.stored_time(conn.dialect, engine.now())
        try:
            with models.nova_strings():
                conn.execute(_INSERT, [
                    {'aggregate_id': aggregate_id, 'key': k, 'value': v,
                     'created_at': stamp}
                    for k, v in set_items.items()])
        except db_exc.DBDuplicateEntry:
            # A key written by Nova meanwhile, or one that Nova's collation
            # takes for another of set_items (MySQL: 'k' and 'K').
            raise exception.Conflict(
                'Metadata of aggregate %s changed while it was written, or '
                "two of its keys are one for Nova's API database; retry."
                % aggregate_id)
