"""HostMatching: which registered compute hosts Nova's aggregate rules
admit for a request, and why each other host is refused (api-contract
section 15).

The filters are ``scheduler_filters``' (Nova's, by Nova's names), chosen by
``[filter_scheduler] enabled_filters`` and run as Nova's filter scheduler
runs them: one filter at a time over the hosts still in the running, so
that a host is refused by the first filter that refuses it, after the
pre-filters Nova always applies.

Costs, whatever the number of hosts and aggregates: one read of every host
and aggregate (``db.host_layout_get``, three statements); each rule is
worked out once per aggregate and combined per host, and a result that
depends only on a host's aggregates once per distinct set of them.  The
aggregates as the filters see them (``_Layout``) are kept with their
version, by each process: while no aggregate changes, a request reads the
version and the hosts only (two statements), and what the filters worked
out of each aggregate's metadata (split values, derived keys) is worked
out once, not per request.  The hosts are read every time: their status
and maintenance have no version.  Guests
are counted only when a filter needs them, for the hosts still in the
running, with one driver call for all of them (which asks each pool's
master once).
"""

import dataclasses
import threading
import typing

from nova_aggregates.aggregates import compute_hosts
from nova_aggregates.aggregates import pool_operation
from nova_aggregates.aggregates import scheduler_filters as filters
from nova_aggregates import constants
from nova_aggregates.db import api as db
from nova_aggregates import exception
from nova_aggregates.virt import driver as virt_driver


class Match(typing.NamedTuple):
    """A host the rules admit: its zone and its aggregates' ids."""

    host: str
    zone: str
    aggregates: tuple


class Rejection(typing.NamedTuple):
    """A host the rules refuse: the filter that refused it, and why."""

    host: str
    filter: str
    reason: str


@dataclasses.dataclass(frozen=True)
class MatchResult:
    """Every registered host, in exactly one of the two lists, each sorted
    by host name."""

    hosts: list
    rejected: list


_MISSING = object()
#: ComputeHosts kept for the driver calls; beyond this many, forgotten.
_COMPUTE_HOSTS_KEPT = 10000


class _Layout:
    """The aggregates of one version, as the filters see them: for each
    host in some aggregate, its ``Aggregates`` (shared by the hosts in the
    same ones) and the zone they give it."""

    __slots__ = ('version', 'aggregates', 'of_host', 'none')

    def __init__(self, version, aggregates):
        self.version = version
        self.aggregates = aggregates
        by_id = {agg['id']: filters.Aggregate(agg['id'], agg['name'],
                                              agg['metadata'])
                 for agg in aggregates}
        memberships = {}
        # The aggregates come by id, and a host is once in each: each
        # host's ids are in order.
        for agg in aggregates:
            for name in agg['hosts']:
                memberships.setdefault(name, []).append(agg['id'])
        shared = {}
        self.of_host = {}
        for name, ids in memberships.items():
            ids = tuple(ids)
            found = shared.get(ids)
            if found is None:
                members = [by_id[agg_id] for agg_id in ids]
                # The zone its aggregates give a host (None: they give
                # none), as os-hosts shows it.
                given = compute_hosts.effective_zone(
                    [agg.metadata[constants.AVAILABILITY_ZONE]
                     for agg in members
                     if constants.AVAILABILITY_ZONE in agg.metadata],
                    None, None)
                found = shared[ids] = (filters.Aggregates(members), given)
            self.of_host[name] = found
        #: A host in no aggregate (registered, or not yet).
        self.none = (filters.Aggregates(()), None)


