"""The XenAPI classes and methods a simulated host serves.

``XenAPIService.call`` takes one decoded XML-RPC request (already split into
method name and params) for one host endpoint and returns a ``Reply`` for the
wire layer.  It applies fault-injection rules, checks arity and the session,
runs the method (or starts a task for ``Async.*``) and converts the result to
the wire encoding.
"""

import logging
import time
import xmlrpc.client

from nova_aggregates.xenserver_sim import faults as faultlib
from nova_aggregates.xenserver_sim import model
from nova_aggregates.xenserver_sim.model import NULL_REF
from nova_aggregates.xenserver_sim.model import XapiError

LOG = logging.getLogger(__name__)

# Fields every record builder returns; each gets a generic
# ``<class>.get_<field>``.
HOST_FIELDS = (
    'uuid', 'name_label', 'name_description', 'hostname', 'address', 'enabled',
    'API_version_major', 'API_version_minor', 'API_version_vendor',
    'software_version', 'cpu_info', 'resident_VMs', 'control_domain',
    'other_config', 'memory_overhead', 'allowed_operations',
    'current_operations', 'capabilities', 'PIFs', 'PBDs', 'host_CPUs',
    'metrics', 'edition', 'tags', 'https_only', 'suspend_image_sr',
    'crash_dump_sr',
)
POOL_FIELDS = (
    'uuid', 'name_label', 'name_description', 'master', 'default_SR',
    'suspend_image_SR', 'crash_dump_SR', 'other_config', 'ha_enabled',
    'ha_configuration', 'cpu_info', 'tags', 'allowed_operations',
    'current_operations', 'restrictions', 'wlb_enabled',
)
VM_FIELDS = (
    'uuid', 'name_label', 'name_description', 'power_state', 'resident_on',
    'affinity', 'is_control_domain', 'is_a_template', 'is_a_snapshot',
    'memory_static_max', 'memory_dynamic_max', 'memory_dynamic_min',
    'memory_static_min', 'memory_target', 'VCPUs_max', 'VCPUs_at_startup',
    'domid', 'other_config', 'allowed_operations', 'current_operations',
    'tags',
)
HOST_METRICS_FIELDS = (
    'uuid', 'memory_total', 'memory_free', 'live', 'last_updated',
    'other_config',
)
SR_FIELDS = (
    'uuid', 'name_label', 'name_description', 'allowed_operations',
    'current_operations', 'VDIs', 'PBDs', 'virtual_allocation',
    'physical_utilisation', 'physical_size', 'type', 'content_type',
    'shared', 'other_config', 'tags', 'sm_config',
)
PBD_FIELDS = (
    'uuid', 'host', 'SR', 'device_config', 'currently_attached',
    'other_config',
)
TASK_FIELDS = (
    'uuid', 'name_label', 'name_description', 'status', 'progress', 'result',
    'error_info', 'created', 'finished', 'resident_on', 'allowed_operations',
    'current_operations', 'other_config', 'type', 'subtask_of', 'subtasks',
    'backtrace',
)
FIELDS = {
    'host': HOST_FIELDS,
    'pool': POOL_FIELDS,
    'VM': VM_FIELDS,
    'task': TASK_FIELDS,
    'host_metrics': HOST_METRICS_FIELDS,
    'SR': SR_FIELDS,
    'PBD': PBD_FIELDS,
}


