"""The notifier (nova_aggregates.notifications) on oslo.messaging's ``log``
driver, which hands each message to Python logging as the driver got it
(logger ``oslo.messaging.notification.<event type>``, at the message's
priority): envelopes, priorities, publisher, our configuration defaults,
the failure rule (nothing raises, a full queue drops), ``noop``, and a
fork."""

import datetime
import json
import logging
import os
import select
import socket
import threading
import time
from unittest import mock

import fixtures
from oslo_config import cfg
import oslo_messaging
import testtools

from nova_aggregates import context as na_context
from nova_aggregates import notifications

GROUP = notifications.GROUP
THREAD = 'nova-aggregates-notifications'


class Records(logging.Handler):
    """The records of one logger (and its children), kept."""

    def __init__(self, name):
        super().__init__(logging.DEBUG)
        self.records = []
        self.logger = logging.getLogger(name)

    def emit(self, record):
        self.records.append(record)

    def __enter__(self):
        self.previous = self.logger.level
        self.logger.setLevel(logging.DEBUG)
        self.logger.addHandler(self)
        return self

    def __exit__(self, *exc_info):
        self.logger.removeHandler(self)
        self.logger.setLevel(self.previous)

    def messages(self):
        return [record.getMessage() for record in self.records]


class NotifierTestCase(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.conf = cfg.ConfigOpts()
        self.conf([], default_config_files=[])
        self.context = na_context.get_admin_context()
        self.sent = self.enterContext(Records('oslo.messaging.notification'))
        self.logged = self.enterContext(Records(notifications.LOG.name))

    def notifier(self, driver='log', **kwargs):
        notifications.register_opts(self.conf)
        if driver is not None:
            self.conf.set_override('driver', [driver], group=GROUP)
        notifier = notifications.Notifier(self.conf, **kwargs)
        self.addCleanup(notifier.stop)
        return notifier

    def sent_messages(self, notifier):
        self.assertTrue(notifier.flush(5))
        return [json.loads(record.getMessage())
                for record in self.sent.records]

    def our_threads(self):
        return [t for t in threading.enumerate() if t.name == THREAD]


class TestMessages(NotifierTestCase):

    AGGREGATE = {'id': 7, 'uuid': '2a1e1f2c-4e8a-4e1b-9f53-0b7f3c2d9e10',
                 'name': 'rack', 'hosts': ['host1', 'host2'],
                 'metadata': {'availability_zone': 'az1'},
                 'availability_zone': 'az1', 'operational_state': 'active',
                 'created_at': datetime.datetime(2012, 3, 1)}

    def test_aggregate_envelope_priority_and_publisher(self):
        notifier = self.notifier()
        notifier.aggregate(self.context, 'add_host', 'end', self.AGGREGATE)
        [message] = self.sent_messages(notifier)
        self.assertEqual({'message_id', 'publisher_id', 'event_type',
                          'priority', 'payload', 'timestamp'}, set(message))
        self.assertEqual('aggregate.add_host.end', message['event_type'])
        self.assertEqual('INFO', message['priority'])
        self.assertEqual('nova-aggregates-api:%s' % socket.gethostname(),
                         message['publisher_id'])
        # Exactly Nova's AggregatePayload 1.1: nothing else of ours.
        self.assertEqual({
            'nova_object.name': 'AggregatePayload',
            'nova_object.namespace': 'nova',
            'nova_object.version': '1.1',
            'nova_object.data': {
                'id': 7, 'uuid': '2a1e1f2c-4e8a-4e1b-9f53-0b7f3c2d9e10',
                'name': 'rack', 'hosts': ['host1', 'host2'],
                'metadata': {'availability_zone': 'az1'}}},
            message['payload'])
        self.assertEqual([logging.INFO],
                         [r.levelno for r in self.sent.records])

    def test_create_start_carries_nulls_for_what_does_not_exist_yet(self):
        notifier = self.notifier()
        notifier.aggregate(self.context, 'create', 'start', {
            'uuid': self.AGGREGATE['uuid'], 'name': 'rack',
            'metadata': {'availability_zone': 'az1'}})
        [message] = self.sent_messages(notifier)
        self.assertEqual({'id': None, 'uuid': self.AGGREGATE['uuid'],
                          'name': 'rack', 'hosts': None,
                          'metadata': {'availability_zone': 'az1'}},
                         message['payload']['nova_object.data'])

    def test_our_own_payloads_and_error_priority(self):
        notifier = self.notifier()
        notifier.host_maintenance(
            self.context, 'error', host='host2', action='enter',
            aggregate_id=7, aggregate_uuid=self.AGGREGATE['uuid'],
            guests_moved=[{'vm': 'u1', 'name': 'web', 'to': 'host3'}],
            error='Evacuation of compute host host2 stopped')
        notifier.rolling_maintenance(
            self.context, 'host', task_id=3, aggregate_id=7,
            host_action='none', state='running', host={
                'host': 'host1', 'state': 'done', 'guests_moved': 0,
                'message': None,
                'started_at': datetime.datetime(2012, 3, 1, 10, 0, 0, 5),
                'finished_at': None})
        maintenance, rolling = self.sent_messages(notifier)
        self.assertEqual(('host.maintenance.error', 'ERROR'),
                         (maintenance['event_type'],
                          maintenance['priority']))
        self.assertEqual({
            'nova_object.name': 'HostMaintenancePayload',
            'nova_object.namespace': 'nova_aggregates',
            'nova_object.version': '1.0',
            'nova_object.data': {
                'host': 'host2', 'action': 'enter', 'aggregate_id': 7,
                'aggregate_uuid': self.AGGREGATE['uuid'],
                'guests_moved': [{'vm': 'u1', 'name': 'web', 'to': 'host3'}],
                'guests_skipped': [],
                'error': 'Evacuation of compute host host2 stopped'}},
            maintenance['payload'])
        self.assertEqual(('rolling_maintenance.host', 'INFO'),
                         (rolling['event_type'], rolling['priority']))
        self.assertEqual('RollingMaintenancePayload',
                         rolling['payload']['nova_object.name'])
        self.assertEqual({
            'task_id': 3, 'aggregate_id': 7, 'host_action': 'none',
            'state': 'running', 'hosts': [], 'error': None,
            'host': {'host': 'host1', 'state': 'done', 'guests_moved': 0,
                     'message': None,
                     'started_at': '2012-03-01T10:00:00.000005',
                     'finished_at': None}},
            rolling['payload']['nova_object.data'])
        self.assertEqual([logging.ERROR, logging.INFO],
                         [r.levelno for r in self.sent.records])

    def test_plain_payloads_and_explicit_priorities(self):
        notifier = self.notifier(publisher_id='tests:here')
        notifier.info(self.context, 'thing.happened', {'n': 1})
        notifier.error(self.context, 'thing.failed', {'n': 2})
        first, second = self.sent_messages(notifier)
        self.assertEqual([('thing.happened', 'INFO', {'n': 1}, 'tests:here'),
                          ('thing.failed', 'ERROR', {'n': 2}, 'tests:here')],
                         [(m['event_type'], m['priority'], m['payload'],
                           m['publisher_id']) for m in (first, second)])

    def test_payload_is_taken_when_emitted(self):
        notifier = self.notifier()
        payload = {'hosts': ['host1']}
        notifier.info(self.context, 'thing.happened', payload)
        payload['hosts'].append('host2')
        [message] = self.sent_messages(notifier)
        self.assertEqual({'hosts': ['host1']}, message['payload'])

    def test_every_notification_is_also_a_log_line(self):
        notifier = self.notifier()
        notifier.aggregate(self.context, 'delete', 'end', self.AGGREGATE)
        [line] = self.logged.messages()
        event_type, _, payload = line.partition(' ')
        self.assertEqual('aggregate.delete.end', event_type)
        self.assertEqual('rack', json.loads(payload)['nova_object.data'][
            'name'])

    def test_unknown_events_and_fields_are_logged_not_raised(self):
        notifier = self.notifier()
        notifier.aggregate(self.context, 'rename', 'start', self.AGGREGATE)
        notifier.aggregate(self.context, 'create', 'start', None)
        notifier.host_maintenance(self.context, 'start', colour='red')
        notifier.rolling_maintenance(self.context, 'middle')
        self.assertEqual([], self.sent_messages(notifier))
        errors = [r for r in self.logged.records
                  if r.levelno == logging.ERROR]
        self.assertEqual(4, len(errors))
        self.assertIn('colour', str(errors[2].exc_info[1]))


class TestConfiguration(NotifierTestCase):

    def test_our_defaults(self):
        notifier = self.notifier()
        self.assertEqual(['versioned_notifications'],
                         self.conf.oslo_messaging_notifications.topics)
        self.assertEqual(notifications.DEFAULT_RETRY,
                         self.conf.oslo_messaging_notifications.retry)
        self.assertEqual('nova', self.conf.control_exchange)
        notifier.info(self.context, 'thing.happened', {})
        self.assertTrue(notifier.flush())
        # What the driver retries with (the topics: tests/functional).
        self.assertEqual(notifications.DEFAULT_RETRY,
                         notifier._sender.notifier.retry)

    def test_only_our_configuration_gets_them(self):
        self.notifier()
        # Another service's configuration in the same process (Nova's,
        # around the extensions filter) keeps oslo.messaging's defaults.
        other = cfg.ConfigOpts()
        other([], default_config_files=[])
        transport = oslo_messaging.get_notification_transport(other)
        self.addCleanup(transport.cleanup)
        self.assertEqual((['notifications'], -1, 'openstack'), (
            other.oslo_messaging_notifications.topics,
            other.oslo_messaging_notifications.retry,
            other.control_exchange))

    def test_operator_overrides_them_in_the_file(self):
        path = self.useFixture(fixtures.TempDir()).join('n.conf')
        with open(path, 'w') as f:
            f.write('[DEFAULT]\ncontrol_exchange = other\n'
                    '[oslo_messaging_notifications]\ndriver = log\n'
                    'topics = a, b\nretry = 2\n')
        self.conf(['--config-file', path], default_config_files=[])
        notifier = self.notifier(driver=None)
        self.assertTrue(notifier.enabled)
        self.assertEqual(['a', 'b'],
                         self.conf.oslo_messaging_notifications.topics)
        self.assertEqual(2, self.conf.oslo_messaging_notifications.retry)
        self.assertEqual('other', self.conf.control_exchange)


class TestNoop(NotifierTestCase):

    def assert_nothing_sent_but_logged(self, notifier):
        threads = len(self.our_threads())
        with mock.patch.object(oslo_messaging, 'get_notification_transport',
                               side_effect=AssertionError('no transport')):
            notifier.aggregate(self.context, 'create', 'end',
                               TestMessages.AGGREGATE)
            self.assertTrue(notifier.flush())
        self.assertFalse(notifier.enabled)
        self.assertIsNone(notifier._sender)
        self.assertEqual(threads, len(self.our_threads()))
        self.assertEqual([], self.sent.records)
        self.assertEqual(1, len(self.logged.messages()))
        self.assertTrue(self.logged.messages()[0].startswith(
            'aggregate.create.end {'))

    def test_noop_driver(self):
        self.assert_nothing_sent_but_logged(self.notifier(driver='noop'))

    def test_no_driver(self):
        self.assert_nothing_sent_but_logged(self.notifier(driver=None))

    def test_no_configuration(self):
        notifier = notifications.Notifier()
        self.addCleanup(notifier.stop)
        self.assert_nothing_sent_but_logged(notifier)


class TestFailureRule(NotifierTestCase):

    def test_a_failing_send_is_logged_and_the_thread_goes_on(self):
        notifier = self.notifier()
        real_info = oslo_messaging.Notifier.info

        def info(oslo_notifier, ctxt, event_type, payload):
            if event_type == 'first':
                raise RuntimeError('broker on fire')
            return real_info(oslo_notifier, ctxt, event_type, payload)

        with mock.patch.object(oslo_messaging.Notifier, 'info', info):
            notifier.info(self.context, 'first', {})
            notifier.info(self.context, 'second', {})
            sent = self.sent_messages(notifier)
        self.assertEqual(['second'], [m['event_type'] for m in sent])
        [failure] = [r for r in self.logged.records
                     if r.levelno == logging.ERROR]
        self.assertEqual('Notification first could not be sent',
                         failure.getMessage())
        self.assertEqual('broker on fire', str(failure.exc_info[1]))

    def test_a_transport_that_cannot_be_made_is_logged_not_raised(self):
        notifier = self.notifier(driver='messagingv2')
        self.conf.set_override('transport_url', 'nosuch://host/',
                               group=GROUP)
        notifier.info(self.context, 'thing.happened', {})
        notifier.info(self.context, 'thing.happened.again', {})
        self.assertTrue(notifier.flush())
        failures = [r for r in self.logged.records
                    if r.levelno == logging.ERROR]
        self.assertEqual(['Notification thing.happened could not be sent',
                          'Notification thing.happened.again could not be '
                          'sent'], [r.getMessage() for r in failures])
        self.assertIsInstance(failures[0].exc_info[1],
                              oslo_messaging.DriverLoadFailure)
        # The log lines were written all the same.
        self.assertEqual(['thing.happened {}', 'thing.happened.again {}'],
                         self.logged.messages()[:2])

    def test_a_slow_send_does_not_slow_the_caller_and_a_full_queue_drops(self):
        notifier = self.notifier()
        notifier.queue_size = 2
        sending, release = threading.Event(), threading.Event()
        self.addCleanup(release.set)
        real_info = oslo_messaging.Notifier.info

        def info(oslo_notifier, ctxt, event_type, payload):
            sending.set()
            release.wait(10)
            return real_info(oslo_notifier, ctxt, event_type, payload)

        with mock.patch.object(oslo_messaging.Notifier, 'info', info):
            notifier.info(self.context, 'n1', {})
            self.assertTrue(sending.wait(5))  # n1 is being sent, blocked
            started = time.monotonic()
            for name in ('n2', 'n3', 'n4', 'n5'):
                notifier.info(self.context, name, {})
            self.assertLess(time.monotonic() - started, 1.0)
            self.assertFalse(notifier.flush(timeout=0.2))
            release.set()
            sent = self.sent_messages(notifier)
        self.assertEqual(['n1', 'n2', 'n3'], [m['event_type'] for m in sent])
        warnings = [r.getMessage() for r in self.logged.records
                    if r.levelno == logging.WARNING]
        self.assertEqual(
            ['Notification n4 dropped: 2 notifications are already waiting '
             'to be sent',
             'Notification n5 dropped: 2 notifications are already waiting '
             'to be sent'], warnings)

    def test_stop_sends_what_is_queued_and_ends_the_thread(self):
        notifier = self.notifier()
        for number in range(20):
            notifier.info(self.context, 'n%d' % number, {})
        thread = notifier._sender.thread
        notifier.stop()
        self.assertFalse(thread.is_alive())
        self.assertEqual(20, len(self.sent.records))
        # A later notification starts it again.
        notifier.info(self.context, 'later', {})
        self.assertEqual('later', self.sent_messages(notifier)[-1][
            'event_type'])
        self.assertIsNot(thread, notifier._sender.thread)


class TestFork(NotifierTestCase):

    def test_another_pid_gets_its_own_thread_and_transport(self):
        notifier = self.notifier()
        notifier.info(self.context, 'in.parent', {})
        self.assertTrue(notifier.flush())
        parent = notifier._sender
        with mock.patch.object(notifications.os, 'getpid',
                               return_value=os.getpid() + 1):
            notifier.info(self.context, 'in.child', {})
            child = notifier._sender
            self.assertIsNot(parent, child)
            self.assertIsNot(parent.thread, child.thread)
            self.assertIsNot(parent.transport, child.transport)
            self.assertTrue(notifier.flush())
            # The parent's sender is not the child's to stop.
            notifier.stop()
            self.assertTrue(parent.thread.is_alive())
        self.assertFalse(child.thread.is_alive())
        self.assertEqual(['in.parent', 'in.child'],
                         [json.loads(r.getMessage())['event_type']
                          for r in self.sent.records])
        parent.queue.put(notifications._Stop())
        parent.thread.join(5)

    def test_a_forked_child_sends_through_a_thread_of_its_own(self):
        notifier = self.notifier()
        notifier.info(self.context, 'in.parent', {})
        self.assertTrue(notifier.flush())
        parent = notifier._sender
        reader, writer = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: report, and never return into the runner
            try:
                os.close(reader)
                notifier.info(self.context, 'in.child', {})
                report = {'flushed': notifier.flush(5),
                          'own_sender': notifier._sender is not parent,
                          'sent': [json.loads(r.getMessage())['event_type']
                                   for r in self.sent.records]}
                os.write(writer, json.dumps(report).encode())
            finally:
                os._exit(0)
        os.close(writer)
        self.addCleanup(os.close, reader)
        ready, _, _ = select.select([reader], [], [], 20)
        if not ready:
            os.kill(pid, 9)
        os.waitpid(pid, 0)
        self.assertTrue(ready, 'the child did not report')
        report = json.loads(os.read(reader, 65536))
        # The parent's queue was not the child's to send.
        self.assertEqual({'flushed': True, 'own_sender': True,
                          'sent': ['in.parent', 'in.child']}, report)
        self.assertIs(parent, notifier._sender)
