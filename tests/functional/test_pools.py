"""Pool aggregates end to end: HTTP API -> AggregateManager -> xenapi
driver -> XenAPI SDK -> XML-RPC -> XenServer simulator.

Every test checks both sides: what the API answers, and the pool as the
simulator holds it (master, members, name label).  Fault tests prove the
rollback: after the failure the database, read through the API, agrees
with the real pool, and a retry after clearing the fault succeeds.
"""

import threading
import time

import fixtures
import testtools
import XenAPI

from nova_aggregates import exception
from tests import base
from tests.functional import pool_fixtures

POOL_FLAG = {'hypervisor_pool': 'true'}


class PoolTestCase(base.JSONRequestMixin, testtools.TestCase):
    """Fleet of 4 hosts + the API; helpers speak HTTP and read the fleet."""

    XENAPI = None

    def setUp(self):
        super().setUp()
        self.useFixture(fixtures.FakeLogger())
        self.env = self.useFixture(
            pool_fixtures.PoolAPIFixture(xenapi=self.XENAPI))
        self.fleet = self.env.fleet

    # -- HTTP ---------------------------------------------------------------

    def request(self, method, path, body=None):
        return self.env.request(method, path, body)

    def call(self, method, path, body=None, expected=200):
        return self.json_request(method, path, body, expected=expected)

    def fault(self, method, path, body, status, *parts):
        """Assert a fault with ``status`` whose message holds ``parts``."""
        body = self.call(method, path, body, expected=status)
        (name, fault), = body.items()
        self.assertEqual(status, fault['code'])
        for part in parts:
            self.assertIn(part, fault['message'])
        return fault['message']

    def action(self, agg_id, name, value, expected=200):
        return self.call('POST', '/v2.1/os-aggregates/%d/action' % agg_id,
                         {name: value}, expected)

    def action_fault(self, agg_id, name, value, status, *parts):
        return self.fault('POST', '/v2.1/os-aggregates/%d/action' % agg_id,
                          {name: value}, status, *parts)

    def add(self, agg_id, host):
        return self.action(agg_id, 'add_host', {'host': host})['aggregate']

    def remove(self, agg_id, host):
        return self.action(agg_id, 'remove_host', {'host': host})['aggregate']

    def show(self, agg_id, prefix='/v2.1'):
        return self.call('GET', '%s/os-aggregates/%d' % (prefix, agg_id)
                         )['aggregate']

    def create_pool(self, name='rack1', hosts=()):
        agg = self.call('POST', '/v2.1/os-aggregates',
                        {'aggregate': {'name': name}})['aggregate']
        self.action(agg['id'], 'set_metadata', {'metadata': POOL_FLAG})
        for host in hosts:
            self.add(agg['id'], host)
        return agg['id']

    # -- the simulator's side -------------------------------------------------

    def uuid(self, host):
        return self.fleet.host(host).uuid

    def sim_pool(self, agg_id):
        """The simulator's pool tagged with this aggregate, or None."""
        tagged = [p for p in self.fleet.pools()
                  if p['other_config'].get('nova_aggregate_id') == str(agg_id)]
        self.assertLessEqual(len(tagged), 1, tagged)
        return tagged[0] if tagged else None

    def assertStandalone(self, *hosts):
        """Each host is alone in an untagged, unnamed pool."""
        self.fleet.settle()
        for host in hosts:
            pool = self.fleet.pool_of(host)
            self.assertEqual([host], pool['members'], pool)
            self.assertEqual('', pool['name_label'])
            self.assertNotIn('nova_aggregate_id', pool['other_config'])

    def assertAgrees(self, agg_id, state=None):
        """The aggregate (read through the API) and the real pool agree:
        members, master, name label and the recorded host uuids."""
        agg = self.show(agg_id)
        metadata = agg['metadata']
        pool = self.sim_pool(agg_id)
        uuids = {k[len('xenapi_host_uuid:'):]: v for k, v in metadata.items()
                 if k.startswith('xenapi_host_uuid:')}
        if not agg['hosts']:
            self.assertIsNone(pool)
            self.assertNotIn('master_compute', metadata)
            self.assertEqual({}, uuids)
        else:
            self.assertIsNotNone(pool, agg)
            self.assertEqual(sorted(agg['hosts']), pool['members'])
            self.assertEqual(pool['master'], metadata['master_compute'])
            self.assertEqual(agg['name'], pool['name_label'])
            self.assertEqual({h: self.uuid(h) for h in agg['hosts']}, uuids)
        if state is not None:
            self.assertEqual(state, metadata['operational_state'])
        return agg


