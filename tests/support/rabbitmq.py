"""RabbitMQ for the notification tests: the machine's broker, private nodes,
and a consumer of notifications.

``system_url()`` is the machine's broker (``NOVA_AGGREGATES_RABBIT_URL``,
default ``rabbit://guest:guest@127.0.0.1:5672/``: the Debian package's
node as tools/setup-rabbitmq.sh starts it); ``require_system_broker()``
skips a test unless it answers, or fails when
``NOVA_AGGREGATES_REQUIRE_BACKENDS`` names ``rabbitmq``.

``PrivateNode`` is a RabbitMQ node of our own from the same package, in a
temporary directory (data, logs, Erlang cookie), its AMQP and distribution
listeners on free ports of 127.0.0.1, no plugins: a test may stop and start
it while others use the machine's broker.  Always killed on cleanup.

``NotificationConsumer`` is an oslo.messaging notification listener on a
topic of its own (unique per consumer), collecting every notification it
gets as the message a consumer sees: ``priority``, ``event_type``,
``publisher_id``, ``payload``, ``message_id``, ``timestamp``.
"""

import os
import shutil
import signal
import socket
import tempfile
import threading
import time
import uuid

import fixtures
import kombu
from oslo_config import cfg
import oslo_messaging
from oslo_messaging import opts as messaging_opts

from tests.support import process
from tests.support import shared

URL_ENV = 'NOVA_AGGREGATES_RABBIT_URL'
DEFAULT_URL = 'rabbit://guest:guest@127.0.0.1:5672/'
BACKEND = 'rabbitmq'
#: The package's server script (the /usr/sbin wrapper would switch to the
#: rabbitmq user, who cannot write our temporary directory).
SERVER = '/usr/lib/rabbitmq/bin/rabbitmq-server'
#: Nova's exchange, our notifier's default ([DEFAULT] control_exchange).
EXCHANGE = 'nova'


def system_url():
    return os.environ.get(URL_ENV, DEFAULT_URL)


def unreachable(url, timeout=2.0):
    """Why the broker of oslo.messaging transport URL ``url`` does not
    accept a client (None: it does)."""
    parsed = oslo_messaging.TransportURL.parse(cfg.ConfigOpts(), url)
    host = parsed.hosts[0]
    port = host.port or 5672
    try:
        # A refused TCP connection first: py-amqp only gives up on one at
        # its timeout.
        socket.create_connection((host.hostname, port), timeout).close()
    except OSError as exc:
        return '%s: %s' % (type(exc).__name__, exc)
    connection = kombu.Connection(
        hostname=host.hostname, port=port, userid=host.username,
        password=host.password, virtual_host=parsed.virtual_host or '/',
        connect_timeout=timeout)
    try:
        connection.connect()
        return None
    except Exception as exc:  # noqa: B902 - any failure says "not there"
        return '%s: %s' % (type(exc).__name__, exc)
    finally:
        connection.release()


def require_system_broker():
    """The machine's broker URL; skip (or fail, when required) unless it
    answers."""
    url = system_url()
    problem = unreachable(url)
    if problem is not None:
        shared.unavailable(BACKEND, 'RabbitMQ at %s does not answer (%s)' % (
            _without_password(url), problem))
    return url


def _without_password(url):
    parsed = oslo_messaging.TransportURL.parse(cfg.ConfigOpts(), url)
    host = parsed.hosts[0]
    return 'rabbit://%s@%s:%s/%s' % (host.username, host.hostname,
                                     host.port, parsed.virtual_host or '')


class _NodeProcess(process.ServerProcess):
    """The node's server script; up once its AMQP listener accepts a
    connection (the last step of its boot)."""

    def __init__(self, node):
        super().__init__([SERVER], node.port, node.log_path,
                         'rabbitmq node %s' % node.nodename, cwd=node.dir,
                         env=node.env)
        self.url = node.url

    def answers(self):
        return unreachable(self.url, timeout=1.0) is None


