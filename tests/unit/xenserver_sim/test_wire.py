"""Wire fidelity and session handling, through the real XenAPI SDK."""

import http.client
import urllib.request
import xmlrpc.client

import XenAPI

from tests.unit.xenserver_sim import base


class TestSessions(base.SimulatorTestCase):
    def test_login_and_logout(self):
        session = self.session('xenhost1', login=False)
        session.login_with_password(base.USER, base.PASSWORD)
        self.assertTrue(session.handle.startswith('OpaqueRef:'))
        self.assertEqual(1, self.fleet.login_count('xenhost1'))
        self.assertEqual(1, self.fleet.login_count())
        host_ref = session.xenapi.session.get_this_host(session.handle)
        self.assertEqual(
            self.fleet.host('xenhost1').uuid,
            session.xenapi.host.get_uuid(host_ref),
        )
        session.xenapi.session.logout()
        self.assertIsNone(session.handle)
        exc = self.assertRaises(
            xmlrpc.client.Fault, session.xenapi.pool.get_all
        )
        self.assertEqual(401, exc.faultCode)
        self.assertEqual(
            [
                ('xenhost1', 'session.login_with_password'),
                ('xenhost1', 'session.get_this_host'),
                ('xenhost1', 'host.get_uuid'),
                ('xenhost1', 'session.logout'),
                ('xenhost1', 'pool.get_all'),
            ],
            self.fleet.call_log(),
        )

    def test_login_accepts_two_to_four_arguments(self):
        session = self.session('xenhost1', login=False)
        for args in (
            (base.USER, base.PASSWORD),
            (base.USER, base.PASSWORD, '1.1'),
            (base.USER, base.PASSWORD, '1.1', 'nova-aggregates'),
        ):
            session.login_with_password(*args)
            self.assertEqual(1, len(session.xenapi.pool.get_all()))
        self.assertFailure(
            'MESSAGE_PARAMETER_COUNT_MISMATCH',
            session.login_with_password,
            base.USER,
        )

    def test_wrong_password(self):
        session = self.session('xenhost1', login=False)
        details = self.assertFailure(
            'SESSION_AUTHENTICATION_FAILED',
            session.login_with_password,
            base.USER,
            'wrong',
        )
        self.assertEqual(
            [
                'SESSION_AUTHENTICATION_FAILED',
                base.USER,
                'Authentication failure',
            ],
            details,
        )
        self.assertFailure(
            'SESSION_AUTHENTICATION_FAILED',
            session.login_with_password,
            'admin',
            base.PASSWORD,
        )
        self.assertEqual(0, self.fleet.login_count())

    def test_set_password(self):
        self.fleet.set_password('xenhost2', 'changed')
        self.assertFailure(
            'SESSION_AUTHENTICATION_FAILED', self.session, 'xenhost2'
        )
        session = self.session('xenhost2', password='changed')
        self.assertEqual(1, len(session.xenapi.host.get_all()))
        # Other hosts keep their credentials.
        self.session('xenhost1')

    def test_never_logged_in_is_told_to_log_in(self):
        # The SDK sends <nil/> as the session; SESSION_INVALID becomes Fault
        # 401.
        session = self.session('xenhost1', login=False)
        exc = self.assertRaises(
            xmlrpc.client.Fault, session.xenapi.host.get_all
        )
        self.assertEqual(401, exc.faultCode)

    def test_session_is_per_host(self):
        session1 = self.session('xenhost1')
        raw = xmlrpc.client.ServerProxy(self.fleet.host('xenhost2').url)
        self.addCleanup(raw('close'))
        reply = raw.pool.get_all(session1.handle)
        self.assertEqual(
            {
                'Status': 'Failure',
                'ErrorDescription': ['SESSION_INVALID', session1.handle],
            },
            reply,
        )

    def test_session_get_this_host_rejects_foreign_session(self):
        session = self.session('xenhost1')
        self.assertFailure(
            'HANDLE_INVALID',
            session.xenapi.session.get_this_host,
            'OpaqueRef:nope',
        )


