"""Queries of the ``guest_origins`` table: where the guests an evacuation
moved came from, kept until the host they left is restored."""

import sqlalchemy as sa

from nova_aggregates.db import engine
from nova_aggregates.db.models import guest_origins

_OF_HOST = sa.select(guest_origins).where(
    guest_origins.c.origin == sa.bindparam('origin')).order_by(
    guest_origins.c.moved_at, guest_origins.c.vm_uuid)
_DELETE = guest_origins.delete().where(
    guest_origins.c.vm_uuid.in_(sa.bindparam('uuids', expanding=True)))


@engine.writer
def guest_origin_set(context, vm_uuid, vm_name, memory, origin, moved_to):
    """Record that ``vm_uuid`` moved from ``origin`` to ``moved_to``; a
    guest has one origin, that of its last evacuation."""
    conn = context.connection
    conn.execute(_DELETE, {'uuids': [vm_uuid]})
    conn.execute(guest_origins.insert(), {
        'vm_uuid': vm_uuid, 'vm_name': vm_name, 'memory': memory,
        'origin': origin, 'moved_to': moved_to, 'moved_at': engine.now()})


@engine.reader
def guest_origins_of(context, origin):
    """The guests evacuated from ``origin``, oldest move first."""
    return [dict(row._mapping) for row in
            context.connection.execute(_OF_HOST, {'origin': origin})]


@engine.writer
def guest_origins_forget(context, vm_uuids):
    if vm_uuids:
        context.connection.execute(_DELETE, {'uuids': sorted(vm_uuids)})
