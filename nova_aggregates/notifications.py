"""Notifications of what the service does, for the rest of a cloud
(api-contract §16).

Every notification is a log line of logger ``nova_aggregates.notifications``
(the event type, then the payload as JSON: INFO for the maintenance
events, which operators follow in the log; DEBUG for the aggregate events,
which the request log already shows) and, when
``[oslo_messaging_notifications] driver`` names a driver other than
``noop``, an oslo.messaging notification on the transport of
``[oslo_messaging_notifications] transport_url``:

* priority INFO, ERROR for the ``*.error`` events; publisher
  ``nova-aggregates-api:<host name>``;
* topics ``[oslo_messaging_notifications] topics``, by default
  ``versioned_notifications``: Nova's ``[notifications]
  versioned_notifications_topics`` default, where whoever consumes Nova's
  versioned notifications listens (oslo.messaging's own default,
  ``notifications``, is where Nova sends its legacy unversioned ones);
  likewise ``[DEFAULT] control_exchange`` defaults to Nova's, ``nova``.
  These defaults are set on our own configuration object only: inside
  Nova's process (the ``extensions`` filter) Nova's options are untouched;
* payloads are versioned envelopes in Nova's shape (``nova_object.name``,
  ``.namespace``, ``.version``, ``.data``): ``AggregatePayload`` 1.1 of
  namespace ``nova`` for the aggregate events, as Nova sends them;
  ``HostMaintenancePayload`` and ``RollingMaintenancePayload`` 1.0 of
  namespace ``nova_aggregates`` for our own.  doc/notifications.md lists
  the events and their fields.

**Notifying never fails or slows the caller.**  The caller only builds the
payload and puts it in this process's queue (FIFO, at most
``QUEUE_SIZE``; a notification that finds it full is dropped with a
WARNING); a thread of its own hands the queue's notifications to
oslo.messaging one after the other.  Errors are logged, never raised.  The
thread, the transport and its connections belong to the process that made
them: after a fork (gunicorn's workers) the child makes its own on first
use and never sends what the parent had queued.

Delivery: oslo.messaging sends each notification at most once.  The driver
retries a send ``[oslo_messaging_notifications] retry`` times, by default
``DEFAULT_RETRY`` (oslo.messaging's default, -1, retries forever: a broker
gone for good would block the thread for good); with the rabbit driver's
intervals (1 s, then 2 s more each time) that is about a minute, while
the notifications queued behind it wait.  So after an outage shorter than
that everything queued meanwhile is delivered, in order, once the broker
is back; after a longer one the notification being sent is lost, which
oslo.messaging logs at ERROR with its payload ("Could not send
notification"), and the next one gets retries of its own.  ``stop`` waits
a while for the queue to drain; whatever is still queued when the process
exits is lost.
"""

import datetime
import functools
import json
import logging
import os
import queue
import socket
import threading
import time

import oslo_messaging
from oslo_messaging import opts as messaging_opts

LOG = logging.getLogger(__name__)

GROUP = 'oslo_messaging_notifications'
VERSIONED_TOPICS = ['versioned_notifications']
EXCHANGE = 'nova'
DEFAULT_RETRY = 8
QUEUE_SIZE = 1000

AGGREGATE_ACTIONS = ('create', 'delete', 'update_prop', 'update_metadata',
                     'add_host', 'remove_host')
AGGREGATE_PHASES = ('start', 'end')
HOST_MAINTENANCE_PHASES = ('start', 'end', 'error')
ROLLING_MAINTENANCE_PHASES = ('start', 'host', 'end', 'error')

#: Every field of our own payloads, with its value when not given: a
#: payload of one version always has the same keys.
HOST_MAINTENANCE_FIELDS = {
    'host': None,
    'action': None,            # enter or leave
    'aggregate_id': None,      # the host's pool aggregate (None: no pool)
    'aggregate_uuid': None,
    'guests_moved': [],        # [{vm, name, to}]
    'guests_skipped': [],      # leave: [{vm, name, reason}]
    'error': None,             # the .error event's message
}
ROLLING_MAINTENANCE_FIELDS = {
    'task_id': None,
    'aggregate_id': None,
    'host_action': None,
    'state': None,             # the task's state
    'hosts': [],               # every host of the task, as the API shows it
    'host': None,              # .host: the host that finished or failed
    'error': None,             # .error: why the task failed
}

# The (rare) creation of a process's sender.  A lock some other thread
# held when the process forked stays held in the child: the child gets a
# new one.
_creation_lock = threading.Lock()


def _new_creation_lock():
    global _creation_lock
    _creation_lock = threading.Lock()


os.register_at_fork(after_in_child=_new_creation_lock)