class PoolLifecycleTest(PoolTestCase):

    def test_build_rename_eject_dissolve(self):
        agg_id = self.create_pool('rack1')
        agg = self.assertAgrees(agg_id, 'created')
        self.assertEqual([], agg['hosts'])

        agg = self.add(agg_id, 'xenhost1')
        self.assertEqual({'hypervisor_pool': 'true',
                          'operational_state': 'active',
                          'master_compute': 'xenhost1',
                          'xenapi_host_uuid:xenhost1': self.uuid('xenhost1')},
                         agg['metadata'])
        self.assertEqual('rack1', self.fleet.pool_of('xenhost1')['name_label'])
        self.add(agg_id, 'xenhost2')
        agg = self.add(agg_id, 'xenhost3')
        self.assertEqual(['xenhost1', 'xenhost2', 'xenhost3'], agg['hosts'])
        self.assertEqual('xenhost1', agg['metadata']['master_compute'])
        self.assertAgrees(agg_id, 'active')
        pool = self.sim_pool(agg_id)
        self.assertEqual(('xenhost1', ['xenhost1', 'xenhost2', 'xenhost3']),
                         (pool['master'], pool['members']))
        self.assertEqual('rack1', pool['name_label'])

        # The legacy surface shows the same bookkeeping, plus the state.
        legacy = self.show(agg_id, prefix='/v2/admin')
        self.assertEqual('active', legacy['operational_state'])
        self.assertEqual(agg['metadata'], legacy['metadata'])
        for host in ('xenhost1', 'xenhost2', 'xenhost3'):
            self.assertEqual(self.uuid(host),
                             legacy['metadata']['xenapi_host_uuid:' + host])
        # v2.1 bodies carry no extra fields.
        self.assertNotIn('operational_state', self.show(agg_id))

        # Rename: the pool's name label follows.
        renamed = self.call('PUT', '/v2.1/os-aggregates/%d' % agg_id,
                            {'aggregate': {'name': 'rack-renamed'}})
        self.assertEqual('rack-renamed', renamed['aggregate']['name'])
        self.assertEqual('rack-renamed', self.sim_pool(agg_id)['name_label'])
        self.assertAgrees(agg_id, 'active')

        # Eject a member: it leaves the pool and comes back standalone.
        agg = self.remove(agg_id, 'xenhost2')
        self.assertEqual(['xenhost1', 'xenhost3'], agg['hosts'])
        self.assertNotIn('xenapi_host_uuid:xenhost2', agg['metadata'])
        self.assertAgrees(agg_id, 'active')
        self.assertStandalone('xenhost2')

        # Dissolve: members first, then the master alone.
        self.remove(agg_id, 'xenhost3')
        agg = self.remove(agg_id, 'xenhost1')
        self.assertEqual([], agg['hosts'])
        self.assertEqual({'hypervisor_pool': 'true',
                          'operational_state': 'created'}, agg['metadata'])
        self.assertAgrees(agg_id, 'created')
        self.assertStandalone('xenhost1', 'xenhost2', 'xenhost3')
        legacy = self.show(agg_id, prefix='/v1.1/admin')
        self.assertEqual('created', legacy['operational_state'])

        # Empty again: it can be deleted, and formed again under a new id.
        self.call('DELETE', '/v2.1/os-aggregates/%d' % agg_id)
        again = self.create_pool('rack1', ['xenhost2', 'xenhost1'])
        self.assertEqual('xenhost2',
                         self.show(again)['metadata']['master_compute'])
        self.assertAgrees(again, 'active')

    def test_rename_before_first_host_names_the_pool(self):
        agg_id = self.create_pool('rack1')
        self.call('PUT', '/v2.1/os-aggregates/%d' % agg_id,
                  {'aggregate': {'name': 'rack2'}})
        self.add(agg_id, 'xenhost1')
        self.assertEqual('rack2', self.sim_pool(agg_id)['name_label'])

    def test_hypervisor_pool_flag_only_while_empty(self):
        agg_id = self.create_pool('rack1', ['xenhost1'])
        self.action_fault(agg_id, 'set_metadata',
                          {'metadata': {'hypervisor_pool': None}}, 409,
                          'hypervisor_pool')
        # Setting it to the value it has changes nothing: no conflict.
        self.action(agg_id, 'set_metadata', {'metadata': POOL_FLAG})
        self.assertAgrees(agg_id, 'active')
        # A logical aggregate with hosts cannot become a pool either.
        logical = self.call('POST', '/v2.1/os-aggregates',
                            {'aggregate': {'name': 'logical'}})['aggregate']
        self.add(logical['id'], 'xenhost3')
        self.action_fault(logical['id'], 'set_metadata',
                          {'metadata': POOL_FLAG}, 409, 'hypervisor_pool')
        self.assertStandalone('xenhost3')
        # Once empty, the flag may go (and come back).
        self.remove(agg_id, 'xenhost1')
        agg = self.action(agg_id, 'set_metadata',
                          {'metadata': {'hypervisor_pool': None}})
        self.assertEqual({}, agg['aggregate']['metadata'])
        self.action(agg_id, 'set_metadata', {'metadata': POOL_FLAG})
        self.assertAgrees(agg_id, 'created')

    def test_reserved_keys_refused(self):
        agg_id = self.create_pool('rack1', ['xenhost1', 'xenhost2'])
        before = self.show(agg_id)
        for key in ('operational_state', 'master_compute', 'last_error',
                    'xenapi_host_uuid:xenhost2', 'xenapi_host_uuid:other'):
            for value in ('x', None):
                self.action_fault(agg_id, 'set_metadata',
                                  {'metadata': {key: value}}, 400, key)
        self.assertEqual(before['metadata'], self.show(agg_id)['metadata'])
        # Ordinary keys still merge next to the bookkeeping.
        agg = self.action(agg_id, 'set_metadata',
                          {'metadata': {'ssd': 'yes'}})['aggregate']
        self.assertEqual('yes', agg['metadata']['ssd'])
        self.assertAgrees(agg_id, 'active')

    def test_remove_master_with_members_refused(self):
        agg_id = self.create_pool('rack1', ['xenhost1', 'xenhost2'])
        self.action_fault(agg_id, 'remove_host', {'host': 'xenhost1'}, 409,
                          'xenhost1', 'master', 'xenhost2')
        agg = self.assertAgrees(agg_id, 'active')
        self.assertEqual(['xenhost1', 'xenhost2'], agg['hosts'])
        self.assertNotIn('last_error', agg['metadata'])

    def test_delete_with_hosts_refused(self):
        agg_id = self.create_pool('rack1', ['xenhost1'])
        self.fault('DELETE', '/v2.1/os-aggregates/%d' % agg_id, None, 400,
                   'xenhost1')
        self.assertAgrees(agg_id, 'active')
        self.remove(agg_id, 'xenhost1')
        self.call('DELETE', '/v2.1/os-aggregates/%d' % agg_id)
        self.call('GET', '/v2.1/os-aggregates/%d' % agg_id, expected=404)

    def test_host_in_two_pools_refused(self):
        first = self.create_pool('rack1', ['xenhost1'])
        second = self.create_pool('rack2', ['xenhost2'])
        self.action_fault(second, 'add_host', {'host': 'xenhost1'}, 409,
                          'xenhost1', 'rack1')
        self.assertAgrees(first, 'active')
        self.assertAgrees(second, 'active')


