"""Host matching (api-contract section 15, doc/api-ref.md "Host
matching"): ``POST os-host-matching`` through the whole paste pipeline,
both surfaces, JSON and XML; each of Nova's filters through the API (the
rules case by case are tests/unit/aggregates/test_scheduler_filters.py);
a randomized comparison with an independent evaluation
(tests/support/host_matching_oracle.py) over hundreds of aggregate
layouts; a constant number of SQL statements; the nova_api store.  And the
server-side filters of ``GET os-aggregates``."""

import json
import os
import random
import re
import shlex
from unittest import mock
from xml.etree import ElementTree

import fixtures
from oslo_config import cfg

from nova_aggregates import conf as na_conf
from nova_aggregates import context as na_context
from nova_aggregates.db import api as db_api
from nova_aggregates import exception
from nova_aggregates import service
from tests import base
from tests.functional.db import test_nova_api_store
from tests import fixtures as na_fixtures
from tests.support import host_matching_oracle as oracle

NAMESPACE = 'http://docs.openstack.org/compute/ext/host-matching/api/v2.1'
DOC = os.path.join(na_fixtures.REPO, 'doc', 'host-matching.md')
AGGREGATE_FILTERS = [
    'AggregateInstanceExtraSpecsFilter', 'AggregateImagePropertiesIsolation',
    'AggregateMultiTenancyIsolation', 'AggregateTypeAffinityFilter',
    'AggregateNumInstancesFilter']
SCOPED = 'aggregate_instance_extra_specs:'


class MatchingTestCase(base.APITestCase):
    """Hosts host1..host4 (host4 registered in az9); the aggregate filters
    enabled after Nova's ComputeFilter."""

    ENABLED = ['ComputeFilter'] + AGGREGATE_FILTERS

    def setUp(self):
        super().setUp()
        self.conf_fixture.config(enabled_filters=self.ENABLED,
                                 group='filter_scheduler')
        for name in ('host1', 'host2', 'host3'):
            self.api.register_host(name)
        self.api.register_host('host4', 'az9')

    def aggregate(self, name, hosts=(), zone=None, **metadata):
        agg = self.manager.create_aggregate(self.context, name, zone)
        if metadata:
            self.manager.set_metadata(self.context, agg['id'], metadata)
        for host in hosts:
            self.manager.add_host(self.context, agg['id'], host)
        return agg['id']

    def match(self, request=None, prefix='/v2.1', expected=200, **kwargs):
        return self.json_request('POST', prefix + '/os-host-matching',
                                 {'request': request or {}},
                                 expected=expected, **kwargs)

    def outcome(self, request=None, **kwargs):
        """{host: None if it matched, else the filter that refused it}."""
        body = self.match(request, **kwargs)
        result = {h['host']: None for h in body['hosts']}
        result.update({r['host']: r['filter'] for r in body['rejected']})
        return result

    def reasons(self, request=None):
        return {r['host']: r['reason']
                for r in self.match(request)['rejected']}


class TestExtension(MatchingTestCase):

    def test_listed_in_json_on_both_surfaces(self):
        for prefix in ('/v2.1', '/v2.1/admin', '/v1.1/admin', '/v2/admin'):
            listed = {ext['alias']: ext for ext in self.json_request(
                'GET', prefix + '/extensions')['extensions']}
            expected = {
                'name': 'HostMatching', 'alias': 'os-host-matching',
                'namespace': NAMESPACE,
                'updated': '2026-12-01T00:00:00+00:00',
                'description': 'Which hosts an instance could land on, by '
                               'Nova\'s aggregate rules', 'links': []}
            self.assertEqual(expected, listed['os-host-matching'])
            shown = self.json_request(
                'GET', prefix + '/extensions/os-host-matching')
            self.assertEqual({'extension': expected}, shown)

    def test_listed_in_xml(self):
        common = '{http://docs.openstack.org/common/api/v1.0}'
        for path in ('/v1.1/admin/extensions.xml',
                     '/v2/admin/extensions.xml'):
            root = ElementTree.fromstring(self.request('GET', path).body)
            node, = [e for e in root if e.get('alias') == 'os-host-matching']
            self.assertEqual(('HostMatching', NAMESPACE),
                             (node.get('name'), node.get('namespace')))
            self.assertTrue(node.findtext(common + 'description'))
        root = ElementTree.fromstring(self.request(
            'GET', '/v1.1/admin/extensions/os-host-matching.xml').body)
        self.assertEqual('os-host-matching', root.get('alias'))


