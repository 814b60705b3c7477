"""pool.join / pool.eject / designate_new_master, through the real XenAPI
SDK."""

import time
import xmlrpc.client

import XenAPI

from tests.unit.xenserver_sim import base


def parse_task_result(text):
    """task.get_result holds an XML-RPC <value> fragment (or "" for void)."""
    if not text:
        return ''
    wrapped = (
        "<?xml version='1.0'?><methodResponse><params><param>%s</param>"
        '</params></methodResponse>' % text
    )
    return xmlrpc.client.loads(wrapped)[0][0]


class JoinMixin:
    def join(self, joiner, master, force=False, password=base.PASSWORD):
        session = self.session(joiner)
        call = (
            session.xenapi.pool.join_force
            if force
            else session.xenapi.pool.join
        )
        return session, call(
            self.fleet.host(master).address, base.USER, password
        )


class TestJoin(JoinMixin, base.SimulatorTestCase):
    FLEET_KWARGS = {'hosts': 3, 'join_delay': 0.05}

    def test_join_success(self):
        master = self.session('xenhost1')
        joiner, result = self.join('xenhost2', 'xenhost1')
        self.assertEqual('', result)
        # The master lists the joiner as soon as pool.join has returned.
        hosts = master.xenapi.host.get_all_records()
        self.assertEqual(
            ['xenhost1', 'xenhost2'],
            sorted(r['hostname'] for r in hosts.values()),
        )
        self.assertEqual(
            self.fleet.host('xenhost2').uuid,
            master.xenapi.host.get_uuid(self.host_ref(master, 'xenhost2')),
        )
        pool = self.fleet.pool_of('xenhost2')
        self.assertEqual('xenhost1', pool['master'])
        self.assertEqual(['xenhost1', 'xenhost2'], pool['members'])
        self.assertEqual(pool, self.fleet.pool_of('xenhost1'))
        self.assertEqual(2, len(self.fleet.pools()))
        # After the restart delay the joiner answers logins with HOST_IS_SLAVE
        # ...
        self.wait_for(
            lambda: self.login_fails_with('xenhost2', 'HOST_IS_SLAVE')
        )
        fresh = self.session('xenhost2', login=False)
        details = self.assertFailure(
            'HOST_IS_SLAVE',
            fresh.login_with_password,
            base.USER,
            base.PASSWORD,
        )
        self.assertEqual(['HOST_IS_SLAVE', '127.0.0.11'], details)
        # ... and its old session is gone: the SDK re-logs in and surfaces
        # HOST_IS_SLAVE.
        self.assertFailure('HOST_IS_SLAVE', joiner.xenapi.pool.get_all)
        self.assertEqual('member', self.fleet.host_state('xenhost2')['state'])
        # Members' VMs (dom0s) are part of the pool's database now.
        vms = master.xenapi.VM.get_all_records()
        self.assertEqual(
            2, len([r for r in vms.values() if r['is_control_domain']])
        )

    def test_join_force(self):
        _, result = self.join('xenhost3', 'xenhost1', force=True)
        self.assertEqual('', result)
        self.assertIn('xenhost3', self.fleet.pool_of('xenhost1')['members'])

    def test_master_address_unknown(self):
        session = self.session('xenhost2')
        self.assertEqual(
            ['POOL_JOINING_HOST_CONNECTION_FAILED'],
            self.assertJoinFails(
                'POOL_JOINING_HOST_CONNECTION_FAILED', session, '192.0.2.1'),
        )

    def test_master_down(self):
        self.fleet.stop_host('xenhost1')
        session = self.session('xenhost2')
        self.assertJoinFails('POOL_JOINING_HOST_CONNECTION_FAILED', session)

    def test_wrong_master_credentials(self):
        session = self.session('xenhost2')
        details = self.assertJoinFails(
            'SESSION_AUTHENTICATION_FAILED', session, password='wrong')
        self.assertEqual(
            [
                'SESSION_AUTHENTICATION_FAILED',
                'root',
                'Authentication failure',
            ],
            details,
        )

    def test_master_password_changed_after_pool_formed(self):
        self.join('xenhost2', 'xenhost1')
        self.fleet.set_password('xenhost1', 'rotated')
        session = self.session('xenhost3')
        self.assertJoinFails('SESSION_AUTHENTICATION_FAILED', session)
        session.xenapi.pool.join('127.0.0.11', base.USER, 'rotated')
        self.assertEqual(3, len(self.fleet.pool_of('xenhost1')['members']))

    def test_master_address_is_a_member(self):
        self.join('xenhost2', 'xenhost1')
        self.fleet.settle()
        session = self.session('xenhost3')
        details = self.assertJoinFails('HOST_IS_SLAVE', session, '127.0.0.12')
        self.assertEqual(['HOST_IS_SLAVE', '127.0.0.11'], details)

    def test_join_itself(self):
        session = self.session('xenhost1')
        details = self.assertJoinFails('OPERATION_NOT_ALLOWED', session)
        self.assertEqual(
            ['OPERATION_NOT_ALLOWED', 'Host cannot become slave of itself'],
            details,
        )
        self.join('xenhost2', 'xenhost1')
        details = self.assertJoinFails('OPERATION_NOT_ALLOWED', session)
        self.assertEqual(
            ['OPERATION_NOT_ALLOWED', 'Host is already part of a pool'],
            details,
        )

    def test_joiner_has_members(self):
        self.join('xenhost2', 'xenhost1')
        session = self.session('xenhost1')
        self.assertJoinFails(
            'POOL_JOINING_HOST_CANNOT_BE_MASTER_OF_OTHER_HOSTS', session,
            '127.0.0.13')

    def test_joiner_has_running_vms(self):
        self.fleet.add_vm('xenhost2', 'guest')
        session = self.session('xenhost2')
        self.assertJoinFails(
            'POOL_JOINING_HOST_CANNOT_HAVE_RUNNING_VMS', session)
        # A halted guest does not count; shutting it down lets the join
        # through.
        vm = session.xenapi.VM.get_by_name_label('guest')[0]
        session.xenapi.VM.clean_shutdown(vm)
        session.xenapi.pool.join('127.0.0.11', base.USER, base.PASSWORD)

    def test_platform_version_mismatch(self):
        self.fleet.configure_host(
            'xenhost2', software_version={'platform_version': '3.4.0'}
        )
        session = self.session('xenhost2')
        for call in (session.xenapi.pool.join, session.xenapi.pool.join_force):
            self.assertEqual(
                ['POOL_HOSTS_NOT_COMPATIBLE'],
                self.assertFailure(
                    'POOL_HOSTS_NOT_COMPATIBLE',
                    call,
                    '127.0.0.11',
                    base.USER,
                    base.PASSWORD,
                ),
            )

    def test_api_version_mismatch(self):
        self.fleet.configure_host('xenhost2', api_version='2.21')
        session = self.session('xenhost2')
        details = self.assertJoinFails(
            'POOL_JOINING_HOST_MUST_HAVE_SAME_API_VERSION', session)
        self.assertEqual(['2.21', '2.20'], details[1:])

    def test_cpu_vendor_differs_only_plain_join_refuses(self):
        self.fleet.configure_host('xenhost2', cpu_vendor='AuthenticAMD')
        session = self.session('xenhost2')
        details = self.assertJoinFails('POOL_HOSTS_NOT_HOMOGENEOUS', session)
        self.assertEqual(
            ['POOL_HOSTS_NOT_HOMOGENEOUS', 'CPUs differ'], details
        )
        self.assertEqual(
            ['xenhost1'], self.fleet.pool_of('xenhost1')['members']
        )
        session.xenapi.pool.join_force('127.0.0.11', base.USER, base.PASSWORD)
        self.assertIn('xenhost2', self.fleet.pool_of('xenhost1')['members'])

    def test_software_version_differs(self):
        self.fleet.configure_host(
            'xenhost2', software_version={'build_number': 'other'}
        )
        session = self.session('xenhost2')
        details = self.assertJoinFails('POOL_HOSTS_NOT_HOMOGENEOUS', session)
        self.assertEqual('Software version differs', details[1])

    def test_shared_sr(self):
        self.fleet.configure_host('xenhost2', shared_sr=True)
        session = self.session('xenhost2')
        self.assertJoinFails(
            'POOL_JOINING_HOST_CANNOT_CONTAIN_SHARED_SRS', session)

    def test_refused_join_changes_nothing(self):
        self.fleet.add_vm('xenhost2')
        session = self.session('xenhost2')
        self.assertRaises(
            XenAPI.Failure,
            session.xenapi.pool.join,
            '127.0.0.11',
            base.USER,
            base.PASSWORD,
        )
        self.fleet.settle()
        self.assertEqual(3, len(self.fleet.pools()))
        self.assertEqual(1, len(session.xenapi.host.get_all()))


