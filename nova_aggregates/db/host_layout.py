"""What host matching reads: every registered compute host and every
aggregate with its members and metadata, in a few statements whatever the
number of hosts, aggregates or keys.

The own store reads the aggregates' change counter first (its
``aggregate_changes``): a caller that still holds the aggregates of that
version is given only the hosts.  Then one statement selects the compute
hosts, and one UNION ALL the aggregates' members (kind 0), metadata
(kind 1) and rows (kind 2): rows, not the product a join would make.  The
nova_api store runs the same statements on its own tables
(``db/nova_api/host_layout.py``), without the counter: Nova changes its
aggregate tables without one of ours.  They are built once, here, for each.
"""

import sqlalchemy as sa

from nova_aggregates.db import changes
from nova_aggregates.db import engine
from nova_aggregates.db import models

#: The columns of a compute host a match needs, in the order selected.
HOST_KEYS = ('name', 'zone', 'status', 'disabled_reason', 'maintenance',
             'hypervisor_url')

_MEMBER, _METADATA, _AGGREGATE = 0, 1, 2


class HostLayoutReads:
    """The statements on one store's tables; ``counter``, the statement
    that reads the aggregates' version (None: the store has none)."""

    def __init__(self, aggregates, aggregate_hosts, aggregate_metadata,
                 compute_hosts, counter=None):
        self._counter = counter
        self._hosts = sa.select(*(compute_hosts.c[key] for key in HOST_KEYS)
                                ).order_by(compute_hosts.c.name)
        self._aggregates = sa.union_all(
            sa.select(sa.literal(_MEMBER).label('kind'),
                      aggregate_hosts.c.aggregate_id,
                      aggregate_hosts.c.host.label('key'),
                      sa.null().label('value')),
            sa.select(sa.literal(_METADATA), aggregate_metadata.c.aggregate_id,
                      aggregate_metadata.c.key, aggregate_metadata.c.value),
            sa.select(sa.literal(_AGGREGATE), aggregates.c.id,
                      aggregates.c.name, sa.null()))

    def read(self, conn, known_version=None):
        """``(version, hosts, aggregates)``: the aggregates' version (None
        when the store has none); the hosts as rows (tuples) of the
        columns ``HOST_KEYS``, by name; the aggregates as ``{"id", "name",
        "hosts", "metadata"}``, by id, or None when their version is
        ``known_version`` (they are not read then).  A member or key whose
        aggregate was deleted between the statements goes with it."""
        # The version first: what is read after it is at least as new, so
        # aggregates kept under a version are never older than it.
        version = None if self._counter is None else str(
            conn.execute(self._counter).scalar_one())
        # .all(): one fetch, not one per row.
        hosts = conn.execute(self._hosts).all()
        if version is not None and version == known_version:
            return version, hosts, None
        found = {}
        for kind, aggregate_id, key, value in conn.execute(
                self._aggregates).all():
            agg = found.get(aggregate_id)
            if agg is None:
                agg = found[aggregate_id] = {'id': aggregate_id, 'name': None,
                                             'hosts': [], 'metadata': {},
                                             'exists': False}
            if kind == _MEMBER:
                agg['hosts'].append(key)
            elif kind == _METADATA:
                agg['metadata'][key] = value
            else:
                agg['name'] = key
                agg['exists'] = True
        aggregates = []
        for aggregate_id in sorted(found):
            agg = found[aggregate_id]
            if agg.pop('exists'):
                aggregates.append(agg)
        return version, hosts, aggregates


_READS = HostLayoutReads(models.aggregates, models.aggregate_hosts,
                         models.aggregate_metadata, models.compute_hosts,
                         counter=changes.COUNTER)


@engine.reader
def host_layout_get(context, known_version=None):
    """Every compute host, and every aggregate with members and metadata
    unless their version is still ``known_version``
    (``HostLayoutReads.read``): three statements, or two."""
    return _READS.read(context.connection, known_version)