class JoinRefusedTest(PoolTestCase):
    """XenServer refuses a join: 409 naming host and code, ``error`` with
    last_error, the pool and the database unchanged; then a retry works."""

    XENAPI = {'join_timeout': 0.3}

    def refused(self, code, provoke, clear, host='xenhost3'):
        agg_id = self.create_pool('rack1', ['xenhost1', 'xenhost2'])
        provoke()
        message = self.action_fault(agg_id, 'add_host', {'host': host}, 409,
                                    host, code)
        agg = self.assertAgrees(agg_id, 'error')
        self.assertEqual(['xenhost1', 'xenhost2'], agg['hosts'])
        last_error = agg['metadata']['last_error']
        self.assertTrue(last_error.startswith(code + ': '), last_error)
        self.assertIn(host, last_error)
        self.assertIn(code, message)
        legacy = self.show(agg_id, prefix='/v2/admin')
        self.assertEqual('error', legacy['operational_state'])
        self.assertEqual(last_error, legacy['metadata']['last_error'])
        # Clear the cause; a retry from ``error`` succeeds.
        clear()
        agg = self.add(agg_id, host)
        self.assertEqual(['xenhost1', 'xenhost2', host], agg['hosts'])
        self.assertNotIn('last_error', agg['metadata'])
        self.assertAgrees(agg_id, 'active')
        return agg_id

    def test_wrong_master_password(self):
        self.refused('SESSION_AUTHENTICATION_FAILED',
                     lambda: self.fleet.set_password('xenhost1', 'changed'),
                     lambda: self.fleet.set_password('xenhost1', 'secret'))

    def test_wrong_joiner_password(self):
        self.refused('SESSION_AUTHENTICATION_FAILED',
                     lambda: self.fleet.set_password('xenhost3', 'changed'),
                     lambda: self.fleet.set_password('xenhost3', 'secret'))

    def test_running_vms(self):
        vm = []

        def shut_down():
            session = XenAPI.Session(self.fleet.host('xenhost3').url)
            session.login_with_password('root', 'secret')
            try:
                ref = session.xenapi.VM.get_by_uuid(vm[0])
                session.xenapi.VM.clean_shutdown(ref)
            finally:
                session.xenapi.session.logout()

        self.refused('POOL_JOINING_HOST_CANNOT_HAVE_RUNNING_VMS',
                     lambda: vm.append(self.fleet.add_vm('xenhost3')),
                     shut_down)

    def _reconfigure(self, **values):
        state = self.fleet.host_state('xenhost3')
        original = {
            'cpu_vendor': {'cpu_vendor': state['cpu_vendor']},
            'software_version': {'software_version': state['software_version']},
            'api_version': {'api_version': state['api_version']},
            'shared_sr': {'shared_sr': False},
        }
        restore = {}
        for key in values:
            restore.update(original[key])
        return (lambda: self.fleet.configure_host('xenhost3', **values),
                lambda: self.fleet.configure_host('xenhost3', **restore))

    def test_cpus_differ(self):
        self.refused('POOL_HOSTS_NOT_HOMOGENEOUS',
                     *self._reconfigure(cpu_vendor='AuthenticAMD-other'))

    def test_software_differs(self):
        self.refused('POOL_HOSTS_NOT_HOMOGENEOUS', *self._reconfigure(
            software_version={'xapi': '0.1'}))

    def test_platform_not_compatible(self):
        self.refused('POOL_HOSTS_NOT_COMPATIBLE', *self._reconfigure(
            software_version={'platform_version': '0.0.1'}))

    def test_api_version_differs(self):
        self.refused('POOL_JOINING_HOST_MUST_HAVE_SAME_API_VERSION',
                     *self._reconfigure(api_version='1.9'))

    def test_shared_srs(self):
        self.refused('POOL_JOINING_HOST_CANNOT_CONTAIN_SHARED_SRS',
                     *self._reconfigure(shared_sr=True))

    def test_master_unreachable_for_the_joiner(self):
        # The master's API is up for us, but the joiner cannot connect.
        self.refused('POOL_JOINING_HOST_CONNECTION_FAILED',
                     lambda: self.fleet.inject(
                         'pool.join',
                         error=['POOL_JOINING_HOST_CONNECTION_FAILED']),
                     lambda: None)

    def test_master_down_for_the_joiner(self):
        # The master's endpoint is down; the joiner cannot reach it.  (Our
        # driver needs nothing from a warm master before pool.join.)
        self.refused('POOL_JOINING_HOST_CONNECTION_FAILED',
                     lambda: self.fleet.stop_host('xenhost1'),
                     lambda: self.fleet.start_host('xenhost1'))

    def test_joiner_is_master_of_another_pool(self):
        # xenhost4 joined xenhost3's pool behind our back.
        joiner = XenAPI.Session(self.fleet.host('xenhost4').url)
        joiner.login_with_password('root', 'secret')
        master = self.fleet.host('xenhost3')

        def provoke():
            joiner.xenapi.pool.join(master.address, 'root', 'secret')
            self.fleet.settle()

        def clear():
            session = XenAPI.Session(master.url)
            session.login_with_password('root', 'secret')
            try:
                ref = session.xenapi.host.get_by_uuid(self.uuid('xenhost4'))
                session.xenapi.pool.eject(ref)
            finally:
                session.xenapi.session.logout()
            self.fleet.settle()

        self.refused('POOL_JOINING_HOST_CANNOT_BE_MASTER_OF_OTHER_HOSTS',
                     provoke, clear)
        self.assertStandalone('xenhost4')

    def test_first_host_refused(self):
        # Forming the pool can fail too: the master itself refuses logins.
        agg_id = self.create_pool('rack1')
        self.fleet.set_password('xenhost1', 'changed')
        self.action_fault(agg_id, 'add_host', {'host': 'xenhost1'}, 409,
                          'xenhost1', 'SESSION_AUTHENTICATION_FAILED')
        agg = self.assertAgrees(agg_id, 'error')
        self.assertEqual([], agg['hosts'])
        self.assertStandalone('xenhost1')
        self.fleet.set_password('xenhost1', 'secret')
        self.add(agg_id, 'xenhost1')
        self.assertAgrees(agg_id, 'active')

    def test_half_done_join(self):
        # pool.join says success but the host never joins: the driver's
        # check on the master catches it; nothing changed.
        self.refused('NOVA_POOL_JOIN_NOT_CONFIRMED',
                     lambda: self.fleet.inject('pool.join',
                                               action='half_done_join'),
                     lambda: None)

    def test_join_done_but_not_confirmed(self):
        # The join happened, then the check on the master failed: the
        # aggregate is ``error`` and the database follows the real pool.
        agg_id = self.create_pool('rack1', ['xenhost1', 'xenhost2'])
        self.fleet.inject('host.get_by_uuid', host='xenhost1',
                          error=['INTERNAL_ERROR', 'database locked'])
        self.action_fault(agg_id, 'add_host', {'host': 'xenhost3'}, 409,
                          'xenhost3', 'INTERNAL_ERROR')
        agg = self.assertAgrees(agg_id, 'error')
        self.assertEqual(['xenhost1', 'xenhost2', 'xenhost3'],
                         sorted(agg['hosts']))
        self.assertIn('INTERNAL_ERROR', agg['metadata']['last_error'])
        # The next operation clears ``error``.
        self.remove(agg_id, 'xenhost3')
        self.assertAgrees(agg_id, 'active')
        self.assertStandalone('xenhost3')

    def test_late_join_is_confirmed(self):
        self.fleet.inject('pool.join', action='late_join', delay=0.1)
        agg_id = self.create_pool('rack1', ['xenhost1', 'xenhost2'])
        self.assertAgrees(agg_id, 'active')


