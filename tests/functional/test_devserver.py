"""The development server's embedded simulator (what ``make serve`` runs):
a real fleet, registered in a real database, pools re-formed on restart."""

import contextlib
import io
import os

import fixtures
from oslo_config import cfg

from nova_aggregates import conf as na_conf
from nova_aggregates import constants
from nova_aggregates import context
from nova_aggregates.db import api as db
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
        self.assertIn('simulator control at %s (GET pools, hosts, vms; see '
                      'doc/simulator.md)' % fleet.control_url, printed)
        self.assertEqual([], fleet.vms())

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

    def guests(self, fleet):
        return sorted((vm['host'], vm['name'], vm['memory'] // 2 ** 20,
                       vm['power_state']) for vm in fleet.vms())

    def test_guests_start_running(self):
        self.configure(hosts=2, guests=['xenhost1:db:8192',
                                        'xenhost1:www:512',
                                        'xenhost2:app:1024'])
        fleet, printed = self.start()
        self.assertEqual([('xenhost1', 'db', 8192, 'Running'),
                          ('xenhost1', 'www', 512, 'Running'),
                          ('xenhost2', 'app', 1024, 'Running')],
                         self.guests(fleet))
        uuids = {vm['name']: vm['uuid'] for vm in fleet.vms()}
        self.assertIn('guest db (8192 MiB) running on xenhost1, uuid %s'
                      % uuids['db'], printed)
        # The last lines, after the hosts and the control URL.
        self.assertEqual(3, len([line for line in printed[-3:]
                                 if line.startswith('guest ')]))

    def test_guests_are_items_of_host_name_and_memory(self):
        for bad in ('xenhost1:db', 'xenhost1:db:0', 'xenhost1:db:1G',
                    'xenhost1::512', 'xenhost1:d b:512'):
            self.assertRaises(ValueError, self.configure, guests=[bad])

    def test_no_guests_for_unknown_or_out_of_service_hosts(self):
        self.configure(hosts=3, password='secret')
        fleet, _ = self.start()
        db.compute_host_update(self.ctx, 'xenhost2',
                               status=constants.HOST_DISABLED)
        db.compute_host_update(self.ctx, 'xenhost3',
                               status=constants.HOST_DISABLED,
                               maintenance=constants.ON_MAINTENANCE)
        service.reset()
        fleet.stop()

        self.configure(guests=['xenhost1:db:1024', 'xenhost2:app:1024',
                               'xenhost3:api:1024', 'xenhost9:web:1024'])
        fleet, printed = self.start()
        self.assertEqual([('xenhost1', 'db', 1024, 'Running')],
                         self.guests(fleet))
        self.assertIn('guest app not started: xenhost2 is disabled',
                      printed)
        self.assertIn('guest api not started: xenhost3 is in maintenance',
                      printed)
        self.assertIn('warning: no simulated host xenhost9 for guest web '
                      '(hosts: xenhost1, xenhost2, xenhost3)', printed)

    def test_guests_start_after_the_pools_are_formed_again(self):
        # A member must join again on the fresh simulator: it has to be
        # empty then (POOL_JOINING_HOST_CANNOT_HAVE_RUNNING_VMS), so its
        # guests come after.
        self.configure(hosts=2, password='secret')
        fleet, _ = self.start()
        agg = self.manager.create_aggregate(self.ctx, 'rack1')
        self.manager.set_metadata(self.ctx, agg['id'],
                                  {'hypervisor_pool': 'true'})
        for name in ('xenhost1', 'xenhost2'):
            self.manager.add_host(self.ctx, agg['id'], name)
        service.reset()
        fleet.stop()

        self.configure(guests=['xenhost2:db:2048', 'xenhost1:www:1024'])
        fleet, printed = self.start()
        reformed = printed.index('re-formed the pool of aggregate rack1 on '
                                 'the simulated hosts')
        self.assertEqual(['guest', 'guest'],
                         [line.split()[0] for line in printed[reformed + 1:]])
        self.assertEqual(['xenhost1', 'xenhost2'],
                         fleet.pool_of('xenhost2')['members'])
        self.assertEqual([('xenhost1', 'www', 1024, 'Running'),
                          ('xenhost2', 'db', 2048, 'Running')],
                         self.guests(fleet))
        self.assertEqual('active', self.manager.get_aggregate(
            self.ctx, agg['id'])['metadata']['operational_state'])
