"""Host status and maintenance through the HTTP API (api-contract §13),
on the in-memory fake driver: status, live evacuation inside the pool,
master hand-over, restore, refusals, os-services, both surfaces."""

import contextlib
import io
import socket
from xml.etree import ElementTree

from nova_aggregates.cmd import manage
from nova_aggregates import constants
from nova_aggregates.db import api as db
from nova_aggregates.virt import driver as virt_driver
from tests import base

POOL_FLAG = {'hypervisor_pool': 'true'}
MIB = 1024 * 1024


class MaintenanceTestCase(base.APITestCase):
    """Pool aggregate ``rack`` with host1 (master), host2, host3 in az1 and
    a lone host4 in no aggregate; host2 runs web (2 GiB) and db (4 GiB)."""

    def setUp(self):
        super().setUp()
        self.driver = self.api.services.aggregates.driver
        for host in ('host1', 'host2', 'host3', 'host4'):
            self.api.register_host(host, zone='az1')
        agg = self.json_request('POST', '/v2.1/os-aggregates', {
            'aggregate': {'name': 'rack'}})['aggregate']
        self.agg_id = agg['id']
        self.action('set_metadata', {'metadata': POOL_FLAG})
        for host in ('host1', 'host2', 'host3'):
            self.action('add_host', {'host': host})
        self.web = self.driver.add_guest('host2', 'web', 2048)
        self.db_vm = self.driver.add_guest('host2', 'db', 4096)

    def action(self, name, body, expected=200):
        return self.json_request(
            'POST', '/v2.1/os-aggregates/%d/action' % self.agg_id,
            {name: body}, expected=expected)

    def aggregate(self):
        return self.json_request(
            'GET', '/v2.1/os-aggregates/%d' % self.agg_id)['aggregate']

    def put_host(self, host, body, expected=200, prefix='/v2.1'):
        return self.json_request('PUT', '%s/os-hosts/%s' % (prefix, host),
                                 body, expected=expected)

    def where(self, guest):
        return self.driver.guest_location(None, guest)

    def hosts(self):
        return {h['host_name']: h for h in self.json_request(
            'GET', '/v2.1/os-hosts')['hosts']}


class TestStatus(MaintenanceTestCase):

    def test_listing_shows_status_and_maintenance(self):
        self.assertEqual(
            {'host_name': 'host2', 'service': 'compute', 'zone': 'az1',
             'status': 'enabled', 'maintenance_mode': 'off_maintenance'},
            self.hosts()['host2'])

    def test_show_resources(self):
        rows = self.json_request('GET', '/v2.1/os-hosts/host2')['host']
        self.assertEqual(['(total)', '(used_now)'],
                         [r['resource']['project'] for r in rows])
        total, used = (r['resource'] for r in rows)
        self.assertEqual((16384, 6144), (total['memory_mb'],
                                         used['memory_mb']))
        self.assertEqual({'host', 'project', 'cpu', 'memory_mb', 'disk_gb'},
                         set(total))
        self.assertFault(self.request('GET', '/v2.1/os-hosts/nope'), 404,
                         'itemNotFound', 'Compute host nope')

    def test_disable_and_enable(self):
        result = self.put_host('host3', {'status': 'disable'})
        self.assertEqual({'host': 'host3', 'status': 'disabled',
                          'maintenance_mode': 'off_maintenance'}, result)
        self.assertFalse(self.driver.get_host_enabled(None, self._ch('host3')))
        self.assertEqual('disabled', self.hosts()['host3']['status'])
        # A disabled host joins no aggregate.
        other = self.json_request('POST', '/v2.1/os-aggregates', {
            'aggregate': {'name': 'other'}})['aggregate']
        response = self.request(
            'POST', '/v2.1/os-aggregates/%d/action' % other['id'],
            {'add_host': {'host': 'host3'}})
        self.assertFault(response, 409, 'conflictingRequest', 'disabled')
        self.put_host('host3', {'status': 'enable'})
        self.assertTrue(self.driver.get_host_enabled(None, self._ch('host3')))
        self.json_request('POST', '/v2.1/os-aggregates/%d/action'
                          % other['id'], {'add_host': {'host': 'host3'}})

    @staticmethod
    def _ch(name):
        return virt_driver.ComputeHost(name=name)

    def test_bad_bodies(self):
        for body, part in (
                ({}, None), ({'status': 'off'}, 'status'),
                ({'status': 'enable', 'color': 'red'}, 'color'),
                ({'status': 'disable', 'dry_run': True}, 'dry_run'),
                ({'maintenance_mode': 'enable', 'restore': 'skip'},
                 'restore'),
                ({'maintenance_mode': 'enable', 'dry_run': 'yes'},
                 'dry_run'),
                ({'maintenance_mode': 'on'}, 'maintenance_mode'),
                ([], None)):
            response = self.request('PUT', '/v2.1/os-hosts/host2', body)
            message = self.assertFault(response, 400, 'badRequest')
            if part:
                self.assertIn(part, message)
        self.assertFault(self.request('PUT', '/v2.1/os-hosts/nope',
                                      {'status': 'disable'}),
                         404, 'itemNotFound')

    def test_admin_only(self):
        self.assertFault(self.request('PUT', '/v2.1/os-hosts/host2',
                                      {'status': 'disable'},
                                      token='bob:proj'),
                         403, 'forbidden', 'os_compute_api:os-hosts:update')
        self.assertFault(self.request('GET', '/v2.1/os-hosts/host2',
                                      token='bob:proj'),
                         403, 'forbidden', 'os_compute_api:os-hosts:show')

    def test_one_change_per_pool(self):
        db.aggregate_compare_and_set_state(
            self.context, self.agg_id, constants.MAY_CHANGE,
            operational_state=constants.CHANGING)
        self.assertFault(self.request('PUT', '/v2.1/os-hosts/host2',
                                      {'status': 'disable'}),
                         409, 'conflictingRequest', 'in progress')
        self.assertTrue(self.driver.get_host_enabled(None, self._ch('host2')))


