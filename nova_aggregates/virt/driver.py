"""The hypervisor driver interface and its loader.

The aggregate rules own the database; a driver owns the hypervisor.  Every
change of a *pool aggregate* is a pool operation
(``aggregates/pool_operation.py``) that calls one method here, outside any
database transaction, and records what it returns.  Drivers are found by
name through the ``nova_aggregates.virt.drivers`` entry point group, so a
third party can add one without touching this package.

Host maintenance (api-contract §13) is built from the host primitives at
the end of ``ComputeDriver``: the manager disables a host, lists its
guests, plans targets from ``free_memory``, hands the master role over if
needed, live-migrates guest by guest, and later enables the host and
migrates the guests back.  The driver keeps no plan and no history; it
only answers what the hypervisor says and does one step at a time.
"""

import dataclasses
import functools
import importlib.metadata
import sys

from nova_aggregates import constants
from nova_aggregates import exception

ENTRY_POINT_GROUP = 'nova_aggregates.virt.drivers'

#: Refusal code (no hypervisor equivalent): the host named as a migration
#: target or new master is not a member of the pool handed to the driver.
HOST_NOT_IN_POOL = 'NOVA_HOST_NOT_IN_POOL'
#: Refusal code: the hypervisor reported a migration as done, but the guest
#: does not run on the target (``exc.kwargs['location']`` says where).
MIGRATION_NOT_CONFIRMED = 'NOVA_MIGRATION_NOT_CONFIRMED'
#: Power states in which a guest occupies its host.
RUNNING = 'Running'
PAUSED = 'Paused'


@dataclasses.dataclass(frozen=True)
class ComputeHost:
    """A registered compute host, as a driver needs to see it."""

    name: str
    hypervisor_url: str | None = None


@dataclasses.dataclass(frozen=True)
class Pool:
    """The database's view of one pool aggregate before the operation.

    ``members`` lists the hosts in the order they joined; ``master`` is the
    host recorded as pool master (None while the pool has no hosts);
    ``metadata`` is the aggregate's full metadata, bookkeeping keys included.
    """

    aggregate_id: int
    name: str
    members: tuple[ComputeHost, ...]
    master: str | None
    metadata: dict

    def member(self, name):
        for host in self.members:
            if host.name == name:
                return host
        return None


@dataclasses.dataclass(frozen=True)
class PoolChange:
    """Bookkeeping metadata to write (or remove) after a driver call."""

    set_metadata: dict = dataclasses.field(default_factory=dict)
    remove_metadata: tuple = ()


@dataclasses.dataclass(frozen=True)
class Guest:
    """A guest (VM) resident on a compute host.

    ``memory`` is what it needs on a target, in bytes; ``host`` is the
    compute host name it runs on; ``power_state`` is the hypervisor's
    ("Running", or "Paused", which occupies the host but cannot be live
    migrated).
    """

    uuid: str
    name: str
    memory: int
    host: str
    power_state: str = RUNNING


@dataclasses.dataclass(frozen=True)
class HostResources:
    """What ``GET os-hosts/{host}`` shows: the ``(total)`` row (``cpu``,
    ``memory_mb``, ``disk_gb``) and the ``(used_now)`` row (``cpu``,
    ``memory_mb_used``, ``disk_gb_used``)."""

    cpu: int
    memory_mb: int
    memory_mb_used: int
    disk_gb: int
    disk_gb_used: int


@dataclasses.dataclass(frozen=True)
class PoolState:
    """What the hypervisor really has, used to reconcile the database."""

    master: str | None
    members: frozenset
    metadata: dict = dataclasses.field(default_factory=dict)


