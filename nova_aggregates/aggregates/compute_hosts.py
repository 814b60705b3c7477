"""Compute host registration: the hosts aggregates may hold, each with the
availability zone it defaults to and the hypervisor URL pool operations
reach it at (doc/api-ref.md "Host inventory")."""

import urllib.parse

from nova_aggregates.db import api as db
from nova_aggregates import exception


class ComputeHosts:

    def __init__(self, conf):
        self.conf = conf

    def list(self, context):
        """Registered hosts with the zone they are in now: the zone of their
        aggregates if any carries one, else their registered default."""
        default = self.conf.api.default_availability_zone
        result = []
        for host in db.compute_host_get_all(context):
            zones = host['aggregate_zones']
            result.append({
                'id': host['id'],
                'name': host['name'],
                'zone': zones[0] if zones else (host['zone'] or default),
                'hypervisor_url': host['hypervisor_url'],
                'created_at': host['created_at'],
                'updated_at': host['updated_at'],
            })
        return result

    def register(self, context, name, zone=None, hypervisor_url=None):
        check_hypervisor_url(hypervisor_url)
        return db.compute_host_create(context, name, zone, hypervisor_url)

    def update(self, context, name, **values):
        """Change ``zone`` or ``hypervisor_url`` of a registered host."""
        check_hypervisor_url(values.get('hypervisor_url'))
        db.compute_host_update(context, name, **values)

    def unregister(self, context, name):
        """Forget a host that no aggregate holds (ComputeHostInUse
        otherwise)."""
        db.compute_host_delete(context, name)


def check_hypervisor_url(url):
    """XenAPI speaks HTTP(S) only: refuse any other URL up front rather
    than at the first pool operation."""
    if url is None:
        return
    try:
        parts = urllib.parse.urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError as exc:
        raise exception.InvalidHypervisorURL(url=url, reason=str(exc))
    if parts.scheme not in ('http', 'https'):
        raise exception.InvalidHypervisorURL(
            url=url, reason='scheme %r is not http or https'
            % (parts.scheme or ''))
    if not parts.hostname:
        raise exception.InvalidHypervisorURL(url=url, reason='no host')
