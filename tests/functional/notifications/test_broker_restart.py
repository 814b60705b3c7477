"""The failure rule against a broker that goes away (api-contract §16):
the real ``nova-aggregates-api`` (two gunicorn workers, each with the
notifier it made after the fork) sends to a private RabbitMQ node, which
is stopped while requests run and started again.  No request may fail or
wait for the broker, and the notifications of the outage are delivered
once it is back (the outage is well within the driver's retries)."""

import logging
import threading
import time

import fixtures

from nova_aggregates import notifications
from tests.functional.clients import server
from tests.support import rabbitmq
from tests.support import shared

#: A request's answer without the broker must be as quick as with it.
PROMPT = 2.0
#: Requests answered while the node was down, at least.
DURING_OUTAGE = 5


class TestBrokerRestart(shared.ClassFixturesTestCase):

    @classmethod
    def set_up_class(cls):
        cls.node = cls.use_class_fixture(rabbitmq.PrivateNode())

    def setUp(self):
        super().setUp()
        # The consumer's reconnection attempts: kept, shown on failure.
        self.useFixture(fixtures.FakeLogger('oslo.messaging',
                                            level=logging.INFO))
        self.consumer = self.useFixture(
            rabbitmq.NotificationConsumer(self.node.url))
        self.server = self.useFixture(server.APIServerFixture(
            driver='fake', sections={
                'api': {'workers': 2},
                notifications.GROUP: {'driver': 'messagingv2',
                                      'transport_url': self.node.url,
                                      'topics': self.consumer.topic}}))
        self.answers = []

    def set_metadata(self, agg_id, value):
        started = time.monotonic()
        response = self.server.request(
            'POST', '/v2.1/os-aggregates/%d/action' % agg_id,
            {'set_metadata': {'metadata': {'n': value}}}, timeout=30)
        self.answers.append((value, response.status,
                             time.monotonic() - started))

    def keep_requesting(self, agg_id, stop):
        number = 0
        while not stop.is_set():
            number += 1
            self.set_metadata(agg_id, str(number))
            time.sleep(0.05)

    def wait_for_answers(self, count, timeout=30):
        deadline = time.monotonic() + timeout
        while len(self.answers) < count:
            self.assertLess(time.monotonic(), deadline,
                            'requests stopped being answered')
            time.sleep(0.05)

    def test_requests_go_on_and_notifications_follow_the_restart(self):
        response = self.server.request('POST', '/v2.1/os-aggregates', {
            'aggregate': {'name': 'rack'}})
        self.assertEqual(200, response.status, response.body)
        agg_id = response.json()['aggregate']['id']
        self.assertEqual(['aggregate.create.start', 'aggregate.create.end'],
                         [m['event_type'] for m in
                          self.consumer.wait_for(2, timeout=30)])

        stop = threading.Event()
        requests = threading.Thread(target=self.keep_requesting,
                                    args=(agg_id, stop))
        requests.start()
        try:
            self.wait_for_answers(3)
            self.node.stop()
            before_outage = len(self.answers)
            self.wait_for_answers(before_outage + DURING_OUTAGE)
            self.node.start()
            self.wait_for_answers(len(self.answers) + 3)
        finally:
            stop.set()
            requests.join(60)
        self.set_metadata(agg_id, 'after-restart')

        slow = [a for a in self.answers if a[1] != 200 or a[2] > PROMPT]
        self.assertEqual([], slow, 'requests failed or waited')
        # Every change was announced, the outage's too: each request's end
        # (its value in the metadata) and, before it, its start.
        values = {value for value, _, _ in self.answers}
        messages = self.consumer.wait_until(
            lambda messages: values <= self.ended(messages), timeout=120,
            what='the notifications of every request')
        self.assertEqual(
            {'aggregate.create.start': 1, 'aggregate.create.end': 1,
             'aggregate.update_metadata.start': len(self.answers),
             'aggregate.update_metadata.end': len(self.answers)},
            self.counts(messages))

    @staticmethod
    def ended(messages):
        return {m['payload']['nova_object.data']['metadata']['n']
                for m in messages
                if m['event_type'] == 'aggregate.update_metadata.end'}

    @staticmethod
    def counts(messages):
        counts = {}
        for message in messages:
            counts[message['event_type']] = counts.get(
                message['event_type'], 0) + 1
        return counts