class TestMaintenance(MaintenanceTestCase):

    def test_dry_run_plans_and_changes_nothing(self):
        result = self.put_host('host2', {'maintenance_mode': 'enable',
                                         'dry_run': True})
        self.assertEqual('off_maintenance', result['maintenance_mode'])
        self.assertEqual(['db', 'web'], [p['name'] for p in result['plan']])
        # db (4 GiB) first to the most free member, web to the other.
        self.assertEqual({'db', 'web'}, {p['name'] for p in result['plan']})
        self.assertEqual(2, len({p['to'] for p in result['plan']}))
        self.assertEqual(('host2', 'host2'),
                         (self.where(self.web), self.where(self.db_vm)))
        self.assertEqual('enabled', self.hosts()['host2']['status'])

    def test_evacuate_and_restore(self):
        result = self.put_host('host2', {'maintenance_mode': 'enable'})
        self.assertEqual(('disabled', 'on_maintenance'),
                         (result['status'], result['maintenance_mode']))
        moved = {m['name']: m['to'] for m in result['evacuated']}
        self.assertEqual({'web', 'db'}, set(moved))
        self.assertEqual(moved['web'], self.where(self.web))
        self.assertEqual(moved['db'], self.where(self.db_vm))
        self.assertNotIn('host2', moved.values())
        self.assertEqual('on_maintenance',
                         self.hosts()['host2']['maintenance_mode'])
        # Again: already there, nothing to do.
        self.assertEqual([], self.put_host(
            'host2', {'maintenance_mode': 'enable'})['evacuated'])
        back = self.put_host('host2', {'maintenance_mode': 'disable'})
        self.assertEqual(('enabled', 'off_maintenance'),
                         (back['status'], back['maintenance_mode']))
        self.assertEqual({'web', 'db'}, {r['name'] for r in back['restored']})
        self.assertEqual(('host2', 'host2'),
                         (self.where(self.web), self.where(self.db_vm)))
        self.assertEqual('active', self.aggregate()['metadata'][
            'operational_state'])

    def test_restore_skip_and_vanished_guests(self):
        self.put_host('host2', {'maintenance_mode': 'enable'})
        self.driver.remove_guest(self.db_vm)
        back = self.put_host('host2', {'maintenance_mode': 'disable',
                                       'restore': 'skip'})
        self.assertEqual([], back['restored'])
        self.assertNotEqual('host2', self.where(self.web))
        # The origins were forgotten: a later restore moves nothing.
        self.put_host('host2', {'maintenance_mode': 'enable'})
        again = self.put_host('host2', {'maintenance_mode': 'disable'})
        self.assertEqual([], again['restored'])

    def test_vanished_guest_reported_on_restore(self):
        self.put_host('host2', {'maintenance_mode': 'enable'})
        self.driver.remove_guest(self.db_vm)
        back = self.put_host('host2', {'maintenance_mode': 'disable'})
        self.assertEqual(['web'], [r['name'] for r in back['restored']])
        self.assertEqual([{'vm': self.db_vm, 'name': 'db',
                           'reason': 'no longer runs'}], back['skipped'])

    def test_master_hands_over_first(self):
        self.assertEqual('host1', self.aggregate()['metadata'][
            'master_compute'])
        guest = self.driver.add_guest('host1', 'app', 1024)
        result = self.put_host('host1', {'maintenance_mode': 'enable'})
        self.assertEqual([guest], [m['vm'] for m in result['evacuated']])
        metadata = self.aggregate()['metadata']
        # host3 has the most free memory (host2 runs 6 GiB).
        self.assertEqual('host3', metadata['master_compute'])
        self.assertEqual('host3', self.where(guest))
        # The old master may now leave the aggregate like any member.
        self.action('remove_host', {'host': 'host1'})

    def test_no_target_refuses_everything(self):
        self.driver.add_guest('host1', 'hog1', 16000)
        self.driver.add_guest('host3', 'hog3', 12000)
        response = self.request('PUT', '/v2.1/os-hosts/host2',
                                {'maintenance_mode': 'enable'})
        message = self.assertFault(response, 409, 'conflictingRequest',
                                   'HOST_NOT_ENOUGH_FREE_MEMORY')
        # db (4 GiB) fits on host3, counted in the plan; web then fits
        # nowhere.
        self.assertIn('Guest web (%s) has no target' % self.web, message)
        self.assertIn('nothing was moved', message)
        self.assertEqual(('host2', 'host2'),
                         (self.where(self.web), self.where(self.db_vm)))
        self.assertEqual(('enabled', 'off_maintenance'),
                         (self.hosts()['host2']['status'],
                          self.hosts()['host2']['maintenance_mode']))
        self.assertEqual('active', self.aggregate()['metadata'][
            'operational_state'])

    def test_disabled_members_are_no_targets(self):
        self.put_host('host1', {'status': 'disable'})
        self.put_host('host3', {'status': 'disable'})
        self.assertFault(self.request('PUT', '/v2.1/os-hosts/host2',
                                      {'maintenance_mode': 'enable'}),
                         409, 'conflictingRequest', 'NO_HOSTS_AVAILABLE')

    def test_failure_part_way_stops_and_says_what_moved(self):
        # db (the larger) moves first; web is paused behind the plan's
        # back, so its migration is refused.
        original = self.driver.live_migrate
        calls = []

        def flaky(pool, guest, target):
            calls.append(guest.name)
            if len(calls) == 2:
                self.driver.set_power_state(guest.uuid, 'Paused')
            return original(pool, guest, target)
        self.driver.live_migrate = flaky
        response = self.request('PUT', '/v2.1/os-hosts/host2',
                                {'maintenance_mode': 'enable'})
        message = self.assertFault(response, 409, 'conflictingRequest',
                                   'VM_BAD_POWER_STATE')
        self.assertIn('Guests moved: db', message)
        self.assertIn('enabled again', message)
        self.assertNotEqual('host2', self.where(self.db_vm))
        self.assertEqual('host2', self.where(self.web))
        host2 = self.hosts()['host2']
        self.assertEqual(('enabled', 'off_maintenance'),
                         (host2['status'], host2['maintenance_mode']))
        self.assertEqual('active', self.aggregate()['metadata'][
            'operational_state'])

    def test_host_in_no_pool(self):
        self.assertEqual('on_maintenance', self.put_host(
            'host4', {'maintenance_mode': 'enable'})['maintenance_mode'])
        self.put_host('host4', {'maintenance_mode': 'disable'})
        self.driver.add_guest('host4', 'lonely', 512)
        message = self.assertFault(
            self.request('PUT', '/v2.1/os-hosts/host4',
                         {'maintenance_mode': 'enable'}),
            409, 'conflictingRequest', 'no hypervisor pool')
        self.assertNotIn('Evacuation', message)

    def test_in_maintenance_cannot_join(self):
        self.put_host('host4', {'maintenance_mode': 'enable'})
        other = self.json_request('POST', '/v2.1/os-aggregates', {
            'aggregate': {'name': 'other'}})['aggregate']
        self.assertFault(self.request(
            'POST', '/v2.1/os-aggregates/%d/action' % other['id'],
            {'add_host': {'host': 'host4'}}), 409, 'conflictingRequest',
            'in maintenance')

    def test_status_with_maintenance_mode(self):
        self.assertFault(self.request('PUT', '/v2.1/os-hosts/host4', {
            'maintenance_mode': 'enable', 'status': 'enable'}),
            400, 'badRequest', 'without status')
        self.put_host('host4', {'maintenance_mode': 'enable'})
        result = self.put_host('host4', {'maintenance_mode': 'disable',
                                         'status': 'disable'})
        self.assertEqual(('disabled', 'off_maintenance'),
                         (result['status'], result['maintenance_mode']))
        self.assertEqual('disabled', self.hosts()['host4']['status'])

    def test_dry_run_when_already_in_maintenance(self):
        self.put_host('host4', {'maintenance_mode': 'enable'})
        self.assertEqual(
            {'host': 'host4', 'status': 'disabled',
             'maintenance_mode': 'on_maintenance', 'plan': []},
            self.put_host('host4', {'maintenance_mode': 'enable',
                                    'dry_run': True}))

    def test_legacy_xml_request_json_answer(self):
        response = self.request(
            'PUT', '/v1.1/admin/os-hosts/host3',
            b'<updates><status>disable</status></updates>',
            content_type='application/xml')
        self.assertEqual(200, response.status_int, response.body)
        self.assertEqual('disabled', response.json['status'])

    def test_legacy_surface_json_and_xml(self):
        result = self.put_host('host3', {'status': 'disable'},
                               prefix='/v1.1/admin')
        self.assertEqual('disabled', result['status'])
        response = self.request(
            'PUT', '/v1.1/admin/os-hosts/host3.xml',
            b'<updates><status>enable</status></updates>',
            content_type='application/xml')
        self.assertEqual(200, response.status_int, response.body)
        root = ElementTree.fromstring(response.body)
        self.assertEqual('host', root.tag.rpartition('}')[2])
        self.assertEqual('enabled', self.hosts()['host3']['status'])


