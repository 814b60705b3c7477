"""A driver for logical aggregates: pools exist only in the database.

For host maintenance it keeps, per driver instance and in memory, what a
hypervisor would: every host's totals (``[fake_driver]`` options until
``configure_host`` says otherwise), its enabled flag and its guests
(``add_guest``).  Migrations are refused exactly as XenServer refuses
``VM.pool_migrate`` -- same codes, same order of checks, same parameters
-- so that the manager behaves the same on both drivers.  One lock guards
the state: the API calls drivers from many threads.
"""

import dataclasses
import threading
import time
import uuid as uuidlib

from nova_aggregates import constants
from nova_aggregates import exception
from nova_aggregates.virt import driver

MIB = 1024 ** 2

# What VM.pool_migrate answers (xenserver-pools.md §2.5).
HOST_DISABLED = 'HOST_DISABLED'
NOT_ENOUGH_MEMORY = 'HOST_NOT_ENOUGH_FREE_MEMORY'
BAD_POWER_STATE = 'VM_BAD_POWER_STATE'
NO_SUCH_GUEST = 'UUID_INVALID'
# What host.reboot answers (api-contract §14).
HOST_NOT_DISABLED = 'HOST_NOT_DISABLED'
HOST_IN_USE = 'HOST_IN_USE'

_RESIDENT = (driver.RUNNING, driver.PAUSED)
_POWER_STATES = _RESIDENT + ('Halted', 'Suspended')


@dataclasses.dataclass
class _Reboot:
    """How the reboots of one host go (``configure_reboot``)."""

    fail: str | None = None
    never_back: bool = False
    seconds: float = 0.0


@dataclasses.dataclass
class _Host:
    memory_mb: int
    cpus: int
    disk_gb: int
    enabled: bool = True
    reboot: _Reboot = dataclasses.field(default_factory=_Reboot)
    reboots: int = 0


@dataclasses.dataclass
class _Guest:
    uuid: str
    name: str
    memory: int
    host: str
    power_state: str

    @property
    def resident(self):
        return self.power_state in _RESIDENT

    def public(self):
        return driver.Guest(uuid=self.uuid, name=self.name,
                            memory=self.memory, host=self.host,
                            power_state=self.power_state)


def _name(host):
    return getattr(host, 'name', host)