class ComputeDriver:
    """Base class.  The default implementation keeps no hypervisor state.

    Errors are raised as ``nova_aggregates.exception`` types:
    ``PoolOperationRefused`` (the hypervisor said no, with its code),
    ``HostHasGuests``, ``HypervisorUnreachable``, ``HypervisorTimeout``.
    """

    #: Metadata key prefixes this driver writes and users may not.
    reserved_metadata_prefixes = ()

    def __init__(self, conf):
        self.conf = conf

    def add_to_pool(self, pool, host):
        """Make ``host`` (a ComputeHost) a member of ``pool``.

        The first host of an empty pool becomes its master and the pool is
        named after the aggregate.  Returns a PoolChange.
        """
        return PoolChange()

    def remove_from_pool(self, pool, host):
        """Take ``host`` out of ``pool``; the manager has already refused to
        remove a master that is not alone.  Returns a PoolChange."""
        return PoolChange()

    def rename_pool(self, pool, new_name):
        """The aggregate of a formed pool was renamed."""

    def get_pool_state(self, pool):
        """Read the pool's real membership (for recovery after a failure or a
        crash).  Returns a PoolState, or None if the driver cannot tell."""
        return None

    def cleanup(self):
        """Release sessions and other resources."""

    # -- host status and maintenance ------------------------------------------
    #
    # ``pool`` is the Pool of the pool aggregate ``host`` belongs to, or
    # None for a host in no pool aggregate (then only that host itself is
    # asked).  ``host`` and ``target`` are ComputeHosts.  Refusals are
    # PoolOperationRefused with the hypervisor's code (``exc.code``);
    # HypervisorUnreachable and HypervisorTimeout as everywhere.

    def get_host_resources(self, pool, host):
        """The host's totals and current use, as a HostResources."""
        raise NotImplementedError()

    def set_host_enabled(self, pool, host, enabled):
        """Enable or disable ``host`` for new guests and incoming
        migrations; running guests keep running.  Idempotent."""

    def get_host_enabled(self, pool, host):
        """True unless ``host`` is disabled on the hypervisor."""
        return True

    def list_guests(self, pool, host):
        """The guests resident on ``host`` (running or paused; never the
        control domain or templates), as Guests sorted by name and
        uuid."""
        return []

    def guest_counts(self, pools, hosts=()):
        """How many guests (as ``list_guests`` counts them: running or
        paused) each host runs, for host matching's NumInstancesFilter and
        AggregateNumInstancesFilter: ``{host name: count}`` for every
        member of each Pool of ``pools`` and each ComputeHost of ``hosts``
        (hosts in no pool aggregate).

        Batched: a driver asks each pool once (its master answers for every
        member), and each host of ``hosts`` once.  Where the hypervisor
        cannot answer, the value is the exception that says why
        (HypervisorUnreachable, HypervisorTimeout, PoolOperationRefused)
        instead of a count.  This default asks ``list_guests`` host by
        host.
        """
        counts = {}
        asks = [(pool, member) for pool in pools for member in pool.members]
        asks.extend((None, host) for host in hosts)
        for pool, host in asks:
            try:
                counts[host.name] = len(self.list_guests(pool, host))
            except exception.AggregatesException as exc:
                counts[host.name] = exc
        return counts

    def free_memory(self, pool, hosts):
        """``{host name: free bytes}`` for each ComputeHost of ``hosts``
        (members of ``pool``): what a migration target has room for now."""
        raise NotImplementedError()

    def live_migrate(self, pool, guest, target):
        """Live-migrate ``guest`` (a Guest) to ``target`` within ``pool``;
        returns the name of the host it runs on afterwards, which is
        ``target.name`` (a guest already there is left alone).

        Refusals (PoolOperationRefused ``code``): ``HOST_DISABLED``,
        ``HOST_NOT_ENOUGH_FREE_MEMORY``, ``VM_BAD_POWER_STATE`` (not
        running, e.g. paused or halted), ``UUID_INVALID`` (no such guest in
        the pool), ``NOVA_HOST_NOT_IN_POOL``, ``NOVA_MIGRATION_NOT_
        CONFIRMED``, or any other hypervisor code.  A migration that does
        not finish within ``[maintenance] migration_timeout`` is cancelled
        and raises HypervisorTimeout.  Whenever the migration had started,
        the exception's ``kwargs['location']`` is where the guest runs
        afterwards, if the driver could tell (None: not running).
        """
        raise NotImplementedError()

    def guest_location(self, pool, guest_uuid):
        """Name of the compute host guest ``guest_uuid`` runs on (running
        or paused), or None if it does not exist (in ``pool``) or does not
        run."""
        return None

    def designate_new_master(self, pool, new_master):
        """Hand the pool master role to member ``new_master`` and wait until
        the hand-over has taken effect; returns the PoolChange recording the
        new master."""
        return PoolChange(set_metadata={constants.MASTER: new_master.name})

    def reboot_host(self, pool, host, timeout):
        """Reboot ``host``, disabled and with no guest, and wait until its
        hypervisor answers again (rolling maintenance, api-contract §14).

        ``pool`` is the host's Pool (None: in no pool aggregate).  Rebooting
        the pool master is not refused, but the whole pool is unmanageable
        while it is down: hand the role over first (designate_new_master).
        Before asking the hypervisor the driver checks, in this order, that
        the host is disabled and runs no guest (running or paused): XenServer
        itself would stop such guests rather than refuse.  Refusals are
        HostRebootRefused (a PoolOperationRefused, ``exc.code``):
        ``HOST_NOT_DISABLED``, ``HOST_IN_USE``, ``NOVA_HOST_NOT_IN_POOL`` or
        any other hypervisor code; HypervisorUnreachable and
        HypervisorTimeout as everywhere.

        Then it polls until the host has rebooted and answers again (what
        that means is the driver's: for xenapi a newer boot time and a live
        host).  If that takes more than ``timeout`` seconds (counted from
        the reboot request's answer) it raises HostDidNotComeBack, and the
        host may still come back later.

        A hypervisor may enable a host when it starts (XenServer does); the
        host is still in maintenance, so before returning the driver
        disables it again if needed: on return the host is up, disabled and
        empty, and the caller's leave-maintenance step enables it.  Returns
        None.
        """
        raise NotImplementedError()


def migration_action(guest):
    """The ``action`` of a PoolOperationRefused about migrating ``guest``
    ("Hypervisor refused to live-migrate guest web1 (<uuid>) to host X")."""
    return 'live-migrate guest %s (%s) to' % (guest.name, guest.uuid)


def not_in_pool(action, host, pool):
    """PoolOperationRefused(NOVA_HOST_NOT_IN_POOL) for ``host`` (a name)."""
    where = ('the pool of aggregate %s' % pool.aggregate_id
             if pool is not None else 'any pool aggregate')
    return exception.PoolOperationRefused(
        action=action, host=host, code=HOST_NOT_IN_POOL,
        details='it is not a member of %s' % where)


@functools.lru_cache(maxsize=4)
def _installed_drivers(search_path):
    # Scanning every distribution's metadata is slow; the result only
    # changes when the import path does (a plugin installed at run time
    # lands on a new path entry).
    return {entry_point.name: entry_point for entry_point in
            importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)}


def load_driver(conf):
    """Instantiate the driver named by ``[DEFAULT] compute_driver``."""
    name = conf.compute_driver
    entry_point = _installed_drivers(tuple(sys.path)).get(name)
    if entry_point is None:
        raise exception.DriverNotFound(name=name)
    return entry_point.load()(conf)
