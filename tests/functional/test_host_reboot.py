"""``reboot_host`` of the xenapi driver against the XenServer simulator,
through the real ``XenAPI`` SDK (api-contract §14, host action "reboot"):
a disabled, empty member reboots and comes back disabled; the refusals
are typed with XenServer's code; a host that never comes back is
HostDidNotComeBack within the timeout; the rest of the pool answers all
the while.  What the driver says is checked against what XenServer holds,
read through a separate SDK session."""

import tempfile
import threading
import time

import fixtures
from oslo_config import cfg
import testtools
import XenAPI

from nova_aggregates.api import faults
from nova_aggregates import conf as na_conf
from nova_aggregates import constants
from nova_aggregates import exception
from nova_aggregates.virt import driver
from nova_aggregates.virt.xenapi import driver as xdriver
from nova_aggregates.virt.xenapi import pool as xpool
from tests.functional import pool_fixtures

POOL_HOSTS = ('xenhost1', 'xenhost2', 'xenhost3')
REBOOT_SECONDS = 0.3


def make_conf():
    """A private ConfigOpts with the functional tests' small timeouts.

    From a config file, not set_override: overrides live on the shared
    OptGroup objects and would leak into other tests.
    """
    conf = cfg.ConfigOpts()
    na_conf.register_opts(conf)
    lines = ['[xenapi]'] + ['%s = %s' % item for item in
                            pool_fixtures.XENAPI_OPTIONS.items()]
    with tempfile.NamedTemporaryFile('w', suffix='.conf') as conf_file:
        conf_file.write('\n'.join(lines) + '\n')
        conf_file.flush()
        conf(['--config-file', conf_file.name], default_config_files=[])
    return conf


class HostRebootTest(testtools.TestCase):
    """xenhost1 (master), xenhost2 and xenhost3 form a pool; xenhost4 is
    alone.  Every host reboots in REBOOT_SECONDS."""

    def setUp(self):
        super().setUp()
        self.useFixture(fixtures.FakeLogger())
        self.fleet = self.useFixture(pool_fixtures.FleetFixture()).fleet
        for host in self.fleet.hosts:
            self.fleet.configure_host(host.name, reboot_delay=REBOOT_SECONDS)
        self.driver = xdriver.XenAPIDriver(make_conf())
        self.addCleanup(self.driver.cleanup)
        self.members = []
        self.metadata = {constants.POOL_FLAG: constants.POOL_FLAG_VALUE}
        for name in POOL_HOSTS:
            change = self.driver.add_to_pool(self.pool, self.compute(name))
            self.members.append(self.compute(name))
            self.metadata.update(change.set_metadata)
        self.assertTrue(self.fleet.settle())
        self.fleet.clear_call_log()

    @property
    def pool(self):
        return driver.Pool(aggregate_id=1, name='rack', members=tuple(
            self.members), master=self.metadata.get(constants.MASTER),
            metadata=dict(self.metadata))

    def compute(self, name):
        return driver.ComputeHost(name=name,
                                  hypervisor_url=self.fleet.host(name).url)

    def sdk(self, name='xenhost1'):
        session = XenAPI.Session(self.fleet.host(name).url)
        session.login_with_password('root', pool_fixtures.PASSWORD)
        self.addCleanup(session('close'))
        return session.xenapi

    def host_record(self, name, api=None):
        api = api or self.sdk()
        return api.host.get_record(
            api.host.get_by_uuid(self.fleet.host(name).uuid))

    def disable(self, name, pool=True):
        self.driver.set_host_enabled(self.pool if pool else None,
                                     self.compute(name), False)

    def reboots(self):
        return [h for h, m in self.fleet.call_log() if m == 'host.reboot']

    def reboot(self, name, timeout=5.0, pool=True):
        """reboot_host of ``name``; the seconds it took."""
        start = time.monotonic()
        self.driver.reboot_host(self.pool if pool else None,
                                self.compute(name), timeout)
        return time.monotonic() - start

    def assertRefused(self, code, name, pool=True):
        exc = self.assertRaises(
            exception.HostRebootRefused, self.driver.reboot_host,
            self.pool if pool else None, self.compute(name), 5.0)
        self.assertEqual(code, exc.code)
        self.assertIn(code, str(exc))
        self.assertIsInstance(exc, exception.PoolOperationRefused)
        self.assertEqual(409, faults.status_for(exc))
        return exc


