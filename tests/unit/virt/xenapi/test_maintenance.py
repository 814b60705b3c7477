"""Host maintenance primitives of the xenapi driver against the XenServer
simulator, through the real ``XenAPI`` SDK.

What the driver reports is checked against what XenServer holds, read back
through a separate SDK session: where every VM is resident, which tasks
exist, which host is master.  ``XenAPIScenarioTest`` plays the scenario of
``tests/unit/virt/test_fake_maintenance.py`` and must get the fake driver's
transcript.
"""

import threading
import time

import fixtures
import testtools
import XenAPI

from nova_aggregates import exception
from nova_aggregates.virt import driver
from nova_aggregates.virt.xenapi import driver as xdriver
from nova_aggregates.xenserver_sim import Fleet
from tests.unit.virt import test_fake_maintenance as scenario
from tests.unit.virt.xenapi import test_pool
from tests.unit.virt.xenapi import test_session as base

MIB = 1024 ** 2
GIB = 1024 ** 3
NULL_REF = 'OpaqueRef:NULL'
POOL_HOSTS = ('xenhost1', 'xenhost2', 'xenhost3')


class MaintenanceTestCase(testtools.TestCase):
    """Hosts 1-3 form a pool (master xenhost1); xenhost4 stays alone."""

    HOSTS = 4
    FLEET = {}
    MIGRATION_TIMEOUT = 5.0

    def setUp(self):
        super().setUp()
        self.useFixture(fixtures.FakeLogger())
        self.fleet = Fleet(hosts=self.HOSTS, username='root',
                           password=base.PASSWORD, join_delay=0.02,
                           eject_delay=0.02, **self.FLEET)
        self.addCleanup(self.fleet.stop)
        self.fleet.start()
        self.driver = self.make_driver()
        self.book = test_pool.Book()
        for name in POOL_HOSTS:
            self.book.add(self.driver, self.compute(name))
        self.assertTrue(self.fleet.settle())
        self.fleet.clear_call_log()

    def make_driver(self, **xenapi):
        conf = base.make_conf(**xenapi)
        conf.set_override('migration_timeout', self.MIGRATION_TIMEOUT,
                          group='maintenance')
        drv = xdriver.XenAPIDriver(conf)
        self.addCleanup(drv.cleanup)
        return drv

    def compute(self, name):
        return driver.ComputeHost(name=name,
                                  hypervisor_url=self.fleet.host(name).url)

    @property
    def pool(self):
        return self.book.pool()

    # -- the SDK's view ---------------------------------------------------

    def sdk(self, name=None):
        """A logged-in SDK session to ``name`` (default: the master)."""
        session = XenAPI.Session(self.fleet.host(name or self.book.master).url)
        session.login_with_password('root', base.PASSWORD)
        self.addCleanup(session('close'))
        return session

    def vm_ref(self, uuid, session=None):
        return (session or self.sdk()).xenapi.VM.get_by_uuid(uuid)

    def residence(self, session=None):
        """{VM name: host name} of every running guest, read from each
        host's resident_VMs; fails unless each is on exactly one host."""
        api = (session or self.sdk()).xenapi
        hosts = api.host.get_all_records()
        seen = {}
        for host_ref, host in hosts.items():
            for vm_ref in api.host.get_resident_VMs(host_ref):
                vm = api.VM.get_record(vm_ref)
                if vm['is_control_domain']:
                    continue
                self.assertNotIn(vm['name_label'], seen,
                                 'resident on two hosts')
                self.assertEqual(host_ref, vm['resident_on'])
                seen[vm['name_label']] = host['hostname']
        return seen

    def tasks(self, session=None):
        return (session or self.sdk()).xenapi.task.get_all()

    def guest(self, name, host='xenhost1'):
        for guest in self.driver.list_guests(self.pool, self.compute(host)):
            if guest.name == name:
                return guest
        raise AssertionError('no guest %s on %s' % (name, host))

    def calls(self):
        return [m for _, m in self.fleet.call_log()]

    def assertRefused(self, code, func, *args):
        exc = self.assertRaises(exception.PoolOperationRefused, func, *args)
        self.assertEqual(code, exc.code)
        self.assertIn(code, str(exc))
        return exc


