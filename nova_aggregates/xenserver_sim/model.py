"""In-memory state of a simulated XenServer fleet.

Everything here is guarded by ``State.lock``; callers take the lock and then
read or change the objects directly.  The XenAPI semantics (checks, error
codes, delayed side effects) live in ``xapi.py``; this module only holds data
and small helpers.

Visibility rule: a host endpoint that is a pool master "owns" the database of
its pool, so it sees the pool's member hosts, every VM living on them and the
pool's tasks.  A member endpoint serves nothing (password logins answer
``HOST_IS_SLAVE``).
"""

import datetime
import threading
import time
import uuid as uuidlib
import xmlrpc.client

NULL_REF = 'OpaqueRef:NULL'
GIB = 1024**3
MIB = 1024**2

# What a freshly installed host reports; per-host copies can be changed through
# the control API to provoke the platform-version / homogeneity checks of
# pool.join.
DEFAULT_SOFTWARE_VERSION = {
    'product_brand': 'XCP-ng',
    'product_version': '8.2.1',
    'product_version_text': '8.2',
    'platform_name': 'XCP',
    'platform_version': '3.2.1',
    'build_number': 'release/yangtze/master/58',
    'xapi': '1.20',
    'xen': '4.13.5',
    'linux': '4.19.0+1',
}
DEFAULT_API_VERSION = (2, 20)
DEFAULT_CPU_VENDOR = 'GenuineIntel'
DEFAULT_HOST_MEMORY = 32 * GIB
DEFAULT_DOM0_MEMORY = 4 * GIB
DEFAULT_VM_MEMORY = 1 * GIB
HOST_MEMORY_OVERHEAD = 256 * MIB
DEFAULT_HOST_CPUS = 8
# The host's local storage SR ("Local storage"): size and what its VDIs use.
DEFAULT_LOCAL_SR_SIZE = 500 * GIB
DEFAULT_LOCAL_SR_USED = 0

# Power states in which a VM occupies its host (counts as "running" for
# join/eject).
RESIDENT_STATES = ('Running', 'Paused')


def new_ref():
    return 'OpaqueRef:%s' % uuidlib.uuid4()


def new_uuid():
    return str(uuidlib.uuid4())


def now_datetime():
    # xapi sends UTC timestamps with a trailing Z; DateTime keeps the string as
    # given.
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime(
        '%Y%m%dT%H:%M:%SZ'
    )
    return xmlrpc.client.DateTime(stamp)


EPOCH_DATETIME = xmlrpc.client.DateTime('19700101T00:00:00Z')


class XapiError(Exception):
    """An API error: becomes a ``Status: Failure`` reply with ``details``."""

    def __init__(self, code, *params):
        super().__init__(code, *params)
        self.details = [str(code)] + [str(p) for p in params]


class SimHost:
    """One simulated XenServer host and its XML-RPC endpoint.

    Public, stable attributes: ``name``, ``uuid``, ``url``, ``address``,
    ``port``, ``ref`` (changes when the host comes back from an eject) and
    ``state``.
    """

    CLASS = 'host'

    def __init__(
        self, index, name, bind_host, port, scheme, username, password
    ):
        self.index = index
        self.name = name
        self.uuid = new_uuid()
        self.ref = new_ref()
        self.bind_host = bind_host  # IP the endpoint listens on
        self.port = port
        self.scheme = scheme
        self.address = None  # management address; set once the port is known
        self.username = username
        self.password = password
        self.name_label = name
        self.name_description = 'Simulated XenServer host'
        self.enabled = True
        self.software_version = dict(DEFAULT_SOFTWARE_VERSION, hostname=name)
        self.cpu_vendor = DEFAULT_CPU_VENDOR
        self.api_version = DEFAULT_API_VERSION
        self.memory_total = DEFAULT_HOST_MEMORY
        self.cpus = DEFAULT_HOST_CPUS
        self.disk_total = DEFAULT_LOCAL_SR_SIZE
        self.disk_used = DEFAULT_LOCAL_SR_USED
        self.shared_sr = False
        self.other_config = {}
        self.pool = None  # pool whose database this host's xapi uses
        # Pool that accepted this host; the "fuse" has not blown yet.
        self.joining = None
        self.stopped = False  # endpoint taken down through the control API
        self.rebooting = False
        self.dom0 = None
        # Objects of the host's local installation, made anew after an
        # eject: its host_metrics, its local storage SR and that SR's PBD.
        self.metrics = None
        self.local_sr = None
        self.local_pbd = None
        self.logins = 0
        # Bumped on every membership change so that stale timers can tell they
        # are stale.
        self.epoch = 0
        # Seconds a host.reboot keeps the host down (None: the fleet's
        # reboot_delay); reboot_hung: the never_back fault, down until
        # start_host.
        self.reboot_delay = None
        self.reboot_hung = False
        self.boot_time = 0.0
        self.stamp_boot()

    def stamp_boot(self):
        """What xapi writes into ``other_config`` at start-up:
        ``boot_time`` and ``agent_start_time`` (seconds since the epoch, as
        strings); a later boot always gets a later stamp."""
        self.boot_time = max(time.time(), self.boot_time + 0.001)
        stamp = '%.3f' % self.boot_time
        self.other_config['boot_time'] = stamp
        self.other_config['agent_start_time'] = stamp

    @property
    def url(self):
        url_host = self.bind_host
        if url_host in ('', '0.0.0.0'):
            url_host = '127.0.0.1'
        return '%s://%s:%s/' % (self.scheme, url_host, self.port)

    @property
    def is_master(self):
        return self.pool is not None and self.pool.master is self

    @property
    def serving(self):
        """True when this endpoint answers API calls (it is the master of its
        pool)."""
        return self.is_master and not self.rebooting

    @property
    def reachable(self):
        return not self.stopped and not self.rebooting

    @property
    def state(self):
        if self.rebooting:
            return 'rebooting'
        if self.stopped:
            return 'stopped'
        if self.joining is not None:
            return 'joining'
        return 'master' if self.is_master else 'member'

    def __repr__(self):
        return '<SimHost %s %s %s>' % (self.name, self.url, self.state)


