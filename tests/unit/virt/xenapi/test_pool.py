"""Pool operations of the xenapi driver against the XenServer simulator.

Every test drives the real ``XenAPI`` SDK over loopback; ``Book`` plays
the AggregateManager's part (the database view handed to the driver and
the bookkeeping it records from the returned PoolChange).
"""

import threading
import time

import XenAPI

from nova_aggregates import exception
from nova_aggregates.virt import driver
from nova_aggregates.virt.xenapi import driver as xdriver
from nova_aggregates.virt.xenapi import pool as xpool
from tests.unit.virt.xenapi import test_session as base

AGGREGATE_ID = 7
AGGREGATE_NAME = 'rack-1'


class Book:
    """What the manager would keep in the database for one aggregate."""

    def __init__(self, aggregate_id=AGGREGATE_ID, name=AGGREGATE_NAME):
        self.aggregate_id = aggregate_id
        self.name = name
        self.members = []
        self.metadata = {'hypervisor_pool': 'true'}

    @property
    def master(self):
        return self.metadata.get('master_compute')

    def pool(self):
        return driver.Pool(aggregate_id=self.aggregate_id, name=self.name,
                           members=tuple(self.members), master=self.master,
                           metadata=dict(self.metadata))

    def record(self, change):
        self.metadata.update(change.set_metadata)
        for key in change.remove_metadata:
            self.metadata.pop(key, None)

    def add(self, drv, host):
        self.record(drv.add_to_pool(self.pool(), host))
        self.members.append(host)

    def remove(self, drv, host):
        self.record(drv.remove_from_pool(self.pool(), host))
        self.members.remove(host)


class PoolTestCase(base.FleetTestCase):

    def setUp(self):
        super().setUp()
        self.driver = self.make_driver(self.conf)
        self.book = Book()

    def make_driver(self, conf):
        drv = xdriver.XenAPIDriver(conf)
        self.addCleanup(drv.cleanup)
        return drv

    def reconfigure(self, **xenapi):
        """Continue with a new driver (cold caches) and other options."""
        overrides = self.conf_overrides()
        overrides.update(xenapi)
        self.conf = base.make_conf(**overrides)
        self.driver = self.make_driver(self.conf)

    def compute(self, name):
        return driver.ComputeHost(name=name, hypervisor_url=self.url(name))

    def uuid(self, name):
        return self.fleet.host(name).uuid

    def form(self, *names):
        for name in names:
            self.book.add(self.driver, self.compute(name))

    def sim_pool(self, name):
        """The simulator's pool of host ``name`` (its own view)."""
        return self.fleet.pool_of(name)

    def sdk_view(self, master):
        """Read the pool back through a fresh SDK session to ``master``."""
        session = XenAPI.Session(self.url(master))
        session.login_with_password('root', base.PASSWORD)
        try:
            pool_ref = session.xenapi.pool.get_all()[0]
            record = session.xenapi.pool.get_record(pool_ref)
            hosts = session.xenapi.host.get_all_records()
            master_uuid = hosts[record['master']]['uuid']
            return (record['name_label'], master_uuid,
                    {rec['uuid'] for rec in hosts.values()},
                    record['other_config'])
        finally:
            session.xenapi.session.logout()

    def assertPoolState(self, master, members):
        state = self.driver.get_pool_state(self.book.pool())
        self.assertIsNotNone(state)
        self.assertEqual(master, state.master)
        self.assertEqual(frozenset(members), state.members)
        self.assertEqual({xpool.uuid_key(n): self.uuid(n) for n in members},
                         state.metadata)

    def assertRefused(self, code, host, func, *args):
        exc = self.assertRaises(exception.PoolOperationRefused, func, *args)
        self.assertEqual(code, exc.code)
        self.assertIn(host, str(exc))
        self.assertIn(code, str(exc))
        return exc