class HostStatusTest(MaintenanceTestCase):

    def test_resources_from_host_metrics_and_local_storage(self):
        self.fleet.configure_host('xenhost2', cpus=16, memory=64 * GIB,
                                  disk=2048 * GIB, disk_used=300 * GIB)
        self.fleet.add_vm('xenhost2', 'web', memory=2 * GIB)
        resources = self.driver.get_host_resources(
            self.pool, self.compute('xenhost2'))
        api = self.sdk().xenapi
        host_ref = api.host.get_by_uuid(self.fleet.host('xenhost2').uuid)
        metrics = api.host_metrics.get_record(api.host.get_metrics(host_ref))
        total, free = int(metrics['memory_total']), int(metrics['memory_free'])
        self.assertEqual(int(api.host.compute_free_memory(host_ref)), free)
        self.assertEqual(
            driver.HostResources(cpu=16, memory_mb=65536,
                                 memory_mb_used=(total - free) // MIB,
                                 disk_gb=2048, disk_gb_used=300),
            resources)
        # dom0, the host's overhead and the guest.
        self.assertEqual(4096 + 256 + 2048, resources.memory_mb_used)
        # A host in no pool aggregate is asked itself.
        self.assertEqual(
            driver.HostResources(cpu=8, memory_mb=32768,
                                 memory_mb_used=4096 + 256, disk_gb=500,
                                 disk_gb_used=0),
            self.driver.get_host_resources(None, self.compute('xenhost4')))
        self.assertEqual({'xenhost4'},
                         {h for h, _ in self.fleet.call_log()} - {'xenhost1'})

    def test_enable_disable_is_idempotent_and_real(self):
        api = self.sdk().xenapi
        ref = api.host.get_by_uuid(self.fleet.host('xenhost3').uuid)
        for _ in range(2):
            self.driver.set_host_enabled(self.pool, self.compute('xenhost3'),
                                         False)
            self.assertFalse(api.host.get_enabled(ref))
            self.assertFalse(self.driver.get_host_enabled(
                self.pool, self.compute('xenhost3')))
        self.driver.set_host_enabled(self.pool, self.compute('xenhost3'),
                                     True)
        self.assertTrue(api.host.get_enabled(ref))
        self.assertTrue(self.driver.get_host_enabled(
            self.pool, self.compute('xenhost3')))
        # Everything about a member is asked of the master.
        self.assertEqual({'xenhost1'}, {h for h, _ in self.fleet.call_log()})
        alone = self.compute('xenhost4')
        self.driver.set_host_enabled(None, alone, False)
        self.assertFalse(self.fleet.host_state('xenhost4')['enabled'])
        self.assertFalse(self.driver.get_host_enabled(None, alone))

    def test_enable_refused(self):
        self.fleet.inject('host.enable',
                          error=['HOST_DISABLED_UNTIL_REBOOT', 'ref'])
        self.assertRefused('HOST_DISABLED_UNTIL_REBOOT',
                           self.driver.set_host_enabled, self.pool,
                           self.compute('xenhost2'), True)

    def test_slow_change_is_confirmed(self):
        # host.disable answers after call_timeout, but it happens: the
        # host's record says so within join_timeout.
        drv = self.make_driver(call_timeout=0.3, join_timeout=1.0)
        self.fleet.inject('host.disable', delay=0.6)
        drv.set_host_enabled(self.pool, self.compute('xenhost2'), False)
        self.assertFalse(self.fleet.host_state('xenhost2')['enabled'])
        self.assertIn('host.get_enabled', self.calls())

    def test_change_not_seen_in_time_is_a_timeout(self):
        drv = self.make_driver(call_timeout=0.2, join_timeout=0.2)
        self.fleet.inject('host.disable', delay=1.0)
        self.assertRaises(exception.HypervisorTimeout, drv.set_host_enabled,
                          self.pool, self.compute('xenhost2'), False)
        self.assertTrue(self.fleet.host_state('xenhost2')['enabled'])

    def test_list_guests(self):
        self.fleet.add_vm('xenhost1', 'web', memory=1 * GIB)
        self.fleet.add_vm('xenhost1', 'db', memory=3 * GIB)
        self.fleet.add_vm('xenhost1', 'off', running=False)
        paused = self.fleet.add_vm('xenhost1', 'paused', running=False)
        self.fleet.add_vm('xenhost2', 'elsewhere')
        api = self.sdk().xenapi
        api.VM.start(self.vm_ref(paused), True, False)
        guests = self.driver.list_guests(self.pool, self.compute('xenhost1'))
        self.assertEqual(
            [('db', 3 * GIB, 'xenhost1', 'Running'),
             ('paused', GIB, 'xenhost1', 'Paused'),
             ('web', GIB, 'xenhost1', 'Running')],
            [(g.name, g.memory, g.host, g.power_state) for g in guests])
        self.assertEqual(
            {api.VM.get_uuid(vm) for vm in api.VM.get_by_name_label('db')},
            {guests[0].uuid})
        alone = self.compute('xenhost4')
        self.fleet.add_vm('xenhost4', 'solo')
        self.assertEqual(['solo'], [
            g.name for g in self.driver.list_guests(None, alone)])

    def test_free_memory_is_what_xapi_computes(self):
        self.fleet.add_vm('xenhost2', 'web', memory=5 * GIB)
        hosts = [self.compute(n) for n in POOL_HOSTS]
        free = self.driver.free_memory(self.pool, hosts)
        api = self.sdk().xenapi
        self.assertEqual(
            {n: int(api.host.compute_free_memory(
                api.host.get_by_uuid(self.fleet.host(n).uuid)))
             for n in POOL_HOSTS}, free)
        self.assertEqual(5 * GIB, free['xenhost1'] - free['xenhost2'])
        self.assertRefused('NOVA_HOST_NOT_IN_POOL', self.driver.free_memory,
                           self.pool, [self.compute('xenhost4')])