class FakeDriver(driver.ComputeDriver):
    """Accepts every pool change; records the first host as master."""

    def __init__(self, conf):
        super().__init__(conf)
        self._lock = threading.Lock()
        self._hosts = {}
        self._guests = {}

    # -- pools --------------------------------------------------------------

    def add_to_pool(self, pool, host):
        if pool.master is None:
            return driver.PoolChange(set_metadata={constants.MASTER: host.name})
        return driver.PoolChange()

    def remove_from_pool(self, pool, host):
        if host.name == pool.master:
            return driver.PoolChange(remove_metadata=(constants.MASTER,))
        return driver.PoolChange()

    def get_pool_state(self, pool):
        return driver.PoolState(master=pool.master,
                                members=frozenset(h.name for h in pool.members))

    # -- seeding (tests, benchmarks, make serve) --------------------------------

    def add_guest(self, host, name, memory_mb, uuid=None,
                  power_state=driver.RUNNING):
        """A guest of ``memory_mb`` MiB on ``host`` (a name or ComputeHost);
        returns its uuid.  Like a hypervisor's, the host's memory is not
        checked: seeding may overcommit."""
        if power_state not in _POWER_STATES:
            raise ValueError('power_state must be one of %s'
                             % ', '.join(_POWER_STATES))
        if isinstance(memory_mb, bool) or int(memory_mb) <= 0:
            raise ValueError('memory_mb must be a positive number')
        guest = _Guest(uuid=uuid or str(uuidlib.uuid4()), name=name,
                       memory=int(memory_mb) * MIB, host=_name(host),
                       power_state=power_state)
        with self._lock:
            if guest.uuid in self._guests:
                raise ValueError('guest %s exists already' % guest.uuid)
            self._host(guest.host)
            self._guests[guest.uuid] = guest
        return guest.uuid

    def set_power_state(self, guest_uuid, power_state):
        """Stop, pause or start a seeded guest where it is."""
        if power_state not in _POWER_STATES:
            raise ValueError('power_state must be one of %s'
                             % ', '.join(_POWER_STATES))
        with self._lock:
            self._guests[guest_uuid].power_state = power_state

    def remove_guest(self, guest_uuid):
        with self._lock:
            self._guests.pop(guest_uuid, None)

    def configure_host(self, host, memory_mb=None, cpus=None, disk_gb=None):
        """Give one host other totals than the ``[fake_driver]`` ones."""
        with self._lock:
            state = self._host(_name(host))
            for attr, value in (('memory_mb', memory_mb), ('cpus', cpus),
                                ('disk_gb', disk_gb)):
                if value is not None:
                    setattr(state, attr, int(value))

    def configure_reboot(self, host, fail=None, never_back=False,
                         seconds=0.0):
        """How the next ``reboot_host`` calls of ``host`` go (replacing
        what was configured before; ``configure_reboot(host)`` is a normal,
        instant reboot again).  ``fail``: a hypervisor code (e.g.
        ``"HOST_OFFLINE"``) every reboot is refused with, once the host is
        found disabled and empty.  ``seconds``: how long the reboot takes;
        reboot_host waits for it, at most its ``timeout``.  ``never_back``:
        the host does not come back; reboot_host waits its whole
        ``timeout``, then raises HostDidNotComeBack (as it does when
        ``seconds`` exceeds the timeout)."""
        if isinstance(seconds, bool) or float(seconds) < 0:
            raise ValueError('seconds must be >= 0')
        with self._lock:
            self._host(_name(host)).reboot = _Reboot(
                fail=fail or None, never_back=bool(never_back),
                seconds=float(seconds))

    def reboot_count(self, host):
        """How many reboots of ``host`` the fake hypervisor accepted."""
        with self._lock:
            return self._host(_name(host)).reboots

    # -- host status and maintenance ------------------------------------------

    def get_host_resources(self, pool, host):
        self._check_member('read', pool, host.name)
        with self._lock:
            state = self._host(host.name)
            used = sum(g.memory for g in self._resident(host.name))
            return driver.HostResources(
                cpu=state.cpus, memory_mb=state.memory_mb,
                memory_mb_used=used // MIB, disk_gb=state.disk_gb,
                disk_gb_used=0)

    def set_host_enabled(self, pool, host, enabled):
        self._check_member('enable' if enabled else 'disable', pool,
                           host.name)
        with self._lock:
            self._host(host.name).enabled = bool(enabled)

    def get_host_enabled(self, pool, host):
        self._check_member('read', pool, host.name)
        with self._lock:
            return self._host(host.name).enabled

    def list_guests(self, pool, host):
        self._check_member('read', pool, host.name)
        with self._lock:
            return sorted((g.public() for g in self._resident(host.name)),
                          key=lambda g: (g.name, g.uuid))

    def guest_counts(self, pools, hosts=()):
        names = [member.name for pool in pools for member in pool.members]
        names.extend(host.name for host in hosts)
        with self._lock:
            counts = dict.fromkeys(names, 0)
            for guest in self._guests.values():
                if guest.resident and guest.host in counts:
                    counts[guest.host] += 1
        return counts

    def free_memory(self, pool, hosts):
        for host in hosts:
            self._check_member('read', pool, host.name)
        with self._lock:
            return {host.name: self._free(host.name) for host in hosts}

    def live_migrate(self, pool, guest, target):
        action = driver.migration_action(guest)
        if pool is None or pool.member(target.name) is None:
            raise driver.not_in_pool(action, target.name, pool)
        with self._lock:
            found = self._guests.get(guest.uuid)
            if found is None or pool.member(found.host) is None:
                raise exception.PoolOperationRefused(
                    action=action, host=target.name, code=NO_SUCH_GUEST,
                    details='VM %s' % guest.uuid)

            def refuse(code, *params):
                return exception.PoolOperationRefused(
                    action=action, host=target.name, code=code,
                    details=' '.join(str(p) for p in params),
                    location=found.host if found.resident else None)

            # The checks and their order are VM.pool_migrate's.
            if found.power_state != driver.RUNNING:
                raise refuse(BAD_POWER_STATE, guest.uuid, 'running',
                             found.power_state.lower())
            if found.host == target.name:
                return target.name
            state = self._host(target.name)
            if not state.enabled:
                raise refuse(HOST_DISABLED, target.name)
            free = self._free(target.name)
            if free < found.memory:
                raise refuse(NOT_ENOUGH_MEMORY, found.memory, max(free, 0))
            found.host = target.name
            return found.host

    def guest_location(self, pool, guest_uuid):
        with self._lock:
            found = self._guests.get(guest_uuid)
            if found is None or not found.resident:
                return None
            if pool is not None and pool.member(found.host) is None:
                return None  # not a guest of this pool
            return found.host

    def designate_new_master(self, pool, new_master):
        if pool is None or pool.member(new_master.name) is None:
            raise driver.not_in_pool('hand the master role to',
                                     new_master.name, pool)
        return driver.PoolChange(
            set_metadata={constants.MASTER: new_master.name})

    def reboot_host(self, pool, host, timeout):
        if pool is not None and pool.member(host.name) is None:
            raise exception.HostRebootRefused(
                **driver.not_in_pool('reboot', host.name, pool).kwargs)
        with self._lock:
            state = self._host(host.name)
            # The xenapi driver's checks, in its order.
            if state.enabled:
                raise exception.HostRebootRefused(
                    host=host.name, code=HOST_NOT_DISABLED,
                    details='it is enabled; disable it first')
            guests = sorted(self._resident(host.name),
                            key=lambda g: (g.name, g.uuid))
            if guests:
                raise exception.HostRebootRefused(
                    host=host.name, code=HOST_IN_USE,
                    details='guest %s (%s) runs on it' % (guests[0].name,
                                                          guests[0].uuid))
            behaviour = state.reboot
            if behaviour.fail:
                raise exception.HostRebootRefused(
                    host=host.name, code=behaviour.fail,
                    details='(fake driver: configure_reboot)')
            state.reboots += 1
        # The host is down meanwhile; it comes back disabled (a hypervisor
        # that enables it at start would be undone, as the xenapi driver
        # does).
        late = behaviour.never_back or behaviour.seconds > timeout
        wait = timeout if late else behaviour.seconds
        if wait > 0:
            time.sleep(wait)
        if late:
            raise exception.HostDidNotComeBack(host=host.name,
                                               timeout=timeout)

    # -- internals (called with the lock held) ----------------------------------

    def _host(self, name):
        state = self._hosts.get(name)
        if state is None:
            opts = self.conf.fake_driver
            state = self._hosts[name] = _Host(
                memory_mb=opts.host_memory_mb, cpus=opts.host_cpus,
                disk_gb=opts.host_disk_gb)
        return state

    def _resident(self, name):
        return [g for g in self._guests.values()
                if g.host == name and g.resident]

    def _free(self, name):
        used = sum(g.memory for g in self._resident(name))
        return self._host(name).memory_mb * MIB - used

    @staticmethod
    def _check_member(action, pool, name):
        if pool is not None and pool.member(name) is None:
            raise driver.not_in_pool(action, name, pool)
