"""A full pool aggregate lifecycle as the rest of a cloud sees it
(api-contract §16): after every step the same members in our API, in
XenServer's pool and in Placement, and the same events, in order, on
RabbitMQ."""

import uuid

from nova_aggregates import conf as na_conf
from nova_aggregates import notifications
from tests import base
from tests import fixtures as na_fixtures
from tests.functional import pool_fixtures
from tests.functional.placement import test_mirroring
from tests.support import placement
from tests.support import rabbitmq

V2_41 = {'OpenStack-API-Version': 'compute 2.41'}


class TestEcosystem(base.JSONRequestMixin, placement.PlacementTestCase):

    def setUp(self):
        super().setUp()
        url = rabbitmq.require_system_broker()
        test_mirroring.enable_admin_token_options(na_conf.CONF)
        notifications.register_opts(na_conf.CONF)
        topic = 'na-ecosystem-%s' % uuid.uuid4().hex
        conf = self.useFixture(na_fixtures.ConfFixture())
        overrides = test_mirroring.mirror_overrides(self.placement,
                                                    self.placement.url)
        overrides.update({
            (notifications.GROUP, 'driver'): ['messagingv2'],
            (notifications.GROUP, 'transport_url'): url,
            (notifications.GROUP, 'topics'): [topic]})
        for (group, name), value in overrides.items():
            conf.config(**{name: value, 'group': group})
        self.pool = self.useFixture(pool_fixtures.PoolAPIFixture(hosts=3))
        self.consumer = self.useFixture(
            rabbitmq.NotificationConsumer(url, topic))
        for name in self.pool.host_names:
            if self.placement.provider(name) is None:
                self.placement.create_provider(name)
            self.placement.set_aggregates_of(name, [])

    def request(self, *args, **kwargs):
        return self.pool.request(*args, **kwargs)

    def post(self, agg_id, body):
        return self.json_request(
            'POST', '/v2.1/os-aggregates/%d/action' % agg_id, body,
            headers=V2_41)['aggregate']

    def assert_everywhere(self, agg, members):
        """Our API, XenServer and Placement agree on ``members``."""
        shown = self.json_request('GET', '/v2.1/os-aggregates/%d' % agg['id'],
                                  headers=V2_41)['aggregate']
        self.assertEqual(sorted(members), sorted(shown['hosts']))
        self.assertEqual(set(members),
                         self.placement.providers_in(agg['uuid']))
        if members:
            master = shown['metadata']['master_compute']
            self.assertEqual(set(members),
                             set(self.pool.pool_of(master)['members']))
        self.assertFalse([k for k in shown['metadata']
                          if k.startswith('placement_mirror:')])

    def test_lifecycle(self):
        first, second = self.pool.host_names[:2]
        agg = self.json_request('POST', '/v2.1/os-aggregates', {
            'aggregate': {'name': 'eco-%s' % uuid.uuid4().hex[:6]}},
            headers=V2_41)['aggregate']
        self.post(agg['id'], {'set_metadata': {
            'metadata': {'hypervisor_pool': 'true'}}})
        self.post(agg['id'], {'add_host': {'host': first}})
        self.assert_everywhere(agg, [first])
        self.post(agg['id'], {'add_host': {'host': second}})
        self.assert_everywhere(agg, [first, second])
        self.post(agg['id'], {'remove_host': {'host': second}})
        self.assert_everywhere(agg, [first])
        self.post(agg['id'], {'remove_host': {'host': first}})
        self.assert_everywhere(agg, [])
        response = self.request('DELETE',
                                '/v2.1/os-aggregates/%d' % agg['id'])
        self.assertEqual(200, response.status_int, response.body)
        self.assertEqual(set(), self.placement.providers_in(agg['uuid']))
        actions = ['create', 'update_metadata', 'add_host', 'add_host',
                   'remove_host', 'remove_host', 'delete']
        events = ['aggregate.%s.%s' % (action, phase)
                  for action in actions for phase in ('start', 'end')]
        messages = self.consumer.wait_for(len(events), timeout=30)
        self.assertEqual(events, [m['event_type'] for m in messages])
        by_event = {}
        for message in messages:
            data = message['payload']['nova_object.data']
            self.assertEqual(agg['uuid'], data['uuid'])
            by_event.setdefault(message['event_type'], []).append(
                data['hosts'])
        self.assertEqual([[first], [first, second]],
                         [sorted(h) for h in by_event['aggregate.add_host.end']])
        self.assertEqual([[first], []],
                         by_event['aggregate.remove_host.end'])
