"""Compute host registration on a real (SQLite) database."""

from nova_aggregates.aggregates import compute_hosts
from nova_aggregates.aggregates import manager as aggregate_manager
from nova_aggregates import context as na_context
from nova_aggregates import exception
from tests import base


class TestComputeHosts(base.TestCase):

    def setUp(self):
        super().setUp()
        self.context = na_context.get_admin_context()
        self.hosts = compute_hosts.ComputeHosts(self.conf)

    def zones(self):
        return {h['name']: h['zone'] for h in self.hosts.list(self.context)}

    def test_zone_is_the_aggregates_else_the_registered_default(self):
        self.conf_fixture.config(default_availability_zone='nova',
                                 group='api')
        self.hosts.register(self.context, 'host1', 'az9')
        self.hosts.register(self.context, 'host2')
        self.hosts.register(self.context, 'host3', 'az9')
        manager = aggregate_manager.AggregateManager(self.conf)
        agg = manager.create_aggregate(self.context, 'a', 'az1')
        manager.add_host(self.context, agg['id'], 'host1')
        self.assertEqual({'host1': 'az1', 'host2': 'nova', 'host3': 'az9'},
                         self.zones())

    def test_hypervisor_urls(self):
        for url in ('http://10.0.0.5/', 'https://xen1:8443/', None):
            self.hosts.register(self.context, 'h%s' % len(self.zones()),
                                hypervisor_url=url)
        for url in ('ftp://10.0.0.5/', 'xen1', 'https://', 'http://h:x/'):
            self.assertRaises(exception.InvalidHypervisorURL,
                              self.hosts.register, self.context, 'bad',
                              hypervisor_url=url)
            self.assertRaises(exception.InvalidHypervisorURL,
                              self.hosts.update, self.context, 'h0',
                              hypervisor_url=url)
        self.hosts.update(self.context, 'h0', hypervisor_url='https://x/')
        self.assertEqual(['https://x/', 'https://xen1:8443/', None], [
            h['hypervisor_url'] for h in self.hosts.list(self.context)])

    def test_unregister(self):
        self.hosts.register(self.context, 'host1')
        self.hosts.register(self.context, 'host2')
        manager = aggregate_manager.AggregateManager(self.conf)
        agg = manager.create_aggregate(self.context, 'a')
        manager.add_host(self.context, agg['id'], 'host1')
        self.assertRaises(exception.ComputeHostInUse, self.hosts.unregister,
                          self.context, 'host1')
        self.hosts.unregister(self.context, 'host2')
        self.assertEqual({'host1'}, set(self.zones()))
        self.assertRaises(exception.ComputeHostNotFound,
                          self.hosts.unregister, self.context, 'host2')