class LiveMigrationTest(MaintenanceTestCase):

    def test_moves_exactly_one_vm_to_exactly_one_host(self):
        for name, host in (('a', 'xenhost1'), ('b', 'xenhost1'),
                           ('c', 'xenhost2')):
            self.fleet.add_vm(host, name)
        before = self.residence()
        self.assertEqual('xenhost3', self.driver.live_migrate(
            self.pool, self.guest('a'), self.compute('xenhost3')))
        after = self.residence()
        self.assertEqual(dict(before, a='xenhost3'), after)
        self.assertEqual([], self.tasks())
        self.assertEqual('xenhost3', self.driver.guest_location(
            self.pool, self.guest('a', 'xenhost3').uuid))

    def test_calls_per_guest_migrated(self):
        for name in ('a', 'b'):
            self.fleet.add_vm('xenhost1', name)
        guests = self.driver.list_guests(self.pool, self.compute('xenhost1'))
        self.driver.live_migrate(self.pool, guests[0], self.compute('xenhost2'))
        self.fleet.clear_call_log()
        self.driver.live_migrate(self.pool, guests[1], self.compute('xenhost2'))
        calls = self.calls()
        self.assertEqual({'xenhost1'}, {h for h, _ in self.fleet.call_log()})
        self.assertEqual('Async.VM.pool_migrate', calls[0])
        self.assertEqual(['task.destroy', 'VM.get_resident_on'], calls[-2:])
        polls = calls[1:-2]
        self.assertGreaterEqual(len(polls), 1)
        self.assertEqual({'task.get_status'}, set(polls))
        # Cold: a new driver looks both refs up first (after its login).
        cold = self.make_driver()
        self.fleet.clear_call_log()
        cold.live_migrate(self.pool, guests[0], self.compute('xenhost3'))
        self.assertEqual(['session.login_with_password', 'VM.get_by_uuid',
                          'host.get_by_uuid', 'Async.VM.pool_migrate'],
                         self.calls()[:4])
        self.assertEqual({'a': 'xenhost3', 'b': 'xenhost2'},
                         self.residence())

    def test_refusals_carry_the_code_and_leave_the_guest(self):
        self.fleet.add_vm('xenhost1', 'web', memory=4 * GIB)
        web = self.guest('web')
        self.driver.set_host_enabled(self.pool, self.compute('xenhost2'),
                                     False)
        exc = self.assertRefused('HOST_DISABLED', self.driver.live_migrate,
                                 self.pool, web, self.compute('xenhost2'))
        self.assertEqual('xenhost1', exc.kwargs['location'])
        self.assertIn('web (%s)' % web.uuid, str(exc))
        self.assertIn(self.fleet.host('xenhost2').ref, str(exc))
        self.fleet.configure_host('xenhost3', memory=6 * GIB)
        exc = self.assertRefused('HOST_NOT_ENOUGH_FREE_MEMORY',
                                 self.driver.live_migrate, self.pool, web,
                                 self.compute('xenhost3'))
        self.assertTrue(exc.kwargs['details'].startswith(str(4 * GIB)))
        self.assertEqual('xenhost1', exc.kwargs['location'])
        self.assertRefused('NOVA_HOST_NOT_IN_POOL', self.driver.live_migrate,
                           self.pool, web, self.compute('xenhost4'))
        self.assertRefused('NOVA_HOST_NOT_IN_POOL', self.driver.live_migrate,
                           None, web, self.compute('xenhost2'))
        self.assertEqual({'web': 'xenhost1'}, self.residence())
        self.assertEqual([], self.tasks())

    def test_not_running(self):
        paused = self.fleet.add_vm('xenhost1', 'paused', running=False)
        halted = self.fleet.add_vm('xenhost1', 'halted', running=False)
        api = self.sdk().xenapi
        api.VM.start(self.vm_ref(paused), True, False)
        exc = self.assertRefused(
            'VM_BAD_POWER_STATE', self.driver.live_migrate, self.pool,
            self.guest('paused'), self.compute('xenhost2'))
        self.assertIn('running paused', exc.kwargs['details'])
        self.assertEqual('xenhost1', exc.kwargs['location'])
        stopped = driver.Guest(halted, 'halted', GIB, 'xenhost1', 'Halted')
        exc = self.assertRefused('VM_BAD_POWER_STATE',
                                 self.driver.live_migrate, self.pool, stopped,
                                 self.compute('xenhost2'))
        self.assertIsNone(exc.kwargs['location'])
        gone = driver.Guest('2c1e4aa4-7a5c-4c1e-9d7e-000000000000', 'gone',
                            GIB, 'xenhost1')
        self.assertRefused('UUID_INVALID', self.driver.live_migrate,
                           self.pool, gone, self.compute('xenhost2'))
        self.assertEqual([], self.tasks())

    def test_failed_task_reports_xenserver_code(self):
        self.fleet.add_vm('xenhost1', 'web')
        self.fleet.inject('VM.pool_migrate',
                          error=['VM_MIGRATE_FAILED', 'vm', 'src', 'dst',
                                 'network down'])
        exc = self.assertRefused('VM_MIGRATE_FAILED',
                                 self.driver.live_migrate, self.pool,
                                 self.guest('web'), self.compute('xenhost2'))
        self.assertIn('network down', str(exc))
        self.assertIn('Async.VM.pool_migrate on xenhost1', str(exc))
        self.assertEqual('xenhost1', exc.kwargs['location'])
        self.assertIn('task.get_error_info', self.calls())
        self.assertEqual([], self.tasks())
        self.assertEqual({'web': 'xenhost1'}, self.residence())


