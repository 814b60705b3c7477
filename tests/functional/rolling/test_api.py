"""Rolling maintenance through the HTTP API (api-contract §14) on the
in-memory fake driver: create, list, show, cancel, resume, refusals; tasks
executed by a task runner in this process (``run_once``)."""

from nova_aggregates import constants
from nova_aggregates.db import api as db
from tests import base

POOL_FLAG = {'hypervisor_pool': 'true'}
URL = '/v2.1/os-rolling-maintenance'


class RollingTestCase(base.APITestCase):
    """Pool aggregate ``rack``: host1 (master), host2, host3, host4; host2
    runs web and db, host3 runs cache; host5 is in no aggregate."""

    config_overrides = {('maintenance', 'task_lease_seconds'): 3}
    hosts = ('host1', 'host2', 'host3', 'host4')

    def setUp(self):
        super().setUp()
        self.driver = self.api.services.aggregates.driver
        for host in self.hosts + ('host5',):
            self.api.register_host(host, zone='az1')
        agg = self.json_request('POST', '/v2.1/os-aggregates', {
            'aggregate': {'name': 'rack'}})['aggregate']
        self.agg_id = agg['id']
        self.agg_action('set_metadata', {'metadata': POOL_FLAG})
        for host in self.hosts:
            self.agg_action('add_host', {'host': host})
        self.guests = {
            'web': self.driver.add_guest('host2', 'web', 2048),
            'db': self.driver.add_guest('host2', 'db', 4096),
            'cache': self.driver.add_guest('host3', 'cache', 1024)}
        self.runner = self.api.services.task_runner()

    def agg_action(self, name, body, expected=200):
        return self.json_request(
            'POST', '/v2.1/os-aggregates/%d/action' % self.agg_id,
            {name: body}, expected=expected)

    def create(self, expected=202, **values):
        values.setdefault('aggregate_id', self.agg_id)
        return self.json_request('POST', URL, {'rolling_maintenance': values},
                                 expected=expected)

    def show(self, task_id):
        return self.json_request('GET', '%s/%d' % (URL, task_id))[
            'rolling_maintenance']

    def where(self, name):
        return self.driver.guest_location(None, self.guests[name])


class TestLifecycle(RollingTestCase):

    def test_create_shows_a_queued_task(self):
        response = self.request('POST', URL, {'rolling_maintenance': {
            'aggregate_id': self.agg_id, 'host_action': 'none'}})
        self.assertEqual(202, response.status_int, response.body)
        task = response.json['rolling_maintenance']
        self.assertTrue(response.headers['Location'].endswith(
            '/v2.1/os-rolling-maintenance/%d' % task['id']))
        self.assertEqual('queued', task['state'])
        self.assertEqual(['host1', 'host2', 'host3', 'host4'],
                         [h['host'] for h in task['hosts']])
        self.assertEqual({'host', 'state', 'started_at', 'finished_at',
                          'guests_moved', 'message'}, set(task['hosts'][0]))
        self.assertEqual({'id', 'aggregate_id', 'state', 'host_action',
                          'created_at', 'updated_at', 'hosts'}, set(task))

    def test_run_to_the_end(self):
        task = self.create()['rolling_maintenance']
        self.assertEqual([task['id']], self.runner.run_once(wait=True))
        task = self.show(task['id'])
        self.assertEqual('succeeded', task['state'])
        self.assertEqual(['done'] * 4, [h['state'] for h in task['hosts']])
        self.assertEqual([0, 2, 1, 0],
                         [h['guests_moved'] for h in task['hosts']])
        # Every guest is back where it ran, every host in service.
        self.assertEqual(('host2', 'host2', 'host3'),
                         (self.where('web'), self.where('db'),
                          self.where('cache')))
        for host in self.hosts:
            row = db.compute_host_get(self.context, host)
            self.assertEqual((constants.HOST_ENABLED,
                              constants.OFF_MAINTENANCE),
                             (row['status'], row['maintenance']))
        self.assertEqual([], self.runner.run_once(wait=True))

    def test_master_goes_first_whatever_the_order(self):
        task = self.create(hosts=['host3', 'host1'])['rolling_maintenance']
        self.assertEqual(['host1', 'host3'],
                         [h['host'] for h in task['hosts']])

    def test_list_newest_first_and_show(self):
        first = self.create()['rolling_maintenance']
        self.runner.run_once(wait=True)
        second = self.create(hosts=['host4'])['rolling_maintenance']
        listed = self.json_request('GET', URL)['rolling_maintenances']
        self.assertEqual([second['id'], first['id']],
                         [t['id'] for t in listed])
        self.assertEqual(['succeeded', 'queued'],
                         [self.show(first['id'])['state'],
                          self.show(second['id'])['state']])

    def test_reboot_each_host_once(self):
        self.conf_fixture.config(reboot_timeout=5, group='maintenance')
        task = self.create(host_action='reboot')['rolling_maintenance']
        self.runner.run_once(wait=True)
        self.assertEqual('succeeded', self.show(task['id'])['state'])
        self.assertEqual([1, 1, 1, 1],
                         [self.driver.reboot_count(h) for h in self.hosts])
        self.assertEqual('host2', self.where('db'))

    def test_command_gets_its_environment_and_output_is_kept(self):
        self.conf_fixture.config(
            # $$: a literal $ for oslo.config, as in a configuration file.
            host_command="sh -c 'echo host=$$HOST aggregate=$$AGGREGATE "
                         "url=$$HYPERVISOR_URL; echo more >&2'",
            group='maintenance')
        task = self.create(host_action='command',
                           hosts=['host2'])['rolling_maintenance']
        self.runner.run_once(wait=True)
        host = self.show(task['id'])['hosts'][0]
        self.assertEqual('done', host['state'])
        self.assertEqual('host=host2 aggregate=%d url=\nmore' % self.agg_id,
                         host['message'])

    def test_notifications_for_start_each_host_and_end(self):
        with self.assertLogs('nova_aggregates.notifications',
                             level='INFO') as logs:
            self.create(hosts=['host3', 'host4'])
            self.runner.run_once(wait=True)
        events = [line.split()[0].rpartition(':')[2] for line in logs.output]
        # Each host's host.maintenance events are logged there too.
        events = [e for e in events if e.startswith('rolling_maintenance.')]
        self.assertEqual(['rolling_maintenance.start',
                          'rolling_maintenance.host',
                          'rolling_maintenance.host',
                          'rolling_maintenance.end'], events)
        self.assertIn('"state": "succeeded"', logs.output[-1])


