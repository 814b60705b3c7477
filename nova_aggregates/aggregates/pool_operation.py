"""Pool operations: one change of a pool aggregate on its hypervisor.

Every kind of change (``ADD_HOST``, ``REMOVE_HOST``, ``RENAME``, and a
member's status and maintenance, ``host_maintenance``) lives the same
life, as a ``PoolOperation``:

1. ``begin()``, inside the write transaction in which the rules checked the
   request: the aggregate moves to ``changing`` with a compare-and-set that
   records the host it changes and its owner (``lease``), so that exactly
   one operation per aggregate runs at a time, in any process on any API
   node;
2. ``run(driver call)``: the hypervisor works, with no transaction open;
3. ``finish(change)``: one transaction records what the hypervisor did and
   gives ``changing`` back -- or, when the call raised, ``fail(exc)``: the
   pool's real state is read (when the failure may have changed it) and
   recorded, and the aggregate is left in ``error``, or in the state it
   started from when nothing changed.

A process that dies between 1 and 3 leaves ``changing`` behind;
``recovery`` takes such operations over with the same ``Pools`` methods.
"""

import dataclasses
import logging

from nova_aggregates import constants
from nova_aggregates.aggregates import lease
from nova_aggregates.aggregates import placement_mirror
from nova_aggregates.db import api as db
from nova_aggregates import exception
from nova_aggregates.virt import driver as virt_driver

LOG = logging.getLogger(__name__)


def is_pool(agg):
    """Whether ``agg`` (as the database returns it) is a pool aggregate."""
    return agg['metadata'].get(constants.POOL_FLAG) == \
        constants.POOL_FLAG_VALUE


@dataclasses.dataclass(frozen=True)
class Kind:
    """A kind of pool operation."""

    name: str
    #: Whether a failure may have changed the pool, so that its real state
    #: is read and recorded.
    may_change_pool: bool
    #: Whether a failure leaves the aggregate in ``error``.  A host status
    #: or maintenance change that failed leaves the pool's membership as it
    #: was (and the failure is the answer): the aggregate keeps its state.
    failure_is_pool_error: bool = True


ADD_HOST = Kind('add_host', may_change_pool=True)
REMOVE_HOST = Kind('remove_host', may_change_pool=True)
RENAME = Kind('rename', may_change_pool=False)


@dataclasses.dataclass(frozen=True)
class Change:
    """What a pool operation that succeeded records.

    An operation that moved a member (``joined`` or ``left``) leaves the
    aggregate ``active`` (``created`` once no host is left) with no error;
    any other goes back to the state it started from.
    """

    joined: str | None = None
    left: str | None = None
    #: The bookkeeping metadata the driver wrote or removed.
    bookkeeping: virt_driver.PoolChange = dataclasses.field(
        default_factory=virt_driver.PoolChange)


def release(context, aggregate_id, **values):
    """Give ``changing`` back: set ``values`` and clear the operation's
    host and owner, if the aggregate is still ``changing``."""
    return db.aggregate_compare_and_set_state(
        context, aggregate_id, [constants.CHANGING], pending_host=None,
        task_owner=None, task_started_at=None, **values)


class Pools:
    """The pools of pool aggregates as the database records them, for one
    driver: read for the driver, and made to match what the driver reads
    on the hypervisor.  Every membership it records gets its Placement
    mirror step (``placement_mirror``) in the same transaction."""

    def __init__(self, driver, mirror=None):
        self.driver = driver
        self.mirror = mirror if mirror is not None else \
            placement_mirror.NoMirror()
        #: Prefixes of the bookkeeping keys drivers write.
        self.prefixes = tuple(constants.RESERVED_PREFIXES) + tuple(
            driver.reserved_metadata_prefixes)

    def is_bookkeeping(self, key):
        return key == constants.MASTER or key.startswith(self.prefixes)

    def read(self, context, agg, extra_host=None):
        """The ``virt.driver.Pool`` of ``agg``, optionally with one more
        host; locks the members' compute host rows."""
        names = list(agg['hosts'])
        if extra_host is not None and extra_host not in names:
            names.append(extra_host)
        rows = db.lock_hosts(context, names) if names else {}
        return virt_driver.Pool(
            aggregate_id=agg['id'], name=agg['name'],
            members=tuple(virt_driver.ComputeHost(
                name=n, hypervisor_url=rows[n]['hypervisor_url'])
                for n in names),
            master=agg['metadata'].get(constants.MASTER),
            metadata=dict(agg['metadata']))

    def record(self, context, agg, real):
        """Make the database's members and bookkeeping of ``agg`` match
        ``real``, the driver's PoolState (inside the caller's
        transaction)."""
        current = set(db.aggregate_get(context, agg['id'])['hosts'])
        registered = set(db.lock_hosts(context, set(real.members) | current)) \
            if (real.members or current) else set()
        left = sorted(current - set(real.members))
        joined = sorted((set(real.members) & registered) - current)
        for host in left:
            db.aggregate_host_remove(context, agg['id'], host)
        for host in joined:
            db.aggregate_host_add(context, agg['id'], host)
        self.mirror.queue(context, agg, left + joined)
        stale = [k for k in agg['metadata']
                 if k.startswith(self.prefixes) and k not in real.metadata]
        to_set = dict(real.metadata)
        if real.master:
            to_set[constants.MASTER] = real.master
        else:
            stale.append(constants.MASTER)
        db.aggregate_metadata_update(context, agg['id'], to_set, stale)


