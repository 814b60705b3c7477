"""Nova's ``aggregate_hosts``: which hosts an aggregate has, and which
aggregates a host is in (``db/aggregate_hosts.py``'s functions).

Nova's table has no foreign key to our ``compute_hosts``: the rules check
the host (``lock_hosts``) before they add it.
"""

from oslo_db import exception as db_exc
import sqlalchemy as sa

from nova_aggregates import constants
from nova_aggregates.db import aggregate_hosts as own_hosts
from nova_aggregates.db import engine
from nova_aggregates.db.nova_api import models
from nova_aggregates.db.nova_api.models import aggregate_hosts
from nova_aggregates.db.nova_api.models import aggregate_metadata
from nova_aggregates.db.nova_api.models import aggregate_state
from nova_aggregates.db.nova_api.models import aggregates
from nova_aggregates import exception

_INSERT = aggregate_hosts.insert()


@engine.writer
def aggregate_host_remove(context, aggregate_id, host):
    # Nova's table has the own store's name and columns: the own statement
    # removes a host from it as well.
    own_hosts.remove_host_row(context.connection, aggregate_id, host)


@engine.writer
def aggregate_host_add(context, aggregate_id, host):
    conn = context.connection
    try:
        with models.nova_strings():
            conn.execute(_INSERT, {
                'aggregate_id': aggregate_id, 'host': host,
                'created_at': models.stored_time(conn.dialect, engine.now())})
    except db_exc.DBDuplicateEntry:
        raise exception.AggregateHostExists(aggregate_id=aggregate_id,
                                            host=host)
    except db_exc.DBReferenceError:
        raise exception.AggregateNotFound(aggregate_id=aggregate_id)


def _host_aggregates_query():
    zone = aggregate_metadata.alias('zone')
    pool = aggregate_metadata.alias('pool')

    def with_flags(select):
        return (select
                .outerjoin(zone, sa.and_(
                    zone.c.aggregate_id == aggregates.c.id,
                    zone.c.key == constants.AVAILABILITY_ZONE))
                .outerjoin(pool, sa.and_(
                    pool.c.aggregate_id == aggregates.c.id,
                    pool.c.key == constants.POOL_FLAG)))

    # Nova's host column and our pending_host differ in collation on
    # MySQL/MariaDB, which a UNION of the two in one column refuses: each
    # has a column of its own.
    members = with_flags(
        sa.select(aggregate_hosts.c.host.label('member'),
                  sa.null().label('joining'), aggregates.c.id,
                  aggregates.c.name, zone.c.value.label('zone'),
                  pool.c.value.label('pool'))
        .select_from(aggregate_hosts)
        .join(aggregates, aggregates.c.id == aggregate_hosts.c.aggregate_id)
    ).where(aggregate_hosts.c.host.in_(sa.bindparam('hosts', expanding=True)))
    # A host that a pool operation in flight is adding has no row in
    # aggregate_hosts until the hypervisor is done, but it is already
    # taken: two concurrent add_hosts must not put it in two pools or zones.
    joining = with_flags(
        sa.select(sa.null().label('member'),
                  aggregate_state.c.pending_host.label('joining'),
                  aggregates.c.id, aggregates.c.name,
                  zone.c.value.label('zone'), pool.c.value.label('pool'))
        .select_from(aggregate_state)
        .join(aggregates, sa.and_(
            aggregates.c.id == aggregate_state.c.aggregate_id,
            sa.func.coalesce(aggregates.c.uuid, '') ==
            aggregate_state.c.aggregate_uuid))
    ).where(aggregate_state.c.pending_host.in_(
        sa.bindparam('hosts', expanding=True))).where(
        aggregate_state.c.operational_state == constants.CHANGING)
    union = sa.union_all(members, joining).subquery()
    return sa.select(union).order_by(union.c.id)


# Built once: constructing aliased joins costs more than running them.
_HOST_AGGREGATES = _host_aggregates_query()


def _loosely(name):
    return name.rstrip(' ').casefold()


@engine.reader
def host_aggregates(context, hosts):
    """For each host, the aggregates it is in with their zone and pool flag:
    ``{host: [{"id", "name", "availability_zone", "hypervisor_pool"}]}``,
    in the order of their ids.

    An aggregate whose pool operation in flight is adding the host counts
    as one of them.  Where Nova's host column compares case-insensitively
    (MySQL/MariaDB), a member that differs from a host only in case (or in
    trailing spaces) is the host's, as it is for Nova's scheduler.
    """
    if not hosts:
        return {}
    result = {host: [] for host in hosts}
    rows = context.connection.execute(
        _HOST_AGGREGATES, {'hosts': sorted(set(hosts))})
    seen = set()
    for member, joining, agg_id, name, zone_value, pool_value in rows:
        host = joining if member is None else member
        if host in result:
            owners = (host,)
        elif len(result) == 1:
            owners = tuple(result)
        else:
            owners = [h for h in result if _loosely(h) == _loosely(host)]
        for owner in owners:
            if (owner, agg_id) in seen:
                continue  # a member that a pool operation is removing
            seen.add((owner, agg_id))
            result[owner].append({'id': agg_id, 'name': name,
                                  'availability_zone': zone_value,
                                  'hypervisor_pool': pool_value is not None})
    return result
