"""``reboot_host`` of the fake driver (api-contract §14, host action
"reboot"): the xenapi driver's refusals in its order, a reboot that takes
time, one that never comes back, an injected refusal."""

import time

import testtools

from nova_aggregates import exception
from nova_aggregates.api import faults
from nova_aggregates.virt import driver
from nova_aggregates.virt import fake
from tests.unit.virt import test_fake_maintenance as maintenance

HOSTS = ('xenhost1', 'xenhost2', 'xenhost3')


def _host(name):
    return driver.ComputeHost(name=name)


class FakeRebootTest(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.driver = fake.FakeDriver(maintenance.make_conf())
        self.book = maintenance.Book([_host(n) for n in HOSTS])
        self.book.metadata['master_compute'] = 'xenhost1'
        self.pool = self.book.pool()
        self.host = _host('xenhost2')

    def disable(self, name='xenhost2'):
        self.driver.set_host_enabled(self.pool, _host(name), False)

    def assertRefused(self, code, host=None, pool=None, timeout=5):
        exc = self.assertRaises(
            exception.HostRebootRefused, self.driver.reboot_host,
            self.pool if pool is None else pool, host or self.host, timeout)
        self.assertEqual(code, exc.code)
        self.assertIn(code, str(exc))
        self.assertIsInstance(exc, exception.PoolOperationRefused)
        self.assertEqual(409, faults.status_for(exc))
        return exc

    def test_disabled_empty_host_reboots_and_stays_disabled(self):
        self.disable()
        self.assertIsNone(self.driver.reboot_host(self.pool, self.host, 5))
        self.assertFalse(self.driver.get_host_enabled(self.pool, self.host))
        self.assertEqual(1, self.driver.reboot_count('xenhost2'))

    def test_host_in_no_pool(self):
        lone = _host('xenhost4')
        self.driver.set_host_enabled(None, lone, False)
        self.driver.reboot_host(None, lone, 5)
        self.assertEqual(1, self.driver.reboot_count(lone))

    def test_refusals_in_order(self):
        self.assertRefused(driver.HOST_NOT_IN_POOL, host=_host('xenhost4'))
        web = self.driver.add_guest('xenhost2', 'web', 1024)
        # Enabled first, even with a guest.
        exc = self.assertRefused(fake.HOST_NOT_DISABLED)
        self.assertIn('reboot host xenhost2', str(exc))
        self.disable()
        exc = self.assertRefused(fake.HOST_IN_USE)
        self.assertIn(web, str(exc))
        # A paused guest would be lost as well; a halted one would not.
        self.driver.set_power_state(web, driver.PAUSED)
        self.assertRefused(fake.HOST_IN_USE)
        self.driver.set_power_state(web, 'Halted')
        self.driver.reboot_host(self.pool, self.host, 5)
        self.assertEqual(1, self.driver.reboot_count('xenhost2'))

    def test_configured_failure(self):
        self.disable()
        self.driver.configure_reboot('xenhost2', fail='HOST_OFFLINE')
        self.assertRefused('HOST_OFFLINE')
        self.assertRefused('HOST_OFFLINE')
        self.assertEqual(0, self.driver.reboot_count('xenhost2'))
        # The driver's own checks come first.
        self.driver.set_host_enabled(self.pool, self.host, True)
        self.assertRefused(fake.HOST_NOT_DISABLED)
        self.disable()
        self.driver.configure_reboot('xenhost2')
        self.driver.reboot_host(self.pool, self.host, 5)

    def test_reboot_takes_its_time(self):
        self.disable()
        self.driver.configure_reboot(self.host, seconds=0.2)
        start = time.monotonic()
        self.driver.reboot_host(self.pool, self.host, 5)
        self.assertGreaterEqual(time.monotonic() - start, 0.2)

    def test_never_back(self):
        self.disable()
        self.driver.configure_reboot('xenhost2', never_back=True)
        start = time.monotonic()
        exc = self.assertRaises(exception.HostDidNotComeBack,
                                self.driver.reboot_host, self.pool,
                                self.host, 0.2)
        waited = time.monotonic() - start
        self.assertGreaterEqual(waited, 0.2)
        self.assertLess(waited, 2)
        self.assertEqual(('xenhost2', 0.2), (exc.host, exc.timeout))
        self.assertIn('xenhost2', str(exc))
        self.assertIsInstance(exc, exception.HypervisorTimeout)
        self.assertEqual(504, faults.status_for(exc))
        self.assertFalse(self.driver.get_host_enabled(self.pool, self.host))

    def test_slower_than_the_timeout(self):
        self.disable()
        self.driver.configure_reboot('xenhost2', seconds=30)
        start = time.monotonic()
        self.assertRaises(exception.HostDidNotComeBack,
                          self.driver.reboot_host, self.pool, self.host, 0.1)
        self.assertLess(time.monotonic() - start, 2)

    def test_configure_reboot_validation(self):
        self.assertRaises(ValueError, self.driver.configure_reboot,
                          'xenhost2', seconds=-1)

    def test_base_class_does_not_reboot(self):
        self.assertRaises(NotImplementedError,
                          driver.ComputeDriver(None).reboot_host,
                          self.pool, self.host, 5)
