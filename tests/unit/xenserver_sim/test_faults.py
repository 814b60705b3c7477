"""Fault injection and endpoint outages, as the real XenAPI SDK experiences
them."""

import http.client
import time
import xml.parsers.expat
import xmlrpc.client

import XenAPI

from tests.unit.xenserver_sim import base


class TestInjectedReplies(base.SimulatorTestCase):
    FLEET_KWARGS = {'hosts': 2}

    def test_injected_error_once(self):
        session = self.session('xenhost2')
        self.fleet.inject(
            'pool.join', error=['POOL_JOINING_HOST_CANNOT_HAVE_RUNNING_VMS']
        )
        details = self.assertJoinFails(
            'POOL_JOINING_HOST_CANNOT_HAVE_RUNNING_VMS', session)
        self.assertEqual(
            ['POOL_JOINING_HOST_CANNOT_HAVE_RUNNING_VMS'], details
        )
        self.assertEqual(
            ['xenhost1'], self.fleet.pool_of('xenhost1')['members']
        )
        self.assertEqual([], self.fleet.faults())  # used up
        session.xenapi.pool.join('127.0.0.11', base.USER, base.PASSWORD)
        self.assertEqual(
            ['xenhost1', 'xenhost2'], self.fleet.pool_of('xenhost1')['members']
        )

    def test_rule_counts_and_host_filter(self):
        rule = self.fleet.inject(
            'pool.get_all',
            error=['HOST_OFFLINE', 'x'],
            times=2,
            host='xenhost1',
        )
        session1 = self.session('xenhost1')
        session2 = self.session('xenhost2')
        # The other host is untouched.
        self.assertEqual(1, len(session2.xenapi.pool.get_all()))
        self.assertFailure('HOST_OFFLINE', session1.xenapi.pool.get_all)
        self.assertEqual([rule], [r['id'] for r in self.fleet.faults()])
        self.assertFailure('HOST_OFFLINE', session1.xenapi.pool.get_all)
        self.assertEqual(1, len(session1.xenapi.pool.get_all()))

    def test_always_and_clear(self):
        self.fleet.inject(
            '*', error=['INTERNAL_ERROR', 'boom'], times=None, host='xenhost1'
        )
        session = self.session('xenhost1', login=False)
        for _ in range(3):
            self.assertFailure(
                'INTERNAL_ERROR',
                session.login_with_password,
                base.USER,
                base.PASSWORD,
            )
        self.fleet.clear_faults()
        session.login_with_password(base.USER, base.PASSWORD)

    def test_login_failure_preset(self):
        self.fleet.inject(
            'session.login_with_password',
            error=[
                'SESSION_AUTHENTICATION_FAILED',
                'root',
                'Authentication failure',
            ],
        )
        self.assertFailure(
            'SESSION_AUTHENTICATION_FAILED', self.session, 'xenhost1'
        )
        self.session('xenhost1')

    def test_inject_validates(self):
        self.assertRaises(ValueError, self.fleet.inject, 'pool.join')
        self.assertRaises(
            ValueError, self.fleet.inject, 'pool.join', action='explode'
        )
        self.assertRaises(
            ValueError, self.fleet.inject, 'pool.join', error=[], times=1
        )
        self.assertRaises(
            ValueError, self.fleet.inject, 'pool.join', error=['X'], times=0
        )
        self.assertRaises(
            ValueError,
            self.fleet.inject,
            'pool.join',
            error=['X'],
            action='http_500',
        )
        self.assertRaises(
            KeyError, self.fleet.inject, 'pool.join', error=['X'], host='nope'
        )

    def test_delay_and_client_timeout(self):
        self.fleet.inject('pool.get_all', delay=1.0)
        session = self.session(
            'xenhost1', transport=base.TimeoutTransport(0.2)
        )
        start = time.monotonic()
        self.assertRaises(TimeoutError, session.xenapi.pool.get_all)
        self.assertLess(time.monotonic() - start, 0.9)
        # A short delay only slows the call down.
        self.fleet.inject('pool.get_all', delay=0.05)
        start = time.monotonic()
        self.assertEqual(
            1, len(self.session('xenhost1').xenapi.pool.get_all())
        )
        self.assertGreaterEqual(time.monotonic() - start, 0.05)

    def test_drop_connection(self):
        session = self.session('xenhost1')
        # The stdlib transport silently re-sends once after a dropped
        # connection ...
        self.fleet.inject('pool.get_all', action='drop_connection')
        self.assertEqual(1, len(session.xenapi.pool.get_all()))
        self.assertEqual(
            2, self.fleet.call_log().count(('xenhost1', 'pool.get_all'))
        )
        # ... so two drops in a row surface as RemoteDisconnected.
        self.fleet.inject('pool.get_all', action='drop_connection', times=2)
        self.assertRaises(
            http.client.RemoteDisconnected, session.xenapi.pool.get_all
        )

    def test_http_500(self):
        session = self.session('xenhost1')
        self.fleet.inject('pool.get_all', action='http_500')
        exc = self.assertRaises(
            xmlrpc.client.ProtocolError, session.xenapi.pool.get_all
        )
        self.assertEqual(500, exc.errcode)
        self.assertEqual(1, len(session.xenapi.pool.get_all()))

    def test_malformed(self):
        session = self.session('xenhost1')
        self.fleet.inject('pool.get_all', action='malformed')
        self.assertRaises(
            xml.parsers.expat.ExpatError, session.xenapi.pool.get_all
        )

    def test_expire_session_relogin(self):
        session = self.session('xenhost1')
        first = session.handle
        self.fleet.inject('*', action='expire_session')
        self.assertEqual(1, len(session.xenapi.pool.get_all()))
        self.assertNotEqual(first, session.handle)
        self.assertEqual(2, self.fleet.login_count('xenhost1'))
        self.assertEqual(
            [
                ('xenhost1', 'session.login_with_password'),
                ('xenhost1', 'pool.get_all'),
                ('xenhost1', 'session.login_with_password'),
                ('xenhost1', 'pool.get_all'),
            ],
            self.fleet.call_log(),
        )

    def test_expire_session_always(self):
        session = self.session('xenhost1')
        self.fleet.inject('pool.get_all', action='expire_session', times=None)
        exc = self.assertRaises(
            xmlrpc.client.Fault, session.xenapi.pool.get_all
        )
        self.assertEqual(500, exc.faultCode)
        self.assertIn('Tried 3 times', exc.faultString)


