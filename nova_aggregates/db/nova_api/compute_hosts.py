"""The compute host registry in Nova's API database: our ``compute_hosts``
table, the own store's shape, read and written by ``db/compute_hosts.py``'s
statements, except where a host's aggregates are asked of Nova's tables."""

import sqlalchemy as sa

from nova_aggregates import constants
from nova_aggregates.db import compute_hosts as registry
from nova_aggregates.db import engine
from nova_aggregates.db.nova_api.models import aggregate_hosts
from nova_aggregates.db.nova_api.models import aggregate_metadata
from nova_aggregates.db.nova_api.models import compute_hosts
from nova_aggregates import exception

lock_hosts = registry.lock_hosts
compute_host_claim = registry.compute_host_claim
compute_host_release = registry.compute_host_release
compute_host_create = registry.compute_host_create
compute_host_update = registry.compute_host_update
compute_host_get = registry.compute_host_get

_ALL = sa.select(compute_hosts).order_by(compute_hosts.c.name)
_ZONES = sa.select(aggregate_hosts.c.host, aggregate_metadata.c.value).join(
    aggregate_metadata, sa.and_(
        aggregate_metadata.c.aggregate_id == aggregate_hosts.c.aggregate_id,
        aggregate_metadata.c.key == constants.AVAILABILITY_ZONE))
_IN_USE = sa.select(aggregate_hosts.c.aggregate_id).where(
    aggregate_hosts.c.host == sa.bindparam('name'))
_DELETE = compute_hosts.delete().where(
    compute_hosts.c.name == sa.bindparam('name'))


@engine.reader
def compute_host_get_all(context):
    """Hosts with the zones of the aggregates each is in
    (``aggregate_zones``), in two statements."""
    conn = context.connection
    hosts = [dict(row._mapping) for row in conn.execute(_ALL)]
    zones = {}
    for host, zone in conn.execute(_ZONES):
        zones.setdefault(host, set()).add(zone)
    for host in hosts:
        host['aggregate_zones'] = sorted(zones.get(host['name'], ()))
    return hosts


@engine.writer
def compute_host_delete(context, name):
    conn = context.connection
    lock_hosts(context, [name])
    in_use = conn.execute(_IN_USE, {'name': name}).scalars().all()
    if in_use:
        raise exception.ComputeHostInUse(host=name, aggregates=sorted(in_use))
    conn.execute(_DELETE, {'name': name})