def register_opts(conf):
    """oslo.messaging's notification options, and the transport's URL and
    exchange, on ``conf`` with our defaults (see the module docstring).
    oslo.messaging registers the same options again when it builds the
    transport; they are equal, so that is harmless."""
    for group, options in messaging_opts.list_opts():
        if group == GROUP:
            conf.register_opts(options, group=GROUP)
        elif group is None:
            conf.register_opts([opt for opt in options if opt.name in (
                'transport_url', 'control_exchange')])
    conf.set_default('topics', VERSIONED_TOPICS, group=GROUP)
    conf.set_default('retry', DEFAULT_RETRY, group=GROUP)
    conf.set_default('control_exchange', EXCHANGE)


def set_lib_defaults():
    """For oslo-config-generator only (through
    ``nova_aggregates.api.proxy.set_lib_defaults``): the sample shows our
    defaults.  Changes oslo.messaging's own option definitions for the
    whole process, which must not happen at run time (in Nova's process
    they are Nova's); oslo.messaging has no public setter for these."""
    from oslo_config import cfg
    from oslo_messaging.notify import notifier

    cfg.set_defaults(notifier._notifier_opts, topics=VERSIONED_TOPICS,
                     retry=DEFAULT_RETRY)
    oslo_messaging.set_transport_defaults(control_exchange=EXCHANGE)


def envelope(name, namespace, version, data):
    """A versioned payload as Nova's notifications carry it."""
    return {'nova_object.name': name,
            'nova_object.namespace': namespace,
            'nova_object.version': version,
            'nova_object.data': data}


def _primitive(value):
    """``value`` in JSON's types: a copy taken now (the caller may change
    its own afterwards), times as the API writes them."""
    if isinstance(value, dict):
        return {str(key): _primitive(item) for key, item in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_primitive(item) for item in value]
    if isinstance(value, datetime.datetime):
        return value.isoformat(timespec='microseconds')
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


def _fields(schema, given):
    unknown = sorted(set(given) - set(schema))
    if unknown:
        raise TypeError('unknown payload fields %s' % ', '.join(unknown))
    return {name: given.get(name, default)
            for name, default in schema.items()}


def _never_raises(method):
    """The failure rule: a notification that cannot be built or queued is
    logged, and the caller goes on."""
    @functools.wraps(method)
    def guarded(self, *args, **kwargs):
        try:
            method(self, *args, **kwargs)
        except Exception:  # noqa: B902 - whatever it is, the call goes on
            LOG.exception('A notification (%s) could not be built or '
                          'queued', method.__name__)
    return guarded


class _Stop:
    """Queued by ``stop``: the sender thread ends when it gets here."""


class _Sender:
    """One process's queue, transport and sending thread."""

    def __init__(self, conf, publisher_id, queue_size):
        self.pid = os.getpid()
        self.conf = conf
        self.publisher_id = publisher_id
        self.queue = queue.Queue(queue_size)
        # Made by the thread: loading the driver takes a while, and the
        # first notification's caller is not to wait for it.
        self.transport = None
        self.notifier = None
        self.thread = threading.Thread(target=self._run, daemon=True,
                                       name='nova-aggregates-notifications')
        self.thread.start()

    def _connect(self):
        self.transport = oslo_messaging.get_notification_transport(self.conf)
        # Driver(s), topics and retry from [oslo_messaging_notifications].
        self.notifier = oslo_messaging.Notifier(
            self.transport, publisher_id=self.publisher_id)

    def _run(self):
        while True:
            item = self.queue.get()
            if isinstance(item, _Stop):
                return
            if isinstance(item, threading.Event):
                item.set()  # a flush: everything before it was handed over
                continue
            ctxt, event_type, payload, priority = item
            try:
                if self.notifier is None:
                    self._connect()
                # oslo.messaging logs (and swallows) a send that failed
                # after its retries.
                getattr(self.notifier, priority.lower())(ctxt, event_type,
                                                         payload)
            except Exception:  # noqa: B902 - the thread must go on
                LOG.exception('Notification %s could not be sent',
                              event_type)