class RemoveRefusedTest(PoolTestCase):

    def test_eject_member_with_running_guests(self):
        agg_id = self.create_pool('rack1', ['xenhost1', 'xenhost2'])
        self.fleet.add_vm('xenhost2', name='web1')
        self.action_fault(agg_id, 'remove_host', {'host': 'xenhost2'}, 409,
                          'xenhost2', 'guest')
        agg = self.assertAgrees(agg_id, 'active')
        self.assertEqual(['xenhost1', 'xenhost2'], agg['hosts'])
        self.assertNotIn('last_error', agg['metadata'])
        self.assertNotIn(('xenhost1', 'pool.eject'), self.fleet.call_log())

    def test_eject_refused_by_xenserver(self):
        agg_id = self.create_pool('rack1', ['xenhost1', 'xenhost2'])
        self.fleet.inject('pool.eject', error=['HOST_OFFLINE', 'ref'])
        self.action_fault(agg_id, 'remove_host', {'host': 'xenhost2'}, 409,
                          'xenhost2', 'HOST_OFFLINE')
        agg = self.assertAgrees(agg_id, 'error')
        self.assertIn('HOST_OFFLINE', agg['metadata']['last_error'])
        # An admin may remove hosts from an ``error`` aggregate.
        self.remove(agg_id, 'xenhost2')
        self.assertAgrees(agg_id, 'active')


