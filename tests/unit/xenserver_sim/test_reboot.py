"""``host.reboot`` in the simulator, through the real XenAPI SDK: xapi's
refusals and their parameters, the host down (connections refused) for its
reboot delay and then back, enabled, with a new boot time; the delay per
fleet and per host; the faults (never back, an injected failure); a pool
master that reboots."""

import json
import time
import urllib.request

import XenAPI

from tests.unit.xenserver_sim import base
from tests.unit.xenserver_sim.test_pools import JoinMixin

NULL_REF = 'OpaqueRef:NULL'


class RebootMixin(JoinMixin):
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

    def live(self, name):
        metrics = self.api.host.get_metrics(self.refs[name])
        return self.api.host_metrics.get_live(metrics)

    def boot_time(self, name, api=None):
        api = api or self.api
        return float(
            api.host.get_other_config(self.refs[name])['boot_time']
        )

    def refused(self, name):
        """True if a new connection to ``name`` is refused."""
        session = XenAPI.Session(self.fleet.host(name).url)
        try:
            session.login_with_password(base.USER, base.PASSWORD)
        except ConnectionRefusedError:
            return True
        except XenAPI.Failure:
            return False
        finally:
            session('close')()
        return False

    def admin(self, verb, path, body=None):
        request = urllib.request.Request(
            self.fleet.control_url.rstrip('/') + path,
            data=json.dumps(body).encode() if body is not None else None,
            method=verb,
            headers={'Content-Type': 'application/json'},
        )
        with urllib.request.urlopen(request, timeout=5) as response:
            return json.loads(response.read())


class TestRefusals(RebootMixin, base.SimulatorTestCase):
    FLEET_KWARGS = {'hosts': 3, 'join_delay': 0.01}

    def test_enabled_host(self):
        details = self.assertFailure(
            'HOST_NOT_DISABLED', self.api.host.reboot, self.refs['xenhost2']
        )
        # xapi raises it with no parameters (xapi_host.ml).
        self.assertEqual(['HOST_NOT_DISABLED'], details)
        self.assertEqual('member', self.fleet.host_state('xenhost2')['state'])

    def test_running_or_paused_guest(self):
        ref = self.refs['xenhost2']
        self.api.host.disable(ref)
        vm = self.api.VM.get_by_uuid(self.fleet.add_vm('xenhost2', 'web'))
        details = self.assertFailure('HOST_IN_USE', self.api.host.reboot, ref)
        self.assertEqual(['HOST_IN_USE', ref, 'vm', vm], details)
        self.api.VM.hard_shutdown(vm)
        # A paused guest would die as well (a disabled host starts none).
        paused = self.api.VM.get_by_uuid(
            self.fleet.add_vm('xenhost2', 'paused', running=False)
        )
        self.api.host.enable(ref)
        self.api.VM.start(paused, True, False)
        self.api.host.disable(ref)
        details = self.assertFailure('HOST_IN_USE', self.api.host.reboot, ref)
        self.assertEqual(paused, details[3])
        self.api.VM.hard_shutdown(paused)
        # Halted guests do not stop a reboot and are still there after.
        self.assertEqual('', self.api.host.reboot(ref))
        self.assertTrue(self.fleet.settle())
        self.assertEqual(
            'Halted', self.api.VM.get_power_state(vm)
        )

    def test_bad_ref_offline_host_and_async(self):
        self.assertFailure('HANDLE_INVALID', self.api.host.reboot, NULL_REF)
        self.api.host.disable(self.refs['xenhost3'])
        self.fleet.stop_host('xenhost3')
        details = self.assertFailure(
            'HOST_OFFLINE', self.api.host.reboot, self.refs['xenhost3']
        )
        self.assertEqual(self.refs['xenhost3'], details[1])
        # Served synchronously only.
        self.assertFailure(
            'MESSAGE_METHOD_UNKNOWN', self.api.Async.host.reboot,
            self.refs['xenhost2'],
        )

    def test_allowed_operations_follow_the_enabled_flag(self):
        ref = self.refs['xenhost2']
        self.assertNotIn('reboot', self.api.host.get_allowed_operations(ref))
        self.api.host.disable(ref)
        self.assertIn('reboot', self.api.host.get_allowed_operations(ref))

    def test_injected_failure(self):
        ref = self.refs['xenhost2']
        self.api.host.disable(ref)
        self.fleet.inject(
            'host.reboot', error=['HOST_OFFLINE', ref], host='xenhost1'
        )
        self.assertFailure('HOST_OFFLINE', self.api.host.reboot, ref)
        self.assertEqual('member', self.fleet.host_state('xenhost2')['state'])
        self.assertTrue(self.live('xenhost2'))


