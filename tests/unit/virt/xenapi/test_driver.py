"""The xenapi driver as the manager sees it: loading, interface, cleanup."""

import configparser
import importlib
import importlib.metadata
import os

import testtools

from nova_aggregates.virt import driver
from nova_aggregates.virt.xenapi import driver as xdriver
from tests.unit.virt.xenapi import test_pool
from tests.unit.virt.xenapi import test_session as base

SETUP_CFG = os.path.join(os.path.dirname(__file__), '..', '..', '..', '..',
                         'setup.cfg')


class DriverLoadingTest(testtools.TestCase):

    def test_entry_point_declared(self):
        parser = configparser.ConfigParser()
        parser.read(SETUP_CFG)
        declared = dict(
            line.split('=', 1) for line in
            parser['entry_points'][driver.ENTRY_POINT_GROUP].split('\n')
            if '=' in line)
        target = declared['xenapi '].strip()
        module, _, name = target.partition(':')
        self.assertIs(xdriver.XenAPIDriver,
                      getattr(importlib.import_module(module), name))

    def test_load_driver_by_name(self):
        names = [ep.name for ep in importlib.metadata.entry_points(
            group=driver.ENTRY_POINT_GROUP)]
        if 'xenapi' not in names:
            self.skipTest('package not installed: no entry points')
        conf = base.make_conf()
        conf.set_override('compute_driver', 'xenapi')
        self.addCleanup(conf.clear_override, 'compute_driver')
        self.assertIsInstance(driver.load_driver(conf), xdriver.XenAPIDriver)

    def test_is_a_compute_driver_with_reserved_prefix(self):
        drv = xdriver.XenAPIDriver(base.make_conf())
        self.assertIsInstance(drv, driver.ComputeDriver)
        self.assertEqual(('xenapi_host_uuid:',),
                         drv.reserved_metadata_prefixes)
        drv.cleanup()  # nothing opened: a no-op


class DriverLifecycleTest(test_pool.PoolTestCase):

    def test_whole_life_of_a_pool(self):
        book = self.book
        names = ('xenhost1', 'xenhost2', 'xenhost3')
        for name in names:
            book.add(self.driver, self.compute(name))
            self.assertPoolState('xenhost1', names[:names.index(name) + 1])
        self.driver.rename_pool(book.pool(), 'renamed')
        self.assertEqual('renamed', self.fleet.pool_of('xenhost1')['name_label'])
        for name in reversed(names):
            book.remove(self.driver, self.compute(name))
        self.assertEqual({'hypervisor_pool': 'true'}, book.metadata)
        self.assertPoolState(None, [])

    def test_cleanup_logs_out_and_driver_still_usable(self):
        self.form('xenhost1')
        self.fleet.clear_call_log()
        self.driver.cleanup()
        self.assertEqual([('xenhost1', 'session.logout')],
                         self.fleet.call_log())
        logins = self.fleet.login_count('xenhost1')
        self.driver.rename_pool(self.book.pool(), 'again')
        self.assertEqual(logins + 1, self.fleet.login_count('xenhost1'))
