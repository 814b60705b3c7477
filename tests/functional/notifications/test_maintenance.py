"""Host maintenance and rolling maintenance notifications through the HTTP
API and a real RabbitMQ (api-contract §13, §14, §16): what each says, in
order, including the failures."""

from nova_aggregates import constants
from nova_aggregates.db import api as db
from tests.functional.notifications import base

HOST_MAINTENANCE = 'HostMaintenancePayload'
ROLLING = 'RollingMaintenancePayload'
ROLLING_URL = '/v2.1/os-rolling-maintenance'


class MaintenanceTestCase(base.BrokerTestCase):
    """Pool aggregate ``rack``: host1 (master), host2, host3; host2 runs web
    and db."""

    def setUp(self):
        super().setUp()
        self.driver = self.api.services.aggregates.driver
        for host in ('host1', 'host2', 'host3'):
            self.api.register_host(host, zone='az1')
        agg = self.json_request('POST', '/v2.1/os-aggregates',
                                {'aggregate': {'name': 'rack'}},
                                headers=base.V2_41)['aggregate']
        self.agg_id, self.agg_uuid = agg['id'], agg['uuid']
        self.action(self.agg_id, 'set_metadata',
                    {'metadata': {constants.POOL_FLAG: 'true'}})
        for host in ('host1', 'host2', 'host3'):
            self.action(self.agg_id, 'add_host', {'host': host})
        self.web = self.driver.add_guest('host2', 'web', 2048)
        self.db_vm = self.driver.add_guest('host2', 'db', 4096)
        self.drain()

    def maintenance(self, host, mode):
        return self.request('PUT', '/v2.1/os-hosts/%s' % host,
                            {'maintenance_mode': mode})

    def host_fields(self, host, action, **fields):
        return dict({'host': host, 'action': action,
                     'aggregate_id': self.agg_id,
                     'aggregate_uuid': self.agg_uuid, 'guests_moved': [],
                     'guests_skipped': [], 'error': None}, **fields)

    def assert_events(self, expected, messages):
        """``expected``: (event type, payload data) of each message, our
        payload named after the event, ERROR for the .error events."""
        self.assertEqual([event for event, _ in expected],
                         [m['event_type'] for m in messages])
        for (event, data), message in zip(expected, messages):
            self.assert_message(
                message, event, data,
                HOST_MAINTENANCE if event.startswith('host.') else ROLLING,
                'ERROR' if event.endswith('.error') else 'INFO')


class TestHostMaintenance(MaintenanceTestCase):

    def test_enter_and_leave(self):
        entered = self.maintenance('host2', 'enable')
        self.assertEqual(200, entered.status_int, entered.body)
        left = self.maintenance('host2', 'disable')
        self.assertEqual(200, left.status_int, left.body)
        evacuated = entered.json['evacuated']
        restored = left.json['restored']
        self.assertEqual({'web', 'db'}, {g['name'] for g in evacuated})
        self.assertEqual({'web', 'db'}, {g['name'] for g in restored})
        self.assert_events([
            ('host.maintenance.start', self.host_fields('host2', 'enter')),
            ('host.maintenance.end', self.host_fields(
                'host2', 'enter', guests_moved=evacuated)),
            ('host.maintenance.start', self.host_fields('host2', 'leave')),
            ('host.maintenance.end', self.host_fields(
                'host2', 'leave', guests_moved=restored)),
        ], self.drain())

    def test_leave_names_the_guests_not_moved_back(self):
        self.assertEqual(200, self.maintenance('host2', 'enable').status_int)
        self.driver.remove_guest(self.web)
        left = self.maintenance('host2', 'disable')
        self.assertEqual(200, left.status_int, left.body)
        skipped = left.json['skipped']
        self.assertEqual([{'vm': self.web, 'name': 'web',
                           'reason': 'no longer runs'}], skipped)
        self.assertEqual(self.host_fields(
            'host2', 'leave', guests_moved=left.json['restored'],
            guests_skipped=skipped),
            self.drain()[-1]['payload']['nova_object.data'])

    def test_refused_entry_is_an_error_and_changes_nothing(self):
        self.driver.set_power_state(self.db_vm, 'Paused')
        message = self.assertFault(self.maintenance('host2', 'enable'), 409,
                                   'conflictingRequest', 'VM_BAD_POWER_STATE')
        self.assert_events([
            ('host.maintenance.start', self.host_fields('host2', 'enter')),
            ('host.maintenance.error', self.host_fields(
                'host2', 'enter', error=message)),
        ], self.drain())

    def test_a_host_in_no_pool(self):
        self.api.register_host('host4', zone='az1')
        self.assertEqual(200, self.maintenance('host4', 'enable').status_int)
        self.assertEqual(
            [self.host_fields('host4', 'enter', aggregate_id=None,
                              aggregate_uuid=None)] * 2,
            [m['payload']['nova_object.data'] for m in self.drain()])

    def test_a_dry_run_changes_nothing_and_says_nothing(self):
        response = self.request('PUT', '/v2.1/os-hosts/host2', {
            'maintenance_mode': 'enable', 'dry_run': True})
        self.assertEqual(200, response.status_int, response.body)
        self.assertEqual(2, len(response.json['plan']))
        self.assertEqual([], self.drain())