class OutageTest(PoolTestCase):
    """Unreachable and slow hypervisors: 502/504 naming the host, and the
    database as it was before the request."""

    XENAPI = {'call_timeout': 0.5, 'connect_timeout': 0.5,
              'join_timeout': 1.0}

    def create_pool(self, name='rack1', hosts=()):
        # Built under normal timeouts: only what the test does is timed.
        with self.env.patient():
            return super().create_pool(name, hosts)

    def test_joiner_unreachable(self):
        agg_id = self.create_pool('rack1', ['xenhost1', 'xenhost2'])
        before = self.show(agg_id)
        self.fleet.stop_host('xenhost3')
        self.action_fault(agg_id, 'add_host', {'host': 'xenhost3'}, 502,
                          'xenhost3')
        agg = self.assertAgrees(agg_id, 'active')
        self.assertEqual(before['hosts'], agg['hosts'])
        self.assertEqual(before['metadata'], agg['metadata'])
        self.fleet.start_host('xenhost3')
        self.add(agg_id, 'xenhost3')
        self.assertAgrees(agg_id, 'active')

    def test_master_unreachable_on_eject(self):
        agg_id = self.create_pool('rack1', ['xenhost1', 'xenhost2'])
        before = self.show(agg_id)
        self.fleet.stop_host('xenhost1')
        self.action_fault(agg_id, 'remove_host', {'host': 'xenhost2'}, 502,
                          'xenhost1')
        self.assertEqual(before['hosts'], self.show(agg_id)['hosts'])
        self.assertEqual(before['metadata'], self.show(agg_id)['metadata'])
        self.fleet.start_host('xenhost1')
        self.assertAgrees(agg_id, 'active')
        self.remove(agg_id, 'xenhost2')
        self.assertAgrees(agg_id, 'active')

    def test_master_unreachable_on_rename(self):
        agg_id = self.create_pool('rack1', ['xenhost1'])
        self.fleet.stop_host('xenhost1')
        self.fault('PUT', '/v2.1/os-aggregates/%d' % agg_id,
                   {'aggregate': {'name': 'rack2'}}, 502, 'xenhost1')
        self.assertEqual('rack1', self.show(agg_id)['name'])
        self.fleet.start_host('xenhost1')
        self.assertAgrees(agg_id, 'active')

    def test_timeout(self):
        agg_id = self.create_pool('rack1', ['xenhost1', 'xenhost2'])
        before = self.show(agg_id)
        self.fleet.inject('session.login_with_password', host='xenhost3',
                          delay=1.0)
        self.action_fault(agg_id, 'add_host', {'host': 'xenhost3'}, 504,
                          'xenhost3')
        agg = self.assertAgrees(agg_id, 'active')
        self.assertEqual(before['metadata'], agg['metadata'])
        self.add(agg_id, 'xenhost3')
        self.assertAgrees(agg_id, 'active')

    def test_slow_join_is_confirmed(self):
        # pool.join answers after our call timeout, but the join happens:
        # the driver finds the host on the master and reports success.
        agg_id = self.create_pool('rack1', ['xenhost1'])
        self.fleet.inject('pool.join', delay=0.7)
        self.add(agg_id, 'xenhost2')
        self.assertAgrees(agg_id, 'active')

    def test_slow_eject_is_confirmed(self):
        agg_id = self.create_pool('rack1', ['xenhost1', 'xenhost2'])
        self.fleet.inject('pool.eject', delay=0.7)
        self.remove(agg_id, 'xenhost2')
        self.assertAgrees(agg_id, 'active')
        self.assertStandalone('xenhost2')