class TestAnswer(MatchingTestCase):

    def test_every_host_in_exactly_one_list_sorted_by_name(self):
        gpu = self.aggregate('gpu', ['host3', 'host1'], gpu='true')
        self.aggregate('zone1', ['host1'], zone='az1')
        body = self.match({'flavor': {'name': 'm1', 'extra_specs': {
            'gpu': 'true'}}})
        self.assertEqual({'hosts', 'rejected'}, set(body))
        self.assertEqual([
            {'host': 'host1', 'zone': 'az1', 'aggregates': [gpu, gpu + 1]},
            {'host': 'host3', 'zone': 'nova', 'aggregates': [gpu]},
        ], body['hosts'])
        self.assertEqual(['host2', 'host4'],
                         [r['host'] for r in body['rejected']])
        for rejection in body['rejected']:
            self.assertEqual({'host', 'filter', 'reason'}, set(rejection))
            self.assertEqual('AggregateInstanceExtraSpecsFilter',
                             rejection['filter'])
        self.assertEqual(
            'the flavor asks gpu=true; the host is in no aggregate, so none '
            'has metadata key gpu', body['rejected'][0]['reason'])

    def test_every_part_is_optional(self):
        self.aggregate('gpu', ['host1'], gpu='true',
                       instance_type='m1.large',
                       filter_tenant_id='someone-else')
        for request in ({}, {'flavor': {}}, {'flavor': {'extra_specs': {}}},
                        {'image': {}}, {'image': {'properties': {}}}):
            self.assertEqual(
                {'host1': 'AggregateMultiTenancyIsolation', 'host2': None,
                 'host3': None, 'host4': None}, self.outcome(request))

    def test_no_host(self):
        for name in ('host1', 'host2', 'host3', 'host4'):
            self.api.services.compute_hosts.unregister(self.context, name)
        self.assertEqual({'hosts': [], 'rejected': []}, self.match())

    def test_reasons_name_aggregate_id_and_name(self):
        gpu = self.aggregate('gpu', ['host1'], **{'hw:gpu': 'true'})
        self.assertEqual(
            'aggregate %d (gpu) has hw:gpu=true; the flavor asks hw:gpu=false '
            '(its extra spec aggregate_instance_extra_specs:hw:gpu)' % gpu,
            self.reasons({'flavor': {'extra_specs': {
                SCOPED + 'hw:gpu': 'false'}}})['host1'])

    def test_policy_is_admin_only(self):
        self.assertFault(
            self.request('POST', '/v2.1/os-host-matching', {'request': {}},
                         token='bob:bob'), 403, 'forbidden',
            "Policy doesn't allow os_compute_api:os-host-matching:create to "
            "be performed.")

    def test_other_methods(self):
        for method in ('GET', 'PUT', 'DELETE'):
            response = self.request(method, '/v2.1/os-host-matching')
            self.assertFault(response, 405, 'badMethod')
            self.assertEqual('POST', response.headers['Allow'])