class PoolLifecycleTest(PoolTestCase):

    def test_form_three_host_pool(self):
        self.assertPoolState(None, [])
        self.form('xenhost1')
        self.assertEqual({'hypervisor_pool': 'true',
                          'master_compute': 'xenhost1',
                          'xenapi_host_uuid:xenhost1': self.uuid('xenhost1')},
                         self.book.metadata)
        self.assertPoolState('xenhost1', ['xenhost1'])
        self.form('xenhost2')
        self.assertPoolState('xenhost1', ['xenhost1', 'xenhost2'])
        self.form('xenhost3')
        self.assertPoolState('xenhost1', ['xenhost1', 'xenhost2', 'xenhost3'])
        uuids = {self.uuid(n) for n in ('xenhost1', 'xenhost2', 'xenhost3')}
        for name in ('xenhost2', 'xenhost3'):
            self.assertEqual(self.uuid(name),
                             self.book.metadata[xpool.uuid_key(name)])
        self.assertEqual('xenhost1', self.book.metadata['master_compute'])

        # The simulator's own view: one pool holding all three.
        pools = [p for p in self.fleet.pools() if p['name_label']]
        self.assertEqual(1, len(pools))
        self.assertEqual(AGGREGATE_NAME, pools[0]['name_label'])
        self.assertEqual('xenhost1', pools[0]['master'])
        self.assertEqual(['xenhost1', 'xenhost2', 'xenhost3'],
                         pools[0]['members'])
        self.assertEqual(str(AGGREGATE_ID),
                         pools[0]['other_config'][xpool.POOL_TAG_KEY])

        # And what any XenAPI client sees on the master.
        name, master, members, other_config = self.sdk_view('xenhost1')
        self.assertEqual(AGGREGATE_NAME, name)
        self.assertEqual(self.uuid('xenhost1'), master)
        self.assertEqual(uuids, members)
        self.assertEqual(str(AGGREGATE_ID), other_config['nova_aggregate_id'])

    def test_rename(self):
        self.form('xenhost1', 'xenhost2')
        self.driver.rename_pool(self.book.pool(), 'rack-2')
        self.assertEqual('rack-2', self.sdk_view('xenhost1')[0])
        self.assertPoolState('xenhost1', ['xenhost1', 'xenhost2'])

    def test_rename_before_any_host_is_a_noop(self):
        self.fleet.clear_call_log()
        self.driver.rename_pool(self.book.pool(), 'rack-2')
        self.assertEqual([], self.fleet.call_log())

    def test_eject_member(self):
        self.form('xenhost1', 'xenhost2', 'xenhost3')
        self.book.remove(self.driver, self.compute('xenhost2'))
        self.assertNotIn('xenapi_host_uuid:xenhost2', self.book.metadata)
        self.assertPoolState('xenhost1', ['xenhost1', 'xenhost3'])
        _, _, members, _ = self.sdk_view('xenhost1')
        self.assertEqual({self.uuid('xenhost1'), self.uuid('xenhost3')},
                         members)
        # The ejected host comes back standalone and can join again.
        self.assertTrue(self.fleet.settle())
        self.assertEqual(['xenhost2'], self.fleet.pool_of('xenhost2')['members'])
        self.form('xenhost2')
        self.assertPoolState('xenhost1', ['xenhost1', 'xenhost2', 'xenhost3'])

    def test_dissolve(self):
        self.form('xenhost1', 'xenhost2')
        exc = self.assertRaises(exception.PoolMasterNotAlone,
                                self.driver.remove_from_pool,
                                self.book.pool(), self.compute('xenhost1'))
        self.assertIn('xenhost2', str(exc))
        self.book.remove(self.driver, self.compute('xenhost2'))
        self.book.remove(self.driver, self.compute('xenhost1'))
        self.assertEqual({'hypervisor_pool': 'true'}, self.book.metadata)
        name, master, members, other_config = self.sdk_view('xenhost1')
        self.assertEqual('', name)
        self.assertEqual({self.uuid('xenhost1')}, members)
        self.assertNotIn(xpool.POOL_TAG_KEY, other_config)
        self.assertPoolState(None, [])
        # A pool that exists but is no longer tagged is not ours.
        book = Book()
        book.members = [self.compute('xenhost1')]
        book.metadata['master_compute'] = 'xenhost1'
        state = self.driver.get_pool_state(book.pool())
        self.assertEqual(driver.PoolState(None, frozenset()), state)

    def test_eject_unknown_member_is_done_already(self):
        self.form('xenhost1', 'xenhost2')
        # xenhost2 is ejected behind the driver's back.
        session = XenAPI.Session(self.url('xenhost1'))
        session.login_with_password('root', base.PASSWORD)
        ref = session.xenapi.host.get_by_uuid(self.uuid('xenhost2'))
        session.xenapi.pool.eject(ref)
        session.xenapi.session.logout()
        self.assertPoolState('xenhost1', ['xenhost1'])
        self.book.remove(self.driver, self.compute('xenhost2'))
        self.assertNotIn('xenapi_host_uuid:xenhost2', self.book.metadata)
        self.assertIn('nothing to eject', self.logger.output)

    def test_cold_join_calls(self):
        """Documented cold additions: one login and two calls per host."""
        self.form('xenhost1')
        self.fleet.clear_call_log()
        self.form('xenhost2')
        self.assertEqual([('xenhost2', 'session.login_with_password'),
                          ('xenhost2', 'session.get_this_host'),
                          ('xenhost2', 'host.get_record'),
                          ('xenhost2', 'pool.join'),
                          ('xenhost1', 'host.get_by_uuid')],
                         self.fleet.call_log())

    def test_first_host_and_eject_calls(self):
        self.fleet.clear_call_log()
        self.form('xenhost1')
        self.assertEqual([('xenhost1', 'session.login_with_password'),
                          ('xenhost1', 'session.get_this_host'),
                          ('xenhost1', 'host.get_record'),
                          ('xenhost1', 'pool.get_all'),
                          ('xenhost1', 'pool.set_name_label'),
                          ('xenhost1', 'pool.add_to_other_config')],
                         self.fleet.call_log())
        self.form('xenhost2')
        self.fleet.clear_call_log()
        self.book.remove(self.driver, self.compute('xenhost2'))
        # dom0 is the only VM resident on xenhost2.
        self.assertEqual([('xenhost1', 'host.get_by_uuid'),
                          ('xenhost1', 'host.get_resident_VMs'),
                          ('xenhost1', 'VM.get_record'),
                          ('xenhost1', 'pool.eject')],
                         self.fleet.call_log())

    def test_stale_tag_is_replaced(self):
        session = XenAPI.Session(self.url('xenhost1'))
        session.login_with_password('root', base.PASSWORD)
        pool_ref = session.xenapi.pool.get_all()[0]
        session.xenapi.pool.add_to_other_config(pool_ref, 'nova_aggregate_id',
                                                '99')
        session.xenapi.session.logout()
        self.form('xenhost1')
        self.assertEqual(str(AGGREGATE_ID), self.fleet.pool_of('xenhost1')[
            'other_config']['nova_aggregate_id'])
        self.assertPoolState('xenhost1', ['xenhost1'])

    def test_concurrent_pools(self):
        """Two aggregates change at once on shared driver sessions."""
        self.useFixture(base.FleetFixture(hosts=1))  # unrelated extra fleet
        books = {1: Book(1, 'a'), 2: Book(2, 'b')}
        plan = {1: ('xenhost1', 'xenhost2'), 2: ('xenhost3',)}
        errors = []

        def work(agg):
            try:
                for name in plan[agg]:
                    books[agg].add(self.driver, self.compute(name))
                for _ in range(5):
                    self.driver.get_pool_state(books[agg].pool())
            except Exception as exc:  # reported by the assertion below
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(agg,)) for agg in plan]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        self.assertEqual([], errors)
        self.assertEqual(['xenhost1', 'xenhost2'],
                         self.fleet.pool_of('xenhost1')['members'])
        self.assertEqual(['xenhost3'], self.fleet.pool_of('xenhost3')['members'])
        self.assertEqual(3, self.fleet.login_count())