class TestJoinWindow(JoinMixin, base.SimulatorTestCase):
    # A long restart delay: the state before the "fuse" blows can be checked at
    # leisure.
    FLEET_KWARGS = {'hosts': 2, 'join_delay': 60}

    def test_joiner_keeps_serving_until_restart(self):
        joiner, _ = self.join('xenhost2', 'xenhost1')
        self.assertEqual('joining', self.fleet.host_state('xenhost2')['state'])
        # Still its own master: old session works, new logins succeed, own pool
        # shown.
        self.assertEqual(1, len(joiner.xenapi.host.get_all()))
        self.session('xenhost2')
        self.assertEqual(
            ['xenhost1', 'xenhost2'], self.fleet.pool_of('xenhost2')['members']
        )
        # Repeating the join while waiting for the restart is harmless.
        joiner.xenapi.pool.join('127.0.0.11', base.USER, base.PASSWORD)
        self.assertEqual(1, len(self.fleet.pools()))


class TestAsyncJoin(JoinMixin, base.SimulatorTestCase):
    FLEET_KWARGS = {'hosts': 2, 'join_delay': 60, 'task_delay': 0.05}

    def wait_task(self, session, task):
        self.wait_for(
            lambda: session.xenapi.task.get_status(task) != 'pending'
        )
        return session.xenapi.task.get_record(task)

    def test_async_join_and_task_polling(self):
        session = self.session('xenhost2')
        task = session.xenapi.Async.pool.join(
            '127.0.0.11', base.USER, base.PASSWORD
        )
        self.assertTrue(task.startswith('OpaqueRef:'))
        self.assertIn(task, session.xenapi.task.get_all())
        self.assertEqual('pending', session.xenapi.task.get_status(task))
        self.assertEqual(
            'Async.pool.join', session.xenapi.task.get_name_label(task)
        )
        record = self.wait_task(session, task)
        self.assertEqual('success', record['status'])
        self.assertEqual(1.0, record['progress'])
        self.assertEqual('', record['result'])
        self.assertEqual([], record['error_info'])
        self.assertIsInstance(record['created'], xmlrpc.client.DateTime)
        self.assertIn('xenhost2', self.fleet.pool_of('xenhost1')['members'])
        session.xenapi.task.destroy(task)
        self.assertFailure(
            'HANDLE_INVALID', session.xenapi.task.get_status, task
        )

    def test_async_join_failure(self):
        self.fleet.add_vm('xenhost2')
        session = self.session('xenhost2')
        task = session.xenapi.Async.pool.join(
            '127.0.0.11', base.USER, base.PASSWORD
        )
        record = self.wait_task(session, task)
        self.assertEqual('failure', record['status'])
        self.assertEqual(
            ['POOL_JOINING_HOST_CANNOT_HAVE_RUNNING_VMS'],
            session.xenapi.task.get_error_info(task),
        )

    def test_async_rejected_before_task(self):
        session = self.session('xenhost2')
        self.assertFailure(
            'MESSAGE_PARAMETER_COUNT_MISMATCH',
            session.xenapi.Async.pool.join,
            '127.0.0.11',
        )

    def test_task_cancel(self):
        self.fleet.inject('Async.pool.join', delay=30)
        session = self.session('xenhost2')
        task = session.xenapi.Async.pool.join(
            '127.0.0.11', base.USER, base.PASSWORD
        )
        self.wait_for(
            lambda: float(session.xenapi.task.get_progress(task)) > 0
        )
        session.xenapi.task.cancel(task)
        self.assertEqual('cancelled', session.xenapi.task.get_status(task))
        self.assertEqual(
            ['TASK_CANCELLED', task], session.xenapi.task.get_error_info(task)
        )
        self.fleet.settle()
        self.assertEqual(
            ['xenhost1'], self.fleet.pool_of('xenhost1')['members']
        )

    def test_task_result_is_a_value_fragment(self):
        session = self.session('xenhost1')
        task = session.xenapi.Async.host.evacuate(
            self.host_ref(session, 'xenhost1')
        )
        self.assertEqual('success', self.wait_task(session, task)['status'])
        self.assertEqual(
            '', parse_task_result(session.xenapi.task.get_result(task))
        )
        # The helper parses non-void fragments the way Essex Nova did.
        self.assertEqual(
            'OpaqueRef:x', parse_task_result('<value>OpaqueRef:x</value>')
        )