class TestFilters(MatchingTestCase):
    """Each filter once through the API."""

    def test_extra_specs(self):
        self.aggregate('big', ['host1'], ram='8192', disk='ssd, nvme')
        self.aggregate('small', ['host2'], ram='1024', disk='hdd')
        self.aggregate('plain', ['host3'], other='x')
        outcome = self.outcome({'flavor': {'extra_specs': {
            'ram': '>= 4096', SCOPED + 'disk': '<in> nvme',
            'hw:cpu_policy': 'dedicated'}}})
        self.assertEqual({'host1': None,
                          'host2': 'AggregateInstanceExtraSpecsFilter',
                          'host3': 'AggregateInstanceExtraSpecsFilter',
                          'host4': 'AggregateInstanceExtraSpecsFilter'},
                         outcome)

    def test_extra_spec_values_may_be_numbers(self):
        self.aggregate('big', ['host1'], ram='4096', cores='4.5')
        self.assertIsNone(self.outcome({'flavor': {'extra_specs': {
            'ram': 4096, 'cores': 4.5}}})['host1'])

    def test_image_properties_isolation(self):
        self.aggregate('linux', ['host1'], os_distro='ubuntu,centos')
        request = {'image': {'properties': {'os_distro': 'windows'}}}
        self.assertEqual('AggregateImagePropertiesIsolation',
                         self.outcome(request)['host1'])
        self.assertIsNone(self.outcome(
            {'image': {'properties': {'os_distro': 'centos'}}})['host1'])
        self.assertIsNone(self.outcome({'image': {}})['host1'])
        self.conf_fixture.config(
            aggregate_image_properties_isolation_namespace='os',
            aggregate_image_properties_isolation_separator='.',
            group='filter_scheduler')
        self.assertIsNone(self.outcome(request)['host1'])

    def test_a_bad_integer_image_property(self):
        self.assertFault(self.request('POST', '/v2.1/os-host-matching', {
            'request': {'image': {'properties': {'hw_cpu_cores': 'four'}}}}),
            400, 'badRequest', "Image property hw_cpu_cores = 'four' is not "
            'valid: it must be an integer.')

    def test_multi_tenancy(self):
        self.aggregate('tenant', ['host1'], filter_tenant_id='p1',
                       filter_tenant_id_2='p2')
        self.assertIsNone(self.outcome({'project_id': 'p2'})['host1'])
        self.assertEqual('AggregateMultiTenancyIsolation',
                         self.outcome({'project_id': 'p3'})['host1'])

    def test_the_project_defaults_to_the_callers(self):
        self.aggregate('tenant', ['host1'], filter_tenant_id='admin')
        self.assertIsNone(self.outcome()['host1'])
        self.write_policy('"os_compute_api:os-host-matching:create": "@"\n')
        body = self.match(token='bob:p1')
        self.assertEqual(['host1'], [r['host'] for r in body['rejected']])
        self.assertIn('the request is for project p1',
                      body['rejected'][0]['reason'])

    def write_policy(self, text):
        import os

        import fixtures

        from nova_aggregates import policy
        path = os.path.join(self.useFixture(fixtures.TempDir()).path,
                            'policy.yaml')
        with open(path, 'w') as f:
            f.write(text)
        policy.get_enforcer()
        self.conf_fixture.config(policy_file=path, group='oslo_policy')
        policy.reset()

    def test_type_affinity(self):
        self.aggregate('large', ['host1'], instance_type='m1.large, m1.xl')
        self.assertIsNone(self.outcome(
            {'flavor': {'name': 'm1.xl'}})['host1'])
        self.assertEqual('AggregateTypeAffinityFilter', self.outcome(
            {'flavor': {'name': 'm1.small'}})['host1'])

    def test_num_instances_counts_guests_on_the_hypervisor(self):
        driver = self.manager.driver
        self.aggregate('dense', ['host1', 'host2'], max_instances_per_host='2')
        self.aggregate('denser', ['host2'], max_instances_per_host='1')
        driver.add_guest('host1', 'a', 512)
        driver.add_guest('host2', 'b', 512)
        self.conf_fixture.config(max_instances_per_host=1,
                                 group='filter_scheduler')
        driver.add_guest('host3', 'c', 512)
        stopped = driver.add_guest('host1', 'halted', 512)
        driver.set_power_state(stopped, 'Halted')
        self.assertEqual({'host1': None,
                          'host2': 'AggregateNumInstancesFilter',
                          'host3': 'AggregateNumInstancesFilter',
                          'host4': None}, self.outcome())
        self.assertEqual(
            'the host runs 1 guest and aggregate %d (denser) has '
            'max_instances_per_host=1' % (self.manager.list_aggregates(
                self.context)[1]['id']), self.reasons()['host2'])

    def test_guests_are_counted_once_for_the_hosts_still_in_the_running(self):
        self.aggregate('pool', ['host1', 'host2'], hypervisor_pool='true')
        self.json_request('PUT', '/v2.1/os-hosts/host3',
                          {'status': 'disable'})
        driver = self.manager.driver
        with mock.patch.object(driver, 'guest_counts',
                               wraps=driver.guest_counts) as counts:
            self.match()
        (pools, alone), = [c.args for c in counts.call_args_list]
        self.assertEqual([('pool', ('host1', 'host2'), 'host1')], [
            (p.name, tuple(m.name for m in p.members), p.master)
            for p in pools])
        self.assertEqual(['host4'], [h.name for h in alone])
        self.conf_fixture.config(enabled_filters=['ComputeFilter'],
                                 group='filter_scheduler')
        with mock.patch.object(driver, 'guest_counts') as counts:
            self.match()
        counts.assert_not_called()

    def test_guests_that_cannot_be_counted(self):
        self.conf_fixture.config(enabled_filters=['NumInstancesFilter'],
                                 group='filter_scheduler')
        down = exception.HypervisorUnreachable(host='host1', reason='down')
        with mock.patch.object(self.manager.driver, 'guest_counts',
                               return_value={'host1': down, 'host2': 0,
                                             'host3': 0}):
            reasons = self.reasons()
        self.assertEqual({
            'host1': 'its guests could not be counted: Hypervisor of compute '
                     'host host1 cannot be reached: down',
            'host4': 'its guests could not be counted: the compute driver '
                     'did not report this host'}, reasons)

    def test_isolated_aggregates(self):
        self.aggregate('sgx', ['host1'],
                       **{'trait:HW_CPU_X86_SGX': 'required'})
        self.assertIsNone(self.outcome()['host1'])
        self.conf_fixture.config(enable_isolated_aggregate_filtering=True,
                                 group='scheduler')
        self.assertEqual('isolate_aggregates', self.outcome()['host1'])
        for request in ({'flavor': {'extra_specs': {
                'trait:HW_CPU_X86_SGX': 'required'}}},
                {'image': {'properties': {
                    'trait:HW_CPU_X86_SGX': 'required'}}}):
            self.assertIsNone(self.outcome(request)['host1'])

    def test_availability_zones(self):
        self.aggregate('zone1', ['host1'], zone='az1')
        self.aggregate('zone2', ['host2'], zone='az2, az3')
        self.assertEqual({'host1': None,
                          'host2': 'AvailabilityZoneFilter',
                          'host3': 'AvailabilityZoneFilter',
                          'host4': 'AvailabilityZoneFilter'},
                         self.outcome({'availability_zone': 'az1'}))
        self.assertIsNone(self.outcome({'availability_zone': 'az3'})['host2'])
        # The default zone: registered, else [api] default_availability_zone.
        self.assertEqual(['host3'], [h for h, f in self.outcome(
            {'availability_zone': 'nova'}).items() if f is None])
        self.assertEqual(['host4'], [h for h, f in self.outcome(
            {'availability_zone': 'az9'}).items() if f is None])
        self.conf_fixture.config(default_availability_zone='elsewhere',
                                 group='api')
        self.assertEqual(['host3'], [h for h, f in self.outcome(
            {'availability_zone': 'elsewhere'}).items() if f is None])

    def test_the_zone_of_a_host_is_the_one_os_hosts_shows(self):
        self.aggregate('zone1', ['host1'], zone='az1')
        zones = {h['host_name']: h['zone'] for h in self.json_request(
            'GET', '/v2.1/os-hosts')['hosts']}
        self.assertEqual(zones, {h['host']: h['zone']
                                 for h in self.match()['hosts']})

    def test_disabled_and_in_maintenance_hosts_are_refused(self):
        self.json_request('PUT', '/v2.1/os-hosts/host1',
                          {'status': 'disable'})
        self.json_request('PUT', '/v2.1/os-services/disable-log-reason', {
            'host': 'host2', 'binary': 'nova-compute',
            'disabled_reason': 'fan broken'})
        self.json_request('PUT', '/v2.1/os-hosts/host3',
                          {'maintenance_mode': 'enable'})
        self.assertEqual({
            'host1': 'the host is disabled',
            'host2': 'the host is disabled: fan broken',
            'host3': 'the host is in maintenance (os-hosts maintenance_mode '
                     'on_maintenance)'}, self.reasons())
        # Whatever enabled_filters says, as Nova's mandatory pre-filter.
        self.conf_fixture.config(enabled_filters=[],
                                 group='filter_scheduler')
        self.assertEqual({'ComputeFilter'},
                         set(self.outcome().values()) - {None})

    def test_the_first_filter_that_refuses_names_itself(self):
        self.aggregate('zone1', ['host1'], zone='az1', gpu='false')
        request = {'availability_zone': 'az2',
                   'flavor': {'extra_specs': {'gpu': 'true'}}}
        self.assertEqual('AvailabilityZoneFilter',
                         self.outcome(request)['host1'])
        self.json_request('PUT', '/v2.1/os-hosts/host1',
                          {'status': 'disable'})
        self.assertEqual('AvailabilityZoneFilter',
                         self.outcome(request)['host1'])
        request['availability_zone'] = 'az1'
        self.assertEqual('ComputeFilter', self.outcome(request)['host1'])


