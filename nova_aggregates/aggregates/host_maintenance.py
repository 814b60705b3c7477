"""Host status and maintenance: taking a compute host out of service with
its guests live-migrated to the other members of its pool, and bringing it
back (api-contract §13).

The rules:

* ``status`` disabled: the hypervisor takes no new guest and no incoming
  migration on the host (``host.disable``), and the host joins no
  aggregate; its guests keep running.
* entering maintenance: disable, then **plan first, all or nothing**: each
  running guest gets a target among the other enabled members of the
  host's pool that are out of maintenance, the one with the most free
  memory counting what the plan already put there.  A guest without a
  target refuses the whole request (nothing moved, the host enabled as it
  was).  The pool master first hands its role to the member with the most
  free memory.  Guests then move one by one (``[maintenance]
  max_concurrent_migrations`` at once), each recorded with where it came
  from.  A failure part-way stops: moved guests stay where they run, the
  host is enabled again, the answer names the guest, the code and what
  moved.
* leaving maintenance: enable, then migrate back the guests the last
  evacuation moved away that still run, while the host has room (unless
  ``restore`` is skipped).

A change of a pool member runs as a pool operation of its aggregate
(``pool_operation``): one maintenance or membership change per pool at a
time, in any process on any node.  A host in no pool aggregate has a lease
of its own on its registry row.
"""

import concurrent.futures
import dataclasses
import logging

from nova_aggregates.aggregates import lease
from nova_aggregates.aggregates import pool_operation
from nova_aggregates import constants
from nova_aggregates.db import api as db
from nova_aggregates import exception
from nova_aggregates import notifications
from nova_aggregates.virt import driver as virt_driver

LOG = logging.getLogger(__name__)

HOST_STATUS = pool_operation.Kind('host_status', may_change_pool=False,
                                  failure_is_pool_error=False)
# The master hand-over changes the pool: a failure reads what it is.
MAINTENANCE = pool_operation.Kind('maintenance', may_change_pool=True,
                                  failure_is_pool_error=False)

NO_HOSTS_AVAILABLE = 'NO_HOSTS_AVAILABLE'
NOT_ENOUGH_MEMORY = 'HOST_NOT_ENOUGH_FREE_MEMORY'
NOT_RUNNING = 'VM_BAD_POWER_STATE'


def in_service(row):
    return row['status'] == constants.HOST_ENABLED and \
        row['maintenance'] == constants.OFF_MAINTENANCE


class _Claim:
    """A status or maintenance change of one host in progress: the pool
    operation of its pool aggregate, or the host's own lease."""

    def __init__(self, context, row, operation, members):
        self.context = context
        self.row = row
        self.operation = operation
        #: Registry rows of the pool's members, by name (the host's too).
        self.members = members
        self.host = virt_driver.ComputeHost(
            name=row['name'], hypervisor_url=row['hypervisor_url'])

    @property
    def pool(self):
        return self.operation.pool if self.operation else None

    def finish(self, host_values, bookkeeping=None):
        """Record the host's new status and end the change."""
        if self._record(host_values):
            self.operation.finish(pool_operation.Change(
                bookkeeping=bookkeeping or virt_driver.PoolChange()))

    def fail(self, exc, host_values=None):
        """End the change after ``exc``: the host's status as it was, or
        ``host_values`` (what the hypervisor is left with)."""
        if self._record(host_values or {}):
            self.operation.fail(exc)

    def _record(self, host_values):
        """Write ``host_values``; for a host in no pool aggregate that also
        gives its lease back.  True when a pool operation is left to end."""
        name = self.row['name']
        if self.operation is None:
            db.compute_host_release(self.context, name, lease.this_process(),
                                    **host_values)
            return False
        if host_values:
            db.compute_host_update(self.context, name, **host_values)
        return True