class SessionTest(PoolTestCase):
    """Sessions the hypervisor forgot are opened again unseen."""

    def test_session_expiry_is_transparent(self):
        agg_id = self.create_pool('rack1', ['xenhost1', 'xenhost2'])
        logins = self.fleet.login_count('xenhost1')
        self.fleet.inject('*', host='xenhost1', action='expire_session')
        self.add(agg_id, 'xenhost3')
        self.assertEqual(logins + 1, self.fleet.login_count('xenhost1'))
        self.assertAgrees(agg_id, 'active')


class InFlightTest(PoolTestCase):
    """While a pool operation runs the aggregate is ``changing`` and other
    changes of it get 409."""

    def start_add(self, agg_id, host):
        """add_host in a thread; returns once the aggregate is changing."""
        result = {}
        worker = threading.Thread(target=lambda: result.update(
            response=self.env.request(
                'POST', '/v2.1/os-aggregates/%d/action' % agg_id,
                {'add_host': {'host': host}})))
        worker.start()
        self.addCleanup(worker.join)
        deadline = time.monotonic() + 5
        while self.show(agg_id)['metadata']['operational_state'] != \
                'changing':
            self.assertLess(time.monotonic(), deadline)
            time.sleep(0.01)
        return worker, result

    def test_changing_refuses_other_changes(self):
        agg_id = self.create_pool('rack1', ['xenhost1', 'xenhost2'])
        self.fleet.inject('pool.join', delay=0.8)
        worker, result = self.start_add(agg_id, 'xenhost3')

        path = '/v2.1/os-aggregates/%d' % agg_id
        busy = 'in progress'
        self.action_fault(agg_id, 'add_host', {'host': 'xenhost4'}, 409, busy)
        self.action_fault(agg_id, 'remove_host', {'host': 'xenhost2'}, 409,
                          busy)
        self.action_fault(agg_id, 'set_metadata',
                          {'metadata': {'ssd': 'yes'}}, 409, busy)
        self.fault('PUT', path, {'aggregate': {'name': 'rack2'}}, 409, busy)
        self.fault('DELETE', path, None, 409, busy)
        legacy = self.show(agg_id, prefix='/v2/admin')
        self.assertEqual('changing', legacy['operational_state'])

        worker.join(10)
        self.assertEqual(200, result['response'].status_int,
                         result['response'].body)
        agg = self.assertAgrees(agg_id, 'active')
        self.assertEqual(['xenhost1', 'xenhost2', 'xenhost3'], agg['hosts'])
        self.assertNotIn('ssd', agg['metadata'])
        self.assertEqual('rack1', agg['name'])

    def test_rename_while_first_host_joins(self):
        # The pool is being named after the current name: a rename now
        # would leave the pool with the old one.
        agg_id = self.create_pool('rack1')
        self.fleet.inject('pool.set_name_label', delay=0.8)
        worker, result = self.start_add(agg_id, 'xenhost1')
        self.fault('PUT', '/v2.1/os-aggregates/%d' % agg_id,
                   {'aggregate': {'name': 'rack2'}}, 409, 'in progress')
        worker.join(10)
        self.assertEqual(200, result['response'].status_int)
        self.assertEqual('rack1', self.assertAgrees(agg_id, 'active')['name'])