class TestMemberReboot(RebootMixin, base.SimulatorTestCase):
    FLEET_KWARGS = {'hosts': 3, 'join_delay': 0.01, 'reboot_delay': 0.3}

    def test_down_then_back_enabled(self):
        # Down long enough for the checks made while it is down to run
        # while it is down on a loaded machine too.
        self.fleet.configure_host('xenhost2', reboot_delay=1.5)
        ref = self.refs['xenhost2']
        before = self.boot_time('xenhost2')
        self.api.host.disable(ref)
        self.assertFalse(self.refused('xenhost2'))  # HOST_IS_SLAVE
        start = time.monotonic()
        self.assertEqual('', self.api.host.reboot(ref))
        # Down at once: connections refused, not live for the master, no
        # migration target; still a member of the pool.
        self.wait_for(lambda: self.refused('xenhost2'))
        self.assertEqual(
            'rebooting', self.fleet.host_state('xenhost2')['state']
        )
        self.assertFalse(self.live('xenhost2'))
        self.assertIn('xenhost2', self.fleet.pool_of('xenhost1')['members'])
        self.assertIn(ref, self.api.host.get_all())
        # The other hosts keep answering.
        self.assertTrue(self.live('xenhost3'))
        self.assertTrue(self.login_fails_with('xenhost3', 'HOST_IS_SLAVE'))
        self.assertTrue(self.fleet.settle())
        down = time.monotonic() - start
        self.assertGreaterEqual(down, 1.5)
        # Back: the same ref, enabled (xapi enables a host at start-up),
        # live, a later boot time, a member again.
        self.assertEqual('member', self.fleet.host_state('xenhost2')['state'])
        self.assertTrue(self.api.host.get_enabled(ref))
        self.assertTrue(self.live('xenhost2'))
        self.assertGreater(self.boot_time('xenhost2'), before)
        self.assertTrue(self.login_fails_with('xenhost2', 'HOST_IS_SLAVE'))
        self.assertEqual(
            ['xenhost1', 'xenhost2', 'xenhost3'],
            self.fleet.pool_of('xenhost2')['members'],
        )

    def test_reboot_delay_per_host(self):
        self.fleet.configure_host('xenhost3', reboot_delay=0.8)
        self.assertEqual(
            0.8, self.fleet.host_state('xenhost3')['reboot_delay']
        )
        self.assertEqual(
            0.3, self.fleet.host_state('xenhost2')['reboot_delay']
        )
        state = self.admin(
            'POST', '/hosts/xenhost2/config', {'reboot_delay': 0.05}
        )
        self.assertEqual(0.05, state['reboot_delay'])
        for name in ('xenhost2', 'xenhost3'):
            self.api.host.disable(self.refs[name])
            self.api.host.reboot(self.refs[name])
        start = time.monotonic()
        self.wait_for(
            lambda: self.fleet.host_state('xenhost2')['state'] == 'member'
        )
        self.assertEqual(
            'rebooting', self.fleet.host_state('xenhost3')['state']
        )
        self.wait_for(
            lambda: self.fleet.host_state('xenhost3')['state'] == 'member'
        )
        self.assertGreaterEqual(time.monotonic() - start, 0.5)
        self.assertRaises(
            ValueError, self.fleet.configure_host, 'xenhost2',
            reboot_delay=-1,
        )

    def test_never_back_until_started(self):
        ref = self.refs['xenhost2']
        self.api.host.disable(ref)
        self.fleet.inject('host.reboot', action='never_back')
        self.api.host.reboot(ref)
        self.assertTrue(self.fleet.settle())  # nothing pending: it hangs
        time.sleep(0.5)
        self.assertTrue(self.refused('xenhost2'))
        self.assertEqual(
            'rebooting', self.fleet.host_state('xenhost2')['state']
        )
        self.assertFalse(self.live('xenhost2'))
        # Powered on by hand.
        self.fleet.start_host('xenhost2')
        self.assertEqual('member', self.fleet.host_state('xenhost2')['state'])
        self.assertTrue(self.live('xenhost2'))
        self.assertTrue(self.api.host.get_enabled(ref))

    def test_never_back_matches_host_reboot_only(self):
        self.fleet.inject('*', action='never_back', times=None)
        self.assertEqual(3, len(self.api.host.get_all()))
        self.admin('POST', '/faults', {'method': 'host.reboot',
                                       'action': 'never_back'})
        self.assertRaises(
            ValueError, self.fleet.inject, 'host.reboot',
            action='never_back', error=['X'],
        )

    def test_eject_of_a_rebooting_host(self):
        ref = self.refs['xenhost3']
        self.api.host.disable(ref)
        self.api.host.reboot(ref)
        self.assertFailure('HOST_OFFLINE', self.api.pool.eject, ref)
        self.assertFailure(
            'HOST_OFFLINE', self.api.pool.designate_new_master, ref
        )
        self.assertTrue(self.fleet.settle())
        self.api.pool.eject(ref)


