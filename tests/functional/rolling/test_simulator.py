"""Rolling maintenance of a pool of 4 simulated XenServer hosts through the
real XenAPI SDK (api-contract §14): the task runner of this process takes
every host through evacuation, ``host.reboot`` and restore while a sampler
reads every guest's power state and host, and every host's state, from the
simulator every few milliseconds:

* every guest that ran keeps running, on exactly one host, throughout;
* at most one host is out of service at a time, and the pool's master is
  never the host being rebooted (its role is handed over first);
* each host is rebooted once; at the end every guest is back home, every
  host in service, and the database agrees with XenServer.

Then the failure points on the real SDK: reboot refused, host not coming
back, evacuation refused, a failing command; each stops the task with the
failed host's guests safe on other members.
"""

import threading
import time

import fixtures
import testtools

from tests import base
from tests import fixtures as na_fixtures
from tests.functional import pool_fixtures
from tests.functional import test_pool_maintenance

GIB = 1024 ** 3
URL = '/v2.1/os-rolling-maintenance'
HOSTS = ('xenhost1', 'xenhost2', 'xenhost3', 'xenhost4')
XENAPI = {'call_timeout': 2.0, 'connect_timeout': 1.0, 'join_timeout': 2.0,
          'poll_interval': 0.01}


class SimulatorTestCase(test_pool_maintenance.NothingLostMixin,
                        base.JSONRequestMixin, testtools.TestCase):
    """Pool aggregate ``rack`` of xenhost1 (master) .. xenhost4; guests
    web, db on xenhost2, cache on xenhost3, app on xenhost1."""

    def setUp(self):
        super().setUp()
        self.useFixture(fixtures.FakeLogger())
        self.fleet = self.useFixture(
            test_pool_maintenance.MaintenanceFleetFixture(
                hosts=4, reboot_delay=0.1)).fleet
        pool_fixtures._ensure_conf_parsed()
        conf = self.useFixture(na_fixtures.ConfFixture())
        for name, value in dict(pool_fixtures.XENAPI_OPTIONS,
                                **XENAPI).items():
            conf.config(**{name: value, 'group': 'xenapi'})
        conf.config(reboot_timeout=10, migration_timeout=10,
                    group='maintenance')
        self.conf_fixture = conf
        self.api = self.useFixture(na_fixtures.APIFixture(
            compute_driver='xenapi'))
        for number, host in enumerate(self.fleet.hosts, 1):
            self.api.register_host(host.name, 'az1', host.url)
        agg = self.json_request('POST', '/v2.1/os-aggregates', {
            'aggregate': {'name': 'rack'}})['aggregate']
        self.agg_id = agg['id']
        self.agg_action('set_metadata', {'metadata': {
            'hypervisor_pool': 'true'}})
        for host in HOSTS:
            self.agg_action('add_host', {'host': host})
        self.guests, self.home = {}, {}
        for host, name, size in (('xenhost2', 'web', 2), ('xenhost2', 'db', 1),
                                 ('xenhost3', 'cache', 1),
                                 ('xenhost1', 'app', 1)):
            uuid = self.fleet.add_vm(host, name, memory=size * GIB)
            self.guests[name], self.home[uuid] = uuid, host
        self.running = {u: n for n, u in self.guests.items()}
        self.assertTrue(self.fleet.settle())
        self.runner = self.api.services.task_runner()

    def request(self, method, path, body=None):
        return self.api.request(method, path, body)

    def agg_action(self, name, body):
        return self.json_request(
            'POST', '/v2.1/os-aggregates/%d/action' % self.agg_id,
            {name: body})

    def aggregate(self):
        return self.json_request('GET', '/v2/admin/os-aggregates/%d' %
                                 self.agg_id)['aggregate']

    def show(self, task_id):
        return self.json_request('GET', '%s/%d' % (URL, task_id))[
            'rolling_maintenance']

    def roll(self, **values):
        """Create a task, run it to its end with a sampler running; the
        task and what the sampler saw."""
        values.setdefault('aggregate_id', self.agg_id)
        sampler = Sampler(self)
        sampler.start()
        task = self.json_request('POST', URL, {'rolling_maintenance': values},
                                 expected=202)['rolling_maintenance']
        self.runner.run_once(wait=True)
        sampler.stop()
        return self.show(task['id']), sampler


class Sampler(threading.Thread):
    """Reads every guest and host from the simulator until stopped."""

    def __init__(self, case):
        super().__init__(daemon=True)
        self.case = case
        self.fleet = case.fleet
        self.done = threading.Event()
        self.guest_problems = []
        self.out_of_service_at_once = 0
        self.rebooting_seen = set()
        self.master_problems = []
        self.samples = 0

    def run(self):
        while not self.done.is_set():
            vms = {vm['uuid']: vm for vm in self.fleet.vms()}
            for uuid, name in self.case.running.items():
                vm = vms.get(uuid)
                if vm is None or vm['power_state'] != 'Running' or \
                        not vm['host']:
                    self.guest_problems.append((name, vm))
            states = {h['name']: h for h in self.fleet.host_states()}
            away = [n for n, h in states.items()
                    if not h['enabled'] or h['state'] not in ('master',
                                                              'member')]
            self.out_of_service_at_once = max(self.out_of_service_at_once,
                                              len(away))
            for name, host in states.items():
                if host['state'] == 'rebooting':
                    self.rebooting_seen.add(name)
                    if host['master'] == name or any(
                            p['master'] == name for p in self.fleet.pools()):
                        self.master_problems.append(name)
            self.samples += 1
            time.sleep(0.002)

    def stop(self):
        self.done.set()
        self.join(10)