class MigrationTimeoutTest(MaintenanceTestCase):

    MIGRATION_TIMEOUT = 0.3

    def test_timeout_cancels_the_task(self):
        self.fleet.add_vm('xenhost1', 'web', memory=2 * GIB)
        target = self.compute('xenhost2')
        free = self.driver.free_memory(self.pool, [target])
        self.fleet.inject('Async.VM.pool_migrate', action='hang')
        start = time.monotonic()
        exc = self.assertRaises(exception.HypervisorTimeout,
                                self.driver.live_migrate, self.pool,
                                self.guest('web'), target)
        self.assertGreaterEqual(time.monotonic() - start, 0.3)
        self.assertEqual('xenhost1', exc.kwargs['location'])
        self.assertIn('cancelled', str(exc))
        self.assertIn('0.3 seconds', str(exc))
        calls = self.calls()
        self.assertLess(calls.index('task.cancel'), calls.index('task.destroy'))
        self.assertEqual({'web': 'xenhost1'}, self.residence())
        self.assertEqual([], self.tasks())
        # The target's memory is free again, the VM not busy any more.
        self.assertEqual(free, self.driver.free_memory(self.pool, [target]))
        api = self.sdk().xenapi
        vm = api.VM.get_by_name_label('web')[0]
        self.assertEqual({}, api.VM.get_current_operations(vm))
        # Without the fault it goes through.
        self.assertEqual('xenhost2', self.driver.live_migrate(
            self.pool, self.guest('web'), target))
        self.assertEqual({'web': 'xenhost2'}, self.residence())