class TestNovaDefaults(MatchingTestCase):
    """Nova's default enabled_filters: of the aggregate rules only the
    zone applies."""

    def setUp(self):
        super().setUp()
        self.conf_fixture.conf.clear_override('enabled_filters',
                                              group='filter_scheduler')

    def test_aggregate_metadata_is_not_read(self):
        self.aggregate('gpu', ['host1'], zone='az1', gpu='true',
                       filter_tenant_id='p1', instance_type='m1.large',
                       max_instances_per_host='1',
                       **{'trait:HW_CPU_X86_SGX': 'required'})
        self.manager.driver.add_guest('host1', 'a', 512)
        self.assertEqual(
            {'host1': None, 'host2': 'AvailabilityZoneFilter',
             'host3': 'AvailabilityZoneFilter',
             'host4': 'AvailabilityZoneFilter'},
            self.outcome({'availability_zone': 'az1', 'project_id': 'p2',
                          'flavor': {'name': 'm1.small', 'extra_specs': {
                              'gpu': 'false'}}}))

    def test_an_unknown_filter_name_is_a_startup_error(self):
        self.conf_fixture.config(enabled_filters=['ComputeFilter',
                                                  'RamFilter'],
                                 group='filter_scheduler')
        exc = self.assertRaises(exception.SchedulerFilterNotFound,
                                service.Services, self.conf)
        self.assertIn('RamFilter', str(exc))


class TestLegacySurface(MatchingTestCase):

    def setUp(self):
        super().setUp()
        self.zone1 = self.aggregate('zone1', ['host1'], zone='az1',
                                    **{'hw:gpu': 'true'})

    def test_json(self):
        request = {'availability_zone': 'az1'}
        expected = self.match(request)
        for prefix in ('/v1.1/admin', '/v2/admin'):
            self.assertEqual(expected, self.match(request, prefix=prefix))
            self.assertEqual(expected, self.json_request(
                'POST', prefix + '/os-host-matching.json',
                {'request': request}))

    def test_xml(self):
        body = ('<request><flavor name="m1"><extra_specs>'
                '<meta key="aggregate_instance_extra_specs:hw:gpu">true</meta>'
                '</extra_specs></flavor><image><properties/></image>'
                '<availability_zone>az1</availability_zone></request>')
        for path, headers in (('/v1.1/admin/os-host-matching.xml', {}),
                              ('/v2/admin/os-host-matching',
                               {'Accept': 'application/xml'})):
            response = self.request('POST', path, body, headers=headers,
                                    content_type='application/xml')
            self.assertEqual(200, response.status_int, response.body)
            self.assertEqual('application/xml', response.content_type)
            root = ElementTree.fromstring(response.body)
            self.assertEqual('host_matching', root.tag)
            self.assertEqual(
                [('host1', 'az1', [str(self.zone1)])],
                [(h.findtext('host'), h.findtext('zone'),
                  [a.text for a in h.find('aggregates')])
                 for h in root.find('hosts')])
            self.assertEqual(
                [('host2', 'AvailabilityZoneFilter'),
                 ('host3', 'AvailabilityZoneFilter'),
                 ('host4', 'AvailabilityZoneFilter')],
                [(h.findtext('host'), h.findtext('filter'))
                 for h in root.find('rejected')])
            self.assertIn('default zone', root.find('rejected')[0].findtext(
                'reason'))

    def test_xml_empty_elements(self):
        for body in ('<request/>', '<request><flavor/><image/></request>',
                     '<request><flavor><extra_specs/></flavor></request>'):
            response = self.request('POST', '/v1.1/admin/os-host-matching',
                                    body, content_type='application/xml')
            self.assertEqual(200, response.status_int, (body, response.body))

    def test_xml_faults(self):
        self.assertXMLFault(self.request(
            'POST', '/v1.1/admin/os-host-matching.xml',
            '<request><zone>az1</zone></request>',
            content_type='application/xml'), 400, 'badRequest',
            'Additional properties are not allowed')

    def test_no_xml_on_v21(self):
        self.assertFault(self.request(
            'POST', '/v2.1/os-host-matching', '<request/>',
            content_type='application/xml'), 415, 'badMediaType')