class TestRollingMaintenance(MaintenanceTestCase):

    def run_task(self, **values):
        task = self.json_request(
            'POST', ROLLING_URL, {'rolling_maintenance': dict(
                values, aggregate_id=self.agg_id)},
            expected=202)['rolling_maintenance']
        self.api.services.task_runner().run_once(wait=True)
        return self.json_request('GET', '%s/%d' % (
            ROLLING_URL, task['id']))['rolling_maintenance']

    def task_fields(self, task, state, hosts, **fields):
        return dict({'task_id': task['id'], 'aggregate_id': self.agg_id,
                     'host_action': task['host_action'], 'state': state,
                     'hosts': hosts, 'host': None, 'error': None}, **fields)

    @staticmethod
    def pending(name):
        return {'host': name, 'state': 'pending', 'started_at': None,
                'finished_at': None, 'guests_moved': 0, 'message': None}

    def test_a_task_that_succeeds(self):
        task = self.run_task(hosts=['host2', 'host3'])
        self.assertEqual('succeeded', task['state'])
        done2, done3 = task['hosts']
        messages = self.drain()
        evacuated = messages[2]['payload']['nova_object.data'][
            'guests_moved']
        self.assertEqual({'web', 'db'}, {g['name'] for g in evacuated})
        restored = messages[4]['payload']['nova_object.data'][
            'guests_moved']
        self.assertEqual({'web', 'db'}, {g['name'] for g in restored})
        self.assert_events([
            ('rolling_maintenance.start', self.task_fields(
                task, 'running', [self.pending('host2'),
                                  self.pending('host3')])),
            ('host.maintenance.start', self.host_fields('host2', 'enter')),
            ('host.maintenance.end', self.host_fields(
                'host2', 'enter', guests_moved=evacuated)),
            ('host.maintenance.start', self.host_fields('host2', 'leave')),
            ('host.maintenance.end', self.host_fields(
                'host2', 'leave', guests_moved=restored)),
            ('rolling_maintenance.host', self.task_fields(
                task, 'running', [done2, self.pending('host3')],
                host=done2)),
            ('host.maintenance.start', self.host_fields('host3', 'enter')),
            ('host.maintenance.end', self.host_fields('host3', 'enter')),
            ('host.maintenance.start', self.host_fields('host3', 'leave')),
            ('host.maintenance.end', self.host_fields('host3', 'leave')),
            ('rolling_maintenance.host', self.task_fields(
                task, 'running', [done2, done3], host=done3)),
            ('rolling_maintenance.end', self.task_fields(
                task, 'succeeded', [done2, done3])),
        ], messages)
        self.assertEqual(2, done2['guests_moved'])

    def test_a_task_that_fails(self):
        self.conf_fixture.config(host_command='false', group='maintenance')
        task = self.run_task(hosts=['host3'], host_action='command')
        self.assertEqual('failed', task['state'])
        [failed] = task['hosts']
        self.assertEqual('failed', failed['state'])
        error = 'Host host3 failed: %s' % failed['message']
        self.assertIn('exited with status 1', error)
        self.assert_events([
            ('rolling_maintenance.start', self.task_fields(
                task, 'running', [self.pending('host3')])),
            ('host.maintenance.start', self.host_fields('host3', 'enter')),
            ('host.maintenance.end', self.host_fields('host3', 'enter')),
            ('rolling_maintenance.host', self.task_fields(
                task, 'running', [failed], host=failed)),
            ('rolling_maintenance.error', self.task_fields(
                task, 'failed', [failed], error=error)),
        ], self.drain())
        # The failed host stays in maintenance, as the contract says.
        self.assertEqual(constants.ON_MAINTENANCE, db.compute_host_get(
            self.context, 'host3')['maintenance'])
