"""AggregateManager: the rules of host aggregates and hypervisor pools.

The API calls this class and nothing below it.  It holds no SQL (that is
``db.api``) and no hypervisor calls (that is the driver), only the rules:

* a host's aggregates that carry an availability zone all carry the same one;
* names are unique (the database enforces it), deletes need an empty
  aggregate, set_metadata merges and ``null`` removes;
* pool aggregates change membership one operation at a time: the state moves
  to ``changing`` inside the locked transaction that checked the request, the
  driver runs with no transaction open, and a second transaction records the
  result, or the pool's real state and ``error`` if the driver failed.

Every check runs in the same write transaction as the write it guards, after
``db.lock_aggregate``/``db.lock_hosts`` took the rows it depends on, so two
concurrent requests cannot both pass a check only one may pass.

Compute host registration is ``compute_hosts.ComputeHosts``.
"""

import datetime
import logging
import os
import socket

from nova_aggregates import constants
from nova_aggregates.db import api as db
from nova_aggregates import exception
from nova_aggregates.virt import driver as virt_driver

LOG = logging.getLogger(__name__)

_UNSET = object()


def _task_owner():
    return '%s:%d' % (socket.gethostname(), os.getpid())


def _process_runs(pid):
    """Whether process ``pid`` of this machine still runs.  A zombie does
    not: a killed API worker whose parent died stays one for as long as
    the container's init does not reap it."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open('/proc/%d/stat' % pid) as stat:
            # The state letter follows the parenthesised command name.
            return stat.read().rpartition(')')[2].split()[0] != 'Z'
    except (OSError, IndexError):
        return True


def _is_pool(agg):
    return agg['metadata'].get(constants.POOL_FLAG) == constants.POOL_FLAG_VALUE


class AggregateManager:

    def __init__(self, conf, driver=None):
        self.conf = conf
        self.driver = driver if driver is not None else \
            virt_driver.load_driver(conf)
        self._reserved_prefixes = tuple(constants.RESERVED_PREFIXES) + tuple(
            self.driver.reserved_metadata_prefixes)

    # -- presentation -------------------------------------------------------

    @staticmethod
    def _present(agg):
        """The aggregate as callers see it: bookkeeping of pool aggregates is
        visible in metadata; internal task columns are not."""
        metadata = dict(agg['metadata'])
        if _is_pool(agg):
            metadata[constants.STATE_KEY] = agg['operational_state']
            if agg['last_error']:
                metadata[constants.LAST_ERROR] = agg['last_error']
        return {
            'id': agg['id'],
            'uuid': agg['uuid'],
            'name': agg['name'],
            'availability_zone': agg['metadata'].get(constants.AVAILABILITY_ZONE),
            'operational_state': agg['operational_state'],
            'created_at': agg['created_at'],
            'updated_at': agg['updated_at'],
            'hosts': list(agg['hosts']),
            'metadata': metadata,
        }

    # -- reads --------------------------------------------------------------

    def list_aggregates(self, context):
        return [self._present(agg) for agg in db.aggregate_get_all(context)]

    def get_aggregate(self, context, aggregate_id):
        return self._present(db.aggregate_get(context, aggregate_id))

    # -- create, update, delete ---------------------------------------------

    def create_aggregate(self, context, name, availability_zone=None):
        metadata = {}
        if availability_zone is not None:
            metadata[constants.AVAILABILITY_ZONE] = availability_zone
        if self.conf.pool_aggregates_by_default:
            metadata[constants.POOL_FLAG] = constants.POOL_FLAG_VALUE
        return self._present(db.aggregate_create(context, name, metadata))

    def update_aggregate(self, context, aggregate_id, name=_UNSET,
                         availability_zone=_UNSET):
        agg, rename_pool = self._update_in_db(
            context, aggregate_id, name, availability_zone)
        if rename_pool is None:
            # Read inside the transaction that wrote it: nothing to re-read.
            return self._present(agg)
        old_name, previous_state = rename_pool
        self._rename_pool(context, agg, old_name, previous_state)
        return self.get_aggregate(context, aggregate_id)

    @db.transaction
    def _update_in_db(self, context, aggregate_id, name, availability_zone):
        agg = db.lock_aggregate(context, aggregate_id)
        rename_pool = None
        if availability_zone is not _UNSET:
            if not availability_zone:
                raise exception.InvalidAvailabilityZone()
            if agg['operational_state'] == constants.CHANGING:
                # The joining host would escape the zone check.
                raise exception.PoolOperationInProgress(
                    aggregate_id=aggregate_id)
            self._check_zone_change(context, agg, availability_zone)
            db.aggregate_metadata_update(
                context, aggregate_id,
                {constants.AVAILABILITY_ZONE: availability_zone})
            agg['metadata'][constants.AVAILABILITY_ZONE] = availability_zone
        if name is not _UNSET and name != agg['name']:
            if _is_pool(agg) and agg['metadata'].get(constants.MASTER):
                # A formed pool carries the aggregate's name: renaming is a
                # pool operation like any other.
                self._begin_pool_operation(context, agg, None)
                rename_pool = (agg['name'], agg['operational_state'])
            elif _is_pool(agg) and \
                    agg['operational_state'] == constants.CHANGING:
                # The first host is joining and the pool is being named
                # after the current name.
                raise exception.PoolOperationInProgress(
                    aggregate_id=aggregate_id)
            # The lock's timestamp: the response shows what was stored.
            db.aggregate_update(context, aggregate_id, name=name,
                                updated_at=agg['updated_at'])
            agg['name'] = name
        return agg, rename_pool

    def _rename_pool(self, context, agg, old_name, previous_state):
        pool = self._pool(context, agg)
        try:
            self.driver.rename_pool(pool, agg['name'])
        except exception.AggregatesException as exc:
            self._end_pool_operation_failed(context, agg, exc, previous_state,
                                            undo={'name': old_name})
            raise
        self._finish(context, agg['id'], previous_state)

    @db.transaction
    def _finish(self, context, aggregate_id, new_state):
        db.aggregate_compare_and_set_state(
            context, aggregate_id, [constants.CHANGING],
            operational_state=new_state, pending_host=None, task_owner=None,
            task_started_at=None)

    @db.transaction
    def delete_aggregate(self, context, aggregate_id):
        agg = db.lock_aggregate(context, aggregate_id)
        if agg['operational_state'] == constants.CHANGING:
            raise exception.PoolOperationInProgress(aggregate_id=aggregate_id)
        if agg['hosts']:
            raise exception.AggregateNotEmpty(aggregate_id=aggregate_id,
                                              hosts=', '.join(agg['hosts']))
        db.aggregate_delete(context, aggregate_id)

    # -- metadata -----------------------------------------------------------

    def _is_reserved(self, key):
        return key in constants.RESERVED_KEYS or key.startswith(
            self._reserved_prefixes)

    @db.transaction
    def set_metadata(self, context, aggregate_id, metadata):
        agg = db.lock_aggregate(context, aggregate_id)
        for key in sorted(metadata):
            if self._is_reserved(key):
                raise exception.ReservedMetadataKey(key=key)
        if agg['operational_state'] == constants.CHANGING:
            raise exception.PoolOperationInProgress(aggregate_id=aggregate_id)
        if constants.AVAILABILITY_ZONE in metadata:
            zone = metadata[constants.AVAILABILITY_ZONE]
            if not zone:
                raise exception.InvalidAvailabilityZone()
            self._check_zone_change(context, agg, zone)
        if constants.POOL_FLAG in metadata:
            flag = metadata[constants.POOL_FLAG]
            if flag is not None and flag != constants.POOL_FLAG_VALUE:
                raise exception.Invalid(
                    reason='hypervisor_pool can only be "true" (or null to '
                           'remove it), not %r.' % flag)
            if flag != agg['metadata'].get(constants.POOL_FLAG) and agg['hosts']:
                raise exception.PoolFlagLocked(aggregate_id=aggregate_id)
        to_set = {k: v for k, v in metadata.items() if v is not None}
        to_remove = [k for k, v in metadata.items() if v is None]
        merged = dict(agg['metadata'])
        merged.update(to_set)
        for key in to_remove:
            merged.pop(key, None)
        count = sum(1 for key in merged if not self._is_reserved(key))
        limit = self.conf.api.max_aggregate_metadata_items
        if count > limit:
            raise exception.TooManyMetadataItems(
                aggregate_id=aggregate_id, count=count, limit=limit)
        db.aggregate_metadata_update(context, aggregate_id, to_set, to_remove)
        # The locked row plus the merge is what the database now holds.
        agg['metadata'] = merged
        return self._present(agg)

    # -- availability zones ---------------------------------------------------

    def _check_zone_change(self, context, agg, zone):
        """The aggregate's hosts may not be in another aggregate whose zone
        differs from ``zone``."""
        if not agg['hosts']:
            return
        db.lock_hosts(context, agg['hosts'])
        memberships = db.host_aggregates(context, agg['hosts'])
        for host in agg['hosts']:
            for other in memberships[host]:
                other_zone = other['availability_zone']
                if other['id'] != agg['id'] and other_zone is not None \
                        and other_zone != zone:
                    raise exception.InvalidZoneChange(
                        zone=zone, aggregate_id=agg['id'], host=host,
                        other_aggregate=other['name'], other_zone=other_zone)

    def _check_host_may_join(self, context, agg, host):
        memberships = db.host_aggregates(context, [host])[host]
        zone = agg['metadata'].get(constants.AVAILABILITY_ZONE)
        for other in memberships:
            other_zone = other['availability_zone']
            if zone is not None and other_zone is not None \
                    and other_zone != zone:
                raise exception.HostZoneConflict(
                    host=host, aggregate_id=agg['id'], zone=zone,
                    other_zone=other_zone, other_aggregate=other['name'])
            if _is_pool(agg) and other['hypervisor_pool']:
                raise exception.HostInAnotherPool(
                    host=host, other_aggregate=other['name'])

    # -- membership -----------------------------------------------------------

    def add_host(self, context, aggregate_id, host):
        agg, pool, compute_host, previous_state = self._add_host_begin(
            context, aggregate_id, host)
        if pool is None:
            return self._present(agg)
        try:
            change = self.driver.add_to_pool(pool, compute_host)
        except exception.AggregatesException as exc:
            self._end_pool_operation_failed(context, agg, exc, previous_state,
                                            pool=pool, candidate=compute_host)
            raise
        self._add_host_end(context, aggregate_id, host, change)
        return self.get_aggregate(context, aggregate_id)

    @db.transaction
    def _add_host_begin(self, context, aggregate_id, host):
        agg = db.lock_aggregate(context, aggregate_id)
        host_row = db.lock_hosts(context, [host])[host]
        if host in agg['hosts']:
            raise exception.AggregateHostExists(aggregate_id=aggregate_id,
                                                host=host)
        if agg['operational_state'] == constants.CHANGING:
            raise exception.PoolOperationInProgress(aggregate_id=aggregate_id)
        self._check_host_may_join(context, agg, host)
        if not _is_pool(agg):
            db.aggregate_host_add(context, aggregate_id, host)
            agg['hosts'].append(host)
            if agg['operational_state'] == constants.CREATED:
                db.aggregate_update(context, aggregate_id,
                                    operational_state=constants.ACTIVE,
                                    updated_at=agg['updated_at'])
                agg['operational_state'] = constants.ACTIVE
            return agg, None, None, None
        self._begin_pool_operation(context, agg, host)
        candidate = virt_driver.ComputeHost(
            name=host, hypervisor_url=host_row['hypervisor_url'])
        return agg, self._pool(context, agg), candidate, \
            agg['operational_state']

    @db.transaction
    def _add_host_end(self, context, aggregate_id, host, change):
        db.lock_aggregate(context, aggregate_id)
        db.aggregate_host_add(context, aggregate_id, host)
        db.aggregate_metadata_update(context, aggregate_id,
                                     change.set_metadata,
                                     change.remove_metadata)
        db.aggregate_compare_and_set_state(
            context, aggregate_id, [constants.CHANGING],
            operational_state=constants.ACTIVE, last_error=None,
            pending_host=None, task_owner=None, task_started_at=None)

    def remove_host(self, context, aggregate_id, host):
        agg, pool, previous_state = self._remove_host_begin(
            context, aggregate_id, host)
        if pool is None:
            return self._present(agg)
        try:
            change = self.driver.remove_from_pool(pool, pool.member(host))
        except exception.AggregatesException as exc:
            self._end_pool_operation_failed(context, agg, exc, previous_state,
                                            pool=pool)
            raise
        self._remove_host_end(context, aggregate_id, host, change)
        return self.get_aggregate(context, aggregate_id)

    @db.transaction
    def _remove_host_begin(self, context, aggregate_id, host):
        agg = db.lock_aggregate(context, aggregate_id)
        db.lock_hosts(context, [host])
        if host not in agg['hosts']:
            raise exception.AggregateHostNotFound(aggregate_id=aggregate_id,
                                                  host=host)
        if agg['operational_state'] == constants.CHANGING:
            raise exception.PoolOperationInProgress(aggregate_id=aggregate_id)
        if not _is_pool(agg):
            db.aggregate_host_remove(context, aggregate_id, host)
            agg['hosts'].remove(host)
            return agg, None, None
        others = [h for h in agg['hosts'] if h != host]
        if agg['metadata'].get(constants.MASTER) == host and others:
            raise exception.PoolMasterNotAlone(
                host=host, aggregate_id=aggregate_id,
                members=', '.join(others))
        self._begin_pool_operation(context, agg, host)
        return agg, self._pool(context, agg), agg['operational_state']

    @db.transaction
    def _remove_host_end(self, context, aggregate_id, host, change):
        agg = db.lock_aggregate(context, aggregate_id)
        db.aggregate_host_remove(context, aggregate_id, host)
        db.aggregate_metadata_update(context, aggregate_id,
                                     change.set_metadata,
                                     change.remove_metadata)
        remaining = len(agg['hosts']) - 1
        db.aggregate_compare_and_set_state(
            context, aggregate_id, [constants.CHANGING],
            operational_state=constants.ACTIVE if remaining else constants.CREATED,
            last_error=None, pending_host=None, task_owner=None,
            task_started_at=None)

    # -- pool operations ------------------------------------------------------

    def _begin_pool_operation(self, context, agg, host):
        """Take ``changing`` with a compare-and-set, so that exactly one
        request, in any process or on any API node, runs a pool operation
        on this aggregate at a time."""
        taken = db.aggregate_compare_and_set_state(
            context, agg['id'], constants.MAY_CHANGE,
            operational_state=constants.CHANGING, pending_host=host,
            task_owner=_task_owner(), task_started_at=db.now())
        if not taken:
            raise exception.PoolOperationInProgress(aggregate_id=agg['id'])

    def _pool(self, context, agg, extra_host=None):
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

    def _end_pool_operation_failed(self, context, agg, exc, previous_state,
                                   pool=None, candidate=None, undo=None):
        """Record a failed pool operation.

        A refusal made before anything changed (a busy host) and an
        unreachable or silent hypervisor leave the database as it was (the
        contract's 502/504), unless the pool could be read and differs.
        Otherwise the database takes the pool's real membership as the
        driver reads it, and the aggregate is marked ``error``.
        """
        before = frozenset(agg['hosts'])
        real = None
        if pool is not None and not isinstance(exc, exception.HostHasGuests):
            probe = pool
            if candidate is not None:
                probe = virt_driver.Pool(
                    aggregate_id=pool.aggregate_id, name=pool.name,
                    members=pool.members + (candidate,), master=pool.master,
                    metadata=pool.metadata)
            try:
                real = self.driver.get_pool_state(probe)
            except exception.AggregatesException as read_exc:
                LOG.warning('Cannot read the real state of the pool of '
                            'aggregate %s: %s', agg['id'], read_exc)
        # After an outage an unreadable pool is kept as recorded (the
        # contract's "database as before"); drivers re-check a join or
        # eject that timed out before they report the timeout.
        unchanged = real is None or real.members == before
        keep_state = isinstance(exc, exception.HostHasGuests) or (
            unchanged and isinstance(exc, (exception.HypervisorUnreachable,
                                           exception.HypervisorTimeout)))
        self._record_failure(context, agg, exc, previous_state, real,
                             keep_state, undo or {})

    @db.transaction
    def _record_failure(self, context, agg, exc, previous_state, real,
                        keep_state, undo):
        db.lock_aggregate(context, agg['id'])
        if undo:
            db.aggregate_update(context, agg['id'], **undo)
        if real is not None:
            self._apply_pool_state(context, agg, real)
        if keep_state:
            values = {'operational_state': previous_state}
        else:
            code = getattr(exc, 'code', None) or type(exc).__name__
            values = {'operational_state': constants.ERROR,
                      'last_error': ('%s: %s' % (code, exc))[:4000]}
        db.aggregate_compare_and_set_state(
            context, agg['id'], [constants.CHANGING], pending_host=None,
            task_owner=None, task_started_at=None, **values)

    def _apply_pool_state(self, context, agg, real):
        """Make the database's members and bookkeeping match the pool."""
        current = set(db.aggregate_get(context, agg['id'])['hosts'])
        registered = set(db.lock_hosts(context, set(real.members) | current)) \
            if (real.members or current) else set()
        for host in sorted(current - set(real.members)):
            db.aggregate_host_remove(context, agg['id'], host)
        for host in sorted((set(real.members) & registered) - current):
            db.aggregate_host_add(context, agg['id'], host)
        stale = [k for k in agg['metadata']
                 if k.startswith(self._reserved_prefixes)
                 and k not in real.metadata]
        to_set = dict(real.metadata)
        if real.master:
            to_set[constants.MASTER] = real.master
        else:
            stale.append(constants.MASTER)
        db.aggregate_metadata_update(context, agg['id'], to_set, stale)

    def reconcile_interrupted(self, context, stale_after=None):
        """Repair aggregates left ``changing`` by a process that died.

        Taken over: operations owned by a process of this machine that no
        longer runs, and any older than ``stale_after`` seconds.
        """
        repaired = []
        now = db.now()
        for agg in db.aggregate_get_by_state(context, constants.CHANGING):
            if not self._owner_is_gone(agg, now, stale_after):
                continue
            try:
                pool = self._pool(context, agg,
                                  extra_host=agg['pending_host'])
            except exception.ComputeHostNotFound:
                # The host being added was unregistered meanwhile: it cannot
                # be a member the database should record.
                pool = self._pool(context, agg)
            try:
                real = self.driver.get_pool_state(pool)
            except exception.AggregatesException as exc:
                LOG.warning('Aggregate %s stays in error: %s', agg['id'], exc)
                real = None
            if self._reconcile_one(context, agg, real):
                repaired.append(agg['id'])
        return repaired

    @staticmethod
    def _owner_is_gone(agg, now, stale_after):
        started = agg['task_started_at']
        if stale_after is not None and started is not None and \
                now - started > datetime.timedelta(seconds=stale_after):
            return True
        owner = agg['task_owner'] or ''
        hostname, _, pid = owner.rpartition(':')
        if hostname != socket.gethostname() or not pid.isdigit():
            return not owner
        if int(pid) == os.getpid():
            return False
        return not _process_runs(int(pid))

    @db.transaction
    def _reconcile_one(self, context, agg, real):
        current = db.lock_aggregate(context, agg['id'])
        if any(current[k] != agg[k] for k in (
                'operational_state', 'task_owner', 'task_started_at')):
            # Repaired meanwhile (another API server starting up), and
            # maybe a new operation runs: ``real`` is stale.
            return False
        if real is None:
            values = {'operational_state': constants.ERROR,
                      'last_error': 'Interrupted pool operation; the pool '
                                    'could not be read to reconcile.'}
        else:
            self._apply_pool_state(context, agg, real)
            values = {'operational_state':
                      constants.ACTIVE if real.members else constants.CREATED,
                      'last_error': None}
        return db.aggregate_compare_and_set_state(
            context, agg['id'], [constants.CHANGING], pending_host=None,
            task_owner=None, task_started_at=None, **values)

    def reform_pool(self, context, aggregate_id):
        """Form again, host by host, the pool the database records for a
        pool aggregate whose hypervisors lost it (reinstalled hosts; the
        embedded simulator, which starts empty).  The recorded master joins
        first.  A failure leaves the aggregate in ``error`` like any add."""
        hosts = self._forget_pool(context, aggregate_id)
        for host in hosts:
            self.add_host(context, aggregate_id, host)
        return self.get_aggregate(context, aggregate_id)

    @db.transaction
    def _forget_pool(self, context, aggregate_id):
        agg = db.lock_aggregate(context, aggregate_id)
        if agg['operational_state'] == constants.CHANGING:
            raise exception.PoolOperationInProgress(aggregate_id=aggregate_id)
        if not _is_pool(agg):
            raise exception.Invalid(reason='aggregate %s is not a pool '
                                    'aggregate' % aggregate_id)
        master = agg['metadata'].get(constants.MASTER)
        hosts = list(agg['hosts'])
        if master in hosts:
            hosts.remove(master)
            hosts.insert(0, master)
        for host in hosts:
            db.aggregate_host_remove(context, aggregate_id, host)
        db.aggregate_metadata_update(
            context, aggregate_id, remove_keys=[
                k for k in agg['metadata']
                if k == constants.MASTER or k.startswith(self._reserved_prefixes)])
        db.aggregate_update(context, aggregate_id,
                            operational_state=constants.CREATED, last_error=None)
        return hosts