class PrivateNode(fixtures.Fixture):
    """A RabbitMQ node of our own (see the module docstring): ``url``;
    ``stop()`` (graceful: clients are told the connection is closed),
    ``kill()`` (a crash), ``start()``, ``restart()``."""

    start_timeout = 60

    def _setUp(self):
        if not os.access(SERVER, os.X_OK):
            shared.unavailable(BACKEND, 'RabbitMQ is not installed (no %s)'
                               % SERVER)
        self.dir = tempfile.mkdtemp(prefix='na-rabbit-')
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.port = process.free_port()
        self.dist_port = process.free_port()
        self.nodename = 'na-test-%s@localhost' % uuid.uuid4().hex[:8]
        self.url = 'rabbit://guest:guest@127.0.0.1:%d/' % self.port
        self.log_path = os.path.join(self.dir, 'server.log')
        plugins = os.path.join(self.dir, 'enabled_plugins')
        config = os.path.join(self.dir, 'rabbitmq.conf')
        env_file = os.path.join(self.dir, 'rabbitmq-env.conf')
        with open(plugins, 'w') as f:
            f.write('[].\n')
        # Empty files: nothing of /etc/rabbitmq applies to this node.
        for path in (config, env_file):
            open(path, 'w').close()
        self.env = dict(
            os.environ,
            # Erlang makes its cookie in $HOME: the node's own.
            HOME=self.dir,
            RABBITMQ_NODENAME=self.nodename,
            RABBITMQ_NODE_IP_ADDRESS='127.0.0.1',
            RABBITMQ_NODE_PORT=str(self.port),
            RABBITMQ_DIST_PORT=str(self.dist_port),
            RABBITMQ_MNESIA_BASE=os.path.join(self.dir, 'mnesia'),
            RABBITMQ_LOG_BASE=os.path.join(self.dir, 'log'),
            RABBITMQ_ENABLED_PLUGINS_FILE=plugins,
            RABBITMQ_CONFIG_FILE=config,
            RABBITMQ_CONF_ENV_FILE=env_file,
            # The distribution listener on loopback too, and epmd if this
            # node is the one that starts it (else it is the machine's).
            RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS=(
                '-kernel inet_dist_use_interface {127,0,0,1}'),
            ERL_EPMD_ADDRESS='127.0.0.1',
        )
        self.server = _NodeProcess(self)
        self.addCleanup(self.kill)
        self.start()

    def start(self):
        """Start the node (again: same name, ports and data); return once
        it accepts connections."""
        self.server.start(self.start_timeout)

    def stop(self, timeout=30):
        """Stop as an operator does: the script turns SIGTERM into the
        node's orderly shutdown."""
        self.server.stop(sig=signal.SIGTERM, timeout=timeout)

    def kill(self):
        self.server.kill()

    def restart(self):
        self.stop()
        self.start()

    def running(self):
        return self.server.running()


class _Endpoint:
    """Every priority's notifications, to the consumer."""

    def __init__(self, consumer):
        for priority in ('audit', 'debug', 'info', 'warn', 'error',
                         'critical', 'sample'):
            setattr(self, priority, self._collector(consumer,
                                                    priority.upper()))

    @staticmethod
    def _collector(consumer, priority):
        def collect(ctxt, publisher_id, event_type, payload, metadata):
            consumer.received(ctxt, {
                'priority': priority, 'event_type': event_type,
                'publisher_id': publisher_id, 'payload': payload,
                'message_id': metadata['message_id'],
                'timestamp': metadata['timestamp']})
        return collect


class NotificationConsumer(fixtures.Fixture):
    """An oslo.messaging notification listener on ``topic`` (default: a
    new unique one) of exchange ``exchange`` at ``url``.

    Each priority has a queue of its own (``<topic>.<priority>``); RabbitMQ
    keeps the order within a queue, not across them.  ``messages`` are
    therefore in the order the sender handed them to its driver (their
    ``timestamp``, set then), which within one priority is also the order
    they arrived in.  ``context_of(message)`` is the context it carried.
    """

    def __init__(self, url, topic=None, exchange=EXCHANGE):
        super().__init__()
        self.url = url
        self.topic = topic or 'na-test-%s' % uuid.uuid4().hex
        self.exchange = exchange

    def _setUp(self):
        self._arrived = []
        self._changed = threading.Condition()
        conf = cfg.ConfigOpts()
        conf([], default_config_files=[])
        # One dispatching thread: notifications reach us in arrival order.
        conf.register_opts([opt for group, options in messaging_opts.list_opts()
                            if group is None for opt in options
                            if opt.name == 'executor_thread_pool_size'])
        conf.set_override('executor_thread_pool_size', 1)
        transport = oslo_messaging.get_notification_transport(conf,
                                                              url=self.url)
        self.addCleanup(transport.cleanup)
        listener = oslo_messaging.get_notification_listener(
            transport, [oslo_messaging.Target(topic=self.topic,
                                              exchange=self.exchange)],
            [_Endpoint(self)], executor='threading')
        listener.start()
        self.addCleanup(listener.wait)
        self.addCleanup(listener.stop)

    def received(self, ctxt, message):
        with self._changed:
            self._arrived.append((message, ctxt))
            self._changed.notify_all()

    def _in_order(self):
        return sorted(self._arrived, key=lambda pair: pair[0]['timestamp'])

    @property
    def messages(self):
        with self._changed:
            return [message for message, _ in self._in_order()]

    def context_of(self, message):
        """The context ``message`` carried."""
        with self._changed:
            for arrived, ctxt in self._arrived:
                if arrived['message_id'] == message['message_id']:
                    return ctxt
        raise KeyError(message['message_id'])

    def wait_until(self, predicate, timeout=10.0, what='notifications'):
        """``messages`` once ``predicate(messages)`` is true; an
        AssertionError naming what did arrive if it is not within
        ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while not predicate(self.messages):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(
                        'no %s on topic %s within %g s; arrived: %s' % (
                            what, self.topic, timeout,
                            [m['event_type'] for m in self.messages]))
                self._changed.wait(remaining)
            return self.messages

    def wait_for(self, count, timeout=10.0):
        """The first ``count`` messages, once that many arrived."""
        return self.wait_until(lambda messages: len(messages) >= count,
                               timeout, '%d notifications' % count)[:count]
