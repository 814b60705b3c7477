"""What host maintenance needs from the simulator, through the real XenAPI
SDK: host resources (host_metrics, local storage SR/PBD), live migrations
that take time, hold the target's memory and can hang or be cancelled, and
a master hand-over that can come late."""

import json
import time
import urllib.request

from tests.unit.xenserver_sim import base
from tests.unit.xenserver_sim.test_pools import JoinMixin

GIB = 1024**3
MIB = 1024**2


class PoolMixin(JoinMixin):
    """xenhost1 is master of xenhost2 and xenhost3."""

    def setUp(self):
        super().setUp()
        self.join('xenhost2', 'xenhost1')
        self.join('xenhost3', 'xenhost1')
        self.assertTrue(self.fleet.settle())
        self.master = self.session('xenhost1')
        self.api = self.master.xenapi
        self.refs = {
            n: self.host_ref(self.master, n)
            for n in ('xenhost1', 'xenhost2', 'xenhost3')
        }

    def vm(self, host, name='guest', memory=GIB):
        return self.api.VM.get_by_uuid(
            self.fleet.add_vm(host, name, memory=memory)
        )

    def where(self, vm):
        resident = self.api.VM.get_resident_on(vm)
        if resident == 'OpaqueRef:NULL':
            return None
        return self.api.host.get_hostname(resident)

    def free(self, name):
        return int(self.api.host.compute_free_memory(self.refs[name]))

    def wait_task(self, task, timeout=5.0):
        self.wait_for(
            lambda: self.api.task.get_status(task) != 'pending', timeout
        )
        return self.api.task.get_record(task)


class TestHostResources(PoolMixin, base.SimulatorTestCase):
    FLEET_KWARGS = {'hosts': 3, 'join_delay': 0.01, 'eject_delay': 0.01}

    def test_metrics_storage_and_cpus(self):
        self.fleet.configure_host(
            'xenhost2', cpus=24, memory=48 * GIB, disk=900 * GIB,
            disk_used=120 * GIB,
        )
        self.vm('xenhost2', memory=3 * GIB)
        record = self.api.host.get_record(self.refs['xenhost2'])
        self.assertEqual('24', record['cpu_info']['cpu_count'])
        metrics = self.api.host_metrics.get_record(record['metrics'])
        self.assertEqual(str(48 * GIB), metrics['memory_total'])
        # dom0 (4 GiB), the host's overhead and the guest.
        used = 4 * GIB + 256 * MIB + 3 * GIB
        self.assertEqual(str(48 * GIB - used), metrics['memory_free'])
        self.assertEqual(
            metrics['memory_free'],
            self.api.host.compute_free_memory(self.refs['xenhost2']),
        )
        self.assertTrue(metrics['live'])
        (pbd,) = record['PBDs']
        self.assertEqual(self.refs['xenhost2'], self.api.PBD.get_host(pbd))
        sr = self.api.PBD.get_SR(pbd)
        storage = self.api.SR.get_record(sr)
        self.assertEqual(
            (str(900 * GIB), str(120 * GIB), False, 'user', [pbd]),
            (
                storage['physical_size'],
                storage['physical_utilisation'],
                storage['shared'],
                storage['content_type'],
                storage['PBDs'],
            ),
        )
        self.assertIn(sr, self.api.SR.get_by_name_label('Local storage'))
        # The master sees every member's metrics, SR and PBD.
        self.assertEqual(3, len(self.api.host_metrics.get_all()))
        self.assertEqual(3, len(self.api.SR.get_all()))
        self.assertEqual(3, len(self.api.PBD.get_all_records()))
        # host_metrics and PBDs have no name label.
        self.assertFailure(
            'MESSAGE_METHOD_UNKNOWN', self.api.PBD.get_by_name_label, 'x'
        )

    def test_eject_makes_the_local_objects_anew(self):
        record = self.api.host.get_record(self.refs['xenhost3'])
        self.api.pool.eject(self.refs['xenhost3'])
        self.assertFailure(
            'HANDLE_INVALID', self.api.host_metrics.get_record,
            record['metrics'],
        )
        self.assertFailure(
            'HANDLE_INVALID', self.api.PBD.get_record, record['PBDs'][0]
        )
        self.assertTrue(self.fleet.settle())
        alone = self.session('xenhost3').xenapi
        (host_ref,) = alone.host.get_all()
        fresh = alone.host.get_record(host_ref)
        self.assertNotEqual(record['metrics'], fresh['metrics'])
        self.assertNotEqual(record['PBDs'], fresh['PBDs'])
        self.assertEqual(
            [alone.PBD.get_SR(fresh['PBDs'][0])], alone.SR.get_all()
        )

    def test_control_endpoint_sizes_hosts_and_lists_vms(self):
        def admin(verb, path, body=None):
            request = urllib.request.Request(
                self.fleet.control_url.rstrip('/') + path,
                data=json.dumps(body).encode() if body is not None else None,
                method=verb,
                headers={'Content-Type': 'application/json'},
            )
            with urllib.request.urlopen(request, timeout=5) as response:
                return json.loads(response.read())

        state = admin(
            'POST', '/hosts/xenhost3/config', {'cpus': 2, 'disk': GIB}
        )
        self.assertEqual((2, GIB), (state['cpus'], state['disk']))
        uuid = self.fleet.add_vm('xenhost3', 'web')
        off = self.fleet.add_vm('xenhost3', 'off', running=False)
        vms = admin('GET', '/vms')
        self.assertEqual(
            [('web', 'xenhost3'), ('off', None)],
            [(v['name'], v['host']) for v in vms],
        )
        self.assertEqual('xenhost3', self.fleet.vm_location(uuid))
        self.assertIsNone(self.fleet.vm_location(off))
        self.assertIsNone(self.fleet.vm_location('no-such-vm'))
        self.assertRaises(
            ValueError, self.fleet.configure_host, 'xenhost3', disk=-1
        )