class TestEject(JoinMixin, base.SimulatorTestCase):
    FLEET_KWARGS = {'hosts': 3, 'join_delay': 0.01, 'eject_delay': 0.3}

    def make_pool(self):
        self.join('xenhost2', 'xenhost1')
        self.join('xenhost3', 'xenhost1')
        self.fleet.settle()
        return self.session('xenhost1')

    def test_eject_success(self):
        master = self.make_pool()
        self.fleet.add_vm('xenhost2', 'halted-guest', running=False)
        ejected = self.host_ref(master, 'xenhost2')
        self.assertEqual('', master.xenapi.pool.eject(ejected))
        # Gone from the master's view at once.
        self.assertNotIn(ejected, master.xenapi.host.get_all())
        self.assertFailure(
            'HANDLE_INVALID', master.xenapi.host.get_record, ejected
        )
        self.assertEqual(
            ['xenhost1', 'xenhost3'], self.fleet.pool_of('xenhost1')['members']
        )
        self.assertEqual(
            'rebooting', self.fleet.host_state('xenhost2')['state']
        )
        self.assertIsNone(self.fleet.pool_of('xenhost2'))
        # The ejected host is rebooting: its endpoint refuses connections ...
        client = self.session('xenhost2', login=False)
        self.assertRaises(
            ConnectionRefusedError,
            client.login_with_password,
            base.USER,
            base.PASSWORD,
        )
        # ... then comes back standalone: new pool, empty name, same uuid, no
        # guests.
        self.wait_for(lambda: self.fleet.pool_of('xenhost2') is not None)
        session = self.session('xenhost2')
        pool = session.xenapi.pool.get_record(session.xenapi.pool.get_all()[0])
        self.assertEqual('', pool['name_label'])
        self.assertNotEqual(
            self.fleet.pool_of('xenhost1')['uuid'], pool['uuid']
        )
        hosts = session.xenapi.host.get_all_records()
        self.assertEqual(
            [self.fleet.host('xenhost2').uuid],
            [r['uuid'] for r in hosts.values()],
        )
        self.assertNotIn(ejected, hosts)  # all refs are new after the reboot
        vms = session.xenapi.VM.get_all_records().values()
        self.assertEqual([True], [r['is_control_domain'] for r in vms])

    def test_eject_refusals(self):
        master = self.make_pool()
        self.assertEqual(
            ['HANDLE_INVALID', 'host', 'OpaqueRef:gone'],
            self.assertFailure(
                'HANDLE_INVALID', master.xenapi.pool.eject, 'OpaqueRef:gone'
            ),
        )
        details = self.assertFailure(
            'INTERNAL_ERROR',
            master.xenapi.pool.eject,
            self.host_ref(master, 'xenhost1'),
        )
        self.assertIn('Cannot_eject_master', details[1])
        self.fleet.add_vm('xenhost3', 'busy')
        details = self.assertFailure(
            'OPERATION_NOT_ALLOWED',
            master.xenapi.pool.eject,
            self.host_ref(master, 'xenhost3'),
        )
        self.assertEqual(
            ['OPERATION_NOT_ALLOWED', 'VM resident on host'], details
        )
        self.assertEqual(
            ['xenhost1', 'xenhost2', 'xenhost3'],
            self.fleet.pool_of('xenhost1')['members'],
        )

    def test_async_eject(self):
        master = self.make_pool()
        task = master.xenapi.Async.pool.eject(
            self.host_ref(master, 'xenhost3')
        )
        self.wait_for(lambda: master.xenapi.task.get_status(task) == 'success')
        self.assertEqual(
            ['xenhost1', 'xenhost2'], self.fleet.pool_of('xenhost1')['members']
        )

    def test_rejoin_after_eject(self):
        master = self.make_pool()
        master.xenapi.pool.eject(self.host_ref(master, 'xenhost3'))
        self.assertTrue(self.fleet.settle())
        self.join('xenhost3', 'xenhost1')
        self.fleet.settle()
        self.assertEqual(
            ['xenhost1', 'xenhost2', 'xenhost3'],
            self.fleet.pool_of('xenhost1')['members'],
        )
        self.assertTrue(self.login_fails_with('xenhost3', 'HOST_IS_SLAVE'))


