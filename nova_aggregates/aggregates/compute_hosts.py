"""Compute host registration: the hosts aggregates may hold, each with the
availability zone it defaults to and the hypervisor URL pool operations
reach it at (doc/api-ref.md "Host inventory").

Where the hosts come from is ``[compute] host_source``: our registry
(``local``: ``LocalInventory``), or the compute API behind the
``extensions`` filter (``host_app``: ``HostAppInventory``), whose
nova-compute services are the hosts, so that nothing is registered twice.
"""

import threading
import time
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
            result.append({
                'id': host['id'],
                'name': host['name'],
                'zone': effective_zone(host['aggregate_zones'], host['zone'],
                                       default),
                'hypervisor_url': host['hypervisor_url'],
                'status': host['status'],
                'disabled_reason': host['disabled_reason'],
                'maintenance': host['maintenance'],
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


def effective_zone(aggregate_zones, registered_zone, default_zone):
    """The zone a host is in now: the first (in sorted order) of the zones
    its aggregates carry, else the zone it was registered with, else
    ``[api] default_availability_zone``."""
    if aggregate_zones:
        return min(aggregate_zones)
    return registered_zone or default_zone


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


class LocalInventory:
    """``host_source = local``: a host may join once registered; the
    registry's row lock (``db.lock_hosts``) is the check."""

    def check_known(self, context, host):
        pass


class HostAppInventory:
    """``host_source = host_app``: the hosts are the nova-compute services of
    the application behind the filter.

    The API layer gives each request's context ``host_app_services``, a
    callable asking that application (with the caller's identity) for its
    compute services; the answer is reused for ``[compute]
    host_app_cache_time`` seconds, except that a host it lacks is looked
    for in a new answer before it is refused.  A host it lists is added to our registry
    the first time it joins an aggregate (a row without a hypervisor URL):
    the registry's row locks keep the membership rules race-free, and a
    pool driver's hypervisor URL is still set there.
    """

    def __init__(self, conf, clock=time.monotonic):
        self.ttl = conf.compute.host_app_cache_time
        self.clock = clock
        self._lock = threading.Lock()
        self._names = None
        self._expires = 0.0

    def hosts(self, context, fresh=False):
        """The names of the application's compute hosts (``fresh``: asked
        now, whatever the cache holds)."""
        return self._listing(context, fresh)[0]

    def _listing(self, context, fresh=False):
        """The names, and whether they were asked for just now."""
        with self._lock:
            if not fresh and self._names is not None and \
                    self.clock() < self._expires:
                return self._names, False
        fetch = getattr(context, 'host_app_services', None)
        if fetch is None:
            raise exception.HostInventoryUnavailable(
                reason='[compute] host_source = host_app needs the '
                       'extensions paste filter in front of a compute API')
        names = frozenset(service['host'] for service in fetch()
                          if service.get('host'))
        with self._lock:
            self._names = names
            self._expires = self.clock() + self.ttl
        return names, True

    def check_known(self, context, host):
        names, fresh = self._listing(context)
        # A host missing from a cached listing may have registered since:
        # ask again before refusing it (once: a listing just asked is
        # current).
        if host not in names and not fresh:
            names = self.hosts(context, fresh=True)
        if host not in names:
            raise exception.ComputeHostNotFound(host=host)
        try:
            db.compute_host_create(context, host)
        except exception.ComputeHostExists:
            pass


def inventory(conf):
    """The inventory ``[compute] host_source`` names."""
    if conf.compute.host_source == 'host_app':
        return HostAppInventory(conf)
    return LocalInventory()