class RebootTest(HostRebootTest):

    def test_member_reboots_and_comes_back_disabled(self):
        before = self.host_record('xenhost2')
        self.disable('xenhost2')
        self.fleet.clear_call_log()
        took = self.reboot('xenhost2')
        # It waited for the reboot, and no longer than needed.
        self.assertGreaterEqual(took, REBOOT_SECONDS)
        self.assertLess(took, REBOOT_SECONDS + 3)
        self.assertEqual(['xenhost1'], self.reboots())
        state = self.fleet.host_state('xenhost2')
        self.assertEqual(('member', False), (state['state'], state['enabled']))
        after = self.host_record('xenhost2')
        self.assertGreater(float(after['other_config']['boot_time']),
                           float(before['other_config']['boot_time']))
        self.assertFalse(after['enabled'])
        self.assertTrue(self.sdk().host_metrics.get_live(after['metrics']))
        self.assertFalse(self.driver.get_host_enabled(self.pool,
                                                      self.compute('xenhost2')))
        # XenServer enabled it at start-up; the driver disabled it again.
        methods = [m for h, m in self.fleet.call_log()]
        self.assertEqual(1, methods.count('host.disable'))
        self.assertEqual(['xenhost1', 'xenhost2', 'xenhost3'],
                         self.fleet.pool_of('xenhost2')['members'])

    def test_the_pool_answers_meanwhile(self):
        guest = self.fleet.add_vm('xenhost1', 'web')
        self.disable('xenhost2')
        done = []
        thread = threading.Thread(target=lambda: done.append(
            self.reboot('xenhost2')))
        thread.start()
        self.addCleanup(thread.join, 10)
        self.wait_for(lambda: self.fleet.host_state('xenhost2')['state']
                      == 'rebooting')
        # The master and the other member keep serving, through the same
        # driver: status, figures, a live migration.
        others = [self.compute('xenhost1'), self.compute('xenhost3')]
        self.assertEqual({'xenhost1', 'xenhost3'},
                         set(self.driver.free_memory(self.pool, others)))
        self.assertTrue(self.driver.get_host_enabled(self.pool, others[1]))
        (web,) = self.driver.list_guests(self.pool, others[0])
        self.assertEqual('xenhost3', self.driver.live_migrate(
            self.pool, web, others[1]))
        self.assertEqual('xenhost3', self.fleet.vm_location(guest))
        self.assertEqual('rebooting',
                         self.fleet.host_state('xenhost2')['state'])
        # A migration to the rebooting host is refused, as XenServer does.
        self.assertRaises(exception.PoolOperationRefused,
                          self.driver.live_migrate, self.pool, web,
                          self.compute('xenhost2'))
        thread.join(10)
        self.assertEqual(1, len(done))
        self.assertEqual('member', self.fleet.host_state('xenhost2')['state'])

    def test_host_in_no_pool(self):
        self.disable('xenhost4', pool=False)
        before = float(self.host_record(
            'xenhost4', self.sdk('xenhost4'))['other_config']['boot_time'])
        took = self.reboot('xenhost4', pool=False)
        self.assertGreaterEqual(took, REBOOT_SECONDS)
        self.assertEqual(['xenhost4'], self.reboots())
        record = self.host_record('xenhost4', self.sdk('xenhost4'))
        self.assertGreater(float(record['other_config']['boot_time']), before)
        self.assertFalse(record['enabled'])
        self.assertEqual('master', self.fleet.host_state('xenhost4')['state'])

    def test_master_reboots_on_its_own_endpoint(self):
        self.disable('xenhost1')
        self.reboot('xenhost1')
        self.assertEqual(['xenhost1'], self.reboots())
        state = self.fleet.host_state('xenhost1')
        self.assertEqual(('master', False), (state['state'], state['enabled']))
        # The pool is whole and served again.
        self.assertEqual(3, len(self.driver.free_memory(self.pool,
                                                        self.members)))

    def test_refusals_carry_the_xenserver_code(self):
        self.assertRefused(driver.HOST_NOT_IN_POOL, 'xenhost4')
        self.assertRefused('HOST_NOT_DISABLED', 'xenhost2')
        self.disable('xenhost2')
        guest = self.fleet.add_vm('xenhost2', 'db')
        exc = self.assertRefused('HOST_IN_USE', 'xenhost2')
        self.assertIn(guest, str(exc))
        # The driver checks first: XenServer itself would stop the guest.
        self.assertEqual([], self.reboots())
        self.assertEqual('xenhost2', self.fleet.vm_location(guest))
        # What XenServer refuses comes through with its code.
        self.sdk().VM.hard_shutdown(self.sdk().VM.get_by_uuid(guest))
        self.fleet.inject('host.reboot', error=['HOST_OFFLINE', 'x'])
        exc = self.assertRefused('HOST_OFFLINE', 'xenhost2')
        self.assertIn('host.reboot', str(exc))
        self.assertEqual(['xenhost1'], self.reboots())
        self.assertEqual('member', self.fleet.host_state('xenhost2')['state'])

    def test_refused_by_xenserver_itself(self):
        # A host enabled behind the driver's back between its check and the
        # call: XenServer's own HOST_NOT_DISABLED.
        self.disable('xenhost3')
        self.fleet.inject('host.reboot', error=['HOST_NOT_DISABLED'])
        self.assertRefused('HOST_NOT_DISABLED', 'xenhost3')
        self.assertEqual(['xenhost1'], self.reboots())

    def test_never_back(self):
        self.disable('xenhost3')
        self.fleet.inject('host.reboot', action='never_back')
        start = time.monotonic()
        exc = self.assertRaises(exception.HostDidNotComeBack,
                                self.driver.reboot_host, self.pool,
                                self.compute('xenhost3'), 1.0)
        waited = time.monotonic() - start
        self.assertGreaterEqual(waited, 1.0)
        # At most one poll (bounded by the call timeout) beyond it.
        self.assertLess(waited, 1.0 + 2.5)
        self.assertEqual(('xenhost3', 1.0), (exc.host, exc.timeout))
        self.assertIsInstance(exc, exception.HypervisorTimeout)
        self.assertEqual(504, faults.status_for(exc))
        self.assertIn('xenhost3', str(exc))
        self.assertEqual('rebooting',
                         self.fleet.host_state('xenhost3')['state'])
        # The rest of the pool still answers.
        self.assertEqual({'xenhost1', 'xenhost2'}, set(
            self.driver.free_memory(self.pool, [self.compute('xenhost1'),
                                                self.compute('xenhost2')])))
        # Powered on by hand, it comes back, enabled by XenServer: the
        # caller disables it again (nothing did after the timeout).
        self.fleet.start_host('xenhost3')
        self.assertTrue(self.driver.get_host_enabled(
            self.pool, self.compute('xenhost3')))

    def test_slower_than_the_timeout(self):
        self.fleet.configure_host('xenhost2', reboot_delay=2.0)
        self.disable('xenhost2')
        self.assertRaises(exception.HostDidNotComeBack,
                          self.driver.reboot_host, self.pool,
                          self.compute('xenhost2'), 0.5)
        self.assertTrue(self.fleet.settle())
        self.assertEqual('member', self.fleet.host_state('xenhost2')['state'])
        # Now back, a second reboot works.
        self.disable('xenhost2')
        self.fleet.configure_host('xenhost2', reboot_delay=0.05)
        self.reboot('xenhost2')
        self.assertFalse(self.fleet.host_state('xenhost2')['enabled'])

    def test_uuid_comes_from_the_metadata(self):
        self.assertIn(xpool.uuid_key('xenhost2'), self.metadata)
        self.disable('xenhost2')
        self.reboot('xenhost2')

    def wait_for(self, predicate, timeout=5.0):
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                self.fail('condition not met within %ss' % timeout)
            time.sleep(0.01)