class Pool:
    CLASS = 'pool'

    def __init__(self, master):
        self.ref = new_ref()
        self.uuid = new_uuid()
        self.name_label = ''
        self.name_description = ''
        self.master = master
        self.members = [master]
        self.other_config = {}
        self.alive = True


class VM:
    CLASS = 'VM'

    def __init__(
        self,
        name_label,
        home,
        memory,
        power_state='Halted',
        is_control_domain=False,
    ):
        self.ref = new_ref()
        self.uuid = new_uuid()
        self.name_label = name_label
        self.name_description = ''
        # Host it runs on when running, its affinity when halted.
        self.home = home
        self.memory = int(memory)
        self.power_state = power_state
        self.is_control_domain = is_control_domain
        self.is_a_template = False
        self.other_config = {}
        self.domid = 0 if is_control_domain else -1
        # While a live migration runs: its target (whose free memory it
        # already takes) and {task ref: operation}, as xapi's
        # current_operations.
        self.migrating_to = None
        self.current_operations = {}

    @property
    def resident(self):
        return self.power_state in RESIDENT_STATES

    @property
    def is_guest_resident(self):
        return self.resident and not self.is_control_domain


class HostMetrics:
    """A host's ``host_metrics`` object; its memory figures are computed
    when read (see ``xapi.host_metrics_record``)."""

    CLASS = 'host_metrics'

    def __init__(self, host):
        self.ref = new_ref()
        self.uuid = new_uuid()
        self.host = host
        self.other_config = {}


class SR:
    """A storage repository; the simulator has one per host, its local
    storage (not shared), whose size and use are the host's
    ``disk_total`` / ``disk_used``."""

    CLASS = 'SR'

    def __init__(self, host, name_label='Local storage'):
        self.ref = new_ref()
        self.uuid = new_uuid()
        self.host = host
        self.name_label = name_label
        self.name_description = ''
        self.other_config = {'i18n-key': 'local-storage'}


class PBD:
    """The plug of an SR into a host."""

    CLASS = 'PBD'

    def __init__(self, host, sr):
        self.ref = new_ref()
        self.uuid = new_uuid()
        self.host = host
        self.sr = sr
        self.other_config = {}


class Task:
    CLASS = 'task'

    def __init__(self, name_label, pool, host):
        self.ref = new_ref()
        self.uuid = new_uuid()
        self.name_label = name_label
        self.name_description = ''
        self.pool = pool
        self.host = host
        self.status = 'pending'
        self.progress = 0.0
        self.result = ''
        self.error_info = []
        self.created = now_datetime()
        self.finished = EPOCH_DATETIME
        self.other_config = {}
        # Called once when the task ends, however it ends (success,
        # failure, cancel): releases what the operation held.
        self.cleanup = None

    def finish(self, status, result='', error_info=()):
        self.status = status
        self.result = result
        self.error_info = list(error_info)
        self.progress = 1.0
        self.finished = now_datetime()
        cleanup, self.cleanup = self.cleanup, None
        if cleanup is not None:
            cleanup()


class Session:
    CLASS = 'session'

    def __init__(self, host, user, originator):
        self.ref = new_ref()
        self.uuid = new_uuid()
        self.host = host
        self.user = user
        self.originator = originator


