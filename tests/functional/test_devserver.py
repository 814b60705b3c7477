"""The development server's embedded simulator (what ``make serve`` runs):
a real fleet, registered in a real database, pools re-formed on restart."""

import contextlib
import io
import os

import fixtures
from oslo_config import cfg

from nova_aggregates import conf as na_conf
from nova_aggregates import context
from nova_aggregates import devserver
from nova_aggregates import service
from tests import base

# What make serve's configuration looked like before [xenserver_sim].
OLD_STYLE = """
[DEFAULT]
compute_driver = xenapi

[database]
connection = %s

[xenapi]
connection_username = root
connection_password = secret
embedded_simulator_hosts = 2
embedded_simulator_password = secret
"""


class TestEmbeddedSimulator(base.TestCase):

    def setUp(self):
        super().setUp()
        self.conf_fixture.config(compute_driver='xenapi')
        for name, value in (('connection_username', 'root'),
                            ('connection_password', 'secret'),
                            ('connect_timeout', 5), ('call_timeout', 10),
                            ('join_timeout', 10)):
            self.conf_fixture.config(**{name: value, 'group': 'xenapi'})
        self.ctx = context.get_admin_context()

    def configure(self, **values):
        for name, value in values.items():
            self.conf_fixture.config(**{name: value,
                                        'group': 'xenserver_sim'})

    def start(self, conf=None):
        """Start the embedded fleet as nova-aggregates-api does; return it
        and what it printed."""
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            fleet = devserver.start_embedded_simulator(conf or self.conf)
        if fleet is not None:
            self.addCleanup(fleet.stop)
            # Drop the driver's sessions before their hosts go away.
            self.addCleanup(service.reset)
        return fleet, out.getvalue().splitlines()

    @property
    def manager(self):
        return service.get_services(self.conf).aggregates

    @property
    def hosts(self):
        return service.get_services(self.conf).compute_hosts

    def test_off_by_default(self):
        fleet, printed = self.start()
        self.assertIsNone(fleet)
        self.assertEqual([], printed)
        self.assertEqual([], self.hosts.list(self.ctx))

    def test_hosts_registered_two_per_zone(self):
        self.configure(hosts=3, password='secret')
        fleet, printed = self.start()
        hosts = {h['name']: h for h in self.hosts.list(
            self.ctx)}
        self.assertEqual(
            {'xenhost1': 'az1', 'xenhost2': 'az1', 'xenhost3': 'az2'},
            {name: h['zone'] for name, h in hosts.items()})
        for host in fleet.hosts:
            self.assertEqual(host.url, hosts[host.name]['hypervisor_url'])
            self.assertIn('simulated XenServer host %s (%s) at %s' % (
                host.name, hosts[host.name]['zone'], host.url), printed)
        self.assertIn('simulator control at %s (GET pools, hosts; see '
                      'doc/simulator.md)' % fleet.control_url, printed)

    def test_old_style_configuration_file(self):
        # A file written for [xenapi] embedded_simulator_* still starts the
        # simulator (oslo.config's deprecated names).
        path = os.path.join(self.useFixture(fixtures.TempDir()).path,
                            'nova-aggregates.conf')
        with open(path, 'w') as f:
            f.write(OLD_STYLE % self.conf.database.connection)
        conf = cfg.ConfigOpts()
        na_conf.register_opts(conf)
        conf(['--config-file', path], project='nova-aggregates',
             default_config_files=[])
        self.addCleanup(conf.reset)
        logger = self.useFixture(fixtures.FakeLogger('oslo_config.cfg'))
        # The services are built from the configuration they first get.
        service.reset()
        fleet, printed = self.start(conf)
        self.assertEqual(['xenhost1', 'xenhost2'],
                         [h.name for h in fleet.hosts])
        self.assertEqual(
            {h.name: h.url for h in fleet.hosts},
            {h['name']: h['hypervisor_url']
             for h in self.hosts.list(self.ctx)})
        self.assertIn('Option "embedded_simulator_hosts" from group "xenapi" '
                      'is deprecated. Use option "hosts" from group '
                      '"xenserver_sim"', logger.output)

    def test_restart_updates_urls_and_reforms_pools(self):
        self.configure(hosts=2, password='secret')
        fleet, _ = self.start()
        agg = self.manager.create_aggregate(self.ctx, 'rack1')
        self.manager.set_metadata(self.ctx, agg['id'],
                                  {'hypervisor_pool': 'true'})
        for name in ('xenhost1', 'xenhost2'):
            self.manager.add_host(self.ctx, agg['id'], name)
        self.assertEqual(['xenhost1', 'xenhost2'],
                         fleet.pool_of('xenhost2')['members'])
        service.reset()
        fleet.stop()

        fleet, printed = self.start()
        self.assertIn('re-formed the pool of aggregate rack1 on the '
                      'simulated hosts', printed)
        pool = fleet.pool_of('xenhost2')
        self.assertEqual(('xenhost1', ['xenhost1', 'xenhost2'], 'rack1'),
                         (pool['master'], pool['members'],
                          pool['name_label']))
        self.assertEqual(
            {h.name: h.url for h in fleet.hosts},
            {h['name']: h['hypervisor_url']
             for h in self.hosts.list(self.ctx)})
        self.assertEqual(['xenhost1', 'xenhost2'],
                         self.manager.get_aggregate(self.ctx,
                                                    agg['id'])['hosts'])