class PoolStateTest(PoolTestCase):

    def test_member_without_metadata_is_found_by_address(self):
        self.form('xenhost1', 'xenhost2')
        del self.book.metadata['xenapi_host_uuid:xenhost2']
        # A new driver: nothing cached, so the address must do.
        fresh = self.make_driver(self.conf)
        state = fresh.get_pool_state(self.book.pool())
        self.assertEqual('xenhost1', state.master)
        self.assertEqual({'xenhost1', 'xenhost2'}, state.members)
        self.assertEqual(self.uuid('xenhost2'),
                         state.metadata['xenapi_host_uuid:xenhost2'])

    def test_unreachable_master_cannot_tell(self):
        self.form('xenhost1', 'xenhost2')
        self.fleet.stop_host('xenhost1')
        self.assertIsNone(self.driver.get_pool_state(self.book.pool()))

    def test_recorded_master_wrong_reads_through_member(self):
        self.form('xenhost1', 'xenhost2')
        # The database believes xenhost2 is master; it is a member, whose
        # HOST_IS_SLAVE answer leads to the real master.
        self.book.metadata['master_compute'] = 'xenhost2'
        state = self.driver.get_pool_state(self.book.pool())
        self.assertEqual('xenhost1', state.master)
        self.assertEqual({'xenhost1', 'xenhost2'}, state.members)