class TestRefusals(RollingTestCase):

    def assert_refused(self, body, status, name, text):
        self.assertFault(self.request('POST', URL, body), status, name, text)

    def test_bad_bodies(self):
        for body, text in (
                ({}, "'rolling_maintenance' is a required property"),
                ({'rolling_maintenance': {}},
                 "'aggregate_id' is a required property"),
                ({'rolling_maintenance': {'aggregate_id': 'x'}},
                 'rolling_maintenance/aggregate_id'),
                ({'rolling_maintenance': {'aggregate_id': 0}},
                 'rolling_maintenance/aggregate_id'),
                ({'rolling_maintenance': {'aggregate_id': 1,
                                          'host_action': 'shutdown'}},
                 'rolling_maintenance/host_action'),
                ({'rolling_maintenance': {'aggregate_id': 1, 'hosts': []}},
                 'rolling_maintenance/hosts'),
                ({'rolling_maintenance': {'aggregate_id': 1,
                                          'hosts': ['a', 'a']}},
                 'rolling_maintenance/hosts'),
                ({'rolling_maintenance': {'aggregate_id': 1, 'when': 1}},
                 "Additional properties are not allowed: 'when'"),
                ([], 'request body')):
            self.assert_refused(body, 400, 'badRequest', text)

    def test_unknown_aggregate(self):
        self.assert_refused({'rolling_maintenance': {'aggregate_id': 999}},
                            404, 'itemNotFound', 'Aggregate 999')

    def test_not_a_pool(self):
        other = self.create_aggregate('plain')
        self.assert_refused(
            {'rolling_maintenance': {'aggregate_id': other['id']}}, 400,
            'badRequest', 'is not a pool aggregate')

    def test_pool_without_hosts(self):
        other = self.create_aggregate('empty')
        self.action(other['id'], 'set_metadata', {'metadata': POOL_FLAG})
        self.assert_refused(
            {'rolling_maintenance': {'aggregate_id': other['id']}}, 400,
            'badRequest', 'has no hosts')

    def test_unknown_host(self):
        self.assert_refused(
            {'rolling_maintenance': {'aggregate_id': self.agg_id,
                                     'hosts': ['host1', 'host5']}},
            400, 'badRequest', 'host5 is not a member of aggregate')

    def test_command_needs_host_command(self):
        self.assert_refused(
            {'rolling_maintenance': {'aggregate_id': self.agg_id,
                                     'host_action': 'command'}},
            400, 'badRequest', '[maintenance] host_command')

    def test_host_out_of_service(self):
        self.json_request('PUT', '/v2.1/os-hosts/host4',
                          {'status': 'disable'})
        self.assert_refused(
            {'rolling_maintenance': {'aggregate_id': self.agg_id}},
            409, 'conflictingRequest', 'host4 (disabled)')

    def test_second_task_and_pool_operations_conflict(self):
        task = self.create()['rolling_maintenance']
        self.assert_refused(
            {'rolling_maintenance': {'aggregate_id': self.agg_id}},
            409, 'conflictingRequest',
            'Rolling maintenance task %d holds aggregate' % task['id'])
        self.assertFault(self.request(
            'POST', '/v2.1/os-aggregates/%d/action' % self.agg_id,
            {'add_host': {'host': 'host5'}}), 409, 'conflictingRequest',
            'Rolling maintenance task %d' % task['id'])
        self.assertFault(self.request(
            'PUT', '/v2.1/os-hosts/host2', {'maintenance_mode': 'enable'}),
            409, 'conflictingRequest', 'Rolling maintenance task')
        # Once it ended, both work again.
        self.runner.run_once(wait=True)
        self.agg_action('add_host', {'host': 'host5'})
        self.create()

    def test_pool_operation_in_progress(self):
        db.aggregate_update(self.context, self.agg_id,
                            operational_state=constants.CHANGING)
        self.assert_refused(
            {'rolling_maintenance': {'aggregate_id': self.agg_id}},
            409, 'conflictingRequest', 'pool operation is in progress')

    def test_unknown_task(self):
        for path in ('/999', '/abc', '/0', '/99999999999'):
            self.assertFault(self.request('GET', URL + path), 404,
                             'itemNotFound', 'could not be found')
            self.assertFault(self.request('DELETE', URL + path), 404,
                             'itemNotFound', 'could not be found')

    def test_member_is_forbidden(self):
        task = self.create()['rolling_maintenance']
        for method, path, body in (
                ('GET', URL, None), ('GET', '%s/%d' % (URL, task['id']), None),
                ('POST', URL, {'rolling_maintenance': {
                    'aggregate_id': self.agg_id}}),
                ('DELETE', '%s/%d' % (URL, task['id']), None),
                ('POST', '%s/%d/action' % (URL, task['id']),
                 {'resume': None})):
            self.assertFault(self.request(method, path, body,
                                          token='user:member'),
                             403, 'forbidden', 'os-rolling-maintenance')

    def test_method_not_allowed(self):
        response = self.request('PUT', URL)
        self.assertEqual(405, response.status_int)