class TestWire(base.SimulatorTestCase):
    def test_rpc2_path_and_root_path(self):
        url = self.fleet.host('xenhost1').url  # ends with "/"
        # Without a path the SDK posts to /RPC2.
        for target in (url, url.rstrip('/')):
            session = self.session('xenhost1', url=target)
            self.assertEqual(1, len(session.xenapi.pool.get_all()))

    def test_envelope_and_ints_as_strings(self):
        session = self.session('xenhost1')
        raw = xmlrpc.client.ServerProxy(self.fleet.host('xenhost1').url)
        self.addCleanup(raw('close'))
        host = session.xenapi.session.get_this_host(session.handle)
        reply = raw.host.get_API_version_major(session.handle, host)
        self.assertEqual({'Status': 'Success', 'Value': '2'}, reply)
        record = session.xenapi.host.get_record(host)
        self.assertEqual('20', record['API_version_minor'])
        self.assertIsInstance(record['memory_overhead'], str)
        int(record['memory_overhead'])
        self.assertIs(True, record['enabled'])
        self.assertEqual('127.0.0.11', record['address'])
        self.assertEqual('2.20', session.API_version)
        # Every integer anywhere in a VM record is a decimal string.
        vm = record['control_domain']
        vm_record = session.xenapi.VM.get_record(vm)
        self.assertEqual('0', vm_record['domid'])
        self.assertEqual('Running', vm_record['power_state'])
        self.assertIs(True, vm_record['is_control_domain'])
        self.assertEqual(host, vm_record['resident_on'])
        # void is "".
        self.assertEqual('', session.xenapi.host.disable(host))

    def test_each_host_has_a_dom0_and_is_master_of_its_own_pool(self):
        session = self.session('xenhost2')
        pools = session.xenapi.pool.get_all()
        self.assertEqual(1, len(pools))
        pool = session.xenapi.pool.get_record(pools[0])
        self.assertEqual('', pool['name_label'])
        self.assertEqual(self.host_ref(session, 'xenhost2'), pool['master'])
        vms = session.xenapi.VM.get_all_records()
        self.assertEqual(
            [True], [r['is_control_domain'] for r in vms.values()]
        )
        self.assertEqual(
            [self.host_ref(session, 'xenhost2')], session.xenapi.host.get_all()
        )

    def test_unknown_method_and_arity(self):
        session = self.session('xenhost1')
        details = self.assertFailure(
            'MESSAGE_METHOD_UNKNOWN', session.xenapi.pool.frobnicate
        )
        self.assertEqual(
            ['MESSAGE_METHOD_UNKNOWN', 'pool.frobnicate'], details
        )
        details = self.assertFailure(
            'MESSAGE_PARAMETER_COUNT_MISMATCH',
            session.xenapi.pool.join,
            '127.0.0.12',
        )
        self.assertEqual(
            ['MESSAGE_PARAMETER_COUNT_MISMATCH', 'pool.join', '4', '2'],
            details,
        )
        # Getters have no Async form.
        self.assertFailure(
            'MESSAGE_METHOD_UNKNOWN', session.xenapi.Async.pool.get_all
        )

    def test_optional_trailing_parameters(self):
        session = self.session('xenhost1')
        host = self.host_ref(session, 'xenhost1')
        session.xenapi.host.disable(host)
        session.xenapi.host.disable(host, False)
        self.assertFalse(session.xenapi.host.get_enabled(host))
        session.xenapi.host.enable(host)
        self.assertTrue(session.xenapi.host.get_enabled(host))
        self.assertFailure(
            'MESSAGE_PARAMETER_COUNT_MISMATCH',
            session.xenapi.host.enable,
            host,
            True,
        )

    def test_bad_refs_and_uuids(self):
        session = self.session('xenhost1')
        self.assertEqual(
            ['HANDLE_INVALID', 'host', 'OpaqueRef:bad'],
            self.assertFailure(
                'HANDLE_INVALID',
                session.xenapi.host.get_address,
                'OpaqueRef:bad',
            ),
        )
        self.assertEqual(
            ['UUID_INVALID', 'host', 'nope'],
            self.assertFailure(
                'UUID_INVALID', session.xenapi.host.get_by_uuid, 'nope'
            ),
        )
        # A host of another pool is not visible here.
        other = self.fleet.host('xenhost2').ref
        self.assertFailure(
            'HANDLE_INVALID', session.xenapi.host.get_record, other
        )

    def test_unparsable_request_is_http_500(self):
        url = self.fleet.host('xenhost1').url
        request = urllib.request.Request(
            url,
            data=b'<not-xml',
            method='POST',
            headers={'Content-Type': 'text/xml'},
        )
        exc = self.assertRaises(
            urllib.error.HTTPError, urllib.request.urlopen, request, timeout=5
        )
        self.assertEqual(500, exc.code)
        exc.close()
        self.assertEqual([], self.fleet.call_log())

    def test_keep_alive_connection_is_reused(self):
        session = self.session('xenhost1')
        connection = session._ServerProxy__transport._connection[1]
        self.assertIsInstance(connection, http.client.HTTPConnection)
        for _ in range(3):
            session.xenapi.pool.get_all()
        self.assertIs(
            connection, session._ServerProxy__transport._connection[1]
        )