#: Seconds a live migration of TestLiveMigration takes: long enough that
#: what a test checks while one runs is checked while it runs on a loaded
#: machine too.
MIGRATION_SECONDS = 1.0


class TestLiveMigration(PoolMixin, base.SimulatorTestCase):
    FLEET_KWARGS = {'hosts': 3, 'join_delay': 0.01,
                    'migrate_delay': MIGRATION_SECONDS}

    def test_async_migration_takes_time_and_holds_the_target(self):
        vm = self.vm('xenhost1', memory=2 * GIB)
        free = self.free('xenhost2')
        task = self.api.Async.VM.pool_migrate(
            vm, self.refs['xenhost2'], {'live': 'true'}
        )
        self.wait_for(lambda: self.api.task.get_progress(task) > 0)
        self.assertEqual('pending', self.api.task.get_status(task))
        # Still running on the source, its memory already taken on the
        # target, and busy.
        self.assertEqual('xenhost1', self.where(vm))
        self.assertEqual(free - 2 * GIB, self.free('xenhost2'))
        self.assertEqual(
            {task: 'pool_migrate'}, self.api.VM.get_current_operations(vm)
        )
        self.assertEqual([], self.api.VM.get_allowed_operations(vm))
        self.assertEqual(
            [self.fleet.vms()[0]['migrating_to']], ['xenhost2']
        )
        record = self.wait_task(task)
        self.assertEqual('success', record['status'])
        self.assertEqual('xenhost2', self.where(vm))
        self.assertEqual(free - 2 * GIB, self.free('xenhost2'))
        self.assertEqual({}, self.api.VM.get_current_operations(vm))
        self.assertIn('pool_migrate', self.api.VM.get_allowed_operations(vm))
        self.assertIsNone(self.fleet.vms()[0]['migrating_to'])

    def test_sync_migration_takes_the_delay(self):
        vm = self.vm('xenhost1')
        start = time.monotonic()
        self.api.VM.pool_migrate(vm, self.refs['xenhost3'], {'live': 'true'})
        self.assertGreaterEqual(time.monotonic() - start, MIGRATION_SECONDS)
        self.assertEqual('xenhost3', self.where(vm))

    def test_checks_fail_the_task_at_once(self):
        vm = self.vm('xenhost1')
        self.api.host.disable(self.refs['xenhost2'])
        start = time.monotonic()
        task = self.api.Async.VM.pool_migrate(vm, self.refs['xenhost2'], {})
        record = self.wait_task(task)
        self.assertLess(time.monotonic() - start, MIGRATION_SECONDS)
        self.assertEqual('failure', record['status'])
        self.assertEqual(
            ['HOST_DISABLED', self.refs['xenhost2']], record['error_info']
        )
        self.assertEqual('xenhost1', self.where(vm))

    def test_one_operation_at_a_time(self):
        vm = self.vm('xenhost1')
        task = self.api.Async.VM.pool_migrate(vm, self.refs['xenhost2'], {})
        details = self.assertFailure(
            'OTHER_OPERATION_IN_PROGRESS', self.api.VM.pool_migrate, vm,
            self.refs['xenhost3'], {},
        )
        self.assertEqual(['VM', vm, 'pool_migrate', task], details[1:])
        self.assertFailure(
            'OTHER_OPERATION_IN_PROGRESS', self.api.VM.hard_shutdown, vm
        )
        other = self.wait_task(
            self.api.Async.VM.pool_migrate(vm, self.refs['xenhost3'], {})
        )
        self.assertEqual('OTHER_OPERATION_IN_PROGRESS', other['error_info'][0])
        self.assertEqual('success', self.wait_task(task)['status'])
        self.assertEqual('xenhost2', self.where(vm))

    def test_held_memory_refuses_a_second_migration(self):
        # Room for one 2 GiB guest on xenhost3.
        self.fleet.configure_host(
            'xenhost3', memory=4 * GIB + 256 * MIB + 3 * GIB
        )
        first, second = self.vm('xenhost1', 'a', 2 * GIB), self.vm(
            'xenhost1', 'b', 2 * GIB
        )
        task = self.api.Async.VM.pool_migrate(
            first, self.refs['xenhost3'], {}
        )
        refused = self.wait_task(
            self.api.Async.VM.pool_migrate(second, self.refs['xenhost3'], {})
        )
        self.assertEqual(
            ['HOST_NOT_ENOUGH_FREE_MEMORY', str(2 * GIB), str(GIB)],
            refused['error_info'],
        )
        self.assertEqual('success', self.wait_task(task)['status'])
        self.assertEqual(
            ['xenhost3', 'xenhost1'], [self.where(first), self.where(second)]
        )


