"""Host status and maintenance primitives for the xenapi driver.

The manager builds zero-downtime maintenance (api-contract §13) from these
steps; this module only carries each one out on XenServer and reports what
XenServer says.  Everything about a pool member is asked of the pool
master, because only the master serves the API; a host in no pool
aggregate (``pool`` None) is asked itself.

Which host is which
    A compute host's XenServer host uuid comes from the aggregate metadata
    ``xenapi_host_uuid:<host>`` (written when it joined), else from the
    facts ``pool.ResourcePool`` cached for its URL, else from the master's
    host records matched by management address (``ResourcePool._identify``).
    Host refs and VM refs are cached by uuid: a ref is never reused for
    another object, so a stale one can only answer ``HANDLE_INVALID``, and
    then the caches are dropped and the step is tried once more.  The
    reverse map (host ref -> uuid) never goes stale.

Who is master
    If the recorded master answers ``HOST_IS_SLAVE [address]`` the call is
    repeated once on the member with that address, and that hand-over is
    remembered, so a caller that still holds the Pool read before
    ``designate_new_master`` is served by the new master directly.

Calls per guest migrated (``live_migrate``, warm: refs known)
    1. ``Async.VM.pool_migrate(vm, host, {"live": "true"})`` on the master:
       the migration itself, as a task, so that it can be bounded by
       ``[maintenance] migration_timeout`` and cancelled -- a synchronous
       call would hold the HTTP connection (and every other call to that
       master) for the whole migration, beyond ``[xenapi] call_timeout``.
    2. ``task.get_status(task)``, every ``[xenapi] poll_interval`` seconds
       (the first after one interval) until it is no longer ``pending``:
       the SDK has no wait helper.
    3. ``task.get_error_info(task)``, on failure only: the XenServer code
       (HOST_NOT_ENOUGH_FREE_MEMORY, VM_BAD_POWER_STATE, HOST_DISABLED,
       ...) and its parameters.
    4. ``task.destroy(task)``, always: xapi keeps finished tasks until
       they are destroyed or garbage-collected.
    5. ``VM.get_resident_on(vm)``: proof of where the guest runs.  A
       successful task is not proof, just as a successful ``pool.join`` is
       not; the answer is compared with the target's ref, so naming the
       host costs nothing more.
    On timeout ``task.cancel`` and one more ``task.get_status`` (a cancel
    is best effort: the migration may have finished meanwhile) come before
    4.  Cold, ``VM.get_by_uuid`` and ``host.get_by_uuid`` come first (one
    each, then cached; ``list_guests`` caches the VM refs it saw).  So a
    warm migration is 3 calls plus one status poll per poll interval it
    lasts; refusals add 1; no login.

Other operations (warm)
    * ``set_host_enabled``: ``host.disable`` or ``host.enable`` (both
      idempotent in XenServer); after a timeout, ``host.get_enabled`` every
      ``poll_interval`` until it reads the change (bounded by ``[xenapi]
      join_timeout``), else the timeout is reported.  ``get_host_enabled``:
      ``host.get_enabled``.
    * ``list_guests``: ``host.get_resident_VMs`` + ``VM.get_record`` per
      resident VM (dom0 included, then skipped).
    * ``free_memory``: ``host.compute_free_memory`` per host (what xapi
      itself checks a migration against).
    * ``guest_counts``: ``VM.get_all_records`` once per pool, on its master
      (and once per host in no pool, on the host), counted by
      ``resident_on``; cold, ``host.get_by_uuid`` per member first.
    * ``get_host_resources``: ``host.get_record`` (cpu_info, metrics,
      PBDs), ``host_metrics.get_record`` (memory_total, memory_free),
      ``PBD.get_SR`` + ``SR.get_record`` per PBD; disk is the host's own
      storage (SRs not shared, content type "user").
    * ``guest_location``: ``VM.get_by_uuid`` (UUID_INVALID: gone) or the
      cached ref, ``VM.get_resident_on``; ``host.get_uuid`` for a host ref
      not seen before.
    * ``designate_new_master``: ``pool.designate_new_master`` on the old
      master, then until both answer as they should (bounded by ``[xenapi]
      join_timeout``, every ``poll_interval``): on the new master a login,
      ``pool.get_all`` and ``pool.get_master`` (== its ref), and on the old
      master a login that must answer ``HOST_IS_SLAVE``.  The old master's
      session is dropped without a logout: its xapi restarted.
    * ``reboot_host``: ``host.get_record`` (enabled, resident_VMs, the
      ``boot_time`` xapi writes into other_config at start-up) and
      ``VM.get_record`` per resident VM -- XenServer would shut guests
      down rather than refuse, so the driver refuses (``HOST_IN_USE``);
      then ``host.reboot``.  Then every ``poll_interval`` until the host is
      back (bounded by the ``timeout`` argument): ``host.get_record`` and
      ``host_metrics.get_live`` on whoever answers for the host (the
      master, or the host itself when it is in no pool or is the master),
      back when ``boot_time`` has changed (without one: once it was seen
      down) and the host is live; a member must also answer a login on
      its own URL (``HOST_IS_SLAVE`` is an answer).  Last ``host.disable``
      (xapi enables a host at start-up) and ``host.get_enabled`` to check
      that it stays so.
"""