class TestServices(MaintenanceTestCase):

    def service(self, host):
        found, = [s for s in self.json_request(
            'GET', '/v2.1/os-services')['services'] if s['host'] == host]
        return found

    def test_disable_enable_and_reason(self):
        body = {'host': 'host3', 'binary': 'nova-compute'}
        self.assertEqual({'service': dict(body, status='disabled')},
                         self.json_request('PUT', '/v2.1/os-services/disable',
                                           body))
        self.assertEqual('disabled', self.hosts()['host3']['status'])
        self.json_request('PUT', '/v2.1/os-services/enable', body)
        self.assertEqual('enabled', self.service('host3')['status'])
        result = self.json_request(
            'PUT', '/v2.1/os-services/disable-log-reason',
            dict(body, disabled_reason='disk swap'))
        self.assertEqual('disk swap', result['service']['disabled_reason'])
        self.assertEqual('disk swap', self.service('host3')['disabled_reason'])

    def test_update_by_id(self):
        service_id = self.service('host3')['id']
        result = self.json_request(
            'PUT', '/v2.1/os-services/%s' % service_id,
            {'status': 'disabled', 'disabled_reason': 'fan'})['service']
        self.assertEqual(('host3', 'disabled', 'fan'),
                         (result['host'], result['status'],
                          result['disabled_reason']))
        self.json_request('PUT', '/v2.1/os-services/%s' % service_id,
                          {'status': 'enabled'})
        self.assertEqual('enabled', self.service('host3')['status'])
        self.assertFault(self.request('PUT', '/v2.1/os-services/9999',
                                      {'status': 'enabled'}),
                         404, 'itemNotFound')
        self.assertFault(self.request('PUT', '/v2.1/os-services/disable',
                                      {'host': 'host3'}),
                         400, 'badRequest', 'binary')