#: Seconds each live migration of ConcurrentMigrationTest takes: long
#: enough that what a test does while one runs happens while it runs on a
#: loaded machine too.
CONCURRENT_MIGRATION_SECONDS = 1.0


class ConcurrentMigrationTest(MaintenanceTestCase):

    FLEET = {'migrate_delay': CONCURRENT_MIGRATION_SECONDS}

    def migrate_all(self, moves):
        """Run ``moves`` [(guest, target name)] in parallel threads;
        {guest name: host name or refusal code}.  ``self.took``: seconds
        each one took."""
        results = {}
        self.took = {}

        def move(guest, target):
            start = time.monotonic()
            try:
                results[guest.name] = self.driver.live_migrate(
                    self.pool, guest, self.compute(target))
            except exception.PoolOperationRefused as exc:
                results[guest.name] = exc.code
            self.took[guest.name] = time.monotonic() - start

        threads = [threading.Thread(target=move, args=m) for m in moves]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        return results

    def test_migrations_run_side_by_side(self):
        for i in range(4):
            self.fleet.add_vm('xenhost1', 'g%d' % i)
        guests = self.driver.list_guests(self.pool, self.compute('xenhost1'))
        moves = [(g, POOL_HOSTS[1 + i % 2]) for i, g in enumerate(guests)]
        start = time.monotonic()
        results = self.migrate_all(moves)
        elapsed = time.monotonic() - start
        expected = {g.name: t for g, t in moves}
        self.assertEqual(expected, results)
        self.assertEqual(expected, self.residence())
        # Not one after another.
        self.assertLess(elapsed, 4 * CONCURRENT_MIGRATION_SECONDS * 0.75)
        self.assertEqual([], self.tasks())

    def test_target_memory_is_held_while_migrating(self):
        # Room on xenhost3 for one of the two.
        self.fleet.configure_host('xenhost3', memory=4 * GIB + 256 * MIB +
                                  3 * GIB)
        for name in ('a', 'b'):
            self.fleet.add_vm('xenhost1', name, memory=2 * GIB)
        results = self.migrate_all([(self.guest('a'), 'xenhost3'),
                                    (self.guest('b'), 'xenhost3')])
        self.assertEqual(['HOST_NOT_ENOUGH_FREE_MEMORY', 'xenhost3'],
                         sorted(results.values()))
        # Refused when it started (the other one held the memory), not when
        # the other one had arrived.
        refused, = [n for n, r in results.items() if r != 'xenhost3']
        self.assertLess(self.took[refused], CONCURRENT_MIGRATION_SECONDS)
        residence = self.residence()
        self.assertEqual(['xenhost1', 'xenhost3'], sorted(residence.values()))

    def test_one_migration_per_vm_at_a_time(self):
        self.fleet.add_vm('xenhost1', 'web')
        web = self.guest('web')
        results = []

        def move(target):
            try:
                results.append(self.driver.live_migrate(
                    self.pool, web, self.compute(target)))
            except exception.PoolOperationRefused as exc:
                results.append(exc.code)

        first = threading.Thread(target=move, args=('xenhost2',))
        first.start()
        self.assertTrue(
            self._wait(lambda: self.fleet.vms()[0]['migrating_to']))
        move('xenhost3')
        first.join(30)
        self.assertEqual(['OTHER_OPERATION_IN_PROGRESS', 'xenhost2'], results)
        self.assertEqual({'web': 'xenhost2'}, self.residence())

    def _wait(self, predicate, timeout=5):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return True
            time.sleep(0.005)
        return False