class HostMatching:

    def __init__(self, conf, driver):
        self.conf = conf
        self.driver = driver
        # A filter name Nova does not know is a startup error, as in Nova.
        filters.chain(conf)
        # (name, URL) -> ComputeHost: immutable, so shared by the requests
        # of every thread (building a thousand costs a millisecond).
        self._compute_hosts = {}
        self._lock = threading.Lock()
        # The latest _Layout read (replaced whole: no lock to read it).
        self._layout = None

    def match(self, context, flavor=None, image=None, project_id=None,
              availability_zone=None):
        """Match a request: ``flavor`` ``{"name", "extra_specs"}``,
        ``image`` ``{"properties"}``, the project (the caller's when not
        given) and the availability zone, each optional."""
        flavor = flavor or {}
        request = filters.Request(
            flavor_name=flavor.get('name'),
            extra_specs=flavor.get('extra_specs'),
            image=filters.Image((image or {}).get('properties')),
            project_id=project_id if project_id is not None
            else context.project_id,
            availability_zone=availability_zone)
        chain = filters.chain(self.conf)
        layout = self._layout
        version, rows, aggregates = db.host_layout_get(
            context, None if layout is None else layout.version)
        if aggregates is not None:
            layout = _Layout(version, aggregates)
            if version is not None:
                self._layout = layout
        hosts = self._host_states(rows, layout)
        rejected = []
        for host_filter in chain:
            if not host_filter.applies(request):
                continue
            if host_filter.counts_guests:
                self._count_guests(hosts, rows, layout.aggregates)
            reject = host_filter.reject
            # The usual key, read without a call for each host.
            by_aggregates = type(host_filter).cache_key is \
                filters.HostFilter.cache_key
            name = host_filter.name
            results = {}
            remaining = []
            for host in hosts:
                key = host.aggregates if by_aggregates else \
                    host_filter.cache_key(host)
                if key is None:
                    reason = reject(host, request)
                else:
                    reason = results.get(key, _MISSING)
                    if reason is _MISSING:
                        reason = results[key] = reject(host, request)
                if reason is None:
                    remaining.append(host)
                else:
                    rejected.append(Rejection(host.name, name, reason))
            hosts = remaining
        return MatchResult(
            hosts=sorted((Match(host.name, host.zone, host.aggregates.ids)
                          for host in hosts), key=lambda match: match.host),
            rejected=sorted(rejected, key=lambda rejection: rejection.host))

    def _host_states(self, rows, layout):
        """A HostState per registered host; hosts in the same aggregates
        share one ``Aggregates`` (and with it the filters' results)."""
        default = self.conf.api.default_availability_zone
        of_host = layout.of_host.get
        none = layout.none
        states = []
        # Unpacked, not row.name: attribute access of a row costs ten times
        # more, for each of a thousand hosts.
        for name, zone, status, reason, maintenance, _url in rows:
            host_aggregates, given = of_host(name, none)
            own = zone or default
            states.append(filters.HostState(
                name, host_aggregates, given or own, own, status, reason,
                maintenance))
        return states

    def _count_guests(self, hosts, rows, aggregates):
        """Set ``guests`` of the hosts not counted yet: one driver call,
        with the pool of each pool aggregate that has such a host and the
        hosts in no pool aggregate."""
        pending = [host for host in hosts if host.guests is None]
        if not pending:
            return
        urls = {row[0]: row[5] for row in rows}
        pool_of = {}
        for agg in aggregates:
            if pool_operation.is_pool(agg):
                for name in agg['hosts']:
                    pool_of.setdefault(name, agg)
        pools = {}
        alone = []
        for host in pending:
            agg = pool_of.get(host.name)
            if agg is None:
                alone.append(self._compute_host(host.name, urls[host.name]))
            else:
                pools[agg['id']] = agg
        counts = self.driver.guest_counts([virt_driver.Pool(
            aggregate_id=agg['id'], name=agg['name'],
            members=tuple(self._compute_host(name, urls[name])
                          for name in agg['hosts'] if name in urls),
            master=agg['metadata'].get(constants.MASTER),
            metadata=dict(agg['metadata'])) for agg in pools.values()], alone)
        for host in pending:
            host.guests = counts.get(host.name)
            if host.guests is None:
                host.guests = exception.AggregatesException(
                    'the compute driver did not report this host')

    def _compute_host(self, name, url):
        found = self._compute_hosts.get((name, url))
        if found is None:
            found = virt_driver.ComputeHost(name=name, hypervisor_url=url)
            with self._lock:
                if len(self._compute_hosts) >= _COMPUTE_HOSTS_KEPT:
                    self._compute_hosts.clear()
                self._compute_hosts[(name, url)] = found
        return found
