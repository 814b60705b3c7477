"""What host matching reads (``db/host_layout.py``), from Nova's aggregate
tables and our compute host registry: the same two statements, and no
version (Nova changes its aggregate tables without a counter of ours)."""

from nova_aggregates.db import engine
from nova_aggregates.db import host_layout
from nova_aggregates.db.nova_api import models

_READS = host_layout.HostLayoutReads(
    models.aggregates, models.aggregate_hosts, models.aggregate_metadata,
    models.compute_hosts)


@engine.reader
def host_layout_get(context, known_version=None):
    """``(None, hosts, aggregates)``: every compute host and every
    aggregate with members and metadata, in two statements, whatever
    ``known_version``."""
    return _READS.read(context.connection)
