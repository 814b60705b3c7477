"""Queries of the ``aggregate_hosts`` table: which hosts an aggregate has,
and which aggregates a host is in."""

from oslo_db import exception as db_exc
import sqlalchemy as sa

from nova_aggregates import constants
from nova_aggregates.db import changes
from nova_aggregates.db import engine
from nova_aggregates.db.models import aggregate_hosts
from nova_aggregates.db.models import aggregate_metadata
from nova_aggregates.db.models import aggregates
from nova_aggregates.db import prepared
from nova_aggregates import exception

_INSERT = prepared.Prepared(aggregate_hosts.insert())
_DELETE = prepared.Prepared(aggregate_hosts.delete().where(
    aggregate_hosts.c.aggregate_id == sa.bindparam('aggregate_id')).where(
    aggregate_hosts.c.host == sa.bindparam('host_name')))


@engine.writer
def aggregate_host_add(context, aggregate_id, host):
    conn = context.connection
    try:
        _INSERT.execute(conn, {'aggregate_id': aggregate_id, 'host': host,
                               'created_at': engine.now()})
    except db_exc.DBDuplicateEntry:
        raise exception.AggregateHostExists(aggregate_id=aggregate_id,
                                            host=host)
    changes.note_change(conn, aggregate_id)


def remove_host_row(conn, aggregate_id, host):
    """Delete the membership row (the same statement for Nova's table)."""
    result = _DELETE.execute(conn, {'aggregate_id': aggregate_id,
                                    'host_name': host})
    if result.rowcount == 0:
        raise exception.AggregateHostNotFound(aggregate_id=aggregate_id,
                                              host=host)


@engine.writer
def aggregate_host_remove(context, aggregate_id, host):
    remove_host_row(context.connection, aggregate_id, host)
    changes.note_change(context.connection, aggregate_id)


def _host_aggregates_query(one=False):
    """``one``: for one host, named by ``host`` (no expanding IN)."""
    def of_hosts(column):
        if one:
            return column == sa.bindparam('host')
        return column.in_(sa.bindparam('hosts', expanding=True))
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

    members = with_flags(
        sa.select(aggregate_hosts.c.host.label('host'), aggregates.c.id,
                  aggregates.c.name, zone.c.value.label('zone'),
                  pool.c.value.label('pool'))
        .select_from(aggregate_hosts)
        .join(aggregates, aggregates.c.id == aggregate_hosts.c.aggregate_id)
    ).where(of_hosts(aggregate_hosts.c.host))
    # A host that a pool operation in flight is adding has no row in
    # aggregate_hosts until XenServer is done, but it is already taken: two
    # concurrent add_hosts must not put it in two pools or two zones.
    joining = with_flags(
        sa.select(aggregates.c.pending_host.label('host'), aggregates.c.id,
                  aggregates.c.name, zone.c.value.label('zone'),
                  pool.c.value.label('pool'))
        .select_from(aggregates)
    ).where(of_hosts(aggregates.c.pending_host)).where(
        aggregates.c.operational_state == constants.CHANGING)
    union = sa.union_all(members, joining).subquery()
    return sa.select(union).order_by(union.c.host, union.c.id)


# Built once: constructing aliased joins costs more than running them.
_HOST_AGGREGATES = _host_aggregates_query()
_ONE_HOST_AGGREGATES = prepared.Prepared(_host_aggregates_query(one=True))


@engine.reader
def host_aggregates(context, hosts):
    """For each host, the aggregates it is in with their zone and pool flag:
    ``{host: [{"id", "name", "availability_zone", "hypervisor_pool"}]}``.

    An aggregate whose pool operation in flight is adding the host counts
    as one of them.
    """
    if not hosts:
        return {}
    result = {host: [] for host in hosts}
    hosts = sorted(set(hosts))
    if len(hosts) == 1:
        rows = _ONE_HOST_AGGREGATES.all(context.connection,
                                        {'host': hosts[0]})
    else:
        rows = context.connection.execute(_HOST_AGGREGATES,
                                          {'hosts': hosts})
    seen = set()
    for host, agg_id, name, zone_value, pool_value in rows:
        if (host, agg_id) in seen:
            continue  # a member that a pool operation is removing
        seen.add((host, agg_id))
        result[host].append({'id': agg_id, 'name': name,
                             'availability_zone': zone_value,
                             'hypervisor_pool': pool_value is not None})
    return result
