"""Crash recovery of pool aggregates.

* ``reconcile_interrupted``: a process that died during a pool operation
  left its aggregate ``changing``; once the operation's owner is gone
  (``lease.is_gone``) the database takes the pool's real state as the
  driver reads it, and the aggregate is ``active``/``created`` again, or
  ``error`` when the pool cannot be read; a host whose status or
  maintenance change was interrupted is enabled or disabled on the
  hypervisor as the database records it (the change is rolled back, as a
  failed one is).  ``nova-aggregates-api`` runs it at start-up and
  ``nova-aggregates-manage aggregate reconcile`` on demand.
* ``reform_pool``: hypervisors that lost a pool the database records
  (reinstalled hosts; the embedded simulator, which starts empty) get it
  again, host by host.
"""

import logging

from nova_aggregates import constants
from nova_aggregates.aggregates import lease
from nova_aggregates.aggregates import pool_operation
from nova_aggregates.db import api as db
from nova_aggregates import exception
from nova_aggregates.virt import driver as virt_driver

LOG = logging.getLogger(__name__)

#: The columns that tell whether an interrupted operation is still the one
#: that was read (an operation that started meanwhile must not be touched).
_OPERATION_COLUMNS = ('operational_state', 'task_owner', 'task_started_at')


class Recovery:

    def __init__(self, manager):
        """``manager``: the AggregateManager whose driver and pools are
        recovered; pools are formed again through its add_host."""
        self.manager = manager
        self.pools = manager.pools

    def reconcile_interrupted(self, context, stale_after=None):
        """Repair aggregates left ``changing`` by a process that died; the
        ids of those repaired.

        Taken over: operations owned by a process of this machine that no
        longer runs, and any older than ``stale_after`` seconds.
        """
        repaired = []
        now = db.now()
        for agg in db.aggregate_get_by_state(context, constants.CHANGING):
            if not lease.is_gone(agg['task_owner'], agg['task_started_at'],
                                 now, stale_after):
                continue
            try:
                pool = self.pools.read(context, agg,
                                       extra_host=agg['pending_host'])
            except exception.ComputeHostNotFound:
                # The host being added was unregistered meanwhile: it cannot
                # be a member the database should record.
                pool = self.pools.read(context, agg)
            try:
                real = self.pools.driver.get_pool_state(pool)
            except exception.AggregatesException as exc:
                LOG.warning('Aggregate %s stays in error: %s', agg['id'], exc)
                real = None
            if self._reconcile_one(context, agg, real):
                repaired.append(agg['id'])
                if real is not None and agg['pending_host'] in real.members:
                    # A member's status or maintenance change, perhaps.
                    self._host_as_recorded(context, pool, agg['pending_host'])
        for host in db.compute_host_get_all(context):
            if host['task_owner'] and lease.is_gone(
                    host['task_owner'], host['task_started_at'], now,
                    stale_after):
                self._host_as_recorded(context, None, host['name'])
                db.compute_host_release(context, host['name'],
                                        host['task_owner'])
        return repaired

    def _host_as_recorded(self, context, pool, name):
        """After an interrupted status or maintenance change of ``name``:
        the hypervisor enables or disables it as the database records
        (what the change would have recorded was never answered, so it is
        rolled back: an interrupted evacuation leaves the host enabled, as
        a failed one does)."""
        if name is None or (pool is not None and pool.member(name) is None):
            return
        try:
            row = db.compute_host_get(context, name)
        except exception.ComputeHostNotFound:
            return
        host = virt_driver.ComputeHost(name=name,
                                       hypervisor_url=row['hypervisor_url'])
        try:
            self.pools.driver.set_host_enabled(
                pool, host, row['status'] == constants.HOST_ENABLED)
        except exception.AggregatesException as exc:
            LOG.warning('Compute host %s: cannot make the hypervisor agree '
                        'with its recorded status %s: %s', name,
                        row['status'], exc)

    @db.transaction
    def _reconcile_one(self, context, agg, real):
        current = db.lock_aggregate(context, agg['id'])
        if any(current[k] != agg[k] for k in _OPERATION_COLUMNS):
            # Repaired meanwhile (another API server starting up), and
            # maybe a new operation runs: ``real`` is stale.
            return False
        if real is None:
            values = {'operational_state': constants.ERROR,
                      'last_error': 'Interrupted pool operation; the pool '
                                    'could not be read to reconcile.'}
        else:
            self.pools.record(context, agg, real)
            values = {'operational_state':
                      constants.ACTIVE if real.members else constants.CREATED,
                      'last_error': None}
        return pool_operation.release(context, agg['id'], **values)

    def reform_pool(self, context, aggregate_id):
        """Form again, host by host, the pool the database records for a
        pool aggregate whose hypervisors lost it.  The recorded master
        joins first.  A failure leaves the aggregate in ``error`` like any
        add."""
        hosts = self._forget_pool(context, aggregate_id)
        for host in hosts:
            # Disabled and in-maintenance members were members: they join
            # again, and the hypervisor gets their recorded status.
            self.manager.add_host(context, aggregate_id, host,
                                  in_service_only=False)
        agg = self.manager.get_aggregate(context, aggregate_id)
        pool = self.pools.read(context, db.aggregate_get(
            context, aggregate_id)) if hosts else None
        for host in hosts:
            if db.compute_host_get(context, host)['status'] != \
                    constants.HOST_ENABLED:
                self._host_as_recorded(context, pool, host)
        return agg

    @db.transaction
    def _forget_pool(self, context, aggregate_id):
        agg = db.lock_aggregate(context, aggregate_id)
        if agg['operational_state'] == constants.CHANGING:
            raise exception.PoolOperationInProgress(aggregate_id=aggregate_id)
        if not pool_operation.is_pool(agg):
            raise exception.Invalid(reason='aggregate %s is not a pool '
                                    'aggregate' % aggregate_id)
        master = agg['metadata'].get(constants.MASTER)
        hosts = list(agg['hosts'])
        if master in hosts:
            hosts.remove(master)
            hosts.insert(0, master)
        for host in hosts:
            db.aggregate_host_remove(context, aggregate_id, host)
        self.pools.mirror.queue(context, agg, hosts)
        db.aggregate_metadata_update(
            context, aggregate_id, remove_keys=[
                k for k in agg['metadata'] if self.pools.is_bookkeeping(k)])
        db.aggregate_update(context, aggregate_id,
                            operational_state=constants.CREATED,
                            last_error=None)
        return hosts
