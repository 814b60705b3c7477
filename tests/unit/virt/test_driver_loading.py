"""``[DEFAULT] compute_driver`` names a driver of the
``nova_aggregates.virt.drivers`` entry point group: ours and third-party
ones alike."""

import importlib
import os
import sys
import textwrap
import uuid

import fixtures
from oslo_config import cfg
import testtools

from nova_aggregates.aggregates import manager as aggregate_manager
from nova_aggregates import conf as na_conf
from nova_aggregates import exception
from nova_aggregates.virt import driver
from nova_aggregates.virt import fake
from nova_aggregates.virt.xenapi import driver as xenapi_driver


def make_conf(compute_driver):
    conf = cfg.ConfigOpts()
    na_conf.register_opts(conf)
    conf([], default_config_files=[])
    conf.set_override('compute_driver', compute_driver)
    return conf


class DriverLoadingTest(testtools.TestCase):

    def load(self, name):
        loaded = driver.load_driver(make_conf(name))
        self.addCleanup(loaded.cleanup)
        return loaded

    def test_fake(self):
        self.assertIsInstance(self.load('fake'), fake.FakeDriver)

    def test_xenapi(self):
        loaded = self.load('xenapi')
        self.assertIsInstance(loaded, xenapi_driver.XenAPIDriver)
        self.assertEqual(('xenapi_host_uuid:',),
                         loaded.reserved_metadata_prefixes)

    def test_unknown_name(self):
        exc = self.assertRaises(exception.DriverNotFound,
                                driver.load_driver, make_conf('hyperv'))
        self.assertIn('hyperv', str(exc))

    def test_third_party_driver_through_an_entry_point(self):
        # An installed distribution we do not know: a module and a
        # *.dist-info directory whose entry_points.txt names a driver.
        module = 'acme_pools_%s' % uuid.uuid4().hex[:8]
        site = self.useFixture(fixtures.TempDir()).path
        with open(os.path.join(site, module + '.py'), 'w') as f:
            f.write(textwrap.dedent('''
                from nova_aggregates.virt import driver


                class AcmeDriver(driver.ComputeDriver):
                    reserved_metadata_prefixes = ('acme:',)

                    def add_to_pool(self, pool, host):
                        return driver.PoolChange(
                            set_metadata={'acme:' + host.name: 'in'})
            '''))
        dist_info = os.path.join(site, 'acme_pools-1.0.dist-info')
        os.mkdir(dist_info)
        with open(os.path.join(dist_info, 'METADATA'), 'w') as f:
            f.write('Metadata-Version: 2.1\nName: acme-pools\n'
                    'Version: 1.0\n')
        with open(os.path.join(dist_info, 'entry_points.txt'), 'w') as f:
            f.write('[nova_aggregates.virt.drivers]\n'
                    'acme = %s:AcmeDriver\n' % module)
        self.useFixture(fixtures.PythonPathEntry(site))
        self.addCleanup(sys.modules.pop, module, None)
        importlib.invalidate_caches()
        self.addCleanup(importlib.invalidate_caches)

        loaded = self.load('acme')
        self.assertEqual('AcmeDriver', type(loaded).__name__)
        self.assertEqual(module, type(loaded).__module__)
        self.assertIsInstance(loaded, driver.ComputeDriver)
        change = loaded.add_to_pool(
            driver.Pool(aggregate_id=1, name='a', members=(), master=None,
                        metadata={}),
            driver.ComputeHost(name='node1'))
        self.assertEqual({'acme:node1': 'in'}, change.set_metadata)
        # The manager keeps users off the driver's bookkeeping keys.
        manager = aggregate_manager.AggregateManager(loaded.conf, loaded)
        self.assertTrue(manager._is_reserved('acme:node1'))
        self.assertFalse(manager._is_reserved('acme'))
        # Ours are still found next to it.
        self.assertIsInstance(self.load('fake'), fake.FakeDriver)
