"""``Fleet``: N simulated XenServer hosts, their endpoints and the test-control
API."""

import collections
import errno
import ipaddress
import logging
import shutil
import ssl
import tempfile
import threading

from nova_aggregates.xenserver_sim import control
from nova_aggregates.xenserver_sim import faults as faultlib
from nova_aggregates.xenserver_sim import model
from nova_aggregates.xenserver_sim import server
from nova_aggregates.xenserver_sim import tls as tlslib
from nova_aggregates.xenserver_sim import xapi

LOG = logging.getLogger(__name__)

BIND_ATTEMPTS = 20
# Oldest entries are dropped; a long CLI run must not grow forever.
CALL_LOG_LIMIT = 100000
# Host i listens on a.b.c.(10 + i) in distinct-address mode.
FIRST_HOST_OCTET = 10


class _Scheduler:
    """Background timers (join restart, eject reboot, task runs) that stop()
    cancels.

    ``wait_idle`` lets tests wait until no delayed side effect is outstanding.
    """

    def __init__(self):
        self._cond = threading.Condition()
        self._timers = set()
        self._closed = False

    def call_later(self, delay, fn):
        with self._cond:
            if self._closed:
                return
            timer = threading.Timer(max(0.0, delay), self._fire)
            timer.args = (timer, fn)
            timer.daemon = True
            self._timers.add(timer)
            timer.start()

    def _fire(self, timer, fn):
        try:
            with self._cond:
                if self._closed:
                    return
            fn()
        except Exception:
            LOG.exception('simulator background job failed')
        finally:
            with self._cond:
                self._timers.discard(timer)
                self._cond.notify_all()

    def wait_idle(self, timeout):
        with self._cond:
            return self._cond.wait_for(lambda: not self._timers, timeout)

    def close(self):
        with self._cond:
            self._closed = True
            for timer in self._timers:
                timer.cancel()
            self._timers.clear()
            self._cond.notify_all()