class JoinRefusalTest(PoolTestCase):
    """Every refusal: PoolOperationRefused naming the host and the code;
    nothing changes on XenServer."""

    HOSTS = 6  # one fresh joiner per native refusal

    def setUp(self):
        super().setUp()
        self.form('xenhost1')

    def assertNotJoined(self):
        self.assertEqual(['xenhost1'], self.sim_pool('xenhost1')['members'])
        self.assertEqual(['xenhost2'], self.sim_pool('xenhost2')['members'])
        self.assertPoolState('xenhost1', ['xenhost1'])

    def add2(self):
        return self.driver.add_to_pool(self.book.pool(),
                                       self.compute('xenhost2'))

    def test_injected_refusals(self):
        for details in (['POOL_HOSTS_NOT_HOMOGENEOUS', 'CPUs differ'],
                        ['POOL_JOINING_HOST_CONNECTION_FAILED'],
                        ['POOL_HOSTS_NOT_COMPATIBLE'],
                        ['SESSION_AUTHENTICATION_FAILED', 'root',
                         'Authentication failure'],
                        ['HOST_IS_SLAVE', '127.0.0.99']):
            self.fleet.inject('pool.join', error=details, host='xenhost2')
            exc = self.assertRefused(details[0], 'xenhost2', self.add2)
            self.assertIn('pool.join on xenhost2', str(exc))
            if len(details) > 1:
                self.assertIn(details[1], str(exc))
            self.assertNotJoined()

    def test_native_refusals(self):
        """The simulator's own pre-join checks, provoked by host config."""
        cases = (
            (dict(cpu_vendor='AuthenticAMD'), 'POOL_HOSTS_NOT_HOMOGENEOUS',
             'CPUs differ'),
            (dict(software_version={'xapi': '1.21'}),
             'POOL_HOSTS_NOT_HOMOGENEOUS', 'Software version differs'),
            (dict(software_version={'platform_version': '9.9'}),
             'POOL_HOSTS_NOT_COMPATIBLE', ''),
            (dict(api_version='2.21'),
             'POOL_JOINING_HOST_MUST_HAVE_SAME_API_VERSION', '2.21'),
            (dict(shared_sr=True), 'POOL_JOINING_HOST_CANNOT_CONTAIN_SHARED_SRS',
             ''),
        )
        for index, (config, code, text) in enumerate(cases):
            name = 'xenhost%d' % (index + 2)
            self.fleet.configure_host(name, **config)
            exc = self.assertRefused(
                code, name, self.driver.add_to_pool, self.book.pool(),
                self.compute(name))
            self.assertIn(text, str(exc))
        self.assertEqual(['xenhost1'], self.sim_pool('xenhost1')['members'])
        self.assertPoolState('xenhost1', ['xenhost1'])

    def test_join_force_skips_homogeneity(self):
        self.fleet.configure_host('xenhost2', cpu_vendor='AuthenticAMD')
        self.reconfigure(use_join_force=True)
        self.form('xenhost2')
        self.assertPoolState('xenhost1', ['xenhost1', 'xenhost2'])

    def test_master_down_during_join(self):
        # Master address cached, so only the joiner is asked: it cannot
        # reach the master.
        self.fleet.stop_host('xenhost1')
        self.assertRefused('POOL_JOINING_HOST_CONNECTION_FAILED', 'xenhost2',
                           self.add2)
        self.fleet.start_host('xenhost1')
        self.assertNotJoined()

    def test_late_join_is_waited_for(self):
        self.fleet.inject('pool.join', action='late_join', delay=0.2,
                          host='xenhost2')
        self.fleet.clear_call_log()
        self.form('xenhost2')
        polls = [c for c in self.fleet.call_log()
                 if c == ('xenhost1', 'host.get_by_uuid')]
        self.assertGreater(len(polls), 1)
        self.assertPoolState('xenhost1', ['xenhost1', 'xenhost2'])

    def test_running_vms(self):
        self.fleet.add_vm('xenhost2', running=True)
        exc = self.assertRefused(
            'POOL_JOINING_HOST_CANNOT_HAVE_RUNNING_VMS', 'xenhost2', self.add2)
        self.assertIn('xenhost2', str(exc))
        self.assertNotJoined()

    def test_wrong_joiner_password(self):
        self.fleet.set_password('xenhost2', 'other')
        exc = self.assertRefused('SESSION_AUTHENTICATION_FAILED',
                                 'xenhost2', self.add2)
        self.assertIn('session.login_with_password on xenhost2', str(exc))
        self.assertNotJoined()

    def test_wrong_master_password(self):
        # The master's credentials changed after the pool was formed: the
        # joiner's login to the master (inside pool.join) fails.
        self.fleet.set_password('xenhost1', 'other')
        self.assertRefused('SESSION_AUTHENTICATION_FAILED', 'xenhost2',
                           self.add2)
        self.fleet.set_password('xenhost1', base.PASSWORD)
        self.assertNotJoined()

    def test_joiner_already_member_of_another_pool(self):
        other = Book(aggregate_id=8, name='rack-9')
        other.add(self.driver, self.compute('xenhost3'))
        other.add(self.driver, self.compute('xenhost2'))
        self.assertTrue(self.fleet.settle())  # xenhost2 restarted as a member
        self.assertRefused('HOST_IS_SLAVE', 'xenhost2', self.add2)

    def test_half_done_join_is_an_error(self):
        self.reconfigure(join_timeout=0.3)
        self.fleet.inject('pool.join', action='half_done_join',
                          host='xenhost2')
        start = time.monotonic()
        exc = self.assertRefused(xpool.JOIN_NOT_CONFIRMED, 'xenhost2',
                                 self.add2)
        self.assertGreaterEqual(time.monotonic() - start, 0.3)
        self.assertIn(self.uuid('xenhost2'), str(exc))
        self.assertNotJoined()

    def test_refusal_then_warm_retry(self):
        """A warm add_host: no login, exactly the documented calls."""
        self.fleet.inject('pool.join', error=['POOL_HOSTS_NOT_HOMOGENEOUS',
                                              'CPUs differ'],
                          host='xenhost2')
        self.assertRaises(exception.PoolOperationRefused, self.add2)
        logins = self.fleet.login_count()
        self.fleet.clear_call_log()
        self.book.add(self.driver, self.compute('xenhost2'))
        self.assertEqual(logins, self.fleet.login_count())
        self.assertEqual([('xenhost2', 'pool.join'),
                          ('xenhost1', 'host.get_by_uuid')],
                         self.fleet.call_log())
        # The joiner's session died with the join: forgotten.
        self.assertFalse(self.driver._sessions.has_session(self.url('xenhost2')))
        self.assertPoolState('xenhost1', ['xenhost1', 'xenhost2'])

    def test_join_force(self):
        self.reconfigure(use_join_force=True)
        self.fleet.clear_call_log()
        self.form('xenhost2')
        self.assertIn(('xenhost2', 'pool.join_force'), self.fleet.call_log())
        self.assertPoolState('xenhost1', ['xenhost1', 'xenhost2'])


