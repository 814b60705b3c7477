"""The in-process API (paste pipeline, fake driver) sending its
notifications through the machine's RabbitMQ (tests/support/rabbitmq.py)
to a consumer on a topic of its own."""

import datetime
import re
import socket
import uuid

from nova_aggregates import conf as na_conf
from nova_aggregates import notifications
from tests import base
from tests.support import rabbitmq

GROUP = notifications.GROUP
PUBLISHER = 'nova-aggregates-api:%s' % socket.gethostname()
#: The microversion whose aggregates show their uuid.
V2_41 = {'OpenStack-API-Version': 'compute 2.41'}
MARKER = 'test.marker'
_UUID = re.compile(
    r'^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$')


class BrokerTestCase(base.APITestCase):

    def setUp(self):
        url = rabbitmq.require_system_broker()
        # Overridden before the application (and its notifier) loads.
        notifications.register_opts(na_conf.CONF)
        topic = 'na-test-%s' % uuid.uuid4().hex
        self.config_overrides = dict(self.config_overrides)
        self.config_overrides.update({(GROUP, 'driver'): ['messagingv2'],
                                      (GROUP, 'transport_url'): url,
                                      (GROUP, 'topics'): [topic]})
        super().setUp()
        self.consumer = self.useFixture(
            rabbitmq.NotificationConsumer(url, topic))
        self.notifier = self.api.services.notifier
        self.assertTrue(self.notifier.enabled)
        self._seen = 0

    def drain(self, timeout=30):
        """The notifications emitted since the last drain, in order.

        All of them: a marker of each priority, emitted after them, has
        arrived, and each priority's queue keeps its order."""
        marker = {'marker': uuid.uuid4().hex}
        self.notifier.info(None, MARKER, marker)
        self.notifier.error(None, MARKER, marker)
        messages = self.consumer.wait_until(
            lambda messages: [m['payload'] for m in messages].count(
                marker) == 2, timeout, 'markers')
        new = [m for m in messages[self._seen:] if m['event_type'] != MARKER]
        self._seen = len(messages)
        return new

    def view(self, agg_id):
        """The aggregate's fields of AggregatePayload, as the API shows
        them now."""
        agg = self.json_request('GET', '/v2.1/os-aggregates/%d' % agg_id,
                                headers=V2_41)['aggregate']
        return {key: agg[key] for key in ('id', 'uuid', 'name', 'hosts',
                                          'metadata')}

    def assert_message(self, message, event_type, data, name=None,
                       priority='INFO'):
        """``message`` is ``event_type`` from us with a versioned payload
        carrying exactly ``data`` (AggregatePayload 1.1 unless ``name``
        says which of ours)."""
        self.assertEqual(event_type, message['event_type'])
        self.assertEqual(priority, message['priority'], event_type)
        self.assertEqual(PUBLISHER, message['publisher_id'])
        self.assertRegex(message['message_id'], _UUID)
        # oslo.messaging's own format: UTC, str(datetime).
        datetime.datetime.fromisoformat(message['timestamp'])
        if name:
            expected = notifications.envelope(name, 'nova_aggregates', '1.0',
                                              data)
        else:
            expected = notifications.envelope('AggregatePayload', 'nova',
                                              '1.1', data)
        self.assertEqual(expected, message['payload'], event_type)

    def assert_aggregate_events(self, expected, messages):
        """``expected``: (event type, payload data) of each message."""
        self.assertEqual([event for event, _ in expected],
                         [m['event_type'] for m in messages])
        for (event, data), message in zip(expected, messages):
            self.assert_message(message, event, data)