class TestMaintenance(JoinMixin, base.SimulatorTestCase):
    FLEET_KWARGS = {'hosts': 3, 'join_delay': 0.01}

    def setUp(self):
        super().setUp()
        self.join('xenhost2', 'xenhost1')
        self.join('xenhost3', 'xenhost1')
        self.fleet.settle()
        self.master = self.session('xenhost1')
        self.refs = {
            n: self.host_ref(self.master, n)
            for n in ('xenhost1', 'xenhost2', 'xenhost3')
        }

    def vm_host(self, vm):
        resident = self.master.xenapi.VM.get_resident_on(vm)
        return self.master.xenapi.host.get_hostname(resident)

    def test_disable_enable_evacuate(self):
        api = self.master.xenapi
        uuids = [self.fleet.add_vm('xenhost2', 'g%d' % i) for i in range(3)]
        vms = [api.VM.get_by_uuid(u) for u in uuids]
        api.host.disable(self.refs['xenhost2'])
        api.host.disable(self.refs['xenhost2'])  # idempotent
        self.assertFalse(api.host.get_enabled(self.refs['xenhost2']))
        api.host.evacuate(self.refs['xenhost2'])
        targets = sorted(self.vm_host(vm) for vm in vms)
        self.assertNotIn('xenhost2', targets)
        # Spread by free memory.
        self.assertEqual({'xenhost1', 'xenhost3'}, set(targets))
        self.assertEqual(
            [
                self.master.xenapi.host.get_control_domain(
                    self.refs['xenhost2']
                )
            ],
            api.host.get_resident_VMs(self.refs['xenhost2']),
        )
        api.host.enable(self.refs['xenhost2'])
        self.assertTrue(api.host.get_enabled(self.refs['xenhost2']))

    def test_evacuate_without_room_moves_nothing(self):
        api = self.master.xenapi
        self.fleet.configure_host('xenhost1', memory=6 * 1024**3)
        self.fleet.configure_host('xenhost3', memory=6 * 1024**3)
        uuids = [
            self.fleet.add_vm('xenhost2', 'big%d' % i, memory=2 * 1024**3)
            for i in range(3)
        ]
        details = self.assertFailure(
            'HOST_NOT_ENOUGH_FREE_MEMORY',
            api.host.evacuate,
            self.refs['xenhost2'],
        )
        self.assertEqual(str(2 * 1024**3), details[1])
        self.assertEqual(
            ['xenhost2'] * 3,
            [self.vm_host(api.VM.get_by_uuid(u)) for u in uuids],
        )
        api.host.disable(self.refs['xenhost1'])
        api.host.disable(self.refs['xenhost3'])
        self.assertFailure(
            'NO_HOSTS_AVAILABLE', api.host.evacuate, self.refs['xenhost2']
        )

    def test_pool_migrate(self):
        api = self.master.xenapi
        vm = api.VM.get_by_uuid(self.fleet.add_vm('xenhost2', 'mover'))
        api.VM.pool_migrate(vm, self.refs['xenhost3'], {'live': 'true'})
        self.assertEqual('xenhost3', self.vm_host(vm))
        task = api.Async.VM.pool_migrate(vm, self.refs['xenhost1'], {})
        self.wait_for(lambda: api.task.get_status(task) == 'success')
        self.assertEqual('xenhost1', self.vm_host(vm))
        api.host.disable(self.refs['xenhost2'])
        self.assertEqual(
            ['HOST_DISABLED', self.refs['xenhost2']],
            self.assertFailure(
                'HOST_DISABLED',
                api.VM.pool_migrate,
                vm,
                self.refs['xenhost2'],
                {},
            ),
        )
        api.VM.hard_shutdown(vm)
        self.assertEqual('OpaqueRef:NULL', api.VM.get_resident_on(vm))
        details = self.assertFailure(
            'VM_BAD_POWER_STATE',
            api.VM.pool_migrate,
            vm,
            self.refs['xenhost3'],
            {},
        )
        self.assertEqual(
            ['VM_BAD_POWER_STATE', vm, 'running', 'halted'], details
        )
        api.VM.start(vm, False, False)
        self.assertEqual('Running', api.VM.get_power_state(vm))

    def test_designate_new_master(self):
        api = self.master.xenapi
        pool = api.pool.get_all()[0]
        api.pool.set_name_label(pool, 'agg')
        api.pool.designate_new_master(self.refs['xenhost2'])
        self.assertEqual('xenhost2', self.fleet.pool_of('xenhost1')['master'])
        self.assertFailure('HOST_IS_SLAVE', api.pool.get_all)
        session = self.session('xenhost2')
        self.assertEqual('agg', session.xenapi.pool.get_name_label(pool))
        self.assertEqual(
            self.refs['xenhost2'], session.xenapi.pool.get_master(pool)
        )


class TestDelayedEffectsAreBounded(JoinMixin, base.SimulatorTestCase):
    FLEET_KWARGS = {'hosts': 2, 'join_delay': 0.2}

    def test_settle_waits_for_the_restart(self):
        self.join('xenhost2', 'xenhost1')
        start = time.monotonic()
        self.assertTrue(self.fleet.settle(timeout=5))
        self.assertGreaterEqual(time.monotonic() - start, 0.1)
        self.assertEqual('member', self.fleet.host_state('xenhost2')['state'])