class FaultTest(PoolTestCase):

    def test_eject_with_running_guests(self):
        self.form('xenhost1', 'xenhost2')
        self.fleet.add_vm('xenhost2', running=True)
        self.fleet.clear_call_log()
        exc = self.assertRaises(exception.HostHasGuests,
                                self.driver.remove_from_pool,
                                self.book.pool(), self.compute('xenhost2'))
        self.assertIn('xenhost2', str(exc))
        self.assertEqual(1, exc.kwargs['count'])
        self.assertNotIn(('xenhost1', 'pool.eject'), self.fleet.call_log())
        self.assertPoolState('xenhost1', ['xenhost1', 'xenhost2'])

    def test_unreachable_joiner(self):
        self.form('xenhost1')
        self.fleet.stop_host('xenhost2')
        exc = self.assertRaises(exception.HypervisorUnreachable,
                                self.driver.add_to_pool, self.book.pool(),
                                self.compute('xenhost2'))
        self.assertIn('xenhost2', str(exc))
        self.assertPoolState('xenhost1', ['xenhost1'])

    def test_unreachable_master_on_eject(self):
        self.form('xenhost1', 'xenhost2')
        self.fleet.stop_host('xenhost1')
        exc = self.assertRaises(exception.HypervisorUnreachable,
                                self.driver.remove_from_pool,
                                self.book.pool(), self.compute('xenhost2'))
        self.assertIn('xenhost1', str(exc))

    def test_timeout(self):
        self.form('xenhost1')
        self.reconfigure(call_timeout=0.3)
        self.fleet.inject('pool.set_name_label', delay=1.0, host='xenhost1')
        exc = self.assertRaises(exception.HypervisorTimeout,
                                self.driver.rename_pool, self.book.pool(),
                                'rack-2')
        self.assertIn('xenhost1', str(exc))

    def test_session_expiry_is_transparent(self):
        self.form('xenhost1', 'xenhost2')
        logins = self.fleet.login_count('xenhost1')
        self.fleet.inject('host.get_by_uuid', action='expire_session',
                          host='xenhost1')
        self.form('xenhost3')
        self.assertEqual(logins + 1, self.fleet.login_count('xenhost1'))
        self.assertPoolState('xenhost1', ['xenhost1', 'xenhost2', 'xenhost3'])

    def test_no_url(self):
        exc = self.assertRaises(exception.HypervisorUnreachable,
                                self.driver.add_to_pool, self.book.pool(),
                                driver.ComputeHost(name='nourl'))
        self.assertIn('nourl', str(exc))


class TLSPoolTest(PoolTestCase):

    TLS = True

    def test_form_pool_over_verified_tls(self):
        self.form('xenhost1', 'xenhost2')
        self.assertPoolState('xenhost1', ['xenhost1', 'xenhost2'])