import threading
import time
import typing
import urllib.parse

from oslo_log import log as logging

from nova_aggregates import constants
from nova_aggregates import exception
from nova_aggregates.virt import driver
from nova_aggregates.virt.xenapi import pool as xpool
from nova_aggregates.virt.xenapi import session as xsession

LOG = logging.getLogger(__name__)

NULL_REF = 'OpaqueRef:NULL'
MIB = 1024 ** 2
GIB = 1024 ** 3

_MIGRATE = 'Async.VM.pool_migrate'
_UNFINISHED = ('pending', 'cancelling')
# While xapi restarts during a hand-over, logins may answer these.
_HANDOVER_NOT_YET = ('HOST_IS_SLAVE', 'HOST_STILL_BOOTING')
# What host.reboot refusals say (the driver checks both itself first).
HOST_NOT_DISABLED = 'HOST_NOT_DISABLED'
HOST_IN_USE = 'HOST_IN_USE'
# host.other_config key xapi sets at every start-up (dbsync_slave.ml).
_BOOT_TIME = 'boot_time'
_GUEST_STATES = (driver.RUNNING, driver.PAUSED)
# Cached VM refs; the cache is simply emptied when it grows past this.
_VM_REF_CACHE_LIMIT = 10000


class _Endpoint(typing.NamedTuple):
    """Whom a call goes to: a URL and the compute host name behind it."""

    url: str
    name: str


class _MigrationFailed(xsession.XenAPIFailure):
    """The migration task failed; ``location`` is where the guest runs
    afterwards (``_UNKNOWN`` if that could not be read)."""

    def __init__(self, host, method, details, location):
        super().__init__(host, method, details)
        self.location = location


_UNKNOWN = object()