class StaleRefTest(MaintenanceTestCase):

    def test_refs_are_read_again_after_an_eject(self):
        self.fleet.add_vm('xenhost1', 'web')
        host3 = self.compute('xenhost3')
        self.driver.live_migrate(self.pool, self.guest('web'), host3)
        self.driver.live_migrate(self.pool, self.guest('web', 'xenhost3'),
                                 self.compute('xenhost1'))
        old_ref = self.fleet.host('xenhost3').ref
        # xenhost3 leaves and comes back: same uuid, new ref.
        self.book.remove(self.driver, host3)
        self.assertTrue(self.fleet.settle())
        self.book.add(self.driver, host3)
        self.assertTrue(self.fleet.settle())
        self.assertNotEqual(old_ref, self.fleet.host('xenhost3').ref)
        self.fleet.clear_call_log()
        self.assertEqual('xenhost3', self.driver.live_migrate(
            self.pool, self.guest('web'), host3))
        self.assertIn('host.get_by_uuid', self.calls())
        self.assertEqual({'web': 'xenhost3'}, self.residence())


class GuestLocationTest(MaintenanceTestCase):

    def test_location(self):
        web = self.fleet.add_vm('xenhost2', 'web')
        off = self.fleet.add_vm('xenhost2', 'off', running=False)
        self.assertEqual('xenhost2', self.driver.guest_location(self.pool,
                                                                web))
        self.assertIsNone(self.driver.guest_location(self.pool, off))
        self.assertIsNone(self.driver.guest_location(
            self.pool, '11111111-2222-4333-8444-555555555555'))
        self.assertIsNone(self.driver.guest_location(None, web))
        # Moved behind the driver's back: it reads where it is now.
        api = self.sdk().xenapi
        api.VM.pool_migrate(self.vm_ref(web), api.host.get_by_uuid(
            self.fleet.host('xenhost3').uuid), {'live': 'true'})
        self.assertEqual('xenhost3', self.driver.guest_location(self.pool,
                                                                web))
        # A guest of another pool is not in this one.
        solo = self.fleet.add_vm('xenhost4', 'solo')
        self.assertIsNone(self.driver.guest_location(self.pool, solo))

    def test_host_identified_without_metadata(self):
        web = self.fleet.add_vm('xenhost3', 'web')
        pool = driver.Pool(
            aggregate_id=self.pool.aggregate_id, name=self.pool.name,
            members=self.pool.members, master=self.pool.master,
            metadata={'master_compute': 'xenhost1'})
        fresh = self.make_driver()
        self.assertEqual('xenhost3', fresh.guest_location(pool, web))
        self.assertEqual(['web'], [g.name for g in fresh.list_guests(
            pool, self.compute('xenhost3'))])