class Fleet:
    """A set of simulated XenServer hosts that the real ``XenAPI`` SDK can talk
    to.

    Every host starts as the master of its own pool and has its own XML-RPC
    endpoint (``host.url``).  With ``distinct_addresses`` host *i* listens on
    127.0.0.(10+i) (all on the same port) and reports that IP as
    ``host.address``; otherwise all hosts listen on ``bind_address`` on
    distinct ports and report ``"<ip>:<port>"``.  ``migrate_delay``: the
    seconds a live migration (``VM.pool_migrate``, sync or Async) takes;
    meanwhile the VM runs on its source, is busy, and holds its memory on
    the target too.  ``reboot_delay``: the seconds a host stays down after
    ``host.reboot`` (``configure_host(reboot_delay=...)`` per host).
    """

    def __init__(
        self,
        hosts=4,
        username='root',
        password='secret',
        tls=False,
        bind_address='127.0.0.1',
        port=0,
        join_delay=0.05,
        eject_delay=0.05,
        task_delay=0.0,
        distinct_addresses=True,
        control_port=0,
        migrate_delay=0.0,
        reboot_delay=0.05,
    ):
        if not isinstance(hosts, int) or hosts < 1:
            raise ValueError('hosts must be a positive integer')
        for label, value in (
            ('join_delay', join_delay),
            ('eject_delay', eject_delay),
            ('task_delay', task_delay),
            ('migrate_delay', migrate_delay),
            ('reboot_delay', reboot_delay),
        ):
            if value < 0:
                raise ValueError('%s must be >= 0' % label)
        self.tls = bool(tls)
        self.bind_address = bind_address
        self.distinct_addresses = bool(distinct_addresses)
        self.ca_file = None
        self._port = int(port)
        self._control_port = int(control_port)
        if self.distinct_addresses:
            base = ipaddress.ip_address(bind_address)
            if base.version != 4 or not base.is_loopback:
                raise ValueError(
                    'distinct_addresses needs an IPv4 loopback bind_address'
                )
            if FIRST_HOST_OCTET + hosts > 254:
                raise ValueError(
                    'distinct_addresses supports at most %d hosts'
                    % (254 - FIRST_HOST_OCTET)
                )
            prefix = bind_address.rsplit('.', 1)[0]
        self._state = model.State()
        self._faults = faultlib.FaultTable()
        self._scheduler = _Scheduler()
        self._config = {
            'join_delay': float(join_delay),
            'eject_delay': float(eject_delay),
            'task_delay': float(task_delay),
            'migrate_delay': float(migrate_delay),
            'reboot_delay': float(reboot_delay),
        }
        self._service = xapi.XenAPIService(
            self._state, self._faults, self, self._config
        )
        scheme = 'https' if self.tls else 'http'
        for i in range(1, hosts + 1):
            if self.distinct_addresses:
                bind_host = '%s.%d' % (prefix, FIRST_HOST_OCTET + i)
                host_port = self._port
            else:
                bind_host = bind_address
                host_port = self._port + i - 1 if self._port else 0
            host = model.SimHost(
                i,
                'xenhost%d' % i,
                bind_host,
                host_port,
                scheme,
                username,
                password,
            )
            self._state.add_host(host)
        self._listeners = {}
        self._control = None
        self._calls = collections.deque(maxlen=CALL_LOG_LIMIT)
        self._calls_lock = threading.Lock()
        self._run_lock = threading.Lock()
        self._started = False
        self._stopped = False
        self._tmpdir = None

    # -- lifecycle ------------------------------------------------------------

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc_info):
        self.stop()

    def start(self):
        """Bind every endpoint and serve in background threads (returns at
        once)."""
        with self._run_lock:
            if self._started:
                return self
            if self._stopped:
                raise RuntimeError('a stopped Fleet cannot be started again')
            try:
                ssl_context = self._make_ssl_context() if self.tls else None
                self._bind_hosts(ssl_context)
                self._control = server.Listener(
                    'control',
                    self.bind_address,
                    self._control_port,
                    control.ControlHandler,
                    self,
                )
                self._control.start()
            except BaseException:
                self._shutdown()
                raise
            self._started = True
            LOG.info(
                'simulated XenServer fleet of %d hosts ready', len(self.hosts)
            )
            return self

    def stop(self):
        """Stop every endpoint and background job; safe to call more than
        once."""
        with self._run_lock:
            if self._stopped:
                return
            self._stopped = True
            self._shutdown()

    def _shutdown(self):
        self._service.close()
        self._scheduler.close()
        for listener in self._listeners.values():
            listener.stop()
        if self._control is not None:
            self._control.stop()
        if self._tmpdir is not None:
            shutil.rmtree(self._tmpdir, ignore_errors=True)
            self._tmpdir = None

    def _make_ssl_context(self):
        self._tmpdir = tempfile.mkdtemp(prefix='xenserver-sim-')
        names = [h.bind_host for h in self.hosts]
        names += [self.bind_address, '127.0.0.1', 'localhost']
        cert, key = tlslib.make_certificate(self._tmpdir, names)
        self.ca_file = cert
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        return context

    def _bind_hosts(self, ssl_context):
        hosts = self.hosts
        # Distinct addresses share one port so that swapping only the host part
        # of a URL (what Nova's driver did) reaches another host.  With port 0
        # we pick a port free on the first address and retry if another address
        # has it taken.
        share_port = self.distinct_addresses and not self._port
        for attempt in range(BIND_ATTEMPTS if share_port else 1):
            listeners = {}
            try:
                port = None
                for host in hosts:
                    host_port = (
                        port
                        if (share_port and port is not None)
                        else host.port
                    )
                    listener = server.Listener(
                        host.name,
                        host.bind_host,
                        host_port,
                        server.XmlRpcHandler,
                        server.HostEndpoint(self, host),
                        ssl_context,
                    )
                    listener.start()
                    listeners[host.name] = listener
                    port = listener.port
                break
            except OSError as exc:
                for listener in listeners.values():
                    listener.stop()
                if exc.errno == errno.EADDRNOTAVAIL:
                    raise RuntimeError(
                        'cannot bind %s: this system does not route all of '
                        '127.0.0.0/8 to loopback; use distinct_addresses=False'
                        % host.bind_host
                    )
                if not share_port or exc.errno != errno.EADDRINUSE:
                    raise
                if attempt == BIND_ATTEMPTS - 1:
                    raise
        self._listeners = listeners
        for host in hosts:
            host.port = listeners[host.name].port
            if self.distinct_addresses:
                host.address = host.bind_host
            else:
                host.address = '%s:%d' % (
                    host.url.split('//', 1)[1].split(':')[0],
                    host.port,
                )

    # -- hooks used by the XenAPI service -------------------------------------

    def call_later(self, delay, fn):
        self._scheduler.call_later(delay, fn)

    def endpoint_down(self, host):
        listener = self._listeners.get(host.name)
        if listener is not None:
            listener.stop()

    def endpoint_up(self, host):
        """Listen again on the host's URL; False if the port has been taken
        meanwhile."""
        listener = self._listeners.get(host.name)
        if listener is None or self._stopped:
            return False
        try:
            listener.start()
        except OSError:
            LOG.exception('cannot restart the endpoint of %s', host.name)
            return False
        return True

    def _record_call(self, host_name, method):
        with self._calls_lock:
            self._calls.append((host_name, method))

    # -- inspection -----------------------------------------------------------

    @property
    def hosts(self):
        return list(self._state.hosts)

    def host(self, name):
        """The SimHost called ``name`` (KeyError if there is none)."""
        return self._state.by_name[name]

    @property
    def control_url(self):
        if self._control is None or self._control.port == 0:
            return None
        address = (
            self.bind_address
            if self.bind_address not in ('', '0.0.0.0')
            else '127.0.0.1'
        )
        return 'http://%s:%d/' % (address, self._control.port)

    def _pool_dict(self, pool):
        return {
            'uuid': pool.uuid,
            'ref': pool.ref,
            'name_label': pool.name_label,
            'name_description': pool.name_description,
            'master': pool.master.name,
            'members': sorted(h.name for h in pool.members),
            'other_config': dict(pool.other_config),
        }

    def pools(self):
        """Every pool as the masters see them.

        A host that has been accepted by a master but whose restart ("fuse")
        has not happened yet is already listed in that master's pool; a host
        rebooting after an eject is in no pool.
        """
        with self._state.lock:
            return [self._pool_dict(p) for p in self._state.live_pools()]

    def _live_pool_of(self, host):
        for pool in self._state.live_pools():
            if host in pool.members:
                return pool
        return None

    def pool_of(self, host_name):
        """The pool dict containing ``host_name``; None while it reboots after
        eject."""
        with self._state.lock:
            pool = self._live_pool_of(self.host(host_name))
            return self._pool_dict(pool) if pool is not None else None

    def host_state(self, host_name):
        with self._state.lock:
            host = self.host(host_name)
            pool = self._live_pool_of(host)
            return {
                'name': host.name,
                'url': host.url,
                'uuid': host.uuid,
                'ref': host.ref,
                'address': host.address,
                'state': host.state,
                'enabled': host.enabled,
                'pool': pool.uuid if pool is not None else None,
                'master': pool.master.name if pool is not None else None,
                'logins': host.logins,
                'cpus': host.cpus,
                'memory': host.memory_total,
                'memory_free': self._state.free_memory(host),
                'disk': host.disk_total,
                'disk_used': host.disk_used,
                'cpu_vendor': host.cpu_vendor,
                'api_version': '%d.%d' % host.api_version,
                'software_version': dict(host.software_version),
                'reboot_delay': (
                    host.reboot_delay
                    if host.reboot_delay is not None
                    else self._config['reboot_delay']
                ),
                'vms': [
                    {
                        'uuid': vm.uuid,
                        'name': vm.name_label,
                        'power_state': vm.power_state,
                        'memory': vm.memory,
                    }
                    for vm in self._state.vms_on(host)
                    if not vm.is_control_domain
                ],
            }

    def host_states(self):
        return [self.host_state(h.name) for h in self.hosts]

    def vms(self):
        """Every guest VM (no dom0): uuid, name, power_state, memory,
        ``host`` (where it runs; None unless running or paused) and
        ``migrating_to`` (the target of a live migration under way)."""
        with self._state.lock:
            return [
                {
                    'uuid': vm.uuid,
                    'name': vm.name_label,
                    'power_state': vm.power_state,
                    'memory': vm.memory,
                    'host': vm.home.name if vm.resident else None,
                    'migrating_to': (
                        vm.migrating_to.name if vm.migrating_to else None
                    ),
                }
                for vm in self._state.vms
                if not vm.is_control_domain
            ]

    def vm_location(self, uuid):
        """Name of the host VM ``uuid`` runs on; None if it is not running
        (or paused) or does not exist."""
        for vm in self.vms():
            if vm['uuid'] == uuid:
                return vm['host']
        return None

    def call_log(self):
        """``(host_name, method)`` of every XenAPI call received, in arrival
        order."""
        with self._calls_lock:
            return list(self._calls)

    def clear_call_log(self):
        with self._calls_lock:
            self._calls.clear()

    def login_count(self, host_name=None):
        """Successful ``session.login_with_password`` calls (one host or
        all)."""
        with self._state.lock:
            if host_name is not None:
                return self.host(host_name).logins
            return sum(h.logins for h in self._state.hosts)

    def settle(self, timeout=5.0):
        """Wait until no delayed join/eject effect or task is outstanding."""
        return self._scheduler.wait_idle(timeout)

    # -- seeding and configuration --------------------------------------------

    def add_vm(self, host_name, name='guest', running=True, memory=None):
        """Create a guest VM on a host (running guests block join and
        eject)."""
        with self._state.lock:
            host = self.host(host_name)
            if host.rebooting:
                raise ValueError('%s is rebooting' % host_name)
            vm = model.VM(
                name,
                host,
                memory or model.DEFAULT_VM_MEMORY,
                power_state='Running' if running else 'Halted',
            )
            if running:
                vm.domid = 1 + max(
                    [v.domid for v in self._state.vms_on(host)] + [0]
                )
            self._state.register(vm)
            return vm.uuid

    def remove_vm(self, uuid):
        """Destroy a guest VM (a hard shutdown, then VM.destroy): gone from
        its host and from every listing.  False if there is none."""
        with self._state.lock:
            for vm in list(self._state.vms):
                if vm.uuid == uuid and not vm.is_control_domain:
                    if vm.migrating_to is not None:
                        raise ValueError('%s is migrating' % uuid)
                    self._state.forget(vm)
                    return True
            return False

    def set_password(self, host_name, new_password):
        """Change the password of one host (logins and joins that use it as
        master)."""
        with self._state.lock:
            self.host(host_name).password = new_password

    def configure_host(
        self,
        host_name,
        software_version=None,
        cpu_vendor=None,
        api_version=None,
        memory=None,
        shared_sr=None,
        cpus=None,
        disk=None,
        disk_used=None,
        reboot_delay=None,
    ):
        """Change what a host reports, to provoke pool.join's compatibility
        checks or to size it, or how long its ``host.reboot`` takes.

        ``software_version`` keys are merged into the host's map
        (platform_version mismatch -> POOL_HOSTS_NOT_COMPATIBLE, other keys ->
        POOL_HOSTS_NOT_HOMOGENEOUS for plain join); ``cpu_vendor`` -> "CPUs
        differ"; ``api_version`` "2.21" or (2, 21); ``memory`` total bytes;
        ``shared_sr`` True -> join refused; ``cpus`` (``cpu_info``
        cpu_count); ``disk`` / ``disk_used``: bytes of its local storage SR
        (``physical_size`` / ``physical_utilisation``); ``reboot_delay``:
        seconds it stays down after ``host.reboot`` (instead of the
        fleet's).
        """
        with self._state.lock:
            host = self.host(host_name)
            if software_version is not None:
                if not isinstance(software_version, dict):
                    raise ValueError('software_version must be a dict')
                host.software_version.update(
                    {str(k): str(v) for k, v in software_version.items()}
                )
            if cpu_vendor is not None:
                host.cpu_vendor = str(cpu_vendor)
            if api_version is not None:
                if isinstance(api_version, str):
                    api_version = api_version.split('.')
                major, minor = (int(v) for v in api_version)
                host.api_version = (major, minor)
            if memory is not None:
                host.memory_total = int(memory)
            if shared_sr is not None:
                host.shared_sr = bool(shared_sr)
            for attr, value in (
                ('cpus', cpus),
                ('disk_total', disk),
                ('disk_used', disk_used),
            ):
                if value is not None:
                    if isinstance(value, bool) or int(value) < 0:
                        raise ValueError('%s must be >= 0' % attr)
                    setattr(host, attr, int(value))
            if reboot_delay is not None:
                if isinstance(reboot_delay, bool) or float(reboot_delay) < 0:
                    raise ValueError('reboot_delay must be >= 0')
                host.reboot_delay = float(reboot_delay)

    # -- faults and outages ---------------------------------------------------

    def inject(
        self, method, error=None, delay=None, times=1, host=None, action=None
    ):
        """Add a fault rule; returns its id.  See doc/simulator.md for the
        semantics."""
        if host is not None:
            self.host(host)  # KeyError for an unknown host name
        return self._faults.add(
            method,
            error=error,
            delay=delay,
            times=times,
            host=host,
            action=action,
        )

    def faults(self):
        return self._faults.list()

    def remove_fault(self, rule_id):
        return self._faults.remove(rule_id)

    def clear_faults(self):
        self._faults.clear()

    def stop_host(self, host_name):
        """The host's endpoint refuses connections (open connections are
        cut)."""
        with self._state.lock:
            host = self.host(host_name)
            host.stopped = True
            self.endpoint_down(host)

    def start_host(self, host_name):
        """The endpoint listens again on the same URL (after a reboot, if one
        runs).  A host that the ``never_back`` fault keeps down after
        ``host.reboot`` comes back now (powered on by hand)."""
        with self._state.lock:
            host = self.host(host_name)
            host.stopped = False
            if self._service.end_hung_reboot(host):
                return
            if (
                not host.rebooting
                and self._started
                and not self.endpoint_up(host)
            ):
                raise RuntimeError('cannot listen on %s again' % host.url)