class TestValidation(MatchingTestCase):

    CASES = [
        ({}, 'request body', "'request' is a required property"),
        ({'request': None}, 'request', 'is not of type'),
        ({'request': {}, 'other': 1}, 'request body',
         'Additional properties are not allowed'),
        ({'request': {'zone': 'az1'}}, 'request',
         "Additional properties are not allowed: 'zone'"),
        ({'request': {'flavor': {'name': ''}}}, 'request/flavor/name',
         'is shorter than'),
        ({'request': {'flavor': {'name': ' m1'}}}, 'request/flavor/name',
         'leading or trailing whitespace'),
        ({'request': {'flavor': {'name': 'x' * 256}}}, 'request/flavor/name',
         'is longer than'),
        ({'request': {'flavor': {'id': 1}}}, 'request/flavor',
         "Additional properties are not allowed: 'id'"),
        ({'request': {'flavor': {'extra_specs': []}}},
         'request/flavor/extra_specs', 'is not of type'),
        ({'request': {'flavor': {'extra_specs': {'a/b': 'x'}}}},
         'request/flavor/extra_specs', 'Additional properties'),
        ({'request': {'flavor': {'extra_specs': {'k': True}}}},
         'request/flavor/extra_specs/k', 'is not of type'),
        ({'request': {'flavor': {'extra_specs': {'k': 'x' * 256}}}},
         'request/flavor/extra_specs/k', 'is longer than'),
        ({'request': {'image': {'properties': {'k': 1}}}},
         'request/image/properties/k', 'is not of type'),
        ({'request': {'image': {'id': 'x'}}}, 'request/image',
         'Additional properties'),
        ({'request': {'project_id': ''}}, 'request/project_id',
         'is shorter than'),
        ({'request': {'availability_zone': 'az1:host1'}},
         'request/availability_zone', 'contains ":"'),
        ({'request': {'availability_zone': None}},
         'request/availability_zone', 'is not of type'),
    ]

    def test_bad_input_is_a_400_naming_the_field(self):
        for body, field, reason in self.CASES:
            for prefix in ('/v2.1', '/v1.1/admin'):
                message = self.assertFault(self.request(
                    'POST', prefix + '/os-host-matching', body), 400,
                    'badRequest')
                self.assertIn('Invalid input for field/attribute %s.' % field,
                              message, body)
                self.assertIn(reason, message, body)

    def test_malformed_bodies(self):
        self.assertFault(self.request('POST', '/v2.1/os-host-matching', '{'),
                         400, 'badRequest', 'Malformed request body')
        self.assertFault(self.request('POST', '/v2.1/os-host-matching'),
                         400, 'badRequest', 'The request body is empty.')


class TestStatements(MatchingTestCase):
    """A constant number of statements whatever the number of hosts,
    aggregates and keys: the aggregates' version, the hosts and the
    aggregates (three); the version and the hosts (two) while no aggregate
    has changed since the process last read them."""

    ENABLED = ['ComputeFilter'] + AGGREGATE_FILTERS + ['NumInstancesFilter']
    REQUEST = {'availability_zone': 'az1', 'project_id': 'p1',
               'flavor': {'name': 'm1', 'extra_specs': {'k1': 'v'}},
               'image': {'properties': {'os_distro': 'ubuntu'}}}

    def count(self):
        with self.api.db.count_statements() as counter:
            body = self.match(self.REQUEST)
        queries = [s for s in counter.statements
                   if s.split(None, 1)[0].upper() not in ('BEGIN', 'COMMIT',
                                                          'ROLLBACK')]
        return len(queries), body

    def test_constant(self):
        self.aggregate('a0', ['host1'], zone='az1', k1='v')
        small, _ = self.count()
        self.assertEqual(2, self.count()[0])
        for number in range(1, 20):
            name = 'host-%d' % number
            self.api.register_host(name, 'az1')
            self.aggregate('a%d' % number, [name, 'host1'], zone='az1',
                           **{'k%d' % key: 'v' for key in range(10)})
        self.assertEqual(3, small)
        large, body = self.count()
        self.assertEqual(small, large)
        self.assertEqual(2, self.count()[0])
        self.assertEqual(sorted(['host1'] + ['host-%d' % n
                                             for n in range(1, 20)]),
                         [h['host'] for h in body['hosts']])

    def test_hosts_are_read_every_time(self):
        # A host's status and maintenance have no version: a host
        # registered or disabled since the last match counts at once.
        self.aggregate('a0', ['host1'], zone='az1', k1='v')
        self.assertEqual(['host1'], [h['host']
                                     for h in self.count()[1]['hosts']])
        self.api.register_host('host9', 'az1')
        self.manager.add_host(self.context, 1, 'host9')
        self.assertEqual(['host1', 'host9'],
                         [h['host'] for h in self.count()[1]['hosts']])
        self.json_request('PUT', '/v2.1/os-hosts/host1',
                          {'status': 'disable'})
        count, body = self.count()
        self.assertEqual(2, count)
        self.assertEqual(['host9'], [h['host'] for h in body['hosts']])
        self.assertEqual('ComputeFilter', {
            r['host']: r['filter'] for r in body['rejected']}['host1'])


class TestKeptAggregates(MatchingTestCase):
    """The aggregates a process keeps between matches are never stale:
    every change to an aggregate shows in the next match, whoever made it
    (another process writes the same database: ``db.api`` here, around
    this process's manager)."""

    def outcomes(self):
        return self.outcome({'flavor': {'extra_specs': {'gpu': 'true'}}})

    def test_each_change_shows_in_the_next_match(self):
        gpu = self.aggregate('gpu', ['host1'], gpu='true')
        other = self.aggregate('other', ['host2'])
        refused = 'AggregateInstanceExtraSpecsFilter'
        self.assertEqual({'host1': None, 'host2': refused, 'host3': refused,
                          'host4': refused}, self.outcomes())
        # Metadata, through the manager and around it.
        self.manager.set_metadata(self.context, other, {'gpu': 'true'})
        self.assertIsNone(self.outcomes()['host2'])
        with db_api.writer.using(self.context):
            db_api.aggregate_metadata_update(self.context, gpu,
                                             {'gpu': 'false'})
        self.assertEqual(refused, self.outcomes()['host1'])
        # Members.
        self.manager.add_host(self.context, other, 'host3')
        self.assertIsNone(self.outcomes()['host3'])
        self.manager.add_host(self.context, gpu, 'host4')
        self.assertEqual(refused, self.outcomes()['host4'])
        self.manager.remove_host(self.context, other, 'host3')
        self.assertEqual(refused, self.outcomes()['host3'])
        # Zones, as the answer shows them.
        self.manager.update_aggregate(self.context, other,
                                      availability_zone='az7')
        body = self.match({'availability_zone': 'az7'})
        self.assertEqual([('host2', 'az7', [other])],
                         [(h['host'], h['zone'], h['aggregates'])
                          for h in body['hosts']])
        # Deletion: its hosts are in no aggregate any more.
        for host in ('host1', 'host4'):
            self.manager.remove_host(self.context, gpu, host)
        self.manager.delete_aggregate(self.context, gpu)
        body = self.match()
        self.assertEqual({'host1': [], 'host2': [other], 'host3': [],
                          'host4': []},
                         {h['host']: h['aggregates'] for h in body['hosts']})