class HostOps:
    """Host status and maintenance for the xenapi driver (see the module
    docstring).  ``pools`` is the driver's ``ResourcePool``, whose host
    facts and helpers are shared."""

    def __init__(self, conf, sessions, pools):
        self.conf = conf
        self.sessions = sessions
        self._pools = pools
        self._lock = threading.Lock()
        self._host_refs = {}   # host uuid -> ref
        self._host_uuids = {}  # host ref -> uuid
        self._vm_refs = {}     # VM uuid -> ref
        # URL of a host that is no longer master -> _Endpoint of the master
        # it pointed at.
        self._moved = {}

    # -- host status ------------------------------------------------------------

    def get_host_resources(self, pool, host):
        self._check_member('read', pool, host)
        with self._pools._refusals('read', host.name):
            return self._fresh(lambda: self._resources(pool, host))

    def _resources(self, pool, host):
        record = self._call(pool, host, 'host.get_record',
                            self._host_ref(pool, host))
        cpu_info = record.get('cpu_info') or {}
        cpus = _int(cpu_info.get('cpu_count')) or len(
            record.get('host_CPUs') or ())
        total = free = 0
        metrics = record.get('metrics')
        if metrics and metrics != NULL_REF:
            figures = self._call(pool, host, 'host_metrics.get_record',
                                 metrics)
            total = _int(figures.get('memory_total'))
            free = _int(figures.get('memory_free'))
        disk = disk_used = 0
        for pbd in record.get('PBDs') or ():
            sr = self._call(pool, host, 'PBD.get_SR', pbd)
            storage = self._call(pool, host, 'SR.get_record', sr)
            # The host's own disk: shared SRs belong to the whole pool, and
            # ISO libraries or removable media hold no guest disks.
            if storage.get('shared') or storage.get('content_type') != 'user':
                continue
            disk += _int(storage.get('physical_size'))
            disk_used += _int(storage.get('physical_utilisation'))
        return driver.HostResources(
            cpu=cpus, memory_mb=total // MIB,
            memory_mb_used=max(total - free, 0) // MIB,
            disk_gb=disk // GIB, disk_gb_used=disk_used // GIB)

    def set_host_enabled(self, pool, host, enabled):
        action = 'enable' if enabled else 'disable'
        self._check_member(action, pool, host)
        method = 'host.enable' if enabled else 'host.disable'
        with self._pools._refusals(action, host.name):
            try:
                self._fresh(lambda: self._call(pool, host, method,
                                               self._host_ref(pool, host)))
            except exception.HypervisorTimeout:
                # No answer is not a refusal: the change may still land,
                # and the host's record will tell.
                if not self._await_enabled(pool, host, enabled):
                    raise

    def _await_enabled(self, pool, host, enabled):
        """Whether ``host.get_enabled`` reads ``enabled`` within ``[xenapi]
        join_timeout`` (asked every ``poll_interval``)."""
        opts = self.conf.xenapi
        deadline = time.monotonic() + opts.join_timeout
        while True:
            try:
                if bool(self._call(pool, host, 'host.get_enabled',
                                   self._host_ref(pool, host))) == enabled:
                    return True
            except (exception.HypervisorUnreachable,
                    exception.HypervisorTimeout):
                pass
            if time.monotonic() >= deadline:
                return False
            time.sleep(opts.poll_interval)

    def get_host_enabled(self, pool, host):
        self._check_member('read', pool, host)
        with self._pools._refusals('read', host.name):
            return bool(self._fresh(lambda: self._call(
                pool, host, 'host.get_enabled', self._host_ref(pool, host))))

    def list_guests(self, pool, host):
        self._check_member('read', pool, host)
        with self._pools._refusals('read', host.name):
            guests = self._fresh(lambda: self._guests(pool, host))
        return sorted(guests, key=lambda g: (g.name, g.uuid))

    def _guests(self, pool, host):
        guests = []
        host_ref = self._host_ref(pool, host)
        for vm_ref in self._call(pool, host, 'host.get_resident_VMs',
                                 host_ref):
            try:
                record = self._call(pool, host, 'VM.get_record', vm_ref)
            except xsession.XenAPIFailure as failure:
                if failure.code == 'HANDLE_INVALID':
                    continue  # the VM went away meanwhile
                raise
            if not _is_guest(record):
                continue
            self._remember_vm(record['uuid'], vm_ref)
            guests.append(driver.Guest(
                uuid=record['uuid'], name=record.get('name_label', ''),
                memory=_int(record.get('memory_static_max')),
                host=host.name, power_state=record['power_state']))
        return guests

    def free_memory(self, pool, hosts):
        for host in hosts:
            self._check_member('read', pool, host)
        free = {}
        for host in hosts:
            with self._pools._refusals('read', host.name):
                free[host.name] = _int(self._fresh(lambda: self._call(
                    pool, host, 'host.compute_free_memory',
                    self._host_ref(pool, host))))
        return free

    def guest_counts(self, pools, hosts):
        counts = {}
        asks = [(pool, pool.members, None, pool.master or pool.name)
                for pool in pools]
        asks.extend((None, (host,), host, host.name) for host in hosts)
        for pool, members, host, whom in asks:
            try:
                with self._pools._refusals('count the guests of', whom):
                    counts.update(self._fresh(
                        lambda: self._resident_counts(pool, host, members)))
            except (exception.PoolOperationRefused,
                    exception.HypervisorUnreachable,
                    exception.HypervisorTimeout) as exc:
                # One pool's (or host's) failure is its members' alone.
                counts.update(dict.fromkeys(
                    (member.name for member in members), exc))
        return counts

    def _resident_counts(self, pool, host, members):
        names = {self._host_ref(pool, member): member.name
                 for member in members}
        counts = dict.fromkeys(names.values(), 0)
        for record in self._call(pool, host, 'VM.get_all_records').values():
            name = names.get(record.get('resident_on'))
            if name is not None and _is_guest(record):
                counts[name] += 1
        return counts

    # -- migration --------------------------------------------------------------

    def live_migrate(self, pool, guest, target):
        action = driver.migration_action(guest)
        if pool is None or pool.member(target.name) is None:
            raise driver.not_in_pool(action, target.name, pool)
        try:
            return self._fresh(lambda: self._migrate(pool, guest, target))
        except xsession.XenAPIFailure as failure:
            extra = {}
            location = getattr(failure, 'location', _UNKNOWN)
            if location is not _UNKNOWN:
                extra['location'] = location
            raise exception.PoolOperationRefused(
                action=action, host=target.name, code=failure.code,
                details=_details(failure), **extra) from failure

    def _migrate(self, pool, guest, target):
        vm_ref = self._vm_ref(pool, guest.uuid)
        dest_ref = self._host_ref(pool, target)
        task = self._call(pool, None, _MIGRATE, vm_ref, dest_ref,
                          {'live': 'true'})
        timeout = self.conf.maintenance.migration_timeout
        try:
            status = self._wait_task(pool, task, timeout)
            timed_out = status is None
            if timed_out:
                status = self._cancel_task(pool, task)
            if timed_out and status != 'success':
                location = self._location(pool, vm_ref)
                raise exception.HypervisorTimeout(
                    'Live migration of guest %s (%s) to host %s did not '
                    'finish within %s seconds and was cancelled; the guest '
                    'runs on %s.' % (guest.name, guest.uuid, target.name,
                                     timeout, _shown(location)),
                    host=target.name, timeout=timeout,
                    **_location_kwargs(location))
            if status != 'success':
                info = self._call(pool, None, 'task.get_error_info', task)
                location = self._location(pool, vm_ref)
                raise _MigrationFailed(self._endpoint(pool, None).name,
                                       _MIGRATE, info or [status.upper()],
                                       location)
        finally:
            self._destroy_task(pool, task)
        resident = self._call(pool, None, 'VM.get_resident_on', vm_ref)
        if resident == dest_ref:
            return target.name
        location = None if resident == NULL_REF else \
            self._name_of_ref(pool, resident)
        raise exception.PoolOperationRefused(
            action=driver.migration_action(guest), host=target.name,
            code=driver.MIGRATION_NOT_CONFIRMED,
            details='the migration task succeeded but the guest runs on %s'
                    % _shown(location), location=location)

    def _wait_task(self, pool, task, timeout):
        """The task's final status, or None if it is still running after
        ``timeout`` seconds."""
        interval = self.conf.xenapi.poll_interval
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            time.sleep(min(interval, remaining))
            status = self._call(pool, None, 'task.get_status', task)
            if status not in _UNFINISHED:
                return status

    def _cancel_task(self, pool, task):
        """Cancel a task that took too long; its status afterwards."""
        try:
            self._call(pool, None, 'task.cancel', task)
        except xsession.XenAPIFailure as failure:
            # e.g. it finished just now; its status says how.
            LOG.info('Cancelling task %s: %s', task, failure)
        return self._call(pool, None, 'task.get_status', task)

    def _destroy_task(self, pool, task):
        try:
            self._call(pool, None, 'task.destroy', task)
        except (xsession.XenAPIFailure, exception.HypervisorUnreachable,
                exception.HypervisorTimeout) as exc:
            # xapi garbage-collects finished tasks anyway.
            LOG.info('Cannot destroy task %s: %s', task, exc)

    def _location(self, pool, vm_ref):
        """Where the VM runs after a failed migration, or _UNKNOWN."""
        try:
            resident = self._call(pool, None, 'VM.get_resident_on', vm_ref)
            if resident == NULL_REF:
                return None
            return self._name_of_ref(pool, resident)
        except (xsession.XenAPIFailure, exception.PoolOperationRefused,
                exception.HypervisorUnreachable,
                exception.HypervisorTimeout) as exc:
            LOG.warning('Cannot tell where VM %s runs: %s', vm_ref, exc)
            return _UNKNOWN

    def guest_location(self, pool, guest_uuid):
        if pool is None:
            return None  # no pool: no migration to account for
        where = self._endpoint(pool, None)
        with self._pools._refusals('find guest %s on' % guest_uuid,
                                   where.name):
            return self._fresh(lambda: self._locate(pool, guest_uuid))

    def _locate(self, pool, guest_uuid):
        try:
            vm_ref = self._vm_ref(pool, guest_uuid)
        except xsession.XenAPIFailure as failure:
            if failure.code == 'UUID_INVALID':
                return None
            raise
        resident = self._call(pool, None, 'VM.get_resident_on', vm_ref)
        if resident == NULL_REF:
            return None
        return self._name_of_ref(pool, resident)

    # -- master hand-over ---------------------------------------------------------

    def designate_new_master(self, pool, new_master):
        action = 'hand the master role to'
        if pool is None or pool.member(new_master.name) is None:
            raise driver.not_in_pool(action, new_master.name, pool)
        change = driver.PoolChange(
            set_metadata={constants.MASTER: new_master.name})
        if self._endpoint(pool, None).name == new_master.name:
            return change  # already the master
        new_url = self._pools._url(new_master)
        with self._pools._refusals(action, new_master.name):
            new_ref = self._fresh(lambda: self._host_ref(pool, new_master))
            # Whoever really is master by now (the call follows a
            # HOST_IS_SLAVE) hands the role over.
            try:
                self._call(pool, None, 'pool.designate_new_master', new_ref)
            except exception.HypervisorTimeout:
                # No answer is not a refusal: the hand-over may be under
                # way, and the two hosts will tell.
                LOG.info('pool.designate_new_master(%s) timed out; waiting '
                         'for the hand-over', new_master.name)
            old = self._endpoint(pool, None)
            if old.name == new_master.name:
                return change  # it was the master already
            # The old master's xapi restarts as a member: its session is
            # dead.
            self.sessions.drop(old.url)
            self._await_handover(old, _Endpoint(new_url, new_master.name),
                                 new_ref)
        self._record_move(old.url, _Endpoint(new_url, new_master.name))
        return change

    def _await_handover(self, old, new, new_ref):
        opts = self.conf.xenapi
        deadline = time.monotonic() + opts.join_timeout
        new_ready = old_ready = False
        while True:
            new_ready = new_ready or self._is_master(new, new_ref)
            old_ready = old_ready or self._is_member(old)
            if new_ready and old_ready:
                return
            if time.monotonic() >= deadline:
                waiting = [name for name, ready in
                           ((new.name + ' as master', new_ready),
                            (old.name + ' as member', old_ready))
                           if not ready]
                raise exception.HypervisorTimeout(
                    'The pool master role was handed from %s to %s, but '
                    'within %s seconds %s did not answer so.' % (
                        old.name, new.name, opts.join_timeout,
                        ' and '.join(waiting)),
                    host=new.name, timeout=opts.join_timeout)
            time.sleep(opts.poll_interval)

    def _is_master(self, new, new_ref):
        try:
            pool_ref = self.sessions.call(new.url, new.name,
                                          'pool.get_all')[0]
            return self.sessions.call(new.url, new.name, 'pool.get_master',
                                      pool_ref) == new_ref
        except xsession.XenAPIFailure as failure:
            if failure.code in _HANDOVER_NOT_YET:
                return False
            raise
        except (exception.HypervisorUnreachable,
                exception.HypervisorTimeout):
            return False  # restarting

    def _is_member(self, old):
        try:
            self.sessions.call(old.url, old.name, 'pool.get_all')
        except xsession.XenAPIFailure as failure:
            if failure.code == 'HOST_IS_SLAVE':
                return True
            if failure.code in _HANDOVER_NOT_YET:
                return False
            raise
        except (exception.HypervisorUnreachable,
                exception.HypervisorTimeout):
            return False
        return False  # it still serves: still the master

    # -- reboot -------------------------------------------------------------------

    def reboot_host(self, pool, host, timeout):
        if pool is not None and pool.member(host.name) is None:
            raise exception.HostRebootRefused(
                **driver.not_in_pool('reboot', host.name, pool).kwargs)
        try:
            host_ref, boot_time = self._fresh(
                lambda: self._before_reboot(pool, host))
            try:
                self._call(pool, host, 'host.reboot', host_ref)
            except exception.HypervisorTimeout:
                # No answer is not a refusal: the boot time will tell.
                LOG.info('host.reboot of %s timed out; waiting for it to '
                         'come back', host.name)
        except xsession.XenAPIFailure as failure:
            raise exception.HostRebootRefused(
                host=host.name, code=failure.code,
                details=_details(failure)) from failure
        where = self._endpoint(pool, host)
        own = where.name == host.name
        if own:
            # Its xapi restarts: the session is dead.
            self.sessions.drop(where.url)
        LOG.info('Host %s is rebooting; waiting up to %s seconds for it',
                 host.name, timeout)
        self._await_reboot(pool, host, host_ref, boot_time, own, timeout)
        # xapi enables a host at start-up; it is still in maintenance.
        self.set_host_enabled(pool, host, False)
        if self.get_host_enabled(pool, host):
            LOG.warning('Host %s was enabled again after its reboot; '
                        'disabling it once more', host.name)
            self.set_host_enabled(pool, host, False)

    def _before_reboot(self, pool, host):
        """(host ref, boot_time or None) of a host that may be rebooted;
        HostRebootRefused if it is enabled or runs a guest."""
        host_ref = self._host_ref(pool, host)
        record = self._call(pool, host, 'host.get_record', host_ref)
        if record.get('enabled'):
            raise exception.HostRebootRefused(
                host=host.name, code=HOST_NOT_DISABLED,
                details='it is enabled; disable it first')
        for vm_ref in record.get('resident_VMs') or ():
            try:
                vm = self._call(pool, host, 'VM.get_record', vm_ref)
            except xsession.XenAPIFailure as failure:
                if failure.code == 'HANDLE_INVALID':
                    continue  # gone meanwhile
                raise
            if (vm.get('is_control_domain') or vm.get('is_a_template')
                    or vm.get('power_state') not in _GUEST_STATES):
                continue
            raise exception.HostRebootRefused(
                host=host.name, code=HOST_IN_USE,
                details='guest %s (%s) runs on it' % (
                    vm.get('name_label', ''), vm.get('uuid')))
        return host_ref, (record.get('other_config') or {}).get(_BOOT_TIME)

    def _await_reboot(self, pool, host, host_ref, boot_time, own, timeout):
        interval = self.conf.xenapi.poll_interval
        deadline = time.monotonic() + timeout
        seen_down = False
        last = None
        while True:
            try:
                current = self._boot_state(pool, host, host_ref, own)
            except (xsession.XenAPIFailure, exception.HypervisorUnreachable,
                    exception.HypervisorTimeout) as exc:
                # Down, or still starting (HOST_STILL_BOOTING, ...).
                LOG.debug('Host %s not back yet: %s', host.name, exc)
                seen_down, last = True, exc
            else:
                last = None
                if current is None:
                    seen_down = True
                elif (current != boot_time) if boot_time else seen_down:
                    LOG.info('Host %s is back after its reboot', host.name)
                    return
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                message = None
                if last is not None:
                    message = '%s Last answer: %s' % (
                        exception.HostDidNotComeBack.msg_fmt % {
                            'host': host.name, 'timeout': timeout}, last)
                raise exception.HostDidNotComeBack(
                    message, host=host.name, timeout=timeout)
            time.sleep(min(interval, remaining))

    def _boot_state(self, pool, host, host_ref, own):
        """The host's boot_time if it answers and is live (``""`` if it
        has none), else None."""
        record = self._call(pool, host, 'host.get_record', host_ref)
        metrics = record.get('metrics')
        if metrics and metrics != NULL_REF and not self._call(
                pool, host, 'host_metrics.get_live', metrics):
            return None
        boot_time = (record.get('other_config') or {}).get(_BOOT_TIME, '')
        if not own and host.hypervisor_url:
            # The master thinks it is up; its own xapi must answer too.
            try:
                self.sessions.call(host.hypervisor_url, host.name,
                                   'pool.get_all')
            except xsession.XenAPIFailure as failure:
                if failure.code != 'HOST_IS_SLAVE':
                    raise
        return boot_time

    # -- whom to ask, and about which refs ----------------------------------------

    def _endpoint(self, pool, host):
        """The pool's master (where a hand-over led, if one was seen), or
        ``host`` itself when there is no pool."""
        if pool is None:
            target = _Endpoint(self._pools._url(host), host.name)
        else:
            master = self._pools._master(pool, 'reach', pool.master)
            target = _Endpoint(self._pools._url(master), master.name)
        with self._lock:
            return self._moved.get(target.url, target)

    def _call(self, pool, host, method, *args):
        """``method`` on the endpoint for ``pool``/``host``; one
        HOST_IS_SLAVE is followed to the master it names."""
        where = self._endpoint(pool, host)
        try:
            return self.sessions.call(where.url, where.name, method, *args)
        except xsession.XenAPIFailure as failure:
            if failure.code != 'HOST_IS_SLAVE' or len(failure.details) < 2:
                raise
            master = self._master_at(pool, failure.details[1], where.url)
            LOG.info('%s is no longer a pool master; asking %s', where.name,
                     master.name)
            self._record_move(where.url, master)
        return self.sessions.call(master.url, master.name, method, *args)

    def _master_at(self, pool, address, fallback_url):
        if pool is not None:
            url, name = self._pools._url_for_address(pool, address,
                                                     fallback_url)
            return _Endpoint(url, name or address)
        parts = urllib.parse.urlsplit(fallback_url)
        netloc = address
        if parts.port is not None and ':' not in address:
            netloc = '%s:%s' % (address, parts.port)
        return _Endpoint(parts._replace(netloc=netloc).geturl(), address)

    def _record_move(self, old_url, master):
        with self._lock:
            self._moved.pop(master.url, None)
            for url, moved_to in list(self._moved.items()):
                if moved_to.url == old_url:
                    self._moved[url] = master
            if old_url != master.url:
                self._moved[old_url] = master

    def _check_member(self, action, pool, host):
        if pool is not None and pool.member(host.name) is None:
            raise driver.not_in_pool(action, host.name, pool)

    def _fresh(self, step):
        """Run ``step``; after HANDLE_INVALID (a cached ref went stale),
        drop the caches and run it once more."""
        try:
            return step()
        except xsession.XenAPIFailure as failure:
            if failure.code != 'HANDLE_INVALID':
                raise
            LOG.debug('Stale ref (%s); reading refs again', failure)
            with self._lock:
                self._host_refs.clear()
                self._vm_refs.clear()
        return step()

    def _uuid_of(self, pool, host):
        """The XenServer host uuid of compute host ``host``."""
        if pool is not None:
            uuid = pool.metadata.get(xpool.uuid_key(host.name))
            if uuid:
                return uuid
        url = self._pools._url(host)
        facts = self._pools._cached_facts(url)
        if facts is not None:
            return facts.uuid
        if pool is None or pool.master == host.name:
            return self._pools._facts_of(host).uuid
        # A member does not answer itself: find it on the master.
        records = self._call(pool, host, 'host.get_all_records')
        addresses = {rec['uuid']: rec.get('address')
                     for rec in records.values()}
        uuid = self._pools._identify(host, addresses)
        if uuid is None:
            raise exception.PoolOperationRefused(
                action='find', host=host.name, code=xpool.UNKNOWN_UUID,
                details='no %s metadata for it and no XenServer host of the '
                        'pool has its address' % xpool.uuid_key(host.name))
        return uuid

    def _host_ref(self, pool, host):
        uuid = self._uuid_of(pool, host)
        with self._lock:
            ref = self._host_refs.get(uuid)
        if ref is None:
            ref = self._call(pool, host, 'host.get_by_uuid', uuid)
            with self._lock:
                self._host_refs[uuid] = ref
                self._host_uuids[ref] = uuid
        return ref

    def _vm_ref(self, pool, vm_uuid):
        with self._lock:
            ref = self._vm_refs.get(vm_uuid)
        if ref is None:
            ref = self._call(pool, None, 'VM.get_by_uuid', vm_uuid)
            self._remember_vm(vm_uuid, ref)
        return ref

    def _remember_vm(self, vm_uuid, ref):
        with self._lock:
            if len(self._vm_refs) >= _VM_REF_CACHE_LIMIT:
                self._vm_refs.clear()
            self._vm_refs[vm_uuid] = ref

    def _name_of_ref(self, pool, host_ref):
        """The compute host name of the pool member with ``host_ref``."""
        with self._lock:
            uuid = self._host_uuids.get(host_ref)
        if uuid is None:
            uuid = self._call(pool, None, 'host.get_uuid', host_ref)
            with self._lock:
                self._host_uuids[host_ref] = uuid
                self._host_refs[uuid] = host_ref
        for key, value in pool.metadata.items():
            if key.startswith(xpool.UUID_KEY_PREFIX) and value == uuid:
                name = key[len(xpool.UUID_KEY_PREFIX):]
                if pool.member(name) is not None:
                    return name
        for member in pool.members:
            facts = (self._pools._cached_facts(member.hypervisor_url)
                     if member.hypervisor_url else None)
            if facts is not None and facts.uuid == uuid:
                return member.name
        address = self._call(pool, None, 'host.get_address', host_ref)
        for member in pool.members:
            url = member.hypervisor_url
            if not url or not address:
                continue
            facts = self._pools._cached_facts(url)
            parts = urllib.parse.urlsplit(url)
            if address in (facts.address if facts else None, parts.hostname,
                           parts.netloc):
                return member.name
        raise exception.PoolOperationRefused(
            action='find the compute host of XenServer host', host=uuid,
            code=xpool.UNKNOWN_UUID,
            details='no member of aggregate %s is that host'
                    % pool.aggregate_id)


def _is_guest(record):
    """A VM record of a guest that occupies its host: running or paused,
    neither the control domain nor a template."""
    return not (record.get('is_control_domain')
                or record.get('is_a_template')
                or record.get('power_state') not in _GUEST_STATES)


def _int(value):
    """XenAPI sends 64-bit ints as decimal strings."""
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def _details(failure):
    return ('%s (%s on %s)' % (failure.text, failure.method,
                               failure.host)).strip()


def _shown(location):
    if location is _UNKNOWN:
        return 'a host that could not be read'
    return location or 'no host (it is not running)'


def _location_kwargs(location):
    return {} if location is _UNKNOWN else {'location': location}