class ReformPoolTest(PoolTestCase):
    """Hypervisors that lost their pools (reinstalled hosts; the embedded
    simulator after a restart) get them back from the database."""

    def test_reform_on_fresh_hypervisors(self):
        agg_id = self.create_pool('rack1', ['xenhost2', 'xenhost1',
                                            'xenhost3'])
        self.assertAgrees(agg_id, 'active')
        old_uuids = {h: self.uuid(h) for h in ('xenhost1', 'xenhost2')}
        # A new fleet: same host names, all standalone, new uuids and URLs.
        self.fleet = self.useFixture(pool_fixtures.FleetFixture()).fleet
        ctx = self.env.api.context
        for host in self.fleet.hosts:
            self.env.api.services.compute_hosts.update(
                ctx, host.name, hypervisor_url=host.url)
        self.assertStandalone('xenhost1', 'xenhost2', 'xenhost3')

        agg = self.env.api.services.recovery.reform_pool(ctx, agg_id)

        self.assertEqual('active', agg['operational_state'])
        self.assertEqual(['xenhost2', 'xenhost1', 'xenhost3'], agg['hosts'])
        agg = self.assertAgrees(agg_id, 'active')
        # The recorded master formed the pool again; uuids are the new ones.
        self.assertEqual('xenhost2', agg['metadata']['master_compute'])
        self.assertNotEqual(old_uuids['xenhost1'],
                            agg['metadata']['xenapi_host_uuid:xenhost1'])
        self.assertStandalone('xenhost4')

    def test_reform_refuses_logical_aggregates(self):
        agg = self.call('POST', '/v2.1/os-aggregates',
                        {'aggregate': {'name': 'plain'}})['aggregate']
        self.assertRaises(exception.Invalid,
                          self.env.api.services.recovery.reform_pool,
                          self.env.api.context, agg['id'])