class TestRollingReboot(SimulatorTestCase):

    def test_whole_pool_rebooted_with_every_guest_running(self):
        task, seen = self.roll(host_action='reboot')
        self.assertEqual('succeeded', task['state'], task)
        self.assertEqual(list(HOSTS), [h['host'] for h in task['hosts']])
        self.assertEqual(['done'] * 4, [h['state'] for h in task['hosts']])
        self.assertEqual([1, 2, 1, 0],
                         [h['guests_moved'] for h in task['hosts']])
        self.assertGreater(seen.samples, 20)
        self.assertEqual([], seen.guest_problems[:5])
        self.assertEqual(set(HOSTS), seen.rebooting_seen)
        self.assertEqual(1, seen.out_of_service_at_once)
        self.assertEqual([], seen.master_problems)
        reboots = [c for c in self.fleet.call_log() if c[1] == 'host.reboot']
        self.assertEqual(4, len(reboots))
        where = self.assertNothingLost()
        self.assertEqual(self.home, where)

    def test_reboot_refused(self):
        self.fleet.inject('host.reboot', error=['HOST_OFFLINE', 'ref'],
                          times=1)
        task, seen = self.roll(host_action='reboot',
                               hosts=['xenhost2', 'xenhost3'])
        self.assertEqual('failed', task['state'])
        self.assertEqual(['failed', 'pending'],
                         [h['state'] for h in task['hosts']])
        self.assertIn('HOST_OFFLINE', task['hosts'][0]['message'])
        self.assertEqual([], seen.guest_problems[:5])
        # xenhost2 stays in maintenance, its guests on other members.
        where = self.assertNothingLost(maintenance=('xenhost2',),
                                       evacuated='xenhost2')
        self.assertNotIn('xenhost2', where.values())
        # Resumed: the reboot again, then the guests come back.
        self.runner.join()
        self.json_request('POST', '%s/%d/action' % (URL, task['id']),
                          {'resume': None}, expected=202)
        self.runner.run_once(wait=True)
        self.assertEqual('succeeded', self.show(task['id'])['state'])
        self.assertEqual(self.home, self.assertNothingLost())

    def test_host_not_coming_back(self):
        self.conf_fixture.config(reboot_timeout=0.5, group='maintenance')
        self.fleet.inject('host.reboot', action='never_back', times=1)
        task, seen = self.roll(host_action='reboot', hosts=['xenhost3'])
        self.assertEqual('failed', task['state'])
        self.assertIn('did not answer again within 0.5 seconds',
                      task['hosts'][0]['message'])
        self.assertEqual([], seen.guest_problems[:5])
        self.assertNotEqual('xenhost3', self.fleet.vm_location(
            self.guests['cache']))
        self.assertEqual('Running', {
            vm['uuid']: vm for vm in self.fleet.vms()}[
                self.guests['cache']]['power_state'])

    def test_evacuation_refused(self):
        # The task's third migration, web off xenhost2 (the first two
        # take app off the master and back).
        self.fleet.inject('Async.VM.pool_migrate', delay=0.001, times=2)
        self.fleet.inject('Async.VM.pool_migrate',
                          error=['VM_REQUIRES_SR', 'vm', 'sr'], times=1)
        task, seen = self.roll(host_action='reboot')
        self.assertEqual('failed', task['state'])
        self.assertEqual(['done', 'failed', 'pending', 'pending'],
                         [h['state'] for h in task['hosts']])
        self.assertIn('VM_REQUIRES_SR', task['hosts'][1]['message'])
        self.assertEqual([], seen.guest_problems[:5])
        # The evacuation stopped: xenhost2 enabled again, out of
        # maintenance; a guest moved before the failure stays where it is.
        self.assertNothingLost(evacuated='xenhost2')

    def test_guest_refused_back_is_named(self):
        # app's migration back to xenhost1 (the task's second) is refused:
        # xenhost1 is done, and its message says what stayed away.
        self.fleet.inject('Async.VM.pool_migrate', delay=0.001, times=1)
        self.fleet.inject('Async.VM.pool_migrate',
                          error=['VM_REQUIRES_SR', 'vm', 'sr'], times=1)
        task, seen = self.roll(hosts=['xenhost1'])
        self.assertEqual('succeeded', task['state'])
        self.assertIn('Not moved back: app (%s)' % self.guests['app'],
                      task['hosts'][0]['message'])
        self.assertIn('VM_REQUIRES_SR', task['hosts'][0]['message'])
        self.assertEqual([], seen.guest_problems[:5])
        self.assertNotEqual('xenhost1', self.assertNothingLost()[
            self.guests['app']])

    def test_command_failing(self):
        self.conf_fixture.config(host_command="sh -c 'exit 7'",
                                 group='maintenance')
        task, seen = self.roll(host_action='command', hosts=['xenhost3'])
        self.assertEqual('failed', task['state'])
        self.assertIn('exited with status 7', task['hosts'][0]['message'])
        self.assertEqual([], seen.guest_problems[:5])
        where = self.assertNothingLost(maintenance=('xenhost3',),
                                       evacuated='xenhost3')
        self.assertNotIn('xenhost3', where.values())
