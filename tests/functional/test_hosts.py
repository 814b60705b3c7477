"""The host inventory (doc/api-ref.md, "Host inventory"): ``os-hosts`` in
the 2012 shape with each host's status and maintenance mode, and
``os-services`` in the modern one.  A host's zone is the zone of its
aggregates when one carries it, else its registered default."""

import re

from tests import base

SERVICE_FIELDS = {'id', 'binary', 'host', 'zone', 'status', 'state',
                  'updated_at', 'disabled_reason'}
TIMESTAMP = re.compile(r'^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}$')


class TestHosts(base.APITestCase):

    def setUp(self):
        super().setUp()
        self.api.register_host('host1', 'az-registered')
        self.api.register_host('host2')
        self.api.register_host('host3', 'az-other')

    def hosts(self, prefix='/v2.1', query=''):
        return self.json_request('GET', prefix + '/os-hosts' + query)

    def zones(self, prefix='/v2.1'):
        return {h['host_name']: h['zone']
                for h in self.hosts(prefix)['hosts']}

    def services(self, query='?binary=nova-compute'):
        return self.json_request('GET', '/v2.1/os-services' + query)

    def test_os_hosts_shape(self):
        in_service = {'status': 'enabled',
                      'maintenance_mode': 'off_maintenance'}
        for prefix in ('/v2.1', '/v2.1/admin', '/v1.1/admin', '/v2/admin'):
            self.assertEqual({'hosts': [
                dict(in_service, host_name='host1', service='compute',
                     zone='az-registered'),
                dict(in_service, host_name='host2', service='compute',
                     zone='nova'),
                dict(in_service, host_name='host3', service='compute',
                     zone='az-other'),
            ]}, self.hosts(prefix))

    def test_os_hosts_shows_status_and_maintenance(self):
        self.json_request('PUT', '/v2.1/os-hosts/host2',
                          {'status': 'disable'})
        self.json_request('PUT', '/v2.1/os-hosts/host3',
                          {'maintenance_mode': 'enable'})
        for prefix in ('/v2.1', '/v1.1/admin'):
            self.assertEqual(
                [('host1', 'enabled', 'off_maintenance'),
                 ('host2', 'disabled', 'off_maintenance'),
                 ('host3', 'disabled', 'on_maintenance')],
                [(h['host_name'], h['status'], h['maintenance_mode'])
                 for h in self.hosts(prefix)['hosts']])

    def test_os_hosts_in_xml(self):
        self.json_request('PUT', '/v2.1/os-hosts/host2',
                          {'maintenance_mode': 'enable'})
        response = self.request('GET', '/v1.1/admin/os-hosts.xml')
        self.assertEqual('application/xml', response.content_type)
        self.assertEqual(
            b"<?xml version='1.0' encoding='UTF-8'?>\n<hosts>"
            b'<host><host_name>host1</host_name><service>compute</service>'
            b'<zone>az-registered</zone><status>enabled</status>'
            b'<maintenance_mode>off_maintenance</maintenance_mode></host>'
            b'<host><host_name>host2</host_name><service>compute</service>'
            b'<zone>nova</zone><status>disabled</status>'
            b'<maintenance_mode>on_maintenance</maintenance_mode></host>'
            b'<host><host_name>host3</host_name><service>compute</service>'
            b'<zone>az-other</zone><status>enabled</status>'
            b'<maintenance_mode>off_maintenance</maintenance_mode></host>'
            b'</hosts>', response.body)

    def test_default_zone_is_configurable(self):
        self.conf_fixture.config(default_availability_zone='elsewhere',
                                 group='api')
        self.assertEqual('elsewhere', self.zones()['host2'])

    def test_zone_follows_the_aggregates(self):
        agg = self.create_aggregate('agg1', 'az1')
        self.action(agg['id'], 'add_host', {'host': 'host1'})
        self.action(agg['id'], 'add_host', {'host': 'host2'})
        self.assertEqual({'host1': 'az1', 'host2': 'az1',
                          'host3': 'az-other'}, self.zones())
        self.json_request('PUT', '/v2.1/os-aggregates/%s' % agg['id'],
                          {'aggregate': {'availability_zone': 'az9'}})
        self.assertEqual({'host1': 'az9', 'host2': 'az9',
                          'host3': 'az-other'},
                         self.zones('/v1.1/admin'))
        self.action(agg['id'], 'remove_host', {'host': 'host1'})
        self.assertEqual({'host1': 'az-registered', 'host2': 'az9',
                          'host3': 'az-other'}, self.zones())

    def test_aggregate_without_zone_keeps_the_default(self):
        agg = self.create_aggregate('agg1')
        self.action(agg['id'], 'add_host', {'host': 'host1'})
        self.action(agg['id'], 'add_host', {'host': 'host2'})
        self.assertEqual({'host1': 'az-registered', 'host2': 'nova',
                          'host3': 'az-other'}, self.zones())
        self.action(agg['id'], 'set_metadata',
                    {'metadata': {'availability_zone': 'az5'}})
        self.assertEqual('az5', self.zones()['host1'])

    def test_zone_of_a_host_in_aggregates_with_and_without_zone(self):
        plain = self.create_aggregate('plain')
        zoned = self.create_aggregate('zoned', 'az1')
        for agg in (plain, zoned):
            self.action(agg['id'], 'add_host', {'host': 'host3'})
        self.assertEqual('az1', self.zones()['host3'])
        self.assertEqual('az1', self.services()['services'][2]['zone'])

    def test_zone_filter(self):
        agg = self.create_aggregate('agg1', 'az1')
        self.action(agg['id'], 'add_host', {'host': 'host3'})
        self.assertEqual(['host3'], [h['host_name'] for h in self.hosts(
            query='?zone=az1')['hosts']])
        self.assertEqual(['host2'], [h['host_name'] for h in self.hosts(
            query='?zone=nova')['hosts']])
        self.assertEqual([], self.hosts(query='?zone=az-other')['hosts'])

    def test_os_services_shape(self):
        services = self.services()['services']
        self.assertEqual(['host1', 'host2', 'host3'],
                         [s['host'] for s in services])
        for service in services:
            self.assertEqual(SERVICE_FIELDS, set(service))
            self.assertEqual(('nova-compute', 'enabled', 'up', None),
                             (service['binary'], service['status'],
                              service['state'], service['disabled_reason']))
            self.assertIsInstance(service['id'], int)
            self.assertRegex(service['updated_at'], TIMESTAMP)
        self.assertEqual(['az-registered', 'nova', 'az-other'],
                         [s['zone'] for s in services])
        self.assertEqual(3, len({s['id'] for s in services}))

    def test_os_services_zone_follows_the_aggregates(self):
        agg = self.create_aggregate('agg1', 'az1')
        self.action(agg['id'], 'add_host', {'host': 'host2'})
        self.assertEqual(['az-registered', 'az1', 'az-other'],
                         [s['zone'] for s in self.services()['services']])

    def test_os_services_filters(self):
        self.assertEqual(3, len(self.services('')['services']))
        self.assertEqual({'services': []},
                         self.services('?binary=nova-scheduler'))
        self.assertEqual(['host2'], [s['host'] for s in self.services(
            '?binary=nova-compute&host=host2')['services']])
        self.assertEqual({'services': []}, self.services('?host=nohost'))

    def test_service_ids_are_stable(self):
        first = {s['host']: s['id'] for s in self.services()['services']}
        agg = self.create_aggregate('agg1', 'az1')
        self.action(agg['id'], 'add_host', {'host': 'host2'})
        again = {s['host']: s['id'] for s in self.services()['services']}
        self.assertEqual(first, again)

    def test_only_registered_hosts_may_join(self):
        agg = self.create_aggregate('agg1')
        self.assertFault(self.request(
            'POST', '/v2.1/os-aggregates/%s/action' % agg['id'],
            {'add_host': {'host': 'host4'}}), 404, 'itemNotFound',
            'Compute host host4 could not be found.')
        self.api.register_host('host4')
        body = self.action(agg['id'], 'add_host', {'host': 'host4'})
        self.assertEqual(['host4'], body['aggregate']['hosts'])
        self.assertIn('host4', self.zones())

    def test_empty_inventory(self):
        for name in ('host1', 'host2', 'host3'):
            self.api.services.compute_hosts.unregister(self.context, name)
        self.assertEqual({'hosts': []}, self.hosts())
        self.assertEqual({'services': []}, self.services())