class TestCancelAndResume(RollingTestCase):

    def cancel(self, task_id, expected=202):
        return self.request('DELETE', '%s/%d' % (URL, task_id))

    def resume(self, task_id, expected=202):
        return self.json_request('POST', '%s/%d/action' % (URL, task_id),
                                 {'resume': None}, expected=expected)

    def test_cancel_queued_ends_it_at_once(self):
        task = self.create()['rolling_maintenance']
        self.assertEqual(202, self.cancel(task['id']).status_int)
        self.assertEqual('cancelled', self.show(task['id'])['state'])
        self.assertEqual([], self.runner.run_once(wait=True))
        # A finished task cannot be cancelled again.
        self.assertFault(self.cancel(task['id']), 409, 'conflictingRequest',
                         'is in state cancelled: it cannot be cancelled')

    def test_cancel_running_stops_after_the_current_host(self):
        self.conf_fixture.config(reboot_timeout=30, group='maintenance')
        self.driver.configure_reboot('host2', seconds=1.0)
        task = self.create(host_action='reboot')['rolling_maintenance']
        self.runner.run_once()
        self.wait_for(task['id'], lambda t: t['hosts'][1]['state'] ==
                      'acting')
        self.assertEqual(202, self.cancel(task['id']).status_int)
        self.assertEqual('cancelling', self.show(task['id'])['state'])
        shown = self.wait_for(task['id'],
                              lambda t: t['state'] == 'cancelled')
        self.assertEqual(['done', 'done', 'pending', 'pending'],
                         [h['state'] for h in shown['hosts']])
        self.assertEqual('host2', self.where('web'))
        self.runner.join()
        # Resumed, it continues with host3.
        resumed = self.resume(task['id'])['rolling_maintenance']
        self.assertEqual('queued', resumed['state'])
        self.runner.run_once(wait=True)
        shown = self.show(task['id'])
        self.assertEqual('succeeded', shown['state'])
        self.assertEqual([1, 1, 1, 1],
                         [self.driver.reboot_count(h) for h in self.hosts])

    def wait_for(self, task_id, predicate, timeout=20):
        import time
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            task = self.show(task_id)
            if predicate(task):
                return task
            time.sleep(0.02)
        self.fail('task %d never got there: %s' % (task_id, task))

    def test_resume_only_failed_or_cancelled(self):
        task = self.create()['rolling_maintenance']
        self.assertFault(self.request(
            'POST', '%s/%d/action' % (URL, task['id']), {'resume': None}),
            409, 'conflictingRequest', 'is in state queued: it cannot be resumed')
        self.runner.run_once(wait=True)
        self.assertFault(self.request(
            'POST', '%s/%d/action' % (URL, task['id']), {'resume': None}),
            409, 'conflictingRequest', 'is in state succeeded')
        self.assertFault(self.request(
            'POST', '%s/%d/action' % (URL, task['id']), {'pause': None}),
            400, 'badRequest', '{"resume": null}')