class DesignateNewMasterTest(MaintenanceTestCase):

    def assertMaster(self, master, old):
        """Through the SDK: ``master`` serves the pool as its master and
        ``old`` refuses logins with HOST_IS_SLAVE naming it."""
        session = XenAPI.Session(self.fleet.host(old).url)
        self.addCleanup(session('close'))
        exc = self.assertRaises(XenAPI.Failure, session.login_with_password,
                                'root', base.PASSWORD)
        self.assertEqual(['HOST_IS_SLAVE', self.fleet.host(master).address],
                         exc.details)
        api = self.sdk(master).xenapi
        pool_ref = api.pool.get_all()[0]
        self.assertEqual(self.fleet.host(master).uuid,
                         api.host.get_uuid(api.pool.get_master(pool_ref)))

    def test_hand_over(self):
        self.fleet.add_vm('xenhost1', 'web')
        stale = self.pool
        change = self.driver.designate_new_master(stale,
                                                  self.compute('xenhost2'))
        self.assertEqual(driver.PoolChange(
            set_metadata={'master_compute': 'xenhost2'}), change)
        self.assertMaster('xenhost2', 'xenhost1')
        self.assertEqual('xenhost2', self.fleet.pool_of('xenhost1')['master'])
        # A caller still holding the old Pool is served by the new master
        # directly, as is one with the recorded change.
        self.fleet.clear_call_log()
        self.assertEqual(['web'], [g.name for g in self.driver.list_guests(
            stale, self.compute('xenhost1'))])
        self.book.record(change)
        self.assertEqual('xenhost3', self.driver.live_migrate(
            self.pool, self.guest('web'), self.compute('xenhost3')))
        self.assertEqual({'xenhost2'}, {h for h, _ in self.fleet.call_log()})
        self.assertEqual({'web': 'xenhost3'}, self.residence())
        # And back.
        change = self.driver.designate_new_master(self.pool,
                                                  self.compute('xenhost1'))
        self.book.record(change)
        self.assertMaster('xenhost1', 'xenhost2')

    def test_already_master(self):
        self.assertEqual(driver.PoolChange(
            set_metadata={'master_compute': 'xenhost1'}),
            self.driver.designate_new_master(self.pool,
                                             self.compute('xenhost1')))
        self.assertEqual([], self.fleet.call_log())

    def test_waits_for_a_slow_hand_over(self):
        self.fleet.inject('pool.designate_new_master',
                          action='late_designate', delay=0.3)
        start = time.monotonic()
        self.driver.designate_new_master(self.pool, self.compute('xenhost3'))
        self.assertGreaterEqual(time.monotonic() - start, 0.3)
        self.assertMaster('xenhost3', 'xenhost1')

    def test_hand_over_not_seen_in_time(self):
        drv = self.make_driver(join_timeout=0.3)
        self.fleet.inject('pool.designate_new_master',
                          action='late_designate', delay=30)
        exc = self.assertRaises(exception.HypervisorTimeout,
                                drv.designate_new_master, self.pool,
                                self.compute('xenhost2'))
        self.assertIn('xenhost2 as master and xenhost1 as member', str(exc))

    def test_refused(self):
        self.fleet.inject('pool.designate_new_master',
                          error=['HOST_OFFLINE', 'OpaqueRef:x'])
        exc = self.assertRefused('HOST_OFFLINE',
                                 self.driver.designate_new_master, self.pool,
                                 self.compute('xenhost2'))
        self.assertIn('hand the master role to host xenhost2', str(exc))
        self.assertEqual('xenhost1', self.fleet.pool_of('xenhost1')['master'])
        self.assertRefused('NOVA_HOST_NOT_IN_POOL',
                           self.driver.designate_new_master, self.pool,
                           self.compute('xenhost4'))

    def test_follows_a_hand_over_made_by_someone_else(self):
        api = self.sdk().xenapi
        api.pool.designate_new_master(
            api.host.get_by_uuid(self.fleet.host('xenhost3').uuid))
        self.fleet.add_vm('xenhost2', 'web')
        self.assertEqual('xenhost2', self.driver.guest_location(
            self.pool, self.fleet.vms()[0]['uuid']))
        self.fleet.clear_call_log()
        self.driver.set_host_enabled(self.pool, self.compute('xenhost2'),
                                     False)
        self.assertEqual([('xenhost3', 'host.disable')],
                         self.fleet.call_log())


class XenAPIHarness:
    """The scenario's hosts and guests on the simulator."""

    def __init__(self, test):
        self.test = test
        self.driver = test.driver
        self.fleet = test.fleet

    def pool(self):
        return self.test.pool

    def record(self, change):
        self.test.book.record(change)

    def host(self, name):
        if name in POOL_HOSTS:
            return self.test.compute(name)
        return driver.ComputeHost(name, None)

    def set_memory(self, name, memory_mb):
        self.fleet.configure_host(name, memory=memory_mb * MIB)

    def add_guest(self, host, name, memory_mb, running=True):
        return self.fleet.add_vm(host, name, running=running,
                                 memory=memory_mb * MIB)

    def stop_guest(self, uuid):
        api = self.test.sdk().xenapi
        api.VM.hard_shutdown(api.VM.get_by_uuid(uuid))


class XenAPIScenarioTest(scenario.ScenarioTests, MaintenanceTestCase):

    def make_harness(self):
        return XenAPIHarness(self)

    def test_same_transcript_as_the_fake_driver(self):
        self.assertEqual(scenario.run_scenario(scenario.FakeHarness()),
                         scenario.run_scenario(self.make_harness()))
