"""Aggregate notifications through the HTTP API and a real RabbitMQ: every
change of a plain and of a pool aggregate, in order, with every field of
Nova's AggregatePayload 1.1 as Nova fills it (api-contract §16)."""

from nova_aggregates import constants
from tests.functional.notifications import base

AZ = {'availability_zone': 'az1'}


class TestAggregateNotifications(base.BrokerTestCase):

    def setUp(self):
        super().setUp()
        for host in ('host1', 'host2', 'host3'):
            self.api.register_host(host, zone='az1')

    def create(self, name, **values):
        response = self.request(
            'POST', '/v2.1/os-aggregates',
            {'aggregate': dict(values, name=name)}, headers=base.V2_41)
        self.assertEqual(200, response.status_int, response.body)
        return response

    def test_lifecycle_of_a_plain_aggregate(self):
        created = self.create('rack', availability_zone='az1')
        agg = created.json['aggregate']
        agg_id, agg_uuid = agg['id'], agg['uuid']
        self.json_request('PUT', '/v2.1/os-aggregates/%d' % agg_id,
                          {'aggregate': {'name': 'rack-a'}})
        self.action(agg_id, 'set_metadata', {'metadata': {'disk': 'ssd'}})
        self.action(agg_id, 'add_host', {'host': 'host1'})
        self.action(agg_id, 'remove_host', {'host': 'host1'})
        self.json_request('DELETE', '/v2.1/os-aggregates/%d' % agg_id)

        def data(name='rack-a', hosts=(), **metadata):
            return {'id': agg_id, 'uuid': agg_uuid, 'name': name,
                    'hosts': list(hosts), 'metadata': dict(AZ, **metadata)}
        messages = self.drain()
        self.assert_aggregate_events([
            # Before the database has it: no id, no hosts (as Nova).
            ('aggregate.create.start', {'id': None, 'uuid': agg_uuid,
                                        'name': 'rack', 'hosts': None,
                                        'metadata': AZ}),
            ('aggregate.create.end', data('rack')),
            # Nova's start carries the change already (the new name).
            ('aggregate.update_prop.start', data()),
            ('aggregate.update_prop.end', data()),
            # ... and update_metadata's start the metadata before it.
            ('aggregate.update_metadata.start', data()),
            ('aggregate.update_metadata.end', data(disk='ssd')),
            ('aggregate.add_host.start', data(disk='ssd')),
            ('aggregate.add_host.end', data(hosts=['host1'], disk='ssd')),
            ('aggregate.remove_host.start', data(hosts=['host1'],
                                                 disk='ssd')),
            ('aggregate.remove_host.end', data(disk='ssd')),
            ('aggregate.delete.start', data(disk='ssd')),
            ('aggregate.delete.end', data(disk='ssd')),
        ], messages)
        # The request's context travels with them, without a token.
        context = self.consumer.context_of(messages[0])
        self.assertEqual(created.headers['x-openstack-request-id'],
                         context['request_id'])
        self.assertEqual(('admin', 'admin', None),
                         (context['user'], context['project_id'],
                          context['auth_token']))

    def test_pool_aggregate_membership(self):
        agg_id = self.create('pool').json['aggregate']['id']
        self.action(agg_id, 'set_metadata',
                    {'metadata': {constants.POOL_FLAG: 'true'}})
        self.drain()
        expected = []
        for action, host in (('add_host', 'host1'), ('add_host', 'host2'),
                             ('remove_host', 'host2'),
                             ('remove_host', 'host1')):
            before = self.view(agg_id)
            self.action(agg_id, action, {'host': host})
            expected += [('aggregate.%s.start' % action, before),
                         ('aggregate.%s.end' % action, self.view(agg_id))]
        self.assert_aggregate_events(expected, self.drain())
        # The pool's bookkeeping is in them as the API shows it.
        first_join = expected[1][1]
        self.assertEqual(['host1'], first_join['hosts'])
        self.assertEqual('host1', first_join['metadata'][constants.MASTER])
        self.assertEqual('active',
                         first_join['metadata'][constants.STATE_KEY])
        self.assertEqual([], expected[-1][1]['hosts'])

    def test_refused_requests_send_nothing(self):
        agg_id = self.create('rack').json['aggregate']['id']
        self.drain()
        # Refused before anything was found to change (as Nova).
        self.assertFault(self.request(
            'POST', '/v2.1/os-aggregates/%d/action' % agg_id,
            {'add_host': {'host': 'no-such-host'}}), 404, 'itemNotFound')
        self.assertFault(self.request(
            'DELETE', '/v2.1/os-aggregates/999'), 404, 'itemNotFound')
        self.assertFault(self.request(
            'PUT', '/v2.1/os-aggregates/999', {'aggregate': {'name': 'x'}}),
            404, 'itemNotFound')
        self.action(agg_id, 'add_host', {'host': 'host1'})
        self.assertEqual(['aggregate.add_host.start',
                          'aggregate.add_host.end'],
                         [m['event_type'] for m in self.drain()])