def to_wire(value):
    """XenAPI encoding: ints travel as decimal strings, map keys as strings."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, dict):
        return {str(k): to_wire(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_wire(v) for v in value]
    return value


def value_fragment(value):
    """What task.get_result holds: the result as an XML-RPC ``<value>``
    fragment."""
    if value == '':
        return ''  # void results are stored as an empty string
    text = xmlrpc.client.dumps((to_wire(value),), allow_none=True)
    return text[text.index('<value>'):text.rindex('</param>')].strip()


def _sleep(seconds):
    if seconds:
        time.sleep(seconds)


class Reply:
    """What to send back: ``kind`` is "response" (payload = envelope struct) or
    one of the wire fault actions (drop_connection, http_500, malformed)."""

    def __init__(self, kind, payload=None):
        self.kind = kind
        self.payload = payload
        # Run by the HTTP layer once the reply has been written (or could
        # not be): e.g. the endpoint goes down after answering host.reboot.
        self.after = None

    @classmethod
    def success(cls, value):
        return cls('response', {'Status': 'Success', 'Value': to_wire(value)})

    @classmethod
    def failure(cls, details):
        return cls(
            'response',
            {
                'Status': 'Failure',
                'ErrorDescription': [str(d) for d in details],
            },
        )


class Call:
    """Context of one API call: the endpoint's host, the caller's session,
    the fault mode of a join or designate (``(action, delay)``) and, for
    ``Async.*``, the task that runs it."""

    def __init__(self, host, session=None, mode=None):
        self.host = host
        self.session = session
        self.mode = mode
        self.pool = host.pool
        self.task = None
        # What to do once the reply is out (Reply.after).
        self.after = None


class _Method:
    """``start`` runs before the operation takes its time (when the task is
    created, or before a synchronous call's delay), under the lock: it may
    refuse at once (XapiError) and returns a cleanup callable or None, run
    when the operation ends however it ends.  ``duration`` names the
    config key of how long the operation takes."""

    def __init__(self, func, nmin, nmax, session, asyncable, start=None,
                 duration=None):
        self.func = func
        self.nmin = nmin
        self.nmax = nmax
        self.session = session
        self.asyncable = asyncable
        self.start = start
        self.duration = duration


class XenAPIService:
    """Dispatch table plus the behaviour of every supported call.

    ``hooks`` is the owning Fleet: ``call_later(delay, fn)``,
    ``endpoint_down(host)``, ``endpoint_up(host)``; ``config`` carries
    join_delay, eject_delay, task_delay, migrate_delay and reboot_delay.
    """

    def __init__(self, state, fault_table, hooks, config):
        self.state = state
        self.faults = fault_table
        self.hooks = hooks
        self.config = config
        self.methods = {}
        self._closed = False
        self._register_all()

    def close(self):
        """The fleet stops: running tasks stop where they are."""
        self._closed = True

    # -- dispatch -------------------------------------------------------------

    def call(self, host, method, params):
        with self.state.lock:
            going_down = host.rebooting
        if going_down:
            # host.reboot has been answered on this endpoint, which is about
            # to stop listening: like a host shutting down, no answer.
            return Reply(faultlib.DROP_CONNECTION)
        is_async = method.startswith('Async.')
        base = faultlib.strip_async(method)
        spec = self.methods.get(base)
        if is_async and spec is not None and not spec.asyncable:
            spec = None
        takes_session = spec.session if spec is not None else True
        candidates = [method, base] if is_async else [method]
        rule = self.faults.take(
            host.name, candidates, takes_session and bool(params), is_async
        )

        delay, error, mode, hang = 0.0, None, None, False
        if rule is not None:
            error = rule.error
            if rule.action in faultlib.LATE_ACTIONS:
                mode = (rule.action, rule.delay)
            else:
                delay = rule.delay or 0.0
                if rule.action in faultlib.MODE_ACTIONS:
                    mode = (rule.action, None)
                hang = rule.action == faultlib.HANG
            if rule.action in faultlib.WIRE_ACTIONS:
                _sleep(delay)
                return Reply(rule.action)
            if rule.action == faultlib.EXPIRE_SESSION and isinstance(
                params[0], str
            ):
                with self.state.lock:
                    self.state.sessions.pop(params[0], None)

        if spec is None:
            return Reply.failure(['MESSAGE_METHOD_UNKNOWN', method])
        nparams = len(params) - (1 if spec.session else 0)
        if not spec.nmin <= nparams <= spec.nmax:
            expected = spec.nmax + (1 if spec.session else 0)
            return Reply.failure(
                [
                    'MESSAGE_PARAMETER_COUNT_MISMATCH',
                    method,
                    str(expected),
                    str(len(params)),
                ]
            )
        if spec.duration:
            # How long the operation itself takes (e.g. a live migration).
            delay += self.config.get(spec.duration, 0.0)
        # A synchronous operation with start checks (VM.pool_migrate) is
        # checked first, then takes its time, as its Async form does.
        staged = not is_async and spec.start is not None and error is None
        if not is_async and not staged:
            # A slow operation: the work happens after the delay, then the
            # reply goes out.
            _sleep(delay)

        try:
            return self._run(
                host, spec, method, params, is_async, staged, delay, error,
                mode, hang
            )
        except XapiError as exc:
            return Reply.failure(exc.details)
        except Exception as exc:
            # A simulator bug must not kill the connection.
            LOG.exception('simulator error in %s', method)
            return Reply.failure(
                ['INTERNAL_ERROR', '%s: %s' % (type(exc).__name__, exc)]
            )

    def _run(
        self, host, spec, method, params, is_async, staged, delay, error,
        mode, hang
    ):
        with self.state.lock:
            session = None
            args = tuple(params)
            if spec.session:
                session = self._check_session(host, params[0])
                args = args[1:]
            if not is_async and error is not None:
                raise XapiError(*error)
            call = Call(host, session, mode)
            if is_async:
                return Reply.success(
                    self._start_task(
                        call, spec, method, args, delay, error, hang
                    )
                )
            if not staged:
                reply = Reply.success(spec.func(call, *args))
                reply.after = call.after
                return reply
            # xapi runs every call as a task; this one is never listed.
            call.task = model.Task(method, call.pool, host)
            call.task.cleanup = spec.start(call, *args)
        try:
            _sleep(delay)
            with self.state.lock:
                return Reply.success(spec.func(call, *args))
        finally:
            with self.state.lock:
                call.task.finish('success')

    def _check_session(self, host, ref):
        session = (
            self.state.sessions.get(ref) if isinstance(ref, str) else None
        )
        if session is None or session.host is not host or not host.serving:
            raise XapiError(
                'SESSION_INVALID', ref if isinstance(ref, str) else NULL_REF
            )
        return session

    # -- tasks ----------------------------------------------------------------

    def _start_task(self, call, spec, method, args, delay, error, hang):
        task = model.Task(method, call.pool, call.host)
        self.state.register(task)
        call.task = task
        if spec.start is not None and error is None:
            # Checks that xapi makes before the work starts fail the task
            # at once, not after its duration.
            try:
                task.cleanup = spec.start(call, *args)
            except XapiError as exc:
                task.finish('failure', error_info=exc.details)
                return task.ref
        duration = None if hang else self.config['task_delay'] + delay
        self.hooks.call_later(
            0, lambda: self._run_task(task, spec, call, args, duration, error)
        )
        return task.ref

    def _run_task(self, task, spec, call, args, duration, error):
        """Keep ``task`` pending for ``duration`` seconds (None: until it is
        cancelled), then run the operation."""
        start = time.monotonic()
        while True:
            elapsed = time.monotonic() - start
            if duration is not None and elapsed >= duration:
                break
            with self.state.lock:
                if task.status != 'pending' or self._closed:
                    return
                # Progress rises while the task is pending; it reaches 1.0 at
                # the end (a hanging task stays at 0.5).
                task.progress = (
                    0.5 if duration is None
                    else round(0.9 * elapsed / duration, 3)
                )
            time.sleep(0.02 if duration is None
                       else min(0.02, duration - elapsed))
        with self.state.lock:
            if task.status != 'pending':
                return  # cancelled before the work started
            try:
                if error is not None:
                    raise XapiError(*error)
                value = spec.func(call, *args)
            except XapiError as exc:
                task.finish('failure', error_info=exc.details)
            except Exception as exc:
                LOG.exception('simulator error in task %s', task.name_label)
                task.finish('failure', error_info=['INTERNAL_ERROR', str(exc)])
            else:
                task.finish('success', result=value_fragment(value))

    # -- registration ---------------------------------------------------------

    def _add(self, name, func, nmin, nmax=None, session=True, asyncable=False,
             start=None, duration=None):
        self.methods[name] = _Method(
            func, nmin, nmin if nmax is None else nmax, session, asyncable,
            start, duration
        )

    def _register_all(self):
        add = self._add
        add(
            'session.login_with_password',
            self.session_login,
            2,
            4,
            session=False,
        )
        add('session.logout', self.session_logout, 0)
        add('session.get_this_host', self.session_get_this_host, 1)

        for cls in ('host', 'pool', 'VM', 'task', 'host_metrics', 'SR',
                    'PBD'):
            self._register_class(cls)

        add('pool.set_name_label', self._setter('pool', 'name_label'), 2)
        add(
            'pool.set_name_description',
            self._setter('pool', 'name_description'),
            2,
        )
        add('pool.join', self.pool_join, 3, asyncable=True)
        add('pool.join_force', self.pool_join_force, 3, asyncable=True)
        add('pool.eject', self.pool_eject, 1, asyncable=True)
        add(
            'pool.designate_new_master',
            self.pool_designate_new_master,
            1,
            asyncable=True,
        )

        add('host.set_name_label', self._setter('host', 'name_label'), 2)
        add(
            'host.set_name_description',
            self._setter('host', 'name_description'),
            2,
        )
        add('host.disable', self.host_disable, 1, 2, asyncable=True)
        add('host.enable', self.host_enable, 1, asyncable=True)
        add('host.evacuate', self.host_evacuate, 1, 3, asyncable=True)
        add('host.compute_free_memory', self.host_compute_free_memory, 1)
        # Synchronous only: the answer comes just before the host goes down.
        add('host.reboot', self.host_reboot, 1)

        add('VM.set_name_label', self._setter('VM', 'name_label'), 2)
        add(
            'VM.set_name_description',
            self._setter('VM', 'name_description'),
            2,
        )
        add(
            'VM.pool_migrate',
            self.vm_pool_migrate,
            3,
            asyncable=True,
            start=self._start_migration,
            duration='migrate_delay',
        )
        add('VM.clean_shutdown', self.vm_shutdown, 1, asyncable=True)
        add('VM.hard_shutdown', self.vm_shutdown, 1, asyncable=True)
        add('VM.start', self.vm_start, 3, asyncable=True)

        add('task.destroy', self.task_destroy, 1)
        add('task.cancel', self.task_cancel, 1)

    def _register_class(self, cls):
        record = getattr(self, '%s_record' % cls.lower())
        state = self.state

        def get_all(call):
            return [obj.ref for obj in state.view(call.pool, cls)]

        def get_all_records(call):
            return {obj.ref: record(obj) for obj in state.view(call.pool, cls)}

        def get_record(call, ref):
            return record(state.lookup(call.pool, cls, ref))

        def get_by_uuid(call, uuid):
            for obj in state.view(call.pool, cls):
                if obj.uuid == uuid:
                    return obj.ref
            raise XapiError('UUID_INVALID', cls, uuid)

        def get_by_name_label(call, label):
            return [
                obj.ref
                for obj in state.view(call.pool, cls)
                if obj.name_label == label
            ]

        self._add('%s.get_all' % cls, get_all, 0)
        self._add('%s.get_all_records' % cls, get_all_records, 0)
        self._add('%s.get_record' % cls, get_record, 1)
        self._add('%s.get_by_uuid' % cls, get_by_uuid, 1)
        if cls != 'pool' and 'name_label' in FIELDS[cls]:
            self._add('%s.get_by_name_label' % cls, get_by_name_label, 1)
        for field in FIELDS[cls]:
            self._add(
                '%s.get_%s' % (cls, field), self._getter(cls, record, field), 1
            )
        if cls != 'task':
            self._add('%s.set_other_config' % cls, self._set_map(cls), 2)
            self._add('%s.add_to_other_config' % cls, self._add_to_map(cls), 3)
            self._add(
                '%s.remove_from_other_config' % cls,
                self._remove_from_map(cls),
                2,
            )

    def _getter(self, cls, record, field):
        def getter(call, ref):
            return record(self.state.lookup(call.pool, cls, ref))[field]

        return getter

    def _setter(self, cls, attr):
        def setter(call, ref, value):
            setattr(self.state.lookup(call.pool, cls, ref), attr, str(value))
            return ''

        return setter

    def _set_map(self, cls):
        def set_map(call, ref, value):
            if not isinstance(value, dict):
                raise XapiError('FIELD_TYPE_ERROR', 'other_config')
            obj = self.state.lookup(call.pool, cls, ref)
            obj.other_config = {str(k): str(v) for k, v in value.items()}
            return ''

        return set_map

    def _add_to_map(self, cls):
        def add_to_map(call, ref, key, value):
            obj = self.state.lookup(call.pool, cls, ref)
            if key in obj.other_config:
                raise XapiError(
                    'MAP_DUPLICATE_KEY', cls, 'other_config', ref, key
                )
            obj.other_config[str(key)] = str(value)
            return ''

        return add_to_map

    def _remove_from_map(self, cls):
        def remove_from_map(call, ref, key):
            self.state.lookup(call.pool, cls, ref).other_config.pop(key, None)
            return ''

        return remove_from_map

    # -- records --------------------------------------------------------------

    def host_record(self, host):
        vms = [vm.ref for vm in self.state.vms_on(host) if vm.resident]
        ops = ['provision', 'evacuate']
        if not host.enabled:
            # xapi allows a reboot or shutdown of a disabled host only.
            ops += ['shutdown', 'reboot']
        return {
            'uuid': host.uuid,
            'name_label': host.name_label,
            'name_description': host.name_description,
            'hostname': host.name,
            'address': host.address,
            'enabled': host.enabled,
            'API_version_major': host.api_version[0],
            'API_version_minor': host.api_version[1],
            'API_version_vendor': 'XenSource',
            'software_version': dict(host.software_version),
            'cpu_info': {
                'vendor': host.cpu_vendor,
                'cpu_count': host.cpus,
                'socket_count': 1,
                'modelname': 'Simulated CPU',
            },
            'resident_VMs': vms,
            'control_domain': host.dom0.ref if host.dom0 else NULL_REF,
            'other_config': dict(host.other_config),
            'memory_overhead': model.HOST_MEMORY_OVERHEAD,
            'allowed_operations': ops,
            'current_operations': {},
            'capabilities': ['xen-3.0-x86_64', 'hvm-3.0-x86_64'],
            'PIFs': [],
            'PBDs': [host.local_pbd.ref] if host.local_pbd else [],
            'host_CPUs': [],
            'metrics': host.metrics.ref if host.metrics else NULL_REF,
            'edition': 'xcp-ng',
            'tags': [],
            'https_only': False,
            'suspend_image_sr': NULL_REF,
            'crash_dump_sr': NULL_REF,
        }

    def pool_record(self, pool):
        return {
            'uuid': pool.uuid,
            'name_label': pool.name_label,
            'name_description': pool.name_description,
            'master': pool.master.ref,
            'default_SR': NULL_REF,
            'suspend_image_SR': NULL_REF,
            'crash_dump_SR': NULL_REF,
            'other_config': dict(pool.other_config),
            'ha_enabled': False,
            'ha_configuration': {},
            'cpu_info': {'vendor': pool.master.cpu_vendor, 'cpu_count': 8},
            'tags': [],
            'allowed_operations': [],
            'current_operations': {},
            'restrictions': {},
            'wlb_enabled': False,
        }

    def vm_record(self, vm):
        resident_on = vm.home.ref if vm.resident else NULL_REF
        if vm.is_control_domain or vm.current_operations:
            ops = []
        elif vm.resident:
            ops = ['clean_shutdown', 'hard_shutdown', 'pool_migrate']
        else:
            ops = ['start']
        return {
            'uuid': vm.uuid,
            'name_label': vm.name_label,
            'name_description': vm.name_description,
            'power_state': vm.power_state,
            'resident_on': resident_on,
            'affinity': vm.home.ref,
            'is_control_domain': vm.is_control_domain,
            'is_a_template': vm.is_a_template,
            'is_a_snapshot': False,
            'memory_static_max': vm.memory,
            'memory_dynamic_max': vm.memory,
            'memory_dynamic_min': vm.memory,
            'memory_static_min': vm.memory,
            'memory_target': vm.memory if vm.resident else 0,
            'VCPUs_max': 2,
            'VCPUs_at_startup': 2,
            'domid': vm.domid,
            'other_config': dict(vm.other_config),
            'allowed_operations': ops,
            'current_operations': dict(vm.current_operations),
            'tags': [],
        }

    def host_metrics_record(self, metrics):
        host = metrics.host
        return {
            'uuid': metrics.uuid,
            'memory_total': host.memory_total,
            'memory_free': max(self.state.free_memory(host), 0),
            'live': host.reachable,
            'last_updated': model.now_datetime(),
            'other_config': dict(metrics.other_config),
        }

    def sr_record(self, sr):
        host = sr.host
        return {
            'uuid': sr.uuid,
            'name_label': sr.name_label,
            'name_description': sr.name_description,
            'allowed_operations': [],
            'current_operations': {},
            'VDIs': [],
            'PBDs': [host.local_pbd.ref] if host.local_pbd else [],
            'virtual_allocation': host.disk_used,
            'physical_utilisation': host.disk_used,
            'physical_size': host.disk_total,
            'type': 'ext',
            'content_type': 'user',
            'shared': False,
            'other_config': dict(sr.other_config),
            'tags': [],
            'sm_config': {},
        }

    def pbd_record(self, pbd):
        return {
            'uuid': pbd.uuid,
            'host': pbd.host.ref,
            'SR': pbd.sr.ref,
            'device_config': {},
            'currently_attached': True,
            'other_config': dict(pbd.other_config),
        }

    def task_record(self, task):
        return {
            'uuid': task.uuid,
            'name_label': task.name_label,
            'name_description': task.name_description,
            'status': task.status,
            'progress': float(task.progress),
            'result': task.result,
            'error_info': list(task.error_info),
            'created': task.created,
            'finished': task.finished,
            'resident_on': task.host.ref,
            'allowed_operations': ['cancel']
            if task.status == 'pending'
            else [],
            'current_operations': {},
            'other_config': dict(task.other_config),
            'type': '<none/>',
            'subtask_of': NULL_REF,
            'subtasks': [],
            'backtrace': '()',
        }

    # -- session --------------------------------------------------------------

    def session_login(
        self, call, username, password, version='1.1', originator=''
    ):
        host = call.host
        if host.pool is None:
            raise XapiError('HOST_STILL_BOOTING')
        if not host.is_master:
            # Members do not take password logins; they point at their master.
            raise XapiError('HOST_IS_SLAVE', host.pool.master.address)
        if username != host.username or password != host.password:
            raise XapiError(
                'SESSION_AUTHENTICATION_FAILED',
                username,
                'Authentication failure',
            )
        session = model.Session(host, username, originator)
        self.state.sessions[session.ref] = session
        host.logins += 1
        return session.ref

    def session_logout(self, call):
        self.state.sessions.pop(call.session.ref, None)
        return ''

    def session_get_this_host(self, call, ref):
        session = (
            self.state.sessions.get(ref) if isinstance(ref, str) else None
        )
        if session is None or session.host is not call.host:
            raise XapiError('HANDLE_INVALID', 'session', ref)
        return session.host.ref

    # -- pool join ------------------------------------------------------------

    def pool_join(
        self, call, master_address, master_username, master_password
    ):
        return self._join(
            call, master_address, master_username, master_password, force=False
        )

    def pool_join_force(
        self, call, master_address, master_username, master_password
    ):
        return self._join(
            call, master_address, master_username, master_password, force=True
        )

    def _join(self, call, master_address, username, password, force):
        joiner = call.host
        target = self.state.resolve_address(master_address)
        if target is None or not target.reachable:
            raise XapiError('POOL_JOINING_HOST_CONNECTION_FAILED')
        # The joiner logs into the master; that login can fail like any other.
        if not target.is_master:
            raise XapiError('HOST_IS_SLAVE', target.pool.master.address)
        if username != target.username or password != target.password:
            raise XapiError(
                'SESSION_AUTHENTICATION_FAILED',
                username,
                'Authentication failure',
            )
        master_pool = target.pool
        if target is joiner:
            if len(joiner.pool.members) > 1:
                raise XapiError(
                    'OPERATION_NOT_ALLOWED', 'Host is already part of a pool'
                )
            raise XapiError(
                'OPERATION_NOT_ALLOWED', 'Host cannot become slave of itself'
            )
        if joiner.joining is not None:
            # Accepted already and waiting for its restart: repeating the call
            # is harmless.
            if joiner.joining is master_pool:
                return ''
            raise XapiError(
                'OPERATION_NOT_ALLOWED', 'Host is already joining another pool'
            )
        if len(joiner.pool.members) > 1:
            raise XapiError(
                'POOL_JOINING_HOST_CANNOT_BE_MASTER_OF_OTHER_HOSTS'
            )
        if any(vm.is_guest_resident for vm in self.state.vms_on(joiner)):
            raise XapiError('POOL_JOINING_HOST_CANNOT_HAVE_RUNNING_VMS')
        if joiner.shared_sr:
            raise XapiError('POOL_JOINING_HOST_CANNOT_CONTAIN_SHARED_SRS')
        if joiner.api_version != target.api_version:
            raise XapiError(
                'POOL_JOINING_HOST_MUST_HAVE_SAME_API_VERSION',
                '%d.%d' % joiner.api_version,
                '%d.%d' % target.api_version,
            )
        mine, theirs = joiner.software_version, target.software_version
        if mine.get('platform_version') != theirs.get('platform_version'):
            raise XapiError('POOL_HOSTS_NOT_COMPATIBLE')
        if not force:
            # Only plain join insists on homogeneity; join_force skips exactly
            # this.
            ignored = ('hostname', 'date')
            if {k: v for k, v in mine.items() if k not in ignored} != {
                k: v for k, v in theirs.items() if k not in ignored
            }:
                raise XapiError(
                    'POOL_HOSTS_NOT_HOMOGENEOUS', 'Software version differs'
                )
            if joiner.cpu_vendor != target.cpu_vendor:
                raise XapiError('POOL_HOSTS_NOT_HOMOGENEOUS', 'CPUs differ')

        mode, after = call.mode or (None, None)
        if mode == faultlib.HALF_DONE_JOIN:
            LOG.info(
                'fault: %s join to %s reported success but is dropped',
                joiner.name,
                target.name,
            )
            return ''
        epoch = joiner.epoch
        if mode == faultlib.LATE_JOIN:
            self.hooks.call_later(
                after, lambda: self._accept_join(joiner, master_pool, epoch)
            )
        else:
            self._accept_join(joiner, master_pool, epoch)
        return ''

    def _accept_join(self, joiner, pool, epoch):
        """The master records the joiner; the joiner restarts after
        join_delay."""
        with self.state.lock:
            if (
                joiner.epoch != epoch
                or joiner.joining is not None
                or not joiner.serving
                or not pool.alive
                or len(joiner.pool.members) > 1
            ):
                return
            joiner.epoch += 1
            joiner.joining = pool
            pool.members.append(joiner)
            epoch = joiner.epoch
        self.hooks.call_later(
            self.config['join_delay'],
            lambda: self._finish_join(joiner, pool, epoch),
        )

    def _finish_join(self, joiner, pool, epoch):
        """xapi's "fuse": the joiner forgets its own pool and comes back as a
        member."""
        with self.state.lock:
            if joiner.epoch != epoch or joiner.joining is not pool:
                return
            old = joiner.pool
            joiner.epoch += 1
            joiner.joining = None
            joiner.pool = pool
            self.state.drop_sessions(joiner)
            if old is not pool:
                self.state.kill_pool(old)
            LOG.info(
                '%s is now a member of the pool of %s',
                joiner.name,
                pool.master.name,
            )

    # -- pool eject / designate_new_master ------------------------------------

    def pool_eject(self, call, host_ref):
        pool = call.pool
        host = self.state.lookup(pool, 'host', host_ref)
        if host is pool.master:
            raise XapiError('INTERNAL_ERROR', 'Xapi_pool.Cannot_eject_master')
        if any(vm.is_guest_resident for vm in self.state.vms_on(host)):
            raise XapiError('OPERATION_NOT_ALLOWED', 'VM resident on host')
        if not host.reachable:
            raise XapiError('HOST_OFFLINE', host.ref)
        pool.members.remove(host)
        if host.joining is not None and host.pool is not pool:
            self.state.kill_pool(host.pool)  # ejected before its join restart
        host.epoch += 1
        host.joining = None
        host.pool = None
        host.rebooting = True
        self.state.drop_sessions(host)
        # Eject wipes the host: local VMs, its dom0 record and its local
        # storage go; refs will all be new.
        self.state.wipe(host)
        self.hooks.endpoint_down(host)
        epoch = host.epoch
        self.hooks.call_later(
            self.config['eject_delay'],
            lambda: self._finish_reboot(host, epoch),
        )
        LOG.info(
            '%s ejected from the pool of %s; rebooting',
            host.name,
            pool.master.name,
        )
        return ''

    def _finish_reboot(self, host, epoch):
        with self.state.lock:
            if host.epoch != epoch or not host.rebooting:
                return
            self.state.forget(host)
            host.ref = model.new_ref()
            self.state.register(host)
            host.epoch += 1
            host.enabled = True
            host.other_config = {}
            host.stamp_boot()
            host.name_label = host.name
            self.state.make_standalone(host)
            host.rebooting = False
            if not host.stopped:
                self.hooks.endpoint_up(host)
            LOG.info('%s is back as a standalone host', host.name)

    def pool_designate_new_master(self, call, host_ref):
        pool = call.pool
        host = self.state.lookup(pool, 'host', host_ref)
        if host is pool.master:
            return ''
        if host.joining is not None:
            raise XapiError(
                'OPERATION_NOT_ALLOWED', 'Host has not finished joining'
            )
        if not host.reachable:
            raise XapiError('HOST_OFFLINE', host.ref)
        mode, after = call.mode or (None, None)
        if mode == faultlib.LATE_DESIGNATE:
            LOG.info('fault: the hand-over to %s happens in %ss',
                     host.name, after)
            self.hooks.call_later(
                after, lambda: self._switch_master(pool, host)
            )
        else:
            self._switch_master(pool, host)
        return ''

    def _switch_master(self, pool, host):
        with self.state.lock:
            if (
                not pool.alive
                or host not in pool.members
                or host is pool.master
                or not host.reachable
            ):
                return
            old = pool.master
            pool.master = host
            # The old master restarts as a member: its sessions go, logins
            # say HOST_IS_SLAVE.
            self.state.drop_sessions(old)
            LOG.info('%s is the master of its pool; %s is a member',
                     host.name, old.name)

    # -- host maintenance -----------------------------------------------------

    def host_disable(self, call, host_ref, auto_enable=True):
        self.state.lookup(call.pool, 'host', host_ref).enabled = False
        return ''

    def host_enable(self, call, host_ref):
        self.state.lookup(call.pool, 'host', host_ref).enabled = True
        return ''

    def host_compute_free_memory(self, call, host_ref):
        return self.state.free_memory(
            self.state.lookup(call.pool, 'host', host_ref)
        )

    # -- host reboot ----------------------------------------------------------

    def host_reboot(self, call, host_ref):
        """xapi's checks (xapi_host_helpers / xapi_host.ml), then the host
        goes down once the answer is out and comes back after its reboot
        delay: the same ref, enabled, a new ``boot_time``."""
        host = self.state.lookup(call.pool, 'host', host_ref)
        if host.enabled:
            raise XapiError('HOST_NOT_DISABLED')
        if host.joining is not None:
            raise XapiError(
                'OPERATION_NOT_ALLOWED', 'Host has not finished joining'
            )
        if not host.reachable:
            raise XapiError('HOST_OFFLINE', host.ref)
        for vm in self.state.vms:
            # xapi's maintenance ("bacon") check; a VM migrating here counts.
            if not vm.is_control_domain and (
                (vm.home is host and vm.resident) or vm.migrating_to is host
            ):
                raise XapiError('HOST_IN_USE', host.ref, 'vm', vm.ref)
        mode, _ = call.mode or (None, None)
        hung = mode == faultlib.NEVER_BACK
        host.epoch += 1
        host.rebooting = True
        host.reboot_hung = hung
        self.state.drop_sessions(host)
        epoch = host.epoch
        delay = (
            host.reboot_delay
            if host.reboot_delay is not None
            else self.config['reboot_delay']
        )

        def go_down():
            with self.state.lock:
                if host.epoch != epoch or not host.rebooting:
                    return
                self.hooks.endpoint_down(host)
            if hung:
                LOG.info('fault: %s is down and will not come back',
                         host.name)
                return
            self.hooks.call_later(
                delay, lambda: self._finish_host_reboot(host, epoch)
            )

        call.after = go_down
        LOG.info('%s is rebooting', host.name)
        return ''

    def _finish_host_reboot(self, host, epoch):
        with self.state.lock:
            if host.epoch != epoch or not host.rebooting:
                return
            host.epoch += 1
            host.rebooting = False
            host.reboot_hung = False
            # xapi enables the host again at start-up.
            host.enabled = True
            host.stamp_boot()
            self.state.drop_sessions(host)
            if not host.stopped:
                self.hooks.endpoint_up(host)
            LOG.info('%s is back after its reboot', host.name)

    def end_hung_reboot(self, host):
        """The never_back fault: the host is powered on by hand.  True if
        it was hanging."""
        with self.state.lock:
            if not (host.rebooting and host.reboot_hung):
                return False
            self._finish_host_reboot(host, host.epoch)
            return True

    def host_evacuate(self, call, host_ref, network=NULL_REF, batch_size='0'):
        host = self.state.lookup(call.pool, 'host', host_ref)
        guests = [vm for vm in self.state.vms_on(host) if vm.is_guest_resident]
        # Plan everything first: evacuate is all-or-nothing.
        targets = [
            h
            for h in call.pool.members
            if h is not host
            and h.enabled
            and h.reachable
            and h.joining is None
        ]
        planned = {h: 0 for h in targets}
        plan = []
        for vm in guests:
            if not targets:
                raise XapiError('NO_HOSTS_AVAILABLE', vm.ref)
            free = {h: self.state.free_memory(h, planned[h]) for h in targets}
            # max() keeps the first on ties.
            best = max(targets, key=lambda h: free[h])
            if free[best] < vm.memory:
                raise XapiError(
                    'HOST_NOT_ENOUGH_FREE_MEMORY',
                    vm.memory,
                    max(free[best], 0),
                )
            planned[best] += vm.memory
            plan.append((vm, best))
        for vm, target in plan:
            vm.home = target
        return ''

    # -- VMs ------------------------------------------------------------------

    def _check_migration(self, call, vm_ref, host_ref):
        """(vm, target) if ``vm_ref`` may migrate to ``host_ref`` now."""
        vm = self.state.lookup(call.pool, 'VM', vm_ref)
        target = self.state.lookup(call.pool, 'host', host_ref)
        if vm.is_control_domain:
            raise XapiError(
                'OPERATION_NOT_ALLOWED', 'Cannot migrate a control domain'
            )
        if vm.is_a_template:
            raise XapiError('VM_IS_TEMPLATE', vm.ref)
        if vm.power_state != 'Running':
            raise XapiError(
                'VM_BAD_POWER_STATE', vm.ref, 'running', vm.power_state.lower()
            )
        self._assert_idle(vm, call.task)
        if target is vm.home:
            return vm, target
        if not target.enabled:
            raise XapiError('HOST_DISABLED', target.ref)
        if not target.reachable or target.joining is not None:
            raise XapiError('HOST_OFFLINE', target.ref)
        # A VM already migrating there holds its memory on the target too.
        free = self.state.free_memory(target, ignoring=vm)
        if free < vm.memory:
            raise XapiError(
                'HOST_NOT_ENOUGH_FREE_MEMORY', vm.memory, max(free, 0)
            )
        return vm, target

    @staticmethod
    def _assert_idle(vm, own_task=None):
        for task_ref, operation in vm.current_operations.items():
            if own_task is None or task_ref != own_task.ref:
                raise XapiError(
                    'OTHER_OPERATION_IN_PROGRESS',
                    'VM',
                    vm.ref,
                    operation,
                    task_ref,
                )

    def _start_migration(self, call, vm_ref, host_ref, options):
        """Async.VM.pool_migrate: check at once, then hold the target's
        memory and mark the VM busy until the task ends."""
        vm, target = self._check_migration(call, vm_ref, host_ref)
        if target is vm.home:
            return None
        task_ref = call.task.ref
        vm.migrating_to = target
        vm.current_operations[task_ref] = 'pool_migrate'

        def cleanup():
            vm.current_operations.pop(task_ref, None)
            if vm.migrating_to is target:
                vm.migrating_to = None

        return cleanup

    def vm_pool_migrate(self, call, vm_ref, host_ref, options):
        vm, target = self._check_migration(call, vm_ref, host_ref)
        if target is not vm.home:
            vm.home = target
            vm.migrating_to = None
            LOG.info('%s migrated to %s', vm.name_label, target.name)
        return ''

    def vm_shutdown(self, call, vm_ref):
        vm = self.state.lookup(call.pool, 'VM', vm_ref)
        if vm.is_control_domain:
            raise XapiError(
                'OPERATION_NOT_ALLOWED', 'Cannot shut down a control domain'
            )
        self._assert_idle(vm)
        if vm.power_state not in model.RESIDENT_STATES:
            raise XapiError(
                'VM_BAD_POWER_STATE',
                vm.ref,
                'running;paused',
                vm.power_state.lower(),
            )
        vm.power_state = 'Halted'
        vm.domid = -1
        return ''

    def vm_start(self, call, vm_ref, start_paused, force):
        vm = self.state.lookup(call.pool, 'VM', vm_ref)
        if vm.power_state != 'Halted':
            raise XapiError(
                'VM_BAD_POWER_STATE', vm.ref, 'halted', vm.power_state.lower()
            )
        # The simulator starts a VM where it lives (its affinity).
        host = vm.home
        if not host.enabled:
            raise XapiError('HOST_DISABLED', host.ref)
        free = self.state.free_memory(host)
        if free < vm.memory:
            raise XapiError(
                'HOST_NOT_ENOUGH_FREE_MEMORY', vm.memory, max(free, 0)
            )
        vm.power_state = 'Paused' if start_paused is True else 'Running'
        vm.domid = 1 + max([v.domid for v in self.state.vms_on(host)] + [0])
        return ''

    # -- tasks ----------------------------------------------------------------

    def task_destroy(self, call, task_ref):
        self.state.forget(self.state.lookup(call.pool, 'task', task_ref))
        return ''

    def task_cancel(self, call, task_ref):
        task = self.state.lookup(call.pool, 'task', task_ref)
        if task.status == 'pending':
            task.finish('cancelled', error_info=['TASK_CANCELLED', task.ref])
        return ''