class TestNovaAPIStore(base.TestCase):
    """The same answers from Nova's aggregate tables."""

    def setUp(self):
        super().setUp()
        self.conf_fixture.config(enabled_filters=AGGREGATE_FILTERS,
                                 group='filter_scheduler')
        self.context = na_context.get_admin_context()

    def layout_and_match(self):
        services = service.get_services()
        for name in ('host1', 'host2', 'host3'):
            services.compute_hosts.register(self.context, name)
        manager = services.aggregates
        agg = manager.create_aggregate(self.context, 'gpu', 'az1')
        manager.set_metadata(self.context, agg['id'], {'gpu': 'true'})
        manager.add_host(self.context, agg['id'], 'host1')
        other = manager.create_aggregate(self.context, 'other')
        manager.add_host(self.context, other['id'], 'host2')
        with self.db.count_statements() as counter:
            result = services.host_matching.match(
                self.context, flavor={'extra_specs': {'gpu': 'true'}},
                availability_zone='az1')
        return result, counter

    def test_both_stores_answer_alike(self):
        own, own_count = self.layout_and_match()
        db = self.useFixture(test_nova_api_store.NovaAPIDatabaseFixture(
            self.conf_fixture))
        self.db = db
        nova, nova_count = self.layout_and_match()
        self.assertEqual(own, nova)
        self.assertEqual(['host1'], [m.host for m in nova.hosts])
        self.assertEqual([('host2', 'AvailabilityZoneFilter'),
                          ('host3', 'AvailabilityZoneFilter')],
                         [(r.host, r.filter) for r in nova.rejected])
        # Nova changes its tables without our version: the nova_api store
        # reads the aggregates every time, without reading a version.
        self.assertEqual(own_count.count - 1, nova_count.count)


