"""Queries of the ``compute_hosts`` table: registration, and the row locks
that serialize the membership changes of a host."""

from oslo_db import exception as db_exc
import sqlalchemy as sa

from nova_aggregates import constants
from nova_aggregates.db import engine
from nova_aggregates.db.models import aggregate_hosts
from nova_aggregates.db.models import aggregate_metadata
from nova_aggregates.db.models import compute_hosts
from nova_aggregates.db import prepared
from nova_aggregates import exception

# Writes nothing new: the UPDATE is what takes the row locks (the database
# write lock on SQLite), as ``aggregates.lock_aggregate`` explains.
_LOCK = compute_hosts.update().where(
    compute_hosts.c.name.in_(sa.bindparam('names', expanding=True))).values(
    updated_at=compute_hosts.c.updated_at)
_GET_MANY = sa.select(compute_hosts).where(
    compute_hosts.c.name.in_(sa.bindparam('names', expanding=True)))
# One host, the common case (add_host, remove_host): the same statements
# without the expanding IN, which SQLAlchemy compiles on every execution.
_ONE = compute_hosts.c.name == sa.bindparam('host_name')
_LOCK_ONE = prepared.Prepared(compute_hosts.update().where(_ONE).values(
    updated_at=compute_hosts.c.updated_at))
_GET_ONE = prepared.Prepared(sa.select(compute_hosts).where(_ONE))
_COLUMNS = tuple(column.name for column in compute_hosts.columns)


_THIS_HOST = compute_hosts.c.name == sa.bindparam('host_name')
_CLAIM = compute_hosts.update().where(_THIS_HOST).where(
    compute_hosts.c.task_owner.is_(None))
_RELEASE = compute_hosts.update().where(_THIS_HOST).where(
    compute_hosts.c.task_owner == sa.bindparam('owner'))


@engine.writer
def compute_host_claim(context, name, owner, **values):
    """Take the host's lease for ``owner`` (a status change of a host in
    no pool aggregate), setting ``values`` too; False when another holds
    it.  Atomic across processes and API nodes."""
    result = context.connection.execute(_CLAIM, dict(
        values, host_name=name, task_owner=owner,
        task_started_at=engine.now(), updated_at=engine.now()))
    return result.rowcount == 1


@engine.writer
def compute_host_release(context, name, owner, **values):
    """Give the lease of ``owner`` back, setting ``values``; False when
    ``owner`` did not hold it."""
    result = context.connection.execute(_RELEASE, dict(
        values, host_name=name, owner=owner, task_owner=None,
        task_started_at=None, updated_at=engine.now()))
    return result.rowcount == 1


@engine.writer
def lock_hosts(context, names):
    """Lock compute host rows (sorted, to avoid deadlocks) and return them as
    ``{name: host}``; an unregistered name raises ComputeHostNotFound."""
    names = sorted(set(names))
    if not names:
        return {}
    conn = context.connection
    if len(names) == 1:
        params = {'host_name': names[0]}
        _LOCK_ONE.execute(conn, params)
        rows = [dict(zip(_COLUMNS, values))
                for values in _GET_ONE.all(conn, params)]
        found = {row['name']: row for row in rows}
    else:
        conn.execute(_LOCK, {'names': names})
        found = {row.name: dict(row._mapping)
                 for row in conn.execute(_GET_MANY, {'names': names})}
    for name in names:
        if name not in found:
            raise exception.ComputeHostNotFound(host=name)
    return found


@engine.writer
def compute_host_create(context, name, zone=None, hypervisor_url=None):
    conn = context.connection
    try:
        conn.execute(compute_hosts.insert().values(
            name=name, zone=zone, hypervisor_url=hypervisor_url,
            created_at=engine.now()))
    except db_exc.DBDuplicateEntry:
        raise exception.ComputeHostExists(host=name)
    return compute_host_get(context, name)


@engine.writer
def compute_host_update(context, name, **values):
    conn = context.connection
    values['updated_at'] = engine.now()
    result = conn.execute(compute_hosts.update()
                          .where(compute_hosts.c.name == name).values(**values))
    if result.rowcount == 0:
        raise exception.ComputeHostNotFound(host=name)


@engine.reader
def compute_host_get(context, name):
    row = context.connection.execute(
        sa.select(compute_hosts).where(compute_hosts.c.name == name)).first()
    if row is None:
        raise exception.ComputeHostNotFound(host=name)
    return dict(row._mapping)


@engine.reader
def compute_host_get_all(context):
    """Hosts with the zone of their aggregates, in two statements:
    ``aggregate_zones`` lists the zones of the aggregates each is in."""
    conn = context.connection
    hosts = [dict(row._mapping) for row in conn.execute(
        sa.select(compute_hosts).order_by(compute_hosts.c.name))]
    zones = {}
    query = (sa.select(aggregate_hosts.c.host, aggregate_metadata.c.value)
             .join(aggregate_metadata, sa.and_(
                 aggregate_metadata.c.aggregate_id ==
                 aggregate_hosts.c.aggregate_id,
                 aggregate_metadata.c.key == constants.AVAILABILITY_ZONE)))
    for host, zone in conn.execute(query):
        zones.setdefault(host, set()).add(zone)
    for host in hosts:
        host['aggregate_zones'] = sorted(zones.get(host['name'], ()))
    return hosts


@engine.writer
def compute_host_delete(context, name):
    conn = context.connection
    lock_hosts(context, [name])
    in_use = conn.execute(sa.select(aggregate_hosts.c.aggregate_id).where(
        aggregate_hosts.c.host == name)).scalars().all()
    if in_use:
        raise exception.ComputeHostInUse(host=name, aggregates=sorted(in_use))
    conn.execute(compute_hosts.delete().where(compute_hosts.c.name == name))
