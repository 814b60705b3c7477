"""The hypervisor driver interface and its loader.

The aggregate rules own the database; a driver owns the hypervisor.  Every
change of a *pool aggregate* is a pool operation
(``aggregates/pool_operation.py``) that calls one method here, outside any
database transaction, and records what it returns.  Drivers are found by
name through the ``nova_aggregates.virt.drivers`` entry point group, so a
third party can add one without touching this package.
"""

import dataclasses
import functools
import importlib.metadata
import sys

from nova_aggregates import exception

ENTRY_POINT_GROUP = 'nova_aggregates.virt.drivers'


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
