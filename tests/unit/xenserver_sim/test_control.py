"""The JSON admin endpoint (not on the XenAPI wire)."""

import json
import urllib.error
import urllib.request

import XenAPI

from tests.unit.xenserver_sim import base


class TestControlEndpoint(base.SimulatorTestCase):
    FLEET_KWARGS = {'hosts': 2, 'join_delay': 0.01}

    def admin(self, verb, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            self.fleet.control_url.rstrip('/') + path,
            data=data,
            method=verb,
            headers={'Content-Type': 'application/json'},
        )
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as exc:
            with exc:
                return exc.code, json.loads(exc.read())

    def test_pools_and_hosts(self):
        status, pools = self.admin('GET', '/pools')
        self.assertEqual(200, status)
        self.assertEqual(self.fleet.pools(), pools)
        self.assertEqual(
            [['xenhost1'], ['xenhost2']], [p['members'] for p in pools]
        )
        status, hosts = self.admin('GET', '/hosts')
        self.assertEqual(['xenhost1', 'xenhost2'], [h['name'] for h in hosts])
        self.assertEqual(self.fleet.host('xenhost2').url, hosts[1]['url'])
        self.assertEqual('master', hosts[0]['state'])
        self.assertEqual(404, self.admin('GET', '/hosts/nope')[0])
        self.assertEqual(404, self.admin('GET', '/nothing')[0])

    def test_faults(self):
        status, body = self.admin(
            'POST',
            '/faults',
            {
                'method': 'pool.get_all',
                'error': ['HOST_OFFLINE'],
                'times': None,
            },
        )
        self.assertEqual(201, status)
        self.assertEqual(
            [body['id']], [r['id'] for r in self.admin('GET', '/faults')[1]]
        )
        session = self.session('xenhost1')
        self.assertFailure('HOST_OFFLINE', session.xenapi.pool.get_all)
        self.assertFailure('HOST_OFFLINE', session.xenapi.pool.get_all)
        self.assertEqual(200, self.admin('DELETE', '/faults')[0])
        self.assertEqual(1, len(session.xenapi.pool.get_all()))
        rule = self.admin('POST', '/faults', {'method': 'x', 'error': ['E']})[
            1
        ]['id']
        self.assertEqual(200, self.admin('DELETE', '/faults/%d' % rule)[0])
        self.assertEqual(404, self.admin('DELETE', '/faults/%d' % rule)[0])
        self.assertEqual(
            400, self.admin('POST', '/faults', {'method': 'x'})[0]
        )
        self.assertEqual(400, self.admin('POST', '/faults', {'bogus': 1})[0])

    def test_stop_start_and_vms(self):
        status, state = self.admin('POST', '/hosts/xenhost2/stop')
        self.assertEqual((200, 'stopped'), (status, state['state']))
        client = self.session('xenhost2', login=False)
        self.assertRaises(
            ConnectionRefusedError,
            client.login_with_password,
            base.USER,
            base.PASSWORD,
        )
        self.assertEqual(
            'master', self.admin('POST', '/hosts/xenhost2/start')[1]['state']
        )
        status, body = self.admin(
            'POST', '/hosts/xenhost2/vms', {'name': 'web'}
        )
        self.assertEqual(201, status)
        session = self.session('xenhost2')
        vm = session.xenapi.VM.get_by_uuid(body['uuid'])
        self.assertEqual('Running', session.xenapi.VM.get_power_state(vm))
        self.assertJoinFails(
            'POOL_JOINING_HOST_CANNOT_HAVE_RUNNING_VMS', session)

    def test_delete_vm(self):
        uuid = self.admin('POST', '/hosts/xenhost2/vms',
                          {'name': 'web'})[1]['uuid']
        self.assertEqual((200, {}), self.admin('DELETE', '/vms/' + uuid))
        self.assertEqual([], [vm for vm in self.admin('GET', '/vms')[1]
                              if vm['uuid'] == uuid])
        session = self.session('xenhost2')
        self.assertEqual([], [r for r in session.xenapi.VM.get_all_records(
            ).values() if not r['is_control_domain']])
        self.assertEqual(404, self.admin('DELETE', '/vms/' + uuid)[0])

    def test_password_config_calls_logins(self):
        self.admin('POST', '/hosts/xenhost1/password', {'password': 'new'})
        self.assertRaises(XenAPI.Failure, self.session, 'xenhost1')
        self.session('xenhost1', password='new')
        status, state = self.admin(
            'POST',
            '/hosts/xenhost1/config',
            {'cpu_vendor': 'AuthenticAMD', 'api_version': '2.21'},
        )
        self.assertEqual(
            ('AuthenticAMD', '2.21'),
            (state['cpu_vendor'], state['api_version']),
        )
        self.assertEqual(
            400,
            self.admin('POST', '/hosts/xenhost1/config', {'colour': 'red'})[0],
        )
        calls = self.admin('GET', '/calls')[1]
        self.assertEqual(
            [{'host': 'xenhost1', 'method': 'session.login_with_password'}]
            * 2,
            calls,
        )
        self.assertEqual(
            {'xenhost1': 1, 'xenhost2': 0}, self.admin('GET', '/logins')[1]
        )
        self.admin('DELETE', '/calls')
        self.assertEqual([], self.fleet.call_log())
        self.assertEqual(
            {'settled': True}, self.admin('POST', '/settle', {'timeout': 2})[1]
        )