class TestInterrupted(MaintenanceTestCase):
    """A process that died during a status or maintenance change: the
    reconciliation rolls the change back (the host as recorded)."""

    DEAD = '%s:%d' % (socket.gethostname(), 2 ** 22 + 12345)

    def reconcile(self):
        return self.api.services.recovery.reconcile_interrupted(self.context)

    def test_interrupted_evacuation_of_a_member(self):
        host2 = virt_driver.ComputeHost(name='host2')
        self.driver.set_host_enabled(None, host2, False)
        db.aggregate_compare_and_set_state(
            self.context, self.agg_id, constants.MAY_CHANGE,
            operational_state=constants.CHANGING, pending_host='host2',
            task_owner=self.DEAD, task_started_at=db.now())
        self.assertFault(self.request('PUT', '/v2.1/os-hosts/host2',
                                      {'status': 'enable'}),
                         409, 'conflictingRequest')
        self.assertEqual([self.agg_id], self.reconcile())
        self.assertTrue(self.driver.get_host_enabled(None, host2))
        self.assertEqual('active',
                         self.aggregate()['metadata']['operational_state'])
        self.put_host('host2', {'status': 'disable'})

    def test_interrupted_change_of_a_host_in_no_pool(self):
        host4 = virt_driver.ComputeHost(name='host4')
        self.driver.set_host_enabled(None, host4, False)
        self.assertTrue(db.compute_host_claim(self.context, 'host4',
                                              self.DEAD))
        self.assertFault(self.request('PUT', '/v2.1/os-hosts/host4',
                                      {'status': 'disable'}),
                         409, 'conflictingRequest', 'in progress')
        self.reconcile()
        self.assertTrue(self.driver.get_host_enabled(None, host4))
        self.assertEqual('disabled', self.put_host(
            'host4', {'status': 'disable'})['status'])