class TestMigrationFaults(PoolMixin, base.SimulatorTestCase):
    FLEET_KWARGS = {'hosts': 3, 'join_delay': 0.01}

    def test_injected_error_fails_the_task(self):
        vm = self.vm('xenhost1')
        error = ['VM_MIGRATE_FAILED', vm, 'src', 'dst', 'network down']
        self.fleet.inject('VM.pool_migrate', error=error)
        record = self.wait_task(
            self.api.Async.VM.pool_migrate(vm, self.refs['xenhost2'], {})
        )
        self.assertEqual(('failure', error),
                         (record['status'], record['error_info']))
        self.assertEqual('xenhost1', self.where(vm))

    def test_injected_delay_lengthens_the_task(self):
        vm = self.vm('xenhost1')
        self.fleet.inject('Async.VM.pool_migrate', delay=0.3)
        start = time.monotonic()
        record = self.wait_task(
            self.api.Async.VM.pool_migrate(vm, self.refs['xenhost2'], {})
        )
        self.assertGreaterEqual(time.monotonic() - start, 0.3)
        self.assertEqual('success', record['status'])

    def test_hang_until_cancelled(self):
        vm = self.vm('xenhost1', memory=2 * GIB)
        free = self.free('xenhost2')
        self.fleet.inject('VM.pool_migrate', action='hang')
        task = self.api.Async.VM.pool_migrate(vm, self.refs['xenhost2'], {})
        time.sleep(0.3)
        self.assertEqual('pending', self.api.task.get_status(task))
        self.assertFalse(self.fleet.settle(timeout=0.05))
        self.assertEqual(free - 2 * GIB, self.free('xenhost2'))
        self.api.task.cancel(task)
        record = self.api.task.get_record(task)
        self.assertEqual(
            ('cancelled', ['TASK_CANCELLED', task]),
            (record['status'], record['error_info']),
        )
        self.assertTrue(self.fleet.settle())
        # Nothing moved, nothing held.
        self.assertEqual('xenhost1', self.where(vm))
        self.assertEqual(free, self.free('xenhost2'))
        self.assertEqual({}, self.api.VM.get_current_operations(vm))

    def test_hang_applies_to_tasks_only(self):
        vm = self.vm('xenhost1')
        self.fleet.inject('VM.pool_migrate', action='hang')
        self.api.VM.pool_migrate(vm, self.refs['xenhost2'], {})
        self.assertEqual('xenhost2', self.where(vm))
        self.assertEqual(1, len(self.fleet.faults()))  # not used up

    def test_stop_ends_a_hanging_task(self):
        vm = self.vm('xenhost1')
        self.fleet.inject('Async.VM.pool_migrate', action='hang')
        self.api.Async.VM.pool_migrate(vm, self.refs['xenhost2'], {})
        self.assertFalse(self.fleet.settle(timeout=0.05))
        start = time.monotonic()
        self.fleet.stop()
        self.assertLess(time.monotonic() - start, 2)

    def test_validation(self):
        self.assertRaises(
            ValueError, self.fleet.inject, 'pool.designate_new_master',
            action='late_designate',
        )
        self.assertRaises(
            ValueError, self.fleet.inject, 'VM.pool_migrate', action='hang',
            error=['X'],
        )