class TestRandomizedAgainstOracle(MatchingTestCase):
    """Hundreds of generated layouts and requests, seeded: the API's answer
    is exactly the independent evaluation's (hosts with zone and
    aggregates, and for each refused host the filter that refused it)."""

    SEED = 20250115
    LAYOUTS = 300
    REQUESTS_PER_LAYOUT = 2
    HOSTS = ('h0', 'h1', 'h2', 'h3', 'h4', 'h5')
    METADATA = {
        'availability_zone': ['az1', 'az2', 'az3', 'az1, az2'],
        'gpu': ['true', 'false', 'true,false', ' true '],
        'ram': ['1024', '2048', '4096', 'lots', '8192, 512'],
        'cpu': ['avx2,sse4', 'avx avx2', 'sse4'],
        'hw:gpu': ['true', 'false'],
        'os_distro': ['ubuntu', 'centos', 'ubuntu, centos', 'windows'],
        'hw_qemu_guest_agent': ['true', 'True'],
        'hw_cpu_cores': ['4', '8'],
        'hw_architecture': ['x86_64', 'aarch64'],
        'architecture': ['x86_64'],
        'filter_tenant_id': ['p1', 'p2', 'p1, p2'],
        'filter_tenant_id_x': ['p2', 'admin'],
        'instance_type': ['m1.small', 'm1.small, m1.large', 'm1.large'],
        'max_instances_per_host': ['1', '2', '3', 'abc', ' 2 '],
        'trait:HW_SGX': ['required', 'Required'],
        'trait:HW_AVX': ['required'],
        'GPU': ['true'],
    }
    EXTRA_SPECS = {
        'gpu': ['true', 'false', 's== true'],
        SCOPED + 'hw:gpu': ['true', '<or> false <or> true'],
        SCOPED + 'gpu': ['<in> ru'],
        'ram': ['>= 2048', '= 4096', '== 2048', '<= 1024', 's>= 4096',
                '2048', '!= 512'],
        'cpu': ['<in> avx2', '<all-in> avx avx2', '<or> sse4 <or> avx2',
                's== sse4', 's< b', 's> b'],
        'hw:cpu_policy': ['dedicated'],
        'trait:HW_SGX': ['required', 'forbidden'],
        'trait1:HW_AVX': ['required'],
        'missing': ['x'],
    }
    IMAGE = {
        'os_distro': ['ubuntu', 'centos', 'windows'],
        'hw_qemu_guest_agent': ['yes', 'no', 'true'],
        'hw_cpu_cores': ['4', ' 8', '0'],
        'architecture': ['x86_64', 'aarch64'],
        'trait:HW_AVX': ['required'],
    }
    FILTER_NAMES = AGGREGATE_FILTERS + [
        'NumInstancesFilter', 'ComputeFilter', 'AvailabilityZoneFilter',
        'AllHostsFilter', 'ImagePropertiesFilter', 'NUMATopologyFilter']

    def setUp(self):
        super().setUp()
        for name in ('host1', 'host2', 'host3', 'host4'):
            self.api.services.compute_hosts.unregister(self.context, name)
        for name in self.HOSTS:
            self.api.register_host(name)
        self.random = random.Random(self.SEED)
        self.guests = []

    def pick(self, table, most):
        keys = self.random.sample(sorted(table), self.random.randint(0, most))
        return {key: self.random.choice(table[key]) for key in keys}

    def layout(self):
        """A new random layout, written to the database; its description
        for the oracle."""
        ctx = self.context
        driver = self.manager.driver
        for uuid in self.guests:
            driver.remove_guest(uuid)
        self.guests = []
        hosts = []
        with db_api.writer.using(ctx):
            for agg in db_api.aggregate_get_all(ctx):
                db_api.aggregate_delete(ctx, agg['id'])
            for name in self.HOSTS:
                status = self.random.choice(['enabled'] * 8 + ['disabled'])
                maintenance = 'on_maintenance' if self.random.random() < 0.1 \
                    else 'off_maintenance'
                zone = self.random.choice([None, None, 'az1', 'az9'])
                db_api.compute_host_update(ctx, name, zone=zone,
                                           status=status,
                                           maintenance=maintenance)
                guests = self.random.randint(0, 3)
                hosts.append({'name': name, 'zone': zone, 'status': status,
                              'maintenance': maintenance, 'guests': guests})
            aggregates = []
            for number in range(self.random.randint(0, 5)):
                metadata = self.pick(self.METADATA, 5)
                agg = db_api.aggregate_create(ctx, 'agg%d' % number, metadata)
                members = self.random.sample(self.HOSTS,
                                             self.random.randint(0, 4))
                for name in members:
                    db_api.aggregate_host_add(ctx, agg['id'], name)
                aggregates.append({'id': agg['id'], 'name': agg['name'],
                                   'hosts': members, 'metadata': metadata})
        for host in hosts:
            for number in range(host['guests']):
                self.guests.append(driver.add_guest(
                    host['name'], 'vm%d' % number, 64))
        return {'hosts': hosts, 'aggregates': aggregates}

    def configure(self):
        names = self.random.sample(self.FILTER_NAMES, self.random.randint(
            0, len(self.FILTER_NAMES)))
        config = {
            'enabled_filters': names,
            'max_instances_per_host': self.random.choice([2, 50]),
            'namespace': self.random.choice([None, None, 'hw', 'os']),
            'separator': '_',
            'isolate': self.random.random() < 0.5,
            'default_zone': 'nova',
        }
        self.conf_fixture.config(
            enabled_filters=names,
            max_instances_per_host=config['max_instances_per_host'],
            aggregate_image_properties_isolation_namespace=config[
                'namespace'],
            aggregate_image_properties_isolation_separator='_',
            group='filter_scheduler')
        self.conf_fixture.config(
            enable_isolated_aggregate_filtering=config['isolate'],
            group='scheduler')
        return config

    def request_body(self):
        request = {}
        flavor = {}
        name = self.random.choice([None, 'm1.small', 'm1.large'])
        if name:
            flavor['name'] = name
        specs = self.pick(self.EXTRA_SPECS, 3)
        if specs or self.random.random() < 0.2:
            flavor['extra_specs'] = specs
        if flavor:
            request['flavor'] = flavor
        properties = self.pick(self.IMAGE, 3)
        if properties:
            request['image'] = {'properties': properties}
        project = self.random.choice([None, 'p1', 'p2'])
        if project:
            request['project_id'] = project
        zone = self.random.choice([None, None, 'az1', 'az2', 'az3', 'nova',
                                   'az9'])
        if zone:
            request['availability_zone'] = zone
        return request

    def test_against_the_oracle(self):
        checked = 0
        refused_by = set()
        for _ in range(self.LAYOUTS):
            layout = self.layout()
            config = self.configure()
            for _ in range(self.REQUESTS_PER_LAYOUT):
                request = self.request_body()
                body = self.match(request)
                expected = oracle.evaluate(layout, dict(
                    request, project_id=request.get('project_id', 'admin')),
                    config)
                actual = {
                    'hosts': [(h['host'], h['zone'], h['aggregates'])
                              for h in body['hosts']],
                    'rejected': [(r['host'], r['filter'])
                                 for r in body['rejected']]}
                self.assertEqual(expected, actual, json.dumps(
                    {'layout': layout, 'config': config,
                     'request': request, 'answer': body}, indent=1))
                refused_by.update(f for _, f in actual['rejected'])
                checked += 1
        self.assertEqual(self.LAYOUTS * self.REQUESTS_PER_LAYOUT, checked)
        # The generator reaches every filter.
        self.assertEqual(
            set(AGGREGATE_FILTERS) | {'NumInstancesFilter', 'ComputeFilter',
                                      'AvailabilityZoneFilter',
                                      'isolate_aggregates'}, refused_by)