class TestStandaloneReboot(base.SimulatorTestCase):
    FLEET_KWARGS = {'hosts': 2, 'reboot_delay': 0.2}

    def test_reboot_on_its_own_session(self):
        session = self.session('xenhost1')
        api = session.xenapi
        (ref,) = api.host.get_all()
        before = float(api.host.get_other_config(ref)['boot_time'])
        api.host.disable(ref)
        # The answer comes before the endpoint goes down.
        self.assertEqual('', api.host.reboot(ref))
        self.assertRaises(ConnectionRefusedError, api.host.get_all)
        self.assertEqual(
            'rebooting', self.fleet.host_state('xenhost1')['state']
        )
        self.assertTrue(self.fleet.settle())
        # The old session died with xapi; the SDK logs in again by itself.
        logins = self.fleet.login_count('xenhost1')
        self.assertEqual([ref], api.host.get_all())
        self.assertEqual(logins + 1, self.fleet.login_count('xenhost1'))
        self.assertTrue(api.host.get_enabled(ref))
        self.assertGreater(
            float(api.host.get_other_config(ref)['boot_time']), before
        )
        self.assertEqual('master', self.fleet.host_state('xenhost1')['state'])


class TestMasterReboot(RebootMixin, base.SimulatorTestCase):
    FLEET_KWARGS = {'hosts': 3, 'join_delay': 0.01, 'reboot_delay': 0.3}

    def test_members_cannot_be_managed_while_it_is_down(self):
        self.api.host.disable(self.refs['xenhost1'])
        self.api.host.reboot(self.refs['xenhost1'])
        self.assertRaises(ConnectionRefusedError, self.api.pool.get_all)
        # Members still point at their master; the pool still exists.
        self.assertTrue(self.login_fails_with('xenhost2', 'HOST_IS_SLAVE'))
        pool = self.fleet.pool_of('xenhost2')
        self.assertEqual(
            ('xenhost1', ['xenhost1', 'xenhost2', 'xenhost3']),
            (pool['master'], pool['members']),
        )
        self.assertEqual(
            'rebooting', self.fleet.host_state('xenhost1')['state']
        )
        self.assertTrue(self.fleet.settle())
        # Back as the master of the same pool, enabled.
        api = self.session('xenhost1').xenapi
        self.assertEqual(
            sorted(self.refs.values()), sorted(api.host.get_all())
        )
        self.assertTrue(api.host.get_enabled(self.refs['xenhost1']))
        self.assertEqual(
            self.refs['xenhost1'], api.pool.get_master(api.pool.get_all()[0])
        )