class TestLegacySurface(RollingTestCase):
    """The 2012 surface: the same resource under /v1.1 and /v2, JSON and
    XML bodies."""

    def test_xml_create_show_list(self):
        from xml.etree import ElementTree
        body = ('<rolling_maintenance><aggregate_id>%d</aggregate_id>'
                '<host_action>none</host_action><hosts><host>host3</host>'
                '<host>host1</host></hosts></rolling_maintenance>'
                % self.agg_id)
        response = self.request('POST', '/v1.1/admin/os-rolling-maintenance',
                                body, content_type='application/xml',
                                headers={'Accept': 'application/xml'})
        self.assertEqual(202, response.status_int, response.body)
        self.assertEqual('application/xml', response.content_type)
        root = ElementTree.fromstring(response.body)
        self.assertEqual('rolling_maintenance', root.tag)
        self.assertEqual('queued', root.findtext('state'))
        self.assertEqual(['host1', 'host3'],
                         [h.findtext('host') for h in root.find('hosts')])
        task_id = int(root.findtext('id'))
        self.assertTrue(response.headers['Location'].endswith(
            '/v1.1/admin/os-rolling-maintenance/%d' % task_id))
        self.runner.run_once(wait=True)
        shown = ElementTree.fromstring(self.request(
            'GET', '/v2/admin/os-rolling-maintenance/%d.xml' % task_id).body)
        self.assertEqual('succeeded', shown.findtext('state'))
        listed = ElementTree.fromstring(self.request(
            'GET', '/v1.1/admin/os-rolling-maintenance.xml').body)
        self.assertEqual('rolling_maintenances', listed.tag)
        self.assertEqual([str(task_id)],
                         [t.findtext('id') for t in listed])

    def test_json_on_the_legacy_surface_and_xml_single_host(self):
        task = self.json_request(
            'POST', '/v2/admin/os-rolling-maintenance.json',
            {'rolling_maintenance': {'aggregate_id': self.agg_id,
                                     'hosts': ['host4']}},
            expected=202)['rolling_maintenance']
        self.assertEqual(['host4'], [h['host'] for h in task['hosts']])
        response = self.request(
            'POST', '/v1.1/admin/os-rolling-maintenance/%d/action' %
            task['id'], '<resume/>', content_type='application/xml',
            headers={'Accept': 'application/xml'})
        self.assertXMLFault(response, 409, 'conflictingRequest',
                            'is in state queued: it cannot be resumed')
        self.request('DELETE', '/v1.1/admin/os-rolling-maintenance/%d' %
                     task['id'])
        response = self.request(
            'POST', '/v1.1/admin/os-rolling-maintenance/%d/action' %
            task['id'], '<resume/>', content_type='application/xml',
            headers={'Accept': 'application/xml'})
        self.assertEqual(202, response.status_int, response.body)
        bad = self.request(
            'POST', '/v1.1/admin/os-rolling-maintenance',
            '<rolling_maintenance><aggregate_id>x</aggregate_id>'
            '</rolling_maintenance>', content_type='application/xml',
            headers={'Accept': 'application/xml'})
        self.assertXMLFault(bad, 400, 'badRequest', 'aggregate_id')


class TestListedExtension(RollingTestCase):

    def test_descriptor(self):
        ext = self.json_request(
            'GET', '/v2.1/extensions/os-rolling-maintenance')['extension']
        self.assertEqual(
            ('RollingMaintenance', 'http://docs.openstack.org/compute/ext/'
             'rolling-maintenance/api/v2.1'),
            (ext['name'], ext['namespace']))