class TestLateDesignate(PoolMixin, base.SimulatorTestCase):
    FLEET_KWARGS = {'hosts': 3, 'join_delay': 0.01}

    def test_hand_over_takes_effect_later(self):
        self.fleet.inject(
            'pool.designate_new_master', action='late_designate', delay=0.3
        )
        self.api.pool.designate_new_master(self.refs['xenhost2'])
        # Not yet: the old master still serves, the new one is a member.
        self.assertEqual('xenhost1', self.fleet.pool_of('xenhost1')['master'])
        self.api.pool.get_all()
        self.assertTrue(self.login_fails_with('xenhost2', 'HOST_IS_SLAVE'))
        self.assertTrue(self.fleet.settle())
        self.assertEqual('xenhost2', self.fleet.pool_of('xenhost1')['master'])
        self.assertTrue(self.login_fails_with('xenhost1', 'HOST_IS_SLAVE'))
        self.assertFailure('HOST_IS_SLAVE', self.api.pool.get_all)
        new = self.session('xenhost2').xenapi
        self.assertEqual(
            self.refs['xenhost2'], new.pool.get_master(new.pool.get_all()[0])
        )

    def test_late_designate_matches_only_designate(self):
        self.fleet.inject(
            '*', action='late_designate', delay=0.1, times=None
        )
        self.assertEqual(1, len(self.api.pool.get_all()))
        self.api.pool.designate_new_master(self.refs['xenhost3'])
        self.assertEqual('xenhost1', self.fleet.pool_of('xenhost1')['master'])
        self.assertTrue(self.fleet.settle())
        self.assertEqual('xenhost3', self.fleet.pool_of('xenhost1')['master'])