class PoolOperation:
    """One operation of ``kind`` on pool aggregate ``agg`` (see the module
    docstring for its life).

    ``host`` is the ComputeHost it adds or removes (None for a rename);
    ``undo`` the aggregate columns the caller wrote before the hypervisor
    call, restored by ``fail``.
    """

    def __init__(self, pools, context, agg, kind, host=None, undo=None):
        self.pools = pools
        self.context = context
        self.aggregate = agg
        self.kind = kind
        self.host = host
        self.undo = dict(undo or {})
        self.previous_state = agg['operational_state']
        self.pool = None

    def begin(self):
        """Take ``changing``, in the caller's transaction; raises
        PoolOperationInProgress if another operation has it."""
        taken = db.aggregate_compare_and_set_state(
            self.context, self.aggregate['id'], constants.MAY_CHANGE,
            operational_state=constants.CHANGING,
            pending_host=self.host.name if self.host else None,
            task_owner=lease.this_process(), task_started_at=db.now())
        if not taken:
            raise exception.PoolOperationInProgress(
                aggregate_id=self.aggregate['id'])
        # A rolling maintenance task holds its aggregate: only its own
        # steps (their context names it) change the pool meanwhile.
        task_id = db.rolling_task_active_of(self.context,
                                            self.aggregate['id'])
        if task_id is not None and task_id != getattr(
                self.context, 'rolling_task_id', None):
            raise exception.RollingMaintenanceInProgress(
                task_id=task_id, aggregate_id=self.aggregate['id'])

    def read_pool(self):
        """Read the pool the driver is to change (in the caller's
        transaction, or in one of its own)."""
        self.pool = self.pools.read(self.context, self.aggregate)
        return self.pool

    def run(self, call, *args):
        """``call(*args)``, the driver's work, with no transaction open; if
        it fails, the failure is recorded (``fail``) and raised again."""
        try:
            return call(*args)
        except exception.AggregatesException as exc:
            self.fail(exc)
            raise

    def finish(self, change=None):
        """Record ``change`` (a Change) and give ``changing`` back."""
        self._record_success(self.context, change or Change())

    @db.transaction
    def _record_success(self, context, change):
        aggregate_id = self.aggregate['id']
        values = {'operational_state': self.previous_state}
        if change != Change():
            hosts = set(db.lock_aggregate(context, aggregate_id)['hosts'])
            if change.joined is not None:
                db.aggregate_host_add(context, aggregate_id, change.joined)
                hosts.add(change.joined)
            if change.left is not None:
                db.aggregate_host_remove(context, aggregate_id, change.left)
                hosts.discard(change.left)
            self.pools.mirror.queue(context, self.aggregate, [
                h for h in (change.joined, change.left) if h is not None])
            db.aggregate_metadata_update(
                context, aggregate_id, change.bookkeeping.set_metadata,
                change.bookkeeping.remove_metadata)
            if change.joined is not None or change.left is not None:
                values = {'operational_state': constants.ACTIVE if hosts
                          else constants.CREATED, 'last_error': None}
        release(context, aggregate_id, **values)

    def fail(self, exc):
        """Record that the driver's work failed with ``exc``.

        A refusal made before anything changed (a busy host) and an
        unreachable or silent hypervisor leave the database as it was
        (502/504, doc/api-ref.md "Pool aggregates"), unless the pool could
        be read and differs.  Otherwise the database takes the pool's real
        membership as the driver reads it, and the aggregate is marked
        ``error``.
        """
        refused_first = isinstance(exc, exception.HostHasGuests)
        real = None
        if self.kind.may_change_pool and not refused_first:
            real = self._read_real_state()
        # After an outage an unreadable pool is kept as recorded ("database
        # as before"); drivers re-check a join or eject that timed out
        # before they report the timeout.
        unchanged = real is None or \
            real.members == frozenset(self.aggregate['hosts'])
        keep_state = refused_first or (unchanged and isinstance(
            exc, (exception.HypervisorUnreachable,
                  exception.HypervisorTimeout))) or \
            not self.kind.failure_is_pool_error
        self._record_failure(self.context, exc, real, keep_state)

    def _read_real_state(self):
        pool = self.pool
        if self.host is not None and pool.member(self.host.name) is None:
            # The host being added may have joined before the failure.
            pool = dataclasses.replace(pool, members=pool.members + (
                self.host,))
        try:
            return self.pools.driver.get_pool_state(pool)
        except exception.AggregatesException as read_exc:
            LOG.warning('Cannot read the real state of the pool of '
                        'aggregate %s: %s', self.aggregate['id'], read_exc)
            return None

    @db.transaction
    def _record_failure(self, context, exc, real, keep_state):
        aggregate_id = self.aggregate['id']
        db.lock_aggregate(context, aggregate_id)
        if self.undo:
            db.aggregate_update(context, aggregate_id, **self.undo)
        if real is not None:
            self.pools.record(context, self.aggregate, real)
        if keep_state:
            values = {'operational_state': self.previous_state}
        else:
            code = getattr(exc, 'code', None) or type(exc).__name__
            values = {'operational_state': constants.ERROR,
                      'last_error': ('%s: %s' % (code, exc))[:4000]}
        release(context, aggregate_id, **values)