class TestPoolRecord(base.SimulatorTestCase):
    def test_name_label_and_other_config(self):
        session = self.session('xenhost1')
        pool = session.xenapi.pool.get_all()[0]
        session.xenapi.pool.set_name_label(pool, 'aggregate-1')
        self.assertEqual(
            'aggregate-1', session.xenapi.pool.get_name_label(pool)
        )
        self.assertEqual(
            'aggregate-1', self.fleet.pool_of('xenhost1')['name_label']
        )
        session.xenapi.pool.add_to_other_config(pool, 'nova_aggregate', '7')
        self.assertFailure(
            'MAP_DUPLICATE_KEY',
            session.xenapi.pool.add_to_other_config,
            pool,
            'nova_aggregate',
            '8',
        )
        self.assertEqual(
            {'nova_aggregate': '7'}, session.xenapi.pool.get_other_config(pool)
        )
        self.assertEqual(
            {'nova_aggregate': '7'},
            self.fleet.pool_of('xenhost1')['other_config'],
        )
        session.xenapi.pool.remove_from_other_config(pool, 'nova_aggregate')
        session.xenapi.pool.remove_from_other_config(pool, 'absent')  # no-op
        self.assertEqual(
            {}, session.xenapi.pool.get_record(pool)['other_config']
        )
        self.assertEqual(
            pool,
            session.xenapi.pool.get_by_uuid(
                session.xenapi.pool.get_uuid(pool)
            ),
        )

    def test_get_all_records_and_name_lookup(self):
        session = self.session('xenhost1')
        records = session.xenapi.host.get_all_records()
        self.assertEqual(
            ['xenhost1'], [r['hostname'] for r in records.values()]
        )
        self.assertEqual(
            list(records), session.xenapi.host.get_by_name_label('xenhost1')
        )
        self.assertEqual([], session.xenapi.host.get_by_name_label('xenhost2'))

    def test_unauthenticated_raw_call(self):
        raw = xmlrpc.client.ServerProxy(
            self.fleet.host('xenhost1').url, allow_none=True
        )
        self.addCleanup(raw('close'))
        reply = raw.host.get_all(None)
        self.assertEqual(
            {
                'Status': 'Failure',
                'ErrorDescription': ['SESSION_INVALID', 'OpaqueRef:NULL'],
            },
            reply,
        )
        self.assertIsInstance(
            XenAPI.Failure(reply['ErrorDescription']), Exception
        )


class TestSharedAddressMode(base.SimulatorTestCase):
    FLEET_KWARGS = {'hosts': 2, 'distinct_addresses': False}

    def test_distinct_ports_on_one_address(self):
        host1, host2 = self.fleet.hosts
        self.assertNotEqual(host1.port, host2.port)
        self.assertEqual('127.0.0.1:%d' % host1.port, host1.address)
        self.assertTrue(host2.url.startswith('http://127.0.0.1:'))
        session = self.session('xenhost2')
        session.xenapi.pool.join(host1.address, base.USER, base.PASSWORD)
        self.assertEqual(
            ['xenhost1', 'xenhost2'], self.fleet.pool_of('xenhost1')['members']
        )