class TestAggregateListFilters(base.APITestCase):
    """``GET os-aggregates?host=H&availability_zone=Z`` (both surfaces):
    the unfiltered list's entries, fewer of them."""

    def setUp(self):
        super().setUp()
        for name in ('host1', 'host2'):
            self.api.register_host(name)
        self.a = self.create_aggregate('a', 'az1')
        self.b = self.create_aggregate('b', 'az2')
        self.c = self.create_aggregate('c')
        self.action(self.a['id'], 'add_host', {'host': 'host1'})
        self.action(self.c['id'], 'add_host', {'host': 'host1'})
        self.action(self.b['id'], 'add_host', {'host': 'host2'})

    def names(self, query, prefix='/v2.1'):
        return [agg['name'] for agg in self.json_request(
            'GET', prefix + '/os-aggregates' + query)['aggregates']]

    def test_filters(self):
        for prefix in ('/v2.1', '/v2.1/admin', '/v1.1/admin', '/v2/admin'):
            self.assertEqual(['a', 'b', 'c'], self.names('', prefix))
            self.assertEqual(['a', 'c'], self.names('?host=host1', prefix))
            self.assertEqual(['b'], self.names('?availability_zone=az2',
                                               prefix))
            self.assertEqual(['a'], self.names(
                '?host=host1&availability_zone=az1', prefix))
            self.assertEqual([], self.names(
                '?host=host2&availability_zone=az1', prefix))
            self.assertEqual([], self.names('?host=nohost', prefix))
            self.assertEqual([], self.names('?host=', prefix))
            self.assertEqual([], self.names('?host=HOST1', prefix))
            self.assertEqual([], self.names('?availability_zone=AZ1',
                                            prefix))

    def test_unknown_keys_are_ignored(self):
        self.assertEqual(['a', 'b', 'c'], self.names('?zone=az1&limit=1'))
        self.assertEqual(['a', 'c'], self.names('?host=host1&sort=name'))

    def test_the_same_bodies_as_the_unfiltered_list(self):
        for prefix, headers in (('/v2.1', {}), ('/v2.1', {
                'OpenStack-API-Version': 'compute 2.41'}),
                ('/v1.1/admin', {})):
            everything = self.json_request('GET', prefix + '/os-aggregates',
                                           headers=headers)['aggregates']
            filtered = self.json_request(
                'GET', prefix + '/os-aggregates?host=host1',
                headers=headers)['aggregates']
            self.assertEqual([everything[0], everything[2]], filtered)

    def test_xml(self):
        response = self.request(
            'GET', '/v1.1/admin/os-aggregates.xml?availability_zone=az2')
        root = ElementTree.fromstring(response.body)
        self.assertEqual(['b'], [a.findtext('name') for a in root])

    def test_policy(self):
        self.assertFault(self.request('GET', '/v2.1/os-aggregates?host=host1',
                                      token='bob:bob'), 403, 'forbidden')


class TestOptions(base.TestCase):
    """The options exist with Nova's defaults."""

    def test_defaults(self):
        conf = self.conf
        self.assertEqual(['ComputeFilter', 'ComputeCapabilitiesFilter',
                          'ImagePropertiesFilter',
                          'ServerGroupAntiAffinityFilter',
                          'ServerGroupAffinityFilter'],
                         conf.filter_scheduler.enabled_filters)
        self.assertEqual(50, conf.filter_scheduler.max_instances_per_host)
        options = conf.filter_scheduler
        self.assertIsNone(
            options.aggregate_image_properties_isolation_namespace)
        self.assertEqual(
            '.', options.aggregate_image_properties_isolation_separator)
        self.assertFalse(conf.scheduler.enable_isolated_aggregate_filtering)


class TestOperatorPage(base.APITestCase):
    """doc/host-matching.md's worked example, replayed as written: its
    configuration, its commands (through the API calls they make) and the
    answers it shows."""

    def block(self, marker):
        with open(DOC) as f:
            text = f.read()
        found = re.search(r'<!-- host-matching: %s -->\n```\w*\n(.*?)```'
                          % re.escape(marker), text, re.S)
        self.assertIsNotNone(found, marker)
        return found.group(1)

    def configure(self):
        path = os.path.join(self.useFixture(fixtures.TempDir()).path,
                            'host-matching.conf')
        with open(path, 'w') as f:
            f.write(self.block('configuration'))
        conf = cfg.ConfigOpts()
        na_conf.register_opts(conf)
        conf(['--config-file', path], default_config_files=[])
        for group in ('filter_scheduler', 'scheduler'):
            for name, value in conf[group].items():
                self.conf_fixture.config(**{name: value, 'group': group})

    def aggregate_id(self, name):
        found, = [agg['id'] for agg in self.manager.list_aggregates(
            self.context) if agg['name'] == name]
        return found

    def run_commands(self, text):
        for line in text.strip().splitlines():
            words = shlex.split(line)
            properties = dict(words[i + 1].split('=', 1)
                              for i, word in enumerate(words)
                              if word == '--property')
            if words[:3] == ['nova-aggregates-manage', 'host', 'add']:
                self.api.register_host(words[3], words[words.index(
                    '--zone') + 1] if '--zone' in words else None)
            elif words[:3] == ['openstack', 'aggregate', 'create']:
                agg = self.create_aggregate(words[-1], words[words.index(
                    '--zone') + 1] if '--zone' in words else None)
                self.action(agg['id'], 'set_metadata',
                            {'metadata': properties})
            elif words[:4] == ['openstack', 'aggregate', 'add', 'host']:
                self.action(self.aggregate_id(words[4]), 'add_host',
                            {'host': words[5]})
            elif words[:3] == ['openstack', 'aggregate', 'set']:
                self.action(self.aggregate_id(words[-1]), 'set_metadata',
                            {'metadata': properties})
            elif words[:4] == ['openstack', 'host', 'set',
                               '--enable-maintenance']:
                self.json_request('PUT', '/v2.1/os-hosts/' + words[4],
                                  {'maintenance_mode': 'enable'})
            else:
                self.fail('the page runs a command this test does not '
                          'know: %s' % line)

    def test_the_worked_example(self):
        self.configure()
        self.run_commands(self.block('setup'))
        request = json.loads(self.block('request'))
        self.assertEqual(json.loads(self.block('response')), self.json_request(
            'POST', '/v2.1/os-host-matching', request))
        self.run_commands(self.block('fix'))
        self.assertEqual(json.loads(self.block('response after the fix')),
                         self.json_request('POST', '/v2.1/os-host-matching',
                                           request))

    def test_linked_from_the_operator_guide(self):
        with open(os.path.join(os.path.dirname(DOC),
                               'operator-guide.md')) as f:
            self.assertIn('(host-matching.md)', f.read())