class HostMaintenance:

    def __init__(self, conf, driver, pools, notifier=None):
        self.conf = conf
        self.driver = driver
        self.pools = pools
        #: host.maintenance.{start,end,error} (None: only logged).
        self.notifier = notifier if notifier is not None else \
            notifications.Notifier()

    # -- reading --------------------------------------------------------------

    def describe(self, context, host):
        """The host's status, maintenance mode and resources."""
        row = db.compute_host_get(context, host)
        pool = self._pool_view(context, host)
        resources = self.driver.get_host_resources(pool, virt_driver.ComputeHost(
            name=row['name'], hypervisor_url=row['hypervisor_url']))
        return dict(self._status(row), resources=resources)

    @staticmethod
    def _status(row):
        return {'host': row['name'], 'status': row['status'],
                'maintenance_mode': row['maintenance']}

    def pool_of(self, context, host):
        """The Pool of the host's pool aggregate as the database records it
        (None for a host in no pool aggregate)."""
        return self._pool_view(context, host)

    def _pool_view(self, context, host):
        """The Pool of the host's pool aggregate, read without locks (None
        for a host in no pool aggregate)."""
        agg_id = self._pool_aggregate_id(context, host)
        if agg_id is None:
            return None
        agg = db.aggregate_get(context, agg_id)
        urls = {h['name']: h['hypervisor_url']
                for h in db.compute_host_get_all(context)}
        return virt_driver.Pool(
            aggregate_id=agg['id'], name=agg['name'],
            members=tuple(virt_driver.ComputeHost(name=n,
                                                  hypervisor_url=urls.get(n))
                          for n in agg['hosts']),
            master=agg['metadata'].get(constants.MASTER),
            metadata=dict(agg['metadata']))

    @staticmethod
    def _pool_aggregate_id(context, host):
        for agg in db.host_aggregates(context, [host])[host]:
            if agg['hypervisor_pool']:
                return agg['id']
        return None

    # -- claiming ---------------------------------------------------------------

    def _begin(self, context, host, kind):
        # Which pool aggregate is read first, on its own: the transaction
        # then locks it before the hosts, as membership changes do (the
        # other order deadlocks with those), and starts with a lock (on
        # SQLite, a read first cannot take the write lock later).
        try:
            return self._claim(context, host, kind,
                               self._pool_aggregate_id(context, host))
        except exception.AggregateNotFound:
            # Emptied and deleted meanwhile: the host is in no pool now.
            return self._claim(context, host, kind,
                               self._pool_aggregate_id(context, host))

    @db.transaction
    def _claim(self, context, host, kind, agg_id):
        if agg_id is None:
            row = db.lock_hosts(context, [host])[host]
            joining = self._pool_aggregate_id(context, host)
            if joining is not None:
                # It joined a pool meanwhile (or is joining it).
                raise exception.PoolOperationInProgress(aggregate_id=joining)
            if not db.compute_host_claim(context, host, lease.this_process()):
                raise exception.HostOperationInProgress(host=host)
            return _Claim(context, row, None, {host: row})
        agg = db.lock_aggregate(context, agg_id)
        members = db.lock_hosts(context, set(agg['hosts']) | {host})
        if host not in agg['hosts']:
            # Still joining (or leaving): the pool operation holds the pool.
            raise exception.PoolOperationInProgress(aggregate_id=agg_id)
        row = members[host]
        operation = pool_operation.PoolOperation(
            self.pools, context, agg, kind, host=virt_driver.ComputeHost(
                name=row['name'], hypervisor_url=row['hypervisor_url']))
        operation.begin()
        operation.read_pool()
        return _Claim(context, row, operation, members)

    # -- status -----------------------------------------------------------------

    def set_status(self, context, host, enabled, reason=None):
        claim = self._begin(context, host, HOST_STATUS)
        try:
            self.driver.set_host_enabled(claim.pool, claim.host, enabled)
        except exception.AggregatesException as exc:
            claim.fail(exc)
            raise
        values = {'status': constants.HOST_ENABLED if enabled
                  else constants.HOST_DISABLED,
                  'disabled_reason': None if enabled else reason}
        claim.finish(values)
        return self._status(dict(claim.row, **values))

    # -- maintenance ------------------------------------------------------------

    def _notified(self, context, action, claim, change):
        """Run ``change()`` (entering or leaving maintenance) between
        host.maintenance.start and .end, or .error when it raises."""
        agg = claim.operation.aggregate if claim.operation else None
        fields = {'host': claim.row['name'], 'action': action,
                  'aggregate_id': agg['id'] if agg else None,
                  'aggregate_uuid': agg['uuid'] if agg else None}
        self.notifier.host_maintenance(context, 'start', **fields)
        try:
            result = change()
        except Exception as exc:
            self.notifier.host_maintenance(
                context, 'error', guests_moved=getattr(exc, 'moved', []),
                error=str(exc), **fields)
            raise
        self.notifier.host_maintenance(
            context, 'end', guests_moved=result.get('evacuated',
                                                    result.get('restored')),
            guests_skipped=result.get('skipped', []), **fields)
        return result

    def enter(self, context, host, dry_run=False):
        """Evacuate ``host`` and put it in maintenance (``dry_run``: only
        the checks and the plan, and no notification: nothing changes)."""
        claim = self._begin(context, host, MAINTENANCE)
        if dry_run:
            return self._enter(context, host, claim, dry_run)
        return self._notified(context, 'enter', claim, lambda: self._enter(
            context, host, claim, dry_run))

    def _enter(self, context, host, claim, dry_run):
        row, pool = claim.row, claim.pool
        if row['maintenance'] == constants.ON_MAINTENANCE:
            claim.finish({})
            return dict(self._status(row),
                        **({'plan': []} if dry_run else {'evacuated': []}))
        was_enabled = row['status'] == constants.HOST_ENABLED
        # None: not disabled; False: the disable may have happened (it got
        # no answer); True: the host is disabled.
        disabled = None
        moved = []
        bookkeeping = None
        try:
            if not dry_run and was_enabled:
                disabled = False
                try:
                    self.driver.set_host_enabled(pool, claim.host, False)
                except exception.PoolOperationRefused:
                    disabled = None  # refused: nothing changed
                    raise
                disabled = True
            guests = self.driver.list_guests(pool, claim.host)
            plan, new_master = self._plan(claim, guests)
            if dry_run:
                claim.finish({})
                result = dict(self._status(row), plan=plan)
                if new_master is not None:
                    result['new_master'] = new_master.name
                return result
            if new_master is not None:
                bookkeeping = self.driver.designate_new_master(pool,
                                                               new_master)
                pool = dataclasses.replace(pool, master=new_master.name)
            if plan:
                moved = self._evacuate(context, pool, claim.host, guests,
                                       plan)
        except exception.AggregatesException as exc:
            enabled, enable_failure = True, None
            if disabled is not None:
                enabled, enable_failure = self._enable_again(
                    pool, claim.host, disabled)
            host_values = None
            if not enabled:
                # The database says what the hypervisor is left with.
                host_values = {'status': constants.HOST_DISABLED,
                               'disabled_reason': 'maintenance failed, and '
                               'enabling the host again failed'}
            claim.fail(exc, host_values)
            raise self._explained(exc, host, moved, disabled is not None,
                                  enabled, enable_failure)
        values = {'status': constants.HOST_DISABLED,
                  'maintenance': constants.ON_MAINTENANCE,
                  'disabled_reason': row['disabled_reason'] or 'maintenance'}
        claim.finish(values, bookkeeping)
        return dict(self._status(dict(row, **values)), evacuated=moved)

    def _plan(self, claim, guests):
        """The target of every guest, and the member taking over the master
        role (or None); MaintenanceBlocked when any guest has none."""
        pool, host = claim.pool, claim.host
        if pool is None:
            if guests:
                raise exception.GuestsOutsideAnyPool(
                    host=host.name, count=len(guests),
                    guests=', '.join(g.name for g in guests))
            return [], None
        targets = [m for m in pool.members if m.name != host.name
                   and in_service(claim.members[m.name])]
        free = self.driver.free_memory(pool, targets) if targets else {}
        new_master = None
        if pool.master == host.name and len(pool.members) > 1:
            if not targets:
                raise exception.MaintenanceBlocked(
                    host=host.name, details='It is the pool master and no '
                    'other member is enabled and out of maintenance to take '
                    'the role over.')
            # max() keeps the first (join order) on ties.
            new_master = max(targets, key=lambda m: free[m.name])
        plan, blocked = [], []
        placed = {m.name: 0 for m in targets}
        for guest in sorted(guests, key=lambda g: (-g.memory, g.name,
                                                   g.uuid)):
            problem = self._no_target(guest, targets, free, placed)
            if problem is not None:
                blocked.append(dict(problem, vm=guest.uuid, name=guest.name))
                continue
            best = max(targets, key=lambda m: free[m.name] - placed[m.name])
            placed[best.name] += guest.memory
            plan.append({'vm': guest.uuid, 'name': guest.name,
                         'memory_mb': guest.memory // (1024 * 1024),
                         'to': best.name})
        if blocked:
            raise exception.MaintenanceBlocked(host=host.name,
                                               blocked=blocked)
        return plan, new_master

    @staticmethod
    def _no_target(guest, targets, free, placed):
        if guest.power_state != virt_driver.RUNNING:
            return {'code': NOT_RUNNING, 'reason': 'it is %s, and only a '
                    'running guest can be live-migrated' %
                    guest.power_state.lower()}
        if not targets:
            return {'code': NO_HOSTS_AVAILABLE, 'reason': 'no other member '
                    'of the pool is enabled and out of maintenance'}
        room = max(free[m.name] - placed[m.name] for m in targets)
        if room < guest.memory:
            return {'code': NOT_ENOUGH_MEMORY, 'reason': (
                'it needs %d MiB and the member with the most room has %d '
                'MiB free' % (guest.memory // 2 ** 20, max(room, 0) // 2 ** 20))}
        return None

    def _evacuate(self, context, pool, host, guests, plan):
        """Live-migrate the planned guests; their moves as the API shows
        them.  A failure stops the evacuation: ``exc.moved`` then lists
        what had moved."""
        by_uuid = {g.uuid: g for g in guests}
        members = {m.name: m for m in pool.members}
        moved = []
        failure = None
        limit = self.conf.maintenance.max_concurrent_migrations
        with concurrent.futures.ThreadPoolExecutor(limit) as executor:
            pending = list(plan)
            running = {}
            while pending or running:
                while pending and len(running) < limit and failure is None:
                    step = pending.pop(0)
                    guest = by_uuid[step['vm']]
                    # Recorded before it moves: a process killed while the
                    # migration runs still knows where the guest belongs
                    # (restore skips a guest found at home).
                    db.guest_origin_set(context, guest.uuid, guest.name,
                                        guest.memory, host.name, step['to'])
                    running[executor.submit(
                        self.driver.live_migrate, pool, guest,
                        members[step['to']])] = (guest, step)
                if not running:
                    break
                done, _ = concurrent.futures.wait(
                    running, return_when=concurrent.futures.FIRST_COMPLETED)
                for future in done:
                    guest, step = running.pop(future)
                    try:
                        where = future.result()
                    except exception.AggregatesException as exc:
                        where = self._where_now(pool, guest, exc)
                        if failure is None:
                            failure = exc
                            failure.guest = dict(step, runs_on=where)
                        if where == host.name:
                            db.guest_origins_forget(context, [guest.uuid])
                        if where != step['to']:
                            if where is not None and where != host.name:
                                db.guest_origin_set(
                                    context, guest.uuid, guest.name,
                                    guest.memory, host.name, where)
                            continue
                        # The call failed (an outage while it ran) but the
                        # guest arrived: it moved.
                    else:
                        if where != step['to']:
                            db.guest_origin_set(
                                context, guest.uuid, guest.name,
                                guest.memory, host.name, where)
                    moved.append({'vm': guest.uuid, 'name': guest.name,
                                  'to': where})
        if failure is not None:
            failure.moved = moved
            raise failure
        return moved

    def _where_now(self, pool, guest, exc):
        """Where ``guest`` runs after its migration failed with ``exc``
        (None: it cannot be read)."""
        if 'location' in exc.kwargs:
            return exc.kwargs['location']
        try:
            return self.driver.guest_location(pool, guest.uuid)
        except exception.AggregatesException as read_exc:
            LOG.warning('Cannot tell where guest %s runs after its migration '
                        'failed: %s', guest.uuid, read_exc)
            return None

    def _enable_again(self, pool, host, disabled):
        """Enable ``host`` after a failed evacuation (``disabled``: its
        disable was answered; False: it may have happened).  Returns
        whether it is enabled now, and the error enabling it again raised
        (None if that worked)."""
        try:
            self.driver.set_host_enabled(pool, host, True)
            return True, None
        except exception.AggregatesException as exc:
            failure = exc
        try:
            enabled = self.driver.get_host_enabled(pool, host)
        except exception.AggregatesException:
            # Unreadable: disabled if we saw it disabled, else as it was.
            enabled = not disabled
        if not enabled:
            LOG.error('Compute host %s stays disabled on the hypervisor '
                      'after a failed evacuation: %s', host.name, failure)
        return enabled, failure

    @staticmethod
    def _failed_guest(exc):
        """The message of ``exc``, naming the guest whose migration failed
        with it (``exc.guest``) and where that guest runs."""
        reason = str(exc)
        guest = getattr(exc, 'guest', None)
        if guest is None:
            return reason
        if guest['vm'] not in reason:
            # An outage or a timeout of a call names no guest itself.
            reason = 'Live migration of guest %s (%s) to %s failed: %s' % (
                guest['name'], guest['vm'], guest['to'], reason)
        if guest['runs_on'] is None:
            reason += ' Where guest %s runs could not be read.' % (
                guest['name'])
        elif guest['runs_on'] != guest['to'] and \
                'runs on %s' % guest['runs_on'] not in reason:
            reason += ' Guest %s runs on %s.' % (guest['name'],
                                                 guest['runs_on'])
        return reason

    @staticmethod
    def _explained(exc, host, moved, disabled, enabled=True,
                   enable_failure=None):
        """``exc`` again, its message saying which guest failed, what moved
        and the host's status."""
        if isinstance(exc, (exception.MaintenanceBlocked,
                            exception.GuestsOutsideAnyPool)):
            return exc  # refused before anything was done: says so itself
        moved = getattr(exc, 'moved', moved)
        summary = ', '.join('%(name)s (%(vm)s) to %(to)s' % m
                            for m in moved) or 'none'
        reason = HostMaintenance._failed_guest(exc)
        if not disabled:
            status = ''
        elif enable_failure is None:
            status = ' The host is enabled again.'
        elif enabled:
            status = (' The host is recorded enabled (enabling it again '
                      'failed: %s).' % enable_failure)
        else:
            status = (' The host stays disabled: enabling it again failed: '
                      '%s' % enable_failure)
        message = ('Evacuation of compute host %s stopped: %s. Guests '
                   'moved: %s.%s' % (host, str(reason).rstrip('.'), summary,
                                     status))
        explained = type(exc)(message, **exc.kwargs)
        explained.moved = moved
        return explained

    def leave(self, context, host, restore=True):
        """Enable ``host``, out of maintenance, and migrate back the guests
        its last evacuation moved away (unless ``restore`` is False)."""
        claim = self._begin(context, host, MAINTENANCE)
        return self._notified(context, 'leave', claim, lambda: self._leave(
            context, host, restore, claim))

    def _leave(self, context, host, restore, claim):
        pool = claim.pool
        restored, skipped = [], []
        values = {'status': constants.HOST_ENABLED,
                  'maintenance': constants.OFF_MAINTENANCE,
                  'disabled_reason': None}
        origins = db.guest_origins_of(context, host)
        enabled = False
        try:
            self.driver.set_host_enabled(pool, claim.host, True)
            enabled = True
            if restore and pool is not None:
                self._restore(pool, claim.host, origins, restored, skipped)
        except exception.AggregatesException as exc:
            if not enabled:
                claim.fail(exc)
                raise
            # The host serves again whatever failed after: so says the
            # database, and the guests already back are no longer away.
            db.compute_host_update(context, host, **values)
            db.guest_origins_forget(context, [r['vm'] for r in restored])
            claim.fail(exc)
            summary = ', '.join('%(name)s (%(vm)s)' % r
                                for r in restored) or 'none'
            stopped = type(exc)(
                'Compute host %s is enabled and out of maintenance, but the '
                'migration of its guests back stopped: %s Guests moved '
                'back: %s.' % (host, self._failed_guest(exc), summary),
                **exc.kwargs)
            stopped.moved = restored  # for the host.maintenance.error
            raise stopped from exc
        db.guest_origins_forget(context, [o['vm_uuid'] for o in origins])
        claim.finish(values)
        result = dict(self._status(dict(claim.row, **values)),
                      restored=restored)
        if skipped:
            result['skipped'] = skipped
        return result

    def _restore(self, pool, host, origins, restored, skipped):
        members = {m.name for m in pool.members}
        for origin in origins:
            entry = {'vm': origin['vm_uuid'], 'name': origin['vm_name']}
            where = self.driver.guest_location(pool, origin['vm_uuid'])
            if where is None:
                skipped.append(dict(entry, reason='no longer runs'))
                continue
            if where == host.name:
                continue
            if where not in members:
                skipped.append(dict(entry, reason='runs outside the pool, '
                                    'on %s' % where))
                continue
            free = self.driver.free_memory(pool, [host])[host.name]
            if free < origin['memory']:
                skipped.append(dict(entry, reason='not enough free memory '
                                    'on %s' % host.name))
                continue
            guest = virt_driver.Guest(uuid=origin['vm_uuid'],
                                      name=origin['vm_name'] or '',
                                      memory=origin['memory'], host=where)
            try:
                self.driver.live_migrate(pool, guest, host)
            except exception.PoolOperationRefused as exc:
                skipped.append(dict(entry, reason=str(exc), code=exc.code))
                continue
            except exception.AggregatesException as exc:
                # An outage or a timeout stops: say where the guest is.
                runs_on = self._where_now(pool, guest, exc)
                if runs_on == host.name:
                    restored.append(dict(entry, to=host.name))
                exc.guest = dict(entry, to=host.name, runs_on=runs_on)
                raise
            restored.append(dict(entry, to=host.name))