class State:
    """All hosts, pools, VMs, tasks and sessions of a fleet, behind one
    lock."""

    def __init__(self):
        self.lock = threading.RLock()
        self.hosts = []
        self.by_name = {}
        self.objects = {}  # ref -> host / pool / VM / task
        self.sessions = {}  # ref -> Session
        self.vms = []
        self.tasks = {}  # ref -> Task

    # -- registry -------------------------------------------------------------

    def register(self, obj):
        self.objects[obj.ref] = obj
        if isinstance(obj, VM):
            self.vms.append(obj)
        elif isinstance(obj, Task):
            self.tasks[obj.ref] = obj

    def forget(self, obj):
        self.objects.pop(obj.ref, None)
        if isinstance(obj, VM) and obj in self.vms:
            self.vms.remove(obj)
        elif isinstance(obj, Task):
            self.tasks.pop(obj.ref, None)

    def add_host(self, host):
        self.hosts.append(host)
        self.by_name[host.name] = host
        self.register(host)
        self.make_standalone(host)

    def make_standalone(self, host):
        """Give ``host`` a fresh pool of its own and a dom0 (first boot, or
        after eject)."""
        pool = Pool(host)
        self.register(pool)
        host.pool = pool
        host.joining = None
        dom0 = VM(
            'Control domain on host: %s' % host.name,
            host,
            DEFAULT_DOM0_MEMORY,
            power_state='Running',
            is_control_domain=True,
        )
        self.register(dom0)
        host.dom0 = dom0
        host.metrics = HostMetrics(host)
        host.local_sr = SR(host)
        host.local_pbd = PBD(host, host.local_sr)
        for obj in (host.metrics, host.local_sr, host.local_pbd):
            self.register(obj)
        return pool

    def wipe(self, host):
        """Forget what an eject wipes: the host's VMs (dom0 included) and
        its local objects; a reboot makes them anew."""
        for vm in self.vms_on(host):
            self.forget(vm)
        for obj in (host.metrics, host.local_sr, host.local_pbd):
            if obj is not None:
                self.forget(obj)
        host.dom0 = host.metrics = host.local_sr = host.local_pbd = None

    def kill_pool(self, pool):
        """A pool database disappears (its only host joined elsewhere or was
        ejected)."""
        pool.alive = False
        self.forget(pool)
        for task in [t for t in self.tasks.values() if t.pool is pool]:
            self.forget(task)

    def drop_sessions(self, host):
        for ref in [r for r, s in self.sessions.items() if s.host is host]:
            del self.sessions[ref]

    def resolve_address(self, address):
        """Find the host a ``master_address`` names (its address, or its name
        as DNS)."""
        for host in self.hosts:
            if address in (host.address, host.name):
                return host
        return None

    # -- per-pool views -------------------------------------------------------

    def vms_on(self, host):
        return [vm for vm in self.vms if vm.home is host]

    def visible(self, pool, obj):
        if isinstance(obj, SimHost):
            return obj in pool.members
        if isinstance(obj, VM):
            return obj.home in pool.members
        if isinstance(obj, (HostMetrics, SR, PBD)):
            return obj.host in pool.members
        if isinstance(obj, Pool):
            return obj is pool
        if isinstance(obj, Task):
            return obj.pool is pool
        return False

    def view(self, pool, cls):
        if cls == 'host':
            return list(pool.members)
        if cls == 'pool':
            return [pool]
        if cls == 'VM':
            return [vm for vm in self.vms if vm.home in pool.members]
        if cls == 'task':
            return [t for t in self.tasks.values() if t.pool is pool]
        if cls == 'host_metrics':
            return [h.metrics for h in pool.members if h.metrics]
        if cls == 'SR':
            return [h.local_sr for h in pool.members if h.local_sr]
        if cls == 'PBD':
            return [h.local_pbd for h in pool.members if h.local_pbd]
        raise ValueError(cls)

    def lookup(self, pool, cls, ref):
        obj = self.objects.get(ref) if isinstance(ref, str) else None
        if obj is None or obj.CLASS != cls or not self.visible(pool, obj):
            raise XapiError(
                'HANDLE_INVALID',
                cls,
                ref if isinstance(ref, str) else NULL_REF,
            )
        return obj

    def free_memory(self, host, extra_used=0, ignoring=None):
        """Free memory of ``host``: resident VMs and the VMs migrating to
        it take theirs (``ignoring`` one VM, for its own migration)."""
        used = sum(
            vm.memory
            for vm in self.vms
            if vm is not ignoring
            and vm.resident
            and (vm.home is host or vm.migrating_to is host)
        )
        return host.memory_total - HOST_MEMORY_OVERHEAD - used - extra_used

    def live_pools(self):
        """Pools that exist from the fleet's point of view, in host order.

        A joining host's old single-host pool is left out: the master already
        lists the host, and the old pool is gone as soon as the joiner
        restarts.  A pool whose master is down (stopped, or rebooting after
        ``host.reboot``) is still listed; a host rebooting after an eject is
        in no pool.
        """
        seen = []
        for host in self.hosts:
            pool = host.pool
            if (
                pool is not None
                and pool.alive
                and pool.master is host
                and host.joining is None
                and pool not in seen
            ):
                seen.append(pool)
        return seen