class TestConcurrentMigrations(MaintenanceTestCase):

    config_overrides = {('maintenance', 'max_concurrent_migrations'): 2}

    def test_all_move_at_two_at_once(self):
        for i in range(5):
            self.driver.add_guest('host2', 'small%d' % i, 256)
        result = self.put_host('host2', {'maintenance_mode': 'enable'})
        self.assertEqual(7, len(result['evacuated']))
        for move in result['evacuated']:
            self.assertEqual(move['to'], self.where(move['vm']))
            self.assertNotEqual('host2', move['to'])
        back = self.put_host('host2', {'maintenance_mode': 'disable'})
        self.assertEqual(7, len(back['restored']))


class TestPoolFormedAgain(MaintenanceTestCase):
    """The simulator forgets its pools at a restart (make serve): forming a
    recorded pool again keeps its disabled and in-maintenance members."""

    def test_members_out_of_service_join_again_as_they_were(self):
        self.put_host('host3', {'maintenance_mode': 'enable'})
        self.put_host('host2', {'status': 'disable'})
        host2 = virt_driver.ComputeHost(name='host2')
        self.driver.set_host_enabled(None, host2, True)  # a fresh hypervisor
        agg = self.api.services.recovery.reform_pool(self.context,
                                                     self.agg_id)
        self.assertEqual(['host1', 'host2', 'host3'], sorted(agg['hosts']))
        self.assertFalse(self.driver.get_host_enabled(None, host2))
        hosts = self.hosts()
        self.assertEqual(('disabled', 'on_maintenance'),
                         (hosts['host3']['status'],
                          hosts['host3']['maintenance_mode']))
        self.assertEqual('disabled', hosts['host2']['status'])


class TestHostList(MaintenanceTestCase):
    """nova-aggregates-manage host list shows status, maintenance and how
    many evacuated guests are away."""

    def test_listing(self):
        self.put_host('host2', {'maintenance_mode': 'enable'})
        self.put_host('host3', {'status': 'disable'})
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            manage._host_list(self.conf)
        rows = {line.split()[0]: line.split()
                for line in out.getvalue().splitlines()[1:]}
        self.assertEqual(['disabled', 'on_maintenance', '2'],
                         rows['host2'][-3:])
        self.assertEqual(['disabled', 'off_maintenance', '0'],
                         rows['host3'][-3:])
        self.assertEqual(['enabled', 'off_maintenance', '0'],
                         rows['host1'][-3:])
