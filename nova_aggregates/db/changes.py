"""What conditional requests compare (own store): each aggregate's
``generation`` and the ``aggregate_changes`` counter.

A write function that changes what an aggregate shows calls
``note_change(conn, aggregate_id)`` in its transaction: the first call for an
aggregate raises its generation by one (``bumped=True``: the caller's own
statement already did), and the transaction is remembered as one that
changed aggregates.  When such a transaction commits, the counter goes up by
one, in the same transaction (``listen`` puts that on the engine's commit).

At commit, not at the first change: the counter row is the one row every
writer updates, and taken last it is held only while the transaction
commits, with no other lock still to wait for: writers do not queue behind
each other's work, and it cannot take part in a deadlock.
"""

import sqlalchemy as sa

from nova_aggregates.db.models import aggregate_changes
from nova_aggregates.db.models import aggregates
from nova_aggregates.db import prepared

#: conn.info key: (transaction, ids of the aggregates it changed).
_INFO_KEY = 'nova_aggregates.changes'

BUMP_GENERATION = aggregates.update().where(
    aggregates.c.id == sa.bindparam('aggregate_id')).values(
    generation=aggregates.c.generation + 1)
_BUMP_COUNTER = aggregate_changes.update().where(
    aggregate_changes.c.id == 1).values(
    counter=aggregate_changes.c.counter + 1)
COUNTER = sa.select(aggregate_changes.c.counter).where(
    aggregate_changes.c.id == 1)
_BUMP_GENERATION_PREPARED = prepared.Prepared(BUMP_GENERATION)
_BUMP_COUNTER_PREPARED = prepared.Prepared(_BUMP_COUNTER)


def note_change(conn, aggregate_id, bumped=False):
    """The transaction on ``conn`` changes aggregate ``aggregate_id``."""
    transaction = conn.get_transaction()
    noted = conn.info.get(_INFO_KEY)
    if noted is None or noted[0] is not transaction:
        noted = conn.info[_INFO_KEY] = (transaction, set())
    changed = noted[1]
    if aggregate_id not in changed:
        changed.add(aggregate_id)
        if not bumped:
            _BUMP_GENERATION_PREPARED.execute(
                conn, {'aggregate_id': aggregate_id})


def _bump_counter(conn):
    noted = conn.info.pop(_INFO_KEY, None)
    if noted is not None and noted[0] is conn.get_transaction():
        _BUMP_COUNTER_PREPARED.execute(conn)


def _forget(conn):
    # A connection the database dropped has no info to reach (asking
    # raises) and whatever it noted went with that transaction anyway.
    if not conn.invalidated:
        conn.info.pop(_INFO_KEY, None)


def listen(engine):
    """Bump the counter when a transaction that changed aggregates
    commits; forget the changes of one rolled back."""
    sa.event.listen(engine, 'commit', _bump_counter)
    sa.event.listen(engine, 'rollback', _forget)