class Notifier:
    """See the module docstring.  ``conf`` None: notifications are only
    logged."""

    #: How many notifications may wait for the sender thread.
    queue_size = QUEUE_SIZE

    def __init__(self, conf=None, publisher_id=None):
        self.conf = conf
        self.publisher_id = publisher_id or \
            'nova-aggregates-api:%s' % socket.gethostname()
        self.enabled = False
        if conf is not None:
            register_opts(conf)
            self.enabled = any(driver != 'noop' for driver in
                               conf.oslo_messaging_notifications.driver)
        self._sender = None

    # -- emitting ----------------------------------------------------------------

    @_never_raises
    def info(self, context, event_type, payload):
        self._notify(context, event_type, payload, 'INFO')

    @_never_raises
    def error(self, context, event_type, payload):
        self._notify(context, event_type, payload, 'ERROR')

    @_never_raises
    def aggregate(self, context, action, phase, aggregate):
        """``aggregate.<action>.<phase>`` with Nova's AggregatePayload 1.1
        of ``aggregate`` (the manager's presentation).  What it lacks is
        null, as in Nova's ``create.start``: no id, no hosts yet."""
        if action not in AGGREGATE_ACTIONS or phase not in AGGREGATE_PHASES:
            raise ValueError('no aggregate event %s.%s' % (action, phase))
        hosts = aggregate.get('hosts')
        metadata = aggregate.get('metadata')
        self._notify(context, 'aggregate.%s.%s' % (action, phase), envelope(
            'AggregatePayload', 'nova', '1.1', {
                'id': aggregate.get('id'),
                'uuid': aggregate.get('uuid'),
                'name': aggregate.get('name'),
                'hosts': None if hosts is None else list(hosts),
                'metadata': None if metadata is None else dict(metadata),
            }), 'INFO', log_level=logging.DEBUG)

    @_never_raises
    def host_maintenance(self, context, phase, **fields):
        """``host.maintenance.<phase>`` (start, end, error) with
        HostMaintenancePayload 1.0 of ``fields``
        (``HOST_MAINTENANCE_FIELDS``)."""
        self._ours(context, 'host.maintenance', phase,
                   HOST_MAINTENANCE_PHASES, 'HostMaintenancePayload',
                   HOST_MAINTENANCE_FIELDS, fields)

    @_never_raises
    def rolling_maintenance(self, context, phase, **fields):
        """``rolling_maintenance.<phase>`` (start, host, end, error) with
        RollingMaintenancePayload 1.0 of ``fields``
        (``ROLLING_MAINTENANCE_FIELDS``)."""
        self._ours(context, 'rolling_maintenance', phase,
                   ROLLING_MAINTENANCE_PHASES, 'RollingMaintenancePayload',
                   ROLLING_MAINTENANCE_FIELDS, fields)

    def _ours(self, context, prefix, phase, phases, name, schema, fields):
        if phase not in phases:
            raise ValueError('no %s event %s' % (prefix, phase))
        self._notify(context, '%s.%s' % (prefix, phase),
                     envelope(name, 'nova_aggregates', '1.0',
                              _fields(schema, fields)),
                     'ERROR' if phase == 'error' else 'INFO')

    def _notify(self, context, event_type, payload, priority,
                log_level=logging.INFO):
        logged = LOG.isEnabledFor(log_level)
        if not (logged or self.enabled):
            return  # the hot path of a service with no bus
        payload = _primitive(payload)
        if logged:
            LOG.log(log_level, '%s %s', event_type,
                    json.dumps(payload, sort_keys=True))
        if not self.enabled:
            return
        # oslo.messaging sends a context's redacted copy (no token); taken
        # here, where the context belongs.
        ctxt = context.redacted_copy() if hasattr(
            context, 'redacted_copy') else None
        try:
            self._current_sender().queue.put_nowait(
                (ctxt, event_type, payload, priority))
        except queue.Full:
            LOG.warning('Notification %s dropped: %d notifications are '
                        'already waiting to be sent', event_type,
                        self.queue_size)

    def _current_sender(self):
        sender = self._sender
        if sender is not None and sender.pid == os.getpid():
            return sender
        with _creation_lock:
            if self._sender is None or self._sender.pid != os.getpid():
                # A parent's sender is left alone: its thread does not
                # exist here, its connections are the parent's.
                self._sender = _Sender(self.conf, self.publisher_id,
                                       self.queue_size)
            return self._sender

    # -- waiting and stopping ------------------------------------------------------

    def _own_sender(self):
        sender = self._sender
        return sender if sender is not None and \
            sender.pid == os.getpid() else None

    def flush(self, timeout=5.0):
        """Wait until every notification queued so far was handed to the
        driver (sent, or given up on); False if that takes longer than
        ``timeout`` seconds."""
        sender = self._own_sender()
        if sender is None:
            return True
        deadline = time.monotonic() + timeout
        marker = threading.Event()
        try:
            sender.queue.put(marker, timeout=timeout)
        except queue.Full:
            return False
        return marker.wait(max(0.0, deadline - time.monotonic()))

    def stop(self, timeout=5.0):
        """Send what is queued (for up to ``timeout`` seconds), then end the
        thread and close the transport.  A later notification starts
        them again."""
        sender = self._own_sender()
        self._sender = None
        if sender is None:
            return
        deadline = time.monotonic() + timeout
        try:
            sender.queue.put(_Stop(), timeout=timeout)
        except queue.Full:
            pass
        sender.thread.join(max(0.0, deadline - time.monotonic()))
        if sender.thread.is_alive():
            # Still retrying a send: the thread is a daemon, the process
            # may exit; its transport is still in use.
            LOG.warning('Notifications not sent within %g s of stopping: '
                        'about %d left in the queue, lost if the process '
                        'exits', timeout, sender.queue.qsize())
            return
        if sender.transport is not None:
            sender.transport.cleanup()