class TestJoinFaults(base.SimulatorTestCase):
    FLEET_KWARGS = {'hosts': 2, 'join_delay': 0.01}

    def test_half_done_join(self):
        session = self.session('xenhost2')
        self.fleet.inject('pool.join', action='half_done_join')
        self.assertEqual(
            '',
            session.xenapi.pool.join('127.0.0.11', base.USER, base.PASSWORD),
        )
        self.fleet.settle()
        master = self.session('xenhost1')
        self.assertEqual(1, len(master.xenapi.host.get_all()))
        # Never restarted.
        self.assertEqual(1, len(session.xenapi.host.get_all()))
        self.assertEqual('master', self.fleet.host_state('xenhost2')['state'])

    def test_half_done_join_still_checks(self):
        self.fleet.add_vm('xenhost2')
        self.fleet.inject('pool.join', action='half_done_join')
        session = self.session('xenhost2')
        self.assertJoinFails(
            'POOL_JOINING_HOST_CANNOT_HAVE_RUNNING_VMS', session)

    def test_late_join(self):
        session = self.session('xenhost2')
        self.fleet.inject('pool.join', action='late_join', delay=0.2)
        session.xenapi.pool.join('127.0.0.11', base.USER, base.PASSWORD)
        master = self.session('xenhost1')
        self.assertEqual(1, len(master.xenapi.host.get_all()))
        self.wait_for(lambda: len(master.xenapi.host.get_all()) == 2)
        self.fleet.settle()
        self.assertEqual('member', self.fleet.host_state('xenhost2')['state'])

    def test_async_join_error_rule_fails_the_task(self):
        session = self.session('xenhost2')
        # A rule on the plain method also governs its Async form's task.
        self.fleet.inject(
            'pool.join', error=['POOL_HOSTS_NOT_COMPATIBLE'], delay=0.05
        )
        task = session.xenapi.Async.pool.join(
            '127.0.0.11', base.USER, base.PASSWORD
        )
        self.assertEqual('pending', session.xenapi.task.get_status(task))
        self.wait_for(
            lambda: session.xenapi.task.get_status(task) != 'pending'
        )
        self.assertEqual(
            ['POOL_HOSTS_NOT_COMPATIBLE'],
            session.xenapi.task.get_error_info(task),
        )

    def test_async_join_half_done(self):
        session = self.session('xenhost2')
        self.fleet.inject('Async.pool.join', action='half_done_join')
        task = session.xenapi.Async.pool.join(
            '127.0.0.11', base.USER, base.PASSWORD
        )
        self.wait_for(
            lambda: session.xenapi.task.get_status(task) == 'success'
        )
        self.fleet.settle()
        self.assertEqual(
            ['xenhost1'], self.fleet.pool_of('xenhost1')['members']
        )


class TestOutages(base.SimulatorTestCase):
    FLEET_KWARGS = {'hosts': 2}

    def test_stop_and_start_host(self):
        session = self.session('xenhost1')
        url = self.fleet.host('xenhost1').url
        self.fleet.stop_host('xenhost1')
        self.assertEqual('stopped', self.fleet.host_state('xenhost1')['state'])
        # The kept-alive connection is cut; the stdlib retry then meets a
        # closed port.
        self.assertRaises(ConnectionRefusedError, session.xenapi.pool.get_all)
        fresh = self.session('xenhost1', login=False)
        self.assertRaises(
            ConnectionRefusedError,
            fresh.login_with_password,
            base.USER,
            base.PASSWORD,
        )
        self.session('xenhost2')  # other hosts unaffected
        self.fleet.start_host('xenhost1')
        self.assertEqual(url, self.fleet.host('xenhost1').url)
        # Sessions survive an endpoint outage.
        self.assertEqual(1, len(session.xenapi.pool.get_all()))
        self.assertIsInstance(XenAPI.Session(url), XenAPI.Session)

    def test_master_down_during_member_operations(self):
        session = self.session('xenhost2')
        session.xenapi.pool.join('127.0.0.11', base.USER, base.PASSWORD)
        self.fleet.settle()
        self.fleet.stop_host('xenhost1')
        master = self.session('xenhost1', login=False)
        self.assertRaises(
            ConnectionRefusedError,
            master.login_with_password,
            base.USER,
            base.PASSWORD,
        )
        self.assertTrue(self.login_fails_with('xenhost2', 'HOST_IS_SLAVE'))
